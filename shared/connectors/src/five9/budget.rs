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
    /// that comes out of the reserve.
    pub fn fetch_cost(&self, next: &NextFetch) -> CallCost {
        let calls = self.plan(next.stats, self.opts.max_report_span).len();
        let states = next.segments.map_or(0, |w| self.plan_states(next.agents, self.state_reads(w).0).len());
        CallCost::of_reports((calls + states) as u64, self.opts.polls_per_report)
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
}

/// [`Pace::Wait`] when an hourly or daily counter has less left than `cost` plus `reserve_percent` of its limit
/// (the reason names every such counter), [`Pace::TooLarge`] when `cost` and the reserve pass a counter's whole
/// limit (no later window would have room for them); per-minute counters are left to the connector's pacers.
pub(super) fn day_pace(counters: &[CallCounterState], cost: CallCost, reserve_percent: u8) -> Pace {
    let (mut short, mut never) = (Vec::new(), Vec::new());
    for c in counters {
        let per = match c.window_secs {
            3_600 => "hour",
            86_400 => "day",
            _ => continue,
        };
        let Some(need) = cost.of(&c.operation_type) else { continue };
        let reserve = c.limit.saturating_mul(u64::from(reserve_percent.min(100))).div_ceil(100);
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
