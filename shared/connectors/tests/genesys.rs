//! Genesys Cloud connector: reference payloads, and end-to-end runs against the simulator whose truth the numbers
//! must match exactly; every fault must map onto its typed error.

use std::collections::HashSet;
use std::time::Duration;

use acd_connectors::genesys::segments::Records;
use acd_connectors::genesys::stats::split_external_queue_id;
use acd_connectors::genesys::wire::{Listing, UserDetailsResponse, WirePresenceDefinition, WireQueue, WireUser};
use acd_connectors::genesys::{
    AggregateAccumulator, Definition, GenesysAgentId, GenesysConnector, GenesysRegion, GenesysSettings, ListingReading,
    Tuning, agents_from_entities, queues_from_entities,
};
use acd_connectors::{Connector, ConnectorError, Deadline, Endpoints, HttpClient, RetryPolicy};
use acd_domain::{AgentSegment, Channel, ExternalAgent, IntervalStats, Queue, TimeWindow};
use acd_simulators::genesys::{Correction, Fault, FaultKind, FaultTarget, GenesysSimConfig, GenesysSimulator};
use chrono::{DateTime, TimeZone, Utc};

// ---- reference payloads ---------------------------------------------------------------------------------------------

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/genesys/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn t(d: u32, h: u32, m: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, d, h, m, s).unwrap()
}

#[test]
fn queue_listing_yields_one_queue_per_channel() {
    let page: Listing<WireQueue> = serde_json::from_slice(&fixture("queues_page1.json")).unwrap();
    assert_eq!(page.next_uri.as_deref(), Some("/api/v2/routing/queues?pageSize=3&pageNumber=2"));
    let queues = queues_from_entities(page.entities.unwrap()).unwrap();
    let got: Vec<(&str, &str, Channel)> =
        queues.iter().map(|q| (q.external_id.as_str(), q.name.as_str(), q.channel)).collect();
    assert_eq!(
        got,
        vec![
            ("1f2b6a0e-3c1d-4b57-9a8e-0c4d2e7f9a11:calls", "Support", Channel::Calls),
            ("1f2b6a0e-3c1d-4b57-9a8e-0c4d2e7f9a11:chats", "Support", Channel::Chats),
            ("1f2b6a0e-3c1d-4b57-9a8e-0c4d2e7f9a11:emails", "Support", Channel::Emails),
            // `workitem` has no WFM channel.
            ("7c0e5d44-9b2a-4f3e-8d61-3a9f0b2c4e55:calls", "Sales", Channel::Calls),
            // No mediaSettings: every channel (documented choice).
            ("c3d9e8f1-2a4b-4c6d-8e0f-1a2b3c4d5e6f:calls", "Legacy queue without media settings", Channel::Calls),
            ("c3d9e8f1-2a4b-4c6d-8e0f-1a2b3c4d5e6f:chats", "Legacy queue without media settings", Channel::Chats),
            ("c3d9e8f1-2a4b-4c6d-8e0f-1a2b3c4d5e6f:emails", "Legacy queue without media settings", Channel::Emails),
        ]
    );
}

#[test]
fn user_listing_keeps_active_and_inactive_users() {
    let users = || serde_json::from_slice::<Listing<WireUser>>(&fixture("users_page1.json")).unwrap().entities.unwrap();
    let by_name = agents_from_entities(users(), GenesysAgentId::Username).unwrap();
    let got: Vec<(&str, Option<&str>)> =
        by_name.iter().map(|(_, a)| (a.external_id.as_str(), a.display_name.as_deref())).collect();
    assert_eq!(got, vec![("ann.meyer@example.com", Some("Ann Meyer")), ("bob.smith@example.com", Some("Bob Smith"))]);
    let by_id = agents_from_entities(users(), GenesysAgentId::Id).unwrap();
    assert_eq!(by_id[0].1.external_id, "0d6f7a1e-8c2b-4e3d-9f10-a1b2c3d4e5f6");
}

#[test]
fn presence_definitions_become_statuses() {
    let listing: Listing<WirePresenceDefinition> =
        serde_json::from_slice(&fixture("presence_definitions.json")).unwrap();
    let defs: Vec<Definition> = listing.entities.unwrap().into_iter().filter_map(Definition::from_wire).collect();
    let plain = acd_connectors::genesys::segments::statuses(&defs, false);
    assert_eq!(plain.len(), 6);
    assert_eq!(plain[5].name, "Coaching");
    let detailed = acd_connectors::genesys::segments::statuses(&defs, true);
    let ids: Vec<&str> = detailed.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids.len(), 10);
    assert!(ids.contains(&"e08eaf1b-ee47-4fa9-a231-1200e284798f:COMMUNICATING"));
    assert!(detailed.iter().any(|s| s.name == "On Queue – Not Responding"));
}

#[test]
fn aggregates_map_onto_interval_stats() {
    let window = TimeWindow::new(t(1, 0, 0, 0), t(2, 0, 0, 0)).unwrap();
    let mut acc = AggregateAccumulator::new(window, None);
    acc.add_response(&fixture("aggregates.json")).unwrap();
    let stats = acc.finish();
    let q = "1f2b6a0e-3c1d-4b57-9a8e-0c4d2e7f9a11";
    assert_eq!(
        stats,
        vec![
            IntervalStats {
                queue_external_id: format!("{q}:calls"),
                interval_start: t(1, 8, 0, 0),
                offered: 880,
                handled: 817,
                abandoned: 57,
                handle_time_ms: 131_580_101,
                answer_time_ms: 9_930_000,
                answered_within_sl: Some(680),
            },
            IntervalStats {
                queue_external_id: format!("{q}:calls"),
                interval_start: t(1, 8, 15, 0),
                offered: 0,
                handled: 1,
                abandoned: 0,
                handle_time_ms: 600_000,
                answer_time_ms: 0,
                answered_within_sl: None,
            },
            IntervalStats {
                queue_external_id: format!("{q}:chats"),
                interval_start: t(1, 8, 0, 0),
                offered: 7,
                handled: 0,
                abandoned: 1,
                handle_time_ms: 0,
                answer_time_ms: 0,
                answered_within_sl: None,
            },
        ]
    );
}

#[test]
fn user_details_pages_merge_into_segments() {
    let mut records = Records::default();
    for page in ["user_details_page1.json", "user_details_page2.json"] {
        let body = fixture(page);
        let r: UserDetailsResponse = serde_json::from_slice(&body).unwrap();
        assert_eq!(r.total_hits, Some(2));
        records.add(r.user_details).unwrap();
    }
    // Page 2 repeats the Coaching record and has a record without organizationPresenceId.
    assert!(records.needs_definitions());
    let listing: Listing<WirePresenceDefinition> =
        serde_json::from_slice(&fixture("presence_definitions.json")).unwrap();
    let defs: Vec<Definition> = listing.entities.unwrap().into_iter().filter_map(Definition::from_wire).collect();
    records.resolve(&defs).unwrap();
    let window = TimeWindow::new(t(1, 8, 0, 0), t(1, 12, 0, 0)).unwrap();
    let user = "0d6f7a1e-8c2b-4e3d-9f10-a1b2c3d4e5f6";
    let plain = records.segments(user, "ann", window, false);
    type Row<'a> = (&'a str, DateTime<Utc>, Option<DateTime<Utc>>);
    let got: Vec<Row> = plain.iter().map(|s| (&*s.status_id, s.start, s.end)).collect();
    assert_eq!(
        got,
        vec![
            ("e08eaf1b-ee47-4fa9-a231-1200e284798f", t(1, 8, 0, 0), Some(t(1, 10, 0, 0))),
            ("2fa68d50-5edb-4e01-9390-522615f12243", t(1, 10, 0, 0), Some(t(1, 10, 30, 0))),
            ("227b37e2-f1d0-4dd0-8f50-badd7cf6d158", t(1, 10, 30, 0), None),
        ]
    );
    let detailed = records.segments(user, "ann", window, true);
    let statuses: Vec<&str> = detailed.iter().map(|s| &*s.status_id).collect();
    assert_eq!(
        statuses,
        vec![
            "e08eaf1b-ee47-4fa9-a231-1200e284798f",
            "e08eaf1b-ee47-4fa9-a231-1200e284798f:IDLE",
            "e08eaf1b-ee47-4fa9-a231-1200e284798f:NOT_RESPONDING",
            "e08eaf1b-ee47-4fa9-a231-1200e284798f:INTERACTING",
            "e08eaf1b-ee47-4fa9-a231-1200e284798f:COMMUNICATING",
            "2fa68d50-5edb-4e01-9390-522615f12243",
            "227b37e2-f1d0-4dd0-8f50-badd7cf6d158",
        ]
    );
    // The detailed pieces tile the On Queue record exactly.
    assert_eq!(detailed[0].start, t(1, 8, 0, 0));
    assert_eq!(detailed[4].end, Some(t(1, 10, 0, 0)));
    assert!(detailed.windows(2).take(4).all(|p| p[0].end == Some(p[1].start)));
}

#[test]
fn truncated_vendor_input_is_malformed_never_a_panic_or_a_partial_result() {
    let window = TimeWindow::new(t(1, 0, 0, 0), t(2, 0, 0, 0)).unwrap();
    let body = fixture("aggregates.json");
    let whole = body.trim_ascii_end().len();
    let mut acc = AggregateAccumulator::new(window, None);
    acc.add_response(&body).unwrap();
    assert_eq!(acc.finish().len(), 3);
    for cut in 0..whole {
        let mut acc = AggregateAccumulator::new(window, None);
        let result = acc.add_response(&body[..cut]);
        assert!(matches!(result, Err(ConnectorError::Malformed { .. })), "cut at {cut}: {result:?}");
    }
    for name in ["user_details_page1.json", "queues_page1.json", "users_page1.json", "presence_definitions.json"] {
        let body = fixture(name);
        let whole = body.trim_ascii_end().len();
        for cut in 0..whole {
            let part = &body[..cut];
            assert!(serde_json::from_slice::<UserDetailsResponse>(part).is_err() || name != "user_details_page1.json");
            assert!(serde_json::from_slice::<Listing<WireQueue>>(part).is_err() || name == "user_details_page1.json");
        }
        assert!(serde_json::from_slice::<serde_json::Value>(&body).is_ok(), "{name}");
    }
}

// ---- against the simulator ----------------------------------------------------------------------------------------------

/// Wednesday 2024-05-15, 10:07:30 UTC: mid-interval, agents mid-shift, data since 2024-05-01.
fn now() -> DateTime<Utc> {
    t(15, 10, 7, 30)
}

fn config() -> GenesysSimConfig {
    GenesysSimConfig {
        now: Some(now()),
        queues: 5,
        agents: 8,
        history_days: 14,
        contacts_per_interval: 3.0,
        ..Default::default()
    }
}

fn fast_retry() -> RetryPolicy {
    RetryPolicy { max_attempts: 4, base: Duration::from_millis(10), cap: Duration::from_millis(40) }
}

fn settings(detailed: bool, agent_id: GenesysAgentId) -> GenesysSettings {
    GenesysSettings { region: GenesysRegion::EuWest1, detailed_on_queue_statuses: detailed, agent_id }
}

fn endpoints(sim: &GenesysSimulator) -> Endpoints {
    Endpoints::default()
        .with_var("GENESYS_CLOUD_API_BASE_URL", sim.base_url())
        .with_var("GENESYS_CLOUD_LOGIN_BASE_URL", sim.base_url())
}

fn connector_with(sim: &GenesysSimulator, settings: GenesysSettings, tuning: Tuning) -> GenesysConnector {
    GenesysConnector::new(
        HttpClient::new().unwrap(),
        &endpoints(sim),
        settings,
        sim.client_id().to_owned(),
        sim.client_secret().to_owned().into(),
    )
    .with_tuning(tuning)
}

fn connector(sim: &GenesysSimulator) -> GenesysConnector {
    connector_with(sim, settings(false, GenesysAgentId::Username), Tuning { retry: fast_retry(), ..Tuning::default() })
}

fn deadline() -> Deadline {
    Deadline::after(Duration::from_secs(60))
}

fn sorted_queues(mut q: Vec<Queue>) -> Vec<Queue> {
    q.sort_by(|a, b| a.external_id.cmp(&b.external_id));
    q
}

fn sorted_agents(mut a: Vec<ExternalAgent>) -> Vec<ExternalAgent> {
    a.sort_by(|x, y| x.external_id.cmp(&y.external_id));
    a
}

fn day_before_now() -> TimeWindow {
    TimeWindow::new(now() - chrono::Duration::hours(30), now() + chrono::Duration::minutes(15)).unwrap()
}

#[tokio::test]
async fn verify_proves_credentials_and_permissions() {
    let sim = GenesysSimulator::start(config()).await.unwrap();
    let c = connector(&sim);
    c.verify(deadline()).await.unwrap();
    let r = sim.requests();
    assert_eq!(
        (r.tokens_issued, r.queues, r.users, r.presence_definitions, r.aggregates, r.user_details),
        (1, 1, 1, 1, 1, 1)
    );
    assert_eq!(c.calls_made(), 6);

    let wrong = GenesysConnector::new(
        HttpClient::new().unwrap(),
        &endpoints(&sim),
        settings(false, GenesysAgentId::Username),
        sim.client_id().to_owned(),
        "not-the-secret".to_owned().into(),
    );
    assert_eq!(wrong.verify(deadline()).await, Err(ConnectorError::CredentialsRejected));

    sim.set_missing_permissions(&["analytics:userDetail:view"]);
    match c.verify(deadline()).await {
        Err(ConnectorError::PermissionMissing { message }) => {
            assert!(message.contains("analytics:userDetail:view"), "{message}")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn queues_are_listed_per_channel_across_pages_and_follow_renames_and_deletes() {
    let sim = GenesysSimulator::start(GenesysSimConfig { queues: 7, max_page_size: 2, ..config() }).await.unwrap();
    let c = connector(&sim);
    let queues = sorted_queues(c.list_queues(deadline()).await.unwrap());
    assert_eq!(queues, sim.expected_queues());
    assert_eq!(sim.requests().queues, 4, "7 queues at 2 a page");
    // A voice + callback queue is one calls queue; every channel kind occurs.
    let channels: HashSet<Channel> = queues.iter().map(|q| q.channel).collect();
    assert_eq!(channels, HashSet::from([Channel::Calls, Channel::Chats, Channel::Emails]));
    assert!(queues.len() > 7);

    let ids = sim.queue_ids();
    assert!(sim.rename_queue(&ids[0], "Support – renamed"));
    assert!(sim.delete_queue(&ids[1]));
    let after = sorted_queues(c.list_queues(deadline()).await.unwrap());
    assert_eq!(after, sim.expected_queues());
    assert!(after.iter().filter(|q| q.external_id.starts_with(&ids[0])).all(|q| q.name == "Support – renamed"));
    assert!(after.iter().any(|q| q.external_id.starts_with(&ids[0])));
    assert!(!after.iter().any(|q| q.external_id.starts_with(&ids[1])));
}

#[tokio::test]
async fn a_queue_listing_that_changes_while_it_is_paged_is_read_again_never_short() {
    // The listing is sorted by name: the first queue renamed to sort last, between pages 1 and 2 (as page 2's request
    // arrives), shifts every queue back by one, so page 2 starts one queue late and the queue that moved is listed
    // again on the last page. Read as it was, one queue was missing: marked inactive, its intervals zeros.
    let sim = GenesysSimulator::start(GenesysSimConfig { queues: 7, max_page_size: 2, ..config() }).await.unwrap();
    let c = connector(&sim);
    let listed = c.list_queues(deadline()).await.unwrap();
    let first = split_external_queue_id(&listed[0].external_id).unwrap().0.to_owned();
    let rename = FaultKind::RenameQueue { queue_id: first.clone(), name: "zz last by name".into() };
    sim.add_fault(Fault::once(FaultTarget::Queues, rename).after(1));
    let before = sim.requests().queues;
    let queues = c.list_queues(deadline()).await.unwrap();
    assert_eq!(sorted_queues(queues), sim.expected_queues());
    assert!(sim.expected_queues().iter().any(|q| q.external_id.starts_with(&first) && q.name == "zz last by name"));
    assert_eq!(sim.requests().queues - before, 4 + 4, "read twice: the shifted reading, then a whole one");

    // A queue deleted between pages: page 2 counts one queue less than page 1 did. Read again.
    let deleted =
        split_external_queue_id(&c.list_queues(deadline()).await.unwrap()[0].external_id).unwrap().0.to_owned();
    sim.add_fault(Fault::once(FaultTarget::Queues, FaultKind::DeleteQueue { queue_id: deleted.clone() }).after(1));
    let queues = sorted_queues(c.list_queues(deadline()).await.unwrap());
    assert_eq!(queues, sim.expected_queues());
    assert!(!queues.iter().any(|q| q.external_id.starts_with(&deleted)));
}

#[tokio::test]
async fn a_listing_page_short_of_an_entity_its_total_counts_is_read_again_never_short() {
    // Page 2 of 4 (7 queues at 2 a page) holds one queue, its `total`, `pageCount` and `nextUri` as they were. Read
    // as it was, that queue was gone from the listing and its channels went inactive.
    let sim = GenesysSimulator::start(GenesysSimConfig { queues: 7, max_page_size: 2, ..config() }).await.unwrap();
    let c = connector(&sim);
    sim.add_fault(Fault::once(FaultTarget::Queues, FaultKind::ShortPage).after(1));
    let before = sim.requests().queues;
    assert_eq!(sorted_queues(c.list_queues(deadline()).await.unwrap()), sim.expected_queues());
    assert_eq!(sim.requests().queues - before, 4 + 4, "read twice: the short reading, then a whole one");
    // Short on every reading: malformed, never a listing without the queue.
    sim.add_fault(Fault::always(FaultTarget::Queues, FaultKind::ShortPage).after(1));
    let err = c.list_queues(deadline()).await;
    assert!(
        matches!(&err, Err(ConnectorError::Malformed { context }) if context.contains("page 1 counted 7")),
        "{err:?}"
    );
    // The user listing likewise: an agent left out would read as deleted.
    sim.clear_faults();
    let agents = sorted_agents(c.list_agents(deadline()).await.unwrap());
    assert_eq!(agents, sim.expected_agents(GenesysAgentId::Username));
    sim.add_fault(Fault::always(FaultTarget::Users, FaultKind::ShortPage).after(1));
    let err = c.list_agents(deadline()).await;
    assert!(matches!(&err, Err(ConnectorError::Malformed { .. })), "{err:?}");
}

#[tokio::test]
async fn user_details_whose_hits_grow_while_paged_are_read_whole() {
    // The window ends now: an agent's first record of a day can arrive between two pages, and `totalHits` grows.
    // A hit added moves later ones a page on (one read twice, never one missed): the growth is no fault.
    let sim = GenesysSimulator::start(GenesysSimConfig { max_page_size: 2, ..config() }).await.unwrap();
    let c = connector_with(
        &sim,
        settings(false, GenesysAgentId::Username),
        Tuning { retry: fast_retry(), page_size: 2, details_page_size: 2, ..Tuning::default() },
    );
    let agents = c.list_agents(deadline()).await.unwrap();
    let window = TimeWindow::new(t(15, 6, 0, 0), t(15, 9, 0, 0)).unwrap();
    let truth = sim.expected_segments(window, false, GenesysAgentId::Username);
    sim.add_fault(Fault::always(FaultTarget::UserDetails, FaultKind::MoreHits { n: 1 }).after(1));
    assert_eq!(c.agent_segments(&agents, window, deadline()).await.unwrap(), truth);
}

#[tokio::test]
async fn a_user_details_page_without_rows_while_hits_remain_is_malformed_never_fewer_agents() {
    // Page 2 of 3 comes back without `userDetails`, `totalHits` unchanged. Taken as the end of the listing, the agents
    // of pages 2 and 3 had no segments, and the import deleted their stored states of that day.
    let sim = GenesysSimulator::start(GenesysSimConfig { agents: 6, max_page_size: 2, ..config() }).await.unwrap();
    let c = connector_with(
        &sim,
        settings(false, GenesysAgentId::Username),
        Tuning { retry: fast_retry(), page_size: 2, details_page_size: 2, ..Tuning::default() },
    );
    let agents = c.list_agents(deadline()).await.unwrap();
    let window = TimeWindow::new(t(15, 6, 0, 0), t(15, 9, 0, 0)).unwrap();
    let truth = sim.expected_segments(window, false, GenesysAgentId::Username);
    let before = sim.requests().user_details;
    assert_eq!(c.agent_segments(&agents, window, deadline()).await.unwrap(), truth);
    assert!(sim.requests().user_details - before >= 3, "the agents' hits span 3 pages or more");
    sim.add_fault(Fault::once(FaultTarget::UserDetails, FaultKind::NoRows).after(1));
    let err = c.agent_segments(&agents, window, deadline()).await;
    assert!(
        matches!(&err, Err(ConnectorError::Malformed { context }) if context.contains("page 2 is empty")),
        "{err:?}"
    );
    // The fault passed, the next call reads every agent.
    assert_eq!(c.agent_segments(&agents, window, deadline()).await.unwrap(), truth);
}

#[tokio::test]
async fn a_presence_no_definition_lists_is_listed_by_its_id_once_its_segments_are_read() {
    // A definition in a division the OAuth client cannot see: its records carry its id, the definitions listings
    // leave it out. Listed by its id, it can be stored and mapped; before, the mapping routes could never find it
    // and every import listed the statuses again looking for it.
    let sim = GenesysSimulator::start(config()).await.unwrap();
    let c = connector_with(
        &sim,
        settings(false, GenesysAgentId::Username),
        Tuning { retry: fast_retry(), ..Tuning::default() },
    );
    let agents = c.list_agents(deadline()).await.unwrap();
    let window = TimeWindow::new(t(15, 6, 0, 0), t(15, 9, 0, 0)).unwrap();
    let truth = sim.expected_segments(window, false, GenesysAgentId::Username);
    let hidden = truth.last().expect("segments in the window").status_id.to_string();
    assert!(sim.hide_presence_definition(&hidden));
    assert!(!c.list_statuses(deadline()).await.unwrap().iter().any(|s| s.id == hidden), "not read yet");
    assert_eq!(c.agent_segments(&agents, window, deadline()).await.unwrap(), truth);
    let statuses = c.list_statuses(deadline()).await.unwrap();
    let listed: Vec<_> = statuses.iter().filter(|s| s.id == hidden).collect();
    assert_eq!(listed.len(), 1, "{statuses:?}");
    assert_eq!(listed[0].name, hidden);
    // The ids the definitions list are listed once, by their labels, as before.
    let ids: HashSet<&str> = statuses.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids.len(), statuses.len());
}

#[test]
fn a_reading_of_a_listing_notices_a_changed_count_or_an_entity_read_twice() {
    let listing = |v: serde_json::Value| serde_json::from_value::<Listing<serde_json::Value>>(v).unwrap();
    let page = |n: u64, count: u64, total: u64, ids: &[&str]| {
        let entities: Vec<serde_json::Value> = ids.iter().map(|id| serde_json::json!({"id": id})).collect();
        listing(serde_json::json!({"entities": entities, "pageNumber": n, "pageCount": count, "total": total}))
    };
    let mut ok = ListingReading::default();
    for p in [page(1, 3, 5, &["a", "b"]), page(2, 3, 5, &["c", "d"]), page(3, 3, 5, &["e"])] {
        assert_eq!(ok.page(&p), Ok(()));
    }
    assert_eq!(ok.finish(), Ok(()));
    // Pages that hold other than `total` entities: a short middle page, a `pageCount` too small for `total`.
    for pages in [
        vec![page(1, 3, 5, &["a", "b"]), page(2, 3, 5, &["c"]), page(3, 3, 5, &["e"])],
        vec![page(1, 2, 5, &["a", "b"]), page(2, 2, 5, &["c", "d"])],
        vec![page(1, 1, 1, &["a", "b"])],
    ] {
        let mut reading = ListingReading::default();
        for p in &pages {
            assert_eq!(reading.page(p), Ok(()));
        }
        let miscounted = reading.finish().unwrap_err();
        assert!(miscounted.contains("entities, page 1 counted"), "{miscounted}");
    }
    let read = |pages: [Listing<serde_json::Value>; 2]| {
        let mut reading = ListingReading::default();
        assert_eq!(reading.page(&pages[0]), Ok(()));
        reading.page(&pages[1]).unwrap_err()
    };
    let twice = read([page(1, 3, 5, &["a", "b"]), page(2, 3, 5, &["b", "c"])]);
    assert!(twice.contains("b came twice"), "{twice}");
    let fewer_pages = read([page(1, 3, 5, &["a", "b"]), page(2, 2, 4, &["d"])]);
    assert!(fewer_pages.contains("page 1 counted 3 pages, page 2 2"), "{fewer_pages}");
    let fewer = read([page(1, 3, 6, &["a", "b"]), page(2, 3, 5, &["d", "e"])]);
    assert!(fewer.contains("page 1 counted 6 entities, page 2 5"), "{fewer}");
}

#[tokio::test]
async fn interval_stats_match_the_simulator_exactly() {
    let sim = GenesysSimulator::start(config()).await.unwrap();
    let c = connector(&sim);
    let queues = c.list_queues(deadline()).await.unwrap();
    let window = day_before_now();
    let stats = c.interval_stats(&queues, window, deadline()).await.unwrap();
    let expected = sim.expected_interval_stats(window);
    assert_eq!(stats, expected);
    // The data is not trivial: contacts, abandons, service level, all channels, nothing after now.
    assert!(stats.iter().map(|s| s.offered).sum::<u64>() > 500);
    assert!(stats.iter().any(|s| s.abandoned > 0));
    assert!(stats.iter().any(|s| s.answered_within_sl.is_some()));
    let channels: HashSet<&str> = stats.iter().filter_map(|s| s.queue_external_id.rsplit(':').next()).collect();
    assert_eq!(channels.len(), 3);
    assert!(stats.iter().all(|s| s.interval_start <= now()));
    assert_eq!(sim.requests().aggregates, 1);
}

#[tokio::test]
async fn long_windows_and_many_queues_are_chunked() {
    let sim = GenesysSimulator::start(GenesysSimConfig { queues: 130, contacts_per_interval: 0.5, ..config() })
        .await
        .unwrap();
    let c = connector(&sim);
    let queues = c.list_queues(deadline()).await.unwrap();
    assert_eq!(sim.requests().queues, 2, "130 queues at 100 a page");
    let window = TimeWindow::new(t(5, 0, 0, 0), t(14, 0, 0, 0)).unwrap();
    let stats = c.interval_stats(&queues, window, deadline()).await.unwrap();
    // 9 days → 2 chunks (7 + 2 days); 130 queues → 2 chunks (100 + 30): 4 queries, all within the limits the
    // simulator enforces (it answers 400 to more than 7 days or 100 predicates).
    assert_eq!(sim.requests().aggregates, 4);
    assert_eq!(stats, sim.expected_interval_stats(window));
    assert!(
        stats.iter().any(|s| s.interval_start >= t(12, 0, 0, 0))
            && stats.iter().any(|s| s.interval_start < t(12, 0, 0, 0))
    );
}

#[tokio::test]
async fn agents_and_statuses_match_the_simulator() {
    let sim = GenesysSimulator::start(GenesysSimConfig { max_page_size: 3, ..config() }).await.unwrap();
    let by_name = connector(&sim);
    let agents = sorted_agents(by_name.list_agents(deadline()).await.unwrap());
    assert_eq!(agents, sim.expected_agents(GenesysAgentId::Username));
    assert_eq!(agents.len(), 8, "the inactive user is listed too");
    assert_eq!(sim.requests().users, 3);

    let by_id = connector_with(&sim, settings(true, GenesysAgentId::Id), Tuning::default());
    assert_eq!(sorted_agents(by_id.list_agents(deadline()).await.unwrap()), sim.expected_agents(GenesysAgentId::Id));

    let mut plain = by_name.list_statuses(deadline()).await.unwrap();
    plain.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(plain, sim.expected_statuses(false));
    assert!(plain.iter().any(|s| s.name == "Coaching") && plain.iter().any(|s| s.name == "Lunch (old)"));
    let mut detailed = by_id.list_statuses(deadline()).await.unwrap();
    detailed.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(detailed, sim.expected_statuses(true));
    assert_eq!(detailed.len(), plain.len() + 4);
}

async fn segments_case(detailed: bool, agent_id: GenesysAgentId) -> (Vec<AgentSegment>, Vec<AgentSegment>, u64) {
    let sim = GenesysSimulator::start(GenesysSimConfig { max_page_size: 3, ..config() }).await.unwrap();
    let tuning = Tuning { details_page_size: 4, retry: fast_retry(), ..Tuning::default() };
    let c = connector_with(&sim, settings(detailed, agent_id), tuning);
    let agents = c.list_agents(deadline()).await.unwrap();
    let window = TimeWindow::new(t(13, 22, 0, 0), now() + chrono::Duration::hours(1)).unwrap();
    let got = c.agent_segments(&agents, window, deadline()).await.unwrap();
    (got, sim.expected_segments(window, detailed, agent_id), sim.requests().user_details)
}

#[tokio::test]
async fn agent_segments_match_the_simulator_exactly() {
    let (got, expected, pages) = segments_case(false, GenesysAgentId::Username).await;
    assert_eq!(got, expected);
    // 8 users × 3 days = 24 hits at 4 a page: 6 pages, most holding fewer than 4 rows.
    assert_eq!(pages, 6);
    assert!(got.len() > 8 * 10);
    assert_eq!(got.iter().filter(|s| s.end.is_none()).count(), 8, "one open segment per agent");
    assert!(got.iter().any(|s| s.start < t(13, 22, 0, 0)), "segments keep their true start");
}

#[tokio::test]
async fn detailed_agent_segments_match_the_simulator_exactly() {
    let (got, expected, _) = segments_case(true, GenesysAgentId::Id).await;
    assert_eq!(got, expected);
    let routing: HashSet<&str> = got.iter().filter_map(|s| s.status_id.split_once(':').map(|(_, r)| r)).collect();
    assert!(routing.contains("IDLE") && routing.contains("INTERACTING"), "{routing:?}");
    // The sub-second gap between going On Queue and the first routing status keeps the plain presence id.
    assert!(got.iter().any(|s| &*s.status_id == "e08eaf1b-ee47-4fa9-a231-1200e284798f"));
}

#[tokio::test]
async fn data_appears_as_the_clock_moves_and_corrections_are_reread() {
    let sim = GenesysSimulator::start(config()).await.unwrap();
    let c = connector(&sim);
    let queues = c.list_queues(deadline()).await.unwrap();
    let window = TimeWindow::new(t(15, 9, 0, 0), t(15, 12, 0, 0)).unwrap();
    let before = c.interval_stats(&queues, window, deadline()).await.unwrap();
    assert!(before.iter().all(|s| s.interval_start <= t(15, 10, 0, 0)));
    sim.set_now(t(15, 11, 20, 0));
    let later = c.interval_stats(&queues, window, deadline()).await.unwrap();
    assert_eq!(later, sim.expected_interval_stats(window));
    assert!(later.iter().any(|s| s.interval_start == t(15, 11, 0, 0)));
    assert_ne!(before, later);

    let first = &later[0];
    let (queue_id, _) = first.queue_external_id.rsplit_once(':').unwrap();
    let media = sim.queue_media(queue_id)[0];
    sim.correct_interval(Correction {
        queue_id: queue_id.to_owned(),
        media_type: media,
        interval_start: first.interval_start,
        offered: Some(999),
        handled: None,
        handle_time_ms: None,
        abandoned: None,
        answer_time_ms: None,
        answered_within_sl: None,
    });
    let corrected = c.interval_stats(&queues, window, deadline()).await.unwrap();
    assert_eq!(corrected, sim.expected_interval_stats(window));
    assert!(corrected[0].offered >= 999 && corrected[0].offered != first.offered);
}

/// Users-listing calls (`/api/v2/users`) made while `f` runs.
async fn listing_calls<T>(sim: &GenesysSimulator, f: impl std::future::Future<Output = T>) -> (T, u64) {
    let before = sim.requests().users;
    let out = f.await;
    (out, sim.requests().users - before)
}

#[tokio::test]
async fn the_user_directory_by_user_name_is_reused_across_connectors_and_read_again_for_an_unknown_agent() {
    // 8 users at 3 a page: one reading of the user listing is 3 calls.
    let sim = GenesysSimulator::start(GenesysSimConfig { max_page_size: 3, ..config() }).await.unwrap();
    let agents = sim.expected_agents(GenesysAgentId::Username);
    let window = TimeWindow::new(now() - chrono::Duration::hours(1), now()).unwrap();
    let expected = sim.expected_segments(window, false, GenesysAgentId::Username);
    let states = |c: GenesysConnector, agents: Vec<ExternalAgent>| async move {
        let got = c.agent_segments(&agents, window, deadline()).await.unwrap();
        (got, c.agents_not_read())
    };

    // An agent-states pass reads the directory; the next pass's connector (same process, same credentials) reuses it.
    let ((got, not_read), calls) = listing_calls(&sim, states(connector(&sim), agents.clone())).await;
    assert_eq!((got, not_read, calls), (expected.clone(), vec![], 3));
    let details = sim.requests().user_details;
    let ((got, not_read), calls) = listing_calls(&sim, states(connector(&sim), agents.clone())).await;
    assert_eq!((got, not_read, calls), (expected.clone(), vec![], 0), "no users-listing call");
    assert!(sim.requests().user_details > details, "the agents were asked about");

    // A user created since, asked about: the directory is read again at once, and the new agent asked about.
    sim.add_user("new.agent@example.com", "New Agent");
    let new = ExternalAgent { external_id: "new.agent@example.com".into(), display_name: None };
    let with_new: Vec<ExternalAgent> = agents.iter().cloned().chain([new]).collect();
    let ((got, not_read), calls) = listing_calls(&sim, states(connector(&sim), with_new.clone())).await;
    assert_eq!((got, not_read, calls), (expected.clone(), vec![], 3), "one reading of the listing");
    let ((_, not_read), calls) = listing_calls(&sim, states(connector(&sim), with_new)).await;
    assert_eq!((not_read, calls), (vec![], 0), "the new reading is cached");

    // A user name Genesys does not have: one reading per connector, the agent not read (its states stay as stored);
    // the reading remembers it absent, so the next connector does not read the listing for it again.
    let gone = ExternalAgent { external_id: "gone@example.com".into(), display_name: None };
    let with_gone: Vec<ExternalAgent> = agents.iter().cloned().chain([gone]).collect();
    let c = connector(&sim);
    let (got, calls) = listing_calls(&sim, c.agent_segments(&with_gone, window, deadline())).await;
    assert_eq!((got.unwrap(), c.agents_not_read(), calls), (expected.clone(), vec!["gone@example.com".into()], 3));
    let (_, calls) = listing_calls(&sim, c.agent_segments(&with_gone, window, deadline())).await;
    assert_eq!((c.agents_not_read(), calls), (vec!["gone@example.com".to_owned()], 0), "once per connector");
    let ((got, not_read), calls) = listing_calls(&sim, states(connector(&sim), with_gone)).await;
    assert_eq!((got, not_read, calls), (expected.clone(), vec!["gone@example.com".into()], 0));

    // Another OAuth client of the same org and API base never reuses the cached directory.
    sim.add_client("other-client", "other-secret");
    let other = GenesysConnector::new(
        HttpClient::new().unwrap(),
        &endpoints(&sim),
        settings(false, GenesysAgentId::Username),
        "other-client".into(),
        "other-secret".to_owned().into(),
    )
    .with_tuning(Tuning { retry: fast_retry(), ..Tuning::default() });
    let ((got, not_read), calls) = listing_calls(&sim, states(other, agents.clone())).await;
    assert_eq!((got, not_read, calls), (expected.clone(), vec![], 3));

    // A listing of agents always reads the listing (and refreshes the cache).
    let (listed, calls) = listing_calls(&sim, connector(&sim).list_agents(deadline())).await;
    assert_eq!((listed.unwrap().len(), calls), (agents.len() + 1, 3));
}

// ---- tokens ------------------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_token_is_reused_across_connectors_and_refreshed_once_on_401() {
    let sim = GenesysSimulator::start(config()).await.unwrap();
    let a = connector(&sim);
    let expected = sim.expected_queues();
    assert_eq!(sorted_queues(a.list_queues(deadline()).await.unwrap()), expected);
    // A second connector of the same process (a warm invocation) reuses the cached token.
    let b = connector(&sim);
    assert_eq!(sorted_queues(b.list_queues(deadline()).await.unwrap()), expected);
    assert_eq!(sim.requests().tokens_issued, 1);

    // The token stops working: one 401, one new token, and the call succeeds.
    sim.revoke_tokens();
    assert_eq!(sorted_queues(b.list_queues(deadline()).await.unwrap()), expected);
    let r = sim.requests();
    assert_eq!((r.tokens_issued, r.api_unauthorized), (2, 1));

    // The API keeps refusing: exactly one refresh, then CredentialsRejected.
    sim.add_fault(Fault::always(FaultTarget::AnyApi, FaultKind::Unauthorized));
    assert_eq!(b.list_queues(deadline()).await, Err(ConnectorError::CredentialsRejected));
    let r = sim.requests();
    assert_eq!((r.tokens_issued, r.api_unauthorized), (3, 3));
}

#[tokio::test]
async fn refused_or_broken_token_answers_are_typed() {
    let sim = GenesysSimulator::start(config()).await.unwrap();
    sim.add_fault(Fault::once(FaultTarget::Token, FaultKind::Unauthorized));
    assert_eq!(connector(&sim).list_queues(deadline()).await, Err(ConnectorError::CredentialsRejected));
    // 403 from the token route (an OAuth client not allowed the client-credentials grant): the credentials are
    // wrong for this use, not a permission of the role to add.
    sim.add_fault(Fault::once(FaultTarget::Token, FaultKind::Forbidden { permission: None }));
    assert_eq!(connector(&sim).list_queues(deadline()).await, Err(ConnectorError::CredentialsRejected));
    sim.add_fault(Fault::once(FaultTarget::Token, FaultKind::Malformed));
    assert!(matches!(connector(&sim).list_queues(deadline()).await, Err(ConnectorError::Malformed { .. })));
    sim.add_fault(Fault::once(FaultTarget::Token, FaultKind::ServerError { status: 503 }));
    assert_eq!(sorted_queues(connector(&sim).list_queues(deadline()).await.unwrap()), sim.expected_queues());
}

// ---- faults -------------------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn retry_after_is_honoured_and_the_deadline_respected() {
    let sim = GenesysSimulator::start(config()).await.unwrap();
    let c = connector(&sim);
    let queues = c.list_queues(deadline()).await.unwrap();
    let window = TimeWindow::new(t(15, 6, 0, 0), t(15, 9, 0, 0)).unwrap();

    sim.add_fault(Fault::once(FaultTarget::Aggregates, FaultKind::RateLimited { retry_after_secs: 1 }));
    let started = std::time::Instant::now();
    let stats = c.interval_stats(&queues, window, deadline()).await.unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1), "waited {:?}", started.elapsed());
    assert_eq!(stats, sim.expected_interval_stats(window));
    assert_eq!(sim.requests().rate_limited, 1);

    // A Retry-After past the deadline ends the call at once, as rate limited.
    sim.add_fault(Fault::always(FaultTarget::Aggregates, FaultKind::RateLimited { retry_after_secs: 30 }));
    let started = std::time::Instant::now();
    let err = c.interval_stats(&queues, window, Deadline::after(Duration::from_secs(5))).await;
    assert_eq!(err, Err(ConnectorError::RateLimited { retry_after: Some(Duration::from_secs(30)) }));
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn server_errors_are_retried_then_reported_unavailable() {
    let sim = GenesysSimulator::start(config()).await.unwrap();
    let c = connector(&sim);
    sim.add_fault(Fault::times(FaultTarget::Queues, FaultKind::ServerError { status: 500 }, 2));
    assert_eq!(sorted_queues(c.list_queues(deadline()).await.unwrap()), sim.expected_queues());
    let before = sim.requests().queues;
    sim.add_fault(Fault::always(FaultTarget::Queues, FaultKind::ServerError { status: 503 }));
    assert!(matches!(c.list_queues(deadline()).await, Err(ConnectorError::Unavailable { .. })));
    assert_eq!(sim.requests().queues - before, u64::from(fast_retry().max_attempts));
}

#[tokio::test]
async fn slow_answers_succeed_and_hanging_ones_end_within_the_deadline() {
    let sim = GenesysSimulator::start(config()).await.unwrap();
    let c = connector(&sim);
    sim.add_fault(Fault::once(FaultTarget::Users, FaultKind::Delay { ms: 300 }));
    assert_eq!(sorted_agents(c.list_agents(deadline()).await.unwrap()), sim.expected_agents(GenesysAgentId::Username));
    sim.add_fault(Fault::always(FaultTarget::Users, FaultKind::Hang));
    let started = std::time::Instant::now();
    let err = c.list_agents(Deadline::after(Duration::from_millis(800))).await.unwrap_err();
    // Cut off by the caller's deadline: the deadline's doing (the import ends the run partial), not an outage.
    assert_eq!(err, ConnectorError::DeadlineExceeded);
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
}

#[tokio::test]
async fn forbidden_bad_requests_and_broken_bodies_are_typed_without_partial_results() {
    let sim = GenesysSimulator::start(GenesysSimConfig { max_page_size: 2, ..config() }).await.unwrap();
    let c = connector(&sim);
    let queues = c.list_queues(deadline()).await.unwrap();
    let window = TimeWindow::new(t(15, 6, 0, 0), t(15, 9, 0, 0)).unwrap();

    sim.add_fault(Fault::once(FaultTarget::Aggregates, FaultKind::Forbidden { permission: None }));
    match c.interval_stats(&queues, window, deadline()).await {
        Err(ConnectorError::PermissionMissing { message }) => {
            assert!(message.contains("analytics:conversationAggregate:view"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    sim.add_fault(Fault::once(FaultTarget::Aggregates, FaultKind::BadRequest));
    assert!(matches!(c.interval_stats(&queues, window, deadline()).await, Err(ConnectorError::Configuration { .. })));
    sim.add_fault(Fault::once(FaultTarget::Aggregates, FaultKind::Truncated));
    assert!(matches!(c.interval_stats(&queues, window, deadline()).await, Err(ConnectorError::Malformed { .. })));
    sim.add_fault(Fault::once(FaultTarget::Queues, FaultKind::Malformed));
    assert!(matches!(c.list_queues(deadline()).await, Err(ConnectorError::Malformed { .. })));
    // The second page of users is cut off: the whole listing fails, nothing half-read is returned.
    sim.add_fault(Fault::once(FaultTarget::Users, FaultKind::Truncated).after(1));
    assert!(matches!(c.list_agents(deadline()).await, Err(ConnectorError::Malformed { .. })));
    // The second page of user details is garbage: no segments at all.
    let paged = connector_with(
        &sim,
        settings(false, GenesysAgentId::Username),
        Tuning { details_page_size: 3, retry: fast_retry(), ..Tuning::default() },
    );
    let agents = paged.list_agents(deadline()).await.unwrap();
    let seg_window = TimeWindow::new(t(14, 0, 0, 0), t(15, 0, 0, 0)).unwrap();
    let pages_before = sim.requests().user_details;
    sim.add_fault(Fault::once(FaultTarget::UserDetails, FaultKind::Malformed).after(1));
    let result = paged.agent_segments(&agents, seg_window, deadline()).await;
    assert!(matches!(result, Err(ConnectorError::Malformed { .. })), "{result:?}");
    assert_eq!(sim.requests().user_details - pages_before, 2);
    sim.add_fault(Fault::once(FaultTarget::PresenceDefinitions, FaultKind::ServerError { status: 502 }));
    let statuses = c.list_statuses(deadline()).await.unwrap();
    assert_eq!(statuses.len(), sim.expected_statuses(false).len());
}

#[tokio::test]
async fn empty_answers_are_empty_results() {
    let sim = GenesysSimulator::start(config()).await.unwrap();
    let c = connector(&sim);
    let queues = c.list_queues(deadline()).await.unwrap();
    let agents = c.list_agents(deadline()).await.unwrap();
    let window = TimeWindow::new(t(15, 6, 0, 0), t(15, 9, 0, 0)).unwrap();
    sim.add_fault(Fault::once(FaultTarget::Aggregates, FaultKind::Empty));
    assert_eq!(c.interval_stats(&queues, window, deadline()).await, Ok(Vec::new()));
    sim.add_fault(Fault::once(FaultTarget::UserDetails, FaultKind::Empty));
    assert_eq!(c.agent_segments(&agents, window, deadline()).await, Ok(Vec::new()));
    sim.add_fault(Fault::once(FaultTarget::Queues, FaultKind::Empty));
    assert_eq!(c.list_queues(deadline()).await, Ok(Vec::new()));
    // Before the data starts there is nothing, and that is not an error either.
    let early = TimeWindow::new(t(1, 0, 0, 0) - chrono::Duration::days(3), t(1, 0, 0, 0)).unwrap();
    assert_eq!(c.interval_stats(&queues, early, deadline()).await, Ok(Vec::new()));
    assert_eq!(c.agent_segments(&agents, early, deadline()).await, Ok(Vec::new()));
    // Unknown agents and queues are not queried at all.
    let before = sim.requests();
    let ghost = [ExternalAgent { external_id: "nobody@example.com".into(), display_name: None }];
    assert_eq!(c.agent_segments(&ghost, window, deadline()).await, Ok(Vec::new()));
    assert_eq!(sim.requests().user_details, before.user_details);
}

#[test]
fn listings_and_details_without_paging_fields_or_required_fields_are_malformed_fixtures() {
    use acd_connectors::genesys::next_page;
    let page: Listing<WireUser> = serde_json::from_slice(&fixture("users_page_without_paging.json")).unwrap();
    let err = next_page(&page, 1, "user listing").unwrap_err();
    assert!(err.to_string().contains("pageNumber or pageCount"), "{err}");
    // Contradictions: a next page beyond the count, the wrong page, a page announcing more but empty, an early end.
    let listing = |v: serde_json::Value| serde_json::from_value::<Listing<serde_json::Value>>(v).unwrap();
    let ok = listing(serde_json::json!(
        {"entities": [1], "pageNumber": 1, "pageCount": 2, "total": 2, "nextUri": "/api/v2/users?pageNumber=2"}
    ));
    assert_eq!(next_page(&ok, 1, "x").unwrap(), Some("/api/v2/users?pageNumber=2"));
    assert_eq!(
        next_page(&listing(serde_json::json!({"entities": [], "pageNumber": 1, "pageCount": 0, "total": 0})), 1, "x"),
        Ok(None)
    );
    for (expected, bad) in [
        (1, serde_json::json!({"pageNumber": 1, "pageCount": 1})),
        (1, serde_json::json!({"entities": [1], "pageNumber": 2, "pageCount": 2})),
        (1, serde_json::json!({"entities": [1], "pageNumber": 1, "pageCount": 2})),
        (
            2,
            serde_json::json!({"entities": [1], "pageNumber": 2, "pageCount": 2, "nextUri": "/api/v2/users?pageNumber=3"}),
        ),
        (
            1,
            serde_json::json!({"entities": [], "pageNumber": 1, "pageCount": 3, "nextUri": "/api/v2/users?pageNumber=2"}),
        ),
        (1, serde_json::json!({"entities": [1], "pageNumber": 1, "pageCount": 0})),
    ] {
        let page = listing(bad.clone());
        let result = next_page(&page, expected, "x");
        assert!(matches!(result, Err(ConnectorError::Malformed { .. })), "{bad}: {result:?}");
    }
    let body = fixture("user_details_without_total_hits.json");
    let details: UserDetailsResponse = serde_json::from_slice(&body).unwrap();
    assert_eq!((details.user_details.len(), details.total_hits), (1, None));
    // Aggregates: a group without queueId, a tHandle without its sum, an nOffered without stats.
    let body: serde_json::Value = serde_json::from_slice(&fixture("aggregates_missing_fields.json")).unwrap();
    let window = TimeWindow::new(t(1, 0, 0, 0), t(2, 0, 0, 0)).unwrap();
    for (i, what) in [(0, "queueId"), (1, "sum"), (2, "count")] {
        let one = serde_json::json!({"results": [body["results"][i].clone()]});
        let mut acc = AggregateAccumulator::new(window, None);
        let err = acc.add_response(one.to_string().as_bytes()).unwrap_err();
        assert!(matches!(&err, ConnectorError::Malformed { context } if context.contains(what)), "{i}: {err:?}");
    }
}

#[test]
fn a_queue_whose_media_settings_name_no_channel_keeps_every_channel() {
    // `mediaSettings` of `{}` (or only keys without a WFM channel) says no more about the queue's channels than a
    // missing one. Before, it gave the queue no channel: no WFM queue, so the import took it for removed.
    let entities: Vec<WireQueue> = serde_json::from_value(serde_json::json!([
        {"id": "q1", "name": "Support", "mediaSettings": {}},
        {"id": "q2", "name": "Work", "mediaSettings": {"workitem": {}}},
        {"id": "q3", "name": "Chat only", "mediaSettings": {"chat": {}, "workitem": {}}},
    ]))
    .unwrap();
    let queues = queues_from_entities(entities).unwrap();
    let ids: Vec<&str> = queues.iter().map(|q| q.external_id.as_str()).collect();
    assert_eq!(ids, ["q1:calls", "q1:chats", "q1:emails", "q2:calls", "q2:chats", "q2:emails", "q3:chats"]);
    assert_eq!((queues[0].name.as_str(), queues[0].channel), ("Support", Channel::Calls));
}

#[test]
fn a_queue_without_a_name_a_group_without_data_and_rows_that_cannot_be_right_are_malformed() {
    // Until 2026-12-08: a queue without a name was named by its id (the WFM queue renamed to it), a result group
    // without `data` read as zeros, a user-details row without records as a user without states, and a record
    // ending before its start was dropped (each emptying stored data).
    let entities: Vec<WireQueue> =
        serde_json::from_value(serde_json::json!([{"id": "q1", "name": "Support"}, {"id": "q2"}])).unwrap();
    let err = queues_from_entities(entities).unwrap_err();
    assert!(matches!(&err, ConnectorError::Malformed { context } if context.contains("q2")), "{err:?}");

    let window = TimeWindow::new(t(1, 0, 0, 0), t(2, 0, 0, 0)).unwrap();
    let body = serde_json::json!({"results": [{"group": {"queueId": "q1", "mediaType": "voice"}}]});
    let err = AggregateAccumulator::new(window, None).add_response(body.to_string().as_bytes()).unwrap_err();
    assert!(matches!(err, ConnectorError::Malformed { .. }), "{err:?}");

    let presence = serde_json::json!({"startTime": "2026-03-01T08:00:00Z", "endTime": "2026-03-01T09:00:00Z",
        "systemPresence": "AVAILABLE", "organizationPresenceId": "p1"});
    let routing = serde_json::json!({"startTime": "2026-03-01T08:00:00Z", "routingStatus": "IDLE"});
    let backwards = serde_json::json!({"startTime": "2026-03-01T09:00:00Z", "endTime": "2026-03-01T08:00:00Z",
        "systemPresence": "AVAILABLE", "organizationPresenceId": "p1"});
    // One page of user details holding `row`, added to new records.
    let add = |row: serde_json::Value| {
        let body = serde_json::json!({"userDetails": [row], "totalHits": 1}).to_string();
        let page: UserDetailsResponse = serde_json::from_str(&body).unwrap();
        Records::default().add(page.user_details)
    };
    // A row of routing records only is taken (a presence spanning days may not come with every day's query).
    add(serde_json::json!({"userId": "u1", "routingStatus": [routing]})).unwrap();
    for (what, row) in [
        ("no records", serde_json::json!({"userId": "u1"})),
        ("ends before it starts", serde_json::json!({"userId": "u1", "primaryPresence": [presence, backwards]})),
    ] {
        let answer = add(row);
        assert!(matches!(answer, Err(ConnectorError::Malformed { .. })), "{what}: {answer:?}");
    }
    // An empty record (ending as it starts) is only skipped.
    let empty = serde_json::json!({"startTime": "2026-03-01T08:00:00Z", "endTime": "2026-03-01T08:00:00Z",
        "systemPresence": "AVAILABLE", "organizationPresenceId": "p1"});
    add(serde_json::json!({"userId": "u1", "primaryPresence": [empty]})).unwrap();
}

#[test]
fn a_listing_page_without_total_is_malformed() {
    // `total` is documented on every page of a listing: without it, a page short of an entity goes unnoticed (that
    // queue or agent read as removed). Before, such a listing was read without the count check.
    use acd_connectors::genesys::next_page;
    let listing = |v: serde_json::Value| serde_json::from_value::<Listing<serde_json::Value>>(v).unwrap();
    for (expected, page) in [
        (1, serde_json::json!({"entities": [{"id": "a"}], "pageNumber": 1, "pageCount": 1})),
        (1, serde_json::json!({"entities": [], "pageNumber": 1, "pageCount": 0})),
        (
            1,
            serde_json::json!({"entities": [{"id": "a"}], "pageNumber": 1, "pageCount": 2, "nextUri": "/api/v2/users?pageNumber=2"}),
        ),
    ] {
        let parsed = listing(page.clone());
        let result = next_page(&parsed, expected, "user listing");
        assert!(
            matches!(&result, Err(ConnectorError::Malformed { context }) if context.contains("no total")),
            "{page}: {result:?}"
        );
    }
    // A reading whose first page counted no total is not taken as whole either.
    let mut reading = ListingReading::default();
    let page = listing(serde_json::json!({"entities": [{"id": "a"}], "pageNumber": 1, "pageCount": 1}));
    assert_eq!(reading.page(&page), Ok(()));
    let err = reading.finish().unwrap_err();
    assert!(err.contains("no total"), "{err}");
}

#[tokio::test]
async fn presence_definitions_without_total_or_short_of_it_are_malformed() {
    // The definitions are one answer (no paging) that counts its `total`: one without it, or holding fewer, may lack
    // a definition. Before, `total` was never read.
    let sim = GenesysSimulator::start(config()).await.unwrap();
    let c = connector(&sim);
    assert_eq!(c.list_statuses(deadline()).await.unwrap().len(), sim.expected_statuses(false).len());
    for (kind, what) in [(FaultKind::MissingPaging, "has no total"), (FaultKind::ShortPage, "definitions and holds")] {
        sim.clear_faults();
        sim.add_fault(Fault::once(FaultTarget::PresenceDefinitions, kind.clone()));
        let err = c.list_statuses(deadline()).await;
        assert!(
            matches!(&err, Err(ConnectorError::Malformed { context }) if context.contains(what)),
            "{kind:?}: {err:?}"
        );
    }
    // Of the second answer (`deactivated=true`) too.
    sim.clear_faults();
    sim.add_fault(Fault::once(FaultTarget::PresenceDefinitions, FaultKind::MissingPaging).after(1));
    let err = c.list_statuses(deadline()).await;
    assert!(matches!(&err, Err(ConnectorError::Malformed { context }) if context.contains("has no total")), "{err:?}");
}

#[test]
fn an_aggregates_answer_without_results_is_empty_only_as_an_empty_object() {
    // `{}` is Genesys's answer without data. Any other object without `results` is not an aggregates answer: before,
    // it read as a day without contacts, complete.
    let window = TimeWindow::new(t(1, 0, 0, 0), t(2, 0, 0, 0)).unwrap();
    let mut acc = AggregateAccumulator::new(window, None);
    assert_eq!(acc.add_response(b"{}"), Ok(()));
    assert_eq!(acc.add_response(br#"{"results":[],"jobId":"x"}"#), Ok(()));
    assert!(acc.finish().is_empty());
    for body in [&br#"{"jobId":"x"}"#[..], br#"{"status":"ok"}"#, br#"{"result":[]}"#] {
        let err = AggregateAccumulator::new(window, None).add_response(body);
        assert!(
            matches!(&err, Err(ConnectorError::Malformed { context }) if context.contains("no results")),
            "{}: {err:?}",
            String::from_utf8_lossy(body)
        );
    }
    // Not an object at all, or `results` twice or null: malformed as before.
    for body in [&b"[]"[..], b"null", br#"{"results":[],"results":[]}"#, br#"{"results":null}"#] {
        let err = AggregateAccumulator::new(window, None).add_response(body);
        assert!(matches!(&err, Err(ConnectorError::Malformed { .. })), "{}: {err:?}", String::from_utf8_lossy(body));
    }
}

#[tokio::test]
async fn missing_paging_fields_and_empty_objects_are_malformed_never_fewer_agents() {
    // Defect 1 of issue 10: `totalHits` absent ended paging after page 1 and the later pages' agents lost their
    // segments. Paging that cannot be trusted fails the call.
    let sim = GenesysSimulator::start(GenesysSimConfig { max_page_size: 2, ..config() }).await.unwrap();
    let c = connector_with(
        &sim,
        settings(false, GenesysAgentId::Username),
        Tuning { retry: fast_retry(), page_size: 2, details_page_size: 2, ..Tuning::default() },
    );
    let queues = c.list_queues(deadline()).await.unwrap();
    let agents = c.list_agents(deadline()).await.unwrap();
    let window = TimeWindow::new(t(15, 6, 0, 0), t(15, 9, 0, 0)).unwrap();
    assert!(!c.agent_segments(&agents, window, deadline()).await.unwrap().is_empty());
    for target in [FaultTarget::Queues, FaultTarget::Users, FaultTarget::UserDetails] {
        for kind in [FaultKind::MissingPaging, FaultKind::EmptyObject] {
            sim.clear_faults();
            sim.add_fault(Fault::always(target, kind.clone()));
            let err = match target {
                FaultTarget::Queues => c.list_queues(deadline()).await.map(|_| ()),
                FaultTarget::Users => c.list_agents(deadline()).await.map(|_| ()),
                _ => c.agent_segments(&agents, window, deadline()).await.map(|_| ()),
            };
            assert!(matches!(err, Err(ConnectorError::Malformed { .. })), "{target:?} {kind:?}: {err:?}");
        }
    }
    // A later page of user details that contradicts the first page's `totalHits` (`{"totalHits":0}`): the pages
    // it would end are unknown. Before, it ended the paging and the later pages' agents had no segments.
    sim.clear_faults();
    sim.add_fault(Fault::once(FaultTarget::UserDetails, FaultKind::Empty).after(1));
    let err = c.agent_segments(&agents, window, deadline()).await;
    assert!(
        matches!(&err, Err(ConnectorError::Malformed { context }) if context.contains("page 2 counts 0 totalHits, an earlier page")),
        "{err:?}"
    );
    // `{}` is the documented "no data" answer of the aggregates query: empty, not malformed.
    sim.clear_faults();
    sim.add_fault(Fault::once(FaultTarget::Aggregates, FaultKind::EmptyObject));
    assert_eq!(c.interval_stats(&queues, window, deadline()).await, Ok(Vec::new()));
}

// ---- over HTTP: the control routes the local run and the import's end-to-end tests use -------------------------------------

#[tokio::test]
async fn the_control_routes_drive_the_simulator_over_http() {
    let sim = GenesysSimulator::start(config()).await.unwrap();
    let http = reqwest::Client::new();
    let base = sim.base_url();
    let info: serde_json::Value = http.get(format!("{base}/__sim/info")).send().await.unwrap().json().await.unwrap();
    assert_eq!(info["clientId"], sim.client_id());
    assert_eq!(info["clientSecret"], sim.client_secret());

    let c = connector(&sim);
    let queues = c.list_queues(deadline()).await.unwrap();
    let truth: Vec<Queue> = http.get(format!("{base}/__sim/truth/queues")).send().await.unwrap().json().await.unwrap();
    assert_eq!(sorted_queues(queues.clone()), truth);

    let window = day_before_now();
    let url = format!(
        "{base}/__sim/truth/interval-stats?start={}&end={}",
        window.start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        window.end.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    let truth: Vec<IntervalStats> = http.get(url).send().await.unwrap().json().await.unwrap();
    assert_eq!(c.interval_stats(&queues, window, deadline()).await.unwrap(), truth);

    let url = format!(
        "{base}/__sim/truth/agent-segments?start={}&end={}&detailed=true&agent_id=username",
        window.start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        window.end.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    let truth: Vec<AgentSegment> = http.get(url).send().await.unwrap().json().await.unwrap();
    let detailed = connector_with(&sim, settings(true, GenesysAgentId::Username), Tuning::default());
    let agents = detailed.list_agents(deadline()).await.unwrap();
    assert_eq!(detailed.agent_segments(&agents, window, deadline()).await.unwrap(), truth);

    let fault =
        serde_json::json!({"target": "queues", "kind": "forbidden", "permission": "routing:queue:view", "times": 1});
    let added = http.post(format!("{base}/__sim/faults")).json(&fault).send().await.unwrap();
    assert!(added.status().is_success());
    assert!(matches!(c.list_queues(deadline()).await, Err(ConnectorError::PermissionMissing { .. })));
    let renamed = http
        .post(format!("{base}/__sim/queues/{}/rename", sim.queue_ids()[0]))
        .json(&serde_json::json!({"name": "Renamed over HTTP"}))
        .send()
        .await
        .unwrap();
    assert!(renamed.status().is_success());
    assert!(c.list_queues(deadline()).await.unwrap().iter().any(|q| q.name == "Renamed over HTTP"));
    let counts: serde_json::Value =
        http.get(format!("{base}/__sim/requests")).send().await.unwrap().json().await.unwrap();
    assert!(counts["queues"].as_u64().unwrap() >= 3);
}

#[tokio::test]
async fn tokens_are_renewed_before_they_expire() {
    let sim = GenesysSimulator::start(GenesysSimConfig { token_ttl_secs: 2, ..config() }).await.unwrap();
    let c = connector(&sim);
    c.list_queues(deadline()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(sorted_queues(c.list_queues(deadline()).await.unwrap()), sim.expected_queues());
    let r = sim.requests();
    // The connector took a new token on its own: the simulator never had to refuse an expired one.
    assert_eq!((r.tokens_issued, r.api_unauthorized), (2, 0));
}

#[tokio::test]
async fn the_simulator_enforces_the_query_limits_the_connector_keeps() {
    let sim = GenesysSimulator::start(GenesysSimConfig { queues: 130, contacts_per_interval: 0.2, ..config() })
        .await
        .unwrap();
    // A connector that ignores the limits is refused with 400, as Genesys does.
    let reckless = connector_with(
        &sim,
        settings(false, GenesysAgentId::Username),
        Tuning { max_predicates: 500, max_query_days: 40, retry: fast_retry(), ..Tuning::default() },
    );
    let queues = reckless.list_queues(deadline()).await.unwrap();
    let day = TimeWindow::new(t(14, 0, 0, 0), t(15, 0, 0, 0)).unwrap();
    match reckless.interval_stats(&queues, day, deadline()).await {
        Err(ConnectorError::Configuration { message }) => assert!(message.contains("bad.request"), "{message}"),
        other => panic!("{other:?}"),
    }
    let few: Vec<Queue> = queues.iter().take(3).cloned().collect();
    let long = TimeWindow::new(t(3, 0, 0, 0), t(12, 0, 0, 0)).unwrap();
    assert!(matches!(reckless.interval_stats(&few, long, deadline()).await, Err(ConnectorError::Configuration { .. })));
    let agents = reckless.list_agents(deadline()).await.unwrap();
    let too_long = TimeWindow::new(t(1, 0, 0, 0) - chrono::Duration::days(20), t(15, 0, 0, 0)).unwrap();
    assert!(matches!(
        reckless.agent_segments(&agents, too_long, deadline()).await,
        Err(ConnectorError::Configuration { .. })
    ));
    // The same calls within the limits succeed.
    let careful = connector(&sim);
    assert_eq!(careful.interval_stats(&queues, day, deadline()).await.unwrap(), sim.expected_interval_stats(day));
    assert_eq!(
        careful.interval_stats(&few, long, deadline()).await.unwrap(),
        sim.expected_interval_stats_for(
            &few.iter().map(|q| q.external_id.rsplit_once(':').unwrap().0.to_owned()).collect::<Vec<_>>(),
            long,
        )
        .into_iter()
        .filter(|s| few.iter().any(|q| q.external_id == s.queue_external_id))
        .collect::<Vec<_>>()
    );
}
