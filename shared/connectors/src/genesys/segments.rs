//! External statuses and agent segments.
//!
//! Status-id scheme:
//! - every presence definition (system and custom, active and deactivated) is a status whose id is the definition
//!   id (the `organizationPresenceId` of analytics records), named by its `en_US` label;
//! - with "detailed on-queue statuses", every definition whose system presence is On Queue also yields
//!   `{definitionId}:IDLE`, `{definitionId}:INTERACTING`, `{definitionId}:COMMUNICATING` and
//!   `{definitionId}:NOT_RESPONDING` (named "On Queue – Idle" …). Time in an On Queue presence that no such routing
//!   status covers (e.g. `OFF_QUEUE` during the sub-second switch) keeps the plain definition id.
//!
//! Segment rules:
//! - segments are reported with their true bounds, never clipped to the window: every segment (or detailed piece)
//!   that overlaps `[start, end)` is returned, identically in every window it overlaps, so consecutive and
//!   overlapping windows (reconciliation) produce the same records and the import can upsert on (agent, start);
//! - a detailed piece is the intersection of an On Queue presence record with one routing-status record, so its
//!   bounds do not depend on the window either;
//! - an open record (no `endTime`, or `null`) gives `end = None`; an empty or blank `endTime` is malformed (a
//!   finished record is never stored as open);
//! - a presence record without `systemPresence` takes the system presence of the definition its
//!   `organizationPresenceId` names (the detailed option splits On Queue records by it); when no definition the
//!   connector reads names it, the record is malformed;
//! - records repeated across pages or query chunks (Genesys splits records spanning days) are de-duplicated.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use acd_domain::{AgentSegment, ExternalStatus, TimeWindow};
use chrono::{DateTime, Utc};

use super::wire::{UserDetail, WirePresenceDefinition};
use crate::ConnectorError;

/// The routing statuses that become statuses of their own under the detailed option, with their display names.
pub const DETAILED_ROUTING_STATUSES: [(&str, &str); 4] = [
    ("IDLE", "Idle"),
    ("INTERACTING", "Interacting"),
    ("COMMUNICATING", "Communicating"),
    ("NOT_RESPONDING", "Not Responding"),
];

/// System-presence spellings differ between endpoints (`OnQueue`, `On Queue`, `ON_QUEUE`): compare them
/// case-insensitively with spaces, underscores and hyphens removed.
pub fn normalize_presence(raw: &str) -> String {
    raw.chars().filter(|c| !matches!(c, ' ' | '_' | '-')).flat_map(char::to_lowercase).collect()
}

pub fn is_on_queue(system_presence: &str) -> bool {
    normalize_presence(system_presence) == "onqueue"
}

pub fn detailed_status_id(definition_id: &str, routing_status: &str) -> String {
    format!("{definition_id}:{routing_status}")
}

/// A presence definition as the connector keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Definition {
    pub id: String,
    pub label: String,
    pub system_presence: Option<String>,
    pub deactivated: bool,
}

impl Definition {
    /// `None` for an entity without id. Label: `en_US`, else `name`, else any label, else the system presence.
    pub fn from_wire(w: WirePresenceDefinition) -> Option<Self> {
        let id = w.id.filter(|id| !id.trim().is_empty())?;
        let labels = w.language_labels.unwrap_or_default();
        let label = labels
            .get("en_US")
            .or_else(|| labels.get("en"))
            .cloned()
            .or(w.name)
            .or_else(|| labels.values().next().cloned())
            .or_else(|| w.system_presence.clone())
            .filter(|l| !l.trim().is_empty())
            .unwrap_or_else(|| id.clone());
        Some(Self { id, label, system_presence: w.system_presence, deactivated: w.deactivated.unwrap_or(false) })
    }

    fn is_on_queue(&self) -> bool {
        self.system_presence.as_deref().is_some_and(is_on_queue)
    }
}

/// The external statuses of a set of definitions (see the module documentation for the id scheme).
pub fn statuses(definitions: &[Definition], detailed: bool) -> Vec<ExternalStatus> {
    let mut out = Vec::new();
    for d in definitions {
        out.push(ExternalStatus { id: d.id.clone(), name: d.label.clone() });
        if detailed && d.is_on_queue() {
            for (code, name) in DETAILED_ROUTING_STATUSES {
                out.push(ExternalStatus {
                    id: detailed_status_id(&d.id, code), name: format!("{} – {name}", d.label)
                });
            }
        }
    }
    out
}

/// The definition that stands for a system presence when a record carries no `organizationPresenceId`: the
/// active definition of that system presence whose label is the system presence itself, else the first active one.
pub fn definition_for_system_presence<'a>(definitions: &'a [Definition], system: &str) -> Option<&'a Definition> {
    let wanted = normalize_presence(system);
    let candidates: Vec<&Definition> = definitions
        .iter()
        .filter(|d| !d.deactivated && d.system_presence.as_deref().map(normalize_presence).as_deref() == Some(&wanted))
        .collect();
    candidates.iter().find(|d| normalize_presence(&d.label) == wanted).or(candidates.first()).copied()
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Presence {
    start: DateTime<Utc>,
    end: Option<DateTime<Utc>>,
    /// The organization presence id; `None` until resolved from the system presence.
    definition: Option<Arc<str>>,
    /// The system presence; empty until resolved from the definition.
    system: Arc<str>,
}

impl Presence {
    fn needs_definitions(&self) -> bool {
        self.definition.is_none() || self.system.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Routing {
    start: DateTime<Utc>,
    end: Option<DateTime<Utc>>,
    status: Arc<str>,
}

/// The records of one user, gathered over pages and chunks and de-duplicated.
#[derive(Debug, Default)]
pub struct UserRecords {
    presence: BTreeSet<Presence>,
    routing: BTreeSet<Routing>,
}

/// All users' records of one `agent_segments` call.
#[derive(Debug, Default)]
pub struct Records {
    users: HashMap<String, UserRecords>,
    /// One copy of each presence id, system presence and routing status: an organization has a few dozen, its
    /// records name them hundreds of thousands of times over a reconciliation window.
    names: HashSet<Arc<str>>,
}

fn intern(names: &mut HashSet<Arc<str>>, name: &str) -> Arc<str> {
    match names.get(name) {
        Some(known) => known.clone(),
        None => {
            let new: Arc<str> = name.into();
            names.insert(new.clone());
            new
        }
    }
}

/// A record's time: `None` when the key is missing or `null` (an open record has no `endTime`); any string must be
/// a time, an empty or blank one included.
fn time(raw: Option<&str>, what: &str) -> Result<Option<DateTime<Utc>>, ConnectorError> {
    match raw {
        None => Ok(None),
        Some(s) => DateTime::parse_from_rfc3339(s.trim())
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|_| ConnectorError::malformed(format!("user details: a {what} is not an ISO-8601 time"))),
    }
}

/// A record ending before it starts cannot be right (dropped, the user's stored state would be deleted with the
/// day's replacement); one ending as it starts is empty, and skipped.
fn ends_after_start(start: DateTime<Utc>, end: Option<DateTime<Utc>>) -> Result<(), ConnectorError> {
    match end {
        Some(end) if end < start => Err(ConnectorError::malformed(format!(
            "user details: a record ends at {end}, before its startTime {start}"
        ))),
        _ => Ok(()),
    }
}

impl Records {
    /// Adds one page of user details.
    pub fn add(&mut self, details: Vec<UserDetail<'_>>) -> Result<(), ConnectorError> {
        let names = &mut self.names;
        for d in details {
            let Some(user_id) = d.user_id.as_deref().filter(|u| !u.is_empty()) else {
                return Err(ConnectorError::malformed("user details: a row has no userId"));
            };
            // A user is a hit for records in the interval: a row without any lost them (read as "no states", the
            // user's stored day would be emptied). (A row of routing records only is taken, as before: a presence
            // spanning days may not come with every day's query, which the reference does not settle.)
            if d.primary_presence.is_empty() && d.routing_status.is_empty() {
                return Err(ConnectorError::malformed(format!(
                    "user details: the row of user {user_id} has no records"
                )));
            }
            let records = self.users.entry(user_id.to_owned()).or_default();
            for p in d.primary_presence {
                let start = time(p.start_time.as_deref(), "startTime")?
                    .ok_or_else(|| ConnectorError::malformed("user details: a presence record has no startTime"))?;
                let end = time(p.end_time.as_deref(), "endTime")?;
                ends_after_start(start, end)?;
                let definition = p.organization_presence_id.as_deref().filter(|id| !id.trim().is_empty());
                let system = p.system_presence.as_deref().map(str::trim).unwrap_or_default();
                if definition.is_none() && system.is_empty() {
                    return Err(ConnectorError::malformed("user details: a presence record names no presence"));
                }
                let definition = definition.map(|id| intern(names, id));
                records.presence.insert(Presence { start, end, definition, system: intern(names, system) });
            }
            for r in d.routing_status {
                let start = time(r.start_time.as_deref(), "startTime")?
                    .ok_or_else(|| ConnectorError::malformed("user details: a routing record has no startTime"))?;
                let end = time(r.end_time.as_deref(), "endTime")?;
                ends_after_start(start, end)?;
                let status =
                    r.routing_status.as_deref().map(str::trim).filter(|s| !s.is_empty()).ok_or_else(|| {
                        ConnectorError::malformed("user details: a routing record has no routingStatus")
                    })?;
                let status = if status.bytes().any(|b| b.is_ascii_lowercase()) {
                    intern(names, &status.to_ascii_uppercase())
                } else {
                    intern(names, status)
                };
                records.routing.insert(Routing { start, end, status });
            }
        }
        Ok(())
    }

    /// Whether some presence record lacks an organization presence id or a system presence (then definitions are
    /// needed).
    pub fn needs_definitions(&self) -> bool {
        self.users.values().flat_map(|u| &u.presence).any(Presence::needs_definitions)
    }

    /// Fills missing organization presence ids from the system presence, and missing system presences from the
    /// definition of the organization presence id. A record no definition resolves is malformed.
    pub fn resolve(&mut self, definitions: &[Definition]) -> Result<(), ConnectorError> {
        let names = &mut self.names;
        for user in self.users.values_mut() {
            if !user.presence.iter().any(Presence::needs_definitions) {
                continue;
            }
            let resolved = std::mem::take(&mut user.presence)
                .into_iter()
                .map(|mut p| {
                    if let Some(id) = p.definition.as_ref().filter(|_| p.system.is_empty()) {
                        let system = definitions
                            .iter()
                            .find(|d| d.id == **id)
                            .and_then(|d| d.system_presence.as_deref().map(str::trim).filter(|s| !s.is_empty()))
                            .ok_or_else(|| {
                                ConnectorError::malformed(
                                    "user details: a presence record has no systemPresence and no definition gives one",
                                )
                            })?;
                        p.system = intern(names, system);
                    }
                    if p.definition.is_none() {
                        let d = definition_for_system_presence(definitions, &p.system).ok_or_else(|| {
                            ConnectorError::malformed(
                                "user details: a presence record names an unknown system presence",
                            )
                        })?;
                        p.definition = Some(intern(names, &d.id));
                    }
                    Ok(p)
                })
                .collect::<Result<BTreeSet<_>, ConnectorError>>()?;
            user.presence = resolved;
        }
        Ok(())
    }

    /// The segments of one user that overlap `window`.
    pub fn segments(
        &self,
        user_id: &str,
        agent_external_id: &str,
        window: TimeWindow,
        detailed: bool,
    ) -> Vec<AgentSegment> {
        self.users.get(user_id).map_or_else(Vec::new, |user| user.segments(agent_external_id, window, detailed))
    }

    /// [`Records::segments`], letting the user's records go: taken user by user, the records of a day and its
    /// segments are never both held whole.
    pub fn take_segments(
        &mut self,
        user_id: &str,
        agent_external_id: &str,
        window: TimeWindow,
        detailed: bool,
    ) -> Vec<AgentSegment> {
        self.users.remove(user_id).map_or_else(Vec::new, |user| user.segments(agent_external_id, window, detailed))
    }
}

impl UserRecords {
    fn segments(&self, agent_external_id: &str, window: TimeWindow, detailed: bool) -> Vec<AgentSegment> {
        let routing: Vec<&Routing> = self.routing.iter().collect();
        let mut out = Vec::new();
        // One copy of the agent's id and of each status id, shared by its segments: presence ids are the records'
        // own shared copies, detailed ids (presence and routing status) are made once each.
        let agent: Arc<str> = agent_external_id.into();
        let mut detailed_ids = HashSet::new();
        let mut push = |start: DateTime<Utc>, end: Option<DateTime<Utc>>, status_id: Arc<str>| {
            let nonempty = end.is_none_or(|e| e > start);
            let overlaps = start < window.end && end.is_none_or(|e| e > window.start);
            if nonempty && overlaps {
                out.push(AgentSegment { agent_external_id: agent.clone(), status_id, reason: None, start, end });
            }
        };
        for p in &self.presence {
            let Some(definition) = &p.definition else { continue };
            if !(detailed && is_on_queue(&p.system)) {
                push(p.start, p.end, definition.clone());
                continue;
            }
            // Split the On Queue record by the routing records that overlap it.
            let mut cursor = Some(p.start);
            let first = routing.partition_point(|r| r.end.is_some_and(|e| e <= p.start));
            for r in &routing[first..] {
                let Some(at) = cursor else { break };
                if p.end.is_some_and(|e| r.start >= e) {
                    break;
                }
                if r.end.is_some_and(|e| e <= p.start) {
                    continue;
                }
                let start = r.start.max(p.start).max(at);
                let end = min_end(r.end, p.end);
                if end.is_some_and(|e| e <= start) {
                    continue;
                }
                if start > at {
                    push(at, Some(start), definition.clone());
                }
                match DETAILED_ROUTING_STATUSES.iter().find(|(code, _)| *code == &*r.status) {
                    Some((code, _)) => {
                        push(start, end, intern(&mut detailed_ids, &detailed_status_id(definition, code)));
                    }
                    None => push(start, end, definition.clone()),
                }
                cursor = end;
            }
            if let Some(at) = cursor
                && p.end.is_none_or(|e| e > at)
            {
                push(at, p.end, definition.clone());
            }
        }
        out
    }
}

fn min_end(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (Some(a), None) | (None, Some(a)) => Some(a),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::genesys::wire::UserDetailsResponse;
    use chrono::TimeZone;

    const ONQ: &str = "e08eaf1b-ee47-4fa9-a231-1200e284798f";
    const BRK: &str = "227b37e2-f1d0-4dd0-8f50-badd7cf6d158";

    fn t(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 5, 1, h, m, s).unwrap()
    }

    fn records(json: &str) -> Records {
        let resp: UserDetailsResponse = serde_json::from_str(json).unwrap();
        let mut r = Records::default();
        r.add(resp.user_details).unwrap();
        r
    }

    const DAY: &str = r#"{"userDetails":[{"userId":"u1",
      "primaryPresence":[
        {"startTime":"2024-05-01T08:00:00.000Z","endTime":"2024-05-01T10:00:00.000Z","systemPresence":"ON_QUEUE","organizationPresenceId":"e08eaf1b-ee47-4fa9-a231-1200e284798f"},
        {"startTime":"2024-05-01T10:00:00.000Z","endTime":"2024-05-01T10:15:00.000Z","systemPresence":"BREAK","organizationPresenceId":"227b37e2-f1d0-4dd0-8f50-badd7cf6d158"},
        {"startTime":"2024-05-01T10:15:00.000Z","systemPresence":"ON_QUEUE","organizationPresenceId":"e08eaf1b-ee47-4fa9-a231-1200e284798f"}],
      "routingStatus":[
        {"startTime":"2024-05-01T07:00:00.000Z","endTime":"2024-05-01T08:00:00.500Z","routingStatus":"OFF_QUEUE"},
        {"startTime":"2024-05-01T08:00:00.500Z","endTime":"2024-05-01T09:00:00.000Z","routingStatus":"IDLE"},
        {"startTime":"2024-05-01T09:00:00.000Z","endTime":"2024-05-01T10:00:00.200Z","routingStatus":"INTERACTING"},
        {"startTime":"2024-05-01T10:00:00.200Z","endTime":"2024-05-01T10:15:00.000Z","routingStatus":"OFF_QUEUE"},
        {"startTime":"2024-05-01T10:15:00.000Z","routingStatus":"NOT_RESPONDING"}]}],"totalHits":1}"#;

    #[test]
    fn plain_segments_keep_their_bounds_and_open_ends() {
        let r = records(DAY);
        let w = TimeWindow::new(t(9, 0, 0), t(12, 0, 0)).unwrap();
        let segs = r.segments("u1", "ann", w, false);
        let got: Vec<_> = segs.iter().map(|s| (&*s.status_id, s.start, s.end)).collect();
        assert_eq!(
            got,
            vec![
                (ONQ, t(8, 0, 0), Some(t(10, 0, 0))),
                (BRK, t(10, 0, 0), Some(t(10, 15, 0))),
                (ONQ, t(10, 15, 0), None)
            ]
        );
        assert!(segs.iter().all(|s| &*s.agent_external_id == "ann" && s.reason.is_none()));
        // A window after the break but before nothing: the open segment is still there; earlier ones are not.
        let w = TimeWindow::new(t(11, 0, 0), t(11, 15, 0)).unwrap();
        assert_eq!(r.segments("u1", "ann", w, false).len(), 1);
        assert!(r.segments("nobody", "x", w, false).is_empty());
    }

    #[test]
    fn taking_a_users_segments_gives_the_same_segments_once() {
        let mut r = records(DAY);
        let w = TimeWindow::new(t(0, 0, 0), t(23, 0, 0)).unwrap();
        for detailed in [false, true] {
            let expected = r.segments("u1", "ann", w, detailed);
            assert!(!expected.is_empty());
            let mut taken = records(DAY);
            assert_eq!(taken.take_segments("u1", "ann", w, detailed), expected);
            assert!(taken.take_segments("u1", "ann", w, detailed).is_empty(), "the records went with the first take");
        }
        assert!(r.take_segments("nobody", "x", w, false).is_empty());
        assert_eq!(r.take_segments("u1", "ann", w, false).len(), 3);
    }

    #[test]
    fn detailed_option_splits_on_queue_by_routing_status() {
        let r = records(DAY);
        let w = TimeWindow::new(t(0, 0, 0), t(23, 0, 0)).unwrap();
        let segs = r.segments("u1", "ann", w, true);
        let ms = |h, m, s, milli| t(h, m, s) + chrono::Duration::milliseconds(milli);
        let got: Vec<_> = segs.iter().map(|s| (s.status_id.to_string(), s.start, s.end)).collect();
        assert_eq!(
            got,
            vec![
                (ONQ.to_owned(), t(8, 0, 0), Some(ms(8, 0, 0, 500))),
                (format!("{ONQ}:IDLE"), ms(8, 0, 0, 500), Some(t(9, 0, 0))),
                (format!("{ONQ}:INTERACTING"), t(9, 0, 0), Some(t(10, 0, 0))),
                (BRK.to_owned(), t(10, 0, 0), Some(t(10, 15, 0))),
                (format!("{ONQ}:NOT_RESPONDING"), t(10, 15, 0), None),
            ]
        );
        // Pieces are filtered by the window, never clipped.
        let w = TimeWindow::new(t(9, 30, 0), t(9, 45, 0)).unwrap();
        let segs = r.segments("u1", "ann", w, true);
        assert_eq!(segs.len(), 1);
        assert_eq!((segs[0].start, segs[0].end), (t(9, 0, 0), Some(t(10, 0, 0))));
    }

    /// Strings with JSON escapes (read as owned copies, not borrowed from the page) and routing statuses in other
    /// case or padded (lower case, an escaped capital, upper case with a space) read as the plain ones.
    #[test]
    fn escaped_and_lower_case_strings_read_as_the_plain_ones() {
        let mut odd = DAY.to_owned();
        for (plain, other) in [
            (r#""userId":"u1""#, r#""userId":"u\u0031""#),
            ("e08eaf1b-ee47", r"\u0065\u00308eaf1b-ee47"),
            ("2024-05-01T09:00:00.000Z", r"2024-05-01T09:00:00.000\u005a"),
            (r#""IDLE""#, r#"" idle""#),
            (r#""INTERACTING""#, r#""\u0049nteracting ""#),
            (r#""NOT_RESPONDING""#, r#"" NOT_RESPONDING""#),
        ] {
            assert!(odd.contains(plain), "{plain}");
            odd = odd.replace(plain, other);
        }
        let w = TimeWindow::new(t(0, 0, 0), t(23, 0, 0)).unwrap();
        for detailed in [false, true] {
            assert_eq!(
                records(&odd).segments("u1", "ann", w, detailed),
                records(DAY).segments("u1", "ann", w, detailed)
            );
        }
        assert_eq!(records(&odd).segments("u1", "ann", w, true).len(), 5);
    }

    #[test]
    fn duplicates_across_pages_collapse_and_missing_ids_resolve_from_system_presence() {
        let mut r = records(DAY);
        let again: UserDetailsResponse = serde_json::from_str(DAY).unwrap();
        r.add(again.user_details).unwrap();
        let w = TimeWindow::new(t(0, 0, 0), t(23, 0, 0)).unwrap();
        assert_eq!(r.segments("u1", "ann", w, false).len(), 3);

        let json = r#"{"userDetails":[{"userId":"u2","primaryPresence":[{"startTime":"2024-05-01T08:00:00Z","endTime":"2024-05-01T09:00:00Z","systemPresence":"BREAK"}]}]}"#;
        let mut r = records(json);
        assert!(r.needs_definitions());
        let defs = vec![
            Definition {
                id: "custom".into(),
                label: "Coffee".into(),
                system_presence: Some("Break".into()),
                deactivated: false,
            },
            Definition {
                id: BRK.into(),
                label: "Break".into(),
                system_presence: Some("Break".into()),
                deactivated: false,
            },
        ];
        r.resolve(&defs).unwrap();
        assert_eq!(&*r.segments("u2", "bob", w, false)[0].status_id, BRK);
        let mut r = records(json);
        assert!(matches!(r.resolve(&[]), Err(ConnectorError::Malformed { .. })));
    }

    #[test]
    fn bad_records_are_malformed() {
        for json in [
            r#"{"userDetails":[{"primaryPresence":[]}]}"#,
            r#"{"userDetails":[{"userId":"u","primaryPresence":[{"endTime":"2024-05-01T08:00:00Z","systemPresence":"BREAK"}]}]}"#,
            r#"{"userDetails":[{"userId":"u","primaryPresence":[{"startTime":"noon","systemPresence":"BREAK"}]}]}"#,
            r#"{"userDetails":[{"userId":"u","primaryPresence":[{"startTime":"2024-05-01T08:00:00Z"}]}]}"#,
        ] {
            let resp: UserDetailsResponse = serde_json::from_str(json).unwrap();
            assert!(
                matches!(Records::default().add(resp.user_details), Err(ConnectorError::Malformed { .. })),
                "{json}"
            );
        }
    }

    /// An open record has no `endTime` (or `null`); an empty or blank one is no time, never an open record.
    #[test]
    fn a_blank_end_time_is_malformed_never_an_open_record() {
        let presence = |end: &str| {
            format!(
                r#"{{"userDetails":[{{"userId":"u","primaryPresence":[{{"startTime":"2024-05-01T08:00:00Z",{end}"systemPresence":"BREAK","organizationPresenceId":"{BRK}"}}]}}]}}"#
            )
        };
        let routing = |end: &str| {
            format!(
                r#"{{"userDetails":[{{"userId":"u","primaryPresence":[{{"startTime":"2024-05-01T08:00:00Z","systemPresence":"BREAK","organizationPresenceId":"{BRK}"}}],"routingStatus":[{{"startTime":"2024-05-01T08:00:00Z",{end}"routingStatus":"IDLE"}}]}}]}}"#
            )
        };
        let add = |json: String| {
            let resp: UserDetailsResponse = serde_json::from_str(&json).unwrap();
            let mut r = Records::default();
            r.add(resp.user_details).map(|()| r)
        };
        for end in [r#""endTime":"","#, r#""endTime":"  ","#] {
            for json in [presence(end), routing(end)] {
                assert!(matches!(add(json.clone()), Err(ConnectorError::Malformed { .. })), "{json}");
            }
        }
        let w = TimeWindow::new(t(0, 0, 0), t(23, 0, 0)).unwrap();
        for end in ["", r#""endTime":null,"#] {
            let segs = add(presence(end)).unwrap().segments("u", "ann", w, false);
            assert_eq!(segs.iter().map(|s| (s.start, s.end)).collect::<Vec<_>>(), vec![(t(8, 0, 0), None)]);
            add(routing(end)).unwrap();
        }
    }

    /// A presence record without `systemPresence` takes it from the definition of its id: the detailed option splits
    /// its On Queue time as if the record had it. No definition giving one: malformed.
    #[test]
    fn a_presence_without_system_presence_takes_it_from_its_definition() {
        let definition = |id: &str, label: &str, system: Option<&str>| Definition {
            id: id.into(),
            label: label.into(),
            system_presence: system.map(Into::into),
            deactivated: false,
        };
        let defs = vec![definition(ONQ, "On Queue", Some("OnQueue")), definition(BRK, "Break", Some("Break"))];
        let w = TimeWindow::new(t(0, 0, 0), t(23, 0, 0)).unwrap();
        let complete = records(DAY);
        assert!(!complete.needs_definitions());
        for missing in ["", r#""systemPresence":" ","#] {
            let json = DAY.replace(r#""systemPresence":"ON_QUEUE","#, missing);
            assert_ne!(json, DAY);
            let mut r = records(&json);
            assert!(r.needs_definitions());
            r.resolve(&defs).unwrap();
            assert!(!r.needs_definitions());
            for detailed in [false, true] {
                assert_eq!(r.segments("u1", "ann", w, detailed), complete.segments("u1", "ann", w, detailed));
            }
            assert_eq!(r.segments("u1", "ann", w, true).len(), 5);
            for unresolved in [vec![defs[1].clone()], vec![definition(ONQ, "On Queue", None), defs[1].clone()]] {
                let result = records(&json).resolve(&unresolved);
                assert!(matches!(result, Err(ConnectorError::Malformed { .. })), "{unresolved:?}: {result:?}");
            }
        }
    }

    #[test]
    fn statuses_follow_the_id_scheme() {
        let defs = vec![
            Definition {
                id: ONQ.into(),
                label: "On Queue".into(),
                system_presence: Some("OnQueue".into()),
                deactivated: false,
            },
            Definition {
                id: BRK.into(),
                label: "Break".into(),
                system_presence: Some("Break".into()),
                deactivated: false,
            },
        ];
        assert_eq!(statuses(&defs, false).len(), 2);
        let detailed = statuses(&defs, true);
        assert_eq!(detailed.len(), 6);
        assert_eq!(detailed[1].id, format!("{ONQ}:IDLE"));
        assert_eq!(detailed[4].name, "On Queue – Not Responding");
        assert!(
            is_on_queue("On Queue") && is_on_queue("ON_QUEUE") && is_on_queue("onqueue") && !is_on_queue("Offline")
        );
    }

    #[test]
    fn definitions_are_labelled_in_english_first() {
        let w: WirePresenceDefinition = serde_json::from_str(
            r#"{"id":"x","name":"Coaching","languageLabels":{"de":"Schulung","en_US":"Coaching session"},"systemPresence":"Busy","type":"User"}"#,
        )
        .unwrap();
        assert_eq!(Definition::from_wire(w).unwrap().label, "Coaching session");
        let w: WirePresenceDefinition = serde_json::from_str(r#"{"id":"x","languageLabels":{"de":"Pause"}}"#).unwrap();
        assert_eq!(Definition::from_wire(w).unwrap().label, "Pause");
        let w: WirePresenceDefinition = serde_json::from_str(r#"{"name":"no id"}"#).unwrap();
        assert!(Definition::from_wire(w).is_none());
    }
}
