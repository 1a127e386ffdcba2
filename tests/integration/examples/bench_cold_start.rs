//! Cold-start benchmark: starts each release binary of the functions (and a hello-world `lambda_runtime`
//! function built with the same profile) against a minimal Lambda runtime API emulator and measures
//! - init: process start → its first `GET /2018-06-01/runtime/invocation/next` (what Lambda bills as Init);
//! - first event: the event handed out → its `POST …/response` (the first invocation of a fresh container,
//!   including its first connection to DynamoDB — moto here, started by the benchmark).
//!
//! Run it with `scripts/bench-cold-start` (builds the binaries). Prints the median of `--runs` (default 15)
//! starts of each binary, taken in turns (one start of every binary per round), the ratio to hello-world, and each
//! process's peak RSS. `--before DIR` also measures the binaries of the same names in DIR (a copy of an earlier
//! build), in the same rounds: a before/after pair under the same conditions (a `hello_lambda` in DIR is the
//! reference of the "before" rows). `--after DIR` takes the current binaries from DIR instead of `target/release`
//! (e.g. a build with symbols). Every binary is copied to a fresh file first (see `main`: an old file starts slower).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use acd_test_harness::{AwsStack, repo_root};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

/// What the emulator saw of one process.
#[derive(Debug)]
enum Seen {
    Next(Instant),
    Response(Instant, Value),
    Error(String),
}

#[derive(Clone)]
struct Emulator {
    event: Arc<Mutex<Option<Value>>>,
    seen: mpsc::UnboundedSender<Seen>,
}

async fn next(State(emu): State<Emulator>) -> Result<(HeaderMap, axum::Json<Value>), StatusCode> {
    let _ = emu.seen.send(Seen::Next(Instant::now()));
    let event = emu.event.lock().unwrap().take();
    let Some(event) = event else {
        // The first event was served: hold this poll (as Lambda does between invocations) until killed.
        tokio::time::sleep(Duration::from_secs(600)).await;
        return Err(StatusCode::SERVICE_UNAVAILABLE);
    };
    let mut headers = HeaderMap::new();
    let deadline =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap() + Duration::from_secs(60);
    headers.insert("lambda-runtime-aws-request-id", "req-1".parse().unwrap());
    headers.insert("lambda-runtime-deadline-ms", deadline.as_millis().to_string().parse().unwrap());
    headers.insert(
        "lambda-runtime-invoked-function-arn",
        "arn:aws:lambda:us-east-1:123456789012:function:bench".parse().unwrap(),
    );
    headers.insert("lambda-runtime-trace-id", "Root=1-00000000-000000000000000000000000;Sampled=0".parse().unwrap());
    Ok((headers, axum::Json(event)))
}

async fn response(State(emu): State<Emulator>, Path(_id): Path<String>, body: axum::body::Bytes) -> StatusCode {
    let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let _ = emu.seen.send(Seen::Response(Instant::now(), value));
    StatusCode::ACCEPTED
}

async fn error(State(emu): State<Emulator>, body: axum::body::Bytes) -> StatusCode {
    let _ = emu.seen.send(Seen::Error(String::from_utf8_lossy(&body).into_owned()));
    StatusCode::ACCEPTED
}

/// An API Gateway HTTP API (payload 2.0) GET event.
fn http_event(path: &str) -> Value {
    http_request("GET", path, json!({}), None)
}

/// An API Gateway HTTP API (payload 2.0) event: `extra_headers` are added to the tenant header, `body` is JSON text.
fn http_request(method: &str, path: &str, extra_headers: Value, body: Option<Value>) -> Value {
    let mut headers = json!({"x-tenant-id": "bench", "host": "localhost", "accept": "application/json"});
    if let (Some(h), Some(extra)) = (headers.as_object_mut(), extra_headers.as_object()) {
        h.extend(extra.clone());
    }
    let mut event = json!({
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012", "apiId": "bench", "domainName": "localhost", "domainPrefix": "localhost",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "bench"},
            "requestId": "req-1", "routeKey": "$default", "stage": "$default",
            "time": "30/Nov/2026:00:00:00 +0000", "timeEpoch": 0
        },
        "isBase64Encoded": false
    });
    if let Some(body) = body {
        event["body"] = Value::String(body.to_string());
    }
    event
}

/// A well-formed ingest key (tenant `bench`) that was never issued: the `ingest` function looks it up (one
/// DynamoDB `GetItem`) and answers 401.
const UNKNOWN_INGEST_KEY: &str = concat!(
    "acdpush_YmVuY2g.0190c3e26b7d7cc09f4e1a2b3c4d5e6f.00112233445566aa.",
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
);

struct Sample {
    init: Duration,
    first_event: Duration,
    peak_rss_kib: u64,
    answer: Value,
}

fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

async fn start_once(binary: &PathBuf, event: Value, env: &[(String, String)]) -> Sample {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let emu = Emulator { event: Arc::new(Mutex::new(Some(event))), seen: tx };
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route("/2018-06-01/runtime/invocation/{id}/response", post(response))
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .route("/2018-06-01/runtime/init/error", post(error))
        .with_state(emu);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = listener.local_addr().unwrap().to_string();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                stopped.await.ok();
            })
            .await
    });
    let started = Instant::now();
    let mut child = tokio::process::Command::new(binary)
        .envs(env.iter().cloned())
        .env("AWS_LAMBDA_RUNTIME_API", &api)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", binary.display()));
    let pid = child.id().unwrap_or(0);
    let mut polled = None;
    let sample = loop {
        match tokio::time::timeout(Duration::from_secs(30), rx.recv()).await {
            Ok(Some(Seen::Next(at))) => {
                polled.get_or_insert(at);
            }
            Ok(Some(Seen::Response(at, answer))) => {
                let first = polled.expect("a response follows a poll");
                // Give the runtime its next poll, so the RSS includes the whole first invocation.
                let _ = tokio::time::timeout(Duration::from_secs(2), rx.recv()).await;
                break Sample {
                    init: first - started,
                    first_event: at - first,
                    peak_rss_kib: peak_rss_kib(pid),
                    answer,
                };
            }
            Ok(Some(Seen::Error(e))) => panic!("{}: error reported to the runtime API: {e}", binary.display()),
            Ok(None) | Err(_) => panic!("{}: no response within 30 s", binary.display()),
        }
    };
    let _ = child.kill().await;
    let _ = stop.send(());
    server.abort();
    sample
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runs: usize = args
        .iter()
        .position(|a| a == "--runs")
        .and_then(|i| args.get(i + 1))
        .map_or(15, |r| r.parse().expect("--runs"));
    let before: Option<PathBuf> =
        args.iter().position(|a| a == "--before").and_then(|i| args.get(i + 1)).map(PathBuf::from);
    let stack = AwsStack::start().await;
    // `--after DIR`: the current build's binaries (default `target/release`; a build with symbols for `perf`
    // lives elsewhere), hello-world under `DIR/examples`.
    let release = args
        .iter()
        .position(|a| a == "--after")
        .and_then(|i| args.get(i + 1))
        .map_or_else(|| repo_root().join("target/release"), PathBuf::from);
    let mut env: Vec<(String, String)> = [
        ("AWS_LAMBDA_FUNCTION_NAME", "bench"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "bench"),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_ENDPOINT_URL", stack.moto.endpoint.as_str()),
        ("TABLE_NAME", stack.settings.table_name.as_str()),
        ("SCHEDULE_GROUP", stack.settings.schedule_group.as_str()),
        ("IMPORT_FUNCTION_ARN", AwsStack::IMPORT_FUNCTION_ARN),
        ("SCHEDULER_ROLE_ARN", AwsStack::SCHEDULER_ROLE_ARN),
        ("TRUSTED_ACCOUNT_ID", AwsStack::TRUSTED_ACCOUNT_ID),
        ("TENANT_AUTH", "header"),
        ("RUST_LOG", "info"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    env.push(("AWS_CONFIG_FILE".into(), "/dev/null".into()));
    env.push(("AWS_SHARED_CREDENTIALS_FILE".into(), "/dev/null".into()));

    // Each binary and its first event: the API functions answer a listing (one DynamoDB Query), the import an
    // event for an integration that does not exist (one GetItem, then it exits as for a deleted integration), the
    // ingest function a push with a key that was never issued (one GetItem, then 401).
    let binaries: [(&str, Value); 5] = [
        ("hello_lambda", json!({"name": "bench"})),
        ("integrations-api", http_event("/integrations")),
        ("queues-query", http_event("/queues")),
        ("import", json!({"tenant_id": "bench", "integration_id": "0190c3e2-6b7d-7cc0-9f4e-1a2b3c4d5e6f"})),
        (
            "ingest",
            http_request(
                "POST",
                "/ingest/queues",
                json!({"x-ingest-key": UNKNOWN_INGEST_KEY, "content-type": "application/json"}),
                Some(json!({"queues": []})),
            ),
        ),
    ];
    // Each row: its label, the binary, its first event. With `--before`, each function's earlier build runs just
    // before the current one.
    let mut rows: Vec<(String, PathBuf, Value)> = Vec::new();
    for (name, event) in &binaries {
        if *name == "hello_lambda" {
            // The earlier hello-world too, when DIR has one: each row's ratio is to the hello-world of its build.
            if let Some(dir) = before.as_ref().filter(|d| d.join(name).exists()) {
                rows.push((format!("{name} (before)"), dir.join(name), event.clone()));
            }
            rows.push((name.to_string(), release.join("examples").join(name), event.clone()));
            continue;
        }
        if let Some(dir) = &before {
            rows.push((format!("{name} (before)"), dir.join(name), event.clone()));
        }
        rows.push((name.to_string(), release.join(name), event.clone()));
    }
    // Every binary runs from a fresh copy. The same file started 0.15–0.25 ms slower, with ≈ 20 more page faults,
    // from a copy made hours earlier than from one made just now (measured 2026-12-04, identical bytes): the page
    // cache holds a file written long ago differently. A `--before DIR` kept from an earlier session would so seem
    // slower than the fresh `target/release`, by about the size of the gains measured here.
    let fresh = std::env::temp_dir().join(format!("bench-cold-start-{}", std::process::id()));
    std::fs::create_dir_all(&fresh).expect("a temporary directory");
    for (i, (_, path, _)) in rows.iter_mut().enumerate() {
        let name = path.file_name().expect("a binary's file name").to_string_lossy().into_owned();
        let copy = fresh.join(format!("{i}-{name}"));
        std::fs::copy(&*path, &copy).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        *path = copy;
    }
    let mut results: BTreeMap<String, (Duration, Duration, u64)> = BTreeMap::new();
    println!(
        "{runs} cold starts of each binary (median), taken in turns from fresh copies; emulator and moto on loopback"
    );
    // One start of each binary per round, so that a slow spell of the machine (another process, a frequency
    // change) falls on every binary alike instead of on whichever ran during it.
    let mut samples: Vec<(Vec<Duration>, Vec<Duration>, u64)> =
        rows.iter().map(|_| (Vec::new(), Vec::new(), 0)).collect();
    for i in 0..runs {
        for ((name, path, event), (inits, firsts, rss)) in rows.iter().zip(samples.iter_mut()) {
            let s = start_once(path, event.clone(), &env).await;
            if i == 0 {
                let status = s.answer.get("statusCode").cloned().unwrap_or(Value::Null);
                println!("   {name:<26} first answer: statusCode {status} / {}", truncate(&s.answer.to_string(), 90));
            }
            inits.push(s.init);
            firsts.push(s.first_event);
            *rss = (*rss).max(s.peak_rss_kib);
        }
    }
    let _ = std::fs::remove_dir_all(&fresh);
    for ((name, _, _), (inits, firsts, rss)) in rows.iter().zip(samples) {
        results.insert(name.clone(), (median(inits), median(firsts), rss));
    }
    let hello = |name: &str| {
        let earlier = name.ends_with(" (before)") && results.contains_key("hello_lambda (before)");
        results[if earlier { "hello_lambda (before)" } else { "hello_lambda" }]
    };
    println!("| binary | init (start → first /next) | × hello-world | first event → response | peak RSS |");
    println!("| --- | --- | --- | --- | --- |");
    for (name, _, _) in &rows {
        let (init, first, rss) = results[name];
        let (hello_init, hello_first, _) = hello(name);
        println!(
            "| {name} | {:.2} ms | {:.2}× | {:.2} ms{} | {:.1} MiB |",
            ms(init),
            ms(init) / ms(hello_init),
            ms(first),
            if name.starts_with("hello_lambda") {
                String::new()
            } else {
                format!(" ({:.1}× hello)", ms(first) / ms(hello_first))
            },
            rss as f64 / 1024.0
        );
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.len() <= n {
        s.to_owned()
    } else {
        format!("{}…", &s[..s.char_indices().take(n).last().map_or(0, |(i, _)| i)])
    }
}
