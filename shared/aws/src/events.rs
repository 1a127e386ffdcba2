//! Status-change events on an EventBridge bus (`EVENT_BUS_NAME`, default the account's `default` bus).
//!
//! Each event: `source` [`SOURCE`], `detail-type` the event's type (`integration.failing`,
//! `integration.recovered`, `integration.deleted`), `detail` the [`StatusEvent`] as JSON (type, tenant_id,
//! integration_id, integration_type, reason, message, at). A rule matching `source` and `detail.tenant_id`
//! routes one tenant's events to its consumer.

use acd_app::ports::{EventPublisher, StatusEvent, StoreError};
use async_trait::async_trait;
use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;

use crate::{LazyClient, sdk_error};

pub const SOURCE: &str = "acd-integrations";

#[derive(Clone, Debug)]
pub struct EventBridgePublisher {
    /// Built when the first event is published (most containers publish none).
    pub client: LazyClient<Client>,
    pub bus: String,
}

#[async_trait]
impl EventPublisher for EventBridgePublisher {
    async fn publish(&self, event: &StatusEvent) -> Result<(), StoreError> {
        let detail = serde_json::to_string(event).map_err(|e| StoreError::Backend(format!("event: {e}")))?;
        let entry = PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus)
            .source(SOURCE)
            .detail_type(event.kind.as_str())
            .detail(detail)
            .resources(format!("acd-integration:{}/{}", event.tenant_id, event.integration_id))
            .build();
        let out = self.client.put_events().entries(entry).send().await.map_err(|e| sdk_error("PutEvents", e))?;
        if out.failed_entry_count() > 0 {
            let why = out
                .entries()
                .iter()
                .filter_map(|e| e.error_code().map(|c| format!("{c}: {}", e.error_message().unwrap_or_default())))
                .collect::<Vec<_>>()
                .join("; ");
            return Err(StoreError::Backend(format!("PutEvents: entry failed: {why}")));
        }
        Ok(())
    }
}
