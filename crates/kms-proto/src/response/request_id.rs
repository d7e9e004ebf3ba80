//! The request id the service (or its gateway) gives every answer.

use std::fmt;

use http::{HeaderMap, HeaderName};

/// `X-Request-Id`, the id the service gives each answer.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A request id, as found in `X-Request-Id`: what support asks for when a call went wrong.
///
/// Ids seen in practice are 32 hex digits. [`parse`](crate::parse) keeps one only when it
/// is non-empty printable ASCII, so that it can be quoted as it was sent.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RequestId(String);

impl RequestId {
    /// Stores `id`.
    pub fn new(id: &str) -> Self {
        RequestId(id.to_owned())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for RequestId {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for RequestId {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl AsRef<str> for RequestId {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RequestId({:?})", self.as_str())
    }
}

/// `X-Request-Id` when it is non-empty printable ASCII (no spaces): anything else could
/// not be quoted to support as it was sent.
pub(super) fn from_headers(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(&X_REQUEST_ID)?.to_str().ok()?;
    (!value.is_empty() && value.bytes().all(|b| b.is_ascii_graphic())).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        for id in ["", "7d018b99e75a29dcebbed13d746704c6", &"y".repeat(65)] {
            let r = RequestId::new(id);
            assert_eq!(r.as_str(), id);
            assert_eq!(r, RequestId::new(id));
            assert_eq!(r, id);
        }
    }
}
