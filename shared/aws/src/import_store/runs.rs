//! What a run leaves behind: its run record (listed by `GET …/runs`) and the integration's status.

use acd_app::import::RunRecord;
use acd_app::ports::{RunPage, StatusWrite, StoreError};
use acd_domain::{IntegrationId, IntegrationState, IntegrationStatus, TenantId};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_dynamo::aws_sdk_dynamodb_1::to_attribute_value;

use super::{DynamoImportStore, de, key, ser};
use crate::dynamo::{is_conditional_failure, s};
use crate::items;
use crate::keys::{self, PK, SK, integration_pk};
use crate::sdk_error;

/// The integration record's attribute of [`acd_domain::Integration::failing_since`].
const FAILING_SINCE: &str = "failing_since";

/// Runs are kept this long (DynamoDB TTL on `ttl`).
const RUN_RETENTION_DAYS: i64 = 90;

#[derive(Serialize, Deserialize)]
struct RunItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    entity: String,
    ttl: i64,
    #[serde(flatten)]
    run: RunRecord,
}

pub(super) async fn record_run(store: &DynamoImportStore, run: &RunRecord) -> Result<(), StoreError> {
    let item = ser(RunItem {
        pk: integration_pk(&run.tenant_id, run.integration_id),
        sk: items::run_sk(run),
        entity: "run".into(),
        ttl: (run.started_at + Duration::days(RUN_RETENTION_DAYS)).timestamp(),
        run: run.clone(),
    })?;
    store.put(item, "PutItem(run)").await
}

/// The status and `failing_since` (see [`acd_app::ports::ImportStore::save_status`]) in one UpdateItem, with the
/// conditions of every status write: the record exists, is not being deleted and is not paused. A failing status
/// writes `failing_since` with `if_not_exists`, and the stored one comes back with the answer (`UPDATED_NEW`).
pub(super) async fn set_status(
    store: &DynamoImportStore,
    tenant: &TenantId,
    id: IntegrationId,
    status: &IntegrationStatus,
    failing_since: Option<DateTime<Utc>>,
) -> Result<StatusWrite, StoreError> {
    // A simulated crash falls on the status write too (since 2026-12-07 it is made when the run's record failed).
    store.crash_point()?;
    let value = to_attribute_value(status).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let mut update = store
        .client
        .update_item()
        .table_name(&store.table)
        .set_key(Some(key(keys::tenant_pk(tenant), keys::integration_sk(id))))
        .condition_expression(
            "attribute_exists(PK) AND attribute_not_exists(deleting_at) AND #status.#state <> :paused",
        )
        .expression_attribute_names("#status", "status")
        .expression_attribute_names("#state", "state")
        .expression_attribute_values(":status", value)
        .expression_attribute_values(":one", AttributeValue::N("1".into()))
        .expression_attribute_values(":paused", s("paused"));
    let failing = status.state == IntegrationState::Failing;
    update = match failing_since {
        Some(since) if failing => {
            let since = to_attribute_value(since).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            update
                .update_expression(
                    "SET #status = :status, version = version + :one, \
                     #failing_since = if_not_exists(#failing_since, :failing_since)",
                )
                .expression_attribute_names("#failing_since", FAILING_SINCE)
                .expression_attribute_values(":failing_since", since)
        }
        None if failing => update.update_expression("SET #status = :status, version = version + :one"),
        _ => update
            .update_expression("SET #status = :status, version = version + :one REMOVE #failing_since")
            .expression_attribute_names("#failing_since", FAILING_SINCE),
    };
    let update = update.return_values(ReturnValue::UpdatedNew);
    match update.send().await {
        Ok(out) => match out.attributes.as_ref().and_then(|a| a.get(FAILING_SINCE)) {
            Some(stored) if failing => serde_dynamo::from_attribute_value(stored.clone())
                .map(|since| StatusWrite::Applied { failing_since: Some(since) })
                .map_err(|e| StoreError::Corrupt(format!("failing_since: {e}"))),
            _ => Ok(StatusWrite::Applied { failing_since: None }),
        },
        // Deleted (or deleting) or paused while the run was going: the record stays as the admin made it.
        Err(e) if is_conditional_failure(&e) => Ok(StatusWrite::Refused),
        Err(e) => Err(sdk_error("UpdateItem(status)", e)),
    }
}

pub(super) async fn list_runs(
    store: &DynamoImportStore,
    tenant: &TenantId,
    id: IntegrationId,
    limit: usize,
    before: Option<String>,
) -> Result<RunPage, StoreError> {
    let pk = integration_pk(tenant, id);
    let mut q = crate::dynamo::prefix_query(&store.client, &store.table, pk.clone(), items::RUN_SK_PREFIX)
        .scan_index_forward(false)
        .limit(i32::try_from(limit + 1).unwrap_or(i32::MAX));
    if let Some(before) = before {
        // Only a run's sort key may reach the table as a key.
        if !items::is_run_sk(&before) {
            return Err(StoreError::NotFound);
        }
        q = q.exclusive_start_key(PK, s(pk)).exclusive_start_key(SK, s(before));
    }
    let out = q.send().await.map_err(|e| sdk_error("Query(runs)", e))?;
    // A page also ends at DynamoDB's 1 MB with fewer items than asked for (large warnings or gaps): the listing
    // goes on after the last run returned (until 2026-12-07 such a page was taken for the last one).
    let cut = out.last_evaluated_key.as_ref().is_some_and(|k| !k.is_empty());
    let mut runs: Vec<RunItem> = de(out.items.unwrap_or_default(), "run")?;
    let more = runs.len() > limit || cut;
    runs.truncate(limit);
    let next = if more { runs.last().map(|r| items::run_sk(&r.run)) } else { None };
    Ok(RunPage { runs: runs.into_iter().map(|r| r.run).collect(), next })
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::operation::query::QueryOutput;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    use super::*;

    #[tokio::test]
    async fn a_page_cut_at_one_megabyte_lists_on_after_its_last_run() {
        let (tenant, id) = (TenantId::parse("acme").unwrap(), IntegrationId::new());
        let run = |minute: i64| {
            let started = DateTime::<Utc>::UNIX_EPOCH + Duration::days(20_000) - Duration::minutes(minute);
            let record = RunRecord::started(acd_domain::RunId::new(), tenant.clone(), id, started);
            let sk = items::run_sk(&record);
            let item = RunItem { pk: integration_pk(&tenant, id), sk, entity: "run".into(), ttl: 0, run: record };
            ser(item).unwrap()
        };
        let (newer, older) = (run(0), run(15));
        let last_sk = older[SK].clone();
        let page = move || {
            QueryOutput::builder()
                .items(newer.clone())
                .items(older.clone())
                .last_evaluated_key(PK, s(integration_pk(&tenant, id)))
                .last_evaluated_key(SK, last_sk.clone())
                .build()
        };
        let rule = mock!(aws_sdk_dynamodb::Client::query).then_output(page);
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&rule]);
        let store = DynamoImportStore::new(client, "t".into());
        let listed = list_runs(&store, &TenantId::parse("acme").unwrap(), id, 5, None).await.unwrap();
        assert_eq!(listed.runs.len(), 2);
        assert_eq!(listed.next, Some(items::run_sk(&listed.runs[1])), "the listing goes on after the cut");
    }
}
