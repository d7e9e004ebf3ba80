//! What the emulator remembers of every request, so tests can assert what a client sent.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::SystemTime;

use http::{HeaderMap, Method};

use crate::lock;

/// Headers whose values are secrets: recorded, but marked sensitive so that `Debug` of a
/// [`RecordedRequest`] prints `Sensitive` instead of them.
const SECRET_HEADERS: [&str; 3] = ["authorization", "x-auth-token", "x-security-token"];

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
        let mut headers = parts.headers.clone();
        for name in SECRET_HEADERS {
            if let http::header::Entry::Occupied(mut entry) = headers.entry(name) {
                for value in entry.iter_mut() {
                    value.set_sensitive(true);
                }
            }
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

/// The last [`Recorder::CAPACITY`] requests, oldest first.
#[derive(Debug, Default)]
pub(crate) struct Recorder {
    requests: Mutex<VecDeque<RecordedRequest>>,
}

impl Recorder {
    /// How many requests are kept; older ones are forgotten so that a long-running
    /// emulator's memory stays bounded.
    pub(crate) const CAPACITY: usize = 10_000;

    pub(crate) fn push(&self, request: RecordedRequest) {
        let mut requests = lock(&self.requests);
        if requests.len() == Self::CAPACITY {
            requests.pop_front();
        }
        requests.push_back(request);
    }

    pub(crate) fn snapshot(&self) -> Vec<RecordedRequest> {
        lock(&self.requests).iter().cloned().collect()
    }

    pub(crate) fn clear(&self) {
        lock(&self.requests).clear();
    }
}
