//! Push integrations end to end (issue 12 Part 1): the real integrations-API, ingest and queues-query handlers
//! against moto. A push integration is created (its key shown once), queues, intervals and out-of-order,
//! duplicated agent events are pushed and read back through the query API; bad records, limits, unknown, revoked
//! and rotated keys, and the rate limit are checked with the table read back (nothing written when refused).
//! Every answer of the JWT API is checked against infra/openapi.yaml, and so is every ingest answer.

/// Deleting a push integration: its keys, a rotation and pushes overlapping the DELETE (`ingest::delete::`).
mod delete;

use crate::event_support;
use crate::query_support::*;
use acd_app::ingest::IngestConfig;
use acd_app::ingest::http::IngestApi;
use acd_aws::wiring;
use acd_integration_tests::openapi::spec;
use acd_integration_tests::{api_request, decode};
use chrono::{DateTime, Duration, DurationRound, Utc};
use serde_json::{Value, json};

const T: &str = "tenant-push";

/// start, end, status id, activity id of one agent state.
type State = (DateTime<Utc>, Option<DateTime<Utc>>, String, String);

async fn push(api: &IngestApi, key: Option<&str>, route: &str, body: &Value) -> (u16, Value) {
    push_raw(api, key, route, body.to_string()).await
}

async fn push_raw(api: &IngestApi, key: Option<&str>, route: &str, body: String) -> (u16, Value) {
    let path = format!("/ingest/{route}");
    // The JWT fixture's tenant is another tenant: the ingest function must ignore it and use the key's.
    let mut request = api_request("POST", &path, Some("someone-else"), None);
    *request.body_mut() = lambda_http::Body::Text(body);
    if let Some(key) = key {
        request.headers_mut().insert("authorization", format!("Bearer {key}").parse().unwrap());
    }
    let (status, content_type, value) = decode(api.handle(request).await);
    spec().check("POST", &path, status, &content_type, &value);
    (status, value)
}

fn time(v: &Value) -> DateTime<Utc> {
    v.as_str().unwrap().parse().unwrap()
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Creates a push integration from `body` through the API: (the 201 answer, its id, its ingest key).
async fn create_push(env: &Env, body: &Value) -> (Value, String, String) {
    let (status, created) = env.admin("POST", "/integrations", T, Some(body)).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let key = created["ingest_key"]["ingest_key"].as_str().unwrap().to_owned();
    (created, id, key)
}

async fn item_count(env: &Env) -> usize {
    let out = env.stack.clients.dynamodb().scan().table_name(&env.stack.settings.table_name).send().await.unwrap();
    // The per-minute call counters of the rate limits (the key's, the tenant's) aside: a call is counted before its
    // body is read.
    let rate = |i: &Item| {
        i.get("SK").and_then(|v| v.as_s().ok()).is_some_and(|sk| sk.starts_with("IRATE#") || sk.starts_with("TRATE#"))
    };
    out.items.unwrap_or_default().iter().filter(|i| !rate(i)).count()
}

#[tokio::test]
async fn pushed_queues_intervals_and_events_read_back_through_the_query_api() {
    let env = Env::start().await;
    let ingest = wiring::ingest_api(&env.stack.settings, &env.stack.clients);

    // Create: the key is in the 201 answer only.
    let (created, id, key) = create_push(&env, &json!({"name": "Dialer", "type": "push"})).await;
    assert!(key.starts_with("acdpush_"));
    assert_eq!(created["type"], "push");
    assert_eq!(created["credentials"], json!({}));
    let (_, read) = env.admin("GET", &format!("/integrations/{id}"), T, None).await;
    assert!(read.get("ingest_key").is_none() && !read.to_string().contains(&key));
    assert_eq!(read["status"]["state"], "importing");
    assert_eq!(read["settings"]["no_data_after_minutes"], 60);
    let patch = json!({"settings": {"no_data_after_minutes": 30}});
    let (status, patched) = env.admin("PATCH", &format!("/integrations/{id}"), T, Some(&patch)).await;
    assert_eq!((status, patched["settings"]["no_data_after_minutes"].as_u64()), (200, Some(30)), "{patched}");
    let (_, types) = env.admin("GET", "/integration-types", T, None).await;
    assert!(types["items"].as_array().unwrap().iter().any(|t| t["type"] == "push" && t["credentials"] == json!([])));
    // The table holds only a hash of the key's secret.
    let scan = env.stack.clients.dynamodb().scan().table_name(&env.stack.settings.table_name).send().await.unwrap();
    let secret = key.rsplit('.').next().unwrap();
    assert!(!format!("{:?}", scan.items).contains(secret), "the key's secret is stored in clear");

    // Queues.
    let queues = json!({"queues": [
        {"external_id": "q-sales", "name": "Sales", "channel": "calls"},
        {"external_id": "q-chat", "name": "Web chat", "channel": "chats"},
    ]});
    let (status, done) = push(&ingest, Some(&key), "queues", &queues).await;
    assert_eq!((status, done["accepted"].as_u64()), (200, Some(2)), "{done}");
    let listed = env.get(&format!("/queues?integration_id={id}"), T).await;
    let names: Vec<&str> = listed["items"].as_array().unwrap().iter().map(|q| q["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Sales", "Web chat"]);
    let sales_id = listed["items"][0]["id"].as_str().unwrap().to_owned();
    // Pushed queues are in the queue name index: the push marked the integration, and `q` reads the index.
    let record = env
        .stack
        .clients
        .dynamodb()
        .get_item()
        .table_name(&env.stack.settings.table_name)
        .key("PK", aws_sdk_dynamodb::types::AttributeValue::S(acd_aws::keys::tenant_pk(&tenant(T))))
        .key("SK", aws_sdk_dynamodb::types::AttributeValue::S(acd_aws::keys::integration_sk(id.parse().unwrap())))
        .send()
        .await
        .unwrap();
    assert_eq!(record.item.unwrap().get(acd_aws::items::SEARCH_INDEXED).and_then(|v| v.as_bool().ok()), Some(&true));
    let found = env.get("/queues?q=web%20ch", T).await;
    let names: Vec<&str> = found["items"].as_array().unwrap().iter().map(|q| q["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Web chat"], "{found}");
    // A rename moves the queue in the index (the old name's entries are deleted by key: a delete carrying more
    // than the key is refused by DynamoDB, and until 2026-12-07 every push renaming a queue failed so).
    let renamed = json!({"queues": [{"external_id": "q-chat", "name": "Live chat", "channel": "chats"}]});
    let (status, done) = push(&ingest, Some(&key), "queues", &renamed).await;
    assert_eq!((status, done["accepted"].as_u64()), (200, Some(1)), "{done}");
    let found = env.get("/queues?q=live%20ch", T).await;
    let names: Vec<&str> = found["items"].as_array().unwrap().iter().map(|q| q["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Live chat"], "{found}");
    assert_eq!(env.get("/queues?q=web%20ch", T).await["items"], json!([]), "the old name is out of the index");
    let back = json!({"queues": [{"external_id": "q-chat", "name": "Web chat", "channel": "chats"}]});
    assert_eq!(push(&ingest, Some(&key), "queues", &back).await.0, 200);

    // Intervals, a correction, and completeness.
    let now = Utc::now();
    let base = now.duration_trunc(Duration::hours(1)).unwrap() - Duration::hours(2);
    let interval = |start: DateTime<Utc>, offered: u64| {
        json!({"queue_external_id": "q-sales", "channel": "calls", "start": iso(start), "offered": offered,
               "handled": offered, "abandoned": 0, "handle_time_seconds": 240.5, "answer_time_seconds": 12})
    };
    let body = json!({"intervals": [interval(base, 5), interval(base + Duration::minutes(15), 3)],
                      "complete_through": iso(base + Duration::minutes(30))});
    assert_eq!(push(&ingest, Some(&key), "intervals", &body).await.0, 200);
    assert_eq!(push(&ingest, Some(&key), "intervals", &json!({"intervals": [interval(base, 7)]})).await.0, 200);
    let range =
        format!("from={}&to={}", iso(base).replace(".000", ""), iso(base + Duration::minutes(45)).replace(".000", ""));
    let read = env.get(&format!("/queues/{sales_id}/intervals?{range}"), T).await;
    let items = read["items"].as_array().unwrap();
    assert_eq!(items.len(), 3, "{read}");
    assert_eq!((items[0]["offered"].as_u64(), items[0]["handle_time_seconds"].as_f64()), (Some(7), Some(240.5)));
    assert_eq!((items[1]["offered"].as_u64(), items[1]["complete"].as_bool()), (Some(3), Some(true)));
    assert_eq!((items[2]["offered"].clone(), items[2]["complete"].as_bool()), (Value::Null, Some(false)));
    assert_eq!(time(&read["complete_through"]), base + Duration::minutes(30));
    // An interval of an unknown queue or another channel: refused with its index, nothing written.
    let bad = json!({"intervals": [interval(base + Duration::minutes(30), 9),
        {"queue_external_id": "q-nope", "channel": "calls", "start": iso(base), "offered": 1, "handled": 1, "abandoned": 0,
         "handle_time_seconds": 1, "answer_time_seconds": 1},
        {"queue_external_id": "q-chat", "channel": "calls", "start": iso(base), "offered": 1, "handled": 1, "abandoned": 0,
         "handle_time_seconds": 1, "answer_time_seconds": 1}]});
    let (status, problem) = push(&ingest, Some(&key), "intervals", &bad).await;
    assert_eq!((status, problem["code"].as_str()), (422, Some("invalid-records")), "{problem}");
    let indexes: Vec<u64> =
        problem["errors"].as_array().unwrap().iter().map(|e| e["index"].as_u64().unwrap()).collect();
    assert_eq!(indexes, [1, 2]);
    let read = env.get(&format!("/queues/{sales_id}/intervals?{range}"), T).await;
    assert_eq!(read["items"][2]["offered"], Value::Null, "the valid record of a refused call is not applied");

    // Agent events out of order, with a duplicate; segments built server-side.
    let t0 = base + Duration::minutes(5);
    let ev = |id: &str, minutes: i64, status: &str, reason: Option<&str>| {
        let mut e =
            json!({"event_id": id, "agent": "agent-7", "status": status, "at": iso(t0 + Duration::minutes(minutes))});
        if let Some(r) = reason {
            e["reason"] = json!(r);
        }
        e
    };
    let first = json!({"events": [ev("e3", 20, "Ready", None), ev("e1", 0, "Ready", None)]});
    let (status, done) = push(&ingest, Some(&key), "agent-events", &first).await;
    assert_eq!((status, done["accepted"].as_u64(), done["duplicates"].as_u64()), (200, Some(2), Some(0)), "{done}");
    let late = json!({"events": [ev("e2", 10, "Not Ready", Some("Lunch")), ev("e1", 0, "Ready", None)]});
    let (status, done) = push(&ingest, Some(&key), "agent-events", &late).await;
    assert_eq!((status, done["duplicates"].as_u64()), (200, Some(1)), "{done}");

    // Discovered agent and statuses, mapped like any other type's.
    let agents = env.get(&format!("/integrations/{id}/external-agents"), T).await;
    assert_eq!(agents["items"][0]["external_id"], "agent-7");
    let (status, _) = env
        .call(
            "PUT",
            &format!("/integrations/{id}/external-agents/agent-7"),
            Some(T),
            Some(&json!({"employee_id": "emp-7"})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = env
        .call(
            "PUT",
            &format!("/integrations/{id}/external-statuses/{}", enc("Not Ready: Lunch")),
            Some(T),
            Some(&json!({"activity_id": "lunch"})),
        )
        .await;
    assert_eq!(status, 200);
    let states_path = format!(
        "/agent-states?from={}&to={}",
        iso(base - Duration::hours(1)).replace(".000", ""),
        iso(base + Duration::hours(2)).replace(".000", "")
    );
    let states = env.get(&states_path, T).await;
    let got: Vec<State> = states["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let end = if s["end"].is_null() { None } else { Some(time(&s["end"])) };
            (
                time(&s["start"]),
                end,
                s["status_id"].as_str().unwrap().to_owned(),
                s["activity_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let m = |n| t0 + Duration::minutes(n);
    assert_eq!(
        got,
        vec![
            (m(0), Some(m(10)), "Ready".to_owned(), "present".to_owned()),
            (m(10), Some(m(20)), "Not Ready: Lunch".to_owned(), "lunch".to_owned()),
            (m(20), None, "Ready".to_owned(), "present".to_owned()),
        ],
        "{states}"
    );
    let (_, read) = env.admin("GET", &format!("/integrations/{id}"), T, None).await;
    assert_eq!(read["status"]["state"], "operational", "{read}");

    // A call with one bad event applies nothing.
    let before = item_count(&env).await;
    let bad = json!({"events": [ev("e9", 30, "Ready", None), {"event_id": "e10", "agent": "agent-7", "status": "Ready", "at": "yesterday"}]});
    let (status, problem) = push(&ingest, Some(&key), "agent-events", &bad).await;
    assert_eq!((status, problem["errors"][0]["index"].as_u64()), (422, Some(1)), "{problem}");
    assert_eq!(item_count(&env).await, before, "a refused call writes nothing");

    // Limits.
    let many: Vec<Value> = (0..1001).map(|i| ev(&format!("m{i}"), 1, "Ready", None)).collect();
    let (status, problem) = push(&ingest, Some(&key), "agent-events", &json!({"events": many})).await;
    assert_eq!((status, problem["code"].as_str()), (422, Some("too-many-records")));
    let huge = format!("{{\"queues\": [], \"pad\": \"{}\"}}", "x".repeat(1024 * 1024));
    assert_eq!(push_raw(&ingest, Some(&key), "queues", huge).await.0, 413);
    let states = env.get(&states_path, T).await;
    assert_eq!(states["items"].as_array().unwrap().len(), 3, "refused calls add no segment: {states}");

    // Keys: unknown, malformed, missing → 401 and nothing written.
    let queue_x = json!({"queues": [{"external_id": "q-x", "name": "X", "channel": "calls"}]});
    let forged = {
        let mut parts: Vec<String> = key.split('.').map(str::to_owned).collect();
        parts[3] = "A".repeat(43);
        parts.join(".")
    };
    for bad_key in [Some(forged.as_str()), Some("acdpush_nothing"), None] {
        let (status, problem) = push(&ingest, bad_key, "queues", &queue_x).await;
        assert_eq!((status, problem["code"].as_str()), (401, Some("invalid-ingest-key")), "{problem}");
    }
    let listed = env.get(&format!("/queues?integration_id={id}"), T).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 2, "no queue written with a bad key");

    // Rotation: the old key works during the grace period; revoked, it is 401 at once.
    let (status, rotated) = env.admin("POST", &format!("/integrations/{id}/ingest-keys"), T, None).await;
    assert_eq!(status, 201, "{rotated}");
    let new_key = rotated["ingest_key"].as_str().unwrap().to_owned();
    let (_, keys) = env.admin("GET", &format!("/integrations/{id}/ingest-keys"), T, None).await;
    let keys = keys["items"].as_array().unwrap().clone();
    assert_eq!(keys.len(), 2);
    let old = keys.iter().find(|k| k["key_id"] != rotated["key_id"]).unwrap();
    assert!(time(&old["expires_at"]) > Utc::now() + Duration::hours(23));
    assert!(!keys.iter().any(|k| k.to_string().contains("acdpush_")), "listed keys never show a key");
    assert_eq!(push(&ingest, Some(&key), "queues", &json!({"queues": []})).await.0, 200, "grace period");
    let old_id = old["key_id"].as_str().unwrap();
    let (status, _) = env.admin("DELETE", &format!("/integrations/{id}/ingest-keys/{old_id}"), T, None).await;
    assert_eq!(status, 204);
    assert_eq!(push(&ingest, Some(&key), "queues", &queue_x).await.0, 401);
    assert_eq!(push(&ingest, Some(&new_key), "queues", &json!({"queues": []})).await.0, 200);
    let listed = env.get(&format!("/queues?integration_id={id}"), T).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 2, "nothing written with the revoked key");

    // Rate limit per key (a service configured for 2 calls a minute).
    let mut limited = ingest.clone();
    limited.service.config = IngestConfig { calls_per_minute: 2, ..IngestConfig::default() };
    let fixed = Utc::now().duration_trunc(Duration::minutes(1)).unwrap() + Duration::minutes(5);
    let call = |api: &IngestApi| {
        let mut request = api_request("POST", "/ingest/queues", None, Some(&json!({"queues": []})));
        request.headers_mut().insert("x-ingest-key", new_key.parse().unwrap());
        let api = api.clone();
        async move { decode(api.handle_at(request, fixed).await) }
    };
    assert_eq!(call(&limited).await.0, 200);
    assert_eq!(call(&limited).await.0, 200);
    let (status, _, problem) = call(&limited).await;
    assert_eq!((status, problem["code"].as_str()), (429, Some("rate-limited")));

    // Deleting the integration kills its keys.
    let (status, _) = env.admin("DELETE", &format!("/integrations/{id}"), T, None).await;
    assert_eq!(status, 204);
    assert_eq!(push(&ingest, Some(&new_key), "queues", &json!({"queues": []})).await.0, 401);
}

#[tokio::test]
async fn a_retry_of_a_call_that_stored_its_events_and_failed_builds_their_segments() {
    // A call that fails after storing its events (a throttled segment write, a timeout) answers 503; its retry
    // finds every event stored. It must still discover the agent and build the segments (it built nothing before:
    // the states stayed missing until a later event of that agent and day). Here the failed call is its first step
    // alone: the events inserted by the store, nothing else.
    let env = Env::start().await;
    let ingest = wiring::ingest_api(&env.stack.settings, &env.stack.clients);
    let (_, id, key) = create_push(&env, &json!({"name": "Retried", "type": "push"})).await;
    let t0 = (Utc::now() - Duration::hours(3)).duration_trunc(Duration::minutes(1)).unwrap();
    let ev = |event_id: &str, at: DateTime<Utc>, status: &str| json!({"event_id": event_id, "agent": "agent-9", "status": status, "at": iso(at)});
    let body = json!({"events": [ev("1", t0, "Ready"), ev("2", t0 + Duration::minutes(10), "Not Ready")]});

    let integration = {
        use acd_app::ports::IntegrationRepo;
        let repo = wiring::dynamo_store(&env.stack.settings, &env.stack.clients);
        repo.get(&acd_domain::TenantId::parse(T).unwrap(), id.parse().unwrap()).await.unwrap().unwrap()
    };
    let events: Vec<_> =
        acd_app::ingest::records::parse_events(&body, Utc::now(), &acd_app::ingest::records::Sender::default())
            .unwrap()
            .into_iter()
            .map(|(_, e)| e)
            .collect();
    let store = wiring::ingest_store(&env.stack.settings, &env.stack.clients);
    use acd_app::ingest::IngestStore;
    assert_eq!(store.insert_events(&integration, &events).await.unwrap().inserted.len(), 2);

    let (status, done) = push(&ingest, Some(&key), "agent-events", &body).await;
    assert_eq!((status, done["accepted"].as_u64(), done["duplicates"].as_u64()), (200, Some(2), Some(2)), "{done}");
    let agents = env.get(&format!("/integrations/{id}/external-agents"), T).await;
    assert_eq!(agents["items"][0]["external_id"], "agent-9", "discovered by the retry: {agents}");
    let mapping = Some(json!({"employee_id": "emp-9"}));
    let path = format!("/integrations/{id}/external-agents/agent-9");
    assert_eq!(env.call("PUT", &path, Some(T), mapping.as_ref()).await.0, 200);
    let states_path = format!(
        "/agent-states?from={}&to={}",
        iso(t0 - Duration::hours(1)).replace(".000", ""),
        iso(t0 + Duration::hours(1)).replace(".000", "")
    );
    let states = env.get(&states_path, T).await;
    let got: Vec<(DateTime<Utc>, Option<DateTime<Utc>>)> = states["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (time(&s["start"]), (!s["end"].is_null()).then(|| time(&s["end"]))))
        .collect();
    let ten = t0 + Duration::minutes(10);
    assert_eq!(got, vec![(t0, Some(ten)), (ten, None)], "built by the retry: {states}");

    // An id need only be unique per agent and day: the same id on the next day, in the same call, is another event
    // (it was dropped as a repeat); the same id twice on one day is one, counted as a duplicate.
    let yesterday = t0 - Duration::days(1);
    let call = json!({"events": [ev("7", yesterday, "Ready"), ev("7", t0 + Duration::minutes(20), "Ready"),
                                 ev("7", t0 + Duration::minutes(20), "Ready")]});
    let (status, done) = push(&ingest, Some(&key), "agent-events", &call).await;
    assert_eq!((status, done["accepted"].as_u64(), done["duplicates"].as_u64()), (200, Some(3), Some(1)), "{done}");
    let states = env.get(&states_path, T).await;
    let starts: Vec<DateTime<Utc>> = states["items"].as_array().unwrap().iter().map(|s| time(&s["start"])).collect();
    assert!(starts.contains(&(t0 + Duration::minutes(20))), "the next day's event \"7\" is stored: {states}");
}

/// A sender that back-fills in calls without a declaration and then declares completeness in an empty call declares
/// what it pushed complete: the first declaration is complete from the earliest interval pushed so far, not only
/// from its own call's (until 2026-12-07 the back-filled intervals stayed `complete: false` for good).
#[tokio::test]
async fn a_first_declaration_after_a_back_fill_covers_the_back_filled_intervals() {
    let env = Env::start().await;
    let ingest = wiring::ingest_api(&env.stack.settings, &env.stack.clients);
    let (_, id, key) = create_push(&env, &json!({"name": "Back-fill first", "type": "push"})).await;
    let queue = json!({"queues": [{"external_id": "q-a", "name": "Alpha", "channel": "calls"}]});
    assert_eq!(push(&ingest, Some(&key), "queues", &queue).await.0, 200);
    let base = Utc::now().duration_trunc(Duration::hours(1)).unwrap() - Duration::hours(30);
    let interval = |start: DateTime<Utc>| {
        json!({"queue_external_id": "q-a", "channel": "calls", "start": iso(start), "offered": 3, "handled": 3,
               "abandoned": 0, "handle_time_seconds": 60, "answer_time_seconds": 5})
    };
    // Two back-fill calls, a day apart in data, then an empty declaring call.
    for start in [base, base + Duration::hours(24)] {
        let body = json!({"intervals": [interval(start)]});
        assert_eq!(push(&ingest, Some(&key), "intervals", &body).await.0, 200);
    }
    let through = base + Duration::hours(25);
    let declared = json!({"intervals": [], "complete_through": iso(through)});
    assert_eq!(push(&ingest, Some(&key), "intervals", &declared).await.0, 200);
    let listed = env.get(&format!("/queues?integration_id={id}"), T).await;
    let queue_id = listed["items"][0]["id"].as_str().unwrap().to_owned();
    let range =
        format!("from={}&to={}", iso(base).replace(".000", ""), iso(base + Duration::minutes(30)).replace(".000", ""));
    let read = env.get(&format!("/queues/{queue_id}/intervals?{range}"), T).await;
    let got: Vec<(Value, bool)> = read["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["offered"].clone(), i["complete"].as_bool().unwrap()))
        .collect();
    assert_eq!(got, [(json!(3), true), (json!(0), true)], "the back-fill is declared complete: {read}");
}

#[tokio::test]
async fn a_queue_pushed_after_completeness_was_declared_is_complete_only_from_then() {
    // The import's rule for a queue it lists for the first time: the declarations before it did not cover the new
    // queue, so its earlier quarter hours are unknown, not complete zeros (they read as zeros before 2026-12-07).
    let env = Env::start().await;
    let ingest = wiring::ingest_api(&env.stack.settings, &env.stack.clients);
    let (_, id, key) = create_push(&env, &json!({"name": "Late queue", "type": "push"})).await;
    let queue = |external_id: &str, name: &str| json!({"external_id": external_id, "name": name, "channel": "calls"});
    assert_eq!(push(&ingest, Some(&key), "queues", &json!({"queues": [queue("q-a", "Alpha")]})).await.0, 200);
    let base = Utc::now().duration_trunc(Duration::hours(1)).unwrap() - Duration::hours(2);
    let t1 = base + Duration::minutes(30);
    let interval = |queue: &str, start: DateTime<Utc>| {
        json!({"queue_external_id": queue, "channel": "calls", "start": iso(start), "offered": 4, "handled": 4,
               "abandoned": 0, "handle_time_seconds": 60, "answer_time_seconds": 5})
    };
    let body = json!({"intervals": [interval("q-a", base)], "complete_through": iso(t1)});
    assert_eq!(push(&ingest, Some(&key), "intervals", &body).await.0, 200);

    // B is new after the declaration; A is pushed again (a queue known before keeps its completeness).
    let both = json!({"queues": [queue("q-a", "Alpha"), queue("q-b", "Beta")]});
    assert_eq!(push(&ingest, Some(&key), "queues", &both).await.0, 200);
    let listed = env.get(&format!("/queues?integration_id={id}"), T).await;
    let queue_id = |name: &str| {
        let items = listed["items"].as_array().unwrap();
        items.iter().find(|q| q["name"] == name).unwrap()["id"].as_str().unwrap().to_owned()
    };
    let (a, b) = (queue_id("Alpha"), queue_id("Beta"));
    let complete = |read: &Value| -> Vec<(Value, bool)> {
        read["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| (i["offered"].clone(), i["complete"].as_bool().unwrap()))
            .collect()
    };
    let range =
        format!("from={}&to={}", iso(base).replace(".000", ""), iso(base + Duration::minutes(45)).replace(".000", ""));
    let read_a = env.get(&format!("/queues/{a}/intervals?{range}"), T).await;
    assert_eq!(complete(&read_a), [(json!(4), true), (json!(0), true), (Value::Null, false)], "{read_a}");
    let read_b = env.get(&format!("/queues/{b}/intervals?{range}"), T).await;
    assert_eq!(complete(&read_b), [(Value::Null, false), (Value::Null, false), (Value::Null, false)], "{read_b}");
    assert_eq!(time(&read_b["complete_through"]), t1);

    // The next declaration covers B from T1 on.
    let body = json!({"intervals": [interval("q-b", t1)], "complete_through": iso(t1 + Duration::minutes(15))});
    assert_eq!(push(&ingest, Some(&key), "intervals", &body).await.0, 200);
    let read_b = env.get(&format!("/queues/{b}/intervals?{range}"), T).await;
    assert_eq!(complete(&read_b), [(Value::Null, false), (Value::Null, false), (json!(4), true)], "{read_b}");
    let read_a = env.get(&format!("/queues/{a}/intervals?{range}"), T).await;
    assert_eq!(complete(&read_a), [(json!(4), true), (json!(0), true), (json!(0), true)], "{read_a}");

    // A misspelled `complete_through` is a 400 naming it, not a call applied without its declaration.
    let misspelled = json!({"intervals": [interval("q-b", t1 + Duration::minutes(15))],
                            "completeThrough": iso(t1 + Duration::minutes(30))});
    let (status, problem) = push(&ingest, Some(&key), "intervals", &misspelled).await;
    assert_eq!((status, problem["code"].as_str()), (400, Some("invalid-body")), "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("`completeThrough`"), "{problem}");
}

/// The stored item of one pushed interval (none after a delete).
async fn stored_interval(env: &Env, queue_id: &str, start: DateTime<Utc>) -> Option<Item> {
    use aws_sdk_dynamodb::types::AttributeValue;
    let queue: acd_domain::QueueId = queue_id.parse().unwrap();
    let out = env
        .stack
        .clients
        .dynamodb()
        .get_item()
        .table_name(&env.stack.settings.table_name)
        .key("PK", AttributeValue::S(acd_aws::items::queue_data_pk(&tenant(T), &queue)))
        .key("SK", AttributeValue::S(acd_aws::items::interval_sk(start)))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    out.item
}

/// (offered, complete) of every interval of `[from, from + quarters × 15 min)` of a queue, through the query API.
async fn offered_and_complete(env: &Env, queue_id: &str, from: DateTime<Utc>, quarters: i64) -> Vec<(Value, bool)> {
    let to = from + Duration::minutes(15 * quarters);
    let range = format!("from={}&to={}", iso(from).replace(".000", ""), iso(to).replace(".000", ""));
    let read = env.get(&format!("/queues/{queue_id}/intervals?{range}"), T).await;
    read["items"].as_array().unwrap().iter().map(|i| (i["offered"].clone(), i["complete"].as_bool().unwrap())).collect()
}

/// One pushed interval record: `offered` contacts, all handled (all zero for 0).
fn counted(queue: &str, start: DateTime<Utc>, offered: u64) -> Value {
    let seconds = if offered == 0 { 0 } else { 60 };
    json!({"queue_external_id": queue, "channel": "calls", "start": iso(start), "offered": offered,
           "handled": offered, "abandoned": 0, "handle_time_seconds": seconds, "answer_time_seconds": 0})
}

/// A pushed all-zero interval is a value received: it reads as zero wherever it lies. Until 2026-12-07 every one
/// was stored as a delete (absent means zero), so before a queue's own `complete_from` — where absent means not
/// fetched — a quiet quarter hour read `offered: null`, as if it had never been sent. Corrections either way read
/// back; a zero the completeness vouches for (with the call's own declaration) is still a delete.
#[tokio::test]
async fn a_pushed_zero_interval_before_the_queues_complete_from_reads_as_zero_not_as_not_fetched() {
    let env = Env::start().await;
    let ingest = wiring::ingest_api(&env.stack.settings, &env.stack.clients);
    let (_, id, key) = create_push(&env, &json!({"name": "Quiet late queue", "type": "push"})).await;
    let queue = |external_id: &str, name: &str| json!({"external_id": external_id, "name": name, "channel": "calls"});
    assert_eq!(push(&ingest, Some(&key), "queues", &json!({"queues": [queue("q-a", "Alpha")]})).await.0, 200);
    let base = Utc::now().duration_trunc(Duration::hours(1)).unwrap() - Duration::hours(2);
    let t1 = base + Duration::minutes(30);
    let body = json!({"intervals": [counted("q-a", base, 4)], "complete_through": iso(t1)});
    assert_eq!(push(&ingest, Some(&key), "intervals", &body).await.0, 200);
    // B is first pushed after the declaration: its own `complete_from` is T1.
    let both = json!({"queues": [queue("q-a", "Alpha"), queue("q-b", "Beta")]});
    assert_eq!(push(&ingest, Some(&key), "queues", &both).await.0, 200);
    let listed = env.get(&format!("/queues?integration_id={id}"), T).await;
    let items = listed["items"].as_array().unwrap();
    let b = items.iter().find(|q| q["name"] == "Beta").unwrap()["id"].as_str().unwrap().to_owned();

    // A quiet quarter hour before B's `complete_from`: zero, not complete (no declaration covers it).
    let zero = json!({"intervals": [counted("q-b", base, 0)]});
    assert_eq!(push(&ingest, Some(&key), "intervals", &zero).await.0, 200);
    let read = offered_and_complete(&env, &b, base, 3).await;
    assert_eq!(read, [(json!(0), false), (Value::Null, false), (Value::Null, false)], "the pushed zero");
    assert!(stored_interval(&env, &b, base).await.is_some(), "outside the coverage a zero is an item");
    // Corrected to contacts, and back to zero.
    let two = json!({"intervals": [counted("q-b", base, 2)]});
    assert_eq!(push(&ingest, Some(&key), "intervals", &two).await.0, 200);
    assert_eq!(offered_and_complete(&env, &b, base, 1).await, [(json!(2), false)], "zero corrected to 2");
    assert_eq!(push(&ingest, Some(&key), "intervals", &zero).await.0, 200);
    assert_eq!(offered_and_complete(&env, &b, base, 1).await, [(json!(0), false)], "2 corrected to zero");

    // A zero from T1 on, in a call whose declaration covers it: a delete (nothing stored), read as a complete zero.
    let covered = json!({"intervals": [counted("q-b", t1, 0)], "complete_through": iso(t1 + Duration::minutes(15))});
    assert_eq!(push(&ingest, Some(&key), "intervals", &covered).await.0, 200);
    let read = offered_and_complete(&env, &b, base, 3).await;
    assert_eq!(read, [(json!(0), false), (Value::Null, false), (json!(0), true)], "B after the declaration");
    assert!(stored_interval(&env, &b, t1).await.is_none(), "a vouched-for zero is not stored");
}

/// A zero pushed past the declared range (or before any declaration) reads as zero at once, not as not fetched
/// until a declaration covers it; inside the declared range a correction to zero deletes the item.
#[tokio::test]
async fn a_pushed_zero_interval_reads_as_zero_before_a_declaration_covers_it_and_corrections_read_back() {
    let env = Env::start().await;
    let ingest = wiring::ingest_api(&env.stack.settings, &env.stack.clients);
    let (_, id, key) = create_push(&env, &json!({"name": "Quiet queue", "type": "push"})).await;
    let queue = json!({"queues": [{"external_id": "q-a", "name": "Alpha", "channel": "calls"}]});
    assert_eq!(push(&ingest, Some(&key), "queues", &queue).await.0, 200);
    let listed = env.get(&format!("/queues?integration_id={id}"), T).await;
    let a = listed["items"][0]["id"].as_str().unwrap().to_owned();
    let base = Utc::now().duration_trunc(Duration::hours(1)).unwrap() - Duration::hours(2);
    let q = |n: i64| base + Duration::minutes(15 * n);

    // Nothing declared yet: contacts and zeros are both preliminary values.
    let body = json!({"intervals": [counted("q-a", q(0), 5), counted("q-a", q(1), 0)]});
    assert_eq!(push(&ingest, Some(&key), "intervals", &body).await.0, 200);
    assert_eq!(
        offered_and_complete(&env, &a, base, 3).await,
        [(json!(5), false), (json!(0), false), (Value::Null, false)]
    );
    // Declared in an empty call: complete, the zero still a zero.
    let declared = json!({"intervals": [], "complete_through": iso(q(2))});
    assert_eq!(push(&ingest, Some(&key), "intervals", &declared).await.0, 200);
    assert_eq!(
        offered_and_complete(&env, &a, base, 3).await,
        [(json!(5), true), (json!(0), true), (Value::Null, false)]
    );
    // Past the declared range, without a declaration: zero at once.
    let late = json!({"intervals": [counted("q-a", q(2), 0)]});
    assert_eq!(push(&ingest, Some(&key), "intervals", &late).await.0, 200);
    assert_eq!(offered_and_complete(&env, &a, q(2), 1).await, [(json!(0), false)], "past complete_through");

    // Inside the declared range: corrections to zero and back.
    let body = json!({"intervals": [counted("q-a", q(0), 0), counted("q-a", q(1), 3)]});
    assert_eq!(push(&ingest, Some(&key), "intervals", &body).await.0, 200);
    assert_eq!(offered_and_complete(&env, &a, base, 2).await, [(json!(0), true), (json!(3), true)]);
    assert!(stored_interval(&env, &a, q(0)).await.is_none(), "a correction to zero the range vouches for deletes");
    let body = json!({"intervals": [counted("q-a", q(1), 0)]});
    assert_eq!(push(&ingest, Some(&key), "intervals", &body).await.0, 200);
    assert_eq!(offered_and_complete(&env, &a, base, 2).await, [(json!(0), true), (json!(0), true)]);
    assert!(stored_interval(&env, &a, q(1)).await.is_none());
}

/// Pushes at a fixed `now` (the DST edges of 2026 must be within the history and lateness limits).
async fn push_at(api: &IngestApi, key: &str, route: &str, body: &Value, now: DateTime<Utc>) -> (u16, Value) {
    let path = format!("/ingest/{route}");
    let mut request = api_request("POST", &path, None, Some(body));
    request.headers_mut().insert("x-ingest-key", key.parse().unwrap());
    let (status, content_type, value) = decode(api.handle_at(request, now).await);
    spec().check("POST", &path, status, &content_type, &value);
    (status, value)
}

fn indexes(problem: &Value) -> Vec<(u64, String)> {
    problem["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| (e["index"].as_u64().unwrap(), e["reason"].as_str().unwrap().to_owned()))
        .collect()
}

#[tokio::test]
async fn local_times_use_the_sender_zone_and_records_of_other_channels_are_refused() {
    let env = Env::start().await;
    let ingest = wiring::ingest_api(&env.stack.settings, &env.stack.clients);
    let utc = |s: &str| s.parse::<DateTime<Utc>>().unwrap();

    // Settings: defaults (UTC, every channel) are shown; a bad zone or channel list is a 400 naming the field.
    let (status, created) =
        env.admin("POST", "/integrations", T, Some(&json!({"name": "Dialer NY", "type": "push"}))).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["settings"]["time_zone"], "UTC");
    assert_eq!(
        created["settings"]["channels"],
        json!(["calls", "chats", "emails", "cases", "documents", "social_media"])
    );
    let id = created["id"].as_str().unwrap().to_owned();
    let key = created["ingest_key"]["ingest_key"].as_str().unwrap().to_owned();
    for (bad, field) in [
        (json!({"time_zone": "Mars/Olympus"}), "/settings/time_zone"),
        (json!({"channels": []}), "/settings/channels"),
        (json!({"channels": ["calls", "fax"]}), "/settings/channels/1"),
        (json!({"channels": ["calls", "calls"]}), "/settings/channels/1"),
    ] {
        let (status, problem) =
            env.admin("PATCH", &format!("/integrations/{id}"), T, Some(&json!({"settings": bad}))).await;
        assert_eq!(status, 400, "{problem}");
        assert!(problem.to_string().contains(field), "{field}: {problem}");
    }
    let patch = json!({"settings": {"time_zone": "America/New_York", "channels": ["chats", "calls"]}});
    let (status, patched) = env.admin("PATCH", &format!("/integrations/{id}"), T, Some(&patch)).await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(
        (&patched["settings"]["time_zone"], &patched["settings"]["channels"]),
        (&json!("America/New_York"), &json!(["calls", "chats"]))
    );
    // A PATCH of another setting keeps both.
    let (_, patched) = env
        .admin("PATCH", &format!("/integrations/{id}"), T, Some(&json!({"settings": {"no_data_after_minutes": 90}})))
        .await;
    assert_eq!(patched["settings"]["time_zone"], "America/New_York", "{patched}");

    // Channels: a queue of a channel the integration does not push is refused with its index; nothing applied.
    let now = utc("2026-11-01T12:00:00Z");
    let queues = json!({"queues": [{"external_id": "q1", "name": "Sales", "channel": "calls"},
                                   {"external_id": "q2", "name": "Mail", "channel": "emails"}]});
    let (status, problem) = push_at(&ingest, &key, "queues", &queues, now).await;
    assert_eq!(status, 422, "{problem}");
    let errors = indexes(&problem);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].0, 1);
    assert!(errors[0].1.contains("not one of this integration's channels (calls, chats)"), "{errors:?}");
    assert_eq!(env.get(&format!("/queues?integration_id={id}"), T).await["items"], json!([]));
    let queues = json!({"queues": [{"external_id": "q1", "name": "Sales", "channel": "calls"}]});
    assert_eq!(push_at(&ingest, &key, "queues", &queues, now).await.0, 200);

    // Intervals in New York local time: a 15-minute interval inside the spring-forward gap (2026-03-08
    // 02:00–03:00) does not exist, one in the repeated hour (2026-11-01 01:00–02:00) needs an offset; both are
    // refused with their index and nothing of the call is written. With the offset (or Z) it is taken as is.
    let rec = |start: &str, offered: u64| {
        json!({"queue_external_id": "q1", "channel": "calls", "start": start, "offered": offered, "handled": offered,
               "abandoned": 0, "handle_time_seconds": 60, "answer_time_seconds": 5})
    };
    let body = json!({"intervals": [rec("2026-03-08T01:45:00", 1), rec("2026-03-08T02:15:00", 2),
                                    rec("2026-11-01T01:15:00", 3), rec("2026-11-01T01:15:00-05:00", 4)]});
    let (status, problem) = push_at(&ingest, &key, "intervals", &body, now).await;
    assert_eq!(status, 422, "{problem}");
    let errors = indexes(&problem);
    assert_eq!(errors.iter().map(|e| e.0).collect::<Vec<_>>(), [1, 2], "{errors:?}");
    assert!(errors[0].1.contains("does not exist in America/New_York"), "{errors:?}");
    assert!(errors[1].1.contains("ambiguous") && errors[1].1.contains("offset"), "{errors:?}");
    let body = json!({"intervals": [rec("2026-03-08T01:45:00", 1), rec("2026-03-08T03:00:00", 2),
                                    rec("2026-11-01T01:15:00-05:00", 4), rec("2026-11-01T09:00:00Z", 5)],
                      "complete_through": "2026-11-01T05:00:00"});
    let (status, done) = push_at(&ingest, &key, "intervals", &body, now).await;
    assert_eq!(status, 200, "{done}");
    let listed = env.get(&format!("/queues?integration_id={id}"), T).await;
    let q1 = listed["items"][0]["id"].as_str().unwrap().to_owned();
    let read = |from: &str, to: &str| format!("/queues/{q1}/intervals?from={from}&to={to}");
    let offered = |v: &Value| -> Vec<(DateTime<Utc>, Value)> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| !i["offered"].is_null() && i["offered"] != 0)
            .map(|i| (time(&i["start"]), i["offered"].clone()))
            .collect()
    };
    // 01:45 EST = 06:45Z; 03:00 EDT = 07:00Z (the hour between does not exist locally).
    let march = env.get(&read("2026-03-08T06:00:00Z", "2026-03-08T08:00:00Z"), T).await;
    assert_eq!(
        offered(&march),
        [(utc("2026-03-08T06:45:00Z"), json!(1)), (utc("2026-03-08T07:00:00Z"), json!(2))],
        "{march}"
    );
    let november = env.get(&read("2026-11-01T05:00:00Z", "2026-11-01T10:00:00Z"), T).await;
    assert_eq!(
        offered(&november),
        [(utc("2026-11-01T06:15:00Z"), json!(4)), (utc("2026-11-01T09:00:00Z"), json!(5))],
        "{november}"
    );
    // complete_through 05:00 local (EST, after the change) = 10:00Z.
    assert_eq!(time(&november["complete_through"]), utc("2026-11-01T10:00:00Z"), "{november}");
    // complete_through in the repeated hour without an offset: 422 invalid-value, nothing applied.
    let ambiguous = json!({"intervals": [rec("2026-11-01T09:15:00Z", 9)], "complete_through": "2026-11-01T01:15:00"});
    let (status, problem) = push_at(&ingest, &key, "intervals", &ambiguous, now).await;
    assert_eq!((status, problem["code"].as_str()), (422, Some("invalid-value")), "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("ambiguous"), "{problem}");
    // A channel of the integration that is not the queue's own is still refused by the queue check.
    let wrong = json!({"intervals": [{"queue_external_id": "q1", "channel": "chats", "start": "2026-11-01T09:15:00Z",
        "offered": 1, "handled": 1, "abandoned": 0, "handle_time_seconds": 1, "answer_time_seconds": 1}]});
    assert_eq!(push_at(&ingest, &key, "intervals", &wrong, now).await.0, 422);

    // Agent events: a local `at` is placed in the zone; the repeated hour needs an offset.
    let ev = |id: &str, at: &str| json!({"event_id": id, "agent": "a1", "status": "Ready", "at": at});
    let (status, problem) = push_at(
        &ingest,
        &key,
        "agent-events",
        &json!({"events": [ev("e1", "2026-11-01T00:30:00"), ev("e2", "2026-11-01T01:30:00")]}),
        now,
    )
    .await;
    assert_eq!((status, indexes(&problem).iter().map(|e| e.0).collect::<Vec<_>>()), (422, vec![1]), "{problem}");
    let events = json!({"events": [ev("e1", "2026-11-01T00:30:00"), ev("e2", "2026-11-01T01:30:00-05:00")]});
    let (status, done) = push_at(&ingest, &key, "agent-events", &events, now).await;
    assert_eq!(status, 200, "{done}");
    env.call("PUT", &format!("/integrations/{id}/external-agents/a1"), Some(T), Some(&json!({"employee_id": "emp-1"})))
        .await;
    let states = env.get("/agent-states?from=2026-11-01T03:00:00Z&to=2026-11-01T08:00:00Z", T).await;
    let got: Vec<(DateTime<Utc>, Option<DateTime<Utc>>)> = states["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (time(&s["start"]), (!s["end"].is_null()).then(|| time(&s["end"]))))
        .collect();
    // 00:30 EDT = 04:30Z, 01:30 EST = 06:30Z.
    assert_eq!(
        got,
        [(utc("2026-11-01T04:30:00Z"), Some(utc("2026-11-01T06:30:00Z"))), (utc("2026-11-01T06:30:00Z"), None)],
        "{states}"
    );
}

/// `no_data` is observable like a connector failure: the push integration's schedule runs the import function,
/// which for a push type only watches for silence — `integration.failing` (reason `no_data`) once, and a
/// `FailingFor` metric line on every watch while silent — and the next push publishes `integration.recovered`.
#[tokio::test]
async fn a_silent_sender_fails_with_no_data_on_the_bus_and_in_the_metric_and_a_push_recovers_it() {
    use acd_app::import::{ImportConfig, ImportEvent, RunOutcome};
    use acd_connectors::{ConnectorFactory, Deadline, Endpoints, HttpClient};

    let logs = acd_test_harness::LogCapture::install();
    let env = Env::start().await;
    let queue = event_support::event_queue(&env.stack).await;
    let ingest = wiring::ingest_api(&env.stack.settings, &env.stack.clients);
    let body = json!({"name": "Quiet dialer", "type": "push", "settings": {"no_data_after_minutes": 10}});
    let (_, id, key) = create_push(&env, &body).await;
    // Its schedule (the silence watch) exists like every type's.
    let schedule = env.stack.schedule(&format!("imp-{id}")).await.expect("the push integration has its imp- schedule");
    assert!(schedule.target.unwrap().input.unwrap().contains(&id));

    let pushed_at = Utc::now();
    let queues = json!({"queues": [{"external_id": "q1", "name": "Sales", "channel": "calls"}]});
    assert_eq!(push(&ingest, Some(&key), "queues", &queues).await.0, 200);
    // Data (queues alone are not, see `queue_calls_and_empty_calls_do_not_hide_a_dead_data_feed`).
    let event =
        |id: &str| json!({"events": [{"event_id": id, "agent": "a1", "status": "Ready", "at": iso(Utc::now())}]});
    assert_eq!(push(&ingest, Some(&key), "agent-events", &event("e1")).await.0, 200);
    let watch = |minutes: i64| {
        let import = wiring::import_service(
            &env.stack.settings,
            &env.stack.clients,
            ConnectorFactory::new(HttpClient::new().unwrap(), Endpoints::default()),
            ImportConfig { now: Some(pushed_at + Duration::minutes(minutes)), ..ImportConfig::default() },
        );
        let event = ImportEvent { tenant_id: T.into(), integration_id: id.clone(), at_once: false };
        async move { import.run(&event, Deadline::after(std::time::Duration::from_secs(60))).await.unwrap() }
    };

    // Within the silence limit: nothing.
    let quiet = watch(5).await;
    assert_eq!((quiet.outcome, quiet.run.is_none()), (RunOutcome::Skipped, true), "{quiet:?}");
    assert!(event_support::received(&env.stack, &queue).await.is_empty());

    // Silent for longer: the stored status is failing / no_data, one event for the change, none for the repeat.
    let first = watch(12).await;
    assert_eq!(first.detail, "no_data: the integration is failing", "{first:?}");
    let (_, read) = env.admin("GET", &format!("/integrations/{id}"), T, None).await;
    assert_eq!(
        (read["status"]["state"].as_str(), read["status"]["reason"].as_str()),
        (Some("failing"), Some("no_data"))
    );
    assert_eq!(watch(27).await.detail, "no_data: still silent");
    let failing = event_support::received(&env.stack, &queue).await;
    assert_eq!(failing.len(), 1, "{failing:?}");
    let e = &failing[0];
    assert_eq!(e["detail-type"], "integration.failing");
    assert_eq!(
        (
            &e["detail"]["tenant_id"],
            &e["detail"]["integration_id"],
            &e["detail"]["integration_type"],
            &e["detail"]["reason"]
        ),
        (&json!(T), &json!(id), &json!("push"), &json!("no_data"))
    );
    // Each silent watch wrote FailingFor for the "failing for more than an hour" alarm: the time it has been failing,
    // from the watch that found it silent (0 then, 15 minutes at the next), not the silence since the push.
    let emf = silence_emf(&logs, &id);
    let failing_for: Vec<i64> = emf.iter().map(|d| d["FailingFor"].as_i64().unwrap()).collect();
    assert_eq!(failing_for, [0, 15 * 60], "{emf:?}");
    assert_eq!(emf[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"], json!([["IntegrationType"], []]));
    // `Outcome` "failed" as a property (not a dimension): the alarm's Logs Insights query, `filter Outcome =
    // "failed"`, finds the silent sender next to failed runs.
    assert!(emf.iter().all(|d| d["Outcome"] == "failed" && d["Reason"] == "no_data"), "{emf:?}");

    // The next push of data: operational again, and integration.recovered (from no_data) from the ingest function.
    assert_eq!(push(&ingest, Some(&key), "agent-events", &event("e2")).await.0, 200);
    let (_, read) = env.admin("GET", &format!("/integrations/{id}"), T, None).await;
    assert_eq!(read["status"]["state"], "operational", "{read}");
    let recovered = event_support::received(&env.stack, &queue).await;
    assert_eq!(recovered.len(), 1, "{recovered:?}");
    assert_eq!(
        (recovered[0]["detail-type"].as_str(), recovered[0]["detail"]["reason"].as_str()),
        (Some("integration.recovered"), Some("no_data"))
    );
    assert!(!recovered[0].to_string().contains(&key), "no key in events");
    // Another push: no further event.
    assert_eq!(push(&ingest, Some(&key), "agent-events", &event("e3")).await.0, 200);
    assert!(event_support::received(&env.stack, &queue).await.is_empty());
}

/// The `push silence metrics` EMF lines of integration `id` (the debug log outside Lambda), oldest first.
fn silence_emf(logs: &acd_test_harness::LogCapture, id: &str) -> Vec<Value> {
    logs.contents()
        .lines()
        .filter(|l| l.contains("push silence metrics") && l.contains(id))
        .map(|l| serde_json::from_str(&l[l.find("emf=").unwrap() + 4..]).unwrap())
        .collect()
}

/// A push integration resumed after a day's pause (no push is accepted while paused) is failing from the first watch
/// that finds it silent after the resume, not from its last push before the pause: `FailingFor` 0 then (it was about
/// 86,400 s, and the one-hour alarm fired at once). A record stored `no_data` before `failing_since` existed counts
/// from the moment its silence passed the limit.
#[tokio::test]
async fn a_push_integration_resumed_after_a_days_pause_has_been_failing_for_no_time_at_its_first_silent_watch() {
    use acd_app::import::{ImportConfig, ImportEvent};
    use acd_connectors::{ConnectorFactory, Deadline, Endpoints, HttpClient};

    let logs = acd_test_harness::LogCapture::install();
    let env = Env::start().await;
    let ingest = wiring::ingest_api(&env.stack.settings, &env.stack.clients);
    let body = json!({"name": "Paused dialer", "type": "push", "settings": {"no_data_after_minutes": 10}});
    let (_, id, key) = create_push(&env, &body).await;
    let pushed_at = Utc::now();
    let event = json!({"events": [{"event_id": "e1", "agent": "a1", "status": "Ready", "at": iso(pushed_at)}]});
    assert_eq!(push(&ingest, Some(&key), "agent-events", &event).await.0, 200);
    let watch = |id: &str, at: DateTime<Utc>| {
        let import = wiring::import_service(
            &env.stack.settings,
            &env.stack.clients,
            ConnectorFactory::new(HttpClient::new().unwrap(), Endpoints::default()),
            ImportConfig { now: Some(at), ..ImportConfig::default() },
        );
        let event = ImportEvent { tenant_id: T.into(), integration_id: id.to_owned(), at_once: false };
        async move { import.run(&event, Deadline::after(std::time::Duration::from_secs(60))).await.unwrap() }
    };

    // Paused for a day (the watch skips a paused integration), then resumed: the sender was refused meanwhile.
    let path = format!("/integrations/{id}");
    assert_eq!(env.admin("POST", &format!("{path}/pause"), T, None).await.0, 200);
    let day_later = pushed_at + Duration::days(1);
    assert_eq!(watch(&id, day_later).await.detail, "integration paused");
    let (status, resumed) = env.admin("POST", &format!("{path}/resume"), T, None).await;
    assert_eq!((status, resumed["status"]["state"].as_str()), (200, Some("importing")), "{resumed}");
    assert_eq!(watch(&id, day_later).await.detail, "no_data: the integration is failing");
    assert_eq!(watch(&id, day_later + Duration::minutes(15)).await.detail, "no_data: still silent");
    let failing_for: Vec<i64> = silence_emf(&logs, &id).iter().map(|d| d["FailingFor"].as_i64().unwrap()).collect();
    assert_eq!(failing_for, [0, 15 * 60], "from the first silent watch after the resume");

    // A record stored `no_data` before `failing_since` existed (the item without it): failing since the silence
    // passed the limit (the push + 10 minutes), at every watch alike.
    let (_, other, other_key) = create_push(
        &env,
        &json!({"name": "Old dialer", "type": "push",
        "settings": {"no_data_after_minutes": 10}}),
    )
    .await;
    assert_eq!(push(&ingest, Some(&other_key), "agent-events", &event).await.0, 200);
    assert_eq!(watch(&other, pushed_at + Duration::minutes(12)).await.detail, "no_data: the integration is failing");
    let dynamodb = env.stack.clients.dynamodb();
    let key = |id: &str| {
        use aws_sdk_dynamodb::types::AttributeValue::S;
        std::collections::HashMap::from([
            ("PK".to_owned(), S(acd_aws::keys::tenant_pk(&tenant(T)))),
            ("SK".to_owned(), S(acd_aws::keys::integration_sk(id.parse().unwrap()))),
        ])
    };
    let item = dynamodb.get_item().table_name(&env.stack.settings.table_name).set_key(Some(key(&other))).send();
    assert!(item.await.unwrap().item.unwrap().contains_key("failing_since"), "stored with the failing status");
    (dynamodb.update_item().table_name(&env.stack.settings.table_name).set_key(Some(key(&other))))
        .update_expression("REMOVE failing_since")
        .send()
        .await
        .unwrap();
    for minutes in [27, 42] {
        assert_eq!(watch(&other, pushed_at + Duration::minutes(minutes)).await.detail, "no_data: still silent");
    }
    let failing_for: Vec<i64> = silence_emf(&logs, &other).iter().map(|d| d["FailingFor"].as_i64().unwrap()).collect();
    // (The push landed a moment after `pushed_at`.)
    let near = |got: i64, minutes: i64| (minutes * 60 - 5..=minutes * 60).contains(&got);
    assert!(failing_for[0] == 0 && near(failing_for[1], 17) && near(failing_for[2], 32), "{failing_for:?}");
}

/// The silence watch is about data: a call with intervals, agent events or a `complete_through`. Queue calls and
/// empty calls are applied but moved `last_success_at` until 2026-12-07, so a sender whose interval and event
/// feeds died while its queue sync ran stayed `operational` and `no_data` never fired.
#[tokio::test]
async fn queue_calls_and_empty_calls_do_not_hide_a_dead_data_feed() {
    use acd_app::import::{ImportConfig, ImportEvent};
    use acd_connectors::{ConnectorFactory, Deadline, Endpoints, HttpClient};

    let env = Env::start().await;
    let queue = event_support::event_queue(&env.stack).await;
    let ingest = wiring::ingest_api(&env.stack.settings, &env.stack.clients);
    let body = json!({"name": "Half dead", "type": "push", "settings": {"no_data_after_minutes": 10}});
    let (_, id, key) = create_push(&env, &body).await;
    let last_success =
        |read: &Value| read["status"]["last_success_at"].as_str().map(|t| t.parse::<DateTime<Utc>>().unwrap());
    let status = || {
        let (env, id) = (&env, &id);
        async move { env.admin("GET", &format!("/integrations/{id}"), T, None).await.1 }
    };

    // Queues and empty calls: 200, but no data yet (still waiting for the first push of data).
    let t0 = Utc::now();
    let queues = json!({"queues": [{"external_id": "q1", "name": "Sales", "channel": "calls"}]});
    assert_eq!(push_at(&ingest, &key, "queues", &queues, t0).await.0, 200);
    assert_eq!(push_at(&ingest, &key, "intervals", &json!({"intervals": []}), t0).await.0, 200);
    assert_eq!(push_at(&ingest, &key, "agent-events", &json!({"events": []}), t0).await.0, 200);
    let read = status().await;
    assert_eq!((read["status"]["state"].as_str(), last_success(&read)), (Some("importing"), None), "{read}");

    // An interval is data.
    let start = t0.duration_trunc(Duration::minutes(15)).unwrap() - Duration::minutes(15);
    let interval = json!({"intervals": [{"queue_external_id": "q1", "channel": "calls", "start": iso(start),
        "offered": 1, "handled": 1, "abandoned": 0, "handle_time_seconds": 60, "answer_time_seconds": 5}]});
    assert_eq!(push_at(&ingest, &key, "intervals", &interval, t0).await.0, 200);
    let read = status().await;
    assert_eq!((read["status"]["state"].as_str(), last_success(&read)), (Some("operational"), Some(t0)), "{read}");

    // Then only the queue sync and empty heartbeats keep calling, every few minutes: not data.
    for minutes in [3, 6, 9, 11] {
        let at = t0 + Duration::minutes(minutes);
        assert_eq!(push_at(&ingest, &key, "queues", &queues, at).await.0, 200);
        assert_eq!(push_at(&ingest, &key, "agent-events", &json!({"events": []}), at).await.0, 200);
    }
    assert_eq!(last_success(&status().await), Some(t0), "queue and empty calls do not move last_success_at");
    let import = wiring::import_service(
        &env.stack.settings,
        &env.stack.clients,
        ConnectorFactory::new(HttpClient::new().unwrap(), Endpoints::default()),
        ImportConfig { now: Some(t0 + Duration::minutes(12)), ..ImportConfig::default() },
    );
    let event = ImportEvent { tenant_id: T.into(), integration_id: id.clone(), at_once: false };
    let watched = import.run(&event, Deadline::after(std::time::Duration::from_secs(60))).await.unwrap();
    assert_eq!(watched.detail, "no_data: the integration is failing", "{watched:?}");
    let failing = event_support::received(&env.stack, &queue).await;
    assert_eq!(failing.len(), 1, "{failing:?}");
    assert_eq!(failing[0]["detail-type"], "integration.failing");
    // A queue call does not recover it either; a completeness declaration alone does (a closed contact center's
    // quarter hours without contacts).
    let later = t0 + Duration::minutes(13);
    assert_eq!(push_at(&ingest, &key, "queues", &queues, later).await.0, 200);
    let read = status().await;
    assert_eq!(read["status"]["reason"], "no_data", "{read}");
    assert!(event_support::received(&env.stack, &queue).await.is_empty());
    let declared = json!({"intervals": [], "complete_through": iso(start)});
    assert_eq!(push_at(&ingest, &key, "intervals", &declared, later).await.0, 200);
    let read = status().await;
    assert_eq!(last_success(&read), Some(later), "{read}");
    let recovered = event_support::received(&env.stack, &queue).await;
    assert_eq!(recovered.len(), 1, "{recovered:?}");
    assert_eq!(recovered[0]["detail-type"], "integration.recovered");
}

/// A reused `event_id` (ids that restart at the sender's midnight, in any zone) was dropped as a duplicate when
/// it fell on the same UTC day until 2026-12-07: the call answered 200 with `duplicates: 1` and the state change was
/// lost. The same id at another instant is another event; at the same instant with another status it is refused
/// with its index and the id; a resend of the same event stays a duplicate (200, idempotent).
#[tokio::test]
async fn a_reused_event_id_is_another_event_at_another_instant_and_a_resend_is_a_duplicate() {
    let env = Env::start().await;
    let ingest = wiring::ingest_api(&env.stack.settings, &env.stack.clients);
    let (_, id, key) = create_push(&env, &json!({"name": "Restarting ids", "type": "push"})).await;
    // Every event of the test on one UTC day (the old key was agent, UTC day and id).
    let mut t0 = (Utc::now() - Duration::hours(2)).duration_trunc(Duration::minutes(1)).unwrap();
    if (t0 + Duration::hours(1)).date_naive() != t0.date_naive() {
        t0 -= Duration::hours(2);
    }
    let ev = |event_id: &str, minutes: i64, status: &str| {
        let at = iso(t0 + Duration::minutes(minutes));
        json!({"event_id": event_id, "agent": "agent-3", "status": status, "at": at})
    };
    let first = json!({"events": [ev("1", 0, "Ready"), ev("2", 10, "Not Ready")]});
    let (status, done) = push(&ingest, Some(&key), "agent-events", &first).await;
    assert_eq!((status, done["accepted"].as_u64(), done["duplicates"].as_u64()), (200, Some(2), Some(0)), "{done}");
    let mapping = json!({"employee_id": "emp-3"});
    let path = format!("/integrations/{id}/external-agents/agent-3");
    assert_eq!(env.call("PUT", &path, Some(T), Some(&mapping)).await.0, 200);
    let states_path = format!(
        "/agent-states?from={}&to={}",
        iso(t0 - Duration::hours(1)).replace(".000", ""),
        iso(t0 + Duration::hours(1)).replace(".000", "")
    );
    let states = env.get(&states_path, T).await;
    assert_eq!(states["items"].as_array().unwrap().len(), 2, "{states}");
    let before = item_count(&env).await;

    // A resend (a retry, with the agent's name this time): duplicates, nothing new, the same states.
    let mut resend = first.clone();
    resend["events"][0]["agent_name"] = json!("Ann");
    let (status, done) = push(&ingest, Some(&key), "agent-events", &resend).await;
    assert_eq!((status, done["accepted"].as_u64(), done["duplicates"].as_u64()), (200, Some(2), Some(2)), "{done}");
    assert_eq!(env.get(&states_path, T).await["items"], states["items"]);

    // Id "2" again at its instant with another status: 422 with its index and the id, nothing applied.
    let conflicting = json!({"events": [ev("3", 20, "Ready"), ev("2", 10, "Busy")]});
    let (status, problem) = push(&ingest, Some(&key), "agent-events", &conflicting).await;
    assert_eq!((status, problem["code"].as_str()), (422, Some("invalid-records")), "{problem}");
    let errors = indexes(&problem);
    assert_eq!(errors.iter().map(|e| e.0).collect::<Vec<_>>(), [1], "{errors:?}");
    assert!(errors[0].1.contains("event_id `2` of agent `agent-3`") && errors[0].1.contains("stored for another"));
    assert_eq!(item_count(&env).await, before, "a refused call writes nothing (event \"3\" neither)");
    assert_eq!(env.get(&states_path, T).await["items"], states["items"], "no state changed");

    // Id "1" again, restarted, for a later state change on the same UTC day: another event, applied.
    let restarted = json!({"events": [ev("1", 30, "Busy")]});
    let (status, done) = push(&ingest, Some(&key), "agent-events", &restarted).await;
    assert_eq!((status, done["accepted"].as_u64(), done["duplicates"].as_u64()), (200, Some(1), Some(0)), "{done}");
    let now_states = env.get(&states_path, T).await;
    let items = now_states["items"].as_array().unwrap();
    assert_eq!(items.len(), 3, "{now_states}");
    assert!(
        items
            .iter()
            .any(|s| s["external_status_id"] == "Busy" || s["status_id"] == "Busy" || s.to_string().contains("Busy")),
        "{now_states}"
    );
}

/// Each `status` and `reason` pair is an external status of its own, listed, mapped and read with every
/// `GET /agent-states` page: a sender writing free text into `reason` made them grow without end until 2026-12-08.
/// A call that would take the integration past `MAX_STATUSES` is refused (422, nothing applied), naming each record
/// of a new status that does not fit; the new ones that fit may be sent again alone, and known ones always.
#[tokio::test]
async fn statuses_beyond_the_integrations_limit_are_refused_and_nothing_of_the_call_is_applied() {
    use acd_app::ingest::records::MAX_STATUSES;
    let env = Env::start().await;
    let ingest = wiring::ingest_api(&env.stack.settings, &env.stack.clients);
    let (_, id, key) = create_push(&env, &json!({"name": "Free-text reasons", "type": "push"})).await;
    let integration: acd_domain::IntegrationId = id.parse().unwrap();
    // The integration already has all its statuses but one (stored as the import stores them).
    let pk = acd_aws::keys::integration_pk(&acd_domain::TenantId::parse(T).unwrap(), integration);
    let now = Utc::now();
    let stored: Vec<Item> = (1..MAX_STATUSES)
        .map(|n| {
            let status_id = format!("Not Ready: ticket {n}");
            let item = acd_aws::items::StatusItem {
                pk: pk.clone(),
                sk: acd_aws::items::status_sk(&status_id),
                entity: "status".into(),
                integration_id: integration,
                name: status_id.clone(),
                status_id,
                activity_id: "present".into(),
                mapped: false,
                first_seen: now,
                last_seen: now,
            };
            serde_dynamo::aws_sdk_dynamodb_1::to_item(item).unwrap()
        })
        .collect();
    env.put_items(stored).await;
    let t0 = (now - Duration::hours(1)).duration_trunc(Duration::minutes(1)).unwrap();
    let ev = |n: i64, status: &str, reason: &str| {
        let at = iso(t0 + Duration::minutes(n));
        json!({"event_id": n.to_string(), "agent": "agent-1", "status": status, "reason": reason, "at": at})
    };
    let before = item_count(&env).await;
    let call = json!({"events": [ev(1, "Not Ready", "ticket 7"), ev(2, "Not Ready", "ticket 9001"),
        ev(3, "Not Ready", "ticket 9002"), ev(4, "Not Ready", "ticket 9001"), ev(5, "Not Ready", "ticket 9003")]});
    let (status, problem) = push(&ingest, Some(&key), "agent-events", &call).await;
    assert_eq!((status, problem["code"].as_str()), (422, Some("invalid-records")), "{problem}");
    let errors = indexes(&problem);
    assert_eq!(errors.iter().map(|e| e.0).collect::<Vec<_>>(), [2, 4], "9001 fits, 9002 and 9003 do not: {errors:?}");
    assert!(
        errors[0].1.contains("`Not Ready: ticket 9002`") && errors[0].1.contains(&format!("at most {MAX_STATUSES}")),
        "{errors:?}"
    );
    assert_eq!(item_count(&env).await, before, "nothing of the call applied (no event, status or segment)");

    // Without the records that do not fit: applied, the integration at its limit.
    let fitting = json!({"events": [ev(1, "Not Ready", "ticket 7"), ev(2, "Not Ready", "ticket 9001"),
        ev(4, "Not Ready", "ticket 9001")]});
    let (status, done) = push(&ingest, Some(&key), "agent-events", &fitting).await;
    assert_eq!((status, done["accepted"].as_u64()), (200, Some(3)), "{done}");
    // Known statuses still go in; any new one is refused.
    let known = json!({"events": [ev(6, "Not Ready", "ticket 3")]});
    assert_eq!(push(&ingest, Some(&key), "agent-events", &known).await.0, 200);
    let ready = json!({"events": [{"event_id": "7", "agent": "agent-1", "status": "Ready", "at": iso(t0 + Duration::minutes(7))}]});
    let (status, problem) = push(&ingest, Some(&key), "agent-events", &ready).await;
    assert_eq!((status, indexes(&problem).len()), (422, 1), "{problem}");
    let listed = env.get(&format!("/integrations/{id}/external-statuses?limit=1"), T).await;
    assert!(listed["items"].as_array().is_some_and(|i| i.len() == 1), "{listed}");
}

/// A queue push that overlaps a DELETE (the key checked, then the integration deleted, then the queue write)
/// made the deleted integration's queues active again until 2026-12-07: the writes were unconditional. They are
/// now checked against the integration record like the import's, and the call is answered as the next call
/// with the key will be (401).
#[tokio::test]
async fn a_queue_push_overlapping_a_delete_leaves_no_queue_of_the_deleted_integration_active() {
    use acd_app::ingest::IngestError;
    use acd_app::ports::IntegrationRepo;

    let env = Env::start().await;
    let ingest = wiring::ingest_api(&env.stack.settings, &env.stack.clients);
    let (_, id, key) = create_push(&env, &json!({"name": "Deleted meanwhile", "type": "push"})).await;
    let queue = |external_id: &str| json!({"external_id": external_id, "name": external_id, "channel": "calls"});
    assert_eq!(push(&ingest, Some(&key), "queues", &json!({"queues": [queue("q1")]})).await.0, 200);
    let queues_of = || {
        let (env, id) = (&env, &id);
        async move {
            let pk = acd_aws::keys::integration_pk(&tenant(T), id.parse().unwrap());
            let out = env
                .stack
                .clients
                .dynamodb()
                .query()
                .table_name(&env.stack.settings.table_name)
                .key_condition_expression("PK = :pk AND begins_with(SK, :q)")
                .expression_attribute_values(":pk", aws_sdk_dynamodb::types::AttributeValue::S(pk))
                .expression_attribute_values(
                    ":q",
                    aws_sdk_dynamodb::types::AttributeValue::S(acd_aws::keys::QUEUE_SK_PREFIX.into()),
                )
                .send()
                .await
                .unwrap();
            let items = out.items.unwrap_or_default();
            let active = |i: &Item| i.get("active").and_then(|v| v.as_bool().ok()).copied().unwrap_or(false);
            let mut listed: Vec<(String, bool)> =
                items.iter().map(|i| (i["external_id"].as_s().unwrap().clone(), active(i))).collect();
            listed.sort();
            listed
        }
    };
    assert_eq!(queues_of().await, [("q1".to_owned(), true)]);
    let now = Utc::now();
    let secret = || Some(secrecy::SecretString::from(key.clone()));
    let body = json!({"queues": [queue("q1"), queue("q2")]});
    let refused = |result: Result<acd_app::ingest::IngestOutcome, IngestError>| {
        let error = result.expect_err("a queue write of a deleted integration");
        assert!(matches!(error, IngestError::Unauthorized), "{error:?}");
        let (status, content_type, value) = decode(acd_app::ingest::http::ingest_problem(&error, None));
        spec().check("POST", "/ingest/queues", status, &content_type, &value);
        assert_eq!((status, value["code"].as_str()), (401, Some("invalid-ingest-key")), "{value}");
    };

    // The delete has started (its tombstone; it deactivated the queues) when the write comes.
    let integration = ingest.service.authenticate(secret(), now).await.unwrap();
    let repo = wiring::dynamo_store(&env.stack.settings, &env.stack.clients);
    repo.mark_deleting(&integration).await.unwrap();
    repo.deactivate_queues(&integration.tenant_id, integration.id).await.unwrap();
    refused(ingest.service.queues(&integration, &body, now).await);
    assert_eq!(queues_of().await, [("q1".to_owned(), false)], "no queue active again, none new");

    // The delete has finished (the record is gone) when the write comes.
    let (status, _) = env.admin("DELETE", &format!("/integrations/{id}"), T, None).await;
    assert_eq!(status, 204);
    refused(ingest.service.queues(&integration, &body, now).await);
    assert_eq!(queues_of().await, [("q1".to_owned(), false)], "no queue active again, none new");
    assert_eq!(push(&ingest, Some(&key), "queues", &body).await.0, 401);
}

/// Two overlapping rotations (a double click, a client's retry after a timeout), R1 issuing K1 and R2 issuing K2,
/// in every order of their steps (a rotation writes its key, then ends the older keys). Until 2026-12-07 a rotation
/// ended every other key without an end: once both keys were written, R1 ended K2 and R2 ended K1 — both answered
/// 201, every key stopped working after the grace period and every push was a 401. A rotation now ends only the keys
/// issued before its own (`created_at`, then `key_id`): the newest key never ends, the others work for the grace
/// period. The store's steps are called in each order (the pushes at injected times).
#[tokio::test]
async fn overlapping_rotations_in_any_order_leave_the_newest_key_working() {
    use acd_app::ingest::{IngestStore, key};
    use secrecy::ExposeSecret as _;

    #[derive(Clone, Copy)]
    enum Step {
        /// Rotation `r` writes its key.
        Write(usize),
        /// Rotation `r` ends the older keys (its listing and its expiry writes).
        Expire(usize),
    }
    use Step::{Expire, Write};
    let orders = [
        ("both keys written, then R1 ends keys, then R2", 1, [Write(0), Write(1), Expire(0), Expire(1)]),
        ("both keys written, then R2 ends keys, then R1", 1, [Write(0), Write(1), Expire(1), Expire(0)]),
        ("R2 writes its key after R1 ended keys", 1, [Write(0), Expire(0), Write(1), Expire(1)]),
        ("the later key written first", 1, [Write(1), Write(0), Expire(1), Expire(0)]),
        ("both keys issued in the same instant", 0, [Write(0), Write(1), Expire(0), Expire(1)]),
    ];

    let env = Env::start().await;
    let ingest = wiring::ingest_api(&env.stack.settings, &env.stack.clients);
    let store = wiring::ingest_store(&env.stack.settings, &env.stack.clients);
    let grace = IngestConfig::default().grace;
    let empty = json!({"queues": []});
    for (n, (label, apart_ms, steps)) in orders.into_iter().enumerate() {
        let (_, id, first) = create_push(&env, &json!({"name": format!("Rotated twice {n}"), "type": "push"})).await;
        let integration: acd_domain::IntegrationId = id.parse().unwrap();
        // R1 issues its key at `t1`, R2 `apart_ms` later (after the first key's creation).
        let t1 = Utc::now() + Duration::seconds(1);
        let times = [t1, t1 + Duration::milliseconds(apart_ms)];
        let issued = [key::issue(&tenant(T), integration), key::issue(&tenant(T), integration)];
        for step in steps {
            match step {
                Write(r) => store.put_key(&issued[r].locator, &issued[r].secret_hash, times[r]).await.unwrap(),
                Expire(r) => {
                    let keep = &issued[r].locator.key_id;
                    store.expire_keys(&tenant(T), integration, keep, times[r], times[r] + grace).await.unwrap()
                }
            }
        }

        let keys = store.list_keys(&tenant(T), integration).await.unwrap();
        assert_eq!(keys.len(), 3, "{label}: {keys:?}");
        // The newest of R1's and R2's keys: the later, or in the same instant the greater id.
        let newest = if apart_ms > 0 { &issued[1] } else { issued.iter().max_by_key(|k| &k.locator.key_id).unwrap() };
        let open: Vec<&str> = keys.iter().filter(|k| k.expires_at.is_none()).map(|k| k.key_id.as_str()).collect();
        assert_eq!(open, [newest.locator.key_id.as_str()], "{label}: only the newest key has no end: {keys:?}");
        for k in keys.iter().filter(|k| k.key_id != newest.locator.key_id) {
            let end = k.expires_at.unwrap();
            assert!(
                end >= times[0] + grace && end <= times[1] + grace,
                "{label}: a grace period from a rotation: {k:?}"
            );
        }

        // Within the grace period every key works; after it the newest still does, the others are refused.
        let secrets =
            [first.clone(), issued[0].key.expose_secret().to_owned(), issued[1].key.expose_secret().to_owned()];
        let newest = newest.key.expose_secret();
        let within = times[1] + grace - Duration::minutes(1);
        let after = times[1] + grace + Duration::hours(1);
        for secret in &secrets {
            assert_eq!(push_at(&ingest, secret, "queues", &empty, within).await.0, 200, "{label}: grace period");
            let expected = if secret == newest { 200 } else { 401 };
            assert_eq!(push_at(&ingest, secret, "queues", &empty, after).await.0, expected, "{label}: after the grace");
        }
    }
}

/// Every problem the ingest routes answer is described by the response the spec gives its status, naming its
/// `code`. Until 2026-12-07 the 409 pointed at the integrations API's `Conflict` (which does not list
/// `integration-paused`, the only 409 of ingest) and the 503 at `Unavailable`, which says nothing was left
/// half-made — but an ingest 503 can follow a partial write (some batches written, intervals written before their
/// declaration), and resending is what completes it.
#[test]
fn the_spec_describes_every_problem_of_the_ingest_routes() {
    use acd_app::ingest::IngestError;
    use acd_app::ingest::records::{BatchError, RecordError};

    let errors = [
        IngestError::Unauthorized,
        IngestError::Paused,
        IngestError::RateLimited { retry_after_seconds: 3, tenant_wide: false },
        IngestError::RateLimited { retry_after_seconds: 3, tenant_wide: true },
        IngestError::TooLarge,
        IngestError::InvalidJson("eof".into()),
        IngestError::Batch(BatchError::Shape("x".into())),
        IngestError::Batch(BatchError::Value("x".into())),
        IngestError::Batch(BatchError::TooMany(1001)),
        IngestError::Batch(BatchError::Records(vec![RecordError { index: 0, reason: "x".into() }])),
        IngestError::Backend("throttled".into()),
    ];
    let root = spec().root();
    let resolve = |mut value: &Value| {
        while let Some(reference) = value.get("$ref").and_then(Value::as_str) {
            value = root.pointer(reference.trim_start_matches('#')).unwrap();
        }
        value.clone()
    };
    for route in ["queues", "intervals", "agent-events"] {
        let path = format!("/ingest/{route}");
        for error in &errors {
            let (status, content_type, body) = decode(acd_app::ingest::http::ingest_problem(error, Some("r1")));
            spec().check("POST", &path, status, &content_type, &body);
            let response = resolve(&root["paths"][&path]["post"]["responses"][status.to_string()]);
            let description = response["description"].as_str().unwrap();
            let code = body["code"].as_str().unwrap();
            assert!(
                description.contains(&format!("`{code}`")),
                "{path} {status} does not name `{code}`: {description}"
            );
            if status == 503 {
                assert!(!description.contains("half-made"), "{path} 503: {description}");
                assert!(description.contains("may have been applied") && description.contains("Resending"));
            }
        }
    }
}

/// The ingest store, counting the rebuild calls (`day_events`, `write_day_segments`) in flight: at most at once, and
/// whether two of one agent were ever in flight together. Each such call yields once before it goes on, so every
/// rebuild started by the same poll is in flight at once whatever the store's latency (no timing involved).
/// `fail_agent`'s segment writes fail (a throttled write).
struct GaugedStore {
    inner: std::sync::Arc<dyn acd_app::ingest::IngestStore>,
    fail_agent: Option<String>,
    gauge: std::sync::Mutex<Gauge>,
}

#[derive(Default)]
struct Gauge {
    in_flight: usize,
    max_in_flight: usize,
    per_agent: std::collections::HashMap<String, usize>,
    one_agent_twice: bool,
}

impl GaugedStore {
    /// `api` over a gauged store, and the store (to read its gauge).
    fn over(api: &IngestApi, fail_agent: Option<&str>) -> (IngestApi, std::sync::Arc<GaugedStore>) {
        let gauged = std::sync::Arc::new(GaugedStore {
            inner: api.service.store.clone(),
            fail_agent: fail_agent.map(str::to_owned),
            gauge: Default::default(),
        });
        let mut api = api.clone();
        api.service.store = gauged.clone();
        (api, gauged)
    }

    /// The most rebuild calls in flight at once, and whether two of one agent ever were.
    fn gauge(&self) -> (usize, bool) {
        let gauge = self.gauge.lock().unwrap();
        (gauge.max_in_flight, gauge.one_agent_twice)
    }

    async fn tracked<T>(&self, agent: &str, call: impl std::future::Future<Output = T>) -> T {
        {
            let mut g = self.gauge.lock().unwrap();
            g.in_flight += 1;
            g.max_in_flight = g.max_in_flight.max(g.in_flight);
            let mine = g.per_agent.entry(agent.to_owned()).or_default();
            *mine += 1;
            if *mine > 1 {
                g.one_agent_twice = true;
            }
        }
        tokio::task::yield_now().await;
        let out = call.await;
        let mut g = self.gauge.lock().unwrap();
        g.in_flight -= 1;
        *g.per_agent.get_mut(agent).unwrap() -= 1;
        out
    }
}

#[async_trait::async_trait]
impl acd_app::ingest::IngestStore for GaugedStore {
    async fn status_ids(
        &self,
        integration: &acd_domain::Integration,
    ) -> Result<std::collections::BTreeSet<String>, acd_app::ports::StoreError> {
        self.inner.status_ids(integration).await
    }
    async fn put_key(
        &self,
        locator: &acd_app::ingest::key::KeyLocator,
        secret_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<(), acd_app::ports::StoreError> {
        self.inner.put_key(locator, secret_hash, now).await
    }
    async fn get_key(
        &self,
        locator: &acd_app::ingest::key::KeyLocator,
    ) -> Result<Option<acd_app::ingest::StoredKey>, acd_app::ports::StoreError> {
        self.inner.get_key(locator).await
    }
    async fn list_keys(
        &self,
        tenant: &acd_domain::TenantId,
        integration: acd_domain::IntegrationId,
    ) -> Result<Vec<acd_app::ingest::StoredKey>, acd_app::ports::StoreError> {
        self.inner.list_keys(tenant, integration).await
    }
    async fn expire_keys(
        &self,
        tenant: &acd_domain::TenantId,
        integration: acd_domain::IntegrationId,
        keep: &str,
        kept_created_at: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<(), acd_app::ports::StoreError> {
        self.inner.expire_keys(tenant, integration, keep, kept_created_at, at).await
    }
    async fn delete_key(&self, locator: &acd_app::ingest::key::KeyLocator) -> Result<bool, acd_app::ports::StoreError> {
        self.inner.delete_key(locator).await
    }
    async fn take_call(
        &self,
        locator: &acd_app::ingest::key::KeyLocator,
        window: DateTime<Utc>,
        limit: u32,
    ) -> Result<bool, acd_app::ports::StoreError> {
        self.inner.take_call(locator, window, limit).await
    }
    async fn take_tenant_call(
        &self,
        tenant: &acd_domain::TenantId,
        window: DateTime<Utc>,
        limit: u32,
    ) -> Result<bool, acd_app::ports::StoreError> {
        self.inner.take_tenant_call(tenant, window, limit).await
    }
    async fn give_back_call(
        &self,
        locator: &acd_app::ingest::key::KeyLocator,
        window: DateTime<Utc>,
    ) -> Result<(), acd_app::ports::StoreError> {
        self.inner.give_back_call(locator, window).await
    }
    async fn give_back_tenant_call(
        &self,
        tenant: &acd_domain::TenantId,
        window: DateTime<Utc>,
    ) -> Result<(), acd_app::ports::StoreError> {
        self.inner.give_back_tenant_call(tenant, window).await
    }
    async fn upsert_queues(
        &self,
        integration: &acd_domain::Integration,
        queues: &[acd_app::ingest::records::QueueRecord],
        now: DateTime<Utc>,
    ) -> Result<acd_app::ports::WriteCounts, acd_app::ports::StoreError> {
        self.inner.upsert_queues(integration, queues, now).await
    }
    async fn queue_channels(
        &self,
        integration: &acd_domain::Integration,
    ) -> Result<std::collections::HashMap<String, acd_domain::Channel>, acd_app::ports::StoreError> {
        self.inner.queue_channels(integration).await
    }
    async fn put_intervals(
        &self,
        integration: &acd_domain::Integration,
        stats: &[acd_domain::IntervalStats],
        declared: Option<DateTime<Utc>>,
    ) -> Result<acd_app::ports::WriteCounts, acd_app::ports::StoreError> {
        self.inner.put_intervals(integration, stats, declared).await
    }
    async fn declare_complete(
        &self,
        integration: &acd_domain::Integration,
        first: DateTime<Utc>,
        through: DateTime<Utc>,
    ) -> Result<(), acd_app::ports::StoreError> {
        self.inner.declare_complete(integration, first, through).await
    }
    async fn insert_events(
        &self,
        integration: &acd_domain::Integration,
        events: &[acd_app::ingest::records::AgentEvent],
    ) -> Result<acd_app::ingest::InsertedEvents, acd_app::ports::StoreError> {
        self.inner.insert_events(integration, events).await
    }
    async fn day_events(
        &self,
        integration: &acd_domain::Integration,
        agent: &str,
        day: DateTime<Utc>,
    ) -> Result<Vec<acd_app::ingest::records::AgentEvent>, acd_app::ports::StoreError> {
        self.tracked(agent, self.inner.day_events(integration, agent, day)).await
    }
    async fn write_day_segments(
        &self,
        integration: &acd_domain::Integration,
        agent: &str,
        day: DateTime<Utc>,
        segments: &[acd_domain::AgentSegment],
    ) -> Result<acd_app::ports::WriteCounts, acd_app::ports::StoreError> {
        if self.fail_agent.as_deref() == Some(agent) {
            return self.tracked(agent, async { Err(acd_app::ports::StoreError::Backend("throttled".into())) }).await;
        }
        self.tracked(agent, self.inner.write_day_segments(integration, agent, day, segments)).await
    }
    async fn discover(
        &self,
        integration: &acd_domain::Integration,
        agents: &[acd_domain::ExternalAgent],
        statuses: &[acd_domain::ExternalStatus],
        now: DateTime<Utc>,
    ) -> Result<acd_app::ports::WriteCounts, acd_app::ports::StoreError> {
        self.inner.discover(integration, agents, statuses, now).await
    }
    async fn set_status(
        &self,
        integration: &acd_domain::Integration,
        status: &acd_domain::IntegrationStatus,
    ) -> Result<bool, acd_app::ports::StoreError> {
        self.inner.set_status(integration, status).await
    }
}

/// More agents than are rebuilt at once, each with a day that ends at the next day's first event (the rebuild of
/// day D reads D+1): (the call, the agents, the day D).
fn many_agents_call(now: DateTime<Utc>) -> (Value, Vec<String>, DateTime<Utc>) {
    let day = now.duration_trunc(Duration::days(1)).unwrap() - Duration::days(2);
    let agents: Vec<String> = (0..acd_app::ingest::REBUILD_CONCURRENCY + 8).map(|i| format!("agent-{i:02}")).collect();
    let mut events = Vec::new();
    for (i, agent) in agents.iter().enumerate() {
        let ready = day + Duration::hours(9) + Duration::minutes(i as i64);
        let ev = |id: &str, at: DateTime<Utc>, status: &str| {
            let at = iso(at);
            json!({"event_id": id, "agent": agent, "status": status, "at": at})
        };
        let mut lunch = ev("2", ready + Duration::minutes(30), "Not Ready");
        lunch["reason"] = json!("Lunch");
        // The next day's event first: arrival order does not matter.
        events.extend([ev("3", day + Duration::days(1) + Duration::hours(8), "Ready"), ev("1", ready, "Ready"), lunch]);
    }
    (json!({"events": events}), agents, day)
}

/// What `many_agents_call` must leave stored, agent by agent (as one agent-day after another built it).
fn many_agents_segments(agents: &[String], day: DateTime<Utc>) -> Vec<acd_domain::AgentSegment> {
    let mut out = Vec::new();
    for (i, agent) in agents.iter().enumerate() {
        let ready = day + Duration::hours(9) + Duration::minutes(i as i64);
        let next = day + Duration::days(1) + Duration::hours(8);
        let segment = |status: &str, reason: Option<&str>, start, end| acd_domain::AgentSegment {
            agent_external_id: agent.as_str().into(),
            status_id: status.into(),
            reason: reason.map(Into::into),
            start,
            end,
        };
        out.extend([
            segment("Ready", None, ready, Some(ready + Duration::minutes(30))),
            segment("Not Ready: Lunch", Some("Lunch"), ready + Duration::minutes(30), Some(next)),
            segment("Ready", None, next, None),
        ]);
    }
    out
}

/// Every stored segment of the integration's `agents`, by agent and start.
async fn stored_segments(env: &Env, integration: &str, agents: &[String]) -> Vec<acd_domain::AgentSegment> {
    let mut out = Vec::new();
    for agent in agents {
        let pk = acd_aws::items::segment_pk(&tenant(T), integration.parse().unwrap(), agent);
        let items =
            acd_integration_tests::partition_items(env.stack.clients.dynamodb(), &env.stack.settings.table_name, pk)
                .await;
        let entries: Vec<acd_aws::buckets::SegmentEntry> = acd_aws::buckets::read_entries(items).unwrap();
        out.extend(entries.into_iter().map(|s| acd_domain::AgentSegment {
            agent_external_id: agent.as_str().into(),
            status_id: s.status_id.into(),
            reason: s.reason.map(Into::into),
            start: s.start,
            end: s.end,
        }));
    }
    acd_integration_tests::sorted_segments(out)
}

/// A call with events of many agents rebuilds their agent-days concurrently (one agent after another, 1,000 agents
/// outlasted the 20 s timeout, and so did every retry), at most `REBUILD_CONCURRENCY` at once, one agent's days one
/// after another (a day's rebuild reads the next day), and stores what the rebuilds one at a time stored.
#[tokio::test]
async fn the_agent_days_of_many_agents_are_rebuilt_concurrently_and_each_agents_days_in_turn() {
    let env = Env::start().await;
    let plain = wiring::ingest_api(&env.stack.settings, &env.stack.clients);
    let (ingest, store) = GaugedStore::over(&plain, None);
    let (_, id, key) = create_push(&env, &json!({"name": "Many agents", "type": "push"})).await;
    let (body, agents, day) = many_agents_call(Utc::now());
    let (status, done) = push(&ingest, Some(&key), "agent-events", &body).await;
    assert_eq!((status, done["duplicates"].as_u64()), (200, Some(0)), "{done}");
    let (max_in_flight, one_agent_twice) = store.gauge();
    assert!(max_in_flight > 1, "the agents are rebuilt one after another: {max_in_flight} call(s) at most in flight");
    assert!(max_in_flight <= acd_app::ingest::REBUILD_CONCURRENCY, "{max_in_flight} calls in flight");
    assert!(!one_agent_twice, "two rebuild calls of one agent were in flight together");
    let expected = many_agents_segments(&agents, day);
    assert_eq!(stored_segments(&env, &id, &agents).await, expected);
}

/// A rebuild that fails for one agent fails the call (503) while the other agents' rebuilds run; its retry finds
/// every event stored and builds every agent's segments (all or nothing for the sender: resend until 200).
#[tokio::test]
async fn a_failed_rebuild_of_one_agent_fails_the_call_and_its_retry_builds_every_agent() {
    let env = Env::start().await;
    let plain = wiring::ingest_api(&env.stack.settings, &env.stack.clients);
    let (_, id, key) = create_push(&env, &json!({"name": "One agent throttled", "type": "push"})).await;
    let (body, agents, day) = many_agents_call(Utc::now());
    let (failing, store) = GaugedStore::over(&plain, Some(&agents[agents.len() / 2]));
    let (status, problem) = push(&failing, Some(&key), "agent-events", &body).await;
    assert_eq!(status, 503, "{problem}");
    assert!(store.gauge().0 > 1, "the other agents' rebuilds ran meanwhile");
    let (status, done) = push(&plain, Some(&key), "agent-events", &body).await;
    let all = body["events"].as_array().unwrap().len() as u64;
    assert_eq!((status, done["duplicates"].as_u64()), (200, Some(all)), "{done}");
    assert_eq!(stored_segments(&env, &id, &agents).await, many_agents_segments(&agents, day));
}

/// Key ids are issued in lower case; a revocation naming one in upper case revokes it (it was a 404 and the key
/// kept working). An id that is not 16 hex digits is still a 404.
#[tokio::test]
async fn a_key_revoked_by_its_id_in_upper_case_is_revoked() {
    let env = Env::start().await;
    let ingest = wiring::ingest_api(&env.stack.settings, &env.stack.clients);
    let (_, id, _) = create_push(&env, &json!({"name": "Revoked loudly", "type": "push"})).await;
    let empty = json!({"queues": []});
    // A key whose id has a letter (15 in 16 ids do at the first rotation).
    let (key_id, key) = loop {
        let (status, rotated) = env.admin("POST", &format!("/integrations/{id}/ingest-keys"), T, None).await;
        assert_eq!(status, 201, "{rotated}");
        let key_id = rotated["key_id"].as_str().unwrap().to_owned();
        if key_id.bytes().any(|b| b.is_ascii_alphabetic()) {
            break (key_id, rotated["ingest_key"].as_str().unwrap().to_owned());
        }
    };
    assert_eq!(key_id, key_id.to_ascii_lowercase());
    assert_eq!(push(&ingest, Some(&key), "queues", &empty).await.0, 200);
    let upper = key_id.to_ascii_uppercase();
    let (status, _) = env.admin("DELETE", &format!("/integrations/{id}/ingest-keys/{upper}"), T, None).await;
    assert_eq!(status, 204);
    assert_eq!(push(&ingest, Some(&key), "queues", &empty).await.0, 401, "revoked at once");
    let (_, keys) = env.admin("GET", &format!("/integrations/{id}/ingest-keys"), T, None).await;
    assert!(!keys["items"].as_array().unwrap().iter().any(|k| k["key_id"] == key_id.as_str()), "{keys}");
    let not_hex = "G".repeat(16);
    let (status, _) = env.admin("DELETE", &format!("/integrations/{id}/ingest-keys/{not_hex}"), T, None).await;
    assert_eq!(status, 404);
}

/// The data ranges of a call's queues, extended a few queues at a time (one after another before, 2,000 sequential
/// UpdateItems for 1,000 queues): each queue's range covers its own intervals, and a later call only widens it.
#[tokio::test]
async fn the_data_ranges_of_many_queues_each_cover_their_own_intervals() {
    /// A queue's `data_from` and `data_to`.
    type Range = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);
    let env = Env::start().await;
    let ingest = wiring::ingest_api(&env.stack.settings, &env.stack.clients);
    let (_, id, key) = create_push(&env, &json!({"name": "Many queues", "type": "push"})).await;
    let names: Vec<String> = (0..20).map(|i| format!("q-{i:02}")).collect();
    let queues: Vec<Value> = names.iter().map(|q| json!({"external_id": q, "name": q, "channel": "calls"})).collect();
    assert_eq!(push(&ingest, Some(&key), "queues", &json!({"queues": queues})).await.0, 200);
    let base = Utc::now().duration_trunc(Duration::hours(1)).unwrap() - Duration::hours(12);
    let quarter = |n: usize| base + Duration::minutes(15 * n as i64);
    let interval = |queue: &str, start: DateTime<Utc>| {
        json!({"queue_external_id": queue, "channel": "calls", "start": iso(start), "offered": 1, "handled": 1,
               "abandoned": 0, "handle_time_seconds": 60, "answer_time_seconds": 5})
    };
    // Queue i: quarters i and 2i; then a call with quarter i + 1 of every queue (inside or past the range).
    let first: Vec<Value> =
        names.iter().enumerate().flat_map(|(i, q)| [interval(q, quarter(2 * i)), interval(q, quarter(i))]).collect();
    assert_eq!(push(&ingest, Some(&key), "intervals", &json!({"intervals": first})).await.0, 200);
    let second: Vec<Value> = names.iter().enumerate().map(|(i, q)| interval(q, quarter(i + 1))).collect();
    assert_eq!(push(&ingest, Some(&key), "intervals", &json!({"intervals": second})).await.0, 200);
    let pk = acd_aws::keys::integration_pk(&tenant(T), id.parse().unwrap());
    let items =
        acd_integration_tests::partition_items(env.stack.clients.dynamodb(), &env.stack.settings.table_name, pk).await;
    let items = items.into_iter().filter(|i| i["SK"].as_s().is_ok_and(|sk| sk.starts_with("Q#"))).collect();
    let stored: Vec<acd_aws::items::QueueItem> = serde_dynamo::aws_sdk_dynamodb_1::from_items(items).unwrap();
    let mut got: Vec<(String, Range)> = stored.into_iter().map(|q| (q.external_id, (q.data_from, q.data_to))).collect();
    got.sort();
    let expected: Vec<(String, Range)> = names
        .iter()
        .enumerate()
        .map(|(i, q)| (q.clone(), (Some(quarter(i)), Some(quarter((2 * i).max(i + 1))))))
        .collect();
    assert_eq!(got, expected);
}

/// A push integration's silence counts from its resume when that is later than its last data: no push is accepted
/// while it is paused, so the sender gets the whole `no_data_after_minutes` after a resume to push again. Until
/// 2026-12-07 a resume after a pause longer than the limit answered `failing` / `no_data`, and the next watch stored
/// it and published `integration.failing` (a review of the integrations API found it).
#[tokio::test]
async fn a_resumed_push_integration_gets_its_whole_silence_limit_from_the_resume() {
    use acd_app::import::{ImportConfig, ImportEvent};
    use acd_connectors::{ConnectorFactory, Deadline, Endpoints, HttpClient};

    let env = Env::start().await;
    let ingest = wiring::ingest_api(&env.stack.settings, &env.stack.clients);
    let body = json!({"name": "Resumed dialer", "type": "push", "settings": {"no_data_after_minutes": 10}});
    let (_, id, key) = create_push(&env, &body).await;
    let event = json!({"events": [{"event_id": "e1", "agent": "a1", "status": "Ready", "at": iso(Utc::now())}]});
    assert_eq!(push(&ingest, Some(&key), "agent-events", &event).await.0, 200);
    let path = format!("/integrations/{id}");
    // Its last data two hours old (a status write refuses a paused record, so before the pause), then paused.
    let store = wiring::import_store(&env.stack.settings, &env.stack.clients);
    let (_, read) = env.admin("GET", &path, T, None).await;
    let mut status: acd_domain::IntegrationStatus = serde_json::from_value(read["status"].clone()).unwrap();
    status.last_success_at = Some(Utc::now() - Duration::hours(2));
    acd_app::ports::ImportStore::set_status(&store, &tenant(T), id.parse().unwrap(), &status).await.unwrap();
    let (_, read) = env.admin("GET", &path, T, None).await;
    assert_eq!(read["status"]["reason"], "no_data", "silent for two hours: {read}");
    assert_eq!(env.admin("POST", &format!("{path}/pause"), T, None).await.0, 200);

    let (code, resumed) = env.admin("POST", &format!("{path}/resume"), T, None).await;
    let resumed_at = Utc::now();
    assert_eq!((code, resumed["status"]["state"].as_str()), (200, Some("importing")), "{resumed}");
    assert!(resumed["status"]["resumed_at"].is_string(), "{resumed}");
    let (_, read) = env.admin("GET", &path, T, None).await;
    assert_eq!(read["status"]["state"], "importing", "not failing at once: {read}");
    let watch = |at: DateTime<Utc>| {
        let import = wiring::import_service(
            &env.stack.settings,
            &env.stack.clients,
            ConnectorFactory::new(HttpClient::new().unwrap(), Endpoints::default()),
            ImportConfig { now: Some(at), ..ImportConfig::default() },
        );
        let event = ImportEvent { tenant_id: T.into(), integration_id: id.clone(), at_once: false };
        async move { import.run(&event, Deadline::after(std::time::Duration::from_secs(60))).await.unwrap() }
    };
    let quiet = watch(resumed_at + Duration::minutes(5)).await;
    assert!(quiet.detail.contains("data arrives"), "within the limit after the resume: {quiet:?}");
    // Still silent 10 minutes after the resume: failing.
    let silent = watch(resumed_at + Duration::minutes(11)).await;
    assert_eq!(silent.detail, "no_data: the integration is failing", "{silent:?}");
}

/// The calls of one tenant are counted over all its keys and integrations (`INGEST_TENANT_CALLS_PER_MINUTE`) as well
/// as per key: until 2026-12-07 only per key, so a tenant with several keys could use the whole stage's throttle,
/// which every tenant and route share. Another tenant's calls are not counted with them.
#[tokio::test]
async fn a_tenants_calls_are_limited_over_all_its_keys_and_other_tenants_are_not() {
    let env = Env::start().await;
    let mut ingest = wiring::ingest_api(&env.stack.settings, &env.stack.clients);
    ingest.service.config =
        IngestConfig { calls_per_minute: 100, tenant_calls_per_minute: 3, ..IngestConfig::default() };
    let (_, _, first) = create_push(&env, &json!({"name": "Dialer one", "type": "push"})).await;
    let (_, _, second) = create_push(&env, &json!({"name": "Dialer two", "type": "push"})).await;
    let (status, other) =
        env.admin("POST", "/integrations", "t-other", Some(&json!({"name": "Dialer", "type": "push"}))).await;
    assert_eq!(status, 201, "{other}");
    let other = other["ingest_key"]["ingest_key"].as_str().unwrap().to_owned();

    let minute = Utc::now().duration_trunc(Duration::minutes(1)).unwrap() + Duration::minutes(5);
    let call = |key: &str, at: DateTime<Utc>| {
        let mut request = api_request("POST", "/ingest/queues", None, Some(&json!({"queues": []})));
        request.headers_mut().insert("x-ingest-key", key.parse().unwrap());
        let api = ingest.clone();
        async move { decode(api.handle_at(request, at).await) }
    };
    let at = minute + Duration::seconds(10);
    assert_eq!(call(&first, at).await.0, 200);
    assert_eq!(call(&first, at).await.0, 200);
    assert_eq!(call(&second, at).await.0, 200, "the tenant's third call, with its other key");
    let (status, _, problem) = call(&second, at).await;
    assert_eq!((status, problem["code"].as_str()), (429, Some("rate-limited")), "the fourth, whatever the key");
    assert_eq!(call(&other, at).await.0, 200, "another tenant's calls are its own");
    assert_eq!(call(&first, minute + Duration::minutes(1)).await.0, 200, "the next minute counts anew");
}

/// A call one limit refuses is not counted by the other: until 2026-12-08 a sender retrying its key's refused calls
/// at once spent its tenant's allowance with them, and every other integration of the tenant got 429s.
#[tokio::test]
async fn calls_refused_by_one_limit_do_not_spend_the_other() {
    let env = Env::start().await;
    let mut ingest = wiring::ingest_api(&env.stack.settings, &env.stack.clients);
    ingest.service.config = IngestConfig { calls_per_minute: 2, tenant_calls_per_minute: 4, ..IngestConfig::default() };
    let (_, _, first) = create_push(&env, &json!({"name": "Dialer one", "type": "push"})).await;
    let (_, _, second) = create_push(&env, &json!({"name": "Dialer two", "type": "push"})).await;
    let minute = Utc::now().duration_trunc(Duration::minutes(1)).unwrap() + Duration::minutes(5);
    let call_with = |api: &acd_app::ingest::http::IngestApi, key: &str, at: DateTime<Utc>| {
        let mut request = api_request("POST", "/ingest/queues", None, Some(&json!({"queues": []})));
        request.headers_mut().insert("x-ingest-key", key.parse().unwrap());
        let api = api.clone();
        async move { decode(api.handle_at(request, at).await) }
    };
    let call = |key: &str, at: DateTime<Utc>| call_with(&ingest, key, at);
    let at = minute + Duration::seconds(10);
    let mut answers = Vec::new();
    for _ in 0..5 {
        answers.push(call(&first, at).await.0);
    }
    assert_eq!(answers, [200, 200, 429, 429, 429], "the key's limit");
    let (_, _, problem) = call(&first, at).await;
    assert!(problem["detail"].as_str().unwrap().starts_with("this key's calls"), "{problem}");
    // The tenant counted 2 of the 6: the other key has the 2 left.
    assert_eq!(call(&second, at).await.0, 200);
    assert_eq!(call(&second, at).await.0, 200);
    let (status, _, problem) = call(&second, at).await;
    assert_eq!(status, 429, "both limits reached: {problem}");
    // With room on the key and none on the tenant: the tenant's limit names itself, and the key keeps its room.
    let mut roomier = ingest.clone();
    roomier.service.config =
        IngestConfig { calls_per_minute: 10, tenant_calls_per_minute: 4, ..IngestConfig::default() };
    let (_, _, problem) = call_with(&roomier, &first, at).await;
    assert!(problem["detail"].as_str().unwrap().starts_with("the tenant's calls"), "{problem}");
}
