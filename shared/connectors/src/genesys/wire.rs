//! Genesys Cloud JSON shapes (from `genesys-cloud.md` and the platform SDK models). Every field is optional or
//! defaulted so that a missing field is handled where it is used, never a panic: there, a field the connector needs
//! (ids, paging fields, metric stats) that is absent makes the answer malformed — never "empty". Unknown fields are
//! ignored.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

/// A JSON string borrowed from the answer when it has no escapes (serde only borrows through a bare `Cow`, never
/// through `Option<Cow>`, so the hot path of the aggregates answer would otherwise allocate every name and time).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Str<'a>(pub Cow<'a, str>);

impl std::ops::Deref for Str<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Cow<'de, str>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Cow::Borrowed(v))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Cow::Owned(v.to_owned()))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Cow::Owned(v))
            }
        }
        d.deserialize_str(V).map(Str)
    }
}

/// A paged listing (`/api/v2/routing/queues`, `/api/v2/users`, `/api/v2/presence/definitions`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Listing<T> {
    /// Required: an answer without `entities` is malformed, never an empty listing.
    #[serde(default = "Option::default")]
    pub entities: Option<Vec<T>>,
    #[serde(default)]
    pub next_uri: Option<String>,
    #[serde(default)]
    pub page_count: Option<u64>,
    #[serde(default)]
    pub page_number: Option<u64>,
    /// Entities in the whole listing. Required (`genesys-cloud.md` documents it on every listing and on the presence
    /// definitions): compared between the pages of one reading, and with the entities they hold.
    #[serde(default)]
    pub total: Option<u64>,
}

/// An entity of a paged listing, by its own id ([`crate::genesys::ListingReading`] notices one read twice).
pub trait Listed {
    fn listed_id(&self) -> Option<&str>;
}

impl Listed for WireQueue {
    fn listed_id(&self) -> Option<&str> {
        self.id.as_deref()
    }
}

impl Listed for WireUser {
    fn listed_id(&self) -> Option<&str> {
        self.id.as_deref()
    }
}

impl Listed for serde_json::Value {
    fn listed_id(&self) -> Option<&str> {
        self.get("id").and_then(serde_json::Value::as_str)
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireQueue {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    /// Keys `call`, `callback`, `chat`, `email`, `message` (SDK `QueueMediaSettings`); values are not needed.
    #[serde(default)]
    pub media_settings: Option<BTreeMap<String, serde::de::IgnoredAny>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireUser {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WirePresenceDefinition {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub language_labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub system_presence: Option<String>,
    #[serde(default)]
    pub deactivated: Option<bool>,
}

// ---- conversation aggregates -------------------------------------------------------------------------------

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AggregateQuery<'a> {
    pub interval: String,
    pub granularity: &'static str,
    pub time_zone: &'static str,
    pub group_by: [&'static str; 2],
    pub filter: Filter<'a>,
    pub metrics: &'static [&'static str],
    pub flatten_multivalued_dimensions: bool,
}

#[derive(Debug, Serialize)]
pub struct Filter<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub predicates: Vec<Predicate<'a>>,
}

#[derive(Debug, Serialize)]
pub struct Predicate<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub dimension: &'static str,
    pub operator: &'static str,
    pub value: &'a str,
}

impl<'a> Predicate<'a> {
    pub fn matches(dimension: &'static str, value: &'a str) -> Self {
        Self { kind: "dimension", dimension, operator: "matches", value }
    }
}

/// The aggregates answer. Borrows strings from the body where it can (the benchmark's hot path). `results` is `None`
/// when the answer has none: `{}` is Genesys's answer without data, while an object without `results` but with other
/// keys (`other_keys`, e.g. `{"jobId":".."}`) is not an aggregates answer at all ([`super::stats`] tells them apart).
#[derive(Debug, Default)]
pub struct AggregateResponse<'a> {
    pub results: Option<Vec<AggregateResult<'a>>>,
    /// Keys other than `results` the answer had (their values are skipped unread).
    pub other_keys: usize,
}

impl<'de: 'a, 'a> Deserialize<'de> for AggregateResponse<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<AggregateResponse<'a>>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = AggregateResponse<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an aggregates answer (a JSON object)")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                let mut out = AggregateResponse::default();
                while let Some(key) = map.next_key::<Str<'de>>()? {
                    if &*key == "results" {
                        if out.results.is_some() {
                            return Err(serde::de::Error::duplicate_field("results"));
                        }
                        out.results = Some(map.next_value()?);
                    } else {
                        map.next_value::<serde::de::IgnoredAny>()?;
                        out.other_keys += 1;
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

#[derive(Debug, Deserialize)]
pub struct AggregateResult<'a> {
    #[serde(default, borrow)]
    pub group: Group<'a>,
    /// Required: a result group holds its buckets (a group without `data` would read as zeros).
    #[serde(borrow)]
    pub data: Vec<AggregateData<'a>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Group<'a> {
    #[serde(default, borrow, rename = "queueId")]
    pub queue_id: Option<Str<'a>>,
    #[serde(default, borrow, rename = "mediaType")]
    pub media_type: Option<Str<'a>>,
}

#[derive(Debug, Deserialize)]
pub struct AggregateData<'a> {
    #[serde(default, borrow)]
    pub interval: Option<Str<'a>>,
    /// Required: a bucket without its metrics is malformed, never a quarter hour of zeros (`[]` is zeros).
    #[serde(default, borrow)]
    pub metrics: Option<Vec<MetricValue<'a>>>,
}

#[derive(Debug, Deserialize)]
pub struct MetricValue<'a> {
    #[serde(default, borrow)]
    pub metric: Option<Str<'a>>,
    #[serde(default)]
    pub stats: Option<Stats>,
}

/// `StatisticalSummary`: counts and sums of `n*`/`t*` metrics, the ratio parts of `o*` metrics. Numbers are read as
/// JSON numbers of any form (Genesys has been seen to write integral values as `123.0`).
#[derive(Debug, Default, Deserialize)]
pub struct Stats {
    #[serde(default)]
    pub count: Option<f64>,
    #[serde(default)]
    pub sum: Option<f64>,
    #[serde(default)]
    pub numerator: Option<f64>,
    #[serde(default)]
    pub denominator: Option<f64>,
}

// ---- user details -------------------------------------------------------------------------------------------

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserDetailsQuery<'a> {
    pub interval: String,
    pub order: &'static str,
    pub paging: Paging,
    pub user_filters: [Filter<'a>; 1],
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Paging {
    pub page_size: u32,
    pub page_number: u32,
}

/// One page of user details. Borrows its strings from the body where it can (an owned string per field was most of
/// the cost of reading a page: every run re-reads 72 hours of every agent's records; `examples/bench_genesys.rs`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserDetailsResponse<'a> {
    #[serde(default, borrow)]
    pub user_details: Vec<UserDetail<'a>>,
    /// Required (no results is `{"totalHits":0}`): without it, paging cannot know whether pages are left.
    #[serde(default)]
    pub total_hits: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserDetail<'a> {
    #[serde(default, borrow)]
    pub user_id: Option<Str<'a>>,
    #[serde(default, borrow)]
    pub primary_presence: Vec<PresenceRecord<'a>>,
    #[serde(default, borrow)]
    pub routing_status: Vec<RoutingRecord<'a>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PresenceRecord<'a> {
    #[serde(default, borrow)]
    pub start_time: Option<Str<'a>>,
    #[serde(default, borrow)]
    pub end_time: Option<Str<'a>>,
    #[serde(default, borrow)]
    pub system_presence: Option<Str<'a>>,
    #[serde(default, borrow)]
    pub organization_presence_id: Option<Str<'a>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoutingRecord<'a> {
    #[serde(default, borrow)]
    pub start_time: Option<Str<'a>>,
    #[serde(default, borrow)]
    pub end_time: Option<Str<'a>>,
    #[serde(default, borrow)]
    pub routing_status: Option<Str<'a>>,
}
