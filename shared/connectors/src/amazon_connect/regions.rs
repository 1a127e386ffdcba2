//! The AWS regions Amazon Connect runs in (commercial partition; from the endpoint table shipped with botocore,
//! `endpoints.json` → `connect`, without the FIPS aliases; GovCloud is another partition and not offered).
pub const REGIONS: [&str; 10] = [
    "us-east-1",
    "us-west-2",
    "af-south-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ca-central-1",
    "eu-central-1",
    "eu-west-2",
];
