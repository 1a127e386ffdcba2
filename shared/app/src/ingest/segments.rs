//! Agent-state segments built from pushed state-change events (a pure function: the store reads the events of
//! the days a push touched and writes what this returns).
//!
//! Events are kept per agent and UTC day. The segments that start on day D are rebuilt from D's events: ordered by
//! `at` (then `event_id`, so the order never depends on arrival), each event opens a segment that ends at the next
//! event — the first event of D+1 for the last one — or stays open (`end: null`) when no later event is known.
//! Two events of one agent at the same millisecond: the one with the greater `event_id` wins (one segment per
//! start). A late event lands in its place and the segments around it are rebuilt, so arrival order never matters.

use acd_domain::AgentSegment;
use chrono::{DateTime, Utc};

use super::records::AgentEvent;

/// The segments of one agent that start at the events of one day. `next` is the first event after that day
/// (if any is known).
pub fn build_day(events: &[AgentEvent], next: Option<DateTime<Utc>>) -> Vec<AgentSegment> {
    let mut sorted: Vec<&AgentEvent> = events.iter().collect();
    sorted.sort_by(|a, b| (a.at, &a.event_id).cmp(&(b.at, &b.event_id)));
    // Millisecond precision (segment keys): the last event of a millisecond wins.
    let millis = |t: DateTime<Utc>| t.timestamp_millis();
    let mut kept: Vec<&AgentEvent> = Vec::with_capacity(sorted.len());
    for e in sorted {
        match kept.last() {
            Some(last) if millis(last.at) == millis(e.at) => *kept.last_mut().expect("non-empty") = e,
            _ => kept.push(e),
        }
    }
    let mut out = Vec::with_capacity(kept.len());
    for (i, e) in kept.iter().enumerate() {
        let end = kept.get(i + 1).map(|n| n.at).or(next);
        out.push(AgentSegment {
            agent_external_id: e.agent.as_str().into(),
            status_id: e.status_id().into(),
            reason: e.reason.as_deref().map(Into::into),
            start: truncate_ms(e.at),
            end: end.map(truncate_ms),
        });
    }
    out
}

fn truncate_ms(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone as _};

    fn ev(id: &str, minute: i64, status: &str) -> AgentEvent {
        AgentEvent {
            event_id: id.into(),
            agent: "a1".into(),
            agent_name: None,
            status: status.into(),
            reason: None,
            at: Utc.with_ymd_and_hms(2026, 11, 30, 8, 0, 0).unwrap() + Duration::minutes(minute),
        }
    }

    #[test]
    fn each_event_opens_a_segment_that_the_next_one_closes_whatever_the_arrival_order() {
        let in_order = vec![ev("1", 0, "Ready"), ev("2", 10, "Not Ready"), ev("3", 25, "Ready")];
        let shuffled = vec![in_order[2].clone(), in_order[0].clone(), in_order[1].clone()];
        let a = build_day(&in_order, None);
        assert_eq!(a, build_day(&shuffled, None));
        assert_eq!(a.len(), 3);
        assert_eq!((&*a[0].status_id, a[0].end), ("Ready", Some(in_order[1].at)));
        assert_eq!(a[1].end, Some(in_order[2].at));
        assert_eq!(a[2].end, None, "the last segment stays open");
        let next = Utc.with_ymd_and_hms(2026, 12, 1, 0, 5, 0).unwrap();
        assert_eq!(build_day(&in_order, Some(next))[2].end, Some(next), "closed by the next day's first event");
    }

    #[test]
    fn a_late_event_splits_the_segment_it_falls_into() {
        let mut events = vec![ev("1", 0, "Ready"), ev("3", 30, "Ready")];
        let before = build_day(&events, None);
        assert_eq!(before[0].end, Some(events[1].at));
        events.push(ev("2", 12, "Not Ready"));
        let after = build_day(&events, None);
        assert_eq!(after.len(), 3);
        assert_eq!(after[0].end, Some(after[1].start));
        assert_eq!((&*after[1].status_id, after[1].end), ("Not Ready", Some(after[2].start)));
    }

    #[test]
    fn events_of_one_millisecond_keep_the_greatest_event_id() {
        let events = vec![ev("b", 5, "Ready"), ev("a", 5, "Not Ready"), ev("c", 0, "Ready")];
        let built = build_day(&events, None);
        assert_eq!(built.len(), 2);
        assert_eq!(&*built[1].status_id, "Ready");
        assert!(build_day(&[], None).is_empty());
    }
}
