//! Integrations: their types, settings and names.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::credentials::{CredentialHints, SecretVersion};
use crate::ids::{IntegrationId, TenantId};
use crate::status::{IntegrationState, IntegrationStatus};

/// The type of an integration: the id of a vendor of the registry (`acd_connectors::VENDORS`), e.g. `"five9"`.
/// It is the API's and the table's `type` string. The domain treats it as opaque: the API edge parses it against
/// the registry; a stored record's type is trusted as written.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IntegrationType(Cow<'static, str>);

impl IntegrationType {
    /// A vendor's id (vendors declare theirs as a constant).
    pub const fn new(id: &'static str) -> Self {
        Self(Cow::Borrowed(id))
    }
    /// A type as read from a stored record or secret (trusted; API input is parsed against the registry).
    pub fn from_stored(raw: &str) -> Self {
        Self(Cow::Owned(raw.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for IntegrationType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for IntegrationType {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for IntegrationType {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(|s| Self(Cow::Owned(s)))
    }
}

/// Settings of an integration: what every vendor shares (`history_days`) plus the vendor's own fields, kept as the
/// JSON object its vendor module validated (and reads back into its own settings type). Stored and shown as one
/// flat object: `{"region": "us", …, "history_days": 30}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// Days of history the first import back-fills.
    pub history_days: u32,
    /// How often a second schedule imports agent states only (absent: off, the 15-minute import alone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_state_cadence: Option<AgentStateCadence>,
    /// The vendor's own settings (never `history_days`).
    #[serde(flatten)]
    pub vendor: Map<String, Value>,
}

impl Settings {
    /// Settings with the shared fields at their defaults except `history_days` (no agent-states pass).
    pub fn new(history_days: u32, vendor: Map<String, Value>) -> Self {
        Self { history_days, agent_state_cadence: None, vendor }
    }
    pub fn history_days(&self) -> u32 {
        self.history_days
    }
}

/// The cadence of an integration's agent-states pass (`agent_state_cadence`): every 1, 2, 3, 5, 10 or 15 minutes,
/// written `"1m"` … `"15m"`. `"off"` is the API's word for none (stored and shown as absent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AgentStateCadence(u8);

impl AgentStateCadence {
    /// The minutes a cadence may have.
    pub const MINUTES: [u8; 6] = [1, 2, 3, 5, 10, 15];
    /// The API's values, `"off"` first.
    pub const VALUES: [&'static str; 7] = ["off", "1m", "2m", "3m", "5m", "10m", "15m"];

    pub fn minutes(self) -> u32 {
        u32::from(self.0)
    }

    /// `"5m"` → every five minutes; `"off"` → `Ok(None)`; anything else is not a cadence.
    pub fn parse(raw: &str) -> Result<Option<Self>, String> {
        if raw == "off" {
            return Ok(None);
        }
        raw.strip_suffix('m')
            .and_then(|n| n.parse::<u8>().ok())
            .filter(|n| Self::MINUTES.contains(n) && raw == format!("{n}m"))
            .map(|n| Some(Self(n)))
            .ok_or_else(|| format!("must be one of: {}", Self::VALUES.join(", ")))
    }
}

impl TryFrom<String> for AgentStateCadence {
    type Error = String;
    fn try_from(raw: String) -> Result<Self, String> {
        Self::parse(&raw)?.ok_or_else(|| "\"off\" is stored as an absent cadence".to_owned())
    }
}

impl From<AgentStateCadence> for String {
    fn from(c: AgentStateCadence) -> String {
        format!("{}m", c.0)
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
    /// The version of the secret whose credentials `credential_hints` describe, the one the import reads. Absent on
    /// records written before versions were named (and on push integrations, which have no secret): the import
    /// then reads the secret's current version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_version: Option<SecretVersion>,
    pub status: IntegrationStatus,
    /// When the integration started failing: the end of the first failed run after a run that did not fail (for a
    /// push integration, the silence watch that first found it silent). Kept while it goes on failing, for any
    /// reason; absent while it is not failing (a run that did not fail, a push of data, a pause or a resume removes
    /// it) and on records written before it existed. The `FailingFor` metric counts from it. Stored next to
    /// `status`, not in it: the API does not show it (its `Status` schema is closed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Optimistic-concurrency version, bumped on every change of the record.
    pub version: u64,
}

impl Integration {
    /// Its [`Self::failing_since`] once `next` replaces its status at `at`: none unless `next` is failing; `at` when
    /// it starts failing; the stored start while it goes on failing (for another reason too). A record that is
    /// failing without one was written before the field existed: its failure counts from `legacy` (the caller's
    /// evidence of when it began, never later than `at`), else from `at`.
    pub fn failing_since_after(
        &self,
        next: &IntegrationStatus,
        at: DateTime<Utc>,
        legacy: Option<DateTime<Utc>>,
    ) -> Option<DateTime<Utc>> {
        if next.state != IntegrationState::Failing {
            return None;
        }
        if self.status.state != IntegrationState::Failing {
            return Some(at);
        }
        Some(self.failing_since.or(legacy.map(|l| l.min(at))).unwrap_or(at))
    }
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
    fn settings_are_one_flat_object_and_types_a_plain_string() {
        let raw = serde_json::json!({"region": "us", "skill_report": {"folder": "f", "name": "n"}, "history_days": 14});
        let settings: Settings = serde_json::from_value(raw.clone()).unwrap();
        assert_eq!(settings.history_days, 14);
        assert_eq!(settings.vendor.len(), 2);
        assert_eq!(settings.agent_state_cadence, None);
        assert_eq!(serde_json::to_value(&settings).unwrap(), raw);
        let with: Settings =
            serde_json::from_value(serde_json::json!({"history_days": 3, "agent_state_cadence": "5m"})).unwrap();
        assert_eq!(with.agent_state_cadence.map(AgentStateCadence::minutes), Some(5));
        assert!(with.vendor.is_empty(), "the cadence is a shared field, not the vendor's");
        assert_eq!(serde_json::to_value(&with).unwrap()["agent_state_cadence"], "5m");
        for bad in ["4m", "0m", "05m", "1", "16m", "off"] {
            assert!(serde_json::from_value::<AgentStateCadence>(serde_json::json!(bad)).is_err(), "{bad}");
        }
        assert_eq!(AgentStateCadence::parse("off"), Ok(None));
        let kind: IntegrationType = serde_json::from_value(serde_json::json!("five9")).unwrap();
        assert_eq!(kind, IntegrationType::new("five9"));
        assert_eq!(serde_json::to_value(&kind).unwrap(), "five9");
    }
}
