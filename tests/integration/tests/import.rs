//! The import end to end: integrations created through the real API handler (credentials checked against the
//! simulator), the real import service against moto and the Five9 / Genesys Cloud (and Amazon Connect) simulators,
//! and the table compared with the simulators' truth.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use acd_app::import::plan::{day_chunks, day_start, owned_pieces};
use acd_app::import::{ImportConfig, ImportEvent, RunOutcome};
use acd_app::ports::{CredentialVerifier, ScheduleStore, StoreError};
use acd_aws::items::QueueItem;
use acd_aws::wiring;
use acd_connectors::five9::Five9Grouping;
use acd_connectors::{Deadline, Endpoints};
use acd_domain::{AgentSegment, FailureReason, IntegrationId, IntervalStats, Queue, TenantId, TimeWindow};
use acd_integration_tests::{
    FakeAcd, ImportEnv, RacingRepo, api_request, decode, openapi, sorted_segments, sorted_stats,
};
use acd_simulators::five9::{FaultKind, FaultRule, Five9SimConfig, Five9Simulator, Limits};
use acd_simulators::genesys::{Fault, FaultKind as GenesysFault, FaultTarget, GenesysSimConfig, GenesysSimulator};
use acd_test_harness::LogCapture;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

const TENANT: &str = "tenant-a";

/// The shared import environment, as this suite's tenant, with the table reads of this suite.
struct Env(ImportEnv);

impl std::ops::Deref for Env {
    type Target = ImportEnv;
    fn deref(&self) -> &ImportEnv {
        &self.0
    }
}

impl std::ops::DerefMut for Env {
    fn deref_mut(&mut self) -> &mut ImportEnv {
        &mut self.0
    }
}

impl Env {
    async fn start(endpoints: Endpoints) -> Env {
        Env(ImportEnv::start(TENANT, endpoints).await)
    }

    /// With another credentials check at the API (the import always checks against the ACD).
    async fn start_with(endpoints: Endpoints, verifier: Arc<dyn CredentialVerifier>) -> Env {
        Env(ImportEnv::start_with(TENANT, endpoints, verifier).await)
    }

    /// Everything imported for an integration (queues, agents, statuses, intervals, segments), for equality checks.
    async fn snapshot(
        &self,
        integration: &str,
        agents: &[String],
    ) -> (Vec<QueueItem>, Vec<IntervalStats>, Vec<AgentSegment>) {
        let mut queues = self.queues(integration).await;
        queues.sort_by(|a, b| a.external_id.cmp(&b.external_id));
        (queues, self.intervals(integration).await, self.segments(integration, agents).await)
    }
}

/// Equality with a readable first difference (the vectors are long).
#[track_caller]
fn assert_same<T: PartialEq + std::fmt::Debug>(actual: &[T], expected: &[T], what: &str) {
    if let Some(i) = (0..actual.len().max(expected.len())).find(|&i| actual.get(i) != expected.get(i)) {
        panic!(
            "{what}: {} stored vs {} expected; first difference at {i}:\n stored:   {:?}\n expected: {:?}",
            actual.len(),
            expected.len(),
            actual.get(i),
            expected.get(i)
        );
    }
}

fn deadline() -> Deadline {
    Deadline::after(Duration::from_secs(600))
}

/// The event of a run started "at once" (as sync now): these tests run imports at one clock, one after the other (a
/// fault, then the run after it), and a run from the recurring schedule in a quarter hour already imported has
/// nothing to do ([`scheduled`]).
fn event(id: &str) -> ImportEvent {
    ImportEvent { tenant_id: TENANT.into(), integration_id: id.into(), at_once: true }
}

/// The recurring schedule's event.
fn scheduled(id: &str) -> ImportEvent {
    ImportEvent { tenant_id: TENANT.into(), integration_id: id.into(), at_once: false }
}

fn config(now: DateTime<Utc>) -> ImportConfig {
    ImportConfig { now: Some(now), ..ImportConfig::default() }
}

async fn five9_env(sim_config: Five9SimConfig) -> (Env, Five9Simulator) {
    let sim = Five9Simulator::start(sim_config).await.unwrap();
    let env = Env::start(Endpoints::default().with_var("FIVE9_BASE_URL", sim.base_url())).await;
    (env, sim)
}

/// [`five9_env`] at `now` with the simulator's API limits raised: the runs of a test follow each other within a
/// minute (15 minutes apart in production).
async fn five9_env_unlimited(now: DateTime<Utc>) -> (Env, Five9Simulator) {
    let limits = Limits { query: [10_000; 3], report_request: [10_000; 3], retrieve_report: [10_000; 3] };
    five9_env(Five9SimConfig { now: Some(now), limits, ..Five9SimConfig::default() }).await
}

fn five9_body(sim: &Five9Simulator, grouping: &str, history_days: u32) -> Value {
    let mut settings = json!({"region": "us", "grouping": grouping, "history_days": history_days});
    if grouping == "skill" {
        settings["skill_report"] = json!({"folder": "Custom Reports", "name": "Call Log with Skill"});
    }
    json!({"name": format!("Five9 {grouping}"), "type": "five9",
           "credentials": {"username": sim.username(), "password": sim.password()}, "settings": settings})
}

/// The truth for the run window: statistics and owned segment pieces day by day.
fn five9_truth(
    sim: &Five9Simulator,
    window: TimeWindow,
    grouping: Five9Grouping,
) -> (Vec<IntervalStats>, Vec<AgentSegment>) {
    let mut stats = Vec::new();
    let mut segments = Vec::new();
    for chunk in day_chunks(window) {
        stats.extend(sim.truth_intervals(chunk, grouping));
        segments.extend(owned_pieces(&sim.truth_segments(chunk), chunk));
    }
    (sorted_stats(stats), sorted_segments(segments))
}

/// Five9's default limits but `hourly` `runReport` an hour (16 a minute, 800 a day as by default).
fn runs_per_hour(hourly: u64) -> Limits {
    Limits { report_request: [16, hourly, 800], ..Limits::default() }
}

async fn create(env: &Env, body: &Value) -> String {
    let (status, created) = env.call("POST", "/integrations", Some(body)).await;
    assert_eq!(status, 201, "{created}");
    created["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn five9_import_equals_the_simulators_truth_and_a_second_run_writes_nothing() {
    // Two days back from 2024-11-04 12:00 UTC: the window includes the 25-hour DST day (2024-11-03, Los Angeles).
    let now: DateTime<Utc> = "2024-11-04T12:00:00Z".parse().unwrap();
    // Three runs follow each other within a minute here (15 minutes apart in production): per-minute limits raised.
    let (env, sim) = five9_env_unlimited(now).await;
    let id = create(&env, &five9_body(&sim, "skill", 2)).await;
    let import = env.importer(config(sim.now()));
    let first = import.run(&event(&id), deadline()).await.unwrap();
    assert_eq!(first.outcome, RunOutcome::Succeeded, "{first:?}");
    let run = first.run.unwrap();
    let window = run.window.unwrap();
    assert_eq!(window.start, "2024-11-02T00:00:00Z".parse::<DateTime<Utc>>().unwrap());
    assert_eq!(run.complete_through, Some(window.end));

    let queues: Vec<Queue> = sim.truth_queues(Five9Grouping::Skill);
    let mut stored: Vec<Queue> = env
        .queues(&id)
        .await
        .into_iter()
        .map(|q| Queue { external_id: q.external_id, name: q.name, channel: q.channel })
        .collect();
    stored.sort_by(|a, b| a.external_id.cmp(&b.external_id));
    let mut expected = queues.clone();
    expected.sort_by(|a, b| a.external_id.cmp(&b.external_id));
    assert_eq!(stored, expected);

    let (stats, segments) = five9_truth(&sim, window, Five9Grouping::Skill);
    assert!(stats.len() > 100 && segments.len() > 100, "meaningful data: {} / {}", stats.len(), segments.len());
    assert_same(&env.intervals(&id).await, &stats, "every interval number equals the truth");
    let agents: Vec<String> = sim.truth_agents().into_iter().map(|a| a.external_id).collect();
    assert_same(&env.segments(&id, &agents).await, &segments, "every segment equals the truth");
    // One item per interval, or with hour buckets (the default) one per queue and hour.
    let hours: std::collections::BTreeSet<_> =
        stats.iter().map(|s| (&s.queue_external_id, acd_aws::buckets::hour_of(s.interval_start))).collect();
    let items = if acd_test_harness::hour_buckets_from_env() { hours.len() } else { stats.len() };
    assert_eq!(run.counts.interval_writes.written as usize, items);
    // Days never written before are not read back.
    assert_eq!((run.counts.interval_writes.reads, run.counts.segment_writes.reads), (0, 0), "{:?}", run.counts);
    let partition = env.query(format!("T#{TENANT}#I#{id}")).await;
    let item = |sk: &str| partition.iter().find(|i| i["SK"].as_s().unwrap() == sk).unwrap().clone();
    let state = item("STATE");
    let recorded = |name: &str| state[name].as_s().unwrap().parse::<DateTime<Utc>>().unwrap();
    assert_eq!(
        (recorded("complete_from"), recorded("complete_through")),
        (window.start, window.end),
        "completed range"
    );
    assert!(!state.contains_key("pass_cursor"), "the pass is over");
    // What the Agent State Details reports taught of the domain's hours is kept for the next runs' report windows:
    // every local hour, the back-fill having read whole days; and the states running into the midnight of its last
    // agent-state read (the 4th's, read at 12:00 on the 4th). Both in the connector's own item, not in the state
    // (which queries read).
    // The item holds the cursor's JSON compressed (≈ 1.1 KB here against ≈ 4.5 KB of JSON).
    let cursor_item = item("CURSOR");
    let (cursor, _) = acd_aws::cursor::read_cursor(&cursor_item).unwrap();
    let taught = cursor["density"]["state_rows_per_hour"].as_object().unwrap();
    assert_eq!(taught.len(), 24, "{taught:?}");
    assert_eq!(cursor["carried"]["at"], "2024-11-04T00:00:00Z");
    let stored = cursor_item[acd_aws::cursor::CURSOR_ATTR].as_b().unwrap().as_ref().len();
    assert!(stored * 2 < serde_json::to_vec(&cursor).unwrap().len(), "{stored} bytes stored");
    assert!(!state.contains_key("vendor_cursor"));

    let (_, integration) = env.call("GET", &format!("/integrations/{id}"), None).await;
    assert_eq!(integration["status"]["state"], "operational");
    assert!(integration["status"]["last_success_at"].is_string());

    // A table written before the connector's cursor had an item of its own (it was inside the state): the next run
    // moves it there, and uses it (its Agent State report starts at midnight, below).
    let (dynamodb, table) = (env.stack.clients.dynamodb(), &env.stack.settings.table_name);
    let as_map = serde_dynamo::aws_sdk_dynamodb_1::to_attribute_value(&cursor).unwrap();
    let mut old_state = state.clone();
    old_state.insert("vendor_cursor".into(), as_map.clone());
    dynamodb.put_item().table_name(table).set_item(Some(old_state)).send().await.unwrap();
    let cursor_key = [("PK", format!("T#{TENANT}#I#{id}")), ("SK", "CURSOR".into())]
        .map(|(k, v)| (k.to_owned(), AttributeValue::S(v)))
        .into();
    dynamodb.delete_item().table_name(table).set_key(Some(cursor_key)).send().await.unwrap();

    // The same window again: identical table, no interval or segment written.
    let before = env.snapshot(&id, &agents).await;
    let reports_before = sim.stats().report_runs.len();
    let second = import.run(&event(&id), deadline()).await.unwrap().run.unwrap();
    assert_eq!(second.outcome, RunOutcome::Succeeded);
    assert_eq!(env.snapshot(&id, &agents).await, before);
    assert_eq!(second.counts.interval_writes.write_requests, 0, "{:?}", second.counts);
    assert_eq!(second.counts.segment_writes.write_requests, 0, "{:?}", second.counts);
    assert!(second.counts.interval_writes.unchanged > 0);
    // Every day's digest recorded what is stored: one GetItem a day, no partition read. Yesterday's (the 3rd's)
    // agent states were read whole at 12:00 on the 4th, past Five9's 3 hours after the day's end: final, so the
    // re-read reads only today's — its Agent State report starts at today's midnight: the states running into it
    // were carried from the first run's read, which started 12 hours before it — while the Call Log still covers
    // both days.
    assert_eq!((second.counts.days, second.window.unwrap().start), (2, "2024-11-03T00:00:00Z".parse().unwrap()));
    assert_eq!(second.counts.interval_writes.reads, 2, "{:?}", second.counts);
    assert_eq!(second.counts.segment_writes.reads, 1, "{:?}", second.counts);
    let reports: Vec<_> = sim.stats().report_runs[reports_before..].to_vec();
    let earliest = |name: &str| reports.iter().filter(|r| r.report.starts_with(name)).filter_map(|r| r.start).min();
    assert_eq!(earliest("Call Log"), Some("2024-11-03T00:00:00Z".parse().unwrap()), "{reports:?}");
    assert_eq!(earliest("Agent State Details"), Some("2024-11-04T00:00:00Z".parse().unwrap()), "{reports:?}");
    let partition = env.query(format!("T#{TENANT}#I#{id}")).await;
    let item = |sk: &str| partition.iter().find(|i| i["SK"].as_s().unwrap() == sk).cloned();
    assert!(!item("STATE").unwrap().contains_key("vendor_cursor"), "the cursor moved out of the state");
    let moved = item("CURSOR").expect("the cursor in its own item again");
    assert_eq!(acd_aws::cursor::read_cursor(&moved).unwrap(), (cursor.clone(), false));

    let (status, runs) = env.call("GET", &format!("/integrations/{id}/runs?limit=1"), None).await;
    assert_eq!(status, 200);
    assert_eq!(runs["items"][0]["run_id"], json!(second.run_id));
    let (_, older) = env
        .call("GET", &format!("/integrations/{id}/runs?cursor={}", runs["next_cursor"].as_str().unwrap()), None)
        .await;
    assert_eq!(older["items"][0]["run_id"], json!(run.run_id));
    assert_eq!(older["next_cursor"], Value::Null);

    // Fifteen minutes later: today's chunk grew; only the queues whose numbers changed are read back and written.
    let later = now + chrono::Duration::minutes(15);
    let today = day_start(now);
    let truth_by_queue = |end: DateTime<Utc>| {
        let mut by_queue: BTreeMap<String, Vec<IntervalStats>> = BTreeMap::new();
        for s in sim.truth_intervals(TimeWindow::new(today, end).unwrap(), Five9Grouping::Skill) {
            by_queue.entry(s.queue_external_id.clone()).or_default().push(s);
        }
        by_queue
    };
    let before_by_queue = truth_by_queue(now);
    sim.set_now(later);
    let after_by_queue = truth_by_queue(later);
    let changed = queues.iter().filter(|q| before_by_queue.get(&q.external_id) != after_by_queue.get(&q.external_id));
    let changed = changed.count() as u64;
    assert!(changed > 0 && changed < queues.len() as u64, "a meaningful mix: {changed} of {}", queues.len());
    // The cursor item as written before it was compressed (a DynamoDB map): read, and written compressed.
    let mut map_item = moved.clone();
    map_item.remove(acd_aws::cursor::CURSOR_ATTR);
    map_item.insert(acd_aws::cursor::MAP_CURSOR_ATTR.into(), as_map);
    dynamodb.put_item().table_name(table).set_item(Some(map_item)).send().await.unwrap();
    let reports_before = sim.stats().report_runs.len();
    let third = env.importer(config(later)).run(&event(&id), deadline()).await.unwrap().run.unwrap();
    assert_eq!(third.outcome, RunOutcome::Succeeded, "{third:?}");
    let reports: Vec<_> = sim.stats().report_runs[reports_before..].to_vec();
    let earliest = |name: &str| reports.iter().filter(|r| r.report.starts_with(name)).filter_map(|r| r.start).min();
    assert_eq!(earliest("Agent State Details"), Some(today), "the carried states were read: {reports:?}");
    let partition = env.query(format!("T#{TENANT}#I#{id}")).await;
    let rewritten = partition.iter().find(|i| i["SK"].as_s().unwrap() == "CURSOR").unwrap();
    assert!(!rewritten.contains_key(acd_aws::cursor::MAP_CURSOR_ATTR), "{rewritten:?}");
    assert!(acd_aws::cursor::read_cursor(rewritten).is_ok_and(|(_, as_map)| !as_map));
    assert_eq!(third.counts.interval_writes.reads, third.counts.days + changed, "{:?}", third.counts);
    let whole = TimeWindow::new(window.start, third.window.unwrap().end).unwrap();
    let (stats, segments) = five9_truth(&sim, whole, Five9Grouping::Skill);
    assert_same(&env.intervals(&id).await, &stats, "every interval equals the truth 15 minutes later");
    assert_same(&env.segments(&id, &agents).await, &segments, "every segment equals the truth 15 minutes later");
}

#[tokio::test]
async fn a_corrected_number_a_renamed_and_a_removed_queue_converge() {
    let (env, sim) = five9_env(Five9SimConfig::default()).await;
    let id = create(&env, &five9_body(&sim, "campaign", 2)).await;
    let import = env.importer(config(sim.now()));
    assert_eq!(import.run(&event(&id), deadline()).await.unwrap().outcome, RunOutcome::Succeeded);

    let campaigns = sim.campaign_names();
    let interval: DateTime<Utc> = "2024-11-05T18:00:00Z".parse().unwrap();
    assert!(sim.adjust_calls(&campaigns[0], interval, 3));
    assert!(sim.delete_campaign(&campaigns[1]));
    let run = import.run(&event(&id), deadline()).await.unwrap().run.unwrap();
    let window = run.window.unwrap();
    assert!(window.contains(interval), "the correction lies in the reconciliation window {window:?}");
    let truth: Vec<IntervalStats> = sim
        .truth_intervals(
            TimeWindow::new(interval, interval + chrono::Duration::minutes(15)).unwrap(),
            Five9Grouping::Campaign,
        )
        .into_iter()
        .filter(|s| s.queue_external_id == campaigns[0])
        .collect();
    let stored: Vec<IntervalStats> = env
        .intervals(&id)
        .await
        .into_iter()
        .filter(|s| s.queue_external_id == campaigns[0] && s.interval_start == interval)
        .collect();
    assert_eq!(stored, sorted_stats(truth), "the corrected interval was rewritten");
    assert!(run.counts.interval_writes.written >= 1 && run.counts.interval_writes.written < 20, "{:?}", run.counts);
    // Only the corrected queue's partition was read back (besides one digest a day).
    assert_eq!(run.counts.interval_writes.reads, run.counts.days + 1, "{:?}", run.counts);

    let queues = env.queues(&id).await;
    let removed = queues.iter().find(|q| q.external_id == campaigns[1]).expect("removed queue kept");
    assert!(!removed.active, "a queue gone from the ACD is inactive, never deleted");
    assert!(queues.iter().filter(|q| q.external_id != campaigns[1]).all(|q| q.active));
}

/// The stored intervals of one campaign's queue in one hour, as the queries answer them.
async fn campaign_hour(env: &Env, id: &str, campaign: &str, hour: DateTime<Utc>) -> Vec<IntervalStats> {
    let stored = env.intervals(id).await.into_iter();
    stored.filter(|s| s.queue_external_id == campaign && acd_aws::buckets::hour_of(s.interval_start) == hour).collect()
}

#[tokio::test]
async fn a_stale_hour_bucket_in_a_range_the_import_rewrites_is_made_right_and_stays_a_bucket() {
    // Where stored, an hour bucket (acd_aws::buckets) is the whole truth for its hour, so single items written
    // behind it would be hidden. Whatever put it there (a run with HOUR_BUCKETS=on, a move a crash interrupted), the
    // import must rewrite the bucket itself — with hour buckets switched off too — and leave no single item under
    // it. Here each bucket is empty and stale: it hides its hour's intervals until the import puts them back.
    let (env, sim) = five9_env(Five9SimConfig::default()).await;
    let id = create(&env, &five9_body(&sim, "campaign", 2)).await;
    let import = env.importer(config(sim.now()));
    assert_eq!(import.run(&event(&id), deadline()).await.unwrap().outcome, RunOutcome::Succeeded);
    let steady = import.run(&event(&id), deadline()).await.unwrap().run.unwrap();

    let campaign = sim.campaign_names()[0].clone();
    let interval: DateTime<Utc> = "2024-11-05T18:00:00Z".parse().unwrap();
    let window = steady.window.unwrap();
    assert!(window.contains(interval), "{window:?}");
    let queue = env.queues(&id).await.into_iter().find(|q| q.external_id == campaign).unwrap();
    let pk = format!("T#{TENANT}#Q#{}", queue.queue_id);
    // The first hour of the day's range as well: its bucket key sorts before the range's first single item.
    let first_hour = acd_aws::buckets::hour_of(window.start.max(day_start(interval)));
    for hour in [first_hour, interval] {
        let bucket = acd_aws::buckets::interval_bucket(pk.clone(), hour, Vec::new()).unwrap();
        let dynamodb = env.stack.clients.dynamodb();
        dynamodb.put_item().table_name(&env.stack.settings.table_name).set_item(Some(bucket)).send().await.unwrap();
        assert_eq!(
            campaign_hour(&env, &id, &campaign, hour).await,
            Vec::new(),
            "{hour}: the empty bucket hides the hour"
        );
        // The ACD changed the interval, so the day's partition is compared with the table, not vouched for by its
        // digest.
        assert!(sim.adjust_calls(&campaign, interval, 3));
        assert_eq!(import.run(&event(&id), deadline()).await.unwrap().outcome, RunOutcome::Succeeded, "{hour}");
        expire_lease(&env, &id).await;
    }
    for hour in [first_hour, interval] {
        let truth: Vec<IntervalStats> = sim
            .truth_intervals(TimeWindow::new(hour, hour + chrono::Duration::hours(1)).unwrap(), Five9Grouping::Campaign)
            .into_iter()
            .filter(|s| s.queue_external_id == campaign)
            .collect();
        assert!(!truth.is_empty(), "{hour}: the simulator has calls in that hour");
        assert_eq!(campaign_hour(&env, &id, &campaign, hour).await, sorted_stats(truth), "{hour}");
        let bucket_sk = acd_aws::buckets::interval_bucket_sk(hour);
        let stored: Vec<String> = env
            .query(pk.clone())
            .await
            .into_iter()
            .filter_map(|item| item.get("SK").and_then(|v| v.as_s().ok()).cloned())
            .filter(|sk| sk.starts_with(&bucket_sk))
            .collect();
        assert_eq!(stored, vec![bucket_sk], "{hour}: the hour is one bucket, no single item left under it");
    }
}

#[tokio::test]
async fn a_renamed_skill_keeps_its_queue_id() {
    let (env, sim) = five9_env(Five9SimConfig::default()).await;
    let id = create(&env, &five9_body(&sim, "skill", 1)).await;
    let import = env.importer(config(sim.now()));
    import.run(&event(&id), deadline()).await.unwrap();
    let before = env.queues(&id).await;
    let skill = sim.skill_names()[0].clone();
    assert!(sim.rename_skill(&skill, "Renamed & Co"));
    import.run(&event(&id), deadline()).await.unwrap();
    let after = env.queues(&id).await;
    assert_eq!(after.len(), before.len(), "a rename does not make a new queue");
    let old = before.iter().find(|q| q.name == skill).unwrap();
    let renamed = after.iter().find(|q| q.queue_id == old.queue_id).unwrap();
    assert_eq!(renamed.name, "Renamed & Co");
    assert_eq!(renamed.first_seen, old.first_seen);
    assert!(renamed.gsi1sk.starts_with("renamed & co#"));
}

#[tokio::test]
async fn a_run_killed_mid_way_is_completed_by_the_next_run() {
    let (env, sim) = five9_env(Five9SimConfig::default()).await;
    let id = create(&env, &five9_body(&sim, "campaign", 2)).await;
    // Every write request counts: the queue transaction, 13 agent upserts, 15 status upserts (before the first day
    // that refers to them), the day's `written_day` mark, then the day's batches — the crash falls among the first
    // day's interval batches.
    let crash = env.importer(ImportConfig { abort_after_batches: Some(33), ..config(sim.now()) });
    let err = crash.run(&event(&id), deadline()).await.unwrap_err();
    assert!(err.to_string().contains("aborted"), "{err}");
    // A killed process keeps its lease until it expires; expire it.
    expire_lease(&env, &id).await;
    let run = env.importer(config(sim.now())).run(&event(&id), deadline()).await.unwrap().run.unwrap();
    assert_eq!(run.outcome, RunOutcome::Succeeded);
    // The day the crash interrupted was marked written before its first batch: it is read back, not trusted empty.
    assert!(run.counts.interval_writes.reads > 0, "{:?}", run.counts);
    let (stats, segments) = five9_truth(&sim, run.window.unwrap(), Five9Grouping::Campaign);
    assert_eq!(env.intervals(&id).await, stats);
    let agents: Vec<String> = sim.truth_agents().into_iter().map(|a| a.external_id).collect();
    assert_eq!(env.segments(&id, &agents).await, segments);
}

async fn expire_lease(env: &Env, id: &str) {
    env.delete(AttributeValue::S(format!("T#{TENANT}#I#{id}")), AttributeValue::S("LEASE".into())).await;
}

#[tokio::test]
async fn a_change_a_killed_run_left_half_written_is_repaired_even_when_the_acd_reverts_it() {
    // The digest of a day must never vouch for content the table does not hold: a run killed between two batches
    // of a day leaves some items changed; when the ACD then goes back to the old numbers, the next run must still
    // compare that day with the table and repair it.
    let (env, sim) = five9_env(Five9SimConfig::default()).await;
    let id = create(&env, &five9_body(&sim, "campaign", 1)).await;
    assert_eq!(
        env.importer(config(sim.now())).run(&event(&id), deadline()).await.unwrap().outcome,
        RunOutcome::Succeeded
    );
    let clean = env.intervals(&id).await;

    let campaign = sim.campaign_names()[0].clone();
    let first: DateTime<Utc> = "2024-11-05T10:00:00Z".parse().unwrap();
    let intervals: Vec<DateTime<Utc>> = (0..30).map(|i| first + chrono::Duration::minutes(15 * i)).collect();
    for t in &intervals {
        assert!(sim.adjust_calls(&campaign, *t, 3));
    }
    // The day's digest is deleted (write 1), the first batch lands (write 2), the next dies.
    let crash = env.importer(ImportConfig { abort_after_batches: Some(2), ..config(sim.now()) });
    let err = crash.run(&event(&id), deadline()).await.unwrap_err();
    assert!(err.to_string().contains("aborted"), "{err}");
    let half_written = env.intervals(&id).await;
    assert_ne!(half_written, clean, "the first batch of the changes landed before the crash");

    for t in &intervals {
        assert!(sim.adjust_calls(&campaign, *t, -3));
    }
    expire_lease(&env, &id).await;
    let run = env.importer(config(sim.now())).run(&event(&id), deadline()).await.unwrap().run.unwrap();
    assert_eq!(run.outcome, RunOutcome::Succeeded);
    assert_same(&env.intervals(&id).await, &clean, "the table is back to the ACD's numbers");
    // The 30 intervals: one item each (HOUR_BUCKETS=off), or 8 hour buckets (10:00 to 17:15).
    let items = if acd_test_harness::hour_buckets_from_env() { 8 } else { 25 };
    assert!(run.counts.interval_writes.written >= items, "{:?}", run.counts);
}

#[tokio::test]
async fn an_overlapping_run_exits_without_work() {
    let (env, sim) = five9_env(Five9SimConfig::default()).await;
    let id = create(&env, &five9_body(&sim, "campaign", 1)).await;
    let import = env.importer(config(sim.now()));
    let e = event(&id);
    let (a, b) = tokio::join!(import.run(&e, deadline()), import.run(&e, deadline()));
    let outcomes = [a.unwrap().outcome, b.unwrap().outcome];
    assert!(outcomes.contains(&RunOutcome::Skipped) && outcomes.contains(&RunOutcome::Succeeded), "{outcomes:?}");
    let (_, runs) = env.call("GET", &format!("/integrations/{id}/runs"), None).await;
    assert_eq!(runs["items"].as_array().unwrap().len(), 1, "the skipped run is not recorded");
}

/// A run of the recurring schedule in a quarter hour that a run already imported through (it succeeded and left
/// nothing to finish, and the integration record is the one it read) has nothing to do: it asks the ACD nothing,
/// records nothing and leaves the status as it was, where it used to re-read the whole reconciliation window (a
/// schedule's second delivery, a `rate()` schedule's second run in a quarter hour). A run started "at once" (sync
/// now) runs all the same, and so does the next one after a PATCH; the next quarter hour's run imports as before.
#[tokio::test]
async fn a_second_scheduled_run_in_a_quarter_hour_already_imported_asks_the_acd_nothing() {
    let day: DateTime<Utc> = "2024-05-10T00:00:00Z".parse().unwrap();
    let at = |h: i64, m: i64| day + chrono::Duration::hours(h) + chrono::Duration::minutes(m);
    let (sim, env, id) = genesys_integration(at(10, 5), 1).await;
    let import = async |now: DateTime<Utc>, event: ImportEvent| {
        sim.set_now(now);
        env.importer(config(now)).run(&event, deadline()).await.unwrap()
    };
    let runs = async || env.call("GET", &format!("/integrations/{id}/runs"), None).await.1["items"].clone();
    let status = async || env.call("GET", &format!("/integrations/{id}"), None).await.1["status"].clone();
    let skipped = |summary: &acd_app::import::RunSummary, through: DateTime<Utc>| {
        let through = through.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        summary.outcome == RunOutcome::Skipped && summary.detail.contains(&through)
    };

    let first = import(at(10, 5), scheduled(&id)).await;
    assert_eq!(first.outcome, RunOutcome::Succeeded, "{first:?}");
    assert_eq!(first.run.as_ref().and_then(|r| r.complete_through), Some(at(10, 0)));
    let (requests, status_after, runs_after) = (sim.requests(), status().await, runs().await);
    assert_eq!(status_after["state"], "operational", "{status_after}");

    // 10:12 reads up to 10:00, as the run at 10:05 did: nothing to do.
    let second = import(at(10, 12), scheduled(&id)).await;
    assert!(skipped(&second, at(10, 0)), "{second:?}");
    assert_eq!(sim.requests(), requests, "no call to the ACD, not even the token");
    assert_eq!(runs().await, runs_after, "nothing recorded");
    assert_eq!(status().await, status_after, "the status is the run's at 10:05");

    // Sync now at 10:13 runs (an admin asked for it).
    let synced = import(at(10, 13), event(&id)).await;
    assert_eq!(synced.outcome, RunOutcome::Succeeded, "{synced:?}");
    assert_eq!(runs().await.as_array().unwrap().len(), 2);

    // A PATCH: the next scheduled run in the quarter hour reads with the record as it is now; the one after it
    // has nothing to do again.
    let (code, patched) = env.call("PATCH", &format!("/integrations/{id}"), Some(&json!({"name": "Renamed"}))).await;
    assert_eq!(code, 200, "{patched}");
    let after_patch = import(at(10, 14), scheduled(&id)).await;
    assert_eq!(after_patch.outcome, RunOutcome::Succeeded, "{after_patch:?}");
    assert!(skipped(&import(at(10, 14), scheduled(&id)).await, at(10, 0)));
    assert_eq!(runs().await.as_array().unwrap().len(), 3);

    // 10:20 reads up to 10:15: a run (the skipped ones let their lease go).
    let requests = sim.requests();
    let next = import(at(10, 20), scheduled(&id)).await;
    assert_eq!(next.outcome, RunOutcome::Succeeded, "{next:?}");
    assert_eq!(next.run.as_ref().and_then(|r| r.complete_through), Some(at(10, 15)));
    assert!(sim.requests().aggregates > requests.aggregates);

    // A run that failed after its quarter hour's data was written (its record and status saved by the store, as
    // such a run does; the data stays complete through 10:15) leaves the next run in the quarter hour to import
    // and recover the status: the status read with the lease held says `failing`.
    let store = wiring::import_store(&env.stack.settings, &env.stack.clients);
    let tenant = TenantId::parse(TENANT).unwrap();
    let integration: IntegrationId = id.parse().unwrap();
    let failing = acd_domain::IntegrationStatus {
        state: acd_domain::IntegrationState::Failing,
        reason: Some(FailureReason::Internal),
        message: Some("storage failure; the run will be retried".into()),
        last_success_at: None,
        last_run_at: None,
        resumed_at: None,
    };
    acd_app::ports::ImportStore::set_status(&store, &tenant, integration, &failing).await.unwrap();
    let again = import(at(10, 25), scheduled(&id)).await;
    assert_eq!(again.outcome, RunOutcome::Succeeded, "{again:?}");
    assert_eq!(status().await["state"], "operational");
    assert!(skipped(&import(at(10, 29), scheduled(&id)).await, at(10, 15)));
}

/// An import state that cannot be read is the run's failure, recorded: the run fails its invocation (a storage
/// failure, retried by Lambda) and also records a failed run, and the integration is `failing` (`internal`), as
/// before the state was read ahead of the credentials check (2026-12-06: a first version let the lease go and failed
/// the invocation only, so the integration stayed `operational` while nothing was imported).
#[tokio::test]
async fn an_unreadable_import_state_fails_the_run_on_the_record_and_the_status() {
    let day: DateTime<Utc> = "2024-05-10T00:00:00Z".parse().unwrap();
    let at = |h: i64, m: i64| day + chrono::Duration::hours(h) + chrono::Duration::minutes(m);
    let (sim, env, id) = genesys_integration(at(10, 5), 1).await;
    let first = env.importer(config(at(10, 5))).run(&scheduled(&id), deadline()).await.unwrap();
    assert_eq!(first.outcome, RunOutcome::Succeeded, "{first:?}");
    // The connector's cursor item (read with the state) without its cursor.
    let item = [("PK", format!("T#{TENANT}#I#{id}")), ("SK", "CURSOR".to_owned())]
        .map(|(k, v)| (k.to_owned(), AttributeValue::S(v)))
        .into_iter()
        .collect();
    let (dynamodb, table) = (env.stack.clients.dynamodb(), &env.stack.settings.table_name);
    dynamodb.put_item().table_name(table).set_item(Some(item)).send().await.unwrap();

    sim.set_now(at(10, 20));
    // A run failing on a store error keeps its lease for `in_flight_hold` (30 s by default; none here).
    let failing = ImportConfig { in_flight_hold: std::time::Duration::ZERO, ..config(at(10, 20)) };
    let run = env.importer(failing).run(&scheduled(&id), deadline()).await;
    assert!(matches!(run, Err(StoreError::Corrupt(_))), "{run:?}");
    let (_, runs) = env.call("GET", &format!("/integrations/{id}/runs"), None).await;
    let latest = &runs["items"][0];
    assert_eq!((runs["items"].as_array().unwrap().len(), &latest["outcome"]), (2, &json!("failed")), "{runs}");
    let (_, integration) = env.call("GET", &format!("/integrations/{id}"), None).await;
    assert_eq!(
        (&integration["status"]["state"], &integration["status"]["reason"]),
        (&json!("failing"), &json!("internal"))
    );
    // The lease was kept for the hold only: the next run meets the same state, and fails the same way.
    let again = env.importer(config(at(10, 35))).run(&scheduled(&id), deadline()).await;
    assert!(matches!(again, Err(StoreError::Corrupt(_))), "{again:?}");
}

/// A pause saved between the run's first read of the record and its lease: the record read again with the lease
/// held says `paused`, so the run lets the lease go and imports nothing — no call to the ACD, no run recorded, the
/// status left `paused` (before 2026-12-06 it imported once more, then could not save its status over the pause).
/// After a resume the next run imports: the lease was let go.
#[tokio::test]
async fn a_pause_saved_after_the_runs_first_read_stops_it_at_the_lease() {
    let now: DateTime<Utc> = "2024-05-10T10:05:00Z".parse().unwrap();
    let (sim, env, id) = genesys_integration(now, 1).await;
    // Paused right after the run's first read of the record.
    let repo = RacingRepo::new(Arc::new(wiring::dynamo_store(&env.stack.settings, &env.stack.clients)));
    repo.pause_after_next_read.store(true, std::sync::atomic::Ordering::SeqCst);
    let import = env.importer_over(Arc::new(repo), config(now));
    let requests = sim.requests();
    let run = import.run(&event(&id), deadline()).await.unwrap();
    assert_eq!((run.outcome, run.detail.as_str()), (RunOutcome::Skipped, "integration paused"), "{run:?}");
    assert_eq!(sim.requests(), requests, "no request reached the ACD");
    let (_, runs) = env.call("GET", &format!("/integrations/{id}/runs"), None).await;
    assert_eq!(runs["items"], json!([]), "{runs}");
    let (_, integration) = env.call("GET", &format!("/integrations/{id}"), None).await;
    assert_eq!(integration["status"]["state"], "paused", "{integration}");

    let (code, resumed) = env.call("POST", &format!("/integrations/{id}/resume"), None).await;
    assert_eq!(code, 200, "{resumed}");
    let after = env.importer(config(now)).run(&event(&id), deadline()).await.unwrap();
    assert_eq!(after.outcome, RunOutcome::Succeeded, "{after:?}");
}

#[tokio::test]
async fn each_vendor_fault_sets_the_matching_status_and_loses_nothing() {
    let (env, sim) = five9_env(Five9SimConfig::default()).await;
    let id = create(&env, &five9_body(&sim, "campaign", 1)).await;
    let import = env.importer(config(sim.now()));
    import.run(&event(&id), deadline()).await.unwrap();
    let agents: Vec<String> = sim.truth_agents().into_iter().map(|a| a.external_id).collect();
    let good = env.snapshot(&id, &agents).await;
    let cases = [
        (FaultRule::new(FaultKind::Unauthorized), "credentials_rejected"),
        (FaultRule::new(FaultKind::AccessDisallowed).on("getCampaigns"), "permission_missing"),
        (FaultRule::new(FaultKind::OperationsLimitExceeded).on("runReport"), "rate_limited"),
        (FaultRule::new(FaultKind::Http503), "vendor_unavailable"),
        (FaultRule::new(FaultKind::MalformedXml).on("getCampaigns"), "vendor_data_malformed"),
        (FaultRule::new(FaultKind::ReportNotFound).on("runReport"), "configuration_wrong"),
    ];
    for (fault, reason) in cases {
        sim.set_faults(vec![fault]);
        let run = import.run(&event(&id), deadline()).await.unwrap().run.unwrap();
        assert_eq!(run.outcome, RunOutcome::Failed, "{reason}");
        assert_eq!(run.reason.map(|r| r.as_str()), Some(reason));
        let (_, integration) = env.call("GET", &format!("/integrations/{id}"), None).await;
        assert_eq!(integration["status"]["state"], "failing", "{reason}");
        assert_eq!(integration["status"]["reason"], reason);
        assert!(integration["status"]["last_success_at"].is_string(), "the last success stays visible");
        assert_eq!(env.snapshot(&id, &agents).await, good, "{reason}: nothing lost or duplicated");
    }
    sim.clear_faults();
    assert_eq!(import.run(&event(&id), deadline()).await.unwrap().outcome, RunOutcome::Succeeded);
    let (_, integration) = env.call("GET", &format!("/integrations/{id}"), None).await;
    assert_eq!(integration["status"]["state"], "operational");
}

#[tokio::test]
async fn a_back_fill_under_a_short_deadline_continues_across_runs_and_ends_complete() {
    // Genesys Cloud with slow analytics answers (1 s each, the credentials check included): a run has 8 s and stops
    // starting days with 3 s left, so it completes a few days and the next run continues.
    let now: DateTime<Utc> = "2024-05-10T09:07:00Z".parse().unwrap();
    let sim = genesys_sim(now, 6).await;
    sim.add_fault(Fault::always(FaultTarget::Aggregates, GenesysFault::Delay { ms: 1000 }));
    let env = genesys_env(&sim).await;
    let id = create(&env, &genesys_body(&sim, 4)).await;
    let import = env.importer(ImportConfig {
        safety_margin: Duration::from_secs(3),
        record_reserve: Duration::from_secs(1),
        ..config(now)
    });
    let mut outcomes = Vec::new();
    let mut last = None;
    for _ in 0..12 {
        let run = import.run(&event(&id), Deadline::after(Duration::from_secs(8))).await.unwrap().run.unwrap();
        outcomes.push(run.outcome);
        if run.outcome == RunOutcome::Partial {
            let (_, integration) = env.call("GET", &format!("/integrations/{id}"), None).await;
            assert_eq!(integration["status"]["state"], "importing");
        }
        let done = run.outcome == RunOutcome::Succeeded;
        last = Some(run);
        if done {
            break;
        }
    }
    let last = last.unwrap();
    assert!(outcomes.len() > 1 && outcomes[0] == RunOutcome::Partial, "{outcomes:?} {:?}", last.message);
    assert!(!outcomes.contains(&RunOutcome::Failed), "{outcomes:?}");
    assert_eq!(outcomes.last(), Some(&RunOutcome::Succeeded), "{outcomes:?}");
    let full = TimeWindow::new("2024-05-06T00:00:00Z".parse().unwrap(), last.complete_through.unwrap()).unwrap();
    let stats: Vec<IntervalStats> = day_chunks(full).into_iter().flat_map(|c| sim.expected_interval_stats(c)).collect();
    assert_same(&env.intervals(&id).await, &sorted_stats(stats), "back-filled intervals");
}

#[tokio::test]
async fn five9_runs_the_call_log_and_agent_state_reports_of_a_fetch_side_by_side_one_request_at_a_time() {
    // Each report runs 300 ms in the simulator before its result is ready: read one after the other (the call log,
    // then the agent state reports), no two would ever be running at once. The fetch (yesterday and today, the
    // agent states from 12 hours before) is one Call Log and two Agent State Details reports.
    let now: DateTime<Utc> = "2024-11-04T12:00:00Z".parse().unwrap();
    let sim_config =
        Five9SimConfig { now: Some(now), report_running_for: Duration::from_millis(300), ..Five9SimConfig::default() };
    let (env, sim) = five9_env(sim_config).await;
    let id = create(&env, &five9_body(&sim, "campaign", 1)).await;
    let run = env.importer(config(now)).run(&event(&id), deadline()).await.unwrap().run.unwrap();
    assert_eq!(run.outcome, RunOutcome::Succeeded, "{run:?}");
    let stats = sim.stats();
    // (The first of the four is the status listing's discovery report, before the fetch.)
    assert_eq!(stats.operations["runReport"], 4, "{:?}", stats.operations);
    assert_eq!(stats.most_reports_running, 3, "the call log and both agent state reports ran at the same time");
    // Five9 refuses a user's concurrent requests: the requests themselves still go one at a time.
    assert_eq!(stats.refused_concurrent, 0);
    // The same data as read one after the other (the simulator's truth for the run's window).
    let window = run.window.unwrap();
    let (truth_stats, truth_segments) = five9_truth(&sim, window, Five9Grouping::Campaign);
    assert_same(&env.intervals(&id).await, &truth_stats, "every interval number equals the truth");
    let agents: Vec<String> = sim.truth_agents().into_iter().map(|a| a.external_id).collect();
    assert_same(&env.segments(&id, &agents).await, &truth_segments, "every segment equals the truth");
}

#[tokio::test]
async fn five9_agent_states_of_yesterday_are_read_again_until_final_then_only_today_s() {
    // Two days back from 01:00 on the 5th: the 3rd's agent states are final (its end is 25 hours past, more than
    // Five9's 3), the 4th's are not (an hour past).
    let at = |t: &str| -> DateTime<Utc> { t.parse().unwrap() };
    let start = at("2024-11-05T01:00:00Z");
    let (env, sim) = five9_env_unlimited(start).await;
    let id = create(&env, &five9_body(&sim, "campaign", 2)).await;
    let agents: Vec<String> = sim.truth_agents().into_iter().map(|a| a.external_id).collect();
    // Each run: its outcome, window, and the starts of its Call Log and Agent State Details reports.
    let run_at = |now: DateTime<Utc>| {
        let (env, sim, id) = (&env, &sim, &id);
        async move {
            sim.set_now(now);
            let seen = sim.stats().report_runs.len();
            let run = env.importer(config(now)).run(&event(id), deadline()).await.unwrap().run.unwrap();
            assert_eq!(run.outcome, RunOutcome::Succeeded, "{run:?}");
            let reports = sim.stats().report_runs[seen..].to_vec();
            let starts = |name: &str| -> Vec<DateTime<Utc>> {
                let mut starts: Vec<_> =
                    reports.iter().filter(|r| r.report == name).map(|r| r.start.unwrap()).collect();
                starts.sort();
                starts
            };
            (run.window.unwrap(), starts("Call Log"), starts("Agent State Details"))
        }
    };
    // (Reports are also cut where the domain's clock changes, 09:00 UTC on the 3rd, and by their expected rows.)
    let (first, _, states) = run_at(start).await;
    assert_eq!(first.start, at("2024-11-03T00:00:00Z"));
    assert_eq!(states.first(), Some(&at("2024-11-02T12:00:00Z")), "the back-fill reads every day's states");

    // 02:45: the 4th's states are read again (not final yet); the 3rd is out of the re-read anyway.
    let (window, calls, states) = run_at(at("2024-11-05T02:45:00Z")).await;
    assert_eq!(
        (window.start, calls, states),
        (at("2024-11-04T00:00:00Z"), vec![window.start], vec![at("2024-11-03T12:00:00Z")])
    );
    // 03:00: read again, now three hours after the 4th's end: final from here on. The states running into the 4th's
    // midnight were carried from the 02:45 run's read (the rows before it were all written by then): the report
    // starts at midnight.
    let (_, _, states) = run_at(at("2024-11-05T03:00:00Z")).await;
    assert_eq!(states, vec![at("2024-11-04T00:00:00Z")]);
    // 03:15: the re-read still covers the 4th's calls, but its agent-state report starts 12 hours before today.
    let (window, calls, states) = run_at(at("2024-11-05T03:15:00Z")).await;
    assert_eq!(window.start, at("2024-11-04T00:00:00Z"));
    assert_eq!((calls, states), (vec![window.start], vec![at("2024-11-04T12:00:00Z")]));

    // Other vendor settings (the domain's zone, named another way): the 4th's states are read again, and become final
    // again.
    let path = format!("/integrations/{id}");
    let patch = json!({"settings": {"time_zone": "US/Pacific"}});
    assert_eq!(env.call("PATCH", &path, Some(&patch)).await.0, 200);
    let (_, _, states) = run_at(at("2024-11-05T03:30:00Z")).await;
    assert_eq!(states, vec![at("2024-11-03T12:00:00Z")], "read again under the new settings");
    let (_, _, states) = run_at(at("2024-11-05T03:45:00Z")).await;
    assert_eq!(states, vec![at("2024-11-04T12:00:00Z")]);
    // That read carried the states running into today's midnight: from here on today's reports start there.
    let (window, _, states) = run_at(at("2024-11-05T04:00:00Z")).await;
    assert_eq!(states, vec![at("2024-11-05T00:00:00Z")]);

    // What is stored is the truth of the whole window as of now, the 4th's agent states included.
    let whole = TimeWindow::new(first.start, window.end).unwrap();
    let (stats, segments) = five9_truth(&sim, whole, Five9Grouping::Campaign);
    assert!(segments.iter().any(|s| s.start < at("2024-11-05T00:00:00Z") && s.start >= at("2024-11-04T00:00:00Z")));
    assert_same(&env.intervals(&id).await, &stats, "every interval equals the truth");
    assert_same(&env.segments(&id, &agents).await, &segments, "every segment equals the truth");
}

/// Sleeps past the next hour of the real clock when it is less than `margin` away (five9-sim's hourly counters reset
/// on the real clock's hours).
async fn clear_of_an_hour_boundary(margin: Duration) {
    let left = Duration::from_secs(3_600 - Utc::now().timestamp().rem_euclid(3_600).unsigned_abs());
    if left < margin {
        tokio::time::sleep(left + Duration::from_secs(1)).await;
    }
}

#[tokio::test]
async fn a_five9_back_fill_is_paced_within_the_hourly_api_budget_and_completed_later() {
    // The simulator's hourly counters reset on the real clock's hours: keep the first two runs inside one hour.
    clear_of_an_hour_boundary(Duration::from_secs(90)).await;
    let logs = LogCapture::install();
    // Nine days back from 2024-11-20 12:00 UTC: eight back-fill days (11–18 November), then the reconciliation re-read
    // (19 and 20). Days are fetched two at a time, three runReport a fetch; 10 per hour with 20 % kept free lets two
    // fetches (four days) through per hour.
    let now: DateTime<Utc> = "2024-11-20T12:00:00Z".parse().unwrap();
    let tight = runs_per_hour(10);
    let (env, sim) = five9_env(Five9SimConfig { now: Some(now), limits: tight, ..Five9SimConfig::default() }).await;
    let id = create(&env, &five9_body(&sim, "campaign", 9)).await;
    let import = env.importer(config(now));

    let first = import.run(&event(&id), deadline()).await.unwrap().run.unwrap();
    assert_eq!((first.outcome, first.counts.days), (RunOutcome::Partial, 4), "{first:?}");
    let window = first.window.unwrap();
    assert_eq!(window.start, "2024-11-11T00:00:00Z".parse::<DateTime<Utc>>().unwrap());
    assert_eq!(first.complete_through, Some("2024-11-15T00:00:00Z".parse().unwrap()));
    let reason = "ReportRequest: 6 of 10 per hour used (the next import days need 3, 2 stay free for other API users)";
    assert_eq!(first.message.as_deref(), Some(format!("paced within the vendor's API budget: {reason}").as_str()));
    assert!(logs.contents().lines().any(|l| l.contains("INFO") && l.contains(reason)), "the pause is logged");
    let stats = sim.stats();
    assert_eq!(stats.rate_limited, 0, "paced before Five9's limit, never refused by it");
    assert_eq!(stats.operations["runReport"], 6);
    let (_, integration) = env.call("GET", &format!("/integrations/{id}"), None).await;
    assert_eq!(integration["status"]["state"], "importing", "{integration}");
    assert_eq!(integration["status"]["reason"], Value::Null);
    let (_, runs) = env.call("GET", &format!("/integrations/{id}/runs?limit=1"), None).await;
    assert_eq!(runs["items"][0]["outcome"], "partial");

    // Within the same hour the next run starts no day and runs no report.
    let second = import.run(&event(&id), deadline()).await.unwrap().run.unwrap();
    assert_eq!((second.outcome, second.counts.days), (RunOutcome::Partial, 0), "{second:?}");
    assert_eq!(second.complete_through, first.complete_through);
    assert_eq!(sim.stats().operations["runReport"], 6);

    // More budget (the next hour, or a higher limit): the pass resumes where it stopped and completes.
    sim.set_limits(Limits { report_request: [100, 1_000, 10_000], retrieve_report: [100, 1_000, 10_000], ..tight });
    let third = import.run(&event(&id), deadline()).await.unwrap().run.unwrap();
    assert_eq!(third.outcome, RunOutcome::Succeeded, "{third:?}");
    assert_eq!(third.window.unwrap().start, "2024-11-15T00:00:00Z".parse::<DateTime<Utc>>().unwrap());
    assert_eq!(third.complete_through, Some(window.end));
    assert_eq!(sim.stats().rate_limited, 0);
    // Six days (15–20 November) in three fetches: 3 + 3 + 2 reports (the last one is 36 hours, whose agent states
    // fit one report); fetched day by day they would have cost 17.
    assert_eq!(sim.stats().operations["runReport"] - 6, 8);

    // The table is what one unpaced run would have written: the truth of the whole window.
    let (stats, segments) = five9_truth(&sim, window, Five9Grouping::Campaign);
    assert!(stats.len() > 100 && segments.len() > 100, "meaningful data: {} / {}", stats.len(), segments.len());
    assert_same(&env.intervals(&id).await, &stats, "paced intervals");
    let agents: Vec<String> = sim.truth_agents().into_iter().map(|a| a.external_id).collect();
    assert_same(&env.segments(&id, &agents).await, &segments, "paced segments");
    let (_, integration) = env.call("GET", &format!("/integrations/{id}"), None).await;
    assert_eq!(integration["status"]["state"], "operational");
}

#[tokio::test]
async fn a_five9_back_fill_whose_two_days_pass_the_hourly_limit_is_fetched_a_day_at_a_time() {
    // The simulator's hourly counters reset on the real clock's hours: keep the runs inside one hour.
    clear_of_an_hour_boundary(Duration::from_secs(90)).await;
    // Two days together cost three runReport (a Call Log and two Agent State reports), one day alone two. With an
    // hourly limit of 3, one kept free, two days never fit (3 + 1 > 3, used or not): waiting for the next hour would
    // not help, run after run. A limit of 2 holds not even one day: no run could import anything until the limit is
    // raised, and the integration says so (failing, `configuration_wrong`, the reason) instead of `importing`.
    let now: DateTime<Utc> = "2024-11-20T12:00:00Z".parse().unwrap();
    let (env, sim) =
        five9_env(Five9SimConfig { now: Some(now), limits: runs_per_hour(2), ..Five9SimConfig::default() }).await;
    // Four back-fill days (15–18 November) before the re-read of the 19th and 20th: the last run's 8 reports stay
    // within the connector's own 12 a minute.
    let id = create(&env, &five9_body(&sim, "campaign", 5)).await;
    let import = env.importer(config(now));

    let first = import.run(&event(&id), deadline()).await.unwrap().run.unwrap();
    assert_eq!((first.outcome, first.counts.days), (RunOutcome::Failed, 0), "{first:?}");
    assert_eq!(first.reason, Some(FailureReason::ConfigurationWrong));
    let message = "2024-11-15 cannot be imported within the vendor's API budget: ReportRequest: the next import days \
                   need 2 of 2 per hour, more than the limit leaves with 1 kept free for other API users; one day is \
                   the smallest fetch, so nothing later is imported until the vendor raises the limit";
    assert_eq!(first.message.as_deref(), Some(message));
    assert_eq!(first.complete_through, None, "nothing claimed");
    assert_eq!(sim.stats().operations.get("runReport"), None, "no report run");
    let (_, integration) = env.call("GET", &format!("/integrations/{id}"), None).await;
    assert_eq!(integration["status"]["state"], "failing", "{integration}");
    assert_eq!(integration["status"]["reason"], "configuration_wrong");
    assert_eq!(integration["status"]["message"], message);
    // The next run checks again and spends no report either.
    let again = import.run(&event(&id), deadline()).await.unwrap().run.unwrap();
    assert_eq!((again.outcome, again.message.as_deref()), (RunOutcome::Failed, Some(message)));
    assert_eq!(sim.stats().operations.get("runReport"), None, "no report run");

    // A limit of 3: the first day alone (2 reports); the second would need 2 + 1 of the 1 left: the next hour's.
    sim.set_limits(runs_per_hour(3));
    let second = import.run(&event(&id), deadline()).await.unwrap().run.unwrap();
    assert_eq!((second.outcome, second.counts.days), (RunOutcome::Partial, 1), "{second:?}");
    assert_eq!(second.complete_through, Some("2024-11-16T00:00:00Z".parse().unwrap()));
    let reason = "ReportRequest: 2 of 3 per hour used (the next import days need 2, 1 stay free for other API users)";
    assert_eq!(second.message.as_deref(), Some(format!("paced within the vendor's API budget: {reason}").as_str()));
    assert_eq!((sim.stats().operations["runReport"], sim.stats().rate_limited), (2, 0));
    let (_, integration) = env.call("GET", &format!("/integrations/{id}"), None).await;
    assert_eq!(integration["status"]["state"], "importing", "{integration}");
    assert_eq!(integration["status"]["reason"], Value::Null);

    // Room again (the next hour, or a higher limit): the pass completes, the table is the truth of the window.
    sim.set_limits(Limits {
        report_request: [100, 1_000, 10_000],
        retrieve_report: [100, 1_000, 10_000],
        ..runs_per_hour(3)
    });
    let third = import.run(&event(&id), deadline()).await.unwrap().run.unwrap();
    assert_eq!(third.outcome, RunOutcome::Succeeded, "{third:?}");
    let window = TimeWindow::new(first.window.unwrap().start, third.window.unwrap().end).unwrap();
    let (stats, segments) = five9_truth(&sim, window, Five9Grouping::Campaign);
    assert_same(&env.intervals(&id).await, &stats, "intervals");
    let agents: Vec<String> = sim.truth_agents().into_iter().map(|a| a.external_id).collect();
    assert_same(&env.segments(&id, &agents).await, &segments, "segments");
}

#[tokio::test]
async fn paused_and_deleted_integrations_are_not_imported() {
    let (env, sim) = five9_env(Five9SimConfig::default()).await;
    let id = create(&env, &five9_body(&sim, "campaign", 1)).await;
    let import = env.importer(config(sim.now()));
    env.call("POST", &format!("/integrations/{id}/pause"), None).await;
    let summary = import.run(&event(&id), deadline()).await.unwrap();
    assert_eq!((summary.outcome, summary.detail.as_str()), (RunOutcome::Skipped, "integration paused"));
    let (status, problem) = env.call("POST", &format!("/integrations/{id}/import"), None).await;
    assert_eq!((status, problem["code"].as_str()), (409, Some("integration-paused")));
    env.call("POST", &format!("/integrations/{id}/resume"), None).await;
    let (status, _) = env.call("POST", &format!("/integrations/{id}/import"), None).await;
    assert_eq!(status, 202);
    assert_eq!(import.run(&event(&id), deadline()).await.unwrap().outcome, RunOutcome::Succeeded);
    assert!(env.queues(&id).await.iter().all(|q| q.active));
    env.call("DELETE", &format!("/integrations/{id}"), None).await;
    assert_eq!(import.run(&event(&id), deadline()).await.unwrap().detail, "integration deleted");
    let queues = env.queues(&id).await;
    assert!(!queues.is_empty() && queues.iter().all(|q| !q.active), "data kept, queues inactive");
}

#[tokio::test]
async fn wrong_credentials_are_refused_at_creation_and_nothing_is_stored() {
    let (env, sim) = five9_env(Five9SimConfig::default()).await;
    let mut body = five9_body(&sim, "campaign", 1);
    body["credentials"]["password"] = "not-the-password".into();
    let (status, problem) = env.call("POST", "/integrations", Some(&body)).await;
    assert_eq!((status, problem["code"].as_str()), (422, Some("credentials-rejected")));
    let (status, problem) = env.call("POST", "/integrations/test-connection", Some(&body)).await;
    assert_eq!((status, problem["code"].as_str()), (422, Some("credentials-rejected")));
    let (status, ok) = env.call("POST", "/integrations/test-connection", Some(&five9_body(&sim, "campaign", 1))).await;
    assert_eq!((status, ok), (200, json!({"ok": true})));
    let (_, list) = env.call("GET", "/integrations", None).await;
    assert_eq!(list["items"], json!([]));
}

async fn genesys_env(sim: &GenesysSimulator) -> Env {
    Env::start(
        Endpoints::default()
            .with_var("GENESYS_CLOUD_API_BASE_URL", sim.base_url())
            .with_var("GENESYS_CLOUD_LOGIN_BASE_URL", sim.base_url()),
    )
    .await
}

fn genesys_body(sim: &GenesysSimulator, history_days: u32) -> Value {
    json!({"name": "Genesys", "type": "genesys_cloud",
           "credentials": {"client_id": sim.client_id(), "client_secret": sim.client_secret()},
           "settings": {"region": "eu_central_1", "detailed_on_queue_statuses": true, "history_days": history_days}})
}

#[tokio::test]
async fn genesys_import_equals_the_simulators_truth() {
    let now: DateTime<Utc> = "2024-05-10T09:07:00Z".parse().unwrap();
    let sim = GenesysSimulator::start(GenesysSimConfig {
        now: Some(now),
        history_days: 5,
        max_page_size: 2,
        ..GenesysSimConfig::default()
    })
    .await
    .unwrap();
    let env = genesys_env(&sim).await;
    let id = create(&env, &genesys_body(&sim, 3)).await;
    let run = env.importer(config(now)).run(&event(&id), deadline()).await.unwrap().run.unwrap();
    assert_eq!(run.outcome, RunOutcome::Succeeded, "{run:?}");
    let window = run.window.unwrap();
    let mut stored: Vec<String> = env.queues(&id).await.into_iter().map(|q| q.external_id).collect();
    stored.sort();
    let mut expected: Vec<String> = sim.expected_queues().into_iter().map(|q| q.external_id).collect();
    expected.sort();
    assert_eq!(stored, expected);
    let (stats, segments) = genesys_truth(&sim, window);
    assert_same(&env.intervals(&id).await, &stats, "intervals");
    let agents: Vec<String> = sim
        .expected_agents(acd_connectors::genesys::GenesysAgentId::Username)
        .into_iter()
        .map(|a| a.external_id)
        .collect();
    assert!(!segments.is_empty());
    assert_same(&env.segments(&id, &agents).await, &segments, "segments");
    let statuses: BTreeMap<String, String> = sim.expected_statuses(true).into_iter().map(|s| (s.id, s.name)).collect();
    let stored: BTreeMap<String, String> = env
        .query(format!("T#{TENANT}#I#{id}"))
        .await
        .into_iter()
        .filter(|i| i["SK"].as_s().unwrap().starts_with("ST#"))
        .map(|i| (i["status_id"].as_s().unwrap().clone(), i["name"].as_s().unwrap().clone()))
        .collect();
    assert_eq!(stored, statuses);
}

/// A queue first listed after the back-fill (a division newly visible to the OAuth client, a queue listed again
/// after more than the re-read): the runs before never read its statistics, so its days before the re-read are not
/// complete zeros — they are unknown. Before, every one of its intervals in the integration's completed range read as
/// complete, and the days no run had read for it as zeros.
#[tokio::test]
async fn a_queue_listed_after_the_back_fill_is_complete_only_from_where_the_data_then_was() {
    let now: DateTime<Utc> = "2024-05-10T09:07:00Z".parse().unwrap();
    let sim = genesys_sim(now, 6).await;
    let env = genesys_env(&sim).await;
    let late = sim.queue_ids()[0].clone();
    assert!(sim.delete_queue(&late), "not visible to the OAuth client yet");
    let id = create(&env, &genesys_body(&sim, 5)).await;
    let first = env.importer(config(now)).run(&event(&id), deadline()).await.unwrap().run.unwrap();
    assert_eq!(first.outcome, RunOutcome::Succeeded, "{first:?}");
    let done = first.complete_through.expect("the back-fill completed");
    assert!(sim.restore_queue(&late));
    let later = now + chrono::Duration::minutes(15);
    sim.set_now(later);
    let second = env.importer(config(later)).run(&event(&id), deadline()).await.unwrap().run.unwrap();
    assert_eq!(second.outcome, RunOutcome::Succeeded, "{second:?}");

    let queries = Queries::of(&env);
    let get = async |path: &str| queries.get(path).await;
    let listed = get(&format!("/queues?integration_id={id}&limit=100")).await;
    let queue_of = |genesys_id: &str| genesys_queue_of(&listed, genesys_id);
    let iso = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    // Four days back: inside the integration's back-fill, before the late queue's re-read.
    let (from, to) = (day_start(now) - chrono::Duration::days(4), day_start(now) - chrono::Duration::days(3));
    let intervals = |queue: String| {
        let path = format!("/queues/{queue}/intervals?from={}&to={}", iso(from), iso(to));
        async move { get(&path).await["items"].as_array().unwrap().clone() }
    };
    let other = sim.queue_ids()[1].clone();
    let known = intervals(queue_of(&other)).await;
    assert!(known.iter().all(|i| i["complete"] == true), "a queue listed from the start: complete");
    let late_items = intervals(queue_of(&late)).await;
    assert_eq!(late_items.len(), 96);
    assert!(late_items.iter().all(|i| i["complete"] == false && i["offered"].is_null()), "{late_items:?}");
    // From where the data was complete when it was first listed, it is complete (read by the second run on).
    let path = format!(
        "/queues/{}/intervals?from={}&to={}",
        queue_of(&late),
        iso(done),
        iso(done + chrono::Duration::minutes(30))
    );
    let recent = get(&path).await["items"].as_array().unwrap().clone();
    let complete: Vec<bool> = recent.iter().map(|i| i["complete"] == true).collect();
    assert_eq!(
        complete,
        [true, false],
        "read by the second run, which completed through {:?}",
        second.complete_through
    );
}

/// The Genesys simulator's truth for a run window: statistics and owned segment pieces day by day.
fn genesys_truth(sim: &GenesysSimulator, window: TimeWindow) -> (Vec<IntervalStats>, Vec<AgentSegment>) {
    let mut stats = Vec::new();
    let mut segments = Vec::new();
    for chunk in day_chunks(window) {
        stats.extend(sim.expected_interval_stats(chunk));
        segments.extend(owned_pieces(
            &sim.expected_segments(chunk, true, acd_connectors::genesys::GenesysAgentId::Username),
            chunk,
        ));
    }
    (sorted_stats(stats), sorted_segments(segments))
}

#[tokio::test]
async fn a_large_integration_is_compared_in_groups_and_written_in_flushes() {
    // More queue partitions than one comparison group (64) and more changed items a day than one flush (1,000),
    // with hour buckets too (≈ 4 intervals an item).
    let now: DateTime<Utc> = "2024-05-10T09:07:00Z".parse().unwrap();
    let config_sim =
        GenesysSimConfig { now: Some(now), history_days: 4, queues: 48, agents: 8, ..GenesysSimConfig::default() };
    let sim = GenesysSimulator::start(config_sim).await.unwrap();
    let env = genesys_env(&sim).await;
    let id = create(&env, &genesys_body(&sim, 3)).await;
    let import = env.importer(config(now));
    let run = import.run(&event(&id), deadline()).await.unwrap().run.unwrap();
    assert_eq!(run.outcome, RunOutcome::Succeeded, "{run:?}");
    let queues = env.queues(&id).await.len() as u64;
    assert!(queues > 64, "{queues} queue partitions");
    assert_eq!(run.window.unwrap().start, "2024-05-07T00:00:00Z".parse::<DateTime<Utc>>().unwrap());
    assert!(run.counts.interval_writes.written > 1_000 * run.counts.days, "{:?}", run.counts);

    // Without the digests the next run compares every partition of every re-read day, 64 at a time, and finds
    // nothing to write but the digests themselves.
    let partition = env.query(format!("T#{TENANT}#I#{id}")).await;
    let digests: Vec<_> = partition.iter().filter(|i| i["SK"].as_s().unwrap().starts_with("DIG#")).collect();
    assert_eq!(digests.len() as u64, 2 * run.counts.days, "one digest per day and kind");
    for digest in digests {
        env.delete(digest["PK"].clone(), digest["SK"].clone()).await;
    }
    let second = import.run(&event(&id), deadline()).await.unwrap().run.unwrap();
    assert_eq!(second.outcome, RunOutcome::Succeeded, "{second:?}");
    let c = &second.counts;
    assert_eq!((c.interval_writes.written, c.interval_writes.deleted), (0, 0), "{c:?}");
    assert_eq!((c.segment_writes.written, c.segment_writes.deleted), (0, 0), "{c:?}");
    assert_eq!(c.interval_writes.write_requests, c.days, "only the digests: {c:?}");
    assert!(c.interval_writes.reads >= c.days * (queues + 1), "every partition read back: {c:?}");
    // Nothing was written, so this also shows the first run's flushed writes were complete.
    let agents: Vec<String> = sim
        .expected_agents(acd_connectors::genesys::GenesysAgentId::Username)
        .into_iter()
        .map(|a| a.external_id)
        .collect();
    let (stats, segments) = genesys_truth(&sim, run.window.unwrap());
    assert_same(&env.intervals(&id).await, &stats, "intervals");
    assert_same(&env.segments(&id, &agents).await, &segments, "segments");
}

/// The table's agent items of an integration: external id → `active` (absent on items written before the flag).
async fn agents_active(env: &Env, id: &str) -> BTreeMap<String, Option<bool>> {
    env.query(format!("T#{TENANT}#I#{id}"))
        .await
        .into_iter()
        .filter(|i| i["SK"].as_s().unwrap().starts_with("A#"))
        .map(|i| (i["external_id"].as_s().unwrap().clone(), i.get("active").map(|a| *a.as_bool().unwrap())))
        .collect()
}

#[tokio::test]
async fn a_collapsed_listing_is_held_until_the_next_listing_confirms_it_and_a_small_removal_applies_at_once() {
    let now: DateTime<Utc> = "2024-05-10T09:07:00Z".parse().unwrap();
    let sim_config = GenesysSimConfig { history_days: 3, queues: 11, ..GenesysSimConfig::default() };
    let (sim, env, id) = genesys_integration_with(now, sim_config).await;
    let import = env.importer(config(now));
    assert_eq!(import.run(&event(&id), deadline()).await.unwrap().outcome, RunOutcome::Succeeded);
    let queues = env.queues(&id).await;
    assert!(queues.len() >= 16 && queues.iter().all(|q| q.active), "{} queues", queues.len());
    let agents: Vec<String> = sim
        .expected_agents(acd_connectors::genesys::GenesysAgentId::Username)
        .into_iter()
        .map(|a| a.external_id)
        .collect();
    assert!(agents_active(&env, &id).await.values().all(|a| *a == Some(true)));
    let stored = env.snapshot(&id, &agents).await;
    let all_active = |qs: &[QueueItem]| qs.iter().all(|q| q.active);

    // One empty queue listing (the credentials check's own one-queue listing goes first): nothing deactivated,
    // nothing read or written for the days, a warning on the run.
    let empty_listing = |target| Fault::once(target, GenesysFault::Empty).after(1);
    sim.add_fault(empty_listing(FaultTarget::Queues));
    let held = import.run(&event(&id), deadline()).await.unwrap().run.unwrap();
    assert_eq!(held.outcome, RunOutcome::Partial, "{held:?}");
    assert_eq!(held.counts.days, 0);
    assert!(held.warnings.iter().any(|w| w.contains("queue listing dropped") && w.contains("stay active")), "{held:?}");
    assert!(all_active(&env.queues(&id).await), "held: still active");
    assert_eq!(env.snapshot(&id, &agents).await, stored, "intervals and segments untouched");
    let (_, runs) = env.call("GET", &format!("/integrations/{id}/runs?limit=1"), None).await;
    assert!(runs["items"][0]["warnings"][0].as_str().unwrap().contains("queue listing dropped"), "{runs}");

    // The next listing is whole again: the collapse is forgotten, the run imports as usual.
    let whole = import.run(&event(&id), deadline()).await.unwrap().run.unwrap();
    assert_eq!(whole.outcome, RunOutcome::Succeeded, "{whole:?}");
    assert!(whole.warnings.iter().any(|w| w.contains("not confirmed")), "{whole:?}");
    assert!(all_active(&env.queues(&id).await));

    // The same for agents: an empty user listing marks no agent inactive.
    sim.add_fault(empty_listing(FaultTarget::Users));
    let held = import.run(&event(&id), deadline()).await.unwrap().run.unwrap();
    assert_eq!(held.outcome, RunOutcome::Partial, "{held:?}");
    assert!(held.warnings.iter().any(|w| w.contains("agent listing dropped")), "{held:?}");
    assert!(agents_active(&env, &id).await.values().all(|a| *a == Some(true)), "held: agents still active");
    assert_eq!(import.run(&event(&id), deadline()).await.unwrap().outcome, RunOutcome::Succeeded);

    // A small genuine removal (one queue of 16 or more) applies at once.
    let removed = sim.queue_ids()[0].clone();
    assert!(sim.delete_queue(&removed));
    let run = import.run(&event(&id), deadline()).await.unwrap().run.unwrap();
    assert_eq!(run.outcome, RunOutcome::Succeeded, "{run:?}");
    assert!(run.warnings.is_empty(), "{run:?}");
    let after = env.queues(&id).await;
    let gone: Vec<&QueueItem> = after.iter().filter(|q| !q.active).collect();
    assert!(!gone.is_empty() && gone.iter().all(|q| q.external_id.starts_with(&removed)), "{gone:?}");
    assert_eq!(after.len(), queues.len(), "inactive, never deleted");

    // A collapse that the next listing confirms: the queues become inactive then, their data stays.
    let intervals = env.intervals(&id).await;
    sim.add_fault(empty_listing(FaultTarget::Queues));
    let first = import.run(&event(&id), deadline()).await.unwrap().run.unwrap();
    assert_eq!(first.outcome, RunOutcome::Partial);
    assert_eq!(env.queues(&id).await.iter().filter(|q| q.active).count(), after.len() - gone.len());
    sim.add_fault(empty_listing(FaultTarget::Queues));
    let second = import.run(&event(&id), deadline()).await.unwrap().run.unwrap();
    assert!(second.warnings.iter().any(|w| w.contains("confirmed")), "{second:?}");
    assert!(env.queues(&id).await.iter().all(|q| !q.active), "confirmed by a second listing");
    let kept = env.intervals(&id).await;
    assert!(!kept.is_empty(), "data stays");
    assert!(intervals.iter().all(|s| kept.contains(s)), "no stored interval removed by the listings");
}

/// A Genesys Cloud simulator at `now` with `history_days` of data and no rate limit.
/// A queue that leaves the listing and comes back: after more than the re-read window, the days it was not listed
/// were never read for it, so they are not complete zeros — it is complete only from the re-read of the run that
/// lists it again. Until 2026-12-07 it kept its old completeness and those days read as complete zeros. A queue
/// gone for less than the re-read keeps its history complete (the re-read reads it again). While a queue is gone,
/// and after it is listed again until the days the run reads for it are written, it is complete only as far as it
/// was read (its `listed_through`): until 2026-12-07 (later) a gone queue's days read as complete zeros as the
/// integration's moved on, and so did the re-read's days of a queue listed again from the listing on, before they
/// were written (for good when that run then failed).
#[tokio::test]
async fn a_queue_listed_again_after_the_re_read_window_is_not_complete_for_the_days_it_was_gone() {
    let now: DateTime<Utc> = "2024-05-10T09:07:00Z".parse().unwrap();
    let sim = genesys_sim(now, 12).await;
    let env = genesys_env(&sim).await;
    let ids = sim.queue_ids();
    let (gone, blip, stays) = (ids[0].clone(), ids[1].clone(), ids[2].clone());
    let id = create(&env, &genesys_body(&sim, 5)).await;
    let attempt = async |at: DateTime<Utc>| {
        sim.set_now(at);
        env.importer(config(at)).run(&event(&id), deadline()).await.unwrap().run.unwrap()
    };
    let run = async |at: DateTime<Utc>| {
        let run = attempt(at).await;
        assert_eq!(run.outcome, RunOutcome::Succeeded, "{run:?}");
        run
    };
    let queries = Queries::of(&env);
    let get = async |path: &str| queries.get(path).await;
    let iso = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let between = async |genesys_id: &str, from: DateTime<Utc>, to: DateTime<Utc>| -> Vec<Value> {
        let listed = get(&format!("/queues?integration_id={id}&limit=100&include_inactive=true")).await;
        let queue = genesys_queue_of(&listed, genesys_id);
        let path = format!("/queues/{queue}/intervals?from={}&to={}", iso(from), iso(to));
        get(&path).await["items"].as_array().unwrap().iter().map(|i| i["complete"].clone()).collect()
    };
    let complete = async |genesys_id: &str, from: DateTime<Utc>, hours: i64| -> Vec<Value> {
        between(genesys_id, from, from + chrono::Duration::hours(hours)).await
    };
    let all = |values: &[Value], expected: bool| values.iter().all(|c| *c == expected);
    run(now).await;
    // `gone` leaves for three days; `blip` leaves for one run at the end of them.
    assert!(sim.delete_queue(&gone));
    run(now + chrono::Duration::minutes(15)).await;
    // Runs go on without it until what they read again has moved past the days it was gone.
    for days in [3, 4] {
        run(now + chrono::Duration::days(days)).await;
    }
    let later = now + chrono::Duration::days(5);
    let before_blip = run(later).await.complete_through.expect("complete");
    assert!(sim.delete_queue(&blip));
    let without_blip = run(later + chrono::Duration::minutes(15)).await.complete_through.expect("complete");
    assert!(without_blip > before_blip, "the integration's data moved on");
    let away = day_start(now) + chrono::Duration::days(1);
    // While gone, a queue is complete only as far as it was read; the others as far as the integration.
    assert!(all(&complete(&gone, away, 24).await, false), "a day `gone` was away, while away");
    assert!(all(&between(&blip, before_blip, without_blip).await, false), "after `blip` left");
    assert!(all(&between(&stays, before_blip, without_blip).await, true), "a queue still listed");

    // Listed again by a run that then fails on the statistics: nothing more is claimed for either.
    assert!(sim.restore_queue(&gone) && sim.restore_queue(&blip));
    // (The run's credentials check asks for aggregates once first.)
    sim.add_fault(Fault::always(FaultTarget::Aggregates, GenesysFault::ServerError { status: 500 }).after(1));
    let failed = attempt(later + chrono::Duration::minutes(30)).await;
    assert_ne!(failed.outcome, RunOutcome::Succeeded, "{failed:?}");
    assert!(failed.counts.queues > 0, "failed after its listing: {failed:?}");
    sim.clear_faults();
    assert!(all(&complete(&gone, without_blip - chrono::Duration::hours(20), 20).await, false), "re-read, unwritten");
    assert!(all(&between(&blip, before_blip, without_blip).await, false), "`blip` listed, unwritten");

    let back = run(later + chrono::Duration::minutes(45)).await;
    let done = back.complete_through.expect("complete");
    assert!(back.window.unwrap().start >= away + chrono::Duration::days(1), "the last run does not read {away} again");
    // A day `gone` was away, older than the last run's re-read: not read for it, so not complete.
    assert!(all(&complete(&gone, away, 24).await, false), "the days it was gone");
    // Its hours that the last run read again are complete.
    assert!(all(&complete(&gone, done - chrono::Duration::hours(6), 6).await, true));
    // `blip` left within the re-read: its history stays complete, the day before it left and its absence included.
    assert!(all(&complete(&blip, away, 24).await, true), "a short absence keeps its history");
    assert!(all(&complete(&blip, day_start(now) - chrono::Duration::days(3), 24).await, true));
    assert!(all(&between(&blip, before_blip, without_blip).await, true), "read again");
    let items = env.queues(&id).await;
    assert!(items.iter().all(|q| q.listed_through.is_none()), "read as far as the integration: {items:?}");
}

/// A queue that left the listing before its `listed_through` was kept (an item from before 2026-12-07) is taken as
/// gone before any re-read when it is listed again: its `last_seen` is a wall-clock time, which during a back-fill
/// lies days past the data read, and taken as how far it was read it would claim the days read without it.
#[tokio::test]
async fn a_queue_listed_again_without_a_listed_through_is_complete_only_from_the_re_read() {
    use acd_app::ports::{ImportStore as _, IntegrationRepo as _};
    let now: DateTime<Utc> = "2024-05-10T09:07:00Z".parse().unwrap();
    let sim = genesys_sim(now, 3).await;
    let env = genesys_env(&sim).await;
    let id = create(&env, &genesys_body(&sim, 2)).await;
    let run = env.importer(config(now)).run(&event(&id), deadline()).await.unwrap().run.unwrap();
    let done = run.complete_through.expect("complete");
    // Left before listed_through existed: inactive, no listed_through, last_seen now.
    let queue = env.queues(&id).await.into_iter().next().unwrap();
    env.stack
        .clients
        .dynamodb()
        .update_item()
        .table_name(&env.stack.settings.table_name)
        .key("PK", AttributeValue::S(queue.pk.clone()))
        .key("SK", AttributeValue::S(queue.sk.clone()))
        .update_expression("SET active = :f REMOVE listed_through, complete_from")
        .expression_attribute_values(":f", AttributeValue::Bool(false))
        .send()
        .await
        .unwrap();
    let tenant = TenantId::parse(TENANT).unwrap();
    let repo = wiring::dynamo_store(&env.stack.settings, &env.stack.clients);
    let integration = repo.get(&tenant, id.parse().unwrap()).await.unwrap().unwrap();
    let store = wiring::import_store(&env.stack.settings, &env.stack.clients);
    let listed =
        vec![Queue { external_id: queue.external_id.clone(), name: queue.name.clone(), channel: queue.channel }];
    let reread = done - chrono::Duration::hours(20);
    let once_seen = std::collections::HashSet::new();
    store.sync_queues(&integration, &listed, &once_seen, now, false, Some(done), Some(reread)).await.unwrap();
    let back = env.queues(&id).await.into_iter().find(|q| q.external_id == queue.external_id).unwrap();
    assert!(back.active);
    assert_eq!(back.complete_from, Some(reread), "complete only from the re-read");
    assert_eq!(back.listed_through, Some(reread), "nothing read yet: complete through its start only");
}

/// A queue whose name would make its listing sort key (`{lower name}#{queue id}`) pass DynamoDB's 1,024 bytes — a
/// Five9 campaign of 160 CJK characters, whose name is its external id too — is stored with its name cut in the key,
/// and found by a text filter on a part of the name past the cut. Until 2026-12-07 DynamoDB refused its writes, and
/// every run with it failed.
#[tokio::test]
async fn a_queue_whose_name_passes_the_sort_key_limit_is_stored_and_found() {
    use acd_app::ports::{ImportStore as _, IntegrationRepo as _};
    let now: DateTime<Utc> = "2024-05-10T09:07:00Z".parse().unwrap();
    let sim = genesys_sim(now, 1).await;
    let env = genesys_env(&sim).await;
    let id = create(&env, &genesys_body(&sim, 1)).await;
    let tenant = TenantId::parse(TENANT).unwrap();
    let repo = wiring::dynamo_store(&env.stack.settings, &env.stack.clients);
    let integration = repo.get(&tenant, id.parse().unwrap()).await.unwrap().unwrap();
    let store = wiring::import_store(&env.stack.settings, &env.stack.clients);
    let name = format!("{}サポート", "販売".repeat(80));
    let long = Queue { external_id: name.clone(), name: name.clone(), channel: acd_domain::Channel::Calls };
    let once_seen = std::collections::HashSet::new();
    store.sync_queues(&integration, &[long], &once_seen, now, false, None, None).await.unwrap();
    let queries = Queries::of(&env);
    let found = queries.get(&format!("/queues?integration_id={id}&q=サポート")).await;
    let names: Vec<&str> = found["items"].as_array().unwrap().iter().map(|q| q["name"].as_str().unwrap()).collect();
    assert_eq!(names, [name.as_str()], "found by the end of its name, whole");
}

/// The queries API of an import test's stack, its answers checked against the OpenAPI spec.
struct Queries(acd_app::http::queries::QueriesApi);

impl Queries {
    fn of(env: &Env) -> Self {
        let auth = acd_app::http::TenantAuth::JwtClaim("tenant_id".into());
        Self(acd_aws::wiring::queues_query_api(&env.stack.settings, &env.stack.clients, auth))
    }

    /// `GET path` as the test tenant: 200, its body.
    async fn get(&self, path: &str) -> Value {
        let (status, content_type, body) = decode(self.0.handle(api_request("GET", path, Some(TENANT), None)).await);
        openapi::spec().check("GET", path, status, &content_type, &body);
        assert_eq!(status, 200, "{path}: {body}");
        body
    }
}

/// The id of a WFM queue (one channel) of a Genesys queue in a `GET /queues` answer.
fn genesys_queue_of(listed: &Value, genesys_id: &str) -> String {
    let items = listed["items"].as_array().unwrap();
    let item = items.iter().find(|q| q["external_id"].as_str().unwrap().starts_with(&format!("{genesys_id}:")));
    item.unwrap_or_else(|| panic!("{genesys_id} listed: {listed}"))["id"].as_str().unwrap().to_owned()
}

async fn genesys_sim(now: DateTime<Utc>, history_days: u32) -> GenesysSimulator {
    GenesysSimulator::start(GenesysSimConfig {
        now: Some(now),
        history_days,
        rate_limit_per_minute: None,
        ..GenesysSimConfig::default()
    })
    .await
    .unwrap()
}

/// A Genesys Cloud simulator at `now` with `history_days` of data, and an integration of it back-filling one day.
async fn genesys_integration(now: DateTime<Utc>, history_days: u32) -> (GenesysSimulator, Env, String) {
    genesys_integration_with(now, GenesysSimConfig { history_days, ..GenesysSimConfig::default() }).await
}

/// [`genesys_integration`] with the simulator's `config` (its clock set to `now`, no rate limit).
async fn genesys_integration_with(now: DateTime<Utc>, config: GenesysSimConfig) -> (GenesysSimulator, Env, String) {
    let config = GenesysSimConfig { now: Some(now), rate_limit_per_minute: None, ..config };
    let sim = GenesysSimulator::start(config).await.unwrap();
    let env = genesys_env(&sim).await;
    let id = create(&env, &genesys_body(&sim, 1)).await;
    (sim, env, id)
}

/// An import for 10-second runs: 1 s of safety margin, 2 s of bookkeeping reserve, writes estimated at `per_item`.
fn tight_config(now: DateTime<Utc>, per_item: Duration) -> ImportConfig {
    ImportConfig {
        safety_margin: Duration::from_secs(1),
        record_reserve: Duration::from_secs(2),
        write_time_per_item: per_item,
        ..config(now)
    }
}

#[tokio::test]
async fn a_fetch_that_returns_late_ends_the_run_partial_with_its_record_and_the_lease_released() {
    let now: DateTime<Utc> = "2024-05-10T09:07:00Z".parse().unwrap();
    let (sim, env, id) = genesys_integration(now, 3).await;
    // The statistics answer after 3 s of a 10 s run: the day's writes (hundreds of items at 50 ms each, as this
    // test states the pace) and the 2 s bookkeeping reserve no longer fit in what is left.
    sim.add_fault(Fault::once(FaultTarget::Aggregates, GenesysFault::Delay { ms: 3_000 }).after(1));
    let tight = tight_config(now, Duration::from_millis(50));
    let limit = Duration::from_secs(10);
    let started = std::time::Instant::now();
    let run = env.importer(tight).run(&event(&id), Deadline::after(limit)).await.unwrap().run.unwrap();
    assert!(started.elapsed() < limit, "the run ended before its deadline: {:?}", started.elapsed());
    assert_eq!(run.outcome, RunOutcome::Partial, "{run:?}");
    assert_eq!(run.counts.days, 0, "no day written after the late answer: {run:?}");
    assert!(run.message.as_deref().is_some_and(|m| m.starts_with("stopped before writing")), "{run:?}");
    assert!(env.intervals(&id).await.is_empty());
    let (_, runs) = env.call("GET", &format!("/integrations/{id}/runs"), None).await;
    assert_eq!(runs["items"][0]["outcome"], "partial", "the run is recorded");
    let (_, integration) = env.call("GET", &format!("/integrations/{id}"), None).await;
    assert_eq!(integration["status"]["state"], "importing");

    // The lease was released: the next run starts at once and completes the window.
    let next = env.importer(config(now)).run(&event(&id), deadline()).await.unwrap().run.unwrap();
    assert_eq!(next.outcome, RunOutcome::Succeeded, "{next:?}");
    assert_same(&env.intervals(&id).await, &genesys_truth(&sim, next.window.unwrap()).0, "intervals");
}

#[tokio::test]
async fn a_day_whose_writes_never_fit_after_its_fetch_is_written_by_the_next_run_that_fetches_it() {
    // Every day's writes are estimated far above what a run has (1 s an item, a 10 s run): each run would fetch the
    // day and put it off, run after run. A day put off once is written by the next run that fetches it.
    let now: DateTime<Utc> = "2024-05-10T09:07:00Z".parse().unwrap();
    let (sim, env, id) = genesys_integration(now, 2).await;
    let import = env.importer(tight_config(now, Duration::from_secs(1)));
    let mut runs = Vec::new();
    while runs.len() < 8 {
        let run = import.run(&event(&id), Deadline::after(Duration::from_secs(10))).await.unwrap().run.unwrap();
        let done = run.outcome == RunOutcome::Succeeded;
        runs.push(run);
        if done {
            break;
        }
    }
    let last = runs.last().unwrap();
    assert_eq!(last.outcome, RunOutcome::Succeeded, "{runs:#?}");
    // Each day: one run puts it off, the next writes it (and puts off the day after it).
    let days: Vec<u64> = runs.iter().map(|r| r.counts.days).collect();
    assert_eq!(days[0], 0, "{runs:#?}");
    assert!(days[1..].iter().all(|d| *d == 1), "every later run writes a day: {days:?}");
    assert!(runs[0].message.as_deref().is_some_and(|m| m.starts_with("stopped before writing")), "{runs:#?}");
    assert!(runs[1..].iter().all(|r| r.warnings.iter().any(|w| w.ends_with("written anyway"))), "{runs:#?}");
    let window = TimeWindow::new(runs[0].window.unwrap().start, last.window.unwrap().end).unwrap();
    assert_same(&env.intervals(&id).await, &genesys_truth(&sim, window).0, "intervals");
    let state = env.query(format!("T#{TENANT}#I#{id}")).await;
    let state = state.iter().find(|i| i["SK"].as_s().unwrap() == "STATE").unwrap();
    assert!(!state.contains_key("write_put_off"), "cleared once written: {state:?}");
}

#[tokio::test]
async fn a_days_write_estimate_counts_the_items_its_writes_put_not_its_intervals_and_segments() {
    // The per-item estimate is set so that the first day's intervals and segments, one by one, need 8 s of a 10 s run
    // (2 s more are kept for the bookkeeping): counted so, the day never fits after its fetch. With hour buckets (the
    // default) its writes put one item per queue-hour and agent-hour, a fraction of that: the first run writes it.
    let now: DateTime<Utc> = "2024-05-10T09:07:00Z".parse().unwrap();
    let (sim, env, id) = genesys_integration(now, 1).await;
    let first_day = TimeWindow::new(day_start(now) - chrono::Duration::days(1), day_start(now)).unwrap();
    let (stats, segments) = genesys_truth(&sim, first_day);
    let entries = stats.len() + segments.len();
    assert!(stats.len() > 50 && segments.len() > 50, "meaningful data: {} / {}", stats.len(), segments.len());
    let per_item = Duration::from_secs_f64(8.0 / entries as f64);
    let run = env
        .importer(tight_config(now, per_item))
        .run(&event(&id), Deadline::after(Duration::from_secs(10)))
        .await
        .unwrap()
        .run
        .unwrap();
    if env.stack.settings.hour_buckets {
        assert!(run.counts.days >= 1, "the first day was written: {run:?}");
        assert!(run.complete_through >= Some(first_day.end), "{run:?}");
        let written: Vec<IntervalStats> =
            env.intervals(&id).await.into_iter().filter(|s| first_day.contains(s.interval_start)).collect();
        assert_same(&written, &stats, "the first day's intervals");
    } else {
        // Single items: the estimate is right, the day is put off.
        assert_eq!(run.counts.days, 0, "{run:?}");
        let message = run.message.as_deref().unwrap_or_default();
        assert!(message.starts_with("stopped before writing 2024-05-09"), "{run:?}");
    }
}

#[tokio::test]
async fn what_a_paused_five9_run_learned_of_the_domain_is_kept_for_the_next_run() {
    // The run fetches its first two days (a Call Log and the Agent State reports) and then puts their writes off
    // (1 s an item in a 10 s run): no day is written, but the reports taught the domain's rows per hour and the
    // states running into the 2nd's midnight (read with the look-back). They are kept (the connector's cursor item),
    // so the next run, which reads from that midnight again, cuts its reports by what was learned instead of by the
    // average, and starts them at the midnight instead of 12 hours before it.
    let now: DateTime<Utc> = "2024-11-04T12:00:00Z".parse().unwrap();
    let (env, sim) = five9_env_unlimited(now).await;
    let id = create(&env, &five9_body(&sim, "campaign", 2)).await;
    let paused = env
        .importer(tight_config(now, Duration::from_secs(1)))
        .run(&event(&id), Deadline::after(Duration::from_secs(10)))
        .await
        .unwrap()
        .run
        .unwrap();
    assert_eq!((paused.outcome, paused.counts.days), (RunOutcome::Partial, 0), "{paused:?}");
    assert!(paused.message.as_deref().is_some_and(|m| m.starts_with("stopped before writing")), "{paused:?}");
    assert!(sim.stats().operations["runReport"] >= 2, "the fetch ran its reports");
    let partition = env.query(format!("T#{TENANT}#I#{id}")).await;
    let cursor_item = partition.iter().find(|i| i["SK"].as_s().unwrap() == "CURSOR").expect("the cursor is kept");
    let (cursor, _) = acd_aws::cursor::read_cursor(cursor_item).unwrap();
    assert_eq!(cursor["density"]["state_rows_per_hour"].as_object().map(|h| h.len()), Some(24), "{cursor}");
    assert_eq!(cursor["carried"]["at"], "2024-11-02T00:00:00Z");
    assert!(env.intervals(&id).await.is_empty(), "no day claimed");

    // The next run goes on from the same day and completes the window: the table is the truth. Its Agent State
    // reports start at the 2nd's midnight, the paused run's (without its cursor) 12 hours before it.
    let earliest_state_report = |from: usize| {
        let runs = sim.stats().report_runs;
        runs[from..].iter().filter(|r| r.report.starts_with("Agent State Details")).filter_map(|r| r.start).min()
    };
    assert_eq!(earliest_state_report(0), Some("2024-11-01T12:00:00Z".parse().unwrap()));
    let reports_before = sim.stats().report_runs.len();
    let next = env.importer(config(now)).run(&event(&id), deadline()).await.unwrap().run.unwrap();
    assert_eq!(next.outcome, RunOutcome::Succeeded, "{next:?}");
    assert_eq!(earliest_state_report(reports_before), Some("2024-11-02T00:00:00Z".parse().unwrap()));
    let window = TimeWindow::new(paused.window.unwrap().start, next.window.unwrap().end).unwrap();
    let (stats, segments) = five9_truth(&sim, window, Five9Grouping::Campaign);
    assert_same(&env.intervals(&id).await, &stats, "intervals");
    let agents: Vec<String> = sim.truth_agents().into_iter().map(|a| a.external_id).collect();
    assert_same(&env.segments(&id, &agents).await, &segments, "segments");
}

#[tokio::test]
async fn what_a_five9_run_learned_is_kept_when_a_later_fetch_fails() {
    // Five9 fails every report after the back-fill's first fetch (the 18th and 19th: a Call Log and two Agent State
    // reports), with a `ServerFault`, retried, then the run fails `vendor_unavailable`: what that fetch's reports
    // taught (the rows per hour of the days read, agent states and calls) is kept all the same, so the next run does
    // not plan a large domain's fetch by the average again.
    let now: DateTime<Utc> = "2024-11-20T12:00:00Z".parse().unwrap();
    let (env, sim) = five9_env(Five9SimConfig { now: Some(now), ..Five9SimConfig::default() }).await;
    let id = create(&env, &five9_body(&sim, "campaign", 2)).await;
    sim.push_fault(FaultRule::new(FaultKind::ServerFault).on("runReport").after(3));
    let run = env.importer(config(now)).run(&event(&id), deadline()).await.unwrap().run.unwrap();
    assert_eq!((run.outcome, run.reason), (RunOutcome::Failed, Some(FailureReason::VendorUnavailable)), "{run:?}");
    assert_eq!(run.counts.days, 2, "{run:?}");
    let partition = env.query(format!("T#{TENANT}#I#{id}")).await;
    let cursor_item = partition.iter().find(|i| i["SK"].as_s().unwrap() == "CURSOR").expect("the cursor is kept");
    let (cursor, _) = acd_aws::cursor::read_cursor(cursor_item).unwrap();
    assert_eq!(cursor["density"]["state_rows_per_hour"].as_object().map(|h| h.len()), Some(24), "{cursor}");
    // The Call Log's rows per hour too (how a busy domain's Call Log is cut).
    assert_eq!(cursor["calls"]["state_rows_per_hour"].as_object().map(|h| h.len()), Some(24), "{cursor}");
}

#[tokio::test]
async fn a_five9_back_fill_s_re_read_waits_for_the_hourly_budget_until_the_integration_has_caught_up() {
    // The simulator's hourly counters reset on the real clock's hours: keep the runs inside one hour.
    clear_of_an_hour_boundary(Duration::from_secs(90)).await;
    // Four runReport an hour, one kept free. The back-fill's reports leave too little for the re-read of the last
    // 24 hours that follows it in the same run. Until the integration has caught up once, that re-read is paced like
    // the back-fill: the run ends `partial` with the reason and Five9 refuses nothing (until 2026-12-05 the re-read
    // was never paced: a large domain's first run used the hour's budget on its back-fill and failed `rate_limited`
    // at the re-read). Once caught up, the re-read is the integration's steady cost and is not held back by the
    // reserve: a run that Five9 then refuses fails `rate_limited`, visibly.
    let now: DateTime<Utc> = "2024-11-20T12:00:00Z".parse().unwrap();
    let (env, sim) =
        five9_env(Five9SimConfig { now: Some(now), limits: runs_per_hour(4), ..Five9SimConfig::default() }).await;
    let id = create(&env, &five9_body(&sim, "campaign", 2)).await;
    let import = env.importer(config(now));
    let first = import.run(&event(&id), deadline()).await.unwrap().run.unwrap();
    assert_eq!(first.outcome, RunOutcome::Partial, "{first:?}");
    assert_eq!(first.complete_through, Some("2024-11-20T00:00:00Z".parse().unwrap()), "the back-fill's days written");
    let message = first.message.clone().unwrap_or_default();
    assert!(message.starts_with("paced within the vendor's API budget: ReportRequest: "), "{message}");
    assert_eq!(sim.stats().rate_limited, 0, "Five9 refused nothing");
    let (_, integration) = env.call("GET", &format!("/integrations/{id}"), None).await;
    assert_eq!(integration["status"]["state"], "importing", "{integration}");

    // Room again (the next hour, or a higher limit): the re-read is read, the integration has caught up.
    sim.set_limits(runs_per_hour(1_000));
    let second = import.run(&event(&id), deadline()).await.unwrap().run.unwrap();
    assert_eq!(second.outcome, RunOutcome::Succeeded, "{second:?}");
    let window = TimeWindow::new(first.window.unwrap().start, second.window.unwrap().end).unwrap();
    let (stats, segments) = five9_truth(&sim, window, Five9Grouping::Campaign);
    assert_same(&env.intervals(&id).await, &stats, "intervals");
    let agents: Vec<String> = sim.truth_agents().into_iter().map(|a| a.external_id).collect();
    assert_same(&env.segments(&id, &agents).await, &segments, "segments");

    // Caught up: one runReport left this hour, none above the reserve. The re-read is not held back (a paced run
    // would end `partial`): its first report runs, the next is refused, and the run fails `rate_limited`.
    let used = sim.stats().operations["runReport"];
    sim.set_limits(runs_per_hour(used + 1));
    let third = import.run(&event(&id), deadline()).await.unwrap().run.unwrap();
    assert_eq!((third.outcome, third.reason), (RunOutcome::Failed, Some(FailureReason::RateLimited)), "{third:?}");
    assert_eq!((sim.stats().operations["runReport"], sim.stats().rate_limited), (used + 2, 1));

    // Caught up at 23:30, then a quarter hour skipped before midnight (runs at 23:44 and 00:01, as the scheduler's
    // flexible window may place them): the re-read starts a quarter hour earlier, on the day before yesterday
    // (`plan::reread_start`). A caught-up integration's re-read all the same: not paced, refused visibly (that start's
    // first version paced that day: `partial`, nothing written, run after run while the budget stayed low).
    sim.set_limits(runs_per_hour(1_000));
    let late: DateTime<Utc> = "2024-11-20T23:44:00Z".parse().unwrap();
    sim.set_now(late);
    let fourth = env.importer(config(late)).run(&event(&id), deadline()).await.unwrap().run.unwrap();
    assert_eq!(fourth.outcome, RunOutcome::Succeeded, "{fourth:?}");
    let after_midnight: DateTime<Utc> = "2024-11-21T00:01:00Z".parse().unwrap();
    sim.set_now(after_midnight);
    sim.set_limits(runs_per_hour(sim.stats().operations["runReport"]));
    let fifth = env.importer(config(after_midnight)).run(&event(&id), deadline()).await.unwrap().run.unwrap();
    assert_eq!(fifth.window.unwrap().start, "2024-11-19T00:00:00Z".parse::<DateTime<Utc>>().unwrap(), "{fifth:?}");
    assert_eq!((fifth.outcome, fifth.reason), (RunOutcome::Failed, Some(FailureReason::RateLimited)), "{fifth:?}");
}

/// A Five9 simulator, the API over it with a stand-in credentials check (so the admin can enter credentials the ACD
/// rejects), and a campaign integration created through it: (simulator, environment, integration id).
async fn five9_with_stand_in_check() -> (Five9Simulator, Env, String) {
    let sim = Five9Simulator::start(Five9SimConfig::default()).await.unwrap();
    let endpoints = Endpoints::default().with_var("FIVE9_BASE_URL", sim.base_url());
    let env = Env::start_with(endpoints, Arc::new(FakeAcd)).await;
    let id = create(&env, &five9_body(&sim, "campaign", 1)).await;
    (sim, env, id)
}

#[tokio::test]
async fn credentials_patched_while_a_container_is_warm_are_used_by_the_next_run() {
    // The API's check is a stand-in here, so the admin can enter credentials the ACD (the simulator) rejects: the
    // next run must use them — and fail — instead of the old ones still cached in the warm container.
    let (sim, env, id) = five9_with_stand_in_check().await;
    let import = env.importer(config(sim.now()));
    assert_eq!(import.run(&event(&id), deadline()).await.unwrap().outcome, RunOutcome::Succeeded);

    let patch = |password: String| json!({"credentials": {"username": sim.username(), "password": password}});
    let (status, _) =
        env.call("PATCH", &format!("/integrations/{id}"), Some(&patch("changed by the admin".into()))).await;
    assert_eq!(status, 200);
    let requests = sim.stats().requests;
    let run = import.run(&event(&id), deadline()).await.unwrap().run.unwrap();
    assert_eq!(run.outcome, RunOutcome::Failed, "the new credentials were used: {run:?}");
    assert_eq!(run.reason.map(|r| r.as_str()), Some("credentials_rejected"));
    // The secret's current version is the rejected one itself: not sent to the ACD a second time.
    assert_eq!(sim.stats().requests - requests, 1, "one refused request");

    let (status, _) = env.call("PATCH", &format!("/integrations/{id}"), Some(&patch(sim.password()))).await;
    assert_eq!(status, 200);
    assert_eq!(import.run(&event(&id), deadline()).await.unwrap().outcome, RunOutcome::Succeeded);
}

#[tokio::test]
async fn the_import_reads_the_secret_version_its_record_names_and_the_current_one_only_after_a_rejection() {
    // The API writes new credentials as a new version of the secret, then names it on the record; the record's
    // conditional update decides which credentials are in force. A version written and never named (a PATCH whose
    // record update lost to another, or failed) must not be used while the record's credentials work.
    let (sim, env, id) = five9_with_stand_in_check().await;
    let secrets = env.stack.clients.secrets();
    let name = env.secret_name(&id);
    let document =
        |password: &str| json!({"type": "five9", "username": sim.username(), "password": password}).to_string();

    // A newer version that the record does not name, with credentials the ACD rejects: not used, by a warm
    // container or a cold one.
    let warm = env.importer(config(sim.now()));
    assert_eq!(warm.run(&event(&id), deadline()).await.unwrap().outcome, RunOutcome::Succeeded);
    secrets.put_secret_value().secret_id(&name).secret_string(document("never named")).send().await.unwrap();
    for import in [&warm, &env.importer(config(sim.now()))] {
        let run = import.run(&event(&id), deadline()).await.unwrap().run.unwrap();
        assert_eq!(run.outcome, RunOutcome::Succeeded, "the record's version was used: {run:?}");
    }

    // The record names rejected credentials (the API's check is a stand-in here) and the current version, written
    // in Secrets Manager directly, holds working ones: after the rejection the current version is tried, once.
    let patch = json!({"credentials": {"username": sim.username(), "password": "rejected by the ACD"}});
    assert_eq!(env.call("PATCH", &format!("/integrations/{id}"), Some(&patch)).await.0, 200);
    let run = warm.run(&event(&id), deadline()).await.unwrap().run.unwrap();
    assert_eq!(run.reason.map(|r| r.as_str()), Some("credentials_rejected"), "the patched version was used: {run:?}");
    secrets.put_secret_value().secret_id(&name).secret_string(document(&sim.password())).send().await.unwrap();
    let run = warm.run(&event(&id), deadline()).await.unwrap().run.unwrap();
    assert_eq!(run.outcome, RunOutcome::Succeeded, "the current version after the rejection: {run:?}");
    // Kept once they worked: the container uses them again although the current version is now rejected too, where
    // a cold container has nothing that works.
    secrets.put_secret_value().secret_id(&name).secret_string(document("stale again")).send().await.unwrap();
    let run = warm.run(&event(&id), deadline()).await.unwrap().run.unwrap();
    assert_eq!(run.outcome, RunOutcome::Succeeded, "the credentials that worked: {run:?}");
    let run = env.importer(config(sim.now())).run(&event(&id), deadline()).await.unwrap().run.unwrap();
    assert_eq!(run.reason.map(|r| r.as_str()), Some("credentials_rejected"), "{run:?}");

    // A version the record names that is gone (Secrets Manager removes old unlabelled ones): the current one.
    env.set_record_secret_version(&id, "0190c3e2-6b7d-7cc0-9f4e-000000000000").await;
    secrets.put_secret_value().secret_id(&name).secret_string(document(&sim.password())).send().await.unwrap();
    let run = env.importer(config(sim.now())).run(&event(&id), deadline()).await.unwrap().run.unwrap();
    assert_eq!(run.outcome, RunOutcome::Succeeded, "the current version for a version that is gone: {run:?}");
}

#[tokio::test]
async fn after_a_rejection_the_import_never_falls_back_to_a_refused_patch_s_credentials() {
    // The record names credentials the ACD rejects (the API's check is a stand-in here). A PATCH with working ones
    // is refused for its name (409) after it wrote them: they are not the secret's current version, so the
    // import's fallback after the rejection does not find them — the admin was told they were not taken.
    let (sim, env, id) = five9_with_stand_in_check().await;
    let rejected = json!({"credentials": {"username": sim.username(), "password": "rejected by the ACD"}});
    assert_eq!(env.call("PATCH", &format!("/integrations/{id}"), Some(&rejected)).await.0, 200);
    let mut other = five9_body(&sim, "campaign", 1);
    other["name"] = "Taken".into();
    create(&env, &other).await;
    let working = json!({"name": "Taken", "credentials": {"username": sim.username(), "password": sim.password()}});
    let (status, problem) = env.call("PATCH", &format!("/integrations/{id}"), Some(&working)).await;
    assert_eq!(status, 409, "{problem}");
    let import = env.importer(config(sim.now()));
    let run = import.run(&event(&id), deadline()).await.unwrap().run.unwrap();
    assert_eq!(run.reason.map(|r| r.as_str()), Some("credentials_rejected"), "the refused PATCH's: {run:?}");

    // A current version that cannot be read as credentials (written in Secrets Manager directly): the run fails
    // for the rejection, not as the current version's configuration problem.
    let secrets = env.stack.clients.secrets();
    let put = secrets.put_secret_value().secret_id(env.secret_name(&id)).secret_string("not the credentials");
    put.send().await.unwrap();
    let run = import.run(&event(&id), deadline()).await.unwrap().run.unwrap();
    assert_eq!((run.outcome, run.reason.map(|r| r.as_str())), (RunOutcome::Failed, Some("credentials_rejected")));
}

#[tokio::test]
async fn a_missing_or_unreadable_secret_fails_the_run_as_a_configuration_problem_not_the_invocation() {
    let (env, sim) = five9_env(Five9SimConfig::default()).await;
    let id = create(&env, &five9_body(&sim, "campaign", 1)).await;
    let secrets = env.stack.clients.secrets();
    let name = env.secret_name(&id);
    let import = env.importer(config(sim.now()));

    // A version that is not a credentials document, named by the record (the import reads the version its record
    // names; versions cannot be changed once written).
    let unreadable = "0190c3e2-6b7d-7cc0-9f4e-unreadable00";
    let put = secrets.put_secret_value().secret_id(&name).secret_string("not the credentials");
    put.client_request_token(unreadable).send().await.unwrap();
    env.set_record_secret_version(&id, unreadable).await;
    let run = import.run(&event(&id), deadline()).await.expect("not a failed invocation").run.unwrap();
    assert_eq!((run.outcome, run.reason.map(|r| r.as_str())), (RunOutcome::Failed, Some("configuration_wrong")));
    assert!(run.message.as_deref().unwrap().contains("cannot be read"), "{run:?}");
    let (_, integration) = env.call("GET", &format!("/integrations/{id}"), None).await;
    assert_eq!(integration["status"]["state"], "failing");
    assert_eq!(integration["status"]["reason"], "configuration_wrong");

    secrets.delete_secret().secret_id(&name).force_delete_without_recovery(true).send().await.unwrap();
    let run = import.run(&event(&id), deadline()).await.expect("not a failed invocation").run.unwrap();
    assert_eq!((run.outcome, run.reason.map(|r| r.as_str())), (RunOutcome::Failed, Some("configuration_wrong")));
    assert!(run.message.as_deref().unwrap().contains("missing"), "{run:?}");
    let (_, integration) = env.call("GET", &format!("/integrations/{id}"), None).await;
    assert_eq!(integration["status"]["message"], json!(run.message));

    // What the message asks for repairs it: a PATCH of the credentials creates the secret anew.
    let patch = json!({"credentials": {"username": sim.username(), "password": sim.password()}});
    let (status, patched) = env.call("PATCH", &format!("/integrations/{id}"), Some(&patch)).await;
    assert_eq!(status, 200, "{patched}");
    let run = import.run(&event(&id), deadline()).await.expect("not a failed invocation").run.unwrap();
    assert_eq!(run.outcome, RunOutcome::Succeeded, "{run:?}");
}

#[tokio::test]
async fn a_secret_deleted_with_a_recovery_window_is_missing_and_the_patch_that_the_status_asks_for_restores_it() {
    // The console deletes a secret with a recovery window by default: Secrets Manager then refuses to read it and to
    // take a new version (moto_serial.py refuses the put as Secrets Manager does). The credentials PATCH that the
    // status asks for restores the secret and writes them (before: a 503 "try again later" for the whole window).
    let (env, sim) = five9_env(Five9SimConfig::default()).await;
    let id = create(&env, &five9_body(&sim, "campaign", 1)).await;
    let secrets = env.stack.clients.secrets();
    let name = env.secret_name(&id);
    secrets.delete_secret().secret_id(&name).recovery_window_in_days(7).send().await.unwrap();
    let import = env.importer(config(sim.now()));
    let run = import.run(&event(&id), deadline()).await.expect("not a failed invocation").run.unwrap();
    assert_eq!((run.outcome, run.reason.map(|r| r.as_str())), (RunOutcome::Failed, Some("configuration_wrong")));
    assert!(run.message.as_deref().unwrap().contains("missing"), "{run:?}");

    let patch = json!({"credentials": {"username": sim.username(), "password": sim.password()}});
    let (status, patched) = env.call("PATCH", &format!("/integrations/{id}"), Some(&patch)).await;
    assert_eq!(status, 200, "{patched}");
    let described = secrets.describe_secret().secret_id(&name).send().await.unwrap();
    assert_eq!(described.deleted_date, None, "restored");
    let run = import.run(&event(&id), deadline()).await.expect("not a failed invocation").run.unwrap();
    assert_eq!(run.outcome, RunOutcome::Succeeded, "{run:?}");
}

/// The real schedules, whose `delete` fails while armed (after nothing was deleted).
struct FlakySchedules {
    inner: Arc<dyn ScheduleStore>,
    fail_delete: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl ScheduleStore for FlakySchedules {
    async fn create(&self, tenant: &TenantId, id: IntegrationId) -> Result<(), StoreError> {
        self.inner.create(tenant, id).await
    }
    async fn set_enabled(&self, tenant: &TenantId, id: IntegrationId, enabled: bool) -> Result<(), StoreError> {
        self.inner.set_enabled(tenant, id, enabled).await
    }
    async fn run_now(&self, tenant: &TenantId, id: IntegrationId) -> Result<(), StoreError> {
        self.inner.run_now(tenant, id).await
    }
    async fn delete(&self, tenant: &TenantId, id: IntegrationId) -> Result<(), StoreError> {
        if self.fail_delete.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(StoreError::Backend("injected: scheduler unavailable".into()));
        }
        self.inner.delete(tenant, id).await
    }
    async fn set_states_schedule(
        &self,
        tenant: &TenantId,
        id: IntegrationId,
        cadence: Option<acd_domain::AgentStateCadence>,
        enabled: bool,
    ) -> Result<(), StoreError> {
        self.inner.set_states_schedule(tenant, id, cadence, enabled).await
    }
}

#[tokio::test]
async fn a_delete_that_failed_half_way_is_a_tombstone_that_a_retry_and_the_next_import_finish() {
    let (mut env, sim) = five9_env(Five9SimConfig::default()).await;
    let schedules = Arc::new(FlakySchedules {
        inner: Arc::new(wiring::schedules(&env.stack.settings, &env.stack.clients)),
        fail_delete: true.into(),
    });
    env.api.service.schedules = schedules.clone();
    let body = five9_body(&sim, "campaign", 1);
    let id = create(&env, &body).await;
    let import = env.importer(config(sim.now()));
    assert_eq!(import.run(&event(&id), deadline()).await.unwrap().outcome, RunOutcome::Succeeded);
    let intervals = env.intervals(&id).await;
    assert!(!intervals.is_empty());

    let (status, _) = env.call("DELETE", &format!("/integrations/{id}"), None).await;
    assert_eq!(status, 503, "the schedules could not be deleted");
    let (status, _) = env.call("GET", &format!("/integrations/{id}"), None).await;
    assert_eq!(status, 404, "a tombstone is invisible");
    let (_, list) = env.call("GET", "/integrations", None).await;
    assert_eq!(list["items"], json!([]));
    assert!(env.queues(&id).await.iter().all(|q| !q.active), "queues inactive before the schedules go");
    let (status, problem) = env.call("POST", "/integrations", Some(&body)).await;
    assert_eq!((status, problem["code"].as_str()), (409, Some("name-taken")), "the name stays reserved");

    // The schedule still fires: the import stops at the tombstone and re-activates nothing.
    let summary = import.run(&event(&id), deadline()).await.unwrap();
    assert_eq!((summary.outcome, summary.detail.as_str()), (RunOutcome::Skipped, "integration deleted"));
    assert!(env.queues(&id).await.iter().all(|q| !q.active));

    // The client's retry finishes the delete (204, not 404); after that it is gone and the name free.
    schedules.fail_delete.store(false, std::sync::atomic::Ordering::SeqCst);
    let (status, _) = env.call("DELETE", &format!("/integrations/{id}"), None).await;
    assert_eq!(status, 204);
    let (status, _) = env.call("DELETE", &format!("/integrations/{id}"), None).await;
    assert_eq!(status, 404);
    assert_eq!(env.intervals(&id).await, intervals, "imported data stays");
    let (status, _) = env.call("POST", "/integrations", Some(&body)).await;
    assert_eq!(status, 201);
}

#[tokio::test]
async fn an_import_overlapping_a_delete_never_makes_the_deleted_integrations_queues_active_again() {
    let now: DateTime<Utc> = "2024-05-10T09:07:00Z".parse().unwrap();
    let (sim, env, id) = genesys_integration(now, 3).await;
    let import = env.importer(config(now));
    assert_eq!(import.run(&event(&id), deadline()).await.unwrap().outcome, RunOutcome::Succeeded);
    let intervals = env.intervals(&id).await;

    // The next run reads the integration and takes its lease, then waits 3 s for the queue listing; the DELETE
    // lands meanwhile (queues inactive, record gone). The run then upserts the listed queues.
    sim.add_fault(Fault::once(FaultTarget::Queues, GenesysFault::Delay { ms: 3_000 }).after(1));
    let e = event(&id);
    let running = import.run(&e, deadline());
    let delete = async {
        tokio::time::sleep(Duration::from_millis(1_000)).await;
        env.call("DELETE", &format!("/integrations/{id}"), None).await
    };
    let (summary, (status, _)) = tokio::join!(running, delete);
    assert_eq!(status, 204);
    let summary = summary.unwrap();
    assert_eq!((summary.outcome, summary.detail.as_str()), (RunOutcome::Skipped, "integration deleted"), "{summary:?}");
    let queues = env.queues(&id).await;
    assert!(!queues.is_empty() && queues.iter().all(|q| !q.active), "{queues:?}");
    assert_eq!(env.intervals(&id).await, intervals, "data stays");
    let (status, _) = env.call("GET", &format!("/integrations/{id}"), None).await;
    assert_eq!(status, 404);
}

/// An Amazon Connect integration (history of one day) created through the API as a customer does (the tenant's
/// external id issued, the role trusting it), its agent events on `stream`: the suite's env, the simulator, the
/// Kinesis client and the integration's id.
async fn connect_integration(
    stream: &str,
) -> (Env, acd_simulators::amazon_connect::ConnectSimulator, aws_sdk_kinesis::Client, String) {
    use acd_integration_tests::ConnectEnv;
    use acd_simulators::amazon_connect::ConnectSimConfig;

    let connect = ImportEnv::start_connect(TENANT, ConnectSimConfig::default(), stream).await;
    let id = connect.create_integration("Connect").await;
    let ConnectEnv { env, sim, kinesis, .. } = connect;
    (Env(env), sim, kinesis, id)
}

/// The "today" of a Connect test whose runs are planned on a clock of their own (`config(now)`): three days before
/// the real one. The connector's credentials check (`verify`, each run) asks `GetMetricDataV2` for the quarter hour
/// before the real clock; that request must stay clear of the test's days, its faults and the first request it
/// expects (at 00:00-01:15 UTC it fell on the test's midnight until 2026-12-06).
fn connect_today() -> DateTime<Utc> {
    acd_simulators::amazon_connect::midnight(Utc::now()) - chrono::Duration::days(3)
}

/// Amazon Connect's statistics are re-read by the hour (`Vendor::statistics_reread_by_hour`): a caught-up run
/// reads `GetMetricDataV2` from the hour its 24-hour reconciliation window starts in, not from yesterday's
/// midnight. The hours before that keep what earlier runs stored (Connect's revisions of them are older than the
/// window, as for any vendor's days before it); from that hour on, revisions are imported (changed, new and
/// vanished rows); the next hour's runs start an hour later. A run behind by more than the window reads whole days.
#[tokio::test]
async fn amazon_connect_statistics_are_re_read_from_the_hour_the_reconciliation_window_starts_in() {
    use acd_integration_tests::Item;

    let (env, sim, _, id) = connect_integration("agent-events").await;
    let today = connect_today();
    let yesterday = today - chrono::Duration::days(1);
    let at = |day: DateTime<Utc>, h: i64, m: i64| day + chrono::Duration::hours(h) + chrono::Duration::minutes(m);
    let between = |stats: &[IntervalStats], from: DateTime<Utc>, to: DateTime<Utc>| -> Vec<IntervalStats> {
        stats.iter().filter(|s| from <= s.interval_start && s.interval_start < to).cloned().collect()
    };
    let import = async |now: DateTime<Utc>| -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        let before = sim.metric_requests().len();
        let run = env.importer(config(now)).run(&event(&id), deadline()).await.unwrap();
        assert_eq!(run.outcome, RunOutcome::Succeeded, "{run:?}");
        sim.metric_requests()[before..].to_vec()
    };
    let first_from = |requests: &[(DateTime<Utc>, DateTime<Utc>)]| requests.iter().map(|r| r.0).min();

    // The back-fill at 10:05 reads yesterday whole and today to 10:00.
    let read = import(at(today, 10, 5)).await;
    assert_eq!(first_from(&read), Some(yesterday));
    let first = sorted_stats(sim.truth(yesterday, at(today, 10, 0)));
    assert_same(&env.intervals(&id).await, &first, "after the back-fill");

    // Connect then revises yesterday from 09:30 on: values change, rows appear and vanish (in the re-read hours too).
    sim.revise_from(at(yesterday, 9, 30), 7);
    let revised = sorted_stats(sim.truth(yesterday, at(today, 10, 0)));
    let (from, to) = (at(yesterday, 9, 30), at(yesterday, 10, 0));
    assert_ne!(between(&first, from, to), between(&revised, from, to), "the revision changes 09:30-10:00");
    let key = |s: &IntervalStats| (s.queue_external_id.clone(), s.interval_start);
    let vanished = between(&first, to, today).iter().filter(|s| !revised.iter().any(|r| key(r) == key(s))).count();
    assert!(vanished > 0, "the revision removes rows after 10:00");

    // 15 minutes later the re-read starts at 10:00 yesterday (10:15 less 24 hours, to its hour): 09:30-10:00 stays
    // as first read, everything from 10:00 is the revision, nothing before 10:00 is deleted.
    let read = import(at(today, 10, 20)).await;
    assert_eq!(first_from(&read), Some(at(yesterday, 10, 0)), "{read:?}");
    let mut expected = between(&first, yesterday, at(yesterday, 10, 0));
    expected.extend(sim.truth(at(yesterday, 10, 0), at(today, 10, 15)));
    let expected = sorted_stats(expected);
    assert_same(&env.intervals(&id).await, &expected, "after the re-read at 10:20");

    // Runs every quarter hour: at 11:20 the re-read starts at 11:00; what it no longer reads stays.
    for m in [35, 50, 65] {
        import(at(today, 10, m)).await;
    }
    let read = import(at(today, 11, 20)).await;
    assert_eq!(first_from(&read), Some(at(yesterday, 11, 0)), "{read:?}");
    let mut expected = between(&first, yesterday, at(yesterday, 10, 0));
    expected.extend(sim.truth(at(yesterday, 10, 0), at(today, 11, 15)));
    assert_same(&env.intervals(&id).await, &sorted_stats(expected), "after the re-read at 11:20");
    // The day keeps one digest, which vouches from the hour it was written from.
    let digests: Vec<Item> = env
        .query(format!("T#{TENANT}#I#{id}"))
        .await
        .into_iter()
        .filter(|i| i["SK"].as_s().unwrap().starts_with("DIG#IV#"))
        .collect();
    let digest_of = |day: DateTime<Utc>| {
        let sk = format!("DIG#IV#{}", day.format("%Y-%m-%dT%H:%M:%SZ"));
        digests.iter().find(|i| *i["SK"].as_s().unwrap() == sk).map(|i| i["start"].as_s().unwrap().clone())
    };
    assert_eq!(digests.len(), 2, "{digests:?}");
    let from_11 = at(yesterday, 11, 0).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    assert_eq!(digest_of(yesterday), Some(from_11), "{digests:?}");

    // Then no run for a day: the next, at 12:20 tomorrow, is behind by more than its reconciliation (the data was
    // completed at 11:15 today). The hours the last run read young (from 11:30 yesterday on, 24 hours before a
    // quarter hour after 11:15) are read again, from their hour: 11:00 yesterday (until 2026-12-05, today from its
    // midnight, so yesterday from 11:30 was never read 24 hours old), and Connect's revision from 14:00 yesterday
    // (yesterday's evening read 21 hours old at most) is imported.
    let before_outage = env.intervals(&id).await;
    sim.revise_from(at(yesterday, 14, 0), 8);
    let (from, to) = (at(yesterday, 14, 0), today);
    let revised = sorted_stats(sim.truth(from, to));
    assert_ne!(between(&before_outage, from, to), revised, "the revision changes yesterday from 14:00");
    let tomorrow = today + chrono::Duration::days(1);
    let read = import(at(tomorrow, 12, 20)).await;
    assert_eq!(first_from(&read), Some(at(yesterday, 11, 0)), "{read:?}");
    let mut expected = between(&before_outage, yesterday, at(yesterday, 11, 0));
    expected.extend(sim.truth(at(yesterday, 11, 0), at(tomorrow, 12, 15)));
    assert_same(&env.intervals(&id).await, &sorted_stats(expected), "after the outage");
}

/// A pass that a run just after midnight left at its cursor (Connect failed after yesterday's day), resumed only
/// after a gap longer than the reconciliation window: yesterday's evening, which that run read minutes to hours after
/// it ended, is read again by the first new pass after the resumed one (from the state's `young_from`), and Connect's
/// revision of it is imported. Until 2026-12-05 that pass started 24 hours before the resumed pass's end (06:00 today,
/// from its hour), so yesterday's evening was never read again and the revision never reached the table.
#[tokio::test]
async fn amazon_connect_re_reads_what_a_pass_resumed_after_a_long_gap_had_read_young() {
    use acd_simulators::amazon_connect as connect;

    let (env, sim, _, id) = connect_integration("agent-events-resumed").await;
    let today = connect_today();
    let (yesterday, tomorrow) = (today - chrono::Duration::days(1), today + chrono::Duration::days(1));
    let at = |day: DateTime<Utc>, h: i64, m: i64| day + chrono::Duration::hours(h) + chrono::Duration::minutes(m);
    let import = async |now: DateTime<Utc>| {
        let before = sim.metric_requests().len();
        let run = env.importer(config(now)).run(&event(&id), deadline()).await.unwrap().run.unwrap();
        let from = sim.metric_requests()[before..].iter().map(|r| r.0).min();
        (run, from)
    };

    // Caught up through 23:45 yesterday (the back-fill at 23:50).
    let (run, _) = import(at(yesterday, 23, 50)).await;
    assert_eq!(run.outcome, RunOutcome::Succeeded, "{run:?}");
    // At 00:20 the re-read reads yesterday; then Connect fails on today's statistics: the run fails after writing
    // yesterday, its pass's cursor at midnight.
    sim.add_fault(connect::Fault::MetricsFail { from: today, to: at(today, 1, 0) });
    let now = at(today, 0, 20);
    let (run, from) = import(now).await;
    sim.clear_faults();
    assert_eq!((run.outcome, run.counts.days, from), (RunOutcome::Failed, 1, Some(yesterday)), "{run:?}");
    // Connect then revises yesterday from 20:00 (read at most four hours old so far).
    sim.revise_from(at(yesterday, 20, 0), 9);
    let (from_20, stored) = (at(yesterday, 20, 0), env.intervals(&id).await);
    let evening = |stats: &[IntervalStats]| -> Vec<IntervalStats> {
        stats.iter().filter(|s| from_20 <= s.interval_start && s.interval_start < today).cloned().collect()
    };
    assert_ne!(evening(&stored), sorted_stats(sim.truth(from_20, today)), "the revision changes yesterday's evening");

    // No run for 30 hours. The next resumes the pass at its cursor: today and tomorrow so far; the evening stays.
    let now = at(tomorrow, 6, 5);
    let (run, from) = import(now).await;
    assert_eq!((run.outcome, from), (RunOutcome::Succeeded, Some(today)), "{run:?}");
    assert_eq!(evening(&env.intervals(&id).await), evening(&stored));
    // The first new pass after it starts where that partial run's reading was young (00:30 yesterday, from its
    // hour): yesterday's evening is read 34 hours old and the revision imported; nothing before yesterday is
    // touched.
    let now = at(tomorrow, 6, 20);
    let (run, from) = import(now).await;
    assert_eq!((run.outcome, from), (RunOutcome::Succeeded, Some(yesterday)), "{run:?}");
    let mut expected: Vec<IntervalStats> = stored.into_iter().filter(|s| s.interval_start < yesterday).collect();
    expected.extend(sim.truth(yesterday, at(tomorrow, 6, 15)));
    assert_same(&env.intervals(&id).await, &sorted_stats(expected), "after the re-read");
}

/// Amazon Connect's agent states come from a feed and are merged into what is stored: an hour a run wrote is read
/// back before it is written again (a bucket put is the whole truth of its hour), so a later run whose events reach
/// into that hour keeps the segments it held. Only a day nothing was ever written into is merged without reading.
#[tokio::test]
async fn amazon_connect_states_merged_into_an_hour_written_before_keep_what_it_held() {
    use acd_simulators::amazon_connect::{self as connect, ConnectSimulator};

    const STREAM: &str = "agent-events";
    let (env, _sim, kinesis, id) = connect_integration(STREAM).await;
    let day = connect::midnight(Utc::now()) - chrono::Duration::days(1);
    let at = |h: i64, m: i64| day + chrono::Duration::hours(h) + chrono::Duration::minutes(m);
    let (s, event_of) = (connect::status_snapshot, connect::agent_event);
    let import = async |now: DateTime<Utc>| {
        let run = env.importer(config(now)).run(&event(&id), deadline()).await.unwrap();
        assert_eq!(run.outcome, RunOutcome::Succeeded, "{run:?}");
        run.run.unwrap().counts.segment_writes
    };

    // 10:02 the agent logs in, 10:05 goes to lunch: the run at 10:20 writes hour 10 (10:02-10:05, 10:05 open).
    let first = [
        event_of(0, "LOGIN", at(10, 2), None, Some(s(0, at(10, 2)))),
        event_of(0, "STATE_CHANGE", at(10, 5), Some(s(0, at(10, 2))), Some(s(1, at(10, 5)))),
    ];
    ConnectSimulator::publish_agent_events(&kinesis, STREAM, &first).await.unwrap();
    import(at(10, 20)).await;
    // 10:40 back: the run at 11:30 merges 10:05-10:40 and 10:40 (open) into hour 10, no longer the hour its window
    // ends in, so it reads the hour back first: 10:02-10:05 stays.
    let back = event_of(0, "STATE_CHANGE", at(10, 40), Some(s(1, at(10, 5))), Some(s(0, at(10, 40))));
    ConnectSimulator::publish_agent_events(&kinesis, STREAM, &[back]).await.unwrap();
    let writes = import(at(11, 30)).await;
    let agent = connect::user_id(0);
    let segment = |status: usize, start, end| AgentSegment {
        agent_external_id: agent.as_str().into(),
        status_id: connect::STATUSES[status].0.into(),
        reason: None,
        start,
        end,
    };
    let want = vec![
        segment(0, at(10, 2), Some(at(10, 5))),
        segment(1, at(10, 5), Some(at(10, 40))),
        segment(0, at(10, 40), None),
    ];
    assert_eq!(env.segments(&id, &[agent.to_string()]).await, want);
    assert!(writes.reads > 0, "{writes:?}");
}

/// A Five9 import that fails on the ACD (a `runReport` answered 503 after the first) and then cannot save what the
/// connector learned of the vendor (its cursor item refused here; a timed-out request may still land) only logs that
/// — the ACD's failure stays the run's reason — and keeps its lease for the hold rather than letting it go, as a run
/// that fails on a store error does (before, it let it go at once). The queue data ranges' save after a vendor
/// failure sets the same flag; it is not staged here (these back-fills read their whole window in one fetch, so no
/// vendor failure falls between two day writes).
#[tokio::test]
async fn an_import_failing_on_the_acd_whose_cursor_save_fails_too_keeps_its_lease_for_the_hold() {
    use crate::dynamo_faults::{Answer, DynamoFaults, Fault as StoreFault};
    let now: DateTime<Utc> = "2024-11-04T12:00:00Z".parse().unwrap();
    let (env, sim) = five9_env_unlimited(now).await;
    let id = create(&env, &five9_body(&sim, "campaign", 2)).await;
    sim.set_faults(vec![FaultRule::new(FaultKind::Http503).on("runReport").after(1)]);
    let faults = DynamoFaults::start(&env.stack.moto.endpoint).await;
    let cursor_put = "\"CURSOR\"";
    faults.arm(StoreFault {
        operations: &["PutItem"],
        body_contains: cursor_put,
        answer: Answer::Denied,
        until: None,
        times: None,
    });
    let hold = Duration::from_secs(3);
    let clients = faults.clients().await;
    let config = ImportConfig { in_flight_hold: hold, ..config(now) };
    let importer = wiring::import_service(&env.stack.settings, &clients, env.factory.clone(), config);
    let started_at = Utc::now();
    let run = importer.run(&event(&id), deadline()).await.unwrap();
    let ended_at = Utc::now();
    let record = run.run.expect("recorded");
    assert_eq!((record.outcome, record.reason), (RunOutcome::Failed, Some(FailureReason::VendorUnavailable)));
    let puts = faults.requests(&["PutItem"], cursor_put);
    assert!(!puts.is_empty() && puts.iter().all(|r| r.refused()), "the cursor's save was tried and refused: {puts:?}");
    let lease = env.query(format!("T#{TENANT}#I#{id}")).await.into_iter().find(|i| i["SK"].as_s().unwrap() == "LEASE");
    let expires: DateTime<Utc> = lease.expect("its lease kept")["expires_at"].as_s().unwrap().parse().unwrap();
    let hold = chrono::Duration::from_std(hold).unwrap();
    assert!(started_at + hold <= expires && expires <= ended_at + hold, "held until {expires}");
}

/// The EMF document of the run `run_id` among the captured logs (outside Lambda it is the debug line "import run
/// metrics", `emf=` the document).
fn run_emf(logs: &LogCapture, run_id: &str) -> Value {
    let docs: Vec<Value> = logs
        .contents()
        .lines()
        .filter(|l| l.contains("import run metrics") && l.contains(run_id))
        .map(|l| serde_json::from_str(&l[l.find("emf=").unwrap() + 4..]).unwrap())
        .collect();
    assert_eq!(docs.len(), 1, "one metrics line for run {run_id}: {docs:?}");
    docs.into_iter().next().unwrap()
}

#[tokio::test]
async fn a_run_whose_last_statuses_listing_the_deadline_cuts_off_after_every_day_was_written_ends_partial() {
    // No agents: no fetch returns an agent segment, so the statuses are listed once at the end of the run, after the
    // last day was written — when as little as the bookkeeping reserve may be left, which the ACD's deadline leaves
    // out. Such a listing cut off by that deadline used to fail the run (`vendor_unavailable`, the status
    // `failing`, a `failing` event and a `recovered` one the next run) although every day was written and saved.
    let now: DateTime<Utc> = "2024-05-10T09:07:00Z".parse().unwrap();
    let sim_config = GenesysSimConfig { history_days: 2, agents: 0, ..GenesysSimConfig::default() };
    let (sim, env, id) = genesys_integration_with(now, sim_config).await;
    let first = env.importer(config(now)).run(&event(&id), deadline()).await.unwrap().run.unwrap();
    assert_eq!(first.outcome, RunOutcome::Succeeded, "{first:?}");
    assert!(first.counts.statuses > 0, "listed at the end: {first:?}");
    let (_, integration) = env.call("GET", &format!("/integrations/{id}"), None).await;
    assert_eq!(integration["status"]["state"], "operational");

    // The credentials check reads the presence definitions once; the listing at the end of the run never answers,
    // and the ACD's deadline (the run's minus the 2 s reserve) cuts it off.
    sim.add_fault(Fault::once(FaultTarget::PresenceDefinitions, GenesysFault::Hang).after(1));
    let tight = tight_config(now, Duration::from_micros(500));
    let limit = Duration::from_secs(15);
    let started = std::time::Instant::now();
    let run = env.importer(tight).run(&event(&id), Deadline::after(limit)).await.unwrap().run.unwrap();
    assert!(started.elapsed() < limit, "the run ended before its deadline: {:?}", started.elapsed());
    assert_eq!(run.outcome, RunOutcome::Partial, "{run:?}");
    assert_eq!(run.reason, None, "{run:?}");
    let days = day_chunks(run.window.unwrap()).len() as u64;
    assert_eq!(run.counts.days, days, "every day of the window was written: {run:?}");
    assert_eq!(run.complete_through, first.complete_through, "{run:?}");
    assert!(run.message.as_deref().is_some_and(|m| m.contains("statuses were listed")), "{run:?}");
    let (_, integration) = env.call("GET", &format!("/integrations/{id}"), None).await;
    assert_eq!(integration["status"]["state"], "importing", "not failing: {integration}");
    assert_eq!(integration["status"]["reason"], Value::Null, "{integration}");

    // The next run lists them.
    let next = env.importer(config(now)).run(&event(&id), deadline()).await.unwrap().run.unwrap();
    assert_eq!(next.outcome, RunOutcome::Succeeded, "{next:?}");
    assert_eq!(next.counts.statuses, first.counts.statuses);
}

#[tokio::test]
async fn runs_that_stop_before_their_days_report_the_stored_complete_through_and_its_data_lag() {
    // Only the days used to set a run's `complete_through`: a run that stopped before them (a held listing,
    // rejected credentials) showed none in its record and emitted no `DataLag`, so the data-lag alarm did not see an
    // integration falling behind on such runs.
    let logs = LogCapture::install();
    let now: DateTime<Utc> = "2024-05-10T09:07:00Z".parse().unwrap();
    let sim_config = GenesysSimConfig { history_days: 2, queues: 11, ..GenesysSimConfig::default() };
    let (sim, env, id) = genesys_integration_with(now, sim_config).await;
    let import = env.importer(config(now));
    let first = import.run(&event(&id), deadline()).await.unwrap().run.unwrap();
    assert_eq!(first.outcome, RunOutcome::Succeeded, "{first:?}");
    let through = first.complete_through.expect("complete after the first import");
    let lag = (now - through).num_seconds();
    assert_eq!(run_emf(&logs, &first.run_id.to_string())["DataLag"], lag);

    // A collapsed queue listing, held (the credentials check's own one-queue listing goes first): no day is read.
    sim.add_fault(Fault::once(FaultTarget::Queues, GenesysFault::Empty).after(1));
    let held = import.run(&event(&id), deadline()).await.unwrap().run.unwrap();
    // Rejected credentials: the run fails at the credentials check.
    sim.add_fault(Fault::always(FaultTarget::Token, GenesysFault::Unauthorized));
    let rejected = import.run(&event(&id), deadline()).await.unwrap().run.unwrap();
    sim.clear_faults();
    assert_eq!((held.outcome, held.counts.days), (RunOutcome::Partial, 0), "{held:?}");
    assert_eq!(rejected.outcome, RunOutcome::Failed, "{rejected:?}");
    assert_eq!(rejected.reason, Some(FailureReason::CredentialsRejected), "{rejected:?}");

    let (_, runs) = env.call("GET", &format!("/integrations/{id}/runs?limit=2"), None).await;
    for (run, listed) in [(&rejected, &runs["items"][0]), (&held, &runs["items"][1])] {
        assert_eq!(run.complete_through, Some(through), "{run:?}");
        assert_eq!(listed["run_id"], run.run_id.to_string(), "{runs}");
        let listed_through: DateTime<Utc> = listed["complete_through"].as_str().unwrap().parse().unwrap();
        assert_eq!(listed_through, through, "{runs}");
        let emf = run_emf(&logs, &run.run_id.to_string());
        assert_eq!(emf["DataLag"], lag, "{emf}");
        let alarmed = &emf["_aws"]["CloudWatchMetrics"][2]["Metrics"];
        assert!(alarmed.as_array().unwrap().iter().any(|m| m["Name"] == "DataLag"), "{emf}");
    }
    assert!(run_emf(&logs, &rejected.run_id.to_string())["FailingFor"].is_i64());
}
