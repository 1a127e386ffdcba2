//! Import benchmark: a large Genesys Cloud (or, `--vendor five9`, Five9) integration (default 200 queues, 300
//! agents, 7 days) imported from the simulator process into moto through the real import service, then a
//! steady-state 15-minute run.
//!
//! Run it with `scripts/bench-import` (starts the simulator as its own process, so the numbers below are the
//! import's alone). Prints wall time, CPU time and peak RSS of this process, vendor calls, DynamoDB write
//! requests and items written.

use std::sync::Arc;
use std::time::{Duration, Instant};

use acd_app::http::TenantAuth;
use acd_app::import::{ImportConfig, ImportEvent, RunOutcome, RunRecord};
use acd_app::verifier::ConnectorVerifier;
use acd_aws::wiring;
use acd_connectors::{ConnectorFactory, Deadline, Endpoints, HttpClient};
use acd_integration_tests::{api_request, decode};
use acd_test_harness::AwsStack;
use chrono::{DateTime, Utc};
use serde_json::json;

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned())
}

/// User + system CPU seconds of this process (from /proc/self/stat; clock ticks of 1/100 s on Linux).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_name = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or_default();
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// Peak resident set size of this process, in MiB.
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn report(label: &str, run: &RunRecord, wall: Duration, cpu: f64) {
    let c = &run.counts;
    println!("== {label}");
    println!(
        "   outcome            {:?} (days {}, window {:?})",
        run.outcome,
        c.days,
        run.window.map(|w| (w.start, w.end))
    );
    println!("   wall time          {:.1} s", wall.as_secs_f64());
    println!("   CPU time           {cpu:.1} s (user + system, this process)");
    println!("   peak RSS           {:.1} MiB (process high-water mark so far)", peak_rss_mib());
    println!("   vendor calls       {}", run.vendor_calls);
    println!("   queues/agents/statuses  {} / {} / {}", c.queues, c.agents, c.statuses);
    println!("   intervals read     {} non-empty; segments {}", c.intervals, c.segments);
    println!(
        "   DynamoDB writes    {} write requests in {} BatchWriteItem calls (+ {} catalog requests)",
        c.interval_writes.write_requests + c.segment_writes.write_requests,
        c.interval_writes.batches + c.segment_writes.batches,
        c.catalog_writes.write_requests
    );
    println!(
        "   DynamoDB reads     {} Query/GetItem calls to compare (intervals {}, segments {}, catalog {})",
        c.interval_writes.reads + c.segment_writes.reads + c.catalog_writes.reads,
        c.interval_writes.reads,
        c.segment_writes.reads,
        c.catalog_writes.reads
    );
    println!(
        "   items written      intervals {} (+{} deleted, {} unchanged), segments {} (+{} deleted, {} unchanged)",
        c.interval_writes.written,
        c.interval_writes.deleted,
        c.interval_writes.unchanged,
        c.segment_writes.written,
        c.segment_writes.deleted,
        c.segment_writes.unchanged
    );
}

#[tokio::main]
async fn main() {
    let sim = arg("--sim-url").expect("--sim-url (scripts/bench-import passes it)");
    let vendor = arg("--vendor").unwrap_or_else(|| "genesys".into());
    let now: DateTime<Utc> = arg("--now").expect("--now").parse().expect("RFC 3339 --now");
    let days: u32 = arg("--days").map_or(7, |d| d.parse().expect("--days"));

    let stack = AwsStack::start().await;
    let (endpoints, body, clock_route) = match vendor.as_str() {
        "genesys" => {
            let client_id = arg("--client-id").expect("--client-id");
            let client_secret = arg("--client-secret").expect("--client-secret");
            let endpoints = Endpoints {
                genesys_api_base_url: Some(sim.clone()),
                genesys_login_base_url: Some(sim.clone()),
                ..Endpoints::default()
            };
            let body = json!({"name": "Benchmark", "type": "genesys_cloud",
                              "credentials": {"client_id": client_id, "client_secret": client_secret},
                              "settings": {"region": "us_east_1", "detailed_on_queue_statuses": true,
                                           "history_days": days}});
            (endpoints, body, "/__sim/clock")
        }
        "five9" => {
            let info: serde_json::Value =
                reqwest::get(format!("{sim}/__sim/info")).await.unwrap().json().await.expect("five9-sim info");
            let endpoints = Endpoints { five9_base_url: Some(sim.clone()), ..Endpoints::default() };
            let body = json!({"name": "Benchmark", "type": "five9",
                              "credentials": {"username": info["username"], "password": info["password"]},
                              "settings": {"region": "us", "grouping": "campaign", "history_days": days}});
            (endpoints, body, "/__sim/now")
        }
        other => panic!("--vendor {other}: genesys or five9"),
    };
    let factory = ConnectorFactory::new(HttpClient::new().unwrap(), endpoints);
    let api = wiring::integrations_api(
        &stack.settings,
        &stack.clients,
        Arc::new(ConnectorVerifier { factory: factory.clone() }),
        TenantAuth::Header,
    );
    let mut request = api_request("POST", "/integrations", None, Some(&body));
    request.headers_mut().insert("x-tenant-id", "bench".parse().unwrap());
    let (status, created) = {
        let (s, _, b) = decode(api.handle(request).await);
        (s, b)
    };
    assert_eq!(status, 201, "{created}");
    let event = ImportEvent { tenant_id: "bench".into(), integration_id: created["id"].as_str().unwrap().into() };

    println!("baseline peak RSS {:.1} MiB (moto client, API, runtime)", peak_rss_mib());
    let import = wiring::import_service(
        &stack.settings,
        &stack.clients,
        factory.clone(),
        ImportConfig { now: Some(now), ..ImportConfig::default() },
    );
    // Like the schedule: runs of at most 14 minutes (Lambda allows 15) until the back-fill is complete.
    let (cpu_start, start) = (cpu_seconds(), Instant::now());
    for n in 1.. {
        let (cpu0, t0) = (cpu_seconds(), Instant::now());
        let run = import.run(&event, Deadline::after(Duration::from_secs(14 * 60))).await.unwrap().run.unwrap();
        report(&format!("back-fill of {days} days, run {n}"), &run, t0.elapsed(), cpu_seconds() - cpu0);
        print_reports(&sim, &vendor).await;
        if run.outcome != RunOutcome::Partial || n == 10 {
            break;
        }
    }
    println!("== back-fill total: wall {:.1} s, CPU {:.1} s", start.elapsed().as_secs_f64(), cpu_seconds() - cpu_start);
    let peak = peak_rss_mib();
    println!("   128 MB budget      {}", if peak < 128.0 { "within" } else { "EXCEEDED" });

    // Fifteen minutes later: the simulator's clock and the import's move on together.
    let later = now + chrono::Duration::minutes(15);
    let answer = reqwest::Client::new().post(format!("{sim}{clock_route}")).json(&json!({"now": later})).send().await;
    assert!(answer.unwrap().status().is_success(), "the simulator's clock moved");
    let steady = wiring::import_service(
        &stack.settings,
        &stack.clients,
        factory,
        ImportConfig { now: Some(later), ..ImportConfig::default() },
    );
    let (cpu0, t0) = (cpu_seconds(), Instant::now());
    let run = steady.run(&event, Deadline::after(Duration::from_secs(14 * 60))).await.unwrap().run.unwrap();
    report(
        "steady-state run 15 minutes later (re-reads the reconciliation window)",
        &run,
        t0.elapsed(),
        cpu_seconds() - cpu0,
    );
    print_reports(&sim, &vendor).await;
}

/// Five9 only: the reports run so far (what the domain's ReportRequest budget counts).
async fn print_reports(sim: &str, vendor: &str) {
    if vendor != "five9" {
        return;
    }
    let stats: serde_json::Value =
        reqwest::get(format!("{sim}/__sim/stats")).await.unwrap().json().await.expect("five9-sim stats");
    println!(
        "   Five9 runReport    {} so far (rate-limited: {})",
        stats["operations"]["runReport"], stats["rate_limited"]
    );
}
