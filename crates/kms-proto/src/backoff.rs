//! Backing off after a failure every caller would otherwise repeat at once: the delay after
//! the n-th failure in a row (exponential, capped, with jitter), and the failure kept
//! meanwhile. Shared by the credential cache (a failed refresh) and the client machine (a
//! failed project request).

use std::time::{Duration, Instant};

/// The delay after the `consecutive`-th failure in a row (from 1): `base`, doubled for each
/// failure after the first, at most `cap`, then times 0.5 to 1 by `jitter` (a draw in
/// `[0, 1]`; out of it, the nearest end; NaN, the middle), so that clients that failed
/// together do not come back together.
pub(crate) fn delay(base: Duration, cap: Duration, consecutive: u32, jitter: f64) -> Duration {
    let exponent = consecutive.saturating_sub(1).min(16);
    let delay = base.saturating_mul(1 << exponent).min(cap);
    let jitter = if jitter.is_nan() {
        0.5
    } else {
        jitter.clamp(0.0, 1.0)
    };
    delay.mul_f64(0.5 + jitter / 2.0)
}

/// A failure kept while callers back off: what it was, when (monotonic), how many in a
/// row, and the jitter drawn when it happened (so the delay is drawn once, not per look).
#[derive(Debug)]
pub(crate) struct Failed<E> {
    pub(crate) error: E,
    pub(crate) at: Instant,
    pub(crate) consecutive: u32,
    pub(crate) jitter: f64,
}

impl<E> Failed<E> {
    /// `error` happened at `at`, after `previous` (the failure before it in a row, if any).
    pub(crate) fn after(previous: Option<&Failed<E>>, error: E, at: Instant, jitter: f64) -> Self {
        Failed {
            error,
            at,
            consecutive: previous.map_or(0, |f| f.consecutive).saturating_add(1),
            jitter,
        }
    }

    /// The delay after it, from `base` up to `cap`.
    pub(crate) fn delay(&self, base: Duration, cap: Duration) -> Duration {
        delay(base, cap, self.consecutive, self.jitter)
    }

    /// How long is left of backing off for `delay` at `now`: `None` once it has passed.
    /// An end beyond what an [`Instant`] holds never passes.
    pub(crate) fn left(&self, delay: Duration, now: Instant) -> Option<Duration> {
        match self.at.checked_add(delay) {
            Some(until) if now < until => Some(until - now),
            Some(_) => None,
            None => Some(delay),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn doubles_from_the_base_up_to_the_cap_spread_by_the_jitter() {
        let (base, cap) = (Duration::from_secs(1), Duration::from_secs(5));
        let full: Vec<u64> = (1..=6)
            .map(|n| delay(base, cap, n, 1.0).as_millis() as u64)
            .collect();
        assert_eq!(full, [1_000, 2_000, 4_000, 5_000, 5_000, 5_000]);
        assert_eq!(delay(base, cap, 1, 0.0), Duration::from_millis(500));
        assert_eq!(delay(base, cap, 0, 0.5), Duration::from_millis(750));
        assert_eq!(
            delay(base, cap, u32::MAX, f64::NAN),
            Duration::from_millis(3_750)
        );
        assert_eq!(delay(base, cap, 2, 7.0), Duration::from_secs(2));
    }

    #[test]
    fn a_failure_counts_the_ones_before_it_and_backs_off_until_its_delay_passed() {
        let t0 = Instant::now();
        let first = Failed::after(None, "a", t0, 0.5);
        let second = Failed::after(Some(&first), "b", t0, 0.5);
        assert_eq!((first.consecutive, second.consecutive), (1, 2));
        let delay = second.delay(Duration::from_secs(1), Duration::from_secs(60));
        assert_eq!(delay, Duration::from_millis(1_500));
        assert_eq!(
            second.left(delay, t0 + Duration::from_millis(500)),
            Some(Duration::from_millis(1_000))
        );
        assert_eq!(second.left(delay, t0 + delay), None);
        assert_eq!(second.left(Duration::MAX, t0), Some(Duration::MAX));
    }
}
