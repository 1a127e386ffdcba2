//! The demo of `scripts/run-local`: creates a Five9 integration against the simulator through the local API,
//! waits for its first import and prints its status, its first mappable queues and a few interval numbers; with
//! `--connect-stream-arn`, also an Amazon Connect integration (the tenant's external id first, then the role ARN).
//! Everything goes over HTTP, as a front end would.

use std::time::{Duration, Instant};

use chrono::{DurationRound, Utc};
use serde_json::{Value, json};

use crate::client::{Api, segment};

pub struct DemoOptions {
    pub api: String,
    pub tenant: String,
    pub name: String,
    pub five9_username: String,
    pub five9_password: String,
    pub history_days: u32,
    pub wait: Duration,
    /// Where to write `INTEGRATION_ID=…` and `QUEUE_ID=…` (the script's curl examples use them).
    pub ids_file: Option<std::path::PathBuf>,
    /// The Amazon Connect simulator's agent event stream: when set, an Amazon Connect integration is created too.
    pub connect_stream_arn: Option<String>,
}

/// Creates an Amazon Connect integration against the simulator the way a customer would: the tenant's external
/// id (`POST /integrations/amazon-connect/external-id`; the role would trust it), then the role ARN only.
async fn create_connect(api: &Api, stream_arn: &str) -> Result<(), String> {
    let (status, issued) = api.call("POST", "/integrations/amazon-connect/external-id", None).await?;
    if status != 200 && status != 201 {
        return Err(format!("POST /integrations/amazon-connect/external-id answered {status}: {}", short(&issued)));
    }
    say(format!(
        "the tenant's Amazon Connect external id: {} (a customer creates infra/customer-role-amazon-connect.yaml with it)",
        issued["external_id"].as_str().unwrap_or("?")
    ));
    let body = json!({
        "name": "Amazon Connect demo (simulator)",
        "type": "amazon_connect",
        "credentials": {"role_arn": "arn:aws:iam::123456789012:role/acd-connect-read"},
        "settings": {"region": "us-east-1", "instance_id": "6a1f0c34-5b7e-4c1d-9f00-00000000c0de",
                     "agent_event_stream_arn": stream_arn, "history_days": 1},
    });
    let (status, created) = api.call("POST", "/integrations", Some(&body)).await?;
    match status {
        201 => say(format!(
            "created Amazon Connect integration {}: {}",
            created["id"].as_str().unwrap_or("?"),
            status_line(&created)
        )),
        409 => say(format!("Amazon Connect integration not created (exists already?): {}", short(&created))),
        _ => return Err(format!("POST /integrations (amazon_connect) answered {status}: {}", short(&created))),
    }
    Ok(())
}

fn write_ids(options: &DemoOptions, integration: &str, queue: Option<&str>) {
    if let Some(path) = &options.ids_file {
        let text = format!("INTEGRATION_ID={integration}\nQUEUE_ID={}\n", queue.unwrap_or_default());
        if let Err(e) = std::fs::write(path, text) {
            say(format!("cannot write {}: {e}", path.display()));
        }
    }
}

fn say(line: impl AsRef<str>) {
    println!("demo: {}", line.as_ref());
}

fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 300 { format!("{}…", text.chars().take(300).collect::<String>()) } else { text }
}

fn status_line(integration: &Value) -> String {
    let status = &integration["status"];
    let mut line = status["state"].as_str().unwrap_or("?").to_owned();
    if let Some(reason) = status["reason"].as_str() {
        line.push_str(&format!(" ({reason}"));
        if let Some(message) = status["message"].as_str() {
            line.push_str(&format!(": {message}"));
        }
        line.push(')');
    }
    if let Some(at) = status["last_success_at"].as_str() {
        line.push_str(&format!(", last success {at}"));
    }
    line
}

/// Runs the demo; `Err` when the integration could not be created or its first import did not end in time.
pub async fn run(options: DemoOptions) -> Result<(), String> {
    let api = Api::new(&options.api, &options.tenant);
    let started = Instant::now();
    let elapsed = || format!("{:5.1}s", started.elapsed().as_secs_f64());

    say(format!("creating a Five9 integration for tenant \"{}\" (POST {}/integrations)", options.tenant, options.api));
    let body = json!({
        "name": options.name,
        "type": "five9",
        "credentials": {"username": options.five9_username, "password": options.five9_password},
        "settings": {"region": "us", "grouping": "campaign", "history_days": options.history_days},
    });
    let (status, created) = api.call("POST", "/integrations", Some(&body)).await?;
    if status == 409 {
        return Err(format!("an integration named {:?} exists already: {}", options.name, short(&created)));
    }
    if status != 201 {
        return Err(format!("POST /integrations answered {status}: {}", short(&created)));
    }
    let id = created["id"].as_str().ok_or("the created integration has no id")?.to_owned();
    write_ids(&options, &id, None);
    say(format!("{} created integration {id} \"{}\": {}", elapsed(), options.name, status_line(&created)));
    say("waiting for its first import (the scheduler player fires the one-time schedule a few seconds after creation)");

    let mut last = String::new();
    let integration = loop {
        let (status, integration) = api.get(&format!("/integrations/{id}")).await?;
        if status != 200 {
            return Err(format!("GET /integrations/{id} answered {status}: {}", short(&integration)));
        }
        let line = status_line(&integration);
        if line != last {
            say(format!("{} status: {line}", elapsed()));
            last = line;
        }
        match integration["status"]["state"].as_str() {
            Some("operational" | "failing") => break integration,
            _ if started.elapsed() > options.wait => {
                return Err(format!(
                    "the first import did not end within {}s (see .local/run/lambda.log)",
                    options.wait.as_secs()
                ));
            }
            _ => tokio::time::sleep(Duration::from_secs(2)).await,
        }
    };

    let (status, runs) = api.get(&format!("/integrations/{id}/runs?limit=1")).await?;
    if let (200, Some(run)) = (status, runs["items"].get(0)) {
        let c = &run["counts"];
        say(format!(
            "first run: {} in {}, {} queues, {} agents, {} statuses, {} non-empty intervals, {} agent-state segments, {} vendor calls",
            run["outcome"].as_str().unwrap_or("?"),
            match (run["started_at"].as_str(), run["ended_at"].as_str()) {
                (Some(s), Some(e)) => match (s.parse::<chrono::DateTime<Utc>>(), e.parse::<chrono::DateTime<Utc>>()) {
                    (Ok(s), Ok(e)) => format!("{:.1}s", (e - s).num_milliseconds() as f64 / 1000.0),
                    _ => "?".into(),
                },
                _ => "?".into(),
            },
            c["queues"],
            c["agents"],
            c["statuses"],
            c["intervals"],
            c["segments"],
            run["vendor_calls"],
        ));
    } else {
        say(format!("GET /integrations/{id}/runs answered {status}: {}", short(&runs)));
    }
    if integration["status"]["state"] == "failing" {
        return Err(format!("the first import failed: {}", status_line(&integration)));
    }

    let (status, queues) = api.get(&format!("/queues?integration_id={id}&limit=5")).await?;
    if status != 200 {
        say(format!("GET /queues answered {status} (not available yet?): {}", short(&queues)));
        return Ok(());
    }
    let items = queues["items"].as_array().cloned().unwrap_or_default();
    say(format!("mappable queues (GET /queues?integration_id={id}&limit=5): {}", items.len()));
    for q in &items {
        println!(
            "  {:<28} {:<6} {}min  data {} .. {}  id {}",
            q["name"].as_str().unwrap_or("?"),
            q["channel"].as_str().unwrap_or("?"),
            q["interval_minutes"],
            q["data_from"].as_str().unwrap_or("-"),
            q["data_to"].as_str().unwrap_or("-"),
            q["id"].as_str().unwrap_or("?"),
        );
    }
    let Some(queue) = items.iter().find(|q| !q["data_to"].is_null()).or(items.first()) else {
        return Ok(());
    };
    let queue_id = queue["id"].as_str().unwrap_or_default();
    write_ids(&options, &id, Some(queue_id));
    let to = Utc::now().duration_trunc(chrono::Duration::minutes(15)).map_err(|e| e.to_string())?;
    let from = to - chrono::Duration::hours(2);
    let fmt = |t: chrono::DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let path = format!("/queues/{}/intervals?from={}&to={}", segment(queue_id), fmt(from), fmt(to));
    let (status, intervals) = api.get(&path).await?;
    if status != 200 {
        say(format!("GET {path} answered {status}: {}", short(&intervals)));
        return Ok(());
    }
    say(format!(
        "intervals of \"{}\", last two hours (GET {path}); complete through {}:",
        queue["name"].as_str().unwrap_or("?"),
        intervals["complete_through"].as_str().unwrap_or("-")
    ));
    println!(
        "  {:<21} {:>7} {:>7} {:>9} {:>9} {:>9}  complete",
        "start (UTC)", "offered", "handled", "abandoned", "AHT (s)", "ASA (s)"
    );
    for i in intervals["items"].as_array().cloned().unwrap_or_default() {
        let handled = i["handled"].as_f64();
        let answered = i["handled"].as_f64();
        let avg = |total: Option<f64>, n: Option<f64>| match (total, n) {
            (Some(t), Some(n)) if n > 0.0 => format!("{:.1}", t / n),
            (Some(_), Some(_)) => "0".into(),
            _ => "-".into(),
        };
        let num = |v: &Value| if v.is_null() { "-".to_owned() } else { v.to_string() };
        println!(
            "  {:<21} {:>7} {:>7} {:>9} {:>9} {:>9}  {}",
            i["start"].as_str().unwrap_or("?"),
            num(&i["offered"]),
            num(&i["handled"]),
            num(&i["abandoned"]),
            avg(i["handle_time_seconds"].as_f64(), handled),
            avg(i["answer_time_seconds"].as_f64(), answered),
            i["complete"],
        );
    }
    if let Some(arn) = &options.connect_stream_arn {
        create_connect(&api, arn).await?;
    }
    say(format!("done in {}", elapsed().trim()));
    Ok(())
}
