//! What the machine asks of a transport, as values.

use std::time::{Duration, Instant};

use http::Request;

use super::refresh::RefreshJob;
use crate::call::Error;

/// What a call needs next. A transport matches every variant (not `#[non_exhaustive]`, on
/// purpose: a variant added later must fail to compile in a transport, not be ignored).
#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "moved once per step; a box would cost an allocation per attempt"
)]
pub enum Io<T> {
    /// Send this request within its timeout, on its route; report the answer with
    /// [`ClientCall::on_response`](super::ClientCall::on_response) or the failure with
    /// [`ClientCall::on_failure`](super::ClientCall::on_failure), then poll again.
    Send(Exchange),
    /// Run this credential refresh apart from the call (a thread, a task), to its end,
    /// then [`Client::on_refreshed`](super::Client::on_refreshed) and wake the calls that
    /// wait. Poll again at once: the call goes on with the credentials it has, or waits.
    Refresh(RefreshJob),
    /// Sleep until this instant (a retry's backoff), then poll again.
    Sleep(Instant),
    /// Wait until another call reports (a refresh, the project found), or until
    /// [`Wait::until`], whichever comes first, then poll again.
    Wait(Wait),
    /// This call reported something other calls may wait for: wake them (`notify_all`,
    /// `notify_waiters`), then poll again.
    Wake,
    /// The call is over.
    Done(Result<T, Error>),
}

/// A wait for another call's report. See [`Io::Wait`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wait {
    pub(super) until: Instant,
    pub(super) seen: u64,
}

impl Wait {
    /// The latest instant to wait until (the call's deadline, or when a claim lapses).
    pub fn until(&self) -> Instant {
        self.until
    }

    /// The client's report count when the machine decided to wait: a wait is over as soon
    /// as [`Client::reports`](super::Client::reports) differs from it. Check it after
    /// arming the wake-up (under the lock the waker takes, or after `Notified::enable`), so
    /// that a report made between the poll and the wait is never missed.
    pub fn seen(&self) -> u64 {
        self.seen
    }
}

/// The connection rules of an exchange: which pool, proxy and trusted roots it goes
/// through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    /// KMS: the client's pool and its connection limit
    /// ([`ClientConfig::max_connections`](crate::ClientConfig::max_connections)), its proxy
    /// and trusted roots, its connect timeout.
    Kms,
    /// IAM or STS (a credential source, project discovery): the client's proxy, trusted
    /// roots and connect timeout, on connections of their own, so that a refresh never
    /// waits for a KMS connection.
    Cloud,
    /// A service on the instance or node (ECS metadata, CCE pod identity): never through
    /// the proxy, connecting within
    /// [`SOURCE_CONNECT_TIMEOUT`](crate::credentials::SOURCE_CONNECT_TIMEOUT).
    Local,
}

/// One HTTP exchange to make: send the request, read at most [`read_limit`](Self::read_limit)
/// bytes of the body, all within [`timeout`](Self::timeout), never following a redirect.
pub struct Exchange {
    pub(super) request: Request<Vec<u8>>,
    pub(super) timeout: Duration,
    pub(super) route: Route,
    pub(super) read_limit: usize,
}

/// The method, URI, route and limits: bodies carry identity tokens and passwords, and
/// secret headers are marked sensitive.
impl std::fmt::Debug for Exchange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exchange")
            .field("method", self.request.method())
            .field("uri", self.request.uri())
            .field("body_len", &self.request.body().len())
            .field("timeout", &self.timeout)
            .field("route", &self.route)
            .field("read_limit", &self.read_limit)
            .finish()
    }
}

impl Exchange {
    /// The request (absolute URI, every header, secrets marked sensitive).
    pub fn request(&self) -> &Request<Vec<u8>> {
        &self.request
    }

    /// How long the exchange may take, from sending to the last byte of the body.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Where it goes, and so how it connects.
    pub fn route(&self) -> Route {
        self.route
    }

    /// The most body bytes to read: the machine's limit plus one, so that a body over the
    /// limit is seen as such.
    pub fn read_limit(&self) -> usize {
        self.read_limit
    }

    /// The request, its timeout and route, to send.
    pub fn into_parts(self) -> (Request<Vec<u8>>, Duration, Route) {
        (self.request, self.timeout, self.route)
    }
}
