//! Import metrics in CloudWatch Embedded Metric Format (EMF): one JSON log line per recorded run, which CloudWatch
//! Logs turns into metrics of the namespace [`NAMESPACE`] without any API call (no latency, no extra IAM).
//!
//! Dimensions are low-cardinality only: the integration type, the outcome and the failure reason. Tenant,
//! integration and run ids are properties of the line (searchable with Logs Insights), never dimensions.
//!
//! | metric | unit | dimensions | what |
//! | --- | --- | --- | --- |
//! | `Runs` | Count | type+outcome+reason, outcome | one per recorded run |
//! | `RunDuration` | Milliseconds | type | wall time of the run |
//! | `VendorCalls` | Count | type | ACD API calls of the run |
//! | `ItemsWritten` | Count | type | DynamoDB write requests (puts and deletes) |
//! | `DataLag` | Seconds | type, none | now − `complete_through`, once the integration has completed its first import |
//! | `FailingFor` | Seconds | type, none | failed runs only: now − the integration's `failing_since` |
//!
//! `DataLag` is left out while an integration has never succeeded (its first back-fill is not "lag"), so the
//! data-lag alarm fires for integrations that were up to date and fell behind. `FailingFor` drives the
//! "failing for more than an hour" alarm: its maximum over all integrations. It is the time spent failing: from the
//! end of the first of the failed runs in a row ([`acd_domain::Integration::failing_since`]; 0 for that run), not
//! from the last success: partial runs (a back-fill paced over hours) and a pause leave that far behind, and counted
//! from it (as it was before `failing_since`) the first failed run of such an integration fired the alarm at once.

use acd_domain::{Integration, IntegrationStatus};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::import::{RunOutcome, RunRecord};

pub const NAMESPACE: &str = "AcdIntegrations";

/// The EMF document of one run (`integration` as loaded at the run's start, `status` and `failing_since` as the run
/// left them: [`crate::import::failing_since_after_run`]). `now` stamps the line and measures `FailingFor` (status
/// times are wall-clock); `data_now` is the import's own clock, against which `complete_through` was set (the
/// same, except in tests and benchmarks with a fixed clock).
pub fn run_metrics(
    integration: &Integration,
    run: &RunRecord,
    status: &IntegrationStatus,
    failing_since: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    data_now: DateTime<Utc>,
) -> Value {
    let outcome = match run.outcome {
        RunOutcome::Succeeded => "succeeded",
        RunOutcome::Partial => "partial",
        RunOutcome::Failed => "failed",
        RunOutcome::Skipped => "skipped",
    };
    let reason = run.reason.map(|r| r.as_str()).unwrap_or("none");
    let duration_ms = (run.ended_at - run.started_at).num_milliseconds().max(0);
    let counts = &run.counts;
    let items_written = counts.interval_writes.write_requests
        + counts.segment_writes.write_requests
        + counts.catalog_writes.write_requests;

    let mut per_type = vec![
        json!({"Name": "RunDuration", "Unit": "Milliseconds"}),
        json!({"Name": "VendorCalls", "Unit": "Count"}),
        json!({"Name": "ItemsWritten", "Unit": "Count"}),
    ];
    let mut alarmed = Vec::new();
    let mut doc = json!({
        "IntegrationType": integration.kind.as_str(),
        "Outcome": outcome,
        "Reason": reason,
        "Runs": 1,
        "RunDuration": duration_ms,
        "VendorCalls": run.vendor_calls,
        "ItemsWritten": items_written,
        "tenant_id": run.tenant_id.to_string(),
        "integration_id": run.integration_id.to_string(),
        "run_id": run.run_id.to_string(),
        "message": "import run metrics",
    });
    if status.last_success_at.is_some()
        && let Some(through) = run.complete_through
    {
        doc["DataLag"] = json!((data_now - through).num_seconds().max(0));
        alarmed.push(json!({"Name": "DataLag", "Unit": "Seconds"}));
    }
    if run.outcome == RunOutcome::Failed {
        let since = failing_since.unwrap_or(run.ended_at);
        doc["FailingFor"] = json!((now - since).num_seconds().max(0));
        alarmed.push(json!({"Name": "FailingFor", "Unit": "Seconds"}));
    }
    per_type.extend(alarmed.iter().cloned());
    let mut directives = vec![
        json!({
            "Namespace": NAMESPACE,
            "Dimensions": [["IntegrationType", "Outcome", "Reason"], ["Outcome"]],
            "Metrics": [{"Name": "Runs", "Unit": "Count"}],
        }),
        json!({"Namespace": NAMESPACE, "Dimensions": [["IntegrationType"]], "Metrics": per_type}),
    ];
    if !alarmed.is_empty() {
        // Without dimensions too: one alarm covers every integration type.
        directives.push(json!({"Namespace": NAMESPACE, "Dimensions": [[]], "Metrics": alarmed}));
    }
    doc["_aws"] = json!({"Timestamp": now.timestamp_millis(), "CloudWatchMetrics": directives});
    doc
}

/// Writes the run's EMF line to stdout (in Lambda, stdout is the function's log stream, where CloudWatch Logs
/// extracts the metrics). Outside Lambda it goes to the debug log instead, so local output stays readable.
pub fn emit_run(
    integration: &Integration,
    run: &RunRecord,
    status: &IntegrationStatus,
    failing_since: Option<DateTime<Utc>>,
    data_now: DateTime<Utc>,
) {
    let doc = run_metrics(integration, run, status, failing_since, Utc::now(), data_now);
    if crate::telemetry::in_lambda() {
        println!("{doc}");
    } else {
        tracing::debug!(emf = %doc, "import run metrics");
    }
}

/// The EMF document of a silent push integration, written by its watch pass ([`crate::ingest::watch`]) every
/// time it finds the integration silent for longer than its `no_data_after_minutes`: `FailingFor` = now − its
/// `failing_since` (the watch that first found it silent), reason `no_data`, so the "failing for more than an hour"
/// alarm sees a silent sender as it sees a failing import. No `Runs` (a watch is not an import run). `Outcome`
/// `failed` is a property, not a dimension: the Logs Insights query of the alarm (`filter Outcome = "failed"`)
/// finds silent senders next to failed runs, and no new metric is published.
pub fn silence_metrics(integration: &Integration, failing_for_seconds: i64, now: DateTime<Utc>) -> Value {
    let metric = json!({"Name": "FailingFor", "Unit": "Seconds"});
    json!({
        "IntegrationType": integration.kind.as_str(),
        "Outcome": "failed",
        "Reason": "no_data",
        "FailingFor": failing_for_seconds.max(0),
        "tenant_id": integration.tenant_id.to_string(),
        "integration_id": integration.id.to_string(),
        "message": "push silence metrics",
        "_aws": {"Timestamp": now.timestamp_millis(), "CloudWatchMetrics": [
            {"Namespace": NAMESPACE, "Dimensions": [["IntegrationType"], []], "Metrics": [metric]},
        ]},
    })
}

/// Writes [`silence_metrics`] like [`emit_run`] writes a run's line.
pub fn emit_silence(integration: &Integration, failing_for_seconds: i64) {
    let doc = silence_metrics(integration, failing_for_seconds, Utc::now());
    if crate::telemetry::in_lambda() {
        println!("{doc}");
    } else {
        tracing::debug!(emf = %doc, "push silence metrics");
    }
}

/// The EMF document of one agent-states pass that ran ([`crate::import::states`]: it took its lease):
/// `AgentStatesPasses` by integration type, outcome and reason, and by outcome alone, with its vendor calls and
/// duration as properties. A pass is recorded neither in the run log nor in the status (sixty an hour), so until
/// 2026-12-07 a failing pass showed only as a warning log line; its failures now have a metric (dashboard: "Failed
/// runs by type and reason"). No alarm: the 15-minute import reads the same states, and alarms on its own failures.
pub fn states_pass_metrics(integration: &Integration, pass: &RunRecord, now: DateTime<Utc>) -> Value {
    let outcome = match pass.outcome {
        RunOutcome::Succeeded => "succeeded",
        RunOutcome::Partial => "partial",
        RunOutcome::Failed => "failed",
        RunOutcome::Skipped => "skipped",
    };
    json!({
        "IntegrationType": integration.kind.as_str(),
        "Outcome": outcome,
        "Reason": pass.reason.map(|r| r.as_str()).unwrap_or("none"),
        "AgentStatesPasses": 1,
        "VendorCalls": pass.vendor_calls,
        "DurationMs": (pass.ended_at - pass.started_at).num_milliseconds().max(0),
        "tenant_id": integration.tenant_id.to_string(),
        "integration_id": integration.id.to_string(),
        "run_id": pass.run_id.to_string(),
        "message": "agent-states pass metrics",
        "_aws": {"Timestamp": now.timestamp_millis(), "CloudWatchMetrics": [{
            "Namespace": NAMESPACE,
            "Dimensions": [["IntegrationType", "Outcome", "Reason"], ["Outcome"]],
            "Metrics": [{"Name": "AgentStatesPasses", "Unit": "Count"}],
        }]},
    })
}

/// Writes [`states_pass_metrics`] like [`emit_run`] writes a run's line.
pub fn emit_states_pass(integration: &Integration, pass: &RunRecord) {
    let doc = states_pass_metrics(integration, pass, Utc::now());
    if crate::telemetry::in_lambda() {
        println!("{doc}");
    } else {
        tracing::debug!(emf = %doc, "agent-states pass metrics");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::RunCounts;
    use crate::ports::WriteCounts;
    use acd_domain::{FailureReason, IntegrationState, RunId};
    use chrono::TimeZone;

    fn integration() -> Integration {
        crate::test_fixtures::genesys_integration(Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap())
    }

    fn run(integration: &Integration, outcome: RunOutcome, now: DateTime<Utc>) -> RunRecord {
        let writes = |n| WriteCounts { write_requests: n, ..WriteCounts::default() };
        RunRecord {
            run_id: RunId::new(),
            tenant_id: integration.tenant_id.clone(),
            integration_id: integration.id,
            started_at: now - chrono::Duration::milliseconds(9_400),
            ended_at: now,
            outcome,
            window: None,
            complete_through: Some(now - chrono::Duration::minutes(25)),
            counts: RunCounts {
                interval_writes: writes(100),
                segment_writes: writes(20),
                catalog_writes: writes(3),
                ..RunCounts::default()
            },
            vendor_calls: 19,
            reason: (outcome == RunOutcome::Failed).then_some(FailureReason::CredentialsRejected),
            message: None,
            warnings: Vec::new(),
            agent_state_gaps: Vec::new(),
            store_error_logged: false,
        }
    }

    /// Every metric named by a directive is a number at the root; every dimension a string at the root.
    fn assert_valid_emf(doc: &Value) {
        let aws = &doc["_aws"];
        assert!(aws["Timestamp"].as_i64().is_some());
        for directive in aws["CloudWatchMetrics"].as_array().unwrap() {
            assert_eq!(directive["Namespace"], NAMESPACE);
            for set in directive["Dimensions"].as_array().unwrap() {
                for dimension in set.as_array().unwrap() {
                    assert!(doc[dimension.as_str().unwrap()].is_string(), "dimension {dimension} missing");
                }
            }
            for metric in directive["Metrics"].as_array().unwrap() {
                let name = metric["Name"].as_str().unwrap();
                assert!(doc[name].is_number(), "metric {name} missing");
                assert!(["Count", "Milliseconds", "Seconds"].contains(&metric["Unit"].as_str().unwrap()));
            }
        }
    }

    fn dimension_names(doc: &Value) -> Vec<String> {
        let mut names: Vec<String> = doc["_aws"]["CloudWatchMetrics"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|d| d["Dimensions"].as_array().unwrap().iter().flat_map(|s| s.as_array().unwrap().clone()))
            .map(|d| d.as_str().unwrap().to_owned())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    #[test]
    fn a_successful_run_reports_duration_calls_writes_and_lag_with_ids_as_properties() {
        let integration = integration();
        let now = Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap();
        let record = run(&integration, RunOutcome::Succeeded, now);
        let status = IntegrationStatus {
            state: IntegrationState::Operational,
            reason: None,
            message: None,
            last_success_at: Some(now),
            last_run_at: Some(now),
            resumed_at: None,
        };
        let doc = run_metrics(&integration, &record, &status, None, now, now);
        assert_valid_emf(&doc);
        assert_eq!(doc["IntegrationType"], "genesys_cloud");
        assert_eq!((doc["Outcome"].as_str(), doc["Reason"].as_str()), (Some("succeeded"), Some("none")));
        assert_eq!(doc["Runs"], 1);
        assert_eq!(doc["RunDuration"], 9_400);
        assert_eq!(doc["VendorCalls"], 19);
        assert_eq!(doc["ItemsWritten"], 123);
        assert_eq!(doc["DataLag"], 25 * 60);
        assert!(doc.get("FailingFor").is_none());
        assert_eq!(doc["_aws"]["Timestamp"], now.timestamp_millis());
        // Ids are properties, never dimensions.
        assert_eq!(doc["tenant_id"], "tenant-a");
        assert_eq!(doc["integration_id"], integration.id.to_string());
        assert_eq!(dimension_names(&doc), ["IntegrationType", "Outcome", "Reason"]);
        // One line of JSON (what CloudWatch Logs parses).
        assert!(!doc.to_string().contains('\n'));
    }

    #[test]
    fn a_failed_run_reports_its_reason_and_how_long_the_integration_has_been_failing() {
        let integration = integration();
        let now = Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap();
        let record = run(&integration, RunOutcome::Failed, now);
        let status = IntegrationStatus {
            state: IntegrationState::Failing,
            reason: Some(FailureReason::CredentialsRejected),
            message: None,
            last_success_at: Some(now - chrono::Duration::minutes(90)),
            last_run_at: Some(now),
            resumed_at: None,
        };
        // Failing since a run 20 minutes ago.
        let doc = run_metrics(&integration, &record, &status, Some(now - chrono::Duration::minutes(20)), now, now);
        assert_valid_emf(&doc);
        assert_eq!((doc["Outcome"].as_str(), doc["Reason"].as_str()), (Some("failed"), Some("credentials_rejected")));
        assert_eq!(doc["FailingFor"], 20 * 60);
        // The alarm metrics are also published without dimensions (one alarm for all types).
        let undimensioned: Vec<&Value> = doc["_aws"]["CloudWatchMetrics"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["Dimensions"] == json!([[]]))
            .flat_map(|d| d["Metrics"].as_array().unwrap())
            .collect();
        let names: Vec<&str> = undimensioned.iter().map(|m| m["Name"].as_str().unwrap()).collect();
        assert_eq!(names, ["DataLag", "FailingFor"]);

        // Never succeeded: no data lag (the first back-fill is not lag).
        let fresh = IntegrationStatus { last_success_at: None, ..status };
        let doc = run_metrics(&integration, &record, &fresh, Some(now), now, now);
        assert_valid_emf(&doc);
        assert!(doc.get("DataLag").is_none());
    }

    /// `FailingFor` is the time spent failing, from the first failed run in a row: not the time since the last
    /// success (or creation), which partial runs and a pause leave hours behind — the one-hour alarm fired at the
    /// first failure of an integration back-filling in partial runs, or of one resumed after a day's pause.
    #[test]
    fn failing_for_counts_from_the_first_failed_run_not_from_the_last_success() {
        let integration = integration();
        let now = Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap();
        let status = |last_success_at| IntegrationStatus {
            state: IntegrationState::Failing,
            reason: Some(FailureReason::CredentialsRejected),
            message: None,
            last_success_at,
            last_run_at: Some(now),
            resumed_at: None,
        };
        let failing_for = |status: &IntegrationStatus, failing_since, at: DateTime<Utc>| {
            let record = run(&integration, RunOutcome::Failed, at);
            let doc = run_metrics(&integration, &record, status, failing_since, at, at);
            assert_valid_emf(&doc);
            doc["FailingFor"].as_i64().unwrap()
        };
        // Created 29 days ago, only partial runs since (never a success): the first failed run reports 0.
        assert!(now - integration.created_at > chrono::Duration::days(28));
        let first = failing_for(&status(None), Some(now), now);
        assert_eq!(first, 0);
        // Resumed after a day's pause (the last success a day old): its first failed run reports 0 too.
        assert_eq!(failing_for(&status(Some(now - chrono::Duration::days(1))), Some(now), now), 0);
        // The runs that go on failing report the time since the first one.
        let later = now + chrono::Duration::minutes(45);
        assert_eq!(failing_for(&status(None), Some(now), later), 45 * 60);
        // Without a start (a run whose status could not be derived): the run's own end, 0.
        assert_eq!(failing_for(&status(Some(now - chrono::Duration::days(1))), None, later), 0);
    }

    #[test]
    fn a_silent_push_integration_reports_failing_for_to_the_same_alarm() {
        let integration = integration();
        let now = Utc::now();
        let doc = silence_metrics(&integration, 75 * 60, now);
        assert_valid_emf(&doc);
        assert_eq!((doc["FailingFor"].as_i64(), doc["Reason"].as_str()), (Some(75 * 60), Some("no_data")));
        assert!(doc.get("Runs").is_none(), "a watch is not an import run");
        // `Outcome` as a property (the alarm's Logs Insights query filters on it), never a dimension.
        assert_eq!(doc["Outcome"], "failed");
        assert_eq!(dimension_names(&doc), ["IntegrationType"]);
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(
            directive["Dimensions"],
            json!([["IntegrationType"], []]),
            "the alarm reads the undimensioned metric"
        );
        assert_eq!(directive["Metrics"], json!([{"Name": "FailingFor", "Unit": "Seconds"}]));
    }

    #[test]
    fn an_agent_states_pass_reports_its_outcome_and_reason_and_no_run_metrics() {
        let integration = integration();
        let now = Utc::now();
        let mut pass = run(&integration, RunOutcome::Failed, now);
        pass.reason = Some(FailureReason::RateLimited);
        let doc = states_pass_metrics(&integration, &pass, now);
        assert_valid_emf(&doc);
        assert_eq!((doc["Outcome"].as_str(), doc["Reason"].as_str()), (Some("failed"), Some("rate_limited")));
        assert_eq!((doc["AgentStatesPasses"].as_i64(), doc["VendorCalls"].as_u64()), (Some(1), Some(19)));
        assert_eq!(doc["DurationMs"].as_i64(), Some(9_400));
        assert_eq!(doc["integration_id"], integration.id.to_string(), "ids are properties");
        let directives = doc["_aws"]["CloudWatchMetrics"].as_array().unwrap();
        assert_eq!(directives.len(), 1);
        assert_eq!(directives[0]["Dimensions"], json!([["IntegrationType", "Outcome", "Reason"], ["Outcome"]]));
        assert_eq!(directives[0]["Metrics"], json!([{"Name": "AgentStatesPasses", "Unit": "Count"}]));
        for not_a_run in ["Runs", "FailingFor", "DataLag", "RunDuration"] {
            assert!(doc.get(not_a_run).is_none(), "a pass is not an import run: {not_a_run}");
        }
        let succeeded = states_pass_metrics(&integration, &run(&integration, RunOutcome::Succeeded, now), now);
        assert_eq!((succeeded["Outcome"].as_str(), succeeded["Reason"].as_str()), (Some("succeeded"), Some("none")));
    }
}
