//! The credential endpoints: the ECS metadata service (session token, security key) and
//! CCE pod identity, over real sockets; the temporary credentials they issue, accepted by
//! the KMS path until they expire; and recording and faults on those paths.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // a test fails by panicking

mod common;

use std::time::{Duration, SystemTime};

use common::*;
use kms_mock::{BlockingMockServer, DEFAULT_CREDENTIAL_LIFETIME, Fault, MockConfig};

const POD_TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.pod-identity-token.c2lnbmF0dXJl";

fn start_with(config: MockConfig) -> BlockingMockServer {
    BlockingMockServer::start(config).expect("the emulator starts")
}

/// [`config`] with the metadata service and pod identity, on `clock`.
fn start_on(clock: &TestClock, extra: impl FnOnce(MockConfig) -> MockConfig) -> BlockingMockServer {
    start_with(extra(clock.install(
        config().with_metadata().with_pod_identity_token(POD_TOKEN),
    )))
}

/// A session token from the emulator, for `ttl` seconds.
fn session_token(server: &BlockingMockServer, ttl: &str) -> String {
    let response = send_ok(
        server.local_addr(),
        &metadata_token_request(&server.url(), ttl),
    );
    assert_eq!(response.status(), 200, "{}", response.text());
    assert_eq!(
        response.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    response.request_id();
    let token = response.text();
    assert!(token.len() >= 32, "{token:?}");
    assert!(token.bytes().all(|b| b.is_ascii_graphic()), "{token:?}");
    token
}

/// Issued credentials from the security key path, with `token` if given.
fn security_key(server: &BlockingMockServer, token: Option<&str>) -> Issued {
    Issued::from_response(&send_ok(
        server.local_addr(),
        &security_key_request(&server.url(), token),
    ))
}

/// A ShowUserInstances request for `project` signed with `issued` at `now`.
fn signed_with(
    server: &BlockingMockServer,
    issued: &Issued,
    project: &str,
    now: SystemTime,
) -> Response {
    let request = build(&server.url(), issued.credentials(), project, now);
    assert!(request.headers().contains_key("x-security-token"));
    send_ok(server.local_addr(), &request)
}

/// Asserts a plain-text 401 that does not say the instance lacks an agency.
fn assert_stale_token_401(response: &Response) {
    assert_eq!(response.status(), 401, "{}", response.text());
    response.request_id();
    assert!(
        response
            .header("content-type")
            .is_some_and(|c| c.starts_with("text/plain")),
        "{:?}",
        response.head
    );
    let text = response.text();
    assert!(!text.contains(NO_AGENCY), "{text}");
    assert!(text.contains("token"), "{text}");
}

// ---------------------------------------------------------------------------------------
// ECS metadata
// ---------------------------------------------------------------------------------------

#[test]
fn session_token_put_then_security_key_get_with_it_issues_a_credential_document() {
    let clock = TestClock::new();
    let server = start_on(&clock, |c| c);
    let token = session_token(&server, "21600");
    let issued = security_key(&server, Some(&token));
    // Valid for the default 6 hours from the emulator's clock, in whole microseconds.
    assert_eq!(
        issued.expires_at,
        floor_micros(clock.now() + DEFAULT_CREDENTIAL_LIFETIME)
    );
    assert_eq!(DEFAULT_CREDENTIAL_LIFETIME, Duration::from_secs(6 * 3600));
    assert_eq!(server.issued_credentials(), 1);
}

#[test]
fn security_key_without_a_session_token_is_answered_token_less() {
    let server = start_with(config().with_metadata());
    let issued = security_key(&server, None);
    assert!(issued.expires_at > SystemTime::now());
    assert_eq!(server.issued_credentials(), 1);
}

#[test]
fn every_answer_issues_fresh_credentials() {
    let server = start_with(config().with_metadata().with_pod_identity_token(POD_TOKEN));
    let one = security_key(&server, None);
    let two = security_key(&server, None);
    let three = Issued::from_response(&send_ok(
        server.local_addr(),
        &pod_identity_request(&server.url(), Some(POD_TOKEN)),
    ));
    for (a, b) in [(&one, &two), (&one, &three), (&two, &three)] {
        assert_ne!(a.ak, b.ak);
        assert_ne!(a.sk, b.sk);
        assert_ne!(a.security_token, b.security_token);
    }
    assert_eq!(server.issued_credentials(), 3);
}

#[test]
fn stale_or_unknown_session_token_is_401_without_the_agency_text_and_a_new_one_works() {
    let clock = TestClock::new();
    let server = start_on(&clock, |c| c);
    let token = session_token(&server, "60");
    clock.advance(Duration::from_secs(59));
    security_key(&server, Some(&token));
    clock.advance(Duration::from_secs(1));
    let response = send_ok(
        server.local_addr(),
        &security_key_request(&server.url(), Some(&token)),
    );
    assert_stale_token_401(&response);
    let response = send_ok(
        server.local_addr(),
        &security_key_request(&server.url(), Some("not-a-session-token")),
    );
    assert_stale_token_401(&response);
    // What the official SDKs do next: one new token, one more try.
    let fresh = session_token(&server, "21600");
    assert_ne!(fresh, token);
    security_key(&server, Some(&fresh));
    assert_eq!(server.issued_credentials(), 2);
}

#[test]
fn token_required_refuses_a_security_key_request_without_a_session_token() {
    let server = start_with(config().with_metadata_token_required());
    let response = send_ok(
        server.local_addr(),
        &security_key_request(&server.url(), None),
    );
    assert_stale_token_401(&response);
    let token = session_token(&server, "300");
    security_key(&server, Some(&token));
    assert_eq!(server.issued_credentials(), 1);
}

#[test]
fn session_token_ttl_must_be_from_1_to_21600_seconds() {
    let server = start_with(config().with_metadata());
    for ttl in ["0", "21601", "-1", "abc", "", "6h"] {
        let response = send_ok(
            server.local_addr(),
            &metadata_token_request(&server.url(), ttl),
        );
        assert_eq!(response.status(), 400, "ttl {ttl:?}: {}", response.text());
        assert!(response.text().contains("X-Metadata-Token-Ttl-Seconds"));
    }
    let response = send_ok(
        server.local_addr(),
        &plain_request(&server.url(), "PUT", METADATA_TOKEN_PATH, &[], b""),
    );
    assert_eq!(response.status(), 400, "no TTL header: {}", response.text());
    session_token(&server, "1");
    session_token(&server, "21600");
}

#[test]
fn v2_unavailable_answers_404_to_the_token_put_and_the_token_less_path_still_works() {
    let server = start_with(config().with_metadata_v2_unavailable());
    let response = send_ok(
        server.local_addr(),
        &metadata_token_request(&server.url(), "21600"),
    );
    assert_eq!(response.status(), 404, "{}", response.text());
    response.request_id();
    security_key(&server, None);
}

#[test]
fn no_agency_is_401_with_the_agency_text_with_or_without_a_session_token() {
    let server = start_with(config().with_metadata_no_agency());
    let token = session_token(&server, "21600");
    for token in [None, Some(token.as_str())] {
        let response = send_ok(
            server.local_addr(),
            &security_key_request(&server.url(), token),
        );
        assert_eq!(response.status(), 401, "{}", response.text());
        assert!(response.text().contains(NO_AGENCY), "{}", response.text());
    }
    assert_eq!(server.issued_credentials(), 0);
}

#[test]
fn another_method_on_a_credential_path_is_405_with_allow() {
    let server = start_with(config().with_metadata().with_pod_identity_token(POD_TOKEN));
    let url = server.url();
    for (method, path, allowed) in [
        ("GET", METADATA_TOKEN_PATH, "PUT"),
        ("POST", SECURITY_KEY_PATH, "GET"),
        ("GET", POD_IDENTITY_PATH, "POST"),
    ] {
        let response = send_ok(
            server.local_addr(),
            &plain_request(&url, method, path, &[("authorization", POD_TOKEN)], b""),
        );
        assert_eq!(response.status(), 405, "{method} {path}");
        assert_eq!(response.header("allow"), Some(allowed), "{method} {path}");
    }
    assert_eq!(server.issued_credentials(), 0);
}

#[test]
fn credential_paths_not_configured_are_the_gateways_404() {
    let server = start();
    let url = server.url();
    for request in [
        metadata_token_request(&url, "21600"),
        security_key_request(&url, None),
        pod_identity_request(&url, Some(POD_TOKEN)),
    ] {
        let response = send_ok(server.local_addr(), &request);
        assert_flat_error(&response, 404, "APIGW.0101");
    }
    // Metadata alone does not serve pod identity, and the other way round.
    let server = start_with(config().with_metadata());
    let response = send_ok(
        server.local_addr(),
        &pod_identity_request(&server.url(), Some(POD_TOKEN)),
    );
    assert_flat_error(&response, 404, "APIGW.0101");
    let server = start_with(config().with_pod_identity_token(POD_TOKEN));
    let response = send_ok(
        server.local_addr(),
        &security_key_request(&server.url(), None),
    );
    assert_flat_error(&response, 404, "APIGW.0101");
}

// ---------------------------------------------------------------------------------------
// CCE pod identity
// ---------------------------------------------------------------------------------------

/// Asserts IAM's flat error shape with `code` and returns the message.
fn assert_iam_error(response: &Response, status: u16, code: &str) -> String {
    assert_eq!(response.status(), status, "{}", response.text());
    response.request_id();
    let json = response.json();
    assert_eq!(json["error_code"], code, "{json}");
    json["error_msg"].as_str().unwrap().to_owned()
}

#[test]
fn pod_identity_with_the_right_authorization_issues_a_credential_document() {
    let clock = TestClock::new();
    let server = start_on(&clock, |c| c);
    let issued = Issued::from_response(&send_ok(
        server.local_addr(),
        &pod_identity_request(&server.url(), Some(POD_TOKEN)),
    ));
    assert_eq!(
        issued.expires_at,
        floor_micros(clock.now() + DEFAULT_CREDENTIAL_LIFETIME)
    );
    assert_eq!(server.issued_credentials(), 1);
}

#[test]
fn pod_identity_with_a_wrong_or_missing_authorization_is_401_iam_0001() {
    let server = start_with(config().with_pod_identity_token(POD_TOKEN));
    let url = server.url();
    let wrong = format!("{POD_TOKEN}x");
    let bearer = format!("Bearer {POD_TOKEN}");
    for authorization in [None, Some(wrong.as_str()), Some(bearer.as_str()), Some("")] {
        let response = send_ok(
            server.local_addr(),
            &pod_identity_request(&url, authorization),
        );
        let message = assert_iam_error(&response, 401, "IAM.0001");
        assert!(!message.contains(POD_TOKEN), "the token leaks: {message}");
    }
    // The header twice, once right: refused too.
    let request = plain_request(
        &url,
        "POST",
        POD_IDENTITY_PATH,
        &[("authorization", POD_TOKEN), ("authorization", "other")],
        b"{}",
    );
    assert_iam_error(&send_ok(server.local_addr(), &request), 401, "IAM.0001");
    assert_eq!(server.issued_credentials(), 0);
}

#[test]
fn pod_identity_accepts_any_json_object_and_refuses_other_bodies_with_400_iam_0011() {
    let server = start_with(config().with_pod_identity_token(POD_TOKEN));
    let url = server.url();
    let auth = [("authorization", POD_TOKEN)];
    for body in [&b"{\"audience\":\"x\",\"n\":1}"[..], b" { } "] {
        let request = plain_request(&url, "POST", POD_IDENTITY_PATH, &auth, body);
        Issued::from_response(&send_ok(server.local_addr(), &request));
    }
    for body in [&b""[..], b"{", b"[]", b"\"{}\"", b"null", b"{}{}"] {
        let request = plain_request(&url, "POST", POD_IDENTITY_PATH, &auth, body);
        let response = send_ok(server.local_addr(), &request);
        let message = assert_iam_error(&response, 400, "IAM.0011");
        assert_eq!(message, "Request body is invalid.", "body {body:?}");
    }
    assert_eq!(server.issued_credentials(), 2);
}

// ---------------------------------------------------------------------------------------
// Issued credentials on the KMS path
// ---------------------------------------------------------------------------------------

#[test]
fn issued_credentials_are_accepted_on_every_project_until_expires_at_then_refused_401() {
    let clock = TestClock::new();
    let server = start_on(&clock, |c| {
        c.with_credential_lifetime(Duration::from_secs(3600))
    });
    let issued = security_key(&server, None);
    assert_count(&signed_with(&server, &issued, PID, clock.now()), COUNT);
    assert_count(
        &signed_with(&server, &issued, OTHER_PID, clock.now()),
        OTHER_COUNT,
    );

    // The last millisecond before expires_at: still accepted.
    let left = issued.expires_at.duration_since(clock.now()).unwrap();
    clock.advance(left - Duration::from_millis(1));
    assert_count(&signed_with(&server, &issued, PID, clock.now()), COUNT);

    // At expires_at (and a little after, so whole milliseconds pass it), refused.
    clock.advance(Duration::from_millis(2));
    assert!(clock.now() >= issued.expires_at);
    let response = signed_with(&server, &issued, PID, clock.now());
    let message = assert_flat_error(&response, 401, "APIGW.0301");
    assert!(message.contains("security token expires"), "{message}");
    assert!(message.contains(&issued.expires_at_text), "{message}");
    assert!(!message.contains(&issued.security_token), "{message}");
    // A fresh credential works again.
    let fresh = security_key(&server, None);
    assert_count(&signed_with(&server, &fresh, PID, clock.now()), COUNT);
}

#[test]
fn pod_identity_credentials_are_accepted_by_the_kms_path_until_they_expire() {
    let clock = TestClock::new();
    let server = start_on(&clock, |c| {
        c.with_credential_lifetime(Duration::from_secs(120))
    });
    let issued = Issued::from_response(&send_ok(
        server.local_addr(),
        &pod_identity_request(&server.url(), Some(POD_TOKEN)),
    ));
    assert_count(&signed_with(&server, &issued, PID, clock.now()), COUNT);
    clock.advance(Duration::from_secs(121));
    let response = signed_with(&server, &issued, PID, clock.now());
    assert_flat_error(&response, 401, "APIGW.0301");
}

#[test]
fn issued_credentials_need_their_own_security_token_signed() {
    let server = start_with(config().with_metadata());
    let issued = security_key(&server, None);
    let other = security_key(&server, None);
    // Without the token, and with another credential's token: refused.
    let response = send_ok(
        server.local_addr(),
        &aksk_request(&server.url(), &issued.ak, &issued.sk, PID),
    );
    let message = assert_flat_error(&response, 401, "APIGW.0301");
    assert!(message.contains("security token"), "{message}");
    let mixed = Issued {
        security_token: other.security_token.clone(),
        ..issued.clone()
    };
    let response = signed_with(&server, &mixed, PID, SystemTime::now());
    assert_flat_error(&response, 401, "APIGW.0301");
    // With the wrong SK: a failed signature, as for any key.
    let wrong_sk = Issued {
        sk: other.sk.clone(),
        ..issued.clone()
    };
    let response = signed_with(&server, &wrong_sk, PID, SystemTime::now());
    let message = assert_flat_error(&response, 401, "APIGW.0301");
    assert!(message.contains("verify aksk signature fail"), "{message}");
    assert_count(
        &signed_with(&server, &issued, PID, SystemTime::now()),
        COUNT,
    );
}

#[test]
fn credential_lifetime_sets_expires_at_from_the_emulators_clock() {
    let clock = TestClock::new();
    clock.advance(Duration::from_secs(86_400 * 3));
    let server = start_on(&clock, |c| {
        c.with_credential_lifetime(Duration::from_secs(90))
    });
    let issued = security_key(&server, None);
    assert_eq!(
        issued.expires_at,
        floor_micros(clock.now() + Duration::from_secs(90))
    );
    // Issued later, expires later: each from its own issue time.
    clock.advance(Duration::from_secs(30));
    let later = security_key(&server, None);
    assert_eq!(
        later.expires_at,
        floor_micros(clock.now() + Duration::from_secs(90))
    );
}

#[test]
fn a_huge_credential_lifetime_ends_at_the_last_time_rfc_3339_can_write() {
    let server = start_with(
        config()
            .with_metadata()
            .with_credential_lifetime(Duration::MAX),
    );
    let issued = security_key(&server, None);
    assert_eq!(issued.expires_at_text, "9999-12-31T23:59:59.999999Z");
    assert_count(
        &signed_with(&server, &issued, PID, SystemTime::now()),
        COUNT,
    );
}

// ---------------------------------------------------------------------------------------
// Recording and faults
// ---------------------------------------------------------------------------------------

#[test]
fn credential_requests_are_recorded_with_their_secrets_kept_out_of_debug() {
    let server = start_with(config().with_metadata().with_pod_identity_token(POD_TOKEN));
    let url = server.url();
    let token = session_token(&server, "600");
    security_key(&server, Some(&token));
    Issued::from_response(&send_ok(
        server.local_addr(),
        &pod_identity_request(&url, Some(POD_TOKEN)),
    ));

    let recorded = server.requests();
    assert_eq!(recorded.len(), 3);
    assert_eq!(recorded[0].method, http::Method::PUT);
    assert_eq!(recorded[0].path(), METADATA_TOKEN_PATH);
    assert_eq!(
        recorded[0].header("x-metadata-token-ttl-seconds"),
        Some("600")
    );
    assert_eq!(recorded[1].method, http::Method::GET);
    assert_eq!(recorded[1].path(), SECURITY_KEY_PATH);
    assert_eq!(recorded[1].header("x-metadata-token"), Some(token.as_str()));
    assert_eq!(recorded[2].method, http::Method::POST);
    assert_eq!(recorded[2].path(), POD_IDENTITY_PATH);
    assert_eq!(recorded[2].header("authorization"), Some(POD_TOKEN));
    assert_eq!(recorded[2].body_len, 2);
    let shown = format!("{recorded:?}");
    assert!(!shown.contains(&token), "the session token leaks: {shown}");
    assert!(!shown.contains(POD_TOKEN), "the pod token leaks: {shown}");
    assert!(shown.contains(SECURITY_KEY_PATH), "{shown}");
}

#[test]
fn a_fault_on_the_security_key_path_leaves_the_kms_path_and_the_token_path_working() {
    let server = start_with(config().with_metadata());
    server
        .faults()
        .when(|r| r.path() == SECURITY_KEY_PATH, Fault::status(503));
    for _ in 0..2 {
        let response = send_ok(
            server.local_addr(),
            &security_key_request(&server.url(), None),
        );
        assert_eq!(response.status(), 503);
        assert!(response.body.is_empty());
    }
    // A replaced answer issues nothing.
    assert_eq!(server.issued_credentials(), 0);
    assert_count(
        &send_ok(
            server.local_addr(),
            &aksk_request(&server.url(), AK, SK, PID),
        ),
        COUNT,
    );
    let token = session_token(&server, "60");
    server.faults().clear();
    let issued = security_key(&server, Some(&token));
    assert_eq!(server.issued_credentials(), 1);
    assert_count(
        &signed_with(&server, &issued, PID, SystemTime::now()),
        COUNT,
    );
    assert_eq!(server.requests().len(), 6);
}

#[test]
fn a_connection_fault_on_pod_identity_then_a_retry_gets_credentials() {
    let server = start_with(config().with_pod_identity_token(POD_TOKEN));
    server.faults().next(1, Fault::CloseBeforeResponse);
    let request = pod_identity_request(&server.url(), Some(POD_TOKEN));
    match send(server.local_addr(), &request) {
        Err(ClientError::ClosedBeforeAnyByte) => {}
        other => panic!("expected a closed connection, got {other:?}"),
    }
    assert_eq!(server.issued_credentials(), 0);
    Issued::from_response(&send_ok(server.local_addr(), &request));
    assert_eq!(server.issued_credentials(), 1);
    assert_eq!(server.requests().len(), 2);
}

#[test]
fn a_delayed_security_key_answer_still_issues_working_credentials() {
    let server = start_with(config().with_metadata());
    server
        .faults()
        .next(1, Fault::DelayHeaders(Duration::from_millis(50)));
    let issued = security_key(&server, None);
    assert_eq!(server.issued_credentials(), 1);
    assert_count(
        &signed_with(&server, &issued, PID, SystemTime::now()),
        COUNT,
    );
}
