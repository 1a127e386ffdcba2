//! Identifiers. Tenant ids come from a trusted token claim but still end up in keys and secret names, so they are
//! checked against a conservative alphabet.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The tenant (customer account) every record belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TenantId(String);

/// Why a tenant id was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("tenant id must be 1 to 128 characters of A-Z, a-z, 0-9, '-', '_' or '.'")]
pub struct InvalidTenantId;

impl TenantId {
    pub fn parse(raw: &str) -> Result<Self, InvalidTenantId> {
        let ok = !raw.is_empty()
            && raw.len() <= 128
            && raw.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if ok { Ok(Self(raw.to_owned())) } else { Err(InvalidTenantId) }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for TenantId {
    type Error = InvalidTenantId;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}
impl From<TenantId> for String {
    fn from(value: TenantId) -> Self {
        value.0
    }
}
impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

macro_rules! uuid_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new, time-ordered (UUID v7) id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
            pub fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }
            pub fn as_uuid(&self) -> &Uuid {
                &self.0
            }
        }
        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }
        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }
    };
}

uuid_id!(
    /// One integration (a connection to one ACD account).
    IntegrationId
);
uuid_id!(
    /// One import run.
    RunId
);

/// Stable identity of a queue: the integration it belongs to plus the ACD's own identifier of the queue.
///
/// Its text form is `{integration_id}.{base64url(external_id)}`: stable across renames (the external id is the
/// vendor's id, not the name), reversible without a lookup, and safe in URLs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QueueId {
    pub integration_id: IntegrationId,
    pub external_id: String,
}

impl QueueId {
    /// Longest queue id text in bytes: the queue listing's index sort key is `{lower-cased name}#{queue id}`
    /// (at most 1,024 bytes), so no stored queue has a longer one.
    pub const MAX_TEXT_BYTES: usize = 1022;

    pub fn new(integration_id: IntegrationId, external_id: impl Into<String>) -> Self {
        Self { integration_id, external_id: external_id.into() }
    }
}

impl fmt::Display for QueueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.integration_id, URL_SAFE_NO_PAD.encode(self.external_id.as_bytes()))
    }
}

/// A queue id that is not of the form `{uuid}.{base64url}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed queue id")]
pub struct InvalidQueueId;

impl FromStr for QueueId {
    type Err = InvalidQueueId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() > Self::MAX_TEXT_BYTES {
            return Err(InvalidQueueId);
        }
        let (integration, external) = s.split_once('.').ok_or(InvalidQueueId)?;
        let integration_id = integration.parse().map_err(|_| InvalidQueueId)?;
        let bytes = URL_SAFE_NO_PAD.decode(external).map_err(|_| InvalidQueueId)?;
        let external_id = String::from_utf8(bytes).map_err(|_| InvalidQueueId)?;
        if external_id.is_empty() {
            return Err(InvalidQueueId);
        }
        Ok(Self { integration_id, external_id })
    }
}

impl Serialize for QueueId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}
impl<'de> Deserialize<'de> for QueueId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        raw.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_ids_are_restricted_to_a_safe_alphabet() {
        assert!(TenantId::parse("acme-corp_1.eu").is_ok());
        for bad in ["", "a/b", "a b", "a#b", "ü", &"x".repeat(129)] {
            assert_eq!(TenantId::parse(bad), Err(InvalidTenantId), "{bad:?}");
        }
    }

    #[test]
    fn queue_ids_round_trip_with_any_external_id() {
        let integration = IntegrationId::new();
        for external in ["Sales & Support, \"EU\"", "äöü/💡", "1234", "a.b.c"] {
            let id = QueueId::new(integration, external);
            let text = id.to_string();
            assert!(text.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)), "{text}");
            assert_eq!(text.parse::<QueueId>().unwrap(), id);
        }
    }

    #[test]
    fn malformed_queue_ids_are_refused() {
        let integration = IntegrationId::new();
        let too_long = format!("{integration}.{}", "YWFh".repeat(250));
        for bad in ["", "nodot", "not-a-uuid.YQ", &format!("{integration}."), &format!("{integration}.***"), &too_long]
        {
            assert_eq!(bad.parse::<QueueId>(), Err(InvalidQueueId), "{bad:?}");
        }
    }
}
