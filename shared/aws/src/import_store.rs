//! DynamoDB implementation of the import's store. Item shapes in [`crate::items`].
//!
//! Writes of imported data are diffs: the items of a chunk are read first (a Query per queue or agent partition,
//! a few at a time), compared with what the ACD returned, and only new or changed items are put, vanished ones
//! deleted. Re-importing an unchanged window therefore writes nothing.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use acd_app::import::RunRecord;
use acd_app::import::plan::{self, listing_collapsed};
use acd_app::ports::{
    ImportState, ImportStore, LeaseKind, ListingCheck, QueueRange, RunLog, RunPage, StatesCheckpoint, StoreError,
    WriteCounts,
};
use acd_domain::{
    AgentSegment, ExternalAgent, ExternalStatus, Integration, IntegrationId, IntegrationStatus, IntervalStats, Queue,
    QueueId, RunId, TenantId, TimeWindow,
};
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Put, TransactWriteItem};
use chrono::{DateTime, Duration, Utc};
use futures::stream::{self, StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use serde_dynamo::aws_sdk_dynamodb_1::{from_item, from_items, to_attribute_value, to_item};

use crate::batch::{AbortAfter, write_all};
use crate::digest::{self, ChunkDigest};
use crate::dynamo::{Item, s};
use crate::items::{
    self, DEFAULT_ACTIVITY, IntervalItem, IntoItem, QueueItem, SegmentItem, StatusItem, interval_sk, segment_pk,
    segment_sk,
};
use crate::keys::{self, PK, SK, integration_pk};
use crate::sdk_error;

/// Reads of partitions run this many at a time.
const READ_CONCURRENCY: usize = 8;
/// Runs are kept this long (DynamoDB TTL on `ttl`).
const RUN_RETENTION_DAYS: i64 = 90;
/// Partitions compared at a time, and the number of pending writes that triggers a flush (a multiple of 25, so
/// batches stay full).
const DIFF_GROUP: usize = 64;
const WRITE_FLUSH: usize = 1_000;
/// Chunk digests are kept this long after the chunk's end: re-reads happen within the reconciliation window.
const DIGEST_RETENTION_DAYS: i64 = 35;

#[derive(Clone, Debug)]
pub struct DynamoImportStore {
    pub client: Client,
    pub table: String,
    pub abort: AbortAfter,
    /// BatchWriteItem calls in flight at once (`Settings::writes_in_flight`).
    pub writes_in_flight: usize,
}

fn key(pk: String, sk: String) -> Item {
    HashMap::from([(PK.to_owned(), s(pk)), (SK.to_owned(), s(sk))])
}

fn ser<T: Serialize>(value: T) -> Result<Item, StoreError> {
    to_item(value).map_err(|e| StoreError::Corrupt(format!("serializing: {e}")))
}

fn de<T: for<'de> Deserialize<'de>>(items: Vec<Item>, what: &str) -> Result<Vec<T>, StoreError> {
    from_items(items).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

fn attribute<T: Serialize>(value: T) -> Result<AttributeValue, StoreError> {
    to_attribute_value(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// One UpdateItem: key, update expression, values.
pub(crate) type Upsert = (Item, String, Item);

/// What an agent upsert does with the stored display name when the listed agent has none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MissingName {
    /// The ACD's listing is the whole truth: no name now means none.
    Remove,
    /// A pushed record may simply not carry it: keep the stored one.
    Keep,
}

/// The UpdateItem of one seen agent: active, `last_seen` now, `first_seen` kept, never touching its mapping.
pub(crate) fn agent_upsert(
    pk: &str,
    integration: &Integration,
    agent: &ExternalAgent,
    now: DateTime<Utc>,
    missing: MissingName,
) -> Result<Upsert, StoreError> {
    let mut values = HashMap::from([
        (":yes".to_owned(), AttributeValue::Bool(true)),
        (":entity".to_owned(), s("agent")),
        (":integration".to_owned(), s(integration.id.to_string())),
        (":external".to_owned(), s(agent.external_id.clone())),
        (":now".to_owned(), attribute(now)?),
    ]);
    let display = match (&agent.display_name, missing) {
        (Some(name), _) => {
            values.insert(":display".to_owned(), s(name.clone()));
            "SET display_name = :display, "
        }
        (None, MissingName::Remove) => "REMOVE display_name SET ",
        (None, MissingName::Keep) => "SET ",
    };
    let expression = format!(
        "{display}entity = :entity, integration_id = :integration, external_id = :external, \
         last_seen = :now, first_seen = if_not_exists(first_seen, :now), active = :yes"
    );
    Ok((key(pk.to_owned(), items::agent_sk(&agent.external_id)), expression, values))
}

/// Queue items written in one transaction, next to the check of the integration record (DynamoDB allows 100
/// actions a transaction).
const QUEUE_TRANSACTION: usize = 99;
/// An agent that was listed within this long counts as known to a listing check even without an `active` flag
/// (items written before the flag existed; `last_seen` moves once a day).
const AGENT_RECENTLY_SEEN_DAYS: i64 = 2;

/// What the import reads of a stored agent: its `active` flag (absent on items older than the flag) and when it was
/// last listed. The item's other attributes (mappings) are the mapping routes'.
#[derive(Deserialize)]
struct AgentSeen {
    external_id: String,
    #[serde(default)]
    display_name: Option<String>,
    last_seen: DateTime<Utc>,
    #[serde(default)]
    active: Option<bool>,
}

impl DynamoImportStore {
    /// The crash-simulation hook (`ImportConfig::abort_after_batches`) for writes other than BatchWriteItem calls:
    /// every write request of the import counts, so a simulated crash can fall on any of them.
    fn crash_point(&self) -> Result<(), StoreError> {
        if let Some(left) = &self.abort.0
            && left.fetch_sub(1, std::sync::atomic::Ordering::SeqCst) <= 0
        {
            return Err(StoreError::Backend("aborted by the test hook (simulated crash)".into()));
        }
        Ok(())
    }

    /// Puts queue items, each transaction conditional on the integration record existing and not being deleted
    /// (a tombstone): an import that overlaps a DELETE can never make a deleted integration's queues active
    /// again. `NotFound` when the record is gone or deleting.
    async fn put_queues(&self, integration: &Integration, puts: Vec<Item>) -> Result<(u64, u64), StoreError> {
        let (mut requests, mut calls) = (0, 0);
        let record_key = key(keys::tenant_pk(&integration.tenant_id), keys::integration_sk(integration.id));
        for chunk in puts.chunks(QUEUE_TRANSACTION) {
            self.crash_point()?;
            let check = ConditionCheck::builder()
                .table_name(&self.table)
                .set_key(Some(record_key.clone()))
                .condition_expression("attribute_exists(PK) AND attribute_not_exists(deleting_at)")
                .build()
                .map_err(|e| StoreError::Backend(e.to_string()))?;
            let mut items = vec![TransactWriteItem::builder().condition_check(check).build()];
            for item in chunk {
                let put = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(item.clone()))
                    .build()
                    .map_err(|e| StoreError::Backend(e.to_string()))?;
                items.push(TransactWriteItem::builder().put(put).build());
            }
            match self.client.transact_write_items().set_transact_items(Some(items)).send().await {
                Ok(_) => {}
                Err(e) => {
                    let deleted = e.as_service_error().is_some_and(|s| match s {
                        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c) => {
                            c.cancellation_reasons().first().and_then(|r| r.code()) == Some("ConditionalCheckFailed")
                        }
                        _ => false,
                    });
                    if deleted {
                        return Err(StoreError::NotFound);
                    }
                    return Err(sdk_error("TransactWriteItems(queues)", e));
                }
            }
            requests += chunk.len() as u64 + 1;
            calls += 1;
        }
        Ok((requests, calls))
    }

    /// Marks the integration record: every queue of it is in the queue name index (`items::SEARCH_INDEXED`). A
    /// record being deleted, gone, or already marked is left as it is (a PATCH rewrites the record without the mark;
    /// the next run sets it again).
    pub(crate) async fn mark_queue_search(&self, integration: &Integration) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::tenant_pk(&integration.tenant_id), keys::integration_sk(integration.id))))
            .update_expression("SET #indexed = :yes")
            .condition_expression(
                "attribute_exists(PK) AND attribute_not_exists(deleting_at) AND attribute_not_exists(#indexed)",
            )
            .expression_attribute_names("#indexed", items::SEARCH_INDEXED)
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_conditional_failure(&e) => Ok(()),
            Err(e) => Err(sdk_error("UpdateItem(integration search mark)", e)),
        }
    }

    /// Applies catalog updates (agents, statuses) with UpdateItem, a few at a time. UpdateItem (not a put) because
    /// these items also hold the admin's mappings, which the import must never overwrite, even when an admin maps
    /// an agent while a run is going.
    pub(crate) async fn upsert(&self, updates: Vec<Upsert>, unchanged: u64) -> Result<WriteCounts, StoreError> {
        let written = updates.len() as u64;
        for _ in 0..written {
            self.crash_point()?;
        }
        stream::iter(updates.into_iter().map(|(key, expression, values)| {
            let mut request = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key))
                .update_expression(expression.clone())
                .set_expression_attribute_values(Some(values));
            if expression.contains("#name") {
                request = request.expression_attribute_names("#name", "name");
            }
            async move { request.send().await.map_err(|e| sdk_error("UpdateItem(catalog)", e)) }
        }))
        .buffer_unordered(READ_CONCURRENCY)
        .try_collect::<Vec<_>>()
        .await?;
        Ok(WriteCounts { written, deleted: 0, unchanged, write_requests: written, batches: 0, reads: 0 })
    }

    /// An unconditional PutItem.
    async fn put(&self, item: Item, operation: &str) -> Result<(), StoreError> {
        self.crash_point()?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| sdk_error(operation, e))?;
        Ok(())
    }

    pub fn new(client: Client, table: String) -> Self {
        Self { client, table, abort: AbortAfter::default(), writes_in_flight: crate::batch::DEFAULT_IN_FLIGHT }
    }

    /// Every item of a partition whose sort key lies in `[from, to]` (or starts with `from` when `to` is None), and
    /// the number of Query calls it took.
    async fn query_range(&self, pk: String, from: String, to: Option<String>) -> Result<(Vec<Item>, u64), StoreError> {
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        let mut calls = 0;
        loop {
            let mut q = self.client.query().table_name(&self.table).expression_attribute_values(":pk", s(pk.clone()));
            q = match &to {
                Some(to) => q
                    .key_condition_expression("PK = :pk AND SK BETWEEN :from AND :to")
                    .expression_attribute_values(":from", s(from.clone()))
                    .expression_attribute_values(":to", s(to.clone())),
                None => q
                    .key_condition_expression("PK = :pk AND begins_with(SK, :from)")
                    .expression_attribute_values(":from", s(from.clone())),
            };
            let page = q.set_exclusive_start_key(start.take()).send().await.map_err(|e| sdk_error("Query", e))?;
            calls += 1;
            out.extend(page.items.unwrap_or_default());
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok((out, calls)),
            }
        }
    }

    async fn write(&self, puts: Vec<Item>, deletes: Vec<Item>, unchanged: u64) -> Result<WriteCounts, StoreError> {
        let (written, deleted) = (puts.len() as u64, deletes.len() as u64);
        let counts = write_all(&self.client, &self.table, puts, deletes, self.writes_in_flight, &self.abort).await?;
        Ok(WriteCounts {
            written,
            deleted,
            unchanged,
            write_requests: counts.requests,
            batches: counts.calls,
            reads: 0,
        })
    }

    /// The stored digest of a chunk starting at the same day, if it ends no later than `chunk_end`.
    async fn load_digest(
        &self,
        pk: &str,
        sk: &str,
        chunk_end: DateTime<Utc>,
    ) -> Result<Option<ChunkDigest>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(pk.to_owned(), sk.to_owned())))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("GetItem(digest)", e))?;
        let Some(item) = out.item else { return Ok(None) };
        let end = item.get("end").and_then(|v| v.as_s().ok()).and_then(|v| DateTime::parse_from_rfc3339(v).ok());
        // A digest made when the day's chunk ended earlier (today's chunk grows every run) still holds: nothing was
        // written after its end (a later write would have replaced or deleted it), so a partition whose new content
        // hashes the same has no items after that end either. A digest reaching past the chunk matches nothing.
        if end.is_none_or(|end| end > chunk_end) {
            return Ok(Some(ChunkDigest::default())); // present (to delete before writing), matching nothing
        }
        let parts = item.get("parts").and_then(|v| v.as_b().ok()).and_then(|b| ChunkDigest::decode(b.as_ref()));
        Ok(Some(parts.unwrap_or_default()))
    }

    /// Puts the `desired` items of each partition of `chunk` and deletes the `existing` ones not desired, leaving
    /// equal items alone. Partitions whose content the chunk's digest (`digest_sk`) already records are not read
    /// at all, nor is anything when the chunk is `fresh` (none of its items was ever written); `read` gives the
    /// existing items of one partition (and the Query calls it took). Partitions are compared a group at a time and
    /// writes flushed as they accumulate, so memory stays bounded however large the chunk.
    async fn diff_partitions<T, F, Fut>(
        &self,
        integration: &Integration,
        chunk: TimeWindow,
        fresh: bool,
        digest_sk: String,
        mut desired: BTreeMap<String, Vec<T>>,
        read: F,
    ) -> Result<WriteCounts, StoreError>
    where
        T: Serialize + for<'de> Deserialize<'de> + PartialEq + Keyed + IntoItem,
        F: Fn(String) -> Fut,
        Fut: std::future::Future<Output = Result<(Vec<Item>, u64), StoreError>>,
    {
        let digest_pk = integration_pk(&integration.tenant_id, integration.id);
        let mut digest = ChunkDigest::default();
        for (pk, items) in desired.iter_mut() {
            items.sort_by(|a, b| a.sk().cmp(b.sk()));
            digest.insert(pk, items).map_err(|e| StoreError::Corrupt(format!("digest: {e}")))?;
        }
        let use_digest = desired.len() <= digest::MAX_PARTITIONS;
        let mut counts = WriteCounts::default();
        let stored = if fresh {
            None
        } else {
            counts.reads += 1;
            self.load_digest(&digest_pk, &digest_sk, chunk.end).await?
        };
        if use_digest && let Some(stored) = &stored {
            desired.retain(|pk, items| {
                let known = digest.agrees(stored, pk);
                if known {
                    counts.unchanged += items.len() as u64;
                }
                !known
            });
        }

        let mut digest_present = stored.is_some();
        let mut changes = false;
        let (mut puts, mut deletes) = (Vec::new(), Vec::new());
        let mut partitions = desired.into_iter().peekable();
        while partitions.peek().is_some() {
            let group: Vec<(String, Vec<T>)> = partitions.by_ref().take(DIFF_GROUP).collect();
            let mut existing: HashMap<String, Vec<Item>> = HashMap::new();
            if !fresh {
                let pks: Vec<String> = group.iter().map(|(pk, _)| pk.clone()).collect();
                let read: Vec<(String, Vec<Item>, u64)> = stream::iter(pks.into_iter().map(|pk| {
                    let fut = read(pk.clone());
                    async move { fut.await.map(|(items, calls)| (pk, items, calls)) }
                }))
                .buffer_unordered(READ_CONCURRENCY)
                .try_collect()
                .await?;
                for (pk, items, calls) in read {
                    counts.reads += calls;
                    existing.insert(pk, items);
                }
            }
            let group_len = group.len();
            for (i, (pk, wanted)) in group.into_iter().enumerate() {
                let mut old: HashMap<String, T> = HashMap::new();
                for item in existing.remove(&pk).unwrap_or_default() {
                    match from_item::<T>(item) {
                        Ok(t) => {
                            old.insert(t.sk().to_owned(), t);
                        }
                        Err(e) => tracing::warn!(pk = %pk, error = %e, "unreadable item will be rewritten"),
                    }
                }
                for item in wanted {
                    match old.remove(item.sk()) {
                        Some(previous) if previous == item => counts.unchanged += 1,
                        _ => puts.push(item.into_item()),
                    }
                }
                deletes.extend(old.into_values().map(|t| key(pk.clone(), t.sk().to_owned())));
                // Flushed as soon as a flush is full (not once per group): a fresh day's group of 64 agents holds
                // several thousand items, and only one flush of them is held as attribute maps at a time.
                let last = partitions.peek().is_none() && i + 1 == group_len;
                if puts.len() + deletes.len() >= WRITE_FLUSH || (last && !(puts.is_empty() && deletes.is_empty())) {
                    changes = true;
                    if digest_present {
                        // The digest must never claim content that is not stored: gone before the first item
                        // changes.
                        self.delete_digest(&digest_pk, &digest_sk).await?;
                        counts.write_requests += 1;
                        digest_present = false;
                    }
                    // Full batches: what does not fill the last one waits for the next flush (keys are unique
                    // within a chunk, so the order of flushes does not matter).
                    let carry = if last { 0 } else { (puts.len() + deletes.len()) % crate::batch::MAX_BATCH };
                    let carried_puts = puts.split_off(puts.len() - carry.min(puts.len()));
                    let carried_deletes = deletes.split_off(deletes.len() - (carry - carried_puts.len()));
                    counts += self.write(std::mem::take(&mut puts), std::mem::take(&mut deletes), 0).await?;
                    (puts, deletes) = (carried_puts, carried_deletes);
                }
            }
        }

        let current = stored.as_ref().is_some_and(|s| *s == digest) && !changes;
        if use_digest && !current {
            self.put_digest(digest_pk, digest_sk, chunk.end, &digest).await?;
            counts.write_requests += 1;
        }
        Ok(counts)
    }

    async fn put_digest(
        &self,
        pk: String,
        sk: String,
        chunk_end: DateTime<Utc>,
        digest: &ChunkDigest,
    ) -> Result<(), StoreError> {
        let item = HashMap::from([
            (PK.to_owned(), s(pk)),
            (SK.to_owned(), s(sk)),
            ("entity".to_owned(), s("digest")),
            ("end".to_owned(), s(chunk_end.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))),
            ("parts".to_owned(), AttributeValue::B(Blob::new(digest.encode()))),
            (
                "ttl".to_owned(),
                AttributeValue::N((chunk_end + Duration::days(DIGEST_RETENTION_DAYS)).timestamp().to_string()),
            ),
        ]);
        self.put(item, "PutItem(digest)").await
    }

    async fn delete_digest(&self, pk: &str, sk: &str) -> Result<(), StoreError> {
        self.crash_point()?;
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(pk.to_owned(), sk.to_owned())))
            .send()
            .await
            .map_err(|e| sdk_error("DeleteItem(digest)", e))?;
        Ok(())
    }
}

/// Items with a sort key (for diffing).
trait Keyed {
    fn sk(&self) -> &str;
}
impl Keyed for IntervalItem {
    fn sk(&self) -> &str {
        &self.sk
    }
}
impl Keyed for SegmentItem {
    fn sk(&self) -> &str {
        &self.sk
    }
}

#[derive(Serialize, Deserialize)]
struct LeaseItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    run_id: RunId,
    expires_at: DateTime<Utc>,
    ttl: i64,
}

#[derive(Serialize, Deserialize)]
struct StatesCheckpointItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(flatten)]
    checkpoint: StatesCheckpoint,
}

#[derive(Serialize, Deserialize)]
struct StateItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(flatten)]
    state: ImportState,
}

#[derive(Serialize, Deserialize)]
struct RunItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    entity: String,
    ttl: i64,
    #[serde(flatten)]
    run: RunRecord,
}

fn is_conditional_failure<E: aws_sdk_dynamodb::error::ProvideErrorMetadata, R>(
    e: &aws_sdk_dynamodb::error::SdkError<E, R>,
) -> bool {
    e.as_service_error().and_then(|s| s.code()) == Some("ConditionalCheckFailedException")
}

impl DynamoImportStore {
    async fn acquire_lease_item(
        &self,
        tenant: &TenantId,
        id: IntegrationId,
        sk: &str,
        run: RunId,
        now: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let item = ser(LeaseItem {
            pk: integration_pk(tenant, id),
            sk: sk.into(),
            run_id: run,
            expires_at: expires,
            ttl: (expires + Duration::days(1)).timestamp(),
        })?;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK) OR expires_at < :now")
            .expression_attribute_values(":now", s(now.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_conditional_failure(&e) => Ok(false),
            Err(e) => Err(sdk_error("PutItem(lease)", e)),
        }
    }

    async fn release_lease_item(
        &self,
        tenant: &TenantId,
        id: IntegrationId,
        sk: &str,
        run: RunId,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(integration_pk(tenant, id), sk.into())))
            .condition_expression("run_id = :run")
            .expression_attribute_values(":run", s(run.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_conditional_failure(&e) => Ok(()), // someone else's lease by now: leave it
            Err(e) => Err(sdk_error("DeleteItem(lease)", e)),
        }
    }
}

/// The item of each lease kind.
fn lease_sk(kind: LeaseKind) -> &'static str {
    match kind {
        LeaseKind::Import => items::LEASE_SK,
        LeaseKind::AgentStates => items::STATES_LEASE_SK,
    }
}

#[async_trait]
impl ImportStore for DynamoImportStore {
    async fn acquire_lease(
        &self,
        kind: LeaseKind,
        tenant: &TenantId,
        id: IntegrationId,
        run: RunId,
        now: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.acquire_lease_item(tenant, id, lease_sk(kind), run, now, expires).await
    }

    async fn release_lease(
        &self,
        kind: LeaseKind,
        tenant: &TenantId,
        id: IntegrationId,
        run: RunId,
    ) -> Result<(), StoreError> {
        self.release_lease_item(tenant, id, lease_sk(kind), run).await
    }

    async fn lease_held(
        &self,
        kind: LeaseKind,
        tenant: &TenantId,
        id: IntegrationId,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(integration_pk(tenant, id), lease_sk(kind).into())))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("GetItem(lease)", e))?;
        match out.item {
            Some(item) => from_item::<LeaseItem>(item)
                .map(|l| l.expires_at >= now)
                .map_err(|e| StoreError::Corrupt(format!("lease: {e}"))),
            None => Ok(false),
        }
    }

    async fn load_states_checkpoint(
        &self,
        tenant: &TenantId,
        id: IntegrationId,
    ) -> Result<StatesCheckpoint, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(integration_pk(tenant, id), items::STATES_SK.into())))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("GetItem(states checkpoint)", e))?;
        match out.item {
            Some(item) => from_item::<StatesCheckpointItem>(item)
                .map(|s| s.checkpoint)
                .map_err(|e| StoreError::Corrupt(format!("states checkpoint: {e}"))),
            None => Ok(StatesCheckpoint::default()),
        }
    }

    async fn save_states_checkpoint(
        &self,
        tenant: &TenantId,
        id: IntegrationId,
        checkpoint: &StatesCheckpoint,
    ) -> Result<(), StoreError> {
        let item = ser(StatesCheckpointItem {
            pk: integration_pk(tenant, id),
            sk: items::STATES_SK.into(),
            checkpoint: checkpoint.clone(),
        })?;
        self.put(item, "PutItem(states checkpoint)").await
    }

    async fn known_agents(&self, integration: &Integration) -> Result<Vec<ExternalAgent>, StoreError> {
        let pk = integration_pk(&integration.tenant_id, integration.id);
        let (stored, _) = self.query_range(pk, items::AGENT_SK_PREFIX.into(), None).await?;
        let agents: Vec<AgentSeen> = de(stored, "agent")?;
        Ok(agents
            .into_iter()
            .filter(|a| a.active != Some(false))
            .map(|a| ExternalAgent { external_id: a.external_id, display_name: a.display_name })
            .collect())
    }

    async fn write_recent_segments(
        &self,
        integration: &Integration,
        window: TimeWindow,
        agent_external_ids: &[String],
        pieces: &[AgentSegment],
    ) -> Result<WriteCounts, StoreError> {
        let tenant = &integration.tenant_id;
        let mut counts = WriteCounts::default();
        // The digests of every day a piece or the window touches go first: a digest must never claim content
        // that is not stored.
        let mut days: BTreeSet<DateTime<Utc>> = pieces.iter().map(|p| plan::day_start(p.start)).collect();
        days.extend(plan::day_chunks(window).into_iter().map(|c| plan::day_start(c.start)));
        let digest_pk = integration_pk(tenant, integration.id);
        for day in &days {
            self.delete_digest(&digest_pk, &items::digest_sk("S", *day)).await?;
            counts.write_requests += 1;
        }
        let mut desired: BTreeMap<String, Vec<SegmentItem>> =
            agent_external_ids.iter().map(|a| (segment_pk(tenant, integration.id, a), Vec::new())).collect();
        for p in pieces {
            let pk = segment_pk(tenant, integration.id, &p.agent_external_id);
            desired.entry(pk.clone()).or_default().push(SegmentItem::of(pk, p));
        }
        let (mut puts, mut deletes) = (Vec::new(), Vec::new());
        let partitions: Vec<(String, Vec<SegmentItem>)> = desired.into_iter().collect();
        let read: Vec<(String, Vec<SegmentItem>, Vec<Item>, u64)> =
            stream::iter(partitions.into_iter().map(|(pk, wanted)| {
                let from = wanted.iter().map(|w| w.start).min().unwrap_or(window.start).min(window.start);
                let (from, to) = (segment_sk(from), segment_sk(window.end));
                async move {
                    self.query_range(pk.clone(), from, Some(to)).await.map(|(items, calls)| (pk, wanted, items, calls))
                }
            }))
            .buffer_unordered(READ_CONCURRENCY)
            .try_collect()
            .await?;
        for (pk, wanted, existing, calls) in read {
            counts.reads += calls;
            let mut old: HashMap<String, SegmentItem> = HashMap::new();
            for item in existing {
                match from_item::<SegmentItem>(item) {
                    Ok(t) => {
                        old.insert(t.sk.clone(), t);
                    }
                    Err(e) => tracing::warn!(pk = %pk, error = %e, "unreadable segment will be rewritten"),
                }
            }
            for item in wanted {
                match old.remove(&item.sk) {
                    Some(previous) if previous == item => counts.unchanged += 1,
                    _ => puts.push(item.into_item()),
                }
            }
            // Only what starts inside the window is the vendor's to replace; older segments are upserted only.
            deletes
                .extend(old.into_values().filter(|t| window.contains(t.start)).map(|t| key(pk.clone(), t.sk.clone())));
        }
        if !(puts.is_empty() && deletes.is_empty()) {
            counts += self.write(puts, deletes, 0).await?;
        }
        Ok(counts)
    }

    async fn load_state(&self, tenant: &TenantId, id: IntegrationId) -> Result<ImportState, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(integration_pk(tenant, id), items::STATE_SK.into())))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("GetItem(state)", e))?;
        match out.item {
            Some(item) => {
                from_item::<StateItem>(item).map(|s| s.state).map_err(|e| StoreError::Corrupt(format!("state: {e}")))
            }
            None => Ok(ImportState::default()),
        }
    }

    async fn save_state(&self, tenant: &TenantId, id: IntegrationId, state: &ImportState) -> Result<(), StoreError> {
        let item = ser(StateItem { pk: integration_pk(tenant, id), sk: items::STATE_SK.into(), state: state.clone() })?;
        self.put(item, "PutItem(state)").await
    }

    async fn sync_queues(
        &self,
        integration: &Integration,
        queues: &[Queue],
        once_seen: &HashSet<String>,
        now: DateTime<Utc>,
        confirmed: bool,
    ) -> Result<(WriteCounts, Vec<QueueRange>, ListingCheck), StoreError> {
        let (tenant, id) = (&integration.tenant_id, integration.id);
        let pk = integration_pk(tenant, id);
        let (stored, reads) = self.query_range(pk.clone(), keys::QUEUE_SK_PREFIX.into(), None).await?;
        let existing: Vec<QueueItem> = de(stored, "queue")?;
        let mut existing: HashMap<String, QueueItem> =
            existing.into_iter().map(|q| (q.external_id.clone(), q)).collect();
        let listed: HashSet<&str> = queues.iter().map(|q| q.external_id.as_str()).collect();
        let known = existing.values().filter(|q| q.active).count() as u64;
        let missing = existing.values().filter(|q| q.active && !listed.contains(q.external_id.as_str())).count() as u64;
        let collapsed = listing_collapsed(known, missing);
        let check = ListingCheck { known, missing, collapsed, held: collapsed && !confirmed };
        let (mut puts, mut unchanged) = (Vec::new(), 0u64);
        let (mut index_puts, mut index_deletes) = (Vec::new(), Vec::new());
        let mut ranges = Vec::new();
        // The `last_seen` of a queue moves at most once a day, so a steady import does not rewrite every queue.
        let seen_recently = |q: &QueueItem| now - q.last_seen < Duration::days(1);
        for queue in queues {
            let queue_id = QueueId::new(id, queue.external_id.clone());
            let previous = existing.remove(&queue.external_id);
            let item = QueueItem {
                pk: pk.clone(),
                sk: keys::queue_sk(&queue.external_id),
                gsi1pk: items::queues_gsi_pk(tenant),
                gsi1sk: items::queues_gsi_sk(&queue.name, &queue_id),
                entity: "queue".into(),
                queue_id,
                integration_id: id,
                integration_name: integration.name.as_str().to_owned(),
                external_id: queue.external_id.clone(),
                name: queue.name.clone(),
                name_lower: queue.name.to_lowercase(),
                channel: queue.channel,
                interval_minutes: acd_domain::INTERVAL_MINUTES as u32,
                active: true,
                first_seen: previous.as_ref().map_or(now, |p| p.first_seen),
                last_seen: match &previous {
                    Some(p) if seen_recently(p) => p.last_seen,
                    _ => now,
                },
                data_from: previous.as_ref().and_then(|p| p.data_from),
                data_to: previous.as_ref().and_then(|p| p.data_to),
                once_seen: once_seen.contains(&queue.external_id),
                search_indexed: true,
            };
            ranges.push(QueueRange {
                external_id: queue.external_id.clone(),
                data_from: item.data_from,
                data_to: item.data_to,
            });
            if previous.as_ref() == Some(&item) {
                unchanged += 1;
            } else {
                // The name index first (a queue item flagged `search_indexed` always has its pieces written, with
                // its channel).
                let indexed = previous.as_ref().filter(|p| p.search_indexed);
                if indexed.is_none_or(|p| p.name_lower != item.name_lower || p.channel != item.channel) {
                    index_puts.extend(items::queue_search_items(tenant, &item.name, &item.queue_id, item.channel));
                }
                // Renamed: every entry of the old name has the old sort key.
                if let Some(p) = indexed.filter(|p| p.name_lower != item.name_lower) {
                    index_deletes.extend(items::queue_search_items(tenant, &p.name, &p.queue_id, p.channel));
                }
                puts.push(ser(&item)?);
            }
        }
        // Queues the ACD no longer lists: inactive, never deleted (kept active while a collapsed listing is held).
        for (_, mut gone) in existing {
            ranges.push(QueueRange {
                external_id: gone.external_id.clone(),
                data_from: gone.data_from,
                data_to: gone.data_to,
            });
            let deactivate = gone.active && !check.held;
            if deactivate || !gone.search_indexed {
                gone.active &= !deactivate;
                if !gone.search_indexed {
                    index_puts.extend(items::queue_search_items(tenant, &gone.name, &gone.queue_id, gone.channel));
                    gone.search_indexed = true;
                }
                puts.push(ser(&gone)?);
            } else {
                unchanged += 1;
            }
        }
        let written = puts.len() as u64;
        let index =
            write_all(&self.client, &self.table, index_puts, index_deletes, self.writes_in_flight, &self.abort).await?;
        let (write_requests, batches) = self.put_queues(integration, puts).await?;
        // Every queue of the integration is now in the name index: text filters of the tenant may use it.
        self.mark_queue_search(integration).await?;
        let counts = WriteCounts {
            written,
            deleted: 0,
            unchanged,
            write_requests: write_requests + index.requests,
            batches: batches + index.calls,
            reads,
        };
        Ok((counts, ranges, check))
    }

    async fn extend_queue_ranges(
        &self,
        integration: &Integration,
        ranges: &[QueueRange],
    ) -> Result<WriteCounts, StoreError> {
        let pk = integration_pk(&integration.tenant_id, integration.id);
        let mut requests = Vec::with_capacity(ranges.len());
        for range in ranges {
            let (Some(from), Some(to)) = (range.data_from, range.data_to) else { continue };
            requests.push(
                self.client
                    .update_item()
                    .table_name(&self.table)
                    .set_key(Some(key(pk.clone(), keys::queue_sk(&range.external_id))))
                    .update_expression("SET data_from = :f, data_to = :t")
                    .condition_expression("attribute_exists(PK)")
                    .expression_attribute_values(":f", attribute(from)?)
                    .expression_attribute_values(":t", attribute(to)?),
            );
        }
        // One UpdateItem per queue whose range moved, a few in flight (each is independent).
        let updated: Vec<bool> = stream::iter(requests.into_iter().map(|request| async move {
            match request.send().await {
                Ok(_) => Ok(true),
                Err(e) if is_conditional_failure(&e) => Ok(false),
                Err(e) => Err(sdk_error("UpdateItem(queue range)", e)),
            }
        }))
        .buffer_unordered(READ_CONCURRENCY)
        .try_collect()
        .await?;
        let written = updated.into_iter().filter(|u| *u).count() as u64;
        Ok(WriteCounts { written, write_requests: written, ..WriteCounts::default() })
    }

    async fn sync_agents(
        &self,
        integration: &Integration,
        agents: &[ExternalAgent],
        now: DateTime<Utc>,
        confirmed: bool,
    ) -> Result<(WriteCounts, ListingCheck), StoreError> {
        let pk = integration_pk(&integration.tenant_id, integration.id);
        let (stored, reads) = self.query_range(pk.clone(), items::AGENT_SK_PREFIX.into(), None).await?;
        let existing: Vec<AgentSeen> = de(stored, "agent")?;
        let existing: HashMap<String, AgentSeen> = existing.into_iter().map(|a| (a.external_id.clone(), a)).collect();
        // Known: active, or (items from before the flag) listed in the last days.
        let is_known =
            |a: &AgentSeen| a.active.unwrap_or_else(|| now - a.last_seen < Duration::days(AGENT_RECENTLY_SEEN_DAYS));
        let listed: HashSet<&str> = agents.iter().map(|a| a.external_id.as_str()).collect();
        let known = existing.values().filter(|a| is_known(a)).count() as u64;
        let gone: Vec<&AgentSeen> =
            existing.values().filter(|a| is_known(a) && !listed.contains(a.external_id.as_str())).collect();
        let collapsed = listing_collapsed(known, gone.len() as u64);
        let check = ListingCheck { known, missing: gone.len() as u64, collapsed, held: collapsed && !confirmed };
        let mut updates = Vec::new();
        let mut unchanged = 0;
        if !check.held {
            for agent in gone {
                let values = HashMap::from([(":no".to_owned(), AttributeValue::Bool(false))]);
                updates.push((
                    key(pk.clone(), items::agent_sk(&agent.external_id)),
                    "SET active = :no".to_owned(),
                    values,
                ));
            }
        }
        for agent in agents {
            let previous = existing.get(&agent.external_id);
            let stale = previous.is_none_or(|p| {
                p.display_name != agent.display_name || now - p.last_seen >= Duration::days(1) || p.active != Some(true)
            });
            if !stale {
                unchanged += 1;
                continue;
            }
            updates.push(agent_upsert(&pk, integration, agent, now, MissingName::Remove)?);
        }
        let mut counts = self.upsert(updates, unchanged).await?;
        counts.reads = reads;
        Ok((counts, check))
    }

    async fn sync_statuses(
        &self,
        integration: &Integration,
        statuses: &[ExternalStatus],
        now: DateTime<Utc>,
    ) -> Result<WriteCounts, StoreError> {
        let pk = integration_pk(&integration.tenant_id, integration.id);
        let (stored, reads) = self.query_range(pk.clone(), items::STATUS_SK_PREFIX.into(), None).await?;
        let existing: Vec<StatusItem> = de(stored, "status")?;
        let existing: HashMap<String, StatusItem> = existing.into_iter().map(|s| (s.status_id.clone(), s)).collect();
        let mut updates = Vec::new();
        let mut unchanged = 0;
        for status in statuses {
            let previous = existing.get(&status.id);
            let stale = previous.is_none_or(|p| p.name != status.name || now - p.last_seen >= Duration::days(1));
            if !stale {
                unchanged += 1;
                continue;
            }
            let values = HashMap::from([
                (":entity".to_owned(), s("status")),
                (":integration".to_owned(), s(integration.id.to_string())),
                (":status".to_owned(), s(status.id.clone())),
                (":name".to_owned(), s(status.name.clone())),
                (":now".to_owned(), attribute(now)?),
                (":present".to_owned(), s(DEFAULT_ACTIVITY)),
                (":no".to_owned(), AttributeValue::Bool(false)),
            ]);
            let expression = "SET entity = :entity, integration_id = :integration, status_id = :status, \
                              #name = :name, last_seen = :now, first_seen = if_not_exists(first_seen, :now), \
                              activity_id = if_not_exists(activity_id, :present), mapped = if_not_exists(mapped, :no)"
                .to_owned();
            updates.push((key(pk.clone(), items::status_sk(&status.id)), expression, values));
        }
        let mut counts = self.upsert(updates, unchanged).await?;
        counts.reads = reads;
        Ok(counts)
    }

    async fn write_intervals(
        &self,
        integration: &Integration,
        chunk: TimeWindow,
        queue_external_ids: &[String],
        stats: &[IntervalStats],
        fresh: bool,
    ) -> Result<WriteCounts, StoreError> {
        let tenant = &integration.tenant_id;
        let mut desired: BTreeMap<String, Vec<IntervalItem>> = queue_external_ids
            .iter()
            .map(|q| (items::queue_data_pk(tenant, &QueueId::new(integration.id, q.clone())), Vec::new()))
            .collect();
        for s in stats {
            if !chunk.contains(s.interval_start) {
                continue;
            }
            let zero = s.offered == 0
                && s.handled == 0
                && s.abandoned == 0
                && s.handle_time_ms == 0
                && s.answer_time_ms == 0
                && s.answered_within_sl.unwrap_or(0) == 0;
            if zero {
                continue; // within a completed window, an absent interval is zero
            }
            let pk = items::queue_data_pk(tenant, &QueueId::new(integration.id, s.queue_external_id.clone()));
            desired.entry(pk.clone()).or_default().push(IntervalItem {
                pk,
                sk: interval_sk(s.interval_start),
                start: s.interval_start,
                offered: s.offered,
                handled: s.handled,
                abandoned: s.abandoned,
                handle_ms: s.handle_time_ms,
                answer_ms: s.answer_time_ms,
                sl: s.answered_within_sl,
            });
        }
        let (from, to) = (interval_sk(chunk.start), interval_sk(chunk.end - Duration::minutes(1)));
        let digest_sk = items::digest_sk("IV", chunk.start);
        self.diff_partitions(integration, chunk, fresh, digest_sk, desired, |pk| {
            self.query_range(pk, from.clone(), Some(to.clone()))
        })
        .await
    }

    async fn write_segments(
        &self,
        integration: &Integration,
        chunk: TimeWindow,
        agent_external_ids: &[String],
        pieces: &[AgentSegment],
        fresh: bool,
    ) -> Result<WriteCounts, StoreError> {
        let tenant = &integration.tenant_id;
        let mut desired: BTreeMap<String, Vec<SegmentItem>> =
            agent_external_ids.iter().map(|a| (segment_pk(tenant, integration.id, a), Vec::new())).collect();
        for p in pieces.iter().filter(|p| chunk.contains(p.start)) {
            let pk = segment_pk(tenant, integration.id, &p.agent_external_id);
            desired.entry(pk.clone()).or_default().push(SegmentItem::of(pk, p));
        }
        let (from, to) = (segment_sk(chunk.start), segment_sk(chunk.end - Duration::seconds(1)));
        let digest_sk = items::digest_sk("S", chunk.start);
        self.diff_partitions(integration, chunk, fresh, digest_sk, desired, |pk| {
            self.query_range(pk, from.clone(), Some(to.clone()))
        })
        .await
    }

    async fn merge_segments(
        &self,
        integration: &Integration,
        chunk: TimeWindow,
        pieces: &[AgentSegment],
    ) -> Result<WriteCounts, StoreError> {
        let tenant = &integration.tenant_id;
        let mut puts = Vec::new();
        for p in pieces.iter().filter(|p| chunk.contains(p.start)) {
            let pk = segment_pk(tenant, integration.id, &p.agent_external_id);
            puts.push(SegmentItem::of(pk, p).into_item());
        }
        // No day digest is written or read: a merged day is never diffed (its agents' segments come from a feed).
        if puts.is_empty() { Ok(WriteCounts::default()) } else { self.write(puts, Vec::new(), 0).await }
    }

    async fn record_run(&self, run: &RunRecord) -> Result<(), StoreError> {
        let item = ser(RunItem {
            pk: integration_pk(&run.tenant_id, run.integration_id),
            sk: items::run_sk(run),
            entity: "run".into(),
            ttl: (run.started_at + Duration::days(RUN_RETENTION_DAYS)).timestamp(),
            run: run.clone(),
        })?;
        self.put(item, "PutItem(run)").await
    }

    async fn set_status(
        &self,
        tenant: &TenantId,
        id: IntegrationId,
        status: &IntegrationStatus,
    ) -> Result<(), StoreError> {
        let value = to_attribute_value(status).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::tenant_pk(tenant), keys::integration_sk(id))))
            .update_expression("SET #status = :status, version = version + :one")
            .condition_expression(
                "attribute_exists(PK) AND attribute_not_exists(deleting_at) AND #status.#state <> :paused",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":status", value)
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":paused", s("paused"))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Deleted (or deleting) or paused while the run was going: leave the record as the admin made it.
            Err(e) if is_conditional_failure(&e) => Ok(()),
            Err(e) => Err(sdk_error("UpdateItem(status)", e)),
        }
    }
}

#[async_trait]
impl RunLog for DynamoImportStore {
    async fn list_runs(
        &self,
        tenant: &TenantId,
        id: IntegrationId,
        limit: usize,
        before: Option<String>,
    ) -> Result<RunPage, StoreError> {
        let pk = integration_pk(tenant, id);
        let mut q = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
            .expression_attribute_values(":pk", s(pk.clone()))
            .expression_attribute_values(":prefix", s(items::RUN_SK_PREFIX))
            .scan_index_forward(false)
            .limit(i32::try_from(limit + 1).unwrap_or(i32::MAX));
        if let Some(before) = before {
            // Only a run's sort key may reach the table as a key.
            if !items::is_run_sk(&before) {
                return Err(StoreError::NotFound);
            }
            q = q.exclusive_start_key(PK, s(pk)).exclusive_start_key(SK, s(before));
        }
        let out = q.send().await.map_err(|e| sdk_error("Query(runs)", e))?;
        let mut runs: Vec<RunItem> = de(out.items.unwrap_or_default(), "run")?;
        let more = runs.len() > limit;
        runs.truncate(limit);
        let next = if more { runs.last().map(|r| items::run_sk(&r.run)) } else { None };
        Ok(RunPage { runs: runs.into_iter().map(|r| r.run).collect(), next })
    }
}
