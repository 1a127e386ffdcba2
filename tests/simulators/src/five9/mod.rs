//! Five9 simulator (being built, issue 3).
