//! When to refresh credentials: [`CredentialCache`], a state machine on injected time.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use super::identity::rfc3339;
use super::{CredentialError, Identity};
use crate::backoff::Failed;
use crate::span::{millis_between, moved_by};
use crate::transport::Now;

/// The timings of [`CredentialCache`]. See the [`CredentialCache`] docs for the rules.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RefreshPolicy {
    max_margin: Duration,
    max_buffer: Duration,
    retry_base: Duration,
    retry_cap_usable: Duration,
    retry_cap_unusable: Duration,
    stale_after: Duration,
    max_lifetime: Duration,
    min_lifetime: Duration,
    max_service_clock_offset: Duration,
}

/// The least time credentials must have left when they arrive to be used: 1 s. Fewer
/// cannot carry a call, and would be refreshed again and again.
pub const MIN_CREDENTIAL_LIFETIME: Duration = Duration::from_secs(1);

/// The longest credentials from a source are trusted, from when they arrive: 24 hours, the
/// longest any Huawei Cloud service issues temporary credentials or tokens for (IAM tokens
/// and STS/IAM security tokens last at most a day).
pub const MAX_CREDENTIAL_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// How far a credential service's `Date` must be from this machine's clock to be read
/// instead of it: a minute (see [`Arrival`]).
const MIN_SERVICE_CLOCK_OFFSET: Duration = Duration::from_secs(60);

/// How far the clock of a credential service may be from this machine's before its `Date`
/// is no longer believed: one day, the same bound as the KMS gateway's clock
/// ([`ClientConfig::with_max_clock_skew`](crate::ClientConfig::with_max_clock_skew)).
pub const MAX_SERVICE_CLOCK_OFFSET: Duration = Duration::from_secs(24 * 3600);

impl Default for RefreshPolicy {
    /// Refresh 40 minutes ahead (at most half the lifetime), stop using credentials 10 s
    /// before expiry (at most a tenth of the lifetime), retry failed refreshes from 1 s up
    /// to 60 s apart (5 s when nothing is usable; never sooner than a source's
    /// `Retry-After`, honoured up to 60 s), forget a refresh silent for 60 s, trust
    /// credentials for at most [`MAX_CREDENTIAL_LIFETIME`] (24 h) from their arrival, refuse
    /// those with less than [`MIN_CREDENTIAL_LIFETIME`] (1 s) left when they arrive, and
    /// believe a credential service's `Date` within [`MAX_SERVICE_CLOCK_OFFSET`] (a day).
    fn default() -> Self {
        RefreshPolicy {
            max_margin: Duration::from_secs(40 * 60),
            max_buffer: Duration::from_secs(10),
            retry_base: Duration::from_secs(1),
            retry_cap_usable: Duration::from_secs(60),
            retry_cap_unusable: Duration::from_secs(5),
            stale_after: Duration::from_secs(60),
            max_lifetime: MAX_CREDENTIAL_LIFETIME,
            min_lifetime: MIN_CREDENTIAL_LIFETIME,
            max_service_clock_offset: MAX_SERVICE_CLOCK_OFFSET,
        }
    }
}

impl RefreshPolicy {
    /// Sets how far ahead of expiry credentials are refreshed, at most (default 40
    /// minutes; half the lifetime when that is less).
    pub fn with_max_margin(mut self, margin: Duration) -> Self {
        self.max_margin = margin;
        self
    }

    /// Sets how long a refresh may stay silent before another caller may start one
    /// (default 60 s: longer than every source's timeouts together).
    pub fn with_stale_after(mut self, after: Duration) -> Self {
        self.stale_after = after;
        self
    }

    /// Sets the longest credentials are trusted from their arrival, whatever expiry their
    /// source gives (default [`MAX_CREDENTIAL_LIFETIME`], 24 h).
    pub fn with_max_lifetime(mut self, lifetime: Duration) -> Self {
        self.max_lifetime = lifetime;
        self
    }

    /// Sets the least time credentials must have left when they arrive (default
    /// [`MIN_CREDENTIAL_LIFETIME`], 1 s); fewer is a failed refresh.
    pub fn with_min_lifetime(mut self, lifetime: Duration) -> Self {
        self.min_lifetime = lifetime;
        self
    }

    /// Sets how far a credential service's `Date` may be from this machine's clock and
    /// still be believed (default [`MAX_SERVICE_CLOCK_OFFSET`], a day; zero: never).
    pub fn with_max_service_clock_offset(mut self, offset: Duration) -> Self {
        self.max_service_clock_offset = offset;
        self
    }

    /// How long a refresh may stay silent before it is taken for lost.
    pub fn stale_after(&self) -> Duration {
        self.stale_after
    }

    /// How far ahead of expiry credentials of this lifetime are refreshed.
    pub fn margin(&self, lifetime: Duration) -> Duration {
        self.max_margin.min(lifetime / 2)
    }

    /// How long before expiry credentials of this lifetime stop being used.
    pub fn buffer(&self, lifetime: Duration) -> Duration {
        self.max_buffer.min(lifetime / 10)
    }

    fn retry_delay(&self, consecutive: u32, jitter: f64, usable: bool) -> Duration {
        let cap = if usable {
            self.retry_cap_usable
        } else {
            self.retry_cap_unusable
        };
        crate::backoff::delay(self.retry_base, cap, consecutive, jitter)
    }
}

/// What a caller does with its credentials now.
///
/// Not `#[non_exhaustive]`, on purpose: a transport matches every variant.
#[derive(Debug)]
pub enum CacheStep {
    /// Sign with these. With a ticket, the caller also starts a refresh in the background
    /// (without waiting for it) and reports it with [`CredentialCache::on_refreshed`].
    Use {
        /// The credentials to sign with.
        identity: Arc<Identity>,
        /// Set when they are due for refresh and this caller was picked to start it.
        refresh: Option<RefreshTicket>,
    },
    /// Nothing usable is cached: refresh with this ticket, report, and poll again.
    Refresh(RefreshTicket),
    /// Another caller's refresh is running and nothing usable is cached: wait until it
    /// reports (a transport wakes its waiters after `on_refreshed`), then poll again.
    Wait,
    /// Nothing usable is cached and the last refresh failed a moment ago: fail with this,
    /// its error marked remembered ([`CredentialError::remembered`]: how many failed in a
    /// row, when the source is asked again). A caller that waited for that refresh (it
    /// polled [`Refresh`](Self::Refresh) or [`Wait`](Self::Wait) before) was asked for:
    /// the client machine tells it the failure without the mark.
    Fail(CredentialError),
}

/// The right, and the duty, to refresh: only one exists at a time. Hand it back with
/// [`CredentialCache::on_refreshed`].
#[derive(Debug)]
#[must_use = "a refresh ticket must be reported with CredentialCache::on_refreshed"]
pub struct RefreshTicket {
    generation: u64,
}

#[derive(Debug)]
struct Cached {
    identity: Arc<Identity>,
    obtained_at: SystemTime,
    /// The expiry on this machine's clock (see [`Arrival`]); `None`: never.
    expires_at: Option<SystemTime>,
}

impl Cached {
    /// `(due, usable)` at `now`.
    fn state(&self, policy: &RefreshPolicy, now: SystemTime) -> (bool, bool) {
        let Some(expires_at) = self.expires_at else {
            return (false, true);
        };
        let lifetime = expires_at
            .duration_since(self.obtained_at)
            .unwrap_or_default();
        let left = expires_at.duration_since(now).unwrap_or_default();
        (
            left <= policy.margin(lifetime),
            left > policy.buffer(lifetime),
        )
    }
}

/// The refresh decision, as a state machine on injected time: given the cached credentials,
/// their expiry and the last refresh failure, use these, refresh now (and who: one caller
/// only), wait for that refresh, or fail.
///
/// A transport keeps one [`CredentialCache`] behind a lock for all its calls, and before
/// each attempt asks [`poll`](CredentialCache::poll):
///
/// | the cache holds | a refresh is | answer |
/// |---|---|---|
/// | usable credentials, not due | - | [`CacheStep::Use`] |
/// | usable credentials, due for refresh | not running, not backing off | `Use` with a [`RefreshTicket`]: refresh in the background |
/// | usable credentials, due | running, or backing off after a failure | `Use` |
/// | nothing usable | not running | [`CacheStep::Refresh`]: refresh, then poll again |
/// | nothing usable | running | [`CacheStep::Wait`] until it reports, then poll again |
/// | nothing usable | failed, backing off | [`CacheStep::Fail`] with that failure |
///
/// So a caller never waits while usable credentials exist, and however many callers poll
/// at once, one refresh runs. The one holding the ticket reports with
/// [`on_refreshed`](CredentialCache::on_refreshed); a ticket that never reports (its task
/// was cancelled) is forgotten after [`RefreshPolicy::stale_after`], and the next poll hands
/// out a new one.
///
/// # When credentials are due, and when they are no longer usable
/// With `lifetime` = expiry − the time they were obtained:
/// * due for refresh when fewer than `min(40 min, lifetime / 2)` remain. The official SDKs
///   refresh at 40 minutes; credentials that live shorter than that would otherwise be
///   refreshed on every call, so the margin scales down to half their lifetime;
/// * no longer used when fewer than `min(10 s, lifetime / 10)` remain, so that a request
///   signed with them still reaches the service before they expire.
///
/// A failed refresh is retried after 1 s, 2 s, 4 s... (times 0.5 to 1, by the jitter of the
/// [`Now`] it was reported at), at most 60 s apart while the cached credentials are still
/// usable and at most 5 s apart when they are not; and never sooner than the failed
/// source's `Retry-After` asked ([`SourceError::retry_after`](super::SourceError::retry_after)),
/// honoured up to 60 s.
#[derive(Debug, Default)]
pub struct CredentialCache {
    policy: RefreshPolicy,
    cached: Option<Cached>,
    /// The ticket out, and since when (monotonic).
    refreshing: Option<(u64, Instant)>,
    generation: u64,
    failed: Option<Failed<CredentialError>>,
}

impl CredentialCache {
    /// An empty cache with `policy`.
    pub fn new(policy: RefreshPolicy) -> Self {
        CredentialCache {
            policy,
            ..CredentialCache::default()
        }
    }

    /// The credentials cached, if any (usable or not).
    pub fn current(&self) -> Option<&Arc<Identity>> {
        self.cached.as_ref().map(|c| &c.identity)
    }

    /// What the caller does now. See the [`CredentialCache`] docs.
    pub fn poll(&mut self, now: Now) -> CacheStep {
        let refreshing = self.refreshing.is_some_and(|(_, since)| {
            // An instant so far ahead that the sum overflows is never stale.
            since
                .checked_add(self.policy.stale_after)
                .is_none_or(|stale| now.monotonic() < stale)
        });
        let state = self
            .cached
            .as_ref()
            .map(|c| c.state(&self.policy, now.wall()));
        // How long is left of backing off after the last failure, if any.
        let backing_off = |usable: bool| {
            self.failed.as_ref().and_then(|f| {
                let delay = self.policy.retry_delay(f.consecutive, f.jitter, usable);
                f.left(f.at_least_asked(delay), now.monotonic())
            })
        };
        match (state, &self.cached) {
            (Some((due, true)), Some(cached)) => {
                let identity = cached.identity.clone();
                let refresh =
                    (due && !refreshing && backing_off(true).is_none()).then(|| self.ticket(now));
                CacheStep::Use { identity, refresh }
            }
            _ if refreshing => CacheStep::Wait,
            _ => match (backing_off(false), &self.failed, &self.cached) {
                (Some(left), Some(failed), Some(cached)) => {
                    let expired_at = cached.identity.expires_at().unwrap_or(now.wall());
                    let error = CredentialError::expired(
                        expired_at,
                        cached.identity.source(),
                        failed.error.clone(),
                    );
                    CacheStep::Fail(error.with_remembered(failed.remembered(left)))
                }
                (Some(left), Some(failed), None) => CacheStep::Fail(
                    failed
                        .error
                        .clone()
                        .with_remembered(failed.remembered(left)),
                ),
                _ => CacheStep::Refresh(self.ticket(now)),
            },
        }
    }

    fn ticket(&mut self, now: Now) -> RefreshTicket {
        self.generation += 1;
        self.refreshing = Some((self.generation, now.monotonic()));
        RefreshTicket {
            generation: self.generation,
        }
    }

    /// The refresh of `ticket` ended with `result` at `now`. A ticket taken for lost
    /// (another was handed out since) changes nothing; the answer says whether the ticket
    /// was still the one out (what its refresh learnt may then be kept).
    pub fn on_refreshed(
        &mut self,
        ticket: RefreshTicket,
        result: Result<Identity, CredentialError>,
        now: Now,
    ) -> bool {
        if self.refreshing.map(|(generation, _)| generation) != Some(ticket.generation) {
            return false;
        }
        self.refreshing = None;
        match result.and_then(|identity| {
            let arrival = Arrival::judge(&identity, &self.policy, now.wall())?;
            Ok((identity, arrival))
        }) {
            Ok((identity, arrival)) => {
                arrival.log(&identity);
                self.failed = None;
                self.cached = Some(Cached {
                    identity: Arc::new(identity),
                    obtained_at: now.wall(),
                    expires_at: arrival.expires_at,
                });
            }
            // Credentials that arrive expired are a failed refresh like any other, with
            // the same backoff, and are not kept.
            Err(error) => {
                // A 429 or 503 may say when to ask again: not before (up to a minute).
                let asked = error.asked_to_wait(now.wall());
                let failed = Failed::after(
                    self.failed.as_ref(),
                    error,
                    now.monotonic(),
                    now.jitter(),
                    asked,
                );
                tracing::warn!(
                    consecutive = failed.consecutive,
                    error = %failed.error,
                    "refreshing credentials failed"
                );
                self.failed = Some(failed);
            }
        }
        true
    }
}

/// Credentials as they arrive, judged: when they expire on this machine's clock.
///
/// * When the answer that carried them had a `Date` a minute or more, and at most
///   [`MAX_SERVICE_CLOCK_OFFSET`], from this machine's clock, their expiry is read on the
///   service's clock: a machine whose clock is 20 minutes fast still uses credentials of
///   15 minutes for 15 minutes. A `Date` further off is not believed (a hostile or broken
///   service could otherwise make credentials last forever), and the local clock decides.
/// * They are trusted for at most the policy's lifetime (24 h) from their arrival.
/// * Credentials with less than the policy's least lifetime (1 s) left are refused: using
///   them would fail, and asking again at once would ask forever.
#[derive(Debug, Clone, Copy)]
struct Arrival {
    /// On this machine's clock; `None`: never.
    expires_at: Option<SystemTime>,
    /// How far the service's clock is ahead of this machine's, in seconds, when believed.
    offset_s: Option<i64>,
    /// Whether the lifetime was cut to the policy's.
    capped: bool,
}

impl Arrival {
    fn judge(
        identity: &Identity,
        policy: &RefreshPolicy,
        now: SystemTime,
    ) -> Result<Self, CredentialError> {
        let Some(expires_at) = identity.expires_at() else {
            return Ok(Arrival {
                expires_at: None,
                offset_s: None,
                capped: false,
            });
        };
        // How far the service's clock is ahead of this machine's, in milliseconds.
        let service_offset = identity
            .service_date()
            .and_then(|date| millis_between(date, now));
        let max_ms = policy.max_service_clock_offset.as_millis();
        let too_far = |ms: i64| u128::from(ms.unsigned_abs()) > max_ms;
        // A `Date` is to the second and was stamped before the answer travelled: an offset
        // under a minute is that noise (reading it would make credentials seem to last up to
        // a second longer than they do), and the buffer before expiry absorbs a real one.
        let believed = service_offset
            .filter(|&ms| u128::from(ms.unsigned_abs()) >= MIN_SERVICE_CLOCK_OFFSET.as_millis())
            .filter(|&ms| !too_far(ms));
        // On this machine's clock: moved back by how far the service's clock is ahead.
        let local = believed.map_or(expires_at, |ms| moved_by(expires_at, -ms));
        let cap = now.checked_add(policy.max_lifetime);
        let (local, capped) = match cap {
            Some(cap) if local > cap => (cap, true),
            Some(_) | None => (local, false),
        };
        let left = local.duration_since(now).unwrap_or_default();
        // Expired is refused even with a least lifetime of zero.
        if left.is_zero() || left < policy.min_lifetime {
            return Err(CredentialError::expired_on_arrival(
                identity.source(),
                expires_at,
                now,
                identity.service_date(),
                service_offset.is_some_and(too_far),
            ));
        }
        Ok(Arrival {
            expires_at: Some(local),
            offset_s: believed.map(|ms| ms / 1000),
            capped,
        })
    }

    fn log(&self, identity: &Identity) {
        tracing::info!(
            source = identity.source().as_str(),
            expires_at = identity.expires_at().map(rfc3339),
            "credentials obtained"
        );
        if let Some(offset_s) = self.offset_s {
            tracing::warn!(
                source = identity.source().as_str(),
                service_clock_offset_s = offset_s,
                "this machine's clock is {} s {} the credential service's: their expiry is read on the service's clock",
                offset_s.unsigned_abs(),
                if offset_s > 0 { "behind" } else { "ahead of" }
            );
        }
        if self.capped {
            tracing::warn!(
                source = identity.source().as_str(),
                expires_at = identity.expires_at().map(rfc3339),
                trusted_until = self.expires_at.map(rfc3339),
                "the credentials claim to last longer than any Huawei Cloud credentials do: they are refreshed as if they expired at trusted_until"
            );
        }
    }
}

#[cfg(test)]
mod tests;
