//! The client: the core's machine ([`kms_proto::client`]) driven with blocking I/O on one
//! ureq agent (and its connection pool) shared by every call.

use std::io::Read;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Instant, SystemTime};

use kms_proto::call::{Error, Now, TransportFailure};
use kms_proto::client::{Exchange, Io, RefreshIo, RefreshJob, Route, Wait};
use kms_proto::operation::{Operation, UserInstances};
use kms_proto::{ClientConfig, InstanceCount};
use tracing::warn;

use crate::limit::{Acquired, Permits};
use crate::{agents, classify};

/// A blocking ShowUserInstances client (and of any [`Operation`]: [`Client::call`]).
///
/// Build it once and share it: it is `Clone + Send + Sync`, and clones share one ureq
/// agent, so one connection pool serves every call, thread and clone. It never holds more
/// than [`ClientConfig::max_connections`] connections open to KMS; attempts beyond that
/// wait for one (within their timeout).
///
/// Credentials from a provider are refreshed on a short-lived thread of its own: no call
/// waits while usable credentials exist, and a call that needs them waits for the one
/// refresh in flight only within its deadline.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    /// What the calls share, and every decision.
    machine: kms_proto::client::Client,
    /// KMS, IAM and STS: the configured proxy, roots and timeouts.
    agent: ureq::Agent,
    /// The metadata service and pod identity: never proxied.
    local: ureq::Agent,
    /// One per KMS connection the client may hold (see `limit`).
    permits: Arc<Permits>,
    /// What a waiting call sleeps on, woken when the machine says.
    reports: Mutex<()>,
    reported: Condvar,
}

impl Client {
    /// Builds the client (its TLS configuration and connection pool) from `config`.
    ///
    /// TLS is rustls with the ring provider and the roots of [`ClientConfig::trust`]
    /// (Mozilla's by default; [`TrustRoots::System`](kms_proto::TrustRoots::System) reads
    /// the operating system's store here, once). To use a rustls configuration of the
    /// application's own, see [`Client::with_tls`].
    ///
    /// # Errors
    /// [`Error::Config`] when the proxy URL cannot be given to ureq, or when the system
    /// store was chosen and yields no usable certificate (the message says where it looked
    /// and what to do).
    pub fn new(config: ClientConfig) -> Result<Self, Error> {
        let tls = Arc::new(kms_proto::tls::client_config(config.trust())?);
        Self::build(config, tls)
    }

    /// This client on the application's own rustls configuration (its roots or verifier,
    /// client certificates, provider...), taken as [`kms_proto::tls::application_config`]
    /// describes; everything else `config` sets applies as for [`Client::new`], and the
    /// metadata and pod identity services reached over `https` use it too.
    ///
    /// # Errors
    /// [`Error::Config`]: `config` also chooses roots ([`kms_proto::tls::no_roots_chosen`]),
    /// or ureq does not take its proxy URL.
    pub fn with_tls(config: ClientConfig, tls: Arc<rustls::ClientConfig>) -> Result<Self, Error> {
        kms_proto::tls::no_roots_chosen(config.trust())?;
        Self::build(config, kms_proto::tls::application_config(tls))
    }

    fn build(config: ClientConfig, tls: Arc<rustls::ClientConfig>) -> Result<Self, Error> {
        let agent = agents::remote(&config, Arc::clone(&tls))?;
        Ok(Client {
            inner: Arc::new(Inner {
                agent,
                local: agents::local(tls),
                permits: Permits::new(config.max_connections()),
                machine: kms_proto::client::Client::new(config),
                reports: Mutex::new(()),
                reported: Condvar::new(),
            }),
        })
    }

    /// The core's machine this client drives: its configuration
    /// ([`config`](kms_proto::client::Client::config)), the project it calls for
    /// ([`project`](kms_proto::client::Client::project)), the credentials in use
    /// ([`identity`](kms_proto::client::Client::identity)), and what its calls share.
    pub fn core(&self) -> &kms_proto::client::Client {
        &self.inner.machine
    }

    /// Queries the number of instances (customer master keys) of the configured project.
    ///
    /// # Errors
    /// [`Error`]: the service's answer, or the transport failure, with the number of
    /// attempts made.
    pub fn show_user_instances(&self) -> Result<InstanceCount, Error> {
        self.call(UserInstances)
    }

    /// Makes one call of `operation`, with everything the core does for a call: each
    /// attempt signed afresh with the credentials current then, retries within the
    /// overall deadline, failover, clock-skew correction, and the project found first when
    /// none is configured.
    ///
    /// # Errors
    /// [`Error`]: the service's answer, or the transport failure, with the number of
    /// attempts made.
    pub fn call<O: Operation>(&self, operation: O) -> Result<O::Output, Error> {
        let inner = &self.inner;
        let mut call = inner.machine.call(operation, now());
        loop {
            match call.poll(now()) {
                Io::Send(exchange) => {
                    let answer = call.attempt_span().in_scope(|| inner.exchange(exchange));
                    call.on_exchange(answer, now());
                }
                Io::Refresh(job) => inner.spawn_refresh(job),
                Io::Sleep(until) => {
                    std::thread::sleep(until.saturating_duration_since(Instant::now()));
                }
                Io::Wait(wait) => inner.wait(wait),
                Io::Wake => inner.wake(),
                Io::Done(result) => return result,
            }
        }
    }
}

// The core's machine says what is safe to show: the configuration, no secret.
impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.machine.fmt(f)
    }
}

impl Inner {
    /// Runs `job` on a thread of its own (the caller's subscriber with it); on this one if
    /// no thread can be started, so that the refresh always reports.
    fn spawn_refresh(self: &Arc<Self>, job: RefreshJob) {
        let this = Arc::clone(self);
        let dispatch = tracing::dispatcher::get_default(tracing::Dispatch::clone);
        // The job goes to the thread through this slot, and comes back when it cannot start.
        let slot = Arc::new(Mutex::new(Some(job)));
        let theirs = Arc::clone(&slot);
        let spawned = std::thread::Builder::new()
            .name("kms-credentials".into())
            .spawn(move || {
                if let Some(job) = lock(&theirs).take() {
                    tracing::dispatcher::with_default(&dispatch, || this.refresh(job));
                }
            });
        if let Err(e) = spawned {
            warn!(error = %e, "could not start a thread to refresh credentials: refreshing on this one");
            let job = lock(&slot).take();
            if let Some(job) = job {
                self.refresh(job);
            }
        }
    }

    /// Drives `job` to its end, reports it, and wakes the calls that wait.
    fn refresh(&self, mut job: RefreshJob) {
        let span = job.span().clone();
        let _entered = span.enter();
        loop {
            match job.poll() {
                RefreshIo::Read(file) => job.on_file(file.read_blocking()),
                RefreshIo::Send(exchange) => job.on_exchange(self.exchange(exchange)),
                RefreshIo::Done => break,
            }
        }
        self.machine.on_refreshed(job, now());
        self.wake();
    }

    /// Waits until another call reports, or until the wait's end.
    fn wait(&self, wait: Wait) {
        let mut guard = lock(&self.reports);
        // Checked under the lock the waker takes: a report is never missed.
        while self.machine.reports() == wait.seen() {
            let left = wait.until().saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            guard = match self.reported.wait_timeout(guard, left) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }

    fn wake(&self) {
        let _guard = lock(&self.reports);
        self.reported.notify_all();
    }

    /// Sends `exchange` within its timeout (a KMS attempt takes a connection permit
    /// first) and reads at most its read limit of the body.
    fn exchange(&self, exchange: Exchange) -> Result<http::Response<Vec<u8>>, TransportFailure> {
        let read_limit = exchange.read_limit() as u64;
        let (request, mut timeout, route) = exchange.into_parts();
        let (agent, permit) = match route {
            Route::Kms => match self.permits.acquire(timeout) {
                Some((permit, acquired)) => {
                    if let Acquired::After(waited) = acquired {
                        timeout = timeout.saturating_sub(waited);
                    }
                    (&self.agent, Some(permit))
                }
                None => {
                    warn!(
                        timeout_ms = timeout.as_millis() as u64,
                        "no connection became free within the attempt timeout"
                    );
                    let max = self.machine.config().max_connections();
                    return Err(TransportFailure::no_free_connection(max, timeout));
                }
            },
            // A refresh or the project request takes no permit: one request, now and then.
            Route::Cloud => (&self.agent, None),
            Route::Local => (&self.local, None),
        };
        let request =
            match route == Route::Kms && timeout >= self.machine.config().attempt_timeout() {
                true => request,
                false => agent
                    .configure_request(request)
                    .timeout_global(Some(timeout))
                    .build(),
            };
        // An empty body is no body: ureq would otherwise send `Content-Length: 0` with a
        // GET (the core sets it itself where the official SDKs send it).
        let response = match request.body().is_empty() {
            true => agent.run(request.map(|_| ())),
            false => agent.run(request),
        };
        let result = match response {
            Err(e) => Err(classify::request_error(e)),
            Ok(response) => {
                let (parts, body) = response.into_parts();
                let mut bytes = Vec::new();
                match body.into_reader().take(read_limit).read_to_end(&mut bytes) {
                    Err(e) => {
                        warn!(status = parts.status.as_u16(), "reading the body failed");
                        Err(classify::body_error(e))
                    }
                    Ok(_) => Ok(http::Response::from_parts(parts, bytes)),
                }
            }
        };
        // Only now: the connection is back in the pool (or closed) before the permit lets
        // another attempt look for one.
        drop(permit);
        result
    }
}

/// "Now" for the core, made here only: the clocks and a jitter draw for retry backoff.
fn now() -> Now {
    Now::new(SystemTime::now(), Instant::now(), fastrand::f64())
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing behind these locks can be left torn by a panic.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::error::Error as _;
    use std::time::Duration;

    use kms_mock::{BlockingMockServer, MockConfig};
    use kms_proto::call::ErrorKind;
    use kms_proto::{AuthToken, Endpoint, ProjectId, RetryPolicy};

    use super::*;

    #[test]
    fn a_call_with_no_free_connection_times_out_unsent_and_says_why() {
        const PROJECT: &str = "0dea2644dc80d5d22ff1c01e3ebea6fc";
        let server = BlockingMockServer::start(
            MockConfig::new()
                .with_project(PROJECT, 15)
                .with_token("tok", PROJECT),
        )
        .unwrap();
        let config = ClientConfig::new(
            Endpoint::parse(&server.url()).unwrap(),
            ProjectId::new(PROJECT).unwrap(),
            AuthToken::new("tok").unwrap().into(),
        )
        .with_max_connections(1)
        .with_retry(RetryPolicy::never())
        .with_attempt_timeout(Duration::from_millis(200));
        let client = Client::new(config).unwrap();
        // Another call holds the only connection for the whole attempt.
        let (held, _) = client.inner.permits.acquire(Duration::ZERO).unwrap();
        let err = client.show_user_instances().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
        assert!(!err.may_have_been_sent(), "{err}");
        let why = err.source().map(ToString::to_string).unwrap_or_default();
        assert!(why.contains("max_connections"), "{why}");
        assert_eq!(server.requests().len(), 0);
        drop(held);
        assert_eq!(client.show_user_instances().unwrap().count(), 15);
    }
}
