//! The application's own TLS (issue 23, item 2), on both transports, over real sockets
//! against kms-mock serving HTTPS with a CA of its own:
//!
//! - a rustls `ClientConfig` of the application's (`Client::with_tls`) is used as given:
//!   its roots (the mock's CA alone) and its certificate verifier, ALPN aside; without the
//!   mock's CA the call fails `Tls`, nothing sent;
//! - `TrustRoots` chosen next to such a configuration are refused, not ignored;
//! - `TrustRoots::System`: the operating system's store does not hold the mock's CA, so
//!   the call fails `Tls` (quickly, no panic); `SSL_CERT_FILE` naming a file with the CA
//!   makes it succeed; a file with no certificate, or none at all, is a configuration
//!   error saying what to do. These run in a child process (this test binary again, one
//!   test), since the store is read from the environment and the environment of a running
//!   test process is not ours to change.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)] // a test fails by panicking

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use kms_conformance::{Transport, runtime};
use kms_mock::{BlockingMockServer, MockConfig};
use kms_proto::call::{Error, ErrorKind};
use kms_proto::{AkSk, ClientConfig, Endpoint, InstanceCount, ProjectId, RetryPolicy, TrustRoots};
use kms_ureq::rustls;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};

const PROJECT: &str = "0dea2644dc80d5d22ff1c01e3ebea6fc";
const COUNT: u64 = 15;
const AK: &str = "APPTLSTESTAK0000001";
const SK: &str = "application-tls-secret-key-000000000000";

/// The child's instructions: the mock's URL, and what the calls must end in.
const CHILD_URL: &str = "KMS_TEST_SYSTEM_STORE_URL";
const CHILD_EXPECT: &str = "KMS_TEST_SYSTEM_STORE_EXPECT";

fn tls_mock() -> BlockingMockServer {
    BlockingMockServer::start(
        MockConfig::new()
            .with_project(PROJECT, COUNT)
            .with_aksk(AK, SK)
            .with_tls(),
    )
    .unwrap()
}

/// One attempt, bounded: a failure is reported within seconds, never retried.
fn client_config(url: &str) -> ClientConfig {
    ClientConfig::new(
        Endpoint::parse(url).unwrap(),
        ProjectId::new(PROJECT).unwrap(),
        AkSk::new(AK, SK).unwrap().into(),
    )
    .with_retry(RetryPolicy::never())
    .with_attempt_timeout(Duration::from_secs(5))
    .with_deadline(Duration::from_secs(10))
}

/// A client built with `Client::with_tls`, one call.
fn call_with_tls(
    transport: Transport,
    config: ClientConfig,
    tls: Arc<rustls::ClientConfig>,
) -> Result<InstanceCount, Error> {
    match transport {
        Transport::Ureq => kms_ureq::Client::with_tls(config, tls)?.show_user_instances(),
        Transport::Hyper => runtime().block_on(async {
            kms_hyper::Client::with_tls(config, tls)?
                .show_user_instances()
                .await
        }),
    }
}

fn roots_of(pem: &str) -> Arc<RootCertStore> {
    let mut roots = RootCertStore::empty();
    for der in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        roots.add(der.unwrap()).unwrap();
    }
    Arc::new(roots)
}

/// rustls's own verifier, counting the certificates it is asked about: proof that the
/// application's verifier is the one a transport uses.
#[derive(Debug)]
struct Counting {
    inner: Arc<WebPkiServerVerifier>,
    calls: AtomicUsize,
}

impl ServerCertVerifier for Counting {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// The application's configuration: the ring provider (any would do), a verifier of its
/// own over `roots`, and ALPN offering h2 as well, which the transports must take out
/// (hyper-rustls refuses a configuration with ALPN set; neither client speaks h2).
fn application_config(roots: Arc<RootCertStore>) -> (Arc<rustls::ClientConfig>, Arc<Counting>) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(Counting {
        inner: WebPkiServerVerifier::builder_with_provider(roots, Arc::clone(&provider))
            .build()
            .unwrap(),
        calls: AtomicUsize::new(0),
    });
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::clone(&verifier) as Arc<dyn ServerCertVerifier>)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    (Arc::new(config), verifier)
}

#[test]
fn an_applications_rustls_config_is_used_as_given() {
    let server = tls_mock();
    // Another CA: the one of a second emulator, which did not issue the first's certificate.
    let other = tls_mock();
    for transport in Transport::ALL {
        let name = transport.name();
        let (tls, verifier) = application_config(roots_of(server.ca_pem().unwrap()));
        let count = call_with_tls(transport, client_config(&server.url()), tls)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(count.count(), COUNT, "{name}");
        assert!(
            verifier.calls.load(Ordering::SeqCst) >= 1,
            "{name}: the application's verifier was not asked"
        );

        let before = server.requests().len();
        let (tls, verifier) = application_config(roots_of(other.ca_pem().unwrap()));
        let err = call_with_tls(transport, client_config(&server.url()), tls).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Tls, "{name}: {err}");
        assert!(!err.may_have_been_sent(), "{name}: {err}");
        assert!(
            verifier.calls.load(Ordering::SeqCst) >= 1,
            "{name}: the application's verifier was not asked"
        );
        assert_eq!(
            server.requests().len(),
            before,
            "{name}: a request got through"
        );
    }
}

#[test]
fn trust_roots_next_to_an_applications_config_are_refused() {
    let server = tls_mock();
    let ca = kms_proto::CaBundle::from_pem(server.ca_pem().unwrap().as_bytes()).unwrap();
    for transport in Transport::ALL {
        for trust in [TrustRoots::Only(ca.clone()), TrustRoots::System] {
            let (tls, _) = application_config(roots_of(server.ca_pem().unwrap()));
            let config = client_config(&server.url()).with_trust(trust.clone());
            let err = call_with_tls(transport, config, tls).unwrap_err();
            assert_eq!(
                err.kind(),
                ErrorKind::Config,
                "{}, {trust:?}: {err}",
                transport.name()
            );
            assert!(err.to_string().contains("with_trust"), "{err}");
        }
    }
    assert_eq!(server.requests().len(), 0);
}

/// Runs [`system_store_child`] in a child process against `server`, with `SSL_CERT_FILE`
/// as given (`None`: neither it nor `SSL_CERT_DIR` set, the operating system's own
/// store), expecting `expect` (`ok`, `tls` or `config`) from both transports.
fn in_child(server: &BlockingMockServer, cert_file: Option<&PathBuf>, expect: &str) {
    let mut child = Command::new(std::env::current_exe().unwrap());
    child
        .args([
            "--exact",
            "system_store_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_URL, server.url())
        .env(CHILD_EXPECT, expect)
        .env_remove("SSL_CERT_FILE")
        .env_remove("SSL_CERT_DIR");
    if let Some(file) = cert_file {
        child.env("SSL_CERT_FILE", file);
    }
    let output = child.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("SSL_CERT_FILE={cert_file:?}, expecting {expect}:\n{stdout}");
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "the child failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

/// What the child does (nothing in an ordinary run): one call with `TrustRoots::System` per
/// transport, checked against what the parent expects.
#[test]
fn system_store_child() {
    let (Ok(url), Ok(expect)) = (std::env::var(CHILD_URL), std::env::var(CHILD_EXPECT)) else {
        return;
    };
    for transport in Transport::ALL {
        let name = transport.name();
        let started = Instant::now();
        let result = transport.call(client_config(&url).with_trust(TrustRoots::System));
        let took = started.elapsed();
        println!("{name}: {result:?} in {took:?}");
        assert!(took < Duration::from_secs(10), "{name}: took {took:?}");
        match (expect.as_str(), result) {
            ("ok", Ok(count)) => assert_eq!(count.count(), COUNT, "{name}"),
            ("tls", Err(e)) => {
                assert_eq!(e.kind(), ErrorKind::Tls, "{name}: {e}");
                assert!(!e.may_have_been_sent(), "{name}: {e}");
            }
            ("config", Err(e)) => {
                assert_eq!(e.kind(), ErrorKind::Config, "{name}: {e}");
                let message = e.to_string();
                for words in ["operating system's certificate store", "SSL_CERT_FILE"] {
                    assert!(message.contains(words), "{name}: {message}");
                }
            }
            (expect, result) => panic!("{name}: expected {expect}, got {result:?}"),
        }
    }
}

#[test]
fn the_system_store_is_read_and_does_not_hold_the_mocks_ca() {
    let server = tls_mock();
    let dir = std::env::temp_dir().join(format!("kms-application-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    // The operating system's own store (/etc/ssl on Linux): not the mock's CA.
    in_child(&server, None, "tls");

    // SSL_CERT_FILE, which rustls-native-certs reads instead, holding the mock's CA.
    let with_ca = dir.join("mock-ca.pem");
    std::fs::write(&with_ca, server.ca_pem().unwrap()).unwrap();
    in_child(&server, Some(&with_ca), "ok");

    // A store without a certificate, and one that is not there: the client is not built.
    let empty = dir.join("no-certificate.pem");
    std::fs::write(&empty, "no certificate here\n").unwrap();
    in_child(&server, Some(&empty), "config");
    in_child(&server, Some(&dir.join("absent.pem")), "config");

    std::fs::remove_dir_all(&dir).unwrap();
}
