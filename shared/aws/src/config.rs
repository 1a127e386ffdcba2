//! Configuration: every environment variable of every function is read here, once, at start-up, into one typed
//! value per function ([`IntegrationsApiConfig`], [`QueuesQueryConfig`], [`ImportFunctionConfig`],
//! [`IngestFunctionConfig`]) that `main` passes down. No code below reads the environment; tests build the values
//! directly. Unset (or empty) variables take their documented default; a value that cannot be used is a start-up
//! error naming the variable and the accepted form, never a silent default. Also the AWS clients.

use std::ops::RangeInclusive;
use std::str::FromStr;
use std::time::Duration;

use acd_app::http::{ScopePolicy, TenantAuth};
use acd_app::import::ImportConfig;
use acd_app::ingest::IngestConfig;
use acd_app::telemetry::Logging;
use acd_connectors::Endpoints;

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
    /// `SCHEDULE_FLEXIBLE_WINDOW_MINUTES`: Scheduler's flexible time window (default 5, 0–1440, 0 = off; spreads
    /// imports out).
    pub flexible_window_minutes: i32,
    /// `SCHEDULE_DLQ_ARN` (optional): dead-letter queue for invocations Scheduler could not deliver.
    pub schedule_dlq_arn: Option<String>,
    /// `TRUSTED_ACCOUNT_ID`: the AWS account (12 digits) customers' Amazon Connect roles must trust, shown with the
    /// external id (the template sets the stack's `AWS::AccountId`). Required by the integrations API.
    pub trusted_account_id: String,
    /// `DEFAULT_HISTORY_DAYS`: back-fill of new integrations that set no `history_days` (default 30, 1–365).
    pub default_history_days: u32,
    /// `DYNAMODB_WRITES_IN_FLIGHT`: BatchWriteItem calls the import keeps in flight at once (default
    /// [`crate::batch::DEFAULT_IN_FLIGHT`], 1–[`crate::batch::MAX_IN_FLIGHT`]).
    pub writes_in_flight: usize,
    /// `MAX_INTEGRATIONS_PER_TENANT`: the integrations a tenant may have (default 25).
    pub max_integrations_per_tenant: u32,
    /// `EVENT_BUS_NAME`: the EventBridge bus of status-change events (default: the account's `default` bus).
    pub event_bus_name: String,
    /// `SCOPE_CLAIM`, `ADMIN_SCOPE`, `READ_SCOPE`: the scopes of the API functions.
    pub scopes: ScopePolicy,
    /// `INGEST_CALLS_PER_MINUTE`, `INGEST_KEY_GRACE_HOURS`: ingest keys (ingest and integrations-api).
    pub ingest: IngestConfig,
}

/// A variable that is required and missing, or set to a value that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("missing required environment variable {0}")]
    Missing(&'static str),
    #[error("environment variable {variable}={value:?} is not valid: expected {expected}")]
    Invalid { variable: &'static str, value: String, expected: String },
}

/// Looks one variable up.
type Lookup<'a> = Box<dyn Fn(&str) -> Option<String> + 'a>;

/// Where the variables come from: the process environment ([`Vars::env`]) or given pairs (tests).
pub struct Vars<'a> {
    lookup: Lookup<'a>,
}

impl<'a> Vars<'a> {
    /// The process environment: the one place that reads it.
    pub fn env() -> Vars<'static> {
        Vars { lookup: Box::new(|name| std::env::var(name).ok()) }
    }

    /// Fixed pairs (tests).
    pub fn from_pairs(pairs: &'a [(&'a str, &'a str)]) -> Self {
        Vars { lookup: Box::new(move |name| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| (*v).to_owned())) }
    }

    /// The raw value, as set.
    pub fn raw(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
    }

    /// The trimmed value; unset and empty are the same.
    pub fn text(&self, name: &str) -> Option<String> {
        self.raw(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
    }

    pub fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        self.text(name).ok_or(ConfigError::Missing(name))
    }

    /// A number in `range`, or `None` when unset.
    pub fn number<T>(&self, name: &'static str, range: RangeInclusive<T>) -> Result<Option<T>, ConfigError>
    where
        T: FromStr + PartialOrd + std::fmt::Display,
    {
        let Some(value) = self.text(name) else { return Ok(None) };
        match value.parse::<T>() {
            Ok(n) if range.contains(&n) => Ok(Some(n)),
            _ => Err(ConfigError::Invalid {
                variable: name,
                value,
                expected: format!("a whole number from {} to {}", range.start(), range.end()),
            }),
        }
    }

    /// One of `accepted` (case-sensitive), or `None` when unset.
    pub fn choice(&self, name: &'static str, accepted: &[&'static str]) -> Result<Option<&'static str>, ConfigError> {
        let Some(value) = self.text(name) else { return Ok(None) };
        accepted.iter().find(|a| **a == value).map(|a| Some(*a)).ok_or_else(|| ConfigError::Invalid {
            variable: name,
            value,
            expected: format!("one of {}", accepted.join(", ")),
        })
    }
}

impl Settings {
    pub const DEFAULT_SECRET_PREFIX: &'static str = "acd-integrations/";
    pub const DEFAULT_SCHEDULE_EXPRESSION: &'static str = "rate(15 minutes)";
    pub const DEFAULT_MAX_INTEGRATIONS_PER_TENANT: u32 = 25;
    pub const DEFAULT_FLEXIBLE_WINDOW_MINUTES: i32 = 5;

    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&Vars::env())
    }

    /// Reads the variables every function needs (`TABLE_NAME`) and the integrations API needs (the rest).
    pub fn from_vars(vars: &Vars<'_>) -> Result<Self, ConfigError> {
        let scope_default = ScopePolicy::default();
        let ingest_default = IngestConfig::default();
        Ok(Self {
            table_name: vars.required("TABLE_NAME")?,
            secret_prefix: vars.text("SECRET_PREFIX").unwrap_or_else(|| Self::DEFAULT_SECRET_PREFIX.into()),
            schedule_group: vars.text("SCHEDULE_GROUP").unwrap_or_else(|| "default".into()),
            import_function_arn: vars.text("IMPORT_FUNCTION_ARN").unwrap_or_default(),
            scheduler_role_arn: vars.text("SCHEDULER_ROLE_ARN").unwrap_or_default(),
            schedule_expression: vars
                .text("IMPORT_SCHEDULE_EXPRESSION")
                .unwrap_or_else(|| Self::DEFAULT_SCHEDULE_EXPRESSION.into()),
            flexible_window_minutes: vars
                .number("SCHEDULE_FLEXIBLE_WINDOW_MINUTES", 0..=1440)?
                .unwrap_or(Self::DEFAULT_FLEXIBLE_WINDOW_MINUTES),
            schedule_dlq_arn: vars.text("SCHEDULE_DLQ_ARN"),
            trusted_account_id: vars.text("TRUSTED_ACCOUNT_ID").unwrap_or_default(),
            default_history_days: vars
                .number("DEFAULT_HISTORY_DAYS", 1..=acd_domain::validation::MAX_HISTORY_DAYS)?
                .unwrap_or(acd_domain::validation::DEFAULT_HISTORY_DAYS),
            writes_in_flight: vars
                .number("DYNAMODB_WRITES_IN_FLIGHT", 1..=crate::batch::MAX_IN_FLIGHT)?
                .unwrap_or(crate::batch::DEFAULT_IN_FLIGHT),
            max_integrations_per_tenant: vars
                .number("MAX_INTEGRATIONS_PER_TENANT", 1..=u32::MAX)?
                .unwrap_or(Self::DEFAULT_MAX_INTEGRATIONS_PER_TENANT),
            event_bus_name: vars.text("EVENT_BUS_NAME").unwrap_or_else(|| "default".into()),
            scopes: ScopePolicy {
                claim: vars.text("SCOPE_CLAIM").unwrap_or(scope_default.claim),
                admin: vars.text("ADMIN_SCOPE").unwrap_or(scope_default.admin),
                read: vars.text("READ_SCOPE").unwrap_or(scope_default.read),
            },
            ingest: IngestConfig {
                calls_per_minute: vars
                    .number("INGEST_CALLS_PER_MINUTE", IngestConfig::CALLS_PER_MINUTE)?
                    .unwrap_or(ingest_default.calls_per_minute),
                grace: vars
                    .number("INGEST_KEY_GRACE_HOURS", IngestConfig::GRACE_HOURS)?
                    .map_or(ingest_default.grace, chrono::Duration::hours),
            },
        })
    }

    /// Checks the variables only the integrations API needs.
    pub fn require_scheduler_targets(&self) -> Result<(), ConfigError> {
        if self.import_function_arn.is_empty() {
            return Err(ConfigError::Missing("IMPORT_FUNCTION_ARN"));
        }
        if self.scheduler_role_arn.is_empty() {
            return Err(ConfigError::Missing("SCHEDULER_ROLE_ARN"));
        }
        Ok(())
    }

    /// Checks `TRUSTED_ACCOUNT_ID` (the integrations API shows it): set, and an AWS account id.
    pub fn require_trusted_account(&self) -> Result<(), ConfigError> {
        let id = self.trusted_account_id.as_str();
        if id.is_empty() {
            return Err(ConfigError::Missing("TRUSTED_ACCOUNT_ID"));
        }
        if id.len() != 12 || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ConfigError::Invalid {
                variable: "TRUSTED_ACCOUNT_ID",
                value: id.to_owned(),
                expected: "a 12-digit AWS account id".into(),
            });
        }
        Ok(())
    }
}

/// `AWS_LAMBDA_FUNCTION_NAME` and `AWS_XRAY_DAEMON_ADDRESS` (set by the Lambda runtime), and `RUST_LOG`.
pub fn logging(vars: &Vars<'_>) -> Logging {
    Logging {
        in_lambda: vars.raw("AWS_LAMBDA_FUNCTION_NAME").is_some(),
        filter: vars.text("RUST_LOG"),
        xray_daemon: vars.text("AWS_XRAY_DAEMON_ADDRESS"),
    }
}

/// `TENANT_AUTH` (`header`: local run only; `jwt` or unset: the JWT claim `TENANT_CLAIM`, default `tenant_id`).
pub fn tenant_auth(vars: &Vars<'_>) -> Result<TenantAuth, ConfigError> {
    Ok(match vars.choice("TENANT_AUTH", &["header", "jwt"])? {
        Some("header") => TenantAuth::Header,
        _ => TenantAuth::JwtClaim(vars.text("TENANT_CLAIM").unwrap_or_else(|| TenantAuth::DEFAULT_CLAIM.into())),
    })
}

/// The vendors' endpoint overrides (tests and the local run), each HTTPS or loopback HTTP.
pub fn endpoints(vars: &Vars<'_>) -> Result<Endpoints, ConfigError> {
    let endpoints = Endpoints::from_lookup(|name| vars.raw(name));
    endpoints.check().map_err(|(variable, value)| ConfigError::Invalid {
        variable,
        value,
        expected: "an https:// URL, or http:// to a loopback host (127.0.0.0/8, ::1, localhost)".into(),
    })?;
    Ok(endpoints)
}

/// `RECONCILIATION_HOURS` (default 24, at least 1) over the import's other defaults.
pub fn import_config(vars: &Vars<'_>) -> Result<ImportConfig, ConfigError> {
    let default = ImportConfig::default();
    Ok(ImportConfig {
        reconciliation: vars
            .number("RECONCILIATION_HOURS", 1..=i64::from(u32::MAX))?
            .map_or(default.reconciliation, chrono::Duration::hours),
        ..default
    })
}

/// The `integrations-api` function's configuration.
#[derive(Debug, Clone)]
pub struct IntegrationsApiConfig {
    pub logging: Logging,
    pub settings: Settings,
    pub auth: TenantAuth,
    pub endpoints: Endpoints,
}

impl IntegrationsApiConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&Vars::env())
    }

    pub fn from_vars(vars: &Vars<'_>) -> Result<Self, ConfigError> {
        let settings = Settings::from_vars(vars)?;
        settings.require_scheduler_targets()?;
        settings.require_trusted_account()?;
        Ok(Self { logging: logging(vars), settings, auth: tenant_auth(vars)?, endpoints: endpoints(vars)? })
    }
}

/// The `queues-query` function's configuration.
#[derive(Debug, Clone)]
pub struct QueuesQueryConfig {
    pub logging: Logging,
    pub settings: Settings,
    pub auth: TenantAuth,
}

impl QueuesQueryConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&Vars::env())
    }

    pub fn from_vars(vars: &Vars<'_>) -> Result<Self, ConfigError> {
        Ok(Self { logging: logging(vars), settings: Settings::from_vars(vars)?, auth: tenant_auth(vars)? })
    }
}

/// The `import` function's configuration.
#[derive(Debug, Clone)]
pub struct ImportFunctionConfig {
    pub logging: Logging,
    pub settings: Settings,
    pub endpoints: Endpoints,
    pub import: ImportConfig,
}

impl ImportFunctionConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&Vars::env())
    }

    pub fn from_vars(vars: &Vars<'_>) -> Result<Self, ConfigError> {
        Ok(Self {
            logging: logging(vars),
            settings: Settings::from_vars(vars)?,
            endpoints: endpoints(vars)?,
            import: import_config(vars)?,
        })
    }
}

/// The `ingest` function's configuration.
#[derive(Debug, Clone)]
pub struct IngestFunctionConfig {
    pub logging: Logging,
    pub settings: Settings,
}

impl IngestFunctionConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&Vars::env())
    }

    pub fn from_vars(vars: &Vars<'_>) -> Result<Self, ConfigError> {
        Ok(Self { logging: logging(vars), settings: Settings::from_vars(vars)? })
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
    /// Loads the standard AWS configuration (region, credentials, `AWS_ENDPOINT_URL*`), over the one SDK HTTP
    /// client of the process ([`acd_connectors::http::sdk_http_client`]: CA roots compiled in, so neither building
    /// the clients nor the first request reads the system's CA files).
    pub async fn from_env() -> Self {
        let timeouts = aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(3))
            .operation_attempt_timeout(Duration::from_secs(10))
            .operation_timeout(Duration::from_secs(25))
            .build();
        let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .http_client(acd_connectors::http::sdk_http_client())
            .timeout_config(timeouts)
            .load()
            .await;
        Self::from_config(&shared)
    }

    pub fn from_config(shared: &aws_config::SdkConfig) -> Self {
        Self {
            // Every client reports each attempt's HTTP status to the X-Ray subsegment of its call (`xray`).
            dynamodb: aws_sdk_dynamodb::Client::from_conf(
                aws_sdk_dynamodb::config::Builder::from(shared)
                    .retry_config(dynamodb_retry_config())
                    // Stalled-stream protection wraps every request and response body in a throughput monitor with
                    // its own timer, per call (thousands of calls per import). DynamoDB's answers are small JSON
                    // documents (≤ 1 MB a page), and a connection that stops mid-answer is already cut by the
                    // operation attempt timeout (10 s, `from_env`) and retried by the retry strategy: the guard
                    // only costs CPU here. (It is for long streaming transfers, e.g. S3 objects.)
                    .stalled_stream_protection(aws_sdk_dynamodb::config::StalledStreamProtectionConfig::disabled())
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

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: [(&str, &str); 4] = [
        ("TABLE_NAME", "acd"),
        ("TRUSTED_ACCOUNT_ID", "123456789012"),
        ("IMPORT_FUNCTION_ARN", "arn:aws:lambda:us-east-1:1:function:import"),
        ("SCHEDULER_ROLE_ARN", "arn:aws:iam::1:role/s"),
    ];

    fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
        let mut pairs = extra.to_vec();
        pairs.extend(BASE);
        pairs
    }

    fn invalid(result: Result<impl std::fmt::Debug, ConfigError>) -> (String, String) {
        match result {
            Err(e @ ConfigError::Invalid { .. }) => {
                let ConfigError::Invalid { variable, .. } = &e else { unreachable!() };
                (variable.to_string(), e.to_string())
            }
            other => panic!("expected an invalid variable, got {other:?}"),
        }
    }

    #[test]
    fn unset_variables_take_their_documented_defaults() {
        let pairs = with(&[]);
        let config = IntegrationsApiConfig::from_vars(&Vars::from_pairs(&pairs)).unwrap();
        let s = &config.settings;
        assert_eq!(s.secret_prefix, "acd-integrations/");
        assert_eq!(s.schedule_group, "default");
        assert_eq!(s.schedule_expression, "rate(15 minutes)");
        assert_eq!(s.flexible_window_minutes, 5);
        assert_eq!(s.default_history_days, 30);
        assert_eq!(s.writes_in_flight, crate::batch::DEFAULT_IN_FLIGHT);
        assert_eq!(s.max_integrations_per_tenant, 25);
        assert_eq!(s.event_bus_name, "default");
        assert_eq!(s.scopes, ScopePolicy::default());
        assert_eq!(s.ingest.calls_per_minute, 600);
        assert_eq!(s.ingest.grace, chrono::Duration::hours(24));
        assert_eq!(config.auth, TenantAuth::JwtClaim("tenant_id".into()));
        assert_eq!(config.endpoints, Endpoints::default());
        let import = ImportFunctionConfig::from_vars(&Vars::from_pairs(&pairs)).unwrap();
        assert_eq!(import.import.reconciliation, chrono::Duration::hours(24));
    }

    #[test]
    fn set_variables_are_read_once_into_the_config() {
        let pairs = with(&[
            ("RECONCILIATION_HOURS", " 72 "),
            ("TENANT_AUTH", "header"),
            ("SCOPE_CLAIM", "scp"),
            ("ADMIN_SCOPE", "wfm/admin"),
            ("INGEST_CALLS_PER_MINUTE", "5"),
            ("INGEST_KEY_GRACE_HOURS", "0"),
            ("SCHEDULE_FLEXIBLE_WINDOW_MINUTES", "0"),
            ("AWS_LAMBDA_FUNCTION_NAME", "acd-import"),
        ]);
        let vars = Vars::from_pairs(&pairs);
        let import = ImportFunctionConfig::from_vars(&vars).unwrap();
        assert_eq!(import.import.reconciliation, chrono::Duration::hours(72));
        assert!(import.logging.in_lambda);
        let api = IntegrationsApiConfig::from_vars(&vars).unwrap();
        assert_eq!(api.auth, TenantAuth::Header);
        assert_eq!(api.settings.scopes.claim, "scp");
        assert_eq!(api.settings.scopes.admin, "wfm/admin");
        assert_eq!(api.settings.scopes.read, "acd:read");
        assert_eq!(api.settings.ingest.calls_per_minute, 5);
        assert_eq!(api.settings.ingest.grace, chrono::Duration::zero());
        assert_eq!(api.settings.flexible_window_minutes, 0);
    }

    #[test]
    fn a_bad_value_is_a_start_up_error_naming_the_variable_and_the_accepted_form() {
        let pairs = with(&[("RECONCILIATION_HOURS", "twelve")]);
        let (variable, message) = invalid(ImportFunctionConfig::from_vars(&Vars::from_pairs(&pairs)));
        assert_eq!(variable, "RECONCILIATION_HOURS");
        assert!(message.contains("RECONCILIATION_HOURS=\"twelve\""), "{message}");
        assert!(message.contains("a whole number from 1 to"), "{message}");
        for (name, value) in [
            ("RECONCILIATION_HOURS", "0"),
            ("RECONCILIATION_HOURS", "-3"),
            ("DEFAULT_HISTORY_DAYS", "366"),
            ("DYNAMODB_WRITES_IN_FLIGHT", "0"),
            ("MAX_INTEGRATIONS_PER_TENANT", "many"),
            ("SCHEDULE_FLEXIBLE_WINDOW_MINUTES", "-1"),
            ("TRUSTED_ACCOUNT_ID", "12345678901"),
            ("TRUSTED_ACCOUNT_ID", "12345678901a"),
            ("INGEST_CALLS_PER_MINUTE", "100001"),
            ("INGEST_KEY_GRACE_HOURS", "1.5"),
            ("TENANT_AUTH", "headers"),
            ("FIVE9_BASE_URL", "http://five9.example.com"),
            ("GENESYS_CLOUD_API_BASE_URL", "not a url"),
            ("AWS_ENDPOINT_URL_CONNECT", "ftp://127.0.0.1:1"),
        ] {
            let pairs = with(&[(name, value)]);
            let vars = Vars::from_pairs(&pairs);
            let result = if name == "RECONCILIATION_HOURS" {
                ImportFunctionConfig::from_vars(&vars).map(|_| ())
            } else {
                IntegrationsApiConfig::from_vars(&vars).map(|_| ())
            };
            let (variable, message) = invalid(result);
            assert_eq!(variable, name, "{message}");
            assert!(message.contains("expected"), "{message}");
        }
    }

    #[test]
    fn a_missing_required_variable_is_named() {
        let pairs = [("TABLE_NAME", "acd")];
        let error = IntegrationsApiConfig::from_vars(&Vars::from_pairs(&pairs)).unwrap_err();
        assert_eq!(error, ConfigError::Missing("IMPORT_FUNCTION_ARN"));
        let without_account: Vec<_> = BASE.into_iter().filter(|(name, _)| *name != "TRUSTED_ACCOUNT_ID").collect();
        let error = IntegrationsApiConfig::from_vars(&Vars::from_pairs(&without_account)).unwrap_err();
        assert_eq!(error, ConfigError::Missing("TRUSTED_ACCOUNT_ID"));
        let error = QueuesQueryConfig::from_vars(&Vars::from_pairs(&[("TABLE_NAME", " ")])).unwrap_err();
        assert_eq!(error, ConfigError::Missing("TABLE_NAME"));
        // The query function needs no scheduler target.
        assert!(QueuesQueryConfig::from_vars(&Vars::from_pairs(&pairs)).is_ok());
    }
}
