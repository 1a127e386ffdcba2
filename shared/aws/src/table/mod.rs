//! The one DynamoDB table: every key ([`keys`]) and item shape ([`items`]) in one place. `schema.rs` declares the
//! table itself (the template declares the same; a test compares them). Stores build keys only from here, and hand
//! the app opaque positions for cursors (e.g. the run log's), never a sort key to parse.

pub mod buckets;
pub mod cursor;
pub mod gaps;
pub mod hour_writes;
pub mod items;
pub mod keys;
