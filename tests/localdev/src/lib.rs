//! Local-only pieces of `scripts/run-local`; nothing here is deployed.
//!
//! - [`gateway`]: the API on one port (default 9000): each request becomes an HTTP API event for the function that
//!   serves it, invoked under `cargo lambda watch`;
//! - [`events`]: plays EventBridge for the functions' status events, each one a line of the gateway's log;
//! - [`player`]: plays EventBridge Scheduler (moto stores schedules but never fires them);
//! - [`setup`]: the table and schedule group the template would create;
//! - [`demo`]: the demo integration the command creates and prints;
//! - [`client`]: the small HTTP client the demo and the end-to-end test share;
//! - [`stack`]: `scripts/run-local` on free ports, for the tests that drive the local stack.

pub mod client;
pub mod demo;
pub mod events;
pub mod gateway;
pub mod player;
pub mod setup;
pub mod stack;
