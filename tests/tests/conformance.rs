//! One table of scenarios, run through every transport against `kms-mock` over real
//! sockets on 127.0.0.1; every transport must reach the same outcome.
//!
//! Every scenario on every transport is a test of its own, named
//! `scenario::<scenario>::<transport>` (`scenario::nested-404::kms-ureq`), so one failure
//! hides no other and one can be run alone; the checks that are not rows of the table keep
//! their function names. This file runs on `libtest-mimic` (`harness = false`), which takes
//! the usual arguments:
//!
//! ```sh
//! cargo test -p kms-conformance --test conformance -- --list        # every test's name
//! cargo test -p kms-conformance scenario::nested-404::             # one scenario, both transports
//! cargo test -p kms-conformance -- --exact scenario::nested-404::kms-ureq   # one run
//! cargo test -p kms-conformance ::kms-hyper                        # the table on one transport
//! cargo test -p kms-conformance --test conformance -- --test-threads 1      # one at a time
//! ```
//!
//! A filter is a substring: `scenario::malformed-response-head::` (with its trailing `::`)
//! leaves out `malformed-response-head-retried`. Tests run on as many threads as there are
//! cores (libtest-mimic reads `--test-threads`, not `RUST_TEST_THREADS`), as the built-in
//! harness did; each scenario starts its own emulator, and the few timing bounds
//! (`took_at_most`) leave seconds of slack for that.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // a test fails by panicking

use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use kms_conformance::Transport;
use kms_conformance::proxy::ConnectProxy;
use kms_conformance::trace::Capture;
use kms_conformance::unreachable::{BlackHole, SilentListener};
use kms_mock::{BlockingMockServer, Fault, MockConfig};
use kms_proto::call::ErrorKind;
use kms_proto::{
    AkSk, AuthToken, CaBundle, ClientConfig, Credentials, Endpoint, Endpoints, FailoverPolicy,
    ProjectId, ProxyUrl, RetryPolicy, SigningAlgorithm, TrustRoots,
};
use libtest_mimic::{Arguments, Failed, Trial};

const PROJECT: &str = "0dea2644dc80d5d22ff1c01e3ebea6fc";
const COUNT: u64 = 15;
const AK: &str = "CONFORMANCEAK000001";
const SK: &str = "conformance-secret-key-0000000000000000";
const TEMP_AK: &str = "CONFORMANCETEMPAK01";
const TEMP_SK: &str = "conformance-temporary-secret-0000000000";
const SECURITY_TOKEN: &str = "conformance-security-token-gQpjbi1ub3J0aC00";
const TOKEN: &str = "conformance-iam-token-MIIEhQYJKoZIhvcNAQcCoIIEdjCCBHICAQExDTAL";

/// Every secret of the suite: none may appear in a log line or an error.
const SECRETS: [&str; 4] = [SK, TEMP_SK, SECURITY_TOKEN, TOKEN];

#[derive(Clone, Copy, Debug)]
enum Auth {
    Token,
    AkSk,
    Temporary,
    WrongSk,
    /// The permanent AK/SK, signing with this algorithm.
    AkSkWith(SigningAlgorithm),
    /// The temporary AK/SK and its security token, signing with this algorithm.
    TemporaryWith(SigningAlgorithm),
    /// The AK with another SK, signing with this algorithm.
    WrongSkWith(SigningAlgorithm),
}

/// What a scenario must end in.
#[derive(Debug, Clone)]
enum Expect {
    Count,
    Error {
        kind: ErrorKind,
        status: Option<u16>,
        code: Option<&'static str>,
        retryable: bool,
        attempts: u32,
    },
}

fn err(
    kind: ErrorKind,
    status: Option<u16>,
    code: Option<&'static str>,
    retryable: bool,
    attempts: u32,
) -> Expect {
    Expect::Error {
        kind,
        status,
        code,
        retryable,
        attempts,
    }
}

#[derive(Clone)]
struct Scenario {
    name: &'static str,
    auth: Auth,
    /// The endpoint the client is given, from the emulator's URL.
    endpoint: fn(&str) -> String,
    mock: fn(MockConfig) -> MockConfig,
    faults: fn(&BlockingMockServer),
    client: fn(ClientConfig) -> ClientConfig,
    expect: Expect,
    /// Requests the emulator must have received.
    requests: usize,
    /// Whether the error must say the request may have been sent (unchecked if `None`).
    may_have_been_sent: Option<bool>,
    /// Bounds on how long the call took.
    took_at_least: Duration,
    took_at_most: Duration,
}

fn base(name: &'static str, expect: Expect) -> Scenario {
    Scenario {
        name,
        auth: Auth::AkSk,
        endpoint: str::to_owned,
        mock: |m| m,
        faults: |_| {},
        client: |c| c,
        expect,
        requests: 1,
        may_have_been_sent: None,
        took_at_least: Duration::ZERO,
        took_at_most: Duration::from_secs(10),
    }
}

fn no_retry(c: ClientConfig) -> ClientConfig {
    c.with_retry(RetryPolicy::never())
}

/// Fast retries so the suite stays quick; the policy's shape is the core's, tested there.
fn quick_retry(c: ClientConfig) -> ClientConfig {
    c.with_retry(
        RetryPolicy::default()
            .with_backoff(Duration::from_millis(20), Duration::from_secs(3))
            .with_throttle_backoff(Duration::from_millis(20)),
    )
}

fn nested(code: &str, msg: &str) -> String {
    format!(r#"{{"error":{{"error_code":"{code}","error_msg":"{msg}"}}}}"#)
}

fn flat(code: &str, msg: &str) -> String {
    format!(r#"{{"error_msg":"{msg}","error_code":"{code}","request_id":"flat-request-id"}}"#)
}

macro_rules! status_scenarios {
    ($($name:literal, $status:literal, $body:expr, $kind:ident, $code:expr, $retryable:literal;)*) => {
        vec![$(Scenario {
            faults: |m| m.faults().next(1, Fault::json($status, &$body)),
            client: no_retry,
            ..base($name, err(ErrorKind::$kind, Some($status), $code, $retryable, 1))
        }),*]
    };
}

fn scenarios() -> Vec<Scenario> {
    let mut all = vec![
        Scenario {
            auth: Auth::Token,
            ..base("token-success", Expect::Count)
        },
        base("aksk-success", Expect::Count),
        Scenario {
            auth: Auth::Temporary,
            ..base("temporary-aksk-success", Expect::Count)
        },
        Scenario {
            auth: Auth::WrongSk,
            ..base(
                "wrong-sk-401-never-retried",
                err(ErrorKind::Service, Some(401), Some("APIGW.0301"), false, 1),
            )
        },
        // Every signing algorithm, permanent and temporary, and refused with the wrong SK
        // (the default SDK-HMAC-SHA256 is the rows above).
        Scenario {
            auth: Auth::AkSkWith(SigningAlgorithm::HmacSm3),
            ..base("aksk-hmac-sm3-success", Expect::Count)
        },
        Scenario {
            auth: Auth::AkSkWith(SigningAlgorithm::EcdsaP256Sha256),
            ..base("aksk-ecdsa-p256-sha256-success", Expect::Count)
        },
        Scenario {
            auth: Auth::AkSkWith(SigningAlgorithm::Sm2Sm3),
            ..base("aksk-sm2-sm3-success", Expect::Count)
        },
        Scenario {
            auth: Auth::TemporaryWith(SigningAlgorithm::HmacSm3),
            ..base("temporary-aksk-hmac-sm3-success", Expect::Count)
        },
        Scenario {
            auth: Auth::TemporaryWith(SigningAlgorithm::EcdsaP256Sha256),
            ..base("temporary-aksk-ecdsa-p256-sha256-success", Expect::Count)
        },
        Scenario {
            auth: Auth::TemporaryWith(SigningAlgorithm::Sm2Sm3),
            ..base("temporary-aksk-sm2-sm3-success", Expect::Count)
        },
        Scenario {
            auth: Auth::WrongSkWith(SigningAlgorithm::HmacSm3),
            ..base(
                "wrong-sk-hmac-sm3-401-never-retried",
                err(ErrorKind::Service, Some(401), Some("APIGW.0301"), false, 1),
            )
        },
        Scenario {
            auth: Auth::WrongSkWith(SigningAlgorithm::Sm2Sm3),
            ..base(
                "wrong-sk-sm2-sm3-401-never-retried",
                err(ErrorKind::Service, Some(401), Some("APIGW.0301"), false, 1),
            )
        },
        Scenario {
            auth: Auth::AkSkWith(SigningAlgorithm::EcdsaP256Sha256),
            mock: |m| m.with_aksk_algorithms(AK, &[SigningAlgorithm::HmacSm3]),
            ..base(
                "algorithm-not-allowed-for-the-ak-401",
                err(ErrorKind::Service, Some(401), Some("APIGW.0301"), false, 1),
            )
        },
        Scenario {
            mock: |m| m.with_clock(|| SystemTime::now() + Duration::from_secs(20 * 60)),
            // The gateway's "signature expired ... server time" 401, then one re-signed
            // request with the service's time.
            requests: 2,
            ..base("clock-20-minutes-off-corrected", Expect::Count)
        },
        Scenario {
            mock: |m| m.with_clock(|| SystemTime::now() - Duration::from_secs(20 * 60)),
            requests: 2,
            ..base("clock-20-minutes-ahead-corrected", Expect::Count)
        },
        Scenario {
            // A gateway that claims a clock a century away is not believed: the call ends
            // with its 401, saying how far off this machine's clock would be.
            mock: |m| m.with_clock(|| SystemTime::now() + Duration::from_secs(100 * 365 * 86_400)),
            requests: 1,
            ..base(
                "clock-100-years-off-refused",
                err(ErrorKind::Service, Some(401), Some("APIGW.0301"), false, 1),
            )
        },
        Scenario {
            faults: |m| {
                m.faults().next(
                    1,
                    Fault::Respond {
                        status: 502,
                        headers: vec![("content-type".into(), "text/html".into())],
                        body: "<html><body><h1>502 Bad Gateway</h1></body></html>".into(),
                    },
                )
            },
            client: no_retry,
            ..base("html-502", err(ErrorKind::Status, Some(502), None, true, 1))
        },
        Scenario {
            faults: |m| m.faults().next(1, Fault::status(504)),
            client: no_retry,
            ..base(
                "empty-504",
                err(ErrorKind::Status, Some(504), None, true, 1),
            )
        },
        Scenario {
            faults: |m| {
                m.faults()
                    .next(1, Fault::json(200, &nested("KMS.0101", "kms error.")))
            },
            ..base(
                "200-with-error-document",
                err(ErrorKind::Service, Some(200), Some("KMS.0101"), false, 1),
            )
        },
        Scenario {
            faults: |m| {
                m.faults()
                    .next(1, Fault::json(200, r#"{"instance_num": "15"}"#))
            },
            ..base(
                "200-malformed",
                err(ErrorKind::Malformed, Some(200), None, false, 1),
            )
        },
        Scenario {
            faults: |m| {
                m.faults().next(
                    1,
                    Fault::json(
                        429,
                        &flat("APIG.0308", "The throttling threshold has been reached"),
                    )
                    .with_header("retry-after", "1"),
                )
            },
            client: quick_retry,
            requests: 2,
            took_at_least: Duration::from_secs(1),
            ..base("429-retry-after-then-success", Expect::Count)
        },
        Scenario {
            faults: |m| m.faults().next(2, Fault::status(503)),
            client: quick_retry,
            requests: 3,
            ..base("503-503-then-success", Expect::Count)
        },
        Scenario {
            faults: |m| m.faults().next(1, Fault::CloseBeforeResponse),
            client: quick_retry,
            requests: 2,
            ..base("closed-before-response-then-success", Expect::Count)
        },
        Scenario {
            faults: |m| {
                m.faults().next(
                    1,
                    Fault::StallBody {
                        after: 5,
                        stall: Duration::from_secs(5),
                    },
                )
            },
            client: |c| no_retry(c).with_attempt_timeout(Duration::from_millis(500)),
            took_at_least: Duration::from_millis(450),
            took_at_most: Duration::from_millis(2_500),
            ..base(
                "stall-longer-than-attempt-timeout",
                err(ErrorKind::Timeout, None, None, true, 1),
            )
        },
        Scenario {
            // The overall deadline, not the attempt timeout, ends this attempt.
            faults: |m| {
                m.faults().next(
                    1,
                    Fault::StallBody {
                        after: 5,
                        stall: Duration::from_secs(5),
                    },
                )
            },
            client: |c| {
                no_retry(c)
                    .with_attempt_timeout(Duration::from_secs(10))
                    .with_deadline(Duration::from_millis(600))
            },
            took_at_least: Duration::from_millis(550),
            took_at_most: Duration::from_millis(2_500),
            ..base(
                "stall-cut-short-by-the-overall-deadline",
                err(ErrorKind::Timeout, None, None, true, 1),
            )
        },
        Scenario {
            faults: |m| {
                m.faults().next(
                    1,
                    Fault::json(200, &format!("{:<1000}", r#"{"instance_num":15}"#)),
                )
            },
            client: |c| c.with_max_response_body(1000),
            ..base("body-of-exactly-the-cap", Expect::Count)
        },
        Scenario {
            faults: |m| {
                m.faults().next(
                    1,
                    Fault::json(200, &format!("{:<1001}", r#"{"instance_num":15}"#)),
                )
            },
            client: |c| c.with_max_response_body(1000),
            ..base(
                "body-of-cap-plus-one",
                err(ErrorKind::TooLarge, Some(200), None, false, 1),
            )
        },
        Scenario {
            faults: |m| m.faults().next(1, Fault::EndlessBody),
            took_at_most: Duration::from_secs(3),
            ..base(
                "endless-body-refused",
                err(ErrorKind::TooLarge, Some(200), None, false, 1),
            )
        },
        Scenario {
            faults: |m| {
                m.faults()
                    .next(1, Fault::NotHttp("SSH-2.0-OpenSSH_9.6\r\n".into()))
            },
            client: no_retry,
            ..base("not-http", err(ErrorKind::Io, None, None, true, 1))
        },
        Scenario {
            faults: |m| {
                m.faults().next(
                    1,
                    Fault::TruncatedBody {
                        declared: 100,
                        sent: "{\"instance_num\":".into(),
                    },
                )
            },
            client: no_retry,
            ..base("truncated-body", err(ErrorKind::Io, None, None, true, 1))
        },
        Scenario {
            faults: |m| {
                m.faults()
                    .next(1, Fault::redirect("http://127.0.0.1:9/elsewhere"))
            },
            ..base(
                "redirect-not-followed",
                err(ErrorKind::Status, Some(302), None, false, 1),
            )
        },
    ];
    all.extend(response_head_scenarios());
    all.extend(status_scenarios![
        "nested-400", 400, nested("KMS.0204", "Parameters missing."), Service, Some("KMS.0204"), false;
        "nested-401", 401, nested("KMS.0303", "X-Auth-Token expired."), Service, Some("KMS.0303"), false;
        "nested-403", 403, nested("KMS.0307", "The role has no permission for the API."), Service, Some("KMS.0307"), false;
        "nested-404", 404, nested("KMS.0201", "Invalid request URL."), Service, Some("KMS.0201"), false;
        "nested-500", 500, nested("KMS.0101", "kms error."), Service, Some("KMS.0101"), true;
        "nested-502", 502, nested("KMS.0102", "abnormal I/O."), Service, Some("KMS.0102"), true;
        "nested-504", 504, nested("KMS.0101", "kms error."), Service, Some("KMS.0101"), true;
        "flat-400", 400, flat("APIGW.0201", "Request entity too large"), Service, Some("APIGW.0201"), false;
        "flat-401", 401, flat("APIGW.0301", "Incorrect IAM authentication information: verify aksk signature fail"), Service, Some("APIGW.0301"), false;
        "flat-403", 403, flat("APIGW.0302", "The IAM user is not authorized to access the API"), Service, Some("APIGW.0302"), false;
        "flat-404", 404, flat("APIGW.0101", "The API does not exist or has not been published in the environment"), Service, Some("APIGW.0101"), false;
        "flat-500", 500, flat("APIGW.0103", "The backend does not exist"), Service, Some("APIGW.0103"), true;
        "flat-502", 502, flat("APIGW.0202", "The backend is unavailable"), Service, Some("APIGW.0202"), true;
        "flat-504", 504, flat("APIGW.0203", "Backend timeout"), Service, Some("APIGW.0203"), true;
    ]);
    all
}

/// The header lines the emulator adds to a scripted answer: x-request-id, content-length
/// and date.
const ADDED_BY_THE_EMULATOR: usize = 3;

/// A 200 answer with the usual body and `headers` extra header lines.
fn with_headers(headers: Vec<(String, String)>) -> Fault {
    Fault::Respond {
        status: 200,
        headers,
        body: r#"{"instance_num":15}"#.into(),
    }
}

/// One `x-big` header that makes the emulator's answer head `bytes` long, as
/// kms_proto::MAX_RESPONSE_HEAD measures it.
fn head_of(bytes: usize) -> Vec<(String, String)> {
    // What the emulator adds: x-request-id (32), content-length (2), date (29), each plus
    // its name and 4, and 19 for the status line and the blank line.
    let added = (12 + 32 + 4) + (14 + 2 + 4) + (4 + 29 + 4) + 19;
    let value = "v".repeat(bytes - added - ("x-big".len() + 4));
    vec![("x-big".into(), value)]
}

/// Numbered `x-h-N: v` header lines.
fn numbered_headers(n: usize) -> Vec<(String, String)> {
    (0..n).map(|i| (format!("x-h-{i}"), "v".into())).collect()
}

/// The transports agree on the heads they accept (kms_proto::MAX_RESPONSE_HEAD and
/// MAX_RESPONSE_HEADERS), on how they report one they refuse, and on where a name that does
/// not resolve fails.
fn response_head_scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            faults: |m| m.faults().next(1, with_headers(numbered_headers(101))),
            ..base("101-response-headers-accepted", Expect::Count)
        },
        Scenario {
            faults: |m| {
                let most = kms_proto::MAX_RESPONSE_HEADERS - ADDED_BY_THE_EMULATOR;
                m.faults().next(1, with_headers(numbered_headers(most)))
            },
            ..base("as-many-response-headers-as-allowed", Expect::Count)
        },
        Scenario {
            faults: |m| {
                let one_too_many = kms_proto::MAX_RESPONSE_HEADERS - ADDED_BY_THE_EMULATOR + 1;
                m.faults()
                    .next(1, with_headers(numbered_headers(one_too_many)))
            },
            client: no_retry,
            may_have_been_sent: Some(true),
            ..base(
                "one-response-header-too-many",
                err(ErrorKind::Io, None, None, true, 1),
            )
        },
        Scenario {
            faults: |m| {
                m.faults()
                    .next(1, with_headers(head_of(kms_proto::MAX_RESPONSE_HEAD)))
            },
            ..base("response-head-of-exactly-the-limit", Expect::Count)
        },
        Scenario {
            faults: |m| {
                m.faults()
                    .next(1, with_headers(head_of(kms_proto::MAX_RESPONSE_HEAD + 1)))
            },
            client: no_retry,
            may_have_been_sent: Some(true),
            ..base(
                "response-head-one-byte-over-the-limit",
                err(ErrorKind::Io, None, None, true, 1),
            )
        },
        Scenario {
            // Past what either HTTP library reads: refused by the library, the same way.
            faults: |m| {
                m.faults()
                    .next(1, with_headers(head_of(4 * kms_proto::MAX_RESPONSE_HEAD)))
            },
            client: no_retry,
            may_have_been_sent: Some(true),
            ..base(
                "response-head-four-times-the-limit",
                err(ErrorKind::Io, None, None, true, 1),
            )
        },
        Scenario {
            faults: |m| {
                m.faults().next(
                    1,
                    Fault::NotHttp("HTTP/1.1 200 OK\r\nno colon here\r\n\r\n".into()),
                )
            },
            client: no_retry,
            may_have_been_sent: Some(true),
            ..base(
                "malformed-response-head",
                err(ErrorKind::Io, None, None, true, 1),
            )
        },
        Scenario {
            faults: |m| {
                m.faults().next(
                    1,
                    Fault::NotHttp("HTTP/1.1 200 OK\r\nno colon here\r\n\r\n".into()),
                )
            },
            client: quick_retry,
            requests: 2,
            ..base("malformed-response-head-retried", Expect::Count)
        },
        Scenario {
            // RFC 6761: `.invalid` never resolves.
            endpoint: |_| "https://kms.dns-failure.invalid".into(),
            client: no_retry,
            requests: 0,
            may_have_been_sent: Some(false),
            ..base(
                "name-that-does-not-resolve",
                err(ErrorKind::Connect, None, None, true, 1),
            )
        },
    ]
}

fn mock_config() -> MockConfig {
    MockConfig::new()
        .with_project(PROJECT, COUNT)
        .with_aksk(AK, SK)
        .with_temporary_aksk(TEMP_AK, TEMP_SK, SECURITY_TOKEN)
        .with_token(TOKEN, PROJECT)
}

fn credentials(auth: Auth) -> Credentials {
    match auth {
        Auth::Token => AuthToken::new(TOKEN).unwrap().into(),
        Auth::AkSk => AkSk::new(AK, SK).unwrap().into(),
        Auth::Temporary => AkSk::new(TEMP_AK, TEMP_SK)
            .unwrap()
            .with_security_token(SECURITY_TOKEN)
            .unwrap()
            .into(),
        Auth::WrongSk => AkSk::new(AK, "not-the-secret-key").unwrap().into(),
        Auth::AkSkWith(algorithm) => AkSk::new(AK, SK)
            .unwrap()
            .with_algorithm(algorithm)
            .unwrap()
            .into(),
        Auth::TemporaryWith(algorithm) => AkSk::new(TEMP_AK, TEMP_SK)
            .unwrap()
            .with_security_token(SECURITY_TOKEN)
            .unwrap()
            .with_algorithm(algorithm)
            .unwrap()
            .into(),
        Auth::WrongSkWith(algorithm) => AkSk::new(AK, "not-the-secret-key")
            .unwrap()
            .with_algorithm(algorithm)
            .unwrap()
            .into(),
    }
}

fn client_config(url: &str, auth: Auth) -> ClientConfig {
    ClientConfig::new(
        Endpoint::parse(url).unwrap(),
        ProjectId::new(PROJECT).unwrap(),
        credentials(auth),
    )
}

/// Runs one scenario on one transport; `Err` says what differed.
fn run(s: &Scenario, transport: Transport, capture: &Capture) -> Result<(), String> {
    let server = BlockingMockServer::start((s.mock)(mock_config())).map_err(|e| e.to_string())?;
    (s.faults)(&server);
    let config = (s.client)(client_config(&(s.endpoint)(&server.url()), s.auth));
    let started = Instant::now();
    let result = capture.during(|| transport.call(config));
    let took = started.elapsed();
    let mut problems = Vec::new();
    match (&s.expect, &result) {
        (Expect::Count, Ok(count)) => {
            if count.count() != COUNT {
                problems.push(format!("count {} instead of {COUNT}", count.count()));
            }
            if count.request_id().is_none_or(|id| id.len() != 32) {
                problems.push(format!("request id {:?}", count.request_id()));
            }
        }
        (Expect::Count, Err(e)) => problems.push(format!("expected the count, got: {e}")),
        (Expect::Error { .. }, Ok(count)) => {
            problems.push(format!("expected an error, got {count:?}"))
        }
        (
            Expect::Error {
                kind,
                status,
                code,
                retryable,
                attempts,
            },
            Err(e),
        ) => {
            let got = (
                e.kind(),
                e.status().map(|s| s.as_u16()),
                e.code(),
                e.is_retryable(),
                e.attempts(),
            );
            if got != (*kind, *status, *code, *retryable, *attempts) {
                problems.push(format!(
                    "got (kind, status, code, retryable, attempts) = {got:?}, want {:?} [{e}]",
                    (kind, status, code, retryable, attempts)
                ));
            }
            if let Some(sent) = s.may_have_been_sent
                && e.may_have_been_sent() != sent
            {
                problems.push(format!("may_have_been_sent() is {}, want {sent}", !sent));
            }
            let shown = format!("{e} {e:?}");
            if e.to_string().contains(['\n', '\r']) {
                problems.push("Display is not one line".into());
            }
            for secret in SECRETS {
                if shown.contains(secret) {
                    problems.push(format!("the error shows a secret: {shown}"));
                }
            }
        }
    }
    let received = server.requests().len();
    if received != s.requests {
        problems.push(format!(
            "the emulator received {received} requests, want {}",
            s.requests
        ));
    }
    if took < s.took_at_least || took > s.took_at_most {
        problems.push(format!(
            "took {took:?}, want {:?}..={:?}",
            s.took_at_least, s.took_at_most
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// One scenario on one transport with a tracing capture of its own: besides the outcome,
/// the log must show the attempt and no secret or signature.
fn run_traced(s: &Scenario, transport: Transport) -> Result<(), String> {
    let capture = Capture::default();
    let mut problems: Vec<String> = run(s, transport, &capture).err().into_iter().collect();
    let log = capture.text();
    if !log.contains("kms.attempt") {
        problems.push("the tracing capture saw no attempt span".into());
    }
    for secret in SECRETS {
        if log.contains(secret) {
            problems.push("a secret appears in the tracing output".into());
        }
    }
    if let Some(line) = log.lines().find(|l| l.contains("Signature=")) {
        problems.push(format!(
            "a signature appears in the tracing output: {line:?}"
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// Test names are `scenario::<name>::<transport>`: two rows of one name would share them.
fn each_scenario_is_named_once(names: &[&str]) -> Result<(), String> {
    let mut seen = std::collections::HashSet::new();
    let twice: Vec<&str> = names.iter().copied().filter(|n| !seen.insert(*n)).collect();
    if twice.is_empty() {
        Ok(())
    } else {
        Err(format!("scenario names used more than once: {twice:?}"))
    }
}

/// The checks beside the table, under the names they had as `#[test]` functions.
const CHECKS: [(&str, fn()); 17] = [
    (
        "a_black_hole_first_moves_on_to_the_next_endpoint",
        a_black_hole_first_moves_on_to_the_next_endpoint,
    ),
    (
        "a_tls_handshake_that_never_completes_moves_on_to_the_next_endpoint",
        a_tls_handshake_that_never_completes_moves_on_to_the_next_endpoint,
    ),
    (
        "every_endpoint_black_holed_is_a_connect_failure_on_every_transport",
        every_endpoint_black_holed_is_a_connect_failure_on_every_transport,
    ),
    (
        "a_proxy_refusing_its_credentials_is_proxy_auth_and_not_retried",
        a_proxy_refusing_its_credentials_is_proxy_auth_and_not_retried,
    ),
    (
        "a_name_that_does_not_resolve_moves_on_to_the_next_endpoint",
        a_name_that_does_not_resolve_moves_on_to_the_next_endpoint,
    ),
    (
        "three_endpoints_the_first_refuses_the_second_fails_tls_the_third_answers",
        three_endpoints_the_first_refuses_the_second_fails_tls_the_third_answers,
    ),
    (
        "a_failure_after_sending_never_moves_to_another_endpoint",
        a_failure_after_sending_never_moves_to_another_endpoint,
    ),
    (
        "redirect_target_receives_nothing",
        redirect_target_receives_nothing,
    ),
    (
        "https_with_the_emulators_ca_and_without_it",
        https_with_the_emulators_ca_and_without_it,
    ),
    (
        "through_a_loopback_connect_proxy_with_credentials",
        through_a_loopback_connect_proxy_with_credentials,
    ),
    (
        "through_a_proxy_an_http_endpoint_without_a_port_is_port_80",
        through_a_proxy_an_http_endpoint_without_a_port_is_port_80,
    ),
    (
        "connection_refused_is_a_connect_error_that_was_not_sent",
        connection_refused_is_a_connect_error_that_was_not_sent,
    ),
    (
        "hyper_one_client_a_thousand_concurrent_calls_within_the_pool",
        hyper_one_client_a_thousand_concurrent_calls_within_the_pool,
    ),
    (
        "ureq_one_client_shared_by_threads_reuses_connections",
        ureq_one_client_shared_by_threads_reuses_connections,
    ),
    (
        "a_clock_twenty_minutes_off_is_corrected_in_one_extra_request",
        a_clock_twenty_minutes_off_is_corrected_in_one_extra_request,
    ),
    (
        "an_outage_is_retried_within_the_budget_which_refills",
        an_outage_is_retried_within_the_budget_which_refills,
    ),
    (
        "ureq_never_holds_more_connections_than_its_cap",
        ureq_never_holds_more_connections_than_its_cap,
    ),
];

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let table = scenarios();
    let names: Vec<&'static str> = table.iter().map(|s| s.name).collect();
    let mut trials = vec![Trial::test(
        "the_table_names_each_scenario_once",
        move || each_scenario_is_named_once(&names).map_err(Failed::from),
    )];
    for s in table {
        for transport in Transport::ALL {
            let s = s.clone();
            trials.push(Trial::test(
                format!("scenario::{}::{}", s.name, transport.name()),
                move || run_traced(&s, transport).map_err(Failed::from),
            ));
        }
    }
    trials.extend(custom_operation::trials());
    // Trials start in this order: the heavy checks (a thousand calls, threads sharing a
    // client) start after the table's timed rows, beside its last, untimed ones.
    trials.extend(CHECKS.into_iter().map(|(name, check)| {
        Trial::test(name, move || {
            check();
            Ok(())
        })
    }));
    libtest_mimic::run(&args, trials).exit_code()
}

/// `http://127.0.0.1` is port 80: the tunnel asked of the proxy says so (hyper-util's
/// tunnel asks for 443 when a URI names no port, whatever its scheme, and the core's URIs
/// leave a scheme's default port out). Nothing listens there: only the target is checked.
fn through_a_proxy_an_http_endpoint_without_a_port_is_port_80() {
    let proxy = ConnectProxy::start(None).unwrap();
    for transport in Transport::ALL {
        let config = no_retry(client_config("http://127.0.0.1", Auth::Token))
            .with_attempt_timeout(Duration::from_secs(2))
            .with_proxy(ProxyUrl::parse(&proxy.url(None)).unwrap());
        let _ = transport.call(config);
        assert_eq!(
            proxy.targets().last().map(String::as_str),
            Some("127.0.0.1:80"),
            "{}",
            transport.name()
        );
    }
}

fn redirect_target_receives_nothing() {
    let target = BlockingMockServer::start(mock_config()).unwrap();
    for transport in Transport::ALL {
        let server = BlockingMockServer::start(mock_config()).unwrap();
        let location = format!("{}/v1.0/{PROJECT}/kms/user-instances", target.url());
        server.faults().next(1, Fault::redirect(&location));
        let err = transport
            .call(client_config(&server.url(), Auth::Token))
            .unwrap_err();
        assert_eq!(
            err.status().map(|s| s.as_u16()),
            Some(302),
            "{}",
            transport.name()
        );
    }
    assert_eq!(
        target.requests().len(),
        0,
        "a transport followed the redirect"
    );
    assert_eq!(target.connections(), 0);
}

fn https_with_the_emulators_ca_and_without_it() {
    let server = BlockingMockServer::start(mock_config().with_tls()).unwrap();
    let ca = CaBundle::from_pem(server.ca_pem().unwrap().as_bytes()).unwrap();
    for transport in Transport::ALL {
        let with_ca =
            client_config(&server.url(), Auth::AkSk).with_trust(TrustRoots::Only(ca.clone()));
        let count = transport
            .call(with_ca)
            .unwrap_or_else(|e| panic!("{}: {e}", transport.name()));
        assert_eq!(count.count(), COUNT);

        let added =
            client_config(&server.url(), Auth::AkSk).with_trust(TrustRoots::WebPkiAnd(ca.clone()));
        assert_eq!(
            transport.call(added).unwrap().count(),
            COUNT,
            "{}",
            transport.name()
        );

        let without = no_retry(client_config(&server.url(), Auth::AkSk));
        let err = transport.call(without).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Tls, "{}: {err}", transport.name());
        assert!(!err.may_have_been_sent(), "{}", transport.name());
    }
    // A bundle that is not certificates cannot reach a transport: `CaBundle` refuses it,
    // once, for both (kms-proto's `ca_bundles` test has the cases; kms-cli's tests show
    // `--ca-file` refused with exit 2 on both transports).
    for bad in [
        &b"not a pem"[..],
        b"-----BEGIN CERTIFICATE-----\nQUFBQUFB\n-----END CERTIFICATE-----\n",
    ] {
        let err = CaBundle::from_pem(bad).unwrap_err();
        assert_eq!(err.input(), kms_proto::Input::CaCertificates, "{err}");
    }
}

fn through_a_loopback_connect_proxy_with_credentials() {
    let server = BlockingMockServer::start(mock_config()).unwrap();
    // user "pr@xy", password "p:ss" -> Basic cHJAeHk6cDpzcw==
    let proxy = ConnectProxy::start(Some("Basic cHJAeHk6cDpzcw==".into())).unwrap();
    for transport in Transport::ALL {
        let before = proxy.tunnels();
        let config = client_config(&server.url(), Auth::AkSk)
            .with_proxy(ProxyUrl::parse(&proxy.url(Some("pr%40xy:p%3Ass"))).unwrap());
        let count = transport
            .call(config)
            .unwrap_or_else(|e| panic!("{}: {e}", transport.name()));
        assert_eq!(count.count(), COUNT);
        assert_eq!(
            proxy.tunnels(),
            before + 1,
            "{} did not go through the proxy",
            transport.name()
        );

        let wrong = no_retry(client_config(&server.url(), Auth::AkSk))
            .with_proxy(ProxyUrl::parse(&proxy.url(Some("pr%40xy:wrong"))).unwrap());
        let err = transport.call(wrong).unwrap_err();
        assert_eq!(
            err.kind(),
            ErrorKind::ProxyAuth,
            "{}: {err}",
            transport.name()
        );
        assert!(
            !format!("{err} {err:?}").contains("wrong"),
            "{}: the proxy password leaked",
            transport.name()
        );
    }
    let authority = server.url().trim_start_matches("http://").to_owned();
    assert!(
        proxy.targets().iter().all(|t| *t == authority),
        "{:?}",
        proxy.targets()
    );
}

fn connection_refused_is_a_connect_error_that_was_not_sent() {
    let port = refused_port();
    for transport in Transport::ALL {
        let config = client_config(&format!("http://127.0.0.1:{port}"), Auth::Token).with_retry(
            RetryPolicy::default()
                .with_max_attempts(2)
                .with_backoff(Duration::from_millis(1), Duration::from_millis(5)),
        );
        let err = transport.call(config).unwrap_err();
        assert_eq!(
            (err.kind(), err.may_have_been_sent(), err.attempts()),
            (ErrorKind::Connect, false, 2),
            "{}: {err}",
            transport.name()
        );
    }
}

fn hyper_one_client_a_thousand_concurrent_calls_within_the_pool() {
    let server = BlockingMockServer::start(mock_config()).unwrap();
    let config = client_config(&server.url(), Auth::AkSk).with_max_connections(8);
    let results = kms_conformance::runtime().block_on(async {
        let client = kms_hyper::Client::new(config).unwrap();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..1000 {
            let client = client.clone();
            tasks.spawn(async move { client.show_user_instances().await });
        }
        let mut results = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            results.push(joined.unwrap());
        }
        results
    });
    let failed: Vec<String> = results
        .iter()
        .filter_map(|r| r.as_ref().err().map(|e| e.to_string()))
        .collect();
    assert!(
        failed.is_empty(),
        "{} calls failed, first: {:?}",
        failed.len(),
        failed.first()
    );
    assert_eq!(results.len(), 1000);
    assert_eq!(server.requests().len(), 1000);
    assert!(
        server.connections() <= 8,
        "{} connections for a pool of 8",
        server.connections()
    );
}

fn ureq_one_client_shared_by_threads_reuses_connections() {
    let server = BlockingMockServer::start(mock_config()).unwrap();
    let client =
        kms_ureq::Client::new(client_config(&server.url(), Auth::Token).with_max_connections(4))
            .unwrap();
    std::thread::scope(|scope| {
        for _ in 0..4 {
            let client = client.clone();
            scope.spawn(move || {
                for _ in 0..25 {
                    assert_eq!(client.show_user_instances().unwrap().count(), COUNT);
                }
            });
        }
    });
    assert_eq!(server.requests().len(), 100);
    assert!(
        server.connections() <= 4,
        "{} connections for 4 threads",
        server.connections()
    );
}

/// 1,000 calls while every answer is 503: the emulator sees at most the calls plus the
/// budget's 100 retries (500 tokens, 5 a retry); the calls past it end at once with their
/// last error, which says so. After the outage calls succeed, the budget refills, and an
/// isolated failure is retried again.
fn an_outage_is_retried_within_the_budget_which_refills() {
    const CALLS: usize = 1000;
    for transport in Transport::ALL {
        let server = BlockingMockServer::start(mock_config()).unwrap();
        let config = quick_retry(client_config(&server.url(), Auth::AkSk)).with_retry(
            RetryPolicy::default().with_backoff(Duration::from_millis(1), Duration::from_millis(2)),
        );
        server.faults().when(|_| true, Fault::status(503));
        let results: Vec<Result<u64, (bool, String)>> = match transport {
            Transport::Ureq => {
                let client = kms_ureq::Client::new(config).unwrap();
                std::thread::scope(|scope| {
                    let handles: Vec<_> = (0..20)
                        .map(|_| {
                            let client = client.clone();
                            scope.spawn(move || {
                                (0..CALLS / 20)
                                    .map(|_| {
                                        client.show_user_instances().map(|c| c.count()).map_err(
                                            |e| (e.retry_budget_exhausted(), e.to_string()),
                                        )
                                    })
                                    .collect::<Vec<_>>()
                            })
                        })
                        .collect();
                    let mut results: Vec<_> = handles
                        .into_iter()
                        .flat_map(|h| h.join().unwrap())
                        .collect();
                    server.faults().clear();
                    // After the outage: successes refill the budget...
                    for _ in 0..200 {
                        results.push(
                            client
                                .show_user_instances()
                                .map(|c| c.count())
                                .map_err(|e| (false, e.to_string())),
                        );
                    }
                    // ...so an isolated 503 is retried again.
                    server.faults().next(1, Fault::status(503));
                    results.push(
                        client
                            .show_user_instances()
                            .map(|c| c.count())
                            .map_err(|e| (false, e.to_string())),
                    );
                    results
                })
            }
            Transport::Hyper => kms_conformance::runtime().block_on(async {
                let client = kms_hyper::Client::new(config).unwrap();
                let mut set = tokio::task::JoinSet::new();
                for _ in 0..CALLS {
                    let client = client.clone();
                    set.spawn(async move {
                        client
                            .show_user_instances()
                            .await
                            .map(|c| c.count())
                            .map_err(|e| (e.retry_budget_exhausted(), e.to_string()))
                    });
                }
                let mut results = Vec::new();
                while let Some(r) = set.join_next().await {
                    results.push(r.unwrap());
                }
                server.faults().clear();
                for _ in 0..200 {
                    results.push(
                        client
                            .show_user_instances()
                            .await
                            .map(|c| c.count())
                            .map_err(|e| (false, e.to_string())),
                    );
                }
                server.faults().next(1, Fault::status(503));
                results.push(
                    client
                        .show_user_instances()
                        .await
                        .map(|c| c.count())
                        .map_err(|e| (false, e.to_string())),
                );
                results
            }),
        };
        let name = transport.name();
        let (outage, after) = results.split_at(CALLS);
        assert!(outage.iter().all(Result::is_err), "{name}");
        let exhausted: Vec<&String> = outage
            .iter()
            .filter_map(|r| r.as_ref().err())
            .filter(|(exhausted, _)| *exhausted)
            .map(|(_, text)| text)
            .collect();
        assert!(
            exhausted.len() >= CALLS - 100,
            "{name}: {} calls stopped by the budget",
            exhausted.len()
        );
        assert!(
            exhausted[0].contains("not retried: the client's retry budget is spent"),
            "{name}: {}",
            exhausted[0]
        );
        assert!(
            after.iter().all(|r| *r == Ok(COUNT)),
            "{name}: {:?}",
            after.iter().find(|r| r.is_err())
        );
        let requests = server.requests().len();
        // The calls, the budget's 100 retries, 200 successes, and the isolated 503 retried.
        assert!(
            requests <= CALLS + 100 + 200 + 2,
            "{name}: {requests} requests for {CALLS} calls in an outage"
        );
        assert_eq!(requests, CALLS + 100 + 200 + 2, "{name}: exactly the bound");
    }
}

fn a_clock_twenty_minutes_off_is_corrected_in_one_extra_request() {
    let server = BlockingMockServer::start(
        mock_config().with_clock(|| SystemTime::now() + Duration::from_secs(20 * 60)),
    )
    .unwrap();
    for transport in Transport::ALL {
        let config = client_config(&server.url(), Auth::AkSk);
        // Two calls on one client: the first learns the offset with one extra request,
        // the second signs with it from the start.
        let calls: Vec<Result<u64, String>> = match transport {
            Transport::Ureq => {
                let client = kms_ureq::Client::new(config).unwrap();
                (0..2)
                    .map(|_| {
                        client
                            .show_user_instances()
                            .map(|c| c.count())
                            .map_err(|e| e.to_string())
                    })
                    .collect()
            }
            Transport::Hyper => kms_conformance::runtime().block_on(async {
                let client = kms_hyper::Client::new(config).unwrap();
                let mut calls = Vec::new();
                for _ in 0..2 {
                    calls.push(
                        client
                            .show_user_instances()
                            .await
                            .map(|c| c.count())
                            .map_err(|e| e.to_string()),
                    );
                }
                calls
            }),
        };
        assert_eq!(calls, [Ok(COUNT), Ok(COUNT)], "{}", transport.name());
        let statuses = server.requests().len();
        assert_eq!(
            statuses,
            3,
            "{}: 401, 200, then 200 at once",
            transport.name()
        );
        server.clear_requests();
    }
    // A wrong SK is not skew: one request, no correction. With skew too, the one
    // correction is made and its failure says how far off the clock was.
    for transport in Transport::ALL {
        let err = transport
            .call(client_config(&server.url(), Auth::WrongSk))
            .unwrap_err();
        let shown = err.to_string();
        assert_eq!(server.requests().len(), 2, "{}: {shown}", transport.name());
        assert!(
            shown.contains("verify aksk signature fail")
                && shown.contains("this machine's clock is 1200 s behind the service's")
                && shown.contains("re-signed once"),
            "{}: {shown}",
            transport.name()
        );
        assert_eq!(
            err.response()
                .and_then(|r| r.clock_offset_ms())
                .map(|ms| (ms + 500) / 1000),
            Some(1200)
        );
        server.clear_requests();
    }
    let right_clock = BlockingMockServer::start(mock_config()).unwrap();
    for transport in Transport::ALL {
        transport
            .call(client_config(&right_clock.url(), Auth::WrongSk))
            .unwrap_err();
    }
    assert_eq!(
        right_clock.requests().len(),
        2,
        "a wrong SK alone is tried once per call"
    );
}

fn ureq_never_holds_more_connections_than_its_cap() {
    // More threads than connections: callers beyond the cap wait for a connection, as
    // kms-hyper's do (issue 11: six threads held six connections against a cap of four).
    let server = BlockingMockServer::start(mock_config()).unwrap();
    let client =
        kms_ureq::Client::new(client_config(&server.url(), Auth::Token).with_max_connections(2))
            .unwrap();
    std::thread::scope(|scope| {
        for _ in 0..8 {
            let client = client.clone();
            scope.spawn(move || {
                for _ in 0..25 {
                    assert_eq!(client.show_user_instances().unwrap().count(), COUNT);
                }
            });
        }
    });
    assert_eq!(server.requests().len(), 200);
    assert!(
        server.peak_open_connections() <= 2 && server.connections() <= 2,
        "{} connections open at once, {} in all, for a cap of 2",
        server.peak_open_connections(),
        server.connections()
    );
}

/// `n` calls in a row on one client of `transport`, each with its own tracing capture: the
/// results and what each call logged.
fn calls_on_one_client(
    transport: Transport,
    config: ClientConfig,
    n: usize,
) -> Vec<(Result<u64, kms_proto::call::Error>, String)> {
    let capture_each = |call: &mut dyn FnMut() -> Result<u64, kms_proto::call::Error>| {
        let capture = Capture::default();
        let result = capture.during(call);
        (result, capture.text())
    };
    match transport {
        Transport::Ureq => {
            let client = kms_ureq::Client::new(config).unwrap();
            (0..n)
                .map(|_| capture_each(&mut || client.show_user_instances().map(|c| c.count())))
                .collect()
        }
        Transport::Hyper => {
            let client = kms_conformance::runtime()
                .block_on(async { kms_hyper::Client::new(config) })
                .unwrap();
            (0..n)
                .map(|_| {
                    capture_each(&mut || {
                        kms_conformance::runtime()
                            .block_on(client.show_user_instances())
                            .map(|c| c.count())
                    })
                })
                .collect()
        }
    }
}

/// A port on 127.0.0.1 where nothing listens: connecting is refused. Port 1 (tcpmux,
/// unused), outside the ephemeral range: a port bound and dropped here could be handed to
/// an emulator another test starts meanwhile, which would then answer.
fn refused_port() -> u16 {
    1
}

const MOVED_ON: &str = "the endpoint could not be reached (nothing was sent): trying the next one";

/// Issue 16: three endpoints for one region; the first refuses the connection, the second's
/// certificate is not trusted, the third answers. The call moves on at once (with retries
/// off: moving is not a retry), a later call of the client starts at the third, and once
/// the cooldown is over the first is tried again.
fn three_endpoints_the_first_refuses_the_second_fails_tls_the_third_answers() {
    let untrusted = BlockingMockServer::start(mock_config().with_tls()).unwrap();
    let answers = BlockingMockServer::start(mock_config().with_tls()).unwrap();
    let ca = CaBundle::from_pem(answers.ca_pem().unwrap().as_bytes()).unwrap();
    let refused = format!("https://127.0.0.1:{}", refused_port());
    let endpoints = Endpoints::new([
        Endpoint::parse(&refused).unwrap(),
        Endpoint::parse(&untrusted.url()).unwrap(),
        Endpoint::parse(&answers.url()).unwrap(),
    ])
    .unwrap();
    let config = |cooldown: Duration| {
        ClientConfig::new(
            endpoints.clone(),
            ProjectId::new(PROJECT).unwrap(),
            credentials(Auth::AkSk),
        )
        .with_trust(TrustRoots::Only(ca.clone()))
        .with_retry(RetryPolicy::never())
        .with_failover(FailoverPolicy::default().with_cooldown(cooldown))
    };
    for transport in Transport::ALL {
        let name = transport.name();
        let (tls_before, answered_before) = (untrusted.connections(), answers.requests().len());
        let calls = calls_on_one_client(transport, config(Duration::from_secs(600)), 2);
        let (first, first_log) = &calls[0];
        assert_eq!(first.as_ref().ok(), Some(&COUNT), "{name}: {first:?}");
        assert_eq!(
            first_log.matches(MOVED_ON).count(),
            2,
            "{name}: refused, then TLS: {first_log}"
        );
        assert!(
            first_log.contains(&refused) && first_log.contains(&untrusted.url()),
            "{name}: the log names the endpoints: {first_log}"
        );
        assert_eq!(untrusted.connections(), tls_before + 1, "{name}");
        assert_eq!(
            untrusted.requests().len(),
            0,
            "{name}: nothing got through TLS"
        );
        // The later call starts at the third: nothing refused, no handshake at the second.
        let (second, second_log) = &calls[1];
        assert_eq!(second.as_ref().ok(), Some(&COUNT), "{name}: {second:?}");
        assert!(!second_log.contains(MOVED_ON), "{name}: {second_log}");
        assert_eq!(untrusted.connections(), tls_before + 1, "{name}");
        assert_eq!(answers.requests().len(), answered_before + 2, "{name}");
        // Every attempt is signed for its own host: the emulator verified the signatures of
        // requests addressed to it.
        assert!(
            answers
                .requests()
                .iter()
                .all(|r| r.header("host") == Some(answers.url().trim_start_matches("https://"))),
            "{name}"
        );

        // Once the cooldown is over (none here), calls go back to the first endpoint.
        let calls = calls_on_one_client(transport, config(Duration::ZERO), 2);
        for (result, log) in &calls {
            assert_eq!(result.as_ref().ok(), Some(&COUNT), "{name}: {result:?}");
            assert_eq!(log.matches(MOVED_ON).count(), 2, "{name}: {log}");
        }
        assert_eq!(untrusted.connections(), tls_before + 3, "{name}");

        // When none can be reached, the error says where the attempts went.
        let two = Endpoints::new(endpoints.as_slice()[..2].iter().cloned()).unwrap();
        let err = transport
            .call(
                ClientConfig::new(
                    two,
                    ProjectId::new(PROJECT).unwrap(),
                    credentials(Auth::AkSk),
                )
                .with_trust(TrustRoots::Only(ca.clone()))
                .with_retry(RetryPolicy::never()),
            )
            .unwrap_err();
        assert_eq!(
            (err.kind(), err.may_have_been_sent(), err.attempts()),
            (ErrorKind::Tls, false, 2),
            "{name}: {err}"
        );
        assert!(
            err.to_string().ends_with(&format!(
                "(the request was not sent; 2 attempts at 2 of 2 endpoints, the last {})",
                untrusted.url()
            )),
            "{name}: {err}"
        );
    }
}

/// Issue 16: a failure after the request may have been sent, and any answer, keep a call
/// on its endpoint: the retry goes there again, never to the next one.
fn a_failure_after_sending_never_moves_to_another_endpoint() {
    let first = BlockingMockServer::start(mock_config()).unwrap();
    let second = BlockingMockServer::start(mock_config()).unwrap();
    let endpoints = Endpoints::parse_list(&format!("{},{}", first.url(), second.url())).unwrap();
    let config = || {
        ClientConfig::new(
            endpoints.clone(),
            ProjectId::new(PROJECT).unwrap(),
            credentials(Auth::AkSk),
        )
        .with_retry(
            RetryPolicy::default()
                .with_max_attempts(2)
                .with_backoff(Duration::from_millis(1), Duration::from_millis(5)),
        )
    };
    for transport in Transport::ALL {
        let name = transport.name();
        // The connection closes after the request arrived: it may have been processed.
        first.faults().next(2, Fault::CloseBeforeResponse);
        let err = transport.call(config()).unwrap_err();
        assert_eq!(
            (err.kind(), err.may_have_been_sent(), err.attempts()),
            (ErrorKind::Io, true, 2),
            "{name}: {err}"
        );
        assert_eq!(
            first.requests().len(),
            2,
            "{name}: retried where it was sent"
        );
        // An answer, however bad, is the endpoint's answer.
        first.faults().next(2, Fault::status(503));
        let err = transport.call(config()).unwrap_err();
        assert_eq!(err.status().map(|s| s.as_u16()), Some(503), "{name}: {err}");
        assert_eq!(first.requests().len(), 4, "{name}");
        first.clear_requests();
    }
    assert_eq!(
        second.connections(),
        0,
        "a call moved to the second endpoint"
    );
}

/// Issue 16: a host name that does not resolve (`.invalid` never does, RFC 6761) is a
/// failure where nothing was sent: the call moves on. Bounded by the connect timeout even
/// where no name server answers.
fn a_name_that_does_not_resolve_moves_on_to_the_next_endpoint() {
    let server = BlockingMockServer::start(mock_config()).unwrap();
    let endpoints =
        Endpoints::parse_list(&format!("https://kms.nowhere.invalid,{}", server.url())).unwrap();
    for transport in Transport::ALL {
        let config = ClientConfig::new(
            endpoints.clone(),
            ProjectId::new(PROJECT).unwrap(),
            credentials(Auth::AkSk),
        )
        .with_retry(RetryPolicy::never())
        .with_connect_timeout(Duration::from_secs(2));
        let calls = calls_on_one_client(transport, config, 1);
        let (result, log) = &calls[0];
        assert_eq!(
            result.as_ref().ok(),
            Some(&COUNT),
            "{}: {result:?}",
            transport.name()
        );
        assert_eq!(
            log.matches(MOVED_ON).count(),
            1,
            "{}: {log}",
            transport.name()
        );
    }
}

/// (connect timeout, attempt timeout): the attempt's own timer fires first (the issue's
/// `--timeout 2` under the 5 s connect timeout), then the connect timeout does.
const TIMERS: [(Duration, Duration); 2] = [
    (Duration::from_secs(5), Duration::from_secs(1)),
    (Duration::from_secs(1), Duration::from_secs(10)),
];

/// One call on a fresh client of `transport` to `endpoints` with these timers (retries
/// off: moving on is not a retry); the result, what it logged and how long it took.
fn call_with_timers(
    transport: Transport,
    endpoints: &Endpoints,
    (connect, attempt): (Duration, Duration),
    tweak: impl Fn(ClientConfig) -> ClientConfig,
) -> (Result<u64, kms_proto::call::Error>, String, Duration) {
    let config = ClientConfig::new(
        endpoints.clone(),
        ProjectId::new(PROJECT).unwrap(),
        credentials(Auth::AkSk),
    )
    .with_retry(RetryPolicy::never())
    .with_connect_timeout(connect)
    .with_attempt_timeout(attempt);
    let started = Instant::now();
    let mut calls = calls_on_one_client(transport, tweak(config), 1);
    let took = started.elapsed();
    let (result, log) = calls.remove(0);
    (result, log, took)
}

/// Issue 21: the first endpoint is a black hole (its TCP connect never completes). Nothing
/// was sent there, whichever timer fired first, the connect timeout or the attempt's own:
/// the call moves on to the second endpoint at once, and it answers.
fn a_black_hole_first_moves_on_to_the_next_endpoint() {
    let hole = BlackHole::start().unwrap();
    let server = BlockingMockServer::start(mock_config()).unwrap();
    let endpoints =
        Endpoints::parse_list(&format!("{},{}", hole.http_url(), server.url())).unwrap();
    for timers in TIMERS {
        for transport in Transport::ALL {
            let name = transport.name();
            let before = server.requests().len();
            let (result, log, took) = call_with_timers(transport, &endpoints, timers, |c| c);
            assert_eq!(
                result.as_ref().ok(),
                Some(&COUNT),
                "{name} {timers:?}: {result:?}"
            );
            assert_eq!(log.matches(MOVED_ON).count(), 1, "{name} {timers:?}: {log}");
            assert_eq!(server.requests().len(), before + 1, "{name} {timers:?}");
            // The shorter timer (1 s), the answer, and seconds of slack for a loaded machine.
            assert!(
                took < Duration::from_secs(4),
                "{name} {timers:?}: took {took:?}"
            );
        }
    }
}

/// Issue 21: the first endpoint accepts the TCP connection and never answers the TLS client
/// hello. The connect timeout covers the handshake on every transport (and the attempt's
/// own timer, when it fires first, finds no connection either): the call moves on.
fn a_tls_handshake_that_never_completes_moves_on_to_the_next_endpoint() {
    let silent = SilentListener::start().unwrap();
    let server = BlockingMockServer::start(mock_config().with_tls()).unwrap();
    let ca = CaBundle::from_pem(server.ca_pem().unwrap().as_bytes()).unwrap();
    let endpoints =
        Endpoints::parse_list(&format!("{},{}", silent.https_url(), server.url())).unwrap();
    for timers in TIMERS {
        for transport in Transport::ALL {
            let name = transport.name();
            let (handshakes, before) = (silent.connections(), server.requests().len());
            let (result, log, took) = call_with_timers(transport, &endpoints, timers, |c| {
                c.with_trust(TrustRoots::Only(ca.clone()))
            });
            assert_eq!(
                result.as_ref().ok(),
                Some(&COUNT),
                "{name} {timers:?}: {result:?}"
            );
            assert_eq!(log.matches(MOVED_ON).count(), 1, "{name} {timers:?}: {log}");
            assert_eq!(silent.connections(), handshakes + 1, "{name} {timers:?}");
            assert_eq!(server.requests().len(), before + 1, "{name} {timers:?}");
            assert!(
                took < Duration::from_secs(4),
                "{name} {timers:?}: took {took:?}"
            );
        }
    }
}

/// Issue 21: with every endpoint black-holed, both transports report the same thing,
/// whichever timer fires first: a `connect` failure, nothing sent, after the same attempts.
fn every_endpoint_black_holed_is_a_connect_failure_on_every_transport() {
    let (first, second) = (BlackHole::start().unwrap(), BlackHole::start().unwrap());
    let endpoints =
        Endpoints::parse_list(&format!("{},{}", first.http_url(), second.https_url())).unwrap();
    let one = Endpoints::parse_list(&first.http_url()).unwrap();
    let short = [
        (Duration::from_secs(5), Duration::from_millis(300)),
        (Duration::from_millis(300), Duration::from_secs(5)),
    ];
    for timers in short {
        for endpoints in [&endpoints, &one] {
            let mut seen = Vec::new();
            for transport in Transport::ALL {
                let name = transport.name();
                let (result, _, took) = call_with_timers(transport, endpoints, timers, |c| {
                    c.with_retry(
                        RetryPolicy::default()
                            .with_max_attempts(2)
                            .with_backoff(Duration::from_millis(10), Duration::from_millis(20)),
                    )
                });
                let err = result.unwrap_err();
                assert_eq!(
                    (err.kind(), err.may_have_been_sent()),
                    (ErrorKind::Connect, false),
                    "{name} {timers:?} {endpoints}: {err}"
                );
                assert!(
                    took < Duration::from_secs(4),
                    "{name} {timers:?}: took {took:?}"
                );
                seen.push((err.kind(), err.attempts(), err.to_string()));
            }
            assert_eq!(
                seen[0], seen[1],
                "{timers:?} {endpoints}: the transports differ"
            );
        }
    }
}

/// Issue 21: a proxy answering 407 to the `CONNECT` (it does for http and https endpoints
/// alike: both transports tunnel through the proxy for either scheme) is `proxy_auth`: the
/// proxy refused its credentials, which no retry changes, so there is one attempt, and the
/// message says to check the proxy's user and password without showing the password.
fn a_proxy_refusing_its_credentials_is_proxy_auth_and_not_retried() {
    let plain = BlockingMockServer::start(mock_config()).unwrap();
    let tls = BlockingMockServer::start(mock_config().with_tls()).unwrap();
    let ca = CaBundle::from_pem(tls.ca_pem().unwrap().as_bytes()).unwrap();
    let proxy = ConnectProxy::start(Some("Basic cHJAeHk6cDpzcw==".into())).unwrap();
    for server in [&plain, &tls] {
        for userinfo in [Some("pr%40xy:hunter2-proxy-password"), None] {
            for transport in Transport::ALL {
                let name = transport.name();
                let before = proxy.targets().len();
                let config = quick_retry(client_config(&server.url(), Auth::AkSk))
                    .with_trust(TrustRoots::Only(ca.clone()))
                    .with_proxy(ProxyUrl::parse(&proxy.url(userinfo)).unwrap());
                let err = transport.call(config).unwrap_err();
                let shown = format!("{err} {err:?}");
                assert_eq!(
                    (
                        err.kind(),
                        err.attempts(),
                        err.is_retryable(),
                        err.may_have_been_sent()
                    ),
                    (ErrorKind::ProxyAuth, 1, false, false),
                    "{name} {} {userinfo:?}: {err}",
                    server.url()
                );
                assert_eq!(
                    proxy.targets().len(),
                    before + 1,
                    "{name}: asked the proxy again"
                );
                assert!(
                    err.to_string().contains("proxy user name and password"),
                    "{name}: {err}"
                );
                assert!(
                    !shown.contains("hunter2"),
                    "{name}: the proxy password leaked: {shown}"
                );
            }
        }
    }
    assert_eq!(plain.requests().len() + tls.requests().len(), 0);
}

/// Issue 22, item 2: an operation of the user's own, through the generic entry of every
/// transport (`kms_ureq::Client::call`, `kms_hyper::Client::call`) against the emulator's
/// echo operation (`MockConfig::with_echo`): a POST whose JSON body is signed through its
/// hash, which the emulator verifies with kms-proto's verifier. Each case runs on each
/// transport, as `custom_operation::<case>::<transport>`.
mod custom_operation {
    use std::time::{Duration, SystemTime};

    use http::{HeaderMap, Method, Request, StatusCode};
    use kms_conformance::Transport;
    use kms_conformance::client::{SharedClient, TempDir, ensure, lookup};
    use kms_conformance::fixtures::{POD_PATH, POD_TOKEN};
    use kms_mock::{BlockingMockServer, Fault, MockConfig, RecordedRequest};
    use kms_proto::call::{Error, ErrorKind};
    use kms_proto::credentials::{
        ENV_METADATA_ENDPOINT, ENV_POD_IDENTITY_TOKEN_FILE, ENV_POD_IDENTITY_URI, Provider,
    };
    use kms_proto::operation::{Operation, Target};
    use kms_proto::{ClientConfig, Credentials, Endpoint, InvalidInput, ProjectId, ResponseError};
    use libtest_mimic::{Failed, Trial};
    use serde::{Deserialize, Serialize};

    use super::{AK, Auth, PROJECT, client_config, mock_config, nested, quick_retry};

    /// `POST /v1.0/{project_id}/kms/echo`, as a user would define it: a body of any
    /// `Serialize` type, written as JSON once, signed with every attempt (through its
    /// hash: `sign_request` hashes the body into the canonical request).
    struct Echo {
        body: Vec<u8>,
        /// Changes the body after signing, as a broken proxy or a bit flip on the way
        /// would: the request the server receives carries a signature of another body.
        broken_in_transit: bool,
    }

    impl Echo {
        fn new(body: &impl Serialize) -> Self {
            Echo {
                body: serde_json::to_vec(body).unwrap(),
                broken_in_transit: false,
            }
        }
    }

    /// What the emulator answers: the body it parsed.
    #[derive(Debug, Deserialize, PartialEq)]
    struct Echoed<T> {
        echo: T,
    }

    impl Operation for Echo {
        type Output = Echoed<Transfer>;

        fn name(&self) -> &'static str {
            "Echo"
        }

        fn request(
            &self,
            to: &Target<'_>,
            credentials: &Credentials,
            signing_time: SystemTime,
        ) -> Result<Request<Vec<u8>>, InvalidInput> {
            let path = format!("/v1.0/{}/kms/echo", to.project());
            let mut request = to.request(Method::POST, &path, self.body.clone())?;
            kms_proto::sign_request(&mut request, credentials, signing_time)?;
            if self.broken_in_transit
                && let Some(byte) = request
                    .body_mut()
                    .iter_mut()
                    .rev()
                    .find(|b| b.is_ascii_digit())
            {
                // Another digit: still JSON, still the same length, another body.
                *byte = if *byte == b'9' { b'0' } else { *byte + 1 };
            }
            Ok(request)
        }

        fn parse(
            &self,
            status: StatusCode,
            headers: &HeaderMap,
            body: &[u8],
        ) -> Result<Self::Output, ResponseError> {
            kms_proto::parse_json(status, headers, body)
        }
    }

    /// The body the cases send.
    #[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
    struct Transfer {
        key_id: String,
        amount: u64,
        note: String,
    }

    fn transfer() -> Transfer {
        Transfer {
            key_id: "0d0466b0-e727-4d9c-b35d-f84bb474a37f".into(),
            amount: 1234,
            note: "caf\u{e9} \"quoted\"".into(),
        }
    }

    const ECHO_PATH: &str = "/v1.0/0dea2644dc80d5d22ff1c01e3ebea6fc/kms/echo";

    /// One call of `operation` on `client`, blocking.
    fn call<O: Operation>(client: &SharedClient, operation: O) -> Result<O::Output, Error> {
        match client {
            SharedClient::Ureq(c) => c.call(operation),
            SharedClient::Hyper(c) => kms_conformance::runtime().block_on(c.call(operation)),
        }
    }

    fn echo_requests(server: &BlockingMockServer) -> Vec<RecordedRequest> {
        server
            .requests()
            .into_iter()
            .filter(|r| r.path() == ECHO_PATH)
            .collect()
    }

    /// The AK a request was signed with.
    fn signed_with(request: &RecordedRequest) -> String {
        let auth = request.header("authorization").unwrap_or_default();
        auth.split("Access=")
            .nth(1)
            .and_then(|rest| rest.split(',').next())
            .unwrap_or_default()
            .to_owned()
    }

    /// What every echo request must look like on the wire: a POST of the body, signed with
    /// `ak` through the body's hash (no content-hash header standing in for it, such as
    /// `UNSIGNED-PAYLOAD`), `Content-Type` signed.
    fn sent_as_a_signed_post(
        request: &RecordedRequest,
        ak: &str,
        body_len: usize,
    ) -> Result<(), String> {
        let auth = request.header("authorization").unwrap_or_default();
        ensure(request.method == Method::POST, || {
            format!("{}", request.method)
        })?;
        ensure(request.body_len == body_len, || {
            format!("a body of {} bytes, want {body_len}", request.body_len)
        })?;
        ensure(signed_with(request) == ak, || {
            format!("signed with {:?}", signed_with(request))
        })?;
        ensure(auth.contains("content-type;"), || {
            format!("Content-Type unsigned: {auth}")
        })?;
        ensure(
            !request.headers.contains_key("x-sdk-content-sha256"),
            || "the body's hash was declared instead of computed".into(),
        )
    }

    fn aksk_client(transport: Transport, server: &BlockingMockServer) -> SharedClient {
        SharedClient::new(
            transport,
            quick_retry(client_config(&server.url(), Auth::AkSk)),
        )
        .unwrap()
    }

    fn echo_server(more: impl FnOnce(MockConfig) -> MockConfig) -> BlockingMockServer {
        BlockingMockServer::start(more(mock_config().with_echo())).unwrap()
    }

    /// A first answer the retry policy retries (`fault`, once, on the echo path), then the
    /// echo: two attempts, the second signed afresh, and the echo parsed.
    fn retried_after(transport: Transport, fault: Fault) -> Result<(), String> {
        let server = echo_server(|m| m);
        server
            .faults()
            .when_times(|r| r.path() == ECHO_PATH, 1, fault);
        let client = aksk_client(transport, &server);
        let echoed =
            call(&client, Echo::new(&transfer())).map_err(|e| format!("the call failed: {e}"))?;
        ensure(echoed.echo == transfer(), || format!("echoed {echoed:?}"))?;
        let requests = echo_requests(&server);
        ensure(requests.len() == 2, || {
            format!("{} attempts, want 2", requests.len())
        })?;
        ensure(server.faults().pending() == 0, || {
            "the fault was not used".into()
        })?;
        let len = serde_json::to_vec(&transfer()).unwrap().len();
        for request in &requests {
            sent_as_a_signed_post(request, AK, len)?;
        }
        Ok(())
    }

    /// (a) A 503 with `Retry-After: 0`, then success.
    fn signed_post_retried_after_a_503(transport: Transport) -> Result<(), String> {
        retried_after(
            transport,
            Fault::status(503).with_header("retry-after", "0"),
        )
    }

    /// (a) A retryable KMS error document (500 `KMS.0101`, nested), then success.
    fn signed_post_retried_after_a_retryable_kms_error(transport: Transport) -> Result<(), String> {
        retried_after(
            transport,
            Fault::json(500, &nested("KMS.0101", "kms error.")).with_header("retry-after", "0"),
        )
    }

    /// (b) Credentials from a source that refreshes them: issued for 2 s, so that the
    /// second call, made after they expired, must be signed with new ones (the emulator
    /// refuses expired ones: 401 `... security token expires`). The emulator saw two
    /// access keys and two security tokens, and issued two sets.
    fn refreshed(
        transport: Transport,
        provider: impl FnOnce(&BlockingMockServer) -> Provider,
    ) -> Result<(), String> {
        let server = echo_server(|m| {
            m.with_metadata()
                .with_pod_identity_token(POD_TOKEN)
                .with_credential_lifetime(Duration::from_secs(2))
        });
        let config = ClientConfig::from_provider(
            Endpoint::parse(&server.url()).unwrap(),
            ProjectId::new(PROJECT).unwrap(),
            provider(&server),
        );
        let client = SharedClient::new(transport, config).unwrap();
        let first =
            call(&client, Echo::new(&transfer())).map_err(|e| format!("the first call: {e}"))?;
        ensure(first.echo == transfer(), || format!("echoed {first:?}"))?;
        // Past the credentials' expiry (by the emulator's clock, the system's).
        std::thread::sleep(Duration::from_millis(2200));
        let second =
            call(&client, Echo::new(&transfer())).map_err(|e| format!("the second call: {e}"))?;
        ensure(second.echo == transfer(), || format!("echoed {second:?}"))?;
        let requests = echo_requests(&server);
        ensure(requests.len() == 2, || {
            format!("{} echo requests, want 2", requests.len())
        })?;
        let len = serde_json::to_vec(&transfer()).unwrap().len();
        let (ak1, ak2) = (signed_with(&requests[0]), signed_with(&requests[1]));
        sent_as_a_signed_post(&requests[0], &ak1, len)?;
        sent_as_a_signed_post(&requests[1], &ak2, len)?;
        ensure(!ak1.is_empty() && ak1 != ak2, || {
            format!("both calls signed with {ak1:?}: the credentials were not refreshed")
        })?;
        let tokens: Vec<Option<&str>> = requests
            .iter()
            .map(|r| r.header("x-security-token"))
            .collect();
        ensure(
            tokens.iter().all(Option::is_some) && tokens[0] != tokens[1],
            || "the two calls did not carry two security tokens".into(),
        )?;
        ensure(server.issued_credentials() == 2, || {
            format!("{} credentials issued, want 2", server.issued_credentials())
        })
    }

    fn credentials_refreshed_from_ecs_metadata(transport: Transport) -> Result<(), String> {
        refreshed(transport, |server| {
            Provider::metadata(lookup(vec![(ENV_METADATA_ENDPOINT, server.url())]))
        })
    }

    fn credentials_refreshed_from_pod_identity(transport: Transport) -> Result<(), String> {
        let dir = TempDir::new("custom-operation-pod").map_err(|e| e.to_string())?;
        let token_file = dir.write("token", POD_TOKEN).map_err(|e| e.to_string())?;
        refreshed(transport, |server| {
            Provider::pod_identity(lookup(vec![
                (ENV_POD_IDENTITY_URI, format!("{}{POD_PATH}", server.url())),
                (ENV_POD_IDENTITY_TOKEN_FILE, token_file),
            ]))
        })
    }

    /// (c) A body changed after it was signed is refused by the emulator's verifier (401
    /// `APIGW.0301`, never retried), and the machine reports the gateway's code.
    fn a_body_changed_in_transit_is_refused(transport: Transport) -> Result<(), String> {
        let server = echo_server(|m| m);
        let client = aksk_client(transport, &server);
        let operation = Echo {
            broken_in_transit: true,
            ..Echo::new(&transfer())
        };
        let error = match call(&client, operation) {
            Ok(echoed) => {
                return Err(format!(
                    "the emulator accepted a broken signature: {echoed:?}"
                ));
            }
            Err(error) => error,
        };
        let got = (
            error.kind(),
            error.status().map(|s| s.as_u16()),
            error.code(),
            error.is_retryable(),
            error.attempts(),
        );
        ensure(
            got == (ErrorKind::Service, Some(401), Some("APIGW.0301"), false, 1),
            || format!("got (kind, status, code, retryable, attempts) = {got:?} [{error}]"),
        )?;
        ensure(
            error
                .message()
                .is_some_and(|m| m.contains("verify aksk signature fail")),
            || format!("the message: {:?}", error.message()),
        )?;
        let requests = echo_requests(&server);
        ensure(requests.len() == 1, || {
            format!("{} requests, want 1", requests.len())
        })?;
        // The same operation, unbroken, on the same client: accepted.
        let echoed = call(&client, Echo::new(&transfer())).map_err(|e| format!("unbroken: {e}"))?;
        ensure(echoed.echo == transfer(), || format!("echoed {echoed:?}"))
    }

    /// (d) A 4xx error document of the operation (the emulator's 400 `KMS.0202`, nested, for
    /// a body that is not a JSON object: here a serialized list) is the machine's service
    /// error, with the status, the code and the message; not retried.
    fn an_error_document_carries_its_code(transport: Transport) -> Result<(), String> {
        let server = echo_server(|m| m);
        let client = aksk_client(transport, &server);
        let error = match call(&client, Echo::new(&[1, 2, 3])) {
            Ok(echoed) => return Err(format!("a list was echoed: {echoed:?}")),
            Err(error) => error,
        };
        let got = (
            error.kind(),
            error.status().map(|s| s.as_u16()),
            error.code(),
            error.is_retryable(),
            error.attempts(),
        );
        ensure(
            got == (ErrorKind::Service, Some(400), Some("KMS.0202"), false, 1),
            || format!("got (kind, status, code, retryable, attempts) = {got:?} [{error}]"),
        )?;
        ensure(
            error
                .message()
                .is_some_and(|m| m.starts_with("Invalid request body")),
            || format!("the message: {:?}", error.message()),
        )?;
        ensure(error.request_id().is_some_and(|id| id.len() == 32), || {
            format!("the request id: {:?}", error.request_id())
        })?;
        ensure(error.to_string().contains("KMS.0202"), || {
            format!("Display: {error}")
        })?;
        ensure(echo_requests(&server).len() == 1, || {
            format!("{} requests, want 1", echo_requests(&server).len())
        })
    }

    type Case = (&'static str, fn(Transport) -> Result<(), String>);

    const CASES: [Case; 6] = [
        (
            "signed_post_retried_after_a_503",
            signed_post_retried_after_a_503,
        ),
        (
            "signed_post_retried_after_a_retryable_kms_error",
            signed_post_retried_after_a_retryable_kms_error,
        ),
        (
            "credentials_refreshed_from_ecs_metadata",
            credentials_refreshed_from_ecs_metadata,
        ),
        (
            "credentials_refreshed_from_pod_identity",
            credentials_refreshed_from_pod_identity,
        ),
        (
            "a_body_changed_in_transit_is_refused",
            a_body_changed_in_transit_is_refused,
        ),
        (
            "an_error_document_carries_its_code",
            an_error_document_carries_its_code,
        ),
    ];

    /// Every case on every transport: `custom_operation::<case>::<transport>`.
    pub(super) fn trials() -> Vec<Trial> {
        CASES
            .into_iter()
            .flat_map(|(name, case)| {
                Transport::ALL.into_iter().map(move |transport| {
                    Trial::test(
                        format!("custom_operation::{name}::{}", transport.name()),
                        move || case(transport).map_err(Failed::from),
                    )
                })
            })
            .collect()
    }
}
