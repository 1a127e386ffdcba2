//! Import benchmark: a large Genesys Cloud (or, `--vendor five9`, Five9; `--vendor connect`, Amazon Connect)
//! integration (default 200 queues, 300 agents, 7 days) imported from the simulator process into moto through the
//! real import service, then a steady-state 15-minute run. (Amazon Connect: the agent event stream is moto's
//! Kinesis, filled before the measured runs by a child process of this benchmark, so neither its memory nor its CPU
//! count as the import's; the simulator is Connect and the role's STS.)
//!
//! Run it with `scripts/bench-import` (starts the simulator as its own process, so the numbers below are the
//! import's alone). Prints wall time, CPU time and peak RSS of this process, vendor calls, DynamoDB write
//! requests and items written, and the DynamoDB capacity units the same requests would consume in AWS (computed
//! from the items' sizes by DynamoDB's documented rules: moto's `ConsumedCapacity` is a fixed placeholder). The
//! meter that sizes every request runs on the import's thread, inside the process CPU measured: its own time is
//! printed, and a second CPU figure leaves it out (the import's CPU alone).
//!
//! `--steady-metric-latency-ms N` (Amazon Connect): each `GetMetricDataV2` answer of the steady run takes N ms, as
//! AWS's would (the back-fill runs without it), so its wall time shows what calls in flight save.
//!
//! `--steady-runs N` (default 1): N steady-state runs, 15 minutes apart, each reported on its own (a re-read's
//! cost can differ from run to run: Amazon Connect's statistics re-read moves to the next hour every fourth run).
//!
//! `--repeat-in-quarter`: after the first steady run, the same import 5 minutes later in its quarter hour, 20 times
//! as the recurring schedule sends it (it skips: imported through this quarter hour already) and 3 times at once (a
//! sync now; it runs), each reported per run: wall and CPU time, calls to the ACD and to DynamoDB, capacity units.
//!
//! `--states-passes N` (Genesys Cloud, Amazon Connect): after the steady runs, the agent-states pass switched on at
//! `1m` (a PATCH through the API) and N passes one minute apart, each reported (segments, writes, calls to the ACD
//! and DynamoDB, capacity units, wall and CPU), then the average and a 30-day month of them in request units and
//! dollars.
//!
//! `--runtime current` (default, like the functions) or `multi` picks the tokio runtime; `--in-flight N` the
//! BatchWriteItem calls in flight (default: the functions' default); `--sdk-stalled-stream on` turns the SDK's
//! stalled-stream protection back on for DynamoDB (the functions turn it off, see `acd_aws::AwsClients`), for a
//! before/after pair from one binary.
//!
//! `--bucket-estimate` also prints what the same runs would write if intervals were stored per queue-hour and
//! segments per agent-hour, one item each (a what-if of a data-model change, not what the import does): the
//! buckets the runs touched, their sizes and write units. The back-fill's buckets are sized from the items it put
//! (a back-filled day is all new); the steady run's from the table after it (a changed bucket is rewritten whole).
//! Then it writes every interval and segment the table holds once more, as they are and as hour buckets, into two
//! scratch tables with the import's batch writer, and prints the CPU of each write: the write path alone, both forms
//! measured the same way in one process. (The flag's bookkeeping runs in the meter, see above.)
//!
//! At the end it prints the table's storage as DynamoDB bills it (item sizes plus 100 bytes each, the name index's
//! items counted again), per kind of item, and the interval and segment data per day of history.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use acd_app::http::TenantAuth;
use acd_app::import::{ImportConfig, ImportEvent, RunOutcome, RunRecord};
use acd_app::verifier::ConnectorVerifier;
use acd_aws::wiring;
use acd_connectors::{ConnectorFactory, Deadline, Endpoints, HttpClient};
use acd_integration_tests::{Item, api_request, decode, partition_items};
use acd_test_harness::AwsStack;
use aws_sdk_dynamodb::config::interceptors::{
    AfterDeserializationInterceptorContextRef, BeforeSerializationInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use serde_json::json;

/// The import function's allocator (`functions/import/src/main.rs`; the API functions keep glibc's): the benchmark
/// runs the import's library code in-process. `scripts/bench-import` sets `MIMALLOC_PURGE_DELAY=0` as the template does.
/// Not with the `heap-profile` feature (`BENCH_HEAPTRACK`): heaptrack sees only the system allocator's allocations.
#[cfg(not(feature = "heap-profile"))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned())
}

/// User + system CPU seconds of this process (from /proc/self/stat; clock ticks of 1/100 s on Linux).
fn cpu_seconds() -> f64 {
    let [user, system, _] = cpu_split();
    user + system
}

/// User CPU seconds, system CPU seconds and minor page faults of this process so far (/proc/self/stat, fields
/// `utime`, `stime` and `minflt`): how much of the CPU is the kernel's, and how much of that is faulting memory in.
fn cpu_split() -> [f64; 3] {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_name = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or_default();
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let field = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    [field(11) / 100.0, field(12) / 100.0, field(7)]
}

/// Peak resident set size of this process, in MiB.
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// DynamoDB's item size: attribute names plus values (strings and binaries by length, numbers about one byte per
/// two digits plus one, lists and maps 3 bytes plus one per element).
fn value_size(v: &AttributeValue) -> u64 {
    match v {
        AttributeValue::S(s) => s.len() as u64,
        AttributeValue::N(n) => (n.trim_start_matches('-').len() as u64).div_ceil(2) + 1,
        AttributeValue::B(b) => b.as_ref().len() as u64,
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::L(l) => 3 + l.iter().map(|x| 1 + value_size(x)).sum::<u64>(),
        AttributeValue::M(m) => map_size(m.iter()),
        AttributeValue::Ss(l) => l.iter().map(|x| x.len() as u64).sum(),
        AttributeValue::Ns(l) => l.iter().map(|x| (x.len() as u64).div_ceil(2) + 1).sum(),
        AttributeValue::Bs(l) => l.iter().map(|x| x.as_ref().len() as u64).sum(),
        _ => 0,
    }
}

fn item_size(item: &Item) -> u64 {
    item.iter().map(|(k, v)| k.len() as u64 + value_size(v)).sum()
}

/// A map's size from its entries (the `M` rule of [`value_size`]).
fn map_size<'a>(entries: impl Iterator<Item = (&'a String, &'a AttributeValue)>) -> u64 {
    3 + entries.map(|(k, x)| 1 + k.len() as u64 + value_size(x)).sum::<u64>()
}

/// Capacity units the requests would consume in AWS, in hundredths (on-demand: 1 WRU per started KiB written per
/// item, 1 RRU per started 4 KiB read by a consistent read, half of it eventually consistent).
#[derive(Debug, Default)]
struct Capacity {
    write_centi: AtomicU64,
    read_centi: AtomicU64,
    calls: AtomicU64,
    /// `--bucket-estimate`: the hour buckets the writes touched, with the bytes the put items would add to them.
    buckets: Option<Mutex<BTreeMap<(String, String), u64>>>,
    /// Every partition a write named (what the storage figure reads back, see [`print_storage`]).
    partitions: Mutex<BTreeSet<String>>,
    /// Nanoseconds spent in the meter's own hooks: the benchmark's bookkeeping, which runs on the import's thread and
    /// so inside the process CPU it measures (item sizes of every request; `--bucket-estimate`'s buckets too).
    meter_nanos: AtomicU64,
}

/// The hour bucket (`--bucket-estimate`) of an interval (`IV#YYYY-MM-DDTHH:MMZ`) or segment
/// (`S#YYYY-MM-DDTHH:MM:SS.mmmZ`) item's sort key: the key up to the hour. Other items have none.
fn hour_bucket(sk: &str) -> Option<&str> {
    let len = if sk.starts_with("IV#") {
        "IV#YYYY-MM-DDTHH".len()
    } else if sk.starts_with("S#") {
        "S#YYYY-MM-DDTHH".len()
    } else {
        return None;
    };
    sk.get(..len)
}

/// An item's attributes but its keys: what it would put in its bucket.
fn non_key(item: &Item) -> impl Iterator<Item = (&String, &AttributeValue)> {
    item.iter().filter(|(k, _)| *k != "PK" && *k != "SK")
}

/// What an item adds to its bucket: its attributes but the keys, as one map element of a list (DynamoDB's sizes).
fn bucket_element_size(item: &Item) -> u64 {
    1 + map_size(non_key(item))
}

/// A bucket item's size: its keys (`PK`, `SK` up to the hour), and a list attribute `v` of its elements.
fn bucket_item_size(pk: &str, bucket: &str, elements: u64) -> u64 {
    "PK".len() as u64 + pk.len() as u64 + "SK".len() as u64 + bucket.len() as u64 + "v".len() as u64 + 3 + elements
}

fn key_of(item: &Item) -> Option<(String, String)> {
    let pk = item.get("PK")?.as_s().ok()?;
    let bucket = hour_bucket(item.get("SK")?.as_s().ok()?)?;
    Some((pk.clone(), bucket.to_owned()))
}

impl Capacity {
    fn write(&self, bytes: u64) {
        self.write_centi.fetch_add(100 * bytes.div_ceil(1024).max(1), Ordering::Relaxed);
    }
    fn read(&self, bytes: u64, consistent: bool) {
        let units = bytes.div_ceil(4096).max(1) * 100;
        self.read_centi.fetch_add(if consistent { units } else { units / 2 }, Ordering::Relaxed);
    }
    /// Seconds spent in the meter's hooks so far (wall time of synchronous code on the import's thread: its CPU).
    fn meter_seconds(&self) -> f64 {
        self.meter_nanos.load(Ordering::Relaxed) as f64 / 1e9
    }
    fn timed(&self, started: Instant) {
        self.meter_nanos.fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
    }
    fn units(&self) -> (f64, f64) {
        (
            self.write_centi.load(Ordering::Relaxed) as f64 / 100.0,
            self.read_centi.load(Ordering::Relaxed) as f64 / 100.0,
        )
    }
}

#[derive(Debug, Clone)]
struct CapacityMeter(Arc<Capacity>);

impl Intercept for CapacityMeter {
    fn name(&self) -> &'static str {
        "CapacityMeter"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        let started = Instant::now();
        self.measure_input(context);
        self.0.timed(started);
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        use aws_sdk_dynamodb::operation as op;
        let started = Instant::now();
        if let Ok(output) = context.output_or_error() {
            if let Some(o) = output.downcast_ref::<op::query::QueryOutput>() {
                // The import's Queries are consistent reads since 2026-12-05 (they were eventually consistent).
                self.0.read(o.items().iter().map(item_size).sum(), true);
            } else if let Some(o) = output.downcast_ref::<op::get_item::GetItemOutput>() {
                self.0.read(o.item().map_or(0, item_size), true); // the import's GetItems are consistent reads
            }
        }
        self.0.timed(started);
        Ok(())
    }
}

impl CapacityMeter {
    /// What a request will write: units, the partitions it names, `--bucket-estimate`'s buckets.
    fn measure_input(&self, context: &BeforeSerializationInterceptorContextRef<'_>) {
        use aws_sdk_dynamodb::operation as op;
        let input = context.input();
        let c = &self.0;
        c.calls.fetch_add(1, Ordering::Relaxed);
        let named = |key: Option<&Item>| {
            if let Some(pk) = key.and_then(|k| k.get("PK")).and_then(|v| v.as_s().ok()) {
                // Most items name a partition already seen (a day's buckets share their queue's or agent's): copied
                // only the first time.
                let mut seen = c.partitions.lock().unwrap();
                if !seen.contains(pk) {
                    seen.insert(pk.clone());
                }
            }
        };
        if let Some(i) = input.downcast_ref::<op::batch_write_item::BatchWriteItemInput>() {
            for request in i.request_items().into_iter().flat_map(|m| m.values()).flatten() {
                named(request.put_request().map(|p| p.item()));
                match (request.put_request(), request.delete_request()) {
                    (Some(put), _) => c.write(item_size(put.item())),
                    (None, Some(_)) => c.write(1), // a delete costs the deleted item's size: ours are < 1 KiB
                    _ => {}
                }
                if let Some(buckets) = &c.buckets {
                    let (item, added) = match (request.put_request(), request.delete_request()) {
                        (Some(put), _) => (put.item(), bucket_element_size(put.item())),
                        (None, Some(delete)) => (delete.key(), 0),
                        _ => continue,
                    };
                    if let Some(key) = key_of(item) {
                        *buckets.lock().unwrap().entry(key).or_default() += added;
                    }
                }
            }
        } else if let Some(i) = input.downcast_ref::<op::put_item::PutItemInput>() {
            named(i.item());
            c.write(i.item().map_or(0, item_size));
        } else if let Some(i) = input.downcast_ref::<op::update_item::UpdateItemInput>() {
            named(i.key());
            c.write(1); // catalog, lease and digest items are < 1 KiB
        } else if input.downcast_ref::<op::delete_item::DeleteItemInput>().is_some() {
            c.write(1);
        } else if let Some(i) = input.downcast_ref::<op::transact_write_items::TransactWriteItemsInput>() {
            for t in i.transact_items() {
                named(t.put().map(|p| p.item()));
                named(t.update().map(|u| u.key()));
                // Transactions cost twice; a put by its item's size, the rest (catalog, lease, record items) < 1 KiB.
                let size = t.put().map_or(1, |p| item_size(p.item()));
                c.write(size);
                c.write(size);
            }
        }
    }
}

fn report(label: &str, run: &RunRecord, wall: Duration, cpu: f64) {
    let c = &run.counts;
    println!("== {label}");
    println!(
        "   outcome            {:?} (days {}, window {:?})",
        run.outcome,
        c.days,
        run.window.map(|w| (w.start, w.end))
    );
    if let Some(message) = &run.message {
        println!("   message            {message}");
    }
    println!("   wall time          {:.1} s", wall.as_secs_f64());
    println!("   CPU time           {cpu:.2} s (user + system, this process)");
    println!("   peak RSS           {:.1} MiB (process high-water mark so far)", peak_rss_mib());
    println!("   vendor calls       {}", run.vendor_calls);
    println!("   queues/agents/statuses  {} / {} / {}", c.queues, c.agents, c.statuses);
    println!("   intervals read     {} non-empty; segments {}", c.intervals, c.segments);
    println!(
        "   DynamoDB writes    {} write requests in {} BatchWriteItem calls (+ {} catalog requests)",
        c.interval_writes.write_requests + c.segment_writes.write_requests,
        c.interval_writes.batches + c.segment_writes.batches,
        c.catalog_writes.write_requests
    );
    println!(
        "   DynamoDB reads     {} Query/GetItem calls to compare (intervals {}, segments {}, catalog {})",
        c.interval_writes.reads + c.segment_writes.reads + c.catalog_writes.reads,
        c.interval_writes.reads,
        c.segment_writes.reads,
        c.catalog_writes.reads
    );
    println!(
        "   items written      intervals {} (+{} deleted, {} unchanged), segments {} (+{} deleted, {} unchanged)",
        c.interval_writes.written,
        c.interval_writes.deleted,
        c.interval_writes.unchanged,
        c.segment_writes.written,
        c.segment_writes.deleted,
        c.segment_writes.unchanged
    );
}

fn main() {
    if arg("--vendor").as_deref() == Some("connect") {
        // The Amazon Connect connector calls STS with the function's own credentials, read from the environment as
        // in Lambda (moto's test credentials; the simulator answers AssumeRole).
        // SAFETY: no other thread exists yet (the runtime is built below).
        unsafe {
            std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
            std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
            std::env::set_var("AWS_REGION", "us-east-1");
        }
    }
    if let Some(kinesis_url) = arg("--publish-connect-events") {
        // The child process of `publish_in_child`: fills the stream, prints how many events, exits.
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
        let published = runtime.block_on(publish_connect_events_to(&kinesis_url));
        println!("{published}");
        return;
    }
    let mut runtime = match arg("--runtime").as_deref() {
        None | Some("current") => tokio::runtime::Builder::new_current_thread(),
        Some("multi") => tokio::runtime::Builder::new_multi_thread(),
        Some(other) => panic!("--runtime {other}: current or multi"),
    };
    runtime.enable_all().build().expect("tokio runtime").block_on(bench());
}

async fn bench() {
    let sim = arg("--sim-url").expect("--sim-url (scripts/bench-import passes it)");
    let vendor = arg("--vendor").unwrap_or_else(|| "genesys".into());
    let now: DateTime<Utc> = arg("--now").expect("--now").parse().expect("RFC 3339 --now");
    let days: u32 = arg("--days").map_or(7, |d| d.parse().expect("--days"));

    let mut stack = AwsStack::start().await;
    if let Some(n) = arg("--in-flight") {
        stack.settings.writes_in_flight = n.parse().expect("--in-flight");
    }
    let estimate = std::env::args().any(|a| a == "--bucket-estimate");
    let capacity = Arc::new(Capacity { buckets: estimate.then(Mutex::default), ..Capacity::default() });
    let plain = stack.clients.dynamodb().clone();
    let mut dynamodb = stack.clients.dynamodb().config().to_builder().interceptor(CapacityMeter(capacity.clone()));
    let stalled_stream = match arg("--sdk-stalled-stream").as_deref() {
        None | Some("off") => "off (as the functions)",
        Some("on") => {
            dynamodb = dynamodb
                .stalled_stream_protection(aws_sdk_dynamodb::config::StalledStreamProtectionConfig::enabled().build());
            "on (the SDK's default)"
        }
        Some(other) => panic!("--sdk-stalled-stream {other}: on or off"),
    };
    stack.clients.set_dynamodb(aws_sdk_dynamodb::Client::from_conf(dynamodb.build()));
    println!(
        "runtime {}, {} BatchWriteItem calls in flight, DynamoDB stalled-stream protection {stalled_stream}",
        arg("--runtime").unwrap_or_else(|| "current".into()),
        stack.settings.writes_in_flight,
    );
    // Amazon Connect: the number of agents (the steady run's events are published later).
    let mut connect_stream: Option<usize> = None;
    let (endpoints, body, clock_route) = match vendor.as_str() {
        "genesys" => {
            let client_id = arg("--client-id").expect("--client-id");
            let client_secret = arg("--client-secret").expect("--client-secret");
            let endpoints = Endpoints::default()
                .with_var("GENESYS_CLOUD_API_BASE_URL", sim.clone())
                .with_var("GENESYS_CLOUD_LOGIN_BASE_URL", sim.clone());
            let body = json!({"name": "Benchmark", "type": "genesys_cloud",
                              "credentials": {"client_id": client_id, "client_secret": client_secret},
                              "settings": {"region": "us_east_1", "detailed_on_queue_statuses": true,
                                           "history_days": days}});
            (endpoints, body, Some("/__sim/clock"))
        }
        "five9" => {
            let info: serde_json::Value =
                reqwest::get(format!("{sim}/__sim/info")).await.unwrap().json().await.expect("five9-sim info");
            let endpoints = Endpoints::default().with_var("FIVE9_BASE_URL", sim.clone());
            let body = json!({"name": "Benchmark", "type": "five9",
                              "credentials": {"username": info["username"], "password": info["password"]},
                              "settings": {"region": "us", "grouping": "campaign", "history_days": days}});
            (endpoints, body, Some("/__sim/now"))
        }
        "connect" => {
            use acd_connectors::amazon_connect::AwsEndpoints;
            use acd_simulators::amazon_connect as connect;
            // Connect and STS (the customer role's trust) are the simulator; the agent event stream is moto's
            // Kinesis, filled here with every agent's events up to `now` (before the CPU is measured).
            let kinesis = aws_sdk_kinesis::Client::new(&stack.moto.sdk_config().await);
            let stream_arn = connect::ConnectSimulator::create_stream(&kinesis, CONNECT_STREAM, 1).await.unwrap();
            let info: serde_json::Value =
                reqwest::get(format!("{sim}/__sim/info")).await.unwrap().json().await.expect("connect-sim info");
            let agents = info["agents"].as_u64().expect("connect-sim info: agents") as usize;
            let t0 = Instant::now();
            let published = publish_in_child(&stack.moto.endpoint, agents, now, days, None);
            println!(
                "agent event stream: {published} events up to {now} ({:.1} s, in a child process)",
                t0.elapsed().as_secs_f64()
            );
            let endpoints = AwsEndpoints {
                connect: Some(sim.clone()),
                sts: Some(sim.clone()),
                kinesis: Some(stack.moto.endpoint.clone()),
            }
            .into_endpoints(Endpoints::default());
            let body = json!({"name": "Benchmark", "type": "amazon_connect",
                              "credentials": {"role_arn": "arn:aws:iam::123456789012:role/acd-connect-read"},
                              "settings": {"region": connect::REGION, "instance_id": connect::INSTANCE_ID,
                                           "agent_event_stream_arn": stream_arn, "history_days": days}});
            connect_stream = Some(agents);
            (endpoints, body, None)
        }
        other => panic!("--vendor {other}: genesys, five9 or connect"),
    };
    let factory = ConnectorFactory::new(HttpClient::new().unwrap(), endpoints);
    let api = wiring::integrations_api(
        &stack.settings,
        &stack.clients,
        Arc::new(ConnectorVerifier { factory: factory.clone() }),
        TenantAuth::Header,
    );
    if connect_stream.is_some() {
        // The tenant's external id (issued by the API, as the customer's role is created with it), trusted by the
        // simulator's STS before the create verifies the role.
        let mut request = api_request("POST", "/integrations/amazon-connect/external-id", None, None);
        request.headers_mut().insert("x-tenant-id", "bench".parse().unwrap());
        let (status, _, issued) = decode(api.handle(request).await);
        assert_eq!(status, 201, "{issued}");
        let trust = reqwest::Client::new()
            .post(format!("{sim}/__sim/trust"))
            .json(&json!({"external_id": issued["external_id"]}))
            .send()
            .await;
        assert!(trust.unwrap().status().is_success(), "the simulator trusts the external id");
    }
    let mut request = api_request("POST", "/integrations", None, Some(&body));
    request.headers_mut().insert("x-tenant-id", "bench".parse().unwrap());
    let (status, created) = {
        let (s, _, b) = decode(api.handle(request).await);
        (s, b)
    };
    assert_eq!(status, 201, "{created}");
    let event = ImportEvent {
        tenant_id: "bench".into(),
        integration_id: created["id"].as_str().unwrap().into(),
        at_once: false,
    };

    println!("baseline peak RSS {:.1} MiB (moto client, API, runtime)", peak_rss_mib());
    // The import function as deployed, its clock at `at`.
    let import_at = |at: DateTime<Utc>| {
        let config = ImportConfig { now: Some(at), ..ImportConfig::default() };
        wiring::import_service(&stack.settings, &stack.clients, factory.clone(), config)
    };
    let import = import_at(now);
    // Like the schedule: runs of at most 14 minutes (Lambda allows 15) until the back-fill is complete.
    let (cpu_start, split_start, start) = (cpu_seconds(), cpu_split(), Instant::now());
    let mut written_total = 0u64;
    let mut imported_total = 0u64;
    let (mut calls_now, mut requests_now) = (0u64, 0u64);
    for n in 1.. {
        let (cpu0, t0) = (cpu_seconds(), Instant::now());
        let run = import.run(&event, Deadline::after(Duration::from_secs(14 * 60))).await.unwrap().run.unwrap();
        report(&format!("back-fill of {days} days, run {n}"), &run, t0.elapsed(), cpu_seconds() - cpu0);
        written_total += run.counts.interval_writes.written + run.counts.segment_writes.written;
        imported_total += run.counts.intervals + run.counts.segments;
        calls_now += run.counts.interval_writes.batches + run.counts.segment_writes.batches;
        requests_now += run.counts.interval_writes.write_requests + run.counts.segment_writes.write_requests;
        print_reports(&sim, &vendor).await;
        if run.outcome != RunOutcome::Partial || n == 10 {
            break;
        }
    }
    let cpu_total = cpu_seconds() - cpu_start;
    println!("== back-fill total: wall {:.1} s, CPU {cpu_total:.1} s", start.elapsed().as_secs_f64());
    let split = cpu_split();
    println!(
        "   user / system      {:.2} / {:.2} s; {:.0} minor page faults",
        split[0] - split_start[0],
        split[1] - split_start[1],
        split[2] - split_start[2]
    );
    println!(
        "   CPU per item       {:.1} µs per interval or segment item written ({written_total} items)",
        cpu_total * 1e6 / written_total.max(1) as f64
    );
    // The same unit with and without hour buckets (the default: one item per queue-hour and agent-hour).
    println!(
        "   CPU per entry      {:.1} µs per interval or segment imported ({imported_total} read from the ACD; hour \
         buckets {})",
        cpu_total * 1e6 / imported_total.max(1) as f64,
        match (stack.settings.hour_buckets, stack.settings.compact_segment_buckets) {
            (false, _) => "off",
            (true, false) => "on",
            (true, true) => "on, segment buckets compact",
        }
    );
    let meter_backfill = capacity.meter_seconds();
    println!(
        "   without the meter  {:.1} µs per entry: {meter_backfill:.2} s of the CPU was this benchmark's capacity meter \
         (sizing every request; not the import's)",
        (cpu_total - meter_backfill) * 1e6 / imported_total.max(1) as f64
    );
    let (wru, rru) = capacity.units();
    println!(
        "   capacity (AWS)     {wru:.0} write units, {rru:.0} read units in {} DynamoDB calls (on-demand request units)",
        capacity.calls.load(Ordering::Relaxed)
    );
    let mut data_partitions = BTreeSet::new();
    if let Some(buckets) = &capacity.buckets {
        let backfill = std::mem::take(&mut *buckets.lock().unwrap());
        data_partitions.extend(backfill.keys().map(|(pk, _)| pk.clone()));
        let sized = backfill
            .into_iter()
            .map(|((pk, bucket), elements)| {
                let size = bucket_item_size(&pk, &bucket, elements);
                ((pk, bucket), Some(size))
            })
            .collect();
        print_buckets(sized, calls_now, requests_now);
    }
    let peak = peak_rss_mib();
    // The template's default ImportMemorySize (MB); 128 MB is Lambda's smallest size.
    for (label, mb) in [("512 MB (default)", 512.0), ("128 MB (minimum)", 128.0)] {
        println!("   {label:<18} {}", if peak < mb { "within" } else { "EXCEEDED" });
    }

    // Fifteen minutes later (and `--steady-runs N`: every 15 minutes after that): the simulator's clock and the
    // import's move on together.
    let steady_runs: u32 = arg("--steady-runs").map_or(1, |n| n.parse().expect("--steady-runs: a count"));
    let (mut at, mut meter_before, mut last) = (now, meter_backfill, None);
    // The latest clock a repeat in the first steady run's quarter hour ran at (`--repeat-in-quarter`).
    let mut repeated_at: Option<DateTime<Utc>> = None;
    for i in 1..=steady_runs {
        let later = at + chrono::Duration::minutes(15);
        if let Some(route) = clock_route {
            let answer = reqwest::Client::new().post(format!("{sim}{route}")).json(&json!({"now": later})).send().await;
            assert!(answer.unwrap().status().is_success(), "the simulator's clock moved");
        }
        if let Some(agents) = connect_stream {
            // The events of those 15 minutes reach the stream (Connect's statistics need no clock: any window is
            // served).
            let published = publish_in_child(&stack.moto.endpoint, agents, later, days, Some(at));
            println!("agent event stream: {published} more events up to {later}");
            if let Some(ms) = arg("--steady-metric-latency-ms").filter(|_| i == 1) {
                // AWS's answer time, which the steady run's wall time (and so its billed duration) is made of.
                let ms: u64 = ms.parse().expect("--steady-metric-latency-ms: milliseconds");
                let answer = reqwest::Client::new()
                    .post(format!("{sim}/__sim/latency"))
                    .json(&json!({"metric_ms": ms}))
                    .send()
                    .await;
                assert!(answer.unwrap().status().is_success(), "the simulator's latency was set");
                println!("GetMetricDataV2 answers take {ms} ms from now on (the simulator)");
            }
        }
        if vendor == "five9" {
            // Five9's per-minute limits (five9-sim's too) reset at the start of each minute of the real clock, and a
            // run 15 minutes later starts in a fresh one: so does this run (not timed). Otherwise the back-fill's
            // last reports and this run's first ones can share one minute and pass the 16 `runReport` a minute,
            // which only back-to-back runs do, and the run ends `rate_limited`.
            next_minute().await;
        }
        let steady = import_at(later);
        let (cpu0, t0) = (cpu_seconds(), Instant::now());
        let (w0, r0) = capacity.units();
        let run = steady.run(&event, Deadline::after(Duration::from_secs(14 * 60))).await.unwrap().run.unwrap();
        let steady_cpu = cpu_seconds() - cpu0;
        let title = if i == 1 {
            "steady-state run 15 minutes later (re-reads the reconciliation window)".to_owned()
        } else {
            format!("steady-state run {} minutes after the back-fill", 15 * i)
        };
        report(&title, &run, t0.elapsed(), steady_cpu);
        // A steady run writes little: what it costs is mostly re-reading, so its CPU is given per item re-read.
        let c = &run.counts;
        let reread = c.interval_writes.written
            + c.interval_writes.unchanged
            + c.segment_writes.written
            + c.segment_writes.unchanged;
        println!(
            "   CPU per item       {:.2} µs per interval or segment item re-read ({reread} items)",
            steady_cpu * 1e6 / reread.max(1) as f64
        );
        let meter_steady = capacity.meter_seconds() - meter_before;
        println!(
            "   without the meter  {:.2} µs per item re-read ({meter_steady:.2} s in the capacity meter)",
            (steady_cpu - meter_steady) * 1e6 / reread.max(1) as f64
        );
        let (w1, r1) = capacity.units();
        println!("   capacity (AWS)     {:.0} write units, {:.0} read units", w1 - w0, r1 - r0);
        if i == 1 && std::env::args().any(|a| a == "--repeat-in-quarter") {
            // Five minutes on, in the same quarter hour: the recurring schedule's event again (delivered twice, or a
            // schedule still on rate()), then the same run asked for at once (sync now), which is what each such
            // repeat cost before a scheduled one skipped. Several of each, for a CPU figure above /proc's 10 ms; each
            // Five9 run that reads reports starts in a minute of its own (not timed), as the steady run above does.
            let repeat = import_at(later + chrono::Duration::minutes(5));
            repeated_at = Some(later + chrono::Duration::minutes(5));
            for (label, at_once) in [("scheduled (skips)", false), ("at once (runs)", true)] {
                let times: u32 = if at_once { 3 } else { 20 };
                let (vendor0, calls0) =
                    (sim_requests_so_far(&sim, &vendor).await, capacity.calls.load(Ordering::Relaxed));
                let (w0, r0) = capacity.units();
                let (mut cpu, mut wall) = (0.0, 0.0);
                let mut outcomes = BTreeSet::new();
                for _ in 0..times {
                    if at_once && vendor == "five9" {
                        next_minute().await;
                    }
                    let event = ImportEvent { at_once, ..event.clone() };
                    let (cpu0, t0) = (cpu_seconds(), Instant::now());
                    let summary = repeat.run(&event, Deadline::after(Duration::from_secs(14 * 60))).await.unwrap();
                    (cpu, wall) = (cpu + cpu_seconds() - cpu0, wall + t0.elapsed().as_secs_f64());
                    outcomes.insert(format!("{:?}", summary.outcome));
                }
                let ((w1, r1), vendor1) = (capacity.units(), sim_requests_so_far(&sim, &vendor).await);
                let each = |x: f64| x / f64::from(times);
                println!("== a repeat 5 minutes later, in the same quarter hour, {label}: {times} times, per run");
                println!("   outcome            {}", outcomes.into_iter().collect::<Vec<_>>().join(", "));
                println!("   wall / CPU         {:.1} ms / {:.1} ms", each(wall) * 1e3, each(cpu) * 1e3);
                println!(
                    "   calls              {:.1} to the ACD (the simulator's count), {:.1} to DynamoDB",
                    each((vendor1 - vendor0) as f64),
                    each((capacity.calls.load(Ordering::Relaxed) - calls0) as f64)
                );
                println!("   capacity (AWS)     {:.1} write units, {:.1} read units", each(w1 - w0), each(r1 - r0));
            }
        }
        (at, meter_before, last) = (later, capacity.meter_seconds(), Some(run));
    }
    let passes: u32 = arg("--states-passes").map_or(0, |n| n.parse().expect("--states-passes: a count"));
    if passes > 0 {
        assert!(vendor != "five9", "--states-passes: Five9 has no agent-states pass");
        // The agent-states pass switched on at its shortest cadence, as an admin would (PATCH), then one pass a
        // minute after the last steady run, the simulator's clock (or the agent event stream) moving with it.
        let path = format!("/integrations/{}", event.integration_id);
        let cadence = json!({"settings": {"agent_state_cadence": "1m"}});
        let mut request = api_request("PATCH", &path, None, Some(&cadence));
        request.headers_mut().insert("x-tenant-id", "bench".parse().unwrap());
        let (status, _, patched) = decode(api.handle(request).await);
        assert_eq!(status, 200, "{patched}");
        let (mut cpu, mut wall, mut vendor_calls, mut dynamodb_calls, mut wru, mut rru) = (0.0, 0.0, 0, 0, 0.0, 0.0);
        // After every run above, the repeats included.
        let at = repeated_at.map_or(at, |r| r.max(at));
        let mut before = at;
        for i in 1..=passes {
            let pass_at = at + chrono::Duration::minutes(i64::from(i));
            if let Some(route) = clock_route {
                let answer =
                    reqwest::Client::new().post(format!("{sim}{route}")).json(&json!({"now": pass_at})).send().await;
                assert!(answer.unwrap().status().is_success(), "the simulator's clock moved");
            }
            if let Some(agents) = connect_stream {
                publish_in_child(&stack.moto.endpoint, agents, pass_at, days, Some(before));
            }
            before = pass_at;
            let pass = import_at(pass_at);
            let (vendor0, calls0, (w0, r0)) =
                (sim_requests_so_far(&sim, &vendor).await, capacity.calls.load(Ordering::Relaxed), capacity.units());
            let (cpu0, t0) = (cpu_seconds(), Instant::now());
            let summary = pass.run_states(&event, Deadline::after(Duration::from_secs(14 * 60))).await.unwrap();
            let (pass_cpu, pass_wall) = (cpu_seconds() - cpu0, t0.elapsed().as_secs_f64());
            let ((w1, r1), vendor1) = (capacity.units(), sim_requests_so_far(&sim, &vendor).await);
            let calls = capacity.calls.load(Ordering::Relaxed) - calls0;
            let run = summary.run.unwrap_or_else(|| panic!("pass {i} did not run: {}", summary.detail));
            let w = &run.counts.segment_writes;
            println!(
                "== agent-states pass {i} at {pass_at}: {:?}, {} segments of {} agents; {} written, {} unchanged, {} \
                 deleted in {} write requests; {} ACD calls, {calls} DynamoDB calls, {:.0} WRU / {:.0} RRU; wall {:.0} \
                 ms, CPU {:.0} ms",
                run.outcome,
                run.counts.segments,
                run.counts.agents,
                w.written,
                w.unchanged,
                w.deleted,
                w.write_requests,
                vendor1 - vendor0,
                w1 - w0,
                r1 - r0,
                pass_wall * 1e3,
                pass_cpu * 1e3
            );
            (cpu, wall, vendor_calls, dynamodb_calls) =
                (cpu + pass_cpu, wall + pass_wall, vendor_calls + vendor1 - vendor0, dynamodb_calls + calls);
            (wru, rru) = (wru + w1 - w0, rru + r1 - r0);
        }
        let each = |x: f64| x / f64::from(passes);
        println!(
            "== agent-states passes at `1m`: {passes} passes, per pass (the meter counts a DeleteItem as 1 write unit)"
        );
        println!("   wall / CPU         {:.0} ms / {:.0} ms", each(wall) * 1e3, each(cpu) * 1e3);
        println!(
            "   calls              {:.1} to the ACD, {:.1} to DynamoDB",
            each(vendor_calls as f64),
            each(dynamodb_calls as f64)
        );
        // 43,200 passes in a 30-day month; on-demand prices of the README's cost model (us-east-1).
        let month = 43_200.0;
        println!(
            "   capacity (AWS)     {:.1} write units, {:.1} read units; a 30-day month of passes: {:.2} M WRU, {:.2} M \
             RRU ≈ ${:.2} (at $0.625 / $0.125 per million)",
            each(wru),
            each(rru),
            each(wru) * month / 1e6,
            each(rru) * month / 1e6,
            each(wru) * month * 0.625e-6 + each(rru) * month * 0.125e-6
        );
    }
    // The what-if below sizes the last steady run's buckets.
    let run = last.expect("at least one steady run");
    if let Some(buckets) = &capacity.buckets {
        let touched = std::mem::take(&mut *buckets.lock().unwrap());
        data_partitions.extend(touched.keys().map(|(pk, _)| pk.clone()));
        let (items, by_bucket) = read_data(&plain, &stack.settings.table_name, &data_partitions).await;
        // A changed bucket is rewritten whole: size it from what the table holds after the run.
        let sized = touched
            .into_keys()
            .map(|(pk, bucket)| {
                let elements = by_bucket.get(&(pk.clone(), bucket.clone()));
                let size = elements.map(|e| bucket_item_size(&pk, &bucket, e.iter().map(|e| 1 + value_size(e)).sum()));
                ((pk, bucket), size)
            })
            .collect();
        let c = &run.counts;
        print_buckets(
            sized,
            c.interval_writes.batches + c.segment_writes.batches,
            c.interval_writes.write_requests + c.segment_writes.write_requests,
        );
        write_both_forms(&plain, items, by_bucket, stack.settings.writes_in_flight).await;
    }
    let partitions = std::mem::take(&mut *capacity.partitions.lock().unwrap());
    print_storage(&plain, &stack.settings.table_name, partitions).await;
    print_reports(&sim, &vendor).await;
}

const CONNECT_STREAM: &str = "connect-agent-events";

/// [`publish_connect_events`] in a child process of this benchmark (its memory and CPU are not the import's, which
/// this process measures), against moto at `moto_url`. Returns how many events were written.
fn publish_in_child(
    moto_url: &str,
    agents: usize,
    until: DateTime<Utc>,
    days: u32,
    after: Option<DateTime<Utc>>,
) -> usize {
    // Blocking: nothing else runs in this process meanwhile (tokio's `process` feature is not built).
    let mut child = std::process::Command::new(std::env::current_exe().expect("this benchmark's path"));
    child.args(["--publish-connect-events", moto_url, "--agents", &agents.to_string()]);
    child.args(["--until", &until.to_rfc3339(), "--days", &days.to_string()]);
    if let Some(after) = after {
        child.args(["--after", &after.to_rfc3339()]);
    }
    let out = child.output().expect("the publishing child process starts");
    assert!(out.status.success(), "publishing the agent events failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().parse().expect("the child prints how many events it wrote")
}

/// The child's side of [`publish_in_child`]: its arguments, then [`publish_connect_events`].
async fn publish_connect_events_to(moto_url: &str) -> usize {
    let time = |name: &str| arg(name).map(|t| t.parse::<DateTime<Utc>>().expect("RFC 3339 time"));
    let agents = arg("--agents").and_then(|a| a.parse().ok()).expect("--agents");
    let days = arg("--days").and_then(|d| d.parse().ok()).expect("--days");
    let kinesis = aws_sdk_kinesis::Client::new(&acd_test_harness::moto_sdk_config(moto_url).await);
    publish_connect_events(&kinesis, agents, time("--until").expect("--until"), days, time("--after")).await
}

/// Amazon Connect: every agent's events of the simulator's working days (`days` before `until`'s day, and that day)
/// that happened after `after` (`None`: all) and by `until`, into the moto stream. Day by day (a day's events held
/// at a time, to keep the publishing process small), each day's in the order they happened, so every agent's
/// events are in order; the contact events (no time; the connector skips them) go with their day's first batch
/// when `after` is `None`. Returns how many were written.
async fn publish_connect_events(
    kinesis: &aws_sdk_kinesis::Client,
    agents: usize,
    until: DateTime<Utc>,
    days: u32,
    after: Option<DateTime<Utc>>,
) -> usize {
    use acd_simulators::amazon_connect as connect;
    let stamp = |e: &serde_json::Value| e["EventTimestamp"].as_str().map(|t| t.parse::<DateTime<Utc>>().unwrap());
    let today = connect::midnight(until);
    let mut published = 0;
    for d in (0..=i64::from(days)).rev() {
        let (mut events, _) = connect::agent_events(agents, today - chrono::Duration::days(d));
        events.retain(|e| match stamp(e) {
            None => after.is_none(),
            Some(t) => t <= until && after.is_none_or(|a| t > a),
        });
        events.sort_by_key(stamp);
        connect::ConnectSimulator::publish_agent_events_batched(kinesis, CONNECT_STREAM, &events).await.unwrap();
        published += events.len();
    }
    published
}

/// What the table holds after the runs, as DynamoDB bills storage: every item's size (the rules of [`value_size`])
/// plus 100 bytes of indexing overhead, and each item of the queue name index (it projects every attribute) once
/// more with its own 100 bytes. Read partition by partition, every partition a write of the benchmark named (all
/// the table holds here: moto's Scan pages re-walk the whole table, minutes at 300,000 items). Interval and segment
/// data per kind and form, and per day of data: the days are the distinct dates of the data's sort keys.
async fn print_storage(client: &aws_sdk_dynamodb::Client, table: &str, partitions: BTreeSet<String>) {
    const OVERHEAD: u64 = 100;
    use acd_aws::buckets::{INTERVAL_SK_PREFIX, is_bucket_sk};
    use acd_aws::items::{DIGEST_SK_PREFIX, SEGMENT_SK_PREFIX};
    let mut kinds: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    let (mut days, mut total, mut data) = (BTreeSet::new(), 0u64, 0u64);
    let mut cursors = Vec::new();
    for pk in partitions {
        for item in &partition_items(client, table, pk).await {
            let sk = item.get("SK").and_then(|v| v.as_s().ok()).map_or("", String::as_str);
            if sk == acd_aws::items::CURSOR_SK
                && let Ok((cursor, _)) = acd_aws::cursor::read_cursor(item)
            {
                cursors.push((item_size(item), serde_json::to_vec(&cursor).map_or(0, |j| j.len())));
            }
            let prefix = [INTERVAL_SK_PREFIX, SEGMENT_SK_PREFIX].into_iter().find(|p| sk.starts_with(p));
            let kind = match (prefix, is_bucket_sk(sk)) {
                (Some(INTERVAL_SK_PREFIX), true) => "interval hour buckets",
                (Some(_), true) => "segment hour buckets",
                (Some(INTERVAL_SK_PREFIX), false) => "intervals (single items)",
                (Some(_), false) => "segments (single items)",
                (None, _) if sk.starts_with(DIGEST_SK_PREFIX) => "digests",
                (None, _) => "catalog, runs, settings",
            };
            let size = item_size(item) + OVERHEAD;
            let bytes = if item.contains_key(acd_aws::keys::GSI1PK) { 2 * size } else { size };
            if let Some(p) = prefix {
                data += bytes;
                if let Some(date) = sk.get(p.len()..p.len() + "YYYY-MM-DD".len()) {
                    days.insert(date.to_owned());
                }
            }
            total += bytes;
            let entry = kinds.entry(kind).or_default();
            entry.0 += 1;
            entry.1 += bytes;
        }
    }
    println!("== storage (DynamoDB's billed size: items + 100 bytes each, name index items counted again)");
    for (kind, (items, bytes)) in &kinds {
        println!("   {kind:<26} {items:>8} items {:>10.2} MB", *bytes as f64 / 1e6);
    }
    for (stored, json) in cursors {
        println!("   connector cursor item      {stored} bytes (its JSON: {json} bytes)");
    }
    let per_day = data as f64 / days.len().max(1) as f64;
    println!(
        "   total                      {:.2} MB; interval and segment data {:.2} MB over {} days = {:.2} MB a day, \
         {:.3} GB per 30 days of history",
        total as f64 / 1e6,
        data as f64 / 1e6,
        days.len(),
        per_day / 1e6,
        per_day * 30.0 / 1e9
    );
}

/// `--bucket-estimate`: the hour buckets a run touched (size `None`: emptied, a delete), as items, BatchWriteItem
/// calls (25 a call, per day and kind as the import flushes) and write units, next to what the run wrote.
fn print_buckets(buckets: BTreeMap<(String, String), Option<u64>>, calls_now: u64, requests_now: u64) {
    let mut per_chunk: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    let (mut intervals, mut segments, mut units, mut largest) = (0u64, 0u64, 0u64, 0u64);
    for ((_, bucket), size) in &buckets {
        let (kind, hour) = bucket.split_once('#').unwrap_or_default();
        let day = hour.get(..10).unwrap_or(hour);
        *per_chunk.entry((kind, day)).or_default() += 1;
        if kind == "IV" {
            intervals += 1
        } else {
            segments += 1
        }
        units += size.map_or(1, |s| s.div_ceil(1024).max(1));
        largest = largest.max(size.unwrap_or(0));
    }
    let calls: u64 = per_chunk.values().map(|n| n.div_ceil(25)).sum();
    let days: BTreeSet<&str> = per_chunk.keys().map(|(_, day)| *day).collect();
    println!(
        "   hour buckets (what-if)  {} items (queue-hours {intervals}, agent-hours {segments}) in ≥ {calls} BatchWriteItem calls, \
         {units} write units, largest {largest} bytes, {} days; this run: {requests_now} write requests in {calls_now} calls",
        buckets.len(),
        days.len()
    );
}

/// `--bucket-estimate`: every interval and segment item of `partitions`, and the same items' attributes (keys left
/// out) grouped by hour bucket.
async fn read_data(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    partitions: &BTreeSet<String>,
) -> (Vec<Item>, BTreeMap<(String, String), Vec<AttributeValue>>) {
    let (mut items, mut buckets) = (Vec::new(), BTreeMap::<_, Vec<_>>::new());
    for pk in partitions {
        for item in partition_items(client, table, pk.clone()).await {
            if let Some(key) = key_of(&item) {
                let element = non_key(&item).map(|(k, v)| (k.clone(), v.clone())).collect();
                buckets.entry(key).or_default().push(AttributeValue::M(element));
                items.push(item);
            }
        }
    }
    (items, buckets)
}

/// `--bucket-estimate`, measured: the interval and segment items written once more as they are and once as hour
/// buckets, each into a table of its own with the import's batch writer (`acd_aws::batch::write_all`, the same calls
/// in flight) and the functions' DynamoDB client configuration; the CPU of each write is this process's, read before
/// and after it.
async fn write_both_forms(
    client: &aws_sdk_dynamodb::Client,
    items: Vec<Item>,
    buckets: BTreeMap<(String, String), Vec<AttributeValue>>,
    in_flight: usize,
) {
    use acd_aws::batch::{AbortAfter, write_all};
    let bucket_items: Vec<_> = buckets
        .into_iter()
        .map(|((pk, bucket), elements)| {
            Item::from([
                ("PK".to_owned(), AttributeValue::S(pk)),
                ("SK".to_owned(), AttributeValue::S(bucket)),
                ("v".to_owned(), AttributeValue::L(elements)),
            ])
        })
        .collect();
    let (n_items, n_buckets) = (items.len(), bucket_items.len());
    for (name, form) in [("bench-items", items), ("bench-hour-buckets", bucket_items)] {
        acd_aws::schema::create_table(client, name).await.expect("create a scratch table");
        let cpu0 = cpu_seconds();
        let counts = write_all(client, name, form, Vec::new(), in_flight, &AbortAfter::default()).await.expect("write");
        let cpu = cpu_seconds() - cpu0;
        println!(
            "   write, measured    {name}: {} items in {} BatchWriteItem calls, CPU {cpu:.2} s = {:.1} µs per interval or \
             segment ({n_items}), {:.0} µs per call",
            counts.requests,
            counts.calls,
            cpu * 1e6 / n_items.max(1) as f64,
            cpu * 1e6 / counts.calls.max(1) as f64
        );
    }
    println!("   (the same {n_items} intervals and segments: {n_buckets} hour buckets)");
}

/// Sleeps into the next minute of the real clock, where Five9's per-minute limits (five9-sim's too) start afresh.
async fn next_minute() {
    let into_minute = chrono::Utc::now().timestamp_millis().rem_euclid(60_000) as u64;
    tokio::time::sleep(Duration::from_millis(60_000 - into_minute + 200)).await;
}

/// Requests the simulator has answered so far, every operation (Connect's STS stand-in included; the agent event
/// stream is moto's and not among them).
async fn sim_requests_so_far(sim: &str, vendor: &str) -> u64 {
    let (route, field) = match vendor {
        "connect" => ("/__sim/info", "calls"),
        "five9" => ("/__sim/stats", "operations"),
        _ => ("/__sim/requests", ""),
    };
    let answer: serde_json::Value = reqwest::get(format!("{sim}{route}")).await.unwrap().json().await.unwrap();
    let counts = if field.is_empty() { &answer } else { &answer[field] };
    // Genesys Cloud's counters also count answers by kind (401, 429): only the routes are requests.
    let routes = ["token", "queues", "users", "presence_definitions", "aggregates", "user_details"];
    let counts = counts.as_object().expect("the simulator's request counts");
    counts
        .iter()
        .filter(|(k, _)| !field.is_empty() || routes.contains(&k.as_str()))
        .filter_map(|(_, n)| n.as_u64())
        .sum()
}

/// Five9: the reports run so far (what the domain's ReportRequest budget counts); Amazon Connect: the calls per
/// operation so far.
async fn print_reports(sim: &str, vendor: &str) {
    if vendor == "connect" {
        // Which operations the vendor calls were (GetMetricDataV2 pages, listings, AssumeRole), counted by the
        // simulator; the agent event stream's Kinesis calls are moto's and not among them.
        let info: serde_json::Value =
            reqwest::get(format!("{sim}/__sim/info")).await.unwrap().json().await.expect("connect-sim info");
        let calls = info["calls"]
            .as_object()
            .map(|calls| calls.iter().map(|(operation, n)| format!("{operation} {n}")).collect::<Vec<_>>().join(", "));
        println!("   Connect calls      {} so far", calls.unwrap_or_default());
    }
    if vendor != "five9" {
        return;
    }
    let stats: serde_json::Value =
        reqwest::get(format!("{sim}/__sim/stats")).await.unwrap().json().await.expect("five9-sim stats");
    println!(
        "   Five9 runReport    {} so far (rate-limited: {})",
        stats["operations"]["runReport"], stats["rate_limited"]
    );
}
