//! How a call ends without a count: [`Error`], its [`ErrorKind`], and what a transport
//! reports of a failed attempt ([`TransportFailure`]).

use std::error::Error as StdError;
use std::fmt;

use http::StatusCode;

use crate::credentials::CredentialError;
use crate::transport::{TransportErrorKind, TransportFailure};
use crate::{InvalidInput, ResponseError, ResponseErrorKind};

/// Why a call gave no count.
///
/// `Display` is one sentence saying what happened and what to do; the underlying error
/// (`hyper`'s, `ureq`'s, `serde_json`'s...) is reached through [`source`](StdError::source).
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The configuration was refused before anything was sent.
    Config(InvalidInput),
    /// The service answered, without a count.
    Response {
        /// What the answer said.
        error: ResponseError,
        /// How many attempts were made.
        attempts: u32,
    },
    /// No usable answer arrived.
    Transport(TransportError),
    /// There were no credentials to sign with: the source failed, or they expired and
    /// could not be refreshed.
    Credentials {
        /// Why.
        error: CredentialError,
        /// How many attempts were made before (0: none was sent).
        attempts: u32,
    },
    /// No project id was given and IAM did not name exactly one for the region.
    Project {
        /// Why (boxed: it is larger than the other variants).
        error: Box<crate::operation::projects::DiscoveryError>,
    },
}

/// A call that ended without a usable answer.
#[derive(Debug)]
pub struct TransportError {
    /// Set when a retry was due but the client's retry budget could not pay for it.
    budget_exhausted: bool,
    kind: TransportErrorKind,
    may_have_been_sent: bool,
    attempts: u32,
    deadline: bool,
    /// With several endpoints: how many were tried, of how many, and the last one.
    endpoints: Option<Box<(u32, usize, String)>>,
    source: Option<Box<dyn StdError + Send + Sync + 'static>>,
}

impl TransportError {
    /// The end of a call whose last attempt failed so, after `attempts` attempts;
    /// `deadline` says the overall deadline, not the attempt timeout, cut it short.
    pub(crate) fn new(failure: TransportFailure, attempts: u32, deadline: bool) -> Self {
        let (kind, may_have_been_sent, source) = failure.into_parts();
        TransportError {
            budget_exhausted: false,
            kind,
            may_have_been_sent,
            attempts,
            deadline,
            endpoints: None,
            source,
        }
    }

    /// With several endpoints: the attempts went to `tried` of the `of` endpoints, the last
    /// to `last`.
    pub(crate) fn with_endpoints(mut self, tried: u32, of: usize, last: String) -> Self {
        self.endpoints = Some(Box::new((tried, of, last)));
        self
    }

    /// With several endpoints: how many of them the call's attempts went to, and the
    /// endpoint of the last attempt.
    pub fn endpoints_tried(&self) -> Option<(u32, &str)> {
        self.endpoints
            .as_deref()
            .map(|(tried, _, last)| (*tried, last.as_str()))
    }

    /// How the last attempt failed.
    pub fn kind(&self) -> TransportErrorKind {
        self.kind
    }

    /// Whether the last attempt's request may have reached the service.
    pub fn may_have_been_sent(&self) -> bool {
        self.may_have_been_sent
    }

    /// How many attempts were made.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }
}

/// What went wrong in a call, as one closed set: the configuration, the answer
/// ([`ResponseErrorKind`](crate::ResponseErrorKind)) or the transport
/// ([`TransportErrorKind`]).
///
/// Not `#[non_exhaustive]`, on purpose: what a program does about an error (the `kms`
/// command's exit code, a test's expectation) is written against every kind, so a kind
/// added later fails to compile there instead of falling into some default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The configuration was refused before anything was sent.
    Config,
    /// The service answered with an error document.
    Service,
    /// The service answered with an error status and no recognisable document.
    Status,
    /// A success status with a body that is not a usable count.
    Malformed,
    /// A body larger than the limit.
    TooLarge,
    /// The connection could not be made; nothing was sent.
    Connect,
    /// The TLS handshake failed; nothing was sent.
    Tls,
    /// The attempt timeout or the overall deadline passed.
    Timeout,
    /// The connection failed after it was made.
    Io,
    /// The proxy refused its credentials (407); nothing reached the endpoint.
    ProxyAuth,
    /// No credentials could be had from their source.
    Credentials,
    /// The project id could not be found through IAM.
    Project,
}

impl ErrorKind {
    /// A stable lower-case name: `config`, `service`, `status`, `malformed`, `too_large`,
    /// `connect`, `tls`, `timeout`, `io`, `proxy_auth`, `credentials` or `project`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Config => "config",
            ErrorKind::Service => "service",
            ErrorKind::Status => "status",
            ErrorKind::Malformed => "malformed",
            ErrorKind::TooLarge => "too_large",
            ErrorKind::Connect => "connect",
            ErrorKind::Tls => "tls",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Io => "io",
            ErrorKind::ProxyAuth => "proxy_auth",
            ErrorKind::Credentials => "credentials",
            ErrorKind::Project => "project",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<ResponseErrorKind> for ErrorKind {
    fn from(kind: ResponseErrorKind) -> Self {
        match kind {
            ResponseErrorKind::Service => ErrorKind::Service,
            ResponseErrorKind::Status => ErrorKind::Status,
            ResponseErrorKind::Malformed => ErrorKind::Malformed,
            ResponseErrorKind::TooLarge => ErrorKind::TooLarge,
        }
    }
}

impl From<TransportErrorKind> for ErrorKind {
    fn from(kind: TransportErrorKind) -> Self {
        match kind {
            TransportErrorKind::Connect => ErrorKind::Connect,
            TransportErrorKind::Tls => ErrorKind::Tls,
            TransportErrorKind::Timeout => ErrorKind::Timeout,
            TransportErrorKind::Io => ErrorKind::Io,
            TransportErrorKind::ProxyAuth => ErrorKind::ProxyAuth,
        }
    }
}

impl Error {
    /// What went wrong: the configuration, the kind of answer, or the kind of transport
    /// failure.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Config(_) => ErrorKind::Config,
            Error::Response { error, .. } => error.kind().into(),
            Error::Transport(t) => t.kind.into(),
            Error::Credentials { .. } => ErrorKind::Credentials,
            Error::Project { .. } => ErrorKind::Project,
        }
    }

    /// The response's error, when the service answered.
    pub fn response(&self) -> Option<&ResponseError> {
        match self {
            Error::Response { error, .. } => Some(error),
            _ => None,
        }
    }

    /// The HTTP status, when the service answered.
    pub fn status(&self) -> Option<StatusCode> {
        self.response().map(ResponseError::status)
    }

    /// The error code of the answer, if any.
    pub fn code(&self) -> Option<&str> {
        self.response().and_then(ResponseError::code)
    }

    /// The error message of the answer, if any.
    pub fn message(&self) -> Option<&str> {
        self.response().and_then(ResponseError::message)
    }

    /// The request id of the answer, if any.
    pub fn request_id(&self) -> Option<&str> {
        self.response().and_then(ResponseError::request_id)
    }

    /// How many attempts were made (0 when the configuration was refused).
    pub fn attempts(&self) -> u32 {
        match self {
            Error::Config(_) => 0,
            Error::Response { attempts, .. } => *attempts,
            Error::Transport(t) => t.attempts,
            Error::Credentials { attempts, .. } => *attempts,
            Error::Project { .. } => 0,
        }
    }

    /// Whether the request may have reached the service (always `true` when it answered).
    pub fn may_have_been_sent(&self) -> bool {
        match self {
            Error::Config(_) => false,
            Error::Response { .. } => true,
            Error::Transport(t) => t.may_have_been_sent,
            // The attempts before may have been sent; the last was not.
            Error::Credentials { attempts, .. } => *attempts > 0,
            Error::Project { .. } => false,
        }
    }

    /// Whether trying again later may succeed: a retryable answer, or a transport failure
    /// other than the proxy refusing its credentials.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Config(_) => false,
            Error::Response { error, .. } => error.is_retryable(),
            Error::Transport(t) => t.kind.is_retryable(),
            Error::Credentials { error, .. } => error.is_retryable(),
            Error::Project { error } => error.is_retryable(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config(e) => write!(f, "{e}; nothing was sent"),
            Error::Response { error, attempts } => {
                write!(f, "{error}")?;
                if *attempts > 1 {
                    write!(f, " (after {attempts} attempts)")?;
                }
                Ok(())
            }
            Error::Transport(t) => {
                let what = match t.kind {
                    TransportErrorKind::Connect => {
                        "could not connect to the KMS endpoint; check the endpoint, the network and the proxy"
                    }
                    TransportErrorKind::Tls => {
                        "the TLS handshake with the KMS endpoint failed; check the endpoint's certificate and the trusted CAs"
                    }
                    TransportErrorKind::Timeout if t.deadline => {
                        "the call's overall deadline passed before an answer arrived"
                    }
                    TransportErrorKind::Timeout => {
                        "no complete answer arrived within the attempt timeout"
                    }
                    TransportErrorKind::Io => {
                        "the connection to the KMS endpoint failed before a complete answer arrived"
                    }
                    TransportErrorKind::ProxyAuth => {
                        "the proxy refused its credentials (407 Proxy Authentication Required); check the proxy user name and password in the proxy URL"
                    }
                };
                f.write_str(what)?;
                let sent = if t.may_have_been_sent {
                    "the request may have been sent"
                } else {
                    "the request was not sent"
                };
                let plural = if t.attempts == 1 { "" } else { "s" };
                write!(f, " ({sent}; {} attempt{plural}", t.attempts)?;
                match t.endpoints.as_deref() {
                    Some((tried, of, last)) => {
                        write!(f, " at {tried} of {of} endpoints, the last {last})")?
                    }
                    None => f.write_str(")")?,
                }
                if t.budget_exhausted {
                    f.write_str(crate::budget::BUDGET_NOTE)?;
                }
                Ok(())
            }
            Error::Credentials { error, .. } => write!(f, "{error}"),
            Error::Project { error } => write!(f, "{error}"),
        }
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            Error::Config(e) => Some(e),
            Error::Response { error, .. } => Some(error),
            Error::Transport(t) => t.source.as_deref().map(|e| e as &(dyn StdError + 'static)),
            Error::Credentials { error, .. } => error.source(),
            Error::Project { error } => error.source(),
        }
    }
}

impl Error {
    /// Marks a call that ended because the retry budget could not pay for a due retry.
    pub(crate) fn with_budget_exhausted(self) -> Self {
        match self {
            Error::Response { error, attempts } => Error::Response {
                error: error.with_budget_exhausted(),
                attempts,
            },
            Error::Transport(mut t) => {
                t.budget_exhausted = true;
                Error::Transport(t)
            }
            other => other,
        }
    }

    /// Whether a retry was due but the client's retry budget was spent (many failures
    /// across its calls): the call ended at once with this error.
    pub fn retry_budget_exhausted(&self) -> bool {
        match self {
            Error::Response { error, .. } => error.budget_exhausted(),
            Error::Transport(t) => t.budget_exhausted,
            Error::Config(_) | Error::Credentials { .. } | Error::Project { .. } => false,
        }
    }

    /// The credential error, when there were no credentials to sign with.
    pub fn credentials(&self) -> Option<&CredentialError> {
        match self {
            Error::Credentials { error, .. } => Some(error),
            _ => None,
        }
    }
}

impl From<InvalidInput> for Error {
    fn from(e: InvalidInput) -> Self {
        Error::Config(e)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use std::time::{Duration, Instant, SystemTime};

    use super::*;
    use crate::call::{Call, Now, Step};
    use crate::{AuthToken, ClientConfig, Endpoints, ProjectId, RetryPolicy};

    fn two_endpoints() -> ClientConfig {
        ClientConfig::new(
            Endpoints::parse_list("http://127.0.0.1:1,http://127.0.0.1:2").unwrap(),
            ProjectId::new("p1").unwrap(),
            AuthToken::new("tok").unwrap().into(),
        )
        .with_retry(RetryPolicy::default().with_max_attempts(4))
    }

    fn now() -> Now {
        Now::new(SystemTime::now(), Instant::now(), 0.5)
    }

    /// Issue 21: the attempt's own timer firing before a connection was made is a failure
    /// to reach the endpoint, as the connect timeout's is: the call moves on at once.
    #[test]
    fn a_timeout_before_the_connection_is_a_connect_failure_that_moves_on() {
        let failure = TransportFailure::timed_out(false);
        assert_eq!(
            (failure.kind(), failure.may_have_been_sent()),
            (TransportErrorKind::Connect, false)
        );
        let config = two_endpoints();
        let mut call = Call::new(&config, now());
        let token = AuthToken::new("tok").unwrap().into();
        let first = call.start_attempt(now(), &token).unwrap();
        assert_eq!(first.request().uri().port_u16(), Some(1));
        let step = call.on_failure(failure, now());
        assert!(matches!(step, Step::Retry(d) if d.is_zero()), "{step:?}");
        let second = call.start_attempt(now(), &token).unwrap();
        assert_eq!(second.request().uri().port_u16(), Some(2));
        // Once connected, the request may have been sent: the call stays, after a backoff.
        let late = TransportFailure::timed_out(true);
        assert_eq!(
            (late.kind(), late.may_have_been_sent()),
            (TransportErrorKind::Timeout, true)
        );
        let step = call.on_failure(late, now());
        assert!(
            matches!(step, Step::Retry(d) if d > Duration::ZERO),
            "{step:?}"
        );
        let third = call.start_attempt(now(), &token).unwrap();
        assert_eq!(third.request().uri().port_u16(), Some(2));
    }

    /// Issue 21: a proxy that refused its credentials ends the call at the first attempt,
    /// whatever the retry policy allows and however many endpoints are left; the error
    /// says what to check.
    #[test]
    fn a_proxy_refusing_its_credentials_is_never_retried_nor_moved_on() {
        let config = two_endpoints();
        let mut call = Call::new(&config, now());
        let token = AuthToken::new("tok").unwrap().into();
        call.start_attempt(now(), &token).unwrap();
        let refused = TransportFailure::new(TransportErrorKind::ProxyAuth, false);
        let Step::Done(Err(err)) = call.on_failure(refused, now()) else {
            panic!("a proxy's refusal was retried")
        };
        assert_eq!(
            (err.kind(), err.attempts(), err.is_retryable()),
            (ErrorKind::ProxyAuth, 1, false)
        );
        assert_eq!(err.kind().as_str(), "proxy_auth");
        let text = err.to_string();
        assert!(text.contains("proxy refused its credentials"), "{text}");
        assert!(text.contains("proxy user name and password"), "{text}");
        assert!(text.contains("the request was not sent"), "{text}");
    }
}
