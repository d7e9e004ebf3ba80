//! The project found through IAM, once for a client: which call asks, who waits, and how
//! long a failed request is remembered before IAM is asked again.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use http::StatusCode;

use crate::PreparedRequests;
use crate::backoff::Failed;
use crate::call::Now;
use crate::credentials::Identity;
use crate::operation::projects::DiscoveryError;

/// The delay after the first failed project request; it doubles with each failure in a
/// row, times 0.5 to 1 by the jitter drawn when it failed (as a failed credential refresh).
pub(super) const RETRY_BASE: Duration = Duration::from_secs(1);

/// The longest delay after IAM gave no answer, a 5xx or a 429: 5 s, the credential cache's
/// cap when nothing usable is cached, for the same reason. Every call fails while the client
/// backs off, and such an outage may be over in a moment: a client notices within 5 s,
/// and asks IAM at most once per 2.5 to 5 s meanwhile, however many calls it makes.
pub(super) const RETRY_CAP_UNANSWERED: Duration = Duration::from_secs(5);

/// The longest delay after IAM answered otherwise (no project named after the region,
/// several, a refusal, an answer that is not a project list): 60 s, the credential cache's
/// cap while cached credentials are usable. Asking sooner cannot help: only a change on
/// IAM's side does (a project created or renamed, a permission granted), which takes a
/// person minutes, not seconds.
pub(super) const RETRY_CAP_ANSWERED: Duration = Duration::from_secs(60);

/// Where finding the project stands.
#[derive(Debug, Default)]
pub(super) enum Finding {
    /// Nobody asked yet, or the last asking failed: the next call asks (unless the last
    /// failure is remembered, see [`ProjectState::step`]).
    #[default]
    Unknown,
    /// A call asks IAM now, under this claim; others wait for it until it lapses (the
    /// asking call's deadline), then take over: a call that was cancelled while asking
    /// never holds the others up past that.
    Asking { claim: u64, lapses: Instant },
    /// Found: every call goes there.
    Found(Arc<PreparedRequests>),
}

/// A failed project request, remembered.
#[derive(Debug)]
struct Failure {
    error: DiscoveryError,
    /// The credentials the request was signed with (a 401 is not remembered for others).
    signed_with: Weak<Identity>,
}

impl Failure {
    fn delay(failed: &Failed<Failure>) -> Duration {
        let cap = match failed.error.error.is_retryable() {
            true => RETRY_CAP_UNANSWERED,
            false => RETRY_CAP_ANSWERED,
        };
        failed.delay(RETRY_BASE, cap)
    }

    /// Whether the failure says nothing about a request signed with `identity`: IAM
    /// refused the credentials themselves (401), and these are others (refreshed since).
    /// The new credentials may well be accepted, so their first call asks at once; if
    /// they are refused too, that failure is remembered as any other.
    fn not_for(&self, identity: &Arc<Identity>) -> bool {
        let refused = self
            .error
            .iam()
            .is_some_and(|iam| iam.status() == StatusCode::UNAUTHORIZED);
        refused && !Weak::ptr_eq(&self.signed_with, &Arc::downgrade(identity))
    }
}

/// The project, the claims handed out, and the last failures in a row.
#[derive(Debug, Default)]
pub(super) struct ProjectState {
    finding: Finding,
    claims: u64,
    failed: Option<Failed<Failure>>,
}

/// What a call does about the project.
pub(super) enum ProjectStep {
    Use(Arc<PreparedRequests>),
    /// Ask IAM, under this claim.
    Ask(u64),
    /// Another call asks; wait until it reports, or until this instant.
    Wait(Instant),
    /// The last request failed a moment ago: end with its failure, remembered.
    Fail(DiscoveryError),
}

/// How the call holding a claim gives it back.
pub(super) enum Outcome<'a> {
    /// It found the project.
    Found(Arc<PreparedRequests>),
    /// Its request to IAM, signed with `signed_with`, failed with `error` at `now`:
    /// remembered, and no call asks again until the backoff has passed.
    Failed {
        error: &'a DiscoveryError,
        signed_with: Option<&'a Arc<Identity>>,
        now: Now,
    },
    /// It learnt nothing about IAM: it was cancelled, its own deadline ran out while it
    /// asked, or it could not build the request. Remembering that would make other calls
    /// fail for what only this one suffered; the next call asks (a failure remembered
    /// before still applies until its backoff has passed).
    Nothing,
}

impl ProjectState {
    pub(super) fn new() -> Self {
        ProjectState::default()
    }

    /// How many project requests failed in a row (0: none, or the project was found).
    #[cfg(test)]
    pub(super) fn failures(&self) -> u32 {
        self.failed.as_ref().map_or(0, |f| f.consecutive)
    }

    pub(super) fn found(&self) -> Option<&Arc<PreparedRequests>> {
        match &self.finding {
            Finding::Found(prepared) => Some(prepared),
            Finding::Unknown | Finding::Asking { .. } => None,
        }
    }

    /// What a call with credentials `identity`, whose deadline is `deadline`, does at
    /// `now`: use the project found; wait for the call asking; end with the last failure
    /// while the client backs off after it (`RETRY_BASE` doubling per failure in a row, up
    /// to `RETRY_CAP_UNANSWERED` or `RETRY_CAP_ANSWERED`, with jitter; at least IAM's
    /// `Retry-After`, up to a minute); else ask, alone.
    pub(super) fn step(
        &mut self,
        now: Instant,
        deadline: Instant,
        identity: &Arc<Identity>,
    ) -> ProjectStep {
        match &self.finding {
            Finding::Found(prepared) => return ProjectStep::Use(Arc::clone(prepared)),
            Finding::Asking { lapses, .. } if now < *lapses => return ProjectStep::Wait(*lapses),
            Finding::Asking { .. } | Finding::Unknown => {}
        }
        if let Some(failed) = &self.failed
            && !failed.error.not_for(identity)
            && let Some(left) = failed.left(Failure::delay(failed), now)
        {
            let remembered = failed.remembered(left);
            return ProjectStep::Fail(failed.error.error.copy().with_remembered(remembered));
        }
        self.claims += 1;
        self.finding = Finding::Asking {
            claim: self.claims,
            lapses: deadline,
        };
        ProjectStep::Ask(self.claims)
    }

    /// The call holding `claim` gives it back with `outcome`; the calls waiting are to be
    /// woken. A lapsed claim changes nothing. Says whether anything changed.
    pub(super) fn report(&mut self, claim: u64, outcome: Outcome<'_>) -> bool {
        match &self.finding {
            Finding::Asking { claim: current, .. } if *current == claim => {}
            Finding::Asking { .. } | Finding::Unknown | Finding::Found(_) => return false,
        }
        self.finding = match outcome {
            Outcome::Found(prepared) => {
                self.failed = None;
                Finding::Found(prepared)
            }
            Outcome::Failed {
                error,
                signed_with,
                now,
            } => {
                let failure = Failure {
                    error: error.copy(),
                    signed_with: signed_with.map_or_else(Weak::new, Arc::downgrade),
                };
                // A 429 or 503 may say when to ask again: not before (up to a minute).
                let asked = error
                    .iam()
                    .and_then(|iam| iam.retry_after())
                    .map(|after| after.delay_from(now.wall()));
                let failed = Failed::after(
                    self.failed.as_ref(),
                    failure,
                    now.monotonic(),
                    now.jitter(),
                    asked,
                );
                tracing::warn!(
                    consecutive = failed.consecutive,
                    retry_in_ms = Failure::delay(&failed).as_millis() as u64,
                    "the project request failed: calls end with its error until IAM is asked again"
                );
                self.failed = Some(failed);
                Finding::Unknown
            }
            Outcome::Nothing => Finding::Unknown,
        };
        true
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use std::time::SystemTime;

    use super::*;
    use crate::credentials::SourceKind;
    use crate::{AkSk, Region};

    fn identity(ak: &str) -> Arc<Identity> {
        let credentials = AkSk::new(ak, "SKEXAMPLEsecretkey").unwrap().into();
        Arc::new(Identity::new(credentials, None, SourceKind::Static))
    }

    fn refused(status: u16) -> DiscoveryError {
        refused_with(status, &[])
    }

    fn refused_with(status: u16, headers: &[(&'static str, &str)]) -> DiscoveryError {
        let region = Region::new("cn-north-4").unwrap();
        let mut map = http::HeaderMap::new();
        for (name, value) in headers {
            map.append(*name, value.parse().unwrap());
        }
        crate::operation::projects::parse(
            StatusCode::from_u16(status).unwrap(),
            &map,
            b"{}",
            &region,
        )
        .unwrap_err()
    }

    #[test]
    fn iam_s_retry_after_is_waited_for_up_to_a_minute() {
        let t0 = Instant::now();
        let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        // Jitter 1: the backoff after a first failure is its base, 1 s.
        let now = Now::new(wall, t0, 1.0);
        let deadline = t0 + Duration::from_secs(3_600);
        let who = identity("AKEXAMPLE0000000000");
        let date = httpdate::fmt_http_date(wall + Duration::from_secs(40));
        for (name, status, retry_after, waits_s) in [
            ("429 without Retry-After: the backoff", 429, None, 1),
            ("429 asking 20 s: 20 s", 429, Some("20"), 20),
            ("503 asking 20 s: 20 s", 503, Some("20"), 20),
            ("a date 40 s ahead: 40 s", 429, Some(date.as_str()), 40),
            ("asking an hour: a minute", 429, Some("3600"), 60),
            ("not a number or a date: the backoff", 429, Some("soon"), 1),
        ] {
            let headers: Vec<_> = retry_after
                .map(|v| ("retry-after", v))
                .into_iter()
                .collect();
            let error = refused_with(status, &headers);
            let mut state = ProjectState::new();
            let ProjectStep::Ask(claim) = state.step(t0, deadline, &who) else {
                panic!("{name}: nobody asked yet")
            };
            let outcome = Outcome::Failed {
                error: &error,
                signed_with: Some(&who),
                now,
            };
            assert!(state.report(claim, outcome), "{name}");
            let just_before = t0 + Duration::from_secs(waits_s) - Duration::from_millis(1);
            match state.step(just_before, deadline, &who) {
                ProjectStep::Fail(e) => {
                    let left = e.remembered().unwrap().asks_again_in();
                    assert_eq!(left, Duration::from_millis(1), "{name}");
                }
                _ => panic!("{name}: asked IAM again before it said"),
            }
            let then = t0 + Duration::from_secs(waits_s);
            assert!(
                matches!(state.step(then, deadline, &who), ProjectStep::Ask(_)),
                "{name}: did not ask again when the wait was over"
            );
        }
    }

    #[test]
    fn a_401_is_remembered_for_the_credentials_it_refused_and_not_for_new_ones() {
        let t0 = Instant::now();
        let now = Now::new(SystemTime::UNIX_EPOCH, t0, 0.5);
        let deadline = t0 + Duration::from_secs(30);
        let (old, new) = (
            identity("AKOLD000000000000000"),
            identity("AKNEW000000000000000"),
        );
        for (status, new_asks) in [(401, true), (403, false), (500, false)] {
            let mut state = ProjectState::new();
            let ProjectStep::Ask(claim) = state.step(t0, deadline, &old) else {
                panic!("nobody asked yet")
            };
            let error = refused(status);
            let outcome = Outcome::Failed {
                error: &error,
                signed_with: Some(&old),
                now,
            };
            assert!(state.report(claim, outcome));
            assert!(
                matches!(state.step(t0, deadline, &old), ProjectStep::Fail(_)),
                "{status}: the same credentials ask again at once"
            );
            let asks = matches!(state.step(t0, deadline, &new), ProjectStep::Ask(_));
            assert_eq!(asks, new_asks, "{status}: new credentials");
        }
    }

    #[test]
    fn a_lapsed_claim_reports_nothing() {
        let t0 = Instant::now();
        let now = Now::new(SystemTime::UNIX_EPOCH, t0, 0.5);
        let who = identity("AKEXAMPLE0000000000");
        let mut state = ProjectState::new();
        let ProjectStep::Ask(first) = state.step(t0, t0, &who) else {
            panic!("nobody asked yet")
        };
        let ProjectStep::Ask(second) = state.step(t0, t0 + Duration::from_secs(1), &who) else {
            panic!("a lapsed claim was not taken over")
        };
        let error = refused(500);
        let failed = |error| Outcome::Failed {
            error,
            signed_with: Some(&who),
            now,
        };
        assert!(!state.report(first, failed(&error)), "the lapsed claim");
        assert_eq!(state.failures(), 0);
        assert!(state.report(second, failed(&error)));
        assert_eq!(state.failures(), 1);
    }
}
