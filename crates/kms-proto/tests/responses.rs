//! The language-neutral response fixtures: one case per entry, every failing case named.
//!
//! Reads `tests/fixtures/responses.json`, or the file named by `KMS_RESPONSE_FIXTURES`.
//! `tests/fixtures/gen_responses.py` generates the file and documents its rules.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // a test fails by panicking

use std::path::PathBuf;

use base64::Engine as _;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use kms_proto::{InstanceCount, ResponseError};
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

#[test]
fn every_fixture_parses_as_expected() {
    let path = fixtures_path();
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read response fixtures {}: {e}", path.display()));
    let fixtures: Fixtures = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("response fixtures {} are not valid: {e}", path.display()));
    assert!(
        !fixtures.cases.is_empty(),
        "{} holds no case",
        path.display()
    );
    let mut seen = std::collections::HashSet::new();
    let mut failures = Vec::new();
    for case in &fixtures.cases {
        if !seen.insert(case.name.as_str()) {
            failures.push(format!("  {}: duplicate case name", case.name));
        }
        if let Err(why) = run(case) {
            failures.push(format!("  {}: {why}", case.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} response fixtures failed ({}):\n{}",
        failures.len(),
        fixtures.cases.len(),
        path.display(),
        failures.join("\n")
    );
}
