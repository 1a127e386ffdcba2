//! Genesys Cloud regions and their hosts (`../shared/acd-apis/genesys-cloud.md`). The user picks a region; the host
//! always comes from this table (or from the `GENESYS_CLOUD_*_BASE_URL` overrides of [`crate::Endpoints`]), never
//! from user input.

use serde::{Deserialize, Serialize};

/// Genesys Cloud regions (AWS region codes, as Genesys names them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum GenesysRegion {
    #[serde(rename = "us_east_1")]
    UsEast1,
    #[serde(rename = "eu_west_1")]
    EuWest1,
    #[serde(rename = "ap_southeast_2")]
    ApSoutheast2,
    #[serde(rename = "ap_northeast_1")]
    ApNortheast1,
    #[serde(rename = "eu_central_1")]
    EuCentral1,
    #[serde(rename = "us_west_2")]
    UsWest2,
    #[serde(rename = "ca_central_1")]
    CaCentral1,
    #[serde(rename = "ap_northeast_2")]
    ApNortheast2,
    #[serde(rename = "eu_west_2")]
    EuWest2,
    #[serde(rename = "ap_south_1")]
    ApSouth1,
    #[serde(rename = "us_east_2")]
    UsEast2,
    #[serde(rename = "sa_east_1")]
    SaEast1,
    #[serde(rename = "me_central_1")]
    MeCentral1,
    #[serde(rename = "ap_northeast_3")]
    ApNortheast3,
    #[serde(rename = "eu_central_2")]
    EuCentral2,
    #[serde(rename = "mx_central_1")]
    MxCentral1,
    #[serde(rename = "ap_southeast_1")]
    ApSoutheast1,
}

impl GenesysRegion {
    pub const ALL: [GenesysRegion; 17] = [
        Self::UsEast1,
        Self::EuWest1,
        Self::ApSoutheast2,
        Self::ApNortheast1,
        Self::EuCentral1,
        Self::UsWest2,
        Self::CaCentral1,
        Self::ApNortheast2,
        Self::EuWest2,
        Self::ApSouth1,
        Self::UsEast2,
        Self::SaEast1,
        Self::MeCentral1,
        Self::ApNortheast3,
        Self::EuCentral2,
        Self::MxCentral1,
        Self::ApSoutheast1,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::UsEast1 => "us_east_1",
            Self::EuWest1 => "eu_west_1",
            Self::ApSoutheast2 => "ap_southeast_2",
            Self::ApNortheast1 => "ap_northeast_1",
            Self::EuCentral1 => "eu_central_1",
            Self::UsWest2 => "us_west_2",
            Self::CaCentral1 => "ca_central_1",
            Self::ApNortheast2 => "ap_northeast_2",
            Self::EuWest2 => "eu_west_2",
            Self::ApSouth1 => "ap_south_1",
            Self::UsEast2 => "us_east_2",
            Self::SaEast1 => "sa_east_1",
            Self::MeCentral1 => "me_central_1",
            Self::ApNortheast3 => "ap_northeast_3",
            Self::EuCentral2 => "eu_central_2",
            Self::MxCentral1 => "mx_central_1",
            Self::ApSoutheast1 => "ap_southeast_1",
        }
    }
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == raw)
    }
}

/// The host of a region: the API is `https://api.{host}`, the login service `https://login.{host}`.
pub fn host(region: GenesysRegion) -> &'static str {
    match region {
        GenesysRegion::UsEast1 => "mypurecloud.com",
        GenesysRegion::EuWest1 => "mypurecloud.ie",
        GenesysRegion::ApSoutheast2 => "mypurecloud.com.au",
        GenesysRegion::ApNortheast1 => "mypurecloud.jp",
        GenesysRegion::EuCentral1 => "mypurecloud.de",
        GenesysRegion::UsWest2 => "usw2.pure.cloud",
        GenesysRegion::CaCentral1 => "cac1.pure.cloud",
        GenesysRegion::ApNortheast2 => "apne2.pure.cloud",
        GenesysRegion::EuWest2 => "euw2.pure.cloud",
        GenesysRegion::ApSouth1 => "aps1.pure.cloud",
        GenesysRegion::UsEast2 => "use2.us-gov-pure.cloud",
        GenesysRegion::SaEast1 => "sae1.pure.cloud",
        GenesysRegion::MeCentral1 => "mec1.pure.cloud",
        GenesysRegion::ApNortheast3 => "apne3.pure.cloud",
        GenesysRegion::EuCentral2 => "euc2.pure.cloud",
        GenesysRegion::MxCentral1 => "mxc1.pure.cloud",
        GenesysRegion::ApSoutheast1 => "apse1.pure.cloud",
    }
}

/// Replaces `https://api.{host}` (tests and the local run; declared by the vendor's `endpoint_variables`).
pub const API_BASE_URL: &str = "GENESYS_CLOUD_API_BASE_URL";
/// Replaces `https://login.{host}`.
pub const LOGIN_BASE_URL: &str = "GENESYS_CLOUD_LOGIN_BASE_URL";

pub fn api_base_url(region: GenesysRegion) -> String {
    format!("https://api.{}", host(region))
}

pub fn login_base_url(region: GenesysRegion) -> String {
    format!("https://login.{}", host(region))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_region_has_its_own_host() {
        assert_eq!(GenesysRegion::ALL.len(), 17);
        for r in GenesysRegion::ALL {
            assert_eq!(GenesysRegion::parse(r.as_str()), Some(r));
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
        }
        let hosts: HashSet<_> = GenesysRegion::ALL.iter().map(|r| host(*r)).collect();
        assert_eq!(hosts.len(), 17);
        assert_eq!(api_base_url(GenesysRegion::EuWest1), "https://api.mypurecloud.ie");
        assert_eq!(login_base_url(GenesysRegion::UsEast2), "https://login.use2.us-gov-pure.cloud");
        assert_eq!(api_base_url(GenesysRegion::ApSoutheast1), "https://api.apse1.pure.cloud");
    }
}
