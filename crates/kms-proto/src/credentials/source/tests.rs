#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use super::*;
use crate::credentials::CredentialError;
use crate::transport::TransportErrorKind;

const T0: SystemTime = SystemTime::UNIX_EPOCH;
const DOC: &str = r#"{"credential":{"access":"TMPAK","secret":"TMPSK","securitytoken":"TMPTOKEN","expires_at":"2026-12-01T03:50:07.574000Z"}}"#;

/// What the sources see: files by path, and scripted HTTP answers in order.
#[derive(Default)]
struct World {
    files: HashMap<PathBuf, Vec<u8>>,
    answers: VecDeque<Answer>,
    /// What the refresh did, one line per file read or request.
    log: Vec<String>,
    /// Every header value of every request, to look for secrets.
    sent_headers: Vec<(String, http::HeaderValue)>,
    /// Whether each request was remote (IAM, STS).
    remote: Vec<bool>,
    /// `Debug` of each request.
    debug: Vec<String>,
}

enum Answer {
    Status(u16, &'static str),
    WithHeaders(u16, Vec<(&'static str, &'static str)>, &'static str),
    Fail(TransportErrorKind, bool),
    /// An error answer that quotes the request whole (method, URI, every header, the
    /// body), then `extra`: in a JSON error document, or as plain text.
    Echo {
        status: u16,
        headers: Vec<(&'static str, &'static str)>,
        json: bool,
        extra: &'static str,
    },
}

impl World {
    fn file(mut self, path: &str, contents: &str) -> Self {
        self.files.insert(path.into(), contents.as_bytes().to_vec());
        self
    }
    fn answer(mut self, status: u16, body: &'static str) -> Self {
        self.answers.push_back(Answer::Status(status, body));
        self
    }
    fn answer_with(
        mut self,
        status: u16,
        headers: Vec<(&'static str, &'static str)>,
        body: &'static str,
    ) -> Self {
        self.answers
            .push_back(Answer::WithHeaders(status, headers, body));
        self
    }
    fn echo(mut self, status: u16, json: bool) -> Self {
        self.answers.push_back(Answer::Echo {
            status,
            headers: Vec::new(),
            json,
            extra: "",
        });
        self
    }
    fn echo_with(
        mut self,
        status: u16,
        headers: Vec<(&'static str, &'static str)>,
        extra: &'static str,
    ) -> Self {
        self.answers.push_back(Answer::Echo {
            status,
            headers,
            json: true,
            extra,
        });
        self
    }
    fn fail(mut self, kind: TransportErrorKind, sent: bool) -> Self {
        self.answers.push_back(Answer::Fail(kind, sent));
        self
    }

    fn drive(
        &mut self,
        provider: &mut Provider,
        now: SystemTime,
    ) -> Result<Identity, CredentialError> {
        self.log.clear();
        let mut refresh = provider.refresh(now);
        let mut need = refresh.start();
        loop {
            need = match need {
                Need::Done(result) => return result,
                Need::File(read) => {
                    self.log.push(format!("read {}", read.path().display()));
                    let result = match self.files.get(read.path()) {
                        None => Err(FileProblem::NotFound),
                        Some(bytes) if bytes.len() as u64 > read.max_len() => {
                            Err(FileProblem::TooLarge {
                                limit: read.max_len(),
                            })
                        }
                        Some(bytes) => Ok(bytes.clone()),
                    };
                    refresh.on_file(result)
                }
                Need::Http(request) => {
                    self.remote.push(request.is_remote());
                    self.debug.push(format!("{request:?}"));
                    let (request, timeout) = request.into_parts();
                    assert!(timeout <= Duration::from_secs(10));
                    let mut line = format!("{} {}", request.method(), request.uri());
                    for (name, value) in request.headers() {
                        if name != "host" && name != "accept" {
                            line.push_str(&format!(" {name}={}", value.to_str().unwrap()));
                        }
                        self.sent_headers.push((name.to_string(), value.clone()));
                    }
                    if !request.body().is_empty() {
                        line.push_str(&format!(
                            " body={}",
                            String::from_utf8_lossy(request.body())
                        ));
                    }
                    self.log.push(line);
                    match self
                        .answers
                        .pop_front()
                        .expect("an answer scripted for every request")
                    {
                        Answer::Status(status, body) => refresh.on_response(
                            StatusCode::from_u16(status).unwrap(),
                            &HeaderMap::new(),
                            body.as_bytes(),
                        ),
                        Answer::WithHeaders(status, headers, body) => {
                            let mut map = HeaderMap::new();
                            for (name, value) in headers.iter().copied() {
                                map.insert(name, value.parse().unwrap());
                            }
                            refresh.on_response(
                                StatusCode::from_u16(status).unwrap(),
                                &map,
                                body.as_bytes(),
                            )
                        }
                        Answer::Fail(kind, sent) => {
                            refresh.on_failure(TransportFailure::new(kind, sent))
                        }
                        Answer::Echo {
                            status,
                            headers,
                            json,
                            extra,
                        } => {
                            let mut text = format!("{} {}", request.method(), request.uri());
                            for (name, value) in request.headers() {
                                text.push_str(&format!("; {name}: {}", value.to_str().unwrap()));
                            }
                            text.push_str(&format!(
                                "; body: {}; {extra}",
                                String::from_utf8_lossy(request.body())
                            ));
                            let body = match json {
                                true => serde_json::json!({
                                    "error_code": "ECHO.0001",
                                    "error_msg": text,
                                })
                                .to_string(),
                                false => text,
                            };
                            let mut map = HeaderMap::new();
                            for (name, value) in headers {
                                map.insert(name, value.parse().unwrap());
                            }
                            refresh.on_response(
                                StatusCode::from_u16(status).unwrap(),
                                &map,
                                body.as_bytes(),
                            )
                        }
                    }
                }
            }
        }
    }
}

fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |name| map.get(name).cloned()
}

fn ak_of(identity: &Identity) -> String {
    match identity.credentials() {
        Credentials::AkSk(a) => a.access_key().to_owned(),
        Credentials::Token(_) => "token".to_owned(),
    }
}

const HOME: (&str, &str) = ("HOME", "/home/u");
const META: (&str, &str) = (ENV_METADATA_ENDPOINT, "http://127.0.0.1:9");

#[test]
fn the_chain_lists_every_source_and_why_one_line_each() {
    let mut provider = Provider::default_chain(env(&[HOME]));
    let mut world = World::default().fail(TransportErrorKind::Connect, false);
    let error = world.drive(&mut provider, T0).unwrap_err();
    assert_eq!(
        world.log,
        [
            "read /home/u/.huaweicloud/credentials",
            "read /home/u/.hcloud/config.json",
            "PUT http://169.254.169.254/meta-data/latest/api/token x-metadata-token-ttl-seconds=21600 content-length=0",
        ]
    );
    let text = error.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 8, "{text}");
    assert_eq!(
        lines[1],
        "  - STS (OIDC): skipped: HUAWEICLOUD_OIDC_PROVIDER_URN is not set"
    );
    assert_eq!(
        lines[2],
        "  - environment variables: skipped: HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK, or HUAWEICLOUD_SDK_AUTH_TOKEN, are not set"
    );
    assert_eq!(
        lines[3],
        "  - IAM password: skipped: HUAWEICLOUD_SDK_IAM_USER is not set"
    );
    assert_eq!(
        lines[4],
        "  - profile file: skipped: no file at /home/u/.huaweicloud/credentials"
    );
    assert_eq!(
        lines[5],
        "  - KooCLI configuration: skipped: no file at /home/u/.hcloud/config.json"
    );
    assert_eq!(
        lines[6],
        "  - CCE pod identity: skipped: HC_CONTAINER_CREDENTIALS_FULL_URI is not set"
    );
    assert!(
        lines[7].starts_with("  - ECS metadata: the service at http://169.254.169.254/meta-data/latest/api/token was not reachable (the connection failed); not on an ECS instance?"),
        "{}",
        lines[7]
    );
    let kinds: Vec<SourceKind> = error
        .sources()
        .iter()
        .map(SourceError::source_kind)
        .collect();
    assert_eq!(
        kinds,
        [
            SourceKind::OidcSts,
            SourceKind::Environment,
            SourceKind::IamPassword,
            SourceKind::ProfileFile,
            SourceKind::KooCli,
            SourceKind::PodIdentity,
            SourceKind::Metadata
        ]
    );
    assert!(error.sources()[6].is_unreachable());
    assert!(error.sources()[..6].iter().all(SourceError::is_skipped));
}

#[test]
fn the_environment_comes_first() {
    let mut provider = Provider::default_chain(env(&[
        HOME,
        ("HUAWEICLOUD_SDK_AK", "ENVAK"),
        ("HUAWEICLOUD_SDK_SK", "sk"),
    ]));
    let mut world = World::default();
    let identity = world.drive(&mut provider, T0).unwrap();
    assert_eq!(
        (ak_of(&identity), identity.source(), identity.expires_at()),
        ("ENVAK".into(), SourceKind::Environment, None)
    );
    assert!(world.log.is_empty(), "{:?}", world.log);
}

#[test]
fn a_profile_file_then_koocli() {
    let profile = "[basic]\nak = FILEAK\nsk = filesk\n";
    let mut provider = Provider::default_chain(env(&[HOME]));
    let mut world = World::default().file("/home/u/.huaweicloud/credentials", profile);
    let identity = world.drive(&mut provider, T0).unwrap();
    assert_eq!(
        (ak_of(&identity), identity.source()),
        ("FILEAK".into(), SourceKind::ProfileFile)
    );

    let koocli = r#"{"current":"p1","profiles":[{"name":"p1","mode":"AKSK","accessKeyId":"KOOAK","secretAccessKey":"koosk"}]}"#;
    let mut provider = Provider::default_chain(env(&[HOME]));
    let mut world = World::default().file("/home/u/.hcloud/config.json", koocli);
    let identity = world.drive(&mut provider, T0).unwrap();
    assert_eq!(
        (ak_of(&identity), identity.source()),
        ("KOOAK".into(), SourceKind::KooCli)
    );
}

#[test]
fn a_named_profile_file_that_is_missing_is_a_failure_not_a_skip() {
    let mut provider =
        Provider::default_chain(env(&[HOME, (ENV_CREDENTIALS_FILE, "/etc/hc/creds"), META]));
    let mut world = World::default().fail(TransportErrorKind::Connect, false);
    let error = world.drive(&mut provider, T0).unwrap_err();
    let profile = &error.sources()[3];
    assert!(!profile.is_skipped());
    assert_eq!(
        profile.to_string(),
        "profile file: cannot use /etc/hc/creds: there is no such file"
    );
}

#[test]
fn pod_identity_reads_its_token_every_time_and_goes_before_metadata() {
    let lookup = env(&[
        HOME,
        (
            ENV_POD_IDENTITY_URI,
            "http://127.0.0.1:8/pod-identity/credentials",
        ),
        (ENV_POD_IDENTITY_TOKEN_FILE, "/var/run/token"),
        META,
    ]);
    let mut provider = Provider::default_chain(lookup);
    let mut world = World::default()
        .file("/var/run/token", "tok-1\n")
        .answer(200, DOC);
    let identity = world.drive(&mut provider, T0).unwrap();
    assert_eq!(identity.source(), SourceKind::PodIdentity);
    assert_eq!(ak_of(&identity), "TMPAK");
    assert_eq!(
        identity.expires_at(),
        Some(T0 + Duration::from_secs(1_796_097_007) + Duration::from_millis(574))
    );
    assert_eq!(world.log[2], "read /var/run/token");
    assert_eq!(
        world.log[3],
        "POST http://127.0.0.1:8/pod-identity/credentials authorization=tok-1 content-type=application/json body={}"
    );
    // The platform rotated the token: the next refresh reads it again, and asks only pod
    // identity (the source that answered).
    world = world.file("/var/run/token", "tok-2").answer(200, DOC);
    world.drive(&mut provider, T0).unwrap();
    assert_eq!(
        world.log,
        [
            "read /var/run/token",
            "POST http://127.0.0.1:8/pod-identity/credentials authorization=tok-2 content-type=application/json body={}"
        ]
    );
    assert!(
        world
            .sent_headers
            .iter()
            .filter(|(n, _)| n == "authorization")
            .all(|(_, v)| v.is_sensitive())
    );
}

#[test]
fn pod_identity_errors_name_the_status_code_and_message() {
    let lookup = env(&[
        (ENV_POD_IDENTITY_URI, "http://127.0.0.1:8/creds"),
        (ENV_POD_IDENTITY_TOKEN_FILE, "/t"),
    ]);
    let mut provider = Provider::pod_identity(lookup);
    let mut world = World::default().file("/t", "bad").answer(
        401,
        r#"{"error_code":"CCE.0401","error_msg":"token rejected"}"#,
    );
    let error = world.drive(&mut provider, T0).unwrap_err();
    let source = &error.sources()[0];
    assert_eq!(
        (source.status(), source.code(), source.message()),
        (
            Some(StatusCode::UNAUTHORIZED),
            Some("CCE.0401"),
            Some("token rejected")
        )
    );
    assert_eq!(
        error.to_string(),
        "no credentials: CCE pod identity: http://127.0.0.1:8/creds answered 401 Unauthorized CCE.0401: token rejected; check the pod's service account and HC_CONTAINER_AUTHORIZATION_TOKEN_FILE"
    );
    // A missing token file is a failure naming it.
    let mut world = World::default();
    let error = world.drive(&mut provider, T0).unwrap_err();
    assert_eq!(
        error.to_string(),
        "no credentials: CCE pod identity: cannot use /t: there is no such file"
    );
    // Only one of the two variables is a failure of the chain, not a skip.
    let provider =
        Provider::default_chain(env(&[(ENV_POD_IDENTITY_URI, "http://127.0.0.1:8/creds")]));
    let mut provider = provider;
    let mut world = World::default().fail(TransportErrorKind::Connect, false);
    let error = world.drive(&mut provider, T0).unwrap_err();
    assert!(error.to_string().contains("  - CCE pod identity: HC_CONTAINER_CREDENTIALS_FULL_URI is set but HC_CONTAINER_AUTHORIZATION_TOKEN_FILE is not"), "{error}");
    assert!(!error.sources()[5].is_skipped());
}

#[test]
fn metadata_keeps_its_session_token_and_renews_it_once_after_a_401() {
    let mut provider = Provider::metadata(env(&[META]));
    let put = "PUT http://127.0.0.1:9/meta-data/latest/api/token x-metadata-token-ttl-seconds=21600 content-length=0";
    let get = |token: &str| {
        format!("GET http://127.0.0.1:9/openstack/latest/securitykey x-metadata-token={token}")
    };
    let mut world = World::default().answer(200, "sess-1").answer(200, DOC);
    world.drive(&mut provider, T0).unwrap();
    assert_eq!(world.log, [put.to_owned(), get("sess-1")]);
    // The next refresh reuses the session token.
    world = world.answer(200, DOC);
    world
        .drive(&mut provider, T0 + Duration::from_secs(3600))
        .unwrap();
    assert_eq!(world.log, [get("sess-1")]);
    // A 401 without the agency text: the token went stale; a new one, once.
    world = world
        .answer(401, r#"{"message":"token expired"}"#)
        .answer(200, "sess-2")
        .answer(200, DOC);
    world
        .drive(&mut provider, T0 + Duration::from_secs(7200))
        .unwrap();
    assert_eq!(world.log, [get("sess-1"), put.to_owned(), get("sess-2")]);
    // Twice in a row: a failure, not a loop.
    world = world
        .answer(401, "no")
        .answer(200, "sess-3")
        .answer(401, "no");
    let error = world
        .drive(&mut provider, T0 + Duration::from_secs(7300))
        .unwrap_err();
    assert_eq!(world.log.len(), 3);
    assert_eq!(error.sources()[0].status(), Some(StatusCode::UNAUTHORIZED));
    // The session token is kept at most its 6 hours less 5 minutes.
    world = world.answer(200, "sess-4").answer(200, DOC);
    world
        .drive(&mut provider, T0 + Duration::from_secs(7300 + 6 * 3600))
        .unwrap();
    assert_eq!(world.log, [put.to_owned(), get("sess-4")]);
    assert!(
        world
            .sent_headers
            .iter()
            .filter(|(n, _)| n == "x-metadata-token")
            .all(|(_, v)| v.is_sensitive())
    );
    assert!(!format!("{provider:?}").contains("sess-"), "{provider:?}");
}

#[test]
fn metadata_without_a_token_service_goes_on_without_one_for_a_day() {
    for status in [404, 405, 503] {
        let mut provider = Provider::metadata(env(&[META]));
        let mut world = World::default().answer(status, "").answer(200, DOC);
        world.drive(&mut provider, T0).unwrap();
        assert_eq!(world.log.len(), 2, "{status}");
        assert_eq!(
            world.log[1], "GET http://127.0.0.1:9/openstack/latest/securitykey",
            "{status}"
        );
        world = world.answer(200, DOC);
        world
            .drive(&mut provider, T0 + Duration::from_secs(23 * 3600))
            .unwrap();
        assert_eq!(
            world.log,
            ["GET http://127.0.0.1:9/openstack/latest/securitykey"],
            "{status}"
        );
        world = world.answer(200, "sess").answer(200, DOC);
        world
            .drive(&mut provider, T0 + Duration::from_secs(24 * 3600))
            .unwrap();
        assert_eq!(
            world.log.len(),
            2,
            "{status}: asks for a token again after a day"
        );
    }
}

#[test]
fn metadata_failures_say_what_to_do() {
    let cases: [(&str, World, &str); 4] = [
        (
            "no agency",
            World::default().answer(200, "s").answer(
                401,
                r#"{"error":"Please configure Cloud Service Agency first"}"#,
            ),
            "no credentials: ECS metadata: the instance has no agency; bind an agency to the instance (ECS console: Management > Agency)",
        ),
        (
            "unreachable",
            World::default().fail(TransportErrorKind::Timeout, false),
            "no credentials: ECS metadata: the service at http://127.0.0.1:9/meta-data/latest/api/token was not reachable (the connection timed out); not on an ECS instance? give credentials another way, or set HUAWEICLOUD_SDK_METADATA_ENDPOINT",
        ),
        (
            "no answer",
            World::default()
                .answer(200, "s")
                .fail(TransportErrorKind::Timeout, true),
            "no credentials: ECS metadata: http://127.0.0.1:9/openstack/latest/securitykey did not answer (no complete answer in time)",
        ),
        (
            "not a document",
            World::default().answer(404, "").answer(200, "{}"),
            "no credentials: ECS metadata: the answer of http://127.0.0.1:9/openstack/latest/securitykey: ",
        ),
    ];
    for (name, mut world, expected) in cases {
        let mut provider = Provider::metadata(env(&[META]));
        let error = world.drive(&mut provider, T0).unwrap_err();
        assert!(error.to_string().starts_with(expected), "{name}: {error}");
    }
}

#[test]
fn bad_settings_are_failures_naming_the_variable() {
    let mut provider = Provider::metadata(env(&[(ENV_METADATA_ENDPOINT, "ftp://x")]));
    let error = World::default().drive(&mut provider, T0).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("(from HUAWEICLOUD_SDK_METADATA_ENDPOINT)"),
        "{error}"
    );
    let mut provider = Provider::pod_identity(env(&[
        (ENV_POD_IDENTITY_URI, "http://h/x?q=1"),
        (ENV_POD_IDENTITY_TOKEN_FILE, "/t"),
    ]));
    let error = World::default().drive(&mut provider, T0).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("(from HC_CONTAINER_CREDENTIALS_FULL_URI)"),
        "{error}"
    );
    // A token file holding a line break inside the token is refused without echoing it.
    let mut provider = Provider::pod_identity(env(&[
        (ENV_POD_IDENTITY_URI, "http://127.0.0.1:8/x"),
        (ENV_POD_IDENTITY_TOKEN_FILE, "/t"),
    ]));
    let error = World::default()
        .file("/t", "secret-part\nsecond-part")
        .drive(&mut provider, T0)
        .unwrap_err();
    assert!(!error.to_string().contains("secret-part"), "{error}");
    assert!(error.to_string().contains("pod identity token"), "{error}");
}

#[test]
fn static_credentials_need_no_io() {
    let mut provider = Provider::fixed(crate::AuthToken::new("t").unwrap().into());
    assert!(provider.is_fixed());
    let identity = World::default().drive(&mut provider, T0).unwrap();
    assert_eq!(identity.source(), SourceKind::Static);
}

const IAM: (&str, &str) = ("HUAWEICLOUD_SDK_IAM_ENDPOINT", "http://127.0.0.1:7");
const ID_TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjaSJ9.c2lnbmF0dXJl";

#[test]
fn sts_assumes_the_agency_with_the_identity_token() {
    let lookup = env(&[
        (ENV_OIDC_PROVIDER_URN, "iam::acct:identity-provider:ci"),
        (ENV_OIDC_AGENCY_URN, "iam::acct:agency:deployer"),
        (ENV_OIDC_TOKEN_FILE, "/var/run/oidc"),
        (ENV_OIDC_POLICY_IDS, "p1, p2"),
        (ENV_STS_ENDPOINT, "http://127.0.0.1:6"),
        HOME,
    ]);
    let mut provider = Provider::default_chain(lookup);
    let mut world = World::default()
        .file("/var/run/oidc", ID_TOKEN)
        .answer(200, DOC);
    let identity = world.drive(&mut provider, T0).unwrap();
    assert_eq!(identity.source(), SourceKind::OidcSts);
    assert_eq!(
        world.log,
        [
            "read /var/run/oidc".to_owned(),
            format!(
                "POST http://127.0.0.1:6/v5/agencies/assume-with-oidc content-type=application/json;charset=UTF-8 body={{\"agency_session_name\":\"oidc-sts-session\",\"agency_urn\":\"iam::acct:agency:deployer\",\"duration_seconds\":3600,\"id_token\":\"{ID_TOKEN}\",\"policy_ids\":[\"p1\",\"p2\"],\"provider_urn\":\"iam::acct:identity-provider:ci\"}}"
            ),
        ],
        "STS comes first in the chain, as in the official Python chain"
    );
    assert_eq!(world.remote, [true]);
    assert!(
        world.debug.iter().all(|d| !d.contains(ID_TOKEN)),
        "{:?}",
        world.debug
    );
    // An error answer keeps STS's code, message and trace id.
    let mut world = World::default()
        .file("/var/run/oidc", ID_TOKEN)
        .answer_with(
            403,
            vec![("x-iam-trace-id", "sts-trace-1")],
            r#"{"error_code":"STS.0203","error_msg":"the identity token has expired"}"#,
        );
    let error = world.drive(&mut provider, T0).unwrap_err();
    let source = &error.sources()[0];
    assert_eq!(
        (source.code(), source.trace_id()),
        (Some("STS.0203"), Some("sts-trace-1"))
    );
    assert!(!error.to_string().contains(ID_TOKEN));
}

#[test]
fn iam_federation_exchanges_the_identity_token_then_gets_temporary_keys() {
    let lookup = env(&[
        (ENV_IDP_ID, "idp-ci"),
        (ENV_ID_TOKEN_FILE, "/var/run/id-token"),
        ("HUAWEICLOUD_SDK_AK", "IGNORED"),
        ("HUAWEICLOUD_SDK_SK", "ignored"),
        IAM,
    ]);
    let mut provider = Provider::environment(lookup);
    let mut world = World::default()
        .file("/var/run/id-token", &format!("{ID_TOKEN}\n"))
        .answer_with(
            201,
            vec![("x-subject-token", "MIIunscopedIAMtoken")],
            r#"{"token":{"expires_at":"2026-12-02T00:00:00.000000Z"}}"#,
        )
        .answer(201, DOC);
    let identity = world.drive(&mut provider, T0).unwrap();
    assert_eq!(
        (identity.source(), ak_of(&identity)),
        (SourceKind::IamFederation, "TMPAK".to_owned())
    );
    assert_eq!(world.log[0], "read /var/run/id-token");
    assert_eq!(
        world.log[1],
        format!(
            "POST http://127.0.0.1:7/v3.0/OS-AUTH/id-token/tokens content-type=application/json;charset=UTF-8 x-idp-id=idp-ci body={{\"auth\":{{\"id_token\":{{\"id\":\"{ID_TOKEN}\"}}}}}}"
        )
    );
    assert_eq!(
        world.log[2],
        "POST http://127.0.0.1:7/v3.0/OS-CREDENTIAL/securitytokens content-type=application/json;charset=UTF-8 body={\"auth\":{\"identity\":{\"methods\":[\"token\"],\"token\":{\"duration_seconds\":21600,\"id\":\"MIIunscopedIAMtoken\"}}}}"
    );
    assert_eq!(world.remote, [true, true]);
    // No X-Subject-Token: a clear failure, not a panic.
    let mut world = World::default()
        .file("/var/run/id-token", ID_TOKEN)
        .answer(201, "{}");
    let error = world.drive(&mut provider, T0).unwrap_err();
    assert!(
        error
            .to_string()
            .ends_with("has no X-Subject-Token (the IAM token)"),
        "{error}"
    );
}

#[test]
fn a_profile_with_an_identity_provider_federates() {
    let profile = "[basic]\nidp_id = idp-file\nid_token_file = /var/run/t\niam_endpoint = http://127.0.0.1:5\n";
    let mut provider = Provider::profile_file_at("/p");
    let mut world = World::default()
        .file("/p", profile)
        .file("/var/run/t", ID_TOKEN)
        .answer_with(201, vec![("x-subject-token", "MIIt")], "{}")
        .answer(201, DOC);
    let identity = world.drive(&mut provider, T0).unwrap();
    assert_eq!(identity.source(), SourceKind::IamFederation);
    assert!(
        world.log[2].starts_with("POST http://127.0.0.1:5/v3.0/OS-AUTH/id-token/tokens"),
        "{:?}",
        world.log
    );
}

#[test]
fn a_password_token_is_scoped_and_expires() {
    const PASSWORD: &str = "correct horse battery staple";
    let lookup = env(&[
        (ENV_IAM_USER, "alice"),
        (ENV_IAM_DOMAIN, "acme"),
        (ENV_IAM_PASSWORD, PASSWORD),
        (ENV_REGION, "cn-north-4"),
        IAM,
    ]);
    let mut provider = Provider::iam_password(lookup);
    let mut world = World::default().answer_with(
        201,
        vec![("x-subject-token", "MIIscopedtoken"), ("x-iam-trace-id", "t1")],
        r#"{"token":{"expires_at":"2026-12-03T00:00:00.000000Z","project":{"id":"p1","name":"cn-north-4"}}}"#,
    );
    let identity = world.drive(&mut provider, T0).unwrap();
    assert!(matches!(identity.credentials(), Credentials::Token(_)));
    assert_eq!(identity.source(), SourceKind::IamPassword);
    assert_eq!(
        identity.expires_at(),
        Some(T0 + Duration::from_secs(1_796_256_000))
    );
    assert!(
        world.log[0].contains(r#""scope":{"project":{"name":"cn-north-4"}}"#),
        "{}",
        world.log[0]
    );
    assert!(world.log[0].contains(r#""user":{"domain":{"name":"acme"},"name":"alice","password":"correct horse battery staple"}"#), "{}", world.log[0]);
    assert!(
        world.debug.iter().all(|d| !d.contains(PASSWORD)),
        "{:?}",
        world.debug
    );
    assert!(!format!("{provider:?}").contains(PASSWORD));
    // A project id scopes it by id.
    let mut provider =
        provider.with_project(crate::ProjectId::new("0dea2644dc80d5d22ff1c01e3ebea6fc").unwrap());
    let mut world = World::default().answer_with(
        201,
        vec![("x-subject-token", "MIIx")],
        r#"{"token":{"expires_at":"2026-12-03T00:00:00Z"}}"#,
    );
    world.drive(&mut provider, T0).unwrap();
    assert!(
        world.log[0].contains(r#""scope":{"project":{"id":"0dea2644dc80d5d22ff1c01e3ebea6fc"}}"#),
        "{}",
        world.log[0]
    );
    // A wrong password: IAM's Keystone error with its trace id, and no password.
    let mut world = World::default().answer_with(
        401,
        vec![("x-iam-trace-id", "trace-401")],
        r#"{"error":{"code":401,"message":"The username or password is wrong.","title":"Unauthorized"}}"#,
    );
    let error = world.drive(&mut provider, T0).unwrap_err();
    assert_eq!(
        error.to_string(),
        "no credentials: IAM password: http://127.0.0.1:7/v3/auth/tokens answered 401 Unauthorized 401: The username or password is wrong. (IAM trace id trace-401)"
    );
    // Neither a project nor a region: said plainly.
    let mut provider = Provider::iam_password(env(&[
        (ENV_IAM_USER, "a"),
        (ENV_IAM_DOMAIN, "d"),
        (ENV_IAM_PASSWORD, "p"),
    ]));
    let error = World::default().drive(&mut provider, T0).unwrap_err();
    assert!(
        error.to_string().contains("give a project id or a region"),
        "{error}"
    );
}

#[test]
fn a_password_file_is_read_at_every_refresh() {
    let lookup = env(&[
        (ENV_IAM_USER, "alice"),
        (ENV_IAM_DOMAIN, "acme"),
        (ENV_IAM_PASSWORD_FILE, "/run/secrets/pw"),
        (ENV_REGION, "cn-north-4"),
        IAM,
    ]);
    let mut provider = Provider::default_chain(lookup);
    let mut world = World::default()
        .file("/run/secrets/pw", "s3cret with spaces\n")
        .answer_with(
            201,
            vec![("x-subject-token", "MIIa")],
            r#"{"token":{"expires_at":"2026-12-03T00:00:00Z"}}"#,
        );
    let identity = world.drive(&mut provider, T0).unwrap();
    assert_eq!(identity.source(), SourceKind::IamPassword);
    assert!(
        world.log[1].contains(r#""password":"s3cret with spaces""#),
        "{:?}",
        world.log
    );
}

#[test]
fn the_clients_project_scopes_a_password_token_before_the_environments() {
    let lookup = env(&[
        (ENV_IAM_USER, "alice"),
        (ENV_IAM_DOMAIN, "acme"),
        (ENV_IAM_PASSWORD, "pw"),
        ("HUAWEICLOUD_SDK_PROJECT_ID", "fromtheenvironment"),
        IAM,
    ]);
    let config = crate::ClientConfig::from_provider(
        crate::Endpoint::parse("http://127.0.0.1:1").unwrap(),
        crate::ProjectId::new("fromtheconfig").unwrap(),
        Provider::iam_password(lookup),
    );
    let mut provider = config.credential_provider().clone();
    let mut world = World::default().answer_with(
        201,
        vec![("x-subject-token", "MIIa")],
        r#"{"token":{"expires_at":"2026-12-03T00:00:00Z"}}"#,
    );
    world.drive(&mut provider, T0).unwrap();
    assert!(
        world.log[0].contains(r#""scope":{"project":{"id":"fromtheconfig"}}"#),
        "{}",
        world.log[0]
    );
    // Set in code, it wins over the configuration's.
    let mut provider = Provider::iam_password(env(&[
        (ENV_IAM_USER, "alice"),
        (ENV_IAM_DOMAIN, "acme"),
        (ENV_IAM_PASSWORD, "pw"),
        IAM,
    ]))
    .with_project(crate::ProjectId::new("fromcode").unwrap());
    provider = crate::ClientConfig::from_provider(
        crate::Endpoint::parse("http://127.0.0.1:1").unwrap(),
        crate::ProjectId::new("fromtheconfig").unwrap(),
        provider,
    )
    .credential_provider()
    .clone();
    let mut world = World::default().answer_with(
        201,
        vec![("x-subject-token", "MIIa")],
        r#"{"token":{"expires_at":"2026-12-03T00:00:00Z"}}"#,
    );
    world.drive(&mut provider, T0).unwrap();
    assert!(
        world.log[0].contains(r#""id":"fromcode""#),
        "{}",
        world.log[0]
    );
}

#[test]
fn a_clock_at_the_end_of_time_does_not_panic() {
    let end = SystemTime::UNIX_EPOCH + Duration::from_secs(i64::MAX as u64 - 60);
    let mut provider = Provider::metadata(env(&[META]));
    let mut world = World::default().answer(200, "sess").answer(200, DOC);
    world.drive(&mut provider, end).unwrap();
    let mut world = World::default().answer(404, "").answer(200, DOC);
    let mut provider = Provider::metadata(env(&[META]));
    world.drive(&mut provider, end).unwrap();
}

#[test]
fn temporary_credentials_sign_with_the_algorithm_asked_for() {
    use crate::sign::SigningAlgorithm;
    for (name, provider, expected) in [
        (
            "set in code",
            Provider::metadata(env(&[META])).with_signing_algorithm(SigningAlgorithm::Sm2Sm3),
            SigningAlgorithm::Sm2Sm3,
        ),
        (
            "from the environment",
            Provider::metadata(env(&[
                META,
                ("HUAWEICLOUD_SDK_SIGNING_ALGORITHM", "sdk-hmac-sm3"),
            ])),
            SigningAlgorithm::HmacSm3,
        ),
        (
            "neither",
            Provider::metadata(env(&[META])),
            SigningAlgorithm::HmacSha256,
        ),
    ] {
        if !expected.is_built() {
            continue;
        }
        let mut provider = provider;
        let mut world = World::default().answer(200, "s").answer(200, DOC);
        let identity = world.drive(&mut provider, T0).unwrap();
        let Credentials::AkSk(aksk) = identity.credentials() else {
            panic!("{name}: AK/SK expected")
        };
        assert_eq!(aksk.algorithm(), expected, "{name}");
        assert_eq!(aksk.access_key(), "TMPAK", "{name}");
    }
}

#[test]
fn a_file_read_is_bounded_and_refuses_what_is_not_a_regular_file() {
    let dir = std::env::temp_dir().join(format!("kms-proto-file-read-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("token");
    std::fs::write(&file, "12345").unwrap();
    let read = |path: &std::path::Path, max_len| {
        FileRead {
            path: path.to_path_buf(),
            max_len,
        }
        .read_blocking()
    };
    assert_eq!(read(&file, 5).unwrap(), b"12345");
    assert!(matches!(
        read(&file, 4),
        Err(FileProblem::TooLarge { limit: 4 })
    ));
    assert!(matches!(read(&dir, 100), Err(FileProblem::NotAFile)));
    assert!(matches!(
        read(&dir.join("none"), 100),
        Err(FileProblem::NotFound)
    ));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 21, item 4: a credential service that echoes the request in its error answer
/// (a debugging gateway, a proxy's error page) must not get a secret the client sent or
/// holds into the error: not its `Display`, `Debug`, message, code or trace id.
#[test]
fn a_service_that_echoes_the_request_shows_no_secret() {
    const SESSION: &str = "METASESSIONTOKEN0123456789";
    const POD_TOKEN: &str = "PODTOKEN-eyJhbGciOiJSUzI1NiJ9.cG9kLXRva2Vu";
    const SUBJECT: &str = "MIIunscopedIAMtokenEchoedBack0123";
    const PASSWORD: &str = r#"pa"ss\word/with spaces"#;
    let long_token = format!("LONG{}", "x1y2z3".repeat(70));
    let sts_value = [
        (ENV_OIDC_PROVIDER_URN, "iam::acct:identity-provider:ci"),
        (ENV_OIDC_AGENCY_URN, "iam::acct:agency:deployer"),
        (ENV_OIDC_ID_TOKEN, ID_TOKEN),
        (ENV_STS_ENDPOINT, "http://127.0.0.1:6"),
    ];
    let sts_file = [
        (ENV_OIDC_PROVIDER_URN, "iam::acct:identity-provider:ci"),
        (ENV_OIDC_AGENCY_URN, "iam::acct:agency:deployer"),
        (ENV_OIDC_TOKEN_FILE, "/var/run/oidc"),
        (ENV_STS_ENDPOINT, "http://127.0.0.1:6"),
    ];
    let federation = [
        (ENV_IDP_ID, "idp-ci"),
        (ENV_ID_TOKEN_FILE, "/var/run/id-token"),
        IAM,
    ];
    let password = [
        (ENV_IAM_USER, "alice"),
        (ENV_IAM_DOMAIN, "acme"),
        (ENV_IAM_PASSWORD, PASSWORD),
        (ENV_REGION, "cn-north-4"),
        IAM,
    ];
    let pod = [
        (ENV_POD_IDENTITY_URI, "http://127.0.0.1:8/creds"),
        (ENV_POD_IDENTITY_TOKEN_FILE, "/t"),
    ];
    let cases: Vec<(&str, Provider, World, Vec<&str>)> = vec![
        (
            "metadata: the session token",
            Provider::metadata(env(&[META])),
            World::default().answer(200, SESSION).echo(500, true),
            vec![SESSION],
        ),
        (
            "pod identity: its authorization token",
            Provider::pod_identity(env(&pod)),
            World::default().file("/t", POD_TOKEN).echo(403, true),
            vec![POD_TOKEN],
        ),
        (
            "pod identity: a long token in a plain-text answer cut to 300 characters",
            Provider::pod_identity(env(&pod)),
            World::default().file("/t", &long_token).echo(500, false),
            vec![&long_token[..40]],
        ),
        (
            "sts: the identity token from the variable",
            Provider::oidc_sts(env(&sts_value)),
            World::default().echo(400, true),
            vec![ID_TOKEN],
        ),
        (
            "sts: the identity token from its file",
            Provider::oidc_sts(env(&sts_file)),
            World::default()
                .file("/var/run/oidc", ID_TOKEN)
                .echo(400, true),
            vec![ID_TOKEN],
        ),
        (
            "federation: the identity token",
            Provider::iam_federation(env(&federation)),
            World::default()
                .file("/var/run/id-token", ID_TOKEN)
                .echo(401, true),
            vec![ID_TOKEN],
        ),
        (
            "federation: the IAM token it was given, and the identity token it holds",
            Provider::iam_federation(env(&federation)),
            World::default()
                .file("/var/run/id-token", ID_TOKEN)
                .answer_with(201, vec![("x-subject-token", SUBJECT)], "{}")
                .echo_with(400, Vec::new(), ID_TOKEN),
            vec![SUBJECT, ID_TOKEN],
        ),
        (
            "password: the password, JSON-escaped in the echo",
            Provider::iam_password(env(&password)),
            World::default().echo(401, true),
            vec![PASSWORD, r#"pa\"ss\\word/with spaces"#],
        ),
        (
            "password: the token IAM's error answer carries",
            Provider::iam_password(env(&password)),
            World::default().echo_with(
                401,
                vec![("x-subject-token", SUBJECT), ("x-iam-trace-id", SUBJECT)],
                SUBJECT,
            ),
            vec![SUBJECT, PASSWORD],
        ),
    ];
    // Every case is checked, and every failing one named.
    let mut failures = Vec::new();
    for (name, mut provider, mut world, secrets) in cases {
        let error = world.drive(&mut provider, T0).unwrap_err();
        // The request carried the secret (or the answer did): the test means something.
        let sent = format!("{:?} {:?}", world.log, world.sent_headers);
        let source = &error.sources()[0];
        assert!(source.status().is_some(), "{name}: {error}");
        let shown = format!(
            "{error} | {error:?} | {:?} | {:?} | {:?} | {source}",
            source.message(),
            source.code(),
            source.trace_id(),
        );
        if !shown.contains("[redacted]") {
            failures.push(format!("{name}: no marker in {shown}"));
        }
        for secret in secrets {
            assert!(
                sent.contains(secret) || secret == SUBJECT || secret.contains('\\'),
                "{name}: {secret} was not sent"
            );
            if shown.contains(secret) {
                failures.push(format!("{name}: {secret} shown"));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn a_source_s_retry_after_goes_with_its_error_answer_only() {
    use crate::RetryAfter;
    let pod = || {
        Provider::pod_identity(env(&[
            (ENV_POD_IDENTITY_URI, "http://127.0.0.1:8/creds"),
            (ENV_POD_IDENTITY_TOKEN_FILE, "/t"),
        ]))
    };
    let sts = || {
        Provider::oidc_sts(env(&[
            (ENV_OIDC_PROVIDER_URN, "iam::acct:identity-provider:ci"),
            (ENV_OIDC_AGENCY_URN, "iam::acct:agency:deployer"),
            (ENV_OIDC_TOKEN_FILE, "/t"),
            (ENV_STS_ENDPOINT, "http://127.0.0.1:6"),
            HOME,
        ]))
    };
    let seven = Some(RetryAfter::Delay(Duration::from_secs(7)));
    for (name, mut provider, status, retry_after, body, expected) in [
        ("pod identity's 429", pod(), 429, "7", "", seven),
        ("pod identity's 503", pod(), 503, "7", "", seven),
        (
            "pod identity's 429, not a delay",
            pod(),
            429,
            "soon",
            "",
            None,
        ),
        (
            "pod identity's 200 that is no document",
            pod(),
            200,
            "7",
            "{}",
            None,
        ),
        (
            "STS's 429",
            sts(),
            429,
            "7",
            r#"{"error_code":"STS.0429"}"#,
            seven,
        ),
    ] {
        let mut world = World::default().file("/t", ID_TOKEN).answer_with(
            status,
            vec![("retry-after", retry_after)],
            body,
        );
        let error = world.drive(&mut provider, T0).unwrap_err();
        let failed = error
            .sources()
            .iter()
            .find(|e| !e.is_skipped())
            .unwrap_or_else(|| panic!("{name}: no source failed: {error}"));
        assert_eq!(failed.retry_after(), expected, "{name}: {error}");
        let asked = error.asked_to_wait(T0);
        assert_eq!(asked, expected.map(|r| r.delay_from(T0)), "{name}");
    }
}
