//! rustls (ring) for ureq, with the configured roots.

use std::sync::Arc;

use kms_proto::{Input, InvalidInput, Problem, TrustRoots};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use ureq::tls::{Certificate, RootCerts, TlsConfig, TlsProvider};

/// The TLS configuration of the agent: rustls, the ring provider passed explicitly (so no
/// other provider is ever picked at run time), and the configured roots.
pub(crate) fn config(trust: &TrustRoots) -> Result<TlsConfig, InvalidInput> {
    let roots = match trust {
        TrustRoots::WebPki => RootCerts::WebPki,
        TrustRoots::WebPkiAnd(pem) => {
            let mut certs: Vec<Certificate<'static>> = webpki_root_certs::TLS_SERVER_ROOT_CERTS
                .iter()
                .map(|der| Certificate::from_der(der.as_ref()).to_owned())
                .collect();
            certs.extend(parse_pem(pem)?);
            RootCerts::from(certs)
        }
        TrustRoots::Only(pem) => RootCerts::from(parse_pem(pem)?),
        _ => RootCerts::WebPki,
    };
    Ok(TlsConfig::builder()
        .provider(TlsProvider::Rustls)
        .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .root_certs(roots)
        .build())
}

/// The certificates of a PEM bundle; an empty or unreadable bundle is refused.
fn parse_pem(pem: &[u8]) -> Result<Vec<Certificate<'static>>, InvalidInput> {
    let invalid = || {
        InvalidInput::new(
            Input::CaCertificates,
            Problem::Malformed {
                expected: "one or more PEM \"CERTIFICATE\" blocks",
            },
        )
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<_, _>>()
        .map_err(|_| invalid())?;
    if certs.is_empty() {
        return Err(invalid());
    }
    Ok(certs
        .iter()
        .map(|der| Certificate::from_der(der.as_ref()).to_owned())
        .collect())
}
