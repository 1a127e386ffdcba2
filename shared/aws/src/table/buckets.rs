//! Hour buckets: the second form of stored intervals and segments, read alongside the first.
//!
//! The import wrote one item per interval and per agent-state segment ([`crate::items::IntervalItem`],
//! [`crate::items::SegmentItem`]) until hour buckets (on by default since 2026-12-03; `HOUR_BUCKETS=off` keeps
//! single items). Most of an import's CPU and write units go to the
//! DynamoDB calls those items cost (25 per BatchWriteItem), so the data can be stored one item per queue-hour and
//! per agent-hour instead (README, issue 14). Readers understood both forms a release before any writer emitted the
//! second (a stack update replaces its functions one at a time, and a reader that met a bucket it cannot read would
//! lose that hour).
//!
//! | item | PK | SK | attributes |
//! | --- | --- | --- | --- |
//! | interval hour bucket | `T#{t}#Q#{queue id}` (as the interval items) | `IV#{YYYY-MM-DDTHH}` | `v` |
//! | segment hour bucket | `T#{t}#I#{int}#A#{external id}` (as the segment items) | `S#{YYYY-MM-DDTHH}` | `v` or `c` |
//!
//! - `v` is a list of maps, one per interval or segment starting in that UTC hour: each map is exactly the single
//!   item's attributes without `PK` and `SK` (so one shape decodes both forms). An empty list is allowed: the hour
//!   holds nothing.
//! - A segment bucket may hold `c` instead of `v` (read since 326dfeb, written by default after it; `HOUR_BUCKETS=on`
//!   writes `v`): the same segments in one binary attribute, a fifth of the bytes ([`CompactSegments`]). A list
//!   bucket's map repeats every attribute name and writes each time as 24 characters: an agent-hour of the
//!   benchmarks' Genesys data was 1,967 bytes on average (2 write units), its compact form fits in one.
//! - A bucket's sort key is its hour's single items' sort keys cut after the hour, so it sorts just before them and
//!   one Query reads both forms of a range (its lower bound taken at the hour).
//! - **Where a bucket is stored, it is the whole truth for its hour**: single items of that hour are ignored. A
//!   writer can then move an hour to the new form in one put (an empty bucket hides an hour whose data went away)
//!   and delete the hour's single items afterwards, and a reader never sees both forms or neither.
//! - A bucket that cannot be right is corrupt, never "no data": neither a `v` list nor `c` bytes, or both, an element
//!   that does not decode, an element starting outside the bucket's hour, two elements with one start; compact bytes
//!   of an unknown format, that do not decode or have bytes after their end, or that name a status or reason not
//!   listed, and `c` in an interval bucket.
//!
//! Who reads and writes what: `GET /queues/{id}/intervals` and `GET /agent-states` read both forms
//! ([`read_entries`]). Every import path — the day diffs, the agent-state pass, the Amazon Connect feed's merge —
//! reads whole hours and writes each hour in its form ([`crate::table::hour_writes`]): an hour in a bucket stays
//! in one, an hour in single items moves into a bucket when it changes unless `HOUR_BUCKETS=off`. Unchanged days are
//! not moved (their digests still vouch for them, and both forms read the same). The push API writes single items
//! into push integrations' partitions only, which no import writes. The release before this writer refused a range
//! holding a bucket ("… holds the hour bucket …"): rolling back to it after buckets were written delays those
//! partitions' imports until the roll forward; it never hides or loses data.

use std::collections::{BTreeMap, BTreeSet};

use acd_app::ports::StoreError;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_dynamo::aws_sdk_dynamodb_1::from_item;

use crate::dynamo::Item;
use crate::items::{IntervalItem, IntoItem, SEGMENT_SK_PREFIX, SegmentItem};
use crate::keys::{PK, SK};

/// The list attribute of a bucket.
pub const BUCKET_VALUES: &str = "v";
/// The binary attribute of a compact segment bucket, in place of [`BUCKET_VALUES`].
pub const COMPACT_SEGMENTS: &str = "c";
/// Sort-key prefix of intervals (single items and buckets).
pub const INTERVAL_SK_PREFIX: &str = "IV#";
/// `YYYY-MM-DDTHH`: what follows the prefix in a bucket's sort key.
const HOUR_TEXT_LEN: usize = 13;

/// The UTC hour that contains `t` (the import's plan cuts statistics at the same hours).
pub use acd_app::import::plan::hour_start as hour_of;

/// How many hour buckets `entries` (partition, start) fill, counted as runs of entries in one partition and UTC
/// hour: exact when they come sorted by partition and start (as the connectors hand intervals and the import's day
/// cut hands segments), more otherwise, never more than the entries. An hour too large for one bucket
/// ([`crate::table::hour_writes::MAX_BUCKET_BYTES`]) is written as single items: more than this counts.
pub fn hour_runs<'a>(entries: impl IntoIterator<Item = (&'a str, DateTime<Utc>)>) -> u64 {
    let mut last: Option<(&str, DateTime<Utc>)> = None;
    let mut runs = 0;
    for (partition, start) in entries {
        let here = Some((partition, hour_of(start)));
        if here != last {
            runs += 1;
            last = here;
        }
    }
    runs
}

pub(crate) fn bucket_sk(prefix: &str, hour: DateTime<Utc>) -> String {
    format!("{prefix}{}", hour.format("%Y-%m-%dT%H"))
}

/// The sort key of the interval bucket of the hour that contains `t` (`IV#YYYY-MM-DDTHH`).
pub fn interval_bucket_sk(t: DateTime<Utc>) -> String {
    bucket_sk(INTERVAL_SK_PREFIX, hour_of(t))
}

/// The sort key of the segment bucket of the hour that contains `t` (`S#YYYY-MM-DDTHH`).
pub fn segment_bucket_sk(t: DateTime<Utc>) -> String {
    bucket_sk(SEGMENT_SK_PREFIX, hour_of(t))
}

/// Whether `sk` is an interval or segment bucket's sort key.
pub fn is_bucket_sk(sk: &str) -> bool {
    bucket_hour(sk, INTERVAL_SK_PREFIX).is_some() || bucket_hour(sk, SEGMENT_SK_PREFIX).is_some()
}

/// The hour of a bucket's sort key; `None` for a single item's key (or any other).
pub(crate) fn bucket_hour(sk: &str, prefix: &str) -> Option<DateTime<Utc>> {
    let hour = sk.strip_prefix(prefix).filter(|rest| rest.len() == HOUR_TEXT_LEN)?;
    NaiveDateTime::parse_from_str(&format!("{hour}:00"), "%Y-%m-%dT%H:%M").ok().map(|t| t.and_utc())
}

/// One interval as the readers see it, from a single item or a bucket element.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct IntervalEntry {
    pub start: DateTime<Utc>,
    pub offered: u64,
    pub handled: u64,
    pub abandoned: u64,
    pub handle_ms: u64,
    pub answer_ms: u64,
    #[serde(default)]
    pub sl: Option<u64>,
}

/// One segment as the readers see it, from a single item or a bucket element.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SegmentEntry {
    pub start: DateTime<Utc>,
    #[serde(default)]
    pub end: Option<DateTime<Utc>>,
    pub status_id: String,
    #[serde(default)]
    pub reason: Option<String>,
}

/// An interval or segment entry: what the readers need of it.
pub trait Entry: DeserializeOwned {
    /// `IV#` or `S#`.
    const PREFIX: &'static str;
    /// For error texts: `interval`, `segment`.
    const WHAT: &'static str;
    fn start(&self) -> DateTime<Utc>;
    /// The entries of a compact bucket's `c` ([`COMPACT_SEGMENTS`]) of `hour`, or why they cannot be right.
    fn decode_compact(hour: DateTime<Utc>, bytes: &[u8]) -> Result<Vec<Self>, String> {
        let _ = (hour, bytes);
        Err(format!("a compact `{COMPACT_SEGMENTS}` in an {} bucket (only segments have one)", Self::WHAT))
    }
}

impl Entry for IntervalEntry {
    const PREFIX: &'static str = INTERVAL_SK_PREFIX;
    const WHAT: &'static str = "interval";
    fn start(&self) -> DateTime<Utc> {
        self.start
    }
}

impl Entry for SegmentEntry {
    const PREFIX: &'static str = SEGMENT_SK_PREFIX;
    const WHAT: &'static str = "segment";
    fn start(&self) -> DateTime<Utc> {
        self.start
    }
    fn decode_compact(hour: DateTime<Utc>, bytes: &[u8]) -> Result<Vec<Self>, String> {
        CompactSegments::decode(hour, bytes)
    }
}

/// The compact form of a segment bucket's content (`c`, [`COMPACT_SEGMENTS`]): a format byte (1), then this
/// struct in postcard's encoding (integers as varints, strings and lists length-prefixed). Times are whole
/// milliseconds: a start as milliseconds after the bucket's hour, an end as milliseconds after its start. Status ids
/// and reasons are listed once per bucket, and each segment names them by index. Segments with a time that is not a
/// whole millisecond, or a leap second's (chrono's `:60`, which an offset cannot say; no connector makes either), are
/// written in the list form instead.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompactSegments {
    statuses: Vec<String>,
    reasons: Vec<String>,
    segments: Vec<CompactSegment>,
}

#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
struct CompactSegment {
    start_ms: u32,
    length_ms: Option<i64>,
    status: u32,
    reason: Option<u32>,
}

/// The format byte that opens a compact bucket's bytes.
const COMPACT_FORMAT_1: u8 = 1;

impl CompactSegments {
    /// The bytes of `segments` (of the bucket of `hour`, sorted by start; [`bucket_item`] checked that each starts in
    /// it), or `None` when one of them has a time that is not a whole millisecond.
    fn encode(hour: DateTime<Utc>, segments: &[SegmentItem]) -> Option<Vec<u8>> {
        fn index(names: &mut Vec<String>, name: &str) -> u32 {
            let at = names.iter().position(|n| n == name).unwrap_or_else(|| {
                names.push(name.to_owned());
                names.len() - 1
            });
            // A bucket holds at most a few thousand segments (MAX_BUCKET_BYTES), each naming one.
            u32::try_from(at).unwrap_or(u32::MAX)
        }
        let whole_ms = |t: DateTime<Utc>| {
            let nanos = t.timestamp_subsec_nanos();
            nanos < 1_000_000_000 && nanos.is_multiple_of(1_000_000)
        };
        let mut out = CompactSegments { statuses: Vec::new(), reasons: Vec::new(), segments: Vec::new() };
        for s in segments {
            if !whole_ms(s.start) || !s.end.is_none_or(whole_ms) {
                return None;
            }
            let start_ms = u32::try_from((s.start - hour).num_milliseconds()).ok()?;
            let length_ms = s.end.map(|end| (end - s.start).num_milliseconds());
            let status = index(&mut out.statuses, &s.status_id);
            let reason = s.reason.as_deref().map(|r| index(&mut out.reasons, r));
            out.segments.push(CompactSegment { start_ms, length_ms, status, reason });
        }
        postcard::to_extend(&out, vec![COMPACT_FORMAT_1]).ok()
    }

    /// The segments of the compact bytes of the bucket of `hour`, or why they cannot be right.
    fn decode(hour: DateTime<Utc>, bytes: &[u8]) -> Result<Vec<SegmentEntry>, String> {
        let Some((&COMPACT_FORMAT_1, rest)) = bytes.split_first() else {
            return Err(format!("a compact `{COMPACT_SEGMENTS}` of unknown format {:?}", bytes.first()));
        };
        let (compact, left): (CompactSegments, &[u8]) = postcard::take_from_bytes(rest)
            .map_err(|e| format!("a compact `{COMPACT_SEGMENTS}` that does not decode: {e}"))?;
        if !left.is_empty() {
            return Err(format!("a compact `{COMPACT_SEGMENTS}` with {} bytes after its end", left.len()));
        }
        let name = |names: &[String], at: u32, what: &str| {
            names.get(at as usize).cloned().ok_or_else(|| format!("a segment naming {what} {at} of {}", names.len()))
        };
        let mut out = Vec::with_capacity(compact.segments.len());
        for s in &compact.segments {
            let start = hour + TimeDelta::milliseconds(i64::from(s.start_ms));
            let end = match s.length_ms {
                Some(ms) => Some(
                    TimeDelta::try_milliseconds(ms)
                        .and_then(|d| start.checked_add_signed(d))
                        .ok_or_else(|| format!("a segment at {start} lasting {ms} ms"))?,
                ),
                None => None,
            };
            out.push(SegmentEntry {
                start,
                end,
                status_id: name(&compact.statuses, s.status, "status")?,
                reason: s.reason.map(|r| name(&compact.reasons, r, "reason")).transpose()?,
            });
        }
        Ok(out)
    }
}

fn corrupt(what: &str, sk: &str, problem: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what} item {sk}: {problem}"))
}

/// Reads the items of one partition's range — single items and hour buckets of `E`, in any order — into entries
/// sorted by start. A bucket's hour hides the single items of that hour; a bucket that cannot be right is an
/// error ([`StoreError::Corrupt`]).
pub fn read_entries<E: Entry>(items: Vec<Item>) -> Result<Vec<E>, StoreError> {
    let mut singles: Vec<E> = Vec::new();
    let mut buckets: BTreeMap<DateTime<Utc>, Vec<E>> = BTreeMap::new();
    for mut item in items {
        // Taken out, not copied: an entry has no key.
        let Some(AttributeValue::S(sk)) = item.remove(SK) else {
            return Err(StoreError::Corrupt(format!("{} item without a string SK", E::WHAT)));
        };
        let Some(hour) = bucket_hour(&sk, E::PREFIX) else {
            singles.push(from_item(item).map_err(|e| corrupt(E::WHAT, &sk, e))?);
            continue;
        };
        buckets.insert(hour, decode_bucket(&sk, hour, item)?);
    }
    let hidden: BTreeSet<DateTime<Utc>> = buckets.keys().copied().collect();
    let mut out: Vec<E> = singles.into_iter().filter(|e| !hidden.contains(&hour_of(e.start()))).collect();
    out.extend(buckets.into_values().flatten());
    out.sort_by_key(Entry::start);
    if let Some(pair) = out.windows(2).find(|pair| pair[0].start() == pair[1].start()) {
        return Err(StoreError::Corrupt(format!("two {}s start at {}", E::WHAT, pair[0].start())));
    }
    Ok(out)
}

/// The entries of the bucket `item` (without its `SK`, given as `sk`) of `hour`, or why they cannot be right.
pub(crate) fn decode_bucket<E: Entry>(sk: &str, hour: DateTime<Utc>, mut item: Item) -> Result<Vec<E>, StoreError> {
    let entries: Vec<E> = match (item.remove(BUCKET_VALUES), item.remove(COMPACT_SEGMENTS)) {
        (Some(AttributeValue::L(values)), None) => {
            let mut entries = Vec::with_capacity(values.len());
            for value in values {
                let AttributeValue::M(map) = value else {
                    return Err(corrupt(E::WHAT, sk, "a bucket element that is not a map"));
                };
                entries.push(from_item(map).map_err(|e| corrupt(E::WHAT, sk, e))?);
            }
            entries
        }
        (None, Some(AttributeValue::B(bytes))) => {
            E::decode_compact(hour, bytes.as_ref()).map_err(|problem| corrupt(E::WHAT, sk, problem))?
        }
        _ => {
            let text =
                format!("a bucket without its `{BUCKET_VALUES}` list or `{COMPACT_SEGMENTS}` bytes (one of them)");
            return Err(corrupt(E::WHAT, sk, text));
        }
    };
    for entry in &entries {
        if hour_of(entry.start()) != hour {
            return Err(corrupt(E::WHAT, sk, format!("an element starting at {} outside its hour", entry.start())));
        }
    }
    Ok(entries)
}

/// The sort-key bounds (for `BETWEEN`) of whole hours of `prefix` items, from the hour containing `from` through
/// the hour containing `through`: each hour's bucket and all its single items, and nothing of the hours around.
pub fn whole_hours(prefix: &str, from: DateTime<Utc>, through: DateTime<Utc>) -> (String, String) {
    // `~` sorts after every character a single item's key has after its hour (`:`, digits, `Z`, `.`) and before
    // the next hour's digits.
    (bucket_sk(prefix, hour_of(from)), format!("{}~", bucket_sk(prefix, hour_of(through))))
}

/// Why a bucket cannot be made of the given items.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BucketError {
    #[error("an item of partition {0} does not belong in a bucket of partition {1}")]
    OtherPartition(String, String),
    #[error("an item starting at {0} is not in the bucket's hour {1}")]
    OtherHour(DateTime<Utc>, DateTime<Utc>),
    #[error("two items start at {0}")]
    SameStart(DateTime<Utc>),
}

/// The bucket item of `items` (checked: of partition `pk`, in `hour`, no two with one start), its content made by
/// `content` from the items sorted by start.
fn bucket_item<T, F>(
    pk: String,
    prefix: &str,
    hour: DateTime<Utc>,
    mut items: Vec<T>,
    parts: F,
    content: impl FnOnce(DateTime<Utc>, Vec<T>) -> (&'static str, AttributeValue),
) -> Result<Item, BucketError>
where
    T: IntoItem,
    F: Fn(&T) -> (&str, DateTime<Utc>),
{
    let hour = hour_of(hour);
    for item in &items {
        let (item_pk, start) = parts(item);
        if item_pk != pk {
            return Err(BucketError::OtherPartition(item_pk.to_owned(), pk));
        }
        if hour_of(start) != hour {
            return Err(BucketError::OtherHour(start, hour));
        }
    }
    items.sort_by_key(|item| parts(item).1);
    if let Some(pair) = items.windows(2).find(|pair| parts(&pair[0]).1 == parts(&pair[1]).1) {
        return Err(BucketError::SameStart(parts(&pair[0]).1));
    }
    let (name, value) = content(hour, items);
    Ok(Item::from([
        (PK.to_owned(), AttributeValue::S(pk)),
        (SK.to_owned(), AttributeValue::S(bucket_sk(prefix, hour))),
        (name.to_owned(), value),
    ]))
}

/// A bucket's `v` list of `items`.
fn list<T: IntoItem>(_hour: DateTime<Utc>, items: Vec<T>) -> (&'static str, AttributeValue) {
    (BUCKET_VALUES, AttributeValue::L(items.into_iter().map(|item| AttributeValue::M(item.into_element())).collect()))
}

/// The bucket of partition `pk`'s intervals starting in `hour` (`items` may be empty: the hour holds none).
pub fn interval_bucket(pk: String, hour: DateTime<Utc>, items: Vec<IntervalItem>) -> Result<Item, BucketError> {
    bucket_item(pk, INTERVAL_SK_PREFIX, hour, items, |i| (i.pk.as_str(), i.start), list)
}

/// The bucket of partition `pk`'s segments starting in `hour` (`items` may be empty: the hour holds none), in the
/// list form.
pub fn segment_bucket(pk: String, hour: DateTime<Utc>, items: Vec<SegmentItem>) -> Result<Item, BucketError> {
    bucket_item(pk, SEGMENT_SK_PREFIX, hour, items, |s| (&*s.pk, s.start), list)
}

/// [`segment_bucket`] in the compact form ([`CompactSegments`]), or in the list form where a time is not a whole
/// millisecond.
pub fn compact_segment_bucket(pk: String, hour: DateTime<Utc>, items: Vec<SegmentItem>) -> Result<Item, BucketError> {
    bucket_item(
        pk,
        SEGMENT_SK_PREFIX,
        hour,
        items,
        |s| (&*s.pk, s.start),
        |hour, items| match CompactSegments::encode(hour, &items) {
            Some(bytes) => (COMPACT_SEGMENTS, AttributeValue::B(bytes.into())),
            None => list(hour, items),
        },
    )
}

/// The segments or intervals a bucket holds (its `v` list's length, or its compact form's segments), if `item` is
/// a bucket that decodes.
pub fn bucket_len(item: &Item) -> Option<usize> {
    match (item.get(BUCKET_VALUES), item.get(COMPACT_SEGMENTS)) {
        (Some(AttributeValue::L(values)), _) => Some(values.len()),
        (_, Some(AttributeValue::B(bytes))) => {
            let (_, rest) = bytes.as_ref().split_first()?;
            postcard::take_from_bytes::<CompactSegments>(rest).ok().map(|(c, _)| c.segments.len())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::items::{interval_sk, segment_sk};
    use chrono::{TimeDelta, TimeZone};

    fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 5, 15, h, m, s).unwrap()
    }

    fn interval(pk: &str, start: DateTime<Utc>, offered: u64) -> IntervalItem {
        IntervalItem {
            pk: pk.into(),
            sk: interval_sk(start),
            start,
            offered,
            handled: offered / 2,
            abandoned: offered - offered / 2,
            handle_ms: 1000 * offered,
            answer_ms: 10 * offered,
            sl: offered.is_multiple_of(2).then_some(offered / 3),
        }
    }

    fn segment(pk: &str, start: DateTime<Utc>, end: Option<DateTime<Utc>>, status: &str) -> SegmentItem {
        SegmentItem {
            pk: pk.into(),
            sk: segment_sk(start),
            start,
            end,
            status_id: status.into(),
            reason: status.split_once(": ").map(|(_, r)| r.into()),
        }
    }

    fn entry(i: &IntervalItem) -> IntervalEntry {
        IntervalEntry {
            start: i.start,
            offered: i.offered,
            handled: i.handled,
            abandoned: i.abandoned,
            handle_ms: i.handle_ms,
            answer_ms: i.answer_ms,
            sl: i.sl,
        }
    }

    #[test]
    fn hour_runs_count_the_buckets_of_sorted_entries_and_never_more_than_the_entries() {
        // Two partitions: a's entries in hours 9 and 10, b's in hour 9 (its quarter hours, the last at 09:59:59).
        let sorted = [
            ("a", at(9, 0, 0)),
            ("a", at(9, 15, 0)),
            ("a", at(9, 45, 0)),
            ("a", at(10, 0, 0)),
            ("b", at(9, 0, 0)),
            ("b", at(9, 30, 0)),
            ("b", at(9, 59, 59)),
        ];
        assert_eq!(hour_runs(sorted), 3);
        assert_eq!(hour_runs([]), 0);
        // Out of order, an hour can be counted again (an upper bound), never more often than it has entries.
        let shuffled = [sorted[0], sorted[4], sorted[1], sorted[5], sorted[2], sorted[3], sorted[6]];
        assert_eq!(hour_runs(shuffled), 7);
        assert_eq!(hour_runs([sorted[3], sorted[0], sorted[1]]), 2);
    }

    #[test]
    fn bucket_keys_sort_just_before_their_hours_single_items() {
        assert_eq!(interval_bucket_sk(at(10, 37, 12)), "IV#2024-05-15T10");
        assert_eq!(segment_bucket_sk(at(10, 0, 0)), "S#2024-05-15T10");
        assert!(interval_bucket_sk(at(10, 0, 0)) < interval_sk(at(10, 0, 0)));
        assert!(interval_sk(at(9, 45, 0)) < interval_bucket_sk(at(10, 0, 0)));
        assert!(segment_bucket_sk(at(10, 0, 0)) < segment_sk(at(10, 0, 0)));
        assert!(segment_sk(at(9, 59, 59) + TimeDelta::milliseconds(999)) < segment_bucket_sk(at(10, 0, 0)));
        assert_eq!(bucket_hour("IV#2024-05-15T10", INTERVAL_SK_PREFIX), Some(at(10, 0, 0)));
        assert_eq!(bucket_hour(&interval_sk(at(10, 15, 0)), INTERVAL_SK_PREFIX), None);
        assert_eq!(bucket_hour(&segment_sk(at(10, 15, 0)), SEGMENT_SK_PREFIX), None);
        assert_eq!(bucket_hour("IV#2024-05-15T25", INTERVAL_SK_PREFIX), None, "not an hour");
    }

    #[test]
    fn both_forms_read_the_same_and_a_bucket_hides_its_hours_single_items() {
        let pk = "T#t#Q#q";
        let ten: Vec<IntervalItem> =
            [0, 15, 30, 45].iter().map(|m| interval(pk, at(10, *m, 0), 4 + *m as u64)).collect();
        let eleven = vec![interval(pk, at(11, 15, 0), 9)];
        let singles = || ten.iter().chain(&eleven).cloned().map(IntoItem::into_item);
        let from_singles: Vec<IntervalEntry> = read_entries(singles().collect()).unwrap();
        assert_eq!(from_singles, ten.iter().chain(&eleven).map(entry).collect::<Vec<_>>());

        // Hour 10 as a bucket (listed in reverse order), hour 11 as a single item.
        let reversed: Vec<IntervalItem> = ten.iter().rev().cloned().collect();
        let bucket = interval_bucket(pk.into(), at(10, 0, 0), reversed).unwrap();
        let mixed = vec![eleven[0].clone().into_item(), bucket.clone()];
        assert_eq!(read_entries::<IntervalEntry>(mixed).unwrap(), from_singles);

        // Both forms of hour 10 stored (a writer between its bucket put and its deletes): the bucket wins, even
        // where the single items differ or hold an interval the bucket no longer has.
        let newer = vec![interval(pk, at(10, 15, 0), 100)];
        let bucket = interval_bucket(pk.into(), at(10, 5, 0), newer.clone()).unwrap();
        let read: Vec<IntervalEntry> = read_entries(singles().chain([bucket]).collect()).unwrap();
        assert_eq!(read, vec![entry(&newer[0]), entry(&eleven[0])]);

        // An empty bucket hides its hour.
        let empty = interval_bucket(pk.into(), at(11, 0, 0), Vec::new()).unwrap();
        let read: Vec<IntervalEntry> = read_entries(singles().chain([empty]).collect()).unwrap();
        assert_eq!(read, ten.iter().map(entry).collect::<Vec<_>>());
    }

    #[test]
    fn segments_read_the_same_from_both_forms() {
        let pk = "T#t#I#i#A#jane";
        let ms = TimeDelta::milliseconds(250);
        let items = vec![
            segment(pk, at(10, 0, 0), Some(at(10, 0, 0) + ms), "Ready"),
            segment(pk, at(10, 0, 0) + ms, Some(at(10, 40, 0)), "Not Ready: Lunch"),
            segment(pk, at(10, 40, 0), None, "Ready"),
        ];
        let singles: Vec<SegmentEntry> =
            read_entries(items.iter().cloned().map(IntoItem::into_item).collect()).unwrap();
        let bucket = segment_bucket(pk.into(), at(10, 0, 0), items.clone()).unwrap();
        assert_eq!(read_entries::<SegmentEntry>(vec![bucket]).unwrap(), singles);
        assert_eq!(singles.len(), 3);
        assert_eq!(singles[1].reason.as_deref(), Some("Lunch"));
        assert_eq!(singles[2].end, None);
        assert_eq!(singles[0].start, at(10, 0, 0));
    }

    /// An hour of an agent as the benchmarks' Genesys data has it: 17 segments, three statuses (a presence
    /// definition's id and a routing status), a reason on some, the last still open.
    fn busy_hour(pk: &str) -> Vec<SegmentItem> {
        let statuses =
            ["6a3af858-942f-489d-9700-5f9bcdcdae9b:IDLE", "6a3af858-942f-489d-9700-5f9bcdcdae9b:INTERACTING"];
        let mut out = Vec::new();
        for i in 0..17u32 {
            let start = at(10, 0, 0) + TimeDelta::milliseconds(i64::from(i) * 211_337);
            let end = (i < 16).then(|| at(10, 0, 0) + TimeDelta::milliseconds(i64::from(i + 1) * 211_337));
            let status =
                if i % 5 == 4 { "e08eaf1b-ee47-4fa9-a231-1200e284798f: Lunch" } else { statuses[i as usize % 2] };
            out.push(segment(pk, start, end, status));
        }
        out
    }

    fn compact_bytes(bucket: &Item) -> &[u8] {
        match bucket.get(COMPACT_SEGMENTS) {
            Some(AttributeValue::B(bytes)) => bytes.as_ref(),
            other => panic!("no compact bytes: {other:?}"),
        }
    }

    #[test]
    fn a_compact_segment_bucket_reads_as_its_list_form_in_a_fraction_of_the_bytes() {
        let pk = "T#t#I#i#A#jane";
        let ms = TimeDelta::milliseconds(250);
        let mut hours = vec![
            vec![
                segment(pk, at(10, 0, 0), Some(at(10, 0, 0) + ms), "Ready"),
                segment(pk, at(10, 0, 0) + ms, Some(at(12, 40, 0)), "Not Ready: Lunch"),
                segment(pk, at(10, 59, 59) + TimeDelta::milliseconds(999), None, "Ready"),
            ],
            busy_hour(pk),
            Vec::new(),
        ];
        // An end before its start (no connector makes one, but it is stored as given) and reasons without statuses.
        hours.push(vec![segment(pk, at(10, 30, 0), Some(at(9, 0, 0)), "Ready"), {
            let mut s = segment(pk, at(10, 31, 0), None, "Ready");
            s.reason = Some("Ready".into());
            s
        }]);
        for items in hours {
            let list = segment_bucket(pk.into(), at(10, 0, 0), items.clone()).unwrap();
            let shuffled: Vec<SegmentItem> = items.iter().rev().cloned().collect();
            let compact = compact_segment_bucket(pk.into(), at(10, 7, 0), shuffled).unwrap();
            assert!(!compact.contains_key(BUCKET_VALUES), "{compact:?}");
            assert_eq!(compact[SK], list[SK]);
            assert_eq!(compact[PK], list[PK]);
            let from_list: Vec<SegmentEntry> = read_entries(vec![list]).unwrap();
            assert_eq!(from_list.len(), items.len());
            assert_eq!(read_entries::<SegmentEntry>(vec![compact.clone()]).unwrap(), from_list);
            // It hides its hour's single items as a list bucket does.
            let singles = items.iter().map(|s| SegmentItem { status_id: "Other".into(), ..s.clone() }.into_item());
            let both: Vec<Item> = singles.chain([compact]).collect();
            assert_eq!(read_entries::<SegmentEntry>(both).unwrap(), from_list);
        }
        // The benchmark's agent-hour (a tenant, an integration's UUID and an agent's): over 2 KB, 3 write units, as a
        // list; 17 segments in 303 bytes compact, one write unit.
        let pk = "T#tenant-1#I#0193a3c2-7f5e-7a10-9c3b-5d2e8f1a4b6c#A#2f7c9e4a-1b3d-4e5f-8a9b-0c1d2e3f4a5b";
        let list = segment_bucket(pk.into(), at(10, 0, 0), busy_hour(pk)).unwrap();
        let compact = compact_segment_bucket(pk.into(), at(10, 0, 0), busy_hour(pk)).unwrap();
        assert_eq!(compact_bytes(&compact).len(), 303);
        assert_eq!((item_bytes(&list), item_bytes(&compact)), (2_091, 411));
    }

    /// An item's size as DynamoDB counts it (names and values; a map or list 3 bytes and 1 per element; a number
    /// about half its digits, counted here as its text: the items here hold none).
    fn item_bytes(item: &Item) -> usize {
        fn value(v: &AttributeValue) -> usize {
            match v {
                AttributeValue::S(s) | AttributeValue::N(s) => s.len(),
                AttributeValue::B(b) => b.as_ref().len(),
                AttributeValue::M(m) => 3 + m.iter().map(|(k, v)| k.len() + value(v) + 1).sum::<usize>(),
                AttributeValue::L(l) => 3 + l.iter().map(|v| value(v) + 1).sum::<usize>(),
                other => panic!("not in a bucket: {other:?}"),
            }
        }
        item.iter().map(|(k, v)| k.len() + value(v)).sum()
    }

    #[test]
    fn a_compact_bucket_of_a_time_that_is_not_a_whole_millisecond_or_a_leap_second_keeps_the_list_form() {
        let pk = "T#t#I#i#A#jane";
        let leap = chrono::NaiveDate::from_ymd_opt(2024, 5, 15).unwrap().and_hms_milli_opt(10, 59, 59, 1_500).unwrap();
        for (i, change) in [(3, Some(TimeDelta::nanoseconds(1))), (5, None)] {
            let mut items = busy_hour(pk);
            items[i].end = match change {
                Some(delta) => items[i].end.map(|end| end + delta),
                None => Some(leap.and_utc()),
            };
            let bucket = compact_segment_bucket(pk.into(), at(10, 0, 0), items.clone()).unwrap();
            assert!(bucket.contains_key(BUCKET_VALUES) && !bucket.contains_key(COMPACT_SEGMENTS), "{i}");
            let read: Vec<SegmentEntry> = read_entries(vec![bucket]).unwrap();
            assert_eq!(read[i].end, items[i].end);
        }
        // A bucket of another hour's segment is refused in either form.
        assert_eq!(
            compact_segment_bucket(pk.into(), at(11, 0, 0), busy_hour(pk)),
            Err(BucketError::OtherHour(at(10, 0, 0), at(11, 0, 0)))
        );
    }

    #[test]
    fn a_compact_bucket_that_cannot_be_right_is_corrupt_never_empty() {
        let pk = "T#t#I#i#A#jane";
        let good = compact_segment_bucket(pk.into(), at(10, 0, 0), busy_hour(pk)).unwrap();
        let bytes = compact_bytes(&good).to_vec();
        let with_bytes = |bytes: Vec<u8>| {
            let mut item = good.clone();
            item.insert(COMPACT_SEGMENTS.into(), AttributeValue::B(bytes.into()));
            item
        };
        let encoded = |compact: &CompactSegments| postcard::to_extend(compact, vec![COMPACT_FORMAT_1]).unwrap();
        let decoded = || -> CompactSegments { postcard::from_bytes(&bytes[1..]).unwrap() };
        let mut cases: Vec<(&str, Item)> = vec![
            ("unknown format Some(2)", with_bytes([&[2u8][..], &bytes[1..]].concat())),
            ("unknown format None", with_bytes(Vec::new())),
            ("does not decode", with_bytes(bytes[..bytes.len() - 3].to_vec())),
            ("2 bytes after its end", with_bytes([&bytes[..], &[0, 0]].concat())),
        ];
        let mut other_status = decoded();
        other_status.segments[2].status = 3;
        cases.push(("naming status 3 of 3", with_bytes(encoded(&other_status))));
        let mut other_reason = decoded();
        other_reason.segments[4].reason = Some(1);
        cases.push(("naming reason 1 of 1", with_bytes(encoded(&other_reason))));
        let mut next_hour = decoded();
        next_hour.segments[16].start_ms = 3_600_000;
        cases.push(("starting at 2024-05-15 11:00:00 UTC outside its hour", with_bytes(encoded(&next_hour))));
        let mut endless = decoded();
        endless.segments[0].length_ms = Some(i64::MAX);
        cases.push(("lasting 9223372036854775807 ms", with_bytes(encoded(&endless))));
        let mut twice = decoded();
        twice.segments[1].start_ms = twice.segments[0].start_ms;
        cases.push(("two segments start at", with_bytes(encoded(&twice))));
        let mut both = good.clone();
        both.insert(BUCKET_VALUES.into(), AttributeValue::L(Vec::new()));
        cases.push(("without its `v` list or `c` bytes", both));
        let mut not_bytes = good.clone();
        not_bytes.insert(COMPACT_SEGMENTS.into(), AttributeValue::S("x".into()));
        cases.push(("without its `v` list or `c` bytes", not_bytes));
        for (expected, bucket) in cases {
            match read_entries::<SegmentEntry>(vec![bucket]) {
                Err(StoreError::Corrupt(text)) => assert!(text.contains(expected), "{text} (wanted {expected})"),
                other => panic!("{expected}: {other:?}"),
            }
        }
        // Compact bytes in an interval bucket.
        let mut interval = good.clone();
        interval.insert(SK.into(), AttributeValue::S(interval_bucket_sk(at(10, 0, 0))));
        match read_entries::<IntervalEntry>(vec![interval]) {
            Err(StoreError::Corrupt(text)) => assert!(text.contains("only segments have one"), "{text}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(bucket_len(&good), Some(17));
        assert_eq!(read_entries::<SegmentEntry>(vec![good]).unwrap().len(), 17);
    }

    #[test]
    fn a_bucket_that_cannot_be_right_is_corrupt_never_empty() {
        let pk = "T#t#Q#q";
        let good = interval_bucket(pk.into(), at(10, 0, 0), vec![interval(pk, at(10, 15, 0), 3)]).unwrap();
        let mut cases: Vec<(&str, Item)> = Vec::new();
        let mut no_list = good.clone();
        no_list.remove(BUCKET_VALUES);
        cases.push(("without its `v` list", no_list));
        let mut not_a_list = good.clone();
        not_a_list.insert(BUCKET_VALUES.into(), AttributeValue::S("x".into()));
        cases.push(("without its `v` list", not_a_list));
        let mut not_a_map = good.clone();
        not_a_map.insert(BUCKET_VALUES.into(), AttributeValue::L(vec![AttributeValue::N("1".into())]));
        cases.push(("not a map", not_a_map));
        let mut missing_field = good.clone();
        if let Some(AttributeValue::L(values)) = missing_field.get_mut(BUCKET_VALUES)
            && let Some(AttributeValue::M(map)) = values.first_mut()
        {
            map.remove("offered");
        }
        cases.push(("offered", missing_field));
        let mut other_hour = good.clone();
        other_hour.insert(SK.into(), AttributeValue::S(interval_bucket_sk(at(11, 0, 0))));
        cases.push(("outside its hour", other_hour));
        let mut twice = good.clone();
        if let Some(AttributeValue::L(values)) = twice.get_mut(BUCKET_VALUES) {
            values.push(values[0].clone());
        }
        cases.push(("two intervals start at", twice));
        for (expected, bucket) in cases {
            match read_entries::<IntervalEntry>(vec![bucket]) {
                Err(StoreError::Corrupt(text)) => assert!(text.contains(expected), "{text} (wanted {expected})"),
                other => panic!("{expected}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_bucket_is_made_only_of_its_own_hour_and_partition() {
        let pk = "T#t#Q#q";
        assert_eq!(
            interval_bucket(pk.into(), at(10, 0, 0), vec![interval(pk, at(11, 0, 0), 1)]),
            Err(BucketError::OtherHour(at(11, 0, 0), at(10, 0, 0)))
        );
        assert_eq!(
            interval_bucket(pk.into(), at(10, 0, 0), vec![interval("T#t#Q#other", at(10, 0, 0), 1)]),
            Err(BucketError::OtherPartition("T#t#Q#other".into(), pk.into()))
        );
        assert_eq!(
            interval_bucket(
                pk.into(),
                at(10, 0, 0),
                vec![interval(pk, at(10, 0, 0), 1), interval(pk, at(10, 0, 0), 2)]
            ),
            Err(BucketError::SameStart(at(10, 0, 0)))
        );
        let spk = "T#t#I#i#A#a";
        assert_eq!(
            segment_bucket(spk.into(), at(10, 0, 0), vec![segment(spk, at(9, 59, 59), None, "Ready")]),
            Err(BucketError::OtherHour(at(9, 59, 59), at(10, 0, 0)))
        );
    }
}
