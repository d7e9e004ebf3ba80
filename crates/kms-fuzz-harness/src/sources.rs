//! The harness of the `credentials` module's sans-IO source machine ([`Provider`],
//! [`Refresh`](kms_proto::credentials::Refresh), [`Need`]), driven by scripted files and
//! answers.

use std::collections::HashSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use kms_proto::call::{TransportErrorKind, TransportFailure};
use kms_proto::credentials::{
    CredentialError, ENV_CREDENTIALS_FILE, ENV_IAM_DOMAIN, ENV_IAM_PASSWORD_FILE, ENV_IAM_USER,
    ENV_ID_TOKEN_FILE, ENV_IDP_ID, ENV_METADATA_ENDPOINT, ENV_OIDC_AGENCY_URN, ENV_OIDC_ID_TOKEN,
    ENV_OIDC_PROVIDER_URN, ENV_OIDC_TOKEN_FILE, ENV_POD_IDENTITY_TOKEN_FILE, ENV_POD_IDENTITY_URI,
    ENV_REGION, ENV_STS_ENDPOINT, FileProblem, Identity, MAX_SOURCE_BODY, Need, Profile,
    ProfileSection, Provider, REMOTE_TIMEOUT, SourceKind, SourceRequest, parse_document,
    parse_koocli, parse_profile,
};
use kms_proto::iam::{ENV_IAM_ENDPOINT, iam_endpoint};
use kms_proto::{AuthToken, Credentials, Region, env};

use crate::credentials::{nanos, one_line, render_error};

/// Where the services of [`credential_sources`] answer, and the files it knows.
const POD_URI: &str = "http://127.0.0.1:8/pod-identity/credentials";
const POD_AUTHORITY: &str = "127.0.0.1:8";
const META_URI: &str = "http://127.0.0.1:9";
const META_AUTHORITY: &str = "127.0.0.1:9";
const IAM_URI: &str = "http://127.0.0.1:10";
const STS_URI: &str = "http://127.0.0.1:11";
const HOME: &str = "/home/fuzz";
const PROFILE_FILE: &str = "/home/fuzz/.huaweicloud/credentials";
const KOOCLI_FILE: &str = "/home/fuzz/.hcloud/config.json";
const NAMED_FILE: &str = "/etc/hc/credentials";
const POD_TOKEN_FILE: &str = "/var/run/secrets/pod-token";
const OIDC_TOKEN_FILE: &str = "/var/run/secrets/oidc-token";
const ID_TOKEN_FILE: &str = "/var/run/secrets/id-token";
const PASSWORD_FILE: &str = "/etc/hc/password";
const FILES: [&str; 7] = [
    PROFILE_FILE,
    KOOCLI_FILE,
    NAMED_FILE,
    POD_TOKEN_FILE,
    OIDC_TOKEN_FILE,
    ID_TOKEN_FILE,
    PASSWORD_FILE,
];

/// More steps (files read, exchanges) than any refresh can rightly take. The longest that
/// can be right is 18: the whole chain configured (STS with a token file 2, federation
/// from the environment 3, a password file 2, a profile that federates 4, KooCLI 1, pod
/// identity 2, metadata renewing a stale session token 4), every source failing last.
const MAX_STEPS: usize = 20;

/// The statuses a scripted answer can have, by the low four bits of its control byte.
const STATUSES: [u16; 16] = [
    200, 401, 404, 405, 503, 500, 429, 403, 400, 201, 204, 301, 302, 502, 504, 418,
];

/// The default chain's sources, in the order it asks them.
const CHAIN_ORDER: [SourceKind; 7] = [
    SourceKind::OidcSts,
    SourceKind::Environment,
    SourceKind::IamPassword,
    SourceKind::ProfileFile,
    SourceKind::KooCli,
    SourceKind::PodIdentity,
    SourceKind::Metadata,
];

/// A link of a provider: the one source of a single-source provider, or one of the default
/// chain's, in the chain's order. The provider keeps the link that answered, not the kind
/// of credentials it gave: one link can answer in more than one way (a profile file holds
/// keys at one refresh and federation settings at the next), and every later refresh asks
/// that link again, whatever it then finds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Link {
    OidcSts,
    /// The environment's keys, or IAM federation when `HUAWEICLOUD_SDK_IDP_ID` is set.
    Environment,
    IamPassword,
    /// The profile file's keys, or IAM federation when its section names an identity
    /// provider.
    ProfileFile,
    KooCli,
    PodIdentity,
    Metadata,
    /// [`Provider::iam_federation`]: a single source, in no chain.
    IamFederation,
}

impl Link {
    /// The kinds of credentials this link can give.
    fn yields(self) -> &'static [SourceKind] {
        match self {
            Link::OidcSts => &[SourceKind::OidcSts],
            Link::Environment => &[SourceKind::Environment, SourceKind::IamFederation],
            Link::IamPassword => &[SourceKind::IamPassword],
            Link::ProfileFile => &[SourceKind::ProfileFile, SourceKind::IamFederation],
            Link::KooCli => &[SourceKind::KooCli],
            Link::PodIdentity => &[SourceKind::PodIdentity],
            Link::Metadata => &[SourceKind::Metadata],
            Link::IamFederation => &[SourceKind::IamFederation],
        }
    }

    /// The kind its failures are named by, however it was answering (a profile file that
    /// federates fails as the profile file).
    fn fails_as(self) -> SourceKind {
        match self {
            Link::OidcSts => SourceKind::OidcSts,
            Link::Environment => SourceKind::Environment,
            Link::IamPassword => SourceKind::IamPassword,
            Link::ProfileFile => SourceKind::ProfileFile,
            Link::KooCli => SourceKind::KooCli,
            Link::PodIdentity => SourceKind::PodIdentity,
            Link::Metadata => SourceKind::Metadata,
            Link::IamFederation => SourceKind::IamFederation,
        }
    }
}

/// Environment variables: name, value.
type Vars = &'static [(&'static str, &'static str)];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Setup {
    PodIdentity,
    Metadata,
    Chain,
    KooCli,
    ProfileFile,
    OidcSts,
    IamPassword,
    IamFederation,
}

/// The providers [`credential_sources`] drives, by the first byte of the input.
const SETUPS: [(Setup, Vars); 12] = [
    (Setup::PodIdentity, POD),
    (Setup::Metadata, &[(ENV_METADATA_ENDPOINT, META_URI)]),
    (Setup::Chain, HOME_META),
    (Setup::Chain, CHAIN_POD),
    (Setup::Chain, CHAIN_NAMED),
    (
        Setup::Chain,
        &[
            ("HOME", HOME),
            (ENV_METADATA_ENDPOINT, META_URI),
            (env::ENV_AK, "ENVAK"),
        ],
    ),
    (Setup::KooCli, &[("HOME", HOME)]),
    (
        Setup::ProfileFile,
        &[("HOME", HOME), (ENV_REGION, "cn-north-4")],
    ),
    (Setup::Chain, CHAIN_ALL),
    (
        Setup::OidcSts,
        &[
            (ENV_OIDC_PROVIDER_URN, "urn:provider"),
            (ENV_OIDC_AGENCY_URN, "urn:agency"),
            (ENV_OIDC_ID_TOKEN, "id-token-value"),
            (ENV_STS_ENDPOINT, STS_URI),
        ],
    ),
    (
        Setup::IamPassword,
        &[
            (ENV_IAM_USER, "user"),
            (ENV_IAM_DOMAIN, "domain"),
            (ENV_IAM_PASSWORD_FILE, PASSWORD_FILE),
            (ENV_IAM_ENDPOINT, IAM_URI),
            (env::ENV_PROJECT_ID, "0dea2644dc80d5d22ff1c01e3ebea6fc"),
        ],
    ),
    (
        Setup::IamFederation,
        &[
            (ENV_IDP_ID, "idp-1"),
            (ENV_ID_TOKEN_FILE, ID_TOKEN_FILE),
            (ENV_REGION, "eu-west-101"),
        ],
    ),
];

const POD: Vars = &[
    (ENV_POD_IDENTITY_URI, POD_URI),
    (ENV_POD_IDENTITY_TOKEN_FILE, POD_TOKEN_FILE),
];
const HOME_META: Vars = &[("HOME", HOME), (ENV_METADATA_ENDPOINT, META_URI)];
const CHAIN_POD: Vars = &[
    ("HOME", HOME),
    (ENV_METADATA_ENDPOINT, META_URI),
    (ENV_POD_IDENTITY_URI, POD_URI),
    (ENV_POD_IDENTITY_TOKEN_FILE, POD_TOKEN_FILE),
];
const CHAIN_NAMED: Vars = &[
    ("HOME", HOME),
    (ENV_METADATA_ENDPOINT, META_URI),
    (ENV_POD_IDENTITY_URI, POD_URI),
    (ENV_POD_IDENTITY_TOKEN_FILE, POD_TOKEN_FILE),
    (ENV_CREDENTIALS_FILE, NAMED_FILE),
    (ENV_IAM_ENDPOINT, IAM_URI),
];
/// Every source of the chain configured.
const CHAIN_ALL: Vars = &[
    ("HOME", HOME),
    (ENV_METADATA_ENDPOINT, META_URI),
    (ENV_POD_IDENTITY_URI, POD_URI),
    (ENV_POD_IDENTITY_TOKEN_FILE, POD_TOKEN_FILE),
    (ENV_OIDC_PROVIDER_URN, "urn:provider"),
    (ENV_OIDC_AGENCY_URN, "urn:agency"),
    (ENV_OIDC_TOKEN_FILE, OIDC_TOKEN_FILE),
    (ENV_STS_ENDPOINT, STS_URI),
    (ENV_IDP_ID, "idp-1"),
    (ENV_ID_TOKEN_FILE, ID_TOKEN_FILE),
    (ENV_IAM_USER, "user"),
    (ENV_IAM_DOMAIN, "domain"),
    (ENV_IAM_PASSWORD_FILE, PASSWORD_FILE),
    (ENV_IAM_ENDPOINT, IAM_URI),
    (ENV_REGION, "cn-north-4"),
];

fn lookup(vars: Vars) -> impl Fn(&str) -> Option<String> {
    move |name: &str| {
        vars.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| (*v).to_owned())
    }
}

impl Setup {
    fn provider(self, vars: Vars) -> Provider {
        let lookup = lookup(vars);
        match self {
            Setup::PodIdentity => Provider::pod_identity(lookup),
            Setup::Metadata => Provider::metadata(lookup),
            Setup::Chain => Provider::default_chain(lookup),
            Setup::KooCli => Provider::koocli(lookup, Some("p1")),
            Setup::ProfileFile => Provider::profile_file(lookup),
            Setup::OidcSts => Provider::oidc_sts(lookup),
            Setup::IamPassword => Provider::iam_password(lookup),
            Setup::IamFederation => Provider::iam_federation(lookup),
        }
    }

    fn koocli_profile(self) -> Option<&'static str> {
        (self == Setup::KooCli).then_some("p1")
    }

    /// The link of a single-source provider; `None` for the chain.
    fn single_link(self) -> Option<Link> {
        match self {
            Setup::PodIdentity => Some(Link::PodIdentity),
            Setup::Metadata => Some(Link::Metadata),
            Setup::Chain => None,
            Setup::KooCli => Some(Link::KooCli),
            Setup::ProfileFile => Some(Link::ProfileFile),
            Setup::OidcSts => Some(Link::OidcSts),
            Setup::IamPassword => Some(Link::IamPassword),
            Setup::IamFederation => Some(Link::IamFederation),
        }
    }
}

/// The chain link a file read belongs to, when only one link can read that file: `None`
/// for the file a profile federates with (it may be any path, the environment's token
/// file included).
fn file_link(path: &str, world: &World) -> Option<Link> {
    let federated = world.profile.as_ref().and_then(Profile::id_token_file);
    if federated == Some(path) {
        return None;
    }
    match path {
        PROFILE_FILE | NAMED_FILE => Some(Link::ProfileFile),
        KOOCLI_FILE => Some(Link::KooCli),
        POD_TOKEN_FILE => Some(Link::PodIdentity),
        OIDC_TOKEN_FILE => Some(Link::OidcSts),
        ID_TOKEN_FILE => Some(Link::Environment),
        PASSWORD_FILE => Some(Link::IamPassword),
        _ => None,
    }
}

/// The chain link a request belongs to: pod identity and ECS metadata by their address;
/// `None` for IAM and STS (a profile may put IAM anywhere, STS's address included).
fn request_link(source: &SourceRequest) -> Option<Link> {
    if source.is_remote() {
        return None;
    }
    match source.request().uri().authority().map(|a| a.as_str()) {
        Some(POD_AUTHORITY) => Some(Link::PodIdentity),
        Some(META_AUTHORITY) => Some(Link::Metadata),
        _ => None,
    }
}

/// The last file read or answer received in a refresh.
enum Last {
    Nothing,
    File(String, Vec<u8>),
    Answer(StatusCode, HeaderMap, Vec<u8>),
    Other,
}

/// What the transport has seen, across refreshes.
struct World {
    vars: Vars,
    /// The pod token file's contents as last read, trimmed.
    pod_token: Option<String>,
    /// Every session token ECS metadata gave (a PUT answered 200), trimmed.
    sessions: HashSet<String>,
    /// The profile file as last read, when it parsed: where it federates.
    profile: Option<Profile>,
}

impl World {
    /// Where IAM and STS may be: the URL prefixes remote requests may have.
    fn remote_bases(&self) -> Vec<String> {
        let lookup = lookup(self.vars);
        let region = lookup(ENV_REGION).and_then(|r| Region::new(&r).ok());
        let from_profile = self.profile.as_ref().and_then(Profile::iam_endpoint);
        let mut bases = vec![format!("{STS_URI}/")];
        for profile in [None, from_profile] {
            if let Ok(e) = iam_endpoint(region.as_ref(), profile, &lookup) {
                bases.push(format!(
                    "{}://{}{}/",
                    e.scheme(),
                    e.authority(),
                    e.base_path()
                ));
            }
        }
        bases
    }
}

/// A file record's answer: the bytes after the control byte, or a [`FileProblem`] when it
/// is `0xE0` or more.
fn file_answer(record: Option<&[u8]>, max_len: u64) -> Result<Vec<u8>, FileProblem> {
    let Some(record) = record else {
        return Err(FileProblem::NotFound);
    };
    let (ctl, body) = record.split_first().unwrap_or((&0, &[]));
    if *ctl >= 0xE0 {
        return Err(match ctl & 3 {
            0 => FileProblem::NotFound,
            1 => FileProblem::NotAFile,
            2 => FileProblem::TooLarge { limit: max_len },
            _ => FileProblem::Unreadable(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                "permission denied",
            )),
        });
    }
    if body.len() as u64 > max_len {
        return Err(FileProblem::TooLarge { limit: max_len });
    }
    Ok(body.to_vec())
}

/// An exchange's answer: a status, headers and a body, or a transport failure.
enum Answer<'a> {
    Status(StatusCode, HeaderMap, &'a [u8]),
    Failed(TransportErrorKind, bool),
}

/// The failure a control byte of 0xE0 or more names (the `client_machine` harness reads
/// its bytes the same way): bits 3 and 4 both set, a proxy refusing its credentials; else
/// bits 0-1 pick connect, TLS, timeout or I/O.
pub(crate) fn failure_kind(ctl: u8) -> TransportErrorKind {
    match ctl & 0x18 {
        0x18 => TransportErrorKind::ProxyAuth,
        _ => [
            TransportErrorKind::Connect,
            TransportErrorKind::Tls,
            TransportErrorKind::Timeout,
            TransportErrorKind::Io,
        ][usize::from(ctl & 3)],
    }
}

fn http_answer(record: Option<&[u8]>) -> Answer<'_> {
    let Some(record) = record else {
        return Answer::Failed(TransportErrorKind::Connect, false);
    };
    let (ctl, rest) = record.split_first().unwrap_or((&0, &[]));
    if *ctl >= 0xE0 {
        return Answer::Failed(failure_kind(*ctl), ctl & 4 != 0);
    }
    let status = StatusCode::from_u16(STATUSES[usize::from(ctl & 0x0F)]).unwrap();
    let mut headers = HeaderMap::new();
    let body = if ctl & 0x10 == 0 {
        rest
    } else {
        let (head, body) = match rest.windows(2).position(|w| w == b"\n\n") {
            Some(i) => (&rest[..i], &rest[i + 2..]),
            None => (rest, &[][..]),
        };
        for line in head.split(|&b| b == b'\n') {
            let Some(colon) = line.iter().position(|&b| b == b':') else {
                continue;
            };
            if let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(&line[..colon]),
                HeaderValue::from_bytes(&line[colon + 1..]),
            ) {
                headers.append(n, v);
            }
        }
        body
    };
    // The transport reads at most one byte more than a source accepts.
    Answer::Status(
        status,
        headers,
        &body[..body.len().min(MAX_SOURCE_BODY + 1)],
    )
}

fn trimmed_text(bytes: &[u8]) -> Option<String> {
    std::str::from_utf8(bytes).ok().map(|t| t.trim().to_owned())
}

/// One refresh driven to its end.
struct Driven {
    result: Result<Identity, CredentialError>,
    /// The last file read or answer received.
    last: Last,
    /// Files read and exchanges asked for.
    steps: usize,
    /// The chain links whose files and services were asked, where only one link can ask
    /// them (see [`file_link`] and [`request_link`]), in order.
    touched: Vec<Link>,
    /// Whether the profile file was read (it federates, or holds keys).
    read_profile: bool,
}

/// Drives one refresh to its end.
fn drive<'d>(
    provider: &mut Provider,
    now: SystemTime,
    records: &mut impl Iterator<Item = &'d [u8]>,
    world: &mut World,
) -> Driven {
    let mut refresh = provider.refresh(now);
    let _ = format!("{refresh:?}");
    let mut need = refresh.start();
    let mut last = Last::Nothing;
    let mut steps = 0;
    let mut touched = Vec::new();
    let mut read_profile = false;
    loop {
        if !matches!(need, Need::Done(_)) {
            steps += 1;
            assert!(steps <= MAX_STEPS, "no end after {MAX_STEPS} steps");
        }
        need = match need {
            Need::Done(result) => {
                return Driven {
                    result,
                    last,
                    steps,
                    touched,
                    read_profile,
                };
            }
            Need::File(read) => {
                let path = read.path().to_string_lossy().into_owned();
                let federated = world.profile.as_ref().and_then(Profile::id_token_file);
                assert!(
                    FILES.contains(&&*path) || federated == Some(path.as_str()),
                    "a read of {path}"
                );
                touched.extend(file_link(&path, world));
                read_profile |= path == PROFILE_FILE || path == NAMED_FILE;
                let result = file_answer(records.next(), read.max_len());
                last = match &result {
                    Ok(bytes) => {
                        match path.as_str() {
                            POD_TOKEN_FILE => world.pod_token = trimmed_text(bytes),
                            PROFILE_FILE | NAMED_FILE => {
                                world.profile = parse_profile(bytes, ProfileSection::Basic).ok();
                            }
                            _ => {}
                        }
                        Last::File(path, bytes.clone())
                    }
                    Err(_) => Last::Other,
                };
                refresh.on_file(result)
            }
            Need::Http(request) => {
                check_request(&request, world);
                touched.extend(request_link(&request));
                let method = request.request().method().clone();
                match http_answer(records.next()) {
                    Answer::Status(status, headers, body) => {
                        if method == Method::PUT
                            && status == StatusCode::OK
                            && let Some(token) = trimmed_text(body)
                        {
                            world.sessions.insert(token);
                        }
                        let need = refresh.on_response(status, &headers, body);
                        last = Last::Answer(status, headers, body.to_vec());
                        need
                    }
                    Answer::Failed(kind, sent) => {
                        last = Last::Other;
                        refresh.on_failure(TransportFailure::new(kind, sent))
                    }
                }
            }
        };
    }
}

/// A request goes to a configured service (ECS metadata and pod identity on the node,
/// IAM and STS remote, with their timeouts), with only the headers sources send, the
/// secret ones (`authorization`, `x-metadata-token`) marked sensitive and equal to what
/// the transport handed over. Its `Debug` shows no body (bodies carry tokens, passwords).
fn check_request(source: &SourceRequest, world: &World) {
    let shown = format!("{source:?}");
    let request = source.request();
    let uri = request.uri();
    let body = request.body();
    if !body.is_empty() {
        let text = String::from_utf8_lossy(body);
        assert!(!shown.contains(&*text), "Debug shows the body: {shown}");
    }
    let authority = uri.authority().map(|a| a.as_str()).unwrap_or_default();
    let pod = authority == POD_AUTHORITY;
    if source.is_remote() {
        assert_eq!(source.timeout(), REMOTE_TIMEOUT);
        let url = uri.to_string();
        let bases = world.remote_bases();
        assert!(
            bases.iter().any(|b| url.starts_with(b.as_str())),
            "a request to {url}, not to {bases:?}"
        );
        assert_eq!(request.method(), Method::POST, "{uri}");
        assert!(
            serde_json::from_slice::<Value>(body).is_ok(),
            "a body that is not JSON to {uri}"
        );
    } else {
        assert!(source.timeout() > Duration::ZERO && source.timeout() <= Duration::from_secs(5));
        assert_eq!(uri.scheme_str(), Some("http"), "{uri}");
        assert!(pod || authority == META_AUTHORITY, "a request to {uri}");
        match request.method().as_str() {
            "POST" => assert!(pod && body == b"{}", "{uri}"),
            "PUT" | "GET" => assert!(!pod && body.is_empty(), "{uri}"),
            other => panic!("a {other} request to {uri}"),
        }
    }
    assert_eq!(request.headers()["host"].as_bytes(), authority.as_bytes());
    for (name, value) in request.headers() {
        match name.as_str() {
            "authorization" => {
                assert!(pod, "authorization sent to {uri}");
                assert!(
                    value.is_sensitive(),
                    "authorization is not marked sensitive"
                );
                assert_eq!(
                    value.to_str().ok(),
                    world.pod_token.as_deref(),
                    "authorization is not the pod token just read"
                );
            }
            "x-metadata-token" => {
                assert!(
                    authority == META_AUTHORITY,
                    "x-metadata-token sent to {uri}"
                );
                assert!(
                    value.is_sensitive(),
                    "x-metadata-token is not marked sensitive"
                );
                assert!(
                    world.sessions.contains(value.to_str().unwrap()),
                    "x-metadata-token is not a session token the service gave"
                );
            }
            "host"
            | "accept"
            | "content-type"
            | "content-length"
            | "x-idp-id"
            | "x-metadata-token-ttl-seconds" => {
                assert!(!value.is_sensitive(), "{name} is marked sensitive");
            }
            other => panic!("an unexpected header {other} to {uri}"),
        }
    }
}

/// The expiry of an IAM token answer's body (`token.expires_at`), in ns since 1970;
/// `None` when the body is not JSON. Read leniently, as a typed parse reads it: the text of
/// fields nobody reads (`methods`...) is skipped, not checked to be UTF-8.
fn token_expiry(body: &[u8]) -> Option<Option<i128>> {
    let value: Value = serde_json::from_str(&String::from_utf8_lossy(body)).ok()?;
    let text = value
        .get("token")
        .and_then(|t| t.get("expires_at"))
        .and_then(Value::as_str);
    Some(text.and_then(|t| {
        Some(
            OffsetDateTime::parse(t, &Rfc3339)
                .ok()?
                .unix_timestamp_nanos(),
        )
    }))
}

/// Credentials got from a refresh are those of the last file read or answer received.
fn check_identity(identity: &Identity, last: &Last, steps: usize, setup: Setup) {
    let shown = format!("{identity:?}");
    assert!(shown.contains("[redacted]"), "{shown}");
    match identity.source() {
        kind @ (SourceKind::Metadata
        | SourceKind::PodIdentity
        | SourceKind::IamFederation
        | SourceKind::OidcSts) => {
            let Last::Answer(status, _, body) = last else {
                panic!("{kind:?} credentials without an answer");
            };
            if matches!(kind, SourceKind::Metadata | SourceKind::PodIdentity) {
                assert_eq!(*status, StatusCode::OK, "{kind:?}");
            } else {
                assert!(status.is_success(), "{kind:?} credentials from a {status}");
            }
            let doc = parse_document(body).expect("credentials from a refused document");
            let (aksk, expires_at) = doc.into_parts();
            assert!(*identity.credentials() == Credentials::AkSk(aksk));
            assert_eq!(identity.expires_at(), Some(expires_at));
        }
        SourceKind::IamPassword => {
            let Last::Answer(status, headers, body) = last else {
                panic!("an IAM token without an answer");
            };
            assert!(status.is_success(), "an IAM token from a {status}");
            let token = headers["x-subject-token"].to_str().unwrap();
            assert!(*identity.credentials() == Credentials::Token(AuthToken::new(token).unwrap()));
            assert!(identity.expires_at().is_some());
            if let Some(expiry) = token_expiry(body) {
                assert_eq!(
                    identity.expires_at().map(nanos),
                    expiry,
                    "the IAM token's expiry is not the answer's"
                );
            }
        }
        kind @ (SourceKind::ProfileFile | SourceKind::KooCli) => {
            let Last::File(path, bytes) = last else {
                panic!("{kind:?} credentials without a file read");
            };
            let profile = if kind == SourceKind::KooCli {
                assert_eq!(path, KOOCLI_FILE);
                parse_koocli(bytes, setup.koocli_profile())
            } else {
                assert!(path == PROFILE_FILE || path == NAMED_FILE, "{path}");
                parse_profile(bytes, ProfileSection::Basic)
            }
            .expect("credentials from a refused file");
            assert!(profile.idp_id().is_none(), "keys used, not federation");
            assert!(profile.credentials().as_ref() == Some(identity.credentials()));
            assert_eq!(identity.expires_at(), None);
        }
        SourceKind::Environment => assert_eq!(steps, 0, "the environment needs no I/O"),
        SourceKind::Static => panic!("static credentials from a source"),
    }
}

/// The link that gave `identity`: the single source's, or in the chain the one that gives
/// its kind; IAM federation is the profile file's when this refresh read the profile
/// (the chain stops at the environment when that federates), else the environment's.
fn answering_link(setup: Setup, identity: &Identity, driven: &Driven, world: &World) -> Link {
    let kind = identity.source();
    let link = match setup.single_link() {
        Some(link) => link,
        None => match kind {
            SourceKind::OidcSts => Link::OidcSts,
            SourceKind::Environment => Link::Environment,
            SourceKind::IamPassword => Link::IamPassword,
            SourceKind::ProfileFile => Link::ProfileFile,
            SourceKind::KooCli => Link::KooCli,
            SourceKind::PodIdentity => Link::PodIdentity,
            SourceKind::Metadata => Link::Metadata,
            SourceKind::IamFederation if driven.read_profile => {
                let profile = world.profile.as_ref();
                assert!(
                    profile.is_some_and(|p| p.idp_id().is_some() && p.id_token_file().is_some()),
                    "federation after reading a profile that does not federate"
                );
                Link::ProfileFile
            }
            SourceKind::IamFederation => {
                assert!(
                    lookup(world.vars)(ENV_IDP_ID).is_some(),
                    "federation, but neither the environment nor a profile read federates"
                );
                Link::Environment
            }
            SourceKind::Static => panic!("static credentials from a chain"),
        },
    };
    assert!(
        link.yields().contains(&kind),
        "{kind:?} credentials from the {link:?} link"
    );
    link
}

/// A provider driven through one refresh, or two, by scripted I/O. Records are separated
/// by `0xFF`. The first sets up: its first byte picks the provider (pod identity, ECS
/// metadata, the default chain with `HOME` set in five environments, KooCLI's profile
/// `p1`, the profile file, STS, an IAM password, IAM federation: every service at a fixed
/// loopback URL but IAM in two of them); a second byte, when there is one, asks for a
/// second refresh that many quarter hours after the first. Every later record answers one
/// need in turn, by its first (control) byte:
/// * a file read gets the bytes after it, or a [`FileProblem`] when it is `0xE0` or more
///   (not found, not a file, too large, unreadable by its two low bits);
/// * an exchange gets the status 200, 401, 404, 405, 503, 500, 429, 403, 400, 201, 204,
///   301, 302, 502, 504 or 418 (by its low four bits) and the bytes after it as the body
///   or, when bit 4 is set, as `name:value` header lines, a blank line and the body; or a
///   [`TransportFailure`] when it is `0xE0` or more (connect, TLS, timeout or I/O by its
///   two low bits; bit 2 set: the request may have been sent).
///
/// Past the last record, files are missing and services unreachable.
///
/// Laws: a refresh ends within 20 steps (18 is the longest right one), without a panic;
/// requests go only to the configured services, with only the headers sources send, the
/// pod token and the metadata session token marked sensitive and equal to what was read or
/// answered; credentials are those of the last file or answer; errors list one line per
/// source (the chain's seven, in order, until one source has answered, then only that
/// one).
///
/// And the chain's: a refresh that a link answers asked no later link; once a link has
/// answered, the next refresh asks only that link, and it answers with a kind that link
/// can give (the profile file: its keys or IAM federation, whichever the file says then)
/// or fails under that link's name. The link is what is kept, not the kind of
/// credentials: a profile file that federates at one refresh and holds keys at the next
/// is the same link answering another way.
pub fn credential_sources(data: &[u8]) {
    let mut records = data.split(|&b| b == 0xFF);
    let config = records.next().unwrap_or_default();
    let (setup, vars) = SETUPS[usize::from(config.first().copied().unwrap_or(0)) % SETUPS.len()];
    let mut provider = setup.provider(vars);
    assert!(!provider.is_fixed());
    let t0 = UNIX_EPOCH + Duration::from_secs(1_767_225_600);
    let second = config
        .get(1)
        .map(|&q| t0 + Duration::from_secs(900 * u64::from(q)));
    let mut world = World {
        vars,
        pod_token: None,
        sessions: HashSet::new(),
        profile: None,
    };
    let mut answered: Option<Link> = None;
    for now in [Some(t0), second].into_iter().flatten() {
        let driven = drive(&mut provider, now, &mut records, &mut world);
        // Which link asked is only a question in the chain (a single IAM federation
        // source reads the environment link's token file).
        let chain = setup == Setup::Chain;
        if let Some(link) = answered.filter(|_| chain) {
            assert!(
                driven.touched.iter().all(|&t| t == link),
                "the {link:?} link answered, then a refresh asked {:?}",
                driven.touched
            );
        }
        match &driven.result {
            Ok(identity) => {
                check_identity(identity, &driven.last, driven.steps, setup);
                let link = answering_link(setup, identity, &driven, &world);
                assert!(
                    !chain || driven.touched.iter().all(|&t| t <= link),
                    "the {link:?} link answered after {:?} were asked",
                    driven.touched
                );
                if let Some(before) = answered {
                    assert_eq!(link, before, "the chain moved to another link");
                }
                answered = Some(link);
            }
            Err(error) => {
                let shown = error.to_string();
                let _ = render_error(error);
                let _ = error.is_retryable();
                assert!(!shown.contains('\r'), "{shown:?}");
                assert_eq!(error.expired_at(), None);
                assert!(!error.is_wait_timeout());
                let sources = error.sources();
                for s in sources {
                    let _ = (s.status(), s.code(), s.message(), s.path(), s.trace_id());
                    let _ = (s.transport_failure(), s.is_skipped(), s.is_unreachable());
                    one_line("a source's error", &s.to_string());
                }
                let kinds: Vec<SourceKind> = sources.iter().map(|s| s.source_kind()).collect();
                match (setup, answered) {
                    (Setup::Chain, None) => {
                        assert_eq!(kinds, CHAIN_ORDER, "{shown}");
                        let lines: Vec<&str> = shown.lines().collect();
                        assert_eq!(lines.len(), 1 + CHAIN_ORDER.len(), "{shown}");
                        assert!(lines[1..].iter().all(|l| l.starts_with("  - ")), "{shown}");
                    }
                    (_, Some(link)) => {
                        assert!(
                            kinds == [link.fails_as()],
                            "the {link:?} link answered, then {kinds:?} failed: {shown}"
                        );
                        one_line("an error", &shown);
                    }
                    (_, None) => {
                        assert_eq!(kinds.len(), 1, "{shown}");
                        one_line("an error", &shown);
                    }
                }
            }
        }
    }
}
