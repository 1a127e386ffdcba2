//! Import schedules in EventBridge Scheduler, all in one group:
//! - `imp-{integration}`: recurring (`rate(15 minutes)` by default), flexible window, enabled unless paused;
//! - `now-{integration}`: one-time, "at once", deleted by Scheduler after it ran (first import, resume, sync now).
//!
//! Both invoke the import function with `{"tenant_id", "integration_id"}`. The definition is rebuilt from
//! configuration whenever it is written, so create, pause and resume are idempotent.

use acd_app::ports::{ScheduleStore, StoreError};
use acd_domain::{IntegrationId, TenantId};
use async_trait::async_trait;
use aws_sdk_scheduler::Client;
use aws_sdk_scheduler::types::{
    ActionAfterCompletion, DeadLetterConfig, FlexibleTimeWindow, FlexibleTimeWindowMode, RetryPolicy, ScheduleState,
    Target,
};
use chrono::{Duration, Utc};

use crate::config::Settings;
use crate::sdk_error;

#[derive(Clone, Debug)]
pub struct EventBridgeSchedules {
    pub client: Client,
    pub settings: Settings,
}

pub fn recurring_name(id: IntegrationId) -> String {
    format!("imp-{id}")
}

pub fn one_time_name(id: IntegrationId) -> String {
    format!("now-{id}")
}

/// The import function's input: what `import` receives from every schedule.
pub fn import_input(tenant: &TenantId, id: IntegrationId) -> String {
    serde_json::json!({"tenant_id": tenant, "integration_id": id}).to_string()
}

/// `at()` expression for "at once": Scheduler needs a time; a few seconds ahead is the earliest it accepts reliably.
fn at_once() -> String {
    let at = Utc::now() + Duration::seconds(5);
    format!("at({})", at.format("%Y-%m-%dT%H:%M:%S"))
}

impl EventBridgeSchedules {
    fn target(&self, tenant: &TenantId, id: IntegrationId) -> Result<Target, StoreError> {
        let retry = RetryPolicy::builder().maximum_retry_attempts(2).maximum_event_age_in_seconds(900).build();
        Target::builder()
            .arn(&self.settings.import_function_arn)
            .role_arn(&self.settings.scheduler_role_arn)
            .input(import_input(tenant, id))
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
        // Create and update take the same complete definition; only the builder type differs.
        macro_rules! recurring {
            ($builder:expr) => {
                $builder
                    .name(recurring_name(id))
                    .group_name(&self.settings.schedule_group)
                    .description(format!("Imports integration {id} of tenant {tenant}"))
                    .schedule_expression(&self.settings.schedule_expression)
                    .schedule_expression_timezone("UTC")
                    .flexible_time_window(self.flexible()?)
                    .target(self.target(tenant, id)?)
                    .state(state)
            };
        }
        if create {
            recurring!(self.client.create_schedule())
                .send()
                .await
                .map_err(|e| sdk_error("CreateSchedule(recurring)", e))?;
        } else {
            recurring!(self.client.update_schedule())
                .send()
                .await
                .map_err(|e| sdk_error("UpdateSchedule(recurring)", e))?;
        }
        Ok(())
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
        let off = FlexibleTimeWindow::builder()
            .mode(FlexibleTimeWindowMode::Off)
            .build()
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        let created = self
            .client
            .create_schedule()
            .name(one_time_name(id))
            .group_name(&self.settings.schedule_group)
            .description(format!("Starts an import of integration {id} at once"))
            .schedule_expression(at_once())
            .schedule_expression_timezone("UTC")
            .flexible_time_window(off.clone())
            .target(self.target(tenant, id)?)
            .action_after_completion(ActionAfterCompletion::Delete)
            .send()
            .await;
        match created {
            Ok(_) => Ok(()),
            // One is already pending: move it to now.
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conflict_exception()) => {
                self.client
                    .update_schedule()
                    .name(one_time_name(id))
                    .group_name(&self.settings.schedule_group)
                    .schedule_expression(at_once())
                    .schedule_expression_timezone("UTC")
                    .flexible_time_window(off)
                    .target(self.target(tenant, id)?)
                    .action_after_completion(ActionAfterCompletion::Delete)
                    .send()
                    .await
                    .map_err(|e| sdk_error("UpdateSchedule(one-time)", e))?;
                Ok(())
            }
            Err(e) => Err(sdk_error("CreateSchedule(one-time)", e)),
        }
    }

    async fn delete(&self, _tenant: &TenantId, id: IntegrationId) -> Result<(), StoreError> {
        self.delete_one(recurring_name(id)).await?;
        self.delete_one(one_time_name(id)).await
    }
}
