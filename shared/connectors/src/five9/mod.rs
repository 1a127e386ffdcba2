//! Five9 connector: the admin web service (SOAP 1.1, `/wsadmin/v13/AdminWebService`) with Basic auth on every
//! request, and two reports (Call Log, Agent State Details) for statistics and agent states.
//!
//! Files: `vendor` (the registry entry), `settings` and `regions` (what the user picks, hosts), `options`
//! (tunables), `client` (the SOAP transport: retries, faults), `soap` (envelopes, XML walking), `runs` (report
//! orchestration: planning, running, halving, reading), `report` (CSV rows → intervals and segments), `budget`
//! (API counters and pacing), `time` (report time zones and DST); this file holds the connector itself.
//!
//! ## Identifiers (documented choices)
//! - Queues, grouping `campaign`: `external_id` = campaign **name**. The WSDL's `campaign` type has no id (only
//!   description, mode, name, profileName, state, trainingMode, type), so the name is the only key; a renamed
//!   campaign shows up as a new queue. Only INBOUND campaigns are listed (outbound calls are no queue workload).
//! - Queues, grouping `skill`: `external_id` = skill **id** (`skill.id`, xs:long, as decimal text). It survives a
//!   rename. Reports carry skill *names*, so `interval_stats` maps names to ids through the queues it is given
//!   (when a name is unknown, `getSkills` once more: the names it lists take their current ids, the others keep
//!   theirs); rows of a skill neither knows are dropped (logged with a count).
//! - Agents: `external_id` = `userName`, display name = `fullName` (else first + last name).
//! - Statuses: the base states ([`BASE_STATES`]) plus `"{state}: {reason code}"` for every reason code seen in
//!   Agent State Details (e.g. `Not Ready: Lunch`, `Logout: End Shift`). The admin WSDL has no operation listing
//!   reason codes (only `getReasonCode(name)`), so they are discovered from the report (see `list_statuses`).
//!
//! ## Calls and limits
//! - Five9 refuses concurrent requests of one user: every request holds the connector's `tokio::sync::Mutex`.
//! - Transient failures (5xx, transport errors, `ServiceUnavailableFault`, `ServerFault`, session faults) are
//!   retried with [`with_retry`] inside the deadline. `OperationsLimitExceededFault` is *not* retried: it ends the
//!   call with `RateLimited` (the domain's budget is shared with other tools; the next run resumes). A `runReport`
//!   sent again (its answer lost or late: Five9 may have started the report, and counts it) takes another report of
//!   a paced fetch's allowance and another slot of the per-minute pacing below.
//! - A request is bounded in all by [`Five9Options::request_timeout`] (30 s) and the deadline — but for a report
//!   result (`getReportResultCsv`, tens of MB for a large report), bounded by the deadline alone, which fails only
//!   after [`Five9Options::report_idle_timeout`] (30 s) without a byte (transient: retried).
//! - `isReportRunning` asks for a long poll of [`Five9Options::poll_timeout`] (capped by the deadline); a poll
//!   answered `true` before that timeout passed is followed by the next only once it has (at least 500 ms after it
//!   started): a server that does not hold the long poll is not polled as fast as round trips allow, spending the
//!   domain's shared Query budget until the deadline.
//! - Report calls are paced per connector: at most [`Five9Options::run_reports_per_minute`] `runReport` and
//!   [`Five9Options::retrievals_per_minute`] `getReportResultCsv` in any 60 s (below Five9's default 16 / 20).
//!   If pacing would pass the deadline the call fails with `DeadlineExceeded` (the run ends `partial`). A result
//!   still not ready (`ResultIsNotReadyFault`) once `isReportRunning` said its report finished is asked for again
//!   after [`Five9Options::poll_timeout`], at most `retry.max_attempts` times in all; then the fetch fails
//!   `Unavailable`.
//! - The hourly and daily budgets are shared with the domain's other API users: [`Connector::pace_next_day`] reads
//!   `getCallCountersState` and answers [`Pace::Wait`] when the hourly or daily counter of an operation type has
//!   less left than the import's next fetch costs ([`Five9Connector::fetch_cost`]: its reports, planned as the fetch
//!   will plan them) plus [`Five9Options::budget_reserve_percent`] of its limit, kept free for the other users —
//!   [`Pace::TooLarge`] when that passes the whole limit (a large domain's two days: the import then fetches a day
//!   at a time). A fetch so paced runs at most the reports the counters had room for above the reserve: one that
//!   needs more than planned (reports run again in halves) reads the counters again once that is spent and, with
//!   still no room, ends `BudgetSpent` (`Five9Connector::spend_allowance`) before Five9 refuses anything.
//! - Windows are split: at most [`Five9Options::max_report_span`] per report, never across a backward DST
//!   transition (so wall times in the repeated hour are unambiguous; a report ending at one asks up to the second
//!   before it, see [`time::criteria_end`]), and a report that returns [`Five9Options::row_limit`] rows (the
//!   integration's `report_row_limit`, else Five9's 50,000 default; assumed to be truncated silently at the limit)
//!   is discarded and its window halved (down to 15 minutes) — no partial data is ever aggregated; a half that returns
//!   fewer rows than the discarded report held in its quarter hours is malformed (`runs::AtLeast`). Agent State
//!   Details windows are cut up front by the rows expected: per hour of the domain's day as the reports read so
//!   far showed them ([`density`], kept between runs as the connector's cursor), an hour not seen yet as a busy
//!   one ([`Five9Options::unseen_hour_factor`] times a day's average), a report's unseen hours all together at most
//!   what that span of a day holds ([`density::Unseen`]). Call Log windows likewise by the calls its hours held,
//!   once reports have shown them (hours not seen are not guessed: the span alone cuts them).
//! - Agent State Details reports start [`Five9Options::segment_lookback`] before the window, to find the states
//!   running at its start — except when those are carried ([`carry`]): a read of a window starting at a midnight,
//!   3 hours or more after it, keeps the states its rows leave running into that midnight (in the cursor too), and
//!   the later reads of windows starting there start their reports at midnight.

pub mod budget;
pub mod carry;
mod client;
pub mod density;
pub mod options;
pub mod regions;
pub mod report;
mod runs;
pub mod settings;
pub mod soap;
pub mod time;
pub mod vendor;

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration as StdDuration;

use acd_domain::{AgentSegment, Channel, ExternalAgent, ExternalStatus, IntervalStats, Queue, TimeWindow};
use async_trait::async_trait;
use chrono::{DateTime, Duration, DurationRound, Utc};
use chrono_tz::Tz;
use futures::StreamExt;
use secrecy::{ExposeSecret, SecretString};
use tokio::time::Instant;

pub use self::budget::{CallCost, CallCounterState};
use self::budget::{Pacer, UnseenHours, pace};
use self::client::map_fault;
pub use self::options::Five9Options;
pub use self::regions::{Five9Region, region_host, service_url};
use self::report::{CallLogSums, StateRows};
pub use self::settings::{Five9Grouping, Five9Settings, SkillReport};
use self::soap::{Element, Fault, Node, Reply};
use crate::{CallCounter, Connector, ConnectorError, Deadline, Endpoints, HttpClient, NextFetch, Pace, with_retry};

/// The admin web service path; the version is pinned here (v13 is the WSDL this connector is written against).
pub const SERVICE_PATH: &str = "/wsadmin/v13/AdminWebService";

/// Folder and name of Five9's stock Call Log report (grouping by campaign).
pub const CALL_LOG_REPORT: (&str, &str) = ("Call Log Reports", "Call Log");
/// Folder and name of Five9's stock Agent State Details report.
pub const AGENT_STATE_REPORT: (&str, &str) = ("Agent Reports", "Agent State Details");

/// States an agent can be in without a reason code (Five9 agent states as they appear in Agent State Details).
pub const BASE_STATES: [&str; 10] = [
    "Login",
    "Ready",
    "Not Ready",
    "Ringing",
    "On Call",
    "On Hold",
    "On Park",
    "On Voicemail",
    "After Call Work",
    "Logout",
];

/// `(state, reason code)` pairs seen in Agent State Details.
type SeenStatuses = BTreeSet<(String, Option<String>)>;

pub struct Five9Connector {
    http: HttpClient,
    url: String,
    settings: Five9Settings,
    tz: Tz,
    username: String,
    password: SecretString,
    calls: CallCounter,
    /// Serialises requests: Five9 refuses concurrent requests of one user.
    lock: tokio::sync::Mutex<()>,
    opts: Five9Options,
    run_pacer: StdMutex<Pacer>,
    retrieve_pacer: StdMutex<Pacer>,
    /// Statuses seen in Agent State Details by this instance; `None` until one such report was read.
    seen_statuses: StdMutex<Option<SeenStatuses>>,
    /// Agent State Details rows per hour of the domain's day, learned from the reports read (and restored from
    /// earlier runs): how the reports of a window are cut ([`density`]).
    density: StdMutex<density::StateDensity>,
    /// Call Log rows per hour of the domain's day, learned likewise: how a Call Log window is cut ([`density`]).
    call_rows: StdMutex<density::StateDensity>,
    /// The agent states running into a midnight, found by a read with the look-back once the rows before it were
    /// all written (and restored from earlier runs): reports of a window starting there start there ([`carry`]).
    carried: StdMutex<Option<Arc<carry::Carried>>>,
    /// The fetch the import paced last ([`budget`]): the reports it may still run above the budget reserve (none
    /// counted until a fetch was paced: the fetches the import does not pace are not limited), and how its Agent
    /// State Details reports plan hours not seen yet.
    allowance: StdMutex<budget::Allowance>,
    /// Report rows this instance skipped as outside their report's window ([`report::outside_report`]), by at most
    /// [`report::OUTSIDE_TOLERANCE`] (a row farther out fails the read): Call Log and Agent State Details. Any means
    /// the run's record warns ([`crate::Connector::warnings`]).
    rows_outside: StdMutex<RowsOutside>,
}

/// [`Five9Connector::rows_outside`]: the rows skipped, per report.
#[derive(Debug, Default)]
struct RowsOutside {
    calls: usize,
    states: usize,
}

/// The connector's cursor: what it learned of the domain ([`density`]: its Agent State Details rows per hour, and
/// its Call Log rows per hour as `calls`) and the states it carries ([`carry`]).
#[derive(serde::Serialize)]
struct CursorOut<'a> {
    density: &'a density::StateDensity,
    #[serde(skip_serializing_if = "density::StateDensity::is_empty")]
    calls: &'a density::StateDensity,
    #[serde(skip_serializing_if = "Option::is_none")]
    carried: Option<&'a carry::Carried>,
}

/// [`CursorOut`] read back.
#[derive(serde::Deserialize)]
struct CursorIn {
    density: density::StateDensity,
    #[serde(default)]
    calls: density::StateDensity,
    #[serde(default)]
    carried: Option<carry::Carried>,
}

impl CursorIn {
    /// A saved cursor; one saved before states were carried is the learned hours alone.
    fn read(value: serde_json::Value) -> Result<Self, serde_json::Error> {
        if value.get("density").is_some() {
            serde_json::from_value(value)
        } else {
            serde_json::from_value(value).map(|density| CursorIn { density, calls: Default::default(), carried: None })
        }
    }
}

impl Five9Connector {
    pub fn new(
        http: HttpClient,
        endpoints: &Endpoints,
        settings: Five9Settings,
        username: String,
        password: SecretString,
    ) -> Self {
        let tz = settings.tz();
        let opts = Five9Options { row_limit: settings.report_row_limit(), ..Five9Options::default() };
        Self {
            http,
            url: service_url(settings.region, endpoints),
            settings,
            tz,
            username,
            password,
            calls: CallCounter::default(),
            lock: tokio::sync::Mutex::new(()),
            run_pacer: StdMutex::new(Pacer::new(opts.run_reports_per_minute)),
            retrieve_pacer: StdMutex::new(Pacer::new(opts.retrievals_per_minute)),
            opts,
            seen_statuses: StdMutex::new(None),
            density: StdMutex::new(density::StateDensity::default()),
            call_rows: StdMutex::new(density::StateDensity::default()),
            carried: StdMutex::new(None),
            rows_outside: StdMutex::new(RowsOutside::default()),
            allowance: StdMutex::new(budget::Allowance::default()),
        }
    }

    /// Replaces every option, [`Five9Options::row_limit`] too (which [`Five9Connector::new`] read from the
    /// settings): tests and benchmarks set the limit of their simulator with the rest.
    pub fn with_options(mut self, opts: Five9Options) -> Self {
        self.run_pacer = StdMutex::new(Pacer::new(opts.run_reports_per_minute));
        self.retrieve_pacer = StdMutex::new(Pacer::new(opts.retrievals_per_minute));
        self.opts = opts;
        self
    }

    pub fn options(&self) -> &Five9Options {
        &self.opts
    }

    /// The service URL requests go to.
    pub fn url(&self) -> &str {
        &self.url
    }
}

#[async_trait]
impl Connector for Five9Connector {
    /// `getCallCountersState` (free of rate limits: proves the credentials reach the admin API) and
    /// `getUsersGeneralInfo` for the API user's own name (proves admin read access, one Query call). The REPORTING
    /// role is not proven here — that needs a runReport, whose budget is small; a missing role surfaces on the
    /// first import as `PermissionMissing`.
    async fn verify(&self, deadline: Deadline) -> Result<(), ConnectorError> {
        self.call("getCallCountersState", &[], deadline).await?;
        let pattern = regex_escape(&self.username);
        self.call("getUsersGeneralInfo", &[Node::text("userNamePattern", pattern)], deadline).await?;
        Ok(())
    }

    async fn list_queues(&self, deadline: Deadline) -> Result<Vec<Queue>, ConnectorError> {
        let mut queues = match self.settings.grouping {
            Five9Grouping::Campaign => {
                let children = [Node::text("campaignNamePattern", ".*"), Node::text("campaignType", "INBOUND")];
                let (resp, _) = self.call("getCampaigns", &children, deadline).await?;
                let mut out = Vec::new();
                for c in resp.children_named("return") {
                    let name = c.child_text("name").map(str::trim).filter(|n| !n.is_empty());
                    let name = name.ok_or_else(|| ConnectorError::malformed("getCampaigns: a campaign has no name"))?;
                    // Tolerate servers that ignore the type filter.
                    if c.child_text("type").is_some_and(|t| t.trim() != "INBOUND") {
                        continue;
                    }
                    out.push(Queue { external_id: name.to_owned(), name: name.to_owned(), channel: Channel::Calls });
                }
                out
            }
            Five9Grouping::Skill => {
                let (resp, _) = self.call("getSkills", &[Node::text("skillNamePattern", ".*")], deadline).await?;
                let mut out = Vec::new();
                for s in resp.children_named("return") {
                    let name = s.child_text("name").map(str::trim).filter(|n| !n.is_empty());
                    let name = name.ok_or_else(|| ConnectorError::malformed("getSkills: a skill has no name"))?;
                    let id: i64 = s
                        .child_text("id")
                        .and_then(|i| i.trim().parse().ok())
                        .ok_or_else(|| ConnectorError::malformed("getSkills: a skill has no numeric id"))?;
                    out.push(Queue { external_id: id.to_string(), name: name.to_owned(), channel: Channel::Calls });
                }
                out
            }
        };
        queues.sort_by(|a, b| a.external_id.cmp(&b.external_id));
        queues.dedup_by(|a, b| a.external_id == b.external_id);
        Ok(queues)
    }

    async fn interval_stats(
        &self,
        queues: &[Queue],
        window: TimeWindow,
        deadline: Deadline,
    ) -> Result<Vec<IntervalStats>, ConnectorError> {
        let sums = self.call_log_sums(window, deadline).await?;
        let ids: HashMap<String, String> = match self.settings.grouping {
            Five9Grouping::Campaign => sums.by_queue.keys().map(|k| (k.clone(), k.clone())).collect(),
            Five9Grouping::Skill => {
                let mut ids: HashMap<String, String> =
                    queues.iter().map(|q| (q.name.clone(), q.external_id.clone())).collect();
                // A name the queues do not know (a skill renamed or added since they were listed): the skills are
                // listed again, and the names it lists take their current ids (a name moved to another skill goes
                // with it). The names it does not list keep theirs: a listing that comes back short (or empty) must
                // not take the ids of the skills already known, which would drop their calls and write their
                // intervals as zeros.
                if sums.by_queue.keys().any(|k| !ids.contains_key(k)) {
                    ids.extend(self.skill_ids(deadline).await?);
                }
                ids
            }
        };
        let mut out = Vec::new();
        let mut dropped = 0u64;
        for (name, intervals) in sums.by_queue {
            let Some(id) = ids.get(&name) else {
                dropped += intervals.values().map(|s| s.offered).sum::<u64>();
                continue;
            };
            for (start, s) in intervals {
                out.push(IntervalStats {
                    queue_external_id: id.clone(),
                    interval_start: start,
                    offered: s.offered,
                    handled: s.handled,
                    abandoned: s.abandoned,
                    handle_time_ms: s.handle_time_ms,
                    answer_time_ms: s.answer_time_ms,
                    answered_within_sl: None,
                });
            }
        }
        if dropped > 0 {
            tracing::warn!(calls = dropped, "Five9 calls of skills that no longer exist were skipped");
        }
        out.sort_by(|a, b| (&a.queue_external_id, a.interval_start).cmp(&(&b.queue_external_id, b.interval_start)));
        Ok(out)
    }

    async fn list_agents(&self, deadline: Deadline) -> Result<Vec<ExternalAgent>, ConnectorError> {
        let (resp, _) = self.call("getUsersGeneralInfo", &[Node::text("userNamePattern", ".*")], deadline).await?;
        let mut out = Vec::new();
        for u in resp.children_named("return") {
            let name = u.child_text("userName").map(str::trim).filter(|n| !n.is_empty());
            let name = name.ok_or_else(|| ConnectorError::malformed("getUsersGeneralInfo: a user has no userName"))?;
            let full = u.child_text("fullName").map(str::trim).filter(|n| !n.is_empty()).map(str::to_owned);
            let display = full.or_else(|| {
                let parts: Vec<&str> = [u.child_text("firstName"), u.child_text("lastName")]
                    .into_iter()
                    .flatten()
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .collect();
                (!parts.is_empty()).then(|| parts.join(" "))
            });
            out.push(ExternalAgent { external_id: name.to_owned(), display_name: display });
        }
        out.sort_by(|a, b| a.external_id.cmp(&b.external_id));
        out.dedup_by(|a, b| a.external_id == b.external_id);
        Ok(out)
    }

    /// Base states plus every `state: reason` seen in Agent State Details. If this instance has not read that
    /// report yet, it runs one over the last [`Five9Options::status_discovery_window`] (ending at the server's
    /// time, from `getCallCountersState`'s `Date`): call `agent_segments` first to avoid that extra report.
    async fn list_statuses(&self, deadline: Deadline) -> Result<Vec<ExternalStatus>, ConnectorError> {
        let need_report = self.seen_statuses.lock().unwrap_or_else(|p| p.into_inner()).is_none();
        if need_report {
            let (_, date) = self.call("getCallCountersState", &[], deadline).await?;
            let now = date.unwrap_or_else(Utc::now);
            let window = TimeWindow { start: now - self.opts.status_discovery_window, end: now };
            self.state_rows(self.plan(window, self.opts.max_report_span), deadline).await?;
        }
        let seen = self.seen_statuses.lock().unwrap_or_else(|p| p.into_inner()).clone().unwrap_or_default();
        let mut ids: BTreeSet<String> = BASE_STATES.iter().map(|s| s.to_string()).collect();
        for (state, reason) in &seen {
            ids.insert(report::status_id(state, reason.as_deref()));
        }
        Ok(ids.into_iter().map(|id| ExternalStatus { name: id.clone(), id }).collect())
    }

    async fn agent_segments(
        &self,
        agents: &[ExternalAgent],
        window: TimeWindow,
        deadline: Deadline,
    ) -> Result<Vec<AgentSegment>, ConnectorError> {
        // The carried states running into the window's start, if any: then the reports start there.
        let (report_window, carried) = self.state_reads(window);
        let windows = self.plan_states(agents.len(), report_window, self.paced_unseen());
        let (rows, generated_at) = self.state_rows(windows, deadline).await?;
        if let Some(carried) = carried {
            self.see_statuses(carried.statuses());
            return Ok(report::build_segments_after(rows, generated_at, window, Some(&carried)));
        }
        if generated_at >= window.start + vendor::AGENT_STATES_FINAL_AFTER {
            self.carry(&rows, generated_at, window.start);
        }
        Ok(report::build_segments(rows, generated_at, window))
    }

    fn max_window(&self) -> Duration {
        self.opts.max_report_span
    }

    /// Rows skipped as outside their report's window by at most [`report::OUTSIDE_TOLERANCE`] (a row farther out
    /// fails the read with [`ConnectorError::Configuration`]): the reports covered other hours than asked for,
    /// possibly because the integration's time zone is not the Five9 domain's, and the calls or states of those
    /// hours may be missing or in the wrong interval.
    fn warnings(&self) -> Vec<String> {
        let outside = self.rows_outside.lock().unwrap_or_else(|p| p.into_inner());
        if outside.calls == 0 && outside.states == 0 {
            return Vec::new();
        }
        vec![format!(
            "Five9 reports held rows outside the hours asked for ({} Call Log, {} Agent State Details rows), which \
             were skipped: check that the integration's time zone ({}) is the Five9 domain's",
            outside.calls, outside.states, self.tz
        )]
    }

    fn calls_made(&self) -> u64 {
        self.calls.get()
    }

    /// What the Agent State Details and Call Log reports taught about the domain's busy hours ([`density`]) and the
    /// states running into the latest midnight read ([`carry`]), for the import to keep until the next run; `None`
    /// until a report with a whole hour was read.
    fn vendor_cursor(&self) -> Option<serde_json::Value> {
        // Both held while serialising (nothing else holds both), not copied.
        let learned = self.density.lock().unwrap_or_else(|p| p.into_inner());
        let calls = self.call_rows.lock().unwrap_or_else(|p| p.into_inner());
        let carried = self.carried.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if learned.is_empty() && calls.is_empty() && carried.is_none() {
            return None;
        }
        serde_json::to_value(CursorOut { density: &learned, calls: &calls, carried: carried.as_deref() }).ok()
    }

    /// The whole cursor: the rows per hour are what complete reports held, and the carried states what complete reports
    /// left running into a midnight, used only by a read that starts at that very midnight — facts of the domain,
    /// whichever days the import wrote. A paused or failed run keeps them, so the next one neither cuts its reports by
    /// the guess for hours not seen again (in the 10,000-agent benchmark two days cut by the average were paced at 41
    /// `runReport` and took 109, the rest halves of reports that came back at the row limit) nor loses the states it
    /// carries.
    fn learned_cursor(&self) -> Option<serde_json::Value> {
        self.vendor_cursor()
    }

    /// Takes in what an earlier run learned and carried. Unreadable, or of another time zone (one corrected
    /// since), it is ignored: the hours only decide how windows are cut into reports (until they are seen again,
    /// as hours not seen, as on a first run), and without carried states the reports start with the look-back.
    fn restore_vendor_cursor(&self, cursor: Option<serde_json::Value>) -> Result<(), ConnectorError> {
        let Some(value) = cursor else { return Ok(()) };
        match CursorIn::read(value) {
            Ok(saved) => {
                if !self.density.lock().unwrap_or_else(|p| p.into_inner()).merge(self.tz, saved.density) {
                    tracing::info!("the saved Agent State Details rows per hour are of another time zone: ignored");
                }
                let saved_calls = !saved.calls.is_empty();
                if !self.call_rows.lock().unwrap_or_else(|p| p.into_inner()).merge(self.tz, saved.calls) && saved_calls
                {
                    tracing::info!("the saved Call Log rows per hour are of another time zone: ignored");
                }
                if let Some(carried) = saved.carried {
                    if carried.zone != self.tz.name() {
                        tracing::info!("the saved agent states at midnight are of another time zone: ignored");
                    } else if !carried.is_readable() {
                        tracing::warn!("the saved agent states at midnight are unreadable: ignored");
                    } else {
                        self.keep_carried(carried);
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "the saved Agent State Details cursor is unreadable: ignored"),
        }
        Ok(())
    }

    /// `getCallCountersState` (itself free of limits) checked by `day_pace` against what the fetch will call
    /// ([`Five9Connector::fetch_cost`]) and [`Five9Options::budget_reserve_percent`] (`Five9Connector::pace_fetch`).
    /// On [`Pace::Go`], the fetch may run as many reports as the counters have room for above the reserve (at least
    /// its planned cost), no more (`Five9Connector::spend_allowance`).
    ///
    /// Hours of the domain's day not seen yet are planned as busy ones ([`Five9Options::unseen_hour_factor`]), a
    /// guess. A single day (the import fetches a group of days that passes the allowance a day at a time, and cannot
    /// cut a day) that passes the whole allowance so planned is priced again with those hours at the average, and if
    /// that fits, fetched so: the day is read (its halves, if any, bounded by the allowance) and its hours learned,
    /// instead of the run failing `configuration_wrong` for a guess (from ≈ 10,500 agents at Five9's default limits
    /// a first day planned as busy needs 15-minute reports, 145 of them).
    async fn pace_next_day(&self, next: &NextFetch, deadline: Deadline) -> Result<Pace, ConnectorError> {
        self.pace_fetch(next, deadline).await
    }
}

/// Escapes regex metacharacters (Five9 patterns are Java regular expressions).
fn regex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if "\\.^$|?*+()[]{}".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
