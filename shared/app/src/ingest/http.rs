//! The ingest function's routes (`/ingest/...`, the ingest key is the credential: `Authorization: Bearer <key>` or
//! `X-Ingest-Key: <key>`; the tenant and integration come from the key, never from the body), and the answers
//! of the key routes of the integrations API.

use chrono::{DateTime, Utc};
use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use super::records::{BatchError, MAX_BODY_BYTES, MAX_RECORDS};
use super::{IngestError, IngestService, NewKey, StoredKey};
use crate::error::ApiError;
use crate::http::{PROBLEM_TYPE_PREFIX, json_response, path_segments, problem_response, request_id};

pub const KEY_HEADER: &str = "x-ingest-key";

/// The methods of an ingest path (its `Allow` header on a 405), or `None` for an unknown path.
pub fn allowed_methods(path: &[&str]) -> Option<&'static str> {
    match path {
        ["ingest", "queues" | "intervals" | "agent-events"] => Some("POST"),
        ["health"] => Some("GET"),
        _ => None,
    }
}

/// The ingest key of a request: `X-Ingest-Key`, or `Authorization: Bearer …`.
pub fn presented_key(request: &Request) -> Option<SecretString> {
    let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok());
    if let Some(key) = header(KEY_HEADER) {
        return Some(SecretString::from(key.trim().to_owned()));
    }
    let auth = header("authorization")?;
    let (scheme, token) = auth.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| SecretString::from(token.trim().to_owned()))
}

#[derive(Clone)]
pub struct IngestApi {
    pub service: IngestService,
}

impl IngestApi {
    /// Answers one request. Never fails: every error becomes a problem+json response.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        self.handle_at(request, Utc::now()).await
    }

    pub async fn handle_at(&self, request: Request, now: DateTime<Utc>) -> Response<Body> {
        let id = request_id(&request);
        let Some(routed) = crate::http::within_invocation(&request, self.route(&request, now)).await else {
            return crate::http::cut_off_response(id.as_deref());
        };
        match routed {
            Ok(response) => response,
            Err(error) => {
                let mut response = ingest_problem(&error, id.as_deref());
                if matches!(error, IngestError::MethodNotAllowed) {
                    let segments = path_segments(&request);
                    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
                    if let Some(allow) = allowed_methods(&segments) {
                        response.headers_mut().insert("allow", allow.parse().expect("static"));
                    }
                }
                response
            }
        }
    }

    async fn route(&self, request: &Request, now: DateTime<Utc>) -> Result<Response<Body>, IngestError> {
        let segments = path_segments(request);
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        let kind = match (segments.as_slice(), request.method()) {
            (["health"], &Method::GET) => return Ok(json_response(200, &crate::http::health())),
            (["ingest", kind @ ("queues" | "intervals" | "agent-events")], &Method::POST) => *kind,
            (path, _) if allowed_methods(path).is_some() => return Err(IngestError::MethodNotAllowed),
            _ => return Err(IngestError::NotFound),
        };
        // The key first: an unauthenticated caller learns nothing about the body.
        let integration = self.service.authenticate(presented_key(request), now).await?;
        let bytes: &[u8] = match request.body() {
            Body::Text(t) => t.as_bytes(),
            Body::Binary(b) => b,
            _ => b"",
        };
        if bytes.len() > MAX_BODY_BYTES {
            return Err(IngestError::TooLarge);
        }
        let body: Value = serde_json::from_slice(bytes).map_err(|e| IngestError::InvalidJson(e.to_string()))?;
        let outcome = match kind {
            "queues" => self.service.queues(&integration, &body, now).await?,
            "intervals" => self.service.intervals(&integration, &body, now).await?,
            _ => self.service.events(&integration, &body, now).await?,
        };
        tracing::info!(
            tenant = %integration.tenant_id, integration = %integration.id, route = kind,
            accepted = outcome.accepted, duplicates = outcome.duplicates, write_requests = outcome.write_requests,
            "ingest call applied"
        );
        Ok(json_response(200, &serde_json::to_value(&outcome).expect("outcome serializes")))
    }
}

/// The problem+json answer of a refused ingest call. All or nothing: a 4xx means nothing of the call was applied.
pub fn ingest_problem(error: &IngestError, request_id: Option<&str>) -> Response<Body> {
    let (status, code, title, detail, errors): (u16, &str, &str, Option<String>, Option<Value>) = match error {
        IngestError::Unauthorized => (
            401,
            "invalid-ingest-key",
            "The ingest key is missing, unknown, revoked or expired",
            Some("send the key as `Authorization: Bearer <key>` or `X-Ingest-Key: <key>`".into()),
            None,
        ),
        IngestError::Paused => (409, "integration-paused", "The integration is paused; resume it first", None, None),
        IngestError::RateLimited { retry_after_seconds, tenant_wide } => (
            429,
            "rate-limited",
            "Too many calls; retry later",
            Some(if *tenant_wide {
                format!(
                    "the tenant's calls over all its keys reached their limit this minute; retry after {retry_after_seconds} s"
                )
            } else {
                format!("this key's calls reached their limit this minute; retry after {retry_after_seconds} s")
            }),
            None,
        ),
        IngestError::TooLarge => (
            413,
            "payload-too-large",
            "The body is larger than 1 MB",
            Some(format!("send at most {MAX_BODY_BYTES} bytes and {MAX_RECORDS} records per call")),
            None,
        ),
        IngestError::InvalidJson(why) => {
            (400, "invalid-json", "The request body is not valid JSON", Some(why.clone()), None)
        }
        IngestError::Batch(BatchError::Shape(why)) => {
            (400, "invalid-body", "The body does not have the expected shape", Some(why.clone()), None)
        }
        IngestError::Batch(BatchError::Value(why)) => (
            422,
            "invalid-value",
            "A value of the call is not acceptable; nothing was applied",
            Some(why.clone()),
            None,
        ),
        IngestError::Batch(BatchError::TooMany(n)) => (
            422,
            "too-many-records",
            "More than 1,000 records in one call",
            Some(format!("{n} records sent; split them into calls of at most {MAX_RECORDS}")),
            None,
        ),
        IngestError::Batch(BatchError::Records(errors)) => (
            422,
            "invalid-records",
            "Some records are invalid; nothing of this call was applied",
            Some(format!("{} record(s) are invalid; see errors (index into the array, reason)", errors.len())),
            Some(serde_json::to_value(errors).expect("record errors serialize")),
        ),
        IngestError::NotFound => (404, "not-found", "Not found", None, None),
        IngestError::MethodNotAllowed => (405, "method-not-allowed", "Method not allowed", None, None),
        IngestError::Backend(why) => return problem_response(&ApiError::Backend(why.clone()), request_id),
    };
    let mut body =
        json!({"type": format!("{PROBLEM_TYPE_PREFIX}{code}"), "title": title, "status": status, "code": code});
    if let Some(detail) = detail {
        body["detail"] = Value::String(detail);
    }
    if let Some(errors) = errors {
        body["errors"] = errors;
    }
    if let Some(id) = request_id {
        body["instance"] = Value::String(format!("urn:request:{id}"));
    }
    let mut response = json_response(status, &body);
    let headers = response.headers_mut();
    headers.insert("content-type", "application/problem+json".parse().expect("valid header"));
    match error {
        IngestError::Unauthorized => {
            headers.insert("www-authenticate", "Bearer realm=\"ingest\"".parse().expect("valid header"));
        }
        IngestError::RateLimited { retry_after_seconds, .. } => {
            headers.insert("retry-after", retry_after_seconds.to_string().parse().expect("digits"));
        }
        _ => {}
    }
    response
}

/// The one answer that carries a key in clear: the create or rotate response.
pub fn new_key_view(key: &NewKey) -> Value {
    json!({"key_id": key.key_id, "ingest_key": key.key.expose_secret(), "created_at": key.created_at})
}

/// A key as listed: never its secret or hash.
pub fn key_view(key: &StoredKey) -> Value {
    json!({"key_id": key.key_id, "created_at": key.created_at, "expires_at": key.expires_at})
}
