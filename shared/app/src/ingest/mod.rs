//! The `push` integration type: an ACD without a connector pushes queues, interval statistics and agent state
//! changes to the ingest API with an ingest key. See the README's "Push integrations (ingest API)" section.
//!
//! - [`key`]: the key format (locates its item without a Scan; only a hash is stored);
//! - [`records`]: parsing and validation of the pushed records (index + reason for each bad one);
//! - [`segments`]: agent-state segments built from events (a pure function);
//! - [`http`]: the ingest routes (function `ingest`) and the key routes of the integrations API;
//! - [`IngestStore`]: what the service needs from storage (`acd_aws::ingest_store`).

pub mod http;
pub mod key;
pub mod records;
pub mod segments;
pub mod watch;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use acd_connectors::push::vendor::{TYPE as PUSH, no_data_after_minutes};
use acd_domain::{
    Channel, ExternalAgent, ExternalStatus, FailureReason, Integration, IntegrationId, IntegrationState,
    IntegrationStatus, IntervalStats, TenantId,
};
use async_trait::async_trait;
use chrono::{DateTime, Duration, DurationRound as _, Utc};
use futures::stream::{self, StreamExt as _, TryStreamExt as _};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ports::{IntegrationRepo, StoreError, WriteCounts};
use key::KeyLocator;
use records::{AgentEvent, BatchError, QueueRecord, RecordError};

/// How long the previous key keeps working after a new one is issued.
pub const DEFAULT_GRACE_HOURS: i64 = 24;
/// Calls per key and minute (`INGEST_CALLS_PER_MINUTE`).
pub const DEFAULT_CALLS_PER_MINUTE: u32 = 600;
/// Calls per tenant and minute, over all its push integrations and keys (`INGEST_TENANT_CALLS_PER_MINUTE`): 20 a
/// second, two fifths of the HTTP API's default stage limit (50 a second, shared by every tenant and route), so one
/// tenant's senders cannot take the whole stage from the others (with per-key counters alone, five keys could).
pub const DEFAULT_TENANT_CALLS_PER_MINUTE: u32 = 1_200;
/// The integration's `last_success_at` is moved at most this often (a push does not rewrite the record each time).
pub const STATUS_REFRESH_SECONDS: i64 = 60;
/// Agents whose segments one agent-event call rebuilds at the same time. An agent's rebuild is ~6-7 sequential
/// DynamoDB round trips (its days' events, the neighbouring days', the stored segments, batch writes): one agent
/// after another, 1,000 agents would take 20-35 s at 3-5 ms a call, past the function's 20 s timeout, and every
/// retry would time out again. 16 at a time cut that to about a sixteenth (estimates from the call count, not
/// measured in AWS) while keeping the requests in flight few: about 16 (an agent's batch writes may add a few), each
/// to the agent's own partitions (no hot key), well within the SDK client's connection pool and an on-demand
/// table's throughput. More would gain little and make throttling of a large call likelier.
pub const REBUILD_CONCURRENCY: usize = 16;

/// An ingest key as stored (the hash of its secret, never the secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredKey {
    pub key_id: String,
    pub secret_hash: String,
    pub created_at: DateTime<Utc>,
    /// Set when a newer key was issued: the key works until then (the grace period).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
}

impl StoredKey {
    pub fn valid_at(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_none_or(|end| now < end)
    }

    /// Whether this key was issued before the key `key_id` issued at `created_at`. Keys are ordered by
    /// `created_at`, then `key_id` (two keys issued in the same instant): a total order, so of an integration's keys
    /// exactly one is the newest. Both never change once the key is written.
    pub fn issued_before(&self, created_at: DateTime<Utc>, key_id: &str) -> bool {
        (self.created_at, self.key_id.as_str()) < (created_at, key_id)
    }
}

/// Storage of keys and pushed data (DynamoDB: `acd_aws::ingest_store`).
#[async_trait]
pub trait IngestStore: Send + Sync {
    /// Stores a new key. `NotFound` (nothing stored) when the integration record is gone or being deleted: a key
    /// issued while a DELETE runs never outlives the integration (the delete removes the keys stored before it).
    async fn put_key(&self, locator: &KeyLocator, secret_hash: &str, now: DateTime<Utc>) -> Result<(), StoreError>;
    async fn get_key(&self, locator: &KeyLocator) -> Result<Option<StoredKey>, StoreError>;
    async fn list_keys(&self, tenant: &TenantId, integration: IntegrationId) -> Result<Vec<StoredKey>, StoreError>;
    /// Gives every key of the integration issued before `keep` (issued at `kept_created_at`; the order of
    /// [`StoredKey::issued_before`]) that has no end yet the end `at`. A key issued after `keep` — by an overlapping
    /// rotation — is left alone, so whatever the order of two rotations' steps, the newest key never gets an end.
    async fn expire_keys(
        &self,
        tenant: &TenantId,
        integration: IntegrationId,
        keep: &str,
        kept_created_at: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Removes a key; false when there was none.
    async fn delete_key(&self, locator: &KeyLocator) -> Result<bool, StoreError>;
    /// Counts one call of the key in the minute starting at `window`; false when `limit` calls were counted.
    async fn take_call(&self, locator: &KeyLocator, window: DateTime<Utc>, limit: u32) -> Result<bool, StoreError>;
    /// Counts one call of the tenant (any of its keys) in the minute starting at `window`; false when `limit` calls
    /// were counted.
    async fn take_tenant_call(&self, tenant: &TenantId, window: DateTime<Utc>, limit: u32) -> Result<bool, StoreError>;
    /// Takes back a call [`Self::take_call`] counted (the tenant's limit refused it).
    async fn give_back_call(&self, locator: &KeyLocator, window: DateTime<Utc>) -> Result<(), StoreError>;
    /// Takes back a call [`Self::take_tenant_call`] counted (the key's limit refused it).
    async fn give_back_tenant_call(&self, tenant: &TenantId, window: DateTime<Utc>) -> Result<(), StoreError>;
    /// Upserts queues (renames keep the queue id; `active: false` deactivates; data ranges are kept). A new queue is
    /// complete from the integration's `complete_through` now (its `complete_from`; none before a declaration).
    /// `NotFound` when the integration record is gone or being deleted (a tombstone): no queue of a deleted
    /// integration is written, so none becomes active again after the delete deactivated them.
    async fn upsert_queues(
        &self,
        integration: &Integration,
        queues: &[QueueRecord],
        now: DateTime<Utc>,
    ) -> Result<WriteCounts, StoreError>;
    /// The channel of every queue of the integration, by external id.
    async fn queue_channels(&self, integration: &Integration) -> Result<HashMap<String, Channel>, StoreError>;
    /// Writes intervals and extends the queues' data ranges. An all-zero interval is a value received: it deletes
    /// the stored item only where the completeness vouches for it as zero ([`ZeroCoverage`]: as stored, and with
    /// `declared`, the call's own `complete_through`, declared once these writes are done); elsewhere it is stored
    /// as an item of zeros, so that it never reads as not fetched.
    async fn put_intervals(
        &self,
        integration: &Integration,
        stats: &[IntervalStats],
        declared: Option<DateTime<Utc>>,
    ) -> Result<WriteCounts, StoreError>;
    /// Moves `complete_through` forward to `through` (never back); the first declaration also sets
    /// `complete_from` to `first`.
    async fn declare_complete(
        &self,
        integration: &Integration,
        first: DateTime<Utc>,
        through: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Stores events that are not stored yet (by [`AgentEvent::key`]: agent, `event_id`, `at`) and returns those it
    /// stored. An event stored already with the same content ([`AgentEvent::same_event`]) is a duplicate; one whose
    /// key is stored for another event (another status or reason) is a conflict, and when there is any, nothing is
    /// stored.
    async fn insert_events(
        &self,
        integration: &Integration,
        events: &[AgentEvent],
    ) -> Result<InsertedEvents, StoreError>;
    /// Every stored event of one agent and UTC day.
    async fn day_events(
        &self,
        integration: &Integration,
        agent: &str,
        day: DateTime<Utc>,
    ) -> Result<Vec<AgentEvent>, StoreError>;
    /// Makes the stored segments of one agent that start on `day` equal `segments`.
    async fn write_day_segments(
        &self,
        integration: &Integration,
        agent: &str,
        day: DateTime<Utc>,
        segments: &[acd_domain::AgentSegment],
    ) -> Result<WriteCounts, StoreError>;
    /// The ids of the integration's stored external statuses (`ST#…` items).
    async fn status_ids(&self, integration: &Integration) -> Result<BTreeSet<String>, StoreError>;
    /// Records agents and statuses seen in events (never marks any inactive, never touches mappings).
    async fn discover(
        &self,
        integration: &Integration,
        agents: &[ExternalAgent],
        statuses: &[ExternalStatus],
        now: DateTime<Utc>,
    ) -> Result<WriteCounts, StoreError>;
    /// Sets the integration's status (unless deleted or paused meanwhile); `true` when it was written.
    async fn set_status(&self, integration: &Integration, status: &IntegrationStatus) -> Result<bool, StoreError>;
}

/// Where a push integration's completeness vouches for an absent interval of a queue as a zero, as the queries read
/// it (`QueryService::intervals`: the integration's `[complete_from, complete_through)`, narrowed to the queue's own
/// `complete_from` and `listed_through`). A pushed all-zero interval there may be stored as a delete (no item: the
/// import's form, cheaper to keep and to read); anywhere else absent reads as not fetched (`stats: null`), so it is
/// stored as an item of zeros and reads as the zero it is.
///
/// Claims no more than the queries will: completeness only grows (`complete_through` only moves forward, a
/// `complete_from` is written once), so what it vouches for before a call's writes it still vouches for after them.
/// The call's own declaration counts (it is made right after its writes; a call that fails in between is answered
/// 503 and its retry declares it), but a first declaration does not: it takes its `complete_from` from the earliest
/// data pushed when it is made, which the call cannot know, so the zeros of that one call are stored as items.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ZeroCoverage {
    /// The integration's completeness as stored before the call (its `STATE` item).
    pub integration: crate::ports::Completeness,
    /// The call's own `complete_through`.
    pub declared: Option<DateTime<Utc>>,
    /// Each queue's own completeness, by external id.
    pub queues: HashMap<String, QueueCoverage>,
}

/// A queue's own bounds of its completeness (its `complete_from` and `listed_through`; see `QueueRecord`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueCoverage {
    pub complete_from: Option<DateTime<Utc>>,
    pub listed_through: Option<DateTime<Utc>>,
}

impl ZeroCoverage {
    /// Whether the interval of `queue` starting at `start` reads as a complete zero when absent.
    pub fn vouches_for(&self, queue: &str, start: DateTime<Utc>) -> bool {
        let (Some(integration_from), Some(q)) = (self.integration.from, self.queues.get(queue)) else {
            return false;
        };
        let Some(through) = self.integration.through.max(self.declared) else { return false };
        let through = q.listed_through.map_or(through, |read| through.min(read));
        let from = q.complete_from.map_or(integration_from, |own| own.max(integration_from));
        start >= from && start + Duration::minutes(acd_domain::INTERVAL_MINUTES) <= through
    }
}

/// What [`IngestStore::insert_events`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InsertedEvents {
    /// The events it stored (not stored before).
    pub inserted: Vec<AgentEvent>,
    /// Events whose agent, UTC day and `event_id` are stored for another event: (index into the events given, the
    /// stored event), by index. When there is any, nothing was stored.
    pub conflicts: Vec<(usize, AgentEvent)>,
    pub counts: WriteCounts,
}

/// Why an ingest call was refused.
#[derive(Debug)]
pub enum IngestError {
    /// No key, an unknown, revoked or expired key, or one of a deleted integration (401; also when the delete
    /// started while the call was running).
    Unauthorized,
    Paused,
    RateLimited {
        retry_after_seconds: i64,
        /// The tenant's limit over all its keys refused the call (else the key's own).
        tenant_wide: bool,
    },
    TooLarge,
    InvalidJson(String),
    Batch(BatchError),
    NotFound,
    MethodNotAllowed,
    Backend(String),
}

impl From<StoreError> for IngestError {
    fn from(value: StoreError) -> Self {
        IngestError::Backend(value.to_string())
    }
}

impl From<BatchError> for IngestError {
    fn from(value: BatchError) -> Self {
        IngestError::Batch(value)
    }
}

/// What an accepted call did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IngestOutcome {
    /// The call's records, all applied; for events every record of the call, duplicates included.
    pub accepted: usize,
    /// Events already stored or repeated in the call (same agent, day, `event_id` and content): ignored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicates: Option<usize>,
    /// DynamoDB write requests the call made (for the benchmark; also logged).
    pub write_requests: u64,
}

#[derive(Debug, Clone)]
pub struct IngestConfig {
    pub calls_per_minute: u32,
    pub tenant_calls_per_minute: u32,
    pub grace: Duration,
}

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            calls_per_minute: DEFAULT_CALLS_PER_MINUTE,
            tenant_calls_per_minute: DEFAULT_TENANT_CALLS_PER_MINUTE,
            grace: Duration::hours(DEFAULT_GRACE_HOURS),
        }
    }
}

impl IngestConfig {
    /// The accepted `INGEST_CALLS_PER_MINUTE` and `INGEST_TENANT_CALLS_PER_MINUTE` (read at start-up by
    /// `acd_aws::config`).
    pub const CALLS_PER_MINUTE: std::ops::RangeInclusive<u32> = 1..=100_000;
    /// The accepted `INGEST_KEY_GRACE_HOURS`.
    pub const GRACE_HOURS: std::ops::RangeInclusive<i64> = 0..=720;
}

/// The ingest service: authenticates a key and applies one call's records.
#[derive(Clone)]
pub struct IngestService {
    pub repo: Arc<dyn IntegrationRepo>,
    pub store: Arc<dyn IngestStore>,
    pub config: IngestConfig,
    /// Where `integration.recovered` goes when a push ends a `no_data` failure (none: not published).
    pub events: Option<Arc<dyn crate::ports::EventPublisher>>,
}

fn day_of(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(Duration::days(1)).unwrap_or(t)
}

impl IngestService {
    /// The integration a key belongs to, once the key is checked and the call counted.
    pub async fn authenticate(
        &self,
        raw: Option<SecretString>,
        now: DateTime<Utc>,
    ) -> Result<Integration, IngestError> {
        let presented = raw.as_ref().and_then(key::parse).ok_or(IngestError::Unauthorized)?;
        let stored = self.store.get_key(&presented.locator).await?.ok_or(IngestError::Unauthorized)?;
        if !key::hashes_match(&stored.secret_hash, &presented.secret_hash) || !stored.valid_at(now) {
            return Err(IngestError::Unauthorized);
        }
        let locator = &presented.locator;
        let integration = self
            .repo
            .get(&locator.tenant, locator.integration)
            .await?
            .filter(|i| i.kind == PUSH)
            .ok_or(IngestError::Unauthorized)?;
        if integration.status.state == IntegrationState::Paused {
            return Err(IngestError::Paused);
        }
        let window = now.duration_trunc(Duration::minutes(1)).unwrap_or(now);
        // Both counters at once (one round trip of latency): the key's, and the tenant's over all its keys. A call
        // refused by one is taken back from the other, which counted it: a sender retrying its refused calls at
        // once must not spend its tenant's allowance (the other integrations' calls), nor the other way round
        // (until 2026-12-08 it did, up to the whole limit). Until it is taken back it counts (a call of another key
        // may be refused in between); one that cannot be taken back is logged and counts for that minute.
        let (key, tenant) = futures::join!(
            self.store.take_call(locator, window, self.config.calls_per_minute),
            self.store.take_tenant_call(&locator.tenant, window, self.config.tenant_calls_per_minute),
        );
        let (key, tenant) = (key?, tenant?);
        if !(key && tenant) {
            let given_back = match (key, tenant) {
                (true, false) => self.store.give_back_call(locator, window).await,
                (false, true) => self.store.give_back_tenant_call(&locator.tenant, window).await,
                _ => Ok(()),
            };
            if let Err(e) = given_back {
                tracing::warn!(tenant = %locator.tenant, error = %e, "a refused call's count was not taken back");
            }
            let retry = (window + Duration::minutes(1) - now).num_seconds().max(1);
            return Err(IngestError::RateLimited { retry_after_seconds: retry, tenant_wide: !tenant });
        }
        Ok(integration)
    }

    pub async fn queues(
        &self,
        integration: &Integration,
        body: &Value,
        now: DateTime<Utc>,
    ) -> Result<IngestOutcome, IngestError> {
        let queues = records::parse_queues(body, &records::Sender::of(&integration.settings))?;
        let counts = match self.store.upsert_queues(integration, &queues, now).await {
            // Deleted since the key was checked: answered as the next call with the key will be.
            Err(StoreError::NotFound) => return Err(IngestError::Unauthorized),
            other => other?,
        };
        // Not data for the silence watch (see `received`): a sender whose interval and event feeds died while its
        // queue sync runs must still go `no_data`.
        Ok(IngestOutcome { accepted: queues.len(), duplicates: None, write_requests: counts.write_requests })
    }

    pub async fn intervals(
        &self,
        integration: &Integration,
        body: &Value,
        now: DateTime<Utc>,
    ) -> Result<IngestOutcome, IngestError> {
        let batch = records::parse_intervals(body, now, &records::Sender::of(&integration.settings))?;
        let channels = self.store.queue_channels(integration).await?;
        let mut errors = Vec::new();
        for (index, stats, channel) in &batch.intervals {
            match channels.get(&stats.queue_external_id) {
                None => errors.push(RecordError {
                    index: *index,
                    reason: "unknown queue: push it to /ingest/queues first".into(),
                }),
                Some(c) if c != channel => errors.push(RecordError {
                    index: *index,
                    reason: format!("the queue's channel is {}, not {}", c.as_str(), channel.as_str()),
                }),
                Some(_) => {}
            }
        }
        if !errors.is_empty() {
            errors.sort_by_key(|e| e.index);
            return Err(BatchError::Records(errors).into());
        }
        let stats: Vec<IntervalStats> = batch.intervals.iter().map(|(_, s, _)| s.clone()).collect();
        let counts = self.store.put_intervals(integration, &stats, batch.complete_through).await?;
        if let Some(through) = batch.complete_through {
            let first = stats.iter().map(|s| s.interval_start).min().unwrap_or(through).min(through);
            self.store.declare_complete(integration, first, through).await?;
        }
        if !stats.is_empty() || batch.complete_through.is_some() {
            self.received(integration, now).await?;
        }
        Ok(IngestOutcome { accepted: stats.len(), duplicates: None, write_requests: counts.write_requests })
    }

    /// Refuses the call (422, nothing applied) when its events would take the integration past
    /// [`records::MAX_STATUSES`] external statuses: each `status` and `reason` pair is a status of its own, listed,
    /// mapped and read with every `GET /agent-states` page, so a sender writing free text into `reason` (a ticket
    /// number, a time) would make them grow without end. The new statuses that fit, in the order the call first
    /// names them, are allowed; each record naming one of the others is refused with its index.
    async fn check_status_budget(
        &self,
        integration: &Integration,
        indexes: &[usize],
        events: &[AgentEvent],
    ) -> Result<(), IngestError> {
        if events.is_empty() {
            return Ok(());
        }
        let known = self.store.status_ids(integration).await?;
        // The new ones in the order the call first names them.
        let (mut new, mut named): (Vec<String>, BTreeSet<String>) = (Vec::new(), BTreeSet::new());
        for e in events {
            let id = e.status_id();
            if !known.contains(&id) && named.insert(id.clone()) {
                new.push(id);
            }
        }
        let room = records::MAX_STATUSES.saturating_sub(known.len());
        if new.len() <= room {
            return Ok(());
        }
        let refused: BTreeSet<&str> = new[room..].iter().map(String::as_str).collect();
        let errors = indexes
            .iter()
            .zip(events)
            .filter(|(_, e)| refused.contains(e.status_id().as_str()))
            .map(|(index, e)| RecordError {
                index: *index,
                reason: format!(
                    "status `{}` would be a new status of the integration, which has {} of at most {} (each \
                     status and reason pair is one): a reason names a reason code, not free text",
                    e.status_id(),
                    known.len(),
                    records::MAX_STATUSES
                ),
            })
            .collect();
        Err(BatchError::Records(errors).into())
    }

    /// Stores new events and rebuilds the segments of every agent and day the call's events touch: the day of each
    /// event, and the day before when one is the first of its day (the previous day's last segment ends there).
    /// Events already stored count too: a call that failed after storing its events (a throttled segment write, a
    /// timeout) is repaired by its retry, which finds them all stored (it built nothing and discovered no agent
    /// before 2026-12-06: the states stayed missing until a later event of the same agent and day).
    pub async fn events(
        &self,
        integration: &Integration,
        body: &Value,
        now: DateTime<Utc>,
    ) -> Result<IngestOutcome, IngestError> {
        let parsed = records::parse_events(body, now, &records::Sender::of(&integration.settings))?;
        let (indexes, events): (Vec<usize>, Vec<AgentEvent>) = parsed.into_iter().unzip();
        self.check_status_budget(integration, &indexes, &events).await?;
        // Every record of the call (a repeat within it is a duplicate too).
        let sent = body.get("events").and_then(Value::as_array).map_or(events.len(), Vec::len);
        let InsertedEvents { inserted, conflicts, mut counts } = self.store.insert_events(integration, &events).await?;
        if !conflicts.is_empty() {
            let errors = conflicts
                .iter()
                .map(|(i, stored)| RecordError {
                    index: indexes[*i],
                    reason: records::stored_conflict(&events[*i], stored),
                })
                .collect();
            return Err(BatchError::Records(errors).into());
        }
        let duplicates = sent - inserted.len();
        // Agents and statuses first, so a segment never refers to a status the API does not list.
        let mut agents: BTreeMap<String, Option<String>> = BTreeMap::new();
        let mut statuses: BTreeSet<String> = BTreeSet::new();
        for e in &events {
            let name = agents.entry(e.agent.clone()).or_default();
            if e.agent_name.is_some() {
                *name = e.agent_name.clone();
            }
            statuses.insert(e.status_id());
        }
        let agents: Vec<ExternalAgent> =
            agents.into_iter().map(|(external_id, display_name)| ExternalAgent { external_id, display_name }).collect();
        let statuses: Vec<ExternalStatus> =
            statuses.into_iter().map(|id| ExternalStatus { name: id.clone(), id }).collect();
        if !agents.is_empty() {
            counts += self.store.discover(integration, &agents, &statuses, now).await?;
        }
        // Earliest event of the call per agent and day, by agent. Agents are rebuilt at the same time (at most
        // `REBUILD_CONCURRENCY`), each agent's days one after another in order; see `rebuild_agent`.
        let mut touched: BTreeMap<String, BTreeMap<DateTime<Utc>, DateTime<Utc>>> = BTreeMap::new();
        for e in &events {
            let entry = touched.entry(e.agent.clone()).or_default().entry(day_of(e.at)).or_insert(e.at);
            *entry = (*entry).min(e.at);
        }
        // The first failure fails the call (503) and drops the other agents' rebuilds: the retry rebuilds them all
        // (every event of the call is stored by then), as it does after a timeout.
        let rebuilt: Vec<WriteCounts> = stream::iter(
            touched
                .into_iter()
                .map(|(agent, days)| async move { self.rebuild_agent(integration, &agent, &days).await }),
        )
        .buffer_unordered(REBUILD_CONCURRENCY)
        .try_collect()
        .await?;
        for c in rebuilt {
            counts += c;
        }
        if sent > 0 {
            self.received(integration, now).await?;
        }
        Ok(IngestOutcome { accepted: sent, duplicates: Some(duplicates), write_requests: counts.write_requests })
    }

    /// Rebuilds the segments of one agent's `days` (day → the call's earliest event on it): each day, and the
    /// day before when that earliest event is the first of its day. A day's rebuild reads the next day's events
    /// and writes only segments starting on the day, in the agent's own partitions: days are rebuilt one after
    /// another in order (never two of one agent at once), other agents' rebuilds run meanwhile.
    async fn rebuild_agent(
        &self,
        integration: &Integration,
        agent: &str,
        days: &BTreeMap<DateTime<Utc>, DateTime<Utc>>,
    ) -> Result<WriteCounts, IngestError> {
        let mut cache: HashMap<DateTime<Utc>, Vec<AgentEvent>> = HashMap::new();
        let mut rebuild: BTreeSet<DateTime<Utc>> = BTreeSet::new();
        for (day, earliest) in days {
            rebuild.insert(*day);
            let events = self.cached(&mut cache, integration, agent, *day).await?;
            if events.iter().all(|e| e.at >= *earliest) {
                rebuild.insert(*day - Duration::days(1));
            }
        }
        let mut counts = WriteCounts::default();
        for day in rebuild {
            let events = self.cached(&mut cache, integration, agent, day).await?;
            let next_day = self.cached(&mut cache, integration, agent, day + Duration::days(1)).await?;
            let next = next_day.iter().map(|e| e.at).min();
            let built = segments::build_day(&events, next);
            counts += self.store.write_day_segments(integration, agent, day, &built).await?;
        }
        Ok(counts)
    }

    async fn cached(
        &self,
        cache: &mut HashMap<DateTime<Utc>, Vec<AgentEvent>>,
        integration: &Integration,
        agent: &str,
        day: DateTime<Utc>,
    ) -> Result<Vec<AgentEvent>, IngestError> {
        if let Some(found) = cache.get(&day) {
            return Ok(found.clone());
        }
        let events = self.store.day_events(integration, agent, day).await?;
        cache.insert(day, events.clone());
        Ok(events)
    }

    /// Data arrived: `operational`, with `last_success_at` moved at most once a minute. A push that ends a stored
    /// failure (`no_data`, set by the watch pass, [`watch`]) publishes `integration.recovered`.
    ///
    /// Data is what the silence watch is about: a call with at least one interval or agent event (a resent
    /// duplicate too: the feed is alive), or a `complete_through` declaration (a closed contact center declares
    /// quarter hours without contacts). Queue calls and empty calls are applied but are not data: until 2026-12-07
    /// they moved `last_success_at`, so a sender whose interval and event feeds died while its queue sync (or an
    /// empty heartbeat) ran stayed `operational` and `no_data` never fired.
    async fn received(&self, integration: &Integration, now: DateTime<Utc>) -> Result<(), IngestError> {
        let fresh = integration.status.state == IntegrationState::Operational
            && integration.status.last_success_at.is_some_and(|t| now - t < Duration::seconds(STATUS_REFRESH_SECONDS));
        if !fresh {
            let status = IntegrationStatus {
                state: IntegrationState::Operational,
                reason: None,
                message: None,
                last_success_at: Some(now),
                last_run_at: Some(now),
                resumed_at: integration.status.resumed_at,
            };
            // Refused (deleted or paused since the key was checked): nothing recovered, no event (until 2026-12-07 a
            // push overlapping a DELETE published `integration.recovered` after `integration.deleted`).
            let written = self.store.set_status(integration, &status).await?;
            if written && integration.status.state == IntegrationState::Failing {
                let event = crate::ports::StatusEvent {
                    kind: crate::ports::StatusEventKind::Recovered,
                    tenant_id: integration.tenant_id.clone(),
                    integration_id: integration.id,
                    integration_type: integration.kind.as_str().to_owned(),
                    reason: integration.status.reason,
                    message: None,
                    at: now,
                };
                crate::events::publish(self.events.as_deref(), &event).await;
            }
        }
        Ok(())
    }
}

/// The status shown for an integration at `now`: a push integration that received no data (intervals, agent
/// events or a `complete_through`; queue calls are not data, see `IngestService::received`) for longer than its
/// silence setting is `failing` with reason `no_data` (evaluated on read: no schedule, no Scan; the stored
/// status changes back to `operational` with the next push of data).
pub fn effective_status(integration: &Integration, now: DateTime<Utc>) -> IntegrationStatus {
    let status = integration.status.clone();
    if integration.kind != PUSH || status.state == IntegrationState::Paused {
        return status;
    }
    let (since, silence) = silence_limit(integration);
    let limit = silence.num_minutes();
    if now - since >= silence {
        IntegrationStatus {
            state: IntegrationState::Failing,
            reason: Some(FailureReason::NoData),
            message: Some(format!(
                "no intervals, agent events or complete_through were pushed for {} minutes (the silence limit is {})",
                (now - since).num_minutes(),
                limit
            )),
            ..status
        }
    } else {
        status
    }
}

/// Since when a push integration is silent (its last push of data, or its creation, or its last resume if later:
/// no push is accepted while paused, so until 2026-12-07 a resume after a pause longer than the limit was `failing`
/// at once, with a `FailingFor` of the whole pause that fired the one-hour alarm) and for how long it may be
/// (`no_data_after_minutes`) before it is failing with reason `no_data`.
pub fn silence_limit(integration: &Integration) -> (DateTime<Utc>, Duration) {
    let limit = no_data_after_minutes(&integration.settings);
    let status = &integration.status;
    let since = status.last_success_at.unwrap_or(integration.created_at).max(status.resumed_at.unwrap_or_default());
    (since, Duration::minutes(i64::from(limit)))
}

/// A newly issued key as the API shows it, once.
#[derive(Debug)]
pub struct NewKey {
    pub key_id: String,
    pub key: SecretString,
    pub created_at: DateTime<Utc>,
}

/// Creating push integrations and managing their keys (routes of the integrations API).
#[derive(Clone)]
pub struct IngestAdmin {
    pub repo: Arc<dyn IntegrationRepo>,
    pub store: Arc<dyn IngestStore>,
    /// The integration's `imp-{id}` schedule: for a push type it runs the silence watch ([`watch`]).
    pub schedules: Arc<dyn crate::ports::ScheduleStore>,
    pub config: IngestConfig,
    pub default_history_days: u32,
}

/// Whether a create body asks for a push integration (the create route branches on it).
pub fn is_push_create(body: &Value) -> bool {
    body.get("type").and_then(Value::as_str) == Some(PUSH.as_str())
}

impl IngestAdmin {
    /// Creates a push integration (record + unique name + quota, atomically), its schedule (the silence watch,
    /// [`watch`]) and its first key. No secret. A failure to create the schedule or store the key removes what was
    /// made again.
    pub async fn create(
        &self,
        tenant: &TenantId,
        body: &Value,
        now: DateTime<Utc>,
    ) -> Result<(Integration, NewKey), crate::error::ApiError> {
        // Validated through the vendor registry like every type (push: no credentials, its own settings).
        let new = acd_connectors::registry::parse_new_integration_with(body, self.default_history_days)?;
        if new.kind != PUSH {
            return Err(crate::error::ApiError::NotFound);
        }
        let integration = Integration {
            id: IntegrationId::new(),
            tenant_id: tenant.clone(),
            name: new.name,
            kind: PUSH,
            credential_hints: new.credentials.hints(),
            secret_version: None,
            settings: new.settings,
            status: IntegrationStatus {
                state: IntegrationState::Importing,
                reason: None,
                message: Some("waiting for the first push".into()),
                last_success_at: None,
                last_run_at: None,
                resumed_at: None,
            },
            failing_since: None,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        self.repo.create(&integration).await?;
        let made = match self.schedules.create(tenant, integration.id).await {
            Ok(()) => self.issue(&integration, now).await,
            Err(e) => Err(e),
        };
        match made {
            Ok(key) => Ok((integration, key)),
            Err(e) => {
                if let Err(undo) = self.schedules.delete(tenant, integration.id).await {
                    tracing::error!(tenant = %tenant, integration = %integration.id, error = %undo,
                        "the schedule of a push integration whose create failed could not be removed");
                }
                if let Err(undo) = self.repo.delete(&integration).await {
                    tracing::error!(tenant = %tenant, integration = %integration.id, error = %undo,
                        "a push integration whose create failed could not be removed");
                }
                Err(e.into())
            }
        }
    }

    async fn issue(&self, integration: &Integration, now: DateTime<Utc>) -> Result<NewKey, StoreError> {
        let issued = key::issue(&integration.tenant_id, integration.id);
        self.store.put_key(&issued.locator, &issued.secret_hash, now).await?;
        Ok(NewKey { key_id: issued.locator.key_id, key: issued.key, created_at: now })
    }

    async fn push_integration(&self, tenant: &TenantId, id: &str) -> Result<Integration, crate::error::ApiError> {
        let id: IntegrationId = id.parse().map_err(|_| crate::error::ApiError::NotFound)?;
        self.repo.get(tenant, id).await?.filter(|i| i.kind == PUSH).ok_or(crate::error::ApiError::NotFound)
    }

    /// A new key; the integration's older keys keep working for the grace period.
    ///
    /// Only keys issued before the new one get an end ([`IngestStore::expire_keys`]). Until 2026-12-07 every other
    /// key without an end got one, so two overlapping rotations (a double click, a retry after a timeout) that both
    /// wrote their key before either ended the others ended each other's: both answered 201, every key stopped
    /// working after the grace period and the integration went `no_data`. Now the newest of the two keys never ends,
    /// the other works for the grace period like any older key.
    pub async fn rotate(
        &self,
        tenant: &TenantId,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<NewKey, crate::error::ApiError> {
        let integration = self.push_integration(tenant, id).await?;
        let new = self.issue(&integration, now).await?;
        self.store.expire_keys(tenant, integration.id, &new.key_id, new.created_at, now + self.config.grace).await?;
        Ok(new)
    }

    pub async fn list(&self, tenant: &TenantId, id: &str) -> Result<Vec<StoredKey>, crate::error::ApiError> {
        let integration = self.push_integration(tenant, id).await?;
        Ok(self.store.list_keys(tenant, integration.id).await?)
    }

    /// Revokes a key at once (404 when the integration has no such key). The id is read case-insensitively.
    pub async fn revoke(&self, tenant: &TenantId, id: &str, key_id: &str) -> Result<(), crate::error::ApiError> {
        let integration = self.push_integration(tenant, id).await?;
        let hex16 = key_id.len() == 16 && key_id.bytes().all(|b| b.is_ascii_hexdigit());
        // Ids are issued in lower case (`key::issue`): `ABC…` names the key `abc…` (it was a 404).
        let key_id = key_id.to_ascii_lowercase();
        let locator = KeyLocator { tenant: tenant.clone(), integration: integration.id, key_id };
        if hex16 && self.store.delete_key(&locator).await? { Ok(()) } else { Err(crate::error::ApiError::NotFound) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;
    use serde_json::json;

    fn push_integration(last: Option<DateTime<Utc>>, state: IntegrationState) -> Integration {
        let t0 = Utc.with_ymd_and_hms(2026, 11, 30, 8, 0, 0).unwrap();
        let new = acd_connectors::registry::parse_new_integration(&json!({"name": "Dialer", "type": "push"})).unwrap();
        Integration {
            id: IntegrationId::new(),
            tenant_id: TenantId::parse("t").unwrap(),
            name: new.name,
            kind: PUSH,
            settings: new.settings,
            credential_hints: new.credentials.hints(),
            secret_version: None,
            status: IntegrationStatus {
                state,
                reason: None,
                message: None,
                last_success_at: last,
                last_run_at: last,
                resumed_at: None,
            },
            failing_since: None,
            created_at: t0,
            updated_at: t0,
            version: 1,
        }
    }

    #[test]
    fn silence_longer_than_the_setting_reads_as_failing_no_data() {
        let t0 = Utc.with_ymd_and_hms(2026, 11, 30, 8, 0, 0).unwrap();
        let i = push_integration(Some(t0), IntegrationState::Operational);
        assert_eq!(effective_status(&i, t0 + Duration::minutes(59)).state, IntegrationState::Operational);
        let late = effective_status(&i, t0 + Duration::minutes(60));
        assert_eq!((late.state, late.reason), (IntegrationState::Failing, Some(FailureReason::NoData)));
        assert_eq!(late.last_success_at, Some(t0));
        // Never pushed: counted from creation. Paused: shown as paused.
        let new = push_integration(None, IntegrationState::Importing);
        assert_eq!(effective_status(&new, t0 + Duration::minutes(61)).reason, Some(FailureReason::NoData));
        let paused = push_integration(Some(t0), IntegrationState::Paused);
        assert_eq!(effective_status(&paused, t0 + Duration::days(3)).state, IntegrationState::Paused);
    }

    #[test]
    fn a_pushed_zero_is_vouched_for_only_inside_the_queues_completeness() {
        let at = |h: u32, m: u32| Utc.with_ymd_and_hms(2026, 12, 7, h, m, 0).unwrap();
        let stored = crate::ports::Completeness { from: Some(at(10, 0)), through: Some(at(11, 0)) };
        let queues = |own: QueueCoverage| HashMap::from([("q".to_owned(), own)]);
        let coverage = ZeroCoverage { integration: stored, declared: None, queues: queues(QueueCoverage::default()) };
        let vouched = |c: &ZeroCoverage, starts: &[DateTime<Utc>]| -> Vec<bool> {
            starts.iter().map(|s| c.vouches_for("q", *s)).collect()
        };
        // `[complete_from, complete_through)`, whole quarter hours only.
        assert_eq!(vouched(&coverage, &[at(9, 45), at(10, 0), at(10, 45), at(11, 0)]), [false, true, true, false]);
        assert!(!coverage.vouches_for("other", at(10, 0)), "a queue not read vouches for nothing");
        // The call's own declaration extends it; one behind the stored `complete_through` does not narrow it.
        let declared = ZeroCoverage { declared: Some(at(11, 30)), ..coverage.clone() };
        assert_eq!(vouched(&declared, &[at(11, 0), at(11, 15), at(11, 30)]), [true, true, false]);
        let behind = ZeroCoverage { declared: Some(at(10, 30)), ..coverage.clone() };
        assert_eq!(vouched(&behind, &[at(10, 45)]), [true]);
        // The queue's own `complete_from` (first pushed after a declaration) and `listed_through` narrow it.
        let late = QueueCoverage { complete_from: Some(at(10, 30)), listed_through: None };
        let late = ZeroCoverage { queues: queues(late), ..declared.clone() };
        assert_eq!(vouched(&late, &[at(10, 15), at(10, 30), at(11, 15)]), [false, true, true]);
        let left = QueueCoverage { complete_from: None, listed_through: Some(at(10, 30)) };
        let left = ZeroCoverage { queues: queues(left), ..declared.clone() };
        assert_eq!(vouched(&left, &[at(10, 15), at(10, 30)]), [true, false]);
        // Nothing stored: not even the call's own first declaration vouches (its `complete_from` is not known yet).
        let first = ZeroCoverage { integration: Default::default(), ..declared };
        assert_eq!(vouched(&first, &[at(10, 0), at(11, 0)]), [false, false]);
        let undeclared = ZeroCoverage { declared: None, ..first };
        assert_eq!(vouched(&undeclared, &[at(10, 0)]), [false]);
    }

    #[test]
    fn keys_are_ordered_by_creation_then_by_id() {
        let t0 = Utc.with_ymd_and_hms(2026, 12, 7, 8, 0, 0).unwrap();
        let key = |key_id: &str, created_at| StoredKey {
            key_id: key_id.into(),
            secret_hash: String::new(),
            created_at,
            expires_at: None,
        };
        let k = key("00000000000000ff", t0);
        assert!(k.issued_before(t0 + Duration::milliseconds(1), "0000000000000000"), "a later key is newer");
        assert!(!k.issued_before(t0 - Duration::milliseconds(1), "ffffffffffffffff"), "an earlier key is older");
        // The same instant: the greater id is the newer key, and a key is not issued before itself.
        assert!(k.issued_before(t0, "0000000000000100") && !k.issued_before(t0, "00000000000000fe"));
        assert!(!k.issued_before(t0, "00000000000000ff"));
        // Of two keys issued in the same instant exactly one is issued before the other.
        let other = key("00000000000000fe", t0);
        assert!(other.issued_before(k.created_at, &k.key_id) != k.issued_before(other.created_at, &other.key_id));
    }

    #[test]
    fn push_create_bodies_go_through_the_registry() {
        let parse = |b: Value| acd_connectors::registry::parse_new_integration_with(&b, 30);
        let new = parse(json!({"name": "D", "type": "push", "settings": {"no_data_after_minutes": 15}})).unwrap();
        assert_eq!((no_data_after_minutes(&new.settings), new.settings.history_days), (15, 30));
        assert!(new.credentials.is_empty());
        assert_eq!(no_data_after_minutes(&parse(json!({"name": "D", "type": "push"})).unwrap().settings), 60);
        let errors = parse(
            json!({"name": "D", "type": "push", "credentials": {"x": 1}, "settings": {"no_data_after_minutes": 1}}),
        )
        .unwrap_err();
        let fields = errors.fields();
        assert!(fields.contains(&"/settings/no_data_after_minutes"), "{fields:?}");
        assert!(fields.iter().any(|f| f.starts_with("/credentials")), "{fields:?}");
        assert!(is_push_create(&json!({"type": "push"})) && !is_push_create(&json!({"type": "five9"})));
    }
}
