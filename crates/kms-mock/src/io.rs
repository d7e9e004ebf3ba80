//! A connection wrapper that lets a handler replace or suppress what hyper writes, for the
//! faults hyper itself would never commit: closing before any response, sending bytes
//! that are not HTTP, or sending informational responses for ever.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::lock;

/// What the connection does with the next bytes hyper writes.
#[derive(Debug, Clone, Default)]
pub(crate) enum Output {
    /// Pass them through.
    #[default]
    Normal,
    /// Send nothing and close.
    Close,
    /// Send these bytes instead, then close.
    Replace(Bytes),
    /// Send these bytes instead, again and again with [`REPEAT_PAUSE`] between, until the
    /// peer goes away.
    Repeat(Bytes),
}

/// The pause between two sends of [`Output::Repeat`]: a steady stream, without keeping a
/// CPU busy for as long as a client stays.
const REPEAT_PAUSE: Duration = Duration::from_millis(1);

/// Shared between a connection's IO and its request handler.
pub(crate) type OutputControl = Arc<Mutex<Output>>;

pub(crate) struct FaultIo<T> {
    inner: T,
    control: OutputControl,
    /// Bytes of a replacement still to write.
    pending: Option<Bytes>,
    /// What to send again once `pending` is written ([`Output::Repeat`]).
    repeat: Option<Bytes>,
    /// The pause before sending `repeat` again.
    pause: Option<Pin<Box<tokio::time::Sleep>>>,
    closing: bool,
}

impl<T> FaultIo<T> {
    pub(crate) fn new(inner: T, control: OutputControl) -> Self {
        FaultIo {
            inner,
            control,
            pending: None,
            repeat: None,
            pause: None,
            closing: false,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for FaultIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for FaultIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if !this.closing {
            match std::mem::take(&mut *lock(&this.control)) {
                Output::Normal => return Pin::new(&mut this.inner).poll_write(cx, buf),
                Output::Close => this.closing = true,
                Output::Replace(bytes) => {
                    this.closing = true;
                    this.pending = Some(bytes);
                }
                Output::Repeat(bytes) => {
                    this.closing = true;
                    this.pending = Some(bytes.clone());
                    this.repeat = Some(bytes);
                }
            }
        }
        // Write the replacement (if any, as often as it repeats), shut the connection, and
        // fail hyper's write so that it drops the connection instead of carrying on.
        loop {
            while let Some(pending) = this.pending.as_mut().filter(|p| !p.is_empty()) {
                match Pin::new(&mut this.inner).poll_write(cx, pending) {
                    // The peer is gone (or the socket broken): nothing more to send.
                    Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => {
                        this.pending = None;
                        this.repeat = None;
                    }
                    Poll::Ready(Ok(n)) => {
                        let _ = pending.split_to(n.min(pending.len()));
                    }
                    Poll::Pending => return Poll::Pending,
                }
            }
            this.pending = None;
            let Some(repeat) = this.repeat.clone() else {
                break;
            };
            if this.pause.is_none() {
                // Push what was written out (TLS buffers it) before pausing.
                match Pin::new(&mut this.inner).poll_flush(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Err(_)) => {
                        this.repeat = None;
                        break;
                    }
                    Poll::Ready(Ok(())) => {}
                }
            }
            let pause = this
                .pause
                .get_or_insert_with(|| Box::pin(tokio::time::sleep(REPEAT_PAUSE)));
            if pause.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            this.pause = None;
            this.pending = Some(repeat);
        }
        match Pin::new(&mut this.inner).poll_shutdown(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(_) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "kms-mock: scripted connection close",
            ))),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
