//! `Retry-After`: how long the service asks a client to wait.

use std::time::{Duration, SystemTime};

use http::HeaderMap;
use http::header::RETRY_AFTER;

/// A `Retry-After` header: a number of seconds or an HTTP date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryAfter {
    /// `Retry-After: 3`.
    Delay(Duration),
    /// `Retry-After: Wed, 21 Oct 2026 07:28:00 GMT`.
    At(SystemTime),
}

impl RetryAfter {
    /// Parses a `Retry-After` value. Anything that is neither a whole number of seconds
    /// nor an HTTP date gives `None`: a malformed hint is ignored, as RFC 9110 allows.
    /// Numbers too large for a `Duration` saturate.
    pub fn parse(value: &[u8]) -> Option<Self> {
        let text = std::str::from_utf8(value).ok()?.trim();
        if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            let secs = text.parse::<u64>().unwrap_or(u64::MAX);
            return Some(RetryAfter::Delay(Duration::from_secs(secs)));
        }
        httpdate::parse_http_date(text).ok().map(RetryAfter::At)
    }

    /// The `Retry-After` of `headers`, if it is valid (the first one, when repeated).
    pub fn from_headers(headers: &HeaderMap) -> Option<Self> {
        RetryAfter::parse(headers.get(RETRY_AFTER)?.as_bytes())
    }

    /// How long to wait from `now`; a date in the past gives zero.
    pub fn delay_from(self, now: SystemTime) -> Duration {
        match self {
            RetryAfter::Delay(d) => d,
            RetryAfter::At(t) => t.duration_since(now).unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_parsing() {
        assert_eq!(
            RetryAfter::parse(b"3"),
            Some(RetryAfter::Delay(Duration::from_secs(3)))
        );
        assert_eq!(
            RetryAfter::parse(b" 0 "),
            Some(RetryAfter::Delay(Duration::ZERO))
        );
        assert_eq!(
            RetryAfter::parse(b"99999999999999999999999"),
            Some(RetryAfter::Delay(Duration::from_secs(u64::MAX)))
        );
        for bad in [&b""[..], b"-1", b"1.5", b"soon", b"\xff"] {
            assert_eq!(RetryAfter::parse(bad), None, "{bad:?}");
        }
        let at = RetryAfter::parse(b"Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(
            at.delay_from(SystemTime::now()),
            Duration::ZERO,
            "a past date waits nothing"
        );
    }
}
