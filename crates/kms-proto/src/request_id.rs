//! The request id the service (or its gateway) gives every answer.

use std::fmt;

/// A request id, as found in `X-Request-Id`, stored inline when it is short.
///
/// Ids seen in practice are 32 hex digits; up to [`RequestId::INLINE_CAPACITY`] bytes are
/// kept without a heap allocation, which keeps the success path of
/// [`parse`](crate::parse) allocation-free. Longer ids are kept on the heap, whole.
#[derive(Clone)]
pub struct RequestId(Repr);

#[derive(Clone)]
enum Repr {
    Inline {
        len: u8,
        bytes: [u8; RequestId::INLINE_CAPACITY],
    },
    Heap(Box<str>),
}

impl RequestId {
    /// The longest id stored without a heap allocation, in bytes.
    pub const INLINE_CAPACITY: usize = 64;

    /// Stores `id`.
    pub fn new(id: &str) -> Self {
        let mut bytes = [0u8; Self::INLINE_CAPACITY];
        match (bytes.get_mut(..id.len()), u8::try_from(id.len())) {
            (Some(slot), Ok(len)) => {
                slot.copy_from_slice(id.as_bytes());
                RequestId(Repr::Inline { len, bytes })
            }
            _ => RequestId(Repr::Heap(id.into())),
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Inline { len, bytes } => bytes
                .get(..usize::from(*len))
                .and_then(|b| std::str::from_utf8(b).ok())
                .unwrap_or_default(),
            Repr::Heap(s) => s,
        }
    }
}

impl PartialEq for RequestId {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for RequestId {}

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

impl std::hash::Hash for RequestId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long_ids_round_trip() {
        for id in [
            "",
            "7d018b99e75a29dcebbed13d746704c6",
            &"x".repeat(64),
            &"y".repeat(65),
        ] {
            let r = RequestId::new(id);
            assert_eq!(r.as_str(), id);
            assert_eq!(r, RequestId::new(id));
        }
        assert!(matches!(
            RequestId::new(&"x".repeat(64)).0,
            Repr::Inline { .. }
        ));
        assert!(matches!(RequestId::new(&"x".repeat(65)).0, Repr::Heap(_)));
    }
}
