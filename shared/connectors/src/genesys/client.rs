//! The Genesys Cloud HTTP layer: OAuth client-credentials tokens (cached process-wide), one token refresh on 401,
//! retries of transient faults within the deadline, and the mapping of Genesys error answers onto
//! [`ConnectorError`]. Nothing here logs a body, a header or a token.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::http::retry_after;
use crate::{CallCounter, ConnectorError, Deadline, HttpClient, RetryPolicy, with_retry};

/// Token lifetime assumed when the token answer has no `expires_in` (not verified; Genesys documents hours).
const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);
/// Upper bound of cached tokens (one per client of a warm Lambda; the bound only guards against growth).
const TOKEN_CACHE_LIMIT: usize = 256;
/// Longest error message kept from a Genesys error body.
const MAX_MESSAGE_CHARS: usize = 300;

/// Where and as whom the connector talks to Genesys.
pub(crate) struct Api {
    http: HttpClient,
    api_base: String,
    login_base: String,
    client_id: String,
    client_secret: SecretString,
    key: TokenKey,
    pub(crate) calls: CallCounter,
    pub(crate) retry: RetryPolicy,
}

/// Key of the process-wide token cache: the login service, the client id and a keyed fingerprint of the secret
/// (SipHash with a per-process random key: the secret itself is never stored, and a changed secret never reuses
/// a token obtained with the old one, so a credentials check always proves the credentials it was given).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct TokenKey {
    login_base: String,
    client_id: String,
    secret_fingerprint: u64,
}

#[derive(Clone)]
pub(crate) struct CachedToken {
    token: SecretString,
    /// Distinguishes tokens so that a 401 only evicts the token that was refused.
    generation: u64,
    usable_until: Instant,
}

fn token_cache() -> &'static Mutex<HashMap<TokenKey, CachedToken>> {
    static CACHE: OnceLock<Mutex<HashMap<TokenKey, CachedToken>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

fn fingerprint(client_id: &str, secret: &SecretString) -> u64 {
    static KEY: OnceLock<std::collections::hash_map::RandomState> = OnceLock::new();
    let mut h = KEY.get_or_init(std::collections::hash_map::RandomState::new).build_hasher();
    client_id.hash(&mut h);
    secret.expose_secret().hash(&mut h);
    h.finish()
}

fn next_generation() -> u64 {
    static GEN: AtomicU64 = AtomicU64::new(1);
    GEN.fetch_add(1, Ordering::Relaxed)
}

/// Evicts every cached token (tests; a process never needs it).
pub fn clear_token_cache() {
    if let Ok(mut cache) = token_cache().lock() {
        cache.clear();
    }
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: SecretString,
    #[serde(default)]
    expires_in: Option<u64>,
}

/// The error body of the Genesys platform API (`message`, `code`, `status`, `messageParams`, `contextId`, …).
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ErrorBody {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    code: Option<String>,
}

/// The error body of the login service (`error`, `description`, `error_description`).
#[derive(Deserialize, Default)]
struct OAuthErrorBody {
    #[serde(default)]
    error: Option<String>,
}

impl Api {
    pub(crate) fn new(
        http: HttpClient,
        api_base: String,
        login_base: String,
        client_id: String,
        client_secret: SecretString,
        retry: RetryPolicy,
    ) -> Self {
        let api_base = api_base.trim_end_matches('/').to_owned();
        let login_base = login_base.trim_end_matches('/').to_owned();
        let key = TokenKey {
            login_base: login_base.clone(),
            client_id: client_id.clone(),
            secret_fingerprint: fingerprint(&client_id, &client_secret),
        };
        Self { http, api_base, login_base, client_id, client_secret, key, calls: CallCounter::default(), retry }
    }

    /// The API base URL (no trailing slash).
    pub(crate) fn api_base(&self) -> &str {
        &self.api_base
    }

    /// The OAuth client id.
    pub(crate) fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The keyed fingerprint of the client id and secret (see [`TokenKey`]): never the secret itself.
    pub(crate) fn credentials_fingerprint(&self) -> u64 {
        self.key.secret_fingerprint
    }

    /// A token: the cached one while it is usable, else a new one.
    async fn token(&self, deadline: Deadline) -> Result<CachedToken, ConnectorError> {
        if let Some(t) = self.cached() {
            return Ok(t);
        }
        self.new_token(deadline).await
    }

    fn cached(&self) -> Option<CachedToken> {
        let cache = token_cache().lock().ok()?;
        cache.get(&self.key).filter(|t| t.usable_until > Instant::now()).cloned()
    }

    /// Evicts `generation` if it is still the cached token.
    fn evict(&self, generation: u64) {
        if let Ok(mut cache) = token_cache().lock()
            && cache.get(&self.key).is_some_and(|t| t.generation == generation)
        {
            cache.remove(&self.key);
        }
    }

    /// Asks the login service for a token (client-credentials grant) and caches it.
    pub(crate) async fn new_token(&self, deadline: Deadline) -> Result<CachedToken, ConnectorError> {
        let token = with_retry(self.retry, deadline, || self.request_token(deadline)).await?;
        if let Ok(mut cache) = token_cache().lock() {
            let now = Instant::now();
            if cache.len() >= TOKEN_CACHE_LIMIT {
                cache.retain(|_, t| t.usable_until > now);
                if cache.len() >= TOKEN_CACHE_LIMIT {
                    cache.clear();
                }
            }
            cache.insert(self.key.clone(), token.clone());
        }
        Ok(token)
    }

    async fn request_token(&self, deadline: Deadline) -> Result<CachedToken, ConnectorError> {
        let request = self
            .http
            .reqwest()
            .post(format!("{}/oauth/token", self.login_base))
            .basic_auth(&self.client_id, Some(self.client_secret.expose_secret()))
            .form(&[("grant_type", "client_credentials")]);
        let response = self.http.send(request, deadline, &self.calls).await?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = read_body(response).await?;
        match status.as_u16() {
            200..=299 => {
                // The serde error is dropped on purpose: its text could quote the token.
                let answer: TokenAnswer = serde_json::from_slice(&body)
                    .map_err(|_| ConnectorError::malformed("the Genesys Cloud OAuth token answer could not be read"))?;
                if answer.access_token.expose_secret().is_empty() {
                    return Err(ConnectorError::malformed("the Genesys Cloud OAuth token answer has an empty token"));
                }
                let lifetime = answer.expires_in.map(Duration::from_secs).unwrap_or(DEFAULT_TOKEN_LIFETIME);
                // Stop using a token a little before it expires (10 %, at most 5 minutes).
                let margin = (lifetime / 10).min(Duration::from_secs(300));
                Ok(CachedToken {
                    token: answer.access_token,
                    generation: next_generation(),
                    usable_until: Instant::now() + lifetime.saturating_sub(margin),
                })
            }
            // 403: an OAuth client that may not use the client-credentials grant (`unauthorized_client`) — the
            // credentials are wrong for this use, as a bad secret is.
            400 | 401 | 403 => {
                let code = serde_json::from_slice::<OAuthErrorBody>(&body).ok().and_then(|b| b.error);
                tracing::info!(
                    status = status.as_u16(),
                    code = code.as_deref(),
                    "Genesys Cloud refused the client credentials"
                );
                Err(ConnectorError::CredentialsRejected)
            }
            _ => Err(map_error(status, &headers, &body, "OAuth token")),
        }
    }

    /// GET `path_and_query` (relative to the API base) and parse the JSON answer.
    pub(crate) async fn get_json<T: DeserializeOwned>(
        &self,
        path_and_query: &str,
        what: &str,
        deadline: Deadline,
    ) -> Result<T, ConnectorError> {
        let body = self.call(Method::GET, path_and_query, None, what, deadline).await?;
        parse_json(&body, what)
    }

    /// POST a JSON body to `path` and return the raw answer (the caller parses it, possibly borrowing from it).
    pub(crate) async fn post_raw<B: serde::Serialize>(
        &self,
        path: &str,
        body: &B,
        what: &str,
        deadline: Deadline,
    ) -> Result<Vec<u8>, ConnectorError> {
        let body = serde_json::to_vec(body).map_err(|e| ConnectorError::malformed(format!("{what}: {e}")))?;
        self.call(Method::POST, path, Some(body), what, deadline).await
    }

    /// One logical API call: retried while transient and time allows; a 401 refreshes the token once per call.
    async fn call(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<Vec<u8>>,
        what: &str,
        deadline: Deadline,
    ) -> Result<Vec<u8>, ConnectorError> {
        let url = format!("{}{}", self.api_base, path_and_query);
        let refreshed = AtomicBool::new(false);
        with_retry(self.retry, deadline, || self.attempt(&method, &url, body.as_deref(), &refreshed, what, deadline))
            .await
            .map_err(|e| match e {
                // An answer cut off by the caller's deadline is the deadline's doing (the import ends the run
                // partial and continues next time), not the vendor being down.
                ConnectorError::Unavailable { .. } if deadline.is_past() => ConnectorError::DeadlineExceeded,
                e => e,
            })
    }

    async fn attempt(
        &self,
        method: &Method,
        url: &str,
        body: Option<&[u8]>,
        refreshed: &AtomicBool,
        what: &str,
        deadline: Deadline,
    ) -> Result<Vec<u8>, ConnectorError> {
        let mut token = self.token(deadline).await?;
        loop {
            let mut request = self
                .http
                .reqwest()
                .request(method.clone(), url)
                .bearer_auth(token.token.expose_secret())
                .header(reqwest::header::ACCEPT, "application/json");
            if let Some(body) = body {
                request = request.header(reqwest::header::CONTENT_TYPE, "application/json").body(body.to_vec());
            }
            let response = self.http.send(request, deadline, &self.calls).await?;
            let status = response.status();
            if status == StatusCode::UNAUTHORIZED {
                // The token may have been revoked or expired early: evict it and try once more with a new one.
                self.evict(token.generation);
                if refreshed.swap(true, Ordering::SeqCst) {
                    tracing::info!(what, "Genesys Cloud refused a fresh token");
                    return Err(ConnectorError::CredentialsRejected);
                }
                tracing::debug!(what, "Genesys Cloud answered 401: refreshing the token once");
                token = self.new_token(deadline).await?;
                continue;
            }
            let headers = response.headers().clone();
            let bytes = read_body(response).await?;
            if status.is_success() {
                return Ok(bytes);
            }
            return Err(map_error(status, &headers, &bytes, what));
        }
    }

    /// Resolves a paging link (`nextUri`): relative to the API base, or absolute on the API base itself. Anything
    /// else (another host, another API) is refused, so a vendor answer can never redirect the bearer token.
    pub(crate) fn resolve_next(&self, next: &str) -> Result<String, ConnectorError> {
        let path = if let Some(rest) = next.strip_prefix(&self.api_base) { rest } else { next };
        if path.starts_with("/api/v2/") && !path.contains("://") && !path.contains('#') {
            Ok(path.to_owned())
        } else {
            Err(ConnectorError::malformed("a paging link (nextUri) points outside the Genesys Cloud API"))
        }
    }
}

/// The body in one buffer (sized by Content-Length when given; an aggregates answer can be several MB: no second
/// copy).
async fn read_body(mut response: reqwest::Response) -> Result<Vec<u8>, ConnectorError> {
    let failed = |e: reqwest::Error| {
        if e.is_timeout() {
            ConnectorError::unavailable("the ACD did not answer in time")
        } else {
            ConnectorError::unavailable("the ACD's answer was cut off")
        }
    };
    let mut body = Vec::with_capacity(response.content_length().unwrap_or(0).min(256 << 20) as usize);
    while let Some(chunk) = response.chunk().await.map_err(failed)? {
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Parses a JSON answer. The error keeps serde's category and position only, never quoted vendor data.
pub(crate) fn parse_json<'a, T: Deserialize<'a>>(body: &'a [u8], what: &str) -> Result<T, ConnectorError> {
    serde_json::from_slice(body).map_err(|e| json_error(&e, what))
}

pub(crate) fn json_error(e: &serde_json::Error, what: &str) -> ConnectorError {
    let kind = match e.classify() {
        serde_json::error::Category::Io => "unreadable",
        serde_json::error::Category::Syntax => "not valid JSON",
        serde_json::error::Category::Data => "not in the expected shape",
        serde_json::error::Category::Eof => "cut off",
    };
    ConnectorError::malformed(format!("{what}: the answer is {kind} (line {}, column {})", e.line(), e.column()))
}

/// Maps a non-2xx, non-401 answer onto the typed error.
pub(crate) fn map_error(
    status: StatusCode,
    headers: &reqwest::header::HeaderMap,
    body: &[u8],
    what: &str,
) -> ConnectorError {
    let parsed: ErrorBody = serde_json::from_slice(body).unwrap_or_default();
    let code = parsed.code.as_deref().map(clean).unwrap_or_default();
    let message = parsed.message.as_deref().map(clean).unwrap_or_default();
    let detail = match (code.is_empty(), message.is_empty()) {
        (true, true) => String::new(),
        (false, true) => format!(" ({code})"),
        (true, false) => format!(": {message}"),
        (false, false) => format!(" ({code}): {message}"),
    };
    match status.as_u16() {
        401 => ConnectorError::CredentialsRejected,
        403 => ConnectorError::PermissionMissing {
            message: if message.is_empty() {
                format!(
                    "Genesys Cloud refused access to the {what}{}",
                    if code.is_empty() { String::new() } else { format!(" ({code})") }
                )
            } else {
                message
            },
        },
        429 => ConnectorError::RateLimited {
            retry_after: retry_after(headers).or_else(|| retry_after_from_message(parsed.message.as_deref())),
        },
        408 | 500..=599 => {
            ConnectorError::unavailable(format!("Genesys Cloud answered {} to the {what}{detail}", status.as_u16()))
        }
        400..=499 => ConnectorError::Configuration {
            message: format!("Genesys Cloud refused the {what} with {}{detail}", status.as_u16()),
        },
        _ => ConnectorError::malformed(format!("the {what} got an unexpected HTTP status {}", status.as_u16())),
    }
}

/// "Rate limit exceeded the maximum. Retry the request in [N] seconds" — used when the header is missing.
fn retry_after_from_message(message: Option<&str>) -> Option<Duration> {
    let m = message?;
    let open = m.find('[')?;
    let close = open + m[open..].find(']')?;
    m[open + 1..close].trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// Keeps a vendor message printable and short.
fn clean(raw: &str) -> String {
    let mut s: String = raw.chars().filter(|c| !c.is_control()).take(MAX_MESSAGE_CHARS).collect();
    if raw.chars().count() > MAX_MESSAGE_CHARS {
        s.push('…');
    }
    s.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};

    #[test]
    fn errors_map_onto_typed_errors() {
        let h = HeaderMap::new();
        let body = br#"{"message":"You are missing the following permission(s): analytics:userDetail:view","code":"missing.permissions","status":403,"contextId":"c","details":[],"errors":[]}"#;
        match map_error(StatusCode::FORBIDDEN, &h, body, "user details") {
            ConnectorError::PermissionMissing { message } => assert!(message.contains("analytics:userDetail:view")),
            other => panic!("{other:?}"),
        }
        let mut h429 = HeaderMap::new();
        h429.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(
            map_error(StatusCode::TOO_MANY_REQUESTS, &h429, b"", "x"),
            ConnectorError::RateLimited { retry_after: Some(Duration::from_secs(7)) }
        );
        let body = br#"{"message":"Rate limit exceeded the maximum. Retry the request in [12] seconds","code":"too.many.requests","status":429}"#;
        assert_eq!(
            map_error(StatusCode::TOO_MANY_REQUESTS, &h, body, "x"),
            ConnectorError::RateLimited { retry_after: Some(Duration::from_secs(12)) }
        );
        assert!(matches!(
            map_error(StatusCode::SERVICE_UNAVAILABLE, &h, b"<html>", "x"),
            ConnectorError::Unavailable { .. }
        ));
        assert!(matches!(map_error(StatusCode::BAD_REQUEST, &h, b"{}", "x"), ConnectorError::Configuration { .. }));
        match map_error(StatusCode::FORBIDDEN, &h, b"not json", "queue listing") {
            ConnectorError::PermissionMissing { message } => assert!(message.contains("queue listing")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn reference_error_bodies_map_onto_typed_errors() {
        let h = HeaderMap::new();
        let body = include_bytes!("../../tests/fixtures/genesys/error_429.json");
        assert_eq!(
            map_error(StatusCode::TOO_MANY_REQUESTS, &h, body, "x"),
            ConnectorError::RateLimited { retry_after: Some(Duration::from_secs(3)) }
        );
        let body = include_bytes!("../../tests/fixtures/genesys/error_401.json");
        assert_eq!(map_error(StatusCode::UNAUTHORIZED, &h, body, "x"), ConnectorError::CredentialsRejected);
        let oauth: OAuthErrorBody =
            serde_json::from_slice(include_bytes!("../../tests/fixtures/genesys/oauth_error.json")).unwrap();
        assert_eq!(oauth.error.as_deref(), Some("invalid_client"));
        let token: TokenAnswer =
            serde_json::from_slice(include_bytes!("../../tests/fixtures/genesys/oauth_token.json")).unwrap();
        assert_eq!(token.expires_in, Some(86_399));
        assert!(!format!("{:?}", token.access_token).contains("EXAMPLE"));
    }

    #[test]
    fn long_or_controlled_messages_are_cleaned() {
        let long = "x".repeat(1000);
        assert_eq!(clean(&long).chars().count(), MAX_MESSAGE_CHARS + 1);
        assert_eq!(clean("a\nb\u{0}c"), "abc");
    }

    #[test]
    fn json_errors_never_quote_vendor_data() {
        let e = serde_json::from_slice::<Vec<u64>>(br#"["secret-looking-value"]"#).unwrap_err();
        let err = json_error(&e, "queue listing");
        assert!(!err.to_string().contains("secret-looking-value"), "{err}");
    }

    #[test]
    fn paging_links_cannot_leave_the_api() {
        let api = Api::new(
            HttpClient::new().unwrap(),
            "https://api.mypurecloud.ie/".into(),
            "https://login.mypurecloud.ie".into(),
            "client".into(),
            SecretString::from("secret"),
            RetryPolicy::default(),
        );
        assert_eq!(api.resolve_next("/api/v2/users?pageNumber=2").unwrap(), "/api/v2/users?pageNumber=2");
        assert_eq!(
            api.resolve_next("https://api.mypurecloud.ie/api/v2/users?pageNumber=2").unwrap(),
            "/api/v2/users?pageNumber=2"
        );
        for bad in [
            "https://evil.example/api/v2/users",
            "//evil.example/api/v2/users",
            "https://api.mypurecloud.ie.evil.example/api/v2/users",
            "/oauth/token",
            "/api/v2/users?next=http://evil.example",
        ] {
            assert!(matches!(api.resolve_next(bad), Err(ConnectorError::Malformed { .. })), "{bad}");
        }
    }

    #[test]
    fn secret_fingerprints_differ_by_secret_and_client() {
        let a = fingerprint("c", &SecretString::from("s1"));
        assert_eq!(a, fingerprint("c", &SecretString::from("s1")));
        assert_ne!(a, fingerprint("c", &SecretString::from("s2")));
        assert_ne!(a, fingerprint("d", &SecretString::from("s1")));
    }
}
