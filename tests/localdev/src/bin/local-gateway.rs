//! `local-gateway`: the local run's API gateway and scheduler player, plus its set-up and demo steps.
//!
//! ```text
//! local-gateway init                 create the table (acd_aws::schema) and the schedule group, then exit
//! local-gateway serve [--port N] [--lambda-url URL] [--poll-ms N] [--no-scheduler]
//! local-gateway demo [--api URL] [--tenant T] [--five9-username U] [--five9-password P]
//!                    [--history-days N] [--wait-secs N] [--name NAME] [--write-ids FILE]
//! ```
//! AWS settings come from the standard variables (`AWS_ENDPOINT_URL`, `AWS_REGION`, credentials); `TABLE_NAME` and
//! `SCHEDULE_GROUP` name the table and group (defaults `acd-local`, `acd-imports`). Ports default to `API_PORT`
//! (9000) and `LAMBDA_PORT` (9104, where `cargo lambda watch` listens). `CORS_ALLOWED_ORIGIN` is the origin the API
//! answers CORS requests for (default `*`; the template's `CorsAllowedOrigin`).

use std::net::SocketAddr;
use std::time::Duration;

use acd_localdev::{demo, gateway, player, setup};

const DEFAULT_FILTER: &str = "info,aws_smithy_runtime=warn,aws_config=warn,hyper=warn,hyper_util=warn,reqwest=warn";

fn usage() -> ! {
    eprintln!(
        "usage: local-gateway init\n       local-gateway serve [--port N] [--lambda-url URL] [--poll-ms N] [--no-scheduler]\n       \
         local-gateway demo [--api URL] [--tenant T] [--five9-username U] [--five9-password P] [--history-days N] \
         [--wait-secs N] [--name NAME] [--write-ids FILE]"
    );
    std::process::exit(2)
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).ok().map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()).unwrap_or_else(|| default.into())
}

fn value<T: std::str::FromStr>(flag: &str, args: &mut impl Iterator<Item = String>) -> T {
    match args.next().as_deref().map(str::parse) {
        Some(Ok(v)) => v,
        _ => {
            eprintln!("local-gateway: {flag} needs a valid value");
            usage()
        }
    }
}

#[tokio::main]
async fn main() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_FILTER));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();

    let mut args = std::env::args().skip(1);
    let command = args.next().unwrap_or_else(|| "serve".into());
    let table = env_or("TABLE_NAME", "acd-local");
    let group = env_or("SCHEDULE_GROUP", "acd-imports");
    let lambda_port = env_or("LAMBDA_PORT", "9104");
    let api_port = env_or("API_PORT", "9000");
    let code = match command.as_str() {
        "init" | "--init" => {
            let clients = acd_aws::AwsClients::from_env().await;
            match setup::init(&clients, &table, &group).await {
                Ok(()) => {
                    println!("local-gateway: table {table} and schedule group {group} ready");
                    0
                }
                Err(e) => {
                    eprintln!("local-gateway init: {e}");
                    1
                }
            }
        }
        "serve" => {
            let mut port: u16 = api_port.parse().unwrap_or_else(|_| usage());
            let mut lambda_url = format!("http://127.0.0.1:{lambda_port}");
            let mut poll_ms: u64 = 2000;
            let mut scheduler = true;
            while let Some(flag) = args.next() {
                match flag.as_str() {
                    "--port" => port = value(&flag, &mut args),
                    "--lambda-url" => lambda_url = value(&flag, &mut args),
                    "--poll-ms" => poll_ms = value(&flag, &mut args),
                    "--no-scheduler" => scheduler = false,
                    _ => usage(),
                }
            }
            serve(port, &lambda_url, scheduler.then_some((group, Duration::from_millis(poll_ms)))).await
        }
        "demo" => {
            let mut options = demo::DemoOptions {
                api: format!("http://127.0.0.1:{api_port}"),
                tenant: "demo".into(),
                name: "Five9 demo (simulator)".into(),
                five9_username: env_or("DEMO_FIVE9_USERNAME", "wfm-api@acme-corp.example"),
                five9_password: env_or("DEMO_FIVE9_PASSWORD", "s3cret & <pass>"),
                history_days: 1,
                wait: Duration::from_secs(180),
                ids_file: None,
                connect_stream_arn: None,
            };
            while let Some(flag) = args.next() {
                match flag.as_str() {
                    "--api" => options.api = value(&flag, &mut args),
                    "--tenant" => options.tenant = value(&flag, &mut args),
                    "--name" => options.name = value(&flag, &mut args),
                    "--five9-username" => options.five9_username = value(&flag, &mut args),
                    "--five9-password" => options.five9_password = value(&flag, &mut args),
                    "--history-days" => options.history_days = value(&flag, &mut args),
                    "--wait-secs" => options.wait = Duration::from_secs(value(&flag, &mut args)),
                    "--write-ids" => options.ids_file = Some(value::<String>(&flag, &mut args).into()),
                    "--connect-stream-arn" => options.connect_stream_arn = Some(value(&flag, &mut args)),
                    _ => usage(),
                }
            }
            match demo::run(options).await {
                Ok(()) => 0,
                Err(e) => {
                    println!("demo: FAILED: {e}");
                    1
                }
            }
        }
        _ => usage(),
    };
    std::process::exit(code)
}

async fn serve(port: u16, lambda_url: &str, scheduler: Option<(String, Duration)>) -> i32 {
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let listener = match tokio::net::TcpListener::bind(address).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("local-gateway: cannot listen on {address}: {e}");
            return 1;
        }
    };
    if let Some((group, poll)) = scheduler {
        let clients = acd_aws::AwsClients::from_env().await;
        let max_in_flight = env_or("PLAYER_MAX_IN_FLIGHT", "").parse().unwrap_or(player::DEFAULT_MAX_IN_FLIGHT);
        let retry_delays = match std::env::var("PLAYER_RETRY_DELAYS") {
            Ok(text) => match player::parse_retry_delays(&text) {
                Ok(delays) => delays,
                Err(error) => {
                    eprintln!("local-gateway: PLAYER_RETRY_DELAYS: {error}");
                    return 2;
                }
            },
            Err(_) => player::LAMBDA_RETRY_DELAYS.to_vec(),
        };
        tokio::spawn(
            player::Player::new(clients.scheduler().clone(), &group, lambda_url, poll)
                .with_max_in_flight(max_in_flight)
                .with_retry_delays(retry_delays)
                .run(),
        );
    }
    tracing::info!("local API on http://{address} → functions under cargo lambda watch at {lambda_url}");
    let cors = gateway::Cors { allow_origin: env_or("CORS_ALLOWED_ORIGIN", "*"), ..gateway::Cors::default() };
    tracing::info!(origin = %cors.allow_origin, "CORS answered for this origin");
    // Run from the repository (scripts/run-local does): /docs serves what scripts/api-kit rendered.
    let docs = gateway::Docs::in_repo(env_or("REPO_ROOT", "."));
    tracing::info!(page = %docs.page.display(), "API docs at http://{address}/docs");
    let app = gateway::Gateway::new(lambda_url).with_cors(cors).with_docs(docs).router();
    let shutdown = async {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    };
    match axum::serve(listener, app).with_graceful_shutdown(shutdown).await {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("local-gateway: {e}");
            1
        }
    }
}
