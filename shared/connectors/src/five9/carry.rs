//! The agent states running into a UTC midnight, carried from one run to the next so that the day's Agent State
//! Details reports need not start [`super::Five9Options::segment_lookback`] (12 hours) before it.
//!
//! A caught-up import reads today's agent states every 15 minutes, and every time its reports started 12 hours before
//! midnight, only to find the states that were still running at midnight. For a domain in the Americas those are
//! the busiest hours of its day: for a large domain most of a run's reports. Once the rows before midnight are all
//! written ([`super::vendor::AGENT_STATES_FINAL_AFTER`] after it, the same point at which the import takes the day
//! before as final), one read with the look-back finds them for the rest of the day: the segments those rows left
//! running into midnight ([`Carried`], kept in the connector's cursor with the learned hours of [`super::density`]).
//! Later reads of a window that starts at that midnight start their reports there, and continue the overlap rule
//! from the carried segments (`report::build_segments_after`), which gives the segments all the rows would have
//! given:
//! - the rule only ever changes segments that end after a row's start (an agent's last segment, and the resumed
//!   parts of longer states after it), and a row of today (starting at or after midnight) cannot share the start of
//!   a row before it, so the segments before midnight that end by midnight play no further part;
//! - a row is a state's start and its duration *so far*: only the agent's latest state can still grow, and it ends
//!   where the agent's next state starts. A carried segment that was still going on when it was captured is kept
//!   open (it ends where the agent's next row starts, or is still going on), the others keep their end;
//! - a state of today that begins and ends inside a longer one does not end it: the longer one resumes after it. A
//!   carried segment still going on when captured is known to have lasted until the capture (`Carried::captured`,
//!   less `goes_on_at`'s 2 s of rounding): a state of today that ends before then lies inside it, and it resumes
//!   after it, open, as from all the rows.
//!
//! What it cannot know is how long such a state went on after the capture: a state of today that begins inside it
//! and ends after the capture is taken as the agent's next state (it ends the carried one), as it is when that
//! state is still going on; all the rows would resume the carried state after it if it outlasted it.
//!
//! What it assumes is the assumption of the import's final days: no row starting before midnight is written later
//! than 3 hours after it. A carried set is only taken in for the time zone it was read in, and only kept while it
//! fits the item the import keeps the cursor in ([`MAX_CARRIED_BYTES`]); otherwise the look-back is read as before.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::report::{ROUNDING, Seg, StateRows, Strings, fold_rows, runs_by_agent};

/// The largest carried set kept (as JSON): 320 KiB, ≈ 7,000 agents in a state at midnight at ≈ 47 bytes a state
/// with 26-character agent names (measured); a larger domain reads the look-back. The import keeps the connector's
/// cursor in an item of its own as zlib-compressed JSON (`acd_aws::cursor`), and DynamoDB limits an item to 400 KB:
/// deflate never grows its input by more than a few bytes per 16 KB block, so 320 KiB and the learned hours
/// (≈ 1 KB) fit whatever the agent names (carried sets compress ≈ 5×: 107 KB of 5,000 agents' stored in 20 KB).
pub const MAX_CARRIED_BYTES: usize = 320 * 1024;

/// One carried segment: agent, index into [`Carried::statuses`], its row's start, its start and its end as seconds
/// from [`Carried::at`]; no end: still going on when captured.
type CarriedState = (String, u32, i64, i64, Option<i64>);

/// The agents' segments running into `at`, as the rows before it left them ([`Carried::capture`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Carried {
    /// The midnight (a report window's start) the segments run into.
    pub at: DateTime<Utc>,
    /// The report time zone the rows were read in.
    pub zone: String,
    /// `(state, reason code)` of the segments.
    statuses: Vec<(String, Option<String>)>,
    states: Vec<CarriedState>,
    /// When the rows were read (their reports' generation time), as seconds from `at`: the segments still going on
    /// then are known to last until then. A set saved without it (before 2026-12-08) is not readable: whether a
    /// state of today lies inside one of those segments is not known.
    #[serde(default)]
    captured: Option<i64>,
}

impl Carried {
    /// The segments that the rows of `rows` starting before `at` leave running into `at`, rows read by reports
    /// generated at `report_time`.
    pub fn capture(rows: &StateRows, report_time: DateTime<Utc>, at: DateTime<Utc>, zone: &str) -> Self {
        let strings = &rows.strings;
        let mut before: Vec<_> = rows.rows.iter().filter(|r| r.start < at).copied().collect();
        let mut statuses: Vec<(String, Option<String>)> = Vec::new();
        let mut status_index: HashMap<(u32, u32), u32> = HashMap::new();
        let mut states = Vec::new();
        let secs = |t: DateTime<Utc>| (t - at).num_seconds();
        for (agent, range) in runs_by_agent(&mut before, strings) {
            let mut segs = Vec::new();
            fold_rows(&mut segs, &before[range], strings, report_time, None);
            let last = segs.len().checked_sub(1);
            for (k, s) in segs.iter().enumerate() {
                let open = Some(k) == last && s.ongoing_at(report_time, strings);
                if !open && s.end <= at {
                    continue;
                }
                let status = *status_index.entry((s.state, s.reason)).or_insert_with(|| {
                    statuses.push((strings.get(s.state).to_owned(), strings.get_opt(s.reason).map(str::to_owned)));
                    (statuses.len() - 1) as u32
                });
                let end = (!open).then(|| secs(s.end));
                states.push((strings.get(agent).to_owned(), status, secs(s.orig_start), secs(s.start), end));
            }
        }
        Self { at, zone: zone.to_owned(), statuses, states, captured: Some(secs(report_time)) }
    }

    /// Until when the segments still going on when captured are known to last: the capture, less the rounding by
    /// which a state ending a little before it was still taken as going on (`report::ROUNDING`).
    pub(super) fn known_until(&self) -> Option<DateTime<Utc>> {
        let captured = Duration::try_seconds(self.captured?)?;
        self.at.checked_add_signed(captured - ROUNDING)
    }

    /// Whether every carried segment can be read back: its status known, its times within a week of `at` and in
    /// order, its agent named; and the capture's time is known, within a week after `at`. A saved set that is not (a
    /// store's corruption, an edit, a set saved before the capture's time was) is ignored whole, never used in part:
    /// its reports then start with the look-back.
    pub fn is_readable(&self) -> bool {
        const WEEK: i64 = 7 * 86_400;
        self.captured.is_some_and(|c| (0..=WEEK).contains(&c))
            && self.states.iter().all(|(agent, status, orig_start, start, end)| {
                !agent.is_empty()
                    && (*status as usize) < self.statuses.len()
                    && (-WEEK..0).contains(orig_start)
                    && (*orig_start..=WEEK).contains(start)
                    && end.is_none_or(|e| e > 0 && e >= *start && e <= WEEK)
            })
    }

    /// The carried segments per agent, their strings taken into `strings`; a segment still going on when captured
    /// ends at the end of time (the agent's next row cuts it, else it is still going on). The set is
    /// [`Carried::is_readable`] (captured here, or checked when restored).
    pub(super) fn segments(&self, strings: &mut Strings) -> HashMap<u32, Vec<Seg>> {
        let statuses: Vec<(u32, u32)> = self
            .statuses
            .iter()
            .map(|(state, reason)| {
                (
                    strings.id(state),
                    reason.as_deref().filter(|r| !r.is_empty()).map_or(Strings::NONE, |r| strings.id(r)),
                )
            })
            .collect();
        let time = |secs: i64| Duration::try_seconds(secs).and_then(|d| self.at.checked_add_signed(d));
        let mut out: HashMap<u32, Vec<Seg>> = HashMap::new();
        for (agent, status, orig_start, start, end) in &self.states {
            let (Some(&(state, reason)), Some(orig_start), Some(start)) =
                (statuses.get(*status as usize), time(*orig_start), time(*start))
            else {
                continue;
            };
            let end = end.and_then(time).unwrap_or(DateTime::<Utc>::MAX_UTC);
            out.entry(strings.id(agent)).or_default().push(Seg { orig_start, start, end, state, reason });
        }
        out
    }

    /// The `(state, reason code)` pairs of the carried segments.
    pub fn statuses(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        self.statuses.iter().map(|(s, r)| (s.as_str(), r.as_deref()))
    }

    /// How many segments are carried.
    pub fn len(&self) -> usize {
        self.states.len()
    }

    /// Whether no segment is carried (no agent was in a state at `at`).
    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }
}

impl super::Five9Connector {
    /// The carried states running into `at`, when carrying is on. (Every set kept is of this connector's time zone:
    /// captured here, or checked when restored.)
    pub(super) fn carried_into(&self, at: DateTime<Utc>) -> Option<Arc<Carried>> {
        if !self.opts.carry_states {
            return None;
        }
        let carried = self.carried.lock().unwrap_or_else(|p| p.into_inner());
        carried.as_ref().filter(|c| c.at == at).cloned()
    }

    /// Captures the states `rows` (read from [`super::Five9Options::segment_lookback`] before `at`, by reports
    /// generated at `report_time`, late enough for every row before `at` to be written) leave running into `at`,
    /// and keeps them unless later ones are kept or they are too many to store.
    pub(super) fn carry(&self, rows: &StateRows, report_time: DateTime<Utc>, at: DateTime<Utc>) {
        if !self.opts.carry_states
            || self.carried.lock().unwrap_or_else(|p| p.into_inner()).as_ref().is_some_and(|c| c.at >= at)
        {
            return;
        }
        let carried = Carried::capture(rows, report_time, at, self.tz.name());
        let bytes = serde_json::to_vec(&carried).map_or(usize::MAX, |v| v.len());
        if bytes > MAX_CARRIED_BYTES {
            tracing::info!(
                at = %at, states = carried.len(), bytes,
                "too many agent states at midnight to carry: today's reports start with the look-back"
            );
            return;
        }
        self.keep_carried(carried);
    }

    /// Keeps `carried` unless states running into a later midnight are kept already.
    pub(super) fn keep_carried(&self, carried: Carried) {
        let mut kept = self.carried.lock().unwrap_or_else(|p| p.into_inner());
        if kept.as_ref().is_none_or(|k| k.at < carried.at) {
            *kept = Some(Arc::new(carried));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::report::tests::utc;
    use super::super::report::{build_segments, build_segments_after};
    use super::*;
    use acd_domain::TimeWindow;

    /// A state as Five9 writes it: its start, state, reason code and duration in seconds.
    type Written = (DateTime<Utc>, &'static str, Option<&'static str>, i64);

    const STATES: [&str; 6] = ["Ready", "On Call", "After Call Work", "Not Ready", "Ringing", "Logout"];

    /// A small deterministic generator (xorshift).
    struct Rng(u64);
    impl Rng {
        fn next(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    /// One agent's states as Five9 writes them: `(start, state, reason, duration)`, consecutive from `from`,
    /// some of zero length, logouts as points, some pairs written with the same start (the shorter first state,
    /// the longer its successor, five9.md's overlap rule), long states that run across midnight, and shorter states
    /// (some of zero length, some logouts) inside longer ones, before, across and after `midnight`, and gaps where
    /// a state ended without a successor. A state begun before `midnight` and still going on at `known` (carried
    /// open) has no state inside it ending at or after `known` (it is known to last until its capture, no further:
    /// see the module's doc) and no gap after it.
    fn timeline(
        rng: &mut Rng,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
        midnight: DateTime<Utc>,
        known: DateTime<Utc>,
    ) -> Vec<Written> {
        let mut out = Vec::new();
        let mut t = from + Duration::seconds(rng.next(3_600) as i64);
        while t < until {
            let state = STATES[rng.next(STATES.len() as u64) as usize];
            let reason = (state == "Not Ready" && rng.next(2) == 0).then_some("Lunch");
            let secs = match rng.next(10) {
                0 => 0,
                1 => 3_600 + rng.next(4 * 3_600) as i64,
                _ => rng.next(900) as i64,
            };
            let secs = if state == "Logout" { 0 } else { secs };
            if rng.next(6) == 0 && state != "Logout" {
                // Written with its predecessor's start: a short Ready, then this state, both at `t`.
                let short = 1 + rng.next(10) as i64;
                out.push((t, "Ready", None, short));
                out.push((t, state, reason, short + secs));
                t += Duration::seconds(short + secs);
            } else {
                out.push((t, state, reason, secs));
                let end = t + Duration::seconds(secs);
                if secs >= 60 && rng.next(2) == 0 {
                    // Shorter states inside it, each ending before it does (and, in one carried still going on at
                    // the capture, before `known`).
                    let limit = if t < midnight && end >= known { end.min(known) } else { end };
                    let mut inner = t;
                    for _ in 0..1 + rng.next(3) {
                        let room = (limit - inner).num_seconds() - 1;
                        if room < 2 {
                            break;
                        }
                        let start = inner + Duration::seconds(1 + rng.next(room as u64 - 1) as i64);
                        let left = (limit - start).num_seconds();
                        let inner_state = STATES[rng.next(STATES.len() as u64) as usize];
                        let inner_secs = if inner_state == "Logout" || rng.next(4) == 0 {
                            0
                        } else {
                            1 + rng.next(left.min(1_800) as u64 - 1) as i64
                        };
                        out.push((start, inner_state, None, inner_secs));
                        inner = start + Duration::seconds(inner_secs);
                    }
                }
                // Now and then nothing written for a while (the state ended without a successor), but after a
                // carried state going on when captured: what is carried ends it where the agent's next row starts.
                let carried_open = t < midnight && end >= known;
                t = end;
                if !carried_open && rng.next(8) == 0 {
                    t += Duration::seconds(1 + rng.next(1_800) as i64);
                }
            }
        }
        out
    }

    /// The rows a report over `window` generated at `now` returns: rows written by then, durations so far.
    fn rows_at(agents: &[Vec<Written>], window: TimeWindow, now: DateTime<Utc>) -> StateRows {
        let mut rows = StateRows::default();
        for (n, states) in agents.iter().enumerate() {
            for (start, state, reason, secs) in states {
                if window.contains(*start) && *start < now {
                    let so_far = (*secs).min((now - *start).num_seconds());
                    rows.push(&format!("agent{n:03}"), state, *reason, *start, so_far as u32);
                }
            }
        }
        rows
    }

    #[test]
    fn carried_segments_give_what_the_rows_before_midnight_give() {
        let midnight = utc("2024-05-15T00:00:00Z");
        let lookback = Duration::hours(12);
        let mut rng = Rng(0x5eed_1234_abcd_0001);
        // Captured from a read 3 hours after midnight (rows before midnight all written), as the connector does: a
        // state going on then is known to have lasted until 2 s before it (`goes_on_at`'s rounding).
        let capture_at = midnight + Duration::hours(3);
        let known = capture_at - Duration::seconds(2);
        let day = |rng: &mut Rng, from| timeline(rng, from, midnight + Duration::hours(20), midnight, known);
        let mut agents: Vec<_> = (0..300).map(|_| day(&mut rng, midnight - Duration::hours(13))).collect();
        // And some written as a pair seconds before midnight, the second state starting after it.
        for k in 0..5 {
            let pair = midnight - Duration::seconds(2 + k);
            let from = midnight - Duration::hours(3);
            let mut states = vec![
                (from, "Ready", None, (pair - from).num_seconds()),
                (pair, "Ringing", None, 5 + k),
                (pair, "On Call", None, 5 + k + 600),
            ];
            states.extend(day(&mut rng, pair + Duration::seconds(5 + k + 600)));
            agents.push(states);
        }
        // Shorter states of today inside longer ones begun before midnight, some carried still going on.
        let inside_carried = agents
            .iter()
            .filter(|states| {
                states.iter().any(|(s, _, _, secs)| {
                    let end = *s + Duration::seconds(*secs);
                    *s < midnight
                        && end >= known
                        && states.iter().any(|(i, _, _, d)| *i >= midnight && *i + Duration::seconds(*d) < end)
                })
            })
            .count();
        assert!(inside_carried > 10, "{inside_carried} agents with a state inside one carried open");
        let read = TimeWindow::new(midnight - lookback, capture_at).unwrap();
        let carried = Carried::capture(&rows_at(&agents, read, capture_at), capture_at, midnight, "UTC");
        assert!(carried.len() > 150, "most agents were in a state at midnight: {}", carried.len());
        assert!(carried.states.iter().any(|s| s.4.is_none()), "some were still going on when captured");
        assert!(carried.states.iter().any(|s| s.3 > 0), "some start after midnight (a pair written before it)");
        assert!(carried.is_readable());
        let json = serde_json::to_vec(&carried).unwrap();
        assert!(json.len() < MAX_CARRIED_BYTES, "{} bytes for 300 agents", json.len());
        let carried: Carried = serde_json::from_slice(&json).unwrap();
        // Later reads of today: with the look-back, and from midnight with the carried segments — the same.
        for hours in [3, 4, 9, 15, 20] {
            let now = midnight + Duration::hours(hours) + Duration::seconds(17);
            let today = TimeWindow::new(midnight, now).unwrap();
            let whole =
                build_segments(rows_at(&agents, TimeWindow::new(midnight - lookback, now).unwrap(), now), now, today);
            let from_midnight = rows_at(&agents, today, now);
            let carried_on = build_segments_after(from_midnight, now, today, Some(&carried));
            assert!(whole.len() > 1_000, "{}", whole.len());
            assert!(
                carried_on == whole,
                "at {now}: {} segments carried on, {} from all rows",
                carried_on.len(),
                whole.len()
            );
            // Without them, the states running into midnight are missing.
            let bare = build_segments(rows_at(&agents, today, now), now, today);
            assert_ne!(bare, whole);
        }
    }

    #[test]
    fn a_state_going_on_at_the_capture_ends_where_the_next_one_starts() {
        let at = utc("2024-05-15T00:00:00Z");
        let mut before = StateRows::default();
        // a: Not Ready since 23:00, still going on at 03:00; b: On Call 23:50-00:10, then Ready (not before midnight);
        // c: a pair written at 23:59:58, its second state starting after midnight; d: logged out before midnight.
        before.push("a", "Not Ready", Some("Lunch"), utc("2024-05-14T23:00:00Z"), 4 * 3_600);
        before.push("b", "On Call", None, utc("2024-05-14T23:50:00Z"), 1_200);
        before.push("c", "Ready", None, utc("2024-05-14T23:59:58Z"), 5);
        before.push("c", "On Call", None, utc("2024-05-14T23:59:58Z"), 65);
        before.push("d", "Ready", None, utc("2024-05-14T22:00:00Z"), 60);
        before.push("d", "Logout", None, utc("2024-05-14T22:01:00Z"), 0);
        let carried = Carried::capture(&before, utc("2024-05-15T03:00:00Z"), at, "UTC");
        let got: Vec<_> = carried.states.iter().map(|(a, _, o, s, e)| (a.as_str(), *o, *s, *e)).collect();
        assert_eq!(
            got,
            vec![
                ("a", -3_600, -3_600, None),
                ("b", -600, -600, Some(600)),
                ("c", -2, -2, Some(3)),
                ("c", -2, 3, Some(63)),
            ],
        );
        let statuses: Vec<_> = carried.statuses().collect();
        assert_eq!(statuses, vec![("Not Ready", Some("Lunch")), ("On Call", None), ("Ready", None)]);
        // What was captured reads back; a set with an unknown status or times out of order does not.
        assert!(carried.is_readable());
        let mut broken = carried.clone();
        broken.states[0].1 = 7;
        assert!(!broken.is_readable());
        let mut broken = carried.clone();
        broken.states[1].4 = Some(-700);
        assert!(!broken.is_readable());
        // A set saved before the capture's time was: whether a state of today lies inside a carried one is not known.
        let mut old = serde_json::to_value(&carried).unwrap();
        old.as_object_mut().unwrap().remove("captured");
        assert!(!serde_json::from_value::<Carried>(old).unwrap().is_readable());
        // At 05:00: a was on a call 01:00-01:05 inside its Not Ready (known to go on until the capture: it resumes
        // after it, a zero-length state at 02:00 does not end it), then went Ready at 04:30; b's next row is at
        // 00:10; e, in Not Ready since 23:30 and going on at the capture, was on a call 04:00-04:10 (after the
        // capture: its next state, nothing known after it).
        let mut today = StateRows::default();
        today.push("a", "On Call", None, utc("2024-05-15T01:00:00Z"), 300);
        today.push("a", "Ready", None, utc("2024-05-15T02:00:00Z"), 0);
        today.push("a", "Ready", None, utc("2024-05-15T04:30:00Z"), 1_800);
        today.push("b", "Ready", None, utc("2024-05-15T00:10:00Z"), 60);
        today.push("e", "On Call", None, utc("2024-05-15T04:00:00Z"), 600);
        before.push("e", "Not Ready", None, utc("2024-05-14T23:30:00Z"), 3 * 3_600 + 1_800);
        let carried = Carried::capture(&before, utc("2024-05-15T03:00:00Z"), at, "UTC");
        let now = utc("2024-05-15T05:00:00Z");
        let window = TimeWindow::new(at, now).unwrap();
        // All the rows, as a read with the look-back finds them at 05:00: a's Not Ready lasted until 04:30, e's
        // until 04:00.
        let mut all = StateRows::default();
        all.push("a", "Not Ready", Some("Lunch"), utc("2024-05-14T23:00:00Z"), 5 * 3_600 + 1_800);
        all.push("b", "On Call", None, utc("2024-05-14T23:50:00Z"), 1_200);
        all.push("c", "Ready", None, utc("2024-05-14T23:59:58Z"), 5);
        all.push("c", "On Call", None, utc("2024-05-14T23:59:58Z"), 65);
        all.push("d", "Ready", None, utc("2024-05-14T22:00:00Z"), 60);
        all.push("d", "Logout", None, utc("2024-05-14T22:01:00Z"), 0);
        all.push("e", "Not Ready", None, utc("2024-05-14T23:30:00Z"), 4 * 3_600 + 1_800);
        all.append(today.clone());
        let whole = build_segments(all, now, window);
        let segs = build_segments_after(today, now, window, Some(&carried));
        assert_eq!(segs, whole, "what all the rows give");
        let got: Vec<_> = segs.iter().map(|s| (&*s.agent_external_id, &*s.status_id, s.start, s.end)).collect();
        assert_eq!(
            got,
            vec![
                ("a", "Not Ready: Lunch", utc("2024-05-14T23:00:00Z"), Some(utc("2024-05-15T01:00:00Z"))),
                ("a", "On Call", utc("2024-05-15T01:00:00Z"), Some(utc("2024-05-15T01:05:00Z"))),
                ("a", "Not Ready: Lunch", utc("2024-05-15T01:05:00Z"), Some(utc("2024-05-15T04:30:00Z"))),
                ("a", "Ready", utc("2024-05-15T04:30:00Z"), None),
                ("b", "On Call", utc("2024-05-14T23:50:00Z"), Some(utc("2024-05-15T00:10:00Z"))),
                ("b", "Ready", utc("2024-05-15T00:10:00Z"), Some(utc("2024-05-15T00:11:00Z"))),
                ("c", "Ready", utc("2024-05-14T23:59:58Z"), Some(utc("2024-05-15T00:00:03Z"))),
                ("c", "On Call", utc("2024-05-15T00:00:03Z"), Some(utc("2024-05-15T00:01:03Z"))),
                ("e", "Not Ready", utc("2024-05-14T23:30:00Z"), Some(utc("2024-05-15T04:00:00Z"))),
                ("e", "On Call", utc("2024-05-15T04:00:00Z"), Some(utc("2024-05-15T04:10:00Z"))),
            ]
        );
    }

    #[test]
    fn a_state_going_on_in_an_earlier_report_of_a_cut_read_is_carried_open_not_ended_where_that_report_ran() {
        // A capture read cut into two reports (a large domain, or halves at the row limit), generated at 03:00:00
        // and 03:05:00. a: Not Ready since 23:00, still going on in the first report (its duration so far); b:
        // Ready 22:00-22:30, ended; d: Ready from 02:50, going on at 03:00, and Not Ready from 03:02 in the second.
        let (first, last) = (utc("2024-05-15T03:00:00Z"), utc("2024-05-15T03:05:00Z"));
        let since = |t: &str| (first - utc(t)).num_seconds() as u32;
        let mut rows = StateRows::default();
        rows.push("a", "Not Ready", Some("Lunch"), utc("2024-05-14T23:00:00Z"), since("2024-05-14T23:00:00Z"));
        rows.push("b", "Ready", None, utc("2024-05-14T22:00:00Z"), 1_800);
        rows.push("d", "Ready", None, utc("2024-05-15T02:50:00Z"), since("2024-05-15T02:50:00Z"));
        let second = rows.rows.len();
        rows.push("d", "Not Ready", None, utc("2024-05-15T03:02:00Z"), 180);
        rows.as_of(&[(0, first), (second, last)], last);
        let at = utc("2024-05-15T00:00:00Z");
        let carried = Carried::capture(&rows, last, at, "UTC");
        let states: Vec<_> =
            carried.states.iter().map(|(agent, _, _, start, end)| (agent.as_str(), *start, *end)).collect();
        assert_eq!(states, vec![("a", -3_600, None)], "a goes on (was: ended at 03:00:00, the first report's time)");
        // The read's own segments: a and d's last state go on, d's Ready ends where its Not Ready starts.
        let window = TimeWindow::new(at, last).unwrap();
        let segs = build_segments(rows, last, window);
        let got: Vec<_> = segs.iter().map(|s| (&*s.agent_external_id, &*s.status_id, s.start, s.end)).collect();
        assert_eq!(
            got,
            vec![
                ("a", "Not Ready: Lunch", utc("2024-05-14T23:00:00Z"), None),
                ("d", "Ready", utc("2024-05-15T02:50:00Z"), Some(utc("2024-05-15T03:02:00Z"))),
                ("d", "Not Ready", utc("2024-05-15T03:02:00Z"), None),
            ]
        );
    }
}
