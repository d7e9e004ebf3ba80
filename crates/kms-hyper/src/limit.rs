//! A connector that never holds more than N connections open, and never parks a connect
//! that no request is waiting for.
//!
//! Every connection holds a semaphore permit for its whole life, so the number of open
//! connections can never pass the limit: a connect beyond it waits until one closes.
//!
//! The legacy client races a pool checkout against a new connect; when the checkout wins
//! after the connect has started, it spawns the connect into the background "so as not to
//! waste the socket". Waiting for a permit, such a connect would park until some
//! connection closed (with a full pool of idle connections, perhaps never), one task and
//! its memory per lost race, and then open a connection nobody needs. So a connect waits
//! for a permit only while the request that started it still waits: the transport runs
//! each request inside [`for_request`], which tells the connector when the request is
//! done; a connect still without a permit then gives up at once. A connect that already
//! holds a permit finishes and leaves its connection idle in the pool. The bound: at most
//! one connection per request is opened that the request did not use, never more than the
//! limit open at once, and none once every request has its answer.
//!
//! Each connection can also be closed by the attempt that uses it ([`Abort`]): an attempt
//! that times out, or that meets a server flooding informational responses, closes its
//! connection rather than leave hyper's connection task reading from it.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll};

use http::Uri;
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::client::legacy::connect::{CaptureConnection, Connected, Connection};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tower_service::Service;

/// Wraps a connector; see the module docs.
#[derive(Clone)]
pub(crate) struct LimitedConnector<C> {
    inner: C,
    permits: Arc<Semaphore>,
}

impl<C> LimitedConnector<C> {
    pub(crate) fn new(inner: C, max: usize) -> Self {
        LimitedConnector {
            inner,
            permits: Arc::new(Semaphore::new(max.max(1))),
        }
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

tokio::task_local! {
    /// Closed (its sender dropped) once the request being sent no longer waits for a
    /// connection; see the module docs.
    static WAITING: watch::Receiver<()>;
}

/// Runs `request` (a legacy client's request future) so that the connects it starts wait
/// for a connection permit only as long as it runs.
pub(crate) async fn for_request<F: Future>(request: F) -> F::Output {
    let (waiting, receiver) = watch::channel(());
    let output = WAITING.scope(receiver, request).await;
    drop(waiting);
    output
}

/// Why a connect gave up before connecting: the request it was for was served by another
/// connection (or ended) first. Only the legacy client's background task sees it.
#[derive(Debug)]
struct NoLongerWanted;

impl std::fmt::Display for NoLongerWanted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("kms-hyper: connect abandoned: its request was served by another connection")
    }
}

impl std::error::Error for NoLongerWanted {}

impl<C> Service<Uri> for LimitedConnector<C>
where
    C: Service<Uri> + Clone + Send + 'static,
    C::Response: Send,
    C::Error: Into<BoxError>,
    C::Future: Send + 'static,
{
    type Response = Limited<C::Response>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let permits = Arc::clone(&self.permits);
        // Called while the request that needs the connection is being polled; outside
        // `for_request` (no request to follow) the connect waits as long as it takes.
        let waiting = WAITING.try_with(watch::Receiver::clone).ok();
        // Take the connector that was made ready; leave a clone for the next call.
        let mut inner = self.inner.clone();
        std::mem::swap(&mut inner, &mut self.inner);
        Box::pin(async move {
            let closed = || io::Error::other("kms-hyper: connection limiter closed");
            let permit = match waiting {
                None => permits.acquire_owned().await.map_err(|_| closed())?,
                Some(mut waiting) => tokio::select! {
                    // A permit that is free now is taken even if the request just ended:
                    // the connection then waits in the pool for the next request.
                    biased;
                    permit = permits.acquire_owned() => permit.map_err(|_| closed())?,
                    // Nothing is ever sent: this ends when the request's sender is dropped.
                    _ = waiting.changed() => return Err(NoLongerWanted.into()),
                },
            };
            let io = inner.call(uri).await.map_err(Into::into)?;
            Ok(Limited {
                io,
                abort: Abort::default(),
                _permit: permit,
            })
        })
    }
}

/// Why an attempt closed its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum AbortReason {
    /// The attempt timed out.
    TimedOut = 1,
    /// The server sent more informational responses than [`MAX_INFORMATIONAL`] allows.
    TooManyInformational = 2,
}

/// How many informational (`1xx`) responses an attempt accepts before its final answer.
/// Servers send one or two (`100 Continue`, `103 Early Hints`); hyper reads any number
/// without returning to its caller, so an endless stream would keep its connection task
/// busy for as long as the server likes.
pub(crate) const MAX_INFORMATIONAL: usize = 16;

/// Closes a connection from outside its connection task: once set, every read and write
/// of the connection fails, so hyper's connection task ends at its next step (even in the
/// middle of parsing a flood of informational responses, where it would not look at its
/// cancelled request). Reached through the connection's `Connected` extras.
#[derive(Clone, Default)]
pub(crate) struct Abort(Arc<AtomicU8>);

impl Abort {
    /// Closes the connection for `reason` (the first reason given is kept).
    pub(crate) fn abort(&self, reason: AbortReason) {
        let _ = self
            .0
            .compare_exchange(0, reason as u8, Ordering::Relaxed, Ordering::Relaxed);
    }

    fn error(&self) -> Option<io::Error> {
        match self.0.load(Ordering::Relaxed) {
            0 => None,
            1 => Some(io::Error::new(
                io::ErrorKind::TimedOut,
                "kms-hyper: connection closed: the attempt using it timed out",
            )),
            _ => Some(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "the server sent more than {MAX_INFORMATIONAL} informational (1xx) responses \
                     without a final answer"
                ),
            )),
        }
    }
}

/// Closes the connection `capture` saw the request go out on, if it was one of ours.
pub(crate) fn abort_connection(capture: &CaptureConnection, reason: AbortReason) {
    if let Some(connected) = capture.connection_metadata().as_ref() {
        let mut extras = http::Extensions::new();
        connected.get_extras(&mut extras);
        if let Some(abort) = extras.get::<Abort>() {
            abort.abort(reason);
        }
    }
}

/// A connection that gives its permit back when it is dropped, and that its attempt can
/// close ([`Abort`]).
pub(crate) struct Limited<T> {
    io: T,
    abort: Abort,
    _permit: OwnedSemaphorePermit,
}

impl<T: Connection> Connection for Limited<T> {
    fn connected(&self) -> Connected {
        self.io.connected().extra(self.abort.clone())
    }
}

impl<T: Read + Unpin> Read for Limited<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        // No waker is kept: a connection task parked in a read is woken by hyper itself
        // when its request is dropped; only one that keeps reading needs this check.
        if let Some(e) = self.abort.error() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: Write + Unpin> Write for Limited<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if let Some(e) = self.abort.error() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }
}
