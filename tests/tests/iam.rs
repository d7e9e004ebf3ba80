//! Through IAM and STS, on every transport, against `kms-mock --iam` on 127.0.0.1: project
//! discovery, OIDC federation, STS assume-with-oidc and password tokens. Each case runs on
//! each transport as a test of its own, `iam::<case>::<transport>`.
//!
//! ```sh
//! cargo test -p kms-conformance --test iam -- --list
//! ```

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // a test fails by panicking

use std::process::ExitCode;
use std::time::{Duration, Instant};

use kms_conformance::Transport;
use kms_conformance::cases::Case;
use kms_conformance::client::{SharedClient, TempDir, all_succeeded, ensure, lookup};
use kms_conformance::fixtures::{
    DOMAIN, ID_TOKEN, IDP, PASSWORD, PROJECT, PROVIDER_URN, REGION, STS_TOKEN, USER,
};
use kms_conformance::trace::Capture;
use kms_mock::{BlockingMockServer, Fault, MockConfig};
use kms_proto::call::ErrorKind;
use kms_proto::credentials::{
    ENV_IAM_DOMAIN, ENV_IAM_PASSWORD, ENV_IAM_USER, ENV_ID_TOKEN_FILE, ENV_IDP_ID,
    ENV_OIDC_AGENCY_URN, ENV_OIDC_PROVIDER_URN, ENV_OIDC_TOKEN_FILE, ENV_STS_ENDPOINT, Provider,
    SourceKind,
};
use kms_proto::iam::ENV_IAM_ENDPOINT;
use kms_proto::{AkSk, ClientConfig, Endpoint, ProjectId, Region};

const OTHER: &str = "5b3a7e1fd1c94dd6a7b7c0a1e2f3a4b5";
const AK: &str = "IAMCONFORMANCEAK001";
const SK: &str = "iam-conformance-secret-key-000000000000";
const PROJECTS_PATH: &str = "/v3/projects";

fn emulator(more: impl FnOnce(MockConfig) -> MockConfig) -> BlockingMockServer {
    let config = MockConfig::new()
        .with_iam()
        .with_aksk(AK, SK)
        .with_idp(IDP, ID_TOKEN)
        .with_oidc_provider(PROVIDER_URN, STS_TOKEN)
        .with_user(DOMAIN, USER, PASSWORD);
    BlockingMockServer::start(more(config)).unwrap()
}

fn one_project(m: MockConfig) -> MockConfig {
    m.with_project_in(PROJECT, 15, REGION)
}

fn endpoint(server: &BlockingMockServer) -> Endpoint {
    Endpoint::parse(&server.url()).unwrap()
}

fn region() -> Region {
    Region::new(REGION).unwrap()
}

/// A client that discovers its project, with `provider`.
fn discovering(server: &BlockingMockServer, provider: Provider) -> ClientConfig {
    ClientConfig::discover_project(endpoint(server), region(), endpoint(server), provider)
}

fn known(server: &BlockingMockServer, provider: Provider) -> ClientConfig {
    ClientConfig::from_provider(endpoint(server), ProjectId::new(PROJECT).unwrap(), provider)
}

fn aksk() -> Provider {
    Provider::fixed(AkSk::new(AK, SK).unwrap().into())
}

fn count_path(server: &BlockingMockServer, path: &str) -> usize {
    server
        .requests()
        .iter()
        .filter(|r| r.path() == path)
        .count()
}

/// One project named after the region: found once, used by a hundred calls, and by fifty
/// at once on a fresh client.
fn discovery_once(transport: Transport) -> Result<(), String> {
    let server = emulator(one_project);
    let client = SharedClient::new(transport, discovering(&server, aksk())).unwrap();
    ensure(
        client.project().map(|p| p.as_str().to_owned()).is_none(),
        || "a project before any call".into(),
    )?;
    for _ in 0..100 {
        let count = client.call().map_err(|e| e.to_string())?;
        ensure(count.count() == 15, || format!("count {}", count.count()))?;
    }
    ensure(count_path(&server, PROJECTS_PATH) == 1, || {
        format!(
            "{} IAM requests for 100 calls",
            count_path(&server, PROJECTS_PATH)
        )
    })?;
    let listing = server
        .requests()
        .into_iter()
        .find(|r| r.path() == PROJECTS_PATH)
        .unwrap();
    ensure(
        listing.path_and_query == format!("{PROJECTS_PATH}?name={REGION}")
            && listing
                .header("authorization")
                .is_some_and(|a| a.starts_with("SDK-HMAC-SHA256 Access=IAMCONFORMANCEAK001")),
        || {
            format!(
                "{} signed {:?}",
                listing.path_and_query,
                listing.header("authorization").map(|_| "yes")
            )
        },
    )?;
    server.clear_requests();
    let fresh = SharedClient::new(transport, discovering(&server, aksk())).unwrap();
    let results = fresh.calls_at_once(50)?;
    all_succeeded(&results, 50)?;
    ensure(count_path(&server, PROJECTS_PATH) == 1, || {
        format!(
            "{} IAM requests for 50 calls at once",
            count_path(&server, PROJECTS_PATH)
        )
    })
}

/// No project, or two, named after the region: a typed error that lists what was found,
/// quotes IAM's trace id and says how to give the id; nothing is sent to KMS.
fn discovery_none_or_several(transport: Transport) -> Result<(), String> {
    for (name, setup) in [
        (
            "none",
            (|m: MockConfig| m.with_project_in(PROJECT, 15, "ap-southeast-1"))
                as fn(MockConfig) -> MockConfig,
        ),
        ("several", |m: MockConfig| {
            m.with_project_in(PROJECT, 15, REGION)
                .with_project_in(OTHER, 3, REGION)
        }),
    ] {
        let server = emulator(setup);
        let client = SharedClient::new(transport, discovering(&server, aksk())).unwrap();
        let error = client.call().expect_err(name);
        ensure(error.kind() == ErrorKind::Project, || {
            format!("{name}: {:?} {error}", error.kind())
        })?;
        let text = error.to_string();
        ensure(text.contains("(IAM trace id "), || {
            format!("{name}: {text}")
        })?;
        ensure(
            text.ends_with(
                "give the project id explicitly (--project-id or HUAWEICLOUD_SDK_PROJECT_ID)",
            ),
            || format!("{name}: {text}"),
        )?;
        match name {
            "none" => ensure(
                text.contains("IAM lists no project named cn-north-4"),
                || text.clone(),
            )?,
            _ => ensure(
                text.contains("IAM lists 2 projects named cn-north-4: ")
                    && text.contains(PROJECT)
                    && text.contains(OTHER),
                || text.clone(),
            )?,
        }
        ensure(
            server.requests().iter().all(|r| r.path() == PROJECTS_PATH),
            || format!("{name}: KMS was called"),
        )?;
    }
    Ok(())
}

/// IAM refuses the listing (a wrong SK): its code and trace id reach the caller.
fn discovery_iam_error(transport: Transport) -> Result<(), String> {
    let server = emulator(one_project);
    let wrong = Provider::fixed(AkSk::new(AK, "not-the-secret-key").unwrap().into());
    let client = SharedClient::new(transport, discovering(&server, wrong)).unwrap();
    let error = client.call().expect_err("a wrong SK");
    ensure(error.kind() == ErrorKind::Project, || {
        format!("{:?}", error.kind())
    })?;
    let text = error.to_string();
    ensure(
        text.starts_with("could not find the project id: IAM answered 401 Unauthorized")
            && text.contains("(IAM trace id "),
        || text.clone(),
    )
}

/// IAM fails the listing (503): the call that asked ends with IAM's error, the call right
/// after ends at once with the same error, remembered, without asking (IAM records one
/// request, not two); once the backoff (at most 1 s after a first failure) has passed and
/// IAM has recovered, the next call asks and counts.
fn discovery_backoff(transport: Transport) -> Result<(), String> {
    let server = emulator(one_project);
    server
        .faults()
        .when(|r| r.path() == PROJECTS_PATH, Fault::status(503));
    let client = SharedClient::new(transport, discovering(&server, aksk())).unwrap();
    let remembered = |error: &kms_proto::call::Error| match error {
        kms_proto::call::Error::Project { error } => error.remembered(),
        _ => None,
    };
    let first = client.call().expect_err("IAM fails");
    ensure(
        first.kind() == ErrorKind::Project && remembered(&first).is_none(),
        || format!("the first call: {:?} {first}", first.kind()),
    )?;
    let second = client.call().expect_err("IAM failed a moment ago");
    let text = second.to_string();
    let Some(backoff) = remembered(&second) else {
        return Err(format!(
            "the second call's error is not the remembered one: {text}"
        ));
    };
    ensure(
        second.kind() == ErrorKind::Project
            && backoff.failures() == 1
            && backoff.asks_again_in() <= Duration::from_secs(1)
            && text
                .contains("IAM answered 503 Service Unavailable (remembered from an earlier call"),
        || format!("the second call: {backoff:?} {text}"),
    )?;
    let asked = count_path(&server, PROJECTS_PATH);
    ensure(asked == 1, || {
        format!("{asked} IAM requests for two calls in a row while IAM fails")
    })?;
    server.faults().clear();
    std::thread::sleep(backoff.asks_again_in());
    let count = client
        .call()
        .map_err(|e| format!("after the backoff: {e}"))?;
    ensure(count.count() == 15, || format!("count {}", count.count()))?;
    let asked = count_path(&server, PROJECTS_PATH);
    ensure(asked == 2, || {
        format!("{asked} IAM requests: expected one more after the backoff")
    })?;
    ensure(
        server
            .requests()
            .iter()
            .filter(|r| r.path() != PROJECTS_PATH)
            .count()
            == 1,
        || "KMS was called while the project was unknown".into(),
    )
}

/// IAM throttles the listing (429, `Retry-After: 2`): the calls of the next 2 s end at once
/// with that failure, remembered, without asking IAM again, although the backoff after a
/// first failure is at most 1 s; then one asks and counts.
fn discovery_retry_after(transport: Transport) -> Result<(), String> {
    let server = emulator(one_project);
    server.faults().when(
        |r| r.path() == PROJECTS_PATH,
        Fault::status(429).with_header("Retry-After", "2"),
    );
    let client = SharedClient::new(transport, discovering(&server, aksk())).unwrap();
    let remembered = |error: &kms_proto::call::Error| match error {
        kms_proto::call::Error::Project { error } => error.remembered(),
        _ => None,
    };
    let t0 = std::time::Instant::now();
    let first = client.call().expect_err("IAM throttles");
    ensure(first.kind() == ErrorKind::Project, || {
        format!("the first call: {:?} {first}", first.kind())
    })?;
    server.faults().clear();
    let second = client.call().expect_err("IAM asked for 2 s");
    let backoff = remembered(&second).ok_or_else(|| format!("not remembered: {second}"))?;
    ensure(
        // More than a first failure's backoff can be (1 s): what IAM asked.
        backoff.asks_again_in() > Duration::from_secs(1)
            && backoff.asks_again_in() <= Duration::from_secs(2),
        || format!("IAM is asked again in {:?}", backoff.asks_again_in()),
    )?;
    // Past the longest backoff after a first failure (1 s), short of what IAM asked (with
    // 0.8 s to spare for a loaded machine).
    std::thread::sleep(Duration::from_millis(1200).saturating_sub(t0.elapsed()));
    let third = client
        .call()
        .expect_err("the client asked IAM again before its Retry-After");
    ensure(remembered(&third).is_some(), || {
        format!("the third call asked IAM: {third}")
    })?;
    let asked = count_path(&server, PROJECTS_PATH);
    ensure(asked == 1, || {
        format!("{asked} IAM requests within 1.2 s of a 429 asking for 2 s")
    })?;
    std::thread::sleep(remembered(&third).map_or(Duration::ZERO, |r| r.asks_again_in()));
    let count = client
        .call()
        .map_err(|e| format!("after the Retry-After: {e}"))?;
    ensure(count.count() == 15, || format!("count {}", count.count()))?;
    let asked = count_path(&server, PROJECTS_PATH);
    ensure(asked == 2, || {
        format!("{asked} IAM requests: expected one more after the Retry-After")
    })
}

/// OIDC federation from the environment: counts, and the identity-token file is read
/// again at every refresh (a rotated wrong token fails the refresh once the credentials
/// expire; the right one again recovers).
fn federation(transport: Transport) -> Result<(), String> {
    let server = emulator(|m| one_project(m).with_credential_lifetime(Duration::from_secs(3)));
    let dir = TempDir::new("federation").unwrap();
    let token_file = dir.write("id-token", &format!("{ID_TOKEN}\n")).unwrap();
    let provider = Provider::environment(lookup(vec![
        (ENV_IDP_ID, IDP.into()),
        (ENV_ID_TOKEN_FILE, token_file),
        (ENV_IAM_ENDPOINT, server.url()),
    ]));
    let client = SharedClient::new(transport, known(&server, provider)).unwrap();
    client.call().map_err(|e| e.to_string())?;
    ensure(
        client.identity().map(|i| i.source()) == Some(SourceKind::IamFederation),
        || format!("{:?}", client.identity().map(|i| i.source())),
    )?;
    ensure(
        count_path(&server, "/v3.0/OS-AUTH/id-token/tokens") == 1
            && count_path(&server, "/v3.0/OS-CREDENTIAL/securitytokens") == 1,
        || {
            format!(
                "{:?}",
                server
                    .requests()
                    .iter()
                    .map(|r| r.path().to_owned())
                    .collect::<Vec<_>>()
            )
        },
    )?;
    dir.write("id-token", "eyJ.rotated-to-a-token-IAM-refuses.sig")
        .unwrap();
    std::thread::sleep(Duration::from_millis(3100));
    let error = client.call().expect_err("the rotated token is refused");
    ensure(error.kind() == ErrorKind::Credentials, || {
        format!("{:?}: {error}", error.kind())
    })?;
    let source = &error.credentials().unwrap().sources()[0];
    ensure(
        source.status().map(|s| s.as_u16()) == Some(401) && source.trace_id().is_some(),
        || format!("{source}"),
    )?;
    dir.write("id-token", ID_TOKEN).unwrap();
    let until = Instant::now() + Duration::from_secs(8);
    while client.call().is_err() {
        ensure(Instant::now() < until, || {
            "no recovery once the token file was right again".into()
        })?;
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(())
}

/// STS assume-with-oidc: counts; 200 calls at once on a cold cache make one STS request.
fn sts(transport: Transport) -> Result<(), String> {
    let server = emulator(one_project);
    let dir = TempDir::new("sts").unwrap();
    let token_file = dir.write("oidc", STS_TOKEN).unwrap();
    let provider = Provider::oidc_sts(lookup(vec![
        (ENV_OIDC_PROVIDER_URN, PROVIDER_URN.into()),
        (ENV_OIDC_AGENCY_URN, "iam::0123:agency:deployer".into()),
        (ENV_OIDC_TOKEN_FILE, token_file),
        (ENV_STS_ENDPOINT, server.url()),
    ]));
    let client = SharedClient::new(transport, known(&server, provider)).unwrap();
    let results = client.calls_at_once(200)?;
    all_succeeded(&results, 200)?;
    ensure(
        client.identity().map(|i| i.source()) == Some(SourceKind::OidcSts),
        || format!("{:?}", client.identity().map(|i| i.source())),
    )?;
    let assumed = count_path(&server, "/v5/agencies/assume-with-oidc");
    ensure(assumed == 1, || {
        format!("{assumed} STS requests for 200 calls at once")
    })
}

/// A password token: sent as X-Auth-Token, one token for a hundred calls, scoped by the
/// region's name when the project is discovered; a wrong password is IAM's error with
/// its trace id; the password appears in no log line or error.
fn password(transport: Transport) -> Result<(), String> {
    let capture = Capture::default();
    let server = emulator(one_project);
    let env = |password: &str| {
        lookup(vec![
            (ENV_IAM_USER, USER.into()),
            (ENV_IAM_DOMAIN, DOMAIN.into()),
            (ENV_IAM_PASSWORD, password.into()),
            (ENV_IAM_ENDPOINT, server.url()),
        ])
    };
    let (texts, tokens) = capture.during(|| -> Result<(Vec<String>, u64), String> {
        let provider = Provider::iam_password(env(PASSWORD)).with_region(region());
        let client = SharedClient::new(transport, discovering(&server, provider)).unwrap();
        for _ in 0..100 {
            client.call().map_err(|e| e.to_string())?;
        }
        ensure(
            client.identity().map(|i| i.source()) == Some(SourceKind::IamPassword),
            || format!("{:?}", client.identity().map(|i| i.source())),
        )?;
        let kms = server
            .requests()
            .into_iter()
            .filter(|r| r.path().starts_with("/v1.0/"))
            .collect::<Vec<_>>();
        ensure(
            kms.len() == 100 && kms.iter().all(|r| r.headers.contains_key("x-auth-token")),
            || "KMS calls without X-Auth-Token".into(),
        )?;
        let wrong = Provider::iam_password(env("wrong password")).with_region(region());
        let error = SharedClient::new(transport, known(&server, wrong))
            .unwrap()
            .call()
            .expect_err("wrong");
        let text = error.to_string();
        ensure(
            text.contains(
                "answered 401 Unauthorized 401: The username or password is wrong. (IAM trace id ",
            ),
            || text.clone(),
        )?;
        Ok((vec![text, format!("{error:?}")], server.issued_tokens()))
    })?;
    ensure(tokens == 1, || format!("{tokens} tokens for 100 calls"))?;
    let logs = capture.text();
    for text in texts.iter().chain([&logs]) {
        ensure(
            !text.contains(PASSWORD) && !text.contains("wrong password"),
            || "a password appears in a log line or an error".into(),
        )?;
    }
    Ok(())
}

/// Issue 21, item 4: IAM, STS and KMS answering with an error that echoes the request
/// whole (`Fault::Echo`: every header, the body) get no secret into the error's
/// `Display`, `Debug`, message or the logs: not the password, the identity tokens, the
/// IAM token IAM gave, nor the X-Auth-Token KMS was sent.
fn echoed_secrets(transport: Transport) -> Result<(), String> {
    let capture = Capture::default();
    let server = emulator(one_project);
    let dir = TempDir::new("echo").unwrap();
    let id_file = dir.write("id-token", ID_TOKEN).unwrap();
    let sts_file = dir.write("oidc", STS_TOKEN).unwrap();
    let url = server.url();
    let password = || {
        Provider::iam_password(lookup(vec![
            (ENV_IAM_USER, USER.into()),
            (ENV_IAM_DOMAIN, DOMAIN.into()),
            (ENV_IAM_PASSWORD, PASSWORD.into()),
            (ENV_IAM_ENDPOINT, url.clone()),
        ]))
        .with_region(region())
    };
    let cases: Vec<(&str, &'static str, Provider)> = vec![
        ("password", "/v3/auth/tokens", password()),
        (
            "federation",
            "/v3.0/OS-AUTH/id-token/tokens",
            Provider::environment(lookup(vec![
                (ENV_IDP_ID, IDP.into()),
                (ENV_ID_TOKEN_FILE, id_file.clone()),
                (ENV_IAM_ENDPOINT, url.clone()),
            ])),
        ),
        (
            "federation's IAM token",
            "/v3.0/OS-CREDENTIAL/securitytokens",
            Provider::environment(lookup(vec![
                (ENV_IDP_ID, IDP.into()),
                (ENV_ID_TOKEN_FILE, id_file),
                (ENV_IAM_ENDPOINT, url.clone()),
            ])),
        ),
        (
            "sts",
            "/v5/agencies/assume-with-oidc",
            Provider::oidc_sts(lookup(vec![
                (ENV_OIDC_PROVIDER_URN, PROVIDER_URN.into()),
                (ENV_OIDC_AGENCY_URN, "iam::0123:agency:deployer".into()),
                (ENV_OIDC_TOKEN_FILE, sts_file),
                (ENV_STS_ENDPOINT, url.clone()),
            ])),
        ),
        ("kms, with the password's token", "/v1.0/", password()),
    ];
    let shown = capture.during(|| -> Result<Vec<(String, String)>, String> {
        let mut shown = Vec::new();
        for (name, path, provider) in cases {
            server.faults().clear();
            server.faults().when(
                move |r| r.path().starts_with(path),
                Fault::Echo { status: 400 },
            );
            let error = SharedClient::new(transport, known(&server, provider))
                .unwrap()
                .call()
                .expect_err(name);
            let mut text = format!("{error} | {error:?} | {:?}", error.message());
            if let Some(credentials) = error.credentials() {
                for source in credentials.sources() {
                    text.push_str(&format!(" | {:?} {:?}", source.message(), source.code()));
                }
            }
            shown.push((name.to_owned(), text));
        }
        Ok(shown)
    })?;
    // Every secret of the exchanges: what the client held, and the tokens IAM issued
    // (read from what the emulator recorded).
    let mut secrets: Vec<String> = [PASSWORD, ID_TOKEN, STS_TOKEN]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    for request in server.requests() {
        for name in ["x-auth-token", "x-subject-token"] {
            if let Some(value) = request.header(name) {
                secrets.push(value.to_owned());
            }
        }
    }
    ensure(secrets.len() > 3, || {
        "KMS was never sent an X-Auth-Token".into()
    })?;
    let logs = capture.text();
    for (name, text) in shown.iter().chain([&("logs".to_owned(), logs)]) {
        ensure(name == "logs" || text.contains("[redacted]"), || {
            format!("{name}: no echo was scrubbed: {text}")
        })?;
        for secret in &secrets {
            ensure(!text.contains(secret.as_str()), || {
                format!("{name}: a secret is shown: {text}")
            })?;
        }
    }
    Ok(())
}

/// A password token due for refresh is refreshed beside the calls (none fails, none
/// waits for IAM), once; federation on a cold cache under 200 calls at once asks IAM once.
fn refresh_ahead_and_single_flight(transport: Transport) -> Result<(), String> {
    // 4 s tokens: due at 2 s left.
    let server = emulator(|m| one_project(m).with_token_lifetime(Duration::from_secs(4)));
    let provider = Provider::iam_password(lookup(vec![
        (ENV_IAM_USER, USER.into()),
        (ENV_IAM_DOMAIN, DOMAIN.into()),
        (ENV_IAM_PASSWORD, PASSWORD.into()),
        (ENV_IAM_ENDPOINT, server.url()),
    ]));
    let client = SharedClient::new(transport, known(&server, provider)).unwrap();
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(3000) {
        client
            .call()
            .map_err(|e| format!("a call failed at {:?}: {e}", started.elapsed()))?;
        std::thread::sleep(Duration::from_millis(100));
    }
    let tokens = server.issued_tokens();
    ensure(tokens == 2, || {
        format!("{tokens} tokens over 3 s of 4 s tokens (expected 2)")
    })?;
    let kms: Vec<String> = server
        .requests()
        .iter()
        .filter(|r| r.path().starts_with("/v1.0/"))
        .filter_map(|r| r.header("x-auth-token").map(str::to_owned))
        .collect();
    let distinct: std::collections::BTreeSet<&String> = kms.iter().collect();
    ensure(distinct.len() == 2, || {
        format!("{} distinct tokens used", distinct.len())
    })?;

    let server = emulator(one_project);
    let dir = TempDir::new("flight").unwrap();
    let token_file = dir.write("id-token", ID_TOKEN).unwrap();
    let provider = Provider::iam_federation(lookup(vec![
        (ENV_IDP_ID, IDP.into()),
        (ENV_ID_TOKEN_FILE, token_file),
        (ENV_IAM_ENDPOINT, server.url()),
    ]));
    let client = SharedClient::new(transport, known(&server, provider)).unwrap();
    let results = client.calls_at_once(200)?;
    all_succeeded(&results, 200)?;
    let exchanges = count_path(&server, "/v3.0/OS-AUTH/id-token/tokens");
    ensure(exchanges == 1, || {
        format!("{exchanges} federation requests for 200 calls at once")
    })
}

const CASES: [Case; 10] = [
    ("discovery-once", discovery_once),
    ("discovery-backoff", discovery_backoff),
    ("discovery-retry-after", discovery_retry_after),
    ("discovery-none-or-several", discovery_none_or_several),
    ("discovery-iam-error", discovery_iam_error),
    ("federation", federation),
    ("sts", sts),
    ("password", password),
    ("echoed-secrets", echoed_secrets),
    (
        "refresh-ahead-and-single-flight",
        refresh_ahead_and_single_flight,
    ),
];

fn main() -> ExitCode {
    kms_conformance::cases::run("iam", &CASES)
}
