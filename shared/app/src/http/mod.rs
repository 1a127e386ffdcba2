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

/// Where the tenant id comes from (`TENANT_AUTH`, `TENANT_CLAIM`; read at start-up by `acd_aws::config`).
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

/// What a route needs: `Read` for GET routes, `Admin` for every other method (create, patch, delete, pause,
/// resume, sync now, test connection, mapping writes). `Admin` implies `Read`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Admin,
}

impl Access {
    /// The access a request's method needs.
    pub fn of(request: &Request) -> Self {
        if request.method() == lambda_http::http::Method::GET { Access::Read } else { Access::Admin }
    }
}

/// Which scopes grant which access, and where they are found (`SCOPE_CLAIM`, `ADMIN_SCOPE`, `READ_SCOPE`; read at
/// start-up by `acd_aws::config`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopePolicy {
    /// The JWT claim holding the scopes (default `scope`, the OAuth 2.0 claim: space-separated).
    pub claim: String,
    pub admin: String,
    pub read: String,
}

impl Default for ScopePolicy {
    fn default() -> Self {
        Self { claim: "scope".into(), admin: "acd:admin".into(), read: "acd:read".into() }
    }
}

impl ScopePolicy {
    /// The header that carries the scopes in the local run (`TENANT_AUTH=header`).
    pub const HEADER: &'static str = "x-scopes";

    /// Splits a scope claim as API Gateway hands it over: a space-separated string (`scope`), a JSON array, or an
    /// array API Gateway flattened to `[a b]` (`scp` of some identity providers); commas separate too.
    pub fn parse(raw: &str) -> Vec<String> {
        if let Ok(serde_json::Value::Array(items)) = serde_json::from_str::<serde_json::Value>(raw) {
            return items.iter().filter_map(|v| v.as_str()).map(str::to_owned).collect();
        }
        raw.trim()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// `Ok` when `scopes` grant `access`, else the 403 naming the scope that is needed.
    pub fn check(&self, scopes: &[String], access: Access) -> Result<(), ApiError> {
        let has = |s: &str| scopes.iter().any(|g| g == s);
        let granted = match access {
            Access::Admin => has(&self.admin),
            Access::Read => has(&self.read) || has(&self.admin),
        };
        if granted {
            Ok(())
        } else {
            Err(ApiError::Forbidden(match access {
                Access::Admin => self.admin.clone(),
                Access::Read => self.read.clone(),
            }))
        }
    }
}

impl TenantAuth {
    /// The tenant of a request whose credentials also grant the access its method needs: 401 without a tenant,
    /// 403 `insufficient-scope` without the scope. JWT: the scopes are the claim [`ScopePolicy::claim`]. Local
    /// header mode: the `X-Scopes` header (same syntax); without that header every scope is granted, so local
    /// tools and scripts work unchanged — send `X-Scopes` to try a restricted token.
    pub fn authorize(&self, request: &Request, policy: &ScopePolicy) -> Result<TenantId, ApiError> {
        let tenant = self.tenant(request)?;
        let raw = match self {
            TenantAuth::Header => match request.headers().get(ScopePolicy::HEADER) {
                None => return Ok(tenant),
                Some(v) => v.to_str().ok().map(str::to_owned),
            },
            TenantAuth::JwtClaim(_) => match request.request_context_ref() {
                Some(RequestContext::ApiGatewayV2(ctx)) => ctx
                    .authorizer
                    .as_ref()
                    .and_then(|a| a.jwt.as_ref())
                    .and_then(|jwt| jwt.claims.get(&policy.claim))
                    .cloned(),
                _ => None,
            },
        };
        let scopes = raw.as_deref().map(ScopePolicy::parse).unwrap_or_default();
        policy.check(&scopes, Access::of(request))?;
        Ok(tenant)
    }
}

/// The body of `GET /health`: the service, its version (the crates' version) and its build (`ACD_BUILD_ID` at
/// compile time, set by `scripts/build-lambdas` to the git commit; `dev` otherwise). Nothing about any tenant.
pub fn health() -> Value {
    json!({
        "status": "ok",
        "service": "acd-integrations",
        "version": env!("CARGO_PKG_VERSION"),
        "build": option_env!("ACD_BUILD_ID").unwrap_or("dev"),
    })
}

/// The request id API Gateway gave the request, for the problem's `instance` and the logs.
pub fn request_id(request: &Request) -> Option<String> {
    match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.request_id.clone(),
        _ => None,
    }
}

/// The request path's segments, each an id as the client meant it (without empty ones).
///
/// Behind an API Gateway route (the event's `routeKey` names one): the route's segments, each path variable
/// (`{id}`) replaced by its value from `pathParameters`, percent-decoded once more where that decodes. API Gateway's
/// HTTP API decodes a path once to route it and passes `rawPath` decoded twice (published captures), so that a `/`
/// or `?` an id held is no longer told apart from the path's own: only the variables keep an id whole, and clients
/// encode ids twice (README, "Path ids"). Whether a variable is decoded a second time is not in the captures (a
/// Stack Exchange answer says so): decoding once more here reads a twice-encoded id whole either way. The price: an
/// id holding `%` and two hex digits (`x%41`) cannot be named.
///
/// Otherwise (the `$default` route, a function URL, a hand-made event): the event's raw path split at `/`, each
/// segment percent-decoded once. Never the request URI, which lambda_http builds with URL parsing rules: those
/// resolve dot segments (`…/ingest-keys/%2e%2e` would read as the integration itself) and cut an id at a decoded
/// `?` or `#`. A segment `..` is an id like any other.
pub fn path_segments(request: &Request) -> Vec<String> {
    if let Some(segments) = route_segments(request) {
        return segments;
    }
    let raw = request.raw_http_path();
    let path = if raw.is_empty() { request.uri().path() } else { raw };
    path.split('/').filter(|s| !s.is_empty()).map(percent_decode).collect()
}

/// The segments of the API Gateway route the request took, its variables filled in (`None` without a route, or
/// when a variable has no value: a greedy `{proxy+}` route, which this API does not have, reads the raw path).
fn route_segments(request: &Request) -> Option<Vec<String>> {
    let Some(RequestContext::ApiGatewayV2(ctx)) = request.request_context_ref() else { return None };
    let route_key = ctx.route_key.as_deref().filter(|key| *key != "$default")?;
    let template = route_key.split_once(' ').map_or(route_key, |(_method, path)| path);
    let parameters = request.path_parameters_ref();
    let mut segments = Vec::new();
    for part in template.split('/').filter(|s| !s.is_empty()) {
        match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            Some(name) => segments.push(decode_again(parameters?.first(name)?)),
            None => segments.push(part.to_owned()),
        }
    }
    Some(segments)
}

/// A path variable percent-decoded once more, where that gives UTF-8 (else as it is): `Break%2FLunch` (a variable
/// API Gateway decoded once) and `Break/Lunch` (decoded twice) both read `Break/Lunch`.
fn decode_again(value: &str) -> String {
    match percent_encoding::percent_decode_str(value).decode_utf8() {
        Ok(decoded) => decoded.into_owned(),
        Err(_) => value.to_owned(),
    }
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

/// Kept free at the end of an API function's invocation to answer (the problem, the log line): a request still
/// running then is answered 503 ([`within_invocation`]).
pub const ANSWER_MARGIN: std::time::Duration = std::time::Duration::from_secs(1);

/// Runs `work` until the request's Lambda invocation deadline minus [`ANSWER_MARGIN`]; `None` when it was cut off
/// there (answer [`cut_off_response`]). A request slowed down past it (DynamoDB throttling retried with backoff, a
/// slow network) is so answered 503 `service-unavailable`, which a client retries: until 2026-12-08 the function ran
/// into its Lambda timeout and API Gateway answered a bare 500, which says neither what happened nor whether to
/// retry. Without a Lambda context, or with a context without a deadline (tests), there is no limit.
pub async fn within_invocation<T>(request: &Request, work: impl std::future::Future<Output = T>) -> Option<T> {
    let deadline = request.lambda_context_ref().filter(|c| c.deadline != 0);
    let Some(deadline) = deadline.map(|c| crate::import::deadline_from_epoch_ms(c.deadline)) else {
        return Some(work.await);
    };
    let left = deadline.remaining().saturating_sub(ANSWER_MARGIN);
    tokio::time::timeout(left, work).await.ok()
}

/// The `Retry-After` of a request cut off at its function's deadline ([`cut_off_response`]): seconds.
pub const CUT_OFF_RETRY_AFTER_SECONDS: u32 = 5;

/// The answer to a request cut off at its function's deadline ([`within_invocation`]): 503 `service-unavailable`
/// (the cause logged as a backend failure), with `Retry-After`: DynamoDB was slow, and a client retrying at once
/// would only add to it (and spend an ingest key's calls).
pub fn cut_off_response(request_id: Option<&str>) -> Response<Body> {
    let cause = "the request did not finish before its function's deadline";
    let mut response = problem_response(&ApiError::Backend(cause.into()), request_id);
    let seconds = CUT_OFF_RETRY_AFTER_SECONDS.to_string().parse().expect("digits");
    response.headers_mut().insert("retry-after", seconds);
    response
}

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
        ApiError::Forbidden(scope) => Some(format!("this route needs the scope {scope}")),
        ApiError::QuotaExceeded(limit) => {
            Some(format!("a tenant may have at most {limit} integrations; delete one before creating another"))
        }
        ApiError::TenantTokenMissing { field, path } => Some(format!(
            "the {field} of these credentials is issued by this service: call POST {path}, create the role with \
             the value it returns, then retry"
        )),
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

    fn routed(route: &str, raw_path: &str, parameters: serde_json::Value) -> Request {
        let event = json!({
            "version": "2.0", "routeKey": route, "rawPath": raw_path, "rawQueryString": "", "headers": {},
            "pathParameters": parameters,
            "requestContext": {"accountId": "1", "apiId": "a", "domainName": "h", "domainPrefix": "h",
                "http": {"method": "PUT", "path": raw_path, "protocol": "HTTP/1.1", "sourceIp": "1.2.3.4",
                         "userAgent": "t"},
                "requestId": "r", "routeKey": route, "stage": "$default", "time": "07/Dec/2026:10:00:00 +0000",
                "timeEpoch": 1_796_637_600_000_i64},
            "isBase64Encoded": false
        });
        lambda_http::request::from_str(&event.to_string()).expect("an HTTP API event")
    }

    /// An id encoded twice by the client (`Break%252FLunch`) reads whole whether API Gateway decodes a path variable
    /// once (`Break%2FLunch`) or twice (`Break/Lunch`); the decoded `rawPath` is not read behind a route. Without a
    /// route, the raw path's segments are decoded once.
    #[test]
    fn ids_come_from_the_routes_variables_whether_decoded_once_or_twice() {
        let route = "PUT /integrations/{id}/external-statuses/{status_id}";
        let want = ["integrations", "i-1", "external-statuses", "Not Ready: Break/Lunch"];
        for value in ["Not Ready: Break/Lunch", "Not%20Ready%3A%20Break%2FLunch"] {
            let request = routed(
                route,
                "/integrations/i-1/external-statuses/Not Ready: Break/Lunch",
                json!({"id": "i-1", "status_id": value}),
            );
            assert_eq!(path_segments(&request), want, "{value}");
        }
        // A value that does not decode to UTF-8 is taken as it is.
        let request = routed(route, "/x", json!({"id": "i-1", "status_id": "50% %FF"}));
        assert_eq!(path_segments(&request)[3], "50% %FF");
        // A variable missing from `pathParameters`, or the `$default` route: the raw path, decoded once.
        let request = routed(route, "/integrations/i-1/external-statuses/a%20b", json!({"id": "i-1"}));
        assert_eq!(path_segments(&request), ["integrations", "i-1", "external-statuses", "a b"]);
        let request = routed("$default", "/integrations/i-1/external-statuses/a%20b", json!(null));
        assert_eq!(path_segments(&request), ["integrations", "i-1", "external-statuses", "a b"]);
    }

    #[test]
    fn scopes_parse_from_every_shape_a_claim_arrives_in() {
        let want = vec!["acd:read".to_owned(), "acd:admin".to_owned()];
        assert_eq!(ScopePolicy::parse("acd:read acd:admin"), want);
        assert_eq!(ScopePolicy::parse("[acd:read acd:admin]"), want);
        assert_eq!(ScopePolicy::parse(r#"["acd:read","acd:admin"]"#), want);
        assert_eq!(ScopePolicy::parse("acd:read, acd:admin"), want);
        assert!(ScopePolicy::parse("  ").is_empty());
    }

    #[test]
    fn admin_implies_read_and_nothing_implies_admin() {
        let policy = ScopePolicy::default();
        let scopes = |s: &str| ScopePolicy::parse(s);
        assert!(policy.check(&scopes("acd:admin"), Access::Read).is_ok());
        assert!(policy.check(&scopes("acd:admin"), Access::Admin).is_ok());
        assert!(policy.check(&scopes("openid acd:read"), Access::Read).is_ok());
        assert!(
            matches!(policy.check(&scopes("acd:read"), Access::Admin), Err(ApiError::Forbidden(s)) if s == "acd:admin")
        );
        assert!(matches!(policy.check(&[], Access::Read), Err(ApiError::Forbidden(s)) if s == "acd:read"));
        // Exact match only: no prefix or substring grants anything.
        assert!(policy.check(&scopes("acd:admins acd:rea"), Access::Read).is_err());
        let custom = ScopePolicy { claim: "scp".into(), admin: "wfm/admin".into(), read: "wfm/read".into() };
        assert!(custom.check(&scopes("wfm/admin"), Access::Read).is_ok());
        assert!(custom.check(&scopes("acd:admin"), Access::Admin).is_err());
    }

    #[test]
    fn percent_decoding_handles_escapes_and_garbage() {
        assert_eq!(percent_decode("Not%20Ready%3A%20Lunch"), "Not Ready: Lunch");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
        assert_eq!(percent_decode("%C3%A4"), "ä");
    }
}
