//! The push type in the vendor registry.

use acd_domain::validation::{FieldErrors, MAX_TEXT_CHARS, Obj};
use acd_domain::{Channel, CredentialField, Credentials, IntegrationType, Settings};
use serde_json::{Map, Value, json};

use crate::vendor::{ConnectorContext, Vendor};
use crate::{Connector, ConnectorError};

pub const TYPE: IntegrationType = IntegrationType::new("push");

/// Default silence (minutes) after which a push integration reads `failing` with reason `no_data`.
pub const DEFAULT_NO_DATA_MINUTES: u32 = 60;
pub const MIN_NO_DATA_MINUTES: u32 = 5;
pub const MAX_NO_DATA_MINUTES: u32 = 10_080;

/// The silence setting of a push integration's settings (the default when absent or unreadable).
pub fn no_data_after_minutes(settings: &Settings) -> u32 {
    settings
        .vendor
        .get("no_data_after_minutes")
        .and_then(Value::as_u64)
        .and_then(|n| u32::try_from(n).ok())
        .unwrap_or(DEFAULT_NO_DATA_MINUTES)
}

/// The sender's time zone when none is set: local times without an offset are read as UTC.
pub const DEFAULT_TIME_ZONE: &str = "UTC";

/// The IANA zone in which a push integration places pushed local times without an offset (UTC when absent or
/// unreadable; validation keeps the stored name parseable).
pub fn time_zone(settings: &Settings) -> chrono_tz::Tz {
    settings.vendor.get("time_zone").and_then(Value::as_str).and_then(|z| z.parse().ok()).unwrap_or(chrono_tz::UTC)
}

/// The channels a push integration accepts records for (every channel when absent: records written before the
/// setting existed).
pub fn channels(settings: &Settings) -> Vec<Channel> {
    match settings.vendor.get("channels").and_then(Value::as_array) {
        Some(list) => {
            let named: Vec<Channel> = list.iter().filter_map(Value::as_str).filter_map(Channel::parse).collect();
            if named.is_empty() { Channel::ALL.to_vec() } else { named }
        }
        None => Channel::ALL.to_vec(),
    }
}

fn channel_names(list: &[Channel]) -> Vec<Value> {
    list.iter().map(|c| json!(c.as_str())).collect()
}

/// `channels`: a non-empty array of distinct channel names, kept in the order of [`Channel::ALL`].
fn parse_channels(obj: &Obj<'_>, errors: &mut FieldErrors) -> Option<Vec<Channel>> {
    let raw = obj.get("channels")?;
    let all: Vec<&str> = Channel::ALL.iter().map(|c| c.as_str()).collect();
    let Some(list) = raw.as_array() else {
        errors.push(obj.at("channels"), "invalid_type", "must be an array of channel names");
        return None;
    };
    if list.is_empty() {
        errors.push(obj.at("channels"), "invalid_value", "must name at least one channel");
        return None;
    }
    let mut seen = Vec::new();
    for (i, value) in list.iter().enumerate() {
        match value.as_str().and_then(Channel::parse) {
            Some(c) if seen.contains(&c) => {
                errors.push(format!("{}/{i}", obj.at("channels")), "invalid_value", "is listed twice");
            }
            Some(c) => seen.push(c),
            None => errors.push(
                format!("{}/{i}", obj.at("channels")),
                "invalid_value",
                format!("must be one of: {}", all.join(", ")),
            ),
        }
    }
    Some(Channel::ALL.into_iter().filter(|c| seen.contains(c)).collect())
}

pub struct Push;

impl Vendor for Push {
    fn id(&self) -> IntegrationType {
        TYPE
    }
    fn display_name(&self) -> &'static str {
        "Any ACD (push API)"
    }
    fn spec_name(&self) -> &'static str {
        "Push"
    }
    fn credential_fields(&self) -> &'static [CredentialField] {
        &[]
    }
    fn settings_form(&self) -> Vec<Value> {
        vec![
            json!({"name": "no_data_after_minutes", "kind": "integer", "required": false, "mutable": true,
            "default": DEFAULT_NO_DATA_MINUTES, "minimum": MIN_NO_DATA_MINUTES, "maximum": MAX_NO_DATA_MINUTES,
            "description": "After this many minutes without a push the integration is failing (no_data)"}),
            json!({"name": "time_zone", "kind": "time_zone", "required": false, "mutable": true,
            "default": DEFAULT_TIME_ZONE,
            "description": "IANA time zone of the sender's local times: a pushed time without an offset is placed in \
                it (prefer UTC instants; a time with an offset or Z is always taken as is)"}),
            json!({"name": "channels", "kind": "array", "required": false, "mutable": true,
            "values": Channel::ALL.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
            "default": "every channel",
            "description": "The channels the sender pushes: a queue or interval of another channel is refused"}),
        ]
    }
    fn parse_settings(
        &self,
        obj: &Obj<'_>,
        current: Option<&Settings>,
        errors: &mut FieldErrors,
    ) -> Option<Map<String, Value>> {
        let minutes = obj
            .integer("no_data_after_minutes", MIN_NO_DATA_MINUTES, MAX_NO_DATA_MINUTES, errors)
            .or_else(|| current.map(no_data_after_minutes))
            .unwrap_or(DEFAULT_NO_DATA_MINUTES);
        let time_zone = match obj.string("time_zone", false, MAX_TEXT_CHARS, errors) {
            Some(raw) => match raw.parse::<chrono_tz::Tz>() {
                Ok(tz) => Some(tz),
                Err(_) => {
                    errors.push(
                        obj.at("time_zone"),
                        "invalid_value",
                        "must be an IANA time zone such as Europe/Berlin",
                    );
                    None
                }
            },
            None => None,
        }
        .or_else(|| current.map(time_zone))
        .unwrap_or(chrono_tz::UTC);
        let channels = parse_channels(obj, errors).or_else(|| current.map(channels)).unwrap_or(Channel::ALL.to_vec());
        let mut map = Map::new();
        map.insert("no_data_after_minutes".into(), json!(minutes));
        map.insert("time_zone".into(), json!(time_zone.name()));
        map.insert("channels".into(), Value::Array(channel_names(&channels)));
        Some(map)
    }
    /// Records created before `time_zone` and `channels` existed show their defaults (UTC, every channel).
    fn shown_settings(&self, settings: &Settings) -> Settings {
        let mut shown = settings.clone();
        shown.vendor.entry("time_zone").or_insert_with(|| json!(DEFAULT_TIME_ZONE));
        shown.vendor.entry("channels").or_insert_with(|| Value::Array(channel_names(&Channel::ALL)));
        shown
    }
    fn pulls(&self) -> bool {
        false
    }
    fn agent_state_cadence(&self) -> Result<(), &'static str> {
        Err("pushed agent events are visible as soon as they are pushed: there is nothing to import more often")
    }
    fn connector(
        &self,
        _ctx: &ConnectorContext,
        _settings: &Settings,
        _credentials: Credentials,
    ) -> Result<Option<Box<dyn Connector>>, ConnectorError> {
        Ok(None)
    }
}
