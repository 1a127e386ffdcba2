//! Shared by the query and mapping suites and the `bench_queries` example: a moto stack with the integrations
//! API (to create and delete integrations) and the queues-query API, and imported data written directly through
//! the item shapes of `acd_aws::items` (the contract with the import).

#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use acd_app::http::TenantAuth;
use acd_app::http::integrations::IntegrationsApi;
use acd_app::http::queries::QueriesApi;
use acd_app::query::cost::ReadCost;
use acd_aws::items::{self, AgentItem, IntervalItem, QueueItem, SegmentItem, StatusItem};
use acd_aws::{buckets, keys, wiring};
use acd_domain::{Channel, IntegrationId, QueueId, TenantId};
use acd_integration_tests::openapi::spec;
use acd_integration_tests::{FakeAcd, api_request, decode, through_api_gateway};
use acd_test_harness::AwsStack;
use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use chrono::{DateTime, TimeZone, Utc};
use futures::StreamExt;
use serde_json::{Value, json};

pub type Item = HashMap<String, AttributeValue>;

pub struct Env {
    pub stack: AwsStack,
    pub api: QueriesApi,
    pub integrations: IntegrationsApi,
}

impl Env {
    pub async fn start() -> Env {
        let stack = AwsStack::start().await;
        let auth = TenantAuth::JwtClaim(TenantAuth::DEFAULT_CLAIM.into());
        let api = wiring::queues_query_api(&stack.settings, &stack.clients, auth.clone());
        let integrations = wiring::integrations_api(&stack.settings, &stack.clients, Arc::new(FakeAcd), auth);
        Env { stack, api, integrations }
    }

    /// Calls the queues-query handler through API Gateway (its own 404 for a request of no route) and checks the
    /// answer against the OpenAPI spec.
    pub async fn call(&self, method: &str, path: &str, tenant: Option<&str>, body: Option<&Value>) -> (u16, Value) {
        let answer = through_api_gateway(method, path, tenant, body, |r| self.api.handle(r)).await;
        let (status, content_type, body) = decode(answer);
        spec().check(method, path, status, &content_type, &body);
        (status, body)
    }

    /// A GET that must succeed.
    pub async fn get(&self, path: &str, tenant: &str) -> Value {
        let (status, body) = self.call("GET", path, Some(tenant), None).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    /// A call that must be a 400 naming exactly `fields`.
    pub async fn bad(&self, method: &str, path: &str, tenant: &str, body: Option<&Value>, fields: &[&str]) {
        let (status, problem) = self.call(method, path, Some(tenant), body).await;
        assert_eq!(status, 400, "{method} {path}: {problem}");
        assert!(["validation-failed", "invalid-json"].contains(&problem["code"].as_str().unwrap()), "{problem}");
        let mut named: Vec<&str> = problem["errors"]
            .as_array()
            .map(|e| e.iter().map(|e| e["field"].as_str().unwrap()).collect())
            .unwrap_or_default();
        named.sort();
        let mut expected = fields.to_vec();
        expected.sort();
        assert_eq!(named, expected, "{method} {path}: {problem}");
    }

    /// The handler's answer and what it read from DynamoDB.
    pub async fn measured(&self, path: &str, tenant: &str) -> (u16, Value, ReadCost) {
        let (response, cost) = self.api.handle_measured(api_request("GET", path, Some(tenant), None)).await;
        let (status, content_type, body) = decode(response);
        spec().check("GET", path, status, &content_type, &body);
        (status, body, cost)
    }

    /// Calls the integrations API (spec-checked).
    pub async fn admin(&self, method: &str, path: &str, tenant: &str, body: Option<&Value>) -> (u16, Value) {
        let (status, content_type, body) =
            decode(self.integrations.handle(api_request(method, path, Some(tenant), body)).await);
        spec().check(method, path, status, &content_type, &body);
        (status, body)
    }

    /// Creates an integration through the integrations API.
    pub async fn create_integration(&self, tenant: &str, name: &str) -> IntegrationId {
        let body = json!({
            "name": name,
            "type": "genesys_cloud",
            "credentials": {"client_id": "client", "client_secret": "secret"},
            "settings": {"region": "eu_central_1"}
        });
        let (status, created) = self.admin("POST", "/integrations", tenant, Some(&body)).await;
        assert_eq!(status, 201, "{created}");
        created["id"].as_str().unwrap().parse().unwrap()
    }

    pub async fn put_items(&self, items: Vec<Item>) {
        put_items(self.stack.clients.dynamodb(), &self.stack.settings.table_name, items).await;
    }

    /// Queues written as the import writes them since the queue name index: index items first, then the queue
    /// items flagged `search_indexed`, then each integration's record marked (`acd_aws::items::SEARCH_INDEXED`).
    pub async fn put_indexed_queues(&self, queues: Vec<QueueItem>) {
        let mut index = Vec::new();
        for q in &queues {
            let t = TenantId::parse(q.pk.trim_start_matches("T#").split('#').next().unwrap()).unwrap();
            index.extend(items::queue_search_items(&t, &q.name, &q.queue_id, q.channel));
        }
        self.put_items(index).await;
        let integrations: std::collections::BTreeSet<(String, IntegrationId)> = queues
            .iter()
            .map(|q| (q.pk.trim_start_matches("T#").split('#').next().unwrap().to_owned(), q.integration_id))
            .collect();
        self.put_items(queues.into_iter().map(|q| item(QueueItem { search_indexed: true, ..q })).collect()).await;
        for (t, integration) in integrations {
            self.set_search_mark(&t, integration, true).await;
        }
    }

    /// An UpdateItem of the item at (`pk`, `sk`).
    fn update(
        &self,
        pk: String,
        sk: String,
    ) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        let key = HashMap::from([("PK".to_owned(), AttributeValue::S(pk)), ("SK".to_owned(), AttributeValue::S(sk))]);
        self.stack.clients.dynamodb().update_item().table_name(&self.stack.settings.table_name).set_key(Some(key))
    }

    /// Sets one attribute of an item of the integration's partition (`sk`), e.g. to make it unreadable.
    pub async fn set_attribute(
        &self,
        t: &str,
        integration: IntegrationId,
        sk: &str,
        name: &str,
        value: AttributeValue,
    ) {
        self.update(keys::integration_pk(&tenant(t), integration), sk.to_owned())
            .condition_expression("attribute_exists(PK)")
            .update_expression("SET #n = :v")
            .expression_attribute_names("#n", name)
            .expression_attribute_values(":v", value)
            .send()
            .await
            .expect("attribute set");
    }

    /// Marks the integration's record as being deleted (`deleting_at`), as a DELETE whose later steps failed leaves it.
    pub async fn set_deleting(&self, t: &str, integration: IntegrationId) {
        self.update(keys::tenant_pk(&tenant(t)), keys::integration_sk(integration))
            .update_expression("SET deleting_at = :now")
            .expression_attribute_values(":now", AttributeValue::S(chrono::Utc::now().to_rfc3339()))
            .send()
            .await
            .expect("tombstone");
    }

    /// Sets or removes the mark "every queue of this integration is in the name index" on its record.
    pub async fn set_search_mark(&self, t: &str, integration: IntegrationId, on: bool) {
        let update = self.update(keys::tenant_pk(&tenant(t)), keys::integration_sk(integration));
        let update = if on {
            update.update_expression("SET #m = :yes").expression_attribute_values(":yes", AttributeValue::Bool(true))
        } else {
            update.update_expression("REMOVE #m")
        };
        update.expression_attribute_names("#m", items::SEARCH_INDEXED).send().await.expect("search mark");
    }
}

pub fn tenant(t: &str) -> TenantId {
    TenantId::parse(t).unwrap()
}

pub fn at(day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, day, hour, minute, 0).unwrap()
}

pub fn item<T: serde::Serialize>(value: T) -> Item {
    serde_dynamo::aws_sdk_dynamodb_1::to_item(value).expect("item serializes")
}

/// Writes items with BatchWriteItem (25 per call, a few calls at a time), retrying unprocessed ones.
pub async fn put_items(client: &aws_sdk_dynamodb::Client, table: &str, items: Vec<Item>) {
    let chunks: Vec<Vec<Item>> = items.chunks(25).map(<[Item]>::to_vec).collect();
    futures::stream::iter(chunks)
        .for_each_concurrent(6, |chunk| async move {
            let mut requests: Vec<WriteRequest> = chunk
                .into_iter()
                .map(|i| {
                    WriteRequest::builder()
                        .put_request(PutRequest::builder().set_item(Some(i)).build().unwrap())
                        .build()
                })
                .collect();
            while !requests.is_empty() {
                let out =
                    client.batch_write_item().request_items(table, requests).send().await.expect("BatchWriteItem");
                requests = out.unprocessed_items.and_then(|mut u| u.remove(table)).unwrap_or_default();
            }
        })
        .await;
}

/// A queue item as the import writes it.
pub struct QueueSpec<'a> {
    pub tenant: &'a str,
    pub integration: IntegrationId,
    pub integration_name: &'a str,
    pub external_id: String,
    pub name: String,
    pub channel: Channel,
    pub active: bool,
}

pub fn queue(spec: QueueSpec<'_>) -> QueueItem {
    let tenant = tenant(spec.tenant);
    let queue_id = QueueId::new(spec.integration, spec.external_id.clone());
    QueueItem {
        pk: keys::integration_pk(&tenant, spec.integration),
        sk: keys::queue_sk(&spec.external_id),
        gsi1pk: items::queues_gsi_pk(&tenant),
        gsi1sk: items::queues_gsi_sk(&spec.name, &queue_id),
        entity: "queue".into(),
        queue_id,
        integration_id: spec.integration,
        integration_name: spec.integration_name.into(),
        external_id: spec.external_id,
        name_lower: spec.name.to_lowercase(),
        name: spec.name,
        channel: spec.channel,
        interval_minutes: 15,
        active: spec.active,
        first_seen: at(1, 0, 0),
        last_seen: at(2, 0, 0),
        data_from: Some(at(1, 0, 0)),
        data_to: Some(at(2, 0, 0)),
        complete_from: None,
        listed_through: None,
        once_seen: false,
        search_indexed: false,
    }
}

/// `n` queues of one integration named `{prefix} {i}`, channels cycling through all six.
pub fn queues(t: &str, integration: IntegrationId, integration_name: &str, prefix: &str, n: usize) -> Vec<QueueItem> {
    (0..n)
        .map(|i| {
            queue(QueueSpec {
                tenant: t,
                integration,
                integration_name,
                external_id: format!("{prefix}-ext-{i:05}"),
                name: format!("{prefix} {i:05}"),
                channel: Channel::ALL[i % Channel::ALL.len()],
                active: true,
            })
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
pub fn interval(
    t: &str,
    queue: &QueueId,
    start: DateTime<Utc>,
    offered: u64,
    handled: u64,
    handle_ms: u64,
    sl: Option<u64>,
) -> IntervalItem {
    IntervalItem {
        pk: items::queue_data_pk(&tenant(t), queue),
        sk: items::interval_sk(start),
        start,
        offered,
        handled,
        abandoned: offered - handled,
        handle_ms,
        answer_ms: 1500 * handled,
        sl,
    }
}

/// The import's state item with `complete_through`.
pub fn state(t: &str, integration: IntegrationId, complete_through: DateTime<Utc>) -> Item {
    HashMap::from([
        ("PK".to_owned(), AttributeValue::S(keys::integration_pk(&tenant(t), integration))),
        ("SK".to_owned(), AttributeValue::S(items::STATE_SK.into())),
        (
            "complete_through".to_owned(),
            AttributeValue::S(complete_through.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        ),
    ])
}

pub fn agent(t: &str, integration: IntegrationId, external_id: &str, display_name: Option<&str>) -> AgentItem {
    AgentItem {
        pk: keys::integration_pk(&tenant(t), integration),
        sk: items::agent_sk(external_id),
        entity: "agent".into(),
        integration_id: integration,
        external_id: external_id.into(),
        display_name: display_name.map(str::to_owned),
        first_seen: at(1, 0, 0),
        last_seen: at(2, 0, 0),
        employee_id: None,
        gsi1pk: None,
        gsi1sk: None,
    }
}

pub fn status(t: &str, integration: IntegrationId, status_id: &str, name: &str) -> StatusItem {
    StatusItem {
        pk: keys::integration_pk(&tenant(t), integration),
        sk: items::status_sk(status_id),
        entity: "status".into(),
        integration_id: integration,
        status_id: status_id.into(),
        name: name.into(),
        activity_id: items::DEFAULT_ACTIVITY.into(),
        mapped: false,
        first_seen: at(1, 0, 0),
        last_seen: at(2, 0, 0),
    }
}

pub fn segment(
    t: &str,
    integration: IntegrationId,
    agent: &str,
    start: DateTime<Utc>,
    end: Option<DateTime<Utc>>,
    status_id: &str,
) -> SegmentItem {
    SegmentItem {
        pk: items::segment_pk(&tenant(t), integration, agent).into(),
        sk: items::segment_sk(start),
        start,
        end,
        status_id: status_id.into(),
        reason: status_id.split_once(": ").map(|(_, r)| r.into()),
    }
}

/// A path segment for an id, as a client of the deployed API sends it: percent-encoded twice (API Gateway decodes
/// the path to route it and each path variable once more; `acd_localdev::client::segment`).
pub fn enc(segment: &str) -> String {
    acd_localdev::client::segment(segment)
}

/// Follows `next_cursor` from `first` (a path with a query, without cursor) to the end; returns every item.
pub async fn all_pages(env: &Env, first: &str, t: &str) -> (Vec<Value>, usize) {
    let mut items = Vec::new();
    let mut pages = 0;
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            None => first.to_owned(),
            Some(c) => format!("{first}{}cursor={c}", if first.contains('?') { '&' } else { '?' }),
        };
        let page = env.get(&path, t).await;
        pages += 1;
        items.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return (items, pages),
        }
    }
}

/// How imported intervals and segments are stored (`acd_aws::buckets`): the readers must answer the same for each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// One item per interval or segment (what the import writes).
    Items,
    /// One bucket per queue-hour or agent-hour.
    Buckets,
    /// Even UTC hours as buckets, odd hours as single items.
    Mixed,
    /// Every hour as a bucket and also as single items that must never be seen (a writer between its bucket put and
    /// its deletes): the items carry other numbers or statuses, and one more item per hour is in no bucket.
    Both,
    /// As `Buckets`, with agent-hours in both bucket forms: even UTC hours compact (`HOUR_BUCKETS=compact`), odd
    /// hours lists.
    Compact,
}

pub const FORMS: [Form; 5] = [Form::Items, Form::Buckets, Form::Mixed, Form::Both, Form::Compact];

/// A partition key and the start of a UTC hour.
type HourKey = (String, DateTime<Utc>);

/// Items grouped by partition and hour, in key order.
fn by_hour<T>(items: Vec<T>, key: impl Fn(&T) -> HourKey) -> std::collections::BTreeMap<HourKey, Vec<T>> {
    let mut groups: std::collections::BTreeMap<HourKey, Vec<T>> = Default::default();
    for item in items {
        groups.entry(key(&item)).or_default().push(item);
    }
    groups
}

fn as_bucket(form: Form, hour: DateTime<Utc>) -> bool {
    use chrono::Timelike;
    match form {
        Form::Items => false,
        Form::Buckets | Form::Both | Form::Compact => true,
        Form::Mixed => hour.hour().is_multiple_of(2),
    }
}

/// `intervals` stored in `form`.
pub fn intervals_as(form: Form, intervals: Vec<IntervalItem>) -> Vec<Item> {
    use acd_aws::items::IntoItem;
    let mut out = Vec::new();
    for ((pk, hour), group) in by_hour(intervals, |i| (i.pk.clone(), buckets::hour_of(i.start))) {
        if form == Form::Both {
            let taken: HashSet<DateTime<Utc>> = group.iter().map(|i| i.start).collect();
            let ghost = (0..4).map(|q| hour + chrono::Duration::minutes(15 * q)).find(|t| !taken.contains(t));
            let ghost = ghost.map(|t| IntervalItem { sk: items::interval_sk(t), start: t, ..group[0].clone() });
            let stale = group.iter().map(|i| IntervalItem {
                offered: i.offered + 1000,
                abandoned: i.abandoned + 1000,
                ..i.clone()
            });
            out.extend(stale.chain(ghost).map(IntoItem::into_item));
        }
        if as_bucket(form, hour) {
            out.push(buckets::interval_bucket(pk, hour, group).expect("one queue-hour"));
        } else {
            out.extend(group.into_iter().map(IntoItem::into_item));
        }
    }
    out
}

/// `segments` stored in `form`.
pub fn segments_as(form: Form, segments: Vec<SegmentItem>) -> Vec<Item> {
    use acd_aws::items::IntoItem;
    let mut out = Vec::new();
    for ((pk, hour), group) in by_hour(segments, |s| (s.pk.to_string(), buckets::hour_of(s.start))) {
        if form == Form::Both {
            let taken: HashSet<DateTime<Utc>> = group.iter().map(|s| s.start).collect();
            let ghost = (1..).map(|ms| hour + chrono::Duration::milliseconds(ms)).find(|t| !taken.contains(t));
            let ghost = ghost.map(|t| SegmentItem { sk: items::segment_sk(t), start: t, ..group[0].clone() });
            let stale = group.iter().map(|s| SegmentItem { status_id: "STALE".into(), end: None, ..s.clone() });
            out.extend(stale.chain(ghost).map(IntoItem::into_item));
        }
        if form == Form::Compact && as_bucket(Form::Mixed, hour) {
            let bucket = buckets::compact_segment_bucket(pk, hour, group).expect("one agent-hour");
            assert!(bucket.contains_key(buckets::COMPACT_SEGMENTS), "whole milliseconds: {bucket:?}");
            out.push(bucket);
        } else if as_bucket(form, hour) {
            out.push(buckets::segment_bucket(pk, hour, group).expect("one agent-hour"));
        } else {
            out.extend(group.into_iter().map(IntoItem::into_item));
        }
    }
    out
}
