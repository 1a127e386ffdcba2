//! The AWS SDK half of the X-Ray subsegments (`acd_app::xray`): an interceptor that emits events of target
//! `acd_xray` inside the SDK's operation span, where the X-Ray layer adds them to the subsegment:
//!
//! - before each attempt is sent: the region (`aws.region`) and, for DynamoDB, the table the request names
//!   (`aws.table_name`, from the request body's `TableName`, the keys of a batch's `RequestItems` or the tables of
//!   a transaction's `TransactItems`);
//! - after each attempt: the HTTP status (`http.response.status`, `error` / `throttle` / `fault`) and the request
//!   id AWS answered with (`aws.request_id`), or `fault` when no answer came.
//!
//! Only names and numbers are read: never a header other than the request id, never an item or a secret. The
//! events are `debug` events of target `acd_xray` that only the X-Ray layer enables; without it (not in Lambda)
//! `tracing::enabled!` is false and the interceptor does nothing, not even read the body.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use serde::Deserialize;
use serde::de::IgnoredAny;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, Copy, Default)]
pub struct XrayStatus;

fn tracing_on() -> bool {
    tracing::enabled!(target: "acd_xray", tracing::Level::DEBUG)
}

/// The table names a DynamoDB request body names (`TableName`, a batch's `RequestItems` keys, a transaction's
/// items' `TableName`s); nothing else of the body is kept.
#[derive(Deserialize)]
struct Tables {
    #[serde(rename = "TableName")]
    table_name: Option<String>,
    #[serde(rename = "RequestItems")]
    request_items: Option<BTreeMap<String, IgnoredAny>>,
    /// `TransactWriteItems` / `TransactGetItems`: `[{"Put": {"TableName": …, …}}, …]`.
    #[serde(rename = "TransactItems")]
    transact_items: Option<Vec<BTreeMap<String, Named>>>,
}

#[derive(Deserialize)]
struct Named {
    #[serde(rename = "TableName")]
    table_name: Option<String>,
}

/// The table name(s) of a DynamoDB JSON request body, joined with commas; `None` when it names none.
pub fn table_names(body: &[u8]) -> Option<String> {
    if !body.starts_with(b"{") {
        return None;
    }
    let tables: Tables = serde_json::from_slice(body).ok()?;
    if let Some(name) = tables.table_name {
        return Some(name);
    }
    let mut names: BTreeSet<String> = tables.request_items.unwrap_or_default().into_keys().collect();
    for item in tables.transact_items.unwrap_or_default() {
        names.extend(item.into_values().filter_map(|action| action.table_name));
    }
    (!names.is_empty()).then(|| names.into_iter().collect::<Vec<_>>().join(","))
}

impl Intercept for XrayStatus {
    fn name(&self) -> &'static str {
        "XrayStatus"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if !tracing_on() {
            return Ok(());
        }
        let region = cfg.load::<aws_config::Region>().map(|r| r.as_ref().to_owned()).unwrap_or_default();
        let is_dynamodb =
            context.request().headers().get("x-amz-target").is_some_and(|target| target.starts_with("DynamoDB_"));
        let tables = if is_dynamodb { context.request().body().bytes().and_then(table_names) } else { None };
        tracing::debug!(
            target: "acd_xray",
            xray_region = region.as_str(),
            xray_table_name = tables.as_deref(),
            "AWS call sent"
        );
        Ok(())
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if !tracing_on() {
            return Ok(());
        }
        match context.response() {
            Some(response) => {
                let request_id = response
                    .headers()
                    .get("x-amzn-requestid")
                    .or_else(|| response.headers().get("x-amz-request-id"))
                    .filter(|id| id.len() <= 128 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
                tracing::debug!(
                    target: "acd_xray",
                    xray_status = u64::from(response.status().as_u16()),
                    xray_request_id = request_id,
                    "AWS call answered"
                );
            }
            None => tracing::debug!(target: "acd_xray", xray_fault = true, "AWS call got no answer"),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::table_names;

    #[test]
    fn table_names_come_from_the_body_and_nothing_else() {
        assert_eq!(table_names(br#"{"TableName":"acd","Item":{"pk":{"S":"secret"}}}"#).as_deref(), Some("acd"));
        assert_eq!(table_names(br#"{"RequestItems":{"a":[{"PutRequest":{}}],"b":[]}}"#).as_deref(), Some("a,b"));
        let transaction =
            br#"{"TransactItems":[{"Put":{"TableName":"t","Item":{}}},{"ConditionCheck":{"TableName":"t"}}]}"#;
        assert_eq!(table_names(transaction).as_deref(), Some("t"));
        assert_eq!(table_names(br#"{"SecretId":"x"}"#), None);
        assert_eq!(table_names(b"Action=Query"), None);
    }
}
