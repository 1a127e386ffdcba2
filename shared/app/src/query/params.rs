//! Query-parameter parsing of the query routes. Every error is a 400 whose field is the parameter's name.

use acd_domain::validation::MAX_EMPLOYEE_ID_BYTES;
use acd_domain::{Channel, FieldErrors, INTERVAL_MINUTES, IntegrationId};
use chrono::{DateTime, Datelike, Duration, Timelike as _, Utc};

use crate::error::ApiError;

/// Longest `[from, to)` range of `/queues/{id}/intervals` and `/agent-states`.
pub const MAX_RANGE_DAYS: i64 = 31;
/// Longest `q` filter.
pub const MAX_QUERY_CHARS: usize = 255;

fn invalid(parameter: &str, message: impl Into<String>) -> ApiError {
    FieldErrors::single(parameter, "invalid_value", message).into()
}

/// A UTC instant in RFC 3339 / ISO 8601 form with an offset (`2024-03-01T10:00:00Z`, `…+01:00`). A `+` that
/// arrived as a space (form-encoding of an unescaped `+`) is read as `+`. In UTC it must lie in RFC 3339's years
/// (0000–9999): an offset can carry a time at either end beyond them (`9999-12-31T20:00:00-05:00`), whose stored
/// keys would not sort with the others (a Query with its bounds reversed: a 5xx, not a 400).
pub fn parse_instant(raw: &str, parameter: &str) -> Result<DateTime<Utc>, ApiError> {
    instant(raw).map_err(|message| invalid(parameter, message))
}

/// [`parse_instant`], its error the message.
fn instant(raw: &str) -> Result<DateTime<Utc>, &'static str> {
    let candidates = [raw.trim().to_owned(), raw.trim().replace(' ', "+")];
    for candidate in &candidates {
        if let Ok(t) = DateTime::parse_from_rfc3339(candidate) {
            if t.nanosecond() >= 1_000_000_000 {
                return Err("seconds must be 00 to 59 (no leap second)");
            }
            let t = t.with_timezone(&Utc);
            if !(0..=9999).contains(&t.year()) {
                return Err("must lie within the years 0000 to 9999 in UTC");
            }
            return Ok(t);
        }
    }
    Err("must be a date-time with an offset, e.g. 2024-03-01T10:00:00Z (RFC 3339)")
}

/// Whether `t` is a quarter hour (`:00`, `:15`, `:30`, `:45`, no seconds).
pub fn is_interval_start(t: DateTime<Utc>) -> bool {
    t.timestamp().rem_euclid(INTERVAL_MINUTES * 60) == 0 && t.timestamp_subsec_nanos() == 0
}

/// A `[from, to)` range: both required, `from < to`, at most [`MAX_RANGE_DAYS`]; with `aligned`, both on quarter
/// hours. Every problem is reported at once.
pub fn parse_range(
    from: Option<&str>,
    to: Option<&str>,
    aligned: bool,
) -> Result<(DateTime<Utc>, DateTime<Utc>), ApiError> {
    let mut errors = FieldErrors::default();
    let mut parse = |raw: Option<&str>, name: &str| -> Option<DateTime<Utc>> {
        let Some(raw) = raw.filter(|r| !r.trim().is_empty()) else {
            errors.push(name, "required", "is required");
            return None;
        };
        match instant(raw) {
            Ok(t) if aligned && !is_interval_start(t) => {
                errors.push(name, "invalid_value", "must be a UTC quarter hour (minutes 00, 15, 30 or 45, no seconds)");
                None
            }
            Ok(t) => Some(t),
            Err(message) => {
                errors.push(name, "invalid_value", message);
                None
            }
        }
    };
    let from = parse(from, "from");
    let to = parse(to, "to");
    if let (Some(from), Some(to)) = (from, to) {
        if to <= from {
            errors.push("to", "invalid_value", "must be after from");
        } else if to - from > Duration::days(MAX_RANGE_DAYS) {
            errors.push("to", "invalid_value", format!("must be at most {MAX_RANGE_DAYS} days after from"));
        }
    }
    match (from, to) {
        (Some(from), Some(to)) if errors.is_empty() => Ok((from, to)),
        _ => Err(errors.into()),
    }
}

/// `true` / `false` (absent: `default`).
pub fn parse_bool(raw: Option<&str>, parameter: &str, default: bool) -> Result<bool, ApiError> {
    match raw {
        None => Ok(default),
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(_) => Err(invalid(parameter, "must be true or false")),
    }
}

/// One of the known channels.
pub fn parse_channel(raw: Option<&str>) -> Result<Option<Channel>, ApiError> {
    match raw {
        None => Ok(None),
        Some(raw) => Channel::parse(raw).map(Some).ok_or_else(|| {
            let names: Vec<&str> = Channel::ALL.iter().map(|c| c.as_str()).collect();
            invalid("channel", format!("must be one of: {}", names.join(", ")))
        }),
    }
}

/// An integration id (a UUID).
pub fn parse_integration_id(raw: Option<&str>, parameter: &str) -> Result<Option<IntegrationId>, ApiError> {
    match raw {
        None => Ok(None),
        Some(raw) => raw.trim().parse().map(Some).map_err(|_| invalid(parameter, "must be an integration id (UUID)")),
    }
}

/// The `q` filter, lower-cased for case-insensitive matching; blank means no filter.
pub fn parse_text(raw: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(raw) = raw else { return Ok(None) };
    if raw.chars().count() > MAX_QUERY_CHARS {
        return Err(
            FieldErrors::single("q", "too_long", format!("must be at most {MAX_QUERY_CHARS} characters")).into()
        );
    }
    let needle = raw.trim().to_lowercase();
    Ok(if needle.is_empty() { None } else { Some(needle) })
}

/// A non-empty employee id parameter (`employee_id`): at most 255 characters and
/// [`MAX_EMPLOYEE_ID_BYTES`] bytes of UTF-8 (a longer one can never be mapped: it would not fit the index key).
pub fn parse_identifier(raw: Option<&str>, parameter: &str) -> Result<Option<String>, ApiError> {
    match raw {
        None => Ok(None),
        Some("") => Err(invalid(parameter, "must not be empty")),
        Some(raw) if raw.chars().count() > 255 => {
            Err(FieldErrors::single(parameter, "too_long", "must be at most 255 characters").into())
        }
        Some(raw) if raw.len() > MAX_EMPLOYEE_ID_BYTES => Err(FieldErrors::single(
            parameter,
            "too_long",
            format!("must be at most {MAX_EMPLOYEE_ID_BYTES} bytes in UTF-8"),
        )
        .into()),
        Some(raw) => Ok(Some(raw.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(e: ApiError) -> Vec<String> {
        match e {
            ApiError::Validation(errors) => errors.0.into_iter().map(|e| e.field).collect(),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn instants_accept_offsets_and_a_plus_turned_space() {
        let t = parse_instant("2024-03-01T11:00:00+01:00", "from").unwrap();
        assert_eq!(t.to_rfc3339(), "2024-03-01T10:00:00+00:00");
        assert_eq!(parse_instant("2024-03-01T11:00:00 01:00", "from").unwrap(), t);
        assert!(parse_instant("2024-03-01", "from").is_err());
        assert!(parse_instant("yesterday", "from").is_err());
        // RFC 3339 dates whose UTC instant leaves the years 0000–9999 (their keys would not sort with the rest).
        for raw in ["9999-12-31T20:00:00-05:00", "0000-01-01T00:30:00+01:00"] {
            assert_eq!(fields(parse_instant(raw, "to").unwrap_err()), ["to"], "{raw}");
        }
        assert!(parse_instant("9999-12-31T18:00:00-05:00", "to").is_ok());
        // A leap second (chrono reads `:60` as one): refused as the spec's pattern does.
        assert_eq!(fields(parse_instant("2024-03-01T23:59:60Z", "from").unwrap_err()), ["from"]);
        // The ranges of `/agent-states` and `/queues/{id}/intervals` too (a 503 before: DynamoDB refused the Query).
        let range = parse_range(Some("9999-12-31T00:00:00Z"), Some("9999-12-31T20:00:00-05:00"), false);
        assert_eq!(fields(range.unwrap_err()), ["to"]);
    }

    #[test]
    fn ranges_are_checked_field_by_field() {
        let ok = parse_range(Some("2024-03-01T00:00:00Z"), Some("2024-03-01T00:15:00Z"), true).unwrap();
        assert_eq!(ok.1 - ok.0, Duration::minutes(15));
        assert_eq!(fields(parse_range(None, None, true).unwrap_err()), ["from", "to"]);
        assert_eq!(fields(parse_range(Some("x"), Some("2024-03-01T00:00:00Z"), true).unwrap_err()), ["from"]);
        assert_eq!(
            fields(parse_range(Some("2024-03-01T00:07:00Z"), Some("2024-03-01T00:15:00Z"), true).unwrap_err()),
            ["from"]
        );
        assert!(parse_range(Some("2024-03-01T00:07:00Z"), Some("2024-03-01T00:15:00Z"), false).is_ok());
        assert_eq!(
            fields(parse_range(Some("2024-03-01T01:00:00Z"), Some("2024-03-01T00:00:00Z"), true).unwrap_err()),
            ["to"]
        );
        assert_eq!(
            fields(parse_range(Some("2024-03-01T00:00:00Z"), Some("2024-03-01T00:00:00Z"), true).unwrap_err()),
            ["to"]
        );
        assert!(parse_range(Some("2024-03-01T00:00:00Z"), Some("2024-04-01T00:00:00Z"), true).is_ok()); // 31 days
        assert_eq!(
            fields(parse_range(Some("2024-03-01T00:00:00Z"), Some("2024-04-01T00:15:00Z"), true).unwrap_err()),
            ["to"]
        );
    }

    #[test]
    fn small_parameters() {
        assert_eq!(parse_channel(Some("social_media")).unwrap(), Some(Channel::SocialMedia));
        assert_eq!(fields(parse_channel(Some("fax")).unwrap_err()), ["channel"]);
        assert!(parse_bool(None, "unmapped", false).is_ok_and(|b| !b));
        assert_eq!(fields(parse_bool(Some("yes"), "unmapped", false).unwrap_err()), ["unmapped"]);
        assert_eq!(parse_text(Some("  SaLes ")).unwrap().as_deref(), Some("sales"));
        assert_eq!(parse_text(Some("   ")).unwrap(), None);
        assert_eq!(fields(parse_text(Some(&"x".repeat(256))).unwrap_err()), ["q"]);
        assert_eq!(fields(parse_integration_id(Some("nope"), "integration_id").unwrap_err()), ["integration_id"]);
        assert_eq!(fields(parse_identifier(Some(""), "employee_id").unwrap_err()), ["employee_id"]);
        assert_eq!(
            fields(parse_identifier(Some(&"\u{1F600}".repeat(255)), "employee_id").unwrap_err()),
            ["employee_id"]
        );
        assert!(parse_identifier(Some(&"\u{1F600}".repeat(246)), "employee_id").is_ok());
    }
}
