//! Validation of the integration bodies the API receives.
//!
//! Bodies are checked field by field from raw JSON so that one answer names every bad field at once (serde would
//! stop at the first), with unknown fields, wrong types, missing fields and bad values all reported by JSON pointer.

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::credentials::Credentials;
use crate::integration::{
    Five9Grouping, Five9Region, Five9Settings, GenesysAgentId, GenesysRegion, GenesysSettings, IntegrationName,
    IntegrationType, Settings, SkillReport,
};

/// Bounds and defaults, in one place so the catalog and the checks agree.
pub const DEFAULT_HISTORY_DAYS: u32 = 30;
pub const MAX_HISTORY_DAYS: u32 = 365;
pub const MAX_TEXT_CHARS: usize = 255;
pub const MAX_SECRET_CHARS: usize = 1024;

/// DynamoDB key limits, in UTF-8 bytes: a sort key (and an index sort key) holds at most 1,024, a partition key
/// 2,048. Every request value that becomes part of a key is checked against them before any storage call, so an
/// over-long value is a 400 (or a 404 for an id that cannot exist), never a storage failure.
pub const MAX_SORT_KEY_BYTES: usize = 1024;
pub const MAX_PARTITION_KEY_BYTES: usize = 2048;
/// Longest external agent id that can be stored (`A#{id}` is a sort key).
pub const MAX_AGENT_ID_BYTES: usize = MAX_SORT_KEY_BYTES - 2;
/// Longest external status id that can be stored (`ST#{id}` is a sort key).
pub const MAX_STATUS_ID_BYTES: usize = MAX_SORT_KEY_BYTES - 3;
/// What a mapping's index sort key `{employee}#{integration id}#{external id}` adds to the two ids.
pub const MAPPING_KEY_OVERHEAD_BYTES: usize = 2 + 36;
/// Longest employee id, in UTF-8 bytes (it must fit the mapping's index sort key with a one-byte external id).
pub const MAX_EMPLOYEE_ID_BYTES: usize = MAX_SORT_KEY_BYTES - MAPPING_KEY_OVERHEAD_BYTES - 1;

/// One problem with one field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// JSON pointer of the field (`/settings/region`), or the parameter name for query parameters.
    pub field: String,
    /// Stable code: `required`, `unknown_field`, `invalid_type`, `invalid_value`, `too_long`, `immutable`.
    pub code: &'static str,
    /// Plain-words explanation for the admin.
    pub message: String,
}

/// Every problem found in one request.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, thiserror::Error)]
#[serde(transparent)]
#[error("{} invalid field(s)", .0.len())]
pub struct FieldErrors(pub Vec<FieldError>);

impl FieldErrors {
    pub fn single(field: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        Self(vec![FieldError { field: field.into(), code, message: message.into() }])
    }
    pub fn push(&mut self, field: impl Into<String>, code: &'static str, message: impl Into<String>) {
        self.0.push(FieldError { field: field.into(), code, message: message.into() });
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn fields(&self) -> Vec<&str> {
        self.0.iter().map(|e| e.field.as_str()).collect()
    }
    fn into_result<T>(self, value: impl FnOnce() -> T) -> Result<T, FieldErrors> {
        if self.is_empty() { Ok(value()) } else { Err(self) }
    }
}

/// A validated `POST /integrations` (or `test-connection`) body.
#[derive(Debug, Clone)]
pub struct NewIntegration {
    pub name: IntegrationName,
    pub credentials: Credentials,
    pub settings: Settings,
}

/// A validated `PATCH /integrations/{id}` body, already merged with the current settings.
#[derive(Debug, Clone, Default)]
pub struct IntegrationPatch {
    pub name: Option<IntegrationName>,
    pub credentials: Option<Credentials>,
    /// The complete new settings, when any setting was sent.
    pub settings: Option<Settings>,
}

impl IntegrationPatch {
    pub fn is_empty(&self) -> bool {
        self.name.is_none() && self.credentials.is_none() && self.settings.is_none()
    }
}

/// Reads one JSON object field by field, remembering which keys were looked at.
struct Obj<'a> {
    path: String,
    map: &'a Map<String, Value>,
}

impl<'a> Obj<'a> {
    fn new(path: &str, value: &'a Value, errors: &mut FieldErrors) -> Option<Self> {
        match value {
            Value::Object(map) => Some(Self { path: path.to_owned(), map }),
            _ => {
                errors.push(display_path(path), "invalid_type", "must be a JSON object");
                None
            }
        }
    }
    fn at(&self, key: &str) -> String {
        format!("{}/{}", self.path, key)
    }
    fn reject_unknown(&self, allowed: &[&str], errors: &mut FieldErrors) {
        let mut unknown: Vec<&String> = self.map.keys().filter(|k| !allowed.contains(&k.as_str())).collect();
        unknown.sort();
        for key in unknown {
            errors.push(self.at(key), "unknown_field", format!("unknown field; allowed: {}", allowed.join(", ")));
        }
    }
    fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }
    fn string(&self, key: &str, required: bool, max: usize, errors: &mut FieldErrors) -> Option<&'a str> {
        match self.get(key) {
            None => {
                if required {
                    errors.push(self.at(key), "required", "is required");
                }
                None
            }
            Some(Value::String(s)) if s.trim().is_empty() => {
                errors.push(self.at(key), "invalid_value", "must not be empty");
                None
            }
            Some(Value::String(s)) if s.chars().count() > max => {
                errors.push(self.at(key), "too_long", format!("must be at most {max} characters"));
                None
            }
            Some(Value::String(s)) => Some(s.as_str()),
            Some(_) => {
                errors.push(self.at(key), "invalid_type", "must be a string");
                None
            }
        }
    }
    fn choice<T: Copy>(
        &self,
        key: &str,
        required: bool,
        parse: impl Fn(&str) -> Option<T>,
        allowed: &[&str],
        errors: &mut FieldErrors,
    ) -> Option<T> {
        let raw = self.string(key, required, MAX_TEXT_CHARS, errors)?;
        let parsed = parse(raw);
        if parsed.is_none() {
            errors.push(self.at(key), "invalid_value", format!("must be one of: {}", allowed.join(", ")));
        }
        parsed
    }
    fn boolean(&self, key: &str, errors: &mut FieldErrors) -> Option<bool> {
        match self.get(key) {
            None => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => {
                errors.push(self.at(key), "invalid_type", "must be true or false");
                None
            }
        }
    }
    fn integer(&self, key: &str, min: u32, max: u32, errors: &mut FieldErrors) -> Option<u32> {
        match self.get(key) {
            None => None,
            // JSON Schema (and so the OpenAPI spec) counts 182.0 as an integer: a whole value is one, however written.
            Some(Value::Number(n)) => match n.as_u64().or_else(|| whole(n.as_f64()?)) {
                Some(v) if (u64::from(min)..=u64::from(max)).contains(&v) => Some(v as u32),
                _ => {
                    errors.push(self.at(key), "invalid_value", format!("must be a whole number from {min} to {max}"));
                    None
                }
            },
            Some(_) => {
                errors.push(self.at(key), "invalid_type", "must be a number");
                None
            }
        }
    }
}

fn display_path(path: &str) -> String {
    if path.is_empty() { "/".to_owned() } else { path.to_owned() }
}

fn names<T: Copy>(all: &[T], f: impl Fn(T) -> &'static str) -> Vec<&'static str> {
    all.iter().map(|t| f(*t)).collect()
}

/// Validates a create (or test-connection) body, with the built-in default history.
pub fn parse_new_integration(body: &Value) -> Result<NewIntegration, FieldErrors> {
    parse_new_integration_with(body, DEFAULT_HISTORY_DAYS)
}

/// Validates a create (or test-connection) body; `default_history_days` applies when the body sets none.
pub fn parse_new_integration_with(body: &Value, default_history_days: u32) -> Result<NewIntegration, FieldErrors> {
    let mut errors = FieldErrors::default();
    let Some(root) = Obj::new("", body, &mut errors) else { return Err(errors) };
    root.reject_unknown(&["name", "type", "credentials", "settings"], &mut errors);

    let name = parse_name(&root, true, &mut errors);
    let types = names(&IntegrationType::ALL, IntegrationType::as_str);
    let kind = root.choice("type", true, IntegrationType::parse, &types, &mut errors);

    let (credentials, settings) = match kind {
        Some(kind) => {
            let credentials = match root.get("credentials") {
                Some(v) => parse_credentials(kind, v, &mut errors),
                None => {
                    errors.push("/credentials", "required", "is required");
                    None
                }
            };
            let empty = Value::Object(Map::new());
            let settings_value = root.get("settings").unwrap_or(&empty);
            let settings = match kind {
                IntegrationType::Five9 => {
                    parse_five9_settings(settings_value, None, default_history_days, &mut errors).map(Settings::Five9)
                }
                IntegrationType::GenesysCloud => {
                    parse_genesys_settings(settings_value, None, default_history_days, &mut errors)
                        .map(Settings::GenesysCloud)
                }
                // push: created by `acd_app::ingest::create` (the create route branches before this parser).
                IntegrationType::Push => None,
            };
            (credentials, settings)
        }
        // Without a valid type the credentials and settings can't be checked; say so once rather than guess.
        None => (None, None),
    };
    errors.into_result(|| NewIntegration {
        name: name.expect("no errors means a name"),
        credentials: credentials.expect("no errors means credentials"),
        settings: settings.expect("no errors means settings"),
    })
}

/// Validates a patch body against the integration's current settings.
pub fn parse_patch(body: &Value, current: &Settings) -> Result<IntegrationPatch, FieldErrors> {
    let mut errors = FieldErrors::default();
    let Some(root) = Obj::new("", body, &mut errors) else { return Err(errors) };
    root.reject_unknown(&["name", "credentials", "settings", "type"], &mut errors);
    if let Some(t) = root.get("type")
        && t.as_str() != Some(current.integration_type().as_str())
    {
        errors.push("/type", "immutable", "the type of an integration can't change; create a new integration");
    }
    let name = if root.get("name").is_some() { parse_name(&root, false, &mut errors) } else { None };
    let kind = current.integration_type();
    let credentials = root.get("credentials").and_then(|v| parse_credentials(kind, v, &mut errors));
    let settings = root.get("settings").and_then(|v| match current {
        Settings::Five9(cur) => parse_five9_settings(v, Some(cur), cur.history_days, &mut errors).map(Settings::Five9),
        Settings::GenesysCloud(cur) => {
            parse_genesys_settings(v, Some(cur), cur.history_days, &mut errors).map(Settings::GenesysCloud)
        }
        Settings::Push(_) => {
            errors.push("/settings", "immutable", "the settings of a push integration can't be changed yet");
            None
        }
    });
    if errors.is_empty() && name.is_none() && credentials.is_none() && settings.is_none() {
        errors.push("/", "required", "send at least one of: name, credentials, settings");
    }
    errors.into_result(|| IntegrationPatch { name, credentials, settings })
}

fn parse_name(root: &Obj<'_>, required: bool, errors: &mut FieldErrors) -> Option<IntegrationName> {
    match root.get("name") {
        None if required => {
            errors.push("/name", "required", "is required");
            None
        }
        None => None,
        Some(Value::String(raw)) => match IntegrationName::parse(raw) {
            Ok(name) => Some(name),
            Err(why) => {
                errors.push("/name", if why.too_long { "too_long" } else { "invalid_value" }, why.message);
                None
            }
        },
        Some(_) => {
            errors.push("/name", "invalid_type", "must be a string");
            None
        }
    }
}

fn parse_credentials(kind: IntegrationType, value: &Value, errors: &mut FieldErrors) -> Option<Credentials> {
    let obj = Obj::new("/credentials", value, errors)?;
    match kind {
        IntegrationType::Five9 => {
            obj.reject_unknown(&["username", "password"], errors);
            let username = obj.string("username", true, MAX_TEXT_CHARS, errors);
            let password = obj.string("password", true, MAX_SECRET_CHARS, errors);
            Some(Credentials::Five9 { username: username?.trim().to_owned(), password: password?.to_owned().into() })
        }
        IntegrationType::GenesysCloud => {
            obj.reject_unknown(&["client_id", "client_secret"], errors);
            let client_id = obj.string("client_id", true, MAX_TEXT_CHARS, errors);
            let client_secret = obj.string("client_secret", true, MAX_SECRET_CHARS, errors);
            Some(Credentials::GenesysCloud {
                client_id: client_id?.trim().to_owned(),
                client_secret: client_secret?.to_owned().into(),
            })
        }
        IntegrationType::Push => {
            errors.push("/credentials", "unknown_field", "a push integration has no vendor credentials (ingest keys)");
            None
        }
    }
}

/// Reports an attempt to change a setting that is fixed after creation.
fn immutable<T: PartialEq>(
    obj: &Obj<'_>,
    key: &str,
    sent: Option<T>,
    current: Option<T>,
    why: &str,
    errors: &mut FieldErrors,
) {
    if let (Some(sent), Some(current)) = (sent, current)
        && sent != current
    {
        errors.push(obj.at(key), "immutable", why.to_owned());
    }
}

fn parse_five9_settings(
    value: &Value,
    current: Option<&Five9Settings>,
    default_history_days: u32,
    errors: &mut FieldErrors,
) -> Option<Five9Settings> {
    let obj = Obj::new("/settings", value, errors)?;
    obj.reject_unknown(&["region", "grouping", "time_zone", "skill_report", "history_days"], errors);
    let creating = current.is_none();
    let regions = names(&Five9Region::ALL, Five9Region::as_str);
    let groupings = names(&Five9Grouping::ALL, Five9Grouping::as_str);
    let region = obj.choice("region", creating, Five9Region::parse, &regions, errors);
    let grouping = obj.choice("grouping", creating, Five9Grouping::parse, &groupings, errors);
    immutable(
        &obj,
        "region",
        region,
        current.map(|c| c.region),
        "the region can't change: it names another Five9 account; create a new integration",
        errors,
    );
    immutable(
        &obj,
        "grouping",
        grouping,
        current.map(|c| c.grouping),
        "the grouping of an existing integration can't change; create a new integration",
        errors,
    );
    // Fixed settings keep their current value on a patch (a change was reported above).
    let region = current.map(|c| c.region).or(region);
    let grouping = current.map(|c| c.grouping).or(grouping);

    let time_zone = match obj.string("time_zone", false, MAX_TEXT_CHARS, errors) {
        Some(tz) => match tz.parse::<chrono_tz::Tz>() {
            Ok(parsed) => Some(parsed.name().to_owned()),
            Err(_) => {
                errors.push(
                    "/settings/time_zone",
                    "invalid_value",
                    "must be an IANA time zone such as America/Los_Angeles",
                );
                None
            }
        },
        None => {
            current.map(|c| c.time_zone.clone()).or_else(|| region.map(|r| r.default_time_zone().name().to_owned()))
        }
    };

    let skill_report = match obj.get("skill_report") {
        Some(v) => Obj::new("/settings/skill_report", v, errors).and_then(|sr| {
            sr.reject_unknown(&["folder", "name"], errors);
            let folder = sr.string("folder", true, MAX_TEXT_CHARS, errors);
            let name = sr.string("name", true, MAX_TEXT_CHARS, errors);
            Some(SkillReport { folder: folder?.trim().to_owned(), name: name?.trim().to_owned() })
        }),
        None => current.and_then(|c| c.skill_report.clone()),
    };
    match grouping {
        Some(Five9Grouping::Skill) if skill_report.is_none() && obj.get("skill_report").is_none() => {
            errors.push(
                "/settings/skill_report",
                "required",
                "is required when grouping is skill (the copy of the Call Log report with a SKILL column)",
            );
        }
        Some(Five9Grouping::Campaign) if obj.get("skill_report").is_some() => {
            errors.push("/settings/skill_report", "invalid_value", "is only used when grouping is skill");
        }
        _ => {}
    }
    let history_days = obj
        .integer("history_days", 1, MAX_HISTORY_DAYS, errors)
        .or(current.map(|c| c.history_days))
        .unwrap_or(default_history_days);
    Some(Five9Settings { region: region?, grouping: grouping?, time_zone: time_zone?, skill_report, history_days })
}

fn parse_genesys_settings(
    value: &Value,
    current: Option<&GenesysSettings>,
    default_history_days: u32,
    errors: &mut FieldErrors,
) -> Option<GenesysSettings> {
    let obj = Obj::new("/settings", value, errors)?;
    obj.reject_unknown(&["region", "detailed_on_queue_statuses", "agent_id", "history_days"], errors);
    let creating = current.is_none();
    let regions = names(&GenesysRegion::ALL, GenesysRegion::as_str);
    let agent_ids = names(&GenesysAgentId::ALL, GenesysAgentId::as_str);
    let region = obj.choice("region", creating, GenesysRegion::parse, &regions, errors);
    let agent_id = obj.choice("agent_id", false, GenesysAgentId::parse, &agent_ids, errors);
    immutable(
        &obj,
        "region",
        region,
        current.map(|c| c.region),
        "the region can't change: it names another Genesys Cloud org; create a new integration",
        errors,
    );
    immutable(
        &obj,
        "agent_id",
        agent_id,
        current.map(|c| c.agent_id),
        "the agent identifier can't change: existing agent mappings use it",
        errors,
    );
    let detailed = obj
        .boolean("detailed_on_queue_statuses", errors)
        .or(current.map(|c| c.detailed_on_queue_statuses))
        .unwrap_or(false);
    let history_days = obj
        .integer("history_days", 1, MAX_HISTORY_DAYS, errors)
        .or(current.map(|c| c.history_days))
        .unwrap_or(default_history_days);
    Some(GenesysSettings {
        region: current.map(|c| c.region).or(region)?,
        detailed_on_queue_statuses: detailed,
        agent_id: current.map(|c| c.agent_id).or(agent_id).unwrap_or_default(),
        history_days,
    })
}

/// What `GET /integration-types` answers, with the built-in default history.
pub fn integration_types_catalog() -> Value {
    integration_types_catalog_with(DEFAULT_HISTORY_DAYS)
}

/// What `GET /integration-types` answers: enough for a front end to draw the form of each type.
pub fn integration_types_catalog_with(default_history_days: u32) -> Value {
    let five9_regions: Vec<Value> = Five9Region::ALL
        .iter()
        .map(|r| json!({"value": r.as_str(), "default_time_zone": r.default_time_zone().name()}))
        .collect();
    let genesys_regions = names(&GenesysRegion::ALL, GenesysRegion::as_str);
    json!({ "items": [
        {
            "type": "five9",
            "display_name": IntegrationType::Five9.display_name(),
            "credentials": [
                {"name": "username", "kind": "string", "required": true, "secret": false, "max_length": MAX_TEXT_CHARS,
                 "description": "User name of a Five9 user with the ADMIN and REPORTING roles"},
                {"name": "password", "kind": "string", "required": true, "secret": true, "max_length": MAX_SECRET_CHARS}
            ],
            "settings": [
                {"name": "region", "kind": "enum", "required": true, "mutable": false,
                 "values": names(&Five9Region::ALL, Five9Region::as_str), "value_details": five9_regions},
                {"name": "grouping", "kind": "enum", "required": true, "mutable": false,
                 "values": names(&Five9Grouping::ALL, Five9Grouping::as_str),
                 "description": "Group calls into queues by campaign or by skill"},
                {"name": "time_zone", "kind": "time_zone", "required": false, "mutable": true,
                 "default": "per region (see region value_details)",
                 "description": "IANA time zone of the Five9 domain's reports"},
                {"name": "skill_report", "kind": "object", "required": false, "required_when": {"grouping": "skill"}, "mutable": true,
                 "fields": [{"name": "folder", "kind": "string", "required": true}, {"name": "name", "kind": "string", "required": true}],
                 "description": "Folder and name of the copy of the Call Log report that has a SKILL column"},
                {"name": "history_days", "kind": "integer", "required": false, "mutable": true,
                 "default": default_history_days, "minimum": 1, "maximum": MAX_HISTORY_DAYS}
            ]
        },
        {
            "type": "genesys_cloud",
            "display_name": IntegrationType::GenesysCloud.display_name(),
            "credentials": [
                {"name": "client_id", "kind": "string", "required": true, "secret": false, "max_length": MAX_TEXT_CHARS,
                 "description": "OAuth client id (client credentials grant)"},
                {"name": "client_secret", "kind": "string", "required": true, "secret": true, "max_length": MAX_SECRET_CHARS}
            ],
            "settings": [
                {"name": "region", "kind": "enum", "required": true, "mutable": false, "values": genesys_regions},
                {"name": "detailed_on_queue_statuses", "kind": "boolean", "required": false, "mutable": true, "default": false,
                 "description": "Split On Queue time by routing status (idle, interacting, communicating, not responding)"},
                {"name": "agent_id", "kind": "enum", "required": false, "mutable": false, "default": "username",
                 "values": names(&GenesysAgentId::ALL, GenesysAgentId::as_str),
                 "description": "Which Genesys Cloud user field identifies an agent"},
                {"name": "history_days", "kind": "integer", "required": false, "mutable": true,
                 "default": default_history_days, "minimum": 1, "maximum": MAX_HISTORY_DAYS}
            ]
        }
    ]})
}

/// The value of a JSON number with no fractional part (`182.0`), if it is a non-negative whole number.
fn whole(f: f64) -> Option<u64> {
    (f.is_finite() && f >= 0.0 && f.fract() == 0.0 && f <= u64::MAX as f64).then_some(f as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn five9_body() -> Value {
        json!({"name": " Five9 Sales ", "type": "five9",
               "credentials": {"username": "api@acme", "password": "pw"},
               "settings": {"region": "us", "grouping": "campaign"}})
    }

    #[test]
    fn a_minimal_five9_body_gets_defaults() {
        let parsed = parse_new_integration(&five9_body()).unwrap();
        assert_eq!(parsed.name.as_str(), "Five9 Sales");
        let Settings::Five9(s) = parsed.settings else { panic!() };
        assert_eq!(s.time_zone, "America/Los_Angeles");
        assert_eq!(s.history_days, DEFAULT_HISTORY_DAYS);
        assert_eq!(s.skill_report, None);
        let Credentials::Five9 { password, .. } = parsed.credentials else { panic!() };
        assert_eq!(password.expose_secret(), "pw");
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
        let Settings::GenesysCloud(s) = parsed.settings else { panic!() };
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
        // JSON Schema's integer: 182.0 is one (schemathesis sends it), 182.5 and -1.0 are not.
        let patch = parse_patch(&json!({"settings": {"history_days": 182.0}}), &current).unwrap();
        let Some(Settings::Five9(s)) = patch.settings else { panic!() };
        assert_eq!(s.history_days, 182);
        for bad in [json!(182.5), json!(-1.0), json!(1e300)] {
            let errors = parse_patch(&json!({"settings": {"history_days": bad}}), &current).unwrap_err();
            assert_eq!(errors.fields(), vec!["/settings/history_days"], "{bad}");
        }
    }

    #[test]
    fn patches_keep_fixed_settings_fixed() {
        let current = parse_new_integration(&five9_body()).unwrap().settings;
        let patch =
            parse_patch(&json!({"settings": {"history_days": 10, "time_zone": "Europe/Paris"}}), &current).unwrap();
        let Some(Settings::Five9(s)) = patch.settings else { panic!() };
        assert_eq!((s.history_days, s.time_zone.as_str(), s.region), (10, "Europe/Paris", Five9Region::Us));

        let errors = parse_patch(&json!({"settings": {"grouping": "skill", "region": "eu"}}), &current).unwrap_err();
        assert_eq!(errors.fields(), vec!["/settings/region", "/settings/grouping"]);
        assert!(errors.0.iter().all(|e| e.code == "immutable"));
        // Sending the current value of a fixed setting is fine.
        assert!(parse_patch(&json!({"settings": {"grouping": "campaign"}}), &current).is_ok());
        assert_eq!(parse_patch(&json!({}), &current).unwrap_err().fields(), vec!["/"]);
        assert_eq!(parse_patch(&json!({"type": "genesys_cloud"}), &current).unwrap_err().fields(), vec!["/type"]);
    }

    #[test]
    fn the_catalog_lists_both_types_with_their_allowed_values() {
        let catalog = integration_types_catalog();
        let items = catalog["items"].as_array().unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[1]["settings"][0]["values"].as_array().unwrap().len(), 17);
    }
}
