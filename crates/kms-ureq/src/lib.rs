//! A blocking client for Huawei Cloud KMS "query the number of instances"
//! (ShowUserInstances), on [ureq](https://docs.rs/ureq) 3.
//!
//! A thin driver of the sans-IO core [`kms_proto`]: the core's client machine
//! ([`kms_proto::client`]) decides everything about a call (the credentials of each
//! attempt, which call refreshes them and who waits, finding the project, building and
//! signing, parsing, retries, failover, clock skew) and says what I/O it needs; this crate
//! sends, reads at most the body limit plus one byte, runs credential refreshes on
//! threads of their own, sleeps and wakes with a `Condvar`. Its twin, `kms-hyper`, does the
//! same on hyper for async code, and the conformance suite in `tests/` holds both to the
//! same outcomes.
//!
//! Deliberate choices: TLS through rustls with the ring provider passed explicitly, and the
//! roots of [`TrustRoots`] (Mozilla's, compiled in from `webpki-root-certs`, by default; the
//! operating system's store with [`TrustRoots::System`]), or an application's own rustls
//! configuration ([`Client::with_tls`], which says what the client still enforces);
//! redirects never followed (a 3xx is an error, so credentials never reach another host);
//! 4xx/5xx bodies always read (ureq's `http_status_as_error` is off); no proxy and no
//! certificates from the environment unless configured; explicit timeouts (ureq has none
//! by default); never more than `max_connections` connections open, whatever the number of
//! threads (ureq's agent bounds only its idle ones: an attempt waits for a free connection
//! within its timeout, and fails `timeout`, not sent, if none is freed). Configuration and
//! its defaults: [`ClientConfig`].
//!
//! Credentials are static, or come from a [`kms_proto::credentials::Provider`] (the
//! environment, a profile file, KooCLI, STS with an OIDC token, IAM federation, an IAM
//! user's password, CCE pod identity, ECS metadata, or the default chain;
//! [`ClientConfig::from_provider`]). The core's cache decides when to refresh them;
//! this crate does the file reads and the requests to the credential service, in a short-lived thread
//! for a refresh due ahead of expiry (no call waits while valid credentials exist), and
//! never through the proxy. [`Client::core`]`().identity()` says which source answered and until
//! when.
//!
//! # Example
//! ```no_run
//! use kms_ureq::{Client, ClientConfig};
//! use kms_proto::{AkSk, Endpoints, ProjectId, Region};
//!
//! let config = ClientConfig::new(
//!     Endpoints::resolve_from_env(&Region::new("cn-north-4")?)?,
//!     ProjectId::new("0dea2644dc80d5d22ff1c01e3ebea6fc")?,
//!     AkSk::new("AK...", "SK...")?.into(),
//! );
//! let client = Client::new(config)?; // build once; clone freely across threads
//! match client.show_user_instances() {
//!     Ok(count) => println!("{} keys (request {:?})", count.count(), count.request_id()),
//!     Err(e) => eprintln!("{e} (status {:?}, code {:?}, request id {:?})", e.status(), e.code(), e.request_id()),
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod agents;
mod classify;
mod client;
mod connect;
mod limit;
mod resolve;
mod tls;

pub use client::Client;
pub use kms_proto::call::{Error, ErrorKind, TransportError, TransportErrorKind};
pub use kms_proto::{CaBundle, ClientConfig, InstanceCount, ProxyUrl, RetryPolicy, TrustRoots};
/// The rustls this crate is built with, for [`Client::with_tls`]'s configuration.
pub use rustls;
