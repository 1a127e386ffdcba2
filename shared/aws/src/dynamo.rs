//! DynamoDB store: one table, keys in [`crate::keys`].

use std::collections::HashMap;

use acd_app::ports::{IntegrationRepo, Page, StoreError};
use acd_domain::{Integration, IntegrationId, TenantId};
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Delete, Put, TransactWriteItem};
use futures::{StreamExt, TryStreamExt, stream};
use serde::{Deserialize, Serialize};
use serde_dynamo::aws_sdk_dynamodb_1::{from_item, to_item};

use crate::keys::{self, PK, SK};
use crate::sdk_error;

pub type Item = HashMap<String, AttributeValue>;

#[derive(Clone, Debug)]
pub struct DynamoStore {
    pub client: Client,
    pub table: String,
    /// Integrations per tenant (`MAX_INTEGRATIONS_PER_TENANT`; enforced by [`crate::quota`] in `create`).
    pub max_integrations: u32,
}

/// The integration record as stored: keys, the lower-cased name it reserves, and the integration itself.
#[derive(Serialize, Deserialize)]
struct IntegrationItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    entity: String,
    name_key: String,
    /// Set when a delete started (a tombstone): hidden from `get` and `list` until the delete finishes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    deleting_at: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(flatten)]
    integration: Integration,
}

impl IntegrationItem {
    fn new(integration: &Integration) -> Self {
        Self {
            pk: keys::tenant_pk(&integration.tenant_id),
            sk: keys::integration_sk(integration.id),
            entity: "integration".into(),
            name_key: integration.name.uniqueness_key(),
            deleting_at: None,
            integration: integration.clone(),
        }
    }
}

/// A Query of partition `pk`'s items whose sort key starts with `prefix`; the caller adds paging, filters,
/// projections and the order.
pub fn prefix_query(
    client: &Client,
    table: &str,
    pk: impl Into<String>,
    prefix: &str,
) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
    client
        .query()
        .table_name(table)
        .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
        .expression_attribute_values(":pk", s(pk))
        .expression_attribute_values(":prefix", s(prefix))
}

pub fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn item_of(integration: &Integration) -> Result<Item, StoreError> {
    to_item(IntegrationItem::new(integration)).map_err(|e| StoreError::Corrupt(format!("serializing: {e}")))
}

/// The integration and whether it is a tombstone (its delete started).
fn record_of(item: Item) -> Result<(Integration, bool), StoreError> {
    from_item::<IntegrationItem>(item)
        .map(|i| (i.integration, i.deleting_at.is_some()))
        .map_err(|e| StoreError::Corrupt(format!("integration record: {e}")))
}

fn name_item(integration: &Integration) -> Item {
    HashMap::from([
        (PK.to_owned(), s(keys::tenant_pk(&integration.tenant_id))),
        (SK.to_owned(), s(keys::name_sk(&integration.name.uniqueness_key()))),
        ("entity".to_owned(), s("name")),
        ("integration_id".to_owned(), s(integration.id.to_string())),
    ])
}

/// The name reservation keys of a name: its NFKC key, and the pre-NFKC key when that differs (a record created
/// before names were NFKC-normalised holds its reservation under the old key).
fn reservation_keys(name: &acd_domain::IntegrationName) -> Vec<String> {
    let (key, legacy) = (name.uniqueness_key(), name.legacy_uniqueness_key());
    if key == legacy { vec![key] } else { vec![key, legacy] }
}

/// Fails the transaction when another integration holds the reservation `uniqueness_key`.
fn name_free(
    table: &str,
    tenant: &TenantId,
    uniqueness_key: &str,
    owner: IntegrationId,
) -> Result<TransactWriteItem, StoreError> {
    let check = ConditionCheck::builder()
        .table_name(table)
        .set_key(Some(key(keys::tenant_pk(tenant), keys::name_sk(uniqueness_key))))
        .condition_expression("attribute_not_exists(PK) OR integration_id = :id")
        .expression_attribute_values(":id", s(owner.to_string()))
        .build()
        .map_err(|e| StoreError::Backend(e.to_string()))?;
    Ok(TransactWriteItem::builder().condition_check(check).build())
}

/// The key attributes of the item `pk`/`sk`.
pub(crate) fn key(pk: String, sk: String) -> Item {
    HashMap::from([(PK.to_owned(), s(pk)), (SK.to_owned(), s(sk))])
}

/// Whether a single-item DynamoDB write (PutItem, UpdateItem, DeleteItem) failed only its condition
/// (`ConditionalCheckFailedException`). A transaction's failed conditions come as `TransactionCanceledException`
/// with a reason per item: [`failed_conditions`].
pub(crate) fn is_conditional_failure<E: aws_sdk_dynamodb::error::ProvideErrorMetadata, R>(
    error: &SdkError<E, R>,
) -> bool {
    error.as_service_error().and_then(|e| e.code()) == Some("ConditionalCheckFailedException")
}

/// The result of a conditional write whose failed condition means "leave it as it is": `Ok` either way.
pub(crate) fn unless_condition_failed<O, E, R>(
    result: Result<O, aws_sdk_dynamodb::error::SdkError<E, R>>,
    operation: &str,
) -> Result<(), StoreError>
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match result {
        Ok(_) => Ok(()),
        Err(e) if is_conditional_failure(&e) => Ok(()),
        Err(e) => Err(crate::sdk_error(operation, e)),
    }
}

/// Which items of a cancelled transaction failed their condition.
pub(crate) fn failed_conditions<R>(
    error: &SdkError<aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError, R>,
) -> Option<Vec<bool>> {
    let service = error.as_service_error()?;
    match service {
        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(e) => {
            Some(e.cancellation_reasons().iter().map(|r| r.code() == Some("ConditionalCheckFailed")).collect())
        }
        _ => None,
    }
}

/// Whether the cancellation reasons of a transaction say that it was cancelled only because another request was
/// writing one of its items at the same time (`TransactionConflict`), none of its conditions failing: sent again it
/// may well pass.
fn cancelled_by_conflict_only(reasons: &[aws_sdk_dynamodb::types::CancellationReason]) -> bool {
    reasons.iter().any(|r| r.code() == Some("TransactionConflict"))
        && !reasons.iter().any(|r| r.code() == Some("ConditionalCheckFailed"))
}

/// Retries a `TransactWriteItems` that DynamoDB cancelled only for a conflict with another request writing the same
/// item (none of its conditions failed): two creates or a create and a delete of one tenant (both update its quota
/// item), an import's catalog write beside a status update; and a `PutItem`, `UpdateItem` or `DeleteItem` refused
/// with `TransactionConflictException` because a transaction was writing its item (a DELETE's mark beside an
/// import's queue transaction, a status update beside a PATCH). The SDK's standard classifiers retry throttling and
/// transient errors but neither of these, so such a conflict failed the call (a create answered 503 and was rolled
/// back). Neither applied anything. Added to the DynamoDB client's retry classifiers ([`crate::config`]); the
/// standard retry strategy decides the attempts and back-off.
#[derive(Debug, Default, Clone, Copy)]
pub struct TransactionConflictRetry;

impl aws_smithy_runtime_api::client::retries::classifiers::ClassifyRetry for TransactionConflictRetry {
    fn classify_retry(
        &self,
        ctx: &aws_smithy_runtime_api::client::interceptors::context::InterceptorContext,
    ) -> aws_smithy_runtime_api::client::retries::classifiers::RetryAction {
        use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
        use aws_sdk_dynamodb::operation::put_item::PutItemError;
        use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
        use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
        use aws_smithy_runtime_api::client::orchestrator::OrchestratorError;
        use aws_smithy_runtime_api::client::retries::classifiers::RetryAction;
        let Some(Err(error)) = ctx.output_or_error() else { return RetryAction::NoActionIndicated };
        let Some(error) = OrchestratorError::as_operation_error(error) else { return RetryAction::NoActionIndicated };
        let conflict = match error.downcast_ref::<TransactWriteItemsError>() {
            Some(TransactWriteItemsError::TransactionCanceledException(e)) => {
                cancelled_by_conflict_only(e.cancellation_reasons())
            }
            // The other side of the same conflict: a single-item write to an item a transaction is writing is
            // refused with TransactionConflictException, applied nothing, and may pass when sent again.
            _ => {
                error.downcast_ref::<PutItemError>().is_some_and(PutItemError::is_transaction_conflict_exception)
                    || error
                        .downcast_ref::<UpdateItemError>()
                        .is_some_and(UpdateItemError::is_transaction_conflict_exception)
                    || error
                        .downcast_ref::<DeleteItemError>()
                        .is_some_and(DeleteItemError::is_transaction_conflict_exception)
            }
        };
        if conflict { RetryAction::transient_error() } else { RetryAction::NoActionIndicated }
    }

    fn name(&self) -> &'static str {
        "TransactionConflictRetry"
    }
}

/// Queue writes in one transaction, next to the check of the integration record (DynamoDB allows 100 actions).
const QUEUE_TRANSACTION: usize = 99;
/// Queue deactivations (UpdateItem, one item each) of a delete in flight at once.
const DEACTIVATIONS_IN_FLIGHT: usize = 16;

/// Writes an integration's queue items (`writes`: puts or updates) in transactions of at most
/// [`QUEUE_TRANSACTION`], one after another (two checking the same record at once could cancel each other), each
/// next to a check that the integration record exists and is not being deleted (no tombstone, `deleting_at`): a
/// write overlapping a DELETE (the import's, a push's) can never make a deleted integration's queues active again.
/// The check and the writes commit together, so a transaction commits before the tombstone (and the DELETE's
/// strongly consistent read of active queues, made after it, deactivates them) or it fails. `before_each` runs before
/// each transaction (the import's crash points). `NotFound` when the record is gone or being deleted: nothing of that
/// transaction is written (earlier ones may be, made inactive by the DELETE). Returns the write requests (checks
/// included) and the transactions.
pub(crate) async fn queue_transactions(
    client: &Client,
    table: &str,
    integration: &Integration,
    writes: Vec<TransactWriteItem>,
    mut before_each: impl FnMut() -> Result<(), StoreError>,
    what: &str,
) -> Result<(u64, u64), StoreError> {
    let check = ConditionCheck::builder()
        .table_name(table)
        .set_key(Some(key(keys::tenant_pk(&integration.tenant_id), keys::integration_sk(integration.id))))
        .condition_expression("attribute_exists(PK) AND attribute_not_exists(deleting_at)")
        .build()
        .map_err(|e| StoreError::Backend(e.to_string()))?;
    let check = TransactWriteItem::builder().condition_check(check).build();
    let (mut requests, mut transactions) = (0, 0);
    for chunk in writes.chunks(QUEUE_TRANSACTION) {
        before_each()?;
        let mut items = Vec::with_capacity(chunk.len() + 1);
        items.push(check.clone());
        items.extend(chunk.iter().cloned());
        if let Err(e) = client.transact_write_items().set_transact_items(Some(items)).send().await {
            // The record check (the transaction's first item) failed: the integration is gone or deleting.
            if failed_conditions(&e).is_some_and(|f| f.first() == Some(&true)) {
                return Err(StoreError::NotFound);
            }
            return Err(sdk_error(&format!("TransactWriteItems({what})"), e));
        }
        requests += chunk.len() as u64 + 1;
        transactions += 1;
    }
    Ok((requests, transactions))
}

fn put(table: &str, item: Item, condition: &str, values: Option<Item>) -> Result<TransactWriteItem, StoreError> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression(condition)
        .set_expression_attribute_values(values)
        .build()
        .map_err(|e| StoreError::Backend(e.to_string()))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

fn delete(
    table: &str,
    key: Item,
    condition: Option<&str>,
    values: Option<Item>,
) -> Result<TransactWriteItem, StoreError> {
    let delete = Delete::builder()
        .table_name(table)
        .set_key(Some(key))
        .set_condition_expression(condition.map(str::to_owned))
        .set_expression_attribute_values(values)
        .build()
        .map_err(|e| StoreError::Backend(e.to_string()))?;
    Ok(TransactWriteItem::builder().delete(delete).build())
}

#[async_trait]
impl IntegrationRepo for DynamoStore {
    async fn create(&self, integration: &Integration) -> Result<(), StoreError> {
        crate::quota::ensure_counter(&self.client, &self.table, &integration.tenant_id).await?;
        // Items: 0 the record, 1 the name, 2 the quota place, 3.. legacy name keys that must be free.
        let mut items = vec![
            put(&self.table, item_of(integration)?, "attribute_not_exists(PK)", None)?,
            put(&self.table, name_item(integration), "attribute_not_exists(PK)", None)?,
            crate::quota::take_place(&self.table, &integration.tenant_id, self.max_integrations)?,
        ];
        // A record from before NFKC keys may hold this name under its old key.
        for legacy in reservation_keys(&integration.name).into_iter().skip(1) {
            items.push(name_free(&self.table, &integration.tenant_id, &legacy, integration.id)?);
        }
        match self.client.transact_write_items().set_transact_items(Some(items)).send().await {
            Ok(_) => Ok(()),
            Err(e) => match failed_conditions(&e) {
                Some(failed) if failed.get(1) == Some(&true) || failed.iter().skip(3).any(|f| *f) => {
                    Err(StoreError::NameTaken)
                }
                Some(failed) if failed.first() == Some(&true) => Err(StoreError::Conflict),
                Some(failed) if failed.get(2) == Some(&true) => Err(StoreError::QuotaExceeded(self.max_integrations)),
                _ => Err(sdk_error("TransactWriteItems(create integration)", e)),
            },
        }
    }

    async fn get(&self, tenant: &TenantId, id: IntegrationId) -> Result<Option<Integration>, StoreError> {
        Ok(self.record(tenant, id).await?.filter(|(_, deleting)| !deleting).map(|(integration, _)| integration))
    }

    async fn list(
        &self,
        tenant: &TenantId,
        limit: usize,
        after: Option<IntegrationId>,
    ) -> Result<Page<Integration>, StoreError> {
        let pk = keys::tenant_pk(tenant);
        let mut query = prefix_query(&self.client, &self.table, pk.clone(), keys::INTEGRATION_SK_PREFIX)
            .limit(i32::try_from(limit + 1).unwrap_or(i32::MAX));
        if let Some(after) = after {
            query = query.set_exclusive_start_key(Some(key(pk, keys::integration_sk(after))));
        }
        // Tombstones (deletes under way) are skipped, so a page is read until it is full or the listing ends.
        let mut items = Vec::new();
        loop {
            let out = query.clone().send().await.map_err(|e| sdk_error("Query(integrations)", e))?;
            for item in out.items.unwrap_or_default() {
                let (integration, deleting) = record_of(item)?;
                if !deleting {
                    items.push(integration);
                }
            }
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() && items.len() <= limit => query = query.set_exclusive_start_key(Some(k)),
                _ => break,
            }
        }
        let more = items.len() > limit;
        items.truncate(limit);
        Ok(Page { items, more, resume_after: None })
    }

    async fn update(&self, previous: &Integration, updated: &Integration) -> Result<(), StoreError> {
        let version = HashMap::from([(":v".to_owned(), AttributeValue::N(previous.version.to_string()))]);
        let mut items = vec![put(
            &self.table,
            item_of(updated)?,
            "version = :v AND attribute_not_exists(deleting_at)",
            Some(version),
        )?];
        // A rename moves the reservation when the name's keys change: its NFKC key, or only its pre-NFKC key (an old
        // record renamed to a spelling with the same NFKC key, "Ｂilling" → "Billing", holds the old key, which its
        // delete would no longer release; until 2026-12-07 that key stayed reserved for good).
        let renamed = reservation_keys(&previous.name) != reservation_keys(&updated.name);
        if renamed {
            let owner = HashMap::from([(":id".to_owned(), s(previous.id.to_string()))]);
            let new_key = updated.name.uniqueness_key();
            let old_keys = self.held_reservations(previous).await?;
            // Release the old reservation(s) (a pre-NFKC record may hold its name under the old key too).
            for old in old_keys.iter().filter(|k| **k != new_key) {
                items.push(delete(
                    &self.table,
                    key(keys::tenant_pk(&previous.tenant_id), keys::name_sk(old)),
                    Some("attribute_not_exists(PK) OR integration_id = :id"),
                    Some(owner.clone()),
                )?);
            }
            items.push(put(
                &self.table,
                name_item(updated),
                "attribute_not_exists(PK) OR integration_id = :id",
                Some(owner),
            )?);
            let checked = reservation_keys(&previous.name);
            for legacy in reservation_keys(&updated.name).into_iter().skip(1).filter(|k| !checked.contains(k)) {
                items.push(name_free(&self.table, &updated.tenant_id, &legacy, updated.id)?);
            }
        }
        match self.client.transact_write_items().set_transact_items(Some(items)).send().await {
            Ok(_) => Ok(()),
            Err(e) => match failed_conditions(&e) {
                Some(failed) if failed.first() == Some(&true) => Err(StoreError::Conflict),
                Some(failed) if failed.iter().skip(1).any(|f| *f) => Err(StoreError::NameTaken),
                _ => Err(sdk_error("TransactWriteItems(update integration)", e)),
            },
        }
    }

    async fn delete(&self, integration: &Integration) -> Result<(), StoreError> {
        let tenant_pk = keys::tenant_pk(&integration.tenant_id);
        let owner = HashMap::from([(":id".to_owned(), s(integration.id.to_string()))]);
        crate::quota::ensure_counter(&self.client, &self.table, &integration.tenant_id).await?;
        // A push integration's ingest keys go before the record (a failure here leaves the record for the retry).
        if integration.kind == acd_connectors::push::vendor::TYPE {
            crate::ingest_store::delete_keys(&self.client, &self.table, &integration.tenant_id, integration.id).await?;
        }
        // Conditional, so that only the delete that removed the record gives its quota place back.
        let mut items = vec![
            delete(
                &self.table,
                key(tenant_pk.clone(), keys::integration_sk(integration.id)),
                Some("attribute_exists(PK)"),
                None,
            )?,
            crate::quota::give_place(&self.table, &integration.tenant_id)?,
        ];
        // The names the stored record holds: a rename may have come since the caller read it (a create rolled back
        // after a PATCH renamed the record deleted only the create's name, and the new one stayed reserved for good
        // until 2026-12-08). The caller's copy when no record is stored.
        let stored = self.record(&integration.tenant_id, integration.id).await?.map(|(stored, _)| stored);
        for name_key in self.held_reservations(stored.as_ref().unwrap_or(integration)).await? {
            items.push(delete(
                &self.table,
                key(tenant_pk.clone(), keys::name_sk(&name_key)),
                Some("attribute_not_exists(PK) OR integration_id = :id"),
                Some(owner.clone()),
            )?);
        }
        // The queues are not touched here: a delete makes them inactive (`deactivate_queues`) before it gets this far,
        // and a rolled-back create has none.
        match self.client.transact_write_items().set_transact_items(Some(items)).send().await {
            Ok(_) => Ok(()),
            // Already deleted (a repeated delete): nothing to give back.
            Err(e) if failed_conditions(&e).is_some_and(|f| f.first() == Some(&true)) => Ok(()),
            Err(e) => Err(sdk_error("TransactWriteItems(delete integration)", e)),
        }
    }

    async fn get_deleting(&self, tenant: &TenantId, id: IntegrationId) -> Result<Option<Integration>, StoreError> {
        Ok(self.record(tenant, id).await?.filter(|(_, deleting)| *deleting).map(|(integration, _)| integration))
    }

    async fn mark_deleting(&self, integration: &Integration) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::tenant_pk(&integration.tenant_id), keys::integration_sk(integration.id))))
            .update_expression("SET deleting_at = :now, version = version + :one")
            .condition_expression("version = :v AND attribute_not_exists(deleting_at)")
            .expression_attribute_values(
                ":now",
                s(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
            )
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":v", AttributeValue::N(integration.version.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_conditional_failure(&e) => Err(StoreError::Conflict),
            Err(e) => Err(sdk_error("UpdateItem(integration tombstone)", e)),
        }
    }

    async fn deactivate_queues(&self, tenant: &TenantId, id: IntegrationId) -> Result<(), StoreError> {
        let pk = keys::integration_pk(tenant, id);
        let mut start: Option<Item> = None;
        loop {
            // Strongly consistent: an import's queue write that committed just before the tombstone (its check
            // that no delete started passed) must be seen here, or its queue would stay active for good.
            let out = prefix_query(&self.client, &self.table, pk.clone(), keys::QUEUE_SK_PREFIX)
                .consistent_read(true)
                .filter_expression("active = :yes")
                .expression_attribute_values(":yes", AttributeValue::Bool(true))
                .projection_expression("PK, SK")
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| sdk_error("Query(queues to deactivate)", e))?;
            // Several at a time: one after another, the thousands of queues of a large contact center took longer
            // than the API's 29 s (a review, 2026-12-07). Each is its own item, so the order does not matter.
            let updates = out.items.unwrap_or_default().into_iter().map(|key| {
                self.client
                    .update_item()
                    .table_name(&self.table)
                    .set_key(Some(key))
                    .update_expression("SET active = :no")
                    .expression_attribute_values(":no", AttributeValue::Bool(false))
                    .send()
            });
            stream::iter(updates)
                .buffer_unordered(DEACTIVATIONS_IN_FLIGHT)
                .map(|r| r.map(drop).map_err(|e| sdk_error("UpdateItem(deactivate queue)", e)))
                .try_collect::<()>()
                .await?;
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(()),
            }
        }
    }
}

impl DynamoStore {
    /// The reservation keys an integration's name may hold: its NFKC key, and for a name whose pre-NFKC key differs
    /// those of the two keys that really are this integration's (read first: under a record older than NFKC keys
    /// another integration may own the NFKC key, and releasing must not fail on, or remove, its reservation).
    async fn held_reservations(&self, integration: &Integration) -> Result<Vec<String>, StoreError> {
        let keys_of_name = reservation_keys(&integration.name);
        if keys_of_name.len() == 1 {
            return Ok(keys_of_name);
        }
        let mut held = Vec::new();
        for name_key in keys_of_name {
            let out = self
                .client
                .get_item()
                .table_name(&self.table)
                .set_key(Some(key(keys::tenant_pk(&integration.tenant_id), keys::name_sk(&name_key))))
                .consistent_read(true)
                .send()
                .await
                .map_err(|e| sdk_error("GetItem(name reservation)", e))?;
            let owner = out.item.as_ref().and_then(|i| i.get("integration_id")).and_then(|v| v.as_s().ok());
            if owner.is_some_and(|o| *o == integration.id.to_string()) {
                held.push(name_key);
            }
        }
        Ok(held)
    }

    /// The stored record, tombstone or not.
    async fn record(&self, tenant: &TenantId, id: IntegrationId) -> Result<Option<(Integration, bool)>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::tenant_pk(tenant), keys::integration_sk(id))))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("GetItem(integration)", e))?;
        out.item.map(record_of).transpose()
    }
}

#[cfg(test)]
mod consistency_tests {
    use acd_domain::{IntegrationId, TenantId};

    use super::*;

    #[tokio::test]
    async fn a_delete_reads_the_queues_to_deactivate_strongly_consistent() {
        // (A review, 2026-12-05.) moto is always consistent, so the end-to-end test of an import overlapping a
        // delete cannot see an eventually consistent read miss a queue the import had just made active.
        let (client, consistent) = crate::test_support::consistent_queries_only();
        let store = DynamoStore { client, table: "t".into(), max_integrations: 10 };
        store.deactivate_queues(&TenantId::parse("acme").unwrap(), IntegrationId::new()).await.unwrap();
        assert_eq!(consistent.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_delete_deactivates_every_queue_of_a_page_and_fails_when_one_update_fails() {
        use aws_sdk_dynamodb::operation::query::QueryOutput;
        use aws_sdk_dynamodb::operation::update_item::{UpdateItemError, UpdateItemOutput};
        use aws_smithy_mocks::{RuleMode, mock, mock_client};
        let keys: Vec<Item> = (0..40).map(|i| key("T#acme#I#x".into(), format!("Q#{i:03}"))).collect();
        let page = keys.clone();
        let query = mock!(aws_sdk_dynamodb::Client::query)
            .then_output(move || QueryOutput::builder().set_items(Some(page.clone())).count(40).build());
        let update = mock!(aws_sdk_dynamodb::Client::update_item)
            .match_requests(|u| u.update_expression() == Some("SET active = :no"))
            .then_output(|| UpdateItemOutput::builder().build());
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&query, &update]);
        let store = DynamoStore { client, table: "t".into(), max_integrations: 10 };
        let (tenant, id) = (TenantId::parse("acme").unwrap(), IntegrationId::new());
        store.deactivate_queues(&tenant, id).await.unwrap();
        assert_eq!(update.num_calls(), 40, "every queue of the page");

        let page = keys.clone();
        let query = mock!(aws_sdk_dynamodb::Client::query)
            .then_output(move || QueryOutput::builder().set_items(Some(page.clone())).count(40).build());
        let refused = mock!(aws_sdk_dynamodb::Client::update_item)
            .match_requests(|u| u.key().and_then(|k| k.get(SK)) == Some(&AttributeValue::S("Q#017".into())))
            .then_error(|| UpdateItemError::unhandled("injected"));
        let update = mock!(aws_sdk_dynamodb::Client::update_item).then_output(|| UpdateItemOutput::builder().build());
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&query, &refused, &update]);
        let store = DynamoStore { client, table: "t".into(), max_integrations: 10 };
        assert!(
            store.deactivate_queues(&tenant, id).await.is_err(),
            "the delete fails; its retry deactivates the rest"
        );
    }
}

#[cfg(test)]
mod conflict_retry_tests {
    use std::time::Duration;

    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsOutput;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    use super::*;

    fn cancelled(reasons: &[&str]) -> String {
        let reasons: Vec<String> = reasons.iter().map(|r| format!(r#"{{"Code":"{r}"}}"#)).collect();
        format!(
            r#"{{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException","Message":"Transaction cancelled","CancellationReasons":[{}]}}"#,
            reasons.join(",")
        )
    }

    async fn attempts(reasons: &[&str]) -> (usize, bool) {
        let rule = mock!(aws_sdk_dynamodb::Client::transact_write_items)
            .sequence()
            .http_status(400, Some(cancelled(reasons)))
            .times(2)
            .output(|| TransactWriteItemsOutput::builder().build())
            .build();
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&rule], |c| {
            crate::config::dynamodb_client_config(c)
                .retry_config(crate::config::dynamodb_retry_config().with_initial_backoff(Duration::from_millis(1)))
        });
        let item = put(
            "t",
            HashMap::from([("PK".to_owned(), AttributeValue::S("p".into()))]),
            "attribute_not_exists(PK)",
            None,
        )
        .unwrap();
        let ok = client.transact_write_items().transact_items(item).send().await.is_ok();
        (rule.num_calls(), ok)
    }

    #[tokio::test]
    async fn a_transaction_cancelled_only_by_a_conflict_is_sent_again() {
        assert_eq!(attempts(&["None", "TransactionConflict", "None"]).await, (3, true), "two conflicts, then written");
    }

    #[tokio::test]
    async fn a_single_item_write_refused_for_a_transaction_in_flight_is_sent_again() {
        use aws_sdk_dynamodb::operation::update_item::UpdateItemOutput;
        let conflict = r#"{"__type":"com.amazonaws.dynamodb.v20120810#TransactionConflictException","message":"Transaction is ongoing for the item"}"#;
        let failed = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","message":"The conditional request failed"}"#;
        for (body, expected) in [(conflict, (2, true)), (failed, (1, false))] {
            let rule = mock!(aws_sdk_dynamodb::Client::update_item)
                .sequence()
                .http_status(400, Some(body.to_owned()))
                .output(|| UpdateItemOutput::builder().build())
                .build();
            let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&rule], |c| {
                crate::config::dynamodb_client_config(c)
                    .retry_config(crate::config::dynamodb_retry_config().with_initial_backoff(Duration::from_millis(1)))
            });
            let ok = client.update_item().table_name("t").key("PK", AttributeValue::S("p".into())).send().await.is_ok();
            assert_eq!((rule.num_calls(), ok), expected, "{body}");
        }
    }

    #[tokio::test]
    async fn a_transaction_whose_condition_failed_is_not_sent_again() {
        assert_eq!(attempts(&["ConditionalCheckFailed", "TransactionConflict"]).await, (1, false));
        assert_eq!(attempts(&["ConditionalCheckFailed", "None"]).await, (1, false));
    }
}
