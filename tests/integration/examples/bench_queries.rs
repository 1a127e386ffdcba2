//! Benchmark of `GET /queues`: loads queues across integrations into moto, then measures the real handler's
//! latency (p50/p99) and the DynamoDB reads per request for a first page and for filtered pages.
//!
//! `cargo run --release -p acd-integration-tests --example bench_queries [-- --queues 10000 --integrations 20
//! --requests 10]`
//!
//! moto is not DynamoDB: its latencies are those of a Python emulator scanning its own data structures, and it
//! reports a flat 1 read unit per Query whatever was read. The "estimated RU" column applies DynamoDB's rule
//! (eventually consistent: 0.5 unit per started 4 KB read, filtered-out items included) to the item sizes read.

#[path = "../tests/query_support/mod.rs"]
mod query_support;

use std::time::{Duration, Instant};

use acd_app::query::cost::ReadCost;
use acd_integration_tests::{api_request, decode};
use query_support::*;

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() {
    let total = arg("--queues", 10_000);
    let integrations = arg("--integrations", 20).max(1);
    let requests = arg("--requests", 10).max(1);
    let env = Env::start().await;

    let started = Instant::now();
    let mut items = Vec::with_capacity(total);
    let mut first_integration = None;
    for i in 0..integrations {
        let name = format!("Integration {i:02}");
        let id = env.create_integration("bench", &name).await;
        first_integration.get_or_insert(id);
        let n = total / integrations + usize::from(i < total % integrations);
        items.extend(queues("bench", id, &name, &format!("Queue {}", i % 7), n));
    }
    let loaded = items.len();
    // As the import writes them: with the queue name index, every integration marked.
    env.put_indexed_queues(items).await;
    println!(
        "loaded {loaded} queues across {integrations} integrations (and their name index) into moto in {:.1?}",
        started.elapsed()
    );
    let first_integration = first_integration.unwrap();

    let cases = [
        ("first page (limit 100)", "/queues".to_owned()),
        ("first page (limit 500)", "/queues?limit=500".to_owned()),
        ("filtered: channel=chats (limit 100)", "/queues?channel=chats".to_owned()),
        ("filtered: one integration (limit 100)", format!("/queues?integration_id={first_integration}")),
        ("q=0012 (~2% match), name index", "/queues?q=0012".to_owned()),
        ("q=0012 (~2% match), full read", "/queues?q=0012".to_owned()),
        ("q=queue 1 0 (15%, contiguous), name index", "/queues?q=queue%201%200".to_owned()),
        ("q=queue 1 0 (15%, contiguous), full read", "/queues?q=queue%201%200".to_owned()),
    ];
    println!();
    println!(
        "{:<40} {:>9} {:>9} {:>6} {:>9} {:>10} {:>12} {:>9}",
        "request", "p50", "p99", "items", "calls", "scanned", "estimated RU", "moto RU"
    );
    for (label, path) in cases {
        if label.ends_with("full read") {
            // One integration without the mark: the text filter reads every queue, as before the index.
            env.set_search_mark("bench", first_integration, false).await;
        } else if label.ends_with("name index") {
            env.set_search_mark("bench", first_integration, true).await;
        }
        let mut latencies = Vec::with_capacity(requests);
        let mut cost = ReadCost::default();
        let mut returned = 0;
        for _ in 0..requests {
            let request = api_request("GET", &path, Some("bench"), None);
            let t = Instant::now();
            let (response, c) = env.api.handle_measured(request).await;
            latencies.push(t.elapsed());
            let (status, _, body) = decode(response);
            assert_eq!(status, 200, "{path}: {body}");
            returned = body["items"].as_array().unwrap().len();
            cost = c;
        }
        latencies.sort();
        println!(
            "{:<40} {:>9.1?} {:>9.1?} {:>6} {:>9} {:>10} {:>12.1} {:>9.1}",
            label,
            percentile(&latencies, 0.50),
            percentile(&latencies, 0.99),
            returned,
            cost.calls,
            cost.scanned_items,
            cost.estimated_units,
            cost.consumed_units,
        );
    }
    println!();
    println!("Per request: one Query of the tenant's integration records (names) + Query page(s) of GSI1, or with");
    println!("`q` and the name index: Query page(s) of one index partition, then the matching queues by range reads");
    println!("of GSI1 where they are dense or BatchGetItem where they are sparse.");
    println!("moto is not DynamoDB: latencies are the emulator's; 'moto RU' is moto's flat 1.0 per Query.");
}
