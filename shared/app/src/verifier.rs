//! The credentials check used by the API: the ACD's own connector, bounded by a deadline that fits in a create's
//! budget ([`crate::integrations::CreateBudgets::check`], 10 s, of API Gateway's 29 s).

use std::time::Duration;

use acd_connectors::{ConnectorError, ConnectorFactory, Deadline};
use acd_domain::{Credentials, Settings};
use async_trait::async_trait;

use crate::ports::CredentialVerifier;

/// How long the connector's credentials check may take: just under the create's 10 s check budget, so the
/// connector reports its own timeout before the service cuts it off.
pub const VERIFY_TIMEOUT: Duration = Duration::from_secs(9);

pub struct ConnectorVerifier {
    pub factory: ConnectorFactory,
}

#[async_trait]
impl CredentialVerifier for ConnectorVerifier {
    async fn verify(&self, settings: &Settings, credentials: &Credentials) -> Result<(), ConnectorError> {
        // A type without a connector (a push type) has nothing to verify.
        match self.factory.connector(credentials.integration_type(), settings, credentials.clone())? {
            Some(connector) => connector.verify(Deadline::after(VERIFY_TIMEOUT)).await,
            None => Ok(()),
        }
    }
}
