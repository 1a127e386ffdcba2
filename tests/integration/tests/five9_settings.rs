//! Five9's `report_row_limit` setting end to end: checked and stored by the integrations API (create, PATCH, as
//! shown, and in `GET /integration-types`), and read by the import into the connector's row limit, against a Five9
//! simulator whose domain has a lower limit than Five9's default 50,000 (it cuts a report there without a word).

use std::time::Duration;

use acd_app::import::plan::{day_chunks, owned_pieces};
use acd_app::import::{ImportConfig, ImportEvent, RunOutcome};
use acd_connectors::five9::Five9Grouping;
use acd_connectors::{Deadline, Endpoints};
use acd_domain::{AgentSegment, IntervalStats, TimeWindow};
use acd_integration_tests::{ImportEnv, sorted_segments, sorted_stats};
use acd_simulators::five9::{Five9SimConfig, Five9Simulator, Limits};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

const TENANT: &str = "tenant-a";
const FIELD: &str = "/settings/report_row_limit";

async fn env_with(config: Five9SimConfig) -> (ImportEnv, Five9Simulator) {
    let sim = Five9Simulator::start(config).await.unwrap();
    let env = ImportEnv::start(TENANT, Endpoints::default().with_var("FIVE9_BASE_URL", sim.base_url())).await;
    (env, sim)
}

/// A create body of a campaign-grouped Five9 integration with one day of history and `settings` besides.
fn body(sim: &Five9Simulator, name: &str, settings: Value) -> Value {
    let mut all = json!({"region": "us", "grouping": "campaign", "history_days": 1});
    all.as_object_mut().unwrap().extend(settings.as_object().unwrap().clone());
    json!({"name": name, "type": "five9", "credentials": {"username": sim.username(), "password": sim.password()},
           "settings": all})
}

async fn create(env: &ImportEnv, body: &Value) -> String {
    let (status, created) = env.call("POST", "/integrations", Some(body)).await;
    assert_eq!(status, 201, "{created}");
    created["id"].as_str().unwrap().to_owned()
}

/// The status and the fields the answer's errors name.
fn refused_field(status: u16, problem: &Value) -> (u16, Vec<&str>) {
    let fields = problem["errors"].as_array().map(|e| e.iter().filter_map(|e| e["field"].as_str()).collect());
    (status, fields.unwrap_or_default())
}

#[tokio::test]
async fn the_report_row_limit_is_checked_stored_shown_and_changed_through_the_api() {
    let (env, sim) = env_with(Five9SimConfig::default()).await;
    // The form offers it, with Five9's default and the bounds.
    let (_, types) = env.call("GET", "/integration-types", None).await;
    let five9 = types["items"].as_array().unwrap().iter().find(|t| t["type"] == "five9").unwrap();
    let field = five9["settings"].as_array().unwrap().iter().find(|f| f["name"] == "report_row_limit").unwrap();
    assert_eq!(
        (&field["default"], &field["minimum"], &field["maximum"]),
        (&json!(50_000), &json!(1_000), &json!(1_000_000))
    );
    assert_eq!((&field["required"], &field["mutable"]), (&json!(false), &json!(true)));

    // Out of range, or not a whole number: 400 naming the field, nothing created.
    for bad in [json!(999), json!(1_000_001), json!(25_000.5), json!("25000")] {
        let (status, problem) =
            env.call("POST", "/integrations", Some(&body(&sim, "Bad", json!({"report_row_limit": bad})))).await;
        assert_eq!(refused_field(status, &problem), (400, vec![FIELD]), "{bad}: {problem}");
    }
    let (_, listed) = env.call("GET", "/integrations", None).await;
    assert_eq!(listed["items"], json!([]), "nothing was created");

    // Left out: not stored, not shown (Five9's default); set: shown as set.
    let default = create(&env, &body(&sim, "Default", json!({}))).await;
    let (_, shown) = env.call("GET", &format!("/integrations/{default}"), None).await;
    assert!(shown["settings"].get("report_row_limit").is_none(), "{shown}");
    let lowered = create(&env, &body(&sim, "Lowered", json!({"report_row_limit": 25_000}))).await;
    let path = format!("/integrations/{lowered}");
    let (_, shown) = env.call("GET", &path, None).await;
    assert_eq!(shown["settings"]["report_row_limit"], 25_000, "{shown}");

    // PATCH: out of range is a 400 naming the field and changes nothing; in range changes it; absent keeps it.
    let (status, problem) = env.call("PATCH", &path, Some(&json!({"settings": {"report_row_limit": 500}}))).await;
    assert_eq!(refused_field(status, &problem), (400, vec![FIELD]), "{problem}");
    let (_, shown) = env.call("GET", &path, None).await;
    assert_eq!(shown["settings"]["report_row_limit"], 25_000, "{shown}");
    let (status, patched) = env.call("PATCH", &path, Some(&json!({"settings": {"report_row_limit": 40_000}}))).await;
    assert_eq!((status, &patched["settings"]["report_row_limit"]), (200, &json!(40_000)), "{patched}");
    let (status, patched) = env.call("PATCH", &path, Some(&json!({"settings": {"history_days": 2}}))).await;
    assert_eq!((status, &patched["settings"]["report_row_limit"]), (200, &json!(40_000)), "{patched}");
    let default_path = format!("/integrations/{default}");
    let (status, patched) =
        env.call("PATCH", &default_path, Some(&json!({"settings": {"report_row_limit": 1_000}}))).await;
    assert_eq!((status, &patched["settings"]["report_row_limit"]), (200, &json!(1_000)), "{patched}");
}

fn deadline() -> Deadline {
    Deadline::after(Duration::from_secs(600))
}

fn event(id: &str) -> ImportEvent {
    ImportEvent { tenant_id: TENANT.into(), integration_id: id.into(), at_once: true }
}

/// The truth for the run window: statistics and owned segment pieces day by day.
fn truth(sim: &Five9Simulator, window: TimeWindow) -> (Vec<IntervalStats>, Vec<AgentSegment>) {
    let mut stats = Vec::new();
    let mut segments = Vec::new();
    for chunk in day_chunks(window) {
        stats.extend(sim.truth_intervals(chunk, Five9Grouping::Campaign));
        segments.extend(owned_pieces(&sim.truth_segments(chunk), chunk));
    }
    (sorted_stats(stats), sorted_segments(segments))
}

/// The intervals with calls in `truth` that `stored` has none in (absent, or written as zeros).
fn emptied(stored: &[IntervalStats], truth: &[IntervalStats]) -> usize {
    let key = |s: &IntervalStats| (s.queue_external_id.clone(), s.interval_start);
    let stored: std::collections::HashMap<_, u64> = stored.iter().map(|s| (key(s), s.offered)).collect();
    truth.iter().filter(|t| t.offered > 0 && stored.get(&key(t)).copied().unwrap_or(0) == 0).count()
}

#[tokio::test]
async fn an_import_with_the_domain_s_report_row_limit_equals_the_truth_and_one_left_at_the_default_does_not() {
    // A domain whose report row limit Five9 support lowered to 1,000 rows, with more calls and agent states in the
    // day than that. The simulator's per-minute limits are raised: the runs follow each other at once.
    let now: DateTime<Utc> = "2024-11-06T00:00:00Z".parse().unwrap();
    let limits = Limits { query: [10_000; 3], report_request: [10_000; 3], retrieve_report: [10_000; 3] };
    let config = Five9SimConfig {
        now: Some(now),
        row_limit: 1_000,
        calls_per_interval: 12.0,
        limits,
        ..Five9SimConfig::default()
    };
    let (env, sim) = env_with(config).await;
    let import = env.importer(ImportConfig { now: Some(now), ..ImportConfig::default() });
    let agents: Vec<String> = sim.truth_agents().into_iter().map(|a| a.external_id).collect();

    // The integration set to the domain's limit: reports of 1,000 rows are run again in halves; the table equals
    // the truth.
    let set = create(&env, &body(&sim, "Set", json!({"report_row_limit": 1_000}))).await;
    let first = import.run(&event(&set), deadline()).await.unwrap();
    assert_eq!(first.outcome, RunOutcome::Succeeded, "{first:?}");
    let window = first.run.unwrap().window.unwrap();
    let (stats, segments) = truth(&sim, window);
    let calls: u64 = stats.iter().map(|s| s.offered).sum();
    assert!(calls > 1_000, "more calls than the limit: {calls}");
    let runs = sim.stats().report_runs;
    assert!(runs.iter().any(|r| r.report == "Call Log" && r.rows == 1_000), "a Call Log was cut: {runs:?}");
    assert_eq!(env.intervals(&set).await, stats, "every interval equals the truth");
    assert_eq!(env.segments(&set, &agents).await, segments, "every segment equals the truth");

    // The same domain, the setting left out (Five9's default, 50,000): the reports cut at 1,000 rows are taken as
    // complete, and the intervals after each cut are imported as no calls. The setting is what makes it right.
    let unset = create(&env, &body(&sim, "Unset", json!({}))).await;
    let before = sim.stats().report_runs.len();
    let run = import.run(&event(&unset), deadline()).await.unwrap();
    assert_eq!(run.outcome, RunOutcome::Succeeded, "{run:?}");
    assert_eq!(run.run.unwrap().window.unwrap(), window);
    let runs = sim.stats().report_runs;
    let cut: Vec<_> = runs[before..].iter().filter(|r| r.report == "Call Log").map(|r| r.rows).collect();
    assert_eq!(cut, [1_000], "one Call Log, cut at the domain's limit and taken as complete");
    let stored = env.intervals(&unset).await;
    let missing = emptied(&stored, &stats);
    assert!(missing > 10, "{missing} intervals with calls imported as none");
    assert_eq!(emptied(&env.intervals(&set).await, &stats), 0);
}
