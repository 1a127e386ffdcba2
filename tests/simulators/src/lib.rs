//! Local simulators of the vendors' APIs. Each speaks its vendor's real wire format (see `../shared/acd-apis/`),
//! generates deterministic data from a seed and a size, reports the exact expected aggregates ("truth") so tests can
//! compare imported numbers, and can inject faults per test. Started in-process by tests on a free port, or as the
//! binaries `five9-sim` / `genesys-sim` for the local run.

pub mod amazon_connect;
pub mod five9;
pub mod genesys;
