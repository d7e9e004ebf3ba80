//! The seed corpus of `client_machine`: hand-made inputs, each checked to reach the state it
//! is named after. `KMS_WRITE_SEEDS=1 cargo test -p kms-fuzz-harness seeds` (re)writes them
//! to `fuzz/corpus/client_machine/seed-<name>`.

use super::*;

/// Static AK/SK; `shape`, `retry`, `timing` and `mode` as [`client_machine`] reads them.
fn header(creds: u8, shape: u8, retry: u8, timing: u8, mode: u8) -> Vec<u8> {
    vec![creds, shape, retry, timing, mode, 1, 2, 3, 4, 128]
}

/// A KMS answer: 200 with this count (the `Send`'s byte, the answer, the step).
fn count(n: u8) -> Vec<u8> {
    vec![0, 0, 0, 0, 0, n, 0, 0, 0]
}

fn ok(t: &Trace, n: u64) -> bool {
    t.calls.iter().all(|c| c.result == Some(Ok(n)))
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

type Check = fn(&Trace) -> bool;

fn seeds() -> Vec<(&'static str, Vec<u8>, Check)> {
    vec![
        (
            "aksk-success",
            // choice, refresh run, choice, the answer.
            cat(&[&header(0, 0, 3, 3, 1), &[0, 0, 0], &count(17)]),
            |t| ok(t, 17) && t.calls[0].ports == [1],
        ),
        (
            "retry-after-429",
            // 429 with a KMS error document and Retry-After: 1, a sleep, then the count.
            cat(&[
                &header(0, 0, 3, 3, 1),
                &[0, 0, 0, 0, 0x21, 0, 3, 0],
                &[0, 0],
                &[0],
                &count(9),
            ]),
            |t| ok(t, 9) && t.calls[0].sleeps == 1 && t.calls[0].ports == [1, 1],
        ),
        (
            "failover",
            // Three endpoints: the first cannot be reached, the second answers.
            cat(&[
                &header(0, 2, 3, 3, 1),
                &[0, 0, 0, 0, 0xE0, 0],
                &[0],
                &count(5),
            ]),
            |t| ok(t, 5) && t.calls[0].ports == [1, 2],
        ),
        (
            "skew-resign",
            // 401 "signature expired", the gateway an hour ahead: signed again at once.
            cat(&[
                &header(0, 0, 3, 3, 1),
                &[0, 0, 0, 0, 0x1A, 2, 0, 0],
                &[0],
                &count(3),
            ]),
            |t| ok(t, 3) && t.calls[0].ports == [1, 1] && t.calls[0].sleeps == 0,
        ),
        (
            "metadata-refresh",
            // The refresh: a session token (PUT), then the key document (an hour).
            cat(&[
                &header(3, 0, 3, 3, 1),
                &[0, 0],
                &[0, 1, 2, 3, 4, 0, 0],
                &[0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 4, 0, 0],
                &[0],
                &count(4),
            ]),
            |t| ok(t, 4) && t.refreshes == 1,
        ),
        (
            "password-token",
            // IAM's token (X-Subject-Token, a day), then the call with it.
            cat(&[
                &header(4, 0, 3, 3, 1),
                &[0, 0],
                &[0, 1, 2, 3, 4, 5, 6, 6, 0, 0],
                &[0],
                &count(6),
            ]),
            |t| ok(t, 6) && t.refreshes == 1,
        ),
        (
            "profile-file",
            cat(&[&header(5, 0, 3, 3, 1), &[0, 0, 0], &[0], &count(8)]),
            |t| ok(t, 8) && t.refreshes == 1,
        ),
        (
            "discover-project",
            // IAM lists the project; the waiters are woken; then KMS.
            cat(&[
                &header(0, 4, 3, 3, 1),
                &[0, 0],
                &[0, 0, 0, 0, 0, 0],
                &[0, 0],
                &count(2),
            ]),
            |t| ok(t, 2) && t.calls[0].iam == 1,
        ),
        (
            "interleaved-discovery",
            // Two calls in turn: the first asks IAM and holds the exchange out, the
            // second waits for it; the answer wakes it.
            cat(&[
                &header(0, 4, 3, 3, 6),
                &[0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0],
                &count(1),
                &[0, 0],
                &count(1),
            ]),
            |t| {
                t.calls.len() == 2
                    && t.calls.iter().map(|c| c.iam).sum::<usize>() == 1
                    && t.calls.iter().any(|c| c.waits > 0)
            },
        ),
        (
            "token-echoed",
            // A token whose 401 echoes it; no retry.
            cat(&[&header(2, 0, 0, 3, 1), &[0, 0, 0, 0, 0x1B, 0, 0]]),
            |t| t.calls[0].result == Some(Err(ErrorKind::Service)),
        ),
        (
            "poll-before-report",
            cat(&[&header(0, 0, 3, 3, 1), &[0, 0, 0, 0xFF]]),
            |t| t.calls[0].result == Some(Err(ErrorKind::Io)),
        ),
        (
            "lost-refresh",
            // Metadata's refresh is never run: the call waits until its deadline.
            cat(&[&header(3, 0, 3, 0, 1), &[0, 7, 0, 0]]),
            |t| t.calls[0].result == Some(Err(ErrorKind::Credentials)) && t.calls[0].waits == 1,
        ),
        (
            "timeouts-exhaust-retries",
            // Every attempt times out after it may have been sent; three calls in a row.
            cat(&[&header(0, 1, 2, 2, 3), &[0, 0], &[0xE6; 64]]),
            |t| t.calls.len() == 3,
        ),
    ]
}

#[test]
#[allow(clippy::print_stdout, reason = "says what each seed did")]
fn seeds_reach_their_states() {
    let write = std::env::var_os("KMS_WRITE_SEEDS").is_some();
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/client_machine");
    let mut failed = Vec::new();
    for (name, data, check) in seeds() {
        let trace = run(&data);
        println!("{name}: {trace:?}");
        if !check(&trace) {
            failed.push(name);
        }
        if write {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(format!("seed-{name}")), &data).unwrap();
        }
    }
    assert!(failed.is_empty(), "seeds that miss their state: {failed:?}");
}
