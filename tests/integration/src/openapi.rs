//! Checks answers of the real handlers against `infra/openapi.yaml`: the operation must list the status, with the
//! content type, and the body must validate against the documented schema; a request that no operation takes (no
//! route of its method has its path, or the path does not decode) must have API Gateway's own answer, which the
//! spec describes in words (`404 {"message":"Not Found"}`). Every end-to-end call goes through [`Spec::check`], so
//! the suites double as a conformance test of the spec.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use serde_json::Value;

pub struct Spec {
    root: Value,
    validators: Mutex<HashMap<String, std::sync::Arc<jsonschema::Validator>>>,
}

/// The spec of the repository, parsed once per test process.
pub fn spec() -> &'static Spec {
    static SPEC: OnceLock<Spec> = OnceLock::new();
    SPEC.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../infra/openapi.yaml");
        let text = std::fs::read_to_string(path).expect("infra/openapi.yaml");
        let root: Value = serde_norway::from_str(&text).expect("openapi.yaml is valid YAML");
        Spec { root, validators: Mutex::new(HashMap::new()) }
    })
}

fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

impl Spec {
    pub fn root(&self) -> &Value {
        &self.root
    }

    /// Every `(METHOD, path template)` the spec documents.
    pub fn operations(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (path, item) in self.root["paths"].as_object().expect("paths") {
            for method in ["get", "put", "post", "patch", "delete"] {
                if item.get(method).is_some() {
                    out.push((method.to_uppercase(), path.clone()));
                }
            }
        }
        out.sort();
        out
    }

    fn resolve<'a>(&'a self, mut value: &'a Value) -> &'a Value {
        while let Some(reference) = value.get("$ref").and_then(Value::as_str) {
            value =
                self.root.pointer(reference.trim_start_matches('#')).unwrap_or_else(|| panic!("dangling {reference}"));
        }
        value
    }

    fn validator(&self, pointer: &str) -> std::sync::Arc<jsonschema::Validator> {
        let mut cache = self.validators.lock().expect("validator cache");
        cache
            .entry(pointer.to_owned())
            .or_insert_with(|| {
                // Validate with the whole spec as the root document, so `#/components/...` references resolve.
                let mut schema = self.root.clone();
                let object = schema.as_object_mut().expect("spec is an object");
                // A fragment is a URI part: braces of path templates must be percent-encoded.
                let fragment = pointer.replace('{', "%7B").replace('}', "%7D");
                object.insert("$ref".into(), Value::String(format!("#{fragment}")));
                object.insert("$schema".into(), Value::String("https://json-schema.org/draft/2020-12/schema".into()));
                std::sync::Arc::new(
                    jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("schema {pointer}: {e}")),
                )
            })
            .clone()
    }

    /// Panics (failing the test) when the answer is not what the spec documents.
    pub fn check(&self, method: &str, path: &str, status: u16, content_type: &str, body: &Value) {
        let path = path.split('?').next().unwrap_or(path);
        // The operation API Gateway routes the request to (the local gateway's routing, from this spec).
        let template = match acd_localdev::gateway::http_api_path(method, path) {
            Ok(routed) => routed.route,
            Err(rejected) => {
                let (expected, message) = rejected.answer();
                assert_eq!(
                    (status, content_type, body),
                    (expected.as_u16(), "application/json", &message),
                    "{method} {path}: no operation takes it, API Gateway answers it"
                );
                return;
            }
        };
        let operation = &self.root["paths"][template][method.to_lowercase()];
        assert!(operation.is_object(), "{method} {template}: routed, so documented");
        let response = operation["responses"]
            .get(status.to_string())
            .unwrap_or_else(|| panic!("{method} {template}: status {status} is not documented; body {body}"));
        let response = self.resolve(response);
        let Some(content) = response.get("content") else {
            assert!(body.is_null(), "{method} {template} {status}: documented without a body, got {body}");
            return;
        };
        let media = content_type.split(';').next().unwrap_or_default().trim();
        assert!(content.get(media).is_some(), "{method} {template} {status}: content type {media:?} not documented");
        // Pointer to the schema inside the spec (following a response $ref when there is one).
        let base = match operation["responses"][status.to_string()].get("$ref").and_then(Value::as_str) {
            Some(r) => r.trim_start_matches('#').to_owned(),
            None => format!("/paths/{}/{}/responses/{}", escape(template), method.to_lowercase(), status),
        };
        let pointer = format!("{base}/content/{}/schema", escape(media));
        let validator = self.validator(&pointer);
        let errors: Vec<String> =
            validator.iter_errors(body).map(|e| format!("{} at {}", e, e.instance_path())).collect();
        assert!(errors.is_empty(), "{method} {template} {status}: body does not match the spec: {errors:?}\n{body}");
    }
}
