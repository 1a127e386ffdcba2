//! Interval statistics from `POST /api/v2/analytics/conversations/aggregates/query`.
//!
//! Mapping (per Genesys queue, media type and 15-minute UTC bucket, summed over the media types of one channel):
//! - `offered` = `nOffered.count`
//! - `handled` = `tHandle.count`, `handle_time_ms` = `tHandle.sum` (counted when handling ends, as Genesys does)
//! - `abandoned` = `tAbandon.count`
//! - `answer_time_ms` = `tAnswered.sum`
//! - `answered_within_sl` = `oServiceLevel.numerator` (contacts answered within the queue's service-level target);
//!   `None` when no contributing bucket carries `oServiceLevel`. `nOverSla` is not used: it counts contacts *over*
//!   the target, and whether it includes abandons is not documented.
//!
//! A metric without data is omitted by Genesys and reads as zero; a bucket without data is omitted and the import
//! reads the absent interval as zero within a window that succeeded. An answer without `results` is Genesys's `{}`
//! (no data) only when it has no other key; otherwise it is malformed. What is there must be whole: a result group
//! without `queueId` or `mediaType`, a bucket without `interval`, a metric without its name or without the stat that
//! defines it (`count`, `sum`, `numerator` above) makes the answer malformed.

use std::collections::{HashMap, HashSet};

use acd_domain::{Channel, IntervalStats, TimeWindow};
use chrono::{DateTime, SecondsFormat, Utc};

use super::client::json_error;
use super::wire::{AggregateQuery, AggregateResponse, Filter, Predicate};
use crate::ConnectorError;

/// The metrics the import needs (smaller answers than asking for everything).
pub const AGGREGATE_METRICS: &[&str] = &["nOffered", "tAnswered", "tAbandon", "tHandle", "oServiceLevel"];

/// The analytics media types with a WFM channel (voice and callback are calls; chat and message are chats), each
/// with a bit of its own ([`Acc::media`]: the media types a channel's quarter hour folded in).
const MEDIA_TYPES: [(&str, Channel, u8); 5] = [
    ("voice", Channel::Calls, 1),
    ("callback", Channel::Calls, 2),
    ("chat", Channel::Chats, 4),
    ("message", Channel::Chats, 8),
    ("email", Channel::Emails, 16),
];

/// The channel and the bit of an analytics `mediaType` ([`MEDIA_TYPES`], case-insensitive).
fn media_of(media_type: &str) -> Option<(Channel, u8)> {
    let m = media_type.trim();
    MEDIA_TYPES.iter().find(|(name, _, _)| m.eq_ignore_ascii_case(name)).map(|&(_, channel, bit)| (channel, bit))
}

/// The channel of an analytics `mediaType` (voice and callback are calls; chat and message are chats).
/// Other media types (e.g. workitems, unknown future ones) have no WFM channel here and are skipped.
pub fn channel_of_media_type(media_type: &str) -> Option<Channel> {
    media_of(media_type).map(|(channel, _)| channel)
}

/// The channel of a queue `mediaSettings` key (`call`, `callback`, `chat`, `message`, `email`).
pub fn channel_of_media_setting(key: &str) -> Option<Channel> {
    match key.trim().to_ascii_lowercase().as_str() {
        "call" | "voice" | "callback" => Some(Channel::Calls),
        "chat" | "message" => Some(Channel::Chats),
        "email" => Some(Channel::Emails),
        _ => None,
    }
}

/// The `{queueId}:{channel}` external id of a WFM queue.
pub fn external_queue_id(queue_id: &str, channel: Channel) -> String {
    format!("{queue_id}:{}", channel.as_str())
}

/// Splits an external id back into the Genesys queue id and the channel.
pub fn split_external_queue_id(external_id: &str) -> Option<(&str, Channel)> {
    let (id, channel) = external_id.rsplit_once(':')?;
    if id.is_empty() {
        return None;
    }
    Some((id, Channel::parse(channel)?))
}

/// `start/end` in the ISO-8601 form Genesys takes.
pub fn interval_string(window: TimeWindow) -> String {
    format!(
        "{}/{}",
        window.start.to_rfc3339_opts(SecondsFormat::Millis, true),
        window.end.to_rfc3339_opts(SecondsFormat::Millis, true)
    )
}

/// The query of one chunk (≤ 7 days, ≤ 100 queues).
pub fn aggregate_query<'a>(window: TimeWindow, queue_ids: &[&'a str]) -> AggregateQuery<'a> {
    AggregateQuery {
        interval: interval_string(window),
        granularity: "PT15M",
        time_zone: "UTC",
        group_by: ["queueId", "mediaType"],
        filter: Filter {
            kind: "or",
            predicates: queue_ids.iter().map(|id| Predicate::matches("queueId", id)).collect(),
        },
        metrics: AGGREGATE_METRICS,
        flatten_multivalued_dimensions: true,
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Acc {
    offered: u64,
    handled: u64,
    abandoned: u64,
    handle_ms: u64,
    answer_ms: u64,
    within_sl: Option<u64>,
    /// The media types folded in so far (their bits, [`MEDIA_TYPES`]): one that comes twice would be counted twice.
    media: u8,
}

/// Folds aggregate answers into [`IntervalStats`]: voice + callback into calls, chat + message into chats, buckets
/// outside the window and groups of queues/channels not asked for dropped.
pub struct AggregateAccumulator {
    window: TimeWindow,
    wanted: Option<HashSet<(String, Channel)>>,
    buckets: HashMap<(String, Channel), HashMap<i64, Acc>>,
    intervals: HashMap<String, i64>,
    skipped_groups: u64,
}

impl AggregateAccumulator {
    /// `wanted`: the external ids to keep (`None` keeps every queue and channel found).
    pub fn new(window: TimeWindow, wanted: Option<&[String]>) -> Self {
        let wanted = wanted.map(|ids| {
            ids.iter()
                .filter_map(|id| split_external_queue_id(id).map(|(q, c)| (q.to_owned(), c)))
                .collect::<HashSet<_>>()
        });
        Self { window, wanted, buckets: HashMap::new(), intervals: HashMap::new(), skipped_groups: 0 }
    }

    /// Adds one answer of the aggregates query.
    pub fn add_response(&mut self, body: &[u8]) -> Result<(), ConnectorError> {
        const WHAT: &str = "conversation aggregates";
        let response: AggregateResponse<'_> = serde_json::from_slice(body).map_err(|e| json_error(&e, WHAT))?;
        // `{}` is Genesys's answer without data (no contacts). Any other object without `results` (`{"jobId":..}`,
        // `{"status":"ok"}`) is no aggregates answer: read as one, it would be a day without contacts, complete.
        let results = match response.results {
            Some(results) => results,
            None if response.other_keys == 0 => Vec::new(),
            None => {
                return Err(ConnectorError::malformed(format!(
                    "{WHAT}: the answer has no results but {} other field(s)",
                    response.other_keys
                )));
            }
        };
        for result in results {
            // The query groups by queue and media type: a group without either cannot be placed (malformed).
            let (Some(queue_id), Some(media_type)) =
                (result.group.queue_id.as_deref(), result.group.media_type.as_deref())
            else {
                return Err(ConnectorError::malformed(format!("{WHAT}: a result group has no queueId or mediaType")));
            };
            let Some((channel, media)) = media_of(media_type) else {
                self.skipped_groups += 1;
                continue;
            };
            if let Some(wanted) = &self.wanted
                && !wanted.contains(&(queue_id.to_owned(), channel))
            {
                self.skipped_groups += 1;
                continue;
            }
            let start_ts = self.window.start.timestamp();
            let end_ts = self.window.end.timestamp();
            let group = self.buckets.entry((queue_id.to_owned(), channel)).or_default();
            for data in result.data {
                let Some(interval) = data.interval.as_deref() else {
                    return Err(ConnectorError::malformed(format!("{WHAT}: a bucket has no interval")));
                };
                let start = bucket_start(&mut self.intervals, interval)?;
                // Without `metrics` the bucket cannot be read; `[]` holds none of the metrics asked for (zeros,
                // as an absent bucket).
                let Some(metrics) = data.metrics else {
                    return Err(ConnectorError::malformed(format!("{WHAT}: the bucket {interval} has no metrics")));
                };
                if start < start_ts || start >= end_ts {
                    continue;
                }
                let acc = group.entry(start).or_default();
                if acc.media & media != 0 {
                    return Err(ConnectorError::malformed(format!(
                        "{WHAT}: the bucket {interval} of queue {queue_id} ({media_type}) came twice"
                    )));
                }
                acc.media |= media;
                for m in metrics {
                    let Some(name) = m.metric.as_deref() else {
                        return Err(ConnectorError::malformed(format!("{WHAT}: a metric has no name")));
                    };
                    // A metric Genesys lists carries the stats that define it: a missing one is malformed, not 0.
                    let s = m.stats.as_ref();
                    let field = |v: fn(&super::wire::Stats) -> Option<f64>, part: &str| {
                        count(s.and_then(v), name).and_then(|c| {
                            c.ok_or_else(|| ConnectorError::malformed(format!("{WHAT}: {name} has no {part}")))
                        })
                    };
                    match name {
                        "nOffered" => acc.offered += field(|s| s.count, "count")?,
                        "tHandle" => {
                            acc.handled += field(|s| s.count, "count")?;
                            acc.handle_ms += field(|s| s.sum, "sum")?;
                        }
                        "tAbandon" => acc.abandoned += field(|s| s.count, "count")?,
                        "tAnswered" => acc.answer_ms += field(|s| s.sum, "sum")?,
                        "oServiceLevel" => {
                            acc.within_sl = Some(acc.within_sl.unwrap_or(0) + field(|s| s.numerator, "numerator")?);
                        }
                        _ => {}
                    }
                }
            }
        }
        Ok(())
    }
}

/// The start (Unix seconds) of a bucket's `start/end` interval, which must be one UTC quarter hour (a longer or
/// shorter bucket would book its numbers into the quarter hour it starts in).
fn bucket_start(cache: &mut HashMap<String, i64>, interval: &str) -> Result<i64, ConnectorError> {
    {
        if let Some(ts) = cache.get(interval) {
            return Ok(*ts);
        }
        let instant = |part: Option<&str>| {
            DateTime::parse_from_rfc3339(part.unwrap_or_default().trim())
                .map_err(|_| ConnectorError::malformed("conversation aggregates: a bucket interval is not ISO-8601"))
        };
        let mut parts = interval.split('/');
        let parsed = instant(parts.next())?.with_timezone(&Utc);
        if parsed.timestamp().rem_euclid(900) != 0 || parsed.timestamp_subsec_nanos() != 0 {
            return Err(ConnectorError::malformed(
                "conversation aggregates: a bucket does not start on a quarter hour",
            ));
        }
        if instant(parts.next())? != parsed + chrono::Duration::minutes(15) || parts.next().is_some() {
            return Err(ConnectorError::malformed(format!(
                "conversation aggregates: the bucket {interval} is not one quarter hour"
            )));
        }
        let ts = parsed.timestamp();
        if cache.len() < 100_000 {
            cache.insert(interval.to_owned(), ts);
        }
        Ok(ts)
    }
}

impl AggregateAccumulator {
    /// Groups skipped so far (no queue id, a media type without channel, or not asked for).
    pub fn skipped_groups(&self) -> u64 {
        self.skipped_groups
    }

    /// The statistics, sorted by queue external id and interval.
    pub fn finish(self) -> Vec<IntervalStats> {
        let mut out = Vec::with_capacity(self.buckets.values().map(HashMap::len).sum());
        for ((queue_id, channel), buckets) in self.buckets {
            let external_id = external_queue_id(&queue_id, channel);
            for (ts, a) in buckets {
                let Some(interval_start) = DateTime::<Utc>::from_timestamp(ts, 0) else { continue };
                out.push(IntervalStats {
                    queue_external_id: external_id.clone(),
                    interval_start,
                    offered: a.offered,
                    handled: a.handled,
                    abandoned: a.abandoned,
                    handle_time_ms: a.handle_ms,
                    answer_time_ms: a.answer_ms,
                    answered_within_sl: a.within_sl,
                });
            }
        }
        out.sort_by(|a, b| (&a.queue_external_id, a.interval_start).cmp(&(&b.queue_external_id, b.interval_start)));
        out
    }
}

/// A count or a sum: a non-negative JSON number (integral values written as floats are accepted and rounded).
fn count(value: Option<f64>, metric: &str) -> Result<Option<u64>, ConnectorError> {
    match value {
        None => Ok(None),
        Some(v) if (0.0..1.8e19).contains(&v) => Ok(Some(v.round() as u64)),
        Some(_) => {
            Err(ConnectorError::malformed(format!("conversation aggregates: {metric} is not a non-negative number")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn window() -> TimeWindow {
        TimeWindow::new(
            Utc.with_ymd_and_hms(2024, 5, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(2024, 5, 2, 0, 0, 0).unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn media_types_map_onto_channels() {
        assert_eq!(channel_of_media_type("voice"), Some(Channel::Calls));
        assert_eq!(channel_of_media_type("callback"), Some(Channel::Calls));
        assert_eq!(channel_of_media_type("Chat"), Some(Channel::Chats));
        assert_eq!(channel_of_media_type("message"), Some(Channel::Chats));
        assert_eq!(channel_of_media_type("email"), Some(Channel::Emails));
        assert_eq!(channel_of_media_type("workitem"), None);
        assert_eq!(channel_of_media_setting("call"), Some(Channel::Calls));
        assert_eq!(split_external_queue_id("abc:calls"), Some(("abc", Channel::Calls)));
        assert_eq!(split_external_queue_id("abc:nope"), None);
        assert_eq!(split_external_queue_id(":calls"), None);
    }

    #[test]
    fn queries_are_chunk_shaped() {
        let q = aggregate_query(window(), &["a", "b"]);
        let v = serde_json::to_value(&q).unwrap();
        assert_eq!(v["interval"], "2024-05-01T00:00:00.000Z/2024-05-02T00:00:00.000Z");
        assert_eq!(v["granularity"], "PT15M");
        assert_eq!(v["timeZone"], "UTC");
        assert_eq!(v["groupBy"], serde_json::json!(["queueId", "mediaType"]));
        assert_eq!(v["filter"]["type"], "or");
        assert_eq!(v["filter"]["predicates"][1]["value"], "b");
        assert_eq!(v["filter"]["predicates"][1]["dimension"], "queueId");
        assert_eq!(v["flattenMultivaluedDimensions"], true);
    }

    #[test]
    fn voice_and_callback_sum_into_calls_and_absent_metrics_are_zero() {
        let body = br#"{"results":[
          {"group":{"queueId":"q1","mediaType":"voice"},"data":[
            {"interval":"2024-05-01T08:00:00.000Z/2024-05-01T08:15:00.000Z","metrics":[
              {"metric":"nOffered","stats":{"count":10}},
              {"metric":"tAnswered","stats":{"max":30000,"min":1000,"count":8,"sum":80000}},
              {"metric":"tAbandon","stats":{"max":9000,"min":2000,"count":2,"sum":11000}},
              {"metric":"tHandle","stats":{"max":400000,"min":60000,"count":7,"sum":1400000.0}},
              {"metric":"oServiceLevel","stats":{"ratio":0.7,"numerator":7,"denominator":10,"target":0.8}}]}]},
          {"group":{"queueId":"q1","mediaType":"callback"},"data":[
            {"interval":"2024-05-01T08:00:00.000Z/2024-05-01T08:15:00.000Z","metrics":[{"metric":"nOffered","stats":{"count":2}}]},
            {"interval":"2024-05-02T08:00:00.000Z/2024-05-02T08:15:00.000Z","metrics":[{"metric":"nOffered","stats":{"count":5}}]}]},
          {"group":{"queueId":"q1","mediaType":"workitem"},"data":[]},
          {"group":{"queueId":"q2","mediaType":"email"},"data":[
            {"interval":"2024-05-01T23:45:00.000Z/2024-05-02T00:00:00.000Z","metrics":[{"metric":"tHandle","stats":{"count":1,"sum":5}}]}]}
        ]}"#;
        let mut acc = AggregateAccumulator::new(window(), None);
        acc.add_response(body).unwrap();
        assert_eq!(acc.skipped_groups(), 1);
        let stats = acc.finish();
        assert_eq!(stats.len(), 2, "{stats:?}");
        let calls = &stats[0];
        assert_eq!(calls.queue_external_id, "q1:calls");
        assert_eq!(calls.interval_start, Utc.with_ymd_and_hms(2024, 5, 1, 8, 0, 0).unwrap());
        assert_eq!((calls.offered, calls.handled, calls.abandoned), (12, 7, 2));
        assert_eq!(
            (calls.handle_time_ms, calls.answer_time_ms, calls.answered_within_sl),
            (1_400_000, 80_000, Some(7))
        );
        let email = &stats[1];
        assert_eq!(email.queue_external_id, "q2:emails");
        assert_eq!((email.offered, email.handled, email.handle_time_ms, email.answered_within_sl), (0, 1, 5, None));
    }

    #[test]
    fn unwanted_queues_are_dropped_and_empty_answers_are_fine() {
        let mut acc = AggregateAccumulator::new(window(), Some(&["q2:emails".to_owned()]));
        acc.add_response(b"{}").unwrap();
        acc.add_response(br#"{"results":[{"group":{"queueId":"q1","mediaType":"voice"},"data":[{"interval":"2024-05-01T08:00:00.000Z/2024-05-01T08:15:00.000Z","metrics":[{"metric":"nOffered","stats":{"count":1}}]}]}]}"#).unwrap();
        assert!(acc.finish().is_empty());
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        for body in [
            &b"<html>"[..],
            br#"{"results":[{"group":{"queueId":"q","mediaType":"voice"},"data":[{"interval":"yesterday","metrics":[]}]}]}"#,
            br#"{"results":[{"group":{"queueId":"q","mediaType":"voice"},"data":[{"interval":"2024-05-01T08:01:00Z/x","metrics":[]}]}]}"#,
            br#"{"results":[{"group":{"queueId":"q","mediaType":"voice"},"data":[{"interval":"2024-05-01T08:00:00Z/2024-05-01T08:15:00Z","metrics":[{"metric":"nOffered","stats":{"count":-1}}]}]}]}"#,
            br#"{"results":[{"group":{"queueId":"q","mediaType":"voice"},"data":[{"interval":"2024-05-01T08:00:00.000Z/2024"#,
        ] {
            let mut acc = AggregateAccumulator::new(window(), None);
            assert!(matches!(acc.add_response(body), Err(ConnectorError::Malformed { .. })));
        }
    }

    #[test]
    fn a_bucket_that_is_not_one_quarter_hour_has_no_metrics_or_comes_twice_is_malformed() {
        let bucket = |interval: &str, metrics: &str| {
            format!(
                r#"{{"group":{{"queueId":"q1","mediaType":"voice"}},"data":[{{"interval":"{interval}"{metrics}}}]}}"#
            )
        };
        let quarter = "2024-05-01T08:00:00.000Z/2024-05-01T08:15:00.000Z";
        let offered = r#","metrics":[{"metric":"nOffered","stats":{"count":3}}]"#;
        for (results, what) in [
            (bucket("2024-05-01T08:00:00.000Z/2024-05-01T09:00:00.000Z", offered), "is not one quarter hour"),
            (bucket("2024-05-01T08:00:00.000Z/2024-05-01T08:07:00.000Z", offered), "is not one quarter hour"),
            (bucket(quarter, ""), "has no metrics"),
            (format!("{},{}", bucket(quarter, offered), bucket(quarter, offered)), "came twice"),
        ] {
            let body = format!(r#"{{"results":[{results}]}}"#);
            let err = AggregateAccumulator::new(window(), None).add_response(body.as_bytes()).unwrap_err();
            assert!(matches!(&err, ConnectorError::Malformed { context } if context.contains(what)), "{body}: {err:?}");
        }
        // An empty list of metrics is a bucket of zeros, as an absent one.
        let body = format!(r#"{{"results":[{}]}}"#, bucket(quarter, r#","metrics":[]"#));
        let mut acc = AggregateAccumulator::new(window(), None);
        acc.add_response(body.as_bytes()).unwrap();
        assert!(acc.finish().iter().all(|s| s.offered == 0 && s.handled == 0));
        // Voice and callback of one queue and quarter hour are both calls: added, not "twice".
        let callback = bucket(quarter, offered).replace("voice", "callback");
        let body = format!(r#"{{"results":[{},{callback}]}}"#, bucket(quarter, offered));
        let mut acc = AggregateAccumulator::new(window(), None);
        acc.add_response(body.as_bytes()).unwrap();
        assert_eq!(acc.finish()[0].offered, 6);
    }
}
