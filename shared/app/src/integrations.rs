//! The integrations service: create, read, change, pause, resume and delete integrations, keeping the record
//! (DynamoDB), the credentials (Secrets Manager) and the schedules (EventBridge Scheduler) consistent.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use acd_connectors::ConnectorError;
use acd_connectors::registry::{parse_new_integration_with, parse_patch};
use acd_domain::{
    AgentStateCadence, Credentials, Integration, IntegrationId, IntegrationState, IntegrationStatus, SecretVersion,
    Settings, TenantId,
};
use chrono::Utc;
use serde_json::Value;
use tokio::time::Instant;

use crate::error::ApiError;
use crate::import::RunRecord;
use crate::ports::{
    CredentialVerifier, IntegrationRepo, RunLog, ScheduleStore, SecretStore, StoreError, TenantTokenStore,
};

/// Listing bounds for `GET /integrations`.
pub const DEFAULT_PAGE_SIZE: usize = 50;
pub const MAX_PAGE_SIZE: usize = 100;
/// How often a change that lost a race with an import's status update is retried on a fresh read.
const CONFLICT_RETRIES: usize = 3;

/// Time budgets of a create, so that it answers within API Gateway's 29 s whatever hangs, and a failure after
/// the first write still has time to remove everything it made. Worst case: idempotency claim 2 s + credentials
/// check 10 s + writes 8 s + rollback 4 s + idempotency answer 2 s = 26 s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CreateBudgets {
    /// The credentials check against the ACD; past it: 503 `vendor-unavailable`, nothing saved.
    pub check: Duration,
    /// Record + name transaction, secret, schedules together; each step also at most `step`.
    pub writes: Duration,
    pub step: Duration,
    /// Removing what a failed or timed-out create made (secret, record and name, then schedules); a create
    /// that succeeded spends it on reading its record again (the schedules follow a pause, PATCH or DELETE that came
    /// in between).
    pub rollback: Duration,
}

impl Default for CreateBudgets {
    fn default() -> Self {
        Self {
            check: Duration::from_secs(10),
            writes: Duration::from_secs(8),
            step: Duration::from_secs(4),
            rollback: Duration::from_secs(4),
        }
    }
}

impl CreateBudgets {
    /// The longest a create can take, idempotency calls included.
    pub fn total(&self) -> Duration {
        self.check + self.writes + self.rollback + 2 * crate::http::idempotency::STORE_TIMEOUT
    }
}

/// What a call wrote before it read the record again (`IntegrationService::schedules_follow_record`).
#[derive(Clone, Copy)]
struct Written {
    /// The schedules' state as written; `None` when unknown (after a failure).
    enabled: Option<bool>,
    /// The agent-states cadence this call wrote its schedule with (a create); `None`: not written from a record of its
    /// own.
    cadence: Option<Option<AgentStateCadence>>,
    /// This call wrote the integration's secret too (a create): a record gone meanwhile takes it along.
    secret: bool,
}

impl Written {
    /// The schedules switched on or off (`None`: unknown), nothing else.
    fn state(enabled: Option<bool>) -> Self {
        Self { enabled, cadence: None, secret: false }
    }
}

/// Runs a storage step within `limit`; past it the step counts as failed (it may still have happened: the rollback
/// removes its result either way).
async fn within<T>(
    limit: Duration,
    what: &str,
    step: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    tokio::time::timeout(limit, step)
        .await
        .unwrap_or_else(|_| Err(StoreError::Backend(format!("{what}: no answer within {limit:?}"))))
}

#[derive(Clone)]
pub struct IntegrationService {
    pub repo: Arc<dyn IntegrationRepo>,
    pub secrets: Arc<dyn SecretStore>,
    pub schedules: Arc<dyn ScheduleStore>,
    pub verifier: Arc<dyn CredentialVerifier>,
    pub runs: Arc<dyn RunLog>,
    /// Per-tenant values the server issues for a vendor's credentials (Amazon Connect's external id).
    pub tokens: Arc<dyn TenantTokenStore>,
    /// `history_days` of new integrations that set none (`DEFAULT_HISTORY_DAYS`, default 30).
    pub default_history_days: u32,
    /// `TRUSTED_ACCOUNT_ID`: the AWS account (12 digits) customers' roles must trust, shown with a tenant token that
    /// is such a role's external id ([`acd_connectors::vendor::TenantToken::names_trusted_account`]).
    pub trusted_account_id: String,
    /// Time budgets of a create (and of the credentials check of test-connection and patch).
    pub budgets: CreateBudgets,
    /// Where `integration.deleted` goes (none: not published).
    pub events: Option<Arc<dyn crate::ports::EventPublisher>>,
}

impl IntegrationService {
    /// Checks a create body and the credentials against the ACD, storing nothing.
    pub async fn test_connection(&self, tenant: &TenantId, body: &Value) -> Result<(), ApiError> {
        let new = parse_new_integration_with(body, self.default_history_days)?;
        self.checked_credentials(tenant, &new.settings, new.credentials).await?;
        Ok(())
    }

    /// Checks a create body without doing anything.
    pub fn validate_create(&self, body: &Value) -> Result<(), ApiError> {
        parse_new_integration_with(body, self.default_history_days)?;
        Ok(())
    }

    /// Creates an integration: validate → verify credentials → record + name (atomic, unique) → secret →
    /// agent-states schedule → import schedules and the first import, each within its [`CreateBudgets`]; then the
    /// record is read again and the schedules follow it (`schedules_follow_record`). A failure or timeout after the
    /// first write removes everything created so far (within the rollback budget), so a create that answers with an
    /// error leaves nothing behind.
    pub async fn create(&self, tenant: &TenantId, body: &Value) -> Result<Integration, ApiError> {
        let mut new = parse_new_integration_with(body, self.default_history_days)?;
        new.credentials = self.checked_credentials(tenant, &new.settings, new.credentials).await?;
        let deadline = Instant::now() + self.budgets.writes;
        let step = || self.budgets.step.min(deadline.saturating_duration_since(Instant::now()));
        let now = Utc::now();
        let integration = Integration {
            id: IntegrationId::new(),
            tenant_id: tenant.clone(),
            name: new.name,
            kind: new.kind.clone(),
            settings: new.settings,
            credential_hints: new.credentials.hints(),
            secret_version: Some(SecretVersion::random()),
            status: IntegrationStatus::new_integration(),
            failing_since: None,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        match within(step(), "creating the record", self.repo.create(&integration)).await {
            Ok(()) => {}
            // Nothing was written: the transaction was refused.
            Err(e @ (StoreError::NameTaken | StoreError::Conflict | StoreError::QuotaExceeded(_))) => {
                return Err(e.into());
            }
            // A timeout or failure may still have written it.
            Err(e) => {
                self.undo_create(&integration).await;
                return Err(e.into());
            }
        }
        let version = integration.secret_version.as_ref().expect("set above");
        let secret = self.secrets.create(tenant, integration.id, &new.credentials, version);
        if let Err(e) = within(step(), "creating the secret", secret).await {
            self.undo_create(&integration).await;
            return Err(e.into());
        }
        // The agent-states schedule first: `schedules.create` starts the first import, which writes the
        // integration's queues, and a rollback after it would leave them active for good (the rollback deletes the
        // record; only an import that finds a tombstone deactivates queues). Until 2026-12-07 it came second.
        if let Some(cadence) = integration.settings.agent_state_cadence.filter(|_| pulls(&integration)) {
            let states = self.schedules.set_states_schedule(tenant, integration.id, Some(cadence), true);
            if let Err(e) = within(step(), "creating the agent-states schedule", states).await {
                self.undo_create(&integration).await;
                return Err(e.into());
            }
        }
        if let Err(e) = within(step(), "creating the schedules", self.schedules.create(tenant, integration.id)).await {
            self.undo_create(&integration).await;
            return Err(e.into());
        }
        // The record was visible (listed, pausable, deletable) before the secret and the schedules were written: a
        // pause, a cadence PATCH or a DELETE in that gap is what they follow now (until 2026-12-07 they kept the
        // create's: enabled under a paused record, the create's cadence, or left behind a deleted record until the
        // import they started removed them), within the rollback's budget, which a create that got here no longer
        // needs. The create is answered 201 either way: it took effect first.
        let cadence = integration.settings.agent_state_cadence;
        let written = Written { enabled: Some(true), cadence: Some(cadence), secret: true };
        self.schedules_follow_record(tenant, integration.id, written).await;
        tracing::info!(tenant = %tenant, integration = %integration.id, kind = integration.kind.as_str(), "integration created");
        Ok(integration)
    }

    /// Removes what a failed create made, within the rollback budget. The removals are idempotent: the secret and
    /// the record (with its name) at the same time, then the schedules, with the time left. Should the secret's
    /// removal fail where the record's succeeded, the schedules stay: the import they start finds no record and
    /// removes the secret, then them (`ImportService::stop_deleted`), where nothing would ever remove a secret left
    /// alone (until 2026-12-08 all three ran at once, so a failed secret removal beside removed schedules left the
    /// secret for good). Other failures are logged with the ids for an operator.
    async fn undo_create(&self, integration: &Integration) {
        let (tenant, id) = (&integration.tenant_id, integration.id);
        let deadline = Instant::now() + self.budgets.rollback;
        let left = || deadline.saturating_duration_since(Instant::now());
        // The secret is deleted even when its creation seemed to fail: the call may have succeeded server-side.
        let (secret, record) = futures::join!(
            within(left(), "deleting the secret", self.secrets.delete(tenant, id)),
            within(left(), "deleting the record", self.repo.delete(integration)),
        );
        // (Kept only beside a removed record: with the record still there, they would import for an integration
        // whose create answered an error; it is left inactive instead, as before.)
        let schedules = if secret.is_err() && record.is_ok() {
            tracing::warn!(tenant = %tenant, integration = %id, "rollback of a failed create: the schedules are kept for the import that removes the secret");
            Ok(())
        } else {
            within(left(), "deleting the schedules", self.schedules.delete(tenant, id)).await
        };
        for (what, result) in [("schedules", schedules), ("secret", secret), ("record and name", record)] {
            if let Err(e) = result {
                tracing::error!(tenant = %tenant, integration = %id, error = %e, "rollback of a failed create: deleting the {what} failed");
            }
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
        let listing = crate::cursor::Listing::Integrations;
        let after = cursor.map(|c| crate::cursor::decode::<IntegrationId>(c, "cursor", &listing)).transpose()?;
        let page = self.repo.list(tenant, limit.clamp(1, MAX_PAGE_SIZE), after).await?;
        let next = if page.more { page.items.last().map(|i| crate::cursor::encode(&listing, &i.id)) } else { None };
        Ok((page.items, next))
    }

    /// Renames, changes safe settings and/or replaces credentials.
    pub async fn patch(&self, tenant: &TenantId, id: &str, body: &Value) -> Result<Integration, ApiError> {
        let mut first = self.get(tenant, id).await?;
        let mut patch = parse_patch(body, &first.kind, &first.settings)?;
        if let Some(credentials) = patch.credentials.take() {
            let settings = patch.settings.as_ref().unwrap_or(&first.settings);
            patch.credentials = Some(self.checked_credentials(tenant, settings, credentials).await?);
        }
        // New credentials go into a new version of the secret first (labelled pending, not current); they are in
        // force once the record names that version (below), and then become the current one. If the record's update
        // fails, the record still names the version it had (a record from before versions were named is made to
        // name its current one first), so its hints and the credentials the import reads still agree, and the
        // current version is still the record's; of two PATCHes at once, the one whose record update lands last is
        // in force, hints and secret alike.
        let mut secret_version = None;
        if let Some(credentials) = &patch.credentials {
            if first.secret_version.is_none() && pulls(&first) {
                first = self.name_current_secret_version(first).await?;
            }
            let version = SecretVersion::random();
            self.secrets.replace(tenant, first.id, credentials, &version).await?;
            secret_version = Some(version);
        }
        let id = first.id;
        let update = self
            .update_on_fresh_read(first, |current| {
                let mut updated = current.clone();
                if let Some(name) = &patch.name {
                    updated.name = name.clone();
                }
                if let Some(settings) = &patch.settings {
                    // The fields sent, merged into the settings as read now: a change another PATCH wrote since the
                    // first read stays (the first read's merge would write its fields back). Parsing again only
                    // fails if the first parse did (the fields it checks against the record cannot change).
                    updated.settings = parse_patch(body, &current.kind, &current.settings)
                        .ok()
                        .and_then(|fresh| fresh.settings)
                        .unwrap_or_else(|| settings.clone());
                }
                if let Some(credentials) = &patch.credentials {
                    updated.credential_hints = credentials.hints();
                    updated.secret_version.clone_from(&secret_version);
                }
                updated.updated_at = Utc::now();
                Some(updated)
            })
            .await;
        let (current, updated) = match update {
            Ok(done) => done,
            // Deleted while this PATCH ran: if the DELETE removed the secret before this PATCH wrote its version,
            // that write created the secret anew (see `SecretStore::replace`), and nothing else would remove it.
            Err(ApiError::NotFound) if secret_version.is_some() => {
                if let Err(e) = self.secrets.delete(tenant, id).await {
                    tracing::error!(tenant = %tenant, integration = %id, error = %e, "removing the secret of an integration deleted during a credentials PATCH failed");
                }
                return Err(ApiError::NotFound);
            }
            Err(e) => return Err(e),
        };

        // The agent-states schedule follows the cadence (on, off, another rate), enabled unless paused. A cadence
        // sent unchanged writes it again too (idempotent): an admin's retry repairs a schedule that does not match
        // the record (a failed PATCH whose record could not be put back, a schedule deleted by hand).
        let cadence_changed = updated.settings.agent_state_cadence != current.settings.agent_state_cadence;
        let cadence_sent = body.get("settings").is_some_and(|s| s.get("agent_state_cadence").is_some());
        let enabled = current.status.state != IntegrationState::Paused;
        if (cadence_changed || cadence_sent)
            && pulls(&updated)
            && let Err(e) = self
                .schedules
                .set_states_schedule(tenant, current.id, updated.settings.agent_state_cadence, enabled)
                .await
        {
            // Put the record (and the schedule) back as they were; the admin can retry.
            self.restore_record(&current, &updated, "agent-states schedule").await;
            return Err(e.into());
        }
        if (cadence_changed || cadence_sent) && pulls(&updated) {
            self.schedules_follow_record(tenant, current.id, Written::state(Some(enabled))).await;
        }
        // The record names the new version: now it becomes the secret's current one too, the one the import falls
        // back to after a rejection and the one a person sees in Secrets Manager (not before: a PATCH that fails
        // must not leave its credentials there). If this fails, the record's version is still what the import
        // reads.
        if let Some(version) = &secret_version
            && let Err(e) = self.make_secret_version_current(tenant, id, version).await
        {
            tracing::warn!(tenant = %tenant, integration = %id, error = %e, "the new secret version could not be made the current one");
        }
        tracing::info!(tenant = %tenant, integration = %current.id, "integration updated");
        Ok(updated)
    }

    /// Makes `version`, which a credentials PATCH wrote and its record update named, the secret's current version —
    /// while the record still names it: a PATCH that lands after this one's record update is in force, and moves the
    /// label itself (a PATCH that moved it late from whoever held it could take it from the version in force). The
    /// holder is read first and the record after it, and the move is refused unless the label is still on that
    /// holder; so a later PATCH's move either came before the holder was read (and its record update before that, so
    /// this record read sees it) or makes this move fail, and it is tried again on fresh reads.
    async fn make_secret_version_current(
        &self,
        tenant: &TenantId,
        id: IntegrationId,
        version: &SecretVersion,
    ) -> Result<(), StoreError> {
        for _ in 0..CONFLICT_RETRIES {
            let Some(holder) = self.secrets.current_version(tenant, id).await? else { return Ok(()) };
            if holder == *version {
                return Ok(());
            }
            let named = self.repo.get(tenant, id).await?.and_then(|record| record.secret_version);
            if named.as_ref() != Some(version) || self.secrets.make_current(tenant, id, version, &holder).await? {
                return Ok(());
            }
        }
        Err(StoreError::Conflict)
    }

    /// Makes a record written before secret versions were named name its secret's current version (its
    /// `updated_at` kept: nothing an import reads changed), so that a credentials PATCH that fails after writing
    /// its own version leaves the record's credentials in force, not the new ones. A record that names a version
    /// by now (another PATCH) is returned as it is; so is one whose secret is missing (nothing to keep in force:
    /// the PATCH creates the secret anew).
    async fn name_current_secret_version(&self, first: Integration) -> Result<Integration, ApiError> {
        let Some(version) = self.secrets.current_version(&first.tenant_id, first.id).await? else { return Ok(first) };
        let (_, named) = self
            .update_on_fresh_read(first, |current| {
                let named = || Integration { secret_version: Some(version.clone()), ..current.clone() };
                current.secret_version.is_none().then(named)
            })
            .await?;
        Ok(named)
    }

    /// Writes `change(record)` over `record`, a conditional update with the version bumped. An import that
    /// finishes meanwhile bumps the record's version: the change is applied again on a fresh read, up to
    /// [`CONFLICT_RETRIES`] writes. `change` answers `None` when the record as read needs no write. Returns the
    /// record the write replaced and the record written (the record as read, twice, when nothing was written).
    async fn update_on_fresh_read(
        &self,
        mut current: Integration,
        change: impl Fn(&Integration) -> Option<Integration>,
    ) -> Result<(Integration, Integration), ApiError> {
        let mut attempt = 0;
        loop {
            let Some(mut updated) = change(&current) else { return Ok((current.clone(), current)) };
            updated.version = current.version + 1;
            match self.repo.update(&current, &updated).await {
                Ok(()) => return Ok((current, updated)),
                Err(StoreError::Conflict) if attempt + 1 < CONFLICT_RETRIES => {
                    attempt += 1;
                    current = self.repo.get(&current.tenant_id, current.id).await?.ok_or(ApiError::NotFound)?;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Puts back what a PATCH whose `what` could not be changed wrote (`current` → `updated`: name, settings,
    /// credential hints, secret version), on a fresh read when an import's status write came in between (until
    /// 2026-12-07 that refused the restore, and the record kept the PATCH while its agent-states schedule was set
    /// back; a review found it), unless another PATCH has changed them since. Then the agent-states schedule follows
    /// the record as stored. Both best effort: failures are logged for an operator.
    async fn restore_record(&self, current: &Integration, updated: &Integration, what: &str) {
        let (tenant, id) = (&current.tenant_id, current.id);
        let restore = |stored: &Integration| {
            let ours = stored.name == updated.name
                && stored.settings == updated.settings
                && stored.credential_hints == updated.credential_hints
                && stored.secret_version == updated.secret_version;
            ours.then(|| Integration {
                name: current.name.clone(),
                settings: current.settings.clone(),
                credential_hints: current.credential_hints.clone(),
                secret_version: current.secret_version.clone(),
                updated_at: Utc::now(),
                ..stored.clone()
            })
        };
        // The record as stored: the one the restore wrote or found (another PATCH since); read again only when the
        // restore failed (the PATCH's record may still be there).
        let restored = self.update_on_fresh_read(updated.clone(), restore).await;
        if let Err(undo) = &restored {
            tracing::error!(tenant = %tenant, integration = %id, error = %undo, "restoring the record after a failed {what} update failed");
        }
        if current.settings.agent_state_cadence != updated.settings.agent_state_cadence && pulls(current) {
            let stored = match restored {
                Ok((_, stored)) => stored,
                Err(_) => match self.repo.get(tenant, id).await {
                    Ok(Some(record)) => record,
                    Ok(None) => current.clone(), // deleted meanwhile: `schedules_follow_record` removes the schedules
                    Err(e) => {
                        tracing::error!(tenant = %tenant, integration = %id, error = %e, "reading the record to restore the agent-states schedule after a failed {what} update failed");
                        current.clone()
                    }
                },
            };
            let enabled = stored.status.state != IntegrationState::Paused;
            let cadence = stored.settings.agent_state_cadence;
            if let Err(undo) = self.schedules.set_states_schedule(tenant, id, cadence, enabled).await {
                tracing::error!(tenant = %tenant, integration = %id, error = %undo, "restoring the agent-states schedule after a failed {what} update failed");
            }
            self.schedules_follow_record(tenant, id, Written::state(Some(enabled))).await;
        }
    }

    /// Deletes an integration. Imported data stays; its queues become inactive.
    ///
    /// The record first becomes a tombstone (invisible to GET and lists, its name still reserved, no import or push
    /// writes its queues any more, no ingest key is issued), then the queues are made inactive, the schedules and the
    /// secret deleted, a push integration's ingest keys removed, and last the record and its name go. Every step is
    /// idempotent, so a DELETE that failed half-way is finished by the client's retry, which answers 204 as long as
    /// the tombstone exists (404 once the delete is done); the next import of a tombstone also makes its queues
    /// inactive, and an import a grace after the first one that found it finishes the delete
    /// ([`crate::import::ImportConfig::tombstone_grace`]) — when a schedule is left to invoke one (not after the
    /// schedules were deleted, nor for a paused integration).
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
        let (repo, schedules, secrets) = (self.repo.as_ref(), self.schedules.as_ref(), self.secrets.as_ref());
        finish_delete(repo, schedules, secrets, self.events.as_deref(), &current).await?;
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
    /// conflict is retried on a fresh read a few times before it reaches the admin. The schedules are switched
    /// before the record is saved; when the record cannot be saved they are set to what the record says then
    /// ([`Self::schedules_follow_record`]: not simply switched back, since another pause or resume may have saved
    /// meanwhile), so that they follow the record (until 2026-12-07 a failed pause left the schedules off under a
    /// record that said `operational`: no import ran, and nothing showed it).
    async fn change_state(&self, tenant: &TenantId, id: &str, pause: bool) -> Result<Integration, ApiError> {
        let mut switched = None;
        let result = self.change_state_switching(tenant, id, pause, &mut switched).await;
        if result.is_err()
            && let Some(record) = switched
        {
            self.schedules_follow_record(tenant, record.id, Written::state(None)).await;
        }
        result
    }

    /// [`Self::change_state`], noting in `switched` the record whose schedules it switched.
    async fn change_state_switching(
        &self,
        tenant: &TenantId,
        id: &str,
        pause: bool,
        switched: &mut Option<Integration>,
    ) -> Result<Integration, ApiError> {
        for _ in 0..CONFLICT_RETRIES {
            let current = self.get(tenant, id).await?;
            if (current.status.state == IntegrationState::Paused) == pause {
                return Ok(current);
            }
            // A type that does not pull (push) has no schedules: pausing only changes its state.
            if pulls(&current) {
                *switched = Some(current.clone());
                self.switch_schedules(&current, !pause).await?;
            }
            let mut updated = current.clone();
            updated.status = IntegrationStatus {
                state: if pause { IntegrationState::Paused } else { IntegrationState::Importing },
                reason: None,
                message: None,
                resumed_at: if pause { current.status.resumed_at } else { Some(Utc::now()) },
                ..current.status.clone()
            };
            // Paused or resumed, it is not failing: a failure after the resume counts from its first failed run, not
            // from a failure before the pause (nor from the last success before it, as `FailingFor` did before).
            updated.failing_since = None;
            match self.save_status(&current, updated).await {
                Err(ApiError::Conflict) => continue,
                Ok(saved) => {
                    // Deleted meanwhile (its DELETE may have removed the schedules before they were switched here), or
                    // paused or resumed again by another call.
                    self.schedules_follow_record(tenant, current.id, Written::state(Some(!pause))).await;
                    // The catch-up import starts once the record says `importing`: started before (until
                    // 2026-12-06), it could read the record still paused and skip, leaving the catch-up to the
                    // schedule's next run. Should the start fail, the schedule is enabled and its next run catches
                    // up: the resume took effect, so it is answered as done (until 2026-12-07: 503, and a retry
                    // found it resumed and started nothing).
                    if !pause
                        && pulls(&current)
                        && let Err(e) = self.schedules.run_now(tenant, current.id).await
                    {
                        tracing::warn!(tenant = %tenant, integration = %current.id, error = %e, "the catch-up import after a resume could not be started; the schedule's next run catches up");
                    }
                    return Ok(saved);
                }
                Err(e) => return Err(e),
            }
        }
        Err(ApiError::Conflict)
    }

    /// Enables or disables an integration's schedules: the recurring one and, with a cadence, the agent-states one.
    async fn switch_schedules(&self, record: &Integration, enabled: bool) -> Result<(), StoreError> {
        let (tenant, id) = (&record.tenant_id, record.id);
        self.schedules.set_enabled(tenant, id, enabled).await?;
        if let Some(cadence) = record.settings.agent_state_cadence {
            self.schedules.set_states_schedule(tenant, id, Some(cadence), enabled).await?;
        }
        Ok(())
    }

    /// Called after writing an integration's schedules ([`Written`]: what this call wrote): the record is read again
    /// (one strongly consistent GetItem) and the schedules made to say what it says now.
    /// - Gone or being deleted (a tombstone reads as gone): its DELETE may have removed the schedules before this
    ///   write, which then created one again (the agent-states schedule is created when missing) that nothing would
    ///   ever remove — a Lambda invoked every few minutes for an integration that is gone. They are removed, and
    ///   first the secret when this call wrote it (a create). A DELETE that marks the record after this read removes
    ///   them itself, after this write.
    /// - Paused or resumed by another call meanwhile: the schedules are switched to its state.
    /// - Its agent-states cadence PATCHed meanwhile (a create: the PATCH wrote its schedule before the create wrote
    ///   its own): that schedule is set to the record's cadence.
    ///
    /// (Two such calls can still cross: each set of writes follows the record it read.) All of it within the
    /// rollback's budget ([`CreateBudgets::rollback`]), so that the call still answers within API Gateway's 29 s.
    async fn schedules_follow_record(&self, tenant: &TenantId, id: IntegrationId, written: Written) {
        let deadline = Instant::now() + self.budgets.rollback;
        let left = || deadline.saturating_duration_since(Instant::now());
        match within(left(), "reading the record again", self.repo.get(tenant, id)).await {
            Ok(Some(record)) if pulls(&record) => {
                let enabled = record.status.state != IntegrationState::Paused;
                if written.enabled != Some(enabled)
                    && let Err(e) =
                        within(left(), "switching the schedules", self.switch_schedules(&record, enabled)).await
                {
                    tracing::error!(tenant = %tenant, integration = %id, error = %e, "setting the schedules to the record's state failed");
                }
                let cadence = record.settings.agent_state_cadence;
                let states = self.schedules.set_states_schedule(tenant, id, cadence, enabled);
                if written.cadence.is_some_and(|written| written != cadence)
                    && let Err(e) = within(left(), "setting the agent-states schedule", states).await
                {
                    tracing::error!(tenant = %tenant, integration = %id, error = %e, "setting the agent-states schedule to the record's cadence failed");
                }
            }
            Ok(Some(_)) => {}
            Ok(None) => {
                // The secret first: should its removal fail, the schedules stay, and the import they start finds no
                // record and removes both (schedules removed first would leave the secret with nothing to remove it).
                if written.secret
                    && let Err(e) = within(left(), "deleting the secret", self.secrets.delete(tenant, id)).await
                {
                    tracing::error!(tenant = %tenant, integration = %id, error = %e, "removing the secret of an integration deleted while it was created failed; its schedules are kept, and the import they start removes both");
                    return;
                }
                if let Err(e) = within(left(), "deleting the schedules", self.schedules.delete(tenant, id)).await {
                    tracing::error!(tenant = %tenant, integration = %id, error = %e, "removing the schedules of an integration deleted while they were written failed (the import they start removes them)");
                }
            }
            Err(e) => {
                tracing::warn!(tenant = %tenant, integration = %id, error = %e, "could not read the record again after writing its schedules (paused, patched or deleted meanwhile?)");
            }
        }
    }

    /// "Sync now": starts an import at once (refused while paused).
    pub async fn import_now(&self, tenant: &TenantId, id: &str) -> Result<(), ApiError> {
        let current = self.get(tenant, id).await?;
        if current.status.state == IntegrationState::Paused {
            return Err(ApiError::Paused);
        }
        // A push integration has nothing to import: its data arrives through the ingest API.
        if pulls(&current) {
            self.schedules.run_now(tenant, current.id).await?;
        }
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
        // A run cursor wraps the store's position (opaque here; the store refuses one it did not hand out).
        let listing = crate::cursor::Listing::Runs { integration: id };
        let before = cursor.map(|c| crate::cursor::decode::<String>(c, "cursor", &listing)).transpose()?;
        let current = self.get(tenant, id).await?;
        let page = self.runs.list_runs(tenant, current.id, limit, before).await.map_err(|e| match e {
            crate::ports::StoreError::NotFound => ApiError::Validation(acd_domain::FieldErrors::single(
                "cursor",
                "invalid_value",
                "is not a cursor returned by this API",
            )),
            other => other.into(),
        })?;
        Ok((page.runs, page.next.map(|position| crate::cursor::encode(&listing, &position))))
    }

    async fn save_status(&self, current: &Integration, mut updated: Integration) -> Result<Integration, ApiError> {
        updated.updated_at = Utc::now();
        updated.version = current.version + 1;
        self.repo.update(current, &updated).await?;
        Ok(updated)
    }

    /// Issues the tenant's value of the token at `path` (the segments after `/integrations/`, e.g.
    /// `["amazon-connect", "external-id"]`): the first call generates and stores it, every later one (concurrent
    /// first calls included) answers the stored value. `(type, field, value, newly issued)`; 404 for a path no
    /// vendor's token lives at.
    pub async fn issue_tenant_token(
        &self,
        tenant: &TenantId,
        path: &[&str],
    ) -> Result<(acd_domain::IntegrationType, &'static str, String, bool), ApiError> {
        let (vendor, token) = acd_connectors::registry::tenant_token_at(path).ok_or(ApiError::NotFound)?;
        if let Some(value) = self.tokens.get_token(tenant, &vendor.id(), token.field).await? {
            return Ok((vendor.id(), token.field, value, false));
        }
        let (value, issued) = self.tokens.issue_token(tenant, &vendor.id(), token.field, &(token.generate)()).await?;
        if issued {
            tracing::info!(tenant = %tenant, kind = vendor.id().as_str(), field = token.field, "tenant token issued");
        }
        Ok((vendor.id(), token.field, value, issued))
    }

    /// The tenant's value of the token at `path`, without issuing one (404 when none was issued yet).
    pub async fn tenant_token(
        &self,
        tenant: &TenantId,
        path: &[&str],
    ) -> Result<(acd_domain::IntegrationType, &'static str, String), ApiError> {
        let (vendor, token) = acd_connectors::registry::tenant_token_at(path).ok_or(ApiError::NotFound)?;
        let value = self.tokens.get_token(tenant, &vendor.id(), token.field).await?.ok_or(ApiError::NotFound)?;
        Ok((vendor.id(), token.field, value))
    }

    /// The credentials of a create, PATCH or test-connection with the tenant's token written in, checked against the
    /// ACD: the token's read and the check share the check's budget ([`CreateBudgets::check`]).
    async fn checked_credentials(
        &self,
        tenant: &TenantId,
        settings: &Settings,
        credentials: Credentials,
    ) -> Result<Credentials, ApiError> {
        let deadline = Instant::now() + self.budgets.check;
        let credentials = self.with_tenant_token(tenant, credentials, deadline).await?;
        self.verify(settings, &credentials, deadline).await?;
        Ok(credentials)
    }

    /// Writes the tenant's token into credentials of a vendor that has one ([`Vendor::tenant_token`]); a body
    /// cannot set it (the registry's credential fields leave it out). 409 `tenant-token-missing` naming the path
    /// to call when none was issued yet; 503 when the read does not answer by `deadline`.
    ///
    /// [`Vendor::tenant_token`]: acd_connectors::Vendor::tenant_token
    async fn with_tenant_token(
        &self,
        tenant: &TenantId,
        credentials: Credentials,
        deadline: Instant,
    ) -> Result<Credentials, ApiError> {
        let kind = credentials.integration_type().clone();
        let Some(token) = acd_connectors::registry::vendor(kind.as_str()).and_then(|v| v.tenant_token()) else {
            return Ok(credentials);
        };
        let limit = deadline.saturating_duration_since(Instant::now());
        match within(limit, "reading the tenant token", self.tokens.get_token(tenant, &kind, token.field)).await? {
            Some(value) => Ok(credentials.with_field(token.field, value)),
            None => {
                Err(ApiError::TenantTokenMissing { field: token.field, path: format!("/integrations/{}", token.path) })
            }
        }
    }

    /// The credentials check, by `deadline` (the check's budget from its start): an ACD that does not answer in time
    /// is `vendor-unavailable`.
    async fn verify(&self, settings: &Settings, credentials: &Credentials, deadline: Instant) -> Result<(), ApiError> {
        match tokio::time::timeout_at(deadline, self.verifier.verify(settings, credentials)).await {
            Ok(result) => result.map_err(ApiError::CredentialsCheck),
            Err(_) => {
                tracing::warn!(budget = ?self.budgets.check, "the credentials check did not finish in time");
                Err(ApiError::CredentialsCheck(ConnectorError::DeadlineExceeded))
            }
        }
    }
}

/// The steps of a delete once the record is a tombstone ([`IntegrationRepo::mark_deleting`]): the queues made
/// inactive, the schedules and the secret deleted, then a push integration's ingest keys, the record, its name and
/// its quota place removed ([`IntegrationRepo::delete`]), and `integration.deleted` published. Every step is
/// idempotent. Run by [`IntegrationService::delete`] (and its retry), and by the import that finds a tombstone a
/// failed DELETE left ([`crate::import::ImportConfig::tombstone_grace`]).
pub async fn finish_delete(
    repo: &dyn IntegrationRepo,
    schedules: &dyn ScheduleStore,
    secrets: &dyn SecretStore,
    events: Option<&dyn crate::ports::EventPublisher>,
    tombstone: &Integration,
) -> Result<(), StoreError> {
    let (tenant, id) = (&tombstone.tenant_id, tombstone.id);
    repo.deactivate_queues(tenant, id).await?;
    schedules.delete(tenant, id).await?;
    secrets.delete(tenant, id).await?;
    repo.delete(tombstone).await?;
    tracing::info!(tenant = %tenant, integration = %id, "integration deleted");
    crate::events::deleted(events, tombstone).await;
    Ok(())
}

/// Whether the integration's type pulls from its ACD (and so has import schedules); unknown types are treated as
/// pulling, so their schedules are never silently skipped.
fn pulls(integration: &Integration) -> bool {
    acd_connectors::registry::vendor_of(&integration.kind).map_or(true, |v| v.pulls())
}
