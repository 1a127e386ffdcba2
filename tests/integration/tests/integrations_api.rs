//! The integrations API end to end: the real handler (`IntegrationsApi::handle`) with API Gateway v2 requests,
//! against DynamoDB, Secrets Manager and EventBridge Scheduler emulated by a moto server started per test.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use acd_app::http::TenantAuth;
use acd_app::http::integrations::IntegrationsApi;
use acd_app::ports::{CredentialVerifier, SecretStore, StoreError};
use acd_aws::wiring;
use acd_integration_tests::openapi::spec;
use acd_integration_tests::{
    FailingSchedules, FakeAcd, REJECTED_SECRET, RacingRepo, api_request, decode, through_api_gateway,
};
use acd_test_harness::{AwsStack, LogCapture};
use serde_json::{Value, json};

struct Env {
    stack: AwsStack,
    api: IntegrationsApi,
}

impl Env {
    async fn start() -> Env {
        let stack = AwsStack::start().await;
        let api = wiring::integrations_api(
            &stack.settings,
            &stack.clients,
            Arc::new(FakeAcd),
            TenantAuth::JwtClaim(TenantAuth::DEFAULT_CLAIM.into()),
        );
        Env { stack, api }
    }

    /// Calls the handler through API Gateway (its own 404 for a request of no route) and checks the answer against
    /// the OpenAPI spec.
    async fn call(&self, method: &str, path: &str, tenant: Option<&str>, body: Option<&Value>) -> (u16, String, Value) {
        let answer = decode(through_api_gateway(method, path, tenant, body, |r| self.api.handle(r)).await);
        spec().check(method, path, answer.0, &answer.1, &answer.2);
        answer
    }

    async fn table_items(&self) -> Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
        let out =
            self.stack.clients.dynamodb().scan().table_name(&self.stack.settings.table_name).send().await.unwrap();
        out.items.unwrap_or_default()
    }

    async fn secret_names(&self) -> Vec<String> {
        let out = self.stack.clients.secrets().list_secrets().send().await.unwrap();
        out.secret_list.unwrap_or_default().into_iter().filter_map(|s| s.name).collect()
    }

    async fn schedule_names(&self) -> Vec<String> {
        let out = self
            .stack
            .clients
            .scheduler()
            .list_schedules()
            .group_name(&self.stack.settings.schedule_group)
            .send()
            .await
            .unwrap();
        let mut names: Vec<String> = out.schedules.into_iter().filter_map(|s| s.name).collect();
        names.sort();
        names
    }
}

const PASSWORD: &str = "s3cr3t-Pa55w0rd-do-not-log";

fn five9(name: &str) -> Value {
    json!({
        "name": name,
        "type": "five9",
        "credentials": {"username": "api.user@acme.example", "password": PASSWORD},
        "settings": {"region": "us", "grouping": "skill", "skill_report": {"folder": "WFM", "name": "Call Log by Skill"}}
    })
}

fn genesys(name: &str) -> Value {
    json!({
        "name": name,
        "type": "genesys_cloud",
        "credentials": {"client_id": "5b1f7c7e-0000-4000-8000-00000000c1d0", "client_secret": PASSWORD},
        "settings": {"region": "eu_central_1", "detailed_on_queue_statuses": true, "history_days": 14}
    })
}

#[tokio::test]
async fn create_stores_record_secret_and_both_schedules() {
    let env = Env::start().await;
    let (status, _, body) =
        env.call("POST", "/integrations", Some("tenant-a"), Some(&five9("  Five9 – Support "))).await;
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    assert_eq!(body["name"], "Five9 – Support");
    assert_eq!(body["type"], "five9");
    assert_eq!(body["credentials"], json!({"username": "api.user@acme.example"}));
    assert_eq!(body["status"]["state"], "importing");
    assert_eq!(body["settings"]["time_zone"], "America/Los_Angeles");
    assert_eq!(body["settings"]["history_days"], 30);
    assert_eq!(body["settings"]["skill_report"], json!({"folder": "WFM", "name": "Call Log by Skill"}));

    // Location header.
    let response = env.api.handle(api_request("POST", "/integrations", Some("tenant-a"), Some(&five9("Other")))).await;
    let location = response.headers().get("location").unwrap().to_str().unwrap().to_owned();
    let (_, _, other) = decode(response);
    assert_eq!(location, format!("/integrations/{}", other["id"].as_str().unwrap()));

    // The record: keyed under the tenant, no secret material anywhere in it.
    let items = env.table_items().await;
    let record = items.iter().find(|i| i["SK"].as_s().unwrap() == &format!("INT#{id}")).expect("record");
    assert_eq!(record["PK"].as_s().unwrap(), "T#tenant-a");
    let dump = format!("{items:?}");
    assert!(!dump.contains(PASSWORD), "secret leaked into the table");
    assert!(items.iter().any(|i| i["SK"].as_s().unwrap() == "NAME#five9 – support"), "name reservation");

    // The secret: named under the tenant prefix, tagged, holding the credentials.
    let secret_name = format!("acd-integrations/tenant-a/{id}");
    let secret = env.stack.clients.secrets().describe_secret().secret_id(&secret_name).send().await.unwrap();
    let tags: Vec<(String, String)> =
        secret.tags().iter().map(|t| (t.key().unwrap().to_owned(), t.value().unwrap().to_owned())).collect();
    assert!(tags.contains(&("tenant_id".into(), "tenant-a".into())));
    assert!(tags.contains(&("integration_id".into(), id.clone())));
    let value = env.stack.clients.secrets().get_secret_value().secret_id(&secret_name).send().await.unwrap();
    let stored: Value = serde_json::from_str(value.secret_string().unwrap()).unwrap();
    assert_eq!(stored, json!({"type": "five9", "username": "api.user@acme.example", "password": PASSWORD}));

    // The schedules.
    let recurring = env.stack.schedule(&format!("imp-{id}")).await.expect("the recurring schedule");
    // Every quarter hour, at a minute of the integration's own that keeps each run (fired up to the 5-minute window
    // and Scheduler's minute later) inside its quarter hour.
    let expected = acd_aws::scheduler::recurring_expression("quarter-hourly", id.parse().unwrap(), 5);
    assert_eq!(recurring.schedule_expression(), Some(expected.as_str()));
    let minute: u32 = expected.strip_prefix("cron(").unwrap().split('/').next().unwrap().parse().unwrap();
    assert!(minute + 5 < 14 && expected.ends_with("/15 * * * ? *)"), "{expected}");
    assert_eq!(recurring.state().map(|s| s.as_str()), Some("ENABLED"));
    let window = recurring.flexible_time_window().unwrap();
    assert_eq!(window.mode().as_str(), "FLEXIBLE");
    assert_eq!(window.maximum_window_in_minutes(), Some(5));
    let target = recurring.target().unwrap();
    assert_eq!(target.arn(), AwsStack::IMPORT_FUNCTION_ARN);
    assert_eq!(target.role_arn(), AwsStack::SCHEDULER_ROLE_ARN);
    let input: Value = serde_json::from_str(target.input().unwrap()).unwrap();
    assert_eq!(input, json!({"tenant_id": "tenant-a", "integration_id": id}));
    assert!(target.dead_letter_config().is_some());

    let once = env.stack.schedule(&format!("now-{id}")).await.expect("the one-time schedule");
    let expression = once.schedule_expression().unwrap();
    assert!(expression.starts_with("at(") && expression.ends_with(')'), "{expression}");
    let at = chrono::NaiveDateTime::parse_from_str(&expression[3..expression.len() - 1], "%Y-%m-%dT%H:%M:%S").unwrap();
    let lead = at.and_utc() - chrono::Utc::now();
    assert!(lead <= chrono::Duration::seconds(10) && lead >= chrono::Duration::seconds(-60), "first import at {at}");
    assert_eq!(once.action_after_completion().map(|a| a.as_str()), Some("DELETE"));
    // The first import was asked for: it runs even in a quarter hour already imported (the recurring one's does not).
    let once_input: Value = serde_json::from_str(once.target().unwrap().input().unwrap()).unwrap();
    assert_eq!(once_input, json!({"tenant_id": "tenant-a", "integration_id": id, "at_once": true}));
}

#[tokio::test]
async fn duplicate_and_case_variant_names_conflict() {
    let env = Env::start().await;
    assert_eq!(env.call("POST", "/integrations", Some("tenant-a"), Some(&five9("Five9 Sales"))).await.0, 201);
    for variant in ["Five9 Sales", "five9 sales", "  FIVE9   SALES "] {
        let (status, content_type, body) =
            env.call("POST", "/integrations", Some("tenant-a"), Some(&genesys(variant))).await;
        assert_eq!(status, 409, "{variant}: {body}");
        assert_eq!(content_type, "application/problem+json");
        assert_eq!(body["code"], "name-taken");
        assert_eq!(body["type"], "urn:acd-integrations:problem:name-taken");
    }
    // Another tenant may use the same name.
    assert_eq!(env.call("POST", "/integrations", Some("tenant-b"), Some(&five9("Five9 Sales"))).await.0, 201);
    assert_eq!(env.secret_names().await.len(), 2, "no secret left by the refused creates");
    assert_eq!(env.schedule_names().await.len(), 4);
}

#[tokio::test]
async fn twenty_concurrent_creates_with_one_name_make_exactly_one_integration() {
    let env = Env::start().await;
    let calls = (0..20).map(|i| {
        let body = if i % 2 == 0 { five9("Race") } else { genesys("race") };
        let api = env.api.clone();
        async move { decode(api.handle(api_request("POST", "/integrations", Some("tenant-a"), Some(&body))).await).0 }
    });
    let statuses = futures::future::join_all(calls).await;
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 19, "{statuses:?}");
    let (_, _, list) = env.call("GET", "/integrations", Some("tenant-a"), None).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(env.secret_names().await.len(), 1);
    assert_eq!(env.schedule_names().await.len(), 2);
}

#[tokio::test]
async fn bad_bodies_get_400_naming_every_field_and_write_nothing() {
    let env = Env::start().await;
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (
            json!({"name": "", "type": "five9", "credentials": {"username": "u"}, "settings": {"region": "mars", "grouping": "skill"}}),
            vec!["/credentials/password", "/name", "/settings/region", "/settings/skill_report"],
        ),
        (
            json!({"name": "x".repeat(101), "type": "genesys_cloud", "credentials": {"client_id": "c", "client_secret": "s", "extra": 1},
                "settings": {"region": "us-east-1", "detailed_on_queue_statuses": "yes", "history_days": 9999}}),
            vec![
                "/credentials/extra",
                "/name",
                "/settings/detailed_on_queue_statuses",
                "/settings/history_days",
                "/settings/region",
            ],
        ),
        (json!({"name": "n", "type": "avaya"}), vec!["/type"]),
        (
            json!({"name": 7, "type": "five9", "credentials": "u:p", "settings": [], "tenant_id": "tenant-b"}),
            vec!["/credentials", "/name", "/settings", "/tenant_id"],
        ),
        (json!("just a string"), vec!["/"]),
    ];
    for (body, mut expected) in cases {
        let (status, content_type, problem) = env.call("POST", "/integrations", Some("tenant-a"), Some(&body)).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(content_type, "application/problem+json");
        assert_eq!(problem["code"], "validation-failed");
        let mut fields: Vec<&str> =
            problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        fields.sort();
        expected.sort();
        assert_eq!(fields, expected, "{body}: {problem}");
        for error in problem["errors"].as_array().unwrap() {
            assert!(!error["message"].as_str().unwrap().is_empty());
        }
    }
    // Not JSON at all.
    let mut request = api_request("POST", "/integrations", Some("tenant-a"), None);
    *request.body_mut() = lambda_http::Body::Text("{\"name\": ".into());
    let (status, _, problem) = decode(env.api.handle(request).await);
    assert_eq!((status, problem["code"].as_str()), (400, Some("invalid-json")));
    // Rejected credentials: 422, nothing stored.
    let mut body = five9("Rejected");
    body["credentials"]["password"] = REJECTED_SECRET.into();
    let (status, _, problem) = env.call("POST", "/integrations", Some("tenant-a"), Some(&body)).await;
    assert_eq!((status, problem["code"].as_str()), (422, Some("credentials-rejected")));

    assert!(env.table_items().await.is_empty());
    assert!(env.secret_names().await.is_empty());
    assert!(env.schedule_names().await.is_empty());
}

#[tokio::test]
async fn other_tenants_can_neither_see_nor_change_an_integration() {
    let env = Env::start().await;
    let (_, _, created) = env.call("POST", "/integrations", Some("tenant-a"), Some(&five9("Mine"))).await;
    let id = created["id"].as_str().unwrap();
    let path = format!("/integrations/{id}");
    let unknown = format!("/integrations/{}", acd_domain::IntegrationId::new());
    for (method, p, body) in [
        ("GET", path.clone(), None),
        ("PATCH", path.clone(), Some(json!({"name": "Stolen"}))),
        ("DELETE", path.clone(), None),
        ("POST", format!("{path}/pause"), None),
        ("POST", format!("{path}/resume"), None),
    ] {
        let theirs = env.call(method, &p, Some("tenant-b"), body.as_ref()).await;
        assert_eq!(theirs.0, 404, "{method} {p}");
        // Indistinguishable from an id that does not exist at all.
        let missing = env.call(method, &p.replace(&path, &unknown), Some("tenant-b"), body.as_ref()).await;
        assert_eq!((theirs.0, theirs.2["code"].clone()), (missing.0, missing.2["code"].clone()));
    }
    let (_, _, list) = env.call("GET", "/integrations", Some("tenant-b"), None).await;
    assert_eq!(list["items"], json!([]));
    let (status, _, still) = env.call("GET", &path, Some("tenant-a"), None).await;
    assert_eq!(
        (status, still["name"].as_str(), still["status"]["state"].as_str()),
        (200, Some("Mine"), Some("importing"))
    );
    assert_eq!(env.schedule_names().await.len(), 2);
    assert_eq!(env.secret_names().await.len(), 1);
}

#[tokio::test]
async fn requests_without_a_tenant_claim_are_401_and_the_header_is_ignored_unless_configured() {
    let env = Env::start().await;
    let (status, content_type, problem) = env.call("GET", "/integrations", None, None).await;
    assert_eq!(
        (status, content_type.as_str(), problem["code"].as_str()),
        (401, "application/problem+json", Some("unauthenticated"))
    );
    // An X-Tenant-Id header does not count in the default (JWT) mode.
    let mut request = api_request("GET", "/integrations", None, None);
    request.headers_mut().insert("x-tenant-id", "tenant-a".parse().unwrap());
    assert_eq!(decode(env.api.handle(request).await).0, 401);
    // In header mode (local run only) it does.
    let header_api = IntegrationsApi { auth: TenantAuth::Header, ..env.api.clone() };
    let mut request = api_request("GET", "/integrations", None, None);
    request.headers_mut().insert("x-tenant-id", "tenant-a".parse().unwrap());
    assert_eq!(decode(header_api.handle(request).await).0, 200);
    // A malformed tenant id is no tenant.
    assert_eq!(env.call("GET", "/integrations", Some("a/b"), None).await.0, 401);
}

#[tokio::test]
async fn delete_removes_secret_and_schedules_and_frees_the_name() {
    let env = Env::start().await;
    let (_, _, created) = env.call("POST", "/integrations", Some("tenant-a"), Some(&genesys("Doomed"))).await;
    let (_, _, kept) = env.call("POST", "/integrations", Some("tenant-a"), Some(&five9("Kept"))).await;
    let id = created["id"].as_str().unwrap();
    let (status, _, _) = env.call("DELETE", &format!("/integrations/{id}"), Some("tenant-a"), None).await;
    assert_eq!(status, 204);
    assert_eq!(env.call("GET", &format!("/integrations/{id}"), Some("tenant-a"), None).await.0, 404);
    assert_eq!(env.call("DELETE", &format!("/integrations/{id}"), Some("tenant-a"), None).await.0, 404);
    let kept_id = kept["id"].as_str().unwrap();
    assert_eq!(env.secret_names().await, vec![format!("acd-integrations/tenant-a/{kept_id}")]);
    assert_eq!(env.schedule_names().await, vec![format!("imp-{kept_id}"), format!("now-{kept_id}")]);
    assert_eq!(env.call("POST", "/integrations", Some("tenant-a"), Some(&five9("doomed"))).await.0, 201);
}

/// A resume starts its catch-up import only once the record says `importing`: an import started while the record
/// still said `paused` (until 2026-12-06 the import was started before the status was saved) skips it as paused,
/// and the catch-up waits for the schedule's next run.
#[tokio::test]
async fn a_resume_starts_its_catch_up_import_after_the_record_says_importing() {
    let env = Env::start().await;
    let schedules = Arc::new(FailingSchedules {
        watch: Some(env.api.service.repo.clone()),
        ..FailingSchedules::new(Arc::new(wiring::schedules(&env.stack.settings, &env.stack.clients)))
    });
    let mut api = env.api.clone();
    api.service.schedules = schedules.clone();
    let call = async |method: &str, path: &str, body: Option<&Value>| {
        decode(api.handle(api_request(method, path, Some("tenant-a"), body)).await)
    };
    let (status, _, created) = call("POST", "/integrations", Some(&genesys("Resumed"))).await;
    assert_eq!(status, 201, "{created}");
    let path = format!("/integrations/{}", created["id"].as_str().unwrap());
    assert_eq!(call("POST", &format!("{path}/pause"), None).await.0, 200);
    let (status, _, resumed) = call("POST", &format!("{path}/resume"), None).await;
    assert_eq!((status, resumed["status"]["state"].as_str()), (200, Some("importing")));
    // The resume's catch-up (the first import is started by `create`).
    assert_eq!(*schedules.states_at_run_now.lock().unwrap(), [acd_domain::IntegrationState::Importing]);
}

/// A pause that lands between a create's record and its schedules (the record is listed and pausable at once) finds
/// no schedule to disable; the create then writes them enabled. Until 2026-12-07 they stayed so under a paused record
/// (Lambda invoked every quarter hour for runs that skip); the create now makes them follow the record.
#[tokio::test]
async fn a_pause_between_a_creates_record_and_its_schedules_leaves_them_disabled() {
    let env = Env::start().await;
    let schedules = Arc::new(FailingSchedules {
        watch: Some(env.api.service.repo.clone()),
        before_create: std::sync::Mutex::new(Some(Box::new(|record| {
            record.status.state = acd_domain::IntegrationState::Paused;
        }))),
        ..FailingSchedules::new(Arc::new(wiring::schedules(&env.stack.settings, &env.stack.clients)))
    });
    let mut api = env.api.clone();
    api.service.schedules = schedules.clone();
    let (status, _, created) = decode(
        api.handle(api_request("POST", "/integrations", Some("tenant-a"), Some(&genesys("Paused early")))).await,
    );
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap();
    let (_, _, read) = env.call("GET", &format!("/integrations/{id}"), Some("tenant-a"), None).await;
    assert_eq!(read["status"]["state"], "paused", "{read}");
    let schedule = env.stack.schedule(&format!("imp-{id}")).await.expect("the schedule");
    assert_eq!(schedule.state().unwrap().as_str(), "DISABLED", "as the record says");
}

#[tokio::test]
async fn a_scheduler_failure_after_the_secret_was_created_leaves_nothing_behind() {
    let env = Env::start().await;
    let schedules = Arc::new(FailingSchedules {
        fail_create: AtomicBool::new(true),
        ..FailingSchedules::new(Arc::new(wiring::schedules(&env.stack.settings, &env.stack.clients)))
    });
    let mut api = env.api.clone();
    api.service.schedules = schedules;
    let (status, content_type, problem) =
        decode(api.handle(api_request("POST", "/integrations", Some("tenant-a"), Some(&five9("Flaky")))).await);
    assert_eq!((status, content_type.as_str()), (503, "application/problem+json"));
    assert_eq!(problem["code"], "service-unavailable");
    assert!(!problem.to_string().contains("injected"), "backend details stay in the log: {problem}");
    // Record and name reservation rolled back; the tenant's quota counter gave the place back.
    let items = env.table_items().await;
    assert_eq!(items.len(), 1, "only the quota counter stays: {items:?}");
    assert_eq!(
        (items[0]["SK"].as_s().unwrap().as_str(), items[0]["integrations"].as_n().unwrap().as_str()),
        ("QUOTA", "0")
    );
    assert!(env.secret_names().await.is_empty(), "secret rolled back");
    assert!(env.schedule_names().await.is_empty(), "schedules rolled back");
    // The name is free again.
    assert_eq!(env.call("POST", "/integrations", Some("tenant-a"), Some(&five9("Flaky"))).await.0, 201);
}

#[tokio::test]
async fn list_pages_with_a_cursor_without_skipping_or_repeating() {
    let env = Env::start().await;
    let mut ids = Vec::new();
    for i in 0..7 {
        let (_, _, created) = env.call("POST", "/integrations", Some("tenant-a"), Some(&five9(&format!("I{i}")))).await;
        ids.push(created["id"].as_str().unwrap().to_owned());
    }
    env.call("POST", "/integrations", Some("tenant-b"), Some(&five9("B"))).await;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/integrations?limit=3&cursor={c}"),
            None => "/integrations?limit=3".to_owned(),
        };
        let (status, _, page) = env.call("GET", &path, Some("tenant-a"), None).await;
        assert_eq!(status, 200, "{page}");
        pages += 1;
        seen.extend(page["items"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, ids, "creation order, each once");
    for bad in ["/integrations?limit=0", "/integrations?limit=101", "/integrations?limit=x", "/integrations?cursor=%%%"]
    {
        let (status, _, problem) = env.call("GET", bad, Some("tenant-a"), None).await;
        assert_eq!(status, 400, "{bad}");
        let field = problem["errors"][0]["field"].as_str().unwrap();
        assert!(bad.contains(field), "{bad}: {problem}");
    }
}

#[tokio::test]
async fn patch_renames_changes_safe_settings_replaces_credentials_and_refuses_the_rest() {
    let env = Env::start().await;
    let (_, _, a) = env.call("POST", "/integrations", Some("tenant-a"), Some(&five9("Alpha"))).await;
    env.call("POST", "/integrations", Some("tenant-a"), Some(&genesys("Beta"))).await;
    let path = format!("/integrations/{}", a["id"].as_str().unwrap());

    let (status, _, problem) = env.call("PATCH", &path, Some("tenant-a"), Some(&json!({"name": "BETA"}))).await;
    assert_eq!((status, problem["code"].as_str()), (409, Some("name-taken")));
    let (status, _, problem) =
        env.call("PATCH", &path, Some("tenant-a"), Some(&json!({"settings": {"grouping": "campaign"}}))).await;
    assert_eq!(
        (status, problem["errors"][0]["field"].as_str(), problem["errors"][0]["code"].as_str()),
        (400, Some("/settings/grouping"), Some("immutable"))
    );

    let patch = json!({"name": "Alpha (US)", "settings": {"history_days": 7, "time_zone": "America/New_York"},
                       "credentials": {"username": "new.user", "password": "n3w-pa55"}});
    let (status, _, updated) = env.call("PATCH", &path, Some("tenant-a"), Some(&patch)).await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["name"], "Alpha (US)");
    assert_eq!(updated["settings"]["history_days"], 7);
    assert_eq!(updated["settings"]["time_zone"], "America/New_York");
    assert_eq!(updated["settings"]["grouping"], "skill");
    assert_eq!(updated["credentials"], json!({"username": "new.user"}));
    let secret = env
        .stack
        .clients
        .secrets()
        .get_secret_value()
        .secret_id(format!("acd-integrations/tenant-a/{}", a["id"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert!(secret.secret_string().unwrap().contains("n3w-pa55"));
    // The old name is free, the new one taken; a case change of one's own name is fine.
    assert_eq!(env.call("POST", "/integrations", Some("tenant-a"), Some(&five9("alpha"))).await.0, 201);
    assert_eq!(env.call("POST", "/integrations", Some("tenant-a"), Some(&five9("alpha (us)"))).await.0, 409);
    assert_eq!(env.call("PATCH", &path, Some("tenant-a"), Some(&json!({"name": "ALPHA (US)"}))).await.0, 200);
    // Rejected new credentials: 422 and the old ones stay.
    let (status, _, _) = env
        .call(
            "PATCH",
            &path,
            Some("tenant-a"),
            Some(&json!({"credentials": {"username": "x", "password": REJECTED_SECRET}})),
        )
        .await;
    assert_eq!(status, 422);
    let (_, _, current) = env.call("GET", &path, Some("tenant-a"), None).await;
    assert_eq!(current["credentials"], json!({"username": "new.user"}));
}

#[tokio::test]
async fn the_whole_flow_create_list_get_patch_pause_resume_delete() {
    let env = Env::start().await;
    let (status, _, created) = env.call("POST", "/integrations", Some("tenant-a"), Some(&genesys("Genesys EU"))).await;
    assert_eq!(status, 201);
    let id = created["id"].as_str().unwrap().to_owned();
    let path = format!("/integrations/{id}");
    let (_, _, list) = env.call("GET", "/integrations", Some("tenant-a"), None).await;
    assert_eq!(list["items"][0]["id"], created["id"]);
    assert_eq!(list["next_cursor"], Value::Null);
    let (_, _, got) = env.call("GET", &path, Some("tenant-a"), None).await;
    assert_eq!(got, created);
    let (status, _, patched) = env
        .call("PATCH", &path, Some("tenant-a"), Some(&json!({"settings": {"detailed_on_queue_statuses": false}})))
        .await;
    assert_eq!((status, &patched["settings"]["detailed_on_queue_statuses"]), (200, &json!(false)));

    let schedule_state = || async {
        let s = env.stack.schedule(&format!("imp-{id}")).await.expect("the schedule");
        (s.state().unwrap().as_str().to_owned(), s.target().unwrap().input().unwrap().to_owned())
    };
    let (status, _, paused) = env.call("POST", &format!("{path}/pause"), Some("tenant-a"), None).await;
    assert_eq!((status, paused["status"]["state"].as_str()), (200, Some("paused")));
    let (state, input) = schedule_state().await;
    assert_eq!(state, "DISABLED");
    assert_eq!(serde_json::from_str::<Value>(&input).unwrap(), json!({"tenant_id": "tenant-a", "integration_id": id}));
    let (_, _, again) = env.call("POST", &format!("{path}/pause"), Some("tenant-a"), None).await;
    assert_eq!(again["status"]["state"], "paused");
    let (status, _, resumed) = env.call("POST", &format!("{path}/resume"), Some("tenant-a"), None).await;
    assert_eq!((status, resumed["status"]["state"].as_str()), (200, Some("importing")));
    assert_eq!(schedule_state().await.0, "ENABLED");
    assert!(env.schedule_names().await.contains(&format!("now-{id}")), "resume starts a catch-up import");

    assert_eq!(env.call("DELETE", &path, Some("tenant-a"), None).await.0, 204);
    assert!(env.schedule_names().await.is_empty());
    assert!(env.secret_names().await.is_empty());
    assert_eq!(env.call("GET", &path, Some("tenant-a"), None).await.0, 404);
}

#[tokio::test]
async fn integration_types_and_unknown_routes() {
    let env = Env::start().await;
    let (status, _, types) = env.call("GET", "/integration-types", Some("tenant-a"), None).await;
    assert_eq!(status, 200);
    let kinds: Vec<&str> = types["items"].as_array().unwrap().iter().map(|t| t["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, vec!["five9", "genesys_cloud", "amazon_connect", "push"]);
    let connect = &types["items"][2];
    assert_eq!(
        connect["tenant_token"],
        json!({"field": "external_id", "path": "/integrations/amazon-connect/external-id"})
    );
    let fields: Vec<&str> =
        connect["credentials"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(fields, ["role_arn"], "the external id is not a form field: the server sets it");
    let history = connect["settings"].as_array().unwrap().last().unwrap();
    assert_eq!((history["name"].as_str(), history["maximum"].as_u64()), (Some("history_days"), Some(88)));
    assert_eq!(env.call("GET", "/nope", Some("tenant-a"), None).await.0, 404);
    // No route of that method: API Gateway's 404 (the spec check holds the body to it).
    assert_eq!(env.call("PUT", "/integrations", Some("tenant-a"), None).await.0, 404);
    assert_eq!(env.call("GET", "/integrations/not-a-uuid", Some("tenant-a"), None).await.0, 404);
}

#[tokio::test]
async fn no_secret_reaches_a_response_or_a_log_line() {
    let logs = LogCapture::install();
    let env = Env::start().await;
    let mut bodies = Vec::new();
    let (_, _, created) = env.call("POST", "/integrations", Some("tenant-a"), Some(&five9("Quiet"))).await;
    let path = format!("/integrations/{}", created["id"].as_str().unwrap());
    bodies.push(created);
    bodies.push(env.call("POST", "/integrations", Some("tenant-a"), Some(&genesys("Quiet GC"))).await.2);
    bodies.push(env.call("POST", "/integrations", Some("tenant-a"), Some(&five9("quiet"))).await.2);
    bodies.push(env.call("POST", "/integrations/test-connection", Some("tenant-a"), Some(&five9("Probe"))).await.2);
    let mut bad = five9("");
    bad["settings"]["region"] = "nowhere".into();
    bodies.push(env.call("POST", "/integrations", Some("tenant-a"), Some(&bad)).await.2);
    bodies.push(env.call("GET", "/integrations", Some("tenant-a"), None).await.2);
    bodies.push(env.call("GET", &path, Some("tenant-a"), None).await.2);
    let patch = json!({"credentials": {"username": "u2", "password": PASSWORD}});
    bodies.push(env.call("PATCH", &path, Some("tenant-a"), Some(&patch)).await.2);
    let text = serde_json::to_string(&bodies).unwrap();
    assert!(!text.contains(PASSWORD), "a response carried the secret");
    let captured = logs.contents();
    assert!(captured.contains("integration created"), "the capture sees the handler's logs");
    assert!(!captured.contains(PASSWORD), "a log line carried the secret");
}

#[tokio::test]
async fn pause_resume_and_patch_survive_a_concurrent_status_update() {
    let env = Env::start().await;
    let (_, _, created) = env.call("POST", "/integrations", Some("tenant-a"), Some(&five9("Busy"))).await;
    let path = format!("/integrations/{}", created["id"].as_str().unwrap());
    let (repo, api) = env.racing();
    let call = |method: &'static str, path: String, body: Option<Value>| {
        let api = api.clone();
        async move { decode(api.handle(api_request(method, &path, Some("tenant-a"), body.as_ref())).await) }
    };
    // An import finishes right before each write: the change is re-applied on a fresh read.
    repo.updates_to_race.store(2, std::sync::atomic::Ordering::SeqCst);
    let (status, _, paused) = call("POST", format!("{path}/pause"), None).await;
    assert_eq!((status, paused["status"]["state"].as_str()), (200, Some("paused")), "{paused}");
    repo.updates_to_race.store(1, std::sync::atomic::Ordering::SeqCst);
    let (status, _, resumed) = call("POST", format!("{path}/resume"), None).await;
    assert_eq!((status, resumed["status"]["state"].as_str()), (200, Some("importing")));
    repo.updates_to_race.store(2, std::sync::atomic::Ordering::SeqCst);
    let (status, _, patched) = call("PATCH", path.clone(), Some(json!({"name": "Busy (renamed)"}))).await;
    assert_eq!((status, patched["name"].as_str()), (200, Some("Busy (renamed)")));
    // A record that keeps changing still ends in a clear 409 rather than a lost update, and the schedule follows
    // the record, which still says importing: enabled again (until 2026-12-07 it was left disabled).
    let id = created["id"].as_str().unwrap();
    repo.updates_to_race.store(100, std::sync::atomic::Ordering::SeqCst);
    let (status, _, problem) = call("POST", format!("{path}/pause"), None).await;
    assert_eq!((status, problem["code"].as_str()), (409, Some("concurrent-modification")));
    let (_, _, current) = env.call("GET", &path, Some("tenant-a"), None).await;
    assert_eq!(current["name"], "Busy (renamed)");
    assert_eq!(current["status"]["state"], "importing");
    let schedule = env.stack.schedule(&format!("imp-{id}")).await.expect("the schedule");
    assert_eq!(schedule.state().unwrap().as_str(), "ENABLED", "the schedule follows the record");
    // Another resume saves `importing` just before this resume's last write: the resume answers 409, and the
    // schedule follows the record as it is then (enabled), not back to paused as the call found it.
    repo.updates_to_race.store(0, std::sync::atomic::Ordering::SeqCst);
    let (status, _, _) = call("POST", format!("{path}/pause"), None).await;
    assert_eq!(status, 200);
    *repo.race_states.lock().unwrap() = [None, None, Some(acd_domain::IntegrationState::Importing)].into();
    repo.updates_to_race.store(3, std::sync::atomic::Ordering::SeqCst);
    let (status, _, problem) = call("POST", format!("{path}/resume"), None).await;
    assert_eq!((status, problem["code"].as_str()), (409, Some("concurrent-modification")), "{problem}");
    let (_, _, current) = env.call("GET", &path, Some("tenant-a"), None).await;
    assert_eq!(current["status"]["state"], "importing");
    let schedule = env.stack.schedule(&format!("imp-{id}")).await.expect("the schedule");
    assert_eq!(schedule.state().unwrap().as_str(), "ENABLED", "the schedule follows the record the other call saved");
    // A DELETE too: a 409 the spec lists (until 2026-12-07 it did not), and nothing deleted.
    repo.updates_to_race.store(100, std::sync::atomic::Ordering::SeqCst);
    let (status, content_type, problem) = call("DELETE", path.clone(), None).await;
    assert_eq!((status, problem["code"].as_str()), (409, Some("concurrent-modification")));
    spec().check("DELETE", &path, status, &content_type, &problem);
    assert_eq!(env.call("GET", &path, Some("tenant-a"), None).await.0, 200);
    assert!(env.stack.schedule(&format!("imp-{id}")).await.is_some());
}

/// A schedule written by a PATCH whose integration was deleted meanwhile (the DELETE ran between the PATCH's record
/// update and its schedule write) is removed again: the agent-states schedule is created when missing, and nothing
/// else would remove it.
#[tokio::test]
async fn a_schedule_written_after_its_integration_was_deleted_is_removed() {
    let env = Env::start().await;
    let (_, _, created) = env.call("POST", "/integrations", Some("tenant-a"), Some(&genesys("Gone"))).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let path = format!("/integrations/{id}");
    // The PATCH's record update lands, then the whole DELETE runs before its schedule write.
    let (repo, api) = env.racing();
    let (deleter, delete_path) = (env.api.clone(), path.clone());
    let deleted = Arc::new(AtomicBool::new(false));
    let done = deleted.clone();
    *repo.after_next_update.lock().unwrap() = Some(Box::pin(async move {
        let (status, _, _) = decode(deleter.handle(api_request("DELETE", &delete_path, Some("tenant-a"), None)).await);
        assert_eq!(status, 204);
        done.store(true, Ordering::SeqCst);
    }));
    let body = json!({"settings": {"agent_state_cadence": "1m"}});
    let (status, _, _) = decode(api.handle(api_request("PATCH", &path, Some("tenant-a"), Some(&body))).await);
    assert_eq!(status, 200, "the PATCH's change was written before the DELETE");
    assert!(deleted.load(Ordering::SeqCst), "the DELETE ran");
    assert_eq!(env.call("GET", &path, Some("tenant-a"), None).await.0, 404);
    for name in [format!("imp-{id}"), format!("imp-{id}-states")] {
        assert!(env.stack.schedule(&name).await.is_none(), "{name} is gone");
    }
}

/// Two admins change different settings at once: both changes stay. Until 2026-12-07 the PATCH whose write came
/// second re-applied the settings it had merged into its first read, writing the other admin's field back.
#[tokio::test]
async fn concurrent_patches_of_different_settings_both_stay() {
    let env = Env::start().await;
    let (_, _, created) = env.call("POST", "/integrations", Some("tenant-a"), Some(&genesys("Both"))).await;
    let path = format!("/integrations/{}", created["id"].as_str().unwrap());
    let (repo, api) = env.racing();
    // Admin B's PATCH lands between admin A's read and write: history_days 45.
    let id: acd_domain::IntegrationId = created["id"].as_str().unwrap().parse().unwrap();
    let tenant = acd_domain::TenantId::parse("tenant-a").unwrap();
    let mut theirs = repo.inner.get(&tenant, id).await.unwrap().unwrap().settings;
    assert_ne!(theirs.history_days, 45);
    theirs.history_days = 45;
    *repo.race_settings.lock().unwrap() = Some(theirs);
    repo.updates_to_race.store(1, std::sync::atomic::Ordering::SeqCst);
    let body = json!({"settings": {"agent_state_cadence": "5m"}});
    let (status, _, patched) = decode(api.handle(api_request("PATCH", &path, Some("tenant-a"), Some(&body))).await);
    assert_eq!(status, 200, "{patched}");
    let (_, _, current) = env.call("GET", &path, Some("tenant-a"), None).await;
    assert_eq!(current["settings"]["agent_state_cadence"], "5m", "A's change: {current}");
    assert_eq!(current["settings"]["history_days"], 45, "B's change stays: {current}");
    assert_eq!(patched["settings"], current["settings"], "the answer is the record written");
}

#[tokio::test]
async fn names_collide_after_nfkc_and_invisible_characters_are_refused() {
    let env = Env::start().await;
    assert_eq!(env.call("POST", "/integrations", Some("tenant-a"), Some(&five9("Sales"))).await.0, 201);
    // Invisible format characters (Unicode Cf) are refused with a field error, never a second "Sales".
    for invisible in ["Sa\u{200B}les", "Sa\u{200D}les", "\u{FEFF}Sales", "Sa\u{2060}les", "Sales\u{202E}"] {
        let (status, _, problem) = env.call("POST", "/integrations", Some("tenant-a"), Some(&five9(invisible))).await;
        assert_eq!(status, 400, "{invisible:?}: {problem}");
        assert_eq!(problem["errors"][0]["field"], "/name");
        assert_eq!(problem["errors"][0]["code"], "invalid_value");
    }
    // Compatibility forms collide with their plain letters.
    for variant in ["\u{FF33}\u{FF41}\u{FF4C}\u{FF45}\u{FF53}", "\u{FF53}ALES", "sales"] {
        let (status, _, problem) = env.call("POST", "/integrations", Some("tenant-a"), Some(&genesys(variant))).await;
        assert_eq!((status, problem["code"].as_str()), (409, Some("name-taken")), "{variant:?}");
    }
    let (_, _, other) = env.call("POST", "/integrations", Some("tenant-a"), Some(&five9("\u{FB01}nance"))).await;
    let path = format!("/integrations/{}", other["id"].as_str().unwrap());
    let (status, _, _) = env.call("PATCH", &path, Some("tenant-a"), Some(&json!({"name": "\u{FF33}ales"}))).await;
    assert_eq!(status, 409, "a rename is compared the same way");
    assert_eq!(env.call("POST", "/integrations", Some("tenant-a"), Some(&five9("Finance"))).await.0, 409);
    // 100 characters that NFKC expands eighteen-fold: a field error, not a storage failure.
    let (status, _, problem) =
        env.call("POST", "/integrations", Some("tenant-a"), Some(&five9(&"\u{FDFA}".repeat(100)))).await;
    assert_eq!((status, problem["errors"][0]["code"].as_str()), (400, Some("too_long")), "{problem}");
    assert_eq!(env.secret_names().await.len(), 2);
}

/// Records created before NFKC keys hold their reservation under the old key (lower case, white space folded).
#[tokio::test]
async fn records_reserved_under_the_pre_nfkc_key_keep_working() {
    let env = Env::start().await;
    let dynamodb = env.stack.clients.dynamodb();
    let table = &env.stack.settings.table_name;
    // "Ｓａｌｅｓ" created before the change: its reservation is NAME#ｓａｌｅｓ. "Sales" exists too (it could, then).
    let (_, _, legacy) = env.call("POST", "/integrations", Some("tenant-a"), Some(&five9("\u{FF33}ales"))).await;
    let legacy_id = legacy["id"].as_str().unwrap().to_owned();
    let name_key = |k: &str| {
        std::collections::HashMap::from([
            ("PK".to_owned(), aws_sdk_dynamodb::types::AttributeValue::S("T#tenant-a".into())),
            ("SK".to_owned(), aws_sdk_dynamodb::types::AttributeValue::S(format!("NAME#{k}"))),
        ])
    };
    dynamodb.delete_item().table_name(table).set_key(Some(name_key("sales"))).send().await.unwrap();
    let mut old = name_key("\u{FF53}ales");
    old.insert("entity".into(), aws_sdk_dynamodb::types::AttributeValue::S("name".into()));
    old.insert("integration_id".into(), aws_sdk_dynamodb::types::AttributeValue::S(legacy_id.clone()));
    dynamodb.put_item().table_name(table).set_item(Some(old)).send().await.unwrap();
    let (status, _, plain) = env.call("POST", "/integrations", Some("tenant-a"), Some(&five9("Sales"))).await;
    assert_eq!(status, 201, "the old reservation key differs: this pair existed before the change");
    let reservations = || async {
        let mut keys: Vec<(String, String)> = env
            .table_items()
            .await
            .into_iter()
            .filter(|i| i["SK"].as_s().unwrap().starts_with("NAME#"))
            .map(|i| (i["SK"].as_s().unwrap().clone(), i["integration_id"].as_s().unwrap().clone()))
            .collect();
        keys.sort();
        keys
    };
    let plain_id = plain["id"].as_str().unwrap().to_owned();
    // The same spelling is still refused under the old key.
    let (status, _, _) = env.call("POST", "/integrations", Some("tenant-a"), Some(&genesys("\u{FF33}ALES"))).await;
    assert_eq!(status, 409);
    // Renaming the old record releases its old key and leaves the other integration's reservation alone.
    let legacy_path = format!("/integrations/{legacy_id}");
    let (status, _, renamed) =
        env.call("PATCH", &legacy_path, Some("tenant-a"), Some(&json!({"name": "Sales EU"}))).await;
    assert_eq!(status, 200, "{renamed}");
    assert_eq!(
        reservations().await,
        vec![("NAME#sales".into(), plain_id.clone()), ("NAME#sales eu".into(), legacy_id.clone())]
    );
    // Deleting an old record whose NFKC key belongs to another integration removes only its own reservation.
    let (_, _, second) = env.call("POST", "/integrations", Some("tenant-a"), Some(&five9("Support"))).await;
    let second_id = second["id"].as_str().unwrap().to_owned();
    dynamodb.delete_item().table_name(table).set_key(Some(name_key("support"))).send().await.unwrap();
    let mut old = name_key("\u{FF53}upport");
    old.insert("integration_id".into(), aws_sdk_dynamodb::types::AttributeValue::S(second_id.clone()));
    dynamodb.put_item().table_name(table).set_item(Some(old)).send().await.unwrap();
    // Pretend its stored name is the full-width one it was created with.
    dynamodb
        .update_item()
        .table_name(table)
        .set_key(Some(std::collections::HashMap::from([
            ("PK".to_owned(), aws_sdk_dynamodb::types::AttributeValue::S("T#tenant-a".into())),
            ("SK".to_owned(), aws_sdk_dynamodb::types::AttributeValue::S(format!("INT#{second_id}"))),
        ])))
        .update_expression("SET #n = :n")
        .expression_attribute_names("#n", "name")
        .expression_attribute_values(":n", aws_sdk_dynamodb::types::AttributeValue::S("\u{FF33}upport".into()))
        .send()
        .await
        .unwrap();
    assert_eq!(env.call("POST", "/integrations", Some("tenant-a"), Some(&five9("support"))).await.0, 201);
    assert_eq!(env.call("DELETE", &format!("/integrations/{second_id}"), Some("tenant-a"), None).await.0, 204);
    let left = reservations().await;
    assert!(left.iter().any(|(k, _)| k == "NAME#support"), "the other integration keeps its name: {left:?}");
    assert!(!left.iter().any(|(k, _)| k.contains('\u{FF53}')), "the old key is released: {left:?}");

    // An old record renamed to a spelling with the same NFKC key ("Ｂilling" → "Billing") moves its reservation to
    // the NFKC key: until 2026-12-07 the rename kept the old key, which the delete then left behind for good (the
    // name "Ｂilling" could never be created again).
    let (_, _, third) = env.call("POST", "/integrations", Some("tenant-a"), Some(&five9("\u{FF22}illing"))).await;
    let third_id = third["id"].as_str().unwrap().to_owned();
    dynamodb.delete_item().table_name(table).set_key(Some(name_key("billing"))).send().await.unwrap();
    let mut old = name_key("\u{FF42}illing");
    old.insert("integration_id".into(), aws_sdk_dynamodb::types::AttributeValue::S(third_id.clone()));
    dynamodb.put_item().table_name(table).set_item(Some(old)).send().await.unwrap();
    let third_path = format!("/integrations/{third_id}");
    let (status, _, renamed) =
        env.call("PATCH", &third_path, Some("tenant-a"), Some(&json!({"name": "Billing"}))).await;
    assert_eq!(status, 200, "{renamed}");
    let held: Vec<String> =
        reservations().await.into_iter().filter(|(_, id)| *id == third_id).map(|(k, _)| k).collect();
    assert_eq!(held, vec!["NAME#billing".to_owned()], "the reservation moved to the NFKC key");
    assert_eq!(env.call("DELETE", &third_path, Some("tenant-a"), None).await.0, 204);
    let (status, _, again) = env.call("POST", "/integrations", Some("tenant-a"), Some(&five9("\u{FF22}illing"))).await;
    assert_eq!(status, 201, "no reservation is left behind: {again}");
}

/// The ACD stand-in that never answers the credentials check while `hang` is set (like a vendor endpoint that
/// accepts the connection and stalls), and otherwise answers like [`FakeAcd`].
struct StallingAcd {
    hang: AtomicBool,
}

#[async_trait::async_trait]
impl CredentialVerifier for StallingAcd {
    async fn verify(
        &self,
        settings: &acd_domain::Settings,
        credentials: &acd_domain::Credentials,
    ) -> Result<(), acd_connectors::ConnectorError> {
        if self.hang.load(Ordering::SeqCst) {
            futures::future::pending::<()>().await;
        }
        FakeAcd.verify(settings, credentials).await
    }
}

/// The real secret store, held after a write (the secret stored, the answer not yet given): after every `create`
/// while `hold_create` is set, after the first `replace` while `hold_replace` is (before it, while
/// `hold_before_replace` is; before the first `make_current` while `hold_before_make_current` is; before the first
/// `create` while `hold_before_create` is); `written` is notified, and the call answers once `release` is (never,
/// unless a test does).
struct HeldSecrets {
    inner: Arc<dyn SecretStore>,
    hold_create: bool,
    hold_before_create: AtomicBool,
    hold_replace: AtomicBool,
    hold_before_replace: AtomicBool,
    hold_before_make_current: AtomicBool,
    /// `delete` fails (nothing deleted) while set.
    fail_delete: AtomicBool,
    written: tokio::sync::Notify,
    release: tokio::sync::Notify,
}

impl HeldSecrets {
    fn over(inner: Arc<dyn SecretStore>, hold_create: bool, hold_replace: bool) -> Self {
        let (written, release) = (tokio::sync::Notify::new(), tokio::sync::Notify::new());
        let (hold_replace, hold_before_replace) = (AtomicBool::new(hold_replace), AtomicBool::new(false));
        let (hold_before_make_current, hold_before_create) = (AtomicBool::new(false), AtomicBool::new(false));
        Self {
            inner,
            hold_create,
            hold_before_create,
            hold_replace,
            hold_before_replace,
            hold_before_make_current,
            fail_delete: AtomicBool::new(false),
            written,
            release,
        }
    }
    async fn hold(&self) {
        self.written.notify_one();
        self.release.notified().await;
    }
}

#[async_trait::async_trait]
impl SecretStore for HeldSecrets {
    async fn create(
        &self,
        tenant: &acd_domain::TenantId,
        id: acd_domain::IntegrationId,
        credentials: &acd_domain::Credentials,
        version: &acd_domain::SecretVersion,
    ) -> Result<(), StoreError> {
        if self.hold_before_create.swap(false, Ordering::SeqCst) {
            self.hold().await;
        }
        self.inner.create(tenant, id, credentials, version).await?;
        if self.hold_create {
            self.hold().await;
        }
        Ok(())
    }
    async fn get(
        &self,
        tenant: &acd_domain::TenantId,
        id: acd_domain::IntegrationId,
        version: Option<&acd_domain::SecretVersion>,
    ) -> Result<acd_domain::Credentials, StoreError> {
        self.inner.get(tenant, id, version).await
    }
    async fn current_version(
        &self,
        tenant: &acd_domain::TenantId,
        id: acd_domain::IntegrationId,
    ) -> Result<Option<acd_domain::SecretVersion>, StoreError> {
        self.inner.current_version(tenant, id).await
    }
    async fn replace(
        &self,
        tenant: &acd_domain::TenantId,
        id: acd_domain::IntegrationId,
        credentials: &acd_domain::Credentials,
        version: &acd_domain::SecretVersion,
    ) -> Result<(), StoreError> {
        if self.hold_before_replace.swap(false, Ordering::SeqCst) {
            self.hold().await;
        }
        self.inner.replace(tenant, id, credentials, version).await?;
        if self.hold_replace.swap(false, Ordering::SeqCst) {
            self.hold().await;
        }
        Ok(())
    }
    async fn make_current(
        &self,
        tenant: &acd_domain::TenantId,
        id: acd_domain::IntegrationId,
        version: &acd_domain::SecretVersion,
        from: &acd_domain::SecretVersion,
    ) -> Result<bool, StoreError> {
        if self.hold_before_make_current.swap(false, Ordering::SeqCst) {
            self.hold().await;
        }
        self.inner.make_current(tenant, id, version, from).await
    }
    async fn delete(&self, tenant: &acd_domain::TenantId, id: acd_domain::IntegrationId) -> Result<(), StoreError> {
        if self.fail_delete.load(Ordering::SeqCst) {
            return Err(StoreError::Backend("injected: Secrets Manager unavailable".into()));
        }
        self.inner.delete(tenant, id).await
    }
    async fn delete_recoverable(
        &self,
        tenant: &acd_domain::TenantId,
        id: acd_domain::IntegrationId,
    ) -> Result<(), StoreError> {
        if self.fail_delete.load(Ordering::SeqCst) {
            return Err(StoreError::Backend("injected: Secrets Manager unavailable".into()));
        }
        self.inner.delete_recoverable(tenant, id).await
    }
}

impl Env {
    /// The API over a [`RacingRepo`] of this stack's store (nothing armed), and that repo.
    fn racing(&self) -> (Arc<RacingRepo>, IntegrationsApi) {
        let repo = Arc::new(RacingRepo::new(Arc::new(wiring::dynamo_store(&self.stack.settings, &self.stack.clients))));
        let mut api = self.api.clone();
        api.service.repo = repo.clone();
        (repo, api)
    }

    /// The credentials field `field` as the record shows it (`GET`) and in the secret's version the record names,
    /// which the import reads; and in the secret's current version.
    async fn credentials_in_force(&self, id: &str, field: &str) -> (String, String, String) {
        let (_, _, shown) = self.call("GET", &format!("/integrations/{id}"), Some("tenant-a"), None).await;
        let items = self.table_items().await;
        let record = items.iter().find(|i| i["SK"].as_s().unwrap() == &format!("INT#{id}")).expect("record");
        let named = record.get("secret_version").expect("the record names a secret version").as_s().unwrap();
        let secret = format!("acd-integrations/tenant-a/{id}");
        let username = |version: Option<String>| {
            let request = self.stack.clients.secrets().get_secret_value().secret_id(&secret).set_version_id(version);
            async move {
                let value = request.send().await.expect("the version");
                let stored: Value = serde_json::from_str(value.secret_string().unwrap()).unwrap();
                stored[field].as_str().unwrap().to_owned()
            }
        };
        let shown = shown["credentials"][field].as_str().unwrap().to_owned();
        (shown, username(Some(named.clone())).await, username(None).await)
    }
}

#[tokio::test]
async fn a_failed_credentials_patch_of_a_record_from_before_secret_versions_leaves_its_credentials_in_force() {
    // Such a record names no version: the import reads the current one. A PATCH writes its version before the
    // record (not as the current one, until the record names it), and makes the record name the version it was in
    // force with first; a failure after that write (here the agent-states schedule, then the record put back) must
    // leave the old credentials in force under the old hints, named and current.
    let env = Env::start().await;
    let (_, _, created) = env.call("POST", "/integrations", Some("tenant-a"), Some(&genesys("Legacy"))).await;
    let id = created["id"].as_str().unwrap().to_owned();
    env.stack
        .clients
        .dynamodb()
        .update_item()
        .table_name(&env.stack.settings.table_name)
        .key("PK", aws_sdk_dynamodb::types::AttributeValue::S("T#tenant-a".into()))
        .key("SK", aws_sdk_dynamodb::types::AttributeValue::S(format!("INT#{id}")))
        .update_expression("REMOVE secret_version")
        .send()
        .await
        .unwrap();
    let schedules = Arc::new(FailingSchedules {
        fail_states: AtomicBool::new(true),
        ..FailingSchedules::new(Arc::new(wiring::schedules(&env.stack.settings, &env.stack.clients)))
    });
    let mut api = env.api.clone();
    api.service.schedules = schedules;
    let original = "5b1f7c7e-0000-4000-8000-00000000c1d0".to_owned();
    let patch = json!({"settings": {"agent_state_cadence": "1m"},
                       "credentials": {"client_id": "new-client", "client_secret": "n3w-s3cr3t"}});
    let (status, _, problem) =
        decode(api.handle(api_request("PATCH", &format!("/integrations/{id}"), Some("tenant-a"), Some(&patch))).await);
    assert_eq!(status, 503, "{problem}");
    // The record names its old version again, and the PATCH's version did not become the current one either.
    assert_eq!(env.credentials_in_force(&id, "client_id").await, (original.clone(), original.clone(), original));
}

#[tokio::test]
async fn two_credential_patches_at_once_leave_the_record_s_hints_and_secret_version_in_agreement() {
    // A writes its secret version and is held before its record update; B runs whole meanwhile; then A's record
    // update lands last. At every point the credentials the record shows are those of the version it names.
    let env = Env::start().await;
    let (_, _, created) = env.call("POST", "/integrations", Some("tenant-a"), Some(&five9("Race"))).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let path = format!("/integrations/{id}");
    let body = |user: &str| json!({"credentials": {"username": user, "password": "n3w-pa55"}});
    let original = "api.user@acme.example".to_owned();
    assert_eq!(env.credentials_in_force(&id, "username").await, (original.clone(), original.clone(), original.clone()));

    let gate = Arc::new(HeldSecrets::over(env.api.service.secrets.clone(), false, true));
    let mut api_a = env.api.clone();
    api_a.service.secrets = gate.clone();
    let request = api_request("PATCH", &path, Some("tenant-a"), Some(&body("user.a")));
    let a = tokio::spawn(async move { decode(api_a.handle(request).await) });
    gate.written.notified().await;
    let (a_user, b_user) = ("user.a".to_owned(), "user.b".to_owned());
    // A's version is written, but neither named by the record nor the current one (which a failed PATCH would leave
    // there for the import's fallback).
    assert_eq!(env.credentials_in_force(&id, "username").await, (original.clone(), original.clone(), original));

    let (status, _, b) = env.call("PATCH", &path, Some("tenant-a"), Some(&body("user.b"))).await;
    assert_eq!((status, b["credentials"]["username"].as_str()), (200, Some("user.b")), "{b}");
    assert_eq!(env.credentials_in_force(&id, "username").await, (b_user.clone(), b_user.clone(), b_user));

    gate.release.notify_one();
    let (status, _, a) = a.await.unwrap();
    assert_eq!((status, a["credentials"]["username"].as_str()), (200, Some("user.a")), "{a}");
    // A's record update landed last: A's hints and A's version are in force, and the current one.
    assert_eq!(env.credentials_in_force(&id, "username").await, (a_user.clone(), a_user.clone(), a_user));
}

#[tokio::test]
async fn a_credentials_patch_that_makes_its_version_current_late_leaves_the_version_in_force_current() {
    // B's record update lands, then B is held before it moves the current-version label; A runs whole meanwhile (its
    // record update last: A's credentials are in force). B's late move must not take the label from A's version,
    // or the import's fallback would find B's superseded credentials there.
    let env = Env::start().await;
    let (_, _, created) = env.call("POST", "/integrations", Some("tenant-a"), Some(&five9("Late"))).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let path = format!("/integrations/{id}");
    let body = |user: &str| json!({"credentials": {"username": user, "password": "n3w-pa55"}});

    let gate = Arc::new(HeldSecrets::over(env.api.service.secrets.clone(), false, false));
    gate.hold_before_make_current.store(true, Ordering::SeqCst);
    let mut api_b = env.api.clone();
    api_b.service.secrets = gate.clone();
    let request = api_request("PATCH", &path, Some("tenant-a"), Some(&body("user.b")));
    let b = tokio::spawn(async move { decode(api_b.handle(request).await) });
    gate.written.notified().await;
    let (status, _, a) = env.call("PATCH", &path, Some("tenant-a"), Some(&body("user.a"))).await;
    assert_eq!(status, 200, "{a}");
    let a_user = "user.a".to_owned();
    assert_eq!(env.credentials_in_force(&id, "username").await, (a_user.clone(), a_user.clone(), a_user.clone()));

    gate.release.notify_one();
    let (status, _, b) = b.await.unwrap();
    assert_eq!(status, 200, "{b}");
    assert_eq!(env.credentials_in_force(&id, "username").await, (a_user.clone(), a_user.clone(), a_user));
}

#[tokio::test]
async fn a_credentials_patch_that_a_delete_overtakes_leaves_no_secret_behind() {
    // The PATCH has checked its credentials and is held before it writes them; a DELETE runs whole meanwhile (the
    // secret deleted). The PATCH's write then finds no secret and creates it anew, its record update finds no
    // record: 404, and the secret it created is removed again (nothing else would: a second DELETE is a 404).
    let env = Env::start().await;
    let (_, _, created) = env.call("POST", "/integrations", Some("tenant-a"), Some(&five9("Overtaken"))).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let path = format!("/integrations/{id}");
    assert_eq!(env.secret_names().await.len(), 1);

    let gate = Arc::new(HeldSecrets::over(env.api.service.secrets.clone(), false, false));
    gate.hold_before_replace.store(true, Ordering::SeqCst);
    let mut api_a = env.api.clone();
    api_a.service.secrets = gate.clone();
    let body = json!({"credentials": {"username": "user.a", "password": "n3w-pa55"}});
    let request = api_request("PATCH", &path, Some("tenant-a"), Some(&body));
    let patch = tokio::spawn(async move { decode(api_a.handle(request).await) });
    gate.written.notified().await;
    assert_eq!(env.call("DELETE", &path, Some("tenant-a"), None).await.0, 204);
    assert!(env.secret_names().await.is_empty(), "the DELETE removed the secret");

    gate.release.notify_one();
    let (status, _, problem) = patch.await.unwrap();
    assert_eq!((status, problem["code"].as_str()), (404, Some("not-found")), "{problem}");
    assert!(env.secret_names().await.is_empty(), "no secret left behind: {:?}", env.secret_names().await);
    assert_eq!(env.call("DELETE", &path, Some("tenant-a"), None).await.0, 404);
}

/// `POST /integrations` with an optional `Idempotency-Key`, spec-checked; also returns whether it was a replay.
async fn create_with_key(api: &IntegrationsApi, tenant: &str, key: Option<&str>, body: &Value) -> (u16, Value, bool) {
    let mut request = api_request("POST", "/integrations", Some(tenant), Some(body));
    if let Some(key) = key {
        request.headers_mut().insert("idempotency-key", key.parse().unwrap());
    }
    let response = api.handle(request).await;
    let replayed = response.headers().get("idempotent-replayed").is_some_and(|v| v == "true");
    let (status, content_type, body) = decode(response);
    spec().check("POST", "/integrations", status, &content_type, &body);
    (status, body, replayed)
}

#[tokio::test]
async fn a_create_whose_vendor_check_hangs_is_503_in_time_saves_nothing_and_a_keyed_retry_creates_once() {
    let env = Env::start().await;
    let acd = Arc::new(StallingAcd { hang: AtomicBool::new(true) });
    let mut api = env.api.clone();
    api.service.verifier = acd.clone();
    api.service.budgets.check = Duration::from_millis(400);
    let body = five9("Stalled");

    let started = Instant::now();
    let (status, problem, _) = create_with_key(&api, "tenant-a", Some("retry-1"), &body).await;
    assert_eq!((status, problem["code"].as_str()), (503, Some("vendor-unavailable")), "{problem}");
    assert!(started.elapsed() < Duration::from_secs(3), "answered within the check budget: {:?}", started.elapsed());
    assert!(env.table_items().await.is_empty(), "no record, name or idempotency key left");
    assert!(env.secret_names().await.is_empty());
    assert!(env.schedule_names().await.is_empty());

    // The ACD answers again; the client retries with the same key: one integration, then the same answer again.
    acd.hang.store(false, Ordering::SeqCst);
    let (status, first, replayed) = create_with_key(&api, "tenant-a", Some("retry-1"), &body).await;
    assert_eq!((status, replayed), (201, false), "{first}");
    let (status, again, replayed) = create_with_key(&api, "tenant-a", Some("retry-1"), &body).await;
    assert_eq!((status, replayed), (201, true), "{again}");
    assert_eq!(again, first, "the same id and body");
    // Member order does not matter; a changed secret is not compared (no hash of it is stored).
    let mut reordered: Value = serde_json::from_str(&body.to_string()).unwrap();
    reordered["credentials"]["password"] = "another-password".into();
    let (status, same, _) = create_with_key(&api, "tenant-a", Some("retry-1"), &reordered).await;
    assert_eq!((status, &same["id"]), (201, &first["id"]));
    // Without a key the same body is a second create: refused for its name.
    assert_eq!(create_with_key(&api, "tenant-a", None, &body).await.0, 409);
    // The same key with another body: 422, nothing created.
    let (status, problem, _) = create_with_key(&api, "tenant-a", Some("retry-1"), &five9("Other")).await;
    assert_eq!((status, problem["code"].as_str()), (422, Some("idempotency-key-reused")), "{problem}");
    // Keys are per tenant.
    let (status, theirs, replayed) = create_with_key(&api, "tenant-b", Some("retry-1"), &body).await;
    assert_eq!((status, replayed), (201, false));
    assert_ne!(theirs["id"], first["id"]);
    let (_, _, list) = env.call("GET", "/integrations", Some("tenant-a"), None).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(env.secret_names().await.len(), 2);
    assert_eq!(env.schedule_names().await.len(), 4);
    // The remembered answer expires after 24 hours (TTL attribute).
    let keys: Vec<_> =
        env.table_items().await.into_iter().filter(|i| i["SK"].as_s().unwrap().starts_with("IDEM#")).collect();
    assert_eq!(keys.len(), 2);
    for key in &keys {
        let ttl: i64 = key["ttl"].as_n().unwrap().parse().unwrap();
        let left = ttl - chrono::Utc::now().timestamp();
        assert!((23 * 3600..=24 * 3600).contains(&left), "{left}");
        assert!(!format!("{key:?}").contains(PASSWORD), "no secret in the idempotency item");
    }

    // A bad key is a 400 naming the header, and writes nothing.
    let before = env.table_items().await.len();
    for bad in ["", "with space", &"k".repeat(256), "caf\u{e9}"] {
        let mut request = api_request("POST", "/integrations", Some("tenant-a"), Some(&five9("Bad key")));
        let Ok(value) = lambda_http::http::HeaderValue::from_bytes(bad.as_bytes()) else { continue };
        request.headers_mut().insert("idempotency-key", value);
        let (status, _, problem) = decode(api.handle(request).await);
        assert_eq!((status, problem["errors"][0]["field"].as_str()), (400, Some("Idempotency-Key")), "{bad:?}");
    }
    assert_eq!(env.table_items().await.len(), before);
}

#[tokio::test]
async fn a_retry_while_the_first_request_runs_is_409_and_an_expired_key_runs_again() {
    let env = Env::start().await;
    let acd = Arc::new(StallingAcd { hang: AtomicBool::new(true) });
    let mut api = env.api.clone();
    api.service.verifier = acd.clone();
    api.service.budgets.check = Duration::from_millis(1500);
    let body = genesys("Slow");
    let first = tokio::spawn({
        let (api, body) = (api.clone(), body.clone());
        async move { create_with_key(&api, "tenant-a", Some("k-2"), &body).await }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (status, problem, _) = create_with_key(&api, "tenant-a", Some("k-2"), &body).await;
    assert_eq!((status, problem["code"].as_str()), (409, Some("idempotency-request-in-progress")), "{problem}");
    let (status, _, _) = first.await.unwrap();
    assert_eq!(status, 503);
    // The failed request released its key: the retry runs.
    acd.hang.store(false, Ordering::SeqCst);
    let (status, created, _) = create_with_key(&api, "tenant-a", Some("k-2"), &body).await;
    assert_eq!(status, 201, "{created}");

    // A remembered answer past its expiry (DynamoDB's TTL deletes lazily) no longer counts.
    let table = &env.stack.settings.table_name;
    env.stack
        .clients
        .dynamodb()
        .update_item()
        .table_name(table)
        .key("PK", aws_sdk_dynamodb::types::AttributeValue::S("T#tenant-a".into()))
        .key("SK", aws_sdk_dynamodb::types::AttributeValue::S("IDEM#k-2".into()))
        .update_expression("SET #ttl = :past")
        .expression_attribute_names("#ttl", "ttl")
        .expression_attribute_values(
            ":past",
            aws_sdk_dynamodb::types::AttributeValue::N((chrono::Utc::now().timestamp() - 1).to_string()),
        )
        .send()
        .await
        .unwrap();
    let (status, problem, replayed) = create_with_key(&api, "tenant-a", Some("k-2"), &body).await;
    assert_eq!((status, problem["code"].as_str(), replayed), (409, Some("name-taken"), false), "ran again");
}

#[tokio::test]
async fn a_write_step_that_stalls_is_rolled_back_within_the_budget() {
    let env = Env::start().await;
    let mut api = env.api.clone();
    let store = Arc::new(wiring::secrets_store(&env.stack.settings, &env.stack.clients));
    api.service.secrets = Arc::new(HeldSecrets::over(store, true, false));
    api.service.budgets.step = Duration::from_millis(800);
    let budgets = api.service.budgets;
    let started = Instant::now();
    let (status, problem, _) = create_with_key(&api, "tenant-a", Some("k-3"), &five9("Stuck")).await;
    let took = started.elapsed();
    assert_eq!((status, problem["code"].as_str()), (503, Some("service-unavailable")), "{problem}");
    assert!(took < budgets.step + budgets.rollback + Duration::from_secs(2), "{took:?}");
    assert!(budgets.total() <= Duration::from_secs(29), "the whole default budget fits API Gateway's 29 s");
    // Record, name and idempotency key removed; the tenant's quota counter gave the place back.
    let items = env.table_items().await;
    assert_eq!(items.len(), 1, "only the quota counter stays: {items:?}");
    assert_eq!(
        (items[0]["SK"].as_s().unwrap().as_str(), items[0]["integrations"].as_n().unwrap().as_str()),
        ("QUOTA", "0")
    );
    assert!(env.secret_names().await.is_empty(), "the secret the stalled call did create is removed");
    assert!(env.schedule_names().await.is_empty());
    assert_eq!(env.call("POST", "/integrations", Some("tenant-a"), Some(&five9("Stuck"))).await.0, 201);
}

/// A tenant-token store whose reads never answer (a DynamoDB that accepts the connection and stalls).
struct StallingTokens;

#[async_trait::async_trait]
impl acd_app::ports::TenantTokenStore for StallingTokens {
    async fn get_token(
        &self,
        _tenant: &acd_domain::TenantId,
        _kind: &acd_domain::IntegrationType,
        _field: &str,
    ) -> Result<Option<String>, acd_app::ports::StoreError> {
        futures::future::pending().await
    }
    async fn issue_token(
        &self,
        _tenant: &acd_domain::TenantId,
        _kind: &acd_domain::IntegrationType,
        _field: &str,
        _candidate: &str,
    ) -> Result<(String, bool), acd_app::ports::StoreError> {
        futures::future::pending().await
    }
}

/// The tenant token's read shares the credentials check's budget: one that stalls is 503 within it, nothing saved
/// (until 2026-12-07 it had no bound of its own but the SDK's, past API Gateway's 29 s).
#[tokio::test]
async fn a_tenant_token_read_that_stalls_is_503_within_the_check_budget() {
    let env = Env::start().await;
    let mut api = env.api.clone();
    api.service.tokens = Arc::new(StallingTokens);
    api.service.budgets.check = Duration::from_millis(800);
    let role = json!({"role_arn": "arn:aws:iam::111122223333:role/acd-connect-read"});
    for path in ["/integrations", "/integrations/test-connection"] {
        let started = Instant::now();
        let (status, _, problem) =
            decode(api.handle(api_request("POST", path, Some("tenant-a"), Some(&connect("AC", role.clone())))).await);
        assert_eq!((status, problem["code"].as_str()), (503, Some("service-unavailable")), "{path}: {problem}");
        assert!(started.elapsed() < Duration::from_secs(3), "{path}: {:?}", started.elapsed());
    }
    assert!(env.table_items().await.is_empty() && env.secret_names().await.is_empty());
}

/// The same against the Five9 simulator through the real connector: the ACD accepts the connection and answers
/// after a minute. The create answers 503 within the check budget and saves nothing; the keyed retry once the ACD
/// answers again creates the integration once.
#[tokio::test]
async fn a_create_against_a_five9_that_stalls_is_503_within_the_check_budget() {
    use acd_simulators::five9::{FaultKind, FaultRule, Five9SimConfig, Five9Simulator};
    let sim = Five9Simulator::start(Five9SimConfig::default()).await.unwrap();
    let env = Env::start().await;
    let factory = acd_connectors::ConnectorFactory::new(
        acd_connectors::HttpClient::new().unwrap(),
        acd_connectors::Endpoints::default().with_var("FIVE9_BASE_URL", sim.base_url()),
    );
    let mut api = env.api.clone();
    api.service.verifier = Arc::new(acd_app::verifier::ConnectorVerifier { factory });
    api.service.budgets.check = Duration::from_secs(1);
    sim.push_fault(FaultRule::new(FaultKind::Delay { ms: 60_000 }));
    let mut body = five9("Five9 stalled");
    body["credentials"] = json!({"username": sim.username(), "password": sim.password()});

    let started = Instant::now();
    let (status, problem, _) = create_with_key(&api, "tenant-a", Some("stall-1"), &body).await;
    assert_eq!((status, problem["code"].as_str()), (503, Some("vendor-unavailable")), "{problem}");
    assert!(started.elapsed() < Duration::from_secs(4), "{:?}", started.elapsed());
    assert!(env.table_items().await.is_empty());
    assert!(env.secret_names().await.is_empty());
    assert!(env.schedule_names().await.is_empty());

    sim.clear_faults();
    let (status, created, _) = create_with_key(&api, "tenant-a", Some("stall-1"), &body).await;
    assert_eq!(status, 201, "{created}");
    let (status, again, replayed) = create_with_key(&api, "tenant-a", Some("stall-1"), &body).await;
    assert_eq!((status, replayed, &again["id"]), (201, true, &created["id"]));
    assert_eq!(env.secret_names().await.len(), 1);
    assert_eq!(env.schedule_names().await.len(), 2);
}

/// Records the credentials each check was given (the external id must be the tenant's, set by the server).
#[derive(Default)]
struct SeenCredentials(std::sync::Mutex<Vec<(Option<String>, Option<String>)>>);

#[async_trait::async_trait]
impl CredentialVerifier for SeenCredentials {
    async fn verify(
        &self,
        _settings: &acd_domain::Settings,
        credentials: &acd_domain::Credentials,
    ) -> Result<(), acd_connectors::ConnectorError> {
        let seen =
            (credentials.field("role_arn").map(str::to_owned), credentials.field("external_id").map(str::to_owned));
        self.0.lock().unwrap().push(seen);
        Ok(())
    }
}

fn connect(name: &str, credentials: Value) -> Value {
    json!({"name": name, "type": "amazon_connect", "credentials": credentials,
           "settings": {"region": "eu-central-1", "instance_id": "6a1f0c34-5b7e-4c1d-9f00-00000000c0de",
                        "agent_event_stream_arn": "arn:aws:kinesis:eu-central-1:111122223333:stream/agent-events"}})
}

#[tokio::test]
async fn amazon_connect_external_id_is_issued_once_per_tenant_and_set_by_the_server() {
    let stack = AwsStack::start().await;
    let seen = Arc::new(SeenCredentials::default());
    let api = wiring::integrations_api(
        &stack.settings,
        &stack.clients,
        seen.clone(),
        TenantAuth::JwtClaim(TenantAuth::DEFAULT_CLAIM.into()),
    );
    let env = Env { stack, api };
    const PATH: &str = "/integrations/amazon-connect/external-id";
    let role = json!({"role_arn": "arn:aws:iam::111122223333:role/acd-connect-read"});

    // Before an id is issued: reading it is 404, and a create or test-connection names the call to make.
    assert_eq!(env.call("GET", PATH, Some("tenant-a"), None).await.0, 404);
    for path in ["/integrations", "/integrations/test-connection"] {
        let (status, _, problem) = env.call("POST", path, Some("tenant-a"), Some(&connect("AC", role.clone()))).await;
        assert_eq!((status, problem["code"].as_str()), (409, Some("tenant-token-missing")), "{path}: {problem}");
        assert!(problem["detail"].as_str().unwrap().contains("POST /integrations/amazon-connect/external-id"));
    }
    assert!(seen.0.lock().unwrap().is_empty(), "nothing was checked");
    assert!(env.secret_names().await.is_empty() && env.schedule_names().await.is_empty());

    // Concurrent first calls: one issues it (201), every other answers the same value (200).
    let calls = (0..4).map(|_| env.call("POST", PATH, Some("tenant-a"), None));
    let answers = futures::future::join_all(calls).await;
    let ids: std::collections::BTreeSet<&str> = answers.iter().map(|a| a.2["external_id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 1, "{answers:?}");
    assert_eq!(answers.iter().filter(|a| a.0 == 201).count(), 1, "{answers:?}");
    assert!(answers.iter().all(|a| a.0 == 201 || a.0 == 200));
    let id = ids.into_iter().next().unwrap().to_owned();
    assert!(id.starts_with("acd-") && id.len() == 36, "128 random bits: {id}");
    assert_eq!(
        env.call("POST", PATH, Some("tenant-a"), None).await,
        (
            200,
            "application/json".into(),
            json!({"type": "amazon_connect", "external_id": id, "trusted_account_id": AwsStack::TRUSTED_ACCOUNT_ID})
        )
    );
    assert_eq!(env.call("GET", PATH, Some("tenant-a"), None).await.2["external_id"], json!(id));
    // Another tenant gets its own.
    let other = env.call("POST", PATH, Some("tenant-b"), None).await;
    assert_eq!(other.0, 201);
    assert_ne!(other.2["external_id"], json!(id));
    assert_eq!(env.call("DELETE", PATH, Some("tenant-a"), None).await.0, 404, "no such route: API Gateway's 404");

    // A body cannot choose the external id.
    let mut chosen = role.clone();
    chosen["external_id"] = json!("acd-mine-0000000000000000");
    let (status, _, problem) = env.call("POST", "/integrations", Some("tenant-a"), Some(&connect("AC", chosen))).await;
    assert_eq!(status, 400);
    assert_eq!(problem["errors"][0]["field"], "/credentials/external_id");

    // Create: the server puts the tenant's id into the credentials it checks, shows and stores.
    let (status, _, created) =
        env.call("POST", "/integrations", Some("tenant-a"), Some(&connect("AC", role.clone()))).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(
        created["credentials"],
        json!({"role_arn": "arn:aws:iam::111122223333:role/acd-connect-read", "external_id": id})
    );
    assert_eq!(created["settings"]["history_days"], 30);
    let integration: acd_domain::IntegrationId = created["id"].as_str().unwrap().parse().unwrap();
    let tenant = acd_domain::TenantId::parse("tenant-a").unwrap();
    let stored =
        wiring::secrets_store(&env.stack.settings, &env.stack.clients).get(&tenant, integration, None).await.unwrap();
    assert_eq!(stored.field("external_id"), Some(id.as_str()));
    // PATCH of the role ARN: the same id again.
    let path = format!("/integrations/{integration}");
    let patch = json!({"credentials": {"role_arn": "arn:aws:iam::111122223333:role/acd-connect-read-2"}});
    assert_eq!(env.call("PATCH", &path, Some("tenant-a"), Some(&patch)).await.0, 200);
    let stored =
        wiring::secrets_store(&env.stack.settings, &env.stack.clients).get(&tenant, integration, None).await.unwrap();
    assert_eq!(
        (stored.field("role_arn"), stored.field("external_id")),
        (Some("arn:aws:iam::111122223333:role/acd-connect-read-2"), Some(id.as_str()))
    );
    let checked = seen.0.lock().unwrap().clone();
    assert_eq!(checked.len(), 2);
    assert!(checked.iter().all(|(_, ext)| ext.as_deref() == Some(id.as_str())), "{checked:?}");
    // History is capped at 88 days for this type (Connect keeps "3 months" of statistics: 89 days at the least).
    let mut long = connect("AC long", role);
    long["settings"]["history_days"] = json!(89);
    let (status, _, problem) = env.call("POST", "/integrations", Some("tenant-a"), Some(&long)).await;
    assert_eq!((status, problem["errors"][0]["field"].as_str()), (400, Some("/settings/history_days")));
}

/// A role of the service's own account (`TRUSTED_ACCOUNT_ID`) is refused before it is ever assumed: the functions
/// may assume any role that trusts their account, and any tenant could name one of the operator's roles that trusts
/// it without an external-id condition. The same role name in another account is accepted.
#[tokio::test]
async fn an_amazon_connect_role_of_the_services_own_account_is_refused() {
    use acd_integration_tests::{ConnectEnv, ImportEnv};
    use acd_simulators::amazon_connect::{self as sim, ConnectSimConfig};
    let ConnectEnv { env, sim, stream_arn, .. } =
        ImportEnv::start_connect("tenant-own", ConnectSimConfig::default(), "agent-events").await;
    let (status, issued) = env.call("POST", "/integrations/amazon-connect/external-id", None).await;
    assert_eq!(status, 201, "{issued}");
    sim.trust(issued["external_id"].as_str().unwrap());
    let body = |account: &str| {
        json!({"name": format!("Connect {account}"), "type": "amazon_connect",
               "credentials": {"role_arn": format!("arn:aws:iam::{account}:role/acd-connect-read")},
               "settings": {"region": sim::REGION, "instance_id": sim::INSTANCE_ID,
                            "agent_event_stream_arn": stream_arn}})
    };
    let own = AwsStack::TRUSTED_ACCOUNT_ID;
    for path in ["/integrations/test-connection", "/integrations"] {
        let (status, problem) = env.call("POST", path, Some(&body(own))).await;
        assert_eq!((status, problem["code"].as_str()), (422, Some("configuration-wrong")), "{path}: {problem}");
        assert!(problem["detail"].as_str().unwrap().contains(own), "{problem}");
    }
    assert!(sim.assumed_with().is_empty(), "the role was never assumed");
    let (status, created) = env.call("POST", "/integrations", Some(&body("111122223333"))).await;
    assert_eq!(status, 201, "{created}");
    assert!(!sim.assumed_with().is_empty());
}

/// A `role_arn` that is no IAM role ARN is a 400 naming the field, on create, test-connection and a PATCH of the
/// credentials, before any AssumeRole (until 2026-12-07 a 422 `credentials-rejected`, as if AWS had refused it).
#[tokio::test]
async fn a_role_arn_that_is_no_role_arn_is_a_400_naming_the_field() {
    use acd_integration_tests::{CONNECT_CUSTOMER_ROLE, ConnectEnv, ImportEnv};
    use acd_simulators::amazon_connect::{self as sim, ConnectSimConfig};
    let ConnectEnv { env, sim, stream_arn, .. } =
        ImportEnv::start_connect("tenant-arn", ConnectSimConfig::default(), "agent-events").await;
    let (status, issued) = env.call("POST", "/integrations/amazon-connect/external-id", None).await;
    assert_eq!(status, 201, "{issued}");
    sim.trust(issued["external_id"].as_str().unwrap());
    let body = |role: &str| {
        json!({"name": "Connect", "type": "amazon_connect", "credentials": {"role_arn": role},
               "settings": {"region": sim::REGION, "instance_id": sim::INSTANCE_ID,
                            "agent_event_stream_arn": stream_arn}})
    };
    for role in ["acd-connect-read", "arn:aws:iam::111122223333:user/x", "arn:aws:iam::1111:role/x", " "] {
        for path in ["/integrations/test-connection", "/integrations"] {
            let (status, problem) = env.call("POST", path, Some(&body(role))).await;
            assert_eq!(
                (status, problem["code"].as_str()),
                (400, Some("validation-failed")),
                "{role} {path}: {problem}"
            );
            let errors = problem["errors"].as_array().unwrap();
            assert!(
                errors.iter().any(|e| e["field"] == "/credentials/role_arn"
                    && (e["code"] == "invalid_value" || e["code"] == "required")),
                "{role}: {problem}"
            );
        }
    }
    assert!(sim.assumed_with().is_empty(), "no role was assumed");
    let (status, created) = env.call("POST", "/integrations", Some(&body(CONNECT_CUSTOMER_ROLE))).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap();
    let patch = json!({"credentials": {"role_arn": "arn:aws:iam::111122223333:group/x"}});
    let (status, problem) = env.call("PATCH", &format!("/integrations/{id}"), Some(&patch)).await;
    assert_eq!((status, problem["errors"][0]["field"].as_str()), (400, Some("/credentials/role_arn")), "{problem}");
}

/// Path segments are read from the raw path, never resolved as dot segments: `…/ingest-keys/%2e%2e` names the key
/// `..`, not the integration (lambda_http's request URI applies URL dot-segment rules, so it read as
/// `DELETE /integrations/{id}` and deleted the integration). (A review, 2026-12-07.)
#[tokio::test]
async fn a_dot_segment_in_the_path_is_an_id_not_a_step_up() {
    let env = Env::start().await;
    let (_, _, created) = env.call("POST", "/integrations", Some("tenant-a"), Some(&five9("Kept"))).await;
    let id = created["id"].as_str().unwrap();
    for dots in ["%2e%2e", "..", ".%2E"] {
        let path = format!("/integrations/{id}/ingest-keys/{dots}");
        let (status, _, problem) = env.call("DELETE", &path, Some("tenant-a"), None).await;
        assert_eq!(status, 404, "{path}: {problem}");
    }
    assert_eq!(env.call("GET", &format!("/integrations/{id}"), Some("tenant-a"), None).await.0, 200, "not deleted");
}

impl Env {
    /// The import function as deployed, with the schedule store and the tombstone grace `grace` (its runs of a
    /// deleted integration never reach an ACD).
    fn importer(&self, grace: Duration) -> acd_app::import::ImportService {
        let (settings, clients) = (&self.stack.settings, &self.stack.clients);
        let factory = wiring::connector_factory(settings, acd_connectors::Endpoints::default()).expect("HTTP client");
        let config = acd_app::import::ImportConfig { tombstone_grace: grace, ..Default::default() };
        wiring::import_service(settings, clients, factory, config)
    }

    /// Runs the import of integration `id` of tenant-a as its recurring schedule does: its summary's detail.
    async fn import(&self, importer: &acd_app::import::ImportService, id: &str) -> String {
        let event =
            acd_app::import::ImportEvent { tenant_id: "tenant-a".into(), integration_id: id.into(), at_once: false };
        let deadline = acd_connectors::Deadline::after(Duration::from_secs(300));
        let summary = importer.run(&event, deadline).await.expect("not a failed invocation");
        assert_eq!(summary.outcome, acd_app::import::RunOutcome::Skipped, "{summary:?}");
        summary.detail
    }

    /// The names of the integration's schedules and secrets that exist.
    async fn leftovers(&self, id: &str) -> (Vec<String>, Vec<String>) {
        let schedules = self.schedule_names().await.into_iter().filter(|n| n.contains(id)).collect();
        let secrets = self.secret_names().await.into_iter().filter(|n| n.contains(id)).collect();
        (schedules, secrets)
    }
}

/// A DELETE that failed after its tombstone (the scheduler throttled) and that the client never retries: the
/// integration is invisible, so nothing in the API can finish it. The import its schedule keeps invoking finishes
/// it once the grace is over (not before: a DELETE still running, or the client's prompt retry, is not raced):
/// schedules and secret gone, name and quota place free, the data kept. Until 2026-12-07 the import only made the
/// queues inactive, every quarter hour, for ever.
#[tokio::test]
async fn a_delete_that_failed_half_way_is_finished_by_an_import_once_the_grace_is_over() {
    let env = Env::start().await;
    let schedules =
        Arc::new(FailingSchedules::new(Arc::new(wiring::schedules(&env.stack.settings, &env.stack.clients))));
    schedules.fail_delete.store(true, Ordering::SeqCst);
    let mut api = env.api.clone();
    api.service.schedules = schedules;
    let (status, _, created) = env.call("POST", "/integrations", Some("tenant-a"), Some(&five9("Half-way"))).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let path = format!("/integrations/{id}");
    let (status, _, _) = decode(api.handle(api_request("DELETE", &path, Some("tenant-a"), None)).await);
    assert_eq!(status, 503, "the schedules could not be deleted");
    assert_eq!(env.call("GET", &path, Some("tenant-a"), None).await.0, 404, "a tombstone is invisible");
    let (status, _, problem) = env.call("POST", "/integrations", Some("tenant-a"), Some(&five9("Half-way"))).await;
    assert_eq!((status, problem["code"].as_str()), (409, Some("name-taken")), "the name stays reserved");
    let left = env.leftovers(&id).await;
    assert!(!left.0.is_empty() && left.1.len() == 1, "{left:?}");

    // The first import that finds the tombstone starts the grace and deletes nothing.
    let grace = Duration::from_secs(1);
    let importer = env.importer(grace);
    assert_eq!(env.import(&importer, &id).await, "integration deleted");
    assert_eq!(env.leftovers(&id).await, left, "nothing deleted within the grace");
    assert_eq!(env.import(&importer, &id).await, "integration deleted");
    assert_eq!(env.leftovers(&id).await, left, "nothing deleted within the grace");

    // Once it is over, the next one finishes the delete as the DELETE route does.
    tokio::time::sleep(grace + Duration::from_millis(200)).await;
    assert_eq!(env.import(&importer, &id).await, "integration deleted");
    assert_eq!(env.leftovers(&id).await, (vec![], vec![]), "schedules and secret deleted");
    assert_eq!(env.call("DELETE", &path, Some("tenant-a"), None).await.0, 404, "the delete is done");
    let quota = |items: &[std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>]| {
        let counter = items.iter().find(|i| i["SK"].as_s().unwrap() == "QUOTA").expect("the quota counter");
        counter["integrations"].as_n().unwrap().clone()
    };
    assert_eq!(quota(&env.table_items().await), "0", "the quota place given back");
    let items = env.table_items().await;
    let mentions = |i: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>| {
        ["PK", "SK", "integration_id"]
            .iter()
            .any(|k| i.get(*k).and_then(|v| v.as_s().ok()).is_some_and(|v| v.contains(&id)))
    };
    assert!(!items.iter().any(mentions), "record, name and the grace's lease gone: {items:?}");
    let (status, _, again) = env.call("POST", "/integrations", Some("tenant-a"), Some(&five9("Half-way"))).await;
    assert_eq!(status, 201, "the name is free: {again}");
    // Nothing of the new integration is touched by imports of the old one.
    assert_eq!(env.import(&importer, &id).await, "integration deleted");
    let new_id = again["id"].as_str().unwrap();
    assert_eq!(env.call("GET", &format!("/integrations/{new_id}"), Some("tenant-a"), None).await.0, 200);
    let kept = env.leftovers(new_id).await;
    assert!(!kept.0.is_empty() && kept.1.len() == 1, "{kept:?}");
}

/// A DELETE that runs between a create's record write and its secret and schedule writes removes the record; the
/// create then writes the secret and the schedules and answers 201 for an id that is gone. It reads the record again
/// and removes both (since 2026-12-07; before, only the import they started did, when it ran). Should that fail, the
/// import its schedule invokes finds no record (an import is only ever started after its record was written: it was
/// deleted) and removes both. Until 2026-12-07 (earlier) they stayed for ever: a schedule invoking the import every
/// quarter hour, and credentials in Secrets Manager that no API could remove.
#[tokio::test]
async fn an_import_of_an_integration_whose_record_is_gone_removes_its_schedules_and_secret() {
    let env = Env::start().await;
    let gate = Arc::new(HeldSecrets::over(env.api.service.secrets.clone(), false, false));
    gate.hold_before_create.store(true, Ordering::SeqCst);
    let mut api = env.api.clone();
    api.service.secrets = gate.clone();
    let request = api_request("POST", "/integrations", Some("tenant-a"), Some(&genesys("Raced")));
    let create = tokio::spawn(async move { decode(api.handle(request).await) });
    // The record is written (the integration is listed), its secret not yet: another admin's DELETE runs now.
    gate.written.notified().await;
    let (_, _, listed) = env.call("GET", "/integrations", Some("tenant-a"), None).await;
    let id = listed["items"][0]["id"].as_str().expect("the integration being created is listed").to_owned();
    let (status, _, _) = env.call("DELETE", &format!("/integrations/{id}"), Some("tenant-a"), None).await;
    assert_eq!(status, 204, "the DELETE ran between the record and the secret");
    gate.release.notify_one();
    let (status, _, created) = create.await.unwrap();
    assert_eq!((status, created["id"].as_str()), (201, Some(id.as_str())), "{created}");
    assert_eq!(env.call("GET", &format!("/integrations/{id}"), Some("tenant-a"), None).await.0, 404);
    assert_eq!(env.leftovers(&id).await, (vec![], vec![]), "the create removed what it wrote after the DELETE");

    // Had that removal failed: the schedules and the secret of the gone record, which the import removes.
    let (tenant, integration) = (acd_domain::TenantId::parse("tenant-a").unwrap(), id.parse().unwrap());
    env.api.service.schedules.create(&tenant, integration).await.unwrap();
    let credentials = acd_domain::Credentials::new(acd_domain::IntegrationType::new("genesys_cloud"))
        .with_field("client_id", "c")
        .with_secret("client_secret", "s".to_owned());
    let version = acd_domain::SecretVersion::random();
    env.api.service.secrets.create(&tenant, integration, &credentials, &version).await.unwrap();
    let left = env.leftovers(&id).await;
    assert!(left.0.contains(&format!("imp-{id}")) && left.1.len() == 1, "the leftovers: {left:?}");
    assert_eq!(env.import(&env.importer(Duration::from_secs(300)), &id).await, "integration deleted");
    assert_eq!(env.leftovers(&id).await, (vec![], vec![]), "schedules removed, secret no longer listed");

    // The record may be missing because the table was replaced, not the integration deleted: the secret is only
    // scheduled for deletion (30 days), so it can be restored with the table (until 2026-12-08 it was deleted at once).
    let secrets = env.stack.clients.secrets();
    let name = wiring::secrets_store(&env.stack.settings, &env.stack.clients).secret_name(&tenant, integration);
    let described = secrets.describe_secret().secret_id(&name).send().await.expect("the secret still exists");
    let deletion = described.deleted_date().expect("scheduled for deletion").secs();
    let in_days = (deletion - chrono::Utc::now().timestamp()) as f64 / 86_400.0;
    assert!((29.9..=30.1).contains(&in_days), "deleted in {in_days} days");
    // A run retried after that (a repeated delivery) finds it scheduled already and keeps its date.
    assert_eq!(env.import(&env.importer(Duration::from_secs(300)), &id).await, "integration deleted");
    let again = secrets.describe_secret().secret_id(&name).send().await.unwrap();
    assert_eq!(again.deleted_date().map(|d| d.secs()), Some(deletion));
    secrets.restore_secret().secret_id(&name).send().await.expect("restorable");
    let restored = env.api.service.secrets.get(&tenant, integration, None).await.expect("the credentials are back");
    assert_eq!(restored.field("client_id"), Some("c"));
}

/// A create fails at its last step (its schedules written, the answer lost) and is rolled back, and removing the
/// secret fails too: the schedules are kept, and the import they start finds no record and removes the secret and
/// them. Until 2026-12-08 the three removals ran at once: the schedules went, and the secret stayed for good.
#[tokio::test]
async fn a_rollback_whose_secret_removal_fails_keeps_the_schedules_for_the_import_that_removes_both() {
    let env = Env::start().await;
    let schedules =
        Arc::new(FailingSchedules::new(Arc::new(wiring::schedules(&env.stack.settings, &env.stack.clients))));
    schedules.fail_create.store(true, Ordering::SeqCst);
    let secrets = Arc::new(HeldSecrets::over(env.api.service.secrets.clone(), false, false));
    secrets.fail_delete.store(true, Ordering::SeqCst);
    let mut api = env.api.clone();
    (api.service.schedules, api.service.secrets) = (schedules, secrets.clone());
    let request = api_request("POST", "/integrations", Some("tenant-a"), Some(&genesys("Rolled back")));
    let (status, _, problem) = decode(api.handle(request).await);
    assert_eq!(status, 503, "{problem}");
    assert_eq!(env.call("GET", "/integrations", Some("tenant-a"), None).await.2["items"], json!([]), "no record");
    let names = env.schedule_names().await;
    let id =
        names.iter().find_map(|n| n.strip_prefix("imp-").filter(|id| id.parse::<acd_domain::IntegrationId>().is_ok()));
    let id = id.unwrap_or_else(|| panic!("the recurring schedule was kept: {names:?}")).to_owned();
    let left = env.leftovers(&id).await;
    assert!(left.0.contains(&format!("imp-{id}")) && left.1.len() == 1, "schedule and secret left: {left:?}");

    // Secrets Manager still failing when the schedule's import runs: it fails, and the schedules stay for the next.
    let mut failing = env.importer(Duration::from_secs(300));
    failing.secrets = secrets.clone();
    let event =
        acd_app::import::ImportEvent { tenant_id: "tenant-a".into(), integration_id: id.clone(), at_once: false };
    let deadline = acd_connectors::Deadline::after(Duration::from_secs(300));
    assert!(failing.run(&event, deadline).await.is_err(), "the import fails on the secret");
    assert_eq!(env.leftovers(&id).await, left, "nothing removed: the schedules invoke the import again");
    secrets.fail_delete.store(false, Ordering::SeqCst);
    assert_eq!(env.import(&env.importer(Duration::from_secs(300)), &id).await, "integration deleted");
    assert_eq!(env.leftovers(&id).await, (vec![], vec![]), "the import removed both (the secret after 30 days)");
}

/// A create rolled back after a PATCH renamed its (already visible) record deletes the record with the create's copy,
/// which still has the old name: the delete frees the names the stored record holds. Until 2026-12-08 it freed the
/// copy's name only, and the new name stayed reserved by an id that no longer exists, for good.
#[tokio::test]
async fn deleting_with_a_copy_read_before_a_rename_frees_the_new_name() {
    use acd_app::ports::IntegrationRepo;
    let env = Env::start().await;
    let (status, _, created) = env.call("POST", "/integrations", Some("tenant-a"), Some(&genesys("Before"))).await;
    assert_eq!(status, 201, "{created}");
    let id: acd_domain::IntegrationId = created["id"].as_str().unwrap().parse().unwrap();
    let tenant = acd_domain::TenantId::parse("tenant-a").unwrap();
    let repo = wiring::dynamo_store(&env.stack.settings, &env.stack.clients);
    let stale = repo.get(&tenant, id).await.unwrap().expect("the record");
    let (status, _, renamed) =
        env.call("PATCH", &format!("/integrations/{id}"), Some("tenant-a"), Some(&json!({"name": "After"}))).await;
    assert_eq!(status, 200, "{renamed}");
    repo.delete(&stale).await.expect("deleted with the copy named Before");
    assert_eq!(env.call("GET", &format!("/integrations/{id}"), Some("tenant-a"), None).await.0, 404);
    for name in ["After", "Before"] {
        let (status, _, again) = env.call("POST", "/integrations", Some("tenant-a"), Some(&genesys(name))).await;
        assert_eq!(status, 201, "{name} is free again: {again}");
    }
}

/// Pause and resume write the recurring schedule anew when it is missing (e.g. a create whose record transaction
/// landed after its rollback had run): until 2026-12-07 they only updated it, and answered 503 for ever.
#[tokio::test]
async fn pause_and_resume_recreate_a_missing_recurring_schedule() {
    let env = Env::start().await;
    let (status, _, created) = env.call("POST", "/integrations", Some("tenant-a"), Some(&five9("Unscheduled"))).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let name = format!("imp-{id}");
    let scheduler = env.stack.clients.scheduler();
    scheduler.delete_schedule().name(&name).group_name(&env.stack.settings.schedule_group).send().await.unwrap();
    assert!(env.stack.schedule(&name).await.is_none());

    let expected_input =
        acd_aws::scheduler::import_input(&acd_domain::TenantId::parse("tenant-a").unwrap(), id.parse().unwrap(), false);
    for (action, state) in [("pause", "paused"), ("resume", "importing")] {
        let (status, _, answer) =
            env.call("POST", &format!("/integrations/{id}/{action}"), Some("tenant-a"), None).await;
        assert_eq!((status, answer["status"]["state"].as_str()), (200, Some(state)), "{action}: {answer}");
        let schedule = env.stack.schedule(&name).await.unwrap_or_else(|| panic!("{action}: {name} exists again"));
        let enabled = action == "resume";
        let expected = if enabled {
            aws_sdk_scheduler::types::ScheduleState::Enabled
        } else {
            aws_sdk_scheduler::types::ScheduleState::Disabled
        };
        assert_eq!(schedule.state(), Some(&expected), "{action}");
        assert_eq!(schedule.target().and_then(|t| t.input()), Some(expected_input.as_str()), "{action}");
    }
}

/// A create finding its recurring schedule already there (a pause or resume during the create wrote it, as they
/// create a missing one) writes its definition over it instead of failing, which would roll the create back.
#[tokio::test]
async fn a_recurring_schedule_already_there_does_not_fail_a_create() {
    use acd_app::ports::ScheduleStore;
    let env = Env::start().await;
    let schedules = wiring::schedules(&env.stack.settings, &env.stack.clients);
    let (tenant, id) = (acd_domain::TenantId::parse("tenant-a").unwrap(), acd_domain::IntegrationId::new());
    schedules.set_enabled(&tenant, id, false).await.expect("a pause creates the missing schedule");
    schedules.create(&tenant, id).await.expect("the create writes over it");
    assert!(env.schedule_names().await.contains(&format!("imp-{id}")), "{:?}", env.schedule_names().await);
}

/// An import event naming another tenant for a live integration's id (a hand-made invoke, an edited dead-letter
/// message) finds no record; the schedules of that id run the other tenant's integration and are left alone.
#[tokio::test]
async fn an_import_event_with_another_tenant_leaves_a_live_integrations_schedules_alone() {
    let env = Env::start().await;
    let (status, _, created) = env.call("POST", "/integrations", Some("tenant-a"), Some(&five9("Live"))).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let before = env.leftovers(&id).await;
    assert!(before.0.iter().any(|s| s.starts_with("imp-")), "{before:?}");
    let importer = env.importer(Duration::from_secs(300));
    let event =
        acd_app::import::ImportEvent { tenant_id: "tenant-b".into(), integration_id: id.clone(), at_once: false };
    let summary = importer.run(&event, acd_connectors::Deadline::after(Duration::from_secs(300))).await.unwrap();
    assert_eq!(summary.detail, "integration deleted", "{summary:?}");
    assert_eq!(env.leftovers(&id).await, before, "tenant-a's schedules and secret stay");
}

/// The SDK sends a claim of an idempotency key again when DynamoDB applied it but its answer was lost (a 500, a
/// timeout): the same put, with the same token. It is the same claim, not another request's. Until 2026-12-08 the
/// retry failed its condition, read the claim back as held, and the only request there was got 409
/// `idempotency-request-in-progress` for the key's lease.
#[tokio::test]
async fn an_idempotency_claim_sent_again_with_its_token_is_the_same_claim() {
    use acd_app::ports::{Claim, IdempotencyRecord, IdempotencyStore};
    let env = Env::start().await;
    let store = wiring::dynamo_store(&env.stack.settings, &env.stack.clients);
    let tenant = acd_domain::TenantId::parse("tenant-a").unwrap();
    let now = chrono::Utc::now();
    let claim = |token: &str| IdempotencyRecord {
        operation: "POST /integrations".into(),
        fingerprint: "f".into(),
        token: token.into(),
        response: None,
        lease_until: now + chrono::Duration::seconds(60),
        expires_at: now + chrono::Duration::hours(24),
    };
    assert!(matches!(store.claim(&tenant, "key-1", &claim("t1"), now).await.unwrap(), Claim::Claimed));
    assert!(matches!(store.claim(&tenant, "key-1", &claim("t1"), now).await.unwrap(), Claim::Claimed), "a retry");
    match store.claim(&tenant, "key-1", &claim("t2"), now).await.unwrap() {
        Claim::Held(held) => assert_eq!(held.token, "t1", "another request's claim finds the first one held"),
        Claim::Claimed => panic!("a second request claimed a held key"),
    }
    // Once answered, an attempt of the claim that DynamoDB applies late does not wipe the answer retries replay.
    let answer = acd_app::ports::StoredResponse { status: 201, body: "{}".into(), location: None };
    store.complete(&tenant, "key-1", "t1", &answer).await.unwrap();
    match store.claim(&tenant, "key-1", &claim("t1"), now).await.unwrap() {
        Claim::Held(held) => assert_eq!(held.response, Some(answer)),
        Claim::Claimed => panic!("a late attempt of the claim wiped its answer"),
    }
}
