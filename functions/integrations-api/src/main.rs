//! `integrations-api`: API Gateway HTTP API (payload 2.0) → integrations routes. Composition root only.

use std::convert::Infallible;
use std::sync::Arc;

use acd_app::verifier::ConnectorVerifier;
use acd_aws::config::IntegrationsApiConfig;
use acd_aws::{AwsClients, wiring};
use lambda_http::{Error, Request, run, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let config = IntegrationsApiConfig::from_env()?;
    acd_app::telemetry::init(&config.logging)?;
    let clients = AwsClients::from_env().await;
    let factory = wiring::connector_factory(&config.settings, config.endpoints)?;
    let verifier = Arc::new(ConnectorVerifier { factory });
    let api = wiring::integrations_api(&config.settings, &clients, verifier, config.auth);
    let api = &api;
    run(service_fn(move |request: Request| async move { Ok::<_, Infallible>(api.handle(request).await) })).await
}
