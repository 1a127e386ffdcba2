//! Logging: `tracing`, JSON lines in Lambda (CloudWatch), human-readable elsewhere. `RUST_LOG` overrides the
//! default filter, which keeps the AWS SDK and HTTP stacks at `warn` (their debug/trace output can include
//! request details that have no business in a log).

use tracing_subscriber::EnvFilter;

pub const DEFAULT_FILTER: &str = "info,aws_smithy_runtime=warn,aws_smithy_runtime_api=warn,aws_config=warn,hyper=warn,hyper_util=warn,reqwest=warn,h2=warn,rustls=warn";

/// Logging, plus the X-Ray layer ([`crate::xray`]) in Lambda when the X-Ray daemon's address is set (`Tracing:
/// Active`); elsewhere no X-Ray layer is installed and the spans it reads stay disabled.
pub fn init() {
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;

    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let in_lambda = std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some();
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
    let xray = crate::xray::XrayLayer::from_lambda_env()
        .map(|layer| layer.with_filter(tracing_subscriber::filter::filter_fn(crate::xray::is_traced)));
    // Already initialised (tests): keep the existing subscriber.
    let _ = tracing_subscriber::registry().with(logs).with(xray).try_init();
}
