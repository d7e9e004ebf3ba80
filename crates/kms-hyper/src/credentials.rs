//! Credentials for each attempt: the core's [`CredentialCache`] decides, this module does
//! what it says with async I/O (file reads, HTTP to the credential services) and wakes the
//! tasks that wait.
//!
//! Every refresh runs in a task of its own, so a call that is cancelled or times out never
//! abandons a refresh others wait for. A refresh due ahead of expiry is not waited for:
//! no caller waits while usable credentials exist. When nothing usable is cached, callers
//! wait (within their call's deadline) for the one refresh in flight.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http_body_util::Full;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client as LegacyClient;
use hyper_util::client::legacy::connect::{HttpConnector, capture_connection};
use hyper_util::rt::{TokioExecutor, TokioTimer};
use kms_proto::ClientConfig;
use kms_proto::call::{Call, Now, TransportFailure};
use kms_proto::credentials::{
    CacheStep, CredentialCache, CredentialError, FileProblem, FileRead, Identity, MAX_SOURCE_BODY,
    Need, Provider, RefreshTicket, SOURCE_CONNECT_TIMEOUT,
};
use tokio::sync::Notify;
use tracing::debug;
use tracing::instrument::{Instrument, WithSubscriber};

use crate::classify;
use crate::client::Pool;
use crate::resolve::TimedResolver;

type SourceClient = LegacyClient<HttpsConnector<HttpConnector<TimedResolver>>, Full<Bytes>>;

/// What every call of a client shares about credentials.
pub(crate) struct Credentials {
    /// Never held across an `.await`.
    cache: Mutex<CredentialCache>,
    /// Woken after every refresh reports.
    refreshed: Notify,
    /// Only the task holding a refresh ticket locks it.
    provider: tokio::sync::Mutex<Provider>,
    /// For the credential services on the instance or node (metadata, pod identity): no
    /// proxy, a short connect timeout, no redirects.
    client: SourceClient,
    /// For IAM and STS: as KMS calls go (proxy, trusted roots, connect timeout).
    remote: Pool<Full<Bytes>>,
    /// The client's attempt timeout, which bounds every exchange of a refresh too.
    attempt_timeout: Duration,
}

impl Credentials {
    pub(crate) fn new(
        config: &ClientConfig,
        tls: rustls::ClientConfig,
        remote: Pool<Full<Bytes>>,
    ) -> Arc<Self> {
        // A name in a pod identity URI is looked up within the same short timeout.
        let mut http = HttpConnector::new_with_resolver(TimedResolver::new(SOURCE_CONNECT_TIMEOUT));
        http.enforce_http(false);
        http.set_connect_timeout(Some(SOURCE_CONNECT_TIMEOUT));
        let https = HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = LegacyClient::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_max_idle_per_host(2)
            .build(https);
        Arc::new(Credentials {
            cache: Mutex::new(CredentialCache::new(*config.refresh_policy())),
            refreshed: Notify::new(),
            provider: tokio::sync::Mutex::new(config.credential_provider().clone()),
            client,
            remote,
            attempt_timeout: config.attempt_timeout(),
        })
    }

    /// The credentials cached now, if any.
    pub(crate) fn current(&self) -> Option<Arc<Identity>> {
        lock(&self.cache).current().cloned()
    }

    /// The credentials to sign the next attempt of `call` with: at once when usable ones
    /// are cached, else after the refresh in flight.
    pub(crate) async fn for_attempt(
        self: &Arc<Self>,
        call: &Call<'_>,
    ) -> Result<Arc<Identity>, CredentialError> {
        loop {
            let notified = {
                let mut cache = lock(&self.cache);
                match cache.poll(now()) {
                    CacheStep::Use { identity, refresh } => {
                        drop(cache);
                        if let Some(ticket) = refresh {
                            self.spawn_refresh(ticket);
                        }
                        return Ok(identity);
                    }
                    CacheStep::Fail(error) => return Err(error),
                    CacheStep::Refresh(ticket) => {
                        // Made before the refresh can report: `notify_waiters` wakes every
                        // `Notified` that exists when it is called, polled or not.
                        let notified = self.refreshed.notified();
                        drop(cache);
                        self.spawn_refresh(ticket);
                        notified
                    }
                    CacheStep::Wait => self.refreshed.notified(),
                }
            };
            let left = call.time_left(now());
            if tokio::time::timeout(left, notified).await.is_err() {
                return Err(CredentialError::waited_too_long());
            }
        }
    }

    fn spawn_refresh(self: &Arc<Self>, ticket: RefreshTicket) {
        let this = Arc::clone(self);
        // The refresh logs where the call that started it logs: its subscriber (a scoped
        // one included) and its span.
        let refresh = async move {
            let started = Instant::now();
            let result = {
                let mut provider = this.provider.lock().await;
                this.run(&mut provider).await
            };
            debug!(
                ok = result.is_ok(),
                latency_ms = started.elapsed().as_millis() as u64,
                "credential refresh"
            );
            lock(&this.cache).on_refreshed(ticket, result, now());
            this.refreshed.notify_waiters();
        };
        tokio::spawn(refresh.in_current_span().with_current_subscriber());
    }

    async fn run(&self, provider: &mut Provider) -> Result<Identity, CredentialError> {
        let mut refresh = provider.refresh(SystemTime::now());
        let mut need = refresh.start();
        loop {
            need = match need {
                Need::Done(result) => return result,
                Need::File(read) => refresh.on_file(read_blocking(read).await),
                Need::Http(request) => {
                    let remote = request.is_remote();
                    let (request, timeout) = request.into_parts_within(self.attempt_timeout);
                    match self.send(request, timeout, remote).await {
                        Ok((parts, body)) => {
                            refresh.on_response(parts.status, &parts.headers, &body)
                        }
                        Err(failure) => refresh.on_failure(failure),
                    }
                }
            }
        }
    }

    async fn send(
        &self,
        request: http::Request<Vec<u8>>,
        timeout: Duration,
        remote: bool,
    ) -> Result<(http::response::Parts, Vec<u8>), TransportFailure> {
        let mut request = request.map(|body| Full::new(Bytes::from(body)));
        // Whether a connection was obtained, should the timeout fire: before it, the
        // service was not reached (nothing sent), as the core says of a KMS attempt.
        let connection = capture_connection(&mut request);
        let exchange = async {
            let response = if remote {
                self.remote.request(request).await
            } else {
                self.client.request(request).await
            }
            .map_err(classify::request_error)?;
            let (parts, body) = response.into_parts();
            let bytes = crate::client::read_body(body, MAX_SOURCE_BODY).await?;
            Ok((parts, bytes))
        };
        match tokio::time::timeout(timeout, exchange).await {
            Ok(result) => result,
            Err(_elapsed) => Err(TransportFailure::timed_out(
                connection.connection_metadata().is_some(),
            )),
        }
    }
}

/// Reads a file a source needs on tokio's blocking pool.
async fn read_blocking(read: FileRead) -> Result<Vec<u8>, FileProblem> {
    match tokio::task::spawn_blocking(move || read.read_blocking()).await {
        Ok(result) => result,
        Err(e) => Err(FileProblem::Unreadable(std::io::Error::other(e))),
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every change to the cache is one assignment: a panic elsewhere cannot leave it torn.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn now() -> Now {
    crate::client::now()
}
