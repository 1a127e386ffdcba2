//! `genesys-sim`: the Genesys Cloud simulator as a process for the local run.
//!
//! ```text
//! genesys-sim [--port 9102] [--host 127.0.0.1] [--seed 1] [--queues 4] [--agents 6] [--history-days 14]
//!             [--contacts-per-interval 4] [--page-size 500] [--now 2024-05-15T10:07:30Z]
//!             [--client-id ID] [--client-secret SECRET] [--token-ttl-secs 86399] [--rate-limit 300|off]
//!             [--media voice[,callback,chat,message,email]]   (every queue takes these media: e.g. a voice-only org;
//!                                                              the listing then has settings for every medium, as
//!                                                              Genesys Cloud's does)
//! ```
//! The port defaults to env `GENESYS_SIM_PORT`, else 9102. Without `--now` the simulator follows the real clock.
//! One server answers the login and the API routes: point both `GENESYS_CLOUD_API_BASE_URL` and
//! `GENESYS_CLOUD_LOGIN_BASE_URL` at the printed base URL. Control routes (faults, truth, clock, queue mutations)
//! live under `/__sim/` (see `acd_simulators::genesys`).

use std::net::{IpAddr, SocketAddr};

use acd_simulators::genesys::{GenesysSimConfig, GenesysSimulator, MediaType};

fn usage() -> ! {
    eprintln!(
        "usage: genesys-sim [--port N] [--host IP] [--seed N] [--queues N] [--agents N] [--history-days N] \
         [--contacts-per-interval X] [--page-size N] [--now RFC3339] [--client-id ID] [--client-secret S] \
         [--token-ttl-secs N] [--rate-limit N|off] [--media voice[,callback,chat,message,email]]"
    );
    std::process::exit(2)
}

fn parse<T: std::str::FromStr>(flag: &str, value: Option<String>) -> T {
    match value.as_deref().map(str::parse) {
        Some(Ok(v)) => v,
        _ => {
            eprintln!("genesys-sim: {flag} needs a valid value");
            usage()
        }
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut port: u16 = std::env::var("GENESYS_SIM_PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(9102);
    let mut host: IpAddr = IpAddr::from([127, 0, 0, 1]);
    let mut config = GenesysSimConfig::default();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--port" => port = parse(&flag, args.next()),
            "--host" => host = parse(&flag, args.next()),
            "--seed" => config.seed = parse(&flag, args.next()),
            "--queues" => config.queues = parse(&flag, args.next()),
            "--agents" => config.agents = parse(&flag, args.next()),
            "--history-days" => config.history_days = parse(&flag, args.next()),
            "--contacts-per-interval" => config.contacts_per_interval = parse(&flag, args.next()),
            "--page-size" => config.max_page_size = parse(&flag, args.next()),
            "--media" => {
                // e.g. `voice`: a voice-only org, listed as Genesys Cloud lists it (settings for every medium).
                let list: String = parse(&flag, args.next());
                let media: Option<Vec<MediaType>> = list.split(',').map(|m| MediaType::parse(m.trim())).collect();
                match media {
                    Some(media) if !media.is_empty() => {
                        config.media = Some(media);
                        config.all_media_settings = true;
                    }
                    _ => {
                        eprintln!(
                            "genesys-sim: --media takes voice, callback, chat, message or email, comma-separated"
                        );
                        usage();
                    }
                }
            }
            "--now" => config.now = Some(parse(&flag, args.next())),
            "--client-id" => config.client_id = Some(parse(&flag, args.next())),
            "--client-secret" => config.client_secret = Some(parse(&flag, args.next())),
            "--token-ttl-secs" => config.token_ttl_secs = parse(&flag, args.next()),
            "--rate-limit" => {
                let v: String = parse(&flag, args.next());
                config.rate_limit_per_minute = if v == "off" { None } else { Some(parse(&flag, Some(v))) };
            }
            _ => usage(),
        }
    }
    let sim = GenesysSimulator::start_on(config, SocketAddr::new(host, port)).await?;
    let base = sim.base_url();
    println!("genesys-sim listening on {base}");
    println!("  GENESYS_CLOUD_API_BASE_URL={base}");
    println!("  GENESYS_CLOUD_LOGIN_BASE_URL={base}");
    println!("  client id:     {}", sim.client_id());
    println!("  client secret: {}", sim.client_secret());
    println!("  data from {} to now ({})", sim.data_start().to_rfc3339(), sim.now().to_rfc3339());
    println!("  control:  {base}/__sim/info (faults, truth, clock, queues, corrections, requests)");
    tokio::signal::ctrl_c().await?;
    Ok(())
}
