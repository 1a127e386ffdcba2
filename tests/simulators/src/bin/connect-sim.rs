//! `connect-sim`: the Amazon Connect simulator as a process for the local run.
//!
//! ```text
//! connect-sim [--port 9105] [--host 127.0.0.1] [--seed 1] [--queues 3] [--agents 4] [--page-size 1000]
//!             [--kinesis-endpoint http://127.0.0.1:4566 --stream connect-agent-events]
//! ```
//! The port defaults to env `CONNECT_SIM_PORT`, else 9105. Point `AWS_ENDPOINT_URL_CONNECT` at the printed base URL;
//! STS and Kinesis are moto's. With `--kinesis-endpoint`, the agent event stream is created in that moto (1 shard,
//! test credentials, us-east-1) and yesterday's and today's agent events are written into it.
//!
//! Its own routes: `GET /__sim/info` (what it serves, the calls answered so far), `POST /__sim/trust`
//! (`{"external_id": "…"}`: the customer role trusts that external id; until then every AssumeRole is refused) and
//! `POST /__sim/latency` (`{"metric_ms": N}`: each `GetMetricDataV2` answer takes N ms, as AWS's would).

use std::net::{IpAddr, SocketAddr};

use acd_simulators::amazon_connect::{self as sim, ConnectSimConfig, ConnectSimulator};

fn usage() -> ! {
    eprintln!(
        "usage: connect-sim [--port N] [--host IP] [--seed N] [--queues N] [--agents N] [--page-size N] \
         [--kinesis-endpoint URL --stream NAME]"
    );
    std::process::exit(2)
}

fn parse<T: std::str::FromStr>(flag: &str, value: Option<String>) -> T {
    match value.as_deref().map(str::parse) {
        Some(Ok(v)) => v,
        _ => {
            eprintln!("connect-sim: {flag} needs a valid value");
            usage()
        }
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut port: u16 = std::env::var("CONNECT_SIM_PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(9105);
    let mut host: IpAddr = IpAddr::from([127, 0, 0, 1]);
    let mut config = ConnectSimConfig::default();
    let mut kinesis_endpoint: Option<String> = None;
    let mut stream = "connect-agent-events".to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--port" => port = parse(&flag, args.next()),
            "--host" => host = parse(&flag, args.next()),
            "--seed" => config.seed = parse(&flag, args.next()),
            "--queues" => config.queues = parse(&flag, args.next()),
            "--agents" => config.agents = parse(&flag, args.next()),
            "--page-size" => config.page_size = parse(&flag, args.next()),
            "--kinesis-endpoint" => kinesis_endpoint = Some(parse(&flag, args.next())),
            "--stream" => stream = parse(&flag, args.next()),
            _ => usage(),
        }
    }
    let agents = config.agents;
    let simulator = ConnectSimulator::start_on(config, SocketAddr::new(host, port)).await?;
    let base = simulator.base_url();
    println!("connect-sim listening on {base}");
    println!("  AWS_ENDPOINT_URL_CONNECT={base}");
    println!("  instance id: {}  (ARN {})", sim::INSTANCE_ID, sim::instance_arn());
    if let Some(endpoint) = kinesis_endpoint {
        let config = aws_sdk_kinesis::Config::builder()
            .behavior_version(aws_sdk_kinesis::config::BehaviorVersion::latest())
            .endpoint_url(endpoint)
            .region(aws_sdk_kinesis::config::Region::new(sim::REGION))
            .credentials_provider(aws_sdk_kinesis::config::Credentials::new("testing", "testing", None, None, "sim"))
            .build();
        let kinesis = aws_sdk_kinesis::Client::from_conf(config);
        let arn = ConnectSimulator::create_stream(&kinesis, &stream, 1).await.map_err(std::io::Error::other)?;
        let today = sim::midnight(chrono::Utc::now());
        for day in [today - chrono::Duration::days(1), today] {
            let (events, _) = sim::agent_events(agents, day);
            ConnectSimulator::publish_agent_events(&kinesis, &stream, &events).await.map_err(std::io::Error::other)?;
        }
        println!("  agent event stream: {arn}");
    }
    tokio::signal::ctrl_c().await?;
    Ok(())
}
