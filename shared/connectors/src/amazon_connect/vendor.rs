//! Amazon Connect in the vendor registry: form, settings validation, credentials, history cap, connector.
//!
//!
//! The external id is the vendor's [`TenantToken`]: the server generates it per tenant
//! ([`AmazonConnectCredentials::new_external_id`]) on `POST /integrations/amazon-connect/external-id`, stores it,
//! and writes it into the credentials of every create / PATCH / test-connection; a body cannot send it (it is not
//! one of [`Vendor::credential_fields`], only of the stored secret's fields).

use std::sync::Arc;

use acd_domain::validation::{FieldErrors, Obj, immutable};
use acd_domain::{CredentialField, Credentials, IntegrationType, Settings};
use serde_json::{Map, Value, json};
use tokio::sync::OnceCell;

use super::{AmazonConnectConnector, AmazonConnectCredentials, AmazonConnectSettings, AwsEndpoints, MAX_HISTORY_DAYS};
use crate::vendor::{
    ConnectorContext, TenantToken, Vendor, credential_field, current_settings, settings_map, typed_settings,
};
use crate::{Connector, ConnectorError};

pub const TYPE: IntegrationType = IntegrationType::new("amazon_connect");

/// See [`AmazonConnect`]'s `min_reconciliation`.
pub const MIN_RECONCILIATION_HOURS: i64 = 24;

const ROLE_ARN: CredentialField = CredentialField {
    name: "role_arn",
    secret: false,
    max_chars: 2048,
    description: Some(
        "ARN of the role created from infra/customer-role-amazon-connect.yaml with the external id of \
         POST /integrations/amazon-connect/external-id, in the Amazon Connect instance's account (a role of \
         this service's own account is refused unless its operator allows them)",
    ),
};

/// What a client sends.
const CREDENTIALS: &[CredentialField] = &[ROLE_ARN];

/// What the secret holds: the role and the tenant's external id (written by the server).
const STORED_CREDENTIALS: &[CredentialField] = &[
    ROLE_ARN,
    CredentialField {
        name: "external_id",
        secret: false,
        max_chars: 1224,
        description: Some("The external id this service generated for the tenant"),
    },
];

/// The external id: one per tenant, issued by the server (see the module docs).
pub const EXTERNAL_ID: TenantToken = TenantToken {
    field: "external_id",
    path: "amazon-connect/external-id",
    generate: AmazonConnectCredentials::new_external_id,
    names_trusted_account: true,
};

/// The process's own AWS configuration (the function's role, used to call STS), loaded once on first use.
static BASE: OnceCell<Arc<aws_config::SdkConfig>> = OnceCell::const_new();

pub async fn base_config() -> Arc<aws_config::SdkConfig> {
    BASE.get_or_init(|| async {
        // The process's one SDK HTTP client (CA roots compiled in: no system CA files read).
        let loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        Arc::new(loader.http_client(crate::http::sdk_http_client()).load().await)
    })
    .await
    .clone()
}

pub struct AmazonConnect;

/// The form fields (`GET /integration-types`), without the shared `history_days`.
pub fn form() -> Vec<Value> {
    vec![
        json!({"name": "region", "kind": "enum", "required": true, "mutable": false, "values": super::regions::REGIONS}),
        json!({"name": "instance_id", "kind": "string", "required": true, "mutable": false,
               "description": "The Amazon Connect instance id (the last part of the instance ARN)"}),
        json!({"name": "agent_event_stream_arn", "kind": "string", "required": true, "mutable": true,
               "description": "ARN of the Kinesis stream the instance's agent event stream writes to"}),
        json!({"name": "service_level_seconds", "kind": "integer", "required": false, "mutable": true,
               "default": super::DEFAULT_SERVICE_LEVEL_SECONDS, "minimum": 1, "maximum": 604_800,
               "description": "Service-level threshold: contacts answered within this many seconds"}),
    ]
}

/// Validates the settings of a create (`current` is `None`) or a PATCH.
pub fn parse(obj: &Obj<'_>, current: Option<&Settings>, errors: &mut FieldErrors) -> Option<Map<String, Value>> {
    let current: Option<AmazonConnectSettings> = current_settings(current, errors).ok()?;
    let current = current.as_ref();
    let creating = current.is_none();
    let region = obj.choice(
        "region",
        creating,
        |r| super::regions::REGIONS.iter().copied().find(|x| *x == r),
        &super::regions::REGIONS,
        errors,
    );
    let instance = obj.string("instance_id", creating, 36, errors);
    let stream = obj.string("agent_event_stream_arn", creating, 2048, errors);
    let sl = obj.integer("service_level_seconds", 1, 604_800, errors);
    immutable(
        obj,
        "region",
        region,
        current.map(|c| c.region.as_str()),
        "the region can't change: create a new integration",
        errors,
    );
    immutable(
        obj,
        "instance_id",
        instance,
        current.map(|c| c.instance_id.as_str()),
        "the instance can't change: its queues and agents are other ids; create a new integration",
        errors,
    );
    let settings = AmazonConnectSettings {
        region: current.map(|c| c.region.clone()).or(region.map(str::to_owned))?,
        instance_id: current.map(|c| c.instance_id.clone()).or(instance.map(|i| i.trim().to_owned()))?,
        agent_event_stream_arn: stream
            .map(|s| s.trim().to_owned())
            .or(current.map(|c| c.agent_event_stream_arn.clone()))?,
        service_level_seconds: sl
            .or(current.map(|c| c.service_level_seconds))
            .unwrap_or(super::DEFAULT_SERVICE_LEVEL_SECONDS),
    };
    let problems = settings.problems();
    for (field, message) in &problems {
        errors.push(obj.at(field), "invalid_value", message.clone());
    }
    problems.is_empty().then(|| settings_map(&settings))
}

impl Vendor for AmazonConnect {
    fn id(&self) -> IntegrationType {
        TYPE
    }
    fn display_name(&self) -> &'static str {
        "Amazon Connect"
    }
    fn spec_name(&self) -> &'static str {
        "AmazonConnect"
    }
    fn credential_fields(&self) -> &'static [CredentialField] {
        CREDENTIALS
    }
    fn stored_credential_fields(&self) -> &'static [CredentialField] {
        STORED_CREDENTIALS
    }
    fn tenant_token(&self) -> Option<TenantToken> {
        Some(EXTERNAL_ID)
    }
    fn settings_form(&self) -> Vec<Value> {
        form()
    }
    fn parse_settings(
        &self,
        obj: &Obj<'_>,
        current: Option<&Settings>,
        errors: &mut FieldErrors,
    ) -> Option<Map<String, Value>> {
        parse(obj, current, errors)
    }
    fn max_history_days(&self) -> u32 {
        MAX_HISTORY_DAYS
    }
    fn endpoint_variables(&self) -> &'static [&'static str] {
        &AwsEndpoints::VARIABLES
    }
    /// The agent event stream since the states pass's own checkpoint reads agent states cheaply.
    fn agent_state_cadence(&self) -> Result<(), &'static str> {
        Ok(())
    }
    /// Each run re-reads at least a day: a contact's handle time is counted when it ends (after its interval), and
    /// every agent event still in the stream (24 h by default) then falls in a day the run writes, so advancing
    /// the stream cursor never skips a segment. *Assumption:* Connect's 15-minute metrics settle within a day.
    fn min_reconciliation(&self) -> chrono::Duration {
        chrono::Duration::hours(MIN_RECONCILIATION_HOURS)
    }
    /// Statistics are `GetMetricDataV2` pages of at most 100 rows: a steady run re-reads 24 hours of them, not
    /// yesterday whole (about a third fewer pages on average).
    fn statistics_reread_by_hour(&self) -> bool {
        true
    }
    fn credential_problem(&self, field: &str, value: &str) -> Option<&'static str> {
        (field == ROLE_ARN.name).then(|| AmazonConnectCredentials::role_arn_problem(value)).flatten()
    }
    fn connector(
        &self,
        ctx: &ConnectorContext,
        settings: &Settings,
        credentials: Credentials,
    ) -> Result<Option<Box<dyn Connector>>, ConnectorError> {
        let typed: AmazonConnectSettings = typed_settings(settings)?;
        let role_arn = credential_field(&credentials, "role_arn")?.to_owned();
        let external_id = credential_field(&credentials, "external_id")?.to_owned();
        if AmazonConnectCredentials::role_arn_problem(&role_arn).is_some() {
            return Err(ConnectorError::CredentialsRejected);
        }
        if let Some(own) = &ctx.service_account
            && role_arn.split(':').nth(4) == Some(own.as_str())
        {
            return Err(ConnectorError::Configuration {
                message: format!(
                    "the role is in the AWS account this service runs in ({own}); create it in the Amazon Connect \
                     instance's account (unless the service's operator allows this account's roles)"
                ),
            });
        }
        Ok(Some(Box::new(AmazonConnectConnector::lazy(
            AwsEndpoints::from_endpoints(&ctx.endpoints),
            typed,
            AmazonConnectCredentials { role_arn, external_id },
        ))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STREAM: &str = "arn:aws:kinesis:eu-central-1:111122223333:stream/agent-events";

    fn run(body: Value, current: Option<&Settings>) -> Result<Map<String, Value>, Vec<String>> {
        let mut errors = FieldErrors::default();
        let obj = Obj::new("/settings", &body, &mut errors).expect("an object");
        let out = parse(&obj, current, &mut errors);
        if errors.is_empty() {
            Ok(out.expect("settings"))
        } else {
            Err(errors.fields().iter().map(|f| f.to_string()).collect())
        }
    }

    #[test]
    fn settings_parse_with_defaults_and_fixed_fields() {
        let created = run(
            json!({"region": "eu-central-1", "instance_id": "6a1f0c34-5b7e-4c1d-9f00-00000000c0de",
                   "agent_event_stream_arn": STREAM}),
            None,
        )
        .unwrap();
        assert_eq!(created["service_level_seconds"], 20);
        let stored = Settings::new(90, created);
        // PATCH: the instance is fixed, the stream may change.
        let err = run(json!({"instance_id": "00000000-5b7e-4c1d-9f00-00000000c0de"}), Some(&stored)).unwrap_err();
        assert_eq!(err, ["/settings/instance_id"]);
        let patched = run(json!({"service_level_seconds": 30}), Some(&stored)).unwrap();
        assert_eq!(
            (patched["service_level_seconds"].as_u64(), patched["region"].as_str()),
            (Some(30), Some("eu-central-1"))
        );
        // Bad values: region not served, stream in another region.
        let err = run(
            json!({"region": "eu-west-1", "instance_id": "6a1f0c34-5b7e-4c1d-9f00-00000000c0de",
                   "agent_event_stream_arn": STREAM}),
            None,
        )
        .unwrap_err();
        assert_eq!(err, ["/settings/region"]);
        let err = run(
            json!({"region": "us-east-1", "instance_id": "6a1f0c34-5b7e-4c1d-9f00-00000000c0de",
                   "agent_event_stream_arn": STREAM}),
            None,
        )
        .unwrap_err();
        assert_eq!(err, ["/settings/agent_event_stream_arn"]);
        // The registry builds a connector from the stored settings and credentials (a malformed role ARN is
        // refused before any call).
        let ctx = ConnectorContext {
            http: crate::HttpClient::new().unwrap(),
            endpoints: crate::Endpoints::default(),
            service_account: Some("444455556666".into()),
        };
        let creds = |arn: &str| {
            Credentials::new(TYPE).with_field("role_arn", arn).with_field("external_id", "acd-0123456789abcdef")
        };
        assert!(AmazonConnect.connector(&ctx, &stored, creds("arn:aws:iam::111122223333:role/r")).unwrap().is_some());
        assert!(matches!(
            AmazonConnect.connector(&ctx, &stored, creds("arn:aws:iam::1:user/x")),
            Err(ConnectorError::CredentialsRejected)
        ));
        // A role of the service's own account is refused unless the operator allows that account's roles.
        let own = creds("arn:aws:iam::444455556666:role/r");
        match AmazonConnect.connector(&ctx, &stored, own.clone()) {
            Err(ConnectorError::Configuration { message }) => assert!(message.contains("444455556666"), "{message}"),
            other => panic!("{:?}", other.map(|c| c.is_some())),
        }
        let allowed = ConnectorContext { service_account: None, ..ctx };
        assert!(AmazonConnect.connector(&allowed, &stored, own).unwrap().is_some());
        assert_eq!(AmazonConnect.max_history_days(), 88);
        assert_eq!(AmazonConnect.min_reconciliation(), chrono::Duration::hours(24));
        assert_eq!(AmazonConnect.id().as_str(), "amazon_connect");
    }
}
