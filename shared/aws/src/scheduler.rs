//! Import schedules in EventBridge Scheduler, all in one group:
//! - `imp-{integration}`: recurring (every quarter hour by default, [`recurring_expression`]), flexible window,
//!   enabled unless paused;
//! - `now-{integration}`: one-time, "at once", deleted by Scheduler after it ran (first import, resume, sync now).
//!
//! - `imp-{integration}-states`: recurring `rate(N minutes)` when the integration has an `agent_state_cadence`,
//!   no flexible window, enabled unless paused; it invokes the import with `"pass": "agent_states"` (agent states
//!   only, see `acd_app::import::states`).
//!
//! The recurring one invokes the import function with `{"tenant_id", "integration_id"}`, the one-time one (and the
//! invoke that comes first, below) with `"at_once": true` added. The definition is rebuilt from
//! configuration whenever it is written, so create, pause and resume are idempotent; pause and resume create the
//! recurring schedule (and the agent-states one) when it is missing, as a create whose record landed after its
//! rollback leaves it.
//!
//! "At once" is first an asynchronous Lambda invoke (`InvocationType::Event`) of the import function: Scheduler
//! fires one-time schedules with one-minute precision, so a first import started by one begins up to a minute
//! late. Only when the invoke is not accepted (no Lambda client, an error, throttling) is the one-time schedule
//! written instead; an import started twice is harmless (the run lease lets one run at a time).

use acd_app::import::ImportEvent;
use acd_app::ports::{ScheduleStore, StoreError};
use acd_domain::{AgentStateCadence, IntegrationId, TenantId};
use async_trait::async_trait;
use aws_sdk_scheduler::Client;
use aws_sdk_scheduler::config::http::HttpResponse;
use aws_sdk_scheduler::error::SdkError;
use aws_sdk_scheduler::operation::create_schedule::CreateScheduleError;
use aws_sdk_scheduler::operation::update_schedule::UpdateScheduleError;
use aws_sdk_scheduler::types::{
    ActionAfterCompletion, DeadLetterConfig, FlexibleTimeWindow, FlexibleTimeWindowMode, RetryPolicy, ScheduleState,
    Target,
};
use chrono::{Duration, Utc};

use crate::config::Settings;
use crate::{LazyClient, sdk_error};

#[derive(Clone, Debug)]
pub struct EventBridgeSchedules {
    /// Built when a schedule is first created, changed or deleted.
    pub client: LazyClient<Client>,
    pub settings: Settings,
    /// Starts imports at once by an asynchronous invoke; `None`: by the one-time schedule only.
    pub lambda: Option<LazyClient<aws_sdk_lambda::Client>>,
}

pub fn recurring_name(id: IntegrationId) -> String {
    format!("imp-{id}")
}

pub fn states_name(id: IntegrationId) -> String {
    format!("imp-{id}-states")
}

/// The agent-states pass's input: the import's, marked with `"pass": "agent_states"`, with the time the pass was
/// scheduled for (Scheduler's context attribute, replaced when it invokes the target) and the schedule's cadence, by
/// which the import skips a pass that Lambda's queue held back too long ([`acd_app::import::pass_timing`]).
pub fn states_input(tenant: &TenantId, id: IntegrationId, cadence: AgentStateCadence) -> String {
    serde_json::json!({
        "tenant_id": tenant,
        "integration_id": id,
        "pass": acd_app::import::STATES_PASS,
        acd_app::import::SCHEDULED_AT: SCHEDULED_TIME,
        acd_app::import::CADENCE_MINUTES: cadence.minutes(),
    })
    .to_string()
}

/// EventBridge Scheduler's context attribute for the time a schedule invokes its target for, e.g.
/// `2022-03-22T18:59:43Z` (Scheduler User Guide, "Adding context attributes").
pub const SCHEDULED_TIME: &str = "<aws.scheduler.scheduled-time>";

/// `IMPORT_SCHEDULE_EXPRESSION`'s default (`Settings::DEFAULT_SCHEDULE_EXPRESSION`): every quarter hour, at a minute
/// of each integration's own ([`recurring_expression`]).
pub const QUARTER_HOURLY: &str = "quarter-hourly";

/// The recurring import's expression for integration `id`: the configured one as it is, or for [`QUARTER_HOURLY`]
/// `cron(M/15 * * * ? *)` — at minute M of every quarter hour, M taken from the id, from 0 to 13 less the flexible
/// window, so that the run fires (at most the window and Scheduler's minute of precision later) inside the quarter
/// hour it was scheduled in: each run's window ends at the quarter hour before it, one run a quarter hour, none
/// twice, none skipped. Until 2026-12-05 the default was `rate(15 minutes)`, whose runs come at the minute the
/// schedule was written plus up to the 5-minute window: for an integration written at minute 10–14 of a quarter hour
/// a run fell into the next quarter hour now and then, so some quarter hours had two runs (the second re-reading the
/// whole reconciliation window for nothing new) and the next none; on average over the minutes schedules are
/// written at, 1 run in 15 (see README, "Quarter-hour runs"). The minutes still spread the integrations' runs over
/// the quarter hour (9 minutes with the 5-minute window), as the rate's did over all of it.
pub fn recurring_expression(configured: &str, id: IntegrationId, flexible_window_minutes: i32) -> String {
    if configured != QUARTER_HOURLY {
        return configured.to_owned();
    }
    let minutes = u128::try_from((14 - flexible_window_minutes).max(1)).unwrap_or(1);
    let minute = id.as_uuid().as_u128() % minutes;
    format!("cron({minute}/15 * * * ? *)")
}

/// `rate(N minutes)` (Scheduler wants the singular for one).
pub fn states_expression(cadence: AgentStateCadence) -> String {
    match cadence.minutes() {
        1 => "rate(1 minute)".to_owned(),
        n => format!("rate({n} minutes)"),
    }
}

pub fn one_time_name(id: IntegrationId) -> String {
    format!("now-{id}")
}

/// The import function's input: the [`ImportEvent`] it reads. `at_once` for an "at once" start (the invoke, or the
/// one-time schedule): a run an admin asked for, which runs even in a quarter hour already imported; the recurring
/// schedule's leaves it out.
pub fn import_input(tenant: &TenantId, id: IntegrationId, at_once: bool) -> String {
    let event = ImportEvent { tenant_id: tenant.to_string(), integration_id: id.to_string(), at_once };
    serde_json::to_string(&event).expect("an import event serializes")
}

/// Creates a schedule, or writes the same definition over one already there (a create's conflict: made by an earlier
/// call, a concurrent one, or a retry). `what` names the schedule in errors (`CreateSchedule(recurring)`).
async fn create_or_overwrite<C, U>(
    what: &str,
    create: impl AsyncFnOnce() -> Result<C, SdkError<CreateScheduleError, HttpResponse>>,
    update: impl AsyncFnOnce() -> Result<U, SdkError<UpdateScheduleError, HttpResponse>>,
) -> Result<(), StoreError> {
    match create().await {
        Ok(_) => Ok(()),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_conflict_exception()) => {
            update().await.map(|_| ()).map_err(|e| sdk_error(&format!("UpdateSchedule({what})"), e))
        }
        Err(e) => Err(sdk_error(&format!("CreateSchedule({what})"), e)),
    }
}

/// `at()` expression for "at once": Scheduler needs a time; a few seconds ahead is the earliest it accepts reliably.
fn at_once() -> String {
    let at = Utc::now() + Duration::seconds(5);
    format!("at({})", at.format("%Y-%m-%dT%H:%M:%S"))
}

impl EventBridgeSchedules {
    /// The import's target, for the recurring schedule or (`at_once`) the one-time one.
    fn target(&self, tenant: &TenantId, id: IntegrationId, at_once: bool) -> Result<Target, StoreError> {
        self.target_with(
            import_input(tenant, id, at_once),
            RetryPolicy::builder().maximum_retry_attempts(2).maximum_event_age_in_seconds(900).build(),
        )
    }

    /// The states pass's target: no retries and a short event age (the next pass, a minute or so later, reads the
    /// same states again; a retried old one would only repeat it).
    fn states_target(
        &self,
        tenant: &TenantId,
        id: IntegrationId,
        cadence: AgentStateCadence,
    ) -> Result<Target, StoreError> {
        self.target_with(
            states_input(tenant, id, cadence),
            RetryPolicy::builder().maximum_retry_attempts(0).maximum_event_age_in_seconds(60).build(),
        )
    }

    fn target_with(&self, input: String, retry: RetryPolicy) -> Result<Target, StoreError> {
        Target::builder()
            .arn(&self.settings.import_function_arn)
            .role_arn(&self.settings.scheduler_role_arn)
            .input(input)
            .retry_policy(retry)
            .set_dead_letter_config(
                self.settings.schedule_dlq_arn.as_ref().map(|arn| DeadLetterConfig::builder().arn(arn).build()),
            )
            .build()
            .map_err(|e| StoreError::Backend(e.to_string()))
    }

    fn flexible(&self) -> Result<FlexibleTimeWindow, StoreError> {
        let window = if self.settings.flexible_window_minutes > 0 {
            FlexibleTimeWindow::builder()
                .mode(FlexibleTimeWindowMode::Flexible)
                .maximum_window_in_minutes(self.settings.flexible_window_minutes)
        } else {
            FlexibleTimeWindow::builder().mode(FlexibleTimeWindowMode::Off)
        };
        window.build().map_err(|e| StoreError::Backend(e.to_string()))
    }

    async fn write_recurring(
        &self,
        tenant: &TenantId,
        id: IntegrationId,
        state: ScheduleState,
        create: bool,
    ) -> Result<(), StoreError> {
        let target = self.target(tenant, id, false)?;
        let window = self.flexible()?;
        // Create and update take the same complete definition; only the builder type differs.
        macro_rules! recurring {
            ($builder:expr) => {
                $builder
                    .name(recurring_name(id))
                    .group_name(&self.settings.schedule_group)
                    .description(format!("Imports integration {id} of tenant {tenant}"))
                    .schedule_expression(recurring_expression(
                        &self.settings.schedule_expression,
                        id,
                        self.settings.flexible_window_minutes,
                    ))
                    .schedule_expression_timezone("UTC")
                    .flexible_time_window(window.clone())
                    .target(target.clone())
                    .state(state.clone())
            };
        }
        // Creates it, or writes over one already there: on create, a pause or resume during the create wrote it
        // (they create a missing one, below) or this is a retry, and a create must not fail (and roll back) for it;
        // on update, a concurrent call created it meanwhile.
        let create_over = async || {
            create_or_overwrite(
                "recurring",
                async || recurring!(self.client.create_schedule()).send().await,
                async || recurring!(self.client.update_schedule()).send().await,
            )
            .await
        };
        if create {
            return create_over().await;
        }
        // An update of a missing schedule creates it (until 2026-12-07 pause and resume answered 503 for ever when
        // it was missing, e.g. after a create whose record transaction landed after its rollback had run).
        match recurring!(self.client.update_schedule()).send().await {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => {
                tracing::warn!(tenant = %tenant, integration = %id, "the recurring import schedule is missing: creating it");
                create_over().await
            }
            Err(e) => Err(sdk_error("UpdateSchedule(recurring)", e)),
        }
    }

    /// Starts an import now with an asynchronous invoke; `false` when it was not accepted (logged).
    async fn invoke(&self, tenant: &TenantId, id: IntegrationId) -> bool {
        let Some(lambda) = &self.lambda else { return false };
        let sent = lambda
            .invoke()
            .function_name(&self.settings.import_function_arn)
            .invocation_type(aws_sdk_lambda::types::InvocationType::Event)
            .payload(aws_smithy_types::Blob::new(import_input(tenant, id, true)))
            .send()
            .await;
        match sent {
            Ok(out) if out.status_code() == 202 => true,
            Ok(out) => {
                tracing::warn!(tenant = %tenant, integration = %id, status = out.status_code(),
                    "import invoke not accepted: starting it by a one-time schedule");
                false
            }
            Err(e) => {
                tracing::warn!(tenant = %tenant, integration = %id,
                    error = %aws_smithy_types::error::display::DisplayErrorContext(&e),
                    "import invoke failed: starting it by a one-time schedule");
                false
            }
        }
    }

    /// The one-time "at once" schedule (created, or moved to now when one is pending).
    async fn one_time(&self, tenant: &TenantId, id: IntegrationId) -> Result<(), StoreError> {
        let off = FlexibleTimeWindow::builder()
            .mode(FlexibleTimeWindowMode::Off)
            .build()
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        let target = self.target(tenant, id, true)?;
        macro_rules! one_time {
            ($builder:expr) => {
                $builder
                    .name(one_time_name(id))
                    .group_name(&self.settings.schedule_group)
                    .schedule_expression(at_once())
                    .schedule_expression_timezone("UTC")
                    .flexible_time_window(off.clone())
                    .target(target.clone())
                    .action_after_completion(ActionAfterCompletion::Delete)
            };
        }
        // One already pending is moved to now.
        create_or_overwrite(
            "one-time",
            async || {
                one_time!(self.client.create_schedule())
                    .description(format!("Starts an import of integration {id} at once"))
                    .send()
                    .await
            },
            async || one_time!(self.client.update_schedule()).send().await,
        )
        .await
    }

    /// Writes the agent-states schedule: updated when it exists, created otherwise.
    async fn write_states(
        &self,
        tenant: &TenantId,
        id: IntegrationId,
        cadence: AgentStateCadence,
        state: ScheduleState,
    ) -> Result<(), StoreError> {
        let off = FlexibleTimeWindow::builder()
            .mode(FlexibleTimeWindowMode::Off)
            .build()
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        let target = self.states_target(tenant, id, cadence)?;
        macro_rules! states {
            ($builder:expr) => {
                $builder
                    .name(states_name(id))
                    .group_name(&self.settings.schedule_group)
                    .description(format!("Imports the agent states of integration {id} of tenant {tenant}"))
                    .schedule_expression(states_expression(cadence))
                    .schedule_expression_timezone("UTC")
                    .flexible_time_window(off.clone())
                    .target(target.clone())
                    .state(state.clone())
            };
        }
        match states!(self.client.update_schedule()).send().await {
            Ok(_) => Ok(()),
            // Missing: created (written over one a concurrent call created meanwhile).
            Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => {
                create_or_overwrite(
                    "states",
                    async || states!(self.client.create_schedule()).send().await,
                    async || states!(self.client.update_schedule()).send().await,
                )
                .await
            }
            Err(e) => Err(sdk_error("UpdateSchedule(states)", e)),
        }
    }

    async fn delete_one(&self, name: String) -> Result<(), StoreError> {
        match self.client.delete_schedule().name(&name).group_name(&self.settings.schedule_group).send().await {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => Ok(()),
            Err(e) => Err(sdk_error("DeleteSchedule", e)),
        }
    }
}

#[async_trait]
impl ScheduleStore for EventBridgeSchedules {
    async fn create(&self, tenant: &TenantId, id: IntegrationId) -> Result<(), StoreError> {
        self.write_recurring(tenant, id, ScheduleState::Enabled, true).await?;
        self.run_now(tenant, id).await
    }

    async fn set_enabled(&self, tenant: &TenantId, id: IntegrationId, enabled: bool) -> Result<(), StoreError> {
        let state = if enabled { ScheduleState::Enabled } else { ScheduleState::Disabled };
        self.write_recurring(tenant, id, state, false).await
    }

    async fn run_now(&self, tenant: &TenantId, id: IntegrationId) -> Result<(), StoreError> {
        if self.invoke(tenant, id).await {
            return Ok(());
        }
        self.one_time(tenant, id).await
    }

    async fn delete(&self, _tenant: &TenantId, id: IntegrationId) -> Result<(), StoreError> {
        self.delete_one(recurring_name(id)).await?;
        self.delete_one(states_name(id)).await?;
        self.delete_one(one_time_name(id)).await
    }

    async fn delete_orphaned(&self, tenant: &TenantId, id: IntegrationId) -> Result<(), StoreError> {
        let found =
            self.client.get_schedule().name(recurring_name(id)).group_name(&self.settings.schedule_group).send().await;
        let input = match found {
            Ok(out) => out.target().map(|t| t.input().unwrap_or_default().to_owned()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => None,
            Err(e) => return Err(sdk_error("GetSchedule(recurring)", e)),
        };
        let owner = input
            .and_then(|i| serde_json::from_str::<serde_json::Value>(&i).ok())
            .and_then(|v| v["tenant_id"].as_str().map(str::to_owned));
        if owner.as_deref().is_some_and(|owner| owner != tenant.as_str()) {
            tracing::warn!(tenant = %tenant, integration = %id, "the schedules run another tenant's integration: left alone");
            return Ok(());
        }
        self.delete(tenant, id).await
    }

    async fn set_states_schedule(
        &self,
        tenant: &TenantId,
        id: IntegrationId,
        cadence: Option<AgentStateCadence>,
        enabled: bool,
    ) -> Result<(), StoreError> {
        match cadence {
            Some(cadence) => {
                let state = if enabled { ScheduleState::Enabled } else { ScheduleState::Disabled };
                self.write_states(tenant, id, cadence, state).await
            }
            None => self.delete_one(states_name(id)).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_lambda::operation::invoke::{InvokeError, InvokeOutput};
    use aws_sdk_lambda::types::InvocationType;
    use aws_sdk_scheduler::operation::create_schedule::CreateScheduleOutput;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    const IMPORT_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:acd-import";

    fn settings() -> Settings {
        Settings {
            table_name: "t".into(),
            secret_prefix: Settings::DEFAULT_SECRET_PREFIX.into(),
            schedule_group: "g".into(),
            import_function_arn: IMPORT_ARN.into(),
            scheduler_role_arn: "arn:aws:iam::123456789012:role/scheduler".into(),
            schedule_expression: Settings::DEFAULT_SCHEDULE_EXPRESSION.into(),
            flexible_window_minutes: 5,
            schedule_dlq_arn: None,
            trusted_account_id: "123456789012".into(),
            allow_same_account_roles: false,
            default_history_days: 30,
            writes_in_flight: crate::batch::DEFAULT_IN_FLIGHT,
            hour_buckets: false,
            compact_segment_buckets: false,
            max_integrations_per_tenant: Settings::DEFAULT_MAX_INTEGRATIONS_PER_TENANT,
            event_bus_name: "default".into(),
            scopes: Default::default(),
            ingest: Default::default(),
        }
    }

    fn one_time_rule() -> aws_smithy_mocks::Rule {
        mock!(aws_sdk_scheduler::Client::create_schedule)
            .match_requests(|r| r.name().is_some_and(|n| n.starts_with("now-")))
            .then_output(|| {
                CreateScheduleOutput::builder().schedule_arn("arn:aws:scheduler:::schedule/g/now").build().unwrap()
            })
    }

    #[test]
    fn quarter_hourly_runs_fire_inside_their_quarter_hour_at_minutes_spread_over_it() {
        for window in [0, 1, 5, 10, 13, 14, 30] {
            let mut minutes = std::collections::BTreeSet::new();
            for _ in 0..400 {
                let expression = recurring_expression(QUARTER_HOURLY, IntegrationId::new(), window);
                let minute: i32 = expression
                    .strip_prefix("cron(")
                    .and_then(|r| r.strip_suffix("/15 * * * ? *)"))
                    .and_then(|m| m.parse().ok())
                    .unwrap_or_else(|| panic!("{expression}"));
                // Fired at most the window and Scheduler's minute of precision after the minute: before the next
                // quarter hour (a window of 14 minutes or more cannot be, and its runs come at minute 0).
                assert!(minute + window < 14 || (window >= 14 && minute == 0), "{window}: {expression}");
                minutes.insert(minute);
            }
            let spread = if window >= 13 { 1 } else { 14 - window };
            assert_eq!(minutes.len() as i32, spread, "window {window}: every minute used: {minutes:?}");
        }
        // An expression that is configured is used as it is; the same id keeps its minute.
        let id = IntegrationId::new();
        assert_eq!(recurring_expression("rate(1 hour)", id, 5), "rate(1 hour)");
        assert_eq!(recurring_expression(QUARTER_HOURLY, id, 5), recurring_expression(QUARTER_HOURLY, id, 5));
    }

    #[tokio::test]
    async fn run_now_invokes_the_import_asynchronously_and_writes_no_schedule() {
        let (tenant, id) = (TenantId::parse("acme").unwrap(), IntegrationId::new());
        let expected = import_input(&tenant, id, true);
        let invoke = mock!(aws_sdk_lambda::Client::invoke)
            .match_requests(move |r| {
                r.function_name() == Some(IMPORT_ARN)
                    && r.invocation_type() == Some(&InvocationType::Event)
                    && r.payload().map(|p| p.as_ref()) == Some(expected.as_bytes())
            })
            .then_output(|| InvokeOutput::builder().status_code(202).build());
        let schedule = one_time_rule();
        let schedules = EventBridgeSchedules {
            client: mock_client!(aws_sdk_scheduler, RuleMode::MatchAny, [&schedule]).into(),
            settings: settings(),
            lambda: Some(mock_client!(aws_sdk_lambda, RuleMode::MatchAny, [&invoke]).into()),
        };
        schedules.run_now(&tenant, id).await.unwrap();
        assert_eq!(invoke.num_calls(), 1, "the import was invoked with its event");
        assert_eq!(schedule.num_calls(), 0, "no one-time schedule when the invoke was accepted");
    }

    #[tokio::test]
    async fn a_failed_invoke_falls_back_to_the_one_time_schedule() {
        let (tenant, id) = (TenantId::parse("acme").unwrap(), IntegrationId::new());
        let invoke = mock!(aws_sdk_lambda::Client::invoke).then_error(|| {
            InvokeError::TooManyRequestsException(
                aws_sdk_lambda::types::error::TooManyRequestsException::builder().message("Rate exceeded").build(),
            )
        });
        let expected = import_input(&tenant, id, true);
        let schedule = mock!(aws_sdk_scheduler::Client::create_schedule)
            .match_requests(move |r| {
                r.name() == Some(one_time_name(id).as_str())
                    && r.target().is_some_and(|t| t.arn() == IMPORT_ARN && t.input() == Some(expected.as_str()))
            })
            .then_output(|| {
                CreateScheduleOutput::builder().schedule_arn("arn:aws:scheduler:::schedule/g/now").build().unwrap()
            });
        let schedules = EventBridgeSchedules {
            client: mock_client!(aws_sdk_scheduler, RuleMode::MatchAny, [&schedule]).into(),
            settings: settings(),
            lambda: Some(
                mock_client!(aws_sdk_lambda, RuleMode::MatchAny, [&invoke], |c| c
                    .retry_config(aws_sdk_lambda::config::retry::RetryConfig::disabled()))
                .into(),
            ),
        };
        schedules.run_now(&tenant, id).await.unwrap();
        assert_eq!(invoke.num_calls(), 1);
        assert_eq!(schedule.num_calls(), 1, "the one-time schedule starts the import instead");
    }

    #[tokio::test]
    async fn an_invoke_answered_without_202_falls_back_and_no_lambda_client_means_the_schedule() {
        let (tenant, id) = (TenantId::parse("acme").unwrap(), IntegrationId::new());
        let invoke =
            mock!(aws_sdk_lambda::Client::invoke).then_output(|| InvokeOutput::builder().status_code(200).build());
        let schedule = one_time_rule();
        let mut schedules = EventBridgeSchedules {
            client: mock_client!(aws_sdk_scheduler, RuleMode::MatchAny, [&schedule]).into(),
            settings: settings(),
            lambda: Some(mock_client!(aws_sdk_lambda, RuleMode::MatchAny, [&invoke]).into()),
        };
        schedules.run_now(&tenant, id).await.unwrap();
        assert_eq!((invoke.num_calls(), schedule.num_calls()), (1, 1));
        schedules.lambda = None;
        schedules.run_now(&tenant, id).await.unwrap();
        assert_eq!((invoke.num_calls(), schedule.num_calls()), (1, 2));
    }
}
