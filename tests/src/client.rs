//! One client of either transport, kept across the calls of a check (the credential and
//! IAM suites need a client's cache and project to outlive one call), and the little
//! helpers those suites share.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use kms_proto::call::Error;
use kms_proto::credentials::Identity;
use kms_proto::{ClientConfig, InstanceCount, ProjectId};

use crate::{Transport, runtime};

/// A `kms_ureq::Client` or a `kms_hyper::Client`, called through one blocking interface.
#[derive(Debug)]
pub enum SharedClient {
    /// `kms-ureq`.
    Ureq(kms_ureq::Client),
    /// `kms-hyper`, on [`runtime`].
    Hyper(kms_hyper::Client),
}

impl SharedClient {
    /// Builds the client of `transport` from `config`.
    ///
    /// # Errors
    /// What the transport's `Client::new` reports.
    pub fn new(transport: Transport, config: ClientConfig) -> Result<Self, Error> {
        Ok(match transport {
            Transport::Ureq => SharedClient::Ureq(kms_ureq::Client::new(config)?),
            Transport::Hyper => {
                SharedClient::Hyper(runtime().block_on(async { kms_hyper::Client::new(config) })?)
            }
        })
    }

    /// One call, blocking.
    ///
    /// # Errors
    /// The call's error.
    pub fn call(&self) -> Result<InstanceCount, Error> {
        match self {
            SharedClient::Ureq(c) => c.show_user_instances(),
            SharedClient::Hyper(c) => runtime().block_on(c.show_user_instances()),
        }
    }

    /// `n` calls at once: threads released together for ureq, tasks for hyper.
    pub fn calls_at_once(&self, n: usize) -> Vec<Result<InstanceCount, Error>> {
        match self {
            SharedClient::Ureq(c) => {
                let barrier = std::sync::Barrier::new(n);
                std::thread::scope(|scope| {
                    let handles: Vec<_> = (0..n)
                        .map(|_| {
                            scope.spawn(|| {
                                barrier.wait();
                                c.show_user_instances()
                            })
                        })
                        .collect();
                    handles.into_iter().filter_map(|h| h.join().ok()).collect()
                })
            }
            SharedClient::Hyper(c) => runtime().block_on(async {
                let mut set = tokio::task::JoinSet::new();
                for _ in 0..n {
                    let c = c.clone();
                    set.spawn(async move { c.show_user_instances().await });
                }
                let mut results = Vec::new();
                while let Some(r) = set.join_next().await {
                    if let Ok(result) = r {
                        results.push(result);
                    }
                }
                results
            }),
        }
    }

    /// The credentials in use.
    pub fn identity(&self) -> Option<Arc<Identity>> {
        match self {
            SharedClient::Ureq(c) => c.identity(),
            SharedClient::Hyper(c) => c.identity(),
        }
    }

    /// The project the client calls for.
    pub fn project(&self) -> Option<ProjectId> {
        match self {
            SharedClient::Ureq(c) => c.project(),
            SharedClient::Hyper(c) => c.project(),
        }
    }
}

/// An environment lookup over these pairs only.
pub fn lookup(pairs: Vec<(&'static str, String)>) -> impl Fn(&str) -> Option<String> {
    move |name| {
        pairs
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
    }
}

/// `Ok` when `ok`, else the message `what` makes.
///
/// # Errors
/// `what()` when `ok` is false.
pub fn ensure(ok: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if ok { Ok(()) } else { Err(what()) }
}

/// Waits, up to `within`, for `done`; whether it came.
pub fn eventually(within: Duration, done: impl Fn() -> bool) -> bool {
    let until = Instant::now() + within;
    while Instant::now() < until {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    done()
}

/// A directory under the system's temporary one, removed when dropped.
#[derive(Debug)]
pub struct TempDir(std::path::PathBuf);

impl TempDir {
    /// A fresh directory whose name starts with `name`.
    ///
    /// # Errors
    /// When it cannot be made.
    pub fn new(name: &str) -> std::io::Result<Self> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "kms-conformance-{name}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path)?;
        Ok(TempDir(path))
    }

    /// Its path, as text.
    pub fn path(&self) -> String {
        self.0.display().to_string()
    }

    /// Writes `contents` to the file `name` in it; the file's path, as text.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn write(&self, name: &str, contents: &str) -> std::io::Result<String> {
        let path = self.0.join(name);
        std::fs::write(&path, contents)?;
        Ok(path.display().to_string())
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
