//! Why credentials could not be had: one source's failure ([`SourceError`]), and what a call
//! gets ([`CredentialError`]): one source's failure, the chain's list of them, or expired
//! credentials that could not be refreshed.

use std::error::Error as StdError;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::StatusCode;

use super::SourceKind;
#[cfg(feature = "sources")]
use super::document::DocumentError;
use super::identity::rfc3339;
#[cfg(feature = "sources")]
use super::profile::ProfileError;
use super::variables::EnvError;
use crate::backoff::Remembered;
use crate::input::InvalidInput;
use crate::response::RetryAfter;
use crate::span::Span;
use crate::transport::{TransportErrorKind, TransportFailure};
use crate::untrusted::Untrusted;

/// Why a file a source needs could not be read. The transports make it; the source names
/// the file.
#[derive(Debug)]
#[non_exhaustive]
pub enum FileProblem {
    /// There is no such file.
    NotFound,
    /// The path is not a regular file (a directory, a FIFO, a device...).
    NotAFile,
    /// The file is larger than the source accepts.
    TooLarge {
        /// The limit, in bytes.
        limit: u64,
    },
    /// Reading failed (permissions, I/O).
    Unreadable(std::io::Error),
}

impl fmt::Display for FileProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileProblem::NotFound => f.write_str("there is no such file"),
            FileProblem::NotAFile => f.write_str("it is not a regular file"),
            FileProblem::TooLarge { limit } => {
                write!(f, "it is larger than {limit} bytes; is it the right file?")
            }
            FileProblem::Unreadable(e) => write!(f, "it could not be read ({e})"),
        }
    }
}

/// Why one source gave no credentials.
#[derive(Debug)]
#[non_exhaustive]
#[cfg_attr(
    not(feature = "sources"),
    allow(
        dead_code,
        reason = "what only the sources behind the feature fail with"
    )
)]
pub(crate) enum Failure {
    /// The source is not set up here (skipped in a chain).
    NotConfigured(String),
    /// The source is not in this build: its feature (`sources`) is off. `named`: its
    /// settings name it (its variables are set, or the program chose it), so a chain stops
    /// here rather than skip it; otherwise (a default path, the metadata service) a chain
    /// skips it, saying why.
    NotBuilt { feature: &'static str, named: bool },
    /// The source is set up only in part (one of two variables set).
    Misconfigured(String),
    /// The transport drove the refresh out of order, or a request could not be made: a
    /// bug, reported rather than panicked on.
    Internal(String),
    /// The source's file does not exist (skipped in a chain when the path was a default).
    NoFile(PathBuf),
    /// The source's file exists but could not be used.
    File(PathBuf, FileProblem),
    /// The environment variables are wrong.
    Env(EnvError),
    /// The profile file or KooCLI configuration is wrong.
    #[cfg(feature = "sources")]
    Profile(ProfileError),
    /// A profile holds no AK/SK (only what a later kind of source uses).
    NoKeys(PathBuf),
    /// A setting of the source (a URL, a token file's contents) is refused.
    Invalid(InvalidInput),
    /// The service could not be reached; nothing was sent.
    Unreachable {
        url: String,
        failure: TransportFailure,
    },
    /// The request may have been sent, but no complete answer arrived.
    NoAnswer {
        url: String,
        failure: TransportFailure,
    },
    /// The service answered with an error.
    Status {
        url: String,
        status: StatusCode,
        code: Option<String>,
        message: Option<String>,
    },
    /// IAM or STS answered with an error.
    Iam {
        url: String,
        /// Boxed: IAM's error is large, and errors are rare.
        error: Box<crate::iam::IamError>,
    },
    /// IAM's answer lacks what it must carry (`X-Subject-Token`, an expiry).
    Incomplete { url: String, missing: &'static str },
    /// The instance has no agency bound (ECS metadata's own answer).
    NoAgency,
    /// The answer was not a usable credential document.
    #[cfg(feature = "sources")]
    Document { url: String, error: DocumentError },
}

/// Why one credential source gave no credentials: which source, whether it was merely
/// skipped (not set up here) or failed, and the cause.
#[derive(Debug)]
pub struct SourceError {
    source: SourceKind,
    failure: Failure,
    /// The `Retry-After` of the error answer, when the source answered with an error (the
    /// refresh machine reads it from every answer, IAM's and STS's included).
    retry_after: Option<RetryAfter>,
}

impl SourceError {
    pub(crate) fn new(source: SourceKind, failure: Failure) -> Self {
        SourceError {
            source,
            failure,
            retry_after: None,
        }
    }

    /// The same, with the `Retry-After` of the answer it failed on (kept only when the
    /// failure is the service's error answer: a 200 that was not a credential document
    /// asks no wait).
    pub(crate) fn with_retry_after(mut self, retry_after: Option<RetryAfter>) -> Self {
        self.retry_after = retry_after.filter(|_| self.status().is_some());
        self
    }

    /// The `Retry-After` of the source's error answer, if it carried a valid one (a 429 or
    /// 503 may). The credential cache waits at least that long, and at most a minute,
    /// before it asks the source again.
    pub fn retry_after(&self) -> Option<RetryAfter> {
        self.retry_after
    }

    /// The source.
    pub fn source_kind(&self) -> SourceKind {
        self.source
    }

    /// Whether the source was skipped because it is not set up here (no file at its
    /// default path, variables unset), rather than failing.
    pub fn is_skipped(&self) -> bool {
        matches!(
            self.failure,
            Failure::NotConfigured(_)
                | Failure::NoFile(_)
                | Failure::NoKeys(_)
                | Failure::NotBuilt { named: false, .. }
        )
    }

    /// The kms-proto feature this source needs, when it is not in this build (`sources`):
    /// turn the feature on (kms-ureq and kms-hyper pass it through, on by default) or give
    /// credentials another way.
    pub fn missing_feature(&self) -> Option<&'static str> {
        match self.failure {
            Failure::NotBuilt { feature, .. } => Some(feature),
            _ => None,
        }
    }

    /// Whether the source could not be reached at all (nothing was sent).
    pub fn is_unreachable(&self) -> bool {
        matches!(self.failure, Failure::Unreachable { .. })
    }

    /// The HTTP status the source answered with, if it answered with an error.
    pub fn status(&self) -> Option<StatusCode> {
        match &self.failure {
            Failure::Status { status, .. } => Some(*status),
            Failure::Iam { error, .. } => Some(error.status()),
            _ => None,
        }
    }

    /// The error code of the source's answer, if any.
    pub fn code(&self) -> Option<&str> {
        match &self.failure {
            Failure::Status { code, .. } => code.as_deref(),
            Failure::Iam { error, .. } => error.code(),
            _ => None,
        }
    }

    /// The error message of the source's answer, if any.
    pub fn message(&self) -> Option<&str> {
        match &self.failure {
            Failure::Status { message, .. } => message.as_deref(),
            Failure::Iam { error, .. } => error.message(),
            _ => None,
        }
    }

    /// The `X-IAM-Trace-Id` of IAM's (or STS's) error answer, to quote to support.
    pub fn trace_id(&self) -> Option<&str> {
        match &self.failure {
            Failure::Iam { error, .. } => error.trace_id(),
            _ => None,
        }
    }

    /// The transport failure, when no answer arrived.
    pub fn transport_failure(&self) -> Option<TransportErrorKind> {
        match &self.failure {
            Failure::Unreachable { failure, .. } | Failure::NoAnswer { failure, .. } => {
                Some(failure.kind())
            }
            _ => None,
        }
    }

    /// The file the source read, when the failure was about it.
    pub fn path(&self) -> Option<&Path> {
        match &self.failure {
            Failure::NoFile(p) | Failure::File(p, _) | Failure::NoKeys(p) => Some(p),
            _ => None,
        }
    }

    /// What to do about it, in a few words.
    fn advice(&self) -> Option<&'static str> {
        match (&self.failure, self.source) {
            (Failure::Unreachable { .. }, SourceKind::Metadata) => Some(
                "not on an ECS instance? give credentials another way, or set HUAWEICLOUD_SDK_METADATA_ENDPOINT",
            ),
            (Failure::NoAgency, _) => {
                Some("bind an agency to the instance (ECS console: Management > Agency)")
            }
            (Failure::Status { status, .. }, SourceKind::PodIdentity)
                if *status == StatusCode::UNAUTHORIZED || *status == StatusCode::FORBIDDEN =>
            {
                Some("check the pod's service account and HC_CONTAINER_AUTHORIZATION_TOKEN_FILE")
            }
            _ => None,
        }
    }
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = self.source.label();
        match &self.failure {
            Failure::NotConfigured(why) => write!(f, "{label}: skipped: {why}"),
            Failure::NotBuilt { feature, named } => write!(
                f,
                "{label}: {}not in this build: it needs kms-proto's `{feature}` feature",
                if *named { "" } else { "skipped: " }
            ),
            Failure::Misconfigured(why) => write!(f, "{label}: {why}"),
            Failure::Internal(why) => write!(f, "{label}: {why} (a bug: please report it)"),
            Failure::NoFile(path) => {
                write!(f, "{label}: skipped: no file at {}", path.display())
            }
            Failure::NoKeys(path) => {
                write!(f, "{label}: skipped: {} holds no ak and sk", path.display())
            }
            Failure::File(path, problem) => {
                write!(f, "{label}: cannot use {}: {problem}", path.display())
            }
            Failure::Env(e) => write!(f, "{label}: {e}"),
            #[cfg(feature = "sources")]
            Failure::Profile(e) => write!(f, "{label}: {e}"),
            Failure::Invalid(e) => write!(f, "{label}: {e}"),
            Failure::Unreachable { url, failure } => {
                let why = match failure.kind() {
                    TransportErrorKind::Timeout => "the connection timed out",
                    TransportErrorKind::Tls => "the TLS handshake failed",
                    TransportErrorKind::ProxyAuth => {
                        "the proxy refused its credentials (407 Proxy Authentication \
                         Required): check the proxy user name and password in the proxy URL"
                    }
                    TransportErrorKind::Connect | TransportErrorKind::Io => "the connection failed",
                };
                write!(f, "{label}: the service at {url} was not reachable ({why})")
            }
            Failure::NoAnswer { url, failure } => {
                let why = match failure.kind() {
                    TransportErrorKind::Timeout => "no complete answer in time",
                    TransportErrorKind::Connect
                    | TransportErrorKind::Tls
                    | TransportErrorKind::Io
                    | TransportErrorKind::ProxyAuth => {
                        "the connection failed before a complete answer"
                    }
                };
                write!(f, "{label}: {url} did not answer ({why})")
            }
            Failure::Status {
                url,
                status,
                code,
                message,
            } => {
                write!(f, "{label}: {url} answered {status}")?;
                if let Some(code) = code {
                    write!(f, " {}", Untrusted(code))?;
                }
                if let Some(message) = message {
                    write!(f, ": {}", Untrusted(message))?;
                }
                Ok(())
            }
            Failure::Iam { url, error } => write!(f, "{label}: {url} answered {error}"),
            Failure::Incomplete { url, missing } => {
                write!(f, "{label}: the answer of {url} has no {missing}")
            }
            Failure::NoAgency => write!(f, "{label}: the instance has no agency"),
            #[cfg(feature = "sources")]
            Failure::Document { url, error } => write!(f, "{label}: the answer of {url}: {error}"),
        }?;
        if let Some(advice) = self.advice() {
            write!(f, "; {advice}")?;
        }
        Ok(())
    }
}

impl StdError for SourceError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match &self.failure {
            Failure::File(_, FileProblem::Unreadable(e)) => Some(e),
            Failure::Env(e) => Some(e),
            #[cfg(feature = "sources")]
            Failure::Profile(e) => Some(e),
            Failure::Invalid(e) => Some(e),
            Failure::Unreachable { failure, .. } | Failure::NoAnswer { failure, .. } => {
                failure.cause()
            }
            #[cfg(feature = "sources")]
            Failure::Document { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// Why a call had no credentials to sign with. Cheap to clone: every call waiting on the
/// same failed refresh gets the same error.
#[derive(Clone, Debug)]
pub struct CredentialError {
    inner: Arc<Inner>,
    /// Set when this is an earlier refresh's failure, given to a call while the cache backs
    /// off after it.
    remembered: Option<Remembered>,
}

#[derive(Debug)]
enum Inner {
    /// The one source asked failed.
    Source(SourceError),
    /// No source of the chain gave credentials: why, source by source.
    Chain(Vec<SourceError>),
    /// The cached credentials expired and refreshing them failed.
    Expired {
        expired_at: SystemTime,
        source: SourceKind,
        refresh: CredentialError,
    },
    /// A refresh gave credentials that were already expired, or about to, when they
    /// arrived.
    ArrivedExpired {
        source: SourceKind,
        expires_at: SystemTime,
        /// This machine's clock when they arrived.
        local: SystemTime,
        /// The answer's `Date`, and whether it was too far from this machine's clock to be
        /// believed.
        service: Option<SystemTime>,
        far: bool,
    },
    /// The call's deadline passed while it waited for a refresh.
    Waited,
}

impl CredentialError {
    pub(crate) fn from_source(error: SourceError) -> Self {
        Self::of(Inner::Source(error))
    }

    /// A transport drove a refresh out of order: a bug, reported rather than panicked on.
    pub(crate) fn internal(why: &str) -> Self {
        Self::from_source(SourceError::new(
            SourceKind::Static,
            Failure::Internal(why.to_owned()),
        ))
    }

    pub(crate) fn chain(errors: Vec<SourceError>) -> Self {
        Self::of(Inner::Chain(errors))
    }

    pub(crate) fn expired(expired_at: SystemTime, source: SourceKind, refresh: Self) -> Self {
        Self::of(Inner::Expired {
            expired_at,
            source,
            refresh,
        })
    }

    pub(crate) fn expired_on_arrival(
        source: SourceKind,
        expires_at: SystemTime,
        local: SystemTime,
        service: Option<SystemTime>,
        far: bool,
    ) -> Self {
        Self::of(Inner::ArrivedExpired {
            source,
            expires_at,
            local,
            service,
            far,
        })
    }

    /// The call's deadline passed while it waited for another caller's refresh. A
    /// transport makes this error when its wait times out.
    pub fn waited_too_long() -> Self {
        Self::of(Inner::Waited)
    }

    fn of(inner: Inner) -> Self {
        CredentialError {
            inner: Arc::new(inner),
            remembered: None,
        }
    }

    /// The same failure, told to a call while the cache backs off after it: `remembered`
    /// says so, and when the source is asked again.
    pub(crate) fn with_remembered(mut self, remembered: Remembered) -> Self {
        self.remembered = Some(remembered);
        self
    }

    /// The same failure, told to a call that waited for the refresh that failed: not
    /// remembered from before it.
    pub(crate) fn asked_for_this_call(mut self) -> Self {
        self.remembered = None;
        self
    }

    /// Set when no refresh ran for this call: this is an earlier refresh's failure,
    /// remembered while the client backs off (see [`Remembered`]): how many refreshes
    /// failed in a row, and when the source is asked again.
    pub fn remembered(&self) -> Option<Remembered> {
        self.remembered
    }

    /// Every source's failure, in the order they were tried (one for a single source;
    /// none when the wait for a refresh timed out).
    pub fn sources(&self) -> &[SourceError] {
        match &*self.inner {
            Inner::Source(e) => std::slice::from_ref(e),
            Inner::Chain(errors) => errors,
            Inner::Expired { refresh, .. } => refresh.sources(),
            Inner::ArrivedExpired { .. } | Inner::Waited => &[],
        }
    }

    /// When the credentials in use expired, if that is why the call has none (for
    /// credentials that arrived expired: the expiry their source sent).
    pub fn expired_at(&self) -> Option<SystemTime> {
        match &*self.inner {
            Inner::Expired { expired_at, .. } => Some(*expired_at),
            Inner::ArrivedExpired { expires_at, .. } => Some(*expires_at),
            Inner::Source(_) | Inner::Chain(_) | Inner::Waited => None,
        }
    }

    /// Whether the source gave credentials that were already expired (or expiring within
    /// the refresh policy's buffer) when they arrived: a fault of the source, or of this
    /// machine's clock.
    pub fn is_expired_on_arrival(&self) -> bool {
        matches!(&*self.inner, Inner::ArrivedExpired { .. })
    }

    /// Whether the call gave up waiting for another caller's refresh.
    pub fn is_wait_timeout(&self) -> bool {
        matches!(&*self.inner, Inner::Waited)
    }

    /// The longest any source's error answer asked the client to wait (its `Retry-After`),
    /// from `now`.
    pub(crate) fn asked_to_wait(&self, now: SystemTime) -> Option<Duration> {
        self.sources()
            .iter()
            .filter_map(SourceError::retry_after)
            .map(|after| after.delay_from(now))
            .max()
    }

    /// Whether trying again later may succeed: a source that did not answer or answered
    /// with a 5xx or 429, or a wait that timed out; not a missing or wrong setting.
    pub fn is_retryable(&self) -> bool {
        match &*self.inner {
            Inner::Waited => true,
            // The same source asked again at once answers the same: not until the clock,
            // or the service, is put right.
            Inner::ArrivedExpired { .. } => false,
            Inner::Expired { refresh, .. } => refresh.is_retryable(),
            Inner::Source(_) | Inner::Chain(_) => self.sources().iter().any(|e| {
                let no_answer = match &e.failure {
                    Failure::Unreachable { failure, .. } | Failure::NoAnswer { failure, .. } => {
                        failure.kind().is_retryable()
                    }
                    _ => false,
                };
                no_answer
                    || e.status()
                        .is_some_and(|s| s.is_server_error() || s == StatusCode::TOO_MANY_REQUESTS)
            }),
        }
    }
}

impl fmt::Display for CredentialError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.describe(f)?;
        if let Some(remembered) = &self.remembered {
            let failures = remembered.failures();
            write!(
                f,
                "{}(remembered from an earlier refresh, the source not asked: {failures} failed \
                 refresh{} in a row; it is asked again in {} ms)",
                // The chain lists its sources a line each: this goes on a line of its own.
                if matches!(*self.inner, Inner::Chain(_)) {
                    "\n"
                } else {
                    " "
                },
                if failures == 1 { "" } else { "es" },
                remembered.asks_again_in().as_millis()
            )?;
        }
        Ok(())
    }
}

impl CredentialError {
    /// The text of the failure itself.
    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.inner {
            Inner::Source(e) => write!(f, "no credentials: {e}"),
            Inner::Chain(errors) => {
                f.write_str(
                    "no credential source gave credentials; set HUAWEICLOUD_SDK_AK and \
                     HUAWEICLOUD_SDK_SK, write ~/.huaweicloud/credentials, or run where an \
                     agency or pod identity is bound. Each source:",
                )?;
                for e in errors {
                    write!(f, "\n  - {e}")?;
                }
                Ok(())
            }
            Inner::Expired {
                expired_at,
                source,
                refresh,
            } => write!(
                f,
                "the credentials from {} expired at {} and could not be refreshed: {refresh}",
                source.label(),
                rfc3339(*expired_at)
            ),
            Inner::ArrivedExpired {
                source,
                expires_at,
                local,
                service,
                far,
            } => {
                write!(
                    f,
                    "{} gave credentials that expire at {}, already expired or about to when \
                     they arrived (this machine's time: {})",
                    source.label(),
                    rfc3339(*expires_at),
                    rfc3339(*local)
                )?;
                match (service, far) {
                    (Some(date), false) if expires_at <= date => write!(
                        f,
                        "; they had expired by the service's own clock too (its Date said {}): \
                         the service issued expired credentials, so tell whoever runs it",
                        rfc3339(*date)
                    ),
                    (Some(date), false) => write!(
                        f,
                        "; by the service's own clock (its Date said {}) they had {} left, too \
                         little to sign with: the service issued credentials that expire at \
                         once, so tell whoever runs it",
                        rfc3339(*date),
                        Span::between(*expires_at, *date)
                    ),
                    (Some(date), true) => write!(
                        f,
                        "; the service's clock (its Date said {}) is {} off this machine's, more \
                         than is believed: this machine's clock is probably wrong, so check it \
                         (NTP)",
                        rfc3339(*date),
                        Span::between(*date, *local)
                    ),
                    (None, _) => f.write_str(
                        "; this machine's clock may be wrong (check it: NTP), or the service \
                         issued expired credentials",
                    ),
                }
            }
            Inner::Waited => f.write_str(
                "the call's deadline passed while it waited for credentials being refreshed; \
                 the credential source is slow or down",
            ),
        }
    }
}

/// `Display` already says what each source said, so the source is the cause underneath
/// (an I/O error, a transport's error), not the source's failure again.
impl StdError for CredentialError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match &*self.inner {
            Inner::Source(e) => e.source(),
            Inner::Expired { refresh, .. } => refresh.source(),
            Inner::Chain(_) | Inner::ArrivedExpired { .. } | Inner::Waited => None,
        }
    }
}
