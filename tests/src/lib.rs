//! Workspace-wide checks, and the home of the conformance suite that runs one table of
//! scenarios through every transport against the emulator.
//!
//! Today it holds the rules every crate of the workspace must keep (see
//! `tests/workspace_rules.rs`); the scenario table joins it with the transports.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::path::PathBuf;

/// The workspace's root directory.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default()
}

/// The workspace README's examples, compiled and run by `cargo test` so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
