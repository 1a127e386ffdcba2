//! Values the server issues once per tenant and vendor (Amazon Connect's external id): item `T#{tenant}` /
//! `TOKEN#{type}#{field}` with the value and when it was issued. Written once with a conditional put, so
//! concurrent first calls all answer the value that was stored; never changed afterwards (a customer's role
//! trusts it).

use std::collections::HashMap;

use acd_app::ports::{StoreError, TenantTokenStore};
use acd_domain::{IntegrationType, TenantId};
use async_trait::async_trait;
use chrono::Utc;

use crate::dynamo::{DynamoStore, Item, is_conditional_failure, s};
use crate::keys::{self, PK, SK};
use crate::sdk_error;

fn key(tenant: &TenantId, kind: &IntegrationType, field: &str) -> Item {
    HashMap::from([
        (PK.to_owned(), s(keys::tenant_pk(tenant))),
        (SK.to_owned(), s(keys::tenant_token_sk(kind.as_str(), field))),
    ])
}

#[async_trait]
impl TenantTokenStore for DynamoStore {
    async fn get_token(
        &self,
        tenant: &TenantId,
        kind: &IntegrationType,
        field: &str,
    ) -> Result<Option<String>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(tenant, kind, field)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("GetItem(tenant token)", e))?;
        match out.item {
            None => Ok(None),
            Some(item) => match item.get("value").and_then(|v| v.as_s().ok()) {
                Some(value) => Ok(Some(value.clone())),
                None => Err(StoreError::Corrupt("tenant token item without value".into())),
            },
        }
    }

    async fn issue_token(
        &self,
        tenant: &TenantId,
        kind: &IntegrationType,
        field: &str,
        candidate: &str,
    ) -> Result<(String, bool), StoreError> {
        let mut item = key(tenant, kind, field);
        item.insert("entity".into(), s("tenant_token"));
        item.insert("value".into(), s(candidate));
        item.insert("issued_at".into(), s(Utc::now().to_rfc3339()));
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await;
        match put {
            Ok(_) => Ok((candidate.to_owned(), true)),
            Err(e) if is_conditional_failure(&e) => {
                match self.get_token(tenant, kind, field).await? {
                    Some(stored) => Ok((stored, false)),
                    // Never deleted, so a failed condition means it exists: a consistent read not finding it is
                    // a backend fault, not "absent".
                    None => Err(StoreError::Backend("tenant token: conditional put failed but no item".into())),
                }
            }
            Err(e) => Err(sdk_error("PutItem(tenant token)", e)),
        }
    }
}
