//! Validation of the integration bodies the API receives.
//!
//! Bodies are checked field by field from raw JSON so that one answer names every bad field at once (serde would
//! stop at the first), with unknown fields, wrong types, missing fields and bad values all reported by JSON pointer.
//! This module holds what every vendor shares (the [`Obj`] reader, names, credentials fields, `history_days`);
//! each vendor module validates its own settings with it, and the registry (`acd_connectors::registry`) puts a
//! whole body together.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::credentials::{CredentialField, Credentials};
use crate::integration::{IntegrationName, Settings};

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
    pub fn into_result<T>(self, value: impl FnOnce() -> T) -> Result<T, FieldErrors> {
        if self.is_empty() { Ok(value()) } else { Err(self) }
    }
}

/// A validated `POST /integrations` (or `test-connection`) body.
#[derive(Debug, Clone)]
pub struct NewIntegration {
    pub name: IntegrationName,
    /// The type, parsed against the vendor registry.
    pub kind: crate::IntegrationType,
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

/// Reads one JSON object field by field, reporting every problem into a [`FieldErrors`].
pub struct Obj<'a> {
    path: String,
    map: &'a Map<String, Value>,
}

impl<'a> Obj<'a> {
    pub fn new(path: &str, value: &'a Value, errors: &mut FieldErrors) -> Option<Self> {
        match value {
            Value::Object(map) => Some(Self { path: path.to_owned(), map }),
            _ => {
                errors.push(display_path(path), "invalid_type", "must be a JSON object");
                None
            }
        }
    }
    pub fn at(&self, key: &str) -> String {
        format!("{}/{}", self.path, key)
    }
    pub fn reject_unknown(&self, allowed: &[&str], errors: &mut FieldErrors) {
        let mut unknown: Vec<&String> = self.map.keys().filter(|k| !allowed.contains(&k.as_str())).collect();
        unknown.sort();
        for key in unknown {
            errors.push(self.at(key), "unknown_field", format!("unknown field; allowed: {}", allowed.join(", ")));
        }
    }
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }
    pub fn string(&self, key: &str, required: bool, max: usize, errors: &mut FieldErrors) -> Option<&'a str> {
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
    pub fn choice<T: Copy>(
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
    pub fn boolean(&self, key: &str, errors: &mut FieldErrors) -> Option<bool> {
        match self.get(key) {
            None => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => {
                errors.push(self.at(key), "invalid_type", "must be true or false");
                None
            }
        }
    }
    pub fn integer(&self, key: &str, min: u32, max: u32, errors: &mut FieldErrors) -> Option<u32> {
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

/// The names of a list of choices (for [`Obj::choice`]'s `allowed`).
pub fn names<T: Copy>(all: &[T], f: impl Fn(T) -> &'static str) -> Vec<&'static str> {
    all.iter().map(|t| f(*t)).collect()
}

/// Reads the body's `name` (required on create).
pub fn parse_name(root: &Obj<'_>, required: bool, errors: &mut FieldErrors) -> Option<IntegrationName> {
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

/// Reads `/credentials` against a vendor's fields: each a required string (non-secret ones trimmed), nothing else.
pub fn parse_credentials(
    kind: &crate::IntegrationType,
    fields: &[CredentialField],
    value: &Value,
    errors: &mut FieldErrors,
) -> Option<Credentials> {
    let obj = Obj::new("/credentials", value, errors)?;
    let allowed: Vec<&str> = fields.iter().map(|f| f.name).collect();
    obj.reject_unknown(&allowed, errors);
    let mut creds = Some(Credentials::new(kind.clone()));
    for field in fields {
        let value = obj.string(field.name, true, field.max_chars, errors);
        creds = match (creds, value) {
            (Some(c), Some(v)) if field.secret => Some(c.with_secret(field.name, v.to_owned())),
            (Some(c), Some(v)) => Some(c.with_field(field.name, v.trim())),
            _ => None,
        };
    }
    creds
}

/// Reports an attempt to change a setting that is fixed after creation.
pub fn immutable<T: PartialEq>(
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

/// Reads the shared `history_days` setting (1 to `max`): the sent value, else the current one, else the default.
pub fn history_days(
    obj: &Obj<'_>,
    current: Option<&Settings>,
    default_history_days: u32,
    max: u32,
    errors: &mut FieldErrors,
) -> u32 {
    obj.integer("history_days", 1, max, errors)
        .or(current.map(|c| c.history_days))
        .unwrap_or(default_history_days.min(max))
}

/// The value of a JSON number with no fractional part (`182.0`), if it is a non-negative whole number.
fn whole(f: f64) -> Option<u64> {
    (f.is_finite() && f >= 0.0 && f.fract() == 0.0 && f <= u64::MAX as f64).then_some(f as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::IntegrationType;
    use secrecy::ExposeSecret;
    use serde_json::json;

    const FIELDS: &[CredentialField] = &[
        CredentialField { name: "client_id", secret: false, max_chars: 10, description: None },
        CredentialField { name: "client_secret", secret: true, max_chars: 10, description: None },
    ];

    #[test]
    fn credentials_are_read_against_the_vendor_fields() {
        let kind = IntegrationType::new("genesys_cloud");
        let mut errors = FieldErrors::default();
        let creds =
            parse_credentials(&kind, FIELDS, &json!({"client_id": " id ", "client_secret": " s "}), &mut errors);
        let creds = creds.unwrap();
        assert!(errors.is_empty());
        assert_eq!(creds.field("client_id"), Some("id"));
        assert_eq!(creds.secret("client_secret").unwrap().expose_secret(), " s ");

        let mut errors = FieldErrors::default();
        let body = json!({"client_id": 5, "client_secret": "01234567890", "x": 1});
        assert!(parse_credentials(&kind, FIELDS, &body, &mut errors).is_none());
        let mut fields = errors.fields();
        fields.sort();
        assert_eq!(fields, vec!["/credentials/client_id", "/credentials/client_secret", "/credentials/x"]);
    }

    #[test]
    fn history_days_accepts_a_whole_number_written_with_a_fraction_only() {
        for (raw, want) in [(json!(182.0), Some(182)), (json!(182.5), None), (json!(-1.0), None), (json!(1e300), None)]
        {
            let body = json!({"history_days": raw});
            let mut errors = FieldErrors::default();
            let obj = Obj::new("/settings", &body, &mut errors).unwrap();
            let days = history_days(&obj, None, 30, 365, &mut errors);
            match want {
                Some(d) => assert_eq!((days, errors.is_empty()), (d, true)),
                None => assert_eq!(errors.fields(), vec!["/settings/history_days"]),
            }
        }
    }
}
