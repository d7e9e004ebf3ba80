//! The recorder's real memory, measured as the growth of this process's resident set while
//! the emulator records requests: bounded for large heads, and about what is counted for
//! small ones (hyper's read buffers are not kept alive by the recorded headers).
//!
//! The only test in its binary, so that no other test allocates meanwhile. Linux only: it
//! reads `/proc/self/status`.
#![cfg(target_os = "linux")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // a test fails by panicking

mod common;

use common::*;
use http::HeaderValue;
use kms_mock::{BlockingMockServer, MAX_RECORDED_BYTES};

const MIB: u64 = 1024 * 1024;

/// The resident set of this process, in bytes.
fn resident() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

/// How much the resident set grows while `requests` requests, each on a fresh connection
/// as a flood of separate clients would send them, are answered and recorded.
fn growth(server: &BlockingMockServer, request: &http::Request<Vec<u8>>, requests: usize) -> u64 {
    // Warm up: the runtime, hyper and the allocator settle before measuring.
    for _ in 0..50 {
        send_ok(server.local_addr(), request);
    }
    server.clear_requests();
    let before = resident();
    for _ in 0..requests {
        send_ok(server.local_addr(), request);
    }
    resident().saturating_sub(before)
}

#[test]
fn recorded_requests_hold_about_what_they_are_counted_as_and_no_more_than_the_bound() {
    // 2 000 small requests: about 1.3 KiB each really held (2.6 MiB). When the recorded
    // headers were slices of hyper's read buffers, each kept a buffer alive: 5.3 KiB each.
    let server = start();
    let grew = growth(&server, &token_request(&server.url(), TOKEN, PID), 2000);
    assert_eq!(server.requests().len(), 2000);
    assert!(
        grew < 6 * MIB,
        "2000 small requests grew the process by {} KiB",
        grew / 1024
    );
    drop(server);

    // 2 000 unauthenticated requests with 15 KiB heads (30 MiB of heads; 35 MiB held when
    // only the count was bounded): the byte bound holds.
    let server = start();
    let mut request = token_request(&server.url(), TOKEN, PID);
    request.headers_mut().remove("x-auth-token");
    request.headers_mut().insert(
        "x-padding",
        HeaderValue::from_str(&"a".repeat(15 * 1024)).unwrap(),
    );
    let grew = growth(&server, &request, 2000);
    let bound = MAX_RECORDED_BYTES as u64;
    assert!(
        grew < 2 * bound,
        "2000 requests with 15 KiB heads grew the process by {} KiB, bound {} KiB",
        grew / 1024,
        bound / 1024
    );
}
