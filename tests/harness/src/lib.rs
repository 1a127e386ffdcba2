//! Test harness: a moto server (AWS emulator) started on a free port for the life of a test, with the table and
//! schedule group created the way the stack creates them, and a log capture to check what reaches the logs.
//!
//! moto comes from the project's pinned tool environment (`.tools/venv`, made by `scripts/bootstrap`), started
//! through `tools/moto_serial.py`, which handles one request at a time (moto's backends are not thread-safe, and
//! DynamoDB serialises conflicting conditional writes). Set `MOTO_SERVER` to use another `moto_server` binary.

use std::io::Write;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use acd_aws::{AwsClients, Settings};
use aws_sdk_scheduler::operation::get_schedule::GetScheduleOutput;
use tokio::process::{Child, Command};

/// Root of the repository.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("repo root")
}

/// Whether the tests' stacks write hour buckets: `HOUR_BUCKETS` in the test process's environment, read by the
/// functions' own parse (on unless `off`; a value that is neither panics rather than run the suites the other way).
/// `scripts/test` runs the import suites once each way.
pub fn hour_buckets_from_env() -> bool {
    Settings::hour_buckets_from(&acd_aws::config::Vars::env()).expect("HOUR_BUCKETS")
}

/// A free TCP port on the loopback interface.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port").local_addr().expect("local addr").port()
}

/// A running moto server; killed when dropped.
pub struct Moto {
    pub endpoint: String,
    child: Child,
}

impl Moto {
    /// Starts moto on a free port and waits until it answers.
    pub async fn start() -> Moto {
        let root = repo_root();
        let (program, prefix): (PathBuf, Vec<String>) = match std::env::var("MOTO_SERVER") {
            Ok(binary) => (PathBuf::from(binary), vec![]),
            Err(_) => (
                root.join(".tools/venv/bin/python"),
                vec![root.join("tools/moto_serial.py").to_string_lossy().into_owned()],
            ),
        };
        assert!(
            program.exists(),
            "{} not found: run scripts/bootstrap (the README's test command does) or set MOTO_SERVER",
            program.display()
        );
        for _ in 0..5 {
            let port = free_port();
            let child = Command::new(&program)
                .args(&prefix)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .expect("spawn moto");
            let endpoint = format!("http://127.0.0.1:{port}");
            let mut moto = Moto { endpoint, child };
            if moto.wait_ready(Duration::from_secs(20)).await {
                return moto;
            }
            let _ = moto.child.kill().await; // lost the port race or failed: try another port
        }
        panic!("moto did not start");
    }

    async fn wait_ready(&mut self, timeout: Duration) -> bool {
        let started = Instant::now();
        let addr = self.endpoint.trim_start_matches("http://").to_owned();
        while started.elapsed() < timeout {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if tokio::net::TcpStream::connect(&addr).await.is_ok() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    /// SDK configuration pointing every client at this moto (test credentials, us-east-1).
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(&self.endpoint)
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("testing", "testing", None, None, "test"))
            .load()
            .await
    }

    pub async fn clients(&self) -> AwsClients {
        AwsClients::from_config(&self.sdk_config().await)
    }
}

/// A moto with the stack's table and schedule group, and the settings the functions would get.
pub struct AwsStack {
    pub moto: Moto,
    pub clients: AwsClients,
    pub settings: Settings,
}

impl AwsStack {
    pub const IMPORT_FUNCTION_ARN: &'static str = "arn:aws:lambda:us-east-1:123456789012:function:acd-import";
    pub const SCHEDULER_ROLE_ARN: &'static str = "arn:aws:iam::123456789012:role/acd-scheduler";
    /// The service's account (`TRUSTED_ACCOUNT_ID`) in tests.
    pub const TRUSTED_ACCOUNT_ID: &'static str = "123456789012";

    pub async fn start() -> AwsStack {
        let moto = Moto::start().await;
        let clients = moto.clients().await;
        let settings = Settings {
            table_name: "acd-test".into(),
            secret_prefix: Settings::DEFAULT_SECRET_PREFIX.into(),
            schedule_group: "acd-imports".into(),
            import_function_arn: Self::IMPORT_FUNCTION_ARN.into(),
            scheduler_role_arn: Self::SCHEDULER_ROLE_ARN.into(),
            schedule_expression: Settings::DEFAULT_SCHEDULE_EXPRESSION.into(),
            flexible_window_minutes: 5,
            schedule_dlq_arn: Some("arn:aws:sqs:us-east-1:123456789012:acd-schedule-dlq".into()),
            trusted_account_id: Self::TRUSTED_ACCOUNT_ID.into(),
            default_history_days: 30,
            writes_in_flight: acd_aws::batch::DEFAULT_IN_FLIGHT,
            hour_buckets: hour_buckets_from_env(),
            max_integrations_per_tenant: Settings::DEFAULT_MAX_INTEGRATIONS_PER_TENANT,
            event_bus_name: "default".into(),
            scopes: Default::default(),
            ingest: Default::default(),
        };
        acd_aws::schema::create_table(clients.dynamodb(), &settings.table_name).await.expect("create table");
        clients
            .scheduler()
            .create_schedule_group()
            .name(&settings.schedule_group)
            .send()
            .await
            .expect("create schedule group");
        AwsStack { moto, clients, settings }
    }

    /// The schedule `name` (`imp-{id}`, `imp-{id}-states`, `now-{id}`) of the stack's group; `None` only when
    /// EventBridge Scheduler answers that it does not exist (any other error fails the test).
    pub async fn schedule(&self, name: &str) -> Option<GetScheduleOutput> {
        let request = self.clients.scheduler().get_schedule().name(name).group_name(&self.settings.schedule_group);
        match request.send().await {
            Ok(schedule) => Some(schedule),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()) => None,
            Err(e) => panic!("GetSchedule {name}: {e:?}"),
        }
    }
}

/// Everything logged through `tracing` in this test process, at every level (the SDKs included).
#[derive(Clone, Default)]
pub struct LogCapture(Arc<Mutex<Vec<u8>>>);

impl LogCapture {
    /// Installs the capture as the process's global subscriber (once; later calls share it).
    pub fn install() -> LogCapture {
        static CAPTURE: OnceLock<LogCapture> = OnceLock::new();
        CAPTURE
            .get_or_init(|| {
                let capture = LogCapture::default();
                let writer = capture.clone();
                let filter = tracing_subscriber::EnvFilter::new("trace");
                tracing_subscriber::fmt()
                    .with_env_filter(filter)
                    .with_writer(move || writer.clone())
                    .with_ansi(false)
                    .try_init()
                    .expect("no other global subscriber in this test process");
                capture
            })
            .clone()
    }

    pub fn contents(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log buffer")).into_owned()
    }
}

impl Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
