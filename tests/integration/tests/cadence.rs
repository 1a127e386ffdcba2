//! Agent states within minutes (`agent_state_cadence`): the setting through the real API handler, the agent-states
//! schedule in moto's EventBridge Scheduler, and the states-only pass of the real import service against moto and
//! the Genesys Cloud simulator, compared with the simulator's truth and with the 15-minute import.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use acd_app::import::plan::{day_chunks, day_start, owned_pieces};
use acd_app::import::{ImportConfig, ImportEvent, RunOutcome, RunSummary};
use acd_aws::wiring;
use acd_connectors::genesys::GenesysAgentId;
use acd_connectors::{Deadline, Endpoints};
use acd_domain::{AgentSegment, TimeWindow};
use acd_integration_tests::{FailingSchedules, ImportEnv, Item, sorted_segments};
use acd_simulators::genesys::{GenesysSimConfig, GenesysSimulator};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

const TENANT: &str = "tenant-cadence";

async fn genesys_env(sim: &GenesysSimulator) -> ImportEnv {
    ImportEnv::start(
        TENANT,
        Endpoints {
            genesys_api_base_url: Some(sim.base_url()),
            genesys_login_base_url: Some(sim.base_url()),
            ..Endpoints::default()
        },
    )
    .await
}

fn genesys_body(sim: &GenesysSimulator, cadence: &str) -> Value {
    json!({"name": "Genesys RTA", "type": "genesys_cloud",
           "credentials": {"client_id": sim.client_id(), "client_secret": sim.client_secret()},
           "settings": {"region": "eu_central_1", "detailed_on_queue_statuses": true, "history_days": 1,
                        "agent_state_cadence": cadence}})
}

async fn create(env: &ImportEnv, body: &Value) -> String {
    let (status, created) = env.call("POST", "/integrations", Some(body)).await;
    assert_eq!(status, 201, "{created}");
    created["id"].as_str().unwrap().to_owned()
}

async fn schedule_names(env: &ImportEnv) -> Vec<String> {
    let out = env
        .stack
        .clients
        .scheduler
        .list_schedules()
        .group_name(&env.stack.settings.schedule_group)
        .send()
        .await
        .unwrap();
    let mut names: Vec<String> = out.schedules.into_iter().filter_map(|s| s.name).collect();
    names.retain(|n| !n.starts_with("now-"));
    names.sort();
    names
}

/// The agent-states schedule: (expression, state, input), or `None` when it does not exist.
async fn states_schedule(env: &ImportEnv, id: &str) -> Option<(String, String, Value)> {
    let got = env
        .stack
        .clients
        .scheduler
        .get_schedule()
        .name(format!("imp-{id}-states"))
        .group_name(&env.stack.settings.schedule_group)
        .send()
        .await
        .ok()?;
    let target = got.target.unwrap();
    Some((
        got.schedule_expression.unwrap(),
        got.state.unwrap().as_str().to_owned(),
        serde_json::from_str(target.input.as_deref().unwrap()).unwrap(),
    ))
}

#[tokio::test]
async fn the_setting_drives_a_second_schedule_that_follows_patch_pause_resume_and_delete() {
    let sim = GenesysSimulator::start(GenesysSimConfig::default()).await.unwrap();
    let env = genesys_env(&sim).await;

    // Bad values and types without a states pass: a clear 400 naming the field.
    let mut bad = genesys_body(&sim, "4m");
    let (status, problem) = env.call("POST", "/integrations", Some(&bad)).await;
    assert_eq!(status, 400, "{problem}");
    assert!(problem.to_string().contains("/settings/agent_state_cadence"), "{problem}");
    bad = json!({"name": "F9", "type": "five9", "credentials": {"username": "u", "password": "p"},
                 "settings": {"region": "us", "grouping": "campaign", "agent_state_cadence": "1m"}});
    let (status, problem) = env.call("POST", "/integrations", Some(&bad)).await;
    assert_eq!(status, 400, "{problem}");
    assert!(problem.to_string().contains("runReport"), "Five9's refusal says why: {problem}");
    let push = json!({"name": "P", "type": "push", "settings": {"agent_state_cadence": "1m"}});
    assert_eq!(env.call("POST", "/integrations", Some(&push)).await.0, 400);
    assert!(schedule_names(&env).await.is_empty(), "nothing created by refused bodies");

    // On at creation: the second schedule, every minute, marked as the states pass.
    let id = create(&env, &genesys_body(&sim, "1m")).await;
    let (_, shown) = env.call("GET", &format!("/integrations/{id}"), None).await;
    assert_eq!(shown["settings"]["agent_state_cadence"], "1m");
    assert_eq!(schedule_names(&env).await, vec![format!("imp-{id}"), format!("imp-{id}-states")]);
    let (expression, state, input) = states_schedule(&env, &id).await.unwrap();
    assert_eq!((expression.as_str(), state.as_str()), ("rate(1 minute)", "ENABLED"));
    assert_eq!(input, json!({"tenant_id": TENANT, "integration_id": id, "pass": "agent_states"}));

    // PATCH changes the rate; pause and resume disable and enable it with the main schedule.
    let path = format!("/integrations/{id}");
    assert_eq!(env.call("PATCH", &path, Some(&json!({"settings": {"agent_state_cadence": "5m"}}))).await.0, 200);
    assert_eq!(states_schedule(&env, &id).await.unwrap().0, "rate(5 minutes)");
    assert_eq!(env.call("POST", &format!("{path}/pause"), None).await.0, 200);
    assert_eq!(states_schedule(&env, &id).await.unwrap().1, "DISABLED");
    assert_eq!(env.call("POST", &format!("{path}/resume"), None).await.0, 200);
    assert_eq!(states_schedule(&env, &id).await.unwrap().1, "ENABLED");

    // Off removes it; on again recreates it; DELETE removes both schedules.
    let (status, shown) = env.call("PATCH", &path, Some(&json!({"settings": {"agent_state_cadence": "off"}}))).await;
    assert_eq!(status, 200);
    assert!(shown["settings"].get("agent_state_cadence").is_none(), "off is shown as absent: {shown}");
    assert!(states_schedule(&env, &id).await.is_none());
    assert_eq!(env.call("PATCH", &path, Some(&json!({"settings": {"agent_state_cadence": "2m"}}))).await.0, 200);
    assert_eq!(states_schedule(&env, &id).await.unwrap().0, "rate(2 minutes)");
    assert_eq!(env.call("DELETE", &path, None).await.0, 204);
    assert!(schedule_names(&env).await.is_empty());
}

#[tokio::test]
async fn a_states_schedule_that_cannot_be_written_rolls_back_the_create_and_the_patch() {
    let sim = GenesysSimulator::start(GenesysSimConfig::default()).await.unwrap();
    let mut env = genesys_env(&sim).await;
    let schedules = Arc::new(FailingSchedules {
        inner: Arc::new(wiring::schedules(&env.stack.settings, &env.stack.clients)),
        fail_create: AtomicBool::new(false),
        fail_states: AtomicBool::new(true),
    });
    env.api.service.schedules = schedules.clone();
    let (status, _) = env.call("POST", "/integrations", Some(&genesys_body(&sim, "1m"))).await;
    assert_eq!(status, 503);
    assert!(schedule_names(&env).await.is_empty(), "the create left no schedule behind");
    let (_, list) = env.call("GET", "/integrations", None).await;
    assert_eq!(list["items"], json!([]));

    schedules.fail_states.store(false, std::sync::atomic::Ordering::SeqCst);
    let id = create(&env, &genesys_body(&sim, "off")).await;
    schedules.fail_states.store(true, std::sync::atomic::Ordering::SeqCst);
    let path = format!("/integrations/{id}");
    let (status, _) = env.call("PATCH", &path, Some(&json!({"settings": {"agent_state_cadence": "1m"}}))).await;
    assert_eq!(status, 503);
    let (_, shown) = env.call("GET", &path, None).await;
    assert!(shown["settings"].get("agent_state_cadence").is_none(), "the record is back as it was: {shown}");
    assert!(states_schedule(&env, &id).await.is_none(), "and the schedule too");
}

fn event(id: &str) -> ImportEvent {
    ImportEvent { tenant_id: TENANT.into(), integration_id: id.into() }
}

fn deadline() -> Deadline {
    Deadline::after(Duration::from_secs(600))
}

fn at(now: DateTime<Utc>) -> ImportConfig {
    ImportConfig { now: Some(now), ..ImportConfig::default() }
}

fn agents(sim: &GenesysSimulator) -> Vec<String> {
    sim.expected_agents(GenesysAgentId::Username).into_iter().map(|a| a.external_id).collect()
}

/// The simulator's truth from `from`'s UTC day to its clock, cut into pieces as the import stores them.
fn truth(sim: &GenesysSimulator, from: DateTime<Utc>) -> Vec<AgentSegment> {
    let window = TimeWindow::new(day_start(from), sim.now()).unwrap();
    let mut out = Vec::new();
    for chunk in day_chunks(window) {
        out.extend(owned_pieces(&sim.expected_segments(chunk, true, GenesysAgentId::Username), chunk));
    }
    sorted_segments(out)
}

/// Everything of the integration that is not an agent segment or a digest (statistics, queues, state, runs…).
async fn everything_but_segments(env: &ImportEnv, id: &str) -> Vec<Item> {
    let mut items = env.query(format!("T#{TENANT}#I#{id}")).await;
    // Digests (the pass removes those of the days it writes) and the pass's own lease and checkpoint aside.
    items.retain(|i| {
        let sk = i["SK"].as_s().unwrap();
        !sk.starts_with("DIG#") && sk != "STATES" && sk != "LEASE#STATES"
    });
    let mut queue_items = Vec::new();
    for q in items.iter().filter(|i| i["SK"].as_s().unwrap().starts_with("Q#")) {
        queue_items.extend(env.query(format!("T#{TENANT}#Q#{}", q["queue_id"].as_s().unwrap())).await);
    }
    items.extend(queue_items);
    items.sort_by_key(|i| format!("{:?}{:?}", i.get("PK"), i.get("SK")));
    items
}

/// Stored equals the truth; only the differences are shown.
fn assert_same(stored: &[AgentSegment], truth: &[AgentSegment], what: &str) {
    let extra: Vec<&AgentSegment> = stored.iter().filter(|s| !truth.contains(s)).collect();
    let missing: Vec<&AgentSegment> = truth.iter().filter(|s| !stored.contains(s)).collect();
    assert!(
        extra.is_empty() && missing.is_empty(),
        "{what}: stored but not true {extra:#?}\ntrue but not stored {missing:#?}"
    );
    assert_eq!(stored.len(), truth.len(), "{what}: duplicates");
}

/// At least one segment is open (`end: null`), and an agent's open segment is its last one.
fn assert_open_last(stored: &[AgentSegment]) {
    assert!(stored.iter().any(|s| s.end.is_none()), "the current states are open");
    for pair in stored.windows(2) {
        if pair[0].agent_external_id == pair[1].agent_external_id {
            assert!(pair[0].end.is_some_and(|e| e <= pair[1].start), "one segment at a time: {pair:?}");
        }
    }
}

fn pass_run(summary: RunSummary) -> acd_app::import::RunRecord {
    assert_eq!(summary.outcome, RunOutcome::Succeeded, "{summary:?}");
    summary.run.unwrap()
}

#[tokio::test]
async fn states_passes_write_only_agent_states_with_the_open_segment_and_agree_with_the_import() {
    let t0: DateTime<Utc> = "2024-05-10T09:07:00Z".parse().unwrap();
    let sim =
        GenesysSimulator::start(GenesysSimConfig { now: Some(t0), history_days: 2, ..GenesysSimConfig::default() })
            .await
            .unwrap();
    let env = genesys_env(&sim).await;
    let id = create(&env, &genesys_body(&sim, "1m")).await;
    let agents = agents(&sim);
    let states = |id: &str, now| {
        let service = env.importer(at(now));
        let event = event(id);
        async move { service.run_states(&event, deadline()).await.unwrap() }
    };

    // The 15-minute import first (the states pass reads the agents it listed).
    let run = env.importer(at(t0)).run(&event(&id), deadline()).await.unwrap();
    assert_eq!(run.outcome, RunOutcome::Succeeded, "{run:?}");
    let before = everything_but_segments(&env, &id).await;
    let aggregates = sim.requests().aggregates;

    // A states pass three minutes later: the segments since the quarter hour, the current ones open.
    let t1 = t0 + chrono::Duration::minutes(3);
    sim.set_now(t1);
    let calls_before = sim.requests();
    let run = pass_run(states(&id, t1).await);
    let calls = sim.requests();
    let stored = env.segments(&id, &agents).await;
    assert_same(&stored, &truth(&sim, t0 - chrono::Duration::days(1)), &format!("at {t1}"));
    assert_open_last(&stored);
    assert_eq!(everything_but_segments(&env, &id).await, before, "no statistics, queue, state or run item changed");
    assert_eq!(sim.requests().aggregates, aggregates, "no statistics read");
    let user_details = calls.user_details - calls_before.user_details;
    println!(
        "states pass, {} agents: {} vendor calls (token {}, users {}, user details {}, presence definitions {}), \
         {} segments, writes {:?}",
        agents.len(),
        run.vendor_calls,
        calls.token - calls_before.token,
        calls.users - calls_before.users,
        user_details,
        calls.presence_definitions - calls_before.presence_definitions,
        run.counts.segments,
        run.counts.segment_writes
    );
    assert_eq!(user_details, agents.len().div_ceil(100) as u64, "one users-details query per 100 agents");
    assert!(run.vendor_calls <= 5, "a cheap pass: {} vendor calls", run.vendor_calls);

    // The next passes close what ended and open what started; a pass with nothing new writes nothing.
    for minutes in [6, 8, 8] {
        let now = t0 + chrono::Duration::minutes(minutes);
        sim.set_now(now);
        let run = pass_run(states(&id, now).await);
        let stored = env.segments(&id, &agents).await;
        assert_same(&stored, &truth(&sim, t0 - chrono::Duration::days(1)), &format!("at {now}"));
        assert_open_last(&stored);
        if minutes == 8 && run.counts.segment_writes.written == 0 {
            assert_eq!(run.counts.segment_writes.deleted, 0);
        }
    }
    // The 15-minute import then writes the same segments: one item per segment, nothing doubled.
    let t2 = t0 + chrono::Duration::minutes(10);
    sim.set_now(t2);
    let run = env.importer(at(t2)).run(&event(&id), deadline()).await.unwrap();
    assert_eq!(run.outcome, RunOutcome::Succeeded, "{run:?}");
    pass_run(states(&id, t2).await);
    assert_same(&env.segments(&id, &agents).await, &truth(&sim, t0 - chrono::Duration::days(1)), "after the import");

    // Paused or turned off: a pass does nothing.
    env.call("PATCH", &format!("/integrations/{id}"), Some(&json!({"settings": {"agent_state_cadence": "off"}}))).await;
    let skipped = states(&id, t2).await;
    assert_eq!((skipped.outcome, skipped.detail.as_str()), (RunOutcome::Skipped, "the agent-states pass is off"));
}
