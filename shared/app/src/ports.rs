//! Ports: the small traits behind which storage, secrets and schedules sit. Each has one AWS implementation
//! (crate `acd-aws`); tests can also use them against moto, or stub them to inject failures.

use acd_connectors::ConnectorError;
use acd_domain::{Credentials, Integration, IntegrationId, Settings, TenantId};
use async_trait::async_trait;

/// Failures of the infrastructure behind a port. The message is for logs, never for a client.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The integration name is already used by another integration of the tenant.
    #[error("name already taken")]
    NameTaken,
    /// The record changed since it was read (optimistic concurrency), or does not exist any more.
    #[error("the record changed concurrently")]
    Conflict,
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

    /// Removes the record and its name reservation (the imported data stays; its queues become inactive).
    async fn delete(&self, integration: &Integration) -> Result<(), StoreError>;
}

/// Where credentials live (Secrets Manager). Nothing else ever stores them.
#[async_trait]
pub trait SecretStore: Send + Sync {
    async fn create(&self, tenant: &TenantId, id: IntegrationId, credentials: &Credentials) -> Result<(), StoreError>;
    async fn get(&self, tenant: &TenantId, id: IntegrationId) -> Result<Credentials, StoreError>;
    async fn replace(&self, tenant: &TenantId, id: IntegrationId, credentials: &Credentials) -> Result<(), StoreError>;
    /// Deletes the secret at once (no recovery window). Deleting a missing secret is not an error.
    async fn delete(&self, tenant: &TenantId, id: IntegrationId) -> Result<(), StoreError>;
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
}

/// Checks credentials against the ACD before they are saved.
#[async_trait]
pub trait CredentialVerifier: Send + Sync {
    async fn verify(&self, settings: &Settings, credentials: &Credentials) -> Result<(), ConnectorError>;
}
