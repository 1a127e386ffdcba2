//! Agent event stream records → agent-state segments (pure; no I/O).
//!
//! Wire format (Admin Guide, "Agent event streams data model"; not in the SDK models): one JSON object per Kinesis
//! record, `{EventId, EventType, EventTimestamp, AgentARN, CurrentAgentSnapshot, PreviousAgentSnapshot}` with
//! `AgentStatus {ARN, Name, StartTimestamp, Type}` in each snapshot.
//!
//! Rules:
//! - A segment is keyed by (agent, `AgentStatus.StartTimestamp`): the status's own start, never the event time, so
//!   reading a record twice, or reading the event that closes a segment in a later run, yields the same key (the
//!   closed version replaces the open one).
//! - Every `STATE_CHANGE`, `LOGIN`, `LOGOUT` and `HEART_BEAT` with a current status opens (or confirms) a segment for
//!   it. When the previous snapshot's status differs from the current one (another status ARN or another start), the
//!   previous status becomes a closed segment ending where the current one starts. A configuration-only
//!   `STATE_CHANGE` (same status, same start) therefore changes nothing.
//! - `LOGOUT` without a current status closes the previous status at the event time.
//! - Status id = the agent-status id (last path element of its ARN; `ListAgentStatuses` lists the same ids); agent
//!   id = the user id (last path element of `AgentARN`; `ListUsers`' `Id`).
//! - A record that is not such an object, or whose fields do not parse, is malformed: the read fails rather than
//!   silently skipping states (data-safety rule). Unknown event types (`CONTACT…`) are ignored.
//! - A state still open is known only as far as its agent's records were read. When a shard's read stops before its
//!   end (the deadline), its agents' open states are bounded there ([`SegmentBook::read_stopped`]): the import cuts an
//!   open state at every midnight up to the end of what it writes, and the merge of a feed deletes nothing, so a
//!   piece from a midnight the read never reached would stay open for good once the state's real end (before that
//!   midnight) is read. [`SegmentBook::overlapping`] ends such a state at the first midnight at or after the point
//!   its shard was read to (the piece before it is the one the import stores for that day anyway) when the window
//!   reaches past that midnight; nothing of the state from then on is returned until a later read sees it again
//!   (its closing event carries the whole status, a `HEART_BEAT` comes every 2 minutes while nothing else does).

use std::collections::BTreeMap;

use acd_domain::AgentSegment;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::ConnectorError;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WireEvent {
    /// Absent from a contact record (a stream may carry contact records beside the agent events).
    event_type: Option<String>,
    /// Present in a contact record (`AWSContactTraceRecordFormatVersion`, `ContactId`), never in an agent event.
    #[serde(rename = "AWSContactTraceRecordFormatVersion")]
    contact_record_version: Option<serde::de::IgnoredAny>,
    contact_id: Option<serde::de::IgnoredAny>,
    event_timestamp: Option<String>,
    #[serde(rename = "AgentARN")]
    agent_arn: Option<String>,
    current_agent_snapshot: Option<WireSnapshot>,
    previous_agent_snapshot: Option<WireSnapshot>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WireSnapshot {
    agent_status: Option<WireStatus>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WireStatus {
    #[serde(rename = "ARN")]
    arn: Option<String>,
    name: Option<String>,
    start_timestamp: Option<String>,
}

/// One status an agent was in, as read from a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Status {
    id: String,
    start: DateTime<Utc>,
}

/// How far after the reader's clock a record's `EventTimestamp` may be and still be left for a later read
/// ([`SegmentBook::apply_before`]).
pub const FUTURE_STAMP: chrono::Duration = chrono::Duration::hours(1);

/// What [`SegmentBook::apply_before`] did with a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// An agent event, applied: its agent and its `EventTimestamp` (`None`: the record has none or an unreadable
    /// one, which only matters to a read with an end, where it is malformed).
    Event { agent: String, at: Option<DateTime<Utc>> },
    /// Not an agent event (another event type): nothing to apply.
    Ignored,
    /// Stamped from the read's end on: nothing applied, the record is left for the next read.
    Left,
}

/// Segments built from the records read so far, keyed by (agent id, start).
#[derive(Debug, Default, Clone)]
pub struct SegmentBook {
    segments: BTreeMap<(String, DateTime<Utc>), AgentSegment>,
    /// Agents whose shard's read stopped before its end, and how far it was read (the earliest, if several):
    /// their open states are known no further ([`Self::read_stopped`]).
    read_to: BTreeMap<String, DateTime<Utc>>,
}

impl SegmentBook {
    /// [`Self::apply_before`] without a read's end (the tests' shorthand).
    #[cfg(test)]
    pub fn apply(&mut self, data: &[u8]) -> Result<(), ConnectorError> {
        self.apply_before(data, None, Utc::now()).map(|_| ())
    }

    /// Applies one record (its data bytes; idempotent: applying a record twice changes nothing) whose
    /// `EventTimestamp` is before `until` (any, without it); [`Applied::Left`], and nothing applied, for one at or
    /// after it — unless it is stamped more than [`FUTURE_STAMP`] after `now`: such a record cannot be waited for (it
    /// would hold its shard back for good), and is applied as every record was before reads had an end.
    pub fn apply_before(
        &mut self,
        data: &[u8],
        until: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<Applied, ConnectorError> {
        let event: WireEvent = serde_json::from_slice(data).map_err(|e| {
            ConnectorError::malformed(format!("agent event stream: a record is not an agent event: {e}"))
        })?;
        let Some(event_type) = event.event_type.as_deref() else {
            // Connect streams contact records to a Kinesis stream too, and an instance may send both kinds to one
            // stream: a contact record is not an agent event (until 2026-12-08 it was malformed, and the stream held
            // at it for good). A record that is neither is malformed.
            if event.contact_record_version.is_some() || event.contact_id.is_some() {
                return Ok(Applied::Ignored);
            }
            return Err(ConnectorError::malformed(
                "agent event stream: a record has no EventType and is not a contact record",
            ));
        };
        if !matches!(event_type, "STATE_CHANGE" | "LOGIN" | "LOGOUT" | "HEART_BEAT") {
            return Ok(Applied::Ignored);
        }
        let at = match until {
            Some(until) => {
                let at = parse_time(event.event_timestamp.as_deref(), "EventTimestamp")?;
                if at >= until && at <= now + FUTURE_STAMP {
                    return Ok(Applied::Left);
                }
                Some(at)
            }
            None => event.event_timestamp.as_deref().and_then(|raw| parse_time(Some(raw), "EventTimestamp").ok()),
        };
        let agent = self.apply_event(event)?;
        Ok(Applied::Event { agent, at })
    }

    /// Records that the read of the shard holding `agents`' records stopped before its end, after the records up
    /// to `at`: their open states are known open up to there, no further (see the module docs).
    pub fn read_stopped<'a>(&mut self, agents: impl IntoIterator<Item = &'a String>, at: DateTime<Utc>) {
        for agent in agents {
            self.read_to.entry(agent.clone()).and_modify(|t| *t = (*t).min(at)).or_insert(at);
        }
    }

    /// [`Self::read_stopped`] for every agent with an open state: a read that cannot tell which agents a shard it
    /// did not finish holds (a child of a resharded stream).
    pub fn read_stopped_all(&mut self, at: DateTime<Utc>) {
        let open: std::collections::BTreeSet<String> =
            self.segments.values().filter(|s| s.end.is_none()).map(|s| s.agent_external_id.to_string()).collect();
        self.read_stopped(&open, at);
    }

    /// The agent of the event, once applied.
    fn apply_event(&mut self, event: WireEvent) -> Result<String, ConnectorError> {
        let agent = event
            .agent_arn
            .as_deref()
            .and_then(last_path_element)
            .ok_or_else(|| ConnectorError::malformed("agent event stream: an agent event has no AgentARN"))?
            .to_owned();
        let current = snapshot_status(event.current_agent_snapshot.as_ref())?;
        let previous = snapshot_status(event.previous_agent_snapshot.as_ref())?;
        match (&previous, &current) {
            (Some(prev), Some(cur)) if prev != cur => self.close(&agent, prev, cur.start),
            (Some(prev), None) if event.event_type.as_deref() == Some("LOGOUT") => {
                let at = parse_time(event.event_timestamp.as_deref(), "EventTimestamp")?;
                self.close(&agent, prev, at.max(prev.start));
            }
            _ => {}
        }
        if let Some(cur) = current {
            self.open(&agent, &cur);
        }
        Ok(agent)
    }

    fn close(&mut self, agent: &str, status: &Status, end: DateTime<Utc>) {
        let segment = AgentSegment {
            agent_external_id: agent.into(),
            status_id: status.id.as_str().into(),
            reason: None,
            start: status.start,
            end: Some(end),
        };
        self.segments.insert((agent.to_owned(), status.start), segment);
    }

    /// Opens a segment unless a closed one with that key is known (a later event already ended it).
    fn open(&mut self, agent: &str, status: &Status) {
        self.segments.entry((agent.to_owned(), status.start)).or_insert_with(|| AgentSegment {
            agent_external_id: agent.into(),
            status_id: status.id.as_str().into(),
            reason: None,
            start: status.start,
            end: None,
        });
    }

    /// Segments that overlap `[start, end)` (open segments overlap everything after their start), an open one of
    /// an agent whose shard's read stopped early ended at the first midnight at or after where it was read to, when
    /// `end` is later.
    pub fn overlapping(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> Vec<AgentSegment> {
        self.segments
            .values()
            .filter_map(|s| {
                let until = self.known_until(s).filter(|&until| until < end).or(s.end);
                (s.start < end && until.is_none_or(|e| e > start)).then(|| AgentSegment { end: until, ..s.clone() })
            })
            .collect()
    }

    /// For an open segment of an agent whose shard's read stopped early: the midnight up to which pieces of it are
    /// known — the first at or after the point read to, and at least the first after the segment's start (its own
    /// first piece is real whatever its end). `None`: open as far as anything says.
    fn known_until(&self, segment: &AgentSegment) -> Option<DateTime<Utc>> {
        if segment.end.is_some() {
            return None;
        }
        let read_to = *self.read_to.get(&*segment.agent_external_id)?;
        let read_midnight = midnight(read_to);
        let ceil = if read_midnight == read_to { read_to } else { read_midnight + chrono::Duration::days(1) };
        Some(ceil.max(midnight(segment.start) + chrono::Duration::days(1)))
    }

    pub fn len(&self) -> usize {
        self.segments.len()
    }

    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }
}

fn snapshot_status(snapshot: Option<&WireSnapshot>) -> Result<Option<Status>, ConnectorError> {
    let Some(status) = snapshot.and_then(|s| s.agent_status.as_ref()) else {
        return Ok(None);
    };
    let id = status
        .arn
        .as_deref()
        .and_then(last_path_element)
        .or(status.name.as_deref().filter(|n| !n.trim().is_empty()))
        .ok_or_else(|| ConnectorError::malformed("agent event stream: an AgentStatus has neither ARN nor Name"))?
        .to_owned();
    let start = parse_time(status.start_timestamp.as_deref(), "AgentStatus.StartTimestamp")?;
    Ok(Some(Status { id, start }))
}

fn parse_time(raw: Option<&str>, field: &str) -> Result<DateTime<Utc>, ConnectorError> {
    let raw = raw.ok_or_else(|| ConnectorError::malformed(format!("agent event stream: {field} is missing")))?;
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| ConnectorError::malformed(format!("agent event stream: {field} {raw:?} is not an ISO 8601 time")))
}

/// Midnight UTC of `t`'s day.
fn midnight(t: DateTime<Utc>) -> DateTime<Utc> {
    t.date_naive().and_time(chrono::NaiveTime::MIN).and_utc()
}

/// `arn:aws:connect:…:instance/{instance}/agent/{id}` → `{id}`.
pub fn last_path_element(arn: &str) -> Option<&str> {
    arn.rsplit('/').next().map(str::trim).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    const AGENT: &str = "arn:aws:connect:us-east-1:111122223333:instance/i-1/agent/u-1";
    fn t(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 30, h, m, 0).unwrap()
    }
    fn status(id: &str, start: DateTime<Utc>) -> serde_json::Value {
        json!({"AgentStatus": {"ARN": format!("arn:aws:connect:us-east-1:111122223333:instance/i-1/agent-state/{id}"),
            "Name": id.to_uppercase(), "StartTimestamp": start.to_rfc3339(), "Type": "ROUTABLE"},
            "Configuration": {"Username": "ann"}})
    }
    fn event(
        kind: &str,
        at: DateTime<Utc>,
        prev: Option<serde_json::Value>,
        cur: Option<serde_json::Value>,
    ) -> Vec<u8> {
        let mut e = json!({"EventId": "e", "EventType": kind, "EventTimestamp": at.to_rfc3339(), "AgentARN": AGENT});
        if let Some(p) = prev {
            e["PreviousAgentSnapshot"] = p;
        }
        if let Some(c) = cur {
            e["CurrentAgentSnapshot"] = c;
        }
        serde_json::to_vec(&e).unwrap()
    }

    #[test]
    fn a_record_from_the_reads_end_on_is_left_unless_stamped_too_far_ahead_to_wait_for() {
        let mut book = SegmentBook::default();
        let now = t(10, 7);
        let login = event("LOGIN", t(9, 50), None, Some(status("available", t(9, 50))));
        let applied = |at| Applied::Event { agent: "u-1".into(), at: Some(at) };
        assert_eq!(book.apply_before(&login, Some(t(10, 0)), now).unwrap(), applied(t(9, 50)));
        let lunch =
            event("STATE_CHANGE", t(10, 0), Some(status("available", t(9, 50))), Some(status("lunch", t(10, 0))));
        assert_eq!(book.apply_before(&lunch, Some(t(10, 0)), now).unwrap(), Applied::Left, "at the end: left");
        assert_eq!(book.overlapping(t(9, 0), t(12, 0)).len(), 1, "nothing of it applied");
        // Stamped more than an hour after the reader's clock: applied (waiting for it would hold the shard back).
        let ahead = event("HEART_BEAT", t(11, 8), Some(status("available", t(9, 50))), Some(status("lunch", t(11, 8))));
        assert_eq!(book.apply_before(&ahead, Some(t(10, 0)), now).unwrap(), applied(t(11, 8)));
        assert_eq!(book.overlapping(t(9, 0), t(12, 0)).len(), 2);
        // Without an end, every record is applied.
        assert_eq!(SegmentBook::default().apply_before(&lunch, None, now).unwrap(), applied(t(10, 0)));
        let contact = br#"{"EventType":"CONTACT_EVENT"}"#;
        assert_eq!(SegmentBook::default().apply_before(contact, Some(t(10, 0)), now).unwrap(), Applied::Ignored);
    }

    /// Agent u-1 logged in at 23:00 and on a break from 23:30, still open.
    fn on_a_break_from_23_30() -> SegmentBook {
        let mut book = SegmentBook::default();
        book.apply(&event("LOGIN", t(23, 0), None, Some(status("available", t(23, 0))))).unwrap();
        let to_break =
            event("STATE_CHANGE", t(23, 30), Some(status("available", t(23, 0))), Some(status("brk", t(23, 30))));
        book.apply(&to_break).unwrap();
        book
    }

    #[test]
    fn a_read_stopped_for_all_bounds_every_open_state_and_no_closed_one() {
        let mut book = on_a_break_from_23_30();
        let two_days = (t(0, 0), t(0, 0) + chrono::Duration::days(2));
        assert_eq!(book.overlapping(two_days.0, two_days.1)[1].end, None, "open");
        book.read_stopped_all(t(23, 40));
        let segments = book.overlapping(two_days.0, two_days.1);
        assert_eq!(segments[0].end, Some(t(23, 30)), "a closed one as it was");
        assert_eq!(
            segments[1].end,
            Some(t(0, 0) + chrono::Duration::days(1)),
            "the open one ends at the midnight after"
        );
    }

    #[test]
    fn an_open_state_of_a_shard_read_only_in_part_yields_no_piece_past_the_midnight_after_where_it_was_read_to() {
        let day = t(0, 0);
        let (midnight, days) = (day + chrono::Duration::days(1), |n| day + chrono::Duration::days(n));
        let spans = |segments: Vec<AgentSegment>| segments.into_iter().map(|s| (s.start, s.end)).collect::<Vec<_>>();
        let mut book = on_a_break_from_23_30();
        assert_eq!(spans(book.overlapping(day, days(2)))[1], (t(23, 30), None), "read to the end: open");

        // The shard's read stopped after records up to 23:40: the break is known open up to there only.
        book.read_stopped(&["u-1".to_owned()], t(23, 40));
        assert_eq!(
            spans(book.overlapping(day, days(2))),
            [(t(23, 0), Some(t(23, 30))), (t(23, 30), Some(midnight))],
            "its piece of the day it was read in (closed states as read), none from the midnight after"
        );
        assert!(book.overlapping(midnight, days(2)).is_empty(), "nothing of it the next day");
        assert_eq!(
            spans(book.overlapping(day, midnight))[1],
            (t(23, 30), None),
            "a window ending by that midnight: open, as the import cuts it there itself"
        );

        // Read to past a midnight: the pieces up to the first midnight after the read's point; of several stops,
        // the earliest; a read to a midnight exactly gives nothing from it on (the state may have ended there).
        let mut past = SegmentBook::default();
        past.apply(&event("HEART_BEAT", t(23, 35), None, Some(status("brk", t(23, 30))))).unwrap();
        past.read_stopped(&["u-1".to_owned()], midnight + chrono::Duration::hours(8));
        assert_eq!(spans(past.overlapping(day, days(3))), [(t(23, 30), Some(days(2)))]);
        past.read_stopped(&["u-1".to_owned()], midnight);
        assert_eq!(spans(past.overlapping(day, days(3))), [(t(23, 30), Some(midnight))]);
        // A stop before the state began (another agent's record read last): its own first piece is real.
        let mut early = SegmentBook::default();
        early.apply(&event("HEART_BEAT", t(23, 35), None, Some(status("brk", t(23, 30))))).unwrap();
        early.read_stopped(&["u-1".to_owned()], t(22, 0));
        assert_eq!(spans(early.overlapping(day, days(2))), [(t(23, 30), Some(midnight))]);
        // Another agent's stop: as read.
        let mut other = SegmentBook::default();
        other.apply(&event("HEART_BEAT", t(23, 35), None, Some(status("brk", t(23, 30))))).unwrap();
        other.read_stopped(&["u-2".to_owned()], t(23, 5));
        assert_eq!(spans(other.overlapping(day, days(2))), [(t(23, 30), None)]);
    }

    #[test]
    fn state_changes_close_the_previous_status_and_open_the_current_one() {
        let mut book = SegmentBook::default();
        book.apply(&event("LOGIN", t(8, 0), None, Some(status("available", t(8, 0))))).unwrap();
        book.apply(&event("STATE_CHANGE", t(9, 0), Some(status("available", t(8, 0))), Some(status("lunch", t(9, 0)))))
            .unwrap();
        let all = book.overlapping(t(0, 0), t(23, 0));
        assert_eq!(all.len(), 2);
        assert_eq!((&*all[0].status_id, all[0].start, all[0].end), ("available", t(8, 0), Some(t(9, 0))));
        assert_eq!((&*all[1].status_id, all[1].start, all[1].end), ("lunch", t(9, 0), None));
        assert_eq!(&*all[0].agent_external_id, "u-1");
    }

    #[test]
    fn a_configuration_only_change_does_not_split_and_replays_are_idempotent() {
        let mut book = SegmentBook::default();
        let login = event("LOGIN", t(8, 0), None, Some(status("available", t(8, 0))));
        let config =
            event("STATE_CHANGE", t(8, 30), Some(status("available", t(8, 0))), Some(status("available", t(8, 0))));
        for record in [&login, &config, &login, &config] {
            book.apply(record).unwrap();
        }
        let all = book.overlapping(t(0, 0), t(23, 0));
        assert_eq!(all.len(), 1);
        assert_eq!((all[0].start, all[0].end), (t(8, 0), None));
        // A replayed older event never reopens a closed segment.
        let change = event("STATE_CHANGE", t(9, 0), Some(status("available", t(8, 0))), Some(status("lunch", t(9, 0))));
        book.apply(&change).unwrap();
        book.apply(&login).unwrap();
        assert_eq!(book.overlapping(t(0, 0), t(23, 0))[0].end, Some(t(9, 0)));
    }

    #[test]
    fn logout_without_a_current_status_closes_at_the_event_time() {
        let mut book = SegmentBook::default();
        book.apply(&event("LOGOUT", t(17, 5), Some(status("available", t(16, 0))), None)).unwrap();
        let all = book.overlapping(t(0, 0), t(23, 0));
        assert_eq!((all[0].start, all[0].end), (t(16, 0), Some(t(17, 5))));
        // Windows: a segment is returned when it overlaps.
        assert!(book.overlapping(t(17, 5), t(18, 0)).is_empty());
        assert_eq!(book.overlapping(t(17, 0), t(18, 0)).len(), 1);
    }

    #[test]
    fn unreadable_records_are_malformed_and_other_event_types_ignored() {
        let mut book = SegmentBook::default();
        assert!(matches!(book.apply(b"not json"), Err(ConnectorError::Malformed { .. })));
        let no_start = serde_json::to_vec(&json!({"EventType": "STATE_CHANGE", "AgentARN": AGENT,
            "CurrentAgentSnapshot": {"AgentStatus": {"ARN": "x/agent-state/s"}}}))
        .unwrap();
        assert!(matches!(book.apply(&no_start), Err(ConnectorError::Malformed { .. })));
        book.apply(br#"{"EventType":"CONTACT_EVENT"}"#).unwrap();
        // A contact record (an instance may stream them to the same stream): ignored. A record that is neither an
        // agent event nor a contact record: malformed.
        let contact_record = serde_json::to_vec(&json!({"AWSAccountId": "123456789012",
            "AWSContactTraceRecordFormatVersion": "2017-03-10", "ContactId": "c-1", "Channel": "VOICE",
            "InitiationMethod": "INBOUND", "Agent": {"ARN": AGENT}}))
        .unwrap();
        assert_eq!(book.apply_before(&contact_record, Some(t(10, 0)), Utc::now()).unwrap(), Applied::Ignored);
        assert!(matches!(book.apply(br#"{"AgentARN":"x"}"#), Err(ConnectorError::Malformed { .. })));
        assert!(book.is_empty());
    }
}
