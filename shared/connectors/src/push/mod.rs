//! `push` ("Any ACD (push API)"): a type without a connector. Its sender pushes queues, intervals and agent
//! events to the ingest API (`acd_app::ingest`); the import skips it; creation verifies nothing and stores no
//! secret. Only its settings live here.

pub mod vendor;
