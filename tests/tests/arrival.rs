//! Credentials as they arrive, through every transport, against `kms-mock` on 127.0.0.1:
//! credentials that are already expired when a source answers (every temporary source),
//! and a machine whose clock is 20 minutes fast. Each case runs on each transport as a test
//! of its own, `arrival::<case>::<transport>`.
//!
//! Before credentials were judged on arrival, an expired answer made a client ask again at
//! once, forever (tens of thousands of requests a second on kms-ureq; kms-hyper until its
//! deadline, blaming a slow source).
//!
//! ```sh
//! cargo test -p kms-conformance --test arrival -- --list
//! ```

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // a test fails by panicking

use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use kms_conformance::Transport;
use kms_conformance::cases::Case;
use kms_conformance::client::{SharedClient, TempDir, ensure, lookup};
use kms_conformance::fixtures::{
    DOMAIN, ID_TOKEN, IDP, KMS_PATH, PASSWORD, POD_PATH, POD_TOKEN, PROJECT, PROVIDER_URN, REGION,
    STS_TOKEN, USER,
};
use kms_mock::{BlockingMockServer, MockConfig};
use kms_proto::call::{Error, ErrorKind};
use kms_proto::credentials::{
    ENV_IAM_DOMAIN, ENV_IAM_PASSWORD, ENV_IAM_USER, ENV_ID_TOKEN_FILE, ENV_IDP_ID,
    ENV_METADATA_ENDPOINT, ENV_OIDC_AGENCY_URN, ENV_OIDC_DURATION_SECONDS, ENV_OIDC_PROVIDER_URN,
    ENV_OIDC_TOKEN_FILE, ENV_POD_IDENTITY_TOKEN_FILE, ENV_POD_IDENTITY_URI, ENV_STS_ENDPOINT,
    Provider,
};
use kms_proto::iam::ENV_IAM_ENDPOINT;
use kms_proto::{ClientConfig, Endpoint, ProjectId, Region};

/// The emulator, serving every credential source; `more` changes its settings.
fn emulator(more: impl FnOnce(MockConfig) -> MockConfig) -> BlockingMockServer {
    let config = MockConfig::new()
        .with_project_in(PROJECT, 15, REGION)
        .with_metadata()
        .with_pod_identity_token(POD_TOKEN)
        .with_iam()
        .with_idp(IDP, ID_TOKEN)
        .with_oidc_provider(PROVIDER_URN, STS_TOKEN)
        .with_user(DOMAIN, USER, PASSWORD);
    BlockingMockServer::start(more(config)).unwrap()
}

/// Every temporary source, set up against `server` (files in `dir`).
fn source(name: &str, server: &BlockingMockServer, dir: &TempDir) -> Provider {
    let url = server.url();
    match name {
        "metadata" => Provider::metadata(lookup(vec![(ENV_METADATA_ENDPOINT, url)])),
        "pod-identity" => Provider::pod_identity(lookup(vec![
            (ENV_POD_IDENTITY_URI, format!("{url}{POD_PATH}")),
            (
                ENV_POD_IDENTITY_TOKEN_FILE,
                dir.write("pod-token", POD_TOKEN).unwrap(),
            ),
        ])),
        "oidc-sts" => Provider::oidc_sts(lookup(vec![
            (ENV_OIDC_PROVIDER_URN, PROVIDER_URN.into()),
            (ENV_OIDC_AGENCY_URN, "iam::0123:agency:deployer".into()),
            (ENV_OIDC_TOKEN_FILE, dir.write("oidc", STS_TOKEN).unwrap()),
            (ENV_OIDC_DURATION_SECONDS, "900".into()),
            (ENV_STS_ENDPOINT, url),
        ])),
        "iam-federation" => Provider::iam_federation(lookup(vec![
            (ENV_IDP_ID, IDP.into()),
            (ENV_ID_TOKEN_FILE, dir.write("id-token", ID_TOKEN).unwrap()),
            (ENV_IAM_ENDPOINT, url),
        ])),
        "iam-password" => Provider::iam_password(lookup(vec![
            (ENV_IAM_USER, USER.into()),
            (ENV_IAM_DOMAIN, DOMAIN.into()),
            (ENV_IAM_PASSWORD, PASSWORD.into()),
            (ENV_IAM_ENDPOINT, url),
        ]))
        .with_region(Region::new(REGION).unwrap()),
        other => panic!("no source {other}"),
    }
}

fn config(server: &BlockingMockServer, provider: Provider) -> ClientConfig {
    ClientConfig::from_provider(
        Endpoint::parse(&server.url()).unwrap(),
        ProjectId::new(PROJECT).unwrap(),
        provider,
    )
}

/// Requests to anything but KMS: the credential services.
fn credential_requests(server: &BlockingMockServer) -> usize {
    server
        .requests()
        .iter()
        .filter(|r| r.path() != KMS_PATH)
        .count()
}

const SOURCES: [&str; 5] = [
    "metadata",
    "pod-identity",
    "oidc-sts",
    "iam-federation",
    "iam-password",
];

/// Each temporary source answering credentials (or a token) that expire the moment they
/// are issued: every call fails at once, naming the source and the expiry, and ten calls
/// in a row ask the source a handful of times, not thousands.
fn expired_on_arrival(transport: Transport) -> Result<(), String> {
    for name in SOURCES {
        // Federation's IAM token must live for the exchange it is used in; the password
        // source's token is what expires there.
        let server = emulator(|m| match name {
            "iam-password" => m.with_token_lifetime(Duration::ZERO),
            _ => m.with_credential_lifetime(Duration::ZERO),
        });
        let dir = TempDir::new("arrival").unwrap();
        let client = SharedClient::new(transport, config(&server, source(name, &server, &dir)))
            .map_err(|e| format!("{name}: {e}"))?;
        let started = Instant::now();
        let mut errors = Vec::new();
        for _ in 0..10 {
            match client.call() {
                Ok(count) => return Err(format!("{name}: a count of {}", count.count())),
                Err(error) => errors.push(error),
            }
        }
        let took = started.elapsed();
        let asked = credential_requests(&server);
        // Two requests a refresh at most (a session token and the key; a token and the
        // credentials), and one refresh: the other nine calls fail while it backs off
        // (retried after 0.5 to 1 s).
        ensure(asked <= 4, || {
            format!("{name}: {asked} credential requests for 10 calls")
        })?;
        ensure(took < Duration::from_secs(5), || {
            format!("{name}: 10 calls took {took:?}")
        })?;
        ensure(
            server.requests().iter().all(|r| r.path() != KMS_PATH),
            || format!("{name}: KMS was called with expired credentials"),
        )?;
        for error in &errors {
            let Error::Credentials { error: why, .. } = error else {
                return Err(format!("{name}: not a credential error: {error}"));
            };
            ensure(why.is_expired_on_arrival(), || format!("{name}: {error}"))?;
            ensure(error.kind() == ErrorKind::Credentials, || {
                format!("{name}: {:?}", error.kind())
            })?;
            let text = error.to_string();
            ensure(
                text.contains("gave credentials that expire at")
                    && text.contains("this machine's time: ")
                    && text.contains("the service issued"),
                || format!("{name}: {text}"),
            )?;
        }
    }
    Ok(())
}

/// This machine's clock 20 minutes ahead of the services' (the emulator's clock 1200 s
/// behind), STS credentials of 900 s: by this machine's clock they expired 5 minutes before
/// they arrived, by STS's (its `Date`) they have 15 minutes to live. The client uses them,
/// corrects its signing clock once at KMS, and later calls ask neither again.
fn clock_20_minutes_fast(transport: Transport) -> Result<(), String> {
    let server = emulator(|m| m.with_clock(|| SystemTime::now() - Duration::from_secs(1200)));
    let dir = TempDir::new("fast-clock").unwrap();
    let client = SharedClient::new(
        transport,
        config(&server, source("oidc-sts", &server, &dir)),
    )
    .map_err(|e| e.to_string())?;
    for call in 0..5 {
        let count = client.call().map_err(|e| format!("call {call}: {e}"))?;
        ensure(count.count() == 15, || format!("count {}", count.count()))?;
    }
    let asked = credential_requests(&server);
    ensure(asked == 1, || format!("{asked} STS requests for 5 calls"))?;
    let kms = server
        .requests()
        .iter()
        .filter(|r| r.path() == KMS_PATH)
        .count();
    // The first call's first attempt is refused (signature expired) and re-signed.
    ensure(kms == 6, || format!("{kms} KMS requests for 5 calls"))
}

/// A credential service that holds its answer for 30 s: each exchange of a refresh gets
/// the client's attempt timeout (1 s here, `kms --timeout`), not the source's own 10 s, so
/// the call fails after about a second, saying the source did not answer, well within its
/// 3 s deadline (before: kms-ureq waited 10 s per exchange past the deadline, and kms-hyper
/// gave up at the deadline blaming a slow source).
fn slow_source_within_the_attempt_timeout(transport: Transport) -> Result<(), String> {
    for (name, path) in [
        ("oidc-sts", "/v5/agencies/assume-with-oidc"),
        ("iam-federation", "/v3.0/OS-AUTH/id-token/tokens"),
        ("iam-password", "/v3/auth/tokens"),
        ("pod-identity", POD_PATH),
    ] {
        let server = emulator(|m| m);
        server.faults().when(
            move |r| r.path() == path,
            kms_mock::Fault::DelayHeaders(Duration::from_secs(30)),
        );
        let dir = TempDir::new("slow").unwrap();
        let config = config(&server, source(name, &server, &dir))
            .with_attempt_timeout(Duration::from_secs(1))
            .with_deadline(Duration::from_secs(3));
        let client = SharedClient::new(transport, config).map_err(|e| e.to_string())?;
        let started = Instant::now();
        let error = match client.call() {
            Ok(count) => return Err(format!("{name}: a count of {}", count.count())),
            Err(error) => error,
        };
        let took = started.elapsed();
        ensure(took >= Duration::from_secs(1), || {
            format!("{name}: gave up before the attempt timeout: {took:?}")
        })?;
        ensure(took < Duration::from_secs(5), || {
            format!("{name}: {took:?} for a call with a 3 s deadline")
        })?;
        let text = error.to_string();
        ensure(
            text.contains("did not answer (no complete answer in time)"),
            || format!("{name}: {text}"),
        )?;
    }
    Ok(())
}

const CASES: [Case; 3] = [
    ("expired-on-arrival", expired_on_arrival),
    ("clock-20-minutes-fast", clock_20_minutes_fast),
    (
        "slow-source-within-the-attempt-timeout",
        slow_source_within_the_attempt_timeout,
    ),
];

fn main() -> ExitCode {
    kms_conformance::cases::run("arrival", &CASES)
}
