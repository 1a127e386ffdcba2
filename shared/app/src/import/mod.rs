//! The scheduled import: from the ACD into DynamoDB, idempotent, resumable and observable.
//!
//! One run: load the integration (deleted or paused → nothing to do), take the lease (another run holds it →
//! nothing to do), check the credentials once (cheap; a rejected secret is re-read once to honour rotation),
//! sync queues, agents and statuses, then read the run window in UTC days — statistics and agent segments — and
//! write only what changed. The completed point advances after each day that succeeded, never past a day that
//! failed; when the Lambda deadline comes close the run stops and the next one continues. Back-fill days are also
//! paced within the vendor's hourly and daily API budget (see [`ImportService::import_days`]). Every run is recorded
//! and the integration's status derived from it.

pub mod plan;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use acd_connectors::{Connector, ConnectorError, ConnectorFactory, Deadline, Pace};
use acd_domain::{
    Credentials, FailureReason, Integration, IntegrationId, IntegrationState, IntegrationStatus, RunId, TenantId,
    TimeWindow,
};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::ports::{ImportStore, IntegrationRepo, QueueRange, SecretStore, StoreError, WriteCounts};

/// What every schedule sends the import function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportEvent {
    pub tenant_id: String,
    pub integration_id: String,
}

/// Tunables (environment of the import function).
#[derive(Debug, Clone)]
pub struct ImportConfig {
    /// How far back every run re-reads (`RECONCILIATION_HOURS`; default 24 for Five9). Genesys Cloud always
    /// re-reads at least 72 hours (its analytics change up to three days later).
    pub reconciliation: Duration,
    /// Stop starting new work when less than this is left before the Lambda deadline.
    pub safety_margin: StdDuration,
    /// Test hook: make the store fail after this many write batches (simulates a run killed mid-way).
    pub abort_after_batches: Option<u64>,
    /// A fixed clock (tests and benchmarks against simulators with a fixed clock); `None` is the real clock.
    pub now: Option<DateTime<Utc>>,
}

impl Default for ImportConfig {
    fn default() -> Self {
        Self {
            reconciliation: Duration::hours(24),
            safety_margin: StdDuration::from_secs(90),
            abort_after_batches: None,
            now: None,
        }
    }
}

impl ImportConfig {
    pub const GENESYS_MIN_RECONCILIATION_HOURS: i64 = 72;

    pub fn from_env() -> Self {
        let hours = std::env::var("RECONCILIATION_HOURS").ok().and_then(|v| v.trim().parse::<i64>().ok());
        Self { reconciliation: Duration::hours(hours.filter(|h| *h > 0).unwrap_or(24)), ..Self::default() }
    }

    fn reconciliation_for(&self, integration: &Integration) -> Duration {
        match integration.kind {
            acd_domain::IntegrationType::GenesysCloud => {
                self.reconciliation.max(Duration::hours(Self::GENESYS_MIN_RECONCILIATION_HOURS))
            }
            acd_domain::IntegrationType::Five9 => self.reconciliation,
        }
    }
}

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
}

/// The answer of one invocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunSummary {
    pub outcome: RunOutcome,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<RunRecord>,
}

impl RunSummary {
    fn skipped(detail: impl Into<String>) -> Self {
        Self { outcome: RunOutcome::Skipped, detail: detail.into(), run: None }
    }
}

/// Errors that end a run: the ACD's (recorded on the integration) or the store's (the invocation fails, so
/// Scheduler retries it and, in the end, dead-letters it).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Vendor(#[from] ConnectorError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

#[derive(Clone)]
pub struct ImportService {
    pub repo: Arc<dyn IntegrationRepo>,
    pub secrets: Arc<dyn SecretStore>,
    pub store: Arc<dyn ImportStore>,
    pub connectors: ConnectorFactory,
    pub config: ImportConfig,
    /// Credentials read in this warm container, by integration.
    credentials: Arc<Mutex<HashMap<IntegrationId, Credentials>>>,
}

impl ImportService {
    pub fn new(
        repo: Arc<dyn IntegrationRepo>,
        secrets: Arc<dyn SecretStore>,
        store: Arc<dyn ImportStore>,
        connectors: ConnectorFactory,
        config: ImportConfig,
    ) -> Self {
        Self { repo, secrets, store, connectors, config, credentials: Arc::default() }
    }

    /// Runs one import for the event, stopping before `deadline`. `Err` only for store failures.
    pub async fn run(&self, event: &ImportEvent, deadline: Deadline) -> Result<RunSummary, StoreError> {
        let (Ok(tenant), Ok(id)) = (TenantId::parse(&event.tenant_id), event.integration_id.parse::<IntegrationId>())
        else {
            tracing::warn!(tenant = %event.tenant_id, integration = %event.integration_id, "malformed import event ignored");
            return Ok(RunSummary::skipped("malformed event"));
        };
        let Some(integration) = self.repo.get(&tenant, id).await? else {
            tracing::info!(tenant = %tenant, integration = %id, "integration deleted: nothing to import");
            return Ok(RunSummary::skipped("integration deleted"));
        };
        if integration.status.state == IntegrationState::Paused {
            tracing::info!(tenant = %tenant, integration = %id, "integration paused: nothing to import");
            return Ok(RunSummary::skipped("integration paused"));
        }
        let run_id = RunId::new();
        let started_at = Utc::now();
        let lease_until =
            started_at + Duration::from_std(deadline.remaining()).unwrap_or_default() + Duration::minutes(1);
        if !self.store.acquire_lease(&tenant, id, run_id, started_at, lease_until).await? {
            tracing::info!(tenant = %tenant, integration = %id, "another import run holds the lease: exiting");
            return Ok(RunSummary::skipped("another run is in progress"));
        }
        tracing::info!(tenant = %tenant, integration = %id, run = %run_id, "import run started");

        let mut record = RunRecord {
            run_id,
            tenant_id: tenant.clone(),
            integration_id: id,
            started_at,
            ended_at: started_at,
            outcome: RunOutcome::Failed,
            window: None,
            complete_through: None,
            counts: RunCounts::default(),
            vendor_calls: 0,
            reason: None,
            message: None,
        };
        let result = self.import(&integration, deadline, &mut record).await;
        record.ended_at = Utc::now();
        let store_failure = match result {
            Ok(outcome) => {
                record.outcome = outcome;
                None
            }
            Err(ImportError::Vendor(e)) => {
                record.outcome = RunOutcome::Failed;
                record.reason = Some(e.reason());
                record.message = Some(e.to_string());
                None
            }
            Err(ImportError::Store(e)) => {
                record.outcome = RunOutcome::Failed;
                record.reason = Some(FailureReason::Internal);
                record.message = Some("storage failure; the run will be retried".into());
                Some(e)
            }
        };
        let status = derive_status(&integration.status, &record);
        // Best effort: a store that just failed may fail again; the lease then expires on its own.
        let bookkeeping = async {
            self.store.record_run(&record).await?;
            self.store.set_status(&tenant, id, &status).await?;
            self.store.release_lease(&tenant, id, run_id).await
        };
        if let Err(e) = bookkeeping.await {
            tracing::error!(tenant = %tenant, integration = %id, run = %run_id, error = %e, "recording the run failed");
            if store_failure.is_none() {
                return Err(e);
            }
        }
        tracing::info!(
            tenant = %tenant, integration = %id, run = %run_id,
            outcome = ?record.outcome, reason = record.reason.map(|r| r.as_str()),
            days = record.counts.days, intervals = record.counts.intervals, segments = record.counts.segments,
            write_requests = record.counts.write_requests(), vendor_calls = record.vendor_calls,
            "import run finished"
        );
        if let Some(e) = store_failure {
            return Err(e);
        }
        Ok(RunSummary {
            outcome: record.outcome,
            detail: format!("{:?}", record.outcome).to_lowercase(),
            run: Some(record),
        })
    }

    async fn credentials(&self, integration: &Integration, fresh: bool) -> Result<Credentials, StoreError> {
        if !fresh && let Some(c) = self.credentials.lock().expect("credentials cache").get(&integration.id) {
            return Ok(c.clone());
        }
        let c = self.secrets.get(&integration.tenant_id, integration.id).await?;
        self.credentials.lock().expect("credentials cache").insert(integration.id, c.clone());
        Ok(c)
    }

    /// A verified connector: the credentials are checked once per run (cheap), and on rejection the secret is
    /// read again once, in case it was rotated since this container cached it.
    async fn connector(
        &self,
        integration: &Integration,
        deadline: Deadline,
    ) -> Result<Box<dyn Connector>, ImportError> {
        let credentials = self.credentials(integration, false).await?;
        let connector = self.connectors.connector(&integration.settings, credentials)?;
        match connector.verify(deadline).await {
            Ok(()) => Ok(connector),
            Err(ConnectorError::CredentialsRejected) => {
                let credentials = self.credentials(integration, true).await?;
                let connector = self.connectors.connector(&integration.settings, credentials)?;
                connector.verify(deadline).await?;
                Ok(connector)
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn import(
        &self,
        integration: &Integration,
        deadline: Deadline,
        record: &mut RunRecord,
    ) -> Result<RunOutcome, ImportError> {
        let now = self.config.now.unwrap_or_else(Utc::now);
        let connector = self.connector(integration, deadline).await?;
        let outcome = self.import_with(integration, connector.as_ref(), now, deadline, record).await;
        record.vendor_calls = connector.calls_made();
        outcome
    }

    async fn import_with(
        &self,
        integration: &Integration,
        connector: &dyn Connector,
        now: DateTime<Utc>,
        deadline: Deadline,
        record: &mut RunRecord,
    ) -> Result<RunOutcome, ImportError> {
        let queues = connector.list_queues(deadline).await?;
        let (writes, ranges) = self.store.sync_queues(integration, &queues, now).await?;
        record.counts.queues = queues.len() as u64;
        record.counts.catalog_writes += writes;
        let agents = connector.list_agents(deadline).await?;
        record.counts.catalog_writes += self.store.sync_agents(integration, &agents, now).await?;
        record.counts.agents = agents.len() as u64;
        let mut unsaved = BTreeMap::new();
        let outcome = self
            .import_days(integration, connector, &queues, &agents, ranges, &mut unsaved, now, deadline, record)
            .await;
        // The data ranges the days written moved: saved once per run, after the data, whatever the outcome.
        if !unsaved.is_empty() {
            let unsaved: Vec<QueueRange> = unsaved.into_values().collect();
            match self.store.extend_queue_ranges(integration, &unsaved).await {
                Ok(writes) => record.counts.catalog_writes += writes,
                Err(e) if outcome.is_err() => tracing::warn!(error = %e, "queue data ranges not saved"),
                Err(e) => return Err(e.into()),
            }
        }
        let outcome = outcome?;
        if outcome == RunOutcome::Partial {
            return Ok(outcome); // out of time or budget: statuses are listed by the run that completes the window
        }
        // Statuses last: Five9 discovers reason codes from the agent-state reports the days just ran.
        let statuses = connector.list_statuses(deadline).await?;
        record.counts.catalog_writes += self.store.sync_statuses(integration, &statuses, now).await?;
        record.counts.statuses = statuses.len() as u64;
        Ok(outcome)
    }

    /// Reads the run window a few UTC days at a time ([`plan::fetch_groups`]) and writes it day by day, advancing
    /// the completed point after each day.
    ///
    /// Before each fetch of days older than the reconciliation re-read ([`plan::reconciliation_start`]) — a
    /// back-fill or a catch-up after a pause — the connector is asked whether the vendor's hourly and daily API
    /// budget has room for it ([`Connector::pace_next_day`]). On [`Pace::Wait`] the run ends `Partial` exactly as when the deadline
    /// is near: every finished day is saved and the pass cursor lets the next scheduled run continue, by which time
    /// the vendor's hourly window may have reset. The days of the reconciliation re-read (what a caught-up run
    /// reads every time: two days with Five9's default 24 hours) are never held back: they are the integration's
    /// steady-state cost, bounded, and pacing them would leave a caught-up integration stale, without an error,
    /// for as long as the customer's other tools use the budget; should they really exhaust a limit, that run
    /// fails `rate_limited`, which is visible. A paced run keeps the reason in its record's `message`.
    #[allow(clippy::too_many_arguments)]
    async fn import_days(
        &self,
        integration: &Integration,
        connector: &dyn Connector,
        queues: &[acd_domain::Queue],
        agents: &[acd_domain::ExternalAgent],
        ranges: Vec<QueueRange>,
        unsaved: &mut BTreeMap<String, QueueRange>,
        now: DateTime<Utc>,
        deadline: Deadline,
        record: &mut RunRecord,
    ) -> Result<RunOutcome, ImportError> {
        let (tenant, id) = (&integration.tenant_id, integration.id);
        let mut state = self.store.load_state(tenant, id).await?;
        let reconciliation = self.config.reconciliation_for(integration);
        let Some(window) = plan::run_window(
            now,
            state.complete_through,
            state.pass_cursor,
            integration.settings.history_days(),
            reconciliation,
        ) else {
            return Ok(RunOutcome::Succeeded);
        };
        record.window = Some(window);
        let queue_ids: Vec<String> = queues.iter().map(|q| q.external_id.clone()).collect();
        let agent_ids: Vec<String> = agents.iter().map(|a| a.external_id.clone()).collect();
        let mut ranges: HashMap<String, QueueRange> = ranges.into_iter().map(|r| (r.external_id.clone(), r)).collect();
        let known: BTreeSet<&str> = queue_ids.iter().map(String::as_str).collect();
        let reconciliation_start = plan::reconciliation_start(window.end, reconciliation);
        if state.written_day.is_none() && (state.complete_through.is_some() || state.pass_cursor.is_some()) {
            // State from before `written_day` existed: any day up to now may hold items.
            state.written_day = Some(plan::day_start(window.end));
        }

        // The run reports the completed point as saved; early returns (deadline, budget) leave it as it is.
        record.complete_through = state.complete_through;
        // Days are fetched a group at a time (as many as the connector takes in one window: one report per kind
        // covers two Five9 days), then written and completed one day at a time.
        for group in plan::fetch_groups(&plan::day_chunks(window), connector.max_window()) {
            let (first, span) = (group[0], TimeWindow { start: group[0].start, end: group[group.len() - 1].end });
            if deadline.remaining() < self.config.safety_margin {
                tracing::info!(tenant = %tenant, integration = %id, next = %first.start, "deadline near: the next run continues");
                return Ok(RunOutcome::Partial);
            }
            if first.start < reconciliation_start {
                match connector.pace_next_day(deadline).await {
                    Ok(Pace::Go) => {}
                    Ok(Pace::Wait { reason }) => {
                        tracing::info!(
                            tenant = %tenant, integration = %id, next = %first.start, reason = %reason,
                            "vendor API budget low: the next run continues"
                        );
                        record.message = Some(format!("paced within the vendor's API budget: {reason}"));
                        return Ok(RunOutcome::Partial);
                    }
                    Err(ConnectorError::DeadlineExceeded) => {
                        return Ok(RunOutcome::Partial);
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            let stats = match connector.interval_stats(queues, span, deadline).await {
                Err(ConnectorError::DeadlineExceeded) => {
                    return Ok(RunOutcome::Partial);
                }
                other => other?,
            };
            let segments = match connector.agent_segments(agents, span, deadline).await {
                Err(ConnectorError::DeadlineExceeded) => {
                    return Ok(RunOutcome::Partial);
                }
                other => other?,
            };
            for chunk in group {
                let stats: Vec<_> = stats
                    .iter()
                    .filter(|s| chunk.contains(s.interval_start) && known.contains(s.queue_external_id.as_str()))
                    .cloned()
                    .collect();
                record.counts.intervals += stats.len() as u64;
                // Chunks start at UTC midnights. A day after the latest one ever written holds no items: mark it
                // before writing (so a run killed while writing leaves the mark) and skip reading the table back.
                let fresh = state.written_day.is_none_or(|day| chunk.start > day);
                if fresh {
                    state.written_day = Some(chunk.start);
                    self.store.save_state(tenant, id, &state).await?;
                }
                record.counts.interval_writes +=
                    self.store.write_intervals(integration, chunk, &queue_ids, &stats, fresh).await?;
                let pieces = plan::owned_pieces(&segments, chunk);
                record.counts.segments += pieces.len() as u64;
                record.counts.segment_writes +=
                    self.store.write_segments(integration, chunk, &agent_ids, &pieces, fresh).await?;

                // A range may only claim data that is written: ranges move after the day's writes. A later
                // `data_to` waits for the end of the run (one UpdateItem per queue per run, see `import_with`); a
                // queue's first data (`data_from`) is saved at once, so a crash never leaves it unset for good.
                let (extended, from_moved) = extend_ranges(&mut ranges, &stats);
                unsaved.extend(extended.into_iter().map(|r| (r.external_id.clone(), r)));
                if from_moved {
                    let extended: Vec<QueueRange> = std::mem::take(unsaved).into_values().collect();
                    record.counts.catalog_writes += self.store.extend_queue_ranges(integration, &extended).await?;
                }
                if state.complete_through.is_none_or(|done| done < chunk.end) {
                    state.complete_through = Some(chunk.end);
                }
                if state.complete_from.is_none_or(|first| chunk.start < first) {
                    state.complete_from = Some(chunk.start);
                }
                // The pass is over when the window's end is reached; until then a later run resumes here.
                state.pass_cursor = (chunk.end < window.end).then_some(chunk.end);
                self.store.save_state(tenant, id, &state).await?;
                record.complete_through = state.complete_through;
                record.counts.days += 1;
            }
        }
        Ok(RunOutcome::Succeeded)
    }
}

/// Widens the known data ranges by the intervals with contacts; returns the ranges that changed, and whether the
/// start of one moved.
fn extend_ranges(
    ranges: &mut HashMap<String, QueueRange>,
    stats: &[acd_domain::IntervalStats],
) -> (Vec<QueueRange>, bool) {
    let mut changed: BTreeSet<String> = BTreeSet::new();
    let mut from_moved = false;
    for s in stats {
        let range = ranges.entry(s.queue_external_id.clone()).or_insert_with(|| QueueRange {
            external_id: s.queue_external_id.clone(),
            data_from: None,
            data_to: None,
        });
        if range.data_from.is_none_or(|f| s.interval_start < f) {
            range.data_from = Some(s.interval_start);
            changed.insert(s.queue_external_id.clone());
            from_moved = true;
        }
        if range.data_to.is_none_or(|t| s.interval_start > t) {
            range.data_to = Some(s.interval_start);
            changed.insert(s.queue_external_id.clone());
        }
    }
    (changed.into_iter().filter_map(|q| ranges.get(&q).cloned()).collect(), from_moved)
}

/// The deadline of a Lambda invocation (`Context::deadline`, milliseconds since the epoch) as a [`Deadline`].
pub fn deadline_from_epoch_ms(deadline_ms: u64) -> Deadline {
    // `cargo lambda watch` (1.9) sends `Lambda-Runtime-Deadline-Ms: 600000`: a duration, not an instant. Any value
    // before 2000-01-01 is read that way (Lambda itself always sends an instant).
    if deadline_ms < 946_684_800_000 {
        return Deadline::after(StdDuration::from_millis(deadline_ms));
    }
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default();
    Deadline::after(StdDuration::from_millis(deadline_ms.saturating_sub(now_ms)))
}

/// The integration's status after a run.
pub fn derive_status(previous: &IntegrationStatus, run: &RunRecord) -> IntegrationStatus {
    let last_success_at = match run.outcome {
        RunOutcome::Succeeded => Some(run.ended_at),
        _ => previous.last_success_at,
    };
    let (state, reason, message) = match run.outcome {
        RunOutcome::Succeeded => (IntegrationState::Operational, None, None),
        RunOutcome::Partial | RunOutcome::Skipped => (IntegrationState::Importing, None, None),
        RunOutcome::Failed => (IntegrationState::Failing, run.reason, run.message.clone()),
    };
    IntegrationStatus { state, reason, message, last_success_at, last_run_at: Some(run.ended_at) }
}

#[cfg(test)]
mod deadline_tests {
    use super::*;

    #[test]
    fn lambda_deadlines_are_instants_and_local_ones_durations() {
        let in_ten_minutes =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64 + 600_000;
        let remaining = deadline_from_epoch_ms(in_ten_minutes).remaining();
        assert!(remaining > StdDuration::from_secs(590) && remaining <= StdDuration::from_secs(600), "{remaining:?}");
        let local = deadline_from_epoch_ms(600_000).remaining();
        assert!(local > StdDuration::from_secs(590) && local <= StdDuration::from_secs(600), "{local:?}");
        assert!(deadline_from_epoch_ms(1_000_000_000_000).is_past());
    }
}
