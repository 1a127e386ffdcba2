//! The import leases: one run (or agent-state read) of an integration at a time.

use acd_app::ports::{Acquired, LeaseKind, StoreError};
use acd_domain::{IntegrationId, RunId, TenantId};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_dynamo::aws_sdk_dynamodb_1::from_item;

use super::{DynamoImportStore, is_conditional_failure, key, ser, unless_condition_failed};
use crate::dynamo::s;
use crate::items;
use crate::keys::integration_pk;
use crate::sdk_error;

#[derive(Serialize, Deserialize)]
struct LeaseItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    run_id: RunId,
    /// Compared as text by the conditions (`expires_at < :now` here, `expires_at > :until` in the seen-states
    /// save), whose values have six fraction digits: written with six too, so the comparison is exact.
    #[serde(serialize_with = "micros")]
    expires_at: DateTime<Utc>,
    ttl: i64,
}

/// RFC 3339 in UTC with exactly six fraction digits (serde's form drops trailing zero groups: `…:00Z` sorts after
/// `…:00.5Z` as text).
fn micros<S: serde::Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
}

impl DynamoImportStore {
    async fn acquire_lease_item(
        &self,
        tenant: &TenantId,
        id: IntegrationId,
        sk: &str,
        run: RunId,
        now: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> Result<Acquired, StoreError> {
        let item = ser(LeaseItem {
            pk: integration_pk(tenant, id),
            sk: sk.into(),
            run_id: run,
            expires_at: expires,
            ttl: (expires + Duration::days(1)).timestamp(),
        })?;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            // This run's own lease too: the SDK retries a put whose answer was lost, and that put may have landed.
            .condition_expression("attribute_not_exists(PK) OR expires_at < :now OR run_id = :run")
            .expression_attribute_values(":now", s(now.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)))
            .expression_attribute_values(":run", s(run.to_string()))
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        match result {
            Ok(out) => {
                // An item was there: another run's lease the condition let be replaced (expired: that run never
                // let it go), or this run's own, put by an attempt whose answer was lost — which may have replaced
                // an expired one: not known, so taken as if it did.
                let replaced = out.attributes.is_some_and(|old| !old.is_empty());
                Ok(if replaced { Acquired::OverExpired } else { Acquired::Free })
            }
            Err(e) if is_conditional_failure(&e) => Ok(Acquired::No),
            Err(e) => Err(sdk_error("PutItem(lease)", e)),
        }
    }

    async fn release_lease_item(
        &self,
        tenant: &TenantId,
        id: IntegrationId,
        sk: &str,
        run: RunId,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(integration_pk(tenant, id), sk.into())))
            .condition_expression("run_id = :run")
            .expression_attribute_values(":run", s(run.to_string()))
            .send()
            .await;
        // A failed condition: someone else's lease by now, left as it is.
        unless_condition_failed(result, "DeleteItem(lease)")
    }
}

/// The item of each lease kind.
fn lease_sk(kind: LeaseKind) -> &'static str {
    match kind {
        LeaseKind::Import => items::LEASE_SK,
        LeaseKind::AgentStates => items::STATES_LEASE_SK,
    }
}

pub(super) async fn acquire_lease(
    store: &DynamoImportStore,
    kind: LeaseKind,
    tenant: &TenantId,
    id: IntegrationId,
    run: RunId,
    now: DateTime<Utc>,
    expires: DateTime<Utc>,
) -> Result<Acquired, StoreError> {
    store.acquire_lease_item(tenant, id, lease_sk(kind), run, now, expires).await
}

pub(super) async fn release_lease(
    store: &DynamoImportStore,
    kind: LeaseKind,
    tenant: &TenantId,
    id: IntegrationId,
    run: RunId,
) -> Result<(), StoreError> {
    store.release_lease_item(tenant, id, lease_sk(kind), run).await
}

pub(super) async fn hold_lease(
    store: &DynamoImportStore,
    kind: LeaseKind,
    tenant: &TenantId,
    id: IntegrationId,
    run: RunId,
    until: DateTime<Utc>,
) -> Result<(), StoreError> {
    let result = store
        .client
        .update_item()
        .table_name(&store.table)
        .set_key(Some(key(integration_pk(tenant, id), lease_sk(kind).into())))
        .update_expression("SET expires_at = :until, #ttl = :ttl")
        .condition_expression("run_id = :run")
        .expression_attribute_names("#ttl", "ttl")
        .expression_attribute_values(":until", s(until.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)))
        .expression_attribute_values(":ttl", AttributeValue::N((until + Duration::days(1)).timestamp().to_string()))
        .expression_attribute_values(":run", s(run.to_string()))
        .send()
        .await;
    unless_condition_failed(result, "UpdateItem(lease)") // someone else's lease by now: left as it is
}

pub(super) async fn lease_held(
    store: &DynamoImportStore,
    kind: LeaseKind,
    tenant: &TenantId,
    id: IntegrationId,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    Ok(read_lease(store, kind, tenant, id).await?.is_some_and(|l| l.expires_at >= now))
}

async fn read_lease(
    store: &DynamoImportStore,
    kind: LeaseKind,
    tenant: &TenantId,
    id: IntegrationId,
) -> Result<Option<LeaseItem>, StoreError> {
    let item = store.get(key(integration_pk(tenant, id), lease_sk(kind).into()), "GetItem(lease)").await?;
    item.map(|item| from_item::<LeaseItem>(item).map_err(|e| StoreError::Corrupt(format!("lease: {e}")))).transpose()
}
