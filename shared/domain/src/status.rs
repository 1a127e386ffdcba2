//! The health of an integration, as derived from its import runs.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntegrationState {
    /// An import is running or due (a new integration starts here).
    Importing,
    /// The last import succeeded.
    Operational,
    /// The admin paused the schedule.
    Paused,
    /// The last import failed; see the reason.
    Failing,
}

/// Why an import failed, as a stable code the front end can translate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureReason {
    CredentialsRejected,
    PermissionMissing,
    RateLimited,
    VendorUnavailable,
    VendorDataMalformed,
    ConfigurationWrong,
    Internal,
    /// A `push` integration received nothing for longer than its silence setting.
    NoData,
}

impl FailureReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CredentialsRejected => "credentials_rejected",
            Self::PermissionMissing => "permission_missing",
            Self::RateLimited => "rate_limited",
            Self::VendorUnavailable => "vendor_unavailable",
            Self::VendorDataMalformed => "vendor_data_malformed",
            Self::ConfigurationWrong => "configuration_wrong",
            Self::Internal => "internal",
            Self::NoData => "no_data",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntegrationStatus {
    pub state: IntegrationState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<FailureReason>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_success_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run_at: Option<DateTime<Utc>>,
    /// When the integration was last resumed (`POST …/resume`): a push integration's silence counts from the later
    /// of this and its last data, as no push is accepted while it is paused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resumed_at: Option<DateTime<Utc>>,
}

impl IntegrationStatus {
    /// The status of a newly created integration: its first import is scheduled at once.
    pub fn new_integration() -> Self {
        Self {
            state: IntegrationState::Importing,
            reason: None,
            message: None,
            last_success_at: None,
            last_run_at: None,
            resumed_at: None,
        }
    }
}
