//! The rustls client configuration a transport on rustls builds (feature `rustls`, off by
//! default; kms-ureq and kms-hyper turn it on): the ring provider passed explicitly, TLS 1.2
//! and 1.3, and the roots [`TrustRoots`] names; or the application's own configuration, as a
//! client uses it. One place, so that every transport trusts the same roots the same way.
//!
//! The one I/O of this feature: [`client_config`] reads the operating system's certificate
//! store (`rustls-native-certs`) when the choice is [`TrustRoots::System`], once, when a
//! client is built.

use std::sync::Arc;

use rustls::RootCertStore;
use rustls_pki_types::CertificateDer;
use tracing::{debug, warn};

use crate::config::{CaBundle, TrustRoots};
use crate::input::{Input, InvalidInput, Problem};

/// The rustls client configuration of `trust`: the ring provider passed explicitly (so no
/// other provider is ever picked at run time), TLS 1.2 and 1.3, the roots `trust` names, no
/// client authentication, no ALPN (HTTP/1.1, which a server assumes when none is offered).
///
/// # Errors
/// [`InvalidInput`] ([`Input::CaCertificates`]) when the system store cannot be read or holds
/// no usable certificate ([`TrustRoots::System`]). A [`CaBundle`] was validated when it was
/// made, by the check rustls applies to trust anchors, so it does not fail here.
pub fn client_config(trust: &TrustRoots) -> Result<rustls::ClientConfig, InvalidInput> {
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
    Ok(config)
}

/// The application's configuration as a client uses it: as given (its provider, roots or
/// verifier, client authentication, versions, SNI, resumption, key log), except ALPN,
/// emptied: the clients speak HTTP/1.1 only, which a server assumes when none is offered
/// (and hyper-rustls refuses a list set already). A copy is made only when the
/// application's offers protocols.
pub fn application_config(tls: Arc<rustls::ClientConfig>) -> Arc<rustls::ClientConfig> {
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
pub fn no_roots_chosen(trust: &TrustRoots) -> Result<(), InvalidInput> {
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
fn system_roots() -> Result<RootCertStore, InvalidInput> {
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
