//! [`SigningAlgorithm`]: the four algorithms of the official SDKs' `signing_algorithm`.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};
use sm3::Sm3;

use super::canonical::{Hex64, hex};

/// How AK/SK requests are signed: the official SDKs' `signing_algorithm` setting, named
/// by its wire name (the first word of `Authorization`).
///
/// Every algorithm signs the same canonical request; they differ in the hash (of the body
/// and of the canonical request), the content-hash header, the key and the signature
/// primitive:
///
/// | algorithm | hash | key | signature |
/// |---|---|---|---|
/// | `SDK-HMAC-SHA256` (default) | SHA-256 | the SK | HMAC-SHA256, hex |
/// | `SDK-HMAC-SM3` | SM3 | the SK | HMAC-SM3, hex |
/// | `SDK-ECDSA-P256-SHA256` | SHA-256 | P-256 scalar derived from AK and SK (HMAC-SHA256) | ECDSA, DER hex |
/// | `SDK-SM2-SM3` | SM3 | SM2 scalar derived from AK and SK (HMAC-SM3) | SM2, DER hex |
///
/// Parsed case-insensitively ([`FromStr`]); written with [`as_str`](Self::as_str).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum SigningAlgorithm {
    /// `SDK-HMAC-SHA256`, the default of every official SDK.
    #[default]
    HmacSha256,
    /// `SDK-HMAC-SM3`: SM3 (GB/T 32905) and HMAC-SM3.
    HmacSm3,
    /// `SDK-ECDSA-P256-SHA256`: ECDSA over NIST P-256 with SHA-256.
    EcdsaP256Sha256,
    /// `SDK-SM2-SM3`: SM2 signatures (GB/T 32918) over SM3.
    Sm2Sm3,
}

impl SigningAlgorithm {
    /// Every algorithm, the default first.
    pub const ALL: [SigningAlgorithm; 4] = [
        SigningAlgorithm::HmacSha256,
        SigningAlgorithm::HmacSm3,
        SigningAlgorithm::EcdsaP256Sha256,
        SigningAlgorithm::Sm2Sm3,
    ];

    /// The wire name: `SDK-HMAC-SHA256`, `SDK-HMAC-SM3`, `SDK-ECDSA-P256-SHA256` or
    /// `SDK-SM2-SM3`.
    pub const fn as_str(self) -> &'static str {
        match self {
            SigningAlgorithm::HmacSha256 => "SDK-HMAC-SHA256",
            SigningAlgorithm::HmacSm3 => "SDK-HMAC-SM3",
            SigningAlgorithm::EcdsaP256Sha256 => "SDK-ECDSA-P256-SHA256",
            SigningAlgorithm::Sm2Sm3 => "SDK-SM2-SM3",
        }
    }

    /// The header that may stand for the body's hash (lower case): `x-sdk-content-sha256`,
    /// or `x-sdk-content-sm3` for the SM3 algorithms.
    pub const fn content_header(self) -> &'static str {
        if self.uses_sm3() {
            "x-sdk-content-sm3"
        } else {
            "x-sdk-content-sha256"
        }
    }

    /// The hex hash of an empty body.
    pub const fn empty_body_hash(self) -> &'static str {
        if self.uses_sm3() {
            super::EMPTY_BODY_SM3
        } else {
            super::EMPTY_BODY_SHA256
        }
    }

    /// Whether the algorithm hashes with SM3 (else SHA-256).
    pub const fn uses_sm3(self) -> bool {
        match self {
            SigningAlgorithm::HmacSha256 | SigningAlgorithm::EcdsaP256Sha256 => false,
            SigningAlgorithm::HmacSm3 | SigningAlgorithm::Sm2Sm3 => true,
        }
    }

    /// The kms-proto feature the algorithm needs (`None`: always built):
    /// `SDK-ECDSA-P256-SHA256` needs `ecdsa`, `SDK-SM2-SM3` needs `sm2`. Both are on by
    /// default; `SDK-HMAC-SHA256` and `SDK-HMAC-SM3` are always there.
    pub const fn feature(self) -> Option<&'static str> {
        match self {
            SigningAlgorithm::HmacSha256 | SigningAlgorithm::HmacSm3 => None,
            SigningAlgorithm::EcdsaP256Sha256 => Some("ecdsa"),
            SigningAlgorithm::Sm2Sm3 => Some("sm2"),
        }
    }

    /// Whether this build of kms-proto can sign with the algorithm (its
    /// [`feature`](Self::feature) is on).
    pub const fn is_built(self) -> bool {
        match self {
            SigningAlgorithm::HmacSha256 | SigningAlgorithm::HmacSm3 => true,
            SigningAlgorithm::EcdsaP256Sha256 => cfg!(feature = "ecdsa"),
            SigningAlgorithm::Sm2Sm3 => cfg!(feature = "sm2"),
        }
    }

    /// Whether signatures are made with a key pair (ECDSA, SM2) rather than an HMAC.
    pub const fn is_asymmetric(self) -> bool {
        match self {
            SigningAlgorithm::HmacSha256 | SigningAlgorithm::HmacSm3 => false,
            SigningAlgorithm::EcdsaP256Sha256 | SigningAlgorithm::Sm2Sm3 => true,
        }
    }

    /// The string to sign: `<name>\n<X-Sdk-Date>\n<hex hash(canonical request)>`.
    pub fn string_to_sign(self, sdk_date: &str, canonical_request: &str) -> String {
        let hash = self.hash_hex(canonical_request.as_bytes());
        format!("{}\n{sdk_date}\n{}", self.as_str(), hash.as_str())
    }

    /// The `Authorization` header value:
    /// `<name> Access=<AK>, SignedHeaders=<list>, Signature=<hex>`.
    pub fn authorization(self, access_key: &str, signed_headers: &str, signature: &str) -> String {
        format!(
            "{} Access={access_key}, SignedHeaders={signed_headers}, Signature={signature}",
            self.as_str()
        )
    }

    /// The algorithm's hash of `bytes`, in hex.
    pub(crate) fn hash_hex(self, bytes: &[u8]) -> Hex64 {
        if self.uses_sm3() {
            hex(&Sm3::digest(bytes).into())
        } else {
            hex(&Sha256::digest(bytes).into())
        }
    }
}

impl fmt::Display for SigningAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is none of the [`SigningAlgorithm`]s.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownAlgorithm(String);

impl fmt::Display for UnknownAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown signing algorithm {:?}: use SDK-HMAC-SHA256, SDK-HMAC-SM3, SDK-ECDSA-P256-SHA256 or SDK-SM2-SM3",
            crate::untrusted::Untrusted(&self.0).to_string()
        )
    }
}

impl std::error::Error for UnknownAlgorithm {}

impl FromStr for SigningAlgorithm {
    type Err = UnknownAlgorithm;

    /// A wire name in any case (`sdk-hmac-sm3`); surrounding whitespace is not accepted.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        SigningAlgorithm::ALL
            .into_iter()
            .find(|algorithm| algorithm.as_str().eq_ignore_ascii_case(name))
            .ok_or_else(|| UnknownAlgorithm(name.chars().take(64).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_in_any_case() {
        for algorithm in SigningAlgorithm::ALL {
            assert_eq!(algorithm.as_str().parse(), Ok(algorithm));
            assert_eq!(algorithm.as_str().to_lowercase().parse(), Ok(algorithm));
            assert_eq!(algorithm.to_string(), algorithm.as_str());
        }
        assert_eq!(SigningAlgorithm::default(), SigningAlgorithm::HmacSha256);
        for bad in [
            "",
            "HMAC_SM3",
            " SDK-HMAC-SM3",
            "SDK-HMAC-SHA1",
            "V11-HMAC-SHA256",
        ] {
            assert!(bad.parse::<SigningAlgorithm>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn empty_body_hashes() {
        for algorithm in SigningAlgorithm::ALL {
            assert_eq!(
                algorithm.hash_hex(b"").as_str(),
                algorithm.empty_body_hash()
            );
        }
    }
}
