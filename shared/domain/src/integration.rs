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
    /// Any ACD that pushes its data to the ingest API (no connector, no credentials; see `acd_app::ingest`).
    Push,
}

impl IntegrationType {
    pub const ALL: [IntegrationType; 2] = [IntegrationType::Five9, IntegrationType::GenesysCloud];

    pub fn as_str(self) -> &'static str {
        match self {
            IntegrationType::Five9 => "five9",
            IntegrationType::GenesysCloud => "genesys_cloud",
            IntegrationType::Push => "push",
        }
    }
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == raw)
    }
    pub fn display_name(self) -> &'static str {
        match self {
            IntegrationType::Five9 => "Five9",
            IntegrationType::GenesysCloud => "Genesys Cloud",
            IntegrationType::Push => "Any ACD (push API)",
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

/// Settings of a `push` integration (created by `acd_app::ingest`, not by the vendor create path).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushSettings {
    /// How far back the sender may send intervals it declares complete (informational for the front end).
    pub history_days: u32,
    /// After this many minutes without a push the integration is `failing` with reason `no_data`.
    pub no_data_after_minutes: u32,
    /// The channels the sender will push queues for (informational; a queue of another channel is accepted).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub channels: Vec<crate::acd::Channel>,
}

/// Settings of an integration, by type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Settings {
    Five9(Five9Settings),
    GenesysCloud(GenesysSettings),
    Push(PushSettings),
}

impl Settings {
    pub fn integration_type(&self) -> IntegrationType {
        match self {
            Settings::Five9(_) => IntegrationType::Five9,
            Settings::GenesysCloud(_) => IntegrationType::GenesysCloud,
            Settings::Push(_) => IntegrationType::Push,
        }
    }
    pub fn history_days(&self) -> u32 {
        match self {
            Settings::Five9(s) => s.history_days,
            Settings::GenesysCloud(s) => s.history_days,
            Settings::Push(s) => s.history_days,
        }
    }
}

/// A validated integration name: trimmed, 1 to [`IntegrationName::MAX_CHARS`] characters, no control characters
/// and no invisible format characters (Unicode category Cf: zero-width space and joiners, word joiner, byte-order
/// mark, bidi controls, soft hyphen…), which would let two names that read the same be different names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IntegrationName(String);

/// Why a name was refused: the message for the admin and whether it is a length problem (`too_long`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidName {
    pub message: &'static str,
    pub too_long: bool,
}

impl IntegrationName {
    pub const MAX_CHARS: usize = 100;
    /// Longest uniqueness key in UTF-8 bytes: it is part of the name reservation's sort key (`NAME#{key}`), which
    /// DynamoDB limits to 1,024 bytes. NFKC can expand a character (U+FDFA becomes 18), so 100 characters can
    /// exceed it.
    pub const MAX_KEY_BYTES: usize = 1000;

    /// Checks and normalises a name (surrounding white space is dropped).
    pub fn parse(raw: &str) -> Result<Self, InvalidName> {
        let bad = |message| InvalidName { message, too_long: false };
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(bad("must not be empty"));
        }
        if trimmed.chars().count() > Self::MAX_CHARS {
            return Err(InvalidName { message: "must be at most 100 characters", too_long: true });
        }
        if trimmed.chars().any(char::is_control) {
            return Err(bad("must not contain control characters"));
        }
        if trimmed.chars().any(is_format_char) {
            return Err(bad(
                "must not contain invisible formatting characters (zero-width spaces or joiners, bidi controls, \
                 soft hyphens, byte-order marks: Unicode category Cf)",
            ));
        }
        let name = Self(trimmed.to_owned());
        if name.uniqueness_key().len() > Self::MAX_KEY_BYTES {
            return Err(InvalidName {
                message: "is too long once normalised (NFKC expands some characters)",
                too_long: true,
            });
        }
        Ok(name)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key under which names are unique within a tenant: Unicode NFKC (full-width, ligature and other
    /// compatibility forms become their plain letters), lower case, NFKC again (lower-casing can denormalise), and
    /// runs of white space folded to one space — so "Five9  Sales", "five9 sales" and "Ｆｉｖｅ９ Ｓａｌｅｓ"
    /// collide.
    pub fn uniqueness_key(&self) -> String {
        use unicode_normalization::UnicodeNormalization as _;
        let folded: String = self.0.nfkc().collect::<String>().to_lowercase().nfkc().collect();
        folded.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    /// The key names were reserved under before NFKC normalisation (lower case, white space folded). A name whose
    /// legacy key differs from [`Self::uniqueness_key`] (only names with compatibility characters) may still be
    /// reserved under it: renames and deletes release both, creates check both.
    pub fn legacy_uniqueness_key(&self) -> String {
        self.0.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
    }
}

/// Unicode category Cf (format characters: invisible, they change how text renders or joins).
pub fn is_format_char(c: char) -> bool {
    use unicode_general_category::{GeneralCategory, get_general_category};
    get_general_category(c) == GeneralCategory::Format
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
    fn names_collide_after_nfkc_and_invisible_characters_are_refused() {
        let key = |n: &str| IntegrationName::parse(n).unwrap().uniqueness_key();
        assert_eq!(key("\u{FF33}\u{FF41}\u{FF4C}\u{FF45}\u{FF53}"), key("Sales"), "full-width");
        assert_eq!(key("\u{FB01}nance"), key("Finance"), "ligature fi");
        assert_eq!(key("Sales\u{3000}Team"), key("sales team"), "ideographic space");
        assert_eq!(key("Cafe\u{301}"), key("Caf\u{E9}"), "combining accent");
        assert_ne!(key("Sales"), key("Sale"));
        for invisible in
            ["Sa\u{200B}les", "Sa\u{200D}les", "\u{FEFF}Sales", "Sa\u{2060}les", "Sales\u{202E}", "Sa\u{AD}les"]
        {
            let err = IntegrationName::parse(invisible).unwrap_err();
            assert!(!err.too_long && err.message.contains("Cf"), "{invisible:?}");
        }
        // 100 characters that NFKC expands eighteen-fold do not fit a reservation key.
        assert!(IntegrationName::parse(&"\u{FDFA}".repeat(100)).unwrap_err().too_long);
        let plain = IntegrationName::parse("Five9 Sales").unwrap();
        assert_eq!(plain.legacy_uniqueness_key(), plain.uniqueness_key());
        let wide = IntegrationName::parse("\u{FF33}ales").unwrap();
        assert_ne!(wide.legacy_uniqueness_key(), wide.uniqueness_key());
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
