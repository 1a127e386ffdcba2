//! Logging: `tracing`, JSON lines in Lambda (CloudWatch), human-readable elsewhere. `RUST_LOG` overrides the
//! default filter, which keeps the AWS SDK and HTTP stacks at `warn` (their debug/trace output can include
//! request details that have no business in a log).

use tracing_subscriber::EnvFilter;

pub const DEFAULT_FILTER: &str = "info,aws_smithy_runtime=warn,aws_smithy_runtime_api=warn,aws_config=warn,hyper=warn,hyper_util=warn,reqwest=warn,h2=warn,rustls=warn";

pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let in_lambda = std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some();
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(true);
    let result = if in_lambda {
        // CloudWatch adds its own timestamp; the JSON carries level, target, message and fields.
        builder.json().flatten_event(true).with_current_span(false).without_time().try_init()
    } else {
        builder.try_init()
    };
    let _ = result; // Already initialised (tests): keep the existing subscriber.
}
