//! The agent-state gaps of an integration: one small item in the tenant's partition (`T#{tenant}` /
//! `AGAP#{integration}`, [`super::keys::agent_state_gaps_sk`]) holding the newest
//! [`acd_domain::gaps::MAX_STORED_GAPS`] gaps, coalesced (none expires by age: the segments around a gap stay
//! stored too). Written by the
//! 15-minute import (read, merged, put: one import of an integration runs at a time), read by `GET /agent-states`
//! with one Query over the tenant's `AGAP#` items.

use acd_domain::{AgentStateGap, IntegrationId, TenantId};
use serde::{Deserialize, Serialize};

use super::keys;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentStateGapsItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub integration_id: IntegrationId,
    #[serde(default)]
    pub gaps: Vec<AgentStateGap>,
}

impl AgentStateGapsItem {
    pub fn new(tenant: &TenantId, integration: IntegrationId, gaps: Vec<AgentStateGap>) -> Self {
        Self {
            pk: keys::tenant_pk(tenant),
            sk: keys::agent_state_gaps_sk(integration),
            integration_id: integration,
            gaps,
        }
    }
}
