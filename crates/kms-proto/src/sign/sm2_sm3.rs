//! `SDK-SM2-SM3`: SM2 signatures (GB/T 32918.2) of the string to sign, with the private
//! key derived from AK and SK (HMAC-SM3, [`super::derive`]); the signature is DER(r, s) in
//! lower-case hex. Every hash of the canonical request is SM3.
//!
//! The user id is `1234567812345678`, the GB/T 32918 default that both official signers
//! end up with: Python passes no id and its `_za` defaults to it; Go passes an empty id to
//! `tjfoc/gmsm`'s `Sm2Sign`, which replaces an empty id with the same default.
//!
//! Nonces are deterministic (RFC 6979 with SM3), as the `sm2` crate makes them.
//!
//! The Python signer writes the public key's coordinates into Z_A without their leading
//! zero bytes (`_int_to_bytes`), where GB/T 32918 and Go write 32 bytes each: for the one
//! key in about 128 whose x or y starts with a zero byte, its signatures hash a different
//! Z_A. [`verify`] accepts both; [`sign`] follows the standard.

use hmac::Hmac;
use sm2::dsa::signature::hazmat::PrehashVerifier;
use sm2::dsa::signature::{Signer, Verifier};
use sm2::dsa::{Signature, SigningKey, VerifyingKey};
use sm2::elliptic_curve::sec1::ToEncodedPoint;
use sm3::{Digest, Sm3};

use super::SigningAlgorithm;
use super::derive::{hex32, private_scalar};

/// The user id (distinguishing identifier) the official signers sign with.
pub(crate) const USER_ID: &str = "1234567812345678";

/// The order of the SM2 curve minus 2.
const N_MINUS_TWO: [u8; 32] =
    hex32("fffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54121");

/// The key of `access_key` and `secret_key`, or `None` if the derivation finds none.
pub(crate) fn key(access_key: &str, secret_key: &str) -> Option<SigningKey> {
    let scalar = private_scalar::<Hmac<Sm3>>(
        SigningAlgorithm::Sm2Sm3,
        access_key,
        secret_key,
        &N_MINUS_TWO,
    )?;
    SigningKey::from_bytes(USER_ID, &scalar.into()).ok()
}

/// The DER signature of `message`.
pub(crate) fn sign(key: &SigningKey, message: &[u8]) -> Vec<u8> {
    let signature: Signature = key.sign(message);
    super::der::encode(&signature.r_bytes().into(), &signature.s_bytes().into())
}

/// Whether `der` is a signature of `message` by `key`, with the standard Z_A or the Python
/// signer's.
pub(crate) fn verify(key: &VerifyingKey, message: &[u8], der: &[u8]) -> bool {
    let Some(signature) =
        super::der::decode(der).and_then(|(r, s)| Signature::from_scalars(r, s).ok())
    else {
        return false;
    };
    if key.verify(message, &signature).is_ok() {
        return true;
    }
    match python_za(key) {
        Some(za) => {
            let e = Sm3::new().chain_update(za).chain_update(message).finalize();
            key.verify_prehash(&e, &signature).is_ok()
        }
        None => false,
    }
}

/// The curve parameters a, b, x_G, y_G, as Z_A hashes them (none has a leading zero).
const CURVE: [[u8; 32]; 4] = [
    hex32("fffffffeffffffffffffffffffffffffffffffff00000000fffffffffffffffc"),
    hex32("28e9fa9e9d9f5e344d5a9e4bcf6509a7f39789f515ab8f92ddbcbd414d940e93"),
    hex32("32c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7"),
    hex32("bc3736a2f4f6779c59bdcee36b692153d0a9877cc62a474002df32e52139f0a0"),
];

/// Z_A as the Python signer computes it, when it differs from the standard one: the
/// public key's coordinates without leading zero bytes.
fn python_za(key: &VerifyingKey) -> Option<[u8; 32]> {
    let point = key.as_affine().to_encoded_point(false);
    let (x, y) = (point.x()?, point.y()?);
    if x.first() != Some(&0) && y.first() != Some(&0) {
        return None;
    }
    let strip = |c: &[u8]| -> Vec<u8> { c.iter().copied().skip_while(|&b| b == 0).collect() };
    let bits = (USER_ID.len() * 8) as u16;
    let mut za = Sm3::new();
    za.update(bits.to_be_bytes());
    za.update(USER_ID.as_bytes());
    for parameter in &CURVE {
        za.update(parameter);
    }
    za.update(strip(x));
    za.update(strip(y));
    Some(za.finalize().into())
}

#[cfg(test)]
mod tests {
    use sm2::elliptic_curve::Curve;
    use sm2::elliptic_curve::bigint::ArrayEncoding;

    use super::*;

    #[test]
    fn n_minus_two_is_the_curve_order_minus_two() {
        let n: [u8; 32] = sm2::Sm2::ORDER.to_be_byte_array().into();
        let mut want = n;
        want[31] -= 2;
        assert_eq!(N_MINUS_TWO, want);
    }

    #[test]
    fn the_python_za_is_the_standard_one_with_short_coordinates() {
        // Find a key whose x starts with a zero byte; Python's Z_A then differs.
        let key = (0..4000)
            .map(|i| key(&format!("AK{i}"), "SK").unwrap())
            .find(|k| {
                let p = k.verifying_key().as_affine().to_encoded_point(false);
                p.x().unwrap()[0] == 0
            })
            .expect("one key in 256 has such an x");
        let za = python_za(key.verifying_key()).unwrap();
        let message = b"message";
        let der = sign(&key, message);
        assert!(verify(key.verifying_key(), message, &der));
        // A signature over the Python signer's Z_A verifies too, and only for its message.
        use sm2::dsa::signature::hazmat::PrehashSigner;
        let e = Sm3::new().chain_update(za).chain_update(message).finalize();
        let python: Signature = key.sign_prehash(&e).unwrap();
        let python = super::super::der::encode(&python.r_bytes().into(), &python.s_bytes().into());
        assert!(verify(key.verifying_key(), message, &python));
        assert!(!verify(key.verifying_key(), b"messagE", &python));
        // For a key whose coordinates are both 32 significant bytes, there is no other Z_A.
        let plain = (0..100)
            .map(key_of)
            .find(|k| python_za(k.verifying_key()).is_none())
            .unwrap();
        assert!(verify(
            plain.verifying_key(),
            message,
            &sign(&plain, message)
        ));
    }

    fn key_of(i: u32) -> SigningKey {
        key(&format!("AK{i}"), "SK").unwrap()
    }
}
