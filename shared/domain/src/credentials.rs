//! ACD credentials, the same shape for every vendor: named non-secret fields (a user name, a client id, a role
//! ARN) and named secret fields. Secret parts are [`SecretString`]s: their `Debug` prints `[REDACTED]`, they
//! implement neither `Display` nor `Serialize`, so they cannot reach a log line, a response or a table by accident.
//! The only places that expose them are the secrets store (to write the secret) and the connectors (to
//! authenticate). Which fields a vendor has is its [`CredentialField`] list (in its vendor module).

use std::collections::BTreeMap;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::integration::IntegrationType;

/// One credentials field of a vendor: every field is a required string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CredentialField {
    pub name: &'static str,
    /// Secret fields are kept as [`SecretString`] and never shown; the others are shown as hints.
    pub secret: bool,
    /// Longest value, in characters.
    pub max_chars: usize,
    /// Plain-words help for the form (`GET /integration-types`), if any.
    pub description: Option<&'static str>,
}

#[derive(Debug, Clone)]
pub struct Credentials {
    kind: IntegrationType,
    fields: BTreeMap<String, String>,
    secrets: BTreeMap<String, SecretString>,
}

/// The non-secret part of the credentials, shown to admins so they can tell which API user is configured
/// (`{"username": "api@acme"}`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CredentialHints(pub BTreeMap<String, String>);

/// The version of an integration's secret that holds the credentials its record describes. The API chooses it (a
/// random UUID) before it writes the secret, which stores it as that version's id; the record names it, and the
/// import reads that version. The record's conditional update is then the one point that decides which credentials
/// are in force: two credential changes at once cannot leave one's hints on the record and the other's secret in use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretVersion(String);

impl SecretVersion {
    /// A new version id (36 characters; Secrets Manager takes 32 to 64).
    pub fn random() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }
    /// A version id as the secret store reports it.
    pub fn from_stored(id: String) -> Self {
        Self(id)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Credentials {
    /// Empty credentials of a type (a type without credentials keeps them empty).
    pub fn new(kind: IntegrationType) -> Self {
        Self { kind, fields: BTreeMap::new(), secrets: BTreeMap::new() }
    }
    pub fn with_field(mut self, name: &str, value: impl Into<String>) -> Self {
        self.fields.insert(name.to_owned(), value.into());
        self
    }
    pub fn with_secret(mut self, name: &str, value: impl Into<SecretString>) -> Self {
        self.secrets.insert(name.to_owned(), value.into());
        self
    }

    pub fn integration_type(&self) -> &IntegrationType {
        &self.kind
    }
    /// A non-secret field.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }
    /// A secret field.
    pub fn secret(&self, name: &str) -> Option<&SecretString> {
        self.secrets.get(name)
    }
    /// Every secret field.
    pub fn secrets(&self) -> impl Iterator<Item = &SecretString> {
        self.secrets.values()
    }
    /// Whether the type has no credentials at all.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty() && self.secrets.is_empty()
    }

    /// Whether `other` holds the same credentials (type, fields and secrets alike).
    pub fn same_as(&self, other: &Credentials) -> bool {
        self.kind == other.kind
            && self.fields == other.fields
            && self.secrets.len() == other.secrets.len()
            && self
                .secrets
                .iter()
                .zip(&other.secrets)
                .all(|((k, v), (ok, ov))| k == ok && v.expose_secret() == ov.expose_secret())
    }

    pub fn hints(&self) -> CredentialHints {
        CredentialHints(self.fields.clone())
    }

    /// The JSON document stored as the secret's value: `{"type": "five9", "username": …, "password": …}`.
    /// Only the secrets store calls this.
    pub fn to_secret_json(&self) -> SecretString {
        let mut doc = Map::new();
        doc.insert("type".into(), Value::String(self.kind.as_str().to_owned()));
        for (k, v) in &self.fields {
            doc.insert(k.clone(), Value::String(v.clone()));
        }
        for (k, v) in &self.secrets {
            doc.insert(k.clone(), Value::String(v.expose_secret().to_owned()));
        }
        SecretString::from(Value::Object(doc).to_string())
    }

    /// Reads a secret written by [`Credentials::to_secret_json`]. `fields_of` gives the credentials fields of a
    /// type (the registry's vendor), `None` for an unknown type. Every field must be there, as a string; a field
    /// the type does not have is refused too.
    pub fn from_secret_json(
        raw: &SecretString,
        fields_of: impl Fn(&str) -> Option<&'static [CredentialField]>,
    ) -> Result<Self, MalformedSecret> {
        let doc: Map<String, Value> = serde_json::from_str(raw.expose_secret()).map_err(|_| MalformedSecret)?;
        let kind = doc.get("type").and_then(Value::as_str).ok_or(MalformedSecret)?;
        let spec = fields_of(kind).ok_or(MalformedSecret)?;
        if doc.len() != spec.len() + 1 {
            return Err(MalformedSecret);
        }
        let mut creds = Self::new(IntegrationType::from_stored(kind));
        for field in spec {
            let value = doc.get(field.name).and_then(Value::as_str).ok_or(MalformedSecret)?;
            creds = if field.secret {
                creds.with_secret(field.name, value.to_owned())
            } else {
                creds.with_field(field.name, value)
            };
        }
        Ok(creds)
    }
}

/// The stored secret is not a credentials document (its content is deliberately not part of the error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the stored credentials secret is not a valid credentials document")]
pub struct MalformedSecret;

#[cfg(test)]
mod tests {
    use super::*;

    const FIELDS: &[CredentialField] = &[
        CredentialField { name: "username", secret: false, max_chars: 255, description: None },
        CredentialField { name: "password", secret: true, max_chars: 1024, description: None },
    ];

    fn fields_of(kind: &str) -> Option<&'static [CredentialField]> {
        (kind == "five9").then_some(FIELDS)
    }

    #[test]
    fn secrets_round_trip_and_never_show_in_debug() {
        let creds = Credentials::new(IntegrationType::new("five9"))
            .with_field("username", "api@acme")
            .with_secret("password", "hunter2-secret".to_owned());
        assert!(!format!("{creds:?}").contains("hunter2-secret"));
        let json = creds.to_secret_json();
        assert!(!format!("{json:?}").contains("hunter2-secret"));
        let stored: Value = serde_json::from_str(json.expose_secret()).unwrap();
        assert_eq!(stored, serde_json::json!({"type": "five9", "username": "api@acme", "password": "hunter2-secret"}));
        let back = Credentials::from_secret_json(&json, fields_of).unwrap();
        assert_eq!(back.integration_type().as_str(), "five9");
        assert_eq!(back.field("username"), Some("api@acme"));
        assert_eq!(back.secret("password").unwrap().expose_secret(), "hunter2-secret");
        assert_eq!(serde_json::to_value(creds.hints()).unwrap(), serde_json::json!({"username": "api@acme"}));
    }

    #[test]
    fn credentials_are_the_same_only_with_every_field_and_secret_equal() {
        let five9 = |user: &str, password: &str| {
            Credentials::new(IntegrationType::new("five9"))
                .with_field("username", user)
                .with_secret("password", password.to_owned())
        };
        assert!(five9("u", "p").same_as(&five9("u", "p")));
        assert!(!five9("u", "p").same_as(&five9("u", "q")), "another secret");
        assert!(!five9("u", "p").same_as(&five9("v", "p")), "another field");
        let other_type = Credentials::new(IntegrationType::new("genesys_cloud"))
            .with_field("username", "u")
            .with_secret("password", "p".to_owned());
        assert!(!five9("u", "p").same_as(&other_type), "another type");
        assert!(!five9("u", "p").same_as(&five9("u", "p").with_secret("extra", "x".to_owned())), "one more secret");
        assert!(!five9("u", "p").with_secret("extra", "x".to_owned()).same_as(&five9("u", "p")), "one fewer");
    }

    #[test]
    fn malformed_secrets_are_an_error_without_their_content() {
        for raw in [
            "{\"type\":\"x\",\"pw\":\"leak\"}",
            "{\"type\":\"five9\",\"username\":\"u\"}",
            "{\"type\":\"five9\",\"username\":\"u\",\"password\":\"leak\",\"extra\":\"x\"}",
            "{\"type\":\"five9\",\"username\":\"u\",\"password\":7}",
            "not json leak",
        ] {
            let err = Credentials::from_secret_json(&SecretString::from(raw), fields_of).unwrap_err();
            assert!(!err.to_string().contains("leak"), "{raw}");
        }
    }
}
