//! rustls for hyper: the client's configuration (the ring provider, the configured roots)
//! or the application's.

use std::sync::Arc;

use kms_proto::{CaBundle, Input, InvalidInput, Problem, TrustRoots};
use rustls::RootCertStore;
use rustls_pki_types::CertificateDer;
use tracing::{debug, warn};

/// The rustls client configuration: the ring provider passed explicitly (so no other
/// provider is ever picked at run time), TLS 1.2 and 1.3, the configured roots.
///
/// # Errors
/// [`InvalidInput`] ([`Input::CaCertificates`]) when the system store cannot be read or
/// holds no usable certificate ([`TrustRoots::System`]).
pub(crate) fn config(trust: &TrustRoots) -> Result<rustls::ClientConfig, InvalidInput> {
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
    // ALPN is left to hyper-rustls (`enable_http1`), which refuses a preset list.
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

/// The application's configuration as this client uses it: as given (its provider, roots
/// or verifier, client authentication, versions, SNI, resumption, key log), except ALPN,
/// emptied: hyper-rustls sets it for the protocols the client speaks (HTTP/1.1 only:
/// none offered), and refuses one set already.
pub(crate) fn application(tls: &rustls::ClientConfig) -> rustls::ClientConfig {
    let mut config = tls.clone();
    if !config.alpn_protocols.is_empty() {
        debug!(
            "the application's TLS configuration offers protocols by ALPN: offering none (HTTP/1.1)"
        );
        config.alpn_protocols.clear();
    }
    config
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
