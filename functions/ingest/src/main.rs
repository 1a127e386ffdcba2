//! `ingest`: API Gateway HTTP API (payload 2.0) → the ingest routes of `push` integrations (`/ingest/...`). The
//! ingest key is the credential (no JWT authorizer). Composition root only. Configuration: `TABLE_NAME`;
//! `INGEST_CALLS_PER_MINUTE`, `INGEST_TENANT_CALLS_PER_MINUTE`, `INGEST_KEY_GRACE_HOURS` (see
//! `acd_app::ingest::IngestConfig`).

use std::convert::Infallible;

use acd_aws::config::IngestFunctionConfig;
use acd_aws::{AwsClients, wiring};
use lambda_http::{Error, Request, run, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let config = IngestFunctionConfig::from_env()?;
    acd_app::telemetry::init(&config.logging)?;
    let clients = AwsClients::from_env().await;
    let api = wiring::ingest_api(&config.settings, &clients);
    let api = &api;
    run(service_fn(move |request: Request| async move { Ok::<_, Infallible>(api.handle(request).await) })).await
}
