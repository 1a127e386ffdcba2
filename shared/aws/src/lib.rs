//! AWS implementations of the application's ports: DynamoDB (one table), Secrets Manager and EventBridge
//! Scheduler. Endpoints follow the SDK's standard `AWS_ENDPOINT_URL` variables (moto in tests and the local run).

pub mod batch;
pub mod config;
pub mod diff;
pub mod digest;
pub mod dynamo;
pub mod events;
pub mod idempotency;
pub mod import_store;
pub mod ingest_store;
pub mod lazy;
pub mod query_store;
pub mod quota;
pub mod scheduler;
pub mod schema;
pub mod secrets;
pub mod table;
pub mod tenant_tokens;
pub mod wiring;
pub mod xray;

pub use config::{AwsClients, Settings};
pub use dynamo::DynamoStore;
pub use lazy::LazyClient;
pub use scheduler::EventBridgeSchedules;
pub use secrets::SecretsManagerStore;
pub use table::{buckets, cursor, items, keys};

use aws_smithy_types::error::display::DisplayErrorContext;

/// Formats an SDK error with its whole source chain (for logs and `StoreError::Backend`).
pub(crate) fn sdk_error<E: std::error::Error>(operation: &str, error: E) -> acd_app::ports::StoreError {
    acd_app::ports::StoreError::Backend(format!("{operation}: {}", DisplayErrorContext(error)))
}

/// What the unit tests share.
#[cfg(test)]
pub(crate) mod test_support {
    use aws_sdk_dynamodb::operation::query::QueryOutput;
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};

    /// A DynamoDB client that answers strongly consistent Queries only (each with the last page, empty), and the
    /// rule answering them (`num_calls`).
    pub fn consistent_queries_only() -> (aws_sdk_dynamodb::Client, Rule) {
        let consistent = mock!(aws_sdk_dynamodb::Client::query)
            .match_requests(|q| q.consistent_read() == Some(true))
            .then_output(|| QueryOutput::builder().count(0).build());
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&consistent]);
        (client, consistent)
    }
}
