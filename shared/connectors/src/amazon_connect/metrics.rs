//! `GetMetricDataV2` rows → [`IntervalStats`] (pure; the request is built in `mod.rs`).
//!
//! Metric choices (names and units from the documentation of `GetMetricDataV2Request.Metrics` in the service
//! model `connect/2017-08-08`; all valid with the QUEUE and CHANNEL groupings):

use std::collections::BTreeMap;

use acd_domain::acd::floor_to_interval;
use acd_domain::{Channel, IntervalStats, TimeWindow};
use aws_sdk_connect::types::MetricResultV2;
use chrono::{DateTime, Utc};

use crate::ConnectorError;

/// offered ← "Contacts queued (enqueue timestamp)", Count: contacts counted in the interval they entered the queue,
/// which is what `IntervalStats::offered` means (`CONTACTS_QUEUED` counts by another timestamp).
pub const OFFERED: &str = "CONTACTS_QUEUED_BY_ENQUEUE";
/// handled ← "Contacts handled", Count.
pub const HANDLED: &str = "CONTACTS_HANDLED";
/// abandoned ← "Contact abandoned", Count.
pub const ABANDONED: &str = "CONTACTS_ABANDONED";
/// handle_time_ms ← "Contact handle time", Seconds (total; talk + hold + after-contact work).
pub const HANDLE_TIME: &str = "SUM_HANDLE_TIME";
/// answer_time_ms ← "Average queue answer time", Seconds, × the contacts answered from the queue ([`ANSWERED`]). The
/// model offers no sum of queue answer time, and the average is not over the contacts `CONTACTS_HANDLED` counts:
/// those include outbound contacts, which are never queued (an interval of a queue with only outbound calls has
/// handled contacts and a null average, "cannot be computed").
pub const AVG_ANSWER_TIME: &str = "AVG_QUEUE_ANSWER_TIME";
/// answered_within_sl ← "Contacts answered in X seconds", Count, with `Threshold {Comparison: LTE, ThresholdValue:
/// settings.service_level_seconds}`.
pub const ANSWERED_IN_X: &str = "SUM_CONTACTS_ANSWERED_IN_X";
/// The contacts answered from the queue (what [`AVG_ANSWER_TIME`] averages over): [`ANSWERED_IN_X`] with `Threshold
/// {Comparison: LT, ThresholdValue: ANSWERED_ALL_SECONDS}`, the largest the model takes (7 days; a contact answered
/// later would be left out, and its wait with it).
pub const ANSWERED: &str = ANSWERED_IN_X;
/// The threshold of [`ANSWERED`], seconds.
pub const ANSWERED_ALL_SECONDS: f64 = 604_800.0;

/// The metrics asked for, in this order; [`ANSWERED_IN_X`] twice, told apart by their threshold's comparison
/// ([`SERVICE_LEVEL_SLOT`] `LTE`, [`ANSWERED_SLOT`] `LT`).
pub const ALL: [&str; 7] = [OFFERED, HANDLED, ABANDONED, HANDLE_TIME, AVG_ANSWER_TIME, ANSWERED_IN_X, ANSWERED];
/// The place of the service level's [`ANSWERED_IN_X`] in [`ALL`].
pub const SERVICE_LEVEL_SLOT: usize = 5;
/// The place of [`ANSWERED`] in [`ALL`].
pub const ANSWERED_SLOT: usize = 6;

/// The place in [`ALL`] of a returned metric, by its name and its threshold's comparison.
fn slot(name: &str, comparison: Option<&str>) -> Option<usize> {
    if name == ANSWERED_IN_X {
        return Some(if comparison == Some("LT") { ANSWERED_SLOT } else { SERVICE_LEVEL_SLOT });
    }
    ALL.iter().position(|n| *n == name)
}

/// Connect's `Channel` enum (VOICE | CHAT | TASK | EMAIL) → the WFM channel. TASK is a work item routed like a case.
pub fn channel_of(raw: &str) -> Option<Channel> {
    match raw {
        "VOICE" => Some(Channel::Calls),
        "CHAT" => Some(Channel::Chats),
        "TASK" => Some(Channel::Cases),
        "EMAIL" => Some(Channel::Emails),
        _ => None,
    }
}

/// The WFM queue id of a Connect queue and channel: `{queueId}:{channel}` (the queue id is stable across renames).
pub fn external_queue_id(queue_id: &str, channel: Channel) -> String {
    format!("{queue_id}:{}", channel.as_str())
}

/// Values of one (queue, channel, interval) row, by the metric's position in [`ALL`]; `None` = the metric was absent
/// or null ("cannot be computed"). A fixed array, not a map: a 2-day window holds a row per queue, channel and quarter
/// hour until it is returned (≈ 60,000 at 200 queues).
#[derive(Debug, Default, Clone)]
struct Row {
    values: [Option<f64>; ALL.len()],
    /// Bit `i`: the metric at `i` was given (a value or a null).
    given: u8,
}

const _: () = assert!(ALL.len() <= 8, "Row::given has a bit per metric");

impl Row {
    /// Sets the metric at `known` (its place in [`ALL`]); a metric given twice differently (two values, or a value
    /// and a null: until 2026-12-08 a null given after a value replaced it) is malformed.
    fn set(&mut self, known: usize, value: Option<f64>) -> Result<(), ConnectorError> {
        let before = self.values[known];
        let differs = match (before, value) {
            (Some(before), Some(v)) => (v - before).abs() > 1e-9,
            (None, None) => false,
            _ => self.given & (1 << known) != 0,
        };
        self.given |= 1 << known;
        if differs {
            return Err(ConnectorError::malformed(format!(
                "GetMetricDataV2: {} given twice with different values for one queue and interval",
                ALL[known]
            )));
        }
        self.values[known] = value;
        Ok(())
    }
}

/// Accumulates the rows of every page of one request.
#[derive(Debug, Default)]
pub struct MetricRows {
    rows: BTreeMap<(String, DateTime<Utc>), Row>,
}

impl MetricRows {
    /// Adds one page of results. Rows of channels not asked for are ignored; a row without its dimensions or
    /// interval, of a queue none of whose channels is asked for (until 2026-12-07 ignored: a QUEUE dimension in
    /// another form would have read every queue as zero), or of an interval not on a quarter hour inside `window`,
    /// is malformed.
    pub fn add(
        &mut self,
        results: &[MetricResultV2],
        wanted: &std::collections::HashSet<String>,
        window: TimeWindow,
    ) -> Result<(), ConnectorError> {
        for r in results {
            let dims = r
                .dimensions()
                .ok_or_else(|| ConnectorError::malformed("GetMetricDataV2: a result has no Dimensions"))?;
            let (Some(queue), Some(channel)) = (dims.get("QUEUE"), dims.get("CHANNEL")) else {
                return Err(ConnectorError::malformed(
                    "GetMetricDataV2: a result lacks the QUEUE or CHANNEL dimension",
                ));
            };
            let queue_id = super::events::last_path_element(queue).unwrap_or(queue);
            let Some(id) = channel_of(channel).map(|c| external_queue_id(queue_id, c)).filter(|id| wanted.contains(id))
            else {
                // The request names its queues: a row of none of them means the QUEUE dimension is not what this
                // reads (another id form), and dropping it would read the queues' statistics as zero. (Checked only
                // off the common path: a row of a wanted queue and channel needs no more lookups.)
                if !super::CHANNELS.iter().any(|&c| wanted.contains(&external_queue_id(queue_id, c))) {
                    return Err(ConnectorError::malformed(format!(
                        "GetMetricDataV2: a result of queue {queue:?}, which the request did not ask for"
                    )));
                }
                continue; // a channel not asked for
            };
            let start = r
                .metric_interval()
                .and_then(|i| i.start_time())
                .and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
                .ok_or_else(|| {
                    ConnectorError::malformed("GetMetricDataV2: a result has no MetricInterval.StartTime")
                })?;
            if floor_to_interval(start) != start || !window.contains(start) {
                return Err(ConnectorError::malformed(format!(
                    "GetMetricDataV2: interval {start} is not a quarter hour inside the requested window"
                )));
            }
            let row = self.rows.entry((id, start)).or_default();
            for c in r.collections() {
                let Some(name) = c.metric().and_then(|m| m.name()) else { continue };
                let comparison = c.metric().and_then(|m| m.threshold().first()).and_then(|t| t.comparison());
                let Some(known) = slot(name, comparison) else { continue };
                let value = c.value();
                if let Some(v) = value
                    && (!v.is_finite() || v < 0.0)
                {
                    return Err(ConnectorError::malformed(format!(
                        "GetMetricDataV2: {name} = {v} is not a valid value"
                    )));
                }
                row.set(known, value)?;
            }
        }
        Ok(())
    }

    /// Adds the rows another request sequence read (of other queues or another span, so normally none in
    /// common; a row in both gets the check of a metric given twice).
    pub fn merge(&mut self, other: MetricRows) -> Result<(), ConnectorError> {
        if self.rows.is_empty() {
            self.rows = other.rows;
            return Ok(());
        }
        for (key, row) in other.rows {
            match self.rows.entry(key) {
                std::collections::btree_map::Entry::Vacant(v) => {
                    v.insert(row);
                }
                std::collections::btree_map::Entry::Occupied(mut o) => {
                    for (known, value) in row.values.into_iter().enumerate() {
                        if row.given & (1 << known) != 0 {
                            o.get_mut().set(known, value)?;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// The statistics, one per row. A row exists only where Connect had data (an empty result = no contacts = zero,
    /// the trait's "absent means zero"); inside a row a null or missing count cannot be right, so it is malformed.
    pub fn into_stats(self) -> Result<Vec<IntervalStats>, ConnectorError> {
        let mut out = Vec::with_capacity(self.rows.len());
        for ((queue, start), row) in self.rows {
            let get = |name: &str| ALL.iter().position(|n| *n == name).and_then(|i| row.values[i]);
            let count = |name: &str| -> Result<u64, ConnectorError> {
                let v = get(name).ok_or_else(|| {
                    ConnectorError::malformed(format!(
                        "GetMetricDataV2: {name} is null or missing for {queue} at {start}"
                    ))
                })?;
                if (v - v.round()).abs() > 1e-6 {
                    return Err(ConnectorError::malformed(format!("GetMetricDataV2: {name} = {v} is not a count")));
                }
                Ok(v.round() as u64)
            };
            let handled = count(HANDLED)?;
            // Times are "cannot be computed" (null) when nothing was handled; with handled contacts they must exist.
            let handle_time_ms = match get(HANDLE_TIME) {
                Some(v) => (v * 1000.0).round() as u64,
                None if handled == 0 => 0,
                None => {
                    return Err(ConnectorError::malformed(format!(
                        "GetMetricDataV2: {HANDLE_TIME} is null for {queue} at {start} although {handled} contacts \
                         were handled"
                    )));
                }
            };
            // The average queue answer time is null when no contact was answered from the queue (outbound contacts
            // are handled, never answered from it); with answered contacts it must exist, and with an average the
            // count must too.
            let answered = match row.values[ANSWERED_SLOT] {
                Some(v) if (v - v.round()).abs() > 1e-6 => {
                    return Err(ConnectorError::malformed(format!(
                        "GetMetricDataV2: {ANSWERED} = {v} (contacts answered) is not a count"
                    )));
                }
                v => v.map(|v| v.round() as u64),
            };
            let answer_time_ms = match (get(AVG_ANSWER_TIME), answered) {
                (Some(avg), Some(answered)) => (avg * answered as f64 * 1000.0).round() as u64,
                (None, None | Some(0)) => 0,
                (None, Some(answered)) => {
                    return Err(ConnectorError::malformed(format!(
                        "GetMetricDataV2: {AVG_ANSWER_TIME} is null for {queue} at {start} although {answered} \
                         contacts were answered from the queue"
                    )));
                }
                (Some(_), None) => {
                    return Err(ConnectorError::malformed(format!(
                        "GetMetricDataV2: {AVG_ANSWER_TIME} without the count of contacts answered for {queue} at \
                         {start}"
                    )));
                }
            };
            out.push(IntervalStats {
                offered: count(OFFERED)?,
                handled,
                abandoned: count(ABANDONED)?,
                handle_time_ms,
                answer_time_ms,
                answered_within_sl: row.values[SERVICE_LEVEL_SLOT].map(|v| v.round() as u64),
                queue_external_id: queue,
                interval_start: start,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_connect::types::{MetricDataV2, MetricInterval, MetricV2, ThresholdV2};
    use chrono::TimeZone;

    fn t(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 30, h, m, 0).unwrap()
    }
    fn row(queue: &str, channel: &str, start: DateTime<Utc>, values: &[(&str, Option<f64>)]) -> MetricResultV2 {
        let mut b =
            MetricResultV2::builder().dimensions("QUEUE", queue).dimensions("CHANNEL", channel).metric_interval(
                MetricInterval::builder().start_time(aws_smithy_types::DateTime::from_secs(start.timestamp())).build(),
            );
        for (name, value) in values {
            // [`ANSWERED_ALL`] stands for the count of every answered contact (its threshold's comparison `LT`).
            let metric = if *name == ANSWERED_ALL {
                let threshold = ThresholdV2::builder().comparison("LT").threshold_value(ANSWERED_ALL_SECONDS).build();
                MetricV2::builder().name(ANSWERED).threshold(threshold).build()
            } else {
                MetricV2::builder().name(*name).build()
            };
            b = b.collections(MetricDataV2::builder().metric(metric).set_value(*value).build());
        }
        b.build()
    }
    const ANSWERED_ALL: &str = "(answered from the queue)";
    fn wanted() -> std::collections::HashSet<String> {
        ["q1:calls".to_owned(), "q1:chats".to_owned()].into()
    }
    fn window() -> TimeWindow {
        TimeWindow::new(t(0, 0), t(23, 0)).unwrap()
    }

    #[test]
    fn rows_become_stats_with_the_documented_units() {
        let mut rows = MetricRows::default();
        let values = [
            (OFFERED, Some(10.0)),
            (HANDLED, Some(8.0)),
            (ABANDONED, Some(2.0)),
            (HANDLE_TIME, Some(1600.0)),
            (AVG_ANSWER_TIME, Some(12.5)),
            (ANSWERED_IN_X, Some(6.0)),
            (ANSWERED_ALL, Some(7.0)),
        ];
        rows.add(
            &[row("arn:aws:connect:us-east-1:1:instance/i/queue/q1", "VOICE", t(9, 15), &values)],
            &wanted(),
            window(),
        )
        .unwrap();
        // A channel not asked for: ignored.
        rows.add(&[row("q1", "VIDEO", t(9, 15), &values), row("q1", "EMAIL", t(9, 15), &values)], &wanted(), window())
            .unwrap();
        // A queue not asked for (no channel of it wanted; say the QUEUE dimension came in another form): malformed,
        // not dropped, which would read the asked queues as zero.
        for queue in ["q9", "Billing", "arn:aws:connect:us-east-1:1:instance/i/queue/q9"] {
            let mut other = MetricRows::default();
            let answer = other.add(&[row(queue, "VOICE", t(9, 15), &values)], &wanted(), window());
            assert!(matches!(answer, Err(ConnectorError::Malformed { .. })), "{queue}: {answer:?}");
        }
        let stats = rows.into_stats().unwrap();
        assert_eq!(stats.len(), 1);
        let s = &stats[0];
        assert_eq!((s.queue_external_id.as_str(), s.interval_start), ("q1:calls", t(9, 15)));
        assert_eq!((s.offered, s.handled, s.abandoned), (10, 8, 2));
        // The average answer time × the 7 contacts answered from the queue (8 handled: one was outbound).
        assert_eq!((s.handle_time_ms, s.answer_time_ms, s.answered_within_sl), (1_600_000, 87_500, Some(6)));
    }

    #[test]
    fn outbound_contacts_are_handled_never_answered_from_the_queue() {
        // A quarter hour of outbound calls only: handled, with handle time, and no average queue answer time (no
        // contact answered from the queue): no answer time, not a malformed row.
        let outbound_only = [
            (OFFERED, Some(0.0)),
            (HANDLED, Some(2.0)),
            (ABANDONED, Some(0.0)),
            (HANDLE_TIME, Some(300.0)),
            (AVG_ANSWER_TIME, None),
            (ANSWERED_IN_X, Some(0.0)),
            (ANSWERED_ALL, Some(0.0)),
        ];
        let mut rows = MetricRows::default();
        rows.add(&[row("q1", "VOICE", t(9, 0), &outbound_only)], &wanted(), window()).unwrap();
        let s = rows.into_stats().unwrap();
        assert_eq!((s[0].offered, s[0].handled, s[0].handle_time_ms, s[0].answer_time_ms), (0, 2, 300_000, 0));

        // An average without the count it averages over, answered contacts without an average, a count that is
        // not whole: malformed.
        for (avg, answered) in [(Some(10.0), None), (None, Some(1.0)), (Some(10.0), Some(1.5))] {
            let values = [
                (OFFERED, Some(1.0)),
                (HANDLED, Some(1.0)),
                (ABANDONED, Some(0.0)),
                (HANDLE_TIME, Some(60.0)),
                (AVG_ANSWER_TIME, avg),
                (ANSWERED_ALL, answered),
            ];
            let mut rows = MetricRows::default();
            rows.add(&[row("q1", "VOICE", t(9, 0), &values)], &wanted(), window()).unwrap();
            let answer = rows.into_stats();
            assert!(matches!(answer, Err(ConnectorError::Malformed { .. })), "{avg:?} {answered:?}: {answer:?}");
        }
    }

    #[test]
    fn null_means_cannot_be_computed_not_zero() {
        // Null times with nothing handled are zero; a null handle time with handled contacts is malformed.
        let ok = [
            (OFFERED, Some(3.0)),
            (HANDLED, Some(0.0)),
            (ABANDONED, Some(3.0)),
            (HANDLE_TIME, None),
            (AVG_ANSWER_TIME, None),
        ];
        let mut rows = MetricRows::default();
        rows.add(&[row("q1", "CHAT", t(9, 0), &ok)], &wanted(), window()).unwrap();
        let s = rows.into_stats().unwrap();
        assert_eq!((s[0].handle_time_ms, s[0].answer_time_ms, s[0].answered_within_sl), (0, 0, None));

        let bad = [
            (OFFERED, Some(3.0)),
            (HANDLED, Some(2.0)),
            (ABANDONED, Some(1.0)),
            (HANDLE_TIME, None),
            (AVG_ANSWER_TIME, Some(5.0)),
            (ANSWERED_ALL, Some(2.0)),
        ];
        let mut rows = MetricRows::default();
        rows.add(&[row("q1", "CHAT", t(9, 0), &bad)], &wanted(), window()).unwrap();
        assert!(matches!(rows.into_stats(), Err(ConnectorError::Malformed { .. })));

        let null_count = [(OFFERED, None), (HANDLED, Some(0.0)), (ABANDONED, Some(0.0))];
        let mut rows = MetricRows::default();
        rows.add(&[row("q1", "CHAT", t(9, 0), &null_count)], &wanted(), window()).unwrap();
        assert!(matches!(rows.into_stats(), Err(ConnectorError::Malformed { .. })));
        // No rows at all is no data: zero stats, not an error.
        assert!(MetricRows::default().into_stats().unwrap().is_empty());
    }

    #[test]
    fn rows_of_two_sequences_merge_and_a_row_read_twice_must_agree() {
        let v = |offered: f64| [(OFFERED, Some(offered)), (HANDLED, Some(0.0)), (ABANDONED, Some(0.0))];
        let part = |queue: &str, offered: f64| {
            let mut rows = MetricRows::default();
            rows.add(&[row(queue, "VOICE", t(9, 0), &v(offered))], &wanted_of(&["q1:calls", "q2:calls"]), window())
                .unwrap();
            rows
        };
        let mut rows = MetricRows::default();
        rows.merge(part("q1", 3.0)).unwrap();
        rows.merge(part("q2", 5.0)).unwrap();
        // The same row again with the same values: one row, as if read once.
        rows.merge(part("q2", 5.0)).unwrap();
        let stats = rows.into_stats().unwrap();
        let offered: Vec<_> = stats.iter().map(|s| (s.queue_external_id.as_str(), s.offered)).collect();
        assert_eq!(offered, [("q1:calls", 3), ("q2:calls", 5)]);

        let mut rows = MetricRows::default();
        rows.merge(part("q1", 3.0)).unwrap();
        assert!(matches!(rows.merge(part("q1", 4.0)), Err(ConnectorError::Malformed { .. })));

        // A metric given as a value and as a null, in either order, in one sequence or two: malformed, never the
        // value replaced by the null (the handle time would read as none).
        let with = |time: Option<f64>| {
            [(OFFERED, Some(1.0)), (HANDLED, Some(1.0)), (ABANDONED, Some(0.0)), (HANDLE_TIME, time)]
        };
        for (first, then) in [(Some(60.0), None), (None, Some(60.0))] {
            let mut rows = MetricRows::default();
            let one = [row("q1", "VOICE", t(9, 0), &with(first)), row("q1", "VOICE", t(9, 0), &with(then))];
            let answer = rows.add(&one, &wanted(), window());
            assert!(matches!(answer, Err(ConnectorError::Malformed { .. })), "{first:?} {then:?}: {answer:?}");
            let part = |time| {
                let mut rows = MetricRows::default();
                rows.add(&[row("q1", "VOICE", t(9, 0), &with(time))], &wanted(), window()).unwrap();
                rows
            };
            let mut rows = part(first);
            let answer = rows.merge(part(then));
            assert!(matches!(answer, Err(ConnectorError::Malformed { .. })), "{first:?} {then:?}: {answer:?}");
        }
    }

    fn wanted_of(ids: &[&str]) -> std::collections::HashSet<String> {
        ids.iter().map(|id| (*id).to_owned()).collect()
    }

    #[test]
    fn off_grid_or_out_of_window_intervals_are_malformed() {
        let v = [(OFFERED, Some(1.0)), (HANDLED, Some(1.0)), (ABANDONED, Some(0.0))];
        let mut rows = MetricRows::default();
        let off = t(9, 0) + chrono::Duration::minutes(7);
        assert!(rows.add(&[row("q1", "VOICE", off, &v)], &wanted(), window()).is_err());
        assert!(rows.add(&[row("q1", "VOICE", t(23, 15), &v)], &wanted(), window()).is_err());
    }
}
