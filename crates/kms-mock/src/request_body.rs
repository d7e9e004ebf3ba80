//! Reading a request body within its limits, and the answer to one that breaks them.

use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use http_body::Body as _;
use http_body_util::BodyExt;
use hyper::body::Incoming;

use crate::answer::Answer;

/// The largest request body read, in bytes; a larger one gets 413.
pub const MAX_REQUEST_BODY: usize = 64 * 1024;

/// Why a request body could not be used.
pub(crate) enum BodyProblem {
    TooLarge,
    Malformed,
    /// It did not arrive within the body read timeout.
    TimedOut,
}

impl BodyProblem {
    /// The gateway's answer; `timeout` is the body read timeout it names.
    pub(crate) fn answer(&self, timeout: Duration, request_id: &str) -> Answer {
        match self {
            BodyProblem::TooLarge => Answer::gateway(
                StatusCode::PAYLOAD_TOO_LARGE,
                "APIGW.0201",
                "Request entity too large",
                request_id,
            ),
            BodyProblem::Malformed => Answer::gateway(
                StatusCode::BAD_REQUEST,
                "APIGW.0201",
                "Bad request: the request body could not be read",
                request_id,
            ),
            BodyProblem::TimedOut => {
                let mut answer = Answer::gateway(
                    StatusCode::REQUEST_TIMEOUT,
                    "APIGW.0201",
                    &format!("Request timeout: the request body did not arrive within {timeout:?}"),
                    request_id,
                );
                // The rest of the body may still come; the connection cannot be reused.
                answer.close = true;
                answer
            }
        }
    }
}

/// Reads a request body: at most [`MAX_REQUEST_BODY`] bytes, all of it within `timeout` of
/// the call (a deadline for the whole body, so that a byte now and then cannot stretch it).
/// Returns how many bytes arrived (`MAX_REQUEST_BODY + 1` for a body over the limit) and
/// the body or why it is unusable.
pub(crate) async fn read_body(
    mut body: Incoming,
    timeout: Duration,
) -> (usize, Result<Bytes, BodyProblem>) {
    if body.size_hint().lower() > MAX_REQUEST_BODY as u64 {
        // A declared length over the limit is refused without reading any of it.
        return (MAX_REQUEST_BODY + 1, Err(BodyProblem::TooLarge));
    }
    // A timeout too large to add to now is no timeout.
    let deadline = tokio::time::Instant::now().checked_add(timeout);
    let mut collected = bytes::BytesMut::new();
    loop {
        let next = match deadline {
            Some(deadline) => tokio::time::timeout_at(deadline, body.frame()).await,
            None => Ok(body.frame().await),
        };
        let frame = match next {
            Ok(Some(Ok(frame))) => frame,
            Ok(None) => return (collected.len(), Ok(collected.freeze())),
            Ok(Some(Err(_))) => return (collected.len(), Err(BodyProblem::Malformed)),
            Err(_elapsed) => return (collected.len(), Err(BodyProblem::TimedOut)),
        };
        // Trailers are ignored.
        if let Ok(data) = frame.into_data() {
            if collected.len().saturating_add(data.len()) > MAX_REQUEST_BODY {
                return (MAX_REQUEST_BODY + 1, Err(BodyProblem::TooLarge));
            }
            collected.extend_from_slice(&data);
        }
    }
}
