//! Genesys Cloud connector (REST + JSON, OAuth client credentials). Wire format: `../shared/acd-apis/genesys-cloud.md`.
//!
//! Choices (and assumptions that could not be verified against a live org):
//! - **Queues.** A Genesys queue serves several media types; a WFM queue has one channel. Each Genesys queue yields
//!   one [`Queue`] per channel it supports, `external_id = "{queueId}:{channel}"`. The channels come from the keys
//!   of `mediaSettings` (`call`/`callback` → calls, `chat`/`message` → chats, `email` → emails; other keys have no
//!   channel). *Assumption:* a key's presence means the queue takes that media type. A queue listed without
//!   `mediaSettings`, or with one that names none of these keys (`{}`, `{"workitem":{}}`: it says nothing about the
//!   three channels, as a missing one), yields all three channels (nothing is lost; unused channels just stay at
//!   zero, and chats and emails are listed once seen, [`Connector::listed_once_seen`]). The name is
//!   the Genesys queue name without a channel suffix: the queues query returns the channel beside the name, and a
//!   suffix would rename WFM queues whenever a media type is added to the Genesys queue.
//! - **Statistics.** See [`stats`] for the metric mapping. Queries are chunked to ≤ 7 days and ≤ 100 queue
//!   predicates (the interval limit is not documented for aggregates; public code uses 7 days). Only the
//!   `{queueId}:{channel}` ids passed in are returned.
//! - **Agents.** `GET /api/v2/users?state=any`, keeping `active` and `inactive` users (inactive agents still have
//!   history to import) and dropping `deleted` ones. External id per [`GenesysSettings::agent_id`]. By user name,
//!   agent segments need the user ids: the listing read last (by `list_agents` or to look agents up) is cached
//!   process-wide (`directory`) for [`DIRECTORY_TTL`], so the connectors of later agent-states passes of a warm
//!   invocation do not read it again; one that asks about a user name the cached listing lacks reads it again, once.
//! - **Statuses and segments.** See [`segments`] for the status-id scheme and the window rule (segments keep their
//!   true bounds and are returned when they overlap the window). Definitions are read twice — default
//!   (`deactivated=false`) and `deactivated=true` — so statuses of deactivated presences still seen in history are
//!   listed. *Assumption:* `deactivated=true` returns (at least) the deactivated definitions; the two answers are
//!   merged by id either way. A status id of the returned segments that neither answer lists (a definition in a
//!   division the OAuth client cannot see) is listed too, named by its id.
//! - **Tokens.** One token per (login service, client id, secret fingerprint), cached process-wide until shortly
//!   before `expires_in`, so warm invocations reuse it; a 401 from the API evicts it and retries once with a new
//!   token; a second 401 is [`ConnectorError::CredentialsRejected`]. `verify` always asks for a new token.
//! - **Windows.** [`Connector::max_window`] is one day: a 7-day aggregates answer for 100 multi-media queues runs
//!   to tens of MB, which is too much for one Lambda call; one day keeps each answer a few MB.

pub mod regions;
pub mod segments;
pub mod settings;
pub mod stats;
pub mod vendor;
pub mod wire;

mod client;
mod directory;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use acd_domain::{AgentSegment, Channel, ExternalAgent, ExternalStatus, IntervalStats, Queue, TimeWindow};
use async_trait::async_trait;

pub use self::regions::GenesysRegion;
pub use self::settings::{GenesysAgentId, GenesysSettings};
use chrono::{Duration, DurationRound, Utc};
use secrecy::SecretString;
use serde::de::IgnoredAny;

pub use client::clear_token_cache;
use client::{Api, parse_json};
pub use directory::{DIRECTORY_TTL, clear_directory_cache};
use directory::{Directory, DirectoryKey, Member};
pub use segments::Definition;
pub use stats::AggregateAccumulator;
use wire::{
    Filter, Listed, Listing, Paging, Predicate, UserDetailsQuery, UserDetailsResponse, WirePresenceDefinition,
    WireQueue, WireUser,
};

use crate::{Connector, ConnectorError, Deadline, Endpoints, HttpClient, RetryPolicy};

const AGGREGATES_PATH: &str = "/api/v2/analytics/conversations/aggregates/query";
const USER_DETAILS_PATH: &str = "/api/v2/analytics/users/details/query";
/// A syntactically valid id that matches nothing: `verify` proves analytics permissions without reading data.
const NIL_ID: &str = "00000000-0000-0000-0000-000000000000";
/// Guard against a vendor that never stops paging.
const MAX_PAGES: u32 = 10_000;

/// Limits and page sizes. The defaults follow the reference; tests shrink them to exercise paging and chunking.
#[derive(Debug, Clone, Copy)]
pub struct Tuning {
    /// `pageSize` of the queue and user listings.
    pub page_size: u32,
    /// `paging.pageSize` of the user-details query.
    pub details_page_size: u32,
    /// Queue or user predicates per query.
    pub max_predicates: usize,
    /// Days per analytics query.
    pub max_query_days: i64,
    pub retry: RetryPolicy,
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            page_size: 100,
            details_page_size: 100,
            max_predicates: 100,
            max_query_days: 7,
            retry: RetryPolicy::default(),
        }
    }
}

/// WFM queues of listed Genesys queues: one per (queue, channel), de-duplicated, in listing order. An entity
/// without an id or a name makes the listing malformed (until 2026-12-08 a missing name fell back to the id, and
/// renamed the WFM queue to it). `mediaSettings` without a key of
/// a WFM channel (`{}`, only `workitem`) counts as missing: every channel. A queue yielding none would read as
/// removed (its WFM queues inactive, their statistics stopped).
pub fn queues_from_entities(entities: Vec<WireQueue>) -> Result<Vec<Queue>, ConnectorError> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for q in entities {
        let Some(id) = q.id.map(|id| id.trim().to_owned()).filter(|id| !id.is_empty()) else {
            return Err(ConnectorError::malformed("queue listing: a queue has no id"));
        };
        let Some(name) = q.name.filter(|n| !n.trim().is_empty()) else {
            return Err(ConnectorError::malformed(format!("queue listing: queue {id} has no name")));
        };
        let listed: BTreeSet<Channel> =
            q.media_settings.iter().flat_map(|s| s.keys().filter_map(|k| stats::channel_of_media_setting(k))).collect();
        let channels =
            if listed.is_empty() { BTreeSet::from([Channel::Calls, Channel::Chats, Channel::Emails]) } else { listed };
        for channel in channels {
            let external_id = stats::external_queue_id(&id, channel);
            if seen.insert(external_id.clone()) {
                out.push(Queue { external_id, name: name.clone(), channel });
            }
        }
    }
    Ok(out)
}

/// Agents of listed Genesys users: `deleted` users are skipped, duplicates dropped; a (not deleted) user without an
/// id or without the identifying field makes the listing malformed.
pub fn agents_from_entities(
    users: Vec<WireUser>,
    agent_id: GenesysAgentId,
) -> Result<Vec<(String, ExternalAgent)>, ConnectorError> {
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(users.len());
    for u in users {
        if u.state.as_deref().is_some_and(|s| s.eq_ignore_ascii_case("deleted")) {
            continue;
        }
        let Some(id) = u.id.filter(|id| !id.trim().is_empty()) else {
            return Err(ConnectorError::malformed("user listing: a user has no id"));
        };
        let external_id = match agent_id {
            GenesysAgentId::Id => Some(id.clone()),
            GenesysAgentId::Username => u.username.filter(|n| !n.trim().is_empty()),
        };
        let Some(external_id) = external_id else {
            return Err(ConnectorError::malformed("user listing: a user has no username"));
        };
        if seen.insert(external_id.clone()) {
            let display_name = u.name.filter(|n| !n.trim().is_empty());
            out.push((id, ExternalAgent { external_id, display_name }));
        }
    }
    Ok(out)
}

/// What one page of a listing says about the next: follow `Some(next)`, stop on `None`. The paging fields must be
/// present (`pageNumber`, `pageCount` and `total`, which `genesys-cloud.md` documents on every page) and agree
/// (`pageNumber` is the page asked for, `pageCount` and `nextUri` agree, a page announcing more is not empty): a
/// listing whose paging cannot be trusted is malformed, never cut short — a missing page would read as agents or
/// queues gone, and without `total` a page short of an entity could not be told ([`ListingReading::finish`]).
pub fn next_page<'a, T>(page: &'a Listing<T>, expected: u64, what: &str) -> Result<Option<&'a str>, ConnectorError> {
    let bad = |m: String| Err(ConnectorError::malformed(format!("{what}: {m}")));
    let Some(entities) = &page.entities else { return bad("the answer has no entities".into()) };
    let (Some(number), Some(count)) = (page.page_number, page.page_count) else {
        return bad("the answer has no pageNumber or pageCount".into());
    };
    if page.total.is_none() {
        return bad(format!("page {number} has no total"));
    }
    if number != expected {
        return bad(format!("asked for page {expected}, got page {number}"));
    }
    let next = page.next_uri.as_deref().map(str::trim).filter(|n| !n.is_empty());
    match next {
        Some(_) if number >= count => bad(format!("page {number} of {count} links a next page")),
        Some(_) if entities.is_empty() => bad(format!("page {number} of {count} is empty but links a next page")),
        None if number < count => bad(format!("page {number} of {count} links no next page")),
        None if count == 0 && !entities.is_empty() => bad("a listing of 0 pages holds entities".into()),
        next => Ok(next),
    }
}

/// One reading of a paged listing, page by page: every page must count the pages (and entities) the first one
/// counted, and no entity may come twice. A listing that changes while it is paged (a queue created, deleted or
/// renamed: the queue listing is sorted by name) shifts its entities across a page boundary, so one is read twice and
/// another never — read as it is, that one would be a queue or an agent gone. Read to its end, the pages must hold
/// the `total` entities the first page counted ([`ListingReading::finish`]): a page short of one, or a `pageCount`
/// too small for `total`, would leave a queue or an agent out just the same.
#[derive(Debug, Default)]
pub struct ListingReading {
    pages: u64,
    page_count: Option<u64>,
    total: Option<u64>,
    /// Entities on the pages read, deleted users included.
    entities: u64,
    ids: HashSet<String>,
}

impl ListingReading {
    /// Checks a page (already checked by [`next_page`]) against the pages before it: `Err` says how the listing
    /// changed, and the reading must start again.
    pub fn page<T: Listed>(&mut self, page: &Listing<T>) -> Result<(), String> {
        if self.pages == 0 {
            (self.page_count, self.total) = (page.page_count, page.total);
        } else {
            if let (Some(first), Some(now)) = (self.page_count, page.page_count)
                && first != now
            {
                return Err(format!("page 1 counted {first} pages, page {} {now}", self.pages + 1));
            }
            if let (Some(first), Some(now)) = (self.total, page.total)
                && first != now
            {
                return Err(format!("page 1 counted {first} entities, page {} {now}", self.pages + 1));
            }
        }
        self.pages += 1;
        self.entities += page.entities.as_ref().map_or(0, |e| e.len() as u64);
        for id in page.entities.iter().flatten().filter_map(Listed::listed_id) {
            if !self.ids.insert(id.to_owned()) {
                return Err(format!("{id} came twice"));
            }
        }
        Ok(())
    }

    /// Checks the whole reading, once its last page is read: `Err` says how its pages fall short of (or exceed) the
    /// `total` the first page counted, or that it counted none ([`next_page`] already refuses a page without it).
    pub fn finish(&self) -> Result<(), String> {
        match self.total {
            None => Err(format!("{} pages held {} entities, page 1 counted no total", self.pages, self.entities)),
            Some(total) if total != self.entities => {
                Err(format!("{} pages held {} entities, page 1 counted {total}", self.pages, self.entities))
            }
            Some(_) => Ok(()),
        }
    }
}

/// Why a reading of a listing is not taken, and the listing is read again.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Reread {
    /// The listing changed while it was paged ([`ListingReading::page`]).
    Changed(String),
    /// The pages held other than `total` entities ([`ListingReading::finish`]).
    Miscounted(String),
}

/// How many times a listing is read before one that keeps changing while it is paged is unavailable (one whose pages
/// keep holding other than `total` entities, malformed).
const LISTING_READS: u32 = 3;
/// The pause before a listing that changed while it was paged (or miscounted) is read again.
const LISTING_PAUSE: std::time::Duration = std::time::Duration::from_millis(500);

pub struct GenesysConnector {
    api: Api,
    settings: GenesysSettings,
    tuning: Tuning,
    /// The user directory this connector read or took from the process-wide cache ([`directory`]).
    directory: Mutex<Option<Directory>>,
    /// This connector has read the user listing itself: a user name missing from a directory does not read it again.
    directory_read: AtomicBool,
    definitions: Mutex<Option<Arc<Vec<Definition>>>>,
    /// The agents the last `agent_segments` call could not ask about ([`Connector::agents_not_read`]).
    not_read: Mutex<Vec<String>>,
    /// Every status id of the segments this connector returned: [`Connector::list_statuses`] lists the ones the
    /// presence definitions do not (a definition in a division the OAuth client cannot see), so they can be mapped.
    seen_statuses: Mutex<BTreeSet<String>>,
}

impl GenesysConnector {
    pub fn new(
        http: HttpClient,
        endpoints: &Endpoints,
        settings: GenesysSettings,
        client_id: String,
        client_secret: SecretString,
    ) -> Self {
        let api_base =
            endpoints.var(regions::API_BASE_URL).map_or_else(|| regions::api_base_url(settings.region), str::to_owned);
        let login_base = endpoints
            .var(regions::LOGIN_BASE_URL)
            .map_or_else(|| regions::login_base_url(settings.region), str::to_owned);
        let tuning = Tuning::default();
        Self {
            api: Api::new(http, api_base, login_base, client_id, client_secret, tuning.retry),
            settings,
            tuning,
            directory: Mutex::new(None),
            directory_read: AtomicBool::new(false),
            definitions: Mutex::new(None),
            not_read: Mutex::new(Vec::new()),
            seen_statuses: Mutex::new(BTreeSet::new()),
        }
    }

    /// Overrides limits and page sizes (tests and benchmarks; the defaults are right for production).
    pub fn with_tuning(mut self, tuning: Tuning) -> Self {
        self.api.retry = tuning.retry;
        self.tuning = Tuning {
            page_size: tuning.page_size.max(1),
            details_page_size: tuning.details_page_size.max(1),
            max_predicates: tuning.max_predicates.max(1),
            max_query_days: tuning.max_query_days.max(1),
            retry: tuning.retry,
        };
        self
    }

    /// Every entity of a paged listing, following `nextUri` to the end. A listing that changed while it was paged, or
    /// whose pages held other than `total` entities ([`ListingReading`]), is read again from its first page after a
    /// pause ([`LISTING_PAUSE`], a bulk change passing), up to [`LISTING_READS`] times; then it is unavailable for now
    /// if the last reading changed, malformed if its pages held other than `total` (the run is retried either way),
    /// never read short.
    async fn all_pages<T: serde::de::DeserializeOwned + Listed>(
        &self,
        first: String,
        what: &str,
        deadline: Deadline,
    ) -> Result<Vec<T>, ConnectorError> {
        let mut last = Reread::Changed(String::new());
        for read in 1..=LISTING_READS {
            if read > 1 {
                if deadline.remaining() <= LISTING_PAUSE {
                    return Err(ConnectorError::DeadlineExceeded);
                }
                tokio::time::sleep(LISTING_PAUSE).await;
            }
            match self.read_listing(first.clone(), what, deadline).await? {
                Ok(all) => return Ok(all),
                Err(Reread::Changed(how)) => {
                    tracing::warn!(listing = what, read, how = %how, "the listing changed while it was paged");
                    last = Reread::Changed(how);
                }
                Err(Reread::Miscounted(how)) => {
                    tracing::warn!(listing = what, read, how = %how, "the listing's pages miscount its entities");
                    last = Reread::Miscounted(how);
                }
            }
        }
        Err(match last {
            Reread::Changed(how) => ConnectorError::unavailable(format!(
                "{what}: the listing changed while it was paged, {LISTING_READS} readings in a row (last: {how})"
            )),
            Reread::Miscounted(how) => ConnectorError::malformed(format!(
                "{what}: the pages miscount the listing, {LISTING_READS} readings in a row (last: {how})"
            )),
        })
    }

    /// One reading of a paged listing: its entities, or (inner `Err`) why it is read again.
    async fn read_listing<T: serde::de::DeserializeOwned + Listed>(
        &self,
        first: String,
        what: &str,
        deadline: Deadline,
    ) -> Result<Result<Vec<T>, Reread>, ConnectorError> {
        let mut url = first;
        let mut seen = HashSet::new();
        let mut reading = ListingReading::default();
        let mut all = Vec::new();
        for number in 1..=u64::from(MAX_PAGES) {
            if !seen.insert(url.clone()) {
                return Err(ConnectorError::malformed(format!("{what}: paging returned to a page already read")));
            }
            let page: Listing<T> = self.api.get_json(&url, what, deadline).await?;
            let next = next_page(&page, number, what)?.map(|n| self.api.resolve_next(n)).transpose()?;
            if let Err(how) = reading.page(&page) {
                return Ok(Err(Reread::Changed(how)));
            }
            all.extend(page.entities.unwrap_or_default());
            match next {
                Some(next) => url = next,
                None => return Ok(reading.finish().map(|()| all).map_err(Reread::Miscounted)),
            }
        }
        Err(ConnectorError::malformed(format!("{what}: more than {MAX_PAGES} pages")))
    }

    fn directory_key(&self) -> DirectoryKey {
        DirectoryKey {
            api_base: self.api.api_base().to_owned(),
            client_id: self.api.client_id().to_owned(),
            credentials_fingerprint: self.api.credentials_fingerprint(),
            agent_id: self.settings.agent_id,
        }
    }

    /// Reads the whole user listing, and keeps it for this connector and in the process-wide cache. `asked`: the
    /// external ids asked about, those not in the listing are kept as [`Directory::absent`].
    async fn read_directory(&self, asked: &[ExternalAgent], deadline: Deadline) -> Result<Directory, ConnectorError> {
        self.directory_read.store(true, Ordering::SeqCst);
        let first = format!("/api/v2/users?pageSize={}&pageNumber=1&state=any", self.tuning.page_size);
        let users: Vec<WireUser> = self.all_pages(first, "user listing", deadline).await?;
        let members: Vec<Member> = agents_from_entities(users, self.settings.agent_id)?
            .into_iter()
            .map(|(id, a)| Member { id, external_id: a.external_id, name: a.display_name })
            .collect();
        let listed: HashSet<&str> = members.iter().map(|m| m.external_id.as_str()).collect();
        let absent = asked.iter().filter(|a| !listed.contains(a.external_id.as_str())).map(|a| a.external_id.clone());
        let directory = Directory {
            absent: Arc::new(absent.collect()),
            members: Arc::new(members),
            read_at: std::time::Instant::now(),
        };
        directory::store(&self.directory_key(), &directory);
        if let Ok(mut d) = self.directory.lock() {
            *d = Some(directory.clone());
        }
        Ok(directory)
    }

    /// The user directory to look `agents` up in: this connector's, else the process-wide cache's (younger than
    /// [`DIRECTORY_TTL`]), else a new reading of the listing. A cached directory that lacks an agent (not among the
    /// names already found absent from it) is read again, once per connector: a new user is not missed until the
    /// cache expires. An agent still missing then is not asked about ([`Connector::agents_not_read`]), never taken
    /// for an agent without states.
    async fn directory_for(&self, agents: &[ExternalAgent], deadline: Deadline) -> Result<Directory, ConnectorError> {
        let own = self.directory.lock().ok().and_then(|d| d.clone());
        let Some(directory) = own.or_else(|| directory::cached(&self.directory_key())) else {
            return self.read_directory(agents, deadline).await;
        };
        let listed: HashSet<&str> = directory.members.iter().map(|m| m.external_id.as_str()).collect();
        let missing = agents
            .iter()
            .filter(|a| !listed.contains(a.external_id.as_str()) && !directory.absent.contains(&a.external_id))
            .count();
        if missing > 0 && !self.directory_read.load(Ordering::SeqCst) {
            tracing::debug!(missing, "agents not in the cached user directory: reading it again");
            return self.read_directory(agents, deadline).await;
        }
        if let Ok(mut d) = self.directory.lock() {
            *d = Some(directory.clone());
        }
        Ok(directory)
    }

    async fn presence_definitions(&self, deadline: Deadline) -> Result<Arc<Vec<Definition>>, ConnectorError> {
        if let Some(d) = self.definitions.lock().ok().and_then(|d| d.clone()) {
            return Ok(d);
        }
        let mut defs = Vec::new();
        let mut ids = HashSet::new();
        for path in ["/api/v2/presence/definitions", "/api/v2/presence/definitions?deactivated=true"] {
            let listing: Listing<WirePresenceDefinition> =
                self.api.get_json(path, "presence definitions", deadline).await?;
            let entities = listing
                .entities
                .ok_or_else(|| ConnectorError::malformed("presence definitions: the answer has no entities"))?;
            // Not paged: the one answer holds the `total` definitions it counts. Without `total`, or holding other
            // than it, a definition may be missing (its presence would read as a status no definition lists).
            match listing.total {
                Some(total) if total == entities.len() as u64 => {}
                Some(total) => {
                    return Err(ConnectorError::malformed(format!(
                        "presence definitions: the answer counts {total} definitions and holds {}",
                        entities.len()
                    )));
                }
                None => return Err(ConnectorError::malformed("presence definitions: the answer has no total")),
            }
            for d in entities.into_iter().map(Definition::from_wire) {
                let d = d.ok_or_else(|| ConnectorError::malformed("presence definitions: a definition has no id"))?;
                if ids.insert(d.id.clone()) {
                    defs.push(d);
                }
            }
        }
        let defs = Arc::new(defs);
        if let Ok(mut d) = self.definitions.lock() {
            *d = Some(defs.clone());
        }
        Ok(defs)
    }

    /// Pages one user-details query (one chunk of users and time) into `records`.
    async fn user_details(
        &self,
        user_ids: &[&str],
        window: TimeWindow,
        records: &mut segments::Records,
        deadline: Deadline,
    ) -> Result<(), ConnectorError> {
        const WHAT: &str = "user details";
        let page_size = self.tuning.details_page_size;
        let mut most_hits = None;
        for page_number in 1..=MAX_PAGES {
            let query = UserDetailsQuery {
                interval: stats::interval_string(window),
                order: "asc",
                paging: Paging { page_size, page_number },
                user_filters: [Filter {
                    kind: "or",
                    predicates: user_ids.iter().map(|id| Predicate::matches("userId", id)).collect(),
                }],
            };
            let raw = self.api.post_raw(USER_DETAILS_PATH, &query, WHAT, deadline).await?;
            let page: UserDetailsResponse = parse_json(&raw, WHAT)?;
            let rows = page.user_details.len();
            // `totalHits` is always there (no results is `{"totalHits":0}`): without it, or when it contradicts the
            // rows, the pages left are unknown — malformed, never "no more agents".
            let Some(total) = page.total_hits else {
                return Err(ConnectorError::malformed(format!("{WHAT}: the answer has no totalHits")));
            };
            // Hits only grow while a query is paged (an agent's first record of a day arriving: the window ends
            // now), and a hit added moves later ones a page on, so one is read twice — never missed. A later page
            // counting fewer (`{"totalHits":0}` after a first page of 250) answers another listing, and the hits
            // on the pages it would end are unknown.
            match most_hits {
                Some(most) if total < most => {
                    return Err(ConnectorError::malformed(format!(
                        "{WHAT}: page {page_number} counts {total} totalHits, an earlier page {most}"
                    )));
                }
                _ => most_hits = Some(total),
            }
            if rows > 0 && total == 0 {
                return Err(ConnectorError::malformed(format!("{WHAT}: rows on a page of 0 totalHits")));
            }
            // Pages can hold fewer rows than the page size (Genesys merges a user's records of several days into one
            // row), never none while they hold hits: a page holding a hit holds its user's row. An empty page before
            // the pages read cover `totalHits` lost its rows (read as the end, its agents and those of the pages
            // after it would have no states); the reference's "or a page is empty" stop is a page past `totalHits`.
            let before = u64::from(page_number - 1) * u64::from(page_size);
            if rows == 0 && before < total {
                return Err(ConnectorError::malformed(format!(
                    "{WHAT}: page {page_number} is empty, {total} totalHits and {before} hits on the pages before it"
                )));
            }
            records.add(page.user_details)?;
            // Stop once the pages read cover `totalHits`, never on a short page.
            if u64::from(page_number) * u64::from(page_size) >= total {
                return Ok(());
            }
        }
        Err(ConnectorError::malformed(format!("{WHAT}: more than {MAX_PAGES} pages")))
    }

    fn query_chunk(&self) -> Duration {
        Duration::days(self.tuning.max_query_days)
    }
}

#[async_trait]
impl Connector for GenesysConnector {
    /// Every Genesys queue has media settings for calls, chats and emails, so its listing cannot tell which it
    /// carries: the chat and email queues are listed once they have had traffic; calls always (every queue stays
    /// visible and mappable before its first contact).
    fn listed_once_seen(&self, queue: &Queue) -> bool {
        queue.channel != Channel::Calls
    }

    /// A new token, then one cheap call per permission the import needs: queues, users, presence definitions,
    /// conversation aggregates and user details (the analytics queries match a nil id, so they read no data).
    async fn verify(&self, deadline: Deadline) -> Result<(), ConnectorError> {
        self.api.new_token(deadline).await?;
        let _: Listing<IgnoredAny> =
            self.api.get_json("/api/v2/routing/queues?pageSize=1&pageNumber=1", "queue listing", deadline).await?;
        let _: Listing<IgnoredAny> =
            self.api.get_json("/api/v2/users?pageSize=1&pageNumber=1&state=any", "user listing", deadline).await?;
        let _: Listing<IgnoredAny> =
            self.api.get_json("/api/v2/presence/definitions", "presence definitions", deadline).await?;
        let end = Utc::now().duration_trunc(Duration::minutes(15)).unwrap_or_else(|_| Utc::now());
        let window = TimeWindow { start: end - Duration::minutes(15), end };
        let raw = self
            .api
            .post_raw(AGGREGATES_PATH, &stats::aggregate_query(window, &[NIL_ID]), "conversation aggregates", deadline)
            .await?;
        let mut check = AggregateAccumulator::new(window, Some(&[]));
        check.add_response(&raw)?;
        let mut records = segments::Records::default();
        let query = UserDetailsQuery {
            interval: stats::interval_string(window),
            order: "asc",
            paging: Paging { page_size: 1, page_number: 1 },
            user_filters: [Filter { kind: "or", predicates: vec![Predicate::matches("userId", NIL_ID)] }],
        };
        let raw = self.api.post_raw(USER_DETAILS_PATH, &query, "user details", deadline).await?;
        let page: UserDetailsResponse = parse_json(&raw, "user details")?;
        records.add(page.user_details)?;
        Ok(())
    }

    async fn list_queues(&self, deadline: Deadline) -> Result<Vec<Queue>, ConnectorError> {
        let first = format!("/api/v2/routing/queues?pageSize={}&pageNumber=1", self.tuning.page_size);
        let entities: Vec<WireQueue> = self.all_pages(first, "queue listing", deadline).await?;
        queues_from_entities(entities)
    }

    async fn interval_stats(
        &self,
        queues: &[Queue],
        window: TimeWindow,
        deadline: Deadline,
    ) -> Result<Vec<IntervalStats>, ConnectorError> {
        let window = window.align_to_intervals();
        let wanted: Vec<String> = queues.iter().map(|q| q.external_id.clone()).collect();
        let queue_ids: Vec<&str> = queues
            .iter()
            .filter_map(|q| stats::split_external_queue_id(&q.external_id).map(|(id, _)| id))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if queue_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut acc = AggregateAccumulator::new(window, Some(&wanted));
        for chunk in window.split(self.query_chunk()) {
            for ids in queue_ids.chunks(self.tuning.max_predicates) {
                let query = stats::aggregate_query(chunk, ids);
                let raw = self.api.post_raw(AGGREGATES_PATH, &query, "conversation aggregates", deadline).await?;
                acc.add_response(&raw)?;
            }
        }
        if acc.skipped_groups() > 0 {
            tracing::debug!(skipped = acc.skipped_groups(), "aggregate groups without a wanted queue and channel");
        }
        Ok(acc.finish())
    }

    async fn list_agents(&self, deadline: Deadline) -> Result<Vec<ExternalAgent>, ConnectorError> {
        // A listing always reads fresh (agents come and go between runs of one warm connector), and refreshes the
        // process-wide cache.
        let directory = self.read_directory(&[], deadline).await?;
        Ok(directory
            .members
            .iter()
            .map(|m| ExternalAgent { external_id: m.external_id.clone(), display_name: m.name.clone() })
            .collect())
    }

    async fn list_statuses(&self, deadline: Deadline) -> Result<Vec<ExternalStatus>, ConnectorError> {
        if let Ok(mut d) = self.definitions.lock() {
            *d = None;
        }
        let defs = self.presence_definitions(deadline).await?;
        let mut statuses = segments::statuses(&defs, self.settings.detailed_on_queue_statuses);
        // Ids the records carry that no definition lists: named by their id (nothing else names them), so that
        // they are stored, shown and can be mapped — never an id the mapping routes cannot find.
        let listed: HashSet<String> = statuses.iter().map(|s| s.id.clone()).collect();
        let seen = self.seen_statuses.lock().unwrap_or_else(|p| p.into_inner());
        statuses.extend(
            seen.iter()
                .filter(|id| !listed.contains(*id))
                .map(|id| ExternalStatus { id: id.clone(), name: id.clone() }),
        );
        Ok(statuses)
    }

    async fn agent_segments(
        &self,
        agents: &[ExternalAgent],
        window: TimeWindow,
        deadline: Deadline,
    ) -> Result<Vec<AgentSegment>, ConnectorError> {
        // (Genesys user id, external id) of the agents asked for that still exist.
        let targets: Vec<(String, String)> = match self.settings.agent_id {
            GenesysAgentId::Id => agents.iter().map(|a| (a.external_id.clone(), a.external_id.clone())).collect(),
            GenesysAgentId::Username => {
                let directory = self.directory_for(agents, deadline).await?;
                let by_name: HashMap<&str, &str> =
                    directory.members.iter().map(|m| (m.external_id.as_str(), m.id.as_str())).collect();
                agents
                    .iter()
                    .filter_map(|a| {
                        by_name.get(a.external_id.as_str()).map(|id| ((*id).to_owned(), a.external_id.clone()))
                    })
                    .collect()
            }
        };
        let mut targets: Vec<(String, String)> =
            targets.into_iter().filter(|(id, _)| !id.trim().is_empty()).collect::<BTreeSet<_>>().into_iter().collect();
        targets.dedup_by(|a, b| a.0 == b.0);
        let asked: HashSet<&str> = targets.iter().map(|(_, external)| external.as_str()).collect();
        let not_read = agents.iter().filter(|a| !asked.contains(a.external_id.as_str())).map(|a| a.external_id.clone());
        *self.not_read.lock().unwrap_or_else(|p| p.into_inner()) = not_read.collect();
        if targets.is_empty() {
            return Ok(Vec::new());
        }
        let mut records = segments::Records::default();
        for chunk in window.split(self.query_chunk()) {
            for group in targets.chunks(self.tuning.max_predicates) {
                let ids: Vec<&str> = group.iter().map(|(id, _)| id.as_str()).collect();
                self.user_details(&ids, chunk, &mut records, deadline).await?;
            }
        }
        if records.needs_definitions() {
            let defs = self.presence_definitions(deadline).await?;
            records.resolve(&defs)?;
        }
        let detailed = self.settings.detailed_on_queue_statuses;
        // Sorted by (agent external id, start, status id): agent by agent, each one's records let go as its
        // segments are made (the records and the segments of a day are not both held whole, and no sort buffer as
        // large as the day is needed). The same order as one stable sort of all segments.
        targets.sort_by(|a, b| (&a.1, &a.0).cmp(&(&b.1, &b.0)));
        let mut out: Vec<AgentSegment> = Vec::new();
        for (id, external) in &targets {
            let mut segments = records.take_segments(id, external, window, detailed);
            segments.sort_by(|a, b| (a.start, &a.status_id).cmp(&(b.start, &b.status_id)));
            out.append(&mut segments);
        }
        let mut seen = self.seen_statuses.lock().unwrap_or_else(|p| p.into_inner());
        for s in &out {
            if !seen.contains(&*s.status_id) {
                seen.insert(s.status_id.to_string());
            }
        }
        Ok(out)
    }

    fn max_window(&self) -> chrono::Duration {
        Duration::days(1)
    }

    fn agents_not_read(&self) -> Vec<String> {
        self.not_read.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn calls_made(&self) -> u64 {
        self.api.calls.get()
    }
}
