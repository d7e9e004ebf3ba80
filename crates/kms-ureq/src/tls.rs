//! rustls (ring) for ureq, with the configured roots.

use std::sync::Arc;

use kms_proto::{CaBundle, TrustRoots};
use ureq::tls::{Certificate, RootCerts, TlsConfig, TlsProvider};

/// The TLS configuration of the agent: rustls, the ring provider passed explicitly (so no
/// other provider is ever picked at run time), and the configured roots.
///
/// Nothing here can fail: a [`CaBundle`] was validated when it was made, by the check
/// rustls applies to trust anchors (ureq would otherwise skip a bad certificate silently).
pub(crate) fn config(trust: &TrustRoots) -> TlsConfig {
    let roots = match trust {
        TrustRoots::WebPki => RootCerts::WebPki,
        TrustRoots::WebPkiAnd(bundle) => {
            let mut certs: Vec<Certificate<'static>> = webpki_root_certs::TLS_SERVER_ROOT_CERTS
                .iter()
                .map(|der| Certificate::from_der(der.as_ref()).to_owned())
                .collect();
            certs.extend(certificates(bundle));
            RootCerts::from(certs)
        }
        TrustRoots::Only(bundle) => RootCerts::from(certificates(bundle).collect::<Vec<_>>()),
    };
    TlsConfig::builder()
        .provider(TlsProvider::Rustls)
        .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .root_certs(roots)
        .build()
}

/// The bundle's certificates as ureq takes them.
fn certificates(bundle: &CaBundle) -> impl Iterator<Item = Certificate<'static>> + '_ {
    bundle
        .certificates()
        .map(|der| Certificate::from_der(der).to_owned())
}
