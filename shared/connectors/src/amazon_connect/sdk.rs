//! One way to make an AWS SDK call: counted, bounded by the [`Deadline`], classified into [`ConnectorError`], and
//! retried by the project's loop ([`with_retry`]).
//!
//! The SDK clients are built with their own retries switched off (`RetryConfig::disabled()`, see
//! [`super::client_retry_config`]): the SDK's standard mode would sleep up to 20 s between 3 attempts without
//! knowing our deadline. Instead throttling (`ThrottlingException`, `TooManyRequestsException`, Kinesis
//! `ProvisionedThroughputExceededException`/`LimitExceededException`) and 5xx are retried here with jittered
//! exponential back-off as long as the next wait fits before the deadline; then the call ends as `rate_limited`
//! (or `vendor_unavailable`).

use std::future::Future;

use aws_sdk_kinesis::config::http::HttpResponse;
use aws_sdk_kinesis::error::{ProvideErrorMetadata, SdkError};

use crate::{CallCounter, ConnectorError, Deadline, RetryPolicy, with_retry};

pub type Call = CallCounter;

/// Runs one SDK operation (`send` is called again for each attempt). `action` is the IAM action it needs, named in
/// `permission-missing` answers.
pub async fn call<T, E, F, Fut>(
    calls: &Call,
    action: &str,
    deadline: Deadline,
    mut send: F,
) -> Result<T, ConnectorError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    with_retry(RetryPolicy::default(), deadline, || {
        let attempt = send();
        async move {
            let remaining = deadline.remaining();
            if remaining.is_zero() {
                return Err(ConnectorError::DeadlineExceeded);
            }
            calls.increment();
            match tokio::time::timeout(remaining.min(crate::REQUEST_TIMEOUT), attempt).await {
                Err(_) => Err(ConnectorError::unavailable(format!("{action}: AWS did not answer in time"))),
                Ok(Ok(v)) => Ok(v),
                Ok(Err(e)) => Err(classify(action, &e)),
            }
        }
    })
    .await
}

/// Error codes AWS uses for "slow down" across Connect, STS and Kinesis.
const THROTTLING: &[&str] = &[
    "ThrottlingException",
    "TooManyRequestsException",
    "Throttling",
    "RequestLimitExceeded",
    "ProvisionedThroughputExceededException",
    "LimitExceededException",
    "KMSThrottlingException",
];
const ACCESS_DENIED: &[&str] =
    &["AccessDeniedException", "AccessDenied", "UnauthorizedOperation", "KMSAccessDeniedException"];
const CREDENTIALS: &[&str] =
    &["ExpiredTokenException", "UnrecognizedClientException", "InvalidClientTokenId", "InvalidSignatureException"];

/// Maps an SDK error onto the connector's typed error (messages carry the action and AWS's code and message, which
/// never contain credentials).
pub fn classify<E>(action: &str, err: &SdkError<E, HttpResponse>) -> ConnectorError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match err {
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let code = service.err().code().unwrap_or("");
            let message = service.err().message().unwrap_or("");
            classify_code(action, status, code, message)
        }
        SdkError::TimeoutError(_) => ConnectorError::unavailable(format!("{action}: AWS did not answer in time")),
        SdkError::DispatchFailure(e) => ConnectorError::unavailable(format!("{action}: request failed: {e:?}")),
        SdkError::ResponseError(_) => ConnectorError::malformed(format!("{action}: AWS's answer could not be read")),
        SdkError::ConstructionFailure(_) => {
            ConnectorError::Configuration { message: format!("{action}: the request could not be built") }
        }
        _ => ConnectorError::unavailable(format!("{action}: {err}")),
    }
}

pub fn classify_code(action: &str, status: u16, code: &str, message: &str) -> ConnectorError {
    if THROTTLING.contains(&code) || status == 429 {
        ConnectorError::RateLimited { retry_after: None }
    } else if ACCESS_DENIED.contains(&code) || status == 403 && !CREDENTIALS.contains(&code) {
        ConnectorError::PermissionMissing { message: format!("the role may not call {action} ({code}: {message})") }
    } else if CREDENTIALS.contains(&code) || status == 401 {
        ConnectorError::CredentialsRejected
    } else if status >= 500 || code.starts_with("InternalService") || code == "InternalFailureException" {
        ConnectorError::unavailable(format!("{action}: {code} (HTTP {status})"))
    } else {
        ConnectorError::Configuration { message: format!("{action}: {code} (HTTP {status}): {message}") }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_onto_typed_reasons() {
        assert!(matches!(
            classify_code("connect:ListQueues", 429, "TooManyRequestsException", ""),
            ConnectorError::RateLimited { .. }
        ));
        assert!(matches!(
            classify_code("connect:ListQueues", 400, "ThrottlingException", ""),
            ConnectorError::RateLimited { .. }
        ));
        assert!(matches!(
            classify_code("kinesis:GetRecords", 400, "ProvisionedThroughputExceededException", ""),
            ConnectorError::RateLimited { .. }
        ));
        match classify_code("connect:ListUsers", 403, "AccessDeniedException", "not authorized") {
            ConnectorError::PermissionMissing { message } => {
                assert!(message.contains("connect:ListUsers"), "{message}")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            classify_code("sts:AssumeRole", 403, "ExpiredTokenException", ""),
            ConnectorError::CredentialsRejected
        );
        assert!(matches!(
            classify_code("connect:ListUsers", 500, "InternalServiceException", ""),
            ConnectorError::Unavailable { .. }
        ));
        assert!(matches!(
            classify_code("connect:DescribeInstance", 404, "ResourceNotFoundException", "no instance"),
            ConnectorError::Configuration { .. }
        ));
    }
}
