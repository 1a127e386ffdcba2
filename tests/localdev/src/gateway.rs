//! The local API gateway: one port with the HTTP API's paths, each forwarded to the function that serves it in the
//! deployed stack. Like API Gateway, the gateway builds the HTTP API payload 2.0 event itself and invokes the function
//! through `cargo lambda watch`'s invoke API (`POST {lambda}/2015-03-31/functions/{name}/invocations`), then turns
//! the function's answer (`statusCode`, `headers`, `multiValueHeaders`, `cookies`, `body`, `isBase64Encoded`) into
//! the HTTP response.
//!
//! Why not cargo lambda's function-URL emulation (`/lambda-url/{name}/…`, used until now): it turns every request
//! body without a content type, or with a `text/*` or `application/json` one, into a `String` and answers its own
//! `500 {"type":"https://httpstatuses.com/500",…}` when the bytes are not UTF-8 (API Gateway passes such a body
//! base64-encoded), and it parses the function's answer itself. Here a body that is not UTF-8 is passed
//! base64-encoded with `isBase64Encoded: true`, as API Gateway does, and the function answers it (400).
//!
//! Routing follows the template's routes: each operation of `infra/openapi.yaml` (method and path) is one route,
//! and there is no `$default` route and no `ANY` method. `queues-query` serves `/queues…`, `/agent-states` and the
//! external agent/status mappings under `/integrations/{id}/`; `integrations-api` serves `/health` and every other
//! route under `/integration-types` and `/integrations`; `ingest` serves `/ingest/…` (push integrations; the ingest
//! key is the credential, passed through untouched). A request that no route takes — no route has its (once
//! decoded) path with its method: an unknown path, a path split by a `%2F` encoded once, or a wrong method — is
//! answered as API Gateway answers it (`404 {"message":"Not Found"}`) without invoking a function.
//!
//! Paths are decoded as API Gateway's HTTP API decodes them ([`http_api_path`]): once to match the routes of
//! `infra/openapi.yaml`, and each path variable a second time; the event names the route (`routeKey`) and carries
//! the variables (`pathParameters`). So a path id must be percent-encoded twice to keep a `%`, `/` or `?` here as
//! in AWS, and a path that does not decode is `400 {"message":"Bad Request"}`.
//!
//! CORS is answered like the template's `CorsConfiguration` makes API Gateway answer it: a preflight (`OPTIONS` with
//! `Origin` and `Access-Control-Request-Method`) on any path gets `204` with the allowed origin, methods, headers and
//! max age, without reaching a function; every other answer to an allowed origin carries
//! `Access-Control-Allow-Origin` and `Access-Control-Expose-Headers` (`Location`). The allowed origin is
//! `CORS_ALLOWED_ORIGIN` (default `*`, any origin: a local dev server on any port).
//!
//! EventBridge calls (`X-Amz-Target: AWSEvents.…`, from the functions' status events) are answered by the local
//! EventBridge stand-in ([`crate::events`]), which writes each event to this log.
//!
//! The gateway also serves the rendered API docs (local only; the deployed API has no such route): `GET /docs` is
//! the page `scripts/api-kit` renders (`clients/docs/index.html`, git-ignored) and `GET /docs/openapi.yaml` the spec
//! it was rendered from. A page not rendered yet is a 404 problem naming the command that renders it.
//!
//! A failure between the gateway and the function is never passed on as the emulator's own body: the function
//! unreachable (or the emulator failing before it answers) is `503`, a function error or an unreadable answer
//! `502`, both `application/problem+json` naming the function.

use std::path::PathBuf;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use serde_json::{Map, Value, json};

pub const INTEGRATIONS_API: &str = "integrations-api";
pub const QUEUES_QUERY: &str = "queues-query";
pub const INGEST: &str = "ingest";

/// The largest request body API Gateway accepts (HTTP APIs: 10 MB).
const MAX_BODY: usize = 10 * 1024 * 1024;

/// The function that serves `path` (no query string; a route's path such as `/integrations/{id}/external-agents`
/// or a request's), or `None` for a path under none of the functions.
pub fn route(path: &str) -> Option<&'static str> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        ["queues", ..] | ["agent-states"] => Some(QUEUES_QUERY),
        ["integrations", _, "external-agents" | "external-statuses", ..] => Some(QUEUES_QUERY),
        ["integration-types"] | ["health"] => Some(INTEGRATIONS_API),
        ["integrations", ..] => Some(INTEGRATIONS_API),
        ["ingest", ..] => Some(INGEST),
        _ => None,
    }
}

/// The operations of `infra/openapi.yaml` (the template's routes: `tests/integration/tests/template.rs` keeps the
/// two equal), as API Gateway matches them.
const OPENAPI: &str = include_str!("../../../infra/openapi.yaml");

/// Why API Gateway's HTTP API does not pass a request on to a function.
#[derive(Debug, PartialEq, Eq)]
pub enum PathRejected {
    /// Its percent-encoding does not decode, the first or the second time (API Gateway: `400 Bad Request`).
    BadRequest,
    /// No route has its method and the shape of its (once decoded) path (API Gateway: `404 Not Found`).
    NotFound,
}

impl PathRejected {
    /// API Gateway's own answer: its status and its `application/json` body.
    pub fn answer(&self) -> (StatusCode, Value) {
        match self {
            PathRejected::BadRequest => (StatusCode::BAD_REQUEST, json!({"message": "Bad Request"})),
            PathRejected::NotFound => (StatusCode::NOT_FOUND, json!({"message": "Not Found"})),
        }
    }
}

/// The route a request took through API Gateway's HTTP API, and what the function's event gets of its path.
#[derive(Debug, PartialEq, Eq)]
pub struct RoutedPath {
    /// The route's path (`/integrations/{id}`), for the event's `routeKey` after the method.
    pub route: &'static str,
    /// The function that serves the route.
    pub function: &'static str,
    /// The event's `rawPath`: the path decoded twice (despite its name).
    pub raw_path: String,
    /// The event's `pathParameters`: each path variable decoded twice (as a Stack Exchange answer describes it; the
    /// captures have no route with variables, and the handlers read either way: `acd_app::http::path_segments`).
    pub parameters: Map<String, Value>,
}

/// What API Gateway's HTTP API makes of a request's method and path, as live captures published by others show it
/// for `rawPath` (hotsock/voker `vokerhttp/testdata/ingress-paths.json`, payload 2.0, a `$default` route; not
/// checked in an AWS account of ours) and a Stack Exchange answer for path variables: it percent-decodes the path
/// once and cuts it at a decoded `?`, matches that against the routes of the request's method (a literal segment
/// before a variable), then decodes each path variable — and the `rawPath` it passes on — a second time. A path
/// that does not decode either time is `400` (`%25` alone: its second decoding fails). So `%2F` in an id splits it
/// (another route, or none), `%3F` cuts it, and only an id encoded twice (`%252F`, `%253F`, `%2525`) arrives whole.
/// Routes are a method and a path (AWS's "Routing API requests": a full match of route and method, else the
/// `$default` route, which this API does not have): a path with no route of its method is `404` like an unknown one.
pub fn http_api_path(method: &str, path: &str) -> Result<RoutedPath, PathRejected> {
    let once = strict_decode(path).ok_or(PathRejected::BadRequest)?;
    let once = once.split_once('?').map_or(once.as_str(), |(before, _)| before);
    let segments: Vec<&str> = once.split('/').filter(|s| !s.is_empty()).collect();
    let variable = |s: &str| s.starts_with('{') && s.ends_with('}');
    let route = routes()
        .iter()
        .filter(|(route_method, _)| route_method.eq_ignore_ascii_case(method))
        .map(|(_, route)| *route)
        .filter(|route| {
            let parts: Vec<&str> = route.split('/').filter(|s| !s.is_empty()).collect();
            parts.len() == segments.len() && parts.iter().zip(&segments).all(|(p, s)| variable(p) || p == s)
        })
        // The most specific: literal segments win over variables, the first difference decides.
        .max_by_key(|route| route.split('/').filter(|s| !s.is_empty()).map(|p| !variable(p)).collect::<Vec<_>>())
        .ok_or(PathRejected::NotFound)?;
    // Every route of the spec is under a function (`every_route_of_the_spec_has_a_function`).
    let function = self::route(route).ok_or(PathRejected::NotFound)?;
    let mut parameters = Map::new();
    for (part, segment) in route.split('/').filter(|s| !s.is_empty()).zip(&segments) {
        if variable(part) {
            let value = strict_decode(segment).ok_or(PathRejected::BadRequest)?;
            parameters.insert(part[1..part.len() - 1].to_owned(), Value::String(value));
        }
    }
    let raw_path = strict_decode(once).ok_or(PathRejected::BadRequest)?;
    Ok(RoutedPath { route, function, raw_path, parameters })
}

/// The routes of `infra/openapi.yaml`: each operation's method (lower case, as the spec writes it) and path.
pub fn routes() -> &'static [(&'static str, &'static str)] {
    const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
    static ROUTES: std::sync::LazyLock<Vec<(&'static str, &'static str)>> = std::sync::LazyLock::new(|| {
        let mut routes = Vec::new();
        let mut path = None;
        for line in OPENAPI.lines() {
            // A path key is indented by two spaces (`  /integrations/{id}:`), its operations by four (`    get:`).
            if let Some(key) = line.strip_prefix("  /").and_then(|l| l.strip_suffix(':')) {
                path = Some(&line[2..3 + key.len()]);
            } else if !line.starts_with("  ") && !line.trim().is_empty() {
                path = None;
            } else if let (Some(path), Some(method)) =
                (path, line.strip_prefix("    ").and_then(|l| l.strip_suffix(':')))
                && METHODS.contains(&method)
            {
                routes.push((method, path));
            }
        }
        routes
    });
    &ROUTES
}

/// Percent-decoding that refuses what does not decode: a `%` without two hex digits after it, or bytes that are not
/// UTF-8.
fn strict_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let well_formed = bytes.iter().enumerate().filter(|(_, b)| **b == b'%').all(|(i, _)| {
        bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit) && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
    });
    if !well_formed {
        return None;
    }
    percent_encoding::percent_decode_str(text).decode_utf8().ok().map(|s| s.into_owned())
}

/// The template's `CorsConfiguration`, plus the local-only `X-Tenant-Id` and `X-Scopes` headers.
#[derive(Clone, Debug)]
pub struct Cors {
    /// `*` or one origin (`scheme://host[:port]`), like the template's `CorsAllowedOrigin`.
    pub allow_origin: String,
    pub allow_methods: Vec<&'static str>,
    pub allow_headers: Vec<&'static str>,
    pub expose_headers: Vec<&'static str>,
    pub max_age_secs: u32,
}

impl Default for Cors {
    fn default() -> Self {
        Cors {
            allow_origin: "*".into(),
            allow_methods: vec!["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers: vec!["authorization", "content-type", "idempotency-key", "x-tenant-id", "x-scopes"],
            expose_headers: vec!["location", "idempotent-replayed"],
            max_age_secs: 600,
        }
    }
}

impl Cors {
    /// The value of `Access-Control-Allow-Origin` for a request from `origin`, or `None` when it is not allowed.
    fn allowed(&self, origin: &str) -> Option<String> {
        if self.allow_origin == "*" {
            Some("*".into())
        } else if origin.eq_ignore_ascii_case(self.allow_origin.trim_end_matches('/')) {
            Some(origin.to_owned())
        } else {
            None
        }
    }

    /// API Gateway's answer to a preflight: 204, with the CORS headers when the origin is allowed.
    fn preflight(&self, origin: &str) -> Response {
        let mut response = Response::builder().status(StatusCode::NO_CONTENT);
        if let Some(allowed) = self.allowed(origin) {
            response = response
                .header(header::ACCESS_CONTROL_ALLOW_ORIGIN, allowed)
                .header(header::ACCESS_CONTROL_ALLOW_METHODS, self.allow_methods.join(","))
                .header(header::ACCESS_CONTROL_ALLOW_HEADERS, self.allow_headers.join(","))
                .header(header::ACCESS_CONTROL_MAX_AGE, self.max_age_secs.to_string());
        }
        response.body(Body::empty()).expect("static response")
    }

    /// Adds the CORS headers of an actual (non-preflight) answer.
    fn decorate(&self, origin: Option<&str>, headers: &mut HeaderMap) {
        let Some(allowed) = origin.and_then(|o| self.allowed(o)) else { return };
        if let Ok(value) = HeaderValue::from_str(&allowed) {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        }
        if !self.expose_headers.is_empty() {
            headers.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_str(&self.expose_headers.join(",")).expect("static header names"),
            );
        }
    }
}

/// Invocations of one function in flight at once. cargo lambda watch queues at most 100 invocations per function
/// and, once that queue is full, stops serving every function (its queue push waits while holding the lock the
/// functions need to take work): 750 concurrent creates froze the whole local stack. Beyond this many, requests
/// wait in the gateway, as they would queue for Lambda's concurrency.
pub const MAX_IN_FLIGHT_PER_FUNCTION: usize = 64;

#[derive(Clone)]
pub struct Gateway {
    /// Base URL of `cargo lambda watch` (e.g. `http://127.0.0.1:9104`).
    pub lambda_url: String,
    pub client: reqwest::Client,
    pub cors: Cors,
    docs: Option<Docs>,
    in_flight: std::sync::Arc<[(&'static str, std::sync::Arc<tokio::sync::Semaphore>); 2]>,
}

/// The API Gateway HTTP API payload 2.0 event of one request that took `routed` ([`http_api_path`] of its method and
/// path: API Gateway passes no other request on).
pub fn http_api_event(
    method: &Method,
    uri: &http::Uri,
    routed: &RoutedPath,
    headers: &HeaderMap,
    body: &[u8],
    request_id: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Value {
    // Header names are lower-case (HeaderMap's already are); repeated headers are joined with commas; cookies go
    // to `cookies`, one entry per cookie.
    let mut event_headers = Map::new();
    let mut cookies = Vec::new();
    for name in headers.keys() {
        let values: Vec<String> =
            headers.get_all(name).iter().map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()).collect();
        if name == header::COOKIE {
            cookies.extend(
                values
                    .iter()
                    .flat_map(|v| v.split(';'))
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(|c| Value::String(c.to_owned())),
            );
            continue;
        }
        event_headers.insert(name.as_str().to_owned(), Value::String(values.join(",")));
    }
    event_headers.entry("x-forwarded-proto").or_insert_with(|| Value::String("http".into()));

    // Query parameters: decoded, repeated names joined with commas.
    let raw_query = uri.query().unwrap_or_default();
    let mut query = Map::new();
    for (name, value) in url::form_urlencoded::parse(raw_query.as_bytes()) {
        match query.get_mut(name.as_ref()) {
            Some(Value::String(joined)) => {
                joined.push(',');
                joined.push_str(&value);
            }
            _ => {
                query.insert(name.into_owned(), Value::String(value.into_owned()));
            }
        }
    }

    // The route's key and the path as API Gateway passes it on (decoded twice, the variables in `pathParameters`).
    let route_key = format!("{method} {}", routed.route);
    let path = &routed.raw_path;
    let user_agent = headers.get(header::USER_AGENT).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let mut event = json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": event_headers,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost"),
            "domainPrefix": "local",
            "http": {
                "method": method.as_str(),
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": user_agent.unwrap_or_default(),
            },
            "requestId": request_id,
            "routeKey": route_key,
            "stage": "$default",
            "time": now.format("%d/%b/%Y:%H:%M:%S %z").to_string(),
            "timeEpoch": now.timestamp_millis(),
        },
        "isBase64Encoded": false,
    });
    if !cookies.is_empty() {
        event["cookies"] = Value::Array(cookies);
    }
    if !query.is_empty() {
        event["queryStringParameters"] = Value::Object(query);
    }
    if !routed.parameters.is_empty() {
        event["pathParameters"] = Value::Object(routed.parameters.clone());
    }
    if !body.is_empty() {
        // API Gateway passes text as text and anything else base64-encoded.
        match std::str::from_utf8(body) {
            Ok(text) => event["body"] = Value::String(text.to_owned()),
            Err(_) => {
                event["body"] = Value::String(BASE64.encode(body));
                event["isBase64Encoded"] = Value::Bool(true);
            }
        }
    }
    event
}

/// Why a request did not get the function's answer.
#[derive(Debug, PartialEq, Eq)]
pub enum Failure {
    /// The function could not be reached or did not answer (503).
    Unavailable(String),
    /// The function failed or answered something that is not an HTTP API response (502).
    BadAnswer(String),
}

/// The HTTP response of a function's payload 2.0 answer (API Gateway's reading of it).
pub fn function_response(function: &str, answer: &[u8]) -> Result<Response, Failure> {
    let bad =
        |why: String| Failure::BadAnswer(format!("{function} answered something that is not an HTTP response: {why}"));
    let value: Value = serde_json::from_slice(answer).map_err(|e| bad(e.to_string()))?;
    let status = value
        .get("statusCode")
        .and_then(Value::as_u64)
        .and_then(|s| u16::try_from(s).ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .ok_or_else(|| bad("no valid statusCode".into()))?;
    let mut response = Response::builder().status(status);
    let headers = response.headers_mut().expect("builder without error");
    let mut add = |name: &str, value: &str| -> Result<(), Failure> {
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|e| bad(format!("header {name}: {e}")))?;
        if hop_by_hop(&name) {
            return Ok(());
        }
        let value = HeaderValue::from_str(value).map_err(|e| bad(format!("header {name}: {e}")))?;
        headers.append(name, value);
        Ok(())
    };
    if let Some(map) = value.get("headers").and_then(Value::as_object) {
        for (name, v) in map {
            add(name, v.as_str().ok_or_else(|| bad(format!("header {name} is not a string")))?)?;
        }
    }
    if let Some(map) = value.get("multiValueHeaders").and_then(Value::as_object) {
        for (name, values) in map {
            for v in values.as_array().into_iter().flatten() {
                add(name, v.as_str().ok_or_else(|| bad(format!("header {name} is not a string")))?)?;
            }
        }
    }
    for cookie in value.get("cookies").and_then(Value::as_array).into_iter().flatten() {
        add("set-cookie", cookie.as_str().ok_or_else(|| bad("a cookie is not a string".into()))?)?;
    }
    let body = match value.get("body") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(text)) if value.get("isBase64Encoded") == Some(&Value::Bool(true)) => {
            BASE64.decode(text).map_err(|e| bad(format!("body is not base64: {e}")))?
        }
        Some(Value::String(text)) => text.clone().into_bytes(),
        Some(_) => return Err(bad("body is not a string".into())),
    };
    Ok(response.body(Body::from(body)).expect("valid parts"))
}

/// Headers that describe one hop, not the message (RFC 9110 §7.6.1), plus those recomputed for the new body.
fn hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "transfer-encoding"
            | "te"
            | "trailer"
            | "upgrade"
            | "content-length"
    )
}

fn json_response(status: StatusCode, content_type: &str, body: Value) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body.to_string()))
        .expect("static response")
}

/// The problem+json answer of a failure between the gateway and `function`.
pub fn failure_response(function: &str, failure: &Failure) -> Response {
    let (status, code, title, detail) = match failure {
        Failure::Unavailable(d) => {
            (StatusCode::SERVICE_UNAVAILABLE, "function-unavailable", "The function is unavailable", d)
        }
        Failure::BadAnswer(d) => (StatusCode::BAD_GATEWAY, "function-failed", "The function failed", d),
    };
    json_response(
        status,
        "application/problem+json",
        json!({
            "type": format!("urn:acd-integrations:problem:{code}"),
            "title": title,
            "status": status.as_u16(),
            "code": code,
            "function": function,
            "detail": detail,
        }),
    )
}

/// The files behind `GET /docs` and `GET /docs/openapi.yaml`.
#[derive(Debug, Clone)]
pub struct Docs {
    pub page: PathBuf,
    pub spec: PathBuf,
}

impl Docs {
    /// The repository's files, relative to `root`.
    pub fn in_repo(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        Self { page: root.join("clients/docs/index.html"), spec: root.join("infra/openapi.yaml") }
    }

    /// The answer to `path` when it is a docs path (`None` otherwise).
    pub async fn serve(&self, method: &Method, path: &str) -> Option<Response> {
        let (file, content_type) = match path.trim_end_matches('/') {
            "/docs" => (&self.page, "text/html; charset=utf-8"),
            "/docs/openapi.yaml" => (&self.spec, "application/yaml"),
            _ => return None,
        };
        if method != Method::GET && method != Method::HEAD {
            let mut response = problem(StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed", "Only GET", "");
            response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            return Some(response);
        }
        Some(match tokio::fs::read(file).await {
            Ok(bytes) => Response::builder()
                .status(StatusCode::OK)
                .header(header::CONTENT_TYPE, content_type)
                .body(if method == Method::HEAD { Body::empty() } else { Body::from(bytes) })
                .expect("static response"),
            Err(e) => problem(
                StatusCode::NOT_FOUND,
                "docs-not-rendered",
                "The API docs are not rendered",
                &format!("{}: {e}; `scripts/api-kit` renders them", file.display()),
            ),
        })
    }
}

fn problem(status: StatusCode, code: &str, title: &str, detail: &str) -> Response {
    json_response(
        status,
        "application/problem+json",
        json!({
            "type": format!("urn:acd-integrations:problem:{code}"),
            "title": title,
            "status": status.as_u16(),
            "code": code,
            "detail": detail,
        }),
    )
}

impl Gateway {
    pub fn new(lambda_url: &str) -> Self {
        let client = reqwest::Client::builder()
            // The first request to a function waits for `cargo run` (a build when the code changed).
            .timeout(Duration::from_secs(600))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("HTTP client");
        let slots = || std::sync::Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT_PER_FUNCTION));
        Self {
            lambda_url: lambda_url.trim_end_matches('/').to_owned(),
            client,
            cors: Cors::default(),
            docs: None,
            in_flight: std::sync::Arc::new([(INTEGRATIONS_API, slots()), (QUEUES_QUERY, slots())]),
        }
    }

    pub fn with_cors(mut self, cors: Cors) -> Self {
        self.cors = cors;
        self
    }

    /// Serves `GET /docs` and `GET /docs/openapi.yaml` from `docs`.
    pub fn with_docs(mut self, docs: Docs) -> Self {
        self.docs = Some(docs);
        self
    }

    pub fn router(self) -> axum::Router {
        axum::Router::new().fallback(proxy).with_state(self)
    }

    /// Invokes `function` with `event` and returns its answer (the payload 2.0 response document).
    pub async fn invoke(&self, function: &str, event: &Value) -> Result<Bytes, Failure> {
        let _slot = match self.in_flight.iter().find(|(name, _)| *name == function) {
            Some((_, slots)) => Some(slots.clone().acquire_owned().await.expect("never closed")),
            None => None,
        };
        let url = format!("{}/2015-03-31/functions/{function}/invocations", self.lambda_url);
        let answer = self
            .client
            .post(&url)
            .header(header::CONTENT_TYPE, "application/json")
            .body(event.to_string())
            .send()
            .await
            .map_err(|e| Failure::Unavailable(format!("{function} unreachable through the Lambda emulator: {e}")))?;
        let status = answer.status();
        let body = answer
            .bytes()
            .await
            .map_err(|e| Failure::Unavailable(format!("{function}: reading its answer failed: {e}")))?;
        if status == StatusCode::OK {
            return Ok(body);
        }
        let text = String::from_utf8_lossy(&body);
        let text = text.chars().take(500).collect::<String>();
        // The function's own error (`errorType`/`errorMessage`) or the emulator's problem document.
        match serde_json::from_slice::<Value>(&body) {
            Ok(v) if v.get("errorType").is_some() || v.get("errorMessage").is_some() => {
                Err(Failure::BadAnswer(format!("{function} failed: {text}")))
            }
            _ => Err(Failure::Unavailable(format!("the Lambda emulator answered {status} for {function}: {text}"))),
        }
    }

    /// Invokes the function of the route `routed` (the request's, [`http_api_path`]) with the request's event.
    async fn forward(&self, routed: &RoutedPath, request: Request) -> Result<Response, Failure> {
        let (parts, body) = request.into_parts();
        let body: Bytes = axum::body::to_bytes(body, MAX_BODY)
            .await
            .map_err(|e| Failure::BadAnswer(format!("reading the request body: {e}")))?;
        let event = http_api_event(
            &parts.method,
            &parts.uri,
            routed,
            &parts.headers,
            &body,
            &uuid::Uuid::new_v4().to_string(),
            chrono::Utc::now(),
        );
        let answer = self.invoke(routed.function, &event).await?;
        function_response(routed.function, &answer)
    }
}

async fn proxy(State(gateway): State<Gateway>, request: Request) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let origin = request.headers().get(header::ORIGIN).and_then(|o| o.to_str().ok()).map(str::to_owned);
    if method == Method::OPTIONS
        && let Some(origin) = origin.as_deref()
        && request.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    {
        tracing::info!(%method, %path, origin, "204: CORS preflight");
        return gateway.cors.preflight(origin);
    }
    if let Some(target) = request.headers().get("x-amz-target").and_then(|t| t.to_str().ok()).map(str::to_owned)
        && crate::events::is_eventbridge_call(request.headers())
    {
        // The functions' EventBridge client (status events), pointed here by scripts/run-local.
        let body = axum::body::to_bytes(request.into_body(), MAX_BODY).await.unwrap_or_default();
        return crate::events::handle(&target, &body).0;
    }
    let docs = match &gateway.docs {
        Some(docs) => docs.serve(&method, &path).await,
        None => None,
    };
    let mut response = if let Some(response) = docs {
        tracing::info!(%method, %path, status = response.status().as_u16(), "docs");
        response
    } else {
        // The path is decoded here once for the whole request: the event is built from this reading.
        match http_api_path(method.as_str(), &path) {
            Err(rejected) => {
                match rejected {
                    PathRejected::BadRequest => tracing::info!(%method, %path, "400: the path does not decode twice"),
                    PathRejected::NotFound => tracing::info!(%method, %path, "404: no route has this method and path"),
                }
                let (status, body) = rejected.answer();
                json_response(status, "application/json", body)
            }
            Ok(routed) => {
                let function = routed.function;
                let started = std::time::Instant::now();
                match gateway.forward(&routed, request).await {
                    Ok(response) => {
                        let status = response.status().as_u16();
                        let ms = started.elapsed().as_millis() as u64;
                        tracing::info!(%method, %path, function, status, ms, "invoked");
                        response
                    }
                    Err(failure) => {
                        tracing::warn!(%method, %path, function, ?failure, "function failed");
                        failure_response(function, &failure)
                    }
                }
            }
        }
    };
    gateway.cors.decorate(origin.as_deref(), response.headers_mut());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_follow_the_openapi_tags() {
        for (path, function) in [
            ("/integration-types", Some(INTEGRATIONS_API)),
            ("/health", Some(INTEGRATIONS_API)),
            ("/integrations", Some(INTEGRATIONS_API)),
            ("/integrations/", Some(INTEGRATIONS_API)),
            ("/integrations/test-connection", Some(INTEGRATIONS_API)),
            ("/integrations/0193a1c2-7b1e-7cc0-9f3e-2d6f0c1a9b01", Some(INTEGRATIONS_API)),
            ("/integrations/x/pause", Some(INTEGRATIONS_API)),
            ("/integrations/x/resume", Some(INTEGRATIONS_API)),
            ("/integrations/x/import", Some(INTEGRATIONS_API)),
            ("/integrations/x/runs", Some(INTEGRATIONS_API)),
            ("/integrations/x/external-agents", Some(QUEUES_QUERY)),
            ("/integrations/x/external-agents/jane.doe%40acme.com", Some(QUEUES_QUERY)),
            ("/integrations/x/external-statuses", Some(QUEUES_QUERY)),
            ("/integrations/x/external-statuses/Not%20Ready", Some(QUEUES_QUERY)),
            ("/queues", Some(QUEUES_QUERY)),
            ("/queues/q1", Some(QUEUES_QUERY)),
            ("/queues/q1/intervals", Some(QUEUES_QUERY)),
            ("/agent-states", Some(QUEUES_QUERY)),
            ("/ingest/agent-events", Some(INGEST)),
            ("/integrations/x/ingest-keys", Some(INTEGRATIONS_API)),
            ("/", None),
            ("/agent-states/x", None),
            ("/integration-types/x", None),
            ("/lambda-url/import/", None),
            ("/2015-03-31/functions/import/invocations", None),
        ] {
            assert_eq!(route(path), function, "{path}");
        }
    }

    fn event_of(method: &str, uri: &str, headers: &[(&str, &str)], body: &[u8]) -> Value {
        let mut map = HeaderMap::new();
        for (n, v) in headers {
            map.append(HeaderName::from_bytes(n.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
        }
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-30T10:11:12.345Z").unwrap().to_utc();
        let uri: http::Uri = uri.parse().unwrap();
        let routed = http_api_path(method, uri.path()).expect("a route");
        http_api_event(&method.parse().unwrap(), &uri, &routed, &map, body, "req-1", now)
    }

    #[test]
    fn the_event_is_api_gateways_payload_2_0() {
        let event = event_of(
            "GET",
            "/queues/q%201/intervals?from=2026-11-30T00%3A00%3A00Z&to=x&to=y&q=a+b",
            &[("X-Tenant-Id", "t1"), ("Accept", "a"), ("accept", "b"), ("Cookie", "c1=1; c2=2"), ("host", "h:1")],
            b"",
        );
        assert_eq!(event["version"], "2.0");
        assert_eq!(event["routeKey"], "GET /queues/{id}/intervals");
        assert_eq!(event["requestContext"]["routeKey"], "GET /queues/{id}/intervals");
        assert_eq!(event["pathParameters"], json!({"id": "q 1"}));
        assert_eq!(event["rawPath"], "/queues/q 1/intervals", "decoded, as API Gateway passes it");
        assert_eq!(event["rawQueryString"], "from=2026-11-30T00%3A00%3A00Z&to=x&to=y&q=a+b");
        assert_eq!(event["queryStringParameters"], json!({"from": "2026-11-30T00:00:00Z", "to": "x,y", "q": "a b"}));
        assert_eq!(event["headers"]["x-tenant-id"], "t1");
        assert_eq!(event["headers"]["accept"], "a,b");
        assert!(event["headers"].get("cookie").is_none());
        assert_eq!(event["cookies"], json!(["c1=1", "c2=2"]));
        assert_eq!(event["requestContext"]["http"]["method"], "GET");
        assert_eq!(event["requestContext"]["requestId"], "req-1");
        assert_eq!(event["requestContext"]["timeEpoch"], 1_796_033_472_345_i64);
        assert_eq!(event["isBase64Encoded"], false);
        assert!(event.get("body").is_none(), "an empty body is absent: {event}");
        // lambda_http reads it as the functions will.
        let request = lambda_http::request::from_str(&event.to_string()).expect("lambda_http reads the event");
        assert_eq!(request.uri().path(), "/queues/q%201/intervals");
        assert_eq!(request.headers()["x-tenant-id"], "t1");
    }

    /// API Gateway's reading of each path of the published captures (hotsock/voker, `ingress-paths.json`: sent
    /// path, `rawPath` or a 400), here under this API's routes, and what the path variables get.
    #[test]
    fn paths_are_decoded_as_api_gateways_http_api_decodes_them() {
        let routed =
            |path: &str| http_api_path("PUT", path).map(|r| (r.route, r.raw_path, Value::Object(r.parameters)));
        let status = "/integrations/{id}/external-statuses/{status_id}";
        for (sent, raw, value) in [
            ("/integrations/i/external-statuses/plain", "/integrations/i/external-statuses/plain", "plain"),
            ("/integrations/i/external-statuses/a%20b", "/integrations/i/external-statuses/a b", "a b"),
            ("/integrations/i/external-statuses/a%23b", "/integrations/i/external-statuses/a#b", "a#b"),
            ("/integrations/i/external-statuses/%CE%BB-%E4%B8%96", "/integrations/i/external-statuses/λ-世", "λ-世"),
            // Encoded twice: whole (the captures' `literal%252Fvalue`, `%253F`, `%2525`).
            ("/integrations/i/external-statuses/a%252Fb", "/integrations/i/external-statuses/a/b", "a/b"),
            ("/integrations/i/external-statuses/a%253Fb", "/integrations/i/external-statuses/a?b", "a?b"),
            ("/integrations/i/external-statuses/a%2525b", "/integrations/i/external-statuses/a%b", "a%b"),
            // A decoded `?` ends the path (the captures' `question%3Fvalue`): the id is cut there.
            ("/integrations/i/external-statuses/Away%3F", "/integrations/i/external-statuses/Away", "Away"),
            ("/integrations/i/external-statuses/a%3Fb/c", "/integrations/i/external-statuses/a", "a"),
        ] {
            assert_eq!(routed(sent), Ok((status, raw.to_owned(), json!({"id": "i", "status_id": value}))), "{sent}");
        }
        // `%2F` once: a `/` of the path, so no route (or another one).
        assert_eq!(routed("/integrations/i/external-statuses/a%2Fb"), Err(PathRejected::NotFound));
        assert_eq!(http_api_path("GET", "/queues/a%2Fintervals").unwrap().route, "/queues/{id}/intervals");
        // `%25` once: the second decoding fails (the captures' `percent%25done`: 400).
        assert_eq!(routed("/integrations/i/external-statuses/50%25done"), Err(PathRejected::BadRequest));
        assert_eq!(routed("/integrations/i/external-statuses/50%"), Err(PathRejected::BadRequest));
        assert_eq!(routed("/integrations/i/external-statuses/%FF"), Err(PathRejected::BadRequest));
        // A literal segment wins over a variable; unknown shapes are no route.
        let test_connection = http_api_path("POST", "/integrations/test-connection").unwrap();
        assert_eq!(test_connection.route, "/integrations/test-connection");
        let connect = http_api_path("GET", "/integrations/amazon-connect/external-id").unwrap();
        assert_eq!((connect.route, connect.parameters.len()), ("/integrations/amazon-connect/external-id", 0));
        assert_eq!(http_api_path("GET", "/integrations/x").unwrap().route, "/integrations/{id}");
        assert_eq!(http_api_path("DELETE", "/integrations/x/ingest-keys/%2e%2e").unwrap().parameters["key_id"], "..");
        assert_eq!(routed("/integrations/x/nothing"), Err(PathRejected::NotFound));
        assert_eq!(routed("/"), Err(PathRejected::NotFound));
    }

    /// Routes are a method and a path, as in the template: a path with no route of the request's method is no route
    /// (API Gateway's 404), and among the routes of that method the most specific path wins.
    #[test]
    fn routes_are_a_method_and_a_path() {
        let routed = |method: &str, path: &str| http_api_path(method, path).map(|r| (r.route, r.function));
        assert_eq!(routed("GET", "/integrations"), Ok(("/integrations", INTEGRATIONS_API)));
        assert_eq!(routed("post", "/integrations"), Ok(("/integrations", INTEGRATIONS_API)), "any case, as HTTP");
        for (method, path) in [
            ("PUT", "/integrations"),
            ("POST", "/queues"),
            ("POST", "/health"),
            ("HEAD", "/health"),
            ("OPTIONS", "/integrations"),
            ("GET", "/integrations/x/external-agents/a"),
            ("DELETE", "/integrations/x/ingest-keys"),
            ("GET", "/ingest/queues"),
            ("PATCH", "/integrations/x/pause"),
        ] {
            assert_eq!(routed(method, path), Err(PathRejected::NotFound), "{method} {path}");
        }
        // `GET /integrations/test-connection` is the route `GET /integrations/{id}`: the only GET route of that
        // shape (`/integrations/test-connection` has a POST route only).
        assert_eq!(routed("GET", "/integrations/test-connection"), Ok(("/integrations/{id}", INTEGRATIONS_API)));
        assert_eq!(
            routed("PUT", "/integrations/x/external-agents/a"),
            Ok(("/integrations/{id}/external-agents/{external_id}", QUEUES_QUERY))
        );
        assert_eq!(routed("POST", "/ingest/queues"), Ok(("/ingest/queues", INGEST)));
    }

    /// The spec's operations are the routes, each under the function its tag names (`integrations`:
    /// `integrations-api`, `queries`: `queues-query`, `ingest`: `ingest`).
    #[test]
    fn every_route_of_the_spec_has_a_function() {
        let routes = routes();
        assert_eq!(routes.len(), 30, "the spec's 30 operations: {routes:?}");
        // Each operation's `tags:` line (six spaces in) follows its method key (four), in the order of `routes()`.
        let mut operations = routes.iter();
        let (mut current, mut checked) = (None, 0);
        for line in OPENAPI.lines() {
            let key = line.strip_prefix("    ").and_then(|l| l.strip_suffix(':'));
            if key.is_some_and(|key| routes.iter().any(|(method, _)| *method == key)) {
                current = operations.next();
            } else if let (Some((method, path)), Some(tag)) = (current, line.strip_prefix("      tags: [")) {
                let function = match tag.trim_end_matches(']') {
                    "integrations" => INTEGRATIONS_API,
                    "queries" => QUEUES_QUERY,
                    "ingest" => INGEST,
                    other => panic!("{method} {path}: tag {other}"),
                };
                assert_eq!(route(path), Some(function), "{method} {path}");
                let routed = http_api_path(method, path).unwrap();
                assert_eq!((routed.route, routed.function), (*path, function), "{method} {path}");
                (current, checked) = (None, checked + 1);
            }
        }
        assert_eq!(checked, routes.len(), "every operation has a tag");
        for expected in [("get", "/health"), ("post", "/integrations/{id}/pause"), ("post", "/ingest/agent-events")] {
            assert!(routes.contains(&expected), "{expected:?}");
        }
        let agents = "/integrations/{id}/external-agents/{external_id}";
        assert!(routes.contains(&("put", agents)) && routes.contains(&("delete", agents)));
        assert!(!routes.contains(&("get", agents)));
    }

    /// A fake Lambda invoke API: every event it receives (function, event), each answered 200 `{}`.
    async fn recording_functions() -> (String, std::sync::Arc<std::sync::Mutex<Vec<(String, Value)>>>) {
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let record = seen.clone();
        let app = axum::Router::new().route(
            "/2015-03-31/functions/{function}/invocations",
            axum::routing::post(move |axum::extract::Path(function): axum::extract::Path<String>, body: String| {
                let record = record.clone();
                async move {
                    record.lock().unwrap().push((function, serde_json::from_str::<Value>(&body).unwrap()));
                    json!({"statusCode": 200, "headers": {"content-type": "application/json"}, "body": "{}"})
                        .to_string()
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (url, seen)
    }

    /// A request that no route takes gets API Gateway's own 404 and reaches no function: a path split by a `%2F`
    /// encoded once, an unknown path, a wrong method. The same id encoded twice reaches the function whole.
    #[tokio::test]
    async fn a_request_of_no_route_is_api_gateways_404_and_reaches_no_function() {
        let (lambda, seen) = recording_functions().await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, Gateway::new(&lambda).router()).await.unwrap() });
        let client = reqwest::Client::new();
        let call = |method: &str, path: &str| {
            let request = client.request(method.parse().unwrap(), format!("{base}{path}")).header("x-tenant-id", "t");
            async move {
                let answer = request.send().await.unwrap();
                let status = answer.status().as_u16();
                let content_type = answer.headers()[header::CONTENT_TYPE].to_str().unwrap().to_owned();
                (status, content_type, answer.json::<Value>().await.unwrap())
            }
        };

        let not_found = (404, "application/json".to_owned(), json!({"message": "Not Found"}));
        for (method, path) in [
            // Decoded once to be routed: `/integrations/abc/def/external-agents`, no route.
            ("GET", "/integrations/abc%2Fdef/external-agents"),
            ("PUT", "/integrations/i/external-statuses/Break%2FLunch"),
            ("DELETE", "/integrations/abc%2Fdef"),
            ("GET", "/integrations/i/nothing"),
            ("GET", "/nothing-here"),
            // Wrong methods: no route of that method has the path.
            ("PUT", "/integrations"),
            ("POST", "/queues"),
            ("GET", "/integrations/i/external-agents/a"),
        ] {
            assert_eq!(call(method, path).await, not_found, "{method} {path}");
        }
        assert_eq!(seen.lock().unwrap().len(), 0, "no function invoked: {:?}", seen.lock().unwrap());

        // Encoded twice, the id reaches the function whole, under its route.
        let (status, _, _) = call("PUT", "/integrations/i/external-statuses/Break%252FLunch").await;
        assert_eq!(status, 200);
        let (status, _, _) = call("GET", "/integrations/abc%252Fdef/external-agents").await;
        assert_eq!(status, 200);
        let seen = seen.lock().unwrap();
        let (function, event) = &seen[0];
        assert_eq!(function, QUEUES_QUERY);
        assert_eq!(event["routeKey"], "PUT /integrations/{id}/external-statuses/{status_id}");
        assert_eq!(event["pathParameters"], json!({"id": "i", "status_id": "Break/Lunch"}));
        assert_eq!(event["rawPath"], "/integrations/i/external-statuses/Break/Lunch");
        let (function, event) = &seen[1];
        assert_eq!(
            (function.as_str(), &event["routeKey"]),
            (QUEUES_QUERY, &json!("GET /integrations/{id}/external-agents"))
        );
        assert_eq!(event["pathParameters"], json!({"id": "abc/def"}));
        assert_eq!(seen.len(), 2);
    }

    #[test]
    fn a_body_that_is_not_utf8_is_passed_base64_encoded() {
        let text = event_of("POST", "/integrations", &[("content-type", "application/json")], b"{\"a\":\"\xc3\xa9\"}");
        assert_eq!(text["body"], "{\"a\":\"é\"}");
        assert_eq!(text["isBase64Encoded"], false);
        let binary =
            event_of("POST", "/integrations", &[("content-type", "application/json")], b"{\"a\":\"\xff\xfe\"}");
        assert_eq!(binary["isBase64Encoded"], true);
        assert_eq!(BASE64.decode(binary["body"].as_str().unwrap()).unwrap(), b"{\"a\":\"\xff\xfe\"}");
        let request = lambda_http::request::from_str(&binary.to_string()).expect("lambda_http reads the event");
        assert_eq!(request.body().as_ref(), b"{\"a\":\"\xff\xfe\"}");
    }

    #[tokio::test]
    async fn the_functions_answer_becomes_the_response() {
        let answer = json!({
            "statusCode": 201,
            "headers": {"content-type": "application/json", "location": "/integrations/1", "content-length": "999"},
            "multiValueHeaders": {"x-many": ["1", "2"]},
            "cookies": ["a=1"],
            "body": "{\"id\":\"1\"}",
            "isBase64Encoded": false,
        });
        let response = function_response("f", answer.to_string().as_bytes()).unwrap();
        assert_eq!(response.status(), 201);
        assert_eq!(response.headers()["location"], "/integrations/1");
        assert!(response.headers().get("content-length").is_none(), "recomputed for the body");
        assert_eq!(response.headers().get_all("x-many").iter().count(), 2);
        assert_eq!(response.headers()["set-cookie"], "a=1");
        let body = axum::body::to_bytes(response.into_body(), 1000).await.unwrap();
        assert_eq!(&body[..], b"{\"id\":\"1\"}");

        let binary = json!({"statusCode": 200, "body": BASE64.encode(b"\xff\x00"), "isBase64Encoded": true});
        let response = function_response("f", binary.to_string().as_bytes()).unwrap();
        assert_eq!(&axum::body::to_bytes(response.into_body(), 1000).await.unwrap()[..], b"\xff\x00");

        for broken in
            [&b"not json"[..], b"{\"body\":\"x\"}", b"{\"statusCode\":99}", b"{\"statusCode\":200,\"body\":1}"]
        {
            match function_response("queues-query", broken) {
                Err(Failure::BadAnswer(why)) => assert!(why.contains("queues-query"), "{why}"),
                other => panic!("{:?}: {:?}", String::from_utf8_lossy(broken), other.map(|r| r.status())),
            }
        }
    }

    #[tokio::test]
    async fn failures_are_problem_documents_naming_the_function() {
        for (failure, status) in
            [(Failure::Unavailable("down".into()), 503), (Failure::BadAnswer("panicked".into()), 502)]
        {
            let response = failure_response("integrations-api", &failure);
            assert_eq!(response.status(), status);
            assert_eq!(response.headers()["content-type"], "application/problem+json");
            let body = axum::body::to_bytes(response.into_body(), 10_000).await.unwrap();
            let body: Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(body["status"], status);
            assert_eq!(body["function"], "integrations-api");
        }
    }

    #[tokio::test]
    async fn cors_is_answered_like_the_templates_configuration() {
        let cors = Cors::default();
        let preflight = cors.preflight("http://localhost:5173");
        assert_eq!(preflight.status(), 204);
        let h = preflight.headers();
        assert_eq!(h["access-control-allow-origin"], "*");
        assert_eq!(h["access-control-allow-methods"], "GET,POST,PUT,PATCH,DELETE");
        assert!(h["access-control-allow-headers"].to_str().unwrap().contains("x-tenant-id"));
        assert_eq!(h["access-control-max-age"], "600");

        let one = Cors { allow_origin: "http://localhost:5173".into(), ..Cors::default() };
        assert_eq!(
            one.preflight("http://localhost:5173").headers()["access-control-allow-origin"],
            "http://localhost:5173"
        );
        assert!(one.preflight("http://evil.example").headers().get("access-control-allow-origin").is_none());
        let mut headers = HeaderMap::new();
        one.decorate(Some("http://localhost:5173"), &mut headers);
        assert_eq!(headers["access-control-expose-headers"], "location,idempotent-replayed");
        let mut headers = HeaderMap::new();
        one.decorate(None, &mut headers);
        assert!(headers.is_empty());
    }

    #[tokio::test]
    async fn docs_are_served_from_the_rendered_page_and_the_spec() {
        let dir = std::env::temp_dir().join(format!("gateway-docs-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(dir.join("infra")).unwrap();
        std::fs::write(dir.join("infra/openapi.yaml"), "openapi: 3.1.0\n").unwrap();
        let docs = Docs::in_repo(&dir);
        let body = |r: Response| async { axum::body::to_bytes(r.into_body(), 100_000).await.unwrap() };

        // Not rendered yet: a 404 problem naming the command.
        let missing = docs.serve(&Method::GET, "/docs").await.expect("a docs path");
        assert_eq!(missing.status(), 404);
        let problem: Value = serde_json::from_slice(&body(missing).await).unwrap();
        assert_eq!(problem["code"], "docs-not-rendered");
        assert!(problem["detail"].as_str().unwrap().contains("scripts/api-kit"));

        std::fs::create_dir_all(dir.join("clients/docs")).unwrap();
        std::fs::write(dir.join("clients/docs/index.html"), "<html>redoc</html>").unwrap();
        for path in ["/docs", "/docs/"] {
            let page = docs.serve(&Method::GET, path).await.expect("a docs path");
            assert_eq!(page.status(), 200);
            assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
            assert_eq!(&body(page).await[..], b"<html>redoc</html>");
        }
        let spec = docs.serve(&Method::GET, "/docs/openapi.yaml").await.expect("a docs path");
        assert_eq!((spec.status().as_u16(), &body(spec).await[..]), (200, &b"openapi: 3.1.0\n"[..]));
        let post = docs.serve(&Method::POST, "/docs").await.expect("a docs path");
        assert_eq!((post.status().as_u16(), post.headers()["allow"].to_str().unwrap()), (405, "GET, HEAD"));
        // Everything else goes to the functions.
        for other in ["/", "/documents", "/docs/x", "/integrations"] {
            assert!(docs.serve(&Method::GET, other).await.is_none(), "{other}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
