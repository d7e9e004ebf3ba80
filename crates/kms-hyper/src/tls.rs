//! rustls (ring) for hyper, with the configured roots.

use std::sync::Arc;

use kms_proto::{CaBundle, Input, InvalidInput, Problem, TrustRoots};
use rustls::RootCertStore;
use rustls_pki_types::CertificateDer;

/// The rustls client configuration: the ring provider passed explicitly (so no other
/// provider is ever picked at run time), TLS 1.2 and 1.3, the configured roots.
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
