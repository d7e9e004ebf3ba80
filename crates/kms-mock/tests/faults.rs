//! Every scripted fault, seen from a raw client: what arrives on the wire, when, and that the
//! emulator keeps serving afterwards.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // a test fails by panicking

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use kms_mock::{BlockingMockServer, Fault};

const OK_BODY: &str = "{\"instance_num\":15}";

/// A token request for `project` on `server`.
fn request(server: &BlockingMockServer, project: &str) -> http::Request<Vec<u8>> {
    token_request(&server.url(), TOKEN, project)
}

/// A token for [`OTHER_PID`] too, so predicate tests can use both projects.
fn start_two_projects() -> BlockingMockServer {
    BlockingMockServer::start(config().with_token("other-token", OTHER_PID)).unwrap()
}

fn other_request(server: &BlockingMockServer) -> http::Request<Vec<u8>> {
    token_request(&server.url(), "other-token", OTHER_PID)
}

/// Asserts that the emulator still answers a fresh connection normally.
fn assert_healthy(server: &BlockingMockServer) {
    assert_count(&send_ok(server.local_addr(), &request(server, PID)), COUNT);
}

#[test]
fn respond_fault_scripts_status_headers_and_body_for_the_next_two_requests_then_normal() {
    let server = start();
    let body = r#"{"error_code":"APIG.1009","error_msg":"backend unavailable"}"#;
    server
        .faults()
        .next(2, Fault::json(503, body).with_header("retry-after", "3"));
    assert_eq!(server.faults().pending(), 1);
    // All on one keep-alive connection: a scripted answer is still a proper response.
    let mut conn = connect(server.local_addr());
    let mut ids = Vec::new();
    for attempt in 1..=2 {
        let response = conn.send(&request(&server, PID)).unwrap();
        assert_eq!(response.status(), 503, "attempt {attempt}");
        assert_eq!(response.text(), body);
        assert_eq!(response.header("retry-after"), Some("3"));
        assert_eq!(
            response.header("content-type"),
            Some("application/json;charset=UTF-8")
        );
        ids.push(response.request_id());
    }
    assert_ne!(ids[0], ids[1]);
    assert_eq!(server.faults().pending(), 0, "the rule is used up");
    assert_count(&conn.send(&request(&server, PID)).unwrap(), COUNT);
    assert_eq!(server.connections(), 1);
}

#[test]
fn respond_fault_with_an_empty_body_and_its_own_request_id() {
    let server = start();
    let custom = "0123456789abcdef0123456789abcdef";
    server
        .faults()
        .next(1, Fault::status(500).with_header("x-request-id", custom));
    let response = send_ok(server.local_addr(), &request(&server, PID));
    assert_eq!(response.status(), 500);
    assert!(response.body.is_empty());
    assert_eq!(response.head.content_length(), Some(0));
    let ids: Vec<&str> = response
        .head
        .headers
        .iter()
        .filter(|(n, _)| n == "x-request-id")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(ids, [custom], "the scripted id replaces the emulator's");
    assert_healthy(&server);
}

#[test]
fn respond_fault_sends_every_scripted_header_even_a_repeated_name() {
    let server = start();
    server.faults().next(
        1,
        Fault::status(200)
            .with_header("set-cookie", "a=1")
            .with_header("set-cookie", "b=2"),
    );
    let response = send_ok(server.local_addr(), &request(&server, PID));
    let cookies: Vec<&str> = response
        .head
        .headers
        .iter()
        .filter(|(n, _)| n == "set-cookie")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(cookies, ["a=1", "b=2"]);
}

#[test]
fn respond_fault_can_send_a_chunked_body_that_the_client_decodes() {
    let server = start();
    let body = r#"{"instance_num":42}"#;
    server.faults().next(
        1,
        Fault::json(200, body).with_header("transfer-encoding", "chunked"),
    );
    let mut conn = connect(server.local_addr());
    let response = conn.send(&request(&server, PID)).unwrap();
    assert_eq!(response.header("transfer-encoding"), Some("chunked"));
    assert_eq!(response.head.content_length(), None);
    assert_count(&response, 42);
    // The chunked body was read to its end: the connection carries on.
    assert_count(&conn.send(&request(&server, PID)).unwrap(), COUNT);
}

#[test]
fn delay_headers_holds_the_response_back_at_least_the_delay() {
    let server = start();
    let delay = Duration::from_millis(300);
    server.faults().next(1, Fault::DelayHeaders(delay));
    let mut conn = connect(server.local_addr());
    let sent = Instant::now();
    conn.write_request(&request(&server, PID)).unwrap();
    let head = conn.read_head().unwrap();
    let waited = sent.elapsed();
    assert!(waited >= delay, "headers after {waited:?}, delay {delay:?}");
    let body = conn.read_body(&head, usize::MAX, &mut |_| {}).unwrap();
    assert_eq!(head.status, 200);
    head.request_id();
    assert_eq!(body, OK_BODY.as_bytes());
}

#[test]
fn delay_headers_longer_than_the_clients_read_timeout_is_a_read_timeout_with_no_bytes() {
    let server = start();
    server
        .faults()
        .next(1, Fault::DelayHeaders(Duration::from_secs(2)));
    let mut conn = connect(server.local_addr());
    conn.set_read_timeout(Duration::from_millis(200));
    match conn.send(&request(&server, PID)) {
        Err(ClientError::Timeout { received: 0 }) => {}
        other => panic!("expected a read timeout with no bytes, got {other:?}"),
    }
    drop(conn);
    assert_healthy(&server);
}

#[test]
fn stall_body_sends_the_whole_body_with_a_pause_in_the_middle() {
    let server = start();
    let stall = Duration::from_millis(400);
    let after = 5;
    server.faults().next(1, Fault::StallBody { after, stall });
    let mut conn = connect(server.local_addr());
    conn.write_request(&request(&server, PID)).unwrap();
    let head = conn.read_head().unwrap();
    let head_at = Instant::now();
    assert_eq!(head.status, 200);
    head.request_id();
    assert_eq!(head.content_length(), Some(OK_BODY.len() as u64));
    let mut arrivals: Vec<(usize, Instant)> = vec![(0, head_at)];
    let body = conn
        .read_body(&head, usize::MAX, &mut |len| {
            arrivals.push((len, Instant::now()));
        })
        .unwrap();
    assert_eq!(body, OK_BODY.as_bytes(), "the body completes");
    // The longest pause between two reads is the stall, and it comes after `after` bytes.
    let (gap, at) = arrivals
        .windows(2)
        .map(|w| (w[1].1 - w[0].1, w[0].0))
        .max()
        .unwrap();
    assert_eq!(at, after, "stalled after {at} bytes; arrivals {arrivals:?}");
    // The client sees the first bytes a little after the server starts its pause.
    assert!(
        gap >= stall - Duration::from_millis(100),
        "a gap of only {gap:?} for a stall of {stall:?}"
    );
    // The connection is still usable.
    assert_count(&conn.send(&request(&server, PID)).unwrap(), COUNT);
}

#[test]
fn close_before_response_closes_the_connection_with_no_bytes() {
    let server = start();
    server.faults().next(1, Fault::CloseBeforeResponse);
    match send(server.local_addr(), &request(&server, PID)) {
        Err(ClientError::ClosedBeforeAnyByte) => {}
        other => panic!("expected a close before any byte, got {other:?}"),
    }
    assert_eq!(server.requests().len(), 1, "the request was received");
    assert_healthy(&server);
}

#[test]
fn close_mid_body_sends_fewer_bytes_than_content_length_then_closes() {
    let server = start();
    server.faults().next(1, Fault::CloseMidBody { after: 6 });
    match send(server.local_addr(), &request(&server, PID)) {
        Err(ClientError::ClosedMidBody {
            head,
            body,
            expected,
        }) => {
            assert_eq!(head.status, 200);
            head.request_id();
            assert_eq!(expected, Some(OK_BODY.len() as u64));
            assert_eq!(body, &OK_BODY.as_bytes()[..6]);
        }
        other => panic!("expected a close mid-body, got {other:?}"),
    }
    assert_healthy(&server);
}

#[test]
fn close_mid_body_past_the_end_still_withholds_the_last_byte() {
    let server = start();
    server.faults().next(1, Fault::CloseMidBody { after: 1000 });
    match send(server.local_addr(), &request(&server, PID)) {
        Err(ClientError::ClosedMidBody { body, expected, .. }) => {
            assert_eq!(expected, Some(OK_BODY.len() as u64));
            assert_eq!(body, &OK_BODY.as_bytes()[..OK_BODY.len() - 1]);
        }
        other => panic!("expected a close mid-body, got {other:?}"),
    }
}

#[test]
fn truncated_body_declares_more_than_it_sends_then_closes() {
    let server = start();
    let sent = b"{\"instance_num\":";
    server.faults().next(
        1,
        Fault::TruncatedBody {
            declared: 100,
            sent: Bytes::from_static(sent),
        },
    );
    match send(server.local_addr(), &request(&server, PID)) {
        Err(ClientError::ClosedMidBody {
            head,
            body,
            expected,
        }) => {
            assert_eq!(head.status, 200);
            head.request_id();
            assert_eq!(expected, Some(100));
            assert_eq!(body, sent);
            let error = ClientError::ClosedMidBody {
                head,
                body,
                expected,
            };
            assert_eq!(
                error.to_string(),
                format!(
                    "connection closed mid-body with {} of 100 bytes",
                    sent.len()
                )
            );
        }
        other => panic!("expected a truncated body, got {other:?}"),
    }
    assert_healthy(&server);
}

#[test]
fn endless_body_goes_on_past_a_mebibyte_and_the_server_survives_the_hang_up() {
    let server = start();
    server.faults().next(1, Fault::EndlessBody);
    let mut conn = connect(server.local_addr());
    conn.write_request(&request(&server, PID)).unwrap();
    let head = conn.read_head().unwrap();
    assert_eq!(head.status, 200);
    head.request_id();
    assert_eq!(head.header("transfer-encoding"), Some("chunked"));
    assert_eq!(head.content_length(), None);
    let mib = 1024 * 1024;
    let body = conn.read_body(&head, mib, &mut |_| {}).unwrap();
    assert!(body.len() >= mib, "only {} bytes", body.len());
    assert!(body.starts_with(b"{\"instance_num\":1,\"padding\":\""));
    assert!(body[40..].iter().all(|&b| b == b' '));
    drop(conn); // hang up in the middle
    assert_healthy(&server);
    assert_eq!(server.connections(), 2);
}

#[test]
fn huge_body_declares_its_length_and_its_start_can_be_read() {
    let server = start();
    let len: u64 = 1 << 30; // 1 GiB, generated as it is sent
    server.faults().next(1, Fault::HugeBody { len });
    let mut conn = connect(server.local_addr());
    conn.write_request(&request(&server, PID)).unwrap();
    let head = conn.read_head().unwrap();
    assert_eq!(head.status, 200);
    head.request_id();
    assert_eq!(head.content_length(), Some(len));
    let first = 200 * 1024;
    let body = conn.read_body(&head, first, &mut |_| {}).unwrap();
    assert_eq!(body.len(), first);
    assert!(body.iter().all(|&b| b == b' '));
    drop(conn);
    assert_healthy(&server);
}

#[test]
fn redirect_is_a_302_with_location() {
    let server = start();
    let location = "https://kms.example.invalid/v1.0/elsewhere";
    server.faults().next(1, Fault::redirect(location));
    let response = send_ok(server.local_addr(), &request(&server, PID));
    assert_eq!(response.status(), 302);
    assert_eq!(response.header("location"), Some(location));
    response.request_id();
    assert!(response.body.is_empty());
    assert_healthy(&server);
}

#[test]
fn not_http_sends_exactly_the_scripted_bytes_then_closes() {
    let server = start();
    let garbage: &[u8] = b"SSH-2.0-OpenSSH_9.6\r\n\x00\xff not http at all";
    server
        .faults()
        .next(2, Fault::NotHttp(Bytes::from_static(garbage)));
    // Byte for byte, on the wire.
    let mut conn = connect(server.local_addr());
    conn.write_request(&request(&server, PID)).unwrap();
    assert_eq!(conn.read_until_close().unwrap(), garbage);
    // And as an HTTP client sees it.
    match send(server.local_addr(), &request(&server, PID)) {
        Err(ClientError::NotHttp { received }) => assert_eq!(received, garbage),
        other => panic!("expected not HTTP, got {other:?}"),
    }
    assert_healthy(&server);
}

#[test]
fn endless_informational_sends_only_paced_102s_until_the_client_hangs_up_then_stops() {
    const PROCESSING: &[u8] = b"HTTP/1.1 102 Processing\r\n\r\n";
    let server = start();
    server.faults().next(1, Fault::EndlessInformational);
    let mut stream = TcpStream::connect(server.local_addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    stream
        .write_all(&serialize(&request(&server, PID)))
        .unwrap();
    let window = Duration::from_millis(300);
    let started = Instant::now();
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    while started.elapsed() < window {
        match stream.read(&mut buf) {
            Ok(0) => panic!("closed after {} bytes", received.len()),
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => panic!("{e}"),
        }
    }
    // Nothing but 102s (the last one possibly cut by the end of the window)...
    for (i, chunk) in received.chunks(PROCESSING.len()).enumerate() {
        assert!(
            PROCESSING.starts_with(chunk),
            "answer {i} is {:?}",
            String::from_utf8_lossy(chunk)
        );
    }
    // ...coming all the time, but paced rather than as fast as the CPU goes.
    let count = received.len() / PROCESSING.len();
    assert!(count >= 20, "only {count} in {window:?}");
    assert!(count <= 600, "{count} in {window:?}: not paced");
    assert_eq!(server.open_connections(), 1);

    drop(stream);
    let deadline = Instant::now() + Duration::from_secs(2);
    while server.open_connections() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(server.open_connections(), 0, "it goes on after the hang-up");
    assert_healthy(&server);
    assert_eq!(
        format!("{:?}", Fault::EndlessInformational),
        "EndlessInformational"
    );
}

#[test]
fn panic_kills_that_connection_only_and_the_next_connection_gets_a_200() {
    let server = start();
    server.faults().next(1, Fault::Panic);
    match send(server.local_addr(), &request(&server, PID)) {
        Err(ClientError::ClosedBeforeAnyByte) => {}
        other => panic!("expected the connection to die, got {other:?}"),
    }
    assert_healthy(&server);
    // And again, on a keep-alive connection opened after the panic.
    let mut conn = connect(server.local_addr());
    for _ in 0..2 {
        assert_count(&conn.send(&request(&server, PID)).unwrap(), COUNT);
    }
}

#[test]
fn when_applies_to_every_matching_request_until_cleared() {
    let server = start_two_projects();
    server
        .faults()
        .when(|r| r.path().contains(OTHER_PID), Fault::status(500));
    for _ in 0..3 {
        let response = send_ok(server.local_addr(), &other_request(&server));
        assert_eq!(response.status(), 500);
        response.request_id();
        assert_count(&send_ok(server.local_addr(), &request(&server, PID)), COUNT);
    }
    assert_eq!(server.faults().pending(), 1);
    server.faults().clear();
    assert_eq!(server.faults().pending(), 0);
    assert_count(
        &send_ok(server.local_addr(), &other_request(&server)),
        OTHER_COUNT,
    );
}

#[test]
fn when_times_applies_to_the_next_n_matching_requests_only() {
    let server = start_two_projects();
    server.faults().when_times(
        |r| r.header("x-project-id") == Some(OTHER_PID),
        2,
        Fault::json(502, "{}"),
    );
    // Requests that do not match do not use it up.
    assert_count(&send_ok(server.local_addr(), &request(&server, PID)), COUNT);
    for _ in 0..2 {
        assert_eq!(
            send_ok(server.local_addr(), &other_request(&server)).status(),
            502
        );
    }
    assert_eq!(server.faults().pending(), 0);
    assert_count(
        &send_ok(server.local_addr(), &other_request(&server)),
        OTHER_COUNT,
    );
}

#[test]
fn rules_apply_in_the_order_they_were_added() {
    let server = start();
    server.faults().next(1, Fault::status(501));
    server.faults().when(|_| true, Fault::status(502));
    let statuses: Vec<u16> = (0..3)
        .map(|_| send_ok(server.local_addr(), &request(&server, PID)).status())
        .collect();
    assert_eq!(statuses, [501, 502, 502]);
}

#[test]
fn clear_forgets_faults_scripted_for_the_next_requests() {
    let server = start();
    server.faults().next(5, Fault::CloseBeforeResponse);
    server.faults().next(1, Fault::Panic);
    assert_eq!(server.faults().pending(), 2);
    server.faults().clear();
    assert_eq!(server.faults().pending(), 0);
    assert_healthy(&server);
}
