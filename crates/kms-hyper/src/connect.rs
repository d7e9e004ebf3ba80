//! Connecting within the connect timeout, the TLS handshake included, and knowing how far
//! an attempt got when its own timeout fired.
//!
//! hyper-util's `HttpConnector` bounds each TCP connect by the connect timeout, and
//! `resolve` bounds the name lookup; nothing bounds a proxy's tunnel or the TLS handshake
//! above them, so an endpoint that accepts TCP and never answers the client hello held an
//! attempt until its own timeout, reported as a timeout after which the request "may have
//! been sent", and a client with several endpoints never moved on. Here:
//! - [`Marked`], under the connection limit (so after a connection permit: a wait for a
//!   free connection is not connecting), notes when the attempt's connect begins;
//! - [`Timed`], above TLS, bounds the whole connect (lookup, TCP, tunnel, handshake) by
//!   the connect timeout counted from that mark; failing it is a connect error, nothing
//!   sent, as kms-ureq reports it;
//! - [`Progress`] is what the attempt reads when its own timeout fires first: whether it
//!   had begun connecting (the transport adds whether a connection was obtained, from
//!   hyper-util's `capture_connection`), so the core can say what it means
//!   (`TransportFailure::timed_out`).
//!
//! The two connectors find the attempt's [`Progress`] in a task-local value set around the
//! request ([`Progress::during`]), and around the connect itself, since the legacy client
//! may finish a connect in a task of its own once its request was served by another
//! connection.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http::Uri;
use tokio::sync::Notify;
use tower_service::Service;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

tokio::task_local! {
    /// The progress of the attempt whose connection is being made.
    static ATTEMPT: Arc<Progress>;
}

/// How far one attempt got in making its connection. One allocation per attempt (the
/// `Arc`): every KMS attempt makes one.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    /// When its connect began, once it has.
    began: OnceLock<Instant>,
    /// Woken when it begins.
    began_notify: Notify,
}

impl Progress {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Progress::default())
    }

    /// Runs `attempt` (the request, and its body) so that the connect it starts reports here.
    pub(crate) async fn during<F: Future>(self: &Arc<Self>, attempt: F) -> F::Output {
        ATTEMPT.scope(Arc::clone(self), attempt).await
    }

    /// Whether the attempt began connecting (it had a connection permit).
    pub(crate) fn began_connecting(&self) -> bool {
        self.began.get().is_some()
    }

    fn mark(&self) {
        if self.began.set(Instant::now()).is_ok() {
            self.began_notify.notify_waiters();
        }
    }

    /// When the connect began, once it has.
    async fn began(&self) -> Instant {
        loop {
            let notified = self.began_notify.notified();
            tokio::pin!(notified);
            // Registered before the check: a mark between the two still wakes it.
            notified.as_mut().enable();
            if let Some(since) = self.began.get() {
                return *since;
            }
            notified.await;
        }
    }
}

/// Notes, in the attempt's [`Progress`], that its connect begins; wraps the TCP connector
/// under the connection limit.
#[derive(Clone)]
pub(crate) struct Marked<C>(pub(crate) C);

impl<C: Service<Uri>> Service<Uri> for Marked<C> {
    type Response = C::Response;
    type Error = C::Error;
    type Future = C::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), C::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, uri: Uri) -> C::Future {
        // Outside an attempt (never, through `Timed`) there is nothing to note.
        let _ = ATTEMPT.try_with(|progress| progress.mark());
        self.0.call(uri)
    }
}

/// Bounds a whole connect (lookup, TCP, a proxy's tunnel, TLS) by the connect timeout,
/// counted from when it began; wraps the TLS connector.
#[derive(Clone)]
pub(crate) struct Timed<C> {
    inner: C,
    timeout: Duration,
}

impl<C> Timed<C> {
    pub(crate) fn new(inner: C, timeout: Duration) -> Self {
        Timed { inner, timeout }
    }
}

/// No connection within the connect timeout.
#[derive(Debug)]
struct NotConnected(Duration);

impl std::fmt::Display for NotConnected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "no connection (name lookup, TCP connect, proxy tunnel and TLS handshake) within \
             the connect timeout ({} ms)",
            self.0.as_millis()
        )
    }
}

impl std::error::Error for NotConnected {}

impl<C> Service<Uri> for Timed<C>
where
    C: Service<Uri>,
    C::Future: Send + 'static,
    C::Response: Send + 'static,
    C::Error: Into<BoxError>,
{
    type Response = C::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<C::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        // The attempt's progress, or one of the connect's own when the legacy client
        // connects outside any attempt.
        let progress = ATTEMPT
            .try_with(Arc::clone)
            .unwrap_or_else(|_| Progress::new());
        let timeout = self.timeout;
        let connect = ATTEMPT.sync_scope(Arc::clone(&progress), || self.inner.call(uri));
        Box::pin(async move {
            let connect = ATTEMPT.scope(Arc::clone(&progress), connect);
            tokio::pin!(connect);
            // Until it begins (a connection permit first, see `limit`), the wait is for a
            // free connection, which the attempt's own timeout bounds.
            let since = tokio::select! {
                biased;
                done = &mut connect => return done.map_err(Into::into),
                since = progress.began() => since,
            };
            let until = tokio::time::Instant::from_std(since + timeout);
            match tokio::time::timeout_at(until, connect).await {
                Ok(done) => done.map_err(Into::into),
                Err(_elapsed) => Err(Box::new(io::Error::new(
                    io::ErrorKind::TimedOut,
                    NotConnected(timeout),
                ))),
            }
        })
    }
}
