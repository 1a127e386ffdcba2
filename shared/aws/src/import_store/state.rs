//! What the import carries from run to run: its state (backfill progress, reconciliation), the agent-state
//! checkpoint (the position in a vendor's event feed) and the gaps found in that feed
//! ([`crate::table::gaps`]).

use acd_app::ports::{ImportState, SeenStates, StatesCheckpoint, StoreError};
use acd_domain::{IntegrationId, RunId, TenantId};
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Put, TransactWriteItem};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_dynamo::aws_sdk_dynamodb_1::from_item;

use super::{DynamoImportStore, key, ser};
use crate::dynamo::{failed_conditions, s};
use crate::items;
use crate::keys::{self, integration_pk};
use crate::sdk_error;
use crate::table::gaps::AgentStateGapsItem;

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

/// The import state with the connector's cursor (its own item, [`crate::cursor`]). A cursor of an earlier layout —
/// still inside the state item, or in its item as a DynamoDB map — is written to its item as it is now, before the
/// state is saved without it.
pub(super) async fn load_state(
    store: &DynamoImportStore,
    tenant: &TenantId,
    id: IntegrationId,
) -> Result<ImportState, StoreError> {
    let get = |sk: &str, operation| store.get(key(integration_pk(tenant, id), sk.into()), operation);
    let (state, cursor) =
        futures::future::join(get(items::STATE_SK, "GetItem(state)"), get(items::CURSOR_SK, "GetItem(cursor)")).await;
    let mut state = match state? {
        Some(item) => {
            from_item::<StateItem>(item).map(|s| s.state).map_err(|e| StoreError::Corrupt(format!("state: {e}")))?
        }
        None => ImportState::default(),
    };
    let earlier_layout = match cursor? {
        Some(item) => {
            let (cursor, as_map) = crate::cursor::read_cursor(&item)?;
            state.vendor_cursor = Some(cursor);
            as_map
        }
        None => state.vendor_cursor.is_some(),
    };
    if earlier_layout && let Some(cursor) = &state.vendor_cursor {
        save_vendor_cursor(store, tenant, id, cursor).await?;
    }
    Ok(state)
}

/// Saves the state without the connector's cursor ([`save_vendor_cursor`]).
pub(super) async fn save_state(
    store: &DynamoImportStore,
    tenant: &TenantId,
    id: IntegrationId,
    state: &ImportState,
) -> Result<(), StoreError> {
    let state = ImportState { vendor_cursor: None, ..state.clone() };
    let item = ser(StateItem { pk: integration_pk(tenant, id), sk: items::STATE_SK.into(), state })?;
    store.put(item, "PutItem(state)").await
}

/// Writes the connector's cursor item ([`crate::cursor::cursor_item`]: compressed; one too large is refused).
pub(super) async fn save_vendor_cursor(
    store: &DynamoImportStore,
    tenant: &TenantId,
    id: IntegrationId,
    cursor: &serde_json::Value,
) -> Result<(), StoreError> {
    store.put(crate::cursor::cursor_item(integration_pk(tenant, id), cursor)?, "PutItem(cursor)").await
}

pub(super) async fn load_states_checkpoint(
    store: &DynamoImportStore,
    tenant: &TenantId,
    id: IntegrationId,
) -> Result<StatesCheckpoint, StoreError> {
    match store.get(key(integration_pk(tenant, id), items::STATES_SK.into()), "GetItem(states checkpoint)").await? {
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

pub(super) async fn load_seen_states(
    store: &DynamoImportStore,
    tenant: &TenantId,
    id: IntegrationId,
) -> Result<Option<SeenStates>, StoreError> {
    let seen_key = key(integration_pk(tenant, id), items::SEEN_STATES_SK.into());
    let Some(item) = store.get(seen_key, "GetItem(seen states)").await? else { return Ok(None) };
    let since = item.get("since").and_then(|v| v.as_s().ok()).and_then(|s| s.parse::<DateTime<Utc>>().ok());
    let hashes = item.get("hashes").and_then(|v| v.as_b().ok()).map(|b| b.as_ref()).filter(|b| b.len() % 8 == 0);
    match (since, hashes) {
        (Some(since), Some(bytes)) => {
            let hashes = bytes.chunks_exact(8).map(|c| u64::from_be_bytes(c.try_into().expect("8 bytes"))).collect();
            Ok(Some(SeenStates { since, hashes }))
        }
        _ => {
            // Only a shortcut: without it the pass reads every agent back, which is always right.
            tracing::warn!(tenant = %tenant, integration = %id, "unreadable seen-states item ignored");
            Ok(None)
        }
    }
}

/// Saves `seen` in one transaction with a check that run `holder` holds the agent-states lease until at least
/// `held_until`: `false` (nothing saved) when it does not.
pub(super) async fn save_seen_states(
    store: &DynamoImportStore,
    tenant: &TenantId,
    id: IntegrationId,
    seen: &SeenStates,
    holder: RunId,
    held_until: DateTime<Utc>,
) -> Result<bool, StoreError> {
    store.crash_point()?;
    let backend = |e: aws_sdk_dynamodb::error::BuildError| StoreError::Backend(e.to_string());
    let mut item = key(integration_pk(tenant, id), items::SEEN_STATES_SK.into());
    item.insert("since".into(), AttributeValue::S(seen.since.to_rfc3339_opts(SecondsFormat::AutoSi, true)));
    let bytes: Vec<u8> = seen.hashes.iter().flat_map(|h| h.to_be_bytes()).collect();
    item.insert("hashes".into(), AttributeValue::B(Blob::new(bytes)));
    let check = ConditionCheck::builder()
        .table_name(&store.table)
        .set_key(Some(key(integration_pk(tenant, id), items::STATES_LEASE_SK.into())))
        // `expires_at` as the lease's put writes it (RFC 3339 in UTC, six fraction digits) compared as text with the
        // same form. (A lease put before 2026-12-06 has 0, 3, 6 or 9 digits: right within a second, which the
        // margin in `held_until` covers.)
        .condition_expression("run_id = :run AND expires_at > :until")
        .expression_attribute_values(":run", s(holder.to_string()))
        .expression_attribute_values(":until", s(held_until.to_rfc3339_opts(SecondsFormat::Micros, true)))
        .build()
        .map_err(backend)?;
    let put = Put::builder().table_name(&store.table).set_item(Some(item)).build().map_err(backend)?;
    let result = store
        .client
        .transact_write_items()
        .transact_items(TransactWriteItem::builder().condition_check(check).build())
        .transact_items(TransactWriteItem::builder().put(put).build())
        .send()
        .await;
    match result {
        Ok(_) => Ok(true),
        // The lease check (the transaction's first item) failed: not held.
        Err(e) if failed_conditions(&e).is_some_and(|f| f.first() == Some(&true)) => Ok(false),
        Err(e) => Err(sdk_error("TransactWriteItems(seen states)", e)),
    }
}

pub(super) async fn forget_seen_states(
    store: &DynamoImportStore,
    tenant: &TenantId,
    id: IntegrationId,
) -> Result<(), StoreError> {
    store.delete(key(integration_pk(tenant, id), items::SEEN_STATES_SK.into()), "DeleteItem(seen states)").await
}

/// Merges `found` into the integration's stored gaps ([`acd_domain::gaps::merge_gaps`]): GetItem, merge, PutItem.
/// Only the import of the integration (under its lease) writes the item, so the read-merge-write does not race.
pub(super) async fn save_agent_state_gaps(
    store: &DynamoImportStore,
    integration: &acd_domain::Integration,
    found: &[acd_domain::AgentStateGap],
) -> Result<(), StoreError> {
    let (tenant, id) = (&integration.tenant_id, integration.id);
    let key = key(keys::tenant_pk(tenant), keys::agent_state_gaps_sk(id));
    let stored = match store.get(key, "GetItem(agent-state gaps)").await? {
        Some(item) => {
            from_item::<AgentStateGapsItem>(item)
                .map_err(|e| StoreError::Corrupt(format!("agent-state gaps: {e}")))?
                .gaps
        }
        None => Vec::new(),
    };
    let merged = acd_domain::gaps::merge_gaps(&stored, found, acd_domain::gaps::MAX_STORED_GAPS);
    if merged == stored {
        return Ok(());
    }
    store.put(ser(AgentStateGapsItem::new(tenant, id, merged))?, "PutItem(agent-state gaps)").await
}
