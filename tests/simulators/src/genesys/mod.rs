//! Genesys Cloud simulator (being built, issue 3).
