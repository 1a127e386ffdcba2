//! `Idempotency-Key` on `POST /integrations`: a client that retries a create (after a timeout, a lost answer) with
//! the same key and the same body gets the first answer again — the same 201, id and body — instead of a 409 or a
//! second integration.
//!
//! - Keys are per tenant, 1–255 visible ASCII characters, and expire [`KEY_TTL`] after first use.
//! - The key is claimed before the create runs (a conditional put) with a lease longer than a create can take
//!   ([`LEASE`]); a retry while the first request still runs gets 409 `idempotency-request-in-progress`.
//! - Only a success (201) is remembered. A failed create changed nothing and releases the key, so a retry runs again.
//! - The same key with another body (or another route) is 422 `idempotency-key-reused`. The body's fingerprint is a
//!   SHA-256 of its canonical JSON without the secret members (`password`, `client_secret`): no hash of a secret is
//!   stored, so a retry that only changes the secret replays the first answer.
//!
//! The other POSTs (`pause`, `resume`, `import`, `test-connection`) create nothing and are idempotent by nature;
//! they ignore the header.

use std::time::Duration;

use chrono::Utc;
use lambda_http::{Body, Request, Response};
use serde_json::Value;
use sha2::{Digest, Sha256};

use acd_domain::{FieldErrors, TenantId};

use crate::error::ApiError;
use crate::ports::{Claim, IdempotencyRecord, IdempotencyStore, StoreError, StoredResponse};

/// The request header.
pub const HEADER: &str = "idempotency-key";
/// Longest key.
pub const MAX_KEY_CHARS: usize = 255;
/// How long a key is remembered.
pub const KEY_TTL: chrono::Duration = chrono::Duration::hours(24);
/// How long a claimed key is held for a request that runs under it: longer than a create's whole budget
/// ([`crate::integrations::CreateBudgets::total`]) and than the function's 29 s timeout.
pub const LEASE: chrono::Duration = chrono::Duration::seconds(60);
/// Bound of each idempotency-store call.
pub const STORE_TIMEOUT: Duration = Duration::from_secs(2);

/// The request's `Idempotency-Key`, if any: 1–255 visible ASCII characters (`!` to `~`), else a 400 naming the
/// header.
pub fn key(request: &Request) -> Result<Option<String>, ApiError> {
    let Some(value) = request.headers().get(HEADER) else { return Ok(None) };
    let valid = value
        .to_str()
        .ok()
        .filter(|k| !k.is_empty() && k.len() <= MAX_KEY_CHARS && k.bytes().all(|b| b.is_ascii_graphic()));
    match valid {
        Some(k) => Ok(Some(k.to_owned())),
        None => Err(FieldErrors::single(
            "Idempotency-Key",
            "invalid_value",
            format!("must be 1 to {MAX_KEY_CHARS} visible ASCII characters (e.g. a UUID)"),
        )
        .into()),
    }
}

/// The fingerprint of a request: operation and canonical body, secret members left out.
pub fn fingerprint(operation: &str, body: &Value) -> String {
    let mut hasher = Sha256::new();
    hasher.update(operation.as_bytes());
    hasher.update([0]);
    hasher.update(canonical(body, At::Root).as_bytes());
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

const SECRET_MEMBERS: [&str; 2] = ["password", "client_secret"];

/// Where a value sits in the body: the secret members are left out of `/credentials` only.
#[derive(Clone, Copy, PartialEq)]
enum At {
    Root,
    Credentials,
    Elsewhere,
}

/// JSON with object members in key order; secret members of `credentials` are left out.
fn canonical(value: &Value, at: At) -> String {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let members: Vec<String> = keys
                .into_iter()
                .filter(|k| !(at == At::Credentials && SECRET_MEMBERS.contains(&k.as_str())))
                .map(|k| {
                    let inner = if at == At::Root && k == "credentials" { At::Credentials } else { At::Elsewhere };
                    format!("{}:{}", Value::String(k.clone()), canonical(&map[k], inner))
                })
                .collect();
            format!("{{{}}}", members.join(","))
        }
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(|v| canonical(v, At::Elsewhere)).collect();
            format!("[{}]", items.join(","))
        }
        other => other.to_string(),
    }
}

async fn bounded<T>(what: &str, f: impl Future<Output = Result<T, StoreError>>) -> Result<T, StoreError> {
    tokio::time::timeout(STORE_TIMEOUT, f)
        .await
        .unwrap_or_else(|_| Err(StoreError::Backend(format!("{what}: no answer within {STORE_TIMEOUT:?}"))))
}

/// Runs `create` at most once per tenant and key: claims the key, runs it, and remembers a 201 (or releases the key
/// on failure); a repeated request gets the remembered answer (header `Idempotent-Replayed: true`).
pub async fn once<F>(
    store: &dyn IdempotencyStore,
    tenant: &TenantId,
    key: &str,
    operation: &str,
    body: &Value,
    create: F,
) -> Result<Response<Body>, ApiError>
where
    F: Future<Output = Result<Response<Body>, ApiError>>,
{
    let now = Utc::now();
    let claim = IdempotencyRecord {
        operation: operation.to_owned(),
        fingerprint: fingerprint(operation, body),
        token: uuid::Uuid::new_v4().to_string(),
        response: None,
        lease_until: now + LEASE,
        expires_at: now + KEY_TTL,
    };
    let claimed = match bounded("claiming the idempotency key", store.claim(tenant, key, &claim, now)).await {
        // Released between the claim and the read: try once more.
        Err(StoreError::Conflict) => {
            bounded("claiming the idempotency key", store.claim(tenant, key, &claim, now)).await
        }
        other => other,
    }?;
    if let Claim::Held(held) = claimed {
        if held.operation != claim.operation || held.fingerprint != claim.fingerprint {
            return Err(ApiError::IdempotencyKeyReused);
        }
        return match held.response {
            Some(stored) => Ok(replay(&stored)),
            None => Err(ApiError::IdempotencyInProgress),
        };
    }
    match create.await {
        Ok(response) => {
            let stored = StoredResponse {
                status: response.status().as_u16(),
                body: match response.body() {
                    Body::Text(t) => t.clone(),
                    Body::Binary(b) => String::from_utf8_lossy(b).into_owned(),
                    _ => String::new(),
                },
                location: response.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_owned),
            };
            if let Err(e) =
                bounded("storing the idempotent answer", store.complete(tenant, key, &claim.token, &stored)).await
            {
                // The create happened: answer it. A retry gets 409 in progress until the lease ends, then runs
                // again and meets the taken name.
                tracing::error!(tenant = %tenant, error = %e, "storing the answer of an idempotency key failed");
            }
            Ok(response)
        }
        Err(error) => {
            if let Err(e) = bounded("releasing the idempotency key", store.release(tenant, key, &claim.token)).await {
                tracing::error!(tenant = %tenant, error = %e, "releasing an idempotency key failed; it frees itself when its lease ends");
            }
            Err(error)
        }
    }
}

fn replay(stored: &StoredResponse) -> Response<Body> {
    let mut builder = Response::builder()
        .status(stored.status)
        .header("content-type", "application/json")
        .header("cache-control", "no-store")
        .header("idempotent-replayed", "true");
    if let Some(location) = &stored.location {
        builder = builder.header("location", location.as_str());
    }
    builder.body(Body::Text(stored.body.clone())).expect("stored responses are valid")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fingerprints_ignore_member_order_and_secrets_but_not_other_changes() {
        let a = json!({"name": "A", "type": "five9", "credentials": {"username": "u", "password": "p1"}});
        let b = json!({"credentials": {"password": "p2", "username": "u"}, "type": "five9", "name": "A"});
        assert_eq!(fingerprint("POST /integrations", &a), fingerprint("POST /integrations", &b));
        let c = json!({"name": "B", "type": "five9", "credentials": {"username": "u", "password": "p1"}});
        assert_ne!(fingerprint("POST /integrations", &a), fingerprint("POST /integrations", &c));
        assert_ne!(fingerprint("POST /integrations", &a), fingerprint("POST /other", &a));
        // A member named like a secret elsewhere still counts.
        let d = json!({"name": "A", "settings": {"password": 1}});
        let e = json!({"name": "A", "settings": {"password": 2}});
        assert_ne!(fingerprint("x", &d), fingerprint("x", &e));
        assert!(!canonical(&a, At::Root).contains("p1"));
    }
}
