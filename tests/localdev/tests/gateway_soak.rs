//! The local gateway under a few thousand mixed requests (issue 13, "intermittent 500s"): reads of real imported
//! data, bodies that are not UTF-8 on every write route, invalid JSON, wrong methods, unknown paths and CORS
//! preflights, several at a time, through `scripts/run-local` on free ports. Not one answer may be >= 500; each kind
//! of request gets the answer API Gateway + the functions give it (400 for bad bodies, API Gateway's 404 for a method or
//! path no route has, a function's 405 with `Allow`, 404, 204 preflights with the CORS headers). `SOAK_REQUESTS` (default 3000) sets the number of requests.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use acd_localdev::client::{Api, segment};
use acd_localdev::stack::LocalStack;
use chrono::{DurationRound, Utc};
use serde_json::json;

/// One request of the mix and what its answer must be.
#[derive(Clone)]
struct Case {
    method: &'static str,
    path: String,
    headers: Vec<(&'static str, String)>,
    body: Option<Vec<u8>>,
    /// The expected status, or `None` for "any status below 500".
    expect: Option<u16>,
    /// A header the answer must carry (name, value).
    expect_header: Option<(&'static str, &'static str)>,
}

fn case(method: &'static str, path: impl Into<String>, expect: Option<u16>) -> Case {
    Case { method, path: path.into(), headers: Vec::new(), body: None, expect, expect_header: None }
}

async fn wait_operational(api: &Api, id: &str, limit: Duration) {
    let started = Instant::now();
    loop {
        let (status, integration) = api.get(&format!("/integrations/{id}")).await.unwrap();
        assert_eq!(status, 200, "{integration}");
        match integration["status"]["state"].as_str() {
            Some("operational") => return,
            Some("failing") => panic!("integration {id} failed: {integration}"),
            _ => {}
        }
        assert!(started.elapsed() < limit, "integration {id} not operational within {limit:?}: {integration}");
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thousands_of_mixed_requests_through_the_gateway_get_no_5xx() {
    let total: usize = std::env::var("SOAK_REQUESTS").ok().and_then(|v| v.parse().ok()).unwrap_or(3000);
    let mut stack = LocalStack::start(&[]);
    stack.wait_ready(Duration::from_secs(900));
    let tenant = format!("soak-{}", std::process::id());
    let api = Api::new(&stack.api, &tenant);

    // Real data to read: one Five9 integration, imported.
    let (status, five9) = api
        .call(
            "POST",
            "/integrations",
            Some(&json!({
                "name": "Soak Five9",
                "type": "five9",
                "credentials": {"username": "wfm-api@acme-corp.example", "password": "s3cret & <pass>"},
                "settings": {"region": "us", "grouping": "campaign", "history_days": 1},
            })),
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{five9}");
    let id = five9["id"].as_str().unwrap().to_owned();
    wait_operational(&api, &id, Duration::from_secs(240)).await;
    let (_, queues) = api.get(&format!("/queues?integration_id={id}")).await.unwrap();
    let queue = queues["items"][0]["id"].as_str().expect("a queue").to_owned();
    let (_, agents) = api.get(&format!("/integrations/{id}/external-agents")).await.unwrap();
    let agent = agents["items"][0]["external_id"].as_str().expect("an agent").to_owned();
    let (status, mapped) = api
        .call(
            "PUT",
            &format!("/integrations/{id}/external-agents/{}", segment(&agent)),
            Some(&json!({"employee_id": "soak-employee"})),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{mapped}");

    let to = Utc::now().duration_trunc(chrono::Duration::minutes(15)).unwrap();
    let fmt = |t: chrono::DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let from = fmt(to - chrono::Duration::hours(6));
    let to = fmt(to);
    let not_utf8: Vec<u8> = b"{\"name\":\"\xff\xfe\xfd\",\"x\":\"\xc3\x28\"}".to_vec();
    let json_header = vec![("content-type", "application/json".to_owned())];
    let body_case = |method, path: String| Case {
        headers: json_header.clone(),
        body: Some(not_utf8.clone()),
        ..case(method, path, Some(400))
    };
    let mut cases = vec![
        // Reads of real data (the requests that got the emulator's 500 before).
        case("GET", "/integration-types", Some(200)),
        case("GET", "/integrations", Some(200)),
        case("GET", format!("/integrations/{id}"), Some(200)),
        case("GET", format!("/integrations/{id}/runs"), Some(200)),
        case("GET", "/queues?limit=50", Some(200)),
        case("GET", format!("/queues/{}", segment(&queue)), Some(200)),
        case("GET", format!("/queues/{}/intervals?from={from}&to={to}", segment(&queue)), Some(200)),
        case("GET", format!("/agent-states?from={from}&to={to}&employee_id=soak-employee"), Some(200)),
        case("GET", format!("/integrations/{id}/external-agents"), Some(200)),
        case("GET", format!("/integrations/{id}/external-statuses"), Some(200)),
        // Bodies that are not UTF-8, on every route that reads a body: the function's 400, not the emulator's 500.
        body_case("POST", "/integrations".into()),
        body_case("POST", "/integrations/test-connection".into()),
        body_case("PATCH", format!("/integrations/{id}")),
        body_case("PUT", format!("/integrations/{id}/external-agents/{}", segment(&agent))),
        body_case("PUT", format!("/integrations/{id}/external-statuses/Ready")),
        // Invalid JSON.
        Case {
            body: Some(b"{not json".to_vec()),
            headers: json_header.clone(),
            ..case("POST", "/integrations", Some(400))
        },
        // Wrong methods: a method no route has for the path is API Gateway's 404 (explicit routes, no `$default`),
        // the function never invoked. GET on test-connection is routed as GET /integrations/{id}, whose function
        // answers 405 with Allow (test-connection is not an id).
        Case { expect_header: Some(("allow", "POST")), ..case("GET", "/integrations/test-connection", Some(405)) },
        case("PUT", "/integrations", Some(404)),
        case("POST", "/queues", Some(404)),
        case("GET", format!("/integrations/{id}/external-agents/x"), Some(404)),
        // Unknown paths and ids.
        case("GET", "/nothing-here", Some(404)),
        case("GET", "/integrations/0193a1c2-7b1e-7cc0-9f3e-2d6f0c1a9b01", Some(404)),
        // CORS: the preflight is answered by the gateway; an answer to a page of another origin exposes Location.
        Case {
            headers: vec![
                ("origin", "http://localhost:5173".into()),
                ("access-control-request-method", "POST".into()),
                ("access-control-request-headers", "content-type,x-tenant-id".into()),
            ],
            expect_header: Some(("access-control-allow-origin", "*")),
            ..case("OPTIONS", "/integrations", Some(204))
        },
        Case {
            headers: vec![("origin", "http://localhost:5173".into())],
            expect_header: Some(("access-control-expose-headers", "location,idempotent-replayed")),
            ..case("GET", "/integrations", Some(200))
        },
    ];
    // Plain reads are most of the mix, as in the runs that saw the 500s.
    let reads: Vec<Case> = cases.iter().filter(|c| c.method == "GET" && c.expect == Some(200)).cloned().collect();
    cases.extend(reads.iter().cloned());
    cases.extend(reads);
    let cases = Arc::new(cases);

    let client = reqwest::Client::builder().timeout(Duration::from_secs(120)).build().unwrap();
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..6 {
        let (client, cases, next, base, tenant) =
            (client.clone(), cases.clone(), next.clone(), stack.api.clone(), tenant.clone());
        workers.push(tokio::spawn(async move {
            let mut seen: Vec<(u16, String)> = Vec::new();
            let mut wrong: Vec<String> = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= total {
                    return (seen, wrong);
                }
                let c = &cases[n % cases.len()];
                let mut request = client
                    .request(c.method.parse().unwrap(), format!("{base}{}", c.path))
                    .header("x-tenant-id", &tenant);
                for (name, value) in &c.headers {
                    request = request.header(*name, value);
                }
                if let Some(body) = &c.body {
                    request = request.body(body.clone());
                }
                let label = format!("{} {}", c.method, c.path);
                let answer = match request.send().await {
                    Ok(answer) => answer,
                    Err(e) => {
                        wrong.push(format!("{label}: no answer: {e}"));
                        continue;
                    }
                };
                let status = answer.status().as_u16();
                let header = c.expect_header.map(|(name, _)| {
                    answer.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
                });
                let body = answer.text().await.unwrap_or_default();
                seen.push((status, label.clone()));
                if status >= 500 || c.expect.is_some_and(|e| e != status) {
                    wrong.push(format!("{label}: {status} {}", body.chars().take(300).collect::<String>()));
                }
                if let (Some((name, want)), Some(got)) = (c.expect_header, header)
                    && got != want
                {
                    wrong.push(format!("{label}: header {name} is {got:?}, not {want:?}"));
                }
            }
        }));
    }
    let mut by_status: BTreeMap<u16, usize> = BTreeMap::new();
    let mut wrong = Vec::new();
    for worker in workers {
        let (seen, w) = worker.await.unwrap();
        for (status, _) in seen {
            *by_status.entry(status).or_default() += 1;
        }
        wrong.extend(w);
    }
    let seconds = started.elapsed().as_secs_f64();
    let server_errors: usize = by_status.range(500..).map(|(_, n)| n).sum();
    eprintln!(
        "soak: {total} requests in {seconds:.0}s ({:.0}/s), by status {by_status:?}, {server_errors} >= 500, {} wrong",
        total as f64 / seconds,
        wrong.len()
    );
    assert!(
        wrong.is_empty(),
        "{} of {total} answers wrong, e.g.:\n{}",
        wrong.len(),
        wrong[..wrong.len().min(20)].join("\n")
    );
    assert_eq!(server_errors, 0);
    assert_eq!(by_status.values().sum::<usize>(), total);

    // The functions saw every request the gateway passed on: no answer came from the emulator itself.
    let gateway_log = stack.log("gateway.log");
    assert!(!gateway_log.contains("function failed"), "the gateway logged a failed invocation");
}
