//! The output contract: what goes to stdout and stderr, and the exit codes.

use std::io::Write;
use std::process::ExitCode;

use kms_proto::InstanceCount;
use kms_proto::call::{Error, ErrorKind};
use serde_json::{Value, json};

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
        ErrorKind::Timeout | ErrorKind::Connect | ErrorKind::Tls | ErrorKind::Io => 5,
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
    report(
        format,
        kind,
        &[
            ("kind", json!(kind.as_str())),
            ("status", json!(status)),
            ("code", json!(code)),
            ("message", json!(message)),
            ("request_id", json!(request_id)),
            ("retryable", json!(error.is_retryable())),
        ],
        &error.to_string(),
    )
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
