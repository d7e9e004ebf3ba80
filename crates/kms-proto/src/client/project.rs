//! The project found through IAM, once for a client: which call asks, who waits.

use std::sync::Arc;
use std::time::Instant;

use crate::PreparedRequests;

/// Where finding the project stands.
#[derive(Debug, Default)]
pub(super) enum Finding {
    /// Nobody asked yet, or the last asking failed: the next call asks.
    #[default]
    Unknown,
    /// A call asks IAM now, under this claim; others wait for it until it lapses (the
    /// asking call's deadline), then take over: a call that was cancelled while asking
    /// never holds the others up past that.
    Asking { claim: u64, lapses: Instant },
    /// Found: every call goes there.
    Found(Arc<PreparedRequests>),
}

/// The project, and the claims handed out.
#[derive(Debug, Default)]
pub(super) struct ProjectState {
    finding: Finding,
    claims: u64,
}

/// What a call does about the project.
pub(super) enum ProjectStep {
    Use(Arc<PreparedRequests>),
    /// Ask IAM, under this claim.
    Ask(u64),
    /// Another call asks; wait until it reports, or until this instant.
    Wait(Instant),
}

impl ProjectState {
    pub(super) fn new() -> Self {
        ProjectState::default()
    }

    pub(super) fn found(&self) -> Option<&Arc<PreparedRequests>> {
        match &self.finding {
            Finding::Found(prepared) => Some(prepared),
            Finding::Unknown | Finding::Asking { .. } => None,
        }
    }

    /// What a call whose deadline is `deadline` does at `now`.
    pub(super) fn step(&mut self, now: Instant, deadline: Instant) -> ProjectStep {
        match &self.finding {
            Finding::Found(prepared) => ProjectStep::Use(Arc::clone(prepared)),
            Finding::Asking { lapses, .. } if now < *lapses => ProjectStep::Wait(*lapses),
            Finding::Asking { .. } | Finding::Unknown => {
                self.claims += 1;
                self.finding = Finding::Asking {
                    claim: self.claims,
                    lapses: deadline,
                };
                ProjectStep::Ask(self.claims)
            }
        }
    }

    /// The call holding `claim` found `prepared`, or (`None`) did not: the next call asks.
    /// A lapsed claim changes nothing. Says whether anything changed.
    pub(super) fn report(&mut self, claim: u64, prepared: Option<Arc<PreparedRequests>>) -> bool {
        match &self.finding {
            Finding::Asking { claim: current, .. } if *current == claim => {
                self.finding = match prepared {
                    Some(prepared) => Finding::Found(prepared),
                    None => Finding::Unknown,
                };
                true
            }
            Finding::Asking { .. } | Finding::Unknown | Finding::Found(_) => false,
        }
    }
}
