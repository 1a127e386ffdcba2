//! `scripts/run-local --no-demo` on free ports, for the tests that drive the local stack over HTTP (end to end,
//! soak, load and isolation, fuzzing). The stack runs in its own process group and is stopped (SIGTERM to the
//! script, which stops everything it started) when the value is dropped; every wait is bounded.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("repo root")
}

/// `RUN_LOCAL_BUILD_ARGS` for `scripts/run-local` under a test: the build the tests themselves come from
/// (scripts/test: `cargo build --workspace --all-targets --locked`, with the same environment). It is up to date
/// already, so the stack runs the binaries of that build. run-local's own selection (the stack's binaries only)
/// would resolve tokio, serde_json and the SDK crates without the dev-dependencies' features and compile most of
/// the tree a second time.
pub const TEST_BUILD_ARGS: &str = "--workspace --all-targets --locked";

/// [`TEST_BUILD_ARGS`], unless the environment sets `RUN_LOCAL_BUILD_ARGS` (`scripts/load-test` sets it empty: its
/// `cargo test` builds one test, so run-local's own build of the stack's binaries is the smaller one there).
pub fn build_args() -> String {
    std::env::var("RUN_LOCAL_BUILD_ARGS").unwrap_or_else(|_| TEST_BUILD_ARGS.into())
}

/// Distinct free loopback ports (held together while choosing, so they differ).
pub fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n).map(|_| TcpListener::bind("127.0.0.1:0").expect("bind")).collect();
    listeners.iter().map(|l| l.local_addr().expect("addr").port()).collect()
}

pub fn port_open(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(200)).is_ok()
}

/// A running `scripts/run-local`.
pub struct LocalStack {
    child: Child,
    lines: mpsc::Receiver<String>,
    pub run_dir: PathBuf,
    /// API, Five9 simulator, Genesys simulator, moto, cargo lambda watch.
    pub ports: Vec<u16>,
    /// Base URL of the API (local-gateway).
    pub api: String,
    /// moto's endpoint (for audits of the table).
    pub aws_endpoint: String,
}

impl LocalStack {
    /// Starts the script with `env` added to its environment (e.g. `LAMBDA_CONCURRENCY`).
    pub fn start(env: &[(&str, &str)]) -> LocalStack {
        let root = repo_root();
        let ports = free_ports(6);
        let run_dir = root.join(format!(".local/e2e-{}-{}", std::process::id(), ports[0]));
        let mut command = Command::new(root.join("scripts/run-local"));
        command
            .arg("--no-demo")
            .current_dir(&root)
            .env("API_PORT", ports[0].to_string())
            .env("FIVE9_SIM_PORT", ports[1].to_string())
            .env("GENESYS_SIM_PORT", ports[2].to_string())
            .env("AWS_EMULATOR_PORT", ports[3].to_string())
            .env("LAMBDA_PORT", ports[4].to_string())
            .env("CONNECT_SIM_PORT", ports[5].to_string())
            .env("LOCAL_RUN_DIR", &run_dir)
            .env("CARGO_TERM_COLOR", "never")
            .env("RUN_LOCAL_BUILD_ARGS", build_args())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for inherited in [
            "FIVE9_BASE_URL",
            "GENESYS_CLOUD_API_BASE_URL",
            "GENESYS_CLOUD_LOGIN_BASE_URL",
            "AWS_ENDPOINT_URL_CONNECT",
            "NO_DEMO",
        ] {
            command.env_remove(inherited);
        }
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("spawn scripts/run-local");
        let (tx, lines) = mpsc::channel();
        for stream in [
            Box::new(child.stdout.take().expect("stdout")) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().expect("stderr")),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    eprintln!("[run-local] {line}");
                    let _ = tx.send(line);
                }
            });
        }
        LocalStack {
            child,
            lines,
            run_dir,
            api: format!("http://127.0.0.1:{}", ports[0]),
            aws_endpoint: format!("http://127.0.0.1:{}", ports[3]),
            ports,
        }
    }

    /// Waits for the script's ready line (it builds first: bounded generously).
    pub fn wait_ready(&mut self, limit: Duration) {
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("scripts/run-local exited before it was ready: {status}");
            }
            match self.lines.recv_timeout(Duration::from_millis(500)) {
                Ok(line) if line.starts_with("run-local: ready —") => return,
                _ if started.elapsed() > limit => panic!("scripts/run-local not ready within {limit:?}"),
                _ => {}
            }
        }
    }

    /// The Genesys simulator's credentials, from its log in the run directory.
    pub fn genesys_credentials(&self) -> (String, String) {
        let log = std::fs::read_to_string(self.run_dir.join("genesys-sim.log")).expect("genesys-sim.log");
        let field = |name: &str| {
            log.lines()
                .find_map(|l| l.trim().strip_prefix(name).map(|v| v.trim().to_owned()))
                .unwrap_or_else(|| panic!("{name} not in genesys-sim.log"))
        };
        (field("client id:"), field("client secret:"))
    }

    /// The ARN of the Amazon Connect simulator's agent event stream (in the run's moto), from its log.
    pub fn connect_stream_arn(&self) -> String {
        let log = std::fs::read_to_string(self.run_dir.join("connect-sim.log")).expect("connect-sim.log");
        log.lines()
            .find_map(|l| l.trim().strip_prefix("agent event stream:").map(|v| v.trim().to_owned()))
            .expect("agent event stream: not in connect-sim.log")
    }

    /// A log file of the run (`gateway.log`, `lambda.log`, …), empty when absent.
    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.run_dir.join(name)).unwrap_or_default()
    }
}

impl Drop for LocalStack {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
            let started = Instant::now();
            while self.child.try_wait().ok().flatten().is_none() {
                if started.elapsed() > Duration::from_secs(30) {
                    eprintln!("scripts/run-local did not stop within 30s: killing it");
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        let _ = std::fs::remove_dir_all(&self.run_dir);
    }
}
