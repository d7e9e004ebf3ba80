//! The API gateway's protections and the one clock they run on: an access key locked after
//! failed signatures in a row, and a sliding-window throttle per credential.
//!
//! Every decision takes its `now` from [`Gateway::now`], the emulator's clock
//! ([`MockConfig::with_clock`](crate::MockConfig::with_clock), the system clock by
//! default). The emulator reads it once per request and uses that reading for everything:
//! the signature's date window, a token's expiry, the lockout, the throttle, and the time
//! the request is recorded at. A test that moves the clock moves all of them together, and
//! never has to sleep for a window to pass.
//!
//! # The throttle's window
//! A [`Throttle`] of `limit` per `per` admits a request when fewer than `limit` requests of
//! the same credential were admitted in the `per` before it (a sliding window, kept as the
//! times of those admissions), so no span of `per` ever holds more than `limit` admitted
//! requests. A fixed window (a count reset every `per`) would admit `2 * limit` within a
//! moment across a window's edge: 40 in a few milliseconds for KMS's 20 per second, which
//! a limit of 20 per second is not meant to allow. Refused requests are not counted, so a client that keeps
//! retrying is admitted as soon as the oldest admission leaves the window, which is what
//! `Retry-After` says.
//!
//! # A clock that goes backwards
//! Windows are measured as the time elapsed since they began, and a negative elapsed time
//! (the clock now reads earlier than when the window began) counts as zero. So a step back
//! never ends a lockout or a throttle window early: it lengthens it by the step. A lockout
//! that began at 12:00 for 5 minutes, with the clock then set back to 11:00, lasts until
//! the clock reads 12:05 again; an admission to the throttle counts the same way, until the
//! clock reads its time plus `per` again (a request admitted while the clock reads earlier
//! than the last admission is taken to be at the last admission's time). Nothing is ever
//! added to a time, so no duration, however large, can overflow or panic.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use crate::lock;

/// The emulator's clock; replaceable so tests can move time. Default: [`SystemTime::now`].
pub type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// A rate limit per credential (AK or token): at most `limit` requests admitted in any span
/// of `per`, a sliding window (see [`MockConfig::with_throttle`](crate::MockConfig::with_throttle)).
/// Default: none (no throttling).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttle {
    /// Requests admitted in any span of `per`.
    pub limit: u32,
    /// The window.
    pub per: Duration,
}

impl Throttle {
    /// KMS's limit: 20 requests per second. The Data Encryption Workshop (DEW) API guide
    /// says KMS allows each user about 20 requests per second; beyond it the API gateway
    /// answers 429 with the flat error `APIG.0308` ("The throttling threshold has been
    /// reached ..."). [`MockConfig::with_kms_throttle`](crate::MockConfig::with_kms_throttle)
    /// and `kms-mock --throttle kms` apply it.
    pub const KMS: Throttle = Throttle {
        limit: 20,
        per: Duration::from_secs(1),
    };
}

/// When an access key is locked, and for how long. Default: after 5 failed signatures in a
/// row, for 5 minutes, as the gateway does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Lockout {
    /// Failed signatures in a row that lock the key; 0 never locks it.
    pub(crate) after: u32,
    /// How long the key stays locked.
    pub(crate) duration: Duration,
}

impl Default for Lockout {
    fn default() -> Self {
        Lockout {
            after: 5,
            duration: Duration::from_secs(5 * 60),
        }
    }
}

/// Who a request authenticated as: what the throttle counts requests under.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Caller {
    /// An IAM token.
    Token(String),
    /// An access key id whose signature was verified.
    AccessKey(String),
}

/// A request over the throttle's limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Throttled {
    /// The throttle that refused it.
    pub(crate) throttle: Throttle,
    /// Whole seconds, rounded up, until the oldest admission in the window leaves it and
    /// a request would be admitted again (for `Retry-After`).
    pub(crate) retry_after: u64,
}

/// The gateway's state, shared by every connection of one emulator.
pub(crate) struct Gateway {
    clock: Clock,
    lockout: Lockout,
    throttle: Option<Throttle>,
    /// Access keys with failed signatures since their last success (or unlock).
    failures: Mutex<HashMap<String, Failures>>,
    /// The throttle window of each caller.
    windows: Mutex<HashMap<Caller, Window>>,
}

#[derive(Default)]
struct Failures {
    in_a_row: u32,
    /// When the key was locked, if it is.
    locked_at: Option<SystemTime>,
}

/// A caller's sliding throttle window.
#[derive(Default)]
struct Window {
    /// When the requests admitted in the last `per` were admitted, oldest first, never
    /// decreasing (a reading earlier than the last admission is recorded as the last
    /// admission's time); at most `limit` of them.
    admitted: VecDeque<SystemTime>,
}

impl Gateway {
    pub(crate) fn new(clock: Clock, lockout: Lockout, throttle: Option<Throttle>) -> Self {
        Gateway {
            clock,
            lockout,
            throttle,
            failures: Mutex::new(HashMap::new()),
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// The emulator's time: read once per request, and passed to every decision about it.
    pub(crate) fn now(&self) -> SystemTime {
        (self.clock)()
    }

    /// Whether `access_key` is locked at `now`. A lockout that has run out is forgotten
    /// here, failures and all, so the key starts again from zero failures.
    pub(crate) fn is_locked(&self, access_key: &str, now: SystemTime) -> bool {
        let mut failures = lock(&self.failures);
        let Some(locked_at) = failures.get(access_key).and_then(|f| f.locked_at) else {
            return false;
        };
        if elapsed(locked_at, now) < self.lockout.duration {
            return true;
        }
        failures.remove(access_key);
        false
    }

    /// Counts a failed signature of a known `access_key`; the one that reaches the limit
    /// locks the key from `now`.
    pub(crate) fn record_failure(&self, access_key: &str, now: SystemTime) {
        if self.lockout.after == 0 {
            return;
        }
        let mut failures = lock(&self.failures);
        let entry = failures.entry(access_key.to_owned()).or_default();
        entry.in_a_row = entry.in_a_row.saturating_add(1);
        if entry.in_a_row >= self.lockout.after {
            entry.locked_at = Some(now);
        }
    }

    /// A verified signature: the failures in a row of `access_key` start again from zero.
    pub(crate) fn record_success(&self, access_key: &str) {
        lock(&self.failures).remove(access_key);
    }

    /// Admits a request of `caller` at `now` if fewer than the throttle's `limit` requests
    /// of `caller` were admitted in the `per` before `now`, and counts it.
    ///
    /// # Errors
    /// [`Throttled`] when `limit` requests were admitted in that span; the refused request
    /// is not counted.
    pub(crate) fn admit(&self, caller: Caller, now: SystemTime) -> Result<(), Throttled> {
        let Some(throttle) = self.throttle else {
            return Ok(());
        };
        let mut windows = lock(&self.windows);
        let window = windows.entry(caller).or_default();
        // Admissions a whole window ago or more have left it. The times never decrease, so
        // the ones that left are at the front.
        while window
            .admitted
            .front()
            .is_some_and(|&at| elapsed(at, now) >= throttle.per)
        {
            window.admitted.pop_front();
        }
        let limit = usize::try_from(throttle.limit).unwrap_or(usize::MAX);
        if window.admitted.len() < limit {
            let at = window.admitted.back().map_or(now, |&last| last.max(now));
            window.admitted.push_back(at);
            return Ok(());
        }
        // Admitted again once the oldest admission leaves the window (with a limit of 0,
        // nothing is ever admitted: say the whole window).
        let left = window.admitted.front().map_or(throttle.per, |&oldest| {
            throttle.per.saturating_sub(elapsed(oldest, now))
        });
        Err(Throttled {
            throttle,
            retry_after: left
                .as_secs()
                .saturating_add(u64::from(left.subsec_nanos() > 0)),
        })
    }
}

/// The time from `since` to `now`; zero if the clock has gone back since (see the module
/// docs for why).
fn elapsed(since: SystemTime, now: SystemTime) -> Duration {
    now.duration_since(since).unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;

    const AK: &str = "AKTEST";

    fn at(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + seconds)
    }

    fn gateway(lockout: Lockout, throttle: Option<Throttle>) -> Gateway {
        // The tests pass `now` to every decision; the clock itself is never read.
        Gateway::new(Arc::new(|| at(0)), lockout, throttle)
    }

    fn lock_now(gateway: &Gateway, now: SystemTime) {
        for _ in 0..gateway.lockout.after {
            gateway.record_failure(AK, now);
        }
        assert!(gateway.is_locked(AK, now));
    }

    #[test]
    fn a_lockout_lasts_its_duration_by_the_clock_then_the_count_starts_again() {
        let gateway = gateway(Lockout::default(), None);
        for _ in 0..4 {
            gateway.record_failure(AK, at(0));
        }
        assert!(!gateway.is_locked(AK, at(0)));
        gateway.record_failure(AK, at(10));
        assert!(gateway.is_locked(AK, at(10)));
        assert!(gateway.is_locked(AK, at(10 + 299)));
        assert!(!gateway.is_locked(AK, at(10 + 300)));
        // Unlocked with no failures left: one more does not lock again.
        gateway.record_failure(AK, at(311));
        assert!(!gateway.is_locked(AK, at(311)));
    }

    #[test]
    fn a_clock_that_goes_back_never_ends_a_lockout_early() {
        let gateway = gateway(Lockout::default(), None);
        lock_now(&gateway, at(3600));
        // An hour back: still locked, until the clock reads the end of the lockout again.
        assert!(gateway.is_locked(AK, at(0)));
        assert!(gateway.is_locked(AK, at(3600 + 299)));
        assert!(!gateway.is_locked(AK, at(3600 + 300)));
    }

    #[test]
    fn the_longest_lockout_neither_panics_nor_ends() {
        let gateway = gateway(
            Lockout {
                after: 1,
                duration: Duration::MAX,
            },
            None,
        );
        lock_now(&gateway, at(0));
        assert!(gateway.is_locked(
            AK,
            SystemTime::UNIX_EPOCH + Duration::from_secs(u64::MAX / 4)
        ));
    }

    #[test]
    fn zero_failures_never_lock() {
        let gateway = gateway(
            Lockout {
                after: 0,
                duration: Duration::from_secs(60),
            },
            None,
        );
        for _ in 0..10 {
            gateway.record_failure(AK, at(0));
        }
        assert!(!gateway.is_locked(AK, at(0)));
    }

    #[test]
    fn a_throttle_window_counts_per_caller_and_tells_how_long_is_left() {
        let throttle = Throttle {
            limit: 2,
            per: Duration::from_secs(10),
        };
        let gateway = gateway(Lockout::default(), Some(throttle));
        let token = || Caller::Token("t".into());
        assert_eq!(gateway.admit(token(), at(0)), Ok(()));
        assert_eq!(gateway.admit(token(), at(1)), Ok(()));
        assert_eq!(
            gateway.admit(token(), at(3)),
            Err(Throttled {
                throttle,
                retry_after: 7
            })
        );
        assert_eq!(gateway.admit(Caller::AccessKey("t".into()), at(3)), Ok(()));
        assert_eq!(gateway.admit(token(), at(10)), Ok(()));
    }

    #[test]
    fn a_clock_that_goes_back_keeps_the_throttle_window() {
        let throttle = Throttle {
            limit: 1,
            per: Duration::from_secs(10),
        };
        let gateway = gateway(Lockout::default(), Some(throttle));
        let token = || Caller::Token("t".into());
        assert_eq!(gateway.admit(token(), at(100)), Ok(()));
        // Back by more than a window: the count holds, and the whole window is left.
        assert_eq!(
            gateway.admit(token(), at(0)),
            Err(Throttled {
                throttle,
                retry_after: 10
            })
        );
        assert_eq!(gateway.admit(token(), at(110)), Ok(()));
    }

    #[test]
    fn the_window_slides_so_no_burst_doubles_the_limit_across_an_edge() {
        let throttle = Throttle {
            limit: 2,
            per: Duration::from_secs(10),
        };
        let gateway = gateway(Lockout::default(), Some(throttle));
        let token = || Caller::Token("t".into());
        assert_eq!(gateway.admit(token(), at(0)), Ok(()));
        assert_eq!(gateway.admit(token(), at(9)), Ok(()));
        // A fixed window begun at 0 s would start afresh at 10 s and admit two more, three
        // in the second from 9 s. Here only the admission at 0 s has left the window.
        assert_eq!(gateway.admit(token(), at(10)), Ok(()));
        assert_eq!(
            gateway.admit(token(), at(10)),
            Err(Throttled {
                throttle,
                retry_after: 9
            })
        );
        // The one at 9 s leaves at 19 s.
        assert!(gateway.admit(token(), at(18)).is_err());
        assert_eq!(gateway.admit(token(), at(19)), Ok(()));
        assert!(gateway.admit(token(), at(19)).is_err());
    }

    #[test]
    fn refused_requests_are_not_counted() {
        let throttle = Throttle {
            limit: 1,
            per: Duration::from_secs(10),
        };
        let gateway = gateway(Lockout::default(), Some(throttle));
        let token = || Caller::Token("t".into());
        assert_eq!(gateway.admit(token(), at(0)), Ok(()));
        for second in 1..10 {
            assert_eq!(
                gateway.admit(token(), at(second)),
                Err(Throttled {
                    throttle,
                    retry_after: 10 - second
                })
            );
        }
        // Hammering did not push the window on: admitted when Retry-After said.
        assert_eq!(gateway.admit(token(), at(10)), Ok(()));
    }

    #[test]
    fn an_admission_while_the_clock_is_back_counts_from_the_latest_time_seen() {
        let throttle = Throttle {
            limit: 2,
            per: Duration::from_secs(10),
        };
        let gateway = gateway(Lockout::default(), Some(throttle));
        let token = || Caller::Token("t".into());
        assert_eq!(gateway.admit(token(), at(100)), Ok(()));
        // Back by 100 s: admitted, and counted as at 100 s.
        assert_eq!(gateway.admit(token(), at(0)), Ok(()));
        assert_eq!(
            gateway.admit(token(), at(0)),
            Err(Throttled {
                throttle,
                retry_after: 10
            })
        );
        assert_eq!(
            gateway.admit(token(), at(109)),
            Err(Throttled {
                throttle,
                retry_after: 1
            })
        );
        // Both leave at 110 s.
        assert_eq!(gateway.admit(token(), at(110)), Ok(()));
        assert_eq!(gateway.admit(token(), at(110)), Ok(()));
    }

    #[test]
    fn the_kms_throttle_admits_20_in_any_second_and_says_retry_after_1() {
        let gateway = gateway(Lockout::default(), Some(Throttle::KMS));
        let token = || Caller::Token("t".into());
        let ms = |ms: u64| at(0) + Duration::from_millis(ms);
        for i in 0..20 {
            assert_eq!(gateway.admit(token(), ms(i * 10)), Ok(()), "request {i}");
        }
        assert_eq!(
            gateway.admit(token(), ms(999)),
            Err(Throttled {
                throttle: Throttle::KMS,
                retry_after: 1
            })
        );
        // At 1 s the first (at 0 ms) has left: one more, not twenty.
        assert_eq!(gateway.admit(token(), ms(1000)), Ok(()));
        assert!(gateway.admit(token(), ms(1000)).is_err());
        assert!(gateway.admit(token(), ms(1009)).is_err());
        assert_eq!(gateway.admit(token(), ms(1010)), Ok(()));
    }

    #[test]
    fn the_longest_throttle_window_does_not_panic() {
        let throttle = Throttle {
            limit: 0,
            per: Duration::MAX,
        };
        let gateway = gateway(Lockout::default(), Some(throttle));
        let refused = gateway.admit(Caller::Token("t".into()), at(0)).unwrap_err();
        assert_eq!(refused.retry_after, u64::MAX);
    }
}
