//! Item shapes of imported data and mappings (written by the import, read by the query function and the mapping
//! routes). Keys come from [`crate::keys`]; every partition key starts with the tenant.
//!
//! | item | PK | SK | GSI1PK / GSI1SK |
//! | --- | --- | --- | --- |
//! | queue | `T#{t}#I#{int}` | `Q#{external id}` | `T#{t}#QUEUES` / `{lower name}#{queue id}` |
//! | interval | `T#{t}#Q#{queue id}` | `IV#{YYYY-MM-DDTHH:MMZ}` | — |
//! | external agent | `T#{t}#I#{int}` | `A#{external id}` | mapped only: `T#{t}#EMP` / `{employee}#{int}#{external id}` |
//! | agent segment | `T#{t}#I#{int}#A#{external id}` | `S#{start, RFC 3339 UTC, milliseconds}` | — |
//! | external status | `T#{t}#I#{int}` | `ST#{status id}` | — |
//! | import run | `T#{t}#I#{int}` | `RUN#{started at}#{run id}` | — |
//! | lease | `T#{t}#I#{int}` | `LEASE` | — |
//! | import state | `T#{t}#I#{int}` | `STATE` | — |
//! | agent-states pass lease, checkpoint | `T#{t}#I#{int}` | `LEASE#STATES`, `STATES` | — |
//! | chunk digest | `T#{t}#I#{int}` | `DIG#{IV or S}#{chunk start}` | — |

use acd_domain::{Channel, IntegrationId, QueueId, TenantId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::keys::{integration_pk, tenant_pk};

/// Fixed-width UTC time for sort keys: lexicographic order is time order.
pub fn sort_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Interval sort keys use minutes (intervals start on quarter hours).
pub fn interval_sk(start: DateTime<Utc>) -> String {
    format!("IV#{}", start.format("%Y-%m-%dT%H:%MZ"))
}

pub fn queue_data_pk(tenant: &TenantId, queue: &QueueId) -> String {
    format!("{}#Q#{}", tenant_pk(tenant), queue)
}

pub fn queues_gsi_pk(tenant: &TenantId) -> String {
    format!("{}#QUEUES", tenant_pk(tenant))
}

pub fn queues_gsi_sk(name: &str, queue: &QueueId) -> String {
    format!("{}#{}", name.to_lowercase(), queue)
}

pub const AGENT_SK_PREFIX: &str = "A#";
pub const STATUS_SK_PREFIX: &str = "ST#";
pub const RUN_SK_PREFIX: &str = "RUN#";
pub const SEGMENT_SK_PREFIX: &str = "S#";
pub const LEASE_SK: &str = "LEASE";
pub const STATE_SK: &str = "STATE";
/// The agent-states pass's lease and checkpoint (see `acd_app::import::states`).
pub const STATES_LEASE_SK: &str = "LEASE#STATES";
pub const STATES_SK: &str = "STATES";
pub const DIGEST_SK_PREFIX: &str = "DIG#";

/// The digest of one day chunk of interval (`IV`) or segment (`S`) data.
pub fn digest_sk(kind: &str, chunk_start: DateTime<Utc>) -> String {
    format!("{DIGEST_SK_PREFIX}{kind}#{}", sort_time(chunk_start))
}

pub fn agent_sk(external_id: &str) -> String {
    format!("{AGENT_SK_PREFIX}{external_id}")
}

pub fn status_sk(status_id: &str) -> String {
    format!("{STATUS_SK_PREFIX}{status_id}")
}

pub fn segment_pk(tenant: &TenantId, integration: IntegrationId, agent_external_id: &str) -> String {
    format!("{}#A#{}", integration_pk(tenant, integration), agent_external_id)
}

/// Millisecond precision: vendors report sub-second state changes, and two segments may start in one second.
pub fn segment_sk(start: DateTime<Utc>) -> String {
    format!("{SEGMENT_SK_PREFIX}{}", start.format("%Y-%m-%dT%H:%M:%S%.3fZ"))
}

pub fn employees_gsi_pk(tenant: &TenantId) -> String {
    format!("{}#EMP", tenant_pk(tenant))
}

pub fn employees_gsi_sk(employee_id: &str, integration: IntegrationId, agent_external_id: &str) -> String {
    format!("{employee_id}#{integration}#{agent_external_id}")
}

/// A queue of an integration ("mappable queue").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    #[serde(rename = "GSI1PK")]
    pub gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    pub gsi1sk: String,
    pub entity: String,
    pub queue_id: QueueId,
    pub integration_id: IntegrationId,
    /// Name of the integration when the queue was last imported (the query overlays the current name).
    pub integration_name: String,
    pub external_id: String,
    pub name: String,
    /// Lower-cased name, for case-insensitive substring filters.
    pub name_lower: String,
    pub channel: Channel,
    pub interval_minutes: u32,
    pub active: bool,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// First and last interval start for which data was imported (absent until the first interval).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_from: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_to: Option<DateTime<Utc>>,
    /// Listed (GET /queues) only once data has been imported for it (`data_from` set): a channel the ACD's listing
    /// names without knowing whether the queue carries it (see `Connector::listed_once_seen`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub once_seen: bool,
}

/// Statistics of one queue and 15-minute interval. Intervals without contacts are not stored: within the range
/// the integration has completed, an absent interval is zero.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntervalItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub start: DateTime<Utc>,
    pub offered: u64,
    pub handled: u64,
    pub abandoned: u64,
    pub handle_ms: u64,
    pub answer_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sl: Option<u64>,
}

/// An external agent id seen by the import, and the employee it is mapped to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity: String,
    pub integration_id: IntegrationId,
    pub external_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employee_id: Option<String>,
    /// Set only while mapped (sparse index).
    #[serde(rename = "GSI1PK", default, skip_serializing_if = "Option::is_none")]
    pub gsi1pk: Option<String>,
    #[serde(rename = "GSI1SK", default, skip_serializing_if = "Option::is_none")]
    pub gsi1sk: Option<String>,
}

/// An external status seen by the import and the activity it maps to (default `present`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity: String,
    pub integration_id: IntegrationId,
    pub status_id: String,
    pub name: String,
    pub activity_id: String,
    /// True once an admin mapped it explicitly (false: the default `present`).
    pub mapped: bool,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
}

pub const DEFAULT_ACTIVITY: &str = "present";

/// One agent-state segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub start: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<DateTime<Utc>>,
    pub status_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl SegmentItem {
    /// The item of `segment` in its agent's partition `pk` ([`segment_pk`]), keyed by its start.
    pub fn of(pk: String, segment: &acd_domain::AgentSegment) -> Self {
        SegmentItem {
            pk,
            sk: segment_sk(segment.start),
            start: segment.start,
            end: segment.end,
            status_id: segment.status_id.clone(),
            reason: segment.reason.clone(),
        }
    }
}

/// Longest agent-state segment the queries look back for: a segment that started up to this long before `from`
/// is still found by a range query that starts at `from - MAX_SEGMENT_HOURS`.
pub const MAX_SEGMENT_HOURS: i64 = 24;
