//! DynamoDB storage of the ingest API (`push` integrations). Item shapes (all in the one table; every partition
//! key starts with the tenant):
//!
//! | item | PK | SK | |
//! | --- | --- | --- | --- |
//! | ingest key | `T#{t}#I#{int}` | `IKEY#{key id}` | SHA-256 of the secret, created, expires (grace) |
//! | call counter | `T#{t}#I#{int}` | `IRATE#{key id}#{minute}` | calls in that minute (TTL 1 h) |
//! | tenant call counter | `T#{t}` | `TRATE#{minute}` | calls of all the tenant's keys in that minute (TTL 1 h) |
//! | agent event | `T#{t}#I#{int}#EV#{agent}#{YYYY-MM-DD}` | `E#{at, RFC 3339 µs}#{event id}` | the event (TTL: day + 11 days; until 2026-12-07 the sort key was `E#{event id}`) |
//!
//! Queues, intervals, agents, statuses, segments and the import state are the import's items
//! ([`crate::items`]), so the query API reads pushed data exactly like pulled data; one shape only a push writes: an
//! interval item of zeros, for an all-zero interval where the completeness does not vouch for absent as zero.
//!
//! Deleting a push integration removes its key items (`delete_keys`) and keeps its data, as for every type; the
//! call counters and events expire by their TTL.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use acd_app::ingest::key::KeyLocator;
use acd_app::ingest::records::{AgentEvent, EventKey, QueueRecord};
use acd_app::ingest::{IngestStore, InsertedEvents, QueueCoverage, StoredKey, ZeroCoverage};
use acd_app::ports::{Completeness, ImportStore, StoreError, WriteCounts};
use acd_domain::{
    AgentSegment, Channel, ExternalAgent, ExternalStatus, Integration, IntegrationId, IntegrationStatus, IntervalStats,
    QueueId, TenantId,
};
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Put, TransactWriteItem, Update};
use chrono::{DateTime, Duration, Utc};
use futures::stream::{self, StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use serde_dynamo::aws_sdk_dynamodb_1::{from_item, from_items, to_attribute_value, to_item};

use crate::batch::{AbortAfter, write_all};
use crate::dynamo::{Item, is_conditional_failure, key, s, unless_condition_failed};
use crate::import_store::{DynamoImportStore, MissingName, agent_upsert};
use crate::items::{self, IntervalItem, SegmentItem, interval_sk, segment_pk, segment_sk};
use crate::keys::{self, integration_pk};
use crate::sdk_error;

const KEY_SK_PREFIX: &str = "IKEY#";
const RATE_SK_PREFIX: &str = "IRATE#";
const TENANT_RATE_SK_PREFIX: &str = "TRATE#";
const EVENT_SK_PREFIX: &str = "E#";

/// An event's sort key: `E#{at}#{event id}` (the instant with microseconds, fixed width: one id may name events at
/// several instants — a sender whose ids restart at its midnight).
fn event_sk(event: &AgentEvent) -> String {
    format!("{EVENT_SK_PREFIX}{}#{}", event.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true), event.event_id)
}
/// Events are needed while a late event can still touch their day or the day after it.
const EVENT_RETENTION_DAYS: i64 = acd_app::ingest::records::MAX_EVENT_LATENESS_DAYS + 3;
const CONCURRENCY: usize = 8;

pub fn key_sk(key_id: &str) -> String {
    format!("{KEY_SK_PREFIX}{key_id}")
}

pub fn event_pk(tenant: &TenantId, integration: IntegrationId, agent: &str, day: DateTime<Utc>) -> String {
    format!("{}#EV#{agent}#{}", integration_pk(tenant, integration), day.format("%Y-%m-%d"))
}

/// The sort key of a per-minute call counter (`count_call`): its prefix and the minute.
fn rate_sk(prefix: &str, window: DateTime<Utc>) -> String {
    format!("{prefix}{}", window.format("%Y-%m-%dT%H:%MZ"))
}

fn day_of(t: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::DurationRound as _;
    t.duration_trunc(Duration::days(1)).unwrap_or(t)
}

fn attribute<T: Serialize>(value: T) -> Result<AttributeValue, StoreError> {
    to_attribute_value(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn ser<T: Serialize>(value: T) -> Result<Item, StoreError> {
    to_item(value).map_err(|e| StoreError::Corrupt(format!("serializing: {e}")))
}

#[derive(Serialize, Deserialize)]
struct KeyItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    entity: String,
    #[serde(flatten)]
    key: StoredKey,
}

#[derive(Serialize, Deserialize)]
struct EventItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    ttl: i64,
    #[serde(flatten)]
    event: AgentEvent,
}

#[derive(Clone, Debug)]
pub struct DynamoIngestStore {
    pub client: Client,
    pub table: String,
    /// The import's store: agents, statuses and status updates are written exactly as the import writes them.
    pub imports: DynamoImportStore,
}

impl DynamoIngestStore {
    pub fn new(client: Client, table: String) -> Self {
        Self { imports: DynamoImportStore::new(client.clone(), table.clone()), client, table }
    }

    /// Adds one call to the counter item of the minute starting at `window` (in partition `pk`, sort key
    /// `{sk_prefix}{minute}`) unless it holds `limit` already (then false; a refused call is not counted). The item
    /// expires an hour after the minute.
    async fn count_call(
        &self,
        pk: String,
        sk_prefix: &str,
        window: DateTime<Utc>,
        limit: u32,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, rate_sk(sk_prefix, window))))
            .update_expression("ADD calls :one SET #ttl = :ttl")
            .condition_expression("attribute_not_exists(calls) OR calls < :limit")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":limit", AttributeValue::N(limit.to_string()))
            .expression_attribute_values(
                ":ttl",
                AttributeValue::N((window + Duration::hours(1)).timestamp().to_string()),
            )
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_conditional_failure(&e) => Ok(false),
            Err(e) => Err(sdk_error("UpdateItem(ingest rate)", e)),
        }
    }

    /// Takes one call back from the counter `count_call` keeps (never below zero; an absent counter stays absent).
    async fn uncount_call(&self, pk: String, sk_prefix: &str, window: DateTime<Utc>) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, rate_sk(sk_prefix, window))))
            .update_expression("ADD calls :minus_one")
            .condition_expression("calls > :zero")
            .expression_attribute_values(":minus_one", AttributeValue::N("-1".into()))
            .expression_attribute_values(":zero", AttributeValue::N("0".into()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_conditional_failure(&e) => Ok(()),
            Err(e) => Err(sdk_error("UpdateItem(ingest rate)", e)),
        }
    }

    async fn query_all(&self, pk: String, from: String, to: Option<String>) -> Result<Vec<Item>, StoreError> {
        let q = self
            .client
            .query()
            .table_name(&self.table)
            .consistent_read(true)
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":from", s(from));
        let q = match to {
            Some(to) => q
                .key_condition_expression("PK = :pk AND SK BETWEEN :from AND :to")
                .expression_attribute_values(":to", s(to)),
            None => q.key_condition_expression("PK = :pk AND begins_with(SK, :from)"),
        };
        all_pages(q, "Query").await
    }

    /// The integration's completeness as stored (its `STATE` item, read strongly consistent; none before the first
    /// declaration).
    async fn stored_completeness(&self, integration: &Integration) -> Result<Completeness, StoreError> {
        #[derive(Deserialize)]
        struct State {
            #[serde(default)]
            complete_from: Option<DateTime<Utc>>,
            #[serde(default)]
            complete_through: Option<DateTime<Utc>>,
        }
        let state_key = key(integration_pk(&integration.tenant_id, integration.id), items::STATE_SK.into());
        match self.imports.get(state_key, "GetItem(push completeness)").await? {
            None => Ok(Completeness::default()),
            Some(item) => from_item::<State>(item)
                .map(|s| Completeness { from: s.complete_from, through: s.complete_through })
                .map_err(|e| StoreError::Corrupt(format!("state: {e}"))),
        }
    }

    async fn write(&self, puts: Vec<Item>, deletes: Vec<Item>) -> Result<WriteCounts, StoreError> {
        let (written, deleted) = (puts.len() as u64, deletes.len() as u64);
        if written + deleted == 0 {
            return Ok(WriteCounts::default());
        }
        let counts = write_all(&self.client, &self.table, puts, deletes, 2, &AbortAfter::default()).await?;
        Ok(WriteCounts {
            written,
            deleted,
            write_requests: counts.requests,
            batches: counts.calls,
            ..Default::default()
        })
    }

    /// The earliest interval pushed for any queue of the integration (the queues' `data_from`; none before any).
    async fn earliest_data(&self, integration: &Integration) -> Result<Option<DateTime<Utc>>, StoreError> {
        #[derive(Deserialize)]
        struct Range {
            #[serde(default)]
            data_from: Option<DateTime<Utc>>,
        }
        let pk = integration_pk(&integration.tenant_id, integration.id);
        let items = self.query_all(pk, keys::QUEUE_SK_PREFIX.into(), None).await?;
        let ranges: Vec<Range> = from_items(items).map_err(|e| StoreError::Corrupt(format!("queue: {e}")))?;
        Ok(ranges.into_iter().filter_map(|r| r.data_from).min())
    }

    /// The integration's `complete_through` now (its `STATE` item; none before the first declaration).
    async fn complete_through(&self, integration: &Integration) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(self.stored_completeness(integration).await?.through)
    }

    /// Where the stored completeness vouches for a pushed zero as absent ([`ZeroCoverage`]): the `STATE` item and
    /// every queue's own bounds, read strongly consistent side by side, with the call's own `declared` declaration.
    async fn zero_coverage(
        &self,
        integration: &Integration,
        declared: Option<DateTime<Utc>>,
    ) -> Result<ZeroCoverage, StoreError> {
        #[derive(Deserialize)]
        struct Queue {
            external_id: String,
            #[serde(default)]
            complete_from: Option<DateTime<Utc>>,
            #[serde(default)]
            listed_through: Option<DateTime<Utc>>,
        }
        let pk = integration_pk(&integration.tenant_id, integration.id);
        let (integration, queues) = futures::try_join!(
            self.stored_completeness(integration),
            self.query_all(pk, keys::QUEUE_SK_PREFIX.into(), None),
        )?;
        let queues: Vec<Queue> = from_items(queues).map_err(|e| StoreError::Corrupt(format!("queue: {e}")))?;
        let queues = queues
            .into_iter()
            .map(|q| {
                let own = QueueCoverage { complete_from: q.complete_from, listed_through: q.listed_through };
                (q.external_id, own)
            })
            .collect();
        Ok(ZeroCoverage { integration, declared, queues })
    }

    /// Moves a queue's data range out to `[from, to]` (two conditional updates; a failed condition means the range
    /// already covers it).
    async fn extend_range(
        &self,
        pk: &str,
        sk: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let mut writes = 0;
        for (attr, value, cmp) in [("data_from", from, ">"), ("data_to", to, "<")] {
            let result = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key(pk.to_owned(), sk.to_owned())))
                .update_expression(format!("SET {attr} = :v"))
                .condition_expression(format!(
                    "attribute_exists(PK) AND (attribute_not_exists({attr}) OR {attr} {cmp} :v)"
                ))
                .expression_attribute_values(":v", attribute(value)?)
                .send()
                .await;
            writes += 1;
            unless_condition_failed(result, "UpdateItem(queue range)")?;
        }
        Ok(writes)
    }
}

/// Writes a new key's item in one transaction with a check that the integration record exists and is not being
/// deleted (no `deleting_at`), as the queue writes are checked ([`crate::dynamo::queue_transactions`]). `NotFound`
/// (nothing written) when it is gone or a tombstone. A rotation reads the record first and writes its key after:
/// unchecked, a key written after a DELETE removed the integration's keys ([`delete_keys`]) outlived it for good.
/// Now the write either commits before the tombstone, and the delete's strongly consistent read (made after the
/// tombstone) finds it, or it fails. Costs a create or rotation a transaction instead of a PutItem; no push call.
async fn put_key_of_live_integration(
    client: &Client,
    table: &str,
    locator: &KeyLocator,
    item: Item,
) -> Result<(), StoreError> {
    let record = crate::dynamo::key(keys::tenant_pk(&locator.tenant), keys::integration_sk(locator.integration));
    let check = ConditionCheck::builder()
        .table_name(table)
        .set_key(Some(record))
        .condition_expression("attribute_exists(PK) AND attribute_not_exists(deleting_at)")
        .build()
        .map_err(|e| StoreError::Backend(e.to_string()))?;
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(PK)")
        .build()
        .map_err(|e| StoreError::Backend(e.to_string()))?;
    let items = vec![
        TransactWriteItem::builder().condition_check(check).build(),
        TransactWriteItem::builder().put(put).build(),
    ];
    match client.transact_write_items().set_transact_items(Some(items)).send().await {
        Ok(_) => Ok(()),
        // The record check (the first item) failed: the integration is gone or being deleted.
        Err(e) if crate::dynamo::failed_conditions(&e).is_some_and(|f| f.first() == Some(&true)) => {
            Err(StoreError::NotFound)
        }
        Err(e) => Err(sdk_error("TransactWriteItems(ingest key)", e)),
    }
}

/// Every page of `query`'s items (`what` names the query in an error).
async fn all_pages(
    query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
    what: &str,
) -> Result<Vec<Item>, StoreError> {
    let mut out = Vec::new();
    let mut start: Option<Item> = None;
    loop {
        let page = query.clone().set_exclusive_start_key(start.take()).send().await.map_err(|e| sdk_error(what, e))?;
        out.extend(page.items.unwrap_or_default());
        match page.last_evaluated_key {
            Some(k) if !k.is_empty() => start = Some(k),
            _ => return Ok(out),
        }
    }
}

/// Removes every ingest key of an integration (its `IKEY#…` items): a step of a push integration's delete, run by
/// [`acd_app::ports::IntegrationRepo::delete`] before the record goes, so a delete that fails here keeps its
/// tombstone and its retry (or the import that finishes it) removes the rest. Idempotent. Until 2026-12-07 the keys
/// stayed for good (dead: every call reads the record, but each a hash of a credential kept without an owner).
/// The read is strongly consistent and comes after the tombstone; a key is only written next to a check that no
/// delete started ([`put_key_of_live_integration`]), so none is written after it. One Query (and a page per 1 MB)
/// and one DeleteItem per key; returns how many keys it removed. The call counters (`IRATE#…`) are left to their TTL
/// (an hour): a push that read the record before the tombstone may still count its call after this.
pub(crate) async fn delete_keys(
    client: &Client,
    table: &str,
    tenant: &TenantId,
    integration: IntegrationId,
) -> Result<u64, StoreError> {
    let query = crate::dynamo::prefix_query(client, table, integration_pk(tenant, integration), KEY_SK_PREFIX)
        .consistent_read(true)
        .projection_expression("PK, SK");
    let keys = all_pages(query, "Query(ingest keys to delete)").await?;
    let removed = keys.len() as u64;
    // Every delete is attempted and awaited whatever the others do (none is left in flight behind an error).
    let results: Vec<Result<(), StoreError>> = stream::iter(keys.into_iter().map(|key| async move {
        client
            .delete_item()
            .table_name(table)
            .set_key(Some(key))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error("DeleteItem(ingest key of a deleted integration)", e))
    }))
    .buffer_unordered(CONCURRENCY)
    .collect()
    .await;
    results.into_iter().collect::<Result<Vec<()>, _>>()?;
    Ok(removed)
}

#[async_trait]
impl IngestStore for DynamoIngestStore {
    async fn put_key(&self, locator: &KeyLocator, secret_hash: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        let item = ser(KeyItem {
            pk: integration_pk(&locator.tenant, locator.integration),
            sk: key_sk(&locator.key_id),
            entity: "ingest_key".into(),
            key: StoredKey {
                key_id: locator.key_id.clone(),
                secret_hash: secret_hash.to_owned(),
                created_at: now,
                expires_at: None,
            },
        })?;
        put_key_of_live_integration(&self.client, &self.table, locator, item).await
    }

    async fn get_key(&self, locator: &KeyLocator) -> Result<Option<StoredKey>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(integration_pk(&locator.tenant, locator.integration), key_sk(&locator.key_id))))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("GetItem(ingest key)", e))?;
        match out.item {
            None => Ok(None),
            Some(item) => {
                let parsed: Vec<KeyItem> = from_items(vec![item]).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                Ok(parsed.into_iter().next().map(|k| k.key))
            }
        }
    }

    async fn list_keys(&self, tenant: &TenantId, integration: IntegrationId) -> Result<Vec<StoredKey>, StoreError> {
        let items = self.query_all(integration_pk(tenant, integration), KEY_SK_PREFIX.into(), None).await?;
        let keys: Vec<KeyItem> = from_items(items).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(keys.into_iter().map(|k| k.key).collect())
    }

    async fn expire_keys(
        &self,
        tenant: &TenantId,
        integration: IntegrationId,
        keep: &str,
        kept_created_at: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        // Only keys issued before `keep`: an overlapping rotation's newer key is never ended, whether it was written
        // before this listing or after it (then it is not listed). The order needs no condition on the write:
        // `created_at` and the key id never change, and a key id is never reused (random, written only when absent),
        // so the order read here holds at the write. The condition keeps an end given meanwhile (the first end
        // given stays) and writes nothing for a key revoked meanwhile.
        for k in self.list_keys(tenant, integration).await? {
            if !k.issued_before(kept_created_at, keep) || k.expires_at.is_some() {
                continue;
            }
            let result = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key(integration_pk(tenant, integration), key_sk(&k.key_id))))
                .update_expression("SET expires_at = :at")
                .condition_expression("attribute_exists(PK) AND attribute_not_exists(expires_at)")
                .expression_attribute_values(":at", attribute(at)?)
                .send()
                .await;
            unless_condition_failed(result, "UpdateItem(ingest key expiry)")?;
        }
        Ok(())
    }

    async fn delete_key(&self, locator: &KeyLocator) -> Result<bool, StoreError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(integration_pk(&locator.tenant, locator.integration), key_sk(&locator.key_id))))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| sdk_error("DeleteItem(ingest key)", e))?;
        Ok(out.attributes.is_some_and(|a| !a.is_empty()))
    }

    async fn take_call(&self, locator: &KeyLocator, window: DateTime<Utc>, limit: u32) -> Result<bool, StoreError> {
        let prefix = format!("{RATE_SK_PREFIX}{}#", locator.key_id);
        self.count_call(integration_pk(&locator.tenant, locator.integration), &prefix, window, limit).await
    }

    async fn take_tenant_call(&self, tenant: &TenantId, window: DateTime<Utc>, limit: u32) -> Result<bool, StoreError> {
        self.count_call(keys::tenant_pk(tenant), TENANT_RATE_SK_PREFIX, window, limit).await
    }

    async fn give_back_call(&self, locator: &KeyLocator, window: DateTime<Utc>) -> Result<(), StoreError> {
        let prefix = format!("{RATE_SK_PREFIX}{}#", locator.key_id);
        self.uncount_call(integration_pk(&locator.tenant, locator.integration), &prefix, window).await
    }

    async fn give_back_tenant_call(&self, tenant: &TenantId, window: DateTime<Utc>) -> Result<(), StoreError> {
        self.uncount_call(keys::tenant_pk(tenant), TENANT_RATE_SK_PREFIX, window).await
    }

    async fn upsert_queues(
        &self,
        integration: &Integration,
        queues: &[QueueRecord],
        now: DateTime<Utc>,
    ) -> Result<WriteCounts, StoreError> {
        let (tenant, id) = (&integration.tenant_id, integration.id);
        let pk = integration_pk(tenant, id);
        // The queue name index (as the import keeps it): the pieces of every new, renamed or re-channelled name are
        // written before the queue, the old name's removed; the integration is marked once all its queues are in it.
        #[derive(Deserialize)]
        struct Stored {
            external_id: String,
            name: String,
            name_lower: String,
            channel: Channel,
            #[serde(default)]
            search_indexed: bool,
        }
        let (stored, complete_through) = futures::try_join!(
            self.query_all(pk.clone(), keys::QUEUE_SK_PREFIX.into(), None),
            self.complete_through(integration),
        )?;
        let stored: Vec<Stored> = from_items(stored).map_err(|e| StoreError::Corrupt(format!("queue: {e}")))?;
        let mut stored: HashMap<String, Stored> = stored.into_iter().map(|q| (q.external_id.clone(), q)).collect();
        let (mut index_puts, mut index_deletes) = (Vec::new(), Vec::new());
        let mut new = HashSet::new();
        for record in queues {
            let q = &record.queue;
            let queue_id = QueueId::new(id, q.external_id.clone());
            let previous = stored.remove(&q.external_id);
            if previous.is_none() {
                new.insert(q.external_id.as_str());
            }
            let indexed = previous.filter(|p| p.search_indexed);
            let lower = q.name.to_lowercase();
            if indexed.as_ref().is_none_or(|p| p.name_lower != lower || p.channel != q.channel) {
                index_puts.extend(items::queue_search_items(tenant, &q.name, &queue_id, q.channel));
            }
            if let Some(p) = indexed.filter(|p| p.name_lower != lower) {
                index_deletes.extend(items::queue_search_items(tenant, &p.name, &queue_id, p.channel));
            }
        }
        // Queues pushed before and not now: all indexed already, or the mark waits.
        let all_indexed = stored.values().all(|q| q.search_indexed);
        let index = self.write(index_puts, index_deletes).await?;
        let mut updates = Vec::with_capacity(queues.len());
        for record in queues {
            let q = &record.queue;
            let queue_id = QueueId::new(id, q.external_id.clone());
            let mut values = HashMap::from([
                (":gpk".to_owned(), s(items::queues_gsi_pk(tenant))),
                (":gsk".to_owned(), s(items::queues_gsi_sk(&q.name, &queue_id))),
                (":entity".to_owned(), s("queue")),
                (":qid".to_owned(), s(queue_id.to_string())),
                (":int".to_owned(), s(id.to_string())),
                (":iname".to_owned(), s(integration.name.as_str())),
                (":ext".to_owned(), s(q.external_id.clone())),
                (":name".to_owned(), s(q.name.clone())),
                (":lower".to_owned(), s(q.name.to_lowercase())),
                (":channel".to_owned(), attribute(q.channel)?),
                (":minutes".to_owned(), AttributeValue::N(acd_domain::INTERVAL_MINUTES.to_string())),
                (":active".to_owned(), AttributeValue::Bool(record.active)),
                (":now".to_owned(), attribute(now)?),
                (":indexed".to_owned(), AttributeValue::Bool(true)),
            ]);
            let mut update = "SET GSI1PK = :gpk, GSI1SK = :gsk, entity = :entity, queue_id = :qid, \
                              integration_id = :int, integration_name = :iname, external_id = :ext, #name = :name, \
                              name_lower = :lower, channel = :channel, interval_minutes = :minutes, active = :active, \
                              last_seen = :now, first_seen = if_not_exists(first_seen, :now), #indexed = :indexed"
                .to_owned();
            // A new queue's statistics are complete from where the integration's are now (as the import sets a
            // queue it lists for the first time): the earlier declarations did not cover it, so its history before
            // must not read as complete zeros. A queue pushed before keeps what it had (absent: the integration's).
            if let Some(through) = complete_through.filter(|_| new.contains(q.external_id.as_str())) {
                update.push_str(", complete_from = if_not_exists(complete_from, :ct)");
                values.insert(":ct".to_owned(), attribute(through)?);
            }
            let names = HashMap::from([
                ("#name".to_owned(), "name".to_owned()),
                ("#indexed".to_owned(), items::SEARCH_INDEXED.to_owned()),
            ]);
            let update = Update::builder()
                .table_name(&self.table)
                .set_key(Some(key(pk.clone(), keys::queue_sk(&q.external_id))))
                .update_expression(update)
                .set_expression_attribute_names(Some(names))
                .set_expression_attribute_values(Some(values))
                .build()
                .map_err(|e| StoreError::Backend(e.to_string()))?;
            updates.push(TransactWriteItem::builder().update(update).build());
        }
        let n = updates.len() as u64;
        // In transactions checking the integration record, as the import writes its queues: a push that overlaps
        // a DELETE can never make a deleted integration's queues active again.
        let (requests, transactions) = crate::dynamo::queue_transactions(
            &self.client,
            &self.table,
            integration,
            updates,
            || Ok(()),
            "pushed queues",
        )
        .await?;
        if all_indexed {
            self.imports.mark_queue_search(integration).await?;
        }
        Ok(WriteCounts {
            written: n,
            write_requests: requests + index.write_requests,
            batches: transactions + index.batches,
            ..Default::default()
        })
    }

    async fn queue_channels(&self, integration: &Integration) -> Result<HashMap<String, Channel>, StoreError> {
        #[derive(Deserialize)]
        struct Seen {
            external_id: String,
            channel: Channel,
        }
        let pk = integration_pk(&integration.tenant_id, integration.id);
        let items = self.query_all(pk, keys::QUEUE_SK_PREFIX.into(), None).await?;
        let seen: Vec<Seen> = from_items(items).map_err(|e| StoreError::Corrupt(format!("queue: {e}")))?;
        Ok(seen.into_iter().map(|q| (q.external_id, q.channel)).collect())
    }

    async fn put_intervals(
        &self,
        integration: &Integration,
        stats: &[IntervalStats],
        declared: Option<DateTime<Utc>>,
    ) -> Result<WriteCounts, StoreError> {
        let tenant = &integration.tenant_id;
        // Read only for a call with an all-zero interval (a call with contacts only writes as before).
        let coverage = if stats.iter().any(IntervalStats::is_zero) {
            Some(self.zero_coverage(integration, declared).await?)
        } else {
            None
        };
        let (mut puts, mut deletes) = (Vec::new(), Vec::new());
        let mut ranges: BTreeMap<&str, (DateTime<Utc>, DateTime<Utc>)> = BTreeMap::new();
        for st in stats {
            let pk = items::queue_data_pk(tenant, &QueueId::new(integration.id, st.queue_external_id.clone()));
            let vouched = coverage.as_ref().is_some_and(|c| c.vouches_for(&st.queue_external_id, st.interval_start));
            if st.is_zero() && vouched {
                // Absent reads as zero where the completeness vouches for it: a correction to zero removes the item.
                // Elsewhere absent reads as not fetched (until 2026-12-07 every pushed zero was a delete, and read
                // so before a queue's own `complete_from`), so a zero is stored as one, like contacts.
                deletes.push(key(pk, interval_sk(st.interval_start)));
            } else {
                puts.push(ser(IntervalItem {
                    sk: interval_sk(st.interval_start),
                    pk,
                    start: st.interval_start,
                    offered: st.offered,
                    handled: st.handled,
                    abandoned: st.abandoned,
                    handle_ms: st.handle_time_ms,
                    answer_ms: st.answer_time_ms,
                    sl: st.answered_within_sl,
                })?);
            }
            let range = ranges.entry(&st.queue_external_id).or_insert((st.interval_start, st.interval_start));
            range.0 = range.0.min(st.interval_start);
            range.1 = range.1.max(st.interval_start);
        }
        let mut counts = self.write(puts, deletes).await?;
        let pk = integration_pk(tenant, integration.id);
        // One queue item each: `CONCURRENCY` queues at a time (one after another, 1,000 queues took 2,000
        // sequential UpdateItems); a queue's two updates stay in order. The first failure fails the call.
        let pk = &pk;
        let ranges: Vec<(String, DateTime<Utc>, DateTime<Utc>)> =
            ranges.into_iter().map(|(queue, (from, to))| (keys::queue_sk(queue), from, to)).collect();
        let writes: Vec<u64> = stream::iter(
            ranges.into_iter().map(|(sk, from, to)| async move { self.extend_range(pk, &sk, from, to).await }),
        )
        .buffer_unordered(CONCURRENCY)
        .try_collect()
        .await?;
        counts.write_requests += writes.iter().sum::<u64>();
        Ok(counts)
    }

    async fn declare_complete(
        &self,
        integration: &Integration,
        first: DateTime<Utc>,
        through: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let state_key = key(integration_pk(&integration.tenant_id, integration.id), items::STATE_SK.into());
        // The usual call: completeness declared before, moved forward.
        let moved = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(state_key.clone()))
            .update_expression("SET complete_through = :t")
            .condition_expression("attribute_exists(complete_from) AND complete_through < :t")
            .expression_attribute_values(":t", attribute(through)?)
            .send()
            .await;
        match moved {
            Ok(_) => return Ok(()),
            Err(e) if is_conditional_failure(&e) => {}
            Err(e) => return Err(sdk_error("UpdateItem(push completeness)", e)),
        }
        // The first declaration (or one that does not move forward): complete from the earliest data ever pushed
        // too, not only from this call's — a sender that back-fills in calls without a declaration and then
        // declares in an empty call declares those intervals complete (until 2026-12-07 they stayed incomplete).
        let earliest = self.earliest_data(integration).await?;
        let first = earliest.map_or(first, |e| e.min(first));
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(state_key))
            .update_expression("SET complete_through = :t, complete_from = if_not_exists(complete_from, :f)")
            .condition_expression("attribute_not_exists(complete_through) OR complete_through < :t")
            .expression_attribute_values(":t", attribute(through)?)
            .expression_attribute_values(":f", attribute(first)?)
            .send()
            .await;
        unless_condition_failed(result, "UpdateItem(push completeness)") // a failed condition: never moves back
    }

    async fn insert_events(
        &self,
        integration: &Integration,
        events: &[AgentEvent],
    ) -> Result<InsertedEvents, StoreError> {
        let tenant = &integration.tenant_id;
        let mut by_partition: BTreeMap<String, Vec<(usize, &AgentEvent)>> = BTreeMap::new();
        for (i, e) in events.iter().enumerate() {
            by_partition.entry(event_pk(tenant, integration.id, &e.agent, day_of(e.at))).or_default().push((i, e));
        }
        let pks: Vec<String> = by_partition.keys().cloned().collect();
        let stored: Vec<(String, Vec<Item>)> = stream::iter(pks.into_iter().map(|pk| async move {
            self.query_all(pk.clone(), EVENT_SK_PREFIX.into(), None).await.map(|items| (pk, items))
        }))
        .buffer_unordered(CONCURRENCY)
        .try_collect()
        .await?;
        let reads = stored.len() as u64;
        // Every stored event by partition and key ([`AgentEvent::key`], read from the event the item holds:
        // items stored before the instant was in the sort key are found the same way), so a repeat of its key is
        // compared with it (same content: a duplicate; other content: a conflict).
        let mut by_key: HashMap<String, HashMap<EventKey, AgentEvent>> = HashMap::new();
        for (pk, items) in stored {
            let items: Vec<EventItem> = from_items(items).map_err(|e| StoreError::Corrupt(format!("event: {e}")))?;
            by_key.insert(pk, items.into_iter().map(|i| (i.event.key(), i.event)).collect());
        }
        let (mut inserted, mut puts, mut conflicts) = (Vec::new(), Vec::new(), Vec::new());
        for (pk, group) in by_partition {
            for (i, e) in group {
                let sk = event_sk(e);
                match by_key.get(&pk).and_then(|s| s.get(&e.key())) {
                    Some(stored) if stored.same_event(e) => continue, // a duplicate: ignored
                    Some(stored) => conflicts.push((i, stored.clone())),
                    None => {
                        let ttl = (day_of(e.at) + Duration::days(EVENT_RETENTION_DAYS + 1)).timestamp();
                        puts.push(ser(EventItem { pk: pk.clone(), sk, ttl, event: e.clone() })?);
                        inserted.push(e.clone());
                    }
                }
            }
        }
        if !conflicts.is_empty() {
            // All or nothing: the call is refused, none of its events stored.
            conflicts.sort_by_key(|(i, _)| *i);
            let counts = WriteCounts { reads, ..Default::default() };
            return Ok(InsertedEvents { inserted: Vec::new(), conflicts, counts });
        }
        let mut counts = self.write(puts, Vec::new()).await?;
        counts.reads += reads;
        Ok(InsertedEvents { inserted, conflicts, counts })
    }

    async fn day_events(
        &self,
        integration: &Integration,
        agent: &str,
        day: DateTime<Utc>,
    ) -> Result<Vec<AgentEvent>, StoreError> {
        let pk = event_pk(&integration.tenant_id, integration.id, agent, day);
        let items = self.query_all(pk, EVENT_SK_PREFIX.into(), None).await?;
        let events: Vec<EventItem> = from_items(items).map_err(|e| StoreError::Corrupt(format!("event: {e}")))?;
        Ok(events.into_iter().map(|e| e.event).collect())
    }

    async fn write_day_segments(
        &self,
        integration: &Integration,
        agent: &str,
        day: DateTime<Utc>,
        segments: &[AgentSegment],
    ) -> Result<WriteCounts, StoreError> {
        let pk = segment_pk(&integration.tenant_id, integration.id, agent);
        let end = day + Duration::days(1) - Duration::milliseconds(1);
        let stored = self.query_all(pk.clone(), segment_sk(day), Some(segment_sk(end))).await?;
        let stored: Vec<SegmentItem> = from_items(stored).map_err(|e| StoreError::Corrupt(format!("segment: {e}")))?;
        let mut old: HashMap<String, SegmentItem> = stored.into_iter().map(|s| (s.sk.clone(), s)).collect();
        let (mut puts, mut unchanged) = (Vec::new(), 0);
        let shared: std::sync::Arc<str> = pk.as_str().into();
        for p in segments.iter().filter(|p| p.start >= day && p.start <= end) {
            let item = SegmentItem::of(shared.clone(), p);
            match old.remove(&item.sk) {
                Some(previous) if previous == item => unchanged += 1,
                _ => puts.push(ser(&item)?),
            }
        }
        let deletes: Vec<Item> = old.into_keys().map(|sk| key(pk.clone(), sk)).collect();
        let mut counts = self.write(puts, deletes).await?;
        counts.unchanged = unchanged;
        counts.reads += 1;
        Ok(counts)
    }

    async fn discover(
        &self,
        integration: &Integration,
        agents: &[ExternalAgent],
        statuses: &[ExternalStatus],
        now: DateTime<Utc>,
    ) -> Result<WriteCounts, StoreError> {
        // Agents: upserted like the import does, but never marked inactive (a push lists no full catalogue).
        #[derive(Deserialize)]
        struct Seen {
            external_id: String,
            #[serde(default)]
            display_name: Option<String>,
            last_seen: DateTime<Utc>,
        }
        let pk = integration_pk(&integration.tenant_id, integration.id);
        let stored = self.query_all(pk.clone(), items::AGENT_SK_PREFIX.into(), None).await?;
        let stored: Vec<Seen> = from_items(stored).map_err(|e| StoreError::Corrupt(format!("agent: {e}")))?;
        let stored: HashMap<String, Seen> = stored.into_iter().map(|a| (a.external_id.clone(), a)).collect();
        let mut updates = Vec::new();
        for agent in agents {
            let known = stored.get(&agent.external_id);
            let stale = known.is_none_or(|k| {
                (agent.display_name.is_some() && k.display_name != agent.display_name)
                    || now - k.last_seen >= Duration::days(1)
            });
            if stale {
                updates.push(agent_upsert(&pk, integration, agent, now, MissingName::Keep)?);
            }
        }
        let mut counts = self.imports.upsert(updates, 0).await?;
        counts.reads = 1;
        counts += self.imports.sync_statuses(integration, statuses, now).await?;
        Ok(counts)
    }

    async fn set_status(&self, integration: &Integration, status: &IntegrationStatus) -> Result<bool, StoreError> {
        self.imports.set_status(&integration.tenant_id, integration.id, status).await
    }

    async fn status_ids(&self, integration: &Integration) -> Result<BTreeSet<String>, StoreError> {
        #[derive(Deserialize)]
        struct Status {
            status_id: String,
        }
        let pk = integration_pk(&integration.tenant_id, integration.id);
        let stored = self.query_all(pk, items::STATUS_SK_PREFIX.into(), None).await?;
        let stored: Vec<Status> = from_items(stored).map_err(|e| StoreError::Corrupt(format!("status: {e}")))?;
        Ok(stored.into_iter().map(|s| s.status_id).collect())
    }
}
