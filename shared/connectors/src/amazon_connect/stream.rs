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
//!   The shard is then read from its trim horizon.
//! - `ExpiredIteratorException` (an iterator older than 5 minutes) is not a gap: a new iterator is asked for after
//!   the last sequence number applied.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::types::{Shard, ShardIteratorType};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::events::SegmentBook;
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
    /// Every shard was read up to its tip (false when the deadline cut the read short).
    pub caught_up: bool,
    pub records: u64,
}

/// Page size of `GetRecords` and a guard against a stream that never ends.
pub const RECORDS_PER_CALL: i32 = 1000;
const MAX_EMPTY_PAGES_BEHIND: u32 = 20;
/// Margin kept before the deadline: reading stops (with a consistent cursor) rather than being cut mid-call.
const READ_MARGIN: std::time::Duration = std::time::Duration::from_secs(2);

pub async fn read_stream(
    client: &Client,
    calls: &Call,
    stream_arn: &str,
    previous: Option<StreamCursor>,
    book: &mut SegmentBook,
    now: DateTime<Utc>,
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

    let mut gaps = Vec::new();
    let mut checkpoints = BTreeMap::new();
    // A cursor of another stream (the setting changed) is no cursor: the new stream is read from its trim horizon.
    let previous = previous.filter(|c| c.stream_arn == stream_arn);
    if let Some(prev) = previous {
        if prev.stream_created.is_some_and(|c| Some(c) != created) {
            gaps.push(format!(
                "agent event stream {stream_arn} was re-created since the last read: agent states between the last \
                 read and the new stream's first record are missing"
            ));
        } else {
            let listed: BTreeSet<&str> = shards.iter().map(|s| s.shard_id()).collect();
            for (id, cp) in prev.shards {
                if !listed.contains(id.as_str()) {
                    if !cp.done {
                        gaps.push(format!(
                            "agent event stream shard {id} expired before it was read to its end: agent states \
                             after {} are missing",
                            cp.read_through.map_or_else(|| "its last checkpoint".into(), |t| t.to_rfc3339())
                        ));
                    }
                    continue;
                }
                if !cp.done
                    && let Some(read) = cp.read_through
                    && read < now - retention
                {
                    gaps.push(format!(
                        "agent event stream shard {id} was last read at {} and the stream keeps {} h: agent states \
                         until {} may be missing",
                        read.to_rfc3339(),
                        retention.num_hours(),
                        (now - retention).to_rfc3339()
                    ));
                }
                checkpoints.insert(id, cp);
            }
        }
    }

    let mut read = StreamRead { caught_up: true, ..Default::default() };
    for shard in order_parents_first(&shards) {
        let id = shard.shard_id().to_owned();
        let mut cp = checkpoints.remove(&id).unwrap_or_default();
        if cp.done {
            read.cursor.shards.insert(id, cp);
            continue;
        }
        if deadline.remaining() <= READ_MARGIN {
            read.caught_up = false;
            read.cursor.shards.insert(id, cp);
            continue;
        }
        let closed = shard.sequence_number_range().and_then(|r| r.ending_sequence_number()).is_some();
        let outcome =
            read_shard(client, calls, stream_arn, &id, &mut cp, closed, book, now, deadline, &mut gaps).await?;
        read.records += outcome.records;
        read.caught_up &= outcome.caught_up;
        read.cursor.shards.insert(id, cp);
    }
    read.cursor.stream_arn = stream_arn.to_owned();
    read.cursor.stream_created = created;
    read.gaps = gaps;
    Ok(read)
}

struct ShardOutcome {
    records: u64,
    caught_up: bool,
}

#[allow(clippy::too_many_arguments)]
async fn read_shard(
    client: &Client,
    calls: &Call,
    stream_arn: &str,
    shard_id: &str,
    cp: &mut ShardCheckpoint,
    closed: bool,
    book: &mut SegmentBook,
    now: DateTime<Utc>,
    deadline: Deadline,
    gaps: &mut Vec<String>,
) -> Result<ShardOutcome, ConnectorError> {
    let mut iterator = shard_iterator(client, calls, stream_arn, shard_id, cp, deadline, gaps).await?;
    let mut records = 0;
    let mut empty_behind = 0;
    loop {
        let Some(it) = iterator.take() else {
            // No next iterator: a closed shard read to its end.
            cp.done = closed;
            cp.read_through = Some(now);
            return Ok(ShardOutcome { records, caught_up: true });
        };
        if deadline.remaining() <= READ_MARGIN {
            return Ok(ShardOutcome { records, caught_up: false });
        }
        let page = match call(calls, "kinesis:GetRecords", deadline, || {
            client.get_records().stream_arn(stream_arn).shard_iterator(&it).limit(RECORDS_PER_CALL).send()
        })
        .await
        {
            Ok(page) => page,
            Err(ConnectorError::Configuration { message }) if message.contains("ExpiredIteratorException") => {
                iterator = shard_iterator(client, calls, stream_arn, shard_id, cp, deadline, gaps).await?;
                continue;
            }
            Err(e) => return Err(e),
        };
        for record in page.records() {
            book.apply(record.data().as_ref())?;
            cp.sequence = Some(record.sequence_number().to_owned());
            records += 1;
        }
        let behind = page.millis_behind_latest().unwrap_or(0);
        iterator = page.next_shard_iterator().map(str::to_owned);
        if page.records().is_empty() {
            if iterator.is_none() {
                continue; // the end of a closed shard: handled at the top
            }
            if closed && behind == 0 {
                // A closed shard whose last page is empty but still offers an iterator (emulators do): its end.
                cp.done = true;
                cp.read_through = Some(now);
                return Ok(ShardOutcome { records, caught_up: true });
            }
            if behind == 0 {
                cp.read_through = Some(now);
                return Ok(ShardOutcome { records, caught_up: true });
            }
            empty_behind += 1;
            if empty_behind >= MAX_EMPTY_PAGES_BEHIND {
                return Ok(ShardOutcome { records, caught_up: false });
            }
        } else {
            empty_behind = 0;
        }
    }
}

async fn shard_iterator(
    client: &Client,
    calls: &Call,
    stream_arn: &str,
    shard_id: &str,
    cp: &mut ShardCheckpoint,
    deadline: Deadline,
    gaps: &mut Vec<String>,
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
                gaps.push(format!(
                    "agent event stream shard {shard_id}: Kinesis no longer accepts the checkpoint (sequence {seq}); \
                     agent states after it may be missing"
                ));
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
    let mut token: Option<String> = None;
    for _ in 0..1000 {
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
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_owned()),
            _ => return Ok(shards),
        }
    }
    Err(ConnectorError::malformed("ListShards: NextToken never ends"))
}

/// Shards ordered so every parent comes before its children (listing order otherwise).
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
            let ready = [s.parent_shard_id(), s.adjacent_parent_shard_id()]
                .into_iter()
                .flatten()
                .all(|p| !ids.contains(p) || placed.contains(p));
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
