//! Turning a response's parts into the instance count or a typed error.

use std::borrow::Cow;
use std::fmt;

use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, MapAccess, Visitor};

use crate::error::{ResponseError, ResponseErrorKind};
use crate::request::X_REQUEST_ID;
use crate::request_id::RequestId;
use crate::retry::RetryAfter;

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
///   This path makes no heap allocation (the one exception: a string with escapes in an
///   unknown field, which serde_json decodes in a scratch buffer).
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
        let mut err = ResponseError::new(ResponseErrorKind::TooLarge, status);
        err.0.request_id = header_request_id(headers).map(str::to_owned);
        err.0.retry_after = RetryAfter::from_headers(headers);
        err.0.detail = Some(format!("the body is larger than the {limit}-byte limit").into());
        return Err(err);
    }
    let failure = if status.is_success() {
        // The answer as the service writes it is read without serde; anything else, however
        // slightly different, takes the full parse below, so this can only be faster.
        if let Some(count) = usual_success(body) {
            return Ok(InstanceCount {
                count,
                request_id: header_request_id(headers).map(RequestId::new),
            });
        }
        // JSON is UTF-8 (RFC 8259). serde_json checks every string it parses, and `Skip`
        // parses the strings of unknown fields too (`IgnoredAny` would skip them unchecked),
        // while any byte above 0x7F outside a string is a syntax error: so `from_slice`
        // refuses invalid UTF-8 anywhere without a separate pass over the body.
        match serde_json::from_slice::<SuccessBody>(body).map_err(SuccessFailure::Invalid) {
            Ok(SuccessBody {
                instance_num: Some(count),
                error_marker: false,
            }) => {
                return Ok(InstanceCount {
                    count,
                    request_id: header_request_id(headers).map(RequestId::new),
                });
            }
            Ok(SuccessBody {
                instance_num: Some(_),
                ..
            }) => SuccessFailure::ErrorMarker,
            Ok(SuccessBody {
                instance_num: None, ..
            }) => SuccessFailure::Missing,
            Err(failure) => failure,
        }
    } else {
        SuccessFailure::NotSuccess
    };
    Err(error_response(status, headers, body, failure))
}

/// The count from a body of exactly the shape the service sends, `{"instance_num": 15}`
/// (any JSON whitespace around the tokens, the number written as JSON writes an integer:
/// no sign, no leading zero, no fraction or exponent, at most `u64::MAX`); `None` for
/// everything else, which the serde parse then reads.
///
/// Why not serde alone: the serde path costs about 75 ns for these 20 bytes, most of it the
/// machinery of a general deserializer, and the success answer is the one a client parses
/// all the time. Whatever this accepts the serde path accepts with the same count (a
/// property test and the `parse_response` fuzz target compare the two on every input).
pub(crate) fn usual_success(body: &[u8]) -> Option<u64> {
    const KEY: &[u8] = b"\"instance_num\"";
    let rest = skip_ws(body).strip_prefix(b"{")?;
    let rest = skip_ws(rest).strip_prefix(KEY)?;
    let rest = skip_ws(rest).strip_prefix(b":")?;
    let rest = skip_ws(rest);
    let (&first, mut rest) = rest.split_first()?;
    let mut count = u64::from(first.wrapping_sub(b'0'));
    if count > 9 {
        return None;
    }
    if count != 0 {
        while let Some((&b, more)) = rest.split_first() {
            let digit = b.wrapping_sub(b'0');
            if digit > 9 {
                break;
            }
            count = count.checked_mul(10)?.checked_add(u64::from(digit))?;
            rest = more;
        }
    }
    // After the number: `}` (a digit after a leading zero, `.`, `e` or `,` end up here too,
    // and are refused).
    let rest = skip_ws(rest).strip_prefix(b"}")?;
    skip_ws(rest).is_empty().then_some(count)
}

/// The count the serde path reads from a 2xx body, for comparison with [`usual_success`]
/// in tests and in the `parse_response` fuzz target.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn serde_count(body: &[u8]) -> Option<u64> {
    match serde_json::from_slice::<SuccessBody>(body) {
        Ok(SuccessBody {
            instance_num: Some(n),
            error_marker: false,
        }) => Some(n),
        _ => None,
    }
}

/// `bytes` without its leading JSON whitespace (RFC 8259: space, tab, LF, CR).
fn skip_ws(mut bytes: &[u8]) -> &[u8] {
    while let Some((b' ' | b'\t' | b'\n' | b'\r', rest)) = bytes.split_first() {
        bytes = rest;
    }
    bytes
}

/// Why a 2xx body gave no count.
enum SuccessFailure {
    NotSuccess,
    Missing,
    ErrorMarker,
    Invalid(serde_json::Error),
}

/// The slow path: everything that is not a count. Allocation is fine here.
#[cold]
fn error_response(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    failure: SuccessFailure,
) -> ResponseError {
    let doc = ErrorDoc::parse(body);
    let (code, message) = doc
        .as_ref()
        .map(ErrorDoc::code_and_message)
        .unwrap_or_default();
    let recognised = code.is_some() || message.is_some();
    let kind = match (&failure, recognised) {
        (_, true) => ResponseErrorKind::Service,
        (SuccessFailure::NotSuccess, false) => ResponseErrorKind::Status,
        (_, false) => ResponseErrorKind::Malformed,
    };
    let mut err = ResponseError::new(kind, status);
    err.0.request_id = header_request_id(headers)
        .map(str::to_owned)
        .or_else(|| doc.as_ref().and_then(ErrorDoc::request_id));
    err.0.retry_after = RetryAfter::from_headers(headers);
    if recognised {
        err.0.code = code;
        err.0.message = message;
        return err;
    }
    match failure {
        SuccessFailure::NotSuccess => {}
        SuccessFailure::Missing => {
            err.0.detail = Some("the JSON object has no \"instance_num\" field".into());
        }
        SuccessFailure::ErrorMarker => {
            err.0.detail = Some(
                "the JSON object has \"instance_num\" beside an error field that says nothing"
                    .into(),
            );
        }
        SuccessFailure::Invalid(e) => {
            err.0.detail = Some(describe_json_error(&e, body).into());
            err.0.source = Some(Box::new(e));
        }
    }
    err
}

fn describe_json_error(e: &serde_json::Error, body: &[u8]) -> String {
    if body.iter().all(u8::is_ascii_whitespace) {
        return "the body is empty".to_owned();
    }
    format!("{e}")
}

/// `X-Request-Id` when it is non-empty printable ASCII (no spaces).
fn header_request_id(headers: &HeaderMap) -> Option<&str> {
    let value = find_header(headers, &X_REQUEST_ID)?.as_bytes();
    if value.is_empty() || !all_ascii_graphic(value) {
        return None;
    }
    std::str::from_utf8(value).ok()
}

/// The first value of header `name`. Answers carry a handful of headers: comparing names is
/// then cheaper than hashing one, which matters on the allocation-free success path.
pub(crate) fn find_header<'h>(
    headers: &'h HeaderMap,
    name: &HeaderName,
) -> Option<&'h HeaderValue> {
    if headers.keys_len() <= 16 {
        headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    } else {
        headers.get(name)
    }
}

/// `bytes.iter().all(u8::is_ascii_graphic)`, eight bytes at a time: this check is most of
/// the cost of taking the request id on the success path.
pub(crate) fn all_ascii_graphic(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word);
        // With every byte below 0x80: a byte below 0x21 borrows into its high bit when 0x21
        // is subtracted (and `!x` keeps it), a byte of 0x7F carries into it when 1 is added.
        let below = x.wrapping_sub(0x21 * ONES) & !x;
        let above = x.wrapping_add(ONES);
        if (x | below | above) & HIGH != 0 {
            return false;
        }
    }
    chunks.remainder().iter().all(u8::is_ascii_graphic)
}

/// The strict view of a success body: only `instance_num` matters, exactly once, as a u64.
struct SuccessBody {
    instance_num: Option<u64>,
    /// `error`, `error_code` or `errorCode` was present: the body is (also) an error.
    error_marker: bool,
}

impl<'de> Deserialize<'de> for SuccessBody {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(SuccessVisitor)
    }
}

struct SuccessVisitor;

impl<'de> Visitor<'de> for SuccessVisitor {
    type Value = SuccessBody;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object with \"instance_num\"")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SuccessBody, A::Error> {
        let mut body = SuccessBody {
            instance_num: None,
            error_marker: false,
        };
        while let Some(key) = map.next_key::<SuccessKey>()? {
            match key {
                SuccessKey::InstanceNum => {
                    if body.instance_num.is_some() {
                        return Err(de::Error::duplicate_field("instance_num"));
                    }
                    body.instance_num = Some(map.next_value::<u64>()?);
                }
                SuccessKey::ErrorMarker => {
                    body.error_marker = true;
                    map.next_value::<Skip>()?;
                }
                SuccessKey::Other => {
                    map.next_value::<Skip>()?;
                }
            }
        }
        Ok(body)
    }
}

/// Skips any JSON value without allocating. serde_json's own `IgnoredAny` keeps a stack of
/// open containers in a heap buffer; this recurses instead (serde_json bounds the depth at
/// 128). Only a string with escapes still goes through serde_json's scratch buffer.
struct Skip;

impl<'de> Deserialize<'de> for Skip {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(SkipVisitor)
    }
}

struct SkipVisitor;

impl<'de> Visitor<'de> for SkipVisitor {
    type Value = Skip;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Skip, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(Skip)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Skip, A::Error> {
        while map.next_entry::<SkipKey, Skip>()?.is_some() {}
        Ok(Skip)
    }
}

/// A map key, skipped without allocating (borrowed unless it has escapes).
struct SkipKey;

impl<'de> Deserialize<'de> for SkipKey {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_identifier(SkipVisitor)
            .map(|_| SkipKey)
    }
}

enum SuccessKey {
    InstanceNum,
    ErrorMarker,
    Other,
}

impl<'de> Deserialize<'de> for SuccessKey {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = SuccessKey;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: de::Error>(self, key: &str) -> Result<SuccessKey, E> {
                Ok(match key {
                    "instance_num" => SuccessKey::InstanceNum,
                    "error" | "error_code" | "errorCode" => SuccessKey::ErrorMarker,
                    _ => SuccessKey::Other,
                })
            }
        }
        deserializer.deserialize_identifier(KeyVisitor)
    }
}

/// The lenient view of an error document: every field optional, every type accepted,
/// later duplicates winning. Strings are borrowed from the body when they have no escapes.
/// Visitors fill it in place (no large values moved around on the way out).
#[derive(Default)]
struct ErrorDoc<'a> {
    fields: ErrorFields<'a>,
    /// The `error` object, when the top level has one.
    nested: Option<ErrorFields<'a>>,
    /// `"error": "text"`.
    error_text: Option<Cow<'a, str>>,
}

/// The usable value of each key an error document may use: a non-empty string (or, for
/// codes, an integer as its decimal text); anything else counts as absent.
#[derive(Default)]
struct ErrorFields<'a> {
    error_code: Option<Cow<'a, str>>,
    error_code_camel: Option<Cow<'a, str>>,
    code: Option<Cow<'a, str>>,
    error_msg: Option<Cow<'a, str>>,
    error_msg_camel: Option<Cow<'a, str>>,
    message: Option<Cow<'a, str>>,
    request_id: Option<Cow<'a, str>>,
}

impl ErrorFields<'_> {
    fn code(&self) -> Option<&str> {
        [&self.error_code, &self.error_code_camel, &self.code]
            .into_iter()
            .find_map(|c| c.as_deref())
    }

    fn message(&self) -> Option<&str> {
        [&self.error_msg, &self.error_msg_camel, &self.message]
            .into_iter()
            .find_map(|m| m.as_deref())
    }
}

impl ErrorDoc<'_> {
    /// Parses `body`; `None` when it is not a JSON object.
    fn parse(body: &[u8]) -> Option<ErrorDoc<'_>> {
        let mut doc = ErrorDoc::default();
        let mut de = serde_json::Deserializer::from_slice(body);
        DocSeed { doc: &mut doc }.deserialize(&mut de).ok()?;
        de.end().ok()?;
        Some(doc)
    }

    /// The nested `error` object wins when it says anything; then `"error": "text"`; then
    /// the top-level fields.
    fn code_and_message(&self) -> (Option<String>, Option<String>) {
        if let Some(nested) = &self.nested {
            let (code, message) = (nested.code(), nested.message());
            if code.is_some() || message.is_some() {
                return (code.map(str::to_owned), message.map(str::to_owned));
            }
        }
        if let Some(text) = self.error_text.as_deref().filter(|t| !t.is_empty()) {
            return (None, Some(text.to_owned()));
        }
        (
            self.fields.code().map(str::to_owned),
            self.fields.message().map(str::to_owned),
        )
    }

    fn request_id(&self) -> Option<String> {
        self.fields
            .request_id
            .as_deref()
            .or_else(|| self.nested.as_ref().and_then(|n| n.request_id.as_deref()))
            .map(str::to_owned)
    }
}

/// How a value is reduced: as a code (integers count) or as text.
#[derive(Clone, Copy)]
enum Want {
    Code,
    Text,
}

/// One value of an error document, reduced to its usable text (see [`ErrorFields`]).
struct ValueSeed(Want);

impl<'de> DeserializeSeed<'de> for ValueSeed {
    type Value = Option<Cow<'de, str>>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(ValueVisitor(self.0))
    }
}

struct ValueVisitor(Want);

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Option<Cow<'de, str>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok((!v.is_empty()).then_some(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok((!v.is_empty()).then(|| Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok((!v.is_empty()).then_some(Cow::Owned(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(matches!(self.0, Want::Code).then(|| Cow::Owned(v.to_string())))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(matches!(self.0, Want::Code).then(|| Cow::Owned(v.to_string())))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        SkipVisitor.visit_seq(seq).map(|_| None)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        SkipVisitor.visit_map(map).map(|_| None)
    }
}

/// The top-level object, filled into `doc`.
struct DocSeed<'s, 'de> {
    doc: &'s mut ErrorDoc<'de>,
}

impl<'de> DeserializeSeed<'de> for DocSeed<'_, 'de> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for DocSeed<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<ErrorKey>()? {
            if let ErrorKey::Error = key {
                // A later `error` replaces an earlier one, whatever its type.
                self.doc.nested = None;
                self.doc.error_text = None;
                map.next_value_seed(NestedSeed {
                    doc: &mut *self.doc,
                })?;
            } else {
                fill(&mut self.doc.fields, key, &mut map)?;
            }
        }
        Ok(())
    }
}

/// Stores the value of `key` into `fields` (or skips it).
fn fill<'de, A: MapAccess<'de>>(
    fields: &mut ErrorFields<'de>,
    key: ErrorKey,
    map: &mut A,
) -> Result<(), A::Error> {
    let (slot, want) = match key {
        ErrorKey::ErrorCode => (&mut fields.error_code, Want::Code),
        ErrorKey::ErrorCodeCamel => (&mut fields.error_code_camel, Want::Code),
        ErrorKey::Code => (&mut fields.code, Want::Code),
        ErrorKey::ErrorMsg => (&mut fields.error_msg, Want::Text),
        ErrorKey::ErrorMsgCamel => (&mut fields.error_msg_camel, Want::Text),
        ErrorKey::Message => (&mut fields.message, Want::Text),
        ErrorKey::RequestId => (&mut fields.request_id, Want::Text),
        ErrorKey::Error | ErrorKey::Other => {
            map.next_value::<Skip>()?;
            return Ok(());
        }
    };
    *slot = map.next_value_seed(ValueSeed(want))?;
    Ok(())
}

/// The keys an error document may use; matched without allocating.
enum ErrorKey {
    ErrorCode,
    ErrorCodeCamel,
    Code,
    ErrorMsg,
    ErrorMsgCamel,
    Message,
    RequestId,
    Error,
    Other,
}

impl<'de> Deserialize<'de> for ErrorKey {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = ErrorKey;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: de::Error>(self, key: &str) -> Result<ErrorKey, E> {
                Ok(match key {
                    "error_code" => ErrorKey::ErrorCode,
                    "errorCode" => ErrorKey::ErrorCodeCamel,
                    "code" => ErrorKey::Code,
                    "error_msg" => ErrorKey::ErrorMsg,
                    "errorMsg" => ErrorKey::ErrorMsgCamel,
                    "message" => ErrorKey::Message,
                    "request_id" => ErrorKey::RequestId,
                    "error" => ErrorKey::Error,
                    _ => ErrorKey::Other,
                })
            }
        }
        deserializer.deserialize_identifier(KeyVisitor)
    }
}

/// The value of the top-level `error`: an object (filled into `doc.nested`), a string
/// (`doc.error_text`), or anything else (ignored).
struct NestedSeed<'s, 'de> {
    doc: &'s mut ErrorDoc<'de>,
}

impl<'de> DeserializeSeed<'de> for NestedSeed<'_, 'de> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for NestedSeed<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an error object or text")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let nested = self.doc.nested.insert(ErrorFields::default());
        while let Some(key) = map.next_key::<ErrorKey>()? {
            fill(nested, key, &mut map)?;
        }
        Ok(())
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<(), E> {
        self.doc.error_text = Some(Cow::Borrowed(v));
        Ok(())
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.doc.error_text = Some(Cow::Owned(v.to_owned()));
        Ok(())
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        SkipVisitor.visit_seq(seq).map(|_| ())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{all_ascii_graphic, serde_count, usual_success};
    use proptest::prelude::*;

    /// Bodies near the usual shape: JSON-ish tokens in any order, so that most are almost
    /// right.
    fn near_success() -> impl Strategy<Value = Vec<u8>> {
        let token = prop_oneof![
            Just(&b"{"[..]),
            Just(&b"}"[..]),
            Just(&b"\"instance_num\""[..]),
            Just(&b"\"instance_nu\""[..]),
            Just(&b"\"error\""[..]),
            Just(&b":"[..]),
            Just(&b","[..]),
            Just(&b" "[..]),
            Just(&b"\t\r\n"[..]),
            Just(&b"\x0b"[..]),
            Just(&b"0"[..]),
            Just(&b"15"[..]),
            Just(&b"-"[..]),
            Just(&b"."[..]),
            Just(&b"e2"[..]),
            Just(&b"18446744073709551615"[..]),
            Just(&b"18446744073709551616"[..]),
            Just(&b"null"[..]),
            Just(&b"\xff"[..]),
        ];
        // The usual body's tokens with up to three edits (insert or replace a token), so
        // that many cases are one step away from what the fast path accepts.
        let usual: Vec<&'static [u8]> = vec![b"{", b"\"instance_num\"", b":", b"15", b"}"];
        let edit = (any::<bool>(), any::<prop::sample::Index>(), token);
        proptest::collection::vec(edit, 0..4).prop_map(move |edits| {
            let mut tokens = usual.clone();
            for (insert, at, token) in edits {
                let i = at.index(tokens.len() + 1);
                if insert || i == tokens.len() {
                    tokens.insert(i, token);
                } else if let Some(slot) = tokens.get_mut(i) {
                    *slot = token;
                }
            }
            tokens.concat()
        })
    }

    proptest! {
        // Cheap cases, and the interesting ones are a few edits among many.
        #![proptest_config(ProptestConfig::with_cases(8192))]

        #[test]
        fn fast_path_agrees_with_serde(body in near_success()) {
            if let Some(n) = usual_success(&body) {
                prop_assert_eq!(serde_count(&body), Some(n), "{:?}", String::from_utf8_lossy(&body));
            }
        }

        #[test]
        fn fast_path_reads_every_count(n in any::<u64>(), ws in "[ \t\r\n]{0,3}") {
            let body = format!("{ws}{{{ws}\"instance_num\"{ws}:{ws}{n}{ws}}}{ws}");
            prop_assert_eq!(usual_success(body.as_bytes()), Some(n));
        }
    }

    #[test]
    fn fast_path_cases() {
        let cases: &[(&str, Option<u64>)] = &[
            (r#"{"instance_num": 15}"#, Some(15)),
            (r#"{"instance_num":0}"#, Some(0)),
            (
                "\r\n{ \"instance_num\" :\t18446744073709551615 }\n",
                Some(u64::MAX),
            ),
            // Left to serde (which refuses them or reads them its own way).
            (r#"{"instance_num": 18446744073709551616}"#, None),
            (r#"{"instance_num": 015}"#, None),
            (r#"{"instance_num": 00}"#, None),
            (r#"{"instance_num": -0}"#, None),
            (r#"{"instance_num": 1.0}"#, None),
            (r#"{"instance_num": 1e2}"#, None),
            (r#"{"instance_num": 15,}"#, None),
            (r#"{"instance_num": 15, "x": 1}"#, None),
            (r#"{"instance_num": 15}}"#, None),
            (r#"{"instance_num": 15} x"#, None),
            (r#"{"instance_num": "15"}"#, None),
            (r#"{"instance_num": }"#, None),
            (r#"{"instance_num" 15}"#, None),
            (r#"{"instance_nu\u006d": 15}"#, None),
            ("{\"instance_num\": 15}\x0b", None),
            ("", None),
        ];
        for (body, want) in cases {
            assert_eq!(usual_success(body.as_bytes()), *want, "{body:?}");
            if let Some(n) = want {
                assert_eq!(serde_count(body.as_bytes()), Some(*n), "{body:?}");
            }
        }
    }

    proptest! {
        #[test]
        fn word_at_a_time_check_equals_the_plain_one(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            prop_assert_eq!(all_ascii_graphic(&bytes), bytes.iter().all(u8::is_ascii_graphic));
        }
    }

    #[test]
    fn boundaries() {
        for b in 0..=255u8 {
            let word = [b'a', b'b', b'c', b, b'd', b'e', b'f', b'g', b'h'];
            assert_eq!(all_ascii_graphic(&word), b.is_ascii_graphic(), "{b:#x}");
            assert_eq!(
                all_ascii_graphic(&word[..8]),
                b.is_ascii_graphic(),
                "{b:#x}"
            );
        }
    }
}
