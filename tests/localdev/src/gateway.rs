//! The local API gateway: one port with the HTTP API's paths, each forwarded to the function that serves it in the
//! deployed stack, reached through its function URL under `cargo lambda watch`
//! (`{lambda}/lambda-url/{function}/{path}`; cargo lambda strips the prefix and hands the function an API Gateway
//! payload 2.0 event with the original path, query, headers and body).
//!
//! Routing follows `infra/openapi.yaml`'s tags (and the template's routes): `queues-query` serves `/queues…`,
//! `/agent-states` and the external agent/status mappings under `/integrations/{id}/`; `integrations-api` serves
//! every other path under `/integration-types` and `/integrations`. Anything else is answered like API Gateway
//! answers an unknown route (`404 {"message":"Not Found"}`). Methods are not routed here: the function answers a
//! wrong method (405), where API Gateway would answer 404.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::response::Response;
use http::{HeaderMap, HeaderName, StatusCode, header};

pub const INTEGRATIONS_API: &str = "integrations-api";
pub const QUEUES_QUERY: &str = "queues-query";

/// The function that serves `path` (no query string), or `None` for an unknown route.
pub fn route(path: &str) -> Option<&'static str> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        ["queues", ..] | ["agent-states"] => Some(QUEUES_QUERY),
        ["integrations", _, "external-agents" | "external-statuses", ..] => Some(QUEUES_QUERY),
        ["integration-types"] => Some(INTEGRATIONS_API),
        ["integrations", ..] => Some(INTEGRATIONS_API),
        _ => None,
    }
}

#[derive(Clone)]
pub struct Gateway {
    /// Base URL of `cargo lambda watch` (e.g. `http://127.0.0.1:9104`).
    pub lambda_url: String,
    pub client: reqwest::Client,
}

/// Headers that describe one hop, not the message (RFC 9110 §7.6.1), plus those the client library recomputes.
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
            | "host"
            | "content-length"
    )
}

fn copy_headers(from: &HeaderMap, to: &mut HeaderMap) {
    for (name, value) in from {
        if !hop_by_hop(name) {
            to.append(name.clone(), value.clone());
        }
    }
}

fn json_response(status: StatusCode, body: serde_json::Value) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .expect("static response")
}

impl Gateway {
    pub fn new(lambda_url: &str) -> Self {
        let client = reqwest::Client::builder()
            // The first request to a function waits for `cargo run` (a build when the code changed).
            .timeout(Duration::from_secs(600))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("HTTP client");
        Self { lambda_url: lambda_url.trim_end_matches('/').to_owned(), client }
    }

    pub fn router(self) -> axum::Router {
        axum::Router::new().fallback(proxy).with_state(self)
    }

    async fn forward(&self, function: &str, request: Request) -> Result<Response, String> {
        let (parts, body) = request.into_parts();
        let body: Bytes = axum::body::to_bytes(body, 10 * 1024 * 1024).await.map_err(|e| e.to_string())?;
        let path_and_query = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
        let url = format!("{}/lambda-url/{function}{path_and_query}", self.lambda_url);
        let mut headers = HeaderMap::new();
        copy_headers(&parts.headers, &mut headers);
        let answer = self
            .client
            .request(parts.method.clone(), &url)
            .headers(headers)
            .body(body)
            .send()
            .await
            .map_err(|e| format!("{function} unreachable: {e}"))?;
        let mut response = Response::builder().status(answer.status());
        if let Some(headers) = response.headers_mut() {
            copy_headers(answer.headers(), headers);
        }
        let body = answer.bytes().await.map_err(|e| format!("{function}: reading the answer: {e}"))?;
        response.body(Body::from(body)).map_err(|e| e.to_string())
    }
}

async fn proxy(State(gateway): State<Gateway>, request: Request) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let Some(function) = route(&path) else {
        tracing::info!(%method, %path, "404: no route");
        return json_response(StatusCode::NOT_FOUND, serde_json::json!({"message": "Not Found"}));
    };
    let started = std::time::Instant::now();
    match gateway.forward(function, request).await {
        Ok(response) => {
            let status = response.status().as_u16();
            tracing::info!(%method, %path, function, status, ms = started.elapsed().as_millis() as u64, "proxied");
            response
        }
        Err(error) => {
            tracing::warn!(%method, %path, function, %error, "502: function unreachable");
            json_response(StatusCode::BAD_GATEWAY, serde_json::json!({"message": "Bad Gateway", "detail": error}))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_follow_the_openapi_tags() {
        for (path, function) in [
            ("/integration-types", Some(INTEGRATIONS_API)),
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
            ("/", None),
            ("/agent-states/x", None),
            ("/integration-types/x", None),
            ("/lambda-url/import/", None),
            ("/2015-03-31/functions/import/invocations", None),
        ] {
            assert_eq!(route(path), function, "{path}");
        }
    }
}
