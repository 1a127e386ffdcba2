//! A small JSON client of the local API (the demo and the end-to-end test use it): the tenant goes in the
//! `X-Tenant-Id` header, as the local run's `TENANT_AUTH=header` expects.

use std::time::Duration;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub tenant: String,
    client: reqwest::Client,
}

/// Everything but the unreserved characters of a URI (RFC 3986 §2.3).
const NOT_UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// One path segment for an id, as API Gateway's HTTP API needs it: percent-encoded twice, since it decodes the
/// path to route it and each path variable once more ([`crate::gateway::http_api_path`]; the local gateway does the
/// same). Encoded once, an id holding a `%`, `/` or `?` would not arrive whole.
pub fn segment(raw: &str) -> String {
    let once = utf8_percent_encode(raw, NOT_UNRESERVED).to_string();
    utf8_percent_encode(&once, NOT_UNRESERVED).to_string()
}

impl Api {
    pub fn new(base: &str, tenant: &str) -> Self {
        let client = reqwest::Client::builder()
            // Generous: with `scripts/run-local --reload`, the first call of a function waits for `cargo run`.
            .timeout(Duration::from_secs(300))
            .build()
            .expect("HTTP client");
        Self { base: base.trim_end_matches('/').to_owned(), tenant: tenant.to_owned(), client }
    }

    /// Status and JSON body (`Null` when empty, a string when not JSON).
    pub async fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<(u16, Value), String> {
        self.call_with(method, path, body, &[]).await
    }

    /// [`Api::call`] with more request headers (e.g. `Idempotency-Key`).
    pub async fn call_with(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Result<(u16, Value), String> {
        let method: reqwest::Method = method.parse().map_err(|_| format!("bad method {method}"))?;
        let mut request =
            self.client.request(method.clone(), format!("{}{path}", self.base)).header("x-tenant-id", &self.tenant);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.header("content-type", "application/json").body(body.to_string());
        }
        let answer = request.send().await.map_err(|e| format!("{method} {path}: {e}"))?;
        let status = answer.status().as_u16();
        let text = answer.text().await.map_err(|e| format!("{method} {path}: {e}"))?;
        let body = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Ok((status, body))
    }

    pub async fn get(&self, path: &str) -> Result<(u16, Value), String> {
        self.call("GET", path, None).await
    }
}
