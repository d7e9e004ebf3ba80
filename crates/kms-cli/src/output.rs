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

/// The exit codes of `kms count` and what each means: the one source of `--help`'s list
/// ([`exit_codes_help`]) and of the README's output contract, whose table has a row
/// `| <meaning> | <code> | ...` for each, naming the `--output json` kinds that
/// [`exit_code`] gives it (a unit test reads the README and checks both ways).
pub(crate) const EXIT_CODES: [(u8, &str); 7] = [
    (0, "success"),
    (EXIT_CONFIG, "usage or configuration error, nothing sent"),
    (
        3,
        "the service answered with an error (any 3xx/4xx/5xx, or a 200 error document)",
    ),
    (4, "the answer was unusable"),
    (5, "no usable answer"),
    (6, "no credentials could be had from their source"),
    (
        7,
        "the project id could not be found through IAM (no project id given; IAM listed none \
         or several projects for the region, refused, or did not answer)",
    ),
];

/// Every error kind, in the order `--help` names them.
const KINDS: [ErrorKind; 12] = [
    ErrorKind::Config,
    ErrorKind::Service,
    ErrorKind::Status,
    ErrorKind::Malformed,
    ErrorKind::TooLarge,
    ErrorKind::Timeout,
    ErrorKind::Connect,
    ErrorKind::Tls,
    ErrorKind::Io,
    ErrorKind::ProxyAuth,
    ErrorKind::Credentials,
    ErrorKind::Project,
];

/// The error kinds (`--output json`'s `kind`) that exit with `code`.
fn kinds_of(code: u8) -> impl Iterator<Item = ErrorKind> {
    KINDS
        .into_iter()
        .filter(move |&kind| exit_code(kind) == code)
}

/// `--help`'s list of [`EXIT_CODES`] under `heading`, each meaning wrapped to 80 columns
/// and followed by its JSON kinds: `  5  no usable answer [kind timeout, connect, ...]`.
pub(crate) fn exit_codes_help(heading: &str) -> String {
    const WIDTH: usize = 80;
    const INDENT: &str = "     ";
    let mut help = format!("{heading}\n");
    for (code, meaning) in EXIT_CODES {
        let kinds: Vec<&str> = kinds_of(code).map(ErrorKind::as_str).collect();
        let text = match kinds.as_slice() {
            [] => meaning.to_owned(),
            [one] => format!("{meaning} [kind {one}]"),
            many => format!("{meaning} [kinds {}]", many.join(", ")),
        };
        let mut line = format!("  {code}  ");
        for word in text.split_whitespace() {
            if line.len() + 1 + word.len() > WIDTH && line.len() > INDENT.len() {
                help.push_str(line.trim_end());
                help.push('\n');
                line = INDENT.to_owned();
            }
            if !line.ends_with(' ') {
                line.push(' ');
            }
            line.push_str(word);
        }
        help.push_str(&line);
        help.push('\n');
    }
    help.truncate(help.trim_end().len());
    help
}

/// The exit code of an error kind (see [`EXIT_CODES`]).
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Where `kind` is in [`KINDS`]: a match that stops compiling when a kind is added, so
    /// that the list (and `--help`) cannot miss it.
    fn position(kind: ErrorKind) -> usize {
        match kind {
            ErrorKind::Config => 0,
            ErrorKind::Service => 1,
            ErrorKind::Status => 2,
            ErrorKind::Malformed => 3,
            ErrorKind::TooLarge => 4,
            ErrorKind::Timeout => 5,
            ErrorKind::Connect => 6,
            ErrorKind::Tls => 7,
            ErrorKind::Io => 8,
            ErrorKind::ProxyAuth => 9,
            ErrorKind::Credentials => 10,
            ErrorKind::Project => 11,
        }
    }

    #[test]
    fn every_error_kind_is_listed_once_with_a_listed_exit_code() {
        for (i, kind) in KINDS.into_iter().enumerate() {
            assert_eq!(position(kind), i, "{kind}");
            let code = exit_code(kind);
            assert!(
                EXIT_CODES.iter().any(|&(listed, _)| listed == code),
                "{kind} exits {code}, which EXIT_CODES does not list"
            );
        }
        let codes: Vec<u8> = EXIT_CODES.iter().map(|&(code, _)| code).collect();
        assert_eq!(codes, [0, 2, 3, 4, 5, 6, 7]);
        // Every code but success is some kind's.
        for code in codes.into_iter().skip(1) {
            assert!(kinds_of(code).next().is_some(), "{code}");
        }
    }

    /// The rows of the README's output contract table: (exit code, outcome, the other
    /// cells).
    fn readme_rows() -> Vec<(u8, String, String)> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md");
        let readme = std::fs::read_to_string(path).unwrap();
        let mut lines = readme
            .lines()
            .skip_while(|line| !line.starts_with("| outcome | exit |"))
            .skip(2); // the header and its separator
        let mut rows = Vec::new();
        for line in lines.by_ref().take_while(|line| line.starts_with('|')) {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let code = cells[2]
                .parse()
                .unwrap_or_else(|_| panic!("not an exit code: {line}"));
            rows.push((code, cells[1].to_owned(), cells[3..].join(" | ")));
        }
        assert!(!rows.is_empty(), "no `| outcome | exit |` table in {path}");
        rows
    }

    #[test]
    fn the_readme_s_output_contract_is_the_exit_code_table() {
        let rows = readme_rows();
        let readme: Vec<(u8, &str)> = rows
            .iter()
            .map(|(code, outcome, _)| (*code, outcome.as_str()))
            .collect();
        assert_eq!(
            readme, EXIT_CODES,
            "the README's output contract and EXIT_CODES (--help's list) differ: make them \
             say the same"
        );
        for (code, _, rest) in &rows {
            for kind in kinds_of(*code) {
                let kind = kind.as_str();
                assert!(
                    rest.contains(&format!("`{kind}`")) || rest.contains(&format!("\"{kind}\"")),
                    "the README's row for exit {code} does not name kind {kind}: {rest}"
                );
            }
        }
    }

    #[test]
    fn help_lists_each_code_with_its_meaning_and_kinds_within_80_columns() {
        let help = exit_codes_help("Exit codes:");
        assert!(
            help.starts_with("Exit codes:\n  0  success\n  2  usage"),
            "{help}"
        );
        assert!(help.contains("\n  5  no usable answer [kinds timeout, connect, tls, io,"));
        assert!(help.contains(" [kind credentials]\n"), "{help}");
        assert!(help.lines().all(|line| line.len() <= 80), "{help}");
        assert!(!help.ends_with('\n'));
        // Every word of every meaning, in order, once the wrapping is undone.
        let flat = help.split_whitespace().collect::<Vec<_>>().join(" ");
        for (code, meaning) in EXIT_CODES {
            let meaning = meaning.split_whitespace().collect::<Vec<_>>().join(" ");
            assert!(flat.contains(&format!("{code} {meaning}")), "{flat}");
        }
    }
}
