//! The verifier accepts every client's header set and says precisely why it refuses.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // a test fails by panicking

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderValue};
use kms_proto::sign::{self, SignableRequest};
use kms_proto::verify::{ReceivedRequest, Verified, VerifyError, verify};
use kms_proto::{AkSk, Endpoint, ProjectId, ShowUserInstances};

const AK: &str = "AKEXAMPLE0000000000";
const SK: &str = "SKEXAMPLEsecretkey000000000000000000000";
const PID: &str = "0dea2644dc80d5d22ff1c01e3ebea6fc";
const PATH: &str = "/v1.0/0dea2644dc80d5d22ff1c01e3ebea6fc/kms/user-instances";

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_795_334_400)
}

fn check(headers: &HeaderMap, at: SystemTime) -> Result<Verified<'_>, VerifyError> {
    let request = ReceivedRequest {
        method: "GET",
        path: PATH,
        query: "",
        headers,
        body: b"",
    };
    verify(&request, |ak| (ak == AK).then_some(SK), at)
}

/// Signs `headers` the way a client that signs exactly `signed` would.
fn signed_by_client(headers: &[(&str, &str)], signed: &[&str]) -> HeaderMap {
    let to_sign: Vec<(&str, &str)> = headers
        .iter()
        .copied()
        .filter(|(n, _)| signed.contains(n))
        .collect();
    let canonical = sign::canonical_request(&SignableRequest {
        method: "GET",
        path: PATH,
        query: &[],
        headers: &to_sign,
        body: b"",
    });
    let date = headers.iter().find(|(n, _)| *n == "x-sdk-date").unwrap().1;
    let signature = sign::signature(SK, &sign::string_to_sign(date, &canonical.text));
    let mut map = HeaderMap::new();
    for (n, v) in headers {
        map.insert(
            http::HeaderName::from_bytes(n.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    map.insert(
        "authorization",
        sign::authorization(AK, &canonical.signed_headers, &signature)
            .parse()
            .unwrap(),
    );
    map
}

fn wire_headers() -> Vec<(&'static str, &'static str)> {
    vec![
        ("content-type", "application/json"),
        ("host", "kms.cn-north-4.myhuaweicloud.com"),
        ("user-agent", "huaweicloud-usdk-go/3.0"),
        ("x-project-id", PID),
        ("x-sdk-date", "20261122T080000Z"),
    ]
}

#[test]
fn accepts_python_go_and_our_own_signatures() {
    let python = signed_by_client(
        &wire_headers(),
        &[
            "content-type",
            "host",
            "user-agent",
            "x-project-id",
            "x-sdk-date",
        ],
    );
    let verified = check(&python, now()).unwrap();
    assert_eq!(verified.access_key(), AK);
    assert_eq!(
        verified.signed_headers().collect::<Vec<_>>(),
        [
            "content-type",
            "host",
            "user-agent",
            "x-project-id",
            "x-sdk-date"
        ]
    );

    let go = signed_by_client(
        &wire_headers(),
        &["user-agent", "x-project-id", "x-sdk-date"],
    );
    assert!(check(&go, now()).unwrap().is_signed("x-project-id"));
    assert!(!check(&go, now()).unwrap().is_signed("host"));

    let endpoint = Endpoint::parse("https://kms.cn-north-4.myhuaweicloud.com").unwrap();
    let ours = ShowUserInstances::new(ProjectId::new(PID).unwrap())
        .build(&endpoint, &AkSk::new(AK, SK).unwrap().into(), now())
        .unwrap();
    assert!(check(ours.headers(), now()).is_ok());
}

#[test]
fn the_clock_window_is_fifteen_minutes_either_way() {
    let go = signed_by_client(
        &wire_headers(),
        &["user-agent", "x-project-id", "x-sdk-date"],
    );
    for offset in [0, 60, 15 * 60] {
        assert!(
            check(&go, now() + Duration::from_secs(offset)).is_ok(),
            "+{offset}s"
        );
        assert!(
            check(&go, now() - Duration::from_secs(offset)).is_ok(),
            "-{offset}s"
        );
    }
    let err = check(&go, now() + Duration::from_secs(15 * 60 + 1)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "signature expired, signature time:20261122T080000Z,server time:20261122T081501Z"
    );
    assert!(matches!(
        check(&go, now() - Duration::from_secs(16 * 60)),
        Err(VerifyError::Expired { .. })
    ));
}

#[test]
fn says_why_it_refuses() {
    let mut no_auth = signed_by_client(&wire_headers(), &["x-sdk-date"]);
    no_auth.remove("authorization");
    assert_eq!(
        check(&no_auth, now()).unwrap_err(),
        VerifyError::MissingAuthorization
    );

    let date_unsigned = signed_by_client(&wire_headers(), &["host", "user-agent"]);
    // The client did not sign a date: refused before the signature is even looked at.
    assert_eq!(
        check(&date_unsigned, now()).unwrap_err(),
        VerifyError::DateNotSigned,
    );

    let mut no_date = signed_by_client(&wire_headers(), &["host"]);
    no_date.remove("x-sdk-date");
    assert_eq!(
        check(&no_date, now()).unwrap_err(),
        VerifyError::MissingDate
    );

    let mut missing = signed_by_client(&wire_headers(), &["host", "x-sdk-date"]);
    missing.remove("host");
    assert_eq!(
        check(&missing, now()).unwrap_err(),
        VerifyError::SignedHeaderMissing("host".into())
    );

    let mut twice = signed_by_client(&wire_headers(), &["host", "x-sdk-date"]);
    twice.append("host", HeaderValue::from_static("evil.example"));
    assert_eq!(
        check(&twice, now()).unwrap_err(),
        VerifyError::SignedHeaderMissing("host".into())
    );

    let mut unknown = signed_by_client(&wire_headers(), &["x-sdk-date"]);
    let auth = unknown["authorization"]
        .to_str()
        .unwrap()
        .replace(AK, "AKOTHER");
    unknown.insert("authorization", auth.parse().unwrap());
    assert_eq!(
        check(&unknown, now()).unwrap_err(),
        VerifyError::UnknownAccessKey("AKOTHER".into())
    );

    let mut bad_date = signed_by_client(&wire_headers(), &["x-sdk-date"]);
    bad_date.insert(
        "x-sdk-date",
        HeaderValue::from_static("2026-11-22T08:00:00Z"),
    );
    assert_eq!(
        check(&bad_date, now()).unwrap_err(),
        VerifyError::MalformedDate
    );

    // A header that was not signed can change freely; a signed one cannot.
    let mut go = signed_by_client(
        &wire_headers(),
        &["user-agent", "x-project-id", "x-sdk-date"],
    );
    go.insert("host", HeaderValue::from_static("elsewhere.example"));
    assert!(check(&go, now()).is_ok());
    go.insert(
        "x-project-id",
        HeaderValue::from_static("ffffffffffffffffffffffffffffffff"),
    );
    assert_eq!(
        check(&go, now()).unwrap_err(),
        VerifyError::SignatureMismatch
    );
}

#[test]
fn errors_never_show_the_signature() {
    let headers = signed_by_client(&wire_headers(), &["x-sdk-date"]);
    let auth = headers["authorization"].to_str().unwrap();
    let signature = auth.rsplit('=').next().unwrap();
    let mut tampered = headers.clone();
    tampered.insert("x-sdk-date", HeaderValue::from_static("20261122T080001Z"));
    let err = check(&tampered, now()).unwrap_err();
    assert_eq!(err, VerifyError::SignatureMismatch);
    assert!(!format!("{err} {err:?}").contains(signature));
}

/// `n` extra headers `x-extra-<i>: value-<i>` beside the usual ones.
fn with_extras(n: usize) -> (Vec<(String, String)>, Vec<String>) {
    let extra: Vec<(String, String)> = (0..n)
        .map(|i| (format!("x-extra-{i:02}"), format!("value-{i}")))
        .collect();
    let names = extra.iter().map(|(n, _)| n.clone()).collect();
    (extra, names)
}

#[test]
fn signed_lists_and_header_maps_of_every_size_verify() {
    // 3 signed headers (stack), 16 (the stack's limit), 17, 43, 62 and 64 (the most allowed)
    // on the heap; header maps of 6 to 31 headers (walked) and 46 to 67 (searched by hash).
    for extras in [0, 13, 14, 40, 59, 61] {
        let (extra, extra_names) = with_extras(extras);
        let mut headers = wire_headers()
            .into_iter()
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect::<Vec<_>>();
        headers.extend(extra);
        let pairs: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let mut signed: Vec<&str> = vec!["host", "x-project-id", "x-sdk-date"];
        signed.extend(extra_names.iter().map(String::as_str));
        let map = signed_by_client(&pairs, &signed);
        let verified =
            check(&map, now()).unwrap_or_else(|e| panic!("{} signed headers: {e}", signed.len()));
        assert_eq!(verified.signed_headers().count(), signed.len());

        // Each walk must still notice a repeated signed header.
        let mut twice = map.clone();
        twice.append("x-project-id", HeaderValue::from_static("other"));
        assert_eq!(
            check(&twice, now()).unwrap_err(),
            VerifyError::SignedHeaderMissing("x-project-id".into()),
            "{} signed headers",
            signed.len()
        );
    }
}

#[test]
fn malformed_signed_header_lists_are_refused_before_any_header_is_read() {
    let sig = "ab".repeat(32);
    let too_many = (0..65)
        .map(|i| format!("h{i}"))
        .collect::<Vec<_>>()
        .join(";");
    let at_limit = (0..64)
        .map(|i| format!("h{i}"))
        .collect::<Vec<_>>()
        .join(";");
    let cases = [
        ("host;;x-sdk-date", "must be lower-case header names"),
        ("host;x-sdk-date;", "must be lower-case header names"),
        (";host", "must be lower-case header names"),
        ("Host;x-sdk-date", "must be lower-case header names"),
        ("host;x_sdk_date", "must be lower-case header names"),
        (too_many.as_str(), "more than 64 headers"),
        // 64 names are allowed: refused only because h0 is not in the request.
        (at_limit.as_str(), "signed header \"h0\" is missing"),
    ];
    for (list, why) in cases {
        let mut map = HeaderMap::new();
        map.insert("x-sdk-date", HeaderValue::from_static("20261122T080000Z"));
        let auth = format!("SDK-HMAC-SHA256 Access={AK}, SignedHeaders={list}, Signature={sig}");
        map.insert("authorization", auth.parse().unwrap());
        let err = check(&map, now()).unwrap_err();
        assert!(err.to_string().contains(why), "{list:?}: {err}");
    }
}
