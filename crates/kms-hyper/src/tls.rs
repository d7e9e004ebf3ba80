//! rustls (ring) for hyper, with the configured roots.

use std::sync::Arc;

use kms_proto::{Input, InvalidInput, Problem, TrustRoots};
use rustls::RootCertStore;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

/// The rustls client configuration: the ring provider passed explicitly (so no other
/// provider is ever picked at run time), TLS 1.2 and 1.3, the configured roots.
pub(crate) fn config(trust: &TrustRoots) -> Result<rustls::ClientConfig, InvalidInput> {
    let mut roots = RootCertStore::empty();
    let webpki = || webpki_root_certs::TLS_SERVER_ROOT_CERTS.iter().cloned();
    match trust {
        TrustRoots::Only(pem) => add_all(&mut roots, parse_pem(pem)?)?,
        TrustRoots::WebPkiAnd(pem) => {
            roots.add_parsable_certificates(webpki());
            add_all(&mut roots, parse_pem(pem)?)?;
        }
        _ => {
            roots.add_parsable_certificates(webpki());
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    // ALPN is left to hyper-rustls (`enable_http1`), which refuses a preset list.
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|_| invalid())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

fn invalid() -> InvalidInput {
    InvalidInput::new(
        Input::CaCertificates,
        Problem::Malformed {
            expected: "one or more PEM \"CERTIFICATE\" blocks",
        },
    )
}

fn parse_pem(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, InvalidInput> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<_, _>>()
        .map_err(|_| invalid())?;
    if certs.is_empty() {
        return Err(invalid());
    }
    Ok(certs)
}

fn add_all(
    roots: &mut RootCertStore,
    certs: Vec<CertificateDer<'static>>,
) -> Result<(), InvalidInput> {
    for cert in certs {
        roots.add(cert).map_err(|_| invalid())?;
    }
    Ok(())
}
