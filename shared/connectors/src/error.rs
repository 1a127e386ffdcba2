//! The typed error every connector returns. The import maps it onto an integration status; the API maps it onto
//! a 422 answer when credentials are checked.

use std::time::Duration;

use acd_domain::FailureReason;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectorError {
    /// The ACD refused the credentials (wrong user/password, client id/secret, or wrong region).
    #[error("the ACD rejected the credentials")]
    CredentialsRejected,
    /// Authenticated, but the user lacks a role or permission the import needs.
    #[error("the ACD user lacks a permission: {message}")]
    PermissionMissing { message: String },
    /// The ACD's rate limit was hit and the wait would not fit in the deadline.
    #[error("rate limited by the ACD")]
    RateLimited { retry_after: Option<Duration> },
    /// The ACD answered 5xx, refused the connection, or did not answer in time.
    #[error("the ACD is unavailable: {message}")]
    Unavailable { message: String },
    /// The ACD user is busy with another session or request (Five9 refuses a second concurrent request of one API
    /// user with `UserAlreadyLoggedInFault`: two integrations sharing a user, or a person's tool using it). Not a
    /// fault of the integration: retried within the call, then the run ends `partial` and the next run tries again
    /// (the import counts it a failure only when it persists).
    #[error("the ACD user is busy: {message}")]
    Busy { message: String },
    /// The caller's deadline passed before the call could finish (nothing was returned, nothing is lost).
    #[error("the deadline passed before the ACD call finished")]
    DeadlineExceeded,
    /// A fetch the import had checked the vendor's hourly and daily API budget for
    /// ([`crate::Connector::pace_next_day`]) needed more calls than that check counted (a report run again in
    /// halves), and the budget left to the import is used up: the connector stopped before the ACD refused anything,
    /// keeping the share left to the domain's other API users. Nothing is lost: the import ends the run `partial`,
    /// the next run goes on once the vendor's window has room. `reason` names the counter.
    #[error("the ACD's API budget left to imports is used up: {reason}")]
    BudgetSpent { reason: String },
    /// The ACD answered something we can't read (with context, never with secrets).
    #[error("the ACD answered something malformed: {context}")]
    Malformed { context: String },
    /// The integration's configuration does not fit the ACD account (e.g. a report that does not exist).
    #[error("the integration's configuration does not fit the ACD: {message}")]
    Configuration { message: String },
}

impl ConnectorError {
    pub fn malformed(context: impl Into<String>) -> Self {
        Self::Malformed { context: context.into() }
    }
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::Unavailable { message: message.into() }
    }

    /// The stable failure reason shown on the integration.
    pub fn reason(&self) -> FailureReason {
        match self {
            Self::CredentialsRejected => FailureReason::CredentialsRejected,
            Self::PermissionMissing { .. } => FailureReason::PermissionMissing,
            Self::RateLimited { .. } | Self::BudgetSpent { .. } => FailureReason::RateLimited,
            Self::Unavailable { .. } | Self::Busy { .. } | Self::DeadlineExceeded => FailureReason::VendorUnavailable,
            Self::Malformed { .. } => FailureReason::VendorDataMalformed,
            Self::Configuration { .. } => FailureReason::ConfigurationWrong,
        }
    }

    /// Worth trying again within the same call (the retry loop decides whether time allows).
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::RateLimited { .. } | Self::Unavailable { .. } | Self::Busy { .. })
    }
}
