//! Checks the deployment template (`infra/template.yaml`) against the code and the API contract, so that the three
//! cannot drift apart unnoticed:
//!
//! 1. `TENANT_AUTH` (the local-only header authentication switch) appears nowhere in the template.
//! 2. The HTTP API's routes are exactly the operations of `infra/openapi.yaml`, each served by the right function.
//!    Convention (it follows the HTTP handlers: `shared/app/src/http/queries.rs` serves the first group,
//!    `shared/app/src/http/integrations.rs` the rest): paths under `/queues` and `/agent-states`, and the mapping
//!    sub-resources `/integrations/{id}/external-agents…` and `/integrations/{id}/external-statuses…`, go to
//!    `queues-query`; every other path (`/integration-types`, `/integrations…` including `/runs` and `/import`) to
//!    `integrations-api`. Adding an operation to the OpenAPI file without its route in the template (or the
//!    reverse) fails here, with the YAML to add.
//! 3. The DynamoDB table declares exactly the keys and indexes of `acd_aws::schema` (what the code and the local run
//!    create), on-demand, with point-in-time recovery, encryption and TTL on `ttl`.
//! 4. Every function is `provided.al2023` on arm64, built by cargo-lambda from one binary of `functions/`, with the
//!    timeouts and memory the design requires, and the environment its code reads.
//! 5. No IAM statement uses `"*"` as an action or a resource (nor `NotAction`/`NotResource`, nor an action wildcard)
//!    except the statements listed in [`STAR_RESOURCE_EXCEPTIONS`], each with its reason; each role's actions are
//!    exactly the ones its function calls ([`ROLE_ACTIONS`]); only the roles whose code queries an index get the
//!    table's index ARNs.
//! 6. Every AWS SDK operation the code calls (found in `shared/*/src` and `functions/*/src`, named by the botocore
//!    models; the items of transactions by their builders) is granted to the roles of the functions that make it
//!    ([`CALL_SITES`], [`SITE_EXCEPTIONS`]).
//!
//! CloudFormation short forms (`!Ref`, `!GetAtt`, `!Sub`, `!If`, ...) arrive from YAML as tagged values; they are
//! rewritten to their long form (`{"Ref": ..}`, `{"Fn::GetAtt": [..]}`) before any check.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use acd_aws::keys::{PK, SK};
use acd_aws::schema::{GLOBAL_INDEXES, key_attributes};
use serde_json::{Map, Value, json};

// ---------------------------------------------------------------------------------------------------------------
// Expectations
// ---------------------------------------------------------------------------------------------------------------

/// The function serving an API path, by the routing convention (see the module docs and infra/README.md).
fn function_for_path(path: &str) -> &'static str {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        ["queues", ..] | ["agent-states", ..] => "queues-query",
        ["integrations", _, "external-agents" | "external-statuses", ..] => "queues-query",
        ["ingest", ..] => "ingest",
        _ => "integrations-api",
    }
}

/// The functions (binary = crate name in `functions/`).
const FUNCTIONS: &[&str] = &["integrations-api", "import", "queues-query", "ingest"];
const API_FUNCTIONS: &[&str] = &["integrations-api", "queues-query", "ingest"];

/// Statements allowed to use `Resource: "*"`: (resource logical id, statement Sid, the only actions it may grant,
/// why). Every entry must match a statement of the template, so the list cannot go stale.
const STAR_RESOURCE_EXCEPTIONS: &[(&str, &str, &[&str], &str)] = &[
    ("IntegrationsApiRole", "Tracing", XRAY, XRAY_WHY),
    ("QueuesQueryRole", "Tracing", XRAY, XRAY_WHY),
    ("ImportRole", "Tracing", XRAY, XRAY_WHY),
    ("IngestRole", "Tracing", XRAY, XRAY_WHY),
];
const XRAY: &[&str] = &["xray:PutTraceSegments", "xray:PutTelemetryRecords"];
const XRAY_WHY: &str = "X-Ray trace submission has no resource-level permissions (Tracing: Active on every function)";

/// Every action each role may grant: what its function calls, and nothing else. A new call needs a new action
/// here and in the template, on purpose.
const ROLE_ACTIONS: &[(&str, &[&str])] = &[
    (
        "IngestRole",
        &[
            "logs:CreateLogStream",
            "logs:PutLogEvents",
            "xray:PutTraceSegments",
            "xray:PutTelemetryRecords",
            "dynamodb:GetItem",
            "dynamodb:Query",
            "dynamodb:UpdateItem",
            "dynamodb:BatchWriteItem",
            // Queue writes: transactions checking that the integration is not being deleted.
            "dynamodb:ConditionCheckItem",
            // integration.recovered when a push ends a no_data failure.
            "events:PutEvents",
        ],
    ),
    (
        "IntegrationsApiRole",
        &[
            "logs:CreateLogStream",
            "logs:PutLogEvents",
            "xray:PutTraceSegments",
            "xray:PutTelemetryRecords",
            // Transactions (TransactWriteItems) are authorised per contained action.
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:Query",
            "dynamodb:ConditionCheckItem",
            "lambda:InvokeFunction", // the first import, resume and sync-now start at once (async invoke)
            "secretsmanager:CreateSecret",
            "secretsmanager:TagResource",
            "secretsmanager:PutSecretValue",
            "secretsmanager:UpdateSecretVersionStage", // a PATCH's version becomes current once the record names it
            "secretsmanager:RestoreSecret",            // a secret deleted by hand with a recovery window
            "secretsmanager:DeleteSecret",
            "secretsmanager:DescribeSecret",
            "scheduler:CreateSchedule",
            "scheduler:UpdateSchedule",
            "scheduler:DeleteSchedule",
            "iam:PassRole",
            // Amazon Connect: verifying the customer's role.
            "sts:AssumeRole",
            // integration.deleted events.
            "events:PutEvents",
        ],
    ),
    (
        "ImportRole",
        &[
            "logs:CreateLogStream",
            "logs:PutLogEvents",
            "xray:PutTraceSegments",
            "xray:PutTelemetryRecords",
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:Query",
            "dynamodb:BatchWriteItem",
            "dynamodb:ConditionCheckItem",
            "secretsmanager:GetSecretValue",
            // What a delete left (`ImportService::stop_deleted`): the secret and schedules of an integration whose
            // record is gone, the rest of a delete stopped half-way.
            "secretsmanager:DeleteSecret",
            "scheduler:GetSchedule",
            "scheduler:DeleteSchedule",
            // Amazon Connect: reading through the customer's role.
            "sts:AssumeRole",
            // Its DeadLetterQueue (failed asynchronous invocations).
            "sqs:SendMessage",
            // Status-change events (integration.failing / integration.recovered / integration.deleted).
            "events:PutEvents",
        ],
    ),
    (
        "QueuesQueryRole",
        &[
            "logs:CreateLogStream",
            "logs:PutLogEvents",
            "xray:PutTraceSegments",
            "xray:PutTelemetryRecords",
            "dynamodb:GetItem",
            "dynamodb:Query",
            // The queue search's names index (GET /queues?q=).
            "dynamodb:BatchGetItem",
            // The external agent / status mapping routes (conditional updates of existing items).
            "dynamodb:UpdateItem",
        ],
    ),
    ("SchedulerRole", &["lambda:InvokeFunction", "sqs:SendMessage"]),
];

/// Stand-alone policies: (logical id, roles it attaches to, every action it grants).
const POLICY_RESOURCES: &[(&str, &[&str], &[&str])] = &[
    // Only with the KmsKeyArn parameter: both senders to the dead-letter queue need the key then.
    ("DeadLetterKeyAccess", &["SchedulerRole", "ImportRole"], &["kms:GenerateDataKey", "kms:Decrypt"]),
    // Only with the KmsKeyArn parameter: DynamoDB uses the table's key on behalf of each caller.
    (
        "TableKeyAccess",
        &["IntegrationsApiRole", "ImportRole", "QueuesQueryRole", "IngestRole"],
        &["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
    ),
];

/// Environment variables each function's code reads (shared/aws/src/config.rs, shared/app/src/http/mod.rs), and the
/// import's allocator setting.
const ENVIRONMENT: &[(&str, &[&str])] = &[
    ("ingest", &["TABLE_NAME", "EVENT_BUS_NAME"]),
    (
        "integrations-api",
        &[
            "TABLE_NAME",
            "SECRET_PREFIX",
            "SCHEDULE_GROUP",
            "IMPORT_FUNCTION_ARN",
            "SCHEDULER_ROLE_ARN",
            "TRUSTED_ACCOUNT_ID",
            "ALLOW_SAME_ACCOUNT_ROLES",
            "IMPORT_SCHEDULE_EXPRESSION",
            "SCHEDULE_DLQ_ARN",
            "DEFAULT_HISTORY_DAYS",
            "TENANT_CLAIM",
            "SCOPE_CLAIM",
            "READ_SCOPE",
            "ADMIN_SCOPE",
            "MAX_INTEGRATIONS_PER_TENANT",
            "EVENT_BUS_NAME",
        ],
    ),
    // MIMALLOC_PURGE_DELAY is read by the import's allocator (functions/import/src/main.rs), not by our code.
    (
        "import",
        &[
            "TABLE_NAME",
            "SECRET_PREFIX",
            "RECONCILIATION_HOURS",
            "HOUR_BUCKETS",
            "EVENT_BUS_NAME",
            "SCHEDULE_GROUP",
            "TRUSTED_ACCOUNT_ID",
            "ALLOW_SAME_ACCOUNT_ROLES",
            "MIMALLOC_PURGE_DELAY",
        ],
    ),
    ("queues-query", &["TABLE_NAME", "TENANT_CLAIM", "SCOPE_CLAIM", "READ_SCOPE", "ADMIN_SCOPE"]),
];

// ---------------------------------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------------------------------

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(relative: &str) -> String {
    let path = repo_root().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Parses YAML into JSON, rewriting CloudFormation short-form tags to their long form.
fn parse_yaml(relative: &str) -> Value {
    let yaml: serde_norway::Value =
        serde_norway::from_str(&read(relative)).unwrap_or_else(|e| panic!("{relative} is not valid YAML: {e}"));
    to_json(yaml)
}

fn to_json(value: serde_norway::Value) -> Value {
    use serde_norway::Value as Y;
    match value {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => serde_json::to_value(&n).expect("YAML number"),
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(to_json).collect()),
        Y::Mapping(mapping) => Value::Object(
            mapping
                .into_iter()
                .map(|(k, v)| {
                    let key = match to_json(k) {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    (key, to_json(v))
                })
                .collect(),
        ),
        Y::Tagged(tagged) => {
            let name = tagged.tag.to_string().trim_start_matches('!').to_owned();
            let inner = to_json(tagged.value);
            match name.as_str() {
                "Ref" | "Condition" => json!({ name: inner }),
                // `!GetAtt Resource.Attribute` is the string form of `Fn::GetAtt: [Resource, Attribute]`.
                "GetAtt" => match inner {
                    Value::String(s) => {
                        let (resource, attribute) = s.split_once('.').unwrap_or((&s, ""));
                        json!({ "Fn::GetAtt": [resource, attribute] })
                    }
                    other => json!({ "Fn::GetAtt": other }),
                },
                _ => json!({ format!("Fn::{name}"): inner }),
            }
        }
    }
}

struct Template {
    root: Value,
}

impl Template {
    fn load() -> Template {
        Template { root: parse_yaml("infra/template.yaml") }
    }

    fn resources(&self) -> &Map<String, Value> {
        self.root["Resources"].as_object().expect("template has Resources")
    }

    fn of_type(&self, kind: &str) -> Vec<(&str, &Value)> {
        self.resources().iter().filter(|(_, r)| r["Type"] == kind).map(|(name, r)| (name.as_str(), r)).collect()
    }

    /// A function property, falling back to `Globals.Function` as SAM does.
    fn function_property<'a>(&'a self, function: &'a Value, property: &str) -> &'a Value {
        let own = &function["Properties"][property];
        if own.is_null() { &self.root["Globals"]["Function"][property] } else { own }
    }

    /// `(logical id, binary, resource)` of every SAM function.
    fn functions(&self) -> Vec<(&str, String, &Value)> {
        self.of_type("AWS::Serverless::Function")
            .into_iter()
            .map(|(name, f)| {
                let binary = f["Metadata"]["BuildProperties"]["Binary"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{name}: Metadata.BuildProperties.Binary (the cargo binary) is missing"));
                (name, binary.to_owned(), f)
            })
            .collect()
    }

    fn function(&self, binary: &str) -> &Value {
        self.functions()
            .into_iter()
            .find(|(_, b, _)| b == binary)
            .map(|(_, _, f)| f)
            .unwrap_or_else(|| panic!("no function builds binary {binary}"))
    }
}

/// `{"Ref": name}` → name.
fn ref_target(value: &Value) -> Option<&str> {
    value.get("Ref").and_then(Value::as_str)
}

fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items.iter().flat_map(strings).collect(),
        _ => Vec::new(),
    }
}

// ---------------------------------------------------------------------------------------------------------------
// 1. TENANT_AUTH
// ---------------------------------------------------------------------------------------------------------------

fn find_text(value: &Value, needle: &str, path: String, found: &mut Vec<String>) {
    match value {
        Value::String(s) if s.contains(needle) => found.push(format!("{path} = {s:?}")),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                find_text(item, needle, format!("{path}[{i}]"), found);
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                if key.contains(needle) {
                    found.push(format!("{path}.{key} (key)"));
                }
                find_text(item, needle, format!("{path}.{key}"), found);
            }
        }
        _ => {}
    }
}

#[test]
fn tenant_auth_is_never_set() {
    let template = Template::load();
    let mut found = Vec::new();
    find_text(&template.root, "TENANT_AUTH", String::new(), &mut found);
    assert!(
        found.is_empty(),
        "TENANT_AUTH switches on header authentication (local run only) and must never be in the template: {found:#?}"
    );
    // And no function environment anywhere (Globals included) carries a variable of that name in any case.
    let globals = &template.root["Globals"]["Function"]["Environment"]["Variables"];
    for (name, _, function) in template.functions() {
        for variables in [&function["Properties"]["Environment"]["Variables"], globals] {
            if let Some(vars) = variables.as_object() {
                assert!(!vars.keys().any(|k| k.eq_ignore_ascii_case("TENANT_AUTH")), "{name} sets TENANT_AUTH");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// 2. Routes = OpenAPI operations
// ---------------------------------------------------------------------------------------------------------------

const HTTP_METHODS: &[&str] = &["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/// `(METHOD, path)` → binary, from the functions' `HttpApi` events.
fn template_routes(template: &Template) -> BTreeMap<Route, String> {
    let apis: BTreeSet<&str> = template.of_type("AWS::Serverless::HttpApi").into_iter().map(|(n, _)| n).collect();
    assert_eq!(apis.len(), 1, "exactly one AWS::Serverless::HttpApi expected, found {apis:?}");
    let mut routes = BTreeMap::new();
    for (name, binary, function) in template.functions() {
        let Some(events) = function["Properties"]["Events"].as_object() else { continue };
        for (event, definition) in events {
            if definition["Type"] != "HttpApi" {
                continue;
            }
            let properties = &definition["Properties"];
            let api = ref_target(&properties["ApiId"]);
            assert!(
                api.is_some_and(|a| apis.contains(a)),
                "{name}.{event}: ApiId must be !Ref of the template's HttpApi (else SAM creates another, implicit API)"
            );
            // An event without Path/Method is SAM's `$default` catch-all route: not an OpenAPI operation.
            let method = properties["Method"].as_str().unwrap_or("$default").to_ascii_uppercase();
            let path = properties["Path"].as_str().unwrap_or("$default").to_owned();
            // Only `GET /health` (version and build, no tenant data) and the ingest routes (the ingest key is the
            // credential, checked by the function) opt out of the authorizer.
            let public = (method == "GET" && path == "/health") || path.starts_with("/ingest/");
            assert!(
                if public { properties["Auth"] == json!({"Authorizer": "NONE"}) } else { properties["Auth"].is_null() },
                "{name}.{event}: routes keep the API's default JWT authorizer (no per-route Auth), GET /health and /ingest/* have none"
            );
            if let Some(previous) = routes.insert((method.clone(), path.clone()), binary.clone()) {
                panic!("route {method} {path} is declared twice ({previous} and {binary})");
            }
        }
    }
    routes
}

/// `(METHOD, path)`.
type Route = (String, String);
/// `(index name, key schema, projection type)`.
type Index = (String, Vec<(String, String)>, String);

/// `(METHOD, path)` → tags of every OpenAPI operation, and tag → the function its description names
/// ("Served by the `queues-query` function…").
fn openapi_operations() -> (BTreeMap<Route, Vec<String>>, BTreeMap<String, String>) {
    let openapi = parse_yaml("infra/openapi.yaml");
    let paths = openapi["paths"].as_object().expect("infra/openapi.yaml has paths");
    let mut operations = BTreeMap::new();
    for (path, item) in paths {
        let item = item.as_object().unwrap_or_else(|| panic!("{path}: path item is not a mapping"));
        for (method, operation) in item.iter().filter(|(k, _)| HTTP_METHODS.contains(&k.as_str())) {
            operations.insert((method.to_ascii_uppercase(), path.clone()), strings(&operation["tags"]));
        }
    }
    assert!(!operations.is_empty(), "infra/openapi.yaml lists no operation");
    let mut tag_functions = BTreeMap::new();
    for tag in openapi["tags"].as_array().map(Vec::as_slice).unwrap_or_default() {
        let (Some(name), Some(description)) = (tag["name"].as_str(), tag["description"].as_str()) else { continue };
        if let Some(function) = FUNCTIONS.iter().find(|f| description.contains(&format!("`{f}` function"))) {
            tag_functions.insert(name.to_owned(), (*function).to_owned());
        }
    }
    (operations, tag_functions)
}

#[test]
fn routes_are_exactly_the_openapi_operations_each_on_its_function() {
    let template = Template::load();
    let routes = template_routes(&template);
    let (operations, tag_functions) = openapi_operations();

    let mut problems = Vec::new();
    for ((method, path), tags) in &operations {
        let expected = function_for_path(path);
        // The OpenAPI tags name the serving function too: they must agree with the path convention.
        for tag in tags {
            if let Some(function) = tag_functions.get(tag).filter(|f| *f != expected) {
                problems.push(format!(
                    "{method} {path}: its tag `{tag}` says {function}, the path convention says {expected}"
                ));
            }
        }
        match routes.get(&(method.clone(), path.clone())) {
            None => problems.push(format!(
                "missing route {method} {path} (in infra/openapi.yaml): add to the Events of the {expected} \
                 function:\n    SomeName:\n      Type: HttpApi\n      Properties: {{ApiId: !Ref HttpApi, Method: \
                 {method}, Path: \"{path}\", PayloadFormatVersion: \"2.0\"}}"
            )),
            Some(actual) if actual != expected => {
                problems.push(format!("route {method} {path} is served by {actual}; the convention says {expected}"))
            }
            Some(_) => {}
        }
    }
    for ((method, path), function) in &routes {
        if !operations.contains_key(&(method.clone(), path.clone())) {
            problems.push(format!(
                "route {method} {path} ({function}) is not an operation of infra/openapi.yaml: document it there \
                 or remove it"
            ));
        }
    }
    assert!(problems.is_empty(), "template routes and infra/openapi.yaml disagree:\n{}", problems.join("\n"));
}

#[test]
fn routing_convention() {
    assert_eq!(function_for_path("/queues"), "queues-query");
    assert_eq!(function_for_path("/queues/{id}/intervals"), "queues-query");
    assert_eq!(function_for_path("/agent-states"), "queues-query");
    assert_eq!(function_for_path("/queuesx"), "integrations-api");
    assert_eq!(function_for_path("/integrations/{id}/external-agents"), "queues-query");
    assert_eq!(function_for_path("/integrations/{id}/external-statuses/{status}"), "queues-query");
    assert_eq!(function_for_path("/integrations/{id}/runs"), "integrations-api");
    assert_eq!(function_for_path("/integrations/{id}/import"), "integrations-api");
    assert_eq!(function_for_path("/integrations/external-agents"), "integrations-api");
    assert_eq!(function_for_path("/integration-types"), "integrations-api");
    assert_eq!(function_for_path("/ingest/agent-events"), "ingest");
    assert_eq!(function_for_path("/integrations/{id}/ingest-keys"), "integrations-api");
}

// ---------------------------------------------------------------------------------------------------------------
// 3. The table = acd_aws::schema
// ---------------------------------------------------------------------------------------------------------------

fn key_schema(value: &Value) -> Vec<(String, String)> {
    value
        .as_array()
        .expect("KeySchema is a list")
        .iter()
        .map(|k| (k["AttributeName"].as_str().unwrap().to_owned(), k["KeyType"].as_str().unwrap().to_owned()))
        .collect()
}

#[test]
fn table_matches_the_schema_in_code() {
    let template = Template::load();
    let tables = template.of_type("AWS::DynamoDB::Table");
    assert_eq!(tables.len(), 1, "exactly one table expected");
    let (_, table) = tables[0];
    let p = &table["Properties"];

    assert_eq!(key_schema(&p["KeySchema"]), vec![(PK.into(), "HASH".into()), (SK.into(), "RANGE".into())]);

    let attributes: BTreeSet<(String, String)> = p["AttributeDefinitions"]
        .as_array()
        .expect("AttributeDefinitions")
        .iter()
        .map(|a| (a["AttributeName"].as_str().unwrap().to_owned(), a["AttributeType"].as_str().unwrap().to_owned()))
        .collect();
    let expected: BTreeSet<(String, String)> = key_attributes().into_iter().map(|n| (n.into(), "S".into())).collect();
    assert_eq!(attributes, expected, "AttributeDefinitions must be exactly the key attributes, all strings");

    let indexes: BTreeSet<Index> = p["GlobalSecondaryIndexes"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|i| {
            (
                i["IndexName"].as_str().unwrap().to_owned(),
                key_schema(&i["KeySchema"]),
                i["Projection"]["ProjectionType"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    let expected: BTreeSet<Index> = GLOBAL_INDEXES
        .iter()
        .map(|(name, pk, sk)| {
            ((*name).into(), vec![((*pk).into(), "HASH".into()), ((*sk).into(), "RANGE".into())], "ALL".into())
        })
        .collect();
    assert_eq!(indexes, expected, "GlobalSecondaryIndexes must be exactly acd_aws::schema::GLOBAL_INDEXES");
    assert!(p["LocalSecondaryIndexes"].is_null(), "the schema has no local secondary index");

    assert_eq!(p["BillingMode"], "PAY_PER_REQUEST", "on-demand billing");
    assert_eq!(p["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"], true, "PITR on");
    assert_eq!(p["SSESpecification"]["SSEEnabled"], true, "encryption with a KMS key (AWS managed or the CMK)");
    assert_eq!(p["TimeToLiveSpecification"], json!({"AttributeName": "ttl", "Enabled": true}), "TTL on `ttl`");
    assert!(!p["DeletionProtectionEnabled"].is_null(), "deletion protection is set (parameter)");
    assert_eq!(table["DeletionPolicy"], "Retain", "imported data survives a stack deletion");
}

// ---------------------------------------------------------------------------------------------------------------
// 4. Functions
// ---------------------------------------------------------------------------------------------------------------

#[test]
fn functions_are_arm64_al2023_built_by_cargo_lambda() {
    let template = Template::load();
    assert!(template.of_type("AWS::Lambda::Function").is_empty(), "functions are AWS::Serverless::Function");
    let functions = template.functions();
    let binaries: BTreeSet<&str> = functions.iter().map(|(_, b, _)| b.as_str()).collect();
    assert_eq!(binaries, FUNCTIONS.iter().copied().collect(), "one function per binary of functions/");

    for (name, binary, function) in &functions {
        assert_eq!(template.function_property(function, "Runtime"), "provided.al2023", "{name}: Runtime");
        assert_eq!(template.function_property(function, "Architectures"), &json!(["arm64"]), "{name}: Architectures");
        assert_eq!(template.function_property(function, "Handler"), "bootstrap", "{name}: Handler");
        // X-Ray (infra/README.md, Tracing): Lambda's daemon beside the function receives its subsegments; the
        // role's X-Ray statement is checked with the other grants (ROLE_ACTIONS).
        assert_eq!(template.function_property(function, "Tracing"), "Active", "{name}: Tracing");
        assert_eq!(function["Metadata"]["BuildMethod"], "rust-cargolambda", "{name}: Metadata.BuildMethod");
        // The CodeUri is the workspace root (the template's parent directory) and the binary a workspace crate.
        let code_uri = template.function_property(function, "CodeUri").as_str().expect("CodeUri");
        let workspace = repo_root().join("infra").join(code_uri);
        assert!(workspace.join("Cargo.toml").is_file(), "{name}: CodeUri {code_uri} is not the workspace root");
        let manifest = read(&format!("functions/{binary}/Cargo.toml"));
        assert!(manifest.contains(&format!("name = \"{binary}\"")), "{name}: functions/{binary} is not crate {binary}");
    }

    for binary in API_FUNCTIONS {
        let timeout = template.function_property(template.function(binary), "Timeout").as_u64().expect("Timeout");
        assert!(timeout <= 29, "{binary}: API functions answer within API Gateway's 30 s (Timeout {timeout})");
    }
    let import = template.function("import");
    assert_eq!(template.function_property(import, "Timeout"), 900, "import: Timeout 900 s");
    // Sized from the measured peaks (README, Benchmarks: ≈ 105 MiB for 2,000 agents and 500 queues), with headroom;
    // a parameter so that a deployment with only small integrations can choose less.
    let memory = template.function_property(import, "MemorySize");
    assert_eq!(ref_target(memory), Some("ImportMemorySize"), "import: MemorySize is the ImportMemorySize parameter");
    let parameter = &template.root["Parameters"]["ImportMemorySize"];
    assert_eq!(parameter["Default"], 512, "import: 512 MB by default (about five times the largest measured peak)");
    assert_eq!(parameter["MinValue"], 128, "import: Lambda's minimum is 128 MB");
    assert_eq!(parameter["MaxValue"], 10240, "import: Lambda's maximum is 10,240 MB");
}

#[test]
fn functions_get_the_environment_their_code_reads() {
    let template = Template::load();
    for (binary, variables) in ENVIRONMENT {
        let function = template.function(binary);
        let environment = &template.function_property(function, "Environment")["Variables"];
        for variable in *variables {
            assert!(!environment[variable].is_null(), "{binary}: environment variable {variable} is not set");
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// 5. IAM
// ---------------------------------------------------------------------------------------------------------------

/// Every IAM statement (a mapping with `Effect`) under `value`, wherever it sits (role policies, trust policies,
/// resource policies, inside `Fn::If`).
fn statements<'a>(value: &'a Value, found: &mut Vec<&'a Map<String, Value>>) {
    match value {
        Value::Object(map) => {
            if map.contains_key("Effect") {
                found.push(map);
            }
            map.values().for_each(|v| statements(v, found));
        }
        Value::Array(items) => items.iter().for_each(|v| statements(v, found)),
        _ => {}
    }
}

#[test]
fn no_iam_wildcards_except_the_listed_ones() {
    let template = Template::load();
    let mut problems = Vec::new();
    let mut used_exceptions = BTreeSet::new();
    for (resource, definition) in template.resources() {
        let mut found = Vec::new();
        statements(definition, &mut found);
        for statement in found {
            let sid = statement.get("Sid").and_then(Value::as_str).unwrap_or("(no Sid)");
            let at = format!("{resource} / {sid}");
            for key in ["NotAction", "NotResource", "NotPrincipal"] {
                if statement.contains_key(key) {
                    problems.push(format!("{at}: {key} grants everything else"));
                }
            }
            let actions = strings(statement.get("Action").unwrap_or(&Value::Null));
            for action in &actions {
                if action.contains('*') {
                    problems.push(format!("{at}: wildcard action {action:?}"));
                }
            }
            if strings(statement.get("Resource").unwrap_or(&Value::Null)).iter().any(|r| r == "*") {
                match STAR_RESOURCE_EXCEPTIONS.iter().find(|(r, s, _, _)| r == resource && *s == sid) {
                    Some((_, _, allowed, _)) => {
                        used_exceptions.insert((resource.as_str(), sid));
                        for action in actions.iter().filter(|a| !allowed.contains(&a.as_str())) {
                            problems
                                .push(format!("{at}: Resource \"*\" is excepted for {allowed:?} only, not {action}"));
                        }
                    }
                    None => problems.push(format!("{at}: Resource \"*\" (not a listed exception)")),
                }
            }
        }
    }
    for (resource, sid, _, why) in STAR_RESOURCE_EXCEPTIONS {
        if !used_exceptions.contains(&(*resource, *sid)) {
            problems.push(format!("stale exception {resource} / {sid} ({why}): no such statement uses Resource \"*\""));
        }
    }
    assert!(problems.is_empty(), "IAM wildcards:\n{}", problems.join("\n"));
}

#[test]
fn each_role_grants_only_what_its_function_calls() {
    let template = Template::load();
    let roles: BTreeSet<&str> = template.of_type("AWS::IAM::Role").into_iter().map(|(n, _)| n).collect();
    let listed: BTreeSet<&str> = ROLE_ACTIONS.iter().map(|(r, _)| *r).collect();
    assert_eq!(roles, listed, "every role of the template is listed in ROLE_ACTIONS");
    for (role, expected) in ROLE_ACTIONS {
        let definition = &template.resources()[*role];
        let granted = granted_by(definition);
        let expected: BTreeSet<String> = expected.iter().map(|a| (*a).to_owned()).collect();
        assert_eq!(granted, expected, "{role}: granted actions differ from what its function calls");
        assert!(definition["Properties"]["ManagedPolicyArns"].is_null(), "{role}: no managed policies");
    }
    for kind in ["AWS::IAM::ManagedPolicy", "AWS::IAM::RolePolicy", "AWS::IAM::User", "AWS::IAM::Group"] {
        assert!(template.of_type(kind).is_empty(), "no {kind} expected (add it to this test with its reason)");
    }
    let policies: BTreeSet<&str> = template.of_type("AWS::IAM::Policy").into_iter().map(|(n, _)| n).collect();
    let listed: BTreeSet<&str> = POLICY_RESOURCES.iter().map(|(p, _, _)| *p).collect();
    assert_eq!(policies, listed, "every AWS::IAM::Policy of the template is listed in POLICY_RESOURCES");
    for (policy, roles, actions) in POLICY_RESOURCES {
        let definition = &template.resources()[*policy]["Properties"];
        let attached: BTreeSet<String> =
            definition["Roles"].as_array().expect("Roles").iter().filter_map(ref_target).map(str::to_owned).collect();
        assert_eq!(attached, roles.iter().map(|r| (*r).to_owned()).collect(), "{policy}: attached roles");
        let mut found = Vec::new();
        statements(&definition["PolicyDocument"], &mut found);
        let granted: BTreeSet<String> =
            found.iter().flat_map(|s| strings(s.get("Action").unwrap_or(&Value::Null))).collect();
        assert_eq!(granted, actions.iter().map(|a| (*a).to_owned()).collect(), "{policy}: granted actions");
    }
    // SAM functions use these roles, not SAM-generated ones (which would add AWS managed policies).
    for (name, _, function) in template.functions() {
        assert!(ref_target(&function["Properties"]["Role"]).is_none(), "{name}: Role is the role's ARN");
        assert!(function["Properties"]["Role"].get("Fn::GetAtt").is_some(), "{name}: Role must be an explicit role");
        assert!(function["Properties"]["Policies"].is_null(), "{name}: Policies are ignored with an explicit Role");
    }
}

// ---------------------------------------------------------------------------------------------------------------
// 6. Every AWS call in the code is granted
// ---------------------------------------------------------------------------------------------------------------

/// The AWS services the code calls, by their botocore model name (also their IAM prefix).
const CODE_SERVICES: &[&str] =
    &["dynamodb", "secretsmanager", "scheduler", "sts", "events", "lambda", "kinesis", "connect"];

/// Services whose calls the customer's role grants (`infra/customer-role-amazon-connect.yaml`), not a stack role.
const CUSTOMER_SERVICES: &[&str] = &["connect", "kinesis"];

/// Where a call is made decides the roles that need it: (path prefix, roles). A call made elsewhere (a file that
/// serves several functions) needs at least one function role to grant it.
const CALL_SITES: &[(&str, &[&str])] = &[
    ("shared/aws/src/query_store/", &["QueuesQueryRole"]),
    ("shared/aws/src/import_store/", &["ImportRole"]),
    ("shared/aws/src/ingest_store.rs", &["IngestRole"]),
    // Connectors read in the import and verify credentials in the integrations API.
    ("shared/connectors/src/", &["ImportRole", "IntegrationsApiRole"]),
];

/// Actions a call site's roles do not all need: (path prefix, action, the roles that need it, why).
const SITE_EXCEPTIONS: &[(&str, &str, &[&str], &str)] = &[
    (
        "shared/aws/src/ingest_store.rs",
        "dynamodb:PutItem",
        &["IntegrationsApiRole"],
        "put_key: a new ingest key (POST /integrations/{id}/ingest-keys; a transaction's Put beside the record check)",
    ),
    (
        "shared/aws/src/ingest_store.rs",
        "dynamodb:DeleteItem",
        &["IntegrationsApiRole", "ImportRole"],
        "delete_key: DELETE /integrations/{id}/ingest-keys/{key_id}; delete_keys: a push integration's delete (the \
         DELETE route, and the import that finishes a delete left half-way)",
    ),
];

/// The items of a `TransactWriteItems`, each authorised as its own action: (builder call, action).
const TRANSACTION_ITEMS: &[(&str, &str)] = &[
    ("ConditionCheck::builder()", "dynamodb:ConditionCheckItem"),
    // crate::dynamo::queue_transactions: the record check of the transactions that write queues.
    ("queue_transactions(", "dynamodb:ConditionCheckItem"),
    ("Put::builder()", "dynamodb:PutItem"),
    ("Update::builder()", "dynamodb:UpdateItem"),
    ("Delete::builder()", "dynamodb:DeleteItem"),
];

/// Operations whose IAM action has another name, or that no stack role needs: (`service:Operation`, action, why).
const OPERATION_ACTIONS: &[(&str, Option<&str>, &str)] = &[
    ("lambda:Invoke", Some("lambda:InvokeFunction"), "the IAM action of the Invoke operation"),
    ("dynamodb:TransactWriteItems", None, "authorised per contained action (Put, Update, Delete, ConditionCheck)"),
    ("dynamodb:CreateTable", None, "the local run's and the tests' table (schema.rs); in AWS the stack creates it"),
];

/// `service -> operation names` of [`CODE_SERVICES`], from the botocore models of the project's tool environment
/// (the models the SDKs are generated from).
fn service_operations() -> BTreeMap<String, Vec<String>> {
    let python = repo_root().join(".tools/venv/bin/python");
    let script = format!(
        "import json, botocore.loaders\nl = botocore.loaders.Loader()\nprint(json.dumps({{s: sorted(l.load_service_model(s, \
         'service-2')['operations']) for s in {CODE_SERVICES:?}}}))"
    );
    let out = std::process::Command::new(&python)
        .args(["-c", &script])
        .output()
        .unwrap_or_else(|e| panic!("{}: {e} (run scripts/bootstrap)", python.display()));
    assert!(out.status.success(), "botocore models: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("service -> operations")
}

/// An operation's method name in the Rust SDKs: `BatchGetItem` -> `batch_get_item`, `GetMetricDataV2` ->
/// `get_metric_data_v2`.
fn snake_case(operation: &str) -> String {
    let mut out = String::new();
    let mut previous: Option<char> = None;
    for c in operation.chars() {
        if c.is_ascii_uppercase() && previous.is_some_and(|p| p.is_ascii_lowercase() || p.is_ascii_digit()) {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
        previous = Some(c);
    }
    out
}

/// The method names called without arguments (`.name()`, how every SDK operation starts) in `source`.
fn argumentless_calls(source: &str) -> BTreeSet<&str> {
    let mut found = BTreeSet::new();
    for (i, _) in source.match_indices("()") {
        let before = &source[..i];
        let start = before.rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).map_or(0, |p| p + 1);
        if start > 0 && before[..start].ends_with('.') && start < i {
            found.insert(&source[start..i]);
        }
    }
    found
}

/// The Rust sources of the code that runs in AWS: `shared/*/src` and `functions/*/src`.
fn code_sources() -> Vec<(String, String)> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                walk(&path, root, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let relative = path.strip_prefix(root).expect("under the root").to_string_lossy().replace('\\', "/");
                out.push((relative, std::fs::read_to_string(&path).expect("source")));
            }
        }
    }
    let root = repo_root().canonicalize().expect("repository root");
    let mut out = Vec::new();
    for parent in ["shared", "functions"] {
        for entry in std::fs::read_dir(root.join(parent)).expect("shared/ and functions/") {
            let src = entry.expect("directory entry").path().join("src");
            if src.is_dir() {
                walk(&src, &root, &mut out);
            }
        }
    }
    out
}

/// The actions a role's `Allow` statements grant.
fn granted_by(role: &Value) -> BTreeSet<String> {
    let mut found = Vec::new();
    statements(&role["Properties"]["Policies"], &mut found);
    found
        .iter()
        .filter(|s| s.get("Effect").and_then(Value::as_str) == Some("Allow"))
        .flat_map(|s| strings(s.get("Action").unwrap_or(&Value::Null)))
        .collect()
}

/// The check [`ROLE_ACTIONS`] cannot make (it lists what the template grants, by hand): every SDK operation the code
/// calls is granted to the role of each function that makes it, and every Amazon Connect or Kinesis call to the
/// customer's role. moto does not evaluate IAM, so no other test would notice a missing grant. (It found two:
/// `sts:AssumeRole`, which no role had, so Amazon Connect failed in AWS, and the queue search's `BatchGetItem`.)
#[test]
fn every_aws_call_in_the_code_is_granted_to_the_roles_that_make_it() {
    let template = Template::load();
    let customer = parse_yaml("infra/customer-role-amazon-connect.yaml");
    let customer_role = customer["Resources"]
        .as_object()
        .expect("Resources")
        .values()
        .find(|r| r["Type"] == "AWS::IAM::Role")
        .expect("the customer template's role");
    let customer_grants = granted_by(customer_role);
    let function_roles: Vec<&str> = ROLE_ACTIONS.iter().map(|(r, _)| *r).filter(|r| *r != "SchedulerRole").collect();
    let grants = |role: &str| granted_by(&template.resources()[role]);

    let mut by_method: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for (service, operations) in service_operations() {
        for operation in operations {
            by_method.entry(snake_case(&operation)).or_default().push((service.clone(), operation));
        }
    }
    let mut problems = Vec::new();
    let mut called = BTreeSet::new();
    let (mut used_sites, mut used_operations, mut used_exceptions) =
        (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    for (file, source) in code_sources() {
        let mut calls: Vec<(String, Vec<(String, String)>)> = argumentless_calls(&source)
            .into_iter()
            .filter_map(|method| by_method.get(method).map(|c| (format!(".{method}()"), c.clone())))
            .collect();
        if source.contains("TransactWriteItem") {
            for (builder, action) in TRANSACTION_ITEMS {
                if source.contains(builder) {
                    let (service, operation) = action.split_once(':').expect("service:Action");
                    calls.push(((*builder).to_owned(), vec![(service.to_owned(), operation.to_owned())]));
                }
            }
        }
        for (method, candidates) in &calls {
            let site = CALL_SITES.iter().find(|(prefix, _)| file.starts_with(prefix));
            let customer_side = file.starts_with("shared/connectors/src/");
            // (role, actions of which one must be granted)
            let mut needs: BTreeMap<&str, Vec<String>> = BTreeMap::new();
            for (service, operation) in candidates {
                let name = format!("{service}:{operation}");
                let action = match OPERATION_ACTIONS.iter().find(|(o, _, _)| *o == name) {
                    Some((o, action, _)) => {
                        used_operations.insert(*o);
                        match action {
                            Some(a) => (*a).to_owned(),
                            None => continue,
                        }
                    }
                    None => name,
                };
                called.insert(action.clone());
                if CUSTOMER_SERVICES.contains(&service.as_str()) {
                    if customer_side {
                        needs.entry("customer role").or_default().push(action);
                    }
                    continue;
                }
                let exception = SITE_EXCEPTIONS.iter().find(|(p, a, _, _)| file.starts_with(p) && *a == action);
                match (site, exception) {
                    (_, Some((prefix, excepted, roles, _))) => {
                        used_exceptions.insert((*prefix, *excepted));
                        roles.iter().for_each(|r| needs.entry(r).or_default().push(action.clone()));
                    }
                    (Some((prefix, roles)), None) => {
                        used_sites.insert(*prefix);
                        roles.iter().for_each(|r| needs.entry(r).or_default().push(action.clone()));
                    }
                    (None, None) => needs.entry("a function role").or_default().push(action),
                }
            }
            for (role, actions) in needs {
                let granted = match role {
                    "customer role" => actions.iter().any(|a| customer_grants.contains(a)),
                    "a function role" => function_roles.iter().any(|r| actions.iter().any(|a| grants(r).contains(a))),
                    role => actions.iter().any(|a| grants(role).contains(a)),
                };
                if !granted {
                    problems.push(format!("{file}: {method} needs one of {actions:?}, which {role} does not grant"));
                }
            }
        }
    }
    // The scan sees the calls it must (a broken scan would find nothing and pass).
    for action in ["dynamodb:GetItem", "dynamodb:BatchWriteItem", "sts:AssumeRole", "connect:GetMetricDataV2"] {
        assert!(called.contains(action), "the scan did not find {action}: {called:?}");
    }
    for (prefix, _) in CALL_SITES {
        assert!(used_sites.contains(prefix), "stale CALL_SITES entry {prefix}: no AWS call there");
    }
    for (prefix, action, _, why) in SITE_EXCEPTIONS {
        assert!(used_exceptions.contains(&(*prefix, *action)), "stale SITE_EXCEPTIONS entry {prefix} {action} ({why})");
    }
    assert!(called.contains("dynamodb:ConditionCheckItem"), "the scan did not find transaction items: {called:?}");
    for (operation, _, why) in OPERATION_ACTIONS {
        assert!(used_operations.contains(operation), "stale OPERATION_ACTIONS entry {operation} ({why})");
    }
    assert!(problems.is_empty(), "AWS calls without a grant:\n{}", problems.join("\n"));
}

/// `{table ARN}/index/*` is granted exactly to the roles whose code queries an index: the files that call
/// `.index_name(` (schema.rs aside: it names the index in the local run's CreateTable), mapped to roles by
/// [`CALL_SITES`].
#[test]
fn only_the_roles_whose_code_queries_an_index_are_granted_the_index_arns() {
    let template = Template::load();
    let mut needed = BTreeSet::new();
    let mut unmapped = Vec::new();
    for (file, source) in code_sources() {
        if file == "shared/aws/src/schema.rs" || !source.contains(".index_name(") {
            continue;
        }
        match CALL_SITES.iter().find(|(prefix, _)| file.starts_with(prefix)) {
            Some((_, roles)) => needed.extend(roles.iter().map(|r| (*r).to_owned())),
            None => unmapped.push(file),
        }
    }
    assert!(unmapped.is_empty(), "index queries outside CALL_SITES (which roles make them?): {unmapped:?}");
    assert!(!needed.is_empty(), "the scan found no index query (queues-query reads GSI1)");
    let granted: BTreeSet<String> = template
        .of_type("AWS::IAM::Role")
        .into_iter()
        .filter(|(_, role)| {
            let mut found = Vec::new();
            statements(&role["Properties"]["Policies"], &mut found);
            found.iter().any(|s| s.get("Resource").is_some_and(|r| r.to_string().contains("/index/")))
        })
        .map(|(name, _)| name.to_owned())
        .collect();
    assert_eq!(granted, needed, "roles granted {{table ARN}}/index/* (left) against the roles that query an index");
}

#[test]
fn sdk_method_names_and_argumentless_calls_are_read_as_the_scan_needs() {
    assert_eq!(snake_case("BatchGetItem"), "batch_get_item");
    assert_eq!(snake_case("GetMetricDataV2"), "get_metric_data_v2");
    assert_eq!(snake_case("AssumeRole"), "assume_role");
    let calls = argumentless_calls("self.client\n    .batch_get_item()\n .send(); f(); x.y(1); a.b_c()");
    assert_eq!(calls, BTreeSet::from(["batch_get_item", "send", "b_c"]));
}

#[test]
fn scheduler_role_trusts_only_this_accounts_schedule_group() {
    let template = Template::load();
    let trust = &template.resources()["SchedulerRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0];
    assert_eq!(trust["Principal"]["Service"], "scheduler.amazonaws.com");
    assert_eq!(trust["Condition"]["StringEquals"]["aws:SourceAccount"], json!({"Ref": "AWS::AccountId"}));
    assert_eq!(trust["Condition"]["ArnEquals"]["aws:SourceArn"], json!({"Fn::GetAtt": ["ScheduleGroup", "Arn"]}));
}

/// The spec's `TimeZone` enum is exactly the zones the API accepts (chrono-tz's names), so a client generated from
/// the spec offers every valid zone and no invalid one.
#[test]
fn the_spec_lists_exactly_the_time_zones_the_api_accepts() {
    let openapi = parse_yaml("infra/openapi.yaml");
    let listed: BTreeSet<String> = openapi["components"]["schemas"]["TimeZone"]["enum"]
        .as_array()
        .expect("TimeZone is an enum")
        .iter()
        .map(|v| v.as_str().expect("zone names are strings").to_owned())
        .collect();
    let accepted: BTreeSet<String> = chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name().to_owned()).collect();
    assert_eq!(listed, accepted);
    assert!(listed.iter().all(|name| name.parse::<chrono_tz::Tz>().is_ok()));
}

/// Every role allowed to assume customers' roles is denied the roles of the stack's own account unless
/// `AllowSameAccountRoles` is "true": IAM backs the code's refusal (`ALLOW_SAME_ACCOUNT_ROLES`), should any path miss
/// it.
#[test]
fn roles_that_assume_customer_roles_are_denied_the_stacks_own_account_unless_allowed() {
    let template = Template::load();
    let mut checked = Vec::new();
    for (name, role) in template.of_type("AWS::IAM::Role") {
        let mut found = Vec::new();
        statements(&role["Properties"]["Policies"], &mut found);
        let assume = |effect: &str| found.iter().find(|s| s["Effect"] == effect && s["Action"] == "sts:AssumeRole");
        if assume("Allow").is_none() {
            continue;
        }
        let deny = assume("Deny").unwrap_or_else(|| panic!("{name}: no Deny of the stack's own account's roles"));
        let branches = &deny["Resource"]["Fn::If"];
        assert_eq!(branches[0], "RefuseSameAccountRoles", "{name}: {deny:?}");
        assert_eq!(branches[1]["Fn::Sub"], "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/*", "{name}");
        assert!(
            !branches[2]["Fn::Sub"].as_str().unwrap_or("*").contains('*'),
            "{name}: allowed, it denies no real role"
        );
        checked.push(name);
    }
    checked.sort_unstable();
    assert_eq!(checked, ["ImportRole", "IntegrationsApiRole"]);
    let condition = &template.root["Conditions"]["RefuseSameAccountRoles"];
    assert_eq!(condition, &serde_json::json!({"Fn::Equals": [{"Ref": "AllowSameAccountRoles"}, "false"]}));
}

/// The alarms on the runs' own metrics (`AcdIntegrations`): a run reports them when it ends, so quarter hours
/// without a point are normal (a schedule slower than every 15 minutes, a run that ends in the next quarter hour)
/// and read as not breaching. An alarm that needs every period of its window breaching, or a window shorter than an
/// hour, would never fire for such schedules or would flap (ALARM, OK, ALARM: a mail each). A review found both
/// (2026-12-07): `integration-failing` 1 of 1 quarter hour, `data-lag` 2 of 2.
#[test]
fn run_metric_alarms_span_an_hour_and_tolerate_quarter_hours_without_a_run() {
    let template = Template::load();
    let mut checked = Vec::new();
    for (name, alarm) in template.of_type("AWS::CloudWatch::Alarm") {
        let p = &alarm["Properties"];
        if p["Namespace"] != "AcdIntegrations" {
            continue;
        }
        let number = |key: &str| p[key].as_u64().unwrap_or_else(|| panic!("{name}: {key} is not a number"));
        let (period, periods) = (number("Period"), number("EvaluationPeriods"));
        let to_alarm = p["DatapointsToAlarm"].as_u64().unwrap_or(periods);
        assert_eq!(p["TreatMissingData"], "notBreaching", "{name}");
        assert!(period * periods >= 3600, "{name}: a window of {period} s × {periods} is shorter than an hour");
        assert!(to_alarm < periods, "{name}: {to_alarm} of {periods} periods: one without a run resets it");
        assert!(to_alarm * 3600 <= period * periods, "{name}: {to_alarm} points need more than hourly runs");
        checked.push(name);
    }
    checked.sort_unstable();
    assert_eq!(checked, ["DataLagAlarm", "IntegrationFailingAlarm"]);
}

/// The schedule dead-letter queue has two alarms: its depth (ALARM while any message waits, so it announces the
/// first failure only, and stays so for up to the queue's 14 days) and its arrivals, which fire again for each later
/// failure. Until 2026-12-07 there was only the depth alarm.
#[test]
fn the_dead_letter_queue_alarms_on_each_arrival_not_only_on_its_depth() {
    let template = Template::load();
    let on_dlq = |metric: &str| {
        let found: Vec<_> = template
            .of_type("AWS::CloudWatch::Alarm")
            .into_iter()
            .filter(|(_, a)| {
                let p = &a["Properties"];
                p["Namespace"] == "AWS/SQS"
                    && p["MetricName"] == metric
                    && p["Dimensions"][0]["Value"]["Fn::GetAtt"][0] == "ScheduleDeadLetterQueue"
            })
            .collect();
        assert_eq!(found.len(), 1, "one alarm on the queue's {metric}");
        found[0].1["Properties"].clone()
    };
    let depth = on_dlq("ApproximateNumberOfMessagesVisible");
    assert_eq!((depth["Statistic"].as_str(), depth["Threshold"].as_u64()), (Some("Maximum"), Some(1)));
    let arrivals = on_dlq("NumberOfMessagesSent");
    assert_eq!(arrivals["Statistic"], "Sum", "a count of the messages sent in the period");
    assert_eq!(arrivals["Threshold"].as_u64(), Some(1));
    assert_eq!(arrivals["ComparisonOperator"], "GreaterThanOrEqualToThreshold");
    assert_eq!(arrivals["TreatMissingData"], "notBreaching", "no message sent: OK again, ready for the next");
    assert_eq!(arrivals["EvaluationPeriods"].as_u64(), Some(1));
    assert_eq!(arrivals["AlarmActions"], depth["AlarmActions"], "notifies as the depth alarm does");
}

/// Imports that stop entirely (the schedules deleted or disabled, the schedule group replaced) report no metric, and
/// every other alarm reads a missing point as not breaching. The heartbeat alarm reads the import function's
/// `Invocations`, which Lambda publishes only for periods with some, so a missing hour must breach; it exists only
/// when `ImportHeartbeatHours` is set (a stage without an active integration would stay in ALARM), and that many
/// hours, each without an invocation, fire it.
#[test]
fn the_heartbeat_alarm_fires_on_hours_without_an_import_invocation_and_only_when_asked_for() {
    let template = Template::load();
    let parameter = &template.root["Parameters"]["ImportHeartbeatHours"];
    assert_eq!(parameter["Default"].as_u64(), Some(0), "off unless the operator asks for it");
    let condition = &template.root["Conditions"]["HasImportHeartbeat"];
    assert_eq!(condition, &serde_json::json!({"Fn::Not": [{"Fn::Equals": [{"Ref": "ImportHeartbeatHours"}, "0"]}]}));
    let alarm = &template.resources()["ImportHeartbeatAlarm"];
    assert_eq!(alarm["Condition"], "HasImportHeartbeat");
    let p = &alarm["Properties"];
    assert_eq!((p["Namespace"].as_str(), p["MetricName"].as_str()), (Some("AWS/Lambda"), Some("Invocations")));
    assert_eq!(ref_target(&p["Dimensions"][0]["Value"]), Some("ImportFunction"));
    assert_eq!(p["Statistic"], "Sum");
    assert_eq!(p["Period"].as_u64(), Some(3600));
    let hours = serde_json::json!({"Ref": "ImportHeartbeatHours"});
    assert_eq!((&p["EvaluationPeriods"], &p["DatapointsToAlarm"]), (&hours, &hours), "every hour of the window");
    assert_eq!((p["ComparisonOperator"].as_str(), p["Threshold"].as_u64()), (Some("LessThanThreshold"), Some(1)));
    assert_eq!(p["TreatMissingData"], "breaching", "an hour without an invocation has no point at all");
    let any_alarm = &template.resources()["ImportErrorsAlarm"]["Properties"];
    assert_eq!(p["AlarmActions"], any_alarm["AlarmActions"], "notifies as the other alarms do");
}
