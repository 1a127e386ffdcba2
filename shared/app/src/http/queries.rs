//! Routes of the `queues-query` function: mappable queues, interval statistics, agent states, and the mappings of
//! external agents and statuses.

use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};

use acd_domain::TenantId;

use crate::error::ApiError;
use crate::http::integrations::parse_limit;
use crate::http::{
    ScopePolicy, TenantAuth, json_body, json_response, path_segments, problem_response, query, request_id, with_allow,
};
use crate::mappings::{AgentView, ExternalStatusRecord, MappingService};
use crate::query::cost::{self, ReadCost};
use crate::query::params::{
    parse_bool, parse_channel, parse_identifier, parse_integration_id, parse_range, parse_text,
};
use crate::query::{
    AgentState, DEFAULT_PAGE_SIZE, DEFAULT_STATES_PAGE_SIZE, MAX_PAGE_SIZE, MAX_STATES_PAGE_SIZE, QueryService,
    QueueIntervals, QueueQuery, QueueRecord,
};

/// The methods of a path of this function (its `Allow` header on a 405), or `None` for an unknown path.
pub fn allowed_methods(path: &[&str]) -> Option<&'static str> {
    match path {
        ["queues"] | ["queues", _] | ["queues", _, "intervals"] | ["agent-states"] => Some("GET"),
        ["integrations", _, "external-agents" | "external-statuses"] => Some("GET"),
        ["integrations", _, "external-agents" | "external-statuses", _] => Some("PUT, DELETE"),
        _ => None,
    }
}

/// The queues-query API: one value per cold start, shared by every request.
#[derive(Clone)]
pub struct QueriesApi {
    pub queries: QueryService,
    pub mappings: MappingService,
    pub auth: TenantAuth,
    /// The scopes that grant read and admin access.
    pub scopes: ScopePolicy,
}

impl QueriesApi {
    /// Answers one request. Never fails: every error becomes a problem+json response. Logs what the request
    /// read from DynamoDB.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        self.handle_measured(request).await.0
    }

    /// [`Self::handle`], also returning the DynamoDB reads of the request (for benchmarks and tests).
    pub async fn handle_measured(&self, request: Request) -> (Response<Body>, ReadCost) {
        let id = request_id(&request);
        let (result, cost) = cost::measure(super::within_invocation(&request, self.route(&request))).await;
        let response = match result {
            Some(Ok(response)) => response,
            Some(Err(error)) => problem_response(&error, id.as_deref()),
            None => super::cut_off_response(id.as_deref()),
        };
        let response = with_allow(response, &request, allowed_methods);
        tracing::info!(
            method = %request.method(),
            status = response.status().as_u16(),
            dynamodb_calls = cost.calls,
            read_units = cost.consumed_units,
            estimated_read_units = cost.estimated_units,
            items_scanned = cost.scanned_items,
            items_returned = cost.returned_items,
            request_id = id.as_deref(),
            "query served"
        );
        (response, cost)
    }

    async fn route(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let segments = path_segments(request);
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        let method = request.method();
        let tenant = self.auth.authorize(request, &self.scopes)?;
        match (segments.as_slice(), method) {
            (["queues"], &Method::GET) => self.list_queues(request, &tenant).await,
            (["queues", id], &Method::GET) => {
                Ok(json_response(200, &queue_view(&self.queries.get_queue(&tenant, id).await?)))
            }
            (["queues", id, "intervals"], &Method::GET) => {
                let (from, to) = parse_range(query(request, "from").as_deref(), query(request, "to").as_deref(), true)?;
                Ok(json_response(200, &intervals_view(&self.queries.intervals(&tenant, id, from, to).await?)))
            }
            (["agent-states"], &Method::GET) => self.agent_states(request, &tenant).await,
            (["integrations", id, "external-agents"], &Method::GET) => {
                let (unmapped, limit, cursor) = listing_params(request)?;
                let (items, next) = self.mappings.list_agents(&tenant, id, unmapped, limit, cursor.as_deref()).await?;
                let items: Vec<Value> = items.iter().map(agent_view).collect();
                Ok(json_response(200, &json!({"items": items, "next_cursor": next})))
            }
            (["integrations", id, "external-agents", external_id], &Method::PUT) => {
                let body = json_body(request)?;
                Ok(json_response(
                    200,
                    &agent_view(&self.mappings.set_agent(&tenant, id, external_id, Some(&body)).await?),
                ))
            }
            (["integrations", id, "external-agents", external_id], &Method::DELETE) => {
                Ok(json_response(200, &agent_view(&self.mappings.set_agent(&tenant, id, external_id, None).await?)))
            }
            (["integrations", id, "external-statuses"], &Method::GET) => {
                let (unmapped, limit, cursor) = listing_params(request)?;
                let (items, next) =
                    self.mappings.list_statuses(&tenant, id, unmapped, limit, cursor.as_deref()).await?;
                let items: Vec<Value> = items.iter().map(status_view).collect();
                Ok(json_response(200, &json!({"items": items, "next_cursor": next})))
            }
            (["integrations", id, "external-statuses", status_id], &Method::PUT) => {
                let body = json_body(request)?;
                Ok(json_response(
                    200,
                    &status_view(&self.mappings.set_status(&tenant, id, status_id, Some(&body)).await?),
                ))
            }
            (["integrations", id, "external-statuses", status_id], &Method::DELETE) => {
                Ok(json_response(200, &status_view(&self.mappings.set_status(&tenant, id, status_id, None).await?)))
            }
            (path, _) if allowed_methods(path).is_some() => Err(ApiError::MethodNotAllowed),
            _ => Err(ApiError::NotFound),
        }
    }

    async fn list_queues(&self, request: &Request, tenant: &TenantId) -> Result<Response<Body>, ApiError> {
        let params = (
            parse_limit(query(request, "limit").as_deref(), DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE),
            parse_channel(query(request, "channel").as_deref()),
            parse_integration_id(query(request, "integration_id").as_deref(), "integration_id"),
            parse_bool(query(request, "include_inactive").as_deref(), "include_inactive", false),
            parse_text(query(request, "q").as_deref()),
        );
        let (limit, channel, integration_id, include_inactive, needle) = collect5(params)?;
        let filter = QueueQuery { channel, integration_id, include_inactive, text: None };
        let cursor = query(request, "cursor");
        let (items, next) = self.queries.list_queues(tenant, filter, needle, limit, cursor.as_deref()).await?;
        let items: Vec<Value> = items.iter().map(queue_view).collect();
        Ok(json_response(200, &json!({"items": items, "next_cursor": next})))
    }

    async fn agent_states(&self, request: &Request, tenant: &TenantId) -> Result<Response<Body>, ApiError> {
        let range = parse_range(query(request, "from").as_deref(), query(request, "to").as_deref(), false);
        let limit = parse_limit(query(request, "limit").as_deref(), DEFAULT_STATES_PAGE_SIZE, MAX_STATES_PAGE_SIZE);
        let employee = parse_identifier(query(request, "employee_id").as_deref(), "employee_id");
        let ((from, to), limit, employee) = merge3(range, limit, employee)?;
        let cursor = query(request, "cursor");
        let page = self.queries.agent_states(tenant, from, to, employee.as_deref(), limit, cursor.as_deref()).await?;
        let items: Vec<Value> = page.items.iter().map(state_view).collect();
        let gaps: Vec<Value> = page.gaps.iter().map(gap_view).collect();
        let body = json!({"from": from, "to": to, "items": items, "next_cursor": page.next_cursor, "gaps": gaps});
        Ok(json_response(200, &body))
    }
}

/// `unmapped`, `limit` and `cursor` of the mapping listings.
fn listing_params(request: &Request) -> Result<(bool, usize, Option<String>), ApiError> {
    let unmapped = parse_bool(query(request, "unmapped").as_deref(), "unmapped", false);
    let limit = parse_limit(query(request, "limit").as_deref(), DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE);
    let (unmapped, limit) = merge2(unmapped, limit)?;
    Ok((unmapped, limit, query(request, "cursor")))
}

/// Joins the field errors of independently parsed parameters, so one answer names every bad parameter.
fn join(errors: impl IntoIterator<Item = Option<ApiError>>) -> ApiError {
    let mut all = acd_domain::FieldErrors::default();
    for error in errors.into_iter().flatten() {
        match error {
            ApiError::Validation(e) => all.0.extend(e.0),
            other => return other,
        }
    }
    ApiError::Validation(all)
}

fn merge2<A, B>(a: Result<A, ApiError>, b: Result<B, ApiError>) -> Result<(A, B), ApiError> {
    match (a, b) {
        (Ok(a), Ok(b)) => Ok((a, b)),
        (a, b) => Err(join([a.err(), b.err()])),
    }
}

fn merge3<A, B, C>(
    a: Result<A, ApiError>,
    b: Result<B, ApiError>,
    c: Result<C, ApiError>,
) -> Result<(A, B, C), ApiError> {
    match (a, b, c) {
        (Ok(a), Ok(b), Ok(c)) => Ok((a, b, c)),
        (a, b, c) => Err(join([a.err(), b.err(), c.err()])),
    }
}

type Five<A, B, C, D, E> =
    (Result<A, ApiError>, Result<B, ApiError>, Result<C, ApiError>, Result<D, ApiError>, Result<E, ApiError>);

fn collect5<A, B, C, D, E>(p: Five<A, B, C, D, E>) -> Result<(A, B, C, D, E), ApiError> {
    match p {
        (Ok(a), Ok(b), Ok(c), Ok(d), Ok(e)) => Ok((a, b, c, d, e)),
        (a, b, c, d, e) => Err(join([a.err(), b.err(), c.err(), d.err(), e.err()])),
    }
}

/// The public view of a queue.
pub fn queue_view(q: &QueueRecord) -> Value {
    json!({
        "id": q.queue_id,
        "integration_id": q.integration_id,
        "integration_name": q.integration_name,
        "external_id": q.external_id,
        "name": q.name,
        "channel": q.channel,
        "interval_minutes": q.interval_minutes,
        "active": q.active,
        "first_seen": q.first_seen,
        "last_seen": q.last_seen,
        "data_from": q.data_from,
        "data_to": q.data_to,
    })
}

fn seconds(ms: u64) -> Value {
    if ms.is_multiple_of(1000) { json!(ms / 1000) } else { json!(ms as f64 / 1000.0) }
}

fn intervals_view(r: &QueueIntervals) -> Value {
    let items: Vec<Value> = r
        .intervals
        .iter()
        .map(|i| match &i.stats {
            Some(s) => json!({
                "start": i.start,
                "complete": i.complete,
                "offered": s.offered,
                "handled": s.handled,
                "abandoned": s.abandoned,
                "handle_time_seconds": seconds(s.handle_ms),
                "answer_time_seconds": seconds(s.answer_ms),
                "answered_within_sl": s.answered_within_sl,
            }),
            None => json!({
                "start": i.start,
                "complete": false,
                "offered": null,
                "handled": null,
                "abandoned": null,
                "handle_time_seconds": null,
                "answer_time_seconds": null,
                "answered_within_sl": null,
            }),
        })
        .collect();
    json!({
        "queue_id": r.queue.queue_id,
        "channel": r.queue.channel,
        "interval_minutes": r.queue.interval_minutes,
        "from": r.from,
        "to": r.to,
        "complete_from": r.complete_from,
        "complete_through": r.complete_through,
        "items": items,
    })
}

fn state_view(s: &AgentState) -> Value {
    json!({
        "integration_id": s.agent.integration_id,
        "external_agent_id": s.agent.external_id,
        "employee_id": s.agent.employee_id,
        "status_id": s.status_id,
        "status_name": s.status_name,
        "reason": s.reason,
        "activity_id": s.activity_id,
        "start": s.start,
        "end": s.end,
    })
}

/// A period whose agent states may be missing (`AgentStateGap` in the spec).
fn gap_view(g: &crate::query::IntegrationGap) -> Value {
    json!({
        "integration_id": g.integration_id,
        "from": g.gap.from,
        "to": g.gap.to,
        "reason": g.gap.reason.as_str(),
    })
}

fn agent_view(v: &AgentView) -> Value {
    json!({
        "integration_id": v.agent.integration_id,
        "external_id": v.agent.external_id,
        "display_name": v.agent.display_name,
        "first_seen": v.agent.first_seen,
        "last_seen": v.agent.last_seen,
        "employee_id": v.agent.employee_id,
        "warnings": v.warnings,
    })
}

fn status_view(s: &ExternalStatusRecord) -> Value {
    json!({
        "integration_id": s.integration_id,
        "status_id": s.status_id,
        "name": s.name,
        "activity_id": s.activity_id,
        "mapped": s.mapped,
        "first_seen": s.first_seen,
        "last_seen": s.last_seen,
    })
}
