//! Spans of time: written for people ([`Span`]), and signed offsets in milliseconds
//! between two clocks ([`millis_between`], [`moved_by`]), which clock-skew correction and
//! the credential cache both read.

use std::fmt;
use std::time::{Duration, SystemTime};

/// A number of seconds in the largest unit that says it plainly ("3 years", "20 minutes").
pub(crate) struct Span(pub(crate) u64);

impl Span {
    /// How far apart two times are, either way.
    pub(crate) fn between(a: SystemTime, b: SystemTime) -> Self {
        let apart = match a.duration_since(b) {
            Ok(d) => d,
            Err(e) => e.duration(),
        };
        Span(apart.as_secs())
    }

    /// A duration.
    pub(crate) fn of(duration: Duration) -> Self {
        Span(duration.as_secs())
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const DAY: u64 = 86_400;
        match self.0 {
            s if s >= 2 * 365 * DAY => write!(f, "{} years", s / (365 * DAY)),
            s if s >= 2 * DAY => write!(f, "{} days", s / DAY),
            s if s >= 2 * 3_600 => write!(f, "{} hours", s / 3_600),
            s if s >= 120 => write!(f, "{} minutes", s / 60),
            s => write!(f, "{s} s"),
        }
    }
}

/// `time` moved by `offset_ms` milliseconds (back when negative); unmoved when that would
/// leave the range `SystemTime` can hold.
pub(crate) fn moved_by(time: SystemTime, offset_ms: i64) -> SystemTime {
    let offset = Duration::from_millis(offset_ms.unsigned_abs());
    let moved = if offset_ms >= 0 {
        time.checked_add(offset)
    } else {
        time.checked_sub(offset)
    };
    moved.unwrap_or(time)
}

/// How far `later` is after `earlier`, in milliseconds (negative: before); `None` beyond
/// what an `i64` of milliseconds holds.
pub(crate) fn millis_between(later: SystemTime, earlier: SystemTime) -> Option<i64> {
    match later.duration_since(earlier) {
        Ok(ahead) => i64::try_from(ahead.as_millis()).ok(),
        Err(behind) => i64::try_from(behind.duration().as_millis())
            .ok()
            .map(|ms| -ms),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_unit_from_twice_its_size() {
        for (secs, text) in [
            (0, "0 s"),
            (119, "119 s"),
            (120, "2 minutes"),
            (1_200, "20 minutes"),
            (7_199, "119 minutes"),
            (7_200, "2 hours"),
            (86_400, "24 hours"),
            (172_800, "2 days"),
            (100 * 365 * 86_400, "100 years"),
        ] {
            assert_eq!(Span(secs).to_string(), text, "{secs}");
        }
    }
}
