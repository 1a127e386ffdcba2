//! Amazon Connect simulator: the REST-JSON routes of the calls the connector makes (`DescribeInstance`,
//! `ListQueues`, `ListUsers`, `ListAgentStatuses`, `GetMetricDataV2`; shapes from the service model
//! `connect/2017-08-08`), reached by the SDK through `AWS_ENDPOINT_URL_CONNECT` (or an explicit endpoint). STS and
//! Kinesis are moto's: [`ConnectSimulator::publish_agent_events`] writes the agent event stream into a moto
//! Kinesis stream, and [`ConnectSimulator::reshard`] / [`ConnectSimulator::recreate_stream`] are the stream faults.
//!
//! Data is generated from the seed: `queues` STANDARD queues (plus one AGENT queue the connector must skip),
//! `agents` users, three agent statuses; statistics for VOICE and CHAT only (TASK/EMAIL have no rows: "no data"),
//! one row per (queue, channel, quarter hour) with contacts. [`ConnectSimulator::truth`] gives the exact expected
//! stats; [`agent_events`] the events of a day and their expected segments.
//!
//! Faults ([`Fault`]): throttling (`ThrottlingException`, 429) for the next N calls, `AccessDeniedException`
//! (403) on one operation, a null metric value in a row with contacts, 500 `InternalServiceException` for the next N
//! calls, an empty queue listing, a `NextToken` that never moves on, an operation answered late (AWS slower than
//! the caller's deadline); as STS ([`ConnectSimulator::trust`]) a role that trusts another external id.

pub mod server;

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use acd_domain::{AgentSegment, IntervalStats};
use chrono::{DateTime, Duration, TimeZone, Utc};
use tokio::sync::oneshot;

pub const ACCOUNT: &str = "111122223333";
pub const REGION: &str = "us-east-1";
pub const INSTANCE_ID: &str = "6a1f0c34-5b7e-4c1d-9f00-00000000c0de";

#[derive(Debug, Clone)]
pub struct ConnectSimConfig {
    pub seed: u64,
    pub queues: usize,
    pub agents: usize,
    /// `MaxResults` cap of the listings (small values exercise paging).
    pub page_size: usize,
}

impl Default for ConnectSimConfig {
    fn default() -> Self {
        Self { seed: 1, queues: 3, agents: 4, page_size: 1000 }
    }
}

/// A switchable fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// The next `n` calls (any operation) answer 429 `ThrottlingException`.
    Throttle { n: u32 },
    /// The operation (e.g. `"ListUsers"`) answers 403 `AccessDeniedException`.
    Deny { operation: String },
    /// `AVG_QUEUE_ANSWER_TIME` is null in every row with contacts answered from the queue.
    NullAnswerTime,
    /// Not a fault: agents also place outbound calls from the queue's channel VOICE until the faults are cleared.
    /// `CONTACTS_HANDLED` counts them, nothing else does (never queued, never answered from the queue), and some
    /// quarter hours without inbound contacts have outbound ones only (`AVG_QUEUE_ANSWER_TIME` null: no contact
    /// answered from the queue). [`ConnectSimulator::truth`] follows.
    OutboundCalls,
    /// The next `n` calls (any operation) answer 500 `InternalServiceException`.
    ServerError { n: u32 },
    /// After `skip` more `ListQueues` calls (a credentials check's probe), the next `n` answers are an empty
    /// (well-formed) listing.
    EmptyQueues { skip: u32, n: u32 },
    /// `GetMetricDataV2` for a span starting in `[from, to)` answers 500 `InternalServiceException` (Connect failing
    /// on some data while other spans are served).
    MetricsFail { from: DateTime<Utc>, to: DateTime<Utc> },
    /// The operation's (`"ListUsers"`, `"GetMetricDataV2"`…) paging never moves on: every page after the first
    /// answers with the `NextToken` it was asked with (a broken listing that would hand out one page forever).
    StuckToken { operation: String },
    /// After `skip` more calls of the operation (`"GetMetricDataV2"`, `"ListAgentStatuses"`…) answered at once (a
    /// credentials check's probe), every answer of it is sent `ms` milliseconds after its request arrives, whatever
    /// it is (data or another fault's error), until the faults are cleared: AWS slower than the caller's deadline.
    Delay { operation: String, ms: u64, skip: u32 },
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub throttle: u32,
    pub denied: HashSet<String>,
    pub null_answer_time: bool,
    /// [`Fault::OutboundCalls`].
    pub outbound_calls: bool,
    pub server_errors: u32,
    pub empty_queues: u32,
    pub empty_queues_skip: u32,
    pub metrics_fail: Option<(DateTime<Utc>, DateTime<Utc>)>,
    pub stuck_tokens: HashSet<String>,
    /// The answer delay of each operation and how many more of its calls are answered at once first
    /// ([`Fault::Delay`]).
    pub delays: BTreeMap<String, (u32, std::time::Duration)>,
    pub calls: BTreeMap<String, u64>,
    /// The external id the customer role trusts (the simulator as STS); `None`: every AssumeRole is refused.
    pub trusted_external_id: Option<String>,
    /// The external ids of the AssumeRole calls that succeeded.
    pub assumed_with: Vec<String>,
    /// The region each AssumeRole request was signed for (its SigV4 credential scope), in order.
    pub assume_role_regions: Vec<String>,
    /// How long each `GetMetricDataV2` answer takes (AWS's latency, for measuring calls in flight; zero by default).
    pub metric_latency: std::time::Duration,
    /// `GetMetricDataV2` requests being answered now, and the most there ever were at once.
    pub metric_in_progress: u64,
    pub metric_most_in_progress: u64,
    /// `StartTime` and `EndTime` of every `GetMetricDataV2` request answered with data, in order.
    pub metric_requests: Vec<(DateTime<Utc>, DateTime<Utc>)>,
    /// From this quarter hour on the statistics are generated with another seed ([`ConnectSimulator::revise_from`]).
    pub revised: Option<(DateTime<Utc>, u64)>,
}

/// The seed the statistics of quarter hour `t` are generated with (`State::revised`, else the configured one).
pub(crate) fn seed_at(revised: Option<(DateTime<Utc>, u64)>, config_seed: u64, t: DateTime<Utc>) -> u64 {
    match revised {
        Some((from, seed)) if t >= from => seed,
        _ => config_seed,
    }
}

pub(crate) struct Shared {
    pub config: ConnectSimConfig,
    pub state: Mutex<State>,
}

impl Shared {
    pub fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub struct ConnectSimulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
}

impl Drop for ConnectSimulator {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl ConnectSimulator {
    pub async fn start(config: ConnectSimConfig) -> std::io::Result<Self> {
        Self::start_on(config, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    pub async fn start_on(config: ConnectSimConfig, addr: SocketAddr) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared { config, state: Mutex::new(State::default()) });
        let router = server::router(shared.clone());
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let serve = axum::serve(listener, router).with_graceful_shutdown(async move {
                let _ = rx.await;
            });
            if let Err(e) = serve.await {
                tracing::warn!(error = %e, "the Amazon Connect simulator stopped");
            }
        });
        Ok(Self { shared, addr, shutdown: Some(tx) })
    }

    /// The endpoint for `AWS_ENDPOINT_URL_CONNECT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    pub fn config(&self) -> &ConnectSimConfig {
        &self.shared.config
    }
    pub fn add_fault(&self, fault: Fault) {
        let mut s = self.shared.lock();
        match fault {
            Fault::Throttle { n } => s.throttle = s.throttle.saturating_add(n),
            Fault::Deny { operation } => {
                s.denied.insert(operation);
            }
            Fault::NullAnswerTime => s.null_answer_time = true,
            Fault::OutboundCalls => s.outbound_calls = true,
            Fault::ServerError { n } => s.server_errors = s.server_errors.saturating_add(n),
            Fault::EmptyQueues { skip, n } => {
                s.empty_queues_skip = skip;
                s.empty_queues = s.empty_queues.saturating_add(n);
            }
            Fault::MetricsFail { from, to } => s.metrics_fail = Some((from, to)),
            Fault::StuckToken { operation } => {
                s.stuck_tokens.insert(operation);
            }
            Fault::Delay { operation, ms, skip } => {
                s.delays.insert(operation, (skip, std::time::Duration::from_millis(ms)));
            }
        }
    }
    /// As STS: the customer role trusts `external_id` (AssumeRole with any other one is refused).
    pub fn trust(&self, external_id: &str) {
        self.shared.lock().trusted_external_id = Some(external_id.to_owned());
    }

    /// Each `GetMetricDataV2` answer is sent `latency` after its request arrives (requests are served concurrently).
    pub fn set_metric_latency(&self, latency: std::time::Duration) {
        self.shared.lock().metric_latency = latency;
    }

    /// The most `GetMetricDataV2` requests that were being answered at one time.
    pub fn most_metric_requests_at_once(&self) -> u64 {
        self.shared.lock().metric_most_in_progress
    }

    /// `StartTime` and `EndTime` of the `GetMetricDataV2` requests answered with data so far (every page), in order.
    pub fn metric_requests(&self) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        self.shared.lock().metric_requests.clone()
    }

    /// Connect revises its statistics: from quarter hour `from` on, every (queue, channel, quarter hour) is
    /// generated with `seed` instead (values change, rows appear and vanish), in the answers and in [`Self::truth`].
    pub fn revise_from(&self, from: DateTime<Utc>, seed: u64) {
        self.shared.lock().revised = Some((from, seed));
    }

    /// The external ids of the successful AssumeRole calls, in order.
    pub fn assumed_with(&self) -> Vec<String> {
        self.shared.lock().assumed_with.clone()
    }

    /// The region every AssumeRole request (refused ones too) was signed for, in order: the STS endpoint's region.
    pub fn assume_role_regions(&self) -> Vec<String> {
        self.shared.lock().assume_role_regions.clone()
    }

    pub fn clear_faults(&self) {
        let mut s = self.shared.lock();
        s.throttle = 0;
        s.denied.clear();
        s.null_answer_time = false;
        s.outbound_calls = false;
        s.server_errors = 0;
        s.empty_queues = 0;
        s.metrics_fail = None;
        s.stuck_tokens.clear();
        s.delays.clear();
    }
    /// Calls answered (faults included) per operation.
    pub fn calls(&self, operation: &str) -> u64 {
        self.shared.lock().calls.get(operation).copied().unwrap_or(0)
    }

    /// The expected statistics of `[start, end)` (quarter hours with contacts; VOICE → `:calls`, CHAT → `:chats`).
    pub fn truth(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> Vec<IntervalStats> {
        let mut out = Vec::new();
        let (revised, outbound) = {
            let s = self.shared.lock();
            (s.revised, s.outbound_calls)
        };
        for q in 0..self.shared.config.queues {
            for channel in ["VOICE", "CHAT"] {
                let mut t = start;
                while t < end {
                    if let Some(row) = row(seed_at(revised, self.shared.config.seed, t), q, channel, t, outbound) {
                        out.push(IntervalStats {
                            queue_external_id: format!(
                                "{}:{}",
                                queue_id(q),
                                if channel == "VOICE" { "calls" } else { "chats" }
                            ),
                            interval_start: t,
                            offered: row.offered,
                            handled: row.handled,
                            abandoned: row.abandoned,
                            handle_time_ms: row.handle_s * 1000,
                            answer_time_ms: row.answered * row.avg_answer_ms,
                            answered_within_sl: Some(row.within_sl),
                        });
                    }
                    t += Duration::minutes(15);
                }
            }
        }
        out
    }

    /// Writes agent events (as the agent event stream would) into a moto Kinesis stream.
    pub async fn publish_agent_events(
        kinesis: &aws_sdk_kinesis::Client,
        stream_name: &str,
        events: &[serde_json::Value],
    ) -> Result<(), String> {
        for e in events {
            let agent = e["AgentARN"].as_str().unwrap_or("none").to_owned();
            kinesis
                .put_record()
                .stream_name(stream_name)
                .partition_key(agent)
                .data(aws_sdk_kinesis::primitives::Blob::new(serde_json::to_vec(e).map_err(|e| e.to_string())?))
                .send()
                .await
                .map_err(|e| format!("PutRecord: {e:?}"))?;
        }
        Ok(())
    }

    /// Writes agent events into a moto Kinesis stream 500 at a time (`PutRecords`), for volumes where one call per
    /// event is too slow (the import benchmark). Kinesis orders the records of one `PutRecords` call by partition
    /// key only; moto keeps the call's order. Fails on any record the stream refused.
    pub async fn publish_agent_events_batched(
        kinesis: &aws_sdk_kinesis::Client,
        stream_name: &str,
        events: &[serde_json::Value],
    ) -> Result<(), String> {
        use aws_sdk_kinesis::types::PutRecordsRequestEntry;
        for chunk in events.chunks(500) {
            let entries = chunk
                .iter()
                .map(|e| {
                    PutRecordsRequestEntry::builder()
                        .partition_key(e["AgentARN"].as_str().unwrap_or("none"))
                        .data(aws_sdk_kinesis::primitives::Blob::new(serde_json::to_vec(e).map_err(|e| e.to_string())?))
                        .build()
                        .map_err(|e| e.to_string())
                })
                .collect::<Result<Vec<_>, String>>()?;
            let out = kinesis
                .put_records()
                .stream_name(stream_name)
                .set_records(Some(entries))
                .send()
                .await
                .map_err(|e| format!("PutRecords: {e:?}"))?;
            if out.failed_record_count().unwrap_or(0) > 0 {
                return Err(format!("PutRecords: {:?} records refused", out.failed_record_count()));
            }
        }
        Ok(())
    }

    /// Creates the agent event stream (`shards` shards) and waits until it is active.
    pub async fn create_stream(
        kinesis: &aws_sdk_kinesis::Client,
        stream_name: &str,
        shards: i32,
    ) -> Result<String, String> {
        kinesis
            .create_stream()
            .stream_name(stream_name)
            .shard_count(shards)
            .send()
            .await
            .map_err(|e| format!("CreateStream: {e:?}"))?;
        let d = kinesis
            .describe_stream_summary()
            .stream_name(stream_name)
            .send()
            .await
            .map_err(|e| format!("DescribeStreamSummary: {e:?}"))?;
        Ok(d.stream_description_summary().map(|s| s.stream_arn().to_owned()).unwrap_or_default())
    }

    /// Fault "resharding": splits the first open shard in two (the parent closes; later records go to the children).
    pub async fn reshard(kinesis: &aws_sdk_kinesis::Client, stream_name: &str) -> Result<(), String> {
        let shards = kinesis.list_shards().stream_name(stream_name).send().await.map_err(|e| format!("{e:?}"))?;
        let shard = shards
            .shards()
            .iter()
            .find(|s| s.sequence_number_range().and_then(|r| r.ending_sequence_number()).is_none())
            .ok_or("no open shard")?;
        let range = shard.hash_key_range().ok_or("no hash key range")?;
        let lo: u128 = range.starting_hash_key().parse().map_err(|_| "bad hash key")?;
        let hi: u128 = range.ending_hash_key().parse().map_err(|_| "bad hash key")?;
        kinesis
            .split_shard()
            .stream_name(stream_name)
            .shard_to_split(shard.shard_id())
            .new_starting_hash_key((lo + (hi - lo) / 2).to_string())
            .send()
            .await
            .map_err(|e| format!("SplitShard: {e:?}"))?;
        Ok(())
    }

    /// Fault "expired checkpoint": the stream is deleted and created again, so every record after the last
    /// checkpoint is gone (as when retention trimmed it).
    pub async fn recreate_stream(
        kinesis: &aws_sdk_kinesis::Client,
        stream_name: &str,
        shards: i32,
    ) -> Result<String, String> {
        kinesis.delete_stream().stream_name(stream_name).send().await.map_err(|e| format!("DeleteStream: {e:?}"))?;
        // moto keeps creation timestamps at second precision: make the new one differ.
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        Self::create_stream(kinesis, stream_name, shards).await
    }
}

pub fn instance_arn() -> String {
    format!("arn:aws:connect:{REGION}:{ACCOUNT}:instance/{INSTANCE_ID}")
}
pub fn queue_id(n: usize) -> String {
    format!("0000a11e-0000-4000-8000-{n:012x}")
}
pub fn user_id(n: usize) -> String {
    format!("00005e55-0000-4000-8000-{n:012x}")
}
/// (id, name, type) of the agent statuses.
pub const STATUSES: [(&str, &str, &str); 3] = [
    ("5a7a0000-0000-4000-8000-000000000001", "Available", "ROUTABLE"),
    ("5a7a0000-0000-4000-8000-000000000002", "Lunch", "CUSTOM"),
    ("5a7a0000-0000-4000-8000-000000000003", "Offline", "OFFLINE"),
];

/// One generated row (before faults).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Row {
    pub offered: u64,
    /// Answered from the queue and outbound.
    pub handled: u64,
    /// Answered from the queue (what the average queue answer time averages over).
    pub answered: u64,
    pub abandoned: u64,
    pub handle_s: u64,
    pub avg_answer_ms: u64,
    pub within_sl: u64,
}

fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The deterministic row of (queue, channel, quarter hour), or `None` when it had no contacts; with `outbound`
/// ([`Fault::OutboundCalls`]), VOICE rows also have outbound calls in one quarter hour of three, some of them only
/// those.
pub(crate) fn row(seed: u64, queue: usize, channel: &str, t: DateTime<Utc>, outbound: bool) -> Option<Row> {
    let h = mix(seed ^ mix(queue as u64) ^ mix(t.timestamp() as u64) ^ if channel == "VOICE" { 7 } else { 13 });
    let outbound = if outbound && channel == "VOICE" && (h >> 40).is_multiple_of(3) { 1 + (h >> 44) % 2 } else { 0 };
    let offered = h % 6;
    if offered == 0 && outbound == 0 {
        return None;
    }
    let abandoned = (h >> 8) % (offered.min(2) + 1);
    let answered = offered - abandoned;
    // Whole seconds for the average (×answered is then exact in ms).
    let avg_answer_ms = ((h >> 16) % 40 + 1) * 1000;
    Some(Row {
        offered,
        handled: answered + outbound,
        answered,
        abandoned,
        handle_s: (answered + outbound) * (120 + (h >> 24) % 300),
        avg_answer_ms: if answered == 0 { 0 } else { avg_answer_ms },
        within_sl: if avg_answer_ms <= 20_000 { answered } else { answered / 2 },
    })
}

/// An agent's status snapshot in an agent event: status `i` of [`STATUSES`], entered at `start`.
pub fn status_snapshot(i: usize, start: DateTime<Utc>) -> serde_json::Value {
    let (id, name, kind) = STATUSES[i];
    serde_json::json!({"AgentStatus": {
        "ARN": format!("{}/agent-state/{id}", instance_arn()), "Name": name, "Type": kind,
        "StartTimestamp": start.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)},
        "Configuration": {"Username": "agent", "RoutingProfile": {"Name": "Basic"}}})
}

/// An agent event of agent `a` (`LOGIN`, `STATE_CHANGE`, `HEART_BEAT`, `LOGOUT`) at `at`, with the snapshots before
/// and after ([`status_snapshot`]).
pub fn agent_event(
    a: usize,
    kind: &str,
    at: DateTime<Utc>,
    prev: Option<serde_json::Value>,
    cur: Option<serde_json::Value>,
) -> serde_json::Value {
    let mut e = serde_json::json!({"EventId": uuid::Uuid::new_v4().to_string(), "EventType": kind,
        "EventTimestamp": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "AgentARN": format!("{}/agent/{}", instance_arn(), user_id(a)),
        "InstanceARN": instance_arn(), "Version": "2019-05-25"});
    if let Some(p) = prev {
        e["PreviousAgentSnapshot"] = p;
    }
    if let Some(c) = cur {
        e["CurrentAgentSnapshot"] = c;
    }
    e
}

/// A day of agent events (LOGIN, a configuration-only STATE_CHANGE, lunch, back, LOGOUT per agent, plus
/// heart-beats and a contact event to ignore) and the segments they must produce.
pub fn agent_events(agents: usize, day: DateTime<Utc>) -> (Vec<serde_json::Value>, Vec<AgentSegment>) {
    let status = status_snapshot;
    let mut events = Vec::new();
    let mut segments = Vec::new();
    for a in 0..agents {
        let arn = format!("{}/agent/{}", instance_arn(), user_id(a));
        let login = day + Duration::hours(8) + Duration::minutes(a as i64 * 7);
        let lunch = login + Duration::hours(4);
        let back = lunch + Duration::minutes(30 + a as i64);
        let logout = back + Duration::hours(3);
        let ev = |kind: &str, at, prev, cur| agent_event(a, kind, at, prev, cur);
        events.push(ev("LOGIN", login, None, Some(status(0, login))));
        // Configuration-only change (routing profile): same status, same start → no new segment.
        events.push(ev("STATE_CHANGE", login + Duration::minutes(5), Some(status(0, login)), Some(status(0, login))));
        events.push(ev("HEART_BEAT", login + Duration::minutes(10), Some(status(0, login)), Some(status(0, login))));
        events.push(serde_json::json!({"EventType": "CONTACT_EVENT", "AgentARN": arn}));
        events.push(ev("STATE_CHANGE", lunch, Some(status(0, login)), Some(status(1, lunch))));
        events.push(ev("STATE_CHANGE", back, Some(status(1, lunch)), Some(status(0, back))));
        events.push(ev("LOGOUT", logout, Some(status(0, back)), Some(status(2, logout))));
        let seg = |i: usize, start, end| AgentSegment {
            agent_external_id: user_id(a).into(),
            status_id: STATUSES[i].0.into(),
            reason: None,
            start,
            end,
        };
        segments.push(seg(0, login, Some(lunch)));
        segments.push(seg(1, lunch, Some(back)));
        segments.push(seg(0, back, Some(logout)));
        segments.push(seg(2, logout, None));
    }
    (events, segments)
}

/// Midnight UTC of `t`'s day.
pub fn midnight(t: DateTime<Utc>) -> DateTime<Utc> {
    Utc.from_utc_datetime(&t.date_naive().and_hms_opt(0, 0, 0).expect("midnight"))
}
