//! An async client for Huawei Cloud KMS "query the number of instances"
//! (ShowUserInstances), on [hyper](https://docs.rs/hyper) 1 and tokio.
//!
//! A thin driver of the sans-IO core [`kms_proto`]: the core's client machine
//! ([`kms_proto::client`]) decides everything about a call (the credentials of each
//! attempt, which call refreshes them and who waits, finding the project, building and
//! signing, parsing, retries, failover, clock skew) and says what I/O it needs; this crate
//! sends with hyper-util's pooled clients, reads at most the body
//! limit plus one byte, runs credential refreshes in tasks of their own, sleeps and wakes
//! with tokio. Its twin, `kms-ureq`, does the same blocking, and the conformance suite in
//! `tests/` holds both to the same outcomes.
//!
//! Deliberate choices: TLS through hyper-rustls with the ring provider passed explicitly,
//! and the roots of [`TrustRoots`] (Mozilla's, compiled in from `webpki-root-certs`, by
//! default; the operating system's store with [`TrustRoots::System`]), or an application's
//! own rustls configuration ([`Client::with_tls`], which says what the client still
//! enforces);
//! redirects never followed (hyper does not follow them; a 3xx is an error); a timeout
//! around each attempt's request AND body (the legacy client has none); never more than
//! `max_connections` connections open, whatever the concurrency, and no task left behind
//! by a call (one task per open connection is all an idle client holds; see below); a
//! connection reads at most 256 KiB after each request it sends (more than any answer of
//! this API), so a server flooding informational (`1xx`) responses cannot keep its task
//! busy after the attempt is over; no proxy and no certificates from the environment
//! unless configured.
//!
//! The connection bound: hyper-util's pool races a checkout of an idle connection against a
//! new connect. A connect that loses while still waiting for one of the `max_connections`
//! permits gives up at once; one that already had its permit finishes and leaves its
//! connection idle in the pool. So a call opens at most one connection it does not use, and
//! never one beyond the limit.
//! Configuration and its defaults: [`ClientConfig`].
//!
//! # Example
//! ```no_run
//! use kms_hyper::{Client, ClientConfig};
//! use kms_proto::{AuthToken, Endpoints, ProjectId, Region};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let config = ClientConfig::new(
//!     Endpoints::resolve_from_env(&Region::new("cn-north-4")?)?,
//!     ProjectId::new("0dea2644dc80d5d22ff1c01e3ebea6fc")?,
//!     AuthToken::new("MIIE...")?.into(),
//! );
//! let client = Client::new(config)?; // build once; clone freely across tasks
//! let count = client.show_user_instances().await?;
//! println!("{} keys (request {:?})", count.count(), count.request_id());
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod classify;
mod client;
mod connect;
mod limit;
mod pool;
mod resolve;

pub use client::Client;
pub use kms_proto::call::{Error, ErrorKind, TransportError, TransportErrorKind};
pub use kms_proto::{CaBundle, ClientConfig, InstanceCount, ProxyUrl, RetryPolicy, TrustRoots};
/// The rustls this crate is built with, for [`Client::with_tls`]'s configuration.
pub use rustls;
