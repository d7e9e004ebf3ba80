//! HTTPS: the emulator's own CA is the only thing a client needs to trust, and nothing
//! else will do.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // a test fails by panicking

mod common;

use bytes::Bytes;
use common::*;
use kms_mock::{BlockingMockServer, Fault};
use rustls::CertificateError;

fn start_tls() -> BlockingMockServer {
    BlockingMockServer::start(config().with_tls()).unwrap()
}

fn ca(server: &BlockingMockServer) -> &str {
    server.ca_pem().expect("a TLS server hands out its CA")
}

#[test]
fn https_request_trusting_only_the_servers_ca_succeeds() {
    let server = start_tls();
    let url = server.url();
    assert_eq!(url, format!("https://{}", server.local_addr()));
    assert!(ca(&server).starts_with("-----BEGIN CERTIFICATE-----"));
    let config = tls_config(Some(ca(&server)));
    for name in ["127.0.0.1", "localhost"] {
        let mut conn = connect_tls(server.local_addr(), config.clone(), name)
            .unwrap_or_else(|e| panic!("handshake for {name}: {e}"));
        // Two requests on the one TLS connection.
        assert_count(&conn.send(&token_request(&url, TOKEN, PID)).unwrap(), COUNT);
        assert_count(
            &conn.send(&aksk_request(&url, AK, SK, OTHER_PID)).unwrap(),
            OTHER_COUNT,
        );
    }
    assert_eq!(server.connections(), 2);
    let hosts: Vec<String> = server
        .requests()
        .iter()
        .map(|r| r.header("host").unwrap().to_owned())
        .collect();
    assert_eq!(hosts.len(), 4);
    assert!(hosts.iter().all(|h| *h == server.local_addr().to_string()));
}

#[test]
fn a_plain_http_server_has_no_ca() {
    let server = start();
    assert!(server.ca_pem().is_none());
    assert!(server.url().starts_with("http://127.0.0.1:"));
}

#[test]
fn client_with_an_empty_root_store_fails_the_handshake() {
    let server = start_tls();
    match connect_tls(server.local_addr(), tls_config(None), "127.0.0.1") {
        Err(ClientError::Tls(rustls::Error::InvalidCertificate(
            CertificateError::UnknownIssuer,
        ))) => {}
        Err(other) => panic!("expected an unknown issuer, got {other}"),
        Ok(_) => panic!("the handshake succeeded without trusting the CA"),
    }
    assert!(server.requests().is_empty());
}

#[test]
fn client_trusting_another_emulators_ca_fails_the_handshake() {
    let server = start_tls();
    let other = start_tls();
    assert_ne!(ca(&server), ca(&other), "each emulator makes its own CA");
    match connect_tls(
        server.local_addr(),
        tls_config(Some(ca(&other))),
        "127.0.0.1",
    ) {
        // Both CAs bear the same name, so the other CA is tried as the issuer, and its key
        // does not match the signature.
        Err(ClientError::Tls(rustls::Error::InvalidCertificate(
            CertificateError::UnknownIssuer | CertificateError::BadSignature,
        ))) => {}
        Err(other) => panic!("expected an untrusted issuer, got {other}"),
        Ok(_) => panic!("the handshake succeeded with another CA"),
    }
    // A client trusting both emulators' CAs reaches both.
    let both = tls_config(Some(&format!("{}{}", ca(&server), ca(&other))));
    for s in [&server, &other] {
        let mut conn = connect_tls(s.local_addr(), both.clone(), "localhost").unwrap();
        assert_count(
            &conn.send(&token_request(&s.url(), TOKEN, PID)).unwrap(),
            COUNT,
        );
    }
}

#[test]
fn a_server_name_the_certificate_does_not_cover_is_refused() {
    let server = start_tls();
    match connect_tls(
        server.local_addr(),
        tls_config(Some(ca(&server))),
        "kms.cn-north-4.myhuaweicloud.com",
    ) {
        Err(ClientError::Tls(rustls::Error::InvalidCertificate(error))) => {
            assert_ne!(error, CertificateError::UnknownIssuer, "the CA is trusted");
        }
        Err(other) => panic!("expected an invalid certificate, got {other}"),
        Ok(_) => panic!("the certificate was accepted for a name it does not cover"),
    }
}

#[test]
fn plain_http_to_the_tls_port_gets_no_http_response() {
    let server = start_tls();
    match send(
        server.local_addr(),
        &token_request(&format!("http://{}", server.local_addr()), TOKEN, PID),
    ) {
        Err(ClientError::ClosedBeforeAnyByte | ClientError::NotHttp { .. }) => {}
        other => panic!("expected no HTTP answer, got {other:?}"),
    }
    assert!(server.requests().is_empty());
    // The server is still fine for TLS clients.
    let mut conn = connect_tls(
        server.local_addr(),
        tls_config(Some(ca(&server))),
        "localhost",
    )
    .unwrap();
    assert_count(
        &conn
            .send(&token_request(&server.url(), TOKEN, PID))
            .unwrap(),
        COUNT,
    );
}

#[test]
fn faults_apply_inside_tls() {
    let server = start_tls();
    let config = tls_config(Some(ca(&server)));
    let url = server.url();
    let garbage: &[u8] = b"definitely not HTTP";
    server
        .faults()
        .next(1, Fault::NotHttp(Bytes::from_static(garbage)));
    server.faults().next(1, Fault::CloseMidBody { after: 3 });

    let mut conn = connect_tls(server.local_addr(), config.clone(), "localhost").unwrap();
    match conn.send(&token_request(&url, TOKEN, PID)) {
        Err(ClientError::NotHttp { received }) => assert_eq!(received, garbage),
        other => panic!("expected not HTTP, got {other:?}"),
    }
    let mut conn = connect_tls(server.local_addr(), config.clone(), "localhost").unwrap();
    match conn.send(&token_request(&url, TOKEN, PID)) {
        Err(ClientError::ClosedMidBody { body, expected, .. }) => {
            assert_eq!(body, b"{\"i");
            assert_eq!(expected, Some(19));
        }
        other => panic!("expected a close mid-body, got {other:?}"),
    }
    // Informational answers for ever, each a proper record inside TLS.
    server.faults().next(1, Fault::EndlessInformational);
    let mut conn = connect_tls(server.local_addr(), config.clone(), "localhost").unwrap();
    conn.write_request(&token_request(&url, TOKEN, PID))
        .unwrap();
    for _ in 0..5 {
        assert_eq!(conn.read_head().unwrap().status, 102);
    }
    drop(conn);
    let mut conn = connect_tls(server.local_addr(), config, "localhost").unwrap();
    assert_count(&conn.send(&token_request(&url, TOKEN, PID)).unwrap(), COUNT);
}
