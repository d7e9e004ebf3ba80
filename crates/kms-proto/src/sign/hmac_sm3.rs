//! `SDK-HMAC-SM3`: HMAC-SM3 keyed with the SK's UTF-8 bytes, in hex; every hash of the
//! canonical request is SM3 too, and the content-hash header is `X-Sdk-Content-Sm3`.

use hmac::{Hmac, Mac};
use sm3::Sm3;

/// HMAC-SM3 keyed with `secret_key`.
pub(crate) fn key(secret_key: &str) -> Hmac<Sm3> {
    #[allow(clippy::expect_used, reason = "HMAC accepts keys of every length")]
    <Hmac<Sm3> as Mac>::new_from_slice(secret_key.as_bytes()).expect("HMAC takes any key length")
}
