//! Workspace-wide checks, and the conformance suite: one table of scenarios run through
//! every transport against `kms-mock` over real sockets, requiring the same outcome from
//! each (`tests/conformance.rs`).
//!
//! This library holds what the suite needs besides the table: the list of transports
//! behind one blocking call signature, a loopback `CONNECT` proxy, endpoints that cannot
//! be reached (a black hole, a TLS handshake that never completes), and a capture of
//! `tracing` output.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod cases;
pub mod client;
pub mod fixtures;
pub mod proxy;
pub mod trace;
pub mod unreachable;

use std::path::PathBuf;

use kms_proto::call::Error;
use kms_proto::{ClientConfig, InstanceCount};

/// The workspace's root directory.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default()
}

/// A transport under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// `kms-ureq`.
    Ureq,
    /// `kms-hyper`, on a multi-threaded tokio runtime.
    Hyper,
}

impl Transport {
    /// Every transport of the workspace.
    pub const ALL: [Transport; 2] = [Transport::Ureq, Transport::Hyper];

    /// Its crate name.
    pub fn name(self) -> &'static str {
        match self {
            Transport::Ureq => "kms-ureq",
            Transport::Hyper => "kms-hyper",
        }
    }

    /// Builds a client from `config` and makes one call, blocking.
    ///
    /// # Errors
    /// Whatever the transport reports.
    pub fn call(self, config: ClientConfig) -> Result<InstanceCount, Error> {
        match self {
            Transport::Ureq => kms_ureq::Client::new(config)?.show_user_instances(),
            Transport::Hyper => runtime()
                .block_on(async { kms_hyper::Client::new(config)?.show_user_instances().await }),
        }
    }
}

/// The tokio runtime the async transport runs on in these tests.
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RUNTIME.get_or_init(|| {
        #[allow(
            clippy::expect_used,
            reason = "a test rig without a runtime cannot run at all"
        )]
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime")
    })
}

/// The workspace README's examples, compiled and run by `cargo test` so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
