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
