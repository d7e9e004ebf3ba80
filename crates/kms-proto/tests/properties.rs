//! The laws of the core, checked with proptest.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // a test fails by panicking

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use kms_proto::{
    AkSk, AuthToken, Credentials, Decision, Endpoint, HttpPolicy, Outcome, ProjectId, Region,
    ResponseError, RetryPolicy, ShowUserInstances,
};
use proptest::prelude::*;

fn status() -> impl Strategy<Value = StatusCode> {
    (100u16..=999).prop_map(|s| StatusCode::from_u16(s).unwrap())
}

/// Header names that matter to the parser, plus noise, with values of any legal bytes.
fn headers() -> impl Strategy<Value = Vec<(String, Vec<u8>)>> {
    let name = prop_oneof![
        Just("x-request-id".to_owned()),
        Just("retry-after".to_owned()),
        Just("content-type".to_owned()),
        "[a-z][a-z0-9-]{0,12}",
    ];
    let value = prop_oneof![
        "[ -~]{0,40}".prop_map(String::into_bytes),
        proptest::collection::vec(
            any::<u8>().prop_filter("legal", |b| *b >= 0x20 && *b != 0x7f),
            0..40
        ),
    ];
    proptest::collection::vec((name, value), 0..6)
}

fn header_map(headers: &[(String, Vec<u8>)], upper: &[bool]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (i, (name, value)) in headers.iter().enumerate() {
        let name: String = if upper.get(i).copied().unwrap_or(false) {
            name.to_ascii_uppercase()
        } else {
            name.clone()
        };
        map.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_bytes(value).unwrap(),
        );
    }
    map
}

/// Bodies near the interesting shapes, and arbitrary bytes.
fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..200),
        any::<u64>().prop_map(|n| format!(r#"{{"instance_num":{n}}}"#).into_bytes()),
        "[{}\\[\\]\":,a-z_0-9. -]{0,80}".prop_map(String::into_bytes),
        ("[a-zA-Z._0-9]{0,12}", "[ -~]{0,30}").prop_map(|(c, m)| {
            format!(r#"{{"error":{{"error_code":"{c}","error_msg":"{m}"}},"request_id":"r"}}"#)
                .into_bytes()
        }),
    ]
}

/// What a result says, in comparable form.
fn summary(r: &Result<kms_proto::InstanceCount, ResponseError>) -> String {
    match r {
        Ok(c) => format!("ok {} {:?}", c.count(), c.request_id()),
        Err(e) => format!(
            "{:?} {} {:?} {:?} {:?} {} {:?}",
            e.kind(),
            e.status(),
            e.code(),
            e.message(),
            e.request_id(),
            e.is_retryable(),
            e.retry_after()
        ),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parse_never_panics_and_errors_display(status in status(), headers in headers(), body in body()) {
        let map = header_map(&headers, &[]);
        if let Err(e) = kms_proto::parse(status, &map, &body) {
            let shown = e.to_string();
            prop_assert!(!shown.contains('\n') && !shown.contains('\r'), "{shown:?}");
        }
    }

    #[test]
    fn every_count_round_trips(n in any::<u64>(), pad in "[ \t\n]{0,3}", extra in proptest::option::of("[a-z]{1,8}")) {
        let extra = extra.map(|k| format!(r#""x{k}": [1, {{"a": null}}],"#)).unwrap_or_default();
        let body = format!("{pad}{{{extra}{pad}\"instance_num\"{pad}:{pad}{n}{pad}}}{pad}");
        let got = kms_proto::parse(StatusCode::OK, &HeaderMap::new(), body.as_bytes());
        prop_assert_eq!(got.map(|c| c.count()).ok(), Some(n), "{}", body);
    }

    #[test]
    fn a_non_success_status_is_never_ok(status in status(), headers in headers(), body in body()) {
        prop_assume!(!status.is_success());
        let map = header_map(&headers, &[]);
        prop_assert!(kms_proto::parse(status, &map, &body).is_err());
    }

    #[test]
    fn header_name_case_never_matters(
        status in status(),
        headers in headers(),
        upper in proptest::collection::vec(any::<bool>(), 6),
        body in body(),
    ) {
        let lower = header_map(&headers, &[]);
        let mixed = header_map(&headers, &upper);
        prop_assert_eq!(
            summary(&kms_proto::parse(status, &lower, &body)),
            summary(&kms_proto::parse(status, &mixed, &body))
        );
    }

    #[test]
    fn building_never_panics_and_never_escapes_the_path(
        // Mostly valid values, so that most cases reach the builder; some of anything.
        project in prop_oneof![4 => "[a-zA-Z0-9_-]{1,64}", 1 => "[ -~]{0,70}", 1 => any::<String>()],
        region in prop_oneof!["[a-z]{2}-[a-z]{3,9}-[0-9]{1,3}", "[ -~]{0,20}"],
        endpoint in prop_oneof![
            2 => Just(None),
            3 => "(https|http)://[a-z][a-z0-9]{0,8}(\\.[a-z]{2,5})?(:[0-9]{1,5})?(/[a-zA-Z0-9._~-]{1,8}){0,3}/?".prop_map(Some),
            1 => "(https|http)://[a-z0-9.:\\[\\]-]{1,20}(/[a-zA-Z0-9._~%/-]{0,20})?".prop_map(Some),
            1 => "[ -~]{0,40}".prop_map(Some),
        ],
        token in prop_oneof![3 => "[!-~]{1,40}", 1 => any::<String>()],
        aksk in proptest::option::of((
            prop_oneof![3 => "[A-Z0-9]{20}", 1 => "[!-~]{1,20}"],
            prop_oneof![3 => "[a-zA-Z0-9]{40}", 1 => any::<String>()],
            proptest::option::of(prop_oneof![3 => "[!-~]{1,60}", 1 => any::<String>()]),
        )),
        secs in any::<u64>(),
    ) {
        let Ok(project) = ProjectId::new(&project) else { return Ok(()) };
        let endpoint = match endpoint {
            Some(url) => Endpoint::parse_with(&url, HttpPolicy::AllowInsecure),
            None => Region::new(&region).map(|r| Endpoint::for_region(&r)),
        };
        let Ok(endpoint) = endpoint else { return Ok(()) };
        let creds: Credentials = match aksk {
            Some((ak, sk, st)) => {
                let Ok(mut c) = AkSk::new(&ak, &sk) else { return Ok(()) };
                if let Some(st) = st {
                    let Ok(with) = c.with_security_token(&st) else { return Ok(()) };
                    c = with;
                }
                c.into()
            }
            None => {
                let Ok(t) = AuthToken::new(&token) else { return Ok(()) };
                t.into()
            }
        };
        let now = UNIX_EPOCH.checked_add(Duration::from_secs(secs % (300 * 365 * 86_400)));
        let now = now.unwrap_or(SystemTime::UNIX_EPOCH);
        let req = ShowUserInstances::new(project.clone()).build(&endpoint, &creds, now).unwrap();
        let want = format!("{}/v1.0/{}/kms/user-instances", endpoint.base_path(), project);
        prop_assert_eq!(req.uri().path(), want.as_str());
        prop_assert_eq!(req.uri().query(), None);
        prop_assert_eq!(req.uri().authority().map(|a| a.as_str().to_owned()), Some(endpoint.authority()));
        let authority = endpoint.authority();
        prop_assert_eq!(req.headers()["host"].as_bytes(), authority.as_bytes());
        for value in req.headers().values() {
            prop_assert!(!value.as_bytes().iter().any(|b| b.is_ascii_control()));
        }
    }

    #[test]
    fn retry_delays_stay_under_the_cap_and_attempts_are_bounded(
        max_attempts in 1u32..12,
        initial_ms in 0u64..5_000,
        cap_ms in 0u64..60_000,
        status in prop_oneof![Just(429u16), Just(500), Just(502), Just(503), Just(504)],
        retry_after in proptest::option::of(0u64..120),
        jitters in proptest::collection::vec(prop_oneof![0.0f64..=1.0, Just(f64::NAN), -5.0f64..5.0], 12),
    ) {
        let policy = RetryPolicy::default()
            .with_max_attempts(max_attempts)
            .with_backoff(Duration::from_millis(initial_ms), Duration::from_millis(cap_ms));
        let mut headers = HeaderMap::new();
        if let Some(s) = retry_after {
            headers.insert("retry-after", HeaderValue::from(s));
        }
        let err = kms_proto::parse(StatusCode::from_u16(status).unwrap(), &headers, b"").unwrap_err();
        let mut attempts = 1;
        loop {
            let jitter = jitters[(attempts as usize - 1) % jitters.len()];
            match policy.decide(attempts, Outcome::Response(&err), jitter, UNIX_EPOCH) {
                Decision::Retry(delay) => {
                    prop_assert!(delay <= policy.max_backoff(), "{delay:?} > {:?}", policy.max_backoff());
                    attempts += 1;
                    prop_assert!(attempts <= max_attempts);
                }
                _ => break,
            }
        }
    }
}
