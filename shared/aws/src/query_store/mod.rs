//! DynamoDB implementation of the read side ([`QueryStore`]) and of the mappings
//! ([`MappingStore`](acd_app::ports::MappingStore)), on the same [`DynamoStore`] (one table, keys in [`crate::keys`]
//! and [`crate::items`]).
//!
//! Every read is a GetItem or a Query — never a Scan — with `ReturnConsumedCapacity=TOTAL`; what each request read
//! is added to its [`acd_app::query::cost`] total. Listings that filter keep querying until the page is full
//! (DynamoDB's `Limit` counts items before the filter) and continue from the last item returned, by sort key, so a
//! page never skips or repeats an item while the import adds others.

//!
//! - `reads`: metered Query/GetItem, paging, item sizes;
//! - `integrations`: integration names;
//! - `queues`: the queue listing and its name index;
//! - `data`: intervals, completeness, agents, segments, statuses;
//! - `gaps`: the agent-state gaps of the tenant's integrations;
//! - `mappings`: the [`MappingStore`](acd_app::ports::MappingStore).

mod data;
mod gaps;
mod integrations;
mod mappings;
mod queues;
mod reads;

use std::collections::HashMap;

use acd_app::mappings::ExternalStatusRecord;
use acd_app::ports::{Page, StoreError};
use acd_app::query::{
    AgentsFrom, Completeness, IntegrationGap, IntervalRecord, MappedAgent, QueryStore, QueuePage, QueueQuery,
    QueueRecord, SegmentRecord,
};
use acd_domain::{IntegrationId, QueueId, TenantId};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::dynamo::DynamoStore;

#[async_trait]
impl QueryStore for DynamoStore {
    async fn integration_names(&self, tenant: &TenantId) -> Result<HashMap<IntegrationId, String>, StoreError> {
        integrations::integration_names(self, tenant).await
    }

    async fn integration_names_indexed(
        &self,
        tenant: &TenantId,
    ) -> Result<(HashMap<IntegrationId, String>, bool), StoreError> {
        integrations::integration_names_indexed(self, tenant).await
    }

    async fn integration_name(&self, tenant: &TenantId, id: IntegrationId) -> Result<Option<String>, StoreError> {
        integrations::integration_name(self, tenant, id).await
    }

    async fn list_queues(
        &self,
        tenant: &TenantId,
        query_filter: &QueueQuery,
        limit: usize,
        after: Option<&str>,
    ) -> Result<QueuePage, StoreError> {
        queues::list_queues(self, tenant, query_filter, limit, after).await
    }

    async fn get_queue(&self, tenant: &TenantId, id: &QueueId) -> Result<Option<QueueRecord>, StoreError> {
        queues::get_queue(self, tenant, id).await
    }

    async fn intervals(
        &self,
        tenant: &TenantId,
        id: &QueueId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<IntervalRecord>, StoreError> {
        data::intervals(self, tenant, id, from, to).await
    }

    async fn completeness(&self, tenant: &TenantId, integration: IntegrationId) -> Result<Completeness, StoreError> {
        data::completeness(self, tenant, integration).await
    }

    async fn mapped_agents(
        &self,
        tenant: &TenantId,
        employee: Option<&str>,
        from: Option<&AgentsFrom>,
        limit: usize,
    ) -> Result<Page<MappedAgent>, StoreError> {
        data::mapped_agents(self, tenant, employee, from, limit).await
    }

    async fn segments(
        &self,
        tenant: &TenantId,
        integration: IntegrationId,
        agent_external_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        not_before: Option<DateTime<Utc>>,
    ) -> Result<Vec<SegmentRecord>, StoreError> {
        data::segments(self, tenant, integration, agent_external_id, from, to, not_before).await
    }

    async fn statuses(
        &self,
        tenant: &TenantId,
        integration: IntegrationId,
    ) -> Result<Vec<ExternalStatusRecord>, StoreError> {
        data::statuses(self, tenant, integration).await
    }

    async fn agent_state_gaps(&self, tenant: &TenantId) -> Result<Vec<IntegrationGap>, StoreError> {
        gaps::agent_state_gaps(self, tenant).await
    }
}
