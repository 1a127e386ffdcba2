//! Logging: `tracing`, JSON lines in Lambda (CloudWatch), human-readable elsewhere. `RUST_LOG` overrides the
//! default filter, which keeps the AWS SDK and HTTP stacks at `warn` (their debug/trace output can include
//! request details that have no business in a log). Whatever `RUST_LOG` says, those stacks and the Lambda runtime
//! never log above `info` ([`CAPPED_TARGETS`]).

use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::Filter;

pub const DEFAULT_FILTER: &str = "info,aws_smithy_runtime=warn,aws_smithy_runtime_api=warn,aws_config=warn,hyper=warn,hyper_util=warn,reqwest=warn,h2=warn,rustls=warn";

/// Targets (by prefix) whose `debug` and `trace` output carries what must never reach a log: the Lambda runtime
/// logs each raw event (an API request's `Authorization` and `x-ingest-key` headers, a create's ACD credentials),
/// the SDK each request with its body (the `SecretString` of `CreateSecret` and `PutSecretValue`), the HTTP stacks
/// the bytes they send. They log at `info` at most, whatever `RUST_LOG` says (until 2026-12-08 `RUST_LOG=trace`, the
/// template's `LogLevel`, logged them).
pub const CAPPED_TARGETS: [&str; 14] = [
    "lambda_runtime",
    "lambda_http",
    "aws_smithy_",
    "aws_sigv4",
    "aws_config",
    "aws_runtime",
    "aws_sdk_",
    "aws_credential_types",
    "hyper",
    "h2",
    "reqwest",
    "rustls",
    "tower",
    "http",
];

/// The log filter of `value` (`RUST_LOG`; [`DEFAULT_FILTER`] without it), with [`CAPPED_TARGETS`] held at `info`.
pub fn log_filter<S>(value: Option<&str>) -> Result<impl Filter<S> + Send + Sync + 'static, InvalidFilter>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    use tracing_subscriber::filter::FilterExt as _;
    let filter = match value {
        Some(value) => {
            EnvFilter::try_new(value).map_err(|e| InvalidFilter { value: value.to_owned(), reason: e.to_string() })?
        }
        None => EnvFilter::new(DEFAULT_FILTER),
    };
    let capped = tracing_subscriber::filter::filter_fn(|meta| {
        *meta.level() <= tracing::Level::INFO || !CAPPED_TARGETS.iter().any(|t| meta.target().starts_with(t))
    });
    Ok(filter.and(capped))
}

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
    let filter = log_filter(logging.filter.as_deref())?;
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

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;

    use super::*;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);
    impl Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// What is logged under `rust_log` of events at every level from the runtime, the SDK, HTTP and our code.
    fn logged(rust_log: &str) -> String {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let layer = tracing_subscriber::fmt::layer()
            .with_writer(move || writer.clone())
            .with_filter(log_filter(Some(rust_log)).unwrap());
        tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
            tracing::trace!(target: "lambda_runtime::layers::api_response", "raw-event-secret");
            tracing::debug!(target: "aws_smithy_runtime::client::orchestrator", "request-body-secret");
            tracing::trace!(target: "hyper_util::client", "bytes-secret");
            tracing::info!(target: "aws_smithy_runtime::client::orchestrator", "sdk-info");
            tracing::debug!(target: "acd_app::import", "ours-debug");
        });
        String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn no_filter_lets_the_runtime_the_sdk_or_http_log_above_info() {
        for rust_log in ["trace", "debug", "info,aws_smithy_runtime::client::orchestrator=trace,lambda_runtime=trace"] {
            let out = logged(rust_log);
            assert!(!out.contains("secret"), "{rust_log}: {out}");
            assert!(out.contains("sdk-info"), "{rust_log}: {out}");
        }
        assert!(logged("trace").contains("ours-debug"), "our own debug output stays");
        assert!(!logged("info").contains("ours-debug"));
    }
}
