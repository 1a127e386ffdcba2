//! `integrations-api`: API Gateway HTTP API (payload 2.0) → integrations routes. Composition root only.

use std::convert::Infallible;
use std::sync::Arc;

use acd_app::http::TenantAuth;
use acd_app::verifier::ConnectorVerifier;
use acd_aws::{AwsClients, Settings, wiring};
use acd_connectors::{ConnectorFactory, Endpoints, HttpClient};
use lambda_http::{Error, Request, run, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    acd_app::telemetry::init();
    let settings = Settings::from_env()?;
    settings.require_scheduler_targets()?;
    let clients = AwsClients::from_env().await;
    let factory = ConnectorFactory::new(HttpClient::new()?, Endpoints::from_env());
    let verifier = Arc::new(ConnectorVerifier { factory });
    let api = wiring::integrations_api(&settings, &clients, verifier, TenantAuth::from_env());
    let api = &api;
    run(service_fn(move |request: Request| async move { Ok::<_, Infallible>(api.handle(request).await) })).await
}
