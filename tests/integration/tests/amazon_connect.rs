//! The Amazon Connect connector against the Connect simulator (REST-JSON through the real SDK) and moto (STS for the
//! role, Kinesis for the agent event stream): mapping, paging, permissions, throttling, the stream's checkpoints,
//! resharding and gaps.

use std::collections::BTreeMap;
use std::time::Duration;

use acd_connectors::amazon_connect::{
    AmazonConnectConnector, AmazonConnectCredentials, AmazonConnectSettings, AwsEndpoints, Tuning,
};
use acd_connectors::{Connector, ConnectorError, Deadline};
use acd_domain::{AgentSegment, GapReason, TimeWindow};
use acd_simulators::amazon_connect::{self as sim, ConnectSimConfig, ConnectSimulator, Fault};
use acd_test_harness::Moto;
use chrono::{DateTime, Duration as Days, TimeZone, Utc};

/// The role the connector tests assume through moto's STS: in moto's account, where their stream is (the
/// integrations created through the API name `acd_integration_tests::CONNECT_CUSTOMER_ROLE`).
const ROLE: &str = "arn:aws:iam::123456789012:role/acd-connect-read";
const STREAM: &str = "connect-agent-events";

struct Env {
    moto: Moto,
    sim: ConnectSimulator,
    base: aws_config::SdkConfig,
    kinesis: aws_sdk_kinesis::Client,
    stream_arn: String,
}

async fn env(config: ConnectSimConfig, shards: i32) -> Env {
    let moto = Moto::start().await;
    let sim = ConnectSimulator::start(config).await.expect("start the Connect simulator");
    let base = moto.sdk_config().await;
    let kinesis = aws_sdk_kinesis::Client::new(&base);
    let stream_arn = ConnectSimulator::create_stream(&kinesis, STREAM, shards).await.expect("create the stream");
    Env { moto, sim, base, kinesis, stream_arn }
}

impl Env {
    fn connector(&self, tuning: Tuning) -> AmazonConnectConnector {
        let settings = AmazonConnectSettings {
            region: sim::REGION.into(),
            instance_id: sim::INSTANCE_ID.into(),
            agent_event_stream_arn: self.stream_arn.clone(),
            service_level_seconds: 20,
        };
        assert!(settings.problems().is_empty(), "{:?}", settings.problems());
        let endpoints = AwsEndpoints {
            connect: Some(self.sim.base_url()),
            sts: Some(self.moto.endpoint.clone()),
            kinesis: Some(self.moto.endpoint.clone()),
        };
        let credentials =
            AmazonConnectCredentials { role_arn: ROLE.into(), external_id: "acd-ext-0123456789abcdef".into() };
        AmazonConnectConnector::new(self.base.clone(), endpoints, settings, credentials).with_tuning(tuning)
    }

    /// The connector's statistics of `window` are the simulator's (at least 100 rows of them); returns how many.
    async fn statistics_match_the_truth(
        &self,
        c: &AmazonConnectConnector,
        queues: &[acd_domain::Queue],
        window: TimeWindow,
    ) -> usize {
        let mut stats = c.interval_stats(queues, window, deadline()).await.unwrap();
        let mut truth = self.sim.truth(window.start, window.end);
        let key = |s: &acd_domain::IntervalStats| (s.queue_external_id.clone(), s.interval_start);
        stats.sort_by_key(key);
        truth.sort_by_key(key);
        assert!(truth.len() > 100, "the simulator should have data: {}", truth.len());
        assert_eq!(stats, truth);
        truth.len()
    }
}

fn deadline() -> Deadline {
    Deadline::after(Duration::from_secs(30))
}

/// The test's "now": read once per test process (nextest runs each test in a process of its own), so that a test
/// running across midnight UTC keeps one yesterday ([`day`]) and runs its imports at that clock.
fn now() -> DateTime<Utc> {
    static NOW: std::sync::OnceLock<DateTime<Utc>> = std::sync::OnceLock::new();
    *NOW.get_or_init(Utc::now)
}

/// Yesterday (UTC), the day the tests' agent events and statistics are on.
fn day() -> DateTime<Utc> {
    sim::midnight(now()) - Days::days(1)
}

#[tokio::test]
async fn queues_statistics_agents_and_statuses_map_and_page() {
    let env = env(ConnectSimConfig { queues: 5, agents: 5, page_size: 2, ..Default::default() }, 1).await;
    let tuning = Tuning { page_size: 2, queues_per_filter: 2, metric_page_size: 7, ..Tuning::default() };
    let c = env.connector(tuning);

    let queues = c.list_queues(deadline()).await.unwrap();
    // 5 STANDARD queues × 4 channels; the AGENT queue is not listed.
    assert_eq!(queues.len(), 20);
    assert!(queues.iter().any(|q| q.external_id == format!("{}:calls", sim::queue_id(4)) && q.name == "Queue 4"));
    assert!(queues.iter().any(|q| q.external_id == format!("{}:cases", sim::queue_id(0))));
    // Calls are always mappable; the other channels once traffic was imported for them.
    for q in &queues {
        assert_eq!(c.listed_once_seen(q), q.channel != acd_domain::Channel::Calls, "{}", q.external_id);
    }

    let window = TimeWindow::new(day(), day() + c.max_window()).unwrap();
    let rows = env.statistics_match_the_truth(&c, &queues, window).await;
    // ≤ 2 queues per filter: 3 filters, each paged by 7 rows.
    assert!(env.sim.calls("GetMetricDataV2") as usize >= rows / 7, "{}", env.sim.calls("GetMetricDataV2"));

    let agents = c.list_agents(deadline()).await.unwrap();
    assert_eq!(agents.len(), 5);
    assert_eq!(agents[0].external_id, sim::user_id(0));
    assert_eq!(agents[0].display_name.as_deref(), Some("agent0@example.com"));
    let statuses = c.list_statuses(deadline()).await.unwrap();
    assert_eq!(statuses.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["Available", "Lunch", "Offline"]);
    assert_eq!(env.sim.calls("ListUsers"), 3, "5 users in pages of 2");

    // A subset of queues: only those come back.
    let one: Vec<_> = queues.iter().filter(|q| q.external_id.starts_with(&sim::queue_id(1))).cloned().collect();
    let stats = c.interval_stats(&one, window, deadline()).await.unwrap();
    assert!(!stats.is_empty() && stats.iter().all(|s| s.queue_external_id.starts_with(&sim::queue_id(1))));
}

#[tokio::test]
async fn verify_names_the_missing_permission_and_rides_out_throttling() {
    let env = env(ConnectSimConfig::default(), 1).await;
    env.connector(Tuning::default()).verify(deadline()).await.expect("verify");

    env.sim.add_fault(Fault::Deny { operation: "ListUsers".into() });
    match env.connector(Tuning::default()).verify(deadline()).await {
        Err(ConnectorError::PermissionMissing { message }) => {
            assert!(message.contains("connect:ListUsers"), "{message}")
        }
        other => panic!("expected permission-missing, got {other:?}"),
    }
    env.sim.clear_faults();

    // Two throttled answers are retried within the deadline.
    env.sim.add_fault(Fault::Throttle { n: 2 });
    let c = env.connector(Tuning::default());
    let statuses = c.list_statuses(deadline()).await.expect("retried past throttling");
    assert_eq!(statuses.len(), 3);
    // Throttling that outlasts the deadline ends as rate_limited.
    env.sim.add_fault(Fault::Throttle { n: 1000 });
    let c = env.connector(Tuning::default());
    let _ = c.list_statuses(deadline()).await; // the session (DescribeInstance) is throttled as well
    let err = c.list_statuses(Deadline::after(Duration::from_millis(1500))).await.unwrap_err();
    assert!(matches!(err, ConnectorError::RateLimited { .. }), "{err:?}");
    assert_eq!(err.reason().as_str(), "rate_limited");
}

#[tokio::test]
async fn a_refused_assume_role_is_credentials_rejected() {
    let env = env(ConnectSimConfig::default(), 1).await;
    let mut c = env.connector(Tuning::default());
    // STS answering as for a role that does not trust us (or another external id): the simulator's STS fault.
    c = c.with_endpoints(AwsEndpoints {
        connect: Some(env.sim.base_url()),
        sts: Some(env.sim.base_url()),
        kinesis: Some(env.moto.endpoint.clone()),
    });
    assert_eq!(c.verify(deadline()).await.unwrap_err(), ConnectorError::CredentialsRejected);
    assert_eq!(env.sim.calls("sts:AssumeRole"), 1, "a trust failure is not retried");
    assert_eq!(env.sim.calls("DescribeInstance"), 0);
}

/// `GetMetricDataV2` paging sequences (a batch of queues each) are read `metric_requests_in_flight` at a time —
/// never more — with the same statistics as one after the other. The simulator answers after 300 ms, so requests
/// sent together are answered together (it counts the most at once).
#[tokio::test]
async fn statistics_are_read_as_many_sequences_at_once_as_tuned_and_no_more() {
    // 5 queues: batches of 2, 2 and 1 one after the other; batches of 1 three at a time; more sequences than are
    // let in flight in both.
    for (in_flight, queues_per_filter) in [(1, 2), (3, 1)] {
        let env = env(ConnectSimConfig { queues: 5, ..Default::default() }, 1).await;
        env.sim.set_metric_latency(Duration::from_millis(300));
        let c = env.connector(Tuning { metric_requests_in_flight: in_flight, queues_per_filter, ..Tuning::default() });
        let queues = c.list_queues(deadline()).await.unwrap();
        env.statistics_match_the_truth(&c, &queues, TimeWindow::new(day(), day() + Days::days(1)).unwrap()).await;
        assert_eq!(env.sim.most_metric_requests_at_once(), in_flight as u64, "{in_flight} in flight");
    }
}

/// `connect-sim` run as a process (the import benchmark) is driven through its own routes: `GET /__sim/info` says
/// what it serves and counts the calls answered, `POST /__sim/trust` sets the external id the role trusts.
#[tokio::test]
async fn the_simulators_own_routes_say_what_it_serves_and_set_the_roles_trust() {
    let env = env(ConnectSimConfig { queues: 7, agents: 9, ..Default::default() }, 1).await;
    let http = reqwest::Client::new();
    let info = async || -> serde_json::Value {
        let answer = http.get(format!("{}/__sim/info", env.sim.base_url())).send().await.unwrap();
        assert_eq!(answer.status(), 200);
        answer.json().await.unwrap()
    };
    let before = info().await;
    assert_eq!((before["queues"].as_u64(), before["agents"].as_u64()), (Some(7), Some(9)), "{before}");
    assert_eq!(before["instance_id"], sim::INSTANCE_ID, "{before}");
    assert_eq!(before["region"], sim::REGION, "{before}");
    assert_eq!(before["instance_arn"], sim::instance_arn(), "{before}");

    let trust = async |body: serde_json::Value| {
        http.post(format!("{}/__sim/trust", env.sim.base_url())).json(&body).send().await.unwrap().status()
    };
    assert_eq!(trust(serde_json::json!({})).await, 400, "an external id is required");
    let mut c = env.connector(Tuning::default());
    c = c.with_endpoints(AwsEndpoints {
        connect: Some(env.sim.base_url()),
        sts: Some(env.sim.base_url()),
        kinesis: Some(env.moto.endpoint.clone()),
    });
    // Trusting another id: refused; trusting the connector's (see `Env::connector`): the check passes.
    assert_eq!(trust(serde_json::json!({"external_id": "acd-ext-someone-else"})).await, 204);
    assert_eq!(c.verify(deadline()).await.unwrap_err(), ConnectorError::CredentialsRejected);
    assert_eq!(trust(serde_json::json!({"external_id": "acd-ext-0123456789abcdef"})).await, 204);
    c.verify(deadline()).await.expect("the role trusts the connector's external id");
    let after = info().await;
    assert_eq!(after["calls"]["sts:AssumeRole"], 2, "{after}");
    assert_eq!(after["calls"]["DescribeInstance"], 1, "{after}");

    // `POST /__sim/latency`: every GetMetricDataV2 answer takes that long from then on.
    let latency = async |body: serde_json::Value| {
        http.post(format!("{}/__sim/latency", env.sim.base_url())).json(&body).send().await.unwrap().status()
    };
    assert_eq!(latency(serde_json::json!({})).await, 400, "milliseconds are required");
    assert_eq!(latency(serde_json::json!({"metric_ms": 400})).await, 204);
    let queues = c.list_queues(deadline()).await.unwrap();
    let window = TimeWindow::new(day(), day() + Days::hours(1)).unwrap();
    let started = std::time::Instant::now();
    c.interval_stats(&queues, window, deadline()).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(400), "{:?}", started.elapsed());
}

#[tokio::test]
async fn a_null_metric_in_a_row_with_contacts_is_malformed_not_zero() {
    let env = env(ConnectSimConfig::default(), 1).await;
    env.sim.add_fault(Fault::NullAnswerTime);
    let c = env.connector(Tuning::default());
    let queues = c.list_queues(deadline()).await.unwrap();
    let window = TimeWindow::new(day(), day() + Days::days(1)).unwrap();
    let err = c.interval_stats(&queues, window, deadline()).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Malformed { .. }), "{err:?}");
}

#[tokio::test]
async fn outbound_calls_are_handled_and_a_quarter_hour_of_them_only_has_no_answer_time() {
    let env = env(ConnectSimConfig::default(), 1).await;
    env.sim.add_fault(Fault::OutboundCalls);
    let c = env.connector(Tuning::default());
    let queues = c.list_queues(deadline()).await.unwrap();
    let window = TimeWindow::new(day(), day() + Days::days(1)).unwrap();
    // Until 2026-12-08 a quarter hour of outbound calls only (handled contacts, a null average queue answer time)
    // was malformed, and the day could never be imported; and the answer time was the average × every handled
    // contact, outbound ones included.
    env.statistics_match_the_truth(&c, &queues, window).await;
    let truth = env.sim.truth(window.start, window.end);
    let outbound_only = truth.iter().filter(|s| s.offered == 0 && s.handled > 0).count();
    let mixed = truth.iter().filter(|s| s.handled > s.offered - s.abandoned && s.offered > 0).count();
    assert!(outbound_only > 0 && mixed > 0, "the day should have both: {outbound_only}, {mixed}");
}

/// Upserts segments by (agent, start) as the table does.
fn store(table: &mut BTreeMap<(String, DateTime<Utc>), AgentSegment>, segments: Vec<AgentSegment>) {
    for s in segments {
        table.insert((s.agent_external_id.to_string(), s.start), s);
    }
}

#[tokio::test]
async fn contact_records_on_the_agent_event_stream_are_passed_over() {
    let env = env(ConnectSimConfig::default(), 1).await;
    let (events, truth) = sim::agent_events(2, day());
    // An instance may stream its contact records to the same stream: one after every third agent event.
    let mut records = Vec::new();
    for (i, e) in events.iter().enumerate() {
        records.push(e.clone());
        if i % 3 == 0 {
            records.push(serde_json::json!({"AWSAccountId": "123456789012",
                "AWSContactTraceRecordFormatVersion": "2017-03-10", "ContactId": format!("c-{i}"),
                "Channel": "VOICE", "InitiationMethod": "INBOUND", "Agent": {"ARN": e["AgentARN"]}}));
        }
    }
    ConnectSimulator::publish_agent_events(&env.kinesis, STREAM, &records).await.unwrap();
    let c = env.connector(Tuning::default());
    c.restore_vendor_cursor(None).unwrap();
    let window = TimeWindow::new(day(), day() + Days::days(2)).unwrap();
    // Until 2026-12-08 the first contact record was malformed, and the stream was held at it for good.
    let mut table = BTreeMap::new();
    store(&mut table, c.agent_segments(&[], window, deadline()).await.unwrap());
    let mut expected = truth;
    expected.sort_by_key(|s| (s.agent_external_id.clone(), s.start));
    assert_eq!(table.into_values().collect::<Vec<_>>(), expected);
}

#[tokio::test]
async fn agent_states_are_read_once_across_runs_and_resharding_and_gaps_are_reported() {
    let env = env(ConnectSimConfig::default(), 2).await;
    let (events, truth) = sim::agent_events(3, day());
    let window = TimeWindow::new(day(), day() + Days::days(2)).unwrap();
    let half = events.len() / 2;
    ConnectSimulator::publish_agent_events(&env.kinesis, STREAM, &events[..half]).await.unwrap();

    // Run 1: the first half.
    let c1 = env.connector(Tuning::default());
    c1.restore_vendor_cursor(None).unwrap();
    let mut table = BTreeMap::new();
    store(&mut table, c1.agent_segments(&[], window, deadline()).await.unwrap());
    let cursor1 = c1.vendor_cursor().expect("a cursor after a read");
    assert!(c1.warnings().is_empty(), "{:?}", c1.warnings());
    assert!(c1.agent_state_gaps().is_empty(), "a first read from the trim horizon loses nothing");
    assert!(table.values().any(|s| s.end.is_none()), "open segments while agents are in a state");

    // The stream is resharded, the second half arrives (partly on the children).
    ConnectSimulator::reshard(&env.kinesis, STREAM).await.unwrap();
    ConnectSimulator::publish_agent_events(&env.kinesis, STREAM, &events[half..]).await.unwrap();
    let c2 = env.connector(Tuning::default());
    c2.restore_vendor_cursor(Some(cursor1.clone())).unwrap();
    store(&mut table, c2.agent_segments(&[], window, deadline()).await.unwrap());
    let cursor2 = c2.vendor_cursor().unwrap();
    assert!(c2.agent_state_gaps().is_empty(), "resharding loses nothing: {:?}", c2.agent_state_gaps());
    let mut expected: Vec<_> = truth.clone();
    expected.sort_by_key(|s| (s.agent_external_id.clone(), s.start));
    assert_eq!(table.into_values().collect::<Vec<_>>(), expected);
    assert!(cursor2["shards"].as_object().unwrap().len() > 2, "children are tracked: {cursor2}");

    // Run 3: nothing new → nothing read again.
    let c3 = env.connector(Tuning::default());
    c3.restore_vendor_cursor(Some(cursor2.clone())).unwrap();
    assert_eq!(c3.agent_segments(&[], window, deadline()).await.unwrap(), vec![]);
    assert!(c3.warnings().is_empty());
    assert!(c3.agent_state_gaps().is_empty());
    // Reading the same records twice (an old cursor) yields the same segments: idempotent.
    let again = env.connector(Tuning::default());
    again.restore_vendor_cursor(Some(cursor1)).unwrap();
    let mut replay = BTreeMap::new();
    store(&mut replay, again.agent_segments(&[], window, deadline()).await.unwrap());
    assert!(replay.values().all(|s| expected.contains(s)), "a replay agrees with the truth");

    // A checkpoint older than the stream's retention: a gap is reported, not hidden.
    // Its period: from the checkpoint's last read to the trim horizon (now − 24 h, moto's retention).
    let mut stale = cursor2.clone();
    let last_read = Utc::now() - Days::hours(30);
    for shard in stale["shards"].as_object_mut().unwrap().values_mut() {
        shard["read_through"] = serde_json::json!(last_read.to_rfc3339());
    }
    let c4 = env.connector(Tuning::default());
    c4.restore_vendor_cursor(Some(stale)).unwrap();
    let before = Utc::now();
    c4.agent_segments(&[], window, deadline()).await.unwrap();
    let after = Utc::now();
    assert!(c4.warnings().iter().any(|w| w.contains("keeps 24 h")), "{:?}", c4.warnings());
    match c4.agent_state_gaps().as_slice() {
        [gap] => {
            assert_eq!((gap.from, gap.reason), (last_read, GapReason::CheckpointExpired), "{gap:?}");
            let day = Days::hours(24);
            assert!(before - day <= gap.to && gap.to <= after - day, "to = now − retention: {gap:?}");
        }
        other => panic!("one gap, shared by every stale shard: {other:?}"),
    }

    // The stream was trimmed/re-created past the checkpoint: a gap, and the new stream is read from its start.
    let recreating = Utc::now();
    ConnectSimulator::recreate_stream(&env.kinesis, STREAM, 1).await.unwrap();
    let recreated = Utc::now();
    let later = sim::agent_events(1, day() + Days::days(1)).0;
    ConnectSimulator::publish_agent_events(&env.kinesis, STREAM, &later).await.unwrap();
    let c5 = env.connector(Tuning::default());
    c5.restore_vendor_cursor(Some(cursor2.clone())).unwrap();
    let segments = c5.agent_segments(&[], window, deadline()).await.unwrap();
    assert_eq!(segments.len(), 4);
    assert!(c5.warnings().iter().any(|w| w.contains("re-created")), "{:?}", c5.warnings());
    // Its period: from the earliest last read of a shard not read to its end, to the new stream's creation.
    let unread_from = cursor2["shards"]
        .as_object()
        .unwrap()
        .values()
        .filter(|s| s["done"] != true)
        .filter_map(|s| s["read_through"].as_str())
        .map(|t| t.parse::<DateTime<Utc>>().unwrap())
        .min()
        .unwrap();
    match c5.agent_state_gaps().as_slice() {
        [gap] => {
            assert_eq!((gap.from, gap.reason), (unread_from, GapReason::StreamRecreated), "{gap:?}");
            // moto's creation timestamp may be rounded to the second.
            let second = Days::seconds(1);
            assert!(recreating - second <= gap.to && gap.to <= recreated + second, "to = creation: {gap:?}");
        }
        other => panic!("one gap for the re-created stream: {other:?}"),
    }
}

#[tokio::test]
async fn a_state_that_began_after_a_runs_window_is_read_by_the_next_run_not_passed_over() {
    // A run at 10:07 imports up to 10:00, its last quarter hour (`read_feed_until`). The stream already holds a
    // lunch break from 10:02 to 10:06: its segments start after the window, so the run returns none of them, and it
    // must leave their records in the stream for the next run. (Before, it read to the tip and the position moved
    // past them: the break was never stored, and the state before it stayed open until 10:06 was read again.)
    let env = env(ConnectSimConfig::default(), 1).await;
    let ten = day() + Days::hours(10);
    let m = |minutes: i64| ten + Days::minutes(minutes);
    let (status, ev) = (sim::status_snapshot, |kind: &str, at, prev, cur| sim::agent_event(0, kind, at, prev, cur));
    let events = [
        ev("LOGIN", m(-10), None, Some(status(0, m(-10)))),
        ev("STATE_CHANGE", m(2), Some(status(0, m(-10))), Some(status(1, m(2)))),
        ev("STATE_CHANGE", m(6), Some(status(1, m(2))), Some(status(0, m(6)))),
    ];
    ConnectSimulator::publish_agent_events(&env.kinesis, STREAM, &events).await.unwrap();
    let spans = |segments: Vec<AgentSegment>| -> Vec<(DateTime<Utc>, Option<DateTime<Utc>>)> {
        segments.into_iter().map(|s| (s.start, s.end)).collect()
    };

    let first = env.connector(Tuning::default());
    first.restore_vendor_cursor(None).unwrap();
    first.read_feed_until(ten).unwrap();
    let read = first.agent_segments(&[], TimeWindow::new(day(), ten).unwrap(), deadline()).await.unwrap();
    assert_eq!(spans(read), [(m(-10), None)], "the state as it stood at 10:00");
    let cursor = first.vendor_cursor().expect("a cursor");

    let next = env.connector(Tuning::default());
    next.restore_vendor_cursor(Some(cursor)).unwrap();
    next.read_feed_until(m(15)).unwrap();
    let read = next.agent_segments(&[], TimeWindow::new(day(), m(15)).unwrap(), deadline()).await.unwrap();
    assert_eq!(spans(read), [(m(-10), Some(m(2))), (m(2), Some(m(6))), (m(6), None)], "the break, read once");
}

/// Stores a connector's agent states of `window` as the import does with a feed's: read a day at a time (the read
/// bounded by the window's end), each day's pieces cut at midnights (`plan::owned_pieces`) and merged by (agent,
/// start) — nothing deleted, and a stored end kept against the same state without one.
async fn import_feed(
    c: &AmazonConnectConnector,
    window: TimeWindow,
    deadline: Deadline,
    table: &mut BTreeMap<(String, DateTime<Utc>), AgentSegment>,
) {
    use acd_app::import::plan;
    c.read_feed_until(window.end).unwrap();
    for chunk in plan::day_chunks(window) {
        let segments = c.agent_segments(&[], chunk, deadline).await.unwrap();
        for piece in plan::owned_pieces(&segments, chunk) {
            let key = (piece.agent_external_id.to_string(), piece.start);
            if piece.end.is_none() && table.get(&key).is_some_and(|stored| stored.end.is_some()) {
                continue;
            }
            table.insert(key, piece);
        }
    }
}

/// A read the deadline stops part-way through a shard knows its agents' open states only up to where it stopped.
/// Agent 0 goes on a lunch break at 23:30 and logs out at 23:50; between the two come 5,000 heart-beats of agent 1.
/// The first run reads one record a page with two seconds to go before the read's margin (2 s), so it stops among
/// the heart-beats (5,000 pages take longer), after the break (two pages); the next run reads on to the logout. Stored as the import stores a feed's states,
/// agent 0 has the break 23:30–23:50 and nothing the next day. Before, the first read returned the break open: the
/// import cut it at midnight and stored the next day's piece open, and the logout read later closed only the 23:30
/// piece — a break from midnight on, stored for good (the feed's merge deletes nothing).
#[tokio::test]
async fn a_read_stopped_part_way_stores_no_piece_of_an_open_state_past_where_it_read() {
    let env = env(ConnectSimConfig::default(), 1).await;
    // Two whole days ending at today's midnight: a window the import may write (it ends before now).
    let day = day() - Days::days(1);
    let window = TimeWindow::new(day, day + Days::days(2)).unwrap();
    let at = |h: i64, m: i64| day + Days::hours(h) + Days::minutes(m);
    let status = sim::status_snapshot;
    let mut events = vec![
        sim::agent_event(0, "LOGIN", at(23, 0), None, Some(status(0, at(23, 0)))),
        sim::agent_event(0, "STATE_CHANGE", at(23, 30), Some(status(0, at(23, 0))), Some(status(1, at(23, 30)))),
    ];
    let since = at(22, 0);
    for i in 0..5000 {
        let t = at(23, 31) + Days::milliseconds(i * 200);
        events.push(sim::agent_event(1, "HEART_BEAT", t, Some(status(0, since)), Some(status(0, since))));
    }
    events.push(sim::agent_event(0, "LOGOUT", at(23, 50), Some(status(1, at(23, 30))), None));
    ConnectSimulator::publish_agent_events_batched(&env.kinesis, STREAM, &events).await.unwrap();
    let mut table = BTreeMap::new();

    let first = env.connector(Tuning { stream_records_per_call: 1, ..Tuning::default() });
    first.restore_vendor_cursor(None).unwrap();
    // The session (AssumeRole, DescribeInstance) first: the read's second is the stream's alone.
    first.list_agents(deadline()).await.unwrap();
    import_feed(&first, window, Deadline::after(Duration::from_secs(4)), &mut table).await;
    assert!(
        first.warnings().iter().any(|w| w.contains("not read to its tip")),
        "the first read stops part-way: {:?}",
        first.warnings()
    );
    let agent0 = sim::user_id(0);
    assert!(table.contains_key(&(agent0.clone(), at(23, 30))), "it read past the break: {:?}", table.keys());
    let cursor = first.vendor_cursor().expect("a cursor");

    let next = env.connector(Tuning::default());
    next.restore_vendor_cursor(Some(cursor)).unwrap();
    import_feed(&next, window, deadline(), &mut table).await;
    assert!(next.warnings().is_empty(), "read to the end: {:?}", next.warnings());
    let stored = |agent: &str| -> Vec<(String, DateTime<Utc>, Option<DateTime<Utc>>)> {
        let of = table.values().filter(|s| *s.agent_external_id == *agent);
        of.map(|s| (s.status_id.to_string(), s.start, s.end)).collect()
    };
    let (available, lunch) = (sim::STATUSES[0].0.to_owned(), sim::STATUSES[1].0.to_owned());
    assert_eq!(
        stored(&agent0),
        [(available.clone(), at(23, 0), Some(at(23, 30))), (lunch, at(23, 30), Some(at(23, 50)))],
        "the break as it was, no piece of it from midnight on"
    );
    // Agent 1, still available where the stream ends (read to its end): a piece of every day up to the window's end.
    let midnight = day + Days::days(1);
    assert_eq!(
        stored(&sim::user_id(1)),
        [(available.clone(), since, Some(midnight)), (available, midnight, Some(window.end))]
    );
}

#[tokio::test]
async fn settings_are_checked() {
    let mut s = AmazonConnectSettings {
        region: "eu-west-1".into(),
        instance_id: "nope".into(),
        agent_event_stream_arn: "arn:aws:kinesis:us-east-1:123456789012:stream/x".into(),
        service_level_seconds: 0,
    };
    let fields: Vec<_> = s.problems().into_iter().map(|(f, _)| f).collect();
    assert_eq!(fields, ["region", "instance_id", "agent_event_stream_arn", "service_level_seconds"]);
    s.region = "us-east-1".into();
    s.instance_id = sim::INSTANCE_ID.into();
    s.service_level_seconds = 20;
    assert!(s.problems().is_empty());
    // The SDK takes the Kinesis host from the ARN's account: a 12-digit account of the commercial partition only.
    for arn in [
        "arn:aws:kinesis:us-east-1:evil-label:stream/x",
        "arn:aws:kinesis:us-east-1:12345678901:stream/x",
        "arn:aws-cn:kinesis:us-east-1:123456789012:stream/x",
        "arn:aws:kinesis:us-east-1::stream/x",
    ] {
        s.agent_event_stream_arn = arn.into();
        let fields: Vec<_> = s.problems().into_iter().map(|(f, _)| f).collect();
        assert_eq!(fields, ["agent_event_stream_arn"], "{arn}");
    }
    assert!(AmazonConnectCredentials::role_arn_problem(ROLE).is_none());
    assert!(AmazonConnectCredentials::role_arn_problem("arn:aws:iam::1:user/x").is_some());
    let (a, b) = (AmazonConnectCredentials::new_external_id(), AmazonConnectCredentials::new_external_id());
    assert_ne!(a, b);
    assert!(a.len() == 36 && a.starts_with("acd-") && a[4..].chars().all(|c| c.is_ascii_hexdigit()), "{a}");
    let _ = Utc.timestamp_opt(0, 0);
}

/// The whole path as a customer takes it: the tenant's external id from the API, the role trusting it (the
/// simulator as STS accepts exactly that id), a create whose credentials check assumes the role, an import, and
/// the read API (`GET /queues`, intervals, agent states after mapping).
#[tokio::test]
async fn created_through_the_api_with_the_server_issued_external_id_it_imports_and_answers_queries() {
    use acd_app::import::{ImportConfig, ImportEvent, RunOutcome};
    use acd_integration_tests::{CONNECT_CUSTOMER_ROLE, ConnectEnv, ImportEnv, api_request, decode, openapi};
    use serde_json::{Value, json};

    const TENANT: &str = "tenant-connect";
    let ConnectEnv { env, sim, kinesis, stream_arn } =
        ImportEnv::start_connect(TENANT, ConnectSimConfig::default(), STREAM).await;
    let (events, truth) = sim::agent_events(2, day());
    ConnectSimulator::publish_agent_events(&kinesis, STREAM, &events).await.unwrap();
    let auth = acd_app::http::TenantAuth::JwtClaim("tenant_id".into());
    let queries = acd_aws::wiring::queues_query_api(&env.stack.settings, &env.stack.clients, auth);
    let get = async |path: &str| -> (u16, Value) {
        let (status, content_type, body) = decode(queries.handle(api_request("GET", path, Some(TENANT), None)).await);
        openapi::spec().check("GET", path, status, &content_type, &body);
        (status, body)
    };

    let body = json!({"name": "Connect", "type": "amazon_connect", "credentials": {"role_arn": CONNECT_CUSTOMER_ROLE},
                      "settings": {"region": sim::REGION, "instance_id": sim::INSTANCE_ID,
                                   "agent_event_stream_arn": stream_arn, "history_days": 1}});
    let (status, problem) = env.call("POST", "/integrations", Some(&body)).await;
    assert_eq!((status, problem["code"].as_str()), (409, Some("tenant-token-missing")), "{problem}");
    let (status, issued) = env.call("POST", "/integrations/amazon-connect/external-id", None).await;
    assert_eq!(status, 201);
    let external_id = issued["external_id"].as_str().unwrap().to_owned();
    // The answer names the account the role must trust (`TRUSTED_ACCOUNT_ID`), and so does every later read.
    assert_eq!(issued["trusted_account_id"], json!(acd_test_harness::AwsStack::TRUSTED_ACCOUNT_ID), "{issued}");
    for method in ["POST", "GET"] {
        let (status, again) = env.call(method, "/integrations/amazon-connect/external-id", None).await;
        assert_eq!(status, 200, "{method}: {again}");
        assert_eq!(again, issued, "{method}: the same id and account");
    }

    // A role that trusts another external id: the check's AssumeRole is refused, nothing is created.
    sim.trust("acd-someone-else-00000000000000000");
    let (status, problem) = env.call("POST", "/integrations", Some(&body)).await;
    assert_eq!((status, problem["code"].as_str()), (422, Some("credentials-rejected")), "{problem}");
    // The role trusts the tenant's id: created.
    sim.trust(&external_id);
    let (status, created) = env.call("POST", "/integrations", Some(&body)).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();

    // Runs at one clock, one after the other: started "at once" (as sync now), not by the recurring schedule,
    // whose second run in a quarter hour already imported has nothing to do.
    // The first run at the test's clock: one that started after midnight UTC would not read yesterday (one day of
    // history) that the queries below ask for.
    let event = ImportEvent { tenant_id: TENANT.into(), integration_id: id.clone(), at_once: true };
    let at_test_clock = ImportConfig { now: Some(now()), ..ImportConfig::default() };
    let run = env.importer(at_test_clock).run(&event, Deadline::after(Duration::from_secs(600))).await.unwrap();
    assert_eq!(run.outcome, RunOutcome::Succeeded, "{}", serde_json::to_string(&run).unwrap());
    // Yesterday's and today's segments come from the stream and are merged into what is stored, but neither day
    // was ever written: nothing is read back (yesterday's agents' hours were, one Query per agent, until 2026-12-05)
    // but the hour the run's window ends inside (what a pass may have stored after the window's end must be kept)
    // where it holds pieces: today's of both agents' open logout segments start at midnight, so a run (on the real
    // clock) between 00:15 and 01:00 UTC reads their hour 00, one Query per agent.
    let record = run.run.as_ref().unwrap();
    let (counts, end) = (&record.counts, record.window.unwrap().end);
    let today = sim::midnight(end);
    let last_hour_reads = if today < end && end < today + Days::hours(1) { 2 } else { 0 };
    assert!(counts.segment_writes.written > 0, "{counts:?}");
    assert_eq!(counts.segment_writes.reads, last_hour_reads, "{counts:?} (window end {end})");
    assert!(!sim.assumed_with().is_empty());
    assert!(sim.assumed_with().iter().all(|e| *e == external_id), "every AssumeRole carried the tenant's id");

    // Queues: the calls channel of every STANDARD queue is mappable at once.
    let (status, queues) = get("/queues?limit=100").await;
    assert_eq!(status, 200, "{queues}");
    let items = queues["items"].as_array().unwrap();
    let calls: Vec<&Value> = items.iter().filter(|q| q["channel"] == "calls").collect();
    assert_eq!(calls.len(), 3, "{queues}");
    let q0 = calls.iter().find(|q| q["external_id"] == json!(format!("{}:calls", sim::queue_id(0)))).unwrap();

    // Intervals of yesterday: the simulator's truth for that queue.
    let (from, to) = (day(), day() + Days::days(1));
    let iso = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let path = format!("/queues/{}/intervals?from={}&to={}", q0["id"].as_str().unwrap(), iso(from), iso(to));
    let (status, intervals) = get(&path).await;
    assert_eq!(status, 200, "{intervals}");
    let offered: u64 = intervals["items"].as_array().unwrap().iter().map(|i| i["offered"].as_u64().unwrap_or(0)).sum();
    let want: u64 = sim
        .truth(from, to)
        .iter()
        .filter(|s| s.queue_external_id == format!("{}:calls", sim::queue_id(0)))
        .map(|s| s.offered)
        .sum();
    assert!(want > 0);
    assert_eq!(offered, want);

    // Agent states after mapping agent 0.
    let agent = sim::user_id(0);
    let path = format!("/integrations/{id}/external-agents/{agent}");
    let request = api_request("PUT", &path, Some(TENANT), Some(&json!({"employee_id": "emp-0"})));
    let (status, content_type, mapped) = decode(queries.handle(request).await);
    openapi::spec().check("PUT", &path, status, &content_type, &mapped);
    assert_eq!(status, 200, "{mapped}");
    let (status, states) = get(&format!("/agent-states?from={}&to={}", iso(from), iso(to))).await;
    assert_eq!(status, 200, "{states}");
    let got = states["items"].as_array().unwrap();
    let want = truth.iter().filter(|s| *s.agent_external_id == *agent).count();
    assert!(want > 0);
    assert_eq!(got.len(), want, "{states}");
    assert!(got.iter().all(|s| s["employee_id"] == "emp-0" && s["external_agent_id"] == json!(agent)));
    assert_eq!(states["gaps"], json!([]), "nothing was lost");

    // The stream is re-created (its unread records are gone): the next run succeeds with a gap from where the last
    // run read the stream to the new stream's creation, stored and listed by GET /agent-states.
    let (_, runs) = env.call("GET", &format!("/integrations/{id}/runs"), None).await;
    let first = &runs["items"][0];
    let first_read = |field: &str| first[field].as_str().unwrap().parse::<DateTime<Utc>>().unwrap();
    let (read_from, read_to) = (first_read("started_at"), first_read("ended_at"));
    let recreating = Utc::now();
    ConnectSimulator::recreate_stream(&kinesis, STREAM, 1).await.unwrap();
    let recreated = Utc::now();
    let run =
        env.importer(ImportConfig::default()).run(&event, Deadline::after(Duration::from_secs(600))).await.unwrap();
    let record = run.run.unwrap();
    assert_eq!(record.outcome, RunOutcome::Succeeded, "{record:?}");
    let gap = match record.agent_state_gaps.as_slice() {
        [gap] => *gap,
        other => panic!("one gap: {other:?} ({:?})", record.warnings),
    };
    assert_eq!(gap.reason, acd_domain::GapReason::StreamRecreated);
    assert!(read_from <= gap.from && gap.from <= read_to, "from = the last run's read: {gap:?}");
    let second = Days::seconds(1);
    assert!(recreating - second <= gap.to && gap.to <= recreated + second, "to = the creation: {gap:?}");
    let (_, runs) = env.call("GET", &format!("/integrations/{id}/runs"), None).await;
    assert_eq!(runs["items"][0]["agent_state_gaps"], json!([gap]), "{runs}");
    let listed = json!([{"integration_id": id, "from": gap.from, "to": gap.to, "reason": "stream_recreated"}]);
    let iso_ms = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    let span = format!("/agent-states?from={}&to={}", iso_ms(gap.from - second), iso_ms(gap.to + second));
    let (status, over_gap) = get(&span).await;
    assert_eq!(status, 200, "{over_gap}");
    assert_eq!(over_gap["gaps"], listed, "the gap, whatever the page's agents");
    let inside = format!("/agent-states?from={}&to={}", iso_ms(gap.from + (gap.to - gap.from) / 2), iso_ms(gap.to));
    assert_eq!(get(&inside).await.1["gaps"], listed, "a range inside the gap");
    let before = format!("/agent-states?from={}&to={}", iso(gap.from - Days::hours(3)), iso(gap.from - Days::hours(2)));
    assert_eq!(get(&before).await.1["gaps"], json!([]), "a range before the gap");
    // (`to` rounded up to the millisecond the range is written in.)
    let to_ceil = gap.to + Days::milliseconds(1);
    let after = format!("/agent-states?from={}&to={}", iso_ms(to_ceil), iso_ms(to_ceil + Days::hours(1)));
    assert_eq!(get(&after).await.1["gaps"], json!([]), "a range after the gap (half-open)");

    // Recovery: new data flows through the new stream (agent 2's states), the next run finds no gap, and the gap
    // stays (what was lost is lost).
    let (events, truth) = sim::agent_events(3, day());
    ConnectSimulator::publish_agent_events(&kinesis, STREAM, &events).await.unwrap();
    let run =
        env.importer(ImportConfig::default()).run(&event, Deadline::after(Duration::from_secs(600))).await.unwrap();
    let record = run.run.unwrap();
    assert_eq!(record.outcome, RunOutcome::Succeeded, "{record:?}");
    assert!(record.agent_state_gaps.is_empty() && record.warnings.is_empty(), "{record:?}");
    let agent = sim::user_id(2);
    let path = format!("/integrations/{id}/external-agents/{agent}");
    let request = api_request("PUT", &path, Some(TENANT), Some(&json!({"employee_id": "emp-2"})));
    assert_eq!(decode(queries.handle(request).await).0, 200);
    let (status, states) = get(&format!("/agent-states?employee_id=emp-2&from={}&to={}", iso(from), iso(to))).await;
    assert_eq!(status, 200, "{states}");
    let want = truth.iter().filter(|s| *s.agent_external_id == *agent).count();
    assert!(want > 0);
    assert_eq!(states["items"].as_array().unwrap().len(), want, "the new stream's states: {states}");
    assert_eq!(get(&span).await.1["gaps"], listed, "the gap stays after the recovery");
}

/// The order of the last writes: a gap is saved before the stream position moves past it. An import that finds an
/// expired checkpoint is killed before each of its write requests in turn (the store's test hook), each time from
/// the same table (every item put back as it was, so the data a killed run wrote does not shorten the next run and
/// skip a point); after every such crash, a stored position past the expired checkpoint comes with the stored gap,
/// and exactly one point leaves the gap saved and the position not yet moved. The first run that gets through
/// stores exactly one gap with the checkpoint's bounds.
#[tokio::test]
async fn a_gap_is_saved_before_the_stream_position_moves_past_it() {
    use acd_app::import::{ImportConfig, ImportEvent, RunOutcome};
    use acd_integration_tests::ImportEnv;
    use aws_sdk_dynamodb::types::AttributeValue;
    use serde_dynamo::aws_sdk_dynamodb_1::from_item;
    use serde_json::{Value, json};

    const TENANT: &str = "tenant-connect-crash";
    let connect = ImportEnv::start_connect(TENANT, ConnectSimConfig::default(), STREAM).await;
    ConnectSimulator::publish_agent_events(&connect.kinesis, STREAM, &sim::agent_events(2, day()).0).await.unwrap();
    let id = connect.create_integration("Connect crash").await;
    let env = connect.env;
    // Runs at one clock, one after the other: started "at once" (as sync now), not by the recurring schedule,
    // whose second run in a quarter hour already imported has nothing to do.
    let event = ImportEvent { tenant_id: TENANT.into(), integration_id: id.clone(), at_once: true };
    // The killed runs share one clock: what a run writes does not change when a quarter-hour passes mid-sweep.
    let run = |abort: Option<u64>, now: Option<DateTime<Utc>>| {
        let importer = env.importer(ImportConfig { abort_after_batches: abort, now, ..ImportConfig::default() });
        let event = event.clone();
        async move { importer.run(&event, Deadline::after(Duration::from_secs(600))).await }
    };
    let clean = run(None, None).await.unwrap();
    assert_eq!(clean.outcome, RunOutcome::Succeeded);

    let (dynamodb, table) = (env.stack.clients.dynamodb(), &env.stack.settings.table_name);
    let key = |pk: String, sk: &str| {
        Some([("PK".to_owned(), AttributeValue::S(pk)), ("SK".to_owned(), AttributeValue::S(sk.to_owned()))].into())
    };
    let integration_pk = format!("T#{TENANT}#I#{id}");
    let gaps_key = || key(format!("T#{TENANT}"), &format!("AGAP#{id}"));
    // The stored connector cursor (the stream's per-shard checkpoints).
    let cursor = || async {
        let out = dynamodb
            .get_item()
            .table_name(table)
            .set_key(key(integration_pk.clone(), "CURSOR"))
            .consistent_read(true)
            .send()
            .await
            .unwrap();
        acd_aws::cursor::read_cursor(&out.item.unwrap()).unwrap().0
    };
    let stored_gaps = || async {
        let out = dynamodb.get_item().table_name(table).set_key(gaps_key()).consistent_read(true).send().await.unwrap();
        out.item.map(|item| from_item::<Value>(item).unwrap()["gaps"].clone())
    };
    let last_read = Utc::now() - Days::hours(30);
    let mut expired = cursor().await;
    for shard in expired["shards"].as_object_mut().unwrap().values_mut() {
        shard["read_through"] = json!(last_read.to_rfc3339());
    }
    let s = acd_aws::cursor::cursor_item(integration_pk.clone(), &expired).unwrap();
    dynamodb.put_item().table_name(table).set_item(Some(s)).send().await.unwrap();
    assert!(stored_gaps().await.is_none());
    let items = || async {
        let mut all = BTreeMap::new();
        let mut start = None;
        loop {
            let page = dynamodb
                .scan()
                .table_name(table)
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .unwrap();
            for item in page.items.unwrap_or_default() {
                all.insert((item["PK"].as_s().unwrap().clone(), item["SK"].as_s().unwrap().clone()), item);
            }
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return all,
            }
        }
    };
    // The table every point starts from: the clean run's, its checkpoint expired, no stored gap and no lease.
    let start = items().await;
    let now = Utc::now();
    let mut gap_saved_cursor_not = 0;
    for n in 1..200u64 {
        let now_stored = items().await;
        for (pk, sk) in now_stored.keys().filter(|k| !start.contains_key(k)) {
            dynamodb.delete_item().table_name(table).set_key(key(pk.clone(), sk)).send().await.unwrap();
        }
        for (k, item) in &start {
            if now_stored.get(k) != Some(item) {
                dynamodb.put_item().table_name(table).set_item(Some(item.clone())).send().await.unwrap();
            }
        }
        assert_eq!(items().await, start, "{n}: the table is put back");

        let outcome = run(Some(n), Some(now)).await;
        let moved = cursor().await["shards"]
            .as_object()
            .unwrap()
            .values()
            .any(|s| s["read_through"] != json!(last_read.to_rfc3339()));
        let gaps = stored_gaps().await;
        assert!(!moved || gaps.is_some(), "killed before write {n}: the position moved past an unsaved gap");
        gap_saved_cursor_not += usize::from(gaps.is_some() && !moved);
        if let Ok(summary) = outcome {
            assert_eq!(summary.outcome, RunOutcome::Succeeded, "{n}: {summary:?}");
            assert!(moved, "a run that gets through moves the position");
            let gaps = gaps.unwrap();
            assert_eq!(gaps.as_array().unwrap().len(), 1, "{gaps}");
            assert_eq!(gaps[0]["from"].as_str().unwrap().parse::<DateTime<Utc>>().unwrap(), last_read, "{gaps}");
            assert_eq!(gaps[0]["reason"], "checkpoint_expired");
            assert!(n > 3, "the run makes several writes before the last ones: {n}");
            assert_eq!(gap_saved_cursor_not, 1, "exactly one crash point falls between the gap and the position");
            return;
        }
    }
    panic!("no run got through 200 write points");
}

/// A back-fill whose `GetMetricDataV2` answers come later than the run's deadline: the calls the deadline cuts off end
/// the run `partial` (paused, continued by the next run) as Five9's and Genesys Cloud's do, not failed — no `failing`
/// status, no alarm an hour on. (The cut-off attempt was "AWS did not answer in time", `vendor_unavailable`, until
/// the connector told the deadline's doing from AWS not answering.) Once Connect answers in time again, the next run
/// succeeds and stores the simulator's statistics.
#[tokio::test]
async fn statistics_answered_after_the_runs_deadline_pause_the_run_and_the_next_one_imports_them() {
    use acd_app::import::{ImportConfig, ImportEvent, RunOutcome};
    use acd_integration_tests::{ConnectEnv, ImportEnv};

    const TENANT: &str = "tenant-connect-late";
    let connect = ImportEnv::start_connect(TENANT, ConnectSimConfig::default(), STREAM).await;
    let id = connect.create_integration("Connect late").await;
    let ConnectEnv { env, sim, .. } = connect;
    // Runs at one clock, started "at once" (as sync now); a safety margin and bookkeeping reserve scaled to the 5 s
    // deadline as the defaults (90 s, 10 s) are to Lambda's 15 minutes: the short run still starts its fetch.
    let event = ImportEvent { tenant_id: TENANT.into(), integration_id: id.clone(), at_once: true };
    let import = env.importer(ImportConfig {
        now: Some(now()),
        safety_margin: Duration::from_secs(1),
        record_reserve: Duration::from_secs(1),
        ..ImportConfig::default()
    });
    let status = async || env.call("GET", &format!("/integrations/{id}"), None).await.1["status"].clone();

    // Every statistics answer takes 10 s, but the credentials check's probe at the run's start: the fetch's (4 s
    // left to the ACD) are cut off by the run's deadline.
    sim.add_fault(Fault::Delay { operation: "GetMetricDataV2".into(), ms: 10_000, skip: 1 });
    let limit = Duration::from_secs(5);
    let started = std::time::Instant::now();
    let paused = import.run(&event, Deadline::after(limit)).await.unwrap().run.unwrap();
    assert!(started.elapsed() < limit, "the run ended before its deadline: {:?}", started.elapsed());
    assert_eq!((paused.outcome, paused.reason), (RunOutcome::Partial, None), "{paused:?}");
    assert_eq!(paused.counts.days, 0, "no day read: {paused:?}");
    // (The credentials check's probe is one call: the fetch asked for statistics too.)
    assert!(sim.calls("GetMetricDataV2") >= 2, "the statistics were asked for");
    let after_pause = status().await;
    assert_eq!(after_pause["state"], "importing", "paused, not failing: {after_pause}");
    assert!(after_pause.get("reason").is_none_or(|r| r.is_null()), "{after_pause}");

    // Connect answers in time again: the next run imports the day the paused one could not.
    sim.clear_faults();
    let run = import.run(&event, Deadline::after(Duration::from_secs(600))).await.unwrap().run.unwrap();
    assert_eq!(run.outcome, RunOutcome::Succeeded, "{run:?}");
    assert_eq!(status().await["state"], "operational");
    let window = run.window.expect("the run's window");
    let stored = env.intervals(&id).await;
    let mut truth = sim.truth(window.start, window.end);
    truth.sort_by_key(|s| (s.queue_external_id.clone(), s.interval_start));
    assert!(truth.len() > 20, "the simulator should have data: {}", truth.len());
    assert_eq!(stored, truth, "the intervals stored equal the simulator's (window {window:?})");
}

/// The role is assumed through STS in the function's own region (`AWS_REGION`), not the instance's: an opt-in region
/// the service's account has not enabled (af-south-1) has no STS endpoint for it, and its refusal would read as the
/// customer's role rejecting the service. (A review, 2026-12-07.)
#[tokio::test]
async fn the_role_is_assumed_through_sts_in_the_functions_own_region() {
    use acd_integration_tests::ImportEnv;
    let connect = ImportEnv::start_connect("tenant-sts-region", ConnectSimConfig::default(), STREAM).await;
    // The function runs in another region than the instance (`sim::REGION`); read at the first Connect call.
    // SAFETY: nextest runs each test in its own process; nothing else reads the environment concurrently.
    unsafe { std::env::set_var("AWS_REGION", "eu-central-1") };
    assert_ne!(sim::REGION, "eu-central-1");
    connect.create_integration("Connect elsewhere").await;
    let regions = connect.sim.assume_role_regions();
    assert!(!regions.is_empty() && regions.iter().all(|r| r == "eu-central-1"), "{regions:?}");
}
