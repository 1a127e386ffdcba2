//! Five9 settings: their type, validation (create and PATCH) and the form fields `GET /integration-types` shows.

use acd_domain::Settings;
use acd_domain::validation::{FieldErrors, MAX_TEXT_CHARS, Obj, immutable, names};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

pub use super::regions::Five9Region;
use crate::vendor::{current_settings, settings_map};

/// How Five9 calls are grouped into queues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Five9Grouping {
    Campaign,
    Skill,
}

impl Five9Grouping {
    pub const ALL: [Five9Grouping; 2] = [Self::Campaign, Self::Skill];
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Campaign => "campaign",
            Self::Skill => "skill",
        }
    }
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.as_str() == raw)
    }
}

/// The customer's copy of the Call Log report that carries a SKILL column (needed when grouping by skill).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkillReport {
    pub folder: String,
    pub name: String,
}

/// The Five9 part of an integration's settings (stored as these keys of the settings object).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Five9Settings {
    pub region: Five9Region,
    pub grouping: Five9Grouping,
    /// IANA time zone of the Five9 domain's reports.
    pub time_zone: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skill_report: Option<SkillReport>,
}

impl Five9Settings {
    /// The report time zone. Validation guarantees the stored name parses; a corrupted record falls back to the
    /// region's default rather than failing.
    pub fn tz(&self) -> chrono_tz::Tz {
        self.time_zone.parse().unwrap_or_else(|_| self.region.default_time_zone())
    }
}

/// The form fields (`GET /integration-types`), without the shared `history_days`.
pub fn form() -> Vec<Value> {
    let region_details: Vec<Value> = Five9Region::ALL
        .iter()
        .map(|r| json!({"value": r.as_str(), "default_time_zone": r.default_time_zone().name()}))
        .collect();
    vec![
        json!({"name": "region", "kind": "enum", "required": true, "mutable": false,
               "values": names(&Five9Region::ALL, Five9Region::as_str), "value_details": region_details}),
        json!({"name": "grouping", "kind": "enum", "required": true, "mutable": false,
               "values": names(&Five9Grouping::ALL, Five9Grouping::as_str),
               "description": "Group calls into queues by campaign or by skill"}),
        json!({"name": "time_zone", "kind": "time_zone", "required": false, "mutable": true,
               "default": "per region (see region value_details)",
               "description": "IANA time zone of the Five9 domain's reports"}),
        json!({"name": "skill_report", "kind": "object", "required": false, "required_when": {"grouping": "skill"},
               "mutable": true,
               "fields": [{"name": "folder", "kind": "string", "required": true},
                          {"name": "name", "kind": "string", "required": true}],
               "description": "Folder and name of the copy of the Call Log report that has a SKILL column"}),
    ]
}

/// Validates the Five9 settings of a create (`current` is `None`) or a PATCH.
pub fn parse(obj: &Obj<'_>, current: Option<&Settings>, errors: &mut FieldErrors) -> Option<Map<String, Value>> {
    let current: Option<Five9Settings> = current_settings(current, errors).ok()?;
    let current = current.as_ref();
    let creating = current.is_none();
    let regions = names(&Five9Region::ALL, Five9Region::as_str);
    let groupings = names(&Five9Grouping::ALL, Five9Grouping::as_str);
    let region = obj.choice("region", creating, Five9Region::parse, &regions, errors);
    let grouping = obj.choice("grouping", creating, Five9Grouping::parse, &groupings, errors);
    immutable(
        obj,
        "region",
        region,
        current.map(|c| c.region),
        "the region can't change: it names another Five9 account; create a new integration",
        errors,
    );
    immutable(
        obj,
        "grouping",
        grouping,
        current.map(|c| c.grouping),
        "the grouping of an existing integration can't change; create a new integration",
        errors,
    );
    // Fixed settings keep their current value on a patch (a change was reported above).
    let region = current.map(|c| c.region).or(region);
    let grouping = current.map(|c| c.grouping).or(grouping);

    let time_zone = match obj.string("time_zone", false, MAX_TEXT_CHARS, errors) {
        Some(tz) => match tz.parse::<chrono_tz::Tz>() {
            Ok(parsed) => Some(parsed.name().to_owned()),
            Err(_) => {
                errors.push(
                    "/settings/time_zone",
                    "invalid_value",
                    "must be an IANA time zone such as America/Los_Angeles",
                );
                None
            }
        },
        None => {
            current.map(|c| c.time_zone.clone()).or_else(|| region.map(|r| r.default_time_zone().name().to_owned()))
        }
    };

    let skill_report = match obj.get("skill_report") {
        Some(v) => Obj::new("/settings/skill_report", v, errors).and_then(|sr| {
            sr.reject_unknown(&["folder", "name"], errors);
            let folder = sr.string("folder", true, MAX_TEXT_CHARS, errors);
            let name = sr.string("name", true, MAX_TEXT_CHARS, errors);
            Some(SkillReport { folder: folder?.trim().to_owned(), name: name?.trim().to_owned() })
        }),
        None => current.and_then(|c| c.skill_report.clone()),
    };
    match grouping {
        Some(Five9Grouping::Skill) if skill_report.is_none() && obj.get("skill_report").is_none() => {
            errors.push(
                "/settings/skill_report",
                "required",
                "is required when grouping is skill (the copy of the Call Log report with a SKILL column)",
            );
        }
        Some(Five9Grouping::Campaign) if obj.get("skill_report").is_some() => {
            errors.push("/settings/skill_report", "invalid_value", "is only used when grouping is skill");
        }
        _ => {}
    }
    let settings = Five9Settings { region: region?, grouping: grouping?, time_zone: time_zone?, skill_report };
    Some(settings_map(&settings))
}
