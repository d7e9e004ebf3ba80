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

/// A source that answers every refresh with `answer(now)`, polled by a transport that asks
/// again whenever the cache says so, as fast as it can, for `for_secs` of simulated time
/// (a poll every 10 ms). Returns how many refreshes it made and the last step.
fn hammer(
    answer: impl Fn(SystemTime) -> Result<Identity, CredentialError>,
    start: Duration,
    for_secs: u64,
) -> (usize, CacheStep) {
    let clock = Clock::new();
    let mut cache = CredentialCache::default();
    let mut refreshes = 0;
    let mut last = CacheStep::Wait;
    for tick in 0..for_secs * 100 {
        let now = clock.at(start + Duration::from_millis(tick * 10));
        // A caller asks until it has an answer for this poll: as kms-ureq does.
        for _ in 0..1000 {
            match cache.poll(now) {
                CacheStep::Refresh(ticket) => {
                    refreshes += 1;
                    cache.on_refreshed(ticket, answer(now.wall()), now);
                }
                step => {
                    last = step;
                    break;
                }
            }
        }
    }
    (refreshes, last)
}

#[test]
fn credentials_that_arrive_expired_are_a_failed_refresh_and_back_off() {
    for (name, expires_in_the_past_by) in [
        ("expired an hour ago", 3600),
        ("expiring now", 0),
        ("with half a second left, under the least 1 s", 0),
    ] {
        let (refreshes, last) = hammer(
            |now| {
                let expires = now - Duration::from_secs(expires_in_the_past_by);
                let expires = if name.contains("second left") {
                    now + Duration::from_millis(500)
                } else {
                    expires
                };
                Ok(identity("AK1", Some(expires)))
            },
            Duration::ZERO,
            40,
        );
        // Backoff 1, 2, 4, 5, 5... s (times 0.5 to 1): one a call, a few a minute, never
        // a loop.
        assert!(
            (1..=20).contains(&refreshes),
            "{name}: {refreshes} refreshes in 40 s"
        );
        let CacheStep::Fail(error) = last else {
            panic!("{name}: expected a failure, got {last:?}")
        };
        assert!(error.is_expired_on_arrival(), "{name}: {error}");
        assert!(!error.is_retryable(), "{name}");
        let text = error.to_string();
        for expected in [
            "ECS metadata",
            "expire at 19",
            "this machine's time: 1970-01-01T00:00",
            "clock may be wrong",
        ] {
            assert!(
                text.contains(expected),
                "{name}: {expected:?} not in {text}"
            );
        }
    }
}

#[test]
fn expired_on_arrival_does_not_replace_usable_credentials() {
    let clock = Clock::new();
    let mut cache = holding(&clock, Duration::ZERO, identity("AK1", Some(T0 + HOUR)));
    // Due at 30 min (half the lifetime): the background refresh brings expired ones.
    let CacheStep::Use {
        refresh: Some(ticket),
        ..
    } = cache.poll(clock.at(HOUR / 2))
    else {
        panic!("expected a refresh ticket")
    };
    let at = clock.at(HOUR / 2);
    cache.on_refreshed(ticket, Ok(identity("AK2", Some(at.wall()))), at);
    let step = cache.poll(clock.at(HOUR / 2 + Duration::from_millis(1)));
    assert_eq!(ak(&step).as_deref(), Some("AK1"));
    // ...and the next background refresh waits for the backoff (at least half a second).
    assert!(
        matches!(step, CacheStep::Use { refresh: None, .. }),
        "{step:?}"
    );
}

/// The issuing service's `Date` of `now` moved by `offset_s` seconds.
fn issued(
    expires_after_s: u64,
    service_offset_s: i64,
) -> impl Fn(SystemTime) -> Result<Identity, CredentialError> {
    move |now: SystemTime| {
        let service_now = if service_offset_s >= 0 {
            now + Duration::from_secs(service_offset_s.unsigned_abs())
        } else {
            now - Duration::from_secs(service_offset_s.unsigned_abs())
        };
        Ok(identity(
            "AK1",
            Some(service_now + Duration::from_secs(expires_after_s)),
        )
        .with_service_date(service_now))
    }
}

#[test]
fn expiry_is_read_on_the_services_clock_within_a_day() {
    let clock = Clock::new();
    let start = Duration::from_secs(10 * 86_400);
    for (name, service_offset_s) in [
        ("this machine 20 minutes fast", -1200),
        ("this machine 20 minutes slow", 1200),
        ("this machine 23 hours fast", -23 * 3600),
        ("the same clock", 0),
    ] {
        let mut cache = CredentialCache::default();
        let CacheStep::Refresh(ticket) = cache.poll(clock.at(start)) else {
            panic!("{name}: expected a refresh")
        };
        // STS credentials of 900 s.
        cache.on_refreshed(
            ticket,
            issued(900, service_offset_s)(clock.at(start).wall()),
            clock.at(start),
        );
        let mut usable_until = |secs| {
            matches!(
                cache.poll(clock.at(start + Duration::from_secs(secs))),
                CacheStep::Use { .. }
            )
        };
        assert!(usable_until(0), "{name}");
        assert!(
            usable_until(880),
            "{name}: 900 s credentials last 890 s here"
        );
        assert!(!usable_until(895), "{name}: not within the 10 s buffer");
    }
}

#[test]
fn a_service_date_more_than_a_day_off_is_not_believed() {
    let clock = Clock::new();
    let start = Duration::from_secs(200 * 365 * 86_400);
    // A service whose Date is 100 years back, with credentials of 900 s by that clock: on
    // this machine's clock they expired long ago, and the error says the clocks disagree.
    let (refreshes, last) = hammer(issued(900, -100 * 365 * 86_400), start, 20);
    let _ = clock;
    assert!(refreshes <= 10, "{refreshes}");
    let CacheStep::Fail(error) = last else {
        panic!("expected a failure, got {last:?}")
    };
    let text = error.to_string();
    assert!(text.contains("100 years off this machine's"), "{text}");
    assert!(text.contains("check it (NTP)"), "{text}");
    // A Date 100 years ahead would make 900 s credentials last a century: the cap holds.
    let mut cache = CredentialCache::default();
    let now = Clock::new().at(start);
    let CacheStep::Refresh(ticket) = cache.poll(now) else {
        panic!()
    };
    cache.on_refreshed(ticket, issued(900, 100 * 365 * 86_400)(now.wall()), now);
    assert!(matches!(
        cache.poll(now),
        CacheStep::Use { refresh: None, .. }
    ));
}

#[test]
fn credentials_that_claim_to_last_for_ever_are_trusted_for_a_day() {
    let clock = Clock::new();
    let year_9999 = T0 + Duration::from_secs(253_402_300_799);
    let mut cache = holding(&clock, Duration::ZERO, identity("AK1", Some(year_9999)));
    let step = |cache: &mut CredentialCache, after: Duration| cache.poll(clock.at(after));
    assert!(matches!(
        step(&mut cache, 23 * HOUR),
        CacheStep::Use { refresh: None, .. }
    ));
    // Due 40 minutes before the day is out, and no longer used within its last 10 s.
    let due = step(&mut cache, 24 * HOUR - Duration::from_secs(39 * 60));
    let CacheStep::Use {
        refresh: Some(ticket),
        ..
    } = due
    else {
        panic!("expected a refresh ahead of the day's end, got {due:?}")
    };
    drop(ticket);
    let mut cache = holding(&clock, Duration::ZERO, identity("AK1", Some(year_9999)));
    assert!(matches!(
        step(&mut cache, 24 * HOUR - Duration::from_secs(5)),
        CacheStep::Refresh(_)
    ));
    // Expiries beyond what a SystemTime can hold on this platform are capped the same way.
    let mut cache = holding(
        &clock,
        Duration::ZERO,
        identity("AK1", Some(T0 + Duration::from_secs(i64::MAX as u64 / 2))),
    );
    assert!(matches!(step(&mut cache, 25 * HOUR), CacheStep::Refresh(_)));
}

#[test]
fn a_date_within_a_minute_is_noise_and_the_local_clock_decides() {
    // The service's Date is to the second: 0.9 s behind this machine's clock when the
    // clocks agree. Read as an offset, credentials of 3 s would seem to last 3.9 s.
    let clock = Clock::new();
    let start = Duration::from_millis(10_900);
    let mut cache = CredentialCache::default();
    let now = clock.at(start);
    let CacheStep::Refresh(ticket) = cache.poll(now) else {
        panic!("expected a refresh")
    };
    let date = T0 + Duration::from_secs(10);
    let expires = now.wall() + Duration::from_secs(3);
    cache.on_refreshed(
        ticket,
        Ok(identity("AK1", Some(expires)).with_service_date(date)),
        now,
    );
    // Not used in the last tenth of their 3 s: from 2.7 s on, as by the local clock.
    assert!(matches!(
        cache.poll(clock.at(start + Duration::from_millis(2_600))),
        CacheStep::Use { .. }
    ));
    // (The poll at 2.6 s, past half their life, took the refresh ticket: now one waits.)
    assert!(
        !matches!(
            cache.poll(clock.at(start + Duration::from_millis(2_800))),
            CacheStep::Use { .. }
        ),
        "used past the buffer: the Date's rounding was read as a clock offset"
    );
}

/// A source's 429 that asked the client to wait `retry_after`.
fn throttled(retry_after: Option<crate::RetryAfter>) -> CredentialError {
    use crate::credentials::error::{Failure, SourceError};
    let failure = Failure::Status {
        url: "http://169.254.169.254/openstack/latest/securitykey".to_owned(),
        status: http::StatusCode::TOO_MANY_REQUESTS,
        code: None,
        message: None,
    };
    CredentialError::from_source(
        SourceError::new(SourceKind::Metadata, failure).with_retry_after(retry_after),
    )
}

#[test]
fn a_source_s_retry_after_is_waited_for_up_to_a_minute() {
    use crate::RetryAfter;
    let secs = Duration::from_secs;
    // The backoff after a first failure is 1 s (jitter 1), with usable credentials or not.
    for (name, usable, retry_after, waits) in [
        ("nothing usable, nothing asked", false, None, secs(1)),
        (
            "nothing usable, 20 s asked",
            false,
            Some(RetryAfter::Delay(secs(20))),
            secs(20),
        ),
        (
            "nothing usable, a date 30 s on",
            false,
            Some(RetryAfter::At(T0 + secs(30))),
            secs(30),
        ),
        (
            "nothing usable, an hour asked",
            false,
            Some(RetryAfter::Delay(HOUR)),
            secs(60),
        ),
        (
            "usable, 20 s asked",
            true,
            Some(RetryAfter::Delay(secs(20))),
            secs(20),
        ),
        (
            "usable, an hour asked",
            true,
            Some(RetryAfter::Delay(HOUR)),
            secs(60),
        ),
    ] {
        let clock = Clock::new();
        let (mut cache, ticket) = if usable {
            // Credentials of an hour, obtained at 0: due (half their lifetime left) from 30
            // minutes, still usable at 40.
            let mut cache = holding(&clock, Duration::ZERO, identity("A", Some(T0 + HOUR)));
            let CacheStep::Use {
                refresh: Some(ticket),
                ..
            } = cache.poll(clock.at(40 * 60 * secs(1)))
            else {
                panic!("{name}: due")
            };
            (cache, ticket)
        } else {
            let mut cache = CredentialCache::default();
            let CacheStep::Refresh(ticket) = cache.poll(clock.at(Duration::ZERO)) else {
                panic!("{name}: an empty cache must ask for a refresh")
            };
            (cache, ticket)
        };
        let start = if usable {
            40 * 60 * secs(1)
        } else {
            Duration::ZERO
        };
        let error = throttled(retry_after);
        cache.on_refreshed(ticket, Err(error), clock.at_jitter(start, 1.0));
        let before = cache.poll(clock.at(start + waits - Duration::from_millis(1)));
        let backs_off = if usable {
            matches!(before, CacheStep::Use { refresh: None, .. })
        } else {
            matches!(before, CacheStep::Fail(_))
        };
        assert!(backs_off, "{name}: asked the source again before it said");
        let after = cache.poll(clock.at(start + waits));
        let asks = if usable {
            matches!(
                after,
                CacheStep::Use {
                    refresh: Some(_),
                    ..
                }
            )
        } else {
            matches!(after, CacheStep::Refresh(_))
        };
        assert!(asks, "{name}: did not ask again when the wait was over");
    }
}

#[test]
fn calls_during_the_backoff_are_told_the_failure_is_remembered() {
    use crate::credentials::error::{Failure, SourceError};
    let failing = || {
        SourceError::new(
            SourceKind::Metadata,
            Failure::Status {
                url: "http://169.254.169.254/openstack/latest/securitykey".to_owned(),
                status: http::StatusCode::SERVICE_UNAVAILABLE,
                code: None,
                message: None,
            },
        )
    };
    let after = HOUR + Duration::from_secs(5);
    for (name, cached, error, starts, separator) in [
        (
            "expired credentials",
            true,
            CredentialError::from_source(failing()),
            "the credentials from ECS metadata expired at 1970-01-01T01:00:00Z and could not be refreshed: no credentials: ECS metadata: ",
            " ",
        ),
        (
            "nothing cached, one source",
            false,
            CredentialError::from_source(failing()),
            "no credentials: ECS metadata: http://169.254.169.254/openstack/latest/securitykey answered 503 Service Unavailable",
            " ",
        ),
        (
            "nothing cached, the chain",
            false,
            CredentialError::chain(vec![failing(), failing()]),
            "no credential source gave credentials; ",
            "\n",
        ),
    ] {
        let clock = Clock::new();
        let mut cache = if cached {
            holding(&clock, Duration::ZERO, identity("A", Some(T0 + HOUR)))
        } else {
            CredentialCache::default()
        };
        let CacheStep::Refresh(ticket) = cache.poll(clock.at(after)) else {
            panic!("{name}: refresh")
        };
        // The caller whose refresh failed hears the failure itself.
        assert!(error.remembered().is_none(), "{name}");
        cache.on_refreshed(ticket, Err(error), clock.at(after));
        // Jitter 0: the first failure's backoff is 0.5 s; 200 ms of it have passed.
        let CacheStep::Fail(told) = cache.poll(clock.at(after + Duration::from_millis(200))) else {
            panic!("{name}: backing off")
        };
        let remembered = told
            .remembered()
            .unwrap_or_else(|| panic!("{name}: {told}"));
        assert_eq!(
            (remembered.failures(), remembered.asks_again_in()),
            (1, Duration::from_millis(300)),
            "{name}"
        );
        let text = told.to_string();
        assert!(text.starts_with(starts), "{name}: {text}");
        let suffix = format!(
            "{separator}(remembered from an earlier refresh, the source not asked: 1 failed refresh in a row; it is asked again in 300 ms)"
        );
        assert!(text.ends_with(&suffix), "{name}: {text}");
    }
}
