//! Five9 in the vendor registry.

use acd_domain::validation::{FieldErrors, MAX_SECRET_CHARS, MAX_TEXT_CHARS, Obj};
use acd_domain::{CredentialField, Credentials, IntegrationType, Settings};
use serde_json::{Map, Value};

use super::Five9Connector;
use super::settings::{self, Five9Settings};
use crate::vendor::{ConnectorContext, Vendor, credential_field, credential_secret, typed_settings};
use crate::{Connector, ConnectorError};

pub const TYPE: IntegrationType = IntegrationType::new("five9");

const CREDENTIALS: &[CredentialField] = &[
    CredentialField {
        name: "username",
        secret: false,
        max_chars: MAX_TEXT_CHARS,
        description: Some("User name of a Five9 user with the ADMIN and REPORTING roles"),
    },
    CredentialField { name: "password", secret: true, max_chars: MAX_SECRET_CHARS, description: None },
];

pub struct Five9;

/// Why Five9 has no agent-states pass: each pass would run an Agent State Details report (one `runReport`), and
/// Five9's default limits are 120 `runReport` an hour and 800 a day per domain, shared with every other API user
/// of the domain. The 15-minute import already runs 2–3 reports a run (≈ 200 a day); at 1 minute a states pass
/// alone would need 60 an hour and 1,440 a day (180% of the daily limit), at 5 minutes 288 a day (≈ 60% with the
/// import).
pub const AGENT_STATE_CADENCE_REFUSED: &str = "agent states come from Five9 reports only, and a pass every minute \
    would need 1,440 runReport calls a day against Five9's default limit of 800 a day per domain (shared with \
    every other API user of the domain); Five9 agent states arrive with the 15-minute import";

/// How long after a UTC day's end Five9's Agent State Details rows of that day are taken as final. A row is the
/// start of a state with its duration so far, so a report run after midnight already holds the whole of a day's
/// states (the one still running at midnight is cut there); the margin is for the reporting database catching up,
/// for which Five9 publishes no figure (an assumption). Until then a caught-up run re-reads yesterday's states
/// too; after it, only today's: its agent-state reports cover 15–36 hours instead of 36–60 (the Call Log still
/// re-reads both days, calls can change for longer).
pub const AGENT_STATES_FINAL_AFTER: chrono::Duration = chrono::Duration::hours(3);

impl Vendor for Five9 {
    fn id(&self) -> IntegrationType {
        TYPE
    }
    fn display_name(&self) -> &'static str {
        "Five9"
    }
    fn spec_name(&self) -> &'static str {
        "Five9"
    }
    fn credential_fields(&self) -> &'static [CredentialField] {
        CREDENTIALS
    }
    fn settings_form(&self) -> Vec<Value> {
        settings::form()
    }
    fn endpoint_variables(&self) -> &'static [&'static str] {
        &[super::regions::BASE_URL]
    }
    fn parse_settings(
        &self,
        obj: &Obj<'_>,
        current: Option<&Settings>,
        errors: &mut FieldErrors,
    ) -> Option<Map<String, Value>> {
        settings::parse(obj, current, errors)
    }
    /// Refused: Five9 has agent states only in reports, and reports are the scarce part of its API budget (see
    /// [`AGENT_STATE_CADENCE_REFUSED`]).
    fn agent_state_cadence(&self) -> Result<(), &'static str> {
        Err(AGENT_STATE_CADENCE_REFUSED)
    }
    /// [`AGENT_STATES_FINAL_AFTER`]: a caught-up run reads today's agent states only, not yesterday's again (from
    /// midnight once the states running into it are carried, see [`super::carry`]; until then from 12 hours before
    /// it, to find them).
    fn agent_states_final_after(&self) -> Option<chrono::Duration> {
        Some(AGENT_STATES_FINAL_AFTER)
    }
    fn connector(
        &self,
        ctx: &ConnectorContext,
        settings: &Settings,
        credentials: Credentials,
    ) -> Result<Option<Box<dyn Connector>>, ConnectorError> {
        let typed: Five9Settings = typed_settings(settings)?;
        let username = credential_field(&credentials, "username")?.to_owned();
        let password = credential_secret(&credentials, "password")?;
        Ok(Some(Box::new(Five9Connector::new(ctx.http.clone(), &ctx.endpoints, typed, username, password))))
    }
}
