//! What every layer shares with a transport, and imports nothing of the crate: "now" (the
//! clocks and a jitter draw, made by a transport in one place) and what a transport reports
//! when an exchange got no answer.

use std::error::Error as StdError;
use std::time::{Instant, SystemTime};

/// "Now", for one event of a call: the wall clock, the monotonic clock and a jitter draw.
///
/// The core reads no clock and draws no random number; a transport makes this value in
/// one place and passes it to every event.
#[derive(Debug, Clone, Copy)]
pub struct Now {
    wall: SystemTime,
    monotonic: Instant,
    jitter: f64,
}

impl Now {
    /// `wall` signs requests and reads `Retry-After` dates; `monotonic` measures timeouts
    /// and the deadline; `jitter`, a uniform draw in `[0, 1)`, spreads retry delays (other
    /// values are clamped into that range; NaN counts as 0).
    pub fn new(wall: SystemTime, monotonic: Instant, jitter: f64) -> Self {
        let jitter = if jitter.is_nan() {
            0.0
        } else {
            jitter.clamp(0.0, 1.0)
        };
        Now {
            wall,
            monotonic,
            jitter,
        }
    }

    /// The wall clock.
    pub fn wall(&self) -> SystemTime {
        self.wall
    }

    /// The monotonic clock.
    pub fn monotonic(&self) -> Instant {
        self.monotonic
    }

    /// The jitter draw, in `[0, 1]`.
    pub fn jitter(&self) -> f64 {
        self.jitter
    }
}

/// What a transport observed when an attempt gave no response to parse.
#[derive(Debug)]
pub struct TransportFailure {
    kind: TransportErrorKind,
    may_have_been_sent: bool,
    source: Option<Box<dyn StdError + Send + Sync + 'static>>,
}

impl TransportFailure {
    /// A failure of `kind`. `may_have_been_sent` is `false` only when no byte of the
    /// request can have left (DNS, connect and TLS handshake failures).
    pub fn new(kind: TransportErrorKind, may_have_been_sent: bool) -> Self {
        TransportFailure {
            kind,
            may_have_been_sent,
            source: None,
        }
    }

    /// How the attempt failed.
    pub fn kind(&self) -> TransportErrorKind {
        self.kind
    }

    /// Whether the request may have been sent.
    pub fn may_have_been_sent(&self) -> bool {
        self.may_have_been_sent
    }

    /// The attempt's time ran out: its own timeout, the call's deadline or the connect
    /// timeout, whichever fired first. `connected` says whether a connection to the
    /// endpoint (its name lookup, a proxy's tunnel and the TLS handshake included) had been
    /// established by then, a fact the transport knows and the meaning of which is decided
    /// here:
    /// - not connected: nothing was sent and the endpoint could not be reached, so it is a
    ///   [`Connect`](TransportErrorKind::Connect) failure, and a call with several endpoints
    ///   moves on, whichever timer fired;
    /// - connected: the request may have been sent and only its answer was late, a
    ///   [`Timeout`](TransportErrorKind::Timeout).
    ///
    /// (A wait for a free connection of the client's own pool is neither: a transport
    /// reports it as a `Timeout` that was not sent, which says nothing about the endpoint.)
    pub fn timed_out(connected: bool) -> Self {
        if connected {
            TransportFailure::new(TransportErrorKind::Timeout, true)
        } else {
            TransportFailure::new(TransportErrorKind::Connect, false)
        }
    }

    /// The exchange's time ran out while connecting (name lookup, TCP, a proxy's tunnel,
    /// TLS) after `waited`: [`timed_out(false)`](Self::timed_out), saying so.
    pub fn connect_timed_out(waited: std::time::Duration) -> Self {
        let ms = waited.as_millis();
        Self::timed_out(false).with_source(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("no connection was made within the exchange's time ({ms} ms)"),
        ))
    }

    /// None of the `max` connections of the client's own pool became free within `waited`:
    /// a [`Timeout`](TransportErrorKind::Timeout), not sent, which says nothing about the
    /// endpoint. Its source says so (for `-v` and `source()`): the fix is more connections
    /// or a longer timeout, not another endpoint.
    pub fn no_free_connection(max: usize, waited: std::time::Duration) -> Self {
        let ms = waited.as_millis();
        TransportFailure::new(TransportErrorKind::Timeout, false).with_source(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!(
                "all {max} connections of the client (max_connections) stayed busy for the \
                 whole attempt timeout ({ms} ms); raise max_connections or the timeout"
            ),
        ))
    }

    /// Attaches the underlying error, reachable through [`Error::source`](StdError::source).
    pub fn with_source(
        mut self,
        source: impl Into<Box<dyn StdError + Send + Sync + 'static>>,
    ) -> Self {
        self.source = Some(source.into());
        self
    }

    /// Its parts, for the error that ends a call.
    pub(crate) fn into_parts(
        self,
    ) -> (
        TransportErrorKind,
        bool,
        Option<Box<dyn StdError + Send + Sync + 'static>>,
    ) {
        (self.kind, self.may_have_been_sent, self.source)
    }

    /// The underlying error, if one was attached.
    pub(crate) fn cause(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

/// How an attempt failed without a usable response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// The connection could not be made (DNS, refused, unreachable, connect timeout, proxy).
    Connect,
    /// The TLS handshake failed (untrusted certificate, wrong name, protocol).
    Tls,
    /// The attempt timeout or the overall deadline passed.
    Timeout,
    /// The connection failed after it was made (reset, closed early, not HTTP).
    Io,
    /// The configured proxy refused its credentials (`407 Proxy Authentication Required`
    /// to the `CONNECT`): nothing reached the endpoint, and no retry can change it.
    ProxyAuth,
}

impl TransportErrorKind {
    /// A stable lower-case name: `connect`, `tls`, `timeout`, `io` or `proxy_auth`.
    pub fn as_str(self) -> &'static str {
        match self {
            TransportErrorKind::Connect => "connect",
            TransportErrorKind::Tls => "tls",
            TransportErrorKind::Timeout => "timeout",
            TransportErrorKind::Io => "io",
            TransportErrorKind::ProxyAuth => "proxy_auth",
        }
    }

    /// Whether another attempt may go better. Not after the proxy refused its
    /// credentials: they are the same at every attempt and every endpoint, and each
    /// refusal may count towards the proxy locking the account out.
    pub fn is_retryable(self) -> bool {
        match self {
            TransportErrorKind::Connect
            | TransportErrorKind::Tls
            | TransportErrorKind::Timeout
            | TransportErrorKind::Io => true,
            TransportErrorKind::ProxyAuth => false,
        }
    }
}
