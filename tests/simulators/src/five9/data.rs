//! Deterministic Five9 data: a pure function of (seed, entity, time), generated lazily so large sizes stay cheap.
//!
//! - Calls: per inbound campaign and 15-minute UTC interval, a count shaped by the local hour (daily pattern with a
//!   morning and an afternoon peak; campaign 0 runs 24/7, the others 07:00–20:00 local) and the weekday, then one
//!   record per call (arrival second, outcome, durations). About 5 % of calls arrive exactly on a quarter hour to
//!   exercise window boundaries. One outbound campaign adds `Outbound` rows the importer must ignore.
//! - Agent days: per agent and local date, a shift (most agents from 06:00–13:00 local, every 7th agent a night
//!   shift from 22:00 that crosses midnight and DST changes) with Login, Ready, On Call, After Call Work, Not
//!   Ready breaks with reason codes (Break, Lunch, Meeting, Training) and Logout (reason End Shift).
//!
//! The truth (expected connector output) is computed here from these records directly — no CSV, no wall times.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use acd_connectors::five9::Five9Grouping;
use acd_domain::acd::floor_to_interval;
use acd_domain::{AgentSegment, Channel, ExternalAgent, ExternalStatus, IntervalStats, Queue, TimeWindow};
use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveTime, TimeZone, Timelike, Utc, Weekday};
use chrono_tz::Tz;

/// The base agent states (without reason codes), as Five9 writes them in Agent State Details.
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

const CAMPAIGN_NAMES: [&str; 8] = [
    "Sales & Support",
    "Billing, \"Premium\"",
    "Réclamations",
    "Tech <Tier 2>",
    "O'Neil Care",
    "Überweisungen",
    "Retención, Móvil",
    "VIP \"Gold\" & Co",
];
const OUTBOUND_CAMPAIGN: &str = "Outbound – Renewals";
const SKILL_NAMES: [&str; 8] = [
    "Sales",
    "Billing & Payments",
    "Support, Tier 1",
    "Support \"VIP\"",
    "Español",
    "Français <FR>",
    "Tech & Devices",
    "Überweisung",
];
const FIRST_NAMES: [&str; 10] =
    ["José", "Zoë", "Renée", "Björn", "Ana María", "John", "Siobhán", "Łukasz", "Mei", "Chloé"];
const LAST_NAMES: [&str; 10] =
    ["Müller", "O'Brien", "Dupont", "García, Jr.", "Smith", "Nuñez", "\"Ace\" Jones", "Kowalski", "Lee", "Ångström"];
const DISPOSITIONS: [&str; 4] = ["Resolved", "Sold", "Callback Requested", "Transferred To 3rd Party"];

/// Inclusive of both the 64-bit mixing of splitmix64 and a simple sequence generator.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn hash(parts: &[u64]) -> u64 {
    parts.iter().fold(0xA5A5_5A5A_1234_5678, |acc, p| mix(acc ^ p))
}

struct Rng(u64);

impl Rng {
    fn new(parts: &[u64]) -> Self {
        Self(hash(parts))
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Uniform in [lo, hi].
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % ((hi - lo + 1) as u64)) as i64
    }
}

fn name_at(list: &[&str], i: usize) -> String {
    if i < list.len() { list[i].to_owned() } else { format!("{} {}", list[i % list.len()], i / list.len() + 1) }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Campaign {
    pub name: String,
    pub inbound: bool,
    pub deleted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skill {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub deleted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    pub user_name: String,
    pub first_name: String,
    pub last_name: String,
    pub id: i64,
}

impl Agent {
    pub fn full_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
    }
}

/// One generated call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub id: u64,
    pub at: DateTime<Utc>,
    pub campaign: usize,
    pub skill: Option<usize>,
    pub inbound: bool,
    pub agent: Option<usize>,
    pub abandoned: bool,
    pub ivr_secs: u64,
    pub queue_wait_secs: u64,
    pub ring_secs: u64,
    /// Includes hold (as Five9's TALK TIME does).
    pub talk_secs: u64,
    pub hold_secs: u64,
    pub acw_secs: u64,
    pub disposition: &'static str,
    pub ani: String,
    pub dnis: String,
}

impl Call {
    pub fn handled(&self) -> bool {
        !self.abandoned && self.agent.is_some() && self.talk_secs > 0
    }
}

/// One true agent state stretch (seconds precision). `Logout` is a point: `end == start`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stretch {
    pub agent: usize,
    pub state: &'static str,
    pub reason: Option<&'static str>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Five9 writes this On Call row starting at the preceding short Ready's start (the overlap of five9.md).
    pub overlaps_previous: bool,
}

/// Size and shape of the generated world.
#[derive(Debug, Clone)]
pub struct Shape {
    pub seed: u64,
    pub campaigns: usize,
    pub skills: usize,
    pub agents: usize,
    /// Mean calls per inbound campaign per 15 minutes at the daily peak.
    pub calls_per_interval: f64,
    pub time_zone: Tz,
}

/// The world: entities (mutable by tests) plus lazily generated activity.
#[derive(Debug, Clone)]
pub struct World {
    pub shape: Shape,
    pub campaigns: Vec<Campaign>,
    pub skills: Vec<Skill>,
    pub agents: Vec<Agent>,
    /// Corrections: extra (positive) or removed (negative) inbound calls of (campaign, interval start).
    pub adjustments: HashMap<(usize, DateTime<Utc>), i64>,
    /// Data exists only from here on.
    pub history_start: DateTime<Utc>,
}

impl World {
    pub fn new(shape: Shape, history_start: DateTime<Utc>) -> Self {
        let mut campaigns: Vec<Campaign> = (0..shape.campaigns)
            .map(|i| Campaign { name: name_at(&CAMPAIGN_NAMES, i), inbound: true, deleted: false })
            .collect();
        campaigns.push(Campaign { name: OUTBOUND_CAMPAIGN.into(), inbound: false, deleted: false });
        let skills = (0..shape.skills.max(1))
            .map(|i| Skill {
                id: 300_000_000_000 + 17 * i as i64 + (hash(&[shape.seed, 7, i as u64]) % 7) as i64,
                name: name_at(&SKILL_NAMES, i),
                description: format!("Skill #{i} – “{}”", name_at(&SKILL_NAMES, i)),
                deleted: false,
            })
            .collect();
        let agents = (0..shape.agents)
            .map(|i| {
                let first = FIRST_NAMES[i % FIRST_NAMES.len()].to_owned();
                let last = LAST_NAMES[(i / FIRST_NAMES.len() + i) % LAST_NAMES.len()].to_owned();
                Agent {
                    user_name: format!("agent{i:03}@acme-corp.example"),
                    first_name: first,
                    last_name: last,
                    id: 1_000 + i as i64,
                }
            })
            .collect();
        Self { shape, campaigns, skills, agents, adjustments: HashMap::new(), history_start }
    }

    pub fn tz(&self) -> Tz {
        self.shape.time_zone
    }

    // ---- calls ----

    fn interval_mean(&self, campaign: usize, start: DateTime<Utc>) -> f64 {
        let local = start.with_timezone(&self.tz());
        let h = local.hour() as f64 + local.minute() as f64 / 60.0;
        let bell = |c: f64, w: f64| (-((h - c) / w).powi(2)).exp();
        let day = bell(10.5, 2.2) + 0.8 * bell(15.0, 2.5);
        let shape = if campaign == 0 {
            0.35 + day
        } else if (7.0..20.0).contains(&h) {
            0.05 + day
        } else {
            0.0
        };
        let week = match local.weekday() {
            Weekday::Mon => 1.15,
            Weekday::Sat => 0.4,
            Weekday::Sun => 0.25,
            _ => 1.0,
        };
        let weight = 1.0 / (1.0 + 0.35 * campaign as f64);
        self.shape.calls_per_interval * shape * week * weight
    }

    /// Calls of one campaign arriving in the 15-minute interval starting at `start` (sorted by arrival).
    pub fn calls_in(&self, campaign: usize, start: DateTime<Utc>) -> Vec<Call> {
        if start < floor_to_interval(self.history_start) {
            return Vec::new();
        }
        let seed = self.shape.seed;
        let ts = start.timestamp() as u64;
        let c = &self.campaigns[campaign];
        let mut rng = Rng::new(&[seed, 1, campaign as u64, ts]);
        let mean = if c.inbound {
            self.interval_mean(campaign, start)
        } else {
            // Outbound dialling during business hours only.
            0.3 * self.interval_mean(1, start)
        };
        let mut n = (mean * (0.7 + 0.6 * rng.unit())).round() as i64;
        if c.inbound {
            n += self.adjustments.get(&(campaign, start)).copied().unwrap_or(0);
        }
        let n = n.max(0) as u64;
        let mut calls: Vec<Call> = (0..n).map(|k| self.call(campaign, start, k)).collect();
        calls.retain(|call| call.at >= self.history_start);
        calls.sort_by_key(|c| (c.at, c.id));
        calls
    }

    fn call(&self, campaign: usize, start: DateTime<Utc>, k: u64) -> Call {
        let seed = self.shape.seed;
        let mut r = Rng::new(&[seed, 2, campaign as u64, start.timestamp() as u64, k]);
        let offset = if r.unit() < 0.05 { 0 } else { r.range(0, 899) };
        let at = start + Duration::seconds(offset);
        let inbound = self.campaigns[campaign].inbound;
        let outcome = r.unit();
        let (abandoned, ivr_only) =
            if inbound { (outcome < 0.10, (0.10..0.14).contains(&outcome)) } else { (false, false) };
        let agents = self.agents.len().max(1);
        let agent = if abandoned || ivr_only || self.agents.is_empty() {
            None
        } else {
            Some(r.range(0, agents as i64 - 1) as usize)
        };
        let skill = if ivr_only || !inbound {
            None
        } else {
            Some(((campaign as u64 + r.next()) % self.skills.len() as u64) as usize)
        };
        let ivr_secs = if inbound { r.range(5, 60) as u64 } else { 0 };
        let queue_wait_secs = if abandoned {
            r.range(3, 400) as u64
        } else if agent.is_some() && inbound {
            (r.unit().powi(2) * 300.0) as u64
        } else {
            0
        };
        let ring_secs = if agent.is_some() { r.range(2, 15) as u64 } else { 0 };
        let hold_secs = if agent.is_some() && r.unit() < 0.3 { r.range(10, 180) as u64 } else { 0 };
        let talk_secs = if agent.is_some() {
            let base = if r.unit() < 0.3 { r.range(20, 120) } else { r.range(121, 1200) };
            base as u64 + hold_secs
        } else {
            0
        };
        let acw_secs = if agent.is_some() && r.unit() < 0.9 { r.range(5, 180) as u64 } else { 0 };
        let disposition = if abandoned {
            "Abandon"
        } else if ivr_only {
            "Hang Up In IVR"
        } else {
            DISPOSITIONS[r.range(0, 3) as usize]
        };
        let id = 100_000_000 + (hash(&[seed, 3, campaign as u64, start.timestamp() as u64, k]) % 899_999_999);
        Call {
            id,
            at,
            campaign,
            skill,
            inbound,
            agent,
            abandoned,
            ivr_secs,
            queue_wait_secs,
            ring_secs,
            talk_secs,
            hold_secs,
            acw_secs,
            disposition,
            ani: format!("1{:010}", r.next() % 10_000_000_000),
            dnis: format!("1800555{:04}", campaign * 10 % 10_000),
        }
    }

    /// Every call (all campaigns, inbound and outbound) arriving in `[start, end]` (end inclusive) and before `now`,
    /// sorted by arrival.
    pub fn calls_between(&self, start: DateTime<Utc>, end: DateTime<Utc>, now: DateTime<Utc>) -> Vec<Call> {
        let mut out = Vec::new();
        let mut t = floor_to_interval(start);
        while t <= end {
            for c in 0..self.campaigns.len() {
                out.extend(
                    self.calls_in(c, t).into_iter().filter(|call| call.at >= start && call.at <= end && call.at < now),
                );
            }
            t += Duration::minutes(15);
        }
        out.sort_by_key(|c| (c.at, c.id));
        out
    }

    // ---- agents ----

    /// The true state stretches of an agent's shift that starts on local `date` (empty on days off).
    pub fn agent_day(&self, agent: usize, date: NaiveDate) -> Vec<Stretch> {
        let seed = self.shape.seed;
        let mut r = Rng::new(&[seed, 4, agent as u64, date.num_days_from_ce() as u64]);
        let weekend = matches!(date.weekday(), Weekday::Sat | Weekday::Sun);
        if r.unit() > if weekend { 0.35 } else { 0.9 } {
            return Vec::new();
        }
        let night = agent % 7 == 6;
        let start_minute =
            if night { 22 * 60 + r.range(0, 20) } else { 6 * 60 + (agent as i64 % 8) * 60 + r.range(0, 15) };
        let local = date.and_time(NaiveTime::MIN) + Duration::minutes(start_minute) + Duration::seconds(r.range(0, 59));
        let start = match self.tz().from_local_datetime(&local) {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
            LocalResult::None => self.tz().from_utc_datetime(&(local - Duration::hours(1))).with_timezone(&Utc),
        };
        let shift = Duration::minutes(8 * 60 + r.range(-30, 30));
        let end = start + shift;
        let mut out = Vec::new();
        let push = |out: &mut Vec<Stretch>, state, reason, s: DateTime<Utc>, secs: i64, overlaps_previous: bool| {
            out.push(Stretch { agent, state, reason, start: s, end: s + Duration::seconds(secs), overlaps_previous });
            s + Duration::seconds(secs)
        };
        let mut t = push(&mut out, "Login", None, start, r.range(5, 40), false);
        let extra = match r.range(0, 3) {
            0 => Some(("Meeting", 20 * 60, 30 * 60)),
            1 => Some(("Training", 30 * 60, 55 * 60)),
            _ => None,
        };
        let mut breaks: Vec<(Duration, &'static str, i64, i64)> = vec![
            (Duration::minutes(120), "Break", 10 * 60, 15 * 60),
            (Duration::minutes(240), "Lunch", 30 * 60, 45 * 60),
            (Duration::minutes(370), "Break", 10 * 60, 15 * 60),
        ];
        if let Some((reason, lo, hi)) = extra {
            breaks.push((Duration::minutes(180), reason, lo, hi));
            breaks.sort_by_key(|b| b.0);
        }
        let mut next_break = 0;
        while t < end {
            if next_break < breaks.len() && t - start >= breaks[next_break].0 {
                let (_, reason, lo, hi) = breaks[next_break];
                t = push(&mut out, "Not Ready", Some(reason), t, r.range(lo, hi), false);
                next_break += 1;
                continue;
            }
            let ready = if r.unit() < 0.25 { r.range(1, 10) } else { r.range(11, 480) };
            t = push(&mut out, "Ready", None, t, ready, false);
            if t >= end {
                break;
            }
            let talk = if r.unit() < 0.3 { r.range(30, 120) } else { r.range(121, 900) };
            t = push(&mut out, "On Call", None, t, talk, ready <= 10);
            if r.unit() < 0.9 {
                t = push(&mut out, "After Call Work", None, t, r.range(10, 180), false);
            }
        }
        push(&mut out, "Logout", Some("End Shift"), t, 0, false);
        out
    }

    /// Every stretch (all agents) starting in `[from, to]`, plus the shifts they belong to, sorted by agent then time.
    pub fn stretches_starting(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Stretch> {
        let tz = self.tz();
        let first = (from - Duration::days(1)).with_timezone(&tz).date_naive();
        let last = to.with_timezone(&tz).date_naive();
        let mut out = Vec::new();
        for a in 0..self.agents.len() {
            let mut d = first;
            while d <= last {
                out.extend(
                    self.agent_day(a, d)
                        .into_iter()
                        .filter(|s| s.start >= from && s.start <= to && s.start >= self.history_start),
                );
                d = d.succ_opt().unwrap_or(d);
                if d == NaiveDate::MAX {
                    break;
                }
            }
        }
        out.sort_by_key(|s| (s.agent, s.start, s.end));
        out
    }

    // ---- truth ----

    /// Expected `interval_stats` for a window: inbound calls arriving in `[start, end)` before `now`, by queue
    /// external id (campaign name or skill id) and UTC interval. Skill grouping leaves out deleted skills and calls
    /// without a skill. Zero intervals are omitted. Sorted by (queue, interval).
    pub fn truth_intervals(
        &self,
        window: TimeWindow,
        grouping: Five9Grouping,
        now: DateTime<Utc>,
    ) -> Vec<IntervalStats> {
        let mut acc: BTreeMap<(String, DateTime<Utc>), IntervalStats> = BTreeMap::new();
        let mut t = floor_to_interval(window.start);
        while t < window.end {
            for c in 0..self.campaigns.len() {
                if !self.campaigns[c].inbound {
                    continue;
                }
                for call in self.calls_in(c, t) {
                    if !(window.start <= call.at && call.at < window.end && call.at < now) {
                        continue;
                    }
                    let key = match grouping {
                        Five9Grouping::Campaign => self.campaigns[c].name.clone(),
                        Five9Grouping::Skill => match call.skill.map(|s| &self.skills[s]) {
                            Some(s) if !s.deleted => s.id.to_string(),
                            _ => continue,
                        },
                    };
                    let e = acc.entry((key.clone(), floor_to_interval(call.at))).or_insert_with(|| IntervalStats {
                        queue_external_id: key,
                        interval_start: floor_to_interval(call.at),
                        offered: 0,
                        handled: 0,
                        abandoned: 0,
                        handle_time_ms: 0,
                        answer_time_ms: 0,
                        answered_within_sl: None,
                    });
                    e.offered += 1;
                    if call.abandoned {
                        e.abandoned += 1;
                    }
                    if call.handled() {
                        e.handled += 1;
                        e.handle_time_ms += (call.talk_secs + call.acw_secs) * 1000;
                        e.answer_time_ms += call.queue_wait_secs * 1000;
                    }
                }
            }
            t += Duration::minutes(15);
        }
        acc.into_values().collect()
    }

    /// Expected `agent_segments`: true stretches overlapping the window (a Logout point inside it), started by
    /// `now`; a stretch still running at `now` is open. Sorted by (agent, start).
    pub fn truth_segments(&self, window: TimeWindow, now: DateTime<Utc>) -> Vec<AgentSegment> {
        let mut out: Vec<AgentSegment> = self
            .stretches_starting(window.start - Duration::days(1), window.end)
            .into_iter()
            .filter(|s| s.start <= now)
            .filter(|s| {
                if s.start == s.end { window.contains(s.start) } else { s.start < window.end && s.end > window.start }
            })
            .map(|s| AgentSegment {
                agent_external_id: self.agents[s.agent].user_name.as_str().into(),
                status_id: match s.reason {
                    Some(r) => format!("{}: {r}", s.state).into(),
                    None => s.state.into(),
                },
                reason: s.reason.map(Into::into),
                start: s.start,
                end: if s.end > now { None } else { Some(s.end) },
            })
            .collect();
        out.sort_by(|a, b| (&a.agent_external_id, a.start).cmp(&(&b.agent_external_id, b.start)));
        out
    }

    pub fn truth_queues(&self, grouping: Five9Grouping) -> Vec<Queue> {
        let mut out: Vec<Queue> = match grouping {
            Five9Grouping::Campaign => self
                .campaigns
                .iter()
                .filter(|c| c.inbound && !c.deleted)
                .map(|c| Queue { external_id: c.name.clone(), name: c.name.clone(), channel: Channel::Calls })
                .collect(),
            Five9Grouping::Skill => self
                .skills
                .iter()
                .filter(|s| !s.deleted)
                .map(|s| Queue { external_id: s.id.to_string(), name: s.name.clone(), channel: Channel::Calls })
                .collect(),
        };
        out.sort_by(|a, b| a.external_id.cmp(&b.external_id));
        out
    }

    pub fn truth_agents(&self) -> Vec<ExternalAgent> {
        let mut out: Vec<ExternalAgent> = self
            .agents
            .iter()
            .map(|a| ExternalAgent { external_id: a.user_name.clone(), display_name: Some(a.full_name()) })
            .collect();
        out.sort_by(|a, b| a.external_id.cmp(&b.external_id));
        out
    }

    /// Base states plus `state: reason` of the stretches starting in `[window.start, window.end)` before `now`.
    pub fn truth_statuses(&self, window: TimeWindow, now: DateTime<Utc>) -> Vec<ExternalStatus> {
        let mut ids: BTreeSet<String> = BASE_STATES.iter().map(|s| s.to_string()).collect();
        for s in self.stretches_starting(window.start, window.end) {
            if s.start < window.end && s.start <= now {
                ids.insert(match s.reason {
                    Some(r) => format!("{}: {r}", s.state),
                    None => s.state.to_owned(),
                });
            }
        }
        ids.into_iter().map(|id| ExternalStatus { name: id.clone(), id }).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn world() -> World {
        let shape = Shape {
            seed: 42,
            campaigns: 3,
            skills: 4,
            agents: 8,
            calls_per_interval: 10.0,
            time_zone: chrono_tz::America::Los_Angeles,
        };
        World::new(shape, "2024-01-01T00:00:00Z".parse().unwrap())
    }

    #[test]
    fn generation_is_deterministic_and_shaped() {
        let w = world();
        let noon: DateTime<Utc> = "2024-11-05T19:00:00Z".parse().unwrap(); // 11:00 PST, Tuesday
        let night: DateTime<Utc> = "2024-11-05T11:00:00Z".parse().unwrap(); // 03:00 PST
        assert_eq!(w.calls_in(0, noon), w.calls_in(0, noon));
        assert!(w.calls_in(0, noon).len() > w.calls_in(0, night).len());
        assert!(w.calls_in(1, night).is_empty(), "business-hours campaign is closed at night");
        for c in w.calls_in(0, noon) {
            assert!(c.at >= noon && c.at < noon + Duration::minutes(15));
            assert!(c.talk_secs >= c.hold_secs);
        }
    }

    #[test]
    fn agent_days_are_contiguous_and_end_with_logout() {
        let w = world();
        let d = NaiveDate::from_ymd_opt(2024, 11, 5).unwrap();
        let mut worked = 0;
        for a in 0..8 {
            let day = w.agent_day(a, d);
            if day.is_empty() {
                continue;
            }
            worked += 1;
            assert_eq!(day[0].state, "Login");
            assert_eq!(day.last().unwrap().state, "Logout");
            assert!(day.windows(2).all(|p| p[0].end == p[1].start));
            assert!(day.iter().any(|s| s.reason == Some("Lunch")));
        }
        assert!(worked > 0);
    }
}
