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
///
/// An attempt cut off by the deadline (its timeout was the time left, or the deadline has passed) ends the call
/// [`ConnectorError::DeadlineExceeded`] — the import ends the run `partial` and the next run continues — as does an
/// unavailable answer (a transport failure, the SDK's own attempt timeout) the retries gave up on once the deadline
/// had passed: the deadline's doing, not AWS being down. Throttling keeps its reason (`rate_limited`).
/// Only an attempt that AWS left unanswered for the whole per-request timeout ([`crate::REQUEST_TIMEOUT`]), well
/// before the deadline, is `vendor_unavailable`.
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
            let bounded_by_deadline = remaining <= crate::REQUEST_TIMEOUT;
            match tokio::time::timeout(remaining.min(crate::REQUEST_TIMEOUT), attempt).await {
                Err(_) if bounded_by_deadline || deadline.is_past() => {
                    // The error names no call: the log says which one the deadline cut off.
                    tracing::warn!(action, "the run's deadline cut off an AWS call");
                    Err(ConnectorError::DeadlineExceeded)
                }
                Err(_) => Err(ConnectorError::unavailable(format!("{action}: AWS did not answer in time"))),
                Ok(Ok(v)) => Ok(v),
                Ok(Err(e)) => Err(classify(action, &e)),
            }
        }
    })
    .await
    .map_err(|e| past_deadline(e, deadline))
}

/// A call that ended unavailable (a transport failure or the SDK's own attempt timeout) once the deadline had
/// passed was cut off by the deadline. Rare: the retries stop while a wait still fits before the deadline and each
/// attempt's timeout is the time left, so only an attempt failing in the deadline's last instant gets here.
fn past_deadline(e: ConnectorError, deadline: Deadline) -> ConnectorError {
    match e {
        ConnectorError::Unavailable { .. } if deadline.is_past() => ConnectorError::DeadlineExceeded,
        e => e,
    }
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
        SdkError::DispatchFailure(e) => {
            // The connection error's debug form names local addresses and the HTTP stack's internals: the log has
            // it, the message (an API answer's `detail`, the run record) only what failed.
            tracing::warn!(action, error = ?e, "an AWS request failed before an answer");
            let kind = if e.is_timeout() {
                "timed out"
            } else if e.is_io() {
                "failed (connection)"
            } else {
                "failed"
            };
            ConnectorError::unavailable(format!("{action}: the request to AWS {kind}"))
        }
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
    use std::time::Duration;

    use aws_sdk_kinesis::operation::get_records::GetRecordsError;

    use super::*;

    /// An SDK operation's answer (any operation's error type would do).
    type Answer = Result<(), SdkError<GetRecordsError, HttpResponse>>;

    /// AWS never answers: every attempt runs into its timeout.
    fn never() -> impl Future<Output = Answer> {
        std::future::pending()
    }

    #[tokio::test(start_paused = true)]
    async fn an_attempt_the_deadline_cuts_off_is_deadline_exceeded() {
        let calls = Call::default();
        let deadline = Deadline::after(Duration::from_secs(5));
        let err = call(&calls, "connect:GetMetricDataV2", deadline, never).await.unwrap_err();
        assert_eq!(err, ConnectorError::DeadlineExceeded);
        assert_eq!(calls.get(), 1, "no retry past the deadline");
    }

    #[tokio::test(start_paused = true)]
    async fn a_retry_the_deadline_cuts_off_is_deadline_exceeded() {
        // The first attempt runs into the per-request timeout (30 s, before the deadline) and is retried; the retry's
        // timeout is the time left, and the deadline cuts it off.
        let calls = Call::default();
        let deadline = Deadline::after(crate::REQUEST_TIMEOUT + Duration::from_secs(15));
        let err = call(&calls, "kinesis:GetRecords", deadline, never).await.unwrap_err();
        assert_eq!(err, ConnectorError::DeadlineExceeded);
        assert_eq!(calls.get(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn aws_not_answering_well_before_the_deadline_is_unavailable() {
        let calls = Call::default();
        let deadline = Deadline::after(Duration::from_secs(600));
        match call(&calls, "connect:ListAgentStatuses", deadline, never).await {
            Err(ConnectorError::Unavailable { message }) => {
                assert!(message.contains("connect:ListAgentStatuses: AWS did not answer in time"), "{message}")
            }
            other => panic!("expected vendor-unavailable, got {other:?}"),
        }
        assert!(!deadline.is_past());
        assert_eq!(calls.get(), u64::from(RetryPolicy::default().max_attempts));
    }

    #[tokio::test(start_paused = true)]
    async fn an_unavailable_call_ended_past_the_deadline_is_deadline_exceeded() {
        let unavailable = || ConnectorError::unavailable("connect:ListQueues: request failed");
        let later = Deadline::after(Duration::from_secs(1));
        assert_eq!(past_deadline(unavailable(), later), unavailable());
        let passed = Deadline::after(Duration::ZERO);
        assert_eq!(past_deadline(unavailable(), passed), ConnectorError::DeadlineExceeded);
        // Only a transport failure or timeout: throttling and refusals keep their reasons.
        let limited = ConnectorError::RateLimited { retry_after: None };
        assert_eq!(past_deadline(limited.clone(), passed), limited);
        assert_eq!(past_deadline(ConnectorError::CredentialsRejected, passed), ConnectorError::CredentialsRejected);
    }

    #[test]
    fn a_request_that_failed_before_an_answer_names_the_call_not_the_connections_internals() {
        use aws_smithy_runtime_api::client::result::ConnectorError as Dispatch;
        let refused = "tcp connect error: Connection refused (os error 111) from 169.254.76.1:39210 to 10.0.3.7:443";
        let err: SdkError<GetRecordsError, HttpResponse> = SdkError::dispatch_failure(Dispatch::io(refused.into()));
        match classify("kinesis:GetRecords", &err) {
            ConnectorError::Unavailable { message } => {
                assert_eq!(message, "kinesis:GetRecords: the request to AWS failed (connection)")
            }
            other => panic!("{other:?}"),
        }
    }

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
