//! The simulated Genesys Cloud org: a pure function of (seed, sizes, entity, time). Nothing is stored: queues and
//! users are derived from their index, contacts from (queue, media type, 15-minute interval), agent shifts from
//! (user, day). Large sizes therefore cost nothing until asked for.
//!
//! Times are Unix milliseconds (`i64`) inside this module.

use serde::{Deserialize, Serialize};

pub const MINUTE: i64 = 60_000;
pub const HOUR: i64 = 60 * MINUTE;
pub const DAY: i64 = 24 * HOUR;
pub const INTERVAL: i64 = 15 * MINUTE;
/// Longest time from a contact's arrival to the end of its handling (wait cap + longest handle + ACW) rounded up
/// to intervals: metrics of an interval depend on contacts that arrived at most this many intervals earlier.
const LOOKBACK_INTERVALS: i64 = 12;

// ---- deterministic randomness ----------------------------------------------------------------------------------

pub fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

pub fn hash(parts: &[u64]) -> u64 {
    parts.iter().fold(0x005E_ED0F_6E4E_5E55, |acc, p| mix(acc ^ mix(*p)))
}

/// SplitMix64: small, fast, and good enough for shaping test data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }
    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Uniform in `[lo, hi)` (`lo` when the range is empty).
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo { lo } else { lo + (self.next_u64() % (hi - lo) as u64) as i64 }
    }
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    pub fn exp(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.unit()).ln()
    }
    pub fn poisson(&mut self, lambda: f64) -> u64 {
        if lambda <= 0.0 {
            return 0;
        }
        if lambda < 40.0 {
            let l = (-lambda).exp();
            let (mut k, mut p) = (0u64, 1.0);
            loop {
                p *= self.unit();
                if p <= l {
                    return k;
                }
                k += 1;
            }
        }
        // Normal approximation for large rates.
        let (u1, u2) = (1.0 - self.unit(), self.unit());
        let g = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
        (lambda + lambda.sqrt() * g).round().max(0.0) as u64
    }
}

/// A v4-shaped UUID from a hash (deterministic ids).
pub fn uuid_from(h: u64) -> String {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&mix(h).to_le_bytes());
    bytes[8..].copy_from_slice(&mix(h ^ 0xA5A5_A5A5).to_le_bytes());
    uuid::Builder::from_random_bytes(bytes).into_uuid().to_string()
}

const T_QUEUE: u64 = 1;
const T_USER: u64 = 2;
const T_CONTACTS: u64 = 3;
const T_SHIFT: u64 = 4;
const T_ROUTING: u64 = 5;
const T_PRESENCE: u64 = 6;
const T_CLIENT: u64 = 7;

// ---- media types ---------------------------------------------------------------------------------------------

/// Analytics `mediaType`s the simulator produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaType {
    Voice,
    Callback,
    Chat,
    Message,
    Email,
}

impl MediaType {
    pub const ALL: [MediaType; 5] = [Self::Voice, Self::Callback, Self::Chat, Self::Message, Self::Email];
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Voice => "voice",
            Self::Callback => "callback",
            Self::Chat => "chat",
            Self::Message => "message",
            Self::Email => "email",
        }
    }
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == raw)
    }
    /// The key of the queue's `mediaSettings` (the queue API says `call` where analytics says `voice`).
    pub fn settings_key(self) -> &'static str {
        match self {
            Self::Voice => "call",
            other => other.as_str(),
        }
    }
    /// The WFM channel (the mapping the connector documents; kept separate from the connector's code on purpose).
    pub fn channel(self) -> acd_domain::Channel {
        match self {
            Self::Voice | Self::Callback => acd_domain::Channel::Calls,
            Self::Chat | Self::Message => acd_domain::Channel::Chats,
            Self::Email => acd_domain::Channel::Emails,
        }
    }
    /// Service-level threshold (ms) of the queue's media settings.
    pub fn service_level_ms(self) -> i64 {
        match self {
            Self::Voice => 20_000,
            Self::Callback => 300_000,
            Self::Chat => 60_000,
            Self::Message => 600_000,
            Self::Email => 3_600_000,
        }
    }
    fn volume(self) -> f64 {
        match self {
            Self::Voice => 1.0,
            Self::Callback => 0.15,
            Self::Chat => 0.6,
            Self::Message => 0.4,
            Self::Email => 0.3,
        }
    }
    /// (mean wait s, wait cap s, abandon probability, short handle s, long handle s, share of short, ACW s)
    #[allow(clippy::type_complexity)]
    fn shape(self) -> (f64, i64, f64, (i64, i64), (i64, i64), f64, (i64, i64)) {
        match self {
            Self::Voice => (25.0, 600, 0.06, (40, 180), (300, 1500), 0.6, (5, 120)),
            Self::Callback => (120.0, 1800, 0.02, (60, 240), (300, 900), 0.5, (10, 60)),
            Self::Chat => (40.0, 900, 0.05, (120, 400), (600, 1800), 0.55, (10, 60)),
            Self::Message => (300.0, 3600, 0.03, (120, 600), (900, 2400), 0.5, (10, 60)),
            Self::Email => (2400.0, 7200, 0.0, (120, 400), (600, 1500), 0.6, (30, 180)),
        }
    }
}

const MEDIA_SETS: [&[MediaType]; 6] = [
    &[MediaType::Voice, MediaType::Callback],
    &[MediaType::Voice],
    &[MediaType::Chat, MediaType::Message],
    &[MediaType::Email],
    &[MediaType::Voice, MediaType::Chat, MediaType::Email],
    &[MediaType::Voice, MediaType::Callback, MediaType::Chat, MediaType::Message, MediaType::Email],
];

const QUEUE_NAMES: [&str; 12] = [
    "Support",
    "Sales",
    "Billing",
    "Technical Support",
    "Claims",
    "Retention",
    "VIP Care",
    "Returns",
    "Service Après-Vente",
    "Collections",
    "Bookings",
    "Loyalty",
];

const FIRST: [&str; 16] = [
    "Ann", "Bob", "Chloé", "Dev", "Eva", "Finn", "Grace", "Hiro", "Ines", "Jon", "Kai", "Lena", "Milo", "Nora", "Omar",
    "Pia",
];
const LAST: [&str; 12] =
    ["Meyer", "Smith", "Dubois", "Patel", "Rossi", "Berg", "Kim", "Tanaka", "Silva", "Novak", "Weber", "Okafor"];

// ---- entities ------------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
pub struct SimQueue {
    pub index: usize,
    pub id: String,
    /// The name as generated (renames are kept by the server state).
    pub name: String,
    pub media: &'static [MediaType],
    volume: f64,
    utc_offset_hours: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UserState {
    Active,
    Inactive,
}

#[derive(Debug, Clone)]
pub struct SimUser {
    pub index: usize,
    pub id: String,
    pub name: String,
    pub username: String,
    pub email: String,
    pub state: UserState,
    /// First day (day number) without shifts, for inactive users.
    deactivated_day: Option<i64>,
    start_hour: i64,
}

/// The ten system presences (spelled as the analytics API does).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SystemPresence {
    Available,
    Away,
    Busy,
    Offline,
    Idle,
    OnQueue,
    Meal,
    Training,
    Meeting,
    Break,
}

impl SystemPresence {
    /// Analytics spelling (`ON_QUEUE`).
    pub fn analytics(self) -> &'static str {
        match self {
            Self::Available => "AVAILABLE",
            Self::Away => "AWAY",
            Self::Busy => "BUSY",
            Self::Offline => "OFFLINE",
            Self::Idle => "IDLE",
            Self::OnQueue => "ON_QUEUE",
            Self::Meal => "MEAL",
            Self::Training => "TRAINING",
            Self::Meeting => "MEETING",
            Self::Break => "BREAK",
        }
    }
    /// Spelling of the SDK model of `/api/v2/presence/definitions` (`OnQueue`).
    pub fn sdk(self) -> &'static str {
        match self {
            Self::Available => "Available",
            Self::Away => "Away",
            Self::Busy => "Busy",
            Self::Offline => "Offline",
            Self::Idle => "Idle",
            Self::OnQueue => "OnQueue",
            Self::Meal => "Meal",
            Self::Training => "Training",
            Self::Meeting => "Meeting",
            Self::Break => "Break",
        }
    }
}

#[derive(Debug, Clone)]
pub struct PresenceDef {
    pub id: String,
    pub label: String,
    pub other_labels: Vec<(&'static str, &'static str)>,
    pub system: SystemPresence,
    pub custom: bool,
    pub deactivated: bool,
}

pub const AVAILABLE: usize = 0;
pub const AWAY: usize = 1;
pub const OFFLINE: usize = 3;
pub const ON_QUEUE: usize = 5;
pub const MEAL: usize = 6;
pub const MEETING: usize = 8;
pub const BREAK: usize = 9;
pub const COACHING: usize = 10;
pub const OLD_LUNCH: usize = 11;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RoutingStatus {
    OffQueue,
    Idle,
    Interacting,
    NotResponding,
    Communicating,
}

impl RoutingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OffQueue => "OFF_QUEUE",
            Self::Idle => "IDLE",
            Self::Interacting => "INTERACTING",
            Self::NotResponding => "NOT_RESPONDING",
            Self::Communicating => "COMMUNICATING",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PresenceRec {
    pub start: i64,
    pub end: Option<i64>,
    pub def: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RoutingRec {
    pub start: i64,
    pub end: Option<i64>,
    pub status: RoutingStatus,
}

impl PresenceRec {
    pub fn overlaps(&self, from: i64, to: i64) -> bool {
        self.start < to && self.end.is_none_or(|e| e > from)
    }
}

impl RoutingRec {
    pub fn overlaps(&self, from: i64, to: i64) -> bool {
        self.start < to && self.end.is_none_or(|e| e > from)
    }
}

/// The records of one user that overlap a range.
#[derive(Debug, Default, Clone)]
pub struct Timeline {
    pub presence: Vec<PresenceRec>,
    pub routing: Vec<RoutingRec>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stat {
    pub count: u64,
    pub sum: u64,
    pub min: u64,
    pub max: u64,
}

impl Stat {
    fn add(&mut self, v: u64) {
        if self.count == 0 {
            self.min = v;
            self.max = v;
        } else {
            self.min = self.min.min(v);
            self.max = self.max.max(v);
        }
        self.count += 1;
        self.sum += v;
    }
}

/// The metrics of one (queue, media type, 15-minute bucket), as Genesys would count them: each metric in the bucket
/// in which its event happened (offer at arrival, answer/abandon when the wait ends, handle when handling ends).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Bucket {
    pub offered: u64,
    pub answered: Stat,
    pub abandoned: Stat,
    pub handled: Stat,
    pub sl_numerator: u64,
    pub sl_denominator: u64,
}

impl Bucket {
    pub fn is_empty(&self) -> bool {
        self.offered == 0
            && self.answered.count == 0
            && self.abandoned.count == 0
            && self.handled.count == 0
            && self.sl_denominator == 0
    }
}

/// One contact of a queue and media type.
#[derive(Debug, Clone, Copy)]
pub struct Contact {
    pub arrival: i64,
    pub wait: i64,
    pub abandoned: bool,
    pub handle: i64,
}

/// Sizes and seed of the org.
#[derive(Debug, Clone, Copy)]
pub struct WorldSize {
    pub seed: u64,
    pub queues: usize,
    pub agents: usize,
    pub history_days: u32,
    pub contacts_per_interval: f64,
    /// The media every queue takes (e.g. `[Voice]`: a voice-only org); `None`: a mix that varies by queue.
    pub media: Option<&'static [MediaType]>,
}

/// The org: entities and the functions that generate their data.
#[derive(Debug, Clone)]
pub struct World {
    pub size: WorldSize,
    pub queues: Vec<SimQueue>,
    pub users: Vec<SimUser>,
    pub definitions: Vec<PresenceDef>,
    /// Data exists from here (midnight UTC, `history_days` before the initial clock).
    pub data_start: i64,
    old_lunch_until_day: i64,
}

impl World {
    pub fn new(size: WorldSize, initial_now: i64) -> Self {
        let seed = size.seed;
        let data_start = (initial_now.div_euclid(DAY) - i64::from(size.history_days)) * DAY;
        let start_day = data_start / DAY;
        let queues = (0..size.queues)
            .map(|i| {
                let h = hash(&[seed, T_QUEUE, i as u64]);
                let base = QUEUE_NAMES[i % QUEUE_NAMES.len()];
                let name = if i < QUEUE_NAMES.len() {
                    base.to_owned()
                } else {
                    format!("{base} {}", i / QUEUE_NAMES.len() + 1)
                };
                SimQueue {
                    index: i,
                    id: uuid_from(h),
                    name,
                    media: size.media.unwrap_or(MEDIA_SETS[(i + seed as usize) % MEDIA_SETS.len()]),
                    volume: 0.5 + (mix(h ^ 1) >> 11) as f64 / (1u64 << 53) as f64,
                    utc_offset_hours: [0, 1, -5, 2, -8, 9][(mix(h ^ 2) % 6) as usize],
                }
            })
            .collect();
        let users = (0..size.agents)
            .map(|i| {
                let h = hash(&[seed, T_USER, i as u64]);
                let first = FIRST[(h % FIRST.len() as u64) as usize];
                let last = LAST[((h >> 8) % LAST.len() as u64) as usize];
                let login = format!("{}.{}{}", ascii_lower(first), ascii_lower(last), i + 1);
                let inactive = size.agents > 6 && i % 7 == 6;
                SimUser {
                    index: i,
                    id: uuid_from(h),
                    name: format!("{first} {last}"),
                    username: format!("{login}@example.com"),
                    email: format!("{login}@example.com"),
                    state: if inactive { UserState::Inactive } else { UserState::Active },
                    deactivated_day: inactive.then(|| start_day + i64::from(size.history_days) * 2 / 3),
                    start_hour: 5 + (mix(h ^ 3) % 9) as i64,
                }
            })
            .collect();
        let system = |id: &str, label: &str, system| PresenceDef {
            id: id.to_owned(),
            label: label.to_owned(),
            other_labels: Vec::new(),
            system,
            custom: false,
            deactivated: false,
        };
        // The ten system presences with the ids every org shares (as seen in a captured org answer).
        let definitions = vec![
            system("6a3af858-942f-489d-9700-5f9bcdcdae9b", "Available", SystemPresence::Available),
            system("5e5c5c66-ea97-4e7f-ac41-6424784829f2", "Away", SystemPresence::Away),
            system("31fe3bac-dea6-44b7-bed7-47f91660a1a0", "Busy", SystemPresence::Busy),
            system("ccf3c10a-aa2c-4845-8e8d-f59fa48c58e5", "Offline", SystemPresence::Offline),
            system("7ffa01cd-7866-4ad7-8faa-31e11b42f51f", "Idle", SystemPresence::Idle),
            system("e08eaf1b-ee47-4fa9-a231-1200e284798f", "On Queue", SystemPresence::OnQueue),
            system("3fd96123-badb-4f69-bc03-1b1ccc6d8014", "Meal", SystemPresence::Meal),
            system("d2390a99-8546-bad9-8f0a-219548e8aeb0", "Training", SystemPresence::Training),
            system("bbdff279-7ae1-48ea-bade-7831d7234c64", "Meeting", SystemPresence::Meeting),
            system("227b37e2-f1d0-4dd0-8f50-badd7cf6d158", "Break", SystemPresence::Break),
            PresenceDef {
                id: uuid_from(hash(&[seed, T_PRESENCE, 1])),
                label: "Coaching".into(),
                other_labels: vec![("de", "Coaching-Sitzung")],
                system: SystemPresence::Busy,
                custom: true,
                deactivated: false,
            },
            PresenceDef {
                id: uuid_from(hash(&[seed, T_PRESENCE, 2])),
                label: "Lunch (old)".into(),
                other_labels: Vec::new(),
                system: SystemPresence::Meal,
                custom: true,
                deactivated: true,
            },
        ];
        Self {
            size,
            queues,
            users,
            definitions,
            data_start,
            old_lunch_until_day: start_day + i64::from(size.history_days) / 2,
        }
    }

    /// The default client id of this org.
    pub fn default_client_id(&self) -> String {
        uuid_from(hash(&[self.size.seed, T_CLIENT]))
    }

    // ---- contacts and interval metrics ------------------------------------------------------------------------

    /// The contacts that arrived in the interval starting at `interval_start`.
    pub fn contacts(&self, q: &SimQueue, m: MediaType, interval_start: i64) -> Vec<Contact> {
        if interval_start < self.data_start {
            return Vec::new();
        }
        let idx = interval_start.div_euclid(INTERVAL);
        let mut rng = Rng::new(hash(&[self.size.seed, T_CONTACTS, q.index as u64, m as u64, idx as u64]));
        let local = interval_start + INTERVAL / 2 + q.utc_offset_hours * HOUR;
        let hour = local.rem_euclid(DAY) as f64 / HOUR as f64;
        let weekday = (local.div_euclid(DAY) + 3).rem_euclid(7); // 0 = Monday
        let daily = (0.04 + (-((hour - 10.5) / 2.2).powi(2)).exp() + 0.8 * (-((hour - 15.0) / 2.4).powi(2)).exp()
            - 0.25 * (-((hour - 12.75) / 0.7).powi(2)).exp())
        .max(0.02);
        let weekly = [1.2, 1.05, 1.0, 0.95, 0.85, 0.35, 0.2][weekday as usize];
        let lambda = self.size.contacts_per_interval * q.volume * m.volume() * daily * weekly;
        let n = rng.poisson(lambda);
        let (wait_mean, wait_cap, p_abandon, short, long, p_short, acw) = m.shape();
        (0..n)
            .map(|_| {
                let arrival = interval_start + rng.range(0, INTERVAL);
                let wait_s = rng.exp(wait_mean).clamp(1.0, wait_cap as f64);
                let wait = (wait_s * 1000.0) as i64 + rng.range(0, 1000);
                let abandoned = rng.chance(p_abandon + if wait_s > 2.0 * wait_mean { 0.1 } else { 0.0 });
                let (lo, hi) = if rng.chance(p_short) { short } else { long };
                let handle = rng.range(lo * 1000, hi * 1000) + rng.range(acw.0 * 1000, acw.1 * 1000);
                Contact { arrival, wait, abandoned, handle }
            })
            .collect()
    }

    /// Buckets of `[from, to)` (interval-aligned) with any data, as of `now`: events at or after `now` have not
    /// happened yet.
    pub fn buckets(&self, q: &SimQueue, m: MediaType, from: i64, to: i64, now: i64) -> Vec<(i64, Bucket)> {
        let n = ((to - from) / INTERVAL).max(0) as usize;
        let mut out = vec![Bucket::default(); n];
        let at = |t: i64| -> Option<usize> {
            if t >= now || t < from || t >= to {
                return None;
            }
            Some(((t - from) / INTERVAL) as usize)
        };
        let first = from - LOOKBACK_INTERVALS * INTERVAL;
        let mut start = first;
        while start < to {
            for c in self.contacts(q, m, start) {
                if let Some(i) = at(c.arrival) {
                    out[i].offered += 1;
                }
                let resolved = c.arrival + c.wait;
                if let Some(i) = at(resolved) {
                    if c.abandoned {
                        out[i].abandoned.add(c.wait as u64);
                    } else {
                        out[i].answered.add(c.wait as u64);
                        if c.wait <= m.service_level_ms() {
                            out[i].sl_numerator += 1;
                        }
                    }
                    out[i].sl_denominator += 1;
                }
                if !c.abandoned
                    && resolved < now
                    && let Some(i) = at(resolved + c.handle)
                {
                    out[i].handled.add(c.handle as u64);
                }
            }
            start += INTERVAL;
        }
        out.into_iter()
            .enumerate()
            .filter(|(_, b)| !b.is_empty())
            .map(|(i, b)| (from + i as i64 * INTERVAL, b))
            .collect()
    }

    // ---- agent timelines ----------------------------------------------------------------------------------------

    /// The presence blocks `(definition, start, end)` of a user's shift on `day`, if they work that day.
    fn shift(&self, u: &SimUser, day: i64) -> Option<Vec<(usize, i64, i64)>> {
        if day * DAY < self.data_start || u.deactivated_day.is_some_and(|d| day >= d) {
            return None;
        }
        let mut rng = Rng::new(hash(&[self.size.seed, T_SHIFT, u.index as u64, day as u64]));
        let weekday = (day + 3).rem_euclid(7);
        if !rng.chance(if weekday >= 5 { 0.2 } else { 0.85 }) {
            return None;
        }
        let mut t = day * DAY + u.start_hour * HOUR + rng.range(0, 12) * 5 * MINUTE + rng.range(0, 60_000);
        let mut blocks = Vec::new();
        let mut push = |def: usize, lo_min: i64, hi_min: i64, rng: &mut Rng| {
            let d = rng.range(lo_min * MINUTE, hi_min * MINUTE + 1) + rng.range(0, 1000);
            blocks.push((def, t, t + d));
            t += d;
        };
        push(AVAILABLE, 1, 4, &mut rng);
        push(ON_QUEUE, 100, 140, &mut rng);
        push(BREAK, 14, 16, &mut rng);
        push(ON_QUEUE, 60, 100, &mut rng);
        let meal = if day < self.old_lunch_until_day { OLD_LUNCH } else { MEAL };
        let meal_min = [30, 45, 60][rng.range(0, 3) as usize];
        push(meal, meal_min, meal_min, &mut rng);
        push(ON_QUEUE, 60, 120, &mut rng);
        if rng.chance(0.25) {
            push(COACHING, 30, 30, &mut rng);
            push(ON_QUEUE, 20, 40, &mut rng);
        } else if rng.chance(0.15) {
            push(MEETING, 45, 45, &mut rng);
            push(ON_QUEUE, 20, 40, &mut rng);
        }
        push(BREAK, 14, 16, &mut rng);
        push(ON_QUEUE, 40, 80, &mut rng);
        if rng.chance(0.3) {
            push(AWAY, 3, 8, &mut rng);
            push(ON_QUEUE, 10, 30, &mut rng);
        }
        Some(blocks)
    }

    /// The routing records of one on-queue block: they start up to a second after the presence changes and end up
    /// to a second after it changes back (Genesys records the two independently), and are contiguous.
    fn on_queue_run(&self, u: &SimUser, start: i64, end: i64) -> Vec<RoutingRec> {
        let mut rng = Rng::new(hash(&[self.size.seed, T_ROUTING, u.index as u64, start as u64]));
        let run_start = start + rng.range(0, 900);
        let run_end = end + rng.range(0, 900);
        let mut out = Vec::new();
        let mut t = run_start;
        let mut idle = true;
        while t < run_end {
            let (status, d) = if idle {
                (RoutingStatus::Idle, (rng.exp(45_000.0) as i64).clamp(2_000, 6 * MINUTE))
            } else if rng.chance(0.06) {
                (RoutingStatus::NotResponding, rng.range(10_000, 30_000))
            } else if rng.chance(0.05) {
                (RoutingStatus::Communicating, rng.range(30_000, 180_000))
            } else {
                (RoutingStatus::Interacting, (rng.exp(300_000.0) as i64).clamp(30_000, 20 * MINUTE))
            };
            let e = (t + d).min(run_end);
            out.push(RoutingRec { start: t, end: Some(e), status });
            t = e;
            idle = !idle;
        }
        out
    }

    /// Every presence and routing record of user `u` that overlaps `[from, to)`, as of `now`: records keep their
    /// true bounds; the record running at `now` is open (no end); nothing exists before `data_start` or after `now`.
    pub fn timeline(&self, u: usize, from: i64, to: i64, now: i64) -> Timeline {
        let Some(user) = self.users.get(u) else { return Timeline::default() };
        let to = to.min(now);
        let from = from.max(self.data_start);
        if from >= to {
            return Timeline::default();
        }
        let first_day = self.data_start / DAY;
        let now_day = now.div_euclid(DAY);
        let from_day = (from.div_euclid(DAY) - 1).max(first_day);
        let to_day = (to - 1).div_euclid(DAY);
        let mut shifts = Vec::new();
        // The last shift before the range (it bounds the first Offline record) …
        let mut d = from_day - 1;
        while d >= first_day {
            if let Some(s) = self.shift(user, d) {
                shifts.push(s);
                break;
            }
            d -= 1;
        }
        // … the shifts in the range …
        for d in from_day..=to_day {
            if let Some(s) = self.shift(user, d) {
                shifts.push(s);
            }
        }
        // … and the first one after it (it bounds the last Offline record).
        let mut d = to_day + 1;
        while d <= now_day {
            if let Some(s) = self.shift(user, d) {
                shifts.push(s);
                break;
            }
            d += 1;
        }
        let mut presence = Vec::new();
        let mut routing = Vec::new();
        let mut cursor = self.data_start;
        let mut routing_cursor = self.data_start;
        for blocks in &shifts {
            let (Some(first), Some(last)) = (blocks.first(), blocks.last()) else { continue };
            if first.1 > cursor {
                presence.push(PresenceRec { start: cursor, end: Some(first.1), def: OFFLINE });
            }
            for &(def, s, e) in blocks {
                presence.push(PresenceRec { start: s, end: Some(e), def });
                if def == ON_QUEUE {
                    let run = self.on_queue_run(user, s, e);
                    if let Some(r) = run.first()
                        && r.start > routing_cursor
                    {
                        routing.push(RoutingRec {
                            start: routing_cursor,
                            end: Some(r.start),
                            status: RoutingStatus::OffQueue,
                        });
                    }
                    if let Some(r) = run.last() {
                        routing_cursor = r.end.unwrap_or(routing_cursor);
                    }
                    routing.extend(run);
                }
            }
            cursor = last.2;
        }
        presence.push(PresenceRec { start: cursor, end: None, def: OFFLINE });
        routing.push(RoutingRec { start: routing_cursor, end: None, status: RoutingStatus::OffQueue });
        let cut = |start: i64, end: Option<i64>| -> Option<Option<i64>> {
            if start >= now { None } else { Some(end.filter(|e| *e <= now)) }
        };
        Timeline {
            presence: presence
                .into_iter()
                .filter_map(|p| cut(p.start, p.end).map(|end| PresenceRec { end, ..p }))
                .filter(|p| p.overlaps(from, to))
                .collect(),
            routing: routing
                .into_iter()
                .filter_map(|r| cut(r.start, r.end).map(|end| RoutingRec { end, ..r }))
                .filter(|r| r.overlaps(from, to))
                .collect(),
        }
    }
}

fn ascii_lower(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'é' | 'è' => 'e',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn world() -> World {
        World::new(
            WorldSize { seed: 7, queues: 8, agents: 9, history_days: 10, contacts_per_interval: 5.0, media: None },
            20_000 * DAY,
        )
    }

    #[test]
    fn entities_are_deterministic_and_distinct() {
        let (a, b) = (world(), world());
        assert_eq!(a.queues[3].id, b.queues[3].id);
        assert_eq!(a.users[5].username, b.users[5].username);
        let ids: std::collections::HashSet<_> = a.queues.iter().map(|q| &q.id).collect();
        assert_eq!(ids.len(), 8);
        let names: std::collections::HashSet<_> = a.users.iter().map(|u| &u.username).collect();
        assert_eq!(names.len(), 9);
        assert_eq!(a.users[6].state, UserState::Inactive);
        let other = World::new(WorldSize { seed: 8, ..a.size }, 20_000 * DAY);
        assert_ne!(a.queues[0].id, other.queues[0].id);
    }

    #[test]
    fn contacts_follow_a_daily_pattern_and_metrics_conserve_contacts() {
        let w = world();
        let q = &w.queues[0];
        let day = 19_998 * DAY; // a Monday-to-Friday day in the history
        let night: usize = (0..8).map(|i| w.contacts(q, MediaType::Voice, day + i * INTERVAL).len()).sum();
        let noon: usize = (40..48)
            .map(|i| w.contacts(q, MediaType::Voice, day + i * INTERVAL + q.utc_offset_hours * -HOUR))
            .map(|c| c.len())
            .sum();
        assert!(noon > night, "noon {noon} night {night}");
        // Every contact offered in a closed day is answered or abandoned in that day or shortly after.
        let buckets = w.buckets(q, MediaType::Voice, day, day + 2 * DAY, 20_000 * DAY);
        let offered: u64 = buckets.iter().filter(|(t, _)| *t < day + DAY).map(|(_, b)| b.offered).sum();
        assert!(offered > 0);
        let resolved: u64 = buckets.iter().map(|(_, b)| b.answered.count + b.abandoned.count).sum();
        let all_offered: u64 = buckets.iter().map(|(_, b)| b.offered).sum();
        assert!(resolved <= all_offered + 60 && resolved + 60 >= all_offered);
        assert!(buckets.iter().any(|(_, b)| b.abandoned.count > 0));
        assert!(
            buckets.iter().any(|(_, b)| b.handled.min < 200_000)
                && buckets.iter().any(|(_, b)| b.handled.max > 400_000)
        );
    }

    #[test]
    fn nothing_happens_after_now() {
        let w = world();
        let now = 19_999 * DAY + 10 * HOUR + 7 * MINUTE;
        let b = w.buckets(&w.queues[0], MediaType::Voice, 19_999 * DAY, 20_000 * DAY, now);
        assert!(b.iter().all(|(t, _)| *t <= now));
        for u in 0..w.users.len() {
            let tl = w.timeline(u, 19_999 * DAY, 20_000 * DAY, now);
            assert!(tl.presence.iter().all(|p| p.start < now && p.end.is_none_or(|e| e <= now)));
            assert_eq!(tl.presence.iter().filter(|p| p.end.is_none()).count(), 1);
            assert_eq!(tl.routing.iter().filter(|p| p.end.is_none()).count(), 1);
        }
    }

    #[test]
    fn timelines_are_contiguous_and_window_independent() {
        let w = world();
        let now = 20_000 * DAY;
        for u in 0..w.users.len() {
            let full = w.timeline(u, w.data_start, now, now);
            for pair in full.presence.windows(2) {
                assert_eq!(pair[0].end, Some(pair[1].start), "user {u}");
            }
            for pair in full.routing.windows(2) {
                assert_eq!(pair[0].end, Some(pair[1].start), "user {u}");
            }
            let part = w.timeline(u, 19_995 * DAY + 3 * HOUR, 19_996 * DAY, now);
            for p in &part.presence {
                assert!(full.presence.contains(p), "user {u}: {p:?}");
            }
            for r in &part.routing {
                assert!(full.routing.contains(r), "user {u}: {r:?}");
            }
        }
        let all = w.timeline(0, w.data_start, now, now);
        assert!(all.presence.iter().any(|p| p.def == ON_QUEUE) && all.presence.iter().any(|p| p.def == BREAK));
    }
}
