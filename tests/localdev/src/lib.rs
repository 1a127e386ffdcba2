//! Local-only pieces of `scripts/run-local`; nothing here is deployed.
