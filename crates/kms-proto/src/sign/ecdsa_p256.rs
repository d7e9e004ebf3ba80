//! `SDK-ECDSA-P256-SHA256`: ECDSA over P-256 with SHA-256 of the string to sign, with the
//! private key derived from AK and SK (HMAC-SHA256, [`super::derive`]); the signature is
//! DER(r, s) in lower-case hex.
//!
//! Signing and verifying go through ring, whose P-256 code (the same assembly as OpenSSL's
//! and BoringSSL's `nistz256`) is already in every transport's build through rustls: about
//! eight times as fast as RustCrypto's `p256`, which this module used before (see
//! docs/BENCHMARKS.md). `p256` is left with one job, once per key: ring makes a key pair
//! only from the private scalar *and* its public point, and has no call that computes the
//! point, so `p256`'s arithmetic computes it (a scalar multiplication, then ring checks
//! the two agree).
//!
//! **Randomness.** ring signs ECDSA only with a nonce that draws on a random source, and
//! its `SecureRandom` trait is sealed: the only source outside code can hand it is its own
//! `SystemRandom` (the operating system's generator, `getrandom(2)` on Linux), which is
//! what rustls's ring provider uses too. So the key holds one, and the core, which
//! otherwise takes randomness as a parameter, reads it here, inside the primitive, as
//! rustls does inside a handshake. ring hedges the nonce: it is SHA-256 over a per-key
//! secret (itself a hash of the private key and random bytes), fresh random bytes and the
//! message's digest, so a weak generator does not leak the key as plain random-nonce ECDSA
//! would. What this gives up is RFC 6979's determinism: one request signs to different
//! bytes each time, as with the official Python and Go signers (their nonces are random);
//! every signature verifies alike. If the generator fails, making a key or signing is a
//! [`KeyError::Randomness`](super::KeyError::Randomness), never a panic.

use std::fmt;

use hmac::Hmac;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair, UnparsedPublicKey};
use sha2::Sha256;

use super::SigningAlgorithm;
use super::derive::{hex32, private_scalar};

/// The order of P-256 minus 2.
const N_MINUS_TWO: [u8; 32] =
    hex32("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc63254f");

/// A P-256 key pair in ring's form, with the random source its signatures draw on.
pub(crate) struct Key {
    pair: EcdsaKeyPair,
    random: SystemRandom,
}

/// Why no key was made.
#[derive(Debug)]
pub(crate) enum KeyProblem {
    /// No counter of the derivation gave a scalar in range.
    Derivation,
    /// The operating system's random number generator failed.
    Randomness,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ecdsa_p256::Key([redacted])")
    }
}

/// The key of `access_key` and `secret_key`.
pub(crate) fn key(access_key: &str, secret_key: &str) -> Result<Key, KeyProblem> {
    let scalar = private_scalar::<Hmac<Sha256>>(
        SigningAlgorithm::EcdsaP256Sha256,
        access_key,
        secret_key,
        &N_MINUS_TWO,
    )
    .ok_or(KeyProblem::Derivation)?;
    // In [1, n - 1] by construction, so p256 takes it; its public point, uncompressed.
    let secret = p256::SecretKey::from_bytes(&scalar.into()).map_err(|_| KeyProblem::Derivation)?;
    let public = secret.public_key().to_encoded_point(false);
    let random = SystemRandom::new();
    let pair = EcdsaKeyPair::from_private_key_and_public_key(
        &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
        &scalar,
        public.as_bytes(),
        &random,
    )
    // ring refuses only for its generator here: the scalar is in range and the point is
    // the scalar's (ring computes it again and compares).
    .map_err(|_| KeyProblem::Randomness)?;
    Ok(Key { pair, random })
}

impl Key {
    /// The DER signature of `message`, or `None` if the random source failed.
    pub(crate) fn sign(&self, message: &[u8]) -> Option<Vec<u8>> {
        // ring's ASN.1 form is the DER the official signers write: minimal, positive
        // integers in a sequence.
        self.pair
            .sign(&self.random, message)
            .ok()
            .map(|signature| signature.as_ref().to_vec())
    }

    /// Whether `der` is a signature of `message` by this key. Strict DER, as the
    /// official signers write it: ring refuses needless leading zeros, negative
    /// integers, r or s out of [1, n - 1], and anything after the sequence.
    pub(crate) fn verify(&self, message: &[u8], der: &[u8]) -> bool {
        UnparsedPublicKey::new(
            &signature::ECDSA_P256_SHA256_ASN1,
            self.pair.public_key().as_ref(),
        )
        .verify(message, der)
        .is_ok()
    }

    /// The public key, uncompressed SEC1 (`04 || x || y`).
    pub(crate) fn public_key_sec1(&self) -> Vec<u8> {
        self.pair.public_key().as_ref().to_vec()
    }
}

#[cfg(test)]
mod tests {
    use p256::elliptic_curve::Curve;
    use p256::elliptic_curve::bigint::ArrayEncoding;

    use super::*;

    #[test]
    fn n_minus_two_is_the_curve_order_minus_two() {
        let n: [u8; 32] = p256::NistP256::ORDER.to_be_byte_array().into();
        let mut want = n;
        want[31] -= 2;
        assert_eq!(N_MINUS_TWO, want);
    }

    /// ring's signatures are checked by RustCrypto's verifier and the other way round:
    /// the two implementations agree on the key (derived once, public point from `p256`)
    /// and on the DER.
    #[test]
    fn ring_and_rustcrypto_agree_both_ways() {
        use p256::ecdsa::signature::{Signer, Verifier};

        let key = key("AKEXAMPLE", "SKEXAMPLE").unwrap();
        let scalar = private_scalar::<Hmac<Sha256>>(
            SigningAlgorithm::EcdsaP256Sha256,
            "AKEXAMPLE",
            "SKEXAMPLE",
            &N_MINUS_TWO,
        )
        .unwrap();
        let theirs = p256::ecdsa::SigningKey::from_bytes(&scalar.into()).unwrap();
        assert_eq!(
            key.public_key_sec1(),
            theirs.verifying_key().to_encoded_point(false).as_bytes()
        );
        let message = b"SDK-ECDSA-P256-SHA256\n20261122T080000Z\nabc";

        let ours = key.sign(message).unwrap();
        let parsed = p256::ecdsa::Signature::from_der(&ours).unwrap();
        assert!(theirs.verifying_key().verify(message, &parsed).is_ok());

        let signature: p256::ecdsa::Signature = theirs.sign(message);
        assert!(key.verify(message, signature.to_der().as_bytes()));
        assert!(!key.verify(b"another message", signature.to_der().as_bytes()));
    }

    /// What the official signers never write is refused, as the SM2 verifier refuses it
    /// (`super::super::der`): ring's DER is as strict.
    #[test]
    fn verification_takes_strict_der_only() {
        let key = key("AKEXAMPLE", "SKEXAMPLE").unwrap();
        let message = b"m";
        let good = key.sign(message).unwrap();
        assert!(key.verify(message, &good));
        let (r, s) = split(&good);
        assert!(key.verify(message, &der(&r, &s)), "re-encoding is exact");

        let mut trailing = good.clone();
        trailing.push(0);
        assert!(!key.verify(message, &trailing), "a byte after the sequence");
        let padded = |int: &[u8]| [&[0u8][..], int].concat();
        if r.first().is_some_and(|&b| b < 0x80) {
            assert!(!key.verify(message, &der(&padded(&r), &s)), "needless zero");
        }
        if s.first().is_some_and(|&b| b < 0x80) {
            assert!(!key.verify(message, &der(&r, &padded(&s))), "needless zero");
        }
        for cut in 0..good.len() {
            assert!(!key.verify(message, &good[..cut]), "cut at {cut}");
        }
        assert!(!key.verify(message, &der(&[0], &s)), "r = 0");
    }

    /// The INTEGERs of a DER (r, s), as written (sign byte included).
    fn split(der: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let r_len = usize::from(der[3]);
        let r = der[4..4 + r_len].to_vec();
        let s = der[4 + r_len + 2..].to_vec();
        (r, s)
    }

    fn der(r: &[u8], s: &[u8]) -> Vec<u8> {
        let mut body = Vec::new();
        for int in [r, s] {
            body.extend_from_slice(&[0x02, u8::try_from(int.len()).unwrap()]);
            body.extend_from_slice(int);
        }
        [&[0x30, u8::try_from(body.len()).unwrap()][..], &body].concat()
    }

    #[test]
    fn signatures_differ_and_all_verify() {
        let key = key("AKEXAMPLE", "SKEXAMPLE").unwrap();
        let (a, b) = (key.sign(b"m").unwrap(), key.sign(b"m").unwrap());
        assert_ne!(a, b, "ring draws a fresh nonce for each signature");
        assert!(key.verify(b"m", &a) && key.verify(b"m", &b));
    }
}
