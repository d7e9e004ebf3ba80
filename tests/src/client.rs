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

    /// `n` calls at once: threads released together for ureq, tasks for hyper. Every
    /// caller's result, in the callers' order.
    ///
    /// # Errors
    /// A caller that panicked (or a task that did not finish), named with its panic: a
    /// transport that panics in one caller fails the check instead of losing a result.
    pub fn calls_at_once(&self, n: usize) -> Result<Vec<Result<InstanceCount, Error>>, String> {
        match self {
            SharedClient::Ureq(c) => threads_at_once(n, |_| c.show_user_instances()),
            SharedClient::Hyper(c) => runtime().block_on(tasks_at_once(n, |_| {
                let c = c.clone();
                async move { c.show_user_instances().await }
            })),
        }
    }

    /// The credentials in use.
    pub fn identity(&self) -> Option<Arc<Identity>> {
        match self {
            SharedClient::Ureq(c) => c.core().identity(),
            SharedClient::Hyper(c) => c.core().identity(),
        }
    }

    /// The project the client calls for.
    pub fn project(&self) -> Option<ProjectId> {
        match self {
            SharedClient::Ureq(c) => c.core().project(),
            SharedClient::Hyper(c) => c.core().project(),
        }
    }
}

/// Runs `call(i)` for `i` in `0..n` on `n` threads released together by a barrier; every
/// result, in order.
///
/// # Errors
/// Which callers panicked, and their panic messages.
pub fn threads_at_once<T: Send>(
    n: usize,
    call: impl Fn(usize) -> T + Sync,
) -> Result<Vec<T>, String> {
    let barrier = std::sync::Barrier::new(n);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let (barrier, call) = (&barrier, &call);
                scope.spawn(move || {
                    barrier.wait();
                    call(i)
                })
            })
            .collect();
        gather(
            n,
            handles
                .into_iter()
                .map(|h| h.join().map_err(|p| panic_text(p.as_ref()))),
        )
    })
}

/// Runs `call(i)` for `i` in `0..n` as `n` tasks on the current runtime; every result, in
/// order.
///
/// # Errors
/// Which callers panicked (or were cancelled), and why.
pub async fn tasks_at_once<T, F>(n: usize, call: impl Fn(usize) -> F) -> Result<Vec<T>, String>
where
    T: Send + 'static,
    F: std::future::Future<Output = T> + Send + 'static,
{
    // Spawned all before any is awaited, so they run at once; awaited in order, so each
    // result (or panic) keeps its caller's number.
    let handles: Vec<_> = (0..n).map(|i| tokio::spawn(call(i))).collect();
    let mut joined = Vec::with_capacity(n);
    for handle in handles {
        joined.push(handle.await.map_err(|e| match e.try_into_panic() {
            Ok(panic) => panic_text(panic.as_ref()),
            Err(e) => e.to_string(),
        }));
    }
    gather(n, joined.into_iter())
}

/// Every caller's result, or the callers that gave none and why.
fn gather<T>(n: usize, joined: impl Iterator<Item = Result<T, String>>) -> Result<Vec<T>, String> {
    let mut results = Vec::with_capacity(n);
    let mut lost = Vec::new();
    for (i, result) in joined.enumerate() {
        match result {
            Ok(result) => results.push(result),
            Err(why) => lost.push(format!("caller {i} of {n} panicked: {why}")),
        }
    }
    if lost.is_empty() && results.len() == n {
        Ok(results)
    } else {
        Err(format!(
            "{} of {n} callers gave a result; {}",
            results.len(),
            lost.join("; ")
        ))
    }
}

/// A panic's message, when it has one.
fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

/// `Ok` when all `expected` calls gave a count.
///
/// # Errors
/// How many succeeded, out of how many results, and the first error.
pub fn all_succeeded(
    results: &[Result<InstanceCount, Error>],
    expected: usize,
) -> Result<(), String> {
    let succeeded = results.iter().filter(|r| r.is_ok()).count();
    ensure(results.len() == expected && succeeded == expected, || {
        format!(
            "{succeeded} of {expected} calls succeeded ({} results); first error: {:?}",
            results.len(),
            results.iter().find_map(|r| r.as_ref().err())
        )
    })
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

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::panic,
        reason = "a test fails by panicking"
    )]

    use super::*;

    /// A caller that panics is named, not dropped: before, the helper returned the other
    /// callers' results and a check counting errors passed.
    #[test]
    fn a_thread_that_panics_is_reported() {
        let error = threads_at_once(8, |i| {
            if i == 3 {
                panic!("caller three broke");
            }
            i
        })
        .unwrap_err();
        assert!(
            error.contains("caller 3 of 8 panicked: caller three broke"),
            "{error}"
        );
        assert!(error.starts_with("7 of 8 callers gave a result"), "{error}");
    }

    #[test]
    fn a_task_that_panics_is_reported() {
        let error = runtime()
            .block_on(tasks_at_once(8, |i| async move {
                if i == 5 {
                    panic!("caller five broke");
                }
                i
            }))
            .unwrap_err();
        assert!(
            error.contains("caller 5 of 8 panicked: caller five broke"),
            "{error}"
        );
    }

    #[test]
    fn every_result_in_order() {
        assert_eq!(threads_at_once(4, |i| i * 2).unwrap(), [0, 2, 4, 6]);
        let tasks = runtime().block_on(tasks_at_once(4, |i| async move { i * 2 }));
        assert_eq!(tasks.unwrap(), [0, 2, 4, 6]);
    }
}
