//! `kms demo`: the emulator on loopback, queried through both transports with both kinds
//! of credentials, and a wrong key to show what an error looks like; then short-lived
//! credentials from the emulator's ECS metadata service, refreshed ahead of expiry while
//! calls go on.

use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use kms_mock::{BlockingMockServer, MockConfig};
use kms_proto::call::Error;
use kms_proto::credentials::{ENV_METADATA_ENDPOINT, Provider};
use kms_proto::{AkSk, AuthToken, ClientConfig, Credentials, Endpoint, InstanceCount, ProjectId};

use crate::credentials::rfc3339;
use crate::output::stdout_line;

const COUNT: u64 = 15;

/// How long the temporary credentials of the emulator's metadata service live in the demo.
/// The refresh margin of credentials this short is half their lifetime, so a new one is
/// fetched about every 2 s.
const LIFETIME: Duration = Duration::from_secs(4);
/// How long the refresh part keeps calling: a little over two lifetimes.
const REFRESH_RUN: Duration = Duration::from_secs(9);
/// How often it calls.
const CALL_EVERY: Duration = Duration::from_millis(250);

fn made_up(alphabet: &[u8], len: usize) -> String {
    (0..len)
        .map(|_| {
            char::from(
                alphabet
                    .get(fastrand::usize(..alphabet.len()))
                    .copied()
                    .unwrap_or(b'0'),
            )
        })
        .collect()
}

pub(crate) fn run() -> ExitCode {
    let project = made_up(b"0123456789abcdef", 32);
    let ak = made_up(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 20);
    let sk = made_up(
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
        40,
    );
    let token = format!(
        "MIIdemo{}",
        made_up(
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
            48
        )
    );
    let server = match BlockingMockServer::start(
        MockConfig::new()
            .with_project(&project, COUNT)
            .with_aksk(&ak, &sk)
            .with_token(&token, &project)
            .with_metadata()
            .with_credential_lifetime(LIFETIME),
    ) {
        Ok(server) => server,
        Err(e) => {
            crate::output::stderr_line(&format!(
                "kms demo: cannot start the emulator on 127.0.0.1: {e}"
            ));
            return ExitCode::FAILURE;
        }
    };
    stdout_line(
        "kms demo: query the number of KMS instances (ShowUserInstances) against a local emulator",
    );
    stdout_line(&format!(
        "  emulator: {} (project {project}, {COUNT} customer master keys, made-up AK {ak} and an IAM token)",
        server.url()
    ));
    stdout_line("");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let Ok(runtime) = runtime else {
        crate::output::stderr_line("kms demo: cannot start the async runtime");
        return ExitCode::FAILURE;
    };
    let config = |credentials: Credentials| -> Option<ClientConfig> {
        Some(ClientConfig::new(
            Endpoint::parse(&server.url()).ok()?,
            ProjectId::new(&project).ok()?,
            credentials,
        ))
    };
    let (Ok(aksk), Ok(auth_token), Ok(wrong)) = (
        AkSk::new(&ak, &sk),
        AuthToken::new(&token),
        AkSk::new(&ak, "not-the-right-secret-key"),
    ) else {
        return ExitCode::FAILURE;
    };
    let cases: [(&str, &str, Credentials); 5] = [
        (
            "kms-ureq",
            "AK/SK, signed (SDK-HMAC-SHA256)",
            aksk.clone().into(),
        ),
        (
            "kms-ureq",
            "IAM token (X-Auth-Token)",
            auth_token.clone().into(),
        ),
        ("kms-hyper", "AK/SK, signed (SDK-HMAC-SHA256)", aksk.into()),
        ("kms-hyper", "IAM token (X-Auth-Token)", auth_token.into()),
        ("kms-ureq", "AK/SK with a wrong SK", wrong.into()),
    ];
    let mut all_as_expected = true;
    for (i, (transport, auth, credentials)) in cases.into_iter().enumerate() {
        let Some(config) = config(credentials) else {
            return ExitCode::FAILURE;
        };
        let started = Instant::now();
        let result: Result<InstanceCount, Error> = if transport == "kms-hyper" {
            runtime.block_on(async { kms_hyper::Client::new(config)?.show_user_instances().await })
        } else {
            kms_ureq::Client::new(config).and_then(|c| c.show_user_instances())
        };
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        let expect_error = i == 4;
        let line = match &result {
            Ok(count) => format!(
                "{} customer master keys (request id {}) in {ms:.1} ms",
                count.count(),
                count.request_id().unwrap_or("none")
            ),
            Err(e) => format!("error, as expected: {e}"),
        };
        all_as_expected &= match &result {
            Ok(count) => !expect_error && count.count() == COUNT,
            Err(e) => {
                expect_error && e.status().map(|s| s.as_u16()) == Some(401) && e.attempts() == 1
            }
        };
        stdout_line(&format!("  {transport:<9}  {auth:<32}  {line}"));
    }
    stdout_line("");
    stdout_line(&format!(
        "  the emulator saw {} requests on {} connections; the wrong SK was tried once, never retried (a retried 401 gets an AK locked)",
        server.requests().len(),
        server.connections()
    ));
    stdout_line("");
    all_as_expected &= refresh(&server, &project);
    stdout_line("");
    stdout_line("Against the real service:");
    stdout_line(
        "  export HUAWEICLOUD_SDK_AK=... HUAWEICLOUD_SDK_SK=... HUAWEICLOUD_SDK_PROJECT_ID=...",
    );
    stdout_line(
        "  kms count --region cn-north-4        (or HUAWEICLOUD_SDK_AUTH_TOKEN=... for a token)",
    );
    if all_as_expected {
        ExitCode::SUCCESS
    } else {
        crate::output::stderr_line("kms demo: some results were not as expected (see above)");
        ExitCode::FAILURE
    }
}

/// Calls through a client whose credentials come from the emulator's ECS metadata service,
/// which issues credentials that live [`LIFETIME`], for [`REFRESH_RUN`], and shows each new
/// access key (its first 4 characters only) as the client refreshes them ahead of expiry.
/// Whether every call succeeded and the credentials were refreshed at least once.
fn refresh(server: &BlockingMockServer, project: &str) -> bool {
    let url = server.url();
    // The metadata service's address, as HUAWEICLOUD_SDK_METADATA_ENDPOINT would give it,
    // without touching the process's environment.
    let provider = Provider::metadata(|name| (name == ENV_METADATA_ENDPOINT).then(|| url.clone()));
    let (Ok(endpoint), Ok(project)) = (Endpoint::parse(&url), ProjectId::new(project)) else {
        return false;
    };
    let client =
        match kms_ureq::Client::new(ClientConfig::from_provider(endpoint, project, provider)) {
            Ok(client) => client,
            Err(e) => {
                crate::output::stderr_line(&format!("kms demo: cannot make the client: {e}"));
                return false;
            }
        };
    stdout_line(&format!(
        "Credentials that expire, refreshed ahead of time: the emulator's ECS metadata service issues temporary AK/SK that live {} s; kms-ureq calls every {} ms for {} s:",
        LIFETIME.as_secs(),
        CALL_EVERY.as_millis(),
        REFRESH_RUN.as_secs()
    ));
    let issued_before = server.issued_credentials();
    let started = Instant::now();
    let (mut calls, mut failed, mut keys) = (0u32, 0u32, 0u32);
    // The access key in use and when it expires.
    let mut current: Option<(String, Option<SystemTime>)> = None;
    while started.elapsed() < REFRESH_RUN {
        calls += 1;
        let result = client.show_user_instances();
        let at = started.elapsed().as_secs_f64();
        match result {
            Ok(count) if count.count() == COUNT => {}
            Ok(count) => {
                failed += 1;
                stdout_line(&format!(
                    "  {at:5.1} s  call {calls} answered {} instead of {COUNT}",
                    count.count()
                ));
            }
            Err(e) => {
                failed += 1;
                stdout_line(&format!("  {at:5.1} s  call {calls} failed: {e}"));
            }
        }
        if let Some(identity) = client.core().identity() {
            let ak = access_key(identity.credentials());
            if current.as_ref().map(|(ak, _)| ak) != Some(&ak) {
                keys += 1;
                let shown: String = ak.chars().take(4).collect();
                let expire = identity
                    .expires_at()
                    .map_or_else(|| "never".to_owned(), rfc3339);
                let line = match &current {
                    None => format!(
                        "  {at:5.1} s  credentials from {} ({}): AK {shown}..., expire {expire}",
                        identity.source().label(),
                        identity.source().as_str()
                    ),
                    Some((_, previous)) => {
                        let left = previous
                            .and_then(|p| p.duration_since(SystemTime::now()).ok())
                            .map_or_else(String::new, |left| {
                                format!(
                                    " (the previous ones were still valid for {:.1} s)",
                                    left.as_secs_f64()
                                )
                            });
                        format!("  {at:5.1} s  refreshed: AK {shown}..., expire {expire}{left}")
                    }
                };
                stdout_line(&line);
                current = Some((ak, identity.expires_at()));
            }
        }
        if let Some(wait) = (CALL_EVERY * calls).checked_sub(started.elapsed()) {
            std::thread::sleep(wait);
        }
    }
    let issued = server.issued_credentials().saturating_sub(issued_before);
    let outcome = match failed {
        0 => "none failed".to_owned(),
        n => format!("{n} failed"),
    };
    stdout_line(&format!(
        "  {calls} calls in {:.1} s, {outcome}; the emulator issued {issued} credentials. The client fetches new ones in the background once less than half their lifetime ({:.1} s here) is left, so no call waits for them.",
        started.elapsed().as_secs_f64(),
        LIFETIME.as_secs_f64() / 2.0
    ));
    failed == 0 && keys >= 2
}

/// The access key id of `credentials` (not a secret: it travels in `Authorization`).
fn access_key(credentials: &Credentials) -> String {
    match credentials {
        Credentials::AkSk(aksk) => aksk.access_key().to_owned(),
        _ => "(an IAM token)".to_owned(),
    }
}
