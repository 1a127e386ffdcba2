//! The queues-query read routes end to end: the real handler with API Gateway v2 requests against DynamoDB
//! emulated by moto, with imported data written through the item shapes the import writes. Every answer is checked
//! against infra/openapi.yaml.

use std::collections::HashSet;
use std::time::Duration;

use crate::query_support::*;
use acd_app::cursor::Listing;
use acd_aws::items::QueueItem;
use acd_domain::{Channel, QueueId};
use serde_json::{Value, json};

fn ids(items: &[Value]) -> Vec<String> {
    items.iter().map(|q| q["id"].as_str().unwrap().to_owned()).collect()
}

fn names(items: &[Value]) -> Vec<String> {
    items.iter().map(|q| q["name"].as_str().unwrap().to_owned()).collect()
}

/// The listing's order as the spec documents it: by the UTF-8 bytes of `{lower-cased name}#{queue id}` (the index's
/// sort key), strictly increasing. Not "by name, then id": `Sales 2` comes before `Sales` (a space is below `#`),
/// `Sales-EU` after it (`queues_are_listed_by_the_bytes_of_lower_cased_name_hash_id`).
fn assert_sorted(items: &[Value]) {
    let keys: Vec<Vec<u8>> = items
        .iter()
        .map(|q| format!("{}#{}", q["name"].as_str().unwrap().to_lowercase(), q["id"].as_str().unwrap()).into_bytes())
        .collect();
    for pair in keys.windows(2) {
        let shown = |k: &[u8]| String::from_utf8_lossy(k).into_owned();
        assert!(pair[0] < pair[1], "out of order: {} then {}", shown(&pair[0]), shown(&pair[1]));
    }
}

fn spec_queue(
    t: &str,
    integration: acd_domain::IntegrationId,
    integration_name: &str,
    ext: &str,
    name: &str,
    channel: Channel,
    active: bool,
) -> QueueItem {
    queue(QueueSpec {
        tenant: t,
        integration,
        integration_name,
        external_id: ext.into(),
        name: name.into(),
        channel,
        active,
    })
}

#[tokio::test]
async fn channels_listed_once_seen_appear_only_with_data_and_then_stay() {
    let env = Env::start().await;
    let genesys = env.create_integration("tenant-a", "Genesys EU").await;
    let with = |ext: &str, channel, data: bool, once_seen: bool| {
        let mut q = spec_queue("tenant-a", genesys, "Genesys EU", ext, "Support", channel, true);
        q.once_seen = once_seen;
        if !data {
            (q.data_from, q.data_to) = (None, None);
        }
        q
    };
    env.put_items(vec![
        item(with("support:calls", Channel::Calls, false, false)),
        item(with("support:chats", Channel::Chats, false, true)),
        item(with("support:emails", Channel::Emails, true, true)),
    ])
    .await;
    let listed = |page: &Value| -> Vec<String> {
        page["items"].as_array().unwrap().iter().map(|q| q["external_id"].as_str().unwrap().to_owned()).collect()
    };
    for query in ["/queues", "/queues?include_inactive=true", "/queues?q=support"] {
        let page = env.get(query, "tenant-a").await;
        assert_eq!(listed(&page), ["support:calls", "support:emails"], "{query}: {page}");
    }
    let chats = env.get("/queues?channel=chats", "tenant-a").await;
    assert_eq!(chats["items"], json!([]), "a chat queue without traffic is not offered");
    // Its first data: listed from then on.
    env.put_items(vec![item(with("support:chats", Channel::Chats, true, true))]).await;
    let page = env.get("/queues", "tenant-a").await;
    assert_eq!(listed(&page), ["support:calls", "support:chats", "support:emails"]);
}

#[tokio::test]
async fn queue_listing_filters_sorts_and_shows_current_integration_names() {
    let env = Env::start().await;
    let five9 = env.create_integration("tenant-a", "Five9 Support").await;
    let genesys = env.create_integration("tenant-a", "Genesys EU").await;
    let queues = vec![
        spec_queue("tenant-a", five9, "Five9 Support", "Sales", "Sales", Channel::Calls, true),
        spec_queue("tenant-a", five9, "Five9 Support", "billing", "billing", Channel::Calls, true),
        spec_queue("tenant-a", five9, "Five9 Support", "Old", "Archived", Channel::Calls, false),
        spec_queue("tenant-a", genesys, "Genesys EU", "q1:chat", "Sales", Channel::Chats, true),
        spec_queue("tenant-a", genesys, "Genesys EU", "q2:email", "Réclamations", Channel::Emails, true),
        spec_queue("tenant-a", genesys, "Genesys EU", "q3:call", "Support Tier 2", Channel::Calls, true),
    ];
    env.put_items(queues.into_iter().map(item).collect()).await;

    let page = env.get("/queues", "tenant-a").await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(names(items), ["billing", "Réclamations", "Sales", "Sales", "Support Tier 2"], "inactive left out");
    assert_sorted(items);
    assert_eq!(page["next_cursor"], Value::Null);
    let sales_chat = items.iter().find(|q| q["channel"] == "chats").unwrap();
    assert_eq!(sales_chat["id"], QueueId::new(genesys, "q1:chat").to_string());
    assert_eq!(sales_chat["integration_id"], genesys.to_string());
    assert_eq!(sales_chat["integration_name"], "Genesys EU");
    assert_eq!(sales_chat["external_id"], "q1:chat");
    assert_eq!(sales_chat["interval_minutes"], 15);
    assert_eq!(sales_chat["active"], true);
    assert_eq!(sales_chat["first_seen"], "2024-03-01T00:00:00Z");
    assert_eq!(sales_chat["data_to"], "2024-03-02T00:00:00Z");

    let all = env.get("/queues?include_inactive=true", "tenant-a").await;
    let archived = all["items"].as_array().unwrap().iter().find(|q| q["name"] == "Archived").expect("inactive listed");
    assert_eq!(archived["active"], false);
    assert_eq!(env.get("/queues?include_inactive=false", "tenant-a").await["items"].as_array().unwrap().len(), 5);

    let calls = env.get("/queues?channel=calls", "tenant-a").await;
    assert_eq!(names(calls["items"].as_array().unwrap()), ["billing", "Sales", "Support Tier 2"]);
    assert_eq!(env.get("/queues?channel=social_media", "tenant-a").await["items"], Value::Array(vec![]));

    let of_five9 = env.get(&format!("/queues?integration_id={five9}"), "tenant-a").await;
    assert_eq!(names(of_five9["items"].as_array().unwrap()), ["billing", "Sales"]);
    let both = env.get(&format!("/queues?integration_id={genesys}&channel=calls"), "tenant-a").await;
    assert_eq!(names(both["items"].as_array().unwrap()), ["Support Tier 2"]);

    // q: case-insensitive substring of the queue's name…
    assert_eq!(names(env.get("/queues?q=SALES", "tenant-a").await["items"].as_array().unwrap()), ["Sales", "Sales"]);
    assert_eq!(names(env.get("/queues?q=récla", "tenant-a").await["items"].as_array().unwrap()), ["Réclamations"]);
    assert_eq!(names(env.get("/queues?q=TIER", "tenant-a").await["items"].as_array().unwrap()), ["Support Tier 2"]);
    // …or of the integration's name.
    let genesys_named = env.get("/queues?q=genesys", "tenant-a").await;
    assert_eq!(names(genesys_named["items"].as_array().unwrap()), ["Réclamations", "Sales", "Support Tier 2"]);
    let combined = env.get("/queues?q=sales&channel=calls", "tenant-a").await;
    assert_eq!(ids(combined["items"].as_array().unwrap()), [QueueId::new(five9, "Sales").to_string()]);

    // Renaming the integration shows at once, and q matches the current name, not the stored one.
    let (status, _) = env
        .admin(
            "PATCH",
            &format!("/integrations/{genesys}"),
            "tenant-a",
            Some(&serde_json::json!({"name": "Cloud Center"})),
        )
        .await;
    assert_eq!(status, 200);
    let renamed = env.get("/queues?q=cloud", "tenant-a").await;
    let renamed = renamed["items"].as_array().unwrap();
    assert_eq!(renamed.len(), 3);
    assert!(renamed.iter().all(|q| q["integration_name"] == "Cloud Center"), "{renamed:?}");
    assert!(
        env.get("/queues?q=genesys", "tenant-a").await["items"].as_array().unwrap().is_empty(),
        "stale stored name"
    );
    let one = env.get(&format!("/queues/{}", QueueId::new(genesys, "q3:call")), "tenant-a").await;
    assert_eq!(one["integration_name"], "Cloud Center");
    assert_eq!(one["name"], "Support Tier 2");
}

#[tokio::test]
async fn queues_of_a_deleted_integration_stay_readable_as_inactive_under_their_last_name() {
    let env = Env::start().await;
    let gone = env.create_integration("tenant-a", "Five9 Legacy").await;
    let kept = env.create_integration("tenant-a", "Genesys").await;
    let mut items: Vec<_> = queues("tenant-a", gone, "Five9 Legacy", "Legacy", 3).into_iter().map(item).collect();
    items.extend(queues("tenant-a", kept, "Genesys", "Kept", 2).into_iter().map(item));
    let legacy_queue = QueueId::new(gone, "Legacy-ext-00000");
    items.push(item(interval("tenant-a", &legacy_queue, at(1, 10, 0), 4, 4, 60_000, None)));
    items.push(state("tenant-a", gone, at(3, 0, 0)));
    env.put_items(items).await;
    assert_eq!(env.get("/queues", "tenant-a").await["items"].as_array().unwrap().len(), 5);

    let (status, _) = env.admin("DELETE", &format!("/integrations/{gone}"), "tenant-a", None).await;
    assert_eq!(status, 204);

    let active = env.get("/queues", "tenant-a").await;
    assert_eq!(names(active["items"].as_array().unwrap()), ["Kept 00000", "Kept 00001"]);
    let all = env.get("/queues?include_inactive=true", "tenant-a").await;
    let legacy: Vec<&Value> =
        all["items"].as_array().unwrap().iter().filter(|q| q["integration_id"] == gone.to_string()).collect();
    assert_eq!(legacy.len(), 3);
    assert!(legacy.iter().all(|q| q["active"] == false && q["integration_name"] == "Five9 Legacy"), "{legacy:?}");
    // The stored name still finds them, the integration filter too.
    let by_name = env.get("/queues?q=FIVE9&include_inactive=true", "tenant-a").await;
    assert_eq!(by_name["items"].as_array().unwrap().len(), 3);
    let by_integration = env.get(&format!("/queues?integration_id={gone}&include_inactive=true"), "tenant-a").await;
    assert_eq!(by_integration["items"].as_array().unwrap().len(), 3);
    assert!(
        env.get(&format!("/queues?integration_id={gone}"), "tenant-a").await["items"].as_array().unwrap().is_empty()
    );

    // One queue and its data are still there.
    let one = env.get(&format!("/queues/{legacy_queue}"), "tenant-a").await;
    assert_eq!((one["active"].clone(), one["integration_name"].clone()), (Value::Bool(false), "Five9 Legacy".into()));
    let stats = env
        .get(&format!("/queues/{legacy_queue}/intervals?from=2024-03-01T10:00:00Z&to=2024-03-01T10:30:00Z"), "tenant-a")
        .await;
    assert_eq!(stats["items"][0]["offered"], 4);
    assert_eq!(stats["items"][1]["offered"], 0);
}

#[tokio::test]
async fn intervals_are_zero_filled_while_complete_and_missing_after() {
    // The same answers whether the intervals are stored one item each, as hour buckets, or both (acd_aws::buckets).
    for form in FORMS {
        eprintln!("intervals stored as {form:?}");
        intervals_in_form(form).await;
    }
}

async fn intervals_in_form(form: Form) {
    let env = Env::start().await;
    let integration = env.create_integration("tenant-a", "Genesys").await;
    let other = env.create_integration("tenant-a", "Not imported yet").await;
    let q = QueueId::new(integration, "q:call");
    let fresh = QueueId::new(other, "new:call");
    let mut items = vec![
        item(spec_queue("tenant-a", integration, "Genesys", "q:call", "Calls", Channel::Calls, true)),
        item(spec_queue("tenant-a", other, "Not imported yet", "new:call", "New", Channel::Calls, true)),
        state("tenant-a", integration, at(1, 10, 45)),
    ];
    items.extend(intervals_as(
        form,
        vec![
            interval("tenant-a", &q, at(1, 9, 45), 9, 9, 9_000, Some(9)), // before the range
            interval("tenant-a", &q, at(1, 10, 0), 5, 4, 123_456, Some(3)),
            interval("tenant-a", &q, at(1, 10, 30), 2, 2, 60_000, None),
            interval("tenant-a", &q, at(1, 11, 0), 1, 1, 1_000, None), // after complete_through: preliminary
            interval("tenant-a", &q, at(1, 11, 30), 7, 7, 7_000, None), // `to` is exclusive
        ],
    ));
    env.put_items(items).await;

    let body =
        env.get(&format!("/queues/{q}/intervals?from=2024-03-01T10:00:00Z&to=2024-03-01T11:30:00Z"), "tenant-a").await;
    assert_eq!(body["queue_id"], q.to_string());
    assert_eq!(body["channel"], "calls");
    assert_eq!(body["complete_through"], "2024-03-01T10:45:00Z");
    let items = body["items"].as_array().unwrap();
    let starts: Vec<&str> = items.iter().map(|i| i["start"].as_str().unwrap()).collect();
    assert_eq!(
        starts,
        [
            "2024-03-01T10:00:00Z",
            "2024-03-01T10:15:00Z",
            "2024-03-01T10:30:00Z",
            "2024-03-01T10:45:00Z",
            "2024-03-01T11:00:00Z",
            "2024-03-01T11:15:00Z"
        ]
    );
    let complete: Vec<bool> = items.iter().map(|i| i["complete"].as_bool().unwrap()).collect();
    assert_eq!(complete, [true, true, true, false, false, false]);
    // Stored: numbers, durations in seconds.
    assert_eq!(items[0]["offered"], 5);
    assert_eq!(items[0]["handled"], 4);
    assert_eq!(items[0]["abandoned"], 1);
    assert_eq!(items[0]["handle_time_seconds"], 123.456);
    assert_eq!(items[0]["answer_time_seconds"], 6);
    assert_eq!(items[0]["answered_within_sl"], 3);
    // Complete and absent: zero, not missing.
    assert_eq!(items[1]["offered"], 0);
    assert_eq!(items[1]["handle_time_seconds"], 0);
    assert_eq!(items[1]["answered_within_sl"], Value::Null);
    assert_eq!(items[2]["offered"], 2);
    // Not complete and absent: missing, never zero.
    assert_eq!(items[3]["offered"], Value::Null);
    assert_eq!(items[3]["handled"], Value::Null);
    // Not complete but stored: preliminary numbers.
    assert_eq!(items[4]["offered"], 1);
    assert_eq!(items[5]["offered"], Value::Null);

    // An integration without a completed import: every interval missing.
    let body = env
        .get(&format!("/queues/{fresh}/intervals?from=2024-03-01T10:00:00Z&to=2024-03-01T11:00:00Z"), "tenant-a")
        .await;
    assert_eq!(body["complete_through"], Value::Null);
    assert!(body["items"].as_array().unwrap().iter().all(|i| i["complete"] == false && i["offered"].is_null()));
    assert_eq!(body["items"].as_array().unwrap().len(), 4);

    // A whole 31-day range: 2,976 intervals, offsets accepted.
    let body = env
        .get(&format!("/queues/{q}/intervals?from=2024-02-01T00:00:00Z&to=2024-03-03T01:00:00+01:00"), "tenant-a")
        .await;
    assert_eq!(body["items"].as_array().unwrap().len(), 31 * 96);
}

/// The documented order where it differs from "by name, then id": names that another name starts with. A character
/// below `#` after the common part (a space, `!`) sorts a name before the shorter one, any other after it.
#[tokio::test]
async fn queues_are_listed_by_the_bytes_of_lower_cased_name_hash_id() {
    let env = Env::start().await;
    let integration = env.create_integration("tenant-a", "Genesys").await;
    let q =
        |ext: &str, name: &str| item(spec_queue("tenant-a", integration, "Genesys", ext, name, Channel::Calls, true));
    env.put_items(vec![
        q("q-a", "Sales"),
        q("q-b", "sales"),
        q("q-c", "Sales 2"),
        q("q-d", "SALES 10"),
        q("q-e", "Sales-EU"),
        q("q-f", "Salés"),
        q("q-g", "Sales!"),
    ])
    .await;
    // `Sales` and `sales` share a lower-cased name: by queue id (`q-a` before `q-b`).
    let want = ["SALES 10", "Sales 2", "Sales!", "Sales", "sales", "Sales-EU", "Salés"];
    for limit in [100, 2, 1] {
        let (all, _) = all_pages(&env, &format!("/queues?limit={limit}"), "tenant-a").await;
        assert_eq!(names(&all), want, "limit {limit}");
        assert_sorted(&all);
    }
    let page = env.get("/queues?q=sales", "tenant-a").await;
    assert_eq!(names(page["items"].as_array().unwrap()), want[..6], "the text filter lists in the same order");
}

/// `GET /queues` without filters still has DynamoDB leave out inactive queues (and those awaiting traffic): after a
/// first Query of the page's size, each Query grows with the share the filter let through, instead of asking for
/// the items still wanted: until 2026-12-07 the pages below took 107 and 22 calls (ever smaller Queries as a page
/// filled), now 4 and 5.
#[tokio::test]
async fn an_unfiltered_listing_reads_past_many_inactive_queues_in_few_calls() {
    let env = Env::start().await;
    // tenant-a: 100 active queues spread among 2,000 inactive ones (one in 21); tenant-b: the inactive ones first.
    for (t, spread, max_calls) in [("tenant-a", true, 4), ("tenant-b", false, 5)] {
        let active_name = |i: usize| if spread { format!("Queue {:05} live", 20 * i) } else { format!("Zone {i:05}") };
        let gone = env.create_integration(t, "Removed campaigns").await;
        let live = env.create_integration(t, "Live").await;
        let mut all = Vec::new();
        for i in 0..2_000 {
            let (ext, name) = (format!("old-{i:05}"), format!("Queue {i:05}"));
            all.push(spec_queue(t, gone, "Removed campaigns", &ext, &name, Channel::ALL[i % 6], false));
        }
        for i in 0..100 {
            let ext = format!("q-{i:05}");
            all.push(spec_queue(t, live, "Live", &ext, &active_name(i), Channel::ALL[i % 6], true));
        }
        let mut want: Vec<(String, String)> =
            all.iter().filter(|q| q.active).map(|q| (q.gsi1sk.clone(), q.queue_id.to_string())).collect();
        want.sort();
        let want: Vec<String> = want.into_iter().map(|(_, id)| id).collect();
        env.put_items(all.into_iter().map(item).collect()).await;

        let (status, body, cost) = env.measured("/queues?limit=100", t).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(ids(body["items"].as_array().unwrap()), want, "{t}: every active queue, in order");
        assert_eq!(body["next_cursor"], Value::Null, "{t}");
        println!("{t}: {cost:?}");
        // The integration names, and the listing's Queries: 101 items, then the rest at the share seen (tenant-a:
        // one in 20, so the rest at once, in two Queries of DynamoDB's 1 MB), or twice what was read while nothing
        // was kept (tenant-b: 202, 606, then the rest).
        assert!(cost.calls <= max_calls, "{t}: {cost:?}");
        assert!(cost.scanned_items <= 2 + 2_100, "{t}: each item once: {cost:?}");
        // The same pages with a smaller limit: no skip, no repeat.
        let (paged, _) = all_pages(&env, "/queues?limit=30", t).await;
        assert_eq!(ids(&paged), want, "{t}");
    }
}

/// The answer's `complete_from`: an interval before it is not complete although it ends before
/// `complete_through` — before the integration's first back-fill, or before a queue first listed after it was read
/// from then only. Until 2026-12-07 the answer had no `complete_from`, and `complete_through` claimed every interval
/// ending by it complete.
#[tokio::test]
async fn intervals_answer_where_the_queues_completeness_starts() {
    let env = Env::start().await;
    let integration = env.create_integration("tenant-a", "Genesys").await;
    let legacy = env.create_integration("tenant-a", "State from before complete_from").await;
    let fresh = env.create_integration("tenant-a", "Not imported yet").await;
    let early = QueueId::new(integration, "early:call");
    let late = QueueId::new(integration, "late:call");
    let old = QueueId::new(legacy, "old:call");
    let new = QueueId::new(fresh, "new:call");
    let mut late_queue = spec_queue("tenant-a", integration, "Genesys", "late:call", "Late", Channel::Calls, true);
    late_queue.complete_from = Some(at(1, 10, 0)); // first listed when the integration was complete up to 10:00
    // The first back-fill started at 08:00; complete up to 12:00.
    let mut integration_state = state("tenant-a", integration, at(1, 12, 0));
    integration_state.insert(
        "complete_from".to_owned(),
        aws_sdk_dynamodb::types::AttributeValue::S("2024-03-01T08:00:00Z".to_owned()),
    );
    env.put_items(vec![
        item(spec_queue("tenant-a", integration, "Genesys", "early:call", "Early", Channel::Calls, true)),
        item(late_queue),
        item(spec_queue("tenant-a", legacy, "Old", "old:call", "Old", Channel::Calls, true)),
        item(spec_queue("tenant-a", fresh, "Not imported yet", "new:call", "New", Channel::Calls, true)),
        integration_state,
        state("tenant-a", legacy, at(1, 12, 0)),
        item(interval("tenant-a", &early, at(1, 8, 15), 2, 2, 2_000, None)),
        item(interval("tenant-a", &late, at(1, 10, 15), 3, 3, 3_000, None)),
    ])
    .await;

    let time = |v: &Value| v.as_str().map(|s| s.parse::<chrono::DateTime<chrono::Utc>>().unwrap());
    // (queue, from, to, complete_from, complete_through)
    let cases = [
        (early.clone(), "08:00", Some("2024-03-01T08:00:00Z"), Some("2024-03-01T12:00:00Z")),
        (late.clone(), "10:00", Some("2024-03-01T10:00:00Z"), Some("2024-03-01T12:00:00Z")),
        // An import state written before `complete_from` was recorded: complete from the beginning.
        (old, "-", None, Some("2024-03-01T12:00:00Z")),
        (new, "-", None, None),
    ];
    for (queue, first, complete_from, complete_through) in cases {
        let path = format!("/queues/{queue}/intervals?from=2024-03-01T07:00:00Z&to=2024-03-01T12:30:00Z");
        let body = env.get(&path, "tenant-a").await;
        assert_eq!(body["complete_from"], json!(complete_from), "{queue}");
        assert_eq!(body["complete_through"], json!(complete_through), "{queue}");
        let (from, through) = (time(&body["complete_from"]), time(&body["complete_through"]));
        let items = body["items"].as_array().unwrap();
        assert_eq!(items.len(), 22);
        for i in items {
            let start = time(&i["start"]).unwrap();
            let complete =
                through.is_some_and(|t| start + chrono::Duration::minutes(15) <= t) && from.is_none_or(|f| start >= f);
            assert_eq!(i["complete"], complete, "{queue} (complete from {first}): {i}");
            if from.is_some_and(|f| start < f) {
                assert_eq!(i["offered"], Value::Null, "never fetched before {first}: {i}");
            }
        }
        let complete = items.iter().filter(|i| i["complete"] == true).count();
        assert_eq!(
            complete,
            match first {
                "08:00" => 16,
                "10:00" => 8,
                _ if through.is_some() => 20,
                _ => 0,
            },
            "{queue}"
        );
    }
    let late_body = env
        .get(&format!("/queues/{late}/intervals?from=2024-03-01T09:45:00Z&to=2024-03-01T10:30:00Z"), "tenant-a")
        .await;
    let offered: Vec<Value> = late_body["items"].as_array().unwrap().iter().map(|i| i["offered"].clone()).collect();
    assert_eq!(offered, [Value::Null, json!(0), json!(3)], "not fetched, then complete: zero and stored");
}

#[tokio::test]
async fn other_tenants_ids_are_not_found_and_never_listed() {
    let env = Env::start().await;
    let a = env.create_integration("tenant-a", "Shared Name").await;
    let b = env.create_integration("tenant-b", "Shared Name").await;
    let mut items: Vec<_> = queues("tenant-a", a, "Shared Name", "Alpha", 5).into_iter().map(item).collect();
    items.extend(queues("tenant-b", b, "Shared Name", "Beta", 3).into_iter().map(item));
    // The same external id in both tenants.
    items.push(item(spec_queue("tenant-b", b, "Shared Name", "Alpha-ext-00000", "Beta twin", Channel::Calls, true)));
    let a_queue = QueueId::new(a, "Alpha-ext-00000");
    items.push(item(interval("tenant-a", &a_queue, at(1, 10, 0), 4, 4, 1, None)));
    items.push(state("tenant-a", a, at(2, 0, 0)));
    env.put_items(items).await;

    let a_list = env.get("/queues?limit=2", "tenant-a").await;
    assert!(names(a_list["items"].as_array().unwrap()).iter().all(|n| n.starts_with("Alpha")));
    let b_all = all_pages(&env, "/queues?include_inactive=true", "tenant-b").await.0;
    assert_eq!(b_all.len(), 4);
    assert!(b_all.iter().all(|q| q["integration_id"] == b.to_string()));

    for path in [
        format!("/queues/{a_queue}"),
        format!("/queues/{a_queue}/intervals?from=2024-03-01T10:00:00Z&to=2024-03-01T11:00:00Z"),
        format!("/queues/{}", QueueId::new(a, "no-such-queue")),
        "/queues/not-a-queue-id".to_owned(),
        format!("/queues/{a}.%2A%2A"),
    ] {
        let (status, problem) = env.call("GET", &path, Some("tenant-b"), None).await;
        assert_eq!(status, 404, "{path}: {problem}");
        assert_eq!(problem["code"], "not-found");
    }
    // Filtering by another tenant's integration finds nothing.
    assert!(env.get(&format!("/queues?integration_id={a}"), "tenant-b").await["items"].as_array().unwrap().is_empty());
    // A cursor carries no tenant: tenant A's cursor used by tenant B pages through B's queues only.
    let cursor = a_list["next_cursor"].as_str().unwrap();
    let b_page = env.get(&format!("/queues?cursor={cursor}"), "tenant-b").await;
    assert!(b_page["items"].as_array().unwrap().iter().all(|q| q["integration_id"] == b.to_string()));
    // No tenant claim: 401.
    let (status, problem) = env.call("GET", "/queues", None, None).await;
    assert_eq!((status, problem["code"].as_str()), (401, Some("unauthenticated")));
}

#[tokio::test]
async fn pagination_over_2500_queues_never_skips_or_repeats() {
    let env = Env::start().await;
    let mut expected: Vec<QueueItem> = Vec::new();
    for (i, name) in ["Five9 US", "Five9 EU", "Genesys A", "Genesys B", "Genesys C"].iter().enumerate() {
        let integration = env.create_integration("tenant-a", name).await;
        // Interleaved names across integrations (and duplicate names within the tenant).
        expected.extend(queues("tenant-a", integration, name, &format!("Queue {}", i % 3), 500));
    }
    // A few inactive ones that must never show without include_inactive.
    for q in expected.iter_mut().step_by(97) {
        q.active = false;
    }
    env.put_items(expected.iter().cloned().map(item).collect()).await;
    let active: Vec<&QueueItem> = expected.iter().filter(|q| q.active).collect();

    let (pages_500, n) = all_pages(&env, "/queues?limit=500", "tenant-a").await;
    assert_eq!(n, active.len().div_ceil(500));
    assert_sorted(&pages_500);
    let got: HashSet<String> = ids(&pages_500).into_iter().collect();
    assert_eq!(got.len(), pages_500.len(), "no repeats");
    let want: HashSet<String> = active.iter().map(|q| q.queue_id.to_string()).collect();
    assert_eq!(got, want, "no skips");

    // Pages that filters fill although DynamoDB's Limit counts items before the filter: the exact sequence, no
    // skip, no repeat. (Page sizes are chosen for moto, whose every Query sorts the whole index partition.)
    let expected_sequence = |keep: &dyn Fn(&QueueItem) -> bool| -> Vec<String> {
        let mut v: Vec<(String, String)> =
            active.iter().filter(|q| keep(q)).map(|q| (q.gsi1sk.clone(), q.queue_id.to_string())).collect();
        v.sort();
        v.into_iter().map(|(_, id)| id).collect()
    };
    let want_chats = expected_sequence(&|q| q.channel == Channel::Chats);
    let (chats, pages) = all_pages(&env, "/queues?channel=chats&limit=150", "tenant-a").await;
    assert_eq!(ids(&chats), want_chats);
    assert_eq!(pages, want_chats.len().div_ceil(150));

    let want_fives = expected_sequence(&|q| q.name.contains("0049")); // `…00049`, `…00490`–`…00499`
    let (fives, pages) = all_pages(&env, "/queues?q=0049&limit=20", "tenant-a").await;
    assert_eq!(ids(&fives), want_fives);
    assert_eq!(pages, want_fives.len().div_ceil(20));

    let genesys_b = expected[1500].integration_id;
    let want_b_emails = expected_sequence(&|q| q.integration_id == genesys_b && q.channel == Channel::Emails);
    let (b_emails, _) =
        all_pages(&env, &format!("/queues?integration_id={genesys_b}&channel=emails&limit=30"), "tenant-a").await;
    assert_eq!(ids(&b_emails), want_b_emails);
}

/// A queue renamed while its old name's index entries are still there (the import writes the new entries before it
/// deletes the old; two pushes renaming one queue at once can leave one set for good): when both names match, both
/// entries name the same queue, and one BatchGetItem with its key twice is refused by DynamoDB ("Provided list of
/// item keys contains duplicates"). The stale entry is skipped, never a 503.
#[tokio::test]
async fn a_queue_matched_by_its_old_and_new_name_entries_is_listed_once() {
    let env = Env::start().await;
    let integration = env.create_integration("tenant-a", "Genesys A").await;
    let q = |prefix: &str, n: usize| queues("tenant-a", integration, "Genesys A", prefix, n);
    let mut all = q("Alpha Sales", 1);
    all.extend(q("B", 40));
    let renamed = q("Zeta Sales", 1).remove(0);
    let mut x = renamed.clone();
    x.name = "Mid Sales 00000".into();
    x.name_lower = x.name.to_lowercase();
    x.gsi1sk = acd_aws::items::queues_gsi_sk(&x.name, &x.queue_id);
    all.push(x.clone());
    all.extend(q("N", 40));
    for q in &mut all {
        q.channel = Channel::Calls;
    }
    let mut renamed = renamed;
    renamed.channel = Channel::Calls;
    env.put_indexed_queues(vec![renamed]).await;
    env.put_indexed_queues(all.clone()).await;
    for limit in [1, 2, 5, 100] {
        let mut got = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let url = match &cursor {
                None => format!("/queues?q=sales&limit={limit}"),
                Some(c) => format!("/queues?q=sales&limit={limit}&cursor={c}"),
            };
            let page = env.get(&url, "tenant-a").await;
            got.extend(names(page["items"].as_array().unwrap()));
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        assert_eq!(got, ["Alpha Sales 00000", "Mid Sales 00000"], "limit {limit}");
    }
}

/// The queues of an integration being deleted (its record tombstoned, its queues not deactivated yet) match `q` by
/// the integration name stored on them, whatever the needle: until 2026-12-08 a needle long enough for the name
/// index (which holds queue names only) missed them, where a shorter one, read in full, found them.
#[tokio::test]
async fn queues_of_an_integration_being_deleted_match_every_needle_alike() {
    let env = Env::start().await;
    let integration = env.create_integration("tenant-a", "Acme Five9").await;
    let mut sales = queues("tenant-a", integration, "Acme Five9", "Sales", 1);
    sales[0].channel = Channel::Calls;
    env.put_indexed_queues(sales).await;
    env.set_deleting("tenant-a", integration).await;
    for needle in ["ac", "acme", "acme five9", "sales"] {
        let page = env.get(&format!("/queues?q={}", needle.replace(' ', "%20")), "tenant-a").await;
        assert_eq!(names(page["items"].as_array().unwrap()), ["Sales 00000"], "q={needle}");
    }
}

/// `q` through the queue name index: the same pages as the full read of the listing, but reading about what it
/// returns (issue 14: a 2 % match used to read every queue of the tenant). Prints both read costs.
#[tokio::test]
async fn text_filter_reads_the_name_index_and_answers_like_the_full_read() {
    let env = Env::start().await;
    let mut all: Vec<QueueItem> = Vec::new();
    let mut integrations = Vec::new();
    for (i, name) in ["Five9 US", "Genesys A", "Genesys B", "Genesys C"].iter().enumerate() {
        let integration = env.create_integration("tenant-a", name).await;
        integrations.push(integration);
        all.extend(queues("tenant-a", integration, name, &format!("Queue {}", i % 3), 500));
    }
    for q in all.iter_mut().step_by(97) {
        q.active = false;
    }
    // A queue renamed after its index items were written: its old name's entries are stale.
    let renamed = all[7].clone();
    all[7].name = "Renamed 0049".into();
    all[7].name_lower = all[7].name.to_lowercase();
    all[7].gsi1sk = acd_aws::items::queues_gsi_sk(&all[7].name, &all[7].queue_id);
    env.put_indexed_queues(vec![renamed]).await;
    env.put_indexed_queues(all.clone()).await;

    let expected = |needle: &str, channel: Option<Channel>| -> Vec<String> {
        let mut v: Vec<(String, String)> = all
            .iter()
            .filter(|q| q.active && q.name_lower.contains(needle) && channel.is_none_or(|c| c == q.channel))
            .map(|q| (q.gsi1sk.clone(), q.queue_id.to_string()))
            .collect();
        v.sort();
        v.into_iter().map(|(_, id)| id).collect()
    };
    // Every page of a query, and what all its requests read.
    let pages = |path: String| {
        let env = &env;
        async move {
            let (mut got, mut cost, mut cursor) =
                (Vec::new(), acd_app::query::cost::ReadCost::default(), None::<String>);
            let mut n = 0usize;
            loop {
                let url = match &cursor {
                    None => path.clone(),
                    Some(c) => format!("{path}&cursor={c}"),
                };
                let (status, page, c) = env.measured(&url, "tenant-a").await;
                assert_eq!(status, 200, "{url}: {page}");
                got.extend(ids(page["items"].as_array().unwrap()));
                cost += c;
                n += 1;
                match page["next_cursor"].as_str() {
                    Some(c) => cursor = Some(c.to_owned()),
                    None => return (got, cost, n),
                }
            }
        }
    };
    for (path, needle, channel) in [
        ("/queues?q=0049&limit=20", "0049", None),
        ("/queues?q=QUEUE%201%2000&limit=100", "queue 1 00", None),
        ("/queues?q=0012&limit=100", "0012", None),
        ("/queues?q=004&limit=50", "004", None),
        ("/queues?q=renamed", "renamed", None),
        ("/queues?q=0%2000007", "0 00007", None),
        ("/queues?q=001&channel=chats&limit=10", "001", Some(Channel::Chats)),
        ("/queues?q=no%20such%20name", "no such name", None),
    ] {
        let want = expected(needle, channel);
        let (indexed, by_index, n) = pages(path.to_owned()).await;
        assert_eq!(indexed, want, "{path} through the index");
        // The same request without the index (one integration not marked): the full read answers the same.
        env.set_search_mark("tenant-a", integrations[0], false).await;
        let (full, by_scan, _) = pages(path.to_owned()).await;
        env.set_search_mark("tenant-a", integrations[0], true).await;
        assert_eq!(full, want, "{path} by the full read");
        println!(
            "{path}: {} queues; name index {:.1} RU in {} calls ({} items read), full read {:.1} RU in {} calls ({} items read)",
            want.len(),
            by_index.estimated_units,
            by_index.calls,
            by_index.scanned_items,
            by_scan.estimated_units,
            by_scan.calls,
            by_scan.scanned_items
        );
        // Bounded: half a unit per queue item read — what is returned, one more per page, and the few inactive ones
        // met on the way (other channels are told apart in the index) — plus, per page, the integration names, the
        // small index entries and a short probe of the listing; and never more than the full read it replaces.
        let met = all
            .iter()
            .filter(|q| q.name_lower.contains(needle) && !q.active && channel.is_none_or(|c| c == q.channel))
            .count();
        let bound = 0.5 * (want.len() + n + met) as f64 + 3.5 * n as f64;
        assert!(by_index.estimated_units <= bound, "{path}: {by_index:?} > {bound}");
        assert!(
            by_index.estimated_units <= by_scan.estimated_units,
            "{path}: the name index read {by_index:?}, more than the full read {by_scan:?}"
        );
    }
    // A needle an integration name contains lists all that integration's queues: the full read answers it.
    let (genesys_a, _, _) = pages("/queues?q=genesys%20a&limit=500".into()).await;
    assert_eq!(genesys_a.len(), all.iter().filter(|q| q.active && q.integration_id == integrations[1]).count());
}

#[tokio::test]
async fn pagination_stays_exact_while_queues_are_imported_concurrently() {
    let env = Env::start().await;
    let integration = env.create_integration("tenant-a", "Five9").await;
    let original = queues("tenant-a", integration, "Five9", "Queue", 300);
    env.put_items(original.iter().cloned().map(item).collect()).await;

    // While a client pages through, the import adds queues whose names sort everywhere in the listing.
    let client = env.stack.clients.dynamodb().clone();
    let table = env.stack.settings.table_name.clone();
    let added = queues("tenant-a", integration, "Five9", "Queue 0", 150)
        .into_iter()
        .map(|mut q| {
            q.name = format!("{} new", q.name);
            q.name_lower = q.name.to_lowercase();
            q.gsi1sk = acd_aws::items::queues_gsi_sk(&q.name, &q.queue_id);
            q
        })
        .collect::<Vec<_>>();
    let added_ids: HashSet<String> = added.iter().map(|q| q.queue_id.to_string()).collect();
    let writer = tokio::spawn(async move {
        for chunk in added.chunks(10) {
            put_items(&client, &table, chunk.iter().cloned().map(item).collect()).await;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });

    let mut seen: Vec<Value> = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            None => "/queues?limit=20".to_owned(),
            Some(c) => format!("/queues?limit=20&cursor={c}"),
        };
        let page = env.get(&path, "tenant-a").await;
        seen.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    writer.await.unwrap();

    assert_sorted(&seen); // strictly increasing: no repeats, no going back
    let seen_ids: HashSet<String> = ids(&seen).into_iter().collect();
    for q in &original {
        assert!(seen_ids.contains(&q.queue_id.to_string()), "skipped {}", q.name);
    }
    assert!(seen_ids.iter().all(|id| added_ids.contains(id) || original.iter().any(|q| q.queue_id.to_string() == *id)));
    // The finished import is listed completely.
    let (after, _) = all_pages(&env, "/queues?limit=500", "tenant-a").await;
    assert_eq!(after.len(), 450);
}

#[tokio::test]
async fn first_pages_read_little_and_report_their_read_units() {
    let env = Env::start().await;
    let mut items = Vec::new();
    for i in 0..4 {
        let integration = env.create_integration("tenant-a", &format!("Integration {i}")).await;
        items.extend(queues("tenant-a", integration, &format!("Integration {i}"), &format!("Q{i}"), 300));
    }
    env.put_items(items.into_iter().map(item).collect()).await;

    let (status, body, cost) = env.measured("/queues?limit=50", "tenant-a").await;
    assert_eq!(status, 200);
    assert_eq!(body["items"].as_array().unwrap().len(), 50);
    // One Query of the integrations (4 items) and one of the index (51 items: the page and one more).
    assert_eq!(cost.calls, 2, "{cost:?}");
    assert_eq!(cost.scanned_items, 4 + 51, "{cost:?}");
    assert!(cost.consumed_units > 0.0 && cost.estimated_units >= 1.0, "{cost:?}");

    assert_eq!(env.get("/queues", "tenant-a").await["items"].as_array().unwrap().len(), 100, "default page size");
    let (_, body, filtered) = env.measured("/queues?limit=50&channel=chats", "tenant-a").await;
    assert_eq!(body["items"].as_array().unwrap().len(), 50);
    assert!(filtered.scanned_items > 300 && filtered.scanned_items < 1200, "{filtered:?}");
    assert!(filtered.estimated_units > cost.estimated_units, "{filtered:?} vs {cost:?}");
}

#[tokio::test]
async fn bad_parameters_are_400_naming_each_parameter() {
    let env = Env::start().await;
    let integration = env.create_integration("tenant-a", "Genesys").await;
    let q = QueueId::new(integration, "q:call");
    env.put_items(vec![item(spec_queue("tenant-a", integration, "Genesys", "q:call", "Calls", Channel::Calls, true))])
        .await;
    let t = "tenant-a";
    env.bad("GET", "/queues?channel=fax", t, None, &["channel"]).await;
    env.bad("GET", "/queues?channel=Calls", t, None, &["channel"]).await;
    env.bad("GET", "/queues?limit=0", t, None, &["limit"]).await;
    env.bad("GET", "/queues?limit=501", t, None, &["limit"]).await;
    env.bad("GET", "/queues?limit=ten", t, None, &["limit"]).await;
    env.bad("GET", "/queues?cursor=garbage!", t, None, &["cursor"]).await;
    env.bad("GET", "/queues?cursor=InNhbGVzIg", t, None, &["cursor"]).await; // "sales": no queue id
    env.bad("GET", "/queues?include_inactive=yes", t, None, &["include_inactive"]).await;
    env.bad("GET", "/queues?integration_id=abc", t, None, &["integration_id"]).await;
    env.bad("GET", &format!("/queues?q={}", "x".repeat(256)), t, None, &["q"]).await;
    env.bad(
        "GET",
        "/queues?channel=fax&limit=0&include_inactive=1",
        t,
        None,
        &["channel", "include_inactive", "limit"],
    )
    .await;
    // An unknown parameter is ignored.
    assert_eq!(env.get("/queues?colour=blue", t).await["items"].as_array().unwrap().len(), 1);

    let iv = format!("/queues/{q}/intervals");
    env.bad("GET", &iv, t, None, &["from", "to"]).await;
    env.bad("GET", &format!("{iv}?from=2024-03-01T00:00:00Z"), t, None, &["to"]).await;
    env.bad("GET", &format!("{iv}?from=yesterday&to=2024-03-01T00:00:00Z"), t, None, &["from"]).await;
    env.bad("GET", &format!("{iv}?from=2024-03-01&to=2024-03-02"), t, None, &["from", "to"]).await;
    env.bad("GET", &format!("{iv}?from=2024-03-01T00:10:00Z&to=2024-03-01T01:00:00Z"), t, None, &["from"]).await;
    env.bad("GET", &format!("{iv}?from=2024-03-01T00:00:00Z&to=2024-03-01T01:00:30Z"), t, None, &["to"]).await;
    env.bad("GET", &format!("{iv}?from=2024-03-02T00:00:00Z&to=2024-03-01T00:00:00Z"), t, None, &["to"]).await;
    env.bad("GET", &format!("{iv}?from=2024-03-01T00:00:00Z&to=2024-03-01T00:00:00Z"), t, None, &["to"]).await;
    env.bad("GET", &format!("{iv}?from=2024-03-01T00:00:00Z&to=2024-04-01T00:15:00Z"), t, None, &["to"]).await;

    let st = "/agent-states";
    env.bad("GET", st, t, None, &["from", "to"]).await;
    env.bad("GET", &format!("{st}?from=2024-03-01T00:00:00Z&to=2024-02-01T00:00:00Z"), t, None, &["to"]).await;
    env.bad("GET", &format!("{st}?from=2024-01-01T00:00:00Z&to=2024-03-01T00:00:00Z"), t, None, &["to"]).await;
    env.bad("GET", &format!("{st}?from=2024-03-01T00:00:00Z&to=2024-03-02T00:00:00Z&limit=5001"), t, None, &["limit"])
        .await;
    env.bad(
        "GET",
        &format!("{st}?from=2024-03-01T00:00:00Z&to=2024-03-02T00:00:00Z&employee_id="),
        t,
        None,
        &["employee_id"],
    )
    .await;
    env.bad("GET", &format!("{st}?from=2024-03-01T00:00:00Z&to=2024-03-02T00:00:00Z&cursor=xyz"), t, None, &["cursor"])
        .await;
    env.bad("GET", &format!("{st}?from=x&to=2024-03-02T00:00:00Z&limit=0"), t, None, &["from", "limit"]).await;

    // Other methods on these paths and unknown paths: no route, API Gateway's 404 (the spec check holds the body).
    let (status, _) = env.call("POST", "/queues", Some(t), None).await;
    assert_eq!(status, 404);
    let (status, _) = env.call("DELETE", &format!("/queues/{q}"), Some(t), None).await;
    assert_eq!(status, 404);
    let (status, _) = env.call("GET", "/queues-and-more", Some(t), None).await;
    assert_eq!(status, 404);
}

/// Calls the queues-query handler, spec-checked, and returns what it read from DynamoDB.
async fn measured_call(
    api: &acd_app::http::queries::QueriesApi,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> (u16, Value, acd_app::query::cost::ReadCost) {
    let request = acd_integration_tests::api_request(method, path, Some("tenant-a"), body);
    let (response, cost) = api.handle_measured(request).await;
    let (status, content_type, body) = acd_integration_tests::decode(response);
    acd_integration_tests::openapi::spec().check(method, path, status, &content_type, &body);
    (status, body, cost)
}

async fn whole_table(env: &Env) -> Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
    let out = env.stack.clients.dynamodb().scan().table_name(&env.stack.settings.table_name).send().await.unwrap();
    let mut items = out.items.unwrap_or_default();
    items.sort_by_key(|i| format!("{:?}{:?}", i.get("PK"), i.get("SK")));
    items
}

/// Values that would exceed DynamoDB's key sizes (1,024 bytes a sort key, 2,048 a partition key) or that no page of
/// this API returns: each is a 400 or 404 answered before any storage call, and nothing is written.
#[tokio::test]
async fn oversized_ids_and_crafted_cursors_are_4xx_before_any_storage_call() {
    let env = Env::start().await;
    let integration = env.create_integration("tenant-a", "Genesys").await;
    env.put_items(vec![
        item(spec_queue("tenant-a", integration, "Genesys", "q:call", "Calls", Channel::Calls, true)),
        item(agent("tenant-a", integration, "jane", None)),
        item(status("tenant-a", integration, "ON_QUEUE", "On Queue")),
    ])
    .await;
    let before = whole_table(&env).await;
    let api = env.api.clone();
    let long_queue = QueueId::new(integration, "q".repeat(800)).to_string(); // 1,104 characters
    assert!(long_queue.len() > 1024);
    let four_byte_employee = "\u{1F600}".repeat(255); // 255 characters, 1,020 bytes
    let long_ascii = "x".repeat(1100);
    // Cursors of the right listing (a cursor of another one is refused before its position is looked at).
    let enc_cursor = |l: &Listing, v: &Value| acd_app::cursor::encode(l, v);
    let range = "from=2024-03-05T00:00:00Z&to=2024-03-06T00:00:00Z";
    let (from, to) = ("2024-03-05T00:00:00Z".parse().unwrap(), "2024-03-06T00:00:00Z".parse().unwrap());
    let states_cursor = |employee: Option<&str>, e: &str, x: &str, s: &str| {
        let listing = Listing::AgentStates { from, to, employee };
        enc_cursor(&listing, &serde_json::json!({"a": {"e": e, "i": integration, "x": x}, "s": s}))
    };
    let id = integration.to_string();
    let all_queues = Listing::Queues { channel: None, integration: None, include_inactive: false, needle: None };
    let agent_listing = Listing::ExternalAgents { integration: &id, unmapped_only: false };
    let status_listing = Listing::ExternalStatuses { integration: &id, unmapped_only: false };
    let agents = format!("/integrations/{integration}/external-agents");
    let statuses = format!("/integrations/{integration}/external-statuses");
    // (method, path, body, status, field named by the 400)
    type Case<'a> = (&'a str, String, Option<Value>, u16, Option<&'a str>);
    let cases: Vec<Case> = vec![
        ("GET", format!("/queues/{long_queue}"), None, 404, None),
        (
            "GET",
            format!("/queues/{long_queue}/intervals?from=2024-03-05T00:00:00Z&to=2024-03-05T01:00:00Z"),
            None,
            404,
            None,
        ),
        (
            "GET",
            format!(
                "/queues?cursor={}",
                enc_cursor(
                    &all_queues,
                    &Value::String(format!("{long_ascii}#{}", QueueId::new(integration, "q:call")))
                )
            ),
            None,
            400,
            Some("cursor"),
        ),
        (
            "GET",
            format!("/agent-states?{range}&employee_id={}", enc(&four_byte_employee)),
            None,
            400,
            Some("employee_id"),
        ),
        (
            "GET",
            format!("/agent-states?{range}&cursor={}", states_cursor(None, "emp", "jane", "2024-03-06T01:00:00Z")),
            None,
            400,
            Some("cursor"),
        ),
        (
            "GET",
            format!("/agent-states?{range}&cursor={}", states_cursor(None, "emp", "jane", "2024-02-25T00:00:00Z")),
            None,
            400,
            Some("cursor"),
        ),
        (
            "GET",
            format!(
                "/agent-states?{range}&cursor={}",
                states_cursor(None, "emp", &"x".repeat(1000), "2024-03-05T01:00:00Z")
            ),
            None,
            400,
            Some("cursor"),
        ),
        (
            "GET",
            format!(
                "/agent-states?{range}&employee_id=emp-2&cursor={}",
                states_cursor(Some("emp-2"), "emp-1", "jane", "2024-03-05T01:00:00Z")
            ),
            None,
            400,
            Some("cursor"),
        ),
        (
            "GET",
            format!("{agents}?cursor={}", enc_cursor(&agent_listing, &Value::String(long_ascii.clone()))),
            None,
            400,
            Some("cursor"),
        ),
        (
            "GET",
            format!("{statuses}?cursor={}", enc_cursor(&status_listing, &Value::String(long_ascii.clone()))),
            None,
            400,
            Some("cursor"),
        ),
        ("PUT", format!("{agents}/{}", enc(&long_ascii)), Some(serde_json::json!({"employee_id": "e-1"})), 404, None),
        ("DELETE", format!("{agents}/{}", enc(&long_ascii)), None, 404, None),
        (
            "PUT",
            format!("{agents}/jane"),
            Some(serde_json::json!({"employee_id": four_byte_employee})),
            400,
            Some("/employee_id"),
        ),
        (
            "PUT",
            format!("{agents}/{}", enc(&"j".repeat(500))),
            Some(serde_json::json!({"employee_id": "\u{20AC}".repeat(200)})),
            400,
            Some("/employee_id"),
        ),
        (
            "PUT",
            format!("{statuses}/{}", enc(&long_ascii)),
            Some(serde_json::json!({"activity_id": "work"})),
            404,
            None,
        ),
        ("DELETE", format!("{statuses}/{}", enc(&long_ascii)), None, 404, None),
    ];
    for (method, path, body, expected, field) in cases {
        let (status, problem, cost) = measured_call(&api, method, &path, body.as_ref()).await;
        let shown = &path[..path.len().min(120)];
        assert_eq!(status, expected, "{method} {shown}: {problem}");
        assert_eq!(cost.calls, 0, "{method} {shown}: answered before any storage call");
        if let Some(field) = field {
            assert_eq!(problem["errors"][0]["field"], field, "{method} {shown}: {problem}");
        }
    }
    // The integrations API: over-long ids and crafted run cursors.
    let long_id = format!("/integrations/{long_ascii}");
    assert_eq!(env.admin("GET", &long_id, "tenant-a", None).await.0, 404);
    assert_eq!(env.admin("PATCH", &long_id, "tenant-a", Some(&serde_json::json!({"name": "x"}))).await.0, 404);
    for crafted in [
        Value::String("RUN#x".into()),
        Value::String(format!("RUN#{}", "9".repeat(1100))),
        Value::String(long_ascii.clone()),
    ] {
        let runs = Listing::Runs { integration: &id };
        let path = format!("/integrations/{integration}/runs?cursor={}", enc_cursor(&runs, &crafted));
        let (status, problem) = env.admin("GET", &path, "tenant-a", None).await;
        assert_eq!((status, problem["errors"][0]["field"].as_str()), (400, Some("cursor")), "{problem}");
    }
    assert_eq!(whole_table(&env).await, before, "nothing was written");
}

/// A cursor pages only the listing it came from: another integration's, another filter's or another range's cursor
/// is a 400 naming it. Before, it was taken as a position: `B`'s agents after `A`'s last one, skipping the rest.
#[tokio::test]
async fn a_cursor_of_another_listing_is_a_400() {
    let env = Env::start().await;
    let a = env.create_integration("tenant-a", "A").await;
    let b = env.create_integration("tenant-a", "B").await;
    let mut items = Vec::new();
    for integration in [a, b] {
        for name in ["agent-1", "agent-2", "agent-3"] {
            items.push(item(agent("tenant-a", integration, name, None)));
        }
        for (i, channel) in [Channel::Calls, Channel::Calls, Channel::Chats, Channel::Chats].into_iter().enumerate() {
            let ext = format!("q{i}");
            items.push(item(spec_queue("tenant-a", integration, "A", &ext, &format!("Queue {i}"), channel, true)));
        }
    }
    env.put_items(items).await;
    let next = |page: &Value| page["next_cursor"].as_str().expect("a next page").to_owned();
    let cursor = next(&env.get(&format!("/integrations/{a}/external-agents?limit=1"), "tenant-a").await);
    let page = env.get(&format!("/integrations/{a}/external-agents?limit=5&cursor={cursor}"), "tenant-a").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2, "its own listing goes on");
    for path in [
        format!("/integrations/{b}/external-agents?cursor={cursor}"),
        format!("/integrations/{a}/external-agents?unmapped=true&cursor={cursor}"),
        format!("/integrations/{a}/external-statuses?cursor={cursor}"),
    ] {
        env.bad("GET", &path, "tenant-a", None, &["cursor"]).await;
    }
    let cursor = next(&env.get("/queues?channel=calls&limit=1", "tenant-a").await);
    assert_eq!(
        env.get(&format!("/queues?channel=calls&cursor={cursor}"), "tenant-a").await["items"].as_array().unwrap().len(),
        3
    );
    for path in [
        format!("/queues?channel=chats&cursor={cursor}"),
        format!("/queues?cursor={cursor}"),
        format!("/queues?channel=calls&integration_id={a}&cursor={cursor}"),
        format!("/queues?channel=calls&q=queue&cursor={cursor}"),
        format!("/agent-states?from=2024-03-05T00:00:00Z&to=2024-03-06T00:00:00Z&cursor={cursor}"),
    ] {
        env.bad("GET", &path, "tenant-a", None, &["cursor"]).await;
    }
}

/// `GET /agent-states` reads a bounded amount per request: many mapped agents with little data end a page early
/// with a cursor, and the pages still list every segment once.
#[tokio::test]
async fn agent_state_pages_read_a_bounded_amount() {
    let env = Env::start().await;
    let integration = env.create_integration("tenant-a", "Genesys").await;
    let t = tenant("tenant-a");
    let mut items = vec![item(status("tenant-a", integration, "ON_QUEUE", "On Queue"))];
    let mut expected = HashSet::new();
    for a in 0..80 {
        let id = format!("agent-{a:02}");
        let mut mapped = agent("tenant-a", integration, &id, None);
        let employee = format!("emp-{a:02}");
        mapped.gsi1pk = Some(acd_aws::items::employees_gsi_pk(&t));
        mapped.gsi1sk = Some(acd_aws::items::employees_gsi_sk(&employee, integration, &id));
        mapped.employee_id = Some(employee);
        items.push(item(mapped));
        if a % 10 == 0 {
            for s in 0..2 {
                let start = at(5, 1, 0) + chrono::Duration::minutes(30 * s);
                items.push(item(segment(
                    "tenant-a",
                    integration,
                    &id,
                    start,
                    Some(start + chrono::Duration::minutes(30)),
                    "ON_QUEUE",
                )));
                expected.insert((id.clone(), start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)));
            }
        }
    }
    env.put_items(items).await;
    let first = "/agent-states?from=2024-03-05T00:00:00Z&to=2024-03-06T00:00:00Z&limit=1000";

    // Unbounded by items (the default budget is far above this data): one page reads every agent.
    let (status, page, cost) = measured_call(&env.api, "GET", first, None).await;
    assert_eq!((status, page["items"].as_array().unwrap().len(), &page["next_cursor"]), (200, 16, &Value::Null));
    assert!(cost.scanned_items >= 80 + 16, "{cost:?}");

    let budget = 60;
    let mut api = env.api.clone();
    api.queries.max_state_items_read = budget;
    let (mut got, mut pages, mut cursor) = (Vec::new(), 0, None::<String>);
    loop {
        let path = match &cursor {
            Some(c) => format!("{first}&cursor={c}"),
            None => first.to_owned(),
        };
        let (status, page, cost) = measured_call(&api, "GET", &path, None).await;
        assert_eq!(status, 200, "{page}");
        pages += 1;
        // The budget, plus at most one index read (51) and the agents read ahead (8, two segments each).
        assert!(cost.scanned_items <= budget + 51 + 8 * 2 + 1, "page {pages}: {cost:?}");
        for s in page["items"].as_array().unwrap() {
            got.push((s["external_agent_id"].as_str().unwrap().to_owned(), s["start"].as_str().unwrap().to_owned()));
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert!(pages > 1, "the pages ended early");
    assert_eq!(got.len(), expected.len(), "no repeats");
    assert_eq!(got.into_iter().collect::<HashSet<_>>(), expected, "no skips");
}

/// A mapped agent as the mapping routes store it (the employees index keys set).
fn mapped_agent(
    t: &str,
    integration: acd_domain::IntegrationId,
    id: &str,
    employee: &str,
) -> acd_aws::items::AgentItem {
    let mut mapped = agent(t, integration, id, None);
    mapped.gsi1pk = Some(acd_aws::items::employees_gsi_pk(&tenant(t)));
    mapped.gsi1sk = Some(acd_aws::items::employees_gsi_sk(employee, integration, id));
    mapped.employee_id = Some(employee.to_owned());
    mapped
}

/// Follows `first` (an agent-states path) to its last page with `api`; returns every segment (agent, start, end) and
/// the cost of each page.
async fn states_pages(
    api: &acd_app::http::queries::QueriesApi,
    first: &str,
) -> (Vec<(String, String, String)>, Vec<acd_app::query::cost::ReadCost>) {
    let (mut got, mut costs, mut cursor) = (Vec::new(), Vec::new(), None::<String>);
    loop {
        let path = match &cursor {
            Some(c) => format!("{first}&cursor={c}"),
            None => first.to_owned(),
        };
        let (status, page, cost) = measured_call(api, "GET", &path, None).await;
        assert_eq!(status, 200, "{page}");
        costs.push(cost);
        for s in page["items"].as_array().unwrap() {
            let text = |k: &str| s[k].as_str().unwrap_or_default().to_owned();
            got.push((text("external_agent_id"), text("start"), text("end")));
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return (got, costs),
        }
    }
}

/// `GET /agent-states?employee_id=E` reads the employees index from the prefix `E#`, which also holds the mappings
/// of every employee whose id begins `E#` (ids may contain `#`): those are dropped, but counted in the page's read
/// bound, and a page that has read enough of them ends with a cursor at the last one read, which the next page
/// accepts. Until 2026-12-07 the bound was checked only after one of `E`'s own agents, so `site7` read all of
/// `site7#0000` … `site7#0599` in one request (sequential Queries of 51 mappings each: ~20,000 of them at 10,000
/// such employees, a bound a page promises never to pass, and more than the function's 15 s could hold).
#[tokio::test]
async fn an_employee_filter_page_ends_after_enough_mappings_of_other_employees() {
    let env = Env::start().await;
    let integration = env.create_integration("tenant-a", "Genesys").await;
    let mut items = vec![item(status("tenant-a", integration, "ON_QUEUE", "On Queue"))];
    for e in 0..600 {
        let (id, employee) = (format!("agent-{e:04}"), format!("site7#{e:04}"));
        items.push(item(mapped_agent("tenant-a", integration, &id, &employee)));
    }
    items.push(item(mapped_agent("tenant-a", integration, "mine", "site7")));
    let mut expected = Vec::new();
    for s in 0..2 {
        let start = at(5, 1, 0) + chrono::Duration::minutes(30 * s);
        let end = start + chrono::Duration::minutes(30);
        items.push(item(segment("tenant-a", integration, "mine", start, Some(end), "ON_QUEUE")));
        let iso = |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        expected.push(("mine".to_owned(), iso(start), iso(end)));
    }
    env.put_items(items).await;
    let first = "/agent-states?from=2024-03-05T00:00:00Z&to=2024-03-06T00:00:00Z&employee_id=site7&limit=1000";

    let budget = 60;
    let mut api = env.api.clone();
    api.queries.max_state_items_read = budget;
    let (got, costs) = states_pages(&api, first).await;
    assert_eq!(got, expected, "site7's segments, once");
    for (page, cost) in costs.iter().enumerate() {
        // The budget, one more round of mappings (51), site7's agent (2 segments) and status (1).
        assert!(cost.scanned_items <= budget + 51 + 2 + 1, "page {page}: {cost:?}");
    }
    assert!(costs.len() > 600 / (budget + 51) as usize, "{} pages", costs.len());
}

/// Wraps the DynamoDB store: counts the reads that join a segment's pieces (`segments` of one instant, `from ==
/// to`), and how many of them were in flight at once (each held 20 ms, so that reads sent together overlap).
struct JoinReads {
    inner: std::sync::Arc<dyn acd_app::query::QueryStore>,
    joins: std::sync::atomic::AtomicU64,
    in_flight: std::sync::atomic::AtomicU64,
    most_in_flight: std::sync::atomic::AtomicU64,
}

#[async_trait::async_trait]
impl acd_app::query::QueryStore for JoinReads {
    async fn integration_names(
        &self,
        t: &acd_domain::TenantId,
    ) -> Result<std::collections::HashMap<acd_domain::IntegrationId, String>, acd_app::ports::StoreError> {
        self.inner.integration_names(t).await
    }
    async fn integration_name(
        &self,
        t: &acd_domain::TenantId,
        id: acd_domain::IntegrationId,
    ) -> Result<Option<String>, acd_app::ports::StoreError> {
        self.inner.integration_name(t, id).await
    }
    async fn list_queues(
        &self,
        t: &acd_domain::TenantId,
        query: &acd_app::query::QueueQuery,
        limit: usize,
        after: Option<&str>,
    ) -> Result<acd_app::query::QueuePage, acd_app::ports::StoreError> {
        self.inner.list_queues(t, query, limit, after).await
    }
    async fn get_queue(
        &self,
        t: &acd_domain::TenantId,
        id: &QueueId,
    ) -> Result<Option<acd_app::query::QueueRecord>, acd_app::ports::StoreError> {
        self.inner.get_queue(t, id).await
    }
    async fn intervals(
        &self,
        t: &acd_domain::TenantId,
        id: &QueueId,
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<acd_app::query::IntervalRecord>, acd_app::ports::StoreError> {
        self.inner.intervals(t, id, from, to).await
    }
    async fn completeness(
        &self,
        t: &acd_domain::TenantId,
        integration: acd_domain::IntegrationId,
    ) -> Result<acd_app::query::Completeness, acd_app::ports::StoreError> {
        self.inner.completeness(t, integration).await
    }
    async fn mapped_agents(
        &self,
        t: &acd_domain::TenantId,
        employee: Option<&str>,
        from: Option<&acd_app::query::AgentsFrom>,
        limit: usize,
    ) -> Result<acd_app::ports::Page<acd_app::query::MappedAgent>, acd_app::ports::StoreError> {
        self.inner.mapped_agents(t, employee, from, limit).await
    }
    async fn segments(
        &self,
        t: &acd_domain::TenantId,
        integration: acd_domain::IntegrationId,
        agent: &str,
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
        not_before: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<Vec<acd_app::query::SegmentRecord>, acd_app::ports::StoreError> {
        use std::sync::atomic::Ordering::SeqCst;
        if from != to {
            return self.inner.segments(t, integration, agent, from, to, not_before).await;
        }
        self.joins.fetch_add(1, SeqCst);
        let now = self.in_flight.fetch_add(1, SeqCst) + 1;
        self.most_in_flight.fetch_max(now, SeqCst);
        tokio::time::sleep(Duration::from_millis(20)).await;
        let out = self.inner.segments(t, integration, agent, from, to, not_before).await;
        self.in_flight.fetch_sub(1, SeqCst);
        out
    }
    async fn statuses(
        &self,
        t: &acd_domain::TenantId,
        integration: acd_domain::IntegrationId,
    ) -> Result<Vec<acd_app::mappings::ExternalStatusRecord>, acd_app::ports::StoreError> {
        self.inner.statuses(t, integration).await
    }
    async fn agent_state_gaps(
        &self,
        t: &acd_domain::TenantId,
    ) -> Result<Vec<acd_app::query::IntegrationGap>, acd_app::ports::StoreError> {
        self.inner.agent_state_gaps(t).await
    }
}

/// `agents` mapped agents (`agent-00` …, employees `emp-00` …), each offline from March 1 to March 25, stored as
/// the import stores it (a piece a day): a range on March 12 sees one segment of each, followed 7 days back and 7
/// forward (one Query a day), from March 5 to March 20.
async fn long_offline_agents(env: &Env, agents: usize) -> acd_domain::IntegrationId {
    let integration = env.create_integration("tenant-a", "Genesys").await;
    let mut items = vec![item(status("tenant-a", integration, "OFFLINE", "Offline"))];
    for a in 0..agents {
        let id = format!("agent-{a:02}");
        items.push(item(mapped_agent("tenant-a", integration, &id, &format!("emp-{a:02}"))));
        for day in 1..25 {
            items.push(item(segment("tenant-a", integration, &id, at(day, 0, 0), Some(at(day + 1, 0, 0)), "OFFLINE")));
        }
    }
    env.put_items(items).await;
    integration
}

const LONG_OFFLINE_RANGE: &str = "/agent-states?from=2024-03-12T06:00:00Z&to=2024-03-12T07:00:00Z&limit=1000";

/// The reads that join a long segment's pieces (here 7 days back and 7 forward, a Query a day, for each of 8
/// agents) go out as the agents' segment reads do, several agents at a time, each agent's two directions together,
/// and the answer is the same. Until 2026-12-07 they were awaited inside the loop over agents, one after another:
/// 15 sequential Queries an agent, for up to 1,000 agents a page.
#[tokio::test]
async fn the_reads_that_join_a_segments_pieces_go_out_together() {
    let env = Env::start().await;
    long_offline_agents(&env, 8).await;
    let (expected, _) = states_pages(&env.api, LONG_OFFLINE_RANGE).await;
    let whole = ("2024-03-05T00:00:00Z".to_owned(), "2024-03-20T00:00:00Z".to_owned());
    assert_eq!(expected.len(), 8);
    assert!(expected.iter().all(|(_, start, end)| (start, end) == (&whole.0, &whole.1)), "{expected:?}");

    let watched = std::sync::Arc::new(JoinReads {
        inner: env.api.queries.store.clone(),
        joins: Default::default(),
        in_flight: Default::default(),
        most_in_flight: Default::default(),
    });
    let mut api = env.api.clone();
    api.queries.store = watched.clone();
    let (got, costs) = states_pages(&api, LONG_OFFLINE_RANGE).await;
    assert_eq!(got, expected, "the same answer");
    use std::sync::atomic::Ordering::SeqCst;
    assert_eq!(watched.joins.load(SeqCst), 8 * 14);
    // A mapped-agents page, the statuses, the gaps, and per agent its segments and 14 joining reads.
    assert_eq!(costs.iter().map(|c| c.calls).collect::<Vec<_>>(), [3 + 8 * 15]);
    let most = watched.most_in_flight.load(SeqCst);
    assert!(most >= 4, "at most {most} joining read(s) in flight at once");
}

/// A page also ends, with a cursor after a whole agent, once it has sent its bound of Queries (2,000; 60 here):
/// 20 agents whose segments are followed 14 days beyond the range cost 15 Queries each, and the pages together
/// answer what one unbounded page does. Until 2026-12-07 only items (each Query counting one) and agents were
/// bounded: 1,000 such agents made 15,000 Queries in one request.
#[tokio::test]
async fn an_agent_states_page_ends_after_its_queries() {
    let env = Env::start().await;
    long_offline_agents(&env, 20).await;
    let (expected, costs) = states_pages(&env.api, LONG_OFFLINE_RANGE).await;
    assert_eq!((expected.len(), costs.len()), (20, 1), "the default bound is far above this data");
    assert_eq!(costs[0].calls, 3 + 20 * 15);

    let budget = 60;
    let mut api = env.api.clone();
    api.queries.max_state_queries = budget;
    let (got, costs) = states_pages(&api, LONG_OFFLINE_RANGE).await;
    assert_eq!(got, expected, "every segment once, in order");
    for (page, cost) in costs.iter().enumerate() {
        // The bound, the gaps' Query, and the agents read ahead (8, 15 Queries each).
        assert!(cost.calls <= budget + 1 + 8 * 15, "page {page}: {cost:?}");
    }
    assert_eq!(costs.len(), 5, "4 agents a page");
}

/// DynamoDB answers too slowly for the invocation (every request of the API functions delayed 30 s): the queries and
/// ingest functions answer 503 `service-unavailable` (problem+json, which a client retries) a second before their
/// Lambda deadline. Until 2026-12-08 they ran into their Lambda timeout, and API Gateway answered a bare 500.
#[tokio::test]
async fn a_request_still_running_at_its_functions_deadline_is_answered_503() {
    use crate::dynamo_faults::{Answer, DynamoFaults, Fault};
    use acd_integration_tests::openapi::spec;
    use acd_integration_tests::{api_request, decode};
    use lambda_http::{Body, RequestExt, Response};
    let env = Env::start().await;
    let (status, created) =
        env.admin("POST", "/integrations", "tenant-a", Some(&json!({"name": "Slow", "type": "push"}))).await;
    assert_eq!(status, 201, "{created}");
    let key = created["ingest_key"]["ingest_key"].as_str().unwrap().to_owned();
    let faults = DynamoFaults::start(&env.stack.moto.endpoint).await;
    let clients = faults.clients().await;
    let auth = acd_app::http::TenantAuth::JwtClaim("tenant_id".into());
    let queries = acd_aws::wiring::queues_query_api(&env.stack.settings, &clients, auth);
    let ingest = acd_aws::wiring::ingest_api(&env.stack.settings, &clients);
    // The invocation's deadline, as Lambda hands it over: an instant in milliseconds since the epoch.
    let in_three_seconds = || {
        let mut context = lambda_http::Context::default();
        context.deadline = (chrono::Utc::now() + chrono::Duration::seconds(3)).timestamp_millis() as u64;
        context
    };
    let queues = || api_request("GET", "/queues", Some("tenant-a"), None).with_lambda_context(in_three_seconds());
    assert_eq!(decode(queries.handle(queues()).await).0, 200, "answered in time while DynamoDB is quick");

    let operations = &["GetItem", "Query", "UpdateItem", "BatchWriteItem", "TransactWriteItems", "BatchGetItem"];
    let slow = Answer::Delayed(Duration::from_secs(30));
    faults.arm(Fault { operations, body_contains: "", answer: slow, until: None, times: None });
    // A 503 with Retry-After (checked against the spec), answered before the deadline.
    async fn cut_off(method: &str, path: &str, answer: impl std::future::Future<Output = Response<Body>>) {
        let started = std::time::Instant::now();
        let answer = answer.await;
        let took = started.elapsed();
        assert_eq!(answer.headers().get("retry-after").map(|v| v.to_str().unwrap()), Some("5"), "{method} {path}");
        let (status, content_type, problem) = decode(answer);
        spec().check(method, path, status, &content_type, &problem);
        assert_eq!((status, problem["code"].as_str()), (503, Some("service-unavailable")), "{problem}");
        assert!(took < Duration::from_millis(2_900), "{method} {path} answered before the deadline: {took:?}");
    }
    cut_off("GET", "/queues", queries.handle(queues())).await;

    let mut push = api_request("POST", "/ingest/queues", None, None).with_lambda_context(in_three_seconds());
    *push.body_mut() = lambda_http::Body::Text(json!({"queues": []}).to_string());
    push.headers_mut().insert("authorization", format!("Bearer {key}").parse().unwrap());
    cut_off("POST", "/ingest/queues", ingest.handle(push)).await;
}
