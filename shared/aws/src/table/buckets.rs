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
//! | segment hour bucket | `T#{t}#I#{int}#A#{external id}` (as the segment items) | `S#{YYYY-MM-DDTHH}` | `v` |
//!
//! - `v` is a list of maps, one per interval or segment starting in that UTC hour: each map is exactly the single
//!   item's attributes without `PK` and `SK` (so one shape decodes both forms). An empty list is allowed: the hour
//!   holds nothing.
//! - A bucket's sort key is its hour's single items' sort keys cut after the hour, so it sorts just before them and
//!   one Query reads both forms of a range (its lower bound taken at the hour).
//! - **Where a bucket is stored, it is the whole truth for its hour**: single items of that hour are ignored. A
//!   writer can then move an hour to the new form in one put (an empty bucket hides an hour whose data went away)
//!   and delete the hour's single items afterwards, and a reader never sees both forms or neither.
//! - A bucket that cannot be right is corrupt, never "no data": no `v` list, an element that does not decode, an
//!   element starting outside the bucket's hour, two elements with one start.
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
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_dynamo::aws_sdk_dynamodb_1::from_item;

use crate::dynamo::Item;
use crate::items::{IntervalItem, IntoItem, SEGMENT_SK_PREFIX, SegmentItem};
use crate::keys::{PK, SK};

/// The list attribute of a bucket.
pub const BUCKET_VALUES: &str = "v";
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
    let Some(AttributeValue::L(values)) = item.remove(BUCKET_VALUES) else {
        return Err(corrupt(E::WHAT, sk, format!("a bucket without its `{BUCKET_VALUES}` list")));
    };
    let mut entries = Vec::with_capacity(values.len());
    for value in values {
        let AttributeValue::M(map) = value else {
            return Err(corrupt(E::WHAT, sk, "a bucket element that is not a map"));
        };
        let entry: E = from_item(map).map_err(|e| corrupt(E::WHAT, sk, e))?;
        if hour_of(entry.start()) != hour {
            return Err(corrupt(E::WHAT, sk, format!("an element starting at {} outside its hour", entry.start())));
        }
        entries.push(entry);
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

fn bucket_item<T, F>(
    pk: String,
    prefix: &str,
    hour: DateTime<Utc>,
    mut items: Vec<T>,
    parts: F,
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
    let values = items.into_iter().map(|item| AttributeValue::M(item.into_element())).collect();
    Ok(Item::from([
        (PK.to_owned(), AttributeValue::S(pk)),
        (SK.to_owned(), AttributeValue::S(bucket_sk(prefix, hour))),
        (BUCKET_VALUES.to_owned(), AttributeValue::L(values)),
    ]))
}

/// The bucket of partition `pk`'s intervals starting in `hour` (`items` may be empty: the hour holds none).
pub fn interval_bucket(pk: String, hour: DateTime<Utc>, items: Vec<IntervalItem>) -> Result<Item, BucketError> {
    bucket_item(pk, INTERVAL_SK_PREFIX, hour, items, |i| (i.pk.as_str(), i.start))
}

/// The bucket of partition `pk`'s segments starting in `hour` (`items` may be empty: the hour holds none).
pub fn segment_bucket(pk: String, hour: DateTime<Utc>, items: Vec<SegmentItem>) -> Result<Item, BucketError> {
    bucket_item(pk, SEGMENT_SK_PREFIX, hour, items, |s| (&*s.pk, s.start))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::items::{interval_sk, segment_sk};
    use chrono::TimeDelta;
    use chrono::TimeZone;

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
