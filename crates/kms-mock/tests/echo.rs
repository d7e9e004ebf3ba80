//! The echo operation (`MockConfig::with_echo`): a signed POST with a JSON body, checked as
//! ShowUserInstances is, the body included in the signature, over real sockets.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // a test fails by panicking

mod common;

use std::time::SystemTime;

use common::*;
use http::{Method, Request};
use kms_mock::{BlockingMockServer, Fault};
use kms_proto::{AkSk, AuthToken, Credentials};

/// A project no AK or token of [`config`] may use: configured for nobody.
const UNKNOWN_PID: &str = "ffffffffffffffffffffffffffffffff";

fn echo_server() -> BlockingMockServer {
    BlockingMockServer::start(config().with_echo()).unwrap()
}

fn echo_path(project: &str) -> String {
    format!("/v1.0/{project}/kms/echo")
}

/// `POST /v1.0/{project}/kms/echo` with `body`, signed by kms-proto (through the body's
/// hash) with `credentials`.
fn echo_request(
    url: &str,
    credentials: impl Into<Credentials>,
    project: &str,
    body: &[u8],
) -> Request<Vec<u8>> {
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(format!("{url}{}", echo_path(project)))
        .header("host", endpoint(url).authority())
        .header("content-type", "application/json;charset=UTF-8")
        .header("x-project-id", project)
        .body(body.to_vec())
        .unwrap();
    kms_proto::sign_request(&mut request, &credentials.into(), SystemTime::now()).unwrap();
    request
}

fn aksk() -> AkSk {
    AkSk::new(AK, SK).unwrap()
}

const BODY: &[u8] = br#"{"key_id":"0d0466b0-e727-4d9c-b35d-f84bb474a37f","amount":1}"#;

#[test]
fn a_signed_post_is_answered_with_its_body() {
    let server = echo_server();
    let response = send_ok(
        server.local_addr(),
        &echo_request(&server.url(), aksk(), PID, BODY),
    );
    assert_eq!(response.status(), 200, "{}", response.text());
    assert_eq!(
        response.header("content-type"),
        Some("application/json;charset=UTF-8")
    );
    response.request_id();
    let sent: serde_json::Value = serde_json::from_slice(BODY).unwrap();
    assert_eq!(response.json(), serde_json::json!({ "echo": sent }));
    let recorded = server.requests();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].method, Method::POST);
    assert_eq!(recorded[0].path(), echo_path(PID));
    assert_eq!(recorded[0].body_len, BODY.len());
}

#[test]
fn not_served_unless_configured() {
    let server = start();
    let response = send_ok(
        server.local_addr(),
        &echo_request(&server.url(), aksk(), PID, BODY),
    );
    assert_flat_error(&response, 404, "APIGW.0101");
}

/// The signature covers the body: the same request with one byte of its body changed after
/// signing is refused, and counts as a failed signature.
#[test]
fn a_body_changed_after_signing_is_401_verify_aksk_signature_fail() {
    let server = echo_server();
    let mut request = echo_request(&server.url(), aksk(), PID, BODY);
    let amount = request.body().iter().rposition(|&b| b == b'1').unwrap();
    request.body_mut()[amount] = b'9';
    let response = send_ok(server.local_addr(), &request);
    let message = assert_flat_error(&response, 401, "APIGW.0301");
    assert_eq!(
        message,
        "Incorrect IAM authentication information: verify aksk signature fail"
    );
    // And with the temporary credentials and every other algorithm.
    for algorithm in [
        kms_proto::SigningAlgorithm::HmacSm3,
        kms_proto::SigningAlgorithm::EcdsaP256Sha256,
        kms_proto::SigningAlgorithm::Sm2Sm3,
    ] {
        let credentials = AkSk::new(TEMP_AK, TEMP_SK)
            .unwrap()
            .with_security_token(SECURITY_TOKEN)
            .unwrap()
            .with_algorithm(algorithm)
            .unwrap();
        let good = echo_request(&server.url(), credentials.clone(), PID, BODY);
        assert_eq!(
            send_ok(server.local_addr(), &good).status(),
            200,
            "{algorithm}"
        );
        let mut bad = echo_request(&server.url(), credentials, PID, BODY);
        bad.body_mut()[amount] = b'9';
        assert_flat_error(&send_ok(server.local_addr(), &bad), 401, "APIGW.0301");
    }
}

#[test]
fn a_body_that_is_not_a_json_object_is_400_kms_0202() {
    let server = echo_server();
    for body in [&b"[1,2,3]"[..], b"\"text\"", b"{\"unclosed\":", b""] {
        let response = send_ok(
            server.local_addr(),
            &echo_request(&server.url(), aksk(), PID, body),
        );
        let message = assert_nested_error(&response, 400, "KMS.0202");
        assert!(message.starts_with("Invalid request body"), "{message}");
    }
}

/// Every check of ShowUserInstances applies: tokens, the project in the path against
/// `X-Project-Id` and the configured projects, the method.
#[test]
fn checked_as_show_user_instances_is() {
    let server = echo_server();
    let url = server.url();
    let addr = server.local_addr();
    let token = AuthToken::new(TOKEN).unwrap();
    assert_eq!(
        send_ok(addr, &echo_request(&url, token.clone(), PID, BODY)).status(),
        200
    );
    assert_nested_error(
        &send_ok(addr, &echo_request(&url, token, OTHER_PID, BODY)),
        403,
        "KMS.0305",
    );
    assert_flat_error(
        &send_ok(
            addr,
            &echo_request(&url, AkSk::new(AK, "SKwrong").unwrap(), PID, BODY),
        ),
        401,
        "APIGW.0301",
    );
    assert_nested_error(
        &send_ok(addr, &echo_request(&url, aksk(), UNKNOWN_PID, BODY)),
        403,
        "KMS.0307",
    );
    // X-Project-Id naming another project than the path (signed, so it is the check that
    // refuses it, not the signature).
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(format!("{url}{}", echo_path(PID)))
        .header("host", endpoint(&url).authority())
        .header("x-project-id", OTHER_PID)
        .body(BODY.to_vec())
        .unwrap();
    kms_proto::sign_request(&mut request, &aksk().into(), SystemTime::now()).unwrap();
    assert_nested_error(&send_ok(addr, &request), 400, "KMS.0201");
    // Only POST.
    let mut get = echo_request(&url, aksk(), PID, b"");
    *get.method_mut() = Method::GET;
    assert_flat_error(&send_ok(addr, &get), 404, "APIGW.0101");
}

#[test]
fn scripted_faults_apply() {
    let server = echo_server();
    server.faults().when_times(
        |r| r.path().ends_with("/kms/echo"),
        1,
        Fault::status(503).with_header("retry-after", "0"),
    );
    let request = echo_request(&server.url(), aksk(), PID, BODY);
    let first = send_ok(server.local_addr(), &request);
    assert_eq!(first.status(), 503);
    assert_eq!(first.header("retry-after"), Some("0"));
    assert_eq!(send_ok(server.local_addr(), &request).status(), 200);
    assert_eq!(server.requests().len(), 2);
}
