//! Side-by-side timing shared by the benches of the workspace (included with `#[path]`):
//! the baseline and the code under test take turns, round after round, in one process, so
//! drift (frequency, other load) hits both alike; the median of the per-round ratios is
//! what is reported.

#![allow(
    clippy::print_stdout,
    clippy::indexing_slicing,
    dead_code,
    reason = "a bench prints its result"
)]

use std::time::{Duration, Instant};

/// How long each side runs per round, and how many rounds: quick under `--test`.
pub(crate) fn budget() -> (Duration, usize) {
    if std::env::args().any(|a| a == "--test") {
        (Duration::from_millis(20), 3)
    } else {
        (Duration::from_millis(300), 15)
    }
}

/// Runs `baseline` and `subject` in turns; each closure performs `n` operations and the
/// per-operation time is compared. Prints one line and returns the median ratio
/// (subject time / baseline time).
pub(crate) fn compare(
    label: &str,
    mut baseline: impl FnMut(u64),
    mut subject: impl FnMut(u64),
) -> f64 {
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
    let mut ratios = Vec::with_capacity(rounds);
    let mut base_ns = Vec::with_capacity(rounds);
    let mut subj_ns = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let time = |f: &mut dyn FnMut(u64), n: u64| {
            let t = Instant::now();
            f(n);
            t.elapsed().as_nanos() as f64 / n as f64
        };
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
    let (ratio, b, s) = (
        median(&mut ratios),
        median(&mut base_ns),
        median(&mut subj_ns),
    );
    println!("side-by-side {label}: baseline {b:.1} ns/op, ours {s:.1} ns/op, ratio {ratio:.2}x");
    ratio
}
