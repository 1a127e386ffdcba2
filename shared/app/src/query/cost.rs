//! What one request cost in DynamoDB reads. The stores add to the request's [`ReadCost`] as they go (the handler
//! runs each request inside [`measure`]); the handler logs the total, and the benchmark reads it.
//!
//! A task-local keeps the ports free of accounting parameters. Work spawned onto other tasks would not be counted:
//! the query routes do not spawn (concurrent reads are polled within the request's task).

use std::cell::RefCell;
use std::future::Future;

/// Reads of one request.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ReadCost {
    /// DynamoDB calls (Query and GetItem pages).
    pub calls: u64,
    /// Read capacity units as DynamoDB reported them (`ReturnConsumedCapacity=TOTAL`).
    pub consumed_units: f64,
    /// Items DynamoDB evaluated (`ScannedCount`; before filter expressions — what reads are charged for).
    pub scanned_items: u64,
    /// Items it returned (after filter expressions).
    pub returned_items: u64,
    /// Our own estimate of the units DynamoDB would charge, from the sizes of the items read (see
    /// [`estimate_units`]). Useful where the emulator's `consumed_units` are not realistic.
    pub estimated_units: f64,
}

impl std::ops::AddAssign for ReadCost {
    fn add_assign(&mut self, o: Self) {
        self.calls += o.calls;
        self.consumed_units += o.consumed_units;
        self.scanned_items += o.scanned_items;
        self.returned_items += o.returned_items;
        self.estimated_units += o.estimated_units;
    }
}

/// Read units DynamoDB charges for one eventually consistent Query/GetItem page that read `bytes` in total:
/// half a unit per started 4 KB (at least one 4 KB block).
pub fn estimate_units(bytes: u64, consistent: bool) -> f64 {
    let blocks = bytes.div_ceil(4096).max(1) as f64;
    if consistent { blocks } else { blocks / 2.0 }
}

tokio::task_local! {
    static COST: RefCell<ReadCost>;
}

/// Runs `f`, returning its output and the reads recorded while it ran.
pub async fn measure<F: Future>(f: F) -> (F::Output, ReadCost) {
    COST.scope(RefCell::new(ReadCost::default()), async move {
        let out = f.await;
        let cost = COST.with(|c| *c.borrow());
        (out, cost)
    })
    .await
}

/// Adds reads to the current request's total (ignored outside [`measure`]).
pub fn record(cost: ReadCost) {
    let _ = COST.try_with(|c| *c.borrow_mut() += cost);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn measures_what_is_recorded_inside_only() {
        record(ReadCost { calls: 5, ..Default::default() }); // outside: dropped
        let (value, cost) = measure(async {
            record(ReadCost {
                calls: 1,
                consumed_units: 0.5,
                scanned_items: 10,
                returned_items: 2,
                estimated_units: 1.0,
            });
            record(ReadCost { calls: 1, consumed_units: 1.0, ..Default::default() });
            7
        })
        .await;
        assert_eq!(value, 7);
        assert_eq!(cost.calls, 2);
        assert_eq!(cost.consumed_units, 1.5);
        assert_eq!(cost.scanned_items, 10);
    }

    #[test]
    fn units_follow_the_4kb_rule() {
        assert_eq!(estimate_units(0, false), 0.5);
        assert_eq!(estimate_units(4096, false), 0.5);
        assert_eq!(estimate_units(4097, false), 1.0);
        assert_eq!(estimate_units(40_000, true), 10.0);
    }
}
