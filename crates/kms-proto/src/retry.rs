//! The retry policy, as a pure function of what happened, a jitter value and the time.

use std::time::{Duration, SystemTime};

use crate::response::ResponseError;

/// What happened on an attempt that did not give a count.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Outcome<'a> {
    /// The service answered, with this error.
    Response(&'a ResponseError),
    /// No usable answer arrived: connect failure, TLS failure, timeout, I/O error, a proxy
    /// refusing its credentials.
    Transport {
        /// `false` when the failure happened before any byte of the request could have
        /// left (a refused connection, a DNS or TLS failure); `true` otherwise.
        request_may_have_been_sent: bool,
        /// Whether trying again could mend it
        /// ([`TransportErrorKind::is_retryable`](crate::call::TransportErrorKind::is_retryable)):
        /// `false` for a proxy that refused its credentials.
        retryable: bool,
    },
}

/// The policy's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Decision {
    /// Send the request again (re-built and re-signed) after this delay.
    Retry(Duration),
    /// Give up and report the last error.
    Stop(StopReason),
}

/// Why the policy said stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StopReason {
    /// The error is not worth retrying (401, 403, other 4xx, a malformed body...).
    NotRetryable,
    /// The attempt was the last one the policy allows.
    AttemptsExhausted,
    /// The server asked to wait longer than the policy's largest delay.
    RetryAfterTooLong(Duration),
    /// The request may have been sent and the policy does not resend such requests.
    MayHaveBeenSent,
}

/// Exponential backoff with jitter, a cap, and a maximum number of attempts.
///
/// Defaults, in line with the service's advice (retry 429 and 5xx three to five times with
/// backoff, throttling after a few seconds, never 401):
///
/// | setting | default |
/// |---|---|
/// | [`max_attempts`](Self::with_max_attempts) | 4 (the first try and 3 retries) |
/// | [`initial_backoff`](Self::with_backoff) | 500 ms, doubled each retry |
/// | [`max_backoff`](Self::with_backoff) | 10 s; no delay is ever longer |
/// | [`throttle_backoff`](Self::with_throttle_backoff) | 2 s at least after a throttling answer |
/// | [`retry_when_maybe_sent`](Self::with_retry_when_maybe_sent) | `true`: this call is an idempotent GET |
///
/// The delay before retry `n` (n = 1 after the first attempt) is drawn from
/// `[b/2, b]` with `b = min(max_backoff, initial_backoff * 2^(n-1))` ("equal jitter"),
/// raised to the throttling floor after a throttling answer and to the server's
/// `Retry-After`. A `Retry-After` longer than `max_backoff` stops the retries instead of
/// being cut short: retrying earlier than the server asked is futile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    max_attempts: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    throttle_backoff: Duration,
    retry_when_maybe_sent: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(10),
            throttle_backoff: Duration::from_secs(2),
            retry_when_maybe_sent: true,
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries (`max_attempts` = 1).
    pub fn never() -> Self {
        RetryPolicy::default().with_max_attempts(1)
    }

    /// Sets the total number of attempts, the first included. 0 is taken as 1.
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Sets the first backoff and the cap on every delay. A cap below `initial` is raised
    /// to it.
    pub fn with_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max.max(initial);
        self
    }

    /// Sets the least delay after a throttling answer (still capped by `max_backoff`).
    pub fn with_throttle_backoff(mut self, delay: Duration) -> Self {
        self.throttle_backoff = delay;
        self
    }

    /// Whether to resend after a failure that happened once the request may have been sent.
    pub fn with_retry_when_maybe_sent(mut self, retry: bool) -> Self {
        self.retry_when_maybe_sent = retry;
        self
    }

    /// The total number of attempts allowed, the first included.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The cap on every delay.
    pub fn max_backoff(&self) -> Duration {
        self.max_backoff
    }

    /// Decides what to do after attempt number `attempt` (1 for the first) ended in
    /// `outcome`.
    ///
    /// `jitter` is a random value in `[0, 1]` from the caller (values outside are clamped;
    /// NaN counts as 1, the longest delay); `now` is only used to turn a `Retry-After` date
    /// into a delay.
    pub fn decide(
        &self,
        attempt: u32,
        outcome: Outcome<'_>,
        jitter: f64,
        now: SystemTime,
    ) -> Decision {
        let (floor, retry_after) = match outcome {
            Outcome::Response(err) => {
                if !err.is_retryable() {
                    return Decision::Stop(StopReason::NotRetryable);
                }
                let floor = if err.is_throttled() {
                    self.throttle_backoff
                } else {
                    Duration::ZERO
                };
                (floor, err.retry_after().map(|ra| ra.delay_from(now)))
            }
            Outcome::Transport {
                request_may_have_been_sent,
                retryable,
            } => {
                if !retryable {
                    return Decision::Stop(StopReason::NotRetryable);
                }
                if request_may_have_been_sent && !self.retry_when_maybe_sent {
                    return Decision::Stop(StopReason::MayHaveBeenSent);
                }
                (Duration::ZERO, None)
            }
        };
        if attempt >= self.max_attempts {
            return Decision::Stop(StopReason::AttemptsExhausted);
        }
        if let Some(wait) = retry_after.filter(|&w| w > self.max_backoff) {
            return Decision::Stop(StopReason::RetryAfterTooLong(wait));
        }
        let jitter = if jitter.is_nan() {
            1.0
        } else {
            jitter.clamp(0.0, 1.0)
        };
        let backoff = self.backoff(attempt);
        let jittered = backoff / 2 + (backoff / 2).mul_f64(jitter);
        let delay = jittered
            .max(floor)
            .max(retry_after.unwrap_or_default())
            .min(self.max_backoff);
        Decision::Retry(delay)
    }

    /// `min(max_backoff, initial_backoff * 2^(attempt-1))`, without overflow.
    fn backoff(&self, attempt: u32) -> Duration {
        // 2^31 times any useful initial backoff is far past any cap.
        let doublings = attempt.saturating_sub(1).min(31);
        self.initial_backoff
            .checked_mul(1u32 << doublings)
            .unwrap_or(self.max_backoff)
            .min(self.max_backoff)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;
    use http::{HeaderMap, StatusCode};

    fn error(status: u16, body: &str, headers: &[(&str, &str)]) -> ResponseError {
        let mut map = HeaderMap::new();
        for (n, v) in headers {
            map.append(
                http::HeaderName::from_bytes(n.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        parse(StatusCode::from_u16(status).unwrap(), &map, body.as_bytes()).unwrap_err()
    }

    const NOW: SystemTime = SystemTime::UNIX_EPOCH;

    #[test]
    fn never_retries_auth_and_client_errors() {
        let policy = RetryPolicy::default();
        for status in [400, 401, 403, 404, 409, 301] {
            let err = error(status, "", &[]);
            assert_eq!(
                policy.decide(1, Outcome::Response(&err), 0.5, NOW),
                Decision::Stop(StopReason::NotRetryable),
                "{status}"
            );
        }
    }

    #[test]
    fn retries_5xx_with_growing_capped_delays_then_stops() {
        let policy = RetryPolicy::default();
        let err = error(503, "", &[]);
        let delays: Vec<_> = (1..=3)
            .map(|n| policy.decide(n, Outcome::Response(&err), 1.0, NOW))
            .collect();
        assert_eq!(
            delays,
            [500, 1000, 2000].map(|ms| Decision::Retry(Duration::from_millis(ms)))
        );
        assert_eq!(
            policy.decide(1, Outcome::Response(&err), 0.0, NOW),
            Decision::Retry(Duration::from_millis(250))
        );
        assert_eq!(
            policy.decide(4, Outcome::Response(&err), 0.5, NOW),
            Decision::Stop(StopReason::AttemptsExhausted)
        );
        let long = RetryPolicy::default().with_max_attempts(100);
        assert_eq!(
            long.decide(40, Outcome::Response(&err), 1.0, NOW),
            Decision::Retry(Duration::from_secs(10))
        );
    }

    #[test]
    fn throttling_waits_at_least_the_floor_and_honours_retry_after() {
        let policy = RetryPolicy::default();
        let throttled = error(400, r#"{"error_code":"APIG.0308","error_msg":"x"}"#, &[]);
        assert_eq!(
            policy.decide(1, Outcome::Response(&throttled), 0.0, NOW),
            Decision::Retry(Duration::from_secs(2))
        );
        let with_after = error(429, "", &[("Retry-After", "7")]);
        assert_eq!(
            policy.decide(1, Outcome::Response(&with_after), 0.0, NOW),
            Decision::Retry(Duration::from_secs(7))
        );
        let too_long = error(429, "", &[("Retry-After", "60")]);
        assert_eq!(
            policy.decide(1, Outcome::Response(&too_long), 0.0, NOW),
            Decision::Stop(StopReason::RetryAfterTooLong(Duration::from_secs(60)))
        );
        let dated = error(503, "", &[("Retry-After", "Thu, 01 Jan 1970 00:00:05 GMT")]);
        assert_eq!(
            policy.decide(1, Outcome::Response(&dated), 0.0, NOW),
            Decision::Retry(Duration::from_secs(5))
        );
    }

    #[test]
    fn transport_failures() {
        let policy = RetryPolicy::default();
        let sent = Outcome::Transport {
            request_may_have_been_sent: true,
            retryable: true,
        };
        assert!(matches!(
            policy.decide(1, sent, 0.5, NOW),
            Decision::Retry(_)
        ));
        assert_eq!(
            policy
                .with_retry_when_maybe_sent(false)
                .decide(1, sent, 0.5, NOW),
            Decision::Stop(StopReason::MayHaveBeenSent)
        );
        let not_sent = Outcome::Transport {
            request_may_have_been_sent: false,
            retryable: true,
        };
        assert_eq!(
            RetryPolicy::never().decide(1, not_sent, 0.5, NOW),
            Decision::Stop(StopReason::AttemptsExhausted)
        );
        // A proxy refusing its credentials: never, whatever attempts are left.
        let refused = Outcome::Transport {
            request_may_have_been_sent: false,
            retryable: false,
        };
        assert_eq!(
            policy.decide(1, refused, 0.5, NOW),
            Decision::Stop(StopReason::NotRetryable)
        );
    }
}
