//! The agent-states pass: what the `imp-{integration}-states` schedule runs every `agent_state_cadence` (1 to 15
//! minutes) for integrations whose vendor supports it (Genesys Cloud, Amazon Connect).
//!
//! One pass: load the integration (deleted, paused, push, or no cadence any more → nothing to do), take the pass's
//! own lease (`LEASE#STATES`: one pass at a time), skip while the 15-minute import holds its lease (it writes the
//! same segments; the next pass reads these states again), load the integration again with the lease held (deleted,
//! paused or switched off since → let the lease go, nothing to do), read the agent states of the known agents (the
//! agents the last 15-minute import listed) since the pass's checkpoint minus [`OVERLAP`] ([`states_window`]) — a
//! Genesys users-details query, the Amazon Connect agent event stream from the pass's own stream checkpoint (the
//! import's when the pass has none or has not run for [`MAX_LOOKBACK`]: `ImportService::feed_position`) — and
//! upsert their segments with the same keys as the 15-minute import (agent, start): the same segment written by both
//! paths is one item. The open segment of an agent in a state now is stored with `end: null` and closed by the next
//! pass (or import) that sees its end.
//!
//! It never touches statistics, queues, statuses, the import state or `complete_through`; it does not verify the
//! credentials first (each call would fail the same way) and is not recorded in the run log nor in the
//! integration's status (sixty a hour would push the 15-minute runs out of the log, and a good pass must not hide
//! a failing import): each pass logs one line with its vendor calls and writes, a failing one at warn level, and
//! one EMF line ([`crate::metrics::states_pass_metrics`]: `AgentStatesPasses` by type, outcome and reason). It
//! stores no agent-state gaps (`Connector::agent_state_gaps`): what its own stream position missed, the 15-minute
//! import reads from its own, and that import stores what is really lost.
//!
//! Concurrency with the 15-minute import: both write the vendor's answer under the same keys, and with hour buckets
//! both rewrite whole agent-hours (read, merge, put), so they never write at the same time. A pass takes its own
//! lease, then looks at the import's and stops if it is held; an import takes its lease, then waits while a pass
//! holds one (at most [`PASS_TIME_LIMIT`]). The pass removes the segment digests of the days it writes (so the next
//! import reads those days back rather than trusting a digest), and before it first writes into a day it records
//! that day in its checkpoint (`written_day`): the import treats a day as new, with nothing stored to read back,
//! only when neither it nor a pass has written into it.

use std::collections::{BTreeMap, BTreeSet};

use acd_connectors::{Connector, ConnectorError, Deadline};
use acd_domain::{Integration, IntegrationId, IntegrationState, RunId, TenantId, TimeWindow};
use chrono::{DateTime, Duration, Utc};

use sha2::{Digest, Sha256};

use super::{ImportEvent, ImportService, RunOutcome, RunRecord, RunSummary, lease_until, plan};
use crate::ports::{LeaseKind, StoreError};

/// The `pass` of an import event that runs the agent-states pass.
pub const STATES_PASS: &str = "agent_states";

/// The member of a pass's event that says when Scheduler invoked it for (`shared/aws` `scheduler::states_input`).
pub const SCHEDULED_AT: &str = "scheduled_at";

/// The member of a pass's event that holds its schedule's cadence, in minutes.
pub const CADENCE_MINUTES: &str = "cadence_minutes";

/// How late a pass may be delivered and still run, at least ([`PassTiming`]): Scheduler fires within its minute of
/// precision (the states schedule has no flexible window) and Lambda's queue hands the event on within seconds unless
/// the function is throttled. A pass held back longer (Lambda keeps an asynchronous event up to the function's
/// maximum event age, 30 minutes in the template) and past its schedule's next pass would only read what that one
/// reads, taking a slot the imports need (until 2026-12-07 every such pass ran; the config review found it).
pub const STALE_PASS_AFTER: Duration = Duration::minutes(3);

/// When a pass's event was scheduled for, and how late it may still run: its cadence, at least
/// [`STALE_PASS_AFTER`] (a 15-minute pass 4 minutes late is still the freshest for 11 minutes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PassTiming {
    pub scheduled_at: DateTime<Utc>,
    pub runs_until: Duration,
}

impl PassTiming {
    /// Whether the pass comes too late at `now`.
    pub fn stale(&self, now: DateTime<Utc>) -> bool {
        now - self.scheduled_at > self.runs_until
    }
}

/// The timing of the pass of `payload` (its [`SCHEDULED_AT`] and [`CADENCE_MINUTES`] members); `None` when the time is
/// absent or not a time (a schedule written before 2026-12-07, an event written by hand, or a context attribute that
/// nothing replaced: the pass then runs).
pub fn pass_timing(payload: &serde_json::Value) -> Option<PassTiming> {
    let raw = payload.get(SCHEDULED_AT)?.as_str()?;
    let scheduled_at = DateTime::parse_from_rfc3339(raw).ok()?.with_timezone(&Utc);
    let cadence = payload.get(CADENCE_MINUTES).and_then(serde_json::Value::as_i64).unwrap_or(0);
    Some(PassTiming { scheduled_at, runs_until: STALE_PASS_AFTER.max(Duration::minutes(cadence.clamp(0, 60))) })
}

/// How far before the checkpoint each pass reads again: a state change the vendor reported late is not missed.
pub const OVERLAP: Duration = Duration::minutes(2);

/// The longest a pass runs, its writes included (its deadline is the earlier of this and its invocation's; a pass
/// still running then is cut off, `partial`): a pass reads at most an hour of states, and the 15-minute import
/// waits for a running pass ([`ImportService::run`]), so a pass that dies holds its lease for at most this plus a
/// minute, and one that does not die writes nothing in that minute.
pub const PASS_TIME_LIMIT: std::time::Duration = std::time::Duration::from_secs(120);

/// The farthest back a pass reads (after a pause or an outage of the pass): older states come with the 15-minute
/// import, which re-reads whole days.
pub const MAX_LOOKBACK: Duration = Duration::minutes(60);

/// The window a pass reads, to now: from its checkpoint, or from the current quarter hour if that is earlier (the
/// 15-minute import writes only segments that start before it), minus [`OVERLAP`], rounded down to its quarter hour;
/// never more than [`MAX_LOOKBACK`]. Rounded down, the passes of a quarter hour have the same start, the first one's
/// included (its checkpoint is from before the quarter hour, the next ones' from after it), so only its first pass
/// reads every agent back for that start ([`crate::ports::SeenStates`]; the import, which deletes them, makes the
/// next pass read them all too). A checkpoint from the first 2 minutes of the quarter hour before (no pass since)
/// rounds down one quarter hour further: a wider window, never a narrower one. Rows of the users-details answer are
/// per user, so a longer window costs no more calls.
pub fn states_window(now: DateTime<Utc>, through: Option<DateTime<Utc>>) -> Option<TimeWindow> {
    let quarter = acd_domain::acd::floor_to_interval(now);
    let since = acd_domain::acd::floor_to_interval(through.map_or(quarter, |t| t.min(quarter)) - OVERLAP);
    TimeWindow::new(since.max(now - MAX_LOOKBACK), now).ok()
}

/// The pieces of `segments` as the 15-minute import cuts them (split at UTC midnights, [`plan::owned_pieces`]),
/// for the days of `window`. Pieces of earlier days are the import's (they end at a midnight whatever happens
/// later; a segment may start before the configured history, where nothing is imported).
pub fn recent_pieces(segments: &[acd_domain::AgentSegment], window: TimeWindow) -> Vec<acd_domain::AgentSegment> {
    let Ok(span) = TimeWindow::new(plan::day_start(window.start), window.end) else { return Vec::new() };
    plan::day_chunks(span).into_iter().flat_map(|chunk| plan::owned_pieces(segments, chunk)).collect()
}

impl ImportService {
    /// [`Self::run_states`] for the Lambda handler: a store failure is logged and answered as a `failed` pass
    /// instead of failing the invocation. A failed invocation is retried by Lambda (the import function's
    /// `EventInvokeConfig`: twice, a minute and two apart) and then dead-lettered; a pass, whose schedule runs the
    /// next one within minutes and whose import reads the same states anyway, gains nothing from a stale retry, and
    /// with a one-minute cadence a store outage would fill the dead-letter queue with pass events. The 15-minute
    /// import fails (and is retried, and alarms) on the same store.
    ///
    /// A pass delivered later than its [`PassTiming`] allows ([`pass_timing`] of its event) is skipped: Lambda's
    /// queue held it back (throttling), and later passes and the import read the same states.
    pub async fn run_states_event(
        &self,
        event: &ImportEvent,
        deadline: Deadline,
        timing: Option<PassTiming>,
    ) -> RunSummary {
        if let Some(timing) = timing
            && timing.stale(Utc::now())
        {
            tracing::info!(tenant = %event.tenant_id, integration = %event.integration_id, scheduled_at = %timing.scheduled_at, "agent-states pass skipped: delivered too late");
            return RunSummary::skipped("stale: scheduled too long ago");
        }
        match self.run_states(event, deadline).await {
            Ok(summary) => summary,
            Err(e) => {
                tracing::error!(tenant = %event.tenant_id, integration = %event.integration_id, error = %e, "agent-states pass failed on the store; the next pass tries again");
                RunSummary { outcome: RunOutcome::Failed, detail: format!("store failure: {e}"), run: None }
            }
        }
    }

    /// Runs one agent-states pass for the event, stopping before `deadline`. `Err` only for store failures.
    pub async fn run_states(&self, event: &ImportEvent, deadline: Deadline) -> Result<RunSummary, StoreError> {
        let (Ok(tenant), Ok(id)) = (TenantId::parse(&event.tenant_id), event.integration_id.parse::<IntegrationId>())
        else {
            tracing::warn!(tenant = %event.tenant_id, integration = %event.integration_id, "malformed agent-states event ignored");
            return Ok(RunSummary::skipped("malformed event"));
        };
        let Some(integration) = self.repo.get(&tenant, id).await? else {
            // What a delete left (a schedule written after it, a delete stopped half-way) goes, as the import does.
            return self.stop_deleted(&tenant, id).await;
        };
        if let Some(why) = states_skip_reason(&integration) {
            tracing::info!(tenant = %tenant, integration = %id, reason = why, "agent-states pass: nothing to do");
            return Ok(RunSummary::skipped(why));
        }
        let started_at = Utc::now();
        let run_id = RunId::new();
        let deadline = deadline.min_after(PASS_TIME_LIMIT);
        let lease_until = lease_until(started_at, deadline);
        let store = self.store.as_ref();
        let acquired = super::take_lease(store, LeaseKind::AgentStates, &tenant, id, run_id, started_at, lease_until);
        let acquired = acquired.await?;
        if !acquired.taken() {
            tracing::info!(tenant = %tenant, integration = %id, "agent-states pass skipped: another pass is running");
            return Ok(RunSummary::skipped("another agent-states pass is in progress"));
        }
        let integration = match self.leased_pass(&tenant, id).await {
            Ok(Ok(integration)) => integration,
            Ok(Err(why)) => return self.let_pass_go(&tenant, id, run_id, why).await,
            Err(e) => {
                // The store's failure is the one to report; the lease would otherwise expire with the pass's limit.
                let _ = self.store.release_lease(LeaseKind::AgentStates, &tenant, id, run_id).await;
                return Err(e);
            }
        };
        let mut record = RunRecord::started(run_id, tenant.clone(), id, started_at);
        // A pass that took the lease over from one that outlived it may see that one write after it: it vouches for
        // nothing it stores (no seen states saved).
        let vouch = acquired == crate::ports::Acquired::Free;
        // Nothing of the pass runs past its deadline, its writes included (a throttled write retries with backoff
        // for as long as it is let). Cut off, the pass ends `partial` (what it read is read again by the next one),
        // and keeps its lease while a write it sent may still land (`in_flight_hold`); so does a pass that failed
        // on a store error, as other writes may have been out.
        let pass = self.states_pass(&integration, deadline, vouch, &mut record);
        let (result, in_flight) = match tokio::time::timeout_at(deadline.instant(), pass).await {
            Ok(result) => {
                let in_flight = matches!(result, Err(super::ImportError::Store(_)));
                (result, in_flight)
            }
            Err(_) => {
                record.message = Some("cut off at the pass's deadline: the next pass reads these states again".into());
                (Ok(RunOutcome::Partial), true)
            }
        };
        record.ended_at = Utc::now();
        let released = if in_flight {
            self.hold_lease(LeaseKind::AgentStates, &tenant, id, run_id).await
        } else {
            self.store.release_lease(LeaseKind::AgentStates, &tenant, id, run_id).await
        };
        let store_failure = match result {
            Ok(outcome) => {
                record.outcome = outcome;
                None
            }
            Err(super::ImportError::Store(e)) => {
                record.outcome = RunOutcome::Failed;
                record.reason = Some(acd_domain::FailureReason::Internal);
                Some(e)
            }
            Err(e) => {
                record.outcome = RunOutcome::Failed;
                record.reason = match &e {
                    super::ImportError::Vendor(v) => Some(v.reason()),
                    _ => Some(acd_domain::FailureReason::ConfigurationWrong),
                };
                record.message = Some(e.to_string());
                None
            }
        };
        crate::metrics::emit_states_pass(&integration, &record);
        if let Some(e) = store_failure {
            return Err(e);
        }
        released?;
        let writes = &record.counts.segment_writes;
        if in_flight {
            tracing::warn!(tenant = %tenant, integration = %id, run = %run_id, message = record.message.as_deref(),
                agents = record.counts.agents, segments = record.counts.segments, vendor_calls = record.vendor_calls,
                written = writes.written, write_requests = writes.write_requests,
                "agent-states pass cut off at its deadline: the next pass (and the 15-minute import) reads these states again");
        } else if record.outcome == RunOutcome::Failed {
            tracing::warn!(tenant = %tenant, integration = %id, run = %run_id, reason = record.reason.map(|r| r.as_str()),
                message = record.message.as_deref(), vendor_calls = record.vendor_calls,
                "agent-states pass failed: the next pass (and the 15-minute import) reads these states again");
        } else {
            tracing::info!(tenant = %tenant, integration = %id, run = %run_id, outcome = ?record.outcome,
                message = record.message.as_deref(), agents = record.counts.agents, segments = record.counts.segments,
                vendor_calls = record.vendor_calls,
                written = writes.written, deleted = writes.deleted, unchanged = writes.unchanged,
                write_requests = writes.write_requests, reads = writes.reads, "agent-states pass finished");
        }
        Ok(RunSummary {
            outcome: record.outcome,
            detail: format!("agent states: {:?}", record.outcome).to_lowercase(),
            run: Some(record),
        })
    }

    /// With the pass's lease held: the integration to read the states of, or why there is nothing to do.
    async fn leased_pass(
        &self,
        tenant: &TenantId,
        id: IntegrationId,
    ) -> Result<Result<Integration, &'static str>, StoreError> {
        // Its own lease first, then the import's: of an import and a pass starting together, at least one sees the
        // other's lease (the import waits for a pass whose lease it sees), so they never write at the same time.
        if self.store.lease_held(LeaseKind::Import, tenant, id, Utc::now()).await? {
            return Ok(Err("the 15-minute import is running"));
        }
        // A pause, a DELETE or the pass switched off may have come between the first read and the lease: look again
        // with the lease held (a pause saved from now on is the next pass's), and go on with the record read now.
        Ok(match self.repo.get(tenant, id).await? {
            Some(current) => states_skip_reason(&current).map_or(Ok(current), Err),
            None => Err("integration deleted"),
        })
    }

    /// Lets the pass's lease go and ends the pass as `skipped` before it has read or written anything.
    async fn let_pass_go(
        &self,
        tenant: &TenantId,
        id: IntegrationId,
        run_id: RunId,
        why: &'static str,
    ) -> Result<RunSummary, StoreError> {
        self.store.release_lease(LeaseKind::AgentStates, tenant, id, run_id).await?;
        tracing::info!(tenant = %tenant, integration = %id, reason = why, "agent-states pass skipped as it started");
        Ok(RunSummary::skipped(why))
    }

    /// The pass itself, in named steps: the window, the agents, the vendor's states, the writes, the checkpoint.
    async fn states_pass(
        &self,
        integration: &Integration,
        deadline: Deadline,
        vouch: bool,
        record: &mut RunRecord,
    ) -> Result<RunOutcome, super::ImportError> {
        let (tenant, id) = (&integration.tenant_id, integration.id);
        let now = self.config.now.unwrap_or_else(Utc::now);
        let mut checkpoint = self.store.load_states_checkpoint(tenant, id).await?;
        let Some(window) = states_window(now, checkpoint.through) else { return Ok(RunOutcome::Succeeded) };
        record.window = Some(window);
        let agents = self.store.known_agents(integration).await?;
        record.counts.agents = agents.len() as u64;
        if agents.is_empty() {
            // Nothing listed yet: the first 15-minute import lists the agents.
            return Ok(RunOutcome::Succeeded);
        }
        let vendor_deadline = self.vendor_deadline(deadline);
        let credentials = self.credentials(integration, false).await?;
        let connector = self.build_connector(integration, credentials.clone())?;
        let from = self.feed_position(integration, connector.as_ref(), &checkpoint, now).await?;
        let read = self.read_states(connector.as_ref(), &agents, window, &from, vendor_deadline).await;
        record.vendor_calls = connector.calls_made();
        let (connector, segments) = match read {
            // As the import does: the secret's current version, once, if it holds other credentials (a pass checks
            // none first). The pass fails as rejected if that cannot be read, a storage failure included (no retry:
            // the next pass comes a minute later).
            Err(ConnectorError::CredentialsRejected) => match self.current_connector(integration, &credentials).await {
                Ok(Some(current)) => {
                    let read =
                        self.read_states(current.connector.as_ref(), &agents, window, &from, vendor_deadline).await;
                    record.vendor_calls += current.connector.calls_made();
                    if read.is_ok() {
                        self.remember_current(integration, &current);
                    }
                    (current.connector, read)
                }
                Ok(None) => (connector, Err(ConnectorError::CredentialsRejected)),
                Err(e) => {
                    tracing::warn!(tenant = %tenant, integration = %id, error = %e, "the secret's current version could not be read after a rejection");
                    (connector, Err(ConnectorError::CredentialsRejected))
                }
            },
            read => (connector, read),
        };
        let segments = match segments {
            Ok(segments) => segments,
            Err(ConnectorError::DeadlineExceeded) => return Ok(RunOutcome::Partial),
            Err(e) => return Err(e.into()),
        };
        // The import reads back a day a pass has written into (see the module documentation): marked before the
        // first write into it.
        let last_day = plan::day_start(window.end);
        if checkpoint.written_day.is_none_or(|day| day < last_day) {
            checkpoint.written_day = Some(last_day);
            self.store.save_states_checkpoint(tenant, id, &checkpoint).await?;
        }
        let pieces = recent_pieces(&segments, window);
        // Agents the connector could not ask about (gone from the vendor's user listing since the import stored the
        // agent list) had nothing read: what is stored for them stays as it is (the next import's listing decides
        // about them), where an agent that was read and has nothing in the window has its window emptied.
        let not_read: BTreeSet<String> = connector.agents_not_read().into_iter().collect();
        if !not_read.is_empty() {
            tracing::info!(tenant = %tenant, integration = %id, agents = not_read.len(), "agents not in the vendor's user listing: their stored states are left as they are");
        }
        let agent_ids: Vec<String> =
            agents.iter().map(|a| a.external_id.clone()).filter(|a| !not_read.contains(a)).collect();
        record.counts.segments = pieces.len() as u64;
        let mut seen_now = None;
        record.counts.segment_writes = if connector.agent_states_feed() {
            // A feed (Amazon Connect's agent event stream) hands each record over once: a pass with nothing new
            // for an agent must not delete what an earlier pass stored, so its segments are merged (upserted by
            // start, nothing deleted), as the 15-minute import does with them.
            if let Some(message) = self.writes_do_not_fit(deadline, self.store.items_to_write(&[], &pieces)) {
                record.message = Some(message);
                return Ok(RunOutcome::Partial);
            }
            let mut counts = crate::ports::WriteCounts::default();
            if let Ok(span) = TimeWindow::new(plan::day_start(window.start), window.end) {
                for chunk in plan::day_chunks(span) {
                    // Not fresh: the pass does not know which days the import wrote.
                    counts += self.store.merge_segments(integration, chunk, &pieces, false).await?;
                }
            }
            counts
        } else {
            // What the last pass left stored, if nothing else wrote since: agents whose answer hashes as it did
            // then have nothing to write, and are not read back (one Query each, every pass, otherwise).
            let (seen, unread) = match self.store.load_seen_states(tenant, id).await {
                Ok(seen) => (seen, false),
                Err(e) => {
                    // Only a shortcut: without it every agent is read back, which is always right. (It may still
                    // be stored: it is deleted before this pass writes, as when it was read.)
                    tracing::warn!(tenant = %tenant, integration = %id, error = %e, "seen states not read: every agent is read back");
                    (None, true)
                }
            };
            let hashes = agent_hashes(&agent_ids, &pieces);
            let unchanged: BTreeSet<&str> = match &seen {
                Some(seen) if seen.since == window.start => hashes
                    .iter()
                    .filter(|(_, h)| seen.hashes.binary_search(h).is_ok())
                    .map(|(agent, _)| agent.as_str())
                    .collect(),
                _ => BTreeSet::new(),
            };
            let changed_agents: Vec<String> =
                agent_ids.iter().filter(|a| !unchanged.contains(a.as_str())).cloned().collect();
            let (skipped, changed): (Vec<_>, Vec<_>) =
                pieces.into_iter().partition(|p| unchanged.contains(&*p.agent_external_id));
            let mut counts = crate::ports::WriteCounts { unchanged: skipped.len() as u64, ..Default::default() };
            if !changed_agents.is_empty() || !changed.is_empty() {
                // Each changed agent's hours are read back, then its items written.
                let items = self.store.items_to_write(&[], &changed) + changed_agents.len() as u64;
                if let Some(message) = self.writes_do_not_fit(deadline, items) {
                    record.message = Some(message);
                    return Ok(RunOutcome::Partial);
                }
                if seen.is_some() || unread {
                    // From the first write on, it no longer says what is stored (this pass may fail half-way).
                    self.store.forget_seen_states(tenant, id).await?;
                }
                counts += self.store.write_recent_segments(integration, window, &changed_agents, &changed).await?;
            }
            seen_now = vouch.then(|| crate::ports::SeenStates {
                since: window.start,
                hashes: hashes.into_values().collect::<BTreeSet<u64>>().into_iter().collect(),
            });
            counts
        };
        // Everything read is written: the checkpoint (and the pass's own stream position) may advance.
        checkpoint.through = Some(window.end);
        if let Some(cursor) = connector.vendor_cursor() {
            checkpoint.vendor_cursor = Some(cursor);
        }
        self.store.save_states_checkpoint(tenant, id, &checkpoint).await?;
        if let Some(seen) = seen_now {
            self.save_seen(integration, record.run_id, &seen).await;
        }
        record.warnings.extend(connector.warnings());
        Ok(RunOutcome::Succeeded)
    }

    /// Why the pass stops before its first write, if `items` writes and the run record do not fit before `deadline`
    /// (estimated as the import's are: [`super::ImportConfig::write_time_per_item`] each, plus the record reserve).
    /// The ACD's answer may take most of the pass's time (a large Genesys Cloud organization's user details, a
    /// hundred agents a query): a pass that then started its writes was cut off half-way, every pass, holding its
    /// lease longer each time and having deleted the seen states, so the next one read every agent back (found in a
    /// review on 2026-12-08). Stopped before them, it writes no segment (only the mark of the day it reads, which
    /// makes the import read that day back); the 15-minute import writes these states.
    fn writes_do_not_fit(&self, deadline: Deadline, items: u64) -> Option<String> {
        let items_u32 = u32::try_from(items).unwrap_or(u32::MAX);
        let needed = self.config.write_time(self.config.write_time_per_item, items_u32);
        let left = deadline.remaining();
        (left < needed).then(|| {
            format!(
                "stopped before writing: {} ms left, {} ms needed for its {items} items and the run record; the \
                 15-minute import writes these states (a pass at this cadence has too little time for this many \
                 agents' changes)",
                left.as_millis(),
                needed.as_millis()
            )
        })
    }

    /// Saves what the pass left stored, in one transaction with a check that it still holds its lease for
    /// [`SEEN_SAVE_MARGIN`] more: a pass that outlived its lease may have written beside an import (which then
    /// rewrote agent-hours it had read before), so what it wrote is not vouched for. Best effort: not saved (too
    /// many agents for one item, the lease, a failed write), the next pass reads every agent back — this pass
    /// deleted any earlier item before its first write.
    async fn save_seen(&self, integration: &Integration, run_id: RunId, seen: &crate::ports::SeenStates) {
        let (tenant, id) = (&integration.tenant_id, integration.id);
        if seen.hashes.len() > MAX_SEEN_AGENTS {
            tracing::info!(tenant = %tenant, integration = %id, agents = seen.hashes.len(), "seen states not saved: too many agents for one item");
            return;
        }
        match self.store.save_seen_states(tenant, id, seen, run_id, Utc::now() + SEEN_SAVE_MARGIN).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(tenant = %tenant, integration = %id, run = %run_id, "agent-states pass outlived its lease: seen states not saved");
            }
            Err(e) => {
                tracing::warn!(tenant = %tenant, integration = %id, error = %e, "seen states not saved: the next pass reads every agent back");
            }
        }
    }

    /// Where a pass reads a feed from ([`Connector::agent_states_feed`]; other vendors keep no position): its own
    /// position while it follows the feed, its checkpoint at most [`MAX_LOOKBACK`] old. Without one (the first
    /// pass) or after a longer pause, the 15-minute import's position: the import has stored what came before it,
    /// and a pass reading on from its own start (the feed's oldest record, up to the stream's retention) or from
    /// hours back would read what its window no longer needs, and may not be through before its deadline, so that
    /// every pass would stop `partial` and the next start from the same place again. Not when the import's is
    /// older than the pass's own (its `complete_through`, where its position was last saved with its days, is
    /// before the pass's checkpoint: imports failing for hours keep their position back).
    async fn feed_position(
        &self,
        integration: &Integration,
        connector: &dyn Connector,
        checkpoint: &crate::ports::StatesCheckpoint,
        now: DateTime<Utc>,
    ) -> Result<Option<serde_json::Value>, StoreError> {
        let following = checkpoint.through.is_some_and(|t| t >= now - MAX_LOOKBACK);
        if !connector.agent_states_feed() || (following && checkpoint.vendor_cursor.is_some()) {
            return Ok(checkpoint.vendor_cursor.clone());
        }
        let import = self.store.load_state(&integration.tenant_id, integration.id).await?;
        let import_behind =
            checkpoint.through.is_some_and(|through| import.complete_through.is_none_or(|done| done < through));
        if import_behind && checkpoint.vendor_cursor.is_some() {
            return Ok(checkpoint.vendor_cursor.clone());
        }
        Ok(import.vendor_cursor.or_else(|| checkpoint.vendor_cursor.clone()))
    }

    /// The vendor's agent segments overlapping `window`, read from the feed position `from`.
    async fn read_states(
        &self,
        connector: &dyn Connector,
        agents: &[acd_domain::ExternalAgent],
        window: TimeWindow,
        from: &Option<serde_json::Value>,
        deadline: Deadline,
    ) -> Result<Vec<acd_domain::AgentSegment>, ConnectorError> {
        connector.restore_vendor_cursor(from.clone())?;
        connector.agent_segments(agents, window, deadline).await
    }
}

/// One hash per agent of `agents` and of `pieces` (a pass's answer, cut as stored) over that agent's pieces, each
/// piece with everything stored of it: SHA-256 of the agent id and its pieces' JSON (sorted), its first 8 bytes.
/// An agent with no piece hashes too (nothing of it is stored in the window either).
pub fn agent_hashes(agents: &[String], pieces: &[acd_domain::AgentSegment]) -> BTreeMap<String, u64> {
    let mut by_agent: BTreeMap<&str, Vec<String>> = agents.iter().map(|a| (a.as_str(), Vec::new())).collect();
    for p in pieces {
        let json = serde_json::to_string(p).expect("an agent segment serializes");
        by_agent.entry(&p.agent_external_id).or_default().push(json);
    }
    by_agent
        .into_iter()
        .map(|(agent, mut pieces)| {
            pieces.sort_unstable();
            let mut hasher = Sha256::new();
            hasher.update(agent.as_bytes());
            for piece in &pieces {
                hasher.update([0u8]);
                hasher.update(piece.as_bytes());
            }
            let digest = hasher.finalize();
            (agent.to_owned(), u64::from_be_bytes(digest[..8].try_into().expect("8 bytes")))
        })
        .collect()
}

/// How long a pass's lease must still last when it saves its seen states ([`crate::ports::SeenStates`]; the check
/// and the save are one transaction): an import or another pass starts only once the lease has run out, by its own
/// clock — this covers the clocks' difference.
pub const SEEN_SAVE_MARGIN: Duration = Duration::seconds(30);

/// Most agents whose hashes fit in one seen-states item (8 bytes each, DynamoDB's items end at 400 KB).
pub const MAX_SEEN_AGENTS: usize = 40_000;

/// Whether the integration's type has an agent-states pass (whether it is switched on or not: a pass may still
/// run, or have written, after the setting is turned off).
pub(crate) fn has_pass(integration: &Integration) -> bool {
    acd_connectors::vendor_of(&integration.kind).is_ok_and(|v| v.pulls() && v.agent_state_cadence().is_ok())
}

/// Why an integration has no agent-states pass to run now, if it has none.
fn states_skip_reason(integration: &Integration) -> Option<&'static str> {
    if integration.status.state == IntegrationState::Paused {
        return Some("integration paused");
    }
    if !has_pass(integration) {
        return Some("this integration type has no agent-states pass");
    }
    if integration.settings.agent_state_cadence.is_none() {
        return Some("the agent-states pass is off");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use acd_domain::AgentSegment;
    use chrono::TimeZone;

    fn t(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, h, m, 0).unwrap()
    }

    #[test]
    fn an_agents_hash_follows_its_pieces_whatever_their_order_and_only_its_own() {
        let seg = |agent: &str, status: &str, start, end| AgentSegment {
            agent_external_id: agent.into(),
            status_id: status.into(),
            reason: None,
            start,
            end,
        };
        let agents = vec!["a".to_owned(), "b".to_owned(), "c".to_owned()];
        let pieces =
            vec![seg("a", "x", t(10, 0), Some(t(10, 5))), seg("a", "y", t(10, 5), None), seg("b", "x", t(9, 0), None)];
        let before = agent_hashes(&agents, &pieces);
        assert_eq!(before.len(), 3, "every agent, one without pieces too");
        let mut reordered = pieces.clone();
        reordered.reverse();
        assert_eq!(agent_hashes(&agents, &reordered), before);
        // The open segment closes: only a's hash moves.
        let mut closed = pieces.clone();
        closed[1].end = Some(t(10, 7));
        let after = agent_hashes(&agents, &closed);
        assert_ne!(after["a"], before["a"]);
        assert_eq!((after["b"], after["c"]), (before["b"], before["c"]));
        // A reason code, or the same pieces under another agent, hash apart.
        let mut reason = pieces.clone();
        reason[2].reason = Some("lunch".into());
        assert_ne!(agent_hashes(&agents, &reason)["b"], before["b"]);
        assert_ne!(before["b"], agent_hashes(&agents, &[seg("c", "x", t(9, 0), None)])["c"]);
    }

    #[test]
    fn the_window_covers_the_quarter_hour_and_the_checkpoint_with_overlap_from_a_quarter_hour_and_at_most_an_hour() {
        let w = states_window(t(10, 20), Some(t(10, 19))).unwrap();
        assert_eq!((w.start, w.end), (t(10, 0), t(10, 20)), "since the quarter hour the import wrote up to, less 2");
        assert_eq!(states_window(t(10, 20), None).unwrap().start, t(10, 0));
        // Every pass of a quarter hour has one start, the first included (its checkpoint is before the quarter).
        for (now, through) in [(t(10, 15), t(10, 14)), (t(10, 16), t(10, 15)), (t(10, 29), t(10, 28))] {
            assert_eq!(states_window(now, Some(through)).unwrap().start, t(10, 0), "at {now}");
        }
        assert_eq!(states_window(t(10, 30), Some(t(10, 29))).unwrap().start, t(10, 15), "the next quarter's");
        assert_eq!(states_window(t(10, 20), Some(t(10, 5))).unwrap().start, t(10, 0), "a missed pass");
        assert_eq!(states_window(t(10, 20), Some(t(10, 1))).unwrap().start, t(9, 45), "the overlap before rounding");
        assert_eq!(states_window(t(10, 20), Some(t(6, 0))).unwrap().start, t(9, 20));
    }

    #[test]
    fn pieces_are_cut_like_the_import_and_an_open_segment_stays_open() {
        let seg = |start, end| AgentSegment {
            agent_external_id: "a".into(),
            status_id: "s".into(),
            reason: None,
            start,
            end,
        };
        // A segment from before midnight still open now: today's piece, open (yesterday's is the import's).
        let window = TimeWindow::new(t(0, 3), t(0, 6)).unwrap();
        let pieces = recent_pieces(&[seg(t(0, 0) - Duration::minutes(30), None)], window);
        assert_eq!(pieces.iter().map(|p| (p.start, p.end)).collect::<Vec<_>>(), vec![(t(0, 0), None)]);
        let closed = recent_pieces(&[seg(t(0, 4), Some(t(0, 5))), seg(t(0, 5), None)], window);
        assert_eq!(
            closed.iter().map(|p| (p.start, p.end)).collect::<Vec<_>>(),
            vec![(t(0, 4), Some(t(0, 5))), (t(0, 5), None)]
        );
    }
}
