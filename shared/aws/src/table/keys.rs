//! The single-table key design. Every partition key starts with the tenant id (`T#{tenant}`), so no access path
//! can reach another tenant's items. See the README's "Data model" section for the whole table.
//!
//! | item | PK | SK |
//! | --- | --- | --- |
//! | integration | `T#{tenant}` | `INT#{integration}` |
//! | name reservation | `T#{tenant}` | `NAME#{NFKC, lower-cased, white space folded name}` |
//! | idempotency key | `T#{tenant}` | `IDEM#{Idempotency-Key}` |
//! | tenant token (e.g. Amazon Connect's external id) | `T#{tenant}` | `TOKEN#{type}#{field}` |
//! | queue | `T#{tenant}#I#{integration}` | `Q#{external id}` |
//! | agent-state gaps of an integration | `T#{tenant}` | `AGAP#{integration}` |
//!
//! GSI1 (`GSI1PK`, `GSI1SK`) lists a tenant's queues by name: `T#{tenant}#QUEUES` / `{lower name}#{queue id}`.

use acd_domain::{IntegrationId, TenantId};

pub const PK: &str = "PK";
pub const SK: &str = "SK";
pub const GSI1: &str = "GSI1";
pub const GSI1PK: &str = "GSI1PK";
pub const GSI1SK: &str = "GSI1SK";

pub fn tenant_pk(tenant: &TenantId) -> String {
    format!("T#{tenant}")
}

pub fn integration_sk(id: IntegrationId) -> String {
    format!("INT#{id}")
}

pub const INTEGRATION_SK_PREFIX: &str = "INT#";

pub fn name_sk(uniqueness_key: &str) -> String {
    format!("NAME#{uniqueness_key}")
}

/// A request remembered under its `Idempotency-Key` (keys are per tenant; the header allows 1–255 visible ASCII
/// characters, so the sort key stays far below 1,024 bytes).
pub fn idempotency_sk(key: &str) -> String {
    format!("IDEM#{key}")
}

/// A value the server issues once per tenant and vendor (`TOKEN#amazon_connect#external_id`).
pub fn tenant_token_sk(kind: &str, field: &str) -> String {
    format!("TOKEN#{kind}#{field}")
}

/// Partition of everything one integration imports (queues, agents, statuses, runs, lease, cursor).
pub fn integration_pk(tenant: &TenantId, id: IntegrationId) -> String {
    format!("T#{tenant}#I#{id}")
}

/// An integration's agent-state gaps ([`super::gaps`]), in the tenant's partition so that one Query
/// (`begins_with(SK, "AGAP#")`) reads every integration's.
pub fn agent_state_gaps_sk(id: IntegrationId) -> String {
    format!("{AGENT_STATE_GAPS_SK_PREFIX}{id}")
}

pub const AGENT_STATE_GAPS_SK_PREFIX: &str = "AGAP#";

pub const QUEUE_SK_PREFIX: &str = "Q#";

pub fn queue_sk(external_id: &str) -> String {
    format!("{QUEUE_SK_PREFIX}{external_id}")
}
