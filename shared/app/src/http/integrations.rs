//! Routes of the `integrations-api` function.

use std::sync::Arc;

use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};

use acd_connectors::registry::{integration_types_catalog_with, tenant_token_at};
use acd_domain::{FieldErrors, Integration, TenantId};

use crate::error::ApiError;
use crate::http::{
    TenantAuth, empty_response, json_body, json_response, path_segments, problem_response, query, request_id,
    with_allow,
};
use crate::integrations::{DEFAULT_PAGE_SIZE, IntegrationService, MAX_PAGE_SIZE};
use crate::ports::IdempotencyStore;

/// The integrations API: one value per cold start, shared by every request.
#[derive(Clone)]
pub struct IntegrationsApi {
    pub service: IntegrationService,
    pub auth: TenantAuth,
    /// The scopes that grant read and admin access.
    pub scopes: crate::http::ScopePolicy,
    /// Where `Idempotency-Key`s of `POST /integrations` are kept.
    pub idempotency: Arc<dyn IdempotencyStore>,
    /// `push` integrations: their create branch and their ingest keys.
    pub ingest: crate::ingest::IngestAdmin,
}

impl IntegrationsApi {
    /// A tenant token as answered: its type and value, and the account to trust when it is a role's external id.
    fn token_view(&self, path: &[&str], kind: &acd_domain::IntegrationType, field: &str, value: String) -> Value {
        let mut view = json!({"type": kind});
        view[field] = Value::String(value);
        if tenant_token_at(path).is_some_and(|(_, token)| token.names_trusted_account) {
            view["trusted_account_id"] = Value::String(self.service.trusted_account_id.clone());
        }
        view
    }

    /// Answers one request. Never fails: every error becomes a problem+json response.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        let id = request_id(&request);
        let response = match self.route(&request).await {
            Ok(response) => response,
            Err(error) => problem_response(&error, id.as_deref()),
        };
        with_allow(response, &request, allowed_methods)
    }

    async fn route(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let segments = path_segments(request);
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        let method = request.method();
        // `GET /health` is the one route without credentials (no authorizer in the template): no tenant data.
        if let (["health"], &Method::GET) = (segments.as_slice(), method) {
            return Ok(json_response(200, &crate::http::health()));
        }
        // Every other route needs a tenant, the catalog included (it is behind the same authorizer).
        let tenant = self.auth.authorize(request, &self.scopes)?;
        match (segments.as_slice(), method) {
            (["integration-types"], &Method::GET) => {
                Ok(json_response(200, &integration_types_catalog_with(self.service.default_history_days)))
            }
            (["integrations"], &Method::GET) => self.list(request, &tenant).await,
            (["integrations"], &Method::POST) => {
                let key = super::idempotency::key(request)?;
                let body = json_body(request)?;
                // push (issue 12): its own create path, until it moves behind the vendor registry. No
                // Idempotency-Key replay: the remembered answer would hold the ingest key in clear.
                if crate::ingest::is_push_create(&body) {
                    return self.create_push(&tenant, &body).await;
                }
                match key {
                    None => self.create(&tenant, &body).await,
                    Some(key) => {
                        // A bad body is refused before the key is claimed: nothing is written for it.
                        self.service.validate_create(&body)?;
                        let create = self.create(&tenant, &body);
                        super::idempotency::once(&*self.idempotency, &tenant, &key, "POST /integrations", &body, create)
                            .await
                    }
                }
            }
            (["integrations", "test-connection"], &Method::POST) => {
                self.service.test_connection(&tenant, &json_body(request)?).await?;
                Ok(json_response(200, &json!({"ok": true})))
            }
            // Not `/integrations/{id}` with the id "test-connection".
            (["integrations", "test-connection"], _) => Err(ApiError::MethodNotAllowed),
            // A vendor's per-tenant token (`/integrations/amazon-connect/external-id`): before `{id}` routes.
            (["integrations", a, b], &Method::POST) if tenant_token_at(&[a, b]).is_some() => {
                let (kind, field, value, issued) = self.service.issue_tenant_token(&tenant, &[a, b]).await?;
                Ok(json_response(if issued { 201 } else { 200 }, &self.token_view(&[a, b], &kind, field, value)))
            }
            (["integrations", a, b], &Method::GET) if tenant_token_at(&[a, b]).is_some() => {
                let (kind, field, value) = self.service.tenant_token(&tenant, &[a, b]).await?;
                Ok(json_response(200, &self.token_view(&[a, b], &kind, field, value)))
            }
            (["integrations", a, b], _) if tenant_token_at(&[a, b]).is_some() => Err(ApiError::MethodNotAllowed),
            (["integrations", id], &Method::GET) => Ok(view(200, &self.service.get(&tenant, id).await?)),
            (["integrations", id], &Method::PATCH) => {
                Ok(view(200, &self.service.patch(&tenant, id, &json_body(request)?).await?))
            }
            (["integrations", id], &Method::DELETE) => {
                self.service.delete(&tenant, id).await?;
                Ok(empty_response(204))
            }
            (["integrations", id, "pause"], &Method::POST) => Ok(view(200, &self.service.pause(&tenant, id).await?)),
            (["integrations", id, "resume"], &Method::POST) => Ok(view(200, &self.service.resume(&tenant, id).await?)),
            (["integrations", id, "import"], &Method::POST) => {
                self.service.import_now(&tenant, id).await?;
                Ok(json_response(202, &json!({"scheduled": true})))
            }
            (["integrations", id, "runs"], &Method::GET) => {
                let limit = parse_limit(query(request, "limit").as_deref(), 20, MAX_PAGE_SIZE)?;
                let cursor = query(request, "cursor");
                let (runs, next) = self.service.runs(&tenant, id, limit, cursor.as_deref()).await?;
                let items: Vec<Value> = runs.iter().map(run_view).collect();
                Ok(json_response(200, &json!({"items": items, "next_cursor": next})))
            }
            (["integrations", id, "ingest-keys"], &Method::GET) => {
                let keys = self.ingest.list(&tenant, id).await?;
                let items: Vec<Value> = keys.iter().map(crate::ingest::http::key_view).collect();
                Ok(json_response(200, &json!({"items": items})))
            }
            (["integrations", id, "ingest-keys"], &Method::POST) => {
                let key = self.ingest.rotate(&tenant, id, chrono::Utc::now()).await?;
                Ok(json_response(201, &crate::ingest::http::new_key_view(&key)))
            }
            (["integrations", id, "ingest-keys", key_id], &Method::DELETE) => {
                self.ingest.revoke(&tenant, id, key_id).await?;
                Ok(empty_response(204))
            }
            (path, _) if allowed_methods(path).is_some() => Err(ApiError::MethodNotAllowed),
            _ => Err(ApiError::NotFound),
        }
    }

    async fn create(&self, tenant: &TenantId, body: &Value) -> Result<Response<Body>, ApiError> {
        let created = self.service.create(tenant, body).await?;
        let mut response = json_response(201, &integration_view(&created));
        let location = format!("/integrations/{}", created.id);
        response.headers_mut().insert("location", location.parse().expect("ids are header-safe"));
        Ok(response)
    }

    async fn create_push(&self, tenant: &TenantId, body: &Value) -> Result<Response<Body>, ApiError> {
        let (created, key) = self.ingest.create(tenant, body, chrono::Utc::now()).await?;
        let mut view = integration_view(&created);
        view["ingest_key"] = crate::ingest::http::new_key_view(&key);
        let mut response = json_response(201, &view);
        let location = format!("/integrations/{}", created.id);
        response.headers_mut().insert("location", location.parse().expect("ids are header-safe"));
        Ok(response)
    }

    async fn list(&self, request: &Request, tenant: &TenantId) -> Result<Response<Body>, ApiError> {
        let limit = parse_limit(query(request, "limit").as_deref(), DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)?;
        let cursor = query(request, "cursor");
        let (items, next) = self.service.list(tenant, limit, cursor.as_deref()).await?;
        let items: Vec<Value> = items.iter().map(integration_view).collect();
        Ok(json_response(200, &json!({"items": items, "next_cursor": next})))
    }
}

/// The methods of a path of this function (its `Allow` header on a 405), or `None` for an unknown path.
pub fn allowed_methods(path: &[&str]) -> Option<&'static str> {
    match path {
        ["integration-types"] | ["health"] => Some("GET"),
        ["integrations"] => Some("GET, POST"),
        ["integrations", "test-connection"] => Some("POST"),
        ["integrations", a, b] if tenant_token_at(&[a, b]).is_some() => Some("GET, POST"),
        ["integrations", _] => Some("GET, PATCH, DELETE"),
        ["integrations", _, "pause" | "resume" | "import"] => Some("POST"),
        ["integrations", _, "runs"] => Some("GET"),
        ["integrations", _, "ingest-keys"] => Some("GET, POST"),
        ["integrations", _, "ingest-keys", _] => Some("DELETE"),
        _ => None,
    }
}

/// Parses a `limit` query parameter: a whole number from 1 to `max`.
pub fn parse_limit(raw: Option<&str>, default: usize, max: usize) -> Result<usize, ApiError> {
    match raw {
        None => Ok(default),
        Some(raw) => match raw.parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => {
                Err(FieldErrors::single("limit", "invalid_value", format!("must be a whole number from 1 to {max}"))
                    .into())
            }
        },
    }
}

/// The public view of an import run.
pub fn run_view(run: &crate::import::RunRecord) -> Value {
    let mut value = serde_json::to_value(run).expect("runs serialize");
    if let Some(object) = value.as_object_mut() {
        object.remove("tenant_id");
    }
    value
}

fn view(status: u16, integration: &Integration) -> Response<Body> {
    json_response(status, &integration_view(integration))
}

/// The public view of an integration: never any secret material (the record holds none to begin with).
pub fn integration_view(i: &Integration) -> Value {
    json!({
        "id": i.id,
        "name": i.name,
        "type": i.kind,
        "settings": acd_connectors::registry::shown_settings(&i.kind, &i.settings),
        "credentials": i.credential_hints,
        "status": crate::ingest::effective_status(i, chrono::Utc::now()),
        "created_at": i.created_at,
        "updated_at": i.updated_at,
    })
}
