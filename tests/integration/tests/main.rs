//! The end-to-end suites, one module each, in one test binary (`e2e`): compiled and linked once instead of once per
//! suite, 24 s of compile time instead of 141 s (README, "The two commands"). nextest still runs every test
//! in a process of its own, so the suites share nothing at run time. Run one suite by its module path:
//! `cargo nextest run -p acd-integration-tests -E 'test(/^faults::/)'` (or the plain filter `faults::`).

mod dynamo_faults;
mod event_support;
mod query_support;

mod amazon_connect;
mod cadence;
mod crash;
mod faults;
mod five9_settings;
mod genesys_media;
mod import;
mod ingest;
mod integrations_api;
mod mappings;
mod ops;
mod queries;
mod template;
mod vendor_schemas;
mod write_order;
mod xray;
