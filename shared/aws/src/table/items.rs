//! Item shapes of imported data and mappings (written by the import, read by the query function and the mapping
//! routes). Keys come from [`crate::keys`]; every partition key starts with the tenant.
//!
//! | item | PK | SK | GSI1PK / GSI1SK |
//! | --- | --- | --- | --- |
//! | queue | `T#{t}#I#{int}` | `Q#{external id}` | `T#{t}#QUEUES` / `{lower name}#{queue id}` |
//! | interval | `T#{t}#Q#{queue id}` | `IV#{YYYY-MM-DDTHH:MMZ}` | — |
//! | external agent | `T#{t}#I#{int}` | `A#{external id}` | mapped only: `T#{t}#EMP` / `{employee}#{int}#{external id}` |
//! | agent segment | `T#{t}#I#{int}#A#{external id}` | `S#{start, RFC 3339 UTC, milliseconds}` | — |
//! | external status | `T#{t}#I#{int}` | `ST#{status id}` | — |
//! | import run | `T#{t}#I#{int}` | `RUN#{started at}#{run id}` | — |
//! | lease | `T#{t}#I#{int}` | `LEASE` | — |
//! | import state | `T#{t}#I#{int}` | `STATE` | — |
//! | connector cursor | `T#{t}#I#{int}` | `CURSOR` | — |
//! | agent-states pass lease, checkpoint, seen states | `T#{t}#I#{int}` | `LEASE#STATES`, `STATES`, `STATES#SEEN` | — |
//! | chunk digest (one a day; `start`: from where it vouches) | `T#{t}#I#{int}` | `DIG#{IV or S}#{day}` | — |
//! | queue name index | `T#{t}#QS#{3 characters of the lower name}` | the queue's `GSI1SK` | — |
//!
//! Intervals and segments have a second form, which the import writes by default (`HOUR_BUCKETS=off`: these single
//! items): one item per queue-hour or agent-hour ([`crate::buckets`]).

use acd_domain::{Channel, IntegrationId, QueueId, TenantId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::keys::{integration_pk, tenant_pk};

/// Fixed-width UTC time for sort keys: lexicographic order is time order.
pub fn sort_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// How much of a time [`push_time`] writes after the minutes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Precision {
    /// `…THH:MMZ`
    Minutes,
    /// `…THH:MM:SS.mmmZ` (truncated to milliseconds)
    Millis,
    /// chrono's serde form (RFC 3339, `Z`, as many fraction digits as needed: 0, 3, 6 or 9)
    Serde,
}

fn push_digits(out: &mut String, value: u32, width: u32) {
    for i in (0..width).rev() {
        out.push(char::from(b'0' + (value / 10u32.pow(i) % 10) as u8));
    }
}

/// Appends `t` without a format string (this runs two or three times for every item written). Years outside
/// 0–9999 and leap seconds go through chrono.
fn push_time(out: &mut String, t: DateTime<Utc>, precision: Precision) {
    use chrono::{Datelike, Timelike};
    let nanos = t.nanosecond();
    if !(0..=9999).contains(&t.year()) || nanos >= 1_000_000_000 {
        let text = match precision {
            Precision::Minutes => t.format("%Y-%m-%dT%H:%MZ").to_string(),
            Precision::Millis => t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            Precision::Serde => t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        };
        out.push_str(&text);
        return;
    }
    push_digits(out, t.year() as u32, 4);
    out.push('-');
    push_digits(out, t.month(), 2);
    out.push('-');
    push_digits(out, t.day(), 2);
    out.push('T');
    push_digits(out, t.hour(), 2);
    out.push(':');
    push_digits(out, t.minute(), 2);
    if precision != Precision::Minutes {
        out.push(':');
        push_digits(out, t.second(), 2);
    }
    match precision {
        Precision::Minutes => {}
        Precision::Millis => {
            out.push('.');
            push_digits(out, nanos / 1_000_000, 3);
        }
        Precision::Serde if nanos == 0 => {}
        Precision::Serde if nanos.is_multiple_of(1_000_000) => {
            out.push('.');
            push_digits(out, nanos / 1_000_000, 3);
        }
        Precision::Serde if nanos.is_multiple_of(1_000) => {
            out.push('.');
            push_digits(out, nanos / 1_000, 6);
        }
        Precision::Serde => {
            out.push('.');
            push_digits(out, nanos, 9);
        }
    }
    out.push('Z');
}

/// A time as chrono's serde writes it (what serde_dynamo stored for the item shapes' `DateTime` fields).
fn serde_time(t: DateTime<Utc>) -> String {
    let mut out = String::with_capacity(30);
    push_time(&mut out, t, Precision::Serde);
    out
}

/// Interval sort keys use minutes (intervals start on quarter hours).
pub fn interval_sk(start: DateTime<Utc>) -> String {
    let mut out = String::with_capacity(20);
    out.push_str("IV#");
    push_time(&mut out, start, Precision::Minutes);
    out
}

pub fn queue_data_pk(tenant: &TenantId, queue: &QueueId) -> String {
    format!("{}#Q#{}", tenant_pk(tenant), queue)
}

pub fn queues_gsi_pk(tenant: &TenantId) -> String {
    format!("{}#QUEUES", tenant_pk(tenant))
}

/// A queue's listing sort key: `{lower-cased name}#{queue id}`, the name cut (at a character) so that the key fits
/// DynamoDB's 1,024 bytes: a Five9 campaign's name is its external id too, so a name of ≈ 140 three-byte characters
/// (CJK) would make every write of the queue (its item, its name index entries) fail, and every run with it. A cut
/// name ([`sort_key_name_cut`]) sorts among the names it starts with; the text filter matches the stored name.
pub fn queues_gsi_sk(name: &str, queue: &QueueId) -> String {
    let (lower, id) = (name.to_lowercase(), queue.to_string());
    let room = acd_domain::validation::MAX_SORT_KEY_BYTES.saturating_sub(id.len() + 1);
    let cut = (0..=room.min(lower.len())).rev().find(|i| lower.is_char_boundary(*i)).unwrap_or(0);
    format!("{}#{id}", &lower[..cut])
}

/// Whether the name part of a listing sort key ([`queues_gsi_sk`]) may have been cut: the key is within a
/// character's bytes (4) of DynamoDB's limit.
pub fn sort_key_name_cut(sort_key: &str) -> bool {
    sort_key.len() + 4 > acd_domain::validation::MAX_SORT_KEY_BYTES
}

/// Length (in characters) of the name pieces the queue name index is keyed by.
pub const SEARCH_GRAM_CHARS: usize = 3;
/// Set on a queue item once its name pieces are in the index, and on an integration record once every queue of
/// it is: a text filter reads the index only when every current integration of the tenant carries it.
pub const SEARCH_INDEXED: &str = "search_indexed";

/// The partition of the queue name index holding every queue whose lower-cased name contains `gram`; its sort keys
/// are the queues' `GSI1SK` (`{lower name}#{queue id}`), so it lists them in the order of `GET /queues`.
pub fn queue_search_pk(tenant: &TenantId, gram: &str) -> String {
    format!("{}#QS#{gram}", tenant_pk(tenant))
}

/// The distinct pieces of [`SEARCH_GRAM_CHARS`] characters of a lower-cased name (none for shorter names).
pub fn search_grams(lower: &str) -> std::collections::BTreeSet<String> {
    let chars: Vec<char> = lower.chars().collect();
    chars.windows(SEARCH_GRAM_CHARS).map(|w| w.iter().collect()).collect()
}

/// The attribute of an index item holding its queue's channel (so a `channel` filter reads no other queue).
pub const SEARCH_CHANNEL: &str = "channel";

/// The index items of a queue named `name` (one per distinct piece of its lower-cased name): the keys and the
/// queue's channel. The integration is in the sort key (the queue id).
pub fn queue_search_items(
    tenant: &TenantId,
    name: &str,
    queue: &QueueId,
    channel: Channel,
) -> Vec<crate::dynamo::Item> {
    use aws_sdk_dynamodb::types::AttributeValue;
    let sort_key = queues_gsi_sk(name, queue);
    search_grams(&name.to_lowercase())
        .into_iter()
        .map(|gram| {
            crate::dynamo::Item::from([
                (crate::keys::PK.to_owned(), AttributeValue::S(queue_search_pk(tenant, &gram))),
                (crate::keys::SK.to_owned(), AttributeValue::S(sort_key.clone())),
                (SEARCH_CHANNEL.to_owned(), AttributeValue::S(channel.as_str().to_owned())),
            ])
        })
        .collect()
}

/// The lower-cased name and queue id of an index sort key (`{lower name}#{queue id}`; ids contain no `#`).
pub fn parse_queue_sort_key(sort_key: &str) -> Option<(&str, QueueId)> {
    let (name, id) = sort_key.rsplit_once('#')?;
    Some((name, id.parse().ok()?))
}

pub const AGENT_SK_PREFIX: &str = "A#";
pub const STATUS_SK_PREFIX: &str = "ST#";
pub const RUN_SK_PREFIX: &str = "RUN#";

/// The sort key of a run in the run log: `RUN#{started at}#{run id}` (newest first when read backwards). Also the
/// run log's cursor position, opaque to the app.
pub fn run_sk(run: &acd_app::import::RunRecord) -> String {
    format!("{}{}#{}", RUN_SK_PREFIX, sort_time(run.started_at), run.run_id)
}

/// Whether `key` has the shape of [`run_sk`]: `RUN#{YYYY-MM-DDTHH:MM:SSZ}#{uuid}`.
pub fn is_run_sk(key: &str) -> bool {
    let Some(rest) = key.strip_prefix(RUN_SK_PREFIX) else { return false };
    let Some((time, id)) = rest.split_once('#') else { return false };
    chrono::NaiveDateTime::parse_from_str(time, "%Y-%m-%dT%H:%M:%SZ").is_ok() && id.parse::<acd_domain::RunId>().is_ok()
}

pub const SEGMENT_SK_PREFIX: &str = "S#";
pub const LEASE_SK: &str = "LEASE";
pub const STATE_SK: &str = "STATE";
/// The connector's cursor (`ImportState::vendor_cursor`), kept apart from the import state: it can be tens of KB
/// (Five9's carried agent states) and the state item is read on request paths and written several times a run.
pub const CURSOR_SK: &str = "CURSOR";
/// The agent-states pass's lease and checkpoint (see `acd_app::import::states`).
pub const STATES_LEASE_SK: &str = "LEASE#STATES";
pub const STATES_SK: &str = "STATES";
/// What the last agent-states pass left stored, agent by agent (`acd_app::ports::SeenStates`): `since` and
/// `hashes`, 8 bytes (big-endian) per agent, sorted.
pub const SEEN_STATES_SK: &str = "STATES#SEEN";
pub const DIGEST_SK_PREFIX: &str = "DIG#";

/// The digest of one day's interval (`IV`) or segment (`S`) data, keyed by the day's start (its item's `start`
/// says whether it vouches for the whole day or from an hour on).
pub fn digest_sk(kind: &str, day: DateTime<Utc>) -> String {
    format!("{DIGEST_SK_PREFIX}{kind}#{}", sort_time(day))
}

pub fn agent_sk(external_id: &str) -> String {
    format!("{AGENT_SK_PREFIX}{external_id}")
}

pub fn status_sk(status_id: &str) -> String {
    format!("{STATUS_SK_PREFIX}{status_id}")
}

pub fn segment_pk(tenant: &TenantId, integration: IntegrationId, agent_external_id: &str) -> String {
    format!("{}#A#{}", integration_pk(tenant, integration), agent_external_id)
}

/// Millisecond precision: vendors report sub-second state changes, and two segments may start in one second.
pub fn segment_sk(start: DateTime<Utc>) -> String {
    let mut out = String::with_capacity(27);
    out.push_str(SEGMENT_SK_PREFIX);
    push_time(&mut out, start, Precision::Millis);
    out
}

pub fn employees_gsi_pk(tenant: &TenantId) -> String {
    format!("{}#EMP", tenant_pk(tenant))
}

pub fn employees_gsi_sk(employee_id: &str, integration: IntegrationId, agent_external_id: &str) -> String {
    format!("{employee_id}#{integration}#{agent_external_id}")
}

/// A queue of an integration ("mappable queue").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    #[serde(rename = "GSI1PK")]
    pub gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    pub gsi1sk: String,
    pub entity: String,
    pub queue_id: QueueId,
    pub integration_id: IntegrationId,
    /// Name of the integration when the queue was last imported (the query overlays the current name).
    pub integration_name: String,
    pub external_id: String,
    pub name: String,
    /// Lower-cased name, for case-insensitive substring filters.
    pub name_lower: String,
    pub channel: Channel,
    pub interval_minutes: u32,
    pub active: bool,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// First and last interval start for which data was imported (absent until the first interval).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_from: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_to: Option<DateTime<Utc>>,
    /// For a queue first listed after the integration's data was complete up to a point (its `complete_through`
    /// then, e.g. a division newly visible to the ACD credentials): its statistics are complete only from there —
    /// the runs before never read them. Absent: from the integration's `complete_from`, as every queue listed from
    /// the start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complete_from: Option<DateTime<Utc>>,
    /// How far this queue's statistics were read where the integration's were read further; its statistics are
    /// complete no further (the queries cap the integration's `complete_through` here). For a queue no longer
    /// listed (inactive): the integration's `complete_through` when it left the listing (the beginning of time
    /// before the first back-fill completed). Listed again after the run's re-read has moved past it, the days in
    /// between were never read for it: it is complete only from the re-read on (`complete_from`), and this is
    /// that re-read's start, moved on as the import writes the days it reads the queue for, and removed once they
    /// reach the integration's `complete_through` (nothing is claimed for the queue before its data is written).
    /// Absent for a queue read as far as the integration, and for one that left before this was kept (taken as the
    /// beginning of time: complete only from the re-read on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listed_through: Option<DateTime<Utc>>,
    /// Listed (GET /queues) only once data has been imported for it (`data_from` set): a channel the ACD's listing
    /// names without knowing whether the queue carries it (see `Connector::listed_once_seen`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub once_seen: bool,
    /// The pieces of this name are in the queue name index ([`queue_search_items`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub search_indexed: bool,
}

/// Statistics of one queue and 15-minute interval. The import stores no interval without contacts: within the range
/// the integration has completed, an absent interval is zero. A push stores one of zeros outside that range
/// (`acd_app::ingest::ZeroCoverage`), where absent reads as not fetched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntervalItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub start: DateTime<Utc>,
    pub offered: u64,
    pub handled: u64,
    pub abandoned: u64,
    pub handle_ms: u64,
    pub answer_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sl: Option<u64>,
}

/// An external agent id seen by the import, and the employee it is mapped to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity: String,
    pub integration_id: IntegrationId,
    pub external_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employee_id: Option<String>,
    /// Set only while mapped (sparse index).
    #[serde(rename = "GSI1PK", default, skip_serializing_if = "Option::is_none")]
    pub gsi1pk: Option<String>,
    #[serde(rename = "GSI1SK", default, skip_serializing_if = "Option::is_none")]
    pub gsi1sk: Option<String>,
}

/// An external status seen by the import and the activity it maps to (default `present`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusItem {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity: String,
    pub integration_id: IntegrationId,
    pub status_id: String,
    pub name: String,
    pub activity_id: String,
    /// True once an admin mapped it explicitly (false: the default `present`).
    pub mapped: bool,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
}

pub const DEFAULT_ACTIVITY: &str = "present";

/// One agent-state segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentItem {
    /// Shared by an agent's items while a day is compared and written (a copy in each of a large back-fill's
    /// hundreds of thousands of items was a tenth of its memory peak).
    #[serde(rename = "PK")]
    pub pk: std::sync::Arc<str>,
    #[serde(rename = "SK")]
    pub sk: String,
    pub start: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<DateTime<Utc>>,
    /// Shared with the segment it was made of (and that segment's connector made it once for all of them).
    pub status_id: std::sync::Arc<str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<std::sync::Arc<str>>,
}

/// An item shape written for every interval or segment: built into DynamoDB attributes directly (the same
/// attributes `serde_dynamo::to_item` makes of it, without its intermediate maps and key copies).
pub trait IntoItem {
    /// The whole item: its key (`PK`, `SK`) and [`IntoItem::into_element`]'s attributes.
    fn into_item(self) -> crate::dynamo::Item;
    /// The item's attributes without its key: an hour bucket's element ([`crate::buckets`]). Built without the key
    /// (not the whole item with the key removed again): a back-fill makes one for every interval and segment.
    fn into_element(self) -> crate::dynamo::Item;
}

fn number(n: u64) -> aws_sdk_dynamodb::types::AttributeValue {
    aws_sdk_dynamodb::types::AttributeValue::N(n.to_string())
}

/// An item taken apart: its key (`PK`, `SK`) and its other attributes by name (`None`: not written).
type Parts<const N: usize> = ((String, String), [(&'static str, Option<aws_sdk_dynamodb::types::AttributeValue>); N]);

/// Attributes of an item: `key` (`PK`, `SK`) first when given, then `rest`.
fn attributes<const N: usize>(
    key: Option<(String, String)>,
    rest: [(&str, Option<aws_sdk_dynamodb::types::AttributeValue>); N],
) -> crate::dynamo::Item {
    use aws_sdk_dynamodb::types::AttributeValue::S;
    let mut item = crate::dynamo::Item::with_capacity(N + if key.is_some() { 2 } else { 0 });
    if let Some((pk, sk)) = key {
        item.insert(crate::keys::PK.to_owned(), S(pk));
        item.insert(crate::keys::SK.to_owned(), S(sk));
    }
    for (name, value) in rest {
        if let Some(value) = value {
            item.insert(name.to_owned(), value);
        }
    }
    item
}

impl IntervalItem {
    fn split(self) -> Parts<7> {
        use aws_sdk_dynamodb::types::AttributeValue::S;
        let IntervalItem { pk, sk, start, offered, handled, abandoned, handle_ms, answer_ms, sl } = self;
        let rest = [
            ("start", Some(S(serde_time(start)))),
            ("offered", Some(number(offered))),
            ("handled", Some(number(handled))),
            ("abandoned", Some(number(abandoned))),
            ("handle_ms", Some(number(handle_ms))),
            ("answer_ms", Some(number(answer_ms))),
            ("sl", sl.map(number)),
        ];
        ((pk, sk), rest)
    }
}

impl IntoItem for IntervalItem {
    fn into_item(self) -> crate::dynamo::Item {
        let (key, rest) = self.split();
        attributes(Some(key), rest)
    }
    fn into_element(self) -> crate::dynamo::Item {
        attributes(None, self.split().1)
    }
}

impl SegmentItem {
    fn split(self) -> Parts<4> {
        use aws_sdk_dynamodb::types::AttributeValue::S;
        let SegmentItem { pk, sk, start, end, status_id, reason } = self;
        // (`String::from(&str)`: `to_string` of an `Arc<str>` would go through `Display`)
        let pk = String::from(&*pk);
        let rest = [
            ("start", Some(S(serde_time(start)))),
            ("end", end.map(|end| S(serde_time(end)))),
            ("status_id", Some(S(String::from(&*status_id)))),
            ("reason", reason.map(|r| S(String::from(&*r)))),
        ];
        ((pk, sk), rest)
    }
}

impl IntoItem for SegmentItem {
    fn into_item(self) -> crate::dynamo::Item {
        let (key, rest) = self.split();
        attributes(Some(key), rest)
    }
    fn into_element(self) -> crate::dynamo::Item {
        attributes(None, self.split().1)
    }
}

// What a chunk digest records of the written items: every attribute `into_item` writes but the partition key. The
// patterns name every field, so a field added to an item does not compile until the digest covers it too.
impl crate::digest::Digestible for IntervalItem {
    fn digest_into(&self, content: &mut crate::digest::Content) {
        let IntervalItem { pk: _, sk, start, offered, handled, abandoned, handle_ms, answer_ms, sl } = self;
        content.str(sk);
        content.time(*start);
        for n in [offered, handled, abandoned, handle_ms, answer_ms] {
            content.u64(*n);
        }
        content.opt_u64(*sl);
    }
}

impl crate::digest::Digestible for SegmentItem {
    fn digest_into(&self, content: &mut crate::digest::Content) {
        let SegmentItem { pk: _, sk, start, end, status_id, reason } = self;
        content.str(sk);
        content.time(*start);
        content.opt_time(*end);
        content.str(status_id);
        content.opt_str(reason.as_deref());
    }
}

impl SegmentItem {
    /// The item of `segment` in its agent's partition `pk` ([`segment_pk`]), keyed by its start.
    pub fn of(pk: std::sync::Arc<str>, segment: &acd_domain::AgentSegment) -> Self {
        SegmentItem {
            pk,
            sk: segment_sk(segment.start),
            start: segment.start,
            end: segment.end,
            status_id: segment.status_id.clone(),
            reason: segment.reason.clone(),
        }
    }

    /// [`SegmentItem::of`], taking the segment (its strings move into the item).
    pub fn from_piece(pk: std::sync::Arc<str>, segment: acd_domain::AgentSegment) -> Self {
        SegmentItem {
            pk,
            sk: segment_sk(segment.start),
            start: segment.start,
            end: segment.end,
            status_id: segment.status_id,
            reason: segment.reason,
        }
    }
}

/// Longest agent-state segment the queries look back for: a segment that started up to this long before `from`
/// is still found by a range query that starts at `from - MAX_SEGMENT_HOURS`.
pub const MAX_SEGMENT_HOURS: i64 = 24;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_queue_is_indexed_under_every_piece_of_its_lower_cased_name() {
        let grams: Vec<String> = search_grams("sales 2").into_iter().collect();
        assert_eq!(grams, ["ale", "es ", "les", "s 2", "sal"]);
        let grams: Vec<String> = search_grams("réclam").into_iter().collect();
        assert_eq!(grams, ["cla", "lam", "réc", "écl"], "characters, not bytes");
        assert!(search_grams("ab").is_empty());
        let tenant = TenantId::parse("t1").unwrap();
        let queue = QueueId::new(IntegrationId::new(), "Sales#1");
        let index = queue_search_items(&tenant, "Sales", &queue, Channel::Chats);
        assert_eq!(index.len(), 3);
        for item in &index {
            let sk = item[crate::keys::SK].as_s().unwrap();
            assert_eq!(sk, &queues_gsi_sk("Sales", &queue));
            assert_eq!(parse_queue_sort_key(sk), Some(("sales", queue.clone())));
            assert!(item[crate::keys::PK].as_s().unwrap().starts_with("T#t1#QS#"));
            assert_eq!(item[SEARCH_CHANNEL].as_s().unwrap(), "chats");
        }
    }

    #[test]
    fn a_long_name_is_cut_at_a_character_so_that_the_sort_key_fits() {
        // A Five9 campaign: its name is its external id, so a long name makes a long queue id too.
        let name = "販売".repeat(80);
        let queue = QueueId::new(IntegrationId::new(), name.clone());
        let key = queues_gsi_sk(&name, &queue);
        assert!(key.len() <= 1024, "{} bytes", key.len());
        assert!(sort_key_name_cut(&key));
        let (cut, id) = parse_queue_sort_key(&key).unwrap();
        assert_eq!(id, queue);
        assert!(!cut.is_empty() && name.starts_with(cut), "a prefix of whole characters");
        let short = queues_gsi_sk("Sales", &queue);
        assert_eq!(short, format!("sales#{queue}"), "short names whole");
        assert!(!sort_key_name_cut(&short));
    }
}

#[cfg(test)]
mod item_building_tests {
    use super::*;
    use chrono::TimeZone;
    use serde_dynamo::aws_sdk_dynamodb_1::to_item;

    /// Times with 0, 3, 6 and 9 fraction digits, around midnights and years' ends, and the odd years chrono
    /// formats itself.
    fn times() -> Vec<DateTime<Utc>> {
        let mut out = Vec::new();
        for (y, mo, d, h, mi, s) in
            [(2024, 5, 15, 10, 7, 30), (1999, 12, 31, 23, 59, 59), (2026, 1, 1, 0, 0, 0), (1, 2, 3, 4, 5, 6)]
        {
            let base = Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap();
            for nanos in [0, 1_000_000, 120_000_000, 999_000_000, 123_456_000, 1_000, 123_456_789, 1, 999_999_999] {
                out.push(base + chrono::Duration::nanoseconds(nanos));
            }
        }
        out.push(Utc.with_ymd_and_hms(12_345, 6, 7, 8, 9, 10).unwrap());
        out.push(Utc.with_ymd_and_hms(-44, 3, 15, 12, 0, 0).unwrap());
        out
    }

    #[test]
    fn sort_keys_and_times_are_written_as_chrono_formats_them() {
        for t in times() {
            assert_eq!(interval_sk(t), format!("IV#{}", t.format("%Y-%m-%dT%H:%MZ")), "{t:?}");
            assert_eq!(segment_sk(t), format!("S#{}", t.format("%Y-%m-%dT%H:%M:%S%.3fZ")), "{t:?}");
            let serde = serde_json::to_value(t).unwrap();
            assert_eq!(serde_time(t), serde.as_str().unwrap(), "{t:?}");
        }
    }

    /// serde_dynamo's item without its key: what a bucket element must be.
    fn without_key<T: serde::Serialize>(item: &T) -> crate::dynamo::Item {
        let mut map: crate::dynamo::Item = to_item(item).unwrap();
        map.remove(crate::keys::PK).expect("a PK");
        map.remove(crate::keys::SK).expect("an SK");
        map
    }

    #[test]
    fn built_items_and_bucket_elements_are_what_serde_dynamo_makes() {
        for t in times() {
            for sl in [None, Some(0), Some(7)] {
                let interval = IntervalItem {
                    pk: "T#t#Q#q".into(),
                    sk: interval_sk(t),
                    start: t,
                    offered: 12,
                    handled: 0,
                    abandoned: u64::MAX,
                    handle_ms: 1_234_567,
                    answer_ms: 9,
                    sl,
                };
                assert_eq!(interval.clone().into_item(), to_item(&interval).unwrap());
                assert_eq!(interval.clone().into_element(), without_key(&interval));
            }
            for (end, reason) in [(None, None), (Some(t + chrono::Duration::milliseconds(1500)), Some("Lunch"))] {
                let segment = SegmentItem {
                    pk: "T#t#I#i#A#a".into(),
                    sk: segment_sk(t),
                    start: t,
                    end,
                    status_id: "AVAILABLE".into(),
                    reason: reason.map(Into::into),
                };
                assert_eq!(segment.clone().into_item(), to_item(&segment).unwrap());
                assert_eq!(segment.clone().into_element(), without_key(&segment));
            }
        }
    }

    /// Whether the digest records `a` and `b` (one item each, in the same partition) as the same content.
    fn same_digest<T: crate::digest::Digestible>(a: T, b: T) -> bool {
        let (mut da, mut db) = (crate::digest::ChunkDigest::default(), crate::digest::ChunkDigest::default());
        da.insert("pk", None, &[a]);
        db.insert("pk", None, &[b]);
        da.agrees(&db, "pk")
    }

    /// Checks that `changed` holds a variant of `base` for every attribute `into_item` writes but the partition key,
    /// and that each one hashes differently from `base` (a re-read day with any changed value is compared again).
    fn every_attribute_changes_the_digest<T: IntoItem + crate::digest::Digestible + Clone>(
        base: T,
        changed: Vec<(&str, T)>,
    ) {
        let mut written: Vec<String> = base.clone().into_item().into_keys().filter(|k| k != crate::keys::PK).collect();
        let mut covered: Vec<String> = changed.iter().map(|(name, _)| name.to_string()).collect();
        written.sort();
        covered.sort();
        covered.dedup();
        assert_eq!(covered, written, "a variant for every attribute written (but PK)");
        assert!(same_digest(base.clone(), base.clone()));
        for (name, variant) in changed {
            assert!(!same_digest(base.clone(), variant), "{name} changed, digest the same");
        }
    }

    #[test]
    fn every_written_attribute_of_an_interval_or_a_segment_changes_its_digest() {
        let t = Utc.with_ymd_and_hms(2024, 5, 15, 10, 0, 0).unwrap();
        let interval = IntervalItem {
            pk: "T#t#Q#q".into(),
            sk: interval_sk(t),
            start: t,
            offered: 12,
            handled: 10,
            abandoned: 2,
            handle_ms: 1_234_567,
            answer_ms: 9,
            sl: None,
        };
        let with = |f: &dyn Fn(&mut IntervalItem)| {
            let mut i = interval.clone();
            f(&mut i);
            i
        };
        every_attribute_changes_the_digest(
            with(&|i| i.sl = Some(7)),
            vec![
                ("SK", with(&|i| (i.sk, i.sl) = (interval_sk(t + chrono::Duration::minutes(15)), Some(7)))),
                ("start", with(&|i| (i.start, i.sl) = (t + chrono::Duration::nanoseconds(1), Some(7)))),
                ("offered", with(&|i| (i.offered, i.sl) = (13, Some(7)))),
                ("handled", with(&|i| (i.handled, i.sl) = (11, Some(7)))),
                ("abandoned", with(&|i| (i.abandoned, i.sl) = (3, Some(7)))),
                ("handle_ms", with(&|i| (i.handle_ms, i.sl) = (1_234_568, Some(7)))),
                ("answer_ms", with(&|i| (i.answer_ms, i.sl) = (10, Some(7)))),
                ("sl", with(&|i| i.sl = Some(8))),
                ("sl", with(&|i| i.sl = None)),
            ],
        );
        assert!(!same_digest(with(&|i| i.sl = None), with(&|i| i.sl = Some(0))), "no sl is not sl 0");
        assert!(
            same_digest(interval.clone(), with(&|i| i.pk = "T#t#Q#other".into())),
            "the key is the entry's, not the content's"
        );

        let segment = SegmentItem {
            pk: "T#t#I#i#A#a".into(),
            sk: segment_sk(t),
            start: t,
            end: Some(t + chrono::Duration::minutes(5)),
            status_id: "AVAILABLE".into(),
            reason: Some("Lunch".into()),
        };
        let with = |f: &dyn Fn(&mut SegmentItem)| {
            let mut s = segment.clone();
            f(&mut s);
            s
        };
        every_attribute_changes_the_digest(
            segment.clone(),
            vec![
                ("SK", with(&|s| s.sk = segment_sk(t + chrono::Duration::milliseconds(1)))),
                ("start", with(&|s| s.start = t - chrono::Duration::seconds(1))),
                ("end", with(&|s| s.end = Some(t + chrono::Duration::minutes(6)))),
                ("end", with(&|s| s.end = None)),
                ("status_id", with(&|s| s.status_id = "BUSY".into())),
                ("reason", with(&|s| s.reason = Some("Break".into()))),
                ("reason", with(&|s| s.reason = None)),
            ],
        );
        assert!(
            !same_digest(with(&|s| s.reason = None), with(&|s| s.reason = Some("".into()))),
            "no reason is not an empty one"
        );
        // A value moved between two string attributes.
        assert!(!same_digest(
            with(&|s| (s.status_id, s.reason) = ("AB".into(), Some("C".into()))),
            with(&|s| (s.status_id, s.reason) = ("A".into(), Some("BC".into())))
        ));
    }
}

#[cfg(test)]
mod run_key_tests {
    use super::*;
    use acd_app::import::RunRecord;
    use acd_domain::{IntegrationId, RunId, TenantId};

    #[test]
    fn only_a_run_sort_key_is_a_run_position() {
        let started = chrono::Utc::now();
        let run = RunRecord::started(RunId::new(), TenantId::parse("acme").unwrap(), IntegrationId::new(), started);
        assert!(is_run_sk(&run_sk(&run)));
        for bad in ["", "RUN#", "RUN#2026-01-01T00:00:00Z", "RUN#x#y", "STATE", "RUN#2026-01-01T00:00:00Z#not-a-uuid"] {
            assert!(!is_run_sk(bad), "{bad}");
        }
    }
}
