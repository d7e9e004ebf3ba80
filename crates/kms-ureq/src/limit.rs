//! Never more than N connections open: an attempt holds one of N permits from before it is
//! sent until its body has been read.
//!
//! ureq's agent bounds only its idle connections; any number of threads calling at once
//! would each open one. With a permit per attempt, at most N requests are in flight, and
//! since a finished attempt hands its connection back to the pool before it gives its
//! permit back, the next attempt finds it idle there: the agent never needs an N+1th.

use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The permits of one client, shared by its clones.
#[derive(Debug)]
pub(crate) struct Permits {
    free: Mutex<usize>,
    freed: Condvar,
    /// How many acquires have found no permit free and are about to wait (counted under
    /// the lock, before it is released to wait): lets a test give a permit back only once
    /// a waiter is really waiting, instead of sleeping and hoping.
    #[cfg(test)]
    waiting: std::sync::atomic::AtomicUsize,
}

/// A permit, given back when dropped.
#[derive(Debug)]
pub(crate) struct Permit(Arc<Permits>);

/// How [`Permits::acquire`] went.
#[derive(Debug)]
pub(crate) enum Acquired {
    /// A permit was free.
    At,
    /// All were taken; this one was freed after waiting this long.
    After(Duration),
}

impl Permits {
    pub(crate) fn new(max: usize) -> Arc<Self> {
        Arc::new(Permits {
            free: Mutex::new(max.max(1)),
            freed: Condvar::new(),
            #[cfg(test)]
            waiting: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    /// A permit, waiting at most `timeout` for one; `None` if none was freed in time.
    pub(crate) fn acquire(self: &Arc<Self>, timeout: Duration) -> Option<(Permit, Acquired)> {
        // The count stays consistent whatever a panicking holder did: taking it over is safe.
        let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
        let waited = if *free > 0 {
            Acquired::At
        } else {
            let started = Instant::now();
            #[cfg(test)]
            self.waiting
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let (guard, result) = self
                .freed
                .wait_timeout_while(free, timeout, |free| *free == 0)
                .unwrap_or_else(PoisonError::into_inner);
            free = guard;
            if result.timed_out() && *free == 0 {
                return None;
            }
            Acquired::After(started.elapsed())
        };
        *free -= 1;
        Some((Permit(Arc::clone(self)), waited))
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut free = self.0.free.lock().unwrap_or_else(PoisonError::into_inner);
        *free += 1;
        self.0.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::atomic::Ordering;

    use super::*;

    #[test]
    fn permits_are_given_back_and_waited_for() {
        let permits = Permits::new(1);
        let (first, how) = permits.acquire(Duration::ZERO).unwrap();
        assert!(matches!(how, Acquired::At));
        // None free: a bounded wait ends empty, whatever the machine's load.
        assert!(permits.acquire(Duration::from_millis(20)).is_none());
        let before = permits.waiting.load(Ordering::SeqCst);
        let waiter = {
            let permits = Arc::clone(&permits);
            std::thread::spawn(move || permits.acquire(Duration::from_secs(60)).map(|(_, h)| h))
        };
        // Give the permit back only once the waiter waits: it counts itself under the
        // lock, and `drop` takes that lock, so the waiter has released it in the condvar's
        // wait by the time the permit is given back. Bounded by the waiter's own 60 s.
        let until = Instant::now() + Duration::from_secs(60);
        while permits.waiting.load(Ordering::SeqCst) == before {
            assert!(Instant::now() < until, "the waiter never waited");
            std::thread::yield_now();
        }
        drop(first);
        // Woken by the permit given back, not by its 60 s timeout.
        assert!(
            matches!(waiter.join().unwrap(), Some(Acquired::After(w)) if w < Duration::from_secs(60))
        );
        assert!(permits.acquire(Duration::ZERO).is_some());
    }
}
