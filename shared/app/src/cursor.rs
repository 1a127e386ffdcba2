//! Opaque pagination cursors: base64url of the JSON of the last item's sort key. Decoding checks the shape, so
//! a malformed or tampered cursor is a 400 naming the parameter, and a cursor never carries a tenant or a
//! partition key (those always come from the request's credentials).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde::de::DeserializeOwned;

use acd_domain::FieldErrors;

use crate::error::ApiError;

pub fn encode<T: Serialize>(key: &T) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(key).expect("cursor keys serialize"))
}

pub fn decode<T: DeserializeOwned>(cursor: &str, parameter: &str) -> Result<T, ApiError> {
    let bad = || {
        ApiError::Validation(FieldErrors::single(parameter, "invalid_value", "is not a cursor returned by this API"))
    };
    if cursor.len() > 2048 {
        return Err(bad());
    }
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    serde_json::from_slice(&bytes).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;
    use acd_domain::IntegrationId;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let id = IntegrationId::new();
        assert_eq!(decode::<IntegrationId>(&encode(&id), "cursor").unwrap(), id);
        for bad in ["", "!!!", "bm90LWpzb24", &encode(&"not-a-uuid")] {
            assert!(matches!(decode::<IntegrationId>(bad, "cursor"), Err(ApiError::Validation(_))), "{bad}");
        }
    }
}
