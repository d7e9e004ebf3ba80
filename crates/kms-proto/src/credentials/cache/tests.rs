#![allow(clippy::unwrap_used, clippy::panic)]

use std::time::{Duration, Instant, SystemTime};

use super::*;
use crate::credentials::{AkSk, SourceKind};

const T0: SystemTime = SystemTime::UNIX_EPOCH;
const HOUR: Duration = Duration::from_secs(3600);

/// A clock for the cache: wall and monotonic move together from `T0`.
struct Clock(Instant);

impl Clock {
    fn new() -> Self {
        Clock(Instant::now())
    }
    fn at(&self, after: Duration) -> Now {
        Now::new(T0 + after, self.0 + after, 0.0)
    }
    fn at_jitter(&self, after: Duration, jitter: f64) -> Now {
        Now::new(T0 + after, self.0 + after, jitter)
    }
}

fn identity(ak: &str, expires_at: Option<SystemTime>) -> Identity {
    let aksk = AkSk::new(ak, "sk")
        .unwrap()
        .with_security_token("st")
        .unwrap();
    Identity::new(aksk.into(), expires_at, SourceKind::Metadata)
}

fn failure() -> CredentialError {
    CredentialError::waited_too_long()
}

fn ak(step: &CacheStep) -> Option<String> {
    match step {
        CacheStep::Use { identity, .. } => match identity.credentials() {
            crate::Credentials::AkSk(a) => Some(a.access_key().to_owned()),
            crate::Credentials::Token(_) => None,
        },
        _ => None,
    }
}

/// A cache holding `identity`, obtained at `clock.at(obtained)`.
fn holding(clock: &Clock, obtained: Duration, identity: Identity) -> CredentialCache {
    let mut cache = CredentialCache::default();
    let CacheStep::Refresh(ticket) = cache.poll(clock.at(obtained)) else {
        panic!("an empty cache must ask for a refresh")
    };
    cache.on_refreshed(ticket, Ok(identity), clock.at(obtained));
    cache
}

#[test]
fn an_empty_cache_refreshes_once_and_the_others_wait() {
    let clock = Clock::new();
    let mut cache = CredentialCache::default();
    let CacheStep::Refresh(ticket) = cache.poll(clock.at(Duration::ZERO)) else {
        panic!("expected a refresh")
    };
    for _ in 0..1000 {
        assert!(matches!(
            cache.poll(clock.at(Duration::ZERO)),
            CacheStep::Wait
        ));
    }
    cache.on_refreshed(
        ticket,
        Ok(identity("AK1", Some(T0 + 6 * HOUR))),
        clock.at(Duration::ZERO),
    );
    let step = cache.poll(clock.at(Duration::from_secs(1)));
    assert_eq!(ak(&step).as_deref(), Some("AK1"));
    assert!(matches!(step, CacheStep::Use { refresh: None, .. }));
}

#[test]
fn refreshes_ahead_of_expiry_with_one_ticket_while_everyone_keeps_signing() {
    let clock = Clock::new();
    let mut cache = holding(&clock, Duration::ZERO, identity("OLD", Some(T0 + 6 * HOUR)));
    // 41 minutes left: not due yet.
    let early = clock.at(6 * HOUR - Duration::from_secs(41 * 60));
    assert!(matches!(
        cache.poll(early),
        CacheStep::Use { refresh: None, .. }
    ));
    // 39 minutes left: due. One caller gets the ticket; all keep the old credentials.
    let due = clock.at(6 * HOUR - Duration::from_secs(39 * 60));
    let mut tickets = Vec::new();
    for _ in 0..1000 {
        let step = cache.poll(due);
        assert_eq!(ak(&step).as_deref(), Some("OLD"));
        if let CacheStep::Use {
            refresh: Some(ticket),
            ..
        } = step
        {
            tickets.push(ticket);
        }
    }
    assert_eq!(tickets.len(), 1, "single flight");
    let ticket = tickets.pop().unwrap();
    cache.on_refreshed(ticket, Ok(identity("NEW", Some(T0 + 12 * HOUR))), due);
    assert_eq!(ak(&cache.poll(due)).as_deref(), Some("NEW"));
}

#[test]
fn the_margin_scales_down_for_short_lifetimes() {
    let policy = RefreshPolicy::default();
    for (name, lifetime, margin, buffer) in [
        (
            "six hours",
            6 * HOUR,
            Duration::from_secs(2400),
            Duration::from_secs(10),
        ),
        (
            "an hour",
            HOUR,
            Duration::from_secs(1800),
            Duration::from_secs(10),
        ),
        (
            "a minute",
            Duration::from_secs(60),
            Duration::from_secs(30),
            Duration::from_secs(6),
        ),
        (
            "two seconds",
            Duration::from_secs(2),
            Duration::from_secs(1),
            Duration::from_millis(200),
        ),
    ] {
        assert_eq!(policy.margin(lifetime), margin, "{name}");
        assert_eq!(policy.buffer(lifetime), buffer, "{name}");
    }
    let clock = Clock::new();
    let mut cache = holding(
        &clock,
        Duration::ZERO,
        identity("A", Some(T0 + Duration::from_secs(60))),
    );
    assert!(matches!(
        cache.poll(clock.at(Duration::from_secs(29))),
        CacheStep::Use { refresh: None, .. }
    ));
    assert!(matches!(
        cache.poll(clock.at(Duration::from_secs(31))),
        CacheStep::Use {
            refresh: Some(_),
            ..
        }
    ));
}

#[test]
fn credentials_too_close_to_expiry_are_not_used() {
    let clock = Clock::new();
    let mut cache = holding(&clock, Duration::ZERO, identity("A", Some(T0 + HOUR)));
    // 9 s left of an hour: inside the 10 s buffer, so nothing is usable: refresh and wait.
    let late = clock.at(HOUR - Duration::from_secs(9));
    assert!(matches!(cache.poll(late), CacheStep::Refresh(_)));
    assert!(matches!(cache.poll(late), CacheStep::Wait));
}

#[test]
fn a_failed_refresh_keeps_valid_credentials_in_use_and_backs_off() {
    let clock = Clock::new();
    let mut cache = holding(&clock, Duration::ZERO, identity("A", Some(T0 + HOUR)));
    let due = 40 * 60 * Duration::from_secs(1);
    let CacheStep::Use {
        refresh: Some(ticket),
        ..
    } = cache.poll(clock.at(due))
    else {
        panic!("due")
    };
    cache.on_refreshed(ticket, Err(failure()), clock.at_jitter(due, 1.0));
    // Backing off 1 s (jitter 1): still signing with A, no new ticket.
    for ms in [0, 500, 999] {
        let step = cache.poll(clock.at(due + Duration::from_millis(ms)));
        assert!(
            matches!(step, CacheStep::Use { refresh: None, .. }),
            "{ms} ms"
        );
    }
    // Then one caller tries again; the next failure waits 2 s.
    let again = due + Duration::from_millis(1000);
    let CacheStep::Use {
        refresh: Some(ticket),
        ..
    } = cache.poll(clock.at(again))
    else {
        panic!("retry after the backoff")
    };
    cache.on_refreshed(ticket, Err(failure()), clock.at_jitter(again, 1.0));
    assert!(matches!(
        cache.poll(clock.at(again + Duration::from_millis(1999))),
        CacheStep::Use { refresh: None, .. }
    ));
    assert!(matches!(
        cache.poll(clock.at(again + Duration::from_millis(2000))),
        CacheStep::Use {
            refresh: Some(_),
            ..
        }
    ));
}

#[test]
fn expired_credentials_and_a_failing_source_fail_with_both_said() {
    let clock = Clock::new();
    let mut cache = holding(&clock, Duration::ZERO, identity("A", Some(T0 + HOUR)));
    let after = HOUR + Duration::from_secs(5);
    let CacheStep::Refresh(ticket) = cache.poll(clock.at(after)) else {
        panic!("expired: refresh")
    };
    cache.on_refreshed(ticket, Err(failure()), clock.at(after));
    let CacheStep::Fail(error) = cache.poll(clock.at(after)) else {
        panic!("expired and the source failed")
    };
    assert_eq!(error.expired_at(), Some(T0 + HOUR));
    let text = error.to_string();
    assert!(
        text.starts_with("the credentials from ECS metadata expired at 1970-01-01T01:00:00Z and could not be refreshed: "),
        "{text}"
    );
    // After the (at most 5 s) backoff the next caller refreshes again.
    assert!(matches!(
        cache.poll(clock.at(after + Duration::from_secs(5))),
        CacheStep::Refresh(_)
    ));
}

#[test]
fn a_refresh_that_never_reports_is_taken_for_lost() {
    let clock = Clock::new();
    let mut cache = CredentialCache::default();
    let CacheStep::Refresh(lost) = cache.poll(clock.at(Duration::ZERO)) else {
        panic!()
    };
    assert!(matches!(
        cache.poll(clock.at(Duration::from_secs(59))),
        CacheStep::Wait
    ));
    let CacheStep::Refresh(ticket) = cache.poll(clock.at(Duration::from_secs(60))) else {
        panic!("a silent refresh is replaced after 60 s")
    };
    // The lost one reporting late changes nothing; the new one counts.
    cache.on_refreshed(
        lost,
        Ok(identity("LATE", None)),
        clock.at(Duration::from_secs(61)),
    );
    assert!(matches!(
        cache.poll(clock.at(Duration::from_secs(61))),
        CacheStep::Wait
    ));
    cache.on_refreshed(
        ticket,
        Ok(identity("B", None)),
        clock.at(Duration::from_secs(61)),
    );
    assert_eq!(
        ak(&cache.poll(clock.at(Duration::from_secs(62)))).as_deref(),
        Some("B")
    );
}

#[test]
fn credentials_without_expiry_are_never_refreshed() {
    let clock = Clock::new();
    let mut cache = holding(&clock, Duration::ZERO, identity("A", None));
    for years in [0, 1, 100] {
        let step = cache.poll(clock.at(HOUR * 24 * 365 * years));
        assert!(
            matches!(step, CacheStep::Use { refresh: None, .. }),
            "{years}"
        );
    }
}

proptest::proptest! {
    /// Whatever the times, at most one ticket is out, and a usable credential is never
    /// withheld.
    #[test]
    fn at_most_one_ticket(polls in proptest::collection::vec((0u64..8000, proptest::bool::ANY), 1..200)) {
        let clock = Clock::new();
        let mut cache = holding(&clock, Duration::ZERO, identity("A", Some(T0 + HOUR)));
        // The ticket out and when it was handed out.
        let mut out: Option<(RefreshTicket, u64)> = None;
        let mut t = 0;
        for (step, report) in polls {
            t += step;
            let now = clock.at(Duration::from_secs(t));
            if report && let Some((ticket, _)) = out.take() {
                cache.on_refreshed(ticket, Err(failure()), now);
            }
            let usable = t + 10 < 3600;
            match cache.poll(now) {
                CacheStep::Use { refresh, .. } => {
                    proptest::prop_assert!(usable);
                    if let Some(ticket) = refresh {
                        // Only a ticket silent for 60 s may be replaced.
                        proptest::prop_assert!(out.as_ref().is_none_or(|(_, at)| t >= at + 60), "two tickets out");
                        out = Some((ticket, t));
                    }
                }
                CacheStep::Refresh(ticket) => {
                    proptest::prop_assert!(!usable);
                    proptest::prop_assert!(out.as_ref().is_none_or(|(_, at)| t >= at + 60), "two tickets out");
                    out = Some((ticket, t));
                }
                CacheStep::Wait | CacheStep::Fail(_) => proptest::prop_assert!(!usable),
            }
        }
    }
}
