//! Reads of imported data: interval statistics, completeness, mapped agents, agent-state segments, statuses.

use acd_app::mappings::ExternalStatusRecord;
use acd_app::ports::{Page, StoreError};
use acd_app::query::{AgentsFrom, Completeness, IntervalRecord, MappedAgent, SegmentRecord};
use acd_domain::{INTERVAL_MINUTES, IntegrationId, QueueId, TenantId};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, Utc};

use super::mappings::status_record;
use super::reads::{TYPICAL_AGENT_BYTES, get, key, more, query};
use crate::buckets::{self, IntervalEntry, SegmentEntry};
use crate::dynamo::{DynamoStore, s};
use crate::items::{self, AgentItem, MAX_SEGMENT_HOURS, STATE_SK, STATUS_SK_PREFIX, StatusItem};
use crate::keys::{self, GSI1};
use serde_dynamo::aws_sdk_dynamodb_1::from_item;

pub(super) async fn intervals(
    store: &DynamoStore,
    tenant: &TenantId,
    id: &QueueId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<IntervalRecord>, StoreError> {
    let last = to - Duration::minutes(INTERVAL_MINUTES);
    if last < from {
        return Ok(Vec::new());
    }
    // Single items from `from`'s, and hour buckets from `from`'s hour: the hour's bucket key sorts just before its
    // single items (crate::buckets), so one Query reads both forms.
    let (lower, upper) = (items::interval_sk(from), items::interval_sk(last));
    let builder = store
        .client
        .query()
        .table_name(&store.table)
        .key_condition_expression("PK = :pk AND SK BETWEEN :from AND :last")
        // Strongly consistent: the completeness read before it must not meet older intervals
        // (`QueryService::intervals`).
        .consistent_read(true)
        .expression_attribute_values(":pk", s(items::queue_data_pk(tenant, id)))
        .expression_attribute_values(":from", s(buckets::interval_bucket_sk(from)))
        .expression_attribute_values(":last", s(upper.clone()));
    let entries: Vec<IntervalEntry> = buckets::read_entries(store.query_all(builder, "intervals").await?)?;
    Ok(entries
        .into_iter()
        // What the single items' key range selects: a bucket's hour may start before `from`.
        .filter(|i| (lower.as_str()..=upper.as_str()).contains(&items::interval_sk(i.start).as_str()))
        .map(|i| IntervalRecord {
            start: i.start,
            offered: i.offered,
            handled: i.handled,
            abandoned: i.abandoned,
            handle_ms: i.handle_ms,
            answer_ms: i.answer_ms,
            answered_within_sl: i.sl,
        })
        .collect())
}

pub(super) async fn completeness(
    store: &DynamoStore,
    tenant: &TenantId,
    integration: IntegrationId,
) -> Result<Completeness, StoreError> {
    let builder = store
        .client
        .get_item()
        .table_name(&store.table)
        .set_key(Some(key(keys::integration_pk(tenant, integration), STATE_SK.to_owned())))
        .projection_expression("complete_from, complete_through");
    let out = get(builder, "import state", false).await?;
    let time = |name: &str| match out.item.as_ref().and_then(|i| i.get(name)) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(AttributeValue::S(raw)) => DateTime::parse_from_rfc3339(raw)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|e| StoreError::Corrupt(format!("{name} {raw:?}: {e}"))),
        Some(other) => Err(StoreError::Corrupt(format!("{name} is not a string: {other:?}"))),
    };
    Ok(Completeness { from: time("complete_from")?, through: time("complete_through")? })
}

/// Up to `limit` mapped agents in index order from `from`. With `employee`, the index prefix `{employee}#`: it also
/// holds the mappings of employees whose ids begin `{employee}#` (ids may contain `#`, and no key range of the
/// stored layout `{employee}#{integration}#{external id}` separates them), returned too; the service drops them
/// and counts them in its page's read bound (`acd_app::query::MAX_STATE_ITEMS_READ_PER_PAGE`).
pub(super) async fn mapped_agents(
    store: &DynamoStore,
    tenant: &TenantId,
    employee: Option<&str>,
    from: Option<&AgentsFrom>,
    limit: usize,
) -> Result<Page<MappedAgent>, StoreError> {
    let position =
        from.map(|f| items::employees_gsi_sk(&f.agent.employee_id, f.agent.integration_id, &f.agent.external_id));
    let exclusive = from.filter(|f| !f.inclusive).and(position.clone());
    let mut builder = store
        .client
        .query()
        .table_name(&store.table)
        .index_name(GSI1)
        .expression_attribute_values(":pk", s(items::employees_gsi_pk(tenant)))
        .limit(i32::try_from(limit + 1).unwrap_or(i32::MAX));
    builder = match (employee, &position) {
        (None, None) => builder.key_condition_expression("GSI1PK = :pk"),
        (None, Some(position)) => builder
            .key_condition_expression(if exclusive.is_some() {
                "GSI1PK = :pk AND GSI1SK > :from"
            } else {
                "GSI1PK = :pk AND GSI1SK >= :from"
            })
            .expression_attribute_values(":from", s(position.clone())),
        (Some(employee), position) => {
            let prefix = format!("{employee}#");
            let lower = position.clone().filter(|p| *p > prefix).unwrap_or(prefix.clone());
            let upper = format!("{prefix}{}", char::MAX);
            if lower > upper {
                return Ok(Page { items: Vec::new(), more: false, resume_after: None });
            }
            builder
                .key_condition_expression("GSI1PK = :pk AND GSI1SK BETWEEN :lower AND :upper")
                .expression_attribute_values(":lower", s(lower))
                .expression_attribute_values(":upper", s(upper))
        }
    };
    let page = query(builder, "mapped agents", TYPICAL_AGENT_BYTES).await?;
    let has_more = more(&page).is_some();
    let mut agents = Vec::new();
    for item in page.items.unwrap_or_default() {
        // Strict, as the mapping routes' writes and the gaps read them: an agent left out would lose its states from the answer without a
        // word, and a round of only such items would end the listing (`more` with nothing to resume after).
        let agent: AgentItem = from_item(item).map_err(|e| StoreError::Corrupt(format!("mapped agent item: {e}")))?;
        if exclusive.is_some() && agent.gsi1sk.as_ref() == exclusive.as_ref() {
            continue;
        }
        if let Some(employee_id) = agent.employee_id {
            agents.push(MappedAgent {
                employee_id,
                integration_id: agent.integration_id,
                external_id: agent.external_id,
            });
        }
    }
    let more = has_more || agents.len() > limit;
    agents.truncate(limit);
    Ok(Page { items: agents, more, resume_after: None })
}

pub(super) async fn segments(
    store: &DynamoStore,
    tenant: &TenantId,
    integration: IntegrationId,
    agent_external_id: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    not_before: Option<DateTime<Utc>>,
) -> Result<Vec<SegmentRecord>, StoreError> {
    let lower_time = (from - Duration::hours(MAX_SEGMENT_HOURS)).max(not_before.unwrap_or(DateTime::<Utc>::MIN_UTC));
    if lower_time > to {
        // BETWEEN with its bounds reversed is a DynamoDB validation error; nothing can be in between.
        return Ok(Vec::new());
    }
    // As for intervals: from `lower_time`'s hour, so that the bucket of that hour is read with the single items.
    let (lower, upper) = (items::segment_sk(lower_time), items::segment_sk(to));
    let builder = store
        .client
        .query()
        .table_name(&store.table)
        .key_condition_expression("PK = :pk AND SK BETWEEN :lower AND :upper")
        .expression_attribute_values(":pk", s(items::segment_pk(tenant, integration, agent_external_id)))
        .expression_attribute_values(":lower", s(buckets::segment_bucket_sk(lower_time)))
        .expression_attribute_values(":upper", s(upper.clone()));
    let entries: Vec<SegmentEntry> = buckets::read_entries(store.query_all(builder, "segments").await?)?;
    Ok(entries
        .into_iter()
        .filter(|e| (lower.as_str()..=upper.as_str()).contains(&items::segment_sk(e.start).as_str()))
        .map(|e| SegmentRecord { start: e.start, end: e.end, status_id: e.status_id, reason: e.reason })
        .collect())
}

pub(super) async fn statuses(
    store: &DynamoStore,
    tenant: &TenantId,
    integration: IntegrationId,
) -> Result<Vec<ExternalStatusRecord>, StoreError> {
    let builder = crate::dynamo::prefix_query(
        &store.client,
        &store.table,
        keys::integration_pk(tenant, integration),
        STATUS_SK_PREFIX,
    );
    // Strict: a status left out would answer its mapped segments as the default activity (a lunch as `present`).
    store
        .query_all(builder, "statuses")
        .await?
        .into_iter()
        .map(|item| {
            from_item::<StatusItem>(item)
                .map(status_record)
                .map_err(|e| StoreError::Corrupt(format!("status item: {e}")))
        })
        .collect()
}
