//! What the template creates and the local run needs before the functions start: the table (from
//! `acd_aws::schema`, the definition a test checks against `infra/template.yaml`) and the schedule group.

use acd_aws::AwsClients;
use aws_smithy_types::error::display::DisplayErrorContext;

/// Creates the table and the schedule group unless they exist.
pub async fn init(clients: &AwsClients, table: &str, schedule_group: &str) -> Result<(), String> {
    acd_aws::schema::create_table(clients.dynamodb(), table).await.map_err(|e| format!("CreateTable {table}: {e}"))?;
    match clients.scheduler().create_schedule_group().name(schedule_group).send().await {
        Ok(_) => Ok(()),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_conflict_exception()) => Ok(()),
        Err(e) => Err(format!("CreateScheduleGroup {schedule_group}: {}", DisplayErrorContext(e))),
    }
}
