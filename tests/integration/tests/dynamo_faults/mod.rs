//! A DynamoDB that misbehaves on cue: a real HTTP proxy in front of moto that forwards every request (the SDK's
//! own requests, signed as usual; moto checks no signature) and answers the ones a [`Fault`] matches — by
//! operation (`X-Amz-Target`) and a piece of the JSON body (a key, a partition) — with DynamoDB's own error
//! answers instead — a table throttled (`ProvisionedThroughputExceededException`, which the SDK retries with
//! backoff), a permission taken away (`AccessDeniedException`, which it does not) — or hands them on late: a
//! request that DynamoDB has received is applied even when its client has given up on it, so a delayed request is
//! forwarded to moto whatever becomes of the client's connection. Clients built over it ([`DynamoFaults::clients`])
//! are the project's own (`AwsClients`: retry policy and all).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use acd_aws::AwsClients;
use axum::body::{Body, Bytes};
use axum::extract::DefaultBodyLimit;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// How a matched request is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// 400 `ProvisionedThroughputExceededException`: retried by the SDK (throttling, with backoff).
    Throttled,
    /// 400 `AccessDeniedException`: not retried.
    Denied,
    /// Forwarded to moto after this long (applied then, even if the client has gone), and moto's answer returned.
    Delayed(std::time::Duration),
    /// Forwarded to moto (applied), but its answer lost: a 500 `InternalServerError` instead, which the SDK
    /// retries (the same request again).
    Lost,
    /// Forwarded to moto (applied), but answered `AccessDeniedException`, which the SDK does not retry: as when
    /// every attempt's answer was lost.
    LostForGood,
}

/// Which requests are answered so, and until when (`None`: until disarmed).
#[derive(Debug, Clone)]
pub struct Fault {
    /// The operation, e.g. `BatchWriteItem` (`X-Amz-Target: DynamoDB_20120810.BatchWriteItem`).
    pub operations: &'static [&'static str],
    /// A piece of the request body, e.g. `"LEASE"` (with the quotes: the sort key `LEASE` only).
    pub body_contains: &'static str,
    pub answer: Answer,
    pub until: Option<Instant>,
    /// How many requests it answers (`None`: every one that matches).
    pub times: Option<u32>,
}

/// One request the proxy received.
#[derive(Debug, Clone)]
pub struct Logged {
    pub at: Instant,
    pub operation: String,
    pub body: String,
    /// How a fault answered it (`None`: forwarded at once).
    pub answer: Option<Answer>,
    /// When moto answered it (`None`: not forwarded, or not yet answered).
    pub landed: Option<chrono::DateTime<chrono::Utc>>,
}

impl Logged {
    /// Answered with an error instead of reaching moto.
    pub fn refused(&self) -> bool {
        matches!(self.answer, Some(Answer::Throttled | Answer::Denied))
    }
}

#[derive(Default)]
struct Shared {
    faults: Vec<Fault>,
    /// Every request, in order.
    log: Vec<Logged>,
}

pub struct DynamoFaults {
    pub endpoint: String,
    shared: Arc<Mutex<Shared>>,
    server: tokio::task::JoinHandle<()>,
}

#[derive(Clone)]
struct Proxy {
    moto: String,
    http: reqwest::Client,
    shared: Arc<Mutex<Shared>>,
}

impl DynamoFaults {
    /// The proxy in front of the moto at `moto` (its endpoint URL), on a free port, nothing armed.
    pub async fn start(moto: &str) -> DynamoFaults {
        let shared = Arc::new(Mutex::new(Shared::default()));
        let proxy = Proxy { moto: moto.trim_end_matches('/').to_owned(), http: reqwest::Client::new(), shared };
        let shared = proxy.shared.clone();
        // DynamoDB takes bodies of up to 16 MB (a BatchWriteItem); axum's default limit is 2 MB.
        let app = axum::Router::new().fallback(forward).layer(DefaultBodyLimit::disable()).with_state(proxy);
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        DynamoFaults { endpoint, shared, server }
    }

    /// The project's AWS clients (its DynamoDB retry policy included), every one of them through the proxy.
    pub async fn clients(&self) -> AwsClients {
        AwsClients::from_config(&acd_test_harness::moto_sdk_config(&self.endpoint).await)
    }

    pub fn arm(&self, fault: Fault) {
        self.shared.lock().unwrap().faults.push(fault);
    }

    pub fn disarm(&self) {
        self.shared.lock().unwrap().faults.clear();
    }

    /// The requests of one of `operations` whose body contains `body_contains`, in the order they came.
    pub fn requests(&self, operations: &[&str], body_contains: &str) -> Vec<Logged> {
        let shared = self.shared.lock().unwrap();
        let matching =
            shared.log.iter().filter(|r| operations.contains(&r.operation.as_str()) && r.body.contains(body_contains));
        matching.cloned().collect()
    }
}

impl Drop for DynamoFaults {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn forward(State(proxy): State<Proxy>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let operation = headers
        .get("x-amz-target")
        .and_then(|t| t.to_str().ok())
        .and_then(|t| t.strip_prefix("DynamoDB_20120810."))
        .unwrap_or_default()
        .to_owned();
    let (index, answer) = {
        let mut shared = proxy.shared.lock().unwrap();
        let at = Instant::now();
        let text = String::from_utf8_lossy(&body).into_owned();
        let fault = shared.faults.iter_mut().find(|f| {
            f.operations.contains(&operation.as_str())
                && text.contains(f.body_contains)
                && f.until.is_none_or(|until| at < until)
                && f.times != Some(0)
        });
        let answer = fault.map(|f| {
            f.times = f.times.map(|n| n - 1);
            f.answer
        });
        shared.log.push(Logged { at, operation, body: text, answer, landed: None });
        (shared.log.len() - 1, answer)
    };
    let delay = match answer {
        Some(Answer::Throttled) => {
            return error(
                "ProvisionedThroughputExceededException",
                "The level of configured provisioned throughput for the table was exceeded.",
            );
        }
        Some(Answer::Denied) => {
            return error("AccessDeniedException", "User is not authorized to perform this operation (test fault).");
        }
        Some(Answer::Delayed(delay)) => delay,
        Some(Answer::Lost | Answer::LostForGood) | None => std::time::Duration::ZERO,
    };
    // On a task of its own: what DynamoDB has received, it applies, whether or not its client still waits.
    let forwarded = tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        let mut request = proxy.http.request(method, format!("{}{path}", proxy.moto)).body(body);
        for (name, value) in &headers {
            if name != "host" && name != "content-length" {
                request = request.header(name, value);
            }
        }
        let answered = async {
            let upstream = request.send().await?;
            let (status, headers) = (upstream.status(), upstream.headers().clone());
            Ok::<_, reqwest::Error>((status, headers, upstream.bytes().await?))
        };
        let answered = answered.await;
        if answered.is_ok() {
            proxy.shared.lock().unwrap().log[index].landed = Some(chrono::Utc::now());
        }
        answered
    });
    let forwarded = forwarded.await;
    match answer {
        Some(Answer::Lost) => {
            return error_answer(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalServerError",
                "Internal server error (test fault: the answer was lost).",
            );
        }
        Some(Answer::LostForGood) => return error("AccessDeniedException", "Answer lost (test fault)."),
        _ => {}
    }
    let (status, upstream_headers, bytes) = match forwarded {
        Ok(Ok(answered)) => answered,
        Ok(Err(e)) => return (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
        Err(e) => return (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    };
    let mut response = Response::builder().status(status);
    for (name, value) in &upstream_headers {
        if name != "content-length" && name != "transfer-encoding" && name != "connection" {
            response = response.header(name, value);
        }
    }
    response.body(Body::from(bytes)).unwrap()
}

/// One of DynamoDB's 400 error answers.
fn error(kind: &str, message: &str) -> Response {
    error_answer(StatusCode::BAD_REQUEST, kind, message)
}

fn error_answer(status: StatusCode, kind: &str, message: &str) -> Response {
    let body = serde_json::json!({"__type": format!("com.amazonaws.dynamodb.v20120810#{kind}"), "message": message});
    (status, [("content-type", "application/x-amz-json-1.0")], body.to_string()).into_response()
}
