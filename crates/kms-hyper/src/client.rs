//! The client: one pooled hyper-util client shared by every call.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client as LegacyClient;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::legacy::connect::{HttpConnector, capture_connection};
use hyper_util::rt::{TokioExecutor, TokioTimer};
use kms_proto::call::{
    Attempt, Call, Error, Now, Shared, Step, TransportErrorKind, TransportFailure,
};
use kms_proto::{ClientConfig, Input, InstanceCount, InvalidInput, PreparedRequests, Problem};
use tracing::{Instrument, Level, debug, span, warn};

use crate::connect::{Marked, Progress, Timed};
use crate::credentials::Credentials;
use crate::limit::{self, LimitedConnector};
use crate::resolve::TimedResolver;
use crate::{classify, tls};

type Body = Empty<Bytes>;

type Tcp = LimitedConnector<Marked<HttpConnector<TimedResolver>>>;

/// The two shapes of pooled client: direct, or through a `CONNECT` proxy; either way the
/// whole connect, TLS included, within the connect timeout (see `connect`).
pub(crate) enum Pool<B = Body> {
    Direct(LegacyClient<Timed<HttpsConnector<Tcp>>, B>),
    Proxied(LegacyClient<Timed<HttpsConnector<Tunnel<Tcp>>>, B>),
}

impl<B> Pool<B>
where
    B: hyper::body::Body + Send + Unpin + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    /// A pool holding at most `connections` connections, configured as `config` says
    /// (connect timeout, proxy, trusted roots, limits of a response head).
    fn new(
        config: &ClientConfig,
        tls: rustls::ClientConfig,
        connections: usize,
    ) -> Result<Self, Error> {
        // Name lookups are bounded by the connect timeout too (see `resolve`).
        let mut http =
            HttpConnector::new_with_resolver(TimedResolver::new(config.connect_timeout()));
        // The URI scheme is https; the TLS layer above handles it.
        http.enforce_http(false);
        http.set_connect_timeout(Some(config.connect_timeout()));
        http.set_nodelay(true);
        // Its connect begins once it has a connection permit: marked for `Timed` below.
        let http = LimitedConnector::new(Marked(http), connections);
        let builder = LegacyClient::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_max_idle_per_host(connections)
            .timer(TokioTimer::new())
            // The core decides the head's limits (kms_proto::MAX_RESPONSE_HEAD); hyper's
            // read buffer, its only bound on a head, must not refuse less: a head over it
            // may still be read whole when it arrives in one read, up to twice as much.
            .http1_max_buf_size(2 * kms_proto::MAX_RESPONSE_HEAD)
            .http1_max_headers(kms_proto::MAX_RESPONSE_HEADERS)
            .clone();
        let https = HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1();
        // The connect timeout covers the lookup, TCP, the proxy's tunnel and TLS together.
        let connect_timeout = config.connect_timeout();
        Ok(match config.proxy() {
            None => {
                Pool::Direct(builder.build(Timed::new(https.wrap_connector(http), connect_timeout)))
            }
            Some(proxy) => {
                let proxy_uri =
                    http::Uri::try_from(format!("http://{}:{}", proxy.host(), proxy.port()))
                        .map_err(|_| InvalidInput::new(Input::Proxy, Problem::NotAUrl))?;
                let mut tunnel = Tunnel::new(proxy_uri, http);
                if let Some(basic) = proxy.basic_authorization() {
                    let value = http::HeaderValue::from_str(&basic).map_err(|_| {
                        InvalidInput::new(
                            Input::Proxy,
                            Problem::Malformed {
                                expected: "header text",
                            },
                        )
                    })?;
                    tunnel = tunnel.with_auth(value);
                }
                let https = https.wrap_connector(tunnel);
                Pool::Proxied(builder.build(Timed::new(https, connect_timeout)))
            }
        })
    }

    /// Sends `request` (connecting only while it waits: see `limit`).
    pub(crate) async fn request(
        &self,
        request: http::Request<B>,
    ) -> Result<http::Response<hyper::body::Incoming>, hyper_util::client::legacy::Error> {
        limit::for_request(async {
            match self {
                Pool::Direct(client) => client.request(request).await,
                Pool::Proxied(client) => client.request(with_explicit_port(request)).await,
            }
        })
        .await
    }
}

/// `request` with its URI's port written out when it is plain http's default: hyper-util's
/// tunnel asks the proxy for port 443 when a URI names none, whatever its scheme, and the
/// core leaves a scheme's default port out (`http://127.0.0.1` is port 80). Only the
/// connector reads it: the request goes in origin form, with the core's signed `Host`.
fn with_explicit_port<B>(mut request: http::Request<B>) -> http::Request<B> {
    let uri = request.uri();
    if uri.port().is_some() || uri.scheme() != Some(&http::uri::Scheme::HTTP) {
        return request;
    }
    let Some(host) = uri.host() else {
        return request;
    };
    let mut parts = uri.clone().into_parts();
    match http::uri::Authority::try_from(format!("{host}:80")) {
        Ok(authority) => parts.authority = Some(authority),
        Err(_) => return request,
    }
    if let Ok(uri) = http::Uri::from_parts(parts) {
        *request.uri_mut() = uri;
    }
    request
}

/// An async ShowUserInstances client.
///
/// Build it once (inside a tokio runtime) and share it: it is `Clone + Send + Sync`, and
/// clones share one connection pool. It never holds more than
/// [`ClientConfig::max_connections`] connections open; requests beyond that wait for one.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    /// The credential cache and what refreshes it.
    credentials: Arc<Credentials>,
    /// What the calls share: the service clock's offset, the retry budget, which
    /// endpoints could not be reached.
    shared: Shared,
    /// The project found through IAM when the configuration names none; the lock makes
    /// one caller ask while the others wait.
    project: tokio::sync::Mutex<Option<Arc<PreparedRequests>>>,
    config: ClientConfig,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.inner.config)
            .finish()
    }
}

impl Client {
    /// Builds the client (its TLS configuration and connection pool) from `config`.
    ///
    /// # Errors
    /// [`Error::Config`] when rustls refuses the configured roots or the proxy's
    /// credentials are not header text.
    pub fn new(config: ClientConfig) -> Result<Self, Error> {
        let tls = tls::config(config.trust())?;
        let pool = Pool::new(&config, tls.clone(), config.max_connections())?;
        // IAM and STS (credential sources over the network) go the way KMS calls go, on a
        // pool of their own: a refresh never waits for a KMS connection, nor takes one.
        let remote = Pool::new(&config, tls.clone(), 2)?;
        let credentials = Credentials::new(&config, tls, remote);
        Ok(Client {
            inner: Arc::new(Inner {
                pool,
                credentials,
                shared: Shared::new(&config),
                project: tokio::sync::Mutex::new(None),
                config,
            }),
        })
    }

    /// The configuration the client was built from.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// The project the client calls for: the configured one, or the one found through IAM
    /// (`None` until a call has found it).
    pub fn project(&self) -> Option<kms_proto::ProjectId> {
        match self.inner.config.request() {
            Some(request) => Some(request.project_id().clone()),
            None => self
                .inner
                .project
                .try_lock()
                .ok()
                .and_then(|p| p.as_ref().map(|p| p.project_id().clone())),
        }
    }

    /// The credentials in use (their source and expiry), once a call has needed them.
    pub fn identity(&self) -> Option<Arc<kms_proto::credentials::Identity>> {
        self.inner.credentials.current()
    }

    /// Queries the number of instances (customer master keys) of the configured project.
    ///
    /// Each attempt is signed with the credentials current at that attempt: from the
    /// cache at once while usable ones exist (a refresh due ahead of expiry runs in a task
    /// of its own), else after the one refresh in flight.
    ///
    /// Each attempt is built and signed afresh; retries follow the configured
    /// [`RetryPolicy`](kms_proto::RetryPolicy) within the overall deadline.
    ///
    /// # Errors
    /// [`Error`]: the service's answer, or the transport failure, with the number of
    /// attempts made.
    pub async fn show_user_instances(&self) -> Result<InstanceCount, Error> {
        let config = &self.inner.config;
        let span = span!(Level::INFO, "kms.show_user_instances", endpoint = %config.endpoints());
        async move {
            // A project found by this call, kept here for the call's borrow.
            let discovered = std::sync::OnceLock::new();
            // With what earlier calls learnt: the clock's offset, the budget, the endpoints.
            let mut call = Call::new(config, now()).with_shared(&self.inner.shared);
            loop {
                let identity = match self.inner.credentials.for_attempt(&call).await {
                    Ok(identity) => identity,
                    Err(error) => return Err(call.on_no_credentials(error)),
                };
                if call.needs_project() {
                    let prepared = self.find_project(&mut call, &identity).await?;
                    call.use_project(discovered.get_or_init(|| prepared));
                }
                let attempt = call.start_attempt(now(), identity.credentials())?;
                let attempt_span = span!(
                    Level::DEBUG,
                    "kms.attempt",
                    attempt = attempt.number(),
                    host = attempt.request().uri().authority().map(|a| a.as_str())
                );
                let step = self
                    .attempt(&mut call, attempt)
                    .instrument(attempt_span)
                    .await;
                match step {
                    Step::Done(result) => return result,
                    Step::Retry(delay) => tokio::time::sleep(delay).await,
                }
            }
        }
        .instrument(span)
        .await
    }

    async fn attempt(&self, call: &mut Call<'_>, attempt: Attempt) -> Step {
        let started = Instant::now();
        match self.exchange(attempt).await {
            Err(failure) => {
                warn!(latency_ms = started.elapsed().as_millis() as u64, failure = ?failure.kind(), "attempt failed");
                call.on_failure(failure, now())
            }
            Ok((parts, bytes)) => {
                debug!(
                    status = parts.status.as_u16(),
                    request_id = parts
                        .headers
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok()),
                    latency_ms = started.elapsed().as_millis() as u64,
                    "answer"
                );
                call.on_response(parts.status, &parts.headers, &bytes, now())
            }
        }
    }

    /// The project of the configured region, found through IAM once for the client's life
    /// (calls that need it meanwhile wait for that one request, within their deadline),
    /// or why not.
    async fn find_project(
        &self,
        call: &mut Call<'_>,
        identity: &kms_proto::credentials::Identity,
    ) -> Result<Arc<PreparedRequests>, Error> {
        let left = call.time_left(now());
        let Ok(mut found) = tokio::time::timeout(left, self.inner.project.lock()).await else {
            let failure = TransportFailure::new(TransportErrorKind::Timeout, false);
            return Err(call.on_project_failure(failure));
        };
        if let Some(prepared) = &*found {
            return Ok(Arc::clone(prepared));
        }
        let attempt = call.project_attempt(now(), identity.credentials())?;
        let prepared = match self.exchange(attempt).await {
            Ok((parts, body)) => call.on_project_response(parts.status, &parts.headers, &body)?,
            Err(failure) => return Err(call.on_project_failure(failure)),
        };
        let prepared = Arc::new(prepared);
        *found = Some(Arc::clone(&prepared));
        Ok(prepared)
    }

    /// Sends `attempt` within its timeout and reads at most the body limit plus one byte.
    async fn exchange(
        &self,
        attempt: Attempt,
    ) -> Result<(http::response::Parts, Vec<u8>), TransportFailure> {
        let limit = self.inner.config.max_response_body();
        let (request, timeout) = attempt.into_parts();
        let mut request = request.map(|_| Empty::new());
        // How far the attempt got, should its timeout fire: a connection obtained (new or
        // from the pool), or a connect begun.
        let connection = capture_connection(&mut request);
        let progress = Progress::new();
        let exchange = async {
            let response = self
                .inner
                .pool
                .request(request)
                .await
                .map_err(classify::request_error)?;
            let (parts, body) = response.into_parts();
            let bytes = read_body(body, limit).await?;
            Ok((parts, bytes))
        };
        match tokio::time::timeout(timeout, progress.during(exchange)).await {
            Err(_elapsed) => {
                warn!(timeout_ms = timeout.as_millis() as u64, "attempt timed out");
                let connected = connection.connection_metadata().is_some();
                Err(self.timed_out(connected, progress.began_connecting(), timeout))
            }
            Ok(result) => result,
        }
    }

    /// The attempt's own timeout fired: after a connection was obtained (the request may
    /// have been sent), while connecting (the endpoint was not reached), or before a
    /// connect could begin (every connection of the client was busy: nothing said about
    /// the endpoint). The core says what each means.
    fn timed_out(&self, connected: bool, connecting: bool, timeout: Duration) -> TransportFailure {
        let ms = timeout.as_millis();
        if connected {
            TransportFailure::timed_out(true)
        } else if connecting {
            TransportFailure::timed_out(false).with_source(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no connection was made within the attempt's time ({ms} ms)"),
            ))
        } else {
            // The source says why, as kms-ureq's does: the fix is more connections or a
            // longer timeout.
            TransportFailure::new(TransportErrorKind::Timeout, false).with_source(
                std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!(
                        "all {} connections of the client (max_connections) stayed busy for \
                         the whole attempt timeout ({ms} ms); raise max_connections or the timeout",
                        self.inner.config.max_connections()
                    ),
                ),
            )
        }
    }
}

/// Reads a response body, keeping at most `limit + 1` bytes: one more than allowed is
/// enough to refuse, and nothing beyond is read.
pub(crate) async fn read_body(
    mut body: hyper::body::Incoming,
    limit: usize,
) -> Result<Vec<u8>, TransportFailure> {
    let mut bytes = Vec::new();
    while bytes.len() <= limit {
        match body.frame().await {
            None => break,
            Some(Err(e)) => return Err(classify::body_error(e)),
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    let room = limit + 1 - bytes.len();
                    bytes.extend_from_slice(data.get(..room.min(data.len())).unwrap_or_default());
                }
            }
        }
    }
    Ok(bytes)
}

/// "Now" for the core, made here only: the clocks and a jitter draw for retry backoff.
pub(crate) fn now() -> Now {
    Now::new(SystemTime::now(), Instant::now(), fastrand::f64())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::with_explicit_port;

    #[test]
    fn plain_http_without_a_port_gets_80_and_nothing_else_changes() {
        for (given, sent) in [
            ("http://127.0.0.1/v1.0/p", "http://127.0.0.1:80/v1.0/p"),
            ("http://[::1]/v1.0/p?q=1", "http://[::1]:80/v1.0/p?q=1"),
            (
                "http://127.0.0.1:8080/v1.0/p",
                "http://127.0.0.1:8080/v1.0/p",
            ),
            (
                "https://kms.example.com/v1.0/p",
                "https://kms.example.com/v1.0/p",
            ),
        ] {
            let request = http::Request::get(given).body(()).unwrap();
            assert_eq!(with_explicit_port(request).uri(), sent, "{given}");
        }
    }
}
