//! Signing requests the way the official Huawei Cloud SDKs do, with each of their
//! algorithms ([`SigningAlgorithm`]): `SDK-HMAC-SHA256` (the default), `SDK-HMAC-SM3`,
//! `SDK-ECDSA-P256-SHA256` and `SDK-SM2-SM3`.
//!
//! Each step is a public function so that it can be checked against the official signer's
//! vectors and reused by a verifier. The request builder uses the same canonicalisation
//! ([`write_canonical_request`]) but streams it straight into the hash instead of building
//! the text.
//!
//! 1. Canonical request ([`canonical`](canonical_request_with), shared by every
//!    algorithm): method, canonical URI (the path percent-decoded, each segment re-encoded
//!    keeping only `A-Z a-z 0-9 - _ . ~`, always ending in `/`), canonical query (pairs
//!    sorted, both sides encoded), one `name:trimmed-value` line per signed header plus a
//!    blank line, the signed header names joined by `;`, and the hex hash of the body
//!    (SHA-256, or SM3 for the SM3 algorithms); joined by `\n`.
//! 2. String to sign: `<algorithm>\n<X-Sdk-Date>\n<hex hash(canonical request)>`.
//! 3. Signature ([`SigningKey`]): the algorithm's primitive over the string to sign, in
//!    lower-case hex; one module per algorithm ([`hmac_sha256`](self), `hmac_sm3`,
//!    `ecdsa_p256`, `sm2_sm3`), the ECDSA key derivation in `derive`.
//! 4. `Authorization: <algorithm> Access=<AK>, SignedHeaders=<list>, Signature=<hex>`.
//!
//! The free functions [`string_to_sign`], [`signature`] and [`authorization`] are those of
//! the default algorithm; [`SigningAlgorithm`] and [`SigningKey`] have the same for every
//! algorithm.

mod algorithm;
mod canonical;
#[cfg(feature = "sm2")]
mod der;
#[cfg(any(feature = "ecdsa", feature = "sm2"))]
mod derive;
#[cfg(feature = "ecdsa")]
mod ecdsa_p256;
mod hmac_sha256;
mod hmac_sm3;
mod key;
#[cfg(feature = "sm2")]
mod sm2_sm3;

pub use algorithm::{SigningAlgorithm, UnknownAlgorithm};
pub(crate) use canonical::{
    Buffered, Hex64, decode_query, hex, write_canonical_head, write_canonical_tail,
    write_header_line,
};
pub use canonical::{
    CanonicalRequest, CanonicalSink, SignableRequest, canonical_request, canonical_request_with,
    write_canonical_request,
};
pub use key::{KeyError, SigningKey};

/// The default algorithm's name, first word of `Authorization` and first line of the
/// string to sign: `SDK-HMAC-SHA256`.
pub const ALGORITHM: &str = SigningAlgorithm::HmacSha256.as_str();

/// Hex SHA-256 of an empty body.
pub const EMPTY_BODY_SHA256: &str =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Hex SM3 of an empty body.
pub const EMPTY_BODY_SM3: &str = "1ab21d8355cfa17f8e61194831e81a8f22bec8c728fefb747ed035eb5082aa2b";

/// The SDK-HMAC-SHA256 string to sign for a canonical request and its `X-Sdk-Date` value.
pub fn string_to_sign(sdk_date: &str, canonical_request: &str) -> String {
    SigningAlgorithm::HmacSha256.string_to_sign(sdk_date, canonical_request)
}

/// The lower-case hex SDK-HMAC-SHA256 signature of a string to sign, keyed with the SK's
/// UTF-8 bytes.
pub fn signature(secret_key: &str, string_to_sign: &str) -> String {
    SigningKey::hmac_sha256_signature(secret_key, string_to_sign)
}

/// The SDK-HMAC-SHA256 `Authorization` header value.
pub fn authorization(access_key: &str, signed_headers: &str, signature: &str) -> String {
    SigningAlgorithm::HmacSha256.authorization(access_key, signed_headers, signature)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_request_signed_verifies() {
        let now = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_795_334_400);
        for algorithm in SigningAlgorithm::ALL.into_iter().filter(|a| a.is_built()) {
            any_request_signed_verifies_with(algorithm, now);
        }
    }

    fn any_request_signed_verifies_with(algorithm: SigningAlgorithm, now: std::time::SystemTime) {
        let aksk = crate::AkSk::new("AKIAM", "sk-for-iam")
            .unwrap()
            .with_security_token("tok")
            .unwrap()
            .with_algorithm(algorithm)
            .unwrap();
        let mut request = http::Request::builder()
            .method("GET")
            .uri("https://iam.cn-north-4.myhuaweicloud.com/v3/projects?name=cn-north-4&b=%2Fx")
            .header("host", "iam.cn-north-4.myhuaweicloud.com")
            .header("content-type", "application/json;charset=UTF-8")
            .body(Vec::new())
            .unwrap();
        crate::request::sign_request(&mut request, &aksk.into(), now).unwrap();
        assert!(request.headers()["authorization"].is_sensitive());
        assert!(request.headers()["x-security-token"].is_sensitive());
        let received = crate::verify::ReceivedRequest {
            method: "GET",
            path: request.uri().path(),
            query: request.uri().query().unwrap_or(""),
            headers: request.headers(),
            body: request.body(),
        };
        let verified = crate::verify::verify(&received, |_| Some("sk-for-iam"), now).unwrap();
        assert_eq!(verified.access_key(), "AKIAM");
        assert_eq!(verified.algorithm(), algorithm);
        assert!(
            request.headers()["authorization"]
                .to_str()
                .unwrap()
                .starts_with(&format!("{algorithm} Access=AKIAM, "))
        );
        assert!(verified.is_signed("x-security-token"));
        assert!(verified.is_signed("content-type"));
        // Another SK does not verify.
        assert!(crate::verify::verify(&received, |_| Some("other"), now).is_err());
    }

    /// The prepared KMS request signs exactly what the step-by-step functions give, for
    /// every algorithm, and verifies.
    #[test]
    fn prepared_requests_sign_as_the_steps_do() {
        let now = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_795_334_400);
        let endpoint = crate::Endpoint::for_region(&crate::Region::new("cn-north-4").unwrap());
        let call = crate::ShowUserInstances::new(
            crate::ProjectId::new("0dea2644dc80d5d22ff1c01e3ebea6fc").unwrap(),
        );
        let prepared = call.prepare(&endpoint).unwrap();
        for algorithm in SigningAlgorithm::ALL.into_iter().filter(|a| a.is_built()) {
            for token in [None, Some("security-token")] {
                let mut aksk = crate::AkSk::new("AKEXAMPLE", "SKEXAMPLE").unwrap();
                if let Some(token) = token {
                    aksk = aksk.with_security_token(token).unwrap();
                }
                let aksk = aksk.with_algorithm(algorithm).unwrap();
                let request = prepared.build(&aksk.clone().into(), now).unwrap();
                let headers: Vec<(&str, &str)> = request
                    .headers()
                    .iter()
                    .filter(|(name, _)| *name != "authorization")
                    .map(|(name, value)| (name.as_str(), value.to_str().unwrap()))
                    .collect();
                let canonical = canonical_request_with(
                    algorithm,
                    &SignableRequest {
                        method: "GET",
                        path: request.uri().path(),
                        query: &[],
                        headers: &headers,
                        body: b"",
                    },
                );
                let string_to_sign = algorithm.string_to_sign("20261122T080000Z", &canonical.text);
                let key = SigningKey::new(algorithm, "AKEXAMPLE", "SKEXAMPLE").unwrap();
                let want = algorithm.authorization(
                    "AKEXAMPLE",
                    &canonical.signed_headers,
                    &key.sign(&string_to_sign).unwrap(),
                );
                let got = request.headers()["authorization"].to_str().unwrap();
                let (got_head, got_signature) = got.rsplit_once("Signature=").unwrap();
                let (want_head, want_signature) = want.rsplit_once("Signature=").unwrap();
                assert_eq!(got_head, want_head, "{algorithm}");
                // ECDSA draws a fresh nonce for each signature: the two differ, both verify.
                if algorithm != SigningAlgorithm::EcdsaP256Sha256 {
                    assert_eq!(got_signature, want_signature, "{algorithm}");
                }
                assert!(key.verify(&string_to_sign, got_signature), "{algorithm}");
                let received = crate::verify::ReceivedRequest {
                    method: "GET",
                    path: request.uri().path(),
                    query: "",
                    headers: request.headers(),
                    body: b"",
                };
                let verified =
                    crate::verify::verify(&received, |_| Some("SKEXAMPLE"), now).unwrap();
                assert_eq!(verified.algorithm(), algorithm);
                let key = crate::verify::PreparedKey::new("SKEXAMPLE");
                for _ in 0..2 {
                    crate::verify::verify(&received, |_| Some(&key), now).unwrap();
                }
                assert!(crate::verify::verify(&received, |_| Some("SKEXAMPLF"), now).is_err());
            }
        }
    }

    /// The content-hash header of the algorithm stands for the body's hash with any value
    /// (Python: for a body that is not empty; Go and Node.js: always), and the other
    /// algorithm family's header means nothing.
    #[test]
    fn the_content_hash_header_of_each_algorithm_is_honoured() {
        let now = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_795_334_400);
        for algorithm in SigningAlgorithm::ALL.into_iter().filter(|a| a.is_built()) {
            let own = algorithm.content_header();
            let other = if algorithm.uses_sm3() {
                "x-sdk-content-sha256"
            } else {
                "x-sdk-content-sm3"
            };
            for (header, value, body) in [
                (own, "UNSIGNED-PAYLOAD", &b"{\"a\":1}"[..]),
                (own, "0123456789abcdef", &b"stream"[..]),
                (other, "UNSIGNED-PAYLOAD", &b"{\"a\":1}"[..]),
                (own, "UNSIGNED-PAYLOAD", &b""[..]),
            ] {
                let aksk = crate::AkSk::new("AKC", "SKC")
                    .unwrap()
                    .with_algorithm(algorithm)
                    .unwrap();
                let mut request = http::Request::builder()
                    .method("POST")
                    .uri("https://kms.example/v1/x")
                    .header("host", "kms.example")
                    .header(header, value)
                    .body(body.to_vec())
                    .unwrap();
                crate::request::sign_request(&mut request, &aksk.into(), now).unwrap();
                let verify_with = |body: &[u8]| {
                    crate::verify::verify(
                        &crate::verify::ReceivedRequest {
                            method: "POST",
                            path: "/v1/x",
                            query: "",
                            headers: request.headers(),
                            body,
                        },
                        |_| Some("SKC"),
                        now,
                    )
                    .map(|_| ())
                };
                assert!(verify_with(body).is_ok(), "{algorithm} {header} {body:?}");
                let declared = header == own && !body.is_empty();
                // A declared hash stands for the body: another body verifies too; without
                // one the body is signed.
                assert_eq!(
                    verify_with(b"another body").is_ok(),
                    declared,
                    "{algorithm} {header} {body:?}"
                );
            }
            // Go signs an empty body with the header's value: accepted too.
            let key = SigningKey::new(algorithm, "AKG", "SKG").unwrap();
            let mut canonical = Vec::new();
            write_canonical_request(
                &mut canonical,
                "GET",
                "/v1/x",
                &[],
                &[
                    ("host", "kms.example"),
                    (own, "UNSIGNED-PAYLOAD"),
                    ("x-sdk-date", "20261122T080000Z"),
                ],
                "UNSIGNED-PAYLOAD",
            );
            let signed = format!("host;{own};x-sdk-date");
            let string_to_sign = algorithm
                .string_to_sign("20261122T080000Z", std::str::from_utf8(&canonical).unwrap());
            let mut headers = http::HeaderMap::new();
            headers.insert("host", "kms.example".parse().unwrap());
            headers.insert(own, "UNSIGNED-PAYLOAD".parse().unwrap());
            headers.insert("x-sdk-date", "20261122T080000Z".parse().unwrap());
            headers.insert(
                "authorization",
                algorithm
                    .authorization("AKG", &signed, &key.sign(&string_to_sign).unwrap())
                    .parse()
                    .unwrap(),
            );
            let verified = crate::verify::verify(
                &crate::verify::ReceivedRequest {
                    method: "GET",
                    path: "/v1/x",
                    query: "",
                    headers: &headers,
                    body: b"",
                },
                |_| Some("SKG"),
                now,
            );
            assert!(verified.is_ok(), "{algorithm}: {verified:?}");
        }
    }
}
