//! The read side: mappable queues, their 15-minute statistics and the agent states of mapped agents (function
//! `queues-query`). Storage is reached through [`QueryStore`]; everything here is pure logic and orchestration.

pub mod cost;
pub mod params;

use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use acd_domain::{INTERVAL_MINUTES, IntegrationId, QueueId, TenantId};
use chrono::{DateTime, Duration, Utc};
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use crate::cursor::Listing;
use crate::error::ApiError;
use crate::mappings::{DEFAULT_ACTIVITY, ExternalStatusRecord};
use crate::ports::StoreError;

/// Page sizes of `GET /queues` (and of the mapping listings).
pub const DEFAULT_PAGE_SIZE: usize = 100;
pub const MAX_PAGE_SIZE: usize = 500;
/// Page sizes of `GET /agent-states` (segments per page).
pub const DEFAULT_STATES_PAGE_SIZE: usize = 1000;
pub const MAX_STATES_PAGE_SIZE: usize = 5000;
/// Mapped agents read per round while filling a page of agent states, and how many of them are read concurrently.
const AGENT_BATCH: usize = 50;
/// A page of agent states reads at most about this many items (mapped agents, and segments, each Query counting at
/// least one), this many agents' segments and this many Queries (mapped-agent pages, statuses, each agent's
/// segments, and the reads that follow a segment's pieces beyond the range, one a day); a page that is still not
/// full then ends early with a cursor — after a whole agent, or after a round of mapped agents that were all
/// another employee's (ids that begin `{employee_id}#` share the index prefix the filter reads). Like `/queues`, a
/// sparse request must not read a whole tenant in one request, nor send Queries for longer than the function runs.
pub const MAX_STATE_ITEMS_READ_PER_PAGE: u64 = 20_000;
pub const MAX_STATE_AGENTS_READ_PER_PAGE: u64 = 1_000;
pub const MAX_STATE_QUERIES_PER_PAGE: u64 = 2_000;
const CONCURRENT_AGENT_READS: usize = 8;

pub use crate::ports::query::{
    AgentsFrom, Completeness, IntegrationGap, IntervalRecord, MappedAgent, QueryStore, QueuePage, QueueQuery,
    QueueRecord, SegmentRecord, TextFilter,
};

/// One page of `GET /agent-states`: the segments, the cursor of the next page, and every stored agent-state gap
/// of the tenant's integrations that overlaps the range (on every page; not filtered by employee).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatesPage {
    pub items: Vec<AgentState>,
    pub next_cursor: Option<String>,
    pub gaps: Vec<IntegrationGap>,
}

/// One 15-minute interval of a queue as the API returns it.
#[derive(Debug, Clone, PartialEq)]
pub struct IntervalView {
    pub start: DateTime<Utc>,
    /// The import has completed this interval: absent data is zero. Otherwise the numbers are preliminary
    /// (`stats: Some`) or not there at all (`None`).
    pub complete: bool,
    pub stats: Option<IntervalRecord>,
}

/// The intervals of one queue and range.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueIntervals {
    pub queue: QueueRecord,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Where the queue's complete intervals start (the later of the integration's first back-fill start and the
    /// queue's own `complete_from`); `None` when nothing is complete (`complete_through` is `None`), or with a
    /// `complete_through` for an import state from before its start was recorded (complete from the beginning).
    pub complete_from: Option<DateTime<Utc>>,
    /// Intervals starting at or after `complete_from` and ending at or before this are complete.
    pub complete_through: Option<DateTime<Utc>>,
    pub intervals: Vec<IntervalView>,
}

/// Every interval of `[from, to)` (quarter-hour aligned): stored ones as stored, absent complete ones zero, and
/// absent incomplete ones without numbers. An interval is complete when it lies inside the completed range: it
/// ends at or before `through` and does not start before the first back-fill's start.
pub fn fill_intervals(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    stored: Vec<IntervalRecord>,
    completeness: Completeness,
) -> Vec<IntervalView> {
    let Completeness { from: complete_from, through: complete_through } = completeness;
    let step = Duration::minutes(INTERVAL_MINUTES);
    let mut stored: HashMap<DateTime<Utc>, IntervalRecord> = stored.into_iter().map(|i| (i.start, i)).collect();
    let mut out = Vec::new();
    let mut start = from;
    while start < to {
        let complete = complete_through.is_some_and(|done| start + step <= done)
            && complete_from.is_none_or(|first| start >= first);
        let stats = match stored.remove(&start) {
            Some(found) => Some(found),
            None if complete => Some(IntervalRecord {
                start,
                offered: 0,
                handled: 0,
                abandoned: 0,
                handle_ms: 0,
                answer_ms: 0,
                answered_within_sl: None,
            }),
            None => None,
        };
        out.push(IntervalView { start, complete, stats });
        start += step;
    }
    out
}

/// One agent-state segment of a mapped agent, with its status and activity resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentState {
    pub agent: MappedAgent,
    pub status_id: String,
    /// `None` when the import has not listed the status (its activity is then the default).
    pub status_name: Option<String>,
    pub reason: Option<String>,
    pub activity_id: String,
    pub start: DateTime<Utc>,
    pub end: Option<DateTime<Utc>>,
}

/// Position in an agent-state listing: after segment `start` of `agent`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatesCursor {
    #[serde(rename = "a")]
    pub agent: MappedAgent,
    #[serde(rename = "s")]
    pub start: DateTime<Utc>,
}

/// Whether a segment overlaps `[from, to)`.
pub fn overlaps(segment: &SegmentRecord, from: DateTime<Utc>, to: DateTime<Utc>) -> bool {
    segment.start < to && segment.end.is_none_or(|end| end > from)
}

#[derive(Clone)]
pub struct QueryService {
    pub store: Arc<dyn QueryStore>,
    /// Read bounds of one agent-states page ([`MAX_STATE_ITEMS_READ_PER_PAGE`], [`MAX_STATE_QUERIES_PER_PAGE`];
    /// smaller in tests).
    pub max_state_items_read: u64,
    pub max_state_queries: u64,
}

impl QueryService {
    pub fn new(store: Arc<dyn QueryStore>) -> Self {
        Self {
            store,
            max_state_items_read: MAX_STATE_ITEMS_READ_PER_PAGE,
            max_state_queries: MAX_STATE_QUERIES_PER_PAGE,
        }
    }

    /// Whether an agent-states page has read enough for one request (see [`MAX_STATE_ITEMS_READ_PER_PAGE`]).
    fn read_enough(&self, read: StateReads, agents: u64) -> bool {
        read.items >= self.max_state_items_read
            || read.queries >= self.max_state_queries
            || agents >= MAX_STATE_AGENTS_READ_PER_PAGE
    }
}

/// What part of an agent-states page read: items (each Query counting at least one) and Queries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct StateReads {
    items: u64,
    queries: u64,
}

impl StateReads {
    /// One Query that returned `items` items.
    fn query(items: usize) -> Self {
        Self { items: (items as u64).max(1), queries: 1 }
    }
}

impl std::ops::AddAssign for StateReads {
    fn add_assign(&mut self, o: Self) {
        self.items += o.items;
        self.queries += o.queries;
    }
}

/// Checks a decoded agent-states cursor against the request before it reaches a key: its ids must fit the index
/// and segment keys, its agent must belong to the requested employee (or, where a page ended on mappings the
/// employee's index prefix also reads, to an employee whose id begins `{employee}#`), and its position must lie in
/// the range a page of `[from, to)` can stop at (a stored piece overlapping it starts at most a day before `from`,
/// and the segment it is joined into at most [`MAX_JOIN_DAYS`] more).
fn check_states_cursor(
    cursor: &StatesCursor,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    employee: Option<&str>,
) -> Result<(), ApiError> {
    use acd_domain::validation::{MAPPING_KEY_OVERHEAD_BYTES, MAX_EMPLOYEE_ID_BYTES, MAX_SORT_KEY_BYTES};
    let a = &cursor.agent;
    let fits = !a.employee_id.is_empty()
        && !a.external_id.is_empty()
        && a.employee_id.len() <= MAX_EMPLOYEE_ID_BYTES
        && a.employee_id.len() + MAPPING_KEY_OVERHEAD_BYTES + a.external_id.len() <= MAX_SORT_KEY_BYTES;
    let earliest = from - Duration::hours(MAX_SEGMENT_LOOKBACK_HOURS) - Duration::days(i64::from(MAX_JOIN_DAYS));
    let in_range = cursor.start >= earliest && cursor.start <= to;
    let same_query = employee
        .is_none_or(|e| a.employee_id.strip_prefix(e).is_some_and(|rest| rest.is_empty() || rest.starts_with('#')));
    if fits && in_range && same_query {
        Ok(())
    } else {
        Err(acd_domain::FieldErrors::single(
            "cursor",
            "invalid_value",
            "is not a cursor returned by this API for this employee and range",
        )
        .into())
    }
}

/// How long before `from` a segment overlapping `[from, to)` may start (segments are split at UTC midnights).
const MAX_SEGMENT_LOOKBACK_HOURS: i64 = 24;

impl QueryService {
    /// A page of the tenant's queues and the cursor of the next page.
    pub async fn list_queues(
        &self,
        tenant: &TenantId,
        mut query: QueueQuery,
        needle: Option<String>,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<(Vec<QueueRecord>, Option<String>), ApiError> {
        let listed_needle = needle.clone();
        let listing = Listing::Queues {
            channel: query.channel,
            integration: query.integration_id,
            include_inactive: query.include_inactive,
            needle: listed_needle.as_deref(),
        };
        let after = cursor.map(|c| decode_queue_cursor(c, &listing)).transpose()?;
        let limit = limit.clamp(1, MAX_PAGE_SIZE);
        let Some(needle) = needle else {
            // Without a text filter the page does not depend on the names: both reads go out together (one round
            // trip of latency), and the current names are laid over the queues afterwards.
            let (names, page) = futures::try_join!(
                self.store.integration_names(tenant),
                self.store.list_queues(tenant, &query, limit, after.as_deref()),
            )?;
            let items = page.items.into_iter().map(|q| overlay(q, &names)).collect();
            return Ok((items, page.next_after.map(|after| crate::cursor::encode(&listing, &after))));
        };
        let (names, indexed) = self.store.integration_names_indexed(tenant).await?;
        query.text = Some(TextFilter {
            indexed,
            matching_integrations: names
                .iter()
                .filter(|(_, name)| name.to_lowercase().contains(&needle))
                .map(|(id, _)| *id)
                .collect(),
            current_integrations: names.keys().copied().collect(),
            needle,
        });
        let page = self.store.list_queues(tenant, &query, limit, after.as_deref()).await?;
        let items = page.items.into_iter().map(|q| overlay(q, &names)).collect();
        Ok((items, page.next_after.map(|after| crate::cursor::encode(&listing, &after))))
    }

    pub async fn get_queue(&self, tenant: &TenantId, id: &str) -> Result<QueueRecord, ApiError> {
        let id: QueueId = id.parse().map_err(|_| ApiError::NotFound)?;
        let queue = self.store.get_queue(tenant, &id).await?.ok_or(ApiError::NotFound)?;
        let current = self.store.integration_name(tenant, id.integration_id).await?;
        Ok(QueueRecord { integration_name: current.unwrap_or(queue.integration_name.clone()), ..queue })
    }

    /// Every interval of `[from, to)` of one queue (see [`fill_intervals`]).
    pub async fn intervals(
        &self,
        tenant: &TenantId,
        id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<QueueIntervals, ApiError> {
        let queue_id: QueueId = id.parse().map_err(|_| ApiError::NotFound)?;
        // The import writes a day's intervals (and a queue's `listed_through`) before it moves `complete_through`
        // past them (other partitions, no order between them for eventually consistent reads): read the
        // completeness first, then the queue and its intervals strongly consistent, so that a completeness read
        // never meets intervals from before its writes (which would answer complete zeros for intervals that have
        // contacts) nor a queue item from before it left the listing. A stale completeness only claims less.
        let completeness = self.store.completeness(tenant, queue_id.integration_id).await?;
        let (queue, stored) = futures::try_join!(self.get_queue(tenant, id), async {
            Ok(self.store.intervals(tenant, &queue_id, from, to).await?)
        })?;
        // A queue first listed after the integration's data was complete is complete from then on only; one not
        // read as far as the integration (gone from the listing, or listed again and not read up to it yet) is
        // complete as far as it was read.
        let through = match queue.listed_through {
            Some(read) => completeness.through.map(|done| done.min(read)),
            None => completeness.through,
        };
        let completeness = Completeness { from: completeness.from.max(queue.complete_from), through };
        let intervals = fill_intervals(from, to, stored, completeness);
        // Answered beside `complete_through`: intervals before it are not complete although they end before that.
        let complete_from = completeness.from.filter(|_| through.is_some());
        Ok(QueueIntervals { queue, from, to, complete_from, complete_through: through, intervals })
    }

    /// A page of agent states (`Self::states_page`) and the stored agent-state gaps of the tenant's
    /// integrations that overlap `[from, to)`, by integration then start (one more Query, read alongside).
    pub async fn agent_states(
        &self,
        tenant: &TenantId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        employee: Option<&str>,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<StatesPage, ApiError> {
        let gaps = async { self.store.agent_state_gaps(tenant).await.map_err(ApiError::from) };
        let ((items, next_cursor), gaps) =
            futures::try_join!(self.states_page(tenant, from, to, employee, limit, cursor), gaps)?;
        Ok(StatesPage { items, next_cursor, gaps: gaps_in(gaps, from, to) })
    }

    /// Up to `limit` segments of mapped agents overlapping `[from, to)`, ordered by agent (employee, integration,
    /// external id) then start, and the cursor of the next page. Mappings are resolved now, so a new mapping shows
    /// data imported before it.
    async fn states_page(
        &self,
        tenant: &TenantId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        employee: Option<&str>,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<(Vec<AgentState>, Option<String>), ApiError> {
        let limit = limit.clamp(1, MAX_STATES_PAGE_SIZE);
        let listing = Listing::AgentStates { from, to, employee };
        let cursor: Option<StatesCursor> = cursor.map(|c| crate::cursor::decode(c, "cursor", &listing)).transpose()?;
        if let Some(c) = &cursor {
            check_states_cursor(c, from, to, employee)?;
        }
        // What this page has read (see MAX_STATE_ITEMS_READ_PER_PAGE).
        let (mut read, mut agents_read) = (StateReads::default(), 0u64);
        let mut position = cursor.as_ref().map(|c| AgentsFrom { agent: c.agent.clone(), inclusive: true });
        let mut statuses: HashMap<IntegrationId, HashMap<String, ExternalStatusRecord>> = HashMap::new();
        let mut out: Vec<AgentState> = Vec::new();
        // The page has read enough for one request and ends after `agent`, with a cursor at `to`.
        let ended_early = |out: Vec<AgentState>, agent: MappedAgent, read: StateReads, agents_read: u64| {
            let (items_read, queries, returned) = (read.items, read.queries, out.len());
            tracing::warn!(items_read, queries, agents_read, returned, "agent-states page ended early");
            let next = StatesCursor { agent, start: to };
            (out, Some(crate::cursor::encode(&listing, &next)))
        };
        loop {
            let agents = self.store.mapped_agents(tenant, employee, position.as_ref(), AGENT_BATCH).await?;
            read += StateReads { items: agents.items.len() as u64 + u64::from(agents.more), queries: 1 };
            let read_up_to = agents.items.last().cloned();
            // A mapping names one employee exactly: an index prefix `{employee}#` also matches longer ids.
            let batch: Vec<MappedAgent> =
                agents.items.into_iter().filter(|a| employee.is_none_or(|e| a.employee_id == e)).collect();
            for integration in batch.iter().map(|a| a.integration_id).collect::<BTreeSet<_>>() {
                if let Entry::Vacant(entry) = statuses.entry(integration) {
                    let list = self.store.statuses(tenant, integration).await?;
                    read.queries += 1;
                    entry.insert(list.into_iter().map(|s| (s.status_id.clone(), s)).collect());
                }
            }
            let cursor = &cursor;
            // Read ahead only as far as the rest of the page can plausibly use. An agent's read is its segments
            // and the reads that join its first and last segments' pieces beyond the range (up to 2 × 7 Queries).
            let concurrency = ((limit - out.len()) / 100).clamp(1, CONCURRENT_AGENT_READS);
            let batch_len = batch.len();
            let mut reads = futures::stream::iter(batch)
                .map(|agent| async move {
                    let not_before = cursor.as_ref().filter(|c| c.agent == agent).map(|c| c.start);
                    let (integration, external) = (agent.integration_id, &agent.external_id);
                    let pieces = self.store.segments(tenant, integration, external, from, to, not_before).await?;
                    let mut read = StateReads::query(pieces.len());
                    let (segments, joins) = self.whole_segments(tenant, &agent, pieces, from, to).await?;
                    read += joins;
                    Ok::<_, StoreError>((agent, segments, read))
                })
                .buffered(concurrency);
            let mut served = 0;
            while let Some(agent_read) = reads.next().await {
                let (agent, segments, agent_reads) = agent_read?;
                served += 1;
                agents_read += 1;
                read += agent_reads;
                let after = cursor.as_ref().filter(|c| c.agent == agent).map(|c| c.start);
                for segment in segments {
                    if !overlaps(&segment, from, to) || after.is_some_and(|after| segment.start <= after) {
                        continue;
                    }
                    if out.len() == limit {
                        // One more segment exists: the page ends with the previous one.
                        let last = out.last().expect("a full page is not empty");
                        let next = StatesCursor { agent: last.agent.clone(), start: last.start };
                        return Ok((out, Some(crate::cursor::encode(&listing, &next))));
                    }
                    let status = statuses.get(&agent.integration_id).and_then(|m| m.get(&segment.status_id));
                    out.push(AgentState {
                        agent: agent.clone(),
                        status_name: status.map(|s| s.name.clone()),
                        activity_id: status.map_or_else(|| DEFAULT_ACTIVITY.to_owned(), |s| s.activity_id.clone()),
                        status_id: segment.status_id,
                        reason: segment.reason,
                        start: segment.start,
                        end: segment.end,
                    });
                }
                let last_agent = served == batch_len && !agents.more;
                if !last_agent && self.read_enough(read, agents_read) {
                    // Read enough for one request: the page ends after this agent (all its segments served; a
                    // cursor at `to` resumes with the next agent).
                    return Ok(ended_early(out, agent, read, agents_read));
                }
            }
            match read_up_to {
                Some(last) if agents.more && self.read_enough(read, agents_read) => {
                    // Read enough, and the round ended with mappings of other employees (their ids begin
                    // `{employee}#`; a served agent would have ended the page above): the page ends at the last
                    // mapping read (the next page reads it again, as the first of its round).
                    return Ok(ended_early(out, last, read, agents_read));
                }
                Some(last) if agents.more => position = Some(AgentsFrom { agent: last, inclusive: false }),
                _ => return Ok((out, None)),
            }
        }
    }
}

/// The gaps overlapping `[from, to)`, by integration, then start, end and reason.
pub fn gaps_in(mut gaps: Vec<IntegrationGap>, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<IntegrationGap> {
    gaps.retain(|g| g.gap.overlaps(from, to));
    gaps.sort_by_key(|g| (g.integration_id, g.gap.from, g.gap.to, g.gap.reason));
    gaps
}

/// How far beyond the requested range a segment is followed when its stored pieces are joined (one Query per day).
pub const MAX_JOIN_DAYS: u32 = 7;

impl QueryService {
    /// Joins an agent's stored pieces (split at UTC midnights by the import) back into whole segments, following
    /// a segment that crosses a midnight outside the read pieces at most [`MAX_JOIN_DAYS`] days back (before
    /// `from`) and forward (after `to`), one Query a day. Returns the segments and what the extra reads cost.
    ///
    /// The two directions go out together: the backward reads move only the first segment's start, the forward
    /// ones only the last segment's end (the same segment's, when there is one), and each compares pieces with the
    /// status and reason, which neither changes — so the answer is the one of reading back, then forward.
    async fn whole_segments(
        &self,
        tenant: &TenantId,
        agent: &MappedAgent,
        pieces: Vec<SegmentRecord>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<(Vec<SegmentRecord>, StateReads), StoreError> {
        let mut segments = join_pieces(pieces);
        let read = |at: DateTime<Utc>, not_before: Option<DateTime<Utc>>| {
            self.store.segments(tenant, agent.integration_id, &agent.external_id, at, at, not_before)
        };
        let first = segments.first().filter(|s| overlaps(s, from, to));
        let last = segments.last().filter(|s| overlaps(s, from, to));
        let back = async {
            let mut cost = StateReads::default();
            let Some(first) = first else { return Ok((None, cost)) };
            let mut start = first.start;
            for _ in 0..MAX_JOIN_DAYS {
                if !is_midnight(start) {
                    break;
                }
                // Pieces starting in the day before `start` (the store's look-back) up to it.
                let before = read(start, None).await?;
                cost += StateReads::query(before.len());
                match before.into_iter().find(|p| p.end == Some(start) && continues(p, first)) {
                    Some(piece) => start = piece.start,
                    None => break,
                }
            }
            Ok::<_, StoreError>((Some(start), cost))
        };
        let forward = async {
            let mut cost = StateReads::default();
            let Some(last) = last else { return Ok((None, cost)) };
            let mut end = last.end;
            for _ in 0..MAX_JOIN_DAYS {
                // A piece starting at `to` or before was read with the others.
                let Some(at) = end.filter(|end| is_midnight(*end) && *end > to) else { break };
                let next = read(at, Some(at)).await?;
                cost += StateReads::query(next.len());
                match next.into_iter().find(|p| p.start == at && continues(last, p)) {
                    Some(piece) => end = piece.end,
                    None => break,
                }
            }
            Ok::<_, StoreError>((Some(end), cost))
        };
        let ((start, mut cost), (end, forward_cost)) = futures::try_join!(back, forward)?;
        cost += forward_cost;
        if let (Some(start), Some(first)) = (start, segments.first_mut()) {
            first.start = start;
        }
        if let (Some(end), Some(last)) = (end, segments.last_mut()) {
            last.end = end;
        }
        Ok((segments, cost))
    }
}

fn is_midnight(at: DateTime<Utc>) -> bool {
    at.timestamp().rem_euclid(86_400) == 0 && at.timestamp_subsec_nanos() == 0
}

/// Whether `next` continues `prev` (same status and reason) — checked where `prev` ends at `next`'s start.
fn continues(prev: &SegmentRecord, next: &SegmentRecord) -> bool {
    prev.status_id == next.status_id && prev.reason == next.reason
}

/// Sorts pieces by start and joins those the import split at a UTC midnight: a piece ending at a midnight where
/// the next piece starts with the same status and reason is one segment with it. Pieces that merely touch at
/// another instant stay apart (the ACD reported two segments).
pub fn join_pieces(mut pieces: Vec<SegmentRecord>) -> Vec<SegmentRecord> {
    pieces.sort_by_key(|p| p.start);
    let mut out: Vec<SegmentRecord> = Vec::with_capacity(pieces.len());
    for piece in pieces {
        if let Some(prev) = out.last_mut()
            && prev.end == Some(piece.start)
            && is_midnight(piece.start)
            && continues(prev, &piece)
        {
            prev.end = piece.end;
            continue;
        }
        out.push(piece);
    }
    out
}

fn overlay(queue: QueueRecord, names: &HashMap<IntegrationId, String>) -> QueueRecord {
    match names.get(&queue.integration_id) {
        Some(current) => QueueRecord { integration_name: current.clone(), ..queue },
        None => queue,
    }
}

/// A queue cursor is the sort key of the last queue returned: `{lower-cased name}#{queue id}`.
fn decode_queue_cursor(cursor: &str, listing: &Listing<'_>) -> Result<String, ApiError> {
    let key: String = crate::cursor::decode(cursor, "cursor", listing)?;
    let valid = key.len() <= acd_domain::validation::MAX_SORT_KEY_BYTES
        && key.rsplit_once('#').is_some_and(|(_, id)| id.parse::<QueueId>().is_ok());
    if valid {
        Ok(key)
    } else {
        Err(acd_domain::FieldErrors::single("cursor", "invalid_value", "is not a cursor returned by this API").into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use acd_domain::Channel;
    use chrono::TimeZone;

    fn t(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 3, 1, h, m, 0).unwrap()
    }

    fn stored(start: DateTime<Utc>, offered: u64) -> IntervalRecord {
        IntervalRecord {
            start,
            offered,
            handled: offered,
            abandoned: 0,
            handle_ms: 1000 * offered,
            answer_ms: 0,
            answered_within_sl: Some(offered),
        }
    }

    #[test]
    fn intervals_are_zero_up_to_complete_through_and_missing_after() {
        let out =
            fill_intervals(t(10, 0), t(11, 0), vec![stored(t(10, 15), 3), stored(t(10, 45), 2)], done(Some(t(10, 30))));
        assert_eq!(out.len(), 4);
        assert_eq!(out.iter().map(|i| i.start).collect::<Vec<_>>(), [t(10, 0), t(10, 15), t(10, 30), t(10, 45)]);
        assert_eq!(out.iter().map(|i| i.complete).collect::<Vec<_>>(), [true, true, false, false]);
        assert_eq!(out[0].stats.as_ref().unwrap().offered, 0, "complete and absent: zero");
        assert_eq!(out[0].stats.as_ref().unwrap().answered_within_sl, None);
        assert_eq!(out[1].stats.as_ref().unwrap().offered, 3);
        assert_eq!(out[2].stats, None, "incomplete and absent: missing, not zero");
        assert_eq!(out[3].stats.as_ref().unwrap().offered, 2, "incomplete but stored: preliminary numbers");
    }

    fn done(through: Option<DateTime<Utc>>) -> Completeness {
        Completeness { from: None, through }
    }

    #[test]
    fn history_before_the_first_back_fill_is_missing_not_zero() {
        let range = Completeness { from: Some(t(10, 15)), through: Some(t(11, 0)) };
        let out = fill_intervals(t(10, 0), t(10, 30), vec![], range);
        assert_eq!(out.iter().map(|i| i.complete).collect::<Vec<_>>(), [false, true]);
        assert_eq!(out[0].stats, None, "never fetched: missing");
        assert_eq!(out[1].stats.as_ref().unwrap().offered, 0);
    }

    #[test]
    fn nothing_is_complete_before_the_first_import_and_a_partial_quarter_is_not_complete() {
        let out = fill_intervals(t(10, 0), t(10, 30), vec![], done(None));
        assert!(out.iter().all(|i| !i.complete && i.stats.is_none()));
        let out = fill_intervals(t(10, 0), t(10, 30), vec![], done(Some(t(10, 20))));
        assert_eq!(out.iter().map(|i| i.complete).collect::<Vec<_>>(), [true, false]);
    }

    fn piece(start: DateTime<Utc>, end: Option<DateTime<Utc>>, status: &str) -> SegmentRecord {
        SegmentRecord { start, end, status_id: status.into(), reason: None }
    }

    #[test]
    fn pieces_split_at_midnight_are_joined_and_nothing_else_is() {
        let day = |d: u32, h: u32| Utc.with_ymd_and_hms(2024, 3, d, h, 0, 0).unwrap();
        let joined = join_pieces(vec![
            piece(day(5, 0), Some(day(5, 9)), "Ready"),
            piece(day(4, 20), Some(day(5, 0)), "Ready"),
            // Touching at 09:00 with the same status: two segments the ACD reported, kept apart.
            piece(day(5, 9), Some(day(5, 10)), "Ready"),
            // Across the next midnight with another status: apart.
            piece(day(5, 10), Some(day(6, 0)), "Ready"),
            piece(day(6, 0), Some(day(6, 1)), "Lunch"),
            // An open segment continuing over midnight.
            piece(day(6, 1), Some(day(7, 0)), "Ready"),
            piece(day(7, 0), None, "Ready"),
        ]);
        assert_eq!(
            joined,
            vec![
                piece(day(4, 20), Some(day(5, 9)), "Ready"),
                piece(day(5, 9), Some(day(5, 10)), "Ready"),
                piece(day(5, 10), Some(day(6, 0)), "Ready"),
                piece(day(6, 0), Some(day(6, 1)), "Lunch"),
                piece(day(6, 1), None, "Ready"),
            ]
        );
        let mut with_reason = piece(day(7, 0), Some(day(7, 2)), "Ready");
        with_reason.reason = Some("Break".into());
        assert_eq!(join_pieces(vec![piece(day(6, 1), Some(day(7, 0)), "Ready"), with_reason]).len(), 2);
    }

    #[test]
    fn gaps_are_those_overlapping_the_range_by_integration_then_start() {
        use acd_domain::{AgentStateGap, GapReason};
        let (a, b) = (IntegrationId::new(), IntegrationId::new());
        let (first, second) = if a < b { (a, b) } else { (b, a) };
        let gap = |integration_id, from, to| IntegrationGap {
            integration_id,
            gap: AgentStateGap::new(from, to, GapReason::CheckpointExpired).unwrap(),
        };
        let stored = vec![
            gap(second, t(10, 0), t(11, 0)),
            gap(first, t(12, 0), t(13, 0)),
            gap(first, t(9, 0), t(10, 30)),
            gap(first, t(8, 0), t(9, 0)),
        ];
        let shown = gaps_in(stored, t(9, 0), t(12, 0));
        assert_eq!(shown, vec![gap(first, t(9, 0), t(10, 30)), gap(second, t(10, 0), t(11, 0))]);
    }

    #[test]
    fn segments_overlap_half_open_ranges() {
        let seg = |s, e: Option<DateTime<Utc>>| SegmentRecord { start: s, end: e, status_id: "x".into(), reason: None };
        assert!(overlaps(&seg(t(9, 0), Some(t(10, 1))), t(10, 0), t(11, 0)));
        assert!(!overlaps(&seg(t(9, 0), Some(t(10, 0))), t(10, 0), t(11, 0)), "ends exactly at from");
        assert!(!overlaps(&seg(t(11, 0), None), t(10, 0), t(11, 0)), "starts exactly at to");
        assert!(overlaps(&seg(t(1, 0), None), t(10, 0), t(11, 0)), "open");
    }

    fn queue(name: &str, integration: IntegrationId, integration_name: &str, channel: Channel) -> QueueRecord {
        let id = QueueId::new(integration, name);
        QueueRecord {
            sort_key: format!("{}#{id}", name.to_lowercase()),
            awaiting_traffic: false,
            complete_from: None,
            listed_through: None,
            queue_id: id,
            integration_id: integration,
            integration_name: integration_name.into(),
            external_id: name.into(),
            name: name.into(),
            channel,
            interval_minutes: 15,
            active: true,
            first_seen: t(0, 0),
            last_seen: t(0, 0),
            data_from: None,
            data_to: None,
        }
    }

    #[test]
    fn text_filter_matches_queue_names_current_integration_names_and_stored_names_of_deleted_ones() {
        let (current, deleted) = (IntegrationId::new(), IntegrationId::new());
        let text = |needle: &str, matching: &[IntegrationId]| TextFilter {
            needle: needle.into(),
            matching_integrations: matching.iter().copied().collect(),
            current_integrations: [current].into_iter().collect(),
            indexed: false,
        };
        let q = |needle: &str, matching: &[IntegrationId]| QueueQuery {
            text: Some(text(needle, matching)),
            ..Default::default()
        };
        let renamed = queue("Billing", current, "Old Five9 name", Channel::Calls);
        let orphan = queue("Billing", deleted, "Genesys EU", Channel::Chats);
        assert!(q("bill", &[]).matches(&renamed));
        assert!(q("five9", &[current]).matches(&renamed), "current name matched (by the service)");
        assert!(!q("old five9", &[]).matches(&renamed), "a stale stored name of a current integration is not");
        assert!(q("genesys eu", &[]).matches(&orphan), "stored name of a deleted integration");
        let mut inactive = orphan.clone();
        inactive.active = false;
        assert!(!QueueQuery::default().matches(&inactive));
        assert!(QueueQuery { include_inactive: true, ..Default::default() }.matches(&inactive));
        assert!(!QueueQuery { channel: Some(Channel::Calls), ..Default::default() }.matches(&orphan));
        assert!(!QueueQuery { integration_id: Some(current), ..Default::default() }.matches(&orphan));
    }

    #[test]
    fn queue_cursors_must_end_in_a_queue_id() {
        let id = QueueId::new(IntegrationId::new(), "Sales # 1");
        let key = format!("sales # 1#{id}");
        let all = Listing::Queues { channel: None, integration: None, include_inactive: false, needle: None };
        assert_eq!(decode_queue_cursor(&crate::cursor::encode(&all, &key), &all).unwrap(), key);
        for bad in [crate::cursor::encode(&all, &"sales"), crate::cursor::encode(&all, &"a#b"), "%%%".into()] {
            assert!(matches!(decode_queue_cursor(&bad, &all), Err(ApiError::Validation(_))), "{bad}");
        }
    }

    /// A store whose queue partition is read as it stood before the import's writes of a day until its
    /// completeness has been read: what an eventually consistent read of the intervals may meet when it goes out
    /// beside (or before) the completeness read, while the import writes the day and then moves `complete_through`.
    struct WritingStore {
        queue: QueueRecord,
        completeness_read: std::sync::atomic::AtomicBool,
    }

    #[async_trait::async_trait]
    impl QueryStore for WritingStore {
        async fn integration_names(&self, _: &TenantId) -> Result<HashMap<IntegrationId, String>, StoreError> {
            Ok(HashMap::new())
        }
        async fn integration_name(&self, _: &TenantId, _: IntegrationId) -> Result<Option<String>, StoreError> {
            Ok(None)
        }
        async fn list_queues(
            &self,
            _: &TenantId,
            _: &QueueQuery,
            _: usize,
            _: Option<&str>,
        ) -> Result<QueuePage, StoreError> {
            unreachable!("not listed")
        }
        async fn get_queue(&self, _: &TenantId, _: &QueueId) -> Result<Option<QueueRecord>, StoreError> {
            // The queue left the listing at 10:15 (the run that made it inactive then wrote the day).
            let written = self.completeness_read.load(std::sync::atomic::Ordering::SeqCst);
            let listed_through = written.then_some(t(10, 15));
            Ok(Some(QueueRecord { listed_through, active: !written, ..self.queue.clone() }))
        }
        async fn intervals(
            &self,
            _: &TenantId,
            _: &QueueId,
            _: DateTime<Utc>,
            _: DateTime<Utc>,
        ) -> Result<Vec<IntervalRecord>, StoreError> {
            let written = self.completeness_read.load(std::sync::atomic::Ordering::SeqCst);
            Ok(if written { vec![stored(t(10, 15), 3)] } else { Vec::new() })
        }
        async fn completeness(&self, _: &TenantId, _: IntegrationId) -> Result<Completeness, StoreError> {
            self.completeness_read.store(true, std::sync::atomic::Ordering::SeqCst);
            Ok(done(Some(t(10, 30))))
        }
        async fn mapped_agents(
            &self,
            _: &TenantId,
            _: Option<&str>,
            _: Option<&AgentsFrom>,
            _: usize,
        ) -> Result<crate::ports::Page<MappedAgent>, StoreError> {
            unreachable!("no agents")
        }
        async fn segments(
            &self,
            _: &TenantId,
            _: IntegrationId,
            _: &str,
            _: DateTime<Utc>,
            _: DateTime<Utc>,
            _: Option<DateTime<Utc>>,
        ) -> Result<Vec<SegmentRecord>, StoreError> {
            unreachable!("no agents")
        }
        async fn agent_state_gaps(&self, _: &TenantId) -> Result<Vec<IntegrationGap>, StoreError> {
            unreachable!("no agents")
        }
        async fn statuses(&self, _: &TenantId, _: IntegrationId) -> Result<Vec<ExternalStatusRecord>, StoreError> {
            unreachable!("no agents")
        }
    }

    /// The completeness is read before the intervals and the queue: an interval it claims complete is never
    /// answered from a read of the queue's partition that went out earlier (complete zeros for an interval with
    /// contacts), nor of a queue item from before it left the listing. Until 2026-12-07 the reads went out
    /// together.
    #[tokio::test]
    async fn intervals_are_read_after_the_completeness_that_claims_them() {
        let queue = queue("Sales", IntegrationId::new(), "Five9", Channel::Calls);
        let id = queue.queue_id.to_string();
        let store = WritingStore { queue, completeness_read: Default::default() };
        let service = QueryService::new(Arc::new(store));
        let tenant = TenantId::parse("t1").unwrap();
        let out = service.intervals(&tenant, &id, t(10, 0), t(10, 30)).await.unwrap();
        let at = &out.intervals[1];
        assert_eq!(at.stats.as_ref().map(|s| s.offered), Some(3), "not complete zeros: {at:?}");
        assert!(out.intervals[0].complete);
        assert!(!at.complete, "past where the queue left: {at:?}");
        assert_eq!(out.complete_through, Some(t(10, 15)));
    }

    /// Mapped agents and their stored pieces, read as the DynamoDB store reads them (the employee filter reads the
    /// index prefix `{employee}#`; segments from a day before `from`), each segment read taking 10 ms.
    struct StatesStore {
        /// (index sort key `{employee}#{integration}#{external id}`, agent), in key order.
        agents: Vec<(String, MappedAgent)>,
        pieces: HashMap<String, Vec<SegmentRecord>>,
        segment_reads: std::sync::atomic::AtomicU64,
        mappings_read: std::sync::atomic::AtomicU64,
        in_flight: std::sync::atomic::AtomicU64,
        most_in_flight: std::sync::atomic::AtomicU64,
    }

    impl StatesStore {
        fn new(agents: Vec<(MappedAgent, Vec<SegmentRecord>)>) -> Self {
            let mut keyed: Vec<(String, MappedAgent)> = agents
                .iter()
                .map(|(a, _)| (format!("{}#{}#{}", a.employee_id, a.integration_id, a.external_id), a.clone()))
                .collect();
            keyed.sort_by(|a, b| a.0.cmp(&b.0));
            Self {
                agents: keyed,
                pieces: agents.into_iter().map(|(a, p)| (a.external_id, p)).collect(),
                segment_reads: Default::default(),
                mappings_read: Default::default(),
                in_flight: Default::default(),
                most_in_flight: Default::default(),
            }
        }
    }

    #[async_trait::async_trait]
    impl QueryStore for StatesStore {
        async fn integration_names(&self, _: &TenantId) -> Result<HashMap<IntegrationId, String>, StoreError> {
            unreachable!("agent states only")
        }
        async fn integration_name(&self, _: &TenantId, _: IntegrationId) -> Result<Option<String>, StoreError> {
            unreachable!("agent states only")
        }
        async fn list_queues(
            &self,
            _: &TenantId,
            _: &QueueQuery,
            _: usize,
            _: Option<&str>,
        ) -> Result<QueuePage, StoreError> {
            unreachable!("agent states only")
        }
        async fn get_queue(&self, _: &TenantId, _: &QueueId) -> Result<Option<QueueRecord>, StoreError> {
            unreachable!("agent states only")
        }
        async fn intervals(
            &self,
            _: &TenantId,
            _: &QueueId,
            _: DateTime<Utc>,
            _: DateTime<Utc>,
        ) -> Result<Vec<IntervalRecord>, StoreError> {
            unreachable!("agent states only")
        }
        async fn completeness(&self, _: &TenantId, _: IntegrationId) -> Result<Completeness, StoreError> {
            unreachable!("agent states only")
        }
        async fn mapped_agents(
            &self,
            _: &TenantId,
            employee: Option<&str>,
            from: Option<&AgentsFrom>,
            limit: usize,
        ) -> Result<crate::ports::Page<MappedAgent>, StoreError> {
            let key = |a: &MappedAgent| format!("{}#{}#{}", a.employee_id, a.integration_id, a.external_id);
            let position = from.map(|f| (key(&f.agent), f.inclusive));
            let mut read = self.agents.iter().filter(|(k, _)| {
                employee.is_none_or(|e| k.starts_with(&format!("{e}#")))
                    && position.as_ref().is_none_or(|(p, inclusive)| if *inclusive { k >= p } else { k > p })
            });
            let items: Vec<MappedAgent> = read.by_ref().take(limit).map(|(_, a)| a.clone()).collect();
            let more = read.next().is_some();
            self.mappings_read.fetch_add(items.len() as u64 + u64::from(more), std::sync::atomic::Ordering::SeqCst);
            Ok(crate::ports::Page { items, more, resume_after: None })
        }
        async fn segments(
            &self,
            _: &TenantId,
            _: IntegrationId,
            external_id: &str,
            from: DateTime<Utc>,
            to: DateTime<Utc>,
            not_before: Option<DateTime<Utc>>,
        ) -> Result<Vec<SegmentRecord>, StoreError> {
            use std::sync::atomic::Ordering::SeqCst;
            self.segment_reads.fetch_add(1, SeqCst);
            let now = self.in_flight.fetch_add(1, SeqCst) + 1;
            self.most_in_flight.fetch_max(now, SeqCst);
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            self.in_flight.fetch_sub(1, SeqCst);
            let lower = (from - Duration::hours(24)).max(not_before.unwrap_or(DateTime::<Utc>::MIN_UTC));
            let pieces = self.pieces.get(external_id).map(Vec::as_slice).unwrap_or_default();
            Ok(pieces.iter().filter(|p| p.start >= lower && p.start <= to).cloned().collect())
        }
        async fn agent_state_gaps(&self, _: &TenantId) -> Result<Vec<IntegrationGap>, StoreError> {
            Ok(Vec::new())
        }
        async fn statuses(&self, _: &TenantId, _: IntegrationId) -> Result<Vec<ExternalStatusRecord>, StoreError> {
            Ok(Vec::new())
        }
    }

    fn mapped(employee: &str, integration: IntegrationId, external: &str) -> MappedAgent {
        MappedAgent { employee_id: employee.into(), integration_id: integration, external_id: external.into() }
    }

    /// Offline through March and April, stored as the import stores it: one piece a day.
    fn offline_for_two_months() -> Vec<SegmentRecord> {
        let first = Utc.with_ymd_and_hms(2024, 3, 1, 0, 0, 0).unwrap();
        (0..61).map(|d| piece(first + Duration::days(d), Some(first + Duration::days(d + 1)), "OFFLINE")).collect()
    }

    /// Each agent's reads that join its pieces beyond the range (7 days back, 7 forward, a Query each) go out with
    /// the other agents' and both directions together; the page answers as before. Until 2026-12-07 they were
    /// awaited one after another, agent after agent: 8 agents × 15 reads × 10 ms = 1.2 s here.
    #[tokio::test(start_paused = true)]
    async fn the_reads_that_join_pieces_go_out_concurrently_and_answer_the_same() {
        let integration = IntegrationId::new();
        let agents =
            (0..8).map(|a| (mapped(&format!("emp-{a}"), integration, &format!("agent-{a}")), offline_for_two_months()));
        let store = Arc::new(StatesStore::new(agents.collect()));
        let service = QueryService::new(store.clone());
        let tenant = TenantId::parse("t1").unwrap();
        let (from, to) =
            (Utc.with_ymd_and_hms(2024, 3, 20, 6, 0, 0).unwrap(), Utc.with_ymd_and_hms(2024, 3, 20, 7, 0, 0).unwrap());
        let started = tokio::time::Instant::now();
        let page = service.agent_states(&tenant, from, to, None, 1000, None).await.unwrap();
        let took = started.elapsed();
        let whole =
            (Utc.with_ymd_and_hms(2024, 3, 13, 0, 0, 0).unwrap(), Utc.with_ymd_and_hms(2024, 3, 28, 0, 0, 0).unwrap());
        assert_eq!(page.items.len(), 8);
        assert!(page.items.iter().all(|s| (s.start, s.end) == (whole.0, Some(whole.1))), "{:?}", page.items[0]);
        assert_eq!(page.next_cursor, None);
        use std::sync::atomic::Ordering::SeqCst;
        assert_eq!(store.segment_reads.load(SeqCst), 8 * 15, "one read, then 7 days back and 7 forward, each");
        assert!(store.most_in_flight.load(SeqCst) >= 2 * 8, "{} in flight at most", store.most_in_flight.load(SeqCst));
        assert!(took <= std::time::Duration::from_millis(100), "a page of 8 agents took {took:?}");
    }

    /// An agent-states page ends with a cursor once it has sent [`MAX_STATE_QUERIES_PER_PAGE`] Queries (here 60),
    /// after a whole agent, and the pages together answer what one page does.
    #[tokio::test(start_paused = true)]
    async fn a_page_ends_after_its_queries_and_the_pages_answer_the_same() {
        let integration = IntegrationId::new();
        let agents = (0..20)
            .map(|a| (mapped(&format!("emp-{a:02}"), integration, &format!("agent-{a:02}")), offline_for_two_months()));
        let store = Arc::new(StatesStore::new(agents.collect()));
        let tenant = TenantId::parse("t1").unwrap();
        let (from, to) =
            (Utc.with_ymd_and_hms(2024, 3, 20, 6, 0, 0).unwrap(), Utc.with_ymd_and_hms(2024, 3, 20, 7, 0, 0).unwrap());
        let whole = QueryService::new(store.clone()).agent_states(&tenant, from, to, None, 1000, None).await.unwrap();
        assert_eq!((whole.items.len(), &whole.next_cursor), (20, &None));
        let service = QueryService { max_state_queries: 60, ..QueryService::new(store.clone()) };
        let (mut items, mut cursor, mut pages) = (Vec::new(), None::<String>, 0);
        loop {
            use std::sync::atomic::Ordering::SeqCst;
            let before = store.segment_reads.load(SeqCst);
            let page = service.agent_states(&tenant, from, to, None, 1000, cursor.as_deref()).await.unwrap();
            pages += 1;
            // The budget, and the agents read ahead (8 at most, 15 Queries each).
            assert!(store.segment_reads.load(SeqCst) - before <= 60 + 8 * 15, "page {pages}");
            items.extend(page.items);
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        assert_eq!(pages, 5, "4 agents a page (1 + 4 × 15 Queries)");
        assert_eq!(items, whole.items);
    }

    /// A page with `employee_id=E` reads the index prefix `E#`, which also holds the mappings of employees whose ids
    /// begin `E#`: a page that has read enough of them ends with a cursor at the last one read, which the next page
    /// accepts. Until 2026-12-07 the bound was checked only after one of `E`'s agents, and such mappings were read
    /// to their end in one request, 51 at a time.
    #[tokio::test]
    async fn a_page_ends_after_enough_mappings_of_other_employees() {
        let integration = IntegrationId::new();
        let mut agents: Vec<_> = (0..1000)
            .map(|e| {
                (mapped(&format!("site7#{e:04}"), integration, &format!("agent-{e:04}")), offline_for_two_months())
            })
            .collect();
        agents.push((mapped("site7", integration, "mine"), offline_for_two_months()));
        let store = Arc::new(StatesStore::new(agents));
        let service = QueryService { max_state_items_read: 200, ..QueryService::new(store.clone()) };
        let tenant = TenantId::parse("t1").unwrap();
        let (from, to) =
            (Utc.with_ymd_and_hms(2024, 3, 20, 6, 0, 0).unwrap(), Utc.with_ymd_and_hms(2024, 3, 20, 7, 0, 0).unwrap());
        let (mut items, mut cursor, mut pages) = (Vec::new(), None::<String>, 0);
        loop {
            let before = store.mappings_read.load(std::sync::atomic::Ordering::SeqCst);
            let page = service.agent_states(&tenant, from, to, Some("site7"), 1000, cursor.as_deref()).await.unwrap();
            pages += 1;
            let read = store.mappings_read.load(std::sync::atomic::Ordering::SeqCst) - before;
            // The budget and at most one more round of mappings (51).
            assert!(read <= 200 + 51, "page {pages} read {read} mappings");
            items.extend(page.items);
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        assert_eq!(items.iter().map(|s| s.agent.external_id.as_str()).collect::<Vec<_>>(), ["mine"]);
        assert!(pages > 1000 / (200 + 51), "{pages} pages");
    }

    #[test]
    fn a_cursor_of_an_employee_filter_may_name_a_mapping_its_index_prefix_reads() {
        let (from, to) = (t(0, 0), t(12, 0));
        let integration = IntegrationId::new();
        let at = |employee: &str| StatesCursor { agent: mapped(employee, integration, "x"), start: to };
        for ok in ["site7", "site7#0001", "site7##", "site7#"] {
            assert!(check_states_cursor(&at(ok), from, to, Some("site7")).is_ok(), "{ok}");
        }
        for bad in ["site70", "site", "site7-1", "other#site7"] {
            assert!(check_states_cursor(&at(bad), from, to, Some("site7")).is_err(), "{bad}");
        }
    }
}
