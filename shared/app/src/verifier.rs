//! The credentials check used by the API: the ACD's own connector, bounded by a deadline that fits in an API
//! Gateway request (29 s).

use std::time::Duration;

use acd_connectors::{ConnectorError, ConnectorFactory, Deadline};
use acd_domain::{Credentials, Settings};
use async_trait::async_trait;

use crate::ports::CredentialVerifier;

/// How long a credentials check may take (API Gateway HTTP APIs time out at 30 s).
pub const VERIFY_TIMEOUT: Duration = Duration::from_secs(20);

pub struct ConnectorVerifier {
    pub factory: ConnectorFactory,
}

#[async_trait]
impl CredentialVerifier for ConnectorVerifier {
    async fn verify(&self, settings: &Settings, credentials: &Credentials) -> Result<(), ConnectorError> {
        let connector = self.factory.connector(settings, credentials.clone())?;
        connector.verify(Deadline::after(VERIFY_TIMEOUT)).await
    }
}
