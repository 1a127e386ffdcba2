//! `import`: invoked by EventBridge Scheduler with `{"tenant_id", "integration_id"}` (the 15-minute import), or with
//! `"pass": "agent_states"` added (the agent-states pass of an integration with an `agent_state_cadence`), and by the
//! integrations API (or its one-time schedule) with `"at_once": true` added (first import, resume, sync now).
//! Composition root only.
//!
//! A failing ACD is not a failed invocation (the run is recorded and the integration's status says why); only a
//! storage failure fails the invocation. Scheduler invokes the function asynchronously, so Lambda's own retries
//! (two, set in the template) and then its dead-letter queue handle those.

use acd_app::import::{ImportEvent, ImportPass, deadline_from_epoch_ms, pass_of, pass_timing};
use acd_aws::config::ImportFunctionConfig;
use acd_aws::{AwsClients, wiring};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

/// mimalloc (v2, transparent huge pages off) instead of glibc's malloc: less CPU per item imported. The template
/// sets `MIMALLOC_PURGE_DELAY=0` (freed memory returned at once), which keeps the peak RSS below glibc's. Only here:
/// the API functions keep glibc's, whose start is 0.1–0.2 ms shorter (README, Benchmarks, "The import's allocator").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let config = ImportFunctionConfig::from_env()?;
    acd_app::telemetry::init(&config.logging)?;
    let clients = AwsClients::from_env().await;
    let connectors = wiring::connector_factory(&config.settings, config.endpoints)?;
    let service = wiring::import_service(&config.settings, &clients, connectors, config.import);
    let service = &service;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let deadline = deadline_from_epoch_ms(event.context.deadline);
        let pass = pass_of(&event.payload);
        let timing = pass_timing(&event.payload);
        let payload: ImportEvent = match serde_json::from_value(event.payload) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "not an import event: ignored");
                return Ok::<Value, Error>(serde_json::json!({"outcome": "skipped", "detail": "malformed event"}));
            }
        };
        let summary = match pass {
            Some(ImportPass::Import) => service.run(&payload, deadline).await?,
            Some(ImportPass::AgentStates) => service.run_states_event(&payload, deadline, timing).await,
            None => {
                tracing::warn!("an import event with an unknown pass: ignored");
                return Ok(serde_json::json!({"outcome": "skipped", "detail": "unknown pass"}));
            }
        };
        Ok(serde_json::to_value(summary)?)
    }))
    .await
}
