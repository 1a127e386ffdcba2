//! Report orchestration: a window planned into reports (span, DST, row limit), each run, polled and read in place,
//! halved when it reaches the row limit; Call Log sums and Agent State rows.

use std::collections::BTreeMap;

use acd_domain::acd::floor_to_interval;

use super::*;

impl Five9Connector {
    /// runReport → isReportRunning (long poll) → getReportResultCsv. Returns the result's whole response body (read
    /// the CSV in place with [`read_report`]) and the report's generation time (the `Date` of the runReport response,
    /// else the local clock).
    pub(super) async fn run_report(
        &self,
        (folder, name): (&str, &str),
        window: TimeWindow,
        deadline: Deadline,
    ) -> Result<(String, DateTime<Utc>), ConnectorError> {
        let criteria = Node::Elem(
            "criteria",
            vec![Node::Elem(
                "time",
                // Schema order (reportTimeCriteria): end, then start. Five9 includes the end: a second before it
                // at a backward DST transition (`criteria_end`).
                vec![
                    Node::text("end", time::format_criteria_time(time::criteria_end(window.end, self.tz), self.tz)),
                    Node::text("start", time::format_criteria_time(window.start, self.tz)),
                ],
            )],
        );
        let children = [Node::text("folderName", folder), Node::text("reportName", name), criteria];
        // Its report of the allowance, outstanding until the result came back (held to the end of this function).
        let ((resp, date), _pending) = self.start_report(&children, deadline).await?;
        let generated_at = date.unwrap_or_else(Utc::now);
        let id = resp
            .child_text("return")
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .ok_or_else(|| ConnectorError::malformed("runReport returned no report identifier"))?
            .to_owned();
        let mut not_ready = 0;
        loop {
            // Long-poll until done. The request timeout is bounded by the deadline; keep 2 s for the answer.
            let remaining = deadline.remaining();
            if remaining < StdDuration::from_secs(1) {
                return Err(ConnectorError::DeadlineExceeded);
            }
            let poll = self.opts.poll_timeout.min(remaining.saturating_sub(StdDuration::from_secs(2)));
            let children = [Node::text("identifier", id.clone()), Node::text("timeout", poll.as_secs().to_string())];
            let sent = Instant::now();
            let (resp, _) = self.call("isReportRunning", &children, deadline).await?;
            let running = match resp.child_text("return").map(str::trim) {
                Some("true") | Some("1") => true,
                Some("false") | Some("0") => false,
                _ => return Err(ConnectorError::malformed("isReportRunning returned no boolean")),
            };
            if running {
                // Still running: a poll answered before its timeout passed waits out the rest (`next_poll_at`).
                tokio::time::sleep_until(next_poll_at(sent, poll, deadline)).await;
                continue;
            }
            pace(&self.retrieve_pacer, deadline).await?;
            match self.fetch_report(&id, deadline).await? {
                Ok(body) => return Ok((body, generated_at)),
                // Finished per isReportRunning but not ready yet: poll again after a long poll's time, the result
                // asked for at most `retry.max_attempts` times — each time a RetrieveReport call that no allowance
                // counted (until 2026-12-05, at once, as often as the pacing let it until the deadline).
                Err(f) if f.name.as_deref() == Some("ResultIsNotReadyFault") => {
                    not_ready += 1;
                    if not_ready >= self.opts.retry.max_attempts {
                        return Err(ConnectorError::unavailable(format!(
                            "Five9 report {id} had finished, but its result was not ready after {not_ready} \
                             retrievals; it is run again by the next import"
                        )));
                    }
                    tokio::time::sleep(self.opts.poll_timeout.min(deadline.remaining())).await;
                }
                Err(f) => return Err(map_fault(&f)),
            }
        }
    }

    /// `runReport` of `children`, retried like [`Self::call`], each time it is sent with one report taken from a
    /// paced fetch's allowance ([`Self::spend_allowance`]) and a slot of the per-minute pacing: a send whose answer
    /// did not come back (lost, or later than the request timeout) may have started a report all the same, and Five9
    /// counts it. Until 2026-12-07 the retries took neither: a fetch then ran, for each, one report more than the
    /// counters had room for above the reserve (with no reserve, past Five9's limit: refused, `RateLimited`). The
    /// report a send before took is given back once the next has its own (the counters, read again, show the
    /// earlier send if Five9 counted it; until then it is taken off twice, on the safe side). Returns the answer and
    /// the report taken, marked sent ([`budget::PendingReport::sent`]).
    async fn start_report(
        &self,
        children: &[Node],
        deadline: Deadline,
    ) -> Result<((Element, Option<DateTime<Utc>>), budget::PendingReport<'_>), ConnectorError> {
        let pending = StdMutex::new(self.spend_allowance(deadline).await?);
        pace(&self.run_pacer, deadline).await?;
        let body = soap::envelope("runReport", children);
        let sends = std::sync::atomic::AtomicU32::new(0);
        let answer = self
            .retried(deadline, || async {
                if sends.fetch_add(1, std::sync::atomic::Ordering::Relaxed) > 0 {
                    let again = self.spend_allowance(deadline).await?;
                    *pending.lock().unwrap_or_else(|p| p.into_inner()) = again;
                    pace(&self.run_pacer, deadline).await?;
                }
                self.send_once("runReport", body.clone(), deadline).await
            })
            .await?
            .map_err(|f| map_fault(&f))?;
        let mut pending = pending.into_inner().unwrap_or_else(|p| p.into_inner());
        pending.sent();
        Ok((answer, pending))
    }

    /// Report windows for `window`: at most `span` each, split at backward DST transitions.
    pub(super) fn plan(&self, window: TimeWindow, span: Duration) -> Vec<TimeWindow> {
        self.plan_with(window, |part| part.split(span))
    }

    /// `window` split at backward DST transitions (so wall times in the repeated hour are unambiguous), each part
    /// cut further by `cut`.
    fn plan_with(&self, window: TimeWindow, cut: impl Fn(TimeWindow) -> Vec<TimeWindow>) -> Vec<TimeWindow> {
        let mut transitions = time::backward_transitions(self.tz, window.start, window.end);
        transitions.push(window.end);
        let mut out = Vec::new();
        let mut start = window.start;
        for end in transitions {
            if end > start {
                out.extend(cut(TimeWindow { start, end }));
                start = end;
            }
        }
        out
    }

    /// The Agent State Details report windows for `agents` agents over `window`, cut where the rows are expected
    /// ([`density::plan_by_rows`]): as few reports as expect at most 90 % of the row limit each, and span at most
    /// `max_report_span`, the rows spread evenly over them. An hour of the domain's day seen in the last week
    /// ([`density`]) expects the busiest such hour, already a margin; an hour not seen yet expects a busy hour: the
    /// average ([`Five9Options::state_rows_per_agent_hour`]) times [`Five9Options::unseen_hour_factor`] (`unseen`:
    /// [`UnseenHours::Average`], the average alone, for a day the budget check priced so: see
    /// [`Five9Connector::pace_fetch`]), and a report's unseen hours together at most what that span of a day holds
    /// ([`density::Unseen`]: a day's rows in any 24 hours). With the estimate off (an average of 0), the span alone
    /// cuts.
    pub(super) fn plan_states(&self, agents: usize, window: TimeWindow, unseen: UnseenHours) -> Vec<TimeWindow> {
        let average = agents as f64 * self.opts.state_rows_per_agent_hour;
        if average <= 0.0 {
            return self.plan(window, self.opts.max_report_span);
        }
        let factor = match unseen {
            UnseenHours::Busy => self.opts.unseen_hour_factor,
            UnseenHours::Average => 1.0,
        };
        // Held while planning (no await here), not copied.
        let learned = self.density.lock().unwrap_or_else(|p| p.into_inner());
        self.plan_by_learned(window, &learned, density::Unseen { average, factor })
    }

    /// The Call Log report windows over `window`: at most `max_report_span` each, and — once complete reports have
    /// shown how many rows (calls) the domain's hours hold ([`density`], learned per local hour as for the agent
    /// states) — as few reports as expect at most 90 % of the row limit each, the rows spread evenly over them, so
    /// that a busy domain's reports do not come back at the limit and run again in halves every run. Hours not seen
    /// yet are not guessed: only the span cuts them.
    pub(super) fn plan_calls(&self, window: TimeWindow) -> Vec<TimeWindow> {
        // Held while planning (no await here), not copied.
        let learned = self.call_rows.lock().unwrap_or_else(|p| p.into_inner());
        if learned.is_empty() {
            return self.plan(window, self.opts.max_report_span);
        }
        self.plan_by_learned(window, &learned, density::Unseen { average: 0.0, factor: 1.0 })
    }

    /// `window` cut into as few reports as expect at most 90 % of the row limit each ([`density::plan_by_rows`]): an
    /// hour `learned` saw in the week before the window's end expects what it held, one it did not what `unseen`
    /// says.
    fn plan_by_learned(
        &self,
        window: TimeWindow,
        learned: &density::StateDensity,
        unseen: density::Unseen,
    ) -> Vec<TimeWindow> {
        let cap = self.opts.row_limit as f64 * 0.9;
        self.plan_with(window, |part| {
            density::plan_by_rows(part, self.opts.max_report_span, cap, unseen, |hour| {
                learned.expected(self.tz, hour, window.end).map(f64::from)
            })
        })
    }

    /// Halves a window that hit the row limit (cut on a 15-minute boundary when possible).
    pub(super) fn halve(&self, w: TimeWindow) -> Result<(TimeWindow, TimeWindow), ConnectorError> {
        if w.duration() <= Duration::minutes(15) {
            return Err(ConnectorError::Configuration {
                message: format!(
                    "more than {} report rows in 15 minutes: ask Five9 support to raise the domain's report row \
                     limit, then set the integration's report_row_limit to it",
                    self.opts.row_limit
                ),
            });
        }
        let mid = w.start + w.duration() / 2;
        let mid = mid.duration_trunc(Duration::minutes(15)).ok().filter(|m| *m > w.start).unwrap_or(mid);
        Ok((TimeWindow { start: w.start, end: mid }, TimeWindow { start: mid, end: w.end }))
    }

    pub(super) fn call_log_report(&self) -> (String, String, &'static str) {
        match (self.settings.grouping, &self.settings.skill_report) {
            (Five9Grouping::Skill, Some(r)) => (r.folder.clone(), r.name.clone(), "SKILL"),
            // Validation requires the skill report when grouping by skill; without one the stock Call Log is
            // tried and its lack of a SKILL column reported as a configuration error.
            (Five9Grouping::Skill, None) => (CALL_LOG_REPORT.0.into(), CALL_LOG_REPORT.1.into(), "SKILL"),
            (Five9Grouping::Campaign, _) => (CALL_LOG_REPORT.0.into(), CALL_LOG_REPORT.1.into(), "CAMPAIGN"),
        }
    }

    pub(super) async fn call_log_sums(
        &self,
        window: TimeWindow,
        deadline: Deadline,
    ) -> Result<CallLogSums, ConnectorError> {
        let (folder, name, column) = self.call_log_report();
        let mut sums = CallLogSums::default();
        // A missing column in the customer's own skill report is its configuration; in Five9's stock Call Log it
        // is a malformed answer.
        let custom = self.settings.grouping == Five9Grouping::Skill && self.settings.skill_report.is_some();
        let windows = self.plan_calls(window);
        self.read_reports((&folder, &name), windows, deadline, |body, w, _, at_least| {
            let mut result = report::CallLogResult::default();
            read_report(&body, &name, custom, |csv| {
                report::aggregate_call_log_into(csv, column, self.tz, w, w, &mut result)
            })
            .map_err(|e| match e {
                ConnectorError::Configuration { message } => {
                    ConnectorError::Configuration { message: format!("report {folder}/{name}: {message}") }
                }
                other => other,
            })?;
            self.check_outside(result.farthest_outside)?;
            if self.cut_at_row_limit(&name, w, result.rows, &result.quarters, at_least)? {
                return Ok(Some(result.quarters));
            }
            self.count_outside(result.rows_outside_window, 0);
            self.call_rows.lock().unwrap_or_else(|p| p.into_inner()).observe_counts(self.tz, w, result.quarters);
            sums.merge(result.sums);
            Ok(None)
        })
        .await?;
        Ok(sums)
    }

    /// Runs `report` over each of `windows` in turn and hands each result (its whole body, the window, the report's
    /// generation time and the rows it must hold at least) to `take`, which reads it and answers `None` when it was
    /// complete, checked against those rows ([`Five9Connector::cut_at_row_limit`]); one that reached the row limit
    /// (`take` keeps nothing of it, and answers its rows per UTC quarter hour) is halved and its halves read the same
    /// way, before the next window. A cut report's rows prove that each half holds at least those in its quarter
    /// hours ([`AtLeast`]).
    async fn read_reports(
        &self,
        report: (&str, &str),
        windows: Vec<TimeWindow>,
        deadline: Deadline,
        mut take: impl FnMut(String, TimeWindow, DateTime<Utc>, &AtLeast) -> Result<Option<Quarters>, ConnectorError>,
    ) -> Result<(), ConnectorError> {
        let mut todo: VecDeque<_> = windows.into_iter().map(|w| (w, AtLeast::default())).collect();
        while let Some((w, at_least)) = todo.pop_front() {
            let (body, at) = self.run_report(report, w, deadline).await?;
            if let Some(quarters) = take(body, w, at, &at_least)? {
                let (a, b) = self.halve(w)?;
                let seen = at_least.with(w, quarters);
                todo.push_front((b, seen.within(b)));
                todo.push_front((a, seen.within(a)));
            }
        }
        Ok(())
    }

    pub(super) async fn skill_ids(&self, deadline: Deadline) -> Result<HashMap<String, String>, ConnectorError> {
        Ok(self.list_queues(deadline).await?.into_iter().map(|q| (q.name, q.external_id)).collect())
    }

    /// What the Agent State Details reports of an `agent_segments` window cover, and the states carried into its
    /// start: the window alone when those are carried ([`super::carry`]), else the window and
    /// [`Five9Options::segment_lookback`] before it (states begun earlier and still running inside it).
    pub(super) fn state_reads(&self, window: TimeWindow) -> (TimeWindow, Option<Arc<super::carry::Carried>>) {
        match self.carried_into(window.start) {
            Some(carried) => (window, Some(carried)),
            None => (TimeWindow { start: window.start - self.opts.segment_lookback, end: window.end }, None),
        }
    }

    /// The Agent State Details rows of the consecutive report `windows` ([`Five9Connector::plan_states`]), up to
    /// [`Five9Options::state_reports_in_flight`] of them running at once, and the generation time of the last
    /// window's report. The rows come in window order, as if the reports had run one after another.
    pub(super) async fn state_rows(
        &self,
        windows: Vec<TimeWindow>,
        deadline: Deadline,
    ) -> Result<(StateRows, DateTime<Utc>), ConnectorError> {
        let mut all = StateRows::default();
        let mut generated_at = None;
        let mut reports = Vec::new();
        // `buffered` polls every window's future whenever it is polled itself and hands them out in order; the
        // loop below only merges (no await on the connector), so a report that holds the request lock is always
        // driven on.
        let mut parts = futures::stream::iter(windows)
            .map(|w| self.window_state_rows(w, deadline))
            .buffered(self.opts.state_reports_in_flight.max(1));
        while let Some(part) = parts.next().await {
            let (rows, at) = part?;
            reports.push((all.rows.len(), at));
            all.append(rows);
            // The last report's time decides whether a state is still ongoing; the rows of earlier reports are taken
            // as of it (`StateRows::as_of`).
            generated_at = Some(at);
        }
        let generated_at = generated_at.unwrap_or_else(Utc::now);
        all.as_of(&reports, generated_at);
        self.see_statuses(all.statuses());
        Ok((all, generated_at))
    }

    /// Whether the `report` over `w`, `rows` rows (`quarters`: per UTC quarter hour, see [`Quarters`]), reached the
    /// row limit, and is to be halved; else checks it against the rows the report it was halved from held
    /// ([`AtLeast::check`]). A report at the limit is cut wherever its rows end, so it proves nothing short: its
    /// halves are checked against its rows and those before it.
    fn cut_at_row_limit(
        &self,
        report: &str,
        w: TimeWindow,
        rows: usize,
        quarters: &[(DateTime<Utc>, u32)],
        at_least: &AtLeast,
    ) -> Result<bool, ConnectorError> {
        if rows >= self.opts.row_limit {
            return Ok(true);
        }
        at_least.check(report, w, quarters)?;
        Ok(false)
    }

    /// Fails the read when a report held rows farther than [`report::OUTSIDE_TOLERANCE`] outside its window
    /// (`farthest`, [`report::outside_by`]): the integration's time zone is not the domain's, and every row of
    /// the read would be filed in the wrong interval. A configuration error, before anything is returned.
    fn check_outside(&self, farthest: Duration) -> Result<(), ConnectorError> {
        if farthest <= report::OUTSIDE_TOLERANCE {
            return Ok(());
        }
        let minutes = farthest.num_minutes();
        let by = if minutes < 60 {
            format!("{minutes} minutes")
        } else {
            let hours = format!("{:.1}", farthest.num_seconds() as f64 / 3600.0);
            format!("{} hours", hours.trim_end_matches(".0"))
        };
        Err(ConnectorError::Configuration {
            message: format!(
                "Five9 report rows lie up to {by} outside the hours asked for: the integration's time zone ({}) is \
                 probably not the Five9 domain's",
                self.tz
            ),
        })
    }

    /// Counts rows a complete report held outside its window ([`report::outside_report`]), at most
    /// [`report::OUTSIDE_TOLERANCE`] outside ([`Five9Connector::check_outside`]), logging them.
    fn count_outside(&self, calls: usize, states: usize) {
        if calls == 0 && states == 0 {
            return;
        }
        tracing::warn!(calls, states, time_zone = %self.tz, "Five9 report rows outside the hours asked for were skipped");
        let mut outside = self.rows_outside.lock().unwrap_or_else(|p| p.into_inner());
        outside.calls += calls;
        outside.states += states;
    }

    /// Adds `(state, reason code)` pairs read to the statuses [`crate::Connector::list_statuses`] lists.
    pub(super) fn see_statuses<'a>(&self, statuses: impl IntoIterator<Item = (&'a str, Option<&'a str>)>) {
        let mut seen = self.seen_statuses.lock().unwrap_or_else(|p| p.into_inner());
        let seen = seen.get_or_insert_with(BTreeSet::new);
        for (state, reason) in statuses {
            seen.insert((state.to_owned(), reason.map(str::to_owned)));
        }
    }

    /// One planned window's rows: its report, halved while a report reaches the row limit (the halves one after
    /// the other, each holding at least the rows the cut report held in its hours: [`AtLeast`]), rows outside the
    /// window dropped (rows farther than [`report::OUTSIDE_TOLERANCE`] outside fail the read); and the generation
    /// time of its last report. Each complete report's rows per hour are learned ([`density`]).
    async fn window_state_rows(
        &self,
        window: TimeWindow,
        deadline: Deadline,
    ) -> Result<(StateRows, DateTime<Utc>), ConnectorError> {
        let mut all = StateRows::default();
        let mut generated_at = Utc::now();
        let mut reports = Vec::new();
        self.read_reports(AGENT_STATE_REPORT, vec![window], deadline, |body, w, at, at_least| {
            let before = all.rows.len();
            read_report(&body, AGENT_STATE_REPORT.1, false, |csv| {
                report::parse_agent_states_into(csv, self.tz, w, &mut all)
            })?;
            drop(body);
            let rows = all.rows.len() - before;
            let farthest = all.rows[before..].iter().filter_map(|r| report::outside_by(w, r.start)).max();
            self.check_outside(farthest.unwrap_or_default())?;
            // The rows per UTC quarter hour, needed only to halve the report or check it against a cut one's.
            let mut quarters: Quarters = Vec::new();
            if rows >= self.opts.row_limit || !at_least.0.is_empty() {
                let mut counted: BTreeMap<DateTime<Utc>, u32> = BTreeMap::new();
                for r in &all.rows[before..] {
                    *counted.entry(floor_to_interval(r.start)).or_default() += 1;
                }
                quarters = counted.into_iter().collect();
            }
            if self.cut_at_row_limit(AGENT_STATE_REPORT.1, w, rows, &quarters, at_least)? {
                all.rows.truncate(before);
                return Ok(Some(quarters));
            }
            generated_at = at;
            // Rows outside the report window (a server reading the criteria differently) are dropped: exactly the
            // window, no duplicates across consecutive reports. The end is exclusive.
            let mut kept = before;
            let mut outside = 0;
            for i in before..all.rows.len() {
                let start = all.rows[i].start;
                if w.contains(start) {
                    all.rows.swap(kept, i);
                    kept += 1;
                } else if report::outside_report(w, start) {
                    outside += 1;
                }
            }
            all.rows.truncate(kept);
            self.count_outside(0, outside);
            reports.push((before, at));
            let starts = all.rows[before..].iter().map(|r| r.start);
            self.density.lock().unwrap_or_else(|p| p.into_inner()).observe(self.tz, w, starts);
            Ok(None)
        })
        .await?;
        // A window halved at the row limit is read in several reports: its rows as of the last one.
        all.as_of(&reports, generated_at);
        Ok((all, generated_at))
    }
}

/// A report's rows per UTC quarter hour (the quarter's start), a quarter possibly more than once (its rows then
/// the sum).
type Quarters = Vec<(DateTime<Utc>, u32)>;

/// The rows a report's window must hold at least: per UTC quarter hour wholly inside it, the most rows a report it
/// was halved from, cut at the row limit, held there. Five9 cuts a report at the row limit without a word, but the
/// rows it returns are there: a half that comes back with fewer rows (a glitch's empty or short answer) is
/// malformed, never a window with fewer calls or states, which the import would write as zeros. Only the hours the
/// cut report's rows reach are proven: a report whose rows come in time order proves nothing of its second half.
#[derive(Debug, Default)]
pub(super) struct AtLeast(BTreeMap<DateTime<Utc>, u32>);

impl AtLeast {
    /// These rows and those of `quarters`, the rows of a cut report over `window` (the quarters wholly inside it).
    fn with(&self, window: TimeWindow, quarters: Quarters) -> AtLeast {
        let mut held: BTreeMap<DateTime<Utc>, u32> = BTreeMap::new();
        for (q, n) in quarters.into_iter().filter(|(q, _)| inside(window, *q)) {
            *held.entry(q).or_default() += n;
        }
        let mut out = AtLeast(self.0.clone());
        for (q, n) in held {
            let most = out.0.entry(q).or_default();
            *most = (*most).max(n);
        }
        out
    }

    /// The rows of the quarters wholly inside `window`.
    fn within(&self, window: TimeWindow) -> AtLeast {
        AtLeast(self.0.iter().filter(|(q, _)| inside(window, **q)).map(|(q, n)| (*q, *n)).collect())
    }

    /// Fails as malformed when the `report` over `window`, its rows per UTC quarter hour `quarters` (a quarter
    /// possibly more than once: [`Quarters`]), returned fewer rows in a quarter hour than it must hold there. Per
    /// quarter hour: a total would let rows elsewhere (its end, which Five9 includes, or rows just outside it) make
    /// up for a short quarter.
    fn check(&self, report: &str, window: TimeWindow, quarters: &[(DateTime<Utc>, u32)]) -> Result<(), ConnectorError> {
        if self.0.is_empty() {
            return Ok(());
        }
        let mut held: BTreeMap<DateTime<Utc>, u32> = BTreeMap::new();
        for (q, n) in quarters {
            let sum = held.entry(*q).or_default();
            *sum = sum.saturating_add(*n);
        }
        let Some((q, least)) = self.0.iter().find(|(q, least)| held.get(q).copied().unwrap_or(0) < **least) else {
            return Ok(());
        };
        let got = held.get(q).copied().unwrap_or(0);
        Err(ConnectorError::malformed(format!(
            "{report} report over {} – {}: {got} rows in the quarter hour from {q}, but the report it was halved \
             from, cut at the row limit, held {least} there",
            window.start, window.end
        )))
    }
}

/// The least time between the starts of two `isReportRunning` polls of a report still running.
const MIN_POLL_GAP: StdDuration = StdDuration::from_millis(500);

/// When the next `isReportRunning` poll of a report still running may start, the last one started at `sent` (its wait
/// for the connector's lock and its retries included) with a long-poll timeout of `poll` (sent in whole seconds):
/// once that timeout has passed, at least [`MIN_POLL_GAP`] after `sent`, and no later than the deadline. A server
/// that answers `true` at once despite the timeout (or to a timeout under a second, sent as 0) would otherwise be
/// polled as fast as round trips allow until the deadline, spending the domain's Query budget (450 a minute, shared
/// with its other API users; nothing else paces isReportRunning). A poll that waited its timeout out is followed at
/// once.
fn next_poll_at(sent: Instant, poll: StdDuration, deadline: Deadline) -> Instant {
    let asked = StdDuration::from_secs(poll.as_secs()).max(MIN_POLL_GAP);
    (sent + asked).min(deadline.instant())
}

/// Whether the UTC quarter hour starting at `q` lies wholly inside `window`.
fn inside(window: TimeWindow, q: DateTime<Utc>) -> bool {
    q >= window.start && q + Duration::minutes(15) <= window.end
}

/// Reads the CSV of a `getReportResultCsv` body in place with `parse`, then checks that the body is complete. A
/// CSV problem is [`ConnectorError::Malformed`]; a missing column is [`ConnectorError::Configuration`] when the
/// report is the customer's own (`custom`).
fn read_report(
    body: &str,
    report_name: &str,
    custom: bool,
    parse: impl FnOnce(&mut soap::CsvText<'_>) -> Result<(), report::ReportError>,
) -> Result<(), ConnectorError> {
    let malformed = |m: String| ConnectorError::malformed(format!("{report_name} report: {m}"));
    let mut csv = match soap::open_report_csv(body) {
        Ok(soap::ReportReply::Csv(csv)) => csv,
        Ok(soap::ReportReply::Fault(f)) => return Err(map_fault(&f)),
        Err(e) => return Err(malformed(format!("getReportResultCsv response: {}", e.0))),
    };
    parse(&mut csv).map_err(|e| match e.1 {
        report::ReportErrorKind::MissingColumn if custom => ConnectorError::Configuration { message: e.0 },
        _ => malformed(e.0),
    })?;
    csv.finish().map_err(|e| malformed(format!("getReportResultCsv response: {}", e.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connector() -> Five9Connector {
        Five9Connector::new(
            crate::HttpClient::new().unwrap(),
            &crate::Endpoints::default(),
            Five9Settings {
                region: Five9Region::Us,
                grouping: Five9Grouping::Campaign,
                time_zone: "UTC".into(),
                skill_report: None,
                report_row_limit: None,
            },
            "user".into(),
            SecretString::from("pw".to_owned()),
        )
    }

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn a_poll_answered_before_its_timeout_is_followed_once_the_timeout_has_passed() {
        let sent = Instant::now();
        let far = Deadline::at(sent + StdDuration::from_secs(60));
        let secs = StdDuration::from_secs;
        assert_eq!(next_poll_at(sent, secs(10), far), sent + secs(10));
        // The timeout is sent in whole seconds: 1.9 s asks for 1 s; under a second, 0 s, still 500 ms apart.
        assert_eq!(next_poll_at(sent, StdDuration::from_millis(1_900), far), sent + secs(1));
        assert_eq!(next_poll_at(sent, StdDuration::from_millis(900), far), sent + MIN_POLL_GAP);
        assert_eq!(next_poll_at(sent, StdDuration::ZERO, far), sent + MIN_POLL_GAP);
        // Never past the deadline.
        let near = Deadline::at(sent + StdDuration::from_millis(300));
        assert_eq!(next_poll_at(sent, secs(10), near), near.instant());
    }

    #[test]
    fn a_half_of_a_cut_report_must_hold_the_rows_of_each_quarter_hour_not_their_total() {
        let w = TimeWindow { start: utc("2024-05-13T12:00:00Z"), end: utc("2024-05-13T13:00:00Z") };
        let q = |m: i64| w.start + Duration::minutes(m);
        // The cut report held 10 rows in each of its first two quarter hours (and one at its end, which Five9
        // includes: no quarter hour of the window). Its first half:
        let least = AtLeast::default().with(w, vec![(q(0), 10), (q(15), 10), (q(60), 1)]).within(w);
        let half = TimeWindow { start: w.start, end: q(30) };
        let check = |quarters: &[(DateTime<Utc>, u32)]| least.check("Call Log", half, quarters);
        assert!(check(&[(q(0), 10), (q(15), 10)]).is_ok());
        // A quarter repeated (the rows not in time order): its groups are summed.
        assert!(check(&[(q(0), 4), (q(15), 10), (q(0), 6), (q(30), 1)]).is_ok());
        // 25 rows, more than the 20 held, but 5 in the second quarter hour: malformed.
        let err = check(&[(q(0), 20), (q(15), 5)]).unwrap_err();
        let ConnectorError::Malformed { context } = &err else { panic!("{err:?}") };
        assert!(context.contains("5 rows in the quarter hour from 2024-05-13 12:15:00 UTC"), "{context}");
        assert!(context.contains("held 10 there"), "{context}");
        // Rows at the half's end (Five9 includes it) or just outside it make up for no short quarter hour.
        assert!(check(&[(q(0), 10), (q(15), 9), (q(30), 5)]).is_err());
        assert!(check(&[(q(0) - Duration::minutes(15), 3), (q(0), 9), (q(15), 10)]).is_err());
    }

    #[test]
    fn a_half_at_the_row_limit_is_halved_whatever_the_reports_before_it_held() {
        let c = connector().with_options(Five9Options { row_limit: 60, ..Five9Options::default() });
        let w = TimeWindow { start: utc("2024-05-13T12:00:00Z"), end: utc("2024-05-13T13:00:00Z") };
        let q = |m: i64| w.start + Duration::minutes(m);
        // Two cut reports before it, each at the limit, held at most 50, 30 and 10 rows in three of its quarter hours
        // (a dense window whose rows grew between them): 90 at least, more than any report returns.
        let least = AtLeast::default().with(w, vec![(q(0), 50), (q(45), 10)]).with(w, vec![(q(0), 30), (q(15), 30)]);
        let limited = [(q(0), 45), (q(15), 15)];
        assert!(c.cut_at_row_limit("Agent State Details", w, 60, &limited, &least).unwrap(), "halved");
        // Below the limit it is complete, and short.
        let short = [(q(0), 45), (q(15), 14)];
        let err = c.cut_at_row_limit("Agent State Details", w, 59, &short, &least).unwrap_err();
        assert!(matches!(err, ConnectorError::Malformed { .. }), "{err:?}");
    }

    #[test]
    fn agent_state_reports_are_cut_by_the_rows_a_busy_hour_would_hold_until_the_hours_are_known() {
        let c = connector();
        let start: DateTime<Utc> = "2024-05-13T12:00:00Z".parse().unwrap();
        let hours = |h: i64| TimeWindow { start, end: start + Duration::hours(h) };
        let spans = |windows: Vec<TimeWindow>| windows.iter().map(|w| w.duration().num_minutes()).collect::<Vec<_>>();
        // 60 hours (a two-day fetch and its look-back), no hour seen yet: each expects a busy hour, 3 × the average
        // of 3 rows per agent, and a report at most what its span of a day holds. A small domain's (20 agents) is cut
        // by the span alone...
        assert_eq!(spans(c.plan_states(20, hours(60), UnseenHours::Busy)), [1_800, 1_800]);
        // ...300 agents' (a day's 21,600 rows fit in a report) into two of 30 hours (a day and 6 busy hours: 37,800,
        // at most 45,000), not four of 15 as busy hours all along...
        assert_eq!(spans(c.plan_states(300, hours(60), UnseenHours::Busy)), [1_800, 1_800]);
        // ...1,000 agents' (a day's 72,000 do not) into busy hours' reports: five hours, 45,000 rows...
        assert_eq!(spans(c.plan_states(1_000, hours(60), UnseenHours::Busy)), [300; 12]);
        // ...and 10,000 agents' (90,000 rows an hour) into half hours.
        assert_eq!(spans(c.plan_states(10_000, hours(10), UnseenHours::Busy)), [30; 20]);
        // The average alone cuts 1,000 agents' into four (busy hours would reach the row limit): for a day the
        // budget check priced by the average, and with a factor of 1.
        assert_eq!(spans(c.plan_states(1_000, hours(60), UnseenHours::Average)), [900; 4]);
        let by_average = c.with_options(Five9Options { unseen_hour_factor: 1.0, ..Five9Options::default() });
        assert_eq!(spans(by_average.plan_states(1_000, hours(60), UnseenHours::Busy)), [900; 4]);
        // An estimate of 0 per hour only follows the span.
        let off = by_average.with_options(Five9Options { state_rows_per_agent_hour: 0.0, ..Five9Options::default() });
        assert_eq!(spans(off.plan_states(10_000, hours(10), UnseenHours::Busy)), [600]);
    }
}
