//! DynamoDB implementation of the import's store ([`ImportStore`], [`RunLog`]). Item shapes in [`crate::items`].
//!
//! - `lease`: one run of an integration at a time;
//! - `state`: the import state and the agent-state checkpoint carried from run to run;
//! - `runs`: run records and the integration's status;
//! - `catalog`: queues, agents and statuses kept in step with the ACD;
//! - `data`: interval and segment writes as diffs against what is stored.

mod catalog;
mod data;
mod lease;
mod runs;
mod state;

use std::collections::HashSet;

use acd_app::import::RunRecord;
use acd_app::ports::{
    Acquired, ImportState, ImportStore, LeaseKind, ListingCheck, QueueRange, RunLog, RunPage, SeenStates,
    StatesCheckpoint, StoreError, WriteCounts,
};
use acd_domain::{
    AgentSegment, ExternalAgent, ExternalStatus, Integration, IntegrationId, IntegrationStatus, IntervalStats, Queue,
    RunId, TenantId, TimeWindow,
};
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_dynamo::aws_sdk_dynamodb_1::{from_items, to_attribute_value, to_item};

use crate::batch::{AbortAfter, write_all};
use crate::dynamo::{Item, is_conditional_failure, key, s, unless_condition_failed};
use crate::sdk_error;

pub(crate) use catalog::{MissingName, agent_upsert};

/// Reads of partitions run this many at a time.
const READ_CONCURRENCY: usize = 8;

#[derive(Clone, Debug)]
pub struct DynamoImportStore {
    pub client: Client,
    pub table: String,
    pub abort: AbortAfter,
    /// BatchWriteItem calls in flight at once (`Settings::writes_in_flight`).
    pub writes_in_flight: usize,
    /// Whether hours of intervals and segments move into hour buckets when they change (`Settings::hour_buckets`);
    /// hours already in buckets are kept in buckets either way ([`crate::table::hour_writes`]).
    pub hour_buckets: bool,
    /// Whether the segment buckets put are compact (`Settings::compact_segment_buckets`).
    pub compact_segment_buckets: bool,
}

fn ser<T: Serialize>(value: T) -> Result<Item, StoreError> {
    to_item(value).map_err(|e| StoreError::Corrupt(format!("serializing: {e}")))
}

fn de<T: for<'de> Deserialize<'de>>(items: Vec<Item>, what: &str) -> Result<Vec<T>, StoreError> {
    from_items(items).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

fn attribute<T: Serialize>(value: T) -> Result<AttributeValue, StoreError> {
    to_attribute_value(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl DynamoImportStore {
    /// The crash-simulation hook (`ImportConfig::abort_after_batches`) for writes other than BatchWriteItem calls:
    /// every write request of the import counts, so a simulated crash can fall on any of them.
    fn crash_point(&self) -> Result<(), StoreError> {
        if let Some(left) = &self.abort.0
            && left.fetch_sub(1, std::sync::atomic::Ordering::SeqCst) <= 0
        {
            return Err(StoreError::Backend("aborted by the test hook (simulated crash)".into()));
        }
        Ok(())
    }

    /// A strongly consistent GetItem of `key` (the import's own items: what it reads, it acts on under its lease).
    pub(crate) async fn get(&self, key: Item, operation: &str) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error(operation, e))?;
        Ok(out.item)
    }

    /// An unconditional DeleteItem.
    async fn delete(&self, key: Item, operation: &str) -> Result<(), StoreError> {
        self.crash_point()?;
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .send()
            .await
            .map_err(|e| sdk_error(operation, e))?;
        Ok(())
    }

    /// An unconditional PutItem.
    async fn put(&self, item: Item, operation: &str) -> Result<(), StoreError> {
        self.crash_point()?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| sdk_error(operation, e))?;
        Ok(())
    }

    pub fn new(client: Client, table: String) -> Self {
        Self {
            client,
            table,
            abort: AbortAfter::default(),
            writes_in_flight: crate::batch::DEFAULT_IN_FLIGHT,
            hour_buckets: false,
            compact_segment_buckets: false,
        }
    }

    /// Every item of a partition whose sort key lies in `[from, to]` (or starts with `from` when `to` is None), and
    /// the number of Query calls it took. Strongly consistent: what is read is written back — an hour bucket is read,
    /// merged and put whole, a catalog item compared and updated — so a stale read (an eventually consistent one
    /// just after another writer, e.g. the agent-states pass right after the import, or the reverse) would put an
    /// older hour back over segments just written. Twice the read units of an eventually consistent read.
    async fn query_range(&self, pk: String, from: String, to: Option<String>) -> Result<(Vec<Item>, u64), StoreError> {
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        let mut calls = 0;
        loop {
            let mut q = self
                .client
                .query()
                .table_name(&self.table)
                .consistent_read(true)
                .expression_attribute_values(":pk", s(pk.clone()));
            q = match &to {
                Some(to) => q
                    .key_condition_expression("PK = :pk AND SK BETWEEN :from AND :to")
                    .expression_attribute_values(":from", s(from.clone()))
                    .expression_attribute_values(":to", s(to.clone())),
                None => q
                    .key_condition_expression("PK = :pk AND begins_with(SK, :from)")
                    .expression_attribute_values(":from", s(from.clone())),
            };
            let page = q.set_exclusive_start_key(start.take()).send().await.map_err(|e| sdk_error("Query", e))?;
            calls += 1;
            out.extend(page.items.unwrap_or_default());
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok((out, calls)),
            }
        }
    }

    async fn write(&self, puts: Vec<Item>, deletes: Vec<Item>, unchanged: u64) -> Result<WriteCounts, StoreError> {
        let (written, deleted) = (puts.len() as u64, deletes.len() as u64);
        let counts = write_all(&self.client, &self.table, puts, deletes, self.writes_in_flight, &self.abort).await?;
        Ok(WriteCounts {
            written,
            deleted,
            unchanged,
            write_requests: counts.requests,
            batches: counts.calls,
            reads: 0,
        })
    }
}

#[async_trait]
impl ImportStore for DynamoImportStore {
    async fn acquire_lease(
        &self,
        kind: LeaseKind,
        tenant: &TenantId,
        id: IntegrationId,
        run: RunId,
        now: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> Result<Acquired, StoreError> {
        lease::acquire_lease(self, kind, tenant, id, run, now, expires).await
    }

    async fn release_lease(
        &self,
        kind: LeaseKind,
        tenant: &TenantId,
        id: IntegrationId,
        run: RunId,
    ) -> Result<(), StoreError> {
        lease::release_lease(self, kind, tenant, id, run).await
    }

    async fn hold_lease(
        &self,
        kind: LeaseKind,
        tenant: &TenantId,
        id: IntegrationId,
        run: RunId,
        until: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        lease::hold_lease(self, kind, tenant, id, run, until).await
    }

    async fn lease_held(
        &self,
        kind: LeaseKind,
        tenant: &TenantId,
        id: IntegrationId,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        lease::lease_held(self, kind, tenant, id, now).await
    }

    async fn load_states_checkpoint(
        &self,
        tenant: &TenantId,
        id: IntegrationId,
    ) -> Result<StatesCheckpoint, StoreError> {
        state::load_states_checkpoint(self, tenant, id).await
    }

    async fn save_states_checkpoint(
        &self,
        tenant: &TenantId,
        id: IntegrationId,
        checkpoint: &StatesCheckpoint,
    ) -> Result<(), StoreError> {
        state::save_states_checkpoint(self, tenant, id, checkpoint).await
    }

    async fn load_seen_states(&self, tenant: &TenantId, id: IntegrationId) -> Result<Option<SeenStates>, StoreError> {
        state::load_seen_states(self, tenant, id).await
    }

    async fn save_seen_states(
        &self,
        tenant: &TenantId,
        id: IntegrationId,
        seen: &SeenStates,
        holder: RunId,
        held_until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        state::save_seen_states(self, tenant, id, seen, holder, held_until).await
    }

    async fn forget_seen_states(&self, tenant: &TenantId, id: IntegrationId) -> Result<(), StoreError> {
        state::forget_seen_states(self, tenant, id).await
    }

    async fn known_agents(&self, integration: &Integration) -> Result<Vec<ExternalAgent>, StoreError> {
        catalog::known_agents(self, integration).await
    }

    async fn write_recent_segments(
        &self,
        integration: &Integration,
        window: TimeWindow,
        agent_external_ids: &[String],
        pieces: &[AgentSegment],
    ) -> Result<WriteCounts, StoreError> {
        data::write_recent_segments(self, integration, window, agent_external_ids, pieces).await
    }

    async fn load_state(&self, tenant: &TenantId, id: IntegrationId) -> Result<ImportState, StoreError> {
        state::load_state(self, tenant, id).await
    }

    async fn save_state(&self, tenant: &TenantId, id: IntegrationId, state: &ImportState) -> Result<(), StoreError> {
        state::save_state(self, tenant, id, state).await
    }

    async fn save_vendor_cursor(
        &self,
        tenant: &TenantId,
        id: IntegrationId,
        cursor: &serde_json::Value,
    ) -> Result<(), StoreError> {
        state::save_vendor_cursor(self, tenant, id, cursor).await
    }

    async fn save_read_through(
        &self,
        integration: &Integration,
        ranges: &[QueueRange],
    ) -> Result<WriteCounts, StoreError> {
        catalog::save_read_through(self, integration, ranges).await
    }

    async fn sync_queues(
        &self,
        integration: &Integration,
        queues: &[Queue],
        once_seen: &HashSet<String>,
        now: DateTime<Utc>,
        confirmed: bool,
        complete_through: Option<DateTime<Utc>>,
        reread_from: Option<DateTime<Utc>>,
    ) -> Result<(WriteCounts, Vec<QueueRange>, ListingCheck), StoreError> {
        let completeness = catalog::Completeness { complete_through, reread_from };
        catalog::sync_queues(self, integration, queues, once_seen, now, confirmed, completeness).await
    }

    async fn extend_queue_ranges(
        &self,
        integration: &Integration,
        ranges: &[QueueRange],
    ) -> Result<WriteCounts, StoreError> {
        catalog::extend_queue_ranges(self, integration, ranges).await
    }

    async fn sync_agents(
        &self,
        integration: &Integration,
        agents: &[ExternalAgent],
        now: DateTime<Utc>,
        confirmed: bool,
    ) -> Result<(WriteCounts, ListingCheck), StoreError> {
        catalog::sync_agents(self, integration, agents, now, confirmed).await
    }

    async fn sync_statuses(
        &self,
        integration: &Integration,
        statuses: &[ExternalStatus],
        now: DateTime<Utc>,
    ) -> Result<WriteCounts, StoreError> {
        catalog::sync_statuses(self, integration, statuses, now).await
    }

    async fn write_intervals(
        &self,
        integration: &Integration,
        chunk: TimeWindow,
        queue_external_ids: &[String],
        stats: &[IntervalStats],
        fresh: bool,
    ) -> Result<WriteCounts, StoreError> {
        data::write_intervals(self, integration, chunk, queue_external_ids, stats, fresh).await
    }

    async fn write_segments(
        &self,
        integration: &Integration,
        chunk: TimeWindow,
        agent_external_ids: &[String],
        pieces: Vec<AgentSegment>,
        fresh: bool,
    ) -> Result<WriteCounts, StoreError> {
        data::write_segments(self, integration, chunk, agent_external_ids, pieces, fresh).await
    }

    /// With hour buckets, one item per queue-hour and agent-hour; otherwise one per interval and segment.
    fn items_to_write(&self, stats: &[IntervalStats], pieces: &[AgentSegment]) -> u64 {
        if !self.hour_buckets {
            return (stats.len() + pieces.len()) as u64;
        }
        crate::table::buckets::hour_runs(stats.iter().map(|s| (s.queue_external_id.as_str(), s.interval_start)))
            + crate::table::buckets::hour_runs(pieces.iter().map(|p| (&*p.agent_external_id, p.start)))
    }

    async fn merge_segments(
        &self,
        integration: &Integration,
        chunk: TimeWindow,
        pieces: &[AgentSegment],
        fresh: bool,
    ) -> Result<WriteCounts, StoreError> {
        data::merge_segments(self, integration, chunk, pieces, fresh).await
    }

    async fn record_run(&self, run: &RunRecord) -> Result<(), StoreError> {
        runs::record_run(self, run).await
    }

    async fn save_agent_state_gaps(
        &self,
        integration: &Integration,
        found: &[acd_domain::AgentStateGap],
    ) -> Result<(), StoreError> {
        state::save_agent_state_gaps(self, integration, found).await
    }

    async fn save_status(
        &self,
        tenant: &TenantId,
        id: IntegrationId,
        status: &IntegrationStatus,
        failing_since: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<acd_app::ports::StatusWrite, StoreError> {
        runs::set_status(self, tenant, id, status, failing_since).await
    }
}

#[async_trait]
impl RunLog for DynamoImportStore {
    async fn list_runs(
        &self,
        tenant: &TenantId,
        id: IntegrationId,
        limit: usize,
        before: Option<String>,
    ) -> Result<RunPage, StoreError> {
        runs::list_runs(self, tenant, id, limit, before).await
    }
}

#[cfg(test)]
mod consistency_tests {
    use super::*;

    #[tokio::test]
    async fn what_the_import_reads_to_write_back_is_read_strongly_consistent() {
        // Only a strongly consistent Query is answered (the last page: no LastEvaluatedKey).
        let (client, consistent) = crate::test_support::consistent_queries_only();
        let store = DynamoImportStore::new(client, "t".into());
        let (items, calls) = store.query_range("T#t#Q#q".into(), "IV#".into(), Some("IV#~".into())).await.unwrap();
        assert_eq!((items.len(), calls, consistent.num_calls()), (0, 1, 1));
    }
}
