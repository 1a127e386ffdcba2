//! The simulator's routes. Wire format per `genesys-cloud.md` and the platform SDK models.
//!
//! Behaviour worth knowing (stricter than, or not verified against, the real service):
//! - listings cap `pageSize` at the configured maximum and link pages with relative `nextUri`/`previousUri`;
//! - the queue listing is sorted by name; deleted queues vanish from it but keep their analytics data (deleted users
//!   likewise from the user listing, whatever `state` asks for);
//! - aggregates: `interval` must be aligned to 15 minutes and span ≤ 7 days, `granularity` must be `PT15M`,
//!   `timeZone` `UTC` (or absent), `groupBy` exactly `queueId` + `mediaType`, ≤ 100 `queueId` predicates; buckets
//!   without data are omitted, metrics without data are omitted, an answer without any group is `{}`;
//! - user details: ≤ 7 days without a user filter, ≤ 31 days with one, ≤ 100 `userId` predicates, `pageSize`
//!   ≤ 100; one "hit" is a (user, UTC day) with records, `totalHits` counts hits, and a page holds the hits of the
//!   page merged per user (so pages usually hold fewer rows than the page size, and a record spanning days appears
//!   on every page that holds one of its days); no data is `{"totalHits":0}`;
//! - 403 permission names (`routing:queue:view`, …) are plausible, not verified.

// Handlers return the HTTP answer itself as their error: boxing it would only add noise to test code.
#![allow(clippy::result_large_err)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use acd_connectors::genesys::GenesysAgentId;
use acd_domain::TimeWindow;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::data::{DAY, INTERVAL, MediaType, PresenceRec, RoutingRec, UserState};
use super::{ActiveFault, Correction, Fault, FaultKind, FaultTarget, Shared};

type S = Arc<Shared>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Token,
    Queues,
    Users,
    PresenceDefinitions,
    Aggregates,
    UserDetails,
}

impl Route {
    fn hit_by(self, target: FaultTarget) -> bool {
        match target {
            FaultTarget::Any => true,
            FaultTarget::AnyApi => self != Route::Token,
            FaultTarget::Token => self == Route::Token,
            FaultTarget::Queues => self == Route::Queues,
            FaultTarget::Users => self == Route::Users,
            FaultTarget::PresenceDefinitions => self == Route::PresenceDefinitions,
            FaultTarget::Aggregates => self == Route::Aggregates,
            FaultTarget::UserDetails => self == Route::UserDetails,
        }
    }
    fn permission(self) -> Option<&'static str> {
        match self {
            Route::Token => None,
            Route::Queues => Some("routing:queue:view"),
            Route::Users => Some("directory:user:view"),
            Route::PresenceDefinitions => Some("presence:presenceDefinition:view"),
            Route::Aggregates => Some("analytics:conversationAggregate:view"),
            Route::UserDetails => Some("analytics:userDetail:view"),
        }
    }
}

pub(crate) fn router(shared: S) -> Router {
    Router::new()
        .route("/oauth/token", post(token))
        .route("/api/v2/routing/queues", get(queues))
        .route("/api/v2/users", get(users))
        .route("/api/v2/presence/definitions", get(presence_definitions))
        .route("/api/v2/analytics/conversations/aggregates/query", post(aggregates))
        .route("/api/v2/analytics/users/details/query", post(user_details))
        .route("/__sim/info", get(sim_info))
        .route("/__sim/truth/queues", get(truth_queues))
        .route("/__sim/truth/agents", get(truth_agents))
        .route("/__sim/truth/statuses", get(truth_statuses))
        .route("/__sim/truth/interval-stats", get(truth_interval_stats))
        .route("/__sim/truth/agent-segments", get(truth_agent_segments))
        .route("/__sim/faults", post(sim_add_fault).delete(sim_clear_faults))
        .route("/__sim/clock", post(sim_clock))
        .route("/__sim/queues/{id}/rename", post(sim_rename_queue))
        .route("/__sim/queues/{id}", axum::routing::delete(sim_delete_queue))
        .route("/__sim/corrections", post(sim_correction))
        .route("/__sim/tokens/revoke", post(sim_revoke_tokens))
        .route("/__sim/permissions/missing", post(sim_missing_permissions))
        .route("/__sim/requests", get(sim_requests))
        .fallback(not_found)
        .with_state(shared)
}

// ---- responses ---------------------------------------------------------------------------------------------------

fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

/// The platform API's error body.
fn api_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({
        "message": message,
        "code": code,
        "status": status.as_u16(),
        "messageWithParams": message,
        "messageParams": {},
        "contextId": uuid::Uuid::new_v4().to_string(),
        "details": [],
        "errors": [],
    });
    json_response(status, body.to_string().into_bytes())
}

/// The login service's error body.
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let body = json!({"error": error, "description": description, "error_description": description});
    json_response(status, body.to_string().into_bytes())
}

fn forbidden(permission: &str) -> Response {
    let message = format!("You are missing the following permission(s): [{permission}]");
    let body = json!({
        "message": message,
        "code": "missing.permissions",
        "status": 403,
        "messageWithParams": "You are missing the following permission(s): [{permissions}]",
        "messageParams": {"permissions": permission},
        "contextId": uuid::Uuid::new_v4().to_string(),
        "details": [],
        "errors": [],
    });
    json_response(StatusCode::FORBIDDEN, body.to_string().into_bytes())
}

fn rate_limited(retry_after_secs: u64) -> Response {
    let mut r = api_error(
        StatusCode::TOO_MANY_REQUESTS,
        "too.many.requests",
        &format!("Rate limit exceeded the maximum. Retry the request in [{retry_after_secs}] seconds"),
    );
    if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

fn bad_request(message: &str) -> Response {
    api_error(StatusCode::BAD_REQUEST, "bad.request", message)
}

fn invalid_value(message: &str) -> Response {
    api_error(StatusCode::BAD_REQUEST, "invalid.value", message)
}

async fn not_found() -> Response {
    api_error(StatusCode::NOT_FOUND, "not.found", "The requested resource was not found.")
}

fn iso(ms: i64) -> String {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default().to_rfc3339_opts(SecondsFormat::Millis, true)
}

// ---- the request pipeline ------------------------------------------------------------------------------------------

impl Shared {
    fn count(&self, route: Route) {
        let mut s = self.lock();
        let c = &mut s.counts;
        match route {
            Route::Token => c.token += 1,
            Route::Queues => c.queues += 1,
            Route::Users => c.users += 1,
            Route::PresenceDefinitions => c.presence_definitions += 1,
            Route::Aggregates => c.aggregates += 1,
            Route::UserDetails => c.user_details += 1,
        }
    }

    fn take_fault(&self, route: Route) -> Option<FaultKind> {
        let mut s = self.lock();
        let mut found = None;
        for f in s.faults.iter_mut().filter(|f| route.hit_by(f.fault.target)) {
            if f.fault.times.is_some_and(|t| f.used >= t) {
                continue;
            }
            if f.skipped < f.fault.skip {
                f.skipped += 1;
                continue;
            }
            f.used += 1;
            found = Some(f.fault.kind.clone());
            break;
        }
        s.faults.retain(|f: &ActiveFault| f.fault.times.is_none_or(|t| f.used < t));
        found
    }

    /// `Err` with the 401 answer unless the bearer token is one we issued and still valid.
    fn authorize(&self, headers: &HeaderMap) -> Result<(), Response> {
        let raw = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or("");
        let token = raw.strip_prefix("Bearer ").or_else(|| raw.strip_prefix("bearer ")).map(str::trim);
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            self.lock().counts.api_unauthorized += 1;
            return Err(api_error(
                StatusCode::UNAUTHORIZED,
                "authentication.required",
                "No authentication bearer token specified in authorization header.",
            ));
        };
        let mut s = self.lock();
        let valid = s.tokens.get(token).is_some_and(|exp| *exp > Instant::now());
        if !valid {
            s.counts.api_unauthorized += 1;
            return Err(api_error(StatusCode::UNAUTHORIZED, "bad.credentials", "Invalid login credentials."));
        }
        Ok(())
    }

    /// Counts the request against the per-minute limit; `(count, allowed, reset secs)` or the 429 answer.
    fn rate(&self) -> Result<Option<(u32, u32, u64)>, Response> {
        let Some(allowed) = self.config.rate_limit_per_minute else { return Ok(None) };
        let mut s = self.lock();
        let now = Instant::now();
        if now.duration_since(s.rate_window.0) >= Duration::from_secs(60) {
            s.rate_window = (now, 0);
        }
        s.rate_window.1 += 1;
        let reset = 60u64.saturating_sub(now.duration_since(s.rate_window.0).as_secs()).max(1);
        let count = s.rate_window.1;
        if count > allowed {
            s.counts.rate_limited += 1;
            let mut r = rate_limited(reset);
            rate_headers(&mut r, count, allowed, reset);
            return Err(r);
        }
        Ok(Some((count, allowed, reset)))
    }
}

fn rate_headers(response: &mut Response, count: u32, allowed: u32, reset: u64) {
    let h = response.headers_mut();
    for (name, value) in [
        ("inin-ratelimit-count", u64::from(count)),
        ("inin-ratelimit-allowed", u64::from(allowed)),
        ("inin-ratelimit-reset", reset),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value.to_string()) {
            h.insert(name, v);
        }
    }
}

/// Faults, authentication, rate limit and permissions around one API route. `handle` makes the body; it is given the
/// fault that shapes it, if any (user details shift their hits under [`FaultKind::MoreHits`]).
async fn pipeline(
    s: S,
    route: Route,
    headers: &HeaderMap,
    handle: impl FnOnce(&Shared, Option<&FaultKind>) -> Result<Vec<u8>, Response>,
) -> Response {
    s.count(route);
    let mut after = None;
    match s.take_fault(route) {
        None => {}
        Some(FaultKind::Delay { ms }) => tokio::time::sleep(Duration::from_millis(ms)).await,
        Some(FaultKind::Hang) => tokio::time::sleep(Duration::from_secs(3600)).await,
        Some(FaultKind::RenameQueue { queue_id, name }) => {
            s.lock().renamed.insert(queue_id, name);
        }
        Some(FaultKind::DeleteQueue { queue_id }) => {
            s.lock().deleted.insert(queue_id);
        }
        Some(
            k @ (FaultKind::Malformed
            | FaultKind::MoreHits { .. }
            | FaultKind::ShortPage
            | FaultKind::NoRows
            | FaultKind::Truncated
            | FaultKind::Empty
            | FaultKind::MissingPaging
            | FaultKind::EmptyObject),
        ) => after = Some(k),
        Some(FaultKind::Unauthorized) => {
            s.lock().counts.api_unauthorized += 1;
            return api_error(StatusCode::UNAUTHORIZED, "bad.credentials", "Invalid login credentials.");
        }
        Some(FaultKind::Forbidden { permission }) => {
            return forbidden(permission.as_deref().or(route.permission()).unwrap_or("unknown"));
        }
        Some(FaultKind::RateLimited { retry_after_secs }) => {
            s.lock().counts.rate_limited += 1;
            return rate_limited(retry_after_secs);
        }
        Some(FaultKind::ServerError { status }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let (code, message) = match status.as_u16() {
                503 => ("service.unavailable", "The service is currently unavailable."),
                502 => ("bad.gateway", "Bad gateway."),
                504 => ("gateway.timeout", "The request timed out."),
                _ => ("internal.server.error", "The server encountered an unexpected error."),
            };
            return api_error(status, code, message);
        }
        Some(FaultKind::BadRequest) => return bad_request("The request could not be understood by the server."),
    }
    if let Err(r) = s.authorize(headers) {
        return r;
    }
    let rate = match s.rate() {
        Ok(r) => r,
        Err(r) => return r,
    };
    if let Some(p) = route.permission()
        && s.lock().missing_permissions.contains(p)
    {
        return forbidden(p);
    }
    let body = match after {
        Some(FaultKind::Empty) => Ok(empty_body(route)),
        Some(FaultKind::EmptyObject) => Ok(b"{}".to_vec()),
        Some(FaultKind::MissingPaging) => handle(&s, None).map(without_paging),
        Some(FaultKind::ShortPage) => handle(&s, None).map(short_page),
        Some(FaultKind::NoRows) if route == Route::UserDetails => handle(&s, None).map(no_rows),
        _ => handle(&s, after.as_ref()),
    };
    let mut response = match body {
        Err(r) => r,
        Ok(body) => match after {
            Some(FaultKind::Malformed) => {
                let mut r = (StatusCode::OK, "<html><body><h1>502 Bad Gateway</h1></body></html>").into_response();
                r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
                r
            }
            Some(FaultKind::Truncated) => {
                let cut = body.len() / 2;
                json_response(StatusCode::OK, body[..cut].to_vec())
            }
            _ => json_response(StatusCode::OK, body),
        },
    };
    if let Some((count, allowed, reset)) = rate {
        rate_headers(&mut response, count, allowed, reset);
    }
    response
}

/// The body without its paging fields (listings) and `totalHits` (user details).
fn without_paging(body: Vec<u8>) -> Vec<u8> {
    let Ok(mut v) = serde_json::from_slice::<Value>(&body) else { return body };
    if let Some(o) = v.as_object_mut() {
        for field in ["pageNumber", "pageCount", "nextUri", "total", "totalHits", "lastUri"] {
            o.remove(field);
        }
    }
    v.to_string().into_bytes()
}

/// The body without the last of its `entities`, everything else (paging fields included) kept.
fn short_page(body: Vec<u8>) -> Vec<u8> {
    let Ok(mut v) = serde_json::from_slice::<Value>(&body) else { return body };
    match v.get_mut("entities").and_then(Value::as_array_mut) {
        Some(entities) => {
            entities.pop();
            v.to_string().into_bytes()
        }
        None => body,
    }
}

/// User details without their `userDetails`, `totalHits` kept.
fn no_rows(body: Vec<u8>) -> Vec<u8> {
    let Ok(mut v) = serde_json::from_slice::<Value>(&body) else { return body };
    if let Some(o) = v.as_object_mut() {
        o.remove("userDetails");
    }
    v.to_string().into_bytes()
}

fn empty_body(route: Route) -> Vec<u8> {
    let v = match route {
        Route::Queues | Route::Users => {
            json!({"entities": [], "pageSize": 25, "pageNumber": 1, "total": 0, "pageCount": 0})
        }
        Route::PresenceDefinitions => json!({"total": 0, "entities": [], "selfUri": "/api/v2/presence/definitions"}),
        Route::Aggregates | Route::Token => json!({}),
        Route::UserDetails => json!({"totalHits": 0}),
    };
    v.to_string().into_bytes()
}

// ---- OAuth ----------------------------------------------------------------------------------------------------------

async fn token(State(s): State<S>, headers: HeaderMap, body: Bytes) -> Response {
    s.count(Route::Token);
    match s.take_fault(Route::Token) {
        // Faults of other routes' data: the token is answered as usual.
        None
        | Some(
            FaultKind::MoreHits { .. }
            | FaultKind::ShortPage
            | FaultKind::NoRows
            | FaultKind::RenameQueue { .. }
            | FaultKind::DeleteQueue { .. },
        ) => {}
        Some(FaultKind::Delay { ms }) => tokio::time::sleep(Duration::from_millis(ms)).await,
        Some(FaultKind::Hang) => tokio::time::sleep(Duration::from_secs(3600)).await,
        Some(FaultKind::Unauthorized) => {
            return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "client not found");
        }
        Some(FaultKind::Malformed) => return (StatusCode::OK, "<html>login</html>").into_response(),
        Some(FaultKind::Truncated) => return json_response(StatusCode::OK, br#"{"access_token":"abc"#.to_vec()),
        Some(FaultKind::Empty | FaultKind::EmptyObject | FaultKind::MissingPaging) => {
            return json_response(StatusCode::OK, b"{}".to_vec());
        }
        Some(FaultKind::RateLimited { retry_after_secs }) => {
            s.lock().counts.rate_limited += 1;
            return rate_limited(retry_after_secs);
        }
        Some(FaultKind::ServerError { status }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            return api_error(status, "service.unavailable", "The service is currently unavailable.");
        }
        Some(FaultKind::Forbidden { .. }) => {
            return oauth_error(StatusCode::FORBIDDEN, "unauthorized_client", "client is not allowed this grant");
        }
        Some(FaultKind::BadRequest) => {
            return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "invalid request");
        }
    }
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic ").or_else(|| v.strip_prefix("basic ")))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b.trim()).ok())
        .and_then(|b| String::from_utf8(b).ok());
    let Some((id, secret)) = basic.as_deref().and_then(|b| b.split_once(':')) else {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "client not found");
    };
    let other = s.lock().other_clients.get(id).is_some_and(|other| other == secret);
    if (id != s.client_id || secret != s.client_secret) && !other {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "client not found");
    }
    let form = params(Some(&String::from_utf8_lossy(&body).into_owned()));
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type", "grant type not supported");
    }
    let token = format!("sim-{}", uuid::Uuid::new_v4().simple());
    let ttl = s.config.token_ttl_secs;
    {
        let mut st = s.lock();
        st.tokens.insert(token.clone(), Instant::now() + Duration::from_secs(ttl));
        st.counts.tokens_issued += 1;
    }
    let body = json!({"access_token": token, "token_type": "bearer", "expires_in": ttl});
    json_response(StatusCode::OK, body.to_string().into_bytes())
}

// ---- listings --------------------------------------------------------------------------------------------------------

/// Query-string (or form) parameters, percent-decoded.
fn params(raw: Option<&String>) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for pair in raw.map(String::as_str).unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        out.insert(decode(k), decode(v));
    }
    out
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = |c: u8| (c as char).to_digit(16);
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn paging(s: &Shared, p: &HashMap<String, String>) -> Result<(u32, u32), Response> {
    let size = match p.get("pageSize") {
        None => 25,
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| invalid_value("pageSize must be a positive number"))?,
    };
    let number = match p.get("pageNumber") {
        None => 1,
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| invalid_value("pageNumber must be a positive number"))?,
    };
    Ok((size.min(s.config.max_page_size.max(1)), number))
}

/// A page of a listing, linked with relative URIs.
fn listing(all: Vec<Value>, size: u32, number: u32, path: &str, extra: &str) -> Vec<u8> {
    let total = all.len();
    let size_us = size as usize;
    let page_count = total.div_ceil(size_us);
    let start = (number as usize - 1).saturating_mul(size_us).min(total);
    let end = (start + size_us).min(total);
    let entities: Vec<Value> = all.into_iter().skip(start).take(end - start).collect();
    let uri = |n: usize| format!("{path}?pageSize={size}&pageNumber={n}{extra}");
    let mut v = json!({
        "entities": entities,
        "pageSize": size,
        "pageNumber": number,
        "total": total,
        "pageCount": page_count,
        "firstUri": uri(1),
        "selfUri": uri(number as usize),
        "lastUri": uri(page_count.max(1)),
    });
    if (number as usize) < page_count {
        v["nextUri"] = json!(uri(number as usize + 1));
    }
    if number > 1 {
        v["previousUri"] = json!(uri(number as usize - 1));
    }
    v.to_string().into_bytes()
}

fn division() -> Value {
    let id = "5a4c8a3b-0f7e-4d2b-9c3e-2f1a6b7c8d90";
    json!({"id": id, "name": "Home", "selfUri": format!("/api/v2/authorization/divisions/{id}")})
}

async fn queues(State(s): State<S>, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    pipeline(s, Route::Queues, &headers, |s, _| {
        let p = params(q.as_ref());
        let (size, number) = paging(s, &p)?;
        let mut rows: Vec<(String, &super::data::SimQueue)> =
            s.world.queues.iter().filter(|q| !s.is_deleted(&q.id)).map(|q| (s.queue_name(q.index), q)).collect();
        rows.sort_by(|a, b| (&a.0, &a.1.id).cmp(&(&b.0, &b.1.id)));
        let all = rows
            .into_iter()
            .map(|(name, q)| {
                let mut media = serde_json::Map::new();
                let listed: &[MediaType] = if s.config.all_media_settings { &MediaType::ALL } else { q.media };
                for m in listed {
                    media.insert(
                        m.settings_key().to_owned(),
                        json!({
                            "alertingTimeoutSeconds": if *m == MediaType::Email { 300 } else { 8 },
                            "serviceLevel": {"percentage": 0.8, "durationMs": m.service_level_ms()},
                            "enableAutoAnswer": false,
                        }),
                    );
                }
                json!({
                    "id": q.id,
                    "name": name,
                    "division": division(),
                    "description": "",
                    "dateCreated": "2023-01-10T09:00:00.000Z",
                    "dateModified": "2024-02-01T12:30:00.000Z",
                    "memberCount": 5 + q.index % 7,
                    "userMemberCount": 5 + q.index % 7,
                    "mediaSettings": media,
                    "acwSettings": {"wrapupPrompt": "MANDATORY_TIMEOUT", "timeoutMs": 30000},
                    "skillEvaluationMethod": "BEST",
                    "selfUri": format!("/api/v2/routing/queues/{}", q.id),
                })
            })
            .collect();
        Ok(listing(all, size, number, "/api/v2/routing/queues", ""))
    })
    .await
}

async fn users(State(s): State<S>, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    pipeline(s, Route::Users, &headers, |s, _| {
        let p = params(q.as_ref());
        let (size, number) = paging(s, &p)?;
        let state = p.get("state").map(String::as_str).unwrap_or("active");
        let keep = |u: &super::data::SimUser| match state {
            "active" => u.state == UserState::Active,
            "inactive" => u.state == UserState::Inactive,
            "deleted" => false,
            "any" => true,
            _ => false,
        };
        if !matches!(state, "active" | "inactive" | "deleted" | "any") {
            return Err(invalid_value("state must be one of active, inactive, deleted, any"));
        }
        // (id, name, username, email, state) of the users listed: the generated ones, then the added ones (active).
        let mut list: Vec<(String, String, String, String, &str)> = s
            .world
            .users
            .iter()
            .filter(|u| keep(u) && !s.is_deleted(&u.id))
            .map(|u| {
                let state = match u.state {
                    UserState::Active => "active",
                    UserState::Inactive => "inactive",
                };
                (u.id.clone(), u.name.clone(), u.username.clone(), u.email.clone(), state)
            })
            .collect();
        if matches!(state, "active" | "any") {
            let added = s.lock().added_users.clone();
            list.extend(added.into_iter().filter(|u| !s.is_deleted(&u.id)).map(|u| {
                let email = u.username.clone();
                (u.id, u.name, u.username, email, "active")
            }));
        }
        list.sort_by(|a, b| (&a.1, &a.0).cmp(&(&b.1, &b.0)));
        let all = list
            .into_iter()
            .map(|(id, name, username, email, state)| {
                json!({
                    "id": id,
                    "name": name,
                    "division": division(),
                    "chat": {"jabberId": format!("{id}@sim.orgspan.com")},
                    "email": email,
                    "state": state,
                    "username": username,
                    "version": 3,
                    "acdAutoAnswer": false,
                    "selfUri": format!("/api/v2/users/{id}"),
                })
            })
            .collect();
        let extra = if p.contains_key("state") { format!("&state={state}") } else { String::new() };
        Ok(listing(all, size, number, "/api/v2/users", &extra))
    })
    .await
}

async fn presence_definitions(State(s): State<S>, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    pipeline(s, Route::PresenceDefinitions, &headers, |s, _| {
        let p = params(q.as_ref());
        let deactivated = match p.get("deactivated").map(|v| v.to_ascii_lowercase()) {
            None => false,
            Some(v) if v == "true" => true,
            Some(v) if v == "false" => false,
            Some(_) => return Err(invalid_value("deactivated must be TRUE or FALSE")),
        };
        let entities: Vec<Value> = s
            .world
            .definitions
            .iter()
            .filter(|d| d.deactivated == deactivated && !s.is_deleted(&d.id))
            .map(|d| {
                let mut labels = serde_json::Map::new();
                labels.insert("en_US".into(), json!(d.label));
                for (lang, label) in &d.other_labels {
                    labels.insert((*lang).into(), json!(label));
                }
                json!({
                    "id": d.id,
                    "name": d.label,
                    "type": if d.custom { "User" } else { "System" },
                    "languageLabels": labels,
                    "systemPresence": d.system.sdk(),
                    "divisionId": "*",
                    "deactivated": d.deactivated,
                    "selfUri": format!("/api/v2/presence/definitions/{}", d.id),
                })
            })
            .collect();
        Ok(json!({"total": entities.len(), "entities": entities, "selfUri": "/api/v2/presence/definitions"})
            .to_string()
            .into_bytes())
    })
    .await
}

// ---- analytics ---------------------------------------------------------------------------------------------------------

#[derive(Deserialize)]
struct FilterIn {
    #[serde(default, rename = "type")]
    _kind: Option<String>,
    #[serde(default)]
    predicates: Vec<PredicateIn>,
    #[serde(default)]
    clauses: Vec<FilterIn>,
}

#[derive(Deserialize)]
struct PredicateIn {
    #[serde(default)]
    dimension: Option<String>,
    #[serde(default)]
    operator: Option<String>,
    #[serde(default)]
    value: Option<String>,
}

impl FilterIn {
    /// Every predicate (clauses flattened) as (dimension, value).
    fn values(&self, out: &mut Vec<(String, String)>) -> Result<(), Response> {
        for p in &self.predicates {
            if p.operator.as_deref().is_some_and(|o| o != "matches") {
                return Err(bad_request("Only the matches operator is supported by the simulator."));
            }
            let (Some(d), Some(v)) = (&p.dimension, &p.value) else {
                return Err(bad_request("A predicate needs a dimension and a value."));
            };
            out.push((d.clone(), v.clone()));
        }
        for c in &self.clauses {
            c.values(out)?;
        }
        Ok(())
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AggregateQueryIn {
    interval: String,
    #[serde(default)]
    granularity: Option<String>,
    #[serde(default)]
    time_zone: Option<String>,
    #[serde(default)]
    group_by: Vec<String>,
    #[serde(default)]
    filter: Option<FilterIn>,
    #[serde(default)]
    metrics: Vec<String>,
}

const KNOWN_METRICS: [&str; 8] =
    ["nOffered", "tAnswered", "tAbandon", "tHandle", "tAcw", "tTalk", "nOverSla", "oServiceLevel"];

fn parse_interval(raw: &str) -> Result<(i64, i64), Response> {
    let (a, b) = raw.split_once('/').ok_or_else(|| invalid_value("interval must be start/end"))?;
    let parse = |s: &str| DateTime::parse_from_rfc3339(s.trim()).map(|t| t.timestamp_millis());
    let (Ok(from), Ok(to)) = (parse(a), parse(b)) else {
        return Err(invalid_value("interval must be two ISO-8601 date-times"));
    };
    if to <= from {
        return Err(invalid_value("interval must end after it starts"));
    }
    Ok((from, to))
}

#[derive(Serialize)]
struct StatsOut {
    #[serde(skip_serializing_if = "Option::is_none")]
    max: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    min: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sum: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ratio: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    numerator: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    denominator: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    target: Option<f64>,
}

impl StatsOut {
    fn none() -> Self {
        Self {
            max: None,
            min: None,
            count: None,
            sum: None,
            ratio: None,
            numerator: None,
            denominator: None,
            target: None,
        }
    }
    fn timed(s: super::data::Stat) -> Self {
        Self { max: Some(s.max), min: Some(s.min), count: Some(s.count), sum: Some(s.sum), ..Self::none() }
    }
}

#[derive(Serialize)]
struct MetricOut<'a> {
    metric: &'a str,
    stats: StatsOut,
}

#[derive(Serialize)]
struct DataOut<'a> {
    interval: String,
    metrics: Vec<MetricOut<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GroupOut<'a> {
    queue_id: &'a str,
    media_type: &'static str,
}

#[derive(Serialize)]
struct ResultOut<'a> {
    group: GroupOut<'a>,
    data: Vec<DataOut<'a>>,
}

#[derive(Serialize)]
struct AggregatesOut<'a> {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    results: Vec<ResultOut<'a>>,
}

/// The aggregates answer for some queues (all their media types), a window and metrics.
fn render_aggregates(s: &Shared, queue_ids: &[String], from: i64, to: i64, metrics: &[String]) -> Vec<u8> {
    let now = s.now().timestamp_millis();
    let mut results = Vec::new();
    for q in s.world.queues.iter().filter(|q| queue_ids.iter().any(|id| id == &q.id)) {
        for &m in q.media {
            let buckets = s.buckets(q, m, from, to, now);
            if buckets.is_empty() {
                continue;
            }
            let data = buckets
                .into_iter()
                .map(|(t, b)| {
                    let mut out = Vec::new();
                    for name in metrics {
                        let stats = match name.as_str() {
                            "nOffered" if b.offered > 0 => StatsOut { count: Some(b.offered), ..StatsOut::none() },
                            "tAnswered" if b.answered.count > 0 => StatsOut::timed(b.answered),
                            "tAbandon" if b.abandoned.count > 0 => StatsOut::timed(b.abandoned),
                            "tHandle" if b.handled.count > 0 => StatsOut::timed(b.handled),
                            "oServiceLevel" if b.sl_denominator > 0 => StatsOut {
                                ratio: Some(b.sl_numerator as f64 / b.sl_denominator as f64),
                                numerator: Some(b.sl_numerator),
                                denominator: Some(b.sl_denominator),
                                target: Some(0.8),
                                ..StatsOut::none()
                            },
                            _ => continue,
                        };
                        out.push(MetricOut { metric: name.as_str(), stats });
                    }
                    DataOut { interval: format!("{}/{}", iso(t), iso(t + INTERVAL)), metrics: out }
                })
                .filter(|d| !d.metrics.is_empty())
                .collect::<Vec<_>>();
            if !data.is_empty() {
                results.push(ResultOut { group: GroupOut { queue_id: &q.id, media_type: m.as_str() }, data });
            }
        }
    }
    serde_json::to_vec(&AggregatesOut { results }).unwrap_or_else(|_| b"{}".to_vec())
}

pub(super) fn aggregates_body(s: &Shared, queue_ids: &[String], window: TimeWindow) -> Vec<u8> {
    let w = window.align_to_intervals();
    let metrics: Vec<String> =
        ["nOffered", "tAnswered", "tAbandon", "tHandle", "oServiceLevel"].iter().map(|m| (*m).to_owned()).collect();
    render_aggregates(s, queue_ids, w.start.timestamp_millis(), w.end.timestamp_millis(), &metrics)
}

async fn aggregates(State(s): State<S>, headers: HeaderMap, body: Bytes) -> Response {
    pipeline(s, Route::Aggregates, &headers, |s, _| {
        let q: AggregateQueryIn =
            serde_json::from_slice(&body).map_err(|_| bad_request("Unable to parse the query body."))?;
        let (from, to) = parse_interval(&q.interval)?;
        if to - from > 7 * DAY {
            return Err(bad_request("The interval of an aggregate query may not exceed 7 days."));
        }
        if from.rem_euclid(INTERVAL) != 0 || to.rem_euclid(INTERVAL) != 0 {
            return Err(invalid_value("The simulator needs an interval aligned to the granularity."));
        }
        if q.granularity.as_deref() != Some("PT15M") {
            return Err(invalid_value("The simulator supports granularity PT15M only."));
        }
        if q.time_zone.as_deref().is_some_and(|z| z != "UTC") {
            return Err(invalid_value("The simulator supports timeZone UTC only."));
        }
        let group: BTreeSet<&str> = q.group_by.iter().map(String::as_str).collect();
        if group != BTreeSet::from(["queueId", "mediaType"]) {
            return Err(invalid_value("The simulator supports groupBy [queueId, mediaType] only."));
        }
        if let Some(unknown) = q.metrics.iter().find(|m| !KNOWN_METRICS.contains(&m.as_str())) {
            return Err(invalid_value(&format!("Unknown metric {unknown}.")));
        }
        let mut predicates = Vec::new();
        if let Some(f) = &q.filter {
            f.values(&mut predicates)?;
        }
        if predicates.len() > 100 {
            return Err(bad_request("A filter may hold at most 100 predicates."));
        }
        let queue_ids: Vec<String> = if q.filter.is_none() {
            s.world.queues.iter().map(|q| q.id.clone()).collect()
        } else {
            if let Some((d, _)) = predicates.iter().find(|(d, _)| d != "queueId") {
                return Err(invalid_value(&format!("The simulator filters on queueId only, not {d}.")));
            }
            predicates.into_iter().map(|(_, v)| v).collect()
        };
        Ok(render_aggregates(s, &queue_ids, from, to, &q.metrics))
    })
    .await
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PagingIn {
    #[serde(default)]
    page_size: Option<u32>,
    #[serde(default)]
    page_number: Option<u32>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserDetailsIn {
    interval: String,
    #[serde(default)]
    order: Option<String>,
    #[serde(default)]
    paging: Option<PagingIn>,
    #[serde(default)]
    user_filters: Vec<FilterIn>,
}

fn presence_json(s: &Shared, p: &PresenceRec) -> Value {
    let d = &s.world.definitions[p.def];
    let mut v =
        json!({"startTime": iso(p.start), "systemPresence": d.system.analytics(), "organizationPresenceId": d.id});
    if let Some(e) = p.end {
        v["endTime"] = json!(iso(e));
    }
    v
}

fn routing_json(r: &RoutingRec) -> Value {
    let mut v = json!({"startTime": iso(r.start), "routingStatus": r.status.as_str()});
    if let Some(e) = r.end {
        v["endTime"] = json!(iso(e));
    }
    v
}

async fn user_details(State(s): State<S>, headers: HeaderMap, body: Bytes) -> Response {
    pipeline(s, Route::UserDetails, &headers, |s, fault| {
        let q: UserDetailsIn =
            serde_json::from_slice(&body).map_err(|_| bad_request("Unable to parse the query body."))?;
        let (from, to) = parse_interval(&q.interval)?;
        let mut predicates = Vec::new();
        for f in &q.user_filters {
            f.values(&mut predicates)?;
        }
        let max_days = if predicates.is_empty() { 7 } else { 31 };
        if to - from > max_days * DAY {
            return Err(bad_request(&format!("The interval of a user details query may not exceed {max_days} days.")));
        }
        if predicates.len() > 100 {
            return Err(bad_request("A filter may hold at most 100 predicates."));
        }
        if let Some((d, _)) = predicates.iter().find(|(d, _)| d != "userId") {
            return Err(invalid_value(&format!("The simulator filters users on userId only, not {d}.")));
        }
        if q.order.as_deref().is_some_and(|o| o != "asc" && o != "desc") {
            return Err(invalid_value("order must be asc or desc"));
        }
        let size = q.paging.as_ref().and_then(|p| p.page_size).unwrap_or(25);
        let number = q.paging.as_ref().and_then(|p| p.page_number).unwrap_or(1);
        if !(1..=100).contains(&size) || number < 1 {
            return Err(invalid_value("paging.pageSize must be 1 to 100 and paging.pageNumber at least 1"));
        }
        let wanted: BTreeSet<&str> = predicates.iter().map(|(_, v)| v.as_str()).collect();
        let mut users: Vec<&super::data::SimUser> =
            s.world.users.iter().filter(|u| wanted.is_empty() || wanted.contains(u.id.as_str())).collect();
        users.sort_by(|a, b| a.id.cmp(&b.id));
        let now = s.now().timestamp_millis();
        let (lo, hi) = (from.max(s.world.data_start), to.min(now));
        // Hits: (user, UTC day) pairs with records; every day between the data start and now has some.
        let mut hits: Vec<(usize, i64)> = Vec::new();
        if lo < hi {
            for u in &users {
                for day in lo.div_euclid(DAY)..=(hi - 1).div_euclid(DAY) {
                    hits.push((u.index, day));
                }
            }
        }
        // `MoreHits`: hits that arrived while the query was paged, sorted before every other hit. They are counted
        // and move the others on (a page holds the hits of the positions it covers less the arrived ones), and hold
        // no records of their own.
        let arrived = match fault {
            Some(FaultKind::MoreHits { n }) if !hits.is_empty() => usize::try_from(*n).unwrap_or(usize::MAX),
            _ => 0,
        };
        let total = hits.len().saturating_add(arrived);
        if total == 0 {
            return Ok(br#"{"totalHits":0}"#.to_vec());
        }
        let start = (number as usize - 1).saturating_mul(size as usize).min(total);
        let end = (start + size as usize).min(total);
        let (start, end) = (start.saturating_sub(arrived), end.saturating_sub(arrived));
        let mut per_user: BTreeMap<usize, Vec<i64>> = BTreeMap::new();
        for &(u, day) in &hits[start..end] {
            per_user.entry(u).or_default().push(day);
        }
        let mut order: Vec<usize> = per_user.keys().copied().collect();
        order.sort_by(|a, b| s.world.users[*a].id.cmp(&s.world.users[*b].id));
        let mut details = Vec::new();
        for u in order {
            let days = &per_user[&u];
            let tl = s.world.timeline(u, from, to, now);
            let in_days = |start: i64, end: Option<i64>| {
                days.iter().any(|d| {
                    let (a, b) = ((d * DAY).max(from), ((d + 1) * DAY).min(to));
                    start < b && end.is_none_or(|e| e > a)
                })
            };
            let presence: Vec<Value> =
                tl.presence.iter().filter(|p| in_days(p.start, p.end)).map(|p| presence_json(s, p)).collect();
            let routing: Vec<Value> = tl.routing.iter().filter(|r| in_days(r.start, r.end)).map(routing_json).collect();
            let mut row = json!({"userId": s.world.users[u].id});
            if !presence.is_empty() {
                row["primaryPresence"] = json!(presence);
            }
            if !routing.is_empty() {
                row["routingStatus"] = json!(routing);
            }
            details.push(row);
        }
        let mut v = json!({"totalHits": total});
        if !details.is_empty() {
            v["userDetails"] = json!(details);
        }
        Ok(v.to_string().into_bytes())
    })
    .await
}

// ---- control routes ------------------------------------------------------------------------------------------------------

fn ok_json<T: Serialize>(v: &T) -> Response {
    json_response(StatusCode::OK, serde_json::to_vec(v).unwrap_or_else(|_| b"null".to_vec()))
}

fn control_error(message: &str) -> Response {
    json_response(StatusCode::BAD_REQUEST, json!({"error": message}).to_string().into_bytes())
}

async fn sim_info(State(s): State<S>) -> Response {
    ok_json(&json!({
        "baseUrl": s.base_url,
        "clientId": s.client_id,
        "clientSecret": s.client_secret,
        "now": s.now(),
        "dataStart": Utc.timestamp_millis_opt(s.world.data_start).single(),
        "seed": s.config.seed,
        "queues": s.config.queues,
        "agents": s.config.agents,
        "historyDays": s.config.history_days,
        "queueIds": s.world.queues.iter().map(|q| &q.id).collect::<Vec<_>>(),
    }))
}

fn window_param(p: &HashMap<String, String>) -> Result<TimeWindow, Response> {
    let get = |k: &str| {
        p.get(k)
            .and_then(|v| DateTime::parse_from_rfc3339(v).ok())
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| control_error(&format!("{k} must be an RFC 3339 time")))
    };
    TimeWindow::new(get("start")?, get("end")?).map_err(|_| control_error("end must be after start"))
}

fn agent_id_param(p: &HashMap<String, String>) -> GenesysAgentId {
    p.get("agent_id").and_then(|v| GenesysAgentId::parse(v)).unwrap_or_default()
}

fn bool_param(p: &HashMap<String, String>, k: &str) -> bool {
    p.get(k).is_some_and(|v| v == "true" || v == "1")
}

async fn truth_queues(State(s): State<S>) -> Response {
    ok_json(&s.expected_queues())
}

async fn truth_agents(State(s): State<S>, RawQuery(q): RawQuery) -> Response {
    ok_json(&s.expected_agents(agent_id_param(&params(q.as_ref()))))
}

async fn truth_statuses(State(s): State<S>, RawQuery(q): RawQuery) -> Response {
    ok_json(&s.expected_statuses(bool_param(&params(q.as_ref()), "detailed")))
}

async fn truth_interval_stats(State(s): State<S>, RawQuery(q): RawQuery) -> Response {
    match window_param(&params(q.as_ref())) {
        Ok(w) => ok_json(&s.expected_interval_stats(w, None)),
        Err(r) => r,
    }
}

async fn truth_agent_segments(State(s): State<S>, RawQuery(q): RawQuery) -> Response {
    let p = params(q.as_ref());
    match window_param(&p) {
        Ok(w) => ok_json(&s.expected_segments(w, bool_param(&p, "detailed"), agent_id_param(&p))),
        Err(r) => r,
    }
}

async fn sim_add_fault(State(s): State<S>, body: Bytes) -> Response {
    match serde_json::from_slice::<Fault>(&body) {
        Ok(f) => {
            s.add_fault(f);
            ok_json(&json!({"ok": true}))
        }
        Err(e) => control_error(&format!("not a fault: {e}")),
    }
}

async fn sim_clear_faults(State(s): State<S>) -> Response {
    s.lock().faults.clear();
    ok_json(&json!({"ok": true}))
}

async fn sim_clock(State(s): State<S>, body: Bytes) -> Response {
    #[derive(Deserialize)]
    struct Clock {
        now: DateTime<Utc>,
    }
    match serde_json::from_slice::<Clock>(&body) {
        Ok(c) => {
            s.lock().now = Some(c.now);
            ok_json(&json!({"now": c.now}))
        }
        Err(e) => control_error(&format!("expected {{\"now\": RFC3339}}: {e}")),
    }
}

async fn sim_rename_queue(State(s): State<S>, Path(id): Path<String>, body: Bytes) -> Response {
    #[derive(Deserialize)]
    struct Rename {
        name: String,
    }
    let Ok(r) = serde_json::from_slice::<Rename>(&body) else { return control_error("expected {\"name\": …}") };
    if !s.world.queues.iter().any(|q| q.id == id) {
        return control_error("no such queue");
    }
    s.lock().renamed.insert(id, r.name);
    ok_json(&json!({"ok": true}))
}

async fn sim_delete_queue(State(s): State<S>, Path(id): Path<String>) -> Response {
    if !s.world.queues.iter().any(|q| q.id == id) {
        return control_error("no such queue");
    }
    s.lock().deleted.insert(id);
    ok_json(&json!({"ok": true}))
}

async fn sim_correction(State(s): State<S>, body: Bytes) -> Response {
    match serde_json::from_slice::<Correction>(&body) {
        Ok(c) => {
            let key = (c.queue_id.clone(), c.media_type, c.interval_start.timestamp_millis());
            s.lock().corrections.insert(key, c);
            ok_json(&json!({"ok": true}))
        }
        Err(e) => control_error(&format!("not a correction: {e}")),
    }
}

async fn sim_revoke_tokens(State(s): State<S>) -> Response {
    s.lock().tokens.clear();
    ok_json(&json!({"ok": true}))
}

async fn sim_missing_permissions(State(s): State<S>, body: Bytes) -> Response {
    #[derive(Deserialize)]
    struct Missing {
        permissions: Vec<String>,
    }
    match serde_json::from_slice::<Missing>(&body) {
        Ok(m) => {
            s.lock().missing_permissions = m.permissions.into_iter().collect();
            ok_json(&json!({"ok": true}))
        }
        Err(e) => control_error(&format!("expected {{\"permissions\": [...]}}: {e}")),
    }
}

async fn sim_requests(State(s): State<S>) -> Response {
    ok_json(&s.lock().counts.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_decode() {
        let p = params(Some(&"pageSize=2&pageNumber=3&state=any&x=a%20b+c".to_owned()));
        assert_eq!(p["pageSize"], "2");
        assert_eq!(p["x"], "a b c");
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("%4"), "%4");
    }

    #[test]
    fn listings_link_pages_relatively() {
        let all: Vec<Value> = (0..5).map(|i| json!({"id": i})).collect();
        let v: Value = serde_json::from_slice(&listing(all.clone(), 2, 1, "/api/v2/users", "&state=any")).unwrap();
        assert_eq!(v["nextUri"], "/api/v2/users?pageSize=2&pageNumber=2&state=any");
        assert_eq!(v["pageCount"], 3);
        assert!(v.get("previousUri").is_none());
        let v: Value = serde_json::from_slice(&listing(all, 2, 3, "/api/v2/users", "")).unwrap();
        assert!(v.get("nextUri").is_none());
        assert_eq!(v["entities"].as_array().unwrap().len(), 1);
    }
}
