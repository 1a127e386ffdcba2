//! Five9's API budget: the per-operation-type counters `getCallCountersState` reports, what one import fetch
//! costs, the hourly/daily pacing of back-fill days ([`crate::Connector::pace_next_day`]) and the per-minute pacing
//! of report calls.

use super::*;

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
    /// What `reports` reports call: each one `runReport`, one `getReportResultCsv` and up to `polls_per_report`
    /// `isReportRunning` long polls; plus one `getSkills` (the refresh after a skill rename).
    pub fn of_reports(reports: u64, polls_per_report: u64) -> Self {
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

impl Five9Connector {
    /// What the import's next fetch calls: the Call Log reports of `next.stats` and the Agent State Details reports
    /// of `next.segments` (with the look-back before it unless the states running into its start are carried),
    /// windows planned exactly as the fetch will plan them — for a large domain, by the rows its hours are expected
    /// to hold ([`super::density`]). A report that comes back at the row limit is run again in halves, two more;
    /// that comes out of the reserve. Hours not seen yet are priced as the fetch the import paced last plans them
    /// (`Allowance::unseen`).
    pub fn fetch_cost(&self, next: &NextFetch) -> CallCost {
        self.fetch_cost_with(next, self.paced_unseen())
    }

    /// [`Five9Connector::fetch_cost`] with the hours not seen yet priced as `unseen` says.
    fn fetch_cost_with(&self, next: &NextFetch, unseen: UnseenHours) -> CallCost {
        let calls = self.plan_calls(next.stats).len();
        let states = next.segments.map_or(0, |w| self.plan_states(next.agents, self.state_reads(w).0, unseen).len());
        CallCost::of_reports((calls + states) as u64, self.opts.polls_per_report)
    }

    /// `getCallCountersState` checked against the next fetch's cost ([`Connector::pace_next_day`]): [`day_pace`],
    /// and for a single day too large with its unseen hours planned as busy, the same day priced with them at the
    /// average (if that is not too large, the fetch is planned so). Records the paced fetch: its room above the
    /// reserve on [`Pace::Go`], and how its unseen hours are planned.
    pub(super) async fn pace_fetch(&self, next: &NextFetch, deadline: Deadline) -> Result<Pace, ConnectorError> {
        let counters = self.call_counters(deadline).await?;
        let price = |unseen| day_pace(&counters, self.fetch_cost_with(next, unseen), self.opts.budget_reserve_percent);
        let (mut pace, mut unseen) = (price(UnseenHours::Busy), UnseenHours::Busy);
        if matches!(pace, Pace::TooLarge { .. }) && next.stats.duration() <= Duration::days(1) {
            let by_average = price(UnseenHours::Average);
            if !matches!(by_average, Pace::TooLarge { .. }) {
                (pace, unseen) = (by_average, UnseenHours::Average);
            }
        }
        let room = (pace == Pace::Go).then(|| self.reports_room(&counters, self.outstanding()).0);
        let mut allowance = self.allowance.lock().unwrap_or_else(|p| p.into_inner());
        allowance.unseen = unseen;
        if room.is_some() {
            allowance.left = room;
        }
        Ok(pace)
    }

    /// How the fetch the import paced last plans hours not seen yet ([`Allowance::unseen`]).
    pub(super) fn paced_unseen(&self) -> UnseenHours {
        self.allowance.lock().unwrap_or_else(|p| p.into_inner()).unseen
    }

    /// Called before each report. Within a fetch the import paced ([`crate::Connector::pace_next_day`] answered
    /// go), takes one report of the room the counters showed above the reserve. Once that is spent — the fetch
    /// needed more reports than planned: a report that reached the row limit is run again in halves (a large
    /// domain's first fetch, planned before its busy hours are known, can need several times its plan) — the
    /// counters are read again (the hour may have turned, other users may have spent), and with still no room the
    /// report is not run: `BudgetSpent`, before Five9 refuses anything, the reserve left to the domain's other API
    /// users. Reports of fetches the import does not pace (a caught-up integration's reconciliation re-read) are
    /// not limited.
    ///
    /// The caller keeps the returned mark until the report's result came back, and marks it [`PendingReport::sent`]
    /// once its `runReport` did: the calls of reports taken but not all made yet are not in the counters read again,
    /// so they are taken off the room those show, each from its own counter ([`Allowance::outstanding`]) — a report
    /// not sent yet (waiting for the pacer or the request lock) its run, retrieval and polls; one sent its retrieval
    /// and polls (until 2026-12-05 only reports not sent yet were: with the retrievals binding, a re-read let a
    /// report run into the reserve, or with no reserve past Five9's limit). A call counted by Five9 whose answer is
    /// still on its way is taken off twice: at worst as many reports fewer as run at once, the Call Log and two Agent
    /// State reports.
    pub(super) async fn spend_allowance(&self, deadline: Deadline) -> Result<PendingReport<'_>, ConnectorError> {
        {
            let mut a = self.allowance.lock().unwrap_or_else(|p| p.into_inner());
            match a.left {
                None => return Ok(PendingReport::unlimited()),
                Some(n) if n > 0 => {
                    a.take_from(n);
                    return Ok(PendingReport::of(&self.allowance));
                }
                Some(_) => {}
            }
        }
        let counters = self.call_counters(deadline).await?;
        let mut a = self.allowance.lock().unwrap_or_else(|p| p.into_inner());
        let (room, binding) = self.reports_room(&counters, a.outstanding(self.opts.polls_per_report));
        if a.take_from(room) {
            Ok(PendingReport::of(&self.allowance))
        } else {
            Err(ConnectorError::BudgetSpent { reason: binding.unwrap_or_else(|| "no room for another report".into()) })
        }
    }

    /// The calls of the reports taken but not all made yet ([`Allowance::outstanding`]).
    fn outstanding(&self) -> CallCost {
        self.allowance.lock().unwrap_or_else(|p| p.into_inner()).outstanding(self.opts.polls_per_report)
    }

    /// [`reports_room`] with this connector's polls per report and reserve, less the `outstanding` calls.
    pub(super) fn reports_room(&self, counters: &[CallCounterState], outstanding: CallCost) -> (u64, Option<String>) {
        let per_report = CallCost { query: self.opts.polls_per_report, report_request: 1, retrieve_report: 1 };
        reports_room(counters, per_report, self.opts.budget_reserve_percent, outstanding)
    }

    /// Current usage of the domain's API limits (`getCallCountersState`, itself not limited). The import reads it
    /// before a back-fill to pace it within the hourly and daily budgets.
    pub async fn call_counters(&self, deadline: Deadline) -> Result<Vec<CallCounterState>, ConnectorError> {
        let (resp, _) = self.call("getCallCountersState", &[], deadline).await?;
        let counters = parse_call_counters(&resp)?;
        let (counters, assumed) = with_default_report_limits(counters);
        if !assumed.is_empty() {
            tracing::warn!(
                assumed = %assumed.join(", "),
                "getCallCountersState lists no counter of these report operations: paced at Five9's default limits"
            );
        }
        Ok(counters)
    }
}

/// The counters of a `getCallCountersState` response: one per `callCounterStates` of each `return`
/// (`limitTimeoutState`), with the window (`timeout`, seconds) it counts in. `limit`, `value` and `timeout` are
/// required by the schema (a counter or window without them is malformed); `operationType` is optional (a counter
/// without it is left out of the budget, as unknown types are), and a counter may be nil (`xsi:nil`: no content),
/// which counts nothing and is skipped.
pub fn parse_call_counters(resp: &Element) -> Result<Vec<CallCounterState>, ConnectorError> {
    let mut out = Vec::new();
    for state in resp.children_named("return") {
        let window_secs = parse_u64(state.child_text("timeout"), "limitTimeoutState.timeout")?;
        for c in state.children_named("callCounterStates") {
            if c.children.is_empty() && c.text.trim().is_empty() {
                continue;
            }
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

/// Five9's documented default limits of the report operations, per minute, hour and day
/// (`../shared/acd-apis/five9.md`, "Rate limits").
const DEFAULT_REPORT_LIMITS: [(&str, [(u64, u64); 3]); 2] = [
    ("ReportRequest", [(60, 16), (3_600, 120), (86_400, 800)]),
    ("RetrieveReport", [(60, 20), (3_600, 200), (86_400, 1_000)]),
];

/// The counters, plus, for a report operation type the answer has no counter of, Five9's default limits with
/// nothing used (the reserve kept free stands for the unknown use of other API users), and the types so assumed.
/// The schema lets an answer leave counters out (`return` is optional, `callCounterStates` nillable, `operationType`
/// optional): read as "no limits", such an answer would let a back-fill run unpaced into the domain's budgets, and
/// refused, it would stop the back-fill for good.
pub fn with_default_report_limits(mut counters: Vec<CallCounterState>) -> (Vec<CallCounterState>, Vec<&'static str>) {
    let mut assumed = Vec::new();
    for (operation_type, windows) in DEFAULT_REPORT_LIMITS {
        if counters.iter().any(|c| c.operation_type == operation_type) {
            continue;
        }
        assumed.push(operation_type);
        counters.extend(windows.iter().map(|&(window_secs, limit)| CallCounterState {
            window_secs,
            operation_type: operation_type.to_owned(),
            limit,
            value: 0,
        }));
    }
    (counters, assumed)
}

/// The fetch the import paced last ([`Five9Connector::pace_fetch`]): what it may still run
/// ([`Five9Connector::spend_allowance`]) and how it plans hours not seen yet.
#[derive(Debug, Default)]
pub(super) struct Allowance {
    /// Reports left of the room the counters last showed above the reserve; `None`: no fetch was paced, none is
    /// limited.
    pub(super) left: Option<u64>,
    /// Reports taken whose `runReport` has not come back yet.
    unsent: u64,
    /// Reports whose `runReport` came back and whose result has not yet.
    unretrieved: u64,
    /// How the Agent State Details reports plan hours of the domain's day not seen yet: as busy ones until a
    /// budget check priced a day by the average ([`Five9Connector::pace_fetch`]).
    unseen: UnseenHours,
}

/// How hours of the domain's day not seen yet are priced when Agent State Details reports are planned
/// ([`Five9Connector::plan_states`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) enum UnseenHours {
    /// As busy hours: the average times [`Five9Options::unseen_hour_factor`] (a report's together at most what
    /// its span of a day holds).
    #[default]
    Busy,
    /// At the average ([`Five9Options::state_rows_per_agent_hour`]).
    Average,
}

impl Allowance {
    /// The calls the reports taken but not all made yet will still make, which counters read now do not count: a
    /// report not sent yet its `runReport`, and each of them its retrieval and up to `polls_per_report` polls.
    fn outstanding(&self, polls_per_report: u64) -> CallCost {
        let open = self.unsent + self.unretrieved;
        CallCost { query: open * polls_per_report, report_request: self.unsent, retrieve_report: open }
    }

    /// One report taken from `room`: what is left of the room the counters last showed, or the reports counters
    /// just read have room for (the outstanding calls already taken off); `false` when none is left.
    fn take_from(&mut self, room: u64) -> bool {
        if room == 0 {
            return false;
        }
        self.left = Some(room - 1);
        self.unsent += 1;
        true
    }
}

/// A report taken from the [`Allowance`] (none when the fetch is not paced), outstanding until dropped: after its
/// result came back, or it failed.
pub(super) struct PendingReport<'a> {
    allowance: Option<&'a StdMutex<Allowance>>,
    sent: bool,
}

impl<'a> PendingReport<'a> {
    fn of(allowance: &'a StdMutex<Allowance>) -> Self {
        Self { allowance: Some(allowance), sent: false }
    }

    fn unlimited() -> Self {
        Self { allowance: None, sent: false }
    }

    /// Its `runReport` came back (Five9 counts it): only its retrieval and polls are still to come.
    pub(super) fn sent(&mut self) {
        if let Some(allowance) = self.allowance
            && !self.sent
        {
            let mut a = allowance.lock().unwrap_or_else(|p| p.into_inner());
            a.unsent = a.unsent.saturating_sub(1);
            a.unretrieved += 1;
            self.sent = true;
        }
    }
}

impl Drop for PendingReport<'_> {
    fn drop(&mut self) {
        if let Some(allowance) = self.allowance {
            let mut a = allowance.lock().unwrap_or_else(|p| p.into_inner());
            if self.sent {
                a.unretrieved = a.unretrieved.saturating_sub(1);
            } else {
                a.unsent = a.unsent.saturating_sub(1);
            }
        }
    }
}

/// An hourly or daily counter of an operation type `cost` counts, the window's name, the share of its limit kept
/// free for other API users, and the cost.
struct Budgeted<'a> {
    c: &'a CallCounterState,
    per: &'static str,
    reserve: u64,
    cost: u64,
}

/// The counters the budget checks weigh (per-minute counters are left to the connector's pacers, unknown operation
/// types to their users), each with its reserve (`reserve_percent` of its limit, rounded up) and what `cost` calls.
fn budgeted<'a>(
    counters: &'a [CallCounterState],
    cost: CallCost,
    reserve_percent: u8,
) -> impl Iterator<Item = Budgeted<'a>> {
    counters.iter().filter_map(move |c| {
        let per = match c.window_secs {
            3_600 => "hour",
            86_400 => "day",
            _ => return None,
        };
        let cost = cost.of(&c.operation_type)?;
        let reserve = c.limit.saturating_mul(u64::from(reserve_percent.min(100))).div_ceil(100);
        Some(Budgeted { c, per, reserve, cost })
    })
}

/// [`Pace::Wait`] when an hourly or daily counter has less left than `cost` plus `reserve_percent` of its limit
/// (the reason names every such counter), [`Pace::TooLarge`] when `cost` and the reserve pass a counter's whole
/// limit (no later window would have room for them); per-minute counters are left to the connector's pacers.
pub(super) fn day_pace(counters: &[CallCounterState], cost: CallCost, reserve_percent: u8) -> Pace {
    let (mut short, mut never) = (Vec::new(), Vec::new());
    for Budgeted { c, per, reserve, cost: need } in budgeted(counters, cost, reserve_percent) {
        if c.limit < need.saturating_add(reserve) {
            never.push(format!(
                "{}: the next import days need {need} of {} per {per}, more than the limit leaves with {reserve} kept \
                 free for other API users",
                c.operation_type, c.limit
            ));
        } else if c.limit.saturating_sub(c.value) < need.saturating_add(reserve) {
            short.push(format!(
                "{}: {} of {} per {per} used (the next import days need {need}, {reserve} stay free for other API users)",
                c.operation_type, c.value, c.limit
            ));
        }
    }
    match (never.is_empty(), short.is_empty()) {
        (false, _) => Pace::TooLarge { reason: never.join("; ") },
        (true, false) => Pace::Wait { reason: short.join("; ") },
        (true, true) => Pace::Go,
    }
}

/// How many more reports, each calling `per_report`, the hourly and daily counters have room for above
/// `reserve_percent` of each limit once the `outstanding` calls (made later, not in the counters yet) are made, and
/// the counter that allows the fewest (described, as the reason a fetch stops); `u64::MAX` and no counter when none
/// counts.
pub(super) fn reports_room(
    counters: &[CallCounterState],
    per_report: CallCost,
    reserve_percent: u8,
    outstanding: CallCost,
) -> (u64, Option<String>) {
    let mut fewest = (u64::MAX, None);
    for Budgeted { c, per, reserve, cost } in budgeted(counters, per_report, reserve_percent) {
        if cost == 0 {
            continue;
        }
        let coming = outstanding.of(&c.operation_type).unwrap_or(0);
        let room = c.limit.saturating_sub(c.value).saturating_sub(reserve).saturating_sub(coming) / cost;
        if room < fewest.0 {
            let what = format!(
                "{}: {} of {} per {per} used, {reserve} stay free for other API users",
                c.operation_type, c.value, c.limit
            );
            fewest = (room, Some(what));
        }
    }
    fewest
}

fn parse_u64(raw: Option<&str>, what: &str) -> Result<u64, ConnectorError> {
    raw.and_then(|v| v.trim().parse().ok()).ok_or_else(|| ConnectorError::malformed(format!("{what} is not a number")))
}

/// At most `per_minute` calls in any 60 s of this connector.
#[derive(Debug)]
pub(super) struct Pacer {
    per_minute: usize,
    recent: VecDeque<Instant>,
}

impl Pacer {
    pub(super) fn new(per_minute: usize) -> Self {
        Self { per_minute: per_minute.max(1), recent: VecDeque::new() }
    }
}

/// Reserves a slot, sleeping until one frees up; `DeadlineExceeded` if that wait would pass the deadline: the
/// connector's own per-minute pacing, not a refusal by Five9, so the import ends the run `partial` (the next run goes
/// on) instead of failing it `rate_limited` (until 2026-12-05: a 10,000-agent back-fill whose last fetch began a few
/// minutes before the deadline showed the integration failing for one run).
pub(super) async fn pace(pacer: &StdMutex<Pacer>, deadline: Deadline) -> Result<(), ConnectorError> {
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
            return Err(ConnectorError::DeadlineExceeded);
        }
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod budget_tests {
    use super::*;

    #[tokio::test]
    async fn a_pacing_wait_past_the_deadline_is_the_deadline_not_a_rate_limit() {
        let pacer = StdMutex::new(Pacer::new(1));
        let deadline = Deadline::after(StdDuration::from_secs(5));
        assert_eq!(pace(&pacer, deadline).await, Ok(()));
        // The minute's one call is taken: the next slot is ≈ 60 s away, past the deadline.
        assert_eq!(pace(&pacer, deadline).await, Err(ConnectorError::DeadlineExceeded));
        // With the time to wait for it, the slot is taken after the wait (paused time: no real minute passes).
        tokio::time::pause();
        let pacer = StdMutex::new(Pacer::new(1));
        let deadline = Deadline::after(StdDuration::from_secs(120));
        let started = tokio::time::Instant::now();
        assert_eq!(pace(&pacer, deadline).await, Ok(()));
        assert_eq!(pace(&pacer, deadline).await, Ok(()));
        assert!(started.elapsed() >= StdDuration::from_secs(59), "{:?}", started.elapsed());
    }

    fn counter(window_secs: u64, operation_type: &str, limit: u64, value: u64) -> CallCounterState {
        CallCounterState { window_secs, operation_type: operation_type.into(), limit, value }
    }

    #[test]
    fn a_report_costs_a_run_a_retrieval_and_its_polls() {
        // Three reports polled up to four times each, and one getSkills.
        assert_eq!(CallCost::of_reports(3, 4), CallCost { query: 13, report_request: 3, retrieve_report: 3 });
        assert_eq!(CallCost::of_reports(0, 4), CallCost { query: 1, report_request: 0, retrieve_report: 0 });
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

    #[test]
    fn the_room_for_more_reports_is_the_scarcest_counter_above_its_reserve() {
        let per_report = CallCost { query: 4, report_request: 1, retrieve_report: 1 };
        // 120 runReport an hour, 24 kept free: 90 used leaves room for 6 more; 1,000 retrievals a day (200 kept
        // free) with 797 used, for 3; 15,000 queries an hour (3,000 kept free) with 11,990 used, for 2 polled ones.
        let counters = [
            counter(60, "ReportRequest", 16, 16),
            counter(3_600, "ReportRequest", 120, 90),
            counter(86_400, "RetrieveReport", 1_000, 797),
            counter(3_600, "Other", 1, 1),
        ];
        assert_eq!(
            reports_room(&counters, per_report, 20, NONE),
            (3, Some("RetrieveReport: 797 of 1000 per day used, 200 stay free for other API users".into()))
        );
        let (room, binding) = reports_room(&[counter(3_600, "Query", 15_000, 11_990)], per_report, 20, NONE);
        assert_eq!((room, binding.unwrap().starts_with("Query: 11990 of 15000 per hour")), (2, true));
        // At or past the reserve: no room, named.
        let (room, binding) = reports_room(&[counter(3_600, "ReportRequest", 120, 100)], per_report, 20, NONE);
        assert_eq!(room, 0);
        assert_eq!(
            binding.as_deref(),
            Some("ReportRequest: 100 of 120 per hour used, 24 stay free for other API users")
        );
        // No counter that counts: unlimited.
        assert_eq!(reports_room(&[counter(60, "ReportRequest", 16, 0)], per_report, 20, NONE), (u64::MAX, None));
    }

    /// No outstanding calls.
    const NONE: CallCost = CallCost { query: 0, report_request: 0, retrieve_report: 0 };

    #[test]
    fn the_calls_of_reports_taken_but_not_all_made_yet_are_taken_off_the_room_the_counters_show() {
        let per_report = CallCost { query: 4, report_request: 1, retrieve_report: 1 };
        let allowance = StdMutex::new(Allowance { left: Some(0), ..Allowance::default() });
        let outstanding = || allowance.lock().unwrap().outstanding(4);
        // Two reports taken, not sent yet: every counter will count their calls, none does yet.
        let (mut a, mut b) = (PendingReport::of(&allowance), PendingReport::of(&allowance));
        allowance.lock().unwrap().unsent = 2;
        assert_eq!(outstanding(), CallCost { query: 8, report_request: 2, retrieve_report: 2 });
        let runs = [counter(3_600, "ReportRequest", 10, 6)];
        assert_eq!(reports_room(&runs, per_report, 0, outstanding()).0, 2, "4 left, 2 of them theirs");
        // Sent: Five9 counts their runReport (6 → 8 used), not their retrievals nor their polls.
        a.sent();
        b.sent();
        b.sent(); // once only
        assert_eq!(outstanding(), CallCost { query: 8, report_request: 0, retrieve_report: 2 });
        let runs = [counter(3_600, "ReportRequest", 10, 8)];
        assert_eq!(reports_room(&runs, per_report, 0, outstanding()).0, 2, "runs: theirs are counted");
        let retrievals = [counter(3_600, "RetrieveReport", 10, 6)];
        assert_eq!(reports_room(&retrievals, per_report, 0, outstanding()).0, 2, "4 retrievals left, 2 theirs");
        let polls = [counter(3_600, "Query", 100, 80)];
        assert_eq!(reports_room(&polls, per_report, 0, outstanding()).0, 3, "20 polls left, 8 theirs: 12 / 4");
        // Retrieved (or failed): nothing of theirs is outstanding; a report dropped unsent gives back all of it.
        drop(a);
        assert_eq!(outstanding(), CallCost { query: 4, report_request: 0, retrieve_report: 1 });
        drop(b);
        let c = PendingReport::of(&allowance);
        allowance.lock().unwrap().unsent += 1;
        drop(c);
        assert_eq!(outstanding(), NONE);
        // Taking one from the room the counters leave after them; none when there is no room.
        let mut taken = Allowance::default();
        assert!(!taken.take_from(0));
        assert!(taken.take_from(3));
        assert_eq!((taken.left, taken.unsent), (Some(2), 1));
        // A fetch that is not paced takes nothing.
        let mut free = PendingReport::unlimited();
        free.sent();
        drop(free);
        assert_eq!(outstanding(), NONE);
    }

    #[test]
    fn a_fetch_no_window_has_room_for_is_too_large_not_a_wait() {
        let cost = CallCost { query: 13, report_request: 3, retrieve_report: 3 };
        // 3 per hour, 1 kept free: 3 + 1 never fit, used or not; 4 per hour fit when none is used.
        let Pace::TooLarge { reason } = day_pace(&[counter(3_600, "ReportRequest", 3, 0)], cost, 20) else {
            panic!("expected too large")
        };
        assert_eq!(
            reason,
            "ReportRequest: the next import days need 3 of 3 per hour, more than the limit leaves with 1 kept free \
             for other API users"
        );
        assert_eq!(day_pace(&[counter(3_600, "ReportRequest", 4, 0)], cost, 20), Pace::Go);
        assert!(matches!(day_pace(&[counter(3_600, "ReportRequest", 4, 1)], cost, 20), Pace::Wait { .. }));
        // Too large for one counter outweighs short elsewhere: waiting would not help.
        let counters = [counter(3_600, "ReportRequest", 3, 0), counter(86_400, "RetrieveReport", 800, 800)];
        assert!(matches!(day_pace(&counters, cost, 20), Pace::TooLarge { .. }));
    }
}
