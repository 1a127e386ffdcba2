//! The read side's port: [`QueryStore`] and the records it hands back.

use std::collections::{BTreeSet, HashMap};

use acd_domain::{Channel, IntegrationId, QueueId, TenantId};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{ExternalStatusRecord, Page, StoreError};

/// A queue as stored by the import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueRecord {
    pub queue_id: QueueId,
    pub integration_id: IntegrationId,
    /// The stored name (of the integration at the queue's last import); the service overlays the current one.
    pub integration_name: String,
    pub external_id: String,
    pub name: String,
    pub channel: Channel,
    pub interval_minutes: u32,
    pub active: bool,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub data_from: Option<DateTime<Utc>>,
    pub data_to: Option<DateTime<Utc>>,
    /// Where this queue's statistics are complete from, when that is later than the integration's (a queue first
    /// listed after the integration's data was complete up to a point).
    pub complete_from: Option<DateTime<Utc>>,
    /// How far this queue's statistics were read, when less far than the integration's (it left the ACD's listing,
    /// or came back and has not been read up to the integration's completed point yet): complete no further.
    pub listed_through: Option<DateTime<Utc>>,
    /// The listing's sort key: `{lower-cased name}#{queue id}` (what cursors are made of).
    pub sort_key: String,
    /// The ACD's listing names this queue's channel without knowing whether it carries it, and no data has been
    /// imported for it yet: it is not listed (see `Connector::listed_once_seen`).
    pub awaiting_traffic: bool,
}

/// Statistics of one stored interval (durations in milliseconds, as stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntervalRecord {
    pub start: DateTime<Utc>,
    pub offered: u64,
    pub handled: u64,
    pub abandoned: u64,
    pub handle_ms: u64,
    pub answer_ms: u64,
    pub answered_within_sl: Option<u64>,
}

/// A mapped external agent (from the employees index), which is also the position of agent-state listings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MappedAgent {
    #[serde(rename = "e")]
    pub employee_id: String,
    #[serde(rename = "i")]
    pub integration_id: IntegrationId,
    #[serde(rename = "x")]
    pub external_id: String,
}

/// A stored agent-state segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentRecord {
    pub start: DateTime<Utc>,
    pub end: Option<DateTime<Utc>>,
    pub status_id: String,
    pub reason: Option<String>,
}

/// Where a listing of mapped agents starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentsFrom {
    pub agent: MappedAgent,
    pub inclusive: bool,
}

/// The text filter `q`: a case-insensitive substring of the queue's name or of its integration's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextFilter {
    /// Lower-cased.
    pub needle: String,
    /// The tenant's current integrations whose (current) name contains the needle.
    pub matching_integrations: BTreeSet<IntegrationId>,
    /// Every current integration of the tenant. Queues of other integrations belong to deleted ones: for those the
    /// integration name stored on the queue is matched.
    pub current_integrations: BTreeSet<IntegrationId>,
    /// Every current integration has all its queues in the store's queue name index
    /// ([`QueryStore::integration_names_indexed`]): a store may then read the index instead of every queue.
    pub indexed: bool,
}

/// The filters of `GET /queues`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueueQuery {
    pub channel: Option<Channel>,
    pub integration_id: Option<IntegrationId>,
    pub include_inactive: bool,
    pub text: Option<TextFilter>,
}

impl QueueQuery {
    /// The whole predicate. Stores may pre-filter with something broader, but must apply this to every item.
    pub fn matches(&self, queue: &QueueRecord) -> bool {
        if queue.awaiting_traffic {
            return false;
        }
        if !self.include_inactive && !queue.active {
            return false;
        }
        if self.channel.is_some_and(|c| c != queue.channel) {
            return false;
        }
        if self.integration_id.is_some_and(|i| i != queue.integration_id) {
            return false;
        }
        match &self.text {
            None => true,
            Some(text) => {
                queue.name.to_lowercase().contains(&text.needle)
                    || text.matching_integrations.contains(&queue.integration_id)
                    || (!text.current_integrations.contains(&queue.integration_id)
                        && queue.integration_name.to_lowercase().contains(&text.needle))
            }
        }
    }
}

/// One page of queues. `next_after` is the sort key to continue after (`None`: the listing is complete).
#[derive(Debug, Clone)]
pub struct QueuePage {
    pub items: Vec<QueueRecord>,
    pub next_after: Option<String>,
}

/// A stored agent-state gap ([`acd_domain::AgentStateGap`]) of one integration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntegrationGap {
    pub integration_id: IntegrationId,
    pub gap: acd_domain::AgentStateGap,
}

/// Read access to imported data.
#[async_trait]
pub trait QueryStore: Send + Sync {
    /// Current names of the tenant's integrations (deleted ones are absent).
    async fn integration_names(&self, tenant: &TenantId) -> Result<HashMap<IntegrationId, String>, StoreError>;

    /// [`Self::integration_names`] in the same read, and whether every one of those integrations has all its queues
    /// in the store's queue name index (a store without one answers `false`).
    async fn integration_names_indexed(
        &self,
        tenant: &TenantId,
    ) -> Result<(HashMap<IntegrationId, String>, bool), StoreError> {
        Ok((self.integration_names(tenant).await?, false))
    }

    /// The current name of one integration, `None` when it does not exist (deleted or another tenant's).
    async fn integration_name(&self, tenant: &TenantId, id: IntegrationId) -> Result<Option<String>, StoreError>;

    /// Up to `limit` queues matching `query`, in sort-key order, starting after the sort key `after`. Keeps reading
    /// until the page is full or the queues are exhausted; a store may stop early after reading a bounded amount,
    /// returning fewer items with a `next_after`.
    async fn list_queues(
        &self,
        tenant: &TenantId,
        query: &QueueQuery,
        limit: usize,
        after: Option<&str>,
    ) -> Result<QueuePage, StoreError>;

    /// One queue, read strongly consistent: read after a [`Self::completeness`], it shows every change the import
    /// made before it moved `complete_through` (a queue that left the listing: its `listed_through`).
    async fn get_queue(&self, tenant: &TenantId, id: &QueueId) -> Result<Option<QueueRecord>, StoreError>;

    /// Stored intervals of a queue starting in `[from, to)`, by start, read strongly consistent (what a
    /// [`Self::completeness`] read before it claims is there).
    async fn intervals(
        &self,
        tenant: &TenantId,
        id: &QueueId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<IntervalRecord>, StoreError>;

    /// The range of the integration's complete interval data (`None`s before any import).
    async fn completeness(&self, tenant: &TenantId, integration: IntegrationId) -> Result<Completeness, StoreError>;

    /// Mapped agents in (employee, integration, external id) order, optionally only one employee's, starting at
    /// `from`. `more` tells whether agents follow.
    async fn mapped_agents(
        &self,
        tenant: &TenantId,
        employee: Option<&str>,
        from: Option<&AgentsFrom>,
        limit: usize,
    ) -> Result<Page<MappedAgent>, StoreError>;

    /// Segments of one external agent that may overlap `[from, to)` (the store looks back as far as a stored
    /// segment can last), by start; with `not_before`, none starting before it.
    async fn segments(
        &self,
        tenant: &TenantId,
        integration: IntegrationId,
        agent_external_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        not_before: Option<DateTime<Utc>>,
    ) -> Result<Vec<SegmentRecord>, StoreError>;

    /// Every stored agent-state gap of the tenant's integrations (one bounded read: at most
    /// [`acd_domain::gaps::MAX_STORED_GAPS`] per integration). An unreadable one is an error, never left out.
    async fn agent_state_gaps(&self, tenant: &TenantId) -> Result<Vec<IntegrationGap>, StoreError>;

    /// Every external status of an integration.
    async fn statuses(
        &self,
        tenant: &TenantId,
        integration: IntegrationId,
    ) -> Result<Vec<ExternalStatusRecord>, StoreError>;
}

/// Interval data of an integration is complete (absent = zero) in `[from, through)`: `from` is where its first
/// back-fill started (`None`: from the beginning, for state written before it was recorded), `through` the point
/// the import has completed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Completeness {
    pub from: Option<DateTime<Utc>>,
    pub through: Option<DateTime<Utc>>,
}
