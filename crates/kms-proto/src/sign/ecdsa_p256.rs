//! `SDK-ECDSA-P256-SHA256`: ECDSA over P-256 with SHA-256 of the string to sign, with the
//! private key derived from AK and SK (HMAC-SHA256, [`super::derive`]); the signature is
//! DER(r, s) in lower-case hex.
//!
//! Nonces are deterministic (RFC 6979, HMAC-SHA256), as the `p256` crate makes them: the
//! same request signs to the same bytes, and no randomness is needed (the core stays
//! sans-IO). The official Python and Go signers draw random nonces, so their signatures
//! differ from ours bit for bit but verify the same; the Java SDK uses RFC 6979 too.

use hmac::Hmac;
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use sha2::Sha256;

use super::SigningAlgorithm;
use super::derive::{hex32, private_scalar};

/// The order of P-256 minus 2.
const N_MINUS_TWO: [u8; 32] =
    hex32("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc63254f");

/// The key of `access_key` and `secret_key`, or `None` if the derivation finds none.
pub(crate) fn key(access_key: &str, secret_key: &str) -> Option<SigningKey> {
    let scalar = private_scalar::<Hmac<Sha256>>(
        SigningAlgorithm::EcdsaP256Sha256,
        access_key,
        secret_key,
        &N_MINUS_TWO,
    )?;
    SigningKey::from_bytes(&scalar.into()).ok()
}

/// The DER signature of `message`.
pub(crate) fn sign(key: &SigningKey, message: &[u8]) -> Vec<u8> {
    let signature: Signature = key.sign(message);
    let (r, s) = signature.split_bytes();
    super::der::encode(&r.into(), &s.into())
}

/// Whether `der` is a signature of `message` by `key`.
pub(crate) fn verify(key: &VerifyingKey, message: &[u8], der: &[u8]) -> bool {
    let Some((r, s)) = super::der::decode(der) else {
        return false;
    };
    Signature::from_scalars(r, s).is_ok_and(|signature| key.verify(message, &signature).is_ok())
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
}
