//! The local stack end to end, the way the README runs it: `scripts/run-local --no-demo` on free ports (through
//! its documented variables), then HTTP only, as a front end would: create a Five9 and a Genesys Cloud
//! integration against the simulators, wait for their first imports (fired by the scheduler player, run by the
//! import function under cargo lambda watch), read mappable queues and intervals, map an agent and a status, read
//! agent states, pause, resume, delete; then the request collection (`scripts/try-requests`). The stack is stopped
//! (SIGTERM to the script, which stops everything it started) when the test ends, passes or fails; every wait is
//! bounded. Only 127.0.0.1 is contacted.

use std::time::{Duration, Instant};

use acd_localdev::client::{Api, segment};
use acd_localdev::stack::{LocalStack, port_open};
use chrono::{DurationRound, Utc};
use serde_json::{Value, json};

/// Polls the integration until its status is `want` (bounded); returns it.
async fn wait_for_state(api: &Api, id: &str, want: &str, limit: Duration) -> Value {
    let started = Instant::now();
    loop {
        let (status, integration) = api.get(&format!("/integrations/{id}")).await.unwrap();
        assert_eq!(status, 200, "{integration}");
        let state = integration["status"]["state"].as_str().unwrap_or_default().to_owned();
        if state == want {
            return integration;
        }
        if state == "failing" {
            let message = integration["status"]["message"].as_str().unwrap_or_default();
            let hint = if message.contains("deadline") {
                " — cargo lambda watch (1.9) sends Lambda-Runtime-Deadline-Ms: 600000, a duration rather than an \
                 instant: the import must read such a value as \"10 minutes from now\" (deadline_from_epoch_ms)"
            } else {
                ""
            };
            panic!("integration {id} failed: {integration}{hint}");
        }
        assert!(started.elapsed() < limit, "integration {id} not {want} within {limit:?}: {integration}");
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

async fn call(api: &Api, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    api.call(method, path, body.as_ref()).await.unwrap_or_else(|e| panic!("{e}"))
}

async fn first_page(api: &Api, path: &str) -> Vec<Value> {
    let (status, page) = call(api, "GET", path, None).await;
    assert_eq!(status, 200, "GET {path}: {page}");
    page["items"].as_array().unwrap_or_else(|| panic!("GET {path}: no items: {page}")).clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_stack_serves_the_whole_journey_over_http() {
    let started = Instant::now();
    let mut stack = LocalStack::start(&[]);
    stack.wait_ready(Duration::from_secs(900));
    eprintln!("local stack ready after {:.0}s", started.elapsed().as_secs_f64());
    let api = Api::new(&stack.api, &format!("e2e-{}", std::process::id()));

    // Unknown routes are API Gateway's 404; a request without tenant is the functions' 401.
    let (status, _) = call(&api, "GET", "/nothing-here", None).await;
    assert_eq!(status, 404);
    let (status, body) = Api::new(&stack.api, "").get("/integrations").await.unwrap();
    assert_eq!(status, 401, "{body}");
    let (status, types) = call(&api, "GET", "/integration-types", None).await;
    assert_eq!(status, 200, "{types}");

    // Create one integration of each type against the simulators.
    let (client_id, client_secret) = stack.genesys_credentials();
    let (status, five9) = call(
        &api,
        "POST",
        "/integrations",
        Some(json!({
            "name": "Five9 – E2E",
            "type": "five9",
            "credentials": {"username": "wfm-api@acme-corp.example", "password": "s3cret & <pass>"},
            "settings": {"region": "us", "grouping": "campaign", "history_days": 1},
        })),
    )
    .await;
    assert_eq!(status, 201, "{five9}");
    let (status, genesys) = call(
        &api,
        "POST",
        "/integrations",
        Some(json!({
            "name": "Genesys Cloud – E2E",
            "type": "genesys_cloud",
            "credentials": {"client_id": client_id, "client_secret": client_secret},
            "settings": {"region": "us_east_1", "history_days": 1},
        })),
    )
    .await;
    assert_eq!(status, 201, "{genesys}");
    let (status, refused) = call(
        &api,
        "POST",
        "/integrations",
        Some(json!({
            "name": "Wrong password",
            "type": "five9",
            "credentials": {"username": "wfm-api@acme-corp.example", "password": "wrong"},
            "settings": {"region": "us", "grouping": "campaign"},
        })),
    )
    .await;
    assert_eq!(status, 422, "credentials are checked against the simulator: {refused}");
    let ids: Vec<String> = [&five9, &genesys].iter().map(|i| i["id"].as_str().unwrap().to_owned()).collect();
    // Amazon Connect: the tenant's external id first (issued by the server), then the role ARN only; its import
    // assumes the role through moto's STS and reads the simulator's agent event stream in moto's Kinesis.
    let (status, issued) = call(&api, "POST", "/integrations/amazon-connect/external-id", None).await;
    assert_eq!(status, 201, "{issued}");
    let (status, connect) = call(
        &api,
        "POST",
        "/integrations",
        Some(json!({
            "name": "Amazon Connect – E2E",
            "type": "amazon_connect",
            "credentials": {"role_arn": "arn:aws:iam::123456789012:role/acd-connect-read"},
            "settings": {"region": "us-east-1", "instance_id": "6a1f0c34-5b7e-4c1d-9f00-00000000c0de",
                         "agent_event_stream_arn": stack.connect_stream_arn(), "history_days": 1},
        })),
    )
    .await;
    assert_eq!(status, 201, "{connect}");
    assert_eq!(connect["credentials"]["external_id"], issued["external_id"], "{connect}");
    let connect_id = connect["id"].as_str().unwrap().to_owned();

    // First imports: fired by the scheduler player from the one-time schedules.
    for id in &ids {
        let integration = wait_for_state(&api, id, "operational", Duration::from_secs(240)).await;
        assert!(integration["status"]["last_success_at"].is_string(), "{integration}");
        let runs = first_page(&api, &format!("/integrations/{id}/runs")).await;
        assert_eq!(runs[0]["outcome"], "succeeded", "{runs:?}");
    }
    let integration = wait_for_state(&api, &connect_id, "operational", Duration::from_secs(240)).await;
    assert!(integration["status"]["last_success_at"].is_string(), "{integration}");
    let connect_queues = first_page(&api, &format!("/queues?integration_id={connect_id}")).await;
    assert!(
        connect_queues.iter().any(|q| q["channel"] == "calls" && q["name"] == "Queue 0"),
        "Amazon Connect queues: {connect_queues:?}"
    );
    eprintln!("first imports done after {:.0}s", started.elapsed().as_secs_f64());

    // Mappable queues and their intervals.
    let to = Utc::now().duration_trunc(chrono::Duration::minutes(15)).unwrap();
    let from = to - chrono::Duration::hours(2);
    let fmt = |t: chrono::DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    for id in &ids {
        let queues = first_page(&api, &format!("/queues?integration_id={id}")).await;
        assert!(!queues.is_empty(), "integration {id} has no queues");
        for q in &queues {
            assert_eq!(q["integration_id"], id.as_str());
            assert_eq!(q["interval_minutes"], 15);
            assert_eq!(q["active"], true);
        }
        let queue = &queues[0];
        let path =
            format!("/queues/{}/intervals?from={}&to={}", segment(queue["id"].as_str().unwrap()), fmt(from), fmt(to));
        let (status, intervals) = call(&api, "GET", &path, None).await;
        assert_eq!(status, 200, "{intervals}");
        let items = intervals["items"].as_array().unwrap();
        assert_eq!(items.len(), 8, "every interval of the range: {intervals}");
        assert!(intervals["complete_through"].is_string(), "{intervals}");
    }
    let (status, all) = call(&api, "GET", "/queues?limit=500", None).await;
    assert_eq!(status, 200, "{all}");
    let tenant_queues = all["items"].as_array().unwrap();
    for id in &ids {
        assert!(tenant_queues.iter().any(|q| q["integration_id"] == id.as_str()), "/queues lists {id}'s queues");
    }

    // Map an agent to an employee and a status to an activity, then read the agent's states.
    for (n, id) in ids.iter().enumerate() {
        let employee = format!("employee-{n}");
        let agents = first_page(&api, &format!("/integrations/{id}/external-agents")).await;
        assert!(!agents.is_empty(), "the import discovered no agents of {id}");
        let agent = agents[0]["external_id"].as_str().unwrap().to_owned();
        let (status, mapped) = call(
            &api,
            "PUT",
            &format!("/integrations/{id}/external-agents/{}", segment(&agent)),
            Some(json!({"employee_id": employee})),
        )
        .await;
        assert_eq!(status, 200, "{mapped}");
        assert_eq!(mapped["employee_id"], employee.as_str());

        let statuses = first_page(&api, &format!("/integrations/{id}/external-statuses")).await;
        assert!(!statuses.is_empty(), "the import discovered no statuses of {id}");
        let status_id = statuses[0]["status_id"].as_str().unwrap().to_owned();
        let (status, mapped) = call(
            &api,
            "PUT",
            &format!("/integrations/{id}/external-statuses/{}", segment(&status_id)),
            Some(json!({"activity_id": "e2e-activity"})),
        )
        .await;
        assert_eq!(status, 200, "{mapped}");
        assert_eq!(mapped["activity_id"], "e2e-activity");
        assert_eq!(mapped["mapped"], true);

        let (status, page) = call(
            &api,
            "GET",
            &format!(
                "/agent-states?from={}&to={}&employee_id={employee}",
                fmt(to - chrono::Duration::hours(30)),
                fmt(to + chrono::Duration::hours(1))
            ),
            None,
        )
        .await;
        assert_eq!(status, 200, "{page}");
        for state in page["items"].as_array().unwrap() {
            assert_eq!(state["employee_id"], employee.as_str(), "{state}");
            assert_eq!(state["external_agent_id"], agent.as_str(), "{state}");
            if state["status_id"] == status_id.as_str() {
                assert_eq!(state["activity_id"], "e2e-activity", "{state}");
            }
        }
        eprintln!(
            "{id}: agent {agent:?} → {employee}: {} agent-state segments",
            page["items"].as_array().unwrap().len()
        );
    }

    // Pause, resume (which imports again at once), delete.
    let five9_id = &ids[0];
    let (status, paused) = call(&api, "POST", &format!("/integrations/{five9_id}/pause"), None).await;
    assert_eq!(status, 200, "{paused}");
    assert_eq!(paused["status"]["state"], "paused");
    let (status, refused) = call(&api, "POST", &format!("/integrations/{five9_id}/import"), None).await;
    assert_eq!(status, 409, "no sync while paused: {refused}");
    let (status, resumed) = call(&api, "POST", &format!("/integrations/{five9_id}/resume"), None).await;
    assert_eq!(status, 200, "{resumed}");
    assert_eq!(resumed["status"]["state"], "importing");
    wait_for_state(&api, five9_id, "operational", Duration::from_secs(180)).await;
    let runs = first_page(&api, &format!("/integrations/{five9_id}/runs")).await;
    assert!(runs.len() >= 2, "resume ran an import: {runs:?}");

    // Status events show in the gateway's log (its EventBridge stand-in): the Five9 simulator starts refusing the
    // credentials, a sync fails the integration (integration.failing); the fault cleared, the next sync recovers it.
    let five9_faults = format!("http://127.0.0.1:{}/__sim/faults", stack.ports[1]);
    let http = reqwest::Client::new();
    let added = http.post(&five9_faults).json(&json!({"kind": "unauthorized"})).send().await.unwrap();
    assert!(added.status().is_success(), "{added:?}");
    let (status, body) = call(&api, "POST", &format!("/integrations/{five9_id}/import"), None).await;
    assert_eq!(status, 202, "{body}");
    let waited = Instant::now();
    loop {
        let (_, integration) = call(&api, "GET", &format!("/integrations/{five9_id}"), None).await;
        if integration["status"]["state"] == "failing" {
            assert_eq!(integration["status"]["reason"], "credentials_rejected", "{integration}");
            break;
        }
        assert!(waited.elapsed() < Duration::from_secs(180), "not failing: {integration}");
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let event_line = |kind: &str, id: &str| {
        let log = stack.log("gateway.log");
        log.lines().find(|l| l.contains(&format!("status event {kind} ")) && l.contains(id)).map(str::to_owned)
    };
    let line = event_line("integration.failing", five9_id).expect("integration.failing in gateway.log");
    assert!(line.contains("reason=credentials_rejected") && line.contains("type=five9"), "{line}");
    assert!(line.contains(&format!("tenant={}", api.tenant)), "{line}");
    assert!(event_line("integration.recovered", five9_id).is_none(), "not recovered yet");
    let cleared = http.delete(&five9_faults).send().await.unwrap();
    assert!(cleared.status().is_success(), "{cleared:?}");
    let (status, body) = call(&api, "POST", &format!("/integrations/{five9_id}/import"), None).await;
    assert_eq!(status, 202, "{body}");
    // Still failing until that import ends: wait for the event, then the state.
    let waited = Instant::now();
    let line = loop {
        if let Some(line) = event_line("integration.recovered", five9_id) {
            break line;
        }
        assert!(waited.elapsed() < Duration::from_secs(180), "no integration.recovered in gateway.log");
        tokio::time::sleep(Duration::from_secs(2)).await;
    };
    wait_for_state(&api, five9_id, "operational", Duration::from_secs(30)).await;
    assert!(line.contains("reason=credentials_rejected"), "what it recovered from: {line}");

    for id in ids.iter().chain([&connect_id]) {
        let (status, body) = call(&api, "DELETE", &format!("/integrations/{id}"), None).await;
        assert_eq!(status, 204, "{body}");
        let (status, _) = call(&api, "GET", &format!("/integrations/{id}"), None).await;
        assert_eq!(status, 404);
        let queues = first_page(&api, &format!("/queues?integration_id={id}&include_inactive=true")).await;
        assert!(!queues.is_empty() && queues.iter().all(|q| q["active"] == false), "kept, inactive: {queues:?}");
    }
    let (status, page) = call(&api, "GET", "/integrations", None).await;
    assert_eq!(status, 200);
    assert_eq!(page["items"], json!([]));
    for id in ids.iter().chain([&connect_id]) {
        assert!(event_line("integration.deleted", id).is_some(), "integration.deleted of {id} in gateway.log");
    }

    // The request collection (clients/requests, httpyac) passes against the same stack, as a front-end developer
    // would run it. It needs npm's tools (scripts/bootstrap installs them); CI has them, so there it is required.
    let httpyac = acd_localdev::stack::repo_root().join("clients/node_modules/.bin/httpyac");
    if httpyac.exists() || std::env::var_os("CI").is_some() {
        let tenant = format!("e2e-requests-{}", std::process::id());
        let out = std::process::Command::new(acd_localdev::stack::repo_root().join("scripts/try-requests"))
            .args([stack.api.as_str(), tenant.as_str()])
            .output()
            .expect("scripts/try-requests runs");
        let text = String::from_utf8_lossy(&out.stdout);
        let errors = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "request collection failed ({}):\n{text}\n{errors}", out.status);
        assert!(text.contains("requests processed") && !text.contains("failed"), "{text}");
    } else {
        eprintln!("request collection skipped: no clients/node_modules (npm); scripts/bootstrap installs it");
    }

    // Stopping frees every port.
    let ports = stack.ports.clone();
    drop(stack);
    for port in ports {
        assert!(!port_open(port), "port {port} still open after the stack stopped");
    }
    eprintln!("local stack end to end: {:.0}s", started.elapsed().as_secs_f64());
}
