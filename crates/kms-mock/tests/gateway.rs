//! The API gateway's protections: an AK locked after failed signatures in a row, and a
//! per-credential throttle answering 429 with `Retry-After`. Their windows pass on a test
//! clock, moved by hand: nothing here sleeps.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // a test fails by panicking

mod common;

use std::time::Duration;

use common::*;
use kms_mock::BlockingMockServer;
use kms_proto::AkSk;

const LOCKED: &str = "locked";
const MISMATCH: &str = "verify aksk signature fail";

/// Starts the emulator with `config` on `clock`.
fn start_on(clock: &TestClock, config: kms_mock::MockConfig) -> BlockingMockServer {
    BlockingMockServer::start(clock.install(config)).unwrap()
}

/// Sends a request signed with `sk` at the emulator's time and returns (status, error
/// message if any).
fn try_sk(server: &BlockingMockServer, clock: &TestClock, sk: &str) -> (u16, String) {
    let response = send_ok(
        server.local_addr(),
        &build(&server.url(), AkSk::new(AK, sk).unwrap(), PID, clock.now()),
    );
    if response.status() == 200 {
        assert_count(&response, COUNT);
        return (200, String::new());
    }
    let message = assert_flat_error(&response, 401, "APIGW.0301");
    (401, message)
}

#[test]
fn five_wrong_signatures_lock_the_ak_even_for_the_right_one_until_the_lockout_ends() {
    // The gateway's own lockout: no test has to wait for it.
    let lockout = Duration::from_secs(5 * 60);
    let clock = TestClock::new();
    let server = start_on(&clock, config().with_lockout(5, lockout));
    for attempt in 1..=5 {
        let (status, message) = try_sk(&server, &clock, "SKwrong");
        assert_eq!(status, 401, "attempt {attempt}");
        assert!(message.contains(MISMATCH), "attempt {attempt}: {message}");
    }

    let (status, message) = try_sk(&server, &clock, SK);
    assert_eq!(
        status, 401,
        "the right SK is refused while the AK is locked"
    );
    assert!(message.contains(LOCKED), "{message}");

    // Other credentials are not affected.
    let temporary = AkSk::new(TEMP_AK, TEMP_SK)
        .unwrap()
        .with_security_token(SECURITY_TOKEN)
        .unwrap();
    let response = send_ok(
        server.local_addr(),
        &build(&server.url(), temporary, PID, clock.now()),
    );
    assert_count(&response, COUNT);

    // Locked to the last second of the lockout, by the emulator's clock...
    clock.advance(lockout - Duration::from_secs(1));
    let (status, message) = try_sk(&server, &clock, SK);
    assert_eq!(status, 401, "still locked a second before the end");
    assert!(message.contains(LOCKED), "{message}");
    // ...and accepted once it has passed.
    clock.advance(Duration::from_secs(1));
    let (status, message) = try_sk(&server, &clock, SK);
    assert_eq!(status, 200, "accepted after the lockout: {message}");
}

#[test]
fn a_success_in_between_resets_the_failure_count() {
    let clock = TestClock::new();
    let server = start_on(&clock, config().with_lockout(5, Duration::from_secs(60)));
    for _ in 0..4 {
        assert_eq!(try_sk(&server, &clock, "SKwrong").0, 401);
    }
    assert_eq!(try_sk(&server, &clock, SK).0, 200);
    for attempt in 1..=4 {
        let (status, message) = try_sk(&server, &clock, "SKwrong");
        assert_eq!(status, 401);
        assert!(
            message.contains(MISMATCH) && !message.contains(LOCKED),
            "attempt {attempt}: {message}"
        );
    }
    assert_eq!(
        try_sk(&server, &clock, SK).0,
        200,
        "4 + 4 failures do not lock"
    );
    // The count was not carried over: five more in a row do lock.
    for _ in 0..5 {
        assert_eq!(try_sk(&server, &clock, "SKwrong").0, 401);
    }
    let (status, message) = try_sk(&server, &clock, SK);
    assert_eq!(status, 401);
    assert!(message.contains(LOCKED), "{message}");
}

#[test]
fn lockout_after_zero_failures_never_locks() {
    let clock = TestClock::new();
    let server = start_on(&clock, config().with_lockout(0, Duration::from_secs(60)));
    for _ in 0..8 {
        assert_eq!(try_sk(&server, &clock, "SKwrong").0, 401);
    }
    assert_eq!(try_sk(&server, &clock, SK).0, 200);
}

#[test]
fn third_request_in_the_window_is_429_apig_0308_with_retry_after_then_passes_after_waiting() {
    let window = Duration::from_secs(60);
    let clock = TestClock::new();
    let server = start_on(&clock, config().with_throttle(2, window));
    let url = server.url();
    let request = build(
        &url,
        kms_proto::AuthToken::new(TOKEN).unwrap(),
        PID,
        clock.now(),
    );
    assert_count(&send_ok(server.local_addr(), &request), COUNT);
    assert_count(&send_ok(server.local_addr(), &request), COUNT);

    let response = send_ok(server.local_addr(), &request);
    let message = assert_flat_error(&response, 429, "APIG.0308");
    assert!(message.contains("limit:2"), "{message}");
    let retry_after: u64 = response
        .header("retry-after")
        .expect("a Retry-After header")
        .parse()
        .expect("Retry-After in seconds");
    assert!(retry_after >= 1, "Retry-After {retry_after}");
    // The clock has not moved: the whole window is left.
    assert_eq!(retry_after, window.as_secs());
    let error = kms_proto::parse(
        http::StatusCode::TOO_MANY_REQUESTS,
        &response.header_map(),
        &response.body,
    )
    .unwrap_err();
    assert!(error.is_throttled(), "{error:?}");
    assert!(error.is_retryable(), "{error:?}");

    // The throttle counts per credential: the AK has its own window.
    assert_count(
        &send_ok(
            server.local_addr(),
            &build(&url, AkSk::new(AK, SK).unwrap(), PID, clock.now()),
        ),
        COUNT,
    );

    // A second before the window ends it still refuses, and says one second is left...
    clock.advance(Duration::from_secs(retry_after - 1));
    let response = send_ok(server.local_addr(), &request);
    assert_flat_error(&response, 429, "APIG.0308");
    assert_eq!(response.header("retry-after"), Some("1"));
    // ...and after waiting what Retry-After said, it passes.
    clock.advance(Duration::from_secs(1));
    assert_count(&send_ok(server.local_addr(), &request), COUNT);
}

/// Sends `request` and returns its status (asserting the 200's count, or the 429's shape
/// and `Retry-After: 1`, the only two answers a throttled, valid request may get).
fn status_of(server: &BlockingMockServer, request: &http::Request<Vec<u8>>) -> u16 {
    let response = send_ok(server.local_addr(), request);
    if response.status() == 200 {
        assert_count(&response, COUNT);
        return 200;
    }
    let message = assert_flat_error(&response, 429, "APIG.0308");
    assert!(
        message.contains("policy user over ratelimit,limit:20,time:1 second"),
        "{message}"
    );
    assert_eq!(response.header("retry-after"), Some("1"));
    429
}

/// Sends `request` `n` times and returns how many were admitted.
fn admitted(server: &BlockingMockServer, request: &http::Request<Vec<u8>>, n: usize) -> usize {
    (0..n).filter(|_| status_of(server, request) == 200).count()
}

#[test]
fn the_kms_throttle_admits_20_requests_in_any_second_even_across_a_window_edge() {
    let clock = TestClock::new();
    let server = start_on(&clock, config().with_kms_throttle());
    let url = server.url();
    let token = build(
        &url,
        kms_proto::AuthToken::new(TOKEN).unwrap(),
        PID,
        clock.now(),
    );

    // 10 at 0 ms and 10 at 900 ms: the 21st within the second is refused.
    assert_eq!(admitted(&server, &token, 10), 10);
    clock.advance(Duration::from_millis(900));
    assert_eq!(admitted(&server, &token, 11), 10);
    // At 1000 ms the first ten have left the window, the last ten have not: ten more, not
    // the twenty a fixed window starting afresh at 1 s would admit (30 in 100 ms).
    clock.advance(Duration::from_millis(100));
    assert_eq!(admitted(&server, &token, 15), 10);
    clock.advance(Duration::from_millis(899));
    assert_eq!(
        admitted(&server, &token, 1),
        0,
        "1899 ms: still 20 in the last second"
    );
    clock.advance(Duration::from_millis(1));
    assert_eq!(
        admitted(&server, &token, 11),
        10,
        "1900 ms: the ten of 900 ms left"
    );

    // Each credential has a limit of its own: the AK, signed now, is not throttled by the
    // token's requests.
    let aksk = build(&url, AkSk::new(AK, SK).unwrap(), PID, clock.now());
    assert_eq!(admitted(&server, &aksk, 21), 20);
    // A client that waits what Retry-After says (1 s) is admitted again, and a steady
    // 20 per second is never refused.
    for _ in 0..5 {
        clock.advance(Duration::from_secs(1));
        assert_eq!(admitted(&server, &token, 20), 20);
        assert_eq!(admitted(&server, &aksk, 20), 20);
    }
}

#[test]
fn without_a_throttle_nothing_is_ever_429() {
    // The default: rigs that count on an unthrottled emulator keep working.
    let clock = TestClock::new();
    let server = start_on(&clock, config());
    let request = build(
        &server.url(),
        kms_proto::AuthToken::new(TOKEN).unwrap(),
        PID,
        clock.now(),
    );
    for _ in 0..100 {
        assert_count(&send_ok(server.local_addr(), &request), COUNT);
    }
}
