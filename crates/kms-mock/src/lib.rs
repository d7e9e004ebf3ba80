//! A local emulator of Huawei Cloud KMS "query the number of instances"
//! (ShowUserInstances), so that clients can be tested for real, over sockets on loopback.
//!
//! It answers `GET /v1.0/{project_id}/kms/user-instances` as the service does, checks
//! credentials as the API gateway does (IAM tokens, and AK/SK signatures of every algorithm
//! the official SDKs offer, per AK restrictable with [`MockConfig::with_aksk_algorithms`], through
//! [`kms_proto::verify`], so Python, Go, Java and this workspace's clients are all
//! accepted), locks an AK after 5 failed signatures in a row, throttles on demand (as KMS
//! does, 20 requests per second per credential, with [`MockConfig::with_kms_throttle`]), serves
//! HTTPS with a CA of its own, misbehaves on demand ([`Fault`]), and records the requests it
//! receives (the most recent, within bounds) so tests can assert what a client sent, how
//! often it retried and whether it reused connections.
//!
//! Everything it decides by time (signature windows, token expiry, the lockout, throttle
//! windows, the expiry of the credentials it issues) reads one clock, the system clock unless [`MockConfig::with_clock`] replaces
//! it, so a test moves time instead of sleeping for a window to pass.
//!
//! What it answers:
//!
//! | situation | status | body |
//! |---|---|---|
//! | success | 200 | `{"instance_num":N}` |
//! | no `Host` header (HTTP/1.1), or more than one (checked before the path and credentials) | 400 | flat `APIGW.0201` with `request_id` |
//! | other path or method | 404 | flat `APIGW.0101` with `request_id` |
//! | no credentials | 401 | flat `APIGW.0301` |
//! | bad, expired or unknown signature; locked AK; bad security token | 401 | flat `APIGW.0301` (`verify aksk signature fail`, `calc aksk signature fail:signature expired, ...`) |
//! | unknown or expired token | 401 | nested `KMS.0302` / `KMS.0303` |
//! | token for another project | 403 | nested `KMS.0305` |
//! | AK not allowed on the project, or project unknown | 403 | nested `KMS.0307` |
//! | `X-Project-Id` differs from the path | 400 | nested `KMS.0201` |
//! | throttled | 429 | flat `APIG.0308`, with `Retry-After` |
//! | request body over [`MAX_REQUEST_BODY`] | 413 | flat `APIGW.0201` |
//! | request body that cannot be decoded (bad chunked encoding) | 400 | flat `APIGW.0201` |
//! | request body not complete within the body read timeout ([`BODY_READ_TIMEOUT`], 30 s, by default) | 408 | flat `APIGW.0201`, with `Connection: close`; then the connection is closed |
//!
//! # The echo operation
//! With [`MockConfig::with_echo`] it also answers `POST /v1.0/{project_id}/kms/echo`, an
//! operation KMS does not have, for testing a client's own operations (a POST with a JSON
//! body, signed through the body's hash) against the same checks: every row above applies
//! to it as to ShowUserInstances (the signature is verified over the body too, so a body
//! changed after signing is 401 `APIGW.0301`; scripted faults apply; it is recorded), and
//! then it answers 200 `{"echo":<the body>}` for a JSON object, 400 nested `KMS.0202` for a
//! body that is not one.
//!
//! # Credential endpoints
//! On request it also serves, on the same listener, the endpoints that hand out temporary
//! credentials, so that a client's credential sources can be tested end to end:
//!
//! | configured with | request | answer |
//! |---|---|---|
//! | [`MockConfig::with_metadata`] | `PUT /meta-data/latest/api/token`, `X-Metadata-Token-Ttl-Seconds: 1..=21600` | 200, a session token (`text/plain`); 400 for a missing or out-of-range TTL; 404 with [`MockConfig::with_metadata_v2_unavailable`] |
//! | [`MockConfig::with_metadata`] | `GET /openstack/latest/securitykey` (`X-Metadata-Token` optional unless [`MockConfig::with_metadata_token_required`]) | 200, a credential document; 401 `text/plain` for a missing (when required), unknown or expired session token; 401 containing `Please configure Cloud Service Agency first` with [`MockConfig::with_metadata_no_agency`] |
//! | [`MockConfig::with_pod_identity_token`] | `POST /pod-identity/credentials`, `Authorization: <token>`, a JSON object body | 200, a credential document; 401 `IAM.0001` for another or no `Authorization`; 400 `IAM.0011` for a body that is not a JSON object |
//!
//! The credential document is
//! `{"credential":{"access":AK,"secret":SK,"securitytoken":TOKEN,"expires_at":"2026-12-01T03:50:07.574000Z"}}`,
//! with a fresh random AK (20 upper-case letters and digits), SK (40 letters and digits) and
//! security token (320 base64 characters) each time, valid for
//! [`MockConfig::with_credential_lifetime`] ([`DEFAULT_CREDENTIAL_LIFETIME`], 6 hours) by
//! the emulator's clock. The KMS path accepts them, signed with `X-Security-Token`, on every
//! configured project until `expires_at`, and answers 401 `APIGW.0301` (`... security token
//! expires, expires_at: ...`) from then on. At most [`MAX_ISSUED_CREDENTIALS`] (10 000) are
//! remembered, expired ones forgotten first; [`MockServer::issued_credentials`] counts
//! them. These requests are recorded, and scripted faults apply to them, as to any other.
//!
//! # IAM and STS
//! With [`MockConfig::with_iam`] (implied by [`MockConfig::with_user`],
//! [`MockConfig::with_idp`] and [`MockConfig::with_oidc_provider`]) it also serves, on the
//! same listener, the IAM and STS paths the official SDKs use to find a project and to get
//! credentials, and the password token the API document names. Every answer there carries
//! an `X-IAM-Trace-Id` (32 random hex digits) besides the `X-Request-Id`:
//!
//! | request | answer |
//! |---|---|
//! | `GET /v3/projects[?name=R]`, signed (AK/SK, issued ones with `X-Security-Token`) or with an `X-Auth-Token` the emulator accepts | 200 `{"links":{"self","previous":null,"next":null},"projects":[{"is_domain":false,"description":"","links":{"self"},"enabled":true,"id","parent_id","domain_id","name"}]}`, the projects named `R` exactly (all without `name`; a project of [`MockConfig::with_project_in`] is named after its region, one of [`MockConfig::with_project`] after its id); 401 Keystone-shaped otherwise |
//! | `POST /v3/auth/tokens` `{"auth":{"identity":{"methods":["password"],"password":{"user":{"domain":{"name"},"name","password"}}},"scope":{"project":{"id"}}}}` (or the project's `name`, or `{"domain":{..}}`, or no scope: the domain) | 201, `X-Subject-Token: <token>`, `{"token":{"expires_at","issued_at","methods":["password"],"user":{"domain":{"id","name"},"id","name","password_expires_at":""},"project":{"domain","id","name"},"catalog":[]}}`; 401 `{"error":{"code":401,"message":"The username or password is wrong.","title":"Unauthorized"}}`; 404 `IAM.0004` for an unknown project; 400 `IAM.0007` for a name several projects share |
//! | `POST /v3.0/OS-AUTH/id-token/tokens`, `X-Idp-Id: <idp>`, `{"auth":{"id_token":{"id"}[,"scope"]}}` | 201, `X-Subject-Token: <token>` (unscoped unless a scope is asked for), `{"token":{"expires_at","issued_at","methods":["mapped"],"user":{"OS-FEDERATION":{"identity_provider":{"id"},"protocol":{"id":"oidc"},"groups":[]},"domain","id","name"}}}`; 404 `IAM.0004` for another identity provider, 401 `IAM.0001` for another token, 400 `IAM.0007` without `X-Idp-Id` |
//! | `POST /v3.0/OS-CREDENTIAL/securitytokens` `{"auth":{"identity":{"methods":["token"],"token":{"id","duration_seconds"}}}}` (the token in `X-Auth-Token` wins over `id`) | 201, the credential document above; 401 `IAM.0001` for an unknown or expired token; 400 `IAM.0007` for a `duration_seconds` outside 900..=86400 or another method |
//! | `POST /v5/agencies/assume-with-oidc` `{"provider_urn","agency_urn","agency_session_name","id_token"[,"duration_seconds","policy","policy_ids"]}` | 200 `{"credentials":{"access_key_id","secret_access_key","security_token","expiration"},"assumed_agency":{"urn","id"},"provider"}`, for any agency; 404 `IAM.0004` for another provider, 401 `IAM.0001` for another token, 400 `IAM.0007` for a missing field, a session name outside `[A-Za-z0-9_+=,.@-]{2,64}` or a `duration_seconds` outside 900..=43200 |
//! | any of these paths with another method | 405 Keystone-shaped, with `Allow` |
//! | a body that is not a JSON object, or lacks a mandatory member | 400 `{"error_code":"IAM.0011","error_msg":"Request body is invalid."}` |
//!
//! Tokens are valid for [`MockConfig::with_token_lifetime`] ([`DEFAULT_TOKEN_LIFETIME`], 24
//! hours) and counted by [`MockServer::issued_tokens`] (at most [`MAX_ISSUED_TOKENS`]
//! remembered); the KMS path accepts a project-scoped one as `X-Auth-Token` for its project
//! until `expires_at` (401 `KMS.0303` after; 403 `KMS.0305` for an unscoped or domain token).
//! Temporary credentials are valid for the shorter of the `duration_seconds` asked for and
//! [`MockConfig::with_credential_lifetime`], and accepted as those of the metadata service
//! are. Every domain name names the emulator's one account, which owns every project.
//! Passwords and tokens are never echoed, and request bodies are never recorded.
//!
//! Every answer the emulator makes carries an `X-Request-Id`. (hyper answers a request head
//! it cannot parse, or one larger than [`MAX_REQUEST_HEAD`], with a bare 400 or 431 before
//! the emulator sees the request; those carry none.)
//!
//! Hostile or broken clients cannot make it grow without bound: a connection that takes
//! longer than [`HEADER_READ_TIMEOUT`] (30 s) to send a request head (or to finish a TLS
//! handshake, or to start its next request) is dropped, a late body is answered 408 as
//! above, at most [`MockConfig::with_max_connections`] connections ([`DEFAULT_MAX_CONNECTIONS`],
//! 1024, by default) are open at once while further ones wait in the kernel's backlog, and the
//! request recorder forgets the oldest requests beyond its bounds (see
//! [`MockServer::requests`]). [`MockServer::open_connections`] and
//! [`MockServer::peak_open_connections`] let a soak test check.
//!
//! # Features
//! `cli` (on by default): the `kms_mock::cli` module, the command line of the `kms-mock`
//! binary that `kms mock` shares, and clap for it. The binary needs it
//! (`cargo install kms-mock`, `cargo run -p kms-mock -- --help`); the library does not, so a
//! test that only starts the emulator depends on it with `default-features = false`.
//!
//! # Example
//! ```
//! use kms_mock::{BlockingMockServer, Fault, MockConfig};
//!
//! let server = BlockingMockServer::start(
//!     MockConfig::new()
//!         .with_project("0dea2644dc80d5d22ff1c01e3ebea6fc", 15)
//!         .with_aksk("AKEXAMPLE", "SKEXAMPLE")
//!         .with_token("my-token", "0dea2644dc80d5d22ff1c01e3ebea6fc"),
//! )?;
//! server.faults().next(1, Fault::status(503)); // the next request gets a bare 503
//! let url = server.url(); // http://127.0.0.1:<port>: point the client here
//! assert!(url.starts_with("http://127.0.0.1:"));
//! assert_eq!(server.requests().len(), 0);
//! # Ok::<(), std::io::Error>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod answer;
mod auth;
mod body;
#[cfg(feature = "cli")]
pub mod cli;
mod config;
mod credential_endpoints;
mod echo;
mod fault_response;
mod faults;
mod gateway;
mod iam;
mod io;
mod issued;
mod record;
mod request_body;
mod server;
mod service;
mod tls;

pub use config::{
    BODY_READ_TIMEOUT, DEFAULT_CREDENTIAL_LIFETIME, DEFAULT_MAX_CONNECTIONS,
    DEFAULT_TOKEN_LIFETIME, MockConfig,
};
pub use faults::{Fault, FaultScript};
pub use gateway::{Clock, Throttle};
pub use issued::{MAX_ISSUED_CREDENTIALS, MAX_ISSUED_TOKENS, MAX_METADATA_TOKENS};
pub use record::{MAX_RECORDED_BYTES, MAX_RECORDED_REQUESTS, RecordedRequest};
pub use request_body::MAX_REQUEST_BODY;
pub use server::{BlockingMockServer, HEADER_READ_TIMEOUT, MAX_REQUEST_HEAD, MockServer};

/// Locks a mutex, ignoring poisoning: the data behind it stays consistent even if a
/// scripted fault or a caller's predicate panicked while another thread held it.
pub(crate) fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
