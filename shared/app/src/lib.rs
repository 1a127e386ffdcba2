//! Application layer: the services behind each function and the HTTP edge of the API functions.
//! Storage, secrets, schedules and ACDs are reached only through the [`ports`] traits and the connector trait.

pub mod cursor;
pub mod error;
pub mod events;
pub mod http;
pub mod import;
pub mod ingest;
pub mod integrations;
pub mod mappings;
pub mod metrics;
pub mod ports;
pub mod query;
pub mod telemetry;
pub mod verifier;
pub mod xray;

pub use error::ApiError;

/// What the unit tests of several modules build alike.
#[cfg(test)]
pub(crate) mod test_fixtures {
    use acd_domain::{Integration, IntegrationId, IntegrationStatus, TenantId};
    use chrono::{DateTime, Utc};

    /// A new Genesys Cloud integration "Sales" of `tenant-a`, created and last updated `at`, naming no secret
    /// version.
    pub fn genesys_integration(at: DateTime<Utc>) -> Integration {
        let body = serde_json::json!({
            "name": "Sales", "type": "genesys_cloud",
            "credentials": {"client_id": "c", "client_secret": "s"},
            "settings": {"region": "eu_central_1"}
        });
        let new = acd_connectors::registry::parse_new_integration_with(&body, 30).unwrap();
        Integration {
            id: IntegrationId::new(),
            tenant_id: TenantId::parse("tenant-a").unwrap(),
            name: new.name,
            kind: new.kind.clone(),
            settings: new.settings,
            credential_hints: new.credentials.hints(),
            secret_version: None,
            status: IntegrationStatus::new_integration(),
            failing_since: None,
            created_at: at,
            updated_at: at,
            version: 1,
        }
    }
}
