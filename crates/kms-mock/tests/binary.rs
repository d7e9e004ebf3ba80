//! The `kms-mock` program: it prints where it listens (and its CA with `--tls`), serves what
//! its flags configure, and refuses bad flags with exit code 2 and a clear message.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // a test fails by panicking

mod common;

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use common::*;
use kms_proto::AkSk;

const BIN: &str = env!("CARGO_BIN_EXE_kms-mock");

/// Kills and reaps the child when dropped, whether the test passed or not.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A running `kms-mock` and the lines of its stdout.
struct Running {
    _child: ChildGuard,
    lines: mpsc::Receiver<String>,
}

impl Running {
    fn start(args: &[&str]) -> Self {
        let mut child = ChildGuard(
            Command::new(BIN)
                .args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("kms-mock starts"),
        );
        let stdout = child.0.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Running {
            _child: child,
            lines,
        }
    }

    fn next_line(&self) -> String {
        self.lines
            .recv_timeout(IO_TIMEOUT)
            .expect("a line on stdout in time")
    }

    /// Reads `listening on <url>` and returns the URL and address.
    fn listening(&self, scheme: &str) -> (String, SocketAddr) {
        let line = self.next_line();
        let url = line
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("first line: {line:?}"))
            .to_owned();
        let addr = url
            .strip_prefix(&format!("{scheme}://"))
            .unwrap_or_else(|| panic!("not {scheme}: {url:?}"));
        let addr: SocketAddr = addr.parse().unwrap();
        assert_eq!(addr.ip().to_string(), "127.0.0.1");
        assert_ne!(addr.port(), 0, "port 0 is resolved to the real port");
        (url, addr)
    }
}

#[test]
fn binary_prints_its_address_and_answers_with_the_configured_count() {
    let token = format!("t@{PID}");
    let project = format!("{PID}=7");
    let running = Running::start(&[
        "--listen",
        "127.0.0.1:0",
        "--project",
        &project,
        "--token",
        &token,
    ]);
    let (url, addr) = running.listening("http");
    assert_count(&send_ok(addr, &token_request(&url, "t", PID)), 7);
    // It really checks the token.
    let response = send_ok(addr, &token_request(&url, "u", PID));
    assert_nested_error(&response, 401, "KMS.0302");
}

#[test]
fn binary_with_tls_writes_a_ca_that_works_for_https() {
    let token = format!("t@{PID}");
    let project = format!("{PID}=7");
    let running = Running::start(&[
        "--listen",
        "127.0.0.1:0",
        "--tls",
        "--project",
        &project,
        "--token",
        &token,
    ]);
    let (url, addr) = running.listening("https");
    let line = running.next_line();
    let path = line
        .strip_prefix("ca certificate: ")
        .unwrap_or_else(|| panic!("second line: {line:?}"))
        .to_owned();
    let pem = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let _ = std::fs::remove_file(&path);
    assert!(pem.contains("-----BEGIN CERTIFICATE-----"), "{pem}");
    let mut conn = connect_tls(addr, tls_config(Some(&pem)), "127.0.0.1").unwrap();
    assert_count(&conn.send(&token_request(&url, "t", PID)).unwrap(), 7);
}

#[test]
fn binary_ca_out_puts_the_ca_where_asked() {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let path = std::env::temp_dir().join(format!(
        "kms-mock-test-{}-{nanos}-ca.pem",
        std::process::id()
    ));
    let path_text = path.to_str().unwrap().to_owned();
    let project = format!("{PID}=7");
    let token = format!("t@{PID}");
    let running = Running::start(&[
        "--tls",
        "--ca-out",
        &path_text,
        "--project",
        &project,
        "--token",
        &token,
    ]);
    let (url, addr) = running.listening("https");
    assert_eq!(running.next_line(), format!("ca certificate: {path_text}"));
    let pem = std::fs::read_to_string(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    let mut conn = connect_tls(addr, tls_config(Some(&pem)), "localhost").unwrap();
    assert_count(&conn.send(&token_request(&url, "t", PID)).unwrap(), 7);
}

#[test]
fn binary_accepts_aksk_and_throttles_as_its_flags_say() {
    let project = format!("{PID}=7");
    let running = Running::start(&[
        "--project",
        &project,
        "--ak",
        AK,
        "--sk",
        SK,
        "--security-token",
        SECURITY_TOKEN,
        "--throttle",
        "1/60",
    ]);
    let (url, addr) = running.listening("http");
    let temporary = AkSk::new(AK, SK)
        .unwrap()
        .with_security_token(SECURITY_TOKEN)
        .unwrap();
    let request = build(&url, temporary, PID, SystemTime::now());
    assert_count(&send_ok(addr, &request), 7);
    let response = send_ok(addr, &request);
    assert_flat_error(&response, 429, "APIG.0308");
    let retry_after: u64 = response.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
    // --security-token made the AK temporary: without the token it is refused.
    let response = send_ok(addr, &aksk_request(&url, AK, SK, PID));
    assert_flat_error(&response, 401, "APIGW.0301");
}

#[test]
fn binary_throttle_kms_is_20_requests_per_second() {
    let token = format!("t@{PID}");
    let project = format!("{PID}=7");
    let running = Running::start(&[
        "--project",
        &project,
        "--token",
        &token,
        "--throttle",
        "kms",
    ]);
    let (url, addr) = running.listening("http");
    let request = token_request(&url, "t", PID);
    // On the real clock: a sliding window admits at most 20 in any second, so the first
    // 429 comes after 20 admissions or more (more only if sending took over a second).
    let mut admitted = 0;
    let refused = loop {
        let response = send_ok(addr, &request);
        if response.status() != 200 {
            break response;
        }
        assert_count(&response, 7);
        admitted += 1;
        assert!(admitted < 2000, "never throttled");
    };
    assert!(admitted >= 20, "throttled after {admitted}");
    let message = assert_flat_error(&refused, 429, "APIG.0308");
    assert!(message.contains("limit:20,time:1 second"), "{message}");
    assert_eq!(refused.header("retry-after"), Some("1"));
}

#[test]
fn binary_restricts_the_ak_to_the_signing_algorithms_its_flag_names() {
    use kms_proto::SigningAlgorithm;
    let project = format!("{PID}=7");
    let running = Running::start(&[
        "--project",
        &project,
        "--ak",
        AK,
        "--sk",
        SK,
        "--signing-algorithms",
        "sdk-hmac-sm3,SDK-SM2-SM3",
    ]);
    let (url, addr) = running.listening("http");
    for algorithm in SigningAlgorithm::ALL {
        let credentials = AkSk::new(AK, SK)
            .unwrap()
            .with_algorithm(algorithm)
            .unwrap();
        let response = send_ok(addr, &build(&url, credentials, PID, SystemTime::now()));
        match algorithm {
            SigningAlgorithm::HmacSm3 | SigningAlgorithm::Sm2Sm3 => assert_count(&response, 7),
            _ => {
                let message = assert_flat_error(&response, 401, "APIGW.0301");
                assert!(message.contains("is not allowed"), "{message}");
            }
        }
    }
}

#[test]
fn binary_max_connections_holds_a_connection_over_the_cap_unanswered() {
    let token = format!("t@{PID}");
    let project = format!("{PID}=7");
    let running = Running::start(&[
        "--project",
        &project,
        "--token",
        &token,
        "--max-connections",
        "1",
    ]);
    let (url, addr) = running.listening("http");
    let mut first = connect(addr);
    assert_count(&first.send(&token_request(&url, "t", PID)).unwrap(), 7);
    // The first connection is still open (keep-alive): the second waits in the backlog.
    let mut second = connect(addr);
    second.set_read_timeout(Duration::from_millis(300));
    second
        .write_request(&token_request(&url, "t", PID))
        .unwrap();
    match second.read_response() {
        Err(ClientError::Timeout { received: 0 }) => {}
        other => panic!("a connection over the cap was served: {other:?}"),
    }
    drop(first);
    second.set_read_timeout(IO_TIMEOUT);
    assert_count(&second.read_response().unwrap(), 7);
}

#[test]
fn binary_serves_metadata_and_pod_identity_as_its_flags_say_and_never_prints_the_pod_token() {
    const POD: &str = "pod-identity-secret-token";
    let project = format!("{PID}=7");
    let running = Running::start(&[
        "--project",
        &project,
        "--metadata",
        "--pod-identity-token",
        POD,
        "--credential-lifetime",
        "120",
    ]);
    let (url, addr) = running.listening("http");
    let metadata = running.next_line();
    assert!(
        metadata.starts_with("credentials: ECS metadata at ")
            && metadata.contains(&format!("{url}{SECURITY_KEY_PATH}"))
            && metadata.contains(&format!("{url}{METADATA_TOKEN_PATH}"))
            && metadata.contains("120 s"),
        "{metadata}"
    );
    let pod = running.next_line();
    assert!(
        pod.starts_with("credentials: CCE pod identity at ")
            && pod.contains(&format!("{url}{POD_IDENTITY_PATH}")),
        "{pod}"
    );
    assert!(
        !metadata.contains(POD) && !pod.contains(POD),
        "{metadata} {pod}"
    );
    assert!(
        running
            .lines
            .recv_timeout(Duration::from_millis(200))
            .is_err(),
        "nothing more is printed"
    );

    let response = send_ok(addr, &metadata_token_request(&url, "60"));
    assert_eq!(response.status(), 200, "{}", response.text());
    let token = response.text();
    let before = SystemTime::now();
    let issued = Issued::from_response(&send_ok(addr, &security_key_request(&url, Some(&token))));
    let after = SystemTime::now();
    let lifetime = Duration::from_secs(120);
    assert!(
        issued.expires_at >= floor_micros(before + lifetime)
            && issued.expires_at <= after + lifetime,
        "{}",
        issued.expires_at_text
    );
    let request = build(&url, issued.credentials(), PID, SystemTime::now());
    assert_count(&send_ok(addr, &request), 7);

    let issued = Issued::from_response(&send_ok(addr, &pod_identity_request(&url, Some(POD))));
    assert_count(
        &send_ok(
            addr,
            &build(&url, issued.credentials(), PID, SystemTime::now()),
        ),
        7,
    );
    let response = send_ok(addr, &pod_identity_request(&url, Some("not-the-token")));
    assert_eq!(response.status(), 401, "{}", response.text());
}

#[test]
fn binary_without_credential_flags_serves_no_credential_endpoint() {
    let project = format!("{PID}=7");
    let running = Running::start(&["--project", &project]);
    let (url, addr) = running.listening("http");
    assert!(
        running
            .lines
            .recv_timeout(Duration::from_millis(200))
            .is_err(),
        "no credentials line"
    );
    let response = send_ok(addr, &security_key_request(&url, None));
    assert_flat_error(&response, 404, "APIGW.0101");
}

#[test]
fn binary_serves_iam_and_sts_as_its_flags_say_and_never_prints_their_secrets() {
    const PASSWORD: &str = "binary-test-password";
    const IDP_TOKEN: &str = "binary-test-idp-token";
    const STS_TOKEN: &str = "binary-test-sts-token";
    const PROVIDER: &str = "iam::0123:oidcProvider:ci";
    let one = format!("{PID}=7@cn-north-4");
    let two = format!("{OTHER_PID}=3@cn-east-3");
    let user = format!("acct/alice={PASSWORD}");
    let idp = format!("idp-1={IDP_TOKEN}");
    let provider = format!("{PROVIDER}={STS_TOKEN}");
    let running = Running::start(&[
        "--project",
        &one,
        "--project",
        &two,
        "--ak",
        AK,
        "--sk",
        SK,
        "--user",
        &user,
        "--idp",
        &idp,
        "--oidc-provider",
        &provider,
        "--token-lifetime",
        "120",
        "--credential-lifetime",
        "60",
    ]);
    let (url, addr) = running.listening("http");
    let iam = running.next_line();
    assert!(
        iam.starts_with(&format!("iam: IAM at {url} "))
            && iam.contains("/v3/projects")
            && iam.contains("1 users")
            && iam.contains("1 identity providers")
            && iam.contains("120 s"),
        "{iam}"
    );
    let sts = running.next_line();
    assert!(
        sts.starts_with(&format!("sts: STS at {url}/v5/agencies/assume-with-oidc"))
            && sts.contains("1 OIDC providers")
            && sts.contains("60 s"),
        "{sts}"
    );
    for secret in [PASSWORD, IDP_TOKEN, STS_TOKEN, SK] {
        assert!(
            !iam.contains(secret) && !sts.contains(secret),
            "{iam} {sts}"
        );
    }
    assert!(
        running
            .lines
            .recv_timeout(Duration::from_millis(200))
            .is_err(),
        "nothing more is printed"
    );

    // The project of a region, found with a signed request.
    let mut request = http::Request::get("/v3/projects?name=cn-east-3")
        .header("host", endpoint(&url).authority())
        .body(Vec::new())
        .unwrap();
    let credentials: kms_proto::Credentials = AkSk::new(AK, SK).unwrap().into();
    kms_proto::sign_request(&mut request, &credentials, SystemTime::now()).unwrap();
    let response = send_ok(addr, &request);
    assert_eq!(response.status(), 200, "{}", response.text());
    assert!(response.header("x-iam-trace-id").is_some());
    let projects = response.json()["projects"].clone();
    assert_eq!(projects.as_array().unwrap().len(), 1, "{projects}");
    assert_eq!(projects[0]["id"], OTHER_PID);

    // A password token scoped by region name, for 120 s, then KMS with it.
    let body = format!(
        "{{\"auth\":{{\"identity\":{{\"methods\":[\"password\"],\"password\":{{\"user\":\
         {{\"domain\":{{\"name\":\"acct\"}},\"name\":\"alice\",\"password\":\"{PASSWORD}\"}}}}}},\
         \"scope\":{{\"project\":{{\"name\":\"cn-north-4\"}}}}}}}}"
    );
    let response = send_ok(
        addr,
        &plain_request(&url, "POST", "/v3/auth/tokens", &[], body.as_bytes()),
    );
    assert_eq!(response.status(), 201, "{}", response.text());
    let token = response.header("x-subject-token").unwrap().to_owned();
    let expires_at = parse_expires_at(response.json()["token"]["expires_at"].as_str().unwrap());
    let lifetime = expires_at.duration_since(SystemTime::now()).unwrap();
    assert!(lifetime <= Duration::from_secs(120) && lifetime > Duration::from_secs(100));
    assert_count(&send_ok(addr, &token_request(&url, &token, PID)), 7);

    // Federation, then temporary credentials for 60 s at most, then KMS with them.
    let body = format!("{{\"auth\":{{\"id_token\":{{\"id\":\"{IDP_TOKEN}\"}}}}}}");
    let response = send_ok(
        addr,
        &plain_request(
            &url,
            "POST",
            "/v3.0/OS-AUTH/id-token/tokens",
            &[("x-idp-id", "idp-1")],
            body.as_bytes(),
        ),
    );
    assert_eq!(response.status(), 201, "{}", response.text());
    let federated = response.header("x-subject-token").unwrap().to_owned();
    let body = format!(
        "{{\"auth\":{{\"identity\":{{\"methods\":[\"token\"],\"token\":{{\"id\":\"{federated}\",\
         \"duration_seconds\":21600}}}}}}}}"
    );
    let response = send_ok(
        addr,
        &plain_request(
            &url,
            "POST",
            "/v3.0/OS-CREDENTIAL/securitytokens",
            &[],
            body.as_bytes(),
        ),
    );
    assert_eq!(response.status(), 201, "{}", response.text());
    let (temporary, expires_at) = kms_proto::credentials::parse_document(&response.body)
        .unwrap()
        .into_parts();
    assert!(expires_at <= SystemTime::now() + Duration::from_secs(60));
    assert_count(
        &send_ok(addr, &build(&url, temporary, PID, SystemTime::now())),
        7,
    );

    // STS, for any agency.
    let body = format!(
        "{{\"provider_urn\":\"{PROVIDER}\",\"agency_urn\":\"iam::0123:agency:deploy\",\
         \"agency_session_name\":\"oidc-sts-session\",\"id_token\":\"{STS_TOKEN}\",\
         \"duration_seconds\":3600}}"
    );
    let response = send_ok(
        addr,
        &plain_request(
            &url,
            "POST",
            "/v5/agencies/assume-with-oidc",
            &[],
            body.as_bytes(),
        ),
    );
    assert_eq!(response.status(), 200, "{}", response.text());
    let (temporary, _) = kms_proto::credentials::parse_document(&response.body)
        .unwrap()
        .into_parts();
    assert_count(
        &send_ok(addr, &build(&url, temporary, OTHER_PID, SystemTime::now())),
        3,
    );
}

#[test]
fn binary_with_iam_alone_lists_projects_and_without_it_serves_no_iam() {
    let project = format!("{PID}=7@cn-north-4");
    let token = format!("t@{PID}");
    let running = Running::start(&["--project", &project, "--token", &token, "--iam"]);
    let (url, addr) = running.listening("http");
    assert!(running.next_line().starts_with("iam: "));
    assert!(running.next_line().starts_with("sts: "));
    let request = plain_request(
        &url,
        "GET",
        "/v3/projects?name=cn-north-4",
        &[("x-auth-token", "t")],
        b"",
    );
    let response = send_ok(addr, &request);
    assert_eq!(response.status(), 200, "{}", response.text());
    assert_eq!(response.json()["projects"][0]["id"], PID);

    let running = Running::start(&["--project", &project, "--token", &token]);
    let (url, addr) = running.listening("http");
    let response = send_ok(
        addr,
        &plain_request(&url, "GET", "/v3/projects", &[("x-auth-token", "t")], b""),
    );
    assert_flat_error(&response, 404, "APIGW.0101");
}

/// The signature and server times of a "signature expired" message
/// (`signature time:20261122T080000Z,server time:20261122T082000Z`).
fn expired_times(message: &str) -> (SystemTime, SystemTime) {
    let time_after = |label: &str| {
        let start = message
            .find(label)
            .unwrap_or_else(|| panic!("no {label:?} in {message:?}"))
            + label.len();
        let text = message[start..].trim_start();
        let text = text.get(..16).unwrap_or(text);
        kms_proto::SdkDate::parse(text)
            .unwrap_or_else(|| panic!("{text:?} in {message:?} is not an SDK date"))
            .to_system_time()
    };
    (time_after("signature time:"), time_after("server time:"))
}

#[test]
fn binary_clock_offset_runs_the_emulators_clock_ahead_and_expires_the_machines_signatures() {
    let project = format!("{PID}=7");
    let running = Running::start(&[
        "--project",
        &project,
        "--ak",
        AK,
        "--sk",
        SK,
        "--clock-offset",
        "1200",
    ]);
    let (url, addr) = running.listening("http");
    let clock = running.next_line();
    assert!(
        clock.starts_with("clock: 1200 s ahead of this machine's") && clock.contains("401"),
        "{clock}"
    );

    // Signed with this machine's clock: 20 minutes behind the emulator's, beyond the
    // gateway's 15 minutes.
    let signed_at = SystemTime::now();
    let response = send_ok(
        addr,
        &build(&url, AkSk::new(AK, SK).unwrap(), PID, signed_at),
    );
    let message = assert_flat_error(&response, 401, "APIGW.0301");
    assert!(
        message.contains("calc aksk signature fail:signature expired"),
        "{message}"
    );
    let (signature, server) = expired_times(&message);
    let ahead = server.duration_since(signature).unwrap().as_secs();
    assert!((1199..=1202).contains(&ahead), "{ahead} s apart: {message}");
    let named = signature
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let sent = signed_at
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert_eq!(
        named, sent,
        "the signature time named is the X-Sdk-Date sent"
    );

    // Signed with the emulator's time (as a client that corrected its clock): counted.
    let corrected = SystemTime::now() + Duration::from_secs(1200);
    assert_count(
        &send_ok(
            addr,
            &build(&url, AkSk::new(AK, SK).unwrap(), PID, corrected),
        ),
        7,
    );

    // Behind instead: a signature made now is 20 minutes in the emulator's future.
    let running = Running::start(&[
        "--project",
        &project,
        "--ak",
        AK,
        "--sk",
        SK,
        "--clock-offset=-1200",
    ]);
    let (url, addr) = running.listening("http");
    assert!(
        running
            .next_line()
            .starts_with("clock: 1200 s behind this machine's")
    );
    let response = send_ok(
        addr,
        &build(&url, AkSk::new(AK, SK).unwrap(), PID, SystemTime::now()),
    );
    let message = assert_flat_error(&response, 401, "APIGW.0301");
    let (signature, server) = expired_times(&message);
    let behind = signature.duration_since(server).unwrap().as_secs();
    assert!(
        (1198..=1201).contains(&behind),
        "{behind} s apart: {message}"
    );
}

#[test]
fn binary_without_clock_offset_accepts_the_machines_signatures_and_prints_no_clock_line() {
    let project = format!("{PID}=7");
    let running = Running::start(&["--project", &project, "--ak", AK, "--sk", SK]);
    let (url, addr) = running.listening("http");
    assert!(
        running
            .lines
            .recv_timeout(Duration::from_millis(200))
            .is_err(),
        "no clock line"
    );
    assert_count(
        &send_ok(
            addr,
            &build(&url, AkSk::new(AK, SK).unwrap(), PID, SystemTime::now()),
        ),
        7,
    );
}

/// Runs `kms-mock args`, expecting it to exit on its own; returns its status and stderr.
fn run_to_exit(args: &[&str]) -> (ExitStatus, String) {
    let mut child = ChildGuard(
        Command::new(BIN)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kms-mock starts"),
    );
    let deadline = Instant::now() + IO_TIMEOUT;
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "kms-mock {args:?} did not exit; it should refuse these flags"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut stderr = String::new();
    child
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    (status, stderr)
}

#[test]
fn binary_refuses_bad_flags_with_exit_code_2_and_names_the_problem() {
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["--project", "nope"],
            &["--project", "\"nope\" is not ID=COUNT"],
        ),
        (&["--project", "a/b=1"], &["--project", "'/'"]),
        (&["--project", "p=many"], &["--project", "\"many\""]),
        (&["--bogus"], &["--bogus"]),
        (&["--token", "no-at-sign"], &["--token", "TOKEN@PROJECT"]),
        (&["--throttle", "5/0"], &["--throttle", "seconds above 0"]),
        (&["--throttle", "fast"], &["--throttle", "N/SECONDS or kms"]),
        (&["--listen", "localhost"], &["--listen"]),
        (&["--ak", "AK"], &["--sk"]),
        (
            &[
                "--ak",
                "AK",
                "--sk",
                "SK",
                "--signing-algorithms",
                "SDK-HMAC-SHA1",
            ],
            &["--signing-algorithms", "unknown signing algorithm"],
        ),
        (&["--signing-algorithms", "SDK-HMAC-SM3"], &["--ak"]),
        (&["--ca-out", "/tmp/x.pem"], &["--tls"]),
        (
            &["--credential-lifetime", "60"],
            &["--metadata", "--pod-identity-token"],
        ),
        (
            &["--metadata", "--credential-lifetime", "0"],
            &["--credential-lifetime", "seconds above 0"],
        ),
        (&["--pod-identity-token", ""], &["--pod-identity-token"]),
        (
            &["--project", "p=1@cn north"],
            &["--project", "is not a region name"],
        ),
        (&["--project", "p=1@"], &["--project", "region"]),
        (&["--token-lifetime", "60"], &["--token-lifetime", "--iam"]),
        (
            &["--iam", "--token-lifetime", "0"],
            &["--token-lifetime", "seconds above 0"],
        ),
        (
            &["--user", "acct/alice"],
            &["--user", "DOMAIN/NAME=PASSWORD"],
        ),
        (&["--user", "alice=pw"], &["--user", "DOMAIN/NAME=PASSWORD"]),
        (&["--user", "acct/=pw"], &["--user", "user name"]),
        (&["--idp", "idp-only"], &["--idp", "IDP_ID=ID_TOKEN"]),
        (&["--idp", "=token"], &["--idp", "non-empty"]),
        (
            &["--oidc-provider", "urn="],
            &["--oidc-provider", "PROVIDER_URN=ID_TOKEN"],
        ),
        (
            &["--clock-offset", "315360001"],
            &["--clock-offset", "10 years"],
        ),
        (
            &["--clock-offset=-315360001"],
            &["--clock-offset", "10 years"],
        ),
        (
            &["--clock-offset", "-20m"],
            &[
                "--clock-offset",
                "\"-20m\" is not a whole number of seconds",
            ],
        ),
        (&["--clock-offset", "1.5"], &["--clock-offset", "10 years"]),
        (&["--clock-offset"], &["--clock-offset"]),
    ];
    for (args, expected) in cases {
        let (status, stderr) = run_to_exit(args);
        assert_eq!(
            status.code(),
            Some(2),
            "{args:?}: {status}, stderr {stderr}"
        );
        for text in *expected {
            assert!(
                stderr.contains(text),
                "{args:?}: stderr does not mention {text:?}: {stderr}"
            );
        }
    }
}

#[test]
fn binary_never_repeats_the_value_of_a_refused_secret_flag() {
    const SECRET: &str = "hunter2-secret";
    let user = format!("acct/={SECRET}");
    let idp = format!("={SECRET}");
    let provider = format!("={SECRET}");
    let token = format!("{SECRET}@not/a-project");
    let pod = format!("{SECRET}\u{1}");
    for (flag, value) in [
        ("--user", &user),
        ("--idp", &idp),
        ("--oidc-provider", &provider),
        ("--token", &token),
        ("--pod-identity-token", &pod),
    ] {
        let (status, stderr) = run_to_exit(&[flag, value]);
        assert_eq!(status.code(), Some(2), "{flag}: {status}, stderr {stderr}");
        assert!(stderr.contains(flag), "{flag}: {stderr}");
        assert!(stderr.contains("not repeated"), "{flag}: {stderr}");
        assert!(
            !stderr.contains(SECRET),
            "{flag}: the secret is repeated: {stderr}"
        );
    }
}

#[test]
fn binary_that_cannot_bind_exits_with_code_1() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (status, stderr) = run_to_exit(&["--listen", &addr]);
    assert_eq!(status.code(), Some(1), "{status}, stderr {stderr}");
    assert!(stderr.starts_with("kms-mock: "), "{stderr}");
    assert!(stderr.contains("in use"), "{stderr}");
}

#[test]
fn binary_start_up_errors_name_the_address_or_file() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (status, stderr) = run_to_exit(&["--listen", &addr]);
    assert_eq!(status.code(), Some(1), "{status}, stderr {stderr}");
    assert!(stderr.contains(&addr), "the address is not named: {stderr}");

    let path = "/nonexistent-kms-mock-dir/ca.pem";
    let (status, stderr) = run_to_exit(&["--tls", "--ca-out", path]);
    assert_eq!(status.code(), Some(1), "{status}, stderr {stderr}");
    assert!(stderr.contains(path), "the file is not named: {stderr}");
}
