//! The DER encoding of an (r, s) signature, `SEQUENCE { INTEGER r, INTEGER s }`, as the
//! official signers write it (Python's pyasn1, Go's `encoding/asn1`), for 256-bit curves:
//! SM2's (ECDSA's DER is ring's, as strict).

/// The DER of (r, s), each a 32-byte big-endian integer.
pub(crate) fn encode(r: &[u8; 32], s: &[u8; 32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(72);
    out.extend_from_slice(&[0x30, 0]);
    for int in [r, s] {
        let first = int.iter().position(|&b| b != 0).unwrap_or(31);
        let digits = int.get(first..).unwrap_or(&[0]);
        let pad = digits.first().is_some_and(|&b| b >= 0x80);
        out.push(0x02);
        out.push(u8::from(pad) + digits.len() as u8);
        if pad {
            out.push(0);
        }
        out.extend_from_slice(digits);
    }
    // At most 2 * (2 + 33) = 70 bytes follow the header: a short-form length.
    let body = (out.len() - 2) as u8;
    if let Some(len) = out.get_mut(1) {
        *len = body;
    }
    out
}

/// (r, s) from strict DER: minimal lengths and integers, positive, at most 32 bytes each,
/// nothing after the sequence. `None` for anything else.
pub(crate) fn decode(der: &[u8]) -> Option<([u8; 32], [u8; 32])> {
    let (&tag, rest) = der.split_first()?;
    let (&len, body) = rest.split_first()?;
    if tag != 0x30 || len >= 0x80 || usize::from(len) != body.len() {
        return None;
    }
    let (r, rest) = integer(body)?;
    let (s, rest) = integer(rest)?;
    rest.is_empty().then_some((r, s))
}

fn integer(der: &[u8]) -> Option<([u8; 32], &[u8])> {
    let (&tag, rest) = der.split_first()?;
    let (&len, rest) = rest.split_first()?;
    let len = usize::from(len);
    if tag != 0x02 || len == 0 || len > 33 {
        return None;
    }
    let (digits, rest) = rest.split_at_checked(len)?;
    let (&first, tail) = digits.split_first()?;
    // Negative, or a leading zero that is not needed.
    if first >= 0x80 || (first == 0 && tail.first().is_none_or(|&b| b < 0x80)) {
        return None;
    }
    let digits = if first == 0 { tail } else { digits };
    let mut out = [0u8; 32];
    let at = 32usize.checked_sub(digits.len())?;
    out.get_mut(at..)?.copy_from_slice(digits);
    Some((out, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_is_minimal() {
        let mut r = [0u8; 32];
        r[31] = 1;
        let s = [0xff; 32];
        let der = encode(&r, &s);
        assert_eq!(der[..5], [0x30, 3 + 2 + 33, 0x02, 1, 1]);
        assert_eq!(der[5..8], [0x02, 33, 0]);
        assert_eq!(decode(&der), Some((r, s)));
        let mut r = [0x12; 32];
        r[0] = 0;
        let der = encode(&r, &r);
        assert_eq!(der[1], 2 * 33);
        assert_eq!(decode(&der), Some((r, r)));
    }

    #[test]
    fn refuses_what_is_not_strict() {
        let good = encode(&[0x11; 32], &[0x22; 32]);
        assert!(decode(&good).is_some());
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(decode(&trailing).is_none());
        let mut padded = vec![0x30, 0x45, 0x02, 0x21, 0x00];
        padded.extend_from_slice(&[0x11; 32]);
        padded.extend_from_slice(&good[36..]);
        assert!(decode(&padded).is_none(), "needless leading zero");
        let mut negative = good.clone();
        negative[4] = 0x91;
        assert!(decode(&negative).is_none());
        for cut in 0..good.len() {
            assert!(decode(&good[..cut]).is_none());
        }
        assert!(decode(&[0x30, 0x00]).is_none());
    }
}
