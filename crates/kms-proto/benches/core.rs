//! The core's operations beside the bare minimum of the same libraries, measured by
//! criterion: parsing beside a bare serde parse, building a signed request and verifying
//! one beside the HMAC and SHA-256 alone.
//!
//! There are no targets on these nanoseconds (issue 12 retired them): a call costs tens of
//! microseconds on loopback, and what counts is the whole call (the loopback benches of
//! the transports) and the emulator's verified requests per second. These numbers say
//! where the time of the core goes.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::hint::black_box;
use std::time::{Duration, UNIX_EPOCH};

use criterion::{Criterion, criterion_group, criterion_main};
use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderValue, StatusCode};
use kms_proto::verify::{PreparedKey, ReceivedRequest, verify};
use kms_proto::{AkSk, Credentials, Endpoint, ProjectId, ShowUserInstances};
use serde::Deserialize;
use sha2::{Digest, Sha256};

const OK: &[u8] = br#"{"instance_num": 15}"#;
const NESTED: &[u8] = br#"{"error":{"error_code":"KMS.0303","error_msg":"X-Auth-Token expired."}}"#;
const FLAT: &[u8] = br#"{"error_msg":"Incorrect IAM authentication information: verify aksk signature fail","error_code":"APIGW.0301","request_id":"7d018b99e75a29dcebbed13d746704c6"}"#;

#[derive(Deserialize)]
struct Bare {
    #[allow(dead_code)]
    instance_num: u64,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct BareNested {
    error: BareDetail,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct BareDetail {
    error_code: String,
    error_msg: String,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct BareFlat {
    error_code: String,
    error_msg: String,
    request_id: String,
}

fn headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        "x-request-id",
        HeaderValue::from_static("7d018b99e75a29dcebbed13d746704c6"),
    );
    h.insert(
        "content-type",
        HeaderValue::from_static("application/json;charset=UTF-8"),
    );
    h
}

fn signing_setup() -> (
    ShowUserInstances,
    Endpoint,
    Credentials,
    std::time::SystemTime,
) {
    (
        ShowUserInstances::new(ProjectId::new("0dea2644dc80d5d22ff1c01e3ebea6fc").unwrap()),
        Endpoint::parse("https://kms.cn-north-4.myhuaweicloud.com").unwrap(),
        AkSk::new(
            "AKEXAMPLE0000000000",
            "SKEXAMPLEsecretkey000000000000000000000",
        )
        .unwrap()
        .into(),
        UNIX_EPOCH + Duration::from_secs(1_795_334_400),
    )
}

/// The bytes the signer hashes and MACs, for the crypto-only baseline.
fn canonical_bytes() -> (Vec<u8>, Vec<u8>) {
    let canonical = b"GET\n/v1.0/0dea2644dc80d5d22ff1c01e3ebea6fc/kms/user-instances/\n\ncontent-type:application/json\nhost:kms.cn-north-4.myhuaweicloud.com\nuser-agent:kms-rs/0.1.0\nx-project-id:0dea2644dc80d5d22ff1c01e3ebea6fc\nx-sdk-date:20261122T080000Z\n\ncontent-type;host;user-agent;x-project-id;x-sdk-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".to_vec();
    let string_to_sign = b"SDK-HMAC-SHA256\n20261122T080000Z\n2b6cd95b61b8c955fc9f5533fc1af9af7c20672039bf7e8ae2a946413e3216b9".to_vec();
    (canonical, string_to_sign)
}

fn crypto_alone(canonical: &[u8], string_to_sign: &[u8]) -> [u8; 32] {
    let digest = Sha256::digest(canonical);
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(b"SKEXAMPLEsecretkey000000000000000000000").unwrap();
    mac.update(&digest); // the hex step is the signer's own cost, not the baseline's
    mac.update(string_to_sign);
    mac.finalize().into_bytes().into()
}

/// (criterion group, baseline, ours).
type Pair<'a> = (&'a str, &'a dyn Fn(), &'a dyn Fn());

/// Each operation beside its baseline, in one criterion group.
fn all(c: &mut Criterion) {
    let h = headers();
    let (call, endpoint, creds, now) = signing_setup();
    let (canonical, sts) = canonical_bytes();
    // What every attempt costs: a client prepares the request once.
    let prepared = call.prepare(&endpoint).unwrap();
    let request = prepared.build(&creds, now).unwrap();
    // The emulator keys HMAC once per access key.
    let key = PreparedKey::new("SKEXAMPLEsecretkey000000000000000000000");

    let bare_200 = || {
        black_box(serde_json::from_slice::<Bare>(black_box(OK)).unwrap());
    };
    let parse_200 = || {
        black_box(kms_proto::parse(StatusCode::OK, &h, black_box(OK)).unwrap());
    };
    let bare_nested = || {
        black_box(serde_json::from_slice::<BareNested>(black_box(NESTED)).unwrap());
    };
    let parse_nested = || {
        black_box(kms_proto::parse(StatusCode::UNAUTHORIZED, &h, black_box(NESTED)).unwrap_err());
    };
    let bare_flat = || {
        black_box(serde_json::from_slice::<BareFlat>(black_box(FLAT)).unwrap());
    };
    let parse_flat = || {
        black_box(kms_proto::parse(StatusCode::UNAUTHORIZED, &h, black_box(FLAT)).unwrap_err());
    };
    let crypto = || {
        black_box(crypto_alone(black_box(&canonical), black_box(&sts)));
    };
    let build = || {
        black_box(prepared.build(&creds, black_box(now)).unwrap());
    };
    let verify_request = || {
        let received = ReceivedRequest {
            method: "GET",
            path: request.uri().path(),
            query: "",
            headers: request.headers(),
            body: b"",
        };
        black_box(verify(&received, |_| Some(&key), black_box(now)).unwrap());
    };

    let pairs: [Pair<'_>; 5] = [
        ("parse-200", &bare_200, &parse_200),
        ("parse-nested", &bare_nested, &parse_nested),
        ("parse-flat", &bare_flat, &parse_flat),
        ("build", &crypto, &build),
        ("verify", &crypto, &verify_request),
    ];
    for (group, baseline, ours) in pairs {
        let mut g = c.benchmark_group(group);
        g.bench_function("bare", |b| b.iter(baseline));
        g.bench_function("kms", |b| b.iter(ours));
        g.finish();
    }
    c.bench_function("build/kms-prepare-and-build", |b| {
        b.iter(|| call.build(&endpoint, &creds, black_box(now)).unwrap())
    });
}

criterion_group!(core, all);
criterion_main!(core);
