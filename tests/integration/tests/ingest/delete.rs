//! Deleting a push integration (the ingest review of 2026-12-07): its ingest keys go with it — also when the
//! DELETE fails half-way and is finished by its retry or by the import, and when a rotation that read the record
//! before the DELETE writes its key after it — and a push that overlaps the DELETE leaves what a push just before it
//! would have left (the delete keeps the data; queues stay inactive, the record stays gone).

use super::*;
use crate::dynamo_faults::{Answer, DynamoFaults, Fault};
use acd_app::http::TenantAuth;
use acd_app::ports::{IntegrationRepo, Page, StoreError};
use acd_domain::{Integration, IntegrationId, TenantId};
use acd_integration_tests::FakeAcd;
use std::sync::{Arc, Mutex};

/// Every item of the integration's own partition (`T#{t}#I#{id}`): keys, call counters, queues, state.
async fn partition(env: &Env, id: &str) -> Vec<Item> {
    let pk = acd_aws::keys::integration_pk(&tenant(T), id.parse().unwrap());
    let out = env
        .stack
        .clients
        .dynamodb()
        .query()
        .table_name(&env.stack.settings.table_name)
        .key_condition_expression("PK = :pk")
        .expression_attribute_values(":pk", aws_sdk_dynamodb::types::AttributeValue::S(pk))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    out.items.unwrap_or_default()
}

/// The sort keys of the integration's ingest key items (`IKEY#…`).
async fn key_items(env: &Env, id: &str) -> Vec<String> {
    let sk = |i: &Item| i["SK"].as_s().unwrap().clone();
    partition(env, id).await.iter().map(sk).filter(|sk| sk.starts_with("IKEY#")).collect()
}

/// A push integration with three keys (created, rotated twice) and a pushed queue: (its id, its first key).
async fn push_integration_with_keys(env: &Env, ingest: &IngestApi, name: &str) -> (String, String) {
    let (_, id, key) = create_push(env, &json!({"name": name, "type": "push"})).await;
    for _ in 0..2 {
        let (status, rotated) = env.admin("POST", &format!("/integrations/{id}/ingest-keys"), T, None).await;
        assert_eq!(status, 201, "{rotated}");
    }
    let queues = json!({"queues": [{"external_id": "q1", "name": "Q1", "channel": "calls"}]});
    assert_eq!(push(ingest, Some(&key), "queues", &queues).await.0, 200);
    assert_eq!(key_items(env, &id).await.len(), 3);
    (id, key)
}

/// Until 2026-12-07 a DELETE removed the record, its name, schedule and secret, and left every `IKEY#` item of the
/// integration's partition for good: dead (every call reads the record), but the hashes of its credentials kept
/// with no owner and no API to remove them. Now they go with the record; the pushed data (the queue, inactive) stays.
#[tokio::test]
async fn deleting_a_push_integration_removes_its_ingest_keys_and_keeps_its_data() {
    let env = Env::start().await;
    let ingest = wiring::ingest_api(&env.stack.settings, &env.stack.clients);
    let (id, key) = push_integration_with_keys(&env, &ingest, "Keys go").await;

    let (status, _) = env.admin("DELETE", &format!("/integrations/{id}"), T, None).await;
    assert_eq!(status, 204);
    assert_eq!(key_items(&env, &id).await, Vec::<String>::new(), "no ingest key outlives its integration");
    let items = partition(&env, &id).await;
    let queue = items.iter().find(|i| i["SK"].as_s().unwrap().starts_with(acd_aws::keys::QUEUE_SK_PREFIX));
    let active = queue.expect("the pushed queue stays").get("active").and_then(|v| v.as_bool().ok()).copied();
    assert_eq!(active, Some(false), "inactive");
    assert_eq!(push(&ingest, Some(&key), "queues", &json!({"queues": []})).await.0, 401);
    assert_eq!(env.admin("DELETE", &format!("/integrations/{id}"), T, None).await.0, 404, "the delete is done");
}

/// A DELETE whose key removal fails (DynamoDB refuses a DeleteItem) answers 503 and keeps its tombstone: the keys
/// it did not remove are still there, dead (the integration is invisible, its keys 401). Its retry answers 204 and
/// removes them; a DELETE nobody retries is finished by the import once the tombstone grace is over (the push
/// integration's schedule runs the silence watch, which finds the tombstone first), keys included.
#[tokio::test]
async fn a_delete_that_failed_removing_the_keys_is_finished_by_its_retry_or_by_the_import() {
    let env = Env::start().await;
    let ingest = wiring::ingest_api(&env.stack.settings, &env.stack.clients);
    let faults = DynamoFaults::start(&env.stack.moto.endpoint).await;
    let auth = TenantAuth::JwtClaim(TenantAuth::DEFAULT_CLAIM.into());
    let faulty = wiring::integrations_api(&env.stack.settings, &faults.clients().await, Arc::new(FakeAcd), auth);
    let failing_delete = |id: &str| {
        let request = acd_integration_tests::api_request("DELETE", &format!("/integrations/{id}"), Some(T), None);
        let api = faulty.clone();
        async move { decode(api.handle(request).await) }
    };
    let refuse_one_key_delete = || {
        let fault = Fault {
            operations: &["DeleteItem"],
            body_contains: "IKEY#",
            answer: Answer::Denied,
            until: None,
            times: Some(1),
        };
        faults.arm(fault);
    };

    // Retried by the client.
    let (id, key) = push_integration_with_keys(&env, &ingest, "Retried").await;
    refuse_one_key_delete();
    let (status, _, problem) = failing_delete(&id).await;
    assert_eq!(status, 503, "{problem}");
    faults.disarm();
    assert_eq!(key_items(&env, &id).await.len(), 1, "the refused key is still there, the others are gone");
    assert_eq!(env.admin("GET", &format!("/integrations/{id}"), T, None).await.0, 404, "a tombstone");
    assert_eq!(push(&ingest, Some(&key), "queues", &json!({"queues": []})).await.0, 401);
    assert_eq!(env.admin("DELETE", &format!("/integrations/{id}"), T, None).await.0, 204, "the retry finishes it");
    assert_eq!(key_items(&env, &id).await, Vec::<String>::new());

    // Never retried: the import finishes it after the grace.
    let (id, _) = push_integration_with_keys(&env, &ingest, "Left half-way").await;
    refuse_one_key_delete();
    assert_eq!(failing_delete(&id).await.0, 503);
    faults.disarm();
    let left = key_items(&env, &id).await;
    assert_eq!(left.len(), 1);
    let grace = std::time::Duration::from_secs(1);
    let (settings, clients) = (&env.stack.settings, &env.stack.clients);
    let factory = wiring::connector_factory(settings, acd_connectors::Endpoints::default()).expect("HTTP client");
    let config = acd_app::import::ImportConfig { tombstone_grace: grace, ..Default::default() };
    let importer = wiring::import_service(settings, clients, factory, config);
    let event = acd_app::import::ImportEvent { tenant_id: T.into(), integration_id: id.clone(), at_once: false };
    let run = || async {
        let deadline = acd_connectors::Deadline::after(std::time::Duration::from_secs(300));
        importer.run(&event, deadline).await.expect("not a failed invocation").detail
    };
    assert_eq!(run().await, "integration deleted");
    assert_eq!(key_items(&env, &id).await, left, "nothing removed within the grace");
    tokio::time::sleep(grace + std::time::Duration::from_millis(200)).await;
    assert_eq!(run().await, "integration deleted");
    assert_eq!(key_items(&env, &id).await, Vec::<String>::new(), "the import finished the delete, keys included");
    assert_eq!(env.admin("DELETE", &format!("/integrations/{id}"), T, None).await.0, 404, "the delete is done");
}

/// The record store of the integrations API's key routes, which lets a whole DELETE (`delete`, the integrations
/// service's) run right after its next read of a record: as an admin's DELETE that lands between a rotation's read
/// of the record and its key write.
struct DeletedAfterRead {
    inner: Arc<dyn IntegrationRepo>,
    delete: Mutex<Option<acd_app::integrations::IntegrationService>>,
}

#[async_trait::async_trait]
impl IntegrationRepo for DeletedAfterRead {
    async fn create(&self, integration: &Integration) -> Result<(), StoreError> {
        self.inner.create(integration).await
    }
    async fn get(&self, tenant: &TenantId, id: IntegrationId) -> Result<Option<Integration>, StoreError> {
        let read = self.inner.get(tenant, id).await?;
        let service = self.delete.lock().unwrap().take();
        if let Some(service) = service {
            service.delete(tenant, &id.to_string()).await.expect("the DELETE in between");
        }
        Ok(read)
    }
    async fn list(
        &self,
        tenant: &TenantId,
        limit: usize,
        after: Option<IntegrationId>,
    ) -> Result<Page<Integration>, StoreError> {
        self.inner.list(tenant, limit, after).await
    }
    async fn update(&self, previous: &Integration, updated: &Integration) -> Result<(), StoreError> {
        self.inner.update(previous, updated).await
    }
    async fn delete(&self, integration: &Integration) -> Result<(), StoreError> {
        self.inner.delete(integration).await
    }
    async fn mark_deleting(&self, integration: &Integration) -> Result<(), StoreError> {
        self.inner.mark_deleting(integration).await
    }
    async fn get_deleting(&self, tenant: &TenantId, id: IntegrationId) -> Result<Option<Integration>, StoreError> {
        self.inner.get_deleting(tenant, id).await
    }
    async fn deactivate_queues(&self, tenant: &TenantId, id: IntegrationId) -> Result<(), StoreError> {
        self.inner.deactivate_queues(tenant, id).await
    }
}

/// A rotation reads the record, then writes its key. A DELETE that runs in between removed the keys stored before
/// the new one landed: the new key outlived the integration for good (and the rotation answered 201 with it). A key
/// is now written only next to a check that the record exists without a tombstone, so the rotation answers 404 as a
/// rotation after the DELETE does, and nothing is left. The same for a key written while the delete is under way
/// (its tombstone set, its keys not removed yet).
#[tokio::test]
async fn a_key_issued_while_a_delete_runs_does_not_outlive_the_integration() {
    use acd_app::ingest::{IngestStore, key};

    let env = Env::start().await;
    let ingest = wiring::ingest_api(&env.stack.settings, &env.stack.clients);
    let (id, _) = push_integration_with_keys(&env, &ingest, "Rotated while deleted").await;
    let repo = Arc::new(DeletedAfterRead {
        inner: env.integrations.ingest.repo.clone(),
        delete: Mutex::new(Some(env.integrations.service.clone())),
    });
    let mut api = env.integrations.clone();
    api.ingest.repo = repo.clone();
    let path = format!("/integrations/{id}/ingest-keys");
    let (status, content_type, answer) = decode(api.handle(api_request("POST", &path, Some(T), None)).await);
    spec().check("POST", &path, status, &content_type, &answer);
    assert!(repo.delete.lock().unwrap().is_none(), "the DELETE ran between the read and the key write");
    assert_eq!(key_items(&env, &id).await, Vec::<String>::new(), "no key outlives the integration (answered {status})");
    assert_eq!((status, answer["code"].as_str()), (404, Some("not-found")), "{answer}");
    assert_eq!(env.admin("POST", &path, T, None).await.0, 404, "as a rotation after the DELETE");

    // Under way: the tombstone is set, the keys are not removed yet (a DELETE that failed after its tombstone).
    let (id, _) = push_integration_with_keys(&env, &ingest, "Tombstoned").await;
    let integration: IntegrationId = id.parse().unwrap();
    let dynamo = wiring::dynamo_store(&env.stack.settings, &env.stack.clients);
    dynamo.mark_deleting(&dynamo.get(&tenant(T), integration).await.unwrap().unwrap()).await.unwrap();
    let store = wiring::ingest_store(&env.stack.settings, &env.stack.clients);
    let late = key::issue(&tenant(T), integration);
    let written = store.put_key(&late.locator, &late.secret_hash, Utc::now()).await;
    assert!(matches!(written, Err(StoreError::NotFound)), "{written:?}");
    assert_eq!(key_items(&env, &id).await.len(), 3, "nothing written");
    assert_eq!(env.admin("DELETE", &format!("/integrations/{id}"), T, None).await.0, 204);
    assert_eq!(key_items(&env, &id).await, Vec::<String>::new());
}

/// The second finding of the review: a push reads the record, then writes; a DELETE in between. The DELETE removes
/// none of the pushed data (the product keeps a deleted integration's data: its queues, inactive, their intervals,
/// the agents' states), so what such a push writes afterwards is what it would have written a moment earlier: the
/// same items, read back by the same routes, and the DELETE's own work is not undone — its queues stay inactive
/// (their writes are checked against the record), its record stays gone (the status write is conditional), no key
/// comes back. The call is answered 200 (its data is stored), the next call with the key 401.
#[tokio::test]
async fn a_push_overlapping_a_delete_leaves_what_a_push_just_before_it_would_have() {
    let env = Env::start().await;
    let ingest = wiring::ingest_api(&env.stack.settings, &env.stack.clients);
    let (id, key) = push_integration_with_keys(&env, &ingest, "Pushed while deleted").await;
    let base = Utc::now().duration_trunc(Duration::hours(1)).unwrap() - Duration::hours(2);
    let interval = |start: DateTime<Utc>, offered: u64| {
        json!({"queue_external_id": "q1", "channel": "calls", "start": iso(start), "offered": offered,
               "handled": offered, "abandoned": 0, "handle_time_seconds": 60, "answer_time_seconds": 5})
    };
    let before = json!({"intervals": [interval(base, 4)]});
    assert_eq!(push(&ingest, Some(&key), "intervals", &before).await.0, 200);
    let event = |id: &str, minutes: i64, status: &str| {
        let at = iso(base + Duration::minutes(minutes));
        json!({"event_id": id, "agent": "agent-1", "status": status, "at": at})
    };
    assert_eq!(push(&ingest, Some(&key), "agent-events", &json!({"events": [event("e1", 0, "Ready")]})).await.0, 200);

    // The call's key check and record read, then the whole DELETE, then its writes.
    let now = Utc::now();
    let integration = ingest.service.authenticate(Some(secrecy::SecretString::from(key.clone())), now).await.unwrap();
    assert_eq!(env.admin("DELETE", &format!("/integrations/{id}"), T, None).await.0, 204);
    let overlapping = json!({"intervals": [interval(base + Duration::minutes(15), 6)],
                             "complete_through": iso(base + Duration::minutes(30))});
    let done = ingest.service.intervals(&integration, &overlapping, now).await.expect("applied");
    assert_eq!(done.accepted, 1);
    let events = json!({"events": [event("e2", 10, "Not Ready")]});
    assert_eq!(ingest.service.events(&integration, &events, now).await.expect("applied").accepted, 1);

    // Read back as a push before the DELETE: both intervals, complete through the declaration, both states.
    let listed = env.get(&format!("/queues?integration_id={id}&include_inactive=true"), T).await;
    let queue = &listed["items"][0];
    assert_eq!(queue["active"], false, "the queue stays inactive: {listed}");
    let queue_id = queue["id"].as_str().unwrap();
    let range =
        format!("from={}&to={}", iso(base).replace(".000", ""), iso(base + Duration::minutes(30)).replace(".000", ""));
    let read = env.get(&format!("/queues/{queue_id}/intervals?{range}"), T).await;
    let offered: Vec<(Value, Value)> =
        read["items"].as_array().unwrap().iter().map(|i| (i["offered"].clone(), i["complete"].clone())).collect();
    assert_eq!(offered, [(json!(4), json!(true)), (json!(6), json!(true))], "{read}");
    let segments = stored_segments(&env, &id, &["agent-1".to_owned()]).await;
    let starts: Vec<DateTime<Utc>> = segments.iter().map(|s| s.start).collect();
    assert_eq!(starts, [base, base + Duration::minutes(10)], "{segments:?}");

    // The DELETE's work stands.
    assert_eq!(env.admin("GET", &format!("/integrations/{id}"), T, None).await.0, 404, "no record again");
    assert_eq!(key_items(&env, &id).await, Vec::<String>::new());
    assert_eq!(push(&ingest, Some(&key), "intervals", &before).await.0, 401);
}

/// A push to an integration stored `failing` / `no_data` that overlaps a DELETE announces no recovery: its status
/// write is refused (the record is gone), so nothing recovered. Until 2026-12-07 it published
/// `integration.recovered` after `integration.deleted`.
#[tokio::test]
async fn a_push_overlapping_a_delete_announces_no_recovery() {
    let env = Env::start().await;
    let queue = crate::event_support::event_queue(&env.stack).await;
    let ingest = wiring::ingest_api(&env.stack.settings, &env.stack.clients);
    let (id, key) = push_integration_with_keys(&env, &ingest, "Silent, then deleted").await;
    let repo = wiring::dynamo_store(&env.stack.settings, &env.stack.clients);
    let stored = repo.get(&tenant(T), id.parse().unwrap()).await.unwrap().unwrap();
    let mut failing = stored.clone();
    failing.status.state = acd_domain::IntegrationState::Failing;
    failing.status.reason = Some(acd_domain::FailureReason::NoData);
    failing.failing_since = Some(Utc::now() - Duration::hours(1));
    failing.version += 1;
    repo.update(&stored, &failing).await.unwrap();

    // The call's key check and record read (failing), then the whole DELETE, then its writes and status.
    let now = Utc::now();
    let integration = ingest.service.authenticate(Some(secrecy::SecretString::from(key.clone())), now).await.unwrap();
    assert_eq!(integration.status.state, acd_domain::IntegrationState::Failing);
    assert_eq!(env.admin("DELETE", &format!("/integrations/{id}"), T, None).await.0, 204);
    let at = iso(now - Duration::minutes(1));
    let events = json!({"events": [{"event_id": "e1", "agent": "agent-1", "status": "Ready", "at": at}]});
    assert_eq!(ingest.service.events(&integration, &events, now).await.expect("applied").accepted, 1);

    let published = crate::event_support::received(&env.stack, &queue).await;
    let kinds: Vec<&str> = published.iter().map(|e| e["detail-type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["integration.deleted"], "{published:?}");
}
