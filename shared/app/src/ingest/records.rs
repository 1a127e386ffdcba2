//! The records a sender pushes, parsed and checked one by one. Every problem is reported with the record's index
//! and a reason; the service applies a call only when every record is valid (all or nothing).

use std::collections::HashMap;

use acd_domain::{Channel, IntervalStats, Queue, Settings};
use chrono::{
    DateTime, Duration, DurationRound as _, FixedOffset, LocalResult, NaiveDateTime, TimeZone as _, Timelike as _, Utc,
};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// At most this many records in one call (queues, intervals or events).
pub const MAX_RECORDS: usize = 1000;
/// Largest request body, in bytes.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// An agent event may arrive up to this late (its `at` this far in the past) and is still placed in its day.
pub const MAX_EVENT_LATENESS_DAYS: i64 = 7;
/// Clock skew tolerated for instants "in the future": an event's `at` at most this far ahead; an interval's `start`
/// and `complete_through` at most the quarter hour that now plus this lies in.
pub const MAX_CLOCK_SKEW_MINUTES: i64 = 5;
/// Intervals older than this are refused (older data would be outside every history setting).
pub const MAX_INTERVAL_AGE_DAYS: i64 = 366;
/// The most contacts one queue's quarter hour may count (offered, handled, abandoned, answered within the service
/// level): far above any contact center, far below what a JSON client reads exactly (2^53); more is a sender's
/// mistake, not data.
pub const MAX_INTERVAL_COUNT: u64 = 10_000_000;
/// Key limits (DynamoDB sort/partition keys and the queue listing index): see the README's push section.
pub const MAX_QUEUE_EXTERNAL_ID_BYTES: usize = 512;
pub const MAX_QUEUE_NAME_CHARS: usize = 200;
pub const MAX_QUEUE_NAME_BYTES: usize = 300;
pub const MAX_AGENT_ID_BYTES: usize = 512;
/// External statuses (`status` and `reason` pairs) a push integration may have: far more than the reason codes of any
/// contact center, few enough for every `GET /agent-states` page to read them all.
pub const MAX_STATUSES: usize = 2_000;
pub const MAX_STATUS_ID_BYTES: usize = 500;
pub const MAX_EVENT_ID_BYTES: usize = 255;
pub const MAX_NAME_CHARS: usize = 200;

/// One invalid record: its index in the call's array and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordError {
    pub index: usize,
    pub reason: String,
}

/// Why a whole call was refused before its records were looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchError {
    /// Not an object with the expected array member, or with a member the route does not know (400).
    Shape(String),
    /// More than [`MAX_RECORDS`] records (422).
    TooMany(usize),
    /// Some records are invalid (422); nothing is applied.
    Records(Vec<RecordError>),
    /// A value of the call outside its records is well-formed but not acceptable (422): `complete_through` that is
    /// not a date-time, not a quarter hour, in the future, or a local time that does not exist or is ambiguous.
    Value(String),
}

/// A queue record: upsert (`active` true, the default) or explicit deactivation (`active: false`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueRecord {
    pub queue: Queue,
    pub active: bool,
}

/// An agent state change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentEvent {
    pub event_id: String,
    pub agent: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_name: Option<String>,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
}

/// [`AgentEvent::key`]: agent, `event_id`, `at`.
pub type EventKey = (String, String, DateTime<Utc>);

impl AgentEvent {
    /// Whether `other` is this event sent again: the same key ([`AgentEvent::key`]: agent, `event_id`, `at`) and
    /// the same content (`status`, `reason`). `agent_name` is the agent's display name, not part of the event: a
    /// resend with a newer name is still the same event.
    pub fn same_event(&self, other: &AgentEvent) -> bool {
        self.key() == other.key() && self.status == other.status && self.reason == other.reason
    }

    /// What names one event: its agent, `event_id` and instant. The same id at another instant is another event
    /// (a sender whose ids restart, at its own midnight in any zone, reuses them on later events).
    pub fn key(&self) -> EventKey {
        (self.agent.clone(), self.event_id.clone(), self.at)
    }

    /// The event's content as a refusal names it: `` `Not Ready: Lunch` at 2026-11-30T12:00:00Z ``.
    fn content(&self) -> String {
        format!("`{}` at {}", self.status_id(), self.at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
    }

    /// The external status id of the event: a reason code is a status of its own (`{status}: {reason}`), like
    /// Five9's `Not Ready: Lunch`, so it can be mapped to its own activity.
    pub fn status_id(&self) -> String {
        match &self.reason {
            Some(reason) => format!("{}: {reason}", self.status),
            None => self.status.clone(),
        }
    }
}

/// The intervals of one call and the completeness it declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntervalBatch {
    /// With the record's index and the channel it named (checked against the queue's by the service).
    pub intervals: Vec<(usize, IntervalStats, Channel)>,
    pub complete_through: Option<DateTime<Utc>>,
}

/// What of a push integration's settings shapes the reading of its records: the zone of local times without an
/// offset, and the channels it may push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sender {
    pub time_zone: chrono_tz::Tz,
    pub channels: Vec<Channel>,
}

impl Default for Sender {
    /// UTC and every channel (a push integration created without those settings).
    fn default() -> Self {
        Self { time_zone: chrono_tz::UTC, channels: Channel::ALL.to_vec() }
    }
}

impl Sender {
    pub fn of(settings: &Settings) -> Self {
        use acd_connectors::push::vendor as push;
        Self { time_zone: push::time_zone(settings), channels: push::channels(settings) }
    }

    /// A pushed channel name, refused unless it is a known channel this integration pushes.
    fn channel(&self, raw: &str) -> Result<Channel, String> {
        let channel = Channel::parse(raw).ok_or_else(|| {
            let all: Vec<&str> = Channel::ALL.iter().map(|c| c.as_str()).collect();
            format!("channel must be one of {}", all.join(", "))
        })?;
        if !self.channels.contains(&channel) {
            let own: Vec<&str> = self.channels.iter().map(|c| c.as_str()).collect();
            return Err(format!(
                "channel {raw} is not one of this integration's channels ({}): add it to the settings' channels first",
                own.join(", ")
            ));
        }
        Ok(channel)
    }

    /// A pushed time: RFC 3339 with an offset (or `Z`) is taken as is; a local date-time without an offset
    /// (`2026-03-29T01:45:00`) is placed in the integration's time zone. A local time the zone skips (the hour a
    /// daylight-saving change jumps over) does not exist and is refused; one it repeats is ambiguous and needs an
    /// offset.
    ///
    /// Seconds run from 00 to 59: chrono reads `:60` as a leap second, a time no key or day of the store can hold
    /// (`23:59:60Z` truncated to its day is not a midnight: its day's rebuild deleted the next day's segments).
    pub fn instant(&self, field: &str, raw: &Value) -> Result<DateTime<Utc>, String> {
        let text = raw.as_str().ok_or_else(|| format!("{field} must be a date-time string"))?;
        let leap = || format!("{field} {text}: seconds must be 00 to 59");
        if let Ok(t) = text.parse::<DateTime<FixedOffset>>() {
            if t.nanosecond() >= 1_000_000_000 {
                return Err(leap());
            }
            return Ok(t.with_timezone(&Utc));
        }
        let local = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").map_err(|_| {
            format!("{field} must be an RFC 3339 date-time (with an offset, or a local time of {})", self.time_zone)
        })?;
        if local.nanosecond() >= 1_000_000_000 {
            return Err(leap());
        }
        match self.time_zone.from_local_datetime(&local) {
            LocalResult::Single(t) => Ok(t.with_timezone(&Utc)),
            LocalResult::None => Err(format!(
                "{field} {text} does not exist in {} (skipped by a daylight-saving change)",
                self.time_zone
            )),
            LocalResult::Ambiguous(..) => Err(format!(
                "{field} {text} is ambiguous in {} (repeated by a daylight-saving change): send it with its UTC \
                 offset",
                self.time_zone
            )),
        }
    }
}

/// The array `member` of a call's body, which may have no member but it and `others` (an unknown one, like a
/// misspelled `complete_through`, is refused rather than silently ignored).
fn records<'a>(body: &'a Value, member: &str, others: &[&str]) -> Result<&'a Vec<Value>, BatchError> {
    if let Some(unknown) =
        body.as_object().and_then(|o| o.keys().find(|k| *k != member && !others.contains(&k.as_str())))
    {
        let known: Vec<String> =
            std::iter::once(member).chain(others.iter().copied()).map(|k| format!("`{k}`")).collect();
        return Err(BatchError::Shape(format!(
            "unknown member `{unknown}`: the body of this route has only {}",
            known.join(" and ")
        )));
    }
    let array = body
        .as_object()
        .and_then(|o| o.get(member))
        .and_then(Value::as_array)
        .ok_or_else(|| BatchError::Shape(format!("the body must be a JSON object with an array `{member}`")))?;
    if array.len() > MAX_RECORDS {
        return Err(BatchError::TooMany(array.len()));
    }
    Ok(array)
}

fn finish<T>(out: Vec<T>, errors: Vec<RecordError>) -> Result<Vec<T>, BatchError> {
    if errors.is_empty() { Ok(out) } else { Err(BatchError::Records(errors)) }
}

fn text(field: &str, value: &str, max_bytes: usize) -> Result<(), String> {
    if value.trim().is_empty() {
        return Err(format!("{field} must not be empty"));
    }
    if value.len() > max_bytes {
        return Err(format!("{field} must be at most {max_bytes} bytes"));
    }
    if value.chars().any(char::is_control) {
        return Err(format!("{field} must not contain control characters"));
    }
    Ok(())
}

/// A name shown or mapped (a queue's, an agent's, a status and its reason): [`text`], at most [`MAX_NAME_CHARS`]
/// characters, and none of the invisible characters that only disguise text ([`is_disguising`]: `Ready\u{200B}`
/// would be a second status that looks like `Ready`, a right-to-left override turns a name around; until 2026-12-08
/// they were taken).
fn name(field: &str, value: &str) -> Result<(), String> {
    text(field, value, MAX_NAME_CHARS * 4)?;
    if value.chars().count() > MAX_NAME_CHARS {
        return Err(format!("{field} must be at most {MAX_NAME_CHARS} characters"));
    }
    if value.chars().any(is_disguising) {
        return Err(format!(
            "{field} must not contain zero-width spaces, word joiners, byte-order marks or bidi embedding, override \
             and isolate controls"
        ));
    }
    Ok(())
}

/// The invisible characters a pushed name may not hold: zero-width space (U+200B), word joiner and invisible
/// operators (U+2060–U+2064), byte-order mark (U+FEFF), bidi embeddings, overrides and isolates (U+202A–U+202E,
/// U+2066–U+2069). Not the rest of Unicode's format category, which real text holds: zero-width (non-)joiners in
/// Persian, Urdu and Indic scripts and joined emoji, direction marks in Hebrew and Arabic (U+200C–U+200F, U+061C),
/// the soft hyphen.
fn is_disguising(c: char) -> bool {
    matches!(c, '\u{200B}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `value` as a `T`; an error names the field it is about (`offered: invalid type: string "5", expected …`; until
/// 2026-12-08 a value of the wrong type was refused without its field's name).
fn typed<'v, T: Deserialize<'v>>(value: &'v Value) -> Result<T, String> {
    serde_path_to_error::deserialize(value).map_err(|e| match e.path().iter().next() {
        Some(_) => format!("{}: {}", e.path(), e.inner()),
        None => e.inner().to_string(),
    })
}

/// A count: a whole number of 0 or more, written `5` or `5.0` (writers that hold every number as a float, Python's
/// pandas among them, send the latter; until 2026-12-08 it was refused).
fn count<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let n = serde_json::Number::deserialize(d)?;
    // Below 2^53 every whole number is exact as an f64: larger ones are far beyond any count anyway.
    let whole = |f: f64| (f.fract() == 0.0 && (0.0..9_007_199_254_740_992.0).contains(&f)).then_some(f as u64);
    n.as_u64()
        .or_else(|| n.as_f64().and_then(whole))
        .ok_or_else(|| serde::de::Error::custom(format!("{n} is not a whole number of 0 or more")))
}

/// [`count`], or `null` / absent (`None`).
fn optional_count<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    struct Count(#[serde(deserialize_with = "count")] u64);
    Ok(Option::<Count>::deserialize(d)?.map(|Count(n)| n))
}

/// Adds `record` to `out`, or puts it in the place of the earlier record of its `key` (`latest`: each key's place).
fn keep_later<K: std::hash::Hash + Eq, T>(out: &mut Vec<T>, latest: &mut HashMap<K, usize>, key: K, record: T) {
    match latest.get(&key) {
        Some(&at) => out[at] = record,
        None => {
            latest.insert(key, out.len());
            out.push(record);
        }
    }
}

/// `{"queues": [{"external_id", "name", "channel", "active"?}]}`. Two records of one queue in one call: the later
/// one wins.
pub fn parse_queues(body: &Value, sender: &Sender) -> Result<Vec<QueueRecord>, BatchError> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Raw {
        external_id: String,
        name: String,
        channel: String,
        #[serde(default = "yes")]
        active: bool,
    }
    fn yes() -> bool {
        true
    }
    let (mut out, mut errors): (Vec<QueueRecord>, _) = (Vec::new(), Vec::new());
    let mut latest: HashMap<String, usize> = HashMap::new();
    for (index, value) in records(body, "queues", &[])?.iter().enumerate() {
        let checked = typed::<Raw>(value).and_then(|raw| {
            text("external_id", &raw.external_id, MAX_QUEUE_EXTERNAL_ID_BYTES)?;
            name("name", &raw.name)?;
            if raw.name.to_lowercase().len() > MAX_QUEUE_NAME_BYTES {
                return Err(format!("name must be at most {MAX_QUEUE_NAME_BYTES} bytes"));
            }
            let channel = sender.channel(&raw.channel)?;
            Ok(QueueRecord {
                queue: Queue { external_id: raw.external_id, name: raw.name.trim().to_owned(), channel },
                active: raw.active,
            })
        });
        match checked {
            // The same queue twice in one call: the later record wins (as for intervals; both were written at once
            // before, the last write to land deciding).
            Ok(record) => keep_later(&mut out, &mut latest, record.queue.external_id.clone(), record),
            Err(reason) => errors.push(RecordError { index, reason }),
        }
    }
    finish(out, errors)
}

fn milliseconds(field: &str, seconds: f64) -> Result<u64, String> {
    // At most ten years of handle time in one interval: anything larger is a unit mistake.
    if !seconds.is_finite() || !(0.0..=315_360_000.0).contains(&seconds) {
        return Err(format!("{field} must be a number of seconds, 0 or more"));
    }
    Ok((seconds * 1000.0).round() as u64)
}

/// `{"intervals": [{"queue_external_id", "channel", "start", "offered", "handled", "abandoned",
/// "handle_time_seconds", "answer_time_seconds", "answered_within_sl"?}], "complete_through"?}`. Two records of
/// one queue and start in one call: the later one wins (a correction). `start` and `complete_through` without an
/// offset are local times of the sender's zone ([`Sender::instant`]); neither may be after the quarter hour that
/// `now` plus [`MAX_CLOCK_SKEW_MINUTES`] lies in.
pub fn parse_intervals(body: &Value, now: DateTime<Utc>, sender: &Sender) -> Result<IntervalBatch, BatchError> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Raw {
        queue_external_id: String,
        channel: String,
        start: Value,
        #[serde(deserialize_with = "count")]
        offered: u64,
        #[serde(deserialize_with = "count")]
        handled: u64,
        #[serde(deserialize_with = "count")]
        abandoned: u64,
        handle_time_seconds: f64,
        answer_time_seconds: f64,
        #[serde(default, deserialize_with = "optional_count")]
        answered_within_sl: Option<u64>,
    }
    let step = Duration::minutes(acd_domain::INTERVAL_MINUTES);
    let aligned = |t: DateTime<Utc>| t.duration_trunc(step).is_ok_and(|f| f == t);
    // The latest quarter hour a sender's clock may be in: the one `now` plus the tolerated skew lies in (a sender
    // whose clock is a fraction of a second ahead may already declare or send the quarter hour that starts then).
    let ahead = now + Duration::minutes(MAX_CLOCK_SKEW_MINUTES);
    let current = ahead.duration_trunc(step).unwrap_or(ahead);
    let array = records(body, "intervals", &["complete_through"])?;
    let complete_through = match body.get("complete_through") {
        None | Some(Value::Null) => None,
        Some(raw) => match sender.instant("complete_through", raw) {
            // No older than an interval may be: the first declaration sets where the data is complete from, for
            // good, so an epoch default (`1970-01-01T00:00:00Z`) would make every quarter hour since read as a
            // complete zero.
            Ok(t) if t < now - Duration::days(MAX_INTERVAL_AGE_DAYS) => {
                return Err(BatchError::Value(format!(
                    "complete_through is more than {MAX_INTERVAL_AGE_DAYS} days in the past"
                )));
            }
            Ok(t) if aligned(t) && t <= current => Some(t),
            Ok(_) => {
                return Err(BatchError::Value(
                    "complete_through must be a UTC quarter hour that is not in the future".into(),
                ));
            }
            Err(e) => return Err(BatchError::Value(e)),
        },
    };
    let mut errors = Vec::new();
    let mut latest: HashMap<(String, DateTime<Utc>), usize> = HashMap::new();
    let mut out: Vec<(usize, IntervalStats, Channel)> = Vec::new();
    for (index, value) in array.iter().enumerate() {
        let checked = typed::<Raw>(value).and_then(|raw| {
            text("queue_external_id", &raw.queue_external_id, MAX_QUEUE_EXTERNAL_ID_BYTES)?;
            let channel = sender.channel(&raw.channel)?;
            let start = sender.instant("start", &raw.start)?;
            if !aligned(start) {
                return Err("start must be a UTC quarter hour (:00, :15, :30 or :45, no seconds)".into());
            }
            if start > current {
                return Err("start is in the future: only started intervals can be sent".into());
            }
            if start < now - Duration::days(MAX_INTERVAL_AGE_DAYS) {
                return Err(format!("start is more than {MAX_INTERVAL_AGE_DAYS} days in the past"));
            }
            let counts = [("offered", raw.offered), ("handled", raw.handled), ("abandoned", raw.abandoned)];
            let sl = raw.answered_within_sl.map(|sl| ("answered_within_sl", sl));
            if let Some((field, _)) = counts.into_iter().chain(sl).find(|(_, n)| *n > MAX_INTERVAL_COUNT) {
                return Err(format!("{field} must be at most {MAX_INTERVAL_COUNT} (contacts in one quarter hour)"));
            }
            if raw.answered_within_sl.is_some_and(|sl| sl > raw.offered) {
                return Err("answered_within_sl must not exceed offered".into());
            }
            Ok((
                index,
                IntervalStats {
                    queue_external_id: raw.queue_external_id,
                    interval_start: start,
                    offered: raw.offered,
                    handled: raw.handled,
                    abandoned: raw.abandoned,
                    handle_time_ms: milliseconds("handle_time_seconds", raw.handle_time_seconds)?,
                    answer_time_ms: milliseconds("answer_time_seconds", raw.answer_time_seconds)?,
                    answered_within_sl: raw.answered_within_sl,
                },
                channel,
            ))
        });
        match checked {
            Ok(record) => {
                let key = (record.1.queue_external_id.clone(), record.1.interval_start);
                keep_later(&mut out, &mut latest, key, record);
            }
            Err(reason) => errors.push(RecordError { index, reason }),
        }
    }
    let intervals = finish(out, errors)?;
    Ok(IntervalBatch { intervals, complete_through })
}

/// Why an event is refused whose key (agent, `event_id`, `at`) is stored for another event.
pub fn stored_conflict(event: &AgentEvent, stored: &AgentEvent) -> String {
    format!(
        "event_id `{}` of agent `{}` is stored for another event ({}), not {}: an id and an instant name one event \
         of an agent",
        event.event_id,
        event.agent,
        stored.content(),
        event.content()
    )
}

/// `{"events": [{"event_id", "agent", "agent_name"?, "status", "reason"?, "at"}]}`, each with its index in the
/// array. An agent's `event_id` and `at` name one event ([`AgentEvent::key`]): repeated with the same `status` and
/// `reason` ([`AgentEvent::same_event`]) within one call it is a duplicate and keeps its first occurrence; repeated
/// with another status or reason it is refused with its index and the id (the store does the same across calls).
/// The same id at another instant is another event. Until 2026-12-07 any repeat of an id on one UTC day was dropped
/// as a duplicate, so a sender whose ids restart lost state changes with a 200.
/// `at` without an offset is a local time of the sender's zone ([`Sender::instant`]).
pub fn parse_events(body: &Value, now: DateTime<Utc>, sender: &Sender) -> Result<Vec<(usize, AgentEvent)>, BatchError> {
    let (mut out, mut errors): (Vec<(usize, AgentEvent)>, _) = (Vec::new(), Vec::new());
    // Each key's place in `out`.
    let mut seen: HashMap<EventKey, usize> = HashMap::new();
    for (index, value) in records(body, "events", &[])?.iter().enumerate() {
        let checked = (|| {
            if let Some(extra) = value.as_object().and_then(|o| {
                o.keys().find(|k| !["event_id", "agent", "agent_name", "status", "reason", "at"].contains(&k.as_str()))
            }) {
                return Err(format!("unknown field `{extra}`"));
            }
            let mut value = value.clone();
            if let Some(at) = value.get("at") {
                let at = sender.instant("at", at)?;
                value["at"] = Value::String(at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true));
            }
            let event: AgentEvent = typed(&value)?;
            text("event_id", &event.event_id, MAX_EVENT_ID_BYTES)?;
            text("agent", &event.agent, MAX_AGENT_ID_BYTES)?;
            if let Some(n) = &event.agent_name {
                name("agent_name", n)?;
            }
            name("status", &event.status)?;
            if let Some(r) = &event.reason {
                name("reason", r)?;
            }
            if event.status_id().len() > MAX_STATUS_ID_BYTES {
                return Err(format!("status and reason together must be at most {MAX_STATUS_ID_BYTES} bytes"));
            }
            if event.at > now + Duration::minutes(MAX_CLOCK_SKEW_MINUTES) {
                return Err("at is in the future".into());
            }
            if event.at < now - Duration::days(MAX_EVENT_LATENESS_DAYS) {
                return Err(format!("at is more than {MAX_EVENT_LATENESS_DAYS} days in the past (too late to place)"));
            }
            Ok(event)
        })();
        match checked {
            Ok(event) => match seen.entry(event.key()) {
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(out.len());
                    out.push((index, event));
                }
                std::collections::hash_map::Entry::Occupied(slot) => {
                    let (first, earlier) = &out[*slot.get()];
                    if !earlier.same_event(&event) {
                        errors.push(RecordError {
                            index,
                            reason: format!(
                                "event_id `{}` is used by record {first} for another event of agent `{}` ({}), \
                                 not {}: an id and an instant name one event of an agent",
                                event.event_id,
                                event.agent,
                                earlier.content(),
                                event.content()
                            ),
                        });
                    }
                }
            },
            Err(reason) => errors.push(RecordError { index, reason }),
        }
    }
    finish(out, errors)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 30, 12, 7, 0).unwrap()
    }

    #[test]
    fn names_and_statuses_with_invisible_format_characters_are_refused() {
        let queues = json!({"queues": [
            {"external_id": "q1", "name": "Sa\u{200B}les", "channel": "calls"},
            {"external_id": "q2", "name": "\u{202E}selaS", "channel": "calls"},
            {"external_id": "q3", "name": "Sales", "channel": "calls"},
        ]});
        let Err(BatchError::Records(errors)) = parse_queues(&queues, &Sender::default()) else { panic!("refused") };
        let refused: Vec<(usize, bool)> = errors.iter().map(|e| (e.index, e.reason.starts_with("name "))).collect();
        assert_eq!(refused, [(0, true), (1, true)]);
        assert!(name("status", "Ready\u{200B}").is_err());
        assert!(name("status", "Ready\u{2067}x\u{2069}").is_err());
        assert!(name("status", "\u{FEFF}Ready").is_err());
        assert!(name("status", "Not Ready: Lunch").is_ok());
        // Real text keeps its joiners and marks: Persian (zero-width non-joiner), a joined emoji (zero-width joiner),
        // Hebrew with a direction mark, a soft hyphen.
        for ok in ["می\u{200C}خواهم", "🧑\u{200D}💻 Training", "\u{200F}שירות", "Kunden\u{00AD}dienst"]
        {
            assert!(name("name", ok).is_ok(), "{ok:?}");
        }
    }

    #[test]
    fn a_leap_second_is_refused_with_its_field() {
        // Until 2026-12-08 `23:59:60Z` was taken (chrono reads it as a leap second): an agent event so stamped
        // rebuilt a "day" starting then, which deleted the next day's segments.
        let sender = Sender::default();
        for raw in
            ["2026-11-30T23:59:60Z", "2026-12-01T00:59:60+01:00", "2026-11-30T11:59:60.5Z", "2026-11-30T23:59:60"]
        {
            let answer = sender.instant("at", &json!(raw));
            assert!(
                answer.as_ref().is_err_and(|e| e.starts_with("at ") && e.contains("00 to 59")),
                "{raw}: {answer:?}"
            );
        }
        assert!(sender.instant("at", &json!("2026-11-30T23:59:59.999Z")).is_ok());
        let body = json!({"intervals": [{"queue_external_id": "q1", "start": "2026-11-30T11:59:60Z", "offered": 1,
            "handled": 1, "abandoned": 0, "handle_time_seconds": 60, "answer_time_seconds": 5}]});
        assert!(parse_intervals(&body, now(), &sender).is_err());
    }

    #[test]
    fn the_same_queue_twice_in_one_call_is_its_later_record() {
        let body = json!({"queues": [
            {"external_id": "q1", "name": "Alpha", "channel": "calls"},
            {"external_id": "q2", "name": "Other", "channel": "calls"},
            {"external_id": "q1", "name": "Beta", "channel": "calls", "active": false},
        ]});
        let queues = parse_queues(&body, &Sender::default()).unwrap();
        let got: Vec<(&str, &str, bool)> =
            queues.iter().map(|q| (q.queue.external_id.as_str(), q.queue.name.as_str(), q.active)).collect();
        assert_eq!(got, [("q1", "Beta", false), ("q2", "Other", true)]);
    }

    #[test]
    fn interval_counts_beyond_any_contact_center_are_refused_with_the_field() {
        let record = |field: &str, n: u64| {
            let mut r = json!({"queue_external_id": "q1", "channel": "calls", "start": "2026-11-30T11:45:00Z",
                "offered": 5, "handled": 4, "abandoned": 1, "handle_time_seconds": 60.0,
                "answer_time_seconds": 10.0});
            r[field] = json!(n);
            r
        };
        let ok = json!({"intervals": [record("offered", MAX_INTERVAL_COUNT)]});
        assert!(parse_intervals(&ok, now(), &Sender::default()).is_ok());
        for field in ["offered", "handled", "abandoned", "answered_within_sl"] {
            let body = json!({"intervals": [record(field, MAX_INTERVAL_COUNT + 1)]});
            match parse_intervals(&body, now(), &Sender::default()) {
                Err(BatchError::Records(errors)) => {
                    assert_eq!(errors.len(), 1, "{errors:?}");
                    assert!(errors[0].reason.starts_with(field), "{field}: {errors:?}");
                }
                other => panic!("{field}: {other:?}"),
            }
        }
    }

    #[test]
    fn counts_may_be_whole_floats_and_a_value_of_the_wrong_type_is_refused_naming_its_field() {
        let record = |field: &str, value: Value| {
            let mut r = json!({"queue_external_id": "q1", "channel": "calls", "start": "2026-11-30T11:45:00Z",
                "offered": 5, "handled": 4, "abandoned": 1, "handle_time_seconds": 60.0,
                "answer_time_seconds": 10.0, "answered_within_sl": 3});
            r[field] = value;
            json!({"intervals": [r]})
        };
        let whole = json!({"intervals": [{"queue_external_id": "q1", "channel": "calls",
            "start": "2026-11-30T11:45:00Z", "offered": 5.0, "handled": 4.0, "abandoned": 1e0,
            "handle_time_seconds": 60, "answer_time_seconds": 10, "answered_within_sl": 3.0}]});
        let parsed = parse_intervals(&whole, now(), &Sender::default()).expect("whole floats are counts");
        let s = &parsed.intervals[0].1;
        assert_eq!((s.offered, s.handled, s.abandoned, s.answered_within_sl), (5, 4, 1, Some(3)));
        let no_sl = parse_intervals(&record("answered_within_sl", Value::Null), now(), &Sender::default());
        assert_eq!(no_sl.expect("null: no service level").intervals[0].1.answered_within_sl, None);
        for (field, value, says) in [
            ("offered", json!(5.5), "not a whole number"),
            ("handled", json!(-1), "not a whole number"),
            ("abandoned", json!(-1.0), "not a whole number"),
            ("answered_within_sl", json!(2.5), "not a whole number"),
            ("offered", json!("5"), "invalid type: string"),
            ("handle_time_seconds", json!("60"), "invalid type: string"),
            ("queue_external_id", json!(7), "invalid type: integer"),
        ] {
            match parse_intervals(&record(field, value.clone()), now(), &Sender::default()) {
                Err(BatchError::Records(errors)) => {
                    assert_eq!(errors.len(), 1, "{errors:?}");
                    let reason = &errors[0].reason;
                    assert!(
                        reason.starts_with(&format!("{field}: ")) && reason.contains(says),
                        "{field} {value}: {reason}"
                    );
                }
                other => panic!("{field} {value}: {other:?}"),
            }
        }
        let queue = json!({"queues": [{"external_id": "q1", "name": "Sales", "channel": "calls", "active": "yes"}]});
        match parse_queues(&queue, &Sender::default()) {
            Err(BatchError::Records(errors)) => assert!(errors[0].reason.starts_with("active: "), "{errors:?}"),
            other => panic!("{other:?}"),
        }
        // A missing field is named by serde itself, without a path in front.
        match parse_queues(&json!({"queues": [{"external_id": "q1", "channel": "calls"}]}), &Sender::default()) {
            Err(BatchError::Records(errors)) => assert_eq!(errors[0].reason, "missing field `name`"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn queues_parse_and_every_bad_record_is_reported_with_its_index() {
        let body = json!({"queues": [
            {"external_id": "q1", "name": " Sales ", "channel": "calls"},
            {"external_id": "", "name": "x", "channel": "calls"},
            {"external_id": "q3", "name": "x", "channel": "fax"},
            {"external_id": "q4", "name": "x", "channel": "chats", "active": false},
            {"external_id": "q5", "name": "x", "channel": "chats", "colour": "red"},
        ]});
        match parse_queues(&body, &Sender::default()) {
            Err(BatchError::Records(errors)) => {
                let indexes: Vec<usize> = errors.iter().map(|e| e.index).collect();
                assert_eq!(indexes, vec![1, 2, 4]);
                assert!(errors[0].reason.contains("external_id"));
                assert!(errors[1].reason.contains("channel"));
                assert!(errors[2].reason.contains("colour"));
            }
            other => panic!("{other:?}"),
        }
        let good = json!({"queues": [{"external_id": "q1", "name": " Sales ", "channel": "calls"},
                                     {"external_id": "q4", "name": "x", "channel": "chats", "active": false}]});
        let parsed = parse_queues(&good, &Sender::default()).unwrap();
        assert_eq!(parsed[0].queue.name, "Sales");
        assert!(parsed[0].active && !parsed[1].active);
    }

    #[test]
    fn shape_and_count_limits() {
        assert!(matches!(parse_queues(&json!([]), &Sender::default()), Err(BatchError::Shape(_))));
        assert!(matches!(parse_queues(&json!({"queue": []}), &Sender::default()), Err(BatchError::Shape(_))));
        let many: Vec<Value> = (0..=MAX_RECORDS).map(|i| json!({"external_id": i.to_string()})).collect();
        assert_eq!(
            parse_queues(&json!({"queues": many}), &Sender::default()),
            Err(BatchError::TooMany(MAX_RECORDS + 1))
        );
    }

    #[test]
    fn intervals_must_be_aligned_started_and_later_records_correct_earlier_ones() {
        let rec = |start: &str, offered: u64| {
            json!({"queue_external_id": "q1", "channel": "calls", "start": start, "offered": offered,
                   "handled": 1, "abandoned": 0, "handle_time_seconds": 12.5, "answer_time_seconds": 3})
        };
        let body = json!({"intervals": [rec("2026-11-30T11:45:00Z", 3), rec("2026-11-30T11:45:00+00:00", 4),
                                         rec("2026-11-30T12:00:00Z", 1)],
                          "complete_through": "2026-11-30T12:00:00Z"});
        let batch = parse_intervals(&body, now(), &Sender::default()).unwrap();
        assert_eq!(batch.intervals.len(), 2);
        assert_eq!(batch.intervals[0].1.offered, 4, "the later record of the same interval wins");
        assert_eq!(batch.intervals[0].1.handle_time_ms, 12_500);
        assert_eq!(batch.complete_through, Some(Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap()));
        let bad = json!({"intervals": [rec("2026-11-30T11:40:00Z", 1), rec("2026-11-30T12:15:00Z", 1),
                                       rec("2025-01-01T00:00:00Z", 1), {"queue_external_id": "q1"}]});
        match parse_intervals(&bad, now(), &Sender::default()) {
            Err(BatchError::Records(e)) => {
                assert_eq!(e.iter().map(|e| e.index).collect::<Vec<_>>(), vec![0, 1, 2, 3]);
                assert!(e[0].reason.contains("quarter hour") && e[1].reason.contains("future"));
            }
            other => panic!("{other:?}"),
        }
        let future = json!({"intervals": [], "complete_through": "2026-11-30T12:15:00Z"});
        assert!(matches!(parse_intervals(&future, now(), &Sender::default()), Err(BatchError::Value(_))));
    }

    #[test]
    fn events_are_checked_and_repeats_in_one_call_dropped() {
        let ev = |id: &str, at: &str| json!({"event_id": id, "agent": "a1", "status": "Not Ready", "reason": "Lunch", "at": at});
        let body = json!({"events": [ev("e1", "2026-11-30T12:00:00Z"), ev("e1", "2026-11-30T12:00:00Z"),
                                     ev("e2", "2026-11-30T12:01:00.250+01:00")]});
        let events = parse_events(&body, now(), &Sender::default()).unwrap();
        assert_eq!(events.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [0, 2], "each with its index");
        assert_eq!(events[0].1.status_id(), "Not Ready: Lunch");
        assert_eq!(events[1].1.at, Utc.with_ymd_and_hms(2026, 11, 30, 11, 1, 0).unwrap() + Duration::milliseconds(250));
        let bad = json!({"events": [ev("e3", "2026-11-30T12:30:00Z"), ev("e4", "2026-11-20T12:00:00Z"),
                                    ev("", "2026-11-30T12:00:00Z"), {"event_id": "e5", "agent": "a1", "status": "x", "at": "noon"},
                                    {"event_id": "e6", "agent": "a1", "status": "x", "at": "2026-11-30T12:00:00Z", "tenant": "other"}]});
        match parse_events(&bad, now(), &Sender::default()) {
            Err(BatchError::Records(e)) => {
                assert_eq!(e.iter().map(|e| e.index).collect::<Vec<_>>(), vec![0, 1, 2, 3, 4]);
                assert!(e[0].reason.contains("future") && e[1].reason.contains("too late"));
                assert!(e[4].reason.contains("tenant"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_event_id_at_another_instant_is_another_event_and_at_the_same_instant_a_conflict() {
        // Ids that restart (at the sender's midnight, in any zone): the same id at another instant is another state
        // change. It was dropped until 2026-12-07 and the call answered 200 with `duplicates: 1`.
        let ev = |id: &str, at: &str, status: &str| json!({"event_id": id, "agent": "a1", "status": status, "at": at});
        let restarted = json!({"events": [
            ev("1", "2026-11-30T08:00:00Z", "Ready"),
            ev("1", "2026-11-30T11:00:00Z", "Busy"),
            ev("1", "2026-11-29T08:00:00Z", "Busy"),
            {"event_id": "1", "agent": "a2", "status": "Busy", "at": "2026-11-30T08:00:00Z"},
        ]});
        assert_eq!(parse_events(&restarted, now(), &Sender::default()).unwrap().len(), 4);
        // The same id and instant with another status: refused with its index and the id.
        let body = json!({"events": [
            ev("2", "2026-11-30T09:00:00Z", "Ready"),
            ev("2", "2026-11-30T09:00:00Z", "Not Ready"),
            ev("2", "2026-11-30T09:00:00Z", "Ready"),
        ]});
        match parse_events(&body, now(), &Sender::default()) {
            Err(BatchError::Records(e)) => {
                assert_eq!(e.iter().map(|e| e.index).collect::<Vec<_>>(), [1], "{e:?}");
                assert!(e[0].reason.contains("event_id `2` is used by record 0 for another event"), "{e:?}");
                assert!(e[0].reason.contains("`Ready`") && e[0].reason.contains("`Not Ready`"), "{e:?}");
            }
            other => panic!("{other:?}"),
        }
        // A reason is content too; the agent's display name is not.
        let lunch =
            json!({"event_id": "3", "agent": "a1", "status": "Ready", "reason": "Lunch", "at": "2026-11-30T10:00:00Z"});
        let plain = json!({"event_id": "3", "agent": "a1", "status": "Ready", "at": "2026-11-30T10:00:00Z"});
        let mut named = plain.clone();
        named["agent_name"] = json!("Ann");
        assert!(parse_events(&json!({"events": [plain.clone(), lunch]}), now(), &Sender::default()).is_err());
        let same = parse_events(&json!({"events": [plain, named]}), now(), &Sender::default()).unwrap();
        assert_eq!(same.len(), 1, "a resend with a display name is the same event");
    }

    #[test]
    fn ingest_bodies_with_an_unknown_member_are_refused_naming_it() {
        let rec = json!({"queue_external_id": "q1", "channel": "calls", "start": "2026-11-30T11:45:00Z", "offered": 1,
                         "handled": 1, "abandoned": 0, "handle_time_seconds": 1, "answer_time_seconds": 1});
        let shape = |result: Result<(), BatchError>, key: &str| match result {
            Err(BatchError::Shape(why)) => assert!(why.contains(&format!("unknown member `{key}`")), "{key}: {why}"),
            other => panic!("{key}: {other:?}"),
        };
        // A misspelled `complete_through` was ignored: the call was applied without its declaration.
        let misspelled = json!({"intervals": [rec.clone()], "completeThrough": "2026-11-30T12:00:00Z"});
        shape(parse_intervals(&misspelled, now(), &Sender::default()).map(drop), "completeThrough");
        let queues = json!({"queues": [], "complete_through": "2026-11-30T12:00:00Z"});
        shape(parse_queues(&queues, &Sender::default()).map(drop), "complete_through");
        let events = json!({"events": [], "tenant": "other"});
        shape(parse_events(&events, now(), &Sender::default()).map(drop), "tenant");
        // Before the records are looked at: one unknown member refuses the call even with bad records in it.
        let bad =
            json!({"intervals": [{"queue_external_id": "q1"}], "complete_through": "2026-11-30T12:00:00Z", "x": 1});
        shape(parse_intervals(&bad, now(), &Sender::default()).map(drop), "x");
        // The route's own members (`complete_through` also null) are accepted.
        for through in [json!("2026-11-30T12:00:00Z"), Value::Null] {
            let body = json!({"intervals": [rec.clone()], "complete_through": through});
            assert!(parse_intervals(&body, now(), &Sender::default()).is_ok(), "{body}");
        }
    }

    #[test]
    fn complete_through_and_start_tolerate_clock_skew_up_to_the_quarter_hour_it_reaches() {
        // The server's clock a tenth of a second before 12:15; the sender's already past it.
        let now = Utc.with_ymd_and_hms(2026, 11, 30, 12, 14, 59).unwrap() + Duration::milliseconds(900);
        let rec = |start: &str| {
            json!({"queue_external_id": "q1", "channel": "calls", "start": start, "offered": 1, "handled": 1,
                   "abandoned": 0, "handle_time_seconds": 1, "answer_time_seconds": 1})
        };
        let quarter = Utc.with_ymd_and_hms(2026, 11, 30, 12, 15, 0).unwrap();
        let body = json!({"intervals": [rec("2026-11-30T12:15:00Z")], "complete_through": "2026-11-30T12:15:00Z"});
        let batch = parse_intervals(&body, now, &Sender::default()).unwrap();
        assert_eq!((batch.complete_through, batch.intervals[0].1.interval_start), (Some(quarter), quarter));
        // Further ahead is still refused.
        let later = json!({"intervals": [], "complete_through": "2026-11-30T12:30:00Z"});
        assert!(matches!(parse_intervals(&later, now, &Sender::default()), Err(BatchError::Value(_))));
        let later = json!({"intervals": [rec("2026-11-30T12:30:00Z")]});
        match parse_intervals(&later, now, &Sender::default()) {
            Err(BatchError::Records(e)) => assert!(e[0].reason.contains("future"), "{e:?}"),
            other => panic!("{other:?}"),
        }
    }

    /// A `complete_through` older than any interval may be is refused: the first declaration fixes where the
    /// data is complete from, so `1970-01-01T00:00:00Z` (a sender's epoch default) would declare every quarter hour
    /// since a complete zero, for good (a review, 2026-12-07). The oldest one an interval may have is accepted.
    #[test]
    fn a_complete_through_older_than_an_interval_may_be_is_refused() {
        for through in ["1970-01-01T00:00:00Z", "2025-11-29T12:00:00Z"] {
            let body = json!({"intervals": [], "complete_through": through});
            match parse_intervals(&body, now(), &Sender::default()) {
                Err(BatchError::Value(e)) => assert!(e.contains("366 days in the past"), "{through}: {e}"),
                other => panic!("{through}: {other:?}"),
            }
        }
        let oldest = (now() - Duration::days(MAX_INTERVAL_AGE_DAYS)).duration_trunc(Duration::minutes(15)).unwrap();
        let oldest = oldest + Duration::minutes(15);
        let body = json!({"intervals": [], "complete_through": oldest.to_rfc3339()});
        assert_eq!(parse_intervals(&body, now(), &Sender::default()).unwrap().complete_through, Some(oldest));
    }

    fn berlin(channels: &[Channel]) -> Sender {
        Sender { time_zone: chrono_tz::Europe::Berlin, channels: channels.to_vec() }
    }

    #[test]
    fn local_times_are_placed_in_the_sender_zone_and_offsets_are_taken_as_is() {
        let sender = berlin(&Channel::ALL);
        let at = |raw: &str| sender.instant("at", &json!(raw));
        // Winter (+01:00) and summer (+02:00); an explicit offset or Z wins over the zone.
        assert_eq!(at("2026-01-15T09:00:00").unwrap(), Utc.with_ymd_and_hms(2026, 1, 15, 8, 0, 0).unwrap());
        assert_eq!(
            at("2026-07-15T09:00:00.5").unwrap(),
            Utc.with_ymd_and_hms(2026, 7, 15, 7, 0, 0).unwrap() + Duration::milliseconds(500)
        );
        assert_eq!(at("2026-07-15T09:00:00Z").unwrap(), Utc.with_ymd_and_hms(2026, 7, 15, 9, 0, 0).unwrap());
        assert_eq!(at("2026-07-15T09:00:00-05:00").unwrap(), Utc.with_ymd_and_hms(2026, 7, 15, 14, 0, 0).unwrap());
        // 2026-03-29 02:00–03:00 does not exist in Berlin; 2026-10-25 02:00–03:00 happens twice.
        assert!(at("2026-03-29T02:15:00").unwrap_err().contains("does not exist in Europe/Berlin"));
        assert_eq!(at("2026-03-29T01:45:00").unwrap(), Utc.with_ymd_and_hms(2026, 3, 29, 0, 45, 0).unwrap());
        assert_eq!(at("2026-03-29T03:00:00").unwrap(), Utc.with_ymd_and_hms(2026, 3, 29, 1, 0, 0).unwrap());
        assert!(at("2026-10-25T02:30:00").unwrap_err().contains("ambiguous"));
        assert_eq!(at("2026-10-25T02:30:00+01:00").unwrap(), Utc.with_ymd_and_hms(2026, 10, 25, 1, 30, 0).unwrap());
        assert!(at("noon").unwrap_err().contains("RFC 3339"));
        // Default: UTC.
        let utc = Sender::default().instant("at", &json!("2026-07-15T09:00:00")).unwrap();
        assert_eq!(utc, Utc.with_ymd_and_hms(2026, 7, 15, 9, 0, 0).unwrap());
    }

    #[test]
    fn local_intervals_in_a_dst_gap_or_overlap_are_refused_with_their_index() {
        let now = Utc.with_ymd_and_hms(2026, 10, 26, 12, 0, 0).unwrap();
        let rec = |start: &str| {
            json!({"queue_external_id": "q1", "channel": "calls", "start": start, "offered": 1,
                   "handled": 1, "abandoned": 0, "handle_time_seconds": 1, "answer_time_seconds": 1})
        };
        let body = json!({"intervals": [rec("2026-03-29T01:45:00"), rec("2026-03-29T02:15:00"),
                                         rec("2026-10-25T02:15:00"), rec("2026-10-25T02:15:00+02:00")]});
        match parse_intervals(&body, now, &berlin(&Channel::ALL)) {
            Err(BatchError::Records(e)) => {
                assert_eq!(e.iter().map(|e| e.index).collect::<Vec<_>>(), vec![1, 2]);
                assert!(e[0].reason.contains("does not exist") && e[1].reason.contains("ambiguous"), "{e:?}");
            }
            other => panic!("{other:?}"),
        }
        let good = json!({"intervals": [rec("2026-03-29T01:45:00"), rec("2026-10-25T02:15:00+02:00")],
                          "complete_through": "2026-10-26T13:00:00"});
        let batch = parse_intervals(&good, now, &berlin(&Channel::ALL)).unwrap();
        assert_eq!(batch.intervals[0].1.interval_start, Utc.with_ymd_and_hms(2026, 3, 29, 0, 45, 0).unwrap());
        assert_eq!(batch.intervals[1].1.interval_start, Utc.with_ymd_and_hms(2026, 10, 25, 0, 15, 0).unwrap());
        assert_eq!(batch.complete_through, Some(now));
    }

    #[test]
    fn records_of_a_channel_the_integration_does_not_push_are_refused() {
        let sender = berlin(&[Channel::Calls, Channel::Chats]);
        let body = json!({"queues": [{"external_id": "q1", "name": "Sales", "channel": "chats"},
                                     {"external_id": "q2", "name": "Mail", "channel": "emails"}]});
        match parse_queues(&body, &sender) {
            Err(BatchError::Records(e)) => {
                assert_eq!(e.len(), 1);
                assert_eq!(e[0].index, 1);
                assert!(e[0].reason.contains("not one of this integration's channels (calls, chats)"), "{e:?}");
            }
            other => panic!("{other:?}"),
        }
        let interval = json!({"intervals": [{"queue_external_id": "q2", "channel": "emails", "start": "2026-11-30T12:00:00Z",
            "offered": 1, "handled": 1, "abandoned": 0, "handle_time_seconds": 1, "answer_time_seconds": 1}]});
        assert!(matches!(parse_intervals(&interval, now(), &sender), Err(BatchError::Records(e)) if e[0].index == 0));
    }
}
