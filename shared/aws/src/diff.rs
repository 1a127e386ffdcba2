//! The diff engine of imported data, as pure functions over items (no table, no SDK types): which partitions of a
//! chunk must be read at all ([`plan_chunk`], from the chunk's stored digest), and, for one partition, which items
//! to put and which to delete ([`diff_partition`], from the stored and the fetched items). The import store only
//! reads, calls these, and writes.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};

use crate::digest::{self, ChunkDigest, Digestible};

/// Items with a sort key, unique within their partition.
pub trait Keyed {
    fn sk(&self) -> &str;
}

/// What one partition needs: items to put (new or changed, in sort-key order, each key once), sort keys to delete
/// (in order), and how many fetched items are stored already.
#[derive(Debug, PartialEq, Eq)]
pub struct PartitionDiff<T> {
    pub puts: Vec<T>,
    pub deletes: Vec<String>,
    pub unchanged: u64,
}

/// Compares a partition's `stored` items (as read) with the `fetched` ones (what the ACD returned for the same range):
/// an item equal to its stored one is skipped, a new or changed one put, a stored one no longer fetched deleted only
/// where `deletable` says the fetch covered it completely (elsewhere it stays). Of fetched items with the same sort
/// key the last one counts (a later record supersedes an earlier one); a key is never both put and deleted.
pub fn diff_partition<T: Keyed + PartialEq>(
    stored: Vec<T>,
    fetched: Vec<T>,
    deletable: impl Fn(&T) -> bool,
) -> PartitionDiff<T> {
    if stored.is_empty() {
        // Nothing stored (always so in a back-fill): every fetched key is put, the last of equal keys; no key is
        // copied into a map.
        let mut puts = fetched;
        puts.sort_by(|a, b| a.sk().cmp(b.sk())); // stable: equal keys keep their fetch order
        puts.reverse();
        puts.dedup_by(|later, earlier| later.sk() == earlier.sk()); // reversed: keeps the first, the fetch's last
        puts.reverse();
        return PartitionDiff { puts, deletes: Vec::new(), unchanged: 0 };
    }
    let mut old: HashMap<String, T> = stored.into_iter().map(|t| (t.sk().to_owned(), t)).collect();
    let mut wanted: BTreeMap<String, T> = BTreeMap::new();
    for item in fetched {
        wanted.insert(item.sk().to_owned(), item);
    }
    let mut out = PartitionDiff { puts: Vec::new(), deletes: Vec::new(), unchanged: 0 };
    for (sk, item) in wanted {
        match old.remove(&sk) {
            Some(previous) if previous == item => out.unchanged += 1,
            _ => out.puts.push(item),
        }
    }
    out.deletes = old.into_iter().filter(|(_, t)| deletable(t)).map(|(sk, _)| sk).collect();
    out.deletes.sort();
    out
}

/// What a chunk needs before any partition is read: the digest of its fetched content, whether a digest is kept for
/// it at all (not for chunks with more than [`digest::MAX_PARTITIONS`] partitions), the partitions still to compare
/// with the table (those the stored digest does not already record with the same content; every one when there is
/// no stored digest), and how many fetched items the stored digest vouches for.
#[derive(Debug)]
pub struct ChunkPlan<T> {
    pub digest: ChunkDigest,
    pub use_digest: bool,
    pub compare: BTreeMap<String, Vec<T>>,
    pub unchanged: u64,
}

/// Plans a chunk from its fetched items by partition and the chunk's stored digest, if any. Each partition's items
/// are put in sort-key order (the digest hashes them in that order, so the fetch order does not matter). `from`: the
/// hour inside its day the chunk starts at, `None` for a whole day ([`ChunkDigest::insert`]).
pub fn plan_chunk<T: Keyed + Digestible>(
    mut fetched: BTreeMap<String, Vec<T>>,
    from: Option<DateTime<Utc>>,
    stored: Option<&ChunkDigest>,
) -> ChunkPlan<T> {
    let mut digest = ChunkDigest::default();
    for (pk, items) in fetched.iter_mut() {
        items.sort_by(|a, b| a.sk().cmp(b.sk()));
        digest.insert(pk, from, items);
    }
    let use_digest = fetched.len() <= digest::MAX_PARTITIONS;
    let mut unchanged = 0;
    if use_digest && let Some(stored) = stored {
        fetched.retain(|pk, items| {
            let known = digest.agrees(stored, pk);
            if known {
                unchanged += items.len() as u64;
            }
            !known
        });
    }
    ChunkPlan { digest, use_digest, compare: fetched, unchanged }
}

/// Whether the chunk's digest must be (re)written after its writes: it is kept, and the stored one is missing,
/// different, or was deleted because items changed.
pub fn digest_needs_writing(
    plan_digest: &ChunkDigest,
    use_digest: bool,
    stored: Option<&ChunkDigest>,
    changed: bool,
) -> bool {
    use_digest && (changed || stored != Some(plan_digest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq)]
    struct It {
        sk: String,
        value: u64,
    }

    impl Digestible for It {
        fn digest_into(&self, content: &mut digest::Content) {
            content.str(&self.sk);
            content.u64(self.value);
        }
    }

    impl Keyed for It {
        fn sk(&self) -> &str {
            &self.sk
        }
    }

    fn it(sk: &str, value: u64) -> It {
        It { sk: sk.into(), value }
    }

    fn all(_: &It) -> bool {
        true
    }

    #[test]
    fn unchanged_items_are_skipped_changed_and_new_put_vanished_deleted() {
        let stored = vec![it("a", 1), it("b", 2), it("c", 3)];
        let fetched = vec![it("d", 4), it("b", 20), it("a", 1)];
        let d = diff_partition(stored, fetched, all);
        assert_eq!(d.puts, vec![it("b", 20), it("d", 4)], "changed and new, in sort-key order");
        assert_eq!(d.deletes, vec!["c".to_owned()]);
        assert_eq!(d.unchanged, 1);
    }

    #[test]
    fn vanished_items_are_deleted_only_where_the_fetch_was_complete() {
        // Only items from "m" on were covered by the fetch: older ones stay even though not fetched again.
        let stored = vec![it("a", 1), it("m", 2), it("z", 3)];
        let d = diff_partition(stored, vec![it("z", 3)], |t| t.sk.as_str() >= "m");
        assert_eq!(d.deletes, vec!["m".to_owned()]);
        assert!(d.puts.is_empty());
        assert_eq!(d.unchanged, 1);

        let nothing_complete = diff_partition(vec![it("a", 1), it("b", 2)], Vec::new(), |_| false);
        assert_eq!(nothing_complete, PartitionDiff { puts: Vec::new(), deletes: Vec::new(), unchanged: 0 });
    }

    #[test]
    fn order_does_not_matter_and_duplicates_collapse_to_the_last() {
        let stored = vec![it("c", 3), it("a", 1)];
        let forward = diff_partition(stored.clone(), vec![it("a", 1), it("b", 2), it("c", 3)], all);
        let backward = diff_partition(stored.clone(), vec![it("c", 3), it("b", 2), it("a", 1)], all);
        assert_eq!(forward, backward);

        // The same key twice: one put, of the last record, and never also a delete.
        let d = diff_partition(stored.clone(), vec![it("b", 1), it("a", 9), it("b", 2), it("a", 1)], all);
        assert_eq!(d.puts, vec![it("b", 2)]);
        assert_eq!(d.unchanged, 1, "a: its last record equals the stored one");
        assert_eq!(d.deletes, vec!["c".to_owned()]);
        let d = diff_partition(stored, vec![it("c", 3), it("c", 4)], all);
        assert_eq!((d.puts, d.deletes, d.unchanged), (vec![it("c", 4)], vec!["a".to_owned()], 0));
    }

    #[test]
    fn empty_inputs() {
        let none: PartitionDiff<It> = diff_partition(Vec::new(), Vec::new(), all);
        assert_eq!(none, PartitionDiff { puts: Vec::new(), deletes: Vec::new(), unchanged: 0 });
        let fresh = diff_partition(Vec::new(), vec![it("b", 2), it("a", 1)], all);
        assert_eq!(fresh.puts, vec![it("a", 1), it("b", 2)]);
        // Nothing stored and the same key twice: the last record of each key, in key order (as with items stored).
        let fresh = diff_partition(Vec::new(), vec![it("b", 1), it("a", 9), it("b", 2), it("c", 3), it("a", 1)], all);
        assert_eq!(fresh.puts, vec![it("a", 1), it("b", 2), it("c", 3)]);
        assert_eq!((fresh.deletes.len(), fresh.unchanged), (0, 0));
        let emptied = diff_partition(vec![it("b", 2), it("a", 1)], Vec::new(), all);
        assert_eq!(emptied.deletes, vec!["a".to_owned(), "b".to_owned()]);
        assert!(emptied.puts.is_empty());
    }

    fn chunk(parts: &[(&str, Vec<It>)]) -> BTreeMap<String, Vec<It>> {
        parts.iter().map(|(pk, items)| (pk.to_string(), items.clone())).collect()
    }

    #[test]
    fn a_stored_digest_spares_only_the_partitions_it_records_with_the_same_content() {
        let before = chunk(&[("q1", vec![it("a", 1), it("b", 2)]), ("q2", vec![it("a", 5)]), ("q3", vec![])]);
        let stored = plan_chunk(before, None, None);
        assert_eq!(stored.compare.len(), 3, "without a stored digest every partition is compared");
        assert_eq!(stored.unchanged, 0);
        assert!(stored.use_digest);

        // q1 fetched in another order (same content), q2 changed, q3 unchanged and empty, q4 new.
        let now = chunk(&[
            ("q1", vec![it("b", 2), it("a", 1)]),
            ("q2", vec![it("a", 6)]),
            ("q3", vec![]),
            ("q4", vec![it("a", 1)]),
        ]);
        let plan = plan_chunk(now, None, Some(&stored.digest));
        assert_eq!(plan.compare.keys().collect::<Vec<_>>(), vec!["q2", "q4"]);
        assert_eq!(plan.unchanged, 2, "q1's two items");
        assert!(digest_needs_writing(&plan.digest, plan.use_digest, Some(&stored.digest), false), "content changed");

        let again = plan_chunk(
            chunk(&[("q1", vec![it("a", 1), it("b", 2)]), ("q2", vec![it("a", 5)]), ("q3", vec![])]),
            None,
            Some(&stored.digest),
        );
        assert!(again.compare.is_empty());
        assert_eq!(again.unchanged, 3);
        assert!(!digest_needs_writing(&again.digest, again.use_digest, Some(&stored.digest), false), "current");
        assert!(digest_needs_writing(&again.digest, again.use_digest, Some(&stored.digest), true), "deleted");
        assert!(digest_needs_writing(&again.digest, again.use_digest, None, false), "missing");
    }

    #[test]
    fn an_empty_chunk_plans_nothing_and_a_huge_one_goes_without_a_digest() {
        let plan = plan_chunk::<It>(BTreeMap::new(), None, Some(&ChunkDigest::default()));
        assert!(plan.compare.is_empty() && plan.unchanged == 0 && plan.digest.is_empty());

        let huge: BTreeMap<String, Vec<It>> =
            (0..=digest::MAX_PARTITIONS).map(|i| (format!("q{i}"), Vec::new())).collect();
        let first = plan_chunk(huge.clone(), None, None);
        let plan = plan_chunk(huge, None, Some(&first.digest));
        assert!(!plan.use_digest);
        assert_eq!(plan.compare.len(), digest::MAX_PARTITIONS + 1, "every partition compared, none vouched for");
        assert!(!digest_needs_writing(&plan.digest, plan.use_digest, None, true));
    }
}
