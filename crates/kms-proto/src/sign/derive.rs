//! The private scalar of `SDK-ECDSA-P256-SHA256` and `SDK-SM2-SM3`, derived from AK and SK
//! exactly as the official signers do (Python `P256SHA256Signer._derive_key`, Go
//! `derivePrivateInt`): for counter c = 0, 1, ..., the candidate is the big-endian
//! HMAC(key = SK, `00 00 00 01` || algorithm name || `00` || AK || c || `00 00 01 00`),
//! with the algorithm's own HMAC (HMAC-SHA256 for ECDSA, HMAC-SM3 for SM2); the first
//! candidate <= n - 2 gives the key candidate + 1, so it lies in [1, n - 1].

use hmac::Mac;
use hmac::digest::KeyInit;

use super::SigningAlgorithm;

/// The 32-byte big-endian private scalar, or `None` if no counter gives one (the chance is
/// below 2^-8000: the official signers then fail too).
pub(crate) fn private_scalar<M: Mac + KeyInit>(
    algorithm: SigningAlgorithm,
    access_key: &str,
    secret_key: &str,
    n_minus_two: &[u8; 32],
) -> Option<[u8; 32]> {
    // Python tries 0..=254, Go 0..=255: the ranges agree but for the last counter.
    for counter in 0..=254u8 {
        let mut mac = <M as KeyInit>::new_from_slice(secret_key.as_bytes()).ok()?;
        for part in [
            &[0, 0, 0, 1][..],
            algorithm.as_str().as_bytes(),
            &[0],
            access_key.as_bytes(),
            &[counter],
            &[0, 0, 1, 0],
        ] {
            mac.update(part);
        }
        let candidate: [u8; 32] = mac.finalize().into_bytes().as_slice().try_into().ok()?;
        // Big-endian arrays of one length compare as the numbers do.
        if candidate <= *n_minus_two {
            return Some(plus_one(candidate));
        }
    }
    None
}

/// `value + 1`, big-endian; the caller's value is below n - 1, so nothing overflows.
fn plus_one(mut value: [u8; 32]) -> [u8; 32] {
    for byte in value.iter_mut().rev() {
        let (sum, carry) = byte.overflowing_add(1);
        *byte = sum;
        if !carry {
            break;
        }
    }
    value
}

/// 64 hex digits as 32 bytes, at compile time.
#[allow(
    clippy::indexing_slicing,
    clippy::panic,
    reason = "evaluated at compile time on constants: a bad digit fails the build"
)]
pub(crate) const fn hex32(text: &str) -> [u8; 32] {
    const fn digit(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => panic!("not a hex digit"),
        }
    }
    let bytes = text.as_bytes();
    assert!(bytes.len() == 64, "want 64 hex digits");
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        out[i] = digit(bytes[2 * i]) << 4 | digit(bytes[2 * i + 1]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plus_one_carries() {
        let mut v = [0u8; 32];
        v[31] = 0xff;
        v[30] = 0xff;
        let w = plus_one(v);
        assert_eq!(w[29..], [1, 0, 0]);
    }
}
