//! Which of a region's endpoints a call goes to: the first one that is not cooling down
//! after a failure to connect, in the configured order; the next one when a request could
//! not be sent; the first again once it has cooled down.
//!
//! Only a failure where the request was not sent (the name did not resolve, the connection
//! was refused or timed out, the TLS handshake failed) moves a call on: the service never
//! saw it, so another endpoint may take it at once. An answer, whatever its status, and a
//! failure after the request may have been sent keep the call where it is: the endpoint is
//! reachable, and the retry policy decides, as for one endpoint.
//!
//! The official SDKs move to the next endpoint on DNS and certificate errors only, never
//! come back to the first, and forget nothing between clients of one process only because
//! their index is global. Here the state is the client's, shared by its calls, and every
//! decision takes the monotonic time as a parameter.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// How long an endpoint that could not be reached is passed over. See [`EndpointHealth`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailoverPolicy {
    cooldown: Duration,
}

impl Default for FailoverPolicy {
    /// An endpoint that could not be reached is passed over for 30 s (the base ejection
    /// time of Envoy's outlier detection), then one call tries it again.
    fn default() -> Self {
        FailoverPolicy {
            cooldown: Duration::from_secs(30),
        }
    }
}

impl FailoverPolicy {
    /// Sets how long an endpoint that could not be reached is passed over (default 30 s).
    pub fn with_cooldown(mut self, cooldown: Duration) -> Self {
        self.cooldown = cooldown;
        self
    }

    /// How long an endpoint that could not be reached is passed over.
    pub fn cooldown(&self) -> Duration {
        self.cooldown
    }
}

/// What the calls of one client know about its endpoints: which could not be reached, and
/// until when they are passed over. Shared by reference between the calls (see
/// [`Shared`](crate::call::Shared)).
///
/// * A call starts at the first endpoint, in the configured order, that is not cooling
///   down: so later calls start at the one that last worked, and go back to an earlier one
///   once it has cooled down.
/// * An endpoint whose cooldown has ended is tried by one call (the next that comes to
///   it); the others keep going where they went until that call's attempt tells.
/// * When every endpoint is cooling down, a call starts at the one whose cooldown ends
///   first.
#[derive(Debug)]
pub struct EndpointHealth {
    policy: FailoverPolicy,
    /// Per endpoint, until when it is passed over; `None`: no failure since it last worked.
    cooling_until: Mutex<Box<[Option<Instant>]>>,
}

/// The endpoint a call goes to next, and whether it looks reachable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pick {
    pub(crate) index: usize,
    /// False when it is cooling down (every endpoint left to try is).
    pub(crate) reachable: bool,
}

impl EndpointHealth {
    /// The health of `endpoints` endpoints, all reachable as far as anyone knows.
    pub fn new(endpoints: usize, policy: FailoverPolicy) -> Self {
        EndpointHealth {
            policy,
            cooling_until: Mutex::new(vec![None; endpoints].into_boxed_slice()),
        }
    }

    /// The policy it follows.
    pub fn policy(&self) -> FailoverPolicy {
        self.policy
    }

    fn state(&self) -> MutexGuard<'_, Box<[Option<Instant>]>> {
        // The state is a list of times, whole after any write: a panic elsewhere while the
        // lock was held cannot leave it half-written.
        self.cooling_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether endpoint `index` is passed over at `now` (it could not be reached, and its
    /// cooldown has not ended).
    pub fn is_cooling_down(&self, index: usize, now: Instant) -> bool {
        self.state()
            .get(index)
            .copied()
            .flatten()
            .is_some_and(|until| until > now)
    }

    /// The endpoint to go to at `now`, among those not in `skip` (a bit per endpoint):
    /// the first reachable one in order (an endpoint whose cooldown has ended counts, and
    /// is held for this call's try), else the one whose cooldown ends first; `None` when
    /// `skip` holds them all.
    pub(crate) fn pick(&self, skip: u32, now: Instant) -> Option<Pick> {
        let mut state = self.state();
        let candidates = || {
            state
                .iter()
                .enumerate()
                .filter(|(index, _)| skip & bit(*index) == 0)
        };
        let first = candidates()
            .find(|(_, until)| until.is_none_or(|until| until <= now))
            .map(|(index, until)| (index, until.is_some()));
        if let Some((index, was_failing)) = first {
            if was_failing && let Some(slot) = state.get_mut(index) {
                // One call tries it again; the others pass it over until that call's
                // attempt tells (an answer clears this, a failure sets a new cooldown).
                *slot = Some(now + self.policy.cooldown);
            }
            return Some(Pick {
                index,
                reachable: true,
            });
        }
        candidates()
            .min_by_key(|(_, until)| *until)
            .map(|(index, _)| Pick {
                index,
                reachable: false,
            })
    }

    /// Endpoint `index` could not be reached at `now`: pass it over for the cooldown.
    pub(crate) fn failed(&self, index: usize, now: Instant) {
        if let Some(slot) = self.state().get_mut(index) {
            *slot = Some(now + self.policy.cooldown);
        }
    }

    /// Endpoint `index` was reached (it answered, or took the request).
    pub(crate) fn reached(&self, index: usize) {
        let mut state = self.state();
        if let Some(slot) = state.get_mut(index)
            && slot.is_some()
        {
            *slot = None;
        }
    }
}

/// One call's way through the endpoints: where its last attempt went, where the next one
/// goes, which endpoints it could not reach since the retry policy last decided, and how
/// many moves it made at once (moves are not retries: the policy never counts them).
///
/// With one endpoint, or without a shared [`EndpointHealth`], every endpoint is taken for
/// reachable and they are tried in order.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CallEndpoints<'a> {
    count: usize,
    /// The client's health of its endpoints, with more than one endpoint.
    health: Option<&'a EndpointHealth>,
    /// The endpoint of the last attempt, and of the next one (`None`: pick one).
    current: usize,
    next: Option<usize>,
    /// A bit each: the endpoints not reached since the policy last decided, and those sent
    /// to.
    unreachable: u32,
    visited: u32,
    moves: u32,
}

impl<'a> CallEndpoints<'a> {
    /// A call over `count` endpoints, with the client's `health` of them if shared.
    pub(crate) fn new(count: usize, health: Option<&'a EndpointHealth>) -> Self {
        CallEndpoints {
            count,
            health: health.filter(|_| count > 1),
            current: 0,
            next: None,
            unreachable: 0,
            visited: 0,
            moves: 0,
        }
    }

    /// The endpoint the next attempt goes to.
    pub(crate) fn next(&self, now: Instant) -> usize {
        match self.next {
            Some(index) => index,
            None => self
                .pick(self.unreachable, now)
                .map_or(0, |pick| pick.index),
        }
    }

    /// An attempt went to `index`: the next one goes there too, until a failure to reach
    /// it says otherwise.
    pub(crate) fn sent_to(&mut self, index: usize) {
        self.current = index;
        self.next = Some(index);
        self.visited |= bit(index);
    }

    /// The endpoint of the last attempt.
    pub(crate) fn current(&self) -> usize {
        self.current
    }

    /// How many endpoints attempts went to.
    pub(crate) fn visited(&self) -> u32 {
        self.visited.count_ones()
    }

    /// How many moves to another endpoint were made at once.
    pub(crate) fn moves(&self) -> u32 {
        self.moves
    }

    /// The endpoint of the last attempt answered, or took the request.
    pub(crate) fn reached(&self) {
        if let Some(health) = self.health {
            health.reached(self.current);
        }
    }

    /// The endpoint of the last attempt could not be reached (nothing was sent): the
    /// endpoint to move to at once, when one is left that is not cooling down and the
    /// deadline has not passed; else `None`, and the retry policy decides (the retry goes
    /// to the endpoint that cools down first, or, when every endpoint failed since the
    /// policy last decided, where the endpoints' health says).
    pub(crate) fn unreachable(&mut self, now: Instant, deadline: Instant) -> Option<usize> {
        if self.count < 2 {
            return None;
        }
        if let Some(health) = self.health {
            health.failed(self.current, now);
        }
        self.unreachable |= bit(self.current);
        match self.pick(self.unreachable, now) {
            Some(pick) if pick.reachable && now < deadline => {
                self.moves += 1;
                self.next = Some(pick.index);
                return Some(pick.index);
            }
            Some(pick) => self.next = Some(pick.index),
            None => {
                self.unreachable = 0;
                self.next = None;
            }
        }
        None
    }

    /// The endpoint to go to next, skipping those in `skip`.
    fn pick(&self, skip: u32, now: Instant) -> Option<Pick> {
        match self.health {
            Some(health) => health.pick(skip, now),
            None => (0..self.count)
                .find(|&index| skip & bit(index) == 0)
                .map(|index| Pick {
                    index,
                    reachable: true,
                }),
        }
    }
}

/// The bit of endpoint `index` in a set of at most [`MAX_ENDPOINTS`](crate::MAX_ENDPOINTS).
pub(crate) fn bit(index: usize) -> u32 {
    1u32.checked_shl(u32::try_from(index).unwrap_or(u32::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    const COOL: Duration = Duration::from_secs(30);

    fn health(n: usize) -> EndpointHealth {
        EndpointHealth::new(n, FailoverPolicy::default().with_cooldown(COOL))
    }

    fn pick(index: usize, reachable: bool) -> Option<Pick> {
        Some(Pick { index, reachable })
    }

    #[test]
    fn calls_start_at_the_first_reachable_endpoint_and_come_back_after_the_cooldown() {
        let t0 = Instant::now();
        let h = health(3);
        assert_eq!(h.pick(0, t0), pick(0, true));
        h.failed(0, t0);
        h.failed(1, t0);
        // Later calls start at the third, which worked...
        assert_eq!(h.pick(0, t0 + Duration::from_secs(1)), pick(2, true));
        assert!(h.is_cooling_down(0, t0 + Duration::from_secs(29)));
        // ...until the first has cooled down: one call tries it, the others stay away
        // until that try tells.
        let later = t0 + COOL;
        assert_eq!(h.pick(0, later), pick(0, true));
        assert_eq!(h.pick(0, later), pick(1, true));
        assert_eq!(h.pick(0, later), pick(2, true));
        h.reached(0);
        assert_eq!(h.pick(0, later), pick(0, true));
    }

    #[test]
    fn within_a_call_tried_endpoints_are_skipped_and_cooling_ones_come_last() {
        let t0 = Instant::now();
        let h = health(3);
        h.failed(0, t0);
        assert_eq!(h.pick(bit(0), t0), pick(1, true));
        h.failed(1, t0 + Duration::from_secs(1));
        h.failed(2, t0 + Duration::from_secs(2));
        // All cooling: the one whose cooldown ends first, not marked reachable.
        assert_eq!(h.pick(0, t0 + Duration::from_secs(3)), pick(0, false));
        assert_eq!(h.pick(bit(0), t0 + Duration::from_secs(3)), pick(1, false));
        assert_eq!(h.pick(bit(0) | bit(1) | bit(2), t0), None);
    }

    #[test]
    fn one_endpoint_is_always_the_one() {
        let t0 = Instant::now();
        let h = health(1);
        h.failed(0, t0);
        assert_eq!(h.pick(0, t0), pick(0, false));
        assert_eq!(h.pick(bit(0), t0), None);
        assert_eq!(bit(40), 0);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Failed(usize),
        Reached(usize),
        Pick(u32),
        Wait(u64),
    }

    fn op(n: usize) -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        prop_oneof![
            (0..n).prop_map(Op::Failed),
            (0..n).prop_map(Op::Reached),
            any::<u32>().prop_map(Op::Pick),
            (0u64..40).prop_map(Op::Wait),
        ]
    }

    proptest::proptest! {
        /// Whatever happened before: a pick skips what it is told to, is `None` only when
        /// everything is skipped, says "reachable" only for an endpoint that was not
        /// cooling down, and otherwise names the one that cools down first.
        #[test]
        fn a_pick_follows_the_rules(
            n in 1usize..6,
            ops in proptest::collection::vec(op(6), 0..60),
        ) {
            let t0 = Instant::now();
            let h = health(n);
            let mut now = t0;
            let all = (0..n).fold(0, |set, i| set | bit(i));
            for op in ops {
                match op {
                    Op::Failed(i) => h.failed(i % n, now),
                    Op::Reached(i) => h.reached(i % n),
                    Op::Wait(s) => now += Duration::from_secs(s),
                    Op::Pick(skip) => {
                        let before: Vec<Option<Instant>> = h.state().to_vec();
                        let cooling = |i: usize| before[i].is_some_and(|until| until > now);
                        match h.pick(skip, now) {
                            None => proptest::prop_assert_eq!(skip & all, all),
                            Some(Pick { index, reachable }) => {
                                proptest::prop_assert!(index < n);
                                proptest::prop_assert_eq!(skip & bit(index), 0);
                                proptest::prop_assert_eq!(reachable, !cooling(index));
                                let left = (0..n).filter(|&i| skip & bit(i) == 0);
                                if reachable {
                                    // The first reachable one in order.
                                    let first = left.clone().find(|&i| !cooling(i));
                                    proptest::prop_assert_eq!(first, Some(index));
                                } else {
                                    proptest::prop_assert!(left.clone().all(cooling));
                                    let soonest = left.map(|i| before[i]).min().flatten();
                                    proptest::prop_assert_eq!(before[index], soonest);
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
