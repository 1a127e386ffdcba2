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
