//! Chunk digests: what the import last wrote into each partition of one day chunk, as content hashes.
//!
//! Every run re-reads the reconciliation window (24 to 72 hours) from the ACD, and nearly all of it is unchanged.
//! Comparing with the stored items would cost one Query per queue and per agent for every day re-read; the digest
//! item of the chunk replaces those reads with one GetItem: a partition whose new content hashes to the digest's
//! entry is known to be stored already, and only the other partitions are read and diffed.
//!
//! The digest is only ever true: it is deleted before a chunk's items change and written again after they all
//! were, so a run that dies in between leaves no digest and the next run compares every partition. It relies on
//! the import being the only writer of interval and segment items (the lease makes runs sequential), and on run
//! windows that never end earlier than an earlier run's (the clock moves forward): a digest made when today's
//! chunk ended at 10:00 still vouches for a partition at 10:15 whose content has not changed, as nothing was
//! written after 10:00 since.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

/// Bumped whenever the item shapes or the hashing change: older digests then match nothing (the next run compares
/// those days' partitions with the table once, writing nothing that is unchanged, and stores new digests).
/// v1 hashed each partition's items as serde_json wrote them; v2 hashes their attributes in [`Content`]'s binary form.
const VERSION: &[u8] = b"acd-digest-v2\n";
/// Bytes of a partition-key hash and of a content hash.
const HALF: usize = 8;
const ENTRY: usize = 2 * HALF;
/// Chunks with more partitions than this go without a digest (the item would approach DynamoDB's 400 KB limit).
pub const MAX_PARTITIONS: usize = 20_000;

type Half = [u8; HALF];

fn half(bytes: &[u8]) -> Half {
    let mut out = [0u8; HALF];
    out.copy_from_slice(&bytes[..HALF]);
    out
}

/// Content hashes of a chunk's partitions, keyed by a hash of the partition key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChunkDigest {
    entries: HashMap<Half, Half>,
}

impl ChunkDigest {
    /// Records the content of one partition: its items in sort-key order, read from `from` — `None` for a whole
    /// day, else the hour inside its day a chunk starts at. That start is hashed in: a digest of a day read from an
    /// hour never agrees with one of the day read whole (or from another hour), whatever the content. A release that
    /// reads digests without their `start` (the one before it was recorded, rolled back to) then compares such a
    /// partition with the table instead of taking the hours before the cut as vouched for.
    pub fn insert<T: Digestible>(&mut self, pk: &str, from: Option<DateTime<Utc>>, items: &[T]) {
        let entry = (half(&Sha256::digest(pk.as_bytes())), content_hash(from, items));
        self.entries.insert(entry.0, entry.1);
    }

    /// Whether `other` records the same content for `pk` as this digest.
    pub fn agrees(&self, other: &ChunkDigest, pk: &str) -> bool {
        let key = half(&Sha256::digest(pk.as_bytes()));
        matches!((self.entries.get(&key), other.entries.get(&key)), (Some(a), Some(b)) if a == b)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Sorted `(key hash, content hash)` pairs: 16 bytes a partition.
    pub fn encode(&self) -> Vec<u8> {
        let mut entries: Vec<_> = self.entries.iter().collect();
        entries.sort();
        let mut out = Vec::with_capacity(entries.len() * ENTRY);
        for (k, v) in entries {
            out.extend_from_slice(k);
            out.extend_from_slice(v);
        }
        out
    }

    /// `None` when the bytes are not a digest (then nothing is taken as stored).
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        if !bytes.len().is_multiple_of(ENTRY) {
            return None;
        }
        let entries = bytes.chunks_exact(ENTRY).map(|e| (half(&e[..HALF]), half(&e[HALF..]))).collect();
        Some(Self { entries })
    }
}

/// An item whose content a digest records: every attribute the import writes of it except the partition key (the
/// digest keys its entries by that), fed to [`Content`] in a fixed order.
pub trait Digestible {
    fn digest_into(&self, content: &mut Content);
}

/// The bytes a partition's content hash is made of: each value in a self-delimiting binary form (strings
/// length-prefixed, numbers fixed-width, optional values tagged), so two different items never feed the same bytes.
/// Cheaper than hashing the items' JSON as v1 did (no escaping, no formatted times): a steady-state run, which hashes
/// every item it re-reads, takes about a tenth less CPU (README, Benchmarks).
pub struct Content(Sha256);

impl Content {
    pub fn str(&mut self, value: &str) {
        self.0.update((value.len() as u64).to_le_bytes());
        self.0.update(value.as_bytes());
    }

    pub fn u64(&mut self, value: u64) {
        self.0.update(value.to_le_bytes());
    }

    pub fn time(&mut self, value: DateTime<Utc>) {
        self.0.update(value.timestamp().to_le_bytes());
        self.0.update(value.timestamp_subsec_nanos().to_le_bytes());
    }

    fn tag(&mut self, present: bool) {
        self.0.update([u8::from(present)]);
    }

    pub fn opt_str(&mut self, value: Option<&str>) {
        self.tag(value.is_some());
        if let Some(v) = value {
            self.str(v);
        }
    }

    pub fn opt_u64(&mut self, value: Option<u64>) {
        self.tag(value.is_some());
        if let Some(v) = value {
            self.u64(v);
        }
    }

    pub fn opt_time(&mut self, value: Option<DateTime<Utc>>) {
        self.tag(value.is_some());
        if let Some(v) = value {
            self.time(v);
        }
    }
}

fn content_hash<T: Digestible>(from: Option<DateTime<Utc>>, items: &[T]) -> Half {
    let mut content = Content(Sha256::new());
    content.0.update(VERSION);
    // Not for whole days: their hashes stay those of the digests written before chunks could start inside a day.
    if let Some(from) = from {
        content.0.update(b"from\n");
        content.time(from);
    }
    content.u64(items.len() as u64);
    for item in items {
        item.digest_into(&mut content);
    }
    half(&content.0.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Item {
        sk: &'static str,
        value: u64,
    }

    impl Digestible for Item {
        fn digest_into(&self, content: &mut Content) {
            content.str(self.sk);
            content.u64(self.value);
        }
    }

    fn digest(parts: &[(&str, &[Item])]) -> ChunkDigest {
        let mut d = ChunkDigest::default();
        for (pk, items) in parts {
            d.insert(pk, None, items);
        }
        d
    }

    #[test]
    fn equal_content_agrees_and_any_change_does_not() {
        let stored = digest(&[("q1", &[Item { sk: "a", value: 1 }]), ("q2", &[])]);
        let same = digest(&[("q2", &[]), ("q1", &[Item { sk: "a", value: 1 }])]);
        assert!(same.agrees(&stored, "q1") && same.agrees(&stored, "q2"));

        let changed = digest(&[("q1", &[Item { sk: "a", value: 2 }]), ("q2", &[Item { sk: "b", value: 0 }])]);
        assert!(!changed.agrees(&stored, "q1"), "a changed value");
        assert!(!changed.agrees(&stored, "q2"), "an item appeared");
        assert!(!changed.agrees(&stored, "q3") && !stored.agrees(&stored, "q3"), "unknown partitions never agree");
        let moved = digest(&[("q1", &[Item { sk: "b", value: 1 }])]);
        assert!(!moved.agrees(&stored, "q1"), "a changed key");
    }

    #[test]
    fn a_day_read_from_an_hour_never_agrees_with_the_day_read_whole_or_from_another_hour() {
        let at = |h| "2024-05-14T00:00:00Z".parse::<DateTime<Utc>>().unwrap() + chrono::Duration::hours(h);
        let items = [Item { sk: "IV#2024-05-14T10:00Z", value: 7 }];
        let from = |hour: Option<i64>| {
            let mut d = ChunkDigest::default();
            d.insert("q1", hour.map(at), &items);
            d
        };
        // The same content: a digest of the day from 10:00 (a release that reads no `start` would take it for the
        // whole day's, and the hours before 10:00 as stored) agrees only with one from 10:00.
        assert!(from(Some(10)).agrees(&from(Some(10)), "q1"));
        assert!(!from(None).agrees(&from(Some(10)), "q1"), "the whole day's content");
        assert!(!from(Some(11)).agrees(&from(Some(10)), "q1"), "from another hour");
        // (The whole day's hash is what it was before spans had a start: `hashes_are_stable_across_builds` pins it.)
    }

    /// Two strings and an optional one, to show the form is self-delimiting.
    struct Pair(&'static str, &'static str, Option<&'static str>);

    impl Digestible for Pair {
        fn digest_into(&self, content: &mut Content) {
            content.str(self.0);
            content.str(self.1);
            content.opt_str(self.2);
        }
    }

    fn hash(items: &[Pair]) -> Half {
        content_hash(None, items)
    }

    #[test]
    fn values_never_run_into_each_other() {
        assert_ne!(hash(&[Pair("ab", "c", None)]), hash(&[Pair("a", "bc", None)]), "a moved boundary");
        assert_ne!(hash(&[Pair("a", "", None)]), hash(&[Pair("a", "", Some(""))]), "absent is not empty");
        assert_ne!(hash(&[Pair("a", "b", None), Pair("c", "d", None)]), hash(&[Pair("a", "b", None)]), "one more item");
        assert_ne!(hash(&[]), hash(&[Pair("", "", None)]), "an empty item is an item");
        assert_eq!(hash(&[Pair("a", "b", Some("c"))]), hash(&[Pair("a", "b", Some("c"))]));
    }

    #[test]
    fn encoding_round_trips_and_is_independent_of_insertion_order() {
        let a = digest(&[("q1", &[Item { sk: "a", value: 1 }]), ("q2", &[]), ("q3", &[])]);
        let b = digest(&[("q3", &[]), ("q2", &[]), ("q1", &[Item { sk: "a", value: 1 }])]);
        assert_eq!(a.encode(), b.encode());
        assert_eq!(a.encode().len(), 3 * 16);
        assert_eq!(ChunkDigest::decode(&a.encode()), Some(a));
        assert_eq!(ChunkDigest::decode(&[1, 2, 3]), None, "a torn value is no digest");
        assert_eq!(ChunkDigest::decode(&[]), Some(ChunkDigest::default()));
    }

    #[test]
    fn hashes_are_stable_across_builds() {
        // Stored digests must stay readable by later releases: this pins the hash of a known content (checked
        // independently: sha256 of the key, then of the version line, the item count and the item's values as
        // little-endian u64 lengths and numbers, first 8 bytes of each).
        let d = digest(&[("T#t#Q#q", &[Item { sk: "IV#2024-05-14T10:00Z", value: 7 }])]);
        let hex: String = d.encode().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex.len(), 32);
        assert_eq!(hex, PINNED);
    }

    const PINNED: &str = "8d96d4bbc8b4d157bd3b01f3cf87e69f";
}
