//! Every signing algorithm, building a signed request and verifying one, each beside the
//! same crypto alone (the canonical request's hash and the algorithm's primitive over the
//! string to sign, straight from the library kms-proto uses for it, with keys made
//! beforehand: RustCrypto's hmac, sm3 and sm2, ring for ECDSA): what the core adds per
//! algorithm, and what each algorithm costs. Criterion groups `sign/<algorithm>` and
//! `verify/<algorithm>`, each with `bare` and `kms`.
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
use kms_proto::verify::{PreparedKey, ReceivedRequest, verify};
use kms_proto::{AkSk, Endpoint, ProjectId, ShowUserInstances, SigningAlgorithm};
use sha2::{Digest, Sha256};
use sm3::Sm3;

const AK: &str = "AKEXAMPLE0000000000";
const SK: &str = "SKEXAMPLEsecretkey000000000000000000000";

/// The canonical request the prepared request signs (its exact bytes do not matter for
/// the baseline's cost, only their length).
const CANONICAL: &[u8] = b"GET\n/v1.0/0dea2644dc80d5d22ff1c01e3ebea6fc/kms/user-instances/\n\ncontent-type:application/json\nhost:kms.cn-north-4.myhuaweicloud.com\nuser-agent:kms-rs/0.1.0\nx-project-id:0dea2644dc80d5d22ff1c01e3ebea6fc\nx-sdk-date:20261122T080000Z\n\ncontent-type;host;user-agent;x-project-id;x-sdk-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

fn string_to_sign(algorithm: SigningAlgorithm, hash: &[u8]) -> Vec<u8> {
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("{algorithm}\n20261122T080000Z\n{hex}").into_bytes()
}

/// The crypto alone, sign and verify, for one algorithm.
struct Bare {
    sign: Box<dyn Fn()>,
    verify: Box<dyn Fn()>,
}

fn bare(algorithm: SigningAlgorithm) -> Bare {
    let scalar = [0x42u8; 32];
    match algorithm {
        SigningAlgorithm::HmacSha256 => {
            let key = <Hmac<Sha256> as Mac>::new_from_slice(SK.as_bytes()).unwrap();
            let sts = string_to_sign(algorithm, &Sha256::digest(CANONICAL));
            let tag = {
                let mut mac = key.clone();
                mac.update(&sts);
                mac.finalize().into_bytes()
            };
            let k2 = key.clone();
            let sts2 = sts.clone();
            Bare {
                sign: Box::new(move || {
                    let hash = Sha256::digest(black_box(CANONICAL));
                    let mut mac = key.clone();
                    mac.update(&hash);
                    mac.update(&sts);
                    black_box(mac.finalize());
                }),
                verify: Box::new(move || {
                    let hash = Sha256::digest(black_box(CANONICAL));
                    let mut mac = k2.clone();
                    mac.update(&hash);
                    mac.update(&sts2);
                    black_box(mac.verify_slice(&tag).is_ok());
                }),
            }
        }
        SigningAlgorithm::HmacSm3 => {
            let key = <Hmac<Sm3> as Mac>::new_from_slice(SK.as_bytes()).unwrap();
            let sts = string_to_sign(algorithm, &Sm3::digest(CANONICAL));
            let tag = [0u8; 32];
            let k2 = key.clone();
            let sts2 = sts.clone();
            Bare {
                sign: Box::new(move || {
                    let hash = Sm3::digest(black_box(CANONICAL));
                    let mut mac = key.clone();
                    mac.update(&hash);
                    mac.update(&sts);
                    black_box(mac.finalize());
                }),
                verify: Box::new(move || {
                    let hash = Sm3::digest(black_box(CANONICAL));
                    let mut mac = k2.clone();
                    mac.update(&hash);
                    mac.update(&sts2);
                    black_box(mac.verify_slice(&tag).is_ok());
                }),
            }
        }
        SigningAlgorithm::EcdsaP256Sha256 => {
            // ring, which signs and verifies for kms-proto: its key pair (made once, from the
            // scalar and its public point) and its system random source.
            use ring::signature::{self, EcdsaKeyPair, KeyPair, UnparsedPublicKey};
            let random = ring::rand::SystemRandom::new();
            let public = {
                use p256::elliptic_curve::sec1::ToEncodedPoint;
                p256::SecretKey::from_bytes(&scalar.into())
                    .unwrap()
                    .public_key()
                    .to_encoded_point(false)
            };
            let key = EcdsaKeyPair::from_private_key_and_public_key(
                &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
                &scalar,
                public.as_bytes(),
                &random,
            )
            .unwrap();
            let public = key.public_key().as_ref().to_vec();
            let sts = string_to_sign(algorithm, &Sha256::digest(CANONICAL));
            let der = key.sign(&random, &sts).unwrap().as_ref().to_vec();
            let sts2 = sts.clone();
            Bare {
                sign: Box::new(move || {
                    black_box(Sha256::digest(black_box(CANONICAL)));
                    black_box(key.sign(&random, black_box(&sts)).unwrap());
                }),
                verify: Box::new(move || {
                    black_box(Sha256::digest(black_box(CANONICAL)));
                    let key = UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_ASN1, &public);
                    black_box(key.verify(black_box(&sts2), &der).is_ok());
                }),
            }
        }
        SigningAlgorithm::Sm2Sm3 => {
            use sm2::dsa::signature::{Signer, Verifier};
            let key = sm2::dsa::SigningKey::from_bytes("1234567812345678", &scalar.into()).unwrap();
            let verifying = key.verifying_key().clone();
            let sts = string_to_sign(algorithm, &Sm3::digest(CANONICAL));
            let signature: sm2::dsa::Signature = key.sign(&sts);
            let sts2 = sts.clone();
            Bare {
                sign: Box::new(move || {
                    black_box(Sm3::digest(black_box(CANONICAL)));
                    let s: sm2::dsa::Signature = key.sign(black_box(&sts));
                    black_box(s);
                }),
                verify: Box::new(move || {
                    black_box(Sm3::digest(black_box(CANONICAL)));
                    black_box(verifying.verify(black_box(&sts2), &signature).is_ok());
                }),
            }
        }
        _ => unreachable!("SigningAlgorithm::ALL holds four algorithms"),
    }
}

fn all(c: &mut Criterion) {
    let now = UNIX_EPOCH + Duration::from_secs(1_795_334_400);
    let call = ShowUserInstances::new(ProjectId::new("0dea2644dc80d5d22ff1c01e3ebea6fc").unwrap());
    let endpoint = Endpoint::parse("https://kms.cn-north-4.myhuaweicloud.com").unwrap();
    let prepared = call.prepare(&endpoint).unwrap();
    for algorithm in SigningAlgorithm::ALL {
        let credentials = AkSk::new(AK, SK)
            .unwrap()
            .with_algorithm(algorithm)
            .unwrap()
            .into();
        let request = prepared.build(&credentials, now).unwrap();
        // The emulator's way: each algorithm's key made once per access key.
        let key = PreparedKey::new(SK);
        let baseline = bare(algorithm);

        let mut g = c.benchmark_group(format!("sign/{algorithm}"));
        g.bench_function("bare", |b| b.iter(&baseline.sign));
        g.bench_function("kms", |b| {
            b.iter(|| black_box(prepared.build(&credentials, black_box(now)).unwrap()))
        });
        g.finish();

        let mut g = c.benchmark_group(format!("verify/{algorithm}"));
        g.bench_function("bare", |b| b.iter(&baseline.verify));
        g.bench_function("kms", |b| {
            b.iter(|| {
                let received = ReceivedRequest {
                    method: "GET",
                    path: request.uri().path(),
                    query: "",
                    headers: request.headers(),
                    body: b"",
                };
                black_box(verify(&received, |_| Some(&key), black_box(now)).unwrap())
            })
        });
        g.finish();
    }
}

criterion_group!(algorithms, all);
criterion_main!(algorithms);
