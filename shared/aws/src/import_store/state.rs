//! What the import carries from run to run: its state (backfill progress, reconciliation) and the agent-state
//! checkpoint (the position in a vendor's event feed).

use acd_app::ports::{ImportState, StatesCheckpoint, StoreError};
use acd_domain::{IntegrationId, TenantId};
use serde::{Deserialize, Serialize};
use serde_dynamo::aws_sdk_dynamodb_1::from_item;

use super::{DynamoImportStore, key, ser};
use crate::items;
use crate::keys::integration_pk;
use crate::sdk_error;

#[derive(Serialize, Deserialize)]
struct StatesCheckpointItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(flatten)]
    checkpoint: StatesCheckpoint,
}

#[derive(Serialize, Deserialize)]
struct StateItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(flatten)]
    state: ImportState,
}

pub(super) async fn load_state(
    store: &DynamoImportStore,
    tenant: &TenantId,
    id: IntegrationId,
) -> Result<ImportState, StoreError> {
    let out = store
        .client
        .get_item()
        .table_name(&store.table)
        .set_key(Some(key(integration_pk(tenant, id), items::STATE_SK.into())))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| sdk_error("GetItem(state)", e))?;
    match out.item {
        Some(item) => {
            from_item::<StateItem>(item).map(|s| s.state).map_err(|e| StoreError::Corrupt(format!("state: {e}")))
        }
        None => Ok(ImportState::default()),
    }
}

pub(super) async fn save_state(
    store: &DynamoImportStore,
    tenant: &TenantId,
    id: IntegrationId,
    state: &ImportState,
) -> Result<(), StoreError> {
    let item = ser(StateItem { pk: integration_pk(tenant, id), sk: items::STATE_SK.into(), state: state.clone() })?;
    store.put(item, "PutItem(state)").await
}

pub(super) async fn load_states_checkpoint(
    store: &DynamoImportStore,
    tenant: &TenantId,
    id: IntegrationId,
) -> Result<StatesCheckpoint, StoreError> {
    let out = store
        .client
        .get_item()
        .table_name(&store.table)
        .set_key(Some(key(integration_pk(tenant, id), items::STATES_SK.into())))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| sdk_error("GetItem(states checkpoint)", e))?;
    match out.item {
        Some(item) => from_item::<StatesCheckpointItem>(item)
            .map(|s| s.checkpoint)
            .map_err(|e| StoreError::Corrupt(format!("states checkpoint: {e}"))),
        None => Ok(StatesCheckpoint::default()),
    }
}

pub(super) async fn save_states_checkpoint(
    store: &DynamoImportStore,
    tenant: &TenantId,
    id: IntegrationId,
    checkpoint: &StatesCheckpoint,
) -> Result<(), StoreError> {
    let item = ser(StatesCheckpointItem {
        pk: integration_pk(tenant, id),
        sk: items::STATES_SK.into(),
        checkpoint: checkpoint.clone(),
    })?;
    store.put(item, "PutItem(states checkpoint)").await
}
