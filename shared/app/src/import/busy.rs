//! A busy ACD user (`ConnectorError::Busy`: Five9 refuses a second concurrent request of one API user with
//! `UserAlreadyLoggedInFault`, e.g. two integrations sharing one user import at the same tick). It is not a fault
//! of the integration: the connector retries the call within its retry policy (5 attempts, back-off up to ~6 s in
//! all, inside the run's deadline); if the user is still busy the run ends `partial` with a warning, keeps every
//! day it finished, and the next run (the next tick) tries again. Only a user busy for longer than
//! [`BUSY_TOLERANCE`] (about four 15-minute ticks in a row with no successful listing) makes the run `failed`
//! with `vendor_unavailable` and the status `failing`. The streak's start is kept in the import state
//! (`vendor_busy_since`) and cleared by the first day a run writes (listings alone do not end it).

use acd_domain::{FailureReason, IntegrationId, TenantId};
use chrono::{DateTime, Duration, Utc};

use crate::ports::{ImportStore, RunOutcome, RunRecord, StoreError};

/// How long a busy ACD user is waited for (run after run) before the integration counts as failing.
pub const BUSY_TOLERANCE: Duration = Duration::hours(1);

/// Records a run that ended on a busy user: `partial` with a warning within [`BUSY_TOLERANCE`] of the streak's
/// start (kept in the import state), `failed` / `vendor_unavailable` after it.
pub(super) async fn ended_busy(
    store: &dyn ImportStore,
    tenant: &TenantId,
    id: IntegrationId,
    now: DateTime<Utc>,
    message: &str,
    record: &mut RunRecord,
) -> Result<(), StoreError> {
    let mut state = store.load_state(tenant, id).await?;
    let since = match state.vendor_busy_since {
        Some(since) => since,
        None => {
            state.vendor_busy_since = Some(now);
            store.save_state(tenant, id, &state).await?;
            now
        }
    };
    let since_text = since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    if now - since >= BUSY_TOLERANCE {
        record.outcome = RunOutcome::Failed;
        record.reason = Some(FailureReason::VendorUnavailable);
        record.message = Some(format!("the ACD user has been busy since {since_text}: {message}"));
    } else {
        record.outcome = RunOutcome::Partial;
        record.reason = None;
        record.warnings.push(format!(
            "the ACD user was busy (busy since {since_text}): {message}; the next run tries again, the status turns \
             failing only if it lasts over {} minutes",
            BUSY_TOLERANCE.num_minutes()
        ));
        record.message = Some("the ACD user is busy with another session: the next run tries again".into());
    }
    Ok(())
}
