//! The integration names the read side shows next to queues, and whether every integration is in the name index.

use std::collections::HashMap;

use acd_app::ports::StoreError;
use acd_app::query::QueryStore;
use acd_domain::{IntegrationId, TenantId};
use aws_sdk_dynamodb::types::AttributeValue;

use super::reads::{get, key};
use crate::dynamo::{DynamoStore, prefix_query};
use crate::items;
use crate::keys;

/// Whether an integration record (read with `deleting_at` in its projection) is being deleted: its tombstone is
/// there, and the read side treats it as gone, as `GET /integrations/{id}` does.
pub(super) fn being_deleted(item: &HashMap<String, AttributeValue>) -> bool {
    item.contains_key("deleting_at")
}

pub(super) async fn integration_names(
    store: &DynamoStore,
    tenant: &TenantId,
) -> Result<HashMap<IntegrationId, String>, StoreError> {
    Ok(store.integration_names_indexed(tenant).await?.0)
}

pub(super) async fn integration_names_indexed(
    store: &DynamoStore,
    tenant: &TenantId,
) -> Result<(HashMap<IntegrationId, String>, bool), StoreError> {
    let builder = prefix_query(&store.client, &store.table, keys::tenant_pk(tenant), keys::INTEGRATION_SK_PREFIX)
        .projection_expression("#id, #name, #indexed, deleting_at")
        .expression_attribute_names("#id", "id")
        .expression_attribute_names("#name", "name")
        .expression_attribute_names("#indexed", items::SEARCH_INDEXED);
    let (mut names, mut indexed) = (HashMap::new(), true);
    for item in store.query_all(builder, "integration names").await? {
        // A record being deleted is no current integration: its queues read as a deleted integration's, matched by
        // the integration name stored on them, which the name index does not hold. They stay active until the
        // delete deactivates them (a failed DELETE retried, or an import's tombstone grace, may take a while), so
        // until the record is gone the tenant's `q` reads the full listing (until 2026-12-08 only a needle shorter
        // than the index's pieces found them by that name).
        if being_deleted(&item) {
            indexed = false;
            continue;
        }
        let id = item.get("id").and_then(|v| v.as_s().ok()).and_then(|v| v.parse().ok());
        let name = item.get("name").and_then(|v| v.as_s().ok());
        if let (Some(id), Some(name)) = (id, name) {
            names.insert(id, name.clone());
            indexed &= matches!(item.get(items::SEARCH_INDEXED), Some(AttributeValue::Bool(true)));
        }
    }
    Ok((names, indexed))
}

pub(super) async fn integration_name(
    store: &DynamoStore,
    tenant: &TenantId,
    id: IntegrationId,
) -> Result<Option<String>, StoreError> {
    let builder = store
        .client
        .get_item()
        .table_name(&store.table)
        .set_key(Some(key(keys::tenant_pk(tenant), keys::integration_sk(id))))
        .projection_expression("#name, deleting_at")
        .expression_attribute_names("#name", "name");
    let out = get(builder, "integration name", false).await?;
    // A record being deleted has no current name (as in `integration_names_indexed`).
    let item = out.item.filter(|i| !being_deleted(i));
    Ok(item.and_then(|i| i.get("name").and_then(|v| v.as_s().ok()).cloned()))
}
