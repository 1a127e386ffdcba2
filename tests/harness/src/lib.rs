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

pub mod strict;

use acd_aws::{AwsClients, Settings};
use aws_sdk_scheduler::operation::get_schedule::GetScheduleOutput;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Root of the repository.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("repo root")
}

/// Whether the tests' stacks write hour buckets: `HOUR_BUCKETS` in the test process's environment, read by the
/// functions' own parse (on unless `off`; a value that is none of `on`, `off`, `compact` panics rather than run the
/// suites another way). `scripts/test` runs the import suites with the default, `off` and `compact`.
pub fn hour_buckets_from_env() -> bool {
    Settings::hour_buckets_from(&acd_aws::config::Vars::env()).expect("HOUR_BUCKETS").0
}

/// Whether the tests' stacks write compact segment buckets (`HOUR_BUCKETS=compact`).
pub fn compact_segment_buckets_from_env() -> bool {
    Settings::hour_buckets_from(&acd_aws::config::Vars::env()).expect("HOUR_BUCKETS").1
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
        Moto::start_with(&[]).await
    }

    /// [`Moto::start`] with extra environment variables for moto (e.g. `MOTO_SERIAL_CHECK`, see
    /// `tools/moto_serial.py`).
    pub async fn start_with(vars: &[(&str, &str)]) -> Moto {
        if let Ok(binary) = std::env::var("MOTO_SERVER") {
            return Moto::start_on_free_port(PathBuf::from(binary), vars).await;
        }
        // moto_serial.py binds port 0 and prints the port the system chose: no other process can take it between a
        // choice here and moto's start (a test once reached another test's server that way).
        let root = repo_root();
        let python = root.join(".tools/venv/bin/python");
        assert!(
            python.exists(),
            "{} not found: run scripts/bootstrap (the README's test command does)",
            python.display()
        );
        let mut child = Command::new(&python)
            .arg(root.join("tools/moto_serial.py"))
            .args(["--no-request-log", "-H", "127.0.0.1", "-p", "0"])
            .envs(vars.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn moto");
        let mut lines = BufReader::new(child.stdout.take().expect("moto's stdout")).lines();
        let announced = tokio::time::timeout(Duration::from_secs(30), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(address) = line.strip_prefix("moto_serial: listening on ") {
                    return Some(address.to_owned());
                }
            }
            None
        })
        .await;
        match announced {
            Ok(Some(address)) => Moto { endpoint: format!("http://{address}"), child },
            _ => panic!("moto did not start (no 'listening on' line within 30 s)"),
        }
    }

    /// Another `moto_server` binary (`MOTO_SERVER`): a free port chosen here, then wait until it answers.
    async fn start_on_free_port(program: PathBuf, vars: &[(&str, &str)]) -> Moto {
        assert!(program.exists(), "MOTO_SERVER: {} not found", program.display());
        for _ in 0..5 {
            let port = free_port();
            let child = Command::new(&program)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .envs(vars.iter().copied())
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
        moto_sdk_config(&self.endpoint).await
    }

    /// The stack's clients; the DynamoDB one refuses keys that DynamoDB refuses and moto does not ([`strict`]).
    pub async fn clients(&self) -> AwsClients {
        let mut clients = AwsClients::from_config(&self.sdk_config().await);
        let strict = strict::dynamodb_client(clients.dynamodb());
        clients.set_dynamodb(strict);
        clients
    }
}

/// SDK configuration pointing every client at the moto at `endpoint` (test credentials, us-east-1): for a process
/// that did not start that moto itself ([`Moto::sdk_config`] for one that did).
pub async fn moto_sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("testing", "testing", None, None, "test"))
        .load()
        .await
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
            allow_same_account_roles: false,
            default_history_days: 30,
            writes_in_flight: acd_aws::batch::DEFAULT_IN_FLIGHT,
            hour_buckets: hour_buckets_from_env(),
            compact_segment_buckets: compact_segment_buckets_from_env(),
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

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use aws_sdk_dynamodb::primitives::Blob;
    use aws_sdk_dynamodb::types::{AttributeValue as A, Get, KeysAndAttributes, ReturnValue, TransactGetItem};

    use super::Moto;

    /// One item with every kind of attribute value, nested, with edge cases (empty string, bytes that are not UTF-8,
    /// non-ASCII text, numbers as DynamoDB keeps them).
    fn every_kind(pk: &str, sk: &str) -> HashMap<String, A> {
        let nested = HashMap::from([
            ("s".to_owned(), A::S("zürich ✓".into())),
            ("l".to_owned(), A::L(vec![A::Null(true), A::Bool(false), A::N("-1.5e3".into()), A::L(vec![])])),
            ("m".to_owned(), A::M(HashMap::new())),
        ]);
        HashMap::from([
            ("PK".to_owned(), A::S(pk.into())),
            ("SK".to_owned(), A::S(sk.into())),
            ("empty".to_owned(), A::S(String::new())),
            ("n".to_owned(), A::N("12345678901234567890".into())),
            ("b".to_owned(), A::B(Blob::new(vec![0, 159, 146, 150, 255]))),
            ("ss".to_owned(), A::Ss(vec!["a".into(), "b \"quoted\"".into()])),
            ("ns".to_owned(), A::Ns(vec!["1".into(), "2.5".into()])),
            ("bs".to_owned(), A::Bs(vec![Blob::new(vec![1]), Blob::new(vec![2, 3])])),
            ("m".to_owned(), A::M(nested.clone())),
            ("l".to_owned(), A::L(vec![A::M(nested), A::S("x".into()), A::B(Blob::new(vec![]))])),
            ("null".to_owned(), A::Null(true)),
            ("yes".to_owned(), A::Bool(true)),
        ])
    }

    /// `tools/moto_serial.py` writes DynamoDB's items itself instead of through moto's serializer. With
    /// `MOTO_SERIAL_CHECK=1` it also runs moto's serializer on each item and answers 500 when the two differ, so
    /// every call here fails unless both agree; and every read must give back exactly the item written.
    #[tokio::test]
    async fn moto_serial_writes_items_as_moto_does() {
        let moto = Moto::start_with(&[("MOTO_SERIAL_CHECK", "1")]).await;
        let db = aws_sdk_dynamodb::Client::new(&moto.sdk_config().await);
        let table = "serialise";
        acd_aws::schema::create_table(&db, table).await.unwrap();
        let (one, two) = (every_kind("p", "1"), every_kind("p", "2"));
        for item in [&one, &two] {
            db.put_item().table_name(table).set_item(Some(item.clone())).send().await.unwrap();
        }
        let key = |item: &HashMap<String, A>| {
            HashMap::from([("PK".to_owned(), item["PK"].clone()), ("SK".to_owned(), item["SK"].clone())])
        };

        let got = db.get_item().table_name(table).set_key(Some(key(&one))).send().await.unwrap();
        assert_eq!(got.item.as_ref(), Some(&one), "GetItem");
        let queried = db
            .query()
            .table_name(table)
            .key_condition_expression("PK = :p")
            .expression_attribute_values(":p", A::S("p".into()))
            .send()
            .await
            .unwrap();
        assert_eq!(queried.items(), [one.clone(), two.clone()], "Query");
        let scanned = db.scan().table_name(table).send().await.unwrap();
        assert_eq!(scanned.items().len(), 2, "Scan");
        assert!(scanned.items().contains(&one) && scanned.items().contains(&two), "Scan");
        let batch = db
            .batch_get_item()
            .request_items(table, KeysAndAttributes::builder().keys(key(&one)).keys(key(&two)).build().unwrap())
            .send()
            .await
            .unwrap();
        let mut read = batch.responses().unwrap()[table].clone();
        read.sort_by_key(|item| item["SK"].as_s().unwrap().clone());
        assert_eq!(read, [one.clone(), two.clone()], "BatchGetItem");
        let transact = db
            .transact_get_items()
            .transact_items(
                TransactGetItem::builder()
                    .get(Get::builder().table_name(table).set_key(Some(key(&two))).build().unwrap())
                    .build(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(transact.responses()[0].item.as_ref(), Some(&two), "TransactGetItems");

        let updated = db
            .update_item()
            .table_name(table)
            .set_key(Some(key(&one)))
            .update_expression("SET extra = :e")
            .expression_attribute_values(":e", A::L(vec![A::Ns(vec!["7".into()])]))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .unwrap();
        let mut expected = one.clone();
        expected.insert("extra".into(), A::L(vec![A::Ns(vec!["7".into()])]));
        assert_eq!(updated.attributes.as_ref(), Some(&expected), "UpdateItem ALL_NEW");
        let deleted = db
            .delete_item()
            .table_name(table)
            .set_key(Some(key(&two)))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .unwrap();
        assert_eq!(deleted.attributes.as_ref(), Some(&two), "DeleteItem ALL_OLD");
    }
}
