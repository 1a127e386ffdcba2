//! The fault matrix (issue 10): one table of vendor faults drives both ACDs. For each vendor an integration is
//! created through the real API (credentials checked against the simulator) and imported cleanly into moto, so the
//! table equals the simulator's truth. Then, fault by fault: the fault is injected, the import runs, and the test
//! checks the run's outcome and reason, the integration's status, the vendor calls spent (no retry storm) and —
//! the main assertion — that the stored table still equals the truth from before the fault (nothing deleted,
//! zeroed or invented); then the fault is cleared, the import runs again and the table equals the truth after
//! recovery.
//!
//! The simulators' clocks are fixed, so "the truth before the fault" and "the truth after recovery" are the same
//! table: any item a faulted run deleted, zeroed or faked shows up as a difference, and so does one a recovery run
//! failed to restore.

use std::time::Duration;

use acd_app::import::plan::{day_chunks, owned_pieces};
use acd_app::import::{ImportConfig, ImportEvent, RunOutcome, RunRecord};
use acd_aws::items::QueueItem;
use acd_connectors::five9::Five9Grouping;
use acd_connectors::genesys::GenesysAgentId;
use acd_connectors::{Deadline, Endpoints, RetryPolicy};
use acd_domain::{AgentSegment, AgentStateGap, GapReason, IntervalStats, TimeWindow};
use acd_integration_tests::{ConnectEnv, ImportEnv, Item, sorted_segments, sorted_stats};
use acd_simulators::amazon_connect::{self as connect_sim, ConnectSimConfig, ConnectSimulator, Fault as CFault};
use acd_simulators::five9::{FaultKind as F9, FaultRule, Five9SimConfig, Five9Simulator, Limits};
use acd_simulators::genesys::{Fault, FaultKind as Gc, FaultTarget as Target, GenesysSimConfig, GenesysSimulator};
use aws_sdk_dynamodb::types::AttributeValue as AttrValue;
use chrono::{DateTime, Utc};
use futures::future::LocalBoxFuture;
use serde_dynamo::aws_sdk_dynamodb_1::from_items;
use serde_json::{Value, json};

const TENANT: &str = "tenant-faults";
/// The Amazon Connect agent event stream (moto's Kinesis).
const STREAM: &str = "agent-events";

/// The faults every vendor is tried with (issue 10's list).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum VendorFault {
    /// 401 on every request.
    Unauthorized,
    /// 403 / a permission refused on the statistics.
    Forbidden,
    /// One 429 (or the vendor's rate-limit fault) on the statistics.
    RateLimitedOnce,
    /// 429 on every statistics request.
    RateLimitedAlways,
    /// One 5xx on the statistics.
    ServerErrorOnce,
    /// 5xx on every statistics request.
    ServerErrorAlways,
    /// The statistics answer comes after the run's deadline.
    SlowPastDeadline,
    /// The statistics body is cut in half.
    TruncatedBody,
    /// A well-formed answer without the element that carries the data (Five9: `getReportResultCsvResponse`
    /// without `return`; Genesys Cloud: `{}` from the user-details query).
    MissingElement,
    /// One empty queue listing.
    EmptyListing,
    /// Paging fields absent (Genesys Cloud: the user listing; Five9 has no paging: a report CSV without its
    /// header line, the same "structure missing" case; Amazon Connect: a `NextToken` that comes back the same, paging
    /// that never ends).
    MissingPaging,
    /// A report that never finishes (Genesys Cloud: an analytics query that never answers).
    ReportNeverFinishes,
    /// The vendor's hourly API budget is used up (Five9: the hourly `ReportRequest` limit; Genesys Cloud, which has
    /// no hourly budget, a 429 whose Retry-After is an hour).
    BudgetExhausted,
    /// Amazon Connect only: the stored agent event stream checkpoint is older than the stream's retention (its
    /// records may be trimmed). Written by the test harness into the import state: moto never ages records out.
    CheckpointExpired,
    /// Amazon Connect only: the stream was deleted and re-created (trimmed past the checkpoint) in moto; the same
    /// agent events are published into the new stream.
    StreamRecreated,
}

const FAULTS: [VendorFault; 13] = [
    VendorFault::Unauthorized,
    VendorFault::Forbidden,
    VendorFault::RateLimitedOnce,
    VendorFault::RateLimitedAlways,
    VendorFault::ServerErrorOnce,
    VendorFault::ServerErrorAlways,
    VendorFault::SlowPastDeadline,
    VendorFault::TruncatedBody,
    VendorFault::MissingElement,
    VendorFault::EmptyListing,
    VendorFault::MissingPaging,
    VendorFault::ReportNeverFinishes,
    VendorFault::BudgetExhausted,
];

/// What a faulted run must end with.
#[derive(Debug, Clone, Copy)]
struct Expected {
    outcome: RunOutcome,
    /// The run's (and the integration's) failure reason.
    reason: Option<&'static str>,
    /// The integration's status after the run.
    state: &'static str,
    /// At most this many vendor calls more than a clean run makes.
    extra_calls: u64,
    /// A warning the run must carry (a piece of its text).
    warning: Option<&'static str>,
}

const fn failed(reason: &'static str, extra_calls: u64) -> Expected {
    Expected { outcome: RunOutcome::Failed, reason: Some(reason), state: "failing", extra_calls, warning: None }
}
const fn succeeded(extra_calls: u64) -> Expected {
    Expected { outcome: RunOutcome::Succeeded, reason: None, state: "operational", extra_calls, warning: None }
}
const fn partial(extra_calls: u64) -> Expected {
    Expected { outcome: RunOutcome::Partial, reason: None, state: "importing", extra_calls, warning: None }
}
/// A gap in a vendor's feed: the run succeeds with what could be read and says what may be missing.
const fn gap(warning: &'static str, extra_calls: u64) -> Expected {
    Expected { warning: Some(warning), ..succeeded(extra_calls) }
}

/// The agent-state gap a fault row must leave: its reason and the range each bound must fall in.
#[derive(Debug, Clone, Copy)]
struct GapBounds {
    reason: GapReason,
    from: (DateTime<Utc>, DateTime<Utc>),
    to: (DateTime<Utc>, DateTime<Utc>),
}

impl GapBounds {
    fn holds(&self, gap: &AgentStateGap) -> bool {
        let within = |t: DateTime<Utc>, (lo, hi): (DateTime<Utc>, DateTime<Utc>)| lo <= t && t <= hi;
        gap.reason == self.reason && within(gap.from, self.from) && within(gap.to, self.to)
    }
}

/// Retries of one call are bounded by the retry policy (`RetryPolicy::default().max_attempts`, checked below).
const RETRIES: u64 = 5;

/// The deadline of runs whose fault is about time (short, so the test stays fast) and of the others.
const SHORT: Duration = Duration::from_secs(5);
const LONG: Duration = Duration::from_secs(120);

/// One ACD under test: its simulator, how each fault is injected and what each must give.
trait Vendor {
    fn name(&self) -> &'static str;
    /// Injects the fault; returns the run's deadline.
    fn inject(&self, fault: VendorFault) -> Duration;
    fn clear(&self);
    fn expected(&self, fault: VendorFault) -> Expected;
    /// The truth the table must hold after a clean run over `window`: intervals and owned segment pieces.
    fn truth(&self, window: TimeWindow) -> (Vec<IntervalStats>, Vec<AgentSegment>);
    fn queue_ids(&self) -> Vec<String>;
    fn agent_ids(&self) -> Vec<String>;
    /// How long the simulator may still be busy with a request the client gave up on (Five9 refuses a second
    /// request of the user while one is in flight).
    fn settle(&self, fault: VendorFault) -> Duration {
        let _ = fault;
        Duration::ZERO
    }
    /// The faults this vendor can be tried with (its simulator's faults).
    fn faults(&self) -> Vec<VendorFault> {
        FAULTS.to_vec()
    }
    /// The part of a fault only the test harness can produce (stored state, moto), after [`Vendor::inject`]; and
    /// the agent-state gap the faulted run must find (and store, and `GET /agent-states` list), if any.
    fn harness<'a>(
        &'a self,
        fault: VendorFault,
        env: &'a Env,
        integration: &'a str,
    ) -> LocalBoxFuture<'a, Option<GapBounds>> {
        let _ = (fault, env, integration);
        Box::pin(async { None })
    }
}

struct Five9(Five9Simulator);

impl Vendor for Five9 {
    fn name(&self) -> &'static str {
        "five9"
    }
    fn inject(&self, fault: VendorFault) -> Duration {
        let sim = &self.0;
        let rule = |k: F9, op: &str| FaultRule::new(k).on(op);
        let (rules, deadline) = match fault {
            VendorFault::Unauthorized => (vec![FaultRule::new(F9::Unauthorized)], LONG),
            VendorFault::Forbidden => (vec![rule(F9::AccessDisallowed, "runReport")], LONG),
            VendorFault::RateLimitedOnce => (vec![rule(F9::OperationsLimitExceeded, "runReport").times(1)], LONG),
            VendorFault::RateLimitedAlways => {
                (vec![rule(F9::TooManyRequests { retry_after_secs: 1 }, "runReport")], LONG)
            }
            VendorFault::ServerErrorOnce => (vec![rule(F9::Http503, "runReport").times(1)], LONG),
            VendorFault::ServerErrorAlways => (vec![rule(F9::Http503, "runReport")], LONG),
            VendorFault::SlowPastDeadline => {
                (vec![rule(F9::Delay { ms: SHORT.as_millis() as u64 + 1_000 }, "runReport").times(1)], SHORT)
            }
            VendorFault::TruncatedBody => (vec![rule(F9::TruncatedBody, "getReportResultCsv")], LONG),
            VendorFault::MissingElement => (vec![rule(F9::MissingReturn, "getReportResultCsv")], LONG),
            VendorFault::EmptyListing => (vec![rule(F9::EmptyResult, "getCampaigns").times(1)], LONG),
            VendorFault::MissingPaging => (vec![rule(F9::HeaderlessCsv, "getReportResultCsv")], LONG),
            VendorFault::ReportNeverFinishes => (vec![rule(F9::ReportRunningForever, "runReport")], SHORT),
            VendorFault::BudgetExhausted => {
                sim.set_limits(Limits { report_request: [16, 0, 800], ..generous_limits() });
                (vec![], LONG)
            }
            other => panic!("no Five9 simulator fault for {other:?}"),
        };
        sim.set_faults(rules);
        deadline
    }
    fn clear(&self) {
        self.0.clear_faults();
        self.0.set_limits(generous_limits());
    }
    fn expected(&self, fault: VendorFault) -> Expected {
        match fault {
            VendorFault::Unauthorized => failed("credentials_rejected", 0),
            VendorFault::Forbidden => failed("permission_missing", 0),
            // Five9's limits are shared with the customer's other tools: a refusal ends the run, never retried.
            VendorFault::RateLimitedOnce | VendorFault::RateLimitedAlways => failed("rate_limited", 0),
            VendorFault::ServerErrorOnce => succeeded(1),
            // A fetch's three reports (call log, two agent-state reports) run side by side and each is retried
            // up to RETRIES times: ≤ 15 refused runReport against the clean run's 3 runReport, 3 retrievals and
            // their polls.
            VendorFault::ServerErrorAlways => failed("vendor_unavailable", 2 * RETRIES),
            VendorFault::SlowPastDeadline => partial(0),
            // runReport, then long polls of isReportRunning until the deadline (a few, not a spin).
            VendorFault::ReportNeverFinishes => partial(8),
            VendorFault::TruncatedBody | VendorFault::MissingElement | VendorFault::MissingPaging => {
                failed("vendor_data_malformed", 0)
            }
            // Issue 10, defect 2 (h2-import): one empty listing never marks every queue inactive; the run waits for
            // the next listing to confirm it (partial, with a warning), and the table is untouched.
            VendorFault::EmptyListing => partial(0),
            VendorFault::BudgetExhausted => failed("rate_limited", 0),
            other => panic!("no expectation for {other:?}"),
        }
    }
    fn truth(&self, window: TimeWindow) -> (Vec<IntervalStats>, Vec<AgentSegment>) {
        let mut stats = Vec::new();
        let mut segments = Vec::new();
        for chunk in day_chunks(window) {
            stats.extend(self.0.truth_intervals(chunk, Five9Grouping::Campaign));
            segments.extend(owned_pieces(&self.0.truth_segments(chunk), chunk));
        }
        (stats, segments)
    }
    fn queue_ids(&self) -> Vec<String> {
        self.0.truth_queues(Five9Grouping::Campaign).into_iter().map(|q| q.external_id).collect()
    }
    fn agent_ids(&self) -> Vec<String> {
        self.0.truth_agents().into_iter().map(|a| a.external_id).collect()
    }
    fn settle(&self, fault: VendorFault) -> Duration {
        match fault {
            VendorFault::SlowPastDeadline => Duration::from_millis(2_500),
            _ => Duration::ZERO,
        }
    }
}

/// Per-minute limits high enough for runs that follow each other within seconds.
fn generous_limits() -> Limits {
    Limits { query: [10_000; 3], report_request: [10_000; 3], retrieve_report: [10_000; 3] }
}

struct Genesys(GenesysSimulator);

impl Vendor for Genesys {
    fn name(&self) -> &'static str {
        "genesys_cloud"
    }
    fn inject(&self, fault: VendorFault) -> Duration {
        // The credentials check reads each route once (queues, users, presence, aggregates, user details): faults
        // meant for the import's own reads let that first request through.
        let data = |k: Gc| Fault::always(Target::Aggregates, k).after(1);
        let (fault, deadline) = match fault {
            VendorFault::Unauthorized => (Fault::always(Target::Token, Gc::Unauthorized), LONG),
            VendorFault::Forbidden => (data(Gc::Forbidden { permission: None }), LONG),
            VendorFault::RateLimitedOnce => {
                (Fault::once(Target::Aggregates, Gc::RateLimited { retry_after_secs: 1 }).after(1), LONG)
            }
            VendorFault::RateLimitedAlways => (data(Gc::RateLimited { retry_after_secs: 1 }), LONG),
            VendorFault::ServerErrorOnce => {
                (Fault::once(Target::Aggregates, Gc::ServerError { status: 503 }).after(1), LONG)
            }
            VendorFault::ServerErrorAlways => (data(Gc::ServerError { status: 503 }), LONG),
            VendorFault::SlowPastDeadline => (data(Gc::Delay { ms: SHORT.as_millis() as u64 + 1_000 }), SHORT),
            VendorFault::TruncatedBody => (data(Gc::Truncated), LONG),
            VendorFault::MissingElement => (Fault::always(Target::UserDetails, Gc::EmptyObject).after(1), LONG),
            VendorFault::EmptyListing => (Fault::once(Target::Queues, Gc::Empty).after(1), LONG),
            VendorFault::MissingPaging => (Fault::always(Target::Users, Gc::MissingPaging).after(1), LONG),
            VendorFault::ReportNeverFinishes => (Fault::always(Target::UserDetails, Gc::Hang).after(1), SHORT),
            VendorFault::BudgetExhausted => (data(Gc::RateLimited { retry_after_secs: 3_600 }), LONG),
            other => panic!("no Genesys Cloud simulator fault for {other:?}"),
        };
        self.0.add_fault(fault);
        deadline
    }
    fn clear(&self) {
        self.0.clear_faults();
    }
    fn expected(&self, fault: VendorFault) -> Expected {
        match fault {
            VendorFault::Unauthorized => failed("credentials_rejected", RETRIES),
            VendorFault::Forbidden => failed("permission_missing", 0),
            // Genesys paces with 429 + Retry-After: retried within the deadline, a bounded number of times.
            VendorFault::RateLimitedOnce | VendorFault::ServerErrorOnce => succeeded(1),
            VendorFault::RateLimitedAlways => failed("rate_limited", RETRIES),
            VendorFault::ServerErrorAlways => failed("vendor_unavailable", RETRIES),
            VendorFault::SlowPastDeadline | VendorFault::ReportNeverFinishes => partial(0),
            VendorFault::TruncatedBody | VendorFault::MissingElement | VendorFault::MissingPaging => {
                failed("vendor_data_malformed", 0)
            }
            // Issue 10, defect 2 (h2-import): one empty listing never marks every queue inactive; the run waits for
            // the next listing to confirm it (partial, with a warning), and the table is untouched.
            VendorFault::EmptyListing => partial(0),
            VendorFault::BudgetExhausted => failed("rate_limited", 0),
            other => panic!("no expectation for {other:?}"),
        }
    }
    fn truth(&self, window: TimeWindow) -> (Vec<IntervalStats>, Vec<AgentSegment>) {
        let mut stats = Vec::new();
        let mut segments = Vec::new();
        for chunk in day_chunks(window) {
            stats.extend(self.0.expected_interval_stats(chunk));
            segments.extend(owned_pieces(&self.0.expected_segments(chunk, true, GenesysAgentId::Username), chunk));
        }
        (stats, segments)
    }
    fn queue_ids(&self) -> Vec<String> {
        self.0.expected_queues().into_iter().map(|q| q.external_id).collect()
    }
    fn agent_ids(&self) -> Vec<String> {
        self.0.expected_agents(GenesysAgentId::Username).into_iter().map(|a| a.external_id).collect()
    }
}

/// The shared import environment, as this suite's tenant, with the table reads of this suite.
struct Env(ImportEnv);

impl std::ops::Deref for Env {
    type Target = ImportEnv;
    fn deref(&self) -> &ImportEnv {
        &self.0
    }
}

/// Everything the import writes that a fault must leave alone: the catalog items (queues with their `active`
/// flags, agents, statuses), every interval and every segment.
#[derive(Debug, PartialEq)]
struct Table {
    catalog: Vec<Item>,
    intervals: Vec<IntervalStats>,
    segments: Vec<AgentSegment>,
}

impl Env {
    async fn start(endpoints: Endpoints) -> Env {
        Env(ImportEnv::start(TENANT, endpoints).await)
    }

    async fn table(&self, integration: &str, agents: &[String]) -> Table {
        let partition = self.query(format!("T#{TENANT}#I#{integration}")).await;
        let sk = |i: &Item| i["SK"].as_s().unwrap().clone();
        // Run records, the lease, the run state, the connector's cursor and the day digests are the import's
        // bookkeeping, not data.
        let mut catalog: Vec<Item> = partition
            .into_iter()
            .filter(|i| !["RUN", "LEASE", "STATE", "CURSOR", "DIG#"].iter().any(|p| sk(i).starts_with(p)))
            .collect();
        catalog.sort_by_key(sk);
        let segments = self.segments(integration, agents).await;
        Table { catalog, intervals: self.intervals(integration).await, segments }
    }

    /// The integration's stored connector cursor (what the connector keeps between runs), as its item holds it.
    async fn cursor(&self, integration: &str) -> Value {
        let key = |pk: String, sk: &str| {
            [("PK".to_owned(), AttrValue::S(pk)), ("SK".to_owned(), AttrValue::S(sk.to_owned()))]
        };
        let pk = format!("T#{TENANT}#I#{integration}");
        let out = self
            .stack
            .clients
            .dynamodb()
            .get_item()
            .table_name(&self.stack.settings.table_name)
            .set_key(Some(key(pk, acd_aws::items::CURSOR_SK).into()))
            .consistent_read(true)
            .send()
            .await
            .unwrap();
        let (cursor, _) = acd_aws::cursor::read_cursor(&out.item.expect("a stored connector cursor")).unwrap();
        cursor
    }

    /// Rewrites the integration's stored connector cursor (a fault only the harness can produce).
    async fn edit_cursor(&self, integration: &str, edit: impl FnOnce(&mut Value)) {
        let mut cursor = self.cursor(integration).await;
        edit(&mut cursor);
        let item = acd_aws::cursor::cursor_item(format!("T#{TENANT}#I#{integration}"), &cursor).unwrap();
        let (dynamodb, table) = (self.stack.clients.dynamodb(), &self.stack.settings.table_name);
        dynamodb.put_item().table_name(table).set_item(Some(item)).send().await.unwrap();
    }

    /// The `gaps` of `GET /agent-states` over `[from, to)` (the answer checked against the spec).
    async fn listed_gaps(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Value {
        let auth = acd_app::http::TenantAuth::JwtClaim("tenant_id".into());
        let queries = acd_aws::wiring::queues_query_api(&self.stack.settings, &self.stack.clients, auth);
        let iso = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string();
        let path = format!("/agent-states?from={}&to={}", iso(from), iso(to));
        let (status, content_type, body) = acd_integration_tests::decode(
            queries.handle(acd_integration_tests::api_request("GET", &path, Some(TENANT), None)).await,
        );
        acd_integration_tests::openapi::spec().check("GET", &path, status, &content_type, &body);
        assert_eq!(status, 200, "{body}");
        body["gaps"].clone()
    }

    /// Queue external ids with their `active` flag.
    fn active_queues(table: &Table) -> Vec<(String, bool)> {
        let queues: Vec<QueueItem> =
            from_items(table.catalog.iter().filter(|i| i["SK"].as_s().unwrap().starts_with("Q#")).cloned().collect())
                .unwrap();
        let mut out: Vec<(String, bool)> = queues.into_iter().map(|q| (q.external_id, q.active)).collect();
        out.sort();
        out
    }
}

/// Equality with a readable first difference.
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

/// The first difference of two tables, readable.
fn difference(actual: &Table, expected: &Table) -> String {
    fn first<T: PartialEq + std::fmt::Debug>(what: &str, a: &[T], e: &[T]) -> Option<String> {
        let i = (0..a.len().max(e.len())).find(|&i| a.get(i) != e.get(i))?;
        Some(format!(
            "{what}: {} stored vs {} expected; first difference at {i}:\n      stored:   {:?}\n      expected: {:?}",
            a.len(),
            e.len(),
            a.get(i),
            e.get(i)
        ))
    }
    first("catalog (queues, agents, statuses)", &actual.catalog, &expected.catalog)
        .or_else(|| first("intervals", &actual.intervals, &expected.intervals))
        .or_else(|| first("segments", &actual.segments, &expected.segments))
        .unwrap_or_default()
}

/// Runs the whole matrix for one vendor; returns the failures (all faults are tried, then the test reports them
/// together, so one failing case does not hide the others).
async fn matrix(vendor: &dyn Vendor, env: &Env, body: Value, now: DateTime<Utc>) -> Vec<String> {
    assert_eq!(u64::from(RetryPolicy::default().max_attempts), RETRIES);
    let (status, created) = env.call("POST", "/integrations", Some(&body)).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    // Runs at one clock, one after the other: started "at once" (as sync now), not by the recurring schedule,
    // whose second run in a quarter hour already imported has nothing to do.
    let event = ImportEvent { tenant_id: TENANT.into(), integration_id: id.clone(), at_once: true };
    // A short safety margin and bookkeeping reserve, scaled to the 5 s deadline as the defaults (90 s, 10 s) are to
    // Lambda's 15 minutes: the runs with a 5 s deadline still start their fetches and run into the fault.
    let import = env.importer(ImportConfig {
        now: Some(now),
        safety_margin: Duration::from_secs(1),
        record_reserve: Duration::from_secs(1),
        ..ImportConfig::default()
    });
    let run = |deadline: Duration| {
        let import = &import;
        let event = &event;
        async move { import.run(event, Deadline::after(deadline)).await.expect("no storage failure").run.unwrap() }
    };

    // A clean start: the table equals the simulator's truth.
    let clean: RunRecord = run(LONG).await;
    assert_eq!(clean.outcome, RunOutcome::Succeeded, "{}: clean run {clean:?}", vendor.name());
    let window = clean.window.unwrap();
    let agents = vendor.agent_ids();
    let truth = env.table(&id, &agents).await;
    let (stats, segments) = vendor.truth(window);
    assert!(stats.len() > 20 && segments.len() > 20, "meaningful data: {} / {}", stats.len(), segments.len());
    assert_same(&truth.intervals, &sorted_stats(stats), "clean import: intervals equal the truth");
    assert_same(&truth.segments, &sorted_segments(segments), "clean import: segments equal the truth");
    let mut queue_ids = vendor.queue_ids();
    queue_ids.sort();
    let active: Vec<(String, bool)> = queue_ids.iter().map(|q| (q.clone(), true)).collect();
    assert_eq!(Env::active_queues(&truth), active, "clean import: every queue of the ACD, active");
    let baseline = clean.vendor_calls;
    // Nothing lost: every vendor's answer carries `gaps: []`.
    assert!(clean.agent_state_gaps.is_empty(), "{}: {clean:?}", vendor.name());
    assert_eq!(env.listed_gaps(window.start, window.end).await, json!([]), "{}: no gaps", vendor.name());

    let mut failures = Vec::new();
    for fault in vendor.faults() {
        let case = format!("{} {fault:?}", vendor.name());
        let expected = vendor.expected(fault);
        let deadline = vendor.inject(fault);
        let gap_expected = vendor.harness(fault, env, &id).await;
        let started = std::time::Instant::now();
        let faulted = run(deadline).await;
        let elapsed = started.elapsed();
        vendor.clear();
        tokio::time::sleep(vendor.settle(fault)).await;
        let (_, integration) = env.call("GET", &format!("/integrations/{id}"), None).await;
        let after_fault = env.table(&id, &agents).await;

        let mut problems = Vec::new();
        if faulted.outcome != expected.outcome {
            problems.push(format!(
                "outcome {:?}, expected {:?} ({:?}; warnings {:?}; counts {:?})",
                faulted.outcome, expected.outcome, faulted.message, faulted.warnings, faulted.counts
            ));
        }
        if faulted.reason.map(|r| r.as_str()) != expected.reason {
            problems
                .push(format!("reason {:?}, expected {:?} ({:?})", faulted.reason, expected.reason, faulted.message));
        }
        if let Some(warning) = expected.warning
            && !faulted.warnings.iter().any(|w| w.contains(warning))
        {
            problems.push(format!("no warning with {warning:?} among {:?}", faulted.warnings));
        }
        if integration["status"]["state"] != expected.state {
            problems.push(format!("status {}, expected {}", integration["status"]["state"], expected.state));
        }
        if integration["status"]["reason"] != json!(expected.reason) {
            problems.push(format!("status reason {}, expected {:?}", integration["status"]["reason"], expected.reason));
        }
        if faulted.vendor_calls > baseline + expected.extra_calls {
            problems.push(format!(
                "{} vendor calls, a clean run makes {baseline} (at most {} more expected)",
                faulted.vendor_calls, expected.extra_calls
            ));
        }
        if elapsed > deadline + Duration::from_secs(2) {
            problems.push(format!("the run took {elapsed:?}, past its deadline of {deadline:?}"));
        }
        if after_fault != truth {
            problems.push(format!("the table changed under the fault: {}", difference(&after_fault, &truth)));
        }
        // A gap the fault lost is on the run, stored, and listed by GET /agent-states over its span (not before it).
        let mut listed_gap = None;
        match (gap_expected, faulted.agent_state_gaps.as_slice()) {
            (None, []) => {}
            (Some(bounds), [gap]) if bounds.holds(gap) => {
                let listed = json!([{"integration_id": id, "from": gap.from, "to": gap.to, "reason": gap.reason}]);
                let over = env.listed_gaps(gap.from, gap.to).await;
                if over != listed {
                    problems.push(format!("GET /agent-states over the gap lists {over}, expected {listed}"));
                }
                let hour = chrono::Duration::hours(1);
                let before = env.listed_gaps(gap.from - hour * 2, gap.from - hour).await;
                if before != json!([]) {
                    problems.push(format!("GET /agent-states before the gap lists {before}"));
                }
                listed_gap = Some((*gap, listed));
            }
            (expected, found) => {
                problems.push(format!("agent-state gaps {found:?} on the run, expected {expected:?}"));
            }
        }

        // Recovery: the fault cleared, the next run succeeds and the table equals the truth.
        let recovered = run(LONG).await;
        let (_, integration) = env.call("GET", &format!("/integrations/{id}"), None).await;
        if recovered.outcome != RunOutcome::Succeeded || integration["status"]["state"] != "operational" {
            problems.push(format!(
                "recovery: {:?} {:?}, status {}",
                recovered.outcome, recovered.message, integration["status"]["state"]
            ));
        }
        let after_recovery = env.table(&id, &agents).await;
        if after_recovery != truth {
            problems
                .push(format!("after recovery the table is not the truth: {}", difference(&after_recovery, &truth)));
        }
        if !recovered.agent_state_gaps.is_empty() {
            problems.push(format!("recovery: agent-state gaps {:?}", recovered.agent_state_gaps));
        }
        if let Some((gap, listed)) = listed_gap
            && env.listed_gaps(gap.from, gap.to).await != listed
        {
            problems.push("after recovery the gap is no longer listed (lost data is lost)".to_owned());
        }
        if !problems.is_empty() {
            failures.push(format!("{case}:\n    {}", problems.join("\n    ")));
        }
    }
    failures
}

#[tokio::test]
async fn five9_faults_delay_data_and_never_delete_or_fake_it() {
    let now: DateTime<Utc> = "2024-11-05T20:00:00Z".parse().unwrap();
    let sim = Five9Simulator::start(Five9SimConfig {
        now: Some(now),
        agents: 6,
        limits: generous_limits(),
        // Long polls as long as the connector asks (10 s): a report that never finishes costs a few polls.
        max_long_poll: Duration::from_secs(10),
        ..Five9SimConfig::default()
    })
    .await
    .unwrap();
    let env = Env::start(Endpoints::default().with_var("FIVE9_BASE_URL", sim.base_url())).await;
    let body = json!({"name": "Five9 faults", "type": "five9",
        "credentials": {"username": sim.username(), "password": sim.password()},
        "settings": {"region": "us", "grouping": "campaign", "history_days": 1}});
    let vendor = Five9(sim);
    let failures = matrix(&vendor, &env, body, now).await;
    assert!(failures.is_empty(), "{} of {} faults failed:\n{}", failures.len(), FAULTS.len(), failures.join("\n"));
}

#[tokio::test]
async fn genesys_faults_delay_data_and_never_delete_or_fake_it() {
    let now: DateTime<Utc> = "2024-05-10T09:07:00Z".parse().unwrap();
    let sim = GenesysSimulator::start(GenesysSimConfig {
        now: Some(now),
        history_days: 4,
        queues: 3,
        agents: 5,
        max_page_size: 2,
        rate_limit_per_minute: None,
        ..GenesysSimConfig::default()
    })
    .await
    .unwrap();
    let env = Env::start(
        Endpoints::default()
            .with_var("GENESYS_CLOUD_API_BASE_URL", sim.base_url())
            .with_var("GENESYS_CLOUD_LOGIN_BASE_URL", sim.base_url()),
    )
    .await;
    let body = json!({"name": "Genesys faults", "type": "genesys_cloud",
        "credentials": {"client_id": sim.client_id(), "client_secret": sim.client_secret()},
        "settings": {"region": "eu_central_1", "detailed_on_queue_statuses": true, "history_days": 3}});
    let vendor = Genesys(sim);
    let failures = matrix(&vendor, &env, body, now).await;
    assert!(failures.is_empty(), "{} of {} faults failed:\n{}", failures.len(), FAULTS.len(), failures.join("\n"));
}

/// Two integrations on one Five9 API user importing at once: Five9 refuses the second's concurrent request
/// (`UserAlreadyLoggedInFault`, the simulator's `UserBusy`). A busy user is not the integration's failure: each
/// call is retried within the retry policy, then the run ends `partial` with a warning, the status stays
/// `importing` (not `failing`), the table is untouched, and the next run converges. Only a user still busy
/// `BUSY_TOLERANCE` (1 hour) after the streak began makes the run `failed` / `vendor_unavailable`.
#[tokio::test]
async fn five9_busy_user_delays_the_run_and_fails_only_when_it_persists() {
    use acd_app::import::BUSY_TOLERANCE;
    let now: DateTime<Utc> = "2024-11-05T20:00:00Z".parse().unwrap();
    let sim = Five9Simulator::start(Five9SimConfig {
        now: Some(now),
        agents: 6,
        limits: generous_limits(),
        ..Five9SimConfig::default()
    })
    .await
    .unwrap();
    let env = Env::start(Endpoints::default().with_var("FIVE9_BASE_URL", sim.base_url())).await;
    let body = json!({"name": "Five9 busy user", "type": "five9",
        "credentials": {"username": sim.username(), "password": sim.password()},
        "settings": {"region": "us", "grouping": "campaign", "history_days": 1}});
    let (status, created) = env.call("POST", "/integrations", Some(&body)).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    // Runs at one clock, one after the other: started "at once" (as sync now), not by the recurring schedule,
    // whose second run in a quarter hour already imported has nothing to do.
    let event = ImportEvent { tenant_id: TENANT.into(), integration_id: id.clone(), at_once: true };
    let importer = |at: DateTime<Utc>| {
        env.importer(ImportConfig {
            now: Some(at),
            safety_margin: Duration::from_secs(1),
            record_reserve: Duration::from_secs(1),
            ..ImportConfig::default()
        })
    };
    let import = importer(now);
    let agents: Vec<String> = sim.truth_agents().into_iter().map(|a| a.external_id).collect();
    let status_of = || async {
        let (_, integration) = env.call("GET", &format!("/integrations/{id}"), None).await;
        (integration["status"]["state"].clone(), integration["status"]["reason"].clone())
    };

    let clean = import.run(&event, Deadline::after(LONG)).await.unwrap().run.unwrap();
    assert_eq!(clean.outcome, RunOutcome::Succeeded, "{clean:?}");
    let truth = env.table(&id, &agents).await;
    assert!(truth.intervals.len() > 20 && truth.segments.len() > 20, "meaningful data");

    // 1. Busy while the reports are requested (the listings got through): partial, the days wait.
    sim.set_faults(vec![FaultRule::new(F9::UserBusy).on("runReport")]);
    let (requests, refused) = (sim.stats().requests, sim.stats().refused_concurrent);
    let mid = import.run(&event, Deadline::after(LONG)).await.unwrap().run.unwrap();
    let refused_mid = sim.stats().refused_concurrent - refused;
    let spent_mid = sim.stats().requests - requests;
    assert_eq!(mid.outcome, RunOutcome::Partial, "{mid:?}");
    assert_eq!(mid.reason, None, "{mid:?}");
    assert!(mid.warnings.iter().any(|w| w.contains("busy") && w.contains("next run tries again")), "{mid:?}");
    // The fetch's three reports (call log, two agent-state reports) are requested side by side: each runReport is
    // tried at most as often as the retry policy allows. The call log and the first agent-state report are tried
    // to the end; the second agent-state report is given up when the first has failed (between 0 and all its tries).
    assert!(
        (2 * RETRIES..=3 * RETRIES).contains(&refused_mid),
        "{refused_mid} refused: each runReport tried at most as often as the retry policy allows"
    );
    assert!(
        spent_mid <= clean.vendor_calls + 2 * RETRIES,
        "{spent_mid} calls, a clean run makes {}",
        clean.vendor_calls
    );
    assert_eq!(status_of().await, (json!("importing"), Value::Null), "a busy user is not a failing integration");
    assert!(env.table(&id, &agents).await == truth, "the table is untouched by a busy user");

    // 2. Busy from the first call (the credential check): partial again, 5 attempts and not one more.
    sim.set_faults(vec![FaultRule::new(F9::UserBusy)]);
    let requests = sim.stats().requests;
    let early = import.run(&event, Deadline::after(LONG)).await.unwrap().run.unwrap();
    assert_eq!((early.outcome, early.reason), (RunOutcome::Partial, None), "{early:?}");
    assert_eq!(sim.stats().requests - requests, RETRIES, "the busy check call was retried, then the run ended");
    assert_eq!(status_of().await, (json!("importing"), Value::Null));
    assert!(env.table(&id, &agents).await == truth);

    // 3. Still busy just under the tolerance after the streak began: still partial; past it: failing.
    let minutes = BUSY_TOLERANCE.num_minutes();
    let nearly = importer(now + BUSY_TOLERANCE - chrono::Duration::minutes(1));
    let run = nearly.run(&event, Deadline::after(LONG)).await.unwrap().run.unwrap();
    assert_eq!(run.outcome, RunOutcome::Partial, "{minutes} min minus one: {run:?}");
    let late = importer(now + BUSY_TOLERANCE);
    let run = late.run(&event, Deadline::after(LONG)).await.unwrap().run.unwrap();
    assert_eq!(run.outcome, RunOutcome::Failed, "{run:?}");
    assert_eq!(run.reason.map(|r| r.as_str()), Some("vendor_unavailable"));
    let message = run.message.clone().unwrap_or_default();
    assert!(message.contains("busy since 2024-11-05T20:00:00Z") && message.contains("own user"), "{message}");
    assert_eq!(status_of().await, (json!("failing"), json!("vendor_unavailable")));
    assert!(env.table(&id, &agents).await == truth);

    // 4. The user is free again: the next run converges, the streak is over.
    sim.clear_faults();
    let recovered = import.run(&event, Deadline::after(LONG)).await.unwrap().run.unwrap();
    assert_eq!(recovered.outcome, RunOutcome::Succeeded, "{recovered:?}");
    assert_eq!(status_of().await, (json!("operational"), Value::Null));
    let after = env.table(&id, &agents).await;
    assert!(after == truth, "after recovery: {}", difference(&after, &truth));
    // A later busy run starts a new streak: partial, not failing at once.
    sim.set_faults(vec![FaultRule::new(F9::UserBusy)]);
    let run = late.run(&event, Deadline::after(LONG)).await.unwrap().run.unwrap();
    assert_eq!(run.outcome, RunOutcome::Partial, "a new streak after a good run: {run:?}");

    // 5. Busy only at the reports, run after run: the listings get through, but no day is read, so they do not end
    // the streak; past the tolerance the run fails all the same.
    sim.set_faults(vec![FaultRule::new(F9::UserBusy).on("runReport")]);
    let later = importer(now + BUSY_TOLERANCE * 2);
    let run = later.run(&event, Deadline::after(LONG)).await.unwrap().run.unwrap();
    assert_eq!(
        (run.outcome, run.reason.map(|r| r.as_str())),
        (RunOutcome::Failed, Some("vendor_unavailable")),
        "{run:?}"
    );
    assert_eq!(status_of().await, (json!("failing"), json!("vendor_unavailable")));
    // A run that writes a day ends the streak: the next busy run is partial again.
    sim.clear_faults();
    let run = later.run(&event, Deadline::after(LONG)).await.unwrap().run.unwrap();
    assert_eq!(run.outcome, RunOutcome::Succeeded, "{run:?}");
    let written = env.table(&id, &agents).await;
    sim.set_faults(vec![FaultRule::new(F9::UserBusy).on("runReport")]);
    let run = importer(now + BUSY_TOLERANCE * 3).run(&event, Deadline::after(LONG)).await.unwrap().run.unwrap();
    assert_eq!(run.outcome, RunOutcome::Partial, "a new streak after a written day: {run:?}");
    assert!(env.table(&id, &agents).await == written, "a busy run deletes nothing");
}

/// Amazon Connect: the Connect simulator (also STS, trusting the tenant's external id) and moto's Kinesis. Its rows
/// are the faults the simulator has: a role that does not trust the external id, a refused permission, throttling
/// and 5xx once and for good, a null metric where contacts were handled, an empty queue listing; and the agent event
/// stream's: a stored checkpoint past the stream's retention, a stream re-created past the checkpoint.
struct Connect {
    sim: ConnectSimulator,
    kinesis: aws_sdk_kinesis::Client,
    /// The agent events published (again into a re-created stream).
    events: Vec<Value>,
    external_id: String,
    agents: usize,
    day: DateTime<Utc>,
}

impl Vendor for Connect {
    fn name(&self) -> &'static str {
        "amazon_connect"
    }
    fn faults(&self) -> Vec<VendorFault> {
        use VendorFault::*;
        vec![
            Unauthorized,
            Forbidden,
            RateLimitedOnce,
            RateLimitedAlways,
            ServerErrorOnce,
            ServerErrorAlways,
            MissingElement,
            EmptyListing,
            MissingPaging,
            CheckpointExpired,
            StreamRecreated,
        ]
    }
    fn inject(&self, fault: VendorFault) -> Duration {
        match fault {
            VendorFault::Unauthorized => self.sim.trust("acd-another-tenants-id-000000000000"),
            VendorFault::Forbidden => self.sim.add_fault(CFault::Deny { operation: "GetMetricDataV2".into() }),
            VendorFault::RateLimitedOnce => self.sim.add_fault(CFault::Throttle { n: 1 }),
            VendorFault::RateLimitedAlways => self.sim.add_fault(CFault::Throttle { n: u32::MAX }),
            VendorFault::ServerErrorOnce => self.sim.add_fault(CFault::ServerError { n: 1 }),
            VendorFault::ServerErrorAlways => self.sim.add_fault(CFault::ServerError { n: u32::MAX }),
            VendorFault::MissingElement => self.sim.add_fault(CFault::NullAnswerTime),
            VendorFault::EmptyListing => {
                // The run's credentials check probes ListQueues first: the import's own listing is the second.
                self.sim.add_fault(CFault::EmptyQueues { skip: 1, n: 1 })
            }
            // Paging that never moves on: the user listing's NextToken comes back the same after the first page.
            // (Not the statistics': whether a run's statistics need a second page of 100 rows depends on the
            // simulator's traffic in the hours the run re-reads, so on the clock; at some hours none did, and the
            // fault never showed.)
            VendorFault::MissingPaging => self.sim.add_fault(CFault::StuckToken { operation: "ListUsers".into() }),
            VendorFault::CheckpointExpired | VendorFault::StreamRecreated => {} // in `harness`
            other => panic!("no Amazon Connect simulator fault for {other:?}"),
        }
        LONG
    }
    fn harness<'a>(
        &'a self,
        fault: VendorFault,
        env: &'a Env,
        integration: &'a str,
    ) -> LocalBoxFuture<'a, Option<GapBounds>> {
        Box::pin(async move {
            match fault {
                VendorFault::CheckpointExpired => {
                    // Every shard's checkpoint last read to its tip 30 hours ago (the stream keeps 24 h): the gap
                    // runs from there to the trim horizon, 24 h before the run.
                    let now = Utc::now();
                    let last_read = now - chrono::Duration::hours(30);
                    let read_through = json!(last_read.to_rfc3339());
                    env.edit_cursor(integration, |cursor| {
                        let shards = cursor["shards"].as_object_mut().expect("a stored stream cursor");
                        assert!(!shards.is_empty());
                        for shard in shards.values_mut() {
                            shard["read_through"] = read_through.clone();
                        }
                    })
                    .await;
                    let horizon = now - chrono::Duration::hours(24);
                    Some(GapBounds {
                        reason: GapReason::CheckpointExpired,
                        from: (last_read, last_read),
                        to: (horizon, horizon + chrono::Duration::minutes(5)),
                    })
                }
                VendorFault::StreamRecreated => {
                    // The gap runs from the last read of the stream (the stored checkpoint) to the new stream's
                    // creation (moto keeps it to the second).
                    let cursor = env.cursor(integration).await;
                    let last_read = cursor["shards"]
                        .as_object()
                        .expect("a stored stream cursor")
                        .values()
                        .filter(|s| s["done"] != true)
                        .filter_map(|s| s["read_through"].as_str()?.parse::<DateTime<Utc>>().ok())
                        .min()
                        .expect("a shard read to its tip");
                    let second = chrono::Duration::seconds(1);
                    let recreating = Utc::now() - second;
                    ConnectSimulator::recreate_stream(&self.kinesis, STREAM, 1).await.unwrap();
                    let recreated = Utc::now() + second;
                    ConnectSimulator::publish_agent_events(&self.kinesis, STREAM, &self.events).await.unwrap();
                    Some(GapBounds {
                        reason: GapReason::StreamRecreated,
                        from: (last_read, last_read),
                        to: (recreating, recreated),
                    })
                }
                _ => None,
            }
        })
    }
    fn clear(&self) {
        self.sim.clear_faults();
        self.sim.trust(&self.external_id);
    }
    fn expected(&self, fault: VendorFault) -> Expected {
        match fault {
            // AssumeRole refused: not retried.
            VendorFault::Unauthorized => failed("credentials_rejected", 0),
            VendorFault::Forbidden => failed("permission_missing", 0),
            VendorFault::RateLimitedOnce | VendorFault::ServerErrorOnce => succeeded(1),
            VendorFault::RateLimitedAlways => failed("rate_limited", RETRIES),
            VendorFault::ServerErrorAlways => failed("vendor_unavailable", RETRIES),
            VendorFault::MissingElement | VendorFault::MissingPaging => failed("vendor_data_malformed", 0),
            VendorFault::EmptyListing => partial(0),
            // The gap is on the run; the checkpoint is kept (the records may still be there) and nothing is deleted.
            VendorFault::CheckpointExpired => gap("keeps 24 h", 0),
            // The new stream is read from its start: the records were read before, the table does not change.
            VendorFault::StreamRecreated => gap("re-created", 2),
            other => panic!("no Amazon Connect expectation for {other:?}"),
        }
    }
    fn truth(&self, window: TimeWindow) -> (Vec<IntervalStats>, Vec<AgentSegment>) {
        let stats = self.sim.truth(window.start, window.end);
        let (_, all) = connect_sim::agent_events(self.agents, self.day);
        let mut segments = Vec::new();
        for chunk in day_chunks(window) {
            segments.extend(owned_pieces(&all, chunk));
        }
        (stats, segments)
    }
    fn queue_ids(&self) -> Vec<String> {
        let queues = self.sim.config().queues;
        (0..queues)
            .flat_map(|q| ["calls", "chats", "emails", "cases"].map(|c| format!("{}:{c}", connect_sim::queue_id(q))))
            .collect()
    }
    fn agent_ids(&self) -> Vec<String> {
        (0..self.agents).map(connect_sim::user_id).collect()
    }
}

#[tokio::test]
async fn amazon_connect_faults_delay_data_and_never_delete_or_fake_it() {
    let now = Utc::now();
    let agents = 6;
    let ConnectEnv { env, sim, kinesis, stream_arn } =
        // Listings of 2 a page: the user listing always has several pages (`MissingPaging` sticks its token).
        ImportEnv::start_connect(TENANT, ConnectSimConfig { queues: 3, agents, page_size: 2, ..Default::default() }, STREAM)
            .await;
    let day = connect_sim::midnight(now) - chrono::Duration::days(1);
    let (events, _) = connect_sim::agent_events(agents, day);
    ConnectSimulator::publish_agent_events(&kinesis, STREAM, &events).await.unwrap();
    let env = Env(env);
    let (status, issued) = env.call("POST", "/integrations/amazon-connect/external-id", None).await;
    assert_eq!(status, 201);
    let external_id = issued["external_id"].as_str().unwrap().to_owned();
    sim.trust(&external_id);
    let body = json!({"name": "Connect faults", "type": "amazon_connect",
        "credentials": {"role_arn": "arn:aws:iam::111122223333:role/acd-connect-read"},
        "settings": {"region": connect_sim::REGION, "instance_id": connect_sim::INSTANCE_ID,
                     "agent_event_stream_arn": stream_arn, "history_days": 2}});
    let vendor = Connect { sim, kinesis, events, external_id, agents, day };
    let failures = matrix(&vendor, &env, body, now).await;
    let rows = vendor.faults().len();
    assert!(failures.is_empty(), "{} of {rows} faults failed:\n{}", failures.len(), failures.join("\n"));
}
