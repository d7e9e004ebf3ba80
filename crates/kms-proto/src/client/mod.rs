//! The client machine: everything a client does between "call this operation" and its
//! result, as a sans-IO state machine any HTTP stack drives.
//!
//! Two machines, as quinn-proto's `Endpoint` and `Connection`:
//! * [`Client`]: what a client's calls share. The credential cache and the provider that
//!   refreshes it, the project once found through IAM, the service clock's offset, the
//!   retry budget and the endpoints' health. Build one per client and share it (it is
//!   `Send + Sync`; its locks are never held while a transport does I/O).
//! * [`ClientCall`]: one call of an [`Operation`]. Ask it what to do with
//!   [`poll`](ClientCall::poll), always with [`Now`]; report what happened with
//!   [`on_response`](ClientCall::on_response) or [`on_failure`](ClientCall::on_failure).
//!
//! Which caller refreshes credentials, who waits and when waiters may go on, which caller
//! asks IAM for the project (and, after it failed, how long every call ends with that
//! failure before one asks again), when to retry, where and after how long: all decided
//! here, and the log lines of each step written here, so every transport decides and logs
//! the same. A transport supplies the mechanism: sending an [`Exchange`] on its
//! [`Route`], a thread or task for a [`RefreshJob`], sleeping, and waiting on a `Condvar`
//! or `Notify` for [`Io::Wait`] until [`Io::Wake`] (or a refresh's end) wakes it.
//!
//! ```text
//!                      ┌──────────── poll(now) ◀─────────────────────────────┐
//!                      ▼                                                     │
//! credentials ─ usable ──▶ project ─ known ──▶ attempt ── Io::Send(KMS) ─▶ on_response / on_failure
//!   │ due: Io::Refresh(job), go on   │ unknown: Io::Send(IAM) ─▶ on_response ─▶ Io::Wake │
//!   │ none: Io::Refresh(job), wait   │ another call asks: Io::Wait              retry: Io::Sleep(until)
//!   │ another refreshes: Io::Wait    │ failed a moment ago: Io::Done(error)     over: Io::Done(result)
//!   └ failed: Io::Done(error)        ▼
//!                                  (a claim lapses at its caller's deadline)
//!
//! RefreshJob (on its own thread or task):
//!   poll() ─▶ RefreshIo::Read(file) / RefreshIo::Send(exchange) ─▶ on_file / on_response / on_failure
//!          └▶ RefreshIo::Done ─▶ Client::on_refreshed(job, now) ─▶ wake the waiters
//! ```
//!
//! A transport in full: `crates/kms-proto/examples/std_transport.rs` (std::net, blocking)
//! and the README's "Embedding the core".

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::call::{Now, Shared};
use crate::credentials::{CredentialCache, Identity, Provider, RefreshTicket};
use crate::operation::Operation;
use crate::{ClientConfig, PreparedRequests, ProjectId};

mod call;
mod io;
mod project;
mod refresh;
#[cfg(test)]
mod tests;

pub use call::ClientCall;
pub use io::{Exchange, Io, Route, Wait};
pub use refresh::{RefreshIo, RefreshJob};

use project::ProjectState;

/// What a client's calls share, and the machine that hands out their calls. See the
/// [module docs](self).
pub struct Client {
    config: ClientConfig,
    /// The clock offset, the retry budget, the endpoints' health.
    shared: Shared,
    /// Locked by every attempt: on a cache line of its own (boxed), so that its writes do
    /// not evict what every call reads (the configuration, the shared atomics) from the
    /// other cores' caches. A 32-in-flight loopback bench showed the cost when it sat
    /// inline.
    credentials: Box<Mutex<CredentialCache>>,
    /// What the next refresh starts from (it learns which source answered, a session
    /// token); a refresh takes a copy and gives it back when it ends.
    provider: Mutex<Provider>,
    project: Mutex<ProjectState>,
    /// Counts the reports other calls may wait for (a refresh's end, the project found or
    /// not): a wait is over when it changes.
    reports: AtomicU64,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.config)
            .field("reports", &self.reports())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// The machine for a client configured by `config`: nothing cached, no project found
    /// yet (unless configured), no clock offset, a full retry budget, every endpoint
    /// healthy.
    pub fn new(config: ClientConfig) -> Self {
        Client {
            shared: Shared::new(&config),
            credentials: Box::new(Mutex::new(CredentialCache::new(*config.refresh_policy()))),
            provider: Mutex::new(config.credential_provider().clone()),
            project: Mutex::new(ProjectState::new()),
            reports: AtomicU64::new(0),
            config,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// What the calls share: the clock offset, the retry budget, the endpoints' health.
    pub fn shared(&self) -> &Shared {
        &self.shared
    }

    /// Starts a call of `operation` at `now` (the overall deadline counts from it).
    pub fn call<O: Operation>(&self, operation: O, now: Now) -> ClientCall<'_, O> {
        ClientCall::new(self, operation, now)
    }

    /// The credentials cached now (their source and expiry), once a call has needed them.
    pub fn identity(&self) -> Option<Arc<Identity>> {
        lock(&self.credentials).current().cloned()
    }

    /// The project calls go to: the configured one, or the one found through IAM (`None`
    /// until a call has found it).
    pub fn project(&self) -> Option<ProjectId> {
        match self.config.request() {
            Some(request) => Some(request.project_id().clone()),
            None => lock(&self.project)
                .found()
                .map(|prepared| prepared.project_id().clone()),
        }
    }

    /// How many reports other calls may wait for were made so far; see [`Wait::seen`].
    pub fn reports(&self) -> u64 {
        self.reports.load(Ordering::SeqCst)
    }

    /// A refresh ended: its credentials (or why there are none) go to the cache, what the
    /// provider learnt is kept, and it is logged. Wake the calls that wait after this.
    pub fn on_refreshed(&self, job: RefreshJob, now: Now) {
        let (ticket, result, provider, started, span) = job.finish();
        let _entered = span.enter();
        tracing::debug!(
            ok = result.is_ok(),
            latency_ms = now
                .monotonic()
                .saturating_duration_since(started)
                .as_millis() as u64,
            "credential refresh"
        );
        let current = lock(&self.credentials).on_refreshed(ticket, result, now);
        if current && let Some(provider) = provider {
            *lock(&self.provider) = provider;
        }
        self.report();
    }

    /// Hands out the refresh of `ticket`, starting from the provider as the last refresh
    /// left it.
    fn refresh_job(&self, ticket: RefreshTicket, now: Now, span: tracing::Span) -> RefreshJob {
        let refresh = lock(&self.provider).clone().into_refresh(now.wall());
        RefreshJob::new(
            ticket,
            refresh,
            self.config.attempt_timeout(),
            now.monotonic(),
            span,
        )
    }

    fn report(&self) {
        self.reports.fetch_add(1, Ordering::SeqCst);
    }
}

/// A type the client machine finds prepared for its project: configured, or found.
#[derive(Debug, Clone)]
enum Project<'c> {
    Configured(&'c PreparedRequests),
    Found(Arc<PreparedRequests>),
}

impl Project<'_> {
    fn prepared(&self) -> &PreparedRequests {
        match self {
            Project::Configured(prepared) => prepared,
            Project::Found(prepared) => prepared,
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every change behind these locks is one assignment: a panic elsewhere while one is
    // held cannot leave the state torn.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
