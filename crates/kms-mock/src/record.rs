//! What the emulator remembers of every request, so tests can assert what a client sent.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::SystemTime;

use http::{HeaderMap, HeaderValue, Method};

use crate::lock;

/// Headers whose values are secrets: recorded, but marked sensitive so that `Debug` of a
/// [`RecordedRequest`] prints `Sensitive` instead of them.
const SECRET_HEADERS: [&str; 5] = [
    "authorization",
    "x-auth-token",
    "x-security-token",
    "x-metadata-token",
    "x-subject-token",
];

/// One request as the emulator received it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// The method.
    pub method: Method,
    /// The path and query, as received.
    pub path_and_query: String,
    /// The headers, as received (secret ones marked sensitive).
    pub headers: HeaderMap,
    /// The length of the body received.
    pub body_len: usize,
    /// When it arrived (the emulator's clock).
    pub received_at: SystemTime,
    /// Which connection it came on: connections are numbered from 1 in accept order.
    pub connection_id: u64,
    /// The `X-Request-Id` the emulator answered it with.
    pub request_id: String,
}

impl RecordedRequest {
    pub(crate) fn new(
        parts: &http::request::Parts,
        body_len: usize,
        received_at: SystemTime,
        connection_id: u64,
        request_id: String,
    ) -> Self {
        // Every value is copied into an allocation of its own: hyper's values are slices of
        // its read buffer, and keeping them would keep whole buffers alive, several times
        // what the recorder counts. A fresh map is also sized for these headers only, where
        // a clone would copy the spare capacity of hyper's reused map.
        let mut headers = HeaderMap::with_capacity(parts.headers.len());
        for (name, value) in &parts.headers {
            let mut copy =
                HeaderValue::from_bytes(value.as_bytes()).unwrap_or_else(|_| value.clone());
            copy.set_sensitive(value.is_sensitive() || SECRET_HEADERS.contains(&name.as_str()));
            headers.append(name.clone(), copy);
        }
        RecordedRequest {
            method: parts.method.clone(),
            path_and_query: parts
                .uri
                .path_and_query()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_else(|| parts.uri.path().to_owned()),
            headers,
            body_len,
            received_at,
            connection_id,
            request_id,
        }
    }

    /// The path without the query.
    pub fn path(&self) -> &str {
        self.path_and_query
            .split_once('?')
            .map_or(self.path_and_query.as_str(), |(p, _)| p)
    }

    /// A header's value as text, if present and printable.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// The most recent requests, oldest first, within [`MAX_RECORDED_REQUESTS`] and
/// [`MAX_RECORDED_BYTES`].
#[derive(Debug, Default)]
pub(crate) struct Recorder {
    kept: Mutex<Kept>,
}

#[derive(Debug, Default)]
struct Kept {
    /// Each request with its [`cost`].
    requests: VecDeque<(RecordedRequest, usize)>,
    /// The sum of the costs in `requests`.
    bytes: usize,
}

/// At most this many bytes of requests are recorded; see
/// [`MockServer::requests`](crate::MockServer::requests) for how they are counted.
pub const MAX_RECORDED_BYTES: usize = 8 * 1024 * 1024;

/// At most this many requests are recorded; see
/// [`MockServer::requests`](crate::MockServer::requests).
pub const MAX_RECORDED_REQUESTS: usize = 10_000;

/// What a recorded request is counted as, beyond its text, for the map and vectors that
/// hold it: rough sizes of the structures on a 64-bit target, so that a flood of tiny
/// requests is bounded too.
const COST_PER_REQUEST: usize = 256;
/// The same for each header (the map's entry and index, and the copied value's allocation).
const COST_PER_HEADER: usize = 128;

/// The bytes a recorded request is counted as: its path and query, request id and header
/// names and values, plus the fixed estimates above.
fn cost(request: &RecordedRequest) -> usize {
    let headers: usize = request
        .headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + COST_PER_HEADER)
        .sum();
    COST_PER_REQUEST + request.path_and_query.len() + request.request_id.len() + headers
}

impl Recorder {
    /// Records `request`, forgetting the oldest ones as needed to stay within both bounds
    /// so that a long-running emulator's memory stays bounded.
    pub(crate) fn push(&self, request: RecordedRequest) {
        let cost = cost(&request);
        let mut kept = lock(&self.kept);
        while kept.requests.len() >= MAX_RECORDED_REQUESTS
            || (!kept.requests.is_empty() && kept.bytes.saturating_add(cost) > MAX_RECORDED_BYTES)
        {
            if let Some((_, forgotten)) = kept.requests.pop_front() {
                kept.bytes = kept.bytes.saturating_sub(forgotten);
            }
        }
        // A single request larger than the bound cannot occur (heads are at most
        // MAX_REQUEST_HEAD); were it to, it would be the only one kept.
        kept.requests.push_back((request, cost));
        kept.bytes = kept.bytes.saturating_add(cost);
    }

    pub(crate) fn snapshot(&self) -> Vec<RecordedRequest> {
        lock(&self.kept)
            .requests
            .iter()
            .map(|(request, _)| request.clone())
            .collect()
    }

    pub(crate) fn clear(&self) {
        let mut kept = lock(&self.kept);
        kept.requests.clear();
        kept.bytes = 0;
    }
}
