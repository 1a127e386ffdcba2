//! Helpers shared by the end-to-end tests: API Gateway v2 requests built from the recorded fixture, response
//! decoding, the import environment (moto, the real API handler and import service) and stub ports for failure
//! injection.

pub mod openapi;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use acd_app::http::TenantAuth;
use acd_app::http::integrations::IntegrationsApi;
use acd_app::import::{ImportConfig, ImportService};
use acd_app::ports::{CredentialVerifier, IntegrationRepo, Page, ScheduleStore, StoreError};
use acd_app::verifier::ConnectorVerifier;
use acd_aws::wiring;
use acd_connectors::{ConnectorError, ConnectorFactory, Endpoints, HttpClient};
use acd_domain::{AgentSegment, Credentials, Integration, IntegrationId, Settings, TenantId};
use acd_test_harness::AwsStack;
use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use lambda_http::{Body, Request, Response};
use secrecy::ExposeSecret;
use serde_json::Value;

/// The API Gateway HTTP API (payload 2.0) request fixture.
pub const APIGW_V2_FIXTURE: &str = include_str!("../fixtures/apigw-v2-request.json");

/// Builds a request as API Gateway would deliver it: the fixture with method, path, query, body and the tenant
/// claim replaced (`tenant: None` removes the claim). Panics for a request API Gateway answers itself (no route has
/// its method and path, or the path does not decode): no function ever gets one; [`through_api_gateway`] answers it.
pub fn api_request(method: &str, path_and_query: &str, tenant: Option<&str>, body: Option<&Value>) -> Request {
    lambda_http::request::from_str(&api_event(method, path_and_query, tenant, body).to_string())
        .expect("valid API Gateway v2 event")
}

/// API Gateway's own answer to a request it passes to no function (`acd_localdev::gateway::http_api_path`):
/// `404 {"message":"Not Found"}` when no route has its method and its (once decoded) path (the API has no
/// `$default` route), `400 {"message":"Bad Request"}` when its path does not decode; `None` when a route takes it.
pub fn api_gateway_answer(method: &str, path_and_query: &str) -> Option<Response<Body>> {
    let path = path_and_query.split_once('?').map_or(path_and_query, |(path, _)| path);
    let rejected = acd_localdev::gateway::http_api_path(method, path).err()?;
    let (status, body) = rejected.answer();
    Some(
        Response::builder()
            .status(status.as_u16())
            .header("content-type", "application/json")
            .body(Body::Text(body.to_string()))
            .expect("a static response"),
    )
}

/// A request through API Gateway's HTTP API: its own answer ([`api_gateway_answer`]) when no route takes the
/// request, without calling `function`; otherwise `function`'s answer to the event of the route
/// ([`api_request`]).
pub async fn through_api_gateway<F, Fut>(
    method: &str,
    path_and_query: &str,
    tenant: Option<&str>,
    body: Option<&Value>,
    function: F,
) -> Response<Body>
where
    F: FnOnce(Request) -> Fut,
    Fut: std::future::Future<Output = Response<Body>>,
{
    match api_gateway_answer(method, path_and_query) {
        Some(answer) => answer,
        None => function(api_request(method, path_and_query, tenant, body)).await,
    }
}

/// [`api_request`] with the token's `scope` claim replaced (`None` removes it; the fixture has
/// `openid acd:admin`).
pub fn api_request_scoped(
    method: &str,
    path_and_query: &str,
    tenant: Option<&str>,
    scope: Option<&str>,
    body: Option<&Value>,
) -> Request {
    let mut event = api_event(method, path_and_query, tenant, body);
    let claims = event["requestContext"]["authorizer"]["jwt"]["claims"].as_object_mut().expect("claims");
    match scope {
        Some(scope) => claims.insert("scope".into(), scope.into()),
        None => claims.remove("scope"),
    };
    lambda_http::request::from_str(&event.to_string()).expect("valid API Gateway v2 event")
}

fn api_event(method: &str, path_and_query: &str, tenant: Option<&str>, body: Option<&Value>) -> Value {
    let mut event: Value = serde_json::from_str(APIGW_V2_FIXTURE).expect("fixture is JSON");
    let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
    // The route, path and path variables as API Gateway passes them on (the local gateway's reading of the method
    // and path). The API has no `$default` route: a request of no route never reaches a function.
    let (route_key, raw_path) = match acd_localdev::gateway::http_api_path(method, path) {
        Ok(routed) => {
            event["pathParameters"] = Value::Object(routed.parameters);
            (format!("{method} {}", routed.route), routed.raw_path)
        }
        Err(rejected) => panic!(
            "API Gateway answers {method} {path} itself ({rejected:?}): no function gets it (`through_api_gateway`)"
        ),
    };
    event["routeKey"] = route_key.clone().into();
    event["requestContext"]["routeKey"] = route_key.into();
    event["rawPath"] = raw_path.clone().into();
    event["rawQueryString"] = query.into();
    event["requestContext"]["http"]["method"] = method.into();
    event["requestContext"]["http"]["path"] = raw_path.into();
    if !query.is_empty() {
        let mut params = serde_json::Map::new();
        for pair in query.split('&') {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            params.insert(k.to_owned(), Value::String(v.to_owned()));
        }
        event["queryStringParameters"] = Value::Object(params);
    }
    match tenant {
        Some(t) => event["requestContext"]["authorizer"]["jwt"]["claims"]["tenant_id"] = t.into(),
        None => {
            event["requestContext"]["authorizer"]["jwt"]["claims"].as_object_mut().expect("claims").remove("tenant_id");
        }
    }
    if let Some(body) = body {
        event["body"] = Value::String(body.to_string());
    }
    event
}

/// Status, content type and JSON body (Null when empty) of a response.
pub fn decode(response: Response<Body>) -> (u16, String, Value) {
    let status = response.status().as_u16();
    let content_type =
        response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let body = match response.body() {
        Body::Text(t) => serde_json::from_str(t).expect("JSON body"),
        Body::Binary(b) => serde_json::from_slice(b).expect("JSON body"),
        _ => Value::Null,
    };
    (status, content_type, body)
}

/// One DynamoDB item.
pub type Item = HashMap<String, AttributeValue>;

/// Every item of one partition of `table`, all pages.
pub async fn partition_items(client: &aws_sdk_dynamodb::Client, table: &str, pk: String) -> Vec<Item> {
    let mut out = Vec::new();
    let mut start = None;
    loop {
        let page = client
            .query()
            .table_name(table)
            .key_condition_expression("PK = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(pk.clone()))
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("Query");
        out.extend(page.items.unwrap_or_default());
        match page.last_evaluated_key {
            Some(k) => start = Some(k),
            None => return out,
        }
    }
}

/// Intervals with any traffic, ordered by queue and start (how the suites compare stored intervals with a
/// simulator's truth).
pub fn sorted_stats(mut v: Vec<acd_domain::IntervalStats>) -> Vec<acd_domain::IntervalStats> {
    v.retain(|s| s.offered + s.handled + s.abandoned + s.handle_time_ms + s.answer_time_ms > 0);
    v.sort_by(|a, b| (&a.queue_external_id, a.interval_start).cmp(&(&b.queue_external_id, b.interval_start)));
    v
}

/// Segments ordered by agent and start (how the suites compare stored segments with a simulator's truth).
pub fn sorted_segments(mut v: Vec<AgentSegment>) -> Vec<AgentSegment> {
    v.sort_by(|a, b| (&a.agent_external_id, a.start).cmp(&(&b.agent_external_id, b.start)));
    v
}

/// The import suites' environment: moto (the harness's stack), the real integrations API handler (JWT tenant
/// claim) whose credentials check goes to the ACD endpoints given, and the real import service against the same
/// endpoints. Every request is made as `tenant` and its answer checked against the OpenAPI spec.
pub struct ImportEnv {
    pub stack: AwsStack,
    pub api: IntegrationsApi,
    pub factory: ConnectorFactory,
    pub tenant: &'static str,
}

/// Amazon Connect through the real connector: moto (DynamoDB, Secrets Manager, Scheduler, and the agent event
/// stream in its Kinesis), the Connect simulator answering for Connect and STS, and an [`ImportEnv`] whose
/// connectors and credentials check reach them.
pub struct ConnectEnv {
    pub env: ImportEnv,
    pub sim: acd_simulators::amazon_connect::ConnectSimulator,
    pub kinesis: aws_sdk_kinesis::Client,
    pub stream_arn: String,
}

/// The role of the Amazon Connect integrations the tests create through the API: in the customer's account (the
/// simulator's), not the service's own (`AwsStack::TRUSTED_ACCOUNT_ID`), whose roles are refused.
pub const CONNECT_CUSTOMER_ROLE: &str = "arn:aws:iam::111122223333:role/acd-connect-read";

impl ConnectEnv {
    /// An Amazon Connect integration `name` (history of one day) created through the API as a customer does: the
    /// tenant's external id issued, the role trusting it, the agent events on the environment's stream. Its id.
    pub async fn create_integration(&self, name: &str) -> String {
        use acd_simulators::amazon_connect as sim;
        let (status, issued) = self.env.call("POST", "/integrations/amazon-connect/external-id", None).await;
        assert!(status == 200 || status == 201, "{issued}");
        self.sim.trust(issued["external_id"].as_str().expect("an external id"));
        let body = serde_json::json!({"name": name, "type": "amazon_connect",
            "credentials": {"role_arn": CONNECT_CUSTOMER_ROLE},
            "settings": {"region": sim::REGION, "instance_id": sim::INSTANCE_ID,
                         "agent_event_stream_arn": self.stream_arn, "history_days": 1}});
        let (status, created) = self.env.call("POST", "/integrations", Some(&body)).await;
        assert_eq!(status, 201, "{created}");
        created["id"].as_str().expect("the integration's id").to_owned()
    }
}

impl ImportEnv {
    /// The credentials check of the API is the real one, against `endpoints`.
    pub async fn start(tenant: &'static str, endpoints: Endpoints) -> ImportEnv {
        let factory = ConnectorFactory::new(HttpClient::new().expect("HTTP client"), endpoints.clone())
            .with_service_account(Some(AwsStack::TRUSTED_ACCOUNT_ID.into()));
        ImportEnv::start_with(tenant, endpoints, Arc::new(ConnectorVerifier { factory })).await
    }

    /// With another credentials check at the API (the import always checks against the ACD).
    pub async fn start_with(
        tenant: &'static str,
        endpoints: Endpoints,
        verifier: Arc<dyn CredentialVerifier>,
    ) -> ImportEnv {
        let stack = AwsStack::start().await;
        let factory = wiring::connector_factory(&stack.settings, endpoints).expect("HTTP client");
        let api = wiring::integrations_api(
            &stack.settings,
            &stack.clients,
            verifier,
            TenantAuth::JwtClaim("tenant_id".into()),
        );
        ImportEnv { stack, api, factory, tenant }
    }

    /// See [`ConnectEnv`]; the agent event stream is `stream`, with one shard.
    pub async fn start_connect(
        tenant: &'static str,
        config: acd_simulators::amazon_connect::ConnectSimConfig,
        stream: &str,
    ) -> ConnectEnv {
        use acd_connectors::amazon_connect::AwsEndpoints;
        use acd_simulators::amazon_connect::ConnectSimulator;
        // The connector calls STS with the function's own credentials (from the environment, as in Lambda).
        // SAFETY: nextest runs each test in its own process; nothing else reads the environment concurrently.
        unsafe {
            std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
            std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
            std::env::set_var("AWS_REGION", "us-east-1");
        }
        let sim = ConnectSimulator::start(config).await.expect("Connect simulator");
        let stack = AwsStack::start().await;
        let kinesis = aws_sdk_kinesis::Client::new(&stack.moto.sdk_config().await);
        let stream_arn = ConnectSimulator::create_stream(&kinesis, stream, 1).await.expect("agent event stream");
        let endpoints = AwsEndpoints {
            connect: Some(sim.base_url()),
            sts: Some(sim.base_url()),
            kinesis: Some(stack.moto.endpoint.clone()),
        }
        .into_endpoints(Endpoints::default());
        let factory = wiring::connector_factory(&stack.settings, endpoints).expect("HTTP client");
        let api = wiring::integrations_api(
            &stack.settings,
            &stack.clients,
            Arc::new(ConnectorVerifier { factory: factory.clone() }),
            TenantAuth::JwtClaim("tenant_id".into()),
        );
        ConnectEnv { env: ImportEnv { stack, api, factory, tenant }, sim, kinesis, stream_arn }
    }

    /// One API request as the environment's tenant, through API Gateway: status and JSON body, checked against the
    /// spec.
    pub async fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let answer = through_api_gateway(method, path, Some(self.tenant), body, |r| self.api.handle(r)).await;
        let (status, content_type, body) = decode(answer);
        openapi::spec().check(method, path, status, &content_type, &body);
        (status, body)
    }

    pub fn importer(&self, config: ImportConfig) -> ImportService {
        wiring::import_service(&self.stack.settings, &self.stack.clients, self.factory.clone(), config)
    }

    /// The import service as deployed but over `repo` (e.g. a [`RacingRepo`] around the real store).
    pub fn importer_over(&self, repo: Arc<dyn IntegrationRepo>, config: ImportConfig) -> ImportService {
        let (settings, clients) = (&self.stack.settings, &self.stack.clients);
        ImportService::new(
            repo,
            Arc::new(wiring::secrets_store(settings, clients)),
            Arc::new(wiring::import_store(settings, clients)),
            self.factory.clone(),
            config,
        )
    }

    /// Every item of one partition, all pages.
    pub async fn query(&self, pk: String) -> Vec<Item> {
        partition_items(self.stack.clients.dynamodb(), &self.stack.settings.table_name, pk).await
    }

    /// Every stored agent-state segment (piece) of the integration's `agents`, ordered by agent and start.
    pub async fn segments(&self, integration: &str, agents: &[String]) -> Vec<AgentSegment> {
        let mut out = Vec::new();
        for agent in agents {
            let pk = format!("T#{}#I#{integration}#A#{agent}", self.tenant);
            // Both stored forms, as the queries read them (single items, hour buckets).
            let items: Vec<acd_aws::buckets::SegmentEntry> =
                acd_aws::buckets::read_entries(self.query(pk).await).expect("segments");
            out.extend(items.into_iter().map(|s| AgentSegment {
                agent_external_id: agent.as_str().into(),
                status_id: s.status_id.into(),
                reason: s.reason.map(Into::into),
                start: s.start,
                end: s.end,
            }));
        }
        sorted_segments(out)
    }

    /// The integration's stored queue items.
    pub async fn queues(&self, integration: &str) -> Vec<acd_aws::items::QueueItem> {
        let items = self.query(format!("T#{}#I#{integration}", self.tenant)).await;
        let items = items.into_iter().filter(|i| i["SK"].as_s().is_ok_and(|sk| sk.starts_with("Q#"))).collect();
        serde_dynamo::aws_sdk_dynamodb_1::from_items(items).expect("queue items")
    }

    /// Every stored interval of the integration's queues with any traffic, as the connectors' records, ordered by
    /// queue and start (the order the tests compare a simulator's truth in).
    pub async fn intervals(&self, integration: &str) -> Vec<acd_domain::IntervalStats> {
        let mut out = Vec::new();
        for q in self.queues(integration).await {
            let items = self.interval_entries(format!("T#{}#Q#{}", self.tenant, q.queue_id)).await;
            out.extend(items.into_iter().map(|i| acd_domain::IntervalStats {
                queue_external_id: q.external_id.clone(),
                interval_start: i.start,
                offered: i.offered,
                handled: i.handled,
                abandoned: i.abandoned,
                handle_time_ms: i.handle_ms,
                answer_time_ms: i.answer_ms,
                answered_within_sl: i.sl,
            }));
        }
        sorted_stats(out)
    }

    /// The stored intervals of one queue partition, in both forms as the queries read them (single items, hour
    /// buckets).
    pub async fn interval_entries(&self, pk: String) -> Vec<acd_aws::buckets::IntervalEntry> {
        let items = self.query(pk).await.into_iter().filter(|i| i["SK"].as_s().is_ok_and(|sk| sk.starts_with("IV#")));
        acd_aws::buckets::read_entries(items.collect()).expect("intervals")
    }

    /// The name of the integration's credentials secret, as the API names it.
    pub fn secret_name(&self, integration: &str) -> String {
        let id: IntegrationId = integration.parse().expect("an integration id");
        let tenant = TenantId::parse(self.tenant).expect("the environment's tenant");
        wiring::secrets_store(&self.stack.settings, &self.stack.clients).secret_name(&tenant, id)
    }

    /// Makes the integration's record name another version of its secret, behind the API's back.
    pub async fn set_record_secret_version(&self, integration: &str, version: &str) {
        self.stack
            .clients
            .dynamodb()
            .update_item()
            .table_name(&self.stack.settings.table_name)
            .key("PK", AttributeValue::S(format!("T#{}", self.tenant)))
            .key("SK", AttributeValue::S(format!("INT#{integration}")))
            .condition_expression("attribute_exists(PK)")
            .update_expression("SET secret_version = :v")
            .expression_attribute_values(":v", AttributeValue::S(version.to_owned()))
            .send()
            .await
            .expect("the record names the version");
    }

    /// Removes one item behind the import's back (a crashed run's lease, a lost digest).
    pub async fn delete(&self, pk: AttributeValue, sk: AttributeValue) {
        let table = &self.stack.settings.table_name;
        self.stack.clients.dynamodb().delete_item().table_name(table).key("PK", pk).key("SK", sk).send().await.unwrap();
    }
}

/// A credentials check standing in for the ACD: rejects the password / client secret `wrong-secret`.
/// (The real check against the simulators is exercised by the import suite.)
pub struct FakeAcd;

pub const REJECTED_SECRET: &str = "wrong-secret";

#[async_trait]
impl CredentialVerifier for FakeAcd {
    async fn verify(&self, _settings: &Settings, credentials: &Credentials) -> Result<(), ConnectorError> {
        let rejected = credentials.secrets().any(|s| s.expose_secret() == REJECTED_SECRET);
        if rejected { Err(ConnectorError::CredentialsRejected) } else { Ok(()) }
    }
}

/// Wraps the real schedule store and fails `create` (or `set_states_schedule`) *after* the inner call succeeded,
/// when armed: the failure a create or PATCH must roll back from (record, secret and a schedule already exist).
/// With `watch`, it also notes the integration's state as its record says it when an import is started at once
/// (`run_now`): what that import reads first.
pub struct FailingSchedules {
    pub inner: Arc<dyn ScheduleStore>,
    pub fail_create: AtomicBool,
    pub fail_states: AtomicBool,
    /// Deletes fail (nothing deleted) while set.
    pub fail_delete: AtomicBool,
    pub watch: Option<Arc<dyn IntegrationRepo>>,
    pub states_at_run_now: std::sync::Mutex<Vec<acd_domain::IntegrationState>>,
    /// Calls of `create` (each writes the recurring schedule and starts the first import).
    pub creates: std::sync::atomic::AtomicUsize,
    /// With `watch`: changes the record so and saves it right before the next `create` writes the schedules (a
    /// pause or a PATCH whose record write landed between a create's record and its schedules).
    pub before_create: std::sync::Mutex<Option<RecordChange>>,
}

/// A change another call saves in an integration's record (see [`FailingSchedules::before_create`]).
pub type RecordChange = Box<dyn FnOnce(&mut Integration) + Send>;

impl FailingSchedules {
    /// Wraps `inner`, nothing armed, nothing watched.
    pub fn new(inner: Arc<dyn ScheduleStore>) -> Self {
        Self {
            inner,
            fail_create: false.into(),
            fail_states: false.into(),
            fail_delete: false.into(),
            watch: None,
            states_at_run_now: Vec::new().into(),
            creates: 0.into(),
            before_create: None.into(),
        }
    }
}

#[async_trait]
impl ScheduleStore for FailingSchedules {
    async fn create(&self, tenant: &TenantId, id: IntegrationId) -> Result<(), StoreError> {
        self.creates.fetch_add(1, Ordering::SeqCst);
        let change = self.before_create.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let (Some(change), Some(repo)) = (change, &self.watch) {
            let record = repo.get(tenant, id).await?.expect("the create wrote the record first");
            let mut changed = record.clone();
            change(&mut changed);
            changed.version += 1;
            repo.update(&record, &changed).await?;
        }
        self.inner.create(tenant, id).await?;
        if self.fail_create.load(Ordering::SeqCst) {
            return Err(StoreError::Backend("injected: scheduler unavailable".into()));
        }
        Ok(())
    }
    async fn set_enabled(&self, tenant: &TenantId, id: IntegrationId, enabled: bool) -> Result<(), StoreError> {
        self.inner.set_enabled(tenant, id, enabled).await
    }
    async fn run_now(&self, tenant: &TenantId, id: IntegrationId) -> Result<(), StoreError> {
        if let Some(repo) = &self.watch {
            let state = repo.get(tenant, id).await?.map(|i| i.status.state);
            self.states_at_run_now.lock().expect("states").extend(state);
        }
        self.inner.run_now(tenant, id).await
    }
    async fn delete(&self, tenant: &TenantId, id: IntegrationId) -> Result<(), StoreError> {
        if self.fail_delete.load(Ordering::SeqCst) {
            return Err(StoreError::Backend("injected: scheduler throttled".into()));
        }
        self.inner.delete(tenant, id).await
    }
    async fn set_states_schedule(
        &self,
        tenant: &TenantId,
        id: IntegrationId,
        cadence: Option<acd_domain::AgentStateCadence>,
        enabled: bool,
    ) -> Result<(), StoreError> {
        self.inner.set_states_schedule(tenant, id, cadence, enabled).await?;
        if self.fail_states.load(Ordering::SeqCst) {
            return Err(StoreError::Backend("injected: scheduler unavailable".into()));
        }
        Ok(())
    }
}

/// Wraps the real integration store and races its caller:
/// - for the next `updates_to_race` updates (and marks of a delete), it changes the record (as an import's status
///   update would, and with `race_settings` as another admin's PATCH would) right before the caller's conditional
///   write, which then fails for real;
/// - with `pause_after_next_read`, it saves the integration `paused` (as `POST …/pause` does) right after the next
///   read of it, and hands the caller the record as it was read.
pub struct RacingRepo {
    pub inner: Arc<dyn IntegrationRepo>,
    pub updates_to_race: std::sync::atomic::AtomicUsize,
    pub pause_after_next_read: AtomicBool,
    /// With the next raced update: the settings another admin's PATCH writes in between.
    pub race_settings: std::sync::Mutex<Option<acd_domain::Settings>>,
    /// Per raced update, in order: the state another call (a pause, a resume) saves in between (`None`: unchanged).
    pub race_states: std::sync::Mutex<std::collections::VecDeque<Option<acd_domain::IntegrationState>>>,
    /// Run to its end right after the next update succeeded (e.g. a whole DELETE between a PATCH's record update
    /// and its schedule write).
    pub after_next_update: std::sync::Mutex<Option<std::pin::Pin<Box<dyn Future<Output = ()> + Send>>>>,
}

impl RacingRepo {
    /// Wraps `inner`, nothing armed.
    pub fn new(inner: Arc<dyn IntegrationRepo>) -> Self {
        Self {
            inner,
            updates_to_race: 0.into(),
            pause_after_next_read: false.into(),
            race_settings: std::sync::Mutex::new(None),
            race_states: std::sync::Mutex::new(std::collections::VecDeque::new()),
            after_next_update: std::sync::Mutex::new(None),
        }
    }
}

#[async_trait]
impl IntegrationRepo for RacingRepo {
    async fn create(&self, integration: &Integration) -> Result<(), StoreError> {
        self.inner.create(integration).await
    }
    async fn get(&self, tenant: &TenantId, id: IntegrationId) -> Result<Option<Integration>, StoreError> {
        let read = self.inner.get(tenant, id).await?;
        if let Some(before) = &read
            && self.pause_after_next_read.swap(false, Ordering::SeqCst)
        {
            let mut paused = before.clone();
            paused.version += 1;
            paused.status.state = acd_domain::IntegrationState::Paused;
            self.inner.update(before, &paused).await?;
        }
        Ok(read)
    }
    async fn list(
        &self,
        tenant: &TenantId,
        limit: usize,
        after: Option<IntegrationId>,
    ) -> Result<Page<Integration>, StoreError> {
        self.inner.list(tenant, limit, after).await
    }
    async fn update(&self, previous: &Integration, updated: &Integration) -> Result<(), StoreError> {
        let race = self.updates_to_race.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
        if race {
            let mut theirs = previous.clone();
            theirs.version += 1;
            theirs.status.last_run_at = Some(chrono::Utc::now());
            if let Some(settings) = self.race_settings.lock().unwrap_or_else(|p| p.into_inner()).take() {
                theirs.settings = settings;
            }
            if let Some(Some(state)) = self.race_states.lock().unwrap_or_else(|p| p.into_inner()).pop_front() {
                theirs.status.state = state;
            }
            self.inner.update(previous, &theirs).await?;
        }
        self.inner.update(previous, updated).await?;
        let after = self.after_next_update.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(after) = after {
            after.await;
        }
        Ok(())
    }
    async fn delete(&self, integration: &Integration) -> Result<(), StoreError> {
        self.inner.delete(integration).await
    }
    async fn mark_deleting(&self, integration: &Integration) -> Result<(), StoreError> {
        if self.updates_to_race.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
            let mut theirs = integration.clone();
            theirs.version += 1;
            theirs.status.last_run_at = Some(chrono::Utc::now());
            self.inner.update(integration, &theirs).await?;
        }
        self.inner.mark_deleting(integration).await
    }
    async fn get_deleting(&self, tenant: &TenantId, id: IntegrationId) -> Result<Option<Integration>, StoreError> {
        self.inner.get_deleting(tenant, id).await
    }
    async fn deactivate_queues(&self, tenant: &TenantId, id: IntegrationId) -> Result<(), StoreError> {
        self.inner.deactivate_queues(tenant, id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::RequestExt;
    use std::sync::Mutex;

    /// A request no route takes gets API Gateway's own 404 and the function is not called; the id it carries,
    /// encoded twice, reaches the function whole under its route.
    #[tokio::test]
    async fn a_request_of_no_route_is_api_gateways_404_and_never_reaches_the_function() {
        let called = Mutex::new(Vec::new());
        let function = |request: Request| {
            let id = request.path_parameters().first("id").map(str::to_owned);
            called.lock().unwrap().push((request.method().to_string(), id));
            async { Response::builder().status(200).body(Body::Empty).unwrap() }
        };
        for (method, path) in [
            // Decoded once to be routed, `/integrations/abc/def/external-agents`: no route has that shape.
            ("GET", "/integrations/abc%2Fdef/external-agents"),
            ("PUT", "/integrations/i/external-statuses/Break%2FLunch"),
            ("GET", "/nothing-here?x=1"),
            // A path of a route, with a method no route of it has.
            ("PUT", "/integrations"),
            ("POST", "/health"),
        ] {
            let answer = through_api_gateway(method, path, Some("t"), None, function).await;
            assert_eq!(
                decode(answer),
                (404, "application/json".to_owned(), serde_json::json!({"message": "Not Found"})),
                "{method} {path}"
            );
        }
        assert_eq!(called.lock().unwrap().len(), 0, "no function called: {:?}", called.lock().unwrap());
        let answer =
            through_api_gateway("GET", "/integrations/abc%252Fdef/external-agents", None, None, function).await;
        assert_eq!(answer.status(), 200);
        assert_eq!(*called.lock().unwrap(), [("GET".to_owned(), Some("abc/def".to_owned()))]);
        assert!(api_gateway_answer("GET", "/integrations/50%25").is_some_and(|a| a.status() == 400));
    }

    #[test]
    #[should_panic(expected = "API Gateway answers GET /integrations/abc%2Fdef/external-agents itself (NotFound)")]
    fn no_event_is_built_for_a_request_of_no_route() {
        let _ = api_request("GET", "/integrations/abc%2Fdef/external-agents", Some("t"), None);
    }
}
