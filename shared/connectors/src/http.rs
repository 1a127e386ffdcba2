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

/// The CA roots every HTTPS connection of the process trusts (the vendors' and, through [`sdk_http_client`], the
/// AWS SDK's): Mozilla's root program as compiled into `webpki-root-certs`, the same list Amazon Linux ships. They
/// are in the binary, so a cold start reads and parses no CA file (the system store — a bundle of about 150
/// certificates, plus every file of `/etc/ssl/certs` — cost several milliseconds of init, once for the SDK and
/// once more for reqwest). Updated with the crate.
pub fn tls_root_certs() -> &'static [rustls::pki_types::CertificateDer<'static>] {
    webpki_root_certs::TLS_SERVER_ROOT_CERTS
}

/// The same roots as [`tls_root_certs`], as the trust anchors rustls verifies with (subject, key, name
/// constraints), already extracted at build time by `webpki-roots` (same publisher, same list): the vendor client's
/// store is made without parsing ≈ 150 certificates at start (≈ 340,000 instructions, an eighth of the import's
/// init). `tests/tls_roots.rs` checks that both crates hold the same roots.
pub fn tls_trust_anchors() -> &'static [rustls::pki_types::TrustAnchor<'static>] {
    webpki_roots::TLS_SERVER_ROOTS
}

/// The rustls configuration of the vendor client: the roots of [`tls_trust_anchors`], aws-lc, TLS 1.2 and 1.3,
/// ALPN for HTTP/2 and HTTP/1.1 (what reqwest would negotiate itself).
fn tls_client_config() -> rustls::ClientConfig {
    let roots = rustls::RootCertStore { roots: tls_trust_anchors().to_vec() };
    let mut config =
        rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("aws-lc supports the default TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    config
}

/// The HTTP client of the AWS SDK clients of the process (hyper + rustls/aws-lc, as the SDK's default), trusting the
/// roots of [`tls_root_certs`] instead of loading the system store. Give it to `aws_config` once: every client of
/// that configuration shares it (one connection pool per timeout setting).
///
/// The SDK asks for a connector once per client it builds only to check the configuration (no settings, no runtime
/// components given) and throws it away: that probe gets a plain-HTTP connector, so building the clients at init
/// parses no certificate; the TLS connector (and its root store) is built at the first request and cached by the SDK.
pub fn sdk_http_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::Connector;
    use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
    aws_smithy_http_client::Builder::new().build_with_connector_fn(|settings, components| {
        let Some(settings) = settings else {
            return Connector::builder().build_http();
        };
        let trust = TrustStore::empty().with_native_roots(false).with_pem_certificate(roots_pem());
        let context = TlsContext::builder().with_trust_store(trust).build().expect("a TLS context of PEM roots");
        let mut builder = Connector::builder().connector_settings(settings.clone());
        if let Some(components) = components {
            builder.set_sleep_impl(components.sleep_impl());
        }
        builder.tls_provider(tls::Provider::rustls(CryptoMode::AwsLc)).tls_context(context).build()
    })
}

/// [`tls_root_certs`] as one PEM bundle (the form the SDK's trust store takes), encoded once per process.
fn roots_pem() -> Vec<u8> {
    use base64::Engine as _;
    static PEM: std::sync::LazyLock<Vec<u8>> = std::sync::LazyLock::new(|| {
        let mut pem = String::new();
        for cert in tls_root_certs() {
            pem.push_str("-----BEGIN CERTIFICATE-----\n");
            let body = base64::engine::general_purpose::STANDARD.encode(cert.as_ref());
            for line in body.as_bytes().chunks(64) {
                pem.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
                pem.push('\n');
            }
            pem.push_str("-----END CERTIFICATE-----\n");
        }
        pem.into_bytes()
    });
    PEM.clone()
}

/// A process-wide HTTP client (reqwest + rustls): connection pools are reused across calls and warm invocations.
///
/// Vendor calls follow no redirects (a 3xx answer is [`ConnectorError::Configuration`] naming the status: a moved or
/// wrong endpoint must be fixed, never followed with credentials attached) and go over HTTPS only. Plain `http://`
/// is allowed to loopback hosts alone (`127.0.0.0/8`, `::1`, `localhost`): the documented local base-URL overrides
/// (`FIVE9_BASE_URL`, `GENESYS_CLOUD_*_BASE_URL`) of tests and the local run point there.
#[derive(Clone, Debug)]
pub struct HttpClient {
    inner: reqwest::Client,
}

impl HttpClient {
    pub fn new() -> Result<Self, ConnectorError> {
        let inner = reqwest::Client::builder()
            .tls_backend_preconfigured(tls_client_config())
            .connect_timeout(Duration::from_secs(10))
            .timeout(crate::REQUEST_TIMEOUT)
            .pool_idle_timeout(Duration::from_secs(60))
            .redirect(reqwest::redirect::Policy::none())
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
        self.send_with(request, deadline, calls, RequestTimeout::default()).await
    }

    /// [`HttpClient::send`], the request bounded by `timeout` (and the deadline) instead of
    /// [`crate::REQUEST_TIMEOUT`]: read its body with [`read_chunk`] and the same `timeout`.
    pub async fn send_with(
        &self,
        request: reqwest::RequestBuilder,
        deadline: Deadline,
        calls: &CallCounter,
        timeout: RequestTimeout,
    ) -> Result<reqwest::Response, ConnectorError> {
        let remaining = deadline.remaining();
        if remaining.is_zero() {
            return Err(ConnectorError::DeadlineExceeded);
        }
        let total = match timeout {
            RequestTimeout::Total(total) => remaining.min(total),
            RequestTimeout::Idle(_) => remaining,
        };
        let request = request.timeout(total).build().map_err(|e| ConnectorError::Configuration {
            message: format!("invalid ACD request: {}", without_url(&e)),
        })?;
        check_transport(request.url())?;
        calls.increment();
        // An X-Ray subsegment (`acd_app::xray`, namespace `remote`): the host, method and URL without its query
        // (never headers or bodies); a `debug` span that only the X-Ray layer enables.
        let url = request.url();
        let span = tracing::debug_span!(
            target: "acd_xray",
            "vendor_call",
            xray.name = url.host_str().unwrap_or("acd"),
            http.method = request.method().as_str(),
            // `origin()` is scheme, host and port: never the user info; the path follows, the query does not.
            http.url = format!("{}{}", url.origin().ascii_serialization(), url.path()).as_str(),
            http.status = tracing::field::Empty,
            xray.fault = tracing::field::Empty,
        );
        let exchange = tracing::Instrument::instrument(self.inner.execute(request), span.clone());
        // A download's headers come within its idle time (`None` when they did not), like each read of its body.
        let response = match timeout {
            RequestTimeout::Total(_) => Some(exchange.await),
            RequestTimeout::Idle(idle) => tokio::time::timeout(idle, exchange).await.ok(),
        };
        match &response {
            Some(Ok(r)) => span.record("http.status", u64::from(r.status().as_u16())),
            Some(Err(_)) | None => span.record("xray.fault", true),
        };
        drop(span);
        let Some(response) = response else {
            return Err(ConnectorError::unavailable("the ACD did not answer in time"));
        };
        let response = response.map_err(|e| {
            // reqwest's Display of an error may carry the URL, never headers or bodies: safe to keep.
            if e.is_timeout() {
                ConnectorError::unavailable("the ACD did not answer in time")
            } else {
                ConnectorError::unavailable(format!("request failed: {}", without_url(&e)))
            }
        })?;
        let status = response.status();
        if status.is_redirection() {
            return Err(ConnectorError::Configuration {
                message: format!(
                    "the ACD answered HTTP {status} (a redirect{}); redirects are not followed: check the region",
                    response
                        .headers()
                        .get(reqwest::header::LOCATION)
                        .and_then(|l| l.to_str().ok())
                        .and_then(|l| url::Url::parse(l).ok())
                        .and_then(|u| u.host_str().map(|h| format!(" to {h}")))
                        .unwrap_or_default()
                ),
            });
        }
        Ok(response)
    }
}

/// How long one request sent by [`HttpClient::send_with`] may take; the deadline bounds it whatever this says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestTimeout {
    /// The whole exchange, its response body read whole included ([`HttpClient::send`]'s:
    /// [`crate::REQUEST_TIMEOUT`]).
    Total(Duration),
    /// A download that may be large (a Five9 report result: tens of MB): bounded in all by the deadline alone, but
    /// its response's headers must come within this, and each read of its body ([`read_chunk`]) within this of the
    /// one before. A transfer that keeps receiving bytes goes on however long it takes; one that stalls fails.
    Idle(Duration),
}

impl Default for RequestTimeout {
    fn default() -> Self {
        Self::Total(crate::REQUEST_TIMEOUT)
    }
}

/// Appends the next chunk of `response`'s body to `buf`; `false` at its end. `timeout`: the one it was sent with
/// ([`HttpClient::send_with`]) — for [`RequestTimeout::Idle`], no byte within that time fails the read. Failures and
/// timeouts are [`ConnectorError::Unavailable`].
pub async fn read_chunk(
    response: &mut reqwest::Response,
    buf: &mut Vec<u8>,
    timeout: RequestTimeout,
) -> Result<bool, ConnectorError> {
    let chunk = match timeout {
        RequestTimeout::Total(_) => response.chunk().await,
        RequestTimeout::Idle(idle) => tokio::time::timeout(idle, response.chunk())
            .await
            .map_err(|_| ConnectorError::unavailable(format!("the ACD sent no byte for {} ms", idle.as_millis())))?,
    };
    match chunk {
        Ok(Some(chunk)) => {
            buf.extend_from_slice(&chunk);
            Ok(true)
        }
        Ok(None) => Ok(false),
        Err(e) if e.is_timeout() => Err(ConnectorError::unavailable("the ACD did not answer in time")),
        Err(e) => Err(ConnectorError::unavailable(format!("reading the answer failed: {}", without_url(&e)))),
    }
}

/// HTTPS, or plain HTTP to a loopback host (the local base-URL overrides). Checked before anything is sent.
pub fn check_transport(url: &url::Url) -> Result<(), ConnectorError> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        scheme => Err(ConnectorError::Configuration {
            message: format!(
                "refusing {scheme}:// to {}: ACD calls use HTTPS (plain HTTP only to a local override on 127.0.0.1)",
                url.host_str().unwrap_or("?")
            ),
        }),
    }
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
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

    /// A local server that answers every request with `answer` and counts the requests (paths) it saw.
    async fn answering(answer: &'static str) -> (String, Arc<std::sync::Mutex<Vec<String>>>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut buf = vec![0u8; 4096];
                let n = socket.read(&mut buf).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]).to_string();
                log.lock().unwrap().push(head.split_whitespace().nth(1).unwrap_or("").to_owned());
                let _ = socket.write_all(answer.as_bytes()).await;
                let _ = socket.shutdown().await;
            }
        });
        (base, seen)
    }

    #[tokio::test]
    async fn a_redirect_is_an_error_naming_the_status_and_is_never_followed() {
        let (base, seen) = answering(
            "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:9/elsewhere\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        )
        .await;
        let http = HttpClient::new().unwrap();
        let calls = CallCounter::default();
        let request = http.reqwest().get(format!("{base}/api/v2/users"));
        let err = http.send(request, Deadline::after(Duration::from_secs(10)), &calls).await.unwrap_err();
        match &err {
            ConnectorError::Configuration { message } => {
                assert!(message.contains("302"), "{message}");
                assert!(message.contains("redirect"), "{message}");
            }
            other => panic!("expected a configuration error, got {other:?}"),
        }
        assert!(!err.is_transient(), "a redirect is not retried");
        assert_eq!(*seen.lock().unwrap(), vec!["/api/v2/users".to_owned()], "the Location was not requested");
        assert_eq!(calls.get(), 1);

        // A 301 and a 307 as well (any 3xx).
        for status in ["301 Moved Permanently", "307 Temporary Redirect"] {
            let answer: &'static str = Box::leak(
                format!("HTTP/1.1 {status}\r\nLocation: /x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .into_boxed_str(),
            );
            let (base, _) = answering(answer).await;
            let err = http
                .send(http.reqwest().post(format!("{base}/y")), Deadline::after(Duration::from_secs(10)), &calls)
                .await
                .unwrap_err();
            assert!(err.to_string().contains(&status[..3]), "{err}");
        }
    }

    /// A local server that answers every request with `head`, then `parts` of the body each after `pause`.
    async fn trickling(head: &'static str, parts: &'static [&'static str], pause: Duration) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    let _ = socket.read(&mut buf).await;
                    let _ = socket.write_all(head.as_bytes()).await;
                    for part in parts {
                        tokio::time::sleep(pause).await;
                        let _ = socket.write_all(part.as_bytes()).await;
                    }
                    tokio::time::sleep(Duration::from_secs(5)).await;
                });
            }
        });
        base
    }

    #[tokio::test]
    async fn a_download_is_bounded_by_the_time_without_a_byte_not_by_its_whole_time() {
        let http = HttpClient::new().unwrap();
        let calls = CallCounter::default();
        let deadline = Deadline::after(Duration::from_secs(10));
        let head = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\n";
        // Ten bytes over ≈ 1 s, a part every 100 ms.
        const PARTS: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
        let base = trickling(head, &PARTS, Duration::from_millis(100)).await;
        let read = |base: String, timeout: RequestTimeout| {
            let (http, calls) = (&http, &calls);
            async move {
                let mut response = http.send_with(http.reqwest().get(base), deadline, calls, timeout).await?;
                let mut buf = Vec::new();
                while read_chunk(&mut response, &mut buf, timeout).await? {}
                Ok::<_, ConnectorError>(buf)
            }
        };
        let idle = RequestTimeout::Idle(Duration::from_millis(400));
        assert_eq!(read(base.clone(), idle).await.unwrap(), b"0123456789");
        // Bounded in all by 400 ms, it fails (as before, and as every other request).
        let err = read(base.clone(), RequestTimeout::Total(Duration::from_millis(400))).await.unwrap_err();
        assert_eq!(err, ConnectorError::unavailable("the ACD did not answer in time"));
        // Bounded by the deadline in all.
        let short = Deadline::after(Duration::from_millis(500));
        let mut response = http.send_with(http.reqwest().get(&base), short, &calls, idle).await.unwrap();
        let mut buf = Vec::new();
        let err = async {
            while read_chunk(&mut response, &mut buf, idle).await? {}
            Ok(())
        };
        assert_eq!(err.await, Err(ConnectorError::unavailable("the ACD did not answer in time")));
        assert_eq!(calls.get(), 3);

        // Stalled: half the body, then nothing for longer than the idle time; or no answer at all.
        let base = trickling(head, &["01234", "56789"], Duration::from_millis(1_000)).await;
        let started = Instant::now();
        let err = read(base, idle).await.unwrap_err();
        assert_eq!(err, ConnectorError::unavailable("the ACD sent no byte for 400 ms"));
        assert!(err.is_transient());
        assert!(started.elapsed() < Duration::from_millis(1_400), "{:?}", started.elapsed());
        let base = trickling("", &[], Duration::ZERO).await;
        let started = Instant::now();
        let err = http.send_with(http.reqwest().get(base), deadline, &calls, idle).await.unwrap_err();
        assert_eq!(err, ConnectorError::unavailable("the ACD did not answer in time"));
        assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
    }

    #[tokio::test]
    async fn plain_http_is_refused_unless_to_a_loopback_override() {
        let (base, seen) = answering("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok").await;
        let http = HttpClient::new().unwrap();
        let calls = CallCounter::default();
        let deadline = Deadline::after(Duration::from_secs(10));
        let ok = http.send(http.reqwest().get(format!("{base}/ok")), deadline, &calls).await.unwrap();
        assert_eq!(ok.status(), 200);
        let port = base.rsplit(':').next().unwrap();
        let ok = http.send(http.reqwest().get(format!("http://localhost:{port}/ok")), deadline, &calls).await;
        assert_eq!(ok.unwrap().status(), 200);
        assert_eq!(calls.get(), 2);

        for url in ["http://api.five9.com/wsadmin", "http://10.0.0.1/x", "ftp://127.0.0.1/x", "http://[::2]/x"] {
            let err = http.send(http.reqwest().get(url), deadline, &calls).await.unwrap_err();
            assert!(
                matches!(&err, ConnectorError::Configuration { message } if message.contains("HTTPS")),
                "{url}: {err:?}"
            );
        }
        assert_eq!(calls.get(), 2, "nothing was sent");
        assert_eq!(seen.lock().unwrap().len(), 2);
        assert!(check_transport(&"https://api.mypurecloud.ie/api/v2".parse().unwrap()).is_ok());
        assert!(check_transport(&"http://[::1]:8080/".parse().unwrap()).is_ok());
    }
}
