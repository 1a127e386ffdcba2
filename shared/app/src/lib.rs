//! Application layer: the services behind each function and the HTTP edge of the API functions.
//! Storage, secrets, schedules and ACDs are reached only through the [`ports`] traits and the connector trait.

pub mod cursor;
pub mod error;
pub mod events;
pub mod http;
pub mod import;
pub mod ingest;
pub mod integrations;
pub mod mappings;
pub mod metrics;
pub mod ports;
pub mod query;
pub mod telemetry;
pub mod verifier;
pub mod xray;

pub use error::ApiError;
