//! Routing and credential checks: what the emulator answers to good and bad requests, over
//! real sockets, with every answer carrying an `X-Request-Id`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // a test fails by panicking

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::*;
use http::{HeaderValue, Method};
use kms_mock::{BlockingMockServer, MockConfig};
use kms_proto::AkSk;

#[test]
fn token_request_gets_the_instance_count() {
    let server = start();
    let response = send_ok(
        server.local_addr(),
        &token_request(&server.url(), TOKEN, PID),
    );
    assert_count(&response, COUNT);
    assert_eq!(
        response.header("content-type"),
        Some("application/json;charset=UTF-8")
    );
}

#[test]
fn aksk_request_signed_by_kms_proto_gets_the_instance_count() {
    let server = start();
    for (project, count) in [(PID, COUNT), (OTHER_PID, OTHER_COUNT)] {
        let response = send_ok(
            server.local_addr(),
            &aksk_request(&server.url(), AK, SK, project),
        );
        assert_count(&response, count);
    }
}

#[test]
fn temporary_aksk_with_its_security_token_is_accepted() {
    let server = start();
    let credentials = AkSk::new(TEMP_AK, TEMP_SK)
        .unwrap()
        .with_security_token(SECURITY_TOKEN)
        .unwrap();
    let request = build(&server.url(), credentials, PID, SystemTime::now());
    assert!(
        request.headers()["authorization"]
            .to_str()
            .unwrap()
            .contains("x-security-token"),
        "kms-proto signs the security token"
    );
    assert_count(&send_ok(server.local_addr(), &request), COUNT);
}

#[test]
fn every_request_id_is_32_hex_digits_and_unique() {
    let server = start();
    let url = server.url();
    let mut ids = vec![
        send_ok(server.local_addr(), &token_request(&url, TOKEN, PID)).request_id(),
        send_ok(server.local_addr(), &token_request(&url, "nope", PID)).request_id(),
        send_ok(server.local_addr(), &aksk_request(&url, AK, "bad", PID)).request_id(),
    ];
    let mut missing = token_request(&url, TOKEN, PID);
    missing.headers_mut().remove("x-auth-token");
    ids.push(send_ok(server.local_addr(), &missing).request_id());
    let recorded: Vec<String> = server
        .requests()
        .iter()
        .map(|r| r.request_id.clone())
        .collect();
    assert_eq!(recorded, ids, "the recorded ids are the ones answered");
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 4, "request ids are unique: {ids:?}");
}

#[test]
fn python_style_signature_is_accepted() {
    let server = start();
    let url = server.url();
    let headers = hand_made_headers(&url, PID, "huaweicloud-usdk-python/3.0", SystemTime::now());
    let request = sign_by_hand(
        PID,
        AK,
        SK,
        &headers,
        &[
            "content-type",
            "host",
            "user-agent",
            "x-project-id",
            "x-sdk-date",
        ],
    );
    assert_count(&send_ok(server.local_addr(), &request), COUNT);
}

#[test]
fn go_style_signature_over_three_headers_is_accepted() {
    let server = start();
    let url = server.url();
    // Content-Type and Host are sent, but not signed.
    let headers = hand_made_headers(&url, PID, "huaweicloud-usdk-go/3.0", SystemTime::now());
    let request = sign_by_hand(
        PID,
        AK,
        SK,
        &headers,
        &["user-agent", "x-project-id", "x-sdk-date"],
    );
    assert!(request.headers().contains_key("content-type"));
    assert_count(&send_ok(server.local_addr(), &request), COUNT);
}

#[test]
fn hand_signature_over_a_changed_header_is_refused() {
    // The control for the two tests above: the emulator really checks what is signed.
    let server = start();
    let url = server.url();
    let headers = hand_made_headers(&url, PID, "huaweicloud-usdk-go/3.0", SystemTime::now());
    let mut request = sign_by_hand(
        PID,
        AK,
        SK,
        &headers,
        &["user-agent", "x-project-id", "x-sdk-date"],
    );
    request
        .headers_mut()
        .insert("user-agent", HeaderValue::from_static("curl/8.0"));
    let message = assert_flat_error(&send_ok(server.local_addr(), &request), 401, "APIGW.0301");
    assert!(message.contains("verify aksk signature fail"), "{message}");
}

#[test]
fn unknown_path_is_404_apigw_0101_with_the_request_id_in_body_and_header() {
    let server = start();
    let mut request = token_request(&server.url(), TOKEN, PID);
    *request.uri_mut() = format!("/v1.0/{PID}/kms/list-keys").parse().unwrap();
    let response = send_ok(server.local_addr(), &request);
    let message = assert_flat_error(&response, 404, "APIGW.0101");
    assert!(message.contains("API does not exist"), "{message}");
    // The field order of the gateway.
    let text = response.text();
    let positions: Vec<usize> = ["\"error_msg\"", "\"error_code\"", "\"request_id\""]
        .iter()
        .map(|k| text.find(k).unwrap())
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
}

#[test]
fn wrong_method_is_404_apigw_0101() {
    let server = start();
    let mut request = token_request(&server.url(), TOKEN, PID);
    *request.method_mut() = Method::POST;
    *request.body_mut() = b"{}".to_vec();
    let response = send_ok(server.local_addr(), &request);
    assert_flat_error(&response, 404, "APIGW.0101");
}

#[test]
fn missing_credentials_is_401_apigw_0301() {
    let server = start();
    let mut request = token_request(&server.url(), TOKEN, PID);
    request.headers_mut().remove("x-auth-token");
    let response = send_ok(server.local_addr(), &request);
    let message = assert_flat_error(&response, 401, "APIGW.0301");
    assert!(
        message.starts_with("Incorrect IAM authentication information"),
        "{message}"
    );
}

#[test]
fn wrong_sk_is_401_apigw_0301_verify_aksk_signature_fail() {
    let server = start();
    let response = send_ok(
        server.local_addr(),
        &aksk_request(&server.url(), AK, "SKwrong", PID),
    );
    let message = assert_flat_error(&response, 401, "APIGW.0301");
    assert_eq!(
        message,
        "Incorrect IAM authentication information: verify aksk signature fail"
    );
}

#[test]
fn signature_20_minutes_old_is_401_signature_expired() {
    let server = start();
    let then = SystemTime::now() - Duration::from_secs(20 * 60);
    let request = build(&server.url(), AkSk::new(AK, SK).unwrap(), PID, then);
    let response = send_ok(server.local_addr(), &request);
    let message = assert_flat_error(&response, 401, "APIGW.0301");
    assert!(
        message.contains("calc aksk signature fail:signature expired"),
        "{message}"
    );
}

#[test]
fn unknown_access_key_is_401_apigw_0301() {
    let server = start();
    let response = send_ok(
        server.local_addr(),
        &aksk_request(&server.url(), "AKUNKNOWN0000000000", SK, PID),
    );
    let message = assert_flat_error(&response, 401, "APIGW.0301");
    assert!(message.contains("AKUNKNOWN0000000000"), "{message}");
}

#[test]
fn unknown_token_is_401_kms_0302_nested() {
    let server = start();
    let response = send_ok(
        server.local_addr(),
        &token_request(&server.url(), "not-a-token-we-know", PID),
    );
    assert_nested_error(&response, 401, "KMS.0302");
}

#[test]
fn expired_token_is_401_kms_0303_by_the_emulators_clock() {
    let start_time = UNIX_EPOCH + Duration::from_secs(1_795_334_400);
    let offset = Arc::new(AtomicU64::new(0));
    let clock_offset = Arc::clone(&offset);
    let server = BlockingMockServer::start(
        MockConfig::new()
            .with_project(PID, COUNT)
            .with_expiring_token(TOKEN, PID, start_time + Duration::from_secs(3600))
            .with_clock(move || {
                start_time + Duration::from_secs(clock_offset.load(Ordering::SeqCst))
            }),
    )
    .unwrap();
    let request = token_request(&server.url(), TOKEN, PID);
    assert_count(&send_ok(server.local_addr(), &request), COUNT);

    offset.store(3600, Ordering::SeqCst);
    let response = send_ok(server.local_addr(), &request);
    assert_nested_error(&response, 401, "KMS.0303");
    assert_eq!(
        server.requests().last().unwrap().received_at,
        start_time + Duration::from_secs(3600),
        "requests are stamped with the emulator's clock"
    );
}

#[test]
fn token_for_another_project_is_403_kms_0305() {
    let server = start();
    let response = send_ok(
        server.local_addr(),
        &token_request(&server.url(), TOKEN, OTHER_PID),
    );
    assert_nested_error(&response, 403, "KMS.0305");
}

#[test]
fn temporary_ak_without_its_security_token_is_401() {
    let server = start();
    // Correctly signed with the temporary pair, but without X-Security-Token.
    let response = send_ok(
        server.local_addr(),
        &aksk_request(&server.url(), TEMP_AK, TEMP_SK, PID),
    );
    let message = assert_flat_error(&response, 401, "APIGW.0301");
    assert!(message.contains("security token"), "{message}");
}

#[test]
fn temporary_ak_with_a_wrong_security_token_is_401() {
    let server = start();
    let credentials = AkSk::new(TEMP_AK, TEMP_SK)
        .unwrap()
        .with_security_token("SOMEOTHERTOKEN")
        .unwrap();
    let request = build(&server.url(), credentials, PID, SystemTime::now());
    let message = assert_flat_error(&send_ok(server.local_addr(), &request), 401, "APIGW.0301");
    assert!(message.contains("security token"), "{message}");
}

#[test]
fn x_project_id_different_from_the_path_is_400_kms_0201() {
    let server = start();
    let mut request = token_request(&server.url(), TOKEN, PID);
    request
        .headers_mut()
        .insert("x-project-id", HeaderValue::from_static(OTHER_PID));
    let response = send_ok(server.local_addr(), &request);
    assert_nested_error(&response, 400, "KMS.0201");
}

#[test]
fn ak_restricted_to_another_project_is_403_kms_0307() {
    let server = BlockingMockServer::start(config().with_aksk_projects(AK, &[OTHER_PID])).unwrap();
    let url = server.url();
    let response = send_ok(server.local_addr(), &aksk_request(&url, AK, SK, PID));
    assert_nested_error(&response, 403, "KMS.0307");
    // The project it is allowed on still works.
    let response = send_ok(server.local_addr(), &aksk_request(&url, AK, SK, OTHER_PID));
    assert_count(&response, OTHER_COUNT);
}

#[test]
fn unknown_project_is_403_kms_0307() {
    let server = start();
    let response = send_ok(
        server.local_addr(),
        &aksk_request(&server.url(), AK, SK, "ffffffffffffffffffffffffffffffff"),
    );
    assert_nested_error(&response, 403, "KMS.0307");
}

/// The requests a missing or repeated `Host` must not get past: with a valid token (200
/// otherwise), a signed AK/SK request (its signature covers Host: 401 otherwise), no
/// credentials (401 otherwise), and an unknown path (404 otherwise).
fn host_cases(url: &str) -> Vec<(&'static str, http::Request<Vec<u8>>)> {
    let mut no_credentials = token_request(url, TOKEN, PID);
    no_credentials.headers_mut().remove("x-auth-token");
    let mut unknown_path = token_request(url, TOKEN, PID);
    *unknown_path.uri_mut() = format!("/v1.0/{PID}/kms/list-keys").parse().unwrap();
    vec![
        ("valid token", token_request(url, TOKEN, PID)),
        ("signed AK/SK", aksk_request(url, AK, SK, PID)),
        ("no credentials", no_credentials),
        ("unknown path", unknown_path),
    ]
}

#[test]
fn http_1_1_request_without_host_is_400_apigw_0201_before_routing_or_authentication() {
    let server = start();
    for (case, mut request) in host_cases(&server.url()) {
        request.headers_mut().remove("host");
        let response = send_ok(server.local_addr(), &request);
        let message = assert_flat_error(&response, 400, "APIGW.0201");
        assert!(message.contains("Host"), "{case}: {message}");
    }
    let recorded = server.requests();
    assert_eq!(recorded.len(), 4, "refused requests are recorded too");
    assert!(recorded.iter().all(|r| r.header("host").is_none()));
}

#[test]
fn request_with_two_host_headers_is_400_even_when_they_agree() {
    let server = start();
    for (case, request) in host_cases(&server.url()) {
        for second in ["kms.example.invalid", &endpoint(&server.url()).authority()] {
            let mut request = request.clone();
            request
                .headers_mut()
                .append("host", HeaderValue::from_str(second).unwrap());
            let response = send_ok(server.local_addr(), &request);
            let message = assert_flat_error(&response, 400, "APIGW.0201");
            assert!(message.contains("Host"), "{case}, {second}: {message}");
        }
        // The same request with one Host is not refused for it.
        assert_ne!(
            send_ok(server.local_addr(), &request).status(),
            400,
            "{case}"
        );
    }
}

#[test]
fn http_1_0_request_without_host_is_served() {
    let server = start();
    let mut request = token_request(&server.url(), TOKEN, PID);
    request.headers_mut().remove("host");
    let raw = serialize(&request);
    let raw = String::from_utf8(raw)
        .unwrap()
        .replacen(" HTTP/1.1\r\n", " HTTP/1.0\r\n", 1);
    let mut conn = connect(server.local_addr());
    conn.write_raw(raw.as_bytes()).unwrap();
    assert_count(&conn.read_response().unwrap(), COUNT);
}

/// Every signing algorithm is verified by default (for ECDSA and SM2 with the key pair the
/// emulator derives from the SK), temporary keys included; a key restricted to some
/// algorithms gets the gateway's 401 for the others, however well signed, and that refusal
/// does not count towards the lockout.
#[test]
fn every_signing_algorithm_is_accepted_unless_the_key_is_restricted() {
    use kms_proto::SigningAlgorithm;
    let server = start();
    for algorithm in SigningAlgorithm::ALL {
        let credentials = AkSk::new(AK, SK)
            .unwrap()
            .with_algorithm(algorithm)
            .unwrap();
        let request = build(&server.url(), credentials, PID, SystemTime::now());
        assert!(
            request.headers()["authorization"]
                .to_str()
                .unwrap()
                .starts_with(algorithm.as_str())
        );
        assert_count(&send_ok(server.local_addr(), &request), COUNT);
        let temporary = AkSk::new(TEMP_AK, TEMP_SK)
            .unwrap()
            .with_security_token(SECURITY_TOKEN)
            .unwrap()
            .with_algorithm(algorithm)
            .unwrap();
        let request = build(&server.url(), temporary, PID, SystemTime::now());
        assert_count(&send_ok(server.local_addr(), &request), COUNT);
        // The wrong SK is refused for every algorithm.
        let wrong = AkSk::new(AK, "not-the-sk")
            .unwrap()
            .with_algorithm(algorithm)
            .unwrap();
        let request = build(&server.url(), wrong, PID, SystemTime::now());
        let message = assert_flat_error(&send_ok(server.local_addr(), &request), 401, "APIGW.0301");
        assert!(message.contains("verify aksk signature fail"), "{message}");
        // A good signature after a failure resets the lockout count.
        let good = AkSk::new(AK, SK)
            .unwrap()
            .with_algorithm(algorithm)
            .unwrap();
        assert_count(
            &send_ok(
                server.local_addr(),
                &build(&server.url(), good, PID, SystemTime::now()),
            ),
            COUNT,
        );
    }

    let allowed = [SigningAlgorithm::HmacSm3, SigningAlgorithm::Sm2Sm3];
    let server = BlockingMockServer::start(config().with_aksk_algorithms(AK, &allowed)).unwrap();
    // More refusals than the lockout allows: a refused algorithm is not a failed signature.
    for round in 0..3 {
        for algorithm in SigningAlgorithm::ALL {
            let credentials = AkSk::new(AK, SK)
                .unwrap()
                .with_algorithm(algorithm)
                .unwrap();
            let request = build(&server.url(), credentials, PID, SystemTime::now());
            let response = send_ok(server.local_addr(), &request);
            if allowed.contains(&algorithm) {
                assert_count(&response, COUNT);
            } else {
                let message = assert_flat_error(&response, 401, "APIGW.0301");
                assert!(
                    message.contains(&format!(
                        "the signing algorithm {algorithm} is not allowed for this access key"
                    )),
                    "round {round}: {message}"
                );
            }
        }
    }
}
