//! The language-neutral response fixtures: each case a test of its own, named
//! `fixture::<case name>`, beside one test of the file itself
//! (`fixtures::the_file_names_each_case_once`: it can be read, holds cases, no name twice).
//!
//! Reads `tests/fixtures/responses.json`, or the file named by `KMS_RESPONSE_FIXTURES`.
//! `tests/fixtures/gen_responses.py` generates the file and documents its rules. This file
//! runs on `libtest-mimic` (`harness = false`), which takes the usual arguments:
//!
//! ```sh
//! cargo test -p kms-proto --test responses -- --list              # every case's name
//! cargo test -p kms-proto fixture::ok-pretty                       # cases whose name holds it
//! cargo test -p kms-proto --test responses -- --exact fixture::ok-pretty
//! KMS_RESPONSE_FIXTURES=/path/to/other.json cargo test -p kms-proto --test responses
//! ```

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // a test fails by panicking

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use base64::Engine as _;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use kms_proto::{InstanceCount, ResponseError};
use libtest_mimic::{Arguments, Failed, Trial};
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
struct Fixtures {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    status: u16,
    headers: Vec<(String, String)>,
    body: Option<String>,
    body_base64: Option<String>,
    expect: serde_json::Map<String, Value>,
}

fn fixtures_path() -> PathBuf {
    match std::env::var_os("KMS_RESPONSE_FIXTURES") {
        Some(path) => PathBuf::from(path),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/responses.json"),
    }
}

fn run(case: &Case) -> Result<(), String> {
    let status = StatusCode::from_u16(case.status).map_err(|e| format!("bad status: {e}"))?;
    let mut headers = HeaderMap::new();
    for (name, value) in &case.headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| format!("bad header name {name:?}: {e}"))?;
        let value = HeaderValue::from_bytes(value.as_bytes())
            .map_err(|e| format!("bad header value {value:?}: {e}"))?;
        headers.append(name, value);
    }
    let body = match (&case.body, &case.body_base64) {
        (Some(text), None) => text.as_bytes().to_vec(),
        (None, Some(b64)) => base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|e| format!("bad body_base64: {e}"))?,
        _ => return Err("exactly one of body and body_base64 must be given".into()),
    };
    let result = kms_proto::parse(status, &headers, &body);
    if let Some(count) = case.expect.get("count") {
        return check_count(&result, count, case.expect.get("request_id"));
    }
    let Some(Value::Object(expected)) = case.expect.get("error") else {
        return Err("expect must hold \"count\" or an \"error\" object".into());
    };
    match &result {
        Ok(count) => Err(format!("expected an error, got {count:?}")),
        Err(err) => check_error(err, expected),
    }
}

fn check_count(
    result: &Result<InstanceCount, ResponseError>,
    count: &Value,
    request_id: Option<&Value>,
) -> Result<(), String> {
    let want = count.as_u64().ok_or("expect.count must be a u64")?;
    let got = result
        .as_ref()
        .map_err(|e| format!("expected count {want}, got error: {e}"))?;
    let mut problems = Vec::new();
    if got.count() != want {
        problems.push(format!("count: got {} want {want}", got.count()));
    }
    if let Some(want) = request_id {
        let got = got.request_id().map(Value::from).unwrap_or(Value::Null);
        if &got != want {
            problems.push(format!("request_id: got {got} want {want}"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

fn check_error(
    err: &ResponseError,
    expected: &serde_json::Map<String, Value>,
) -> Result<(), String> {
    let opt = |v: Option<&str>| v.map(Value::from).unwrap_or(Value::Null);
    let mut problems = Vec::new();
    for (field, want) in expected {
        let got = match field.as_str() {
            "kind" => Value::from(err.kind().as_str()),
            "status" => Value::from(err.status().as_u16()),
            "code" => opt(err.code()),
            "message" => opt(err.message()),
            "request_id" => opt(err.request_id()),
            "retryable" => Value::from(err.is_retryable()),
            other => return Err(format!("unknown expect.error field {other:?}")),
        };
        if &got != want {
            problems.push(format!("{field}: got {got} want {want}"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("{} [error was: {err}]", problems.join("; ")))
    }
}

fn load(path: &Path) -> Result<Fixtures, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read response fixtures {}: {e}", path.display()))?;
    serde_json::from_str(&text)
        .map_err(|e| format!("response fixtures {} are not valid: {e}", path.display()))
}

/// The file's own checks: it holds cases, and no two of one name (each names a test).
fn check_file(path: &Path, fixtures: &Fixtures) -> Result<(), String> {
    if fixtures.cases.is_empty() {
        return Err(format!("{} holds no case", path.display()));
    }
    let mut seen = std::collections::HashSet::new();
    let twice: Vec<&str> = fixtures
        .cases
        .iter()
        .map(|case| case.name.as_str())
        .filter(|name| !seen.insert(*name))
        .collect();
    if twice.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{}: duplicate case names {twice:?}",
            path.display()
        ))
    }
}

/// The file's test, then one per case. A file that cannot be read or parsed leaves only the
/// file's test, failing with the reason.
fn trials(path: &Path) -> Vec<Trial> {
    const FILE: &str = "fixtures::the_file_names_each_case_once";
    let fixtures = match load(path) {
        Ok(fixtures) => fixtures,
        Err(why) => return vec![Trial::test(FILE, move || Err(why.into()))],
    };
    let file = check_file(path, &fixtures);
    let mut trials = vec![Trial::test(FILE, move || file.map_err(Failed::from))];
    trials.extend(fixtures.cases.into_iter().map(|case| {
        Trial::test(format!("fixture::{}", case.name), move || {
            run(&case).map_err(Failed::from)
        })
    }));
    trials
}

fn main() -> ExitCode {
    let args = Arguments::from_args();
    libtest_mimic::run(&args, trials(&fixtures_path())).exit_code()
}
