//! Tunables of the Five9 connector (defaults suit production; tests and benchmarks shorten the waits).

use std::time::Duration as StdDuration;

use chrono::Duration;

use crate::RetryPolicy;

/// Tunables (defaults suit production; tests shorten the waits).
#[derive(Debug, Clone)]
pub struct Five9Options {
    pub retry: RetryPolicy,
    /// `timeout` of each `isReportRunning` long poll (Five9 recommends ≥ 5 s). Capped by the deadline. Also the least
    /// time between the starts of two polls of a report: one answered `true` sooner waits out the rest (at least
    /// 500 ms), so a server that does not hold the long poll is not polled as fast as round trips allow.
    pub poll_timeout: StdDuration,
    /// Total time of one request, its answer read whole, capped by the deadline: [`crate::REQUEST_TIMEOUT`]. Longer
    /// than `poll_timeout`, for which an `isReportRunning` long poll is held. Not the report results'
    /// ([`Five9Options::report_idle_timeout`]).
    pub request_timeout: StdDuration,
    /// How long a `getReportResultCsv` answer may send nothing (before its headers, and between two reads of its
    /// body) before it fails (transient: retried). The download as a whole is bounded by the deadline alone: a
    /// report result can be tens of MB (`report_row_limit` up to 1,000,000 rows), which a slow line sends in more
    /// than `request_timeout`, and a download bounded so would fail every run.
    pub report_idle_timeout: StdDuration,
    /// The domain's report row limit: a report returning this many rows is taken as cut off and split. Five9 cuts
    /// a report at its limit without a word, so this must not exceed it: [`super::Five9Connector::new`] reads it
    /// from the integration's `report_row_limit` setting ([`super::Five9Settings::report_row_limit()`]; Five9's
    /// default, 50,000, when it is not set), which an admin sets when Five9 support changed the domain's limit.
    pub row_limit: usize,
    pub run_reports_per_minute: usize,
    pub retrievals_per_minute: usize,
    /// Longest window of one report, and the connector's [`crate::Connector::max_window`]: two days by default, so the
    /// import's usual 24-hour re-read (yesterday and today so far) costs one Call Log and one or two Agent State
    /// Details reports a run instead of five or six (once yesterday's agent states are final, see
    /// [`crate::Vendor::agent_states_final_after`], they cover today only). A report that reaches the row limit is
    /// halved anyway.
    pub max_report_span: Duration,
    /// How far before the window the Agent State Details report starts, so states begun earlier but still
    /// running inside the window are found (a state longer than this that began before it is missed) — unless the
    /// states running into the window's start are carried ([`Five9Options::carry_states`]).
    pub segment_lookback: Duration,
    /// Whether the agent states running into a midnight are carried from the read that found them to the later
    /// reads of the day ([`super::carry`]), whose reports then start at midnight instead of `segment_lookback`
    /// before it.
    pub carry_states: bool,
    /// Window of the Agent State Details report `list_statuses` runs when no agent-state report ran yet.
    pub status_discovery_window: Duration,
    /// Expected Agent State Details rows per agent and hour (averaged over whole days). Agent-state windows are cut
    /// up front into reports expected to hold at most 90 % of `row_limit` ([`super::density::plan_by_rows`]),
    /// instead of running a report that comes back cut off and is thrown away: an hour of the domain's day seen in
    /// the last week expects its own count ([`super::density`]), one not seen yet this average times
    /// `unseen_hour_factor`. 0 turns the estimate off (the span alone cuts).
    pub state_rows_per_agent_hour: f64,
    /// How many times the average an hour not seen yet is expected to hold (at least 1): a day's rows fall in its
    /// working hours — with 8-hour shifts, a third of them, so 3 — and a report planned by the average over such
    /// hours reaches the row limit and is run again in halves: two more `runReport`s, and a cut-off result read and
    /// thrown away, each time (until 2026-12-05 the first plan used the average: a 10,000-agent domain's first
    /// fetch, priced at 41 reports, ran 109). Planned as busy, a first fetch runs smaller reports than it needs in
    /// its quiet hours, once: the reports it reads teach the hours. A report is never priced above what its span of
    /// a day holds (a day's rows in any 24 hours, the busy hours' share of them in less), so a domain whose day fits
    /// in a report is not cut as if every hour were busy ([`super::density::Unseen`]).
    pub unseen_hour_factor: f64,
    /// Agent State Details reports of one fetch running at once (each report's requests still go one at a time, as
    /// Five9 wants of a user): the reports of a large domain's window, cut up front by the expected rows, are
    /// waited for side by side instead of one after another. At least 1.
    pub state_reports_in_flight: usize,
    /// `isReportRunning` long polls expected per report, for the budget check of
    /// [`crate::Connector::pace_next_day`], which asks the hourly and daily counters for room for the next fetch's
    /// reports ([`super::Five9Connector::fetch_cost`]).
    pub polls_per_report: u64,
    /// Share of each hourly and daily limit (percent, rounded up to whole calls) that back-fills leave free for the
    /// domain's other API users.
    pub budget_reserve_percent: u8,
}

impl Default for Five9Options {
    fn default() -> Self {
        let max_report_span = Duration::days(2);
        let segment_lookback = Duration::hours(12);
        Self {
            retry: RetryPolicy::default(),
            poll_timeout: StdDuration::from_secs(10),
            request_timeout: crate::REQUEST_TIMEOUT,
            report_idle_timeout: StdDuration::from_secs(30),
            row_limit: super::settings::DEFAULT_REPORT_ROW_LIMIT as usize,
            run_reports_per_minute: 12,
            retrievals_per_minute: 15,
            max_report_span,
            segment_lookback,
            carry_states: true,
            status_discovery_window: Duration::hours(24),
            // About 8 state changes an hour over an 8-hour shift, spread over the day (an assumption: Five9
            // publishes no figure; the simulator's agents, busier, make about 3.2).
            state_rows_per_agent_hour: 3.0,
            unseen_hour_factor: 3.0,
            state_reports_in_flight: 2,
            polls_per_report: 4,
            budget_reserve_percent: 20,
        }
    }
}
