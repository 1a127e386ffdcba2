//! Writes of imported data (interval statistics, agent-state segments) as diffs against what is stored, with
//! the chunk digests ([`crate::digest`]) that spare re-reading unchanged partitions.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use acd_app::import::plan;
use acd_app::ports::{StoreError, WriteCounts};
use acd_domain::{AgentSegment, Integration, IntervalStats, QueueId, TimeWindow};
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, Utc};
use futures::stream::{self, StreamExt, TryStreamExt};
use serde::Deserialize;
use serde_dynamo::aws_sdk_dynamodb_1::from_item;

use super::{DynamoImportStore, READ_CONCURRENCY, key};
use crate::buckets;
use crate::diff::{self, Keyed};
use crate::digest::{ChunkDigest, Digestible};
use crate::dynamo::{Item, s};
use crate::items::{self, IntervalItem, IntoItem, SegmentItem, interval_sk, segment_pk, segment_sk};
use crate::keys::{PK, SK, integration_pk};
use crate::sdk_error;

/// Partitions compared at a time, and the number of pending writes that triggers a flush (a multiple of 25, so
/// batches stay full).
const DIFF_GROUP: usize = 64;
const WRITE_FLUSH: usize = 1_000;
/// Chunk digests are kept this long after the chunk's end: re-reads happen within the reconciliation window.
const DIGEST_RETENTION_DAYS: i64 = 35;

impl DynamoImportStore {
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
        desired: BTreeMap<String, Vec<T>>,
        read: F,
    ) -> Result<WriteCounts, StoreError>
    where
        T: for<'de> Deserialize<'de> + PartialEq + Keyed + Digestible + IntoItem,
        F: Fn(String) -> Fut,
        Fut: std::future::Future<Output = Result<(Vec<Item>, u64), StoreError>>,
    {
        let digest_pk = integration_pk(&integration.tenant_id, integration.id);
        let mut counts = WriteCounts::default();
        let stored = if fresh {
            None
        } else {
            counts.reads += 1;
            self.load_digest(&digest_pk, &digest_sk, chunk.end).await?
        };
        let plan = diff::plan_chunk(desired, stored.as_ref());
        counts.unchanged += plan.unchanged;

        let mut digest_present = stored.is_some();
        let mut changes = false;
        let (mut puts, mut deletes) = (Vec::new(), Vec::new());
        let mut partitions = plan.compare.into_iter().peekable();
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
                let stored = readable::<T>(existing.remove(&pk).unwrap_or_default(), &pk);
                let diff = diff::diff_partition(stored, wanted, |_| true);
                counts.unchanged += diff.unchanged;
                puts.extend(diff.puts.into_iter().map(IntoItem::into_item));
                deletes.extend(diff.deletes.into_iter().map(|sk| key(pk.clone(), sk)));
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

        if diff::digest_needs_writing(&plan.digest, plan.use_digest, stored.as_ref(), changes) {
            self.put_digest(digest_pk, digest_sk, chunk.end, &plan.digest).await?;
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

/// Appends `item` to its partition's list; the partition key is copied only for a partition not seen before (this
/// runs for every item of a day).
fn push_to_partition<T>(desired: &mut BTreeMap<String, Vec<T>>, item: T, pk: impl Fn(&T) -> &String) {
    match desired.get_mut(pk(&item)) {
        Some(items) => items.push(item),
        None => {
            desired.insert(pk(&item).clone(), vec![item]);
        }
    }
}

/// The stored items of one partition that parse; an unreadable one is left out (so a fetched item with its key is
/// rewritten) and logged.
fn readable<T: for<'de> Deserialize<'de>>(items: Vec<Item>, pk: &str) -> Vec<T> {
    items
        .into_iter()
        .filter_map(|item| {
            from_item::<T>(item)
                .map_err(|e| tracing::warn!(pk = %pk, error = %e, "unreadable item will be rewritten"))
                .ok()
        })
        .collect()
}

/// The import rewrites intervals and segments one item each; an hour bucket ([`crate::buckets`], read by the
/// queries) in a range it is about to rewrite would hide what it writes. No release writes buckets yet, so one
/// can only be there if a newer release wrote it and this one was rolled back to: the chunk fails (its data is
/// delayed, never hidden or lost) and says so. The ranges are read from the bucket key of their first hour, so the
/// check sees that hour's bucket too; items before `from` (the range the caller asked for) are left out.
///
/// Reads partition `pk` from `lower` (the bucket key of the range's first hour) to `to`: the single items from
/// `from` on, or the error above.
async fn single_items(
    store: &DynamoImportStore,
    pk: String,
    lower: String,
    from: &str,
    to: String,
) -> Result<(Vec<Item>, u64), StoreError> {
    let (items, calls) = store.query_range(pk.clone(), lower, Some(to)).await?;
    Ok((without_buckets(items, &pk, from)?, calls))
}

/// [`single_items`]' check: the items from `from` on, or an error if one is a bucket.
fn without_buckets(items: Vec<Item>, pk: &str, from: &str) -> Result<Vec<Item>, StoreError> {
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let sk = match item.get(SK) {
            Some(AttributeValue::S(sk)) => sk.as_str(),
            _ => "",
        };
        if buckets::is_bucket_sk(sk) {
            return Err(StoreError::Corrupt(format!(
                "{pk} holds the hour bucket {sk}: a newer release stored this data in a form this release reads but \
                 does not rewrite (roll forward to it; imports of this data stop until then)"
            )));
        }
        if sk >= from {
            out.push(item);
        }
    }
    Ok(out)
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

pub(super) async fn write_intervals(
    store: &DynamoImportStore,
    integration: &Integration,
    chunk: TimeWindow,
    queue_external_ids: &[String],
    stats: &[IntervalStats],
    fresh: bool,
) -> Result<WriteCounts, StoreError> {
    let tenant = &integration.tenant_id;
    let queue_pk =
        |external_id: &str| items::queue_data_pk(tenant, &QueueId::new(integration.id, external_id.to_owned()));
    // Each queue's partition key, formatted once per queue rather than once per interval.
    let mut pks: HashMap<&str, String> = queue_external_ids.iter().map(|q| (q.as_str(), queue_pk(q))).collect();
    let mut desired: BTreeMap<String, Vec<IntervalItem>> = pks.values().map(|pk| (pk.clone(), Vec::new())).collect();
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
        let pk = pks.entry(s.queue_external_id.as_str()).or_insert_with(|| queue_pk(&s.queue_external_id));
        let item = IntervalItem {
            pk: pk.clone(),
            sk: interval_sk(s.interval_start),
            start: s.interval_start,
            offered: s.offered,
            handled: s.handled,
            abandoned: s.abandoned,
            handle_ms: s.handle_time_ms,
            answer_ms: s.answer_time_ms,
            sl: s.answered_within_sl,
        };
        push_to_partition(&mut desired, item, |i| &i.pk);
    }
    let (from, to) = (interval_sk(chunk.start), interval_sk(chunk.end - Duration::minutes(1)));
    let lower = buckets::interval_bucket_sk(chunk.start);
    let digest_sk = items::digest_sk("IV", chunk.start);
    store
        .diff_partitions(integration, chunk, fresh, digest_sk, desired, |pk| {
            let (lower, from, to) = (lower.clone(), from.clone(), to.clone());
            async move { single_items(store, pk, lower, &from, to).await }
        })
        .await
}

pub(super) async fn write_segments(
    store: &DynamoImportStore,
    integration: &Integration,
    chunk: TimeWindow,
    agent_external_ids: &[String],
    pieces: Vec<AgentSegment>,
    fresh: bool,
) -> Result<WriteCounts, StoreError> {
    let tenant = &integration.tenant_id;
    let mut desired: BTreeMap<String, Vec<SegmentItem>> =
        agent_external_ids.iter().map(|a| (segment_pk(tenant, integration.id, a), Vec::new())).collect();
    // The pieces become items as they are consumed (their strings move), taken from the back so that their buffer
    // can shrink as it empties: one copy of the day, not two. They come sorted by agent, so an agent's partition
    // key is made once for its run of pieces.
    let mut pieces = pieces;
    let mut current: Option<(String, String)> = None; // (agent, its partition key)
    while let Some(p) = pieces.pop() {
        if pieces.capacity() > 1024 && pieces.len() < pieces.capacity() / 4 {
            pieces.shrink_to_fit();
        }
        if !chunk.contains(p.start) {
            continue;
        }
        let pk = match &current {
            Some((agent, pk)) if *agent == p.agent_external_id => pk.clone(),
            _ => {
                let pk = segment_pk(tenant, integration.id, &p.agent_external_id);
                current = Some((p.agent_external_id.clone(), pk.clone()));
                pk
            }
        };
        let item = SegmentItem::from_piece(pk, p);
        push_to_partition(&mut desired, item, |i| &i.pk);
    }
    // Taken in reverse: each partition's items back in the pieces' order (of equal keys, the last one counts).
    for items in desired.values_mut() {
        items.reverse();
    }
    let (from, to) = (segment_sk(chunk.start), segment_sk(chunk.end - Duration::seconds(1)));
    let lower = buckets::segment_bucket_sk(chunk.start);
    let digest_sk = items::digest_sk("S", chunk.start);
    store
        .diff_partitions(integration, chunk, fresh, digest_sk, desired, |pk| {
            let (lower, from, to) = (lower.clone(), from.clone(), to.clone());
            async move { single_items(store, pk, lower, &from, to).await }
        })
        .await
}

pub(super) async fn merge_segments(
    store: &DynamoImportStore,
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
    if puts.is_empty() { Ok(WriteCounts::default()) } else { store.write(puts, Vec::new(), 0).await }
}

pub(super) async fn write_recent_segments(
    store: &DynamoImportStore,
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
        store.delete_digest(&digest_pk, &items::digest_sk("S", *day)).await?;
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
            let (lower, from, to) = (buckets::segment_bucket_sk(from), segment_sk(from), segment_sk(window.end));
            async move {
                let (items, calls) = single_items(store, pk.clone(), lower, &from, to).await?;
                Ok::<_, StoreError>((pk, wanted, items, calls))
            }
        }))
        .buffer_unordered(READ_CONCURRENCY)
        .try_collect()
        .await?;
    for (pk, wanted, existing, calls) in read {
        counts.reads += calls;
        // Only what starts inside the window is the vendor's to replace; older segments are upserted only.
        let diff = diff::diff_partition(readable::<SegmentItem>(existing, &pk), wanted, |t| window.contains(t.start));
        counts.unchanged += diff.unchanged;
        puts.extend(diff.puts.into_iter().map(IntoItem::into_item));
        deletes.extend(diff.deletes.into_iter().map(|sk| key(pk.clone(), sk)));
    }
    if !(puts.is_empty() && deletes.is_empty()) {
        counts += store.write(puts, deletes, 0).await?;
    }
    Ok(counts)
}
