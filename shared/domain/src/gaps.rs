//! Gaps in an agent-state feed: periods whose agent states were lost before the import could read them (Amazon
//! Connect's agent event stream keeps records for its retention only). A gap is shown next to the agent states
//! (`GET /agent-states`) so that "no state" in it is never mistaken for "the agent was in no state".

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Why agent states of a period are missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GapReason {
    /// A shard's checkpoint is older than the stream's retention (or Kinesis refuses its sequence number): the
    /// records after it were trimmed.
    CheckpointExpired,
    /// A shard expired (is no longer listed) before it was read to its end.
    ShardExpired,
    /// The stream was deleted and re-created since the last read: the old stream's unread records are gone.
    StreamRecreated,
}

impl GapReason {
    pub fn as_str(self) -> &'static str {
        match self {
            GapReason::CheckpointExpired => "checkpoint_expired",
            GapReason::ShardExpired => "shard_expired",
            GapReason::StreamRecreated => "stream_recreated",
        }
    }
}

/// Agent states in `[from, to)` may be missing (some or all of them): `from` is where reading stopped, `to` the
/// earliest instant whose records were still readable. Bounds err on the wide side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AgentStateGap {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub reason: GapReason,
}

/// How many gaps an integration keeps (the newest; a feed that loses data this often says so in every run).
pub const MAX_STORED_GAPS: usize = 100;

impl AgentStateGap {
    /// The gap `[from, to)`, or `None` when it is empty (nothing was lost).
    pub fn new(from: DateTime<Utc>, to: DateTime<Utc>, reason: GapReason) -> Option<Self> {
        (from < to).then_some(Self { from, to, reason })
    }

    /// Whether the gap overlaps `[from, to)`.
    pub fn overlaps(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> bool {
        self.from < to && self.to > from
    }
}

/// The stored gaps with `found` added: gaps of the same reason that overlap or touch are coalesced into one (a
/// gap found again by a later run, with a later `to`, widens the stored one), and the newest `max` (by `to`) are
/// kept. No gap expires by age: the segments around it stay stored (and readable) too. Sorted by `from`, then
/// `to`, then reason.
pub fn merge_gaps(stored: &[AgentStateGap], found: &[AgentStateGap], max: usize) -> Vec<AgentStateGap> {
    let mut all: Vec<AgentStateGap> = stored.iter().chain(found).filter(|g| g.from < g.to).copied().collect();
    all.sort_by_key(|g| (g.reason, g.from, g.to));
    let mut merged: Vec<AgentStateGap> = Vec::with_capacity(all.len());
    for gap in all {
        match merged.last_mut() {
            Some(last) if last.reason == gap.reason && gap.from <= last.to => last.to = last.to.max(gap.to),
            _ => merged.push(gap),
        }
    }
    if merged.len() > max {
        merged.sort_by_key(|g| std::cmp::Reverse((g.to, g.from)));
        merged.truncate(max);
    }
    merged.sort_by_key(|g| (g.from, g.to, g.reason));
    merged
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, h, 0, 0).unwrap()
    }
    fn gap(from: u32, to: u32, reason: GapReason) -> AgentStateGap {
        AgentStateGap::new(t(from), t(to), reason).unwrap()
    }
    use GapReason::*;

    #[test]
    fn an_empty_gap_is_no_gap_and_overlap_is_half_open() {
        assert_eq!(AgentStateGap::new(t(3), t(3), CheckpointExpired), None);
        assert_eq!(AgentStateGap::new(t(4), t(3), CheckpointExpired), None);
        let g = gap(3, 5, ShardExpired);
        assert!(g.overlaps(t(4), t(6)) && g.overlaps(t(1), t(4)) && g.overlaps(t(3), t(5)));
        assert!(!g.overlaps(t(5), t(6)) && !g.overlaps(t(1), t(3)));
        assert_eq!(serde_json::to_value(g).unwrap()["reason"], "shard_expired");
        assert_eq!(ShardExpired.as_str(), "shard_expired");
    }

    #[test]
    fn the_same_gap_found_again_widens_the_stored_one_and_other_reasons_stay_apart() {
        let stored = [gap(1, 3, CheckpointExpired)];
        // A later run finds the same expired checkpoint: its `to` (now − retention) moved on.
        let merged = merge_gaps(&stored, &[gap(1, 4, CheckpointExpired)], 10);
        assert_eq!(merged, vec![gap(1, 4, CheckpointExpired)]);
        // Touching gaps of one reason coalesce; a gap of another reason is kept as it is.
        let merged = merge_gaps(&merged, &[gap(4, 6, CheckpointExpired), gap(2, 5, StreamRecreated)], 10);
        assert_eq!(merged, vec![gap(1, 6, CheckpointExpired), gap(2, 5, StreamRecreated)]);
        // A gap inside a stored one changes nothing; merging is idempotent.
        assert_eq!(merge_gaps(&merged, &[gap(2, 3, CheckpointExpired)], 10), merged);
        assert_eq!(merge_gaps(&merged, &merged, 10), merged);
        // Disjoint gaps stay apart.
        let two = merge_gaps(&[gap(1, 2, ShardExpired)], &[gap(3, 4, ShardExpired)], 10);
        assert_eq!(two, vec![gap(1, 2, ShardExpired), gap(3, 4, ShardExpired)]);
    }

    #[test]
    fn the_newest_gaps_are_kept_and_none_expires_by_age() {
        let stored = [gap(1, 2, ShardExpired), gap(3, 5, ShardExpired), gap(6, 7, ShardExpired)];
        assert_eq!(merge_gaps(&stored, &[], 10), stored.to_vec());
        // At most `max`: the newest by end.
        assert_eq!(
            merge_gaps(&stored, &[gap(8, 9, StreamRecreated)], 2),
            vec![gap(6, 7, ShardExpired), gap(8, 9, StreamRecreated)]
        );
        let many: Vec<AgentStateGap> = (0..200)
            .map(|i| {
                AgentStateGap::new(
                    t(0) + chrono::Duration::minutes(2 * i),
                    t(0) + chrono::Duration::minutes(2 * i + 1),
                    ShardExpired,
                )
                .unwrap()
            })
            .collect();
        let kept = merge_gaps(&[], &many, MAX_STORED_GAPS);
        assert_eq!(kept.len(), MAX_STORED_GAPS);
        assert_eq!(kept.last(), many.last());
        assert_eq!(kept.first(), Some(&many[100]));
    }
}
