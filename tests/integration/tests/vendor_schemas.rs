//! Every vendor of the registry (`acd_connectors::VENDORS`) is described in `infra/openapi.yaml` exactly as its
//! module defines it, so a new vendor cannot be forgotten in the spec and a changed field cannot drift from it:
//! - `IntegrationType` lists exactly the registry's types;
//! - `{spec_name}Credentials` has exactly the vendor's credentials fields, all required strings with the same
//!   `maxLength`, secret ones `writeOnly` (and no such schema for a type without credentials);
//! - `{spec_name}SettingsInput` (create) and `{spec_name}Settings` (as shown) have exactly the vendor's settings
//!   fields plus `history_days`, with the same JSON types, enums and defaults; the input requires exactly the
//!   required fields, the shown settings at least those;
//! - `NewIntegration`, `IntegrationPatch` and `Integration` reference them.
//!
//! No AWS, no simulator: the registry and the spec file only.

use std::collections::BTreeSet;
use std::path::Path;

use acd_connectors::registry::integration_types_catalog;
use acd_connectors::{VENDORS, Vendor};
use serde_json::{Value, json};

fn spec() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../infra/openapi.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("infra/openapi.yaml is not valid YAML: {e}"))
}

fn schemas(spec: &Value) -> &serde_json::Map<String, Value> {
    spec["components"]["schemas"].as_object().expect("infra/openapi.yaml has components.schemas")
}

/// A property schema with a local `$ref` resolved (one level, as the spec uses them).
fn resolve<'a>(spec: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let name = r.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("non-local $ref {r}"));
            &spec["components"]["schemas"][name]
        }
        None => schema,
    }
}

fn keys(value: &Value) -> BTreeSet<String> {
    value.as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default()
}

fn strings(value: &Value) -> BTreeSet<String> {
    value.as_array().map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect()).unwrap_or_default()
}

/// The JSON type a form field's `kind` is written as.
fn json_type(kind: &str) -> &'static str {
    match kind {
        "boolean" => "boolean",
        "integer" => "integer",
        "object" => "object",
        "array" => "array",
        _ => "string",
    }
}

/// Compares one settings schema with the vendor's form; `input` is the create schema (exact `required`).
fn check_settings(
    spec: &Value,
    vendor: &dyn Vendor,
    form: &[Value],
    name: &str,
    input: bool,
    problems: &mut Vec<String>,
) {
    let Some(schema) = schemas(spec).get(name) else {
        problems.push(format!("{}: schema {name} is missing", vendor.id()));
        return;
    };
    let props = &schema["properties"];
    let want: BTreeSet<String> = form.iter().map(|f| f["name"].as_str().unwrap().to_owned()).collect();
    if keys(props) != want {
        problems.push(format!("{name}: properties {:?}, the vendor's settings are {want:?}", keys(props)));
    }
    if schema["additionalProperties"] != json!(false) {
        problems.push(format!("{name}: additionalProperties must be false (unknown settings are refused)"));
    }
    let required: BTreeSet<String> =
        form.iter().filter(|f| f["required"] == json!(true)).map(|f| f["name"].as_str().unwrap().to_owned()).collect();
    let listed = strings(&schema["required"]);
    if input && listed != required {
        problems.push(format!("{name}: required {listed:?}, the vendor requires {required:?}"));
    }
    if !input && !required.is_subset(&listed) {
        problems.push(format!("{name}: required {listed:?} lacks some of {required:?}"));
    }
    for field in form {
        let field_name = field["name"].as_str().unwrap();
        let Some(prop) = props.get(field_name) else { continue };
        let prop = resolve(spec, prop);
        let kind = field["kind"].as_str().unwrap();
        if prop["type"] != json!(json_type(kind)) {
            problems.push(format!("{name}.{field_name}: type {}, the vendor's kind is {kind}", prop["type"]));
        }
        // An array's values are its items' enum.
        let choices =
            if kind == "array" { resolve(spec, &prop["items"])["enum"].clone() } else { prop["enum"].clone() };
        if let Some(values) = field.get("values")
            && strings(&choices) != strings(values)
        {
            problems.push(format!("{name}.{field_name}: enum {choices}, the vendor's values are {values}"));
        }
        // Defaults that are values (not a description such as "per region") must be the spec's defaults.
        let default = field.get("default").filter(|_| matches!(kind, "enum" | "boolean" | "integer"));
        let spec_default = props[field_name].get("default").or(prop.get("default"));
        if default != spec_default {
            problems.push(format!("{name}.{field_name}: default {spec_default:?}, the vendor's is {default:?}"));
        }
        for bound in ["minimum", "maximum"] {
            // A shown setting may hold a value an older release allowed (Amazon Connect's `history_days` up to 90,
            // now 88): the answer's maximum may be above the form's, never below.
            let shown_above = !input
                && bound == "maximum"
                && prop.get(bound).and_then(Value::as_u64) >= field.get(bound).and_then(Value::as_u64);
            if field.get(bound) != prop.get(bound) && !shown_above {
                problems.push(format!(
                    "{name}.{field_name}: {bound} {:?}, the vendor's is {:?}",
                    prop.get(bound),
                    field.get(bound)
                ));
            }
        }
    }
}

#[test]
fn every_vendor_has_its_schemas_in_the_spec_with_the_same_fields() {
    let spec = spec();
    let all = schemas(&spec);
    let catalog = integration_types_catalog();
    let mut problems = Vec::new();

    let types: BTreeSet<String> = VENDORS.iter().map(|v| v.id().to_string()).collect();
    if strings(&all["IntegrationType"]["enum"]) != types {
        problems.push(format!(
            "IntegrationType enum {}, the registry's types are {types:?}",
            all["IntegrationType"]["enum"]
        ));
    }

    let refs = |value: &Value| -> BTreeSet<String> {
        value["oneOf"]
            .as_array()
            .map(|a| a.iter().filter_map(|s| s["$ref"].as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    };
    let shown_settings = refs(&all["Integration"]["properties"]["settings"]);
    let patch_credentials = refs(&all["IntegrationPatch"]["properties"]["credentials"]);
    let new_branches = all["NewIntegration"]["oneOf"].as_array().cloned().unwrap_or_default();

    for vendor in VENDORS.iter().copied() {
        let id = vendor.id().to_string();
        let prefix = vendor.spec_name();
        let entry =
            catalog["items"].as_array().unwrap().iter().find(|i| i["type"] == json!(id)).expect("catalogue entry");
        let form = entry["settings"].as_array().unwrap();

        // Credentials.
        let creds_name = format!("{prefix}Credentials");
        let fields = vendor.credential_fields();
        match all.get(&creds_name) {
            None if fields.is_empty() => {}
            Some(_) if fields.is_empty() => {
                problems.push(format!("{id} has no credentials but the spec has {creds_name}"))
            }
            None => problems.push(format!("{id}: schema {creds_name} is missing")),
            Some(schema) => {
                let want: BTreeSet<String> = fields.iter().map(|f| f.name.to_owned()).collect();
                if keys(&schema["properties"]) != want || strings(&schema["required"]) != want {
                    problems
                        .push(format!("{creds_name}: properties/required differ from the vendor's fields {want:?}"));
                }
                if schema["additionalProperties"] != json!(false) {
                    problems.push(format!("{creds_name}: additionalProperties must be false"));
                }
                for f in fields {
                    let prop = &schema["properties"][f.name];
                    if prop["type"] != json!("string")
                        || prop["maxLength"] != json!(f.max_chars)
                        || prop["minLength"] != json!(1)
                    {
                        problems.push(format!(
                            "{creds_name}.{}: must be a string of 1 to {} characters",
                            f.name, f.max_chars
                        ));
                    }
                    if (prop["writeOnly"] == json!(true)) != f.secret {
                        problems.push(format!("{creds_name}.{}: writeOnly must be {}", f.name, f.secret));
                    }
                }
                if !patch_credentials.contains(&format!("#/components/schemas/{creds_name}")) {
                    problems.push(format!("IntegrationPatch.credentials does not list {creds_name}"));
                }
            }
        }

        // Settings, as sent and as shown.
        check_settings(&spec, vendor, form, &format!("{prefix}SettingsInput"), true, &mut problems);
        check_settings(&spec, vendor, form, &format!("{prefix}Settings"), false, &mut problems);
        if !shown_settings.contains(&format!("#/components/schemas/{prefix}Settings")) {
            problems.push(format!("Integration.settings does not list {prefix}Settings"));
        }

        // The create body's branch of this type.
        let branch = new_branches.iter().find(|b| b["properties"]["type"]["const"] == json!(id));
        match branch {
            None => problems.push(format!("NewIntegration has no branch with type const {id}")),
            Some(b) => {
                let settings_ref = json!(format!("#/components/schemas/{prefix}SettingsInput"));
                if b["properties"]["settings"]["$ref"] != settings_ref {
                    problems.push(format!("NewIntegration[{id}].settings must reference {prefix}SettingsInput"));
                }
                let creds = &b["properties"]["credentials"]["$ref"];
                let want =
                    if fields.is_empty() { Value::Null } else { json!(format!("#/components/schemas/{creds_name}")) };
                if *creds != want {
                    problems.push(format!("NewIntegration[{id}].credentials is {creds}, expected {want}"));
                }
            }
        }
    }
    assert!(problems.is_empty(), "infra/openapi.yaml and the vendor registry disagree:\n{}", problems.join("\n"));
}

#[test]
fn the_check_notices_a_missing_or_different_field() {
    // The check above must be able to fail: drop a settings field and change an enum in a copy of the spec.
    let mut spec = spec();
    let vendor = VENDORS[0];
    let catalog = integration_types_catalog();
    let form = catalog["items"][0]["settings"].as_array().unwrap().clone();
    let input = format!("{}SettingsInput", vendor.spec_name());
    let props = spec["components"]["schemas"][&input]["properties"].as_object_mut().unwrap();
    let first = form[0]["name"].as_str().unwrap().to_owned();
    props.remove(&first);
    let mut problems = Vec::new();
    check_settings(&spec, vendor, &form, &input, true, &mut problems);
    assert!(problems.iter().any(|p| p.contains("properties")), "{problems:?}");

    let mut spec = self::spec();
    let shown = format!("{}Settings", vendor.spec_name());
    // A shown maximum below the form's (a value the form allows could not be shown) is flagged; one above it is an
    // older release's value, shown as stored.
    for (maximum, flagged) in [(1, true), (9999, false)] {
        spec["components"]["schemas"][&shown]["properties"]["history_days"]["maximum"] = json!(maximum);
        let mut problems = Vec::new();
        check_settings(&spec, vendor, &form, &shown, false, &mut problems);
        assert_eq!(problems.iter().any(|p| p.contains("maximum")), flagged, "{maximum}: {problems:?}");
    }
    let input = format!("{}SettingsInput", vendor.spec_name());
    spec["components"]["schemas"][&input]["properties"]["history_days"]["maximum"] = json!(9999);
    let mut problems = Vec::new();
    check_settings(&spec, vendor, &form, &input, true, &mut problems);
    assert!(problems.iter().any(|p| p.contains("maximum")), "the create schema's is exact: {problems:?}");
}
