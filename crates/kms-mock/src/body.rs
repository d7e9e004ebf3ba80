//! Response bodies that can stall, stop short, or go on for ever without being held in memory.

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

/// One step of a scripted body.
pub(crate) enum Step {
    /// Send these bytes.
    Data(Bytes),
    /// Pause.
    Sleep(Duration),
    /// Fail the body: hyper then closes the connection mid-response.
    Fail,
    /// Send `chunk` over and over, `remaining` bytes in all (`None`: for ever).
    Repeat {
        chunk: Bytes,
        remaining: Option<u64>,
    },
}

/// The body of every emulator response.
pub(crate) struct MockBody {
    steps: VecDeque<Step>,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    exact_len: Option<u64>,
}

impl MockBody {
    /// A body sent whole.
    pub(crate) fn full(bytes: impl Into<Bytes>) -> Self {
        let bytes = bytes.into();
        MockBody {
            exact_len: Some(bytes.len() as u64),
            steps: VecDeque::from([Step::Data(bytes)]),
            sleep: None,
        }
    }

    /// A body sent step by step; its length is whatever the headers declare.
    pub(crate) fn scripted(steps: impl IntoIterator<Item = Step>) -> Self {
        MockBody {
            steps: steps.into_iter().collect(),
            sleep: None,
            exact_len: None,
        }
    }
}

impl Body for MockBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        loop {
            if let Some(sleep) = self.sleep.as_mut() {
                if sleep.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                self.sleep = None;
            }
            let this = &mut *self;
            match this.steps.front_mut() {
                None => return Poll::Ready(None),
                Some(Step::Data(bytes)) => {
                    let bytes = std::mem::take(bytes);
                    this.steps.pop_front();
                    if !bytes.is_empty() {
                        return Poll::Ready(Some(Ok(Frame::data(bytes))));
                    }
                }
                Some(Step::Sleep(duration)) => {
                    this.sleep = Some(Box::pin(tokio::time::sleep(*duration)));
                    this.steps.pop_front();
                }
                Some(Step::Fail) => {
                    this.steps.clear();
                    return Poll::Ready(Some(Err(io::Error::other(
                        "kms-mock: scripted close in the middle of the body",
                    ))));
                }
                Some(Step::Repeat { chunk, remaining }) => match remaining {
                    None => return Poll::Ready(Some(Ok(Frame::data(chunk.clone())))),
                    Some(0) => {
                        this.steps.pop_front();
                    }
                    Some(left) => {
                        let take = usize::try_from(*left)
                            .unwrap_or(usize::MAX)
                            .min(chunk.len());
                        *left -= take as u64;
                        return Poll::Ready(Some(Ok(Frame::data(chunk.slice(..take)))));
                    }
                },
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.steps.is_empty() && self.sleep.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        match self.exact_len {
            Some(len) => SizeHint::with_exact(len),
            None => SizeHint::default(),
        }
    }
}
