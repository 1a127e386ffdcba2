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
    /// `AWS_XRAY_DAEMON_ADDRESS` (set by Lambda when the function has `Tracing: Active`): where the X-Ray layer
    /// ([`crate::xray`]) sends subsegments. Only used in Lambda.
    pub xray_daemon: Option<String>,
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

/// Sets up logging once per process, plus the X-Ray layer ([`crate::xray`]) in Lambda when the X-Ray daemon's
/// address is set (`Tracing: Active`); elsewhere no X-Ray layer is installed and the spans it reads stay disabled.
pub fn init(logging: &Logging) -> Result<(), InvalidFilter> {
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;

    let in_lambda = logging.in_lambda;
    let _ = IN_LAMBDA.set(in_lambda);
    let filter = match &logging.filter {
        Some(value) => {
            EnvFilter::try_new(value).map_err(|e| InvalidFilter { value: value.clone(), reason: e.to_string() })?
        }
        None => EnvFilter::new(DEFAULT_FILTER),
    };
    let logs: Box<dyn Layer<tracing_subscriber::Registry> + Send + Sync> = if in_lambda {
        // CloudWatch adds its own timestamp; the JSON carries level, target, message and fields.
        tracing_subscriber::fmt::layer()
            .with_target(true)
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .without_time()
            .with_filter(filter)
            .boxed()
    } else {
        tracing_subscriber::fmt::layer().with_target(true).with_filter(filter).boxed()
    };
    let xray = logging
        .xray_daemon
        .as_deref()
        .filter(|_| in_lambda)
        .and_then(crate::xray::XrayLayer::for_lambda)
        .map(|layer| layer.with_filter(tracing_subscriber::filter::filter_fn(crate::xray::is_traced)));
    // Already initialised (tests): keep the existing subscriber.
    let _ = tracing_subscriber::registry().with(logs).with(xray).try_init();
    Ok(())
}
