//! `five9-sim`: the Five9 simulator as a process for the local run.
//!
//! ```text
//! five9-sim [--port 9101] [--seed 1] [--campaigns 3] [--skills 4] [--agents 12] [--calls-per-interval 6]
//!           [--time-zone America/Los_Angeles] [--history-days 30] [--now 2024-11-06T00:00:00Z]
//!           [--report-running-ms 1500] [--row-limit 50000]
//! ```
//! The port defaults to env `FIVE9_SIM_PORT`, else 9101. Without `--now` the simulator follows the real clock.
//! Prints the base URL (for `FIVE9_BASE_URL`) and the credentials; control routes live under `/__sim/`.

use std::time::Duration;

use acd_simulators::five9::{Five9SimConfig, Five9Simulator};

fn usage() -> ! {
    eprintln!(
        "usage: five9-sim [--port N] [--seed N] [--campaigns N] [--skills N] [--agents N] [--calls-per-interval X] \
         [--time-zone TZ] [--history-days N] [--now RFC3339] [--report-running-ms N] [--row-limit N]"
    );
    std::process::exit(2)
}

fn parse<T: std::str::FromStr>(flag: &str, value: Option<String>) -> T {
    match value.as_deref().map(str::parse) {
        Some(Ok(v)) => v,
        _ => {
            eprintln!("five9-sim: {flag} needs a valid value");
            usage()
        }
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut config = Five9SimConfig {
        port: std::env::var("FIVE9_SIM_PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(9101),
        now: None,
        history_days: 30,
        report_running_for: Duration::from_millis(1500),
        max_long_poll: Duration::from_secs(5),
        ..Five9SimConfig::default()
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--port" => config.port = parse(&flag, args.next()),
            "--seed" => config.seed = parse(&flag, args.next()),
            "--campaigns" => config.campaigns = parse(&flag, args.next()),
            "--skills" => config.skills = parse(&flag, args.next()),
            "--agents" => config.agents = parse(&flag, args.next()),
            "--calls-per-interval" => config.calls_per_interval = parse(&flag, args.next()),
            "--time-zone" => config.time_zone = parse(&flag, args.next()),
            "--history-days" => config.history_days = parse(&flag, args.next()),
            "--now" => config.now = Some(parse(&flag, args.next())),
            "--report-running-ms" => config.report_running_for = Duration::from_millis(parse(&flag, args.next())),
            "--row-limit" => config.row_limit = parse(&flag, args.next()),
            "-h" | "--help" => usage(),
            _ => usage(),
        }
    }
    let sim = Five9Simulator::start(config).await?;
    println!("five9-sim listening on {}", sim.base_url());
    println!("  FIVE9_BASE_URL={}", sim.base_url());
    println!("  username: {}", sim.username());
    println!("  password: {}", sim.password());
    println!("  service:  {}/wsadmin/v13/AdminWebService", sim.base_url());
    println!("  control:  {}/__sim/info (faults, truth, stats, mutate)", sim.base_url());
    tokio::signal::ctrl_c().await?;
    Ok(())
}
