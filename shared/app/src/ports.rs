//! Ports: the small traits behind which storage, secrets and schedules sit. Each has one AWS implementation
//! (crate `acd-aws`); tests can also use them against moto, or stub them to inject failures. Every port is here
//! (the read side's [`QueryStore`] and the mappings' [`MappingStore`] with their records in submodules); the
//! modules that use them re-export them under their old paths.

pub mod mappings;
pub mod query;
pub mod runs;

use acd_connectors::ConnectorError;
use acd_domain::{Credentials, Integration, IntegrationId, SecretVersion, Settings, TenantId};
use async_trait::async_trait;

pub use self::mappings::{ExternalAgentRecord, ExternalStatusRecord, MappingStore};
pub use self::query::{
    AgentsFrom, Completeness, IntegrationGap, IntervalRecord, MappedAgent, QueryStore, QueuePage, QueueQuery,
    QueueRecord, SegmentRecord, TextFilter,
};
pub use self::runs::{RunCounts, RunOutcome, RunRecord};

/// Failures of the infrastructure behind a port. The message is for logs, never for a client.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The integration name is already used by another integration of the tenant.
    #[error("name already taken")]
    NameTaken,
    /// The record changed since it was read (optimistic concurrency), or does not exist any more.
    #[error("the record changed concurrently")]
    Conflict,
    /// The tenant already has the maximum number of integrations (the limit).
    #[error("integration quota of {0} reached")]
    QuotaExceeded(u32),
    /// The record does not exist (or belongs to another tenant, which is the same thing to a caller).
    #[error("not found")]
    NotFound,
    /// The stored data could not be read back.
    #[error("corrupt record: {0}")]
    Corrupt(String),
    /// The AWS service failed or could not be reached.
    #[error("backend failure: {0}")]
    Backend(String),
}

/// One page of a listing; `more` tells whether items follow the last one. Cursors are made by the caller from
/// the last item's key, so a client can never hand a storage key of its own choosing to the store.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub more: bool,
    /// Set when a filtered read ended the page early (it looked at as many items as one page may): the position of
    /// the last item it looked at, after which the next page starts (none between the last item returned and it
    /// matched). `more` is then true, and `items` may be empty.
    pub resume_after: Option<String>,
}

impl<T> Page<T> {
    /// The same page with each item converted.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page { items: self.items.into_iter().map(f).collect(), more: self.more, resume_after: self.resume_after }
    }
}

/// Integration records and their per-tenant unique names.
#[async_trait]
pub trait IntegrationRepo: Send + Sync {
    /// Stores a new integration and reserves its name in one atomic step: `NameTaken` if the name is in use.
    async fn create(&self, integration: &Integration) -> Result<(), StoreError>;

    async fn get(&self, tenant: &TenantId, id: IntegrationId) -> Result<Option<Integration>, StoreError>;

    /// Integrations of the tenant in creation order (ids are time-ordered), starting after `after`.
    async fn list(
        &self,
        tenant: &TenantId,
        limit: usize,
        after: Option<IntegrationId>,
    ) -> Result<Page<Integration>, StoreError>;

    /// Replaces the record if its stored version is `updated.version - 1`; moves the name reservation when the
    /// name changed (`NameTaken` if the new name is in use), all atomically.
    async fn update(&self, previous: &Integration, updated: &Integration) -> Result<(), StoreError>;

    /// Removes the record and its name reservation (the imported data stays; the queues are left as they are: a
    /// delete makes them inactive first with [`IntegrationRepo::deactivate_queues`]), and before them the ingest
    /// keys of a push integration (a failure there leaves the record, so the delete's retry removes the rest).
    async fn delete(&self, integration: &Integration) -> Result<(), StoreError>;

    /// Turns the record into a tombstone (the first step of a delete): from then on `get` and `list` do not see
    /// it, its name stays reserved until [`IntegrationRepo::delete`] finishes, and no import writes its queues.
    /// `Conflict` if the record changed since `integration` was read (or is gone).
    async fn mark_deleting(&self, integration: &Integration) -> Result<(), StoreError>;

    /// The record of an integration whose delete started but did not finish (a tombstone), if any.
    async fn get_deleting(&self, tenant: &TenantId, id: IntegrationId) -> Result<Option<Integration>, StoreError>;

    /// Marks every queue of the integration inactive (its data stays). Idempotent.
    async fn deactivate_queues(&self, tenant: &TenantId, id: IntegrationId) -> Result<(), StoreError>;
}

/// Where credentials live (Secrets Manager). Nothing else ever stores them.
#[async_trait]
pub trait SecretStore: Send + Sync {
    /// Creates the secret with `credentials` as its first version, `version`.
    async fn create(
        &self,
        tenant: &TenantId,
        id: IntegrationId,
        credentials: &Credentials,
        version: &SecretVersion,
    ) -> Result<(), StoreError>;
    /// The credentials of `version`, or of the current version (`None`). `NotFound`: no such secret or version.
    async fn get(
        &self,
        tenant: &TenantId,
        id: IntegrationId,
        version: Option<&SecretVersion>,
    ) -> Result<Credentials, StoreError>;
    /// The id of the current version (`None`: no such secret).
    async fn current_version(&self, tenant: &TenantId, id: IntegrationId) -> Result<Option<SecretVersion>, StoreError>;
    /// Writes `credentials` as a new version, `version`, which does not become the current one until
    /// [`SecretStore::make_current`] (a missing secret is created anew, with `version` as its current one). Earlier
    /// versions stay readable while they have a staging label or are among the secret's latest 100 (Secrets
    /// Manager may remove older unlabelled ones).
    async fn replace(
        &self,
        tenant: &TenantId,
        id: IntegrationId,
        credentials: &Credentials,
        version: &SecretVersion,
    ) -> Result<(), StoreError>;
    /// Moves the current-version label from `from` to `version`; `false` (nothing changed) when `from` no longer
    /// holds it (another writer moved it since it was read with [`SecretStore::current_version`]).
    async fn make_current(
        &self,
        tenant: &TenantId,
        id: IntegrationId,
        version: &SecretVersion,
        from: &SecretVersion,
    ) -> Result<bool, StoreError>;
    /// Deletes the secret at once (no recovery window). Deleting a missing secret is not an error.
    async fn delete(&self, tenant: &TenantId, id: IntegrationId) -> Result<(), StoreError>;
    /// Schedules the secret's deletion after a recovery window (Secrets Manager's longest, 30 days), during which
    /// `RestoreSecret` brings it back: for a secret found without its integration's record, where the record may be
    /// missing because the table was replaced or restored, not because the integration was deleted. A missing
    /// secret, or one already scheduled for deletion (its date is kept), is not an error.
    async fn delete_recoverable(&self, tenant: &TenantId, id: IntegrationId) -> Result<(), StoreError>;
}

/// The schedules that run an integration's imports (EventBridge Scheduler).
#[async_trait]
pub trait ScheduleStore: Send + Sync {
    /// Creates the recurring import schedule and a one-time schedule that starts the first import at once.
    async fn create(&self, tenant: &TenantId, id: IntegrationId) -> Result<(), StoreError>;
    /// Enables or disables the recurring schedule.
    async fn set_enabled(&self, tenant: &TenantId, id: IntegrationId, enabled: bool) -> Result<(), StoreError>;
    /// Starts an import at once (a one-time schedule that deletes itself after it ran).
    async fn run_now(&self, tenant: &TenantId, id: IntegrationId) -> Result<(), StoreError>;
    /// Deletes every schedule of the integration. Missing schedules are not an error.
    async fn delete(&self, tenant: &TenantId, id: IntegrationId) -> Result<(), StoreError>;
    /// [`Self::delete`] for schedules found without their record (the import of a deleted integration), unless
    /// they run another tenant's integration: schedule names carry only the integration id, and an import event
    /// with a wrong tenant (a hand-made invoke, an edited dead-letter message) must not stop a live integration.
    async fn delete_orphaned(&self, tenant: &TenantId, id: IntegrationId) -> Result<(), StoreError> {
        self.delete(tenant, id).await
    }
    /// Makes the agent-states schedule (the import's states-only pass every `cadence`) exist, enabled or not, or
    /// deletes it (`cadence` `None`; a missing one is not an error). Idempotent.
    async fn set_states_schedule(
        &self,
        tenant: &TenantId,
        id: IntegrationId,
        cadence: Option<acd_domain::AgentStateCadence>,
        enabled: bool,
    ) -> Result<(), StoreError>;
}

/// Values the server issues once per tenant and vendor ([`acd_connectors::vendor::TenantToken`], e.g. Amazon
/// Connect's external id), kept in the table under the tenant's partition.
#[async_trait]
pub trait TenantTokenStore: Send + Sync {
    /// The tenant's value of `kind`'s token `field`, if one was issued.
    async fn get_token(
        &self,
        tenant: &TenantId,
        kind: &acd_domain::IntegrationType,
        field: &str,
    ) -> Result<Option<String>, StoreError>;

    /// Stores `candidate` as the tenant's value unless one exists (a conditional put, so concurrent first calls
    /// agree) and returns the stored value either way, with `true` when `candidate` was stored.
    async fn issue_token(
        &self,
        tenant: &TenantId,
        kind: &acd_domain::IntegrationType,
        field: &str,
        candidate: &str,
    ) -> Result<(String, bool), StoreError>;
}

/// Checks credentials against the ACD before they are saved.
#[async_trait]
pub trait CredentialVerifier: Send + Sync {
    async fn verify(&self, settings: &Settings, credentials: &Credentials) -> Result<(), ConnectorError>;
}

/// Progress of an integration's import, kept between runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ImportState {
    /// Where the first back-fill started: nothing before it was ever fetched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complete_from: Option<chrono::DateTime<chrono::Utc>>,
    /// Interval data is complete (absent intervals are zero) before this point; after it, not fetched yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complete_through: Option<chrono::DateTime<chrono::Utc>>,
    /// Where the current pass (back-fill or reconciliation re-read) stopped, when a run ran out of time or failed
    /// before reaching "now": the next run resumes there instead of starting the pass again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pass_cursor: Option<chrono::DateTime<chrono::Utc>>,
    /// The first interval that a run may have read only younger than the reconciliation window (less the quarter
    /// hour to the next run): every interval before it was read at least that old, or let go. The next new pass
    /// starts there at the latest when it is at most the UTC day before its re-read's (`import::plan::reread_from`),
    /// so a pass resumed at its cursor after a gap of up to a day or two does not leave the intervals its stopped run
    /// read young without a read at the reconciliation window's age; a mark further back is moved up to that day
    /// (`import::plan::young_for_new_pass`) and the intervals before it keep their one young read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub young_from: Option<chrono::DateTime<chrono::Utc>>,
    /// The `updated_at` of the integration record (its settings, credentials, state) as read by the run that wrote
    /// the latest day: a later run in the quarter hour that run completed finds nothing new to import only while
    /// the record is still that one (`import::plan::already_imported`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imported_with: Option<chrono::DateTime<chrono::Utc>>,
    /// The start of the latest UTC day whose interval or segment items were ever written, recorded before they
    /// are: a later day has nothing stored, so its first import skips reading the table back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub written_day: Option<chrono::DateTime<chrono::Utc>>,
    /// When a queue listing that dropped most known queues was first seen and held (queues kept active): the next
    /// run's listing confirms or clears it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_listing_held: Option<chrono::DateTime<chrono::Utc>>,
    /// The same for the agent listing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_listing_held: Option<chrono::DateTime<chrono::Utc>>,
    /// Since when the ACD user has been busy run after run (`import::busy`): cleared by a run whose listings
    /// succeed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor_busy_since: Option<chrono::DateTime<chrono::Utc>>,
    /// Through which UTC midnight every day's agent segments are final (read whole, and written, at least
    /// [`acd_connectors::Vendor::agent_states_final_after`] after the day's end): a re-read of those days reads
    /// their statistics only. Moves only from day to day (see `import::plan::segments_final_through`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segments_final_through: Option<chrono::DateTime<chrono::Utc>>,
    /// The vendor settings those final days were read with: a run under other ones (a corrected time zone) drops
    /// the mark, so the re-read days' agent states are read again under the new settings, as before the mark.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segments_final_settings: Option<serde_json::Map<String, serde_json::Value>>,
    /// The day (its UTC midnight) whose writes a run put off because they would not have fitted before its deadline
    /// (`ImportConfig::write_time_per_item`): the next run that fetches it writes it whatever the estimate, so that
    /// a day that never fits after its fetch is not fetched and put off run after run. Cleared by a day written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_put_off: Option<chrono::DateTime<chrono::Utc>>,
    /// What the connector keeps between runs ([`acd_connectors::Connector::vendor_cursor`]; Amazon Connect: the
    /// agent event stream's per-shard checkpoints; Five9: its Agent State Details rows per hour and the agent states
    /// running into the latest midnight it read), saved only after a run wrote every day it read, in an item of its
    /// own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor_cursor: Option<serde_json::Value>,
}

/// Where the agent-states pass stopped: states are read since `through` (minus a small overlap); `vendor_cursor` is
/// the connector's own feed position for this pass (Amazon Connect: per-shard stream checkpoints), kept apart from
/// the 15-minute import's.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StatesCheckpoint {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub through: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor_cursor: Option<serde_json::Value>,
    /// The latest UTC day (its midnight) a pass has written segments into, saved before its first write there:
    /// the 15-minute import reads such a day back instead of taking it for new.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub written_day: Option<chrono::DateTime<chrono::Utc>>,
}

/// What [`ImportStore::acquire_lease`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acquired {
    /// Another run holds the lease: not taken.
    No,
    /// Taken; no earlier holder's lease was left.
    Free,
    /// Taken over from a run whose lease ran out before it let it go: that run may still be writing. (Also when the
    /// item replaced was this run's own, put by an attempt whose answer was lost: whether that attempt replaced
    /// an expired lease is not known.)
    OverExpired,
}

impl Acquired {
    pub fn taken(self) -> bool {
        self != Self::No
    }
}

/// What the last agent-states pass left stored, agent by agent: for the pass's window start `since`, one 64-bit
/// hash per agent of the pieces it wrote there ([`crate::import::states::agent_hashes`]), sorted. A later pass with
/// the same window start whose answer for an agent hashes the same has nothing to write for that agent, so it does
/// not read the agent's stored segments back. Every other writer of segments (the 15-minute import, a pass that is
/// about to write) removes it first, so it only ever describes what is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenStates {
    pub since: chrono::DateTime<chrono::Utc>,
    pub hashes: Vec<u64>,
}

/// What a catalog sync (queues or agents) found: `known` items were active before it, `missing` of them are not
/// in the listing. A collapsed listing ([`crate::import::plan::listing_collapsed`]) that no earlier listing
/// confirmed is `held`: nothing is marked inactive.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListingCheck {
    pub known: u64,
    pub missing: u64,
    pub collapsed: bool,
    pub held: bool,
}

/// What a write step did. `write_requests` counts the write requests sent to DynamoDB (item puts and deletes,
/// bookkeeping items included), `batches` the BatchWriteItem calls (retries of unprocessed items included),
/// `reads` the Query and GetItem calls made to compare with what is stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WriteCounts {
    pub written: u64,
    pub deleted: u64,
    pub unchanged: u64,
    pub write_requests: u64,
    pub batches: u64,
    #[serde(default)]
    pub reads: u64,
}

impl std::ops::AddAssign for WriteCounts {
    fn add_assign(&mut self, other: Self) {
        self.written += other.written;
        self.deleted += other.deleted;
        self.unchanged += other.unchanged;
        self.write_requests += other.write_requests;
        self.batches += other.batches;
        self.reads += other.reads;
    }
}

/// The interval-data range a queue item records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueRange {
    pub external_id: String,
    pub data_from: Option<chrono::DateTime<chrono::Utc>>,
    pub data_to: Option<chrono::DateTime<chrono::Utc>>,
    /// For a queue this run lists whose statistics were read less far than the integration's (listed again after
    /// it left): how far, moved on as the run writes the days it reads ([`ImportStore::save_read_through`]).
    /// `None` for every other queue, those no longer listed included.
    pub read_through: Option<chrono::DateTime<chrono::Utc>>,
}

/// Which of an integration's leases: one run of each kind at a time, each its own item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseKind {
    /// The 15-minute import.
    Import,
    /// The agent-states pass (`crate::import::states`).
    AgentStates,
}

/// Storage of imported data (DynamoDB). Every write of imported data is idempotent: keys are deterministic and
/// unchanged items are not rewritten.
#[async_trait]
pub trait ImportStore: Send + Sync {
    /// Takes the integration's lease of `kind` unless another unexpired run holds it.
    async fn acquire_lease(
        &self,
        kind: LeaseKind,
        tenant: &TenantId,
        id: IntegrationId,
        run: acd_domain::RunId,
        now: chrono::DateTime<chrono::Utc>,
        expires: chrono::DateTime<chrono::Utc>,
    ) -> Result<Acquired, StoreError>;
    /// Releases the lease of `kind` if `run` still holds it.
    async fn release_lease(
        &self,
        kind: LeaseKind,
        tenant: &TenantId,
        id: IntegrationId,
        run: acd_domain::RunId,
    ) -> Result<(), StoreError>;
    /// Sets the lease of `kind` to expire at `until` if `run` still holds it (a run that stopped while writes of it
    /// may still be in flight keeps it until they have landed, and no longer).
    async fn hold_lease(
        &self,
        kind: LeaseKind,
        tenant: &TenantId,
        id: IntegrationId,
        run: acd_domain::RunId,
        until: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), StoreError>;
    /// Whether an unexpired run holds the lease of `kind`.
    async fn lease_held(
        &self,
        kind: LeaseKind,
        tenant: &TenantId,
        id: IntegrationId,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool, StoreError>;
    /// The import state, with the connector's cursor ([`ImportState::vendor_cursor`]).
    async fn load_state(&self, tenant: &TenantId, id: IntegrationId) -> Result<ImportState, StoreError>;
    /// Saves the state, but not its `vendor_cursor`: that is saved on its own ([`ImportStore::save_vendor_cursor`]).
    async fn save_state(&self, tenant: &TenantId, id: IntegrationId, state: &ImportState) -> Result<(), StoreError>;
    /// Saves the connector's cursor, kept apart from the state (it can be tens of KB, and the state is written
    /// several times a run and read to answer queries).
    async fn save_vendor_cursor(
        &self,
        tenant: &TenantId,
        id: IntegrationId,
        cursor: &serde_json::Value,
    ) -> Result<(), StoreError>;

    /// Upserts the queues (renames keep the queue's id), marks queues no longer listed inactive — unless the
    /// listing collapsed and `confirmed` is false (no earlier listing saw the collapse): then they stay active —
    /// and returns the data range of every queue of the integration. Every queue write is conditional on the
    /// integration record existing and not being deleted: `NotFound` when it is. Queues in `once_seen` (external
    /// ids) are stored as listed only once data has been imported for them. A queue listed for the first time is
    /// stored as complete only from `complete_through` (the integration's completed point now; `None` before any
    /// data is complete): the runs before did not read it. A queue listed again after it left the listing before
    /// `reread_from` (the earliest interval this run reads statistics of) is complete only from there on: the runs
    /// in between did not read it, and the re-read does not reach back that far. A queue listed again is complete
    /// only as far as it was read (its range's `read_through`) until the days this run reads are written.
    #[allow(clippy::too_many_arguments)]
    async fn sync_queues(
        &self,
        integration: &Integration,
        queues: &[acd_domain::Queue],
        once_seen: &std::collections::HashSet<String>,
        now: chrono::DateTime<chrono::Utc>,
        confirmed: bool,
        complete_through: Option<chrono::DateTime<chrono::Utc>>,
        reread_from: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<(WriteCounts, Vec<QueueRange>, ListingCheck), StoreError>;
    /// Records how far queues listed again have had their statistics read (`read_through` of each range: `None`
    /// once as far as the integration's completed point): written after the days they cover.
    async fn save_read_through(
        &self,
        integration: &Integration,
        ranges: &[QueueRange],
    ) -> Result<WriteCounts, StoreError>;
    /// Records new interval-data ranges of queues.
    async fn extend_queue_ranges(
        &self,
        integration: &Integration,
        ranges: &[QueueRange],
    ) -> Result<WriteCounts, StoreError>;
    /// Upserts the agents (never touching their mappings) and marks agents no longer listed inactive, with the
    /// same collapse rule as [`ImportStore::sync_queues`].
    async fn sync_agents(
        &self,
        integration: &Integration,
        agents: &[acd_domain::ExternalAgent],
        now: chrono::DateTime<chrono::Utc>,
        confirmed: bool,
    ) -> Result<(WriteCounts, ListingCheck), StoreError>;
    async fn sync_statuses(
        &self,
        integration: &Integration,
        statuses: &[acd_domain::ExternalStatus],
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<WriteCounts, StoreError>;
    /// Makes the stored intervals of `queue_external_ids` inside `chunk` equal `stats` (non-zero intervals are
    /// stored; vanished ones deleted; equal ones left alone). `chunk` is a UTC day, or its part from a whole hour on
    /// (a re-read by the hour, [`crate::import::plan::statistics_from`]): the day's hours before it are not
    /// touched. `fresh`: no item of the chunk's day was ever written, so there is nothing to read back first.
    async fn write_intervals(
        &self,
        integration: &Integration,
        chunk: acd_domain::TimeWindow,
        queue_external_ids: &[String],
        stats: &[acd_domain::IntervalStats],
        fresh: bool,
    ) -> Result<WriteCounts, StoreError>;
    /// Makes the stored segments of `agent_external_ids` that start inside `chunk` equal `pieces` (`fresh` as
    /// for [`ImportStore::write_intervals`]). The pieces are taken, not borrowed: the store turns them into its
    /// items as it goes, so a day's segments are held once, not twice.
    async fn write_segments(
        &self,
        integration: &Integration,
        chunk: acd_domain::TimeWindow,
        agent_external_ids: &[String],
        pieces: Vec<acd_domain::AgentSegment>,
        fresh: bool,
    ) -> Result<WriteCounts, StoreError>;
    /// How many items writing a day's `stats` and `pieces` puts at most: the unit of the import's write-time
    /// estimate ([`crate::import::ImportConfig::write_time_per_item`]). One per interval and segment unless the
    /// store packs several into an item.
    fn items_to_write(&self, stats: &[acd_domain::IntervalStats], pieces: &[acd_domain::AgentSegment]) -> u64 {
        (stats.len() + pieces.len()) as u64
    }
    /// Upserts `pieces` (those starting inside `chunk`) by (agent, start) and deletes nothing: for agent states
    /// read from a feed ([`acd_connectors::Connector::agent_states_feed`]), where a re-read day brings only what is
    /// new since the last run. `fresh` as for [`ImportStore::write_segments`]: none of the chunk's items was ever
    /// written, so what is stored need not be read back to merge with.
    async fn merge_segments(
        &self,
        integration: &Integration,
        chunk: acd_domain::TimeWindow,
        pieces: &[acd_domain::AgentSegment],
        fresh: bool,
    ) -> Result<WriteCounts, StoreError>;
    async fn record_run(&self, run: &RunRecord) -> Result<(), StoreError>;
    /// Adds `found` to the integration's stored agent-state gaps ([`acd_domain::gaps::merge_gaps`]: coalesced,
    /// the newest [`acd_domain::gaps::MAX_STORED_GAPS`] kept).
    async fn save_agent_state_gaps(
        &self,
        integration: &Integration,
        found: &[acd_domain::AgentStateGap],
    ) -> Result<(), StoreError>;

    // The agent-states pass (`crate::import::states`; its lease is `LeaseKind::AgentStates`).

    /// The agent-states pass's checkpoint (its own item: the 15-minute import's state is never written by it).
    async fn load_states_checkpoint(
        &self,
        tenant: &TenantId,
        id: IntegrationId,
    ) -> Result<StatesCheckpoint, StoreError>;
    async fn save_states_checkpoint(
        &self,
        tenant: &TenantId,
        id: IntegrationId,
        checkpoint: &StatesCheckpoint,
    ) -> Result<(), StoreError>;
    /// What the last agent-states pass left stored ([`SeenStates`]); `None` when no pass saved it since the last
    /// write by another (or an unreadable item: a pass then reads every agent back, as without it).
    async fn load_seen_states(&self, tenant: &TenantId, id: IntegrationId) -> Result<Option<SeenStates>, StoreError>;
    /// Saves `seen` if, in the same transaction, run `holder` holds the agent-states lease until at least
    /// `held_until`; `false` (nothing saved) if it does not.
    async fn save_seen_states(
        &self,
        tenant: &TenantId,
        id: IntegrationId,
        seen: &SeenStates,
        holder: acd_domain::RunId,
        held_until: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool, StoreError>;
    /// Removes the [`SeenStates`]: done before any other write of agent segments.
    async fn forget_seen_states(&self, tenant: &TenantId, id: IntegrationId) -> Result<(), StoreError>;
    /// The integration's active agents as the last 15-minute import listed them.
    async fn known_agents(&self, integration: &Integration) -> Result<Vec<acd_domain::ExternalAgent>, StoreError>;
    /// Upserts agent segment `pieces` (already split at UTC midnights) read over `window` and deletes the stored
    /// segments of `agent_external_ids` that start inside `window` and are not among them (the vendor's answer for
    /// that window replaces them, as the 15-minute import's does for whole days). The segment digests of the days
    /// touched are removed first, so the next 15-minute import reads those days back instead of trusting them.
    async fn write_recent_segments(
        &self,
        integration: &Integration,
        window: acd_domain::TimeWindow,
        agent_external_ids: &[String],
        pieces: &[acd_domain::AgentSegment],
    ) -> Result<WriteCounts, StoreError>;

    /// Sets the integration's status and its [`Integration::failing_since`] (in one write) unless it was deleted or
    /// paused meanwhile. With a failing status `failing_since` is written only where the record holds none (`None`:
    /// nothing written): the record's own marks the first of the failures in a row and is kept. With any other
    /// status the record's is removed. Returns the record's `failing_since` after the write (`None` with a status
    /// that does not fail, or when the write was refused). The caller derives both from the record it read; a pause
    /// and resume since (each removes `failing_since`) leave none, and then the value passed is the one that counts,
    /// not one of the record as it was read (an import run in flight across them wrote that back until 2026-12-07).
    async fn save_status(
        &self,
        tenant: &TenantId,
        id: IntegrationId,
        status: &acd_domain::IntegrationStatus,
        failing_since: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<StatusWrite, StoreError>;

    /// [`Self::save_status`] leaving the record's `failing_since` as it is with a failing status (a status that does
    /// not fail removes it): for a writer that knows nothing of failures (the ingest function's `operational`).
    /// `true` when it was written.
    async fn set_status(
        &self,
        tenant: &TenantId,
        id: IntegrationId,
        status: &acd_domain::IntegrationStatus,
    ) -> Result<bool, StoreError> {
        Ok(self.save_status(tenant, id, status, None).await?.applied())
    }
}

/// What [`ImportStore::save_status`] did. A status-change event is published only for a status that was written:
/// one refused (the record deleted or paused meanwhile) changed nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusWrite {
    /// Written; the record's `failing_since` after the write (none with a status that does not fail, or a failing
    /// one written without it).
    Applied { failing_since: Option<chrono::DateTime<chrono::Utc>> },
    /// Refused by the write's conditions: the record is gone, being deleted, or paused.
    Refused,
}

impl StatusWrite {
    pub fn applied(self) -> bool {
        matches!(self, Self::Applied { .. })
    }
}

/// One page of the run log: runs, newest first, and the position after the last one (`None`: no more). The
/// position is the store's and opaque here: it only goes back to [`RunLog::list_runs`] (inside an API cursor).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunPage {
    pub runs: Vec<RunRecord>,
    pub next: Option<String>,
}

/// Read access to the run log (newest first), for the API.
#[async_trait]
pub trait RunLog: Send + Sync {
    /// Runs before `before` (a position of an earlier page; one the store did not hand out is
    /// [`StoreError::NotFound`]).
    async fn list_runs(
        &self,
        tenant: &TenantId,
        id: IntegrationId,
        limit: usize,
        before: Option<String>,
    ) -> Result<RunPage, StoreError>;
}

/// A request remembered under an `Idempotency-Key` (per tenant, until `expires_at`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    /// The operation (`POST /integrations`) and a hash of the request body it was first sent with.
    pub operation: String,
    pub fingerprint: String,
    /// The claim of the request that runs (or ran) under the key.
    pub token: String,
    /// The answer, once the request succeeded; `None` while it is still running (until `lease_until`).
    pub response: Option<StoredResponse>,
    pub lease_until: chrono::DateTime<chrono::Utc>,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

/// An answer kept to be replayed: status, JSON body and `Location` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub body: String,
    pub location: Option<String>,
}

/// The outcome of claiming an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key is now this request's (new, expired, or abandoned by a request whose lease ran out).
    Claimed,
    /// Another request holds or completed the key.
    Held(IdempotencyRecord),
}

/// Where `Idempotency-Key`s and the answers they replay are kept (the DynamoDB table, with a TTL).
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Claims `key` for `record` (whose `response` is `None`) unless an unexpired record holds it whose request
    /// finished or is still within its lease.
    async fn claim(
        &self,
        tenant: &TenantId,
        key: &str,
        record: &IdempotencyRecord,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Claim, StoreError>;
    /// Stores the answer of the request holding the claim `token`.
    async fn complete(
        &self,
        tenant: &TenantId,
        key: &str,
        token: &str,
        response: &StoredResponse,
    ) -> Result<(), StoreError>;
    /// Forgets the claim `token` (its request failed and changed nothing: a retry runs again).
    async fn release(&self, tenant: &TenantId, key: &str, token: &str) -> Result<(), StoreError>;
}

/// What a status-change event says happened to an integration (the event's `detail-type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum StatusEventKind {
    /// A run failed after the integration was not failing, or failed for another reason than before.
    #[serde(rename = "integration.failing")]
    Failing,
    /// A run succeeded (or imported part of its window) after the integration was failing.
    #[serde(rename = "integration.recovered")]
    Recovered,
    /// The integration was deleted.
    #[serde(rename = "integration.deleted")]
    Deleted,
}

impl StatusEventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Failing => "integration.failing",
            Self::Recovered => "integration.recovered",
            Self::Deleted => "integration.deleted",
        }
    }
}

/// A status-change event (the `detail` of the EventBridge event). No credentials, no imported data.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StatusEvent {
    #[serde(rename = "type")]
    pub kind: StatusEventKind,
    pub tenant_id: TenantId,
    pub integration_id: IntegrationId,
    pub integration_type: String,
    /// Why it is failing (`integration.failing`), or why it failed before it recovered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<acd_domain::FailureReason>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub at: chrono::DateTime<chrono::Utc>,
}

/// Where status-change events go (an EventBridge bus).
#[async_trait]
pub trait EventPublisher: Send + Sync {
    async fn publish(&self, event: &StatusEvent) -> Result<(), StoreError>;
}
