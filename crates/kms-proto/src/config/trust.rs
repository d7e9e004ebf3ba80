//! The certificates a transport trusts: Mozilla's roots, a validated bundle of one's own,
//! both, or the operating system's store.

use std::fmt;

#[cfg(feature = "ca-bundle")]
use rustls_pki_types::CertificateDer;
#[cfg(feature = "ca-bundle")]
use rustls_pki_types::pem::PemObject;

use crate::input::{Input, InvalidInput, Problem};

/// The certificates a transport trusts for HTTPS.
///
/// Default: [`TrustRoots::WebPki`], Mozilla's roots as compiled into the transports (the
/// `webpki-root-certs` crate); never the system store or a path from the environment unless
/// the caller chooses [`TrustRoots::System`] here.
///
/// This type only names the choice: the core does no I/O, so the transports load the
/// system store (when the client is built) and make every choice a rustls configuration
/// with the ring provider. An application that builds its own rustls `ClientConfig` (a
/// verifier of its own, client certificates) passes it to the transport instead
/// (`kms_ureq::Client::with_tls`, `kms_hyper::Client::with_tls`), and leaves this at its
/// default.
///
/// Not `#[non_exhaustive]`, on purpose: each transport matches every variant, so a variant
/// added later fails to compile in every transport instead of being mapped to some default
/// by a wildcard arm (which would trust more, or less, than was configured).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum TrustRoots {
    /// Mozilla's roots.
    #[default]
    WebPki,
    /// Mozilla's roots and the certificates of this bundle (a private CA).
    WebPkiAnd(CaBundle),
    /// Only the certificates of this bundle (a private cloud with its own CA).
    Only(CaBundle),
    /// The operating system's trusted certificates, as the `rustls-native-certs` crate finds
    /// them: on Linux and the BSDs the files OpenSSL would read (`/etc/ssl/certs` and the
    /// like, or the file and directory named by `SSL_CERT_FILE` and `SSL_CERT_DIR` when
    /// set), on macOS the keychains' trust settings, on Windows the system's root store.
    ///
    /// A transport reads the store once, when its client is built, and verifies servers
    /// against those certificates as it does against Mozilla's roots (rustls's verifier,
    /// not the operating system's: no revocation checks, no enterprise policy beyond the
    /// roots). Certificates of the store that cannot be read as trust anchors are skipped
    /// (and logged); a store that yields none, or cannot be read at all, fails the
    /// client's construction with a configuration error that says where it looked.
    System,
}

/// CA certificates to trust, validated when they are read, so that every transport
/// receives certificates rustls accepts as trust anchors and refuses a bad bundle before
/// anything is sent.
///
/// Made by [`CaBundle::from_pem`]; there is no other way, so a [`TrustRoots`] can only hold
/// validated certificates. `Debug` prints how many certificates it holds.
#[derive(Clone, PartialEq, Eq)]
pub struct CaBundle {
    /// DER, in the order of the PEM text; never empty.
    certificates: Vec<Box<[u8]>>,
}

impl CaBundle {
    /// Reads a PEM bundle and checks each certificate the way rustls's
    /// `RootCertStore::add` does (PEM by `rustls-pki-types`, the certificate by
    /// `webpki::anchor_from_trusted_cert`), so a bundle accepted here is accepted by every
    /// transport, and one refused here would have been refused, or ignored, by rustls.
    ///
    /// Every `CERTIFICATE` block is kept. Blocks of other kinds (CRLs, public keys,
    /// OpenSSL's `TRUSTED CERTIFICATE`, ...) are skipped, as rustls's PEM reader skips
    /// them, with one exception: a private key (any `-----BEGIN ...PRIVATE KEY-----`
    /// block, encrypted or not) is refused, because a CA bundle never needs one and a key
    /// found there is a secret in the wrong file; it is refused before its base64 is read.
    ///
    /// # Errors
    /// [`InvalidInput`] with [`Input::CaCertificates`] and [`Problem::Empty`] (no bytes),
    /// [`Problem::PrivateKey`], [`Problem::Malformed`] (PEM that cannot be read: a BEGIN
    /// line without its END line, bad base64), [`Problem::NotACertificate`] (naming the
    /// block) or [`Problem::NoCertificate`]; [`Problem::NotBuilt`] when kms-proto's
    /// `ca-bundle` feature (on by default) is off.
    pub fn from_pem(pem: &[u8]) -> Result<Self, InvalidInput> {
        let err = |problem| InvalidInput::new(Input::CaCertificates, problem);
        if pem.is_empty() {
            return Err(err(Problem::Empty));
        }
        if holds_private_key(pem) {
            return Err(err(Problem::PrivateKey));
        }
        #[cfg(not(feature = "ca-bundle"))]
        return Err(err(Problem::NotBuilt {
            algorithm: "reading a CA bundle",
            feature: "ca-bundle",
        }));
        #[cfg(feature = "ca-bundle")]
        Self::read(pem).map_err(err)
    }

    /// The validated certificates of `pem`, or what is wrong with them.
    #[cfg(feature = "ca-bundle")]
    fn read(pem: &[u8]) -> Result<Self, Problem> {
        let mut certificates = Vec::new();
        for (i, block) in CertificateDer::pem_slice_iter(pem).enumerate() {
            let der = block.map_err(|e| pem_problem(&e))?;
            // The very check rustls's `RootCertStore::add` makes (ureq skips what fails it;
            // hyper-rustls refuses it): done once here, both transports agree.
            if webpki::anchor_from_trusted_cert(&der).is_err() {
                return Err(Problem::NotACertificate { index: i + 1 });
            }
            certificates.push(der.as_ref().into());
        }
        if certificates.is_empty() {
            return Err(Problem::NoCertificate);
        }
        Ok(CaBundle { certificates })
    }

    /// The certificates, DER-encoded, in the order of the PEM text (at least one).
    pub fn certificates(&self) -> impl ExactSizeIterator<Item = &[u8]> {
        self.certificates.iter().map(|der| &**der)
    }
}

/// Whether a line of `pem` opens a private key block (`PRIVATE KEY`, `RSA PRIVATE KEY`,
/// `ENCRYPTED PRIVATE KEY`, `OPENSSH PRIVATE KEY`, ...). Lines are split and BEGIN lines
/// recognised as `rustls-pki-types` does (CR or LF; trailing spaces after the dashes), so
/// a block its reader would open is never missed here.
fn holds_private_key(pem: &[u8]) -> bool {
    pem.split(|&b| b == b'\n' || b == b'\r').any(|line| {
        line.starts_with(b"-----BEGIN ") && line.trim_ascii_end().ends_with(b"PRIVATE KEY-----")
    })
}

/// What the PEM reader's error means for the user, without echoing the line it quotes.
#[cfg(feature = "ca-bundle")]
fn pem_problem(e: &rustls_pki_types::pem::Error) -> Problem {
    use rustls_pki_types::pem::Error;
    let expected = match e {
        Error::MissingSectionEnd { .. } => PEM_END,
        Error::IllegalSectionStart { .. } => PEM_BEGIN,
        Error::Base64Decode(_) => PEM_BASE64,
        // `pem::Error` is `#[non_exhaustive]` (another crate): a new kind reads as "not PEM".
        // `SectionTooLarge` and `Io` (never from a slice) land here too.
        _ => PEM_TEXT,
    };
    Problem::Malformed { expected }
}

impl fmt::Debug for CaBundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CaBundle")
            .field("certificates", &self.certificates.len())
            .finish()
    }
}

/// What a readable PEM text looks like, for [`Problem::Malformed`], by what went wrong.
#[cfg(feature = "ca-bundle")]
const PEM_END: &str = "an -----END ...----- line after every -----BEGIN ...----- line";
#[cfg(feature = "ca-bundle")]
const PEM_BEGIN: &str = "-----BEGIN ...----- lines that end in five dashes";
#[cfg(feature = "ca-bundle")]
const PEM_BASE64: &str = "base64 between the -----BEGIN and -----END lines";
#[cfg(feature = "ca-bundle")]
const PEM_TEXT: &str = "PEM text whose blocks are smaller than 256 MB";

#[cfg(all(test, not(feature = "ca-bundle")))]
mod without_the_feature {
    #[test]
    fn a_bundle_is_refused_naming_the_feature_and_a_private_key_still_first() {
        let err = super::CaBundle::from_pem(b"-----BEGIN CERTIFICATE-----\n").unwrap_err();
        assert!(err.to_string().contains("`ca-bundle` feature"), "{err}");
        let key = super::CaBundle::from_pem(b"-----BEGIN PRIVATE KEY-----\n").unwrap_err();
        assert_eq!(key.problem(), &crate::Problem::PrivateKey);
    }
}

#[cfg(all(test, feature = "ca-bundle"))]
mod tests {
    use super::*;

    #[test]
    fn ca_bundles() {
        let ca = rcgen::generate_simple_self_signed(vec!["ca.test".to_owned()]).unwrap();
        let other = rcgen::generate_simple_self_signed(vec!["other.test".to_owned()]).unwrap();
        let (cert, key) = (ca.cert.pem(), ca.signing_key.serialize_pem());
        let public_key = ca.signing_key.public_key_pem();
        let bogus = "-----BEGIN CERTIFICATE-----\nQUFBQUFB\n-----END CERTIFICATE-----\n";
        let block = |label: &str, body: &str| {
            format!("-----BEGIN {label}-----\n{body}\n-----END {label}-----\n")
        };
        let cases: Vec<(&str, Vec<u8>, Result<usize, Problem>)> = vec![
            ("a real certificate", cert.clone().into(), Ok(1)),
            (
                "two certificates, text and CRLF around them",
                format!(
                    "# private CA\r\n{cert}\r\nsubject=other\r\n{}",
                    other.cert.pem()
                )
                .replace('\n', "\r\n")
                .into(),
                Ok(2),
            ),
            (
                "a certificate and a public key (skipped, as rustls does)",
                format!("{public_key}{cert}").into(),
                Ok(1),
            ),
            (
                "a certificate and OpenSSL's TRUSTED CERTIFICATE (skipped, as rustls does)",
                format!("{}{cert}", block("TRUSTED CERTIFICATE", "QUFBQUFB")).into(),
                Ok(1),
            ),
            ("empty input", Vec::new(), Err(Problem::Empty)),
            (
                "the QUFBQUFB block",
                bogus.into(),
                Err(Problem::NotACertificate { index: 1 }),
            ),
            (
                "a real certificate then the QUFBQUFB block",
                format!("{cert}{bogus}").into(),
                Err(Problem::NotACertificate { index: 2 }),
            ),
            (
                "a certificate's DER truncated",
                block("CERTIFICATE", "MIIBszCCAVmgAwIBAgIU").into(),
                Err(Problem::NotACertificate { index: 1 }),
            ),
            (
                "garbage text",
                b"not a pem".to_vec(),
                Err(Problem::NoCertificate),
            ),
            (
                "binary garbage",
                vec![0xff, 0x00, 0x30, 0x82, 0x0a],
                Err(Problem::NoCertificate),
            ),
            (
                "only whitespace",
                b"\n \r\n".to_vec(),
                Err(Problem::NoCertificate),
            ),
            (
                "only a public key",
                public_key.clone().into(),
                Err(Problem::NoCertificate),
            ),
            (
                "a private key block",
                key.clone().into(),
                Err(Problem::PrivateKey),
            ),
            (
                "a certificate with its private key",
                format!("{cert}{key}").into(),
                Err(Problem::PrivateKey),
            ),
            (
                "an RSA private key",
                block("RSA PRIVATE KEY", "QUFBQUFB").into(),
                Err(Problem::PrivateKey),
            ),
            (
                "an encrypted private key",
                format!("{cert}{}", block("ENCRYPTED PRIVATE KEY", "QUFBQUFB")).into(),
                Err(Problem::PrivateKey),
            ),
            (
                "a BEGIN line without its END line",
                cert.replace("-----END CERTIFICATE-----", "").into(),
                Err(Problem::Malformed { expected: PEM_END }),
            ),
            (
                "a BEGIN line cut short",
                "-----BEGIN CERTIFICATE--\nQUFB\n".into(),
                Err(Problem::Malformed {
                    expected: PEM_BEGIN,
                }),
            ),
            (
                "bad base64",
                block("CERTIFICATE", "!!!!").into(),
                Err(Problem::Malformed {
                    expected: PEM_BASE64,
                }),
            ),
        ];
        let mut failures = Vec::new();
        for (name, pem, expected) in &cases {
            let got = CaBundle::from_pem(pem);
            let ok = match (&got, expected) {
                (Ok(b), Ok(n)) => b.certificates().len() == *n,
                (Err(e), Err(p)) => e.input() == Input::CaCertificates && e.problem() == p,
                _ => false,
            };
            if !ok {
                failures.push(format!(
                    "{name}: {:?}, expected {expected:?}",
                    got.as_ref().map_err(|e| e.problem())
                ));
            }
            if let Err(e) = &got {
                let msg = e.to_string();
                if msg.contains("MII") || msg.contains("QUFB") || msg.contains('\n') {
                    failures.push(format!("{name}: the message echoes the bundle: {msg}"));
                }
            }
        }
        assert!(
            failures.is_empty(),
            "{} case(s) failed:\n{}",
            failures.len(),
            failures.join("\n")
        );

        let bundle = CaBundle::from_pem(cert.as_bytes()).unwrap();
        assert_eq!(bundle.certificates().next(), Some(ca.cert.der().as_ref()));
        assert_eq!(format!("{bundle:?}"), "CaBundle { certificates: 1 }");
        assert_eq!(
            format!("{:?}", TrustRoots::Only(bundle)),
            "Only(CaBundle { certificates: 1 })"
        );
    }
}
