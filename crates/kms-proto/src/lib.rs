//! The sans-IO core of a client for Huawei Cloud KMS "query the number of instances"
//! (ShowUserInstances, `GET /v1.0/{project_id}/kms/user-instances`).
//!
//! It builds `http::Request` values and turns a response's parts into the count or a
//! typed error. It does no I/O at all: no sockets, no clocks, no async, no environment
//! (except in the clearly named `*_from_env` conveniences, and
//! [`credentials::FileRead::read_blocking`], which transports call and the core never
//! does). The time a request is signed at and the jitter of the retry policy are
//! parameters, so every decision is testable without a network and any HTTP stack can
//! drive it. One thing reads the operating system's random number generator: an
//! `SDK-ECDSA-P256-SHA256` signature's nonce, inside ring (whose random source cannot be
//! supplied from outside; see [`sign::SigningKey::sign`]), as a sans-IO TLS library reads
//! it through its crypto provider.
//!
//! Its [`client`] machine runs a whole call of any [`operation`] (ShowUserInstances, or an
//! SDK's own): it says what I/O it needs next (send this request on this route within this
//! time, run this credential refresh apart, sleep until, wait for another call's report)
//! and takes back what happened. The transports of this workspace (`kms-hyper`,
//! `kms-ureq`) and `examples/std_transport.rs` (std::net, 200 lines) are loops that do
//! that I/O.
//!
//! What it covers:
//! * validated inputs: [`ProjectId`], [`Region`] (any well-formed region, not only the
//!   official table), [`Endpoint`] (HTTPS, or HTTP to loopback; port and base path allowed),
//!   [`Endpoints`] (several for a region, from the official variable or regions file);
//! * credentials: an IAM token ([`AuthToken`], `X-Auth-Token`, which the official SDKs
//!   lack) or [`AkSk`] with an optional security token, redacted in every `Debug`;
//! * the request: [`ShowUserInstances::build`], signed ([`sign`]) exactly as the official
//!   signers do, with SDK-HMAC-SHA256 (the default), SDK-HMAC-SM3, SDK-ECDSA-P256-SHA256
//!   or SDK-SM2-SM3 ([`AkSk::with_algorithm`], [`SigningAlgorithm`]);
//! * the response: [`parse`], which recognises every error shape the service and its
//!   gateway are known to send;
//! * retries: [`RetryPolicy::decide`], a pure function; a retry budget shared by a
//!   client's calls ([`RetryBudget`]); failover across endpoints ([`EndpointHealth`]);
//!   clock-skew correction; each call's decisions in [`call::Call`], all of a client's
//!   calls in the [`client`] machine;
//! * credentials from where production keeps them ([`credentials`]): the environment, the
//!   profile file, KooCLI's configuration, STS with an OIDC token, IAM federation, an IAM
//!   user's password, CCE pod identity, ECS metadata, or the default chain of them, each a machine that says which file to read or request to send
//!   ([`credentials::Need`]) and parses what comes back; and the refresh decision
//!   ([`credentials::CredentialCache`]: refresh ahead, single flight, static stability);
//! * the server side of signing: `verify::verify`, for emulators and gateways (the
//!   `verify` feature).
//!
//! What it leaves out: sending, timeouts, TLS, connection pools, reading the body (bounded
//! by [`MAX_RESPONSE_BODY`]) and sleeping, which belong to the transport.
//!
//! # Features
//! Everything but `verify` and `rustls` is on by default, so a user of `kms-ureq` or
//! `kms-hyper` gets every algorithm, every credential source and the regions file. An SDK that needs less turns the defaults off
//! (`kms-proto = { version = "0.1", default-features = false }`) and picks:
//!
//! | feature | brings | what needs it |
//! |---|---|---|
//! | `ecdsa` | `ring` (signs and verifies; the P-256 code rustls's provider uses) and RustCrypto's `p256` arithmetic (each key's public point, once) | [`SigningAlgorithm::EcdsaP256Sha256`] |
//! | `sm2` | RustCrypto's `sm2` (the elliptic-curve crates) | [`SigningAlgorithm::Sm2Sm3`] |
//! | `regions-file` | `yaml-rust2` | [`RegionsFile::parse`], the regions file read by [`Endpoints::resolve_from_env`] |
//! | `ca-bundle` | `rustls-pki-types`, `rustls-webpki` | [`CaBundle::from_pem`] |
//! | `sources` | `time` (5 crates: `time`, `time-core`, `deranged`, `num-conv`, `powerfmt`) | the credential sources that read files or ask services: the profile file, KooCLI, ECS metadata, CCE pod identity, IAM federation, OIDC via STS, the IAM password ([`credentials::Provider`]), and their documents (`credentials::parse_document`, whose RFC 3339 expiry `time` reads) |
//! | `verify` (off by default) | no crate | `verify`: the server side of signing, for emulators and gateways (`kms-mock` turns it on) |
//! | `rustls` (off by default) | `rustls` (ring), `webpki-root-certs`, `rustls-native-certs` | `tls`: the rustls configuration the transports build from [`TrustRoots`] |
//!
//! Without them (32 crates): SDK-HMAC-SHA256 and SDK-HMAC-SM3, static credentials and the
//! environment's (AK/SK with a security token, or an IAM token), the client machine with
//! retries, budget, skew correction and failover over explicit endpoints, and finding the
//! project through IAM (it needs no `time`, so it stays).
//! An algorithm left out is refused where it is chosen ([`AkSk::with_algorithm`],
//! `HUAWEICLOUD_SDK_SIGNING_ALGORITHM`) with an error naming the feature; a regions file
//! named while `regions-file` is off likewise ([`RegionsFileErrorKind::NotBuilt`]), and a
//! CA bundle while `ca-bundle` is off ([`Problem::NotBuilt`]); a credential source named
//! while `sources` is off (its variables set, or chosen in code) fails its refresh with
//! [`credentials::SourceError::missing_feature`] and stops the default chain.
//!
//! # Example
//! ```
//! use std::time::{Duration, SystemTime};
//! use kms_proto::{AkSk, Endpoints, ProjectId, Region, ShowUserInstances};
//!
//! let region = Region::new("cn-north-4")?;
//! // The region's endpoints: the official variable, else the regions file, else the
//! // naming rule (Endpoints::resolve_from_env reads the environment and the file).
//! let endpoints = Endpoints::resolve(&region, |_var| None, None)?;
//! let endpoint = endpoints.first();
//! let credentials = AkSk::new("AKEXAMPLE0000000000", "SKEXAMPLEsecretkey")?.into();
//! let call = ShowUserInstances::new(ProjectId::new("0dea2644dc80d5d22ff1c01e3ebea6fc")?);
//!
//! let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_334_400);
//! let request = call.build(endpoint, &credentials, now)?;
//! assert_eq!(
//!     request.uri(),
//!     "https://kms.cn-north-4.myhuaweicloud.com/v1.0/0dea2644dc80d5d22ff1c01e3ebea6fc/kms/user-instances"
//! );
//! assert_eq!(request.headers()["x-sdk-date"], "20261122T080000Z");
//! assert!(request.headers()["authorization"].is_sensitive());
//!
//! // ...the transport sends it and reads at most MAX_RESPONSE_BODY + 1 bytes...
//! let mut headers = http::HeaderMap::new();
//! headers.insert("x-request-id", "7d018b99e75a29dcebbed13d746704c6".parse()?);
//! let count = kms_proto::parse(http::StatusCode::OK, &headers, br#"{"instance_num": 15}"#)?;
//! assert_eq!(count.count(), 15);
//! assert_eq!(count.request_id(), Some("7d018b99e75a29dcebbed13d746704c6"));
//!
//! let body = br#"{"error":{"error_code":"KMS.0303","error_msg":"X-Auth-Token expired"}}"#;
//! let err = kms_proto::parse(http::StatusCode::UNAUTHORIZED, &headers, body).unwrap_err();
//! assert_eq!(err.code(), Some("KMS.0303"));
//! assert!(!err.is_retryable());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod backoff;
mod budget;
pub mod call;
mod civil;
pub mod client;
mod config;
pub mod credentials;
pub mod env;
mod failover;
pub mod iam;
mod input;
pub mod operation;
mod redact;
mod request;
mod response;
mod retry;
mod sdk_date;
pub mod sign;
mod skew;
mod span;
#[cfg(feature = "rustls")]
pub mod tls;
mod transport;
mod untrusted;
// The module is compiled for the crate's own tests too: the signing tests check what they
// sign with the verifier.
#[cfg(any(feature = "verify", test))]
pub mod verify;

pub use budget::{BudgetPolicy, RetryBudget};
pub use config::{CaBundle, ClientConfig, DEFAULT_MAX_CLOCK_SKEW, ProxyUrl, TrustRoots};
pub use credentials::{AkSk, AuthToken, Credentials, MAX_TOKEN_LEN, Secret};
pub use failover::{EndpointHealth, FailoverPolicy};
pub use input::{
    DEFAULT_REGIONS_FILE, ENV_REGIONS_FILE, Endpoint, Endpoints, FileEndpoint, HttpPolicy, Input,
    InvalidInput, KNOWN_REGIONS, MAX_ENDPOINTS, MAX_REGIONS_FILE_LEN, Problem, ProjectId, Region,
    RegionsFile, RegionsFileError, RegionsFileErrorKind,
};
pub use request::{
    PreparedRequest, PreparedRequests, ShowUserInstances, UserAgent, X_AUTH_TOKEN, X_PROJECT_ID,
    X_SDK_DATE, X_SECURITY_TOKEN, sign_request,
};
pub use response::{
    InstanceCount, MAX_RESPONSE_BODY, MAX_RESPONSE_HEAD, MAX_RESPONSE_HEADERS, RequestId,
    ResponseError, ResponseErrorKind, RetryAfter, X_REQUEST_ID, parse, parse_json,
    parse_with_limit,
};
pub use retry::{Decision, Outcome, RetryPolicy, StopReason};
pub use sdk_date::SdkDate;
pub use sign::SigningAlgorithm;
