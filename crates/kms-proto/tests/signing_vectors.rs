//! Every case of the official signer's vectors, each a test of its own:
//! `vector::<case name>::signs` checks canonical request, string to sign, signed headers and
//! `Authorization` byte for byte; `vector::<case name>::verifies` checks the verifier accepts
//! the request and refuses it with any one byte changed. Beside them,
//! `vectors::the_files_hold_cases_of_known_algorithms` checks the files themselves, and
//! `a_wrong_expectation_is_reported_by_name` that a case can fail.
//!
//! Reads every `tests/vectors/*.json` (`sdk-hmac-sha256.json`, `sdk-hmac-sm3.json`), or
//! only the file named by `KMS_SIGNING_VECTORS`. A file's `algorithm` (absent:
//! `SDK-HMAC-SHA256`) is its cases' default; a case may name its own `algorithm`. A case
//! with `"add_host": false` is signed without a `Host` header (the Go SDK's published cases
//! sign only `x-sdk-date`); otherwise the request carries `Host`, as the official Python
//! signer adds it.
//! This file runs on `libtest-mimic` (`harness = false`), which takes the usual arguments:
//!
//! ```sh
//! cargo test -p kms-proto --test signing_vectors -- --list        # every test's name
//! cargo test -p kms-proto vector::unicode-sk::                     # one case, both tests
//! cargo test -p kms-proto --test signing_vectors -- --exact vector::unicode-sk::signs
//! KMS_SIGNING_VECTORS=/path/to/other.json cargo test -p kms-proto --test signing_vectors
//! ```

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // a test fails by panicking

use std::path::PathBuf;
use std::process::ExitCode;

use kms_proto::sign::{self, SignableRequest, SigningAlgorithm, SigningKey};
use libtest_mimic::{Arguments, Failed, Trial};
use serde::Deserialize;

#[derive(Deserialize)]
struct Vectors {
    /// The cases' default algorithm; absent: `SDK-HMAC-SHA256`.
    algorithm: Option<String>,
    cases: Vec<Case>,
}

#[derive(Clone, Deserialize)]
struct Case {
    name: String,
    /// The case's algorithm; absent: the file's.
    algorithm: Option<String>,
    /// Whether the request carries `Host` (added from `host` when absent); default true.
    add_host: Option<bool>,
    method: String,
    host: String,
    path: String,
    query: Vec<(String, String)>,
    /// Order does not matter: the signer sorts the headers it signs.
    headers: serde_json::Map<String, serde_json::Value>,
    ak: String,
    sk: String,
    expected: Expected,
}

#[derive(Clone, Deserialize)]
struct Expected {
    canonical_request: String,
    string_to_sign: String,
    signed_headers: String,
    authorization: String,
    /// The URI on the wire, query included.
    #[cfg_attr(
        not(feature = "verify"),
        allow(dead_code, reason = "read by the verifying half")
    )]
    uri: String,
}

/// The vector files: `KMS_SIGNING_VECTORS`, or every `.json` of `tests/vectors`.
fn vectors_paths() -> Result<Vec<PathBuf>, String> {
    if let Some(path) = std::env::var_os("KMS_SIGNING_VECTORS") {
        return Ok(vec![PathBuf::from(path)]);
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    paths.sort();
    Ok(paths)
}

/// Every case of every file, each with its algorithm resolved into `algorithm`.
fn load() -> Result<Vectors, String> {
    let mut all = Vectors {
        algorithm: None,
        cases: Vec::new(),
    };
    for path in vectors_paths()? {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read signing vectors {}: {e}", path.display()))?;
        let vectors: Vectors = serde_json::from_str(&text)
            .map_err(|e| format!("signing vectors {} are not valid: {e}", path.display()))?;
        let default = vectors
            .algorithm
            .unwrap_or_else(|| sign::ALGORITHM.to_owned());
        for mut case in vectors.cases {
            case.algorithm.get_or_insert_with(|| default.clone());
            all.cases.push(case);
        }
    }
    Ok(all)
}

impl Case {
    fn algorithm(&self) -> Result<SigningAlgorithm, String> {
        let name = self.algorithm.as_deref().unwrap_or(sign::ALGORITHM);
        // The wire name exactly, as the files write it.
        SigningAlgorithm::ALL
            .into_iter()
            .find(|a| a.as_str() == name)
            .ok_or_else(|| format!("unknown algorithm {name:?}"))
    }

    fn adds_host(&self) -> bool {
        self.add_host.unwrap_or(true)
    }
}

/// What one case produces, step by step.
fn run(case: &Case) -> Result<(), String> {
    let mut headers: Vec<(&str, &str)> = Vec::new();
    for (name, value) in &case.headers {
        let value = value
            .as_str()
            .ok_or_else(|| format!("header {name} is not a string"))?;
        headers.push((name, value));
    }
    // The official signer adds Host when it is absent, as the request carries it.
    if case.adds_host() && !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        headers.push(("Host", &case.host));
    }
    let algorithm = case.algorithm()?;
    let sdk_date = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("x-sdk-date"))
        .map(|(_, v)| *v)
        .ok_or("no X-Sdk-Date header")?;
    let query: Vec<(&str, &str)> = case
        .query
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let request = SignableRequest {
        method: &case.method,
        path: &case.path,
        query: &query,
        headers: &headers,
        body: b"",
    };
    let (canonical, string_to_sign, authorization) = if algorithm == SigningAlgorithm::HmacSha256 {
        // The default algorithm's free functions, as they always were.
        let canonical = sign::canonical_request(&request);
        let string_to_sign = sign::string_to_sign(sdk_date, &canonical.text);
        let signature = sign::signature(&case.sk, &string_to_sign);
        let authorization = sign::authorization(&case.ak, &canonical.signed_headers, &signature);
        (canonical, string_to_sign, authorization)
    } else {
        let canonical = sign::canonical_request_with(algorithm, &request);
        let string_to_sign = algorithm.string_to_sign(sdk_date, &canonical.text);
        let key = SigningKey::new(algorithm, &case.ak, &case.sk).map_err(|e| e.to_string())?;
        let signature = key.sign(&string_to_sign).map_err(|e| e.to_string())?;
        let authorization =
            algorithm.authorization(&case.ak, &canonical.signed_headers, &signature);
        (canonical, string_to_sign, authorization)
    };

    let mut problems = Vec::new();
    let mut check = |what: &str, got: &str, want: &str| {
        if got != want {
            problems.push(format!("{what}:\n      got  {got:?}\n      want {want:?}"));
        }
    };
    check(
        "canonical request",
        &canonical.text,
        &case.expected.canonical_request,
    );
    check(
        "string to sign",
        &string_to_sign,
        &case.expected.string_to_sign,
    );
    check(
        "signed headers",
        &canonical.signed_headers,
        &case.expected.signed_headers,
    );
    check(
        "authorization",
        &authorization,
        &case.expected.authorization,
    );
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n    "))
    }
}

/// The files' own checks: every case's algorithm is one of ours and deterministic (an
/// HMAC), they hold cases, and no two of one name (each names tests).
fn check_file(vectors: &Vectors) -> Result<(), String> {
    let path = vectors_paths()?
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let mut problems = Vec::new();
    for case in &vectors.cases {
        match case.algorithm() {
            Ok(algorithm) if algorithm.is_asymmetric() => problems.push(format!(
                "{path}: case {:?}: {algorithm} signatures are not deterministic across signers",
                case.name
            )),
            Ok(_) => {}
            Err(why) => problems.push(format!("{path}: case {:?}: {why}", case.name)),
        }
    }
    if vectors.cases.is_empty() {
        problems.push(format!("{path} holds no case"));
    }
    let mut seen = std::collections::HashSet::new();
    let twice: Vec<&str> = vectors
        .cases
        .iter()
        .map(|case| case.name.as_str())
        .filter(|name| !seen.insert(*name))
        .collect();
    if !twice.is_empty() {
        problems.push(format!("{path}: duplicate case names {twice:?}"));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// `vector::*::signs` must be able to fail: a vector with one byte changed is reported, and
/// by the step that differs.
fn a_wrong_expectation_is_reported_by_name() -> Result<(), Failed> {
    let mut vectors = load()?;
    let case = &mut vectors.cases[0];
    case.expected.authorization.pop();
    let why = run(case).unwrap_err();
    assert!(why.contains("authorization"), "{why}");
    assert!(!why.contains("canonical request"), "{why}");
    Ok(())
}

/// The verifying half, with kms-proto's `verify` feature (the server side, off by default;
/// `cargo test --workspace` turns it on through kms-mock). Without it the signing half
/// still runs and each `::verifies` test is listed as ignored.
#[cfg(feature = "verify")]
mod verifying {
    use super::*;

    /// The request of a vector as a server receives it, with the expected `Authorization`.
    struct Received {
        path: String,
        query: String,
        headers: http::HeaderMap,
        now: std::time::SystemTime,
    }

    fn received(case: &Case) -> Received {
        let mut headers = http::HeaderMap::new();
        for (name, value) in &case.headers {
            headers.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                http::HeaderValue::from_str(value.as_str().unwrap()).unwrap(),
            );
        }
        if case.adds_host() && !headers.contains_key("host") {
            headers.insert("host", case.host.parse().unwrap());
        }
        headers.insert(
            "authorization",
            case.expected.authorization.parse().unwrap(),
        );
        let date = headers["x-sdk-date"].to_str().unwrap();
        let now = kms_proto::SdkDate::parse(date).unwrap().to_system_time();
        let query = case
            .expected_uri()
            .split_once('?')
            .map(|(_, q)| q.to_owned())
            .unwrap_or_default();
        Received {
            path: case.path.clone(),
            query,
            headers,
            now,
        }
    }

    impl Case {
        fn expected_uri(&self) -> &str {
            &self.expected.uri
        }
    }

    fn verify_received(
        r: &Received,
        method: &str,
        sk: &str,
    ) -> Result<(), kms_proto::verify::VerifyError> {
        kms_proto::verify::verify(
            &kms_proto::verify::ReceivedRequest {
                method,
                path: &r.path,
                query: &r.query,
                headers: &r.headers,
                body: b"",
            },
            |_ak| Some(sk),
            r.now,
        )
        .map(|_| ())
    }

    /// The verifier accepts the genuine request of `case`, and refuses it with one byte of the
    /// signature, of the SK or of any signed header's value changed.
    pub(super) fn verifies_and_no_one_byte_change_does(case: &Case) -> Result<(), String> {
        use kms_proto::verify::VerifyError;
        let r = received(case);
        if let Err(e) = verify_received(&r, &case.method, &case.sk) {
            return Err(format!("the genuine request was refused: {e}"));
        }
        // One byte of the signature.
        let mut tampered = received(case);
        let mut auth = case.expected.authorization.clone().into_bytes();
        let last = auth.len() - 1;
        auth[last] = if auth[last] == b'0' { b'1' } else { b'0' };
        tampered.headers.insert(
            "authorization",
            http::HeaderValue::from_bytes(&auth).unwrap(),
        );
        let mut mutants: Vec<(String, Received, String)> =
            vec![("signature".into(), tampered, case.sk.clone())];
        // One byte of the SK.
        let mut sk = case.sk.clone().into_bytes();
        sk[0] ^= 0x01;
        mutants.push(("SK".into(), received(case), String::from_utf8(sk).unwrap()));
        // One byte of every signed header's value.
        let signed = case.expected.signed_headers.split(';');
        for name in signed {
            let mut r = received(case);
            let mut value = r.headers[name].as_bytes().to_vec();
            let i = value
                .iter()
                .rposition(|b| !b.is_ascii_whitespace())
                .unwrap();
            value[i] = if value[i] == b'a' { b'b' } else { b'a' };
            r.headers.insert(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                http::HeaderValue::from_bytes(&value).unwrap(),
            );
            mutants.push((format!("header {name}"), r, case.sk.clone()));
        }
        let mut failures = Vec::new();
        for (what, r, sk) in &mutants {
            match verify_received(r, &case.method, sk) {
                Err(VerifyError::SignatureMismatch) => {}
                // A changed X-Sdk-Date may stop being a date, or move out of the window.
                Err(VerifyError::MalformedDate | VerifyError::Expired { .. })
                    if what == "header x-sdk-date" => {}
                other => failures.push(format!("with one byte of the {what} changed: {other:?}")),
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{} problems:\n    {}",
                failures.len(),
                failures.join("\n    ")
            ))
        }
    }
}

/// The file's test, then two per case, then the check that a case can fail. A file that
/// cannot be read or parsed leaves only the file's test, failing with the reason.
fn trials() -> Vec<Trial> {
    const FILE: &str = "vectors::the_files_hold_cases_of_known_algorithms";
    let vectors = match load() {
        Ok(vectors) => vectors,
        Err(why) => return vec![Trial::test(FILE, move || Err(why.into()))],
    };
    let file = check_file(&vectors);
    let mut trials = vec![Trial::test(FILE, move || file.map_err(Failed::from))];
    for case in vectors.cases {
        let case = std::sync::Arc::new(case);
        let (name, signed) = (case.name.clone(), std::sync::Arc::clone(&case));
        trials.push(Trial::test(format!("vector::{name}::signs"), move || {
            run(&signed).map_err(Failed::from)
        }));
        #[cfg(feature = "verify")]
        trials.push(Trial::test(
            format!("vector::{name}::verifies"),
            move || verifying::verifies_and_no_one_byte_change_does(&case).map_err(Failed::from),
        ));
        #[cfg(not(feature = "verify"))]
        trials.push(
            Trial::test(format!("vector::{name}::verifies"), move || {
                drop(case);
                Ok(())
            })
            .with_ignored_flag(true),
        );
    }
    trials.push(Trial::test(
        "a_wrong_expectation_is_reported_by_name",
        a_wrong_expectation_is_reported_by_name,
    ));
    trials
}

fn main() -> ExitCode {
    let args = Arguments::from_args();
    libtest_mimic::run(&args, trials()).exit_code()
}
