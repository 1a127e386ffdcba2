//! Genesys Cloud settings: their type, validation (create and PATCH) and the form fields `GET /integration-types`
//! shows.

use acd_domain::Settings;
use acd_domain::validation::{FieldErrors, Obj, immutable, names};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

pub use super::regions::GenesysRegion;
use crate::vendor::{current_settings, settings_map};

/// Which Genesys Cloud user field identifies an agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum GenesysAgentId {
    #[default]
    Username,
    Id,
}

impl GenesysAgentId {
    pub const ALL: [GenesysAgentId; 2] = [Self::Username, Self::Id];
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Username => "username",
            Self::Id => "id",
        }
    }
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.as_str() == raw)
    }
}

/// The Genesys Cloud part of an integration's settings (stored as these keys of the settings object).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenesysSettings {
    pub region: GenesysRegion,
    pub detailed_on_queue_statuses: bool,
    #[serde(default)]
    pub agent_id: GenesysAgentId,
}

/// The form fields (`GET /integration-types`), without the shared `history_days`.
pub fn form() -> Vec<Value> {
    vec![
        json!({"name": "region", "kind": "enum", "required": true, "mutable": false,
               "values": names(&GenesysRegion::ALL, GenesysRegion::as_str)}),
        json!({"name": "detailed_on_queue_statuses", "kind": "boolean", "required": false, "mutable": true,
               "default": false,
               "description": "Split On Queue time by routing status (idle, interacting, communicating, not responding)"}),
        json!({"name": "agent_id", "kind": "enum", "required": false, "mutable": false, "default": "username",
               "values": names(&GenesysAgentId::ALL, GenesysAgentId::as_str),
               "description": "Which Genesys Cloud user field identifies an agent"}),
    ]
}

/// Validates the Genesys Cloud settings of a create (`current` is `None`) or a PATCH.
pub fn parse(obj: &Obj<'_>, current: Option<&Settings>, errors: &mut FieldErrors) -> Option<Map<String, Value>> {
    let current: Option<GenesysSettings> = current_settings(current, errors).ok()?;
    let current = current.as_ref();
    let creating = current.is_none();
    let regions = names(&GenesysRegion::ALL, GenesysRegion::as_str);
    let agent_ids = names(&GenesysAgentId::ALL, GenesysAgentId::as_str);
    let region = obj.choice("region", creating, GenesysRegion::parse, &regions, errors);
    let agent_id = obj.choice("agent_id", false, GenesysAgentId::parse, &agent_ids, errors);
    immutable(
        obj,
        "region",
        region,
        current.map(|c| c.region),
        "the region can't change: it names another Genesys Cloud org; create a new integration",
        errors,
    );
    immutable(
        obj,
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
    let settings = GenesysSettings {
        region: current.map(|c| c.region).or(region)?,
        detailed_on_queue_statuses: detailed,
        agent_id: current.map(|c| c.agent_id).or(agent_id).unwrap_or_default(),
    };
    Some(settings_map(&settings))
}
