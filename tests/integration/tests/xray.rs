//! X-Ray (issue 13, Tracing): one API request and one import, against moto and the Five9 simulator, with the
//! X-Ray layer pointed at a UDP socket of this test standing in for the Lambda X-Ray daemon. Every datagram must
//! be the daemon protocol's header line plus a well-formed subsegment of the invocation's trace (trace id, parent
//! id, 16-hex id, start <= end, namespace `aws` or `remote`, HTTP status, error flags), the vendor calls, DynamoDB
//! and Secrets Manager must all show, and no document may carry a credential.

use std::net::UdpSocket;
use std::time::Duration;

use acd_app::import::{ImportConfig, ImportEvent, RunOutcome};
use acd_app::xray::{TraceHeader, XrayLayer, is_traced};
use acd_connectors::{Deadline, Endpoints};
use acd_integration_tests::ImportEnv;
use acd_simulators::five9::{FaultKind, FaultRule, Five9SimConfig, Five9Simulator};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::SubscriberExt;

const ROOT: &str = "1-6745c3a0-0123456789abcdef01234567";
const PARENT: &str = "53995c3f42cd8ad8";
/// The harness's table (`AwsStack`).
const TABLE: &str = "acd-test";

/// Every datagram received until the socket stays quiet, each checked for the daemon header and parsed.
fn received(daemon: &UdpSocket) -> Vec<Value> {
    let mut docs = Vec::new();
    let mut buf = vec![0u8; 65_536];
    while let Ok((n, _)) = daemon.recv_from(&mut buf) {
        let text = std::str::from_utf8(&buf[..n]).expect("UTF-8 datagram");
        let (header, body) = text.split_once('\n').expect("a header line");
        assert_eq!(header, r#"{"format":"json","version":1}"#);
        docs.push(serde_json::from_str(body).expect("a JSON document"));
    }
    docs
}

fn well_formed(doc: &Value) {
    assert_eq!(doc["type"], "subsegment", "{doc}");
    assert_eq!(doc["trace_id"], ROOT, "{doc}");
    assert_eq!(doc["parent_id"], PARENT, "{doc}");
    let id = doc["id"].as_str().expect("id");
    assert!(id.len() == 16 && id.chars().all(|c| c.is_ascii_hexdigit()), "{doc}");
    let (start, end) = (doc["start_time"].as_f64().unwrap(), doc["end_time"].as_f64().unwrap());
    assert!(start > 1.6e9 && start <= end && end - start < 120.0, "{doc}");
    assert!(doc["name"].as_str().is_some_and(|n| !n.is_empty()), "{doc}");
    assert!(doc["namespace"] == "aws" || doc["namespace"] == "remote", "{doc}");
    if doc["namespace"] == "aws" {
        assert!(doc["aws"]["operation"].as_str().is_some_and(|o| !o.is_empty()), "{doc}");
        assert_eq!(doc["aws"]["region"], "us-east-1", "{doc}");
        if doc["name"] == "DynamoDB" && doc["aws"]["operation"] != "ListTables" {
            assert_eq!(doc["aws"]["table_name"], TABLE, "the table the call named: {doc}");
        }
    } else {
        // A vendor call: the URL is scheme, host, port and path; never user info or a query.
        let url = doc["http"]["request"]["url"].as_str().unwrap_or_else(|| panic!("a URL: {doc}"));
        assert!(url.starts_with("http://127.0.0.1:") && !url.contains('?') && !url.contains('@'), "{doc}");
        assert!(doc.get("aws").is_none(), "{doc}");
    }
    let status = doc["http"]["response"]["status"].as_u64().unwrap_or_else(|| panic!("an HTTP status: {doc}"));
    assert_eq!(doc["error"] == json!(true), (400..500).contains(&status), "{doc}");
    assert_eq!(doc["fault"] == json!(true), status >= 500, "{doc}");
}

fn names(docs: &[Value]) -> Vec<String> {
    let mut v: Vec<String> = docs
        .iter()
        .map(|d| format!("{}:{}", d["name"].as_str().unwrap(), d["aws"]["operation"].as_str().unwrap_or("-")))
        .collect();
    v.sort();
    v.dedup();
    v
}

#[tokio::test]
async fn api_requests_and_imports_send_well_formed_subsegments_without_secrets() {
    let daemon = UdpSocket::bind("127.0.0.1:0").unwrap();
    daemon.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    let header = format!("Root={ROOT};Parent={PARENT};Sampled=1");
    let layer = XrayLayer::new(daemon.local_addr().unwrap(), move || TraceHeader::parse(&header)).unwrap();
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(layer.with_filter(filter_fn(is_traced))));

    let now: DateTime<Utc> = "2024-11-05T20:00:00Z".parse().unwrap();
    let sim =
        Five9Simulator::start(Five9SimConfig { now: Some(now), agents: 3, ..Five9SimConfig::default() }).await.unwrap();
    let env = ImportEnv::start("tenant-xray", Endpoints::default().with_var("FIVE9_BASE_URL", sim.base_url())).await;
    let _ = received(&daemon); // set-up (table creation) is not under test

    // One API request: the credentials check (Five9), the record (DynamoDB), the secret (Secrets Manager).
    let body = json!({"name": "Traced", "type": "five9",
        "credentials": {"username": sim.username(), "password": sim.password()},
        "settings": {"region": "us", "grouping": "campaign", "history_days": 1}});
    let (status, created) = env.call("POST", "/integrations", Some(&body)).await;
    assert_eq!(status, 201, "{created}");
    let api = received(&daemon);
    api.iter().for_each(well_formed);
    let seen = names(&api);
    assert!(seen.iter().any(|n| n.starts_with("127.0.0.1:")), "a vendor call: {seen:?}");
    assert!(seen.iter().any(|n| n.starts_with("DynamoDB:")), "DynamoDB: {seen:?}");
    assert!(seen.iter().any(|n| n.starts_with("Secrets Manager:")), "Secrets Manager: {seen:?}");
    let vendor = api.iter().find(|d| d["namespace"] == "remote").unwrap();
    assert_eq!(vendor["http"]["request"]["method"], "POST", "{vendor}");
    assert!(vendor["http"]["request"]["url"].as_str().unwrap().ends_with("/wsadmin/v13/AdminWebService"), "{vendor}");

    // A refused write is an error subsegment: the same name again is a conditional-check failure (HTTP 400).
    let (status, _) = env.call("POST", "/integrations", Some(&body)).await;
    assert_eq!(status, 409);
    let refused = received(&daemon);
    refused.iter().for_each(well_formed);
    assert!(
        refused.iter().any(|d| d["name"] == "DynamoDB" && d["error"] == json!(true)),
        "a DynamoDB error subsegment: {}",
        names(&refused).join(", ")
    );

    // One import, with one vendor 503 on the way (retried): the fault shows, the run still succeeds.
    sim.push_fault(FaultRule::new(FaultKind::Http503).on("runReport").times(1));
    let id = created["id"].as_str().unwrap().to_owned();
    let import = env.importer(ImportConfig { now: Some(now), ..ImportConfig::default() });
    let event = ImportEvent { tenant_id: "tenant-xray".into(), integration_id: id, at_once: false };
    let run = import.run(&event, Deadline::after(Duration::from_secs(120))).await.unwrap().run.unwrap();
    assert_eq!(run.outcome, RunOutcome::Succeeded, "{run:?}");
    let imported = received(&daemon);
    imported.iter().for_each(well_formed);
    let remote = imported.iter().filter(|d| d["namespace"] == "remote").count() as u64;
    assert_eq!(remote, run.vendor_calls, "one subsegment per vendor call");
    assert!(imported.iter().any(|d| d["namespace"] == "remote" && d["fault"] == json!(true)), "the 503");
    let seen = names(&imported);
    assert!(seen.iter().filter(|n| n.starts_with("DynamoDB:")).count() >= 3, "DynamoDB reads and writes: {seen:?}");
    assert!(seen.iter().any(|n| n == "Secrets Manager:GetSecretValue"), "the secret read: {seen:?}");

    // No credential, token or header anywhere.
    for doc in api.iter().chain(&refused).chain(&imported) {
        let text = doc.to_string();
        for secret in [sim.username(), sim.password()] {
            assert!(!text.contains(&secret), "a credential in {text}");
        }
        assert!(!text.to_ascii_lowercase().contains("authorization"), "{text}");
        assert!(!text.contains('?'), "no query string: {text}");
    }
    // Request ids from AWS (moto sends them) are kept, for finding a call in AWS support cases.
    assert!(imported.iter().any(|d| d["aws"]["request_id"].as_str().is_some_and(|r| !r.is_empty())), "request ids");
    eprintln!(
        "xray: {} subsegments for the create, {} for the refused create, {} for the import ({remote} vendor calls)",
        api.len(),
        refused.len(),
        imported.len()
    );
}

/// An invocation Lambda did not sample (`Sampled=0`), or no trace header at all: nothing is sent. Outside Lambda
/// (no `AWS_LAMBDA_FUNCTION_NAME`) the layer is not even built.
#[tokio::test]
async fn unsampled_invocations_and_runs_outside_lambda_send_nothing() {
    // Outside Lambda the start-up configuration says so, and `telemetry::init` then builds no X-Ray layer even
    // with a daemon address; an address that is not one gives no layer either.
    let outside =
        acd_aws::config::logging(&acd_aws::config::Vars::from_pairs(&[("AWS_XRAY_DAEMON_ADDRESS", "127.0.0.1:2000")]));
    assert!(!outside.in_lambda);
    let inside = acd_aws::config::logging(&acd_aws::config::Vars::from_pairs(&[
        ("AWS_LAMBDA_FUNCTION_NAME", "import"),
        ("AWS_XRAY_DAEMON_ADDRESS", "169.254.79.129:2000"),
    ]));
    assert!(inside.in_lambda);
    assert_eq!(inside.xray_daemon.as_deref(), Some("169.254.79.129:2000"));
    assert!(XrayLayer::for_lambda("169.254.79.129:2000").is_some());
    assert!(XrayLayer::for_lambda("not an address").is_none(), "no X-Ray layer without a usable daemon address");

    for header in [Some(format!("Root={ROOT};Parent={PARENT};Sampled=0")), None] {
        let daemon = UdpSocket::bind("127.0.0.1:0").unwrap();
        daemon.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
        let trace = header.clone();
        let layer = XrayLayer::new(daemon.local_addr().unwrap(), move || trace.as_deref().and_then(TraceHeader::parse))
            .unwrap();
        let _guard = tracing::subscriber::set_default(
            tracing_subscriber::registry().with(layer.with_filter(filter_fn(is_traced))),
        );
        let sim = Five9Simulator::start(Five9SimConfig::default()).await.unwrap();
        let env =
            ImportEnv::start("tenant-xray", Endpoints::default().with_var("FIVE9_BASE_URL", sim.base_url())).await;
        let body = json!({"name": "Untraced", "type": "five9",
            "credentials": {"username": sim.username(), "password": sim.password()},
            "settings": {"region": "us", "grouping": "campaign", "history_days": 1}});
        let (status, created) = env.call("POST", "/integrations", Some(&body)).await;
        assert_eq!(status, 201, "{created}");
        assert_eq!(received(&daemon).len(), 0, "nothing sent for trace header {header:?}");
    }
}
