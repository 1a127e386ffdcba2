//! The integrations service: create, read, change, pause, resume and delete integrations, keeping the record
//! (DynamoDB), the credentials (Secrets Manager) and the schedules (EventBridge Scheduler) consistent.

use std::sync::Arc;

use acd_domain::validation::{parse_new_integration_with, parse_patch};
use acd_domain::{Credentials, Integration, IntegrationId, IntegrationState, IntegrationStatus, Settings, TenantId};
use chrono::Utc;
use serde_json::Value;

use crate::error::ApiError;
use crate::import::RunRecord;
use crate::ports::{CredentialVerifier, IntegrationRepo, RunLog, ScheduleStore, SecretStore, StoreError};

/// Listing bounds for `GET /integrations`.
pub const DEFAULT_PAGE_SIZE: usize = 50;
pub const MAX_PAGE_SIZE: usize = 100;
/// How often a change that lost a race with an import's status update is retried on a fresh read.
const CONFLICT_RETRIES: usize = 3;

#[derive(Clone)]
pub struct IntegrationService {
    pub repo: Arc<dyn IntegrationRepo>,
    pub secrets: Arc<dyn SecretStore>,
    pub schedules: Arc<dyn ScheduleStore>,
    pub verifier: Arc<dyn CredentialVerifier>,
    pub runs: Arc<dyn RunLog>,
    /// `history_days` of new integrations that set none (`DEFAULT_HISTORY_DAYS`, default 30).
    pub default_history_days: u32,
}

impl IntegrationService {
    /// Checks a create body and the credentials against the ACD, storing nothing.
    pub async fn test_connection(&self, body: &Value) -> Result<(), ApiError> {
        let new = parse_new_integration_with(body, self.default_history_days)?;
        self.verify(&new.settings, &new.credentials).await
    }

    /// Creates an integration: validate → verify credentials → record + name (atomic, unique) → secret →
    /// schedules. A failure after the record was written removes everything created so far.
    pub async fn create(&self, tenant: &TenantId, body: &Value) -> Result<Integration, ApiError> {
        let new = parse_new_integration_with(body, self.default_history_days)?;
        self.verify(&new.settings, &new.credentials).await?;
        let now = Utc::now();
        let integration = Integration {
            id: IntegrationId::new(),
            tenant_id: tenant.clone(),
            name: new.name,
            kind: new.settings.integration_type(),
            settings: new.settings,
            credential_hints: new.credentials.hints(),
            status: IntegrationStatus::new_integration(),
            created_at: now,
            updated_at: now,
            version: 1,
        };
        self.repo.create(&integration).await?;

        if let Err(e) = self.secrets.create(tenant, integration.id, &new.credentials).await {
            self.undo_create(&integration).await;
            return Err(e.into());
        }
        if let Err(e) = self.schedules.create(tenant, integration.id).await {
            self.undo_create(&integration).await;
            return Err(e.into());
        }
        tracing::info!(tenant = %tenant, integration = %integration.id, kind = integration.kind.as_str(), "integration created");
        Ok(integration)
    }

    /// Removes what a failed create made. Each step is idempotent and attempted even if an earlier one fails, so
    /// nothing is left behind unless the backend itself is down (then the failure is logged for an operator).
    async fn undo_create(&self, integration: &Integration) {
        let (tenant, id) = (&integration.tenant_id, integration.id);
        if let Err(e) = self.schedules.delete(tenant, id).await {
            tracing::error!(tenant = %tenant, integration = %id, error = %e, "rollback: deleting schedules failed");
        }
        // The secret is deleted even when its creation seemed to fail: the call may have succeeded server-side.
        if let Err(e) = self.secrets.delete(tenant, id).await {
            tracing::error!(tenant = %tenant, integration = %id, error = %e, "rollback: deleting the secret failed");
        }
        if let Err(e) = self.repo.delete(integration).await {
            tracing::error!(tenant = %tenant, integration = %id, error = %e, "rollback: deleting the record failed");
        }
    }

    pub async fn get(&self, tenant: &TenantId, id: &str) -> Result<Integration, ApiError> {
        let id: IntegrationId = id.parse().map_err(|_| ApiError::NotFound)?;
        self.repo.get(tenant, id).await?.ok_or(ApiError::NotFound)
    }

    /// One page of the tenant's integrations and the cursor of the next page, if any.
    pub async fn list(
        &self,
        tenant: &TenantId,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<(Vec<Integration>, Option<String>), ApiError> {
        let after = cursor.map(|c| crate::cursor::decode::<IntegrationId>(c, "cursor")).transpose()?;
        let page = self.repo.list(tenant, limit.clamp(1, MAX_PAGE_SIZE), after).await?;
        let next = if page.more { page.items.last().map(|i| crate::cursor::encode(&i.id)) } else { None };
        Ok((page.items, next))
    }

    /// Renames, changes safe settings and/or replaces credentials.
    pub async fn patch(&self, tenant: &TenantId, id: &str, body: &Value) -> Result<Integration, ApiError> {
        let first = self.get(tenant, id).await?;
        let patch = parse_patch(body, &first.settings)?;
        if let Some(credentials) = &patch.credentials {
            let settings = patch.settings.clone().unwrap_or_else(|| first.settings.clone());
            self.verify(&settings, credentials).await?;
        }
        // An import that finishes meanwhile bumps the record's version: apply the patch again on a fresh read.
        let mut current = first;
        let mut attempt = 0;
        let updated = loop {
            let mut updated = current.clone();
            if let Some(name) = &patch.name {
                updated.name = name.clone();
            }
            if let Some(settings) = &patch.settings {
                updated.settings = settings.clone();
            }
            if let Some(credentials) = &patch.credentials {
                updated.credential_hints = credentials.hints();
            }
            updated.updated_at = Utc::now();
            updated.version = current.version + 1;
            match self.repo.update(&current, &updated).await {
                Ok(()) => break updated,
                Err(StoreError::Conflict) if attempt + 1 < CONFLICT_RETRIES => {
                    attempt += 1;
                    current = self.get(tenant, id).await?;
                }
                Err(e) => return Err(e.into()),
            }
        };

        if let Some(credentials) = &patch.credentials
            && let Err(e) = self.secrets.replace(tenant, current.id, credentials).await
        {
            // Put the record back as it was so hints and secret agree; the admin can retry.
            let mut restored = current.clone();
            restored.version = updated.version + 1;
            restored.updated_at = Utc::now();
            if let Err(undo) = self.repo.update(&updated, &restored).await {
                tracing::error!(tenant = %tenant, integration = %current.id, error = %undo, "restoring the record after a failed secret update failed");
            }
            return Err(e.into());
        }
        tracing::info!(tenant = %tenant, integration = %current.id, "integration updated");
        Ok(updated)
    }

    /// Deletes an integration. Imported data stays; its queues become inactive.
    ///
    /// The record first becomes a tombstone (invisible to GET and lists, its name still reserved, no import writes
    /// its queues any more), then the queues are made inactive, the schedules and the secret deleted, and last the
    /// record and its name go. Every step is idempotent, so a DELETE that failed half-way is finished by the
    /// client's retry, which answers 204 as long as the tombstone exists (404 once the delete is done); the next
    /// import of a tombstone also makes its queues inactive and stops.
    pub async fn delete(&self, tenant: &TenantId, id: &str) -> Result<(), ApiError> {
        let parsed: IntegrationId = id.parse().map_err(|_| ApiError::NotFound)?;
        let mut attempt = 0;
        let current = loop {
            match self.repo.get(tenant, parsed).await? {
                Some(current) => match self.repo.mark_deleting(&current).await {
                    Ok(()) => break current,
                    // An import's status update (or a PATCH) changed the record meanwhile: read it again.
                    Err(StoreError::Conflict) if attempt + 1 < CONFLICT_RETRIES => attempt += 1,
                    Err(e) => return Err(e.into()),
                },
                None => match self.repo.get_deleting(tenant, parsed).await? {
                    Some(tombstone) => break tombstone,
                    None => return Err(ApiError::NotFound),
                },
            }
        };
        self.repo.deactivate_queues(tenant, current.id).await?;
        self.schedules.delete(tenant, current.id).await?;
        self.secrets.delete(tenant, current.id).await?;
        self.repo.delete(&current).await?;
        tracing::info!(tenant = %tenant, integration = %current.id, "integration deleted");
        Ok(())
    }

    /// Disables the schedule. Pausing a paused integration changes nothing.
    pub async fn pause(&self, tenant: &TenantId, id: &str) -> Result<Integration, ApiError> {
        self.change_state(tenant, id, true).await
    }

    /// Enables the schedule again and starts an import at once, which re-imports what was missed.
    pub async fn resume(&self, tenant: &TenantId, id: &str) -> Result<Integration, ApiError> {
        self.change_state(tenant, id, false).await
    }

    /// Pauses or resumes. An import that finishes meanwhile updates the status (and the record's version), so a
    /// conflict is retried on a fresh read a few times before it reaches the admin.
    async fn change_state(&self, tenant: &TenantId, id: &str, pause: bool) -> Result<Integration, ApiError> {
        for _ in 0..CONFLICT_RETRIES {
            let current = self.get(tenant, id).await?;
            if (current.status.state == IntegrationState::Paused) == pause {
                return Ok(current);
            }
            self.schedules.set_enabled(tenant, current.id, !pause).await?;
            if !pause {
                self.schedules.run_now(tenant, current.id).await?;
            }
            let mut updated = current.clone();
            updated.status = IntegrationStatus {
                state: if pause { IntegrationState::Paused } else { IntegrationState::Importing },
                reason: None,
                message: None,
                ..current.status.clone()
            };
            match self.save_status(&current, updated).await {
                Err(ApiError::Conflict) => continue,
                other => return other,
            }
        }
        Err(ApiError::Conflict)
    }

    /// "Sync now": starts an import at once (refused while paused).
    pub async fn import_now(&self, tenant: &TenantId, id: &str) -> Result<(), ApiError> {
        let current = self.get(tenant, id).await?;
        if current.status.state == IntegrationState::Paused {
            return Err(ApiError::Paused);
        }
        self.schedules.run_now(tenant, current.id).await?;
        Ok(())
    }

    /// The integration's recent runs, newest first, and the cursor of the next page.
    pub async fn runs(
        &self,
        tenant: &TenantId,
        id: &str,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<(Vec<RunRecord>, Option<String>), ApiError> {
        let current = self.get(tenant, id).await?;
        let before = cursor.map(|c| crate::cursor::decode::<String>(c, "cursor")).transpose()?;
        let page = self.runs.list_runs(tenant, current.id, limit, before).await.map_err(|e| match e {
            crate::ports::StoreError::NotFound => ApiError::Validation(acd_domain::FieldErrors::single(
                "cursor",
                "invalid_value",
                "is not a cursor returned by this API",
            )),
            other => other.into(),
        })?;
        let next = if page.more { page.items.last().map(|r| crate::cursor::encode(&run_sort_key(r))) } else { None };
        Ok((page.items, next))
    }

    async fn save_status(&self, current: &Integration, mut updated: Integration) -> Result<Integration, ApiError> {
        updated.updated_at = Utc::now();
        updated.version = current.version + 1;
        self.repo.update(current, &updated).await?;
        Ok(updated)
    }

    async fn verify(&self, settings: &Settings, credentials: &Credentials) -> Result<(), ApiError> {
        self.verifier.verify(settings, credentials).await.map_err(ApiError::CredentialsCheck)
    }
}

/// The sort key of a run in the run log (`RUN#{started}#{run id}`), used as the cursor position.
pub fn run_sort_key(run: &RunRecord) -> String {
    format!("RUN#{}#{}", run.started_at.format("%Y-%m-%dT%H:%M:%SZ"), run.run_id)
}
