//! Five9 simulator: the admin web service (`POST /wsadmin/v13/AdminWebService`, SOAP 1.1, Basic auth) with the
//! operations the import uses, deterministic data ([`data`]), the exact expected results ("truth"), switchable
//! faults, and HTTP control routes under `/__sim/` for over-HTTP tests.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use acd_simulators::five9::{Five9SimConfig, Five9Simulator, FaultKind, FaultRule};
//! let sim = Five9Simulator::start(Five9SimConfig::default()).await?;
//! // FIVE9_BASE_URL = sim.base_url(); credentials sim.username() / sim.password()
//! sim.push_fault(FaultRule::new(FaultKind::OperationsLimitExceeded).on("runReport").times(1));
//! # Ok(()) }
//! ```
//!
//! Behaviour worth knowing (documented assumptions where Five9's own behaviour is unknown):
//! - Wrong credentials: HTTP 401 with an HTML page. A second request of the user while one is in flight is refused
//!   with `UserAlreadyLoggedInFault` (the exact fault Five9 uses is not documented; this one is declared on every
//!   operation of the WSDL).
//! - Request children are checked against the WSDL's `xs:sequence` (order, unqualified, occurrences); violations
//!   get an `env:Client` fault. This is stricter than Five9, which accepts `start` before `end`.
//! - Report criteria end is inclusive (a call at exactly `end` is returned); the connector must drop it.
//! - Reports are generated at `runReport` (data as of the simulator's clock) and truncated silently at the row
//!   limit; `isReportRunning` is true for `report_running_for`, and holds its long poll for the `timeout` asked
//!   (at most `max_long_poll`) or until the report finishes; results stay retrievable after a first get.
//! - Name patterns: `.*` (all) or a literal name (regex metacharacters may be escaped with `\`).
//! - Renamed campaigns/skills appear under their new name in reports, also for past calls (reports join on the
//!   object); deleted ones vanish from the lists, their past calls keep the last name.
//! - The `Date` response header carries the simulator's clock (the connector uses it as the report time).
//! - Faults on how an answer is sent ([`FaultKind::SlowBody`], [`FaultKind::StalledBody`]) pace the bytes written to
//!   its connection, as a slow or stalled line would deliver them (`line`).

pub mod data;
mod line;
mod server;
pub mod wire;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use acd_connectors::five9::Five9Grouping;
use acd_domain::{AgentSegment, ExternalAgent, ExternalStatus, IntervalStats, Queue, TimeWindow};
use chrono::{DateTime, DurationRound, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

pub use data::{BASE_STATES, Shape, World};

/// Per-operation-type limits: per minute, hour, day (Five9's documented defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    pub query: [u64; 3],
    pub report_request: [u64; 3],
    pub retrieve_report: [u64; 3],
}

impl Default for Limits {
    fn default() -> Self {
        Self { query: [450, 15_000, 172_800], report_request: [16, 120, 800], retrieve_report: [20, 200, 1_000] }
    }
}

#[derive(Debug, Clone)]
pub struct Five9SimConfig {
    pub seed: u64,
    pub campaigns: usize,
    pub skills: usize,
    pub agents: usize,
    /// Mean calls per inbound campaign per 15 minutes at the daily peak.
    pub calls_per_interval: f64,
    pub time_zone: Tz,
    /// The simulator's clock: fixed, or the real clock when `None`.
    pub now: Option<DateTime<Utc>>,
    /// Data exists from `now - history_days` on.
    pub history_days: u32,
    pub username: String,
    pub password: String,
    /// How long a report stays "running" after runReport.
    pub report_running_for: Duration,
    /// Cap of one isReportRunning long poll, which otherwise lasts the `timeout` the client asks for or until the
    /// report finishes, as Five9's does. A cap below the client's timeout answers `true` early: the connector then
    /// waits out the rest of its timeout before it polls again (as for [`FaultKind::NoLongPoll`]), so a cap no
    /// longer makes tests faster.
    pub max_long_poll: Duration,
    pub row_limit: usize,
    pub limits: Limits,
    /// Folder and name of the Call Log copy with a SKILL column.
    pub skill_report: (String, String),
    /// Port to bind on 127.0.0.1 (0 = any free port).
    pub port: u16,
}

impl Default for Five9SimConfig {
    fn default() -> Self {
        Self {
            seed: 1,
            campaigns: 3,
            skills: 4,
            agents: 12,
            calls_per_interval: 6.0,
            time_zone: chrono_tz::America::Los_Angeles,
            now: Some("2024-11-06T00:00:00Z".parse().expect("valid date")),
            history_days: 400,
            username: "wfm-api@acme-corp.example".into(),
            password: "s3cret & <pass>".into(),
            report_running_for: Duration::from_millis(40),
            max_long_poll: Duration::from_secs(60),
            row_limit: 50_000,
            limits: Limits::default(),
            skill_report: ("Custom Reports".into(), "Call Log with Skill".into()),
            port: 0,
        }
    }
}

/// A fault to inject. Serialised as `{"kind": "...", ...}` on the control routes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaultKind {
    /// HTTP 401 HTML page.
    Unauthorized,
    /// HTTP 403 HTML page.
    Forbidden,
    AccessDisallowed,
    OperationsLimitExceeded,
    ServiceUnavailableFault,
    ServerFault,
    /// A SOAP `Client` fault without detail, as JAX-WS answers a request that does not fit the schema.
    ClientFault,
    /// HTTP 500 HTML page (no SOAP fault).
    Http500,
    /// HTTP 500 HTML page in ISO-8859-1 (declared so) with a character beyond ASCII: a byte that is not UTF-8, as
    /// an application server's or proxy's error page may be.
    Http500Latin1,
    /// HTTP 503 HTML page.
    Http503,
    /// Answer normally after a delay (a delay beyond the client's timeout is a hang).
    Delay {
        ms: u64,
    },
    /// Carry the request out (counted, a report started), then hold its answer back `ms`: beyond the client's
    /// timeout, an answer lost after Five9 acted on the request. The user's next request is not refused meanwhile.
    DelayAnswer {
        ms: u64,
    },
    /// The normal answer sent slowly but steadily, as over a slow line: its bytes in `chunks` parts, `pause_ms`
    /// apart (the whole takes about `chunks × pause_ms`).
    SlowBody {
        chunks: u32,
        pause_ms: u64,
    },
    /// The normal answer's first half, then nothing for `ms` (a stalled transfer), then the rest.
    StalledBody {
        ms: u64,
    },
    /// HTTP 200 with ill-formed XML.
    MalformedXml,
    /// HTTP 200 with the normal body cut in half.
    TruncatedBody,
    /// HTTP 200 with the normal body in ISO-8859-1 (declared so): a character beyond ASCII is one byte that is not
    /// UTF-8.
    Latin1Body,
    /// getReportResultCsv: a complete envelope whose CSV is cut in the middle of a row.
    TruncatedCsv,
    /// Lists and reports come back empty (reports: header row only).
    EmptyResult,
    /// runReport: the report never finishes.
    ReportRunningForever,
    /// runReport: ReportNotFoundFault.
    ReportNotFound,
    /// A response in a different namespace than Five9's (a wrong service behind the URL).
    WrongNamespace,
    /// HTTP 429 with `Retry-After` (a throttling proxy in front of Five9).
    TooManyRequests {
        retry_after_secs: u64,
    },
    /// A well-formed response element without any child: `getReportResultCsvResponse` without `return`, listings
    /// without entries, `getCallCountersState` without counters.
    MissingReturn,
    /// getReportResultCsv: `<return></return>` — an empty CSV, not even the header line.
    EmptyReturn,
    /// getReportResultCsv: the CSV without its header line.
    HeaderlessCsv,
    /// getReportResultCsv: `ResultIsNotReadyFault`, though `isReportRunning` said the report had finished.
    ResultIsNotReady,
    /// getReportResultCsv: the first data row's TALK TIME (Call Log) or AGENT STATE TIME (Agent State Details) empty,
    /// as in a cut or corrupt row (five9.md documents durations as `HH:MM:SS` only, `00:00:00` when none).
    BlankDuration,
    /// isReportRunning: `true` at once, whatever `timeout` was asked for and whether the report finished (a server
    /// or proxy that does not hold the long poll). With `times(n)`, the next `n` polls.
    NoLongPoll,
    /// `UserAlreadyLoggedInFault`, as if another integration or tool were using the same API user right now (the
    /// fault a request gets while another request of its user is in flight; counted in `refused_concurrent`).
    UserBusy,
}

/// A fault for one operation (or all), optionally only the next `times` matching requests, optionally once `after`
/// matching requests were answered normally (a fault in the middle of a run).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    #[serde(flatten)]
    pub kind: FaultKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<u32>,
}

impl FaultRule {
    pub fn new(kind: FaultKind) -> Self {
        Self { operation: None, kind, times: None, after: None }
    }
    /// The first `n` matching requests are answered normally; the fault starts with the next.
    pub fn after(mut self, n: u32) -> Self {
        self.after = Some(n);
        self
    }
    pub fn on(mut self, operation: &str) -> Self {
        self.operation = Some(operation.into());
        self
    }
    pub fn times(mut self, n: u32) -> Self {
        self.times = Some(n);
        self
    }
}

/// The criteria of a runReport, as received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportRun {
    pub folder: String,
    pub report: String,
    pub start_raw: String,
    pub end_raw: String,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    pub rows: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimStats {
    /// SOAP requests received (all of them).
    pub requests: u64,
    /// Requests per operation.
    pub operations: HashMap<String, u64>,
    /// Requests refused because another request of the user was in flight.
    pub refused_concurrent: u64,
    /// Requests refused with OperationsLimitExceededFault by the counters.
    pub rate_limited: u64,
    pub report_runs: Vec<ReportRun>,
    /// The most reports running at once (counted at each `runReport`, the new one included; a report runs for
    /// `report_running_for`): 2 when an import runs its call log and agent state reports side by side.
    #[serde(default)]
    pub most_reports_running: usize,
}

pub(crate) struct StoredReport {
    csv: String,
    ready_at: Option<tokio::time::Instant>,
}

pub(crate) struct SimState {
    config: Five9SimConfig,
    world: World,
    faults: Vec<FaultRule>,
    reports: HashMap<String, StoredReport>,
    /// (operation type, window seconds) → (window index, count)
    counters: HashMap<(&'static str, u64), (u64, u64)>,
    stats: SimStats,
    next_report: u64,
}

impl SimState {
    fn now(&self) -> DateTime<Utc> {
        self.config.now.unwrap_or_else(|| Utc::now().duration_trunc(chrono::Duration::seconds(1)).unwrap_or(Utc::now()))
    }

    /// The first matching fault rule (consuming one of its `after` passes, else one of its `times`).
    fn take_fault(&mut self, operation: &str) -> Option<FaultKind> {
        let i = self
            .faults
            .iter()
            .position(|r| r.operation.as_deref().is_none_or(|o| o == operation) && r.times.is_none_or(|t| t > 0))?;
        let rule = &mut self.faults[i];
        if let Some(n) = rule.after.as_mut().filter(|n| **n > 0) {
            *n -= 1;
            return None;
        }
        if let Some(t) = rule.times.as_mut() {
            *t -= 1;
        }
        Some(rule.kind.clone())
    }
}

pub(crate) struct Shared {
    state: Mutex<SimState>,
    in_flight: AtomicUsize,
    base_url: String,
    /// How the answers being sent are paced, by connection ([`FaultKind::SlowBody`], [`FaultKind::StalledBody`]).
    trickles: line::Trickles,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, SimState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A running simulator; stops when dropped.
pub struct Five9Simulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Five9Simulator {
    /// Binds `127.0.0.1:{config.port}` and serves in a background task.
    pub async fn start(config: Five9SimConfig) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", config.port)).await?;
        let addr = listener.local_addr()?;
        let now = config.now.unwrap_or_else(Utc::now);
        let shape = Shape {
            seed: config.seed,
            campaigns: config.campaigns,
            skills: config.skills,
            agents: config.agents,
            calls_per_interval: config.calls_per_interval,
            time_zone: config.time_zone,
        };
        let history_start = (now - chrono::Duration::days(config.history_days as i64))
            .duration_trunc(chrono::Duration::days(1))
            .unwrap_or(now);
        let world = World::new(shape, history_start);
        let shared = Arc::new(Shared {
            state: Mutex::new(SimState {
                config,
                world,
                faults: Vec::new(),
                reports: HashMap::new(),
                counters: HashMap::new(),
                stats: SimStats::default(),
                next_report: 1,
            }),
            in_flight: AtomicUsize::new(0),
            base_url: format!("http://{addr}"),
            trickles: line::Trickles::default(),
        });
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app = server::router(shared.clone()).into_make_service_with_connect_info::<line::Peer>();
        let listener = line::Line { listener, trickles: shared.trickles.clone() };
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(Self { shared, addr, shutdown: Some(tx) })
    }

    /// `http://127.0.0.1:{port}` — the value for `FIVE9_BASE_URL`.
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    pub fn username(&self) -> String {
        self.shared.lock().config.username.clone()
    }
    pub fn password(&self) -> String {
        self.shared.lock().config.password.clone()
    }
    pub fn time_zone(&self) -> Tz {
        self.shared.lock().config.time_zone
    }
    pub fn now(&self) -> DateTime<Utc> {
        self.shared.lock().now()
    }
    pub fn set_now(&self, now: DateTime<Utc>) {
        self.shared.lock().config.now = Some(now);
    }
    pub fn set_report_running_for(&self, d: Duration) {
        self.shared.lock().config.report_running_for = d;
    }
    pub fn set_row_limit(&self, rows: usize) {
        self.shared.lock().config.row_limit = rows;
    }
    pub fn set_limits(&self, limits: Limits) {
        self.shared.lock().config.limits = limits;
    }

    pub fn push_fault(&self, rule: FaultRule) {
        self.shared.lock().faults.push(rule);
    }
    pub fn set_faults(&self, rules: Vec<FaultRule>) {
        self.shared.lock().faults = rules;
    }
    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    pub fn stats(&self) -> SimStats {
        self.shared.lock().stats.clone()
    }

    /// Renames a campaign (by current name). False when no such campaign.
    pub fn rename_campaign(&self, from: &str, to: &str) -> bool {
        self.shared.lock().world.campaigns.iter_mut().find(|c| c.name == from).map(|c| c.name = to.into()).is_some()
    }
    pub fn delete_campaign(&self, name: &str) -> bool {
        self.shared.lock().world.campaigns.iter_mut().find(|c| c.name == name).map(|c| c.deleted = true).is_some()
    }
    pub fn rename_skill(&self, from: &str, to: &str) -> bool {
        self.shared.lock().world.skills.iter_mut().find(|s| s.name == from).map(|s| s.name = to.into()).is_some()
    }
    pub fn delete_skill(&self, name: &str) -> bool {
        self.shared.lock().world.skills.iter_mut().find(|s| s.name == name).map(|s| s.deleted = true).is_some()
    }
    /// Adds (`delta` > 0) or removes (< 0) inbound calls of a campaign in the interval starting at `interval_start`
    /// (a correction of a past interval, e.g. late data).
    pub fn adjust_calls(&self, campaign: &str, interval_start: DateTime<Utc>, delta: i64) -> bool {
        let mut st = self.shared.lock();
        let Some(i) = st.world.campaigns.iter().position(|c| c.name == campaign) else { return false };
        *st.world.adjustments.entry((i, interval_start)).or_insert(0) += delta;
        true
    }

    /// Names of the inbound campaigns and skills (current, not deleted).
    pub fn campaign_names(&self) -> Vec<String> {
        self.shared.lock().world.campaigns.iter().filter(|c| c.inbound && !c.deleted).map(|c| c.name.clone()).collect()
    }
    pub fn skill_names(&self) -> Vec<String> {
        self.shared.lock().world.skills.iter().filter(|s| !s.deleted).map(|s| s.name.clone()).collect()
    }

    // ---- truth ----

    pub fn truth_intervals(&self, window: TimeWindow, grouping: Five9Grouping) -> Vec<IntervalStats> {
        let st = self.shared.lock();
        st.world.truth_intervals(window, grouping, st.now())
    }
    pub fn truth_segments(&self, window: TimeWindow) -> Vec<AgentSegment> {
        let st = self.shared.lock();
        st.world.truth_segments(window, st.now())
    }
    pub fn truth_queues(&self, grouping: Five9Grouping) -> Vec<Queue> {
        self.shared.lock().world.truth_queues(grouping)
    }
    /// Every user (agents and the API user), as `list_agents` should return them.
    pub fn truth_agents(&self) -> Vec<ExternalAgent> {
        truth_agents(&self.shared.lock())
    }
    /// Base states plus the `state: reason` statuses seen in `window`.
    pub fn truth_statuses(&self, window: TimeWindow) -> Vec<ExternalStatus> {
        let st = self.shared.lock();
        st.world.truth_statuses(window, st.now())
    }
}

impl Drop for Five9Simulator {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

fn truth_agents(st: &SimState) -> Vec<ExternalAgent> {
    let mut out = st.world.truth_agents();
    out.push(ExternalAgent { external_id: st.config.username.clone(), display_name: Some(API_USER_FULL_NAME.into()) });
    out.sort_by(|a, b| a.external_id.cmp(&b.external_id));
    out
}

pub(crate) const API_USER_FULL_NAME: &str = "WFM API, Integration";

/// Guard counting in-flight SOAP requests.
pub(crate) struct InFlight<'a>(&'a AtomicUsize);

impl<'a> InFlight<'a> {
    /// `None` if another request is in flight (and then nothing is counted).
    fn enter(counter: &'a AtomicUsize) -> Option<Self> {
        if counter.fetch_add(1, Ordering::SeqCst) > 0 {
            counter.fetch_sub(1, Ordering::SeqCst);
            None
        } else {
            Some(Self(counter))
        }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}
