//! The mappings ([`MappingStore`]): agents to employees, statuses to activities.

use acd_app::mappings::{DEFAULT_ACTIVITY, ExternalAgentRecord, ExternalStatusRecord, MappingStore};
use acd_app::ports::{Page, StoreError};
use acd_domain::{IntegrationId, TenantId};
use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use serde_dynamo::aws_sdk_dynamodb_1::from_item;

use super::reads::{Filter, get, key};
use crate::dynamo::{DynamoStore, is_conditional_failure, s};
use crate::items::{self, AGENT_SK_PREFIX, AgentItem, STATUS_SK_PREFIX, StatusItem};
use crate::keys;
use crate::sdk_error;

pub(super) fn agent_record(item: AgentItem) -> ExternalAgentRecord {
    ExternalAgentRecord {
        integration_id: item.integration_id,
        external_id: item.external_id,
        display_name: item.display_name,
        first_seen: item.first_seen,
        last_seen: item.last_seen,
        employee_id: item.employee_id,
    }
}

pub(super) fn status_record(item: StatusItem) -> ExternalStatusRecord {
    ExternalStatusRecord {
        integration_id: item.integration_id,
        status_id: item.status_id,
        name: item.name,
        activity_id: item.activity_id,
        mapped: item.mapped,
        first_seen: item.first_seen,
        last_seen: item.last_seen,
    }
}

#[async_trait]
impl MappingStore for DynamoStore {
    /// A record being deleted (its tombstone, `deleting_at`) is gone already, as `GET /integrations/{id}` has it.
    async fn integration_exists(&self, tenant: &TenantId, id: IntegrationId) -> Result<bool, StoreError> {
        let builder = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::tenant_pk(tenant), keys::integration_sk(id))))
            .projection_expression("PK, deleting_at");
        let item = get(builder, "integration", true).await?.item;
        Ok(item.is_some_and(|i| !super::integrations::being_deleted(&i)))
    }

    async fn list_agents(
        &self,
        tenant: &TenantId,
        id: IntegrationId,
        unmapped_only: bool,
        limit: usize,
        after: Option<&str>,
    ) -> Result<Page<ExternalAgentRecord>, StoreError> {
        let mut filter = Filter::default();
        if unmapped_only {
            filter.parts.push("attribute_not_exists(#employee)".into());
            filter.names.insert("#employee".into(), "employee_id".into());
        }
        let page: Page<AgentItem> =
            self.list_prefix(keys::integration_pk(tenant, id), AGENT_SK_PREFIX, after, filter, limit, "agents").await?;
        Ok(page.map(agent_record))
    }

    async fn set_agent_employee(
        &self,
        tenant: &TenantId,
        id: IntegrationId,
        external_id: &str,
        employee_id: Option<&str>,
    ) -> Result<Option<ExternalAgentRecord>, StoreError> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::integration_pk(tenant, id), items::agent_sk(external_id))))
            .condition_expression("attribute_exists(PK)")
            .return_values(ReturnValue::AllNew);
        update = match employee_id {
            Some(employee) => update
                .update_expression("SET employee_id = :employee, GSI1PK = :gsi1pk, GSI1SK = :gsi1sk")
                .expression_attribute_values(":employee", s(employee))
                .expression_attribute_values(":gsi1pk", s(items::employees_gsi_pk(tenant)))
                .expression_attribute_values(":gsi1sk", s(items::employees_gsi_sk(employee, id, external_id))),
            None => update.update_expression("REMOVE employee_id, GSI1PK, GSI1SK"),
        };
        match update.send().await {
            Ok(out) => {
                let item = out.attributes.unwrap_or_default();
                let agent: AgentItem = from_item(item).map_err(|e| StoreError::Corrupt(format!("agent item: {e}")))?;
                Ok(Some(agent_record(agent)))
            }
            Err(e) if is_conditional_failure(&e) => Ok(None),
            Err(e) => Err(sdk_error("UpdateItem(agent mapping)", e)),
        }
    }

    async fn list_statuses(
        &self,
        tenant: &TenantId,
        id: IntegrationId,
        unmapped_only: bool,
        limit: usize,
        after: Option<&str>,
    ) -> Result<Page<ExternalStatusRecord>, StoreError> {
        let mut filter = Filter::default();
        if unmapped_only {
            filter.parts.push("#mapped = :no".into());
            filter.names.insert("#mapped".into(), "mapped".into());
            filter.values.insert(":no".into(), AttributeValue::Bool(false));
        }
        let page: Page<StatusItem> = self
            .list_prefix(keys::integration_pk(tenant, id), STATUS_SK_PREFIX, after, filter, limit, "statuses")
            .await?;
        Ok(page.map(status_record))
    }

    async fn set_status_activity(
        &self,
        tenant: &TenantId,
        id: IntegrationId,
        status_id: &str,
        activity_id: Option<&str>,
    ) -> Result<Option<ExternalStatusRecord>, StoreError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::integration_pk(tenant, id), items::status_sk(status_id))))
            .condition_expression("attribute_exists(PK)")
            .update_expression("SET activity_id = :activity, #mapped = :mapped")
            .expression_attribute_names("#mapped", "mapped")
            .expression_attribute_values(":activity", s(activity_id.unwrap_or(DEFAULT_ACTIVITY)))
            .expression_attribute_values(":mapped", AttributeValue::Bool(activity_id.is_some()))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match out {
            Ok(out) => {
                let item = out.attributes.unwrap_or_default();
                let status: StatusItem =
                    from_item(item).map_err(|e| StoreError::Corrupt(format!("status item: {e}")))?;
                Ok(Some(status_record(status)))
            }
            Err(e) if is_conditional_failure(&e) => Ok(None),
            Err(e) => Err(sdk_error("UpdateItem(status mapping)", e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::operation::query::QueryOutput;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    /// A page of the agents' range that looked at 20,000 items, matched none, and ends at `last` (`None`: the end).
    fn looked_at(last: Option<&str>) -> QueryOutput {
        let key = last.map(|sk| {
            std::collections::HashMap::from([("PK".to_owned(), s("pk")), ("SK".to_owned(), s(format!("A#{sk}")))])
        });
        QueryOutput::builder().count(0).scanned_count(20_000).set_last_evaluated_key(key).build()
    }

    /// A store whose Queries answer 20,000 items looked at twice, then the end, and the rule answering them.
    fn store_of_long_reads() -> (DynamoStore, aws_smithy_mocks::Rule) {
        let rule = mock!(aws_sdk_dynamodb::Client::query)
            .sequence()
            .output(|| looked_at(Some("agent-20000")))
            .output(|| looked_at(Some("agent-40000")))
            .output(|| looked_at(None))
            .build();
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&rule]);
        (DynamoStore { client, table: "t".into(), max_integrations: 10 }, rule)
    }

    #[tokio::test]
    async fn an_unmapped_listing_ends_its_page_early_after_a_long_read() {
        // (A review, 2026-12-07: `?unmapped=true` over an integration whose agents are nearly all mapped read the
        // whole partition in one request.)
        let (store, rule) = store_of_long_reads();
        let tenant = TenantId::parse("acme").unwrap();
        let page = store.list_agents(&tenant, IntegrationId::new(), true, 100, None).await.unwrap();
        assert_eq!((page.items.len(), page.more, page.resume_after.as_deref()), (0, true, Some("agent-40000")));
        assert_eq!(rule.num_calls(), 2, "stopped after 40,000 items looked at");
    }

    #[tokio::test]
    async fn an_unfiltered_listing_reads_on_until_its_page_is_full() {
        let (store, rule) = store_of_long_reads();
        let tenant = TenantId::parse("acme").unwrap();
        let page = store.list_statuses(&tenant, IntegrationId::new(), false, 100, None).await.unwrap();
        assert_eq!((page.items.len(), page.more, page.resume_after), (0, false, None));
        assert_eq!(rule.num_calls(), 3);
    }
}
