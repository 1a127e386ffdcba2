//! The writer of both forms of stored intervals and segments ([`crate::buckets`]): what one partition's hours need,
//! as puts and deletes in three phases, from what is stored there and what was fetched. Pure (no table, no calls):
//! the import store reads whole hours, calls [`diff_hours`], and writes the phases one after another.
//!
//! Per hour, with B the stored bucket, S the stored single items, E what the readers see (B where there is one,
//! else S) and N the hour's new content (the fetched entries, plus the entries of E the caller does not own and
//! nothing fetched replaces):
//! - N equal to E → nothing to write (an hour that does not change stays in its form; single items hidden under a
//!   bucket, left by a move a crash interrupted, are deleted);
//! - a bucket is stored, or buckets are made (`make_buckets`), and N fits in one item → the bucket of N is put, then
//!   the hour's single items are deleted;
//! - otherwise (buckets not made, N empty, or N too large for one item) → single items: those of N not stored alike
//!   are put, stored ones not in N deleted, and then, last, a stored bucket is deleted (until then it hides them).
//!
//! The phases ([`HourWrites::puts`], [`HourWrites::deletes`], [`HourWrites::late_deletes`]) must be written in that
//! order, each complete before the next starts: a reader then always sees an hour whole, in one form or the other,
//! and a writer stopped between phases leaves only hidden single items or a bucket still in force — which the next
//! run's diff finishes.

use std::collections::{BTreeMap, HashSet};

use acd_app::ports::StoreError;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde_dynamo::aws_sdk_dynamodb_1::from_item;

use crate::buckets::{
    BucketError, Entry, IntervalEntry, SegmentEntry, bucket_hour, bucket_len, bucket_sk, compact_segment_bucket,
    decode_bucket, hour_of, interval_bucket, segment_bucket,
};
use crate::diff::{self, Keyed};
use crate::dynamo::{Item, key};
use crate::items::{IntervalItem, IntoItem, SegmentItem, interval_sk, segment_sk};
use crate::keys::SK;

/// Bytes of a bucket above which its hour is written as single items: DynamoDB's item limit is 400 KB (409,600
/// bytes), and [`Bucketed::bucket_bytes`] is an estimate.
pub const MAX_BUCKET_BYTES: usize = 300_000;

/// An item shape the import stores one item each or in hour buckets: intervals and segments.
pub trait Bucketed: IntoItem + Keyed + PartialEq + Clone + DeserializeOwned {
    /// What a bucket element decodes to.
    type Entry: Entry;
    fn start(&self) -> DateTime<Utc>;
    /// The item of a bucket element of partition `pk`.
    fn from_entry(pk: &str, entry: Self::Entry) -> Self;
    /// The bucket of partition `pk`'s `items` of `hour`: in the compact form if `compact` and the shape has one.
    fn bucket(pk: String, hour: DateTime<Utc>, items: Vec<Self>, compact: bool) -> Result<Item, BucketError>;
    /// At least the bytes DynamoDB counts for this entry inside a bucket (attribute names and values, and the map's
    /// overhead).
    fn bucket_bytes(&self) -> usize;
    /// Whether the entry has no end yet (an open agent-state segment); [`HourRules::keep_ended`].
    fn open(&self) -> bool {
        false
    }
}

/// Per attribute: a name's and a value's length bytes and type, rounded up.
const ATTRIBUTE_OVERHEAD: usize = 4;
/// A timestamp as stored (`2024-05-15T10:00:00.250Z`), at most.
const TIME_BYTES: usize = 30;
/// A number as stored, at most (DynamoDB: about half the digits plus one; a u64 has 20).
const NUMBER_BYTES: usize = 21;

impl Bucketed for IntervalItem {
    type Entry = IntervalEntry;
    fn start(&self) -> DateTime<Utc> {
        self.start
    }
    fn from_entry(pk: &str, e: IntervalEntry) -> Self {
        IntervalItem {
            pk: pk.to_owned(),
            sk: interval_sk(e.start),
            start: e.start,
            offered: e.offered,
            handled: e.handled,
            abandoned: e.abandoned,
            handle_ms: e.handle_ms,
            answer_ms: e.answer_ms,
            sl: e.sl,
        }
    }
    fn bucket(pk: String, hour: DateTime<Utc>, items: Vec<Self>, _compact: bool) -> Result<Item, BucketError> {
        interval_bucket(pk, hour, items)
    }
    fn bucket_bytes(&self) -> usize {
        let names = "start offered handled abandoned handle_ms answer_ms sl".len();
        3 + names + TIME_BYTES + 6 * NUMBER_BYTES + 7 * ATTRIBUTE_OVERHEAD
    }
}

impl Bucketed for SegmentItem {
    type Entry = SegmentEntry;
    fn start(&self) -> DateTime<Utc> {
        self.start
    }
    fn from_entry(pk: &str, e: SegmentEntry) -> Self {
        SegmentItem {
            pk: pk.into(),
            sk: segment_sk(e.start),
            start: e.start,
            end: e.end,
            status_id: e.status_id.into(),
            reason: e.reason.map(Into::into),
        }
    }
    fn bucket(pk: String, hour: DateTime<Utc>, items: Vec<Self>, compact: bool) -> Result<Item, BucketError> {
        if compact { compact_segment_bucket(pk, hour, items) } else { segment_bucket(pk, hour, items) }
    }
    fn bucket_bytes(&self) -> usize {
        let names = "start end status_id reason".len();
        let strings = self.status_id.len() + self.reason.as_ref().map_or(0, |r| r.len());
        3 + names + 2 * TIME_BYTES + strings + 4 * ATTRIBUTE_OVERHEAD
    }
    fn open(&self) -> bool {
        self.end.is_none()
    }
}

/// The writes of one or more partitions, by phase (see the module documentation), and how many fetched entries
/// were stored alike already.
#[derive(Debug, Default)]
pub struct HourWrites {
    /// Buckets and single items to put: first.
    pub puts: Vec<Item>,
    /// Keys of single items to delete: once every put is done.
    pub deletes: Vec<Item>,
    /// Keys of buckets to delete: once every delete is done.
    pub late_deletes: Vec<Item>,
    pub unchanged: u64,
    /// Intervals or segments held in `puts` (a bucket counts its elements): what the writes weigh in memory.
    pub put_entries: usize,
}

impl HourWrites {
    /// Write requests.
    pub fn len(&self) -> usize {
        self.puts.len() + self.deletes.len() + self.late_deletes.len()
    }
    /// Entries held and keys to delete: a writer flushes by this, so the memory held stays bounded in both forms.
    pub fn weight(&self) -> usize {
        self.put_entries + self.deletes.len() + self.late_deletes.len()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The last `n` puts, taken out with the entries they hold (a writer carries them into its next flush).
    pub fn split_off_puts(&mut self, n: usize) -> HourWrites {
        let puts = self.puts.split_off(self.puts.len() - n);
        let put_entries = puts.iter().map(entries_held).sum();
        self.put_entries = self.put_entries.saturating_sub(put_entries);
        HourWrites { puts, put_entries, ..HourWrites::default() }
    }
}

/// The intervals or segments a put item holds: a bucket's elements, or one.
fn entries_held(item: &Item) -> usize {
    bucket_len(item).unwrap_or(1)
}

/// How [`diff_hours`] treats a partition.
#[derive(Debug, Clone, Copy)]
pub struct HourRules<F> {
    /// Whether an entry starting at this time is the fetch's to replace: a stored entry it owns and the fetch does
    /// not hold is removed; one it does not own stays (and is only replaced by a fetched entry with its start).
    pub owned: F,
    /// Whether an hour stored as single items (or not stored) moves into a bucket when it changes. Hours already in
    /// a bucket stay in buckets either way.
    pub make_buckets: bool,
    /// [`MAX_BUCKET_BYTES`] (smaller in tests).
    pub max_bucket_bytes: usize,
    /// Whether the buckets put are written in the compact form where the shape has one (segments:
    /// `HOUR_BUCKETS=compact`). A stored bucket in the other form is only rewritten when its hour changes.
    pub compact: bool,
    /// Whether a stored entry with an end stays when the fetch holds the same start without one ([`Bucketed::open`]).
    /// A feed's merge (Amazon Connect's agent event stream): of one state, the view without its end is the older
    /// one — an import that reads the stream only up to its window's end must not reopen a state the agent-states
    /// pass, reading to the stream's tip, stored closed.
    pub keep_ended: bool,
}

fn corrupt(e: BucketError) -> StoreError {
    StoreError::Corrupt(format!("building an hour bucket: {e}"))
}

/// One hour of a partition, as stored and as fetched.
struct Hour<T> {
    bucket: Option<Vec<T>>,
    singles: Vec<T>,
    /// Keys of stored single items that do not decode.
    unreadable: Vec<String>,
    fetched: Vec<T>,
}

impl<T> Default for Hour<T> {
    fn default() -> Self {
        Hour { bucket: None, singles: Vec::new(), unreadable: Vec::new(), fetched: Vec::new() }
    }
}

/// The hour of a single item's sort key (`IV#2024-05-15T10:15Z` → 10:00), if it has one.
fn single_hour(sk: &str, prefix: &str) -> Option<DateTime<Utc>> {
    sk.get(..prefix.len() + 13).and_then(|head| bucket_hour(head, prefix))
}

/// Adds to `out` what partition `pk` needs: `stored` is every item of the partition in whole hours (see
/// [`crate::buckets::whole_hours`]) — at least the hours `fetched` touches and those the caller owns a part of —
/// and `fetched` the entries the ACD returned (of equal starts the last counts). A stored bucket that cannot be
/// right is an error; a single item that does not decode is logged and left alone unless its hour is moved into a
/// bucket, or out of one.
pub fn diff_hours<T, F>(
    pk: &str,
    stored: Vec<Item>,
    fetched: Vec<T>,
    rules: &HourRules<F>,
    out: &mut HourWrites,
) -> Result<(), StoreError>
where
    T: Bucketed,
    F: Fn(DateTime<Utc>) -> bool,
{
    let prefix = T::Entry::PREFIX;
    let mut hours: BTreeMap<DateTime<Utc>, Hour<T>> = BTreeMap::new();
    for mut item in stored {
        let sk = match item.get(SK) {
            Some(AttributeValue::S(sk)) => sk.clone(),
            _ => return Err(StoreError::Corrupt(format!("{} item of {pk} without a string SK", T::Entry::WHAT))),
        };
        if let Some(hour) = bucket_hour(&sk, prefix) {
            item.remove(SK);
            let mut entries: Vec<T> =
                decode_bucket::<T::Entry>(&sk, hour, item)?.into_iter().map(|e| T::from_entry(pk, e)).collect();
            entries.sort_by_key(Bucketed::start);
            if let Some(pair) = entries.windows(2).find(|pair| pair[0].start() == pair[1].start()) {
                let what = T::Entry::WHAT;
                return Err(StoreError::Corrupt(format!("{what} item {sk}: two {what}s start at {}", pair[0].start())));
            }
            hours.entry(hour).or_default().bucket = Some(entries);
            continue;
        }
        match from_item::<T>(item) {
            Ok(single) => hours.entry(hour_of(single.start())).or_default().singles.push(single),
            Err(e) => {
                tracing::warn!(pk = %pk, sk = %sk, error = %e, "unreadable item");
                if let Some(hour) = single_hour(&sk, prefix) {
                    hours.entry(hour).or_default().unreadable.push(sk);
                }
            }
        }
    }
    for entry in fetched {
        hours.entry(hour_of(entry.start())).or_default().fetched.push(entry);
    }
    for (hour, h) in hours {
        diff_hour(pk, hour, h, rules, out)?;
    }
    Ok(())
}

fn diff_hour<T, F>(
    pk: &str,
    hour: DateTime<Utc>,
    h: Hour<T>,
    rules: &HourRules<F>,
    out: &mut HourWrites,
) -> Result<(), StoreError>
where
    T: Bucketed,
    F: Fn(DateTime<Utc>) -> bool,
{
    let Hour { bucket, mut singles, unreadable, mut fetched } = h;
    // Of equal starts the last fetched counts (a later record supersedes an earlier one); the sort is stable.
    fetched.sort_by_key(Bucketed::start);
    fetched.reverse();
    fetched.dedup_by_key(|t| t.start());
    fetched.reverse();
    singles.sort_by_key(Bucketed::start);
    let seen = bucket.as_ref().unwrap_or(&singles);

    // N: the fetched entries, and the seen ones the caller does not own that nothing fetched replaces (both lists
    // are sorted by start).
    let mut next: Vec<T> = Vec::with_capacity(fetched.len().max(seen.len()));
    let mut fetched = fetched.into_iter().peekable();
    for old in seen {
        while let Some(new) = fetched.next_if(|new| new.start() < old.start()) {
            next.push(new);
        }
        match fetched.next_if(|new| new.start() == old.start()) {
            Some(new) if rules.keep_ended && new.open() && !old.open() => {
                out.unchanged += 1;
                next.push(old.clone());
            }
            Some(new) => {
                out.unchanged += u64::from(new == *old);
                next.push(new);
            }
            None if !(rules.owned)(old.start()) => next.push(old.clone()),
            None => {}
        }
    }
    next.extend(fetched);

    let fits = || next.iter().map(Bucketed::bucket_bytes).sum::<usize>() <= rules.max_bucket_bytes;
    match bucket {
        Some(stored) if next == stored || (!next.is_empty() && fits()) => {
            if next != stored {
                out.put_entries += next.len();
                out.puts.push(T::bucket(pk.to_owned(), hour, next, rules.compact).map_err(corrupt)?);
            }
            // Single items it hides (a move a crash interrupted) go, now or after the bucket's put.
            out.deletes.extend(singles.iter().map(|s| key(pk.to_owned(), s.sk().to_owned())));
            out.deletes.extend(unreadable.into_iter().map(|sk| key(pk.to_owned(), sk)));
        }
        Some(_) => {
            // Out of the bucket: the single items are made right first (they are hidden until the bucket goes),
            // unreadable ones included, which the bucket's delete would otherwise show — except where a put writes
            // the same key: the put replaces it, and a delete after the put would remove the new item.
            let first_put = out.puts.len();
            singles_writes(pk, next, singles, out);
            let put: HashSet<&str> =
                out.puts[first_put..].iter().filter_map(|item| item.get(SK)?.as_s().ok()).map(String::as_str).collect();
            let unreadable: Vec<Item> = unreadable
                .into_iter()
                .filter(|sk| !put.contains(sk.as_str()))
                .map(|sk| key(pk.to_owned(), sk))
                .collect();
            out.deletes.extend(unreadable);
            out.late_deletes.push(key(pk.to_owned(), bucket_sk(T::Entry::PREFIX, hour)));
        }
        None if next == singles => {}
        None if rules.make_buckets && !next.is_empty() && fits() => {
            out.put_entries += next.len();
            out.puts.push(T::bucket(pk.to_owned(), hour, next, rules.compact).map_err(corrupt)?);
            out.deletes.extend(singles.iter().map(|s| key(pk.to_owned(), s.sk().to_owned())));
            out.deletes.extend(unreadable.into_iter().map(|sk| key(pk.to_owned(), sk)));
        }
        None => singles_writes(pk, next, singles, out),
    }
    Ok(())
}

/// The hour as single items: `next` is its whole content; what is stored alike stays.
fn singles_writes<T: Bucketed>(pk: &str, next: Vec<T>, singles: Vec<T>, out: &mut HourWrites) {
    let diff = diff::diff_partition(singles, next, |_| true);
    out.put_entries += diff.puts.len();
    out.puts.extend(diff.puts.into_iter().map(IntoItem::into_item));
    out.deletes.extend(diff.deletes.into_iter().map(|sk| key(pk.to_owned(), sk)));
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::{TimeDelta, TimeZone};

    use super::*;
    use crate::buckets::{SegmentEntry, read_entries, segment_bucket_sk};
    use crate::items::segment_sk;

    const PK_: &str = "T#t#I#i#A#jane";

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 5, 15, h, m, 0).unwrap()
    }

    fn seg(start: DateTime<Utc>, status: &str) -> SegmentItem {
        SegmentItem {
            pk: PK_.into(),
            sk: segment_sk(start),
            start,
            end: Some(start + TimeDelta::minutes(5)),
            status_id: status.into(),
            reason: None,
        }
    }

    /// A table of one partition: sort key → item.
    type Table = BTreeMap<String, Item>;

    fn sk_of(item: &Item) -> String {
        item.get(SK).and_then(|v| v.as_s().ok()).cloned().unwrap()
    }

    fn table_of(singles: &[SegmentItem], buckets: &[(DateTime<Utc>, Vec<SegmentItem>)]) -> Table {
        table_in(singles, buckets, false)
    }

    /// [`table_of`], its buckets in the compact form if `compact`.
    fn table_in(singles: &[SegmentItem], buckets: &[(DateTime<Utc>, Vec<SegmentItem>)], compact: bool) -> Table {
        let mut table = Table::new();
        for s in singles {
            table.insert(s.sk.clone(), s.clone().into_item());
        }
        for (hour, items) in buckets {
            let bucket = SegmentItem::bucket(PK_.into(), *hour, items.clone(), compact).unwrap();
            assert_eq!(bucket.contains_key(crate::buckets::COMPACT_SEGMENTS), compact);
            table.insert(sk_of(&bucket), bucket);
        }
        table
    }

    /// What a reader sees, by hour.
    fn view(table: &Table) -> BTreeMap<DateTime<Utc>, Vec<SegmentEntry>> {
        let entries: Vec<SegmentEntry> = read_entries(table.values().cloned().collect()).unwrap();
        let mut out: BTreeMap<DateTime<Utc>, Vec<SegmentEntry>> = BTreeMap::new();
        for e in entries {
            out.entry(hour_of(e.start)).or_default().push(e);
        }
        out
    }

    fn rules(
        make_buckets: bool,
        max_bucket_bytes: usize,
        owned_from: DateTime<Utc>,
    ) -> HourRules<impl Fn(DateTime<Utc>) -> bool> {
        HourRules { owned: move |t| t >= owned_from, make_buckets, max_bucket_bytes, compact: false, keep_ended: false }
    }

    fn plan(table: &Table, fetched: Vec<SegmentItem>, rules: &HourRules<impl Fn(DateTime<Utc>) -> bool>) -> HourWrites {
        let mut out = HourWrites::default();
        diff_hours(PK_, table.values().cloned().collect(), fetched, rules, &mut out).unwrap();
        out
    }

    fn apply_put(table: &mut Table, item: &Item) {
        table.insert(sk_of(item), item.clone());
    }

    fn apply_delete(table: &mut Table, key: &Item) {
        table.remove(&sk_of(key));
    }

    /// A single item's start, from its sort key (`S#2024-05-15T10:20:00.000Z`).
    fn seg_at(sk: &str) -> SegmentItem {
        let start = DateTime::parse_from_rfc3339(&sk[2..]).unwrap().with_timezone(&Utc);
        seg(start, "")
    }

    fn has_bucket(table: &Table, hour: DateTime<Utc>) -> bool {
        table.contains_key(&segment_bucket_sk(hour))
    }

    /// The phases applied in order, with a reader looking after every single request (in the given order and in
    /// reverse, as concurrent batches may land in any order). An hour with a bucket before or after always reads
    /// whole, as before or as after; an hour in single items both before and after reads each entry as before or
    /// as after (single items are written one by one, as they always were).
    fn check_every_step(before: &Table, writes: &HourWrites, expected: &BTreeMap<DateTime<Utc>, Vec<SegmentEntry>>) {
        let old = view(before);
        let after = applied(before, writes);
        for reversed in [false, true] {
            let mut table = before.clone();
            let phases: [(&Vec<Item>, bool); 3] =
                [(&writes.puts, true), (&writes.deletes, false), (&writes.late_deletes, false)];
            for (requests, put) in phases {
                let mut order: Vec<&Item> = requests.iter().collect();
                if reversed {
                    order.reverse();
                }
                for request in order {
                    if put {
                        apply_put(&mut table, request)
                    } else {
                        apply_delete(&mut table, request)
                    }
                    let now = view(&table);
                    let hours: std::collections::BTreeSet<_> =
                        old.keys().chain(expected.keys()).chain(now.keys()).copied().collect();
                    for hour in hours {
                        let (seen, was, will) = (now.get(&hour), old.get(&hour), expected.get(&hour));
                        if has_bucket(before, hour) || has_bucket(&after, hour) {
                            assert!(
                                seen == was || seen == will,
                                "hour {hour} reads {seen:?}: neither before ({was:?}) nor after ({will:?})"
                            );
                            continue;
                        }
                        let by_start = |list: Option<&Vec<SegmentEntry>>| -> BTreeMap<DateTime<Utc>, SegmentEntry> {
                            list.into_iter().flatten().map(|e| (e.start, e.clone())).collect()
                        };
                        let (seen, was, will) = (by_start(seen), by_start(was), by_start(will));
                        for start in seen.keys().chain(was.keys()).chain(will.keys()) {
                            let entry = seen.get(start);
                            assert!(
                                entry == was.get(start) || entry == will.get(start),
                                "entry {start} reads {entry:?}: neither before nor after"
                            );
                        }
                    }
                }
            }
            assert_eq!(&view(&table), expected, "after every phase");
        }
    }

    fn entries(items: &[SegmentItem]) -> BTreeMap<DateTime<Utc>, Vec<SegmentEntry>> {
        let table = table_of(items, &[]);
        view(&table)
    }

    /// Applies all phases.
    fn applied(before: &Table, writes: &HourWrites) -> Table {
        let mut table = before.clone();
        writes.puts.iter().for_each(|p| apply_put(&mut table, p));
        writes.deletes.iter().for_each(|d| apply_delete(&mut table, d));
        writes.late_deletes.iter().for_each(|d| apply_delete(&mut table, d));
        table
    }

    #[test]
    fn every_stored_form_and_fetch_ends_as_the_fetch_says_and_reads_whole_at_every_step() {
        let ten = vec![seg(at(10, 0), "Ready"), seg(at(10, 20), "Busy"), seg(at(10, 40), "Ready")];
        let eleven = vec![seg(at(11, 5), "Lunch"), seg(at(11, 30), "Ready")];
        let old: Vec<SegmentItem> = ten.iter().chain(&eleven).cloned().collect();
        let stale = vec![seg(at(10, 20), "Stale"), seg(at(11, 50), "Gone")];
        // Stored forms: single items; buckets; a bucket over stale hidden single items; a mix; nothing.
        let forms: Vec<(&str, Table)> = vec![
            ("singles", table_of(&old, &[])),
            ("buckets", table_of(&[], &[(at(10, 0), ten.clone()), (at(11, 0), eleven.clone())])),
            ("bucket over stale singles", table_of(&stale, &[(at(10, 0), ten.clone()), (at(11, 0), eleven.clone())])),
            ("mixed", table_of(&eleven, &[(at(10, 0), ten.clone())])),
            ("compact buckets", table_in(&[], &[(at(10, 0), ten.clone()), (at(11, 0), eleven.clone())], true)),
            (
                "compact bucket and list bucket",
                table_in(&[], &[(at(10, 0), ten.clone())], true)
                    .into_iter()
                    .chain(table_of(&[], &[(at(11, 0), eleven.clone())]))
                    .collect(),
            ),
            ("nothing", Table::new()),
        ];
        let changed = vec![seg(at(10, 0), "Ready"), seg(at(10, 20), "Training"), seg(at(11, 5), "Lunch")];
        let fetches: Vec<(&str, Vec<SegmentItem>)> = vec![
            ("same", old.clone()),
            ("changed", changed),
            ("empty", Vec::new()),
            ("more", old.iter().cloned().chain([seg(at(12, 10), "Ready")]).collect()),
        ];
        for (form, before) in &forms {
            for (fetch, fetched) in &fetches {
                for (make_buckets, compact) in [(false, false), (true, false), (true, true)] {
                    for max_bytes in [MAX_BUCKET_BYTES, 250] {
                        // Owned: everything, or from 10:30 on (the earlier entries are not the fetch's to delete).
                        for owned_from in [at(0, 0), at(10, 30)] {
                            let context = format!(
                                "{form} / {fetch} / buckets {make_buckets} (compact {compact}) / max {max_bytes} / \
                                 owned from {owned_from}"
                            );
                            let rules = HourRules { compact, ..rules(make_buckets, max_bytes, owned_from) };
                            let fetched: Vec<SegmentItem> = fetched.clone();
                            let seen: Vec<SegmentItem> =
                                view(before).into_values().flatten().map(|e| SegmentItem::from_entry(PK_, e)).collect();
                            // Expected: the fetch, plus what was seen before `owned_from` that the fetch does not
                            // replace.
                            let mut wanted = fetched.clone();
                            wanted.extend(
                                seen.into_iter()
                                    .filter(|s| s.start < owned_from && !fetched.iter().any(|f| f.start == s.start)),
                            );
                            let expected = entries(&wanted);
                            let writes = plan(before, fetched.clone(), &rules);
                            // A bucket put is in the form the rules ask for.
                            for put in writes.puts.iter().filter(|p| crate::buckets::is_bucket_sk(&sk_of(p))) {
                                let is_compact = put.contains_key(crate::buckets::COMPACT_SEGMENTS);
                                assert_eq!(is_compact, compact, "{context}: {put:?}");
                            }
                            check_every_step(before, &writes, &expected);
                            let after = applied(before, &writes);
                            // Converged: the same fetch again writes nothing.
                            let again = plan(&after, fetched.clone(), &rules);
                            assert!(again.is_empty(), "{context}: a second pass writes {again:?}");
                            // Forms: an hour that does not change keeps its form; one that changes is in a
                            // bucket afterwards if it was in one or buckets are made (and it fits and is not empty),
                            // and in single items otherwise.
                            let (was, will) = (view(before), view(&after));
                            let hours: std::collections::BTreeSet<_> = was.keys().chain(will.keys()).copied().collect();
                            for hour in hours {
                                let (had, has) = (has_bucket(before, hour), has_bucket(&after, hour));
                                if was.get(&hour) == will.get(&hour) {
                                    assert_eq!(had, has, "{context}: unchanged hour {hour} changed its form");
                                    continue;
                                }
                                let fits = will
                                    .get(&hour)
                                    .into_iter()
                                    .flatten()
                                    .map(|e| SegmentItem::from_entry(PK_, e.clone()).bucket_bytes())
                                    .sum::<usize>()
                                    <= max_bytes;
                                let bucket = (had || make_buckets) && fits && will.contains_key(&hour);
                                assert_eq!(has, bucket, "{context}: hour {hour}");
                                if has {
                                    let singles = after.keys().filter(|sk| {
                                        !crate::buckets::is_bucket_sk(sk)
                                            && hour_of(SegmentItem::start(&seg_at(sk))) == hour
                                    });
                                    assert_eq!(
                                        singles.count(),
                                        0,
                                        "{context}: hour {hour} keeps single items under its bucket"
                                    );
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn a_feeds_merge_keeps_a_stored_end_that_the_fetch_does_not_know_yet() {
        // The agent-states pass stored 10:00–10:05 (it read the stream to its tip); an import that read only up to
        // its window's end still sees the state open. Merged with `keep_ended`, the stored end stays; other changes
        // of the hour (a new segment) are still written; without it (a history's answer), the fetch counts.
        let closed = seg(at(10, 0), "Ready");
        let open = SegmentItem { end: None, ..closed.clone() };
        let before = table_of(&[], &[(at(10, 0), vec![closed.clone()])]);
        let merge = HourRules { keep_ended: true, ..rules(true, MAX_BUCKET_BYTES, at(23, 0)) };
        let writes = plan(&before, vec![open.clone()], &merge);
        assert!(writes.is_empty(), "{writes:?}");
        assert_eq!(writes.unchanged, 1);
        let later = SegmentItem { end: None, ..seg(at(10, 30), "Busy") };
        let mut after = before.clone();
        for put in &plan(&before, vec![open.clone(), later.clone()], &merge).puts {
            apply_put(&mut after, put);
        }
        let ends: Vec<_> = view(&after)[&at(10, 0)].iter().map(|e| (e.start, e.end)).collect();
        assert_eq!(ends, [(at(10, 0), closed.end), (at(10, 30), None)]);
        let replace = plan(&before, vec![open], &rules(true, MAX_BUCKET_BYTES, at(23, 0)));
        assert_eq!(replace.puts.len(), 1, "a history's answer replaces: {replace:?}");
    }

    #[test]
    fn an_unchanged_hour_stays_in_its_form_and_counts_as_unchanged() {
        let items = vec![seg(at(10, 0), "Ready"), seg(at(10, 20), "Busy")];
        for before in [table_of(&items, &[]), table_of(&[], &[(at(10, 0), items.clone())])] {
            let writes = plan(&before, items.clone(), &rules(true, MAX_BUCKET_BYTES, at(0, 0)));
            assert!(writes.is_empty(), "{writes:?}");
            assert_eq!(writes.unchanged, 2);
        }
    }

    #[test]
    fn a_changed_hour_moves_into_one_bucket_put_before_its_single_items_go() {
        let items = vec![seg(at(10, 0), "Ready"), seg(at(10, 20), "Busy"), seg(at(11, 0), "Ready")];
        let before = table_of(&items, &[]);
        let fetched = vec![seg(at(10, 0), "Ready"), seg(at(10, 20), "Lunch"), seg(at(11, 0), "Ready")];
        let writes = plan(&before, fetched, &rules(true, MAX_BUCKET_BYTES, at(0, 0)));
        assert_eq!(writes.puts.iter().map(sk_of).collect::<Vec<_>>(), vec![segment_bucket_sk(at(10, 0))]);
        assert_eq!(
            writes.deletes.iter().map(sk_of).collect::<Vec<_>>(),
            vec![segment_sk(at(10, 0)), segment_sk(at(10, 20))]
        );
        assert!(writes.late_deletes.is_empty());
        assert_eq!(writes.unchanged, 2, "10:00 and 11:00 were stored alike");
    }

    #[test]
    fn an_hour_too_large_for_one_item_is_written_as_single_items_and_its_bucket_deleted_last() {
        let items = vec![seg(at(10, 0), "Ready"), seg(at(10, 20), "Busy")];
        let before = table_of(&[], &[(at(10, 0), items.clone())]);
        let mut fetched = items.clone();
        fetched.push(seg(at(10, 40), "Ready"));
        let writes = plan(&before, fetched, &rules(true, 2 * items[0].bucket_bytes(), at(0, 0)));
        assert_eq!(writes.puts.len(), 3, "each segment as its own item");
        assert!(writes.deletes.is_empty());
        assert_eq!(writes.late_deletes.iter().map(sk_of).collect::<Vec<_>>(), vec![segment_bucket_sk(at(10, 0))]);
    }

    #[test]
    fn an_unreadable_single_item_under_a_bucket_is_replaced_not_deleted_where_the_hour_puts_its_key() {
        // A bucket hides an unreadable leftover single item at 10:20; the new content (10:00, 10:20, 10:40) is too
        // large for one item, so the hour goes back to single items, one of them at 10:20.
        let items = vec![seg(at(10, 0), "Ready"), seg(at(10, 20), "Busy")];
        let mut before = table_of(&[], &[(at(10, 0), items.clone())]);
        let mut unreadable = seg(at(10, 20), "Busy").into_item();
        unreadable.remove("start");
        before.insert(segment_sk(at(10, 20)), unreadable);
        let leftover = seg(at(10, 30), "Busy");
        let mut unreadable = leftover.clone().into_item();
        unreadable.remove("start");
        before.insert(leftover.sk.clone(), unreadable);
        let mut fetched = items.clone();
        fetched[1].status_id = "Lunch".into();
        fetched.push(seg(at(10, 40), "Ready"));
        let writes = plan(&before, fetched.clone(), &rules(true, 2 * items[0].bucket_bytes(), at(0, 0)));
        assert_eq!(writes.puts.len(), 3, "each segment as its own item");
        assert_eq!(writes.deletes.iter().map(sk_of).collect::<Vec<_>>(), vec![leftover.sk], "only the one not put");
        // (A reader refuses an unreadable item, hidden or not, so only the end is looked at.)
        assert_eq!(view(&applied(&before, &writes)), entries(&fetched));
    }

    #[test]
    fn puts_carried_into_the_next_flush_keep_the_entries_they_hold() {
        let before = table_of(&[], &[]);
        let fetched = vec![seg(at(10, 0), "Ready"), seg(at(10, 20), "Busy"), seg(at(10, 40), "Ready")];
        let mut writes = plan(&before, fetched, &rules(true, MAX_BUCKET_BYTES, at(0, 0)));
        let single = seg(at(11, 0), "Ready");
        diff_hours(PK_, Vec::new(), vec![single], &rules(false, MAX_BUCKET_BYTES, at(0, 0)), &mut writes).unwrap();
        assert_eq!((writes.puts.len(), writes.put_entries), (2, 4), "a bucket of three and one single item");
        let carried = writes.split_off_puts(2);
        assert_eq!((carried.puts.len(), carried.put_entries, carried.weight()), (2, 4, 4));
        assert_eq!((writes.puts.len(), writes.put_entries), (0, 0));
        // A compact bucket's segments count as its list's would.
        let compact = HourRules { compact: true, ..rules(true, MAX_BUCKET_BYTES, at(0, 0)) };
        let fetched = vec![seg(at(10, 0), "Ready"), seg(at(10, 20), "Busy"), seg(at(10, 40), "Ready")];
        let mut writes = plan(&before, fetched, &compact);
        assert!(writes.puts[0].contains_key(crate::buckets::COMPACT_SEGMENTS));
        assert_eq!(writes.split_off_puts(1).put_entries, 3);
    }

    #[test]
    fn a_corrupt_bucket_stops_the_partition() {
        let mut before = table_of(&[], &[(at(10, 0), vec![seg(at(10, 0), "Ready")])]);
        before.values_mut().for_each(|bucket| {
            bucket.remove(crate::buckets::BUCKET_VALUES);
        });
        let mut out = HourWrites::default();
        let rules = rules(true, MAX_BUCKET_BYTES, at(0, 0));
        let result =
            diff_hours(PK_, before.values().cloned().collect(), vec![seg(at(10, 0), "Busy")], &rules, &mut out);
        assert!(matches!(result, Err(StoreError::Corrupt(_))), "{result:?}");
        assert!(out.is_empty());
    }
}
