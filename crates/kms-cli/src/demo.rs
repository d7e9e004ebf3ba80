//! `kms demo`: the emulator on loopback, queried through both transports with both kinds
//! of credentials, and a wrong key to show what an error looks like.

use std::process::ExitCode;
use std::time::Instant;

use kms_mock::{BlockingMockServer, MockConfig};
use kms_proto::call::Error;
use kms_proto::{AkSk, AuthToken, ClientConfig, Credentials, Endpoint, InstanceCount, ProjectId};

use crate::output::stdout_line;

const COUNT: u64 = 15;

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
            .with_token(&token, &project),
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
