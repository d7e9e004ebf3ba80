//! Side-by-side timing shared by the loopback benches of the transports (included with
//! `#[path]`):
//! the baseline and the code under test take turns, round after round, in one process, so
//! drift (frequency, other load) hits both alike; the median of the per-round ratios is
//! what is reported.

#![allow(
    clippy::print_stdout,
    clippy::indexing_slicing,
    dead_code,
    reason = "a bench prints its result; not every bench uses every helper"
)]

use std::time::{Duration, Instant};

/// How long each side runs per round, and how many rounds: quick under `--test`;
/// `KMS_BENCH_ROUNDS` sets the number of rounds of a real run (default 15), for noisy
/// comparisons such as many client threads sharing two cores with the server.
pub(crate) fn budget() -> (Duration, usize) {
    if std::env::args().any(|a| a == "--test") {
        return (Duration::from_millis(20), 3);
    }
    let rounds = std::env::var("KMS_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse::<usize>().ok())
        .filter(|&r| r > 0)
        .unwrap_or(15);
    (Duration::from_millis(300), rounds)
}

/// The median throughput ratio (subject calls/s over baseline calls/s; higher is better).
/// Prints one line, with the middle half of the per-round ratios.
pub(crate) fn compare_throughput(
    label: &str,
    baseline: impl FnMut(u64),
    subject: impl FnMut(u64),
) -> f64 {
    let m = measure(baseline, subject);
    let ratio = 1.0 / m.ratio;
    println!(
        "throughput {label}: baseline {:.0} calls/s, ours {:.0} calls/s, ratio {ratio:.2}x \
         (middle half of rounds {:.2}x-{:.2}x)",
        1e9 / m.baseline_ns,
        1e9 / m.subject_ns,
        1.0 / m.quartiles.1,
        1.0 / m.quartiles.0
    );
    ratio
}

struct Measurement {
    baseline_ns: f64,
    subject_ns: f64,
    /// Median of the per-round ratios subject/baseline.
    ratio: f64,
    /// First and third quartiles of the per-round ratios subject/baseline.
    quartiles: (f64, f64),
}

fn measure(mut baseline: impl FnMut(u64), mut subject: impl FnMut(u64)) -> Measurement {
    let (slice, rounds) = budget();
    // Calibrate: how many operations fill a slice.
    let calibrate = |f: &mut dyn FnMut(u64)| {
        let mut n = 1u64;
        loop {
            let t = Instant::now();
            f(n);
            if t.elapsed() >= slice / 4 || n >= 1 << 30 {
                return (n * 4).max(1);
            }
            n *= 2;
        }
    };
    let n_base = calibrate(&mut baseline);
    let n_subj = calibrate(&mut subject);
    let time = |f: &mut dyn FnMut(u64), n: u64| {
        let t = Instant::now();
        f(n);
        t.elapsed().as_nanos() as f64 / n as f64
    };
    let (mut ratios, mut base_ns, mut subj_ns) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        // Alternate which side goes first, so neither always runs on a warmer machine.
        let (b, s) = if round % 2 == 0 {
            let b = time(&mut baseline, n_base);
            (b, time(&mut subject, n_subj))
        } else {
            let s = time(&mut subject, n_subj);
            (time(&mut baseline, n_base), s)
        };
        ratios.push(s / b);
        base_ns.push(b);
        subj_ns.push(s);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    let ratio = median(&mut ratios);
    // `ratios` is sorted now.
    let quartiles = (ratios[ratios.len() / 4], ratios[ratios.len() * 3 / 4]);
    Measurement {
        baseline_ns: median(&mut base_ns),
        subject_ns: median(&mut subj_ns),
        ratio,
        quartiles,
    }
}
