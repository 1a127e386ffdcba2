//! The stored agent-state gaps of a tenant's integrations ([`crate::table::gaps`]): one Query over the tenant
//! partition's `AGAP#` items.

use acd_app::ports::StoreError;
use acd_app::query::IntegrationGap;
use acd_domain::TenantId;
use serde_dynamo::aws_sdk_dynamodb_1::from_item;

use crate::dynamo::{DynamoStore, prefix_query};
use crate::keys;
use crate::table::gaps::AgentStateGapsItem;

pub(super) async fn agent_state_gaps(
    store: &DynamoStore,
    tenant: &TenantId,
) -> Result<Vec<IntegrationGap>, StoreError> {
    let builder = prefix_query(&store.client, &store.table, keys::tenant_pk(tenant), keys::AGENT_STATE_GAPS_SK_PREFIX);
    let mut out = Vec::new();
    for item in store.query_all(builder, "agent-state gaps").await? {
        // A gap that cannot be read must not read as "no gap": the request fails instead.
        let item: AgentStateGapsItem =
            from_item(item).map_err(|e| StoreError::Corrupt(format!("agent-state gaps item: {e}")))?;
        out.extend(item.gaps.into_iter().map(|gap| IntegrationGap { integration_id: item.integration_id, gap }));
    }
    Ok(out)
}
