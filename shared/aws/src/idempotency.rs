//! `Idempotency-Key`s in the one table: item `T#{tenant}` / `IDEM#{key}` holding the request's operation and body
//! fingerprint, the claim token of the request running under it and its lease, then the answer to replay. DynamoDB's
//! TTL (`ttl`) removes it after [`acd_app::http::idempotency::KEY_TTL`]; until then an expired one is treated as
//! absent.

use std::collections::HashMap;

use acd_app::ports::{Claim, IdempotencyRecord, IdempotencyStore, StoreError, StoredResponse};
use acd_domain::TenantId;
use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, TimeZone, Utc};

use crate::dynamo::{DynamoStore, Item, is_conditional_failure, s, unless_condition_failed};
use crate::keys::{self, PK, SK};
use crate::sdk_error;

fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn key(tenant: &TenantId, idempotency_key: &str) -> Item {
    HashMap::from([
        (PK.to_owned(), s(keys::tenant_pk(tenant))),
        (SK.to_owned(), s(keys::idempotency_sk(idempotency_key))),
    ])
}

fn text(item: &Item, name: &str) -> Result<String, StoreError> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .cloned()
        .ok_or_else(|| StoreError::Corrupt(format!("idempotency item without {name}")))
}

fn time(item: &Item, name: &str) -> Result<DateTime<Utc>, StoreError> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse::<i64>().ok())
        .and_then(|v| Utc.timestamp_opt(v, 0).single())
        .ok_or_else(|| StoreError::Corrupt(format!("idempotency item without {name}")))
}

fn record_of(item: &Item) -> Result<IdempotencyRecord, StoreError> {
    let response = match item.get("status").and_then(|v| v.as_n().ok()).and_then(|v| v.parse::<u16>().ok()) {
        Some(status) => Some(StoredResponse {
            status,
            body: text(item, "body")?,
            location: item.get("location").and_then(|v| v.as_s().ok()).cloned(),
        }),
        None => None,
    };
    Ok(IdempotencyRecord {
        operation: text(item, "operation")?,
        fingerprint: text(item, "fingerprint")?,
        token: text(item, "token")?,
        response,
        lease_until: time(item, "lease_until")?,
        expires_at: time(item, "ttl")?,
    })
}

#[async_trait]
impl IdempotencyStore for DynamoStore {
    async fn claim(
        &self,
        tenant: &TenantId,
        idempotency_key: &str,
        record: &IdempotencyRecord,
        now: DateTime<Utc>,
    ) -> Result<Claim, StoreError> {
        let mut item = key(tenant, idempotency_key);
        item.insert("entity".into(), s("idempotency"));
        item.insert("operation".into(), s(record.operation.clone()));
        item.insert("fingerprint".into(), s(record.fingerprint.clone()));
        item.insert("token".into(), s(record.token.clone()));
        item.insert("lease_until".into(), n(record.lease_until.timestamp()));
        item.insert("ttl".into(), n(record.expires_at.timestamp()));
        // Free: absent, expired (TTL deletes lazily), or claimed by a request that neither finished nor released
        // it within its lease (its Lambda was stopped). Or claimed with this very token and not completed: the SDK's
        // retry of this put after DynamoDB applied it (its answer lost), which until 2026-12-08 read its own claim as
        // another request's and answered 409 `idempotency-request-in-progress` to the only request there was. (Never
        // over its completed answer: an attempt applied late must not wipe the 201 that retries replay.)
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(
                "attribute_not_exists(PK) OR #ttl < :now OR (attribute_not_exists(#status) AND lease_until < :now) \
                 OR (#token = :token AND attribute_not_exists(#status))",
            )
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#token", "token")
            .expression_attribute_values(":now", n(now.timestamp()))
            .expression_attribute_values(":token", s(record.token.clone()))
            .send()
            .await;
        match put {
            Ok(_) => Ok(Claim::Claimed),
            Err(e) if is_conditional_failure(&e) => {
                let out = self
                    .client
                    .get_item()
                    .table_name(&self.table)
                    .set_key(Some(key(tenant, idempotency_key)))
                    .consistent_read(true)
                    .send()
                    .await
                    .map_err(|e| sdk_error("GetItem(idempotency key)", e))?;
                match out.item {
                    Some(item) => Ok(Claim::Held(record_of(&item)?)),
                    // Released between the two calls: the caller may retry at once.
                    None => Err(StoreError::Conflict),
                }
            }
            Err(e) => Err(sdk_error("PutItem(idempotency key)", e)),
        }
    }

    async fn complete(
        &self,
        tenant: &TenantId,
        idempotency_key: &str,
        token: &str,
        response: &StoredResponse,
    ) -> Result<(), StoreError> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(tenant, idempotency_key)))
            .condition_expression("#token = :token")
            .expression_attribute_names("#token", "token")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#body", "body")
            .expression_attribute_values(":token", s(token))
            .expression_attribute_values(":status", n(i64::from(response.status)))
            .expression_attribute_values(":body", s(response.body.clone()));
        update = match &response.location {
            Some(location) => update
                .update_expression("SET #status = :status, #body = :body, #location = :location")
                .expression_attribute_names("#location", "location")
                .expression_attribute_values(":location", s(location.clone())),
            None => update.update_expression("SET #status = :status, #body = :body"),
        };
        match update.send().await {
            Ok(_) => Ok(()),
            Err(e) if is_conditional_failure(&e) => Err(StoreError::Conflict),
            Err(e) => Err(sdk_error("UpdateItem(idempotency answer)", e)),
        }
    }

    async fn release(&self, tenant: &TenantId, idempotency_key: &str, token: &str) -> Result<(), StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(tenant, idempotency_key)))
            .condition_expression("#token = :token")
            .expression_attribute_names("#token", "token")
            .expression_attribute_values(":token", s(token))
            .send()
            .await;
        // A failed condition: taken over by another request after the lease ran out, not ours to remove.
        unless_condition_failed(result, "DeleteItem(idempotency key)")
    }
}
