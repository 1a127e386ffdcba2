//! Genesys Cloud in the vendor registry.

use acd_domain::validation::{FieldErrors, MAX_SECRET_CHARS, MAX_TEXT_CHARS, Obj};
use acd_domain::{CredentialField, Credentials, IntegrationType, Settings};
use serde_json::{Map, Value};

use super::GenesysConnector;
use super::settings::{self, GenesysSettings};
use crate::vendor::{ConnectorContext, Vendor, credential_field, credential_secret, settings_map, typed_settings};
use crate::{Connector, ConnectorError};

pub const TYPE: IntegrationType = IntegrationType::new("genesys_cloud");

/// Genesys Cloud's analytics data is final only after up to 72 hours (late wrap-up, conversation edits): each run
/// re-reads at least this far back.
pub const MIN_RECONCILIATION_HOURS: i64 = 72;

const CREDENTIALS: &[CredentialField] = &[
    CredentialField {
        name: "client_id",
        secret: false,
        max_chars: MAX_TEXT_CHARS,
        description: Some("OAuth client id (client credentials grant)"),
    },
    CredentialField { name: "client_secret", secret: true, max_chars: MAX_SECRET_CHARS, description: None },
];

pub struct GenesysCloud;

impl Vendor for GenesysCloud {
    fn id(&self) -> IntegrationType {
        TYPE
    }
    fn display_name(&self) -> &'static str {
        "Genesys Cloud"
    }
    fn spec_name(&self) -> &'static str {
        "Genesys"
    }
    fn credential_fields(&self) -> &'static [CredentialField] {
        CREDENTIALS
    }
    fn settings_form(&self) -> Vec<Value> {
        settings::form()
    }
    fn parse_settings(
        &self,
        obj: &Obj<'_>,
        current: Option<&Settings>,
        errors: &mut FieldErrors,
    ) -> Option<Map<String, Value>> {
        settings::parse(obj, current, errors)
    }
    /// Records written before `agent_id` existed show its default (`username`), as the spec requires it.
    fn shown_settings(&self, settings: &Settings) -> Settings {
        match typed_settings::<GenesysSettings>(settings) {
            Ok(typed) => Settings { vendor: settings_map(&typed), ..settings.clone() },
            Err(_) => settings.clone(),
        }
    }
    /// A users-details query over the last minutes (up to 100 users per query) reads agent states cheaply.
    fn agent_state_cadence(&self) -> Result<(), &'static str> {
        Ok(())
    }
    fn min_reconciliation(&self) -> chrono::Duration {
        chrono::Duration::hours(MIN_RECONCILIATION_HOURS)
    }
    fn connector(
        &self,
        ctx: &ConnectorContext,
        settings: &Settings,
        credentials: Credentials,
    ) -> Result<Option<Box<dyn Connector>>, ConnectorError> {
        let typed: GenesysSettings = typed_settings(settings)?;
        let client_id = credential_field(&credentials, "client_id")?.to_owned();
        let client_secret = credential_secret(&credentials, "client_secret")?;
        Ok(Some(Box::new(GenesysConnector::new(ctx.http.clone(), &ctx.endpoints, typed, client_id, client_secret))))
    }
}
