//! Crash safety as a property: an import killed right before its N-th write request — every write point of a
//! small run, a spread sample of 50 points of a larger one (each write, when it has fewer) — leaves a table that
//! the next run always completes into exactly the table one clean run makes, item for item (queues, agents,
//! statuses, intervals and segments; with hour buckets on, the default, the buckets too).
//!
//! "Killed" uses the store's test hook (`ImportConfig::abort_after_batches`): every write request of the import
//! store counts (BatchWriteItem calls, queue transactions, agent and status updates, digest and state writes, the
//! run record), and from the N-th on every write fails, as if the process had died there: no run record, the
//! lease left to expire. Each point gets a table of its own in one moto, so points do not see each other's items.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use acd_app::http::TenantAuth;
use acd_app::import::{ImportConfig, ImportEvent, ImportService, RunOutcome, RunSummary};
use acd_app::verifier::ConnectorVerifier;
use acd_aws::batch::AbortAfter;
use acd_aws::{Settings, wiring};
use acd_connectors::{ConnectorFactory, Deadline, Endpoints, HttpClient};
use acd_integration_tests::{api_request, decode};
use acd_simulators::five9::{Five9SimConfig, Five9Simulator, Limits};
use acd_simulators::genesys::{GenesysSimConfig, GenesysSimulator};
use acd_test_harness::AwsStack;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde_json::{Value, json};

const TENANT: &str = "tenant-crash";
/// Crash points checked at the same time, and motos they share.
const POINTS_AT_ONCE: usize = 6;
const MOTOS: usize = 3;

struct Env {
    /// Several motos (each serves one request at a time): point `n` uses `stacks[n % len]`.
    stacks: Vec<AwsStack>,
    factory: ConnectorFactory,
    body: Value,
    now: DateTime<Utc>,
}

/// The kinds of imported items compared (sort-key prefixes); runs, lease, state and digests are bookkeeping.
const COMPARED: [&str; 5] = ["Q#", "A#", "ST#", "IV#", "S#"];

impl Env {
    async fn start(factory: ConnectorFactory, body: Value, now: DateTime<Utc>) -> Env {
        let stacks = futures::future::join_all((0..MOTOS).map(|_| AwsStack::start())).await;
        Env { stacks, factory, body, now }
    }

    /// The moto of a table (`crash-{n}`, or `clean` on the first).
    fn stack(&self, table: &str) -> &AwsStack {
        let n: usize = table.trim_start_matches("crash-").parse().unwrap_or(0);
        &self.stacks[n % self.stacks.len()]
    }

    fn settings(&self, table: &str) -> Settings {
        Settings { table_name: table.to_owned(), ..self.stack(table).settings.clone() }
    }

    /// A table of its own with one integration created through the API (credentials checked by the simulator).
    async fn integration(&self, table: &str) -> String {
        acd_aws::schema::create_table(self.stack(table).clients.dynamodb(), table).await.expect("create table");
        let settings = self.settings(table);
        let verifier = Arc::new(ConnectorVerifier { factory: self.factory.clone() });
        let api = wiring::integrations_api(
            &settings,
            &self.stack(table).clients,
            verifier,
            TenantAuth::JwtClaim("tenant_id".into()),
        );
        // The cut points' imports share the simulator's one API user, and Five9 refuses a user's concurrent
        // requests: the create's credential check may then answer 503 vendor-unavailable ("try again later"),
        // and a client retries it, as here.
        let mut attempt = 0;
        let (status, created) = loop {
            let (status, _, created) =
                decode(api.handle(api_request("POST", "/integrations", Some(TENANT), Some(&self.body))).await);
            attempt += 1;
            if status != 503 || attempt == 5 {
                break (status, created);
            }
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        };
        assert_eq!(status, 201, "{created}");
        created["id"].as_str().unwrap().to_owned()
    }

    /// An import service on `table` whose store fails every write from the `abort_at`-th on, and the hook's counter.
    fn importer(&self, table: &str, abort_at: i64) -> (ImportService, Arc<AtomicI64>) {
        let settings = self.settings(table);
        let mut store = wiring::import_store(&settings, &self.stack(table).clients);
        let left = Arc::new(AtomicI64::new(abort_at - 1));
        store.abort = AbortAfter(Some(left.clone()));
        let service = ImportService::new(
            Arc::new(wiring::dynamo_store(&settings, &self.stack(table).clients)),
            Arc::new(wiring::secrets_store(&settings, &self.stack(table).clients)),
            Arc::new(store),
            self.factory.clone(),
            ImportConfig { now: Some(self.now), ..ImportConfig::default() },
        );
        (service, left)
    }

    /// One import run of `id`.
    async fn run(&self, service: &ImportService, id: &str) -> Result<RunSummary, String> {
        let event = ImportEvent { tenant_id: TENANT.into(), integration_id: id.into(), at_once: false };
        service.run(&event, Deadline::after(Duration::from_secs(600))).await.map_err(|e| e.to_string())
    }

    /// Runs until a run is not ended by a busy user. The cut points run side by side on the Five9 simulator's one
    /// API user, and Five9 refuses a user's concurrent requests: a run that meets another's ends `Partial` with a
    /// "busy" warning, as a real run would, and the next tick goes on. Any other outcome (a partial run for any
    /// other reason included) is returned as it is. The abort hook counts writes across these runs.
    async fn run_past_busy(&self, service: &ImportService, id: &str) -> Result<RunOutcome, String> {
        for _ in 0..20 {
            let summary = self.run(service, id).await;
            let busy = summary.as_ref().is_ok_and(|s| {
                s.outcome == RunOutcome::Partial
                    && s.run.as_ref().is_some_and(|r| r.warnings.iter().any(|w| w.contains("busy")))
            });
            if !busy {
                if let Ok(s) = &summary
                    && s.outcome != RunOutcome::Succeeded
                {
                    eprintln!("{id}: {:?} ({}): {:?}", s.outcome, s.detail, s.run.as_ref().map(|r| &r.warnings));
                }
                return summary.map(|s| s.outcome);
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        Err(format!("the user stayed busy for 20 runs of {id}"))
    }

    /// The imported items of a table, keyed by PK and SK, with the integration id replaced by `{id}`.
    async fn imported(&self, table: &str, id: &str) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let mut start = None;
        loop {
            let page = self
                .stack(table)
                .clients
                .dynamodb()
                .scan()
                .table_name(table)
                .set_exclusive_start_key(start)
                .send()
                .await
                .unwrap();
            for item in page.items.unwrap_or_default() {
                let sk = item["SK"].as_s().unwrap();
                if !COMPARED.iter().any(|p| sk.starts_with(p)) {
                    continue;
                }
                let key = format!("{} {}", item["PK"].as_s().unwrap(), sk).replace(id, "{id}");
                let value: BTreeMap<&String, Value> = item.iter().map(|(k, v)| (k, plain(v))).collect();
                out.insert(key, serde_json::to_string(&value).unwrap().replace(id, "{id}"));
            }
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return out,
            }
        }
    }

    /// Crashes a run at write `n` on a fresh table, lets the lease expire, runs again; the table must equal `clean`.
    async fn check_point(&self, n: i64, clean: &BTreeMap<String, String>) {
        let table = format!("crash-{n}");
        let id = self.integration(&table).await;
        let (crashing, _) = self.importer(&table, n);
        let crashed = self.run_past_busy(&crashing, &id).await;
        assert!(crashed.as_ref().is_err_and(|e| e.contains("aborted")), "write {n}: the run dies there: {crashed:?}");
        // A dead process keeps its lease until it expires: expire it.
        self.stack(&table)
            .clients
            .dynamodb()
            .delete_item()
            .table_name(&table)
            .key("PK", AttributeValue::S(format!("T#{TENANT}#I#{id}")))
            .key("SK", AttributeValue::S("LEASE".into()))
            .send()
            .await
            .unwrap();
        let (next, _) = self.importer(&table, i64::MAX);
        assert_eq!(self.run_past_busy(&next, &id).await, Ok(RunOutcome::Succeeded), "write {n}: the next run");
        let table = self.imported(&table, &id).await;
        if let Some((key, _)) = clean.iter().find(|(k, v)| table.get(*k) != Some(*v)) {
            panic!("crash at write {n}: {key} is\n{:?}\n, a clean run stores\n{:?}", table.get(key), clean.get(key));
        }
        if let Some(extra) = table.keys().find(|k| !clean.contains_key(*k)) {
            panic!("crash at write {n}: {extra} is stored, a clean run has no such item");
        }
    }

    /// Checks every point, a few at a time (each on its own table; moto serves one request at a time, the
    /// simulators' report polling and the test's own work overlap).
    async fn check_points(&self, points: &[i64], clean: &BTreeMap<String, String>) {
        // `CRASH_POINT=n` checks that one point only (to look at a failure).
        let only: Option<i64> = std::env::var("CRASH_POINT").ok().and_then(|v| v.parse().ok());
        let points: Vec<i64> = points.iter().copied().filter(|n| only.is_none_or(|o| o == *n)).collect();
        futures::stream::iter(&points).for_each_concurrent(POINTS_AT_ONCE, |&n| self.check_point(n, clean)).await;
    }

    /// The clean table and the number of write requests a clean run makes.
    async fn clean(&self) -> (BTreeMap<String, String>, i64) {
        let id = self.integration("clean").await;
        let (service, left) = self.importer("clean", i64::MAX);
        assert_eq!(self.run(&service, &id).await.map(|s| s.outcome), Ok(RunOutcome::Succeeded));
        let writes = i64::MAX - 1 - left.load(Ordering::SeqCst);
        let table = self.imported("clean", &id).await;
        for prefix in COMPARED {
            assert!(table.keys().any(|k| k.contains(&format!(" {prefix}"))), "the clean run stored {prefix} items");
        }
        (table, writes)
    }
}

/// An attribute value as JSON with sorted maps, for comparison.
fn plain(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::S(s) => json!({"S": s}),
        AttributeValue::N(n) => json!({"N": n}),
        AttributeValue::Bool(b) => json!({"BOOL": b}),
        AttributeValue::Null(_) => json!({"NULL": true}),
        AttributeValue::B(b) => json!({"B": format!("{:?}", b.as_ref())}),
        AttributeValue::L(l) => json!({"L": l.iter().map(plain).collect::<Vec<_>>()}),
        AttributeValue::M(m) => json!({"M": m.iter().map(|(k, v)| (k.clone(), plain(v))).collect::<BTreeMap<_, _>>()}),
        other => json!({"other": format!("{other:?}")}),
    }
}

#[tokio::test]
async fn a_small_five9_import_killed_at_any_write_converges_to_the_clean_table() {
    let now: DateTime<Utc> = "2024-11-06T00:00:00Z".parse().unwrap();
    let limits = Limits { query: [100_000; 3], report_request: [100_000; 3], retrieve_report: [100_000; 3] };
    let sim = Five9Simulator::start(Five9SimConfig {
        now: Some(now),
        campaigns: 2,
        agents: 3,
        calls_per_interval: 2.0,
        limits,
        ..Five9SimConfig::default()
    })
    .await
    .unwrap();
    let body = json!({"name": "Five9 crash", "type": "five9",
        "credentials": {"username": sim.username(), "password": sim.password()},
        "settings": {"region": "us", "grouping": "campaign", "history_days": 1}});
    let endpoints = Endpoints::default().with_var("FIVE9_BASE_URL", sim.base_url());
    let env = Env::start(ConnectorFactory::new(HttpClient::new().unwrap(), endpoints), body, now).await;
    let started = Instant::now();
    let (clean, writes) = env.clean().await;
    assert!(writes >= 20, "a run with a meaningful number of writes: {writes}");
    // Every write point of the run.
    let points: Vec<i64> = (1..=writes).collect();
    env.check_points(&points, &clean).await;
    println!("five9: {writes} write points, each crashed and recovered to the clean table ({:?})", started.elapsed());
}

#[tokio::test]
async fn a_larger_genesys_import_killed_at_a_sample_of_writes_converges_to_the_clean_table() {
    let now: DateTime<Utc> = "2024-05-10T09:07:00Z".parse().unwrap();
    let sim = GenesysSimulator::start(GenesysSimConfig {
        now: Some(now),
        history_days: 3,
        queues: 3,
        agents: 4,
        rate_limit_per_minute: None,
        ..GenesysSimConfig::default()
    })
    .await
    .unwrap();
    let body = json!({"name": "Genesys crash", "type": "genesys_cloud",
        "credentials": {"client_id": sim.client_id(), "client_secret": sim.client_secret()},
        "settings": {"region": "eu_central_1", "detailed_on_queue_statuses": true, "history_days": 1}});
    let endpoints = Endpoints::default()
        .with_var("GENESYS_CLOUD_API_BASE_URL", sim.base_url())
        .with_var("GENESYS_CLOUD_LOGIN_BASE_URL", sim.base_url());
    let env = Env::start(ConnectorFactory::new(HttpClient::new().unwrap(), endpoints), body, now).await;
    let started = Instant::now();
    let (clean, writes) = env.clean().await;
    // 50 points spread evenly over the whole run, the first and the last write included (every write when there are
    // fewer, as with hour buckets).
    let points = 50.min(writes);
    let larger = if acd_test_harness::hour_buckets_from_env() { 30 } else { 50 };
    assert!(writes > larger, "a larger run: {writes} writes");
    let sample: Vec<i64> = (0..points).map(|i| 1 + i * (writes - 1) / (points - 1)).collect();
    env.check_points(&sample, &clean).await;
    println!(
        "genesys: {} of {writes} write points, each crashed and recovered to the clean table ({:?})",
        sample.len(),
        started.elapsed()
    );
}
