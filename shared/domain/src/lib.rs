//! Domain model of the ACD integrations back end.
//!
//! Everything here is plain Rust: no AWS, no HTTP. The HTTP edge turns JSON into these types through
//! [`validation`], the storage layer persists them, the connectors produce [`acd`] records.

pub mod acd;
pub mod credentials;
pub mod gaps;
pub mod ids;
pub mod integration;
pub mod status;
pub mod validation;

pub use acd::{AgentSegment, Channel, ExternalAgent, ExternalStatus, IntervalStats, Queue, TimeWindow};
pub use credentials::{CredentialField, CredentialHints, Credentials, SecretVersion};
pub use gaps::{AgentStateGap, GapReason};
pub use ids::{IntegrationId, QueueId, RunId, TenantId};
pub use integration::{AgentStateCadence, Integration, IntegrationName, IntegrationType, Settings};
pub use status::{FailureReason, IntegrationState, IntegrationStatus};
pub use validation::{FieldError, FieldErrors};

/// Length of every statistics interval, in minutes. All intervals start on a UTC quarter hour.
pub const INTERVAL_MINUTES: i64 = 15;
