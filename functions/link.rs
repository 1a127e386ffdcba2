//! Build script of every function binary (and of the cold-start benchmark's hello-world, so the comparison stays
//! like for like): links the executable as non-position-independent (`-no-pie`) on Linux.
//!
//! Why: a position-independent executable is relocated by the dynamic loader before `main`. The functions'
//! binaries carry about 66,000 relative relocations (every vtable, every static pointer table of the AWS SDK),
//! so the loader writes 1.5 MB of `.data.rel.ro` — ~400 pages faulted in and copied — on every cold start. Linked
//! at a fixed address, those pages are mapped from the file and only read when used. The Rust objects stay
//! position-independent (rustc's default); only the final link changes. Shared libraries and the stack and heap
//! are still placed at random addresses; the executable's own image is not (the usual trade-off of a non-PIE
//! binary, and what Go binaries on Lambda do by default).
fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os != "linux" {
        return;
    }
    // Cargo refuses `rustc-link-arg-bins` / `-examples` in a package without such targets.
    let package = std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    if package.join("src/main.rs").exists() || package.join("src/bin").is_dir() {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
    if package.join("examples").is_dir() {
        println!("cargo:rustc-link-arg-examples=-no-pie");
    }
}
