//! The built request: URI, every header the transport must send, signing, secrets.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // a test fails by panicking

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::Method;
use kms_proto::sign::{self, SignableRequest};
use kms_proto::{
    AkSk, AuthToken, Credentials, Endpoint, HttpPolicy, Input, Problem, ProjectId,
    ShowUserInstances, UserAgent,
};

const PID: &str = "0dea2644dc80d5d22ff1c01e3ebea6fc";
const SK: &str = "SKEXAMPLEsecretkey000000000000000000000";
const TOKEN: &str = "MIIEhQYJKoZIhvcNAQcCoIIEdjCCBHICAQExDTALBglghkgBZQMEAgEwggKXBgkq";
const SECURITY_TOKEN: &str = "gQpjbi1ub3J0aC00xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_795_334_400) // 2026-11-22T08:00:00Z
}

fn call() -> ShowUserInstances {
    ShowUserInstances::new(ProjectId::new(PID).unwrap())
}

fn aksk() -> Credentials {
    AkSk::new("AKEXAMPLE0000000000", SK).unwrap().into()
}

fn header_names(req: &http::Request<Vec<u8>>) -> Vec<&str> {
    req.headers().keys().map(|k| k.as_str()).collect()
}

#[test]
fn token_request_carries_exactly_the_documented_headers() {
    let endpoint = Endpoint::parse("https://kms.cn-north-4.myhuaweicloud.com").unwrap();
    let creds = AuthToken::new(TOKEN).unwrap().into();
    let req = call().build(&endpoint, &creds, now()).unwrap();
    assert_eq!(req.method(), Method::GET);
    assert_eq!(
        req.uri().to_string(),
        format!("https://kms.cn-north-4.myhuaweicloud.com/v1.0/{PID}/kms/user-instances")
    );
    assert_eq!(
        header_names(&req),
        [
            "host",
            "user-agent",
            "content-type",
            "x-project-id",
            "x-auth-token"
        ]
    );
    let h = req.headers();
    assert_eq!(h["host"], "kms.cn-north-4.myhuaweicloud.com");
    assert_eq!(
        h["user-agent"],
        concat!("kms-rs/", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(h["content-type"], "application/json");
    assert_eq!(h["x-project-id"], PID);
    assert_eq!(h["x-auth-token"], TOKEN);
    assert!(h["x-auth-token"].is_sensitive());
    assert!(req.body().is_empty());
}

#[test]
fn aksk_request_is_signed_over_every_header_it_sends() {
    let endpoint = Endpoint::parse("https://kms.internal:8443/gateway").unwrap();
    let creds: Credentials = AkSk::new("AKEXAMPLE0000000000", SK)
        .unwrap()
        .with_security_token(SECURITY_TOKEN)
        .unwrap()
        .into();
    let req = call()
        .with_user_agent(UserAgent::with_suffix("myapp/1.2 (ci)").unwrap())
        .build(&endpoint, &creds, now())
        .unwrap();
    assert_eq!(
        req.uri().to_string(),
        format!("https://kms.internal:8443/gateway/v1.0/{PID}/kms/user-instances")
    );
    let h = req.headers();
    assert_eq!(h["host"], "kms.internal:8443");
    assert_eq!(h["x-sdk-date"], "20261122T080000Z");
    assert_eq!(h["x-security-token"], SECURITY_TOKEN);
    assert!(h["x-security-token"].is_sensitive() && h["authorization"].is_sensitive());
    assert!(
        h["user-agent"]
            .to_str()
            .unwrap()
            .ends_with(" myapp/1.2 (ci)")
    );

    // Re-derive the signature with the reference (text-building) canonicalisation from
    // the headers actually sent: the builder's streaming signer must agree with it.
    let sent: Vec<(&str, &str)> = h
        .iter()
        .filter(|(n, _)| *n != "authorization")
        .map(|(n, v)| (n.as_str(), v.to_str().unwrap()))
        .collect();
    let canonical = sign::canonical_request(&SignableRequest {
        method: "GET",
        path: req.uri().path(),
        query: &[],
        headers: &sent,
        body: b"",
    });
    assert_eq!(
        canonical.signed_headers,
        "content-type;host;user-agent;x-project-id;x-sdk-date;x-security-token"
    );
    assert!(
        canonical
            .text
            .starts_with(&format!("GET\n/gateway/v1.0/{PID}/kms/user-instances/\n\n"))
    );
    let string_to_sign = sign::string_to_sign("20261122T080000Z", &canonical.text);
    let expected = sign::authorization(
        "AKEXAMPLE0000000000",
        &canonical.signed_headers,
        &sign::signature(SK, &string_to_sign),
    );
    assert_eq!(h["authorization"], expected.as_str());
}

#[test]
fn every_attempt_is_signed_at_its_own_time() {
    let endpoint = Endpoint::parse("https://kms.cn-north-4.myhuaweicloud.com").unwrap();
    let first = call().build(&endpoint, &aksk(), now()).unwrap();
    let later = call()
        .build(&endpoint, &aksk(), now() + Duration::from_secs(1))
        .unwrap();
    assert_eq!(later.headers()["x-sdk-date"], "20261122T080001Z");
    assert_ne!(
        first.headers()["authorization"],
        later.headers()["authorization"]
    );
}

#[test]
fn default_ports_are_left_out_of_uri_and_host() {
    for (url, host) in [
        ("https://kms.example.com:443", "kms.example.com"),
        ("http://127.0.0.1:80", "127.0.0.1"),
        ("http://[::1]:8080", "[::1]:8080"),
        ("http://kms.lan:8080", "kms.lan:8080"),
    ] {
        let endpoint = Endpoint::parse_with(url, HttpPolicy::AllowInsecure).unwrap();
        let req = call().build(&endpoint, &aksk(), now()).unwrap();
        assert_eq!(req.headers()["host"], host, "{url}");
        assert_eq!(req.uri().authority().unwrap().as_str(), host, "{url}");
    }
}

#[test]
fn no_secret_in_any_debug_or_display() {
    let endpoint = Endpoint::parse("https://kms.example.com").unwrap();
    let creds: Vec<Credentials> = vec![
        AuthToken::new(TOKEN).unwrap().into(),
        AkSk::new("AKEXAMPLE0000000000", SK)
            .unwrap()
            .with_security_token(SECURITY_TOKEN)
            .unwrap()
            .into(),
    ];
    for c in &creds {
        let req = call().build(&endpoint, c, now()).unwrap();
        let signature = req
            .headers()
            .get("authorization")
            .map(|v| v.to_str().unwrap().rsplit('=').next().unwrap().to_owned());
        let shown = format!("{req:?} {req:#?} {c:?} {:?}", req.headers());
        for secret in [TOKEN, SK, SECURITY_TOKEN]
            .iter()
            .copied()
            .chain(signature.as_deref())
        {
            assert!(!shown.contains(secret), "secret leaked into {shown}");
        }
    }
}

#[test]
fn a_time_that_cannot_be_written_is_an_error_not_a_panic() {
    let endpoint = Endpoint::parse("https://kms.example.com").unwrap();
    let err = call()
        .build(&endpoint, &aksk(), UNIX_EPOCH - Duration::from_secs(1))
        .unwrap_err();
    assert_eq!(err.input(), Input::SigningTime);
    assert_eq!(err.problem(), &Problem::TimeOutOfRange);
    // Token requests carry no date, so any clock is fine for them.
    let token = AuthToken::new(TOKEN).unwrap().into();
    assert!(
        call()
            .build(&endpoint, &token, UNIX_EPOCH - Duration::from_secs(1))
            .is_ok()
    );
}

#[test]
fn user_agent_suffix_is_validated() {
    for bad in ["", " x", "x\r\nEvil: 1", "ü"] {
        assert_eq!(
            UserAgent::with_suffix(bad).unwrap_err().input(),
            Input::UserAgent,
            "{bad:?}"
        );
    }
}
