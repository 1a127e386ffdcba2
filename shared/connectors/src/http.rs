//! The one HTTP client of a process, deadlines, and the retry loop shared by the vendors.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rand::RngExt as _;
use tokio::time::Instant;

use crate::error::ConnectorError;

/// The point in time by which a connector call must have returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Deadline(Instant);

impl Deadline {
    pub fn at(instant: Instant) -> Self {
        Self(instant)
    }
    pub fn after(duration: Duration) -> Self {
        Self(Instant::now() + duration)
    }
    pub fn instant(&self) -> Instant {
        self.0
    }
    pub fn remaining(&self) -> Duration {
        self.0.saturating_duration_since(Instant::now())
    }
    pub fn is_past(&self) -> bool {
        self.remaining().is_zero()
    }
    /// The earlier of this deadline and `duration` from now.
    pub fn min_after(&self, duration: Duration) -> Self {
        Self(self.0.min(Instant::now() + duration))
    }
}

/// A process-wide HTTP client (reqwest + rustls): connection pools are reused across calls and warm invocations.
#[derive(Clone, Debug)]
pub struct HttpClient {
    inner: reqwest::Client,
}

impl HttpClient {
    pub fn new() -> Result<Self, ConnectorError> {
        let inner = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(crate::REQUEST_TIMEOUT)
            .pool_idle_timeout(Duration::from_secs(60))
            .user_agent(concat!("acd-integrations/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ConnectorError::unavailable(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self { inner })
    }

    pub fn reqwest(&self) -> &reqwest::Client {
        &self.inner
    }

    /// Sends one request, bounded by the deadline, counting it. Transport failures and timeouts become
    /// [`ConnectorError::Unavailable`]; the response is returned whatever its status (the vendor module reads it).
    pub async fn send(
        &self,
        request: reqwest::RequestBuilder,
        deadline: Deadline,
        calls: &CallCounter,
    ) -> Result<reqwest::Response, ConnectorError> {
        let remaining = deadline.remaining();
        if remaining.is_zero() {
            return Err(ConnectorError::DeadlineExceeded);
        }
        calls.increment();
        let request = request.timeout(remaining.min(crate::REQUEST_TIMEOUT));
        request.send().await.map_err(|e| {
            // reqwest's Display of an error may carry the URL, never headers or bodies: safe to keep.
            if e.is_timeout() {
                ConnectorError::unavailable("the ACD did not answer in time")
            } else {
                ConnectorError::unavailable(format!("request failed: {}", without_url(&e)))
            }
        })
    }
}

fn without_url(e: &reqwest::Error) -> String {
    let mut e = e.to_string();
    if let Some(i) = e.find(" for url") {
        e.truncate(i);
    }
    e
}

/// Counts vendor calls of one connector instance.
#[derive(Debug, Default, Clone)]
pub struct CallCounter(Arc<AtomicU64>);

impl CallCounter {
    pub fn increment(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Back-off for transient faults: exponential with full jitter, capped, honouring the vendor's Retry-After.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base: Duration,
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { max_attempts: 5, base: Duration::from_millis(200), cap: Duration::from_secs(20) }
    }
}

impl RetryPolicy {
    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self.base.saturating_mul(1u32 << attempt.min(16)).min(self.cap);
        let jitter = rand::rng().random_range(0..=exp.as_millis() as u64);
        Duration::from_millis(jitter)
    }
}

/// Runs `attempt` until it succeeds, fails with a non-transient error, runs out of attempts, or the next wait
/// would not fit before the deadline (then the last transient error is returned as it is).
pub async fn with_retry<T, F, Fut>(policy: RetryPolicy, deadline: Deadline, mut attempt: F) -> Result<T, ConnectorError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ConnectorError>>,
{
    let mut n = 0;
    loop {
        let err = match attempt().await {
            Ok(v) => return Ok(v),
            Err(e) if e.is_transient() => e,
            Err(e) => return Err(e),
        };
        n += 1;
        if n >= policy.max_attempts {
            return Err(err);
        }
        let wait = match &err {
            ConnectorError::RateLimited { retry_after: Some(after) } => *after,
            _ => policy.backoff(n),
        };
        if Instant::now() + wait >= deadline.instant() {
            return Err(err);
        }
        tracing::debug!(attempt = n, wait_ms = wait.as_millis() as u64, error = %err, "retrying vendor call");
        tokio::time::sleep(wait).await;
    }
}

/// Parses a `Retry-After` header given in seconds (the form both vendors use).
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let raw = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    raw.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn retries_transient_errors_and_honours_retry_after() {
        let mut calls = 0;
        let started = Instant::now();
        let result = with_retry(RetryPolicy::default(), Deadline::after(Duration::from_secs(60)), || {
            calls += 1;
            let n = calls;
            async move {
                if n < 3 {
                    Err(ConnectorError::RateLimited { retry_after: Some(Duration::from_secs(7)) })
                } else {
                    Ok(n)
                }
            }
        })
        .await;
        assert_eq!(result, Ok(3));
        assert_eq!(started.elapsed(), Duration::from_secs(14));
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_when_the_wait_would_pass_the_deadline() {
        let mut calls = 0;
        let result: Result<(), _> = with_retry(RetryPolicy::default(), Deadline::after(Duration::from_secs(5)), || {
            calls += 1;
            async { Err(ConnectorError::RateLimited { retry_after: Some(Duration::from_secs(30)) }) }
        })
        .await;
        assert_eq!(result, Err(ConnectorError::RateLimited { retry_after: Some(Duration::from_secs(30)) }));
        assert_eq!(calls, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn does_not_retry_permanent_errors_and_stops_after_max_attempts() {
        let mut calls = 0;
        let result: Result<(), _> =
            with_retry(RetryPolicy::default(), Deadline::after(Duration::from_secs(600)), || {
                calls += 1;
                async { Err(ConnectorError::CredentialsRejected) }
            })
            .await;
        assert_eq!(result, Err(ConnectorError::CredentialsRejected));
        assert_eq!(calls, 1);

        let mut calls = 0;
        let result: Result<(), _> =
            with_retry(RetryPolicy::default(), Deadline::after(Duration::from_secs(600)), || {
                calls += 1;
                async { Err(ConnectorError::unavailable("503")) }
            })
            .await;
        assert!(matches!(result, Err(ConnectorError::Unavailable { .. })));
        assert_eq!(calls, RetryPolicy::default().max_attempts);
    }
}
