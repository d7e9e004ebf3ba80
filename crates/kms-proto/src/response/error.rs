//! The error of a response that carried no count.

use std::error::Error as StdError;
use std::fmt;

use http::StatusCode;

use http::HeaderMap;

use super::request_id;
use super::retry_after::RetryAfter;
use crate::span::Span;
use crate::untrusted::Untrusted;

/// What kind of answer a [`ResponseError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ResponseErrorKind {
    /// The service (or its gateway) answered with a recognised error document; `code` and
    /// `message` say what it objected to.
    Service,
    /// An error status without a recognisable error document (HTML from a proxy, an empty
    /// body, garbage); only the status is known.
    Status,
    /// A success status with a body that is not a usable count.
    Malformed,
    /// A body larger than [`MAX_RESPONSE_BODY`](crate::MAX_RESPONSE_BODY).
    TooLarge,
}

impl ResponseErrorKind {
    /// A stable lower-case name: `service`, `status`, `malformed` or `too_large`.
    pub fn as_str(self) -> &'static str {
        match self {
            ResponseErrorKind::Service => "service",
            ResponseErrorKind::Status => "status",
            ResponseErrorKind::Malformed => "malformed",
            ResponseErrorKind::TooLarge => "too_large",
        }
    }
}

/// A response that carried no count, with everything the answer said about why.
///
/// `Display` is one sentence naming the status, code, message and request id, and what to
/// do. Text that came from the network is shown with control characters escaped and
/// shortened to 300 characters; the accessors give it whole.
#[derive(Debug)]
pub struct ResponseError(Box<Fields>);

/// The fields of a [`ResponseError`], boxed so that `Result<InstanceCount, ResponseError>`
/// stays small on the success path.
#[derive(Debug)]
struct Fields {
    kind: ResponseErrorKind,
    status: StatusCode,
    code: Option<String>,
    message: Option<String>,
    request_id: Option<String>,
    retry_after: Option<RetryAfter>,
    detail: Option<Box<str>>,
    /// Set when the call re-signed for clock skew: how far the service's clock was ahead
    /// of this machine's, in milliseconds.
    clock_offset_ms: Option<i64>,
    /// Set when the answer said the signature expired because this machine's clock is
    /// further off than the client corrects: the offset (milliseconds, the service's clock
    /// ahead) and the most the client corrects.
    clock_skew_refused: Option<(i64, std::time::Duration)>,
    /// Set when a retry was due but the client's retry budget could not pay for it.
    budget_exhausted: bool,
    source: Option<Box<dyn StdError + Send + Sync + 'static>>,
}

/// Error codes that mean "throttled" whatever the status.
const THROTTLING_CODES: [&str; 2] = ["APIG.0308", "APIGW.0308"];

impl ResponseError {
    /// An answer of `kind` with `status`, and what its headers say: the request id
    /// (`X-Request-Id`) and `Retry-After`.
    pub(super) fn new(kind: ResponseErrorKind, status: StatusCode, headers: &HeaderMap) -> Self {
        ResponseError(Box::new(Fields {
            kind,
            status,
            code: None,
            message: None,
            request_id: request_id::from_headers(headers).map(str::to_owned),
            retry_after: RetryAfter::from_headers(headers),
            detail: None,
            clock_offset_ms: None,
            clock_skew_refused: None,
            budget_exhausted: false,
            source: None,
        }))
    }

    /// The call had re-signed once because the service's clock was `offset_ms` ahead of
    /// this machine's (negative: behind), and this answer came after.
    pub(crate) fn with_clock_offset(mut self, offset_ms: i64) -> Self {
        self.0.clock_offset_ms = Some(offset_ms);
        self
    }

    /// The answer said the signature expired because the service's clock is `offset_ms`
    /// ahead of this machine's (negative: behind), further than the `max` the client
    /// corrects: not re-signed.
    pub(crate) fn with_clock_skew_refused(
        mut self,
        offset_ms: i64,
        max: std::time::Duration,
    ) -> Self {
        self.0.clock_skew_refused = Some((offset_ms, max));
        self
    }

    /// How far the service's clock was ahead of this machine's (milliseconds; negative:
    /// behind) when that was further than the client corrects
    /// ([`ClientConfig::with_max_clock_skew`](crate::ClientConfig::with_max_clock_skew)), so
    /// the call was not re-signed.
    pub fn clock_skew_refused_ms(&self) -> Option<i64> {
        self.0.clock_skew_refused.map(|(offset, _)| offset)
    }

    /// Marks an answer whose due retry the client's retry budget could not pay for.
    pub(crate) fn with_budget_exhausted(mut self) -> Self {
        self.0.budget_exhausted = true;
        self
    }

    /// Whether a retry was due but the client's retry budget was spent.
    pub fn budget_exhausted(&self) -> bool {
        self.0.budget_exhausted
    }

    /// How far the service's clock was ahead of this machine's (milliseconds; negative:
    /// behind), when the call re-signed once for clock skew before this answer.
    pub fn clock_offset_ms(&self) -> Option<i64> {
        self.0.clock_offset_ms
    }

    /// The body's request id, used when the headers gave none.
    pub(super) fn or_request_id(mut self, id: Option<String>) -> Self {
        if self.0.request_id.is_none() {
            self.0.request_id = id;
        }
        self
    }

    /// What the error document said.
    pub(super) fn with_document(mut self, code: Option<String>, message: Option<String>) -> Self {
        self.0.code = code;
        self.0.message = message;
        self
    }

    /// The answer with every text that came from the network (code, message, request id,
    /// detail) scrubbed of the secrets of the request it answered (its `X-Auth-Token`,
    /// `X-Security-Token`, signature, the SK it was signed with): a gateway or proxy that
    /// echoes the request cannot put them into `message()`, `Display`, `Debug` or a log.
    pub(crate) fn scrubbed(mut self, secrets: &crate::redact::Secrets) -> Self {
        if secrets.is_empty() {
            return self;
        }
        let fields = &mut *self.0;
        fields.code = secrets.scrub_opt(fields.code.take());
        fields.message = secrets.scrub_opt(fields.message.take());
        fields.request_id = secrets.scrub_opt(fields.request_id.take());
        fields.detail = fields
            .detail
            .take()
            .map(|d| secrets.scrub_string(d.into()).into_boxed_str());
        // serde_json quotes a string of the wrong type in its message: the cause is kept
        // only as scrubbed text when it held a secret.
        if let Some(source) = &fields.source {
            let text = source.to_string();
            let scrubbed = secrets.scrub(&text);
            if scrubbed != text {
                fields.source = Some(Box::new(ScrubbedCause(scrubbed.into_owned())));
            }
        }
        self
    }

    /// What was wrong with the answer, for `Display`, when no document says it.
    pub(super) fn with_detail(mut self, detail: impl Into<Box<str>>) -> Self {
        self.0.detail = Some(detail.into());
        self
    }

    /// The underlying error (serde_json's), for [`source`](StdError::source).
    pub(super) fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> Self {
        self.0.source = Some(Box::new(source));
        self
    }

    /// What kind of answer this was.
    pub fn kind(&self) -> ResponseErrorKind {
        self.0.kind
    }

    /// The HTTP status of the answer.
    pub fn status(&self) -> StatusCode {
        self.0.status
    }

    /// The error code of the document (`KMS.0303`, `APIGW.0301`, `401`...), if any.
    pub fn code(&self) -> Option<&str> {
        self.0.code.as_deref()
    }

    /// The error message of the document, if any.
    pub fn message(&self) -> Option<&str> {
        self.0.message.as_deref()
    }

    /// The request id: `X-Request-Id`, else the body's `request_id`.
    pub fn request_id(&self) -> Option<&str> {
        self.0.request_id.as_deref()
    }

    /// The `Retry-After` the answer carried, if it was valid.
    pub fn retry_after(&self) -> Option<RetryAfter> {
        self.0.retry_after
    }

    /// For [`Malformed`](ResponseErrorKind::Malformed) and
    /// [`TooLarge`](ResponseErrorKind::TooLarge): what exactly was wrong with the body.
    pub fn detail(&self) -> Option<&str> {
        self.0.detail.as_deref()
    }

    /// Whether the same request may succeed if sent again: statuses 429, 500, 502, 503 and
    /// 504, and the throttling codes `APIG.0308`/`APIGW.0308`. Never 401 or 403 (the gateway
    /// locks an AK after 5 failed signatures), never another 4xx, never a malformed body.
    pub fn is_retryable(&self) -> bool {
        if self.0.kind == ResponseErrorKind::Malformed {
            return false;
        }
        matches!(self.0.status.as_u16(), 429 | 500 | 502 | 503 | 504) || self.is_throttled()
    }

    /// Whether the answer says the caller is throttled (429 or a throttling code).
    pub fn is_throttled(&self) -> bool {
        self.0.status == StatusCode::TOO_MANY_REQUESTS
            || self
                .0
                .code
                .as_deref()
                .is_some_and(|c| THROTTLING_CODES.contains(&c))
    }

    fn hint(&self) -> Option<&'static str> {
        if self.0.status == StatusCode::UNAUTHORIZED
            && self
                .0
                .message
                .as_deref()
                .is_some_and(|m| m.contains("signature expired"))
        {
            return Some(
                "the request's X-Sdk-Date is more than 15 minutes from the service's clock: fix this machine's clock (clock skew)",
            );
        }
        if self.is_throttled() {
            return Some("requests are being throttled; retry after a few seconds");
        }
        Some(match self.0.status.as_u16() {
            300..=399 => "redirects are never followed; check the endpoint",
            400 => "the service refused the request as invalid; check the project id",
            401 => {
                "check the credentials (and, for AK/SK, the system clock); retrying will not help"
            }
            403 => {
                "the credentials are not allowed to call this API (permission kms::getInstance) in this project"
            }
            404 => "check the endpoint, region and project id",
            500..=599 => "the service or a proxy in front of it failed; retry later",
            _ => return None,
        })
    }
}

impl fmt::Display for ResponseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = Status(self.0.status);
        match self.0.kind {
            ResponseErrorKind::Service => {
                write!(f, "KMS answered {status}")?;
                match (&self.0.code, &self.0.message) {
                    (Some(code), Some(msg)) => {
                        write!(f, " with {}: {}", Untrusted(code), Untrusted(msg))?
                    }
                    (Some(code), None) => write!(f, " with {}", Untrusted(code))?,
                    (None, Some(msg)) => write!(f, ": {}", Untrusted(msg))?,
                    (None, None) => {}
                }
            }
            ResponseErrorKind::Status => {
                write!(f, "KMS answered {status} without an error document")?
            }
            ResponseErrorKind::Malformed => {
                write!(
                    f,
                    "KMS answered {status} but the body is not a usable instance count"
                )?;
                if let Some(detail) = &self.0.detail {
                    write!(f, " ({})", Untrusted(detail))?;
                }
            }
            ResponseErrorKind::TooLarge => {
                write!(f, "KMS answered {status} but ")?;
                f.write_str(self.0.detail.as_deref().unwrap_or("the body is too large"))?;
            }
        }
        if let Some(id) = &self.0.request_id {
            write!(f, " (request id {})", Untrusted(id))?;
        }
        let hint = match self.0.kind {
            ResponseErrorKind::Malformed | ResponseErrorKind::TooLarge => {
                Some("check that the endpoint is a Huawei Cloud KMS endpoint")
            }
            _ => self.hint(),
        };
        // The refused skew below says what to do, with the numbers.
        let hint = hint.filter(|_| self.0.clock_skew_refused.is_none());
        if let Some(hint) = hint {
            write!(f, "; {hint}")?;
        }
        if self.0.budget_exhausted {
            f.write_str(crate::budget::BUDGET_NOTE)?;
        }
        if let Some((offset, max)) = self.0.clock_skew_refused {
            write!(
                f,
                "; this machine's clock is {} {} the service's, more than the {} the client \
                 corrects (ClientConfig::with_max_clock_skew), so the request was not re-signed: \
                 set this machine's clock right (NTP)",
                Span(offset.unsigned_abs() / 1000),
                if offset > 0 { "behind" } else { "ahead of" },
                Span::of(max)
            )?;
        }
        if let Some(offset) = self.0.clock_offset_ms {
            write!(
                f,
                "; this machine's clock is {} s {} the service's, and the request was re-signed once with the service's time",
                offset.unsigned_abs() / 1000,
                if offset > 0 { "behind" } else { "ahead of" }
            )?;
        }
        Ok(())
    }
}

impl StdError for ResponseError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.0
            .source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

/// The text of a cause that quoted a secret, with the secret replaced.
#[derive(Debug)]
struct ScrubbedCause(String);

impl fmt::Display for ScrubbedCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl StdError for ScrubbedCause {}

/// `401 Unauthorized`, or just `599` when the status has no reason phrase.
struct Status(StatusCode);

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.canonical_reason() {
            Some(reason) => write!(f, "{} {reason}", self.0.as_u16()),
            None => write!(f, "{}", self.0.as_u16()),
        }
    }
}
