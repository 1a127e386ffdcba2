//! Vendor-neutral records the connectors produce and the import stores.

use std::sync::Arc;

use chrono::{DateTime, Duration, DurationRound, Utc};
use serde::{Deserialize, Serialize};

use crate::INTERVAL_MINUTES;

/// The channel of a queue. Workloads only combine queues of the same channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Calls,
    Chats,
    Emails,
    Cases,
    Documents,
    SocialMedia,
}

impl Channel {
    pub const ALL: [Channel; 6] =
        [Self::Calls, Self::Chats, Self::Emails, Self::Cases, Self::Documents, Self::SocialMedia];
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Calls => "calls",
            Self::Chats => "chats",
            Self::Emails => "emails",
            Self::Cases => "cases",
            Self::Documents => "documents",
            Self::SocialMedia => "social_media",
        }
    }
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == raw)
    }
}

/// A queue as the ACD lists it.
///
/// `external_id` is the vendor's most stable identifier (Five9: the campaign name — the WSDL gives campaigns no
/// other key — or the skill's numeric id; Genesys Cloud: `{queue uuid}:{channel}`, one WFM queue per Genesys queue
/// and channel).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Queue {
    pub external_id: String,
    pub name: String,
    pub channel: Channel,
}

/// Statistics of one queue for one 15-minute UTC interval. Durations are milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntervalStats {
    pub queue_external_id: String,
    /// Start of the interval: a UTC quarter hour.
    pub interval_start: DateTime<Utc>,
    /// Contacts that arrived in the queue in this interval.
    pub offered: u64,
    /// Contacts answered (handled) by an agent.
    pub handled: u64,
    /// Contacts abandoned before being answered.
    pub abandoned: u64,
    /// Total handle time of the handled contacts (talk incl. hold + after-call work).
    pub handle_time_ms: u64,
    /// Total time the answered contacts waited before being answered.
    pub answer_time_ms: u64,
    /// Contacts answered within the service-level threshold, where the ACD gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered_within_sl: Option<u64>,
}

impl IntervalStats {
    /// Nothing happened: within a completed window an interval of zeros is not stored (an absent interval is zero),
    /// and it is no traffic.
    pub fn is_zero(&self) -> bool {
        self.offered == 0
            && self.handled == 0
            && self.abandoned == 0
            && self.handle_time_ms == 0
            && self.answer_time_ms == 0
            && self.answered_within_sl.unwrap_or(0) == 0
    }
}

/// An agent identifier the ACD knows (Five9: user name; Genesys Cloud: user name or id, per settings).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalAgent {
    pub external_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

/// An external status agents can be in. `id` is the key agent segments refer to and mappings are made on; reason
/// codes are statuses of their own (e.g. Five9 `Not Ready: Lunch`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalStatus {
    pub id: String,
    pub name: String,
}

/// One stretch of time an agent spent in one external status.
///
/// Its strings are shared (`Arc<str>`): a connector makes each agent id and status once and every segment of it
/// refers to them, and the pieces cut from a segment (at midnight, at a chunk's edge) copy no string. A large
/// back-fill holds hundreds of thousands of segments at once; a copy of each string in each was most of its memory
/// peak.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentSegment {
    pub agent_external_id: Arc<str>,
    /// The [`ExternalStatus::id`] of the status (reason codes included).
    pub status_id: Arc<str>,
    /// The reason code alone, where the ACD gives one (for display).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Arc<str>>,
    pub start: DateTime<Utc>,
    /// `None` while the segment is still open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<DateTime<Utc>>,
}

/// A half-open UTC time range `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TimeWindow {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// `end` was not after `start`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a time window must end after it starts")]
pub struct EmptyWindow;

impl TimeWindow {
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Result<Self, EmptyWindow> {
        if end > start { Ok(Self { start, end }) } else { Err(EmptyWindow) }
    }

    pub fn duration(&self) -> Duration {
        self.end - self.start
    }

    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.start <= t && t < self.end
    }

    /// The window widened to whole 15-minute intervals (start rounded down, end rounded up).
    pub fn align_to_intervals(&self) -> Self {
        let step = Duration::minutes(INTERVAL_MINUTES);
        let start = floor_to_interval(self.start);
        let mut end = self.end.duration_trunc(step).unwrap_or(self.end);
        if end < self.end {
            end += step;
        }
        Self { start, end }
    }

    /// Consecutive sub-windows of at most `max` each, covering the window exactly.
    pub fn split(&self, max: Duration) -> Vec<TimeWindow> {
        assert!(max > Duration::zero(), "split size must be positive");
        let mut out = Vec::new();
        let mut start = self.start;
        while start < self.end {
            let end = (start + max).min(self.end);
            out.push(TimeWindow { start, end });
            start = end;
        }
        out
    }

    /// Start times of the 15-minute intervals that begin inside the window.
    pub fn interval_starts(&self) -> impl Iterator<Item = DateTime<Utc>> + '_ {
        let step = Duration::minutes(INTERVAL_MINUTES);
        let first = {
            let f = floor_to_interval(self.start);
            if f < self.start { f + step } else { f }
        };
        std::iter::successors(Some(first), move |t| Some(*t + step)).take_while(move |t| *t < self.end)
    }
}

/// The start of the 15-minute UTC interval that contains `t`.
pub fn floor_to_interval(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(Duration::minutes(INTERVAL_MINUTES)).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 11, 3, h, m, s).unwrap()
    }

    #[test]
    fn windows_align_and_split_exactly() {
        let w = TimeWindow::new(t(1, 7, 0), t(3, 31, 1)).unwrap();
        let a = w.align_to_intervals();
        assert_eq!((a.start, a.end), (t(1, 0, 0), t(3, 45, 0)));
        let parts = a.split(Duration::hours(1));
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0].start, a.start);
        assert_eq!(parts[2].end, a.end);
        assert!(parts.windows(2).all(|p| p[0].end == p[1].start));
        assert_eq!(a.interval_starts().count(), 11);
        assert!(TimeWindow::new(t(1, 0, 0), t(1, 0, 0)).is_err());
    }

    #[test]
    fn floor_finds_the_quarter_hour() {
        assert_eq!(floor_to_interval(t(13, 14, 59)), t(13, 0, 0));
        assert_eq!(floor_to_interval(t(13, 15, 0)), t(13, 15, 0));
    }

    #[test]
    fn channels_round_trip() {
        for c in Channel::ALL {
            assert_eq!(Channel::parse(c.as_str()), Some(c));
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
        }
    }
}
