//! Ingest keys: the credential of a `push` integration's sender.
//!
//! Format: `acdpush_{base64url(tenant id)}.{integration id, 32 hex}.{key id, 16 hex}.{secret, 43 base64url}`.
//! - the prefix `acdpush_` makes a leaked key recognisable (secret scanners, logs);
//! - tenant, integration and key id locate the key's item with one `GetItem` (PK `T#{tenant}#I#{integration}`,
//!   SK `IKEY#{key id}`): no Scan, and the tenant leads the partition key like everywhere else;
//! - the secret is 256 random bits from the thread-local CSPRNG; only its SHA-256 is stored, compared in
//!   constant time. The whole key is a [`SecretString`]: it never prints and never serialises.

use acd_domain::{IntegrationId, TenantId};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngExt as _;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

pub const PREFIX: &str = "acdpush_";
/// Longest key accepted (a 128-byte tenant id base64-encodes to 171 characters; the rest is 96).
pub const MAX_KEY_CHARS: usize = 300;

/// The public part of a key: where its item lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyLocator {
    pub tenant: TenantId,
    pub integration: IntegrationId,
    pub key_id: String,
}

/// A newly issued key: its locator, the full key (shown once) and the hash to store.
#[derive(Debug)]
pub struct IssuedKey {
    pub locator: KeyLocator,
    pub key: SecretString,
    pub secret_hash: String,
}

/// A presented key split into its locator and the hash of its secret part.
#[derive(Debug)]
pub struct PresentedKey {
    pub locator: KeyLocator,
    pub secret_hash: String,
}

fn hash(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Issues a new key for an integration.
pub fn issue(tenant: &TenantId, integration: IntegrationId) -> IssuedKey {
    let mut rng = rand::rng();
    let mut id_bytes = [0u8; 8];
    rng.fill(&mut id_bytes);
    let mut secret_bytes = [0u8; 32];
    rng.fill(&mut secret_bytes);
    let key_id: String = id_bytes.iter().map(|b| format!("{b:02x}")).collect();
    let secret = URL_SAFE_NO_PAD.encode(secret_bytes);
    let key = format!(
        "{PREFIX}{}.{}.{key_id}.{secret}",
        URL_SAFE_NO_PAD.encode(tenant.as_str()),
        integration.as_uuid().simple()
    );
    IssuedKey {
        locator: KeyLocator { tenant: tenant.clone(), integration, key_id },
        secret_hash: hash(&secret),
        key: SecretString::from(key),
    }
}

/// Splits a presented key; `None` when it cannot be one of ours (the caller answers 401 without a lookup).
pub fn parse(raw: &SecretString) -> Option<PresentedKey> {
    let raw = raw.expose_secret().trim();
    if raw.len() > MAX_KEY_CHARS {
        return None;
    }
    let rest = raw.strip_prefix(PREFIX)?;
    let mut parts = rest.split('.');
    let (tenant, integration, key_id, secret) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let tenant = String::from_utf8(URL_SAFE_NO_PAD.decode(tenant).ok()?).ok()?;
    let tenant = TenantId::parse(&tenant).ok()?;
    if integration.len() != 32 {
        return None;
    }
    let integration = IntegrationId::from_uuid(uuid::Uuid::try_parse(integration).ok()?);
    let hex16 = key_id.len() == 16 && key_id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    let secret_ok = secret.len() == 43 && URL_SAFE_NO_PAD.decode(secret).is_ok_and(|s| s.len() == 32);
    if !hex16 || !secret_ok {
        return None;
    }
    Some(PresentedKey {
        locator: KeyLocator { tenant, integration, key_id: key_id.to_owned() },
        secret_hash: hash(secret),
    })
}

/// Constant-time comparison of two hashes (no early exit on the first differing byte).
pub fn hashes_match(stored: &str, presented: &str) -> bool {
    let (a, b) = (stored.as_bytes(), presented.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_issued_key_parses_back_to_its_locator_and_hash() {
        let tenant = TenantId::parse("acme-corp.eu_1").unwrap();
        let integration = IntegrationId::new();
        let issued = issue(&tenant, integration);
        let text = issued.key.expose_secret();
        assert!(text.starts_with(PREFIX));
        assert!(!format!("{issued:?}").contains(text), "the key never prints");
        let presented = parse(&issued.key).expect("parses");
        assert_eq!(presented.locator, issued.locator);
        assert!(hashes_match(&issued.secret_hash, &presented.secret_hash));
        assert_eq!(issued.secret_hash.len(), 64);
        assert!(!issued.secret_hash.contains(text.rsplit('.').next().unwrap()), "only a hash is kept");
        // Two keys never share a secret or an id.
        let other = issue(&tenant, integration);
        assert_ne!(other.locator.key_id, issued.locator.key_id);
        assert_ne!(other.secret_hash, issued.secret_hash);
    }

    #[test]
    fn anything_else_is_not_a_key() {
        let good = issue(&TenantId::parse("t1").unwrap(), IntegrationId::new());
        let text = good.key.expose_secret().to_owned();
        let mut bad = vec![
            String::new(),
            "Bearer x".into(),
            text.replacen(PREFIX, "acdpull_", 1),
            format!("{text}.extra"),
            text[..text.len() - 1].to_owned(),
            "x".repeat(400),
        ];
        // A tenant that is not a valid tenant id.
        let parts: Vec<&str> = text.trim_start_matches(PREFIX).split('.').collect();
        bad.push(format!("{PREFIX}{}.{}.{}.{}", URL_SAFE_NO_PAD.encode("a b"), parts[1], parts[2], parts[3]));
        bad.push(format!("{PREFIX}{}.{}.{}.{}", parts[0], "zz", parts[2], parts[3]));
        bad.push(format!("{PREFIX}{}.{}.{}.{}", parts[0], parts[1], "ABCDEF0123456789", parts[3]));
        for b in bad {
            assert!(parse(&SecretString::from(b.clone())).is_none(), "{b}");
        }
        // A tampered secret parses but its hash differs.
        let mut tampered = text.clone();
        let last = tampered.pop().unwrap();
        tampered.push(if last == 'A' { 'B' } else { 'A' });
        if let Some(p) = parse(&SecretString::from(tampered)) {
            assert!(!hashes_match(&good.secret_hash, &p.secret_hash));
        }
    }
}
