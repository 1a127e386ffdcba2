//! What the import records through its port ([`super::ImportStore`]): one [`RunRecord`] per run.

use acd_domain::{FailureReason, IntegrationId, RunId, TenantId, TimeWindow};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::WriteCounts;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunOutcome {
    /// Everything up to now is imported.
    Succeeded,
    /// Part of the window was imported before the deadline, or before a back-fill would have eaten into the
    /// vendor's shared API budget; the next run continues.
    Partial,
    Failed,
    /// Nothing to do (paused, deleted, or another run holds the lease). Not recorded.
    Skipped,
}

/// Counts of one run, per kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunCounts {
    pub queues: u64,
    pub agents: u64,
    pub statuses: u64,
    pub intervals: u64,
    pub segments: u64,
    pub days: u64,
    pub interval_writes: WriteCounts,
    pub segment_writes: WriteCounts,
    pub catalog_writes: WriteCounts,
}

impl RunCounts {
    pub fn write_requests(&self) -> u64 {
        self.interval_writes.write_requests + self.segment_writes.write_requests + self.catalog_writes.write_requests
    }
}

/// The record of one run (kept in the table, listed by `GET /integrations/{id}/runs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    pub run_id: RunId,
    pub tenant_id: TenantId,
    pub integration_id: IntegrationId,
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
    pub outcome: RunOutcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<TimeWindow>,
    /// Interval data is complete up to here after the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complete_through: Option<DateTime<Utc>>,
    pub counts: RunCounts,
    pub vendor_calls: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<FailureReason>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Things the run noticed and did not trust, e.g. a queue listing that dropped most known queues (held until
    /// the next run's listing confirms it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Periods whose agent states the run found lost in the vendor's feed (Amazon Connect: an expired stream
    /// checkpoint or shard, a re-created stream), stored with the run's data and shown by `GET /agent-states`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub agent_state_gaps: Vec<acd_domain::AgentStateGap>,
    /// A store call of the run failed and was only logged (after a vendor failure, which stays the run's reason): a
    /// write of it may still be in flight, so the run keeps its lease for the hold rather than letting it go. Not
    /// stored.
    #[serde(skip)]
    pub store_error_logged: bool,
}

impl RunRecord {
    /// A run that has just started: nothing read or written yet, `Failed` until the run says otherwise.
    pub fn started(
        run_id: RunId,
        tenant_id: TenantId,
        integration_id: IntegrationId,
        started_at: DateTime<Utc>,
    ) -> Self {
        RunRecord {
            run_id,
            tenant_id,
            integration_id,
            started_at,
            ended_at: started_at,
            outcome: RunOutcome::Failed,
            window: None,
            complete_through: None,
            counts: RunCounts::default(),
            vendor_calls: 0,
            reason: None,
            message: None,
            warnings: Vec::new(),
            agent_state_gaps: Vec::new(),
            store_error_logged: false,
        }
    }
}
