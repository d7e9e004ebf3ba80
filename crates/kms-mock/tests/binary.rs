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
        (&["--listen", "localhost"], &["--listen"]),
        (&["--ak", "AK"], &["--sk"]),
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
