//! Five9 connector: reference payloads, and end-to-end runs against the simulator compared with its truth.

use std::time::Duration;

use acd_connectors::five9::{
    Five9Connector, Five9Grouping, Five9Options, Five9Region, Five9Settings, SkillReport, report, soap,
};
use acd_connectors::{
    Connector, ConnectorError, ConnectorFactory, Deadline, Endpoints, HttpClient, NextFetch, Pace, RetryPolicy,
    registry,
};
use acd_domain::{ExternalAgent, IntervalStats, TimeWindow};
use acd_simulators::five9::{FaultKind, FaultRule, Five9SimConfig, Five9Simulator, Limits};
use chrono::{DateTime, Utc};
use secrecy::SecretString;

// ---------- helpers ----------

fn utc(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn window(a: &str, b: &str) -> TimeWindow {
    TimeWindow::new(utc(a), utc(b)).unwrap()
}

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/five9/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn settings(grouping: Five9Grouping) -> Five9Settings {
    Five9Settings {
        region: Five9Region::Us,
        grouping,
        time_zone: "America/Los_Angeles".into(),
        skill_report: Some(SkillReport { folder: "Custom Reports".into(), name: "Call Log with Skill".into() }),
        report_row_limit: None,
    }
}

/// Report limits no test run comes near (the tests that pace set their own).
fn ample_limits() -> Limits {
    Limits { report_request: [10_000; 3], retrieve_report: [10_000; 3], ..Limits::default() }
}

fn test_options() -> Five9Options {
    Five9Options {
        retry: RetryPolicy { max_attempts: 4, base: Duration::from_millis(5), cap: Duration::from_millis(40) },
        poll_timeout: Duration::from_secs(1),
        // The simulator's per-minute limits guard the domain in these tests; pacing has its own test.
        run_reports_per_minute: 100,
        retrievals_per_minute: 100,
        ..Five9Options::default()
    }
}

fn connector_with(sim: &Five9Simulator, grouping: Five9Grouping, password: &str) -> Five9Connector {
    let endpoints = Endpoints::default().with_var("FIVE9_BASE_URL", sim.base_url());
    Five9Connector::new(
        HttpClient::new().unwrap(),
        &endpoints,
        settings(grouping),
        sim.username(),
        SecretString::from(password.to_owned()),
    )
    .with_options(test_options())
}

fn connector(sim: &Five9Simulator, grouping: Five9Grouping) -> Five9Connector {
    connector_with(sim, grouping, &sim.password())
}

fn deadline() -> Deadline {
    Deadline::after(Duration::from_secs(30))
}

async fn start(config: Five9SimConfig) -> Five9Simulator {
    Five9Simulator::start(config).await.unwrap()
}

async fn default_sim() -> Five9Simulator {
    start(Five9SimConfig::default()).await
}

fn total_offered(stats: &[IntervalStats]) -> u64 {
    stats.iter().map(|s| s.offered).sum()
}

/// A Tuesday in the default simulator's past (local day in Los Angeles).
const DAY: (&str, &str) = ("2024-11-05T08:00:00Z", "2024-11-06T00:00:00Z");

// ---------- reference payloads ----------

#[test]
fn parses_reference_envelopes_by_namespace_whatever_the_prefixes() {
    let soap::Reply::Response(r) = soap::parse_reply(&fixture("get_skills_response.xml"), "getSkills").unwrap() else {
        panic!("expected a response")
    };
    let skills: Vec<(&str, &str)> =
        r.children_named("return").map(|s| (s.child_text("id").unwrap(), s.child_text("name").unwrap())).collect();
    assert_eq!(
        skills,
        vec![("300000000000123", "Billing & Payments"), ("300000000000124", "Support \"VIP\", <Tier 1>")]
    );

    let soap::Reply::Response(r) =
        soap::parse_reply(&fixture("get_users_response.xml"), "getUsersGeneralInfo").unwrap()
    else {
        panic!("expected a response")
    };
    let users: Vec<_> = r.children_named("return").map(|u| u.child_text("fullName").unwrap().to_owned()).collect();
    assert_eq!(users, vec!["José Müller", "Renée \"Ren\" O'Brien, Jr."]);

    let soap::Reply::Response(r) =
        soap::parse_reply(&fixture("get_report_result_csv_response.xml"), "getReportResultCsv").unwrap()
    else {
        panic!("expected a response")
    };
    let csv = r.child_text("return").unwrap();
    let w = window("2024-11-25T13:00:00Z", "2024-11-25T14:00:00Z");
    let res = report::aggregate_call_log(csv, "CAMPAIGN", chrono_tz::America::Los_Angeles, w, w).unwrap();
    let names: std::collections::BTreeSet<_> = res.sums.by_queue.keys().cloned().collect();
    assert_eq!(names, ["Réclamations, \"Priorité\"".to_owned(), "Sales & Support".to_owned()].into());
}

#[test]
fn call_counters_are_read_per_window_a_nil_counter_is_skipped_and_a_counter_without_its_numbers_is_malformed() {
    use acd_connectors::five9::budget::parse_call_counters;
    let body = fixture("get_call_counters_state_response.xml");
    let soap::Reply::Response(r) = soap::parse_reply(&body, "getCallCountersState").unwrap() else {
        panic!("expected a response")
    };
    let counters: Vec<_> = parse_call_counters(&r)
        .unwrap()
        .into_iter()
        .map(|c| (c.window_secs, c.operation_type, c.limit, c.value))
        .collect();
    assert_eq!(
        counters,
        vec![
            (3_600, "ReportRequest".to_owned(), 120, 7),
            (3_600, String::new(), 15_000, 40),
            (86_400, "RetrieveReport".to_owned(), 1_000, 9)
        ]
    );
    // A counter the schema says cannot be so (its required value missing), or a window without its timeout.
    for (from, to) in [("<value>7</value>", ""), ("<timeout>86400</timeout>", "")] {
        let broken = body.replacen(from, to, 1);
        let soap::Reply::Response(r) = soap::parse_reply(&broken, "getCallCountersState").unwrap() else {
            panic!("expected a response")
        };
        assert!(matches!(parse_call_counters(&r), Err(ConnectorError::Malformed { .. })), "without {from}");
    }
    // No counter of a report operation (no `return` at all, or none of that type, which the schema allows): not
    // "no limits", which would let a back-fill run unpaced, nor an error, which would stop it for good — Five9's
    // default limits, nothing used.
    use acd_connectors::five9::budget::with_default_report_limits;
    let defaults = |operation: &str| -> Vec<(u64, u64, u64)> {
        let (counters, _) = with_default_report_limits(Vec::new());
        counters
            .into_iter()
            .filter(|c| c.operation_type == operation)
            .map(|c| (c.window_secs, c.limit, c.value))
            .collect()
    };
    assert_eq!(defaults("ReportRequest"), [(60, 16, 0), (3_600, 120, 0), (86_400, 800, 0)]);
    assert_eq!(defaults("RetrieveReport"), [(60, 20, 0), (3_600, 200, 0), (86_400, 1_000, 0)]);
    for (broken, assumed) in [
        (body.replace("ReportRequest", "Query"), vec!["ReportRequest"]),
        (without_spans(&body, "<return>", "</return>"), vec!["ReportRequest", "RetrieveReport"]),
        (body.clone(), vec![]),
    ] {
        let soap::Reply::Response(r) = soap::parse_reply(&broken, "getCallCountersState").unwrap() else {
            panic!("expected a response")
        };
        let (counters, named) = with_default_report_limits(parse_call_counters(&r).unwrap());
        assert_eq!(named, assumed);
        let reports: Vec<_> = counters.iter().filter(|c| c.operation_type == "ReportRequest").collect();
        assert!(!reports.is_empty());
        if assumed.is_empty() {
            assert_eq!((reports[0].limit, reports[0].value), (120, 7), "a listed counter is kept as it is");
        }
    }
}

/// `text` without every `open … close` span.
fn without_spans(text: &str, open: &str, close: &str) -> String {
    let mut out = text.to_owned();
    while let (Some(a), Some(b)) = (out.find(open), out.find(close)) {
        out.replace_range(a..b + close.len(), "");
    }
    out
}

#[test]
fn parses_reference_faults() {
    let soap::Reply::Fault(f) = soap::parse_reply(&fixture("fault_operations_limit.xml"), "runReport").unwrap() else {
        panic!("expected a fault")
    };
    assert_eq!(f.name.as_deref(), Some("OperationsLimitExceededFault"));
    assert_eq!(f.detail_text("operationType"), Some("ReportRequest"));
    assert_eq!(f.detail_text("limit"), Some("16"));
    let soap::Reply::Fault(f) = soap::parse_reply(&fixture("fault_access_disallowed.xml"), "getSkills").unwrap() else {
        panic!("expected a fault")
    };
    assert_eq!(f.name.as_deref(), Some("AccessDisallowedFault"));
    assert!(f.message().contains("permission"));
}

#[test]
fn reference_call_log_csv_with_tricky_names_and_the_repeated_hour() {
    // 2024-11-03, Los Angeles: 01:00–01:59 happens twice. The fixture's window is the first occurrence only,
    // then the second only (as the connector splits reports at the transition).
    let csv = fixture("call_log_fall_back.csv");
    let tz = chrono_tz::America::Los_Angeles;
    let first = window("2024-11-03T08:00:00Z", "2024-11-03T09:00:00Z");
    let second = window("2024-11-03T09:00:00Z", "2024-11-03T10:00:00Z");
    // What each of the two reports returns: the header plus its two rows (records end with CRLF; the
    // multi-line note holds a bare LF).
    let lines: Vec<&str> = csv.split("\r\n").collect();
    let part = |rows: &[&str]| format!("{}\r\n{}\r\n", lines[0], rows.join("\r\n"));
    let a = report::aggregate_call_log(&part(&lines[1..3]), "CAMPAIGN", tz, first, first).unwrap();
    let b = report::aggregate_call_log(&part(&lines[3..5]), "CAMPAIGN", tz, second, second).unwrap();
    assert_eq!((a.rows, b.rows), (2, 2));
    let q = "Sales & \"Support\", Inc.";
    let starts = |r: &report::CallLogResult| r.sums.by_queue[q].keys().map(|t| t.to_rfc3339()).collect::<Vec<_>>();
    assert_eq!(starts(&a), vec!["2024-11-03T08:15:00+00:00", "2024-11-03T08:45:00+00:00"]);
    assert_eq!(starts(&b), vec!["2024-11-03T09:15:00+00:00", "2024-11-03T09:45:00+00:00"]);
    // The same rows read with a window spanning both occurrences: row order separates them.
    let both = window("2024-11-03T08:00:00Z", "2024-11-03T10:00:00Z");
    let c = report::aggregate_call_log(&csv, "CAMPAIGN", tz, both, both).unwrap();
    assert_eq!(starts(&c), [starts(&a), starts(&b)].concat());
}

#[test]
fn reference_agent_state_details() {
    let csv = fixture("agent_state_details.csv");
    let tz = chrono_tz::America::Los_Angeles;
    let w = window("2024-11-25T21:00:00Z", "2024-11-25T22:00:00Z");
    let rows = report::parse_agent_states(&csv, tz, w).unwrap();
    let segs = report::build_segments(rows, utc("2024-11-26T00:00:00Z"), w);
    let got: Vec<_> =
        segs.iter().map(|s| (&*s.status_id, s.start.to_rfc3339(), s.end.map(|e| e.to_rfc3339()))).collect();
    assert_eq!(
        got,
        vec![
            ("Login", "2024-11-25T21:00:00+00:00".into(), Some("2024-11-25T21:00:10+00:00".into())),
            ("Ready", "2024-11-25T21:00:10+00:00".into(), Some("2024-11-25T21:00:15+00:00".into())),
            ("On Call", "2024-11-25T21:00:15+00:00".into(), Some("2024-11-25T21:03:10+00:00".into())),
            ("After Call Work", "2024-11-25T21:03:10+00:00".into(), Some("2024-11-25T21:04:00+00:00".into())),
            ("Not Ready: Lunch", "2024-11-25T21:04:00+00:00".into(), Some("2024-11-25T21:34:00+00:00".into())),
            ("Logout: End Shift", "2024-11-25T21:34:00+00:00".into(), Some("2024-11-25T21:34:00+00:00".into())),
        ]
    );
    assert!(segs.iter().all(|s| &*s.agent_external_id == "jose.muller@acme.example"));
}

// ---------- end to end ----------

#[tokio::test]
async fn lists_queues_agents_and_statuses_like_the_truth() {
    let sim = default_sim().await;
    for grouping in [Five9Grouping::Campaign, Five9Grouping::Skill] {
        let c = connector(&sim, grouping);
        assert_eq!(c.list_queues(deadline()).await.unwrap(), sim.truth_queues(grouping), "{grouping:?}");
    }
    let c = connector(&sim, Five9Grouping::Campaign);
    let agents = c.list_agents(deadline()).await.unwrap();
    assert_eq!(agents, sim.truth_agents());
    assert!(agents.iter().any(|a| a.display_name.as_deref().is_some_and(|n| n.contains('\''))));

    let statuses = c.list_statuses(deadline()).await.unwrap();
    let now = sim.now();
    assert_eq!(statuses, sim.truth_statuses(TimeWindow::new(now - chrono::Duration::hours(24), now).unwrap()));
    assert!(statuses.iter().any(|s| s.id == "Not Ready: Lunch"));
    c.verify(deadline()).await.unwrap();
    assert!(c.calls_made() >= 4);
}

#[tokio::test]
async fn interval_stats_equal_the_truth_for_both_groupings_and_the_window_is_exact() {
    let sim = default_sim().await;
    let w = window(DAY.0, DAY.1);
    for grouping in [Five9Grouping::Campaign, Five9Grouping::Skill] {
        let c = connector(&sim, grouping);
        let queues = c.list_queues(deadline()).await.unwrap();
        let got = c.interval_stats(&queues, w, deadline()).await.unwrap();
        let truth = sim.truth_intervals(w, grouping);
        assert!(total_offered(&truth) > 200, "the day must have traffic");
        assert_eq!(got, truth, "{grouping:?}");
    }
    // The criteria carried an explicit offset and exactly the window.
    let runs = sim.stats().report_runs;
    assert_eq!(runs.len(), 2);
    for run in &runs {
        assert_eq!((run.start, run.end), (Some(w.start), Some(w.end)));
        assert!(run.start_raw.ends_with("-08:00"), "{}", run.start_raw);
    }
    assert_eq!(runs[1].report, "Call Log with Skill");
}

#[tokio::test]
async fn a_call_exactly_at_the_window_end_belongs_to_the_next_window() {
    let sim = default_sim().await;
    let c = connector(&sim, Five9Grouping::Campaign);
    // Consecutive hour windows sum to the day: nothing is counted twice at the (inclusive) report end.
    let w = window("2024-11-05T16:00:00Z", "2024-11-05T20:00:00Z");
    let mut parts = Vec::new();
    for p in w.split(chrono::Duration::hours(1)) {
        parts.extend(c.interval_stats(&[], p, deadline()).await.unwrap());
    }
    parts.sort_by(|a, b| (&a.queue_external_id, a.interval_start).cmp(&(&b.queue_external_id, b.interval_start)));
    assert_eq!(parts, sim.truth_intervals(w, Five9Grouping::Campaign));
    assert!(
        c.warnings().is_empty(),
        "a row at the (inclusive) end is the next window's, not outside: {:?}",
        c.warnings()
    );
}

/// A connector for `sim` whose integration says its Five9 domain reports in `time_zone`.
fn connector_in(sim: &Five9Simulator, time_zone: &str) -> Five9Connector {
    let mut s = settings(Five9Grouping::Campaign);
    s.time_zone = time_zone.into();
    let endpoints = Endpoints::default().with_var("FIVE9_BASE_URL", sim.base_url());
    Five9Connector::new(HttpClient::new().unwrap(), &endpoints, s, sim.username(), SecretString::from(sim.password()))
        .with_options(test_options())
}

/// The (Call Log, Agent State Details) rows a connector's warning counts as skipped.
fn skipped_rows(warnings: &[String]) -> Vec<u64> {
    assert_eq!(warnings.len(), 1, "one warning for the run: {warnings:?}");
    let (_, counted) = warnings[0].split_once("asked for (").expect("the counts");
    counted[..counted.find(')').expect("the counts' end")]
        .split(|c: char| !c.is_ascii_digit())
        .filter(|n| !n.is_empty())
        .map(|n| n.parse().unwrap())
        .collect()
}

#[tokio::test]
async fn rows_far_outside_the_hours_asked_for_fail_the_read_and_rows_just_outside_are_warned_about() {
    // The integration says New York; the domain writes its reports in Los Angeles time, three hours behind. The
    // criteria carry an explicit offset, so Five9 returns the hours asked for, but its rows read as New York time
    // lie three hours earlier: every row would be filed three hours off, those read before the window dropped.
    let sim = default_sim().await;
    let wrong = connector_in(&sim, "America/New_York");
    let w = window("2024-11-05T16:00:00Z", "2024-11-05T18:00:00Z");
    let calls = total_offered(&sim.truth_intervals(w, Five9Grouping::Campaign));
    assert!(calls > 20, "the window must have traffic");
    let configuration = |e: ConnectorError| match e {
        ConnectorError::Configuration { message } => message,
        other => panic!("{other:?}"),
    };
    let message = configuration(expect_err(wrong.interval_stats(&[], w, deadline())).await);
    assert!(
        message.contains("hours outside the hours asked for") && message.contains("(America/New_York)"),
        "{message}"
    );
    let message = configuration(expect_err(wrong.agent_segments(&[], w, deadline())).await);
    assert!(message.contains("(America/New_York)"), "{message}");
    assert!(wrong.warnings().is_empty(), "a failed read skips nothing: {:?}", wrong.warnings());
    // The same reads in the domain's zone: exact, and no warning.
    let c = connector(&sim, Five9Grouping::Campaign);
    assert_eq!(c.interval_stats(&[], w, deadline()).await.unwrap(), sim.truth_intervals(w, Five9Grouping::Campaign));
    assert_eq!(c.agent_segments(&[], w, deadline()).await.unwrap(), sim.truth_segments(w));
    assert!(c.warnings().is_empty(), "{:?}", c.warnings());

    // Asia/Kathmandu is 15 minutes ahead of Asia/Kolkata: the rows of a Kathmandu domain read as Kolkata time lie
    // 15 minutes late, those of the window's last 15 minutes up to 15 minutes past its end. Within the tolerance:
    // skipped, counted and warned about.
    let sim = start(Five9SimConfig { time_zone: chrono_tz::Asia::Kathmandu, ..Five9SimConfig::default() }).await;
    let near = connector_in(&sim, "Asia/Kolkata");
    let w = window("2024-11-05T04:00:00Z", "2024-11-05T06:00:00Z");
    let last_quarter = window("2024-11-05T05:45:00Z", "2024-11-05T06:00:00Z");
    let late = total_offered(&sim.truth_intervals(last_quarter, Five9Grouping::Campaign));
    assert!(late > 0, "calls in the window's last 15 minutes");
    let got = total_offered(&near.interval_stats(&[], w, deadline()).await.unwrap());
    assert!(got > 0 && got <= total_offered(&sim.truth_intervals(w, Five9Grouping::Campaign)) - late, "{got}");
    assert!(near.warnings().iter().any(|w| w.contains("Asia/Kolkata")), "{:?}", near.warnings());
    near.agent_segments(&[], w, deadline()).await.unwrap();
    let counts = skipped_rows(&near.warnings());
    assert!(counts.len() == 2 && counts[0] >= late && counts[1] > 0, "{:?}", near.warnings());

    // And in its own zone, exact without a warning.
    let c = connector_in(&sim, "Asia/Kathmandu");
    assert_eq!(c.interval_stats(&[], w, deadline()).await.unwrap(), sim.truth_intervals(w, Five9Grouping::Campaign));
    assert_eq!(c.agent_segments(&[], w, deadline()).await.unwrap(), sim.truth_segments(w));
    assert!(c.warnings().is_empty(), "{:?}", c.warnings());
}

#[tokio::test]
async fn dst_days_of_25_and_23_hours_equal_the_truth() {
    // Fall back: 2024-11-03 is 25 hours long in Los Angeles; spring forward: 2024-03-10 is 23 hours.
    let sim = start(Five9SimConfig {
        now: Some(utc("2024-11-06T00:00:00Z")),
        calls_per_interval: 12.0,
        agents: 28, // four night-shift agents
        ..Five9SimConfig::default()
    })
    .await;
    let fall = window("2024-11-03T07:00:00Z", "2024-11-04T08:00:00Z");
    assert_eq!(fall.duration(), chrono::Duration::hours(25));
    for grouping in [Five9Grouping::Campaign, Five9Grouping::Skill] {
        let c = connector(&sim, grouping);
        let got = c.interval_stats(&c.list_queues(deadline()).await.unwrap(), fall, deadline()).await.unwrap();
        let truth = sim.truth_intervals(fall, grouping);
        let repeated_hour = |s: &&IntervalStats| {
            s.interval_start >= utc("2024-11-03T08:00:00Z") && s.interval_start < utc("2024-11-03T10:00:00Z")
        };
        assert!(truth.iter().filter(repeated_hour).count() >= 4, "calls in both 01:xx hours");
        assert_eq!(got, truth, "{grouping:?}");
    }
    // The fall-back day was split at the transition (09:00Z) into two reports.
    let runs = sim.stats().report_runs;
    assert_eq!(runs.len(), 4);
    assert_eq!(runs[0].end, Some(utc("2024-11-03T08:59:59Z")), "a second before the transition");
    assert_eq!(runs[1].start, Some(utc("2024-11-03T09:00:00Z")));
    assert_eq!(
        (runs[0].start_raw.as_str(), runs[1].start_raw.as_str()),
        ("2024-11-03T00:00:00.000-07:00", "2024-11-03T01:00:00.000-08:00")
    );
    // Agent segments across the repeated hour (night-shift agents work through it).
    let c = connector(&sim, Five9Grouping::Campaign);
    let segs = c.agent_segments(&[], fall, deadline()).await.unwrap();
    let truth = sim.truth_segments(fall);
    assert!(truth.iter().any(|s| s.start >= utc("2024-11-03T08:00:00Z") && s.start < utc("2024-11-03T10:00:00Z")));
    assert_eq!(segs, truth);

    sim.set_now(utc("2024-03-12T00:00:00Z"));
    let spring = window("2024-03-10T08:00:00Z", "2024-03-11T07:00:00Z");
    assert_eq!(spring.duration(), chrono::Duration::hours(23));
    for grouping in [Five9Grouping::Campaign, Five9Grouping::Skill] {
        let c = connector(&sim, grouping);
        let got = c.interval_stats(&c.list_queues(deadline()).await.unwrap(), spring, deadline()).await.unwrap();
        assert_eq!(got, sim.truth_intervals(spring, grouping), "{grouping:?}");
    }
    let c = connector(&sim, Five9Grouping::Campaign);
    assert_eq!(c.agent_segments(&[], spring, deadline()).await.unwrap(), sim.truth_segments(spring));
}

#[tokio::test]
async fn a_call_at_the_fall_back_instant_after_a_quiet_hour_is_counted_once_in_its_own_interval() {
    // The report before the fall-back instant (09:00Z, 01:00 PST) ends there, and that wall time is also the
    // repeated hour's first instant (08:00Z, 01:00 PDT). With no row of that hour in the report to tell the two
    // apart, a call at 09:00:00Z was read at 08:00Z, and again at 09:00Z by the next report.
    let sim = start(Five9SimConfig { now: Some(utc("2024-11-06T00:00:00Z")), ..Five9SimConfig::default() }).await;
    for name in sim.campaign_names() {
        for quarter in ["08:00", "08:15", "08:30", "08:45"] {
            assert!(sim.adjust_calls(&name, utc(&format!("2024-11-03T{quarter}:00Z")), -100_000));
        }
        // Enough calls in 09:00–09:15Z that some arrive in its first second.
        assert!(sim.adjust_calls(&name, utc("2024-11-03T09:00:00Z"), 200));
    }
    let quiet = window("2024-11-03T08:00:00Z", "2024-11-03T09:00:00Z");
    assert_eq!(sim.truth_intervals(quiet, Five9Grouping::Campaign), vec![], "the repeated hour's first pass is quiet");
    let the_instant = window("2024-11-03T09:00:00Z", "2024-11-03T09:00:01Z");
    assert!(total_offered(&sim.truth_intervals(the_instant, Five9Grouping::Campaign)) > 0, "calls at 01:00:00 PST");

    let c = connector(&sim, Five9Grouping::Campaign);
    let w = window("2024-11-03T07:00:00Z", "2024-11-03T10:00:00Z");
    let got = c.interval_stats(&[], w, deadline()).await.unwrap();
    assert_eq!(got, sim.truth_intervals(w, Five9Grouping::Campaign));
    // The report before the instant asked up to the second before it, the next from the instant.
    let runs = sim.stats().report_runs;
    let asked: Vec<_> = runs.iter().map(|r| (r.start_raw.as_str(), r.end_raw.as_str())).collect();
    assert_eq!(
        asked,
        [
            ("2024-11-03T00:00:00.000-07:00", "2024-11-03T01:59:59.000-07:00"),
            ("2024-11-03T01:00:00.000-08:00", "2024-11-03T02:00:00.000-08:00")
        ]
    );
}

#[tokio::test]
async fn agent_segments_equal_the_truth_with_open_segments_only_while_ongoing() {
    let sim = default_sim().await;
    let c = connector(&sim, Five9Grouping::Campaign);
    let past = window(DAY.0, "2024-11-05T20:00:00Z");
    let got = c.agent_segments(&[], past, deadline()).await.unwrap();
    let truth = sim.truth_segments(past);
    assert!(truth.len() > 100);
    assert!(truth.iter().all(|s| s.end.is_some()), "a past window has no open segment");
    assert_eq!(got, truth);
    assert!(got.iter().any(|s| &*s.status_id == "Logout: End Shift" && s.reason.as_deref() == Some("End Shift")));

    // A window ending at the simulator's now: ongoing states are open.
    sim.set_now(utc("2024-11-05T19:37:13Z"));
    let recent = window("2024-11-05T18:00:00Z", "2024-11-05T19:37:13Z");
    let truth = sim.truth_segments(recent);
    assert!(truth.iter().any(|s| s.end.is_none()), "someone is working at 11:37 local");
    assert_eq!(c.agent_segments(&[], recent, deadline()).await.unwrap(), truth);
}

#[tokio::test]
async fn reports_hitting_the_row_limit_are_split_and_never_partial() {
    let unlimited = Limits { report_request: [1000; 3], retrieve_report: [1000; 3], ..Limits::default() };
    let sim = start(Five9SimConfig { row_limit: 60, limits: unlimited, ..Five9SimConfig::default() }).await;
    let opts = Five9Options { row_limit: 60, ..test_options() };
    let c = connector(&sim, Five9Grouping::Campaign).with_options(opts.clone());
    let w = window("2024-11-05T15:00:00Z", "2024-11-05T21:00:00Z");
    let got = c.interval_stats(&[], w, deadline()).await.unwrap();
    assert_eq!(got, sim.truth_intervals(w, Five9Grouping::Campaign));
    let runs = sim.stats().report_runs;
    assert!(runs.len() > 3, "split into {} reports", runs.len());
    assert!(runs.iter().any(|r| r.rows == 60), "some report hit the limit");

    let segs = c.agent_segments(&[], w, deadline()).await.unwrap();
    assert_eq!(segs, sim.truth_segments(w));

    // Too many rows in 15 minutes: a configuration error, not partial data.
    sim.set_row_limit(2);
    let c = connector(&sim, Five9Grouping::Campaign).with_options(Five9Options { row_limit: 2, ..opts });
    let err = c.interval_stats(&[], w, deadline()).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Configuration { .. }), "{err:?}");
}

/// The connector the import builds for an integration whose create body has these `settings` (campaign grouping
/// and the body's checks): through the vendor registry, with every option at its production default.
fn connector_from_body(sim: &Five9Simulator, settings: serde_json::Value) -> Box<dyn Connector> {
    let mut body = serde_json::json!({"name": "Five9", "type": "five9",
        "credentials": {"username": sim.username(), "password": sim.password()},
        "settings": {"region": "us", "grouping": "campaign"}});
    body["settings"].as_object_mut().unwrap().extend(settings.as_object().unwrap().clone());
    let parsed = registry::parse_new_integration(&body).unwrap();
    let endpoints = Endpoints::default().with_var("FIVE9_BASE_URL", sim.base_url());
    let factory = ConnectorFactory::new(HttpClient::new().unwrap(), endpoints);
    factory.connector(&parsed.kind, &parsed.settings, parsed.credentials).unwrap().expect("a Five9 connector")
}

#[tokio::test]
async fn a_domain_s_lower_report_row_limit_set_in_the_integration_is_the_one_reports_are_taken_as_cut_at() {
    // A domain whose report row limit Five9 support lowered to 1,000 rows: Five9 (the simulator) cuts a report there
    // without a word. The integration says so (`report_row_limit`): a report of 1,000 rows is taken as cut off and
    // run again in halves, and the read equals the truth.
    let config = Five9SimConfig {
        row_limit: 1_000,
        calls_per_interval: 12.0,
        limits: ample_limits(),
        ..Five9SimConfig::default()
    };
    let sim = start(config).await;
    let agents = sim.truth_agents();
    let w = window("2024-11-04T08:00:00Z", "2024-11-06T00:00:00Z");
    let truth = sim.truth_intervals(w, Five9Grouping::Campaign);
    let truth_segments = sim.truth_segments(w);
    assert!(total_offered(&truth) > 2_000, "calls: {}", total_offered(&truth));
    let reports = |from: usize| -> Vec<(String, usize)> {
        sim.stats().report_runs[from..].iter().map(|r| (r.report.clone(), r.rows)).collect()
    };
    let at_limit = |runs: &[(String, usize)], name: &str| runs.iter().filter(|(r, n)| r == name && *n == 1_000).count();

    // A connector each (as two runs of the import): each keeps to Five9's 12 `runReport` a minute on its own.
    let set = || connector_from_body(&sim, serde_json::json!({"report_row_limit": 1_000}));
    assert_eq!(set().interval_stats(&[], w, deadline()).await.unwrap(), truth);
    assert_eq!(set().agent_segments(&agents, w, deadline()).await.unwrap(), truth_segments);
    let read = reports(0);
    assert!(at_limit(&read, "Call Log") >= 1, "the Call Log was cut at the limit, and halved: {read:?}");
    // The agent states are planned by the limit too: cut up front into reports expected to hold at most 900 rows.
    let states = read.iter().filter(|(r, _)| r == "Agent State Details").count();
    assert!(states > 2, "{read:?}");

    // The same domain with the setting left out (Five9's default, 50,000): the same reports come back cut at 1,000
    // rows and are taken as complete — the calls and states after each cut are missing, and the import would write
    // their intervals as zeros. The setting is what makes the read right.
    let before = sim.stats().report_runs.len();
    let default = || connector_from_body(&sim, serde_json::json!({}));
    let cut = default().interval_stats(&[], w, deadline()).await.unwrap();
    assert!(total_offered(&cut) < total_offered(&truth), "{} of {} calls", total_offered(&cut), total_offered(&truth));
    let cut_segments = default().agent_segments(&agents, w, deadline()).await.unwrap();
    assert!(cut_segments.len() < truth_segments.len(), "{} of {}", cut_segments.len(), truth_segments.len());
    let taken = reports(before);
    assert_eq!(at_limit(&taken, "Call Log"), 1, "one Call Log report, cut and taken as complete: {taken:?}");
    assert!(at_limit(&taken, "Agent State Details") >= 1, "{taken:?}");
    assert_eq!(taken.len(), 3, "{taken:?}");
}

#[tokio::test]
async fn a_half_of_a_report_cut_at_the_row_limit_that_comes_back_short_is_malformed_never_no_data() {
    // A report at the row limit is halved and its halves run on their own. The rows the cut report returned lie in
    // the first half (the Call Log's in time order; the Agent State Details' per agent, in both halves): a first
    // half that comes back header-only (a Five9 glitch) holds fewer than those, and is not read as no calls or
    // states, which the import would write over half the window as zeros.
    let unlimited = Limits { report_request: [1000; 3], retrieve_report: [1000; 3], ..Limits::default() };
    let sim = start(Five9SimConfig { row_limit: 60, limits: unlimited, ..Five9SimConfig::default() }).await;
    let c = connector(&sim, Five9Grouping::Campaign).with_options(Five9Options { row_limit: 60, ..test_options() });
    let w = window("2024-11-05T15:00:00Z", "2024-11-05T21:00:00Z");
    let empty_first_half = || FaultRule::new(FaultKind::EmptyResult).on("runReport").after(1).times(1);
    sim.set_faults(vec![empty_first_half()]);
    let err = expect_err(c.interval_stats(&[], w, deadline())).await;
    assert!(matches!(&err, ConnectorError::Malformed { context } if context.contains("halved")), "{err:?}");
    // The states from 12 hours early: 10:00-24:00, halved at 17:00; the first agent's rows start at 14:00.
    let evening = window("2024-11-05T22:00:00Z", "2024-11-06T00:00:00Z");
    sim.set_faults(vec![empty_first_half()]);
    let err = expect_err(c.agent_segments(&[], evening, deadline())).await;
    assert!(matches!(&err, ConnectorError::Malformed { context } if context.contains("halved")), "{err:?}");
    let runs = sim.stats().report_runs;
    let runs: Vec<_> = runs.iter().map(|r| (&*r.report, r.rows)).collect();
    assert_eq!(runs, [("Call Log", 60), ("Call Log", 0), ("Agent State Details", 60), ("Agent State Details", 0)]);
    // Without the glitch, the halves are read whole.
    sim.clear_faults();
    assert_eq!(c.interval_stats(&[], w, deadline()).await.unwrap(), sim.truth_intervals(w, Five9Grouping::Campaign));
    assert_eq!(c.agent_segments(&[], evening, deadline()).await.unwrap(), sim.truth_segments(evening));
}

#[tokio::test]
async fn agent_state_reports_are_cut_up_front_when_many_rows_are_expected() {
    let unlimited = Limits { report_request: [1000; 3], retrieve_report: [1000; 3], ..Limits::default() };
    let sim = start(Five9SimConfig { row_limit: 200, limits: unlimited, ..Five9SimConfig::default() }).await;
    let agents = sim.truth_agents();
    let day = window("2024-11-04T00:00:00Z", "2024-11-05T00:00:00Z");
    let truth = sim.truth_segments(day);
    let runs = |from: usize| -> Vec<usize> {
        sim.stats().report_runs[from..].iter().filter(|r| r.report == "Agent State Details").map(|r| r.rows).collect()
    };

    // Without an estimate the 36-hour report comes back cut off and is halved until the parts fit.
    let blind = connector(&sim, Five9Grouping::Campaign).with_options(Five9Options {
        row_limit: 200,
        state_rows_per_agent_hour: 0.0,
        ..test_options()
    });
    assert_eq!(blind.agent_segments(&agents, day, deadline()).await.unwrap(), truth);
    let blind_runs = runs(0);
    assert!(blind_runs.iter().any(|rows| *rows >= 200), "some report hit the limit: {blind_runs:?}");

    // With one (the simulator's agents make about 3 rows an hour over a day, more at its peak; here 2, an hour not
    // seen yet planned at 3 times that), the window is cut into parts expected to fit: fewer reports are wasted, and
    // no more run.
    let before = sim.stats().report_runs.len();
    let informed = connector(&sim, Five9Grouping::Campaign).with_options(Five9Options {
        row_limit: 200,
        state_rows_per_agent_hour: 2.0,
        ..test_options()
    });
    assert_eq!(informed.agent_segments(&agents, day, deadline()).await.unwrap(), truth);
    let informed_runs = runs(before);
    let hits = |runs: &[usize]| runs.iter().filter(|rows| **rows >= 200).count();
    // The estimate is an average: the busiest hours can still hit the limit and be halved, but far less often.
    assert!(hits(&informed_runs) * 2 < hits(&blind_runs), "{informed_runs:?} vs {blind_runs:?}");
    assert!(informed_runs.len() <= blind_runs.len(), "{informed_runs:?} vs {blind_runs:?}");
}

#[tokio::test]
async fn renamed_deleted_and_corrected_queues() {
    let sim = default_sim().await;
    let w = window("2024-11-05T16:00:00Z", "2024-11-05T20:00:00Z");

    // Skills: a rename keeps the id; stale queue lists are refreshed, adding the new names; a skill deleted after the
    // queues were listed keeps its calls under its id; once the queues no longer list it, its calls are dropped.
    let c = connector(&sim, Five9Grouping::Skill);
    let stale = c.list_queues(deadline()).await.unwrap();
    let before = c.interval_stats(&stale, w, deadline()).await.unwrap();
    assert!(sim.rename_skill("Billing & Payments", "Billing & Payments (EMEA)"));
    assert!(sim.delete_skill("Sales"));
    let after = c.interval_stats(&stale, w, deadline()).await.unwrap();
    let of =
        |v: &[IntervalStats], id: &str| v.iter().filter(|s| s.queue_external_id == id).cloned().collect::<Vec<_>>();
    let sales = stale.iter().find(|q| q.name == "Sales").unwrap();
    let (kept, rest): (Vec<IntervalStats>, Vec<IntervalStats>) =
        after.iter().cloned().partition(|s| s.queue_external_id == sales.external_id);
    assert_eq!(rest, sim.truth_intervals(w, Five9Grouping::Skill));
    assert!(!kept.is_empty());
    assert_eq!(kept, of(&before, &sales.external_id));
    let renamed = stale.iter().find(|q| q.name == "Billing & Payments").unwrap();
    assert_eq!(of(&after, &renamed.external_id), of(&before, &renamed.external_id));
    let queues = c.list_queues(deadline()).await.unwrap();
    assert!(queues.iter().any(|q| q.external_id == renamed.external_id && q.name == "Billing & Payments (EMEA)"));
    assert!(!queues.iter().any(|q| q.name == "Sales"));
    assert_eq!(c.interval_stats(&queues, w, deadline()).await.unwrap(), sim.truth_intervals(w, Five9Grouping::Skill));
    // The deleted skill's calls still name it, so every run asks for the skills again. A listing that comes back
    // empty (or short) then adds nothing and takes nothing: before, it replaced the known ids and every call was
    // dropped (the window's intervals written as zeros).
    for kind in [FaultKind::EmptyResult, FaultKind::MissingReturn] {
        sim.set_faults(vec![FaultRule::new(kind.clone()).on("getSkills").times(1)]);
        let got = c.interval_stats(&queues, w, deadline()).await.unwrap();
        assert_eq!(got, sim.truth_intervals(w, Five9Grouping::Skill), "{kind:?}");
    }
    sim.set_faults(vec![]);

    // Campaigns: the name is the id.
    let c = connector(&sim, Five9Grouping::Campaign);
    assert!(sim.rename_campaign("Réclamations", "Réclamations & Litiges"));
    let got = c.interval_stats(&[], w, deadline()).await.unwrap();
    assert_eq!(got, sim.truth_intervals(w, Five9Grouping::Campaign));
    assert!(got.iter().any(|s| s.queue_external_id == "Réclamations & Litiges"));

    // A corrected past interval: the re-import converges to the new numbers.
    let interval = utc("2024-11-05T18:00:00Z");
    let before = c.interval_stats(&[], w, deadline()).await.unwrap();
    assert!(sim.adjust_calls("Sales & Support", interval, 3));
    let after = c.interval_stats(&[], w, deadline()).await.unwrap();
    assert_eq!(after, sim.truth_intervals(w, Five9Grouping::Campaign));
    assert_eq!(total_offered(&after), total_offered(&before) + 3);
}

// ---------- faults ----------

async fn expect_err<T: std::fmt::Debug>(
    f: impl std::future::Future<Output = Result<T, ConnectorError>>,
) -> ConnectorError {
    f.await.expect_err("expected an error")
}

#[tokio::test]
async fn credentials_and_permission_faults_are_typed() {
    let sim = default_sim().await;
    let wrong = connector_with(&sim, Five9Grouping::Campaign, "wrong password");
    assert_eq!(expect_err(wrong.verify(deadline())).await, ConnectorError::CredentialsRejected);
    assert_eq!(expect_err(wrong.list_queues(deadline())).await, ConnectorError::CredentialsRejected);

    let c = connector(&sim, Five9Grouping::Campaign);
    c.verify(deadline()).await.unwrap();
    sim.push_fault(FaultRule::new(FaultKind::Forbidden).times(1));
    assert_eq!(expect_err(c.verify(deadline())).await, ConnectorError::CredentialsRejected);
    sim.push_fault(FaultRule::new(FaultKind::AccessDisallowed).on("getUsersGeneralInfo").times(1));
    let err = expect_err(c.verify(deadline())).await;
    assert!(matches!(err, ConnectorError::PermissionMissing { .. }), "{err:?}");
    sim.push_fault(FaultRule::new(FaultKind::AccessDisallowed).on("runReport").times(1));
    let err = expect_err(c.interval_stats(&[], window(DAY.0, DAY.1), deadline())).await;
    assert!(matches!(err, ConnectorError::PermissionMissing { .. }), "{err:?}");
    // Nothing leaks the password into errors.
    assert!(!format!("{err:?} {err}").contains(&sim.password()));
}

#[tokio::test]
async fn rate_limits_end_the_call_and_are_not_retried() {
    let sim = default_sim().await;
    let c = connector(&sim, Five9Grouping::Campaign);
    let w = window("2024-11-05T16:00:00Z", "2024-11-05T17:00:00Z");
    sim.push_fault(FaultRule::new(FaultKind::OperationsLimitExceeded).on("runReport").times(1));
    assert!(matches!(expect_err(c.interval_stats(&[], w, deadline())).await, ConnectorError::RateLimited { .. }));
    assert_eq!(sim.stats().operations.get("runReport"), Some(&1), "not retried");

    // The simulator's own counters: one runReport a day (a day the real clock does not leave meanwhile).
    clear_of_an_hour_boundary(Duration::from_secs(5)).await;
    let sim = default_sim().await;
    sim.set_limits(Limits { report_request: [16, 120, 1], ..Limits::default() });
    let c = connector(&sim, Five9Grouping::Campaign);
    assert_eq!(c.interval_stats(&[], w, deadline()).await.unwrap(), sim.truth_intervals(w, Five9Grouping::Campaign));
    assert!(matches!(expect_err(c.interval_stats(&[], w, deadline())).await, ConnectorError::RateLimited { .. }));
    assert_eq!(sim.stats().rate_limited, 1);
    let counters = c.call_counters(deadline()).await.unwrap();
    let day = counters.iter().find(|s| s.window_secs == 86_400 && s.operation_type == "ReportRequest").unwrap();
    assert_eq!((day.limit, day.value), (1, 1));

    // Pacing inside the connector: a second report within the minute would pass the deadline. Five9 refused
    // nothing, so it is the deadline (the import ends the run `partial`), not a rate limit; the report is not sent.
    let sim = default_sim().await;
    let c = connector(&sim, Five9Grouping::Campaign)
        .with_options(Five9Options { run_reports_per_minute: 1, ..test_options() });
    c.interval_stats(&[], w, deadline()).await.unwrap();
    let err = expect_err(c.interval_stats(&[], w, Deadline::after(Duration::from_secs(5)))).await;
    assert_eq!(err, ConnectorError::DeadlineExceeded);
    assert_eq!((sim.stats().operations.get("runReport"), sim.stats().rate_limited), (Some(&1), 0));
}

/// Sleeps past the next hour when it is less than `margin` away: the simulator's hourly and daily counters reset on
/// the real clock's hours, which would empty counts a test relies on.
async fn clear_of_an_hour_boundary(margin: Duration) {
    let left = Duration::from_secs(3_600 - Utc::now().timestamp().rem_euclid(3_600).unsigned_abs());
    if left < margin {
        tokio::time::sleep(left + Duration::from_secs(1)).await;
    }
}

/// What the import asks of a connector for one fetch of days (no agents: the state reports are cut by the span).
async fn import_day(c: &Five9Connector, day: TimeWindow) {
    c.interval_stats(&[], day, deadline()).await.unwrap();
    c.agent_segments(&[], day, deadline()).await.unwrap();
}

/// The import's next fetch of `days` for `agents` agents, statistics and agent states alike.
fn next_fetch(days: TimeWindow, agents: usize) -> NextFetch {
    NextFetch { stats: days, segments: Some(days), agents }
}

#[tokio::test]
async fn back_fill_days_are_paced_within_the_hourly_and_daily_budgets() {
    clear_of_an_hour_boundary(Duration::from_secs(30)).await;
    let sim = default_sim().await;
    let c = connector(&sim, Five9Grouping::Campaign);
    let day = window("2024-11-04T00:00:00Z", "2024-11-06T00:00:00Z");
    let next = next_fetch(day, 0);
    // Ample budget (Five9's default limits, nothing used yet).
    assert_eq!(c.pace_next_day(&next, deadline()).await.unwrap(), Pace::Go);

    // One import fetch (two UTC days) calls what the cost estimates: three reports (the call log, and 60 hours of
    // agent states in two), each polled and retrieved once here.
    let cost = c.fetch_cost(&next);
    assert_eq!((cost.report_request, cost.query), (3, 13));
    let before = sim.stats().operations;
    import_day(&c, day).await;
    let after = sim.stats().operations;
    let calls = |op: &str| after.get(op).copied().unwrap_or(0) - before.get(op).copied().unwrap_or(0);
    assert_eq!((calls("runReport"), calls("getReportResultCsv")), (cost.report_request, cost.retrieve_report));
    let queries = calls("isReportRunning");
    assert!(queries >= cost.report_request && queries < cost.query, "{queries} isReportRunning");

    // An hourly limit of 10 runReport keeps 2 free: with 3 used, 7 left ≥ 3 + 2 (go); with 6 used, 4 (wait). The
    // back-fill's next fetches are the next days.
    let (second, third) = (
        window("2024-11-06T00:00:00Z", "2024-11-08T00:00:00Z"),
        window("2024-11-08T00:00:00Z", "2024-11-10T00:00:00Z"),
    );
    let next = next_fetch(second, 0);
    sim.set_limits(Limits { report_request: [16, 10, 800], ..Limits::default() });
    assert_eq!(c.pace_next_day(&next, deadline()).await.unwrap(), Pace::Go);
    import_day(&c, second).await;
    let next = next_fetch(third, 0);
    let Pace::Wait { reason } = c.pace_next_day(&next, deadline()).await.unwrap() else { panic!("expected a wait") };
    assert_eq!(
        reason,
        "ReportRequest: 6 of 10 per hour used (the next import days need 3, 2 stay free for other API users)"
    );
    // Without a reserve the day would fit: the reserve is what keeps the customer's other tools going.
    let greedy = connector(&sim, Five9Grouping::Campaign)
        .with_options(Five9Options { budget_reserve_percent: 0, ..test_options() });
    assert_eq!(greedy.pace_next_day(&next, deadline()).await.unwrap(), Pace::Go);

    // Daily limits count too, and so do retrievals.
    sim.set_limits(Limits { retrieve_report: [20, 200, 9], ..Limits::default() });
    let Pace::Wait { reason } = c.pace_next_day(&next, deadline()).await.unwrap() else { panic!("expected a wait") };
    assert!(reason.starts_with("RetrieveReport: 6 of 9 per day used"), "{reason}");

    // Reading the counters costs no budget (the simulator agrees with the documentation), nothing was refused, and
    // the Query counter holds exactly the Query operations.
    let counters = c.call_counters(deadline()).await.unwrap();
    let stats = sim.stats();
    assert!(stats.operations["getCallCountersState"] >= 5);
    let query_ops: u64 = stats
        .operations
        .iter()
        .filter(|(op, _)| !["runReport", "getReportResultCsv", "getCallCountersState"].contains(&op.as_str()))
        .map(|(_, n)| n)
        .sum();
    let hourly = |ty: &str| counters.iter().find(|s| s.window_secs == 3_600 && s.operation_type == ty).unwrap().value;
    assert_eq!((hourly("Query"), hourly("ReportRequest"), hourly("RetrieveReport")), (query_ops, 6, 6));
    assert_eq!(stats.rate_limited, 0);
}

/// A large domain in miniature: 300 agents against a row limit of 6,000, Five9's limits ample (returned), the clock
/// on Thursday 10:15 — started clear of the real clock's next hour, when the simulator's hourly counters reset.
async fn large_domain() -> (Five9Simulator, Vec<ExternalAgent>, Limits) {
    clear_of_an_hour_boundary(Duration::from_secs(60)).await;
    let ample = ample_limits();
    let now = utc("2024-05-16T10:15:00Z");
    let config = Five9SimConfig { agents: 300, now: Some(now), limits: ample, row_limit: 6_000, ..Default::default() };
    let sim = start(config).await;
    let agents = sim.truth_agents();
    (sim, agents, ample)
}

#[tokio::test]
async fn a_large_domain_s_fetch_is_priced_by_the_reports_it_will_run() {
    // 300 agents against a row limit of 6,000: a fetch of days runs many Agent State Details reports, not the two of
    // a small domain (a fixed cost of three reports a fetch let a large domain's back-fill run into the hourly
    // limit, which stops every other API user of the domain for the rest of the hour). The budget check asks for
    // room for the reports the fetch will plan, and the fetch runs those (and two more for each report that
    // reached the row limit: it is run again in halves, which learning the domain's hours avoids).
    let (sim, agents, ample) = large_domain().await;
    // No reserve: the check then asks for exactly the fetch's cost. Hours not seen yet planned by the average (not
    // as busy ones, the default): the first fetch needs more reports than planned.
    let opts = Five9Options { row_limit: 6_000, budget_reserve_percent: 0, unseen_hour_factor: 1.0, ..test_options() };
    let c = connector(&sim, Five9Grouping::Campaign).with_options(opts);
    // Reports run by one fetch, and how many of them reached the row limit.
    let fetch = |days: TimeWindow| {
        let (c, sim, agents) = (&c, &sim, &agents);
        async move {
            let seen = sim.stats().report_runs.len();
            c.interval_stats(&[], days, deadline()).await.unwrap();
            c.agent_segments(agents, days, deadline()).await.unwrap();
            let runs = sim.stats().report_runs.split_off(seen);
            let cut = runs.iter().filter(|r| r.rows >= 6_000).count() as u64;
            (runs.len() as u64, cut)
        }
    };
    // Monday and Tuesday, before any hour was seen: cut by the average.
    let monday_tuesday = window("2024-05-13T00:00:00Z", "2024-05-15T00:00:00Z");
    let cost = c.fetch_cost(&next_fetch(monday_tuesday, agents.len()));
    assert!(cost.report_request > 10, "{cost:?}");
    assert_eq!((cost.retrieve_report, cost.query), (cost.report_request, cost.report_request * 4 + 1));
    let (runs, cut) = fetch(monday_tuesday).await;
    assert!(cut > 0, "by the average, busy hours reach the limit");
    assert_eq!(runs, cost.report_request + 2 * cut, "the planned reports, and each one cut run again in halves");

    // Wednesday, cut by the hours Monday and Tuesday taught. An hourly budget one report short of its cost waits,
    // and the reason names the fetch's real cost (a fixed three would have let it through).
    let wednesday = window("2024-05-15T00:00:00Z", "2024-05-16T00:00:00Z");
    let next = next_fetch(wednesday, agents.len());
    let cost = c.fetch_cost(&next);
    assert!(cost.report_request > 3, "{cost:?}");
    let hourly = |counters: &[acd_connectors::five9::CallCounterState]| {
        counters.iter().find(|s| s.window_secs == 3_600 && s.operation_type == "ReportRequest").unwrap().value
    };
    let used = hourly(&c.call_counters(deadline()).await.unwrap());
    assert_eq!(used, runs);
    sim.set_limits(Limits { report_request: [10_000, used + cost.report_request - 1, 10_000], ..ample });
    let Pace::Wait { reason } = c.pace_next_day(&next, deadline()).await.unwrap() else { panic!("expected a wait") };
    let need = format!("the next import days need {}, 0 stay free", cost.report_request);
    assert!(reason.starts_with("ReportRequest: ") && reason.contains(&need), "{reason}");
    // With room for exactly its cost it goes, and runs exactly that: no report reached the limit, none refused.
    sim.set_limits(Limits { report_request: [10_000, used + cost.report_request, 10_000], ..ample });
    assert_eq!(c.pace_next_day(&next, deadline()).await.unwrap(), Pace::Go);
    assert_eq!(fetch(wednesday).await, (cost.report_request, 0));
    assert_eq!(hourly(&c.call_counters(deadline()).await.unwrap()), used + cost.report_request);
    assert_eq!(sim.stats().rate_limited, 0);

    // A fetch whose agent states are final reads the statistics only: one Call Log report.
    let stats_only = NextFetch { segments: None, ..next };
    assert_eq!(c.fetch_cost(&stats_only).report_request, 1);
}

#[tokio::test]
async fn a_day_that_passes_the_allowance_only_as_a_guess_of_busy_hours_is_priced_by_the_average() {
    // Hours not seen yet are planned as busy ones (3 times the average), a guess: one day so planned can pass the
    // whole hourly allowance where the day's real hours would not (at Five9's default limits, a first day of more
    // than ≈ 10,500 agents). A day is the smallest fetch, so that would fail the run for a guess and never learn
    // the hours; the check prices such a day again by the average and, if that fits, the fetch is planned so. Two
    // days that pass it are not priced again: the import fetches them a day at a time.
    let (sim, agents, ample) = large_domain().await;
    let c = connector(&sim, Five9Grouping::Campaign).with_options(Five9Options { row_limit: 6_000, ..test_options() });
    let by_average = connector(&sim, Five9Grouping::Campaign).with_options(Five9Options {
        row_limit: 6_000,
        unseen_hour_factor: 1.0,
        ..test_options()
    });
    let wednesday = next_fetch(window("2024-05-15T00:00:00Z", "2024-05-16T00:00:00Z"), agents.len());
    let (busy, average) = (c.fetch_cost(&wednesday).report_request, by_average.fetch_cost(&wednesday).report_request);
    assert!(busy > average, "{busy} planned as busy hours, {average} by the average");
    // An hourly limit whose 80 % holds the day by the average, not as busy hours.
    let limit = (average..).find(|l| l - l.div_ceil(5) == average).unwrap();
    assert!(busy > limit - limit.div_ceil(5));
    sim.set_limits(Limits { report_request: [10_000, limit, 10_000], ..ample });
    assert_eq!(c.pace_next_day(&wednesday, deadline()).await.unwrap(), Pace::Go);
    assert_eq!(c.fetch_cost(&wednesday).report_request, average, "the fetch is planned as priced");
    // Two days together are too large, not priced again; the next check plans as busy hours again.
    let two_days = next_fetch(window("2024-05-14T00:00:00Z", "2024-05-16T00:00:00Z"), agents.len());
    assert!(matches!(c.pace_next_day(&two_days, deadline()).await.unwrap(), Pace::TooLarge { .. }));
    assert_eq!(c.fetch_cost(&wednesday).report_request, busy);
    // A day too large even by the average stays too large.
    sim.set_limits(Limits { report_request: [10_000, 2, 10_000], ..ample });
    assert!(matches!(c.pace_next_day(&wednesday, deadline()).await.unwrap(), Pace::TooLarge { .. }));
    assert_eq!(c.fetch_cost(&wednesday).report_request, busy);
}

#[tokio::test]
async fn a_paced_fetch_that_needs_more_reports_than_planned_stops_at_the_reserve_before_five9_refuses() {
    // 300 agents against a row limit of 6,000: Monday and Tuesday, cut by the average before any hour was seen,
    // need more reports than planned (the busy hours' reports reach the limit and are run again in halves). The
    // budget check let the fetch go for its planned cost; the connector runs no report past the room the hour had
    // above the reserve, and stops the fetch (`BudgetSpent`) before Five9 refuses anything: the reserve stays free
    // for the domain's other API users (until 2026-12-05 a 10,000-agent domain's first fetch, planned at 41
    // reports, ran 109 and the run was refused at the hour's 121st).
    let (sim, agents, ample) = large_domain().await;
    // Hours not seen yet planned by the average (not as busy ones, the default), as before 2026-12-05.
    let opts = Five9Options { row_limit: 6_000, unseen_hour_factor: 1.0, ..test_options() };
    let c = connector(&sim, Five9Grouping::Campaign).with_options(opts);
    let monday_tuesday = window("2024-05-13T00:00:00Z", "2024-05-15T00:00:00Z");
    let next = next_fetch(monday_tuesday, agents.len());
    let cost = c.fetch_cost(&next).report_request;
    // An hourly limit that leaves, above its 20 % reserve, room for the planned reports and one more: the fetch
    // needs at least two more (each report at the row limit is run again in halves).
    let limit = (cost..).find(|l| l - l.div_ceil(5) == cost + 1).unwrap();
    let room = cost + 1;
    sim.set_limits(Limits { report_request: [10_000, limit, 10_000], ..ample });
    assert_eq!(c.pace_next_day(&next, deadline()).await.unwrap(), Pace::Go);
    c.interval_stats(&[], monday_tuesday, deadline()).await.unwrap();
    let Err(ConnectorError::BudgetSpent { reason }) = c.agent_segments(&agents, monday_tuesday, deadline()).await
    else {
        panic!("expected the fetch to stop at the reserve")
    };
    let reserve = limit - room;
    assert_eq!(
        reason,
        format!("ReportRequest: {room} of {limit} per hour used, {reserve} stay free for other API users")
    );
    let stats = sim.stats();
    assert_eq!(stats.report_runs.len() as u64, room, "no report past the room above the reserve");
    assert!(stats.report_runs.iter().any(|r| r.rows >= 6_000), "a report reached the row limit");
    assert_eq!(stats.rate_limited, 0, "Five9 refused nothing");
    // What the complete reports taught is kept, and once the hour has room again (here: a higher limit), the next
    // fetch goes on.
    assert!(c.learned_cursor().is_some());
    sim.set_limits(ample);
    assert_eq!(c.pace_next_day(&next, deadline()).await.unwrap(), Pace::Go);
    let segments = c.agent_segments(&agents, monday_tuesday, deadline()).await.unwrap();
    assert!(!segments.is_empty());
    assert_eq!(sim.stats().rate_limited, 0);
}

#[tokio::test]
async fn reports_whose_result_is_still_to_come_count_against_the_retrievals_left_when_the_counters_are_read_again() {
    // As above, with the hourly retrievals binding (runReport ample) and no reserve, the Call Log and the Agent State
    // reports side by side as the import's fetch runs them. When the room the budget check saw is spent, the
    // counters are read again; a report whose runReport came back but whose result has not is in the ReportRequest
    // counter, not yet in RetrieveReport. Until 2026-12-05 only reports not sent yet were taken off the room: for
    // some budgets a report ran whose retrieval Five9 then refused (the fetch failed `RateLimited`, and with the
    // default reserve a retrieval ran into the reserve). Several budgets, each fetch by a new connector (nothing
    // learned, so every fetch needs more reports than planned and reads the counters again).
    let (sim, agents, ample) = large_domain().await;
    let monday_tuesday = window("2024-05-13T00:00:00Z", "2024-05-15T00:00:00Z");
    let next = next_fetch(monday_tuesday, agents.len());
    let opts = Five9Options { row_limit: 6_000, unseen_hour_factor: 1.0, budget_reserve_percent: 0, ..test_options() };
    let retrieved = |counters: &[acd_connectors::five9::CallCounterState]| {
        counters.iter().find(|s| s.window_secs == 3_600 && s.operation_type == "RetrieveReport").unwrap().value
    };
    let mut stopped = 0;
    for extra in 1..=6 {
        let c = connector(&sim, Five9Grouping::Campaign).with_options(opts.clone());
        let cost = c.fetch_cost(&next).retrieve_report;
        sim.set_limits(ample);
        let used = retrieved(&c.call_counters(deadline()).await.unwrap());
        let limit = used + cost + extra;
        sim.set_limits(Limits { retrieve_report: [10_000, limit, 10_000], ..ample });
        assert_eq!(c.pace_next_day(&next, deadline()).await.unwrap(), Pace::Go);
        let (calls, states) = tokio::join!(
            c.interval_stats(&[], monday_tuesday, deadline()),
            c.agent_segments(&agents, monday_tuesday, deadline())
        );
        for result in [calls.map(drop), states.map(drop)] {
            match result {
                Ok(()) => {}
                Err(ConnectorError::BudgetSpent { .. }) => stopped += 1,
                Err(e) => panic!("room for {extra} more than planned: {e:?}"),
            }
        }
        assert_eq!(sim.stats().rate_limited, 0, "room for {extra} more than planned: a retrieval refused");
        // (The simulator refuses at the limit without counting: the counter never passes it, `rate_limited` is the
        // check.) The fetch spent the room it was paced for before it stopped.
        let after = retrieved(&c.call_counters(deadline()).await.unwrap());
        assert!(after >= used + cost, "room for {extra} more than planned: {} of {cost} retrievals", after - used);
    }
    assert!(stopped > 0, "the fetches needed more than their room, and stopped at it");
}

#[tokio::test]
async fn configuration_and_unavailability_faults_are_typed() {
    let sim = default_sim().await;
    let c = connector(&sim, Five9Grouping::Campaign);
    let w = window("2024-11-05T16:00:00Z", "2024-11-05T17:00:00Z");
    sim.push_fault(FaultRule::new(FaultKind::ReportNotFound).on("runReport").times(1));
    assert!(matches!(expect_err(c.interval_stats(&[], w, deadline())).await, ConnectorError::Configuration { .. }));

    for kind in [FaultKind::Http500, FaultKind::Http503, FaultKind::ServiceUnavailableFault, FaultKind::ServerFault] {
        sim.set_faults(vec![FaultRule::new(kind.clone())]);
        let err = expect_err(c.list_queues(deadline())).await;
        assert!(matches!(err, ConnectorError::Unavailable { .. }), "{kind:?}: {err:?}");
    }
    // A `Client` fault without detail refuses the request itself: not retried (one request), not "unavailable".
    sim.set_faults(vec![FaultRule::new(FaultKind::ClientFault).on("getCampaigns")]);
    let before = sim.stats().requests;
    let err = expect_err(c.list_queues(deadline())).await;
    assert!(matches!(&err, ConnectorError::Malformed { context } if context.contains("Client fault")), "{err:?}");
    assert_eq!(sim.stats().requests - before, 1, "sent once");
    // Transient faults are retried: two failures, then the right answer.
    sim.set_faults(vec![FaultRule::new(FaultKind::Http503).times(1), FaultRule::new(FaultKind::ServerFault).times(1)]);
    assert_eq!(c.interval_stats(&[], w, deadline()).await.unwrap(), sim.truth_intervals(w, Five9Grouping::Campaign));
    sim.clear_faults();

    // A skill grouping without the skill report's SKILL column: configuration.
    let mut s = settings(Five9Grouping::Skill);
    s.skill_report = Some(SkillReport { folder: "Call Log Reports".into(), name: "Call Log".into() });
    let endpoints = Endpoints::default().with_var("FIVE9_BASE_URL", sim.base_url());
    let c = Five9Connector::new(HttpClient::new().unwrap(), &endpoints, s, sim.username(), sim.password().into())
        .with_options(test_options());
    let err = expect_err(c.interval_stats(&[], w, deadline())).await;
    assert!(matches!(&err, ConnectorError::Configuration { message } if message.contains("SKILL")), "{err:?}");
}

#[tokio::test]
async fn a_server_error_page_that_is_not_utf8_is_unavailable_and_retried_not_malformed() {
    // An HTTP 500 page in Latin-1 (an application server's or proxy's, "réessayez" with a byte that is not UTF-8)
    // holds no data: a transient failure like any 500 without a SOAP fault, not a malformed answer.
    let sim = default_sim().await;
    let c = connector(&sim, Five9Grouping::Campaign);
    let w = window("2024-11-05T16:00:00Z", "2024-11-05T17:00:00Z");
    for op in ["getCampaigns", "runReport", "getReportResultCsv"] {
        sim.set_faults(vec![FaultRule::new(FaultKind::Http500Latin1).on(op)]);
        let err = if op == "getCampaigns" {
            expect_err(c.list_queues(deadline())).await
        } else {
            expect_err(c.interval_stats(&[], w, deadline())).await
        };
        assert!(matches!(&err, ConnectorError::Unavailable { .. }), "{op}: {err:?}");
        assert_eq!(err.reason().as_str(), "vendor_unavailable", "{op}");
    }
    // Retried within the call: two such pages, then the right answer.
    sim.set_faults(vec![FaultRule::new(FaultKind::Http500Latin1).times(2)]);
    assert_eq!(c.interval_stats(&[], w, deadline()).await.unwrap(), sim.truth_intervals(w, Five9Grouping::Campaign));
}

#[tokio::test]
async fn malformed_truncated_and_foreign_bodies_never_yield_partial_data() {
    let sim = default_sim().await;
    let c = connector(&sim, Five9Grouping::Campaign);
    let w = window("2024-11-05T16:00:00Z", "2024-11-05T20:00:00Z");
    for (op, kind) in [
        ("getCampaigns", FaultKind::MalformedXml),
        ("getCampaigns", FaultKind::TruncatedBody),
        ("getCampaigns", FaultKind::WrongNamespace),
        ("getReportResultCsv", FaultKind::TruncatedCsv),
        ("getReportResultCsv", FaultKind::TruncatedBody),
        ("runReport", FaultKind::MalformedXml),
        // Not UTF-8 (a Latin-1 "é"): read lossily, "Réclamations" and "Rèclamations" would be one campaign.
        ("getCampaigns", FaultKind::Latin1Body),
        ("getReportResultCsv", FaultKind::Latin1Body),
    ] {
        sim.set_faults(vec![FaultRule::new(kind.clone()).on(op)]);
        let err = if op == "getCampaigns" {
            expect_err(c.list_queues(deadline())).await
        } else {
            expect_err(c.interval_stats(&[], w, deadline())).await
        };
        assert!(matches!(err, ConnectorError::Malformed { .. }), "{op} {kind:?}: {err:?}");
    }
    sim.set_faults(vec![FaultRule::new(FaultKind::TruncatedCsv).on("getReportResultCsv")]);
    let err = expect_err(c.agent_segments(&[], w, deadline())).await;
    assert!(matches!(err, ConnectorError::Malformed { .. }), "{err:?}");

    // Empty results are valid and empty.
    sim.set_faults(vec![FaultRule::new(FaultKind::EmptyResult)]);
    assert_eq!(c.interval_stats(&[], w, deadline()).await.unwrap(), vec![]);
    assert_eq!(c.list_queues(deadline()).await.unwrap(), vec![]);
    assert_eq!(c.agent_segments(&[], w, deadline()).await.unwrap(), vec![]);
}

#[test]
fn report_results_without_return_header_or_columns_are_malformed_fixtures() {
    let w = window("2024-11-25T13:00:00Z", "2024-11-25T14:00:00Z");
    let tz = chrono_tz::America::Los_Angeles;
    // No `return` at all: no answer, never an empty report.
    let body = fixture("report_result_without_return.xml");
    let err = soap::open_report_csv(&body).err().expect("no return element is an error");
    assert!(err.0.contains("no return element"), "{err:?}");
    // An empty `return` and a CSV without its header line open, but the parsers refuse them.
    for name in ["report_result_empty_return.xml", "report_result_headerless.xml"] {
        let body = fixture(name);
        let Ok(soap::ReportReply::Csv(mut csv)) = soap::open_report_csv(&body) else { panic!("{name}: a result") };
        let mut out = report::CallLogResult::default();
        let e = report::aggregate_call_log_into(&mut csv, "CAMPAIGN", tz, w, w, &mut out).unwrap_err();
        assert_eq!(e.1, report::ReportErrorKind::Malformed, "{name}: {e:?}");
        assert!(e.0.contains("no header line"), "{name}: {e:?}");
        let Ok(soap::ReportReply::Csv(mut csv)) = soap::open_report_csv(&body) else { panic!("{name}: a result") };
        let e = report::parse_agent_states_into(&mut csv, tz, w, &mut report::StateRows::default());
        assert!(e.unwrap_err().0.contains("no header line"), "{name}");
    }
    // The reference result read in place equals the tree parser's text, and the document is checked to its end.
    let body = fixture("get_report_result_csv_response.xml");
    let soap::Reply::Response(r) = soap::parse_reply(&body, "getReportResultCsv").unwrap() else { panic!() };
    let Ok(soap::ReportReply::Csv(mut csv)) = soap::open_report_csv(&body) else { panic!("a result") };
    let mut text = String::new();
    std::io::Read::read_to_string(&mut csv, &mut text).unwrap();
    assert_eq!(text, r.child_text("return").unwrap());
    csv.finish().unwrap();
    let cut = &body[..body.rfind("</return>").unwrap() + 12];
    let Ok(soap::ReportReply::Csv(mut csv)) = soap::open_report_csv(cut) else { panic!("a result") };
    std::io::Read::read_to_string(&mut csv, &mut String::new()).unwrap();
    assert!(csv.finish().is_err(), "a body cut after the CSV is refused");
}

#[tokio::test]
async fn an_empty_or_headerless_report_result_is_malformed_never_no_data() {
    // Defect 1 of issue 10: `getReportResultCsv` without `return` (or with an empty one) read as "no calls, no
    // states" and deleted the stored window. Each must fail the call as malformed.
    let sim = default_sim().await;
    let c = connector(&sim, Five9Grouping::Campaign);
    let w = window("2024-11-05T16:00:00Z", "2024-11-05T20:00:00Z");
    assert!(!c.interval_stats(&[], w, deadline()).await.unwrap().is_empty(), "the window has calls");
    for kind in [FaultKind::MissingReturn, FaultKind::EmptyReturn, FaultKind::HeaderlessCsv] {
        sim.set_faults(vec![FaultRule::new(kind.clone()).on("getReportResultCsv")]);
        let err = expect_err(c.interval_stats(&[], w, deadline())).await;
        assert!(matches!(err, ConnectorError::Malformed { .. }), "{kind:?}: {err:?}");
        assert_eq!(err.reason().as_str(), "vendor_data_malformed");
        let err = expect_err(c.agent_segments(&[], w, deadline())).await;
        assert!(matches!(err, ConnectorError::Malformed { .. }), "{kind:?}: {err:?}");
    }
    // A listing element without the fields the connector needs is malformed too; without entries it is empty.
    sim.set_faults(vec![FaultRule::new(FaultKind::MissingReturn).on("getCampaigns")]);
    assert_eq!(c.list_queues(deadline()).await.unwrap(), vec![]);
    sim.clear_faults();
    assert!(!c.interval_stats(&[], w, deadline()).await.unwrap().is_empty());
}

#[tokio::test]
async fn slow_vendors_and_unfinished_reports_hit_the_deadline_not_no_data() {
    let sim = default_sim().await;
    let c = connector(&sim, Five9Grouping::Campaign);
    let w = window("2024-11-05T16:00:00Z", "2024-11-05T17:00:00Z");
    sim.set_faults(vec![FaultRule::new(FaultKind::ReportRunningForever).on("runReport")]);
    let err = expect_err(c.interval_stats(&[], w, Deadline::after(Duration::from_secs(2)))).await;
    assert_eq!(err, ConnectorError::DeadlineExceeded);

    sim.set_faults(vec![FaultRule::new(FaultKind::Delay { ms: 3_000 })]);
    let err = expect_err(c.list_queues(Deadline::after(Duration::from_millis(500)))).await;
    assert_eq!(err, ConnectorError::DeadlineExceeded);

    // Slow but within the deadline: correct.
    sim.set_faults(vec![FaultRule::new(FaultKind::Delay { ms: 50 })]);
    sim.set_report_running_for(Duration::from_millis(400));
    assert_eq!(c.interval_stats(&[], w, deadline()).await.unwrap(), sim.truth_intervals(w, Five9Grouping::Campaign));
}

#[tokio::test]
async fn a_report_result_sent_slowly_but_steadily_is_read_whole_and_one_that_stalls_fails_transient() {
    // A report result can be tens of MB (`report_row_limit` up to 1,000,000 rows). Its download was bounded by the
    // per-request timeout in all (30 s): a result Five9 sends slower than its size / 30 s timed out every time, and
    // every run failed the same way. Here the timeouts are 1 s (in all for a request, without a byte for a download)
    // and the simulator sends the result over ≈ 3 s, a part every 200 ms.
    let sim = default_sim().await;
    let second = Duration::from_secs(1);
    let c = connector(&sim, Five9Grouping::Campaign).with_options(Five9Options {
        request_timeout: second,
        report_idle_timeout: second,
        ..test_options()
    });
    let w = window("2024-11-05T16:00:00Z", "2024-11-05T17:00:00Z");
    let retrievals = || sim.stats().operations.get("getReportResultCsv").copied().unwrap_or(0);
    let slow = FaultRule::new(FaultKind::SlowBody { chunks: 15, pause_ms: 200 });
    sim.set_faults(vec![slow.clone().on("getReportResultCsv")]);
    let started = std::time::Instant::now();
    assert_eq!(c.interval_stats(&[], w, deadline()).await.unwrap(), sim.truth_intervals(w, Five9Grouping::Campaign));
    assert!(started.elapsed() >= Duration::from_millis(2_500), "sent in {:?}", started.elapsed());
    assert_eq!(retrievals(), 1, "read whole the first time");
    // The whole download is bounded by the deadline still: it goes on past 1 s, and ends at the deadline.
    let started = std::time::Instant::now();
    let err = expect_err(c.interval_stats(&[], w, Deadline::after(Duration::from_millis(2_500)))).await;
    assert_eq!(err, ConnectorError::DeadlineExceeded);
    assert!(started.elapsed() >= Duration::from_millis(2_400), "ended after {:?}", started.elapsed());
    // Other requests keep their bound in all: an answer as slow fails them (retried, then unavailable).
    sim.set_faults(vec![slow.on("getCampaigns")]);
    let err = expect_err(c.list_queues(deadline())).await;
    assert!(matches!(&err, ConnectorError::Unavailable { .. }), "{err:?}");

    // A result that stops coming (half of it, then nothing for 2.5 s) fails after 1 s without a byte, as the
    // transient failure it is: retried, then unavailable.
    sim.set_faults(vec![FaultRule::new(FaultKind::StalledBody { ms: 2_500 }).on("getReportResultCsv")]);
    let before = retrievals();
    let started = std::time::Instant::now();
    let err = expect_err(c.interval_stats(&[], w, deadline())).await;
    assert!(err.is_transient(), "{err:?}");
    let ConnectorError::Unavailable { message } = &err else { panic!("{err:?}") };
    assert!(message.contains("getReportResultCsv") && message.contains("sent no byte for 1000 ms"), "{message}");
    assert_eq!(retrievals() - before, u64::from(test_options().retry.max_attempts));
    assert!(
        started.elapsed() < Duration::from_secs(4 * 2),
        "{:?}: each try ended 1 s into the stall",
        started.elapsed()
    );
    sim.clear_faults();
    assert_eq!(c.interval_stats(&[], w, deadline()).await.unwrap(), sim.truth_intervals(w, Five9Grouping::Campaign));
}

#[tokio::test]
async fn a_run_report_sent_again_after_its_answer_was_lost_takes_another_report_of_the_paced_allowance() {
    // runReport is retried when its answer does not come back; when Five9 had started the report (the answer lost,
    // or later than the request timeout), Five9 counts both calls. The paced allowance counted the report once: the
    // fetch ran one more report than the hour had room for — into the reserve kept for the domain's other API users,
    // here (no reserve) past Five9's limit, which refused it (`RateLimited`; every other user of the domain refused
    // too until the hour turned).
    clear_of_an_hour_boundary(Duration::from_secs(60)).await;
    let sim = default_sim().await;
    let c = connector(&sim, Five9Grouping::Campaign).with_options(Five9Options {
        request_timeout: Duration::from_secs(1),
        budget_reserve_percent: 0,
        ..test_options()
    });
    let day = window(DAY.0, DAY.1);
    let next = next_fetch(day, 0);
    // Room for the fetch's two reports (its Call Log and its Agent State Details), no more.
    let cost = c.fetch_cost(&next).report_request;
    assert_eq!(cost, 2);
    sim.set_limits(Limits { report_request: [16, cost, 800], ..Limits::default() });
    assert_eq!(c.pace_next_day(&next, deadline()).await.unwrap(), Pace::Go);
    // The Call Log's runReport is carried out, its answer held back past the 1 s timeout: sent again.
    sim.set_faults(vec![FaultRule::new(FaultKind::DelayAnswer { ms: 1_500 }).on("runReport").times(1)]);
    assert_eq!(
        c.interval_stats(&[], day, deadline()).await.unwrap(),
        sim.truth_intervals(day, Five9Grouping::Campaign)
    );
    assert_eq!(sim.stats().operations.get("runReport"), Some(&2), "sent again");
    // Both count: the hour has no room left for the Agent State Details report, which the connector does not run.
    let err = expect_err(c.agent_segments(&[], day, deadline())).await;
    assert_eq!(
        err,
        ConnectorError::BudgetSpent {
            reason: "ReportRequest: 2 of 2 per hour used, 0 stay free for other API users".into()
        }
    );
    assert_eq!((sim.stats().operations.get("runReport"), sim.stats().rate_limited), (Some(&2), 0), "none refused");

    // The per-minute pacing likewise: with one runReport a minute, the send after a lost answer waits for the next
    // minute (here past a 5 s deadline: the run ends `partial`) instead of going out at once.
    sim.set_limits(ample_limits());
    let c = connector(&sim, Five9Grouping::Campaign).with_options(Five9Options {
        request_timeout: Duration::from_secs(1),
        run_reports_per_minute: 1,
        ..test_options()
    });
    sim.set_faults(vec![FaultRule::new(FaultKind::DelayAnswer { ms: 1_500 }).on("runReport").times(1)]);
    let err = expect_err(c.interval_stats(&[], day, Deadline::after(Duration::from_secs(5)))).await;
    assert_eq!(err, ConnectorError::DeadlineExceeded);
    assert_eq!(sim.stats().operations.get("runReport"), Some(&3), "not sent again within the minute");
}

#[tokio::test]
async fn a_report_still_running_at_once_despite_the_long_poll_is_polled_no_faster_than_its_timeout() {
    // isReportRunning was sent again as soon as it answered `true` (unless its timeout rounded to 0 s): a server that
    // answers at once, whatever the timeout asked for, was polled as fast as round trips allow, spending the
    // domain's Query budget (450 a minute, shared with its other API users) until the deadline. Each poll now waits
    // out the rest of the timeout it asked for (1 s here) before the next.
    let sim = default_sim().await;
    let c = connector(&sim, Five9Grouping::Campaign);
    let w = window("2024-11-05T16:00:00Z", "2024-11-05T17:00:00Z");
    let polls = || sim.stats().operations.get("isReportRunning").copied().unwrap_or(0);
    // Twice `true` at once, then the report (long finished) is found done: read as usual, the polls a second apart.
    sim.set_faults(vec![FaultRule::new(FaultKind::NoLongPoll).on("isReportRunning").times(2)]);
    let started = std::time::Instant::now();
    assert_eq!(c.interval_stats(&[], w, deadline()).await.unwrap(), sim.truth_intervals(w, Five9Grouping::Campaign));
    assert_eq!(polls(), 3);
    assert!(started.elapsed() >= Duration::from_secs(2), "polled again after {:?}", started.elapsed());
    // Always `true` at once: the fetch ends at its deadline (4 s), never as no data, after a handful of polls — one
    // a second while the deadline leaves room for a 1 s poll, then one each 500 ms — not thousands (nor a rate
    // limit once Five9's 450 a minute are spent).
    sim.set_faults(vec![FaultRule::new(FaultKind::NoLongPoll).on("isReportRunning")]);
    let before = polls();
    let err = expect_err(c.interval_stats(&[], w, Deadline::after(Duration::from_secs(4)))).await;
    assert_eq!(err, ConnectorError::DeadlineExceeded);
    let spent = polls() - before;
    assert!((3..=6).contains(&spent), "{spent} isReportRunning polls in 4 s");
    assert_eq!(sim.stats().rate_limited, 0);
}

#[tokio::test]
async fn a_blank_duration_in_a_report_is_malformed_never_zero() {
    // An empty TALK TIME was read as 0 s (the call counted as offered, not handled) and an empty AGENT STATE TIME
    // as a zero-length state (dropped), the window then taken as complete. five9.md documents durations as
    // `HH:MM:SS` only (`00:00:00` for an abandoned call's talk time): an empty one marks a cut or corrupt row.
    let sim = default_sim().await;
    let c = connector(&sim, Five9Grouping::Campaign);
    let w = window("2024-11-05T16:00:00Z", "2024-11-05T20:00:00Z");
    sim.set_faults(vec![FaultRule::new(FaultKind::BlankDuration).on("getReportResultCsv")]);
    let err = expect_err(c.interval_stats(&[], w, deadline())).await;
    let ConnectorError::Malformed { context } = &err else { panic!("{err:?}") };
    assert!(context.contains("unreadable TALK TIME"), "{context}");
    assert_eq!(err.reason().as_str(), "vendor_data_malformed");
    let err = expect_err(c.agent_segments(&[], w, deadline())).await;
    let ConnectorError::Malformed { context } = &err else { panic!("{err:?}") };
    assert!(context.contains("unreadable AGENT STATE TIME"), "{context}");
    sim.clear_faults();
    assert_eq!(c.interval_stats(&[], w, deadline()).await.unwrap(), sim.truth_intervals(w, Five9Grouping::Campaign));
    assert_eq!(c.agent_segments(&[], w, deadline()).await.unwrap(), sim.truth_segments(w));
}

#[tokio::test]
async fn a_result_not_ready_after_its_report_finished_is_asked_for_a_few_times_then_unavailable() {
    let sim = default_sim().await;
    let c = connector(&sim, Five9Grouping::Campaign);
    let w = window("2024-11-05T16:00:00Z", "2024-11-05T17:00:00Z");
    let retrievals = || sim.stats().operations.get("getReportResultCsv").copied().unwrap_or(0);
    // Twice not ready, then ready: read as usual.
    sim.set_faults(vec![FaultRule::new(FaultKind::ResultIsNotReady).on("getReportResultCsv").times(2)]);
    assert_eq!(c.interval_stats(&[], w, deadline()).await.unwrap(), sim.truth_intervals(w, Five9Grouping::Campaign));
    assert_eq!(retrievals(), 3);
    // Never ready: after `retry.max_attempts` (4) retrievals the fetch fails as unavailable, long before its
    // deadline — it was asked for until the deadline, each time a RetrieveReport call of the domain's budget.
    sim.set_faults(vec![FaultRule::new(FaultKind::ResultIsNotReady).on("getReportResultCsv")]);
    let err = expect_err(c.interval_stats(&[], w, deadline())).await;
    assert!(matches!(err, ConnectorError::Unavailable { .. }), "{err:?}");
    assert_eq!(retrievals(), 3 + 4);
}

#[tokio::test]
async fn one_connector_never_sends_concurrent_requests() {
    let sim = default_sim().await;
    sim.set_faults(vec![FaultRule::new(FaultKind::Delay { ms: 20 })]);
    let c = connector(&sim, Five9Grouping::Campaign);
    let w = window("2024-11-05T16:00:00Z", "2024-11-05T18:00:00Z");
    let (q, a, s, g) = tokio::join!(
        c.list_queues(deadline()),
        c.list_agents(deadline()),
        c.interval_stats(&[], w, deadline()),
        c.agent_segments(&[], w, deadline())
    );
    assert_eq!(q.unwrap(), sim.truth_queues(Five9Grouping::Campaign));
    assert_eq!(a.unwrap(), sim.truth_agents());
    assert_eq!(s.unwrap(), sim.truth_intervals(w, Five9Grouping::Campaign));
    assert_eq!(g.unwrap(), sim.truth_segments(w));
    assert_eq!(sim.stats().refused_concurrent, 0);

    // Control: two connectors of the same user do collide; the refusal is transient and retried. The first request
    // to arrive is held 150 ms, so the other surely arrives while it runs however loaded the machine is, and is
    // refused until it is done (patient retries, so the refused one gets through).
    sim.set_faults(vec![FaultRule::new(FaultKind::Delay { ms: 150 }).times(1)]);
    let patient = || {
        connector(&sim, Five9Grouping::Campaign).with_options(Five9Options {
            retry: RetryPolicy { max_attempts: 12, base: Duration::from_millis(20), cap: Duration::from_millis(200) },
            ..test_options()
        })
    };
    let (one, other) = (patient(), patient());
    let (x, y) = tokio::join!(one.list_agents(deadline()), other.list_agents(deadline()));
    assert_eq!(x.unwrap(), sim.truth_agents());
    assert_eq!(y.unwrap(), sim.truth_agents());
    assert!(sim.stats().refused_concurrent > 0);
}

#[tokio::test]
async fn the_simulator_is_driven_over_http_too() {
    let sim = default_sim().await;
    let http = reqwest::Client::new();
    let base = sim.base_url();
    let info: serde_json::Value = http.get(format!("{base}/__sim/info")).send().await.unwrap().json().await.unwrap();
    assert_eq!(info["username"], sim.username());
    let r = http
        .post(format!("{base}/__sim/faults"))
        .json(&serde_json::json!({"kind": "access_disallowed", "operation": "getCampaigns", "times": 1}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let c = connector(&sim, Five9Grouping::Campaign);
    assert!(matches!(expect_err(c.list_queues(deadline())).await, ConnectorError::PermissionMissing { .. }));

    let w = window("2024-11-05T16:00:00Z", "2024-11-05T18:00:00Z");
    let truth: Vec<IntervalStats> = http
        .get(format!("{base}/__sim/truth/intervals"))
        .query(&[("start", w.start.to_rfc3339()), ("end", w.end.to_rfc3339()), ("grouping", "skill".into())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let c = connector(&sim, Five9Grouping::Skill);
    assert_eq!(c.interval_stats(&[], w, deadline()).await.unwrap(), truth);
    let r = http
        .post(format!("{base}/__sim/mutate"))
        .json(&serde_json::json!({"action": "rename_campaign", "from": "Sales & Support", "to": "Sales"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::NO_CONTENT);
    assert!(sim.campaign_names().contains(&"Sales".to_owned()));
}

#[test]
fn region_table_and_override() {
    use acd_connectors::five9::service_url;
    let none = Endpoints::default();
    assert_eq!(service_url(Five9Region::Us, &none), "https://api.five9.com/wsadmin/v13/AdminWebService");
    assert_eq!(service_url(Five9Region::Ca, &none), "https://api.five9.ca/wsadmin/v13/AdminWebService");
    assert_eq!(service_url(Five9Region::Uk, &none), "https://api.five9.eu/wsadmin/v13/AdminWebService");
    assert_eq!(service_url(Five9Region::Eu, &none), "https://api.eu.five9.com/wsadmin/v13/AdminWebService");
    assert_eq!(service_url(Five9Region::In, &none), "https://api.in.five9.com/wsadmin/v13/AdminWebService");
    let local = Endpoints::default().with_var("FIVE9_BASE_URL", "http://127.0.0.1:9101/");
    assert_eq!(service_url(Five9Region::Us, &local), "http://127.0.0.1:9101/wsadmin/v13/AdminWebService");
}

#[tokio::test]
async fn a_day_s_agent_states_are_the_same_whatever_reports_cut_it() {
    // A state that overlaps its predecessor (Ready for a few seconds, then On Call at once) is written with the
    // predecessor's start: when a report's cut falls between the two, its row belongs to the report before the cut.
    // The day is read through windows cut in many places (a high expected-rows figure), and through different ones.
    let unlimited = ample_limits();
    let now: DateTime<Utc> = "2024-05-15T10:15:00Z".parse().unwrap();
    let config = Five9SimConfig { agents: 300, now: Some(now), limits: unlimited, ..Five9SimConfig::default() };
    let sim = start(config).await;
    let agents = sim.truth_agents();
    let day = window("2024-05-14T00:00:00Z", "2024-05-15T00:00:00Z");
    // The segments that start in the day, cut at its end (the import's pieces of the day).
    let pieces = |segments: Vec<acd_domain::AgentSegment>| -> Vec<acd_domain::AgentSegment> {
        let mut out: Vec<_> = segments
            .into_iter()
            .filter(|s| day.contains(s.start))
            .map(|mut s| {
                s.end = s.end.map(|e| e.min(day.end));
                s
            })
            .collect();
        out.sort_by(|a, b| (&a.agent_external_id, a.start).cmp(&(&b.agent_external_id, b.start)));
        out
    };
    let truth = pieces(sim.truth_segments(day));
    assert!(truth.len() > 10_000, "a busy day: {}", truth.len());
    for (from, to, rows_per_agent_hour) in [
        ("2024-05-13T00:00:00Z", "2024-05-15T00:00:00Z", 120.0),
        ("2024-05-14T00:00:00Z", "2024-05-15T10:15:00Z", 100.0),
    ] {
        let seen = sim.stats().report_runs.len();
        let opts =
            Five9Options { state_rows_per_agent_hour: rows_per_agent_hour, unseen_hour_factor: 1.0, ..test_options() };
        let c = connector(&sim, Five9Grouping::Campaign).with_options(opts);
        let got = pieces(c.agent_segments(&agents, window(from, to), deadline()).await.unwrap());
        let reports = sim.stats().report_runs.len() - seen;
        assert!(reports > 20, "cut in many places: {reports} reports");
        let missing = truth.iter().filter(|s| {
            got.binary_search_by(|g| (&g.agent_external_id, g.start).cmp(&(&s.agent_external_id, s.start))).is_err()
        });
        let missing: Vec<_> = missing.take(3).collect();
        assert!(missing.is_empty(), "read from {from} in {reports} reports, missing e.g. {missing:#?}");
        assert!(
            got == truth,
            "read from {from} in {reports} reports: {} segments, the truth {}",
            got.len(),
            truth.len()
        );
    }
}

#[tokio::test]
async fn reports_are_cut_where_the_rows_are_once_the_domain_s_busy_hours_were_seen() {
    // 300 agents against a row limit of 6,000 (the connector's too). The simulator's agents work day shifts, so
    // some hours hold several times the day's average rows: cut by the average, those hours' reports reach the
    // limit, are thrown away and halved. What two weekdays' reports taught (kept by the import between runs as the
    // connector's cursor) cuts the next day's where the rows are: no report reaches the limit, fewer reports. (Two
    // days, so that every local hour was seen on a weekday: the first day's look-back falls on a Sunday.)
    let unlimited = ample_limits();
    let now: DateTime<Utc> = "2024-05-16T10:15:00Z".parse().unwrap();
    let config = Five9SimConfig {
        agents: 300,
        now: Some(now),
        limits: unlimited,
        row_limit: 6_000,
        ..Five9SimConfig::default()
    };
    let sim = start(config).await;
    let agents = sim.truth_agents();
    // Hours not seen yet planned by the average (as before 2026-12-05; the default plans them as busy hours, below).
    let opts = Five9Options { row_limit: 6_000, unseen_hour_factor: 1.0, ..test_options() };
    // Agent State Details reports run, and how many of them reached the row limit.
    let read = |c: Five9Connector, day: TimeWindow| {
        let sim = &sim;
        let agents = &agents;
        async move {
            let seen = sim.stats().report_runs.len();
            let segments = c.agent_segments(agents, day, deadline()).await.unwrap();
            let runs = sim.stats().report_runs.split_off(seen);
            assert!(runs.iter().all(|r| r.report == "Agent State Details"));
            let cut = runs.iter().filter(|r| r.rows >= 6_000).count();
            (segments, runs.len(), cut, c)
        }
    };
    let monday_tuesday = window("2024-05-13T00:00:00Z", "2024-05-15T00:00:00Z");
    let wednesday = window("2024-05-15T00:00:00Z", "2024-05-16T00:00:00Z");
    let fresh = || connector(&sim, Five9Grouping::Campaign).with_options(opts.clone());
    assert_eq!(fresh().vendor_cursor(), None, "nothing learned before a report");
    let (_, _, first_cut, first) = read(fresh(), monday_tuesday).await;
    assert!(first_cut > 0, "by the average, busy hours reach the limit");
    let learned = first.vendor_cursor().expect("the first days' reports taught their hours");
    // Wednesday, by the average (a connector that learned nothing) and by what Monday and Tuesday taught.
    let (by_average, average_reports, average_cut, _) = read(fresh(), wednesday).await;
    let taught = fresh();
    taught.restore_vendor_cursor(Some(learned.clone())).unwrap();
    let (by_hours, hour_reports, hour_cut, taught) = read(taught, wednesday).await;
    assert!(average_cut > 0, "by the average: {average_cut} of {average_reports} reports cut");
    assert_eq!(hour_cut, 0, "by the learned hours no report reaches the limit ({hour_reports} reports)");
    assert!(hour_reports < average_reports, "{hour_reports} reports by the hours, {average_reports} by the average");
    // A connector that learned nothing, planning the hours not seen as busy ones (the default: 3 times the average):
    // more reports than the learned hours, fewer cut than by the average, and fewer run in all.
    let busy =
        connector(&sim, Five9Grouping::Campaign).with_options(Five9Options { row_limit: 6_000, ..test_options() });
    let (by_busy, busy_reports, busy_cut, _) = read(busy, wednesday).await;
    assert!(busy_cut < average_cut, "as busy hours: {busy_cut} of {busy_reports} reports cut");
    assert!(busy_reports < average_reports, "{busy_reports} as busy hours, {average_reports} by the average");
    assert!(hour_reports <= busy_reports, "{hour_reports} by the hours, {busy_reports} as busy hours");
    // The same segments either way, and the truth of the day.
    let pieces = |mut s: Vec<acd_domain::AgentSegment>| {
        s.retain(|s| wednesday.contains(s.start));
        for s in &mut s {
            s.end = s.end.map(|e| e.min(wednesday.end));
        }
        s.sort_by(|a, b| (&a.agent_external_id, a.start).cmp(&(&b.agent_external_id, b.start)));
        s
    };
    let truth = pieces(sim.truth_segments(wednesday));
    assert!(truth.len() > 5_000, "a busy day: {}", truth.len());
    assert!(pieces(by_hours) == truth, "read by the learned hours: the truth");
    assert!(pieces(by_average) == truth, "read by the average: the truth");
    assert!(pieces(by_busy) == truth, "read as busy hours: the truth");
    // What was learned is kept, and an unreadable cursor is ignored, not an error.
    assert_ne!(taught.vendor_cursor(), None);
    let garbled = fresh();
    garbled.restore_vendor_cursor(Some(serde_json::json!({"state_rows_per_hour": "many"}))).unwrap();
    assert_eq!(garbled.vendor_cursor(), None);
    // Learned in another time zone (the domain's corrected since): other hours, ignored.
    let mut elsewhere = learned.clone();
    for part in ["density", "carried"] {
        assert_eq!(elsewhere[part]["zone"], "America/Los_Angeles");
        elsewhere[part]["zone"] = serde_json::json!("America/New_York");
    }
    let moved = fresh();
    moved.restore_vendor_cursor(Some(elsewhere)).unwrap();
    assert_eq!(moved.vendor_cursor(), None);
    // Carried states that cannot all be read back are ignored whole (the reports start with the look-back).
    let mut broken = learned.clone();
    broken["carried"]["states"][0][1] = serde_json::json!(99);
    let garbled = fresh();
    garbled.restore_vendor_cursor(Some(broken)).unwrap();
    assert_eq!(garbled.vendor_cursor().unwrap().get("carried"), None);
    // A cursor saved before agent states were carried (the learned hours alone) is still read.
    let older = fresh();
    older.restore_vendor_cursor(Some(learned["density"].clone())).unwrap();
    assert_eq!(older.vendor_cursor().unwrap()["density"], learned["density"]);
}

#[tokio::test]
async fn a_small_domain_s_first_fetch_is_not_cut_as_if_every_hour_were_its_busiest() {
    // 300 agents at Five9's default row limit (50,000): a day's ≈ 23,000 rows fit in one report. Before any hour
    // was seen, the first fetch (two days and the look-back, 60 hours) was planned as busy hours all along and ran
    // four reports of 15 hours; priced by what a stretch of a day can hold (a report of 30 hours: a day and 6 busy
    // hours), it runs two, neither reaching the limit, and reads the truth.
    let ample = ample_limits();
    let now: DateTime<Utc> = "2024-05-16T10:15:00Z".parse().unwrap();
    let sim = start(Five9SimConfig { agents: 300, now: Some(now), limits: ample, ..Five9SimConfig::default() }).await;
    let agents = sim.truth_agents();
    let c = connector(&sim, Five9Grouping::Campaign);
    assert_eq!(c.vendor_cursor(), None, "nothing learned yet");
    let days = window("2024-05-13T00:00:00Z", "2024-05-15T00:00:00Z");
    let mut segments = c.agent_segments(&agents, days, deadline()).await.unwrap();
    let runs = sim.stats().report_runs;
    assert!(runs.iter().all(|r| r.report == "Agent State Details"));
    let rows: Vec<usize> = runs.iter().map(|r| r.rows).collect();
    assert_eq!(rows.len(), 2, "two reports: {rows:?}");
    assert!(rows.iter().all(|&r| r > 10_000 && r < 50_000), "none cut, none nearly empty: {rows:?}");
    segments.retain(|s| days.contains(s.start));
    let mut truth = sim.truth_segments(days);
    truth.retain(|s| days.contains(s.start));
    let key = |s: &acd_domain::AgentSegment| (s.agent_external_id.clone(), s.start);
    segments.sort_by_key(key);
    truth.sort_by_key(key);
    assert!(truth.len() > 10_000 && segments == truth, "{} segments read, {} true", segments.len(), truth.len());
}

#[tokio::test]
async fn call_log_reports_are_cut_where_the_calls_are_once_the_domain_s_hours_were_seen() {
    // A busy domain's Call Log: more rows in a day than a report may hold (a row limit of 1,500 here). Until its hours
    // were seen, a window is cut by the span alone, and its reports come back at the limit and run again in halves,
    // every run (a caught-up run re-reads yesterday and today). What complete reports showed of the domain's hours
    // (kept by the import between runs as the connector's cursor) cuts the next windows where the calls are: no
    // report reaches the limit, fewer reports, the same sums.
    let ample = ample_limits();
    let now: DateTime<Utc> = "2024-05-16T10:15:00Z".parse().unwrap();
    let config = Five9SimConfig {
        now: Some(now),
        limits: ample,
        row_limit: 1_500,
        calls_per_interval: 40.0,
        ..Five9SimConfig::default()
    };
    let sim = start(config).await;
    let opts = Five9Options { row_limit: 1_500, ..test_options() };
    let fresh = || connector(&sim, Five9Grouping::Campaign).with_options(opts.clone());
    // Call Log reports run, and how many of them reached the row limit.
    let read = |c: Five9Connector, w: TimeWindow| {
        let sim = &sim;
        async move {
            let seen = sim.stats().report_runs.len();
            let sums = c.interval_stats(&[], w, deadline()).await.unwrap();
            let runs = sim.stats().report_runs.split_off(seen);
            assert!(runs.iter().all(|r| r.report == "Call Log"));
            let rows: Vec<usize> = runs.iter().map(|r| r.rows).collect();
            assert_eq!(sums, sim.truth_intervals(w, Five9Grouping::Campaign), "the sums of {w:?}");
            (rows, c)
        }
    };
    let cut = |rows: &[usize]| rows.iter().filter(|&&r| r >= 1_500).count();
    let monday_tuesday = window("2024-05-13T00:00:00Z", "2024-05-15T00:00:00Z");
    let (first, first_c) = read(fresh(), monday_tuesday).await;
    assert!(cut(&first) > 0, "nothing learned: reports reach the limit: {first:?}");
    let learned = first_c.vendor_cursor().expect("the Call Log reports taught the domain's hours");
    assert!(learned.get("calls").is_some(), "{learned}");
    // A caught-up run's window (yesterday and today), by a connector that learned nothing and by one that has what
    // Monday and Tuesday's reports taught.
    let steady = window("2024-05-15T00:00:00Z", "2024-05-16T10:15:00Z");
    let (by_span, _) = read(fresh(), steady).await;
    let taught = fresh();
    taught.restore_vendor_cursor(Some(learned)).unwrap();
    // The budget check prices the fetch as it will run.
    let priced = taught.fetch_cost(&NextFetch { stats: steady, segments: None, agents: 0 }).report_request;
    let (by_hours, _) = read(taught, steady).await;
    assert_eq!(priced, by_hours.len() as u64, "priced as run");
    assert!(cut(&by_span) > 0, "by the span: {by_span:?}");
    assert_eq!(cut(&by_hours), 0, "by the learned hours none reaches the limit: {by_hours:?}");
    assert!(by_hours.len() < by_span.len(), "{by_hours:?} by the hours, {by_span:?} by the span");
}

#[tokio::test]
async fn the_states_running_into_midnight_are_carried_and_later_reports_start_there() {
    // A caught-up import reads today's agent states every 15 minutes; its reports started 12 hours before midnight
    // every time, to find the states still running at midnight. Once the rows before midnight are all written (3
    // hours after it), one read with the look-back carries those states; later reads — the same connector, or the
    // next run's, which gets them through the import's cursor — start their reports at midnight, and find exactly
    // the segments a read with the look-back finds, the simulator's truth.
    let midnight = utc("2024-05-15T00:00:00Z");
    let ample = ample_limits();
    let config = Five9SimConfig { agents: 300, limits: ample, row_limit: 6_000, ..Five9SimConfig::default() };
    let sim = start(config).await;
    let agents = sim.truth_agents();
    let fresh =
        || connector(&sim, Five9Grouping::Campaign).with_options(Five9Options { row_limit: 6_000, ..test_options() });
    // Today's segments at `now` and the reports that read them (their starts).
    async fn read_today(
        sim: &Five9Simulator,
        agents: &[acd_domain::ExternalAgent],
        c: &Five9Connector,
        today: TimeWindow,
    ) -> (Vec<acd_domain::AgentSegment>, Vec<DateTime<Utc>>) {
        sim.set_now(today.end);
        let seen = sim.stats().report_runs.len();
        let segments = c.agent_segments(agents, today, deadline()).await.unwrap();
        let starts = sim.stats().report_runs.split_off(seen).into_iter().map(|r| r.start.unwrap()).collect();
        (segments, starts)
    }
    let today = |now| TimeWindow::new(midnight, now).unwrap();
    let earliest = |starts: &[DateTime<Utc>]| starts.iter().min().copied().unwrap();
    let twelve_hours_before = midnight - chrono::Duration::hours(12);

    // 02:45: the rows before midnight may not all be written yet: the look-back is read, nothing is carried.
    let c = fresh();
    let (_, starts) = read_today(&sim, &agents, &c, today(utc("2024-05-15T02:45:00Z"))).await;
    assert_eq!(earliest(&starts), twelve_hours_before);
    assert!(c.vendor_cursor().unwrap().get("carried").is_none());
    // 03:05: read with the look-back once more, and the states running into midnight are carried.
    let (_, starts) = read_today(&sim, &agents, &c, today(utc("2024-05-15T03:05:00Z"))).await;
    assert_eq!(earliest(&starts), twelve_hours_before);
    let cursor = c.vendor_cursor().unwrap();
    assert_eq!(cursor["carried"]["at"], "2024-05-15T00:00:00Z");
    let carried = cursor["carried"]["states"].as_array().unwrap().len();
    assert!(carried > 100, "{carried} agents in a state at midnight");

    // Later runs: a new connector that took in the cursor, as the import's next run does.
    for now in ["2024-05-15T03:20:13Z", "2024-05-15T11:20:41Z", "2024-05-15T20:35:29Z"] {
        let now = utc(now);
        let next_run = fresh();
        next_run.restore_vendor_cursor(Some(cursor.clone())).unwrap();
        let (carried_on, starts) = read_today(&sim, &agents, &next_run, today(now)).await;
        assert!(earliest(&starts) >= midnight, "reports start at midnight: {starts:?}");
        let with_lookback = fresh();
        with_lookback.restore_vendor_cursor(Some(cursor["density"].clone())).unwrap();
        let (whole, lookback_starts) = read_today(&sim, &agents, &with_lookback, today(now)).await;
        assert_eq!(earliest(&lookback_starts), twelve_hours_before);
        assert!(
            starts.len() < lookback_starts.len(),
            "at {now}: {} reports against {}",
            starts.len(),
            lookback_starts.len()
        );
        let sorted = |mut s: Vec<acd_domain::AgentSegment>| {
            s.sort_by(|a, b| (&a.agent_external_id, a.start).cmp(&(&b.agent_external_id, b.start)));
            s
        };
        let (carried_on, whole) = (sorted(carried_on), sorted(whole));
        assert!(carried_on.iter().any(|s| s.start < midnight), "states begun before midnight are there");
        assert!(carried_on == whole, "at {now}: the segments a read with the look-back finds");
        let truth = sim.truth_segments(TimeWindow::new(midnight, now).unwrap());
        if let Some(k) = (0..truth.len()).find(|&k| carried_on[k] != truth[k]) {
            panic!("at {now}: {:?} against the truth {:?}", carried_on[k], truth[k]);
        }
        assert!(carried_on == truth, "at {now}: the truth ({} segments against {})", carried_on.len(), truth.len());
    }
}
