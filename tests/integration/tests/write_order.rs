//! The write order of the import's hour-bucket writer across flushes, end to end: every write call of an import
//! against moto is recorded (an SDK interceptor on the DynamoDB client the import service is wired with), then
//! replayed one request at a time on a copy of the table as it was before the run, with a reader looking at the hour
//! each request touched.
//!
//! The writer (`acd_aws::table::hour_writes`, the import store's `write_phases`) sends each flush's puts, then its
//! single-item deletes, then its bucket deletes, each phase complete before the next, and carries puts into the next
//! flush only when no delete is pending; so at every point a reader ([`acd_aws::buckets::read_entries`]) sees an
//! hour that has a bucket before or after the run whole, as before or as after: never a mixture, never with entries
//! missing. (An hour held in single items both before and after is written item by item, as always: each of its
//! entries reads as before or as after.) Checked here: that invariant in two orders of the recorded calls, that the
//! replay ends as the table did (the recording is complete), and that calls of different phases are never in flight
//! together.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use acd_app::import::{ImportConfig, ImportEvent, RunOutcome};
use acd_aws::buckets::{IntervalEntry, SegmentEntry, read_entries, segment_bucket};
use acd_aws::items::{IntoItem, SegmentItem, segment_sk};
use acd_aws::wiring;
use acd_connectors::genesys::GenesysAgentId;
use acd_connectors::{Deadline, Endpoints};
use acd_integration_tests::{ImportEnv, Item};
use acd_simulators::genesys::{GenesysSimConfig, GenesysSimulator};
use aws_sdk_dynamodb::config::interceptors::{
    BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, FrameworkMetadata, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::operation::batch_write_item::{BatchWriteItemInput, BatchWriteItemOutput};
use aws_sdk_dynamodb::operation::delete_item::DeleteItemInput;
use aws_sdk_dynamodb::operation::put_item::PutItemInput;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsInput;
use aws_sdk_dynamodb::operation::update_item::UpdateItemInput;
use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;

const TENANT: &str = "tenant-order";

// --- The recording ---------------------------------------------------------------------------------------------

/// One write request, as DynamoDB applies it.
#[derive(Debug, Clone)]
enum Write {
    Put(Item),
    Delete {
        pk: String,
        sk: String,
    },
    /// A write this replay does not model (UpdateItem, a transaction): the key it touches.
    Other {
        operation: &'static str,
        pk: String,
        sk: String,
    },
}

/// One write call: its requests, and when it started and completed on the recorder's clock (one counter for both).
#[derive(Debug, Clone)]
struct Call {
    operation: &'static str,
    started: u64,
    completed: u64,
    writes: Vec<Write>,
}

#[derive(Debug, Default)]
struct Log {
    clock: u64,
    pending: HashMap<u64, Call>,
    /// Successful calls, in completion order.
    done: Vec<Call>,
    /// Calls that ended in an error (nothing of them is assumed written).
    failed: Vec<Call>,
}

/// Records every write call of its client. The call's number travels in the call's own configuration bag (as a
/// user-agent framework entry), from before its execution to after it: calls run concurrently.
#[derive(Debug, Clone, Default)]
struct Recorder(Arc<Mutex<Log>>);

const TAG: &str = "acd-write-order-test";

fn text(item: &Item, name: &str) -> String {
    match item.get(name) {
        Some(AttributeValue::S(s)) => s.clone(),
        other => panic!("{name} is {other:?}"),
    }
}

fn write_of(request: &WriteRequest) -> Write {
    if let Some(PutRequest { item, .. }) = &request.put_request {
        return Write::Put(item.clone());
    }
    let key = &request.delete_request.as_ref().expect("a put or a delete").key;
    Write::Delete { pk: text(key, "PK"), sk: text(key, "SK") }
}

/// The write requests of a call's input; `None` for reads.
fn writes_of(context: &BeforeSerializationInterceptorContextRef<'_>) -> Option<(&'static str, Vec<Write>)> {
    let input = context.input();
    if let Some(i) = input.downcast_ref::<BatchWriteItemInput>() {
        let writes = i.request_items.iter().flat_map(|tables| tables.values().flatten()).map(write_of).collect();
        return Some(("BatchWriteItem", writes));
    }
    if let Some(i) = input.downcast_ref::<PutItemInput>() {
        return Some(("PutItem", vec![Write::Put(i.item.clone().expect("item"))]));
    }
    if let Some(i) = input.downcast_ref::<DeleteItemInput>() {
        let key = i.key.as_ref().expect("key");
        return Some(("DeleteItem", vec![Write::Delete { pk: text(key, "PK"), sk: text(key, "SK") }]));
    }
    let other = |operation, key: &Item| Write::Other { operation, pk: text(key, "PK"), sk: text(key, "SK") };
    if let Some(i) = input.downcast_ref::<UpdateItemInput>() {
        return Some(("UpdateItem", vec![other("UpdateItem", i.key.as_ref().expect("key"))]));
    }
    if let Some(i) = input.downcast_ref::<TransactWriteItemsInput>() {
        let mut writes = Vec::new();
        for item in i.transact_items.iter().flatten() {
            let keys = [
                item.put.as_ref().map(|p| &p.item),
                item.delete.as_ref().map(|d| &d.key),
                item.update.as_ref().map(|u| &u.key),
            ];
            writes.extend(keys.into_iter().flatten().map(|key| other("TransactWriteItems", key)));
        }
        return Some(("TransactWriteItems", writes));
    }
    None
}

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "WriteOrderRecorder"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some((operation, writes)) = writes_of(context) else { return Ok(()) };
        let mut log = self.0.lock().unwrap();
        log.clock += 1;
        let id = log.clock;
        log.pending.insert(id, Call { operation, started: id, completed: 0, writes });
        cfg.interceptor_state().store_append(FrameworkMetadata::new(TAG, Some(id.to_string()))?);
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let tag = cfg.load::<FrameworkMetadata>().find(|m| m.name() == TAG);
        let Some(id) = tag.and_then(|m| m.version()?.parse::<u64>().ok()) else { return Ok(()) };
        let mut log = self.0.lock().unwrap();
        log.clock += 1;
        let mut call = log.pending.remove(&id).expect("a call that started");
        call.completed = log.clock;
        match context.output_or_error() {
            Some(Ok(output)) => {
                // Unprocessed requests were not written (the writer sends them again, in a call of their own).
                if let Some(out) = output.downcast_ref::<BatchWriteItemOutput>() {
                    let unprocessed: Vec<String> = out
                        .unprocessed_items
                        .iter()
                        .flat_map(|tables| tables.values().flatten())
                        .map(|r| format!("{:?}", write_of(r)))
                        .collect();
                    call.writes.retain(|w| !unprocessed.contains(&format!("{w:?}")));
                }
                log.done.push(call);
            }
            _ => log.failed.push(call),
        }
        Ok(())
    }
}

// --- The table as the readers see it ---------------------------------------------------------------------------

/// An hour of a partition: its key and the sort key of its bucket (`S#2024-05-08T10`, `IV#2024-05-08T10`).
type HourKey = (String, String);
/// The interval and segment items of the table (both forms), by hour and sort key.
type Table = BTreeMap<HourKey, BTreeMap<String, Item>>;

/// The hour of an interval or segment item (single item or bucket); `None` for every other item.
fn hour_key(pk: &str, sk: &str) -> Option<HourKey> {
    let prefix = if pk.contains("#A#") && sk.starts_with("S#") {
        "S#"
    } else if pk.contains("#Q#") && sk.starts_with("IV#") {
        "IV#"
    } else {
        return None;
    };
    let hour = sk.get(..prefix.len() + 13).unwrap_or_else(|| panic!("{pk} {sk}: no hour"));
    Some((pk.to_owned(), hour.to_owned()))
}

fn insert(table: &mut Table, item: Item) {
    let (pk, sk) = (text(&item, "PK"), text(&item, "SK"));
    if let Some(hour) = hour_key(&pk, &sk) {
        table.entry(hour).or_default().insert(sk, item);
    }
}

fn remove(table: &mut Table, hour: &HourKey, sk: &str) {
    if let Some(items) = table.get_mut(hour) {
        items.remove(sk);
        if items.is_empty() {
            table.remove(hour);
        }
    }
}

/// Every interval and segment item of the integration: its agents' partitions and its queues' (one Query each,
/// all pages).
async fn data_table(env: &ImportEnv, id: &str, agents: &[String]) -> Table {
    let mut pks: Vec<String> = agents.iter().map(|a| format!("T#{TENANT}#I#{id}#A#{a}")).collect();
    for item in env.query(format!("T#{TENANT}#I#{id}")).await {
        if item["SK"].as_s().unwrap().starts_with("Q#") {
            pks.push(format!("T#{TENANT}#Q#{}", item["queue_id"].as_s().unwrap()));
        }
    }
    let mut table = Table::new();
    for pk in pks {
        env.query(pk).await.into_iter().for_each(|item| insert(&mut table, item));
    }
    table
}

#[derive(Debug, Clone, PartialEq)]
enum Entry {
    Segment(SegmentEntry),
    Interval(IntervalEntry),
}

/// An hour as a reader sees it: its entries by start, or why they cannot be read.
type View = Result<BTreeMap<DateTime<Utc>, Entry>, String>;

fn view(table: &Table, hour: &HourKey) -> View {
    let items: Vec<Item> = table.get(hour).map(|items| items.values().cloned().collect()).unwrap_or_default();
    let entries: Vec<(DateTime<Utc>, Entry)> = if hour.1.starts_with("S#") {
        let entries: Vec<SegmentEntry> = read_entries(items).map_err(|e| e.to_string())?;
        entries.into_iter().map(|e| (e.start, Entry::Segment(e))).collect()
    } else {
        let entries: Vec<IntervalEntry> = read_entries(items).map_err(|e| e.to_string())?;
        entries.into_iter().map(|e| (e.start, Entry::Interval(e))).collect()
    };
    Ok(entries.into_iter().collect())
}

fn has_bucket(table: &Table, hour: &HourKey) -> bool {
    table.get(hour).is_some_and(|items| items.contains_key(&hour.1))
}

/// How `seen` differs from `other`, briefly: the starts it misses, has in addition, or reads otherwise.
fn difference(seen: &View, other: &View) -> String {
    let (Ok(seen), Ok(other)) = (seen, other) else { return format!("{seen:?} / {other:?}") };
    let times = |starts: Vec<&DateTime<Utc>>| -> Vec<String> {
        starts.into_iter().map(|t| t.format("%H:%M:%S%.3f").to_string()).collect()
    };
    let missing = times(other.keys().filter(|t| !seen.contains_key(t)).collect());
    let extra = times(seen.keys().filter(|t| !other.contains_key(t)).collect());
    let changed = times(seen.iter().filter(|(t, e)| other.get(t).is_some_and(|o| o != *e)).map(|(t, _)| t).collect());
    format!("missing {missing:?}, extra {extra:?}, changed {changed:?}")
}

/// What one replay found.
#[derive(Debug, Default)]
struct Replayed {
    table: Table,
    /// Requests applied to interval and segment items.
    requests: usize,
    /// Hour reads after a request: of hours with a bucket before or after (read whole), of the others (by entry).
    whole_checks: usize,
    entry_checks: usize,
    violations: Vec<String>,
}

/// Applies `calls` (in this order; each call's requests in their order, or reversed) to a copy of `before`, and
/// after every request reads the hour it touched: an hour with a bucket before or after must read exactly as before
/// or as after; any other hour entry by entry so.
fn replay(before: &Table, after: &Table, calls: &[&Call], reversed: bool) -> Replayed {
    let mut out = Replayed { table: before.clone(), ..Replayed::default() };
    let mut views: HashMap<HourKey, (View, View, bool)> = HashMap::new();
    for call in calls {
        let mut writes: Vec<&Write> = call.writes.iter().collect();
        if reversed {
            writes.reverse();
        }
        for write in writes {
            let hour = match write {
                Write::Put(item) => {
                    let Some(hour) = hour_key(&text(item, "PK"), &text(item, "SK")) else { continue };
                    insert(&mut out.table, item.clone());
                    hour
                }
                Write::Delete { pk, sk } => {
                    let Some(hour) = hour_key(pk, sk) else { continue };
                    remove(&mut out.table, &hour, sk);
                    hour
                }
                Write::Other { operation, pk, sk } => {
                    if hour_key(pk, sk).is_some() {
                        out.violations.push(format!("{operation} of {pk} {sk}: not a put or a delete"));
                    }
                    continue;
                }
            };
            out.requests += 1;
            let (was, will, whole) = views.entry(hour.clone()).or_insert_with(|| {
                let whole = has_bucket(before, &hour) || has_bucket(after, &hour);
                (view(before, &hour), view(after, &hour), whole)
            });
            let seen = view(&out.table, &hour);
            let request = match write {
                Write::Put(item) => format!("put {}", text(item, "SK")),
                Write::Delete { sk, .. } => format!("delete {sk}"),
                Write::Other { .. } => unreachable!(),
            };
            let at = format!("{} {}, at the {request} of {} #{}", hour.0, hour.1, call.operation, call.started);
            if *whole {
                out.whole_checks += 1;
                if seen != *was && seen != *will {
                    let (to_was, to_will) = (difference(&seen, was), difference(&seen, will));
                    out.violations.push(format!("{at}: reads, against before, {to_was}; against after, {to_will}"));
                }
                continue;
            }
            out.entry_checks += 1;
            let (Ok(seen), Ok(was), Ok(will)) = (&seen, &*was, &*will) else {
                out.violations.push(format!("{at}: unreadable: {seen:?}; before {was:?}; after {will:?}"));
                continue;
            };
            for start in seen.keys().chain(was.keys()).chain(will.keys()) {
                let entry = seen.get(start);
                if entry != was.get(start) && entry != will.get(start) {
                    out.violations.push(format!("{at}: entry {start} reads {entry:?}; neither before nor after"));
                }
            }
        }
    }
    out
}

// --- The scenario ----------------------------------------------------------------------------------------------

fn event(id: &str) -> ImportEvent {
    ImportEvent { tenant_id: TENANT.into(), integration_id: id.into(), at_once: false }
}

fn deadline() -> Deadline {
    Deadline::after(Duration::from_secs(600))
}

fn config(now: DateTime<Utc>) -> ImportConfig {
    ImportConfig { now: Some(now), ..ImportConfig::default() }
}

fn hour_text(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H").to_string()
}

fn segment(pk: &str, start: DateTime<Utc>, status: &str) -> SegmentItem {
    SegmentItem {
        pk: pk.into(),
        sk: segment_sk(start),
        start,
        end: Some(start + TimeDelta::minutes(7)),
        status_id: status.into(),
        reason: None,
    }
}

/// Changes behind the import's back, so that the next run rewrites many hours (into buckets) and meets every stored
/// form: a changed entry in every other agent-hour and every third queue-hour (the hour moves into a bucket, its
/// single items deleted after), an empty bucket hiding an hour's data (the bucket is put again, the hidden items
/// deleted), a stale single item beside an hour's data (moves into a bucket) or alone in an hour (deleted), and a
/// bucket of a segment that never was, alone or over hidden single items, in an hour without data (its single items
/// deleted, then the bucket).
fn plants(table: &Table, agent_pks: &[String], first_hour: DateTime<Utc>, hours: i64) -> Vec<Item> {
    let mut puts = Vec::new();
    for (i, pk) in agent_pks.iter().enumerate() {
        let mut empty_hours = 0;
        for h in 0..hours {
            let hour = first_hour + TimeDelta::hours(h);
            let key = (pk.clone(), format!("S#{}", hour_text(hour)));
            match table.get(&key) {
                Some(items) => {
                    let (_, first) = items.first_key_value().expect("items");
                    if (i + h as usize).is_multiple_of(2) {
                        let mut changed = first.clone();
                        changed.insert("status_id".into(), AttributeValue::S("Changed behind its back".into()));
                        puts.push(changed);
                    } else if h % 7 == 3 && i % 4 == 1 {
                        puts.push(segment_bucket(pk.clone(), hour, Vec::new()).unwrap());
                    } else if h % 7 == 5 && i % 4 == 3 {
                        let stale = segment(pk, hour + TimeDelta::milliseconds(3_599_999), "Stale");
                        assert!(!items.contains_key(&stale.sk));
                        puts.push(stale.into_item());
                    }
                }
                None => {
                    empty_hours += 1;
                    let bogus = || segment(pk, hour + TimeDelta::minutes(10), "Never was");
                    match (i % 4, empty_hours) {
                        (0, 1) => {
                            puts.push(segment_bucket(pk.clone(), hour, vec![bogus()]).unwrap());
                            puts.push(segment(pk, hour + TimeDelta::minutes(20), "Hidden").into_item());
                            puts.push(segment(pk, hour + TimeDelta::minutes(30), "Hidden").into_item());
                        }
                        (0, 2) => puts.push(segment_bucket(pk.clone(), hour, vec![bogus()]).unwrap()),
                        (2, 1) => puts.push(segment(pk, hour + TimeDelta::minutes(20), "Stale").into_item()),
                        _ => {}
                    }
                }
            }
        }
    }
    // Queue-hours: every third one changed.
    for (h, items) in table.iter().filter(|((pk, _), _)| pk.contains("#Q#")) {
        let hour: u32 = h.1[h.1.len() - 2..].parse().unwrap();
        if hour.is_multiple_of(3) && !has_bucket(table, h) {
            let (_, first) = items.first_key_value().expect("items");
            let mut changed = first.clone();
            let offered: u64 = first["offered"].as_n().unwrap().parse().unwrap();
            changed.insert("offered".into(), AttributeValue::N((offered + 1).to_string()));
            puts.push(changed);
        }
    }
    puts
}

async fn put_all(env: &ImportEnv, items: &[Item]) {
    let client = env.stack.clients.dynamodb();
    for chunk in items.chunks(25) {
        let requests: Vec<WriteRequest> = chunk
            .iter()
            .map(|item| {
                WriteRequest::builder()
                    .put_request(PutRequest::builder().set_item(Some(item.clone())).build().unwrap())
                    .build()
            })
            .collect();
        let out = client
            .batch_write_item()
            .request_items(&env.stack.settings.table_name, requests)
            .send()
            .await
            .expect("BatchWriteItem");
        assert!(out.unprocessed_items.unwrap_or_default().is_empty());
    }
}

/// How a data call writes: `P` puts, `D` single-item deletes, `L` bucket deletes, `M` a mixture.
fn phase_of(call: &Call) -> Option<char> {
    let mut phases = call.writes.iter().filter_map(|w| match w {
        Write::Put(item) => hour_key(&text(item, "PK"), &text(item, "SK")).map(|_| 'P'),
        Write::Delete { pk, sk } => hour_key(pk, sk).map(|(_, bucket)| if bucket == *sk { 'L' } else { 'D' }),
        Write::Other { .. } => None,
    });
    let first = phases.next()?;
    Some(if phases.all(|p| p == first) { first } else { 'M' })
}

/// The chunk (kind and day) a data call writes into: its first data request's.
fn chunk_of(call: &Call) -> Option<String> {
    call.writes.iter().find_map(|w| {
        let (pk, sk) = match w {
            Write::Put(item) => (text(item, "PK"), text(item, "SK")),
            Write::Delete { pk, sk } => (pk.clone(), sk.clone()),
            Write::Other { .. } => return None,
        };
        let (_, bucket) = hour_key(&pk, &sk)?;
        Some(bucket[..bucket.len() - 3].to_owned())
    })
}

#[tokio::test]
async fn every_hour_reads_as_before_or_as_after_at_every_write_of_a_run_that_moves_hours_into_buckets() {
    // 64 agents, a day and a morning: the day's segment chunk is written in several flushes.
    let t0: DateTime<Utc> = "2024-05-10T09:07:00Z".parse().unwrap();
    let sim = GenesysSimulator::start(GenesysSimConfig {
        now: Some(t0),
        history_days: 2,
        agents: 64,
        queues: 4,
        ..GenesysSimConfig::default()
    })
    .await
    .unwrap();
    let mut env = ImportEnv::start(
        TENANT,
        Endpoints::default()
            .with_var("GENESYS_CLOUD_API_BASE_URL", sim.base_url())
            .with_var("GENESYS_CLOUD_LOGIN_BASE_URL", sim.base_url()),
    )
    .await;
    let body = json!({"name": "Genesys", "type": "genesys_cloud",
        "credentials": {"client_id": sim.client_id(), "client_secret": sim.client_secret()},
        "settings": {"region": "eu_central_1", "detailed_on_queue_statuses": true, "history_days": 1}});
    let (status, created) = env.call("POST", "/integrations", Some(&body)).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();

    // First run: single items only.
    env.stack.settings.hour_buckets = false;
    let run = env.importer(config(t0)).run(&event(&id), deadline()).await.unwrap();
    assert_eq!(run.outcome, RunOutcome::Succeeded, "{run:?}");

    // Before the second run, 2½ hours later: the digests go (every day is compared again), and stored hours are
    // changed behind the import's back.
    let t1 = t0 + TimeDelta::minutes(150);
    sim.set_now(t1);
    for item in env.query(format!("T#{TENANT}#I#{id}")).await {
        if item["SK"].as_s().unwrap().starts_with("DIG#") {
            env.delete(item["PK"].clone(), item["SK"].clone()).await;
        }
    }
    let agents: Vec<String> =
        sim.expected_agents(GenesysAgentId::Username).into_iter().map(|a| a.external_id).collect();
    let agent_pks: Vec<String> = agents.iter().map(|a| format!("T#{TENANT}#I#{id}#A#{a}")).collect();
    let first_hour: DateTime<Utc> = "2024-05-09T00:00:00Z".parse().unwrap();
    let stored = data_table(&env, &id, &agents).await;
    let planted = plants(&stored, &agent_pks, first_hour, 33);
    put_all(&env, &planted).await;
    // (What the table holds now: every planted item was written, none was unprocessed.)
    let mut before = stored;
    planted.into_iter().for_each(|item| insert(&mut before, item));

    // The second run, with hour buckets, through a DynamoDB client that records every write call.
    env.stack.settings.hour_buckets = true;
    let recorder = Recorder::default();
    let sdk = env.stack.moto.sdk_config().await;
    let recording = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk).interceptor(recorder.clone()).build(),
    );
    let mut clients = env.stack.clients.clone();
    clients.set_dynamodb(recording);
    let importer = wiring::import_service(&env.stack.settings, &clients, env.factory.clone(), config(t1));
    let second = importer.run(&event(&id), deadline()).await.unwrap();
    assert_eq!(second.outcome, RunOutcome::Succeeded, "{second:?}");
    println!("second run: {:?}", second.run.as_ref().map(|r| &r.counts));
    let after = data_table(&env, &id, &agents).await;

    let log = recorder.0.lock().unwrap();
    assert!(log.pending.is_empty(), "calls that never completed: {:?}", log.pending.len());
    let failed: Vec<&Call> = log.failed.iter().filter(|c| phase_of(c).is_some()).collect();
    assert!(failed.is_empty(), "failed writes of intervals or segments: {failed:?}");

    // The run did what the scenario is for: many hours moved into buckets, in several flushes with deletes.
    let moved = after.keys().filter(|h| has_bucket(&after, h) && !has_bucket(&before, h)).count();
    let batches: Vec<(&Call, char, String)> = log
        .done
        .iter()
        .filter(|c| c.operation == "BatchWriteItem")
        .filter_map(|c| Some((c, phase_of(c)?, chunk_of(c)?)))
        .collect();
    let mut runs: Vec<(String, String)> = Vec::new(); // (chunk, phases in order, one letter a run of calls)
    for (_, phase, chunk) in &batches {
        match runs.last_mut() {
            Some((c, phases)) if c == chunk => {
                if !phases.ends_with(*phase) {
                    phases.push(*phase);
                }
            }
            _ => runs.push((chunk.clone(), phase.to_string())),
        }
    }
    println!("hours moved into buckets: {moved}; data BatchWriteItem calls: {}", batches.len());
    for (chunk, phases) in &runs {
        println!("  {chunk}: {phases}");
    }
    assert!(moved > 300, "{moved} hours moved into buckets");
    assert!(batches.len() > 100, "{} BatchWriteItem calls", batches.len());
    let flushes_with_deletes = runs.iter().map(|(_, phases)| phases.matches('D').count()).max().unwrap_or(0);
    assert!(flushes_with_deletes >= 2, "no chunk was written in several flushes with deletes: {runs:?}");
    assert!(runs.iter().any(|(_, phases)| phases.contains('L')), "no bucket was deleted: {runs:?}");

    // Replayed in the order the calls completed, and in the order they started with each call's requests reversed
    // (calls in flight together may land in either order): every hour reads as before or as after at every step,
    // and the replay ends as the table did.
    let mut by_completion: Vec<&Call> = log.done.iter().collect();
    by_completion.sort_by_key(|c| c.completed);
    let mut by_start = by_completion.clone();
    by_start.sort_by_key(|c| c.started);
    for (what, calls, reversed) in [("completion order", &by_completion, false), ("start order", &by_start, true)] {
        let replayed = replay(&before, &after, calls, reversed);
        println!(
            "{what}: {} requests, {} whole-hour reads, {} entry reads, {} violations",
            replayed.requests,
            replayed.whole_checks,
            replayed.entry_checks,
            replayed.violations.len()
        );
        assert!(
            replayed.violations.is_empty(),
            "{what}: {} reads saw an hour neither as before nor as after; the first:\n{}",
            replayed.violations.len(),
            replayed.violations.iter().take(5).cloned().collect::<Vec<_>>().join("\n")
        );
        let differing: Vec<&HourKey> =
            after.keys().chain(replayed.table.keys()).filter(|h| after.get(*h) != replayed.table.get(*h)).collect();
        assert!(differing.is_empty(), "{what}: the replay ends unlike the table in {differing:?}");
    }

    // Calls of different phases are never in flight together (a call is in flight from before its execution to
    // after it), nor does one call hold two phases.
    let data_calls: Vec<(&Call, char)> = log.done.iter().filter_map(|c| Some((c, phase_of(c)?))).collect();
    for (a, phase_a) in &data_calls {
        assert_ne!(*phase_a, 'M', "call #{} ({}) holds requests of two phases", a.started, a.operation);
        for (b, phase_b) in &data_calls {
            let together = a.started < b.completed && b.started < a.completed;
            assert!(
                !(together && phase_a < phase_b),
                "a {phase_a} call ({}, {}–{}) and a {phase_b} call ({}, {}–{}) were in flight together",
                a.operation,
                a.started,
                a.completed,
                b.operation,
                b.started,
                b.completed
            );
        }
    }

    // And the run made every planted change right.
    let planted = ["Changed behind its back", "Stale", "Hidden", "Never was"];
    for hour in after.keys() {
        let Ok(entries) = view(&after, hour) else { panic!("{hour:?} unreadable after the run") };
        for entry in entries.values() {
            if let Entry::Segment(s) = entry {
                assert!(!planted.contains(&s.status_id.as_str()), "{hour:?} still reads {s:?}");
            }
        }
    }
}
