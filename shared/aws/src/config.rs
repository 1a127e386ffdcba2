//! Configuration: every environment variable of every function is read here, once, at start-up, into one typed
//! value per function ([`IntegrationsApiConfig`], [`QueuesQueryConfig`], [`ImportFunctionConfig`],
//! [`IngestFunctionConfig`]) that `main` passes down. No code below reads the environment; tests build the values
//! directly. Unset (or empty) variables take their documented default; a value that cannot be used is a start-up
//! error naming the variable and the accepted form, never a silent default. Also the AWS clients.

use std::ops::RangeInclusive;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use acd_app::http::{ScopePolicy, TenantAuth};
use acd_app::import::ImportConfig;
use acd_app::ingest::IngestConfig;
use acd_app::telemetry::Logging;
use acd_connectors::Endpoints;
use aws_config::meta::credentials::CredentialsProviderChain;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use futures::future::BoxFuture;

use crate::LazyClient;

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
    /// `IMPORT_SCHEDULE_EXPRESSION`: cadence of the recurring import: `quarter-hourly` (the default: every quarter
    /// hour at a minute of each integration's own, `crate::scheduler::recurring_expression`), or a Scheduler `rate()`
    /// or `cron()` expression used as it is.
    pub schedule_expression: String,
    /// `SCHEDULE_FLEXIBLE_WINDOW_MINUTES`: Scheduler's flexible time window (default 5, 0–1440, 0 = off; spreads
    /// imports out).
    pub flexible_window_minutes: i32,
    /// `SCHEDULE_DLQ_ARN` (optional): dead-letter queue for invocations Scheduler could not deliver.
    pub schedule_dlq_arn: Option<String>,
    /// `TRUSTED_ACCOUNT_ID`: the AWS account (12 digits) customers' Amazon Connect roles must trust, shown with the
    /// external id (the template sets the stack's `AWS::AccountId`). Required by the integrations API.
    pub trusted_account_id: String,
    /// `ALLOW_SAME_ACCOUNT_ROLES` (`true` or `false`, default `false`): whether an integration may name a role of
    /// the service's own account (`TRUSTED_ACCOUNT_ID`). Off, such a role is refused ([`Self::account_closed_to_roles`]):
    /// the functions may assume any role that trusts their account, and a role of their own account that trusts it
    /// without an external-id condition would be open to every tenant.
    pub allow_same_account_roles: bool,
    /// `DEFAULT_HISTORY_DAYS`: back-fill of new integrations that set no `history_days` (default 30, 1–365).
    pub default_history_days: u32,
    /// `DYNAMODB_WRITES_IN_FLIGHT`: BatchWriteItem calls the import keeps in flight at once (default
    /// [`crate::batch::DEFAULT_IN_FLIGHT`], 1–[`crate::batch::MAX_IN_FLIGHT`]).
    pub writes_in_flight: usize,
    /// `HOUR_BUCKETS` (`compact`, `on` or `off`, default `compact`): whether the import moves hours of intervals
    /// and segments that change into hour buckets ([`crate::buckets`]). Hours already in buckets stay in buckets
    /// either way.
    pub hour_buckets: bool,
    /// `HOUR_BUCKETS=compact` (the default): the segment buckets the import and the agent-states pass put
    /// are in the compact form ([`crate::buckets::CompactSegments`], read by every release since 326dfeb); `on`
    /// puts them as lists.
    pub compact_segment_buckets: bool,
    /// `MAX_INTEGRATIONS_PER_TENANT`: the integrations a tenant may have (default 25).
    pub max_integrations_per_tenant: u32,
    /// `EVENT_BUS_NAME`: the EventBridge bus of status-change events (default: the account's `default` bus).
    pub event_bus_name: String,
    /// `SCOPE_CLAIM`, `ADMIN_SCOPE`, `READ_SCOPE`: the scopes of the API functions.
    pub scopes: ScopePolicy,
    /// `INGEST_CALLS_PER_MINUTE`, `INGEST_TENANT_CALLS_PER_MINUTE`, `INGEST_KEY_GRACE_HOURS`: ingest keys (ingest
    /// and integrations-api).
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
    pub const DEFAULT_SCHEDULE_EXPRESSION: &'static str = crate::scheduler::QUARTER_HOURLY;
    pub const DEFAULT_MAX_INTEGRATIONS_PER_TENANT: u32 = 25;
    pub const DEFAULT_FLEXIBLE_WINDOW_MINUTES: i32 = 5;

    /// `HOUR_BUCKETS`: whether hour buckets are made (unless set to `off`) and whether segment buckets are
    /// compact (unset or `compact`; `on` keeps them lists); any other value is an error. The one parse of it (the
    /// tests' stacks read it through here too).
    pub fn hour_buckets_from(vars: &Vars<'_>) -> Result<(bool, bool), ConfigError> {
        let choice = vars.choice("HOUR_BUCKETS", &["on", "off", "compact"])?.unwrap_or("compact");
        Ok((choice != "off", choice == "compact"))
    }

    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&Vars::env())
    }

    /// Reads the variables every function needs (`TABLE_NAME`) and the integrations API needs (the rest).
    pub fn from_vars(vars: &Vars<'_>) -> Result<Self, ConfigError> {
        let scope_default = ScopePolicy::default();
        let ingest_default = IngestConfig::default();
        let (hour_buckets, compact_segment_buckets) = Self::hour_buckets_from(vars)?;
        Ok(Self {
            table_name: vars.required("TABLE_NAME")?,
            secret_prefix: vars.text("SECRET_PREFIX").unwrap_or_else(|| Self::DEFAULT_SECRET_PREFIX.into()),
            schedule_group: vars.text("SCHEDULE_GROUP").unwrap_or_else(|| "default".into()),
            import_function_arn: vars.text("IMPORT_FUNCTION_ARN").unwrap_or_default(),
            scheduler_role_arn: vars.text("SCHEDULER_ROLE_ARN").unwrap_or_default(),
            schedule_expression: Self::schedule_expression_from(vars)?,
            flexible_window_minutes: vars
                .number("SCHEDULE_FLEXIBLE_WINDOW_MINUTES", 0..=1440)?
                .unwrap_or(Self::DEFAULT_FLEXIBLE_WINDOW_MINUTES),
            schedule_dlq_arn: vars.text("SCHEDULE_DLQ_ARN"),
            trusted_account_id: vars.text("TRUSTED_ACCOUNT_ID").unwrap_or_default(),
            allow_same_account_roles: vars.choice("ALLOW_SAME_ACCOUNT_ROLES", &["true", "false"])? == Some("true"),
            default_history_days: vars
                .number("DEFAULT_HISTORY_DAYS", 1..=acd_domain::validation::MAX_HISTORY_DAYS)?
                .unwrap_or(acd_domain::validation::DEFAULT_HISTORY_DAYS),
            writes_in_flight: vars
                .number("DYNAMODB_WRITES_IN_FLIGHT", 1..=crate::batch::MAX_IN_FLIGHT)?
                .unwrap_or(crate::batch::DEFAULT_IN_FLIGHT),
            hour_buckets,
            compact_segment_buckets,
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
                tenant_calls_per_minute: vars
                    .number("INGEST_TENANT_CALLS_PER_MINUTE", IngestConfig::CALLS_PER_MINUTE)?
                    .unwrap_or(ingest_default.tenant_calls_per_minute),
                grace: vars
                    .number("INGEST_KEY_GRACE_HOURS", IngestConfig::GRACE_HOURS)?
                    .map_or(ingest_default.grace, chrono::Duration::hours),
            },
        })
    }

    /// `IMPORT_SCHEDULE_EXPRESSION`: `quarter-hourly` (the default) or a Scheduler `rate(…)` / `cron(…)`
    /// expression, used as it is. Anything else stops the function at start-up: taken as it is, every create would
    /// check the credentials, write the record and the secret, and then be rolled back by `CreateSchedule`'s refusal.
    pub fn schedule_expression_from(vars: &Vars<'_>) -> Result<String, ConfigError> {
        const NAME: &str = "IMPORT_SCHEDULE_EXPRESSION";
        let Some(value) = vars.text(NAME) else { return Ok(Self::DEFAULT_SCHEDULE_EXPRESSION.into()) };
        let expression = |kind: &str| {
            value
                .strip_prefix(kind)
                .and_then(|rest| rest.strip_suffix(')'))
                .is_some_and(|inner| !inner.trim().is_empty())
        };
        if value == crate::scheduler::QUARTER_HOURLY || expression("rate(") || expression("cron(") {
            return Ok(value);
        }
        Err(ConfigError::Invalid {
            variable: NAME,
            value,
            expected: format!("{} or a Scheduler rate(…) / cron(…) expression", crate::scheduler::QUARTER_HOURLY),
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

    /// The account whose roles integrations may not name (the connectors refuse them), unless allowed.
    pub fn account_closed_to_roles(&self) -> Option<String> {
        (!self.allow_same_account_roles).then(|| self.trusted_account_id.clone())
    }

    /// Checks `TRUSTED_ACCOUNT_ID` (the integrations API shows it; the import refuses its roles): set, and an AWS
    /// account id.
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
/// `header` stops the function in AWS Lambda (`AWS_LAMBDA_LOG_GROUP_NAME` set, which Lambda sets for every runtime and
/// `cargo lambda watch` does not): any caller with a valid token could otherwise name any tenant, with every scope.
pub fn tenant_auth(vars: &Vars<'_>) -> Result<TenantAuth, ConfigError> {
    Ok(match vars.choice("TENANT_AUTH", &["header", "jwt"])? {
        Some("header") if vars.raw("AWS_LAMBDA_LOG_GROUP_NAME").is_some() => {
            return Err(ConfigError::Invalid {
                variable: "TENANT_AUTH",
                value: "header".into(),
                expected: "jwt or unset: header is for the local run only, refused in AWS Lambda".into(),
            });
        }
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
        let settings = Settings::from_vars(vars)?;
        settings.require_trusted_account()?;
        Ok(Self { logging: logging(vars), settings, endpoints: endpoints(vars)?, import: import_config(vars)? })
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

/// The DynamoDB client's retries: [`dynamodb_retry_config`], and transactions cancelled only by a conflict with
/// another write retried too ([`crate::dynamo::TransactionConflictRetry`]).
pub fn dynamodb_client_config(builder: aws_sdk_dynamodb::config::Builder) -> aws_sdk_dynamodb::config::Builder {
    builder.retry_config(dynamodb_retry_config()).retry_classifier(crate::dynamo::TransactionConflictRetry)
}

/// The retry configuration of the DynamoDB client.
pub fn dynamodb_retry_config() -> aws_config::retry::RetryConfig {
    aws_config::retry::RetryConfig::standard()
        .with_max_attempts(DYNAMODB_MAX_ATTEMPTS)
        .with_max_backoff(Duration::from_secs(5))
}

/// Builds the rest of the credentials chain, once, if the environment has no credentials.
type BuildChain = Box<dyn Fn() -> BoxFuture<'static, SharedCredentialsProvider> + Send + Sync>;

/// The SDK's standard credentials chain, with its first link — the environment variables, which is how Lambda hands
/// a function its role's credentials — tried before the rest of the chain is built. The rest (profile files, web
/// identity, container, instance metadata) is built the first time the environment has none, and then asked as
/// the standard chain would be. Building it at start builds an STS client for the web-identity link, whose
/// endpoint table the SDK parses: time spent in every cold start for a link Lambda never uses.
///
/// The two links are the SDK's own [`CredentialsProviderChain`]: only "none here" from the environment moves on to
/// the rest; a broken environment (a key id without its secret) is an error, as in the standard chain.
#[derive(Debug)]
pub struct EnvironmentFirst {
    chain: CredentialsProviderChain,
    rest: Arc<RestOfChain>,
}

/// The rest of the standard chain, built by `build` when it is first asked.
struct RestOfChain {
    built: tokio::sync::OnceCell<SharedCredentialsProvider>,
    build: BuildChain,
}

impl std::fmt::Debug for RestOfChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RestOfChain").field("built", &self.built).finish_non_exhaustive()
    }
}

impl ProvideCredentials for RestOfChain {
    fn provide_credentials<'a>(&'a self) -> aws_credential_types::provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        aws_credential_types::provider::future::ProvideCredentials::new(async move {
            self.built.get_or_init(|| (self.build)()).await.provide_credentials().await
        })
    }
}

impl EnvironmentFirst {
    /// The process environment, then the standard chain (for `region`, over the process's SDK HTTP client, with
    /// the chain's own defaults for everything else).
    pub fn standard(region: Option<aws_config::Region>) -> Self {
        Self::new(
            SharedCredentialsProvider::new(aws_config::environment::EnvironmentVariableCredentialsProvider::new()),
            Box::new(move || {
                let region = region.clone();
                Box::pin(async move {
                    let conf = aws_config::provider_config::ProviderConfig::default()
                        .with_http_client(acd_connectors::http::sdk_http_client())
                        .with_region(region.clone());
                    let mut chain =
                        aws_config::default_provider::credentials::DefaultCredentialsChain::builder().configure(conf);
                    chain.set_region(region);
                    SharedCredentialsProvider::new(chain.build().await)
                })
            }),
        )
    }

    /// `env`, then the chain `build_rest` builds (tests give both).
    pub fn new(env: SharedCredentialsProvider, build_rest: BuildChain) -> Self {
        let rest = Arc::new(RestOfChain { built: tokio::sync::OnceCell::new(), build: build_rest });
        // The chain asks the same `RestOfChain` that `chain_built` looks at.
        let chain = CredentialsProviderChain::first_try("Environment", env)
            .or_else("StandardChain", rest.clone() as Arc<dyn ProvideCredentials>);
        Self { chain, rest }
    }

    /// Whether the rest of the chain has been built.
    pub fn chain_built(&self) -> bool {
        self.rest.built.initialized()
    }
}

impl ProvideCredentials for EnvironmentFirst {
    fn provide_credentials<'a>(&'a self) -> aws_credential_types::provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        self.chain.provide_credentials()
    }
}

/// The SDK clients, sharing one configuration (HTTP connector, credentials provider, timeouts). None is built
/// until it is asked for ([`LazyClient`]): the wiring builds at start the clients every event of a function uses
/// and hands the others over unbuilt, so a container builds only what its events need, once.
#[derive(Clone, Debug)]
pub struct AwsClients {
    dynamodb: LazyClient<aws_sdk_dynamodb::Client>,
    secrets: LazyClient<aws_sdk_secretsmanager::Client>,
    scheduler: LazyClient<aws_sdk_scheduler::Client>,
    lambda: LazyClient<aws_sdk_lambda::Client>,
    events: LazyClient<aws_sdk_eventbridge::Client>,
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
        // The region as the standard chain finds it, environment first: only without `AWS_REGION` (never so in
        // Lambda) is the rest of the chain (profile, instance metadata) built and asked.
        use aws_config::meta::region::ProvideRegion as _;
        let region = match aws_config::environment::region::EnvironmentVariableRegionProvider::new().region().await {
            Some(region) => Some(region),
            None => aws_config::default_provider::region::default_provider().region().await,
        };
        let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .http_client(acd_connectors::http::sdk_http_client())
            .timeout_config(timeouts)
            .region(region.clone())
            .credentials_provider(EnvironmentFirst::standard(region))
            .load()
            .await;
        Self::from_config(&shared)
    }

    /// The clients of `shared` (none is built yet). Every client reports each attempt's HTTP status to the X-Ray
    /// subsegment of its call (`xray`).
    pub fn from_config(shared: &aws_config::SdkConfig) -> Self {
        // Each recipe holds the shared configuration; a client's own configuration is made with the client.
        fn recipe<C: 'static>(
            shared: &aws_config::SdkConfig,
            build: fn(&aws_config::SdkConfig) -> C,
        ) -> impl Fn() -> C + Send + Sync + 'static {
            let shared = shared.clone();
            move || build(&shared)
        }
        Self {
            dynamodb: LazyClient::new(recipe(shared, |shared| {
                aws_sdk_dynamodb::Client::from_conf(
                    dynamodb_client_config(aws_sdk_dynamodb::config::Builder::from(shared))
                        // Stalled-stream protection wraps every request and response body in a throughput monitor
                        // with its own timer, per call (thousands of calls per import). DynamoDB's answers are small
                        // JSON documents (≤ 1 MB a page), and a connection that stops mid-answer is already cut by
                        // the operation attempt timeout (10 s, `from_env`) and retried by the retry strategy: the
                        // guard only costs CPU here. (It is for long streaming transfers, e.g. S3 objects.)
                        .stalled_stream_protection(aws_sdk_dynamodb::config::StalledStreamProtectionConfig::disabled())
                        .interceptor(crate::xray::XrayStatus)
                        .build(),
                )
            })),
            secrets: LazyClient::new(recipe(shared, |shared| {
                aws_sdk_secretsmanager::Client::from_conf(
                    aws_sdk_secretsmanager::config::Builder::from(shared).interceptor(crate::xray::XrayStatus).build(),
                )
            })),
            scheduler: LazyClient::new(recipe(shared, |shared| {
                aws_sdk_scheduler::Client::from_conf(
                    aws_sdk_scheduler::config::Builder::from(shared).interceptor(crate::xray::XrayStatus).build(),
                )
            })),
            lambda: LazyClient::new(recipe(shared, |shared| {
                aws_sdk_lambda::Client::from_conf(
                    aws_sdk_lambda::config::Builder::from(shared).interceptor(crate::xray::XrayStatus).build(),
                )
            })),
            events: LazyClient::new(recipe(shared, |shared| {
                aws_sdk_eventbridge::Client::from_conf(
                    aws_sdk_eventbridge::config::Builder::from(shared).interceptor(crate::xray::XrayStatus).build(),
                )
            })),
        }
    }

    /// The DynamoDB client, built now if it was not.
    pub fn dynamodb(&self) -> &aws_sdk_dynamodb::Client {
        self.dynamodb.get()
    }

    /// Replaces the DynamoDB client (benchmarks add an interceptor to it).
    pub fn set_dynamodb(&mut self, client: aws_sdk_dynamodb::Client) {
        self.dynamodb = LazyClient::from(client);
    }

    /// The Secrets Manager client, built now if it was not; [`Self::lazy_secrets`] leaves it to its first use.
    pub fn secrets(&self) -> &aws_sdk_secretsmanager::Client {
        self.secrets.get()
    }

    pub fn lazy_secrets(&self) -> LazyClient<aws_sdk_secretsmanager::Client> {
        self.secrets.clone()
    }

    /// The EventBridge Scheduler client, built now if it was not.
    pub fn scheduler(&self) -> &aws_sdk_scheduler::Client {
        self.scheduler.get()
    }

    pub fn lazy_scheduler(&self) -> LazyClient<aws_sdk_scheduler::Client> {
        self.scheduler.clone()
    }

    /// Starts imports at once (asynchronous invoke of the import function); built when first used.
    pub fn lazy_lambda(&self) -> LazyClient<aws_sdk_lambda::Client> {
        self.lambda.clone()
    }

    /// The EventBridge client (status-change events), built now if it was not.
    pub fn events(&self) -> &aws_sdk_eventbridge::Client {
        self.events.get()
    }

    pub fn lazy_events(&self) -> LazyClient<aws_sdk_eventbridge::Client> {
        self.events.clone()
    }

    /// Which clients have been built (`dynamodb`, `secrets`, `scheduler`, `lambda`, `events`).
    pub fn built(&self) -> Vec<&'static str> {
        [
            ("dynamodb", self.dynamodb.is_built()),
            ("secrets", self.secrets.is_built()),
            ("scheduler", self.scheduler.is_built()),
            ("lambda", self.lambda.is_built()),
            ("events", self.events.is_built()),
        ]
        .into_iter()
        .filter_map(|(name, built)| built.then_some(name))
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_credential_types::provider::error::CredentialsError;

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
    fn hour_buckets_are_switched_off_by_off_only_and_compact_by_compact_only() {
        for (value, on, compact) in
            [("on", true, false), ("off", false, false), (" off ", false, false), ("compact", true, true)]
        {
            let pairs = with(&[("HOUR_BUCKETS", value)]);
            let config = ImportFunctionConfig::from_vars(&Vars::from_pairs(&pairs)).unwrap();
            let s = &config.settings;
            assert_eq!((s.hour_buckets, s.compact_segment_buckets), (on, compact), "HOUR_BUCKETS={value:?}");
        }
    }

    #[test]
    fn the_import_schedule_expression_is_quarter_hourly_or_a_rate_or_cron_expression() {
        for value in ["quarter-hourly", "rate(2 minutes)", "cron(0/15 * * * ? *)", " rate(1 hour) "] {
            let pairs = with(&[("IMPORT_SCHEDULE_EXPRESSION", value)]);
            let config = IntegrationsApiConfig::from_vars(&Vars::from_pairs(&pairs)).unwrap();
            assert_eq!(config.settings.schedule_expression, value.trim());
        }
        for value in ["every 15 minutes", "rate()", "cron( )", "rate(2 minutes", "Quarter-Hourly", "at(2026-01-01)"] {
            let pairs = with(&[("IMPORT_SCHEDULE_EXPRESSION", value)]);
            let (variable, message) = invalid(IntegrationsApiConfig::from_vars(&Vars::from_pairs(&pairs)));
            assert_eq!(variable, "IMPORT_SCHEDULE_EXPRESSION", "{value:?}");
            assert!(message.contains("rate(…) / cron(…)"), "{message}");
        }
    }

    #[test]
    fn unset_variables_take_their_documented_defaults() {
        let pairs = with(&[]);
        let config = IntegrationsApiConfig::from_vars(&Vars::from_pairs(&pairs)).unwrap();
        let s = &config.settings;
        assert_eq!(s.secret_prefix, "acd-integrations/");
        assert_eq!(s.schedule_group, "default");
        assert_eq!(s.schedule_expression, "quarter-hourly");
        assert_eq!(s.flexible_window_minutes, 5);
        assert_eq!(s.default_history_days, 30);
        assert_eq!(s.writes_in_flight, crate::batch::DEFAULT_IN_FLIGHT);
        assert!(s.hour_buckets, "hour buckets are on unless switched off");
        assert!(s.compact_segment_buckets, "segment buckets are compact unless `on` or `off` is asked for");
        assert_eq!(s.max_integrations_per_tenant, 25);
        assert_eq!(s.event_bus_name, "default");
        assert_eq!(s.scopes, ScopePolicy::default());
        assert_eq!(s.ingest.calls_per_minute, 600);
        assert_eq!(s.ingest.tenant_calls_per_minute, 1_200);
        assert_eq!(s.ingest.grace, chrono::Duration::hours(24));
        assert_eq!(config.auth, TenantAuth::JwtClaim("tenant_id".into()));
        assert_eq!(config.endpoints, Endpoints::default());
        assert_eq!(s.account_closed_to_roles().as_deref(), Some("123456789012"), "the own account's roles refused");
        let import = ImportFunctionConfig::from_vars(&Vars::from_pairs(&pairs)).unwrap();
        assert_eq!(import.import.reconciliation, chrono::Duration::hours(24));
        assert_eq!(import.settings.account_closed_to_roles().as_deref(), Some("123456789012"));
    }

    #[test]
    fn set_variables_are_read_once_into_the_config() {
        let pairs = with(&[
            ("RECONCILIATION_HOURS", " 72 "),
            ("TENANT_AUTH", "header"),
            ("SCOPE_CLAIM", "scp"),
            ("ADMIN_SCOPE", "wfm/admin"),
            ("INGEST_CALLS_PER_MINUTE", "5"),
            ("INGEST_TENANT_CALLS_PER_MINUTE", "7"),
            ("INGEST_KEY_GRACE_HOURS", "0"),
            ("SCHEDULE_FLEXIBLE_WINDOW_MINUTES", "0"),
            ("AWS_LAMBDA_FUNCTION_NAME", "acd-import"),
            ("ALLOW_SAME_ACCOUNT_ROLES", "true"),
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
        assert_eq!(api.settings.ingest.tenant_calls_per_minute, 7);
        assert_eq!(api.settings.ingest.grace, chrono::Duration::zero());
        assert_eq!(api.settings.flexible_window_minutes, 0);
        assert_eq!((api.settings.account_closed_to_roles(), import.settings.account_closed_to_roles()), (None, None));
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
            ("HOUR_BUCKETS", "yes"),
            ("ALLOW_SAME_ACCOUNT_ROLES", "yes"),
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
    fn the_local_runs_tenant_header_is_refused_in_aws_lambda() {
        // (A review, 2026-12-07: only a template test kept `TENANT_AUTH=header` out of a deployed function.)
        let local = with(&[("TENANT_AUTH", "header"), ("AWS_LAMBDA_FUNCTION_NAME", "integrations-api")]);
        assert_eq!(IntegrationsApiConfig::from_vars(&Vars::from_pairs(&local)).unwrap().auth, TenantAuth::Header);
        let lambda = with(&[("TENANT_AUTH", "header"), ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/acd-api")]);
        let (variable, message) = invalid(IntegrationsApiConfig::from_vars(&Vars::from_pairs(&lambda)));
        assert_eq!(variable, "TENANT_AUTH", "{message}");
        assert!(message.contains("local run only"), "{message}");
        assert!(invalid(QueuesQueryConfig::from_vars(&Vars::from_pairs(&lambda))).1.contains("local run only"));
    }

    #[test]
    fn a_missing_required_variable_is_named() {
        let pairs = [("TABLE_NAME", "acd")];
        let error = IntegrationsApiConfig::from_vars(&Vars::from_pairs(&pairs)).unwrap_err();
        assert_eq!(error, ConfigError::Missing("IMPORT_FUNCTION_ARN"));
        let without_account: Vec<_> = BASE.into_iter().filter(|(name, _)| *name != "TRUSTED_ACCOUNT_ID").collect();
        let error = IntegrationsApiConfig::from_vars(&Vars::from_pairs(&without_account)).unwrap_err();
        assert_eq!(error, ConfigError::Missing("TRUSTED_ACCOUNT_ID"));
        // The import refuses the account's roles too: it needs the account.
        let error = ImportFunctionConfig::from_vars(&Vars::from_pairs(&without_account)).unwrap_err();
        assert_eq!(error, ConfigError::Missing("TRUSTED_ACCOUNT_ID"));
        let error = QueuesQueryConfig::from_vars(&Vars::from_pairs(&[("TABLE_NAME", " ")])).unwrap_err();
        assert_eq!(error, ConfigError::Missing("TABLE_NAME"));
        // The query function needs no scheduler target.
        assert!(QueuesQueryConfig::from_vars(&Vars::from_pairs(&pairs)).is_ok());
    }

    /// What the environment link answers in a test (the SDK's provider reads the process's variables).
    #[derive(Debug)]
    enum Env {
        Found,
        Nothing,
        Broken,
    }

    impl ProvideCredentials for Env {
        fn provide_credentials<'a>(&'a self) -> aws_credential_types::provider::future::ProvideCredentials<'a>
        where
            Self: 'a,
        {
            aws_credential_types::provider::future::ProvideCredentials::ready(match self {
                Env::Found => {
                    Ok(aws_credential_types::Credentials::new("env-key", "s", Some("env-token".into()), None, "env"))
                }
                Env::Nothing => Err(CredentialsError::not_loaded("no AWS_ACCESS_KEY_ID")),
                Env::Broken => Err(CredentialsError::invalid_configuration("AWS_SECRET_ACCESS_KEY missing")),
            })
        }
    }

    /// A provider whose "rest of the chain" hands out `chain-key` and counts how often it is built.
    fn counting(env: Env) -> (EnvironmentFirst, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        let builds = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = builds.clone();
        let provider = EnvironmentFirst::new(
            SharedCredentialsProvider::new(env),
            Box::new(move || {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                Box::pin(async {
                    SharedCredentialsProvider::new(aws_credential_types::Credentials::new(
                        "chain-key",
                        "chain-secret",
                        None,
                        None,
                        "test",
                    ))
                })
            }),
        );
        (provider, builds)
    }

    #[tokio::test]
    async fn credentials_in_the_environment_are_used_without_building_the_rest_of_the_chain() {
        let (provider, builds) = counting(Env::Found);
        let credentials = provider.provide_credentials().await.expect("credentials");
        assert_eq!(credentials.access_key_id(), "env-key");
        assert_eq!(credentials.session_token(), Some("env-token"));
        assert!(!provider.chain_built());
        assert_eq!(builds.load(std::sync::atomic::Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn without_credentials_in_the_environment_the_rest_of_the_chain_is_built_once_and_asked() {
        let (provider, builds) = counting(Env::Nothing);
        for _ in 0..3 {
            let credentials = provider.provide_credentials().await.expect("credentials");
            assert_eq!(credentials.access_key_id(), "chain-key");
        }
        assert!(provider.chain_built());
        assert_eq!(builds.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_broken_environment_is_an_error_not_a_reason_to_look_further() {
        // As in the SDK's standard chain (a key id without its secret, say).
        let (provider, builds) = counting(Env::Broken);
        let error = provider.provide_credentials().await.expect_err("a key without a secret");
        assert!(matches!(error, CredentialsError::InvalidConfiguration(_)), "{error:?}");
        assert_eq!(builds.load(std::sync::atomic::Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn each_client_is_built_when_first_asked_for_and_once() {
        let shared = aws_config::SdkConfig::builder()
            .region(aws_config::Region::new("us-east-1"))
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        let clients = AwsClients::from_config(&shared);
        assert!(clients.built().is_empty());
        let first = clients.dynamodb().clone();
        let _ = clients.events();
        assert_eq!(clients.built(), ["dynamodb", "events"]);
        // The same client (one connection pool, one configuration) every time, clones included.
        let copy = clients.clone();
        assert!(std::ptr::eq(clients.dynamodb(), clients.dynamodb()));
        assert_eq!(format!("{:?}", copy.dynamodb().config()), format!("{:?}", first.config()));
        assert_eq!(copy.built(), ["dynamodb", "events"]);
    }

    #[test]
    fn each_function_builds_only_the_clients_its_wiring_uses() {
        let shared = aws_config::SdkConfig::builder()
            .region(aws_config::Region::new("us-east-1"))
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        let settings = Settings::from_vars(&Vars::from_pairs(&with(&[]))).expect("settings");
        let built = |wire: &dyn Fn(&AwsClients)| {
            let clients = AwsClients::from_config(&shared);
            wire(&clients);
            clients.built()
        };
        let connectors = || {
            acd_connectors::ConnectorFactory::new(
                acd_connectors::HttpClient::new().expect("HTTP client"),
                Default::default(),
            )
        };
        assert_eq!(built(&|c| drop(crate::wiring::queues_query_api(&settings, c, TenantAuth::Header))), ["dynamodb"]);
        assert_eq!(built(&|c| drop(crate::wiring::ingest_api(&settings, c))), ["dynamodb"]);
        assert_eq!(
            built(&|c| drop(crate::wiring::import_service(&settings, c, connectors(), ImportConfig::default()))),
            ["dynamodb", "secrets"]
        );
        let verifier = std::sync::Arc::new(acd_app::verifier::ConnectorVerifier { factory: connectors() });
        assert_eq!(
            built(&|c| drop(crate::wiring::integrations_api(&settings, c, verifier.clone(), TenantAuth::Header))),
            ["dynamodb"]
        );
    }
}
