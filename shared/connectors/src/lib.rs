//! ACD connectors: one [`Connector`] trait, one module per vendor.
//!
//! Every call takes a [`Deadline`]: retries, back-off and long polls all stay inside it, so an import never runs
//! past its Lambda's time limit. Vendor hosts come from each vendor's region table; only the environment variables
//! read at start-up into [`Endpoints`] can redirect them (tests and the local run), never API input.

pub mod amazon_connect;
pub mod error;
pub mod five9;
pub mod genesys;
pub mod http;
pub mod push;
pub mod registry;
pub mod vendor;

use std::time::Duration;

use acd_domain::{
    AgentSegment, Credentials, ExternalAgent, ExternalStatus, IntegrationType, IntervalStats, Queue, Settings,
    TimeWindow,
};
use async_trait::async_trait;

pub use error::ConnectorError;
pub use http::{CallCounter, Deadline, HttpClient, RetryPolicy, with_retry};
pub use registry::{VENDORS, vendor_of};
pub use vendor::{ConnectorContext, Vendor};

/// What the import (and the credentials check) needs from an ACD.
///
/// The import awaits [`Connector::interval_stats`] and [`Connector::agent_segments`] of a fetch side by side (one
/// task, both futures polled in turn): a connector must allow the two to be in flight at once, serialising its own
/// requests where its ACD requires it (Five9: one request of a user at a time).
#[async_trait]
pub trait Connector: Send + Sync {
    /// A cheap call that proves the credentials work and carry the permissions the import needs.
    async fn verify(&self, deadline: Deadline) -> Result<(), ConnectorError>;

    /// Every queue of the ACD account (for the integration's grouping).
    async fn list_queues(&self, deadline: Deadline) -> Result<Vec<Queue>, ConnectorError>;

    /// Statistics per queue and 15-minute UTC interval for `window` (aligned to intervals by the caller).
    /// Intervals in which a queue had no contacts may be omitted: absent means zero within a window that succeeded.
    /// `queues` is the result of [`Connector::list_queues`] (some vendors filter their queries by queue).
    async fn interval_stats(
        &self,
        queues: &[Queue],
        window: TimeWindow,
        deadline: Deadline,
    ) -> Result<Vec<IntervalStats>, ConnectorError>;

    /// Every agent identifier of the ACD account.
    async fn list_agents(&self, deadline: Deadline) -> Result<Vec<ExternalAgent>, ConnectorError>;

    /// Every external status agents can be in (reason codes included as statuses of their own where known).
    async fn list_statuses(&self, deadline: Deadline) -> Result<Vec<ExternalStatus>, ConnectorError>;

    /// Agent-state segments that overlap `window`. `agents` is the result of [`Connector::list_agents`].
    async fn agent_segments(
        &self,
        agents: &[ExternalAgent],
        window: TimeWindow,
        deadline: Deadline,
    ) -> Result<Vec<AgentSegment>, ConnectorError>;

    /// The longest window one `interval_stats` / `agent_segments` call should be given: the import asks for as
    /// many consecutive UTC days at once as fit (a whole number of days; at least one), so a single call stays
    /// within vendor limits and the Lambda deadline while costing as few vendor calls as possible.
    fn max_window(&self) -> chrono::Duration;

    /// Vendor HTTP calls made so far by this connector instance (for run records and benchmarks).
    fn calls_made(&self) -> u64;

    /// Whether the vendor's shared hourly and daily API budget leaves room for the import's next fetch of days
    /// (`next`: one [`Connector::interval_stats`] and at most one [`Connector::agent_segments`] call, over at most
    /// [`Connector::max_window`]) while keeping a share of it free for the customer's other API users. The import
    /// asks before each back-fill fetch (and, until the integration has caught up once, before its reconciliation
    /// re-read too) and, on [`Pace::Wait`], ends the run as partial so a later run continues; on [`Pace::TooLarge`]
    /// it fetches the days one at a time. After [`Pace::Go`] a connector may hold the fetch to the room the budget
    /// had: a fetch that needs more calls than priced ends [`ConnectorError::BudgetSpent`] (Five9).
    ///
    /// The default is [`Pace::Go`]: vendors without a readable budget (Genesys Cloud) pace themselves through their
    /// 429 answers, which the connector retries.
    async fn pace_next_day(&self, _next: &NextFetch, _deadline: Deadline) -> Result<Pace, ConnectorError> {
        Ok(Pace::Go)
    }

    /// Restores what an earlier run saved ([`Connector::vendor_cursor`]), before any other call. Vendors without
    /// one ignore it (the default). Amazon Connect: per-shard checkpoints of the agent event stream (its position in
    /// a feed); Five9: the Agent State Details rows per hour of the domain's day ([`five9::density`]), which decide
    /// how windows are cut into reports, and the agent states running into the latest midnight read
    /// ([`five9::carry`]), so that the day's later reports start there.
    fn restore_vendor_cursor(&self, _cursor: Option<serde_json::Value>) -> Result<(), ConnectorError> {
        Ok(())
    }

    /// What to keep until the next run (`None`: nothing), opaque to the import: a feed position, saved after the
    /// run's data is written, only when every day the run read was written, so a record is read once and never
    /// skipped; or what the connector learned of the vendor (Five9).
    fn vendor_cursor(&self) -> Option<serde_json::Value> {
        None
    }

    /// What may be kept from a run that did not write every day it read (paused by the deadline, by the vendor's
    /// budget, or with a day's writes put off; or failed): a [`Connector::vendor_cursor`] that holds only what the
    /// connector learned of the vendor, never a position in a feed. `None` (the default): nothing, the next run starts
    /// from the cursor the last whole run saved.
    fn learned_cursor(&self) -> Option<serde_json::Value> {
        None
    }

    /// The end of the import run's window, set before its first [`Connector::agent_segments`] call. A feed reads
    /// only the records from before it: a later record's segments start at or after the window's end, so they are
    /// not returned, and a position moved past it would never hand the record over again (Amazon Connect before
    /// 2026-12-06: a state that began after the run's last quarter hour and ended before its read was lost). The
    /// records from `end` on wait in the feed for the next run. The default: nothing to bound (a history is read by
    /// its windows).
    fn read_feed_until(&self, _end: chrono::DateTime<chrono::Utc>) -> Result<(), ConnectorError> {
        Ok(())
    }

    /// Whether [`Connector::agent_segments`] reads a feed that hands each record over once (Amazon Connect's agent
    /// event stream) rather than a history: then a re-read day returns only what is new since the last run, and
    /// the import merges its segments instead of replacing the day's (so nothing stored is ever deleted).
    fn agent_states_feed(&self) -> bool {
        false
    }

    /// What the connector noticed and the run record should say (e.g. a gap in a vendor feed).
    fn warnings(&self) -> Vec<String> {
        Vec::new()
    }

    /// The external ids, among the agents of the last [`Connector::agent_segments`] call, that it could not ask the
    /// vendor about (Genesys Cloud by user name: no longer in the user listing, a user deleted or renamed since the
    /// agent list was stored). Nothing was read for them, so what is stored for them must be left as it is, not
    /// taken for "no states". The default: none (every agent asked for is read).
    fn agents_not_read(&self) -> Vec<String> {
        Vec::new()
    }

    /// Periods whose agent states the connector found lost in its feed (Amazon Connect: records trimmed from the
    /// agent event stream before they were read, see [`amazon_connect::stream`]), for the import to store with the
    /// run's data and `GET /agent-states` to show. The default: none (a history can always be read again).
    fn agent_state_gaps(&self) -> Vec<acd_domain::AgentStateGap> {
        Vec::new()
    }

    /// Whether `queue` (from [`Connector::list_queues`]) stays off the mappable-queue listing until the ACD has
    /// shown traffic for it. For vendors whose listings name channels a queue may never carry (every Genesys Cloud
    /// queue has settings for every media type). Once data was imported the queue is listed for good.
    fn listed_once_seen(&self, _queue: &Queue) -> bool {
        false
    }
}

/// What the import is about to fetch, for [`Connector::pace_next_day`] to price: a vendor whose calls depend on
/// the window and the number of agents (Five9's reports, cut by the rows expected) can count them before they are
/// made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NextFetch {
    /// The window of the [`Connector::interval_stats`] call.
    pub stats: TimeWindow,
    /// The window of the [`Connector::agent_segments`] call; `None` when the days' segments are final already and
    /// are not read.
    pub segments: Option<TimeWindow>,
    /// The agents that call is given.
    pub agents: usize,
}

/// The answer of [`Connector::pace_next_day`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pace {
    /// The budget has room for another day.
    Go,
    /// Stop for now; `reason` names the counter that is short (for the log and the run record), e.g.
    /// `"ReportRequest: 95 of 120 per hour used …"`.
    Wait { reason: String },
    /// The fetch needs more than the budget allows even with none of it used (a large domain's days together):
    /// waiting would not help. The import fetches fewer days at once; a single day that never fits fails the run
    /// `configuration_wrong` with `reason` (the domain's limit is too low for it).
    TooLarge { reason: String },
}

/// Base URLs of the vendors' APIs. `None` means "use the region table". An override may be plain `http://` only to
/// a loopback host (tests and the local run); anything else must be HTTPS ([`http::check_transport`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Endpoints {
    /// The overrides each vendor declares ([`Vendor::endpoint_variables`]: `FIVE9_BASE_URL`,
    /// `GENESYS_CLOUD_API_BASE_URL`, Amazon Connect's `AWS_ENDPOINT_URL_CONNECT`, …), by variable name: a new
    /// vendor's overrides need no code here.
    pub vendor: std::collections::BTreeMap<String, String>,
}

impl Endpoints {
    /// The documented override variables, looked up by `lookup` (the start-up configuration reads the environment
    /// through it once; empty values count as unset).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let var =
            |name: &str| lookup(name).map(|v| v.trim().trim_end_matches('/').to_owned()).filter(|v| !v.is_empty());
        Self {
            vendor: VENDORS
                .iter()
                .flat_map(|v| v.endpoint_variables().iter())
                .filter_map(|name| var(name).map(|url| ((*name).to_owned(), url)))
                .collect(),
        }
    }

    /// Every override set is a URL over HTTPS or loopback HTTP ([`http::check_transport`]); else the variable and
    /// its value (a start-up error).
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        let declared = VENDORS.iter().flat_map(|v| v.endpoint_variables().iter()).map(|name| (*name, self.var(name)));
        for (name, value) in declared {
            let Some(value) = value else { continue };
            let usable = url::Url::parse(value).ok().is_some_and(|url| http::check_transport(&url).is_ok());
            if !usable {
                return Err((name, value.to_owned()));
            }
        }
        Ok(())
    }

    /// With the vendor-declared override `name` set to `url` (tests).
    pub fn with_var(mut self, name: &str, url: impl Into<String>) -> Self {
        self.vendor.insert(name.to_owned(), url.into());
        self
    }

    /// The vendor-declared override `name`, if set.
    pub fn var(&self, name: &str) -> Option<&str> {
        self.vendor.get(name).map(String::as_str)
    }
}

/// Builds connectors through the vendor registry. One per process: it owns the shared HTTP client.
#[derive(Clone)]
pub struct ConnectorFactory {
    ctx: ConnectorContext,
}

impl ConnectorFactory {
    /// Every role allowed ([`ConnectorContext::service_account`] unset): tests and benchmarks. The functions build
    /// theirs with `acd_aws::wiring::connector_factory`, which closes the service's own account unless allowed.
    pub fn new(http: HttpClient, endpoints: Endpoints) -> Self {
        Self { ctx: ConnectorContext { http, endpoints, service_account: None } }
    }

    /// With the service's own AWS account closed to customers' roles ([`ConnectorContext::service_account`]).
    pub fn with_service_account(mut self, account: Option<String>) -> Self {
        self.ctx.service_account = account;
        self
    }

    /// The connector for one integration of type `kind`, or `None` for a type without one (a push type).
    /// `credentials` must be of the same type.
    pub fn connector(
        &self,
        kind: &IntegrationType,
        settings: &Settings,
        credentials: Credentials,
    ) -> Result<Option<Box<dyn Connector>>, ConnectorError> {
        if credentials.integration_type() != kind {
            return Err(ConnectorError::Configuration {
                message: "credentials do not match the integration type".into(),
            });
        }
        vendor_of(kind)?.connector(&self.ctx, settings, credentials)
    }
}

/// Default per-request timeout of vendor calls (a single request; the deadline bounds the whole call).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
