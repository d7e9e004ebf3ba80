//! What the calls of one client learn and share: the service clock's offset, the retry
//! budget, and which endpoints could not be reached. A transport keeps one [`Shared`] per
//! client and gives it to every [`Call`](super::Call); the call reads and updates it.

use std::sync::atomic::{AtomicI64, Ordering};

use crate::{ClientConfig, EndpointHealth, RetryBudget};

/// What the calls of one client learn and share: the service clock's offset, the retry
/// budget, and which endpoints could not be reached. Made once per client from its
/// configuration; given to each call with [`Call::with_shared`](super::Call::with_shared),
/// which reads and updates it.
#[derive(Debug)]
pub struct Shared {
    /// How far the service's clock is ahead of this machine's (ms), as the last call that
    /// corrected a skew found: a correction outlives its call.
    clock_offset_ms: AtomicI64,
    /// The retry budget every call pays its retries from (`None`: off).
    budget: Option<RetryBudget>,
    /// Which endpoints could not be reached, and until when they are passed over.
    health: EndpointHealth,
}

impl Shared {
    /// A client's shared state, as `config` sets it up: no clock offset known, a full
    /// retry budget (if on), every endpoint reachable.
    pub fn new(config: &ClientConfig) -> Self {
        Shared {
            clock_offset_ms: AtomicI64::new(0),
            budget: config.retry_budget().map(RetryBudget::new),
            health: EndpointHealth::new(config.endpoints().as_slice().len(), config.failover()),
        }
    }

    /// How far the service's clock is ahead of this machine's, in milliseconds (negative:
    /// behind), as far as the client's calls know.
    pub fn clock_offset_ms(&self) -> i64 {
        self.clock_offset_ms.load(Ordering::Relaxed)
    }

    pub(crate) fn set_clock_offset_ms(&self, offset_ms: i64) {
        self.clock_offset_ms.store(offset_ms, Ordering::Relaxed);
    }

    /// The retry budget, if it is on.
    pub fn budget(&self) -> Option<&RetryBudget> {
        self.budget.as_ref()
    }

    /// Which endpoints could not be reached.
    pub fn endpoint_health(&self) -> &EndpointHealth {
        &self.health
    }
}
