//! The server side of signing: checking a request's signature, with any of the
//! [`SigningAlgorithm`]s (for ECDSA and SM2 the key pair is derived from the AK's SK, as
//! the gateway can).
//!
//! The verifier rebuilds the canonical request from the headers the request's
//! `SignedHeaders` declares, with the same canonicalisation the signer uses
//! ([`sign::write_canonical_request`]), so it accepts the official Python SDK
//! (`content-type;host;user-agent;x-project-id;x-sdk-date`), the Go SDK
//! (`user-agent;x-project-id;x-sdk-date`), Java and this crate alike, and a client and an
//! emulator built on this crate can never disagree silently. Untrusted `Authorization`
//! headers are parsed without panicking and signatures are compared in constant time.
//!
//! Needs the `verify` feature (off by default: a client never verifies; `kms-mock` turns
//! it on).

use std::borrow::Cow;
use std::fmt;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderValue};
use percent_encoding::percent_decode_str;
use sha2::{Digest, Sha256};
use sm3::Sm3;

use crate::sdk_date::SdkDate;
use crate::sign::{self, SigningAlgorithm, SigningKey};

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
    algorithm: SigningAlgorithm,
    access_key: &'a str,
    signed_headers: &'a str,
    date: SdkDate,
}

impl<'a> Verified<'a> {
    /// The algorithm the request was signed with.
    pub fn algorithm(&self) -> SigningAlgorithm {
        self.algorithm
    }

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
    /// The `Authorization` header is not `<algorithm> Access=.., SignedHeaders=.., Signature=..`.
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
/// (`&str`, `String`), or a [`PreparedKey`] that makes each algorithm's key once.
pub trait SecretKey {
    /// The key that checks `algorithm`'s signatures by `access_key`; `None` when none can
    /// be derived ([`KeyError`](crate::sign::KeyError)) or the algorithm is not built.
    fn signing_key(
        &self,
        algorithm: SigningAlgorithm,
        access_key: &str,
    ) -> Option<Cow<'_, SigningKey>>;
}

impl SecretKey for &str {
    fn signing_key(
        &self,
        algorithm: SigningAlgorithm,
        access_key: &str,
    ) -> Option<Cow<'_, SigningKey>> {
        owned_key(algorithm, access_key, self)
    }
}

/// A key made for this one request.
fn owned_key(
    algorithm: SigningAlgorithm,
    access_key: &str,
    sk: &str,
) -> Option<Cow<'static, SigningKey>> {
    SigningKey::new(algorithm, access_key, sk)
        .ok()
        .map(Cow::Owned)
}

impl SecretKey for String {
    fn signing_key(
        &self,
        algorithm: SigningAlgorithm,
        access_key: &str,
    ) -> Option<Cow<'_, SigningKey>> {
        owned_key(algorithm, access_key, self)
    }
}

impl SecretKey for &String {
    fn signing_key(
        &self,
        algorithm: SigningAlgorithm,
        access_key: &str,
    ) -> Option<Cow<'_, SigningKey>> {
        owned_key(algorithm, access_key, self)
    }
}

/// An SK with its keys made once, for a verifier that checks many requests of the same
/// access key: the SDK-HMAC-SHA256 key schedule at once, every other algorithm's key the
/// first time a request uses it (for the access key of that request; another access key
/// presenting the same SK gets a key made for it, uncached). `Debug` prints `[redacted]`.
pub struct PreparedKey {
    sk: Box<str>,
    hmac_sha256: SigningKey,
    /// The other algorithms' keys, in [`SigningAlgorithm::ALL`] order after the default,
    /// with the access key each was made for.
    others: [OnceLock<Option<KeyFor>>; 3],
}

/// A key and the access key it was made for.
type KeyFor = (Box<str>, SigningKey);

impl PreparedKey {
    /// Prepares `sk`.
    pub fn new(sk: &str) -> Self {
        PreparedKey {
            sk: sk.into(),
            hmac_sha256: SigningKey::hmac_sha256(sk),
            others: [OnceLock::new(), OnceLock::new(), OnceLock::new()],
        }
    }
}

impl Clone for PreparedKey {
    fn clone(&self) -> Self {
        PreparedKey {
            sk: self.sk.clone(),
            hmac_sha256: self.hmac_sha256.clone(),
            others: self.others.clone(),
        }
    }
}

impl fmt::Debug for PreparedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PreparedKey([redacted])")
    }
}

impl SecretKey for PreparedKey {
    fn signing_key(
        &self,
        algorithm: SigningAlgorithm,
        access_key: &str,
    ) -> Option<Cow<'_, SigningKey>> {
        let slot = match algorithm {
            SigningAlgorithm::HmacSha256 => return Some(Cow::Borrowed(&self.hmac_sha256)),
            SigningAlgorithm::HmacSm3 => self.others.first(),
            SigningAlgorithm::EcdsaP256Sha256 => self.others.get(1),
            SigningAlgorithm::Sm2Sm3 => self.others.get(2),
        };
        let made = slot.map(|slot| {
            slot.get_or_init(|| {
                SigningKey::new(algorithm, access_key, &self.sk)
                    .ok()
                    .map(|key| (Box::from(access_key), key))
            })
        });
        match made {
            // The HMACs do not depend on the access key.
            Some(Some((ak, key))) if !algorithm.is_asymmetric() || **ak == *access_key => {
                Some(Cow::Borrowed(key))
            }
            _ => owned_key(algorithm, access_key, &self.sk),
        }
    }
}

impl SecretKey for &PreparedKey {
    fn signing_key(
        &self,
        algorithm: SigningAlgorithm,
        access_key: &str,
    ) -> Option<Cow<'_, SigningKey>> {
        (**self).signing_key(algorithm, access_key)
    }
}

/// A parsed `Authorization` header, borrowed from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationHeader<'a> {
    /// The algorithm, the header's first word.
    pub algorithm: SigningAlgorithm,
    /// `Access=`.
    pub access_key: &'a str,
    /// `SignedHeaders=`, as written.
    pub signed_headers: &'a str,
    /// `Signature=`, hex: 64 digits for the HMACs, an even number of digits (a DER
    /// signature, at most 144) for ECDSA and SM2.
    pub signature: &'a str,
}

impl<'a> AuthorizationHeader<'a> {
    /// Parses `<algorithm> Access=<AK>, SignedHeaders=<a;b>, Signature=<hex>`, the
    /// algorithm one of the wire names (in their case). Spaces around the `,` separators
    /// are optional; every part must appear exactly once.
    ///
    /// # Errors
    /// [`VerifyError::MalformedAuthorization`] saying which part is wrong.
    pub fn parse(value: &'a str) -> Result<Self, VerifyError> {
        let malformed = VerifyError::MalformedAuthorization;
        let (algorithm, rest) = SigningAlgorithm::ALL
            .into_iter()
            .find_map(|algorithm| {
                value
                    .strip_prefix(algorithm.as_str())
                    .and_then(|r| r.strip_prefix(' '))
                    .map(|rest| (algorithm, rest))
            })
            .ok_or(malformed(
                "it does not start with a signing algorithm (\"SDK-HMAC-SHA256 \", \"SDK-HMAC-SM3 \", \"SDK-ECDSA-P256-SHA256 \" or \"SDK-SM2-SM3 \")",
            ))?;
        if let Some(parsed) = Self::parse_usual(algorithm, rest) {
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
            .filter(|s| signature_shape_ok(algorithm, s))
            .ok_or(malformed(if algorithm.is_asymmetric() {
                "Signature is not an even number of hex digits, at most 144"
            } else {
                "Signature is not 64 hex digits"
            }))?;
        Ok(AuthorizationHeader {
            algorithm,
            access_key,
            signed_headers,
            signature,
        })
    }

    /// The shape every official SDK writes, `Access=A, SignedHeaders=S, Signature=<hex>`,
    /// read with fixed-string searches. Anything else (other spacing, order, unusual
    /// characters) goes through the general parser, which gives the same answer for this
    /// shape.
    fn parse_usual(algorithm: SigningAlgorithm, rest: &'a str) -> Option<Self> {
        let (head, signature) = rest.rsplit_once(", Signature=")?;
        if !signature_shape_ok(algorithm, signature) {
            return None;
        }
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
            algorithm,
            access_key,
            signed_headers,
            signature,
        })
    }
}

/// Whether `signature` is hex of the length `algorithm` signs with.
fn signature_shape_ok(algorithm: SigningAlgorithm, signature: &str) -> bool {
    let len_ok = if algorithm.is_asymmetric() {
        signature.len().is_multiple_of(2) && (16..=144).contains(&signature.len())
    } else {
        signature.len() == 64
    };
    len_ok && signature.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Verifies `request`'s signature at time `now`, looking the SK of its access key up with
/// `secret_key`.
///
/// Checks, in order: the `Authorization` header parses; the access key is known; every
/// declared signed header is present once; `X-Sdk-Date` is present, signed, well-formed
/// and within [`MAX_CLOCK_SKEW`] of `now`; the signature matches (compared in constant
/// time, for the HMACs).
///
/// The algorithm's content-hash header (`X-Sdk-Content-Sha256`, or `X-Sdk-Content-Sm3`
/// for the SM3 algorithms) stands for the body's hash with whatever value it holds
/// (`UNSIGNED-PAYLOAD`, say), as the official signers take it; for an empty body the
/// empty body's hash is tried too (the Python signer ignores the header then, Go and
/// Node.js do not).
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
    let [authorization, date, content_sha256, content_sm3] = special.map(|slot| slot.found);
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
    let algorithm = auth.algorithm;
    let content = if algorithm.uses_sm3() {
        content_sm3
    } else {
        content_sha256
    };
    let declared = content
        .single()
        .ok()
        .flatten()
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|value| !value.is_empty());
    let body_hash;
    let computed = if request.body.is_empty() {
        algorithm.empty_body_hash()
    } else {
        body_hash = algorithm.hash_hex(request.body);
        body_hash.as_str()
    };
    let key = sk
        .signing_key(algorithm, auth.access_key)
        .ok_or(VerifyError::SignatureMismatch)?;
    let matches = |payload_hash: &str| {
        let canonical_hash = if algorithm.uses_sm3() {
            canonical_hash(
                sign::Buffered::new(Sm3::new()),
                request,
                &query,
                signed,
                payload_hash,
            )
        } else {
            canonical_hash(
                sign::Buffered::new(Sha256::new()),
                request,
                &query,
                signed,
                payload_hash,
            )
        };
        key.verify_string_to_sign(date.as_bytes(), &canonical_hash, auth.signature)
    };
    let verified = match declared {
        Some(declared) => {
            matches(declared)
                || (request.body.is_empty() && declared != computed && matches(computed))
        }
        None => matches(computed),
    };
    if !verified {
        return Err(VerifyError::SignatureMismatch);
    }
    Ok(Verified {
        algorithm,
        access_key: auth.access_key,
        signed_headers: auth.signed_headers,
        date,
    })
}

/// The hash of the canonical request of `request` with `payload_hash`.
fn canonical_hash<D: Digest>(
    mut hasher: sign::Buffered<D>,
    request: &ReceivedRequest<'_>,
    query: &[(&str, &str)],
    signed: &[(&str, &str)],
    payload_hash: &str,
) -> sign::Hex64 {
    sign::write_canonical_request(
        &mut hasher,
        request.method,
        request.path,
        query,
        signed,
        payload_hash,
    );
    sign::hex(&hasher.finalize())
}

/// The headers [`verify`] reads for their own sake, in the order it destructures them.
const SPECIAL_HEADERS: [&str; 4] = [
    "authorization",
    "x-sdk-date",
    "x-sdk-content-sha256",
    "x-sdk-content-sm3",
];

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
        assert_eq!(parsed.signature, sig);
        assert_eq!(parsed.algorithm, SigningAlgorithm::HmacSha256);
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
