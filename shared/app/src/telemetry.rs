//! Logging: `tracing`, JSON lines in Lambda (CloudWatch), human-readable elsewhere. `RUST_LOG` overrides the
//! default filter, which keeps the AWS SDK and HTTP stacks at `warn` (their debug/trace output can include
//! request details that have no business in a log).

use tracing_subscriber::EnvFilter;

pub const DEFAULT_FILTER: &str = "info,aws_smithy_runtime=warn,aws_smithy_runtime_api=warn,aws_config=warn,hyper=warn,hyper_util=warn,reqwest=warn,h2=warn,rustls=warn";

static IN_LAMBDA: std::sync::OnceLock<bool> = std::sync::OnceLock::new();

/// Whether the process runs in Lambda (as told to [`init`]): logs and run metrics go to stdout as JSON.
pub fn in_lambda() -> bool {
    IN_LAMBDA.get().copied().unwrap_or(false)
}

/// How a process logs, read at start-up by `acd_aws::config::Logging` (`AWS_LAMBDA_FUNCTION_NAME`, `RUST_LOG`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Logging {
    /// In Lambda (the runtime sets `AWS_LAMBDA_FUNCTION_NAME`): JSON lines, and run metrics on stdout.
    pub in_lambda: bool,
    /// `RUST_LOG`, if set: replaces [`DEFAULT_FILTER`].
    pub filter: Option<String>,
}

/// `RUST_LOG` is not a filter `tracing` understands.
#[derive(Debug, thiserror::Error)]
#[error(
    "environment variable RUST_LOG={value:?} is not a valid log filter (expected e.g. `info` or `info,acd_app=debug`): {reason}"
)]
pub struct InvalidFilter {
    pub value: String,
    pub reason: String,
}

/// Sets up logging once per process.
pub fn init(logging: &Logging) -> Result<(), InvalidFilter> {
    let in_lambda = logging.in_lambda;
    let _ = IN_LAMBDA.set(in_lambda);
    let filter = match &logging.filter {
        Some(value) => {
            EnvFilter::try_new(value).map_err(|e| InvalidFilter { value: value.clone(), reason: e.to_string() })?
        }
        None => EnvFilter::new(DEFAULT_FILTER),
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(true);
    let result = if in_lambda {
        // CloudWatch adds its own timestamp; the JSON carries level, target, message and fields.
        builder.json().flatten_event(true).with_current_span(false).without_time().try_init()
    } else {
        builder.try_init()
    };
    let _ = result; // Already initialised (tests): keep the existing subscriber.
    Ok(())
}
