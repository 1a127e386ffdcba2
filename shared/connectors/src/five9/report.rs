//! Five9 report CSVs (`getReportResultCsv`): the Call Log aggregated into 15-minute UTC intervals, and Agent State
//! Details turned into agent segments.
//!
//! Parsing is strict where a truncated or corrupt CSV could otherwise yield partial numbers: every row must have
//! the header's field count, and every value the connector uses must parse — a duration as `HH:MM:SS` (five9.md:
//! an abandoned call's TALK TIME is `00:00:00`), so an empty or `-` duration is malformed, never zero. Columns are
//! found by their English header name (case-insensitive); extra columns are ignored, their order does not matter.
//!
//! A report always has a header line: a CSV without one (empty, or whose first line is no header) is malformed,
//! never "no calls" — an empty answer must not read as an empty day. Every column the definitions below use is
//! required; a header without one is an error ([`ReportErrorKind::MissingColumn`]).
//!
//! Parsers read from any [`std::io::Read`] (the connector streams the CSV out of the SOAP body, see
//! [`super::soap::open_report_csv`]) and aggregate row by row: no copy of the CSV, no per-row allocation for the
//! Call Log; Agent State rows share their agent, state and reason strings.
//!
//! ## Call Log definitions (documented choices)
//! - Only rows whose `CALL TYPE` is `Inbound` count (outbound, manual, internal… calls are not queue workload).
//! - A call counts in the 15-minute UTC interval that contains its `TIMESTAMP` (arrival), only if that instant
//!   lies in the requested window `[start, end)`.
//! - `offered`: every counted row of the queue. `abandoned`: `ABANDONED` = 1. `handled`: not abandoned, an agent
//!   assigned (`AGENT` not empty / `[None]`) and `TALK TIME` > 0. Calls that are neither (IVR-only, voicemail…) count
//!   only as offered.
//! - `handle_time_ms`: `TALK TIME` + `AFTER CALL WORK TIME` of handled calls. `TALK TIME` already includes `HOLD TIME`
//!   (five9.md), so hold is never added again.
//! - `answer_time_ms`: `QUEUE WAIT TIME` of handled calls.
//! - `answered_within_sl`: `None` — the Call Log carries no service-level flag and the threshold lives in Five9's
//!   campaign/skill configuration, which the admin API does not expose per queue.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read;
use std::sync::Arc;

use acd_domain::acd::floor_to_interval;
use acd_domain::{AgentSegment, TimeWindow};
use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use chrono_tz::Tz;

use super::time::{LocalResolver, parse_date_and_time, parse_duration_secs, parse_timestamp};

/// A report CSV that cannot be read; the text names the row/column, never values of other fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportError(pub String, pub ReportErrorKind);

/// What is wrong with a report CSV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportErrorKind {
    /// Unreadable, cut off, no header line, a value that does not parse.
    Malformed,
    /// A header line without a column the connector needs (for a customer's own report: its configuration).
    MissingColumn,
}

fn err(msg: impl Into<String>) -> ReportError {
    ReportError(msg.into(), ReportErrorKind::Malformed)
}

/// Header name → index (names trimmed and upper-cased).
struct Columns(HashMap<String, usize>);

impl Columns {
    /// The header line; an empty CSV has none (malformed: a report always has its header).
    fn new(headers: &csv::StringRecord, report: &str) -> Result<Self, ReportError> {
        if headers.iter().all(|h| h.trim().trim_start_matches('\u{feff}').is_empty()) {
            return Err(err(format!("the {report} report has no header line (an empty result)")));
        }
        Ok(Self(
            headers
                .iter()
                .enumerate()
                .map(|(i, h)| (h.trim().trim_start_matches('\u{feff}').to_uppercase(), i))
                .collect(),
        ))
    }
    fn get(&self, name: &str) -> Option<usize> {
        self.0.get(name).copied()
    }
    fn require(&self, report: &str, name: &str) -> Result<usize, ReportError> {
        self.get(name).ok_or_else(|| {
            ReportError(format!("the {report} report has no {name} column"), ReportErrorKind::MissingColumn)
        })
    }
}

/// Where a row's time comes from: `TIMESTAMP`, `DATE` + `TIME`, or `TIME` alone holding the whole timestamp (the
/// Agent State Details layout the reference lists: AGENT, STATE, TIME, …).
enum TimeColumns {
    Timestamp(usize),
    DateTime(usize, usize),
    Time(usize),
}

impl TimeColumns {
    fn find(cols: &Columns, report: &str) -> Result<Self, ReportError> {
        if let Some(i) = cols.get("TIMESTAMP") {
            return Ok(Self::Timestamp(i));
        }
        match (cols.get("DATE"), cols.get("TIME")) {
            (Some(d), Some(t)) => Ok(Self::DateTime(d, t)),
            // Until 2026-12-08 refused as "no header line"; a TIME of a time of day only makes each row's
            // timestamp unreadable (malformed), never a guessed day.
            (None, Some(t)) => Ok(Self::Time(t)),
            // Every Five9 report has a time: a first line without one is no header (data where the header
            // should be).
            _ => Err(err(format!("the {report} report has no header line (no TIMESTAMP or TIME column)"))),
        }
    }
    fn read(&self, rec: &csv::StringRecord, line: u64) -> Result<NaiveDateTime, ReportError> {
        let parsed = match *self {
            Self::Timestamp(i) => parse_timestamp(field(rec, i)),
            Self::DateTime(d, t) => {
                // Some reports put the whole timestamp into TIME; accept both.
                parse_date_and_time(field(rec, d), field(rec, t)).or_else(|| parse_timestamp(field(rec, t)))
            }
            Self::Time(t) => parse_timestamp(field(rec, t)),
        };
        parsed.ok_or_else(|| err(format!("row {line}: unreadable timestamp")))
    }
}

fn field(rec: &csv::StringRecord, i: usize) -> &str {
    rec.get(i).unwrap_or("")
}

fn reader<R: Read>(input: R) -> csv::Reader<Quotes<R>> {
    csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(Quotes { inner: input, watch: QuoteWatch::default() })
}

/// Whether a CSV text ends inside a quoted field, followed quote by quote as the CSV reader reads (quotes are rare:
/// `memchr` finds them, the rest of the text is not looked at). The csv crate takes a quoted field still open at the
/// end of its input as complete (BurntSushi/rust-csv#252), so a text cut inside one (a multi-line NOTES field, a
/// name with a comma) would keep the cut row and lose every row after it without a word.
#[derive(Debug, Clone, Copy)]
pub struct QuoteWatch {
    state: QuoteState,
    /// Bytes seen so far.
    pos: u64,
    /// The byte before the next input (a line break at the start: the first field starts there).
    prev: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum QuoteState {
    /// Not inside a quoted field.
    Out,
    Quoted,
    /// A quote inside a quoted field, at this position: it closes the field unless the next byte is a quote too
    /// (an escaped quote).
    MaybeClosed(u64),
}

impl Default for QuoteWatch {
    fn default() -> Self {
        Self { state: QuoteState::Out, pos: 0, prev: b'\n' }
    }
}

impl QuoteWatch {
    /// Follows the next bytes of the text. A quote opens a quoted field only where a field starts (after a comma, a
    /// line break, or at the start), as the CSV reader has it; elsewhere it is a character of the field.
    pub fn feed(&mut self, bytes: &[u8]) {
        for i in memchr::memchr_iter(b'"', bytes) {
            let at = self.pos + i as u64;
            let before = if i == 0 { self.prev } else { bytes[i - 1] };
            self.state = match self.state {
                QuoteState::Quoted => QuoteState::MaybeClosed(at),
                QuoteState::MaybeClosed(q) if at == q + 1 => QuoteState::Quoted,
                _ if matches!(before, b',' | b'\n' | b'\r') => QuoteState::Quoted,
                _ => QuoteState::Out,
            };
        }
        if let Some(&last) = bytes.last() {
            self.prev = last;
        }
        self.pos += bytes.len() as u64;
    }

    /// At the end of the text: a quoted field still open means the text was cut inside it.
    pub fn ended_in_a_quoted_field(&self) -> bool {
        self.state == QuoteState::Quoted
    }
}

/// The CSV reader's input, watched by a [`QuoteWatch`].
struct Quotes<R> {
    inner: R,
    watch: QuoteWatch,
}

impl<R: Read> Read for Quotes<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.watch.feed(&buf[..n]);
        Ok(n)
    }
}

/// After the last record: a text that ends inside a quoted field was cut (malformed, never a shorter report).
fn check_end<R: Read>(rdr: &csv::Reader<Quotes<R>>, report: &str) -> Result<(), ReportError> {
    if rdr.get_ref().watch.ended_in_a_quoted_field() {
        return Err(err(format!("the {report} report's CSV ends inside a quoted field (a cut text)")));
    }
    Ok(())
}

fn csv_error(e: csv::Error) -> ReportError {
    match e.kind() {
        csv::ErrorKind::UnequalLengths { pos, expected_len, len } => err(format!(
            "row {} has {len} fields where the header has {expected_len} (truncated or corrupt CSV)",
            pos.as_ref().map(|p| p.line()).unwrap_or(0)
        )),
        csv::ErrorKind::Utf8 { pos, .. } => {
            err(format!("row {} is not valid UTF-8", pos.as_ref().map(|p| p.line()).unwrap_or(0)))
        }
        csv::ErrorKind::Io(io) => err(format!("the CSV could not be read: {io}")),
        _ => err(format!("unreadable CSV: {e}")),
    }
}

fn duration_ms(rec: &csv::StringRecord, i: Option<usize>, name: &str, line: u64) -> Result<u64, ReportError> {
    match i {
        None => Ok(0),
        Some(i) => parse_duration_secs(field(rec, i))
            .map(|s| s * 1000)
            .ok_or_else(|| err(format!("row {line}: unreadable {name}"))),
    }
}

/// Five9 booleans: `1` / `0` / `-` (false). Anything else (including an empty value, the mark of a cut row) fails.
fn flag(raw: &str) -> Option<bool> {
    match raw.trim() {
        "1" | "true" | "TRUE" | "Yes" => Some(true),
        "0" | "-" | "false" | "FALSE" | "No" => Some(false),
        _ => None,
    }
}

fn is_no_value(raw: &str) -> bool {
    let raw = raw.trim();
    raw.is_empty() || raw == "[None]" || raw == "-"
}

/// Sums of one queue in one interval.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sums {
    pub offered: u64,
    pub handled: u64,
    pub abandoned: u64,
    pub handle_time_ms: u64,
    pub answer_time_ms: u64,
}

impl Sums {
    fn add(&mut self, o: &Sums) {
        self.offered += o.offered;
        self.handled += o.handled;
        self.abandoned += o.abandoned;
        self.handle_time_ms += o.handle_time_ms;
        self.answer_time_ms += o.answer_time_ms;
    }
}

/// Call Log sums per queue name (the report's CAMPAIGN or SKILL value) and interval start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallLogSums {
    pub by_queue: HashMap<String, BTreeMap<DateTime<Utc>, Sums>>,
}

impl CallLogSums {
    pub fn merge(&mut self, other: CallLogSums) {
        for (q, intervals) in other.by_queue {
            let mine = self.by_queue.entry(q).or_default();
            for (t, s) in intervals {
                mine.entry(t).or_default().add(&s);
            }
        }
    }
}

/// What one Call Log CSV gave.
#[derive(Debug, Clone, Default)]
pub struct CallLogResult {
    pub sums: CallLogSums,
    /// Data rows in the CSV (all of them, whether counted or not): compared with the report row limit.
    pub rows: usize,
    /// Counted rows whose queue column was empty / `[None]` (skill grouping: calls that never reached a skill).
    pub rows_without_queue: usize,
    /// Rows (counted or not) whose arrival lies outside the report's window and its end (which Five9 includes):
    /// never counted. Some mean the integration's time zone is not the Five9 domain's ([`outside_report`]).
    pub rows_outside_window: usize,
    /// The farthest any of those rows lies from the window ([`outside_by`]); zero when there are none.
    pub farthest_outside: Duration,
    /// All rows (counted or not) per UTC quarter hour, in the CSV's order, consecutive rows of a quarter counted
    /// together: how busy the domain's hours are ([`super::density`]).
    pub quarters: Vec<(DateTime<Utc>, u32)>,
}

/// Parses a Call Log CSV and sums its inbound calls per `group_column` value (`CAMPAIGN` or `SKILL`) and 15-minute
/// UTC interval. `report_window` is the window the report was run for (for wall-time resolution); only calls whose
/// arrival lies in `keep` are counted.
pub fn aggregate_call_log(
    csv_text: &str,
    group_column: &str,
    tz: Tz,
    report_window: TimeWindow,
    keep: TimeWindow,
) -> Result<CallLogResult, ReportError> {
    let mut out = CallLogResult::default();
    aggregate_call_log_into(csv_text.as_bytes(), group_column, tz, report_window, keep, &mut out)?;
    Ok(out)
}

/// [`aggregate_call_log`] reading the CSV from `input` as it comes, adding to `out` (row by row: nothing but the
/// sums is kept). On an error `out` holds part of the report and must be discarded.
pub fn aggregate_call_log_into<R: Read>(
    input: R,
    group_column: &str,
    tz: Tz,
    report_window: TimeWindow,
    keep: TimeWindow,
    out: &mut CallLogResult,
) -> Result<(), ReportError> {
    let mut rdr = reader(input);
    const REPORT: &str = "Call Log";
    let cols = Columns::new(rdr.headers().map_err(csv_error)?, REPORT)?;
    let time = TimeColumns::find(&cols, REPORT)?;
    let group = cols.require(REPORT, group_column)?;
    let call_type = cols.require(REPORT, "CALL TYPE")?;
    let abandoned = cols.require(REPORT, "ABANDONED")?;
    let agent = cols.require(REPORT, "AGENT")?;
    let talk = cols.require(REPORT, "TALK TIME")?;
    let acw = cols.require(REPORT, "AFTER CALL WORK TIME")?;
    let wait = cols.require(REPORT, "QUEUE WAIT TIME")?;
    let resolver = LocalResolver::new(tz, report_window);
    let mut prev: Option<DateTime<Utc>> = None;
    let mut rec = csv::StringRecord::new();
    while rdr.read_record(&mut rec).map_err(csv_error)? {
        out.rows += 1;
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        let local = time.read(&rec, line)?;
        let at = resolver.resolve(local, prev);
        prev = Some(at);
        if let Some(by) = outside_by(report_window, at) {
            out.rows_outside_window += 1;
            out.farthest_outside = out.farthest_outside.max(by);
        }
        let quarter = floor_to_interval(at);
        match out.quarters.last_mut() {
            Some((q, n)) if *q == quarter => *n = n.saturating_add(1),
            _ => out.quarters.push((quarter, 1)),
        }
        // Validate every used field before deciding to skip the row: a cut row must fail, not vanish.
        let is_abandoned =
            flag(field(&rec, abandoned)).ok_or_else(|| err(format!("row {line}: unreadable ABANDONED")))?;
        let talk_ms = duration_ms(&rec, Some(talk), "TALK TIME", line)?;
        let acw_ms = duration_ms(&rec, Some(acw), "AFTER CALL WORK TIME", line)?;
        let wait_ms = duration_ms(&rec, Some(wait), "QUEUE WAIT TIME", line)?;
        if !field(&rec, call_type).trim().eq_ignore_ascii_case("Inbound") {
            continue;
        }
        if !keep.contains(at) {
            continue;
        }
        let queue = field(&rec, group).trim();
        if is_no_value(queue) {
            out.rows_without_queue += 1;
            continue;
        }
        let has_agent = !is_no_value(field(&rec, agent));
        let handled = !is_abandoned && has_agent && talk_ms > 0;
        let intervals = match out.sums.by_queue.get_mut(queue) {
            Some(m) => m,
            None => out.sums.by_queue.entry(queue.to_owned()).or_default(),
        };
        let s = intervals.entry(quarter).or_default();
        s.offered += 1;
        if is_abandoned {
            s.abandoned += 1;
        }
        if handled {
            s.handled += 1;
            s.handle_time_ms += talk_ms + acw_ms;
            s.answer_time_ms += wait_ms;
        }
    }
    check_end(&rdr, REPORT)
}

/// One row of Agent State Details, time resolved: 28 bytes. Agent, state and reason are ids into the
/// [`StateRows::strings`] of the rows (a report has a few thousand distinct values and hundreds of thousands of rows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateRow {
    pub agent: u32,
    pub state: u32,
    /// [`Strings::NONE`] when the row has no reason code.
    pub reason: u32,
    pub start: DateTime<Utc>,
    pub duration_secs: u32,
}

/// Each agent, state and reason string once; rows refer to them by id.
#[derive(Debug, Clone)]
pub struct Strings {
    list: Vec<Arc<str>>,
    /// Looked up for three values of every Agent State row: foldhash, not the standard library's SipHash (which
    /// took twice the instructions here); still seeded per process.
    index: HashMap<Arc<str>, u32, foldhash::fast::RandomState>,
}

impl Default for Strings {
    fn default() -> Self {
        let none: Arc<str> = Arc::from("");
        let mut index = HashMap::with_hasher(foldhash::fast::RandomState::default());
        index.insert(none.clone(), Self::NONE);
        Self { list: vec![none], index }
    }
}

impl Strings {
    /// The id of the empty string: "no reason code".
    pub const NONE: u32 = 0;

    pub fn id(&mut self, s: &str) -> u32 {
        if let Some(id) = self.index.get(s) {
            return *id;
        }
        let id = u32::try_from(self.list.len()).unwrap_or(u32::MAX);
        let v: Arc<str> = Arc::from(s);
        self.list.push(v.clone());
        self.index.insert(v, id);
        id
    }

    pub fn get(&self, id: u32) -> &str {
        self.list.get(id as usize).map(|s| &**s).unwrap_or("")
    }

    /// `None` for [`Strings::NONE`].
    pub fn get_opt(&self, id: u32) -> Option<&str> {
        (id != Self::NONE).then(|| self.get(id))
    }

    /// [`Strings::get`] as the shared string itself (a segment refers to it; no copy).
    pub fn shared(&self, id: u32) -> Arc<str> {
        self.list.get(id as usize).cloned().unwrap_or_else(|| self.list[Self::NONE as usize].clone())
    }

    /// [`Strings::shared`]; `None` for [`Strings::NONE`] (as [`Strings::get_opt`]).
    pub fn shared_opt(&self, id: u32) -> Option<Arc<str>> {
        (id != Self::NONE).then(|| self.shared(id))
    }
}

/// Agent State Details rows and the strings they refer to.
#[derive(Debug, Clone, Default)]
pub struct StateRows {
    pub strings: Strings,
    pub rows: Vec<StateRow>,
}

impl StateRows {
    /// A row from strings (tests and callers that build rows by hand).
    pub fn push(&mut self, agent: &str, state: &str, reason: Option<&str>, start: DateTime<Utc>, duration_secs: u32) {
        let agent = self.strings.id(agent);
        let state = self.strings.id(state);
        let reason = reason.filter(|r| !r.is_empty()).map_or(Strings::NONE, |r| self.strings.id(r));
        self.rows.push(StateRow { agent, state, reason, start, duration_secs });
    }

    /// Appends `other`'s rows after these, its string ids translated to this value's strings.
    pub fn append(&mut self, other: StateRows) {
        if self.rows.is_empty() && self.strings.list.len() == 1 {
            *self = other;
            return;
        }
        // Every id of `other`'s rows indexes `other`'s strings, so each has its entry here.
        let ids: Vec<u32> = other.strings.list.iter().map(|s| self.strings.id(s)).collect();
        let id = |i: u32| ids[i as usize];
        self.rows.extend(other.rows.into_iter().map(|r| StateRow {
            agent: id(r.agent),
            state: id(r.state),
            reason: id(r.reason),
            ..r
        }));
    }

    /// Takes rows read by reports generated before `latest` as a report generated at `latest` would show them. A
    /// row's duration is the state's time *so far* when its own report was generated: a row still going on then
    /// (`goes_on_at`, as an agent's last segment is judged) goes on to `latest`; a later row of the agent, if any,
    /// ends it where it starts, and if that row ended before `latest`, it resumes after it (the overlap rule of
    /// [`build_segments`]).
    /// `reports`: where each report's rows begin in `rows`, in order, and when the report was generated. Without
    /// this, a read cut into several reports judged every row by the last report's time, so an agent's state still
    /// going on, read in an earlier report, was taken as ended where that report was generated (and a carried set
    /// captured so kept that end for the rest of the day: [`super::carry`]).
    pub fn as_of(&mut self, reports: &[(usize, DateTime<Utc>)], latest: DateTime<Utc>) {
        let n = self.rows.len();
        let ends = reports.iter().skip(1).map(|r| r.0).chain([n]);
        for (&(first, at), end) in reports.iter().zip(ends) {
            if at >= latest {
                continue;
            }
            for row in &mut self.rows[first.min(n)..end.min(n)] {
                let row_end = row.start.checked_add_signed(Duration::seconds(i64::from(row.duration_secs)));
                if goes_on_at(self.strings.get(row.state), row_end, at) {
                    let so_far = (latest - row.start).num_seconds().clamp(0, i64::from(u32::MAX)) as u32;
                    row.duration_secs = row.duration_secs.max(so_far);
                }
            }
        }
    }

    /// The distinct `(state, reason code)` pairs of the rows.
    pub fn statuses(&self) -> HashSet<(&str, Option<&str>)> {
        let ids: HashSet<(u32, u32)> = self.rows.iter().map(|r| (r.state, r.reason)).collect();
        ids.into_iter().map(|(s, r)| (self.strings.get(s), self.strings.get_opt(r))).collect()
    }
}

/// Whether a row at `at` lies outside what a report over `window` asked for: before its start or after its end.
/// Five9 includes the criteria end, so a row at `window.end` (the next report's first instant) is not outside. Such
/// rows are never counted; there should be none, unless the integration's time zone is not the Five9 domain's (the
/// report then covers other hours than asked for).
pub fn outside_report(window: TimeWindow, at: DateTime<Utc>) -> bool {
    outside_by(window, at).is_some()
}

/// How far a row at `at` lies outside what a report over `window` asked for ([`outside_report`]); `None` inside.
pub fn outside_by(window: TimeWindow, at: DateTime<Utc>) -> Option<Duration> {
    if at < window.start {
        Some(window.start - at)
    } else if at > window.end {
        Some(at - window.end)
    } else {
        None
    }
}

/// The farthest report rows may lie outside the hours asked for ([`outside_by`]) and be only skipped and warned
/// about. A report with a row farther out fails the read as a configuration error: its rows are read in another
/// time zone than the domain's, so every row is filed in the wrong interval. Read with an offset N wrong, the rows of
/// the report's first (or last) N lie up to N outside: with N 30 minutes or more (every offset but a few 15 minutes
/// apart, such as Asia/Kathmandu's and Asia/Kolkata's), a report with rows in its first or last 15 minutes has rows
/// beyond this.
pub const OUTSIDE_TOLERANCE: Duration = Duration::minutes(15);

/// Parses an Agent State Details CSV. Rows keep their report order.
pub fn parse_agent_states(csv_text: &str, tz: Tz, report_window: TimeWindow) -> Result<StateRows, ReportError> {
    let mut rows = StateRows::default();
    parse_agent_states_into(csv_text.as_bytes(), tz, report_window, &mut rows)?;
    Ok(rows)
}

/// [`parse_agent_states`] reading from `input` as it comes, appending to `out` (its strings are shared with the rows
/// already there). On an error `out` holds part of the report and must be discarded.
pub fn parse_agent_states_into<R: Read>(
    input: R,
    tz: Tz,
    report_window: TimeWindow,
    out: &mut StateRows,
) -> Result<(), ReportError> {
    let mut rdr = reader(input);
    const REPORT: &str = "Agent State Details";
    let cols = Columns::new(rdr.headers().map_err(csv_error)?, REPORT)?;
    let time = TimeColumns::find(&cols, REPORT)?;
    let agent = cols.require(REPORT, "AGENT")?;
    let state = cols.require(REPORT, "STATE")?;
    let reason = cols.require(REPORT, "REASON CODE")?;
    let duration = cols.require(REPORT, "AGENT STATE TIME")?;
    let resolver = LocalResolver::new(tz, report_window);
    // Row order is per agent (rows may be sorted by agent, then time): track the previous instant per agent, by
    // the agent's string id (ids are dense: a vector, not a map).
    let mut prev: Vec<Option<DateTime<Utc>>> = Vec::new();
    let mut rec = csv::StringRecord::new();
    while rdr.read_record(&mut rec).map_err(csv_error)? {
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        let agent = field(&rec, agent).trim();
        if agent.is_empty() {
            return Err(err(format!("row {line}: empty AGENT")));
        }
        let local = time.read(&rec, line)?;
        let agent = out.strings.id(agent);
        let slot = agent as usize;
        if prev.len() <= slot {
            prev.resize(slot + 1, None);
        }
        let start = resolver.resolve(local, prev[slot]);
        prev[slot] = Some(start);
        let duration_secs = parse_duration_secs(field(&rec, duration))
            .and_then(|d| u32::try_from(d).ok())
            .filter(|d| start.checked_add_signed(Duration::seconds(i64::from(*d))).is_some())
            .ok_or_else(|| err(format!("row {line}: unreadable AGENT STATE TIME")))?;
        let state = field(&rec, state).trim();
        if state.is_empty() {
            return Err(err(format!("row {line}: empty STATE")));
        }
        let state = out.strings.id(state);
        let reason =
            Some(field(&rec, reason).trim()).filter(|r| !is_no_value(r)).map_or(Strings::NONE, |r| out.strings.id(r));
        out.rows.push(StateRow { agent, state, reason, start, duration_secs });
    }
    check_end(&rdr, REPORT)
}

/// The status id of a state and reason code: `Ready`, `Not Ready: Lunch`, `Logout: End Shift`.
pub fn status_id(state: &str, reason: Option<&str>) -> String {
    match reason {
        Some(r) if !r.is_empty() => format!("{state}: {r}"),
        _ => state.to_owned(),
    }
}

/// Whether a state is the log-out event (a point in time: it ends the agent's previous state).
fn is_logout(state: &str) -> bool {
    state.eq_ignore_ascii_case("Logout")
}

/// How far before a report's generation time a state may end and still be going on then ([`goes_on_at`]): the
/// rounding of Five9's whole-second durations and of the HTTP `Date`.
pub(super) const ROUNDING: Duration = Duration::seconds(2);

/// Whether a state that reached `end` (`None`: past the end of time) in a report generated at `report_time` was still
/// going on then: not a logout, and reaching that time within [`ROUNDING`].
fn goes_on_at(state: &str, end: Option<DateTime<Utc>>, report_time: DateTime<Utc>) -> bool {
    !is_logout(state) && end.and_then(|e| e.checked_add_signed(ROUNDING)).is_none_or(|e| e >= report_time)
}

/// Turns state rows into segments overlapping `window`.
///
/// - A row is `[TIMESTAMP, TIMESTAMP + AGENT STATE TIME)`.
/// - Overlap rule (five9.md: when two states overlap, the longer one starts where the shorter ends): of two states
///   starting at the same time, the longer starts where the shorter ends. A state starting inside an earlier, still
///   running one ends that one (the later state supersedes); if it also ends inside it (a shorter state within a
///   longer one), the longer one resumes where it ends — unless it is a logout or still going on at
///   `report_time`. A zero-length state inside a longer one (dropped, as zero-length states are) does not end it.
///   A carried state going on when carried ([`super::carry`]) is known to last until then: a state of today that
///   ends before it was carried lies inside it, one that ends later ends it (as the agent's next state).
/// - `Logout` rows are kept as zero-length segments (they carry the logout reason code, e.g. `End Shift`).
/// - The agent's last segment is open (`end` None) only if it is still ongoing: it is not a logout and it reaches
///   `report_time` (the report's generation time, from the `runReport` response's HTTP `Date`), within 2 s of
///   rounding. A state that ended earlier without a successor keeps its end.
pub fn build_segments(rows: StateRows, report_time: DateTime<Utc>, window: TimeWindow) -> Vec<AgentSegment> {
    build_segments_after(rows, report_time, window, None)
}

/// [`build_segments`], continuing from the states an earlier read found running into `window.start`
/// ([`super::carry::Carried`]): `rows` then hold no row before `window.start`, and the carried segments stand for
/// those rows as the rule above left them, so the result is the same as from all rows.
pub(super) fn build_segments_after(
    rows: StateRows,
    report_time: DateTime<Utc>,
    window: TimeWindow,
    carried: Option<&super::carry::Carried>,
) -> Vec<AgentSegment> {
    let StateRows { mut strings, mut rows } = rows;
    let mut before: HashMap<u32, Vec<Seg>> = carried.map(|c| c.segments(&mut strings)).unwrap_or_default();
    let carried_until = carried.and_then(|c| c.known_until());
    // Each agent's rows, and the carried agents without rows.
    let mut agents = runs_by_agent(&mut rows, &strings);
    let name = |id: u32| strings.get(id);
    let with_rows: HashSet<u32> = agents.iter().map(|(a, _)| *a).collect();
    agents.extend(before.keys().filter(|a| !with_rows.contains(a)).map(|a| (*a, 0..0)));
    agents.sort_by(|a, b| name(a.0).cmp(name(b.0)));
    // Each row and each carried segment gives at most one segment: reserved at once, the vector is never moved
    // while it grows (for a large domain's back-fill, a copy of hundreds of thousands of segments beside the old
    // buffer). Capacity never written to takes no memory.
    let mut out = Vec::with_capacity(rows.len() + before.values().map(Vec::len).sum::<usize>());
    // Each status id (state and reason code) made once; the segments share it, as they share the agent's id.
    // Looked up for every segment: foldhash, as the rows' strings are.
    let mut status_ids: HashMap<(u32, u32), Arc<str>, foldhash::fast::RandomState> = HashMap::default();
    for (agent, range) in agents {
        let mut segs = before.remove(&agent).unwrap_or_default();
        fold_rows(&mut segs, &rows[range], &strings, report_time, carried_until);
        let last = segs.len().checked_sub(1);
        for (k, s) in segs.iter().enumerate() {
            let ongoing = Some(k) == last && s.ongoing_at(report_time, &strings);
            let end = if ongoing { None } else { Some(s.end) };
            let overlaps = if s.start == s.end && end.is_some() {
                window.contains(s.start)
            } else {
                s.start < window.end && end.is_none_or(|e| e > window.start)
            };
            if overlaps {
                let status = status_ids
                    .entry((s.state, s.reason))
                    .or_insert_with(|| status_id(name(s.state), strings.get_opt(s.reason)).into());
                out.push(AgentSegment {
                    agent_external_id: strings.shared(agent),
                    status_id: status.clone(),
                    reason: strings.shared_opt(s.reason),
                    start: s.start,
                    end,
                });
            }
        }
    }
    out
}

/// A segment being built from an agent's rows: where its row started, where it starts and ends after the overlap
/// rule, and its state and reason (ids of the rows' [`Strings`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Seg {
    pub orig_start: DateTime<Utc>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub state: u32,
    pub reason: u32,
}

impl Seg {
    /// Whether this segment, an agent's last, is still going on at `report_time` (see [`build_segments`]).
    /// `strings`: those of the rows it was built from.
    pub(super) fn ongoing_at(&self, report_time: DateTime<Utc>, strings: &Strings) -> bool {
        goes_on_at(strings.get(self.state), Some(self.end), report_time)
    }
}

/// Sorts `rows` by agent name, start and duration, the order the overlap rule of [`build_segments`] reads them in,
/// and gives each agent's run of them (`strings`: those of the rows).
pub(super) fn runs_by_agent(rows: &mut [StateRow], strings: &Strings) -> Vec<(u32, std::ops::Range<usize>)> {
    let name = |id: u32| strings.get(id);
    rows.sort_by(|a, b| (name(a.agent), a.start, a.duration_secs).cmp(&(name(b.agent), b.start, b.duration_secs)));
    let mut agents = Vec::new();
    let mut i = 0;
    while i < rows.len() {
        let j = i + rows[i..].iter().take_while(|r| r.agent == rows[i].agent).count();
        agents.push((rows[i].agent, i..j));
        i = j;
    }
    agents
}

/// Folds one agent's `rows` (in the order of [`runs_by_agent`]) onto the segments before them, by the overlap rule
/// of [`build_segments`], the rows read by reports generated by `report_time`. Only segments that end after a row's
/// start are ever changed or dropped: the last one, and the resumed parts of longer states after it. A segment
/// ending at `MAX_UTC` is a carried state still going on when carried ([`super::carry`]): known to last until
/// `carried_until`, its end not known.
pub(super) fn fold_rows(
    segs: &mut Vec<Seg>,
    rows: &[StateRow],
    strings: &Strings,
    report_time: DateTime<Utc>,
    carried_until: Option<DateTime<Utc>>,
) {
    let logout = |state: u32| is_logout(strings.get(state));
    // How long a segment is known to last: its end, or for a carried state going on when carried, until then.
    let known_end = |s: &Seg| {
        if s.end == DateTime::<Utc>::MAX_UTC { carried_until.unwrap_or(s.start).min(s.end) } else { s.end }
    };
    // The resumed parts of longer states that start after a row, taken off while the row is placed.
    let mut waiting: Vec<Seg> = Vec::new();
    for (j, r) in rows.iter().enumerate() {
        let mut start = r.start;
        let end = Duration::try_seconds(i64::from(r.duration_secs))
            .and_then(|d| r.start.checked_add_signed(d))
            .unwrap_or(r.start);
        // A row that starts before the resumed part of a longer state lies inside the shorter state before it.
        while let [.., before, last] = segs.as_slice()
            && resumed(before, last)
            && last.start > r.start
        {
            waiting.extend(segs.pop());
        }
        let mut resume = None;
        if let Some(prev) = segs.last_mut()
            && start < prev.end
        {
            if r.start == prev.orig_start {
                start = prev.end;
            } else if end < known_end(prev)
                && !logout(r.state)
                && !goes_on_at(strings.get(r.state), Some(end), report_time)
            {
                // A state that begins and ends inside a longer one, known to outlast it: the longer one resumes
                // where it ends. Not after a logout, nor a state still going on when the report ran (nothing is
                // known after it). A carried state going on when carried is known to outlast a state that ends
                // before it was carried; it stays open after it (the agent's next row ends it). A zero-length
                // state inside it (dropped, as zero-length states are) does not end it: it goes on.
                if end == r.start {
                    segs.extend(waiting.drain(..).rev());
                    continue;
                }
                resume = Some(Seg { start: end, ..*prev });
                prev.end = start;
            } else {
                prev.end = start;
            }
        }
        if segs.last().is_some_and(|p| p.end <= p.start && !logout(p.state)) {
            segs.pop();
        }
        // A zero-length state is dropped unless it is a logout or the agent's last row (a state that has just
        // begun when the report ran).
        if end > start || logout(r.state) || j + 1 == rows.len() {
            segs.push(Seg { orig_start: r.start, start, end: end.max(start), state: r.state, reason: r.reason });
        }
        if logout(r.state) {
            // A logout ends every state of the agent.
            waiting.clear();
        }
        // The resumed parts after this row, in order, each from where the row ends (gone if the row outlasts it).
        let after = end.max(start);
        for mut seg in resume.into_iter().chain(waiting.drain(..).rev()) {
            seg.start = seg.start.max(after);
            if seg.start < seg.end {
                segs.push(seg);
            }
        }
    }
}

/// Whether `seg`, the segment after `before`, is the resumed part of a longer state: begun before `before`'s state
/// (a segment of a later row begins at or after it).
fn resumed(before: &Seg, seg: &Seg) -> bool {
    seg.orig_start < before.orig_start
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use chrono_tz::America::Los_Angeles;

    pub(in crate::five9) fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }
    pub(in crate::five9) fn win(a: &str, b: &str) -> TimeWindow {
        TimeWindow::new(utc(a), utc(b)).unwrap()
    }

    const HEADER: &str = "CALL ID,TIMESTAMP,CAMPAIGN,CALL TYPE,AGENT,AGENT NAME,DISPOSITION,QUEUE WAIT TIME,TALK TIME,HOLD TIME,AFTER CALL WORK TIME,ABANDONED\n";

    #[test]
    fn a_csv_cut_inside_a_quoted_field_is_malformed_never_a_shorter_report() {
        // The csv crate reads a quoted field still open at the end as complete: the cut row would be kept and the
        // rows after it lost without a word.
        let header = HEADER.replace("ABANDONED\n", "ABANDONED,NOTES\n");
        let row = |id: u32, notes: &str| {
            format!(
                "{id},\"Mon, 25 Nov 2024 05:0{id}:00\",Sales,Inbound,a@x,Ann,Done,00:00:20,00:05:00,00:00:00,00:00:30,0,{notes}\n"
            )
        };
        let whole =
            format!("{header}{}{}{}", row(1, "\"Asked about \"\"plans\"\",\nthen left\""), row(2, ""), row(3, "x"));
        let w = win("2024-11-25T13:00:00Z", "2024-11-25T14:00:00Z");
        assert_eq!(aggregate_call_log(&whole, "CAMPAIGN", Los_Angeles, w, w).unwrap().rows, 3);
        let cut = &whole[..whole.find("then left").unwrap()];
        let e = aggregate_call_log(cut, "CAMPAIGN", Los_Angeles, w, w).unwrap_err();
        assert!(e.0.contains("ends inside a quoted field"), "{e:?}");
        // A text that ends right after a closed quoted field, or with a bare quote inside an unquoted field, is whole.
        let closed = format!("{header}{}", row(1, "\"ok\"")).trim_end().to_owned();
        assert_eq!(aggregate_call_log(&closed, "CAMPAIGN", Los_Angeles, w, w).unwrap().rows, 1);
        let bare = format!("{header}{}", row(1, "5\" monitor"));
        assert_eq!(aggregate_call_log(&bare, "CAMPAIGN", Los_Angeles, w, w).unwrap().rows, 1);
        // Agent State Details too.
        let states = "DATE,TIME,AGENT,STATE,AGENT STATE TIME,REASON CODE\n2024-11-25,05:00:00,a@x,Not Ready,00:10:00,\"Lunch, lo";
        let e = parse_agent_states(states, Los_Angeles, w).unwrap_err();
        assert!(e.0.contains("Agent State Details report's CSV ends inside a quoted field"), "{e:?}");
    }

    #[test]
    fn the_quote_watch_reads_across_any_split_of_the_text() {
        let text = b"a,\"x \"\"y\"\", z\",\"\"\n\"open,\"\"";
        for split in 0..=text.len() {
            let mut watch = QuoteWatch::default();
            watch.feed(&text[..split]);
            watch.feed(&text[split..]);
            assert!(watch.ended_in_a_quoted_field(), "split at {split}");
            let mut whole = watch;
            whole.feed(b"\"\n");
            assert!(!whole.ended_in_a_quoted_field(), "split at {split}");
        }
    }

    #[test]
    fn call_log_sums_follow_the_documented_definitions() {
        let csv = format!(
            "{HEADER}\
1,\"Mon, 25 Nov 2024 05:00:00\",\"Sales & \"\"Support\"\", Inc\",Inbound,a@x,\"Doe, Jane\",Done,00:00:20,00:05:00,00:01:00,00:00:30,0\n\
2,\"Mon, 25 Nov 2024 05:14:59\",\"Sales & \"\"Support\"\", Inc\",Inbound,[None],,Abandon,00:01:00,00:00:00,00:00:00,00:00:00,1\n\
3,\"Mon, 25 Nov 2024 05:15:00\",\"Sales & \"\"Support\"\", Inc\",Inbound,b@x,Bé,Done,00:00:05,00:02:00,00:00:00,00:00:00,0\n\
4,\"Mon, 25 Nov 2024 05:16:00\",\"Sales & \"\"Support\"\", Inc\",Outbound,b@x,Bé,Done,00:00:00,00:09:00,00:00:00,00:00:00,0\n\
5,\"Mon, 25 Nov 2024 05:20:00\",\"Sales & \"\"Support\"\", Inc\",Inbound,[None],,IVR,00:00:00,00:00:00,00:00:00,00:00:00,-\n\
6,\"Mon, 25 Nov 2024 06:00:00\",\"Sales & \"\"Support\"\", Inc\",Inbound,b@x,Bé,Done,00:00:05,00:02:00,00:00:00,00:00:00,0\n"
        );
        let w = win("2024-11-25T13:00:00Z", "2024-11-25T14:00:00Z");
        let r = aggregate_call_log(&csv, "CAMPAIGN", Los_Angeles, w, w).unwrap();
        assert_eq!(r.rows, 6);
        let q = &r.sums.by_queue["Sales & \"Support\", Inc"];
        assert_eq!(q.len(), 2, "the 14:00Z call is outside [start, end)");
        let first = q[&utc("2024-11-25T13:00:00Z")];
        assert_eq!(
            first,
            Sums { offered: 2, handled: 1, abandoned: 1, handle_time_ms: 330_000, answer_time_ms: 20_000 }
        );
        let second = q[&utc("2024-11-25T13:15:00Z")];
        assert_eq!(
            second,
            Sums { offered: 2, handled: 1, abandoned: 0, handle_time_ms: 120_000, answer_time_ms: 5_000 }
        );
    }

    #[test]
    fn a_blank_or_dash_duration_is_malformed_never_zero() {
        // Read as zero, a blank TALK TIME made a handled call one only offered (and its handle time 0), and a blank
        // AGENT STATE TIME gave the state no length (dropped), in a window then taken as complete. five9.md
        // documents durations as `HH:MM:SS` only: an abandoned call's TALK TIME is `00:00:00`.
        let w = win("2024-11-25T13:00:00Z", "2024-11-25T14:00:00Z");
        let call = |wait: &str, talk: &str, acw: &str| {
            format!("{HEADER}1,\"Mon, 25 Nov 2024 05:00:00\",S,Inbound,a@x,Ann,Done,{wait},{talk},00:00:00,{acw},0\n")
        };
        let ok = aggregate_call_log(&call("00:00:20", "00:05:00", "00:00:30"), "CAMPAIGN", Los_Angeles, w, w).unwrap();
        assert_eq!(ok.sums.by_queue["S"][&w.start].handled, 1);
        for blank in ["", " ", "-"] {
            for (csv, column) in [
                (call("00:00:20", blank, "00:00:30"), "TALK TIME"),
                (call("00:00:20", "00:05:00", blank), "AFTER CALL WORK TIME"),
                (call(blank, "00:05:00", "00:00:30"), "QUEUE WAIT TIME"),
            ] {
                let e = aggregate_call_log(&csv, "CAMPAIGN", Los_Angeles, w, w).unwrap_err();
                assert_eq!(e.1, ReportErrorKind::Malformed, "{column} {blank:?}: {e:?}");
                assert!(e.0.contains(&format!("unreadable {column}")), "{column} {blank:?}: {e:?}");
            }
            let states = format!(
                "DATE,TIME,AGENT,STATE,AGENT STATE TIME,REASON CODE\n\
2024-11-25,05:00:00,a@x,Ready,00:01:00,\n2024-11-25,05:01:00,a@x,Not Ready,{blank},Lunch\n"
            );
            let e = parse_agent_states(&states, Los_Angeles, w).unwrap_err();
            assert_eq!(e.1, ReportErrorKind::Malformed, "{blank:?}: {e:?}");
            assert!(e.0.contains("row 3: unreadable AGENT STATE TIME"), "{blank:?}: {e:?}");
        }
        // `00:00:00` is a duration: an abandoned call's talk time, a logout's state time.
        let abandoned =
            aggregate_call_log(&call("00:00:42", "00:00:00", "00:00:00"), "CAMPAIGN", Los_Angeles, w, w).unwrap();
        assert_eq!(abandoned.sums.by_queue["S"][&w.start].offered, 1);
    }

    #[test]
    fn a_row_just_before_a_report_in_the_repeated_hour_is_skipped_and_warned_about_not_an_hour_off() {
        // A report over the second 01:15–01:30 of the fall-back day (09:15Z–09:30Z) whose first row is at 01:14:58,
        // 2 s before it: read an hour early (08:14:58Z) it lay beyond the tolerance and failed the read as a wrong
        // time zone, every run. It is 2 s outside: skipped, counted, warned about.
        let w = win("2024-11-03T09:15:00Z", "2024-11-03T09:30:00Z");
        let csv = format!(
            "{HEADER}\
1,\"Sun, 03 Nov 2024 01:14:58\",S,Inbound,a,A,Done,00:00:20,00:05:00,00:00:00,00:00:30,0\n\
2,\"Sun, 03 Nov 2024 01:16:00\",S,Inbound,a,A,Done,00:00:20,00:05:00,00:00:00,00:00:30,0\n"
        );
        let r = aggregate_call_log(&csv, "CAMPAIGN", Los_Angeles, w, w).unwrap();
        assert_eq!((r.rows, r.rows_outside_window), (2, 1));
        assert_eq!(r.farthest_outside, Duration::seconds(2));
        assert!(r.farthest_outside <= OUTSIDE_TOLERANCE, "within the tolerance: a warning, not an error");
        assert_eq!(r.sums.by_queue["S"].keys().collect::<Vec<_>>(), [&utc("2024-11-03T09:15:00Z")]);
        let states = "DATE,TIME,AGENT,STATE,AGENT STATE TIME,REASON CODE\n\
2024-11-03,01:14:58,a,Ready,00:01:00,\n2024-11-03,01:16:00,a,Not Ready,00:01:00,\n";
        let rows = parse_agent_states(states, Los_Angeles, w).unwrap();
        let starts: Vec<_> = rows.rows.iter().map(|r| r.start).collect();
        assert_eq!(starts, [utc("2024-11-03T09:14:58Z"), utc("2024-11-03T09:16:00Z")]);
        assert_eq!(outside_by(w, starts[0]), Some(Duration::seconds(2)));
    }

    #[test]
    fn truncated_or_corrupt_call_logs_fail_whole() {
        let w = win("2024-11-25T13:00:00Z", "2024-11-25T14:00:00Z");
        let full = format!(
            "{HEADER}1,\"Mon, 25 Nov 2024 05:00:00\",S,Inbound,a,A,Done,00:00:20,00:05:00,00:01:00,00:00:30,0\n"
        );
        for cut in [full.len() - 2, full.len() - 20, HEADER.len() + 30] {
            assert!(aggregate_call_log(&full[..cut], "CAMPAIGN", Los_Angeles, w, w).is_err(), "cut at {cut}");
        }
        let missing = aggregate_call_log(&full, "SKILL", Los_Angeles, w, w).unwrap_err();
        assert!(missing.0.contains("SKILL") && missing.1 == ReportErrorKind::MissingColumn, "{missing:?}");
        assert_eq!(aggregate_call_log(HEADER, "CAMPAIGN", Los_Angeles, w, w).unwrap().rows, 0);
    }

    #[test]
    fn agent_states_with_their_timestamp_in_time_alone_are_read() {
        // The reference's Agent State Details layout (AGENT, STATE, TIME, …): no DATE column. Until 2026-12-08 it
        // was "no header line", every read of the integration failing. A TIME of a time of day only stays
        // unreadable.
        let w = win("2024-11-25T13:00:00Z", "2024-11-25T14:00:00Z");
        let header = "AGENT,STATE,TIME,REASON CODE,AGENT STATE TIME\n";
        let rows =
            parse_agent_states(&format!("{header}a,Ready,\"Mon, 25 Nov 2024 05:00:00\",,00:01:00\n"), Los_Angeles, w)
                .unwrap();
        assert_eq!(rows.rows.len(), 1);
        assert_eq!(rows.rows[0].start, "2024-11-25T13:00:00Z".parse::<DateTime<Utc>>().unwrap());
        let e = parse_agent_states(&format!("{header}a,Ready,05:00:00,,00:01:00\n"), Los_Angeles, w).unwrap_err();
        assert!(e.0.contains("unreadable timestamp"), "{e:?}");
    }

    #[test]
    fn a_report_without_its_header_line_is_malformed_never_empty() {
        let w = win("2024-11-25T13:00:00Z", "2024-11-25T14:00:00Z");
        let row = "1,\"Mon, 25 Nov 2024 05:00:00\",S,Inbound,a,A,Done,00:00:20,00:05:00,00:01:00,00:00:30,0\n";
        for csv in ["", "\n", "  \r\n", "\u{feff}", row] {
            let e = aggregate_call_log(csv, "CAMPAIGN", Los_Angeles, w, w).unwrap_err();
            assert_eq!(e.1, ReportErrorKind::Malformed, "{csv:?}: {e:?}");
            assert!(e.0.contains("no header line"), "{csv:?}: {e:?}");
            let e = parse_agent_states(csv, Los_Angeles, w).unwrap_err();
            assert!(e.0.contains("no header line"), "{csv:?}: {e:?}");
        }
        // Every column a definition uses is required (no silent "counts every row" or "no after-call work").
        for column in ["CALL TYPE", "AGENT", "AFTER CALL WORK TIME", "ABANDONED", "TALK TIME", "QUEUE WAIT TIME"] {
            let header: Vec<&str> =
                HEADER.trim_end().split(',').map(|h| if h == column { "OTHER" } else { h }).collect();
            let header = format!("{}\n", header.join(","));
            let e = aggregate_call_log(&format!("{header}{row}"), "CAMPAIGN", Los_Angeles, w, w).unwrap_err();
            assert_eq!(e.1, ReportErrorKind::MissingColumn, "{column}");
            assert!(e.0.contains(column), "{e:?}");
        }
        let states = "AGENT,DATE,TIME,STATE,AGENT STATE TIME\na,\"Mon, 25 Nov 2024\",05:00:00,Ready,00:00:10\n";
        let e = parse_agent_states(states, Los_Angeles, w).unwrap_err();
        assert_eq!((e.0.contains("REASON CODE"), e.1), (true, ReportErrorKind::MissingColumn), "{e:?}");
    }

    fn rows(spec: &[(&str, &str, Option<&str>, &str, u32)]) -> StateRows {
        let mut rows = StateRows::default();
        for (agent, state, reason, start, secs) in spec {
            rows.push(agent, state, *reason, utc(start), *secs);
        }
        rows
    }

    #[test]
    fn appended_rows_keep_their_strings_and_order() {
        let t = |m: i64| utc("2024-05-13T12:00:00Z") + Duration::minutes(m);
        let mut a = StateRows::default();
        a.append(StateRows::default());
        assert!(a.rows.is_empty());
        a.push("ann", "Ready", None, t(0), 60);
        a.push("bob", "Not Ready", Some("Lunch"), t(1), 60);
        // Another report's strings, numbered in another order, one of them new.
        let mut b = StateRows::default();
        b.push("cy", "Ready", None, t(2), 60);
        b.push("bob", "Not Ready", Some("Break"), t(3), 60);
        b.push("ann", "Not Ready", Some("Lunch"), t(4), 60);
        a.append(b);
        let read = |r: &StateRows| -> Vec<(String, String, Option<String>, DateTime<Utc>)> {
            r.rows
                .iter()
                .map(|x| {
                    let s = |i| r.strings.get(i).to_owned();
                    (s(x.agent), s(x.state), r.strings.get_opt(x.reason).map(str::to_owned), x.start)
                })
                .collect()
        };
        let row = |a: &str, s: &str, r: Option<&str>, m| (a.to_owned(), s.to_owned(), r.map(str::to_owned), t(m));
        assert_eq!(
            read(&a),
            [
                row("ann", "Ready", None, 0),
                row("bob", "Not Ready", Some("Lunch"), 1),
                row("cy", "Ready", None, 2),
                row("bob", "Not Ready", Some("Break"), 3),
                row("ann", "Not Ready", Some("Lunch"), 4),
            ]
        );
        // Each string once.
        assert_eq!(a.strings.list.len(), 1 + 7);
    }

    #[test]
    fn overlapping_states_follow_the_rule_and_only_ongoing_states_stay_open() {
        let rows = rows(&[
            ("a", "On Call", None, "2024-11-25T13:00:00Z", 180),
            ("a", "Ready", None, "2024-11-25T13:00:00Z", 5),
            ("a", "After Call Work", None, "2024-11-25T13:03:00Z", 30),
            ("a", "Not Ready", Some("Lunch"), "2024-11-25T13:03:30Z", 600),
            ("b", "Ready", None, "2024-11-25T13:00:00Z", 60),
            ("b", "Logout", Some("End Shift"), "2024-11-25T13:01:00Z", 0),
        ]);
        let w = win("2024-11-25T13:00:00Z", "2024-11-25T14:00:00Z");
        let segs = build_segments(rows, utc("2024-11-25T13:13:31Z"), w);
        let got: Vec<_> = segs.iter().map(|s| (&*s.agent_external_id, &*s.status_id, s.start, s.end)).collect();
        assert_eq!(
            got,
            vec![
                ("a", "Ready", utc("2024-11-25T13:00:00Z"), Some(utc("2024-11-25T13:00:05Z"))),
                ("a", "On Call", utc("2024-11-25T13:00:05Z"), Some(utc("2024-11-25T13:03:00Z"))),
                ("a", "After Call Work", utc("2024-11-25T13:03:00Z"), Some(utc("2024-11-25T13:03:30Z"))),
                ("a", "Not Ready: Lunch", utc("2024-11-25T13:03:30Z"), None),
                ("b", "Ready", utc("2024-11-25T13:00:00Z"), Some(utc("2024-11-25T13:01:00Z"))),
                ("b", "Logout: End Shift", utc("2024-11-25T13:01:00Z"), Some(utc("2024-11-25T13:01:00Z"))),
            ]
        );
        assert_eq!(segs[3].reason.as_deref(), Some("Lunch"));
    }

    #[test]
    fn a_longer_state_resumes_where_a_shorter_one_inside_it_ends() {
        // five9.md: when two states overlap, the longer one starts where the shorter ends. a: On Call inside Not
        // Ready, then Ready at 13:05. b: a pair written at 13:00:02 inside Not Ready (the Ready first, the On Call
        // from its end). c: a logout inside Not Ready ends it. d: the shorter state still going on when the report
        // ran: nothing is known after it. e: After Call Work outlasts On Call: no resume. f: a zero-length state
        // inside Not Ready (dropped, as zero-length states are) does not end it.
        let rows = rows(&[
            ("a", "Not Ready", Some("Break"), "2024-11-25T13:00:00Z", 300),
            ("a", "On Call", None, "2024-11-25T13:00:02Z", 58),
            ("a", "Ready", None, "2024-11-25T13:05:00Z", 60),
            ("b", "Not Ready", None, "2024-11-25T13:00:00Z", 300),
            ("b", "Ready", None, "2024-11-25T13:00:02Z", 3),
            ("b", "On Call", None, "2024-11-25T13:00:02Z", 58),
            ("c", "Not Ready", None, "2024-11-25T13:00:00Z", 300),
            ("c", "Logout", None, "2024-11-25T13:01:00Z", 0),
            ("d", "Not Ready", None, "2024-11-25T13:00:00Z", 600),
            ("d", "On Call", None, "2024-11-25T13:09:00Z", 60),
            ("e", "On Call", None, "2024-11-25T13:00:00Z", 180),
            ("e", "After Call Work", None, "2024-11-25T13:02:50Z", 30),
            ("f", "Not Ready", None, "2024-11-25T13:00:00Z", 300),
            ("f", "Ready", None, "2024-11-25T13:01:00Z", 0),
            ("f", "On Call", None, "2024-11-25T13:05:00Z", 60),
        ]);
        let w = win("2024-11-25T13:00:00Z", "2024-11-25T14:00:00Z");
        let segs = build_segments(rows, utc("2024-11-25T13:10:00Z"), w);
        let got: Vec<_> = segs.iter().map(|s| (&*s.agent_external_id, &*s.status_id, s.start, s.end)).collect();
        let seg = |a, s, from: &str, to: Option<&str>| (a, s, utc(from), to.map(utc));
        assert_eq!(
            got,
            vec![
                seg("a", "Not Ready: Break", "2024-11-25T13:00:00Z", Some("2024-11-25T13:00:02Z")),
                seg("a", "On Call", "2024-11-25T13:00:02Z", Some("2024-11-25T13:01:00Z")),
                seg("a", "Not Ready: Break", "2024-11-25T13:01:00Z", Some("2024-11-25T13:05:00Z")),
                seg("a", "Ready", "2024-11-25T13:05:00Z", Some("2024-11-25T13:06:00Z")),
                seg("b", "Not Ready", "2024-11-25T13:00:00Z", Some("2024-11-25T13:00:02Z")),
                seg("b", "Ready", "2024-11-25T13:00:02Z", Some("2024-11-25T13:00:05Z")),
                seg("b", "On Call", "2024-11-25T13:00:05Z", Some("2024-11-25T13:01:00Z")),
                seg("b", "Not Ready", "2024-11-25T13:01:00Z", Some("2024-11-25T13:05:00Z")),
                seg("c", "Not Ready", "2024-11-25T13:00:00Z", Some("2024-11-25T13:01:00Z")),
                seg("c", "Logout", "2024-11-25T13:01:00Z", Some("2024-11-25T13:01:00Z")),
                seg("d", "Not Ready", "2024-11-25T13:00:00Z", Some("2024-11-25T13:09:00Z")),
                seg("d", "On Call", "2024-11-25T13:09:00Z", None),
                seg("e", "On Call", "2024-11-25T13:00:00Z", Some("2024-11-25T13:02:50Z")),
                seg("e", "After Call Work", "2024-11-25T13:02:50Z", Some("2024-11-25T13:03:20Z")),
                seg("f", "Not Ready", "2024-11-25T13:00:00Z", Some("2024-11-25T13:05:00Z")),
                seg("f", "On Call", "2024-11-25T13:05:00Z", Some("2024-11-25T13:06:00Z")),
            ]
        );
    }

    #[test]
    fn segments_share_their_agent_status_and_reason_strings() {
        let rows = rows(&[
            ("a", "Ready", None, "2024-11-25T13:00:00Z", 60),
            ("a", "Not Ready", Some("Lunch"), "2024-11-25T13:01:00Z", 60),
            ("a", "Ready", None, "2024-11-25T13:02:00Z", 60),
            ("b", "Not Ready", Some("Lunch"), "2024-11-25T13:00:00Z", 60),
            ("b", "Ready", None, "2024-11-25T13:01:00Z", 60),
        ]);
        let w = win("2024-11-25T13:00:00Z", "2024-11-25T14:00:00Z");
        let segs = build_segments(rows, utc("2024-11-25T14:00:00Z"), w);
        let got: Vec<_> = segs.iter().map(|s| (&*s.agent_external_id, &*s.status_id, s.reason.as_deref())).collect();
        assert_eq!(
            got,
            [
                ("a", "Ready", None),
                ("a", "Not Ready: Lunch", Some("Lunch")),
                ("a", "Ready", None),
                ("b", "Not Ready: Lunch", Some("Lunch")),
                ("b", "Ready", None),
            ]
        );
        // One string each, whatever the number of segments: an agent's id, a status id, a reason code.
        let same = |i: usize, j: usize, f: fn(&AgentSegment) -> &Arc<str>| Arc::ptr_eq(f(&segs[i]), f(&segs[j]));
        assert!(same(0, 1, |s| &s.agent_external_id) && same(0, 2, |s| &s.agent_external_id));
        assert!(same(3, 4, |s| &s.agent_external_id) && !same(0, 3, |s| &s.agent_external_id));
        assert!(same(0, 2, |s| &s.status_id) && same(0, 4, |s| &s.status_id) && same(1, 3, |s| &s.status_id));
        assert!(same(1, 3, |s| s.reason.as_ref().expect("a reason")));
    }
}
