//! Agent states within minutes (`agent_state_cadence`): the setting through the real API handler, the agent-states
//! schedule in moto's EventBridge Scheduler, and the states-only pass of the real import service against moto and
//! the Genesys Cloud simulator, compared with the simulator's truth and with the 15-minute import.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use acd_app::import::plan::{day_chunks, day_start, owned_pieces};
use acd_app::import::{ImportConfig, ImportEvent, ImportService, RunOutcome, RunSummary};
use acd_app::ports::Acquired;
use acd_aws::wiring;
use acd_connectors::genesys::GenesysAgentId;
use acd_connectors::{Deadline, Endpoints};
use acd_domain::{AgentSegment, FailureReason, TimeWindow};
use acd_integration_tests::{ConnectEnv, FailingSchedules, ImportEnv, Item, RacingRepo, sorted_segments};
use acd_simulators::genesys::{GenesysSimConfig, GenesysSimulator};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::dynamo_faults::{Answer, DynamoFaults, Fault};

const TENANT: &str = "tenant-cadence";

async fn genesys_env(sim: &GenesysSimulator) -> ImportEnv {
    ImportEnv::start(
        TENANT,
        Endpoints::default()
            .with_var("GENESYS_CLOUD_API_BASE_URL", sim.base_url())
            .with_var("GENESYS_CLOUD_LOGIN_BASE_URL", sim.base_url()),
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
        .scheduler()
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
    let got = env.stack.schedule(&format!("imp-{id}-states")).await?;
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
    let scheduled_at = "<aws.scheduler.scheduled-time>";
    let expected = json!({"tenant_id": TENANT, "integration_id": id, "pass": "agent_states",
                          "scheduled_at": scheduled_at, "cadence_minutes": 1});
    assert_eq!(input, expected);

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

    // A schedule that no longer matches the record (deleted by hand, or a failed PATCH whose record could not be put
    // back) is written again by a PATCH that sends the cadence unchanged.
    let scheduler = env.stack.clients.scheduler();
    let states_name = format!("imp-{id}-states");
    let delete = scheduler.delete_schedule().name(&states_name).group_name(&env.stack.settings.schedule_group);
    delete.send().await.unwrap();
    assert!(states_schedule(&env, &id).await.is_none());
    assert_eq!(env.call("PATCH", &path, Some(&json!({"settings": {"agent_state_cadence": "2m"}}))).await.0, 200);
    assert_eq!(states_schedule(&env, &id).await.unwrap().0, "rate(2 minutes)", "written again");
    assert_eq!(env.call("DELETE", &path, None).await.0, 204);
    assert!(schedule_names(&env).await.is_empty());
}

#[tokio::test]
async fn a_states_schedule_that_cannot_be_written_rolls_back_the_create_and_the_patch() {
    let sim = GenesysSimulator::start(GenesysSimConfig::default()).await.unwrap();
    let mut env = genesys_env(&sim).await;
    let schedules = Arc::new(FailingSchedules {
        fail_states: AtomicBool::new(true),
        ..FailingSchedules::new(Arc::new(wiring::schedules(&env.stack.settings, &env.stack.clients)))
    });
    env.api.service.schedules = schedules.clone();
    let (status, _) = env.call("POST", "/integrations", Some(&genesys_body(&sim, "1m"))).await;
    assert_eq!(status, 503);
    assert!(schedule_names(&env).await.is_empty(), "the create left no schedule behind");
    let (_, list) = env.call("GET", "/integrations", None).await;
    assert_eq!(list["items"], json!([]));
    // Nor did it start an import: one started before the step that failed would have written the integration's
    // queues, which the rollback (a record never imported has none) leaves active for good (a review, 2026-12-07).
    assert_eq!(schedules.creates.load(std::sync::atomic::Ordering::SeqCst), 0, "the first import was never started");

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

/// A PATCH of the cadence whose record write lands between a create's record and its schedules had its schedule
/// overwritten by the create's: the create now sets the agent-states schedule to the record's cadence (until
/// 2026-12-07 the schedule kept the create's, the record the PATCH's).
#[tokio::test]
async fn a_cadence_patched_while_the_integration_is_created_is_the_schedules() {
    let sim = GenesysSimulator::start(GenesysSimConfig::default()).await.unwrap();
    let mut env = genesys_env(&sim).await;
    let schedules = Arc::new(FailingSchedules {
        watch: Some(env.api.service.repo.clone()),
        before_create: std::sync::Mutex::new(Some(Box::new(|record| {
            record.settings.agent_state_cadence = acd_domain::AgentStateCadence::parse("2m").unwrap();
        }))),
        ..FailingSchedules::new(Arc::new(wiring::schedules(&env.stack.settings, &env.stack.clients)))
    });
    env.api.service.schedules = schedules.clone();
    let id = create(&env, &genesys_body(&sim, "1m")).await;
    let (_, shown) = env.call("GET", &format!("/integrations/{id}"), None).await;
    assert_eq!(shown["settings"]["agent_state_cadence"], "2m", "{shown}");
    assert_eq!(
        states_schedule(&env, &id).await.unwrap().0,
        "rate(2 minutes)",
        "the schedule says what the record says"
    );
}

/// A PATCH whose agent-states schedule cannot be written puts the record back even when an import's status write
/// came between its record update and the restore (the restore is applied on a fresh read). Until 2026-12-07 the
/// restore was refused, the record kept the PATCH's cadence, and the schedule had been set back: the two disagreed.
#[tokio::test]
async fn a_failed_patch_is_put_back_even_after_an_import_wrote_the_record_meanwhile() {
    let sim = GenesysSimulator::start(GenesysSimConfig::default()).await.unwrap();
    let mut env = genesys_env(&sim).await;
    let schedules =
        Arc::new(FailingSchedules::new(Arc::new(wiring::schedules(&env.stack.settings, &env.stack.clients))));
    env.api.service.schedules = schedules.clone();
    let id = create(&env, &genesys_body(&sim, "off")).await;
    let racing = Arc::new(RacingRepo::new(env.api.service.repo.clone()));
    // Right after the PATCH's own record update: the next update (the restore) meets an import's status write.
    let arm = racing.clone();
    *racing.after_next_update.lock().unwrap() = Some(Box::pin(async move {
        arm.updates_to_race.store(1, std::sync::atomic::Ordering::SeqCst);
    }));
    env.api.service.repo = racing.clone();
    schedules.fail_states.store(true, std::sync::atomic::Ordering::SeqCst);
    let path = format!("/integrations/{id}");
    let (status, _) = env.call("PATCH", &path, Some(&json!({"settings": {"agent_state_cadence": "1m"}}))).await;
    assert_eq!(status, 503);
    assert_eq!(racing.updates_to_race.load(std::sync::atomic::Ordering::SeqCst), 0, "the restore was raced");
    let (_, shown) = env.call("GET", &path, None).await;
    assert!(shown["settings"].get("agent_state_cadence").is_none(), "the record is back as it was: {shown}");
    assert!(states_schedule(&env, &id).await.is_none(), "and the schedule agrees");
}

/// A pass that Lambda delivers long after Scheduler invoked it for (held back by throttling) is skipped before it
/// reads anything: later passes and the import read the same states (until 2026-12-07 it ran, taking a slot the
/// imports need). How late is too late follows the cadence (at least 3 minutes). One on time runs; one whose time is
/// missing or was never replaced runs too.
#[tokio::test]
async fn a_pass_delivered_too_late_is_skipped_and_one_on_time_runs() {
    use acd_app::import::pass_timing;
    let sim = GenesysSimulator::start(GenesysSimConfig::default()).await.unwrap();
    let env = genesys_env(&sim).await;
    let id = create(&env, &genesys_body(&sim, "1m")).await;
    let importer = env.importer(at(sim.now()));
    assert_eq!(importer.run(&event(&id), deadline()).await.unwrap().outcome, RunOutcome::Succeeded);
    let payload = |at: &str, cadence: u32| {
        json!({"tenant_id": TENANT, "integration_id": id, "pass": "agent_states", "scheduled_at": at,
               "cadence_minutes": cadence})
    };
    let minutes_ago = |m: i64| (Utc::now() - chrono::TimeDelta::minutes(m)).to_rfc3339();
    let calls = sim.requests().user_details;
    let late = pass_timing(&payload(&minutes_ago(4), 1));
    let skipped = importer.run_states_event(&event(&id), deadline(), late).await;
    assert_eq!(skipped.outcome, RunOutcome::Skipped, "{skipped:?}");
    assert!(skipped.detail.contains("stale"), "{skipped:?}");
    assert_eq!(sim.requests().user_details, calls, "nothing asked of the ACD");
    // 4 minutes late is on time for a 15-minute cadence; 16 is not. No time, or one never replaced: it runs.
    assert!(!pass_timing(&payload(&minutes_ago(4), 15)).unwrap().stale(Utc::now()));
    assert!(pass_timing(&payload(&minutes_ago(16), 15)).unwrap().stale(Utc::now()));
    for unknown in ["<aws.scheduler.scheduled-time>", ""] {
        assert_eq!(pass_timing(&payload(unknown, 1)), None, "{unknown}");
    }
    let on_time = pass_timing(&payload(&minutes_ago(1), 1));
    let ran = importer.run_states_event(&event(&id), deadline(), on_time).await;
    assert_eq!(ran.outcome, RunOutcome::Succeeded, "{ran:?}");
    assert!(sim.requests().user_details > calls, "the pass on time asked the ACD");
}

fn event(id: &str) -> ImportEvent {
    ImportEvent { tenant_id: TENANT.into(), integration_id: id.into(), at_once: false }
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
        !sk.starts_with("DIG#") && !sk.starts_with("STATES") && sk != "LEASE#STATES"
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

/// A Genesys Cloud simulator at 09:07 with two days of history, the API over it, and an integration with a
/// one-minute states pass whose 15-minute import has run once at that time: (t0, simulator, environment,
/// integration id, agent ids).
async fn imported() -> (DateTime<Utc>, GenesysSimulator, ImportEnv, String, Vec<String>) {
    let t0: DateTime<Utc> = "2024-05-10T09:07:00Z".parse().unwrap();
    let sim =
        GenesysSimulator::start(GenesysSimConfig { now: Some(t0), history_days: 2, ..GenesysSimConfig::default() })
            .await
            .unwrap();
    let env = genesys_env(&sim).await;
    let id = create(&env, &genesys_body(&sim, "1m")).await;
    let agents = agents(&sim);
    let run = env.importer(at(t0)).run(&event(&id), deadline()).await.unwrap();
    assert_eq!(run.outcome, RunOutcome::Succeeded, "{run:?}");
    (t0, sim, env, id, agents)
}

#[tokio::test]
async fn a_pass_whose_record_names_rejected_credentials_takes_the_secret_s_current_version() {
    // As the import does after a rejection: the credentials were replaced in Secrets Manager directly, and the
    // record still names a version the ACD rejects. The pass (which checks no credentials first) tries the current
    // version once and keeps it for its container.
    let (t0, sim, env, id, agents) = imported().await;
    let secrets = env.stack.clients.secrets();
    let name = env.secret_name(&id);
    let document = |secret: &str| {
        json!({"type": "genesys_cloud", "client_id": sim.client_id(), "client_secret": secret}).to_string()
    };
    let rejected = "0190c3e2-6b7d-7cc0-9f4e-rejected0000";
    let put = secrets.put_secret_value().secret_id(&name).secret_string(document("rejected by the ACD"));
    put.client_request_token(rejected).send().await.unwrap();
    env.set_record_secret_version(&id, rejected).await;
    secrets.put_secret_value().secret_id(&name).secret_string(document(sim.client_secret())).send().await.unwrap();

    let t1 = t0 + chrono::Duration::minutes(3);
    sim.set_now(t1);
    let service = env.importer(at(t1));
    pass_run(service.run_states(&event(&id), deadline()).await.unwrap());
    assert_same(&env.segments(&id, &agents).await, &truth(&sim, t0 - chrono::Duration::days(1)), "after the pass");
    // Kept: the next pass of this container goes straight to the working credentials.
    let t2 = t1 + chrono::Duration::minutes(1);
    sim.set_now(t2);
    let tokens = sim.requests().token;
    pass_run(service.run_states(&event(&id), deadline()).await.unwrap());
    // (The connectors keep a token per credentials: the rejected ones would ask for one again and be refused.)
    assert_eq!(sim.requests().token - tokens, 0, "no token asked for with the rejected credentials");
}

#[tokio::test]
async fn states_passes_write_only_agent_states_with_the_open_segment_and_agree_with_the_import() {
    let (t0, sim, env, id, agents) = imported().await;
    let states = |id: &str, now| {
        let service = env.importer(at(now));
        let event = event(id);
        async move { service.run_states(&event, deadline()).await.unwrap() }
    };

    // The 15-minute import came first (the states pass reads the agents it listed).
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

#[tokio::test]
async fn a_day_a_pass_wrote_into_before_the_import_is_read_back_not_taken_for_new() {
    // The import last ran yesterday; today's passes stored agent-hours 09 and 10 in hour buckets (their view at
    // 10:05, with segments still open then). The import at 10:37 writes today for the first time, with hour buckets
    // switched off (a roll back). Had it taken today for new, it would write hour 09 as single items without reading
    // it, under the passes' bucket, which hides them: readers would keep the passes' stale view of the hour.
    let t0: DateTime<Utc> = "2024-05-09T09:07:00Z".parse().unwrap();
    let sim =
        GenesysSimulator::start(GenesysSimConfig { now: Some(t0), history_days: 2, ..GenesysSimConfig::default() })
            .await
            .unwrap();
    let mut env = genesys_env(&sim).await;
    let id = create(&env, &genesys_body(&sim, "1m")).await;
    let agents = agents(&sim);
    assert_eq!(env.importer(at(t0)).run(&event(&id), deadline()).await.unwrap().outcome, RunOutcome::Succeeded);
    env.stack.settings.hour_buckets = true;
    for time in ["2024-05-10T09:20:00Z", "2024-05-10T09:50:00Z", "2024-05-10T10:05:00Z"] {
        let now: DateTime<Utc> = time.parse().unwrap();
        sim.set_now(now);
        pass_run(env.importer(at(now)).run_states(&event(&id), deadline()).await.unwrap());
    }
    let nine: DateTime<Utc> = "2024-05-10T09:00:00Z".parse().unwrap();
    let mut buckets = 0;
    for agent in &agents {
        let items = env.query(format!("T#{TENANT}#I#{id}#A#{agent}")).await;
        buckets += items.iter().filter(|i| i["SK"].as_s().unwrap() == "S#2024-05-10T09").count();
    }
    assert!(buckets > 0, "the passes stored hour 09 in buckets");

    env.stack.settings.hour_buckets = false;
    let now: DateTime<Utc> = "2024-05-10T10:37:00Z".parse().unwrap();
    sim.set_now(now);
    let run = env.importer(at(now)).run(&event(&id), deadline()).await.unwrap();
    assert_eq!(run.outcome, RunOutcome::Succeeded, "{run:?}");
    // Today up to the import's end (10:30) is stored as the simulator has it.
    let quarter: DateTime<Utc> = "2024-05-10T10:30:00Z".parse().unwrap();
    let today = |segments: Vec<AgentSegment>| -> Vec<AgentSegment> {
        segments.into_iter().filter(|s| s.start >= day_start(now) && s.start < quarter).collect()
    };
    let stored = today(env.segments(&id, &agents).await);
    assert!(stored.iter().any(|s| s.start >= nine), "segments in the passes' hours");
    assert_same(&stored, &today(truth(&sim, now)), "today after the import");
}

#[tokio::test]
async fn compact_and_list_segment_buckets_read_alike_and_each_writer_takes_over_the_others_hours() {
    // Compact segment buckets (`HOUR_BUCKETS=compact`) are read by every release since 2026-12-06, so a stack may
    // switch between them and list buckets (`on`) either way. Passes with compact buckets, then an import with list
    // buckets (a roll back), then a pass with compact buckets again: after each, what is stored reads as the
    // simulator has it, an agent-hour 09 that changed is in the last writer's form, and one that did not keeps its.
    let (t0, sim, mut env, id, agents) = imported().await;
    let since = t0 - chrono::Duration::days(1);
    env.stack.settings.hour_buckets = true;
    let mut before = hour_09(&env, &id, &agents).await;
    // Agent-hours that moved from one form to the other: (into lists, into compact buckets).
    let mut switched = (0, 0);
    let steps = [
        ("2024-05-10T09:09:00Z", true, false),
        ("2024-05-10T09:21:00Z", true, false),
        ("2024-05-10T09:37:00Z", false, true),
        ("2024-05-10T09:52:00Z", true, false),
    ];
    for (time, compact, import) in steps {
        env.stack.settings.compact_segment_buckets = compact;
        let now: DateTime<Utc> = time.parse().unwrap();
        sim.set_now(now);
        let importer = env.importer(at(now));
        let run = if import {
            importer.run(&event(&id), deadline()).await
        } else {
            importer.run_states(&event(&id), deadline()).await
        };
        let run = run.unwrap();
        assert_eq!(run.outcome, RunOutcome::Succeeded, "{time}: {run:?}");
        // (The import reads through its quarter hour.)
        let through = if import { acd_domain::acd::floor_to_interval(now) } else { now };
        let upto = |segments: Vec<AgentSegment>| -> Vec<AgentSegment> {
            segments.into_iter().filter(|s| s.start < through).collect()
        };
        assert_same(&upto(env.segments(&id, &agents).await), &upto(truth(&sim, since)), time);
        let after = hour_09(&env, &id, &agents).await;
        let form = if compact { "compact" } else { "list" };
        for agent in &agents {
            let (was, is) = (before.get(agent), after.get(agent));
            match (was, is) {
                (Some((was_form, was_entries)), Some((is_form, is_entries))) if was_entries == is_entries => {
                    assert_eq!(was_form, is_form, "{time}: {agent}'s unchanged hour changed its form")
                }
                (_, Some((is_form, _))) => {
                    assert_eq!(*is_form, form, "{time}: {agent}'s changed hour");
                    if was.is_some_and(|(was_form, _)| was_form != is_form) {
                        if compact { switched.1 += 1 } else { switched.0 += 1 }
                    }
                }
                (_, None) => {}
            }
        }
        before = after;
    }
    assert!(switched.0 > 0 && switched.1 > 0, "agent-hours that moved into lists, into compact buckets: {switched:?}");
}

/// Each agent's hour-09 segment bucket (2024-05-10), if stored: its form (`compact`, `list`) and what it reads as.
async fn hour_09(
    env: &ImportEnv,
    id: &str,
    agents: &[String],
) -> std::collections::BTreeMap<String, (&'static str, Vec<acd_aws::buckets::SegmentEntry>)> {
    let mut out = std::collections::BTreeMap::new();
    for agent in agents {
        for item in env.query(format!("T#{TENANT}#I#{id}#A#{agent}")).await {
            if item["SK"].as_s().unwrap() == "S#2024-05-10T09" {
                let form = if item.contains_key(acd_aws::buckets::COMPACT_SEGMENTS) { "compact" } else { "list" };
                out.insert(agent.clone(), (form, acd_aws::buckets::read_entries(vec![item]).unwrap()));
            }
        }
    }
    out
}

/// The integration's items other than the leases: what an import that has not started writing leaves alone.
async fn everything_but_leases(env: &ImportEnv, id: &str, agents: &[String]) -> (Vec<Item>, Vec<AgentSegment>) {
    let mut items = everything_but_segments(env, id).await;
    items.retain(|i| !i["SK"].as_s().unwrap().starts_with("LEASE"));
    (items, env.segments(id, agents).await)
}

#[tokio::test]
async fn an_import_waits_while_an_agent_states_pass_holds_its_lease_then_runs() {
    use acd_app::ports::{ImportStore as _, LeaseKind};
    // With hour buckets both rewrite whole agent-hours: an import never writes while a pass does.
    let (t0, sim, env, id, agents) = imported().await;
    let store = wiring::import_store(&env.stack.settings, &env.stack.clients);
    let (tenant, integration) = (acd_domain::TenantId::parse(TENANT).unwrap(), id.parse().unwrap());
    let pass = acd_domain::RunId::new();
    let now = Utc::now();
    let until = now + chrono::Duration::minutes(10);
    assert_eq!(
        store.acquire_lease(LeaseKind::AgentStates, &tenant, integration, pass, now, until).await.unwrap(),
        Acquired::Free
    );
    let before = everything_but_leases(&env, &id, &agents).await;

    let t1 = t0 + chrono::Duration::minutes(15);
    sim.set_now(t1);
    let import = env.importer(at(t1));
    let the_pass = async {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        // Still running: the import holds its lease (no pass can start) and has written nothing.
        assert!(store.lease_held(LeaseKind::Import, &tenant, integration, Utc::now()).await.unwrap());
        assert!(everything_but_leases(&env, &id, &agents).await == before, "nothing written while the pass runs");
        store.release_lease(LeaseKind::AgentStates, &tenant, integration, pass).await.unwrap();
    };
    let ev = event(&id);
    let (run, ()) = tokio::join!(import.run(&ev, deadline()), the_pass);
    let run = run.unwrap();
    assert_eq!(run.outcome, RunOutcome::Succeeded, "{run:?}");
    assert!(everything_but_leases(&env, &id, &agents).await != before, "the import ran once the pass was done");

    // A pass that does not end: the import gives up while the safety margin is left, writes nothing, and lets
    // its lease go.
    let other = acd_domain::RunId::new();
    assert_eq!(
        store.acquire_lease(LeaseKind::AgentStates, &tenant, integration, other, now, until).await.unwrap(),
        Acquired::Free
    );
    let before = everything_but_leases(&env, &id, &agents).await;
    let t2 = t1 + chrono::Duration::minutes(15);
    sim.set_now(t2);
    let margin = ImportConfig::default().safety_margin;
    let short = Deadline::after(margin + Duration::from_millis(1200));
    let skipped = env.importer(at(t2)).run(&event(&id), short).await.unwrap();
    assert_eq!(
        (skipped.outcome, skipped.detail.as_str()),
        (RunOutcome::Skipped, "an agent-states pass is still running")
    );
    assert!(everything_but_leases(&env, &id, &agents).await == before, "nothing written");
    assert!(!store.lease_held(LeaseKind::Import, &tenant, integration, Utc::now()).await.unwrap());
}

/// Both leases, against moto: one run at a time; a lease that ran out is taken over (and said so) to the
/// microsecond — with whole seconds written as `…:00Z`, the text comparison took it for unexpired for up to a
/// second after —, and a run's put that is sent again (the SDK retries a put whose answer was lost, which may have
/// landed) takes its own lease again rather than finding it held and skipping its run.
#[tokio::test]
async fn a_lease_runs_out_to_the_microsecond_and_is_taken_again_by_its_own_run() {
    use acd_app::ports::{ImportStore as _, LeaseKind};
    let stack = acd_test_harness::AwsStack::start().await;
    let store = wiring::import_store(&stack.settings, &stack.clients);
    let tenant = acd_domain::TenantId::parse(TENANT).unwrap();
    let integration = acd_domain::IntegrationId::new();
    let ends: DateTime<Utc> = "2030-01-01T00:00:00Z".parse().unwrap();
    let (before, after) = (ends - chrono::Duration::microseconds(1), ends + chrono::Duration::milliseconds(500));
    let later = ends + chrono::Duration::hours(1);
    for kind in [LeaseKind::Import, LeaseKind::AgentStates] {
        let (a, b, c) = (acd_domain::RunId::new(), acd_domain::RunId::new(), acd_domain::RunId::new());
        let acquire = |run, now, expires| store.acquire_lease(kind, &tenant, integration, run, now, expires);
        assert_eq!(acquire(a, before, ends).await.unwrap(), Acquired::Free, "{kind:?}");
        assert_eq!(acquire(b, before, later).await.unwrap(), Acquired::No, "{kind:?}: held");
        assert!(store.lease_held(kind, &tenant, integration, before).await.unwrap());
        assert!(!store.lease_held(kind, &tenant, integration, after).await.unwrap());
        // The same put again: its own lease, taken (as over an expired one: the first put may have replaced one).
        assert_eq!(acquire(a, before, ends).await.unwrap(), Acquired::OverExpired, "{kind:?}: its own run");
        assert_eq!(acquire(b, ends, later).await.unwrap(), Acquired::No, "{kind:?}: held to its last microsecond");
        assert_eq!(acquire(b, after, later).await.unwrap(), Acquired::OverExpired, "{kind:?}: ran out 0.5 s ago");
        assert_eq!(acquire(c, after, later).await.unwrap(), Acquired::No, "{kind:?}: b holds it now");
        store.release_lease(kind, &tenant, integration, b).await.unwrap();
        assert_eq!(acquire(c, after, later).await.unwrap(), Acquired::Free, "{kind:?}: let go");
    }
}

#[tokio::test]
async fn a_pass_that_finds_the_import_lease_held_writes_nothing_and_the_next_pass_catches_up() {
    use acd_app::ports::{ImportStore as _, LeaseKind};
    let (t0, sim, env, id, agents) = imported().await;
    let after_import = env.query(format!("T#{TENANT}#I#{id}")).await;
    let segments_after_import = env.segments(&id, &agents).await;

    // A 15-minute import holds the lease (taken as a run does, through the store).
    let store = wiring::import_store(&env.stack.settings, &env.stack.clients);
    let (tenant, integration) = (acd_domain::TenantId::parse(TENANT).unwrap(), id.parse().unwrap());
    let import_run = acd_domain::RunId::new();
    let now = Utc::now();
    assert_eq!(
        store
            .acquire_lease(
                LeaseKind::Import,
                &tenant,
                integration,
                import_run,
                now,
                now + chrono::Duration::minutes(10)
            )
            .await
            .unwrap(),
        Acquired::Free
    );

    let t1 = t0 + chrono::Duration::minutes(3);
    sim.set_now(t1);
    let calls_before = sim.requests();
    let skipped = env.importer(at(t1)).run_states(&event(&id), deadline()).await.expect("a skip is not a failure");
    assert_eq!((skipped.outcome, skipped.detail.as_str()), (RunOutcome::Skipped, "the 15-minute import is running"));
    assert!(skipped.run.is_none());
    let calls = sim.requests();
    assert_eq!((calls.user_details, calls.users), (calls_before.user_details, calls_before.users), "no vendor call");
    // Everything of the integration but the import's own lease item is as the import left it.
    let not_import_lease =
        |items: Vec<Item>| -> Vec<Item> { items.into_iter().filter(|i| i["SK"].as_s().unwrap() != "LEASE").collect() };
    assert_eq!(
        not_import_lease(env.query(format!("T#{TENANT}#I#{id}")).await),
        not_import_lease(after_import),
        "no checkpoint, no lease of its own, no digest removed"
    );
    assert_eq!(env.segments(&id, &agents).await, segments_after_import, "no segment written");

    // The import ends; the next pass reads from the quarter hour (no checkpoint was saved) and catches up.
    store.release_lease(LeaseKind::Import, &tenant, integration, import_run).await.unwrap();
    let t2 = t0 + chrono::Duration::minutes(6);
    sim.set_now(t2);
    let run = pass_run(env.importer(at(t2)).run_states(&event(&id), deadline()).await.unwrap());
    assert!(run.counts.segments > 0, "{run:?}");
    let stored = env.segments(&id, &agents).await;
    assert_same(&stored, &truth(&sim, t0 - chrono::Duration::days(1)), &format!("caught up at {t2}"));
    assert_open_last(&stored);
}

#[tokio::test]
async fn a_pause_saved_after_the_passs_first_read_stops_it_at_the_lease() {
    let (t0, sim, env, id, agents) = imported().await;
    let after_import = env.query(format!("T#{TENANT}#I#{id}")).await;
    let segments_after_import = env.segments(&id, &agents).await;
    // Paused (the record saved `paused`) right after the pass's first read of it, before its lease.
    let repo = RacingRepo::new(Arc::new(wiring::dynamo_store(&env.stack.settings, &env.stack.clients)));
    repo.pause_after_next_read.store(true, std::sync::atomic::Ordering::SeqCst);
    let t1 = t0 + chrono::Duration::minutes(3);
    sim.set_now(t1);
    let service = env.importer_over(Arc::new(repo), at(t1));
    let calls_before = sim.requests();
    let skipped = service.run_states(&event(&id), deadline()).await.expect("a skip is not a failure");
    assert_eq!((skipped.outcome, skipped.detail.as_str()), (RunOutcome::Skipped, "integration paused"), "{skipped:?}");
    let calls = sim.requests();
    assert_eq!((calls.user_details, calls.users), (calls_before.user_details, calls_before.users), "no vendor call");
    assert_eq!(env.segments(&id, &agents).await, segments_after_import, "no segment written");
    let items = env.query(format!("T#{TENANT}#I#{id}")).await;
    assert!(!items.iter().any(|i| i["SK"].as_s().unwrap() == "LEASE#STATES"), "the pass's lease let go");
    assert!(items == after_import, "nothing else changed either: no checkpoint, no digest removed");
    let (_, integration) = env.call("GET", &format!("/integrations/{id}"), None).await;
    assert_eq!(integration["status"]["state"], "paused", "{integration}");

    // Resumed: the next pass runs (its lease was let go) and stores the states.
    let (code, resumed) = env.call("POST", &format!("/integrations/{id}/resume"), None).await;
    assert_eq!(code, 200, "{resumed}");
    let t2 = t0 + chrono::Duration::minutes(4);
    sim.set_now(t2);
    let run = pass_run(env.importer(at(t2)).run_states(&event(&id), deadline()).await.unwrap());
    assert!(run.counts.segments > 0, "{run:?}");
    assert_same(&env.segments(&id, &agents).await, &truth(&sim, t0 - chrono::Duration::days(1)), "after the resume");
}

#[tokio::test]
async fn passes_with_one_window_start_read_back_only_the_agents_whose_states_changed() {
    let (t0, sim, env, id, agents) = imported().await;
    let seen_stored = || seen_states_stored(&env, &id);
    let all = agents.len() as u64;
    let pass_event = event(&id);
    let pass_at = |now: DateTime<Utc>, config: ImportConfig| {
        sim.set_now(now);
        let (importer, pass_event) = (env.importer(config), pass_event.clone());
        async move { importer.run_states(&pass_event, deadline()).await }
    };
    // 09:08 to 09:14: every window starts at 08:45 (the quarter hour, less the overlap, rounded down to a quarter
    // hour). The first pass reads every agent back; the others only the agents whose answer differs from what the
    // pass before them stored.
    let mut reads = Vec::new();
    for minute in 1..=7 {
        let now = t0 + chrono::Duration::minutes(minute);
        let run = pass_run(pass_at(now, at(now)).await.unwrap());
        reads.push(run.counts.segment_writes.reads);
        assert_same(&env.segments(&id, &agents).await, &truth(&sim, t0 - chrono::Duration::days(1)), &format!("{now}"));
        assert!(seen_stored().await, "what the pass stored is kept for the next one");
    }
    println!("reads per pass: {reads:?} of {all} agents");
    assert!(reads[0] >= all, "the first pass reads every agent back: {reads:?}");
    assert!(reads[1..].iter().all(|&r| r < all), "the others only the changed ones: {reads:?}");

    // An import in the same quarter hour (sync now) forgets it: the next pass reads every agent back again.
    let now = t0 + chrono::Duration::seconds(7 * 60 + 20);
    sim.set_now(now);
    let sync = ImportEvent { at_once: true, ..event(&id) };
    assert_eq!(env.importer(at(now)).run(&sync, deadline()).await.unwrap().outcome, RunOutcome::Succeeded);
    assert!(!seen_stored().await, "the import forgot what the passes saw");
    let now = t0 + chrono::Duration::seconds(7 * 60 + 40);
    let run = pass_run(pass_at(now, at(now)).await.unwrap());
    assert!(run.counts.segment_writes.reads >= all, "{run:?}");
    assert_same(&env.segments(&id, &agents).await, &truth(&sim, t0 - chrono::Duration::days(1)), "after the import");

    // A pass that crashes at its first write after deleting the seen states (a digest's delete) leaves nothing that
    // claims to say what is stored.
    let now = t0 + chrono::Duration::minutes(8) - chrono::Duration::seconds(1);
    // (A pass failing on a store error keeps its lease for `in_flight_hold`, 30 s by default: none here.)
    let crash = ImportConfig { abort_after_batches: Some(1), in_flight_hold: Duration::ZERO, ..at(now) };
    assert!(pass_at(now, crash).await.is_err(), "the simulated crash");
    assert!(!seen_stored().await, "deleted before any other write");
    let run = pass_run(pass_at(now, at(now)).await.unwrap());
    assert!(run.counts.segment_writes.reads >= all, "{run:?}");
    assert_same(&env.segments(&id, &agents).await, &truth(&sim, t0 - chrono::Duration::days(1)), "after the crash");
}

#[tokio::test]
async fn a_pass_leaves_the_stored_states_of_an_agent_gone_from_the_user_listing_as_they_are() {
    // Agents by user name (the default): a pass asks Genesys about the agents its own user listing still has. A user
    // deleted since the import stored the agent list (an agent who left; a rename looks the same) was not asked
    // about, so nothing was read for it: its stored states stay. (They were deleted from the pass's window, 08:45 on,
    // as if Genesys had answered "no states", and the import, whose listing no longer has the agent, never wrote
    // them again.)
    let (t0, sim, env, id, agents) = imported().await;
    let pass = |now: DateTime<Utc>| {
        sim.set_now(now);
        let importer = env.importer(at(now));
        let pass_event = event(&id);
        async move { pass_run(importer.run_states(&pass_event, deadline()).await.unwrap()) }
    };
    pass(t0 + chrono::Duration::minutes(1)).await;
    let stored = env.segments(&id, &agents).await;
    let window_start: DateTime<Utc> = "2024-05-10T08:45:00Z".parse().unwrap();
    let in_window = |agent: &str, segments: &[AgentSegment]| -> Vec<AgentSegment> {
        let of = |s: &&AgentSegment| &*s.agent_external_id == agent && s.end.is_none_or(|e| e > window_start);
        segments.iter().filter(of).cloned().collect()
    };
    let gone = agents.iter().max_by_key(|a| in_window(a, &stored).len()).unwrap().clone();
    let kept = in_window(&gone, &stored);
    assert!(kept.len() > 1, "an agent with states in the window: {kept:?}");
    assert!(sim.delete_user(&gone));

    let now = t0 + chrono::Duration::minutes(2);
    let run = pass(now).await;
    let after = env.segments(&id, &agents).await;
    assert_eq!(in_window(&gone, &after), kept, "the states of {gone} stay as stored: {run:?}");
    let (others, truth): (Vec<String>, Vec<AgentSegment>) = (
        agents.iter().filter(|a| **a != gone).cloned().collect(),
        truth(&sim, t0 - chrono::Duration::days(1)).into_iter().filter(|s| *s.agent_external_id != *gone).collect(),
    );
    assert_same(&env.segments(&id, &others).await, &truth, "the other agents, read at 09:09");
}

#[tokio::test]
async fn the_passes_of_a_quarter_hour_share_one_window_start_so_only_the_first_after_its_import_reads_every_agent() {
    let (t0, sim, env, id, agents) = imported().await;
    let all = agents.len() as u64;
    let pass = |now: DateTime<Utc>| {
        sim.set_now(now);
        let (importer, pass_event) = (env.importer(at(now)), event(&id));
        async move { pass_run(importer.run_states(&pass_event, deadline()).await.unwrap()) }
    };
    // The last passes of the 09:00 quarter hour (09:13, 09:14), then its import at 09:15, which forgets what they
    // saw, then the passes of the 09:15 quarter hour, 30 s past each minute. The first of them has its checkpoint
    // from 09:14, the next ones from after 09:15: each starts its window at 09:00 all the same.
    for minute in [6, 7] {
        pass(t0 + chrono::Duration::minutes(minute)).await;
    }
    let now = t0 + chrono::Duration::minutes(8);
    sim.set_now(now);
    assert_eq!(env.importer(at(now)).run(&event(&id), deadline()).await.unwrap().outcome, RunOutcome::Succeeded);
    let mut reads = Vec::new();
    for seconds in [8 * 60 + 30, 9 * 60 + 30, 10 * 60 + 30] {
        let now = t0 + chrono::Duration::seconds(seconds);
        let run = pass(now).await;
        assert_eq!(run.window.map(|w| w.start), Some(t0 - chrono::Duration::minutes(7)), "{now}: {run:?}");
        reads.push(run.counts.segment_writes.reads);
        assert_same(&env.segments(&id, &agents).await, &truth(&sim, t0 - chrono::Duration::days(1)), &format!("{now}"));
    }
    println!("reads per pass after the import: {reads:?} of {all} agents");
    assert!(reads[0] >= all, "the first pass after the import reads every agent back: {reads:?}");
    assert!(reads[1..].iter().all(|&r| r < all), "the next ones only the changed agents: {reads:?}");
}

#[tokio::test]
async fn a_pass_that_no_longer_holds_its_lease_as_it_ends_saves_no_seen_states() {
    use aws_sdk_dynamodb::types::AttributeValue;
    let (t0, sim, env, id, agents) = imported().await;
    let (client, table) = (env.stack.clients.dynamodb().clone(), env.stack.settings.table_name.clone());
    let (pk, sk) = (AttributeValue::S(format!("T#{TENANT}#I#{id}")), AttributeValue::S("LEASE#STATES".into()));
    let seen_stored = || seen_states_stored(&env, &id);
    let lease = |run: String, expires: DateTime<Utc>| {
        let put = client.put_item().table_name(&table).item("PK", pk.clone()).item("SK", sk.clone());
        let put = put.item("run_id", AttributeValue::S(run)).item("ttl", AttributeValue::N("0".into()));
        put.item("expires_at", AttributeValue::S(expires.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))).send()
    };
    // As soon as the pass holds its lease, the lease changes under it: another run takes it over (as after the pass
    // outlived it), or it runs out within seconds (a pass that took too long). Either way, what the pass stores is
    // not vouched for.
    for (minute, same_run) in [(1, false), (2, true)] {
        let thief = async {
            loop {
                let got = client.get_item().table_name(&table).key("PK", pk.clone()).key("SK", sk.clone());
                if let Some(item) = got.send().await.unwrap().item {
                    let run = if same_run {
                        item["run_id"].as_s().unwrap().clone()
                    } else {
                        acd_domain::RunId::new().to_string()
                    };
                    let expires = Utc::now() + chrono::Duration::seconds(if same_run { 10 } else { 600 });
                    lease(run, expires).await.unwrap();
                    return;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        };
        let thief =
            async { tokio::time::timeout(Duration::from_secs(20), thief).await.expect("the pass took its lease") };
        let now = t0 + chrono::Duration::minutes(minute);
        sim.set_now(now);
        let importer = env.importer(at(now));
        let ev = event(&id);
        let (pass, ()) = tokio::join!(importer.run_states(&ev, deadline()), thief);
        let run = pass_run(pass.unwrap());
        assert!(run.counts.segment_writes.reads >= agents.len() as u64, "{run:?}");
        assert!(!seen_stored().await, "same run {same_run}: what it wrote is not vouched for");
        let truth = truth(&sim, t0 - chrono::Duration::days(1));
        assert_same(&env.segments(&id, &agents).await, &truth, "its writes stand");
        client.delete_item().table_name(&table).key("PK", pk.clone()).key("SK", sk.clone()).send().await.unwrap();
    }

    // A pass that takes over a lease that ran out before its run let it go (that run may still be writing) saves
    // none either; the next pass, on a free lease, does.
    lease(acd_domain::RunId::new().to_string(), Utc::now() - chrono::Duration::seconds(1)).await.unwrap();
    for (minute, saved) in [(3, false), (4, true)] {
        let now = t0 + chrono::Duration::minutes(minute);
        sim.set_now(now);
        pass_run(env.importer(at(now)).run_states(&event(&id), deadline()).await.unwrap());
        assert_eq!(seen_stored().await, saved, "at {now}");
    }
}

/// The import service as deployed, its AWS calls through `faults` (the proxy in front of the environment's moto).
async fn importer_through(env: &ImportEnv, faults: &DynamoFaults, config: ImportConfig) -> ImportService {
    wiring::import_service(&env.stack.settings, &faults.clients().await, env.factory.clone(), config)
}

/// The next pass at `now`, with nothing armed: it stores every state since the day before `t0` ([`imported`]).
async fn catch_up(
    env: &ImportEnv,
    faults: &DynamoFaults,
    sim: &GenesysSimulator,
    t0: DateTime<Utc>,
    now: DateTime<Utc>,
    id: &str,
    agents: &[String],
) {
    sim.set_now(now);
    let run = pass_run(importer_through(env, faults, at(now)).await.run_states(&event(id), deadline()).await.unwrap());
    assert!(run.counts.segments > 0, "{run:?}");
    assert_same(&env.segments(id, agents).await, &truth(sim, t0 - chrono::Duration::days(1)), &format!("at {now}"));
}

/// Segment writes: the pieces of an agent partition (`T#…#I#…#A#…`), single or hour buckets.
const SEGMENT_WRITES: &[&str] = &["BatchWriteItem", "PutItem"];

/// The integration's item with sort key `sk` (its lease, checkpoint, seen states…), if stored.
async fn integration_item(env: &ImportEnv, id: &str, sk: &str) -> Option<Item> {
    env.query(format!("T#{TENANT}#I#{id}")).await.into_iter().find(|i| i["SK"].as_s().unwrap() == sk)
}

/// The pass's lease item: its run and when it expires.
async fn states_lease(env: &ImportEnv, id: &str) -> Option<(String, DateTime<Utc>)> {
    let lease = integration_item(env, id, "LEASE#STATES").await?;
    Some((lease["run_id"].as_s().unwrap().clone(), lease["expires_at"].as_s().unwrap().parse().unwrap()))
}

/// Whether what a pass left stored (`STATES#SEEN`) is there.
async fn seen_states_stored(env: &ImportEnv, id: &str) -> bool {
    integration_item(env, id, "STATES#SEEN").await.is_some()
}

/// DynamoDB throttles every segment write of a pass (the SDK retries with backoff, for longer than the pass has):
/// the pass stops at its deadline, ends `partial`, keeps its lease for the hold (5 s here, 30 s by default: a
/// write it sent may still land), and nothing of it reaches the table after that — before, its writes had no
/// deadline, and one retrying past its lease could land beside the next pass or an import. Once the throttling is
/// over and the lease has run out, the next pass stores every state.
#[tokio::test]
async fn a_pass_whose_writes_are_throttled_past_its_deadline_stops_there_and_the_next_catches_up() {
    let (t0, sim, env, id, agents) = imported().await;
    let faults = DynamoFaults::start(&env.stack.moto.endpoint).await;
    let before = env.segments(&id, &agents).await;
    let t1 = t0 + chrono::Duration::minutes(3);
    sim.set_now(t1);
    // The pass's deadline in 6 s (as its limit, 2 minutes, in AWS); the vendor's calls end 0.5 s before it.
    let hold = Duration::from_secs(5);
    let config = ImportConfig { record_reserve: Duration::from_millis(500), in_flight_hold: hold, ..at(t1) };
    let (limit, throttled_for) = (Duration::from_secs(6), Duration::from_secs(16));
    let importer = importer_through(&env, &faults, config).await;
    let (started, started_at) = (Instant::now(), Utc::now());
    faults.arm(Fault {
        operations: SEGMENT_WRITES,
        body_contains: "#A#",
        answer: Answer::Throttled,
        until: Some(started + throttled_for),
        times: None,
    });
    let cut = importer.run_states(&event(&id), Deadline::after(limit)).await.unwrap();
    let (returned, returned_at) = (started.elapsed(), Utc::now());
    assert_eq!(cut.outcome, RunOutcome::Partial, "{cut:?}");
    let message = cut.run.as_ref().and_then(|r| r.message.clone()).unwrap_or_default();
    assert!(message.contains("deadline"), "{message}");
    assert!(returned < limit + Duration::from_secs(3), "returned {returned:?} after it started");
    let writes = faults.requests(SEGMENT_WRITES, "#A#");
    assert!(!writes.is_empty() && writes.iter().all(|w| w.refused()), "it tried, throttled: {writes:?}");
    let (run, expires) = states_lease(&env, &id).await.expect("its lease kept");
    assert_eq!(run, cut.run.as_ref().unwrap().run_id.to_string());
    assert_held_for(expires, hold, started_at, returned_at);

    // Past the throttling (a write still retrying would get through now): nothing more came, nothing was written.
    tokio::time::sleep_until((started + throttled_for + Duration::from_secs(3)).into()).await;
    let after = faults.requests(SEGMENT_WRITES, "#A#");
    assert!(after.len() == writes.len() && after.iter().all(|w| w.at < started + returned), "none after it ended");
    assert_eq!(env.segments(&id, &agents).await, before, "nothing written");

    catch_up(&env, &faults, &sim, t0, t1 + chrono::Duration::minutes(1), &id, &agents).await;
}

/// The ACD's answer took most of the pass's time (a large Genesys Cloud organization's user details): the writes the
/// pass would make, and its run record, do not fit before its deadline by the import's estimate (10 s an item here).
/// It stops `partial` before its first write — nothing written or deleted, what the last pass left stored (its seen
/// states) kept, its lease let go — where until 2026-12-08 it started them and was cut off half-way, every pass,
/// holding its lease longer and having deleted the seen states. A pass with time enough catches up.
#[tokio::test]
async fn a_pass_whose_writes_do_not_fit_before_its_deadline_stops_before_its_first_write() {
    let (t0, sim, env, id, agents) = imported().await;
    let faults = DynamoFaults::start(&env.stack.moto.endpoint).await;
    let t1 = t0 + chrono::Duration::minutes(1);
    sim.set_now(t1);
    pass_run(importer_through(&env, &faults, at(t1)).await.run_states(&event(&id), deadline()).await.unwrap());
    assert!(seen_states_stored(&env, &id).await, "the first pass saved its seen states");
    let before = env.segments(&id, &agents).await;
    // A quarter hour later: the window moved on, so every agent's states are written (and read back) again.
    let t2 = t0 + chrono::Duration::minutes(15);
    sim.set_now(t2);
    let slow = ImportConfig { write_time_per_item: Duration::from_secs(10), ..at(t2) };
    let writes_before = faults.requests(SEGMENT_WRITES, "#A#").len();
    let stopped = importer_through(&env, &faults, slow).await.run_states(&event(&id), deadline()).await.unwrap();
    assert_eq!(stopped.outcome, RunOutcome::Partial, "{stopped:?}");
    let message = stopped.run.as_ref().and_then(|r| r.message.clone()).unwrap_or_default();
    assert!(message.starts_with("stopped before writing"), "{message}");
    assert_eq!(faults.requests(SEGMENT_WRITES, "#A#").len(), writes_before, "no segment write sent");
    assert_eq!(env.segments(&id, &agents).await, before, "nothing written or deleted");
    assert!(seen_states_stored(&env, &id).await, "the seen states kept: they still say what is stored");
    assert!(states_lease(&env, &id).await.is_none_or(|(_, expires)| expires <= Utc::now()), "its lease let go");

    catch_up(&env, &faults, &sim, t0, t2 + chrono::Duration::minutes(1), &id, &agents).await;
}

/// DynamoDB answers slowly: the pass's first segment writes are received and applied 8 s later, after the pass was
/// cut off at its deadline (6 s). The pass keeps its lease while they may land (the hold: 12 s here), so they land
/// under it, never beside an import or another pass that took it (before, it let its lease go as it stopped). Then
/// the lease runs out and the next pass catches up.
#[tokio::test]
async fn a_write_still_in_flight_when_a_pass_is_cut_off_lands_while_the_pass_still_holds_its_lease() {
    let (t0, sim, env, id, agents) = imported().await;
    let faults = DynamoFaults::start(&env.stack.moto.endpoint).await;
    let before = env.segments(&id, &agents).await;
    let t1 = t0 + chrono::Duration::minutes(3);
    sim.set_now(t1);
    let hold = Duration::from_secs(12);
    let config = ImportConfig { record_reserve: Duration::from_millis(500), in_flight_hold: hold, ..at(t1) };
    let (limit, delay) = (Duration::from_secs(6), Duration::from_secs(8));
    let importer = importer_through(&env, &faults, config).await;
    let delayed = Answer::Delayed(delay);
    faults.arm(Fault { operations: SEGMENT_WRITES, body_contains: "#A#", answer: delayed, until: None, times: None });
    let cut = importer.run_states(&event(&id), Deadline::after(limit)).await.unwrap();
    assert_eq!(cut.outcome, RunOutcome::Partial, "{cut:?}");
    let (run, expires) = states_lease(&env, &id).await.expect("its lease kept");
    assert_eq!(run, cut.run.as_ref().unwrap().run_id.to_string());
    let writes = faults.requests(SEGMENT_WRITES, "#A#");
    assert!(!writes.is_empty(), "it wrote");
    assert!(writes.iter().all(|w| w.landed.is_none()), "cut off before its writes were answered");

    // Every write it sent lands (each 8 s after it was sent), and before its lease runs out.
    let landed = async {
        loop {
            let writes = faults.requests(SEGMENT_WRITES, "#A#");
            if writes.iter().all(|w| w.landed.is_some()) {
                return writes;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let writes = tokio::time::timeout(Duration::from_secs(30), landed).await.expect("the late writes land");
    faults.disarm();
    for write in &writes {
        let landed = write.landed.unwrap();
        assert!(landed < expires, "landed at {landed}, its lease held until {expires}");
    }
    assert_ne!(env.segments(&id, &agents).await, before, "the late writes are in the table");

    let left = (expires - Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(left + Duration::from_secs(1)).await;
    catch_up(&env, &faults, &sim, t0, t1 + chrono::Duration::minutes(1), &id, &agents).await;
}

/// The lease expires `hold` after the run stopped, which was between `from` and `to`.
fn assert_held_for(expires: DateTime<Utc>, hold: Duration, from: DateTime<Utc>, to: DateTime<Utc>) {
    let hold = chrono::Duration::from_std(hold).unwrap();
    assert!(from + hold <= expires && expires <= to + hold, "held until {expires}: {hold} after {from}..{to}");
}

/// A lease put whose answer is lost (applied, then a 500): the SDK sends it again, and the run takes its own lease
/// again and runs — before, the repeat found the lease held and the run exited as if another run were in progress,
/// and its lease kept the next runs out for its whole length. A pass's lease put whose every answer is lost ends
/// the pass with an error, and the lease it put is let go.
#[tokio::test]
async fn a_lease_put_whose_answer_is_lost_is_sent_again_and_takes_the_runs_own_lease() {
    let (t0, sim, env, id, agents) = imported().await;
    let faults = DynamoFaults::start(&env.stack.moto.endpoint).await;
    let t1 = t0 + chrono::Duration::minutes(15);
    sim.set_now(t1);
    let import_lease = "\"LEASE\"";
    faults.arm(Fault {
        operations: &["PutItem"],
        body_contains: import_lease,
        answer: Answer::Lost,
        until: None,
        times: Some(1),
    });
    let run = importer_through(&env, &faults, at(t1)).await.run(&event(&id), deadline()).await.unwrap();
    assert_eq!(run.outcome, RunOutcome::Succeeded, "{run:?}");
    let puts = faults.requests(&["PutItem"], import_lease);
    assert_eq!(puts.len(), 2, "sent again once: {puts:?}");
    assert!(puts[0].answer == Some(Answer::Lost) && puts[0].landed.is_some(), "{puts:?}");

    let t2 = t1 + chrono::Duration::minutes(1);
    sim.set_now(t2);
    let states_lease_put = "LEASE#STATES";
    let lost = Answer::LostForGood;
    faults.arm(Fault {
        operations: &["PutItem"],
        body_contains: states_lease_put,
        answer: lost,
        until: None,
        times: Some(1),
    });
    let failed = importer_through(&env, &faults, at(t2)).await.run_states(&event(&id), deadline()).await;
    assert!(failed.is_err(), "{failed:?}");
    assert!(faults.requests(&["PutItem"], states_lease_put)[0].landed.is_some(), "the put was applied");
    assert!(states_lease(&env, &id).await.is_none(), "and the lease let go");
    catch_up(&env, &faults, &sim, t0, t2, &id, &agents).await;
}

/// A store call that fails (a permission taken away: `AccessDeniedException`, not retried) once a run holds its
/// lease lets the lease go, so the next run is not kept out for the lease's length: the pass's look at the
/// import's lease, the import's delete of the seen states. The runs after them, with the permission back, run.
#[tokio::test]
async fn a_store_failure_once_the_lease_is_held_lets_the_lease_go() {
    let (t0, sim, env, id, agents) = imported().await;
    let faults = DynamoFaults::start(&env.stack.moto.endpoint).await;
    let lease_items = || async {
        let items = env.query(format!("T#{TENANT}#I#{id}")).await;
        let leases = items.iter().map(|i| i["SK"].as_s().unwrap().clone()).filter(|sk| sk.starts_with("LEASE"));
        leases.collect::<Vec<_>>()
    };
    let t1 = t0 + chrono::Duration::minutes(3);
    sim.set_now(t1);
    // The pass: its own lease taken, then the import's read — denied.
    faults.arm(Fault {
        operations: &["GetItem"],
        body_contains: "\"LEASE\"",
        answer: Answer::Denied,
        until: None,
        times: None,
    });
    let failed = importer_through(&env, &faults, at(t1)).await.run_states(&event(&id), deadline()).await;
    assert!(failed.is_err(), "{failed:?}");
    assert_eq!(faults.requests(&["GetItem"], "\"LEASE\"").len(), 1, "denied once, not retried");
    assert!(lease_items().await.is_empty(), "the pass's lease let go");
    // The Lambda handler's entry answers it as a failed pass: the invocation succeeds, so Lambda neither retries
    // the stale pass nor dead-letters it.
    let importer = importer_through(&env, &faults, at(t1)).await;
    let answered = importer.run_states_event(&event(&id), deadline(), None).await;
    assert_eq!(answered.outcome, RunOutcome::Failed, "{answered:?}");
    assert!(answered.detail.contains("store failure"), "{answered:?}");
    assert!(lease_items().await.is_empty(), "its lease let go too");
    faults.disarm();
    let run =
        pass_run(importer_through(&env, &faults, at(t1)).await.run_states(&event(&id), deadline()).await.unwrap());
    assert!(run.counts.segments > 0, "{run:?}");

    // The import: its lease taken, the integration read again, then the seen states' delete — denied.
    let t2 = t0 + chrono::Duration::minutes(15);
    sim.set_now(t2);
    faults.arm(Fault {
        operations: &["DeleteItem"],
        body_contains: "STATES#SEEN",
        answer: Answer::Denied,
        until: None,
        times: None,
    });
    let failed = importer_through(&env, &faults, at(t2)).await.run(&event(&id), deadline()).await;
    assert!(failed.is_err(), "{failed:?}");
    assert!(lease_items().await.is_empty(), "the import's lease let go");
    faults.disarm();
    let run = importer_through(&env, &faults, at(t2)).await.run(&event(&id), deadline()).await.unwrap();
    assert_eq!(run.outcome, RunOutcome::Succeeded, "{run:?}");
    // (The import stores what starts before the quarter hour; a pass then brings the rest.)
    pass_run(importer_through(&env, &faults, at(t2)).await.run_states(&event(&id), deadline()).await.unwrap());
    assert_same(&env.segments(&id, &agents).await, &truth(&sim, t0 - chrono::Duration::days(1)), "after the import");
}

/// An import whose writes are refused half-way (`AccessDeniedException` on BatchWriteItem) fails and keeps its lease
/// for the hold (3 s here, 30 s by default) rather than letting it go — other writes of it may still have been in
/// flight —, whether its run record is written or refused too (before, a refused record left the lease for its
/// whole length). Then the lease runs out and the next import runs.
#[tokio::test]
async fn an_import_failing_on_a_store_error_keeps_its_lease_for_the_hold_only() {
    let (t0, sim, env, id, agents) = imported().await;
    let faults = DynamoFaults::start(&env.stack.moto.endpoint).await;
    let t1 = t0 + chrono::Duration::minutes(15);
    sim.set_now(t1);
    let hold = Duration::from_secs(3);
    let config = ImportConfig { in_flight_hold: hold, ..at(t1) };
    for record_refused in [false, true] {
        faults.arm(Fault {
            operations: &["BatchWriteItem"],
            body_contains: "",
            answer: Answer::Denied,
            until: None,
            times: None,
        });
        if record_refused {
            faults.arm(Fault {
                operations: &["PutItem"],
                body_contains: "RUN#",
                answer: Answer::Denied,
                until: None,
                times: None,
            });
        }
        let started_at = Utc::now();
        let failed = importer_through(&env, &faults, config.clone()).await.run(&event(&id), deadline()).await;
        let ended_at = Utc::now();
        assert!(failed.is_err(), "{failed:?}");
        let records = faults.requests(&["PutItem"], "RUN#");
        assert_eq!(records.last().map(|r| r.refused()), Some(record_refused), "{records:?}");
        let lease = integration_item(&env, &id, "LEASE").await.expect("its lease kept");
        let expires: DateTime<Utc> = lease["expires_at"].as_s().unwrap().parse().unwrap();
        assert_held_for(expires, hold, started_at, ended_at);
        faults.disarm();
        tokio::time::sleep((expires - Utc::now()).to_std().unwrap_or_default() + Duration::from_millis(500)).await;
    }
    let run = importer_through(&env, &faults, at(t1)).await.run(&event(&id), deadline()).await.unwrap();
    assert_eq!(run.outcome, RunOutcome::Succeeded, "{run:?}");
    catch_up(&env, &faults, &sim, t0, t1, &id, &agents).await;
}

/// The seen states can be neither read nor saved (both denied): the pass reads every agent back, deletes the
/// item it could not read before its first write (it may describe what an earlier pass stored, and this one
/// changes that), stores the states as they are, and leaves no item; the next pass, with the permission back,
/// reads every agent back and saves one again.
#[tokio::test]
async fn a_pass_that_can_neither_read_nor_save_its_seen_states_reads_every_agent_and_leaves_none() {
    let (t0, sim, env, id, agents) = imported().await;
    let faults = DynamoFaults::start(&env.stack.moto.endpoint).await;
    let seen_stored = || seen_states_stored(&env, &id);
    let all = agents.len() as u64;
    let pass_at = |minute: i64| {
        let now = t0 + chrono::Duration::minutes(minute);
        sim.set_now(now);
        let (faults, env, ev) = (&faults, &env, event(&id));
        async move { pass_run(importer_through(env, faults, at(now)).await.run_states(&ev, deadline()).await.unwrap()) }
    };
    assert!(pass_at(1).await.counts.segment_writes.reads >= all);
    assert!(seen_stored().await);
    assert!(pass_at(2).await.counts.segment_writes.reads < all, "the seen states at work");
    faults.arm(Fault {
        operations: &["GetItem"],
        body_contains: "STATES#SEEN",
        answer: Answer::Denied,
        until: None,
        times: None,
    });
    faults.arm(Fault {
        operations: &["TransactWriteItems"],
        body_contains: "",
        answer: Answer::Denied,
        until: None,
        times: None,
    });
    let run = pass_at(3).await;
    assert!(run.counts.segment_writes.reads >= all, "{run:?}");
    let denied = faults.requests(&["TransactWriteItems"], "").into_iter().filter(|r| r.refused()).count();
    assert_eq!(denied, 1, "the save was tried, once");
    assert!(!seen_stored().await, "the unread item deleted before the first write");
    assert_same(&env.segments(&id, &agents).await, &truth(&sim, t0 - chrono::Duration::days(1)), "stored");
    faults.disarm();
    assert!(pass_at(4).await.counts.segment_writes.reads >= all, "nothing saved: every agent read back");
    assert!(seen_stored().await, "saved again");
}

/// An Amazon Connect integration with a one-minute agent-states pass, created through the API over the Connect
/// simulator and moto's Kinesis stream `agent-events`: (environment, integration id).
async fn connect_with_passes() -> (ConnectEnv, String) {
    use acd_simulators::amazon_connect::{self as connect, ConnectSimConfig};

    const ROLE: &str = "arn:aws:iam::111122223333:role/acd-connect-read";
    let connect_env = ImportEnv::start_connect(TENANT, ConnectSimConfig::default(), "agent-events").await;
    let env = &connect_env.env;
    let (status, issued) = env.call("POST", "/integrations/amazon-connect/external-id", None).await;
    assert_eq!(status, 201, "{issued}");
    connect_env.sim.trust(issued["external_id"].as_str().unwrap());
    let body = json!({"name": "Connect RTA", "type": "amazon_connect", "credentials": {"role_arn": ROLE},
                      "settings": {"region": connect::REGION, "instance_id": connect::INSTANCE_ID,
                                   "agent_event_stream_arn": connect_env.stream_arn, "history_days": 1,
                                   "agent_state_cadence": "1m"}});
    let id = create(env, &body).await;
    (connect_env, id)
}

/// Agent events published to moto's `agent-events` stream as their time comes, in the order they happen (the
/// simulator lists them agent by agent; a contact event has no time: first).
struct Feed {
    events: Vec<Value>,
    published: usize,
}

impl Feed {
    fn new(mut events: Vec<Value>) -> Self {
        events.sort_by_key(Self::stamp);
        Self { events, published: 0 }
    }

    fn stamp(event: &Value) -> Option<DateTime<Utc>> {
        event["EventTimestamp"].as_str().map(|t| t.parse::<DateTime<Utc>>().unwrap())
    }

    /// Publishes the events not published yet stamped at or before `through`.
    async fn publish_through(&mut self, kinesis: &aws_sdk_kinesis::Client, through: DateTime<Utc>) {
        let due: Vec<Value> = self.events[self.published..]
            .iter()
            .take_while(|e| Self::stamp(e).is_none_or(|t| t <= through))
            .cloned()
            .collect();
        self.published += due.len();
        let publish = acd_simulators::amazon_connect::ConnectSimulator::publish_agent_events_batched;
        publish(kinesis, "agent-events", &due).await.unwrap();
    }
}

#[tokio::test]
async fn an_amazon_connect_import_never_reopens_a_state_a_pass_stored_closed() {
    use acd_simulators::amazon_connect::{self as connect, ConnectSimulator};

    // (The simulator is bound: dropped, it would stop.)
    let (ConnectEnv { env, kinesis, sim: _sim, .. }, id) = connect_with_passes().await;
    let day = connect::midnight(Utc::now()) - chrono::Duration::days(1);
    let m = |h: i64, minute: i64| day + chrono::Duration::hours(h) + chrono::Duration::minutes(minute);
    // Agent 0: available from 09:50 (a heartbeat at 09:58), a break 10:02–10:06, available again.
    let (status, ev) =
        (connect::status_snapshot, |kind: &str, at, prev, cur| connect::agent_event(0, kind, at, prev, cur));
    let events = [
        ev("LOGIN", m(9, 50), None, Some(status(0, m(9, 50)))),
        ev("HEART_BEAT", m(9, 58), Some(status(0, m(9, 50))), Some(status(0, m(9, 50)))),
        ev("STATE_CHANGE", m(10, 2), Some(status(0, m(9, 50))), Some(status(1, m(10, 2)))),
        ev("STATE_CHANGE", m(10, 6), Some(status(1, m(10, 2))), Some(status(0, m(10, 6)))),
    ];
    ConnectSimulator::publish_agent_events(&kinesis, "agent-events", &events).await.unwrap();
    let agent = vec![connect::user_id(0)];
    let spans = async || -> Vec<(DateTime<Utc>, Option<DateTime<Utc>>)> {
        env.segments(&id, &agent).await.into_iter().map(|s| (s.start, s.end)).collect()
    };
    // The import at 09:55 lists the agents (its window ends at 09:45: nothing of the stream yet); the pass at
    // 10:06:30 reads the stream to its tip and stores the break closed.
    let run = env.importer(at(m(9, 55))).run(&event(&id), deadline()).await.unwrap();
    assert_eq!(run.outcome, RunOutcome::Succeeded, "{run:?}");
    pass_run(
        env.importer(at(m(10, 6) + chrono::Duration::seconds(30))).run_states(&event(&id), deadline()).await.unwrap(),
    );
    let stored = [(m(9, 50), Some(m(10, 2))), (m(10, 2), Some(m(10, 6))), (m(10, 6), None)];
    assert_eq!(spans().await, stored);
    // The import at 10:07 reads the stream up to 10:00 only: the heartbeat shows 09:50 still open. It must not
    // reopen what the pass stored closed.
    let run = env.importer(at(m(10, 7))).run(&event(&id), deadline()).await.unwrap();
    assert_eq!(run.outcome, RunOutcome::Succeeded, "{run:?}");
    assert_eq!(spans().await, stored, "after the import at 10:07");
}

/// Amazon Connect: the pass reads the agent event stream from its own checkpoint (moto's Kinesis), the 15-minute
/// import from its own; what each writes is one segment per (agent, start).
#[tokio::test]
async fn amazon_connect_passes_follow_the_stream_close_the_open_segment_and_agree_with_the_import() {
    use acd_simulators::amazon_connect::{self as connect, ConnectSimConfig};

    // (The simulator is bound: dropped, it would stop.)
    let (ConnectEnv { env, kinesis, sim: _sim, .. }, id) = connect_with_passes().await;

    // Yesterday's working day of two agents; agent 0 goes to lunch at 12:00 and is back at 12:30, agent 1 at
    // 12:07 and 12:38. The stream receives each event as it happens.
    let day = connect::midnight(Utc::now()) - chrono::Duration::days(1);
    let (events, truth) = connect::agent_events(2, day);
    let mut feed = Feed::new(events);
    let mut publish_through = async |through: DateTime<Utc>| feed.publish_through(&kinesis, through).await;
    // The truth as known at `now`: segments started by then, open if they had not ended.
    let known_at = |now: DateTime<Utc>| -> Vec<AgentSegment> {
        sorted_segments(
            truth
                .iter()
                .filter(|s| s.start <= now)
                .map(|s| AgentSegment { end: s.end.filter(|e| *e <= now), ..s.clone() })
                .collect(),
        )
    };
    let agents: Vec<String> = (0..ConnectSimConfig::default().agents).map(connect::user_id).collect();
    let minute = |h: i64, m: i64| day + chrono::Duration::hours(h) + chrono::Duration::minutes(m);

    // The 15-minute import at 12:05 stores the stream as it stood before its last quarter hour (12:00): both
    // mornings open. Agent 0's lunch record (at 12:00) starts a segment after the window and ends its morning: it is
    // left in the stream for the next read (read past, the lunch would never be handed over again).
    let t1 = minute(12, 5);
    publish_through(t1).await;
    let run = env.importer(at(t1)).run(&event(&id), deadline()).await.unwrap();
    assert_eq!(run.outcome, RunOutcome::Succeeded, "{run:?}");
    let noon = minute(12, 0);
    let before_noon = truth.iter().filter(|s| s.start < noon);
    let imported =
        sorted_segments(before_noon.map(|s| AgentSegment { end: s.end.filter(|e| *e < noon), ..s.clone() }).collect());
    assert!(imported.iter().any(|s| s.end.is_none()), "{imported:?}");
    assert_same(&env.segments(&id, &agents).await, &imported, "after the import at 12:05");

    // Passes at 12:10 and 12:40: agent 1's open segment is closed by its lunch, the lunches open and are closed.
    for now in [minute(12, 10), minute(12, 40)] {
        publish_through(now).await;
        let run = pass_run(env.importer(at(now)).run_states(&event(&id), deadline()).await.unwrap());
        let stored = env.segments(&id, &agents).await;
        assert_same(&stored, &known_at(now), &format!("after the pass at {now}"));
        assert_open_last(&stored);
        println!(
            "Amazon Connect pass at {now}: {} vendor calls, writes {:?}",
            run.vendor_calls, run.counts.segment_writes
        );
    }
    let checkpoint = env.query(format!("T#{TENANT}#I#{id}")).await;
    assert!(checkpoint.iter().any(|i| i["SK"].as_s().unwrap() == "STATES"), "the pass keeps its own checkpoint");

    // The 15-minute import then reads the same events from its own stream position: one item per segment.
    let t3 = minute(12, 45);
    let run = env.importer(at(t3)).run(&event(&id), deadline()).await.unwrap();
    assert_eq!(run.outcome, RunOutcome::Succeeded, "{run:?}");
    assert_same(&env.segments(&id, &agents).await, &known_at(t3), "after the import at 12:45");
    // A pass with nothing new in the stream writes nothing and keeps everything.
    let run = pass_run(env.importer(at(minute(12, 46))).run_states(&event(&id), deadline()).await.unwrap());
    assert_eq!(run.counts.segment_writes.written + run.counts.segment_writes.deleted, 0, "{run:?}");
    assert_same(&env.segments(&id, &agents).await, &known_at(t3), "after an empty pass");
}

/// Amazon Connect: a pass without a stream position of its own (the first), or whose position is older than the
/// pass's longest look-back (no pass for hours), reads the agent event stream from the 15-minute import's position,
/// not from the stream's oldest record or from hours back. Before, both read every record since (here 3,000
/// heart-beats of agent 0 before noon and as many after lunch, three `GetRecords` pages each): on a busy stream more
/// than a pass can read before its deadline, so that every pass stopped `partial` and the next began at the same
/// place again. What the passes store is the same either way. A pass whose own position is further on than the
/// import's (imports failing on the statistics keep theirs back) reads on from its own.
#[tokio::test]
async fn an_amazon_connect_pass_without_a_recent_position_reads_on_from_the_imports() {
    use acd_simulators::amazon_connect::{self as connect, ConnectSimConfig};

    let (ConnectEnv { env, kinesis, sim, .. }, id) = connect_with_passes().await;
    let day = connect::midnight(Utc::now()) - chrono::Duration::days(1);
    let minute = |h: i64, m: i64| day + chrono::Duration::hours(h) + chrono::Duration::minutes(m);
    let (mut events, truth) = connect::agent_events(2, day);
    // Agent 0 is available 08:00–12:00 and from 12:30: a heart-beat every 4 s from 08:01, every 2 s from 12:31, every
    // 0.35 s from 15:11 (to 15:28:30; the agent logs out at 15:30).
    let beat = |at, since| {
        let status = connect::status_snapshot(0, since);
        connect::agent_event(0, "HEART_BEAT", at, Some(status.clone()), Some(status))
    };
    for i in 0..3000 {
        events.push(beat(minute(8, 1) + chrono::Duration::seconds(4 * i), minute(8, 0)));
        events.push(beat(minute(12, 31) + chrono::Duration::seconds(2 * i), minute(12, 30)));
        events.push(beat(minute(15, 11) + chrono::Duration::milliseconds(350 * i), minute(12, 30)));
    }
    let mut feed = Feed::new(events);
    let mut publish_through = async |through: DateTime<Utc>| feed.publish_through(&kinesis, through).await;
    let known_at = |now: DateTime<Utc>| -> Vec<AgentSegment> {
        let known = truth.iter().filter(|s| s.start <= now);
        sorted_segments(known.map(|s| AgentSegment { end: s.end.filter(|e| *e <= now), ..s.clone() }).collect())
    };
    let agents: Vec<String> = (0..ConnectSimConfig::default().agents).map(connect::user_id).collect();

    // The import at 12:05 reads the morning (the stream up to 12:00); the first pass at 12:10 reads on from there.
    // The import at 15:05 reads on to 15:00; the next pass, at 15:10 (none since 12:10), reads on from there.
    for (import, pass) in [(minute(12, 5), minute(12, 10)), (minute(15, 5), minute(15, 10))] {
        publish_through(import).await;
        let run = env.importer(at(import)).run(&event(&id), deadline()).await.unwrap();
        assert_eq!(run.outcome, RunOutcome::Succeeded, "{run:?}");
        let imported = run.run.unwrap().vendor_calls;
        publish_through(pass).await;
        let run = pass_run(env.importer(at(pass)).run_states(&event(&id), deadline()).await.unwrap());
        println!("import at {import}: {imported} vendor calls; pass at {pass}: {} vendor calls", run.vendor_calls);
        assert_same(&env.segments(&id, &agents).await, &known_at(pass), &format!("after the pass at {pass}"));
        // The session and the stream's description, a shard iterator and a page or two of records: not the three
        // pages of heart-beats the import read.
        assert!(run.vendor_calls <= 7, "the pass at {pass} read what the import had read: {run:?}");
    }
    // A pass at 15:40 reads on from its own position (the heart-beats of 15:11–15:29). The import at 16:05 fails on
    // the statistics: its position stays at 15:00. The next pass, at 16:50 (none for over an hour), reads on from
    // its own position, which is further on than the import's: not the heart-beats again.
    publish_through(minute(15, 40)).await;
    pass_run(env.importer(at(minute(15, 40))).run_states(&event(&id), deadline()).await.unwrap());
    // (Not as far as the real clock's quarter hour, which the import's credentials check reads.)
    sim.add_fault(connect::Fault::MetricsFail {
        from: day - chrono::Duration::days(2),
        to: day + chrono::Duration::hours(17),
    });
    let failed = env.importer(at(minute(16, 5))).run(&event(&id), deadline()).await.unwrap();
    // On the statistics, past the credentials check: the listings ran.
    let record = failed.run.as_ref().expect("a recorded run");
    assert_eq!(
        (record.outcome, record.reason),
        (RunOutcome::Failed, Some(FailureReason::VendorUnavailable)),
        "{failed:?}"
    );
    assert!(record.counts.queues > 0, "the credentials check passed: {failed:?}");
    sim.clear_faults();
    let pass = minute(16, 50);
    publish_through(pass).await;
    let run = pass_run(env.importer(at(pass)).run_states(&event(&id), deadline()).await.unwrap());
    println!("import at 16:05 failed; pass at {pass}: {} vendor calls", run.vendor_calls);
    assert_same(&env.segments(&id, &agents).await, &known_at(pass), "after the pass at 16:50");
    assert!(run.vendor_calls <= 7, "the pass at {pass} went back to the import's older position: {run:?}");
}

/// Every agent-states pass that runs writes one EMF line (`AgentStatesPasses` by type, outcome and reason): a pass
/// that fails is counted as such, not only logged (until 2026-12-07 only a warning line told of it).
#[tokio::test]
async fn each_pass_reports_its_outcome_and_reason_as_a_metric() {
    use acd_simulators::genesys::{Fault as GenesysFault, FaultKind, FaultTarget};
    let logs = acd_test_harness::LogCapture::install();
    let (t0, sim, env, id, _agents) = imported().await;
    let emf = || -> Vec<Value> {
        (logs.contents().lines())
            .filter(|l| l.contains("agent-states pass metrics") && l.contains(&id))
            .map(|l| serde_json::from_str(&l[l.find("emf=").unwrap() + 4..]).unwrap())
            .collect()
    };
    assert!(emf().is_empty(), "the 15-minute import is not a pass");

    let t1 = t0 + chrono::Duration::minutes(3);
    sim.set_now(t1);
    pass_run(env.importer(at(t1)).run_states(&event(&id), deadline()).await.unwrap());
    let t2 = t1 + chrono::Duration::minutes(1);
    sim.set_now(t2);
    sim.add_fault(GenesysFault::always(FaultTarget::UserDetails, FaultKind::Forbidden { permission: None }));
    let failed = env.importer(at(t2)).run_states(&event(&id), deadline()).await.unwrap();
    assert_eq!(failed.outcome, RunOutcome::Failed, "{failed:?}");

    let lines = emf();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!((lines[0]["Outcome"].as_str(), lines[0]["Reason"].as_str()), (Some("succeeded"), Some("none")));
    assert_eq!(
        (lines[1]["Outcome"].as_str(), lines[1]["Reason"].as_str()),
        (Some("failed"), Some("permission_missing"))
    );
    for line in &lines {
        assert_eq!(
            (line["AgentStatesPasses"].as_i64(), line["IntegrationType"].as_str()),
            (Some(1), Some("genesys_cloud"))
        );
        assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"], "AgentStatesPasses", "{line}");
        assert!(line["VendorCalls"].as_u64().unwrap() >= 1, "{line}");
    }
}
