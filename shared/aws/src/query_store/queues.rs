//! The queue listing (`GET /queues`, `GET /queues/{id}`): DynamoDB's pre-filter, and the queue name index that
//! answers text filters without reading the whole listing.

use std::collections::{HashMap, HashSet};

use acd_app::ports::StoreError;
use acd_app::query::cost::{self, ReadCost, estimate_units};
use acd_app::query::{QueuePage, QueueQuery, QueueRecord};
use acd_domain::{IntegrationId, QueueId, TenantId};
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, ReturnConsumedCapacity};
use serde_dynamo::aws_sdk_dynamodb_1::from_item;

use super::reads::{
    Filter, MAX_ITEMS_EVALUATED_PER_PAGE, MAX_QUERY_LIMIT, TYPICAL_QUEUE_BYTES, get, item_bytes, key, more, next_limit,
    query, readable,
};
use crate::dynamo::{DynamoStore, Item, s};
use crate::items::{self, QueueItem};
use crate::keys::{self, GSI1, GSI1SK, SK};
use crate::sdk_error;

pub(super) fn queue_record(item: QueueItem) -> QueueRecord {
    QueueRecord {
        queue_id: item.queue_id,
        integration_id: item.integration_id,
        integration_name: item.integration_name,
        external_id: item.external_id,
        name: item.name,
        channel: item.channel,
        interval_minutes: item.interval_minutes,
        active: item.active,
        first_seen: item.first_seen,
        last_seen: item.last_seen,
        data_from: item.data_from,
        data_to: item.data_to,
        complete_from: item.complete_from,
        listed_through: item.listed_through,
        awaiting_traffic: item.once_seen && item.data_from.is_none(),
        sort_key: item.gsi1sk,
    }
}

/// DynamoDB's pre-filter for a queue listing: a superset of [`QueueQuery::matches`], which is applied afterwards.
pub(super) fn queue_filter(query: &QueueQuery) -> Filter {
    let mut f = Filter::default();
    // Queues listed once seen, without data yet, are never listed.
    f.parts.push("(attribute_not_exists(#once_seen) OR attribute_exists(#data_from))".into());
    f.names.insert("#once_seen".into(), "once_seen".into());
    f.names.insert("#data_from".into(), "data_from".into());
    if !query.include_inactive {
        f.parts.push("#active = :active".into());
        f.names.insert("#active".into(), "active".into());
        f.values.insert(":active".into(), AttributeValue::Bool(true));
    }
    if let Some(channel) = query.channel {
        f.parts.push("#channel = :channel".into());
        f.names.insert("#channel".into(), "channel".into());
        f.values.insert(":channel".into(), s(channel.as_str()));
    }
    // Named only where an expression uses it: DynamoDB refuses unused ExpressionAttributeNames (a text search of a
    // tenant without integrations, or with more than 100, used to get that ValidationException as a 503).
    if let Some(integration) = query.integration_id {
        f.names.insert("#integration".into(), "integration_id".into());
        f.parts.push("#integration = :integration".into());
        f.values.insert(":integration".into(), s(integration.to_string()));
    }
    // The text filter narrows in DynamoDB only while the id lists fit one IN each (100 operands); beyond that the
    // exact predicate alone applies. With no current integration every queue may match by its stored name.
    if let Some(text) = &query.text
        && !text.current_integrations.is_empty()
        && text.current_integrations.len() <= 100
    {
        f.names.insert("#name_lower".into(), "name_lower".into());
        f.names.insert("#integration".into(), "integration_id".into());
        f.values.insert(":needle".into(), s(text.needle.clone()));
        let mut alternatives = vec!["contains(#name_lower, :needle)".to_owned()];
        let list = |prefix: &str, ids: &mut dyn Iterator<Item = &IntegrationId>, f: &mut Filter| -> String {
            let placeholders: Vec<String> = ids
                .enumerate()
                .map(|(i, id)| {
                    let p = format!(":{prefix}{i}");
                    f.values.insert(p.clone(), s(id.to_string()));
                    p
                })
                .collect();
            placeholders.join(", ")
        };
        if !text.matching_integrations.is_empty() {
            let ids = list("m", &mut text.matching_integrations.iter(), &mut f);
            alternatives.push(format!("#integration IN ({ids})"));
        }
        let ids = list("c", &mut text.current_integrations.iter(), &mut f);
        alternatives.push(format!("NOT (#integration IN ({ids}))"));
        f.parts.push(format!("({})", alternatives.join(" OR ")));
    }
    f
}

/// The piece of the needle whose index partition a text filter reads, when the queue name index can answer it:
/// every current integration is indexed, no integration name matches (its queues would all match, whatever their
/// names), inactive queues are not asked for (those of deleted integrations match by their stored integration name,
/// which the index does not hold), and the needle has at least [`items::SEARCH_GRAM_CHARS`] characters. Of its
/// pieces the one of the rarest characters (digits and rare letters before spaces and common letters) is read:
/// every queue containing the needle is in each piece's partition, the rarest has the fewest others.
pub(super) fn search_gram(query: &QueueQuery) -> Option<String> {
    let text = query.text.as_ref()?;
    if !text.indexed || !text.matching_integrations.is_empty() || query.include_inactive {
        return None;
    }
    // Letters by frequency in English text, then the digits names are most often numbered with.
    const COMMON: &str = " etaoinsrhldcumfpgwybvkxjqz01";
    let weight = |c: char| COMMON.find(c).map_or(0, |i| COMMON.len() - i);
    items::search_grams(&text.needle)
        .into_iter()
        .min_by_key(|gram| (gram.chars().map(weight).sum::<usize>(), std::cmp::Reverse(gram.clone())))
}

/// The exact key of a queue item (the base table) from its id.
pub(super) fn queue_key(tenant: &TenantId, id: &QueueId) -> Item {
    key(keys::integration_pk(tenant, id.integration_id), keys::queue_sk(&id.external_id))
}

/// Index items read per Query of the queue name index (≈ 90 bytes each: about 45 items per 4 KB read unit).
const INDEX_QUERY_LIMIT: usize = 1_000;
/// BatchGetItem's limit of keys per call.
const MAX_BATCH_GET: usize = 100;
/// Queue items one 4 KB read unit holds (`4096 / TYPICAL_QUEUE_BYTES`): reading a queue alone (BatchGetItem, one
/// read unit per item) costs as much as reading this many neighbours in a range of the listing.
const QUEUES_PER_READ_UNIT: u64 = 4096 / TYPICAL_QUEUE_BYTES;

/// How the name index resolves its next candidates: read the listing's range between them (what the full read would
/// read there, so never more), or fetch them alone (one read unit each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resolve {
    /// A range of the listing, with this `Limit`.
    Range(usize),
    /// BatchGetItem of the next candidates.
    Fetch,
}

/// The next step for `wanted` candidates, from what the range reads of this page saw so far: `scanned` items of the
/// listing, among them `covered` candidates. Reading the range pays where candidates are denser than one in
/// [`QUEUES_PER_READ_UNIT`] items; it is chosen only at twice that density (candidates come in clusters: a range
/// read across the gap between two clusters is lost), so either way a page reads at most about twice what the
/// cheaper of the two would. With nothing seen yet a short range (two candidates' worth) probes the density and
/// resolves the first candidate on the way. A range read never reads more items than fetching the wanted
/// candidates alone would cost.
fn resolve(wanted: usize, scanned: u64, covered: u64) -> Resolve {
    let per_unit = QUEUES_PER_READ_UNIT as usize;
    if wanted <= 1 && scanned == 0 {
        return Resolve::Fetch;
    }
    if scanned == 0 {
        return Resolve::Range(2 * per_unit);
    }
    if covered * QUEUES_PER_READ_UNIT < 2 * scanned {
        return Resolve::Fetch;
    }
    // Enough of the listing for the wanted candidates at the density seen, and a margin.
    let estimate = (wanted as f64 * scanned as f64 / covered as f64 * 1.2) as usize + 10;
    Resolve::Range(estimate.min(per_unit * wanted).clamp(per_unit, MAX_QUERY_LIMIT))
}

impl DynamoStore {
    /// `GET /queues?q=…` through the queue name index. The partition of one piece of the needle lists, in the order
    /// of the listing, every queue whose name contains that piece (with its channel); entries whose name contains the
    /// whole needle (and of the asked channel and integration) are the candidates. Each run of candidates is resolved
    /// the cheaper way ([`resolve`]): where they are dense, the listing's range from the first to the last of them is
    /// read with the full filter — exactly what the full read returns there, for at most what it reads there;
    /// where they are sparse, they are read alone with BatchGetItem and checked against the whole predicate (an entry
    /// whose queue is gone or was renamed since is skipped). The stretches without a candidate are not read at all.
    /// Reads: the small index entries up to the page's last candidate, and about what the page returns.
    async fn list_queues_by_name_index(
        &self,
        tenant: &TenantId,
        query_filter: &QueueQuery,
        gram: &str,
        limit: usize,
        after: Option<&str>,
    ) -> Result<QueuePage, StoreError> {
        let needle = query_filter.text.as_ref().map(|t| t.needle.as_str()).unwrap_or_default();
        let index_pk = items::queue_search_pk(tenant, gram);
        let listing_pk = items::queues_gsi_pk(tenant);
        let filter = queue_filter(query_filter);
        let mut out = Vec::<QueueRecord>::new();
        let mut pending = std::collections::VecDeque::<(String, QueueId)>::new();
        // Index reading: where the next Query starts, whether the partition is read to its end, what it held.
        let (mut index_start, mut index_done) = (None::<Item>, false);
        let (mut index_read, mut index_candidates) = (0u64, 0u64);
        // Everything up to this sort key has been looked at (the cursor if a long page must end early).
        let mut resolved_to: Option<String> = None;
        // Range reads of this page: listing items read, candidates they covered.
        let (mut scanned, mut covered) = (0u64, 0u64);
        let mut evaluated = 0u64;
        loop {
            let wanted = limit + 1 - out.len();
            // Enough candidates for the rest of the page, or the whole partition.
            // (A page that has read a lot ends early below, once something is looked at.)
            while pending.len() < wanted
                && !index_done
                && (evaluated < MAX_ITEMS_EVALUATED_PER_PAGE || (resolved_to.is_none() && pending.is_empty()))
            {
                let index_limit = next_limit(wanted - pending.len(), index_read, index_candidates, true);
                let mut builder = self
                    .client
                    .query()
                    .table_name(&self.table)
                    .expression_attribute_values(":pk", s(index_pk.clone()))
                    .limit(i32::try_from(index_limit.min(INDEX_QUERY_LIMIT)).unwrap_or(i32::MAX))
                    .set_exclusive_start_key(index_start.take());
                builder = match after {
                    Some(after) => builder
                        .key_condition_expression("PK = :pk AND SK > :after")
                        .expression_attribute_values(":after", s(after)),
                    None => builder.key_condition_expression("PK = :pk"),
                };
                let page = query(builder, "queue name index", 90).await?;
                let read = page.scanned_count().max(0) as u64;
                (index_read, evaluated) = (index_read + read, evaluated + read);
                index_start = more(&page);
                index_done = index_start.is_none();
                for entry in page.items() {
                    let Some(sort_key) = entry.get(SK).and_then(|v| v.as_s().ok()) else { continue };
                    let Some((name, id)) = items::parse_queue_sort_key(sort_key) else { continue };
                    let channel = entry.get(items::SEARCH_CHANNEL).and_then(|v| v.as_s().ok());
                    // A name cut to fit the key is checked against the stored name ([`items::queues_gsi_sk`]).
                    let candidate = (name.contains(needle) || items::sort_key_name_cut(sort_key))
                        && query_filter.integration_id.is_none_or(|i| i == id.integration_id)
                        && query_filter.channel.is_none_or(|c| channel.is_none_or(|stored| stored == c.as_str()));
                    if candidate {
                        index_candidates += 1;
                        pending.push_back((sort_key.clone(), id));
                    } else if pending.is_empty() {
                        resolved_to = Some(sort_key.clone());
                    }
                }
            }
            if pending.is_empty() && index_done {
                return Ok(QueuePage { items: out, next_after: None });
            }
            if evaluated >= MAX_ITEMS_EVALUATED_PER_PAGE
                && let Some(next_after) = resolved_to.clone()
            {
                tracing::warn!(evaluated, returned = out.len(), "queue page ended early after a long read");
                return Ok(QueuePage { items: out, next_after: Some(next_after) });
            }
            // Not empty here: an empty one with more of the partition to read has `resolved_to` (see the loop above).
            let Some(first) = pending.front().map(|(k, _)| k.clone()) else { continue };
            let run = wanted.min(pending.len());
            match resolve(run, scanned, covered) {
                Resolve::Range(range_limit) => {
                    let last = pending[run - 1].0.clone();
                    let builder = self
                        .client
                        .query()
                        .table_name(&self.table)
                        .index_name(GSI1)
                        .key_condition_expression("GSI1PK = :pk AND GSI1SK BETWEEN :first AND :last")
                        .expression_attribute_values(":pk", s(listing_pk.clone()))
                        .expression_attribute_values(":first", s(first))
                        .expression_attribute_values(":last", s(last.clone()))
                        .limit(i32::try_from(range_limit).unwrap_or(i32::MAX));
                    let page = query(filter.apply(builder), "queues (name index range)", TYPICAL_QUEUE_BYTES).await?;
                    let read = page.scanned_count().max(0) as u64;
                    (scanned, evaluated) = (scanned + read, evaluated + read);
                    // Read up to the last key evaluated (all of the range when no key is left).
                    let through = more(&page).and_then(|k| k.get(GSI1SK).and_then(|v| v.as_s().ok()).cloned());
                    let through = through.unwrap_or(last);
                    while pending.front().is_some_and(|(k, _)| *k <= through) {
                        pending.pop_front();
                        covered += 1;
                    }
                    resolved_to = Some(through);
                    for item in page.items.unwrap_or_default() {
                        let Some(queue) = readable::<QueueItem>(item, "queue").map(queue_record) else { continue };
                        if query_filter.matches(&queue) {
                            out.push(queue);
                        }
                    }
                }
                Resolve::Fetch => {
                    let batch: Vec<(String, QueueId)> = pending.drain(..run.min(MAX_BATCH_GET)).collect();
                    evaluated += batch.len() as u64;
                    let found = self.get_queues(tenant, batch.iter().map(|(_, id)| id)).await?;
                    for (sort_key, id) in &batch {
                        let Some(queue) = found.get(id) else { continue };
                        if queue.sort_key == *sort_key && query_filter.matches(queue) {
                            out.push(queue.clone());
                        }
                    }
                    resolved_to = batch.last().map(|(k, _)| k.clone());
                }
            }
            if out.len() > limit {
                out.truncate(limit);
                let next_after = out.last().map(|q| q.sort_key.clone());
                return Ok(QueuePage { items: out, next_after });
            }
        }
    }

    /// Queue items by id (BatchGetItem, eventually consistent, unprocessed keys retried), unreadable ones left out.
    /// Each id is asked once: a queue whose old and new name entries both matched comes twice, and DynamoDB refuses a
    /// batch that names a key twice.
    async fn get_queues<'a>(
        &self,
        tenant: &TenantId,
        ids: impl Iterator<Item = &'a QueueId>,
    ) -> Result<HashMap<QueueId, QueueRecord>, StoreError> {
        let mut asked = HashSet::new();
        let keys: Vec<Item> = ids.filter(|id| asked.insert(*id)).map(|id| queue_key(tenant, id)).collect();
        let mut pending = Some(
            KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .build()
                .map_err(|e| StoreError::Backend(format!("BatchGetItem(queues): {e}")))?,
        );
        let mut found = HashMap::new();
        let mut attempt = 0u32;
        while let Some(request) = pending.take() {
            if attempt > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(25u64 << attempt.min(6))).await;
            }
            attempt += 1;
            let out = self
                .client
                .batch_get_item()
                .request_items(&self.table, request)
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await
                .map_err(|e| sdk_error("BatchGetItem(queues)", e))?;
            let items = out.responses.and_then(|mut r| r.remove(&self.table)).unwrap_or_default();
            cost::record(ReadCost {
                calls: 1,
                consumed_units: out.consumed_capacity.iter().flatten().filter_map(|c| c.capacity_units()).sum(),
                scanned_items: items.len() as u64,
                returned_items: items.len() as u64,
                // Each item of a BatchGetItem is its own read: rounded up to 4 KB separately.
                estimated_units: items.iter().map(|i| estimate_units(item_bytes(i), false)).sum(),
            });
            for item in items {
                if let Some(queue) = readable::<QueueItem>(item, "queue").map(queue_record) {
                    found.insert(queue.queue_id.clone(), queue);
                }
            }
            pending = out.unprocessed_keys.and_then(|mut u| u.remove(&self.table)).filter(|k| !k.keys().is_empty());
            if pending.is_some() && attempt >= 8 {
                return Err(StoreError::Backend(
                    "BatchGetItem(queues): keys still unprocessed after 8 attempts".into(),
                ));
            }
        }
        Ok(found)
    }
}

/// The `Limit` of the listing's next Query, `wanted` items still to find after `evaluated` items read, `matched` of
/// them kept. DynamoDB always filters the listing ([`queue_filter`]: queues awaiting traffic, and inactive ones unless
/// asked for), so the `Limit` follows the share kept so far ([`next_limit`]): a `Limit` of the items still wanted
/// would read a tenant's thousands of inactive queues a page's size at a time, and ever fewer items per Query as the
/// page fills (until 2026-12-07: 106 Queries for a page of 100 spread among 2,000 inactive, now 3). Without a
/// channel, integration or text filter most queues are usually kept: the first Query asks for the page alone (one
/// item more), what the common page reads anyway; only then does the `Limit` grow.
fn listing_limit(query: &QueueQuery, wanted: usize, evaluated: u64, matched: u64) -> usize {
    let narrowed = query.channel.is_some() || query.integration_id.is_some() || query.text.is_some();
    if evaluated == 0 && !narrowed { wanted } else { next_limit(wanted, evaluated, matched, true) }
}

pub(super) async fn list_queues(
    store: &DynamoStore,
    tenant: &TenantId,
    query_filter: &QueueQuery,
    limit: usize,
    after: Option<&str>,
) -> Result<QueuePage, StoreError> {
    if let Some(gram) = search_gram(query_filter) {
        return store.list_queues_by_name_index(tenant, query_filter, &gram, limit, after).await;
    }
    let filter = queue_filter(query_filter);
    let pk = items::queues_gsi_pk(tenant);
    let (mut out, mut start, mut evaluated) = (Vec::<QueueRecord>::new(), None::<Item>, 0u64);
    loop {
        let wanted = limit + 1 - out.len();
        let mut builder = store
            .client
            .query()
            .table_name(&store.table)
            .index_name(GSI1)
            .expression_attribute_values(":pk", s(pk.clone()))
            .limit(i32::try_from(listing_limit(query_filter, wanted, evaluated, out.len() as u64)).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start.take());
        builder = match after {
            Some(after) => builder
                .key_condition_expression("GSI1PK = :pk AND GSI1SK > :after")
                .expression_attribute_values(":after", s(after)),
            None => builder.key_condition_expression("GSI1PK = :pk"),
        };
        let page = query(filter.apply(builder), "queues", TYPICAL_QUEUE_BYTES).await?;
        evaluated += page.scanned_count().max(0) as u64;
        let next = more(&page);
        for item in page.items.unwrap_or_default() {
            let Some(queue) = readable::<QueueItem>(item, "queue").map(queue_record) else { continue };
            if !query_filter.matches(&queue) {
                continue;
            }
            out.push(queue);
            if out.len() > limit {
                out.truncate(limit);
                let next_after = out.last().map(|q| q.sort_key.clone());
                return Ok(QueuePage { items: out, next_after });
            }
        }
        match next {
            None => return Ok(QueuePage { items: out, next_after: None }),
            Some(k) if evaluated >= MAX_ITEMS_EVALUATED_PER_PAGE => {
                // Everything up to the last key read has been looked at: continue after it.
                let next_after = k.get(GSI1SK).and_then(|v| v.as_s().ok()).cloned();
                tracing::warn!(evaluated, returned = out.len(), "queue page ended early after a long read");
                return Ok(QueuePage { items: out, next_after });
            }
            Some(k) => start = Some(k),
        }
    }
}

pub(super) async fn get_queue(
    store: &DynamoStore,
    tenant: &TenantId,
    id: &QueueId,
) -> Result<Option<QueueRecord>, StoreError> {
    let builder = store
        .client
        .get_item()
        .table_name(&store.table)
        .set_key(Some(key(keys::integration_pk(tenant, id.integration_id), keys::queue_sk(&id.external_id))));
    // Strongly consistent (one read unit, not half): see the port.
    let out = get(builder, "queue", true).await?;
    out.item
        .map(|item| from_item::<QueueItem>(item).map(queue_record))
        .transpose()
        .map_err(|e| StoreError::Corrupt(format!("queue item: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use acd_app::query::TextFilter;
    use std::collections::BTreeSet;

    #[test]
    fn text_prefilter_lists_ids_only_while_they_fit() {
        let ids: BTreeSet<IntegrationId> = (0..3).map(|_| IntegrationId::new()).collect();
        let first = *ids.iter().next().unwrap();
        let query = QueueQuery {
            text: Some(TextFilter {
                needle: "sales".into(),
                matching_integrations: [first].into_iter().collect(),
                current_integrations: ids.clone(),
                indexed: false,
            }),
            ..Default::default()
        };
        let f = queue_filter(&query);
        let expression = f.expression().unwrap();
        assert!(
            expression.starts_with(
                "(attribute_not_exists(#once_seen) OR attribute_exists(#data_from)) AND #active = :active AND \
                 (contains(#name_lower, :needle) OR #integration IN (:m0)"
            ),
            "{expression}"
        );
        assert!(expression.ends_with("NOT (#integration IN (:c0, :c1, :c2)))"), "{expression}");
        assert_eq!(f.values.len(), 1 + 1 + 1 + 3);

        let many: BTreeSet<IntegrationId> = (0..101).map(|_| IntegrationId::new()).collect();
        let query = QueueQuery {
            include_inactive: true,
            text: Some(TextFilter {
                needle: "x".into(),
                matching_integrations: BTreeSet::new(),
                current_integrations: many,
                indexed: false,
            }),
            ..Default::default()
        };
        let f = queue_filter(&query);
        let only_seen = "(attribute_not_exists(#once_seen) OR attribute_exists(#data_from))";
        assert_eq!(f.expression().as_deref(), Some(only_seen), "too many ids: exact predicate only");
        let mut names: Vec<&str> = f.names.keys().map(String::as_str).collect();
        names.sort_unstable();
        assert_eq!(names, ["#data_from", "#once_seen"], "DynamoDB refuses unused attribute names");

        // A tenant without integrations: no id list, no unused name (found by scripts/fuzz-api: `GET /queues?q=x`).
        let query = QueueQuery {
            text: Some(TextFilter {
                needle: "x".into(),
                matching_integrations: BTreeSet::new(),
                current_integrations: BTreeSet::new(),
                indexed: false,
            }),
            ..Default::default()
        };
        let f = queue_filter(&query);
        let expression = f.expression().unwrap_or_default();
        for name in f.names.keys() {
            assert!(expression.contains(name.as_str()), "{name} unused in {expression:?}");
        }
    }

    #[test]
    fn listing_queries_grow_with_the_share_the_filter_keeps_even_without_a_filter_asked_for() {
        let all = QueueQuery::default();
        assert_eq!(listing_limit(&all, 101, 0, 0), 101, "first Query: the page and one more");
        assert_eq!(listing_limit(&all, 96, 101, 5), 2_000, "one in 20 kept: the rest of the page at that share");
        assert_eq!(listing_limit(&all, 101, 101, 0), 202, "none kept: twice what was read");
        assert_eq!(listing_limit(&all, 2, 200, 99), 14, "almost full: a margin, not 2 items at a time");
        let inactive_too = QueueQuery { include_inactive: true, ..Default::default() };
        assert_eq!(listing_limit(&inactive_too, 6, 100, 95), 17, "awaiting traffic is filtered out too");
        let chats = QueueQuery { channel: Some(acd_domain::Channel::Chats), ..Default::default() };
        assert_eq!(listing_limit(&chats, 101, 0, 0), 404, "a channel: a wider first Query");
    }

    #[test]
    fn the_name_index_reads_the_rarest_piece_and_only_when_it_can_answer() {
        let q = |needle: &str, indexed: bool, matching: bool, include_inactive: bool| QueueQuery {
            include_inactive,
            text: Some(TextFilter {
                needle: needle.into(),
                matching_integrations: if matching { [IntegrationId::new()].into() } else { BTreeSet::new() },
                current_integrations: BTreeSet::new(),
                indexed,
            }),
            ..Default::default()
        };
        assert_eq!(search_gram(&q("0012", true, false, false)).as_deref(), Some("012"));
        assert_eq!(search_gram(&q("sales", true, false, false)).as_deref(), Some("sal"));
        assert_eq!(search_gram(&q("réclam", true, false, false)).as_deref(), Some("écl"));
        assert_eq!(search_gram(&q("ab", true, false, false)), None, "shorter than a piece");
        assert_eq!(search_gram(&q("sales", false, false, false)), None, "an integration not indexed");
        assert_eq!(search_gram(&q("sales", true, true, false)), None, "an integration name matches");
        assert_eq!(search_gram(&q("sales", true, false, true)), None, "inactive queues asked for");
        assert_eq!(search_gram(&QueueQuery::default()), None);
    }

    #[test]
    fn candidates_are_read_alone_only_where_they_are_sparser_than_a_read_unit_of_the_listing() {
        assert_eq!(resolve(1, 0, 0), Resolve::Fetch, "one candidate: one read unit either way");
        assert_eq!(resolve(50, 0, 0), Resolve::Range(18), "nothing seen: a short probe");
        assert_eq!(resolve(50, 18, 1), Resolve::Fetch, "one in 18: reading them alone is cheaper");
        assert_eq!(resolve(50, 18, 18), Resolve::Range(70), "contiguous: the range for 50, a margin");
        assert_eq!(resolve(50, 90, 10), Resolve::Fetch, "one in 9: even, so the cheaper risk");
        assert_eq!(resolve(50, 90, 20), Resolve::Range(280), "one in 4.5: the range");
        assert_eq!(resolve(10, 90, 20), Resolve::Range(64), "the range's estimate");
        assert_eq!(resolve(1, 900, 900), Resolve::Range(QUEUES_PER_READ_UNIT as usize), "no more than fetching");
        assert_eq!(resolve(5_000, 18, 9), Resolve::Range(MAX_QUERY_LIMIT), "capped");
    }
}
