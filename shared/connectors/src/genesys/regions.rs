//! Genesys Cloud regions and their hosts (`../shared/acd-apis/genesys-cloud.md`). The user picks a region; the host
//! always comes from this table (or from the `GENESYS_CLOUD_*_BASE_URL` overrides of [`crate::Endpoints`]), never
//! from user input.

use acd_domain::GenesysRegion;

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
        let hosts: HashSet<_> = GenesysRegion::ALL.iter().map(|r| host(*r)).collect();
        assert_eq!(hosts.len(), 17);
        assert_eq!(api_base_url(GenesysRegion::EuWest1), "https://api.mypurecloud.ie");
        assert_eq!(login_base_url(GenesysRegion::UsEast2), "https://login.use2.us-gov-pure.cloud");
        assert_eq!(api_base_url(GenesysRegion::ApSoutheast1), "https://api.apse1.pure.cloud");
    }
}
