//! What the emulator records of each request and connection (without leaking secrets in
//! `Debug`), and the limits on request heads and bodies.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // a test fails by panicking

mod common;

use std::time::SystemTime;

use common::*;
use http::{HeaderValue, Method};
use kms_mock::{MAX_RECORDED_BYTES, MAX_REQUEST_HEAD};
use kms_proto::AkSk;

/// The largest request body the emulator reads (`service::MAX_REQUEST_BODY`, not public).
const MAX_REQUEST_BODY: usize = 64 * 1024;

#[test]
fn token_request_is_recorded_with_method_path_headers_and_its_request_id() {
    let server = start();
    let mut request = token_request(&server.url(), TOKEN, PID);
    let path = format!("/v1.0/{PID}/kms/user-instances");
    *request.uri_mut() = format!("{path}?limit=1&marker=x").parse().unwrap();
    let response = send_ok(server.local_addr(), &request);
    assert_count(&response, COUNT);

    let recorded = server.requests();
    assert_eq!(recorded.len(), 1);
    let r = &recorded[0];
    assert_eq!(r.method, Method::GET);
    assert_eq!(r.path_and_query, format!("{path}?limit=1&marker=x"));
    assert_eq!(r.path(), path);
    assert_eq!(r.header("x-auth-token"), Some(TOKEN), "the value is kept");
    assert_eq!(r.header("x-project-id"), Some(PID));
    assert_eq!(
        r.header("user-agent"),
        request.headers()["user-agent"].to_str().ok()
    );
    assert_eq!(r.body_len, 0);
    assert_eq!(r.connection_id, 1);
    assert_eq!(r.request_id, response.request_id());

    let shown = format!("{r:?} {r:#?} {recorded:?}");
    assert!(!shown.contains(TOKEN), "the token leaks in Debug: {shown}");
    assert!(shown.contains(PID), "{shown}");
}

#[test]
fn aksk_request_is_recorded_without_its_signature_or_security_token_in_debug() {
    let server = start();
    let credentials = AkSk::new(TEMP_AK, TEMP_SK)
        .unwrap()
        .with_security_token(SECURITY_TOKEN)
        .unwrap();
    let request = build(&server.url(), credentials, PID, SystemTime::now());
    assert_count(&send_ok(server.local_addr(), &request), COUNT);

    let authorization = request.headers()["authorization"].to_str().unwrap();
    let signature = authorization
        .rsplit_once("Signature=")
        .map(|(_, s)| s)
        .unwrap();
    assert_eq!(signature.len(), 64);

    let recorded = server.requests();
    let r = &recorded[0];
    assert_eq!(r.header("authorization"), Some(authorization));
    assert_eq!(r.header("x-security-token"), Some(SECURITY_TOKEN));
    assert!(r.headers["authorization"].is_sensitive());
    assert!(r.headers["x-security-token"].is_sensitive());
    assert!(!r.headers["x-sdk-date"].is_sensitive());

    let shown = format!("{r:?} {r:#?}");
    for secret in [signature, SECURITY_TOKEN, TEMP_SK] {
        assert!(!shown.contains(secret), "{secret} leaks in Debug: {shown}");
    }
    assert!(shown.contains("x-sdk-date"), "{shown}");
}

#[test]
fn two_requests_on_one_keep_alive_connection_are_one_connection() {
    let server = start();
    let mut conn = connect(server.local_addr());
    let first = conn
        .send(&token_request(&server.url(), TOKEN, PID))
        .unwrap();
    let second = conn
        .send(&aksk_request(&server.url(), AK, SK, OTHER_PID))
        .unwrap();
    assert_count(&first, COUNT);
    assert_count(&second, OTHER_COUNT);
    assert_eq!(server.connections(), 1);
    let recorded = server.requests();
    assert_eq!(recorded.len(), 2);
    assert_eq!(recorded[0].connection_id, recorded[1].connection_id);
    assert_eq!(
        recorded[1].path(),
        format!("/v1.0/{OTHER_PID}/kms/user-instances")
    );
}

#[test]
fn two_separate_connections_are_two_connections_numbered_in_order() {
    let server = start();
    let request = token_request(&server.url(), TOKEN, PID);
    assert_count(&send_ok(server.local_addr(), &request), COUNT);
    assert_count(&send_ok(server.local_addr(), &request), COUNT);
    assert_eq!(server.connections(), 2);
    let ids: Vec<u64> = server.requests().iter().map(|r| r.connection_id).collect();
    assert_eq!(ids, [1, 2]);
}

#[test]
fn clear_requests_forgets_what_was_recorded() {
    let server = start();
    let request = token_request(&server.url(), TOKEN, PID);
    send_ok(server.local_addr(), &request);
    assert_eq!(server.requests().len(), 1);
    server.clear_requests();
    assert!(server.requests().is_empty());
    send_ok(server.local_addr(), &request);
    assert_eq!(server.requests().len(), 1);
    assert_eq!(server.connections(), 2, "connections are still counted");
}

/// A token request with an `x-padding` header of `len` bytes.
fn padded(url: &str, len: usize) -> http::Request<Vec<u8>> {
    let mut request = token_request(url, TOKEN, PID);
    request.headers_mut().insert(
        "x-padding",
        HeaderValue::from_str(&"a".repeat(len)).unwrap(),
    );
    request
}

/// What a recorded request holds of its head: path and query, header names and values.
fn head_bytes(request: &kms_mock::RecordedRequest) -> usize {
    request.path_and_query.len()
        + request
            .headers
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len())
            .sum::<usize>()
}

#[test]
fn recorder_keeps_at_most_max_recorded_bytes_of_heads_forgetting_the_oldest_first() {
    let server = start();
    let request = padded(&server.url(), 15 * 1024);
    // About 12 MiB of heads in all, half again the bound.
    let sent = 12 * 1024 * 1024 / (15 * 1024);
    let mut conn = connect(server.local_addr());
    let ids: Vec<String> = (0..sent)
        .map(|_| {
            let response = conn.send(&request).unwrap();
            assert_count(&response, COUNT);
            response.request_id()
        })
        .collect();
    let recorded = server.requests();
    let bytes: usize = recorded.iter().map(head_bytes).sum();
    assert!(
        bytes <= MAX_RECORDED_BYTES,
        "{bytes} bytes of heads recorded ({} requests), bound {MAX_RECORDED_BYTES}",
        recorded.len()
    );
    assert!(
        bytes >= MAX_RECORDED_BYTES / 2,
        "only {bytes} bytes kept: the bound is not used"
    );
    // The newest are kept, in order; the oldest went first.
    let kept: Vec<&str> = recorded.iter().map(|r| r.request_id.as_str()).collect();
    assert!(kept.len() < sent, "nothing was forgotten");
    assert_eq!(kept, ids[sent - kept.len()..]);
}

#[test]
fn recorder_bounds_are_eight_mib_and_ten_thousand_requests() {
    assert_eq!(MAX_RECORDED_BYTES, 8 * 1024 * 1024);
    assert_eq!(kms_mock::MAX_RECORDED_REQUESTS, 10_000);
}

#[test]
fn request_head_larger_than_max_request_head_is_refused_and_the_server_goes_on() {
    let server = start();
    // A head well under the limit is fine.
    let response = send_ok(server.local_addr(), &padded(&server.url(), 8 * 1024));
    assert_count(&response, COUNT);

    let mut conn = connect(server.local_addr());
    // The write may already fail if the emulator closes early; what matters is the answer.
    let _ = conn.write_request(&padded(&server.url(), MAX_REQUEST_HEAD + 1));
    match conn.read_response() {
        Ok(response) => assert_eq!(response.status(), 431, "{response:?}"),
        Err(ClientError::ClosedBeforeAnyByte) => {}
        Err(other) => panic!("expected 431 or a close, got {other}"),
    }
    drop(conn);
    assert_eq!(
        server.requests().len(),
        1,
        "the oversized request never reached the handler"
    );
    assert_count(
        &send_ok(
            server.local_addr(),
            &token_request(&server.url(), TOKEN, PID),
        ),
        COUNT,
    );
}

#[test]
fn request_body_over_64_kib_is_413() {
    let server = start();
    let mut request = token_request(&server.url(), TOKEN, PID);
    *request.body_mut() = vec![b'x'; MAX_REQUEST_BODY + 1];
    let response = send_ok(server.local_addr(), &request);
    let message = assert_flat_error(&response, 413, "APIGW.0201");
    assert!(message.contains("too large"), "{message}");
    assert_eq!(server.requests()[0].body_len, MAX_REQUEST_BODY + 1);
}

#[test]
fn request_body_of_exactly_64_kib_is_read_and_recorded() {
    let server = start();
    let mut request = token_request(&server.url(), TOKEN, PID);
    *request.body_mut() = vec![b'x'; MAX_REQUEST_BODY];
    assert_count(&send_ok(server.local_addr(), &request), COUNT);
    assert_eq!(server.requests()[0].body_len, MAX_REQUEST_BODY);
}

#[test]
fn malformed_chunked_request_body_is_400_not_413() {
    let server = start();
    let request = token_request(&server.url(), TOKEN, PID);
    let mut raw = serialize(&request);
    raw.truncate(raw.len() - 2); // reopen the head
    raw.extend_from_slice(b"transfer-encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n");
    let mut conn = connect(server.local_addr());
    conn.write_raw(&raw).unwrap();
    let response = conn.read_response().unwrap();
    response.request_id();
    assert_eq!(response.status(), 400, "{}", response.text());
    assert!(
        server.requests()[0].body_len <= 3,
        "a 3-byte body recorded as longer"
    );
}
