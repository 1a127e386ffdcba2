//! Five9 data centers and their hosts. The user picks a region; the host always comes from this table (or from
//! the `FIVE9_BASE_URL` override of [`crate::Endpoints`]), never from user input.

use serde::{Deserialize, Serialize};

use super::SERVICE_PATH;
use crate::Endpoints;

/// Five9 data centers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Five9Region {
    Us,
    Ca,
    Uk,
    Eu,
    In,
}

impl Five9Region {
    pub const ALL: [Five9Region; 5] = [Self::Us, Self::Ca, Self::Uk, Self::Eu, Self::In];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Us => "us",
            Self::Ca => "ca",
            Self::Uk => "uk",
            Self::Eu => "eu",
            Self::In => "in",
        }
    }
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == raw)
    }
    /// The time zone Five9 domains of this data center usually report in; the user can override it.
    /// (US domains report in Pacific time; the others are assumptions documented in the README.)
    pub fn default_time_zone(self) -> chrono_tz::Tz {
        match self {
            Self::Us => chrono_tz::America::Los_Angeles,
            Self::Ca => chrono_tz::America::Toronto,
            Self::Uk => chrono_tz::Europe::London,
            Self::Eu => chrono_tz::Europe::Berlin,
            Self::In => chrono_tz::Asia::Kolkata,
        }
    }
}

/// `https://{host}` of a Five9 data center.
pub fn region_host(region: Five9Region) -> &'static str {
    match region {
        Five9Region::Us => "api.five9.com",
        Five9Region::Ca => "api.five9.ca",
        Five9Region::Uk => "api.five9.eu",
        Five9Region::Eu => "api.eu.five9.com",
        Five9Region::In => "api.in.five9.com",
    }
}

/// Replaces `https://{region host}` (tests and the local run; declared by the vendor's `endpoint_variables`).
pub const BASE_URL: &str = "FIVE9_BASE_URL";

/// The service URL: the region table, unless [`BASE_URL`] overrides the host.
pub fn service_url(region: Five9Region, endpoints: &Endpoints) -> String {
    let base = match endpoints.var(BASE_URL) {
        Some(base) => base.trim_end_matches('/').to_owned(),
        None => format!("https://{}", region_host(region)),
    };
    format!("{base}{SERVICE_PATH}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_region_table_round_trips() {
        for r in Five9Region::ALL {
            assert_eq!(Five9Region::parse(r.as_str()), Some(r));
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
        }
    }
}
