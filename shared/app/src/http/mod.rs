//! The HTTP edge shared by the API functions: tenant resolution, JSON and `application/problem+json` (RFC 9457)
//! responses, query parameters.

pub mod idempotency;
pub mod integrations;
pub mod queries;

use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::{Value, json};

use acd_domain::TenantId;

use crate::error::ApiError;

/// Where the tenant id comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TenantAuth {
    /// From the API Gateway JWT authorizer's claims (`requestContext.authorizer.jwt.claims[claim]`). The default.
    JwtClaim(String),
    /// From the `X-Tenant-Id` header. For the local run only (`TENANT_AUTH=header`); never set by the template.
    Header,
}

impl TenantAuth {
    pub const DEFAULT_CLAIM: &'static str = "tenant_id";
    pub const HEADER: &'static str = "x-tenant-id";

    /// `TENANT_AUTH=header` selects the header; anything else uses the JWT claim named by `TENANT_CLAIM`
    /// (default `tenant_id`).
    pub fn from_env() -> Self {
        match std::env::var("TENANT_AUTH").as_deref() {
            Ok("header") => TenantAuth::Header,
            _ => TenantAuth::JwtClaim(
                std::env::var("TENANT_CLAIM")
                    .ok()
                    .filter(|c| !c.is_empty())
                    .unwrap_or_else(|| Self::DEFAULT_CLAIM.into()),
            ),
        }
    }

    /// The tenant of a request, or 401 when the credentials carry none (or a malformed one).
    pub fn tenant(&self, request: &Request) -> Result<TenantId, ApiError> {
        let raw = match self {
            TenantAuth::Header => request.headers().get(Self::HEADER).and_then(|v| v.to_str().ok()).map(str::to_owned),
            TenantAuth::JwtClaim(claim) => match request.request_context_ref() {
                Some(RequestContext::ApiGatewayV2(ctx)) => {
                    ctx.authorizer.as_ref().and_then(|a| a.jwt.as_ref()).and_then(|jwt| jwt.claims.get(claim)).cloned()
                }
                _ => None,
            },
        };
        raw.and_then(|r| TenantId::parse(r.trim()).ok()).ok_or(ApiError::Unauthenticated)
    }
}

/// The request id API Gateway gave the request, for the problem's `instance` and the logs.
pub fn request_id(request: &Request) -> Option<String> {
    match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.request_id.clone(),
        _ => None,
    }
}

/// The request path without a trailing slash (API Gateway's `$default` stage: the raw path is the route path).
pub fn path_segments(request: &Request) -> Vec<String> {
    request.uri().path().split('/').filter(|s| !s.is_empty()).map(percent_decode).collect()
}

fn percent_decode(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment).decode_utf8_lossy().into_owned()
}

/// A query parameter (first value).
pub fn query(request: &Request, name: &str) -> Option<String> {
    request.query_string_parameters_ref().and_then(|q| q.first(name)).map(str::to_owned)
}

/// The JSON body, or a 400 that says why it is not JSON. An empty body reads as `null`.
pub fn json_body(request: &Request) -> Result<Value, ApiError> {
    let bytes: &[u8] = match request.body() {
        Body::Empty => b"",
        Body::Text(t) => t.as_bytes(),
        Body::Binary(b) => b,
        _ => b"",
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(bytes).map_err(|e| ApiError::InvalidJson(e.to_string()))
}

/// Adds `Allow` (the methods of the request's path, from `allowed`) to a 405 answer (RFC 9110 §15.5.6).
pub fn with_allow(
    mut response: Response<Body>,
    request: &Request,
    allowed: fn(&[&str]) -> Option<&'static str>,
) -> Response<Body> {
    if response.status() == 405 {
        let segments = path_segments(request);
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        if let Some(methods) = allowed(&segments) {
            response.headers_mut().insert("allow", methods.parse().expect("static method list"));
        }
    }
    response
}

/// A JSON response.
pub fn json_response(status: u16, value: &Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("cache-control", "no-store")
        .body(Body::Text(value.to_string()))
        .expect("static response parts are valid")
}

pub fn empty_response(status: u16) -> Response<Body> {
    Response::builder().status(status).header("cache-control", "no-store").body(Body::Empty).expect("valid")
}

/// Problem type URIs: `urn:acd-integrations:problem:{code}`; the code is also a member of its own.
pub const PROBLEM_TYPE_PREFIX: &str = "urn:acd-integrations:problem:";

/// An `application/problem+json` response. Backend details are logged, never returned.
pub fn problem_response(error: &ApiError, request_id: Option<&str>) -> Response<Body> {
    let (status, code, title) = error.describe();
    let mut body = json!({
        "type": format!("{PROBLEM_TYPE_PREFIX}{code}"),
        "title": title,
        "status": status,
        "code": code,
    });
    let detail = match error {
        ApiError::Validation(errors) => {
            body["errors"] = serde_json::to_value(errors).expect("field errors serialize");
            Some(format!("{} field(s) are invalid; see errors", errors.0.len()))
        }
        ApiError::InvalidJson(why) => Some(why.clone()),
        ApiError::CredentialsCheck(e) => Some(e.to_string()),
        ApiError::Backend(why) => {
            tracing::error!(error = %why, request_id, "backend failure");
            None
        }
        _ => None,
    };
    if let Some(detail) = detail {
        body["detail"] = Value::String(detail);
    }
    if let Some(id) = request_id {
        body["instance"] = Value::String(format!("urn:request:{id}"));
    }
    let mut response = json_response(status, &body);
    response.headers_mut().insert("content-type", "application/problem+json".parse().expect("valid header"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding_handles_escapes_and_garbage() {
        assert_eq!(percent_decode("Not%20Ready%3A%20Lunch"), "Not Ready: Lunch");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
        assert_eq!(percent_decode("%C3%A4"), "ä");
    }
}
