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
//! Each connection also bounds what it reads: at most [`READ_BUDGET`] bytes after each
//! request it writes. hyper parses any number of informational (`1xx`) responses in one
//! go, without looking at a request that was dropped meanwhile, so a server flooding them
//! would keep the connection task busy long after the attempt timed out; no answer of
//! this API comes near the budget, so a connection that passes it fails, and its task ends.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::Uri;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
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

impl<C, S> Service<Uri> for LimitedConnector<C>
where
    C: Service<Uri, Response = TokioIo<S>> + Clone + Send + 'static,
    S: Send,
    C::Error: Into<BoxError>,
    C::Future: Send + 'static,
{
    type Response = TokioIo<Limited<S>>;
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
            // Counting needs tokio's `ReadBuf` (how much a read filled): wrap the socket
            // inside the adapter, not around it.
            Ok(TokioIo::new(Limited {
                io: io.into_inner(),
                read: 0,
                _permit: permit,
            }))
        })
    }
}

/// How many bytes a connection may read after writing a request, before it fails:
/// 256 KiB. An answer the transport can act on is at most a head twice
/// [`MAX_RESPONSE_HEAD`](kms_proto::MAX_RESPONSE_HEAD) (hyper's own bound) and a body of
/// [`MAX_RESPONSE_BODY`](kms_proto::MAX_RESPONSE_BODY) plus one byte: 192 KiB and a byte,
/// leaving room for chunked framing and a few informational answers.
pub(crate) const READ_BUDGET: usize =
    2 * kms_proto::MAX_RESPONSE_HEAD + kms_proto::MAX_RESPONSE_BODY + 64 * 1024;

/// The error of a read past [`READ_BUDGET`].
#[derive(Debug)]
struct OverBudget;

impl std::fmt::Display for OverBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the server sent more than {} KiB without an answer this client can use \
             (a flood of informational responses?)",
            READ_BUDGET / 1024
        )
    }
}

impl std::error::Error for OverBudget {}

/// A connection that gives its permit back when it is dropped and reads at most
/// [`READ_BUDGET`] bytes per request it writes.
pub(crate) struct Limited<T> {
    io: T,
    /// Bytes read since the last write.
    read: usize,
    _permit: OwnedSemaphorePermit,
}

impl<T: Connection> Connection for Limited<T> {
    fn connected(&self) -> Connected {
        self.io.connected()
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Limited<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.read > READ_BUDGET {
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, OverBudget)));
        }
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        let read = buf.filled().len().saturating_sub(before);
        self.read = self.read.saturating_add(read);
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Limited<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        // A request going out: what comes back next is its answer.
        self.read = 0;
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
        self.read = 0;
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }
}
