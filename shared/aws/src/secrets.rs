//! Credentials in AWS Secrets Manager: one secret per integration, named `{prefix}{tenant}/{integration}` and
//! tagged with both ids. The secret value is exposed only here, to hand it to the SDK (whose request types redact
//! it from `Debug`).

use acd_app::ports::{SecretStore, StoreError};
use acd_domain::{Credentials, IntegrationId, SecretVersion, TenantId};
use async_trait::async_trait;
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::ProvideErrorMetadata;
use aws_sdk_secretsmanager::types::Tag;
use secrecy::{ExposeSecret, SecretString};

use crate::{LazyClient, sdk_error};

#[derive(Clone, Debug)]
pub struct SecretsManagerStore {
    pub client: LazyClient<Client>,
    pub prefix: String,
}

impl SecretsManagerStore {
    pub fn secret_name(&self, tenant: &TenantId, id: IntegrationId) -> String {
        format!("{}{}/{}", self.prefix, tenant, id)
    }
}

/// The error code of a Secrets Manager answer (never its message, which could quote the request).
fn s_code<E: ProvideErrorMetadata>(service: Option<&E>) -> String {
    service.and_then(|s| s.code()).unwrap_or("unknown error").to_owned()
}

/// The staging label of the version a credentials PATCH writes ([`SecretStore::replace`]): a label keeps Secrets
/// Manager from removing the version, and not `AWSCURRENT` (which a put without labels moves to its version), so a
/// PATCH that fails after the write leaves the record's version the current one. The PATCH moves `AWSCURRENT` to its
/// version once the record names it ([`SecretStore::make_current`]); each put moves this label to its own version.
pub const PENDING_STAGE: &str = "ACD_PENDING";

const CURRENT_STAGE: &str = "AWSCURRENT";

/// The recovery window of [`SecretStore::delete_recoverable`]: Secrets Manager's longest (7 to 30 days).
pub const RECOVERY_WINDOW_DAYS: i64 = 30;

fn tag(key: &str, value: String) -> Tag {
    Tag::builder().key(key).value(value).build()
}

impl SecretsManagerStore {
    /// `DeleteSecret`: at once (`recovery_days` `None`), or after that recovery window. A missing secret is not an
    /// error, nor, with a window, one already scheduled for deletion (its date is kept).
    async fn delete_secret(
        &self,
        tenant: &TenantId,
        id: IntegrationId,
        recovery_days: Option<i64>,
    ) -> Result<(), StoreError> {
        let request = self.client.delete_secret().secret_id(self.secret_name(tenant, id));
        let request = match recovery_days {
            Some(days) => request.recovery_window_in_days(days),
            None => request.force_delete_without_recovery(true),
        };
        match request.send().await {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => Ok(()),
            // Already scheduled for deletion (a retried run), the one cause of `InvalidRequestException` a secret of
            // this store can have (the others: rotation, a secret managed by another service): left as it is, which
            // is the side to err on.
            Err(e)
                if recovery_days.is_some()
                    && e.as_service_error().is_some_and(|s| s.is_invalid_request_exception()) =>
            {
                tracing::info!(tenant = %tenant, integration = %id, "the credentials secret is already scheduled for deletion");
                Ok(())
            }
            Err(e) => Err(sdk_error("DeleteSecret", e)),
        }
    }

    /// Cancels the deletion of the secret if it is scheduled for deletion (`RestoreSecret`); `false` if it is not.
    async fn restore_if_deleted(&self, tenant: &TenantId, id: IntegrationId) -> Result<bool, StoreError> {
        let name = self.secret_name(tenant, id);
        let described = self.client.describe_secret().secret_id(&name).send().await;
        if described.map_err(|e| sdk_error("DescribeSecret", e))?.deleted_date.is_none() {
            return Ok(false);
        }
        self.client.restore_secret().secret_id(&name).send().await.map_err(|e| sdk_error("RestoreSecret", e))?;
        tracing::warn!(tenant = %tenant, integration = %id, "the credentials secret was scheduled for deletion: restored to take the new credentials");
        Ok(true)
    }
}

#[async_trait]
impl SecretStore for SecretsManagerStore {
    async fn create(
        &self,
        tenant: &TenantId,
        id: IntegrationId,
        credentials: &Credentials,
        version: &SecretVersion,
    ) -> Result<(), StoreError> {
        let value = credentials.to_secret_json();
        self.client
            .create_secret()
            .name(self.secret_name(tenant, id))
            .description("ACD credentials of one integration (managed by the integrations API)")
            .secret_string(value.expose_secret())
            // The version's id (the SDK's retries send the same token: idempotent).
            .client_request_token(version.as_str())
            .tags(tag("tenant_id", tenant.to_string()))
            .tags(tag("integration_id", id.to_string()))
            .tags(tag("managed_by", "acd-integrations".into()))
            .send()
            .await
            .map_err(|e| sdk_error("CreateSecret", e))?;
        Ok(())
    }

    /// `NotFound`: the secret (or that version of it) does not exist or is scheduled for deletion; `Corrupt`: it
    /// exists but cannot be read as this integration's credentials (its KMS key cannot decrypt it, access to it is
    /// denied, or its value is not the credentials' JSON). Both need an admin, not a retry. Anything else
    /// (throttling, a 5xx, the network) is a `Backend` failure that a retry may cure.
    async fn get(
        &self,
        tenant: &TenantId,
        id: IntegrationId,
        version: Option<&SecretVersion>,
    ) -> Result<Credentials, StoreError> {
        let request = self.client.get_secret_value().secret_id(self.secret_name(tenant, id));
        let out = request.set_version_id(version.map(|v| v.as_str().to_owned())).send().await.map_err(|e| {
            let service = e.as_service_error();
            if service.is_some_and(|s| s.is_resource_not_found_exception() || s.is_invalid_request_exception()) {
                StoreError::NotFound
            } else if service.is_some_and(|s| s.is_decryption_failure() || s.code() == Some("AccessDeniedException")) {
                StoreError::Corrupt(format!("GetSecretValue: {}", s_code(service)))
            } else {
                sdk_error("GetSecretValue", e)
            }
        })?;
        let raw = SecretString::from(out.secret_string.unwrap_or_default());
        acd_connectors::registry::credentials_from_secret_json(&raw).map_err(|e| StoreError::Corrupt(e.to_string()))
    }

    async fn current_version(&self, tenant: &TenantId, id: IntegrationId) -> Result<Option<SecretVersion>, StoreError> {
        let out = match self.client.describe_secret().secret_id(self.secret_name(tenant, id)).send().await {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => return Ok(None),
            Err(e) => return Err(sdk_error("DescribeSecret", e)),
        };
        let current = out.version_ids_to_stages.unwrap_or_default().into_iter().find_map(|(version, stages)| {
            stages.iter().any(|s| s == CURRENT_STAGE).then(|| SecretVersion::from_stored(version))
        });
        Ok(current)
    }

    async fn replace(
        &self,
        tenant: &TenantId,
        id: IntegrationId,
        credentials: &Credentials,
        version: &SecretVersion,
    ) -> Result<(), StoreError> {
        let value = credentials.to_secret_json();
        let put = || {
            self.client
                .put_secret_value()
                .secret_id(self.secret_name(tenant, id))
                .secret_string(value.expose_secret())
                .client_request_token(version.as_str())
                .version_stages(PENDING_STAGE)
                .send()
        };
        match put().await {
            Ok(_) => Ok(()),
            // The secret was deleted behind the API's back (the import then reports it missing and asks for the
            // credentials again): a PATCH of them creates it anew.
            Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => {
                self.create(tenant, id, credentials, version).await
            }
            // Deleted with a recovery window (the console's default): it is restored, then written.
            Err(e)
                if e.as_service_error().is_some_and(|s| s.is_invalid_request_exception())
                    && self.restore_if_deleted(tenant, id).await? =>
            {
                put().await.map(|_| ()).map_err(|e| sdk_error("PutSecretValue", e))
            }
            Err(e) => Err(sdk_error("PutSecretValue", e)),
        }
    }

    /// `UpdateSecretVersionStage` with `RemoveFromVersionId`: Secrets Manager refuses the move
    /// (`InvalidParameterException`) when the label is not on that version, and gives `from` `AWSPREVIOUS`.
    async fn make_current(
        &self,
        tenant: &TenantId,
        id: IntegrationId,
        version: &SecretVersion,
        from: &SecretVersion,
    ) -> Result<bool, StoreError> {
        let moved = self
            .client
            .update_secret_version_stage()
            .secret_id(self.secret_name(tenant, id))
            .version_stage(CURRENT_STAGE)
            .move_to_version_id(version.as_str())
            .remove_from_version_id(from.as_str())
            .send()
            .await;
        match moved {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_invalid_parameter_exception()) => Ok(false),
            Err(e) => Err(sdk_error("UpdateSecretVersionStage", e)),
        }
    }

    async fn delete(&self, tenant: &TenantId, id: IntegrationId) -> Result<(), StoreError> {
        self.delete_secret(tenant, id, None).await
    }

    async fn delete_recoverable(&self, tenant: &TenantId, id: IntegrationId) -> Result<(), StoreError> {
        self.delete_secret(tenant, id, Some(RECOVERY_WINDOW_DAYS)).await
    }
}
