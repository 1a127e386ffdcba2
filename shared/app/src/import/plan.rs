//! Pure planning of an import run: which window to read, in which chunks, and how agent segments are cut so that
//! their keys are stable across runs.
//!
//! Chunks are whole UTC days (the last one ends at the current quarter hour). Segments are split at UTC midnights
//! and each piece belongs to the chunk that contains its start, so a re-read of any window produces exactly the
//! same pieces and keys, whatever windows earlier runs used.

use acd_domain::acd::floor_to_interval;
use acd_domain::{AgentSegment, TimeWindow};
use chrono::{DateTime, Duration, DurationRound, Utc};

/// Start of the UTC day containing `t`.
pub fn day_start(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(Duration::days(1)).unwrap_or(t)
}

/// Whether a run at `now` would only repeat the run already made in its quarter hour, and has nothing to do. That run
/// succeeded (the integration, read with the lease held, is `operational`) and completed the data through the start
/// of this quarter hour, the point every run in it reads up to (`floor(now)`), leaving nothing for a next run to
/// finish: no pass stopped at a cursor, no day's writes put off, no held listing for a next listing to confirm, no
/// busy ACD user to look at again. And it read the integration record as it is now (`updated_at` equals the state's
/// `imported_with`): a PATCH of its settings or credentials since is imported with at once. A second run would
/// re-read the whole reconciliation window (a day or three, every vendor call and DynamoDB read of a steady run) for
/// the revisions of a few minutes, which the next quarter hour's run reads anyway: the recurring schedule's
/// at-least-once delivery, a `rate()` schedule's second run in a quarter hour (README, "Quarter-hour runs"), the
/// schedule's run just after a run started at once (first import, resume, sync now), which itself always runs
/// (`ImportEvent::at_once`).
pub fn already_imported(
    now: DateTime<Utc>,
    operational: bool,
    updated_at: DateTime<Utc>,
    state: &crate::ports::ImportState,
) -> bool {
    let end = floor_to_interval(now);
    operational
        && state.imported_with == Some(updated_at)
        && state.complete_through == Some(end)
        && state.pass_cursor.is_none()
        && state.write_put_off.is_none()
        && state.queue_listing_held.is_none()
        && state.agent_listing_held.is_none()
        && state.vendor_busy_since.is_none()
}

/// Where a run's reading has to start. A pass that an earlier run left unfinished resumes where it stopped
/// (`pass_cursor`): a pass only ever moves forward, however few days a run reads. Otherwise a new pass starts at the
/// completed point (or the back-fill start on a first run), pulled back to its re-read ([`reread_from`]) — but never
/// before `complete_from`, where the first back-fill started: a re-read covers imported days only (a 72-hour Genesys
/// re-read after a one-day back-fill would otherwise import days before the configured history, so a second run
/// would not write what a first one did).
pub fn run_start(
    now: DateTime<Utc>,
    complete_from: Option<DateTime<Utc>>,
    complete_through: Option<DateTime<Utc>>,
    pass_cursor: Option<DateTime<Utc>>,
    young_from: Option<DateTime<Utc>>,
    history_days: u32,
    reconciliation: Duration,
) -> DateTime<Utc> {
    let end = floor_to_interval(now);
    match (pass_cursor, complete_through) {
        (Some(cursor), _) => cursor,
        (None, None) => end - Duration::days(i64::from(history_days)),
        (None, Some(done)) => {
            let start = done.min(reread_from(done, end, reconciliation, young_from));
            complete_from.map_or(start, |first| start.max(first.min(done)))
        }
    }
}

/// Where a new pass's re-read starts ([`run_start`]): [`reread_start`], or `young_from` (the first interval an
/// earlier run may have read younger than the reconciliation window, [`young_after_read`]) when that is earlier, but
/// not before the UTC day before the re-read's ([`young_for_new_pass`]). Such a mark is left by a pass that took
/// several runs (a little before the re-read), or by a pass stopped at its cursor (its deadline, the vendor's budget,
/// a failed fetch) and resumed after a gap of up to a day or two: the intervals the stopped run read young before its
/// cursor are read again — until 2026-12-05 they were not once the gap passed the window, and a vendor's later
/// revision of them stayed out of the table. The re-read grows by at most that day, and is not paced, like the rest
/// of it (`import::Pass::paced_before`). The part of a mark's stretch before that day (a stopped pass resumed after a
/// longer outage) is let go: reading it again would mean reading the whole outage again, which the resumed pass has
/// just read, and pacing that as a catch-up would hold today's data back for hours (a first version did both; a
/// review measured a week's outage read twice).
pub fn reread_from(
    done: DateTime<Utc>,
    end: DateTime<Utc>,
    reconciliation: Duration,
    young_from: Option<DateTime<Utc>>,
) -> DateTime<Utc> {
    let reread = reread_start(done, end, reconciliation);
    young_for_new_pass(done, end, reconciliation, young_from).map_or(reread, |young| reread.min(young))
}

/// The `young_from` a new pass (no pass cursor) of a run ending at `end` goes on with: the mark, moved up to the UTC
/// day before the re-read's ([`reread_from`]) when it lies further back. What lies before that is let go (read
/// young once); the rest of the stretch is read again (a 72-hour Genesys stretch can run past that day). The mark is
/// moved, not kept: reads after it would leave it where it is ([`young_after_read`]), and every later mark would be
/// lost (a review found the fix switched off for good after one outage of two days or more); nor dropped whole (the
/// next review found a 72-hour stretch's part inside the allowance lost with it).
pub fn young_for_new_pass(
    done: DateTime<Utc>,
    end: DateTime<Utc>,
    reconciliation: Duration,
    young_from: Option<DateTime<Utc>>,
) -> Option<DateTime<Utc>> {
    let earliest = day_start(reread_start(done, end, reconciliation)) - Duration::days(1);
    young_from.map(|young| young.max(earliest))
}

/// The `young_from` mark ([`crate::ports::ImportState`]) after a run whose window ends at `end` read the statistics
/// of `read` (a day, or its hours from a re-read's start): the first interval that may have been read only younger
/// than the reconciliation window (less the quarter hour to the next run), so that the next new pass starts there at
/// the latest ([`run_start`]). An interval is settled once read at least that old: the intervals of `read` before
/// `end + 15 min − reconciliation` are (a caught-up run a quarter hour later does not read them again), the later
/// ones are young. Caught up, the mark is where the next run's [`reread_start`] is anyway (or a little before it
/// after a pass that took several runs). It matters when a pass is resumed at its cursor after a gap: the intervals
/// the unfinished pass read young before its cursor stay after the mark, and the first new pass once the resumed one
/// ends starts there ([`reread_from`], for a gap of up to a day or two). (A first version sent the resumed pass
/// back to the mark instead; a review found that a pass reading one day a run then went back run after run and never
/// reached today.) A `read` that starts after the mark leaves it (the intervals between were not read); a read from
/// the mark moves it to the first young interval read, or past `read` when all of it is settled.
pub fn young_after_read(
    young_from: Option<DateTime<Utc>>,
    read: TimeWindow,
    end: DateTime<Utc>,
    reconciliation: Duration,
) -> Option<DateTime<Utc>> {
    let young = read.start.max(end + Duration::minutes(acd_domain::INTERVAL_MINUTES) - reconciliation);
    match young_from {
        Some(mark) if mark < read.start => Some(mark),
        _ if young < read.end => Some(young),
        mark => Some(mark.map_or(read.end, |mark| mark.max(read.end))),
    }
}

/// Where the re-read of a run ending at `end` starts, the data complete through `done`: `reconciliation` before the
/// earlier of `end` and a quarter hour after `done`. Every interval is read again until it is `reconciliation` old
/// (within the quarter hour between runs), and the run that completed `done` read the intervals before it, the last
/// ones minutes after they ended. Caught up (a run every quarter hour), that is `end − reconciliation`. After a gap
/// (failed runs, a paused schedule, runs further apart) it is where the run before the gap would have gone on
/// re-reading: the intervals that run read young are read again (until 2026-12-05 the re-read started at
/// `end − reconciliation` whatever the gap, so an interval that run read minutes after it ended, older than the
/// window by the next run, was never read again and kept any later revision by the vendor from the table).
pub fn reread_start(done: DateTime<Utc>, end: DateTime<Utc>, reconciliation: Duration) -> DateTime<Utc> {
    (done + Duration::minutes(acd_domain::INTERVAL_MINUTES)).min(end) - reconciliation
}

/// The window a run at `now` reads: from its [`run_start`] widened to a UTC midnight, to the current quarter hour.
pub fn run_window(now: DateTime<Utc>, start: DateTime<Utc>) -> Option<TimeWindow> {
    TimeWindow::new(day_start(start), floor_to_interval(now)).ok()
}

/// What a run at `now` reads, from the import state as the run finds it: the `young_from` mark as the run takes it
/// ([`young_for_new_pass`] when no pass is under way), the run's start ([`run_start`]), its window ([`run_window`],
/// `None`: nothing to read) and where it reads statistics from ([`statistics_from`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunReads {
    pub young_from: Option<DateTime<Utc>>,
    pub start: DateTime<Utc>,
    pub window: Option<TimeWindow>,
    pub statistics_from: Option<DateTime<Utc>>,
}

/// The import state's fields [`run_reads`] plans from.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub complete_from: Option<DateTime<Utc>>,
    pub complete_through: Option<DateTime<Utc>>,
    pub pass_cursor: Option<DateTime<Utc>>,
    pub young_from: Option<DateTime<Utc>>,
}

/// [`RunReads`] of a run at `now`.
pub fn run_reads(
    now: DateTime<Utc>,
    progress: Progress,
    history_days: u32,
    reconciliation: Duration,
    by_hour: bool,
) -> RunReads {
    let Progress { complete_from, complete_through, pass_cursor, young_from } = progress;
    let young_from = match (pass_cursor, complete_through) {
        // A mark too far back to re-read is moved up to the day before the re-read's.
        (None, Some(done)) => young_for_new_pass(done, floor_to_interval(now), reconciliation, young_from),
        _ => young_from,
    };
    let start = run_start(now, complete_from, complete_through, pass_cursor, young_from, history_days, reconciliation);
    let window = run_window(now, start);
    let statistics_from =
        window.map(|w| statistics_from(w, start, complete_through, young_from, reconciliation, by_hour));
    RunReads { young_from, start, window, statistics_from }
}

/// Start of the UTC hour containing `t`.
pub fn hour_start(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(Duration::hours(1)).unwrap_or(t)
}

/// Where a run over `window` reads interval statistics from. A vendor that re-reads statistics by the hour
/// ([`acd_connectors::Vendor::statistics_reread_by_hour`]) skips the hours of the first day before the one
/// containing `start` ([`run_start`]) when that start is the run's re-read ([`reread_from`] the completed point
/// `complete_through` and `young_from`): every hour before it was then read by earlier runs up to `reconciliation`
/// after it ended. Everything else reads the window's start, whole days: a back-fill, a pass resumed at a midnight,
/// every other vendor, and a start held at the completed point or at the first back-fill's start. Always inside the
/// window's first day and before its end, so each day keeps a non-empty span of statistics.
pub fn statistics_from(
    window: TimeWindow,
    start: DateTime<Utc>,
    complete_through: Option<DateTime<Utc>>,
    young_from: Option<DateTime<Utc>>,
    reconciliation: Duration,
    by_hour: bool,
) -> DateTime<Utc> {
    let from = hour_start(start);
    let first_day_end = day_start(window.start) + Duration::days(1);
    let reconciling =
        complete_through.is_some_and(|done| start == reread_from(done, window.end, reconciliation, young_from));
    if by_hour && reconciling && from > window.start && from < window.end.min(first_day_end) {
        from
    } else {
        window.start
    }
}

/// Where the reconciliation re-read of a run ending at `window_end` starts: the UTC midnight before
/// `window_end - reconciliation` (what a caught-up run reads, see [`run_start`]). Days before it are back-fill or
/// catch-up.
pub fn reconciliation_start(window_end: DateTime<Utc>, reconciliation: Duration) -> DateTime<Utc> {
    day_start(window_end - reconciliation)
}

/// The `segments_final_through` mark ([`crate::ports::ImportState`]) after a run at `now` read and wrote the whole
/// of `chunk`'s agent segments: `chunk`'s end when the chunk is a whole UTC day, `final_after` (the vendor's
/// [`acd_connectors::Vendor::agent_states_final_after`]; `None`: never) has passed since that end, and the days
/// before it are final too (the mark is at `chunk.start`) or are never read again by a caught-up run (`chunk`
/// starts at or before `reconciliation_start`, and no earlier stretch is left to read again: `young_from`, the state's
/// [`young_after_read`] mark, is not before it). Otherwise the mark stays where it is. (Until 2026-12-07 the mark
/// jumped over days the young re-read still had to read: a pass stopped at 01:00 after writing yesterday, resumed 30
/// hours later, marked that day final with the next, so the re-read that read it again took only its statistics,
/// and the agent states read an hour after the day ended were never read again; a review found it.)
pub fn segments_final_through(
    through: Option<DateTime<Utc>>,
    chunk: TimeWindow,
    now: DateTime<Utc>,
    final_after: Option<Duration>,
    reconciliation_start: DateTime<Utc>,
    young_from: Option<DateTime<Utc>>,
) -> Option<DateTime<Utc>> {
    let Some(final_after) = final_after else { return through };
    let whole_day = chunk.start == day_start(chunk.start) && chunk.end == chunk.start + Duration::days(1);
    let final_now = whole_day && now >= chunk.end + final_after;
    let never_read_again = chunk.start <= reconciliation_start && young_from.is_none_or(|young| young >= chunk.start);
    let follows = through.is_some_and(|t| t >= chunk.start) || never_read_again;
    if final_now && follows { through.max(Some(chunk.end)) } else { through }
}

/// Where a fetch of `span` starts reading agent segments: after the days whose segments are final
/// ([`segments_final_through`], honoured only while the vendor has `final_after`). At or past `span.end`: none.
pub fn segments_from(span: TimeWindow, through: Option<DateTime<Utc>>, final_after: Option<Duration>) -> DateTime<Utc> {
    match (through, final_after) {
        (Some(through), Some(_)) => through.max(span.start),
        _ => span.start,
    }
}

/// The smallest number of known items from which a listing that drops more than half of them counts as collapsed.
pub const COLLAPSE_MIN_KNOWN: u64 = 4;

/// Whether a listing that no longer shows `missing` of the `known` (active) queues or agents looks collapsed rather
/// than like a genuine removal: it drops every known item, or more than half of at least [`COLLAPSE_MIN_KNOWN`].
/// A collapsed listing is not trusted on its own: its items stay active until the next run's listing confirms.
/// One queue of sixteen removed is a removal (applied at once); nine of sixteen, or all of them, a collapse.
pub fn listing_collapsed(known: u64, missing: u64) -> bool {
    missing > 0 && (missing >= known || (known >= COLLAPSE_MIN_KNOWN && missing * 2 > known))
}

/// The window cut at UTC midnights.
pub fn day_chunks(window: TimeWindow) -> Vec<TimeWindow> {
    let mut out = Vec::new();
    let mut start = window.start;
    while start < window.end {
        let end = (day_start(start) + Duration::days(1)).min(window.end);
        out.push(TimeWindow { start, end });
        start = end;
    }
    out
}

/// Consecutive chunks grouped so that each group spans at most `max_window` (a chunk longer than that stands
/// alone): the connector is asked once per group, and the group's days are written one by one.
pub fn fetch_groups(chunks: &[TimeWindow], max_window: Duration) -> Vec<Vec<TimeWindow>> {
    let mut groups: Vec<Vec<TimeWindow>> = Vec::new();
    for chunk in chunks {
        match groups.last_mut() {
            Some(group) if chunk.end - group[0].start <= max_window => group.push(*chunk),
            _ => groups.push(vec![*chunk]),
        }
    }
    groups
}

/// The pieces of `segments` that a chunk owns: each segment split at UTC midnights, keeping the pieces that start
/// inside the chunk. An open segment (no end) stays open in its last piece.
pub fn owned_pieces(segments: &[AgentSegment], chunk: TimeWindow) -> Vec<AgentSegment> {
    let mut out = Vec::new();
    for segment in segments {
        for (start, end) in spans_in(segment, chunk) {
            out.push(AgentSegment { start, end, ..segment.clone() });
        }
    }
    tidy(&mut out);
    out
}

/// [`owned_pieces`] of each of `chunks` in turn, taking the segments: each day's pieces are cut out of the fetched
/// segments when the iterator is asked for that day (the import asks just before writing it), so the fetched
/// segments are never held twice. Pieces share their segment's strings; the last day's pieces are cut in place
/// (the fetched vector becomes them), and an earlier day's are made in a vector of their exact size, the segments
/// left to later days shrunk to what is left of them.
pub fn pieces_by_chunk(segments: Vec<AgentSegment>, chunks: &[TimeWindow]) -> PiecesByChunk<'_> {
    PiecesByChunk { rest: segments, chunks: chunks.iter() }
}

/// The iterator of [`pieces_by_chunk`]: one `Vec` of pieces per chunk, in the chunks' order.
pub struct PiecesByChunk<'a> {
    /// The segments with pieces in the chunks not handed out yet.
    rest: Vec<AgentSegment>,
    chunks: std::slice::Iter<'a, TimeWindow>,
}

impl Iterator for PiecesByChunk<'_> {
    type Item = Vec<AgentSegment>;

    fn next(&mut self) -> Option<Vec<AgentSegment>> {
        let chunk = *self.chunks.next()?;
        if self.chunks.len() == 0 {
            return Some(last_pieces(std::mem::take(&mut self.rest), chunk));
        }
        let rest = &mut self.rest;
        let mut pieces = Vec::with_capacity(rest.iter().map(|s| spans_in(s, chunk).len()).sum());
        rest.retain(|segment| {
            let spans = spans_in(segment, chunk);
            // Chunks follow one another: a segment that runs past this one's end (or starts after it) has pieces in
            // a later chunk, and stays.
            let later = segment.start >= chunk.end || segment.end.is_none_or(|end| end > chunk.end);
            // A piece shares the segment's strings (no copy).
            pieces.extend(spans.iter().map(|&(start, end)| AgentSegment { start, end, ..segment.clone() }));
            later
        });
        rest.shrink_to_fit();
        tidy(&mut pieces);
        Some(pieces)
    }
}

/// The pieces of `segments` in `chunk`, the last chunk: cut in place (no midnight falls inside a chunk, so each
/// segment has at most one piece in it), the vector becomes the day's pieces with no second buffer beside it.
fn last_pieces(segments: Vec<AgentSegment>, chunk: TimeWindow) -> Vec<AgentSegment> {
    let mut pieces = segments;
    let mut extra = Vec::new(); // (pieces past the first: none by the argument above; kept should it fail)
    pieces.retain_mut(|segment| {
        let mut spans = spans_in(segment, chunk).into_iter();
        let Some((start, end)) = spans.next() else { return false };
        extra.extend(spans.map(|(start, end)| AgentSegment { start, end, ..segment.clone() }));
        (segment.start, segment.end) = (start, end);
        true
    });
    pieces.append(&mut extra);
    tidy(&mut pieces);
    pieces
}

/// The `(start, end)` of the pieces of `segment` that start inside `chunk` (see [`owned_pieces`]).
fn spans_in(segment: &AgentSegment, chunk: TimeWindow) -> Vec<(DateTime<Utc>, Option<DateTime<Utc>>)> {
    let mut out = Vec::new();
    if segment.end.is_some_and(|end| end <= segment.start) {
        return out; // empty or inverted: nothing to store
    }
    let mut start = segment.start;
    loop {
        let midnight = day_start(start) + Duration::days(1);
        let (end, last) = match segment.end {
            Some(end) if end <= midnight => (Some(end), true),
            Some(_) => (Some(midnight), false),
            // Open: split at the midnights up to the chunk's end (time that has passed).
            None if midnight <= chunk.end.max(start) => (Some(midnight), false),
            None => (None, true),
        };
        if chunk.contains(start) {
            out.push((start, end));
        }
        if last || start >= chunk.end {
            break;
        }
        start = end.expect("a non-last piece has an end");
    }
    out
}

/// Pieces in (agent, start) order, one per (agent, start): the longest if the vendor reported duplicates.
fn tidy(out: &mut Vec<AgentSegment>) {
    // Connectors answer in this order already: a stable sort of a sorted vector changes nothing, but would still
    // allocate a scratch buffer as large as the day.
    if !out.is_sorted_by(|a, b| (&a.agent_external_id, a.start) <= (&b.agent_external_id, b.start)) {
        out.sort_by(|a, b| (&a.agent_external_id, a.start).cmp(&(&b.agent_external_id, b.start)));
    }
    out.dedup_by(|later, kept| {
        if later.agent_external_id == kept.agent_external_id && later.start == kept.start {
            if later.end.is_none() || kept.end.is_some_and(|k| later.end.is_some_and(|l| l > k)) {
                kept.end = later.end;
                kept.status_id.clone_from(&later.status_id);
                kept.reason.clone_from(&later.reason);
            }
            true
        } else {
            false
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(d: u32, h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 11, d, h, m, 0).unwrap()
    }

    fn seg(start: DateTime<Utc>, end: Option<DateTime<Utc>>) -> AgentSegment {
        AgentSegment { agent_external_id: "a".into(), status_id: "Ready".into(), reason: None, start, end }
    }

    #[test]
    fn only_a_quarter_hour_a_run_succeeded_through_with_nothing_left_and_the_record_unchanged_is_imported_already() {
        use crate::ports::ImportState;
        // The run at 10:05 succeeded through 10:00, having read the record as changed at 09:40.
        let changed = t(5, 9, 40);
        let done =
            ImportState { complete_through: Some(t(5, 10, 0)), imported_with: Some(changed), ..ImportState::default() };
        for now in [t(5, 10, 0), t(5, 10, 7), t(5, 10, 14) + Duration::seconds(59)] {
            assert!(already_imported(now, true, changed, &done), "{now}");
        }
        // The next quarter hour reads on (and a clock behind the state's is no repeat).
        assert!(!already_imported(t(5, 10, 15), true, changed, &done));
        assert!(!already_imported(t(5, 9, 59), true, changed, &done));
        // The last run did not succeed (failed or partial: the status says so), or the state is not through 10:00.
        assert!(!already_imported(t(5, 10, 7), false, changed, &done));
        let behind = ImportState { complete_through: Some(t(5, 9, 45)), ..done.clone() };
        assert!(!already_imported(t(5, 10, 7), true, changed, &behind));
        assert!(!already_imported(t(5, 10, 7), true, changed, &ImportState::default()));
        // The record changed since that run read it (settings, credentials): before or after the quarter hour began.
        assert!(!already_imported(t(5, 10, 7), true, t(5, 10, 6), &done));
        assert!(!already_imported(t(5, 10, 7), true, t(5, 9, 50), &done));
        // A state from before the mark existed.
        let unmarked = ImportState { imported_with: None, ..done.clone() };
        assert!(!already_imported(t(5, 10, 7), true, changed, &unmarked));
        // Something left for a next run: a pass at its cursor, a day's writes put off, a held listing, a busy user.
        let left: [fn(&mut ImportState); 5] = [
            |s| s.pass_cursor = Some(t(4, 0, 0)),
            |s| s.write_put_off = Some(t(5, 0, 0)),
            |s| s.queue_listing_held = Some(t(5, 10, 5)),
            |s| s.agent_listing_held = Some(t(5, 10, 5)),
            |s| s.vendor_busy_since = Some(t(5, 9, 50)),
        ];
        for (i, set) in left.iter().enumerate() {
            let mut state = done.clone();
            set(&mut state);
            assert!(!already_imported(t(5, 10, 7), true, changed, &state), "case {i}");
        }
    }

    #[test]
    fn a_day_s_segments_become_final_only_whole_late_enough_and_in_order() {
        let day = |d: u32| TimeWindow { start: t(d, 0, 0), end: t(d + 1, 0, 0) };
        let after = Some(Duration::hours(3));
        // A caught-up run on the 5th re-reads from the 4th (its reconciliation start).
        let recon = t(4, 0, 0);
        // The 4th, read whole at 03:00 on the 5th: final; at 02:59, not yet.
        assert_eq!(segments_final_through(None, day(4), t(5, 3, 0), after, recon, None), Some(t(5, 0, 0)));
        assert_eq!(segments_final_through(None, day(4), t(5, 2, 59), after, recon, None), None);
        // Today's part of a day is never final, however late.
        let today = TimeWindow { start: t(5, 0, 0), end: t(5, 12, 0) };
        assert_eq!(segments_final_through(Some(t(5, 0, 0)), today, t(5, 23, 0), after, recon, None), Some(t(5, 0, 0)));
        // A vendor without the figure: never.
        assert_eq!(segments_final_through(None, day(4), t(9, 0, 0), None, recon, None), None);
        // The mark only moves from day to day: with the 4th not final (mark at its start), a final 5th (a run on
        // the 6th whose pass resumed at the 5th) leaves it while a caught-up run still re-reads the 4th (a 48-hour
        // re-read); a final 4th moves it, and the 5th after it.
        let recon6 = t(5, 0, 0);
        let mark = Some(t(4, 0, 0));
        assert_eq!(segments_final_through(mark, day(5), t(6, 4, 0), after, t(4, 0, 0), None), mark);
        assert_eq!(segments_final_through(mark, day(4), t(6, 4, 0), after, recon6, None), Some(t(5, 0, 0)));
        assert_eq!(segments_final_through(Some(t(5, 0, 0)), day(5), t(6, 4, 0), after, recon6, None), Some(t(6, 0, 0)));
        // Days no caught-up run reads again (at or before the reconciliation start) may start the mark.
        assert_eq!(segments_final_through(None, day(1), t(5, 4, 0), after, recon, None), Some(t(2, 0, 0)));
        assert_eq!(segments_final_through(Some(t(1, 0, 0)), day(3), t(5, 4, 0), after, recon, None), Some(t(4, 0, 0)));
        // Not over a day a later re-read still reads: the 4th written at 01:00 on the 5th (not final), the pass
        // stopped and resumed at the 5th on the 6th, its young mark still on the 4th.
        let young = Some(t(4, 1, 15));
        assert_eq!(segments_final_through(mark, day(5), t(6, 10, 0), after, recon6, young), mark);
        assert_eq!(segments_final_through(mark, day(4), t(6, 10, 30), after, recon6, young), Some(t(5, 0, 0)));
        assert_eq!(
            segments_final_through(None, day(5), t(6, 10, 0), after, recon6, Some(t(5, 0, 0))),
            Some(t(6, 0, 0))
        );
        // It never moves back.
        assert_eq!(segments_final_through(Some(t(5, 0, 0)), day(2), t(5, 4, 0), after, recon, None), Some(t(5, 0, 0)));
    }

    #[test]
    fn a_fetch_reads_segments_from_the_first_day_not_final() {
        let span = TimeWindow { start: t(4, 0, 0), end: t(5, 12, 0) };
        let after = Some(Duration::hours(3));
        assert_eq!(segments_from(span, None, after), t(4, 0, 0));
        assert_eq!(segments_from(span, Some(t(5, 0, 0)), after), t(5, 0, 0));
        assert_eq!(segments_from(span, Some(t(2, 0, 0)), after), t(4, 0, 0));
        // The vendor no longer gives the figure: the mark is not honoured.
        assert_eq!(segments_from(span, Some(t(5, 0, 0)), None), t(4, 0, 0));
    }

    #[test]
    fn chunks_are_fetched_in_groups_no_longer_than_the_connectors_window() {
        let window = TimeWindow::new(t(2, 0, 0), t(6, 10, 15)).unwrap();
        let chunks = day_chunks(window);
        assert_eq!(chunks.len(), 5);
        let spans = |max: Duration| -> Vec<(DateTime<Utc>, DateTime<Utc>, usize)> {
            fetch_groups(&chunks, max).iter().map(|g| (g[0].start, g[g.len() - 1].end, g.len())).collect()
        };
        assert_eq!(spans(Duration::days(1)).len(), 5, "one day at a time");
        assert_eq!(
            spans(Duration::days(2)),
            vec![(t(2, 0, 0), t(4, 0, 0), 2), (t(4, 0, 0), t(6, 0, 0), 2), (t(6, 0, 0), t(6, 10, 15), 1)]
        );
        // The steady-state window of a 24-hour re-read (yesterday and today so far) is one fetch of two days.
        let steady = day_chunks(TimeWindow::new(t(5, 0, 0), t(6, 10, 15)).unwrap());
        assert_eq!(fetch_groups(&steady, Duration::days(2)), vec![steady.clone()]);
        // A window shorter than a chunk still forms a group; every chunk is in exactly one group, in order.
        assert_eq!(fetch_groups(&chunks, Duration::hours(1)).concat(), chunks);
        assert!(fetch_groups(&[], Duration::days(2)).is_empty());
    }

    #[test]
    fn first_runs_back_fill_and_later_runs_reconcile() {
        let now = t(10, 13, 7);
        let first = run_window(now, run_start(now, None, None, None, None, 3, Duration::hours(24))).unwrap();
        assert_eq!((first.start, first.end), (t(7, 0, 0), t(10, 13, 0)));
        assert_eq!(day_chunks(first).len(), 4);
        // Caught up: re-read the last 24 hours, from midnight.
        let steady =
            run_window(now, run_start(now, None, Some(t(10, 13, 0)), None, None, 3, Duration::hours(24))).unwrap();
        assert_eq!((steady.start, steady.end), (t(9, 0, 0), t(10, 13, 0)));
        // Behind (a paused week): from where the last run before the pause would have gone on re-reading, the
        // window before where it stopped (it read those hours minutes to a day after they ended).
        let start = run_start(now, None, Some(t(2, 6, 0)), None, None, 3, Duration::hours(24));
        assert_eq!(start, t(1, 6, 15));
        let behind = run_window(now, start).unwrap();
        assert_eq!(behind.start, t(1, 0, 0));
        let chunks = day_chunks(behind);
        assert_eq!(chunks.first().unwrap().start, t(1, 0, 0));
        assert_eq!(chunks.last().unwrap().end, t(10, 13, 0));
        assert!(chunks.windows(2).all(|w| w[0].end == w[1].start && w[1].start == day_start(w[1].start)));
        assert_eq!(reconciliation_start(steady.end, Duration::hours(24)), steady.start);
        assert_eq!(reconciliation_start(first.end, Duration::hours(24)), t(9, 0, 0));
        // A re-read never reaches before the first back-fill's start.
        let clamped = run_start(now, Some(t(9, 0, 0)), Some(t(10, 13, 0)), None, None, 1, Duration::hours(72));
        let clamped = run_window(now, clamped).unwrap();
        assert_eq!(clamped.start, t(9, 0, 0));
        // A pass that stopped at a midnight resumes there, even inside the reconciliation window.
        let resumed = run_start(now, None, Some(t(10, 0, 0)), Some(t(9, 0, 0)), None, 3, Duration::hours(72));
        let resumed = run_window(now, resumed).unwrap();
        assert_eq!(resumed.start, t(9, 0, 0));
    }

    #[test]
    fn statistics_are_re_read_from_the_hour_the_reconciliation_starts_by_vendors_that_allow_it() {
        let recon = Duration::hours(24);
        let done = Some(t(10, 13, 0));
        // The start and the window of a run at `now`.
        let run = |now, through, cursor, recon| {
            let start = run_start(now, None, through, cursor, None, 3, recon);
            (start, run_window(now, start).unwrap())
        };
        let (start, steady) = run(t(10, 13, 7), done, None, recon);
        assert_eq!((start, steady.start), (t(9, 13, 0), t(9, 0, 0)));
        assert_eq!(statistics_from(steady, start, done, None, recon, true), t(9, 13, 0));
        assert_eq!(statistics_from(steady, start, done, None, recon, false), t(9, 0, 0), "other vendors: whole days");
        // Inside an hour: its start (buckets and digests are by the hour).
        let now = t(10, 13, 52);
        let (start, steady) = run(now, done, None, recon);
        assert_eq!(statistics_from(steady, start, done, None, recon, true), t(9, 13, 0));
        // A back-fill reads whole days; so does a pass resumed at a midnight.
        let (start, first) = run(now, None, None, recon);
        assert_eq!(statistics_from(first, start, None, None, recon, true), first.start);
        let (start, resumed) = run(now, done, Some(t(9, 0, 0)), recon);
        assert_eq!(statistics_from(resumed, start, done, None, recon, true), t(9, 0, 0));
        // Behind since 06:15 on the 2nd (no run for days): the re-read starts where the last run's would have
        // gone on (06:30 on the 1st), so the hours that run read young are read again; from that hour.
        let behind = Some(t(2, 6, 15));
        let (start, window) = run(now, behind, None, recon);
        assert_eq!((start, window.start), (t(1, 6, 30), t(1, 0, 0)));
        assert_eq!(statistics_from(window, start, behind, None, recon, true), t(1, 6, 0));
        // Behind by exactly the reconciliation (a day of failed runs): the 9th from 13:45 was read by the last
        // run, at 13:30 on the 9th, at most hours after it ended, and is read again — from 13:00 on the 8th, where
        // that run's re-read was (until 2026-12-05 the cut was at 13:00 on the 9th, so the 9th before it never was).
        let (start, window) = run(t(10, 13, 37), Some(t(9, 13, 30)), None, recon);
        assert_eq!((start, window.start), (t(8, 13, 45), t(8, 0, 0)));
        assert_eq!(statistics_from(window, start, Some(t(9, 13, 30)), None, recon, true), t(8, 13, 0));
        // A start held at the completed point (a window shorter than the quarter hour between runs): whole days.
        let tiny = Duration::minutes(10);
        let (start, window) = run(t(10, 13, 52), Some(t(10, 13, 0)), None, tiny);
        assert_eq!((start, window.start), (t(10, 13, 0), t(10, 0, 0)));
        assert_eq!(statistics_from(window, start, Some(t(10, 13, 0)), None, tiny, true), t(10, 0, 0));
        // A reconciliation shorter than a day: the hour on the window's (only) day.
        let short = Duration::minutes(30);
        let (start, w) = run(now, Some(t(10, 13, 30)), None, short);
        assert_eq!((w.start, start), (t(10, 0, 0), t(10, 13, 15)));
        assert_eq!(statistics_from(w, start, Some(t(10, 13, 30)), None, short, true), t(10, 13, 0));
        // Never at or past the window's end (a run again in the quarter hour that completed the data at 13:00).
        let again = TimeWindow::new(t(10, 0, 0), t(10, 13, 0)).unwrap();
        let zero = Duration::zero();
        assert_eq!(statistics_from(again, t(10, 13, 0), Some(t(10, 13, 0)), None, zero, true), again.start);
    }

    /// Runs at `times`, each reading its window's days in turn (the run at `now` stops after `stops[now]` days, its
    /// pass left with a cursor, as a run at its deadline or paced does): for every quarter hour, the end of the last
    /// window whose statistics read covered it (`by_hour` as the vendor says).
    fn last_reads(
        times: &[DateTime<Utc>],
        stops: &std::collections::BTreeMap<DateTime<Utc>, usize>,
        recon: Duration,
        by_hour: bool,
    ) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        simulate(times, |now| stops.get(&now).copied().unwrap_or(usize::MAX), recon, by_hour).0
    }

    /// [`last_reads`], the days each run may read given by `days`, and the pass's cursor after each run.
    #[allow(clippy::type_complexity)]
    fn simulate(
        times: &[DateTime<Utc>],
        days: impl Fn(DateTime<Utc>) -> usize,
        recon: Duration,
        by_hour: bool,
    ) -> (Vec<(DateTime<Utc>, DateTime<Utc>)>, Vec<Option<DateTime<Utc>>>) {
        let (mut done, mut cursor, mut young) = (None, None, None);
        let mut last = std::collections::BTreeMap::new();
        let mut cursors = Vec::new();
        for &now in times {
            if let (None, Some(done)) = (cursor, done) {
                young = young_for_new_pass(done, floor_to_interval(now), recon, young);
            }
            let start = run_start(now, Some(t(1, 0, 0)), done, cursor, young, 3, recon);
            let window = run_window(now, start).unwrap();
            let from = statistics_from(window, start, done, young, recon, by_hour);
            for chunk in day_chunks(window).into_iter().take(days(now)) {
                let read = TimeWindow { start: chunk.start.max(from), end: chunk.end };
                let mut q = read.start;
                while q < read.end {
                    last.insert(q, window.end);
                    q += Duration::minutes(15);
                }
                done = done.max(Some(chunk.end));
                young = young_after_read(young, read, window.end, recon);
                cursor = (chunk.end < window.end).then_some(chunk.end);
            }
            cursors.push(cursor);
        }
        (last.into_iter().collect(), cursors)
    }

    /// [`last_reads`] of the quarter hours from `from` that had time to grow `recon` old before the last run and
    /// were read last younger than that: (quarter hour, end of the window that read it last).
    fn read_young_last(
        times: &[DateTime<Utc>],
        stops: &std::collections::BTreeMap<DateTime<Utc>, usize>,
        recon: Duration,
        by_hour: bool,
        from: DateTime<Utc>,
    ) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        let end = floor_to_interval(*times.last().unwrap());
        let quarter = Duration::minutes(15);
        last_reads(times, stops, recon, by_hour)
            .into_iter()
            .filter(|(q, read)| *q >= from && *q + quarter + recon <= end && *read < *q + recon)
            .collect()
    }

    fn every(step: Duration, from: DateTime<Utc>, through: DateTime<Utc>) -> Vec<DateTime<Utc>> {
        std::iter::successors(Some(from), |&t| Some(t + step)).take_while(|&t| t <= through).collect()
    }

    #[test]
    fn every_interval_is_read_again_once_the_reconciliation_old_whatever_the_gaps_between_runs() {
        // (A review's simulation, 2026-12-05.) Runs a quarter hour apart, none for 20 hours, then again; runs six
        // hours apart (a slower schedule); a pass resumed at its cursor after a gap; each with whole days and from
        // the hour. Every interval that had time to grow `reconciliation` old before the last run is read last at
        // that age or later (less a quarter hour).
        let recon = Duration::hours(24);
        let quarter = Duration::minutes(15);
        let mut gap = every(quarter, t(2, 0, 7), t(4, 11, 22));
        gap.extend(every(quarter, t(5, 7, 22), t(6, 20, 7)));
        let slow = every(Duration::hours(6), t(2, 0, 7), t(6, 20, 7));
        // A run just after midnight reads yesterday, then stops (its deadline, or the vendor's budget) with its pass's
        // cursor at midnight; no run for 30 hours; the next one resumes the pass at the cursor.
        let mut resumed = every(quarter, t(2, 0, 7), t(2, 23, 52));
        resumed.push(t(3, 0, 22));
        resumed.extend(every(quarter, t(4, 6, 7), t(6, 20, 7)));
        let mut stops = std::collections::BTreeMap::new();
        stops.insert(t(3, 0, 22), 1);
        // The same after an earlier stopped pass and an outage of four days, whose mark is let go: later marks
        // still count (a review found the mark kept, and every later one lost).
        let mut later = every(quarter, t(1, 0, 7), t(1, 23, 52));
        later.push(t(2, 0, 22));
        later.extend(every(quarter, t(6, 6, 7), t(8, 23, 52)));
        later.push(t(9, 0, 22));
        later.extend(every(quarter, t(10, 6, 7), t(12, 20, 7)));
        let later_stops: std::collections::BTreeMap<_, _> = [(t(2, 0, 22), 1), (t(9, 0, 22), 1)].into();
        let none = std::collections::BTreeMap::new();
        for (name, times, stops) in [
            ("a 20-hour gap", gap, &none),
            ("every 6 hours", slow, &none),
            ("a pass resumed after 30 hours", resumed, &stops),
            ("the same after a 4-day outage", later, &later_stops),
        ] {
            for by_hour in [false, true] {
                let short = read_young_last(&times, stops, recon, by_hour, t(2, 0, 0));
                assert!(
                    short.is_empty(),
                    "{name}, by hour {by_hour}: {} read young last, e.g. {:?}",
                    short.len(),
                    short.first()
                );
            }
        }
    }

    #[test]
    fn a_pass_that_reads_one_day_a_run_moves_forward_every_run_also_after_a_gap() {
        // A back-fill (3 days of history) whose runs each read one day (a large domain, paced), runs a quarter hour
        // apart, none for 30 hours before it reaches today, then again. The pass resumes at its cursor and ends;
        // the next new pass starts on the 4th (the intervals the run at 00:37 read young), then moves a day forward
        // every run until it ends; caught up, each pass (the 5th and the 6th) takes two runs.
        let recon = Duration::hours(24);
        let quarter = Duration::minutes(15);
        let mut times = every(quarter, t(5, 0, 7), t(5, 0, 37));
        times.extend(every(quarter, t(6, 6, 7), t(6, 8, 7)));
        for by_hour in [false, true] {
            let (_, cursors) = simulate(&times, |_| 1, recon, by_hour);
            let day = |c: Option<DateTime<Utc>>| c.map(|c| c.format("%d").to_string());
            let days: Vec<_> = cursors.iter().map(|c| day(*c)).collect();
            let expected = [Some("03"), Some("04"), Some("05"), Some("06"), None, Some("05"), Some("06"), None];
            assert_eq!(days[..8], expected.map(|d| d.map(str::to_owned)), "by hour {by_hour}: {days:?}");
            let steady = days[8..].chunks(2).all(|runs| runs == [Some("06".to_owned()), None]);
            assert!(steady && days.len() == 12, "by hour {by_hour}: {days:?}");
        }
        // (A review's cases, 2026-12-05.) Genesys' 72 hours with runs a quarter hour apart, and 24 hours with runs
        // an hour apart, one day a run: every pass ends within the window's days (a first version sent a resumed
        // pass back to the mark, and such passes went back run after run and never read today).
        for (recon, step, runs) in [(Duration::hours(72), quarter, 49), (Duration::hours(24), Duration::hours(1), 23)] {
            let times: Vec<_> = (0..runs).map(|k| t(11, 0, 7) + step * k).collect();
            for by_hour in [false, true] {
                let (_, cursors) = simulate(&times, |_| 1, recon, by_hour);
                // The back-fill (3 days and today) ends after 4 runs; every re-read after it within its days.
                let first = cursors.iter().position(Option::is_none);
                assert_eq!(first, Some(3), "{recon} every {step}, by hour {by_hour}: {cursors:?}");
                let longest = recon.num_days() as usize + 2;
                let ends = cursors[3..].windows(longest).all(|w| w.iter().any(Option::is_none));
                assert!(
                    ends,
                    "{recon} every {step}, by hour {by_hour}: a pass longer than {longest} runs: {cursors:?}"
                );
            }
        }
    }

    #[test]
    fn a_mark_further_back_than_the_day_before_the_re_read_is_moved_up_to_it_not_dropped() {
        // (A review's case, 2026-12-05.) Genesys' 72 hours: caught up a quarter hour apart until the run at 12:07
        // on the 10th, which reads the 7th (from 12:15 young), the 8th and the 9th and stops; no run for 36 hours.
        // The first new pass after the resumed one re-reads from the 8th (the day before its re-read's, the 9th):
        // only the 7th's young stretch is let go. Dropping the mark whole lost the 8th too (143 quarter hours).
        let recon = Duration::hours(72);
        let quarter = Duration::minutes(15);
        let mut times = every(quarter, t(7, 0, 7), t(10, 12, 7));
        times.extend(every(quarter, t(12, 0, 7), t(15, 12, 7)));
        let stops: std::collections::BTreeMap<_, _> = [(t(10, 12, 7), 3)].into();
        for by_hour in [false, true] {
            let young_last: Vec<_> =
                read_young_last(&times, &stops, recon, by_hour, t(7, 0, 0)).into_iter().map(|(q, _)| q).collect();
            assert_eq!(young_last.len(), 47, "by hour {by_hour}: {young_last:?}");
            assert!(young_last.iter().all(|q| (t(7, 12, 15)..t(8, 0, 0)).contains(q)), "{young_last:?}");
        }
    }

    #[test]
    fn the_young_mark_follows_the_reads_from_it_and_stays_before_a_read_that_skips_it() {
        let recon = Duration::hours(24);
        let day = |d| TimeWindow::new(t(d, 0, 0), t(d + 1, 0, 0)).unwrap();
        // A caught-up run ending at 10:13:00 on the 10th (recon. 24 h): the 9th is young from 13:15 on, the
        // next run's re-read start; the 10th read after the mark leaves it there.
        let mark = young_after_read(None, day(9), t(10, 13, 0), recon);
        assert_eq!(mark, Some(t(9, 13, 15)));
        let today = TimeWindow::new(t(10, 0, 0), t(10, 13, 0)).unwrap();
        assert_eq!(young_after_read(mark, today, t(10, 13, 0), recon), mark);
        // A day read whole and old (a back-fill): all of it settled, the mark after it.
        assert_eq!(young_after_read(None, day(5), t(10, 13, 0), recon), Some(t(6, 0, 0)));
        // A read starting after the mark (a pass resumed at its cursor) leaves it, however old the read.
        assert_eq!(young_after_read(mark, day(11), t(20, 0, 0), recon), mark);
        // A read from the mark moves it: past the read when settled, to the young part when not.
        assert_eq!(young_after_read(mark, day(9), t(20, 0, 0), recon), Some(t(10, 0, 0)));
        assert_eq!(young_after_read(Some(t(12, 0, 0)), day(9), t(20, 0, 0), recon), Some(t(12, 0, 0)));
        assert_eq!(young_after_read(mark, day(9), t(10, 6, 0), recon), Some(t(9, 6, 15)));
        // A new pass starts at the mark when it is before its re-read, and the hour cut does not apply there.
        let now = t(10, 13, 7);
        let start = run_start(now, None, Some(t(10, 13, 0)), None, Some(t(8, 23, 30)), 3, recon);
        assert_eq!(start, t(8, 23, 30));
        let window = run_window(now, start).unwrap();
        assert_eq!(statistics_from(window, start, Some(t(10, 13, 0)), Some(t(8, 23, 30)), recon, true), t(8, 23, 0));
        assert_eq!(statistics_from(window, start, Some(t(10, 13, 0)), None, recon, true), t(8, 0, 0));
        // A mark after the re-read start changes nothing.
        assert_eq!(run_start(now, None, Some(t(10, 13, 0)), None, Some(t(9, 20, 0)), 3, recon), t(9, 13, 0));
        // A new pass's re-read: from the mark when it is at most the day before the re-read's; one further back (an
        // outage of days after a stopped run) is let go, not read again with the whole outage.
        let done = t(10, 13, 0);
        assert_eq!(reread_from(done, t(10, 13, 15), recon, None), t(9, 13, 15));
        assert_eq!(reread_from(done, t(10, 13, 15), recon, Some(t(9, 12, 30))), t(9, 12, 30));
        assert_eq!(reread_from(done, t(10, 13, 15), recon, Some(t(8, 0, 0))), t(8, 0, 0));
        assert_eq!(reread_from(done, t(10, 13, 15), recon, Some(t(7, 23, 45))), t(8, 0, 0), "moved up to that day");
        assert_eq!(young_for_new_pass(done, t(10, 13, 15), recon, Some(t(2, 5, 0))), Some(t(8, 0, 0)));
        assert_eq!(young_for_new_pass(done, t(10, 13, 15), recon, Some(t(9, 20, 0))), Some(t(9, 20, 0)));
        assert_eq!(reread_from(done, t(10, 13, 15), recon, Some(t(9, 20, 0))), t(9, 13, 15));
        // A resumed pass starts at its cursor whatever the mark: it only moves forward.
        let resumed = |young| run_start(now, None, Some(t(10, 0, 0)), Some(t(10, 0, 0)), young, 3, recon);
        for young in [Some(t(8, 1, 0)), Some(t(9, 13, 0)), None] {
            assert_eq!(resumed(young), t(10, 0, 0), "{young:?}");
        }
    }

    #[test]
    fn a_listing_that_drops_every_or_most_known_items_is_collapsed_a_small_removal_is_not() {
        assert!(!listing_collapsed(0, 0), "nothing known yet: a first listing");
        assert!(!listing_collapsed(16, 0));
        assert!(!listing_collapsed(16, 1), "one of sixteen removed");
        assert!(!listing_collapsed(16, 8), "exactly half");
        assert!(listing_collapsed(16, 9), "more than half");
        assert!(listing_collapsed(16, 16), "an empty listing");
        assert!(listing_collapsed(1, 1) && listing_collapsed(3, 3), "every known item dropped");
        assert!(!listing_collapsed(3, 2), "fewer than four known: only dropping all of them is a collapse");
        assert!(listing_collapsed(4, 3));
    }

    #[test]
    fn segments_split_at_midnight_and_belong_to_the_chunk_of_their_start() {
        let day9 = TimeWindow::new(t(9, 0, 0), t(10, 0, 0)).unwrap();
        let day10 = TimeWindow::new(t(10, 0, 0), t(10, 13, 0)).unwrap();
        let crossing = seg(t(9, 23, 50), Some(t(10, 0, 10)));
        let a = owned_pieces(std::slice::from_ref(&crossing), day9);
        let b = owned_pieces(std::slice::from_ref(&crossing), day10);
        assert_eq!(a, vec![seg(t(9, 23, 50), Some(t(10, 0, 0)))]);
        assert_eq!(b, vec![seg(t(10, 0, 0), Some(t(10, 0, 10)))]);
        // An open segment spanning two midnights: closed pieces for past days, open in the last.
        let open = seg(t(8, 22, 0), None);
        assert_eq!(owned_pieces(std::slice::from_ref(&open), day9), vec![seg(t(9, 0, 0), Some(t(10, 0, 0)))]);
        assert_eq!(owned_pieces(std::slice::from_ref(&open), day10), vec![seg(t(10, 0, 0), None)]);
        // Inverted or empty segments are dropped; duplicates keep the longest.
        let dup = vec![
            seg(t(9, 1, 0), Some(t(9, 1, 5))),
            seg(t(9, 1, 0), Some(t(9, 2, 0))),
            seg(t(9, 3, 0), Some(t(9, 3, 0))),
        ];
        assert_eq!(owned_pieces(&dup, day9), vec![seg(t(9, 1, 0), Some(t(9, 2, 0)))]);

        // Taking the segments cuts the same pieces for each chunk as `owned_pieces` does.
        let mut all = vec![crossing, open, seg(t(10, 5, 0), Some(t(10, 6, 0))), seg(t(11, 0, 0), None)];
        all.extend(dup);
        let mut other = seg(t(9, 4, 0), Some(t(9, 5, 0)));
        other.agent_external_id = "b".into();
        all.push(other);
        // A closed segment over two midnights, and three days (the middle one whole).
        all.push(seg(t(9, 20, 0), Some(t(11, 1, 0))));
        let (day10_whole, day11) =
            (TimeWindow::new(t(10, 0, 0), t(11, 0, 0)).unwrap(), TimeWindow::new(t(11, 0, 0), t(11, 13, 0)).unwrap());
        for chunks in [vec![day9, day10], vec![day9], vec![day10], vec![day9, day10_whole, day11]] {
            let expected: Vec<Vec<AgentSegment>> = chunks.iter().map(|c| owned_pieces(&all, *c)).collect();
            let cut: Vec<Vec<AgentSegment>> = pieces_by_chunk(all.clone(), &chunks).collect();
            assert_eq!(cut, expected, "{chunks:?}");
        }
    }
}
