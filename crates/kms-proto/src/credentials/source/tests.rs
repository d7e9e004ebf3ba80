#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use super::*;
use crate::call::TransportErrorKind;
use crate::credentials::CredentialError;

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
}

enum Answer {
    Status(u16, &'static str),
    Fail(TransportErrorKind, bool),
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
                    let (request, timeout) = request.into_parts();
                    assert!(timeout <= Duration::from_secs(5));
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
                        Answer::Fail(kind, sent) => {
                            refresh.on_failure(TransportFailure::new(kind, sent))
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
    assert_eq!(lines.len(), 6, "{text}");
    assert_eq!(
        lines[1],
        "  - environment variables: skipped: HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK, or HUAWEICLOUD_SDK_AUTH_TOKEN, are not set"
    );
    assert_eq!(
        lines[2],
        "  - profile file: skipped: no file at /home/u/.huaweicloud/credentials"
    );
    assert_eq!(
        lines[3],
        "  - KooCLI configuration: skipped: no file at /home/u/.hcloud/config.json"
    );
    assert_eq!(
        lines[4],
        "  - CCE pod identity: skipped: HC_CONTAINER_CREDENTIALS_FULL_URI is not set"
    );
    assert!(
        lines[5].starts_with("  - ECS metadata: the service at http://169.254.169.254/meta-data/latest/api/token was not reachable (the connection failed); not on an ECS instance?"),
        "{}",
        lines[5]
    );
    let kinds: Vec<SourceKind> = error
        .sources()
        .iter()
        .map(SourceError::source_kind)
        .collect();
    assert_eq!(
        kinds,
        [
            SourceKind::Environment,
            SourceKind::ProfileFile,
            SourceKind::KooCli,
            SourceKind::PodIdentity,
            SourceKind::Metadata
        ]
    );
    assert!(error.sources()[4].is_unreachable());
    assert!(error.sources()[..4].iter().all(SourceError::is_skipped));
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
    let profile = &error.sources()[1];
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
    assert!(!error.sources()[3].is_skipped());
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
        (ENV_POD_IDENTITY_URI, "http://h/x"),
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
