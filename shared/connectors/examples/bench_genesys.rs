//! Parse + aggregate throughput of the Genesys Cloud connector on a large conversation-aggregates answer.
//!
//! ```text
//! cargo run --release -p acd-connectors --example bench_genesys -- [--queues 100] [--days 7] [--contacts 8] [--iterations 5]
//! ```
//! The answer is the simulator's rendering of one full query chunk (by default 100 queues × 7 days at PT15M, every
//! media type of each queue), i.e. the largest answer the connector asks for. It is generated once, then parsed and
//! folded into `IntervalStats` `--iterations` times. Prints rows/s (one row = one bucket of one queue and media type),
//! bytes/s and the peak resident memory (VmHWM from /proc/self/status).
//!
//! Then the user-details pages of a steady-state run's reconciliation window: `--agents` users (default 300) over
//! `--detail-days` days (default 3), a working day each with ≈ 24 presence and ≈ 38 routing records, in pages of 100
//! users, parsed and gathered into the connector's records `--iterations` times (answers shaped like Genesys'
//! `POST /api/v2/analytics/users/details/query`, made up here: the simulator renders them only behind its API).

use std::time::Instant;

use acd_connectors::genesys::AggregateAccumulator;
use acd_domain::TimeWindow;
use acd_simulators::genesys::{GenesysSimConfig, GenesysSimulator};
use chrono::{Duration, TimeZone, Utc};

fn arg<T: std::str::FromStr>(name: &str, default: T) -> T {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn proc_status(field: &str) -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(field)).map(|l| l[field.len()..].trim().to_owned()))
        .unwrap_or_else(|| "n/a".into())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let queues: usize = arg("--queues", 100);
    let days: i64 = arg("--days", 7);
    let contacts: f64 = arg("--contacts", 8.0);
    let iterations: u32 = arg("--iterations", 5).max(1);

    let now = Utc.with_ymd_and_hms(2024, 5, 15, 0, 0, 0).unwrap();
    let config = GenesysSimConfig {
        queues,
        history_days: days as u32 + 1,
        contacts_per_interval: contacts,
        now: Some(now),
        ..GenesysSimConfig::default()
    };
    let sim = GenesysSimulator::start(config).await?;
    let window = TimeWindow::new(now - Duration::days(days), now).expect("a positive window");
    let ids = sim.queue_ids();

    let started = Instant::now();
    let body = sim.aggregates_body(&ids, window);
    let generated_in = started.elapsed();
    let rows = body.windows(11).filter(|w| w == b"\"interval\":").count();
    let wanted: Vec<String> = sim.expected_queues().into_iter().map(|q| q.external_id).collect();
    println!(
        "answer: {} queues, {} days, {:.1} MB, {} rows (queue × media × bucket); generated in {:.2?}; VmHWM {}",
        queues,
        days,
        body.len() as f64 / 1e6,
        rows,
        generated_in,
        proc_status("VmHWM:")
    );

    // Parsing alone (serde into the borrowed wire types), to see where the time goes.
    let t = Instant::now();
    for _ in 0..iterations {
        let parsed: acd_connectors::genesys::wire::AggregateResponse<'_> =
            serde_json::from_slice(&body).expect("the simulator's answer parses");
        std::hint::black_box(parsed);
    }
    let parse_only = t.elapsed() / iterations;

    // Reset the high-water mark so the figure below is the parse's own peak, not the generation's.
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let mut best = std::time::Duration::MAX;
    let mut total = std::time::Duration::ZERO;
    let mut out_rows = 0;
    for _ in 0..iterations {
        let t = Instant::now();
        let mut acc = AggregateAccumulator::new(window, Some(&wanted));
        acc.add_response(&body).expect("the simulator's answer parses");
        let stats = acc.finish();
        let e = t.elapsed();
        out_rows = stats.len();
        best = best.min(e);
        total += e;
        std::hint::black_box(stats);
    }
    let mean = total / iterations;
    let secs = mean.as_secs_f64();
    println!("parse only: mean {parse_only:.2?} → {:.1} MB/s", body.len() as f64 / 1e6 / parse_only.as_secs_f64());
    println!(
        "parse + aggregate: mean {:.2?} (best {:.2?}) over {iterations} runs → {:.0} rows/s, {:.1} MB/s; {} IntervalStats out",
        mean,
        best,
        rows as f64 / secs,
        body.len() as f64 / 1e6 / secs,
        out_rows
    );
    println!(
        "peak memory: VmHWM {} (VmRSS now {}){}",
        proc_status("VmHWM:"),
        proc_status("VmRSS:"),
        if reset {
            "; high-water mark reset after generating the answer, so this is the parse's peak incl. the answer"
        } else {
            "; includes generating the answer"
        }
    );
    user_details(arg("--agents", 300), arg("--detail-days", 3), iterations);
    Ok(())
}

/// Pages of user details as a 72-hour re-read sees them, parsed and gathered into `segments::Records`.
fn user_details(agents: usize, days: i64, iterations: u32) {
    use acd_connectors::genesys::segments::Records;
    use acd_connectors::genesys::wire::UserDetailsResponse;
    use std::fmt::Write;

    let day0 = Utc.with_ymd_and_hms(2024, 5, 12, 0, 0, 0).unwrap();
    let presences = ["ON_QUEUE", "AVAILABLE", "BREAK", "MEAL", "MEETING", "TRAINING"];
    let routings = ["IDLE", "INTERACTING", "NOT_RESPONDING", "COMMUNICATING"];
    let id = |n: u64| format!("{:08x}-4b57-9a8e-0c4d-{:012x}", n.wrapping_mul(0x9e37_79b9), n);
    let time = |t: chrono::DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    let mut pages = Vec::new();
    let mut records = 0usize;
    for first in (0..agents).step_by(100) {
        let mut body = String::from(r#"{"userDetails":["#);
        for a in first..(first + 100).min(agents) {
            if a > first {
                body.push(',');
            }
            write!(body, r#"{{"userId":"{}","primaryPresence":["#, id(a as u64)).unwrap();
            let mut routing = String::new();
            for d in 0..days {
                let mut t = day0 + Duration::days(d) + Duration::hours(7) + Duration::minutes((a % 60) as i64);
                for k in 0..24usize {
                    let end = t + Duration::minutes(10 + ((a + k) % 17) as i64);
                    let presence = presences[(a + k) % presences.len()];
                    if d > 0 || k > 0 {
                        body.push(',');
                    }
                    write!(
                        body,
                        r#"{{"startTime":"{}","endTime":"{}","systemPresence":"{presence}","organizationPresenceId":"{}"}}"#,
                        time(t),
                        time(end),
                        id(1000 + ((a + k) % presences.len()) as u64)
                    )
                    .unwrap();
                    records += 1;
                    if presence == "ON_QUEUE" {
                        let mut r = t;
                        while r < end {
                            let next = (r + Duration::minutes(3)).min(end);
                            if !routing.is_empty() {
                                routing.push(',');
                            }
                            write!(
                                routing,
                                r#"{{"startTime":"{}","endTime":"{}","routingStatus":"{}"}}"#,
                                time(r),
                                time(next),
                                routings[(a + k + routing.len()) % routings.len()]
                            )
                            .unwrap();
                            records += 1;
                            r = next;
                        }
                    }
                    t = end;
                }
            }
            write!(body, r#"],"routingStatus":[{routing}]}}"#).unwrap();
        }
        write!(body, r#"],"totalHits":{agents}}}"#).unwrap();
        pages.push(body.into_bytes());
    }
    let bytes: usize = pages.iter().map(Vec::len).sum();
    let mut total = std::time::Duration::ZERO;
    let mut users = 0;
    for _ in 0..iterations {
        let t = Instant::now();
        let mut gathered = Records::default();
        for page in &pages {
            let parsed: UserDetailsResponse = serde_json::from_slice(page).expect("the made-up page parses");
            gathered.add(parsed.user_details).expect("the made-up records are whole");
        }
        total += t.elapsed();
        users = (0..agents)
            .filter(|a| !gathered.segments(&id(*a as u64), "x", window(day0, days), false).is_empty())
            .count();
        std::hint::black_box(gathered);
    }
    let mean = total / iterations;
    println!(
        "user details: {agents} users, {days} days, {} pages, {:.1} MB, {records} records; parse + gather: mean {mean:.2?} \
         over {iterations} runs → {:.0} ns per record ({users} users with segments)",
        pages.len(),
        bytes as f64 / 1e6,
        mean.as_nanos() as f64 / records as f64
    );
}

fn window(day0: chrono::DateTime<Utc>, days: i64) -> TimeWindow {
    TimeWindow::new(day0, day0 + Duration::days(days)).expect("a positive window")
}
