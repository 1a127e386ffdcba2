//! `queues-query`: API Gateway HTTP API (payload 2.0) → queues, intervals, agent states and mappings routes.
//! Composition root only. Configuration: `TABLE_NAME`; `TENANT_AUTH` / `TENANT_CLAIM` (see `TenantAuth`).

use std::convert::Infallible;

use acd_aws::config::QueuesQueryConfig;
use acd_aws::{AwsClients, wiring};
use lambda_http::{Error, Request, run, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let config = QueuesQueryConfig::from_env()?;
    acd_app::telemetry::init(&config.logging)?;
    let clients = AwsClients::from_env().await;
    let api = wiring::queues_query_api(&config.settings, &clients, config.auth);
    let api = &api;
    run(service_fn(move |request: Request| async move { Ok::<_, Infallible>(api.handle(request).await) })).await
}
