//! `queues-query`: API Gateway HTTP API (payload 2.0) → queues, intervals, agent states and mappings routes.
//! Composition root only. Configuration: `TABLE_NAME`; `TENANT_AUTH` / `TENANT_CLAIM` (see `TenantAuth`).

use std::convert::Infallible;

use acd_app::http::TenantAuth;
use acd_aws::{AwsClients, Settings, wiring};
use lambda_http::{Error, Request, run, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    acd_app::telemetry::init();
    let settings = Settings::from_env()?;
    let clients = AwsClients::from_env().await;
    let api = wiring::queues_query_api(&settings, &clients, TenantAuth::from_env());
    let api = &api;
    run(service_fn(move |request: Request| async move { Ok::<_, Infallible>(api.handle(request).await) })).await
}
