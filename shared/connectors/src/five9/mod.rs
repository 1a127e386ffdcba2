//! Five9 connector: the admin web service (SOAP 1.1, `/wsadmin/v13/AdminWebService`) with Basic auth on every
//! request, and two reports (Call Log, Agent State Details) for statistics and agent states.
//!
//! ## Identifiers (documented choices)
//! - Queues, grouping `campaign`: `external_id` = campaign **name**. The WSDL's `campaign` type has no id (only
//!   description, mode, name, profileName, state, trainingMode, type), so the name is the only key; a renamed
//!   campaign shows up as a new queue. Only INBOUND campaigns are listed (outbound calls are no queue workload).
//! - Queues, grouping `skill`: `external_id` = skill **id** (`skill.id`, xs:long, as decimal text). It survives a
//!   rename. Reports carry skill *names*, so `interval_stats` maps names to ids through the queues it is given
//!   (refreshed once with `getSkills` when a name is unknown); rows of a skill that no longer exists are dropped
//!   (logged with a count).
//! - Agents: `external_id` = `userName`, display name = `fullName` (else first + last name).
//! - Statuses: the base states ([`BASE_STATES`]) plus `"{state}: {reason code}"` for every reason code seen in
//!   Agent State Details (e.g. `Not Ready: Lunch`, `Logout: End Shift`). The admin WSDL has no operation listing
//!   reason codes (only `getReasonCode(name)`), so they are discovered from the report (see `list_statuses`).
//!
//! ## Calls and limits
//! - Five9 refuses concurrent requests of one user: every request holds the connector's `tokio::sync::Mutex`.
//! - Transient failures (5xx, transport errors, `ServiceUnavailableFault`, `ServerFault`, session faults) are
//!   retried with [`with_retry`] inside the deadline. `OperationsLimitExceededFault` is *not* retried: it ends the
//!   call with `RateLimited` (the domain's budget is shared with other tools; the next run resumes).
//! - Report calls are paced per connector: at most [`Five9Options::run_reports_per_minute`] `runReport` and
//!   [`Five9Options::retrievals_per_minute`] `getReportResultCsv` in any 60 s (below Five9's default 16 / 20).
//!   If pacing would pass the deadline the call fails with `RateLimited { retry_after }`.
//! - The hourly and daily budgets are shared with the domain's other API users: [`Connector::pace_next_day`] reads
//!   `getCallCountersState` and answers [`Pace::Wait`] when the hourly or daily counter of an operation type has
//!   less left than one more import fetch (two days) costs ([`Five9Options::day_cost`]) plus
//!   [`Five9Options::budget_reserve_percent`] of its limit, kept free for the other users.
//! - Windows are split: at most [`Five9Options::max_report_span`] per report, never across a backward DST
//!   transition (so wall times in the repeated hour are unambiguous), and a report that returns
//!   [`Five9Options::row_limit`] rows (Five9's 50,000 default; assumed to be truncated silently at the limit) is
//!   discarded and its window halved (down to 15 minutes) — no partial data is ever aggregated.

pub mod regions;
pub mod report;
pub mod settings;
pub mod soap;
pub mod time;
pub mod vendor;

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Mutex as StdMutex;
use std::time::Duration as StdDuration;

use acd_domain::{AgentSegment, Channel, ExternalAgent, ExternalStatus, IntervalStats, Queue, TimeWindow};
use async_trait::async_trait;
use chrono::{DateTime, Duration, DurationRound, Utc};
use chrono_tz::Tz;
use secrecy::{ExposeSecret, SecretString};
use tokio::time::Instant;

pub use self::regions::{Five9Region, region_host};
use self::report::{CallLogSums, StateRows};
pub use self::settings::{Five9Grouping, Five9Settings, SkillReport};
use self::soap::{Element, Fault, Node, Reply};
use crate::{CallCounter, Connector, ConnectorError, Deadline, Endpoints, HttpClient, Pace, RetryPolicy, with_retry};

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

/// The service URL: the region table, unless `Endpoints.five9_base_url` (env `FIVE9_BASE_URL`) overrides the host.
pub fn service_url(region: Five9Region, endpoints: &Endpoints) -> String {
    let base = match &endpoints.five9_base_url {
        Some(base) => base.trim_end_matches('/').to_owned(),
        None => format!("https://{}", region_host(region)),
    };
    format!("{base}{SERVICE_PATH}")
}

/// Tunables (defaults suit production; tests shorten the waits).
#[derive(Debug, Clone)]
pub struct Five9Options {
    pub retry: RetryPolicy,
    /// `timeout` of each `isReportRunning` long poll (Five9 recommends ≥ 5 s). Capped by the deadline.
    pub poll_timeout: StdDuration,
    /// Five9's report row limit: a report returning this many rows is taken as cut off and split.
    pub row_limit: usize,
    pub run_reports_per_minute: usize,
    pub retrievals_per_minute: usize,
    /// Longest window of one report, and the connector's [`Connector::max_window`]: two days by default, so the
    /// import's usual 24-hour re-read (yesterday and today so far) costs one Call Log and two Agent State
    /// Details reports a run instead of five or six. A report that reaches the row limit is halved anyway.
    pub max_report_span: Duration,
    /// How far before the window the Agent State Details report starts, so states begun earlier but still
    /// running inside the window are found (a state longer than this that began before it is missed).
    pub segment_lookback: Duration,
    /// Window of the Agent State Details report `list_statuses` runs when no agent-state report ran yet.
    pub status_discovery_window: Duration,
    /// Expected Agent State Details rows per agent and hour (averaged over whole days). An agent-state window whose
    /// estimate (agents × hours × this) passes 80 % of `row_limit` is split up front, instead of running a report
    /// that comes back cut off and is thrown away. 0 turns the estimate off.
    pub state_rows_per_agent_hour: f64,
    /// What one import fetch (up to [`Five9Options::max_report_span`] of days) is expected to cost per operation
    /// type (see [`CallCost::day`]); the budget check of [`Connector::pace_next_day`] asks the hourly and daily
    /// counters for this much room.
    pub day_cost: CallCost,
    /// Share of each hourly and daily limit (percent, rounded up to whole calls) that back-fills leave free for the
    /// domain's other API users.
    pub budget_reserve_percent: u8,
}

impl Default for Five9Options {
    fn default() -> Self {
        let max_report_span = Duration::days(2);
        let segment_lookback = Duration::hours(12);
        Self {
            retry: RetryPolicy::default(),
            poll_timeout: StdDuration::from_secs(10),
            row_limit: 50_000,
            run_reports_per_minute: 12,
            retrievals_per_minute: 15,
            max_report_span,
            segment_lookback,
            status_discovery_window: Duration::hours(24),
            // About 8 state changes an hour over an 8-hour shift, spread over the day (an assumption: Five9
            // publishes no figure; the simulator's agents, busier, make about 3.2).
            state_rows_per_agent_hour: 3.0,
            // 3 runReport, 3 getReportResultCsv, 13 Query.
            day_cost: CallCost::day(max_report_span, segment_lookback, 4),
            budget_reserve_percent: 20,
        }
    }
}

/// Calls per Five9 operation type, the types `getCallCountersState` counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallCost {
    /// `Query`: every operation that is no report request or retrieval (`isReportRunning`, `getSkills`, …).
    pub query: u64,
    /// `ReportRequest`: `runReport`.
    pub report_request: u64,
    /// `RetrieveReport`: `getReportResult` / `getReportResultCsv`.
    pub retrieve_report: u64,
}

impl CallCost {
    /// What one import fetch of `max_report_span` (the import asks for that many UTC days at once, see
    /// [`Connector::max_window`]) calls — `interval_stats` then `agent_segments`: one Call Log report, and Agent
    /// State Details over the window plus `segment_lookback` in reports of at most `max_report_span`; each report is
    /// one `runReport`, one `getReportResultCsv` and up to `polls_per_report` `isReportRunning` long polls; plus one
    /// `getSkills` (the refresh after a skill rename). With the defaults (two days): 1 + 2 reports. A fetch across a
    /// backward DST transition or over the row limit runs one or two reports more; that comes out of the reserve.
    pub fn day(max_report_span: Duration, segment_lookback: Duration, polls_per_report: u64) -> Self {
        let span = max_report_span.num_seconds().max(1).unsigned_abs();
        let reports = |d: Duration| d.num_seconds().max(1).unsigned_abs().div_ceil(span);
        let reports = reports(max_report_span) + reports(max_report_span + segment_lookback);
        Self { query: reports * polls_per_report + 1, report_request: reports, retrieve_report: reports }
    }

    /// The cost for a `getCallCountersState` operation type; `None` for types the import does not use.
    pub fn of(&self, operation_type: &str) -> Option<u64> {
        match operation_type {
            "Query" => Some(self.query),
            "ReportRequest" => Some(self.report_request),
            "RetrieveReport" => Some(self.retrieve_report),
            _ => None,
        }
    }
}

/// One counter of `getCallCountersState`: `value` of `limit` used in the current window of `window_secs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallCounterState {
    pub window_secs: u64,
    pub operation_type: String,
    pub limit: u64,
    pub value: u64,
}

/// `(state, reason code)` pairs seen in Agent State Details.
type SeenStatuses = BTreeSet<(String, Option<String>)>;

/// A response element and the server's `Date` header.
type Answer = (Element, Option<DateTime<Utc>>);

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
        let opts = Five9Options::default();
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
        }
    }

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

    /// Current usage of the domain's API limits (`getCallCountersState`, itself not limited). The import reads it
    /// before a back-fill to pace it within the hourly and daily budgets.
    pub async fn call_counters(&self, deadline: Deadline) -> Result<Vec<CallCounterState>, ConnectorError> {
        let (resp, _) = self.call("getCallCountersState", &[], deadline).await?;
        let mut out = Vec::new();
        for state in resp.children_named("return") {
            let window_secs = parse_u64(state.child_text("timeout"), "limitTimeoutState.timeout")?;
            for c in state.children_named("callCounterStates") {
                out.push(CallCounterState {
                    window_secs,
                    operation_type: c.child_text("operationType").unwrap_or_default().to_owned(),
                    limit: parse_u64(c.child_text("limit"), "callCounterState.limit")?,
                    value: parse_u64(c.child_text("value"), "callCounterState.value")?,
                });
            }
        }
        Ok(out)
    }

    // ---- transport ----

    /// One operation, retried on transient failures; faults mapped to typed errors. Returns the response element
    /// and the server's `Date` header.
    async fn call(&self, operation: &str, children: &[Node], deadline: Deadline) -> Result<Answer, ConnectorError> {
        match self.call_raw(operation, children, deadline).await? {
            Ok(r) => Ok(r),
            Err(fault) => Err(map_fault(&fault)),
        }
    }

    /// Like [`Self::call`] but hands back non-transient faults for the caller to inspect.
    async fn call_raw(
        &self,
        operation: &str,
        children: &[Node],
        deadline: Deadline,
    ) -> Result<Result<Answer, Fault>, ConnectorError> {
        let body = soap::envelope(operation, children);
        self.retried(deadline, || self.send_once(operation, body.clone(), deadline)).await
    }

    /// One SOAP exchange retried within the deadline: transient failures and faults that map to `Unavailable` are
    /// retried; other faults come back as `Ok(Err(fault))`; rate limits end the call, never retried here (see
    /// module docs).
    async fn retried<T, F, Fut>(&self, deadline: Deadline, attempt: F) -> Result<Result<T, Fault>, ConnectorError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<Result<T, Fault>, ConnectorError>>,
    {
        let outcome = with_retry(self.opts.retry, deadline, || {
            let exchange = attempt();
            async move {
                match exchange.await {
                    Ok(Ok(r)) => Ok(Ok(Ok(r))),
                    Ok(Err(fault)) => match map_fault(&fault) {
                        e @ ConnectorError::Unavailable { .. } => Err(e),
                        _ => Ok(Ok(Err(fault))),
                    },
                    Err(e @ ConnectorError::RateLimited { .. }) => Ok(Err(e)),
                    Err(e) => Err(e),
                }
            }
        })
        .await;
        match outcome {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) | Err(e) => Err(e),
        }
    }

    /// [`Self::fetch_report_once`] retried like [`Self::call_raw`].
    async fn fetch_report(
        &self,
        identifier: &str,
        deadline: Deadline,
    ) -> Result<Result<String, Fault>, ConnectorError> {
        self.retried(deadline, || self.fetch_report_once(identifier, deadline)).await
    }

    async fn send_once(
        &self,
        operation: &str,
        body: String,
        deadline: Deadline,
    ) -> Result<Result<Answer, Fault>, ConnectorError> {
        let (status, date, text) = self.exchange(operation, body, deadline).await?;
        match soap::parse_reply(&text, operation) {
            Ok(Reply::Response(el)) if status.is_success() => Ok(Ok((el, date))),
            Ok(Reply::Response(_)) => Err(ConnectorError::unavailable(format!("{operation}: HTTP {status}"))),
            Ok(Reply::Fault(f)) => Ok(Err(f)),
            Err(e) if status.is_success() => Err(ConnectorError::malformed(format!("{operation} response: {}", e.0))),
            Err(_) => Err(ConnectorError::unavailable(format!("{operation}: HTTP {status} without a SOAP fault"))),
        }
    }

    /// `getReportResultCsv` once: the whole body (one buffer, read in place later by [`soap::open_report_csv`]), or
    /// the fault. Only the start of the body is looked at here (to tell a fault from a result).
    async fn fetch_report_once(
        &self,
        identifier: &str,
        deadline: Deadline,
    ) -> Result<Result<String, Fault>, ConnectorError> {
        const OPERATION: &str = "getReportResultCsv";
        let body = soap::envelope(OPERATION, &[Node::text("identifier", identifier)]);
        let (status, _, text) = self.exchange(OPERATION, body, deadline).await?;
        if !status.is_success() {
            return match soap::parse_reply(&text, OPERATION) {
                Ok(Reply::Fault(f)) => Ok(Err(f)),
                _ => Err(ConnectorError::unavailable(format!("{OPERATION}: HTTP {status} without a SOAP fault"))),
            };
        }
        match soap::open_report_csv(&text) {
            Ok(soap::ReportReply::Csv(_)) => Ok(Ok(text)),
            Ok(soap::ReportReply::Fault(f)) => Ok(Err(f)),
            Err(e) => Err(ConnectorError::malformed(format!("{OPERATION} response: {}", e.0))),
        }
    }

    /// One HTTP exchange under the connector's lock: the status, the `Date` header and the body (read into one
    /// buffer). Statuses that carry no SOAP answer (401, 403, 429, other non-2xx but 500) are mapped to errors here.
    async fn exchange(
        &self,
        operation: &str,
        body: String,
        deadline: Deadline,
    ) -> Result<(reqwest::StatusCode, Option<DateTime<Utc>>, String), ConnectorError> {
        let guard = tokio::time::timeout(deadline.remaining(), self.lock.lock())
            .await
            .map_err(|_| ConnectorError::DeadlineExceeded)?;
        let request = self
            .http
            .reqwest()
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "text/xml;charset=UTF-8")
            .header("SOAPAction", "\"\"")
            .basic_auth(&self.username, Some(self.password.expose_secret()))
            .body(body);
        let past_deadline = |e: ConnectorError| if deadline.is_past() { ConnectorError::DeadlineExceeded } else { e };
        let response = self.http.send(request, deadline, &self.calls).await.map_err(past_deadline)?;
        let status = response.status();
        let date = response
            .headers()
            .get(reqwest::header::DATE)
            .and_then(|d| d.to_str().ok())
            .and_then(|d| DateTime::parse_from_rfc2822(d).ok())
            .map(|d| d.with_timezone(&Utc));
        let retry_after = crate::http::retry_after(response.headers());
        let read_failed =
            |_| past_deadline(ConnectorError::unavailable(format!("reading the {operation} response failed")));
        // One buffer, sized by Content-Length when given (a report result can be tens of MB: no second copy).
        let mut response = response;
        let mut buf = Vec::with_capacity(response.content_length().unwrap_or(0).min(256 << 20) as usize);
        while let Some(chunk) = response.chunk().await.map_err(read_failed)? {
            buf.extend_from_slice(&chunk);
        }
        drop(guard);
        let text = String::from_utf8(buf).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());

        if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
            return Err(ConnectorError::CredentialsRejected);
        }
        if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            return Err(ConnectorError::RateLimited { retry_after });
        }
        if status.is_success() || status == reqwest::StatusCode::INTERNAL_SERVER_ERROR {
            return Ok((status, date, text));
        }
        if status.is_server_error() {
            return Err(ConnectorError::unavailable(format!("{operation}: HTTP {status}")));
        }
        Err(ConnectorError::unavailable(format!("{operation}: unexpected HTTP {status}")))
    }

    // ---- reports ----

    /// runReport → isReportRunning (long poll) → getReportResultCsv. Returns the result's whole response body (read
    /// the CSV in place with [`read_report`]) and the report's generation time (the `Date` of the runReport response,
    /// else the local clock).
    async fn run_report(
        &self,
        (folder, name): (&str, &str),
        window: TimeWindow,
        deadline: Deadline,
    ) -> Result<(String, DateTime<Utc>), ConnectorError> {
        pace(&self.run_pacer, deadline).await?;
        let criteria = Node::Elem(
            "criteria",
            vec![Node::Elem(
                "time",
                // Schema order (reportTimeCriteria): end, then start.
                vec![
                    Node::text("end", time::format_criteria_time(window.end, self.tz)),
                    Node::text("start", time::format_criteria_time(window.start, self.tz)),
                ],
            )],
        );
        let children = [Node::text("folderName", folder), Node::text("reportName", name), criteria];
        let (resp, date) = self.call("runReport", &children, deadline).await?;
        let generated_at = date.unwrap_or_else(Utc::now);
        let id = resp
            .child_text("return")
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .ok_or_else(|| ConnectorError::malformed("runReport returned no report identifier"))?
            .to_owned();
        loop {
            // Long-poll until done. The request timeout is bounded by the deadline; keep 2 s for the answer.
            let remaining = deadline.remaining();
            if remaining < StdDuration::from_secs(1) {
                return Err(ConnectorError::DeadlineExceeded);
            }
            let poll = self.opts.poll_timeout.min(remaining.saturating_sub(StdDuration::from_secs(2)));
            let children = [Node::text("identifier", id.clone()), Node::text("timeout", poll.as_secs().to_string())];
            let (resp, _) = self.call("isReportRunning", &children, deadline).await?;
            let running = match resp.child_text("return").map(str::trim) {
                Some("true") | Some("1") => true,
                Some("false") | Some("0") => false,
                _ => return Err(ConnectorError::malformed("isReportRunning returned no boolean")),
            };
            if running {
                if poll.as_secs() == 0 {
                    // Less than a whole second to wait server-side (the timeout is sent in whole seconds, so this
                    // poll came back at once): pause rather than spin until the deadline.
                    tokio::time::sleep(StdDuration::from_millis(500).min(deadline.remaining())).await;
                }
                continue;
            }
            pace(&self.retrieve_pacer, deadline).await?;
            match self.fetch_report(&id, deadline).await? {
                Ok(body) => return Ok((body, generated_at)),
                // Finished per isReportRunning but not ready yet: poll again (bounded by the deadline).
                Err(f) if f.name.as_deref() == Some("ResultIsNotReadyFault") => continue,
                Err(f) => return Err(map_fault(&f)),
            }
        }
    }

    /// Report windows for `window`: at most `span` each, split at backward DST transitions.
    fn plan(&self, window: TimeWindow, span: Duration) -> Vec<TimeWindow> {
        let mut cuts = time::backward_transitions(self.tz, window.start, window.end);
        cuts.push(window.end);
        let mut out = Vec::new();
        let mut start = window.start;
        for cut in cuts {
            if cut > start {
                out.extend(TimeWindow { start, end: cut }.split(span));
                start = cut;
            }
        }
        out
    }

    /// Halves a window that hit the row limit (cut on a 15-minute boundary when possible).
    fn halve(&self, w: TimeWindow) -> Result<(TimeWindow, TimeWindow), ConnectorError> {
        if w.duration() <= Duration::minutes(15) {
            return Err(ConnectorError::Configuration {
                message: format!(
                    "more than {} report rows in 15 minutes: raise the domain's report row limit",
                    self.opts.row_limit
                ),
            });
        }
        let mid = w.start + w.duration() / 2;
        let mid = mid.duration_trunc(Duration::minutes(15)).ok().filter(|m| *m > w.start).unwrap_or(mid);
        Ok((TimeWindow { start: w.start, end: mid }, TimeWindow { start: mid, end: w.end }))
    }

    fn call_log_report(&self) -> (String, String, &'static str) {
        match (self.settings.grouping, &self.settings.skill_report) {
            (Five9Grouping::Skill, Some(r)) => (r.folder.clone(), r.name.clone(), "SKILL"),
            // Validation requires the skill report when grouping by skill; without one the stock Call Log is
            // tried and its lack of a SKILL column reported as a configuration error.
            (Five9Grouping::Skill, None) => (CALL_LOG_REPORT.0.into(), CALL_LOG_REPORT.1.into(), "SKILL"),
            (Five9Grouping::Campaign, _) => (CALL_LOG_REPORT.0.into(), CALL_LOG_REPORT.1.into(), "CAMPAIGN"),
        }
    }

    async fn call_log_sums(&self, window: TimeWindow, deadline: Deadline) -> Result<CallLogSums, ConnectorError> {
        let (folder, name, column) = self.call_log_report();
        let mut sums = CallLogSums::default();
        let mut todo: VecDeque<TimeWindow> = self.plan(window, self.opts.max_report_span).into();
        // A missing column in the customer's own skill report is its configuration; in Five9's stock Call Log it
        // is a malformed answer.
        let custom = self.settings.grouping == Five9Grouping::Skill && self.settings.skill_report.is_some();
        while let Some(w) = todo.pop_front() {
            let (body, _) = self.run_report((&folder, &name), w, deadline).await?;
            let mut result = report::CallLogResult::default();
            read_report(&body, &name, custom, |csv| {
                report::aggregate_call_log_into(csv, column, self.tz, w, w, &mut result)
            })
            .map_err(|e| match e {
                ConnectorError::Configuration { message } => {
                    ConnectorError::Configuration { message: format!("report {folder}/{name}: {message}") }
                }
                other => other,
            })?;
            drop(body);
            if result.rows >= self.opts.row_limit {
                let (a, b) = self.halve(w)?;
                todo.push_front(b);
                todo.push_front(a);
                continue;
            }
            sums.merge(result.sums);
        }
        Ok(sums)
    }

    async fn skill_ids(&self, deadline: Deadline) -> Result<HashMap<String, String>, ConnectorError> {
        Ok(self.list_queues(deadline).await?.into_iter().map(|q| (q.name, q.external_id)).collect())
    }

    /// The longest Agent State Details report for `agents` agents over `window`: the window cut into as few equal
    /// parts (whole quarter hours) as `max_report_span` allows, or more when the expected rows
    /// ([`Five9Options::state_rows_per_agent_hour`]) of a part would pass 80 % of the row limit.
    fn state_span(&self, agents: usize, window: TimeWindow) -> Duration {
        let max = self.opts.max_report_span;
        let minutes = window.duration().num_minutes().max(0).unsigned_abs();
        let expected = agents as f64 * minutes as f64 / 60.0 * self.opts.state_rows_per_agent_hour;
        let by_rows = (expected / (self.opts.row_limit as f64 * 0.8)).ceil() as u64;
        let by_span = minutes.div_ceil(max.num_minutes().max(1).unsigned_abs());
        let parts = by_rows.max(by_span).max(1);
        let part = minutes.div_ceil(parts);
        Duration::minutes((part.div_ceil(15) * 15).max(15) as i64).min(max)
    }

    async fn state_rows(
        &self,
        window: TimeWindow,
        span: Duration,
        deadline: Deadline,
    ) -> Result<(StateRows, DateTime<Utc>), ConnectorError> {
        let mut all = StateRows::default();
        let mut generated_at = None;
        let mut todo: VecDeque<TimeWindow> = self.plan(window, span).into();
        while let Some(w) = todo.pop_front() {
            let (body, at) = self.run_report(AGENT_STATE_REPORT, w, deadline).await?;
            let before = all.rows.len();
            read_report(&body, AGENT_STATE_REPORT.1, false, |csv| {
                report::parse_agent_states_into(csv, self.tz, w, &mut all)
            })?;
            drop(body);
            if all.rows.len() - before >= self.opts.row_limit {
                all.rows.truncate(before);
                let (a, b) = self.halve(w)?;
                todo.push_front(b);
                todo.push_front(a);
                continue;
            }
            // Rows of the last report decide whether a state is still ongoing.
            generated_at = Some(at);
            // Rows outside the report window (a server reading the criteria differently) are dropped: exactly the
            // window, no duplicates across consecutive reports. The end is exclusive.
            let mut kept = before;
            for i in before..all.rows.len() {
                if w.contains(all.rows[i].start) {
                    all.rows.swap(kept, i);
                    kept += 1;
                }
            }
            all.rows.truncate(kept);
        }
        {
            let mut seen = self.seen_statuses.lock().unwrap_or_else(|p| p.into_inner());
            let seen = seen.get_or_insert_with(BTreeSet::new);
            for (state, reason) in all.statuses() {
                seen.insert((state.to_owned(), reason.map(str::to_owned)));
            }
        }
        Ok((all, generated_at.unwrap_or_else(Utc::now)))
    }
}

/// Reads the CSV of a `getReportResultCsv` body in place with `parse`, then checks that the body is complete. A
/// CSV problem is [`ConnectorError::Malformed`]; a missing column is [`ConnectorError::Configuration`] when the
/// report is the customer's own (`custom`).
fn read_report(
    body: &str,
    report_name: &str,
    custom: bool,
    parse: impl FnOnce(&mut soap::CsvText<'_>) -> Result<(), report::ReportError>,
) -> Result<(), ConnectorError> {
    let malformed = |m: String| ConnectorError::malformed(format!("{report_name} report: {m}"));
    let mut csv = match soap::open_report_csv(body) {
        Ok(soap::ReportReply::Csv(csv)) => csv,
        Ok(soap::ReportReply::Fault(f)) => return Err(map_fault(&f)),
        Err(e) => return Err(malformed(format!("getReportResultCsv response: {}", e.0))),
    };
    parse(&mut csv).map_err(|e| match e.1 {
        report::ReportErrorKind::MissingColumn if custom => ConnectorError::Configuration { message: e.0 },
        _ => malformed(e.0),
    })?;
    csv.finish().map_err(|e| malformed(format!("getReportResultCsv response: {}", e.0)))
}

/// [`Pace::Wait`] when an hourly or daily counter has less left than `cost` plus `reserve_percent` of its limit
/// (the reason names every such counter); per-minute counters are left to the connector's pacers.
fn day_pace(counters: &[CallCounterState], cost: CallCost, reserve_percent: u8) -> Pace {
    let mut short = Vec::new();
    for c in counters {
        let per = match c.window_secs {
            3_600 => "hour",
            86_400 => "day",
            _ => continue,
        };
        let Some(need) = cost.of(&c.operation_type) else { continue };
        let reserve = c.limit.saturating_mul(u64::from(reserve_percent.min(100))).div_ceil(100);
        if c.limit.saturating_sub(c.value) < need.saturating_add(reserve) {
            short.push(format!(
                "{}: {} of {} per {per} used (the next import days need {need}, {reserve} stay free for other API users)",
                c.operation_type, c.value, c.limit
            ));
        }
    }
    if short.is_empty() { Pace::Go } else { Pace::Wait { reason: short.join("; ") } }
}

fn parse_u64(raw: Option<&str>, what: &str) -> Result<u64, ConnectorError> {
    raw.and_then(|v| v.trim().parse().ok()).ok_or_else(|| ConnectorError::malformed(format!("{what} is not a number")))
}

/// Maps a SOAP fault to a typed error, by the detail element's local name.
fn map_fault(f: &Fault) -> ConnectorError {
    let name = f.name.as_deref().unwrap_or("");
    let message: String = f.message().chars().take(200).collect();
    match name {
        "AccessDisallowedFault" => ConnectorError::PermissionMissing {
            message: format!("{message} (the API user needs the ADMIN and REPORTING roles)"),
        },
        "OperationsLimitExceededFault" => {
            tracing::warn!(
                operation_type = f.detail_text("operationType").unwrap_or(""),
                limit = f.detail_text("limit").unwrap_or(""),
                "Five9 API limit exceeded"
            );
            ConnectorError::RateLimited { retry_after: None }
        }
        "ReportNotFoundFault" => ConnectorError::Configuration {
            message: format!(
                "report not found: {}/{}",
                f.detail_text("folder").unwrap_or("?"),
                f.detail_text("reportName").unwrap_or("?")
            ),
        },
        "InvalidAccountFault" => ConnectorError::CredentialsRejected,
        // Session faults: assumed to be how Five9 refuses a concurrent request of the same user (not verified).
        "ServiceUnavailableFault"
        | "ServerFault"
        | "AdminSessionClosedFault"
        | "SessionClosedFault"
        | "UserAlreadyLoggedInFault" => ConnectorError::unavailable(format!("Five9 {name}: {message}")),
        "UnknownIdentifierFault" | "ResultIsNotReadyFault" => {
            ConnectorError::malformed(format!("Five9 {name} for a report it had just started: {message}"))
        }
        "IncorrectArgumentFault" | "MissedArgumentFault" | "InvalidRegexpPatternFault" | "ObjectNotFoundFault" => {
            ConnectorError::Configuration { message: format!("Five9 {name}: {message}") }
        }
        "" => ConnectorError::unavailable(format!("Five9 fault without detail: {message}")),
        other => ConnectorError::unavailable(format!("Five9 {other}: {message}")),
    }
}

/// At most `per_minute` calls in any 60 s of this connector.
#[derive(Debug)]
struct Pacer {
    per_minute: usize,
    recent: VecDeque<Instant>,
}

impl Pacer {
    fn new(per_minute: usize) -> Self {
        Self { per_minute: per_minute.max(1), recent: VecDeque::new() }
    }
}

/// Reserves a slot, sleeping until one frees up; `RateLimited` if that wait would pass the deadline.
async fn pace(pacer: &StdMutex<Pacer>, deadline: Deadline) -> Result<(), ConnectorError> {
    loop {
        let wait = {
            let mut p = pacer.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            while p.recent.front().is_some_and(|t| now.duration_since(*t) >= StdDuration::from_secs(60)) {
                p.recent.pop_front();
            }
            if p.recent.len() < p.per_minute {
                p.recent.push_back(now);
                return Ok(());
            }
            (p.recent[0] + StdDuration::from_secs(60)).saturating_duration_since(now)
        };
        if Instant::now() + wait >= deadline.instant() {
            return Err(ConnectorError::RateLimited { retry_after: Some(wait) });
        }
        tokio::time::sleep(wait).await;
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
                if sums.by_queue.keys().any(|k| !ids.contains_key(k)) {
                    ids = self.skill_ids(deadline).await?;
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
            self.state_rows(window, self.opts.max_report_span, deadline).await?;
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
        let report_window = TimeWindow { start: window.start - self.opts.segment_lookback, end: window.end };
        let span = self.state_span(agents.len(), report_window);
        let (rows, generated_at) = self.state_rows(report_window, span, deadline).await?;
        Ok(report::build_segments(rows, generated_at, window))
    }

    fn max_window(&self) -> Duration {
        self.opts.max_report_span
    }

    fn calls_made(&self) -> u64 {
        self.calls.get()
    }

    /// `getCallCountersState` (itself free of limits) checked by `day_pace` against
    /// [`Five9Options::day_cost`] and [`Five9Options::budget_reserve_percent`].
    async fn pace_next_day(&self, deadline: Deadline) -> Result<Pace, ConnectorError> {
        let counters = self.call_counters(deadline).await?;
        Ok(day_pace(&counters, self.opts.day_cost, self.opts.budget_reserve_percent))
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

#[cfg(test)]
mod budget_tests {
    use super::*;

    fn counter(window_secs: u64, operation_type: &str, limit: u64, value: u64) -> CallCounterState {
        CallCounterState { window_secs, operation_type: operation_type.into(), limit, value }
    }

    #[test]
    fn agent_state_reports_are_cut_by_the_expected_rows() {
        let c = Five9Connector::new(
            crate::HttpClient::new().unwrap(),
            &crate::Endpoints::default(),
            Five9Settings {
                region: Five9Region::Us,
                grouping: Five9Grouping::Campaign,
                time_zone: "UTC".into(),
                skill_report: None,
            },
            "user".into(),
            SecretString::from("pw".to_owned()),
        );
        let start: DateTime<Utc> = "2024-05-13T12:00:00Z".parse().unwrap();
        let hours = |h: i64| TimeWindow { start, end: start + Duration::hours(h) };
        // 60 hours (a two-day fetch and its lookback): two equal reports for a small domain...
        assert_eq!(c.state_span(20, hours(60)), Duration::hours(30));
        // ...and for 300 agents too (54,000 rows expected, 27,000 a report), but three for 500 (90,000).
        assert_eq!(c.state_span(300, hours(60)), Duration::hours(30));
        assert_eq!(c.state_span(500, hours(60)), Duration::hours(20));
        // A steady-state window of 46 hours: one report, up to the span.
        assert_eq!(c.state_span(200, hours(46)), Duration::hours(46));
        // Parts are whole quarter hours; an estimate of 0 per hour only follows the span.
        assert_eq!(c.state_span(10_000, hours(10)), Duration::minutes(75));
        let off = c.with_options(Five9Options { state_rows_per_agent_hour: 0.0, ..Five9Options::default() });
        assert_eq!(off.state_span(10_000, hours(10)), Duration::hours(10));
    }

    #[test]
    fn the_default_day_cost_is_what_a_day_calls() {
        let opts = Five9Options::default();
        assert_eq!(opts.day_cost, CallCost { query: 13, report_request: 3, retrieve_report: 3 });
        // One-day reports over one day: one for the call log, two for the 36 hours of agent states.
        assert_eq!(CallCost::day(Duration::days(1), Duration::hours(12), 1).report_request, 3);
        // A lookback within the span: one report each.
        assert_eq!(CallCost::day(Duration::days(2), Duration::zero(), 1).report_request, 2);
    }

    #[test]
    fn hourly_and_daily_counters_keep_the_reserve_free() {
        let cost = CallCost { query: 13, report_request: 3, retrieve_report: 3 };
        // 120 per hour, 20 % reserve = 24: 93 used leaves 27 = 3 + 24 (go), 94 used leaves 26 (wait).
        assert_eq!(day_pace(&[counter(3_600, "ReportRequest", 120, 93)], cost, 20), Pace::Go);
        let Pace::Wait { reason } = day_pace(&[counter(3_600, "ReportRequest", 120, 94)], cost, 20) else {
            panic!("expected a wait")
        };
        assert!(reason.starts_with("ReportRequest: 94 of 120 per hour used"), "{reason}");
        // The reserve rounds up (20 % of 7 = 2), a counter over its limit is simply short, per-minute counters and
        // unknown types are not this check's business, and every short counter is named.
        assert_eq!(day_pace(&[counter(86_400, "RetrieveReport", 7, 2)], cost, 20), Pace::Go);
        assert!(matches!(day_pace(&[counter(86_400, "RetrieveReport", 7, 3)], cost, 20), Pace::Wait { .. }));
        let counters = [
            counter(60, "ReportRequest", 16, 16),
            counter(3_600, "Other", 1, 1),
            counter(86_400, "ReportRequest", 800, 900),
            counter(3_600, "Query", 15_000, 14_990),
        ];
        let Pace::Wait { reason } = day_pace(&counters, cost, 20) else { panic!("expected a wait") };
        assert_eq!(
            reason,
            "ReportRequest: 900 of 800 per day used (the next import days need 3, 160 stay free for other API users); \
             Query: 14990 of 15000 per hour used (the next import days need 13, 3000 stay free for other API users)"
        );
        assert_eq!(day_pace(&[counter(86_400, "ReportRequest", 10, 7)], cost, 0), Pace::Go);
        assert_eq!(day_pace(&[], cost, 20), Pace::Go);
    }
}
