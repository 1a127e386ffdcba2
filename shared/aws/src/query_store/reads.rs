//! The metered reads every listing is made of: Query and GetItem with `ReturnConsumedCapacity=TOTAL` (what each
//! request read is added to its [`acd_app::query::cost`] total), the paging of filtered listings, item sizes.

use std::collections::HashMap;

use acd_app::ports::{Page, StoreError};
use acd_app::query::cost::{self, ReadCost, estimate_units};
use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
use aws_sdk_dynamodb::operation::get_item::builders::GetItemFluentBuilder;
use aws_sdk_dynamodb::operation::query::QueryOutput;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnConsumedCapacity};
use serde_dynamo::aws_sdk_dynamodb_1::from_item;

use crate::dynamo::{DynamoStore, Item, s};
use crate::keys::{PK, SK};
use crate::sdk_error;

/// A listing reads at most this many items for one page; a page that is still not full then ends early, with a
/// cursor (a filter that matches almost nothing must not read a huge partition in one request).
pub(super) const MAX_ITEMS_EVALUATED_PER_PAGE: u64 = 40_000;
/// Largest `Limit` of one Query call of a filtered listing (about 1 MB of queue items).
pub(super) const MAX_QUERY_LIMIT: usize = 2_000;
/// Sizes used to estimate what filtered-out items cost when a Query returned none to measure.
pub(super) const TYPICAL_QUEUE_BYTES: u64 = 450;
pub(super) const TYPICAL_AGENT_BYTES: u64 = 250;

/// Bytes DynamoDB counts for an item (attribute names + values; numbers approximated).
pub(super) fn item_bytes(item: &Item) -> u64 {
    item.iter().map(|(name, value)| name.len() as u64 + value_bytes(value)).sum()
}

fn value_bytes(value: &AttributeValue) -> u64 {
    match value {
        AttributeValue::S(v) => v.len() as u64,
        AttributeValue::N(v) => (v.len() as u64).div_ceil(2) + 1,
        AttributeValue::B(v) => v.as_ref().len() as u64,
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::Ss(v) => v.iter().map(|s| s.len() as u64).sum(),
        AttributeValue::Ns(v) => v.iter().map(|n| (n.len() as u64).div_ceil(2) + 1).sum(),
        AttributeValue::Bs(v) => v.iter().map(|b| b.as_ref().len() as u64).sum(),
        AttributeValue::L(v) => 3 + v.iter().map(|x| 1 + value_bytes(x)).sum::<u64>(),
        AttributeValue::M(v) => 3 + v.iter().map(|(k, x)| 1 + k.len() as u64 + value_bytes(x)).sum::<u64>(),
        _ => 1,
    }
}

/// Sends a Query with `ReturnConsumedCapacity=TOTAL` and records what it read.
pub(super) async fn query(
    builder: QueryFluentBuilder,
    what: &str,
    typical_bytes: u64,
) -> Result<QueryOutput, StoreError> {
    let out = builder
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .send()
        .await
        .map_err(|e| sdk_error(&format!("Query({what})"), e))?;
    let items = out.items();
    let returned_bytes: u64 = items.iter().map(item_bytes).sum();
    let returned = items.len() as u64;
    let scanned = (out.scanned_count().max(0) as u64).max(returned);
    let average = returned_bytes.checked_div(returned).unwrap_or(typical_bytes);
    cost::record(ReadCost {
        calls: 1,
        consumed_units: out.consumed_capacity().and_then(|c| c.capacity_units()).unwrap_or(0.0),
        scanned_items: scanned,
        returned_items: returned,
        estimated_units: estimate_units(returned_bytes + (scanned - returned) * average, false),
    });
    Ok(out)
}

/// Sends a GetItem with `ReturnConsumedCapacity=TOTAL` and records what it read.
pub(super) async fn get(
    builder: GetItemFluentBuilder,
    what: &str,
    consistent: bool,
) -> Result<GetItemOutput, StoreError> {
    let out = builder
        .consistent_read(consistent)
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .send()
        .await
        .map_err(|e| sdk_error(&format!("GetItem({what})"), e))?;
    let bytes = out.item().map(item_bytes).unwrap_or(0);
    cost::record(ReadCost {
        calls: 1,
        consumed_units: out.consumed_capacity().and_then(|c| c.capacity_units()).unwrap_or(0.0),
        scanned_items: u64::from(out.item().is_some()),
        returned_items: u64::from(out.item().is_some()),
        estimated_units: estimate_units(bytes, consistent),
    });
    Ok(out)
}

pub(super) use crate::dynamo::key;

pub(super) fn more(out: &QueryOutput) -> Option<Item> {
    out.last_evaluated_key.clone().filter(|k| !k.is_empty())
}

/// Reads an item of a listing; an unreadable one is logged and left out rather than failing the whole listing.
pub(super) fn readable<T: serde::de::DeserializeOwned>(item: Item, what: &str) -> Option<T> {
    let keys = (item.get(PK).cloned(), item.get(SK).cloned());
    match from_item::<T>(item) {
        Ok(value) => Some(value),
        Err(e) => {
            tracing::error!(error = %e, key = ?keys, "unreadable {what} item left out");
            None
        }
    }
}

/// A filter expression and its placeholders.
#[derive(Default)]
pub(super) struct Filter {
    pub(super) parts: Vec<String>,
    pub(super) names: HashMap<String, String>,
    pub(super) values: HashMap<String, AttributeValue>,
}

impl Filter {
    pub(super) fn expression(&self) -> Option<String> {
        if self.parts.is_empty() { None } else { Some(self.parts.join(" AND ")) }
    }

    pub(super) fn apply(&self, mut builder: QueryFluentBuilder) -> QueryFluentBuilder {
        if let Some(expression) = self.expression() {
            builder = builder.filter_expression(expression);
        }
        for (k, v) in &self.names {
            builder = builder.expression_attribute_names(k, v);
        }
        for (k, v) in &self.values {
            builder = builder.expression_attribute_values(k, v.clone());
        }
        builder
    }
}

/// How many items to ask for next: enough to fill the rest of the page at the selectivity seen so far.
pub(super) fn next_limit(wanted: usize, evaluated: u64, matched: u64, filtered: bool) -> usize {
    let estimate = if !filtered {
        wanted
    } else if evaluated == 0 {
        wanted.saturating_mul(4).max(100)
    } else if matched == 0 {
        (evaluated as usize).saturating_mul(2)
    } else {
        (wanted as f64 * evaluated as f64 / matched as f64 * 1.2) as usize + 10
    };
    estimate.clamp(wanted, MAX_QUERY_LIMIT.max(wanted))
}

impl DynamoStore {
    /// Items of one partition whose sort keys start with `prefix`, in order, after the sort key `{prefix}{after}`,
    /// up to `limit`, optionally filtered. Reads until the page is full (one item more to know whether more follow)
    /// or, filtered, has looked at [`MAX_ITEMS_EVALUATED_PER_PAGE`] items: the page then ends early (`resume_after`).
    pub(super) async fn list_prefix<T: serde::de::DeserializeOwned>(
        &self,
        pk: String,
        prefix: &str,
        after: Option<&str>,
        filter: Filter,
        limit: usize,
        what: &str,
    ) -> Result<Page<T>, StoreError> {
        // `{prefix}` ends in `#`; every key with the prefix sorts below the prefix with `#` raised to `$`.
        let lower = format!("{prefix}{}", after.unwrap_or_default());
        let upper = format!("{}$", prefix.trim_end_matches('#'));
        let skip = after.map(|_| lower.clone());
        let filtered = filter.expression().is_some();
        let (mut out, mut start, mut evaluated) = (Vec::new(), None::<Item>, 0u64);
        loop {
            let wanted = limit + 1 - out.len() + usize::from(skip.is_some() && start.is_none());
            let builder = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("PK = :pk AND SK BETWEEN :lower AND :upper")
                .expression_attribute_values(":pk", s(pk.clone()))
                .expression_attribute_values(":lower", s(lower.clone()))
                .expression_attribute_values(":upper", s(upper.clone()))
                .limit(i32::try_from(next_limit(wanted, evaluated, out.len() as u64, filtered)).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start.take());
            let page = query(filter.apply(builder), what, TYPICAL_AGENT_BYTES).await?;
            evaluated += page.scanned_count().max(0) as u64;
            let next = more(&page);
            for item in page.items.unwrap_or_default() {
                if skip.is_some() && item.get(SK).and_then(|v| v.as_s().ok()) == skip.as_ref() {
                    continue;
                }
                if let Some(value) = readable::<T>(item, what) {
                    out.push(value);
                }
                if out.len() > limit {
                    out.truncate(limit);
                    return Ok(Page { items: out, more: true, resume_after: None });
                }
            }
            let Some(k) = next else { return Ok(Page { items: out, more: false, resume_after: None }) };
            if filtered && evaluated >= MAX_ITEMS_EVALUATED_PER_PAGE {
                // Everything up to the last key read has been looked at: the next page continues after it.
                let resume_after = k.get(SK).and_then(|v| v.as_s().ok()).and_then(|sk| sk.strip_prefix(prefix));
                if let Some(resume_after) = resume_after.map(str::to_owned) {
                    tracing::warn!(evaluated, returned = out.len(), "{what} page ended early after a long read");
                    return Ok(Page { items: out, more: true, resume_after: Some(resume_after) });
                }
            }
            start = Some(k);
        }
    }

    /// Queries to the end of a partition range (no page size: used for bounded ranges).
    pub(super) async fn query_all(&self, builder: QueryFluentBuilder, what: &str) -> Result<Vec<Item>, StoreError> {
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page = query(builder.clone().set_exclusive_start_key(start.take()), what, TYPICAL_AGENT_BYTES).await?;
            let next = more(&page);
            out.extend(page.items.unwrap_or_default());
            match next {
                Some(k) => start = Some(k),
                None => return Ok(out),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_limits_follow_selectivity_within_bounds() {
        assert_eq!(next_limit(101, 0, 0, false), 101);
        assert_eq!(next_limit(101, 0, 0, true), 404);
        assert_eq!(next_limit(50, 1000, 50, true), 1210);
        assert_eq!(next_limit(50, 1500, 0, true), 2000);
        assert_eq!(next_limit(3000, 10, 10, true), 3000);
    }

    #[test]
    fn item_sizes_count_names_and_values() {
        let item: Item =
            HashMap::from([("PK".to_owned(), s("abc")), ("active".to_owned(), AttributeValue::Bool(true))]);
        assert_eq!(item_bytes(&item), 2 + 3 + 6 + 1);
    }
}
