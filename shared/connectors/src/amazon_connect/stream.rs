//! Reading the agent event stream (Kinesis, through the assumed role) from per-shard checkpoints.
//!
//! - Every shard `ListShards` returns is read, parents before children (a resharded stream's closed parents are read
//!   to their end, then marked done; children start from their trim horizon, which is their beginning).
//! - A shard's checkpoint is the sequence number of the last record applied. The checkpoints travel in a
//!   [`StreamCursor`] the import stores with its state after a successful write; a run restarts
//!   `AFTER_SEQUENCE_NUMBER` of it, so each record is read once (and a record read twice changes nothing:
//!   [`super::events::SegmentBook`] is idempotent).
//! - A gap is recorded, never papered over, when records after a checkpoint may be gone: the shard is no longer
//!   listed, the stream was re-created (other creation time), the last time the shard was read to its tip is older
//!   than the stream's retention, or Kinesis refuses the checkpoint's sequence number (`InvalidArgumentException`).
//!   The shard is then read from its trim horizon. Each gap is also a typed [`AgentStateGap`] with honest bounds
//!   ([`StreamRead::lost`]): `from` = where reading stopped (the shard's `read_through`; for a re-created stream,
//!   or a shard never read to its tip, the earliest `read_through` of the shards not read to their end, else the
//!   old stream's creation), `to` = the earliest instant whose records are still readable (now − retention; for a
//!   re-created stream its creation, or now − retention if that is later). An empty span (`from >= to`: the
//!   records are still there) is a warning only. Bounds err wide: a gap says states *may* be missing.
//! - `ExpiredIteratorException` (an iterator older than 5 minutes) is not a gap: a new iterator is asked for after
//!   the last sequence number applied.
//! - A shard whose read stops before its end (the deadline near, or `MAX_EMPTY_PAGES_BEHIND` empty pages in a row
//!   behind its tip that bring it no nearer, by `MillisBehindLatest`) keeps its checkpoint on the last record
//!   applied, and the agents of the records it applied are bounded at that record ([`SegmentBook::read_stopped`]:
//!   the earlier of its `EventTimestamp` and its `ApproximateArrivalTimestamp`): their states still open are known
//!   no further.

use std::collections::{BTreeMap, BTreeSet};

use acd_domain::{AgentStateGap, GapReason};
use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::types::{Shard, ShardIteratorType};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::events::{Applied, SegmentBook};
use super::paging::Tokens;
use super::sdk::{Call, call};
use crate::{ConnectorError, Deadline};

/// Where the stream was read to, per shard (stored opaquely by the import; see the module docs).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamCursor {
    pub stream_arn: String,
    /// `StreamCreationTimestamp` when the checkpoints were taken: another value means the stream was re-created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_created: Option<DateTime<Utc>>,
    #[serde(default)]
    pub shards: BTreeMap<String, ShardCheckpoint>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardCheckpoint {
    /// Sequence number of the last record applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence: Option<String>,
    /// When the shard was last read up to its tip (or its end).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_through: Option<DateTime<Utc>>,
    /// A closed shard read to its end: never read again.
    #[serde(default)]
    pub done: bool,
}

/// What one read produced.
#[derive(Debug, Default)]
pub struct StreamRead {
    pub cursor: StreamCursor,
    /// Human-readable gaps (for the run's warnings).
    pub gaps: Vec<String>,
    /// The same gaps as periods whose agent states may be missing (empty spans left out).
    pub lost: Vec<AgentStateGap>,
    /// Every shard was read up to its tip (false when the deadline cut the read short).
    pub caught_up: bool,
    pub records: u64,
}

/// Page size of `GetRecords` (the default of [`super::Tuning::stream_records_per_call`]) and a guard against a
/// stream that never ends.
pub const RECORDS_PER_CALL: i32 = 1000;
const MAX_EMPTY_PAGES_BEHIND: u32 = 20;
/// Margin kept before the deadline: reading stops (with a consistent cursor) rather than being cut mid-call.
const READ_MARGIN: std::time::Duration = std::time::Duration::from_secs(2);

/// Reads every shard from its checkpoint into `book`, up to its tip at `now` — or, with `until`, up to the first
/// record whose `EventTimestamp` is at or after it (that record and the rest of its shard are left for the next
/// read: the checkpoint stays on the last record applied). `GetRecords` asks for `records_per_call` at a time.
#[allow(clippy::too_many_arguments)]
pub async fn read_stream(
    client: &Client,
    calls: &Call,
    stream_arn: &str,
    previous: Option<StreamCursor>,
    book: &mut SegmentBook,
    (now, until): (DateTime<Utc>, Option<DateTime<Utc>>),
    records_per_call: i32,
    deadline: Deadline,
) -> Result<StreamRead, ConnectorError> {
    let summary = call(calls, "kinesis:DescribeStreamSummary", deadline, || {
        client.describe_stream_summary().stream_arn(stream_arn).send()
    })
    .await?;
    let summary = summary
        .stream_description_summary()
        .ok_or_else(|| ConnectorError::malformed("DescribeStreamSummary: no StreamDescriptionSummary"))?;
    let created = to_chrono(summary.stream_creation_timestamp());
    let retention = chrono::Duration::hours(i64::from(summary.retention_period_hours().max(1)));
    let shards = list_shards(client, calls, stream_arn, deadline).await?;

    let listed: BTreeSet<&str> = shards.iter().map(|s| s.shard_id()).collect();
    let (mut gaps, mut checkpoints) = check_cursor(previous, stream_arn, created, &listed, now, retention);

    let mut read = StreamRead { caught_up: true, ..Default::default() };
    // Per shard read this time: how far it applied agent events; and the shards not read to their end.
    let (mut read_to, mut behind) = (BTreeMap::new(), BTreeSet::new());
    for shard in order_parents_first(&shards) {
        let id = shard.shard_id().to_owned();
        let mut cp = checkpoints.remove(&id).unwrap_or_default();
        if cp.done {
            read.cursor.shards.insert(id, cp);
            continue;
        }
        if deadline.remaining() <= READ_MARGIN {
            read.caught_up = false;
            behind.insert(id.clone());
            read.cursor.shards.insert(id, cp);
            continue;
        }
        let closed = shard.sequence_number_range().and_then(|r| r.ending_sequence_number()).is_some();
        let reading = ShardRead { stream_arn, shard_id: &id, closed, records_per_call };
        let outcome = read_shard(client, calls, reading, &mut cp, book, (now, until), deadline, &mut gaps).await?;
        read.records += outcome.records;
        read.caught_up &= outcome.caught_up;
        if !outcome.caught_up {
            behind.insert(id.clone());
        }
        if let Some(through) = outcome.through {
            read_to.insert(id.clone(), through);
        }
        read.cursor.shards.insert(id, cp);
    }
    if let Some(bound) = resharded_bound(&parents_of(&shards), &behind, &read_to) {
        book.read_stopped_all(bound);
    }
    read.cursor.stream_arn = stream_arn.to_owned();
    read.cursor.stream_created = created;
    read.gaps = gaps.text;
    read.lost = gaps.lost;
    Ok(read)
}

/// The gaps a read found: as warnings, and as periods (see the module docs for the bounds).
#[derive(Debug, Default)]
struct Gaps {
    text: Vec<String>,
    lost: Vec<AgentStateGap>,
    /// now − the stream's retention: records older than this are trimmed.
    readable_from: DateTime<Utc>,
    /// Where reading stopped when a checkpoint does not say (see [`check_cursor`]).
    last_known: Option<DateTime<Utc>>,
}

impl Gaps {
    /// A gap from `from` (where reading stopped; `None`: unknown, [`Gaps::last_known`]) to `to`.
    fn push(&mut self, text: String, from: Option<DateTime<Utc>>, to: DateTime<Utc>, reason: GapReason) {
        self.text.push(text);
        if let Some(gap) = from.or(self.last_known).and_then(|from| AgentStateGap::new(from, to, reason))
            && !self.lost.contains(&gap)
        {
            self.lost.push(gap);
        }
    }
}

/// The previous cursor against the stream as it is now: the checkpoints still usable, and the gaps (records after
/// a checkpoint that may be gone; see the module docs for the bounds).
fn check_cursor(
    previous: Option<StreamCursor>,
    stream_arn: &str,
    created: Option<DateTime<Utc>>,
    listed: &BTreeSet<&str>,
    now: DateTime<Utc>,
    retention: chrono::Duration,
) -> (Gaps, BTreeMap<String, ShardCheckpoint>) {
    let readable_from = now - retention;
    let mut gaps = Gaps { readable_from, ..Gaps::default() };
    let mut checkpoints = BTreeMap::new();
    // A cursor of another stream (the setting changed) is no cursor: the new stream is read from its trim horizon.
    let previous = previous.filter(|c| c.stream_arn == stream_arn);
    if let Some(prev) = previous {
        // Where reading stopped when a checkpoint does not say: the earliest read of a shard not read to its end
        // (records after it may be in the lost part), else since when the stream existed.
        gaps.last_known =
            prev.shards.values().filter(|cp| !cp.done).filter_map(|cp| cp.read_through).min().or(prev.stream_created);
        if prev.stream_created.is_some_and(|c| Some(c) != created) {
            // Unread records of the old stream are gone; the new one is readable from its creation (or from its
            // trim horizon, if it is older than the retention).
            let to = created.map_or(now, |c| c.max(readable_from));
            gaps.push(
                format!(
                    "agent event stream {stream_arn} was re-created since the last read: agent states between the \
                     last read and the new stream's first record are missing"
                ),
                None,
                to,
                GapReason::StreamRecreated,
            );
        } else {
            for (id, cp) in prev.shards {
                if !listed.contains(id.as_str()) {
                    if !cp.done {
                        gaps.push(
                            format!(
                                "agent event stream shard {id} expired before it was read to its end: agent states \
                                 after {} are missing",
                                cp.read_through.map_or_else(|| "its last checkpoint".into(), |t| t.to_rfc3339())
                            ),
                            cp.read_through,
                            readable_from,
                            GapReason::ShardExpired,
                        );
                    }
                    continue;
                }
                if !cp.done
                    && let Some(read) = cp.read_through
                    && read < readable_from
                {
                    gaps.push(
                        format!(
                            "agent event stream shard {id} was last read at {} and the stream keeps {} h: agent \
                             states until {} may be missing",
                            read.to_rfc3339(),
                            retention.num_hours(),
                            readable_from.to_rfc3339()
                        ),
                        Some(read),
                        readable_from,
                        GapReason::CheckpointExpired,
                    );
                }
                checkpoints.insert(id, cp);
            }
        }
    }

    (gaps, checkpoints)
}

#[derive(Debug)]
struct ShardOutcome {
    records: u64,
    caught_up: bool,
    /// How far the read applied agent events ([`Applying::through`]; `None`: none applied).
    through: Option<DateTime<Utc>>,
}

/// The shard [`read_shard`] reads, and how.
#[derive(Clone, Copy)]
struct ShardRead<'a> {
    stream_arn: &'a str,
    shard_id: &'a str,
    /// The shard is closed (resharded): it has an end.
    closed: bool,
    records_per_call: i32,
}

/// The agents whose records one read of a shard applied, and how far it read: what bounds their open states when
/// the read stops before the shard's end ([`SegmentBook::read_stopped`]).
#[derive(Default)]
struct Applying {
    agents: BTreeSet<String>,
    /// The earlier of the `EventTimestamp` and the `ApproximateArrivalTimestamp` of the last agent event applied
    /// (of a record without either, the one before it).
    through: Option<DateTime<Utc>>,
}

impl Applying {
    /// The read stops before the shard's end: its agents' open states are known up to [`Applying::through`] (not
    /// known at all: no further than their first midnight).
    fn stopped(self, book: &mut SegmentBook, records: u64) -> ShardOutcome {
        book.read_stopped(&self.agents, self.through.unwrap_or(DateTime::<Utc>::MIN_UTC));
        ShardOutcome { records, caught_up: false, through: self.through }
    }

    /// The read reached its end (or the read's end): nothing to bound.
    fn caught_up(&self, records: u64) -> ShardOutcome {
        ShardOutcome { records, caught_up: true, through: self.through }
    }
}

#[allow(clippy::too_many_arguments)]
async fn read_shard(
    client: &Client,
    calls: &Call,
    shard: ShardRead<'_>,
    cp: &mut ShardCheckpoint,
    book: &mut SegmentBook,
    (now, until): (DateTime<Utc>, Option<DateTime<Utc>>),
    deadline: Deadline,
    gaps: &mut Gaps,
) -> Result<ShardOutcome, ConnectorError> {
    let ShardRead { stream_arn, shard_id, closed, records_per_call } = shard;
    let mut records = 0;
    // Empty pages in a row that brought the read no nearer the tip (`MillisBehindLatest` not lower than before).
    let (mut empty_behind, mut last_behind) = (0, None);
    let mut applying = Applying::default();
    let NextIterator::Got(mut iterator) = next_iterator(client, calls, shard, cp, deadline, gaps).await? else {
        return Ok(applying.stopped(book, records));
    };
    loop {
        let Some(it) = iterator.take() else {
            // No next iterator: a closed shard read to its end.
            cp.done = closed;
            cp.read_through = Some(now);
            return Ok(applying.caught_up(records));
        };
        if deadline.remaining() <= READ_MARGIN {
            return Ok(applying.stopped(book, records));
        }
        let page = match call(calls, "kinesis:GetRecords", deadline, || {
            client.get_records().stream_arn(stream_arn).shard_iterator(&it).limit(records_per_call).send()
        })
        .await
        {
            Ok(page) => page,
            Err(ConnectorError::Configuration { message }) if message.contains("ExpiredIteratorException") => {
                match next_iterator(client, calls, shard, cp, deadline, gaps).await? {
                    NextIterator::Got(next) => iterator = next,
                    NextIterator::Throttled => return Ok(applying.stopped(book, records)),
                }
                continue;
            }
            Err(ConnectorError::RateLimited { .. }) => {
                // A shard's read limits (5 calls and 2 MB a second) are shared with the stream's other consumers, and
                // a page of 1,000 agent events of a few KB each uses a second's bytes: throttling that outlasts the
                // retries stops the read here, as the deadline does (the checkpoint stays on the last record
                // applied, the next run reads on). Until 2026-12-08 it failed the run, statistics included, and a
                // large backlog could fail every run the same way.
                tracing::warn!(shard = shard_id, records, "GetRecords throttled past its retries: the read stops here");
                return Ok(applying.stopped(book, records));
            }
            Err(e) => return Err(e),
        };
        for record in page.records() {
            match book.apply_before(record.data().as_ref(), until, now)? {
                Applied::Left => {
                    // A record from the read's end on: it and the rest of the shard wait for the next read (the
                    // checkpoint stays on the last record applied), read through `until`.
                    cp.read_through = until.map(|until| until.min(now));
                    return Ok(applying.caught_up(records));
                }
                Applied::Event { agent, at } => {
                    let arrived = record.approximate_arrival_timestamp().and_then(to_chrono);
                    let through = match (at, arrived) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                    applying.through = through.or(applying.through);
                    applying.agents.insert(agent);
                }
                Applied::Ignored => {}
            }
            cp.sequence = Some(record.sequence_number().to_owned());
            records += 1;
        }
        let behind = page.millis_behind_latest();
        iterator = page.next_shard_iterator().map(str::to_owned);
        if page.records().is_empty() {
            if iterator.is_none() {
                continue; // the end of a closed shard: handled at the top
            }
            // An empty page that offers more: only `MillisBehindLatest` says whether it is the tip (until
            // 2026-12-07 a missing one read as 0, the tip: a shard's rest skipped, a closed one marked done).
            let behind = behind.ok_or_else(|| {
                ConnectorError::malformed(format!("GetRecords of shard {shard_id}: no MillisBehindLatest"))
            })?;
            if closed && behind == 0 {
                // A closed shard whose last page is empty but still offers an iterator (emulators do): its end.
                cp.done = true;
                cp.read_through = Some(now);
                return Ok(applying.caught_up(records));
            }
            if behind == 0 {
                cp.read_through = Some(now);
                return Ok(applying.caught_up(records));
            }
            // Kinesis may answer many empty pages before a stretch with records ("it might take multiple calls
            // to get to a portion of the shard that contains records"); each one nearer the tip is progress. Until
            // 2026-12-07 any 20 in a row stopped the read, and as the checkpoint only moves with a record applied,
            // every later run stopped at the same place: the shard stalled until its records expired.
            if last_behind.is_some_and(|last| behind < last) {
                empty_behind = 0;
            } else {
                empty_behind += 1;
            }
            last_behind = Some(behind);
            if empty_behind >= MAX_EMPTY_PAGES_BEHIND {
                return Ok(applying.stopped(book, records));
            }
        } else {
            empty_behind = 0;
            last_behind = behind.or(last_behind);
        }
    }
}

/// What [`next_iterator`] got.
enum NextIterator {
    /// The shard's iterator (`None`: a closed shard read to its end).
    Got(Option<String>),
    /// `GetShardIterator` throttled past its retries: it has its own limit per shard (5 a second), shared with the
    /// stream's other consumers, and the read stops there, as at the deadline.
    Throttled,
}

/// The iterator [`read_shard`] reads `shard` on with ([`shard_iterator`]). An open shard always has a position to
/// read from: an answer without one is malformed, not "read to the end" (until 2026-12-07 it was, and the shard
/// counted as read to its tip).
async fn next_iterator(
    client: &Client,
    calls: &Call,
    shard: ShardRead<'_>,
    cp: &mut ShardCheckpoint,
    deadline: Deadline,
    gaps: &mut Gaps,
) -> Result<NextIterator, ConnectorError> {
    let ShardRead { stream_arn, shard_id, closed, .. } = shard;
    match shard_iterator(client, calls, stream_arn, shard_id, cp, deadline, gaps).await {
        Ok(None) if !closed => {
            Err(ConnectorError::malformed(format!("GetShardIterator of open shard {shard_id}: no ShardIterator")))
        }
        Ok(iterator) => Ok(NextIterator::Got(iterator)),
        Err(ConnectorError::RateLimited { .. }) => {
            tracing::warn!(shard = shard_id, "GetShardIterator throttled past its retries: the read stops here");
            Ok(NextIterator::Throttled)
        }
        Err(e) => Err(e),
    }
}

async fn shard_iterator(
    client: &Client,
    calls: &Call,
    stream_arn: &str,
    shard_id: &str,
    cp: &mut ShardCheckpoint,
    deadline: Deadline,
    gaps: &mut Gaps,
) -> Result<Option<String>, ConnectorError> {
    if let Some(seq) = cp.sequence.clone() {
        let answer = call(calls, "kinesis:GetShardIterator", deadline, || {
            client
                .get_shard_iterator()
                .stream_arn(stream_arn)
                .shard_id(shard_id)
                .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                .starting_sequence_number(&seq)
                .send()
        })
        .await;
        match answer {
            Ok(out) => return Ok(out.shard_iterator().map(str::to_owned)),
            Err(ConnectorError::Configuration { message }) if message.contains("InvalidArgumentException") => {
                // Kinesis refuses a sequence number it trimmed: the checkpoint expired.
                let to = gaps.readable_from;
                gaps.push(
                    format!(
                        "agent event stream shard {shard_id}: Kinesis no longer accepts the checkpoint (sequence \
                         {seq}); agent states after it may be missing"
                    ),
                    cp.read_through,
                    to,
                    GapReason::CheckpointExpired,
                );
                cp.sequence = None;
            }
            Err(e) => return Err(e),
        }
    }
    let out = call(calls, "kinesis:GetShardIterator", deadline, || {
        client
            .get_shard_iterator()
            .stream_arn(stream_arn)
            .shard_id(shard_id)
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
    })
    .await?;
    Ok(out.shard_iterator().map(str::to_owned))
}

async fn list_shards(
    client: &Client,
    calls: &Call,
    stream_arn: &str,
    deadline: Deadline,
) -> Result<Vec<Shard>, ConnectorError> {
    let mut shards = Vec::new();
    let mut tokens = Tokens::new("ListShards", 1000);
    let mut token: Option<String> = None;
    loop {
        let page = call(calls, "kinesis:ListShards", deadline, || {
            let request = client.list_shards();
            match &token {
                // With a NextToken, the stream must not be named again (the model says so).
                Some(t) => request.next_token(t).send(),
                None => request.stream_arn(stream_arn).send(),
            }
        })
        .await?;
        shards.extend(page.shards().iter().cloned());
        match tokens.next(page.next_token())? {
            Some(t) => token = Some(t),
            None => return Ok(shards),
        }
    }
}

/// Shards ordered so every parent comes before its children (listing order otherwise).
/// A shard's parents: a split's one, a merge's two.
fn parent_ids(shard: &Shard) -> impl Iterator<Item = &str> {
    [shard.parent_shard_id(), shard.adjacent_parent_shard_id()].into_iter().flatten()
}

/// Each shard's parents ([`parent_ids`]).
fn parents_of(shards: &[Shard]) -> BTreeMap<String, Vec<String>> {
    shards.iter().map(|s| (s.shard_id().to_owned(), parent_ids(s).map(str::to_owned).collect())).collect()
}

/// A resharded stream moves an agent's records from a parent shard to its children: a read that took a parent
/// to its end but not a child (skipped at the deadline, or stopped in it) knows the states of the parent's agents
/// only up to where the parent ended, though the child's stop bounds only the agents of the records it applied.
/// The earliest point read to in such a parent (this read's, `read_to`), if any: every open state is bounded there
/// ([`SegmentBook::read_stopped_all`], conservatively: which agents the child holds is not known).
fn resharded_bound(
    parents: &BTreeMap<String, Vec<String>>,
    behind: &BTreeSet<String>,
    read_to: &BTreeMap<String, DateTime<Utc>>,
) -> Option<DateTime<Utc>> {
    behind
        .iter()
        .flat_map(|child| parents.get(child).into_iter().flatten())
        .filter_map(|p| read_to.get(p))
        .min()
        .copied()
}

fn order_parents_first(shards: &[Shard]) -> Vec<&Shard> {
    let ids: BTreeSet<&str> = shards.iter().map(|s| s.shard_id()).collect();
    let mut placed = BTreeSet::new();
    let mut out = Vec::with_capacity(shards.len());
    while out.len() < shards.len() {
        let before = out.len();
        for s in shards {
            if placed.contains(s.shard_id()) {
                continue;
            }
            let ready = parent_ids(s).all(|p| !ids.contains(p) || placed.contains(p));
            if ready {
                placed.insert(s.shard_id());
                out.push(s);
            }
        }
        if out.len() == before {
            // A parent cycle cannot happen in Kinesis; keep the rest in listing order rather than loop.
            out.extend(shards.iter().filter(|s| !placed.contains(s.shard_id())));
            break;
        }
    }
    out
}

fn to_chrono(t: &aws_smithy_types::DateTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.secs(), t.subsec_nanos())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const ARN: &str = "arn:aws:kinesis:us-east-1:123456789012:stream/agent-events";

    fn t(d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, d, h, 0, 0).unwrap()
    }
    fn cp(read_through: Option<DateTime<Utc>>, done: bool) -> ShardCheckpoint {
        ShardCheckpoint { sequence: Some("49".into()), read_through, done }
    }
    fn cursor(created: DateTime<Utc>, shards: &[(&str, ShardCheckpoint)]) -> StreamCursor {
        StreamCursor {
            stream_arn: ARN.into(),
            stream_created: Some(created),
            shards: shards.iter().map(|(id, c)| ((*id).to_owned(), c.clone())).collect(),
        }
    }
    fn gap(from: DateTime<Utc>, to: DateTime<Utc>, reason: GapReason) -> AgentStateGap {
        AgentStateGap::new(from, to, reason).unwrap()
    }
    const DAY: chrono::Duration = chrono::Duration::hours(24);

    #[test]
    fn a_child_shard_not_read_to_its_end_bounds_every_open_state_where_its_parent_was_read_to() {
        let parents = BTreeMap::from([
            ("parent".to_owned(), vec![]),
            ("child-a".to_owned(), vec!["parent".to_owned()]),
            ("child-b".to_owned(), vec!["parent".to_owned(), "other".to_owned()]),
            ("other".to_owned(), vec![]),
        ]);
        let read_to = BTreeMap::from([("parent".to_owned(), t(5, 23)), ("other".to_owned(), t(5, 22))]);
        // Children read to their end: nothing to bound.
        assert_eq!(resharded_bound(&parents, &BTreeSet::new(), &read_to), None);
        // A child behind: where its parent was read to (the earlier parent of a merge).
        assert_eq!(resharded_bound(&parents, &BTreeSet::from(["child-a".to_owned()]), &read_to), Some(t(5, 23)));
        assert_eq!(resharded_bound(&parents, &BTreeSet::from(["child-b".to_owned()]), &read_to), Some(t(5, 22)));
        // A shard behind without a parent read this time (its own stop bounds its agents): nothing more.
        assert_eq!(resharded_bound(&parents, &BTreeSet::from(["parent".to_owned()]), &read_to), None);
        assert_eq!(resharded_bound(&parents, &BTreeSet::from(["child-a".to_owned()]), &BTreeMap::new()), None);
    }

    #[test]
    fn a_checkpoint_older_than_the_retention_is_a_gap_from_it_to_the_trim_horizon() {
        let now = t(10, 12);
        let prev = cursor(t(1, 0), &[("a", cp(Some(t(9, 6)), false)), ("b", cp(Some(t(10, 11)), false))]);
        let listed = BTreeSet::from(["a", "b"]);
        let (gaps, kept) = check_cursor(Some(prev), ARN, Some(t(1, 0)), &listed, now, DAY);
        assert_eq!(gaps.lost, vec![gap(t(9, 6), t(9, 12), GapReason::CheckpointExpired)]);
        assert_eq!(gaps.text.len(), 1);
        assert!(gaps.text[0].contains("keeps 24 h"), "{:?}", gaps.text);
        assert_eq!(kept.len(), 2, "both checkpoints are still used (the records may still be there)");
        // Read within the retention: nothing.
        let fresh = cursor(t(1, 0), &[("a", cp(Some(t(9, 13)), false))]);
        let (gaps, _) = check_cursor(Some(fresh), ARN, Some(t(1, 0)), &listed, now, DAY);
        assert!(gaps.lost.is_empty() && gaps.text.is_empty());
        // A closed shard read to its end never has a gap, however old.
        let done = cursor(t(1, 0), &[("a", cp(Some(t(2, 0)), true))]);
        let (gaps, _) = check_cursor(Some(done), ARN, Some(t(1, 0)), &listed, now, DAY);
        assert!(gaps.lost.is_empty() && gaps.text.is_empty());
    }

    #[test]
    fn a_shard_gone_before_its_end_is_a_gap_and_an_unknown_start_is_the_earliest_read_of_a_shard_not_done() {
        let now = t(10, 12);
        let prev = cursor(
            t(1, 0),
            &[("gone", cp(Some(t(8, 0)), false)), ("gone-unread", cp(None, false)), ("a", cp(Some(t(10, 0)), false))],
        );
        let listed = BTreeSet::from(["a"]);
        let (gaps, kept) = check_cursor(Some(prev), ARN, Some(t(1, 0)), &listed, now, DAY);
        assert_eq!(
            gaps.lost,
            vec![gap(t(8, 0), t(9, 12), GapReason::ShardExpired)],
            "the shard never read to its tip starts at the earliest read of a shard not done (the same gap)"
        );
        assert_eq!(gaps.text.len(), 2, "{:?}", gaps.text);
        assert_eq!(kept.keys().collect::<Vec<_>>(), ["a"]);
        // Without any read known, the old stream's creation.
        let prev = cursor(t(1, 0), &[("gone-unread", cp(None, false))]);
        let (gaps, _) = check_cursor(Some(prev), ARN, Some(t(1, 0)), &BTreeSet::new(), now, DAY);
        assert_eq!(gaps.lost, vec![gap(t(1, 0), t(9, 12), GapReason::ShardExpired)]);
    }

    #[test]
    fn a_recreated_stream_is_a_gap_from_the_last_read_to_its_creation() {
        let now = t(10, 12);
        let prev = cursor(t(1, 0), &[("a", cp(Some(t(10, 8)), false)), ("b", cp(Some(t(10, 9)), true))]);
        let listed = BTreeSet::from(["shardId-000000000000"]);
        let (gaps, kept) = check_cursor(Some(prev.clone()), ARN, Some(t(10, 10)), &listed, now, DAY);
        assert_eq!(
            gaps.lost,
            vec![gap(t(10, 8), t(10, 10), GapReason::StreamRecreated)],
            "from the earliest read of a shard not read to its end (b was done)"
        );
        assert!(gaps.text[0].contains("re-created"));
        assert!(kept.is_empty(), "the new stream is read from its start");
        // Re-created longer ago than the retention: its first records are gone too.
        let old = cursor(t(1, 0), &[("a", cp(Some(t(3, 0)), false))]);
        let (gaps, _) = check_cursor(Some(old), ARN, Some(t(5, 0)), &listed, now, DAY);
        assert_eq!(gaps.lost, vec![gap(t(3, 0), t(9, 12), GapReason::StreamRecreated)]);
    }

    #[test]
    fn another_stream_or_no_cursor_is_no_gap() {
        let now = t(10, 12);
        let mut other = cursor(t(1, 0), &[("a", cp(Some(t(2, 0)), false))]);
        other.stream_arn = "arn:aws:kinesis:us-east-1:123456789012:stream/old".into();
        let (gaps, kept) = check_cursor(Some(other), ARN, Some(t(1, 0)), &BTreeSet::from(["a"]), now, DAY);
        assert!(gaps.lost.is_empty() && gaps.text.is_empty() && kept.is_empty());
        let (gaps, _) = check_cursor(None, ARN, Some(t(1, 0)), &BTreeSet::from(["a"]), now, DAY);
        assert!(gaps.lost.is_empty() && gaps.text.is_empty());
    }

    /// `read_shard` against a mocked Kinesis (the cases moto does not make: empty pages behind the tip, answers
    /// without `MillisBehindLatest`).
    mod reading {
        use super::*;
        use aws_sdk_kinesis::operation::get_records::GetRecordsOutput;
        use aws_sdk_kinesis::operation::get_shard_iterator::GetShardIteratorOutput;
        use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};

        fn iterator() -> Rule {
            mock!(Client::get_shard_iterator)
                .then_output(|| GetShardIteratorOutput::builder().shard_iterator("first").build())
        }
        /// An empty page that offers a next iterator, `behind` ms from the tip.
        fn empty(behind: Option<i64>) -> Rule {
            mock!(Client::get_records).then_output(move || {
                GetRecordsOutput::builder()
                    .set_records(Some(vec![]))
                    .next_shard_iterator("next")
                    .set_millis_behind_latest(behind)
                    .build()
                    .expect("records are set")
            })
        }

        async fn read(pages: Vec<Rule>, closed: bool) -> (Result<ShardOutcome, ConnectorError>, ShardCheckpoint) {
            let rules: Vec<Rule> = std::iter::once(iterator()).chain(pages).collect();
            read_on(&mock_client!(aws_sdk_kinesis, RuleMode::Sequential, &rules), closed).await
        }

        /// One shard read through `client` from a fresh checkpoint, at 10:12 with a minute to go.
        async fn read_on(client: &Client, closed: bool) -> (Result<ShardOutcome, ConnectorError>, ShardCheckpoint) {
            let mut cp = ShardCheckpoint::default();
            let mut book = SegmentBook::default();
            let mut gaps = Gaps::default();
            let shard = ShardRead { stream_arn: ARN, shard_id: "shardId-000000000000", closed, records_per_call: 100 };
            let deadline = Deadline::after(std::time::Duration::from_secs(60));
            let now = t(10, 12);
            let outcome =
                read_shard(client, &Call::default(), shard, &mut cp, &mut book, (now, None), deadline, &mut gaps).await;
            (outcome, cp)
        }

        #[tokio::test]
        async fn empty_pages_that_near_the_tip_are_read_on_past_the_guard() {
            // 30 empty pages, each nearer the tip, then the tip: read to it (until 2026-12-07 the 20th empty page
            // stopped the read, and every later run stopped at the same place).
            let mut pages: Vec<Rule> = (1..=30).rev().map(|i| empty(Some(i * 60_000))).collect();
            pages.push(empty(Some(0)));
            let (outcome, cp) = read(pages, false).await;
            let outcome = outcome.expect("read");
            assert!(outcome.caught_up, "read to the tip");
            assert_eq!(cp.read_through, Some(t(10, 12)));
        }

        #[tokio::test]
        async fn empty_pages_that_come_no_nearer_stop_the_read_at_the_guard() {
            let pages: Vec<Rule> = (0..MAX_EMPTY_PAGES_BEHIND + 5).map(|_| empty(Some(5_000))).collect();
            let (outcome, cp) = read(pages, false).await;
            assert!(!outcome.expect("read").caught_up, "stopped behind the tip");
            assert_eq!(cp.read_through, None, "not claimed read");
        }

        #[tokio::test]
        async fn an_open_shard_without_a_shard_iterator_is_malformed_not_read_to_its_end() {
            let none = mock!(Client::get_shard_iterator).then_output(|| GetShardIteratorOutput::builder().build());
            let (outcome, cp) = read_on(&mock_client!(aws_sdk_kinesis, RuleMode::Sequential, [&none]), false).await;
            assert!(matches!(outcome, Err(ConnectorError::Malformed { .. })), "{outcome:?}");
            assert!(cp.read_through.is_none() && !cp.done, "not claimed read: {cp:?}");
        }

        #[tokio::test(start_paused = true)]
        async fn a_read_throttled_past_its_retries_stops_there_and_fails_nothing() {
            use aws_sdk_kinesis::error::ErrorMetadata;
            use aws_sdk_kinesis::operation::get_records::GetRecordsError;
            use aws_sdk_kinesis::operation::get_shard_iterator::GetShardIteratorError;
            use aws_sdk_kinesis::types::error::ProvisionedThroughputExceededException;
            let exceeded = || {
                let code = ErrorMetadata::builder().code("ProvisionedThroughputExceededException").build();
                ProvisionedThroughputExceededException::builder().message("Rate exceeded").meta(code).build()
            };
            let throttled = mock!(Client::get_records)
                .then_error(move || GetRecordsError::ProvisionedThroughputExceededException(exceeded()));
            let client = mock_client!(aws_sdk_kinesis, RuleMode::MatchAny, [&iterator(), &throttled]);
            let (outcome, cp) = read_on(&client, false).await;
            let outcome = outcome.expect("a stop, not a failed run");
            assert!(!outcome.caught_up, "stopped behind the tip");
            assert!(cp.read_through.is_none() && !cp.done, "not claimed read: {cp:?}");

            // The shard iterator throttled the same way: the same stop.
            let throttled = mock!(Client::get_shard_iterator)
                .then_error(move || GetShardIteratorError::ProvisionedThroughputExceededException(exceeded()));
            let (outcome, cp) = read_on(&mock_client!(aws_sdk_kinesis, RuleMode::MatchAny, [&throttled]), false).await;
            assert!(!outcome.expect("a stop, not a failed run").caught_up);
            assert!(cp.read_through.is_none() && !cp.done, "not claimed read: {cp:?}");
        }

        #[tokio::test]
        async fn an_empty_page_without_millis_behind_latest_is_malformed_not_the_tip() {
            for closed in [false, true] {
                let (outcome, cp) = read(vec![empty(None)], closed).await;
                assert!(matches!(outcome, Err(ConnectorError::Malformed { .. })), "closed {closed}: {outcome:?}");
                assert!(!cp.done && cp.read_through.is_none(), "closed {closed}: {cp:?}");
            }
        }
    }
}
