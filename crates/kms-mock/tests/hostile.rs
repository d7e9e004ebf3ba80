//! Hostile and careless clients: request bodies that never arrive, more connections than
//! the emulator will hold, and the counts of open connections that soak tests watch.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // a test fails by panicking

mod common;

use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::*;
use kms_mock::{BlockingMockServer, MockConfig};

/// The short body timeout these tests configure instead of the 30 s default.
const BODY_TIMEOUT: Duration = Duration::from_millis(200);

/// How much later than its deadline the emulator may act before a test calls it late.
const MARGIN: Duration = Duration::from_secs(2);

/// Polls `condition` every 5 ms until it holds or `within` has passed; returns whether it
/// held.
fn eventually(within: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A token request's bytes with its head complete and `Content-Length: declared`, followed by
/// only `sent` bytes of the body.
fn head_with_short_body(url: &str, declared: usize, sent: usize) -> Vec<u8> {
    let mut request = token_request(url, TOKEN, PID);
    request
        .headers_mut()
        .insert("content-length", declared.into());
    *request.body_mut() = vec![b'x'; sent];
    serialize(&request)
}

fn start_with(config: MockConfig) -> BlockingMockServer {
    BlockingMockServer::start(config).expect("the emulator starts")
}

// ---------------------------------------------------------------------------------------
// Open connections
// ---------------------------------------------------------------------------------------

#[test]
fn open_connections_counts_sockets_from_accept_to_close_and_peak_keeps_the_most() {
    let server = start();
    assert_eq!(server.open_connections(), 0);
    assert_eq!(server.peak_open_connections(), 0);

    // Idle sockets count as soon as they are accepted, before any byte is sent.
    let mut clients: Vec<TcpStream> = (0..5)
        .map(|_| TcpStream::connect(server.local_addr()).unwrap())
        .collect();
    assert!(
        eventually(MARGIN, || server.open_connections() == 5),
        "open: {}",
        server.open_connections()
    );
    assert_eq!(server.peak_open_connections(), 5);

    clients.truncate(2);
    assert!(
        eventually(MARGIN, || server.open_connections() == 2),
        "open after 3 hang-ups: {}",
        server.open_connections()
    );
    assert_eq!(
        server.peak_open_connections(),
        5,
        "the peak is not forgotten"
    );

    drop(clients);
    assert!(eventually(MARGIN, || server.open_connections() == 0));
    // A connection that served requests counts the same, and the peak stays.
    let mut conn = connect(server.local_addr());
    assert_count(
        &conn
            .send(&token_request(&server.url(), TOKEN, PID))
            .unwrap(),
        COUNT,
    );
    assert_eq!(server.open_connections(), 1);
    drop(conn);
    assert!(eventually(MARGIN, || server.open_connections() == 0));
    assert_eq!(server.peak_open_connections(), 5);
    assert_eq!(server.connections(), 6, "accepted in all");
}

#[tokio::test]
async fn the_async_server_has_the_same_counts() {
    let server = kms_mock::MockServer::start(config()).await.unwrap();
    let addr = server.local_addr();
    let clients = tokio::task::spawn_blocking(move || {
        (0..3)
            .map(|_| TcpStream::connect(addr).unwrap())
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    let deadline = Instant::now() + MARGIN;
    while server.open_connections() < 3 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(server.open_connections(), 3);
    assert_eq!(server.peak_open_connections(), 3);
    drop(clients);
    let deadline = Instant::now() + MARGIN;
    while server.open_connections() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(server.open_connections(), 0);
    assert_eq!(server.peak_open_connections(), 3);
    server.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// The connection cap
// ---------------------------------------------------------------------------------------

#[test]
fn fifty_clients_against_a_cap_of_eight_are_all_answered_never_more_than_eight_open() {
    let server = start_with(config().with_max_connections(8));
    let addr = server.local_addr();
    let request = token_request(&server.url(), TOKEN, PID);
    let clients: Vec<_> = (0..50)
        .map(|_| {
            let request = request.clone();
            std::thread::spawn(move || {
                let mut conn = connect(addr);
                let response = conn.send(&request);
                // Hold the connection a little so that the clients overlap.
                std::thread::sleep(Duration::from_millis(30));
                response
            })
        })
        .collect();
    for client in clients {
        assert_count(&client.join().unwrap().unwrap(), COUNT);
    }
    let peak = server.peak_open_connections();
    assert!(peak <= 8, "{peak} connections open at once, cap 8");
    assert!(peak >= 2, "the clients never overlapped (peak {peak})");
    assert_eq!(server.connections(), 50);
    assert!(eventually(MARGIN, || server.open_connections() == 0));
}

#[test]
fn a_connection_over_the_cap_waits_unanswered_until_a_slot_frees() {
    let server = start_with(config().with_max_connections(2));
    let idle: Vec<TcpStream> = (0..2)
        .map(|_| TcpStream::connect(server.local_addr()).unwrap())
        .collect();
    assert!(eventually(MARGIN, || server.open_connections() == 2));

    // The kernel completes the handshake (the backlog), but the emulator does not accept.
    let mut waiting = connect(server.local_addr());
    waiting.set_read_timeout(Duration::from_millis(200));
    waiting
        .write_request(&token_request(&server.url(), TOKEN, PID))
        .unwrap();
    match waiting.read_response() {
        Err(ClientError::Timeout { received: 0 }) => {}
        other => panic!("a connection over the cap was served: {other:?}"),
    }
    assert_eq!(server.open_connections(), 2);
    assert_eq!(server.connections(), 2);

    drop(idle);
    waiting.set_read_timeout(IO_TIMEOUT);
    assert_count(&waiting.read_response().unwrap(), COUNT);
    assert_eq!(server.peak_open_connections(), 2);
}

#[test]
fn max_connections_of_zero_still_serves_one_at_a_time() {
    let server = start_with(config().with_max_connections(0));
    for _ in 0..2 {
        assert_count(
            &send_ok(
                server.local_addr(),
                &token_request(&server.url(), TOKEN, PID),
            ),
            COUNT,
        );
    }
    assert_eq!(server.peak_open_connections(), 1);
}

// ---------------------------------------------------------------------------------------
// Slow request bodies
// ---------------------------------------------------------------------------------------

#[test]
fn the_default_body_read_timeout_is_thirty_seconds_like_the_head_timeout() {
    assert_eq!(kms_mock::BODY_READ_TIMEOUT, Duration::from_secs(30));
    assert_eq!(kms_mock::BODY_READ_TIMEOUT, kms_mock::HEADER_READ_TIMEOUT);
}

#[test]
fn a_body_that_stops_short_is_answered_408_and_closed_after_the_body_timeout() {
    let server = start_with(config().with_body_read_timeout(BODY_TIMEOUT));
    let mut conn = connect(server.local_addr());
    let started = Instant::now();
    conn.write_raw(&head_with_short_body(&server.url(), 100, 10))
        .unwrap();
    let response = conn.read_response().unwrap();
    let waited = started.elapsed();
    let message = assert_flat_error(&response, 408, "APIGW.0201");
    assert!(message.contains("timeout"), "{message}");
    assert_eq!(response.header("connection"), Some("close"));
    assert!(conn.is_closed_by_peer(), "the connection stays open");
    assert!(
        waited >= BODY_TIMEOUT && waited < BODY_TIMEOUT + MARGIN,
        "answered after {waited:?}, timeout {BODY_TIMEOUT:?}"
    );
    // The request is recorded with what arrived of its body.
    let recorded = server.requests();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].body_len, 10);
    assert_eq!(recorded[0].request_id, response.request_id());
    assert!(eventually(MARGIN, || server.open_connections() == 0));
}

#[test]
fn an_unfinished_chunked_body_times_out_too() {
    let server = start_with(config().with_body_read_timeout(BODY_TIMEOUT));
    let mut raw = serialize(&token_request(&server.url(), TOKEN, PID));
    raw.truncate(raw.len() - 2); // reopen the head
    raw.extend_from_slice(b"transfer-encoding: chunked\r\n\r\n5\r\nhello\r\n");
    let mut conn = connect(server.local_addr());
    conn.write_raw(&raw).unwrap();
    let response = conn.read_response().unwrap();
    assert_flat_error(&response, 408, "APIGW.0201");
    assert!(conn.is_closed_by_peer());
    assert_eq!(server.requests()[0].body_len, 5);
}

#[test]
fn thirty_stalled_bodies_all_close_and_no_connection_stays_open() {
    let server = start_with(config().with_body_read_timeout(BODY_TIMEOUT));
    let head = head_with_short_body(&server.url(), 1000, 0);
    // The clients keep their sockets: only the emulator can close these connections.
    let mut clients: Vec<_> = (0..30)
        .map(|_| {
            let mut conn = connect(server.local_addr());
            conn.write_raw(&head).unwrap();
            conn
        })
        .collect();
    assert!(eventually(MARGIN, || server.open_connections() == 30));
    assert!(
        eventually(BODY_TIMEOUT + MARGIN, || server.open_connections() == 0),
        "{} connections still open {:?} after the body timeout",
        server.open_connections(),
        MARGIN
    );
    for conn in &mut clients {
        assert_eq!(conn.read_response().unwrap().status(), 408);
        assert!(conn.is_closed_by_peer());
    }
    assert_eq!(server.peak_open_connections(), 30);
}

#[test]
fn a_body_that_arrives_in_pieces_within_the_timeout_is_served() {
    let timeout = Duration::from_millis(400);
    let server = start_with(config().with_body_read_timeout(timeout));
    let mut conn = connect(server.local_addr());
    let raw = head_with_short_body(&server.url(), 20, 20);
    let (first, rest) = raw.split_at(raw.len() - 15);
    conn.write_raw(first).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    conn.write_raw(rest).unwrap();
    let response = conn.read_response().unwrap();
    assert_count(&response, COUNT);
    assert_eq!(server.requests()[0].body_len, 20);
    // The connection carries on past the timeout: it is per request, not per connection.
    std::thread::sleep(timeout);
    let mut again = token_request(&server.url(), TOKEN, PID);
    *again.body_mut() = b"{}".to_vec();
    assert_count(&conn.send(&again).unwrap(), COUNT);
}
