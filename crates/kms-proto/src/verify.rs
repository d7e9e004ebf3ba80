//! The server side of SDK-HMAC-SHA256: checking a request's signature.
//!
//! The verifier rebuilds the canonical request from the headers the request's
//! `SignedHeaders` declares, with the same canonicalisation the signer uses
//! ([`sign::write_canonical_request`]), so it accepts the official Python SDK
//! (`content-type;host;user-agent;x-project-id;x-sdk-date`), the Go SDK
//! (`user-agent;x-project-id;x-sdk-date`), Java and this crate alike, and a client and an
//! emulator built on this crate can never disagree silently. Untrusted `Authorization`
//! headers are parsed without panicking and signatures are compared in constant time.

use std::fmt;
use std::time::{Duration, SystemTime};

use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderValue};
use percent_encoding::percent_decode_str;
use sha2::{Digest, Sha256};

use crate::sdk_date::SdkDate;
use crate::sign::{self, ALGORITHM};

/// How far `X-Sdk-Date` may be from the verifier's clock, either way: 15 minutes, as the
/// API gateway allows.
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(15 * 60);

/// The most headers a `SignedHeaders` list may name. Real clients sign five or six.
pub const MAX_SIGNED_HEADERS: usize = 64;

/// The request to verify, as received.
#[derive(Debug, Clone, Copy)]
pub struct ReceivedRequest<'a> {
    /// The method.
    pub method: &'a str,
    /// The path as received, still percent-encoded, without the query.
    pub path: &'a str,
    /// The raw query string after `?` (percent-encoded), or `""`.
    pub query: &'a str,
    /// The headers as received.
    pub headers: &'a HeaderMap,
    /// The body as received.
    pub body: &'a [u8],
}

/// What a valid signature established, borrowed from the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified<'a> {
    access_key: &'a str,
    signed_headers: &'a str,
    date: SdkDate,
}

impl<'a> Verified<'a> {
    /// The access key id that signed the request.
    pub fn access_key(&self) -> &'a str {
        self.access_key
    }

    /// The signed header names, as the request declared them.
    pub fn signed_headers(&self) -> impl Iterator<Item = &'a str> + use<'a> {
        self.signed_headers.split(';')
    }

    /// Whether `name` (lower case) was signed.
    pub fn is_signed(&self, name: &str) -> bool {
        self.signed_headers().any(|h| h == name)
    }

    /// The signing time.
    pub fn date(&self) -> SdkDate {
        self.date
    }
}

/// Why a request's signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifyError {
    /// No `Authorization` header.
    MissingAuthorization,
    /// The `Authorization` header is not `SDK-HMAC-SHA256 Access=.., SignedHeaders=.., Signature=..`.
    MalformedAuthorization(&'static str),
    /// The access key id is not known to the verifier.
    UnknownAccessKey(String),
    /// A header the request says it signed is not in the request, or is there twice.
    SignedHeaderMissing(String),
    /// `X-Sdk-Date` is absent.
    MissingDate,
    /// `X-Sdk-Date` is present but not among the signed headers.
    DateNotSigned,
    /// `X-Sdk-Date` is not `YYYYMMDDTHHMMSSZ`.
    MalformedDate,
    /// `X-Sdk-Date` is more than [`MAX_CLOCK_SKEW`] away from the verifier's clock.
    Expired {
        /// The signing time the request carries.
        signed: SdkDate,
        /// The verifier's clock, if it could be written as an `SdkDate`.
        server: Option<SdkDate>,
    },
    /// The signature does not match the one the SK gives for this request.
    SignatureMismatch,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyError::MissingAuthorization => {
                f.write_str("the request has no Authorization header")
            }
            VerifyError::MalformedAuthorization(why) => {
                write!(f, "the Authorization header is malformed: {why}")
            }
            VerifyError::UnknownAccessKey(ak) => {
                write!(
                    f,
                    "access key {:?} is unknown",
                    crate::untrusted::Untrusted(ak).to_string()
                )
            }
            VerifyError::SignedHeaderMissing(name) => write!(
                f,
                "signed header {:?} is missing from the request or present more than once",
                crate::untrusted::Untrusted(name).to_string()
            ),
            VerifyError::MissingDate => f.write_str("the request has no X-Sdk-Date header"),
            VerifyError::DateNotSigned => f.write_str("X-Sdk-Date is not among the signed headers"),
            VerifyError::MalformedDate => {
                f.write_str("X-Sdk-Date is not of the form YYYYMMDDTHHMMSSZ")
            }
            VerifyError::Expired { signed, server } => {
                write!(f, "signature expired, signature time:{signed},server time:")?;
                match server {
                    Some(s) => write!(f, "{s}"),
                    None => f.write_str("unknown"),
                }
            }
            VerifyError::SignatureMismatch => f.write_str("verify aksk signature fail"),
        }
    }
}

impl std::error::Error for VerifyError {}

/// The secret key of an access key, as [`verify`] takes it from the lookup: the SK as text
/// (`&str`, `String`), or a [`PreparedKey`] keyed once for every request it verifies.
pub trait SecretKey {
    /// HMAC-SHA256 keyed with the SK.
    fn keyed_hmac(&self) -> Hmac<Sha256>;
}

impl SecretKey for &str {
    fn keyed_hmac(&self) -> Hmac<Sha256> {
        sign::hmac_sha256(self)
    }
}

impl SecretKey for String {
    fn keyed_hmac(&self) -> Hmac<Sha256> {
        sign::hmac_sha256(self)
    }
}

impl SecretKey for &String {
    fn keyed_hmac(&self) -> Hmac<Sha256> {
        sign::hmac_sha256(self)
    }
}

/// An SK with its HMAC key schedule computed once, for a verifier that checks many
/// requests of the same access key. `Debug` prints `[redacted]`.
#[derive(Clone)]
pub struct PreparedKey(Hmac<Sha256>);

impl PreparedKey {
    /// Prepares `sk`.
    pub fn new(sk: &str) -> Self {
        PreparedKey(sign::hmac_sha256(sk))
    }
}

impl fmt::Debug for PreparedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PreparedKey([redacted])")
    }
}

impl SecretKey for PreparedKey {
    fn keyed_hmac(&self) -> Hmac<Sha256> {
        self.0.clone()
    }
}

impl SecretKey for &PreparedKey {
    fn keyed_hmac(&self) -> Hmac<Sha256> {
        self.0.clone()
    }
}

/// A parsed `Authorization` header, borrowed from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationHeader<'a> {
    /// `Access=`.
    pub access_key: &'a str,
    /// `SignedHeaders=`, as written.
    pub signed_headers: &'a str,
    /// `Signature=`, decoded from hex.
    pub signature: [u8; 32],
}

impl<'a> AuthorizationHeader<'a> {
    /// Parses `SDK-HMAC-SHA256 Access=<AK>, SignedHeaders=<a;b>, Signature=<64 hex>`.
    /// Spaces around the `,` separators are optional; every part must appear exactly once.
    ///
    /// # Errors
    /// [`VerifyError::MalformedAuthorization`] saying which part is wrong.
    pub fn parse(value: &'a str) -> Result<Self, VerifyError> {
        let malformed = VerifyError::MalformedAuthorization;
        let rest = value
            .strip_prefix(ALGORITHM)
            .and_then(|r| r.strip_prefix(' '))
            .ok_or(malformed("it does not start with \"SDK-HMAC-SHA256 \""))?;
        if let Some(parsed) = Self::parse_usual(rest) {
            return Ok(parsed);
        }
        let (mut access, mut signed, mut signature) = (None, None, None);
        // Only unusual shapes get here: `parse_usual` reads what the SDKs write.
        for part in rest.split(',') {
            let (key, val) = part
                .trim_matches(' ')
                .split_once('=')
                .ok_or(malformed("a part is not key=value"))?;
            let slot = match key {
                "Access" => &mut access,
                "SignedHeaders" => &mut signed,
                "Signature" => &mut signature,
                _ => return Err(malformed("it has an unknown part")),
            };
            if slot.replace(val).is_some() {
                return Err(malformed("a part appears twice"));
            }
        }
        let access_key = access
            .filter(|a| !a.is_empty())
            .ok_or(malformed("Access is missing or empty"))?;
        let signed_headers = signed
            .filter(|s| !s.is_empty())
            .ok_or(malformed("SignedHeaders is missing or empty"))?;
        let signature = signature
            .and_then(decode_hex32)
            .ok_or(malformed("Signature is not 64 hex digits"))?;
        Ok(AuthorizationHeader {
            access_key,
            signed_headers,
            signature,
        })
    }
}

impl<'a> AuthorizationHeader<'a> {
    /// The shape every official SDK writes, `Access=A, SignedHeaders=S, Signature=<64 hex>`,
    /// read with three fixed-string searches. Anything else (other spacing, order,
    /// unusual characters) goes through the general parser, which gives the same answer
    /// for this shape.
    fn parse_usual(rest: &'a str) -> Option<Self> {
        const SIG: &str = ", Signature=";
        let split = rest.len().checked_sub(64 + SIG.len())?;
        let (head, tail) = (rest.get(..split)?, rest.get(split..)?);
        let signature = decode_hex32(tail.strip_prefix(SIG)?)?;
        let head = head.strip_prefix("Access=")?;
        // The access key holds no ',' (checked below), so the first one ends it.
        let at = head.bytes().position(|b| b == b',')?;
        let signed_headers = head.get(at..)?.strip_prefix(", SignedHeaders=")?;
        let access_key = head.get(..at)?;
        // `&` rather than `any`: no early exit, so no branch per byte.
        let plain = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .fold(true, |ok, b| ok & (b != b',') & (b != b'=') & (b != b' '))
        };
        (plain(access_key) && plain(signed_headers)).then_some(AuthorizationHeader {
            access_key,
            signed_headers,
            signature,
        })
    }
}

/// Verifies `request`'s signature at time `now`, looking the SK of its access key up with
/// `secret_key`.
///
/// Checks, in order: the `Authorization` header parses; the access key is known; every
/// declared signed header is present once; `X-Sdk-Date` is present, signed, well-formed
/// and within [`MAX_CLOCK_SKEW`] of `now`; the signature matches (compared in constant
/// time). `X-Sdk-Content-Sha256: UNSIGNED-PAYLOAD` is honoured as the official signer does.
///
/// # Errors
/// The first check that failed, as a [`VerifyError`].
pub fn verify<'a, K: SecretKey>(
    request: &ReceivedRequest<'a>,
    secret_key: impl FnOnce(&str) -> Option<K>,
    now: SystemTime,
) -> Result<Verified<'a>, VerifyError> {
    let headers: &'a HeaderMap = request.headers;
    // The three headers with a meaning of their own, found in one walk over the headers.
    let mut special = SPECIAL_HEADERS.map(Slot::new);
    find_headers(headers, &mut special);
    let [authorization, date, content_sha256] = special.map(|slot| slot.found);
    let authorization = authorization
        .single()
        .map_err(|_| VerifyError::MalformedAuthorization("it appears more than once"))?
        .ok_or(VerifyError::MissingAuthorization)?;
    let authorization = std::str::from_utf8(authorization.as_bytes())
        .map_err(|_| VerifyError::MalformedAuthorization("it is not UTF-8"))?;
    let auth = AuthorizationHeader::parse(authorization)?;
    let sk = secret_key(auth.access_key)
        .ok_or_else(|| VerifyError::UnknownAccessKey(auth.access_key.to_owned()))?;

    let declared = count_signed_headers(auth.signed_headers)?;
    // The declared headers, then their values in a second walk: on the stack for the five
    // or six that real clients sign, on the heap for a longer list.
    let (mut inline_slots, mut heap_slots) = ([Slot::new(""); INLINE_SIGNED], Vec::new());
    let slots = stack_or_heap(&mut inline_slots, &mut heap_slots, declared, Slot::new(""));
    for (slot, name) in slots.iter_mut().zip(auth.signed_headers.split(';')) {
        slot.name = name;
    }
    find_headers(headers, slots);
    let (mut inline_signed, mut heap_signed) = ([("", ""); INLINE_SIGNED], Vec::new());
    let signed = stack_or_heap(&mut inline_signed, &mut heap_signed, declared, ("", ""));
    // In the declared order, so that the first missing header is the one reported.
    let mut date_signed = false;
    for (pair, slot) in signed.iter_mut().zip(slots.iter()) {
        let missing = || VerifyError::SignedHeaderMissing(slot.name.to_owned());
        let value = slot
            .found
            .single()
            .map_err(|_| missing())?
            .ok_or_else(missing)?;
        let value = std::str::from_utf8(value.as_bytes()).map_err(|_| missing())?;
        *pair = (slot.name, value);
        date_signed |= slot.name == "x-sdk-date";
    }
    let signed = &*signed;

    let date = date
        .single()
        .map_err(|_| VerifyError::MalformedDate)?
        .ok_or(VerifyError::MissingDate)?;
    if !date_signed {
        return Err(VerifyError::DateNotSigned);
    }
    let date = std::str::from_utf8(date.as_bytes())
        .ok()
        .and_then(|d| SdkDate::parse(d.trim()))
        .ok_or(VerifyError::MalformedDate)?;
    let signed_at = date.to_system_time();
    let skew = match now.duration_since(signed_at) {
        Ok(behind) => behind,
        Err(ahead) => ahead.duration(),
    };
    if skew > MAX_CLOCK_SKEW {
        return Err(VerifyError::Expired {
            signed: date,
            server: SdkDate::from_system_time(now).ok(),
        });
    }

    let query = decode_query(request.query);
    let query: Vec<(&str, &str)> = query
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let unsigned_payload = content_sha256
        .single()
        .ok()
        .flatten()
        .is_some_and(|v| v == "UNSIGNED-PAYLOAD");
    let body_hash;
    let payload_hash = if unsigned_payload {
        "UNSIGNED-PAYLOAD"
    } else if request.body.is_empty() {
        sign::EMPTY_BODY_SHA256
    } else {
        body_hash = sign::hex(&Sha256::digest(request.body).into());
        body_hash.as_str()
    };
    let mut hasher = sign::BufferedSha256::new(Sha256::new());
    sign::write_canonical_request(
        &mut hasher,
        request.method,
        request.path,
        &query,
        signed,
        payload_hash,
    );
    let canonical_hash = sign::hex(&hasher.finalize());
    let mut mac = sk.keyed_hmac();
    sign::update_string_to_sign(&mut mac, &date, &canonical_hash);
    // `verify_slice` compares in constant time.
    mac.verify_slice(&auth.signature)
        .map_err(|_| VerifyError::SignatureMismatch)?;
    Ok(Verified {
        access_key: auth.access_key,
        signed_headers: auth.signed_headers,
        date,
    })
}

/// The headers [`verify`] reads for their own sake, in the order it destructures them.
const SPECIAL_HEADERS: [&str; 3] = ["authorization", "x-sdk-date", "x-sdk-content-sha256"];

/// How many signed headers [`verify`] keeps on the stack.
const INLINE_SIGNED: usize = 16;

/// The first `len` elements of `inline`, or `len` copies of `fill` in `heap` when `inline`
/// is too short.
fn stack_or_heap<'b, T: Copy>(
    inline: &'b mut [T],
    heap: &'b mut Vec<T>,
    len: usize,
    fill: T,
) -> &'b mut [T] {
    match inline.get_mut(..len) {
        Some(first) => first,
        None => {
            heap.resize(len, fill);
            heap.as_mut_slice()
        }
    }
}

/// The number of names in a `SignedHeaders` list, once the whole list is known to be
/// well-formed: lower-case names (`a-z`, `0-9`, `-`) joined by single `;`, at most
/// [`MAX_SIGNED_HEADERS`] of them.
fn count_signed_headers(list: &str) -> Result<usize, VerifyError> {
    let malformed = VerifyError::MalformedAuthorization(
        "SignedHeaders must be lower-case header names (a-z, 0-9, -) joined by single ';'",
    );
    let mut names = 1;
    let mut previous = b';';
    for &b in list.as_bytes() {
        let ok = match b {
            // An empty name: `;;` or a leading `;`.
            b';' => previous != b';',
            b => b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-',
        };
        if !ok {
            return Err(malformed);
        }
        names += usize::from(b == b';');
        previous = b;
    }
    if previous == b';' {
        // Empty, or a trailing `;`.
        return Err(malformed);
    }
    // The message below spells the limit out.
    const _: () = assert!(MAX_SIGNED_HEADERS == 64);
    if names > MAX_SIGNED_HEADERS {
        return Err(VerifyError::MalformedAuthorization(
            "SignedHeaders names more than 64 headers",
        ));
    }
    Ok(names)
}

/// A header name (lower case) and what a walk over the headers found for it.
#[derive(Clone, Copy)]
struct Slot<'h> {
    name: &'h str,
    found: Found<'h>,
}

impl<'h> Slot<'h> {
    const fn new(name: &'h str) -> Self {
        Slot {
            name,
            found: Found {
                value: None,
                repeated: false,
            },
        }
    }
}

/// The value of one header, and whether there was more than one.
#[derive(Clone, Copy)]
struct Found<'h> {
    value: Option<&'h HeaderValue>,
    repeated: bool,
}

impl<'h> Found<'h> {
    /// The one value: `Ok(None)` when absent, `Err(())` when repeated.
    fn single(self) -> Result<Option<&'h HeaderValue>, ()> {
        if self.repeated {
            Err(())
        } else {
            Ok(self.value)
        }
    }

    fn add(&mut self, value: &'h HeaderValue) {
        self.repeated |= self.value.is_some();
        self.value = Some(value);
    }
}

/// Fills in what `headers` hold for each slot's name.
///
/// A request carries a handful of headers, so one walk comparing names costs less than
/// hashing each of the six or seven names the verifier needs; a large header map is
/// searched by hash instead, so that the cost stays linear in the names.
fn find_headers<'h>(headers: &'h HeaderMap, slots: &mut [Slot<'h>]) {
    if headers.len() > 32 {
        for slot in slots.iter_mut() {
            for value in headers.get_all(slot.name) {
                slot.found.add(value);
            }
        }
        return;
    }
    for (header, value) in headers {
        let header = header.as_str();
        for slot in slots.iter_mut() {
            if slot.name == header {
                slot.found.add(value);
            }
        }
    }
}

/// Splits a raw query into decoded pairs; a part without `=` has an empty value.
fn decode_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            // Lenient, as the signer's path decoding: a bad escape stays as it is.
            let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
            (decode(k), decode(v))
        })
        .collect()
}

#[allow(
    clippy::indexing_slicing,
    reason = "a u8 indexes a 256-entry table, and chunks_exact(2) yields pairs; the table is built at compile time"
)]
fn decode_hex32(text: &str) -> Option<[u8; 32]> {
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    // A table instead of a match per digit: 0xFF marks what is not a hex digit.
    const TABLE: [u8; 256] = {
        let mut table = [0xFF; 256];
        let mut i = 0;
        while i < 10 {
            table[b'0' as usize + i] = i as u8;
            i += 1;
        }
        let mut i = 0;
        while i < 6 {
            table[b'a' as usize + i] = 10 + i as u8;
            table[b'A' as usize + i] = 10 + i as u8;
            i += 1;
        }
        table
    };
    let mut out = [0u8; 32];
    let mut bad = 0u8;
    for (slot, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        let (hi, lo) = (TABLE[usize::from(pair[0])], TABLE[usize::from(pair[1])]);
        bad |= hi | lo;
        *slot = hi << 4 | (lo & 0x0F);
    }
    // A digit is at most 0x0F; any 0xFF sets the high bits.
    (bad & 0xF0 == 0).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorization_parsing() {
        let sig = "ab".repeat(32);
        let ok =
            format!("SDK-HMAC-SHA256 Access=AK1, SignedHeaders=host;x-sdk-date, Signature={sig}");
        let parsed = AuthorizationHeader::parse(&ok).unwrap();
        assert_eq!(parsed.access_key, "AK1");
        assert_eq!(parsed.signed_headers, "host;x-sdk-date");
        assert_eq!(parsed.signature, [0xab; 32]);
        let compact =
            format!("SDK-HMAC-SHA256 Access=AK1,SignedHeaders=host;x-sdk-date,Signature={sig}");
        assert!(AuthorizationHeader::parse(&compact).is_ok());

        for bad in [
            String::new(),
            "SDK-HMAC-SHA256".into(),
            format!("AWS4-HMAC-SHA256 Access=AK1, SignedHeaders=host, Signature={sig}"),
            format!("SDK-HMAC-SHA256 Access=, SignedHeaders=host, Signature={sig}"),
            format!(
                "SDK-HMAC-SHA256 Access=AK1, SignedHeaders=host, Signature={sig}, Signature={sig}"
            ),
            format!("SDK-HMAC-SHA256 Access=AK1, SignedHeaders=host, Signature={sig}x"),
            format!(
                "SDK-HMAC-SHA256 Access=AK1, SignedHeaders=host, Signature=é{}",
                &sig[2..]
            ),
            format!("SDK-HMAC-SHA256 Access=AK1, SignedHeaders=host, Extra=1, Signature={sig}"),
            "SDK-HMAC-SHA256 Access=AK1, SignedHeaders=host".into(),
            "SDK-HMAC-SHA256 ,,,".into(),
        ] {
            assert!(
                matches!(
                    AuthorizationHeader::parse(&bad),
                    Err(VerifyError::MalformedAuthorization(_))
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn query_decoding() {
        assert_eq!(
            decode_query("a%20b=c%2Fd~e&m=x%2By&z=1&flag"),
            [("a b", "c/d~e"), ("m", "x+y"), ("z", "1"), ("flag", "")]
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
        );
        assert!(decode_query("").is_empty());
    }
}
