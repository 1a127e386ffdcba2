//! The catalog the import keeps in step with the ACD: queues (with the queue name index), agents and statuses.
//! Items that vanish from a listing are marked inactive, never deleted; a collapsed listing is held.

use std::collections::{HashMap, HashSet};

use acd_app::import::plan::listing_collapsed;
use acd_app::ports::{ListingCheck, QueueRange, StoreError, WriteCounts};
use acd_domain::{ExternalAgent, ExternalStatus, Integration, Queue, QueueId};
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use chrono::{DateTime, Duration, Utc};
use futures::stream::{self, StreamExt, TryStreamExt};
use serde::Deserialize;

use super::{
    DynamoImportStore, READ_CONCURRENCY, attribute, de, is_conditional_failure, key, ser, unless_condition_failed,
};
use crate::batch::write_all;
use crate::dynamo::{Item, s};
use crate::items::{self, DEFAULT_ACTIVITY, QueueItem, StatusItem};
use crate::keys::{self, integration_pk};
use crate::sdk_error;

/// One UpdateItem: key, update expression, values.
pub(crate) type Upsert = (Item, String, Item);

/// What an agent upsert does with the stored display name when the listed agent has none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MissingName {
    /// The ACD's listing is the whole truth: no name now means none.
    Remove,
    /// A pushed record may simply not carry it: keep the stored one.
    Keep,
}

/// The UpdateItem of one seen agent: active, `last_seen` now, `first_seen` kept, never touching its mapping.
pub(crate) fn agent_upsert(
    pk: &str,
    integration: &Integration,
    agent: &ExternalAgent,
    now: DateTime<Utc>,
    missing: MissingName,
) -> Result<Upsert, StoreError> {
    let mut values = HashMap::from([
        (":yes".to_owned(), AttributeValue::Bool(true)),
        (":entity".to_owned(), s("agent")),
        (":integration".to_owned(), s(integration.id.to_string())),
        (":external".to_owned(), s(agent.external_id.clone())),
        (":now".to_owned(), attribute(now)?),
    ]);
    let display = match (&agent.display_name, missing) {
        (Some(name), _) => {
            values.insert(":display".to_owned(), s(name.clone()));
            "SET display_name = :display, "
        }
        (None, MissingName::Remove) => "REMOVE display_name SET ",
        (None, MissingName::Keep) => "SET ",
    };
    let expression = format!(
        "{display}entity = :entity, integration_id = :integration, external_id = :external, \
         last_seen = :now, first_seen = if_not_exists(first_seen, :now), active = :yes"
    );
    Ok((key(pk.to_owned(), items::agent_sk(&agent.external_id)), expression, values))
}

/// An agent that was listed within this long counts as known to a listing check even without an `active` flag
/// (items written before the flag existed; `last_seen` moves once a day).
const AGENT_RECENTLY_SEEN_DAYS: i64 = 2;

/// What the import reads of a stored agent: its `active` flag (absent on items older than the flag) and when it was
/// last listed. The item's other attributes (mappings) are the mapping routes'.
#[derive(Deserialize)]
struct AgentSeen {
    external_id: String,
    #[serde(default)]
    display_name: Option<String>,
    last_seen: DateTime<Utc>,
    #[serde(default)]
    active: Option<bool>,
}

impl DynamoImportStore {
    /// Puts queue items, in transactions conditional on the integration record existing and not being deleted
    /// ([`crate::dynamo::queue_transactions`]). `NotFound` when the record is gone or deleting.
    async fn put_queues(&self, integration: &Integration, puts: Vec<Item>) -> Result<(u64, u64), StoreError> {
        let puts = puts
            .into_iter()
            .map(|item| {
                let put = Put::builder().table_name(&self.table).set_item(Some(item)).build();
                put.map(|put| TransactWriteItem::builder().put(put).build())
                    .map_err(|e| StoreError::Backend(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let table = &self.table;
        crate::dynamo::queue_transactions(&self.client, table, integration, puts, || self.crash_point(), "queues").await
    }

    /// Marks the integration record: every queue of it is in the queue name index (`items::SEARCH_INDEXED`). A
    /// record being deleted, gone, or already marked is left as it is (a PATCH rewrites the record without the mark;
    /// the next run sets it again).
    pub(crate) async fn mark_queue_search(&self, integration: &Integration) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::tenant_pk(&integration.tenant_id), keys::integration_sk(integration.id))))
            .update_expression("SET #indexed = :yes")
            .condition_expression(
                "attribute_exists(PK) AND attribute_not_exists(deleting_at) AND attribute_not_exists(#indexed)",
            )
            .expression_attribute_names("#indexed", items::SEARCH_INDEXED)
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .send()
            .await;
        unless_condition_failed(result, "UpdateItem(integration search mark)")
    }

    /// Applies catalog updates (agents, statuses) with UpdateItem, a few at a time. UpdateItem (not a put) because
    /// these items also hold the admin's mappings, which the import must never overwrite, even when an admin maps
    /// an agent while a run is going.
    pub(crate) async fn upsert(&self, updates: Vec<Upsert>, unchanged: u64) -> Result<WriteCounts, StoreError> {
        let written = updates.len() as u64;
        for _ in 0..written {
            self.crash_point()?;
        }
        stream::iter(updates.into_iter().map(|(key, expression, values)| {
            let mut request = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key))
                .update_expression(expression.clone())
                .set_expression_attribute_values(Some(values));
            if expression.contains("#name") {
                request = request.expression_attribute_names("#name", "name");
            }
            async move { request.send().await.map_err(|e| sdk_error("UpdateItem(catalog)", e)) }
        }))
        .buffer_unordered(READ_CONCURRENCY)
        .try_collect::<Vec<_>>()
        .await?;
        Ok(WriteCounts { written, deleted: 0, unchanged, write_requests: written, batches: 0, reads: 0 })
    }
}

pub(super) async fn known_agents(
    store: &DynamoImportStore,
    integration: &Integration,
) -> Result<Vec<ExternalAgent>, StoreError> {
    let pk = integration_pk(&integration.tenant_id, integration.id);
    let (stored, _) = store.query_range(pk, items::AGENT_SK_PREFIX.into(), None).await?;
    let agents: Vec<AgentSeen> = de(stored, "agent")?;
    Ok(agents
        .into_iter()
        .filter(|a| a.active != Some(false))
        .map(|a| ExternalAgent { external_id: a.external_id, display_name: a.display_name })
        .collect())
}

/// Where the integration's statistics are complete through now, and where the run reads them again from
/// ([`acd_app::ports::ImportStore::sync_queues`]).
#[derive(Debug, Clone, Copy)]
pub(super) struct Completeness {
    pub complete_through: Option<DateTime<Utc>>,
    pub reread_from: Option<DateTime<Utc>>,
}

/// How far a queue no longer listed had its statistics read: its `listed_through`; for one that left before that was
/// kept, the beginning of time (not its `last_seen`, a wall-clock time that during a back-fill lies days past what
/// was read: taken so, it would claim the days read without the queue).
fn read_through(queue: &QueueItem) -> DateTime<Utc> {
    queue.listed_through.unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// A listed queue's `complete_from` and `listed_through` ([`QueueItem::listed_through`]) from its item before this
/// run (`None`: listed for the first time).
/// - New: complete from where the integration's statistics are complete now (none of the runs before read it).
/// - Read as far as the integration (no `listed_through`, listed before): as it was.
/// - Read less far (it left the listing, or came back and has not been read up to the integration's completed point
///   yet), to before this run's re-read: the runs in between did not read it, so it is complete only from the
///   re-read on, and through nothing more yet (its earlier complete history is no longer claimed: one bound cannot
///   leave a hole; its stored data stays). Read into the re-read: its history as it was, through where it was read.
///   Either way the import moves `listed_through` on as it writes the days it reads for the queue.
fn listed_completeness(
    previous: Option<&QueueItem>,
    completeness: Completeness,
) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    let Completeness { complete_through, reread_from } = completeness;
    let Some(p) = previous else { return (complete_through, None) };
    let read = if p.active { p.listed_through } else { Some(read_through(p)) };
    match read {
        None => (p.complete_from, None),
        // Read as far as the integration's completed point already: nothing to catch up.
        Some(read) if complete_through.is_some_and(|done| read >= done) => (p.complete_from, None),
        Some(read) => match reread_from {
            Some(from) if read < from => (p.complete_from.max(Some(from)), Some(from)),
            _ => (p.complete_from, Some(read)),
        },
    }
}

pub(super) async fn sync_queues(
    store: &DynamoImportStore,
    integration: &Integration,
    queues: &[Queue],
    once_seen: &HashSet<String>,
    now: DateTime<Utc>,
    confirmed: bool,
    completeness: Completeness,
) -> Result<(WriteCounts, Vec<QueueRange>, ListingCheck), StoreError> {
    let complete_through = completeness.complete_through;
    let (tenant, id) = (&integration.tenant_id, integration.id);
    let pk = integration_pk(tenant, id);
    let (stored, reads) = store.query_range(pk.clone(), keys::QUEUE_SK_PREFIX.into(), None).await?;
    let existing: Vec<QueueItem> = de(stored, "queue")?;
    let mut existing: HashMap<String, QueueItem> = existing.into_iter().map(|q| (q.external_id.clone(), q)).collect();
    let listed: HashSet<&str> = queues.iter().map(|q| q.external_id.as_str()).collect();
    let known = existing.values().filter(|q| q.active).count() as u64;
    let missing = existing.values().filter(|q| q.active && !listed.contains(q.external_id.as_str())).count() as u64;
    let collapsed = listing_collapsed(known, missing);
    let check = ListingCheck { known, missing, collapsed, held: collapsed && !confirmed };
    let (mut puts, mut unchanged) = (Vec::new(), 0u64);
    let (mut index_puts, mut index_deletes) = (Vec::new(), Vec::new());
    let mut ranges = Vec::new();
    // The `last_seen` of a queue moves at most once a day, so a steady import does not rewrite every queue.
    let seen_recently = |q: &QueueItem| now - q.last_seen < Duration::days(1);
    for queue in queues {
        let queue_id = QueueId::new(id, queue.external_id.clone());
        let previous = existing.remove(&queue.external_id);
        let (complete_from, listed_through) = listed_completeness(previous.as_ref(), completeness);
        let item = QueueItem {
            pk: pk.clone(),
            sk: keys::queue_sk(&queue.external_id),
            gsi1pk: items::queues_gsi_pk(tenant),
            gsi1sk: items::queues_gsi_sk(&queue.name, &queue_id),
            entity: "queue".into(),
            queue_id,
            integration_id: id,
            integration_name: integration.name.as_str().to_owned(),
            external_id: queue.external_id.clone(),
            name: queue.name.clone(),
            name_lower: queue.name.to_lowercase(),
            channel: queue.channel,
            interval_minutes: acd_domain::INTERVAL_MINUTES as u32,
            active: true,
            first_seen: previous.as_ref().map_or(now, |p| p.first_seen),
            last_seen: match &previous {
                Some(p) if seen_recently(p) => p.last_seen,
                _ => now,
            },
            data_from: previous.as_ref().and_then(|p| p.data_from),
            data_to: previous.as_ref().and_then(|p| p.data_to),
            complete_from,
            listed_through,
            once_seen: once_seen.contains(&queue.external_id),
            search_indexed: true,
        };
        ranges.push(QueueRange {
            external_id: queue.external_id.clone(),
            data_from: item.data_from,
            data_to: item.data_to,
            read_through: item.listed_through,
        });
        if previous.as_ref() == Some(&item) {
            unchanged += 1;
        } else {
            // The name index first (a queue item flagged `search_indexed` always has its pieces written, with
            // its channel).
            let indexed = previous.as_ref().filter(|p| p.search_indexed);
            if indexed.is_none_or(|p| p.name_lower != item.name_lower || p.channel != item.channel) {
                index_puts.extend(items::queue_search_items(tenant, &item.name, &item.queue_id, item.channel));
            }
            // Renamed: every entry of the old name has the old sort key.
            if let Some(p) = indexed.filter(|p| p.name_lower != item.name_lower) {
                index_deletes.extend(items::queue_search_items(tenant, &p.name, &p.queue_id, p.channel));
            }
            puts.push(ser(&item)?);
        }
    }
    // Queues the ACD no longer lists: inactive, never deleted (kept active while a collapsed listing is held).
    for (_, mut gone) in existing {
        ranges.push(QueueRange {
            external_id: gone.external_id.clone(),
            data_from: gone.data_from,
            data_to: gone.data_to,
            read_through: None,
        });
        let deactivate = gone.active && !check.held;
        if deactivate || !gone.search_indexed {
            gone.active &= !deactivate;
            if deactivate {
                // Every run before this one listed it: the data complete now was read with it (none before the
                // first back-fill completed: nothing, the beginning of time) — as far as it had been read again,
                // if it leaves before that reached the integration's completed point.
                let through = complete_through.unwrap_or(DateTime::<Utc>::MIN_UTC);
                gone.listed_through = Some(gone.listed_through.map_or(through, |read| read.min(through)));
            }
            if !gone.search_indexed {
                index_puts.extend(items::queue_search_items(tenant, &gone.name, &gone.queue_id, gone.channel));
                gone.search_indexed = true;
            }
            puts.push(ser(&gone)?);
        } else {
            unchanged += 1;
        }
    }
    let written = puts.len() as u64;
    let index =
        write_all(&store.client, &store.table, index_puts, index_deletes, store.writes_in_flight, &store.abort).await?;
    let (write_requests, batches) = store.put_queues(integration, puts).await?;
    // Every queue of the integration is now in the name index: text filters of the tenant may use it.
    store.mark_queue_search(integration).await?;
    let counts = WriteCounts {
        written,
        deleted: 0,
        unchanged,
        write_requests: write_requests + index.requests,
        batches: batches + index.calls,
        reads,
    };
    Ok((counts, ranges, check))
}

pub(super) async fn save_read_through(
    store: &DynamoImportStore,
    integration: &Integration,
    ranges: &[QueueRange],
) -> Result<WriteCounts, StoreError> {
    let pk = integration_pk(&integration.tenant_id, integration.id);
    let mut requests = Vec::with_capacity(ranges.len());
    for range in ranges {
        let request = queue_update(store, &pk, &range.external_id);
        requests.push(match range.read_through {
            Some(through) => request
                .update_expression("SET listed_through = :t")
                .expression_attribute_values(":t", attribute(through)?),
            None => request.update_expression("REMOVE listed_through"),
        });
    }
    // One UpdateItem per queue listed again (rare).
    send_queue_updates(requests, "UpdateItem(queue read through)").await
}

pub(super) async fn extend_queue_ranges(
    store: &DynamoImportStore,
    integration: &Integration,
    ranges: &[QueueRange],
) -> Result<WriteCounts, StoreError> {
    let pk = integration_pk(&integration.tenant_id, integration.id);
    let mut requests = Vec::with_capacity(ranges.len());
    for range in ranges {
        let (Some(from), Some(to)) = (range.data_from, range.data_to) else { continue };
        requests.push(
            queue_update(store, &pk, &range.external_id)
                .update_expression("SET data_from = :f, data_to = :t")
                .expression_attribute_values(":f", attribute(from)?)
                .expression_attribute_values(":t", attribute(to)?),
        );
    }
    // One UpdateItem per queue whose range moved.
    send_queue_updates(requests, "UpdateItem(queue range)").await
}

/// An update of the queue item `external_id` of the partition `pk`, on the condition that it exists.
fn queue_update(store: &DynamoImportStore, pk: &str, external_id: &str) -> UpdateItemFluentBuilder {
    let key = key(pk.to_owned(), keys::queue_sk(external_id));
    store.client.update_item().table_name(&store.table).set_key(Some(key)).condition_expression("attribute_exists(PK)")
}

/// Sends updates of queue items conditioned on the item existing, a few in flight (each is independent); a queue
/// item gone since (its condition failed) is not counted.
async fn send_queue_updates(
    requests: Vec<UpdateItemFluentBuilder>,
    what: &'static str,
) -> Result<WriteCounts, StoreError> {
    let updated: Vec<bool> = stream::iter(requests.into_iter().map(|request| async move {
        match request.send().await {
            Ok(_) => Ok(true),
            Err(e) if is_conditional_failure(&e) => Ok(false),
            Err(e) => Err(sdk_error(what, e)),
        }
    }))
    .buffer_unordered(READ_CONCURRENCY)
    .try_collect()
    .await?;
    let written = updated.into_iter().filter(|u| *u).count() as u64;
    Ok(WriteCounts { written, write_requests: written, ..WriteCounts::default() })
}

pub(super) async fn sync_agents(
    store: &DynamoImportStore,
    integration: &Integration,
    agents: &[ExternalAgent],
    now: DateTime<Utc>,
    confirmed: bool,
) -> Result<(WriteCounts, ListingCheck), StoreError> {
    let pk = integration_pk(&integration.tenant_id, integration.id);
    let (stored, reads) = store.query_range(pk.clone(), items::AGENT_SK_PREFIX.into(), None).await?;
    let existing: Vec<AgentSeen> = de(stored, "agent")?;
    let existing: HashMap<String, AgentSeen> = existing.into_iter().map(|a| (a.external_id.clone(), a)).collect();
    // Known: active, or (items from before the flag) listed in the last days.
    let is_known =
        |a: &AgentSeen| a.active.unwrap_or_else(|| now - a.last_seen < Duration::days(AGENT_RECENTLY_SEEN_DAYS));
    let listed: HashSet<&str> = agents.iter().map(|a| a.external_id.as_str()).collect();
    let known = existing.values().filter(|a| is_known(a)).count() as u64;
    let gone: Vec<&AgentSeen> =
        existing.values().filter(|a| is_known(a) && !listed.contains(a.external_id.as_str())).collect();
    let collapsed = listing_collapsed(known, gone.len() as u64);
    let check = ListingCheck { known, missing: gone.len() as u64, collapsed, held: collapsed && !confirmed };
    let mut updates = Vec::new();
    let mut unchanged = 0;
    if !check.held {
        for agent in gone {
            let values = HashMap::from([(":no".to_owned(), AttributeValue::Bool(false))]);
            updates.push((key(pk.clone(), items::agent_sk(&agent.external_id)), "SET active = :no".to_owned(), values));
        }
    }
    for agent in agents {
        let previous = existing.get(&agent.external_id);
        let stale = previous.is_none_or(|p| {
            p.display_name != agent.display_name || now - p.last_seen >= Duration::days(1) || p.active != Some(true)
        });
        if !stale {
            unchanged += 1;
            continue;
        }
        updates.push(agent_upsert(&pk, integration, agent, now, MissingName::Remove)?);
    }
    let mut counts = store.upsert(updates, unchanged).await?;
    counts.reads = reads;
    Ok((counts, check))
}

pub(super) async fn sync_statuses(
    store: &DynamoImportStore,
    integration: &Integration,
    statuses: &[ExternalStatus],
    now: DateTime<Utc>,
) -> Result<WriteCounts, StoreError> {
    let pk = integration_pk(&integration.tenant_id, integration.id);
    let (stored, reads) = store.query_range(pk.clone(), items::STATUS_SK_PREFIX.into(), None).await?;
    let existing: Vec<StatusItem> = de(stored, "status")?;
    let existing: HashMap<String, StatusItem> = existing.into_iter().map(|s| (s.status_id.clone(), s)).collect();
    let mut updates = Vec::new();
    let mut unchanged = 0;
    for status in statuses {
        let previous = existing.get(&status.id);
        let stale = previous.is_none_or(|p| p.name != status.name || now - p.last_seen >= Duration::days(1));
        if !stale {
            unchanged += 1;
            continue;
        }
        let values = HashMap::from([
            (":entity".to_owned(), s("status")),
            (":integration".to_owned(), s(integration.id.to_string())),
            (":status".to_owned(), s(status.id.clone())),
            (":name".to_owned(), s(status.name.clone())),
            (":now".to_owned(), attribute(now)?),
            (":present".to_owned(), s(DEFAULT_ACTIVITY)),
            (":no".to_owned(), AttributeValue::Bool(false)),
        ]);
        let expression = "SET entity = :entity, integration_id = :integration, status_id = :status, \
                          #name = :name, last_seen = :now, first_seen = if_not_exists(first_seen, :now), \
                          activity_id = if_not_exists(activity_id, :present), mapped = if_not_exists(mapped, :no)"
            .to_owned();
        updates.push((key(pk.clone(), items::status_sk(&status.id)), expression, values));
    }
    let mut counts = store.upsert(updates, unchanged).await?;
    counts.reads = reads;
    Ok(counts)
}
