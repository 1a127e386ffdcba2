//! How many Agent State Details rows an hour of the domain's day holds, learned from the reports read, so that the
//! reports of a window are cut where the rows are rather than by a day's average.
//!
//! A domain's shifts make some hours several times busier than the day's average (Five9 publishes no figure for a
//! domain; the simulator's busiest hours hold ≈ 2.5 times the average rows). Cut by the average
//! ([`super::Five9Options::state_rows_per_agent_hour`]), a report over busy hours reaches the row limit, is thrown
//! away and halved: wasted `runReport`s of the domain's 800 a day. Each complete report tells how many rows each of
//! its quarter hours held; the connector keeps, per local hour of the day, the busiest such hour of the last
//! [`KEPT_FOR_DAYS`] days ([`StateDensity`]), and cuts later windows into as few reports as expect at most 90 % of
//! the row limit each (the kept counts are a week's maximum already), the rows spread evenly over them
//! ([`plan_by_rows`]): short reports over the busy hours, long ones over the quiet hours. An hour it has not seen
//! yet counts as a busy one ([`super::Five9Options::unseen_hour_factor`] times the average), but a report's unseen
//! hours together never more than a day's rows in any 24 hours allow ([`Unseen`]). The import keeps what
//! was learned between runs (the connector's [`crate::Connector::vendor_cursor`]); what was learned under another
//! time zone is not used.
//!
//! The Call Log's rows (one per call) are learned the same way, in a value of their own: a busy domain's day of
//! calls passes the row limit too, and every caught-up run re-reads yesterday's and today's. Its hours not seen yet
//! are not guessed (a domain's calls have no default figure): only the report span cuts them.

use std::collections::{BTreeMap, BTreeSet};

use acd_domain::TimeWindow;
use chrono::{DateTime, Duration, DurationRound, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// How long an hour's count stands unless a busier hour of the same local hour replaces it: a week, so that a
/// weekday's busy hours are planned for until the same weekday comes again.
pub const KEPT_FOR_DAYS: i64 = 7;

/// One local hour of the day: the most rows one such hour held in a complete report, and that hour's start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HourRows {
    pub rows: u32,
    /// The UTC start of the hour counted (Unix seconds).
    pub at: i64,
}

/// The busiest Agent State Details hour seen per local hour of the day (0–23), within [`KEPT_FOR_DAYS`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateDensity {
    /// Indexed by the local hour (of the domain's report time zone) in which the counted UTC hour starts.
    #[serde(rename = "state_rows_per_hour")]
    hours: BTreeMap<u8, HourRows>,
    /// The time zone (IANA name) whose local hours index `hours`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    zone: Option<String>,
    /// Rows per UTC quarter hour of the reports read, until all four quarters of their hour are (reports are cut
    /// on quarter hours: a busy hour is often read in two reports). Not kept between runs.
    #[serde(skip)]
    quarters: BTreeMap<DateTime<Utc>, u32>,
}

impl StateDensity {
    /// Whether no hour was learned yet.
    pub fn is_empty(&self) -> bool {
        self.hours.is_empty()
    }

    /// Counts the rows (their written times, `starts`) of a complete report over `window` per whole UTC quarter
    /// hour inside it — a quarter without rows counts 0. Once all four quarters of a UTC hour were counted (by
    /// this report or earlier ones), the hour's rows are kept if they are the busiest of its local hour within
    /// [`KEPT_FOR_DAYS`].
    pub fn observe(&mut self, tz: Tz, window: TimeWindow, starts: impl IntoIterator<Item = DateTime<Utc>>) {
        self.observe_counts(tz, window, starts.into_iter().map(|start| (start, 1)));
    }

    /// [`StateDensity::observe`] of rows counted already: `n` rows written at `at` for each `(at, n)` (a report's
    /// rows per quarter hour, [`super::report::CallLogResult::quarters`]).
    pub fn observe_counts(
        &mut self,
        tz: Tz,
        window: TimeWindow,
        counts_at: impl IntoIterator<Item = (DateTime<Utc>, u32)>,
    ) {
        if self.zone.as_deref() != Some(tz.name()) {
            // Another zone's local hours are other hours.
            *self = StateDensity { zone: Some(tz.name().to_owned()), ..StateDensity::default() };
        }
        let quarter = Duration::minutes(15);
        let Ok(first) = window.start.duration_round_up(quarter) else { return };
        let mut counts: BTreeMap<DateTime<Utc>, u32> = BTreeMap::new();
        let mut q = first;
        while q + quarter <= window.end {
            counts.insert(q, 0);
            q += quarter;
        }
        if counts.is_empty() {
            return;
        }
        for (at, rows) in counts_at {
            if let Ok(q) = at.duration_trunc(quarter)
                && let Some(n) = counts.get_mut(&q)
            {
                *n = n.saturating_add(rows);
            }
        }
        let hours: BTreeSet<DateTime<Utc>> =
            counts.keys().filter_map(|q| q.duration_trunc(Duration::hours(1)).ok()).collect();
        self.quarters.extend(counts);
        for h in hours {
            let of_hour: Vec<DateTime<Utc>> = (0..4).map(|i| h + quarter * i).collect();
            if of_hour.iter().all(|q| self.quarters.contains_key(q)) {
                let rows = of_hour.iter().filter_map(|q| self.quarters.remove(q)).fold(0u32, u32::saturating_add);
                self.keep(local_hour(tz, h), HourRows { rows, at: h.timestamp() });
            }
        }
    }

    /// Takes in what another value learned (the one an earlier run saved), hour by hour as [`StateDensity::observe`]
    /// does — if it was learned in `tz`: a domain whose time zone was corrected since learns its hours afresh.
    /// Whether it was taken.
    pub fn merge(&mut self, tz: Tz, other: StateDensity) -> bool {
        if other.zone.as_deref() != Some(tz.name()) {
            return false;
        }
        if self.zone != other.zone {
            *self = StateDensity { zone: other.zone, ..StateDensity::default() };
        }
        for (hour, rows) in other.hours {
            self.keep(hour, rows);
        }
        true
    }

    /// Keeps `new` for its local hour if it is busier than what is kept, or as busy and later; either way, a
    /// count more than [`KEPT_FOR_DAYS`] older than the other gives way.
    fn keep(&mut self, hour: u8, new: HourRows) {
        let week = KEPT_FOR_DAYS * 86_400;
        let replace = match self.hours.get(&hour) {
            None => true,
            Some(old) if new.at - old.at > week => true,
            Some(old) if old.at - new.at > week => false,
            Some(old) => new.rows > old.rows || (new.rows == old.rows && new.at > old.at),
        };
        if replace {
            self.hours.insert(hour, new);
        }
    }

    /// The rows expected in the UTC hour starting at `hour` (the busiest of its local hour within [`KEPT_FOR_DAYS`]
    /// before `now`), if that local hour was seen.
    pub fn expected(&self, tz: Tz, hour: DateTime<Utc>, now: DateTime<Utc>) -> Option<u32> {
        let kept = self.hours.get(&local_hour(tz, hour))?;
        (now.timestamp() - kept.at <= KEPT_FOR_DAYS * 86_400).then_some(kept.rows)
    }
}

fn local_hour(tz: Tz, t: DateTime<Utc>) -> u8 {
    tz.from_utc_datetime(&t.naive_utc()).hour() as u8
}

/// What an hour of the domain's day not seen yet ([`StateDensity::expected`] has nothing) is expected to hold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Unseen {
    /// The rows an hour holds on a whole day's average.
    pub average: f64,
    /// How many times the average a busy hour holds (at least 1): a day's rows fall in `1 / factor` of its hours.
    pub factor: f64,
}

impl Unseen {
    /// The rows of a busy hour.
    fn busy(&self) -> f64 {
        self.average * self.factor.max(1.0)
    }

    /// The most rows `hours` unseen hours of a report `span` long are expected to hold: each at most a busy hour's,
    /// and, days being alike, all of them at most what any `span` of the day holds — any 24 hours hold a day's rows
    /// (24 averages), so a report holds those of its whole days and, of the hours left, as many busy hours' as a day
    /// has rows for. A report of a day or more is so priced at about the average, one of a few hours as busy: a
    /// small domain's first fetch is not cut as if every hour were its busiest.
    fn most(&self, hours: f64, span: Duration) -> f64 {
        let span = span.num_seconds() as f64 / 3600.0;
        let days = (span / 24.0).floor();
        let days_alike = self.average * (24.0 * days + (self.factor.max(1.0) * (span - 24.0 * days)).min(24.0));
        (self.busy() * hours).min(days_alike)
    }
}

/// Cuts `window` into consecutive report windows, as few as possible, each at most `max_span` long and expecting at
/// most `cap` rows (unless a single quarter hour expects more: it stands alone, and the row limit halves it if need
/// be), the expected rows spread as evenly over them as the quarter hours allow, so that a day busier than expected
/// finds room in every report. `rows_per_hour(h)`: the rows expected in the UTC hour starting at `h`, `None` for an
/// hour not seen yet (priced by `unseen`: as busy, and together at most what the report's span of a day holds); a
/// quarter hour expects a quarter of its hour's. Cuts fall on quarter hours (and the window's own ends).
pub fn plan_by_rows(
    window: TimeWindow,
    max_span: Duration,
    cap: f64,
    unseen: Unseen,
    rows_per_hour: impl Fn(DateTime<Utc>) -> Option<f64>,
) -> Vec<TimeWindow> {
    let quarter = Duration::minutes(15);
    // The window's quarter hours (the first and last may be shorter) and the rows each expects.
    let mut steps: Vec<Step> = Vec::new();
    let mut a = window.start;
    while a < window.end {
        let b = a.duration_trunc(quarter).map_or(window.end, |q| q + quarter).min(window.end);
        let hour_start = a.duration_trunc(Duration::hours(1)).unwrap_or(a);
        let hours = (b - a).num_seconds() as f64 / 3600.0;
        let (rows, unseen_hours) = rows_per_hour(hour_start).map_or((0.0, hours), |rows| (rows * hours, 0.0));
        steps.push(Step { start: a, end: b, rows, unseen_hours, weight: rows + unseen.busy() * unseen_hours });
        a = b;
    }
    // Running sums, so that a part's expected rows are two subtractions.
    let (mut rows_before, mut unseen_before) = (vec![0.0], vec![0.0]);
    for step in &steps {
        rows_before.push(rows_before.last().copied().unwrap_or(0.0) + step.rows);
        unseen_before.push(unseen_before.last().copied().unwrap_or(0.0) + step.unseen_hours);
    }
    // The rows steps[first..end] expect, and whether they make a report.
    let expected = |first: usize, end: usize| {
        let span = steps[end - 1].end - steps[first].start;
        rows_before[end] - rows_before[first] + unseen.most(unseen_before[end] - unseen_before[first], span)
    };
    let fits = |&(first, end): &(usize, usize)| {
        let span = steps[end - 1].end - steps[first].start;
        (expected(first, end) <= cap || span <= quarter) && span <= max_span
    };
    // As few parts as possible: each filled up to the cap or the span.
    let fewest = cut_steps(steps.len(), |first, i| !fits(&(first, i + 1)));
    // As many parts, each as near the same share of the expected rows as possible: a step goes to the next part once
    // more than half of it would lie past this part's share. Kept if it still fits the cap and the span.
    let parts = fewest.len();
    let total: f64 = steps.iter().map(|step| step.weight).sum();
    let share = total / parts as f64;
    let mut cumulative = 0.0;
    let mut done = 1.0;
    let even = cut_steps(steps.len(), |_, i| {
        let next = cumulative + steps[i].weight / 2.0 > done * share && done < parts as f64;
        if next {
            done += 1.0;
        }
        cumulative += steps[i].weight;
        next
    });
    let chosen = if even.len() == parts && even.iter().all(fits) { even } else { fewest };
    chosen.into_iter().map(|(first, end)| TimeWindow { start: steps[first].start, end: steps[end - 1].end }).collect()
}

/// A quarter hour of a window to plan (the first and last may be shorter) and what it expects: `rows` if its hour
/// was seen, else `unseen_hours` (its length in hours); `weight` counts it as rows either way, an unseen one as busy.
struct Step {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    rows: f64,
    unseen_hours: f64,
    weight: f64,
}

/// The steps `0..steps` cut into consecutive parts `(first, end)` (step indices, `end` exclusive), a new part
/// starting at step `i` (but the first of a part) when `cut(first step of the part, i)` says so. `cut` is asked for
/// every step, in order (it may count them).
fn cut_steps(steps: usize, mut cut: impl FnMut(usize, usize) -> bool) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut first = 0;
    for i in 0..steps {
        if cut(first, i) && i > first {
            out.push((first, i));
            first = i;
        }
    }
    if first < steps {
        out.push((first, steps));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::five9::report::tests::{utc, win};
    use chrono_tz::America::Los_Angeles;

    /// For plans whose every hour was seen.
    const ALL_SEEN: Unseen = Unseen { average: 0.0, factor: 1.0 };

    #[test]
    fn a_report_counts_its_whole_hours_by_local_hour_quiet_ones_included() {
        let mut d = StateDensity::default();
        // 10:30–13:30 UTC: whole hours 11:00 and 12:00 (04:00 and 05:00 in Los Angeles, PDT).
        let rows = ["2024-05-15T10:40:00Z", "2024-05-15T11:00:00Z", "2024-05-15T11:59:59Z", "2024-05-15T13:10:00Z"];
        d.observe(Los_Angeles, win("2024-05-15T10:30:00Z", "2024-05-15T13:30:00Z"), rows.iter().map(|r| utc(r)));
        let now = utc("2024-05-15T14:00:00Z");
        assert_eq!(d.expected(Los_Angeles, utc("2024-05-15T11:00:00Z"), now), Some(2));
        assert_eq!(d.expected(Los_Angeles, utc("2024-05-15T12:00:00Z"), now), Some(0), "a quiet hour counts 0");
        // The partial hours at either end taught nothing.
        assert_eq!(d.expected(Los_Angeles, utc("2024-05-15T10:00:00Z"), now), None);
        assert_eq!(d.expected(Los_Angeles, utc("2024-05-15T13:00:00Z"), now), None);
        // The same local hour a day later is expected alike.
        assert_eq!(d.expected(Los_Angeles, utc("2024-05-16T11:00:00Z"), now), Some(2));
        // A window without a whole hour teaches nothing by itself; an hour read in two reports, cut at a quarter
        // hour, is counted whole once both were read.
        let mut e = StateDensity::default();
        e.observe(Los_Angeles, win("2024-05-15T10:15:00Z", "2024-05-15T11:15:00Z"), [utc("2024-05-15T10:20:00Z")]);
        assert!(e.is_empty());
        e.observe(Los_Angeles, win("2024-05-15T11:15:00Z", "2024-05-15T12:30:00Z"), [utc("2024-05-15T11:20:00Z")]);
        assert_eq!(e.expected(Los_Angeles, utc("2024-05-15T11:00:00Z"), now), Some(1), "10:00 stays unknown");
        e.observe(
            Los_Angeles,
            win("2024-05-15T10:00:00Z", "2024-05-15T10:15:00Z"),
            vec![utc("2024-05-15T10:00:00Z"); 3],
        );
        assert_eq!(e.expected(Los_Angeles, utc("2024-05-15T10:00:00Z"), now), Some(4));
        assert_eq!(e.expected(Los_Angeles, utc("2024-05-15T12:00:00Z"), now), None, "half of 12:00 only");
        // The quarters are not part of what is kept between runs.
        let saved: StateDensity = serde_json::from_value(serde_json::to_value(&e).unwrap()).unwrap();
        assert!(saved.quarters.is_empty() && saved.hours == e.hours);
    }

    #[test]
    fn the_busiest_hour_of_the_week_stands_until_a_week_has_passed() {
        let hour = |h: &str| win(h, &(utc(h) + Duration::hours(1)).to_rfc3339());
        let rows = |h: &str, n: usize| vec![utc(h); n];
        let mut d = StateDensity::default();
        d.observe(Los_Angeles, hour("2024-05-15T18:00:00Z"), rows("2024-05-15T18:00:00Z", 900));
        // A quieter day at the same local hour does not lower it...
        d.observe(Los_Angeles, hour("2024-05-18T18:00:00Z"), rows("2024-05-18T18:00:00Z", 300));
        assert_eq!(d.expected(Los_Angeles, utc("2024-05-19T18:00:00Z"), utc("2024-05-19T19:00:00Z")), Some(900));
        // ...a busier one raises it...
        d.observe(Los_Angeles, hour("2024-05-20T18:00:00Z"), rows("2024-05-20T18:00:00Z", 1_000));
        assert_eq!(d.expected(Los_Angeles, utc("2024-05-21T18:00:00Z"), utc("2024-05-21T19:00:00Z")), Some(1_000));
        // ...and more than a week after it, the count is no longer used, and a quieter day's replaces it.
        assert_eq!(d.expected(Los_Angeles, utc("2024-05-28T18:00:00Z"), utc("2024-05-28T19:00:00Z")), None);
        d.observe(Los_Angeles, hour("2024-05-28T18:00:00Z"), rows("2024-05-28T18:00:00Z", 400));
        assert_eq!(d.expected(Los_Angeles, utc("2024-05-29T18:00:00Z"), utc("2024-05-29T19:00:00Z")), Some(400));
    }

    #[test]
    fn merging_keeps_the_busier_or_fresher_of_each_hour_and_survives_json() {
        let h = |s: &str| win(s, &(utc(s) + Duration::hours(1)).to_rfc3339());
        let mut saved = StateDensity::default();
        saved.observe(Los_Angeles, h("2024-05-15T18:00:00Z"), vec![utc("2024-05-15T18:05:00Z"); 50]);
        saved.observe(Los_Angeles, h("2024-05-15T02:00:00Z"), vec![utc("2024-05-15T02:05:00Z"); 5]);
        let json = serde_json::to_value(&saved).unwrap();
        let restored: StateDensity = serde_json::from_value(json).unwrap();
        assert_eq!(restored.hours, saved.hours);
        let mut now = StateDensity::default();
        now.observe(Los_Angeles, h("2024-05-16T18:00:00Z"), vec![utc("2024-05-16T18:05:00Z"); 20]);
        now.observe(Los_Angeles, h("2024-05-16T02:00:00Z"), vec![utc("2024-05-16T02:05:00Z"); 9]);
        // Learned in another zone (a time zone corrected since): other hours, not taken.
        assert!(!now.clone().merge(chrono_tz::UTC, restored.clone()));
        let mut elsewhere = StateDensity::default();
        elsewhere.observe(chrono_tz::UTC, h("2024-05-16T18:00:00Z"), vec![utc("2024-05-16T18:05:00Z"); 90]);
        assert!(!now.clone().merge(Los_Angeles, elsewhere));
        assert!(now.merge(Los_Angeles, restored));
        let at = utc("2024-05-16T20:00:00Z");
        assert_eq!(now.expected(Los_Angeles, utc("2024-05-16T18:00:00Z"), at), Some(50));
        assert_eq!(now.expected(Los_Angeles, utc("2024-05-16T02:00:00Z"), at), Some(9));
        // A saved count more than a week older than the one learned now gives way, however busy.
        let mut old = StateDensity::default();
        old.observe(Los_Angeles, h("2024-05-01T18:00:00Z"), vec![utc("2024-05-01T18:05:00Z"); 500]);
        assert!(now.merge(Los_Angeles, old));
        assert_eq!(now.expected(Los_Angeles, utc("2024-05-16T18:00:00Z"), at), Some(50));
    }

    #[test]
    fn windows_are_cut_where_the_rows_are() {
        // Quiet nights (100 rows an hour), busy days (10,000 an hour from 14:00 to 22:00 UTC), a cap of 40,000.
        let rate = |h: DateTime<Utc>| Some(if (14..22).contains(&h.hour()) { 10_000.0 } else { 100.0 });
        let w = win("2024-05-14T12:00:00Z", "2024-05-15T10:15:00Z");
        let parts = plan_by_rows(w, Duration::days(2), 40_000.0, ALL_SEEN, rate);
        let ends: Vec<String> = parts.iter().map(|p| p.end.format("%d %H:%M").to_string()).collect();
        // Three reports at the least (81,425 rows), each near a third: 2 quiet hours and 2.75 busy ones (27,700),
        // 2.75 busy ones (27,500), the last 2.5 busy hours with the night (26,225).
        assert_eq!(ends, ["14 16:45", "14 19:30", "15 10:15"]);
        assert_eq!(parts[0].start, w.start);
        assert!(parts.windows(2).all(|p| p[0].end == p[1].start), "consecutive, no gap");
        // The span still bounds a quiet window; a quarter hour above the cap stands alone.
        let quiet = plan_by_rows(w, Duration::hours(8), 40_000.0, ALL_SEEN, |_| Some(10.0));
        assert_eq!(quiet.len(), 3);
        assert!(quiet.iter().all(|p| p.duration() <= Duration::hours(8)));
        let dense = plan_by_rows(
            win("2024-05-14T12:00:00Z", "2024-05-14T12:30:00Z"),
            Duration::days(2),
            40_000.0,
            ALL_SEEN,
            |_| Some(1_000_000.0),
        );
        assert_eq!(dense.len(), 2);
        // A window starting off the quarter hour is cut on quarter hours after its start.
        let odd = plan_by_rows(
            win("2024-05-14T12:07:00Z", "2024-05-14T13:00:00Z"),
            Duration::days(2),
            1_000.0,
            ALL_SEEN,
            |_| Some(2_000.0),
        );
        let cuts: Vec<String> = odd.iter().map(|p| p.start.format("%H:%M").to_string()).collect();
        assert_eq!(cuts, ["12:07", "12:30"]);
    }

    #[test]
    fn hours_not_seen_yet_are_priced_as_busy_ones_but_a_report_never_above_what_its_span_of_a_day_holds() {
        let spans = |w: &[TimeWindow]| w.iter().map(|p| p.duration().num_minutes()).collect::<Vec<_>>();
        let unseen = Unseen { average: 100.0, factor: 3.0 };
        let w = win("2024-05-14T00:00:00Z", "2024-05-16T12:00:00Z");
        // A day (2,400 rows) fits in a report (cap 3,000): a report may span a day and the busy stretch of 2 hours
        // more (2,400 + 600); the 60 hours go in three reports of 20 hours, each at most a day's rows — not in six of
        // 10 hours (busy hours, 300 an hour, everywhere), nor in two of 30 (the average, 3,000 each, could be 3,000
        // plus a busy stretch: 24 hours' 2,400 and six busy ones' 1,800).
        assert_eq!(spans(&plan_by_rows(w, Duration::days(2), 3_000.0, unseen, |_| None)), [1_200; 3]);
        // A day that does not fit (cap 2,000) is cut as busy hours all along: six hours and a half at the most.
        let busy = plan_by_rows(w, Duration::days(2), 2_000.0, unseen, |_| None);
        assert_eq!(busy.len(), 10);
        assert!(busy.iter().all(|p| p.duration() <= Duration::minutes(390)));
        // Factor 1: the average.
        let average = Unseen { factor: 1.0, ..unseen };
        assert_eq!(spans(&plan_by_rows(w, Duration::days(2), 3_000.0, average, |_| None)), [1_800; 2]);
        // Seen hours count what they held, the unseen rest of a report its share of a day: a morning of 1,000 rows an
        // hour seen (three-hour reports at a cap of 3,000), an afternoon not seen yet (12 hours: at most 2,400 by the
        // day, not 3,600 as busy hours) in one report.
        let seen_morning = |h: DateTime<Utc>| (h.hour() < 12).then_some(1_000.0);
        let day = win("2024-05-14T00:00:00Z", "2024-05-15T00:00:00Z");
        assert_eq!(
            spans(&plan_by_rows(day, Duration::days(2), 3_000.0, unseen, seen_morning)),
            [180, 180, 180, 180, 720]
        );
    }
}
