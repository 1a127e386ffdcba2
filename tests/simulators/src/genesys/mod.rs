//! Genesys Cloud simulator: one axum server that answers both the login routes (`POST /oauth/token`) and the API
//! routes the connector uses, in the real wire format (`../shared/acd-apis/genesys-cloud.md`), with deterministic
//! data, switchable faults and the expected results ("truth") in the connector's output terms.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use acd_simulators::genesys::{GenesysSimConfig, GenesysSimulator, Fault, FaultKind, FaultTarget};
//! let sim = GenesysSimulator::start(GenesysSimConfig { queues: 3, agents: 4, ..Default::default() }).await?;
//! // Point both GENESYS_CLOUD_API_BASE_URL and GENESYS_CLOUD_LOGIN_BASE_URL at sim.base_url();
//! // authenticate with sim.client_id() / sim.client_secret().
//! sim.add_fault(Fault::once(FaultTarget::Aggregates, FaultKind::RateLimited { retry_after_secs: 1 }));
//! let expected_queues = sim.expected_queues();
//! # Ok(()) }
//! ```
//!
//! Simulator rules that are stricter than (or not verified against) the real service, all documented in
//! `server.rs`: aggregate intervals must be aligned to 15 minutes and ≤ 7 days; only `PT15M`, `UTC` and
//! `groupBy [queueId, mediaType]` are supported; the metrics `tTalk`, `tAcw` and `nOverSla` are accepted but never
//! returned; the permission names of the 403 answers are plausible, not verified.
//!
//! HTTP control routes (for the binary and over-HTTP tests), all JSON:
//! - `GET /__sim/info` — base URL, credentials, clock, sizes
//! - `GET /__sim/truth/queues`, `GET /__sim/truth/agents?agent_id=username|id`,
//!   `GET /__sim/truth/statuses?detailed=true|false`,
//!   `GET /__sim/truth/interval-stats?start=RFC3339&end=RFC3339`,
//!   `GET /__sim/truth/agent-segments?start=…&end=…&detailed=…&agent_id=…`
//! - `POST /__sim/faults` (a [`Fault`]), `DELETE /__sim/faults`
//! - `POST /__sim/clock` `{"now": RFC3339}`
//! - `POST /__sim/queues/{id}/rename` `{"name": …}`, `DELETE /__sim/queues/{id}`
//! - `POST /__sim/corrections` (a [`Correction`])
//! - `POST /__sim/tokens/revoke`, `POST /__sim/permissions/missing` `{"permissions": [...]}`
//! - `GET /__sim/requests` ([`RequestCounts`])

pub mod data;
mod server;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use acd_connectors::genesys::GenesysAgentId;
use acd_domain::{AgentSegment, Channel, ExternalAgent, ExternalStatus, IntervalStats, Queue, TimeWindow};
use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

pub use data::MediaType;
use data::{Bucket, ON_QUEUE, RoutingStatus, SystemPresence, UserState, World, WorldSize};

/// Sizes, clock and behaviour of a simulator.
#[derive(Debug, Clone)]
pub struct GenesysSimConfig {
    pub seed: u64,
    pub queues: usize,
    pub agents: usize,
    /// Days of history before the clock's day (data starts at midnight UTC that many days before "now").
    pub history_days: u32,
    /// Mean contacts per queue and media type in a busy 15-minute interval.
    pub contacts_per_interval: f64,
    /// The simulator's clock; `None` follows the wall clock. Data exists only before "now".
    pub now: Option<DateTime<Utc>>,
    /// Largest `pageSize` honoured by the listings (smaller requests are honoured as asked).
    pub max_page_size: u32,
    /// `None`: derived from the seed.
    pub client_id: Option<String>,
    /// `None`: random per start (so a token cached by a client process never matches another simulator).
    pub client_secret: Option<String>,
    /// `expires_in` of issued tokens; tokens stop working after it.
    pub token_ttl_secs: u64,
    /// Requests per minute per client before 429; `None` disables the limit.
    pub rate_limit_per_minute: Option<u32>,
    /// The media every queue takes (`Some(vec![MediaType::Voice])`: a voice-only org); `None`: a mix by queue.
    pub media: Option<Vec<MediaType>>,
    /// The queue listing's `mediaSettings` has an entry for every medium, whatever the queue carries — as Genesys
    /// Cloud's does (every queue has settings for calls, callbacks, chats, messages and emails). `false`: only the
    /// queue's own media.
    pub all_media_settings: bool,
}

impl Default for GenesysSimConfig {
    fn default() -> Self {
        Self {
            seed: 1,
            queues: 4,
            agents: 6,
            history_days: 14,
            contacts_per_interval: 4.0,
            now: None,
            max_page_size: 500,
            client_id: None,
            client_secret: None,
            token_ttl_secs: 86_399,
            rate_limit_per_minute: Some(300),
            media: None,
            all_media_settings: false,
        }
    }
}

/// Which requests a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultTarget {
    Token,
    Queues,
    Users,
    PresenceDefinitions,
    Aggregates,
    UserDetails,
    /// Every API route (not the token route).
    AnyApi,
    /// Every route.
    Any,
}

/// What a fault does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaultKind {
    /// 401: `invalid_client` on the token route, `bad.credentials` on the API.
    Unauthorized,
    /// 403 `missing.permissions` naming `permission` (or the route's own permission).
    Forbidden { permission: Option<String> },
    /// 429 `too.many.requests` with `Retry-After`.
    RateLimited { retry_after_secs: u64 },
    /// A 5xx answer (500, 502, 503, 504) with the Genesys error body.
    ServerError { status: u16 },
    /// 400 `bad.request`.
    BadRequest,
    /// Answers correctly after a delay.
    Delay { ms: u64 },
    /// Never answers (the client times out).
    Hang,
    /// 200 with an HTML page instead of JSON.
    Malformed,
    /// 200 with the real JSON body cut in half.
    Truncated,
    /// 200 with an empty result of the route's shape.
    Empty,
    /// 200 with the real body minus the paging fields: listings without `pageNumber`, `pageCount`, `nextUri` (and
    /// `total`), user details without `totalHits`. Other routes answer normally.
    MissingPaging,
    /// 200 with a well-formed `{}`: no `entities`, no `totalHits`, no `results` (a structurally empty answer).
    EmptyObject,
    /// User details count `n` more `totalHits`: hits that arrived while the query was paged (an agent's first record
    /// of a day), sorted before every other hit, so the others move `n` places on (one served again on the next
    /// page, none left out). The arrived hits hold no records. Other routes answer normally.
    MoreHits { n: u64 },
    /// 200 with the real body minus the last of its `entities`, the paging fields (`total`, `pageCount`, `nextUri`)
    /// kept: a page short of an entity its listing counts. Answers without `entities` are left as they are.
    ShortPage,
    /// User details keep `totalHits` but hold no `userDetails`: a page that lost its rows. Other routes answer
    /// normally.
    NoRows,
    /// The queue is renamed as the request arrives, then the request is answered (a rename between two pages of a
    /// listing, deterministically).
    RenameQueue { queue_id: String, name: String },
    /// The queue is deleted as the request arrives, then the request is answered.
    DeleteQueue { queue_id: String },
}

/// A fault: applies to the next `times` matching requests (after letting `skip` of them through); `times: None`
/// keeps it until cleared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    pub target: FaultTarget,
    #[serde(flatten)]
    pub kind: FaultKind,
    #[serde(default)]
    pub times: Option<u32>,
    #[serde(default)]
    pub skip: u32,
}

impl Fault {
    pub fn once(target: FaultTarget, kind: FaultKind) -> Self {
        Self { target, kind, times: Some(1), skip: 0 }
    }
    pub fn always(target: FaultTarget, kind: FaultKind) -> Self {
        Self { target, kind, times: None, skip: 0 }
    }
    pub fn times(target: FaultTarget, kind: FaultKind, times: u32) -> Self {
        Self { target, kind, times: Some(times), skip: 0 }
    }
    /// Lets `skip` matching requests through first (e.g. fail the second page).
    pub fn after(mut self, skip: u32) -> Self {
        self.skip = skip;
        self
    }
}

/// A late correction of one (queue, media type, interval): the given metrics replace the generated ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Correction {
    pub queue_id: String,
    pub media_type: MediaType,
    pub interval_start: DateTime<Utc>,
    #[serde(default)]
    pub offered: Option<u64>,
    #[serde(default)]
    pub handled: Option<u64>,
    #[serde(default)]
    pub handle_time_ms: Option<u64>,
    #[serde(default)]
    pub abandoned: Option<u64>,
    #[serde(default)]
    pub answer_time_ms: Option<u64>,
    #[serde(default)]
    pub answered_within_sl: Option<u64>,
}

/// Requests served, by route (every request, faulted or not).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestCounts {
    pub token: u64,
    pub tokens_issued: u64,
    pub queues: u64,
    pub users: u64,
    pub presence_definitions: u64,
    pub aggregates: u64,
    pub user_details: u64,
    /// API answers with 401.
    pub api_unauthorized: u64,
    /// Answers with 429 (faults and the rate limit).
    pub rate_limited: u64,
}

#[derive(Debug)]
pub(crate) struct ActiveFault {
    fault: Fault,
    skipped: u32,
    used: u32,
}

#[derive(Debug)]
pub(crate) struct Mutable {
    now: Option<DateTime<Utc>>,
    renamed: HashMap<String, String>,
    /// Deleted queue and user ids (both kinds of id are UUIDs).
    deleted: HashSet<String>,
    corrections: HashMap<(String, MediaType, i64), Correction>,
    faults: Vec<ActiveFault>,
    tokens: HashMap<String, Instant>,
    missing_permissions: HashSet<String>,
    counts: RequestCounts,
    rate_window: (Instant, u32),
    /// Users added by [`GenesysSimulator::add_user`]: listed, without analytics data.
    added_users: Vec<AddedUser>,
    /// Client credentials accepted besides the simulator's own ([`GenesysSimulator::add_client`]), id → secret.
    other_clients: HashMap<String, String>,
}

/// A user added while the simulator runs: in the user listing (active), with no analytics data.
#[derive(Debug, Clone)]
pub(crate) struct AddedUser {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) username: String,
}

/// Everything a request handler needs.
pub(crate) struct Shared {
    world: World,
    config: GenesysSimConfig,
    client_id: String,
    client_secret: String,
    base_url: String,
    state: Mutex<Mutable>,
}

impl Shared {
    fn new(config: GenesysSimConfig, base_url: String) -> Self {
        let initial_now = config.now.unwrap_or_else(Utc::now);
        let world = World::new(
            WorldSize {
                seed: config.seed,
                queues: config.queues,
                agents: config.agents,
                history_days: config.history_days,
                contacts_per_interval: config.contacts_per_interval,
                // One small slice per simulator started with a fixed media set (tests and the binary start few).
                media: config.media.clone().map(|m| &*Box::leak(m.into_boxed_slice())),
            },
            initial_now.timestamp_millis(),
        );
        let client_id = config.client_id.clone().unwrap_or_else(|| world.default_client_id());
        let client_secret = config.client_secret.clone().unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
        Self {
            world,
            client_id,
            client_secret,
            base_url,
            state: Mutex::new(Mutable {
                now: config.now,
                renamed: HashMap::new(),
                deleted: HashSet::new(),
                corrections: HashMap::new(),
                faults: Vec::new(),
                tokens: HashMap::new(),
                missing_permissions: HashSet::new(),
                counts: RequestCounts::default(),
                rate_window: (Instant::now(), 0),
                added_users: Vec::new(),
                other_clients: HashMap::new(),
            }),
            config,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Mutable> {
        // A panicking handler must not take the whole simulator down with a poisoned lock.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn now(&self) -> DateTime<Utc> {
        self.lock().now.unwrap_or_else(Utc::now)
    }

    fn queue_name(&self, index: usize) -> String {
        let q = &self.world.queues[index];
        self.lock().renamed.get(&q.id).cloned().unwrap_or_else(|| q.name.clone())
    }

    fn is_deleted(&self, id: &str) -> bool {
        self.lock().deleted.contains(id)
    }

    /// The buckets Genesys would report for a queue and media type, corrections applied.
    fn buckets(&self, q: &data::SimQueue, m: MediaType, from: i64, to: i64, now: i64) -> Vec<(i64, Bucket)> {
        let mut buckets: BTreeMap<i64, Bucket> = self.world.buckets(q, m, from, to, now).into_iter().collect();
        let corrections: Vec<Correction> = {
            let state = self.lock();
            state
                .corrections
                .iter()
                .filter(|((id, media, t), _)| id == &q.id && *media == m && *t >= from && *t < to && *t < now)
                .map(|(_, c)| c.clone())
                .collect()
        };
        for c in corrections {
            let b = buckets.entry(c.interval_start.timestamp_millis()).or_default();
            if let Some(v) = c.offered {
                b.offered = v;
            }
            if let Some(v) = c.handled {
                b.handled.count = v;
            }
            if let Some(v) = c.handle_time_ms {
                b.handled.sum = v;
            }
            if let Some(v) = c.abandoned {
                b.abandoned.count = v;
            }
            if let Some(v) = c.answer_time_ms {
                b.answered.sum = v;
                b.answered.count = b.answered.count.max(1);
            }
            if let Some(v) = c.answered_within_sl {
                b.sl_numerator = v;
                b.sl_denominator = b.sl_denominator.max(v).max(1);
            }
        }
        buckets.into_iter().filter(|(_, b)| !b.is_empty()).collect()
    }

    // ---- truth ---------------------------------------------------------------------------------------------

    fn expected_queues(&self) -> Vec<Queue> {
        let mut out = Vec::new();
        for q in &self.world.queues {
            if self.is_deleted(&q.id) {
                continue;
            }
            let name = self.queue_name(q.index);
            let channels: BTreeSet<Channel> = q.media.iter().map(|m| m.channel()).collect();
            for channel in channels {
                out.push(Queue { external_id: format!("{}:{}", q.id, channel.as_str()), name: name.clone(), channel });
            }
        }
        out.sort_by(|a, b| a.external_id.cmp(&b.external_id));
        out
    }

    fn expected_interval_stats(&self, window: TimeWindow, queue_ids: Option<&[String]>) -> Vec<IntervalStats> {
        let window = window.align_to_intervals();
        let (from, to) = (window.start.timestamp_millis(), window.end.timestamp_millis());
        let now = self.now().timestamp_millis();
        let mut out: BTreeMap<(String, i64), IntervalStats> = BTreeMap::new();
        for q in &self.world.queues {
            let listed = match queue_ids {
                Some(ids) => ids.iter().any(|id| id == &q.id),
                None => !self.is_deleted(&q.id),
            };
            if !listed {
                continue;
            }
            for &m in q.media {
                let external_id = format!("{}:{}", q.id, m.channel().as_str());
                for (t, b) in self.buckets(q, m, from, to, now) {
                    let Some(start) = Utc.timestamp_millis_opt(t).single() else { continue };
                    let s = out.entry((external_id.clone(), t)).or_insert_with(|| IntervalStats {
                        queue_external_id: external_id.clone(),
                        interval_start: start,
                        offered: 0,
                        handled: 0,
                        abandoned: 0,
                        handle_time_ms: 0,
                        answer_time_ms: 0,
                        answered_within_sl: None,
                    });
                    // Only what Genesys emits: a metric with no count is omitted from the answer.
                    s.offered += b.offered;
                    if b.handled.count > 0 {
                        s.handled += b.handled.count;
                        s.handle_time_ms += b.handled.sum;
                    }
                    if b.abandoned.count > 0 {
                        s.abandoned += b.abandoned.count;
                    }
                    if b.answered.count > 0 {
                        s.answer_time_ms += b.answered.sum;
                    }
                    if b.sl_denominator > 0 {
                        s.answered_within_sl = Some(s.answered_within_sl.unwrap_or(0) + b.sl_numerator);
                    }
                }
            }
        }
        out.into_values().collect()
    }

    fn listed_users(&self) -> impl Iterator<Item = &data::SimUser> {
        self.world.users.iter().filter(|u| matches!(u.state, UserState::Active | UserState::Inactive))
    }

    fn external_agent_id(u: &data::SimUser, agent_id: GenesysAgentId) -> String {
        match agent_id {
            GenesysAgentId::Username => u.username.clone(),
            GenesysAgentId::Id => u.id.clone(),
        }
    }

    fn expected_agents(&self, agent_id: GenesysAgentId) -> Vec<ExternalAgent> {
        let mut out: Vec<ExternalAgent> = self
            .listed_users()
            .map(|u| ExternalAgent {
                external_id: Self::external_agent_id(u, agent_id),
                display_name: Some(u.name.clone()),
            })
            .collect();
        out.sort_by(|a, b| a.external_id.cmp(&b.external_id));
        out
    }

    fn expected_statuses(&self, detailed: bool) -> Vec<ExternalStatus> {
        let mut out = Vec::new();
        for d in &self.world.definitions {
            out.push(ExternalStatus { id: d.id.clone(), name: d.label.clone() });
            if detailed && d.system == SystemPresence::OnQueue {
                for (code, name) in [
                    ("IDLE", "Idle"),
                    ("INTERACTING", "Interacting"),
                    ("COMMUNICATING", "Communicating"),
                    ("NOT_RESPONDING", "Not Responding"),
                ] {
                    out.push(ExternalStatus {
                        id: format!("{}:{code}", d.id), name: format!("{} – {name}", d.label)
                    });
                }
            }
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out
    }

    /// Computed from the full timeline: plain presence records, and with `detailed` every (On Queue presence ×
    /// routing record) intersection, kept when it overlaps the window.
    fn expected_segments(&self, window: TimeWindow, detailed: bool, agent_id: GenesysAgentId) -> Vec<AgentSegment> {
        let (from, to) = (window.start.timestamp_millis(), window.end.timestamp_millis());
        let now = self.now().timestamp_millis();
        let at = |ms: i64| Utc.timestamp_millis_opt(ms).single().unwrap_or(window.start);
        let mut out = Vec::new();
        for u in self.listed_users() {
            let external = Self::external_agent_id(u, agent_id);
            // On Queue records last hours, not days: a day of margin gives every routing record they need.
            let tl = self.world.timeline(u.index, from - data::DAY, to, now);
            let mut push = |start: i64, end: Option<i64>, status_id: String| {
                if start < to && end.is_none_or(|e| e > from && e > start) {
                    out.push(AgentSegment {
                        agent_external_id: external.as_str().into(),
                        status_id: status_id.into(),
                        reason: None,
                        start: at(start),
                        end: end.map(at),
                    });
                }
            };
            for p in &tl.presence {
                let def = &self.world.definitions[p.def];
                if !(detailed && p.def == ON_QUEUE) {
                    push(p.start, p.end, def.id.clone());
                    continue;
                }
                for r in tl
                    .routing
                    .iter()
                    .filter(|r| r.start < p.end.unwrap_or(i64::MAX) && r.end.is_none_or(|e| e > p.start))
                {
                    let start = r.start.max(p.start);
                    let end = match (r.end, p.end) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                    let id = match r.status {
                        RoutingStatus::OffQueue => def.id.clone(),
                        s => format!("{}:{}", def.id, s.as_str()),
                    };
                    push(start, end, id);
                }
            }
        }
        out.sort_by(|a, b| {
            (&a.agent_external_id, a.start, &a.status_id).cmp(&(&b.agent_external_id, b.start, &b.status_id))
        });
        out
    }

    fn add_fault(&self, fault: Fault) {
        self.lock().faults.push(ActiveFault { fault, skipped: 0, used: 0 });
    }
}

/// A running simulator. Dropping it stops the server.
pub struct GenesysSimulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
}

impl GenesysSimulator {
    /// Starts on `127.0.0.1` and a free port.
    pub async fn start(config: GenesysSimConfig) -> std::io::Result<Self> {
        Self::start_on(config, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    pub async fn start_on(config: GenesysSimConfig, addr: SocketAddr) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(config, format!("http://{addr}")));
        let router = server::router(shared.clone());
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let serve = axum::serve(listener, router).with_graceful_shutdown(async move {
                let _ = rx.await;
            });
            if let Err(e) = serve.await {
                tracing::warn!(error = %e, "the Genesys Cloud simulator stopped");
            }
        });
        Ok(Self { shared, addr, shutdown: Some(tx) })
    }

    /// The base URL of both the login service and the API (`http://127.0.0.1:{port}`).
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    pub fn client_id(&self) -> &str {
        &self.shared.client_id
    }
    pub fn client_secret(&self) -> &str {
        &self.shared.client_secret
    }
    pub fn config(&self) -> &GenesysSimConfig {
        &self.shared.config
    }
    pub fn now(&self) -> DateTime<Utc> {
        self.shared.now()
    }
    /// Moves the clock (data appears as it passes).
    pub fn set_now(&self, now: DateTime<Utc>) {
        self.shared.lock().now = Some(now);
    }
    /// The start of the data (midnight UTC, `history_days` before the initial clock).
    pub fn data_start(&self) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(self.shared.world.data_start).single().unwrap_or_default()
    }

    pub fn add_fault(&self, fault: Fault) {
        self.shared.add_fault(fault);
    }
    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }
    /// Makes every issued token invalid (as if they expired): the next API call answers 401.
    pub fn revoke_tokens(&self) {
        self.shared.lock().tokens.clear();
    }
    /// Permissions the client lacks: routes needing one answer 403 `missing.permissions`.
    pub fn set_missing_permissions(&self, permissions: &[&str]) {
        self.shared.lock().missing_permissions = permissions.iter().map(|p| (*p).to_owned()).collect();
    }
    pub fn requests(&self) -> RequestCounts {
        self.shared.lock().counts.clone()
    }

    /// Genesys queue ids (all generated queues, deleted ones included), in generation order.
    pub fn queue_ids(&self) -> Vec<String> {
        self.shared.world.queues.iter().map(|q| q.id.clone()).collect()
    }
    /// The media types a queue takes.
    pub fn queue_media(&self, queue_id: &str) -> Vec<MediaType> {
        self.shared.world.queues.iter().find(|q| q.id == queue_id).map(|q| q.media.to_vec()).unwrap_or_default()
    }
    pub fn rename_queue(&self, queue_id: &str, name: &str) -> bool {
        let exists = self.shared.world.queues.iter().any(|q| q.id == queue_id);
        if exists {
            self.shared.lock().renamed.insert(queue_id.to_owned(), name.to_owned());
        }
        exists
    }
    /// Removes a queue from the queue listing (its analytics data stays, as in Genesys).
    pub fn delete_queue(&self, queue_id: &str) -> bool {
        let exists = self.shared.world.queues.iter().any(|q| q.id == queue_id);
        if exists {
            self.shared.lock().deleted.insert(queue_id.to_owned());
        }
        exists
    }
    /// Lists a queue removed by [`Self::delete_queue`] again (a division the OAuth client can now see).
    pub fn restore_queue(&self, queue_id: &str) -> bool {
        self.shared.lock().deleted.remove(queue_id)
    }
    /// Adds an active user to the user listing (a user created in Genesys), with no analytics data; returns its id.
    /// [`Self::expected_agents`] does not list it.
    pub fn add_user(&self, username: &str, name: &str) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        let user = AddedUser { id: id.clone(), name: name.to_owned(), username: username.to_owned() };
        self.shared.lock().added_users.push(user);
        id
    }
    /// Accepts other client credentials too (another OAuth client of the same org).
    pub fn add_client(&self, client_id: &str, client_secret: &str) {
        self.shared.lock().other_clients.insert(client_id.to_owned(), client_secret.to_owned());
    }
    /// Removes a user (by user name) from the user listing, as a deleted Genesys user leaves it (its analytics data
    /// stays, as in Genesys).
    pub fn delete_user(&self, username: &str) -> bool {
        let user = self.shared.world.users.iter().find(|u| u.username == username);
        if let Some(user) = user {
            self.shared.lock().deleted.insert(user.id.clone());
        }
        user.is_some()
    }
    /// Leaves a presence definition out of both definitions listings (active and deactivated), as one in a division
    /// the OAuth client cannot see; the user records that carry its id keep it.
    pub fn hide_presence_definition(&self, id: &str) -> bool {
        let exists = self.shared.world.definitions.iter().any(|d| d.id == id);
        if exists {
            self.shared.lock().deleted.insert(id.to_owned());
        }
        exists
    }
    pub fn correct_interval(&self, correction: Correction) {
        let key = (correction.queue_id.clone(), correction.media_type, correction.interval_start.timestamp_millis());
        self.shared.lock().corrections.insert(key, correction);
    }

    // ---- truth --------------------------------------------------------------------------------------------------

    /// Every WFM queue the connector should list, sorted by external id.
    pub fn expected_queues(&self) -> Vec<Queue> {
        self.shared.expected_queues()
    }
    /// The statistics of the listed queues for `window` (widened to whole intervals), sorted by
    /// (external id, interval); intervals without any data are absent.
    pub fn expected_interval_stats(&self, window: TimeWindow) -> Vec<IntervalStats> {
        self.shared.expected_interval_stats(window, None)
    }
    /// As [`Self::expected_interval_stats`] for the given Genesys queue ids (deleted ones included).
    pub fn expected_interval_stats_for(&self, queue_ids: &[String], window: TimeWindow) -> Vec<IntervalStats> {
        self.shared.expected_interval_stats(window, Some(queue_ids))
    }
    /// Every agent the connector should list (active and inactive users), sorted by external id.
    pub fn expected_agents(&self, agent_id: GenesysAgentId) -> Vec<ExternalAgent> {
        self.shared.expected_agents(agent_id)
    }
    /// Every status, sorted by id.
    pub fn expected_statuses(&self, detailed: bool) -> Vec<ExternalStatus> {
        self.shared.expected_statuses(detailed)
    }
    /// The segments of all listed agents overlapping `window`, sorted by (agent, start, status).
    pub fn expected_segments(&self, window: TimeWindow, detailed: bool, agent_id: GenesysAgentId) -> Vec<AgentSegment> {
        self.shared.expected_segments(window, detailed, agent_id)
    }

    /// The body `POST /api/v2/analytics/conversations/aggregates/query` answers for these queues and window (for
    /// benchmarks: a realistic large answer without HTTP).
    pub fn aggregates_body(&self, queue_ids: &[String], window: TimeWindow) -> Vec<u8> {
        server::aggregates_body(&self.shared, queue_ids, window)
    }
}

impl Drop for GenesysSimulator {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_documents_have_a_stable_json_form() {
        let f: Fault =
            serde_json::from_str(r#"{"target":"aggregates","kind":"rate_limited","retry_after_secs":2,"times":1}"#)
                .unwrap();
        assert_eq!(f, Fault::once(FaultTarget::Aggregates, FaultKind::RateLimited { retry_after_secs: 2 }));
        let f: Fault = serde_json::from_str(r#"{"target":"user_details","kind":"malformed","skip":1}"#).unwrap();
        assert_eq!(f, Fault::always(FaultTarget::UserDetails, FaultKind::Malformed).after(1));
        let f: Fault = serde_json::from_str(r#"{"target":"any_api","kind":"server_error","status":503}"#).unwrap();
        assert_eq!(f.kind, FaultKind::ServerError { status: 503 });
        let back: Fault = serde_json::from_value(serde_json::to_value(&f).unwrap()).unwrap();
        assert_eq!(back, f);
        let c: Correction = serde_json::from_str(
            r#"{"queue_id":"q","media_type":"voice","interval_start":"2024-05-15T08:00:00Z","offered":12}"#,
        )
        .unwrap();
        assert_eq!((c.media_type, c.offered, c.handled), (MediaType::Voice, Some(12), None));
    }

    #[tokio::test]
    async fn truth_reflects_mutations() {
        let now = Utc.with_ymd_and_hms(2024, 5, 15, 10, 7, 30).unwrap();
        let sim = GenesysSimulator::start(GenesysSimConfig { now: Some(now), ..Default::default() }).await.unwrap();
        let ids = sim.queue_ids();
        let before = sim.expected_queues().len();
        assert!(sim.delete_queue(&ids[0]));
        assert!(sim.expected_queues().len() < before);
        assert!(sim.rename_queue(&ids[1], "Renamed"));
        assert!(
            sim.expected_queues().iter().filter(|q| q.external_id.starts_with(&ids[1])).all(|q| q.name == "Renamed")
        );
        assert!(!sim.rename_queue("no-such-queue", "x"));
        let window = TimeWindow::new(now - chrono::Duration::hours(4), now).unwrap();
        let media = sim.queue_media(&ids[1])[0];
        let at = Utc.with_ymd_and_hms(2024, 5, 15, 8, 0, 0).unwrap();
        sim.correct_interval(Correction {
            queue_id: ids[1].clone(),
            media_type: media,
            interval_start: at,
            offered: Some(4242),
            handled: None,
            handle_time_ms: None,
            abandoned: None,
            answer_time_ms: None,
            answered_within_sl: None,
        });
        let stats = sim.expected_interval_stats(window);
        let corrected = stats
            .iter()
            .find(|s| {
                s.interval_start == at && s.queue_external_id == format!("{}:{}", ids[1], media.channel().as_str())
            })
            .unwrap();
        assert!(corrected.offered >= 4242);
        assert!(stats.iter().all(|s| s.interval_start < now));
    }
}
