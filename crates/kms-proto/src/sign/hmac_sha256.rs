//! `SDK-HMAC-SHA256`: HMAC-SHA256 keyed with the SK's UTF-8 bytes, in hex.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// HMAC-SHA256 keyed with `secret_key`; every signature starts from a clone of it.
pub(crate) fn key(secret_key: &str) -> Hmac<Sha256> {
    #[allow(clippy::expect_used, reason = "HMAC accepts keys of every length")]
    <Hmac<Sha256> as Mac>::new_from_slice(secret_key.as_bytes()).expect("HMAC takes any key length")
}
