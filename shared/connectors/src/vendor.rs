//! What a vendor (an ACD, or a push type) is to the rest of the code: one [`Vendor`] implementation in the vendor's
//! own folder, listed once in [`crate::registry::VENDORS`]. Everything vendor-specific goes through it: the form
//! `GET /integration-types` shows, credentials and settings validation (create and PATCH), the history cap, the
//! minimum reconciliation window, and how to build the vendor's connector.

use acd_domain::validation::{FieldErrors, Obj};
use acd_domain::{CredentialField, Credentials, IntegrationType, Settings};
use serde_json::{Map, Value};

use crate::{Connector, ConnectorError, Endpoints, HttpClient};

/// Longest history any vendor may back-fill (a vendor may cap it lower with [`Vendor::max_history_days`]).
pub const MAX_HISTORY_DAYS: u32 = acd_domain::validation::MAX_HISTORY_DAYS;

/// What the server hands every vendor's connector builder: the shared HTTP client and the endpoint overrides.
/// Vendor-wide state a connector needs beyond this (an AWS SDK configuration, a token cache) lives in the vendor's
/// own module (a `OnceLock`/`tokio::sync::OnceCell` it fills on first use), so adding it touches no shared code.
#[derive(Clone)]
pub struct ConnectorContext {
    pub http: HttpClient,
    pub endpoints: Endpoints,
    /// The AWS account this service runs in, when that account's roles are closed to integrations (the default;
    /// `None` when the operator allows them, or in tests that don't say): a vendor that assumes a role the customer
    /// names refuses a role of this account, which the service's own functions could be allowed to assume for any
    /// tenant (a role trusting its account without an external-id condition).
    pub service_account: Option<String>,
}

/// A per-tenant value the server issues for a vendor ([`Vendor::tenant_token`]): generated on the tenant's first
/// `POST /integrations/{path}` (then stored, one per tenant and vendor, and returned by every later call and by
/// `GET` on the same path), and filled into the credentials field `field` on every create, PATCH of the
/// credentials and test-connection of the vendor's type. A body never sets it; without one issued yet those calls
/// answer 409 `tenant-token-missing` naming the path.
#[derive(Debug, Clone, Copy)]
pub struct TenantToken {
    /// The credentials field it fills (`"external_id"`); one of [`Vendor::stored_credential_fields`].
    pub field: &'static str,
    /// Its path under `/integrations/` (`"amazon-connect/external-id"`): two segments, neither of them an id.
    pub path: &'static str,
    /// A new value (high entropy).
    pub generate: fn() -> String,
    /// The value is the external id of a role the customer creates in their own AWS account: the answer also names
    /// the account that role must trust (`trusted_account_id`, the service's `TRUSTED_ACCOUNT_ID`).
    pub names_trusted_account: bool,
}

/// One vendor. Implementations are unit structs in the vendor's folder (`five9::vendor::Five9`).
pub trait Vendor: Send + Sync + 'static {
    /// The API's and the table's `type` string (`"five9"`). Never changes once integrations exist.
    fn id(&self) -> IntegrationType;

    /// The name a front end shows (`"Five9"`).
    fn display_name(&self) -> &'static str;

    /// The prefix of the vendor's schemas in `infra/openapi.yaml`: `{prefix}Credentials` (absent for a type
    /// without credentials), `{prefix}SettingsInput` (create) and `{prefix}Settings` (as shown), e.g. `"Five9"`.
    fn spec_name(&self) -> &'static str;

    /// The credentials fields a client sends (each a required string). Empty for a type without credentials (a
    /// push type): then the body must not send `credentials` and nothing is verified on creation.
    fn credential_fields(&self) -> &'static [CredentialField];

    /// The fields of the stored credentials secret: [`Vendor::credential_fields`] plus the field of the
    /// [`Vendor::tenant_token`], if any (the server writes it in, the client never sends it).
    fn stored_credential_fields(&self) -> &'static [CredentialField] {
        self.credential_fields()
    }

    /// What is wrong with the form of a non-secret credentials value (`None`: nothing), checked when a body is read,
    /// before any call to the vendor: a value of the wrong form is a 400 naming the field, not a refusal by the
    /// ACD (422). The default checks nothing beyond [`Vendor::credential_fields`]' length.
    fn credential_problem(&self, _field: &str, _value: &str) -> Option<&'static str> {
        None
    }

    /// A value the server issues once per tenant and writes into this vendor's credentials before they are checked
    /// and stored (Amazon Connect's external id). `None` (the default): the credentials are the body's alone.
    fn tenant_token(&self) -> Option<TenantToken> {
        None
    }

    /// The vendor's settings fields as the form shows them (`GET /integration-types`), in order, without the
    /// shared `history_days` (the registry adds it). Each is an object with at least `name`, `kind`, `required`
    /// and `mutable`; enums carry `values`, defaults `default`. Their names are the settings keys the vendor
    /// accepts; the OpenAPI spec is checked against this list by `tests/integration/tests/vendor_schemas.rs`.
    fn settings_form(&self) -> Vec<Value>;

    /// Validates the vendor's own settings (every key of [`Vendor::settings_form`]; unknown keys and
    /// `history_days` are handled by the registry) of a create (`current` is `None`) or a PATCH (`current` is the
    /// stored settings: fields fixed after creation must report `immutable` when changed, absent fields keep
    /// their current value). Every problem goes into `errors`; the result is the vendor part of the settings.
    fn parse_settings(
        &self,
        obj: &Obj<'_>,
        current: Option<&Settings>,
        errors: &mut FieldErrors,
    ) -> Option<Map<String, Value>>;

    /// The settings as shown by the API, from the stored ones: a vendor whose settings gained a field with a default
    /// fills it in here for records written before (the default keeps the stored vendor part as it is).
    fn shown_settings(&self, settings: &Settings) -> Settings {
        settings.clone()
    }

    /// The environment variables that may redirect this vendor's endpoints (tests and the local run only, never API
    /// input; read once into [`Endpoints::vendor`](crate::Endpoints) by [`crate::Endpoints::from_lookup`]). Each
    /// override must be HTTPS or loopback HTTP.
    fn endpoint_variables(&self) -> &'static [&'static str] {
        &[]
    }

    /// The most days of history this vendor can serve.
    fn max_history_days(&self) -> u32 {
        MAX_HISTORY_DAYS
    }

    /// The shortest reconciliation window (how far back each run re-reads) this vendor's data needs; the import
    /// uses the larger of this and its configured window.
    fn min_reconciliation(&self) -> chrono::Duration {
        chrono::Duration::zero()
    }

    /// Whether a caught-up run re-reads this vendor's interval statistics from the hour where its reconciliation
    /// window starts, rather than from that day's UTC midnight (agent states are read by whole days either way).
    /// For a vendor whose statistics cost a call per page of rows (Amazon Connect's `GetMetricDataV2`), the hours
    /// before it are pages read again to no purpose: a 24-hour window re-read from midnight is 24 to 48 hours, 36 on
    /// average. The hours of the first day before that point are neither read nor written (nor deleted). A
    /// back-fill or a resumed pass reads whole days. `false` (the default): whole days.
    fn statistics_reread_by_hour(&self) -> bool {
        false
    }

    /// How long after the end of a UTC day the ACD's history of that day's agent states stops changing, for a
    /// vendor whose [`Connector::agent_segments`] reads a history (not a feed). Once a run has read and written a
    /// whole day's segments at least this long after the day's end, later reconciliation re-reads of the day skip
    /// its agent states (its statistics are still read again): they could only find the same segments. `None` (the
    /// default): every re-read reads a day's agent states again.
    fn agent_states_final_after(&self) -> Option<chrono::Duration> {
        None
    }

    /// Whether integrations of this vendor may have an agent-states pass (`agent_state_cadence`, a second schedule
    /// importing only agent states every few minutes): `Ok` when its connector reads recent agent states cheaply,
    /// else why not (the message of the 400 that refuses the setting).
    fn agent_state_cadence(&self) -> Result<(), &'static str> {
        Err("integrations of this type have no agent-states pass")
    }

    /// Whether integrations of this type are pulled by the import through a connector. `false` for a push type:
    /// the import skips it without reading credentials, and [`Vendor::connector`] answers `None`.
    fn pulls(&self) -> bool {
        true
    }

    /// The connector for one integration of this vendor, or `None` for a type that has no connector (a push
    /// type: nothing to verify on creation, nothing for the import to pull).
    fn connector(
        &self,
        ctx: &ConnectorContext,
        settings: &Settings,
        credentials: Credentials,
    ) -> Result<Option<Box<dyn Connector>>, ConnectorError>;
}

/// Reads a vendor's typed settings back from the stored vendor part (for connectors and PATCH checks).
pub fn typed_settings<T: serde::de::DeserializeOwned>(settings: &Settings) -> Result<T, ConnectorError> {
    serde_json::from_value(Value::Object(settings.vendor.clone()))
        .map_err(|e| ConnectorError::Configuration { message: format!("the stored settings cannot be read: {e}") })
}

/// The stored settings a PATCH is checked against could not be read (an `invalid_value` error was recorded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnreadableSettings;

/// A vendor's typed settings for settings parsing: `None` on a create (`current` is `None`), the stored settings on
/// a PATCH, or [`UnreadableSettings`] (with an error recorded under `/settings`) when they cannot be read.
pub fn current_settings<T: serde::de::DeserializeOwned>(
    current: Option<&Settings>,
    errors: &mut FieldErrors,
) -> Result<Option<T>, UnreadableSettings> {
    match current.map(typed_settings) {
        Some(Ok(c)) => Ok(Some(c)),
        Some(Err(_)) => {
            errors.push("/settings", "invalid_value", "the stored settings of this integration cannot be read");
            Err(UnreadableSettings)
        }
        None => Ok(None),
    }
}

/// The vendor part of the settings from a vendor's typed settings.
pub fn settings_map<T: serde::Serialize>(typed: &T) -> Map<String, Value> {
    match serde_json::to_value(typed) {
        Ok(Value::Object(map)) => map,
        _ => unreachable!("vendor settings serialize to a JSON object"),
    }
}

/// A required string credential field, or a configuration error naming it.
pub fn credential_field<'a>(credentials: &'a Credentials, name: &str) -> Result<&'a str, ConnectorError> {
    credentials
        .field(name)
        .ok_or_else(|| ConnectorError::Configuration { message: format!("the credentials have no {name}") })
}

/// A required secret credential field, or a configuration error naming it.
pub fn credential_secret(credentials: &Credentials, name: &str) -> Result<secrecy::SecretString, ConnectorError> {
    credentials
        .secret(name)
        .cloned()
        .ok_or_else(|| ConnectorError::Configuration { message: format!("the credentials have no {name}") })
}
