//! Status-change events and run metrics, at the end of every recorded import run and after a delete.
//!
//! Events are notifications: a failure to publish one is logged and never fails the run or the request (the
//! integration's status, readable through the API, stays the source of truth).

use acd_domain::{Integration, IntegrationState, IntegrationStatus};
use chrono::Utc;

use crate::import::RunRecord;
use crate::ports::{EventPublisher, StatusEvent, StatusEventKind};

/// The event a run's new status calls for, if any: `failing` when the integration starts failing or fails for
/// another reason, `recovered` when it stops failing. A run that keeps failing for the same reason says nothing.
pub fn status_change(previous: &IntegrationStatus, next: &IntegrationStatus) -> Option<StatusEventKind> {
    let was_failing = previous.state == IntegrationState::Failing;
    match next.state {
        IntegrationState::Failing if !was_failing || previous.reason != next.reason => Some(StatusEventKind::Failing),
        IntegrationState::Failing => None,
        _ if was_failing => Some(StatusEventKind::Recovered),
        _ => None,
    }
}

/// The end of a recorded run: its metrics (EMF) and, when the status changed, its event (`written`: the status as
/// stored; `None` when its write was refused, the record deleted or paused meanwhile: no event). `failing_since`: the
/// integration's after the run ([`crate::import::failing_since_after_run`]); `data_now`: the import's clock (a fixed
/// one in tests), against which the data lag is measured.
pub async fn after_run(
    events: Option<&dyn EventPublisher>,
    integration: &Integration,
    run: &RunRecord,
    status: &IntegrationStatus,
    written: Option<&IntegrationStatus>,
    failing_since: Option<chrono::DateTime<Utc>>,
    data_now: chrono::DateTime<Utc>,
) {
    crate::metrics::emit_run(integration, run, status, failing_since, data_now);
    let Some(status) = written else { return };
    let Some(kind) = status_change(&integration.status, status) else { return };
    let reason = match kind {
        StatusEventKind::Recovered => integration.status.reason,
        _ => status.reason,
    };
    let event = StatusEvent {
        kind,
        tenant_id: integration.tenant_id.clone(),
        integration_id: integration.id,
        integration_type: integration.kind.as_str().to_owned(),
        reason,
        message: (kind == StatusEventKind::Failing).then(|| status.message.clone()).flatten(),
        at: run.ended_at,
    };
    publish(events, &event).await;
}

/// `integration.deleted`, after a delete.
pub async fn deleted(events: Option<&dyn EventPublisher>, integration: &Integration) {
    let event = StatusEvent {
        kind: StatusEventKind::Deleted,
        tenant_id: integration.tenant_id.clone(),
        integration_id: integration.id,
        integration_type: integration.kind.as_str().to_owned(),
        reason: None,
        message: None,
        at: Utc::now(),
    };
    publish(events, &event).await;
}

/// Publishes one status event (best effort: a failure is logged, never returned).
pub async fn publish(events: Option<&dyn EventPublisher>, event: &StatusEvent) {
    let Some(events) = events else { return };
    let (tenant, integration, kind) = (&event.tenant_id, event.integration_id, event.kind.as_str());
    match events.publish(event).await {
        Ok(()) => tracing::info!(
            tenant = %tenant, integration = %integration, event = kind,
            reason = event.reason.map(|r| r.as_str()), "status event published"
        ),
        Err(e) => tracing::error!(
            tenant = %tenant, integration = %integration, event = kind, error = %e, "publishing a status event failed"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use acd_domain::FailureReason;

    fn status(state: IntegrationState, reason: Option<FailureReason>) -> IntegrationStatus {
        IntegrationStatus { state, reason, message: None, last_success_at: None, last_run_at: None, resumed_at: None }
    }

    #[test]
    fn events_only_on_changes() {
        use FailureReason::*;
        use IntegrationState::*;
        let s = status;
        assert_eq!(
            status_change(&s(Operational, None), &s(Failing, Some(RateLimited))),
            Some(StatusEventKind::Failing)
        );
        assert_eq!(status_change(&s(Importing, None), &s(Failing, Some(RateLimited))), Some(StatusEventKind::Failing));
        assert_eq!(status_change(&s(Failing, Some(RateLimited)), &s(Failing, Some(RateLimited))), None);
        assert_eq!(
            status_change(&s(Failing, Some(RateLimited)), &s(Failing, Some(CredentialsRejected))),
            Some(StatusEventKind::Failing)
        );
        assert_eq!(
            status_change(&s(Failing, Some(RateLimited)), &s(Operational, None)),
            Some(StatusEventKind::Recovered)
        );
        assert_eq!(
            status_change(&s(Failing, Some(RateLimited)), &s(Importing, None)),
            Some(StatusEventKind::Recovered)
        );
        assert_eq!(status_change(&s(Operational, None), &s(Operational, None)), None);
        assert_eq!(status_change(&s(Importing, None), &s(Operational, None)), None);
    }
}
