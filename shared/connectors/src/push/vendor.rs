//! The push type in the vendor registry.

use acd_domain::validation::{FieldErrors, Obj};
use acd_domain::{CredentialField, Credentials, IntegrationType, Settings};
use serde_json::{Map, Value, json};

use crate::vendor::{ConnectorContext, Vendor};
use crate::{Connector, ConnectorError};

pub const TYPE: IntegrationType = IntegrationType::new("push");

/// Default silence (minutes) after which a push integration reads `failing` with reason `no_data`.
pub const DEFAULT_NO_DATA_MINUTES: u32 = 60;
pub const MIN_NO_DATA_MINUTES: u32 = 5;
pub const MAX_NO_DATA_MINUTES: u32 = 10_080;

/// The silence setting of a push integration's settings (the default when absent or unreadable).
pub fn no_data_after_minutes(settings: &Settings) -> u32 {
    settings
        .vendor
        .get("no_data_after_minutes")
        .and_then(Value::as_u64)
        .and_then(|n| u32::try_from(n).ok())
        .unwrap_or(DEFAULT_NO_DATA_MINUTES)
}

pub struct Push;

impl Vendor for Push {
    fn id(&self) -> IntegrationType {
        TYPE
    }
    fn display_name(&self) -> &'static str {
        "Any ACD (push API)"
    }
    fn spec_name(&self) -> &'static str {
        "Push"
    }
    fn credential_fields(&self) -> &'static [CredentialField] {
        &[]
    }
    fn settings_form(&self) -> Vec<Value> {
        vec![json!({"name": "no_data_after_minutes", "kind": "integer", "required": false, "mutable": true,
            "default": DEFAULT_NO_DATA_MINUTES, "minimum": MIN_NO_DATA_MINUTES, "maximum": MAX_NO_DATA_MINUTES,
            "description": "After this many minutes without a push the integration is failing (no_data)"})]
    }
    fn parse_settings(
        &self,
        obj: &Obj<'_>,
        current: Option<&Settings>,
        errors: &mut FieldErrors,
    ) -> Option<Map<String, Value>> {
        let minutes = obj
            .integer("no_data_after_minutes", MIN_NO_DATA_MINUTES, MAX_NO_DATA_MINUTES, errors)
            .or_else(|| current.map(no_data_after_minutes))
            .unwrap_or(DEFAULT_NO_DATA_MINUTES);
        let mut map = Map::new();
        map.insert("no_data_after_minutes".into(), json!(minutes));
        Some(map)
    }
    fn pulls(&self) -> bool {
        false
    }
    fn agent_state_cadence(&self) -> Result<(), &'static str> {
        Err("pushed agent events are visible as soon as they are pushed: there is nothing to import more often")
    }
    fn connector(
        &self,
        _ctx: &ConnectorContext,
        _settings: &Settings,
        _credentials: Credentials,
    ) -> Result<Option<Box<dyn Connector>>, ConnectorError> {
        Ok(None)
    }
}
