//! Opaque pagination cursors: base64url of the JSON of the last item's sort key and the fingerprint of the listing
//! it pages ([`Listing`]). Decoding checks both, so a malformed or tampered cursor, or one of another listing (another
//! integration, filter or range, which would skip that listing's items up to a position of another), is a 400 naming
//! the parameter. A cursor never carries a tenant or a partition key (those always come from the request's
//! credentials).

use acd_domain::{Channel, FieldErrors, IntegrationId};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::ApiError;

/// A listing a cursor pages: the route and every parameter that selects its items (not `limit`, which only sizes
/// the pages). Two requests page the same listing exactly when their `Listing`s are equal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listing<'a> {
    /// `GET /integrations`.
    Integrations,
    /// `GET /integrations/{id}/runs` (the id as the path has it).
    Runs { integration: &'a str },
    /// `GET /integrations/{id}/external-agents`.
    ExternalAgents { integration: &'a str, unmapped_only: bool },
    /// `GET /integrations/{id}/external-statuses`.
    ExternalStatuses { integration: &'a str, unmapped_only: bool },
    /// `GET /queues` (`needle`: the text filter as the search uses it).
    Queues {
        channel: Option<Channel>,
        integration: Option<IntegrationId>,
        include_inactive: bool,
        needle: Option<&'a str>,
    },
    /// `GET /agent-states`.
    AgentStates { from: DateTime<Utc>, to: DateTime<Utc>, employee: Option<&'a str> },
}

impl Listing<'_> {
    /// 64 bits of the SHA-256 of the listing's description: enough to tell listings apart (a cursor is no secret: a
    /// forged one can only page the caller's own data).
    fn fingerprint(&self) -> String {
        let digest = Sha256::digest(format!("{self:?}").as_bytes());
        digest[..8].iter().map(|b| format!("{b:02x}")).collect()
    }
}

#[derive(Serialize, Deserialize)]
struct Bound<T> {
    /// The listing's fingerprint.
    l: String,
    /// The position (the last item's sort key).
    k: T,
}

/// The cursor of the position `key` in `listing`.
pub fn encode<T: Serialize>(listing: &Listing<'_>, key: &T) -> String {
    let bound = Bound { l: listing.fingerprint(), k: key };
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&bound).expect("cursor keys serialize"))
}

/// The position of a cursor `encode` returned for the same `listing`; anything else is a 400 naming `parameter`.
pub fn decode<T: DeserializeOwned>(cursor: &str, parameter: &str, listing: &Listing<'_>) -> Result<T, ApiError> {
    let bad = || {
        ApiError::Validation(FieldErrors::single(
            parameter,
            "invalid_value",
            "is not a cursor returned by this API for this listing",
        ))
    };
    if cursor.len() > 2048 {
        return Err(bad());
    }
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let bound: Bound<T> = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    if bound.l != listing.fingerprint() {
        return Err(bad());
    }
    Ok(bound.k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let listing = Listing::Integrations;
        let id = IntegrationId::new();
        assert_eq!(decode::<IntegrationId>(&encode(&listing, &id), "cursor", &listing).unwrap(), id);
        let unbound = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&id).unwrap());
        for bad in ["", "!!!", "bm90LWpzb24", &encode(&listing, &"not-a-uuid"), &unbound] {
            assert!(matches!(decode::<IntegrationId>(bad, "cursor", &listing), Err(ApiError::Validation(_))), "{bad}");
        }
    }

    #[test]
    fn a_cursor_pages_only_the_listing_it_came_from() {
        let from: DateTime<Utc> = "2024-03-05T00:00:00Z".parse().unwrap();
        let day = chrono::Duration::days(1);
        let listings = [
            Listing::Integrations,
            Listing::Runs { integration: "a" },
            Listing::Runs { integration: "b" },
            Listing::ExternalAgents { integration: "a", unmapped_only: false },
            Listing::ExternalAgents { integration: "b", unmapped_only: false },
            Listing::ExternalAgents { integration: "a", unmapped_only: true },
            Listing::ExternalStatuses { integration: "a", unmapped_only: false },
            Listing::Queues { channel: None, integration: None, include_inactive: false, needle: None },
            Listing::Queues { channel: Some(Channel::Calls), integration: None, include_inactive: false, needle: None },
            Listing::Queues { channel: Some(Channel::Chats), integration: None, include_inactive: false, needle: None },
            Listing::Queues { channel: None, integration: None, include_inactive: true, needle: None },
            Listing::Queues { channel: None, integration: None, include_inactive: false, needle: Some("sales") },
            Listing::AgentStates { from, to: from + day, employee: None },
            Listing::AgentStates { from, to: from + day + day, employee: None },
            Listing::AgentStates { from, to: from + day, employee: Some("emp-1") },
        ];
        for (i, a) in listings.iter().enumerate() {
            let cursor = encode(a, &"agent-x");
            for (j, b) in listings.iter().enumerate() {
                let decoded = decode::<String>(&cursor, "cursor", b);
                assert_eq!(decoded.is_ok(), i == j, "{a:?} read as {b:?}");
            }
        }
    }
}
