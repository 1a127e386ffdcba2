//! Errors of the application services, each with a stable code and HTTP status for the problem+json edge.

use acd_connectors::ConnectorError;
use acd_domain::FieldErrors;

use crate::ports::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the request is invalid")]
    Validation(FieldErrors),
    #[error("the request body is not valid JSON")]
    InvalidJson(String),
    #[error("no tenant in the request's credentials")]
    Unauthenticated,
    /// The credentials lack the scope the route needs (`acd:read` for reads, `acd:admin` for writes).
    #[error("the credentials lack the scope {0}")]
    Forbidden(String),
    #[error("not found")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("an integration with this name already exists")]
    NameTaken,
    #[error("the integration was changed concurrently")]
    Conflict,
    #[error("the integration is paused")]
    Paused,
    /// An `Idempotency-Key` already used with another body or route.
    #[error("the idempotency key was used for another request")]
    IdempotencyKeyReused,
    /// The request first sent with this `Idempotency-Key` is still running.
    #[error("a request with this idempotency key is still running")]
    IdempotencyInProgress,
    /// The tenant already has as many integrations as its quota allows.
    #[error("the tenant's integration quota ({0}) is used up")]
    QuotaExceeded(u32),
    /// The ACD refused the credentials check (or it could not be completed).
    #[error("the credentials check failed: {0}")]
    CredentialsCheck(ConnectorError),
    /// The vendor's credentials need a value the server issues per tenant ([`acd_connectors::vendor::TenantToken`])
    /// and none was issued yet: the client must first call the path named here.
    #[error("no {field} was issued for the tenant yet: call POST {path} first")]
    TenantTokenMissing { field: &'static str, path: String },
    /// A backend (AWS) failure; the message goes to the log only.
    #[error("backend failure: {0}")]
    Backend(String),
}

impl From<FieldErrors> for ApiError {
    fn from(value: FieldErrors) -> Self {
        ApiError::Validation(value)
    }
}

impl From<StoreError> for ApiError {
    fn from(value: StoreError) -> Self {
        match value {
            StoreError::NameTaken => ApiError::NameTaken,
            StoreError::Conflict => ApiError::Conflict,
            StoreError::NotFound => ApiError::NotFound,
            StoreError::QuotaExceeded(limit) => ApiError::QuotaExceeded(limit),
            StoreError::Corrupt(m) => ApiError::Backend(format!("corrupt record: {m}")),
            StoreError::Backend(m) => ApiError::Backend(m),
        }
    }
}

impl ApiError {
    /// `(status, stable code, title)` of the problem document.
    pub fn describe(&self) -> (u16, &'static str, &'static str) {
        match self {
            ApiError::Validation(_) => (400, "validation-failed", "The request has invalid fields"),
            ApiError::InvalidJson(_) => (400, "invalid-json", "The request body is not valid JSON"),
            ApiError::Unauthenticated => (401, "unauthenticated", "No tenant in the request's credentials"),
            ApiError::Forbidden(_) => (403, "insufficient-scope", "The credentials lack the scope this route needs"),
            ApiError::NotFound => (404, "not-found", "Not found"),
            ApiError::MethodNotAllowed => (405, "method-not-allowed", "Method not allowed"),
            ApiError::NameTaken => (409, "name-taken", "An integration with this name already exists"),
            ApiError::Conflict => {
                (409, "concurrent-modification", "The integration was changed at the same time; retry")
            }
            ApiError::Paused => (409, "integration-paused", "The integration is paused; resume it first"),
            ApiError::IdempotencyKeyReused => (
                422,
                "idempotency-key-reused",
                "This Idempotency-Key was used with another request body; use a new key for a new request",
            ),
            ApiError::IdempotencyInProgress => (
                409,
                "idempotency-request-in-progress",
                "The first request with this Idempotency-Key is still running; retry in a few seconds",
            ),
            ApiError::QuotaExceeded(_) => {
                (409, "integration-quota-exceeded", "The tenant has as many integrations as its quota allows")
            }
            ApiError::CredentialsCheck(e) => match e {
                ConnectorError::CredentialsRejected => {
                    (422, "credentials-rejected", "The ACD rejected the credentials")
                }
                ConnectorError::PermissionMissing { .. } => {
                    (422, "permission-missing", "The ACD user lacks a permission the import needs")
                }
                ConnectorError::Configuration { .. } => {
                    (422, "configuration-wrong", "The settings do not fit the ACD account")
                }
                ConnectorError::Malformed { .. } => {
                    (502, "vendor-data-malformed", "The ACD answered something unreadable")
                }
                ConnectorError::RateLimited { .. } | ConnectorError::BudgetSpent { .. } => {
                    (503, "rate-limited", "The ACD is rate limiting; try again later")
                }
                ConnectorError::Unavailable { .. } | ConnectorError::DeadlineExceeded => {
                    (503, "vendor-unavailable", "The ACD could not be reached; try again later")
                }
                ConnectorError::Busy { .. } => {
                    (503, "vendor-unavailable", "The ACD user is busy with another session; try again later")
                }
            },
            ApiError::TenantTokenMissing { .. } => (
                409,
                "tenant-token-missing",
                "This integration type needs a value the service issues for the tenant first",
            ),
            ApiError::Backend(_) => (503, "service-unavailable", "A backend service failed; try again later"),
        }
    }
}
