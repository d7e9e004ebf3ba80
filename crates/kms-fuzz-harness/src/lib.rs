//! The fuzz checks of the workspace: one function per fuzz target in `fuzz/`, also run by
//! the corpus replay in `tests/tests/fuzz_corpus.rs`, so that `cargo test` on stable checks
//! every committed input with the same code the fuzzer runs.
//!
//! Each function takes arbitrary bytes, derives its inputs from them deterministically,
//! drives one parser, validator or state machine of `kms-proto` through its public API,
//! and panics when an invariant breaks, which is how a fuzzer (and the replay test) notices.
//!
//! An unpublished crate of its own, not a feature of `kms-proto`, so that no build of the
//! product compiles test machinery.
//!
//! ```
//! for (name, harness) in kms_fuzz_harness::TARGETS {
//!     harness(b"");
//!     assert!(!name.is_empty());
//! }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "a harness reports a broken invariant by panicking"
)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

mod credentials;
mod machine;
mod sources;

pub use credentials::{credential_document, profile_files};
pub use machine::client_machine;
pub use sources::credential_sources;

use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

use kms_proto::sign::{self, SignableRequest, SigningAlgorithm};
use kms_proto::verify::{self, ReceivedRequest, VerifyError};
use kms_proto::{
    AkSk, AuthToken, Credentials, Endpoint, Endpoints, HttpPolicy, MAX_ENDPOINTS,
    MAX_RESPONSE_BODY, Outcome, ProjectId, ProxyUrl, Region, RegionsFile, RegionsFileErrorKind,
    RetryAfter, RetryPolicy, SdkDate, ShowUserInstances,
};

/// Splits `data` on `sep` into at most `n` parts (missing parts are empty).
fn fields(data: &[u8], sep: u8, n: usize) -> Vec<&[u8]> {
    let mut parts: Vec<&[u8]> = data.splitn(n, |&b| b == sep).collect();
    parts.resize(n, &[]);
    parts
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `status(2 bytes) headers ("name:value" lines) "\n\n" body`.
pub fn parse_response(data: &[u8]) {
    let Some((status, rest)) = data.split_first_chunk::<2>() else {
        return;
    };
    let status = StatusCode::from_u16(100 + u16::from_be_bytes(*status) % 900).unwrap();
    let (head, body) = match rest.windows(2).position(|w| w == b"\n\n") {
        Some(i) => (&rest[..i], &rest[i + 2..]),
        None => (rest, &[][..]),
    };
    let mut lower = HeaderMap::new();
    let mut upper = HeaderMap::new();
    for line in head.split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name), HeaderValue::from_bytes(value)) else {
            continue;
        };
        let n_upper = HeaderName::from_bytes(&name.to_ascii_uppercase()).unwrap();
        lower.append(n, v.clone());
        upper.append(n_upper, v);
    }
    let result = kms_proto::parse(status, &lower, body);
    let again = kms_proto::parse(status, &upper, body);
    assert_eq!(
        summary(&result),
        summary(&again),
        "header-name case changed the result"
    );
    match &result {
        Ok(count) => {
            assert!(status.is_success(), "a count from status {status}");
            if let Some(id) = count.request_id() {
                assert!(
                    contains(head, id.as_bytes()),
                    "request id {id:?} is not in the headers"
                );
            }
        }
        Err(e) => {
            let shown = e.to_string();
            assert!(
                !shown.contains(['\n', '\r']),
                "Display spans lines: {shown:?}"
            );
            assert!(
                !shown.chars().any(reorders_or_breaks),
                "Display shows a character that breaks or reorders the line: {shown:?}"
            );
            assert_eq!(e.status(), status);
            assert_eq!(
                e.kind() == kms_proto::ResponseErrorKind::TooLarge,
                body.len() > MAX_RESPONSE_BODY
            );
            if let Some(id) = e.request_id() {
                // From a header it is literal; from the body it may have been JSON-escaped.
                assert!(
                    contains(data, id.as_bytes()) || body.contains(&b'\\'),
                    "request id {id:?} is not in the input"
                );
            }
        }
    }
}

/// A character that, shown as it is, starts a new line or shows what follows in another
/// order: control characters, line and paragraph separators, bidirectional marks,
/// embeddings, overrides and isolates. A server's text must reach a terminal escaped.
fn reorders_or_breaks(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}'
                | '\u{2029}'
                | '\u{61c}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
        )
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

fn summary(r: &Result<kms_proto::InstanceCount, kms_proto::ResponseError>) -> String {
    match r {
        Ok(c) => format!("ok {} {:?}", c.count(), c.request_id()),
        Err(e) => format!(
            "{:?} {:?} {:?} {:?} {}",
            e.kind(),
            e.code(),
            e.message(),
            e.request_id(),
            e.is_retryable()
        ),
    }
}

/// Fields separated by `0xFF`: project, region, endpoint, token-or-AK, SK, security
/// token, and 8 bytes of time.
pub fn build_request(data: &[u8]) {
    let f = fields(data, 0xFF, 7);
    let Ok(project) = ProjectId::new(&text(f[0])) else {
        return;
    };
    let endpoint = if f[2].is_empty() {
        let Ok(region) = Region::new(&text(f[1])) else {
            return;
        };
        Endpoint::for_region(&region)
    } else {
        let Ok(endpoint) = Endpoint::parse_with(&text(f[2]), HttpPolicy::AllowInsecure) else {
            return;
        };
        // An endpoint prints as a URL that parses back to itself.
        let again = Endpoint::parse_with(&endpoint.to_string(), HttpPolicy::AllowInsecure).unwrap();
        assert_eq!(again, endpoint);
        endpoint
    };
    let sk = text(f[4]);
    let credentials: Credentials = if sk.is_empty() {
        let Ok(token) = AuthToken::new(&text(f[3])) else {
            return;
        };
        token.into()
    } else {
        let Ok(mut aksk) = AkSk::new(&text(f[3]), &sk) else {
            return;
        };
        if !f[5].is_empty() {
            let Ok(with) = aksk.with_security_token(&text(f[5])) else {
                return;
            };
            aksk = with;
        }
        aksk.into()
    };
    let secs = f[6].iter().fold(0u64, |acc, &b| {
        acc.wrapping_mul(256).wrapping_add(u64::from(b))
    });
    let now = UNIX_EPOCH + Duration::from_secs(secs % (8_000 * 365 * 86_400));
    let call = ShowUserInstances::new(project.clone());
    let Ok(request) = call.build(&endpoint, &credentials, now) else {
        assert!(
            SdkDate::from_system_time(now).is_err(),
            "build failed with a writable time"
        );
        return;
    };
    let path = format!("{}/v1.0/{project}/kms/user-instances", endpoint.base_path());
    assert_eq!(request.uri().path(), path);
    assert_eq!(request.uri().query(), None);
    assert_eq!(
        request.headers()["host"].as_bytes(),
        endpoint.authority().as_bytes()
    );
    for (name, value) in request.headers() {
        assert!(
            !value.as_bytes().iter().any(|b| b.is_ascii_control()),
            "control byte in {name}"
        );
    }
    if let Credentials::AkSk(_) = &credentials {
        // What the builder signs, the verifier accepts.
        let received = ReceivedRequest {
            method: "GET",
            path: request.uri().path(),
            query: "",
            headers: request.headers(),
            body: b"",
        };
        let verified = verify::verify(&received, |_| Some(sk.as_str()), now);
        assert!(
            verified.is_ok(),
            "our own signature was refused: {verified:?}"
        );
    }
}

/// Up to 8 headers (`name` `0xFE` `value` `0xFF` ...) signed (with the signing algorithm
/// the input's length picks), verified, then each value changed by one byte.
pub fn sign_verify(data: &[u8]) {
    let mut headers: Vec<(String, String)> = Vec::new();
    for pair in data.split(|&b| b == 0xFF).take(8) {
        let f = fields(pair, 0xFE, 2);
        let name: String = text(f[0])
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect::<String>()
            .to_ascii_lowercase();
        let value: String = text(f[1]).chars().filter(|c| !c.is_control()).collect();
        if name.is_empty()
            || name == "x-sdk-date"
            || name == "authorization"
            || headers.iter().any(|(n, _)| *n == name)
        {
            continue;
        }
        if HeaderValue::from_str(&value).is_err() {
            continue;
        }
        headers.push((name, value));
    }
    let date = "20261122T080000Z";
    headers.push(("x-sdk-date".into(), date.into()));
    let pairs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let path = "/v1.0/0dea2644dc80d5d22ff1c01e3ebea6fc/kms/user-instances";
    // Every algorithm, chosen by the input's length so that its bytes keep their meaning.
    let algorithm = SigningAlgorithm::ALL[data.len() % SigningAlgorithm::ALL.len()];
    let canonical = sign::canonical_request_with(
        algorithm,
        &SignableRequest {
            method: "GET",
            path,
            query: &[],
            headers: &pairs,
            body: b"",
        },
    );
    let sk = "fuzz-secret-key";
    let signature = sign::SigningKey::new(algorithm, "FUZZAK", sk)
        .unwrap()
        .sign(&algorithm.string_to_sign(date, &canonical.text))
        .unwrap();
    let authorization = algorithm.authorization("FUZZAK", &canonical.signed_headers, &signature);
    let map = |headers: &[(String, String)]| {
        let mut map = HeaderMap::new();
        for (n, v) in headers {
            map.insert(
                HeaderName::from_bytes(n.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        map.insert(
            "authorization",
            HeaderValue::from_str(&authorization).unwrap(),
        );
        map
    };
    let now = SdkDate::parse(date).unwrap().to_system_time();
    let check = |map: &HeaderMap| {
        verify::verify(
            &ReceivedRequest {
                method: "GET",
                path,
                query: "",
                headers: map,
                body: b"",
            },
            |_| Some(sk),
            now,
        )
        .map(|_| ())
    };
    let genuine = check(&map(&headers));
    assert!(
        genuine.is_ok(),
        "a genuine signature was refused: {genuine:?} {headers:?}"
    );
    for i in 0..headers.len() {
        let mut mutated = headers.clone();
        let value = &mut mutated[i].1;
        // Change one character that trimming keeps: the first non-space one.
        let Some(pos) = value
            .char_indices()
            .find(|(_, c)| !c.is_whitespace())
            .map(|(p, _)| p)
        else {
            continue;
        };
        let old = value[pos..].chars().next().unwrap();
        let new = if old == 'a' { 'b' } else { 'a' };
        value.replace_range(pos..pos + old.len_utf8(), &new.to_string());
        match check(&map(&mutated)) {
            Err(VerifyError::SignatureMismatch) => {}
            Err(VerifyError::MalformedDate | VerifyError::Expired { .. })
                if mutated[i].0 == "x-sdk-date" => {}
            other => panic!("a changed {} was not refused: {other:?}", mutated[i].0),
        }
    }
}

/// Fields separated by `0xFF`: Authorization, X-Sdk-Date, then extra `name:value` headers.
pub fn verify_untrusted(data: &[u8]) {
    let f = fields(data, 0xFF, 3);
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_bytes(f[0]) {
        headers.insert("authorization", v);
    }
    if let Ok(v) = HeaderValue::from_bytes(f[1]) {
        headers.insert("x-sdk-date", v);
    }
    for line in f[2].split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(&line[..colon]),
            HeaderValue::from_bytes(&line[colon + 1..]),
        ) {
            headers.append(n, v);
        }
    }
    let now = UNIX_EPOCH + Duration::from_secs(1_795_334_400);
    let result = verify::verify(
        &ReceivedRequest {
            method: "GET",
            path: "/v1.0/p/kms/user-instances",
            query: "a=1&b",
            headers: &headers,
            body: b"",
        },
        |ak| (ak == "AK").then_some("SK"),
        now,
    );
    if let Err(e) = &result {
        assert!(!e.to_string().contains('\n'));
    }
    if let Ok(text) = std::str::from_utf8(f[0]) {
        let _ = verify::AuthorizationHeader::parse(text);
    }
}

/// A `Retry-After` value, checked against the retry policy.
pub fn retry_after(data: &[u8]) {
    let Some(parsed) = RetryAfter::parse(data) else {
        return;
    };
    if let RetryAfter::Delay(_) = parsed {
        let trimmed = std::str::from_utf8(data).unwrap().trim();
        assert!(
            trimmed.bytes().all(|b| b.is_ascii_digit()),
            "{trimmed:?} parsed as seconds"
        );
    }
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_334_400);
    let _ = parsed.delay_from(now);
    let mut headers = HeaderMap::new();
    headers.insert(
        "retry-after",
        HeaderValue::from_bytes(data).unwrap_or(HeaderValue::from_static("0")),
    );
    let err = kms_proto::parse(StatusCode::TOO_MANY_REQUESTS, &headers, b"").unwrap_err();
    let policy = RetryPolicy::default();
    for attempt in 1..=5 {
        if let kms_proto::Decision::Retry(d) =
            policy.decide(attempt, Outcome::Response(&err), 0.5, now)
        {
            assert!(d <= policy.max_backoff());
        }
    }
}

/// The small text parsers: endpoint, region, project id, proxy URL, `X-Sdk-Date`, and the
/// regions file (YAML).
pub fn small_parsers(data: &[u8]) {
    regions_file(data);
    let s = text(data);
    if let Ok(endpoint) = Endpoint::parse_with(&s, HttpPolicy::AllowInsecure) {
        assert_eq!(
            Endpoint::parse_with(&endpoint.to_string(), HttpPolicy::AllowInsecure).unwrap(),
            endpoint
        );
        assert!(!endpoint.authority().contains(['@', '/', '?', '#']));
        if !endpoint.is_https() && !endpoint.is_loopback() {
            assert!(
                Endpoint::parse(&s).is_err(),
                "plain http to {endpoint} without the opt-in"
            );
        }
    }
    // A list: its text reads back the same list, each entry is one that parses alone, and
    // there are 1 to MAX_ENDPOINTS of them, none twice.
    if let Ok(endpoints) = Endpoints::parse_list(&s) {
        assert_eq!(
            Endpoints::parse_list(&endpoints.to_string()).unwrap(),
            endpoints
        );
        let list = endpoints.as_slice();
        assert!((1..=MAX_ENDPOINTS).contains(&list.len()));
        for (i, endpoint) in list.iter().enumerate() {
            assert!(Endpoint::parse(&endpoint.to_string()).is_ok());
            assert!(
                !list.iter().take(i).any(|e| e == endpoint),
                "{endpoint} twice"
            );
        }
    }
    if let Ok(region) = Region::new(&s) {
        assert!(Endpoint::parse(&format!("https://{}", region.kms_host())).is_ok());
    }
    if let Ok(project) = ProjectId::new(&s) {
        assert!(
            project
                .as_str()
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
    }
    if let Ok(proxy) = ProxyUrl::parse(&s) {
        // The Debug output is exactly the public fields with the password redacted, so no
        // part of the password can be in it (it may still equal part of the user name).
        let expected = format!(
            "ProxyUrl {{ host: {:?}, port: {:?}, username: {:?}, password: {:?} }}",
            proxy.host(),
            proxy.port(),
            proxy.username(),
            proxy.password().map(|_| "[redacted]")
        );
        assert_eq!(format!("{proxy:?}"), expected);
        // RFC 7617: a user name with a colon would make the Basic credentials ambiguous,
        // and nothing decoded may break a header line.
        assert!(!proxy.username().unwrap_or_default().contains(':'));
        if let Some(basic) = proxy.basic_authorization() {
            assert!(!basic.bytes().any(|b| b.is_ascii_control()), "{basic:?}");
        }
    }
    // A bundle accepted holds at least one certificate, each a trust anchor rustls takes.
    if let Ok(bundle) = kms_proto::CaBundle::from_pem(data) {
        assert!(bundle.certificates().next().is_some());
    }
    if let Some(date) = SdkDate::parse(&s) {
        assert_eq!(
            SdkDate::from_system_time(date.to_system_time()).unwrap(),
            date
        );
    }
}

/// The regions file: an error is one line with a line number (but for the size); a file
/// accepted keeps the rules of `RegionsFile`, and reads back the same once written out again
/// with every string quoted and escaped.
fn regions_file(data: &[u8]) {
    let file = match RegionsFile::parse(data) {
        Ok(file) => file,
        Err(error) => {
            let shown = error.to_string();
            assert!(!shown.contains(['\n', '\r']), "{shown:?}");
            match error.line() {
                Some(line) => assert!(shown.starts_with(&format!("line {line}: ")), "{shown}"),
                None => assert!(
                    matches!(error.kind(), RegionsFileErrorKind::TooLarge { .. }),
                    "{shown}"
                ),
            }
            return;
        }
    };
    // Lines as YAML counts them: `\r\n`, `\r` or `\n` ends one.
    let lines = 1 + data
        .iter()
        .enumerate()
        .filter(|&(i, &b)| b == b'\n' || (b == b'\r' && data.get(i + 1) != Some(&b'\n')))
        .count();
    let regions: Vec<&str> = file.kms_regions().collect();
    assert!(regions.len() <= RegionsFile::MAX_ENTRIES);
    let quote = |s: &str| -> String {
        let mut out = String::from("\"");
        for c in s.chars() {
            match c {
                '"' | '\\' => {
                    out.push('\\');
                    out.push(c);
                }
                ' '..='~' => out.push(c),
                c if u32::from(c) <= 0xFFFF => out.push_str(&format!("\\u{:04X}", u32::from(c))),
                c => out.push_str(&format!("\\U{:08X}", u32::from(c))),
            }
        }
        out.push('"');
        out
    };
    let mut yaml = String::from("KMS:\n");
    for (i, id) in regions.iter().enumerate() {
        assert!(!regions[..i].contains(id), "{id} twice");
        assert_eq!(Region::new(id).unwrap().as_str(), *id);
        let endpoints = file.kms_endpoints(id).unwrap();
        assert!(!endpoints.is_empty() && endpoints.len() <= RegionsFile::MAX_ENDPOINTS);
        yaml.push_str(&format!("  - id: {id}\n    endpoints:\n"));
        for endpoint in endpoints {
            assert!(!endpoint.url().is_empty());
            assert!((1..=lines).contains(&endpoint.line()), "{endpoint:?}");
            yaml.push_str(&format!("      - {}\n", quote(endpoint.url())));
        }
    }
    if regions.is_empty() {
        yaml.push_str("  []\n");
    }
    // Escapes make the text longer: only compare what still fits.
    if yaml.len() <= kms_proto::MAX_REGIONS_FILE_LEN {
        let again = RegionsFile::parse(yaml.as_bytes()).unwrap();
        assert!(again.kms_regions().eq(file.kms_regions()));
        for id in regions {
            let urls = |f: &RegionsFile| -> Vec<String> {
                f.kms_endpoints(id)
                    .unwrap()
                    .iter()
                    .map(|e| e.url().to_owned())
                    .collect()
            };
            assert_eq!(urls(&again), urls(&file), "{yaml}");
        }
    }
}

/// A harness: bytes in, a panic on a broken invariant.
pub type Harness = fn(&[u8]);

/// Every harness, by the name of its fuzz target.
pub const TARGETS: [(&str, Harness); 10] = [
    ("parse_response", parse_response),
    ("build_request", build_request),
    ("sign_verify", sign_verify),
    ("verify_untrusted", verify_untrusted),
    ("retry_after", retry_after),
    ("small_parsers", small_parsers),
    ("credential_document", credential_document),
    ("profile_files", profile_files),
    ("credential_sources", credential_sources),
    ("client_machine", client_machine),
];
