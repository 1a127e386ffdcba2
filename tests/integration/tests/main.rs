//! The end-to-end suites, one module each, in one test binary (`e2e`): one link instead of one per suite saves
//! the 2-core CI's build about 2 minutes of compile time (README, "The two commands"). nextest still runs every test
//! in a process of its own, so the suites share nothing at run time. Run one suite by its module path:
//! `cargo nextest run -p acd-integration-tests -E 'test(/^faults::/)'` (or the plain filter `faults::`).

mod event_support;
mod query_support;

mod amazon_connect;
mod cadence;
mod crash;
mod faults;
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
