//! `kms count --repeat N --concurrency C`: N calls through one client, C at a time, and
//! what they came to.
//!
//! One client serves every call, as a program holds one: one credential cache (calls that
//! find no usable credentials wait for the one refresh in flight, later calls use what it
//! cached), one project lookup through IAM, one connection pool. That is what the flags are
//! for: seeing single flight and static stability from the command line.
//!
//! The credentials obtained are counted from the core's `credentials obtained` event (one
//! per refresh that gave credentials, on either transport), by a tracing layer that is
//! installed whatever `-v` says and writes nothing.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use kms_proto::InstanceCount;
use kms_proto::call::Error;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;

/// The most calls `--repeat` takes: a million. Each call's latency is kept (16 bytes) for
/// the percentiles, so the bound keeps that under 16 MB; a longer soak is several runs.
pub(crate) const MAX_REPEAT: u32 = 1_000_000;

/// The most calls `--concurrency` runs at once: 256. kms-ureq runs each on a thread of its
/// own, and a client holds at most `ClientConfig::max_connections` connections anyway
/// (attempts beyond that wait for one), so more would only measure waiting.
pub(crate) const MAX_CONCURRENCY: u32 = 256;

/// clap's parser for `--repeat`: a whole number from 1 to [`MAX_REPEAT`].
pub(crate) fn parse_repeat(text: &str) -> Result<u32, String> {
    parse_bounded(text, MAX_REPEAT, "calls in all")
}

/// clap's parser for `--concurrency`: a whole number from 1 to [`MAX_CONCURRENCY`].
pub(crate) fn parse_concurrency(text: &str) -> Result<u32, String> {
    parse_bounded(text, MAX_CONCURRENCY, "calls at once")
}

fn parse_bounded(text: &str, max: u32, what: &str) -> Result<u32, String> {
    text.parse::<u32>()
        .ok()
        .filter(|n| (1..=max).contains(n))
        .ok_or_else(|| format!("give a whole number of {what} from 1 to {max}"))
}

/// How many calls to make, and how many at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Plan {
    calls: u32,
    concurrency: u32,
}

impl Plan {
    /// `calls` in all, `concurrency` at once (each already within its bound by clap).
    ///
    /// # Errors
    /// The message of a configuration error when `concurrency` is more than `calls`: it
    /// would start callers with nothing to do, and the user likely swapped the numbers.
    pub(crate) fn new(calls: u32, concurrency: u32) -> Result<Self, String> {
        if concurrency > calls {
            return Err(format!(
                "--concurrency {concurrency} is more than --repeat {calls}: \
                 give at most as many calls at once as calls in all"
            ));
        }
        Ok(Plan { calls, concurrency })
    }

    /// Whether this is the one call `kms count` makes without the flags.
    pub(crate) fn is_single(self) -> bool {
        self.calls == 1
    }

    /// How many calls run at once.
    pub(crate) fn concurrency(self) -> u32 {
        self.concurrency
    }

    /// Takes the next call to make, if any is left.
    fn take(self, next: &AtomicU32) -> bool {
        next.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
            (n < self.calls).then_some(n + 1)
        })
        .is_ok()
    }
}

/// What the calls came to, in the order they ended.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    latencies: Vec<Duration>,
    failures: BTreeMap<&'static str, u32>,
    first_failure: Option<Error>,
    last_success: Option<InstanceCount>,
}

impl Tally {
    fn record(&mut self, result: Result<InstanceCount, Error>, latency: Duration) {
        self.latencies.push(latency);
        match result {
            Ok(count) => self.last_success = Some(count),
            Err(error) => {
                *self.failures.entry(error.kind().as_str()).or_default() += 1;
                self.first_failure.get_or_insert(error);
            }
        }
    }

    /// The count of the last call to succeed (in the order they ended).
    pub(crate) fn last_success(&self) -> Option<&InstanceCount> {
        self.last_success.as_ref()
    }

    /// The first call to fail (in the order they ended): the likeliest cause of the others.
    pub(crate) fn first_failure(&self) -> Option<&Error> {
        self.first_failure.as_ref()
    }

    /// The summary, with `credentials_obtained` refreshes counted meanwhile.
    pub(crate) fn summary(&self, credentials_obtained: u64) -> Summary {
        let mut sorted = self.latencies.clone();
        sorted.sort_unstable();
        Summary {
            calls: sorted.len(),
            failures: self.failures.values().map(|&n| u64::from(n)).sum(),
            failures_by_kind: self.failures.clone(),
            p50: nearest_rank(&sorted, 50),
            p99: nearest_rank(&sorted, 99),
            credentials_obtained,
        }
    }
}

/// The `percent` percentile of `sorted` by the nearest-rank method: the smallest latency
/// that at least `percent`% of the calls took no longer than (zero when there is none).
fn nearest_rank(sorted: &[Duration], percent: usize) -> Duration {
    let rank = (sorted.len() * percent).div_ceil(100);
    sorted
        .get(rank.saturating_sub(1))
        .copied()
        .unwrap_or_default()
}

/// The summary of the calls: stderr's line, `--output json`'s `summary`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Summary {
    /// Calls made, failed or not.
    pub(crate) calls: usize,
    /// Calls that failed.
    pub(crate) failures: u64,
    /// Calls that failed, by error kind (`ErrorKind::as_str`), in the order of the names.
    pub(crate) failures_by_kind: BTreeMap<&'static str, u32>,
    /// The median latency of every call, failures included (nearest rank).
    pub(crate) p50: Duration,
    /// The 99th percentile latency of every call, failures included (nearest rank).
    pub(crate) p99: Duration,
    /// Refreshes that gave credentials: 1 when every call shared the first credentials.
    pub(crate) credentials_obtained: u64,
}

/// Makes `plan`'s calls with `client`, `plan.concurrency()` threads at once (this one
/// among them).
pub(crate) fn run_blocking(client: &kms_ureq::Client, plan: Plan) -> Tally {
    let tally = Mutex::new(Tally::default());
    let next = AtomicU32::new(0);
    // It captures only references: it is Copy, one copy per thread.
    let work = || {
        while plan.take(&next) {
            let start = Instant::now();
            let result = client.show_user_instances();
            lock(&tally).record(result, start.elapsed());
        }
    };
    // A worker that panics makes the scope panic when it ends: kms crashes as it would on
    // one call, instead of reporting fewer calls than were asked for.
    std::thread::scope(|scope| {
        for n in 1..plan.concurrency {
            let spawned = std::thread::Builder::new()
                .name(format!("kms-call-{n}"))
                .spawn_scoped(scope, work);
            if let Err(e) = spawned {
                // Written here, not through `output` (which reads this module's summary),
                // so that the two modules do not import each other.
                let _ = writeln!(
                    std::io::stderr().lock(),
                    "kms: could start only {n} of {} threads ({e}): fewer calls run at once",
                    plan.concurrency
                );
                break;
            }
        }
        work();
    });
    tally.into_inner().unwrap_or_else(PoisonError::into_inner)
}

/// Makes `plan`'s calls with `client`, `plan.concurrency()` tasks at once, each a clone of
/// the same client.
pub(crate) async fn run_async(client: &kms_hyper::Client, plan: Plan) -> Tally {
    let tally = Arc::new(Mutex::new(Tally::default()));
    let next = Arc::new(AtomicU32::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..plan.concurrency {
        let (client, tally, next) = (client.clone(), Arc::clone(&tally), Arc::clone(&next));
        tasks.spawn(async move {
            while plan.take(&next) {
                let start = Instant::now();
                let result = client.show_user_instances().await;
                lock(&tally).record(result, start.elapsed());
            }
        });
    }
    while let Some(joined) = tasks.join_next().await {
        // As with threads: a task that panicked makes kms panic too. Nothing cancels these
        // tasks (the runtime outlives them), so there is no other error.
        if let Err(error) = joined
            && error.is_panic()
        {
            std::panic::resume_unwind(error.into_panic());
        }
    }
    std::mem::take(&mut *lock(&tally))
}

fn lock(tally: &Mutex<Tally>) -> MutexGuard<'_, Tally> {
    // A poisoned lock means a caller panicked, which ends kms anyway (see above); what was
    // recorded stays consistent, as each record is one push and one count.
    tally.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A tracing layer that counts the core's `credentials obtained` events. Give it a filter
/// that lets `kms_proto::credentials` through at INFO.
#[derive(Debug, Clone, Default)]
pub(crate) struct ObtainedCounter(Arc<AtomicU64>);

/// The core's message when a refresh gave credentials (`kms_proto::credentials`, INFO).
const OBTAINED: &str = "credentials obtained";

impl ObtainedCounter {
    /// How many `credentials obtained` events it has seen.
    pub(crate) fn count(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl<S: Subscriber> Layer<S> for ObtainedCounter {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut message = IsObtained(false);
        event.record(&mut message);
        if message.0 {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Whether an event's message is [`OBTAINED`].
struct IsObtained(bool);

impl Visit for IsObtained {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0 = value == OBTAINED;
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        // A literal message arrives as `fmt::Arguments`, whose Debug is the text itself.
        if field.name() == "message" {
            self.0 = format!("{value:?}") == OBTAINED;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use tracing_subscriber::prelude::*;

    fn ms(list: &[u64]) -> Vec<Duration> {
        list.iter().map(|&m| Duration::from_millis(m)).collect()
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let hundred: Vec<u64> = (1..=100).collect();
        assert_eq!(nearest_rank(&ms(&hundred), 50), Duration::from_millis(50));
        assert_eq!(nearest_rank(&ms(&hundred), 99), Duration::from_millis(99));
        // 20 calls: p99 is the slowest, p50 the 10th.
        let twenty: Vec<u64> = (1..=20).collect();
        assert_eq!(nearest_rank(&ms(&twenty), 50), Duration::from_millis(10));
        assert_eq!(nearest_rank(&ms(&twenty), 99), Duration::from_millis(20));
        assert_eq!(nearest_rank(&ms(&[7]), 99), Duration::from_millis(7));
        assert_eq!(nearest_rank(&[], 50), Duration::ZERO);
    }

    #[test]
    fn bounds_and_the_plan() {
        assert_eq!(parse_repeat("1"), Ok(1));
        assert_eq!(parse_repeat("1000000"), Ok(MAX_REPEAT));
        for bad in ["0", "1000001", "-1", "", "2.5", "x"] {
            assert_eq!(
                parse_repeat(bad),
                Err("give a whole number of calls in all from 1 to 1000000".into()),
                "{bad:?}"
            );
        }
        assert_eq!(parse_concurrency("256"), Ok(256));
        assert!(parse_concurrency("257").is_err());
        assert!(parse_concurrency("0").is_err());
        assert!(Plan::new(4, 4).is_ok());
        assert_eq!(
            Plan::new(4, 5),
            Err("--concurrency 5 is more than --repeat 4: give at most as many calls at once as calls in all".into())
        );
        let plan = Plan::new(3, 1).unwrap();
        let next = AtomicU32::new(0);
        assert_eq!(
            [(); 4].map(|()| plan.take(&next)),
            [true, true, true, false]
        );
    }

    #[test]
    fn counts_only_the_obtained_event() {
        let counter = ObtainedCounter::default();
        let subscriber = tracing_subscriber::registry().with(counter.clone());
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(source = "metadata", "credentials obtained");
            tracing::info!("credentials obtained later");
            tracing::warn!(consecutive = 1, "refreshing credentials failed");
            tracing::info!(source = "metadata", "credentials obtained");
        });
        assert_eq!(counter.count(), 2);
    }
}
