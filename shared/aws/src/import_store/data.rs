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

use super::{DynamoImportStore, READ_CONCURRENCY, key};
use crate::buckets::{self, Entry};
use crate::diff::{self, Keyed};
use crate::digest::{ChunkDigest, Digestible};
use crate::dynamo::{Item, s};
use crate::items::{self, IntervalItem, SEGMENT_SK_PREFIX, SegmentItem, interval_sk, segment_pk};
use crate::keys::{PK, SK, integration_pk};
use crate::table::hour_writes::{self, Bucketed, HourRules, HourWrites};

/// Partitions compared at a time, and the pending writes that trigger a flush, weighed by the intervals and
/// segments they hold ([`HourWrites::weight`]: an hour bucket holds several) so that the memory held is bounded the
/// same in both forms.
const DIFF_GROUP: usize = 64;
const WRITE_FLUSH: usize = 1_000;
/// Chunk digests are kept this long after the chunk's end: re-reads happen within the reconciliation window.
const DIGEST_RETENTION_DAYS: i64 = 35;

impl DynamoImportStore {
    /// The stored digest of the chunk's day (its key), matching only if it was made for a chunk with the same start
    /// and an end no later than `chunk`'s.
    async fn load_digest(&self, pk: &str, sk: &str, chunk: TimeWindow) -> Result<Option<ChunkDigest>, StoreError> {
        let Some(item) = self.get(key(pk.to_owned(), sk.to_owned()), "GetItem(digest)").await? else { return Ok(None) };
        let time = |name: &str| {
            let text = item.get(name).and_then(|v| v.as_s().ok());
            text.and_then(|v| DateTime::parse_from_rfc3339(v).ok()).map(|t| t.with_timezone(&Utc))
        };
        if !digest_vouches_for(time("start"), time("end"), chunk) {
            return Ok(Some(ChunkDigest::default())); // present (to delete before writing), matching nothing
        }
        let parts = item.get("parts").and_then(|v| v.as_b().ok()).and_then(|b| ChunkDigest::decode(b.as_ref()));
        Ok(Some(parts.unwrap_or_default()))
    }

    /// Puts the `desired` items of each partition of `chunk` and deletes the `existing` ones not desired, leaving
    /// equal items alone, hour by hour in the hour's form ([`hour_writes`]). Partitions whose content the chunk's
    /// digest (`digest_sk`) already records are not read at all, nor is anything when the chunk is `fresh` (none of
    /// its items was ever written) — except a last hour the chunk ends inside, whose later part may hold what another
    /// writer (the agent-state pass) stored and a bucket put must keep. Partitions are compared a group at a time
    /// and writes flushed as they accumulate, so memory stays bounded however large the chunk.
    async fn diff_partitions<T>(
        &self,
        integration: &Integration,
        chunk: TimeWindow,
        fresh: bool,
        digest_sk: String,
        desired: BTreeMap<String, Vec<T>>,
    ) -> Result<WriteCounts, StoreError>
    where
        T: Bucketed + Digestible,
    {
        let digest_pk = integration_pk(&integration.tenant_id, integration.id);
        let mut counts = WriteCounts::default();
        let stored = if fresh {
            None
        } else {
            counts.reads += 1;
            self.load_digest(&digest_pk, &digest_sk, chunk).await?
        };
        // A chunk starting inside its day (statistics re-read from an hour) hashes its start in.
        let from = (chunk.start != plan::day_start(chunk.start)).then_some(chunk.start);
        let plan = diff::plan_chunk(desired, from, stored.as_ref());
        counts.unchanged += plan.unchanged;

        let last = chunk.end - Duration::nanoseconds(1);
        let ends_inside_an_hour = buckets::hour_of(chunk.end) != chunk.end;
        let reads = (!fresh || ends_inside_an_hour)
            .then(|| buckets::whole_hours(T::Entry::PREFIX, if fresh { last } else { chunk.start }, last));
        let rules = self.hour_rules(|t| chunk.contains(t));
        let mut digest_present = stored.is_some();
        let mut changes = false;
        let mut pending = HourWrites::default();
        let mut partitions = plan.compare.into_iter().peekable();
        while partitions.peek().is_some() {
            let group: Vec<(String, Vec<T>)> = partitions.by_ref().take(DIFF_GROUP).collect();
            let mut existing = match &reads {
                Some(hours) => {
                    let ranges = group.iter().map(|(pk, _)| (pk.clone(), hours.clone())).collect();
                    self.read_partitions(ranges, &mut counts).await?
                }
                None => HashMap::new(),
            };
            let group_len = group.len();
            for (i, (pk, wanted)) in group.into_iter().enumerate() {
                let stored = existing.remove(&pk).unwrap_or_default();
                hour_writes::diff_hours(&pk, stored, wanted, &rules, &mut pending)?;
                // Flushed as soon as a flush is full (not once per group): a fresh day's group of 64 agents holds
                // several thousand items, and only one flush of them is held as attribute maps at a time.
                let last = partitions.peek().is_none() && i + 1 == group_len;
                if pending.weight() >= WRITE_FLUSH || (last && !pending.is_empty()) {
                    changes = true;
                    if digest_present {
                        // The digest must never claim content that is not stored: gone before the first item
                        // changes.
                        self.delete_digest(&digest_pk, &digest_sk).await?;
                        counts.write_requests += 1;
                        digest_present = false;
                    }
                    // Full batches: puts that do not fill the last one wait for the next flush, when the flush is
                    // puts only (keys are unique within a chunk, so the order of puts does not matter; deletes
                    // must follow their hour's puts, so a flush with deletes is written whole).
                    let carry = if last || !(pending.deletes.is_empty() && pending.late_deletes.is_empty()) {
                        0
                    } else {
                        pending.puts.len() % crate::batch::MAX_BATCH
                    };
                    let carried = pending.split_off_puts(carry);
                    counts += self.write_phases(std::mem::replace(&mut pending, carried)).await?;
                }
            }
        }
        counts.unchanged += pending.unchanged;

        if diff::digest_needs_writing(&plan.digest, plan.use_digest, stored.as_ref(), changes) {
            self.put_digest(digest_pk, digest_sk, chunk, &plan.digest).await?;
            counts.write_requests += 1;
        }
        Ok(counts)
    }

    /// How this store writes hours; `owned` as in [`HourRules::owned`].
    fn hour_rules<F: Fn(DateTime<Utc>) -> bool>(&self, owned: F) -> HourRules<F> {
        HourRules {
            owned,
            make_buckets: self.hour_buckets,
            max_bucket_bytes: hour_writes::MAX_BUCKET_BYTES,
            compact: self.compact_segment_buckets,
            keep_ended: false,
        }
    }

    /// The items of each partition between its sort-key bounds (whole hours, [`buckets::whole_hours`]), a few
    /// partitions at a time.
    async fn read_partitions(
        &self,
        ranges: Vec<(String, (String, String))>,
        counts: &mut WriteCounts,
    ) -> Result<HashMap<String, Vec<Item>>, StoreError> {
        let read: Vec<(String, Vec<Item>, u64)> =
            stream::iter(ranges.into_iter().map(|(pk, (lower, upper))| async move {
                let (items, calls) = self.query_range(pk.clone(), lower, Some(upper)).await?;
                Ok::<_, StoreError>((pk, items, calls))
            }))
            .buffer_unordered(READ_CONCURRENCY)
            .try_collect()
            .await?;
        let mut out = HashMap::with_capacity(read.len());
        for (pk, items, calls) in read {
            counts.reads += calls;
            out.insert(pk, items);
        }
        Ok(out)
    }

    /// Writes `w`'s phases in order, each complete before the next starts ([`hour_writes`]).
    async fn write_phases(&self, w: HourWrites) -> Result<WriteCounts, StoreError> {
        let mut counts = WriteCounts { unchanged: w.unchanged, ..WriteCounts::default() };
        if !w.puts.is_empty() {
            counts += self.write(w.puts, Vec::new(), 0).await?;
        }
        if !w.deletes.is_empty() {
            counts += self.write(Vec::new(), w.deletes, 0).await?;
        }
        if !w.late_deletes.is_empty() {
            counts += self.write(Vec::new(), w.late_deletes, 0).await?;
        }
        Ok(counts)
    }

    async fn put_digest(
        &self,
        pk: String,
        sk: String,
        chunk: TimeWindow,
        digest: &ChunkDigest,
    ) -> Result<(), StoreError> {
        let time = |t: DateTime<Utc>| s(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        let item = HashMap::from([
            (PK.to_owned(), s(pk)),
            (SK.to_owned(), s(sk)),
            ("entity".to_owned(), s("digest")),
            ("start".to_owned(), time(chunk.start)),
            ("end".to_owned(), time(chunk.end)),
            ("parts".to_owned(), AttributeValue::B(Blob::new(digest.encode()))),
            (
                "ttl".to_owned(),
                AttributeValue::N((chunk.end + Duration::days(DIGEST_RETENTION_DAYS)).timestamp().to_string()),
            ),
        ]);
        self.put(item, "PutItem(digest)").await
    }

    async fn delete_digest(&self, pk: &str, sk: &str) -> Result<(), StoreError> {
        self.delete(key(pk.to_owned(), sk.to_owned()), "DeleteItem(digest)").await
    }
}

/// Whether a stored digest made for a chunk from `start` to `end` can vouch for `chunk`'s content. A digest made
/// when the day's chunk ended earlier (today's chunk grows every run) still holds: nothing was written after its end
/// (a later write would have replaced or deleted it), so a partition whose new content hashes the same has no items
/// after that end either. One reaching past the chunk (or without an end) does not, and neither does one of another
/// start: it vouches for other hours (a day read whole once and from an hour later, or from another hour), and
/// content equal over the chunk's hours says nothing of the hours in between. Digests from before a chunk could
/// start inside its day have no `start`: they were made for the whole day.
fn digest_vouches_for(start: Option<DateTime<Utc>>, end: Option<DateTime<Utc>>, chunk: TimeWindow) -> bool {
    start.unwrap_or(plan::day_start(chunk.start)) == chunk.start && end.is_some_and(|end| end <= chunk.end)
}

/// Appends `item` to its partition's list; the partition key is copied only for a partition not seen before (this
/// runs for every item of a day).
fn push_to_partition<T>(desired: &mut BTreeMap<String, Vec<T>>, item: T, pk: impl Fn(&T) -> &str) {
    match desired.get_mut(pk(&item)) {
        Some(items) => items.push(item),
        None => {
            desired.insert(pk(&item).to_owned(), vec![item]);
        }
    }
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
        if s.is_zero() {
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
        push_to_partition(&mut desired, item, |i| i.pk.as_ref());
    }
    // One digest a day (keyed by the day, its `start` telling from where it vouches), so that a day re-read from
    // another hour replaces the one there is rather than leaving it to claim hours this write changed.
    let digest_sk = items::digest_sk("IV", plan::day_start(chunk.start));
    store.diff_partitions(integration, chunk, fresh, digest_sk, desired).await
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
    // (agent, its partition key: one string, shared by the agent's items)
    let mut current: Option<(std::sync::Arc<str>, std::sync::Arc<str>)> = None;
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
                let pk: std::sync::Arc<str> = segment_pk(tenant, integration.id, &p.agent_external_id).into();
                current = Some((p.agent_external_id.clone(), pk.clone()));
                pk
            }
        };
        let item = SegmentItem::from_piece(pk, p);
        push_to_partition(&mut desired, item, |i| i.pk.as_ref());
    }
    // Taken in reverse: each partition's items back in the pieces' order (of equal keys, the last one counts).
    for items in desired.values_mut() {
        items.reverse();
    }
    let digest_sk = items::digest_sk("S", chunk.start);
    store.diff_partitions(integration, chunk, fresh, digest_sk, desired).await
}

/// Each of `pieces` as an item in its agent's partition of `desired`. An agent's partition key is made once and
/// shared by its items (as [`write_intervals`] makes a queue's once).
fn push_segment_items<'a>(
    desired: &mut BTreeMap<String, Vec<SegmentItem>>,
    integration: &Integration,
    pieces: impl Iterator<Item = &'a AgentSegment>,
) {
    let mut pks: HashMap<&str, std::sync::Arc<str>> = HashMap::new();
    for p in pieces {
        let agent = &*p.agent_external_id;
        let pk = pks.entry(agent).or_insert_with(|| segment_pk(&integration.tenant_id, integration.id, agent).into());
        push_to_partition(desired, SegmentItem::of(pk.clone(), p), |i| i.pk.as_ref());
    }
}

pub(super) async fn merge_segments(
    store: &DynamoImportStore,
    integration: &Integration,
    chunk: TimeWindow,
    pieces: &[AgentSegment],
    fresh: bool,
) -> Result<WriteCounts, StoreError> {
    let mut desired: BTreeMap<String, Vec<SegmentItem>> = BTreeMap::new();
    push_segment_items(&mut desired, integration, pieces.iter().filter(|p| chunk.contains(p.start)));
    // No day digest is written or read: a merged day is never diffed (its agents' segments come from a feed). The
    // hours the pieces touch are read whole: nothing stored is the feed's to delete, and a bucket there must take
    // the pieces in (single items put beside it would stay hidden). In a `fresh` chunk (none of its items was ever
    // written) nothing is there to take in, but in a last hour the chunk ends inside, as `diff_partitions` reads it.
    // (A chunk that ends on the hour has no piece from there on: nothing is read.)
    store.write_hours(desired, None, fresh.then(|| buckets::hour_of(chunk.end)), |_| false, true).await
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
    push_segment_items(&mut desired, integration, pieces.iter());
    // Only what starts inside the window is the vendor's to replace; older segments are upserted only. An agent
    // with nothing fetched still has the window read: what it stored there is gone at the vendor.
    counts += store.write_hours(desired, Some(window), None, |t| window.contains(t), false).await?;
    Ok(counts)
}

impl DynamoImportStore {
    /// Writes each partition's `desired` segments as [`hour_writes::diff_hours`] says with `owned` (and
    /// `keep_ended`, [`HourRules::keep_ended`]), over the whole
    /// hours from its earliest to its latest segment, widened to `span` (the owned range) if given. What is stored
    /// there is read back first — from `read_from` on only, if given (nothing stored before it: a partition whose
    /// segments all start earlier is not read at all).
    async fn write_hours<F>(
        &self,
        desired: BTreeMap<String, Vec<SegmentItem>>,
        span: Option<TimeWindow>,
        read_from: Option<DateTime<Utc>>,
        owned: F,
        keep_ended: bool,
    ) -> Result<WriteCounts, StoreError>
    where
        F: Fn(DateTime<Utc>) -> bool,
    {
        let mut counts = WriteCounts::default();
        let mut out = HourWrites::default();
        let rules = HourRules { keep_ended, ..self.hour_rules(owned) };
        let ranges = desired
            .iter()
            .filter_map(|(pk, wanted)| {
                let starts = wanted.iter().map(|w| w.start);
                let first = starts.clone().chain(span.map(|s| s.start)).min()?;
                let first = read_from.map_or(first, |from| first.max(from));
                let last = starts.chain(span.map(|s| s.end - Duration::nanoseconds(1))).max()?;
                (first <= last).then(|| (pk.clone(), buckets::whole_hours(SEGMENT_SK_PREFIX, first, last)))
            })
            .collect();
        let mut stored = self.read_partitions(ranges, &mut counts).await?;
        for (pk, wanted) in desired {
            let stored = stored.remove(&pk).unwrap_or_default();
            hour_writes::diff_hours(&pk, stored, wanted, &rules, &mut out)?;
        }
        counts += self.write_phases(out).await?;
        Ok(counts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_digest_vouches_only_for_a_chunk_with_its_start_and_no_earlier_end() {
        let t = |d: u32, h: u32| chrono::TimeZone::with_ymd_and_hms(&Utc, 2024, 11, d, h, 0, 0).unwrap();
        let day = TimeWindow { start: t(4, 0), end: t(5, 0) };
        let from_10 = TimeWindow { start: t(4, 10), end: t(5, 0) };
        // A whole day's digest, with its start or from before starts were recorded.
        assert!(digest_vouches_for(Some(t(4, 0)), Some(t(5, 0)), day));
        assert!(digest_vouches_for(None, Some(t(5, 0)), day));
        // Made when the day's chunk ended earlier (today's, growing), it holds; reaching past the chunk, not.
        assert!(digest_vouches_for(Some(t(4, 0)), Some(t(4, 12)), day));
        assert!(!digest_vouches_for(Some(t(4, 0)), Some(t(5, 1)), day));
        assert!(!digest_vouches_for(Some(t(4, 0)), None, day));
        // Of the day read from 10:00: neither the whole day's digest nor one from another hour.
        assert!(digest_vouches_for(Some(t(4, 10)), Some(t(5, 0)), from_10));
        assert!(!digest_vouches_for(Some(t(4, 0)), Some(t(5, 0)), from_10));
        assert!(!digest_vouches_for(None, Some(t(5, 0)), from_10));
        assert!(!digest_vouches_for(Some(t(4, 9)), Some(t(5, 0)), from_10));
        assert!(!digest_vouches_for(Some(t(4, 11)), Some(t(5, 0)), from_10));
        assert!(!digest_vouches_for(Some(t(4, 10)), Some(t(5, 0)), day));
    }
}
