//! Integrations: their types, settings and names.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::credentials::CredentialHints;
use crate::ids::{IntegrationId, TenantId};
use crate::status::IntegrationStatus;

/// The ACDs this back end can connect to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntegrationType {
    Five9,
    GenesysCloud,
}

impl IntegrationType {
    pub const ALL: [IntegrationType; 2] = [IntegrationType::Five9, IntegrationType::GenesysCloud];

    pub fn as_str(self) -> &'static str {
        match self {
            IntegrationType::Five9 => "five9",
            IntegrationType::GenesysCloud => "genesys_cloud",
        }
    }
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == raw)
    }
    pub fn display_name(self) -> &'static str {
        match self {
            IntegrationType::Five9 => "Five9",
            IntegrationType::GenesysCloud => "Genesys Cloud",
        }
    }
}

/// Five9 data centers. The user picks one of these; the host comes from the connector's region table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Five9Region {
    Us,
    Ca,
    Uk,
    Eu,
    In,
}

impl Five9Region {
    pub const ALL: [Five9Region; 5] = [Self::Us, Self::Ca, Self::Uk, Self::Eu, Self::In];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Us => "us",
            Self::Ca => "ca",
            Self::Uk => "uk",
            Self::Eu => "eu",
            Self::In => "in",
        }
    }
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == raw)
    }
    /// The time zone Five9 domains of this data center usually report in; the user can override it.
    /// (US domains report in Pacific time; the others are assumptions documented in the README.)
    pub fn default_time_zone(self) -> chrono_tz::Tz {
        match self {
            Self::Us => chrono_tz::America::Los_Angeles,
            Self::Ca => chrono_tz::America::Toronto,
            Self::Uk => chrono_tz::Europe::London,
            Self::Eu => chrono_tz::Europe::Berlin,
            Self::In => chrono_tz::Asia::Kolkata,
        }
    }
}

/// Genesys Cloud regions (AWS region codes, as Genesys names them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum GenesysRegion {
    #[serde(rename = "us_east_1")]
    UsEast1,
    #[serde(rename = "eu_west_1")]
    EuWest1,
    #[serde(rename = "ap_southeast_2")]
    ApSoutheast2,
    #[serde(rename = "ap_northeast_1")]
    ApNortheast1,
    #[serde(rename = "eu_central_1")]
    EuCentral1,
    #[serde(rename = "us_west_2")]
    UsWest2,
    #[serde(rename = "ca_central_1")]
    CaCentral1,
    #[serde(rename = "ap_northeast_2")]
    ApNortheast2,
    #[serde(rename = "eu_west_2")]
    EuWest2,
    #[serde(rename = "ap_south_1")]
    ApSouth1,
    #[serde(rename = "us_east_2")]
    UsEast2,
    #[serde(rename = "sa_east_1")]
    SaEast1,
    #[serde(rename = "me_central_1")]
    MeCentral1,
    #[serde(rename = "ap_northeast_3")]
    ApNortheast3,
    #[serde(rename = "eu_central_2")]
    EuCentral2,
    #[serde(rename = "mx_central_1")]
    MxCentral1,
    #[serde(rename = "ap_southeast_1")]
    ApSoutheast1,
}

impl GenesysRegion {
    pub const ALL: [GenesysRegion; 17] = [
        Self::UsEast1,
        Self::EuWest1,
        Self::ApSoutheast2,
        Self::ApNortheast1,
        Self::EuCentral1,
        Self::UsWest2,
        Self::CaCentral1,
        Self::ApNortheast2,
        Self::EuWest2,
        Self::ApSouth1,
        Self::UsEast2,
        Self::SaEast1,
        Self::MeCentral1,
        Self::ApNortheast3,
        Self::EuCentral2,
        Self::MxCentral1,
        Self::ApSoutheast1,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::UsEast1 => "us_east_1",
            Self::EuWest1 => "eu_west_1",
            Self::ApSoutheast2 => "ap_southeast_2",
            Self::ApNortheast1 => "ap_northeast_1",
            Self::EuCentral1 => "eu_central_1",
            Self::UsWest2 => "us_west_2",
            Self::CaCentral1 => "ca_central_1",
            Self::ApNortheast2 => "ap_northeast_2",
            Self::EuWest2 => "eu_west_2",
            Self::ApSouth1 => "ap_south_1",
            Self::UsEast2 => "us_east_2",
            Self::SaEast1 => "sa_east_1",
            Self::MeCentral1 => "me_central_1",
            Self::ApNortheast3 => "ap_northeast_3",
            Self::EuCentral2 => "eu_central_2",
            Self::MxCentral1 => "mx_central_1",
            Self::ApSoutheast1 => "ap_southeast_1",
        }
    }
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == raw)
    }
}

/// How Five9 calls are grouped into queues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Five9Grouping {
    Campaign,
    Skill,
}

impl Five9Grouping {
    pub const ALL: [Five9Grouping; 2] = [Self::Campaign, Self::Skill];
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Campaign => "campaign",
            Self::Skill => "skill",
        }
    }
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.as_str() == raw)
    }
}

/// The customer's copy of the Call Log report that carries a SKILL column (needed when grouping by skill).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkillReport {
    pub folder: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Five9Settings {
    pub region: Five9Region,
    pub grouping: Five9Grouping,
    /// IANA time zone of the Five9 domain's reports.
    pub time_zone: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skill_report: Option<SkillReport>,
    pub history_days: u32,
}

impl Five9Settings {
    /// The report time zone. Validation guarantees the stored name parses; a corrupted record falls back to the
    /// region's default rather than failing.
    pub fn tz(&self) -> chrono_tz::Tz {
        self.time_zone.parse().unwrap_or_else(|_| self.region.default_time_zone())
    }
}

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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenesysSettings {
    pub region: GenesysRegion,
    pub detailed_on_queue_statuses: bool,
    #[serde(default)]
    pub agent_id: GenesysAgentId,
    pub history_days: u32,
}

/// Settings of an integration, by type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Settings {
    Five9(Five9Settings),
    GenesysCloud(GenesysSettings),
}

impl Settings {
    pub fn integration_type(&self) -> IntegrationType {
        match self {
            Settings::Five9(_) => IntegrationType::Five9,
            Settings::GenesysCloud(_) => IntegrationType::GenesysCloud,
        }
    }
    pub fn history_days(&self) -> u32 {
        match self {
            Settings::Five9(s) => s.history_days,
            Settings::GenesysCloud(s) => s.history_days,
        }
    }
}

/// A validated integration name: trimmed, 1 to [`IntegrationName::MAX_CHARS`] characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IntegrationName(String);

impl IntegrationName {
    pub const MAX_CHARS: usize = 100;

    /// Checks and normalises a name (surrounding white space is dropped).
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err("must not be empty");
        }
        if trimmed.chars().count() > Self::MAX_CHARS {
            return Err("must be at most 100 characters");
        }
        if trimmed.chars().any(char::is_control) {
            return Err("must not contain control characters");
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key under which names are unique within a tenant: case-insensitive (Unicode lower case) and with
    /// runs of inner white space folded to one space, so "Five9  Sales" and "five9 sales" collide.
    pub fn uniqueness_key(&self) -> String {
        self.0.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
    }
}

/// An integration as stored and shown (never with secret material).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Integration {
    pub id: IntegrationId,
    pub tenant_id: TenantId,
    pub name: IntegrationName,
    #[serde(rename = "type")]
    pub kind: IntegrationType,
    pub settings: Settings,
    pub credential_hints: CredentialHints,
    pub status: IntegrationStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Optimistic-concurrency version, bumped on every change of the record.
    pub version: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_keyed_case_insensitively() {
        let a = IntegrationName::parse("  Five9 – Customer Support ").unwrap();
        assert_eq!(a.as_str(), "Five9 – Customer Support");
        let b = IntegrationName::parse("FIVE9 –  customer SUPPORT").unwrap();
        assert_eq!(a.uniqueness_key(), b.uniqueness_key());
        assert_ne!(a.uniqueness_key(), IntegrationName::parse("Five9 Support").unwrap().uniqueness_key());
    }

    #[test]
    fn names_are_refused_when_empty_too_long_or_with_control_characters() {
        assert!(IntegrationName::parse("   ").is_err());
        assert!(IntegrationName::parse(&"é".repeat(101)).is_err());
        assert!(IntegrationName::parse(&"é".repeat(100)).is_ok());
        assert!(IntegrationName::parse("a\u{0}b").is_err());
        assert!(IntegrationName::parse("a\nb").is_err());
    }

    #[test]
    fn region_tables_are_complete_and_round_trip() {
        assert_eq!(GenesysRegion::ALL.len(), 17);
        for r in GenesysRegion::ALL {
            assert_eq!(GenesysRegion::parse(r.as_str()), Some(r));
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
        }
        for r in Five9Region::ALL {
            assert_eq!(Five9Region::parse(r.as_str()), Some(r));
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
        }
    }
}
