//! [`SigningKey`]: what a credential signs with, made once per AK/SK and algorithm.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use sm3::Sm3;

use super::SigningAlgorithm;
use super::canonical::{Hex64, hex};
#[cfg(feature = "ecdsa")]
use super::ecdsa_p256;
#[cfg(feature = "sm2")]
use super::sm2_sm3;
use super::{hmac_sha256, hmac_sm3};

/// The key an AK/SK signs (and a verifier checks) one algorithm's signatures with: an HMAC
/// already keyed with the SK, or the key pair derived from AK and SK. Making one costs a
/// key schedule (HMAC) or a derivation and a scalar multiplication (ECDSA, SM2): make it
/// once per credential, as [`AkSk`](crate::AkSk) does. `Debug` prints `[redacted]`.
#[derive(Clone)]
pub struct SigningKey {
    /// Boxed: the SM3 HMAC state is large, and credentials move around by value.
    inner: Box<Inner>,
}

#[derive(Clone)]
enum Inner {
    HmacSha256(Hmac<Sha256>),
    HmacSm3(Hmac<Sm3>),
    /// Shared: ring's key pair cannot be cloned, and nothing in it changes.
    #[cfg(feature = "ecdsa")]
    EcdsaP256(std::sync::Arc<ecdsa_p256::Key>),
    #[cfg(feature = "sm2")]
    Sm2Sm3(sm2::dsa::SigningKey),
}

/// Why no signing key was made, or a key could not sign.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// No key could be derived from an AK/SK for `SDK-ECDSA-P256-SHA256` or `SDK-SM2-SM3`:
    /// no counter of the official derivation gave a scalar in range. The chance is below
    /// 2^-8000; the official signers fail the same way ("derive candidate failed").
    DerivationFailed,
    /// The operating system's random number generator failed (`getrandom(2)`, or
    /// `/dev/urandom` where that call is missing). Only `SDK-ECDSA-P256-SHA256` uses it:
    /// ring draws on it for each key and each signature's nonce. A sandbox (seccomp, a
    /// chroot without `/dev/urandom`) that denies it is the usual cause.
    Randomness,
    /// The algorithm is not in this build: kms-proto's `feature` is off (`ecdsa` for
    /// `SDK-ECDSA-P256-SHA256`, `sm2` for `SDK-SM2-SM3`).
    NotBuilt {
        /// The algorithm asked for.
        algorithm: SigningAlgorithm,
        /// The feature that brings it.
        feature: &'static str,
    },
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::DerivationFailed => f.write_str(
                "no signing key could be derived from this AK/SK: use another access key",
            ),
            KeyError::Randomness => f.write_str(
                "the operating system's random number generator failed, and SDK-ECDSA-P256-SHA256 needs it for every signature: allow getrandom(2) or /dev/urandom to this process, or sign with another algorithm",
            ),
            KeyError::NotBuilt { algorithm, feature } => write!(
                f,
                "{algorithm} is not in this build of kms-proto: turn on its `{feature}` feature"
            ),
        }
    }
}

impl std::error::Error for KeyError {}

impl SigningKey {
    /// The key of `access_key` and `secret_key` for `algorithm`.
    ///
    /// # Errors
    /// [`KeyError::DerivationFailed`], for the key-pair algorithms only, practically never;
    /// [`KeyError::Randomness`] for ECDSA if the operating system's random number
    /// generator fails; [`KeyError::NotBuilt`] for an algorithm whose feature is off.
    pub fn new(
        algorithm: SigningAlgorithm,
        access_key: &str,
        secret_key: &str,
    ) -> Result<Self, KeyError> {
        #[cfg(not(all(feature = "ecdsa", feature = "sm2")))]
        let _ = access_key;
        let inner = match algorithm {
            SigningAlgorithm::HmacSha256 => Inner::HmacSha256(hmac_sha256::key(secret_key)),
            SigningAlgorithm::HmacSm3 => Inner::HmacSm3(hmac_sm3::key(secret_key)),
            #[cfg(feature = "ecdsa")]
            SigningAlgorithm::EcdsaP256Sha256 => Inner::EcdsaP256(std::sync::Arc::new(
                ecdsa_p256::key(access_key, secret_key).map_err(|problem| match problem {
                    ecdsa_p256::KeyProblem::Derivation => KeyError::DerivationFailed,
                    ecdsa_p256::KeyProblem::Randomness => KeyError::Randomness,
                })?,
            )),
            #[cfg(feature = "sm2")]
            SigningAlgorithm::Sm2Sm3 => Inner::Sm2Sm3(
                sm2_sm3::key(access_key, secret_key).ok_or(KeyError::DerivationFailed)?,
            ),
            #[cfg(not(all(feature = "ecdsa", feature = "sm2")))]
            unbuilt => {
                return Err(KeyError::NotBuilt {
                    algorithm: unbuilt,
                    feature: unbuilt.feature().unwrap_or("default"),
                });
            }
        };
        Ok(SigningKey {
            inner: Box::new(inner),
        })
    }

    /// The `SDK-HMAC-SHA256` key of `secret_key`: a key schedule, which cannot fail.
    pub(crate) fn hmac_sha256(secret_key: &str) -> Self {
        SigningKey {
            inner: Box::new(Inner::HmacSha256(hmac_sha256::key(secret_key))),
        }
    }

    /// The `SDK-HMAC-SHA256` signature of `string_to_sign` with `secret_key`: an HMAC,
    /// which cannot fail.
    pub(crate) fn hmac_sha256_signature(secret_key: &str, string_to_sign: &str) -> String {
        hmac_hex(hmac_sha256::key(secret_key), &[string_to_sign.as_bytes()])
            .as_str()
            .to_owned()
    }

    /// The algorithm this key signs with.
    pub fn algorithm(&self) -> SigningAlgorithm {
        match *self.inner {
            Inner::HmacSha256(_) => SigningAlgorithm::HmacSha256,
            Inner::HmacSm3(_) => SigningAlgorithm::HmacSm3,
            #[cfg(feature = "ecdsa")]
            Inner::EcdsaP256(_) => SigningAlgorithm::EcdsaP256Sha256,
            #[cfg(feature = "sm2")]
            Inner::Sm2Sm3(_) => SigningAlgorithm::Sm2Sm3,
        }
    }

    /// The signature of a string to sign, in lower-case hex: 64 digits for the HMACs, the
    /// DER of (r, s) for ECDSA and SM2. The HMACs and SM2 (RFC 6979) sign one string to
    /// the same bytes every time; ECDSA draws a fresh nonce for each signature, as the
    /// official Python and Go signers do: ring takes it from the operating system's
    /// generator (its `SystemRandom`, the only source ring accepts: its `SecureRandom` is
    /// sealed), hashed with a secret of the key and the message's digest, so a weak
    /// generator does not expose the key. This is the one place the core reads anything
    /// but its parameters.
    ///
    /// # Errors
    /// [`KeyError::Randomness`], ECDSA only, if the operating system's random number
    /// generator fails.
    pub fn sign(&self, string_to_sign: &str) -> Result<String, KeyError> {
        self.sign_pieces(&[string_to_sign.as_bytes()])
    }

    /// Whether `signature` (hex, either case) is this key's signature of `string_to_sign`.
    /// HMACs are compared in constant time.
    pub fn verify(&self, string_to_sign: &str, signature: &str) -> bool {
        self.verify_pieces(&[string_to_sign.as_bytes()], signature)
    }

    /// The public key, uncompressed SEC1 (`04 || x || y`), of the key-pair algorithms:
    /// what the official signers' `SigningKey` holds. `None` for the HMACs.
    pub fn public_key_sec1(&self) -> Option<Vec<u8>> {
        match &*self.inner {
            Inner::HmacSha256(_) | Inner::HmacSm3(_) => None,
            #[cfg(feature = "ecdsa")]
            Inner::EcdsaP256(key) => Some(key.public_key_sec1()),
            #[cfg(feature = "sm2")]
            Inner::Sm2Sm3(key) => {
                use sm2::elliptic_curve::sec1::ToEncodedPoint;
                Some(
                    key.verifying_key()
                        .as_affine()
                        .to_encoded_point(false)
                        .as_bytes()
                        .to_vec(),
                )
            }
        }
    }

    /// Signs `<name>\n<date>\n<canonical hash>` without building the text for the HMACs.
    pub(crate) fn sign_string_to_sign(
        &self,
        date: &[u8],
        canonical_hash: &Hex64,
    ) -> Result<String, KeyError> {
        self.sign_pieces(&self.string_to_sign_pieces(date, canonical_hash))
    }

    /// Checks a signature of `<name>\n<date>\n<canonical hash>`: the verifier's.
    #[cfg(any(feature = "verify", test))]
    pub(crate) fn verify_string_to_sign(
        &self,
        date: &[u8],
        canonical_hash: &Hex64,
        signature: &str,
    ) -> bool {
        self.verify_pieces(&self.string_to_sign_pieces(date, canonical_hash), signature)
    }

    fn string_to_sign_pieces<'a>(&self, date: &'a [u8], hash: &'a Hex64) -> [&'a [u8]; 5] {
        [
            self.algorithm().as_str().as_bytes(),
            b"\n",
            date,
            b"\n",
            hash.as_bytes(),
        ]
    }

    fn sign_pieces(&self, pieces: &[&[u8]]) -> Result<String, KeyError> {
        Ok(match &*self.inner {
            Inner::HmacSha256(key) => hmac_hex(key.clone(), pieces).as_str().to_owned(),
            Inner::HmacSm3(key) => hmac_hex(key.clone(), pieces).as_str().to_owned(),
            #[cfg(feature = "ecdsa")]
            Inner::EcdsaP256(key) => {
                hex_string(&key.sign(&pieces.concat()).ok_or(KeyError::Randomness)?)
            }
            #[cfg(feature = "sm2")]
            Inner::Sm2Sm3(key) => hex_string(&sm2_sm3::sign(key, &pieces.concat())),
        })
    }

    fn verify_pieces(&self, pieces: &[&[u8]], signature: &str) -> bool {
        let mut buffer = [0u8; 72];
        let Some(bytes) = decode_hex(signature, &mut buffer) else {
            return false;
        };
        match &*self.inner {
            Inner::HmacSha256(key) => hmac_verify(key.clone(), pieces, bytes),
            Inner::HmacSm3(key) => hmac_verify(key.clone(), pieces, bytes),
            #[cfg(feature = "ecdsa")]
            Inner::EcdsaP256(key) => key.verify(&pieces.concat(), bytes),
            #[cfg(feature = "sm2")]
            Inner::Sm2Sm3(key) => sm2_sm3::verify(key.verifying_key(), &pieces.concat(), bytes),
        }
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({}, [redacted])", self.algorithm())
    }
}

fn hmac_hex<M: Mac>(mut mac: M, pieces: &[&[u8]]) -> Hex64 {
    for piece in pieces {
        mac.update(piece);
    }
    let mut out = [0u8; 32];
    for (slot, b) in out.iter_mut().zip(mac.finalize().into_bytes().iter()) {
        *slot = *b;
    }
    hex(&out)
}

fn hmac_verify<M: Mac>(mut mac: M, pieces: &[&[u8]], signature: &[u8]) -> bool {
    for piece in pieces {
        mac.update(piece);
    }
    // `verify_slice` compares in constant time.
    mac.verify_slice(signature).is_ok()
}

/// Lower-case hex of any bytes (a DER signature).
#[cfg(any(feature = "ecdsa", feature = "sm2", test))]
pub(crate) fn hex_string(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        for nibble in [b >> 4, b & 0x0f] {
            out.push(char::from(
                *DIGITS.get(usize::from(nibble)).unwrap_or(&b'0'),
            ));
        }
    }
    out
}

/// Hex (either case, even length, at most 72 bytes' worth: the longest DER signature) as
/// bytes, decoded into `buffer` (no allocation on the verifier's path).
pub(crate) fn decode_hex<'b>(text: &str, buffer: &'b mut [u8; 72]) -> Option<&'b [u8]> {
    if !text.len().is_multiple_of(2) || text.len() > 2 * buffer.len() {
        return None;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    for (slot, pair) in buffer.iter_mut().zip(text.as_bytes().chunks_exact(2)) {
        *slot = match pair {
            [hi, lo] => digit(*hi)? << 4 | digit(*lo)?,
            _ => return None,
        };
    }
    buffer.get(..text.len() / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_algorithm_left_out_of_the_build_is_refused_naming_its_feature() {
        for algorithm in SigningAlgorithm::ALL {
            match (algorithm.is_built(), SigningKey::new(algorithm, "AK", "SK")) {
                (true, Ok(key)) => assert_eq!(key.algorithm(), algorithm),
                (
                    false,
                    Err(KeyError::NotBuilt {
                        algorithm: a,
                        feature,
                    }),
                ) => {
                    assert_eq!((a, Some(feature)), (algorithm, algorithm.feature()));
                    let aksk = crate::AkSk::new("AK", "SK").unwrap();
                    let err = aksk.with_algorithm(algorithm).unwrap_err().to_string();
                    assert!(err.contains(feature), "{err}");
                }
                (built, other) => panic!("{algorithm}: built {built}, made {other:?}"),
            }
        }
    }

    #[test]
    fn every_algorithm_signs_and_verifies() {
        for algorithm in SigningAlgorithm::ALL.into_iter().filter(|a| a.is_built()) {
            let key = SigningKey::new(algorithm, "AKEXAMPLE", "SKEXAMPLE").unwrap();
            assert_eq!(key.algorithm(), algorithm);
            let sig = key.sign("string to sign").unwrap();
            assert!(key.verify("string to sign", &sig), "{algorithm}");
            assert!(
                key.verify("string to sign", &sig.to_uppercase()),
                "{algorithm}"
            );
            assert!(!key.verify("string to sigN", &sig), "{algorithm}");
            // Deterministic but for ECDSA, whose nonces ring draws at random.
            let again = key.sign("string to sign").unwrap();
            assert_eq!(
                again == sig,
                algorithm != SigningAlgorithm::EcdsaP256Sha256,
                "{algorithm}"
            );
            assert!(key.verify("string to sign", &again), "{algorithm}");
            let other = SigningKey::new(algorithm, "AKEXAMPLE", "SKEXAMPLF").unwrap();
            assert!(!other.verify("string to sign", &sig), "{algorithm}");
            assert!(!format!("{key:?}").contains("SKEXAMPLE"));
            assert_eq!(key.public_key_sec1().is_some(), algorithm.is_asymmetric());
        }
    }

    #[test]
    fn hex_round_trips() {
        assert_eq!(hex_string(&[0x00, 0xab, 0x7f]), "00ab7f");
        let mut buffer = [0u8; 72];
        assert_eq!(
            decode_hex("00AB7f", &mut buffer),
            Some(&[0x00, 0xab, 0x7f][..])
        );
        assert_eq!(decode_hex("0", &mut buffer), None);
        assert_eq!(decode_hex("zz", &mut buffer), None);
        assert_eq!(decode_hex(&"00".repeat(73), &mut buffer), None);
        assert_eq!(
            decode_hex(&"00".repeat(72), &mut buffer).map(<[u8]>::len),
            Some(72)
        );
    }
}
