//! API fuzzing (issue 10), bounded for the test command: `scripts/fuzz-api --examples N` (default
//! `FUZZ_EXAMPLES`=15) starts the local stack on free ports, lets schemathesis drive every operation of
//! `infra/openapi.yaml` (every check: no answer >= 500, status codes, content types, headers and bodies as the spec
//! says, 405 with `Allow`…), then audits the table, secrets and schedules: nothing written by a rejected request.
//! The script's exit status says whether all of that held; its summary line carries the numbers.

use std::process::Command;

use acd_localdev::stack::{build_args, repo_root};

#[test]
fn schemathesis_finds_no_5xx_no_spec_violation_and_no_stray_write() {
    let examples = std::env::var("FUZZ_EXAMPLES").unwrap_or_else(|_| "15".into());
    let root = repo_root();
    let report_dir = root.join(format!(".local/fuzz-test-{}", std::process::id()));
    let output = Command::new(root.join("scripts/fuzz-api"))
        .args(["--examples", &examples, "--seed", "20261130"])
        .env("FUZZ_REPORT_DIR", &report_dir)
        // Its scripts/run-local runs the binaries of the test build, as the other local-stack tests do.
        .env("RUN_LOCAL_BUILD_ARGS", build_args())
        .current_dir(&root)
        .output()
        .expect("run scripts/fuzz-api");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("{stdout}\n{stderr}");
    let summary = stdout.lines().rev().find(|l| l.starts_with("fuzz-api: ") && l.contains(" requests, "));
    assert!(summary.is_some(), "no summary line from scripts/fuzz-api");
    assert!(output.status.success(), "scripts/fuzz-api failed: {}", summary.unwrap_or_default());
    let _ = std::fs::remove_dir_all(&report_dir);
}
