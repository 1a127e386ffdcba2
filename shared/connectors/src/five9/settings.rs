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
    /// The domain's report row limit, when the integration sets one (`report_row_limit`); `None`: Five9's default
    /// ([`DEFAULT_REPORT_ROW_LIMIT`]). Stored only when set, so records written before it existed read as before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_row_limit: Option<u32>,
}

/// Five9's default report row limit: a report is cut there, without a word, unless Five9 support changed the
/// domain's limit.
pub const DEFAULT_REPORT_ROW_LIMIT: u32 = 50_000;
/// Fewest rows `report_row_limit` accepts: Five9's limits are tens of thousands of rows, so a lower value is a typo
/// (50 for 50,000) that would take nearly every report as cut off — run again in halves, against a budget of 120
/// `runReport` an hour — and fail a quarter hour holding more rows (a few hundred agents' states).
pub const MIN_REPORT_ROW_LIMIT: u32 = 1_000;
/// Most rows `report_row_limit` accepts: a report's body is held whole while it is read, and one of a million rows
/// is some 150-500 MB of CSV, about what the import's default memory (512 MB) can take. A domain whose limit is
/// higher sets this: a value below the domain's limit costs more reports (and fails a quarter hour holding more
/// rows than it), one above it takes reports cut at the limit as complete.
pub const MAX_REPORT_ROW_LIMIT: u32 = 1_000_000;

impl Five9Settings {
    /// The report time zone. Validation guarantees the stored name parses; a corrupted record falls back to the
    /// region's default rather than failing.
    pub fn tz(&self) -> chrono_tz::Tz {
        self.time_zone.parse().unwrap_or_else(|_| self.region.default_time_zone())
    }

    /// The report row limit the connector reckons with: the setting, else Five9's default.
    pub fn report_row_limit(&self) -> usize {
        self.report_row_limit.unwrap_or(DEFAULT_REPORT_ROW_LIMIT) as usize
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
        json!({"name": "report_row_limit", "kind": "integer", "required": false, "mutable": true,
               "default": DEFAULT_REPORT_ROW_LIMIT, "minimum": MIN_REPORT_ROW_LIMIT, "maximum": MAX_REPORT_ROW_LIMIT,
               "description": "The Five9 domain's report row limit: Five9 cuts a report there without a word, and a \
                   report that returns this many rows is taken as cut off and run again in halves. Leave the \
                   default (Five9's) unless Five9 support changed the domain's limit; then set it to that limit, \
                   never above it (a report cut at a lower limit would be taken as complete, and the hours after the \
                   cut imported as no calls)"}),
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
    // Absent: the current value (a PATCH), else none (Five9's default, not stored).
    let report_row_limit = obj
        .integer("report_row_limit", MIN_REPORT_ROW_LIMIT, MAX_REPORT_ROW_LIMIT, errors)
        .or_else(|| current.and_then(|c| c.report_row_limit));
    let settings =
        Five9Settings { region: region?, grouping: grouping?, time_zone: time_zone?, skill_report, report_row_limit };
    Some(settings_map(&settings))
}

#[cfg(test)]
mod tests {
    use acd_domain::IntegrationType;
    use secrecy::SecretString;

    use super::*;
    use crate::registry::{parse_new_integration, parse_patch};
    use crate::vendor::typed_settings;
    use crate::{Endpoints, HttpClient};

    fn body(settings: Value) -> Value {
        let mut body = json!({"name": "Five9", "type": "five9",
                              "credentials": {"username": "api@acme", "password": "pw"},
                              "settings": {"region": "us", "grouping": "campaign"}});
        body["settings"].as_object_mut().unwrap().extend(settings.as_object().unwrap().clone());
        body
    }

    fn five9(settings: &Settings) -> Five9Settings {
        typed_settings(settings).unwrap()
    }

    /// The row limit of the connector built for these settings.
    fn row_limit(settings: Five9Settings) -> usize {
        let c = super::super::Five9Connector::new(
            HttpClient::new().unwrap(),
            &Endpoints::default(),
            settings,
            "api@acme".into(),
            SecretString::from("pw".to_owned()),
        );
        c.options().row_limit
    }

    #[test]
    fn the_report_row_limit_is_stored_when_set_and_is_the_connector_s_row_limit() {
        let set = parse_new_integration(&body(json!({"report_row_limit": 25_000}))).unwrap().settings;
        assert_eq!(set.vendor.get("report_row_limit"), Some(&json!(25_000)));
        assert_eq!(row_limit(five9(&set)), 25_000);
        // Left out: not stored (the record is as before the setting existed), Five9's default for the connector.
        let unset = parse_new_integration(&body(json!({}))).unwrap().settings;
        assert!(!unset.vendor.contains_key("report_row_limit"), "{:?}", unset.vendor);
        assert_eq!(row_limit(five9(&unset)), 50_000);
        // A record stored before the setting existed reads so too.
        let stored: Settings =
            serde_json::from_value(json!({"region": "eu", "grouping": "skill", "time_zone": "Europe/Berlin",
                "skill_report": {"folder": "F", "name": "N"}, "history_days": 30}))
            .unwrap();
        assert_eq!((five9(&stored).report_row_limit, row_limit(five9(&stored))), (None, 50_000));
        // The bounds are allowed, a whole number written with a fraction too.
        for (sent, kept) in [(json!(1_000), 1_000), (json!(1_000_000), 1_000_000), (json!(30000.0), 30_000)] {
            let parsed = parse_new_integration(&body(json!({"report_row_limit": sent}))).unwrap().settings;
            assert_eq!(five9(&parsed).report_row_limit, Some(kept), "{sent}");
        }
    }

    #[test]
    fn a_report_row_limit_out_of_range_or_not_a_whole_number_is_refused_naming_it() {
        for bad in [json!(999), json!(0), json!(-50_000), json!(1_000_001), json!(25_000.5), json!("25000")] {
            let errors = parse_new_integration(&body(json!({"report_row_limit": bad}))).unwrap_err();
            assert_eq!(errors.fields(), vec!["/settings/report_row_limit"], "{bad}");
        }
        let errors = parse_new_integration(&body(json!({"report_row_limit": 10}))).unwrap_err();
        assert_eq!(errors.0[0].message, "must be a whole number from 1000 to 1000000");
    }

    #[test]
    fn a_patch_sets_changes_or_keeps_the_report_row_limit() {
        let kind = IntegrationType::new("five9");
        let current = parse_new_integration(&body(json!({}))).unwrap().settings;
        let patch = |settings: Value, current: &Settings| parse_patch(&json!({"settings": settings}), &kind, current);
        let set = patch(json!({"report_row_limit": 25_000}), &current).unwrap().settings.unwrap();
        assert_eq!(five9(&set).report_row_limit, Some(25_000));
        // Another setting changed: the limit stays.
        let kept = patch(json!({"history_days": 10}), &set).unwrap().settings.unwrap();
        assert_eq!((kept.history_days, five9(&kept).report_row_limit), (10, Some(25_000)));
        let changed = patch(json!({"report_row_limit": 50_000}), &kept).unwrap().settings.unwrap();
        assert_eq!(five9(&changed).report_row_limit, Some(50_000));
        let errors = patch(json!({"report_row_limit": 2_000_000}), &kept).unwrap_err();
        assert_eq!(errors.fields(), vec!["/settings/report_row_limit"]);
    }

    #[test]
    fn the_form_offers_the_report_row_limit_with_its_default_and_bounds() {
        let form = form();
        let field = form.iter().find(|f| f["name"] == "report_row_limit").expect("in the form");
        assert_eq!(
            (&field["kind"], &field["required"], &field["mutable"]),
            (&json!("integer"), &json!(false), &json!(true))
        );
        assert_eq!(
            (&field["default"], &field["minimum"], &field["maximum"]),
            (&json!(50_000), &json!(1_000), &json!(1_000_000))
        );
        let description = field["description"].as_str().unwrap();
        assert!(description.contains("Five9 support changed the domain's limit"), "{description}");
    }
}
