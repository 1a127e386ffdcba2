//! HTTP side of the simulator: the SOAP endpoint and the `/__sim/` control routes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use acd_connectors::five9::Five9Grouping;
use acd_domain::TimeWindow;
use axum::Json;
use axum::Router;
use axum::body::{Bytes, HttpBody};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use serde::Deserialize;
use serde_json::json;

use super::line::{Peer, Trickle};
use super::wire::{self, Out, ReqElement, StateRowOut};
use super::{FaultKind, FaultRule, InFlight, ReportRun, Shared, SimState, StoredReport, truth_agents};

pub const SERVICE_PATH: &str = "/wsadmin/v13/AdminWebService";

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(SERVICE_PATH, post(soap))
        .route("/__sim/info", get(info))
        .route("/__sim/faults", get(get_faults).put(put_faults).post(add_fault).delete(clear_faults))
        .route("/__sim/now", post(set_now))
        .route("/__sim/stats", get(stats))
        .route("/__sim/truth/intervals", get(truth_intervals))
        .route("/__sim/truth/segments", get(truth_segments))
        .route("/__sim/truth/queues", get(truth_queues))
        .route("/__sim/truth/agents", get(truth_agents_route))
        .route("/__sim/truth/statuses", get(truth_statuses))
        .route("/__sim/mutate", post(mutate))
        .with_state(shared)
}

// ---- SOAP ----

fn xml(status: StatusCode, body: String, now: DateTime<Utc>) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml;charset=utf-8"));
    set_date(&mut r, now);
    r
}

fn html(status: StatusCode, now: DateTime<Utc>) -> Response {
    let reason = status.canonical_reason().unwrap_or("Error");
    let mut r = (status, wire::html_error(status.as_u16(), reason)).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html;charset=iso-8859-1"));
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"Five9\""));
    }
    set_date(&mut r, now);
    r
}

fn set_date(r: &mut Response, now: DateTime<Utc>) {
    if let Ok(v) = HeaderValue::from_str(&now.format("%a, %d %b %Y %H:%M:%S GMT").to_string()) {
        r.headers_mut().insert(header::DATE, v);
    }
}

fn authorized(headers: &HeaderMap, user: &str, password: &str) -> bool {
    let Some(raw) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else { return false };
    let Some(b64) = raw.strip_prefix("Basic ") else { return false };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(b64.trim()) else { return false };
    decoded == format!("{user}:{password}").as_bytes()
}

/// The fault answer of a SOAP fault (HTTP 500, as SOAP 1.1 over HTTP requires).
fn fault_response(body: String, now: DateTime<Utc>) -> Response {
    xml(StatusCode::INTERNAL_SERVER_ERROR, body, now)
}

fn op_type(op: &str) -> Option<&'static str> {
    match op {
        "runReport" => Some("ReportRequest"),
        "getReportResult" | "getReportResultCsv" => Some("RetrieveReport"),
        "getCallCountersState" => None,
        _ => Some("Query"),
    }
}

const WINDOWS: [u64; 3] = [60, 3600, 86_400];

/// Counts the request against its limits; `Some(fault body)` when a limit is exhausted.
fn count_limits(st: &mut SimState, op: &str) -> Option<String> {
    let ty = op_type(op)?;
    let limits = match ty {
        "ReportRequest" => st.config.limits.report_request,
        "RetrieveReport" => st.config.limits.retrieve_report,
        _ => st.config.limits.query,
    };
    // Windows reset at the start of each minute / hour / day of the real clock (a fixed simulated clock would
    // never reset them).
    let secs = Utc::now().timestamp() as u64;
    for (i, w) in WINDOWS.iter().enumerate() {
        let idx = secs / w;
        let (cur, count) = st.counters.get(&(ty, *w)).copied().unwrap_or((idx, 0));
        let count = if cur == idx { count } else { 0 };
        if count >= limits[i] {
            st.stats.rate_limited += 1;
            return Some(limits_fault(ty, limits[i]));
        }
    }
    for w in WINDOWS {
        let idx = secs / w;
        let e = st.counters.entry((ty, w)).or_insert((idx, 0));
        if e.0 != idx {
            *e = (idx, 0);
        }
        e.1 += 1;
    }
    None
}

fn limits_fault(ty: &str, limit: u64) -> String {
    let message = format!("Operations limit exceeded for operation type {ty}: limit {limit}");
    wire::fault(
        "Server",
        &message,
        "OperationsLimitExceededFault",
        &[Out::text("limit", limit), Out::text("message", &message), Out::text("operationType", ty)],
    )
}

async fn soap(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(Peer(peer)): ConnectInfo<Peer>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut delivery = None;
    let response = answer(&shared, &headers, &body, &mut delivery).await;
    deliver(&shared, peer, response, delivery).await
}

/// Sends `response` as the fault `delivery` says: held back ([`FaultKind::DelayAnswer`]; the request was carried
/// out, and the user's next request is no longer refused), or its bytes paced on its connection
/// ([`FaultKind::SlowBody`], [`FaultKind::StalledBody`]).
async fn deliver(shared: &Shared, peer: SocketAddr, response: Response, delivery: Option<FaultKind>) -> Response {
    let len = usize::try_from(HttpBody::size_hint(response.body()).exact().unwrap_or(0)).unwrap_or(usize::MAX);
    let trickle = match delivery {
        Some(FaultKind::DelayAnswer { ms }) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            None
        }
        Some(FaultKind::SlowBody { chunks, pause_ms }) => Some(Trickle {
            left: len,
            chunk: len.div_ceil(chunks.max(1) as usize),
            pause: Duration::from_millis(pause_ms),
        }),
        Some(FaultKind::StalledBody { ms }) => {
            Some(Trickle { left: len, chunk: len.div_ceil(2), pause: Duration::from_millis(ms) })
        }
        _ => None,
    };
    if let Some(trickle) = trickle.filter(|t| t.left > 0) {
        shared.trickles.lock().unwrap_or_else(|p| p.into_inner()).insert(peer, trickle);
    }
    response
}

/// The answer to a SOAP request; a fault on how it is sent is left in `delivery` ([`deliver`]). The request counts as
/// in flight until this returns.
async fn answer(shared: &Arc<Shared>, headers: &HeaderMap, body: &Bytes, delivery: &mut Option<FaultKind>) -> Response {
    let (now, user, password) = {
        let mut st = shared.lock();
        st.stats.requests += 1;
        (st.now(), st.config.username.clone(), st.config.password.clone())
    };
    if !authorized(headers, &user, &password) {
        return html(StatusCode::UNAUTHORIZED, now);
    }
    let Some(_guard) = InFlight::enter(&shared.in_flight) else {
        shared.lock().stats.refused_concurrent += 1;
        let msg = format!("User {user} is already processing a request: concurrent requests are not allowed");
        return fault_response(wire::simple_fault("UserAlreadyLoggedInFault", &msg), now);
    };
    let Ok(text) = std::str::from_utf8(body) else {
        return fault_response(wire::client_fault("Unmarshalling Error: invalid UTF-8"), now);
    };
    let op = match wire::parse_request(text) {
        Ok(op) => op,
        Err(e) => return fault_response(wire::client_fault(&e.0), now),
    };
    let fault = {
        let mut st = shared.lock();
        *st.stats.operations.entry(op.local.clone()).or_insert(0) += 1;
        st.take_fault(&op.local)
    };
    let mut fault = fault;
    if let Some(FaultKind::Delay { ms }) = fault {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        fault = None;
    }
    if matches!(fault, Some(FaultKind::DelayAnswer { .. } | FaultKind::SlowBody { .. } | FaultKind::StalledBody { .. }))
    {
        *delivery = fault.take();
    }
    let now = shared.lock().now();
    match &fault {
        Some(FaultKind::Unauthorized) => return html(StatusCode::UNAUTHORIZED, now),
        Some(FaultKind::Forbidden) => return html(StatusCode::FORBIDDEN, now),
        Some(FaultKind::Http500) => return html(StatusCode::INTERNAL_SERVER_ERROR, now),
        Some(FaultKind::Http500Latin1) => {
            let page = wire::html_error(500, "Erreur interne du serveur : r\u{e9}essayez plus tard");
            // Characters up to U+00FF as their one byte (the page has no other).
            let bytes: Vec<u8> = page.chars().map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?')).collect();
            let mut r = (StatusCode::INTERNAL_SERVER_ERROR, bytes).into_response();
            r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html;charset=iso-8859-1"));
            set_date(&mut r, now);
            return r;
        }
        Some(FaultKind::Http503) => return html(StatusCode::SERVICE_UNAVAILABLE, now),
        Some(FaultKind::TooManyRequests { retry_after_secs }) => {
            let mut r = html(StatusCode::TOO_MANY_REQUESTS, now);
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            return r;
        }
        Some(FaultKind::MissingReturn) => return xml(StatusCode::OK, wire::response(&op.local, &[]), now),
        Some(FaultKind::AccessDisallowed) => {
            let msg = format!("User {user} does not have permission to execute {}", op.local);
            return fault_response(wire::simple_fault("AccessDisallowedFault", &msg), now);
        }
        Some(FaultKind::OperationsLimitExceeded) => {
            let ty = op_type(&op.local).unwrap_or("Query");
            return fault_response(limits_fault(ty, 16), now);
        }
        Some(FaultKind::ServiceUnavailableFault) => {
            return fault_response(
                wire::simple_fault("ServiceUnavailableFault", "Service is temporarily unavailable"),
                now,
            );
        }
        Some(FaultKind::ServerFault) => {
            return fault_response(wire::simple_fault("ServerFault", "Internal server error"), now);
        }
        Some(FaultKind::ClientFault) => {
            return fault_response(wire::client_fault("Unmarshalling Error: unexpected element"), now);
        }
        Some(FaultKind::UserBusy) => {
            // What a second concurrent request of the user gets, here while another integration or tool (not
            // this simulator's own traffic) holds the user.
            shared.lock().stats.refused_concurrent += 1;
            let msg = format!("User {user} is already processing a request: concurrent requests are not allowed");
            return fault_response(wire::simple_fault("UserAlreadyLoggedInFault", &msg), now);
        }
        Some(FaultKind::MalformedXml) => {
            return xml(
                StatusCode::OK,
                format!(
                    "<env:Envelope xmlns:env=\"{}\"><env:Body><ns2:{}Response xmlns:ns2=\"{}\"><return><name>x</nme></return>",
                    wire::SOAP_ENV_NS,
                    op.local,
                    wire::ADMIN_NS
                ),
                now,
            );
        }
        _ => {}
    }
    let limited = count_limits(&mut shared.lock(), &op.local);
    if let Some(body) = limited {
        return fault_response(body, now);
    }
    let result = dispatch(shared, &op, fault.as_ref()).await;
    match result {
        Ok(body) => {
            let body = match fault {
                Some(FaultKind::Latin1Body) => {
                    let declared = body.replacen("encoding='UTF-8'", "encoding='ISO-8859-1'", 1);
                    // Characters up to U+00FF as their one byte; others as a character reference.
                    let mut bytes = Vec::with_capacity(declared.len());
                    for c in declared.chars() {
                        match u8::try_from(u32::from(c)) {
                            Ok(b) => bytes.push(b),
                            Err(_) => bytes.extend_from_slice(format!("&#{};", u32::from(c)).as_bytes()),
                        }
                    }
                    let mut r = (StatusCode::OK, bytes).into_response();
                    r.headers_mut()
                        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml;charset=iso-8859-1"));
                    set_date(&mut r, now);
                    return r;
                }
                Some(FaultKind::TruncatedBody) => body[..body.len() / 2].to_owned(),
                Some(FaultKind::WrongNamespace) => body.replace(wire::ADMIN_NS, "http://service.other.example/"),
                _ => body,
            };
            xml(StatusCode::OK, body, now)
        }
        Err(body) => fault_response(body, now),
    }
}

fn pattern_matches(pattern: Option<&str>, name: &str) -> bool {
    match pattern.map(str::trim) {
        None | Some("") | Some(".*") => true,
        Some(p) => {
            let mut literal = String::new();
            let mut chars = p.chars();
            while let Some(c) = chars.next() {
                if c == '\\' {
                    if let Some(n) = chars.next() {
                        literal.push(n);
                    }
                } else {
                    literal.push(c);
                }
            }
            literal == name
        }
    }
}

type SoapResult = Result<String, String>;

async fn dispatch(shared: &Arc<Shared>, op: &ReqElement, fault: Option<&FaultKind>) -> SoapResult {
    let empty = matches!(fault, Some(FaultKind::EmptyResult));
    let seq =
        |el: &ReqElement, s: &[(&str, usize, usize)]| wire::check_sequence(el, s).map_err(|e| wire::client_fault(&e.0));
    match op.local.as_str() {
        "getSkills" => {
            seq(op, &[("skillNamePattern", 0, 1)])?;
            let st = shared.lock();
            let pattern = op.text_of("skillNamePattern");
            let items: Vec<Out> = st
                .world
                .skills
                .iter()
                .filter(|s| !s.deleted && !empty && pattern_matches(pattern, &s.name))
                .map(|s| {
                    Out::Elem(
                        "return",
                        vec![
                            Out::text("description", &s.description),
                            Out::text("id", s.id),
                            Out::text("messageOfTheDay", ""),
                            Out::text("name", &s.name),
                            Out::text("routeVoiceMails", false),
                        ],
                    )
                })
                .collect();
            Ok(wire::response("getSkills", &items))
        }
        "getCampaigns" => {
            seq(op, &[("campaignNamePattern", 0, 1), ("campaignType", 0, 1)])?;
            let st = shared.lock();
            let pattern = op.text_of("campaignNamePattern");
            let ty = op.text_of("campaignType").map(str::trim);
            if let Some(t) = ty
                && !["INBOUND", "OUTBOUND", "AUTODIAL"].contains(&t)
            {
                return Err(wire::client_fault(&format!("Unmarshalling Error: invalid campaignType {t}")));
            }
            let items: Vec<Out> = st
                .world
                .campaigns
                .iter()
                .filter(|c| !c.deleted && !empty && pattern_matches(pattern, &c.name))
                .filter(|c| ty.is_none_or(|t| (t == "INBOUND") == c.inbound))
                .map(|c| {
                    Out::Elem(
                        "return",
                        vec![
                            Out::text("description", format!("{} line", c.name)),
                            Out::text("mode", "BASIC"),
                            Out::text("name", &c.name),
                            Out::text("profileName", ""),
                            Out::text("state", "RUNNING"),
                            Out::text("trainingMode", false),
                            Out::text("type", if c.inbound { "INBOUND" } else { "OUTBOUND" }),
                        ],
                    )
                })
                .collect();
            Ok(wire::response("getCampaigns", &items))
        }
        "getUsersGeneralInfo" => {
            seq(op, &[("userNamePattern", 0, 1)])?;
            let st = shared.lock();
            let pattern = op.text_of("userNamePattern");
            let mut users: Vec<(String, String, String, String, i64)> = st
                .world
                .agents
                .iter()
                .map(|a| (a.user_name.clone(), a.first_name.clone(), a.last_name.clone(), a.full_name(), a.id))
                .collect();
            users.push((
                st.config.username.clone(),
                "Integration".into(),
                "WFM API".into(),
                super::API_USER_FULL_NAME.into(),
                999,
            ));
            let items: Vec<Out> = users
                .into_iter()
                .filter(|u| !empty && pattern_matches(pattern, &u.0))
                .map(|(user, first, last, full, id)| {
                    // userGeneralInfo sequence order (WSDL).
                    Out::Elem(
                        "return",
                        vec![
                            Out::text("active", true),
                            Out::text("canChangePassword", true),
                            Out::text("EMail", &user),
                            Out::text("extension", 1000 + id),
                            Out::text("firstName", first),
                            Out::text("fullName", full),
                            Out::text("IEXScheduled", false),
                            Out::text("id", id),
                            Out::text("lastName", last),
                            Out::text("locale", "en-US"),
                            Out::text("mustChangePassword", false),
                            Out::text("startDate", "2023-01-09T00:00:00-08:00"),
                            Out::text("userName", user),
                            Out::text("userProfileName", "Agents"),
                        ],
                    )
                })
                .collect();
            Ok(wire::response("getUsersGeneralInfo", &items))
        }
        "getCallCountersState" => {
            seq(op, &[])?;
            let st = shared.lock();
            let secs = Utc::now().timestamp() as u64;
            let l = st.config.limits;
            let items: Vec<Out> = WINDOWS
                .iter()
                .enumerate()
                .map(|(i, w)| {
                    let mut children: Vec<Out> = [
                        ("Query", l.query[i]),
                        ("ReportRequest", l.report_request[i]),
                        ("RetrieveReport", l.retrieve_report[i]),
                    ]
                    .into_iter()
                    .map(|(ty, limit)| {
                        let value = st
                            .counters
                            .get(&(ty, *w))
                            .filter(|(idx, _)| *idx == secs / w)
                            .map(|(_, c)| *c)
                            .unwrap_or(0);
                        Out::Elem(
                            "callCounterStates",
                            vec![Out::text("limit", limit), Out::text("operationType", ty), Out::text("value", value)],
                        )
                    })
                    .collect();
                    children.push(Out::text("timeout", w));
                    Out::Elem("return", children)
                })
                .collect();
            Ok(wire::response("getCallCountersState", &items))
        }
        "runReport" => {
            seq(op, &[("folderName", 0, 1), ("reportName", 0, 1), ("criteria", 0, 1)])?;
            run_report(shared, op, fault, empty)
        }
        "isReportRunning" => {
            seq(op, &[("identifier", 0, 1), ("timeout", 1, 1)])?;
            let id = op.text_of("identifier").unwrap_or("").trim().to_owned();
            let timeout: u64 = op
                .text_of("timeout")
                .and_then(|t| t.trim().parse().ok())
                .ok_or_else(|| wire::client_fault("Unmarshalling Error: timeout is not a long"))?;
            let (ready_at, cap) = {
                let st = shared.lock();
                match st.reports.get(&id) {
                    None => return Err(unknown_id(&id)),
                    Some(r) => (r.ready_at, st.config.max_long_poll),
                }
            };
            if matches!(fault, Some(FaultKind::NoLongPoll)) {
                return Ok(wire::response("isReportRunning", &[Out::text("return", true)]));
            }
            let now = tokio::time::Instant::now();
            if still_running(ready_at, now) {
                let mut wait = Duration::from_secs(timeout).min(cap);
                if let Some(t) = ready_at {
                    wait = wait.min(t.saturating_duration_since(now));
                }
                tokio::time::sleep(wait).await;
            }
            let running = still_running(ready_at, tokio::time::Instant::now());
            Ok(wire::response("isReportRunning", &[Out::text("return", running)]))
        }
        "getReportResultCsv" => {
            seq(op, &[("identifier", 0, 1)])?;
            let id = op.text_of("identifier").unwrap_or("").trim().to_owned();
            let st = shared.lock();
            let Some(r) = st.reports.get(&id) else { return Err(unknown_id(&id)) };
            if still_running(r.ready_at, tokio::time::Instant::now())
                || matches!(fault, Some(FaultKind::ResultIsNotReady))
            {
                return Err(wire::simple_fault(
                    "ResultIsNotReadyFault",
                    &format!("Result is not ready for report {id}"),
                ));
            }
            let mut csv = r.csv.clone();
            match fault {
                Some(FaultKind::TruncatedCsv) => csv = truncate_csv(&csv),
                Some(FaultKind::EmptyReturn) => csv.clear(),
                Some(FaultKind::HeaderlessCsv) => {
                    csv = csv.split_once('\n').map(|(_, rest)| rest.to_owned()).unwrap_or_default()
                }
                Some(FaultKind::BlankDuration) => csv = blank_duration(&csv),
                _ => {}
            }
            Ok(wire::response("getReportResultCsv", &[Out::text("return", csv)]))
        }
        other => Err(wire::client_fault(&format!("Cannot find dispatch method for {{{}}}{other}", wire::ADMIN_NS))),
    }
}

fn unknown_id(id: &str) -> String {
    wire::simple_fault("UnknownIdentifierFault", &format!("Unknown report identifier: {id}"))
}

/// The report CSV with the first data row's TALK TIME (Call Log) or AGENT STATE TIME (Agent State Details) empty;
/// unchanged when it has neither column or no data row.
fn blank_duration(csv: &str) -> String {
    let mut rows: Vec<csv::StringRecord> =
        csv::ReaderBuilder::new().has_headers(false).from_reader(csv.as_bytes()).records().flatten().collect();
    let column = rows.first().and_then(|h| h.iter().position(|c| c == "TALK TIME" || c == "AGENT STATE TIME"));
    let (Some(i), Some(row)) = (column, rows.get_mut(1)) else { return csv.to_owned() };
    *row = row.iter().enumerate().map(|(j, v)| if j == i { "" } else { v }).collect();
    let mut w = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(Vec::new());
    for r in &rows {
        if w.write_record(r).is_err() {
            return csv.to_owned();
        }
    }
    w.into_inner().ok().and_then(|b| String::from_utf8(b).ok()).unwrap_or_else(|| csv.to_owned())
}

/// Cuts the CSV in the middle of a data row (after the header), keeping the envelope well formed.
fn truncate_csv(csv: &str) -> String {
    let header_end = csv.find('\n').map(|i| i + 1).unwrap_or(csv.len());
    if csv.len() <= header_end + 10 {
        return csv[..header_end.min(csv.len())].to_owned() + "1,\"Mon, 04";
    }
    let mut cut = header_end + (csv.len() - header_end) * 2 / 3;
    // Land on a char boundary, then inside a row: step back over the line end if the cut hit one.
    while !csv.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut out = csv[..cut].trim_end_matches(['\r', '\n']).to_owned();
    if let Some(last_comma) = out.rfind(',') {
        let line_start = out.rfind('\n').map(|i| i + 1).unwrap_or(0);
        if last_comma > line_start {
            out.truncate(last_comma);
        }
    }
    out
}

fn run_report(shared: &Arc<Shared>, op: &ReqElement, fault: Option<&FaultKind>, empty: bool) -> SoapResult {
    let folder = op.text_of("folderName").unwrap_or("").to_owned();
    let report = op.text_of("reportName").unwrap_or("").to_owned();
    let mut st = shared.lock();
    let tz = st.config.time_zone;
    let kind = if folder == "Call Log Reports" && report == "Call Log" {
        Some("calls")
    } else if (folder.as_str(), report.as_str())
        == (st.config.skill_report.0.as_str(), st.config.skill_report.1.as_str())
    {
        Some("calls+skill")
    } else if folder == "Agent Reports" && report == "Agent State Details" {
        Some("states")
    } else {
        None
    };
    let Some(kind) = kind.filter(|_| !matches!(fault, Some(FaultKind::ReportNotFound))) else {
        let message = format!("Report '{report}' not found in folder '{folder}'");
        return Err(wire::fault(
            "Server",
            &message,
            "ReportNotFoundFault",
            &[Out::text("folder", &folder), Out::text("message", &message), Out::text("reportName", &report)],
        ));
    };
    let Some(criteria) = op.child("criteria") else {
        return Err(wire::simple_fault("MissedArgumentFault", "criteria is required"));
    };
    wire::check_sequence(criteria, &[("reportObjects", 0, usize::MAX), ("time", 0, 1)])
        .map_err(|e| wire::client_fault(&e.0))?;
    let Some(time) = criteria.child("time") else {
        return Err(wire::simple_fault("MissedArgumentFault", "criteria.time is required"));
    };
    wire::check_sequence(time, &[("end", 0, 1), ("start", 0, 1)]).map_err(|e| wire::client_fault(&e.0))?;
    let start_raw = time.text_of("start").unwrap_or("").to_owned();
    let end_raw = time.text_of("end").unwrap_or("").to_owned();
    let (start, end) = (wire::parse_xs_datetime(&start_raw, tz), wire::parse_xs_datetime(&end_raw, tz));
    let (Some(s), Some(e)) = (start, end) else {
        return Err(wire::simple_fault(
            "IncorrectArgumentFault",
            "criteria.time start and end must be xs:dateTime values",
        ));
    };
    if e < s {
        return Err(wire::simple_fault("IncorrectArgumentFault", "criteria.time end is before start"));
    }
    let now = st.now();
    let limit = if empty { 0 } else { st.config.row_limit };
    let (csv, rows) = match kind {
        "states" => {
            // Rows whose (written) timestamp lies in [start, end], for states begun by now. A state that overlaps
            // its predecessor is written with the predecessor's start (up to 10 s earlier than its own): the
            // stretches are taken by their own start with a margin past `end`, then kept by the written one — a
            // state begun just after `end` whose row is written just before it belongs to this report.
            let stretches = st.world.stretches_starting(s - ChronoDuration::hours(1), e + ChronoDuration::minutes(1));
            let mut rows: Vec<StateRowOut> = Vec::new();
            for (i, x) in stretches.iter().enumerate() {
                if x.start > now {
                    continue;
                }
                let at = if x.overlaps_previous && i > 0 && stretches[i - 1].agent == x.agent {
                    stretches[i - 1].start
                } else {
                    x.start
                };
                if at < s || at > e {
                    continue;
                }
                let end = x.end.min(now);
                rows.push(StateRowOut { stretch: x, at, secs: (end - at).num_seconds().max(0) as u64 });
            }
            rows.sort_by_key(|r| (r.stretch.agent, r.at, r.stretch.start));
            let n = rows.len().min(limit);
            (wire::agent_state_csv(&st.world, &rows, limit), n)
        }
        _ => {
            let calls = st.world.calls_between(s, e, now);
            let n = calls.len().min(limit);
            (wire::call_log_csv(&st.world, &calls, kind == "calls+skill", limit), n)
        }
    };
    let id = format!("{:016X}{:016X}@five9-sim", super::data::mix(st.config.seed ^ st.next_report), st.next_report);
    st.next_report += 1;
    let started = tokio::time::Instant::now();
    let ready_at = if matches!(fault, Some(FaultKind::ReportRunningForever)) {
        None
    } else {
        Some(started + st.config.report_running_for)
    };
    let running = st.reports.values().filter(|r| still_running(r.ready_at, started)).count() + 1;
    st.stats.most_reports_running = st.stats.most_reports_running.max(running);
    st.reports.insert(id.clone(), StoredReport { csv, ready_at });
    st.stats.report_runs.push(ReportRun { folder, report, start_raw, end_raw, start, end, rows });
    Ok(wire::response("runReport", &[Out::text("return", id)]))
}

/// Whether a report that is ready at `ready_at` (never: `None`) is still running at `at`.
fn still_running(ready_at: Option<tokio::time::Instant>, at: tokio::time::Instant) -> bool {
    ready_at.is_none_or(|t| at < t)
}

// ---- control routes ----

async fn info(State(shared): State<Arc<Shared>>) -> Response {
    let st = shared.lock();
    Json(json!({
        "base_url": shared.base_url,
        "service_url": format!("{}{SERVICE_PATH}", shared.base_url),
        "username": st.config.username,
        "password": st.config.password,
        "seed": st.config.seed,
        "time_zone": st.config.time_zone.name(),
        "now": st.now(),
        "history_start": st.world.history_start,
        "skill_report": {"folder": st.config.skill_report.0, "name": st.config.skill_report.1},
        "campaigns": st.world.campaigns.iter().filter(|c| c.inbound && !c.deleted).map(|c| c.name.clone()).collect::<Vec<_>>(),
        "skills": st.world.skills.iter().filter(|s| !s.deleted).map(|s| s.name.clone()).collect::<Vec<_>>(),
    }))
    .into_response()
}

async fn get_faults(State(shared): State<Arc<Shared>>) -> Response {
    Json(shared.lock().faults.clone()).into_response()
}
async fn put_faults(State(shared): State<Arc<Shared>>, Json(rules): Json<Vec<FaultRule>>) -> StatusCode {
    shared.lock().faults = rules;
    StatusCode::NO_CONTENT
}
async fn add_fault(State(shared): State<Arc<Shared>>, Json(rule): Json<FaultRule>) -> StatusCode {
    shared.lock().faults.push(rule);
    StatusCode::NO_CONTENT
}
async fn clear_faults(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.lock().faults.clear();
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct NowBody {
    now: Option<DateTime<Utc>>,
}
async fn set_now(State(shared): State<Arc<Shared>>, Json(b): Json<NowBody>) -> StatusCode {
    shared.lock().config.now = b.now;
    StatusCode::NO_CONTENT
}

async fn stats(State(shared): State<Arc<Shared>>) -> Response {
    Json(shared.lock().stats.clone()).into_response()
}

#[derive(Deserialize)]
struct WindowQuery {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    grouping: Option<String>,
}

type BadRequest = (StatusCode, String);

fn window_of(q: &WindowQuery) -> Result<TimeWindow, BadRequest> {
    TimeWindow::new(q.start, q.end).map_err(|e| (StatusCode::BAD_REQUEST, e.to_string()))
}

fn grouping_of(raw: Option<&str>) -> Result<Five9Grouping, BadRequest> {
    Five9Grouping::parse(raw.unwrap_or("campaign"))
        .ok_or_else(|| (StatusCode::BAD_REQUEST, "grouping must be campaign or skill".to_owned()))
}

async fn truth_intervals(State(shared): State<Arc<Shared>>, Query(q): Query<WindowQuery>) -> Response {
    let (w, g) = match (window_of(&q), grouping_of(q.grouping.as_deref())) {
        (Ok(w), Ok(g)) => (w, g),
        (Err(r), _) | (_, Err(r)) => return r.into_response(),
    };
    let st = shared.lock();
    Json(st.world.truth_intervals(w, g, st.now())).into_response()
}

async fn truth_segments(State(shared): State<Arc<Shared>>, Query(q): Query<WindowQuery>) -> Response {
    let w = match window_of(&q) {
        Ok(w) => w,
        Err(r) => return r.into_response(),
    };
    let st = shared.lock();
    Json(st.world.truth_segments(w, st.now())).into_response()
}

#[derive(Deserialize)]
struct GroupingQuery {
    grouping: Option<String>,
}
async fn truth_queues(State(shared): State<Arc<Shared>>, Query(q): Query<GroupingQuery>) -> Response {
    match grouping_of(q.grouping.as_deref()) {
        Ok(g) => Json(shared.lock().world.truth_queues(g)).into_response(),
        Err(r) => r.into_response(),
    }
}
async fn truth_agents_route(State(shared): State<Arc<Shared>>) -> Response {
    Json(truth_agents(&shared.lock())).into_response()
}
async fn truth_statuses(State(shared): State<Arc<Shared>>, Query(q): Query<WindowQuery>) -> Response {
    let w = match window_of(&q) {
        Ok(w) => w,
        Err(r) => return r.into_response(),
    };
    let st = shared.lock();
    Json(st.world.truth_statuses(w, st.now())).into_response()
}

#[derive(Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
enum Mutation {
    RenameCampaign { from: String, to: String },
    DeleteCampaign { name: String },
    RenameSkill { from: String, to: String },
    DeleteSkill { name: String },
    AdjustCalls { campaign: String, interval_start: DateTime<Utc>, delta: i64 },
}

async fn mutate(State(shared): State<Arc<Shared>>, Json(m): Json<Mutation>) -> StatusCode {
    let mut st = shared.lock();
    let w = &mut st.world;
    let found = match m {
        Mutation::RenameCampaign { from, to } => w.campaigns.iter_mut().find(|c| c.name == from).map(|c| c.name = to),
        Mutation::DeleteCampaign { name } => w.campaigns.iter_mut().find(|c| c.name == name).map(|c| c.deleted = true),
        Mutation::RenameSkill { from, to } => w.skills.iter_mut().find(|s| s.name == from).map(|s| s.name = to),
        Mutation::DeleteSkill { name } => w.skills.iter_mut().find(|s| s.name == name).map(|s| s.deleted = true),
        Mutation::AdjustCalls { campaign, interval_start, delta } => {
            match w.campaigns.iter().position(|c| c.name == campaign) {
                Some(i) => {
                    *w.adjustments.entry((i, interval_start)).or_insert(0) += delta;
                    Some(())
                }
                None => None,
            }
        }
    };
    if found.is_some() { StatusCode::NO_CONTENT } else { StatusCode::NOT_FOUND }
}
