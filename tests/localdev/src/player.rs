//! The scheduler player: plays EventBridge Scheduler for the local run. moto stores schedules but never fires them,
//! so every few seconds the player lists the schedules of the group (ListSchedules + GetSchedule) and invokes the
//! target function through `cargo lambda watch`'s invoke API
//! (`POST {lambda}/2015-03-31/functions/{name}/invocations`, the function name taken from the target ARN) with the
//! target's input:
//!
//! - one-time `at(...)` schedules once their time (in their time zone) has passed; with `ActionAfterCompletion`
//!   `DELETE` the player deletes the schedule when it fires, as Scheduler does;
//! - `rate(N minutes|hours|days)` schedules every N from their creation, while ENABLED; DISABLED ones never
//!   (a tick missed while disabled is not made up);
//! - `cron(M/S * * * ? *)` (the import's default, every S minutes from minute M of each hour; S divides 60) and
//!   `cron(M * * * ? *)` (hourly at minute M), in UTC, on those minutes while ENABLED; other `cron(...)` expressions
//!   are not played (logged once).
//!
//! At most `max_in_flight` invocations run at once (`PLAYER_MAX_IN_FLIGHT`, like the import's reserved
//! concurrency); what comes due beyond that waits for a later pass, as Scheduler's retries of a throttled invoke do.
//! (cargo lambda watch queues at most 100 invocations per function and stops serving every function when that queue is
//! full.)
//!
//! Differences from Scheduler, on purpose: one invocation per integration (the target input's `integration_id`)
//! at a time — a one-time schedule that comes due while its integration is importing waits for that import to end,
//! a recurring tick that comes due then is skipped; the flexible time window is ignored (fires at its start);
//! invocations are synchronous calls whose result is logged.
//!
//! Failed invocations are retried like Lambda's asynchronous invoke (which is how Scheduler invokes a function):
//! an invocation that fails — a function error (`X-Amz-Function-Error`, an `errorType` answer, a 4xx/5xx from the
//! emulator), a timeout or no answer — is retried twice, after [`LAMBDA_RETRY_DELAYS`] (1 min, then 2 min, as
//! Lambda's ~1 min and ~2 min; `PLAYER_RETRY_DELAYS`, seconds separated by commas, shortens them), each attempt
//! logged; after the third failure the event is dropped with a warning line (the stand-in for the dead-letter
//! queue). While it waits to retry the invocation holds no slot (Lambda's retry queue uses no concurrency), but its
//! integration stays busy: the retry is that integration's next import, so ticks due meanwhile are skipped.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_scheduler::Client;
use aws_sdk_scheduler::types::{ActionAfterCompletion, ScheduleState};
use chrono::{DateTime, DurationRound, NaiveDateTime, TimeZone, Utc};

/// A schedule expression the player understands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expression {
    /// `at(yyyy-mm-ddThh:mm:ss)`, resolved in the schedule's time zone.
    At(DateTime<Utc>),
    /// `rate(N unit)`.
    Rate(chrono::Duration),
    /// `cron(M/S * * * ? *)` in UTC: minute `minute` of each hour and every `every` minutes after it.
    Minutes { minute: u32, every: u32 },
}

impl Expression {
    /// For a recurring expression, a tick and the time between ticks (a schedule created at `created`): for
    /// [`next_tick`]. `None` for `at(...)`.
    pub fn ticks(&self, created: DateTime<Utc>) -> Option<(DateTime<Utc>, chrono::Duration)> {
        match *self {
            Expression::At(_) => None,
            Expression::Rate(every) => Some((created, every)),
            Expression::Minutes { minute, every } => {
                let hour = created.duration_trunc(chrono::Duration::hours(1)).unwrap_or(created);
                let first = hour - chrono::Duration::hours(1) + chrono::Duration::minutes(i64::from(minute));
                Some((first, chrono::Duration::minutes(i64::from(every))))
            }
        }
    }
}

/// Parses `at(...)` (in `time_zone`, an IANA name; UTC when empty), `rate(...)` and `cron(M/S * * * ? *)` or
/// `cron(M * * * ? *)` in UTC; anything else is `Err`.
pub fn parse_expression(expression: &str, time_zone: &str) -> Result<Expression, String> {
    let expression = expression.trim();
    if let Some(at) = expression.strip_prefix("at(").and_then(|r| r.strip_suffix(')')) {
        let local = NaiveDateTime::parse_from_str(at.trim(), "%Y-%m-%dT%H:%M:%S")
            .map_err(|e| format!("{expression}: bad at() time: {e}"))?;
        let zone: chrono_tz::Tz = if time_zone.trim().is_empty() {
            chrono_tz::UTC
        } else {
            time_zone.trim().parse().map_err(|_| format!("unknown time zone {time_zone}"))?
        };
        // A local time skipped by a DST change has no instant; Scheduler would fire at the next valid one.
        let instant = zone
            .from_local_datetime(&local)
            .earliest()
            .or_else(|| zone.from_local_datetime(&(local + chrono::Duration::hours(1))).earliest())
            .ok_or_else(|| format!("{expression}: no such local time in {zone}"))?;
        return Ok(Expression::At(instant.with_timezone(&Utc)));
    }
    if let Some(rate) = expression.strip_prefix("rate(").and_then(|r| r.strip_suffix(')')) {
        let mut parts = rate.split_whitespace();
        let (Some(value), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format!("{expression}: expected rate(N unit)"));
        };
        let value: i64 = value.parse().map_err(|_| format!("{expression}: bad number"))?;
        if value <= 0 {
            return Err(format!("{expression}: the rate must be positive"));
        }
        let every = match unit {
            "minute" | "minutes" => chrono::Duration::minutes(value),
            "hour" | "hours" => chrono::Duration::hours(value),
            "day" | "days" => chrono::Duration::days(value),
            _ => return Err(format!("{expression}: unknown unit {unit}")),
        };
        return Ok(Expression::Rate(every));
    }
    if let Some(cron) = expression.strip_prefix("cron(").and_then(|r| r.strip_suffix(')')) {
        let fields: Vec<&str> = cron.split_whitespace().collect();
        let utc = matches!(time_zone.trim(), "" | "UTC" | "Etc/UTC");
        if let (true, [minutes, "*", "*", "*", "?", "*"]) = (utc, fields.as_slice()) {
            let (minute, every) = minutes.split_once('/').unwrap_or((minutes, "60"));
            if let (Ok(minute), Ok(every)) = (minute.parse::<u32>(), every.parse::<u32>())
                && every > 0
                && 60 % every == 0
                && minute < every
            {
                return Ok(Expression::Minutes { minute, every });
            }
        }
    }
    Err(format!("{expression}: not played locally (only at(), rate() and cron(M/S * * * ? *) in UTC)"))
}

/// The first tick of a `rate` schedule created at `created` that is strictly after `after`.
pub fn next_tick(created: DateTime<Utc>, every: chrono::Duration, after: DateTime<Utc>) -> DateTime<Utc> {
    if after < created {
        return created + every;
    }
    let every_ms = every.num_milliseconds().max(1);
    let elapsed_ms = (after - created).num_milliseconds();
    created + chrono::Duration::milliseconds((elapsed_ms / every_ms + 1) * every_ms)
}

/// The Lambda function name of a target ARN (`arn:aws:lambda:region:account:function:name[:qualifier]`), or the
/// string itself when it is a bare name.
pub fn function_name(arn: &str) -> String {
    let parts: Vec<&str> = arn.split(':').collect();
    match parts.iter().position(|p| *p == "function") {
        Some(i) if i + 1 < parts.len() => parts[i + 1].to_owned(),
        _ => arn.to_owned(),
    }
}

#[derive(Clone)]
pub struct Player {
    pub scheduler: Client,
    pub group: String,
    /// Base URL of `cargo lambda watch`.
    pub lambda_url: String,
    pub poll: Duration,
    http: reqwest::Client,
    state: Arc<Mutex<State>>,
    slots: Arc<tokio::sync::Semaphore>,
    retry_delays: Arc<Vec<Duration>>,
}

/// Invocations in flight at once unless [`Player::with_max_in_flight`] says otherwise.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 4;

/// Waits before the retries of a failed invocation: Lambda's asynchronous invoke retries twice, about one minute
/// and then about two minutes after a failure.
pub const LAMBDA_RETRY_DELAYS: [Duration; 2] = [Duration::from_secs(60), Duration::from_secs(120)];

/// Parses `PLAYER_RETRY_DELAYS` (seconds separated by commas, e.g. `5,10`; empty: no retry).
pub fn parse_retry_delays(text: &str) -> Result<Vec<Duration>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0)
                .map(Duration::from_secs_f64)
                .ok_or_else(|| format!("retry delay {s:?} is not a number of seconds"))
        })
        .collect()
}

/// The end of one invocation with its retries.
#[derive(Debug)]
pub struct Delivery {
    /// Attempts made (1 + retries).
    pub attempts: usize,
    /// The function's answer, or why the last attempt failed (the event was then dropped).
    pub result: Result<serde_json::Value, String>,
}

/// One synchronous invocation through the emulator's invoke API: the function's answer, or why it failed.
pub async fn invoke_once(http: &reqwest::Client, url: &str, input: &str) -> Result<serde_json::Value, String> {
    let answer = http.post(url).body(input.to_owned()).send().await.map_err(|e| format!("no answer: {e}"))?;
    let status = answer.status();
    let function_error =
        answer.headers().get("x-amz-function-error").map(|v| v.to_str().unwrap_or("function error").to_owned());
    let body = answer.text().await.map_err(|e| format!("answer unreadable: {e}"))?;
    let parsed: serde_json::Value = serde_json::from_str(&body).unwrap_or(serde_json::Value::Null);
    let short: String = body.chars().take(600).collect();
    if !status.is_success() {
        return Err(format!("status {}: {short}", status.as_u16()));
    }
    if let Some(kind) = function_error {
        return Err(format!("function error ({kind}): {short}"));
    }
    if parsed.get("errorType").is_some() || parsed.get("errorMessage").is_some() {
        return Err(format!("function error: {short}"));
    }
    Ok(parsed)
}

/// Invokes with Lambda's asynchronous retry policy: a failed attempt is retried after each of `delays` in turn,
/// then given up. `slot` is held during each attempt and released while waiting (re-acquired from `slots`).
pub async fn invoke_with_retries(
    http: &reqwest::Client,
    url: &str,
    input: &str,
    delays: &[Duration],
    slots: &Arc<tokio::sync::Semaphore>,
    slot: tokio::sync::OwnedSemaphorePermit,
    schedule: &str,
) -> Delivery {
    let mut slot = Some(slot);
    let mut attempts = 0;
    loop {
        let permit = match slot.take() {
            Some(permit) => permit,
            None => slots.clone().acquire_owned().await.expect("the player's semaphore is never closed"),
        };
        attempts += 1;
        let result = invoke_once(http, url, input).await;
        let Err(error) = &result else { return Delivery { attempts, result } };
        let Some(delay) = delays.get(attempts - 1) else {
            tracing::warn!(
                schedule,
                attempts,
                %error,
                "scheduler player: invocation failed, no retry left: event dropped (where Lambda would send it to \
                 the dead-letter queue)"
            );
            return Delivery { attempts, result };
        };
        tracing::warn!(
            schedule,
            attempt = attempts,
            retry_in_s = delay.as_secs_f64(),
            %error,
            "scheduler player: invocation failed, retrying like Lambda's asynchronous invoke"
        );
        drop(permit);
        tokio::time::sleep(*delay).await;
    }
}

#[derive(Default)]
struct State {
    /// Integrations (or schedule names when the input names none) with an invocation in flight.
    busy: HashSet<String>,
    /// Next tick of each recurring schedule, keyed by name and creation time.
    next_ticks: HashMap<(String, i64), DateTime<Utc>>,
    /// Schedules already reported (unsupported, waiting), so each is logged once.
    reported: HashSet<String>,
    /// One-time schedules without DELETE after completion that already fired (name, last modification).
    fired_once: HashSet<(String, i64)>,
}

/// One schedule as the player needs it.
struct Due {
    name: String,
    key: String,
    function: String,
    input: String,
    delete_after: bool,
}

impl Player {
    pub fn new(scheduler: Client, group: &str, lambda_url: &str, poll: Duration) -> Self {
        let http = reqwest::Client::builder()
            // An import may run up to the Lambda timeout (15 minutes), plus a build on the first call.
            .timeout(Duration::from_secs(30 * 60))
            .build()
            .expect("HTTP client");
        Self {
            scheduler,
            group: group.to_owned(),
            lambda_url: lambda_url.trim_end_matches('/').to_owned(),
            poll,
            http,
            state: Arc::default(),
            slots: Arc::new(tokio::sync::Semaphore::new(DEFAULT_MAX_IN_FLIGHT)),
            retry_delays: Arc::new(LAMBDA_RETRY_DELAYS.to_vec()),
        }
    }

    /// Waits before each retry of a failed invocation (default [`LAMBDA_RETRY_DELAYS`]; empty: no retry).
    pub fn with_retry_delays(mut self, delays: Vec<Duration>) -> Self {
        self.retry_delays = Arc::new(delays);
        self
    }

    /// At most `n` (at least 1) invocations in flight at once.
    pub fn with_max_in_flight(mut self, n: usize) -> Self {
        self.slots = Arc::new(tokio::sync::Semaphore::new(n.max(1)));
        self
    }

    /// Whether an invocation could start now.
    fn has_slot(&self) -> bool {
        self.slots.available_permits() > 0
    }

    /// Polls forever.
    pub async fn run(self) {
        tracing::info!(group = %self.group, every_ms = self.poll.as_millis() as u64, "scheduler player started");
        loop {
            if let Err(error) = self.tick(Utc::now()).await {
                tracing::warn!(%error, "scheduler player: listing schedules failed (retrying)");
            }
            tokio::time::sleep(self.poll).await;
        }
    }

    fn report_once(&self, key: String, message: impl FnOnce() -> String) {
        if self.state.lock().expect("player state").reported.insert(key) {
            tracing::info!("scheduler player: {}", message());
        }
    }

    /// One pass: fires what is due at `now`.
    pub async fn tick(&self, now: DateTime<Utc>) -> Result<(), String> {
        let mut names = Vec::new();
        let mut pages = self.scheduler.list_schedules().group_name(&self.group).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| aws_smithy_types::error::display::DisplayErrorContext(e).to_string())?;
            names.extend(page.schedules().iter().filter_map(|s| s.name().map(str::to_owned)));
        }
        let mut seen = HashSet::new();
        // Scheduler replaces its context attribute with the time it invokes the target for.
        let scheduled_time = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        for name in names {
            let schedule = match self.scheduler.get_schedule().group_name(&self.group).name(&name).send().await {
                Ok(s) => s,
                Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => continue,
                Err(e) => return Err(aws_smithy_types::error::display::DisplayErrorContext(e).to_string()),
            };
            let created = schedule.creation_date().map(|d| d.secs()).unwrap_or_default();
            let modified = schedule.last_modification_date().map(|d| d.secs()).unwrap_or(created);
            seen.insert((name.clone(), created));
            let enabled = schedule.state() != Some(&ScheduleState::Disabled);
            let Some(target) = schedule.target() else { continue };
            let input = target.input().unwrap_or("{}").replace(acd_aws::scheduler::SCHEDULED_TIME, &scheduled_time);
            let key = serde_json::from_str::<serde_json::Value>(&input)
                .ok()
                .and_then(|v| v.get("integration_id").and_then(|i| i.as_str()).map(str::to_owned))
                .unwrap_or_else(|| name.clone());
            let expression = schedule.schedule_expression().unwrap_or_default();
            let zone = schedule.schedule_expression_timezone().unwrap_or("UTC");
            let due = Due {
                name: name.clone(),
                key: key.clone(),
                function: function_name(target.arn()),
                input,
                delete_after: schedule.action_after_completion() == Some(&ActionAfterCompletion::Delete),
            };
            match parse_expression(expression, zone) {
                Err(error) => self.report_once(format!("unsupported {name} {expression}"), || error),
                Ok(Expression::At(at)) => {
                    if !enabled || at > now {
                        continue;
                    }
                    if !due.delete_after
                        && self.state.lock().expect("player state").fired_once.contains(&(name.clone(), modified))
                    {
                        continue;
                    }
                    if !self.has_slot() {
                        continue;
                    }
                    if self.is_busy(&key) {
                        self.report_once(format!("waiting {name} {modified}"), || {
                            format!("{name} is due but integration {key} is importing: it fires when that import ends")
                        });
                        continue;
                    }
                    if due.delete_after {
                        // Deleted as it fires, like ActionAfterCompletion DELETE: a "sync now" that replaces it
                        // while the import runs is a new schedule and fires again.
                        match self.scheduler.delete_schedule().group_name(&self.group).name(&name).send().await {
                            Ok(_) => {}
                            Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => {
                                continue;
                            }
                            Err(e) => return Err(aws_smithy_types::error::display::DisplayErrorContext(e).to_string()),
                        }
                    } else {
                        self.state.lock().expect("player state").fired_once.insert((name.clone(), modified));
                    }
                    self.fire(due, format!("{expression}, due {}", at.to_rfc3339()));
                }
                Ok(recurring @ (Expression::Rate(_) | Expression::Minutes { .. })) => {
                    let created_at = Utc.timestamp_opt(created, 0).single().unwrap_or(now);
                    let Some((created_at, every)) = recurring.ticks(created_at) else { continue };
                    let tick = *self
                        .state
                        .lock()
                        .expect("player state")
                        .next_ticks
                        .entry((name.clone(), created))
                        .or_insert_with(|| next_tick(created_at, every, now));
                    if tick > now {
                        continue;
                    }
                    self.state
                        .lock()
                        .expect("player state")
                        .next_ticks
                        .insert((name.clone(), created), next_tick(created_at, every, now));
                    if !enabled {
                        continue;
                    }
                    if !self.has_slot() {
                        tracing::info!(schedule = %name, "scheduler player: tick skipped, every invocation slot is busy");
                        continue;
                    }
                    if self.is_busy(&key) {
                        tracing::info!(schedule = %name, integration = %key, "scheduler player: tick skipped, an import of this integration is still running");
                        continue;
                    }
                    self.fire(due, format!("{expression}, tick {}", tick.to_rfc3339()));
                }
            }
        }
        // Forget recurring schedules that are gone (deleted integrations).
        self.state.lock().expect("player state").next_ticks.retain(|k, _| seen.contains(k));
        Ok(())
    }

    fn is_busy(&self, key: &str) -> bool {
        self.state.lock().expect("player state").busy.contains(key)
    }

    /// Invokes the target in the background; the integration stays busy until the invocation answered.
    fn fire(&self, due: Due, why: String) {
        let Ok(slot) = self.slots.clone().try_acquire_owned() else { return };
        self.state.lock().expect("player state").busy.insert(due.key.clone());
        let player = self.clone();
        tokio::spawn(async move {
            tracing::info!(schedule = %due.name, function = %due.function, input = %due.input, "scheduler player: invoking ({why})");
            let started = Instant::now();
            let url = format!("{}/2015-03-31/functions/{}/invocations", player.lambda_url, due.function);
            let delivery = invoke_with_retries(
                &player.http,
                &url,
                &due.input,
                &player.retry_delays,
                &player.slots,
                slot,
                &due.name,
            )
            .await;
            let seconds = started.elapsed().as_secs_f64();
            if let Ok(parsed) = &delivery.result {
                let run = &parsed["run"];
                let counts = &run["counts"];
                tracing::info!(
                    schedule = %due.name,
                    seconds,
                    attempts = delivery.attempts,
                    outcome = %parsed["outcome"].as_str().unwrap_or("?"),
                    detail = %parsed["detail"].as_str().unwrap_or_default(),
                    queues = %counts["queues"],
                    intervals = %counts["intervals"],
                    segments = %counts["segments"],
                    complete_through = %run["complete_through"].as_str().unwrap_or("-"),
                    "scheduler player: invocation ended"
                );
            }
            player.state.lock().expect("player state").busy.remove(&due.key);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn at_expressions_resolve_in_their_time_zone() {
        assert_eq!(parse_expression("at(2024-03-01T10:00:05)", "UTC"), Ok(Expression::At(t("2024-03-01T10:00:05Z"))));
        assert_eq!(parse_expression("at(2024-03-01T10:00:05)", ""), Ok(Expression::At(t("2024-03-01T10:00:05Z"))));
        assert_eq!(
            parse_expression("at(2024-07-01T10:00:00)", "Europe/Berlin"),
            Ok(Expression::At(t("2024-07-01T08:00:00Z")))
        );
        // 02:30 does not exist in Berlin on 2024-03-31: the next valid local time.
        assert_eq!(
            parse_expression("at(2024-03-31T02:30:00)", "Europe/Berlin"),
            Ok(Expression::At(t("2024-03-31T01:30:00Z")))
        );
        assert!(parse_expression("at(2024-03-01 10:00)", "UTC").is_err());
        assert!(parse_expression("at(2024-03-01T10:00:00)", "Mars/Olympus").is_err());
    }

    #[test]
    fn rate_expressions() {
        assert_eq!(parse_expression("rate(15 minutes)", "UTC"), Ok(Expression::Rate(chrono::Duration::minutes(15))));
        assert_eq!(parse_expression("rate(1 minute)", "UTC"), Ok(Expression::Rate(chrono::Duration::minutes(1))));
        assert_eq!(parse_expression("rate(2 hours)", "UTC"), Ok(Expression::Rate(chrono::Duration::hours(2))));
        assert_eq!(parse_expression("rate(1 day)", "UTC"), Ok(Expression::Rate(chrono::Duration::days(1))));
        // The import's quarter-hourly default, and an hourly cron; other cron expressions are not played.
        let quarter = parse_expression("cron(7/15 * * * ? *)", "UTC");
        assert_eq!(quarter, Ok(Expression::Minutes { minute: 7, every: 15 }));
        assert_eq!(parse_expression("cron(40 * * * ? *)", ""), Ok(Expression::Minutes { minute: 40, every: 60 }));
        for other in ["cron(0 8 * * ? *)", "cron(7/7 * * * ? *)", "cron(20/15 * * * ? *)", "cron(7/15 * * *)"] {
            assert!(parse_expression(other, "UTC").is_err(), "{other}");
        }
        assert!(parse_expression("cron(7/15 * * * ? *)", "Europe/Paris").is_err(), "UTC only");
        // Its ticks: minutes 7, 22, 37 and 52 of every hour, whenever the schedule was created.
        let (anchor, every) = quarter.unwrap().ticks(t("2024-03-01T10:51:30Z")).unwrap();
        assert_eq!(next_tick(anchor, every, t("2024-03-01T10:51:30Z")), t("2024-03-01T10:52:00Z"));
        assert_eq!(next_tick(anchor, every, t("2024-03-01T10:52:00Z")), t("2024-03-01T11:07:00Z"));
        assert_eq!(next_tick(anchor, every, t("2024-03-02T23:59:00Z")), t("2024-03-03T00:07:00Z"));
        for bad in ["rate(0 minutes)", "rate(-1 minutes)", "rate(5 fortnights)", "rate(5)", "cron(0 8 ? * MON *)"] {
            assert!(parse_expression(bad, "UTC").is_err(), "{bad}");
        }
    }

    #[test]
    fn ticks_count_from_creation() {
        let created = t("2024-03-01T10:00:00Z");
        let every = chrono::Duration::minutes(15);
        assert_eq!(next_tick(created, every, t("2024-03-01T09:00:00Z")), t("2024-03-01T10:15:00Z"));
        assert_eq!(next_tick(created, every, created), t("2024-03-01T10:15:00Z"));
        assert_eq!(next_tick(created, every, t("2024-03-01T10:14:59Z")), t("2024-03-01T10:15:00Z"));
        assert_eq!(next_tick(created, every, t("2024-03-01T10:15:00Z")), t("2024-03-01T10:30:00Z"));
        assert_eq!(next_tick(created, every, t("2024-03-01T12:07:00Z")), t("2024-03-01T12:15:00Z"));
    }

    #[test]
    fn function_names_come_from_the_target_arn() {
        assert_eq!(function_name("arn:aws:lambda:us-east-1:000000000000:function:import"), "import");
        assert_eq!(function_name("arn:aws:lambda:us-east-1:000000000000:function:import:live"), "import");
        assert_eq!(function_name("import"), "import");
    }

    /// A function behind a real HTTP invoke API that fails its first `failures` invocations in the given way.
    async fn flaky_function(failures: usize, how: &'static str) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
        use axum::http::StatusCode;
        use axum::response::IntoResponse;
        let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = calls.clone();
        let app = axum::Router::new().route(
            "/2015-03-31/functions/import/invocations",
            axum::routing::post(move |body: String| {
                let seen = seen.clone();
                async move {
                    assert_eq!(body, r#"{"integration_id":"i-1"}"#, "the target's input is sent on every attempt");
                    let n = seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    if n >= failures {
                        return (StatusCode::OK, r#"{"outcome":"succeeded","run":{"counts":{}}}"#).into_response();
                    }
                    match how {
                        "status" => {
                            (StatusCode::INTERNAL_SERVER_ERROR, "emulator: the function crashed").into_response()
                        }
                        "header" => (
                            StatusCode::OK,
                            [("x-amz-function-error", "Unhandled")],
                            r#"{"errorType":"StoreError","errorMessage":"storage failure"}"#,
                        )
                            .into_response(),
                        _ => (StatusCode::OK, r#"{"errorType":"Timeout","errorMessage":"Task timed out"}"#)
                            .into_response(),
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/2015-03-31/functions/import/invocations", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (url, calls)
    }

    async fn deliver(url: &str, delays: &[Duration], slots: &Arc<tokio::sync::Semaphore>) -> Delivery {
        let slot = slots.clone().try_acquire_owned().unwrap();
        invoke_with_retries(&reqwest::Client::new(), url, r#"{"integration_id":"i-1"}"#, delays, slots, slot, "s").await
    }

    #[tokio::test]
    async fn a_failed_invocation_is_retried_twice_after_the_delays_then_succeeds() {
        for how in ["status", "header", "error-body"] {
            let (url, calls) = flaky_function(2, how).await;
            let slots = Arc::new(tokio::sync::Semaphore::new(1));
            let delays = [Duration::from_millis(150), Duration::from_millis(300)];
            let started = Instant::now();
            let delivery = deliver(&url, &delays, &slots).await;
            assert_eq!(delivery.attempts, 3, "{how}");
            assert_eq!(delivery.result.unwrap()["outcome"], "succeeded", "{how}");
            assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 3, "{how}");
            assert!(started.elapsed() >= Duration::from_millis(450), "{how}: waited both delays");
            assert_eq!(slots.available_permits(), 1, "the slot is given back when the delivery ends");
        }
    }

    #[tokio::test]
    async fn a_success_is_not_retried_and_a_persistent_failure_is_dropped_after_three_attempts() {
        let (url, calls) = flaky_function(0, "status").await;
        let slots = Arc::new(tokio::sync::Semaphore::new(1));
        let delivery = deliver(&url, &LAMBDA_RETRY_DELAYS, &slots).await;
        assert_eq!((delivery.attempts, calls.load(std::sync::atomic::Ordering::SeqCst)), (1, 1));
        assert!(delivery.result.is_ok());

        let (url, calls) = flaky_function(usize::MAX, "header").await;
        let delivery = deliver(&url, &[Duration::from_millis(10), Duration::from_millis(20)], &slots).await;
        assert_eq!(delivery.attempts, 3);
        let error = delivery.result.unwrap_err();
        assert!(error.contains("function error (Unhandled)") && error.contains("storage failure"), "{error}");
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 3, "no fourth attempt");

        // Nobody listening: every attempt fails with no answer.
        let closed = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            format!("http://{}/2015-03-31/functions/import/invocations", listener.local_addr().unwrap())
        };
        let delivery = deliver(&closed, &[Duration::ZERO, Duration::ZERO], &slots).await;
        assert_eq!(delivery.attempts, 3);
        assert!(delivery.result.unwrap_err().starts_with("no answer"));
    }

    #[tokio::test]
    async fn a_retry_waits_without_holding_an_invocation_slot() {
        let (url, calls) = flaky_function(1, "status").await;
        let slots = Arc::new(tokio::sync::Semaphore::new(1));
        let waiting = {
            let slots = slots.clone();
            tokio::spawn(async move { deliver(&url, &[Duration::from_secs(2)], &slots).await })
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while calls.load(std::sync::atomic::Ordering::SeqCst) == 0 {
            assert!(Instant::now() < deadline, "the first attempt never came");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // During the back-off another invocation can take the only slot; the retry then waits for it.
        let other = tokio::time::timeout(Duration::from_millis(1500), slots.clone().acquire_owned())
            .await
            .expect("the slot is free while the failed invocation waits to retry")
            .unwrap();
        tokio::time::sleep(Duration::from_millis(1000)).await;
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1, "the retry waits for a free slot");
        drop(other);
        let delivery = waiting.await.unwrap();
        assert_eq!((delivery.attempts, calls.load(std::sync::atomic::Ordering::SeqCst)), (2, 2));
        assert!(delivery.result.is_ok());
    }

    #[test]
    fn retry_delays_parse_from_seconds() {
        assert_eq!(parse_retry_delays("60,120"), Ok(LAMBDA_RETRY_DELAYS.to_vec()));
        assert_eq!(parse_retry_delays(" 0.5 , 2 "), Ok(vec![Duration::from_millis(500), Duration::from_secs(2)]));
        assert_eq!(parse_retry_delays(""), Ok(vec![]));
        assert!(parse_retry_delays("1,x").is_err());
        assert!(parse_retry_delays("-1").is_err());
    }
}
