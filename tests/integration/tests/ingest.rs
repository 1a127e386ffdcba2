//! Push integrations end to end (issue 12 Part 1): the real integrations-API, ingest and queues-query handlers
//! against moto. A push integration is created (its key shown once), queues, intervals and out-of-order,
//! duplicated agent events are pushed and read back through the query API; bad records, limits, unknown, revoked
//! and rotated keys, and the rate limit are checked with the table read back (nothing written when refused).
//! Every answer of the JWT API is checked against infra/openapi.yaml, and so is every ingest answer.

mod query_support;

use acd_app::ingest::IngestConfig;
use acd_app::ingest::http::IngestApi;
use acd_aws::wiring;
use acd_integration_tests::openapi::spec;
use acd_integration_tests::{api_request, decode};
use chrono::{DateTime, Duration, DurationRound, Utc};
use query_support::*;
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

async fn item_count(env: &Env) -> usize {
    let out = env.stack.clients.dynamodb.scan().table_name(&env.stack.settings.table_name).send().await.unwrap();
    // The per-minute call counters of the rate limit aside (a call is counted before its body is read).
    let rate = |i: &Item| i.get("SK").and_then(|v| v.as_s().ok()).is_some_and(|sk| sk.starts_with("IRATE#"));
    out.items.unwrap_or_default().iter().filter(|i| !rate(i)).count()
}

#[tokio::test]
async fn pushed_queues_intervals_and_events_read_back_through_the_query_api() {
    let env = Env::start().await;
    let ingest = wiring::ingest_api(&env.stack.settings, &env.stack.clients);

    // Create: the key is in the 201 answer only.
    let (status, created) =
        env.admin("POST", "/integrations", T, Some(&json!({"name": "Dialer", "type": "push"}))).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let key = created["ingest_key"]["ingest_key"].as_str().unwrap().to_owned();
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
    let scan = env.stack.clients.dynamodb.scan().table_name(&env.stack.settings.table_name).send().await.unwrap();
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
        .dynamodb
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
