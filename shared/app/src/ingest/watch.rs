//! The silence watch of a push integration: `no_data` as a status event and a metric, like a connector failure.
//!
//! A push integration has the same `imp-{integration}` schedule as every type (every 15 minutes). For a type that
//! does not pull, the import function runs this watch instead of an import: one read of the record (already
//! loaded by the import) and, only when the sender is silent for longer than `no_data_after_minutes`, one status
//! write and one event. So:
//! - silent too long → the stored status becomes `failing` / `no_data` (the same as [`super::effective_status`]
//!   already shows on read) with `failing_since` now, `integration.failing` (reason `no_data`) is published once,
//!   and every watch while silent writes a `FailingFor` metric line (now − `failing_since`: the time it has been
//!   failing, 0 at the first silent watch) that the "failing for more than an hour" alarm reads. Not now − last
//!   push: after a pause (no push is accepted while paused) that would count the pause, and the silence limit
//!   before the integration was failing at all;
//! - the next accepted push stores `operational` and publishes `integration.recovered` (reason `no_data`), from the
//!   ingest function ([`super::IngestService`]).
//!
//! A push arriving between the watch's read and its write may be overwritten by the `failing` status; the push
//! after it (or the one after the next minute, see [`super::STATUS_REFRESH_SECONDS`]) makes it `operational` again
//! and publishes `recovered`.

use acd_domain::{FailureReason, Integration, IntegrationState};
use chrono::Utc;

use crate::import::{ImportService, RunSummary};
use crate::ports::{StatusEvent, StatusEventKind, StoreError};

impl ImportService {
    /// The watch pass of a push integration (see the module). `Err` only for store failures.
    pub async fn watch_push(&self, integration: &Integration) -> Result<RunSummary, StoreError> {
        let now = self.config.now.unwrap_or_else(Utc::now);
        let (tenant, id) = (&integration.tenant_id, integration.id);
        let shown = super::effective_status(integration, now);
        if shown.state != IntegrationState::Failing || shown.reason != Some(FailureReason::NoData) {
            tracing::info!(tenant = %tenant, integration = %id, "push integration: data arrives, nothing to import");
            return Ok(RunSummary::skipped("data of this type is pushed, not imported; data arrives"));
        }
        let (since, limit) = super::silence_limit(integration);
        let silent_for = (now - since).num_seconds();
        // Stored `no_data` by a watch before `failing_since` existed: failing since the silence passed the limit.
        let failing_since = integration.failing_since_after(&shown, now, Some(since + limit)).unwrap_or(now);
        let failing_for = (now - failing_since).num_seconds();
        crate::metrics::emit_silence(integration, failing_for);
        let stored = &integration.status;
        if stored.state == IntegrationState::Failing && stored.reason == Some(FailureReason::NoData) {
            tracing::info!(
                tenant = %tenant, integration = %id, silent_seconds = silent_for, failing_seconds = failing_for,
                "push integration still silent"
            );
            return Ok(RunSummary::skipped("no_data: still silent"));
        }
        if !self.store.save_status(tenant, id, &shown, Some(failing_since)).await?.applied() {
            // Deleted or paused since the record was read: nothing changed, nothing to announce.
            return Ok(RunSummary::skipped("no_data: the integration was deleted or paused meanwhile"));
        }
        tracing::warn!(tenant = %tenant, integration = %id, silent_seconds = silent_for, "push integration silent: failing (no_data)");
        let event = StatusEvent {
            kind: StatusEventKind::Failing,
            tenant_id: tenant.clone(),
            integration_id: id,
            integration_type: integration.kind.as_str().to_owned(),
            reason: Some(FailureReason::NoData),
            message: shown.message.clone(),
            at: now,
        };
        crate::events::publish(self.events.as_deref(), &event).await;
        Ok(RunSummary::skipped("no_data: the integration is failing"))
    }
}
