//! Operations and access control end to end (real handlers, moto): scopes on every route, the per-tenant
//! integration quota, `GET /health`, and the status-change events on EventBridge.

use std::sync::Arc;

use crate::event_support::{event_queue, received};
use acd_app::http::TenantAuth;
use acd_app::http::integrations::IntegrationsApi;
use acd_app::http::queries::QueriesApi;
use acd_aws::wiring;
use acd_integration_tests::openapi::spec;
use acd_integration_tests::{FakeAcd, api_request, api_request_scoped, decode, through_api_gateway};
use acd_test_harness::AwsStack;
use serde_json::{Value, json};

struct Env {
    stack: AwsStack,
    api: IntegrationsApi,
    queries: QueriesApi,
}

impl Env {
    async fn start() -> Env {
        Self::with_stack(AwsStack::start().await)
    }

    fn with_stack(stack: AwsStack) -> Env {
        let auth = TenantAuth::JwtClaim(TenantAuth::DEFAULT_CLAIM.into());
        let api = wiring::integrations_api(&stack.settings, &stack.clients, Arc::new(FakeAcd), auth.clone());
        let queries = wiring::queues_query_api(&stack.settings, &stack.clients, auth);
        Env { stack, api, queries }
    }

    /// Calls the function that serves `path` with a token of `tenant-a` carrying `scope`, and checks the answer
    /// against the OpenAPI spec.
    async fn call(&self, method: &str, path: &str, scope: Option<&str>, body: Option<&Value>) -> (u16, String, Value) {
        let request = api_request_scoped(method, path, Some("tenant-a"), scope, body);
        let queries = path.starts_with("/queues")
            || path.starts_with("/agent-states")
            || path.contains("/external-agents")
            || path.contains("/external-statuses");
        let response = if queries { self.queries.handle(request).await } else { self.api.handle(request).await };
        let answer = decode(response);
        spec().check(method, path, answer.0, &answer.1, &answer.2);
        answer
    }

    async fn create(&self, name: &str) -> (u16, Value) {
        let (status, _, body) = self.call("POST", "/integrations", Some("acd:admin"), Some(&five9(name))).await;
        (status, body)
    }

    async fn count(&self, prefix: &str) -> usize {
        let out =
            self.stack.clients.dynamodb().scan().table_name(&self.stack.settings.table_name).send().await.unwrap();
        out.items().iter().filter(|i| i["SK"].as_s().unwrap().starts_with(prefix)).count()
    }
}

fn five9(name: &str) -> Value {
    json!({
        "name": name,
        "type": "five9",
        "credentials": {"username": "api.user@acme.example", "password": "pw"},
        "settings": {"region": "us", "grouping": "skill", "skill_report": {"folder": "WFM", "name": "Call Log"}}
    })
}

#[tokio::test]
async fn read_scope_reads_admin_scope_writes_and_anything_else_is_403() {
    let env = Env::start().await;
    let (status, created) = env.create("Sales").await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();

    // Every write route (and the credentials check) with a read-only token: 403 problem+json, nothing changes.
    let writes: Vec<(&str, String, Option<Value>)> = vec![
        ("POST", "/integrations".into(), Some(five9("Other"))),
        ("POST", "/integrations/test-connection".into(), Some(five9("Other"))),
        ("PATCH", format!("/integrations/{id}"), Some(json!({"name": "Renamed"}))),
        ("DELETE", format!("/integrations/{id}"), None),
        ("POST", format!("/integrations/{id}/pause"), None),
        ("POST", format!("/integrations/{id}/resume"), None),
        ("POST", format!("/integrations/{id}/import"), None),
        ("PUT", format!("/integrations/{id}/external-agents/a1"), Some(json!({"employee_id": "e1"}))),
        ("DELETE", format!("/integrations/{id}/external-agents/a1"), None),
        ("PUT", format!("/integrations/{id}/external-statuses/Ready"), Some(json!({"activity": "available"}))),
        ("DELETE", format!("/integrations/{id}/external-statuses/Ready"), None),
    ];
    for scope in ["acd:read", "openid profile", "acd:admins"] {
        for (method, path, body) in &writes {
            let (status, content_type, problem) = env.call(method, path, Some(scope), body.as_ref()).await;
            assert_eq!(
                (status, content_type.as_str(), problem["code"].as_str()),
                (403, "application/problem+json", Some("insufficient-scope")),
                "{method} {path} with scope {scope:?}: {problem}"
            );
            assert_eq!(problem["detail"], "this route needs the scope acd:admin");
        }
    }
    let (_, _, unchanged) = env.call("GET", &format!("/integrations/{id}"), Some("acd:read"), None).await;
    assert_eq!((unchanged["name"].as_str(), unchanged["status"]["state"].as_str()), (Some("Sales"), Some("importing")));
    assert_eq!(env.count("INT#").await, 1);

    // Every read route: 200 with acd:read, 200 with acd:admin alone (admin implies read), 403 without either.
    let reads = [
        "/integration-types".to_owned(),
        "/integrations".into(),
        format!("/integrations/{id}"),
        format!("/integrations/{id}/runs"),
        "/queues".into(),
        "/agent-states?from=2026-11-01T00:00:00Z&to=2026-11-01T01:00:00Z".into(),
        format!("/integrations/{id}/external-agents"),
        format!("/integrations/{id}/external-statuses"),
    ];
    for path in &reads {
        assert_eq!(env.call("GET", path, Some("acd:read"), None).await.0, 200, "GET {path} (read)");
        assert_eq!(env.call("GET", path, Some("acd:admin"), None).await.0, 200, "GET {path} (admin)");
        for scope in [None, Some(""), Some("openid")] {
            let (status, _, problem) = env.call("GET", path, scope, None).await;
            assert_eq!((status, problem["code"].as_str()), (403, Some("insufficient-scope")), "GET {path} {scope:?}");
            assert_eq!(problem["detail"], "this route needs the scope acd:read");
        }
    }
    // A scope array as some identity providers send it (API Gateway renders arrays as "[a b]").
    assert_eq!(env.call("GET", "/integrations", Some("[openid acd:read]"), None).await.0, 200);

    // Writes with acd:admin work.
    let path = format!("/integrations/{id}/pause");
    assert_eq!(env.call("POST", &path, Some("openid acd:admin"), None).await.0, 200);
    // 401 (no tenant) is still answered before the scope check.
    let (status, _, _) = decode(env.api.handle(api_request_scoped("GET", "/integrations", None, None, None)).await);
    assert_eq!(status, 401);
}

#[tokio::test]
async fn local_header_mode_grants_every_scope_unless_x_scopes_narrows_them() {
    let env = Env::start().await;
    let api = IntegrationsApi { auth: TenantAuth::Header, ..env.api.clone() };
    let request = |method: &str, path: &str, scopes: Option<&str>, body: Option<&Value>| {
        let mut request = api_request(method, path, None, body);
        request.headers_mut().insert("x-tenant-id", "tenant-h".parse().unwrap());
        if let Some(scopes) = scopes {
            request.headers_mut().insert("x-scopes", scopes.parse().unwrap());
        }
        request
    };
    let (status, _, _) = decode(api.handle(request("POST", "/integrations", None, Some(&five9("Local")))).await);
    assert_eq!(status, 201, "no X-Scopes: every scope (the local tools send none)");
    let (status, _, problem) =
        decode(api.handle(request("POST", "/integrations", Some("acd:read"), Some(&five9("Local 2")))).await);
    assert_eq!((status, problem["code"].as_str()), (403, Some("insufficient-scope")));
    let (status, _, _) = decode(api.handle(request("GET", "/integrations", Some("acd:read"), None)).await);
    assert_eq!(status, 200);
    let (status, _, _) = decode(api.handle(request("GET", "/integrations", Some(""), None)).await);
    assert_eq!(status, 403, "an empty X-Scopes grants nothing");
}

#[tokio::test]
async fn health_needs_no_token_and_tells_version_and_build_only() {
    let env = Env::start().await;
    for scope in [None, Some("acd:read")] {
        let (status, content_type, body) = env.call("GET", "/health", scope, None).await;
        assert_eq!((status, content_type.as_str()), (200, "application/json"));
        assert_eq!(body["status"], "ok");
        assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
        assert!(body["build"].as_str().is_some_and(|b| !b.is_empty()), "{body}");
    }
    // Without any tenant either.
    let (status, _, body) = decode(env.api.handle(api_request("GET", "/health", None, None)).await);
    assert_eq!(status, 200);
    let mut keys = body.as_object().unwrap().keys().collect::<Vec<_>>();
    keys.sort();
    assert_eq!(keys, ["build", "service", "status", "version"]);
    // No `POST /health` route: API Gateway's 404, the function is not called.
    let answer = through_api_gateway("POST", "/health", Some("tenant-a"), None, |r| env.api.handle(r)).await;
    assert_eq!(decode(answer), (404, "application/json".into(), json!({"message": "Not Found"})));
}

#[tokio::test]
async fn the_integration_quota_holds_under_concurrent_creates_and_deletes_give_places_back() {
    let mut stack = AwsStack::start().await;
    stack.settings.max_integrations_per_tenant = 3;
    let env = Env::with_stack(stack);

    // Eight concurrent creates with different names: exactly three succeed, five get 409.
    let results = futures::future::join_all((0..8).map(|i| {
        let env = &env;
        async move { env.create(&format!("Quota {i}")).await }
    }))
    .await;
    let created: Vec<&Value> = results.iter().filter(|(s, _)| *s == 201).map(|(_, b)| b).collect();
    let refused: Vec<&Value> = results.iter().filter(|(s, _)| *s == 409).map(|(_, b)| b).collect();
    assert_eq!((created.len(), refused.len()), (3, 5), "{results:?}");
    for problem in refused {
        assert_eq!(problem["code"], "integration-quota-exceeded");
        assert!(problem["detail"].as_str().unwrap().contains("at most 3 integrations"), "{problem}");
    }
    assert_eq!(env.count("INT#").await, 3);
    assert_eq!(env.count("NAME#").await, 3, "refused creates reserve no name");
    assert_eq!(env.stack.clients.secrets().list_secrets().send().await.unwrap().secret_list().len(), 3);

    // Another tenant has its own quota.
    let other = api_request("POST", "/integrations", Some("tenant-b"), Some(&five9("Quota 0")));
    assert_eq!(decode(env.api.handle(other).await).0, 201);

    // A delete gives its place back (a repeated delete gives nothing more), then one create fits again.
    let id = created[0]["id"].as_str().unwrap();
    assert_eq!(env.call("DELETE", &format!("/integrations/{id}"), Some("acd:admin"), None).await.0, 204);
    assert_eq!(env.call("DELETE", &format!("/integrations/{id}"), Some("acd:admin"), None).await.0, 404);
    assert_eq!(env.create("After delete").await.0, 201);
    let (status, problem) = env.create("One too many").await;
    assert_eq!((status, problem["code"].as_str()), (409, Some("integration-quota-exceeded")));
}

#[tokio::test]
async fn a_table_from_before_the_quota_is_counted_on_first_use() {
    let mut stack = AwsStack::start().await;
    stack.settings.max_integrations_per_tenant = 2;
    let env = Env::with_stack(stack);
    assert_eq!(env.create("Old 1").await.0, 201);
    assert_eq!(env.create("Old 2").await.0, 201);
    // Remove the counter, as if both records had been written by a version without quotas.
    let key = std::collections::HashMap::from([
        ("PK".to_owned(), aws_sdk_dynamodb::types::AttributeValue::S("T#tenant-a".into())),
        ("SK".to_owned(), aws_sdk_dynamodb::types::AttributeValue::S("QUOTA".into())),
    ]);
    let dynamodb = env.stack.clients.dynamodb();
    dynamodb.delete_item().table_name(&env.stack.settings.table_name).set_key(Some(key)).send().await.unwrap();
    let (status, problem) = env.create("New").await;
    assert_eq!((status, problem["code"].as_str()), (409, Some("integration-quota-exceeded")), "{problem}");
}

// ---------------------------------------------------------------------------------------------------------------
// Status-change events: the real publisher against moto's EventBridge; a rule forwards the bus's events to an SQS
// queue of the same moto, read back over moto's SQS query API.
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn failing_recovered_and_deleted_reach_the_bus_once_per_change_with_tenant_integration_and_reason() {
    use acd_app::import::RunOutcome;
    use acd_simulators::five9::{FaultKind, FaultRule};

    // Runs at one clock, one after the other: started "at once" (as sync now), not by the recurring schedule, whose
    // second run in a quarter hour already imported has nothing to do.
    let env = Failing::start().await;
    let Failing { sim, stack, api, id, .. } = &env;
    let queue = event_queue(stack).await;

    assert_eq!(env.run().await, RunOutcome::Succeeded);
    assert!(received(stack, &queue).await.is_empty(), "importing -> operational is no status event");

    sim.set_faults(vec![FaultRule::new(FaultKind::Unauthorized)]);
    assert_eq!(env.run().await, RunOutcome::Failed);
    assert_eq!(env.run().await, RunOutcome::Failed);
    let failing = received(stack, &queue).await;
    assert_eq!(failing.len(), 1, "one event for the change, none for the repeat: {failing:?}");
    let e = &failing[0];
    assert_eq!(
        (e["source"].as_str(), e["detail-type"].as_str()),
        (Some("acd-integrations"), Some("integration.failing"))
    );
    assert_eq!(e["detail"]["tenant_id"], "tenant-a");
    assert_eq!(e["detail"]["integration_id"], id.as_str());
    assert_eq!(e["detail"]["integration_type"], "five9");
    assert_eq!(e["detail"]["reason"], "credentials_rejected");
    assert_eq!(e["detail"]["type"], "integration.failing");

    sim.clear_faults();
    assert_eq!(env.run().await, RunOutcome::Succeeded);
    let recovered = received(stack, &queue).await;
    assert_eq!(recovered.len(), 1, "{recovered:?}");
    assert_eq!(recovered[0]["detail-type"], "integration.recovered");
    assert_eq!(recovered[0]["detail"]["reason"], "credentials_rejected", "what it recovered from");

    let (status, _, _) =
        decode(api.handle(api_request("DELETE", &format!("/integrations/{id}"), Some("tenant-a"), None)).await);
    assert_eq!(status, 204);
    let deleted = received(stack, &queue).await;
    assert_eq!(deleted.len(), 1, "{deleted:?}");
    assert_eq!(deleted[0]["detail-type"], "integration.deleted");
    assert_eq!(deleted[0]["detail"]["integration_id"], id.as_str());
    assert!(!deleted[0].to_string().contains(&sim.password()), "no credentials in events");

    // Each of the four runs wrote its EMF line (the debug log outside Lambda), with the ids as properties.
    let emf = env.emf();
    let outcomes: Vec<&str> = emf.iter().map(|d| d["Outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["succeeded", "failed", "failed", "succeeded"]);
    assert!(emf.iter().all(|d| d["_aws"]["CloudWatchMetrics"].is_array() && d["integration_id"] == id.as_str()));
    // The simulator's clock is the import's: its data is complete up to the last quarter hour before it.
    assert!((0..=900).contains(&emf[0]["DataLag"].as_i64().unwrap()), "{}", emf[0]);
    assert!((0..=900).contains(&emf[3]["DataLag"].as_i64().unwrap()), "{}", emf[3]);
    // Failing since the first failed run (wall clock): 0 for that run, the seconds since it for the next.
    let failing_for: Vec<i64> = emf[1..3].iter().map(|d| d["FailingFor"].as_i64().unwrap()).collect();
    assert!((0..=1).contains(&failing_for[0]) && (failing_for[0]..=60).contains(&failing_for[1]), "{failing_for:?}");
    // `ACD_EMF_SAMPLE=path`: keep these lines (infra/dashboard/render.py draws the dashboard mock-up from them).
    if let Ok(path) = std::env::var("ACD_EMF_SAMPLE") {
        let lines: Vec<String> = emf.iter().map(Value::to_string).collect();
        std::fs::write(path, lines.join("\n") + "\n").unwrap();
    }
}

// ---------------------------------------------------------------------------------------------------------------
// `FailingFor`: how long an integration has been failing, from the first of its failed runs in a row (the record's
// `failing_since`), not from its last success. Status times are wall-clock: "two hours ago" is made by moving the
// record's times back (the real repository, as an import or the API writes it).
// ---------------------------------------------------------------------------------------------------------------

/// Fails the import's writes as a DynamoDB outage would: its data (`BatchWriteItem`), the run's record (`PutItem` of
/// a `RUN#` item) and/or its status (`UpdateItem` that sets `status`) before they are sent; or (`status_answer_lost`)
/// the status write's answer after DynamoDB applied it (a timeout on the way back).
#[derive(Debug, Default)]
struct FailWrites {
    data: bool,
    run_record: bool,
    status: bool,
    status_answer_lost: bool,
}

/// The mark a status write whose answer is to be lost carries from the request's hook to the answer's.
const LOSE_ANSWER: &str = "fail-writes-lose-answer";

/// Whether `context`'s call is the status write (`UpdateItem` that sets `status`).
fn is_status_write(
    context: &aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef<'_>,
) -> bool {
    use aws_sdk_dynamodb::operation::update_item::UpdateItemInput;
    context
        .input()
        .downcast_ref::<UpdateItemInput>()
        .is_some_and(|u| u.update_expression.as_deref().is_some_and(|e| e.starts_with("SET #status = :status")))
}

impl aws_sdk_dynamodb::config::Intercept for FailWrites {
    fn name(&self) -> &'static str {
        "FailWrites"
    }

    fn read_before_execution(
        &self,
        context: &aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        use aws_sdk_dynamodb::operation::batch_write_item::BatchWriteItemInput;
        use aws_sdk_dynamodb::operation::put_item::PutItemInput;
        let input = context.input();
        let data = input.downcast_ref::<BatchWriteItemInput>().is_some();
        let run_record = input.downcast_ref::<PutItemInput>().is_some_and(|p| {
            p.item
                .as_ref()
                .and_then(|i| i.get("SK"))
                .and_then(|v| v.as_s().ok())
                .is_some_and(|sk| sk.starts_with("RUN#"))
        });
        let status = is_status_write(context);
        if (data && self.data) || (run_record && self.run_record) || (status && self.status) {
            return Err("injected: DynamoDB unavailable".into());
        }
        if status && self.status_answer_lost {
            cfg.interceptor_state()
                .store_append(aws_sdk_dynamodb::config::FrameworkMetadata::new(LOSE_ANSWER, None::<&str>)?);
        }
        Ok(())
    }

    fn read_before_deserialization(
        &self,
        _context: &aws_sdk_dynamodb::config::interceptors::BeforeDeserializationInterceptorContextRef<'_>,
        _runtime_components: &aws_sdk_dynamodb::config::RuntimeComponents,
        cfg: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        if cfg.load::<aws_sdk_dynamodb::config::FrameworkMetadata>().any(|m| m.name() == LOSE_ANSWER) {
            return Err("injected: the answer was lost".into());
        }
        Ok(())
    }
}

/// A status-change event is sent for a status that was saved, and only then (the import review, 2026-12-07):
/// - a run whose data, record and status writes all failed sent `integration.failing` for a status the API never
///   showed (the record's failure skipped the status write, and a failed write counted as written);
/// - a run whose record failed did not write its status at all; written now, its event is sent before the
///   invocation fails (the retry finds the status already saved, and would announce nothing).
#[tokio::test]
async fn a_status_change_event_is_sent_only_for_a_status_that_was_saved() {
    use acd_app::import::RunOutcome;
    use acd_simulators::five9::{FaultKind, FaultRule};

    let env = Failing::start().await;
    let queue = event_queue(&env.stack).await;
    assert_eq!(env.run().await, RunOutcome::Succeeded);
    let failing_writes = |fail: FailWrites| {
        let dynamodb = env.stack.clients.dynamodb().config().to_builder().interceptor(fail);
        let mut clients = env.stack.clients.clone();
        clients.set_dynamodb(aws_sdk_dynamodb::Client::from_conf(dynamodb.build()));
        // No lease hold after a failed write: the next run follows at once.
        let config = acd_app::import::ImportConfig {
            now: Some(env.sim.now()),
            in_flight_hold: std::time::Duration::ZERO,
            ..Default::default()
        };
        wiring::import_service(&env.stack.settings, &clients, env.factory.clone(), config)
    };
    let event = env.event();
    let deadline = || acd_connectors::Deadline::after(std::time::Duration::from_secs(600));
    let shown = || async {
        let path = format!("/integrations/{}", env.id);
        let (_, _, shown) = decode(env.api.handle(api_request("GET", &path, Some("tenant-a"), None)).await);
        shown["status"]["state"].as_str().unwrap().to_owned()
    };

    // A storage failure, and neither the record nor the status written: the status stays, no event.
    let all = FailWrites { data: true, run_record: true, status: true, ..FailWrites::default() };
    let run = failing_writes(all).run(&event, deadline()).await;
    assert!(run.is_err(), "the invocation fails, for Lambda's retry: {run:?}");
    assert_eq!(shown().await, "operational");
    assert_eq!(received(&env.stack, &queue).await, Vec::<Value>::new(), "no event for a status never saved");

    // The ACD refuses the credentials, the run's record fails, its status is written: shown failing, announced.
    env.sim.set_faults(vec![FaultRule::new(FaultKind::Unauthorized)]);
    let record_only = FailWrites { run_record: true, ..FailWrites::default() };
    let run = failing_writes(record_only).run(&event, deadline()).await;
    assert!(run.is_err(), "{run:?}");
    assert_eq!(shown().await, "failing");
    let events = received(&env.stack, &queue).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(
        (events[0]["detail-type"].as_str(), events[0]["detail"]["reason"].as_str()),
        (Some("integration.failing"), Some("credentials_rejected"))
    );

    // The ACD answers again; the status write is applied but its answer lost: the record says the run's status, so
    // the recovery is announced (the retry would see no change).
    env.sim.clear_faults();
    let lost = FailWrites { status_answer_lost: true, ..FailWrites::default() };
    let run = failing_writes(lost).run(&event, deadline()).await;
    assert!(run.is_err(), "{run:?}");
    assert_eq!(shown().await, "operational");
    let events = received(&env.stack, &queue).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["detail-type"], "integration.recovered");
}

/// A Five9 integration against the simulator, its import and API, and the EMF lines of its runs.
struct Failing {
    logs: acd_test_harness::LogCapture,
    sim: acd_simulators::five9::Five9Simulator,
    stack: AwsStack,
    api: IntegrationsApi,
    import: acd_app::import::ImportService,
    /// The connectors the import was built with (pointing at the simulator).
    factory: acd_connectors::ConnectorFactory,
    id: String,
}

impl Failing {
    async fn start() -> Failing {
        use acd_connectors::{ConnectorFactory, Endpoints, HttpClient};
        use acd_simulators::five9::{Five9SimConfig, Five9Simulator};

        let logs = acd_test_harness::LogCapture::install();
        let sim = Five9Simulator::start(Five9SimConfig::default()).await.unwrap();
        let stack = AwsStack::start().await;
        let factory = ConnectorFactory::new(
            HttpClient::new().unwrap(),
            Endpoints::default().with_var("FIVE9_BASE_URL", sim.base_url()),
        );
        let verifier = Arc::new(acd_app::verifier::ConnectorVerifier { factory: factory.clone() });
        let auth = TenantAuth::JwtClaim(TenantAuth::DEFAULT_CLAIM.into());
        let api = wiring::integrations_api(&stack.settings, &stack.clients, verifier, auth);
        let config = acd_app::import::ImportConfig { now: Some(sim.now()), ..Default::default() };
        let import = wiring::import_service(&stack.settings, &stack.clients, factory.clone(), config);
        let body = json!({"name": "Failing", "type": "five9",
            "credentials": {"username": sim.username(), "password": sim.password()},
            "settings": {"region": "us", "grouping": "campaign", "history_days": 1}});
        let (status, _, created) =
            decode(api.handle(api_request("POST", "/integrations", Some("tenant-a"), Some(&body))).await);
        assert_eq!(status, 201, "{created}");
        let id = created["id"].as_str().unwrap().to_owned();
        Failing { logs, sim, stack, api, import, factory, id }
    }

    /// The event of a run started at once (as sync now).
    fn event(&self) -> acd_app::import::ImportEvent {
        acd_app::import::ImportEvent { tenant_id: "tenant-a".into(), integration_id: self.id.clone(), at_once: true }
    }

    /// One run started at once (as sync now), at the simulator's clock.
    async fn run(&self) -> acd_app::import::RunOutcome {
        let deadline = acd_connectors::Deadline::after(std::time::Duration::from_secs(600));
        self.import.run(&self.event(), deadline).await.unwrap().outcome
    }

    /// A failed run (the simulator refusing the credentials): its `FailingFor`.
    async fn failed_run(&self) -> i64 {
        use acd_simulators::five9::{FaultKind, FaultRule};
        self.sim.set_faults(vec![FaultRule::new(FaultKind::Unauthorized)]);
        assert_eq!(self.run().await, acd_app::import::RunOutcome::Failed);
        let emf = self.emf();
        let last = emf.last().unwrap();
        assert_eq!(last["Outcome"], "failed", "{last}");
        last["FailingFor"].as_i64().unwrap_or_else(|| panic!("no FailingFor: {last}"))
    }

    /// A partial run (the API user busy, as another tool logged in with it: not a failure).
    async fn partial_run(&self) {
        use acd_simulators::five9::{FaultKind, FaultRule};
        self.sim.set_faults(vec![FaultRule::new(FaultKind::UserBusy)]);
        assert_eq!(self.run().await, acd_app::import::RunOutcome::Partial);
    }

    /// The EMF lines of the integration's runs (the debug log outside Lambda), oldest first.
    fn emf(&self) -> Vec<Value> {
        self.logs
            .contents()
            .lines()
            .filter(|l| l.contains("import run metrics") && l.contains(&self.id))
            .map(|l| serde_json::from_str(&l[l.find("emf=").unwrap() + 4..]).unwrap())
            .collect()
    }

    async fn record(&self) -> acd_domain::Integration {
        let repo = wiring::dynamo_store(&self.stack.settings, &self.stack.clients);
        let tenant = acd_domain::TenantId::parse("tenant-a").unwrap();
        acd_app::ports::IntegrationRepo::get(&repo, &tenant, self.id.parse().unwrap()).await.unwrap().unwrap()
    }

    /// Changes the stored record as `change` says (a conditional write like the API's).
    async fn rewrite(&self, change: impl FnOnce(&mut acd_domain::Integration)) {
        let repo = wiring::dynamo_store(&self.stack.settings, &self.stack.clients);
        let before = self.record().await;
        let mut after = before.clone();
        change(&mut after);
        after.version = before.version + 1;
        acd_app::ports::IntegrationRepo::update(&repo, &before, &after).await.unwrap();
    }

    /// The stored item's attributes.
    async fn item(&self) -> std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue> {
        use aws_sdk_dynamodb::types::AttributeValue::S;
        let tenant = acd_domain::TenantId::parse("tenant-a").unwrap();
        let out = (self.stack.clients.dynamodb().get_item())
            .table_name(&self.stack.settings.table_name)
            .key("PK", S(acd_aws::keys::tenant_pk(&tenant)))
            .key("SK", S(acd_aws::keys::integration_sk(self.id.parse().unwrap())))
            .send()
            .await
            .unwrap();
        out.item.unwrap()
    }

    /// An admin call of the integrations API, checked against the spec.
    async fn call(&self, method: &str, path: &str) -> (u16, Value) {
        let (status, content_type, body) =
            decode(self.api.handle(api_request(method, path, Some("tenant-a"), None)).await);
        spec().check(method, path, status, &content_type, &body);
        (status, body)
    }
}

/// An integration that only ever had partial runs (a back-fill paced over two hours, never a success) is not
/// failing for two hours at its first failed run: `FailingFor` is 0 then, grows with the runs that go on failing,
/// and starts again after a partial run. (Counted from the last success, or creation, it was over 7,200 at once,
/// and the one-hour alarm fired on the first transient failure.)
#[tokio::test]
async fn failing_for_counts_from_the_first_failed_run_after_hours_of_partial_runs() {
    let env = Failing::start().await;
    env.partial_run().await;
    env.partial_run().await;
    let two_hours_ago = chrono::Utc::now() - chrono::Duration::hours(2);
    env.rewrite(|i| {
        i.created_at = two_hours_ago;
        i.status.last_run_at = Some(two_hours_ago + chrono::Duration::minutes(105));
    })
    .await;
    let record = env.record().await;
    assert_eq!((record.status.last_success_at, record.failing_since), (None, None), "{record:?}");

    let before = chrono::Utc::now();
    let first = env.failed_run().await;
    assert!((0..=1).contains(&first), "the first failed run has been failing for no time: {first}");
    let since = env.record().await.failing_since.expect("a failing record says since when");
    assert!(since >= before && since <= chrono::Utc::now(), "{since} (the run's end)");
    // The API shows the status as documented: `failing_since` is the record's, not the API's.
    let (status, shown) = env.call("GET", &format!("/integrations/{}", env.id)).await;
    assert_eq!((status, shown["status"]["state"].as_str()), (200, Some("failing")), "{shown}");
    assert!(!shown.to_string().contains("failing_since"), "{shown}");

    // The next failed runs count from the first one.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let second = env.failed_run().await;
    let elapsed = (chrono::Utc::now() - since).num_seconds();
    assert!((2..=elapsed).contains(&second) && second > first, "{second} s, the first failure {elapsed} s ago");
    assert_eq!(env.record().await.failing_since, Some(since), "kept while it goes on failing");

    // A partial run ends the failure (`importing` again): the next failure starts anew.
    env.partial_run().await;
    assert_eq!(env.record().await.failing_since, None);
    assert!(!env.item().await.contains_key("failing_since"), "removed from the item");
    let again = env.failed_run().await;
    assert!((0..=1).contains(&again), "{again}");
}

/// A failed catch-up run after a day's pause reports the time since itself, not since the last success before the
/// pause (about 86,400 s, and the alarm at once). Pause and resume end a failure: a failure before the pause does
/// not go on counting either.
#[tokio::test]
async fn a_failed_catch_up_run_after_a_days_pause_has_been_failing_for_no_time() {
    let env = Failing::start().await;
    assert_eq!(env.run().await, acd_app::import::RunOutcome::Succeeded);
    assert!((0..=1).contains(&env.failed_run().await));
    assert!(env.record().await.failing_since.is_some());

    let path = format!("/integrations/{}", env.id);
    let (status, paused) = env.call("POST", &format!("{path}/pause")).await;
    assert_eq!((status, paused["status"]["state"].as_str()), (200, Some("paused")), "{paused}");
    assert_eq!(env.record().await.failing_since, None, "a paused integration is not failing");
    // A day later (the record as the runs before the pause left it, a day older).
    let day = chrono::Duration::days(1);
    env.rewrite(|i| {
        i.failing_since = i.failing_since.map(|t| t - day);
        i.created_at -= day;
        i.status.last_success_at = i.status.last_success_at.map(|t| t - day);
        i.status.last_run_at = i.status.last_run_at.map(|t| t - day);
    })
    .await;
    let (status, resumed) = env.call("POST", &format!("{path}/resume")).await;
    assert_eq!((status, resumed["status"]["state"].as_str()), (200, Some("importing")), "{resumed}");
    assert_eq!(env.record().await.failing_since, None);

    // The catch-up run fails (the credentials still refused): failing since that run.
    let catch_up = env.failed_run().await;
    assert!((0..=1).contains(&catch_up), "{catch_up} s");
    let record = env.record().await;
    assert!(chrono::Utc::now() - record.status.last_success_at.unwrap() > day, "{record:?}");
}

/// A record written before `failing_since` existed (failing, without it) stays readable, and its next failed run
/// counts from the record's last run (which failed), not from its last success five hours ago; that start is then
/// kept, so the runs after it count on from it.
#[tokio::test]
async fn a_record_failing_from_before_failing_since_counts_from_its_last_failed_run() {
    let env = Failing::start().await;
    assert_eq!(env.run().await, acd_app::import::RunOutcome::Succeeded);
    env.failed_run().await;
    let now = chrono::Utc::now();
    let last_run = now - chrono::Duration::minutes(10);
    env.rewrite(|i| {
        i.failing_since = None;
        i.status.last_success_at = Some(now - chrono::Duration::hours(5));
        i.status.last_run_at = Some(last_run);
    })
    .await;
    assert!(!env.item().await.contains_key("failing_since"), "as an item written before");
    let (status, shown) = env.call("GET", &format!("/integrations/{}", env.id)).await;
    assert_eq!((status, shown["status"]["state"].as_str()), (200, Some("failing")), "{shown}");

    let failing_for = env.failed_run().await;
    assert!((600..=660).contains(&failing_for), "{failing_for} s: since the last failed run, 10 minutes ago");
    let kept = env.record().await.failing_since.unwrap();
    assert_eq!(kept.timestamp_millis(), last_run.timestamp_millis());
}

/// A run in flight across a pause and a resume that then fails counts its failure from itself: the pause and resume
/// ended the failure the run read when it started (failing for a day). Until 2026-12-07 the run wrote that day-old
/// `failing_since` back, and the one-hour alarm fired at once for a failure the resume had ended.
#[tokio::test]
async fn a_run_in_flight_across_a_pause_and_resume_counts_its_failure_from_itself() {
    use acd_simulators::five9::{FaultKind, FaultRule};
    let env = Failing::start().await;
    assert_eq!(env.run().await, acd_app::import::RunOutcome::Succeeded);
    env.failed_run().await;
    let day_ago = chrono::Utc::now() - chrono::Duration::days(1);
    env.rewrite(|i| i.failing_since = Some(day_ago)).await;

    // The run's first ACD request is held for 2 s (the record read, failing for a day), and the next are refused.
    env.sim.set_faults(vec![
        FaultRule::new(FaultKind::Delay { ms: 2_000 }).times(1),
        FaultRule::new(FaultKind::Unauthorized),
    ]);
    let path = format!("/integrations/{}", env.id);
    let admin = async {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let (status, paused) = env.call("POST", &format!("{path}/pause")).await;
        assert_eq!((status, paused["status"]["state"].as_str()), (200, Some("paused")), "{paused}");
        let (status, resumed) = env.call("POST", &format!("{path}/resume")).await;
        assert_eq!((status, resumed["status"]["state"].as_str()), (200, Some("importing")), "{resumed}");
        chrono::Utc::now()
    };
    let (outcome, resumed_at) = tokio::join!(env.run(), admin);
    assert_eq!(outcome, acd_app::import::RunOutcome::Failed);

    let record = env.record().await;
    assert_eq!(record.status.state, acd_domain::IntegrationState::Failing, "{record:?}");
    let since = record.failing_since.expect("failing since the run");
    assert!(since >= resumed_at, "failing since {since}, resumed at {resumed_at}: the failure before the pause counts");
    let emf = env.emf();
    let failing_for = emf.last().unwrap()["FailingFor"].as_i64().unwrap();
    assert!((0..=1).contains(&failing_for), "{failing_for} s");

    // The next failed run counts on from it.
    assert!(env.failed_run().await >= 0);
    assert_eq!(env.record().await.failing_since, Some(since));
}
