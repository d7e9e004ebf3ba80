//! Turning a response's parts into the instance count or a typed error.

use std::fmt;

use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Map, Value};

mod error;
mod request_id;
mod retry_after;

pub use error::{ResponseError, ResponseErrorKind};
pub use request_id::{RequestId, X_REQUEST_ID};
pub use retry_after::RetryAfter;

/// The largest response body the protocol accepts, in bytes: 64 KiB.
///
/// A success body is about 20 bytes and error documents a few hundred; the margin is for
/// the HTML pages that proxies answer with. Transports read at most this many bytes plus
/// one, and [`parse`] re-checks it, so every transport refuses at the same boundary.
pub const MAX_RESPONSE_BODY: usize = 64 * 1024;

/// The largest response head accepted, in bytes: 64 KiB, measured as the header names and
/// values plus 4 bytes a line (`": "` and CRLF) plus 19 for the status line and the blank
/// line. The gateway's heads are well under 2 KiB.
///
/// The [`Call`](crate::call::Call) state machine checks it (with [`MAX_RESPONSE_HEADERS`])
/// on every answer, so every transport accepts and refuses exactly the same heads; a head
/// over a limit fails the attempt as a transport `io` failure (the request was sent),
/// retried like any other. Transports also bound their HTTP library's own reading of a
/// head, at no less than this, so that nothing is read without a bound before this check.
pub const MAX_RESPONSE_HEAD: usize = 64 * 1024;

/// The most header lines a response head may have: 128 (ureq's fixed limit; kms-hyper
/// sets hyper's to the same).
pub const MAX_RESPONSE_HEADERS: usize = 128;

/// Why a response head was refused: more than [`MAX_RESPONSE_HEADERS`] lines, or larger
/// than [`MAX_RESPONSE_HEAD`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HeadTooLarge {
    lines: usize,
    bytes: usize,
}

impl HeadTooLarge {
    /// `Some` when `headers` passes a limit.
    pub(crate) fn check(headers: &HeaderMap) -> Option<Self> {
        let lines = headers.len();
        let bytes = headers
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len() + 4)
            .sum::<usize>()
            + 19;
        (lines > MAX_RESPONSE_HEADERS || bytes > MAX_RESPONSE_HEAD)
            .then_some(HeadTooLarge { lines, bytes })
    }
}

impl fmt::Display for HeadTooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the response head ({} header lines, about {} bytes) passes the limits of \
             {MAX_RESPONSE_HEADERS} lines and {MAX_RESPONSE_HEAD} bytes",
            self.lines, self.bytes
        )
    }
}

impl std::error::Error for HeadTooLarge {}

/// A successful answer: the number of customer master keys the project created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceCount {
    count: u64,
    request_id: Option<RequestId>,
}

impl InstanceCount {
    /// Makes a count, as a transport or a test double would report it.
    pub fn new(count: u64, request_id: Option<RequestId>) -> Self {
        InstanceCount { count, request_id }
    }

    /// The number of customer master keys (`instance_num`). Default master keys, which
    /// services create for themselves, are not counted.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The `X-Request-Id` of the answer, when it had one.
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_ref().map(RequestId::as_str)
    }
}

/// Parses a ShowUserInstances response from its borrowed parts.
///
/// * A body longer than [`MAX_RESPONSE_BODY`] is refused as
///   [`TooLarge`](ResponseErrorKind::TooLarge) without being looked at.
/// * A 2xx status with a JSON object whose `instance_num` is an integer from 0 to
///   `u64::MAX` is the count; unknown fields are ignored. A duplicate `instance_num`, a
///   negative, fractional or exponent number, a string, `null`, a top-level array, trailing
///   bytes or anything that is not JSON is [`Malformed`](ResponseErrorKind::Malformed).
/// * A 2xx status whose body is an error document (it has no usable `instance_num`, or it
///   has `error`, `error_code` or `errorCode` beside one) is a
///   [`Service`](ResponseErrorKind::Service) error: the service said no.
/// * Any other status is a [`Service`](ResponseErrorKind::Service) error when the body is a
///   recognised error document, else a [`Status`](ResponseErrorKind::Status) error that keeps
///   the status (HTML, empty, garbage). Recognised documents: nested
///   `{"error":{"error_code","error_msg"}}` (also with `errorCode`/`errorMsg` or
///   `code`/`message` inside), `{"error":"text"}`, and flat `error_code`/`error_msg`,
///   `errorCode`/`errorMsg` or `code`/`message`. A numeric code becomes its decimal text.
///
/// The request id comes from `X-Request-Id` when it is non-empty printable ASCII, else (for
/// errors) from the body's `request_id`, top level or inside `error`.
///
/// # Errors
/// A [`ResponseError`]; see [`ResponseError::is_retryable`] for what is worth retrying.
pub fn parse(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<InstanceCount, ResponseError> {
    parse_with_limit(status, headers, body, MAX_RESPONSE_BODY)
}

/// [`parse`] with a smaller body limit (a `limit` above [`MAX_RESPONSE_BODY`] is lowered to
/// it), for transports configured to accept less.
///
/// # Errors
/// As [`parse`].
pub fn parse_with_limit(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    limit: usize,
) -> Result<InstanceCount, ResponseError> {
    let limit = limit.min(MAX_RESPONSE_BODY);
    if body.len() > limit {
        return Err(too_large(status, headers, limit));
    }
    let failure = if status.is_success() {
        match serde_json::from_slice::<SuccessBody>(body) {
            Ok(SuccessBody {
                instance_num: Some(count),
                other,
            }) if !says_error(&other) => {
                let request_id = request_id::from_headers(headers).map(RequestId::new);
                return Ok(InstanceCount::new(count, request_id));
            }
            Ok(SuccessBody {
                instance_num: Some(_),
                ..
            }) => SuccessFailure::ErrorMarker,
            Ok(SuccessBody {
                instance_num: None, ..
            }) => SuccessFailure::Missing,
            Err(e) => SuccessFailure::Invalid(e),
        }
    } else {
        SuccessFailure::NotSuccess
    };
    Err(error_response(status, headers, body, failure))
}

/// The answer to any operation whose success is a JSON document: a 2xx body read as `T`,
/// anything else (another status, a 2xx that is not `T`) the error it says, read as
/// [`parse`] reads KMS's error documents. The body limit is the caller's (the client
/// machine refuses a body over [`ClientConfig::max_response_body`](crate::ClientConfig::max_response_body)
/// before this sees it).
///
/// # Errors
/// A [`ResponseError`], as for [`parse`].
pub fn parse_json<T: serde::de::DeserializeOwned>(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<T, ResponseError> {
    let failure = match status.is_success() {
        true => match serde_json::from_slice::<T>(body) {
            Ok(value) => return Ok(value),
            Err(e) => SuccessFailure::Invalid(e),
        },
        false => SuccessFailure::NotSuccess,
    };
    Err(error_response(status, headers, body, failure))
}

/// The error for a body longer than `limit`, which is not looked at.
pub(crate) fn too_large(status: StatusCode, headers: &HeaderMap, limit: usize) -> ResponseError {
    ResponseError::new(ResponseErrorKind::TooLarge, status, headers)
        .with_detail(format!("the body is larger than the {limit}-byte limit"))
}

/// The answer's request id (`X-Request-Id`), when it is printable.
pub(crate) fn request_id_of(headers: &HeaderMap) -> Option<&str> {
    request_id::from_headers(headers)
}

/// A 2xx body: `instance_num` at most once, as a u64 (`null` is refused like any other
/// type), and every other field by name.
///
/// The other fields are kept rather than ignored for two reasons: an error field beside a
/// count makes the answer an error, and serde_json checks what it keeps (strings are UTF-8
/// without lone surrogates, nesting is at most 128 deep) but skips an ignored value without
/// those checks: a bad string in an unknown field would then make a count here of a body
/// that is not JSON to the error path.
#[derive(Deserialize)]
#[serde(expecting = "a JSON object with \"instance_num\"")]
struct SuccessBody {
    #[serde(default, deserialize_with = "some_u64")]
    instance_num: Option<u64>,
    #[serde(flatten)]
    other: Map<String, Value>,
}

/// `instance_num` when present: a u64, never `null` (a plain `Option<u64>` would read
/// `null` as absent, and report it as missing rather than as the wrong type).
fn some_u64<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    u64::deserialize(deserializer).map(Some)
}

/// Whether a body with a count also carries an error field (whatever its value): the
/// service then said no, whatever the count.
fn says_error(fields: &Map<String, Value>) -> bool {
    ["error", "error_code", "errorCode"]
        .into_iter()
        .any(|key| fields.contains_key(key))
}

/// Why a 2xx body gave no count.
enum SuccessFailure {
    NotSuccess,
    Missing,
    ErrorMarker,
    Invalid(serde_json::Error),
}

/// Everything that is not a count.
fn error_response(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    failure: SuccessFailure,
) -> ResponseError {
    let said = ErrorDocument::read(body).unwrap_or_default();
    let recognised = said.code.is_some() || said.message.is_some();
    let kind = match (&failure, recognised) {
        (_, true) => ResponseErrorKind::Service,
        (SuccessFailure::NotSuccess, false) => ResponseErrorKind::Status,
        (_, false) => ResponseErrorKind::Malformed,
    };
    let err = ResponseError::new(kind, status, headers).or_request_id(said.request_id);
    if recognised {
        return err.with_document(said.code, said.message);
    }
    match failure {
        SuccessFailure::NotSuccess => err,
        SuccessFailure::Missing => err.with_detail("the JSON object has no \"instance_num\" field"),
        SuccessFailure::ErrorMarker => err.with_detail(
            "the JSON object has \"instance_num\" beside an error field that says nothing",
        ),
        SuccessFailure::Invalid(e) => err
            .with_detail(describe_json_error(&e, body))
            .with_source(e),
    }
}

fn describe_json_error(e: &serde_json::Error, body: &[u8]) -> String {
    if body.iter().all(u8::is_ascii_whitespace) {
        return "the body is empty".to_owned();
    }
    format!("{e}")
}

/// What an error document says: its usable code, message and request id.
///
/// The service, its gateway and IAM write errors in several shapes (nested or flat, snake
/// or camel case, `code`/`message`, `"error": "text"`), with values of any type and keys
/// that may repeat (the last one wins). So the body is read as a JSON value and searched,
/// rather than into one struct that would refuse half of them.
#[derive(Default)]
struct ErrorDocument {
    code: Option<String>,
    message: Option<String>,
    request_id: Option<String>,
}

impl ErrorDocument {
    /// `None` when `body` is not a JSON object.
    fn read(body: &[u8]) -> Option<ErrorDocument> {
        let Ok(Value::Object(top)) = serde_json::from_slice::<Value>(body) else {
            return None;
        };
        let nested = match top.get("error") {
            Some(Value::Object(nested)) => Some(nested),
            _ => None,
        };
        // The nested `error` object wins when it says anything; then `"error": "text"`;
        // then the top-level fields.
        let (code, message) = match (nested, top.get("error")) {
            (Some(nested), _) if code(nested).is_some() || message(nested).is_some() => {
                (code(nested), message(nested))
            }
            (_, Some(Value::String(text))) if !text.is_empty() => (None, Some(text.clone())),
            _ => (code(&top), message(&top)),
        };
        let request_id = text(&top, "request_id").or_else(|| text(nested?, "request_id"));
        Some(ErrorDocument {
            code,
            message,
            request_id,
        })
    }
}

/// The first usable code: a non-empty string, or an integer as its decimal text (IAM's
/// `"code": 401`); a fraction, `true` or an object says nothing.
fn code(fields: &Map<String, Value>) -> Option<String> {
    ["error_code", "errorCode", "code"]
        .into_iter()
        .find_map(|key| match fields.get(key)? {
            Value::String(code) if !code.is_empty() => Some(code.clone()),
            Value::Number(code) if !code.is_f64() => Some(code.to_string()),
            _ => None,
        })
}

/// The first usable message: a non-empty string.
fn message(fields: &Map<String, Value>) -> Option<String> {
    ["error_msg", "errorMsg", "message"]
        .into_iter()
        .find_map(|key| text(fields, key))
}

/// The value of `key` when it is a non-empty string.
fn text(fields: &Map<String, Value>, key: &str) -> Option<String> {
    match fields.get(key)? {
        Value::String(text) if !text.is_empty() => Some(text.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test fails by panicking")]

    use http::{HeaderMap, StatusCode};

    use crate::ResponseErrorKind;

    /// Unknown fields of a success body are checked as strictly as the error path reads
    /// them (see `SuccessBody`): serde_json would skip an ignored value unchecked.
    #[test]
    fn unknown_fields_of_a_success_body_are_checked() {
        let deep = format!(
            r#"{{"instance_num":1,"x":{}{}}}"#,
            "[".repeat(200),
            "]".repeat(200)
        );
        let bodies: [&[u8]; 3] = [
            br#"{"instance_num":1,"x":"\ud800"}"#,
            b"{\"instance_num\":1,\"x\":\"\xff\"}",
            deep.as_bytes(),
        ];
        for body in bodies {
            let err = crate::parse(StatusCode::OK, &HeaderMap::new(), body).unwrap_err();
            assert_eq!(
                err.kind(),
                ResponseErrorKind::Malformed,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        let shallow = br#"{"instance_num":1,"x":[[[{"a":"\ud83d\ude00"}]]]}"#;
        assert_eq!(
            crate::parse(StatusCode::OK, &HeaderMap::new(), shallow)
                .unwrap()
                .count(),
            1
        );
    }
}
