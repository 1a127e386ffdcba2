//! The AWS SDK half of the X-Ray subsegments (`acd_app::xray`): an interceptor that, after each attempt of an
//! operation, emits the HTTP status as an event of target `acd_xray` inside the SDK's operation span, where the
//! X-Ray layer adds it to the subsegment (`http.response.status`, `error` / `throttle` / `fault`). A `debug`
//! event no other layer shows; without the X-Ray layer (not in Lambda) nothing reads it.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::FinalizerInterceptorContextRef;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

#[derive(Debug, Clone, Copy, Default)]
pub struct XrayStatus;

impl Intercept for XrayStatus {
    fn name(&self) -> &'static str {
        "XrayStatus"
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        match context.response() {
            Some(response) => {
                tracing::debug!(target: "acd_xray", "xray.status" = u64::from(response.status().as_u16()), "AWS call answered");
            }
            None => tracing::debug!(target: "acd_xray", "xray.fault" = true, "AWS call got no answer"),
        }
        Ok(())
    }
}
