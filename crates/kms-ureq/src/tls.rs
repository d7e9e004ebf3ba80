//! rustls for ureq: the client's configuration (the ring provider, the configured roots) or
//! the application's, and the connector that wraps ureq's connections in it.
//!
//! ureq is built without a TLS feature: its own rustls connector takes only what its
//! `TlsConfig` can say (roots, one client certificate), never a rustls `ClientConfig`, so an
//! application's verifier or client authentication could not reach it. [`Tls`] here does
//! what ureq's connector does (a rustls `ClientConnection` over the chained transport, the
//! handshake within the connection's timeout) with whichever configuration the client has.

use std::fmt;
use std::io::{Read, Write};
use std::sync::Arc;

use kms_proto::{CaBundle, Input, InvalidInput, Problem, TrustRoots};
use rustls::{ClientConnection, RootCertStore, StreamOwned};
use rustls_pki_types::{CertificateDer, ServerName};
use tracing::{debug, warn};
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout, Transport,
    TransportAdapter,
};

/// The rustls client configuration of `trust`: the ring provider passed explicitly (so no
/// other provider is ever picked at run time), TLS 1.2 and 1.3, the configured roots, no
/// ALPN (HTTP/1.1 is what a server assumes without it, as with kms-hyper).
///
/// # Errors
/// [`InvalidInput`] ([`Input::CaCertificates`]) when the system store cannot be read or
/// holds no usable certificate ([`TrustRoots::System`]). A [`CaBundle`] was validated when
/// it was made, by the check rustls applies to trust anchors, so it does not fail here.
pub(crate) fn config(trust: &TrustRoots) -> Result<Arc<rustls::ClientConfig>, InvalidInput> {
    let mut roots = RootCertStore::empty();
    let webpki = || webpki_root_certs::TLS_SERVER_ROOT_CERTS.iter().cloned();
    match trust {
        TrustRoots::WebPki => {
            roots.add_parsable_certificates(webpki());
        }
        TrustRoots::WebPkiAnd(bundle) => {
            roots.add_parsable_certificates(webpki());
            add_all(&mut roots, bundle)?;
        }
        TrustRoots::Only(bundle) => add_all(&mut roots, bundle)?,
        TrustRoots::System => roots = system_roots()?,
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|_| {
            InvalidInput::new(
                Input::CaCertificates,
                Problem::Malformed {
                    expected: "TLS versions the ring provider supports",
                },
            )
        })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The application's configuration as this client uses it: as given (its provider, roots
/// or verifier, client authentication, versions, SNI, resumption, key log), except ALPN,
/// emptied: ureq speaks HTTP/1.1 only, which a server assumes when none is offered (a copy
/// is made only when the application's offers protocols).
pub(crate) fn application(tls: Arc<rustls::ClientConfig>) -> Arc<rustls::ClientConfig> {
    if tls.alpn_protocols.is_empty() {
        return tls;
    }
    debug!(
        "the application's TLS configuration offers protocols by ALPN: offering none (HTTP/1.1)"
    );
    let mut config = (*tls).clone();
    config.alpn_protocols.clear();
    Arc::new(config)
}

/// Refuses a [`TrustRoots`] other than the default next to the application's rustls
/// configuration, whose roots (or verifier) are the ones used: the choice would be ignored.
///
/// # Errors
/// [`InvalidInput`] ([`Input::CaCertificates`]) saying so.
pub(crate) fn no_roots_chosen(trust: &TrustRoots) -> Result<(), InvalidInput> {
    match trust {
        TrustRoots::WebPki => Ok(()),
        TrustRoots::WebPkiAnd(_) | TrustRoots::Only(_) | TrustRoots::System => {
            Err(InvalidInput::new(
                Input::CaCertificates,
                Problem::Malformed {
                    expected: BOTH_HINT,
                },
            )
            .with_origin("ClientConfig::with_trust, next to a rustls configuration of one's own"))
        }
    }
}

/// What to do when roots were chosen twice.
const BOTH_HINT: &str = "the default TrustRoots with an application's rustls configuration, \
    whose roots or verifier are the ones trusted: put the certificates in that configuration, \
    or leave it out and choose them with ClientConfig::with_trust";

/// The operating system's trusted certificates (`rustls-native-certs`), those rustls
/// accepts as trust anchors.
///
/// # Errors
/// When none is usable: the store could not be read, or holds no certificate rustls takes.
/// The message names the first error and says what to do.
pub(crate) fn system_roots() -> Result<RootCertStore, InvalidInput> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    let (added, ignored) = roots.add_parsable_certificates(found.certs);
    for e in &found.errors {
        warn!(error = %e, "reading the system's certificate store");
    }
    if ignored > 0 {
        warn!(
            ignored,
            "certificates of the system's store skipped: not usable as trust anchors"
        );
    }
    debug!(added, "certificates trusted from the system's store");
    if added > 0 {
        return Ok(roots);
    }
    let origin = match found.errors.first() {
        Some(e) => format!("the operating system's certificate store, which failed: {e}"),
        None if ignored > 0 => format!(
            "the operating system's certificate store, whose {ignored} certificate(s) rustls cannot use"
        ),
        None => "the operating system's certificate store, which holds no certificate".to_owned(),
    };
    Err(InvalidInput::new(
        Input::CaCertificates,
        Problem::Malformed {
            expected: SYSTEM_STORE_HINT,
        },
    )
    .with_origin(origin))
}

/// What to do when the system store gives no certificate.
const SYSTEM_STORE_HINT: &str = "at least one CA certificate: install the system's CA \
    certificates (the ca-certificates package), point SSL_CERT_FILE at a PEM bundle (or \
    SSL_CERT_DIR at a directory of them), or trust Mozilla's roots (TrustRoots::WebPki) or \
    a bundle of one's own instead";

/// Adds the bundle's certificates. `CaBundle` checked each with the function
/// `RootCertStore::add` calls, so this does not fail; if a later rustls checked more, the
/// error still comes here, at configuration, naming the certificate, never at a handshake.
fn add_all(roots: &mut RootCertStore, bundle: &CaBundle) -> Result<(), InvalidInput> {
    for (i, der) in bundle.certificates().enumerate() {
        roots
            .add(CertificateDer::from_slice(der).into_owned())
            .map_err(|_| {
                InvalidInput::new(
                    Input::CaCertificates,
                    Problem::NotACertificate { index: i + 1 },
                )
            })?;
    }
    Ok(())
}

/// The connector that wraps an `https` connection in rustls with the client's
/// configuration (ureq's `RustlsConnector`, with a rustls `ClientConfig` given whole).
pub(crate) struct Tls {
    config: Arc<rustls::ClientConfig>,
}

impl Tls {
    pub(crate) fn new(config: Arc<rustls::ClientConfig>) -> Self {
        Tls { config }
    }
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls").finish_non_exhaustive()
    }
}

impl<In: Transport> Connector<In> for Tls {
    type Out = Either<In, TlsTransport>;

    fn connect(
        &self,
        details: &ConnectionDetails<'_>,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        let Some(transport) = chained else {
            return Ok(None);
        };
        // Plain http, or a connection already secured: as it is.
        if !details.needs_tls() || transport.is_tls() {
            return Ok(Some(Either::A(transport)));
        }
        let host = details
            .uri
            .authority()
            .map(|a| a.host())
            .ok_or(ureq::Error::Tls("no host to verify the certificate of"))?;
        // An IPv6 literal comes bracketed in the authority.
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let name = ServerName::try_from(host)
            .map_err(|_| ureq::Error::Tls("the host is not a DNS name or an IP address"))?
            .to_owned();
        // rustls's errors travel inside an io::Error, as the handshake's do, so that one
        // check (classify) finds every TLS failure.
        let mut connection = ClientConnection::new(Arc::clone(&self.config), name)
            .map_err(|e| ureq::Error::Io(std::io::Error::other(e)))?;
        let mut socket = TransportAdapter::new(transport.boxed(), details.current_time.clone());
        socket.set_timeout(left(details));
        connection.complete_io(&mut socket)?;
        let buffers = LazyBuffers::new(
            details.config.input_buffer_size(),
            details.config.output_buffer_size(),
        );
        Ok(Some(Either::B(TlsTransport {
            buffers,
            stream: StreamOwned::new(connection, socket),
        })))
    }
}

/// What is left of the connection's timeout now, after the TCP connection (and a proxy's
/// `CONNECT`) took their share: the handshake ends within the connect timeout as ureq's own
/// connector ensures.
fn left(details: &ConnectionDetails<'_>) -> NextTimeout {
    use ureq::unversioned::transport::time::{Duration, Instant};
    let mut timeout = details.timeout;
    if let (Duration::Exact(limit), Instant::Exact(now), Instant::Exact(start)) =
        (timeout.after, (details.current_time)(), details.now)
    {
        timeout.after = Duration::Exact(limit.saturating_sub(now.saturating_duration_since(start)));
    }
    timeout
}

/// A connection in rustls.
pub(crate) struct TlsTransport {
    buffers: LazyBuffers,
    stream: StreamOwned<ClientConnection, TransportAdapter>,
}

impl fmt::Debug for TlsTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsTransport")
            .field("chained", &self.stream.sock.inner())
            .finish()
    }
}

impl Transport for TlsTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let output = self
            .buffers
            .output()
            .get(..amount)
            .ok_or(ureq::Error::Tls("more output asked for than buffered"))?;
        self.stream.write_all(output)?;
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let input = self.buffers.input_append_buf();
        let amount = self.stream.read(input)?;
        self.buffers.input_appended(amount);
        Ok(amount > 0)
    }

    fn is_open(&mut self) -> bool {
        self.stream.get_mut().get_mut().is_open()
    }

    fn is_tls(&self) -> bool {
        true
    }
}
