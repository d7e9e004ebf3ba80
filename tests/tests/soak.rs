//! A bounded soak with faults, through both transports: a few thousand calls from one
//! shared client per transport (kms-ureq: several threads; kms-hyper: many tasks on a
//! multi-threaded runtime this test builds itself) against an emulator that answers a
//! random mix of 503s, connections closed before the answer or in the middle of the body,
//! headers delayed and bodies stalled beyond the attempt timeout, and (mostly) normal
//! answers. Short timeouts keep it quick: 200 ms per attempt, 600 ms overall, 3 attempts.
//!
//! What must hold, for each transport: every call ends within its overall deadline plus a
//! small margin; every result is the count, or an error of an expected kind (`status` 503
//! once the retries ran out, `timeout`, `io`), never `connect`, `tls`, `malformed`,
//! `config`, never a panic; no error shows a secret; the client never holds more
//! connections open at once than its cap (counted from this process's sockets, see [`SocketWatch`] for why not by the emulator); and
//! afterwards nothing is left behind (kms-hyper: no task alive on the runtime once the
//! client is dropped; kms-ureq: the process's thread count back to what it was; the
//! emulator: no connection open). A floor on the faults actually applied, and on the
//! successes and failures, keeps the test from passing because nothing was injected.
//!
//! The mix is seeded: the seed is printed, and `KMS_SOAK_SEED=<n>` replays it.
//! `KMS_SOAK_CALLS=<n>` sets the calls per transport (default 1,500). A seed fixes the
//! sequence of faults drawn, one per request in the order the emulator receives them; the
//! requests of concurrent callers arrive in an order the scheduler decides, so which call
//! meets which fault differs from run to run, but the mix (how many of each) is the same
//! in distribution, and a failure can be replayed with the same mix. Run with
//! `--nocapture` to see one summary line per transport.
//!
//! The emulator runs in a process of its own (this binary again, see
//! [`soak_emulator_process`]), one per transport, so that the only sockets of this process
//! are the client's. The two soaks run one after the other in one test, so that the
//! thread and task counts are not disturbed by other tests.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)] // a test fails by panicking

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::io::Read as _;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use kms_mock::{BlockingMockServer, Fault, MockConfig, RecordedRequest};
use kms_proto::call::{Error, ErrorKind};
use kms_proto::{AkSk, ClientConfig, Endpoint, InstanceCount, ProjectId, RetryPolicy};

const PROJECT: &str = "0dea2644dc80d5d22ff1c01e3ebea6fc";
const COUNT: u64 = 15;
const AK: &str = "SOAKTEMPORARYAK0001";
const SK: &str = "soak-temporary-secret-key-0000000000000";
const SECURITY_TOKEN: &str = "soak-security-token-gQpjbi1ub3J0aC00LmZha2U";
/// What no error may show. The security token travels in every request's headers.
const SECRETS: [&str; 2] = [SK, SECURITY_TOKEN];

/// Each attempt's timeout: short, so that a delayed or stalled answer costs little.
const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(200);
/// The overall deadline: two timed-out attempts and their backoff leave less than an
/// attempt timeout for the third, so the deadline, not only the attempt timeout, bounds
/// some calls.
const DEADLINE: Duration = Duration::from_millis(600);
/// Attempts per call: few enough that some calls run out of them.
const MAX_ATTEMPTS: u32 = 3;
/// Backoff: 10-20 ms before the second attempt, 20-40 ms before the third.
const BACKOFF: Duration = Duration::from_millis(20);
const MAX_BACKOFF: Duration = Duration::from_millis(200);
/// How late a call may end after its deadline (a debug build on a loaded machine).
const MARGIN: Duration = Duration::from_millis(500);
/// How long the emulator delays headers or stalls a body: well beyond an attempt.
const STALL: Duration = Duration::from_secs(1);
/// How long whatever a client left behind may take to go once it is dropped.
const SETTLE: Duration = Duration::from_secs(3);

const UREQ_CONNECTIONS: usize = 4;
const UREQ_THREADS: usize = 6;
const HYPER_CONNECTIONS: usize = 8;
const HYPER_TASKS: usize = 48;
const DEFAULT_CALLS: usize = 1_500;

/// What the emulator does with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Normal,
    Status503,
    CloseBeforeResponse,
    CloseMidBody,
    DelayHeaders,
    StallBody,
}

/// The mix, in percent of requests.
const MIX: [(Kind, u32); 6] = [
    (Kind::Normal, 66),
    (Kind::Status503, 12),
    (Kind::CloseBeforeResponse, 7),
    (Kind::CloseMidBody, 7),
    (Kind::DelayHeaders, 4),
    (Kind::StallBody, 4),
];

impl Kind {
    fn index(self) -> usize {
        MIX.iter().position(|(k, _)| *k == self).unwrap()
    }
}

/// The emulator's fault rules; a request drawn for a kind gets one of its rules at random.
fn rules() -> Vec<(Kind, Fault)> {
    vec![
        (Kind::Status503, Fault::status(503)),
        (Kind::CloseBeforeResponse, Fault::CloseBeforeResponse),
        // The body is `{"instance_num":15}`, 19 bytes: cut before it, or inside it.
        (Kind::CloseMidBody, Fault::CloseMidBody { after: 0 }),
        (Kind::CloseMidBody, Fault::CloseMidBody { after: 9 }),
        (Kind::DelayHeaders, Fault::DelayHeaders(STALL)),
        (
            Kind::StallBody,
            Fault::StallBody {
                after: 0,
                stall: STALL,
            },
        ),
        (
            Kind::StallBody,
            Fault::StallBody {
                after: 9,
                stall: STALL,
            },
        ),
    ]
}

/// Decides, per request, which rule applies (none: a normal answer), from a seeded RNG.
///
/// The emulator asks its rules' predicates in order until one holds; the first predicate
/// asked about a request draws for it, the others look the draw up by request id, and the
/// draw is forgotten once its rule or the last rule has been asked.
struct Mixer {
    rules: Vec<Kind>,
    draws: Mutex<Draws>,
    drawn: [AtomicU64; MIX.len()],
    applied: [AtomicU64; MIX.len()],
}

struct Draws {
    rng: fastrand::Rng,
    /// The rule drawn for each request id (`None`: answer normally).
    by_request: HashMap<String, Option<usize>>,
}

impl Mixer {
    fn install(server: &BlockingMockServer, seed: u64) -> Arc<Mixer> {
        let rules = rules();
        let mixer = Arc::new(Mixer {
            rules: rules.iter().map(|(kind, _)| *kind).collect(),
            draws: Mutex::new(Draws {
                rng: fastrand::Rng::with_seed(seed),
                by_request: HashMap::new(),
            }),
            drawn: Default::default(),
            applied: Default::default(),
        });
        for (rule, (_, fault)) in rules.into_iter().enumerate() {
            let mixer = Arc::clone(&mixer);
            server
                .faults()
                .when(move |request| mixer.applies(request, rule), fault);
        }
        mixer
    }

    fn draw(&self, rng: &mut fastrand::Rng) -> Option<usize> {
        let mut roll = rng.u32(0..100);
        let mut kind = Kind::Normal;
        for (k, weight) in MIX {
            if roll < weight {
                kind = k;
                break;
            }
            roll -= weight;
        }
        self.drawn[kind.index()].fetch_add(1, Ordering::Relaxed);
        let variants: Vec<usize> = (0..self.rules.len())
            .filter(|&r| self.rules[r] == kind)
            .collect();
        (!variants.is_empty()).then(|| variants[rng.usize(..variants.len())])
    }

    fn applies(&self, request: &RecordedRequest, rule: usize) -> bool {
        let mut draws = self.draws.lock().unwrap();
        let Draws { rng, by_request } = &mut *draws;
        let drawn = *by_request
            .entry(request.request_id.clone())
            .or_insert_with(|| self.draw(rng));
        let applies = drawn == Some(rule);
        // Rules are asked in order: after this one, no other asks about the request.
        if applies || rule + 1 == self.rules.len() {
            by_request.remove(&request.request_id);
        }
        if applies {
            self.applied[self.rules[rule].index()].fetch_add(1, Ordering::Relaxed);
        }
        applies
    }

    /// How many requests got each kind (normal answers: how many were drawn for it).
    fn counts(&self) -> BTreeMap<Kind, u64> {
        MIX.iter()
            .map(|(kind, _)| {
                let of = if *kind == Kind::Normal {
                    &self.drawn
                } else {
                    &self.applied
                };
                (*kind, of[kind.index()].load(Ordering::Relaxed))
            })
            .collect()
    }
}

/// How one call ended.
struct Outcome {
    took: Duration,
    result: Result<u64, Failure>,
}

struct Failure {
    kind: ErrorKind,
    status: Option<u16>,
    attempts: u32,
    /// Display, Debug and the Display of every source, for the secrecy check.
    shown: String,
}

fn outcome(took: Duration, result: Result<InstanceCount, Error>) -> Outcome {
    let result = result.map(|c| c.count()).map_err(|e| {
        let mut shown = format!("{e} | {e:?}");
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            let _ = write!(shown, " | {s}");
            source = s.source();
        }
        Failure {
            kind: e.kind(),
            status: e.status().map(|s| s.as_u16()),
            attempts: e.attempts(),
            shown,
        }
    });
    Outcome { took, result }
}

fn seed() -> u64 {
    match std::env::var("KMS_SOAK_SEED") {
        Ok(text) => text
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("KMS_SOAK_SEED={text:?} is not a u64")),
        Err(_) => {
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos();
            (nanos as u64) ^ u64::from(std::process::id()).rotate_left(32)
        }
    }
}

fn calls() -> usize {
    std::env::var("KMS_SOAK_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_CALLS)
        .max(100)
}

fn start_server() -> BlockingMockServer {
    BlockingMockServer::start(
        MockConfig::new()
            .with_project(PROJECT, COUNT)
            .with_temporary_aksk(AK, SK, SECURITY_TOKEN),
    )
    .unwrap()
}

fn config(url: &str, connections: usize) -> ClientConfig {
    ClientConfig::new(
        Endpoint::parse(url).unwrap(),
        ProjectId::new(PROJECT).unwrap(),
        AkSk::new(AK, SK)
            .unwrap()
            .with_security_token(SECURITY_TOKEN)
            .unwrap()
            .into(),
    )
    .with_attempt_timeout(ATTEMPT_TIMEOUT)
    .with_deadline(DEADLINE)
    .with_retry(
        RetryPolicy::default()
            .with_max_attempts(MAX_ATTEMPTS)
            .with_backoff(BACKOFF, MAX_BACKOFF),
    )
    .with_max_connections(connections)
}

/// The threads of this process (Linux; 0 elsewhere).
fn threads() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("Threads:"))
                .and_then(|n| n.trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Waits until `f` holds or `limit` passes; returns whether it held.
fn eventually(limit: Duration, f: impl Fn() -> bool) -> bool {
    let started = Instant::now();
    while !f() {
        if started.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

/// How often the client's sockets are counted.
const WATCH_EVERY: Duration = Duration::from_millis(1);

/// The sockets this process holds, by inode (`/proc/self/fd`; `None` elsewhere). The
/// emulator runs in a process of its own, so these are the client's.
fn sockets() -> Option<BTreeSet<u64>> {
    let fds = std::fs::read_dir("/proc/self/fd").ok()?;
    Some(
        fds.filter_map(|fd| {
            let target = std::fs::read_link(fd.ok()?.path()).ok()?;
            let inode = target
                .to_str()?
                .strip_prefix("socket:[")?
                .strip_suffix(']')?;
            inode.parse().ok()
        })
        .collect(),
    )
}

/// Watches how many connections the client holds open at once.
///
/// Not the emulator's [`peak_open_connections`](BlockingMockServer::peak_open_connections):
/// a connection the client closed (an attempt that timed out) counts there until the
/// emulator notices, and one the client opened and closed before the emulator accepted it
/// counts from the accept, so under timeouts it runs past the client's cap while the client
/// keeps to it. Instead, the sockets of this process, where only the client has any: a
/// listing of `/proc/self/fd` is not atomic (a socket closed and another opened during one
/// listing could both be in it), so only sockets in two listings in a row are counted;
/// they were all open at once between the two. A sample every [`WATCH_EVERY`], not a proof:
/// a cap exceeded for less than that may be missed.
struct SocketWatch {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<(usize, usize)>,
}

impl SocketWatch {
    fn start() -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let (mut most, mut samples) = (0, 0);
                let mut previous: Option<BTreeSet<u64>> = None;
                while !stop.load(Ordering::Relaxed) {
                    let now = sockets();
                    if let (Some(before), Some(now)) = (&previous, &now) {
                        most = most.max(before.intersection(now).count());
                        samples += 1;
                    }
                    previous = now;
                    std::thread::sleep(WATCH_EVERY);
                }
                (most, samples)
            })
        };
        SocketWatch { stop, thread }
    }

    /// Stops the watch: the most client sockets seen open at once, and over how many
    /// samples (0 where `/proc/self/fd` cannot be read).
    fn stop(self) -> (usize, usize) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("the socket watch panicked")
    }
}

/// Set in the emulator's process: the seed of its mix.
const EMULATOR_SEED: &str = "KMS_SOAK_EMULATOR_SEED";
const PORT_LINE: &str = "kms-soak-emulator-port";
const COUNTS_LINE: &str = "kms-soak-emulator-counts";

/// Not a test: the emulator's process of the soak (this binary, run again with
/// [`EMULATOR_SEED`] set; without it this returns at once). It prints its port, serves
/// until its standard input closes, waits for the connections still open to close (for
/// at most [`SETTLE`]), and prints what it counted, the faults in the order of [`MIX`].
#[test]
fn soak_emulator_process() {
    let Ok(seed) = std::env::var(EMULATOR_SEED) else {
        return;
    };
    let server = start_server();
    let mixer = Mixer::install(&server, seed.parse().unwrap());
    println!("{PORT_LINE} {}", server.local_addr().port());
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    eventually(SETTLE, || server.open_connections() == 0);
    let counts = mixer.counts();
    let faults: Vec<String> = MIX.iter().map(|(k, _)| counts[k].to_string()).collect();
    println!(
        "{COUNTS_LINE} {} {} {} {}",
        server.connections(),
        server.peak_open_connections(),
        server.open_connections(),
        faults.join(" ")
    );
}

/// What the emulator counted.
struct EmulatorCounts {
    accepted: u64,
    peak_open: u64,
    /// Connections still open once the client was gone (and [`SETTLE`] passed).
    open_after: u64,
    faults: BTreeMap<Kind, u64>,
}

/// The emulator, in a process of its own (see [`soak_emulator_process`]).
struct Emulator {
    child: std::process::Child,
    stdin: Option<std::process::ChildStdin>,
    stdout: std::io::BufReader<std::process::ChildStdout>,
    port: u16,
}

impl Emulator {
    fn start(seed: u64) -> Self {
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["soak_emulator_process", "--exact", "--nocapture"])
            .env(EMULATOR_SEED, seed.to_string())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("the emulator's process");
        let stdin = child.stdin.take();
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let port = Self::line(&mut stdout, PORT_LINE).parse().unwrap();
        Emulator {
            child,
            stdin,
            stdout,
            port,
        }
    }

    /// The rest of the first line that starts with `prefix`.
    fn line(stdout: &mut impl std::io::BufRead, prefix: &str) -> String {
        let mut line = String::new();
        loop {
            line.clear();
            assert!(
                stdout.read_line(&mut line).unwrap() > 0,
                "the emulator's process ended before saying {prefix}"
            );
            if let Some(rest) = line.trim_end().strip_prefix(prefix) {
                return rest.trim().to_owned();
            }
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Stops the emulator and returns what it counted.
    fn finish(mut self) -> EmulatorCounts {
        drop(self.stdin.take());
        let counts: Vec<u64> = Self::line(&mut self.stdout, COUNTS_LINE)
            .split_whitespace()
            .map(|n| n.parse().unwrap())
            .collect();
        let [accepted, peak_open, open_after, faults @ ..] = counts.as_slice() else {
            panic!("the emulator's counts: {counts:?}")
        };
        assert_eq!(faults.len(), MIX.len(), "the emulator's counts: {counts:?}");
        EmulatorCounts {
            accepted: *accepted,
            peak_open: *peak_open,
            open_after: *open_after,
            faults: MIX
                .iter()
                .map(|(kind, _)| *kind)
                .zip(faults.iter().copied())
                .collect(),
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        // A soak that failed before `finish` ends the process now rather than after it
        // waits for its connections to close.
        if self.stdin.is_some() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// What one transport's soak measured.
struct Soak {
    transport: &'static str,
    seed: u64,
    /// Callers and the client's connection cap.
    callers: usize,
    cap: usize,
    wall: Duration,
    outcomes: Vec<Outcome>,
    /// The most client sockets seen open at once, and over how many samples.
    client_sockets: (usize, usize),
    /// What the emulator counted; its peak is reported, not asserted (see
    /// [`SocketWatch`]).
    emulator: EmulatorCounts,
    /// "tasks" or "threads", and how many were left after the client was dropped.
    leftover: (&'static str, usize),
}

impl Soak {
    /// Prints the summary line, and returns what went wrong: the calls' problems first,
    /// then the first broken promise of the module docs.
    fn check(&self) -> Result<(), String> {
        let mut successes = 0usize;
        let mut errors: BTreeMap<String, usize> = BTreeMap::new();
        let mut attempts: BTreeMap<u32, usize> = BTreeMap::new();
        let mut problems: Vec<String> = Vec::new();
        let longest = self
            .outcomes
            .iter()
            .map(|o| o.took)
            .max()
            .unwrap_or_default();
        for o in &self.outcomes {
            if o.took > DEADLINE + MARGIN {
                problems.push(format!("a call took {:?}", o.took));
            }
            match &o.result {
                Ok(count) => {
                    successes += 1;
                    if *count != COUNT {
                        problems.push(format!("count {count} instead of {COUNT}"));
                    }
                }
                Err(f) => {
                    let name = match f.status {
                        Some(status) => format!("{} {status}", f.kind),
                        None => f.kind.to_string(),
                    };
                    *errors.entry(name).or_default() += 1;
                    *attempts.entry(f.attempts).or_default() += 1;
                    match (f.kind, f.status) {
                        // Retries ran out, or the next would not have started before the
                        // deadline (a backoff is at most twice BACKOFF before the last).
                        (ErrorKind::Status, Some(503)) => {
                            if f.attempts != MAX_ATTEMPTS
                                && o.took + 2 * BACKOFF + Duration::from_millis(10) < DEADLINE
                            {
                                problems.push(format!(
                                    "a 503 after {} attempts and {:?}: {}",
                                    f.attempts, o.took, f.shown
                                ));
                            }
                        }
                        (ErrorKind::Timeout | ErrorKind::Io, None) => {}
                        _ => problems.push(format!("unexpected error: {}", f.shown)),
                    }
                    if f.attempts == 0 || f.attempts > MAX_ATTEMPTS {
                        problems.push(format!("{} attempts: {}", f.attempts, f.shown));
                    }
                    if SECRETS.iter().any(|s| f.shown.contains(s)) {
                        problems.push(format!("an error shows a secret: {}", f.shown));
                    }
                }
            }
        }
        let failed: usize = errors.values().sum();
        let requests: u64 = self.emulator.faults.values().sum();
        let (most_sockets, samples) = self.client_sockets;
        println!(
            "soak {} seed {}: {} calls in {:.1} s ({} callers, cap {}): {successes} ok, \
             {failed} errors {errors:?} (by attempts {attempts:?}); {requests} requests \
             {:?}; longest call {} ms (deadline {} ms); client sockets at most {most_sockets} \
             open at once ({samples} samples); the emulator accepted {} connections, counted \
             at most {} open at once, {} open after; {} left after the client was dropped: {}",
            self.transport,
            self.seed,
            self.outcomes.len(),
            self.wall.as_secs_f64(),
            self.callers,
            self.cap,
            self.emulator.faults,
            longest.as_millis(),
            DEADLINE.as_millis(),
            self.emulator.accepted,
            self.emulator.peak_open,
            self.emulator.open_after,
            self.leftover.0,
            self.leftover.1,
        );
        let replay = format!(
            "[{} soak, replay with KMS_SOAK_SEED={}]",
            self.transport, self.seed
        );
        macro_rules! ensure {
            ($holds:expr, $($what:tt)*) => {
                if !$holds {
                    return Err(format!("{} {replay}", format!($($what)*)));
                }
            };
        }
        let first: Vec<&String> = problems.iter().take(5).collect();
        ensure!(
            problems.is_empty(),
            "{} problems, the first: {first:#?}",
            problems.len()
        );
        // The floor: faults of every kind were applied, and both outcomes happened.
        let floor = (self.outcomes.len() / 100) as u64;
        for (kind, n) in &self.emulator.faults {
            ensure!(
                *n >= floor,
                "only {n} requests got {kind:?} (at least {floor} expected)"
            );
        }
        ensure!(
            successes >= self.outcomes.len() / 2,
            "only {successes} of {} calls succeeded",
            self.outcomes.len()
        );
        ensure!(failed > 0, "no call failed: were faults injected?");
        ensure!(
            most_sockets <= self.cap,
            "the client held {most_sockets} connections open at once, its cap is {}",
            self.cap
        );
        ensure!(
            most_sockets <= self.callers,
            "the client held {most_sockets} connections open at once for {} callers",
            self.callers
        );
        ensure!(
            self.emulator.open_after == 0,
            "the emulator still had {} connections open {SETTLE:?} after the client was \
             dropped",
            self.emulator.open_after
        );
        ensure!(
            self.leftover.1 == 0,
            "{} {} left {SETTLE:?} after the client was dropped",
            self.leftover.1,
            self.leftover.0,
        );
        Ok(())
    }
}

fn soak_ureq(seed: u64, calls: usize) -> Soak {
    let emulator = Emulator::start(seed);
    let watch = SocketWatch::start();
    // The watch's thread is running: no more threads than now may be left afterwards.
    let baseline = threads();
    let client = kms_ureq::Client::new(config(&emulator.url(), UREQ_CONNECTIONS)).unwrap();
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    let outcomes: Vec<Outcome> = std::thread::scope(|scope| {
        let callers: Vec<_> = (0..UREQ_THREADS)
            .map(|_| {
                let client = client.clone();
                let next = &next;
                scope.spawn(move || {
                    let mut outcomes = Vec::new();
                    while next.fetch_add(1, Ordering::Relaxed) < calls {
                        let call = Instant::now();
                        let result = client.show_user_instances();
                        outcomes.push(outcome(call.elapsed(), result));
                    }
                    outcomes
                })
            })
            .collect();
        callers
            .into_iter()
            .flat_map(|caller| {
                caller
                    .join()
                    .unwrap_or_else(|_| panic!("a kms-ureq caller thread panicked (seed {seed})"))
            })
            .collect()
    });
    let wall = started.elapsed();
    drop(client);
    eventually(SETTLE, || threads() <= baseline);
    let leftover = threads().saturating_sub(baseline);
    Soak {
        transport: "kms-ureq",
        seed,
        callers: UREQ_THREADS,
        cap: UREQ_CONNECTIONS,
        wall,
        outcomes,
        client_sockets: watch.stop(),
        emulator: emulator.finish(),
        leftover: ("threads beyond the baseline", leftover),
    }
}

fn soak_hyper(seed: u64, calls: usize) -> Soak {
    let emulator = Emulator::start(seed);
    let watch = SocketWatch::start();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let metrics = runtime.metrics();
    let started = Instant::now();
    let config = config(&emulator.url(), HYPER_CONNECTIONS);
    // The client lives inside `block_on`: the callers' clones end with their tasks, the
    // client itself when the block does.
    let outcomes =
        runtime.block_on(async {
            assert_eq!(metrics.num_alive_tasks(), 0, "a fresh runtime has no task");
            let client = kms_hyper::Client::new(config).unwrap();
            let next = Arc::new(AtomicUsize::new(0));
            let mut callers = tokio::task::JoinSet::new();
            for _ in 0..HYPER_TASKS {
                let client = client.clone();
                let next = Arc::clone(&next);
                callers.spawn(async move {
                    let mut outcomes = Vec::new();
                    while next.fetch_add(1, Ordering::Relaxed) < calls {
                        let call = Instant::now();
                        let result = client.show_user_instances().await;
                        outcomes.push(outcome(call.elapsed(), result));
                    }
                    outcomes
                });
            }
            let mut outcomes = Vec::with_capacity(calls);
            while let Some(joined) = callers.join_next().await {
                outcomes.extend(joined.unwrap_or_else(|e| {
                    panic!("a kms-hyper caller task failed (seed {seed}): {e}")
                }));
            }
            outcomes
        });
    let wall = started.elapsed();
    // The runtime's workers go on running what winds down.
    eventually(SETTLE, || metrics.num_alive_tasks() == 0);
    let leftover = metrics.num_alive_tasks();
    drop(runtime);
    Soak {
        transport: "kms-hyper",
        seed,
        callers: HYPER_TASKS,
        cap: HYPER_CONNECTIONS,
        wall,
        outcomes,
        client_sockets: watch.stop(),
        emulator: emulator.finish(),
        leftover: ("tasks", leftover),
    }
}

#[test]
fn soak_with_faults_through_both_transports() {
    let seed = seed();
    let calls = calls();
    println!("soak: KMS_SOAK_SEED={seed} KMS_SOAK_CALLS={calls}");
    // kms-ureq first: the process's threads are counted before this test starts a runtime.
    let ureq = soak_ureq(seed, calls);
    let hyper = soak_hyper(seed, calls);
    let verdicts = [ureq.check(), hyper.check()];
    let failed: Vec<String> = verdicts.into_iter().filter_map(Result::err).collect();
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}
