//! The retry budget: a token bucket shared by every call of a client, so that during an
//! outage retries stop multiplying the load on a failing service, while isolated failures
//! are still retried (smithy-rs's standard retry strategy does the same).
//!
//! Each retry spends tokens (a retry after a timeout spends more: it held a connection for
//! the whole attempt); a call that succeeds gives back what it spent, or a token when it
//! spent none. A retry the budget cannot pay for is not made: the call ends with its last
//! error, which says so.

use std::sync::atomic::{AtomicU32, Ordering};

/// What an error says when its call was not retried for want of budget.
pub(crate) const BUDGET_NOTE: &str = "; not retried: the client's retry budget is spent (many failures across its calls), and refills as calls succeed";

/// The budget's settings. See [`RetryBudget`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetPolicy {
    capacity: u32,
    retry_cost: u32,
    timeout_cost: u32,
    success_refund: u32,
}

impl Default for BudgetPolicy {
    /// 500 tokens; a retry costs 5, a retry after a timeout 10; a call that succeeds without
    /// retrying gives back 1 (smithy-rs's defaults): a total outage is retried at most 100
    /// times, whatever the number of calls, before the budget refills.
    fn default() -> Self {
        BudgetPolicy {
            capacity: 500,
            retry_cost: 5,
            timeout_cost: 10,
            success_refund: 1,
        }
    }
}

impl BudgetPolicy {
    /// Sets the bucket's size (default 500 tokens).
    pub fn with_capacity(mut self, capacity: u32) -> Self {
        self.capacity = capacity;
        self
    }

    /// Sets what a retry costs, and a retry after a timeout (defaults 5 and 10).
    pub fn with_costs(mut self, retry: u32, after_timeout: u32) -> Self {
        self.retry_cost = retry;
        self.timeout_cost = after_timeout;
        self
    }

    /// The bucket's size.
    pub fn capacity(&self) -> u32 {
        self.capacity
    }
}

/// The tokens left; shared by reference between the calls of one client.
#[derive(Debug)]
pub struct RetryBudget {
    policy: BudgetPolicy,
    tokens: AtomicU32,
}

impl RetryBudget {
    /// A full budget.
    pub fn new(policy: BudgetPolicy) -> Self {
        RetryBudget {
            policy,
            tokens: AtomicU32::new(policy.capacity),
        }
    }

    /// The tokens left.
    pub fn available(&self) -> u32 {
        self.tokens.load(Ordering::Relaxed)
    }

    /// What a retry costs: more after a timeout.
    pub(crate) fn cost(&self, after_timeout: bool) -> u32 {
        if after_timeout {
            self.policy.timeout_cost
        } else {
            self.policy.retry_cost
        }
    }

    /// Takes `cost` tokens if there are that many.
    pub(crate) fn try_spend(&self, cost: u32) -> bool {
        self.tokens
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                left.checked_sub(cost)
            })
            .is_ok()
    }

    /// A call succeeded having spent `spent`: gives that back, or the success refund when
    /// it spent nothing; never above the capacity.
    pub(crate) fn on_success(&self, spent: u32) {
        let refund = if spent > 0 {
            spent
        } else {
            self.policy.success_refund
        };
        let capacity = self.policy.capacity;
        // A full budget (the usual case) is left alone: no write to the cache line every
        // call of the client shares.
        let _ = self
            .tokens
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                (left < capacity).then(|| left.saturating_add(refund).min(capacity))
            });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spends_refunds_and_stays_within_its_capacity() {
        let budget = RetryBudget::new(BudgetPolicy::default().with_capacity(12));
        assert!(budget.try_spend(budget.cost(false)));
        assert!(budget.try_spend(budget.cost(false)));
        assert_eq!(budget.available(), 2);
        assert!(!budget.try_spend(budget.cost(false)), "5 > 2 left");
        assert!(!budget.try_spend(budget.cost(true)));
        budget.on_success(0);
        assert_eq!(budget.available(), 3);
        budget.on_success(10);
        assert_eq!(budget.available(), 12, "never above the capacity");
    }
}
