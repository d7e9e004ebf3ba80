//! End to end: the built `kms` binary against `kms-mock`, every outcome kind, both output
//! formats, both transports, checking stdout, stderr and the exit code.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // a test fails by panicking

use std::process::{Command, Output};
use std::time::Duration;

use kms_mock::{BlockingMockServer, Fault, MockConfig};
use serde_json::Value;

const PROJECT: &str = "0dea2644dc80d5d22ff1c01e3ebea6fc";
const AK: &str = "CLIAK00000000000001";
const SK: &str = "cli-secret-key-000000000000000000000000";
const TEMP_AK: &str = "CLITEMPAK0000000001";
const TEMP_SK: &str = "cli-temporary-secret-key-00000000000000";
const SECURITY_TOKEN: &str = "cli-security-token-gQpjbi1ub3J0aC00xxxxxx";
const TOKEN: &str = "cli-iam-token-MIIEhQYJKoZIhvcNAQcCoIIEdjCCBHICAQ";
const SECRETS: [&str; 4] = [SK, TEMP_SK, SECURITY_TOKEN, TOKEN];

fn mock(config: MockConfig) -> BlockingMockServer {
    BlockingMockServer::start(
        config
            .with_project(PROJECT, 15)
            .with_aksk(AK, SK)
            .with_temporary_aksk(TEMP_AK, TEMP_SK, SECURITY_TOKEN)
            .with_token(TOKEN, PROJECT),
    )
    .unwrap()
}

/// Runs `kms` with exactly these environment variables (nothing inherited but PATH).
fn kms(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kms"));
    command.env_clear().args(args);
    if let Some(path) = std::env::var_os("PATH") {
        command.env("PATH", path);
    }
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().unwrap()
}

fn aksk_env() -> Vec<(&'static str, &'static str)> {
    vec![("HUAWEICLOUD_SDK_AK", AK), ("HUAWEICLOUD_SDK_SK", SK)]
}

struct Case {
    name: &'static str,
    /// Extra flags after `count --endpoint <url> --project-id <id>`.
    flags: Vec<String>,
    env: Vec<(&'static str, &'static str)>,
    tls: bool,
    fault: Option<Fault>,
    /// Replace the endpoint (for connection refused).
    endpoint: Option<String>,
    project: &'static str,
    exit: i32,
    /// `None` for success; else (kind, status, code, retryable).
    error: Option<(&'static str, Option<u64>, Option<&'static str>, bool)>,
}

fn case(
    name: &'static str,
    exit: i32,
    error: Option<(&'static str, Option<u64>, Option<&'static str>, bool)>,
) -> Case {
    Case {
        name,
        flags: vec![],
        env: aksk_env(),
        tls: false,
        fault: None,
        endpoint: None,
        project: PROJECT,
        exit,
        error,
    }
}

fn cases() -> Vec<Case> {
    let refused = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    vec![
        case("success-aksk", 0, None),
        Case {
            env: vec![("HUAWEICLOUD_SDK_AUTH_TOKEN", TOKEN)],
            ..case("success-token", 0, None)
        },
        Case {
            env: vec![
                ("HUAWEICLOUD_SDK_AK", TEMP_AK),
                ("HUAWEICLOUD_SDK_SK", TEMP_SK),
                ("HUAWEICLOUD_SDK_SECURITY_TOKEN", SECURITY_TOKEN),
            ],
            ..case("success-temporary-aksk", 0, None)
        },
        Case {
            project: "../etc",
            ..case(
                "config-bad-project-id",
                2,
                Some(("config", None, None, false)),
            )
        },
        Case {
            env: vec![],
            ..case(
                "config-no-credentials",
                2,
                Some(("config", None, None, false)),
            )
        },
        Case {
            env: vec![
                ("HUAWEICLOUD_SDK_AK", AK),
                ("HUAWEICLOUD_SDK_SK", SK),
                ("HUAWEICLOUD_SDK_AUTH_TOKEN", TOKEN),
            ],
            ..case(
                "config-both-credentials",
                2,
                Some(("config", None, None, false)),
            )
        },
        Case {
            endpoint: Some("http://kms.example.com".into()),
            ..case(
                "config-plain-http-not-loopback",
                2,
                Some(("config", None, None, false)),
            )
        },
        Case {
            env: vec![
                ("HUAWEICLOUD_SDK_AK", AK),
                ("HUAWEICLOUD_SDK_SK", "wrong-secret-key"),
            ],
            ..case(
                "service-wrong-sk",
                3,
                Some(("service", Some(401), Some("APIGW.0301"), false)),
            )
        },
        Case {
            flags: vec!["--retries".into(), "0".into()],
            fault: Some(Fault::Respond {
                status: 502,
                headers: vec![("content-type".into(), "text/html".into())],
                body: "<html>Bad Gateway</html>".into(),
            }),
            ..case(
                "status-html-502",
                3,
                Some(("status", Some(502), None, true)),
            )
        },
        Case {
            fault: Some(Fault::redirect("http://127.0.0.1:9/")),
            ..case(
                "status-redirect",
                3,
                Some(("status", Some(302), None, false)),
            )
        },
        Case {
            fault: Some(Fault::json(200, r#"{"instance_num":-1}"#)),
            ..case("malformed", 4, Some(("malformed", Some(200), None, false)))
        },
        Case {
            fault: Some(Fault::EndlessBody),
            ..case(
                "too-large-endless-body",
                4,
                Some(("too_large", Some(200), None, false)),
            )
        },
        Case {
            flags: vec![
                "--timeout".into(),
                "0.3".into(),
                "--retries".into(),
                "0".into(),
            ],
            fault: Some(Fault::DelayHeaders(Duration::from_secs(3))),
            ..case("timeout", 5, Some(("timeout", None, None, true)))
        },
        Case {
            flags: vec!["--retries".into(), "0".into()],
            endpoint: Some(format!("http://127.0.0.1:{refused}")),
            ..case("connect-refused", 5, Some(("connect", None, None, true)))
        },
        Case {
            flags: vec!["--retries".into(), "0".into()],
            tls: true,
            ..case("tls-untrusted", 5, Some(("tls", None, None, true)))
        },
        Case {
            flags: vec!["--retries".into(), "0".into()],
            fault: Some(Fault::NotHttp("220 smtp.example.com ESMTP\r\n".into())),
            ..case("io-not-http", 5, Some(("io", None, None, true)))
        },
    ]
}

fn check(c: &Case, transport: &str, json: bool) -> Result<(), String> {
    let server = mock(if c.tls {
        MockConfig::new().with_tls()
    } else {
        MockConfig::new()
    });
    if let Some(fault) = &c.fault {
        server.faults().next(1, fault.clone());
    }
    let endpoint = c.endpoint.clone().unwrap_or_else(|| server.url());
    let mut args: Vec<String> = [
        "count",
        "--endpoint",
        &endpoint,
        "--project-id",
        c.project,
        "--transport",
        transport,
        "--output",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    args.push(if json { "json" } else { "text" }.into());
    args.extend(c.flags.iter().cloned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = kms(&args, &c.env);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    let mut problems = Vec::new();
    if out.status.code() != Some(c.exit) {
        problems.push(format!("exit {:?}, want {}", out.status.code(), c.exit));
    }
    for secret in SECRETS {
        if stdout.contains(secret) || stderr.contains(secret) {
            problems.push("a secret appears in the output".into());
        }
    }
    match (json, &c.error) {
        (false, None) => {
            if stdout != "15\n" || !stderr.is_empty() {
                problems.push(format!("stdout {stdout:?} stderr {stderr:?}"));
            }
        }
        (false, Some(_)) => {
            if !stdout.is_empty() || !stderr.starts_with("kms: ") || stderr.lines().count() != 1 {
                problems.push(format!(
                    "want one 'kms: ' line on stderr; stdout {stdout:?} stderr {stderr:?}"
                ));
            }
        }
        (true, expected) => {
            if stdout.lines().count() != 1 || !stderr.is_empty() {
                problems.push(format!(
                    "want one line on stdout only; stdout {stdout:?} stderr {stderr:?}"
                ));
            }
            let v: Value = serde_json::from_str(stdout.trim())
                .map_err(|e| format!("not JSON ({e}): {stdout:?}"))?;
            match expected {
                None => {
                    let id = v["request_id"].as_str().unwrap_or_default();
                    if v["instance_num"] != 15 || id.len() != 32 {
                        problems.push(format!("success JSON {v}"));
                    }
                    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
                    if keys.len() != 2 {
                        problems.push(format!("success JSON has keys {keys:?}"));
                    }
                }
                Some((kind, status, code, retryable)) => {
                    let e = &v["error"];
                    let got = (
                        e["kind"].as_str(),
                        e["status"].as_u64(),
                        e["code"].as_str(),
                        e["retryable"].as_bool(),
                    );
                    if got != (Some(*kind), *status, *code, Some(*retryable)) {
                        problems.push(format!("error JSON {e}"));
                    }
                    let order: Vec<&str> = stdout
                        .match_indices("\":")
                        .map(|(i, _)| &stdout[..i])
                        .map(|s| s.rsplit('"').next().unwrap())
                        .collect();
                    if order
                        != [
                            "error",
                            "kind",
                            "status",
                            "code",
                            "message",
                            "request_id",
                            "retryable",
                        ]
                    {
                        problems.push(format!("field order {order:?}"));
                    }
                    if *kind == "service"
                        && e["request_id"].as_str().is_none_or(|id| id.len() != 32)
                    {
                        problems.push(format!("no request id in {e}"));
                    }
                }
            }
        }
    }
    if c.name.starts_with("config") && server.connections() != 0 {
        problems.push("a configuration error still connected".into());
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

#[test]
fn every_outcome_in_both_formats_on_both_transports() {
    let mut failures = Vec::new();
    let cases = cases();
    for c in &cases {
        for transport in ["ureq", "hyper"] {
            for json in [false, true] {
                if let Err(why) = check(c, transport, json) {
                    failures.push(format!(
                        "  {} [{transport}, {}]: {why}",
                        c.name,
                        if json { "json" } else { "text" }
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} runs failed:\n{}",
        failures.len(),
        cases.len() * 4,
        failures.join("\n")
    );
}

#[test]
fn very_verbose_output_never_shows_a_secret() {
    let server = mock(MockConfig::new());
    let envs: [Vec<(&str, &str)>; 3] = [
        aksk_env(),
        vec![("HUAWEICLOUD_SDK_AUTH_TOKEN", TOKEN)],
        vec![
            ("HUAWEICLOUD_SDK_AK", TEMP_AK),
            ("HUAWEICLOUD_SDK_SK", TEMP_SK),
            ("HUAWEICLOUD_SDK_SECURITY_TOKEN", SECURITY_TOKEN),
        ],
    ];
    for env in &envs {
        for transport in ["ureq", "hyper"] {
            server.faults().next(1, Fault::status(503));
            let out = kms(
                &[
                    "count",
                    "--endpoint",
                    &server.url(),
                    "--project-id",
                    PROJECT,
                    "--transport",
                    transport,
                    "-vv",
                ],
                env,
            );
            let (stdout, stderr) = (
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
            );
            assert_eq!(stdout, "15\n", "{transport}: {stderr}");
            assert!(
                stderr.contains("kms.attempt") && stderr.contains("retrying"),
                "{transport}: -vv logged nothing useful: {stderr}"
            );
            for secret in SECRETS {
                assert!(
                    !stderr.contains(secret) && !stdout.contains(secret),
                    "{transport}: a secret in -vv output"
                );
            }
            assert!(
                !stderr.contains("Signature="),
                "{transport}: a signature in -vv output"
            );
        }
    }
}

#[test]
fn token_file_and_ca_file() {
    let dir = std::env::temp_dir().join(format!("kms-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let token_file = dir.join("token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    let server = mock(MockConfig::new().with_tls());
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, server.ca_pem().unwrap()).unwrap();
    for transport in ["ureq", "hyper"] {
        let out = kms(
            &[
                "count",
                "--endpoint",
                &server.url(),
                "--project-id",
                PROJECT,
                "--transport",
                transport,
                "--auth-token-file",
                token_file.to_str().unwrap(),
                "--ca-file",
                ca_file.to_str().unwrap(),
            ],
            &[],
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "15\n",
            "{transport}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            server
                .requests()
                .last()
                .unwrap()
                .header("x-auth-token")
                .is_some()
        );
    }
    let out = kms(
        &[
            "count",
            "--endpoint",
            &server.url(),
            "--project-id",
            PROJECT,
            "--auth-token-file",
            token_file.to_str().unwrap(),
        ],
        &[("HUAWEICLOUD_SDK_AUTH_TOKEN", TOKEN)],
    );
    assert_eq!(out.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn usage_errors_exit_2_and_demo_succeeds() {
    let out = kms(&["count", "--bogus"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let out = kms(&["count", "--project-id", PROJECT], &aksk_env());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--region"),
        "the error says how to name the endpoint"
    );
    let out = kms(
        &["count", "--region", "cn north 4", "--project-id", PROJECT],
        &aksk_env(),
    );
    assert_eq!(out.status.code(), Some(2));

    let out = kms(&["demo"], &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answered = stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("kms-") && l.contains("15 customer master keys"))
        .count();
    assert_eq!(answered, 4, "{stdout}");
    assert!(
        stdout.contains("kms-ureq") && stdout.contains("kms-hyper") && stdout.contains("401"),
        "{stdout}"
    );
}

// ---- Files the CLI reads are bounded (issue 11, item 4) ----

/// How long a test waits for `kms` before killing it: generous, because it only runs out
/// when something regressed (a FIFO opened without a writer blocks forever).
const DEADLINE: Duration = Duration::from_secs(10);

/// Most address space `kms` may take in the file tests (Unix): far more than reading a
/// 1 MiB file needs, and small enough that reading `/dev/zero` without a bound fails in a
/// second instead of eating the memory of a machine shared with other builds.
#[cfg(unix)]
const ADDRESS_SPACE_KIB: u32 = 1024 * 1024;

/// Runs `kms` like [`kms`], but kills it and fails if it has not exited within
/// [`DEADLINE`], and (on Unix) under an address-space limit.
fn kms_bounded(args: &[&str], env: &[(&str, &str)]) -> Output {
    let kms = env!("CARGO_BIN_EXE_kms");
    #[cfg(unix)]
    let mut command = {
        let mut command = Command::new("/bin/sh");
        command
            .arg("-c")
            .arg(format!(
                "ulimit -v {ADDRESS_SPACE_KIB} && exec \"$0\" \"$@\""
            ))
            .arg(kms);
        command
    };
    #[cfg(not(unix))]
    let mut command = Command::new(kms);
    command
        .env_clear()
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    if let Some(path) = std::env::var_os("PATH") {
        command.env("PATH", path);
    }
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().unwrap();
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "kms {args:?} still running after {DEADLINE:?}; stderr {:?}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().unwrap()
}

/// A directory of its own for one test, removed when dropped.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("kms-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn file(&self, name: &str, contents: &[u8]) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, contents).unwrap();
        path.to_str().unwrap().to_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `count` with everything valid (nothing is listening on the endpoint) and these flags.
fn count_args<'a>(flags: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "count",
        "--endpoint",
        "http://127.0.0.1:9",
        "--project-id",
        PROJECT,
        "--retries",
        "0",
    ];
    args.extend_from_slice(flags);
    args
}

/// Runs `count` with `flag path` and checks both formats: exit 2, and exactly `message`
/// as one `kms: ` line on stderr, or as the message of one JSON line on stdout.
fn assert_file_refused(flag: &str, path: &str, message: &str) {
    let env = if flag == "--auth-token-file" {
        vec![]
    } else {
        aksk_env()
    };
    let out = kms_bounded(&count_args(&[flag, path]), &env);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(
        (out.status.code(), stdout.as_ref(), stderr.as_ref()),
        (Some(2), "", format!("kms: {message}\n").as_str()),
        "{flag} {path}"
    );
    let out = kms_bounded(&count_args(&[flag, path, "--output", "json"]), &env);
    assert_eq!(out.status.code(), Some(2), "{flag} {path} (json)");
    assert!(out.stderr.is_empty(), "{flag} {path} (json)");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"error": {"kind": "config", "status": null, "code": null,
            "message": message, "request_id": null, "retryable": false}}),
        "{flag} {path} (json)"
    );
}

const CA_NOT_REGULAR: &str = "; pass a PEM file";
const TOKEN_NOT_REGULAR: &str = "; pass a file holding the token";

#[cfg(unix)]
#[test]
fn dev_zero_is_refused_at_once_without_reading_it() {
    assert_file_refused(
        "--ca-file",
        "/dev/zero",
        &format!(
            "the CA file /dev/zero is not a regular file (a character device){CA_NOT_REGULAR}"
        ),
    );
    assert_file_refused(
        "--auth-token-file",
        "/dev/zero",
        &format!(
            "the auth token file /dev/zero is not a regular file (a character device){TOKEN_NOT_REGULAR}"
        ),
    );
}

#[cfg(unix)]
#[test]
fn a_fifo_without_a_writer_is_refused_without_blocking() {
    let dir = TempDir::new("fifo");
    let fifo = dir.0.join("fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success(), "mkfifo failed");
    let fifo = fifo.to_str().unwrap();
    assert_file_refused(
        "--ca-file",
        fifo,
        &format!("the CA file {fifo} is not a regular file (a FIFO){CA_NOT_REGULAR}"),
    );
    assert_file_refused(
        "--auth-token-file",
        fifo,
        &format!("the auth token file {fifo} is not a regular file (a FIFO){TOKEN_NOT_REGULAR}"),
    );
}

#[test]
fn a_directory_is_refused() {
    let dir = TempDir::new("directory");
    let path = dir.0.to_str().unwrap();
    assert_file_refused(
        "--ca-file",
        path,
        &format!("the CA file {path} is not a regular file (a directory){CA_NOT_REGULAR}"),
    );
    assert_file_refused(
        "--auth-token-file",
        path,
        &format!(
            "the auth token file {path} is not a regular file (a directory){TOKEN_NOT_REGULAR}"
        ),
    );
}

#[test]
fn a_missing_file_is_refused() {
    let dir = TempDir::new("missing");
    let path = dir.0.join("no-such-file");
    let path = path.to_str().unwrap();
    let missing = std::io::Error::from(std::io::ErrorKind::NotFound);
    let missing = std::fs::metadata(path).err().unwrap_or(missing);
    assert_file_refused(
        "--ca-file",
        path,
        &format!("cannot read the CA file {path}: {missing}"),
    );
    assert_file_refused(
        "--auth-token-file",
        path,
        &format!("cannot read the auth token file {path}: {missing}"),
    );
}

/// The CA file may be 1 MiB (the mock's CA, padded with blank lines), the token file the
/// longest token `kms_proto` accepts and a CRLF; a byte more is refused.
#[test]
fn files_at_the_limit_are_read_and_a_byte_more_is_refused() {
    const CA_MAX: usize = 1024 * 1024;
    const TOKEN_MAX: usize = kms_proto::MAX_TOKEN_LEN + 2;
    let dir = TempDir::new("limits");
    let server = mock(MockConfig::new().with_tls());
    let mut pem = server.ca_pem().unwrap().as_bytes().to_vec();
    pem.resize(CA_MAX, b'\n');
    let at_limit = dir.file("ca-at-limit.pem", &pem);
    let url = server.url();
    let out = kms_bounded(
        &[
            "count",
            "--endpoint",
            &url,
            "--project-id",
            PROJECT,
            "--ca-file",
            &at_limit,
        ],
        &aksk_env(),
    );
    assert_eq!(
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).as_ref()
        ),
        (Some(0), "15\n"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    pem.push(b'\n');
    let over = dir.file("ca-over-limit.pem", &pem);
    assert_file_refused(
        "--ca-file",
        &over,
        &format!("the CA file {over} is larger than the 1 MiB a CA bundle may be"),
    );

    let mut token = vec![b't'; kms_proto::MAX_TOKEN_LEN];
    token.extend_from_slice(b"\r\n");
    assert_eq!(token.len(), TOKEN_MAX);
    let at_limit = dir.file("token-at-limit", &token);
    // Read and accepted: the request is made (and refused, nothing listens there).
    let out = kms_bounded(&count_args(&["--auth-token-file", &at_limit]), &[]);
    assert_eq!(
        out.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    token.push(b'\n');
    let over = dir.file("token-over-limit", &token);
    assert_file_refused(
        "--auth-token-file",
        &over,
        &format!(
            "the auth token file {over} is larger than the 32 KiB an IAM token may be, plus a line ending"
        ),
    );
}

// ---- `--output json` holds for usage errors too (issue 11, item 7) ----

/// Checks that `out` is exactly one JSON config error on stdout, nothing on stderr, exit 2,
/// with a one-line message from clap (no usage, no help hint, no colour) containing `needle`.
fn assert_json_usage_error(args: &[&str], out: &Output, needle: &str) {
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stdout}{stderr}");
    assert!(stderr.is_empty(), "{args:?}: stderr {stderr:?}");
    assert_eq!(stdout.lines().count(), 1, "{args:?}: stdout {stdout:?}");
    assert!(
        stdout.starts_with(r#"{"error":{"kind":"config","status":null,"code":null,"message":""#)
            && stdout.ends_with(",\"request_id\":null,\"retryable\":false}}\n"),
        "{args:?}: {stdout}"
    );
    let v: Value = serde_json::from_str(&stdout).unwrap();
    let message = v["error"]["message"].as_str().unwrap();
    for unwanted in ["\n", "\u{1b}", "Usage", "For more information", "error:"] {
        assert!(!message.contains(unwanted), "{args:?}: {message:?}");
    }
    assert!(message.contains(needle), "{args:?}: {message:?}");
}

#[test]
fn usage_errors_with_json_output_are_one_json_line() {
    let cases: &[(&[&str], &str)] = &[
        (&["count", "--output", "json", "--timeout", "abc"], "'abc'"),
        (&["count", "--output=json", "--timeout", "abc"], "'abc'"),
        (&["count", "--timeout", "abc", "--output", "json"], "'abc'"),
        (&["count", "--output", "json", "--bogus"], "'--bogus'"),
        // clap's tip is kept, on the same line.
        (
            &["count", "--output", "json", "--tmeout", "3"],
            "'--timeout'",
        ),
        (
            &[
                "count",
                "--output",
                "json",
                "--region",
                "cn-north-4",
                "--endpoint",
                "https://kms.example.com",
            ],
            "'--endpoint <URL>'",
        ),
        // A flag's value missing.
        (
            &["count", "--output", "json", "--timeout"],
            "'--timeout <SECONDS>'",
        ),
        // clap does not take `--output` as the value of --project-id: it reads both flags.
        (
            &["count", "--project-id", "--output", "json"],
            "'--project-id <ID>'",
        ),
        // Repeated: clap refuses it, and the last one says which format the refusal takes.
        (
            &["count", "--output", "text", "--output", "json"],
            "'--output <OUTPUT>'",
        ),
    ];
    for (args, needle) in cases {
        let out = kms(args, &aksk_env());
        assert_json_usage_error(args, &out, needle);
    }
}

#[test]
fn usage_errors_without_json_output_are_clap_s_text() {
    let cases: &[&[&str]] = &[
        &["count", "--timeout", "abc"],
        &["count", "--output", "text", "--timeout", "abc"],
        &["count", "--bogus"],
        &[
            "count",
            "--region",
            "cn-north-4",
            "--endpoint",
            "https://kms.example.com",
        ],
        // The last --output wins.
        &["count", "--output", "json", "--output", "text"],
        // `--output json` where clap does not read it as the output flag.
        &["count", "--project-id=--output", "json"],
        &["count", "--", "--output", "json"],
        &["--output", "json", "count"],
        &["count", "--output", "JSON"],
        &["count", "--output", "--timeout", "json"],
        &[],
    ];
    for args in cases {
        let out = kms(args, &aksk_env());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}");
        if args.is_empty() {
            // No subcommand: clap's help, on stderr.
            assert!(stderr.contains("Usage: kms <COMMAND>"), "{stderr}");
        } else {
            assert!(
                stderr.starts_with("error: ") && stderr.ends_with("try '--help'.\n"),
                "{args:?}: {stderr}"
            );
        }
    }
    // Exactly clap's text, as before.
    let out = kms(&["count", "--timeout", "abc"], &aksk_env());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: invalid value 'abc' for '--timeout <SECONDS>': invalid float literal\n\n\
         For more information, try '--help'.\n"
    );
}

#[test]
fn help_and_version_are_unchanged_by_json_output() {
    for args in [
        &["count", "--output", "json", "--help"][..],
        &["count", "--help"],
        &["count", "--output=json", "-h"],
    ] {
        let out = kms(args, &[]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(out.stderr.is_empty(), "{args:?}");
        assert!(stdout.contains("Usage: kms count"), "{args:?}: {stdout}");
    }
    // A subcommand's version names it, as clap always did.
    let version = env!("CARGO_PKG_VERSION");
    for (args, name) in [
        (&["count", "--output", "json", "--version"][..], "kms-count"),
        (&["count", "--output=json", "-V"], "kms-count"),
        (&["--version"], "kms"),
    ] {
        let out = kms(args, &[]);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("{name} {version}\n"),
            "{args:?}"
        );
    }
}

#[test]
fn a_pem_block_that_is_not_a_certificate_is_refused_before_anything_is_sent() {
    // Issue 11: kms-hyper refused this bundle, kms-ureq sent the request. Now `CaBundle`
    // refuses it for both, naming the file, before a connection is made.
    let dir = TempDir::new("not-a-certificate");
    let path = dir.0.join("bad-ca.pem");
    std::fs::write(
        &path,
        "-----BEGIN CERTIFICATE-----\nQUFBQUFB\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let path = path.to_str().unwrap();
    let server = mock(MockConfig::new());
    for transport in ["ureq", "hyper"] {
        let out = kms(
            &[
                "count",
                "--endpoint",
                &server.url(),
                "--project-id",
                PROJECT,
                "--transport",
                transport,
                "--ca-file",
                path,
            ],
            &aksk_env(),
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{transport}: {stderr}");
        assert!(
            stderr.starts_with("kms: invalid CA certificate bundle (from ")
                && stderr.contains(path)
                && stderr.lines().count() == 1,
            "{transport}: {stderr}"
        );
    }
    assert_eq!(server.connections(), 0, "a transport connected");
}
