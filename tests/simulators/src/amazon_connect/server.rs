//! The simulator's HTTP routes (Connect REST-JSON; errors carry `x-amzn-ErrorType` and a `{"__type", "Message"}`
//! body, as the SDK's rest-json error parser expects).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use super::{INSTANCE_ID, STATUSES, Shared, instance_arn, queue_id, row, user_id};

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/instance/{id}", get(describe_instance))
        .route("/queues-summary/{id}", get(list_queues))
        .route("/users-summary/{id}", get(list_users))
        .route("/agent-status/{id}", get(list_agent_statuses))
        .route("/metrics/data", post(get_metric_data_v2))
        // Pointed at as the STS endpoint, the simulator is the customer role's trust policy: AssumeRole succeeds
        // only with the external id given to [`super::ConnectSimulator::trust`] (none: every AssumeRole is refused,
        // the "trust failure" fault), the way STS answers (query protocol, XML).
        .route("/", post(assume_role))
        // The simulator's own routes, for a simulator running as a process (`connect-sim`): what it serves and the
        // calls answered so far; the trust of [`super::ConnectSimulator::trust`]; and the answer time of
        // [`super::ConnectSimulator::set_metric_latency`].
        .route("/__sim/info", get(info))
        .route("/__sim/trust", post(trust))
        .route("/__sim/latency", post(latency))
        .with_state(shared)
}

async fn info(State(shared): State<Arc<Shared>>) -> Response {
    let c = &shared.config;
    let (calls, most_at_once) = {
        let s = shared.lock();
        (s.calls.clone(), s.metric_most_in_progress)
    };
    Json(json!({"instance_id": INSTANCE_ID, "instance_arn": instance_arn(), "region": super::REGION,
                "seed": c.seed, "queues": c.queues, "agents": c.agents, "page_size": c.page_size, "calls": calls,
                "metric_requests_most_at_once": most_at_once}))
    .into_response()
}

/// `{"external_id": "…"}`: AssumeRole succeeds with this external id from now on.
async fn trust(State(shared): State<Arc<Shared>>, Json(body): Json<Value>) -> Response {
    let Some(id) = body["external_id"].as_str() else { return bad("external_id is required") };
    shared.lock().trusted_external_id = Some(id.to_owned());
    StatusCode::NO_CONTENT.into_response()
}

/// `{"metric_ms": N}`: each `GetMetricDataV2` answer takes N ms from now on (see
/// [`super::ConnectSimulator::set_metric_latency`]).
async fn latency(State(shared): State<Arc<Shared>>, Json(body): Json<Value>) -> Response {
    let Some(ms) = body["metric_ms"].as_u64() else { return bad("metric_ms (milliseconds) is required") };
    shared.lock().metric_latency = std::time::Duration::from_millis(ms);
    StatusCode::NO_CONTENT.into_response()
}

fn error(status: StatusCode, kind: &str, message: &str) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert("x-amzn-ErrorType", kind.parse().expect("header"));
    (status, headers, Json(json!({"__type": kind, "Message": message}))).into_response()
}

/// Counts the call and applies the faults; `Some` = the fault's answer. A delayed operation ([`super::Fault::Delay`])
/// waits first, then answers as it would have.
async fn gate(shared: &Shared, operation: &str, instance: Option<&str>) -> Option<Response> {
    let delay = {
        let mut s = shared.lock();
        *s.calls.entry(operation.to_owned()).or_default() += 1;
        match s.delays.get_mut(operation) {
            Some((skip, _)) if *skip > 0 => {
                *skip -= 1;
                None
            }
            Some((_, delay)) => Some(*delay),
            None => None,
        }
    };
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    let mut s = shared.lock();
    if s.throttle > 0 {
        s.throttle -= 1;
        return Some(error(StatusCode::TOO_MANY_REQUESTS, "ThrottlingException", "Rate exceeded"));
    }
    if s.server_errors > 0 {
        s.server_errors -= 1;
        return Some(error(StatusCode::INTERNAL_SERVER_ERROR, "InternalServiceException", "Internal service error"));
    }
    if s.denied.contains(operation) {
        return Some(error(
            StatusCode::FORBIDDEN,
            "AccessDeniedException",
            &format!("User is not authorized to perform: connect:{operation}"),
        ));
    }
    if instance.is_some_and(|i| i != INSTANCE_ID) {
        return Some(error(StatusCode::NOT_FOUND, "ResourceNotFoundException", "Instance not found"));
    }
    None
}

/// `(start, end)` of one page of `len` items from the `nextToken` (an offset) and `maxResults`.
fn page(params: &HashMap<String, String>, len: usize, cap: usize) -> Result<(usize, usize), Box<Response>> {
    let start: usize = match params.get("nextToken") {
        None => 0,
        Some(t) => t.parse().map_err(|_| Box::new(bad("bad nextToken")))?,
    };
    let max: usize = params.get("maxResults").and_then(|m| m.parse().ok()).unwrap_or(100).clamp(1, 1000).min(cap);
    Ok((start.min(len), (start + max).min(len)))
}

/// The answer with the `NextToken` of the page `[start, end)` of `len` items: the next page's offset, or (fault
/// `StuckToken` on `operation`) after the first page the token it was asked with, so the paging never moves on.
fn with_token(shared: &Shared, operation: &str, mut body: Value, (start, end): (usize, usize), len: usize) -> Response {
    if end < len {
        let next = if start > 0 && shared.lock().stuck_tokens.contains(operation) { start } else { end };
        body["NextToken"] = json!(next.to_string());
    }
    Json(body).into_response()
}

async fn describe_instance(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    if let Some(r) = gate(&shared, "DescribeInstance", Some(&id)).await {
        return r;
    }
    Json(json!({"Instance": {"Id": INSTANCE_ID, "Arn": instance_arn(), "IdentityManagementType": "CONNECT_MANAGED",
        "InstanceAlias": "acd-sim", "InstanceStatus": "ACTIVE", "InboundCallsEnabled": true, "OutboundCallsEnabled": true}}))
    .into_response()
}

async fn list_queues(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    if let Some(r) = gate(&shared, "ListQueues", Some(&id)).await {
        return r;
    }
    let mut all: Vec<Value> = (0..shared.config.queues)
        .map(|q| {
            json!({"Id": queue_id(q), "Arn": format!("{}/queue/{}", instance_arn(), queue_id(q)),
                "Name": format!("Queue {q}"), "QueueType": "STANDARD", "LastModifiedTime": 1.7e9})
        })
        .collect();
    all.push(json!({"Id": "a6e47000-0000-4000-8000-000000000000", "Name": "Agent queue", "QueueType": "AGENT"}));
    {
        let mut s = shared.lock();
        if s.empty_queues > 0 && s.empty_queues_skip > 0 {
            s.empty_queues_skip -= 1;
        } else if s.empty_queues > 0 {
            s.empty_queues -= 1;
            all.clear();
        }
    }
    if params.get("queueTypes").is_some_and(|t| t == "STANDARD") {
        all.retain(|q| q["QueueType"] == "STANDARD");
    }
    let (start, end) = match page(&params, all.len(), shared.config.page_size) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    with_token(&shared, "ListQueues", json!({"QueueSummaryList": all[start..end]}), (start, end), all.len())
}

async fn list_users(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    if let Some(r) = gate(&shared, "ListUsers", Some(&id)).await {
        return r;
    }
    let all: Vec<Value> = (0..shared.config.agents)
        .map(|a| json!({"Id": user_id(a), "Arn": format!("{}/agent/{}", instance_arn(), user_id(a)), "Username": format!("agent{a}@example.com")}))
        .collect();
    let (start, end) = match page(&params, all.len(), shared.config.page_size) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    with_token(&shared, "ListUsers", json!({"UserSummaryList": all[start..end]}), (start, end), all.len())
}

async fn list_agent_statuses(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    if let Some(r) = gate(&shared, "ListAgentStatuses", Some(&id)).await {
        return r;
    }
    let all: Vec<Value> = STATUSES
        .iter()
        .map(|(id, name, kind)| json!({"Id": id, "Arn": format!("{}/agent-state/{id}", instance_arn()), "Name": name, "Type": kind}))
        .collect();
    let (start, end) = match page(&params, all.len(), shared.config.page_size) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    with_token(
        &shared,
        "ListAgentStatuses",
        json!({"AgentStatusSummaryList": all[start..end]}),
        (start, end),
        all.len(),
    )
}

fn bad(message: &str) -> Response {
    error(StatusCode::BAD_REQUEST, "InvalidParameterException", message)
}

/// Counts a `GetMetricDataV2` request as being answered until dropped.
struct InProgress<'a>(&'a Shared);

impl<'a> InProgress<'a> {
    fn start(shared: &'a Shared) -> Self {
        let mut s = shared.lock();
        s.metric_in_progress += 1;
        s.metric_most_in_progress = s.metric_most_in_progress.max(s.metric_in_progress);
        Self(shared)
    }
}

impl Drop for InProgress<'_> {
    fn drop(&mut self) {
        self.0.lock().metric_in_progress -= 1;
    }
}

async fn get_metric_data_v2(State(shared): State<Arc<Shared>>, Json(body): Json<Value>) -> Response {
    if let Some(r) = gate(&shared, "GetMetricDataV2", None).await {
        return r;
    }
    let _in_progress = InProgress::start(&shared);
    if body["ResourceArn"].as_str() != Some(instance_arn().as_str()) {
        return error(StatusCode::NOT_FOUND, "ResourceNotFoundException", "ResourceArn is not an instance");
    }
    let time = |k: &str| body[k].as_f64().and_then(|s| DateTime::<Utc>::from_timestamp(s as i64, 0));
    let (Some(start), Some(end)) = (time("StartTime"), time("EndTime")) else {
        return bad("StartTime and EndTime are required (epoch seconds)");
    };
    if body["Interval"]["IntervalPeriod"] != "FIFTEEN_MIN" {
        return bad("the simulator serves IntervalPeriod FIFTEEN_MIN only");
    }
    if end <= start || end - start >= Duration::days(3) {
        return bad("the difference between StartTime and EndTime must be less than 3 days for FIFTEEN_MIN");
    }
    if start.timestamp() % 900 != 0 || end.timestamp() % 900 != 0 {
        return bad("StartTime and EndTime must be on 15-minute boundaries");
    }
    let groupings: Vec<&str> =
        body["Groupings"].as_array().map(|g| g.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    if groupings != ["QUEUE", "CHANNEL"] {
        return bad("the simulator serves Groupings [QUEUE, CHANNEL] only");
    }
    let Some(filters) = body["Filters"].as_array() else { return bad("Filters are required") };
    let mut queues: Vec<String> = Vec::new();
    for f in filters {
        if f["FilterKey"] == "QUEUE" {
            let values = f["FilterValues"].as_array().cloned().unwrap_or_default();
            if values.len() > 100 {
                return bad("at most 100 filter values");
            }
            queues.extend(values.iter().filter_map(|v| v.as_str().map(str::to_owned)));
        }
    }
    let metrics: Vec<Value> = body["Metrics"].as_array().cloned().unwrap_or_default();
    // As the model documents the metric's threshold: `LT` or `LTE`, a whole number of seconds from 1 to 604800.
    for m in metrics.iter().filter(|m| m["Name"] == "SUM_CONTACTS_ANSWERED_IN_X") {
        let t = &m["Threshold"][0];
        let seconds = t["ThresholdValue"].as_f64().unwrap_or(0.0);
        if !matches!(t["Comparison"].as_str(), Some("LT" | "LTE")) || !(1.0..=604_800.0).contains(&seconds) {
            return bad("SUM_CONTACTS_ANSWERED_IN_X needs a Threshold: Comparison LT or LTE, 1 to 604800 seconds");
        }
        // The simulator's rows know every answered contact (`LT` the largest threshold) and the service level's
        // (`LTE`), no other count: a request for another is refused, not answered with one of those.
        if t["Comparison"] == "LT" && seconds != 604_800.0 {
            return bad("the simulator serves SUM_CONTACTS_ANSWERED_IN_X with LT only at 604800 seconds");
        }
    }
    let max: usize = body["MaxResults"].as_u64().unwrap_or(100).clamp(1, 100) as usize;
    let offset: usize = match body["NextToken"].as_str() {
        None => 0,
        Some(t) => match t.parse() {
            Ok(o) => o,
            Err(_) => return bad("bad NextToken"),
        },
    };
    let (null_answer, latency, revised, outbound) = {
        let mut s = shared.lock();
        if s.metrics_fail.is_some_and(|(from, to)| from <= start && start < to) {
            return error(StatusCode::INTERNAL_SERVER_ERROR, "InternalServiceException", "Internal service error");
        }
        s.metric_requests.push((start, end));
        (s.null_answer_time, s.metric_latency, s.revised, s.outbound_calls)
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    // Every row of the window, then the page's rows as JSON (a large window has tens of thousands of rows and is
    // asked for page by page: only the page is rendered).
    let mut rows = Vec::new();
    for q in 0..shared.config.queues {
        if !queues.contains(&queue_id(q)) {
            continue;
        }
        for channel in ["VOICE", "CHAT"] {
            let mut t = start;
            while t < end {
                if let Some(r) = row(super::seed_at(revised, shared.config.seed, t), q, channel, t, outbound) {
                    rows.push((q, channel, t, r));
                }
                t += Duration::minutes(15);
            }
        }
    }
    let len = rows.len();
    let from = offset.min(len);
    let to = (offset + max).min(len);
    let results: Vec<Value> = rows[from..to]
        .iter()
        .map(|&(q, channel, t, r)| {
            let collections: Vec<Value> = metrics
                .iter()
                .map(|m| {
                    let name = m["Name"].as_str().unwrap_or("");
                    let value = match name {
                        "CONTACTS_QUEUED_BY_ENQUEUE" => json!(r.offered),
                        "CONTACTS_HANDLED" => json!(r.handled),
                        "CONTACTS_ABANDONED" => json!(r.abandoned),
                        "SUM_HANDLE_TIME" if r.handled == 0 => Value::Null,
                        "SUM_HANDLE_TIME" => json!(r.handle_s),
                        "AVG_QUEUE_ANSWER_TIME" if r.answered == 0 || null_answer => Value::Null,
                        "AVG_QUEUE_ANSWER_TIME" => json!(r.avg_answer_ms as f64 / 1000.0),
                        // Every contact answered from the queue (a threshold `LT` the largest there is), else the
                        // service level's count.
                        "SUM_CONTACTS_ANSWERED_IN_X" if m["Threshold"][0]["Comparison"] == "LT" => json!(r.answered),
                        "SUM_CONTACTS_ANSWERED_IN_X" => json!(r.within_sl),
                        _ => Value::Null,
                    };
                    let mut c = json!({"Metric": m});
                    if !value.is_null() {
                        c["Value"] = value;
                    }
                    c
                })
                .collect();
            json!({
                "Dimensions": {"QUEUE": queue_id(q), "CHANNEL": channel},
                "MetricInterval": {"Interval": "FIFTEEN_MIN", "StartTime": t.timestamp(), "EndTime": (t + Duration::minutes(15)).timestamp()},
                "Collections": collections,
            })
        })
        .collect();
    with_token(&shared, "GetMetricDataV2", json!({"MetricResults": results}), (from, to), len)
}

async fn assume_role(
    State(shared): State<Arc<Shared>>,
    headers: axum::http::HeaderMap,
    axum::extract::Form(form): axum::extract::Form<HashMap<String, String>>,
) -> Response {
    // SigV4: `Credential={key id}/{date}/{region}/sts/aws4_request`.
    let authorization = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let scope = authorization.split("Credential=").nth(1).unwrap_or_default();
    let region = scope.split('/').nth(2).unwrap_or_default().to_owned();
    let trusted = {
        let mut s = shared.lock();
        *s.calls.entry("sts:AssumeRole".to_owned()).or_default() += 1;
        s.assume_role_regions.push(region);
        s.trusted_external_id.clone()
    };
    let role = form.get("RoleArn").cloned().unwrap_or_default();
    if form.get("Action").map(String::as_str) == Some("AssumeRole")
        && trusted.is_some()
        && form.get("ExternalId") == trusted.as_ref()
    {
        shared.lock().assumed_with.push(form.get("ExternalId").cloned().unwrap_or_default());
        let expires = (Utc::now() + Duration::hours(1)).format("%Y-%m-%dT%H:%M:%SZ");
        let session = form.get("RoleSessionName").cloned().unwrap_or_default();
        let body = format!(
            "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><AssumeRoleResult><Credentials>\
             <AccessKeyId>ASIASIMULATOR0000001</AccessKeyId><SecretAccessKey>simulated-secret</SecretAccessKey>\
             <SessionToken>simulated-session-token</SessionToken><Expiration>{expires}</Expiration></Credentials>\
             <AssumedRoleUser><AssumedRoleId>AROASIMULATOR:{session}</AssumedRoleId><Arn>{role}/{session}</Arn>\
             </AssumedRoleUser></AssumeRoleResult><ResponseMetadata><RequestId>00000000-0000-0000-0000-000000000001\
             </RequestId></ResponseMetadata></AssumeRoleResponse>"
        );
        return (StatusCode::OK, [("content-type", "text/xml")], body).into_response();
    }
    let body = format!(
        "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type>\
         <Code>AccessDenied</Code><Message>User: arn:aws:sts::123456789012:assumed-role/acd-import is not \
         authorized to perform: sts:AssumeRole on resource: {role}</Message></Error>\
         <RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>"
    );
    (StatusCode::FORBIDDEN, [("content-type", "text/xml")], body).into_response()
}
