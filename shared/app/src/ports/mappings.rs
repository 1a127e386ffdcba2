//! The mappings' port: [`MappingStore`] and the records it hands back.

use acd_domain::{IntegrationId, TenantId};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{Page, StoreError};

/// An external agent id seen by the import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalAgentRecord {
    pub integration_id: IntegrationId,
    pub external_id: String,
    pub display_name: Option<String>,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub employee_id: Option<String>,
}

/// An external status seen by the import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalStatusRecord {
    pub integration_id: IntegrationId,
    pub status_id: String,
    pub name: String,
    pub activity_id: String,
    /// Mapped by an admin (false: still on the default activity).
    pub mapped: bool,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
}

/// Storage of the discovered identifiers and their mappings.
#[async_trait]
pub trait MappingStore: Send + Sync {
    /// Whether the integration's record exists for the tenant (deleted ones, and ones being deleted, have none).
    async fn integration_exists(&self, tenant: &TenantId, id: IntegrationId) -> Result<bool, StoreError>;

    /// Agents by external id, after `after` (an external id), optionally only unmapped ones.
    async fn list_agents(
        &self,
        tenant: &TenantId,
        id: IntegrationId,
        unmapped_only: bool,
        limit: usize,
        after: Option<&str>,
    ) -> Result<Page<ExternalAgentRecord>, StoreError>;

    /// Maps (`Some`) or unmaps (`None`) an agent; `None` when the import never saw the external id.
    async fn set_agent_employee(
        &self,
        tenant: &TenantId,
        id: IntegrationId,
        external_id: &str,
        employee_id: Option<&str>,
    ) -> Result<Option<ExternalAgentRecord>, StoreError>;

    /// Statuses by status id, after `after`, optionally only those still on the default.
    async fn list_statuses(
        &self,
        tenant: &TenantId,
        id: IntegrationId,
        unmapped_only: bool,
        limit: usize,
        after: Option<&str>,
    ) -> Result<Page<ExternalStatusRecord>, StoreError>;

    /// Maps a status to an activity (`Some`) or back to the default (`None`); `None` when never seen.
    async fn set_status_activity(
        &self,
        tenant: &TenantId,
        id: IntegrationId,
        status_id: &str,
        activity_id: Option<&str>,
    ) -> Result<Option<ExternalStatusRecord>, StoreError>;
}
