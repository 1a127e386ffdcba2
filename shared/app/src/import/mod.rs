//! The scheduled import: from the ACD into DynamoDB, idempotent, resumable and observable.
//!
//! One run: load the integration (deleted or paused → nothing to do), take the lease (another run holds it →
//! nothing to do), read the import state (a scheduled run in a quarter hour a run already imported → nothing to
//! do, [`plan::already_imported`]), check the credentials once (cheap; a rejected secret is re-read once to honour
//! rotation), sync queues, agents and statuses, then read the run window in UTC days — statistics and agent
//! segments — and write only what changed. The completed point advances after each day that succeeded, never past
//! a day that failed; when the Lambda deadline comes close the run stops and the next one continues. Back-fill days
//! are also paced within the vendor's hourly and daily API budget (see `ImportService::import_days`). Every run is
//! recorded and the integration's status derived from it.

mod busy;
pub mod plan;
pub mod states;

pub use states::{CADENCE_MINUTES, PassTiming, SCHEDULED_AT, STALE_PASS_AFTER, STATES_PASS, pass_timing};

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use acd_connectors::{Connector, ConnectorError, ConnectorFactory, Deadline, NextFetch, Pace};
use acd_domain::{
    Credentials, FailureReason, Integration, IntegrationId, IntegrationState, IntegrationStatus, RunId, SecretVersion,
    TenantId, TimeWindow,
};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::ports::{
    Acquired, ImportState, ImportStore, IntegrationRepo, LeaseKind, ListingCheck, QueueRange, ScheduleStore,
    SecretStore, StoreError,
};

/// Which pass an import event asks for: the 15-minute import, or agent states only (`"pass": "agent_states"`, sent
/// by the agent-states schedule); `None` for an unknown pass.
pub fn pass_of(payload: &serde_json::Value) -> Option<ImportPass> {
    match payload.get("pass") {
        None | Some(serde_json::Value::Null) => Some(ImportPass::Import),
        Some(p) if p.as_str() == Some(STATES_PASS) => Some(ImportPass::AgentStates),
        Some(_) => None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportPass {
    Import,
    AgentStates,
}

/// What every schedule sends the import function (the agent-states schedule adds `"pass": "agent_states"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportEvent {
    pub tenant_id: String,
    pub integration_id: String,
    /// `true` from the API's "at once" starts (the first import, resume, sync now: the asynchronous invoke or the
    /// one-time schedule): an admin asked for this run, so it runs even in a quarter hour a run already imported
    /// ([`plan::already_imported`]), e.g. to see at once whether credentials revoked at the ACD still work. The
    /// recurring schedule leaves it out (its schedules written before the field existed too).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub at_once: bool,
}

/// Tunables (environment of the import function).
#[derive(Debug, Clone)]
pub struct ImportConfig {
    /// How far back every run re-reads (`RECONCILIATION_HOURS`; default 24 for Five9). Genesys Cloud always
    /// re-reads at least 72 hours (its analytics change up to three days later).
    pub reconciliation: Duration,
    /// Stop starting new work (a fetch) when less than this is left before the Lambda deadline.
    pub safety_margin: StdDuration,
    /// Always kept free at the end of a run for its bookkeeping: the import state, the run record, the status and
    /// the lease (four small requests; the rest covers SDK retries). The ACD is given the deadline minus this.
    pub record_reserve: StdDuration,
    /// Estimated time to write (or read back) one item of a day: before a day's writes start, the time left must
    /// cover `record_reserve` + this × (the items the day's writes put, [`ImportStore::items_to_write`] — with hour
    /// buckets one per queue-hour and agent-hour, not one per interval and segment — + queue and agent partitions).
    /// The run measures its own pace as it writes and uses 1.5 × the slowest day per item when that is more. A day
    /// put off so is written by the next run that fetches it, whatever the estimate
    /// ([`ImportState::write_put_off`]).
    pub write_time_per_item: StdDuration,
    /// How long a run (import or agent-states pass) that stopped while writes of it may still be in flight keeps
    /// its lease: cut off at its deadline, or failed on a store error while other requests were out. A DynamoDB
    /// request already sent is answered or given up within the SDK's attempt timeout (10 s): until then it may
    /// still land, and an import or a pass that took the lease could be rewriting the same agent-hours.
    pub in_flight_hold: StdDuration,
    /// Test hook: make the store fail every write request after this many (BatchWriteItem calls, queue
    /// transactions, catalog updates, digest, state, run-record and status writes): a run killed mid-way.
    pub abort_after_batches: Option<u64>,
    /// A fixed clock (tests and benchmarks against simulators with a fixed clock); `None` is the real clock.
    pub now: Option<DateTime<Utc>>,
    /// How long a tombstone (a delete that started and did not finish) is left to its DELETE before an import
    /// finishes the delete (`ImportService::stop_deleted`), counted on the real clock from the first import that
    /// found it (the record's `deleting_at` is not read through the record port): long enough for the DELETE still running (the
    /// API function stops after 29 s) and for a client's prompt retry, which answers 204 while the tombstone exists.
    pub tombstone_grace: StdDuration,
}

impl Default for ImportConfig {
    fn default() -> Self {
        Self {
            reconciliation: Duration::hours(24),
            safety_margin: StdDuration::from_secs(90),
            record_reserve: StdDuration::from_secs(10),
            // In AWS a BatchWriteItem of 25 items takes 15–30 ms and the import keeps 4 in flight: ≈ 0.15–0.3 ms an
            // item; moto here takes ≈ 0.17 ms a single item (`scripts/bench-import`), and a 128 MB function (a
            // fraction of a vCPU) spends ≈ 0.08 ms of CPU an item. 2 ms until 2026-12-04: a 5,000-agent Five9 day
            // (≈ 430,000 segments) "needed" 14 minutes, more than a run has, and was fetched again and again
            // ([`ImportState::write_put_off`]). Counted per interval and segment until 2026-12-05, also with hour
            // buckets (≈ 12 segments an item): a 10,000-agent day "needed" 7 minutes, and was put off with the next.
            write_time_per_item: StdDuration::from_micros(500),
            in_flight_hold: StdDuration::from_secs(30),
            abort_after_batches: None,
            now: None,
            tombstone_grace: StdDuration::from_secs(5 * 60),
        }
    }
}

impl ImportConfig {
    /// The reconciliation window of one integration: the configured one, or its vendor's minimum if longer.
    fn reconciliation_for(&self, vendor: &dyn acd_connectors::Vendor) -> Duration {
        self.reconciliation.max(vendor.min_reconciliation())
    }

    /// The time writing `items` at `per_item` each and the run's bookkeeping ([`Self::record_reserve`]) need: what a
    /// day's writes (and an agent-states pass's) must find left before they start.
    fn write_time(&self, per_item: StdDuration, items: u32) -> StdDuration {
        self.record_reserve + per_item.saturating_mul(items)
    }
}

pub use self::busy::BUSY_TOLERANCE;
pub use crate::ports::runs::{RunCounts, RunOutcome, RunRecord};

/// How often an import waiting for an agent-states pass looks at the pass's lease again.
const STATES_WAIT_POLL: StdDuration = StdDuration::from_millis(500);

/// The answer of one invocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunSummary {
    pub outcome: RunOutcome,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<RunRecord>,
}

impl RunSummary {
    pub(crate) fn skipped(detail: impl Into<String>) -> Self {
        Self { outcome: RunOutcome::Skipped, detail: detail.into(), run: None }
    }
}

/// Errors that end a run: the ACD's and the integration's configuration (recorded on the integration), a delete
/// that started meanwhile (the run stops), or the store's (the invocation fails, so Lambda retries it and, in the
/// end, dead-letters it).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Vendor(#[from] ConnectorError),
    /// The integration cannot run as configured (its credentials secret is missing or unreadable): retrying the
    /// invocation cannot help, the admin must act.
    #[error("{0}")]
    Configuration(String),
    /// The integration was deleted while the run was going.
    #[error("the integration was deleted")]
    Deleted,
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

/// Credentials read in a warm container, with the record's `updated_at` they were read for.
#[derive(Clone)]
struct CachedCredentials {
    credentials: Credentials,
    /// The version read (`None`: the current one, for a record that names none).
    version: Option<SecretVersion>,
    record_updated_at: DateTime<Utc>,
    read_at: DateTime<Utc>,
}

impl CachedCredentials {
    /// Whether these are the credentials `integration`'s record is in force with. A record that names its secret's
    /// version is answered by that version, whatever happened since (versions never change). One written before
    /// versions were named is answered by the current version: reused for the record's `updated_at` only, and
    /// only if read [`PATCH_SETTLE`] after it, as the releases that wrote such records put the secret after the
    /// record.
    fn serve(&self, integration: &Integration) -> bool {
        match &integration.secret_version {
            Some(version) => self.version.as_ref() == Some(version),
            None => {
                self.version.is_none()
                    && self.record_updated_at == integration.updated_at
                    && self.read_at >= integration.updated_at + PATCH_SETTLE
            }
        }
    }
}

/// A PATCH of a release before secret versions were named wrote the record (new `updated_at`) and then the secret,
/// within the API function's 29 s timeout: credentials read less than this after such a record changed may predate
/// the new secret and are not reused.
const PATCH_SETTLE: Duration = Duration::seconds(30);

/// The secret's current version, tried after the ACD rejected the record's ([`ImportService::current_connector`]).
struct CurrentCredentials {
    connector: Box<dyn Connector>,
    credentials: Credentials,
    read_at: DateTime<Utc>,
}

#[derive(Clone)]
pub struct ImportService {
    pub repo: Arc<dyn IntegrationRepo>,
    pub secrets: Arc<dyn SecretStore>,
    pub store: Arc<dyn ImportStore>,
    pub connectors: ConnectorFactory,
    pub config: ImportConfig,
    /// Credentials read in this warm container, by integration, valid for one `updated_at` of its record.
    credentials: Arc<Mutex<HashMap<IntegrationId, CachedCredentials>>>,
    /// Where status-change events go (none: not published). See [`crate::events`].
    pub events: Option<Arc<dyn crate::ports::EventPublisher>>,
    /// The integrations' schedules, to remove what a deleted integration left behind (`stop_deleted`);
    /// `None`: left alone.
    pub schedules: Option<Arc<dyn ScheduleStore>>,
}

impl ImportService {
    pub fn new(
        repo: Arc<dyn IntegrationRepo>,
        secrets: Arc<dyn SecretStore>,
        store: Arc<dyn ImportStore>,
        connectors: ConnectorFactory,
        config: ImportConfig,
    ) -> Self {
        Self { repo, secrets, store, connectors, config, credentials: Arc::default(), events: None, schedules: None }
    }

    /// Removes what deleted integrations left behind (their schedules, their secret, the rest of a delete that failed
    /// half-way) when one of their imports is invoked (`stop_deleted`).
    pub fn with_schedules(mut self, schedules: Arc<dyn ScheduleStore>) -> Self {
        self.schedules = Some(schedules);
        self
    }

    /// Publishes status-change events (`integration.failing`, `integration.recovered`) to `events`.
    pub fn with_events(mut self, events: Arc<dyn crate::ports::EventPublisher>) -> Self {
        self.events = Some(events);
        self
    }

    /// Runs one import for the event, stopping before `deadline`. `Err` only for store failures. The steps: take
    /// the lease, import (listings, then the days of the run window), settle the outcome, record the run.
    pub async fn run(&self, event: &ImportEvent, deadline: Deadline) -> Result<RunSummary, StoreError> {
        let lease = match self.lease(event, deadline).await? {
            Ok(lease) => lease,
            Err(skipped) => return Ok(skipped),
        };
        let Lease { integration, run_id, started_at, state } = lease;
        let integration = &integration;
        let mut record = RunRecord::started(run_id, integration.tenant_id.clone(), integration.id, started_at);
        let result = self.import(integration, state, deadline, &mut record).await;
        record.ended_at = Utc::now();
        match self.settle(integration, result, &mut record).await? {
            Settled::Record { store_failure } => self.finish(integration, record, store_failure).await,
            Settled::Deleted => Ok(RunSummary::skipped("integration deleted")),
        }
    }

    /// Loads the integration and takes its lease; `Err` with the summary of a run that has nothing to do (a
    /// malformed event, a deleted or paused integration, a pushed type, another run holding the lease).
    async fn lease(&self, event: &ImportEvent, deadline: Deadline) -> Result<Result<Lease, RunSummary>, StoreError> {
        let (Ok(tenant), Ok(id)) = (TenantId::parse(&event.tenant_id), event.integration_id.parse::<IntegrationId>())
        else {
            tracing::warn!(tenant = %event.tenant_id, integration = %event.integration_id, "malformed import event ignored");
            return Ok(Err(RunSummary::skipped("malformed event")));
        };
        let Some(integration) = self.repo.get(&tenant, id).await? else {
            return self.stop_deleted(&tenant, id).await.map(Err);
        };
        if integration.status.state == IntegrationState::Paused {
            tracing::info!(tenant = %tenant, integration = %id, "integration paused: nothing to import");
            return Ok(Err(RunSummary::skipped("integration paused")));
        }
        if acd_connectors::vendor_of(&integration.kind).is_ok_and(|v| !v.pulls()) {
            // Pushed data: nothing to import; the run only watches for silence (`no_data`, crate::ingest::watch).
            return self.watch_push(&integration).await.map(Err);
        }
        let run_id = RunId::new();
        let started_at = Utc::now();
        let lease_until = lease_until(started_at, deadline);
        let acquired = take_lease(self.store.as_ref(), LeaseKind::Import, &tenant, id, run_id, started_at, lease_until);
        if !acquired.await?.taken() {
            tracing::info!(tenant = %tenant, integration = %id, "another import run holds the lease: exiting");
            return Ok(Err(RunSummary::skipped("another run is in progress")));
        }
        let leased = self.leased(event, deadline, &tenant, id, run_id, started_at).await;
        if leased.is_err() {
            // A store failure with the lease held: it goes, so the retry (or the next run) is not kept out.
            let _ = self.store.release_lease(LeaseKind::Import, &tenant, id, run_id).await;
        }
        leased
    }

    /// [`Self::lease`] once the lease is held: the checks and reads that need it.
    async fn leased(
        &self,
        event: &ImportEvent,
        deadline: Deadline,
        tenant: &TenantId,
        id: IntegrationId,
        run_id: RunId,
        started_at: DateTime<Utc>,
    ) -> Result<Result<Lease, RunSummary>, StoreError> {
        // A DELETE or a pause may have come between the read above and the lease: look again with the lease held.
        // (Queue writes are conditional on the record anyway, so a delete starting later still cannot be undone.)
        // The run goes on with the record read now: the status another run saved before it let the lease go.
        let Some(integration) = self.repo.get(tenant, id).await? else {
            self.store.release_lease(LeaseKind::Import, tenant, id, run_id).await?;
            return self.stop_deleted(tenant, id).await.map(Err);
        };
        if integration.status.state == IntegrationState::Paused {
            // Paused since the read above: the admin's pause is the newer word.
            self.store.release_lease(LeaseKind::Import, tenant, id, run_id).await?;
            tracing::info!(tenant = %tenant, integration = %id, "integration paused as the run started: nothing to import");
            return Ok(Err(RunSummary::skipped("integration paused")));
        }
        if !self.wait_for_states_pass(&integration, deadline).await? {
            self.store.release_lease(LeaseKind::Import, tenant, id, run_id).await?;
            tracing::warn!(tenant = %tenant, integration = %id, "an agent-states pass still holds its lease: the next run imports");
            return Ok(Err(RunSummary::skipped("an agent-states pass is still running")));
        }
        // The state is read with the lease held (no other run moves it now) and handed to the run; a failed read is
        // the run's failure, recorded as before the state was read here.
        let state = self.store.load_state(tenant, id).await;
        let now = self.config.now.unwrap_or(started_at);
        let operational = integration.status.state == IntegrationState::Operational;
        if !event.at_once
            && let Ok(state) = &state
            && plan::already_imported(now, operational, integration.updated_at, state)
        {
            // Nothing recorded: the status and the runs stay those of the run that imported this quarter hour.
            self.store.release_lease(LeaseKind::Import, tenant, id, run_id).await?;
            let through = acd_domain::acd::floor_to_interval(now).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            tracing::info!(tenant = %tenant, integration = %id, through = %through, "imported through this quarter hour already: nothing to do");
            return Ok(Err(RunSummary::skipped(format!(
                "imported through {through} already by this quarter hour's run: nothing new to read"
            ))));
        }
        if states::has_pass(&integration) {
            // The run may write agent segments: what the last agent-states pass left stored must go first (not
            // gone, the run fails before writing, and lets its lease go).
            self.store.forget_seen_states(tenant, id).await?;
        }
        tracing::info!(tenant = %tenant, integration = %id, run = %run_id, "import run started");
        Ok(Ok(Lease { integration, run_id, started_at, state }))
    }

    /// With the import's lease held, waits while an agent-states pass holds its lease (it writes the same
    /// agent-hours; a pass that starts now sees the import's lease and stops): `false` if the pass still holds it
    /// when less than the safety margin is left. A pass runs at most [`states::PASS_TIME_LIMIT`], so this is seconds,
    /// or minutes after a pass that died. Vendors without a pass never hold that lease: nothing is read.
    async fn wait_for_states_pass(&self, integration: &Integration, deadline: Deadline) -> Result<bool, StoreError> {
        if !states::has_pass(integration) {
            return Ok(true);
        }
        let (tenant, id) = (&integration.tenant_id, integration.id);
        let mut logged = false;
        while self.store.lease_held(LeaseKind::AgentStates, tenant, id, Utc::now()).await? {
            if deadline.remaining() < self.config.safety_margin + STATES_WAIT_POLL {
                return Ok(false);
            }
            if !logged {
                tracing::info!(tenant = %tenant, integration = %id, "an agent-states pass is running: waiting for it");
                logged = true;
            }
            tokio::time::sleep(STATES_WAIT_POLL).await;
        }
        Ok(true)
    }

    /// Puts the import's result on the record ([`Settled`]).
    async fn settle(
        &self,
        integration: &Integration,
        result: Result<RunOutcome, ImportError>,
        record: &mut RunRecord,
    ) -> Result<Settled, StoreError> {
        let (tenant, id, run_id) = (&integration.tenant_id, integration.id, record.run_id);
        let store_failure = match result {
            Ok(outcome) => {
                record.outcome = outcome;
                None
            }
            // A busy ACD user is not the integration's failure unless it lasts (see `busy`).
            Err(ImportError::Vendor(ConnectorError::Busy { message })) => {
                let now = self.config.now.unwrap_or(record.ended_at);
                match busy::ended_busy(self.store.as_ref(), tenant, id, now, &message, record).await {
                    Ok(()) => None,
                    Err(e) => {
                        record.outcome = RunOutcome::Failed;
                        record.reason = Some(FailureReason::Internal);
                        record.message = Some("storage failure; the run will be retried".into());
                        Some(e)
                    }
                }
            }
            Err(ImportError::Vendor(e)) => {
                record.outcome = RunOutcome::Failed;
                record.reason = Some(e.reason());
                record.message = Some(e.to_string());
                None
            }
            Err(ImportError::Configuration(message)) => {
                tracing::warn!(tenant = %tenant, integration = %id, run = %run_id, message = %message, "configuration problem");
                record.outcome = RunOutcome::Failed;
                record.reason = Some(FailureReason::ConfigurationWrong);
                record.message = Some(message);
                None
            }
            Err(ImportError::Deleted) => {
                // Nothing to record on a deleted integration: let the lease go and stop.
                self.store.release_lease(LeaseKind::Import, tenant, id, run_id).await?;
                tracing::info!(tenant = %tenant, integration = %id, run = %run_id, "integration deleted during the run: stopped");
                return Ok(Settled::Deleted);
            }
            Err(ImportError::Store(e)) => {
                record.outcome = RunOutcome::Failed;
                record.reason = Some(FailureReason::Internal);
                record.message = Some("storage failure; the run will be retried".into());
                Some(e)
            }
        };
        Ok(Settled::Record { store_failure })
    }

    /// Records the run, sets the status it calls for and lets the lease go; then its metrics and event.
    async fn finish(
        &self,
        integration: &Integration,
        record: RunRecord,
        store_failure: Option<StoreError>,
    ) -> Result<RunSummary, StoreError> {
        let (tenant, id, run_id) = (&integration.tenant_id, integration.id, record.run_id);
        let status = derive_status(&integration.status, &record);
        let failing_since = failing_since_after_run(integration, &status, &record);
        // Best effort: a store that just failed may fail again. After a store failure (the run's, one it only logged,
        // or of this bookkeeping) other writes of the run may still be in flight: the lease is kept until they have
        // landed, and no longer. The status is written even when the run's record could not be: it is what the
        // admin sees.
        let run_recorded = self.store.record_run(&record).await;
        let stored_since = failing_since_where_none(integration, failing_since, &record);
        let saved = self.store.save_status(tenant, id, &status, stored_since).await;
        // The stored one: the record's own unless a pause and resume removed it while the run went on. A status
        // refused (deleted or paused meanwhile) changed nothing: no status-change event for it. A write that failed
        // may still have been applied (its answer lost): the record, read again, says whether the status is the
        // run's (until 2026-12-07 a failed write, or a status never written because the run's record failed first,
        // still sent an event; the import review found it).
        let (failing_since, status_written) = match &saved {
            Ok(crate::ports::StatusWrite::Applied { failing_since: stored }) => (stored.or(failing_since), true),
            Ok(crate::ports::StatusWrite::Refused) => (failing_since, false),
            Err(_) => match self.repo.get(tenant, id).await {
                Ok(Some(stored)) if stored.status == status => (stored.failing_since.or(failing_since), true),
                _ => (failing_since, false),
            },
        };
        let recorded = run_recorded.and(saved.map(|_| ()));
        let lease = if store_failure.is_none() && recorded.is_ok() && !record.store_error_logged {
            self.store.release_lease(LeaseKind::Import, tenant, id, run_id).await
        } else {
            self.hold_lease(LeaseKind::Import, tenant, id, run_id).await
        };
        // A bookkeeping failure fails the invocation (for Lambda's retry), after the metrics and the event of what
        // was written: a status saved here is the stored one, and the retry would see no change to announce.
        let bookkeeping_failure = recorded.and(lease).err().inspect(|e| {
            tracing::error!(tenant = %tenant, integration = %id, run = %run_id, error = %e, "recording the run failed");
        });
        tracing::info!(
            tenant = %tenant, integration = %id, run = %run_id,
            outcome = ?record.outcome, reason = record.reason.map(|r| r.as_str()),
            days = record.counts.days, intervals = record.counts.intervals, segments = record.counts.segments,
            write_requests = record.counts.write_requests(), vendor_calls = record.vendor_calls,
            "import run finished"
        );
        // Metrics (EMF line) and the status-change event, if any.
        let data_now = self.config.now.unwrap_or(record.ended_at);
        let change = status_written.then_some(&status);
        crate::events::after_run(
            self.events.as_deref(),
            integration,
            &record,
            &status,
            change,
            failing_since,
            data_now,
        )
        .await;
        if let Some(e) = store_failure.or(bookkeeping_failure) {
            return Err(e);
        }
        Ok(RunSummary {
            outcome: record.outcome,
            detail: format!("{:?}", record.outcome).to_lowercase(),
            run: Some(record),
        })
    }

    /// Keeps the lease of a run that stopped with writes possibly in flight for [`ImportConfig::in_flight_hold`]
    /// from now (shortened from its full length, so the next run is not kept out longer than that).
    async fn hold_lease(
        &self,
        kind: LeaseKind,
        tenant: &TenantId,
        id: IntegrationId,
        run_id: RunId,
    ) -> Result<(), StoreError> {
        let until = Utc::now() + Duration::from_std(self.config.in_flight_hold).unwrap_or_default();
        self.store.hold_lease(kind, tenant, id, run_id, until).await
    }

    /// The deadline the ACD's calls get: the run's minus the bookkeeping reserve.
    fn vendor_deadline(&self, deadline: Deadline) -> Deadline {
        Deadline::at(deadline.instant().checked_sub(self.config.record_reserve).unwrap_or(deadline.instant()))
    }

    /// A deleted integration has nothing to import. What its delete may have left is removed here, as nothing else
    /// would once the record is invisible (with the schedule store, [`Self::with_schedules`]; without it, only the
    /// queues of a tombstone are made inactive):
    /// - No record at all: its schedules are deleted and its secret is scheduled for deletion after a recovery window
    ///   ([`SecretStore::delete_recoverable`]; idempotent; usually there are none). An import is only ever started
    ///   after its record was written, so a missing record was deleted — e.g. by a DELETE that ran between a create's
    ///   record write and its secret and schedule writes, after which that create answers 201 for an id that is
    ///   gone, and its schedule would invoke this function for ever — or the table itself was replaced (every
    ///   integration's import comes here then): until 2026-12-08 the secret was deleted at once, so credentials
    ///   could not be restored with the table; now they can for 30 days (infra/README.md, "If the table is replaced").
    /// - A tombstone (a delete that started and did not finish, e.g. a DELETE that answered 503 after it): its queues
    ///   are made inactive at once; once the grace ([`ImportConfig::tombstone_grace`]) is over, the delete is
    ///   finished as the DELETE route does it ([`crate::integrations::finish_delete`]: schedules, secret, then the
    ///   record, its name and its quota place; the imported data stays). The grace runs from the first import that
    ///   finds the tombstone: it takes the import lease (which no import of a tombstone takes otherwise) until the
    ///   grace ends and keeps it; the run that takes the lease over after that finishes the delete, and lets it go.
    ///   (A lease left expired by a run that died before the delete counts as a grace over: the first run finishes
    ///   the delete then; every step being idempotent, a DELETE it overlaps still answers 204, and at worst
    ///   `integration.deleted` is published twice.)
    ///
    /// A record that exists without a tombstone never gets here.
    async fn stop_deleted(&self, tenant: &TenantId, id: IntegrationId) -> Result<RunSummary, StoreError> {
        let deleted = || Ok(RunSummary::skipped("integration deleted"));
        let Some(tombstone) = self.repo.get_deleting(tenant, id).await? else {
            match &self.schedules {
                Some(schedules) => {
                    // The secret first: should its removal fail, the schedules stay and invoke this again (a rolled
                    // back create keeps them for this when its own removal of the secret failed).
                    self.secrets.delete_recoverable(tenant, id).await?;
                    schedules.delete_orphaned(tenant, id).await?;
                    tracing::info!(tenant = %tenant, integration = %id, "integration deleted: nothing to import; any schedule it left removed, any secret scheduled for deletion");
                }
                None => tracing::info!(tenant = %tenant, integration = %id, "integration deleted: nothing to import"),
            }
            return deleted();
        };
        self.repo.deactivate_queues(tenant, id).await?;
        let Some(schedules) = &self.schedules else {
            tracing::info!(tenant = %tenant, integration = %id, "integration being deleted: queues inactive, nothing imported");
            return deleted();
        };
        let (run_id, now) = (RunId::new(), Utc::now());
        let grace = self.config.tombstone_grace;
        let until = now + Duration::from_std(grace).unwrap_or_default();
        match take_lease(self.store.as_ref(), LeaseKind::Import, tenant, id, run_id, now, until).await? {
            Acquired::Free => {
                tracing::info!(tenant = %tenant, integration = %id, ?grace, "integration being deleted: queues inactive, nothing imported; an import after the grace finishes the delete");
            }
            Acquired::No => {
                tracing::info!(tenant = %tenant, integration = %id, "integration being deleted: queues inactive, nothing imported; its grace is not over");
            }
            Acquired::OverExpired => {
                let (repo, secrets, events) = (self.repo.as_ref(), self.secrets.as_ref(), self.events.as_deref());
                if let Err(e) =
                    crate::integrations::finish_delete(repo, schedules.as_ref(), secrets, events, &tombstone).await
                {
                    // The grace is over: the lease expires now, so that the retry of this invocation (or the next
                    // run) tries again at once.
                    let _ = self.store.hold_lease(LeaseKind::Import, tenant, id, run_id, Utc::now()).await;
                    return Err(e);
                }
                tracing::info!(tenant = %tenant, integration = %id, "a delete left half-way finished by the import");
                if let Err(e) = self.store.release_lease(LeaseKind::Import, tenant, id, run_id).await {
                    tracing::warn!(tenant = %tenant, integration = %id, error = %e, "letting the lease go after finishing a delete failed; it expires with the grace");
                }
            }
        }
        deleted()
    }

    /// The integration's credentials: the secret's version the record names (or its current version, for a
    /// record that names none), from this container's cache when it holds them ([`CachedCredentials::serve`]).
    /// `current`: the secret's current version, read again whatever the cache holds — after the ACD rejected the
    /// record's, in case they were replaced in Secrets Manager directly.
    /// A missing or unreadable secret is a configuration problem of the integration, not a storage failure.
    async fn credentials(&self, integration: &Integration, current: bool) -> Result<Credentials, ImportError> {
        if !current
            && let Some(c) = self.credentials.lock().expect("credentials cache").get(&integration.id)
            && c.serve(integration)
        {
            return Ok(c.credentials.clone());
        }
        let (tenant, id) = (&integration.tenant_id, integration.id);
        let named = if current { None } else { integration.secret_version.as_ref() };
        let read_at = Utc::now();
        let mut read = self.secrets.get(tenant, id, named).await;
        if named.is_some() && matches!(read, Err(StoreError::NotFound)) {
            // Secrets Manager removes unlabelled versions beyond a secret's latest 100: the current one is the best
            // there is (the secret itself missing is the error below).
            tracing::warn!(tenant = %tenant, integration = %id, "the secret version the record names is gone: reading the current one");
            read = self.secrets.get(tenant, id, None).await;
        }
        let credentials = match read {
            Ok(c) => c,
            Err(StoreError::NotFound) => {
                return Err(ImportError::Configuration(
                    "the integration's credentials secret is missing: enter the credentials again (PATCH)".into(),
                ));
            }
            Err(StoreError::Corrupt(e)) => {
                return Err(ImportError::Configuration(format!(
                    "the integration's credentials secret cannot be read ({e}): enter the credentials again (PATCH)"
                )));
            }
            Err(e) => return Err(e.into()),
        };
        if !current {
            self.remember(integration, &credentials, read_at);
        }
        Ok(credentials)
    }

    /// Keeps `credentials` (read at `read_at`) as those this container uses for `integration`'s record.
    fn remember(&self, integration: &Integration, credentials: &Credentials, read_at: DateTime<Utc>) {
        let cached = CachedCredentials {
            credentials: credentials.clone(),
            version: integration.secret_version.clone(),
            record_updated_at: integration.updated_at,
            read_at,
        };
        self.credentials.lock().expect("credentials cache").insert(integration.id, cached);
    }

    /// After the ACD rejected the credentials of `integration`'s record: a connector with the secret's current
    /// version, and what [`Self::remember_current`] keeps once the ACD took them (not before: a run whose
    /// rejection was passing must not leave the container on another version for its life).
    /// `None` when the current version holds the `rejected` credentials themselves, or is missing or cannot be used
    /// (logged): nothing else to try, no second refused login, and the rejection is the run's failure, not that
    /// version's own configuration problem. A storage failure reading it is the error.
    async fn current_connector(
        &self,
        integration: &Integration,
        rejected: &Credentials,
    ) -> Result<Option<CurrentCredentials>, ImportError> {
        let unusable = |e: ImportError| match e {
            ImportError::Store(_) => Err(e),
            e => {
                let (tenant, id) = (&integration.tenant_id, integration.id);
                tracing::warn!(tenant = %tenant, integration = %id, error = %e, "the secret's current version could not be read after a rejection");
                Ok(None)
            }
        };
        let read_at = Utc::now();
        let credentials = match self.credentials(integration, true).await {
            Ok(credentials) if credentials.same_as(rejected) => return Ok(None),
            Ok(credentials) => credentials,
            Err(e) => return unusable(e),
        };
        match self.build_connector(integration, credentials.clone()) {
            Ok(connector) => Ok(Some(CurrentCredentials { connector, credentials, read_at })),
            Err(e) => unusable(e),
        }
    }

    /// The current version worked: the record's later runs in this container use it too.
    fn remember_current(&self, integration: &Integration, current: &CurrentCredentials) {
        if integration.secret_version.is_some() {
            tracing::warn!(tenant = %integration.tenant_id, integration = %integration.id, "the ACD rejected the credentials the record names and took the secret's current version: enter the credentials through the API (PATCH) so that the record describes them");
        }
        self.remember(integration, &current.credentials, current.read_at);
    }

    /// The vendor's connector with `credentials`.
    fn build_connector(
        &self,
        integration: &Integration,
        credentials: Credentials,
    ) -> Result<Box<dyn Connector>, ImportError> {
        self.connectors.connector(&integration.kind, &integration.settings, credentials)?.ok_or_else(|| {
            ImportError::Configuration(format!("integrations of type {} have no connector", integration.kind))
        })
    }

    /// A verified connector: the credentials are checked once per run (cheap), and on rejection the secret's
    /// current version is read and tried once, in case the credentials were replaced in Secrets Manager directly
    /// (or, for a record that names no version, by a PATCH since this container cached them).
    async fn connector(
        &self,
        integration: &Integration,
        deadline: Deadline,
    ) -> Result<Box<dyn Connector>, ImportError> {
        let credentials = self.credentials(integration, false).await?;
        let connector = self.build_connector(integration, credentials.clone())?;
        match connector.verify(deadline).await {
            Ok(()) => Ok(connector),
            Err(ConnectorError::CredentialsRejected) => {
                // (A storage failure reading the current version is the run's error, and the run is retried.)
                let Some(current) = self.current_connector(integration, &credentials).await? else {
                    return Err(ConnectorError::CredentialsRejected.into());
                };
                current.connector.verify(deadline).await?;
                self.remember_current(integration, &current);
                Ok(current.connector)
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn import(
        &self,
        integration: &Integration,
        state: Result<ImportState, StoreError>,
        deadline: Deadline,
        record: &mut RunRecord,
    ) -> Result<RunOutcome, ImportError> {
        let state = state?;
        // The run reports the completed point as saved, from the start: a run that stops before its days (the
        // credentials check, the listings, a held listing, a busy ACD user) reports it too, and so its `DataLag`
        // ([`crate::metrics`]); the days move it on as they are written.
        record.complete_through = state.complete_through;
        let now = self.config.now.unwrap_or_else(Utc::now);
        // The ACD gets the deadline minus the bookkeeping reserve: a call it cannot finish by then ends the run
        // `partial`, with time left to record it.
        let vendor_deadline = self.vendor_deadline(deadline);
        let connector = self.connector(integration, vendor_deadline).await?;
        let outcome = self.import_with(integration, state, connector.as_ref(), now, deadline, record).await;
        record.vendor_calls = connector.calls_made();
        outcome
    }

    async fn import_with(
        &self,
        integration: &Integration,
        state: ImportState,
        connector: &dyn Connector,
        now: DateTime<Utc>,
        deadline: Deadline,
        record: &mut RunRecord,
    ) -> Result<RunOutcome, ImportError> {
        let Some(listed) = self.listings(integration, state, connector, now, deadline, record).await? else {
            return Ok(RunOutcome::Partial);
        };
        let run = DayRun {
            integration,
            connector,
            queue_ids: listed.queues.iter().map(|q| q.external_id.clone()).collect(),
            agent_ids: listed.agents.iter().map(|a| a.external_id.clone()).collect(),
            queues: &listed.queues,
            agents: &listed.agents,
            now,
            deadline,
            vendor_deadline: self.vendor_deadline(deadline),
            reads: listed.reads,
        };
        let mut progress = DayProgress {
            state: listed.state,
            saved_to: listed.ranges.iter().map(|r| (r.external_id.clone(), r.data_to)).collect(),
            ranges: listed.ranges.into_iter().map(|r| (r.external_id.clone(), r)).collect(),
            unsaved: BTreeMap::new(),
            statuses_synced: false,
            known_statuses: None,
            measured_per_item: StdDuration::ZERO,
        };
        let outcome = match self.import_days(&run, &mut progress, record).await {
            Ok(()) => Ok(RunOutcome::Succeeded),
            // Not every day read was written, so no feed position may move; what the connector learned of the vendor
            // (the reports it ran) is kept for the next run all the same.
            Err(stop @ (Stop::Pause | Stop::Paced(_))) => {
                if let Stop::Paced(reason) = stop {
                    record.message = Some(format!("paced within the vendor's API budget: {reason}"));
                }
                self.keep_cursor(integration, &mut progress, connector.learned_cursor()).await?;
                Ok(RunOutcome::Partial)
            }
            // Also after a failure (best effort; the run's error stays its own): a large domain's first fetch, cut by
            // the average, can run into the vendor's hourly limit, and the next run must not plan it the same way.
            Err(Stop::Fail(e)) => {
                if let Err(not_saved) = self.keep_cursor(integration, &mut progress, connector.learned_cursor()).await {
                    tracing::warn!(error = %not_saved, "what the connector learned of the vendor was not saved");
                    record.store_error_logged = true;
                }
                Err(e)
            }
        };
        // The data ranges the days written moved: saved once per run, after the data, whatever the outcome — a
        // later end only when it is due ([`range_end_due`]; a later run re-reads it and saves it then).
        let unsaved: Vec<QueueRange> = progress
            .unsaved
            .into_values()
            .filter(|r| range_end_due(progress.saved_to.get(&r.external_id).copied().flatten(), r.data_to, now))
            .collect();
        if !unsaved.is_empty() {
            match self.store.extend_queue_ranges(integration, &unsaved).await {
                Ok(writes) => record.counts.catalog_writes += writes,
                Err(e) if outcome.is_err() => {
                    tracing::warn!(error = %e, "queue data ranges not saved");
                    record.store_error_logged = true;
                }
                Err(e) => return Err(e.into()),
            }
        }
        let outcome = outcome?;
        if outcome == RunOutcome::Partial || progress.statuses_synced {
            return Ok(outcome);
        }
        // No day referred to a status this run had not stored yet: list them once at the end. Every day is written
        // by now, and the last one may have left only the bookkeeping reserve (`write_day` asks for no more before
        // its writes; a day written anyway asks for nothing), which the ACD's deadline already leaves out: a listing
        // cut off by that deadline ends the run `partial`, as a cut-off fetch does, never `failed` — its data is
        // saved, and the next run lists the statuses.
        match self.sync_statuses(integration, connector, now, run.vendor_deadline, record).await {
            Ok(_) => Ok(outcome),
            Err(ImportError::Vendor(ConnectorError::DeadlineExceeded)) => {
                tracing::info!(
                    tenant = %integration.tenant_id, integration = %integration.id,
                    "deadline near: the statuses are listed by the next run"
                );
                let message = "every day was written; the deadline came before the statuses were listed: the next \
                               run lists them";
                record.message = Some(message.into());
                Ok(RunOutcome::Partial)
            }
            Err(e) => Err(e),
        }
    }

    /// Saves the connector's `cursor` ([`Connector::vendor_cursor`] after a run that wrote every day it read,
    /// [`Connector::learned_cursor`] otherwise) when there is one and it differs from the stored one.
    async fn keep_cursor(
        &self,
        integration: &Integration,
        progress: &mut DayProgress,
        cursor: Option<serde_json::Value>,
    ) -> Result<(), StoreError> {
        if let Some(cursor) = cursor
            && progress.state.vendor_cursor.as_ref() != Some(&cursor)
        {
            self.store.save_vendor_cursor(&integration.tenant_id, integration.id, &cursor).await?;
            progress.state.vendor_cursor = Some(cursor);
        }
        Ok(())
    }

    /// Lists and stores the queues and agents. `None` when a listing suddenly dropped most known queues or agents:
    /// it is held (they stay active), the days wait — nothing is read, so nothing is claimed complete on a doubtful
    /// listing — and the next run's listing decides.
    async fn listings(
        &self,
        integration: &Integration,
        mut state: ImportState,
        connector: &dyn Connector,
        now: DateTime<Utc>,
        deadline: Deadline,
        record: &mut RunRecord,
    ) -> Result<Option<Listed>, ImportError> {
        let (tenant, id) = (&integration.tenant_id, integration.id);
        let vendor_deadline = self.vendor_deadline(deadline);
        let queues = connector.list_queues(vendor_deadline).await?;
        let once_seen: std::collections::HashSet<String> =
            queues.iter().filter(|q| connector.listed_once_seen(q)).map(|q| q.external_id.clone()).collect();
        let held = state.queue_listing_held.is_some();
        // What this run reads (`import_days` reads these; a back-fill under way: where it resumes). A queue listed
        // again after it left before where it reads statistics from was not read in between, and is complete only
        // from there.
        let vendor = acd_connectors::vendor_of(&integration.kind)?;
        let reads = plan::run_reads(
            now,
            progress_of(&state),
            integration.settings.history_days(),
            self.config.reconciliation_for(vendor),
            vendor.statistics_reread_by_hour(),
        );
        let reread_from = reads.statistics_from.or(Some(reads.start));
        let (writes, ranges, queue_check) = match self
            .store
            .sync_queues(integration, &queues, &once_seen, now, held, state.complete_through, reread_from)
            .await
        {
            Err(StoreError::NotFound) => return Err(ImportError::Deleted),
            other => other?,
        };
        record.counts.queues = queues.len() as u64;
        record.counts.catalog_writes += writes;
        let agents = connector.list_agents(vendor_deadline).await?;
        let (writes, agent_check) =
            self.store.sync_agents(integration, &agents, now, state.agent_listing_held.is_some()).await?;
        record.counts.catalog_writes += writes;
        record.counts.agents = agents.len() as u64;
        let held_before = (state.queue_listing_held, state.agent_listing_held);
        state.queue_listing_held = held_listing("queue", queue_check, state.queue_listing_held, now, record);
        state.agent_listing_held = held_listing("agent", agent_check, state.agent_listing_held, now, record);
        if (state.queue_listing_held, state.agent_listing_held) != held_before {
            self.store.save_state(tenant, id, &state).await?;
        }
        if queue_check.held || agent_check.held {
            tracing::warn!(tenant = %tenant, integration = %id, warnings = ?record.warnings, "collapsed listing held");
            record.message = Some(
                "a listing dropped most known queues or agents: they stay active and the days wait for the next \
                 run's listing to confirm it"
                    .into(),
            );
            return Ok(None);
        }
        Ok(Some(Listed { queues, agents, ranges, state, reads }))
    }

    /// Lists and stores the ACD's statuses (Five9 adds the reason codes its agent-state reports showed so far).
    async fn sync_statuses(
        &self,
        integration: &Integration,
        connector: &dyn Connector,
        now: DateTime<Utc>,
        vendor_deadline: Deadline,
        record: &mut RunRecord,
    ) -> Result<BTreeSet<String>, ImportError> {
        let statuses = connector.list_statuses(vendor_deadline).await?;
        record.counts.catalog_writes += self.store.sync_statuses(integration, &statuses, now).await?;
        record.counts.statuses = statuses.len() as u64;
        Ok(statuses.into_iter().map(|s| s.id).collect())
    }

    /// Reads the run window a few UTC days at a time ([`plan::fetch_groups`]) and writes it day by day, advancing
    /// the completed point after each day. [`Stop::Pause`] ends the run `Partial`: the deadline is near, or the
    /// vendor's API budget is low; every finished day is saved and the pass cursor lets the next run continue.
    ///
    /// Before each fetch of days older than the reconciliation re-read ([`plan::reconciliation_start`]) — a
    /// back-fill or a catch-up after a pause — the connector is asked whether the vendor's hourly and daily API
    /// budget has room for it ([`Connector::pace_next_day`]). On [`Pace::Wait`] the run ends `Partial` exactly as
    /// when the deadline is near: every finished day is saved and the pass cursor lets the next scheduled run
    /// continue, by which time the vendor's hourly window may have reset. The days of the reconciliation re-read
    /// (what a caught-up run reads every time: two days with Five9's default 24 hours) are not held back once the
    /// integration has caught up: they are its steady-state cost, bounded, and pacing them would leave a caught-up
    /// integration stale, without an error, for as long as the customer's other tools use the budget; should they
    /// really exhaust a limit, that run fails `rate_limited`, which is visible. That holds for a re-read that starts a
    /// day earlier after a gap since the last run ([`plan::reread_start`]; a quarter hour skipped before midnight is
    /// enough): [`Pass::paced_before`]. Until then (no day of the re-read completed yet: [`Pass::catching_up`]) they
    /// are paced like the back-fill before them: a large domain's back-fill can use the hour's budget, and its first
    /// re-read would otherwise be refused (until 2026-12-05: a 10,000-agent domain's first run failed
    /// `rate_limited` so). A paced run keeps the reason in its record's `message`.
    async fn import_days(
        &self,
        run: &DayRun<'_>,
        progress: &mut DayProgress,
        record: &mut RunRecord,
    ) -> Result<(), Stop> {
        let (integration, connector) = (run.integration, run.connector);
        let state = &mut progress.state;
        connector.restore_vendor_cursor(state.vendor_cursor.clone())?;
        let vendor = acd_connectors::vendor_of(&integration.kind)?;
        let reconciliation = self.config.reconciliation_for(vendor);
        let final_after = vendor.agent_states_final_after();
        let cursor = state.pass_cursor;
        let reads = run.reads;
        // The young mark as this run takes it (saved with the first day written).
        state.young_from = reads.young_from;
        let (Some(window), Some(statistics_from)) = (reads.window, reads.statistics_from) else {
            return Ok(());
        };
        record.window = Some(window);
        connector.read_feed_until(window.end)?;
        let reconciliation_start = plan::reconciliation_start(window.end, reconciliation);
        let catching_up = state.complete_through.is_none_or(|done| done <= reconciliation_start);
        let paced_before = if cursor.is_none() { reconciliation_start.min(window.start) } else { reconciliation_start };
        let pass = Pass {
            window,
            statistics_from,
            reconciliation_start,
            paced_before,
            reconciliation,
            final_after,
            catching_up,
        };
        if state.written_day.is_none() && (state.complete_through.is_some() || state.pass_cursor.is_some()) {
            // State from before `written_day` existed: any day up to now may hold items.
            state.written_day = Some(plan::day_start(window.end));
        }
        if state.written_day.is_none_or(|day| day < plan::day_start(window.end)) && states::has_pass(integration) {
            // Agent-states passes write into days this import has not written yet (today's, when the import has
            // not run since midnight): such a day is not new, its stored segments are read back. The pass is not
            // running (`wait_for_states_pass`), so its mark stays as read.
            let checkpoint = self.store.load_states_checkpoint(&integration.tenant_id, integration.id).await?;
            // A checkpoint from before the mark existed: any day up to now may hold the pass's segments.
            let pass_day = checkpoint.written_day.or(checkpoint.through.map(|_| plan::day_start(window.end)));
            state.written_day = state.written_day.max(pass_day);
        }

        if state.segments_final_through.is_some()
            && state.segments_final_settings.as_ref() != Some(&integration.settings.vendor)
        {
            // Final agent states were read under other vendor settings (a time zone since corrected): the days the
            // runs re-read are read whole again, and become final anew.
            state.segments_final_through = None;
        }
        // Days are fetched a group at a time (as many as the connector takes in one window: one report per kind
        // covers two Five9 days), then written and completed one day at a time. A group more than the vendor's budget
        // could ever hold is fetched a day at a time.
        let mut groups: VecDeque<Vec<TimeWindow>> =
            plan::fetch_groups(&plan::day_chunks(window), connector.max_window()).into();
        while let Some(group) = groups.pop_front() {
            let Fetched { stats, segments, segments_from } =
                match self.fetch_group(run, progress, &group, &pass, record).await? {
                    Fetch::Read(fetched) => fetched,
                    Fetch::FirstDayAlone => {
                        let (first, rest) = group.split_at(1);
                        groups.push_front(rest.to_vec());
                        groups.push_front(first.to_vec());
                        continue;
                    }
                };
            // Each day's pieces are cut out of the fetched segments (taken, not copied) just before the day is
            // written, and the statistics moved out by day: the memory peak holds one copy of the data, not two.
            let pieces = plan::pieces_by_chunk(segments, &group);
            let day_stats: Vec<Vec<acd_domain::IntervalStats>> = if group.len() == 1 {
                vec![stats] // one day: handed over whole (`write_day` keeps the day's known queues), no second buffer
            } else {
                let mut day_stats: Vec<Vec<_>> = group.iter().map(|_| Vec::new()).collect();
                for s in stats {
                    if let Some(day) = group.iter().position(|chunk| chunk.contains(s.interval_start)) {
                        day_stats[day].push(s);
                    }
                }
                day_stats
            };
            for ((chunk, pieces), stats) in group.iter().copied().zip(pieces).zip(day_stats) {
                // A day before `segments_from` had its segments final already: they were not read, and its stored
                // ones stay as they are.
                let pieces = (chunk.start >= segments_from).then_some(pieces);
                self.write_day(run, progress, chunk, &pass, Day { stats, pieces }, record).await?;
            }
        }
        // Every day read was written: the vendor feed's position may advance (a partial run re-reads from the old
        // one, which is idempotent), and what the connector noticed (feed gaps) goes on the record. A gap in the
        // feed is saved before the position moves past it: a run that stops in between finds it again. The
        // connector's cursor (a feed position, or what Five9's reports taught) is saved when it changed.
        record.warnings.extend(connector.warnings());
        let gaps = connector.agent_state_gaps();
        if !gaps.is_empty() {
            self.store.save_agent_state_gaps(integration, &gaps).await?;
            record.agent_state_gaps = gaps;
        }
        self.keep_cursor(integration, progress, connector.vendor_cursor()).await?;
        Ok(())
    }

    /// One fetch of a group of days: statistics and agent segments (and the statuses, when the segments name one
    /// this run has not stored), once the deadline and the vendor's budget allow it. Agent segments are read from
    /// the first day whose segments are not final yet ([`plan::segments_from`]); none when every day's are.
    ///
    /// A group of several days that no budget window could ever hold ([`Pace::TooLarge`]: a large domain's two
    /// days — 64 Five9 reports for 5,000 agents; from ≈ 7,500 more than the 96 of 120 an hour left by the reserve) is
    /// not fetched: [`Fetch::FirstDayAlone`], and the days are fetched one at a time (waiting would not help: the
    /// group would wait run after run, never fetched). A group that only has to wait for room waits as before:
    /// fetched together, days cost fewer reports. A single day that passes a limit's whole allowance (Five9's
    /// default 120 `runReport` an hour, 96 left by the reserve: from ≈ 15,000 agents, or a domain whose limit was set
    /// lower) fails the run `configuration_wrong` with the reason: one day is the smallest fetch and the pass never
    /// goes past a day it has not read, so no later run could import anything either; waiting would leave the
    /// integration `importing` for good with nothing on its status. Every run checks again (no report is spent), and
    /// the first one after the vendor raised the limit goes on where the pass stopped.
    async fn fetch_group(
        &self,
        run: &DayRun<'_>,
        progress: &mut DayProgress,
        group: &[TimeWindow],
        pass: &Pass,
        record: &mut RunRecord,
    ) -> Result<Fetch, Stop> {
        let (tenant, id) = (&run.integration.tenant_id, run.integration.id);
        let connector = run.connector;
        let (first, span) = (group[0], TimeWindow { start: group[0].start, end: group[group.len() - 1].end });
        if run.deadline.remaining() < self.config.safety_margin {
            tracing::info!(tenant = %tenant, integration = %id, next = %first.start, "deadline near: the next run continues");
            return Err(Stop::Pause);
        }
        let segments_from = plan::segments_from(span, progress.state.segments_final_through, pass.final_after);
        let segments = (segments_from < span.end).then_some(TimeWindow { start: segments_from, end: span.end });
        let stats_span = pass.statistics_of(span);
        let next = NextFetch { stats: stats_span, segments, agents: run.agents.len() };
        if first.start < pass.paced_before || pass.catching_up {
            let reason = match connector.pace_next_day(&next, run.vendor_deadline).await? {
                Pace::Go => None,
                Pace::TooLarge { reason } if group.len() > 1 => {
                    tracing::info!(
                        tenant = %tenant, integration = %id, next = %first.start, reason = %reason,
                        "the days together pass the vendor's API budget: fetched a day at a time"
                    );
                    return Ok(Fetch::FirstDayAlone);
                }
                Pace::Wait { reason } => Some(reason),
                Pace::TooLarge { reason } => {
                    return Err(Stop::Fail(ImportError::Configuration(format!(
                        "{} cannot be imported within the vendor's API budget: {reason}; one day is the smallest \
                         fetch, so nothing later is imported until the vendor raises the limit",
                        first.start.format("%Y-%m-%d")
                    ))));
                }
            };
            if let Some(reason) = reason {
                tracing::info!(
                    tenant = %tenant, integration = %id, next = %first.start, reason = %reason,
                    "vendor API budget low: the next run continues"
                );
                return Err(Stop::Paced(reason));
            }
        }
        // A vendor call cut off by the deadline ends the run `Partial` ([`Stop`]): finished days are saved, the
        // next run continues. The statistics and the segments are read at the same time: each is mostly waiting for
        // the ACD (a Five9 report or a Genesys Cloud job running, `GetMetricDataV2` pages), so a fetch takes as long
        // as the slower of the two instead of both. Both are awaited, and the statistics' error, if any, is the one
        // the run reports, as when they were read one after the other.
        let read_segments = async {
            if let Some(segment_span) = next.segments {
                connector.agent_segments(run.agents, segment_span, run.vendor_deadline).await
            } else {
                Ok(Vec::new())
            }
        };
        let (stats, segments) =
            futures::future::join(connector.interval_stats(run.queues, stats_span, run.vendor_deadline), read_segments)
                .await;
        let (stats, segments) = (stats?, segments?);
        if segments_from > span.start {
            tracing::debug!(
                tenant = %tenant, integration = %id, from = %span.start, to = %segments_from,
                "agent segments final: not read again"
            );
        }
        let known = &progress.known_statuses;
        if segments.iter().any(|s| known.as_ref().is_none_or(|k| !k.contains(&*s.status_id))) {
            progress.known_statuses =
                Some(self.sync_statuses(run.integration, connector, run.now, run.vendor_deadline, record).await?);
            progress.statuses_synced = true;
        }
        Ok(Fetch::Read(Fetched { stats, segments, segments_from }))
    }

    /// Writes one day (`chunk`) of a fetched group and advances the completed point past it (the pass over `window`
    /// ends with its last day), and the mark of final segments when the day's are ([`plan::segments_final_through`]).
    async fn write_day(
        &self,
        run: &DayRun<'_>,
        progress: &mut DayProgress,
        chunk: TimeWindow,
        pass: &Pass,
        day: Day,
        record: &mut RunRecord,
    ) -> Result<(), Stop> {
        let (integration, deadline) = (run.integration, run.deadline);
        let (tenant, id) = (&integration.tenant_id, integration.id);
        let known: BTreeSet<&str> = run.queue_ids.iter().map(String::as_str).collect();
        let Day { mut stats, pieces } = day;
        let stats_span = pass.statistics_of(chunk);
        stats.retain(|s| stats_span.contains(s.interval_start) && known.contains(s.queue_external_id.as_str()));
        // The fetch may have returned late: start the day's writes only if they and the bookkeeping fit
        // before the deadline (a run killed mid-write would leave no record and hold the lease).
        // The items the writes put (with hour buckets one per queue-hour and agent-hour, not per interval and
        // segment), and the partitions read back.
        let partitions = run.queue_ids.len() + pieces.as_ref().map_or(0, |_| run.agent_ids.len());
        let items = self.store.items_to_write(&stats, pieces.as_deref().unwrap_or_default()) + partitions as u64;
        let items = u32::try_from(items).unwrap_or(u32::MAX);
        let per_item = self.config.write_time_per_item.max(progress.measured_per_item.mul_f64(1.5));
        let needed = self.config.write_time(per_item, items);
        let left = deadline.remaining();
        if left < needed {
            let (needed_ms, left_ms) = (needed.as_millis() as u64, left.as_millis() as u64);
            if progress.state.write_put_off == Some(chunk.start) {
                // An earlier run fetched this day and put its writes off too: a day that does not fit after its
                // fetch would be fetched and put off run after run (each spending the ACD's report budget on it),
                // never written. Written now; the estimate may be wrong, and if it is right the run is cut off
                // mid-write, which loses nothing (writes are idempotent, the completed point moves after the day).
                tracing::warn!(
                    tenant = %tenant, integration = %id, next = %chunk.start, items, needed_ms, left_ms,
                    "the day's writes were put off before: written now"
                );
                record.warnings.push(format!(
                    "{}: its {items} items were estimated at {needed_ms} ms to write with {left_ms} ms left, and an \
                     earlier run put them off too; written anyway",
                    chunk.start.format("%Y-%m-%d")
                ));
            } else {
                progress.state.write_put_off = Some(chunk.start);
                self.store.save_state(tenant, id, &progress.state).await?;
                tracing::info!(
                    tenant = %tenant, integration = %id, next = %chunk.start, items, needed_ms, left_ms,
                    "too close to the deadline to write the day: the next run continues"
                );
                record.message = Some(format!(
                    "stopped before writing {}: {left_ms} ms left, {needed_ms} ms needed for its {items} items and the \
                     run record; the next run continues",
                    chunk.start.format("%Y-%m-%d")
                ));
                return Err(Stop::Pause);
            }
        }
        let writing = std::time::Instant::now();
        let state = &mut progress.state;
        record.counts.intervals += stats.len() as u64;
        // Chunks start at UTC midnights. A day after the latest one ever written holds no items: mark it
        // before writing (so a run killed while writing leaves the mark) and skip reading the table back.
        let fresh = state.written_day.is_none_or(|day| chunk.start > day);
        if fresh {
            state.written_day = Some(chunk.start);
            self.store.save_state(tenant, id, state).await?;
        }
        record.counts.interval_writes +=
            self.store.write_intervals(integration, stats_span, &run.queue_ids, &stats, fresh).await?;
        // What the ranges need of the statistics (applied after the day's writes, below); the statistics are let go
        // before the segments are written.
        let bounds = interval_bounds(&stats);
        drop(stats);
        if let Some(pieces) = pieces {
            record.counts.segments += pieces.len() as u64;
            // A feed (Amazon Connect's agent event stream) hands each record over once: a re-read day brings
            // only what is new, so its segments are merged (upserted by start); nothing stored is deleted.
            record.counts.segment_writes += if run.connector.agent_states_feed() {
                self.store.merge_segments(integration, chunk, &pieces, fresh).await?
            } else {
                self.store.write_segments(integration, chunk, &run.agent_ids, pieces, fresh).await?
            };
            let through = plan::segments_final_through(
                state.segments_final_through,
                chunk,
                run.now,
                pass.final_after,
                pass.reconciliation_start,
                state.young_from,
            );
            if through != state.segments_final_through {
                state.segments_final_through = through;
                state.segments_final_settings = Some(integration.settings.vendor.clone());
            }
        }

        // A range may only claim data that is written: ranges move after the day's writes. A later
        // `data_to` waits for the end of the run (one UpdateItem per queue per run, see `import_with`); a
        // queue's first data (`data_from`) is saved at once, so a crash never leaves it unset for good.
        let (extended, from_moved) = extend_ranges(&mut progress.ranges, bounds);
        progress.unsaved.extend(extended.into_iter().map(|r| (r.external_id.clone(), r)));
        if from_moved {
            let extended: Vec<QueueRange> = std::mem::take(&mut progress.unsaved).into_values().collect();
            record.counts.catalog_writes += self.store.extend_queue_ranges(integration, &extended).await?;
            progress.saved_to.extend(extended.into_iter().map(|r| (r.external_id, r.data_to)));
        }
        // A queue listed again is complete as far as it was read: the day's statistics, written, move that on.
        let done = state.complete_through.map_or(chunk.end, |done| done.max(chunk.end));
        let read = advance_read_through(&mut progress.ranges, stats_span, done);
        if !read.is_empty() {
            record.counts.catalog_writes += self.store.save_read_through(integration, &read).await?;
        }
        if state.complete_through.is_none_or(|done| done < chunk.end) {
            state.complete_through = Some(chunk.end);
        }
        if state.complete_from.is_none_or(|first| chunk.start < first) {
            state.complete_from = Some(chunk.start);
        }
        state.young_from = plan::young_after_read(state.young_from, stats_span, pass.window.end, pass.reconciliation);
        // The pass is over when the window's end is reached; until then a later run resumes here.
        state.pass_cursor = (chunk.end < pass.window.end).then_some(chunk.end);
        // The ACD user served a day's reports: a busy streak (see `busy`) is over. (Listings alone do not end it: a
        // user busy at every report, run after run, would otherwise never make the integration `failing`.)
        state.vendor_busy_since = None;
        state.write_put_off = None;
        state.imported_with = Some(integration.updated_at);
        self.store.save_state(tenant, id, state).await?;
        progress.measured_per_item = progress.measured_per_item.max(writing.elapsed() / items.max(1));
        record.complete_through = state.complete_through;
        record.counts.days += 1;
        Ok(())
    }
}

/// A run that holds its integration's lease.
struct Lease {
    integration: Integration,
    run_id: RunId,
    started_at: DateTime<Utc>,
    /// The import state, read with the lease held (or why it could not be).
    state: Result<ImportState, StoreError>,
}

/// What a run's result calls for.
enum Settled {
    /// Record the run; `store_failure` (if any) then fails the invocation, so Lambda retries it.
    Record { store_failure: Option<StoreError> },
    /// The integration was deleted during the run: its lease is let go, nothing is recorded.
    Deleted,
}

/// The listings of a run that may go on to its days.
struct Listed {
    queues: Vec<acd_domain::Queue>,
    agents: Vec<acd_domain::ExternalAgent>,
    ranges: Vec<QueueRange>,
    state: ImportState,
    /// What the run reads, planned from the state as the run found it ([`plan::run_reads`]).
    reads: plan::RunReads,
}

/// What [`ImportService::fetch_group`] did.
enum Fetch {
    Read(Fetched),
    /// Nothing: the group is more than the vendor's budget could ever hold; fetch its days one at a time.
    FirstDayAlone,
}

/// One fetch: a group of days' statistics and agent segments (read from `segments_from`).
struct Fetched {
    stats: Vec<acd_domain::IntervalStats>,
    segments: Vec<acd_domain::AgentSegment>,
    segments_from: DateTime<Utc>,
}

/// One day to write: its statistics and its own segment pieces (`None`: its segments were final, not read).
struct Day {
    stats: Vec<acd_domain::IntervalStats>,
    pieces: Option<Vec<acd_domain::AgentSegment>>,
}

/// The window a run passes over ([`plan::run_start`], [`plan::run_window`]), and what decides when a written day's
/// segments become final ([`plan::segments_final_through`]): fixed for the run once the window is known.
struct Pass {
    window: TimeWindow,
    /// Where the statistics are read from ([`plan::statistics_from`]): the window's start, or an hour of its first
    /// day; the hours before it are neither read nor written.
    statistics_from: DateTime<Utc>,
    /// Where the re-read every caught-up run makes starts ([`plan::reconciliation_start`]).
    reconciliation_start: DateTime<Utc>,
    /// The days before it are paced unless [`Pass::catching_up`] paces them all: `reconciliation_start`, or a new
    /// pass's window start when that is earlier (its re-read started before the reconciliation window's day after a
    /// gap since the last run, [`plan::reread_start`], or at the state's `young_from` at most the day before that,
    /// [`plan::reread_from`]: a caught-up integration's re-read all the same; that start's first version paced such
    /// a day, so a quarter hour skipped before midnight could leave a Five9 integration `partial`, writing nothing,
    /// for as long as other API users kept the budget low — a pass never goes past a day it has not read, so pacing
    /// the older day holds today's data back too).
    paced_before: DateTime<Utc>,
    /// The vendor's reconciliation window (`ImportConfig::reconciliation_for`).
    reconciliation: Duration,
    /// The vendor's [`acd_connectors::Vendor::agent_states_final_after`].
    final_after: Option<Duration>,
    /// Whether no day of the reconciliation re-read was completed yet (a new integration's back-fill, a catch-up
    /// after days without imports): then every fetch of the run is paced, the re-read's days included.
    catching_up: bool,
}

impl Pass {
    /// The part of `span` (a day or a group of days of the window) whose statistics are read and written: from
    /// `statistics_from` on, which cuts only the first day of a re-read by the hour.
    fn statistics_of(&self, span: TimeWindow) -> TimeWindow {
        TimeWindow { start: span.start.max(self.statistics_from), end: span.end }
    }
}

/// What one run reads and writes its days with (fixed for the run).
struct DayRun<'a> {
    integration: &'a Integration,
    connector: &'a dyn Connector,
    queues: &'a [acd_domain::Queue],
    agents: &'a [acd_domain::ExternalAgent],
    queue_ids: Vec<String>,
    agent_ids: Vec<String>,
    now: DateTime<Utc>,
    /// The run's deadline; the ACD gets `vendor_deadline` (minus the bookkeeping reserve).
    deadline: Deadline,
    vendor_deadline: Deadline,
    /// What the run reads ([`Listed::reads`]).
    reads: plan::RunReads,
}

/// What the days change as they go.
struct DayProgress {
    state: ImportState,
    /// The queues' known data ranges, widened as days are written.
    ranges: HashMap<String, QueueRange>,
    /// Ranges whose later end is not saved yet (saved once, at the end of the run, when due).
    unsaved: BTreeMap<String, QueueRange>,
    /// The `data_to` of each queue as stored (at the start of the run, or as saved since).
    saved_to: HashMap<String, Option<DateTime<Utc>>>,
    /// The statuses were listed during the days (no need to list them again at the end).
    statuses_synced: bool,
    /// Status ids stored by this run: a fetch whose segments refer to others syncs the statuses before its days
    /// are written, so a completed day's statuses are stored even if the run dies before its end.
    known_statuses: Option<BTreeSet<String>>,
    /// The slowest write pace seen in this run, per item (see `ImportConfig::write_time_per_item`).
    measured_per_item: StdDuration,
}

/// Why the days stopped before the window's end.
enum Stop {
    /// The run ends `Partial` and the next one continues: the deadline is near (or cut a vendor call off).
    Pause,
    /// The run ends `Partial` and the next one continues: the vendor's API budget is low, before a fetch
    /// ([`Pace::Wait`]) or during one ([`ConnectorError::BudgetSpent`]); the reason goes on the run record.
    Paced(String),
    /// The run fails.
    Fail(ImportError),
}

/// The one deadline rule of the days: a vendor call cut off by the deadline pauses the run, and so does a fetch that
/// used up the vendor's API budget left to the import (the connector stopped before the vendor refused anything);
/// anything else fails it.
impl From<ImportError> for Stop {
    fn from(e: ImportError) -> Self {
        match e {
            ImportError::Vendor(ConnectorError::DeadlineExceeded) => Stop::Pause,
            ImportError::Vendor(ConnectorError::BudgetSpent { reason }) => Stop::Paced(reason),
            e => Stop::Fail(e),
        }
    }
}

impl From<ConnectorError> for Stop {
    fn from(e: ConnectorError) -> Self {
        ImportError::from(e).into()
    }
}

impl From<StoreError> for Stop {
    fn from(e: StoreError) -> Self {
        Stop::Fail(e.into())
    }
}

/// The fields of the import state a run plans its reads from ([`plan::run_reads`]).
fn progress_of(state: &ImportState) -> plan::Progress {
    plan::Progress {
        complete_from: state.complete_from,
        complete_through: state.complete_through,
        pass_cursor: state.pass_cursor,
        young_from: state.young_from,
    }
}

/// The warning a queue or agent listing check adds to the run, and when the held listing was first seen (`None`:
/// nothing held).
fn held_listing(
    kind: &str,
    check: ListingCheck,
    held_since: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    record: &mut RunRecord,
) -> Option<DateTime<Utc>> {
    if check.held {
        record.warnings.push(format!(
            "the {kind} listing dropped {} of {} known {kind}s: they stay active until the next run's listing confirms it",
            check.missing, check.known
        ));
        return Some(held_since.unwrap_or(now));
    }
    if check.collapsed {
        record.warnings.push(format!(
            "a second {kind} listing confirmed that {} of {} known {kind}s are gone: they are inactive now",
            check.missing, check.known
        ));
    } else if held_since.is_some() {
        record.warnings.push(format!(
            "the {kind} listing is whole again: the earlier collapsed listing was not confirmed, nothing was deactivated"
        ));
    }
    None
}

/// How far a queue's stored `data_to` may trail the data written while the queue is busy.
pub const RANGE_END_STEP: Duration = Duration::hours(1);

/// Whether a queue's later `data_to` (`new`) is worth an UpdateItem now, given the stored one: the first one, one
/// at least [`RANGE_END_STEP`] later, or one that is [`RANGE_END_STEP`] old (the queue went quiet: nothing would
/// move it again soon). Otherwise a busy queue's range would be written every run, the largest part of a steady
/// run's catalog writes; it trails the data by less than an hour, and every run re-reads the reconciliation
/// window (24 hours or more), so the held-back end is found again and saved once due.
pub fn range_end_due(stored: Option<DateTime<Utc>>, new: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    match (stored, new) {
        (_, None) => false,
        (None, Some(_)) => true,
        (Some(stored), Some(new)) => new - stored >= RANGE_END_STEP || new <= now - RANGE_END_STEP,
    }
}

/// The first and the last interval start of each queue among `stats`.
fn interval_bounds(stats: &[acd_domain::IntervalStats]) -> BTreeMap<String, (DateTime<Utc>, DateTime<Utc>)> {
    let mut bounds: BTreeMap<String, (DateTime<Utc>, DateTime<Utc>)> = BTreeMap::new();
    // Only the intervals written: a row of zeros is not stored, and is no traffic (a chat queue offered once seen
    // would be offered for it).
    for s in stats.iter().filter(|s| !s.is_zero()) {
        match bounds.get_mut(s.queue_external_id.as_str()) {
            Some((first, last)) => {
                *first = (*first).min(s.interval_start);
                *last = (*last).max(s.interval_start);
            }
            None => {
                bounds.insert(s.queue_external_id.clone(), (s.interval_start, s.interval_start));
            }
        }
    }
    bounds
}

/// Moves on the `read_through` of the queues listed again ([`QueueRange::read_through`]) whose statistics `span`
/// (a day's, just written) reads on from it: to its end, or to `None` once that reaches `done` (the integration's
/// completed point after the day). A span that starts after it leaves it (a hole: the next run's listing makes
/// the queue complete from that run's re-read). Returns the ranges that moved.
fn advance_read_through(
    ranges: &mut HashMap<String, QueueRange>,
    span: TimeWindow,
    done: DateTime<Utc>,
) -> Vec<QueueRange> {
    let mut moved = Vec::new();
    for range in ranges.values_mut() {
        let Some(read) = range.read_through else { continue };
        if span.start <= read && read < span.end {
            range.read_through = (span.end < done).then_some(span.end);
            moved.push(range.clone());
        }
    }
    moved
}

/// Widens the known data ranges by the intervals' [`interval_bounds`]; returns the ranges that changed, and whether
/// the start of one moved.
fn extend_ranges(
    ranges: &mut HashMap<String, QueueRange>,
    bounds: BTreeMap<String, (DateTime<Utc>, DateTime<Utc>)>,
) -> (Vec<QueueRange>, bool) {
    let mut changed: Vec<QueueRange> = Vec::new();
    let mut from_moved = false;
    for (queue, (first, last)) in bounds {
        let range = ranges.entry(queue.clone()).or_insert_with(|| QueueRange {
            external_id: queue,
            data_from: None,
            data_to: None,
            read_through: None,
        });
        let mut moved = false;
        if range.data_from.is_none_or(|f| first < f) {
            range.data_from = Some(first);
            moved = true;
            from_moved = true;
        }
        if range.data_to.is_none_or(|t| last > t) {
            range.data_to = Some(last);
            moved = true;
        }
        if moved {
            changed.push(range.clone());
        }
    }
    (changed, from_moved)
}

/// Takes the lease of `kind` for `run_id` until `until`. On an error the lease is let go first (best effort): the put
/// may have landed though its answer was lost on every attempt, and the lease would keep the next runs out for its
/// whole length.
async fn take_lease(
    store: &dyn ImportStore,
    kind: LeaseKind,
    tenant: &TenantId,
    id: IntegrationId,
    run_id: RunId,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<crate::ports::Acquired, StoreError> {
    let acquired = store.acquire_lease(kind, tenant, id, run_id, now, until).await;
    if acquired.is_err() {
        let _ = store.release_lease(kind, tenant, id, run_id).await;
    }
    acquired
}

/// When a run's lease (the import's or the agent-states pass's) expires: a minute after the invocation's deadline, so
/// a run killed with its invocation frees the integration soon after.
fn lease_until(started_at: DateTime<Utc>, deadline: Deadline) -> DateTime<Utc> {
    started_at + Duration::from_std(deadline.remaining()).unwrap_or_default() + Duration::minutes(1)
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
    IntegrationStatus {
        state,
        reason,
        message,
        last_success_at,
        last_run_at: Some(run.ended_at),
        resumed_at: previous.resumed_at,
    }
}

/// The integration's [`Integration::failing_since`] after a run that left it `status`: the run's end when the run
/// made it failing; the first failed run's end while it goes on failing; none after a run that did not fail (a
/// partial run too). A record written before `failing_since` existed that was failing already counts from its last
/// run (which failed: the earliest moment the record shows it failing), not from its last success, which partial
/// runs and a pause leave behind (`FailingFor` counted from it before, and fired the one-hour alarm at a first
/// failure).
pub fn failing_since_after_run(
    previous: &Integration,
    status: &IntegrationStatus,
    run: &RunRecord,
) -> Option<DateTime<Utc>> {
    previous.failing_since_after(status, run.ended_at, previous.status.last_run_at)
}

/// What a run writes as `failing_since` where the stored record holds none
/// ([`crate::ports::ImportStore::save_status`] keeps a record's own): [`failing_since_after_run`], except that a
/// `failing_since` of the record as the run read it stands for a failure that a pause and resume have ended if the
/// record holds none by now. Then this run's failure is the first in a row: its end.
fn failing_since_where_none(
    previous: &Integration,
    after_run: Option<DateTime<Utc>>,
    run: &RunRecord,
) -> Option<DateTime<Utc>> {
    match previous.failing_since {
        Some(_) => after_run.map(|_| run.ended_at),
        None => after_run,
    }
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

    #[test]
    fn a_call_cut_off_by_the_deadline_pauses_the_days_and_any_other_error_fails_them() {
        assert!(matches!(Stop::from(ConnectorError::DeadlineExceeded), Stop::Pause));
        assert!(matches!(Stop::from(ImportError::Vendor(ConnectorError::DeadlineExceeded)), Stop::Pause));
        let spent = ConnectorError::BudgetSpent { reason: "ReportRequest: 96 of 120 per hour used".into() };
        assert!(matches!(Stop::from(spent), Stop::Paced(reason) if reason == "ReportRequest: 96 of 120 per hour used"));
        assert!(matches!(Stop::from(ConnectorError::CredentialsRejected), Stop::Fail(ImportError::Vendor(_))));
        assert!(matches!(Stop::from(StoreError::NotFound), Stop::Fail(ImportError::Store(StoreError::NotFound))));
        assert!(matches!(Stop::from(ImportError::Deleted), Stop::Fail(ImportError::Deleted)));
    }
}

#[cfg(test)]
mod range_tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_later_data_to_is_saved_first_then_hourly_while_busy_and_exactly_once_quiet() {
        let at = |h: u32, m: u32| Utc.with_ymd_and_hms(2024, 5, 15, h, m, 0).unwrap();
        let now = at(10, 22);
        // The first end, and none at all.
        assert!(range_end_due(None, Some(at(10, 15)), now));
        assert!(!range_end_due(Some(at(9, 0)), None, now));
        // Busy: 15 or 45 minutes later waits, an hour later is saved.
        assert!(!range_end_due(Some(at(10, 0)), Some(at(10, 15)), now));
        assert!(!range_end_due(Some(at(9, 30)), Some(at(10, 15)), now));
        assert!(range_end_due(Some(at(9, 15)), Some(at(10, 15)), now));
        // Quiet for an hour: the held-back end is saved, however small the step.
        assert!(range_end_due(Some(at(9, 0)), Some(at(9, 15)), now));
        assert!(range_end_due(Some(at(9, 0)), Some(at(9, 22)), now));
        assert!(!range_end_due(Some(at(9, 0)), Some(at(9, 23)), now));
    }

    #[test]
    fn a_queues_data_range_counts_only_intervals_with_traffic() {
        // A row of zeros is not stored: counted, it would claim data there is none of, and make a chat queue that
        // is offered once seen mappable without any traffic.
        let at = |h: u32, m: u32| Utc.with_ymd_and_hms(2024, 5, 15, h, m, 0).unwrap();
        let row = |queue: &str, start, offered| acd_domain::IntervalStats {
            queue_external_id: queue.into(),
            interval_start: start,
            offered,
            handled: 0,
            abandoned: offered,
            handle_time_ms: 0,
            answer_time_ms: 0,
            answered_within_sl: None,
        };
        let stats = [row("a", at(9, 0), 0), row("a", at(9, 15), 2), row("a", at(9, 45), 0), row("chat", at(9, 0), 0)];
        let bounds = interval_bounds(&stats);
        assert_eq!(bounds.into_iter().collect::<Vec<_>>(), [("a".to_owned(), (at(9, 15), at(9, 15)))]);
    }
}

#[cfg(test)]
mod credentials_cache_tests {
    use super::*;
    use chrono::TimeZone;

    fn integration(secret_version: Option<SecretVersion>) -> Integration {
        let at = Utc.with_ymd_and_hms(2026, 12, 6, 10, 0, 0).unwrap();
        Integration { secret_version, ..crate::test_fixtures::genesys_integration(at) }
    }

    fn cached(integration: &Integration, version: Option<SecretVersion>, read_after: i64) -> CachedCredentials {
        CachedCredentials {
            credentials: Credentials::new(integration.kind.clone()),
            version,
            record_updated_at: integration.updated_at,
            read_at: integration.updated_at + Duration::seconds(read_after),
        }
    }

    #[test]
    fn a_record_naming_a_version_is_served_that_version_only_whenever_it_was_read() {
        let (v1, v2) = (SecretVersion::random(), SecretVersion::random());
        let record = integration(Some(v1.clone()));
        assert!(cached(&record, Some(v1.clone()), 0).serve(&record), "the version, read at once");
        assert!(!cached(&record, Some(v2), 3_600).serve(&record), "another version");
        assert!(!cached(&record, None, 3_600).serve(&record), "the current version (after a rejection)");
        let mut later = record.clone();
        later.updated_at += Duration::hours(1);
        assert!(cached(&record, Some(v1), 0).serve(&later), "a change of the record that kept its version");
    }

    #[test]
    fn a_record_naming_no_version_is_served_the_current_one_read_once_its_change_settled() {
        let record = integration(None);
        assert!(cached(&record, None, 30).serve(&record));
        assert!(!cached(&record, None, 29).serve(&record), "read while an old PATCH may still write the secret");
        assert!(!cached(&record, Some(SecretVersion::random()), 3_600).serve(&record));
        let mut later = record.clone();
        later.updated_at += Duration::hours(1);
        assert!(!cached(&record, None, 3_600).serve(&later), "the record changed since");
    }

    #[test]
    fn records_written_before_secret_versions_read_as_naming_none_and_none_is_not_written() {
        let record = integration(None);
        let mut stored = serde_json::to_value(&record).unwrap();
        assert!(stored.get("secret_version").is_none(), "{stored}");
        let named = integration(Some(SecretVersion::random()));
        let back: Integration = serde_json::from_value(serde_json::to_value(&named).unwrap()).unwrap();
        assert_eq!(back, named);
        stored.as_object_mut().unwrap().remove("secret_version");
        assert_eq!(serde_json::from_value::<Integration>(stored).unwrap(), record);
    }
}

#[cfg(test)]
mod failing_since_tests {
    use super::*;
    use chrono::TimeZone;

    fn run(integration: &Integration, outcome: RunOutcome, ended_at: DateTime<Utc>) -> RunRecord {
        RunRecord {
            run_id: RunId::new(),
            tenant_id: integration.tenant_id.clone(),
            integration_id: integration.id,
            started_at: ended_at - Duration::seconds(30),
            ended_at,
            outcome,
            window: None,
            complete_through: None,
            counts: RunCounts::default(),
            vendor_calls: 3,
            reason: (outcome == RunOutcome::Failed).then_some(FailureReason::CredentialsRejected),
            message: None,
            warnings: Vec::new(),
            agent_state_gaps: Vec::new(),
            store_error_logged: false,
        }
    }

    /// What [`ImportService::finish`] keeps of a run: the status and `failing_since` it stores.
    fn after(integration: &Integration, record: &RunRecord) -> Integration {
        let status = derive_status(&integration.status, record);
        let failing_since = failing_since_after_run(integration, &status, record);
        Integration { status, failing_since, ..integration.clone() }
    }

    #[test]
    fn failing_since_is_the_first_failed_run_in_a_row_and_goes_with_any_run_that_does_not_fail() {
        let t0 = Utc.with_ymd_and_hms(2026, 12, 1, 8, 0, 0).unwrap();
        let at = |minutes| t0 + Duration::minutes(minutes);
        let mut integration = crate::test_fixtures::genesys_integration(t0);
        // Two hours of partial runs (a paced back-fill): never failing, never a success.
        for minutes in (0..120).step_by(15) {
            integration = after(&integration, &run(&integration, RunOutcome::Partial, at(minutes)));
            assert_eq!((integration.status.state, integration.failing_since), (IntegrationState::Importing, None));
        }
        assert_eq!(integration.status.last_success_at, None);
        // The first failure starts it; the next ones keep it, for another reason too.
        integration = after(&integration, &run(&integration, RunOutcome::Failed, at(120)));
        assert_eq!((integration.status.state, integration.failing_since), (IntegrationState::Failing, Some(at(120))));
        integration = after(&integration, &run(&integration, RunOutcome::Failed, at(135)));
        assert_eq!(integration.failing_since, Some(at(120)));
        let mut other = run(&integration, RunOutcome::Failed, at(150));
        other.reason = Some(FailureReason::RateLimited);
        integration = after(&integration, &other);
        assert_eq!(integration.failing_since, Some(at(120)));
        // A partial run ends the failure (the integration is `importing` again); the next failure starts anew.
        integration = after(&integration, &run(&integration, RunOutcome::Partial, at(165)));
        assert_eq!(integration.failing_since, None);
        integration = after(&integration, &run(&integration, RunOutcome::Failed, at(180)));
        assert_eq!(integration.failing_since, Some(at(180)));
        // So does a success.
        integration = after(&integration, &run(&integration, RunOutcome::Succeeded, at(195)));
        assert_eq!((integration.status.state, integration.failing_since), (IntegrationState::Operational, None));
    }

    #[test]
    fn a_record_failing_from_before_failing_since_existed_counts_from_its_last_failed_run() {
        let t0 = Utc.with_ymd_and_hms(2026, 12, 1, 8, 0, 0).unwrap();
        let mut integration = crate::test_fixtures::genesys_integration(t0 - Duration::days(3));
        // As written before: failing, its last run (which failed) 15 minutes ago, its last success two days ago.
        integration.status = IntegrationStatus {
            state: IntegrationState::Failing,
            reason: Some(FailureReason::CredentialsRejected),
            message: None,
            last_success_at: Some(t0 - Duration::days(2)),
            last_run_at: Some(t0 - Duration::minutes(15)),
            resumed_at: None,
        };
        let next = after(&integration, &run(&integration, RunOutcome::Failed, t0));
        assert_eq!(next.failing_since, Some(t0 - Duration::minutes(15)));
        // Without a last run (a storage failure's status written directly): from this run.
        integration.status.last_run_at = None;
        assert_eq!(after(&integration, &run(&integration, RunOutcome::Failed, t0)).failing_since, Some(t0));
    }

    #[test]
    fn records_written_before_failing_since_read_as_none_and_none_is_not_written() {
        let t0 = Utc.with_ymd_and_hms(2026, 12, 1, 8, 0, 0).unwrap();
        let record = crate::test_fixtures::genesys_integration(t0);
        let stored = serde_json::to_value(&record).unwrap();
        assert!(stored.get("failing_since").is_none(), "{stored}");
        assert_eq!(serde_json::from_value::<Integration>(stored).unwrap(), record);
        let failing = Integration { failing_since: Some(t0), ..record };
        let stored = serde_json::to_value(&failing).unwrap();
        assert_eq!(stored["failing_since"], "2026-12-01T08:00:00Z");
        assert!(stored["status"].get("failing_since").is_none(), "next to the status, not in it: {stored}");
        assert_eq!(serde_json::from_value::<Integration>(stored).unwrap(), failing);
    }
}
