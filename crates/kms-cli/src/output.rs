//! The output contract: what goes to stdout and stderr, and the exit codes.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use kms_proto::InstanceCount;
use kms_proto::call::{Error, ErrorKind};
use serde_json::{Value, json};

use crate::repeat::{Summary, Tally};

/// `text` or `json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// The bare count on stdout; one readable line on stderr on failure.
    Text,
    /// One JSON object on one line on stdout, for success and failure alike.
    Json,
}

/// Exit code 2: usage or configuration error, nothing was sent.
pub(crate) const EXIT_CONFIG: u8 = 2;

/// The exit code of an error kind (see the README's output contract).
pub(crate) fn exit_code(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::Config => EXIT_CONFIG,
        ErrorKind::Service | ErrorKind::Status => 3,
        ErrorKind::Malformed | ErrorKind::TooLarge => 4,
        ErrorKind::Timeout
        | ErrorKind::Connect
        | ErrorKind::Tls
        | ErrorKind::Io
        | ErrorKind::ProxyAuth => 5,
        ErrorKind::Credentials => 6,
        ErrorKind::Project => 7,
    }
}

pub(crate) fn success(format: Format, count: &InstanceCount) -> ExitCode {
    let line = match format {
        Format::Text => count.count().to_string(),
        Format::Json => {
            json!({"instance_num": count.count(), "request_id": count.request_id()}).to_string()
        }
    };
    stdout_line(&line);
    ExitCode::SUCCESS
}

pub(crate) fn failure(format: Format, error: &Error) -> ExitCode {
    report(
        format,
        error.kind(),
        &error_fields(error),
        &error.to_string(),
    )
}

/// The fields of `--output json`'s `error` object for `error`, in their documented order.
fn error_fields(error: &Error) -> [(&'static str, Value); 6] {
    let kind = error.kind();
    let (status, code, request_id) = match error {
        // The project could not be found: IAM's status and code when it answered with an
        // error, and its X-IAM-Trace-Id, the id to quote to its support.
        Error::Project { error } => (
            error.iam().map(|iam| iam.status().as_u16()),
            error.iam().and_then(|iam| iam.code()),
            error.trace_id(),
        ),
        _ => (
            error.status().map(|s| s.as_u16()),
            error.code(),
            error.request_id(),
        ),
    };
    let message = match error.response() {
        Some(response) => response.message().map(str::to_owned),
        None => Some(error.to_string()),
    };
    [
        ("kind", json!(kind.as_str())),
        ("status", json!(status)),
        ("code", json!(code)),
        ("message", json!(message)),
        ("request_id", json!(request_id)),
        ("retryable", json!(error.is_retryable())),
    ]
}

/// The outcome of `--repeat` calls (more than one).
///
/// Text: the count of the last call to succeed on stdout (nothing when none did); on
/// stderr the first failure's line, if any call failed, then the summary line. JSON: one
/// line on stdout, `instance_num` and `request_id` of the last success (absent when none),
/// `error` the first failure's (absent when none failed), and `summary`. The exit code is
/// 0 when every call succeeded, else the first failure's, as if it had been the only call.
pub(crate) fn repeated(format: Format, tally: &Tally, summary: &Summary) -> ExitCode {
    let success = tally.last_success();
    let failure = tally.first_failure();
    match format {
        Format::Text => {
            if let Some(count) = success {
                stdout_line(&count.count().to_string());
            }
            if let Some(error) = failure {
                stderr_line(&format!("kms: first failed call: {error}"));
            }
            stderr_line(&format!("kms: {}", summary_text(summary)));
        }
        Format::Json => {
            let mut body = Vec::new();
            if let Some(count) = success {
                body.push(format!("\"instance_num\":{}", json!(count.count())));
                body.push(format!("\"request_id\":{}", json!(count.request_id())));
            }
            if let Some(error) = failure {
                body.push(format!(
                    "\"error\":{}",
                    ordered_object(&error_fields(error))
                ));
            }
            body.push(format!("\"summary\":{}", summary_json(summary)));
            stdout_line(&format!("{{{}}}", body.join(",")));
        }
    }
    match failure {
        Some(error) => ExitCode::from(exit_code(error.kind())),
        None => ExitCode::SUCCESS,
    }
}

/// `20 calls, 0 failures, latency p50 1.234 ms, p99 5.678 ms, credentials obtained 1`;
/// failures by kind in brackets after their number, e.g. `3 failures (malformed 1,
/// service 2)`.
fn summary_text(summary: &Summary) -> String {
    let plural = |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let calls = u64::try_from(summary.calls).unwrap_or(u64::MAX);
    let mut failures = plural(summary.failures, "failure", "failures");
    if !summary.failures_by_kind.is_empty() {
        let kinds: Vec<String> = summary
            .failures_by_kind
            .iter()
            .map(|(kind, n)| format!("{kind} {n}"))
            .collect();
        failures = format!("{failures} ({})", kinds.join(", "));
    }
    format!(
        "{}, {failures}, latency p50 {:.3} ms, p99 {:.3} ms, credentials obtained {}",
        plural(calls, "call", "calls"),
        millis(summary.p50),
        millis(summary.p99),
        summary.credentials_obtained
    )
}

/// `{"calls":20,"failures":0,"failures_by_kind":{},"latency_p50_ms":1.234,
/// "latency_p99_ms":5.678,"credentials_obtained":1}`, in that order.
fn summary_json(summary: &Summary) -> String {
    let by_kind: serde_json::Map<String, Value> = summary
        .failures_by_kind
        .iter()
        .map(|(kind, n)| ((*kind).to_owned(), json!(n)))
        .collect();
    ordered_object(&[
        ("calls", json!(summary.calls)),
        ("failures", json!(summary.failures)),
        ("failures_by_kind", Value::Object(by_kind)),
        ("latency_p50_ms", json!(millis(summary.p50))),
        ("latency_p99_ms", json!(millis(summary.p99))),
        ("credentials_obtained", json!(summary.credentials_obtained)),
    ])
}

/// Milliseconds, rounded to the microsecond.
fn millis(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 1e6).round() / 1e3
}

/// A configuration error found before anything was sent.
pub(crate) fn config_failure(format: Format, message: &str) -> ExitCode {
    report(
        format,
        ErrorKind::Config,
        &[
            ("kind", json!(ErrorKind::Config.as_str())),
            ("status", Value::Null),
            ("code", Value::Null),
            ("message", json!(message)),
            ("request_id", Value::Null),
            ("retryable", json!(false)),
        ],
        message,
    )
}

fn report(format: Format, kind: ErrorKind, fields: &[(&str, Value)], text: &str) -> ExitCode {
    match format {
        Format::Json => stdout_line(&format!("{{\"error\":{}}}", ordered_object(fields))),
        Format::Text => stderr_line(&format!("kms: {text}")),
    }
    ExitCode::from(exit_code(kind))
}

/// A JSON object with its fields in the documented order (serde_json's map sorts them).
fn ordered_object(fields: &[(&str, Value)]) -> String {
    let body: Vec<String> = fields
        .iter()
        .map(|(name, value)| format!("{}:{value}", Value::from(*name)))
        .collect();
    format!("{{{}}}", body.join(","))
}

pub(crate) fn stdout_line(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

pub(crate) fn stderr_line(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}
