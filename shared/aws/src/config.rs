//! Configuration from the environment and the AWS clients, built once per cold start.

use std::time::Duration;

/// Deployment settings (environment variables; see the README's configuration table).
#[derive(Debug, Clone)]
pub struct Settings {
    /// `TABLE_NAME`: the one DynamoDB table.
    pub table_name: String,
    /// `SECRET_PREFIX`: every secret is named `{prefix}{tenant}/{integration}` (default `acd-integrations/`).
    pub secret_prefix: String,
    /// `SCHEDULE_GROUP`: the Scheduler group of all import schedules.
    pub schedule_group: String,
    /// `IMPORT_FUNCTION_ARN`: the import function the schedules invoke.
    pub import_function_arn: String,
    /// `SCHEDULER_ROLE_ARN`: the role Scheduler assumes to invoke it.
    pub scheduler_role_arn: String,
    /// `IMPORT_SCHEDULE_EXPRESSION`: cadence of the recurring import (default `rate(15 minutes)`).
    pub schedule_expression: String,
    /// `SCHEDULE_FLEXIBLE_WINDOW_MINUTES`: Scheduler's flexible time window (default 5; spreads imports out).
    pub flexible_window_minutes: i32,
    /// `SCHEDULE_DLQ_ARN` (optional): dead-letter queue for invocations Scheduler could not deliver.
    pub schedule_dlq_arn: Option<String>,
    /// `DEFAULT_HISTORY_DAYS`: back-fill of new integrations that set no `history_days` (default 30, 1–365).
    pub default_history_days: u32,
    /// `DYNAMODB_WRITES_IN_FLIGHT`: BatchWriteItem calls the import keeps in flight at once (default
    /// [`crate::batch::DEFAULT_IN_FLIGHT`], 1–[`crate::batch::MAX_IN_FLIGHT`]).
    pub writes_in_flight: usize,
    /// `MAX_INTEGRATIONS_PER_TENANT`: the integrations a tenant may have (default 25).
    pub max_integrations_per_tenant: u32,
    /// `EVENT_BUS_NAME`: the EventBridge bus of status-change events (default: the account's `default` bus).
    pub event_bus_name: String,
}

/// A required variable is missing or empty.
#[derive(Debug, thiserror::Error)]
#[error("missing required environment variable {0}")]
pub struct MissingVariable(pub &'static str);

impl Settings {
    pub const DEFAULT_SECRET_PREFIX: &'static str = "acd-integrations/";
    pub const DEFAULT_SCHEDULE_EXPRESSION: &'static str = "rate(15 minutes)";
    pub const DEFAULT_MAX_INTEGRATIONS_PER_TENANT: u32 = 25;

    /// Reads the variables every function needs (`TABLE_NAME`) and the integrations API needs (the rest).
    pub fn from_env() -> Result<Self, MissingVariable> {
        let var = |name: &str| std::env::var(name).ok().map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let required = |name: &'static str| var(name).ok_or(MissingVariable(name));
        Ok(Self {
            table_name: required("TABLE_NAME")?,
            secret_prefix: var("SECRET_PREFIX").unwrap_or_else(|| Self::DEFAULT_SECRET_PREFIX.into()),
            schedule_group: var("SCHEDULE_GROUP").unwrap_or_else(|| "default".into()),
            import_function_arn: var("IMPORT_FUNCTION_ARN").unwrap_or_default(),
            scheduler_role_arn: var("SCHEDULER_ROLE_ARN").unwrap_or_default(),
            schedule_expression: var("IMPORT_SCHEDULE_EXPRESSION")
                .unwrap_or_else(|| Self::DEFAULT_SCHEDULE_EXPRESSION.into()),
            flexible_window_minutes: var("SCHEDULE_FLEXIBLE_WINDOW_MINUTES").and_then(|v| v.parse().ok()).unwrap_or(5),
            schedule_dlq_arn: var("SCHEDULE_DLQ_ARN"),
            default_history_days: var("DEFAULT_HISTORY_DAYS")
                .and_then(|v| v.parse::<u32>().ok())
                .filter(|d| (1..=acd_domain::validation::MAX_HISTORY_DAYS).contains(d))
                .unwrap_or(acd_domain::validation::DEFAULT_HISTORY_DAYS),
            writes_in_flight: var("DYNAMODB_WRITES_IN_FLIGHT")
                .and_then(|v| v.parse::<usize>().ok())
                .filter(|n| (1..=crate::batch::MAX_IN_FLIGHT).contains(n))
                .unwrap_or(crate::batch::DEFAULT_IN_FLIGHT),
            max_integrations_per_tenant: var("MAX_INTEGRATIONS_PER_TENANT")
                .and_then(|v| v.parse::<u32>().ok())
                .filter(|n| *n >= 1)
                .unwrap_or(Self::DEFAULT_MAX_INTEGRATIONS_PER_TENANT),
            event_bus_name: var("EVENT_BUS_NAME").unwrap_or_else(|| "default".into()),
        })
    }

    /// Checks the variables only the integrations API needs.
    pub fn require_scheduler_targets(&self) -> Result<(), MissingVariable> {
        if self.import_function_arn.is_empty() {
            return Err(MissingVariable("IMPORT_FUNCTION_ARN"));
        }
        if self.scheduler_role_arn.is_empty() {
            return Err(MissingVariable("SCHEDULER_ROLE_ARN"));
        }
        Ok(())
    }
}

/// Attempts per DynamoDB call (the first included). DynamoDB throttles with `ProvisionedThroughputExceeded`,
/// `ThrottlingException` or `RequestLimitExceeded`, which the SDK's standard strategy retries with exponential
/// back-off and jitter; the AWS default of 3 attempts is short for an import writing thousands of batches
/// (the Java SDK used 10 for DynamoDB).
pub const DYNAMODB_MAX_ATTEMPTS: u32 = 8;

/// The retry configuration of the DynamoDB client.
pub fn dynamodb_retry_config() -> aws_config::retry::RetryConfig {
    aws_config::retry::RetryConfig::standard()
        .with_max_attempts(DYNAMODB_MAX_ATTEMPTS)
        .with_max_backoff(Duration::from_secs(5))
}

/// The SDK clients, sharing one HTTP connector and credentials provider.
#[derive(Clone, Debug)]
pub struct AwsClients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    pub scheduler: aws_sdk_scheduler::Client,
    /// Starts imports at once (asynchronous invoke of the import function).
    pub lambda: aws_sdk_lambda::Client,
    pub events: aws_sdk_eventbridge::Client,
}

impl AwsClients {
    /// Loads the standard AWS configuration (region, credentials, `AWS_ENDPOINT_URL*`).
    pub async fn from_env() -> Self {
        let timeouts = aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(3))
            .operation_attempt_timeout(Duration::from_secs(10))
            .operation_timeout(Duration::from_secs(25))
            .build();
        let shared = aws_config::defaults(aws_config::BehaviorVersion::latest()).timeout_config(timeouts).load().await;
        Self::from_config(&shared)
    }

    pub fn from_config(shared: &aws_config::SdkConfig) -> Self {
        Self {
            // Every client reports each attempt's HTTP status to the X-Ray subsegment of its call (`xray`).
            dynamodb: aws_sdk_dynamodb::Client::from_conf(
                aws_sdk_dynamodb::config::Builder::from(shared)
                    .retry_config(dynamodb_retry_config())
                    .interceptor(crate::xray::XrayStatus)
                    .build(),
            ),
            secrets: aws_sdk_secretsmanager::Client::from_conf(
                aws_sdk_secretsmanager::config::Builder::from(shared).interceptor(crate::xray::XrayStatus).build(),
            ),
            scheduler: aws_sdk_scheduler::Client::from_conf(
                aws_sdk_scheduler::config::Builder::from(shared).interceptor(crate::xray::XrayStatus).build(),
            ),
            lambda: aws_sdk_lambda::Client::from_conf(
                aws_sdk_lambda::config::Builder::from(shared).interceptor(crate::xray::XrayStatus).build(),
            ),
            events: aws_sdk_eventbridge::Client::from_conf(
                aws_sdk_eventbridge::config::Builder::from(shared).interceptor(crate::xray::XrayStatus).build(),
            ),
        }
    }
}
