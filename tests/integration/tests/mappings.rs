//! Mappings (external agent → employee, external status → activity) and agent states end to end: the real
//! queues-query handler against moto, data written through the import's item shapes, every answer checked against
//! infra/openapi.yaml.

use std::collections::HashSet;

use crate::query_support::*;
use acd_domain::IntegrationId;
use serde_json::{Value, json};

const T: &str = "tenant-a";

fn agents_path(integration: IntegrationId) -> String {
    format!("/integrations/{integration}/external-agents")
}

fn agent_path(integration: IntegrationId, external_id: &str) -> String {
    format!("/integrations/{integration}/external-agents/{}", enc(external_id))
}

fn status_path(integration: IntegrationId, status_id: &str) -> String {
    format!("/integrations/{integration}/external-statuses/{}", enc(status_id))
}

async fn map(env: &Env, integration: IntegrationId, external_id: &str, employee: &str) -> Value {
    let (status, body) =
        env.call("PUT", &agent_path(integration, external_id), Some(T), Some(&json!({"employee_id": employee}))).await;
    assert_eq!(status, 200, "{body}");
    body
}

fn external_ids(items: &Value) -> Vec<String> {
    items["items"].as_array().unwrap().iter().map(|a| a["external_id"].as_str().unwrap().to_owned()).collect()
}

fn states_of(page: &Value) -> Vec<(String, String, String, String)> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["employee_id"].as_str().unwrap().to_owned(),
                s["external_agent_id"].as_str().unwrap().to_owned(),
                s["start"].as_str().unwrap().to_owned(),
                s["activity_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn agents_are_listed_mapped_remapped_and_unmapped() {
    let env = Env::start().await;
    let integration = env.create_integration(T, "Five9").await;
    let ids = ["jane.doe@acme.com", "Ägnes Ström", "bob", "carol:1", "zed"];
    env.put_items(ids.iter().map(|id| item(agent(T, integration, id, Some(&format!("Name of {id}"))))).collect()).await;

    let list = env.get(&agents_path(integration), T).await;
    // By external id (byte order: upper-case before lower-case, non-ASCII last).
    assert_eq!(external_ids(&list), ["bob", "carol:1", "jane.doe@acme.com", "zed", "Ägnes Ström"]);
    assert!(list["items"].as_array().unwrap().iter().all(|a| a["employee_id"].is_null()));
    assert_eq!(list["items"][0]["display_name"], "Name of bob");
    assert_eq!(list["items"][0]["first_seen"], "2024-03-01T00:00:00Z");

    let mapped = map(&env, integration, "jane.doe@acme.com", "emp-17").await;
    assert_eq!(mapped["external_id"], "jane.doe@acme.com");
    assert_eq!(mapped["employee_id"], "emp-17");
    assert_eq!(mapped["warnings"], json!([]));
    let mapped = map(&env, integration, "Ägnes Ström", "emp-18").await;
    assert_eq!(mapped["external_id"], "Ägnes Ström", "percent-encoded path decoded to the exact id");
    assert_eq!(mapped["warnings"][0]["code"], "non_ascii");

    let unmapped = env.get(&format!("{}?unmapped=true", agents_path(integration)), T).await;
    assert_eq!(external_ids(&unmapped), ["bob", "carol:1", "zed"]);

    // Remap: the id moves to the other employee (at most one employee per id).
    let remapped = map(&env, integration, "jane.doe@acme.com", "emp-99").await;
    assert_eq!(remapped["employee_id"], "emp-99");
    let list = env.get(&agents_path(integration), T).await;
    let jane = list["items"].as_array().unwrap().iter().find(|a| a["external_id"] == "jane.doe@acme.com").unwrap();
    assert_eq!(jane["employee_id"], "emp-99");

    // Unmap (idempotent).
    for _ in 0..2 {
        let (status, body) = env.call("DELETE", &agent_path(integration, "jane.doe@acme.com"), Some(T), None).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["employee_id"], Value::Null);
    }
    let unmapped = env.get(&format!("{}?unmapped=true", agents_path(integration)), T).await;
    assert_eq!(external_ids(&unmapped), ["bob", "carol:1", "jane.doe@acme.com", "zed"]);

    // Pages of 2 cover everything once, filtered or not.
    let (paged, pages) = all_pages(&env, &format!("{}?limit=2", agents_path(integration)), T).await;
    assert_eq!(pages, 3);
    let paged: Vec<&str> = paged.iter().map(|a| a["external_id"].as_str().unwrap()).collect();
    assert_eq!(paged, ["bob", "carol:1", "jane.doe@acme.com", "zed", "Ägnes Ström"]);
    let (paged, _) = all_pages(&env, &format!("{}?limit=1&unmapped=true", agents_path(integration)), T).await;
    assert_eq!(paged.len(), 4);
}

#[tokio::test]
async fn unknown_ids_other_tenants_and_deleted_integrations_without_stored_ids_are_404() {
    let env = Env::start().await;
    let mine = env.create_integration(T, "Mine").await;
    let theirs = env.create_integration("tenant-b", "Theirs").await;
    let doomed = env.create_integration(T, "Doomed").await;
    env.put_items(vec![
        item(agent(T, mine, "alice", None)),
        item(agent("tenant-b", theirs, "alice", None)),
        item(agent(T, doomed, "alice", None)),
        item(status(T, mine, "Ready", "Ready")),
        item(status("tenant-b", theirs, "Ready", "Ready")),
    ])
    .await;
    let (deleted, _) = env.admin("DELETE", &format!("/integrations/{doomed}"), T, None).await;
    assert_eq!(deleted, 204);
    // One whose DELETE stopped after its tombstone (its secret or schedules step failed): already gone for the API.
    let half = env.create_integration(T, "Half deleted").await;
    env.put_items(vec![item(agent(T, half, "alice", None)), item(status(T, half, "Ready", "Ready"))]).await;
    env.set_deleting(T, half).await;

    let body = json!({"employee_id": "emp-1"});
    let activity = json!({"activity_id": "break"});
    let cases: Vec<(&str, String, Option<&Value>)> = vec![
        // Never seen by the import: no pre-mapping.
        ("PUT", agent_path(mine, "alice "), Some(&body)),
        ("PUT", agent_path(mine, "Alice"), Some(&body)),
        ("DELETE", agent_path(mine, "nobody"), None),
        ("PUT", status_path(mine, "Lunch"), Some(&activity)),
        ("DELETE", status_path(mine, "Lunch"), None),
        // Another tenant's integration.
        ("GET", agents_path(theirs), None),
        ("PUT", agent_path(theirs, "alice"), Some(&body)),
        ("GET", format!("/integrations/{theirs}/external-statuses"), None),
        ("PUT", status_path(theirs, "Ready"), Some(&activity)),
        // A deleted integration, of ids it never stored (its agents stay mappable:
        // `a_deleted_integrations_agents_and_statuses_can_still_be_unmapped`).
        ("GET", format!("/integrations/{doomed}/external-statuses"), None),
        ("PUT", status_path(doomed, "Ready"), Some(&activity)),
        ("PUT", agent_path(doomed, "bob"), Some(&body)),
        // One being deleted.
        ("PUT", agent_path(half, "bob"), Some(&body)),
        // An integration id the tenant never had.
        ("GET", agents_path(IntegrationId::new()), None),
        ("GET", format!("/integrations/{}/external-statuses?unmapped=true", IntegrationId::new()), None),
        // Not an integration id.
        ("GET", "/integrations/not-a-uuid/external-agents".to_owned(), None),
        ("PUT", "/integrations/not-a-uuid/external-statuses/Ready".to_owned(), Some(&activity)),
    ];
    for (method, path, body) in cases {
        let (status, problem) = env.call(method, &path, Some(T), body).await;
        assert_eq!(status, 404, "{method} {path}: {problem}");
        assert_eq!(problem["code"], "not-found");
    }
    // Nothing changed in the other tenant.
    let theirs_agents = env.get(&agents_path(theirs), "tenant-b").await;
    assert_eq!(theirs_agents["items"][0]["employee_id"], Value::Null);
    // A mapping of tenant A never appears in tenant B's agent states.
    map(&env, mine, "alice", "emp-1").await;
    env.put_items(vec![item(segment(T, mine, "alice", at(1, 8, 0), Some(at(1, 9, 0)), "Ready"))]).await;
    let b_states = env.get("/agent-states?from=2024-03-01T00:00:00Z&to=2024-03-02T00:00:00Z", "tenant-b").await;
    assert_eq!(b_states["items"], json!([]));
    let a_states = env.get("/agent-states?from=2024-03-01T00:00:00Z&to=2024-03-02T00:00:00Z", T).await;
    assert_eq!(a_states["items"].as_array().unwrap().len(), 1);
}

/// A deleted integration keeps its data, its agents' mappings included: its agents and statuses can still be listed,
/// mapped and unmapped (the agent or status item is the check). An admin who deletes an integration and creates it
/// again (to change its region, say) unmaps the old one's agents, whose states would otherwise show beside the new
/// integration's for the same employees. Until 2026-12-07 these routes answered 404 once the integration was
/// deleted, and the old states stayed listed for good.
#[tokio::test]
async fn a_deleted_integrations_agents_and_statuses_can_still_be_unmapped() {
    let env = Env::start().await;
    let old = env.create_integration(T, "Old").await;
    let half = env.create_integration(T, "Half deleted").await;
    env.put_items(vec![
        item(agent(T, old, "alice", None)),
        item(agent(T, old, "bob", None)),
        item(status(T, old, "Ready", "Ready")),
        item(segment(T, old, "alice", at(1, 8, 0), Some(at(1, 9, 0)), "Ready")),
        item(agent(T, half, "carol", None)),
        item(status(T, half, "Ready", "Ready")),
    ])
    .await;
    map(&env, old, "alice", "emp-1").await;
    let (deleted, _) = env.admin("DELETE", &format!("/integrations/{old}"), T, None).await;
    assert_eq!(deleted, 204);
    env.set_deleting(T, half).await;
    let states = "/agent-states?from=2024-03-01T00:00:00Z&to=2024-03-02T00:00:00Z&employee_id=emp-1";
    assert_eq!(env.get(states, T).await["items"].as_array().unwrap().len(), 1, "its data is kept");

    let listed = env.get(&agents_path(old), T).await;
    assert_eq!(external_ids(&listed), ["alice", "bob"]);
    assert_eq!(listed["items"][0]["employee_id"], "emp-1");
    let unmapped = env.get(&format!("{}?unmapped=true", agents_path(old)), T).await;
    assert_eq!(external_ids(&unmapped), ["bob"]);
    let (status, body) = env.call("DELETE", &agent_path(old, "alice"), Some(T), None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["employee_id"], Value::Null);
    assert_eq!(env.get(states, T).await["items"], json!([]), "unmapped: no longer listed for the employee");
    // Every agent mapped or not: an empty unmapped listing, not a 404.
    map(&env, old, "alice", "emp-3").await;
    map(&env, old, "bob", "emp-2").await;
    let unmapped = env.get(&format!("{}?unmapped=true", agents_path(old)), T).await;
    assert_eq!(unmapped["items"], json!([]));

    let activity = json!({"activity_id": "break"});
    let (status, body) = env.call("PUT", &status_path(old, "Ready"), Some(T), Some(&activity)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["activity_id"], "break");
    let statuses = env.get(&format!("/integrations/{old}/external-statuses?unmapped=true"), T).await;
    assert_eq!(statuses["items"], json!([]), "mapped: an empty listing, not a 404");
    // One whose DELETE stopped after its tombstone, the same.
    assert_eq!(external_ids(&env.get(&agents_path(half), T).await), ["carol"]);
    let (status, body) = env.call("PUT", &status_path(half, "Ready"), Some(T), Some(&activity)).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn agent_states_appear_for_past_data_once_mapped_with_their_activities() {
    let env = Env::start().await;
    let five9 = env.create_integration(T, "Five9").await;
    let genesys = env.create_integration(T, "Genesys").await;
    let day = |h, m| at(5, h, m);
    env.put_items(vec![
        item(agent(T, five9, "jane.doe@acme.com", None)),
        item(agent(T, genesys, "jdoe", None)),
        item(agent(T, five9, "bob", None)),
        item(agent(T, five9, "pat", None)),
        item(status(T, five9, "Ready", "Ready")),
        item(status(T, five9, "Not Ready: Lunch", "Not Ready – Lunch")),
        item(status(T, genesys, "ON_QUEUE", "On Queue")),
        // Jane in Five9: one piece that started the day before (split at midnight by the import), a lunch, one open.
        item(segment(T, five9, "jane.doe@acme.com", at(4, 20, 0), Some(day(0, 0)), "Ready")),
        item(segment(T, five9, "jane.doe@acme.com", day(0, 0), Some(day(12, 0)), "Ready")),
        item(segment(T, five9, "jane.doe@acme.com", day(12, 0), Some(day(12, 30)), "Not Ready: Lunch")),
        item(segment(T, five9, "jane.doe@acme.com", day(12, 30), None, "Unlisted")),
        // Jane in Genesys.
        item(segment(T, genesys, "jdoe", day(9, 0), Some(day(10, 0)), "ON_QUEUE")),
        // Bob: ended before the range, started after it.
        item(segment(T, five9, "bob", day(1, 0), Some(day(2, 0)), "Ready")),
        item(segment(T, five9, "bob", day(18, 0), Some(day(19, 0)), "Ready")),
        // Pat: unmapped, never shown.
        item(segment(T, five9, "pat", day(9, 0), Some(day(10, 0)), "Ready")),
    ])
    .await;
    let range = "from=2024-03-05T06:00:00Z&to=2024-03-05T18:00:00Z";
    let states = env.get(&format!("/agent-states?{range}"), T).await;
    assert_eq!(states["items"], json!([]), "nothing mapped yet");
    assert_eq!(states["from"], "2024-03-05T06:00:00Z");

    // Map both identifiers of one employee, and Bob; map the lunch status.
    map(&env, five9, "jane.doe@acme.com", "emp-jane").await;
    map(&env, genesys, "jdoe", "emp-jane").await;
    map(&env, five9, "bob", "emp-bob").await;
    let (status, lunch) =
        env.call("PUT", &status_path(five9, "Not Ready: Lunch"), Some(T), Some(&json!({"activity_id": "lunch"}))).await;
    assert_eq!(status, 200, "{lunch}");
    assert_eq!((lunch["activity_id"].as_str(), lunch["mapped"].as_bool()), (Some("lunch"), Some(true)));

    let states = env.get(&format!("/agent-states?{range}"), T).await;
    let items = states["items"].as_array().unwrap();
    assert_eq!(
        states_of(&states),
        [
            // The two pieces the import split at midnight come back as one segment.
            ("emp-jane", "jane.doe@acme.com", "2024-03-04T20:00:00Z", "present"),
            ("emp-jane", "jane.doe@acme.com", "2024-03-05T12:00:00Z", "lunch"),
            ("emp-jane", "jane.doe@acme.com", "2024-03-05T12:30:00Z", "present"),
            ("emp-jane", "jdoe", "2024-03-05T09:00:00Z", "present"),
        ]
        .map(|(a, b, c, d): (&str, &str, &str, &str)| (a.to_owned(), b.to_owned(), c.to_owned(), d.to_owned()))
    );
    let lunch = &items[1];
    assert_eq!(lunch["integration_id"], five9.to_string());
    assert_eq!(lunch["status_id"], "Not Ready: Lunch");
    assert_eq!(lunch["status_name"], "Not Ready – Lunch");
    assert_eq!(lunch["reason"], "Lunch");
    assert_eq!(lunch["end"], "2024-03-05T12:30:00Z");
    assert_eq!(items[2]["end"], Value::Null, "open segment");
    assert_eq!(items[2]["status_name"], Value::Null, "status not listed by the import");
    assert_eq!(items[3]["integration_id"], genesys.to_string());

    // One employee only (exact, even with another employee id sharing the prefix and a `#`).
    env.put_items(vec![item(agent(T, genesys, "jane2", None))]).await;
    map(&env, genesys, "jane2", "emp-jane#2").await;
    env.put_items(vec![item(segment(T, genesys, "jane2", day(7, 0), Some(day(8, 0)), "ON_QUEUE"))]).await;
    let jane = env.get(&format!("/agent-states?{range}&employee_id=emp-jane"), T).await;
    assert_eq!(jane["items"].as_array().unwrap().len(), 4);
    assert!(jane["items"].as_array().unwrap().iter().all(|s| s["employee_id"] == "emp-jane"));
    let all = env.get(&format!("/agent-states?{range}"), T).await;
    assert_eq!(all["items"].as_array().unwrap().len(), 5);
    assert_eq!(env.get(&format!("/agent-states?{range}&employee_id=emp-bob"), T).await["items"], json!([]));

    // Status mapped back to the default: read-time resolution again.
    let (status, reset) = env.call("DELETE", &status_path(five9, "Not Ready: Lunch"), Some(T), None).await;
    assert_eq!(status, 200);
    assert_eq!((reset["activity_id"].as_str(), reset["mapped"].as_bool()), (Some("present"), Some(false)));
    let jane = env.get(&format!("/agent-states?{range}&employee_id=emp-jane"), T).await;
    assert!(jane["items"].as_array().unwrap().iter().all(|s| s["activity_id"] == "present"));

    // Unmapping hides the agent's states again (they are kept).
    env.call("DELETE", &agent_path(genesys, "jdoe"), Some(T), None).await;
    let jane = env.get(&format!("/agent-states?{range}&employee_id=emp-jane"), T).await;
    assert_eq!(jane["items"].as_array().unwrap().len(), 3);
    map(&env, genesys, "jdoe", "emp-jane").await;
    assert_eq!(
        env.get(&format!("/agent-states?{range}&employee_id=emp-jane"), T).await["items"].as_array().unwrap().len(),
        4
    );
}

#[tokio::test]
async fn an_unreadable_status_or_mapped_agent_is_a_503_never_a_default_activity_or_a_shorter_answer() {
    let env = Env::start().await;
    let five9 = env.create_integration(T, "Five9").await;
    env.put_items(vec![
        item(agent(T, five9, "jane", None)),
        item(status(T, five9, "Lunch", "Lunch")),
        item(segment(T, five9, "jane", at(5, 12, 0), Some(at(5, 12, 30)), "Lunch")),
    ])
    .await;
    map(&env, five9, "jane", "emp-jane").await;
    let (status, _) =
        env.call("PUT", &status_path(five9, "Lunch"), Some(T), Some(&json!({"activity_id": "lunch"}))).await;
    assert_eq!(status, 200);
    let path = "/agent-states?from=2024-03-05T06:00:00Z&to=2024-03-05T18:00:00Z";
    assert_eq!(states_of(&env.get(path, T).await)[0].3, "lunch");

    // Until 2026-12-08 an unreadable status item was left out, and its mapped segments answered `present`; an
    // unreadable mapped agent was left out with its states (a round of only such items ended the listing).
    let n = |v: &str| aws_sdk_dynamodb::types::AttributeValue::N(v.to_owned());
    let s = |v: &str| aws_sdk_dynamodb::types::AttributeValue::S(v.to_owned());
    env.set_attribute(T, five9, &acd_aws::items::status_sk("Lunch"), "first_seen", n("1")).await;
    let (status, problem) = env.call("GET", path, Some(T), None).await;
    assert_eq!(status, 503, "{problem}");
    env.set_attribute(T, five9, &acd_aws::items::status_sk("Lunch"), "first_seen", s("2024-03-01T00:00:00Z")).await;
    assert_eq!(states_of(&env.get(path, T).await)[0].3, "lunch");
    env.set_attribute(T, five9, &acd_aws::items::agent_sk("jane"), "first_seen", n("1")).await;
    let (status, problem) = env.call("GET", path, Some(T), None).await;
    assert_eq!(status, 503, "{problem}");
}

#[tokio::test]
async fn agent_state_pages_never_skip_or_repeat() {
    // The same pages whether segments are stored one item each, as hour buckets, or both (acd_aws::buckets).
    for form in FORMS {
        eprintln!("segments stored as {form:?}");
        pages_in_form(form).await;
    }
}

async fn pages_in_form(form: Form) {
    let env = Env::start().await;
    let integration = env.create_integration(T, "Genesys").await;
    let mut items = vec![item(status(T, integration, "ON_QUEUE", "On Queue"))];
    let mut segments = Vec::new();
    let mut expected = HashSet::new();
    for a in 0..12 {
        let id = format!("agent-{a:02}");
        items.push(item(agent(T, integration, &id, None)));
        for s in 0..(a * 3) {
            let start = at(5, 0, 0) + chrono::Duration::minutes(20 * s);
            segments.push(segment(T, integration, &id, start, Some(start + chrono::Duration::minutes(20)), "ON_QUEUE"));
            if a % 4 != 3 {
                expected.insert((id.clone(), start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)));
            }
        }
    }
    items.extend(segments_as(form, segments));
    env.put_items(items).await;
    for a in 0..12 {
        if a % 4 != 3 {
            // Several agents per employee.
            map(&env, integration, &format!("agent-{a:02}"), &format!("emp-{}", a % 5)).await;
        }
    }
    let range = "from=2024-03-05T00:00:00Z&to=2024-03-06T00:00:00Z";
    for limit in [5, 40, 5000] {
        let (pages, n) = all_pages(&env, &format!("/agent-states?{range}&limit={limit}"), T).await;
        let got: Vec<(String, String)> = pages
            .iter()
            .map(|s| (s["external_agent_id"].as_str().unwrap().to_owned(), s["start"].as_str().unwrap().to_owned()))
            .collect();
        assert_eq!(got.len(), expected.len(), "limit {limit}: no repeats");
        assert_eq!(got.iter().cloned().collect::<HashSet<_>>(), expected, "limit {limit}: no skips");
        assert_eq!(n, expected.len().div_ceil(limit), "limit {limit}: full pages");
        // Stable order: employee, integration, agent, start.
        let keys: Vec<(String, String, String)> = pages
            .iter()
            .map(|s| {
                (
                    s["employee_id"].as_str().unwrap().to_owned(),
                    s["external_agent_id"].as_str().unwrap().to_owned(),
                    s["start"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted, "limit {limit}");
    }
}

#[tokio::test]
async fn segments_split_at_midnights_come_back_whole_beyond_the_range_and_across_pages() {
    for form in FORMS {
        eprintln!("segments stored as {form:?}");
        split_segments_in_form(form).await;
    }
}

async fn split_segments_in_form(form: Form) {
    let env = Env::start().await;
    let integration = env.create_integration(T, "Genesys").await;
    let mut items = vec![
        item(agent(T, integration, "ann", None)),
        item(status(T, integration, "OFFLINE", "Offline")),
        item(status(T, integration, "ON_QUEUE", "On Queue")),
    ];
    // Offline from the 1st 18:00 to the 7th 08:00 (six midnights), stored as the import stores it: one piece a day.
    let mut segments = Vec::new();
    let mut start = at(1, 18, 0);
    for end in [at(2, 0, 0), at(3, 0, 0), at(4, 0, 0), at(5, 0, 0), at(6, 0, 0), at(7, 0, 0), at(7, 8, 0)] {
        segments.push(segment(T, integration, "ann", start, Some(end), "OFFLINE"));
        start = end;
    }
    // Then on queue until the 9th 02:00 (one midnight), and two touching on-queue segments the ACD reported apart.
    segments.push(segment(T, integration, "ann", at(7, 8, 0), Some(at(8, 0, 0)), "ON_QUEUE"));
    segments.push(segment(T, integration, "ann", at(8, 0, 0), Some(at(9, 2, 0)), "ON_QUEUE"));
    segments.push(segment(T, integration, "ann", at(9, 2, 0), Some(at(9, 3, 0)), "ON_QUEUE"));
    items.extend(segments_as(form, segments));
    env.put_items(items).await;
    map(&env, integration, "ann", "emp-ann").await;

    let spans = |page: &[Value]| -> Vec<(String, String, String)> {
        page.iter()
            .map(|s| {
                let text = |k: &str| s[k].as_str().unwrap().to_owned();
                (text("status_id"), text("start"), text("end"))
            })
            .collect()
    };
    let whole = [
        ("OFFLINE", "2024-03-01T18:00:00Z", "2024-03-07T08:00:00Z"),
        ("ON_QUEUE", "2024-03-07T08:00:00Z", "2024-03-09T02:00:00Z"),
        ("ON_QUEUE", "2024-03-09T02:00:00Z", "2024-03-09T03:00:00Z"),
    ]
    .map(|(a, b, c)| (a.to_owned(), b.to_owned(), c.to_owned()));
    // A range inside the offline stretch sees it whole: followed back four midnights and forward two.
    let (inside, _) = all_pages(&env, "/agent-states?from=2024-03-05T06:00:00Z&to=2024-03-05T07:00:00Z", T).await;
    assert_eq!(spans(&inside), whole[..1]);
    // A range ending mid-day on the 8th sees the on-queue segment to its real end on the 9th.
    let (both, _) = all_pages(&env, "/agent-states?from=2024-03-06T12:00:00Z&to=2024-03-08T12:00:00Z", T).await;
    assert_eq!(spans(&both), whole[..2]);
    // Page by page (one segment a page) nothing is skipped or repeated, and each cursor is accepted.
    for limit in [1, 2, 100] {
        let (pages, _) = all_pages(
            &env,
            &format!("/agent-states?from=2024-03-03T00:00:00Z&to=2024-03-10T00:00:00Z&limit={limit}"),
            T,
        )
        .await;
        assert_eq!(spans(&pages), whole, "limit {limit}");
    }
}

#[tokio::test]
async fn typos_in_identifiers_are_visible() {
    let env = Env::start().await;
    let integration = env.create_integration(T, "Five9").await;
    let ids = ["jane.doe@acme.com", "Jane.Doe@acme.com ", "j\u{0430}ne", "Jane  Doe", "\u{200B}bob"];
    env.put_items(ids.iter().map(|id| item(agent(T, integration, id, None))).collect()).await;

    let mapped = map(&env, integration, "Jane.Doe@acme.com ", "emp-1").await;
    assert_eq!(mapped["external_id"], "Jane.Doe@acme.com ", "echoed verbatim");
    let codes: Vec<&str> = mapped["warnings"].as_array().unwrap().iter().map(|w| w["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["trailing_whitespace", "similar_identifier"], "{mapped}");
    let similar = mapped["warnings"][1]["message"].as_str().unwrap();
    assert!(similar.contains("\"jane.doe@acme.com\""), "{similar}");

    let list = env.get(&agents_path(integration), T).await;
    let warnings = |id: &str| -> Vec<String> {
        let agent = list["items"].as_array().unwrap().iter().find(|a| a["external_id"] == id).unwrap();
        agent["warnings"].as_array().unwrap().iter().map(|w| w["code"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(warnings("jane.doe@acme.com"), Vec::<String>::new());
    assert_eq!(warnings("j\u{0430}ne"), ["non_ascii"]);
    assert_eq!(warnings("Jane  Doe"), ["repeated_whitespace"]);
    assert_eq!(warnings("\u{200B}bob"), ["invisible_character"]);

    // The employee id is stored exactly too, and flagged.
    let mapped = map(&env, integration, "jane.doe@acme.com", " emp-2").await;
    assert_eq!(mapped["employee_id"], " emp-2");
    assert_eq!(mapped["warnings"][0]["field"], "employee_id");
    assert_eq!(mapped["warnings"][0]["code"], "leading_whitespace");
    let codes: Vec<&str> = mapped["warnings"].as_array().unwrap().iter().map(|w| w["code"].as_str().unwrap()).collect();
    assert!(codes.contains(&"similar_identifier"), "{mapped}");
}

#[tokio::test]
async fn statuses_are_listed_on_the_default_until_mapped() {
    let env = Env::start().await;
    let integration = env.create_integration(T, "Five9").await;
    env.put_items(vec![
        item(status(T, integration, "Ready", "Ready")),
        item(status(T, integration, "Not Ready: Lunch", "Not Ready – Lunch")),
        item(status(T, integration, "Not Ready: Café", "Not Ready – Café")),
        item(status(T, integration, "On Call", "On Call")),
    ])
    .await;
    let path = format!("/integrations/{integration}/external-statuses");
    let list = env.get(&path, T).await;
    let ids: Vec<&str> = list["items"].as_array().unwrap().iter().map(|s| s["status_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["Not Ready: Café", "Not Ready: Lunch", "On Call", "Ready"]);
    assert!(list["items"].as_array().unwrap().iter().all(|s| s["activity_id"] == "present" && s["mapped"] == false));

    for (id, activity) in [("Not Ready: Lunch", "lunch"), ("Not Ready: Café", "break"), ("Ready", "present")] {
        let (status, body) =
            env.call("PUT", &status_path(integration, id), Some(T), Some(&json!({"activity_id": activity}))).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!((body["status_id"].as_str(), body["activity_id"].as_str()), (Some(id), Some(activity)));
    }
    let unmapped = env.get(&format!("{path}?unmapped=true"), T).await;
    let ids: Vec<&str> =
        unmapped["items"].as_array().unwrap().iter().map(|s| s["status_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["On Call"], "explicitly mapped to present counts as mapped");
    let (pages, n) = all_pages(&env, &format!("{path}?limit=3"), T).await;
    assert_eq!((pages.len(), n), (4, 2));
}

/// Ids holding what a URL path gives a meaning to (`/`, `?`, `#`, `%`) are mapped and
/// unmapped as themselves through API Gateway's reading of the path (decoded once to route, each path variable a
/// second time; `api_request` builds the event so): the client encodes them twice, and the handler reads the route's
/// `pathParameters`, not the path (which API Gateway passes decoded twice, a `/` in an id then one of the path's).
#[tokio::test]
async fn ids_with_slashes_question_marks_and_percents_are_mapped_as_themselves() {
    let env = Env::start().await;
    let integration = env.create_integration(T, "Five9").await;
    let ids = ["Not Ready: Break/Lunch", "Not Ready: Away?", "Not Ready: Away", "Not Ready: 50% #2", "100%"];
    env.put_items(ids.iter().map(|id| item(status(T, integration, id, id))).collect()).await;
    env.put_items(ids.iter().map(|id| item(agent(T, integration, id, None))).collect()).await;
    for (n, id) in ids.iter().enumerate() {
        let (status, body) = env
            .call("PUT", &status_path(integration, id), Some(T), Some(&json!({"activity_id": format!("a{n}")})))
            .await;
        assert_eq!((status, body["status_id"].as_str()), (200, Some(*id)), "{body}");
        let employee = format!("emp-{n}");
        assert_eq!(map(&env, integration, id, &employee).await["external_id"], *id);
    }
    let list = env.get(&format!("/integrations/{integration}/external-statuses"), T).await;
    let mut got: Vec<(String, String)> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["status_id"].as_str().unwrap().to_owned(), s["activity_id"].as_str().unwrap().to_owned()))
        .collect();
    got.sort();
    let mut want: Vec<(String, String)> =
        ids.iter().enumerate().map(|(n, id)| (id.to_string(), format!("a{n}"))).collect();
    want.sort();
    assert_eq!(got, want, "each id got its own activity, none another's");
    let agents = env.get(&agents_path(integration), T).await;
    for a in agents["items"].as_array().unwrap() {
        let n = ids.iter().position(|id| a["external_id"] == *id).expect("a stored id");
        assert_eq!(a["employee_id"], format!("emp-{n}"));
    }
    for id in ids {
        let (status, body) = env.call("DELETE", &status_path(integration, id), Some(T), None).await;
        assert_eq!((status, body["status_id"].as_str()), (200, Some(id)), "{body}");
    }
    let unmapped = env.get(&format!("/integrations/{integration}/external-statuses?unmapped=true"), T).await;
    assert_eq!(unmapped["items"].as_array().unwrap().len(), ids.len(), "{unmapped}");
}

/// An id with a `/` percent-encoded once is split by API Gateway's first decoding: no route has the path, so API
/// Gateway answers 404 `{"message":"Not Found"}` itself and the function maps nothing (in AWS as in the tests and
/// the local gateway). Encoded twice, the same id is mapped as itself.
#[tokio::test]
async fn an_id_with_a_slash_encoded_once_is_api_gateways_404_and_maps_nothing() {
    let env = Env::start().await;
    let integration = env.create_integration(T, "Five9").await;
    let id = "Break/Lunch";
    env.put_items(vec![item(status(T, integration, id, id)), item(agent(T, integration, id, None))]).await;
    let once = "Break%2FLunch";
    let statuses = format!("/integrations/{integration}/external-statuses");
    for (method, path, body) in [
        ("PUT", format!("{statuses}/{once}"), Some(json!({"activity_id": "lunch"}))),
        ("PUT", format!("{}/{once}", agents_path(integration)), Some(json!({"employee_id": "emp-1"}))),
        ("DELETE", format!("{statuses}/{once}"), None),
        ("GET", format!("/integrations/{}/external-agents", "abc%2Fdef"), None),
    ] {
        // `call` checks the answer against the spec: for a request of no route, API Gateway's own body.
        let (status, answer) = env.call(method, &path, Some(T), body.as_ref()).await;
        assert_eq!((status, answer), (404, json!({"message": "Not Found"})), "{method} {path}");
    }
    let unmapped = env.get(&format!("{statuses}?unmapped=true"), T).await;
    assert_eq!(unmapped["items"][0]["status_id"], id, "nothing mapped: {unmapped}");
    assert_eq!(env.get(&agents_path(integration), T).await["items"][0]["employee_id"], Value::Null);

    let (status, body) =
        env.call("PUT", &format!("{statuses}/Break%252FLunch"), Some(T), Some(&json!({"activity_id": "lunch"}))).await;
    assert_eq!((status, body["status_id"].as_str()), (200, Some(id)), "{body}");
    assert_eq!(map(&env, integration, id, "emp-1").await["external_id"], id);
}

#[tokio::test]
async fn bad_mapping_requests_are_400_naming_each_field() {
    let env = Env::start().await;
    let integration = env.create_integration(T, "Five9").await;
    env.put_items(vec![item(agent(T, integration, "alice", None)), item(status(T, integration, "Ready", "Ready"))])
        .await;
    let agent = agent_path(integration, "alice");
    let status = status_path(integration, "Ready");
    env.bad("PUT", &agent, T, Some(&json!({})), &["/employee_id"]).await;
    env.bad("PUT", &agent, T, Some(&json!({"employee_id": ""})), &["/employee_id"]).await;
    env.bad("PUT", &agent, T, Some(&json!({"employee_id": "  "})), &["/employee_id"]).await;
    env.bad("PUT", &agent, T, Some(&json!({"employee_id": 42})), &["/employee_id"]).await;
    env.bad("PUT", &agent, T, Some(&json!({"employee_id": "e".repeat(256)})), &["/employee_id"]).await;
    env.bad("PUT", &agent, T, Some(&json!({"employee_id": "e", "note": "x"})), &["/note"]).await;
    env.bad("PUT", &agent, T, Some(&json!(["e"])), &["/"]).await;
    env.bad("PUT", &agent, T, None, &["/"]).await;
    env.bad("PUT", &status, T, Some(&json!({"activity": "lunch"})), &["/activity", "/activity_id"]).await;
    env.bad("PUT", &status, T, Some(&json!({"activity_id": null})), &["/activity_id"]).await;
    env.bad("GET", &format!("{}?unmapped=maybe", agents_path(integration)), T, None, &["unmapped"]).await;
    env.bad("GET", &format!("{}?limit=0&unmapped=1", agents_path(integration)), T, None, &["limit", "unmapped"]).await;
    env.bad("GET", &format!("{}?cursor=%21%21", agents_path(integration)), T, None, &["cursor"]).await;
    // Not JSON at all.
    let request = acd_integration_tests::api_request("PUT", &agent, Some(T), None);
    let (parts, _) = request.into_parts();
    let request = lambda_http::Request::from_parts(parts, lambda_http::Body::Text("{nope".into()));
    let (code, content_type, problem) = acd_integration_tests::decode(env.api.handle(request).await);
    acd_integration_tests::openapi::spec().check("PUT", &agent, code, &content_type, &problem);
    assert_eq!((code, problem["code"].as_str()), (400, Some("invalid-json")));
    // Nothing was mapped by any of it; max length is fine.
    let list = env.get(&agents_path(integration), T).await;
    assert_eq!(list["items"][0]["employee_id"], Value::Null);
    let mapped = map(&env, integration, "alice", &"e".repeat(255)).await;
    assert_eq!(mapped["employee_id"].as_str().unwrap().len(), 255);
    // Methods without a route: API Gateway's 404, the function never called (the spec check holds the body to it).
    let (code, _) = env.call("POST", &agent, Some(T), None).await;
    assert_eq!(code, 404);
    let (code, _) = env.call("DELETE", &agents_path(integration), Some(T), None).await;
    assert_eq!(code, 404);
}

#[tokio::test]
async fn mappings_survive_the_import_rediscovering_agents_and_statuses() {
    use acd_app::ports::{ImportStore, IntegrationRepo};
    let env = Env::start().await;
    let id = env.create_integration(T, "Five9").await;
    let store = acd_aws::wiring::dynamo_store(&env.stack.settings, &env.stack.clients);
    let integration = store.get(&tenant(T), id).await.unwrap().unwrap();
    let import = acd_aws::import_store::DynamoImportStore::new(
        env.stack.clients.dynamodb().clone(),
        env.stack.settings.table_name.clone(),
    );
    let agents = |name: &str| {
        vec![acd_domain::ExternalAgent { external_id: "jane.doe@acme.com".into(), display_name: Some(name.into()) }]
    };
    let statuses = |name: &str| vec![acd_domain::ExternalStatus { id: "Not Ready: Lunch".into(), name: name.into() }];
    let now = chrono::Utc::now();
    import.sync_agents(&integration, &agents("Jane"), now, false).await.unwrap();
    import.sync_statuses(&integration, &statuses("Lunch"), now).await.unwrap();
    env.put_items(vec![item(segment(
        T,
        id,
        "jane.doe@acme.com",
        at(5, 12, 0),
        Some(at(5, 13, 0)),
        "Not Ready: Lunch",
    ))])
    .await;

    map(&env, id, "jane.doe@acme.com", "emp-1").await;
    let (status, _) =
        env.call("PUT", &status_path(id, "Not Ready: Lunch"), Some(T), Some(&json!({"activity_id": "lunch"}))).await;
    assert_eq!(status, 200);

    // The next imports see the same ids with changed names (so they rewrite the items).
    let later = now + chrono::Duration::days(2);
    import.sync_agents(&integration, &agents("Jane Doe"), later, false).await.unwrap();
    import.sync_statuses(&integration, &statuses("Lunch break"), later).await.unwrap();

    let list = env.get(&agents_path(id), T).await;
    assert_eq!(list["items"][0]["display_name"], "Jane Doe");
    assert_eq!(list["items"][0]["employee_id"], "emp-1", "the import keeps the mapping");
    let states = env.get("/agent-states?from=2024-03-05T00:00:00Z&to=2024-03-06T00:00:00Z&employee_id=emp-1", T).await;
    assert_eq!(states["items"][0]["activity_id"], "lunch");
    assert_eq!(states["items"][0]["status_name"], "Lunch break");
}
