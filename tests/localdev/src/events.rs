//! The local run's EventBridge stand-in for status events (issue 13: "locally, the gateway log shows them").
//!
//! `scripts/run-local` points the functions' EventBridge client at the gateway (`AWS_ENDPOINT_URL_EVENTBRIDGE`, the
//! SDK's service-specific endpoint variable). The gateway answers EventBridge's `PutEvents` (AWS JSON 1.1: `POST`
//! with `X-Amz-Target: AWSEvents.PutEvents`, any path) like EventBridge does and writes each entry to its log as one
//! line, `status event integration.failing tenant=… integration=… type=… reason=…`, next to the requests and the
//! scheduler player's imports: where a user following `scripts/run-local` looks. Other EventBridge operations are
//! answered `400 UnknownOperationException`; a malformed request `400 ValidationException`, as EventBridge would.

use axum::body::Body;
use axum::response::Response;
use http::{HeaderMap, StatusCode, header};
use serde_json::{Value, json};

/// The `X-Amz-Target` of EventBridge's `PutEvents`.
pub const PUT_EVENTS: &str = "AWSEvents.PutEvents";

/// Whether a request is an EventBridge API call (for the stand-in, not the HTTP API).
pub fn is_eventbridge_call(headers: &HeaderMap) -> bool {
    headers.get("x-amz-target").and_then(|t| t.to_str().ok()).is_some_and(|t| t.starts_with("AWSEvents."))
}

fn answer(status: StatusCode, body: Value) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/x-amz-json-1.1")
        .body(Body::from(body.to_string()))
        .expect("static response")
}

fn error(kind: &str, message: &str) -> Response {
    answer(StatusCode::BAD_REQUEST, json!({"__type": kind, "message": message}))
}

/// One log line's fields of an accepted entry.
#[derive(Debug, PartialEq, Eq)]
pub struct Logged {
    pub bus: String,
    pub source: String,
    pub detail_type: String,
    pub tenant: String,
    pub integration: String,
    pub integration_type: String,
    pub reason: String,
}

/// Answers one EventBridge call (`target` = its `X-Amz-Target`), logging each accepted `PutEvents` entry; returns
/// the answer and what was logged.
pub fn handle(target: &str, body: &[u8]) -> (Response, Vec<Logged>) {
    if target != PUT_EVENTS {
        let message = format!("the local EventBridge stand-in answers {PUT_EVENTS} only, not {target}");
        return (error("UnknownOperationException", &message), Vec::new());
    }
    let request: Value = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => return (error("ValidationException", &format!("PutEvents request: {e}")), Vec::new()),
    };
    let Some(request_entries) =
        request.get("Entries").and_then(Value::as_array).filter(|e| (1..=10).contains(&e.len()))
    else {
        return (error("ValidationException", "Entries must be a list of 1 to 10 entries"), Vec::new());
    };
    let mut entries = Vec::new();
    let mut logged = Vec::new();
    for entry in request_entries {
        let field = |name: &str| entry.get(name).and_then(Value::as_str).map(str::to_owned);
        // EventBridge fails an entry (not the call) without source, detail type or a JSON object detail.
        let detail = field("Detail").and_then(|d| serde_json::from_str::<Value>(&d).ok()).filter(Value::is_object);
        let (Some(source), Some(detail_type), Some(detail)) = (field("Source"), field("DetailType"), detail) else {
            tracing::warn!("status event refused: an entry without Source, DetailType or a JSON object Detail");
            entries.push(json!({"ErrorCode": "MalformedDetail", "ErrorMessage": "Source, DetailType and a JSON object Detail are required"}));
            continue;
        };
        let text = |name: &str| detail.get(name).and_then(Value::as_str).unwrap_or("-").to_owned();
        let line = Logged {
            bus: field("EventBusName").unwrap_or_else(|| "default".into()),
            source,
            detail_type,
            tenant: text("tenant_id"),
            integration: text("integration_id"),
            integration_type: text("integration_type"),
            reason: text("reason"),
        };
        tracing::info!(
            "status event {} tenant={} integration={} type={} reason={} (bus {}, source {})",
            line.detail_type,
            line.tenant,
            line.integration,
            line.integration_type,
            line.reason,
            line.bus,
            line.source
        );
        entries.push(json!({"EventId": uuid::Uuid::new_v4().to_string()}));
        logged.push(line);
    }
    let failed = entries.iter().filter(|e| e.get("ErrorCode").is_some()).count();
    (answer(StatusCode::OK, json!({"FailedEntryCount": failed, "Entries": entries})), logged)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_of(response: Response) -> Value {
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn put_events_is_answered_like_eventbridge_and_each_entry_logged() {
        let detail = json!({"type": "integration.failing", "tenant_id": "t1", "integration_id": "i1",
            "integration_type": "five9", "reason": "credentials_rejected"});
        let body = json!({"Entries": [
            {"Source": "acd-integrations", "DetailType": "integration.failing", "Detail": detail.to_string(),
             "EventBusName": "default"},
            {"Source": "acd-integrations", "DetailType": "integration.failing", "Detail": "not json"},
        ]});
        let (response, logged) = handle(PUT_EVENTS, body.to_string().as_bytes());
        assert_eq!(response.status(), StatusCode::OK);
        let answer = body_of(response).await;
        assert_eq!(answer["FailedEntryCount"], 1, "{answer}");
        assert!(answer["Entries"][0]["EventId"].is_string(), "{answer}");
        assert!(answer["Entries"][1]["ErrorCode"].is_string(), "{answer}");
        assert_eq!(
            logged,
            vec![Logged {
                bus: "default".into(),
                source: "acd-integrations".into(),
                detail_type: "integration.failing".into(),
                tenant: "t1".into(),
                integration: "i1".into(),
                integration_type: "five9".into(),
                reason: "credentials_rejected".into(),
            }]
        );

        let (response, logged) = handle(PUT_EVENTS, b"{\"Entries\": 3}");
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(body_of(response).await["__type"], "ValidationException");
        assert!(logged.is_empty());
        let (response, _) = handle("AWSEvents.PutRule", b"{}");
        assert_eq!(body_of(response).await["__type"], "UnknownOperationException");
    }

    #[test]
    fn only_eventbridge_calls_are_taken_for_the_stand_in() {
        let mut headers = HeaderMap::new();
        assert!(!is_eventbridge_call(&headers));
        headers.insert("x-amz-target", "AWSEvents.PutEvents".parse().unwrap());
        assert!(is_eventbridge_call(&headers));
        headers.insert("x-amz-target", "DynamoDB_20120810.Query".parse().unwrap());
        assert!(!is_eventbridge_call(&headers));
    }
}
