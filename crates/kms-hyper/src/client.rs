//! The client: the core's machine ([`kms_proto::client`]) driven with async I/O on
//! hyper-util's pooled clients, shared by every call.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::capture_connection;
use kms_proto::call::{Error, Now, TransportFailure};
use kms_proto::client::{Exchange, Io, RefreshIo, RefreshJob, Route, Wait};
use kms_proto::credentials::{FileProblem, FileRead};
use kms_proto::operation::{Operation, UserInstances};
use kms_proto::{ClientConfig, InstanceCount};
use tokio::sync::Notify;
use tracing::instrument::{Instrument, WithSubscriber};
use tracing::warn;

use crate::classify;
use crate::connect::Progress;
use crate::pool::{self, Pool};

/// An async ShowUserInstances client (and of any [`Operation`]: [`Client::call`]).
///
/// Build it once (inside a tokio runtime) and share it: it is `Clone + Send + Sync`, and
/// clones share one connection pool. It never holds more than
/// [`ClientConfig::max_connections`] connections open to KMS; requests beyond that wait
/// for one.
///
/// Credentials from a provider are refreshed in a task of their own: a call that is
/// cancelled or times out never abandons a refresh others wait for, no call waits while
/// usable credentials exist, and a call that needs them waits for the one refresh in
/// flight only within its deadline.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    /// What the calls share, and every decision.
    machine: kms_proto::client::Client,
    /// KMS.
    pool: Pool,
    /// IAM and STS: as KMS calls go (proxy, roots, connect timeout), on connections of
    /// their own, so that a refresh never waits for a KMS connection nor takes one.
    cloud: Pool,
    /// The metadata service and pod identity: never proxied.
    local: pool::Local,
    /// Woken when the machine says.
    reported: Notify,
}

impl Client {
    /// Builds the client (its TLS configuration and connection pools) from `config`.
    ///
    /// TLS is rustls with the ring provider and the roots of [`ClientConfig::trust`]
    /// (Mozilla's by default; [`TrustRoots::System`](kms_proto::TrustRoots::System) reads
    /// the operating system's store here, once). To use a rustls configuration of the
    /// application's own, see [`Client::with_tls`].
    ///
    /// # Errors
    /// [`Error::Config`] when rustls refuses the configured roots, when the system store
    /// was chosen and yields no usable certificate (the message says where it looked and
    /// what to do), or when the proxy's credentials are not header text.
    pub fn new(config: ClientConfig) -> Result<Self, Error> {
        let tls = kms_proto::tls::client_config(config.trust())?;
        Self::build(config, tls)
    }

    /// The client with the application's rustls configuration instead of one of its own,
    /// used as [`kms_proto::tls::application_config`] says (as given, ALPN emptied: hyper-rustls
    /// offers the protocols this client speaks); the proxy, timeouts, limits and
    /// `max_connections` of `config` apply as with [`Client::new`], and the same
    /// configuration serves the credential services on the instance or node.
    ///
    /// # Errors
    /// [`Error::Config`] when `config` chooses roots too ([`kms_proto::tls::no_roots_chosen`]),
    /// or the proxy's credentials are not header text.
    pub fn with_tls(config: ClientConfig, tls: Arc<rustls::ClientConfig>) -> Result<Self, Error> {
        kms_proto::tls::no_roots_chosen(config.trust())?;
        let tls = Arc::unwrap_or_clone(kms_proto::tls::application_config(tls));
        Self::build(config, tls)
    }

    fn build(config: ClientConfig, tls: rustls::ClientConfig) -> Result<Self, Error> {
        Ok(Client {
            inner: Arc::new(Inner {
                pool: Pool::new(&config, tls.clone(), config.max_connections())?,
                cloud: Pool::new(&config, tls.clone(), 2)?,
                local: pool::local(tls),
                machine: kms_proto::client::Client::new(config),
                reported: Notify::new(),
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
    pub async fn show_user_instances(&self) -> Result<InstanceCount, Error> {
        self.call(UserInstances).await
    }

    /// Calls `operation` (any [`Operation`]: ShowUserInstances is one). The core decides
    /// everything (the credentials of each attempt, retries within the deadline, failover,
    /// clock-skew correction, finding the project first); this future does the I/O it
    /// asks for. Dropping it abandons the call, never a refresh other calls wait for.
    ///
    /// # Errors
    /// [`Error`], with the number of attempts made.
    pub async fn call<O: Operation>(&self, operation: O) -> Result<O::Output, Error> {
        let inner = &self.inner;
        let mut call = inner.machine.call(operation, now());
        loop {
            match call.poll(now()) {
                Io::Send(exchange) => {
                    let exchanged = inner.exchange(exchange);
                    call.on_exchange(
                        exchanged.instrument(call.attempt_span().clone()).await,
                        now(),
                    );
                }
                Io::Refresh(job) => inner.spawn_refresh(job),
                Io::Sleep(until) => tokio::time::sleep_until(until.into()).await,
                Io::Wait(wait) => inner.wait(wait).await,
                Io::Wake => inner.reported.notify_waiters(),
                Io::Done(result) => return result,
            }
        }
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The core's machine shows the configuration, and no secret.
        f.debug_tuple("Client").field(&self.inner.machine).finish()
    }
}

impl Inner {
    /// Runs `job` in a task of its own, in the span and subscriber of the call that
    /// started it.
    fn spawn_refresh(self: &Arc<Self>, job: RefreshJob) {
        let this = Arc::clone(self);
        let span = job.span().clone();
        let refresh = async move {
            let mut job = job;
            loop {
                match job.poll() {
                    RefreshIo::Read(file) => job.on_file(read_blocking(file).await),
                    RefreshIo::Send(exchange) => job.on_exchange(this.exchange(exchange).await),
                    RefreshIo::Done => break,
                }
            }
            this.machine.on_refreshed(job, now());
            this.reported.notify_waiters();
        };
        tokio::spawn(refresh.instrument(span).with_current_subscriber());
    }

    /// Waits until another call reports, or until the wait's end.
    async fn wait(&self, wait: Wait) {
        let notified = self.reported.notified();
        tokio::pin!(notified);
        // Armed before the check: `notify_waiters` wakes every armed `Notified`, so a report
        // made after the check is never missed.
        notified.as_mut().enable();
        if self.machine.reports() != wait.seen() {
            return;
        }
        let _ = tokio::time::timeout_at(wait.until().into(), notified).await;
    }

    /// Sends `exchange` within its timeout and reads at most its read limit of the body.
    async fn exchange(
        &self,
        exchange: Exchange,
    ) -> Result<http::Response<Vec<u8>>, TransportFailure> {
        let limit = exchange.read_limit();
        let (request, timeout, route) = exchange.into_parts();
        let mut request = request.map(|body| match body.is_empty() {
            true => Full::new(Bytes::new()),
            false => Full::new(Bytes::from(body)),
        });
        // How far the exchange got, should its timeout fire: a connection obtained (new or
        // from the pool), or a connect begun.
        let connection = capture_connection(&mut request);
        let progress = Progress::new();
        let exchange = async {
            let response = match route {
                Route::Kms => self.pool.request(request).await,
                Route::Cloud => self.cloud.request(request).await,
                Route::Local => self.local.request(request).await,
            }
            .map_err(classify::request_error)?;
            let (parts, body) = response.into_parts();
            let bytes = read_body(body, limit).await?;
            Ok(http::Response::from_parts(parts, bytes))
        };
        match tokio::time::timeout(timeout, progress.during(exchange)).await {
            Ok(result) => result,
            Err(_elapsed) => {
                warn!(
                    timeout_ms = timeout.as_millis() as u64,
                    "exchange timed out"
                );
                let connected = connection.connection_metadata().is_some();
                Err(self.timed_out(route, connected, progress.began_connecting(), timeout))
            }
        }
    }

    /// The exchange's own timeout fired: after a connection was obtained (the request may
    /// have been sent), while connecting (the endpoint was not reached), or, for KMS,
    /// before a connect could begin (every connection of the client was busy: nothing said
    /// about the endpoint). The core says what each means.
    fn timed_out(
        &self,
        route: Route,
        connected: bool,
        connecting: bool,
        timeout: Duration,
    ) -> TransportFailure {
        match (connected, connecting || route != Route::Kms) {
            (true, _) => TransportFailure::timed_out(true),
            (false, true) => TransportFailure::connect_timed_out(timeout),
            (false, false) => TransportFailure::no_free_connection(
                self.machine.config().max_connections(),
                timeout,
            ),
        }
    }
}

/// Reads a response body, keeping at most `limit` bytes (the machine's limit plus one:
/// enough to refuse, and nothing beyond is read).
async fn read_body(
    mut body: hyper::body::Incoming,
    limit: usize,
) -> Result<Vec<u8>, TransportFailure> {
    let mut bytes = Vec::new();
    while bytes.len() < limit {
        match body.frame().await {
            None => break,
            Some(Err(e)) => return Err(classify::body_error(e)),
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    let room = limit - bytes.len();
                    bytes.extend_from_slice(data.get(..room.min(data.len())).unwrap_or_default());
                }
            }
        }
    }
    Ok(bytes)
}

/// Reads a file a source needs on tokio's blocking pool.
async fn read_blocking(read: FileRead) -> Result<Vec<u8>, FileProblem> {
    match tokio::task::spawn_blocking(move || read.read_blocking()).await {
        Ok(result) => result,
        Err(e) => Err(FileProblem::Unreadable(std::io::Error::other(e))),
    }
}

/// "Now" for the core, made here only: the clocks and a jitter draw for retry backoff.
fn now() -> Now {
    Now::new(SystemTime::now(), Instant::now(), fastrand::f64())
}
