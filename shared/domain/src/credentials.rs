//! ACD credentials. Secret parts are [`SecretString`]s: their `Debug` prints `[REDACTED]`, they implement neither
//! `Display` nor `Serialize`, so they cannot reach a log line, a response or a table by accident. The only place
//! that exposes them is the secrets store (to write the secret) and the connectors (to authenticate).

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::integration::IntegrationType;

#[derive(Debug, Clone)]
pub enum Credentials {
    Five9 { username: String, password: SecretString },
    GenesysCloud { client_id: String, client_secret: SecretString },
}

/// The non-secret part of the credentials, shown to admins so they can tell which API user is configured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CredentialHints {
    Five9 {
        username: String,
    },
    GenesysCloud {
        client_id: String,
    },
    /// A `push` integration has no vendor credentials: its senders use ingest keys (listed by their own route).
    Push {},
}

impl Credentials {
    pub fn integration_type(&self) -> IntegrationType {
        match self {
            Credentials::Five9 { .. } => IntegrationType::Five9,
            Credentials::GenesysCloud { .. } => IntegrationType::GenesysCloud,
        }
    }

    pub fn hints(&self) -> CredentialHints {
        match self {
            Credentials::Five9 { username, .. } => CredentialHints::Five9 { username: username.clone() },
            Credentials::GenesysCloud { client_id, .. } => {
                CredentialHints::GenesysCloud { client_id: client_id.clone() }
            }
        }
    }

    /// The JSON document stored as the secret's value. Only the secrets store calls this.
    pub fn to_secret_json(&self) -> SecretString {
        let value = match self {
            Credentials::Five9 { username, password } => serde_json::json!({
                "type": "five9", "username": username, "password": password.expose_secret(),
            }),
            Credentials::GenesysCloud { client_id, client_secret } => serde_json::json!({
                "type": "genesys_cloud", "client_id": client_id, "client_secret": client_secret.expose_secret(),
            }),
        };
        SecretString::from(value.to_string())
    }

    /// Reads a secret written by [`Credentials::to_secret_json`].
    pub fn from_secret_json(raw: &SecretString) -> Result<Self, MalformedSecret> {
        #[derive(Deserialize)]
        #[serde(tag = "type", rename_all = "snake_case")]
        enum Stored {
            Five9 { username: String, password: SecretString },
            GenesysCloud { client_id: String, client_secret: SecretString },
        }
        let stored: Stored = serde_json::from_str(raw.expose_secret()).map_err(|_| MalformedSecret)?;
        Ok(match stored {
            Stored::Five9 { username, password } => Credentials::Five9 { username, password },
            Stored::GenesysCloud { client_id, client_secret } => Credentials::GenesysCloud { client_id, client_secret },
        })
    }
}

/// The stored secret is not a credentials document (its content is deliberately not part of the error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the stored credentials secret is not a valid credentials document")]
pub struct MalformedSecret;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_round_trip_and_never_show_in_debug() {
        let creds = Credentials::Five9 { username: "api@acme".into(), password: "hunter2-secret".into() };
        assert!(!format!("{creds:?}").contains("hunter2-secret"));
        let json = creds.to_secret_json();
        assert!(!format!("{json:?}").contains("hunter2-secret"));
        match Credentials::from_secret_json(&json).unwrap() {
            Credentials::Five9 { username, password } => {
                assert_eq!(username, "api@acme");
                assert_eq!(password.expose_secret(), "hunter2-secret");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(creds.hints(), CredentialHints::Five9 { username: "api@acme".into() });
    }

    #[test]
    fn malformed_secrets_are_an_error_without_their_content() {
        let err = Credentials::from_secret_json(&SecretString::from("{\"type\":\"x\",\"pw\":\"leak\"}")).unwrap_err();
        assert!(!err.to_string().contains("leak"));
    }
}
