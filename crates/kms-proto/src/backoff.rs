//! Backing off after a failure every caller would otherwise repeat at once: the delay after
//! the n-th failure in a row (exponential, capped, with jitter, and never shorter than the
//! service's `Retry-After`), and the failure kept meanwhile. Shared by the credential cache
//! (a failed refresh) and the client machine (a failed project request).

use std::time::{Duration, Instant};

/// The longest a service's `Retry-After` holds a client back: 60 s, the longest backoff
/// after a failure the client would repeat (the credential cache's and project discovery's
/// cap). A credential service or IAM asking for longer (a broken gateway, a hostile answer)
/// is not obeyed past it: every call of the client fails while it waits, and the service
/// can refuse again then, at the cost of one request a minute.
pub(crate) const MAX_ASKED_WAIT: Duration = Duration::from_secs(60);

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

/// A failure remembered while a client backs off after it: the calls meanwhile end at once
/// with it, without asking the service again, and say so. Found on a failed project request
/// ([`DiscoveryError::remembered`](crate::operation::projects::DiscoveryError::remembered))
/// and a failed credential refresh
/// ([`CredentialError::remembered`](crate::credentials::CredentialError::remembered)).
///
/// The delay is 1 s after the first failure, doubling with each failure in a row, times 0.5
/// to 1 by a random draw, at most 5 s when the service gave no answer, a 5xx or a 429 (at
/// most 60 s otherwise, and for a credential refresh while the cached credentials are still
/// usable), and never less than the service's `Retry-After`, honoured up to 60 s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Remembered {
    failures: u32,
    asks_again_in: Duration,
}

impl Remembered {
    pub(crate) fn new(failures: u32, asks_again_in: Duration) -> Self {
        Remembered {
            failures,
            asks_again_in,
        }
    }

    /// How many requests failed in a row, the remembered one the last.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// How long until the service is asked again (from when this error was made).
    pub fn asks_again_in(&self) -> Duration {
        self.asks_again_in
    }
}

/// A failure kept while callers back off: what it was, when (monotonic), how many in a
/// row, the jitter drawn when it happened (so the delay is drawn once, not per look), and
/// how long the service asked the client to wait (its `Retry-After`, at most
/// [`MAX_ASKED_WAIT`]; zero when it asked nothing).
#[derive(Debug)]
pub(crate) struct Failed<E> {
    pub(crate) error: E,
    pub(crate) at: Instant,
    pub(crate) consecutive: u32,
    pub(crate) jitter: f64,
    pub(crate) asked: Duration,
}

impl<E> Failed<E> {
    /// `error` happened at `at`, after `previous` (the failure before it in a row, if any);
    /// the service's answer asked the client to wait `asked` (its `Retry-After`, read
    /// against the wall clock of the moment), if anything.
    pub(crate) fn after(
        previous: Option<&Failed<E>>,
        error: E,
        at: Instant,
        jitter: f64,
        asked: Option<Duration>,
    ) -> Self {
        Failed {
            error,
            at,
            consecutive: previous.map_or(0, |f| f.consecutive).saturating_add(1),
            jitter,
            asked: asked.unwrap_or_default().min(MAX_ASKED_WAIT),
        }
    }

    /// The delay after it: from `base` up to `cap`, and never less than the service asked.
    pub(crate) fn delay(&self, base: Duration, cap: Duration) -> Duration {
        self.at_least_asked(delay(base, cap, self.consecutive, self.jitter))
    }

    /// `delay`, or what the service asked when that is longer.
    pub(crate) fn at_least_asked(&self, delay: Duration) -> Duration {
        delay.max(self.asked)
    }

    /// What a call that ends with it is told, `left` before the service is asked again.
    pub(crate) fn remembered(&self, left: Duration) -> Remembered {
        Remembered::new(self.consecutive, left)
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
        let first = Failed::after(None, "a", t0, 0.5, None);
        let second = Failed::after(Some(&first), "b", t0, 0.5, None);
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

    #[test]
    fn what_the_service_asked_is_waited_for_up_to_a_minute() {
        let t0 = Instant::now();
        let (base, cap) = (Duration::from_secs(1), Duration::from_secs(5));
        for (name, asked, expected_ms) in [
            ("nothing asked: the backoff", None, 750),
            ("less than the backoff: the backoff", Some(0), 750),
            ("more than the cap: what was asked", Some(30), 30_000),
            ("an hour: a minute", Some(3_600), 60_000),
            ("u64::MAX seconds: a minute", Some(u64::MAX), 60_000),
        ] {
            let failed = Failed::after(None, (), t0, 0.5, asked.map(Duration::from_secs));
            let delay = failed.delay(base, cap);
            assert_eq!(delay.as_millis(), expected_ms, "{name}");
            assert!(failed.left(delay, t0 + delay).is_none(), "{name}");
        }
    }
}
