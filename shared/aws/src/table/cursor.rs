//! The connector's cursor item ([`crate::items::CURSOR_SK`]): the cursor's JSON, zlib-compressed, in one binary
//! attribute ([`CURSOR_ATTR`]).
//!
//! The cursor is opaque to the import and can be hundreds of KB of JSON (Five9's agent states carried into the day,
//! `acd_connectors::five9`). Read strongly consistent at every run and written whenever it changes, it is billed by
//! its stored size; compressed, Five9's carried states take about a fifth (agent names and offsets repeat). A binary
//! attribute is also billed by exactly its length, where a DynamoDB map's size depends on how its numbers are
//! written, so what fits is known before the write ([`MAX_CURSOR_BYTES`]). zlib's checksum catches a damaged value.
//!
//! Items written before (the cursor as a DynamoDB map in the attribute [`MAP_CURSOR_ATTR`]) are still read.

use std::io::{Read, Write};

use acd_app::ports::StoreError;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use flate2::Compression;
use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;

use crate::dynamo::Item;
use crate::items::CURSOR_SK;

/// The attribute holding the cursor's JSON, zlib-compressed.
pub const CURSOR_ATTR: &str = "cursor_zlib";
/// The attribute of the earlier layout: the cursor as a DynamoDB map.
pub const MAP_CURSOR_ATTR: &str = "cursor";
/// The most compressed bytes a cursor may take: DynamoDB's item limit is 400 KB (409,600 bytes, attribute names
/// and values), of which the key takes at most ≈ 100 bytes here.
pub const MAX_CURSOR_BYTES: usize = 400_000;
/// The most bytes a stored cursor may inflate to (a damaged or foreign value is refused rather than read on).
const MAX_INFLATED_BYTES: u64 = 16 * 1024 * 1024;

/// The cursor item of partition `pk`. A cursor that would not fit an item even compressed is refused (the store
/// reports it; the connector's own bound keeps it well below: `acd_connectors::five9`'s carried states).
pub fn cursor_item(pk: String, cursor: &serde_json::Value) -> Result<Item, StoreError> {
    let compressed = compress(cursor)?;
    if compressed.len() > MAX_CURSOR_BYTES {
        return Err(StoreError::Backend(format!(
            "the connector cursor takes {} bytes compressed, more than the {MAX_CURSOR_BYTES} a DynamoDB item holds",
            compressed.len()
        )));
    }
    Ok(Item::from([
        ("PK".to_owned(), AttributeValue::S(pk)),
        ("SK".to_owned(), AttributeValue::S(CURSOR_SK.to_owned())),
        (CURSOR_ATTR.to_owned(), AttributeValue::B(Blob::new(compressed))),
    ]))
}

/// The cursor an item holds, and whether it is in the earlier layout (a DynamoDB map, to be written again).
pub fn read_cursor(item: &Item) -> Result<(serde_json::Value, bool), StoreError> {
    let corrupt = |e: &dyn std::fmt::Display| StoreError::Corrupt(format!("connector cursor: {e}"));
    match (item.get(CURSOR_ATTR), item.get(MAP_CURSOR_ATTR)) {
        (Some(AttributeValue::B(bytes)), _) => {
            let mut json = Vec::new();
            ZlibDecoder::new(bytes.as_ref())
                .take(MAX_INFLATED_BYTES + 1)
                .read_to_end(&mut json)
                .map_err(|e| corrupt(&e))?;
            if json.len() as u64 > MAX_INFLATED_BYTES {
                return Err(corrupt(&format!("inflates to more than {MAX_INFLATED_BYTES} bytes")));
            }
            Ok((serde_json::from_slice(&json).map_err(|e| corrupt(&e))?, false))
        }
        (Some(_), _) => Err(corrupt(&format!("`{CURSOR_ATTR}` is not binary"))),
        (None, Some(map)) => {
            let value = serde_dynamo::aws_sdk_dynamodb_1::from_attribute_value(map.clone()).map_err(|e| corrupt(&e))?;
            Ok((value, true))
        }
        (None, None) => Err(corrupt(&"the item holds no cursor")),
    }
}

fn compress(cursor: &serde_json::Value) -> Result<Vec<u8>, StoreError> {
    let json = serde_json::to_vec(cursor).map_err(|e| StoreError::Backend(format!("connector cursor: {e}")))?;
    let mut encoder = ZlibEncoder::new(Vec::with_capacity(json.len() / 4 + 64), Compression::default());
    encoder.write_all(&json).and_then(|()| encoder.finish()).map_err(|e| StoreError::Backend(format!("zlib: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pk() -> String {
        "T#t#I#i".to_owned()
    }

    /// A cursor shaped like Five9's carried states: `n` agents' rows with repeating names and varied offsets.
    fn carried(n: usize) -> serde_json::Value {
        let states: Vec<_> = (0..n)
            .map(|i| {
                json!([format!("agent{i:04}@acme-corp.example"), i % 7, -(i as i64 * 37 % 40_000), 0, i * 13 % 9_000])
            })
            .collect();
        json!({
            "density": { "state_rows_per_hour": { "9": { "rows": 4000, "at": 1_715_763_600 } } },
            "carried": { "at": "2024-05-15T00:00:00Z", "states": states },
        })
    }

    #[test]
    fn a_cursor_comes_back_as_it_was_written_and_takes_a_fraction_of_its_json() {
        let cursor = carried(2_000);
        let item = cursor_item(pk(), &cursor).unwrap();
        assert_eq!(item["SK"].as_s().unwrap(), CURSOR_SK);
        let stored = item[CURSOR_ATTR].as_b().unwrap().as_ref().len();
        let json = serde_json::to_vec(&cursor).unwrap().len();
        assert!(stored * 3 < json, "{stored} bytes stored for {json} of JSON");
        assert_eq!(read_cursor(&item).unwrap(), (cursor, false));
    }

    #[test]
    fn an_item_of_the_earlier_layout_is_read_and_marked_for_rewriting() {
        let cursor = carried(3);
        let map = serde_dynamo::aws_sdk_dynamodb_1::to_attribute_value(&cursor).unwrap();
        let item = Item::from([
            ("PK".to_owned(), AttributeValue::S(pk())),
            ("SK".to_owned(), AttributeValue::S(CURSOR_SK.to_owned())),
            (MAP_CURSOR_ATTR.to_owned(), map),
        ]);
        assert_eq!(read_cursor(&item).unwrap(), (cursor, true));
    }

    #[test]
    fn a_damaged_cursor_is_corrupt_not_empty() {
        let mut item = cursor_item(pk(), &carried(50)).unwrap();
        let mut bytes = item[CURSOR_ATTR].as_b().unwrap().as_ref().to_vec();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x55;
        item.insert(CURSOR_ATTR.to_owned(), AttributeValue::B(Blob::new(bytes.clone())));
        assert!(matches!(read_cursor(&item), Err(StoreError::Corrupt(_))));
        // Cut short: a truncated stream, not a shorter cursor.
        item.insert(CURSOR_ATTR.to_owned(), AttributeValue::B(Blob::new(bytes[..middle].to_vec())));
        assert!(matches!(read_cursor(&item), Err(StoreError::Corrupt(_))));
        item.insert(CURSOR_ATTR.to_owned(), AttributeValue::S("{}".into()));
        assert!(matches!(read_cursor(&item), Err(StoreError::Corrupt(_))));
        item.remove(CURSOR_ATTR);
        assert!(matches!(read_cursor(&item), Err(StoreError::Corrupt(_))));
    }

    #[test]
    fn a_cursor_too_large_for_an_item_is_refused_before_any_write() {
        // Incompressible: pseudo-random hex, 900 KB of it (≈ 450 KB compressed).
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let noise: String = (0..900_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                char::from_digit((x % 16) as u32, 16).unwrap()
            })
            .collect();
        let err = cursor_item(pk(), &json!({ "noise": noise })).unwrap_err();
        assert!(matches!(&err, StoreError::Backend(m) if m.contains("bytes compressed")), "{err}");
    }
}
