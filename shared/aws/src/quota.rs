//! The per-tenant integration quota: a counter item (`T#{tenant}` / `QUOTA`, attribute `integrations`) changed in
//! the same transaction as the integration record and its name reservation, so two concurrent creates can never
//! both take the last place, and a delete gives its place back atomically.
//!
//! The counter is made on first need from a count of the tenant's records (a table that predates the quota, or a
//! tenant's first integration), with a conditional put: whoever makes it first wins, and it can only be made
//! before any transaction has changed it (creates and deletes both ensure it exists before their transaction).

use std::collections::HashMap;

use acd_app::ports::StoreError;
use acd_domain::TenantId;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Select, TransactWriteItem, Update};

use crate::dynamo::{Item, s, unless_condition_failed};
use crate::keys::{self, PK, SK};
use crate::sdk_error;

pub const QUOTA_SK: &str = "QUOTA";
const COUNT: &str = "integrations";

fn key(tenant: &TenantId) -> Item {
    HashMap::from([(PK.to_owned(), s(keys::tenant_pk(tenant))), (SK.to_owned(), s(QUOTA_SK))])
}

fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// The tenant's integration count as stored (`None`: no counter yet).
pub async fn stored_count(client: &Client, table: &str, tenant: &TenantId) -> Result<Option<i64>, StoreError> {
    let out = client
        .get_item()
        .table_name(table)
        .set_key(Some(key(tenant)))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| sdk_error("GetItem(quota)", e))?;
    Ok(out.item.and_then(|i| i.get(COUNT).and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok())))
}

/// Makes the counter if it does not exist yet, from a (consistent) count of the tenant's integration records.
pub async fn ensure_counter(client: &Client, table: &str, tenant: &TenantId) -> Result<(), StoreError> {
    if stored_count(client, table, tenant).await?.is_some() {
        return Ok(());
    }
    let mut count = 0i64;
    let mut start: Option<Item> = None;
    loop {
        let out = crate::dynamo::prefix_query(client, table, keys::tenant_pk(tenant), keys::INTEGRATION_SK_PREFIX)
            .select(Select::Count)
            .consistent_read(true)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .map_err(|e| sdk_error("Query(count integrations)", e))?;
        count += i64::from(out.count);
        match out.last_evaluated_key {
            Some(k) if !k.is_empty() => start = Some(k),
            _ => break,
        }
    }
    let mut item = key(tenant);
    item.insert("entity".into(), s("quota"));
    item.insert(COUNT.into(), n(count));
    let result = client
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(PK)")
        .send()
        .await;
    // A failed condition: made meanwhile by another request, and that one counts.
    unless_condition_failed(result, "PutItem(quota)")
}

/// The transaction item taking one place: fails its condition when the tenant has `max` integrations already.
pub fn take_place(table: &str, tenant: &TenantId, max: u32) -> Result<TransactWriteItem, StoreError> {
    let update = Update::builder()
        .table_name(table)
        .set_key(Some(key(tenant)))
        .update_expression("SET #c = #c + :one")
        .condition_expression("#c < :max")
        .expression_attribute_names("#c", COUNT)
        .expression_attribute_values(":one", n(1))
        .expression_attribute_values(":max", n(i64::from(max)))
        .build()
        .map_err(|e| StoreError::Backend(e.to_string()))?;
    Ok(TransactWriteItem::builder().update(update).build())
}

/// The transaction item giving one place back (in the same transaction as the record's conditional delete).
pub fn give_place(table: &str, tenant: &TenantId) -> Result<TransactWriteItem, StoreError> {
    let update = Update::builder()
        .table_name(table)
        .set_key(Some(key(tenant)))
        .update_expression("SET #c = if_not_exists(#c, :one) - :one")
        .expression_attribute_names("#c", COUNT)
        .expression_attribute_values(":one", n(1))
        .build()
        .map_err(|e| StoreError::Backend(e.to_string()))?;
    Ok(TransactWriteItem::builder().update(update).build())
}
