//! The vendor registry: the one list of vendors ([`VENDORS`]) and what the rest of the code does through it —
//! parse API bodies (create, PATCH), draw the `GET /integration-types` catalogue, read stored credentials, build
//! connectors. Adding a vendor is one line in [`VENDORS`] (see the README's "Adding an ACD").

use acd_domain::credentials::MalformedSecret;
use acd_domain::validation::{
    DEFAULT_HISTORY_DAYS, FieldErrors, IntegrationPatch, NewIntegration, Obj, history_days, parse_credentials,
    parse_name,
};
use acd_domain::{AgentStateCadence, CredentialField, Credentials, IntegrationType, Settings};
use secrecy::SecretString;
use serde_json::{Map, Value, json};

use crate::vendor::{TenantToken, Vendor};

/// Every vendor, in the order the catalogue lists them.
pub static VENDORS: &[&dyn Vendor] = &[
    &crate::five9::vendor::Five9,
    &crate::genesys::vendor::GenesysCloud,
    &crate::amazon_connect::vendor::AmazonConnect,
    &crate::push::vendor::Push,
];

/// The vendor of a type string (`"five9"`).
pub fn vendor(kind: &str) -> Option<&'static dyn Vendor> {
    VENDORS.iter().copied().find(|v| v.id().as_str() == kind)
}

/// The vendor of a stored integration type; a type no vendor claims is a configuration error.
pub fn vendor_of(kind: &IntegrationType) -> Result<&'static dyn Vendor, crate::ConnectorError> {
    vendor(kind.as_str()).ok_or_else(|| crate::ConnectorError::Configuration {
        message: format!("no vendor of type {kind} is known to this build"),
    })
}

/// Parses an API `type` against the registry.
pub fn parse_type(raw: &str) -> Option<IntegrationType> {
    vendor(raw).map(|v| v.id())
}

/// Reads a stored credentials secret (`{"type": …, fields…}`) against its vendor's credentials fields.
pub fn credentials_from_secret_json(raw: &SecretString) -> Result<Credentials, MalformedSecret> {
    Credentials::from_secret_json(raw, |kind| vendor(kind).map(|v| v.stored_credential_fields()))
}

/// The vendor whose [`Vendor::tenant_token`] lives at `path` (the segments after `/integrations/`), and the token.
pub fn tenant_token_at(path: &[&str]) -> Option<(&'static dyn Vendor, TenantToken)> {
    VENDORS.iter().copied().find_map(|v| {
        let token = v.tenant_token()?;
        let own: Vec<&str> = token.path.split('/').collect();
        (own == path).then_some((v, token))
    })
}

/// The settings of an integration as the API shows them (its vendor fills in fields newer than the record).
pub fn shown_settings(kind: &IntegrationType, settings: &Settings) -> Settings {
    match vendor(kind.as_str()) {
        Some(v) => v.shown_settings(settings),
        None => settings.clone(),
    }
}

/// Validates a create (or test-connection) body, with the built-in default history.
pub fn parse_new_integration(body: &Value) -> Result<NewIntegration, FieldErrors> {
    parse_new_integration_with(body, DEFAULT_HISTORY_DAYS)
}

/// Validates a create (or test-connection) body; `default_history_days` applies when the body sets none (capped
/// at the vendor's maximum).
pub fn parse_new_integration_with(body: &Value, default_history_days: u32) -> Result<NewIntegration, FieldErrors> {
    let mut errors = FieldErrors::default();
    let Some(root) = Obj::new("", body, &mut errors) else { return Err(errors) };
    root.reject_unknown(&["name", "type", "credentials", "settings"], &mut errors);

    let name = parse_name(&root, true, &mut errors);
    let types: Vec<String> = VENDORS.iter().map(|v| v.id().as_str().to_owned()).collect();
    let types: Vec<&str> = types.iter().map(String::as_str).collect();
    let vendor = root.choice("type", true, vendor, &types, &mut errors);

    let (credentials, settings) = match vendor {
        Some(vendor) => {
            let credentials = credentials_of(vendor, root.get("credentials"), true, &mut errors);
            let empty = Value::Object(Map::new());
            let settings_value = root.get("settings").unwrap_or(&empty);
            let settings = parse_settings(vendor, settings_value, None, default_history_days, &mut errors);
            (credentials, settings)
        }
        // Without a valid type the credentials and settings can't be checked; say so once rather than guess.
        None => (None, None),
    };
    errors.into_result(|| NewIntegration {
        name: name.expect("no errors means a name"),
        kind: vendor.expect("no errors means a type").id(),
        credentials: credentials.expect("no errors means credentials"),
        settings: settings.expect("no errors means settings"),
    })
}

/// Validates a PATCH body against the integration's type and current settings.
pub fn parse_patch(body: &Value, kind: &IntegrationType, current: &Settings) -> Result<IntegrationPatch, FieldErrors> {
    let mut errors = FieldErrors::default();
    let Some(root) = Obj::new("", body, &mut errors) else { return Err(errors) };
    root.reject_unknown(&["name", "credentials", "settings", "type"], &mut errors);
    if let Some(t) = root.get("type")
        && t.as_str() != Some(kind.as_str())
    {
        errors.push("/type", "immutable", "the type of an integration can't change; create a new integration");
    }
    let Some(vendor) = vendor(kind.as_str()) else {
        errors.push("/type", "invalid_value", format!("integrations of type {kind} can't be changed by this version"));
        return Err(errors);
    };
    let name = if root.get("name").is_some() { parse_name(&root, false, &mut errors) } else { None };
    let credentials = match root.get("credentials") {
        Some(v) => credentials_of(vendor, Some(v), false, &mut errors),
        None => None,
    };
    let settings =
        root.get("settings").and_then(|v| parse_settings(vendor, v, Some(current), current.history_days, &mut errors));
    if errors.is_empty() && name.is_none() && credentials.is_none() && settings.is_none() {
        errors.push("/", "required", "send at least one of: name, credentials, settings");
    }
    errors.into_result(|| IntegrationPatch { name, credentials, settings })
}

/// The credentials of a body: required (on create) for a vendor that has fields, refused for one that has none.
fn credentials_of(
    vendor: &dyn Vendor,
    value: Option<&Value>,
    creating: bool,
    errors: &mut FieldErrors,
) -> Option<Credentials> {
    let fields = vendor.credential_fields();
    match value {
        None if fields.is_empty() => Some(Credentials::new(vendor.id())),
        None => {
            if creating {
                errors.push("/credentials", "required", "is required");
            }
            None
        }
        Some(_) if fields.is_empty() => {
            errors.push(
                "/credentials",
                "unknown_field",
                format!("integrations of type {} have no credentials", vendor.id()),
            );
            None
        }
        Some(v) => {
            let credentials = parse_credentials(&vendor.id(), fields, v, errors)?;
            let mut well_formed = true;
            for field in fields.iter().filter(|f| !f.secret) {
                let value = credentials.field(field.name).unwrap_or_default();
                if let Some(problem) = vendor.credential_problem(field.name, value) {
                    errors.push(format!("/credentials/{}", field.name), "invalid_value", problem);
                    well_formed = false;
                }
            }
            well_formed.then_some(credentials)
        }
    }
}

/// The settings of a body: the vendor's own fields, then the shared `history_days` and `agent_state_cadence`.
fn parse_settings(
    vendor: &dyn Vendor,
    value: &Value,
    current: Option<&Settings>,
    default_history_days: u32,
    errors: &mut FieldErrors,
) -> Option<Settings> {
    let obj = Obj::new("/settings", value, errors)?;
    let form = vendor.settings_form();
    let mut allowed: Vec<&str> = form.iter().filter_map(|f| f["name"].as_str()).collect();
    allowed.extend(["history_days", "agent_state_cadence"]);
    obj.reject_unknown(&allowed, errors);
    let own = vendor.parse_settings(&obj, current, errors);
    let history_days = history_days(&obj, current, default_history_days, vendor.max_history_days(), errors);
    let agent_state_cadence = agent_state_cadence(vendor, &obj, current, errors);
    Some(Settings { history_days, agent_state_cadence, vendor: own? })
}

/// The shared `agent_state_cadence`: the sent value (`"off"` turns the pass off), else the current one, else off.
/// Refused (400) for a vendor without an agent-states pass, with its reason.
fn agent_state_cadence(
    vendor: &dyn Vendor,
    obj: &Obj<'_>,
    current: Option<&Settings>,
    errors: &mut FieldErrors,
) -> Option<AgentStateCadence> {
    const KEY: &str = "agent_state_cadence";
    let Some(value) = obj.get(KEY) else { return current.and_then(|c| c.agent_state_cadence) };
    let Some(raw) = value.as_str() else {
        errors.push(
            obj.at(KEY),
            "invalid_type",
            format!("must be a string, one of: {}", AgentStateCadence::VALUES.join(", ")),
        );
        return None;
    };
    if let Err(why) = vendor.agent_state_cadence() {
        errors.push(
            obj.at(KEY),
            "unknown_field",
            format!("{} integrations have no agent-states pass: {why}", vendor.display_name()),
        );
        return None;
    }
    match AgentStateCadence::parse(raw) {
        Ok(c) => c,
        Err(message) => {
            errors.push(obj.at(KEY), "invalid_value", message);
            None
        }
    }
}

/// What `GET /integration-types` answers, with the built-in default history.
pub fn integration_types_catalog() -> Value {
    integration_types_catalog_with(DEFAULT_HISTORY_DAYS)
}

/// What `GET /integration-types` answers: enough for a front end to draw the form of each type.
pub fn integration_types_catalog_with(default_history_days: u32) -> Value {
    let items: Vec<Value> = VENDORS.iter().map(|v| catalog_entry(*v, default_history_days)).collect();
    json!({ "items": items })
}

fn catalog_entry(vendor: &dyn Vendor, default_history_days: u32) -> Value {
    let credentials: Vec<Value> = vendor.credential_fields().iter().map(credential_form).collect();
    let max = vendor.max_history_days();
    let mut settings = vendor.settings_form();
    if vendor.agent_state_cadence().is_ok() {
        settings.push(json!({"name": "agent_state_cadence", "kind": "enum", "required": false, "mutable": true,
            "default": "off", "values": AgentStateCadence::VALUES}));
    }
    settings.push(json!({"name": "history_days", "kind": "integer", "required": false, "mutable": true,
        "default": default_history_days.min(max), "minimum": 1, "maximum": max}));
    let mut entry = json!({
        "type": vendor.id(),
        "display_name": vendor.display_name(),
        "credentials": credentials,
        "settings": settings,
    });
    if let Some(token) = vendor.tenant_token() {
        entry["tenant_token"] = json!({"field": token.field, "path": format!("/integrations/{}", token.path)});
    }
    entry
}

fn credential_form(field: &CredentialField) -> Value {
    let mut form = json!({"name": field.name, "kind": "string", "required": true, "secret": field.secret,
        "max_length": field.max_chars});
    if let Some(d) = field.description {
        form["description"] = json!(d);
    }
    form
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::five9::settings::{Five9Region, Five9Settings};
    use crate::genesys::settings::{GenesysRegion, GenesysSettings};
    use crate::vendor::typed_settings;
    use secrecy::ExposeSecret;

    fn five9_body() -> Value {
        json!({"name": " Five9 Sales ", "type": "five9",
               "credentials": {"username": "api@acme", "password": "pw"},
               "settings": {"region": "us", "grouping": "campaign"}})
    }

    fn five9(settings: &Settings) -> Five9Settings {
        typed_settings(settings).unwrap()
    }

    #[test]
    fn vendor_ids_are_unique_and_parse() {
        let mut ids: Vec<String> = VENDORS.iter().map(|v| v.id().to_string()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), VENDORS.len());
        assert_eq!(parse_type("five9"), Some(IntegrationType::new("five9")));
        assert_eq!(parse_type("avaya"), None);
    }

    #[test]
    fn a_minimal_five9_body_gets_defaults() {
        let parsed = parse_new_integration(&five9_body()).unwrap();
        assert_eq!(parsed.name.as_str(), "Five9 Sales");
        let s = five9(&parsed.settings);
        assert_eq!(s.time_zone, "America/Los_Angeles");
        assert_eq!(parsed.settings.history_days, DEFAULT_HISTORY_DAYS);
        assert_eq!(s.skill_report, None);
        assert_eq!(parsed.credentials.secret("password").unwrap().expose_secret(), "pw");
        assert_eq!(parsed.credentials.field("username"), Some("api@acme"));
        // Stored as before: one flat object.
        assert_eq!(
            serde_json::to_value(&parsed.settings).unwrap(),
            json!({"region": "us", "grouping": "campaign", "time_zone": "America/Los_Angeles", "history_days": 30})
        );
    }

    #[test]
    fn every_bad_field_is_named_at_once() {
        let body = json!({"name": "", "type": "five9", "extra": 1,
                          "credentials": {"username": 5, "token": "x"},
                          "settings": {"region": "mars", "grouping": "skill", "time_zone": "Mars/Olympus", "history_days": 0}});
        let errors = parse_new_integration(&body).unwrap_err();
        let mut fields = errors.fields();
        fields.sort();
        assert_eq!(
            fields,
            vec![
                "/credentials/password",
                "/credentials/token",
                "/credentials/username",
                "/extra",
                "/name",
                "/settings/history_days",
                "/settings/region",
                "/settings/skill_report",
                "/settings/time_zone",
            ]
        );
    }

    #[test]
    fn skill_grouping_needs_the_skill_report_and_campaign_grouping_refuses_it() {
        let mut body = five9_body();
        body["settings"]["grouping"] = json!("skill");
        assert_eq!(parse_new_integration(&body).unwrap_err().fields(), vec!["/settings/skill_report"]);
        body["settings"]["skill_report"] = json!({"folder": "My Reports", "name": "Call Log by Skill"});
        assert!(parse_new_integration(&body).is_ok());
        body["settings"]["grouping"] = json!("campaign");
        assert_eq!(parse_new_integration(&body).unwrap_err().fields(), vec!["/settings/skill_report"]);
    }

    #[test]
    fn genesys_bodies_check_the_region_table() {
        let body = json!({"name": "GC", "type": "genesys_cloud",
                          "credentials": {"client_id": "id", "client_secret": "s"},
                          "settings": {"region": "eu_central_2", "detailed_on_queue_statuses": true}});
        let parsed = parse_new_integration(&body).unwrap();
        let s: GenesysSettings = typed_settings(&parsed.settings).unwrap();
        assert_eq!(s.region, GenesysRegion::EuCentral2);
        assert!(s.detailed_on_queue_statuses);
        let mut bad = body.clone();
        bad["settings"]["region"] = json!("us-east-1");
        bad["settings"]["detailed_on_queue_statuses"] = json!("yes");
        let errors = parse_new_integration(&bad).unwrap_err();
        let mut fields = errors.fields();
        fields.sort();
        assert_eq!(fields, vec!["/settings/detailed_on_queue_statuses", "/settings/region"]);
    }

    #[test]
    fn wrong_root_types_and_unknown_types_are_reported() {
        assert_eq!(parse_new_integration(&json!([1])).unwrap_err().fields(), vec!["/"]);
        let errors = parse_new_integration(&json!({"name": "x", "type": "avaya", "credentials": {}})).unwrap_err();
        assert_eq!(errors.fields(), vec!["/type"]);
    }

    #[test]
    fn a_whole_number_written_with_a_fraction_is_an_integer_and_a_real_fraction_is_not() {
        let current = parse_new_integration(&five9_body()).unwrap().settings;
        let kind = IntegrationType::new("five9");
        let patch = parse_patch(&json!({"settings": {"history_days": 182.0}}), &kind, &current).unwrap();
        assert_eq!(patch.settings.unwrap().history_days, 182);
        for bad in [json!(182.5), json!(-1.0), json!(1e300)] {
            let errors = parse_patch(&json!({"settings": {"history_days": bad}}), &kind, &current).unwrap_err();
            assert_eq!(errors.fields(), vec!["/settings/history_days"], "{bad}");
        }
    }

    #[test]
    fn patches_keep_fixed_settings_fixed() {
        let current = parse_new_integration(&five9_body()).unwrap().settings;
        let kind = IntegrationType::new("five9");
        let patch =
            parse_patch(&json!({"settings": {"history_days": 10, "time_zone": "Europe/Paris"}}), &kind, &current)
                .unwrap();
        let settings = patch.settings.unwrap();
        let s = five9(&settings);
        assert_eq!((settings.history_days, s.time_zone.as_str(), s.region), (10, "Europe/Paris", Five9Region::Us));

        let errors =
            parse_patch(&json!({"settings": {"grouping": "skill", "region": "eu"}}), &kind, &current).unwrap_err();
        assert_eq!(errors.fields(), vec!["/settings/region", "/settings/grouping"]);
        assert!(errors.0.iter().all(|e| e.code == "immutable"));
        // Sending the current value of a fixed setting is fine.
        assert!(parse_patch(&json!({"settings": {"grouping": "campaign"}}), &kind, &current).is_ok());
        assert_eq!(parse_patch(&json!({}), &kind, &current).unwrap_err().fields(), vec!["/"]);
        assert_eq!(
            parse_patch(&json!({"type": "genesys_cloud"}), &kind, &current).unwrap_err().fields(),
            vec!["/type"]
        );
    }

    #[test]
    fn the_catalog_lists_every_vendor_with_its_allowed_values() {
        let catalog = integration_types_catalog();
        let items = catalog["items"].as_array().unwrap();
        assert_eq!(items.len(), VENDORS.len());
        assert_eq!(items[0]["type"], "five9");
        assert_eq!(items[1]["settings"][0]["values"].as_array().unwrap().len(), 17);
        for item in items {
            assert_eq!(item["settings"].as_array().unwrap().last().unwrap()["name"], "history_days");
        }
    }

    #[test]
    fn genesys_records_from_before_agent_id_show_its_default() {
        let stored: Settings = serde_json::from_value(
            json!({"region": "eu_west_1", "detailed_on_queue_statuses": false, "history_days": 9}),
        )
        .unwrap();
        let shown = serde_json::to_value(shown_settings(&IntegrationType::new("genesys_cloud"), &stored)).unwrap();
        assert_eq!(
            shown,
            json!({"region": "eu_west_1", "detailed_on_queue_statuses": false, "agent_id": "username", "history_days": 9})
        );
        let five9 = parse_new_integration(&five9_body()).unwrap().settings;
        assert_eq!(shown_settings(&IntegrationType::new("five9"), &five9), five9);
    }

    #[test]
    fn the_agent_state_cadence_is_a_shared_setting_of_the_vendors_that_support_it() {
        let genesys = json!({"name": "GC", "type": "genesys_cloud",
                             "credentials": {"client_id": "id", "client_secret": "s"},
                             "settings": {"region": "eu_west_1", "agent_state_cadence": "1m"}});
        let parsed = parse_new_integration(&genesys).unwrap();
        assert_eq!(parsed.settings.agent_state_cadence.map(AgentStateCadence::minutes), Some(1));
        assert!(!parsed.settings.vendor.contains_key("agent_state_cadence"));
        let kind = IntegrationType::new("genesys_cloud");
        // PATCH: absent keeps it, a new value changes it, "off" removes it.
        let keep = parse_patch(&json!({"settings": {"history_days": 5}}), &kind, &parsed.settings).unwrap();
        assert_eq!(keep.settings.unwrap().agent_state_cadence, parsed.settings.agent_state_cadence);
        let five = parse_patch(&json!({"settings": {"agent_state_cadence": "5m"}}), &kind, &parsed.settings).unwrap();
        assert_eq!(five.settings.unwrap().agent_state_cadence.map(AgentStateCadence::minutes), Some(5));
        let off = parse_patch(&json!({"settings": {"agent_state_cadence": "off"}}), &kind, &parsed.settings).unwrap();
        assert_eq!(off.settings.unwrap().agent_state_cadence, None);
        for bad in [json!("4m"), json!("60s"), json!(1)] {
            let errors =
                parse_patch(&json!({"settings": {"agent_state_cadence": bad}}), &kind, &parsed.settings).unwrap_err();
            assert_eq!(errors.fields(), vec!["/settings/agent_state_cadence"], "{bad}");
        }
        // Five9 and push refuse it, saying why.
        let mut five9 = five9_body();
        five9["settings"]["agent_state_cadence"] = json!("1m");
        let errors = parse_new_integration(&five9).unwrap_err();
        assert_eq!(errors.fields(), vec!["/settings/agent_state_cadence"]);
        assert!(errors.0[0].message.contains("runReport"), "{}", errors.0[0].message);
        let push = json!({"name": "P", "type": "push", "settings": {"agent_state_cadence": "1m"}});
        assert_eq!(parse_new_integration(&push).unwrap_err().fields(), vec!["/settings/agent_state_cadence"]);
        // The catalogue offers it to Genesys only (of the registered types).
        let catalog = integration_types_catalog();
        for item in catalog["items"].as_array().unwrap() {
            let has = item["settings"].as_array().unwrap().iter().any(|f| f["name"] == "agent_state_cadence");
            assert_eq!(has, item["type"] == "genesys_cloud" || item["type"] == "amazon_connect", "{}", item["type"]);
        }
    }

    #[test]
    fn stored_secrets_are_read_against_their_vendor() {
        let parsed = parse_new_integration(&five9_body()).unwrap();
        let back = credentials_from_secret_json(&parsed.credentials.to_secret_json()).unwrap();
        assert_eq!(back.field("username"), Some("api@acme"));
        assert_eq!(back.secret("password").unwrap().expose_secret(), "pw");
        let unknown = SecretString::from(r#"{"type":"avaya","username":"u","password":"p"}"#);
        assert!(credentials_from_secret_json(&unknown).is_err());
    }
}
