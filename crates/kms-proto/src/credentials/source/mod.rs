//! Where credentials come from: [`Provider`], and one [`Refresh`] of it, as sans-IO machines.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use http::{HeaderMap, Request, StatusCode};

use super::error::{CredentialError, Failure, FileProblem, SourceError};
use super::{Credentials, Identity, SourceKind};
use crate::call::{TransportErrorKind, TransportFailure};
use crate::env::{EnvError, credentials_from_env};
use crate::input::{
    Endpoint, HttpPolicy, Input, InvalidInput, Problem, ProjectId, Region, check_chars, check_len,
};

mod federation;
mod files;
mod metadata;
mod password;
mod pod_identity;
mod sts;

use federation::Federation;
use files::FileSource;
use metadata::Metadata;
use password::{Password, PasswordFrom};
use pod_identity::PodIdentity;
use sts::{IdToken, Sts};

pub use password::{ENV_IAM_DOMAIN, ENV_IAM_PASSWORD, ENV_IAM_PASSWORD_FILE, ENV_IAM_USER};
pub use sts::{
    DEFAULT_STS_ENDPOINT, ENV_OIDC_AGENCY_URN, ENV_OIDC_DURATION_SECONDS, ENV_OIDC_ID_TOKEN,
    ENV_OIDC_POLICY, ENV_OIDC_POLICY_IDS, ENV_OIDC_PROVIDER_URN, ENV_OIDC_SESSION_NAME,
    ENV_OIDC_TOKEN_FILE, ENV_STS_ENDPOINT,
};

/// `HUAWEICLOUD_SDK_IDP_ID`: the identity provider of IAM federation.
pub const ENV_IDP_ID: &str = "HUAWEICLOUD_SDK_IDP_ID";
/// `HUAWEICLOUD_SDK_ID_TOKEN_FILE`: the OIDC identity token's file, for IAM federation.
pub const ENV_ID_TOKEN_FILE: &str = "HUAWEICLOUD_SDK_ID_TOKEN_FILE";
/// `HUAWEICLOUD_SDK_REGION`: the region IAM-based sources use (IAM's endpoint, a password
/// token's scope) when the code gives none ([`Provider::with_region`]).
pub const ENV_REGION: &str = "HUAWEICLOUD_SDK_REGION";

/// How long a transport may take to connect to a credential service (ECS metadata, CCE
/// pod identity): 1 s. Both are on the local network or the node itself; off ECS the
/// metadata address is usually unroutable, and this is what makes the chain fail fast
/// there instead of waiting for a generic timeout.
pub const SOURCE_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// The largest answer body a credential service may send, in bytes (64 KiB); read at most
/// one byte more, as for the KMS answer.
pub const MAX_SOURCE_BODY: usize = 64 * 1024;

/// `HUAWEICLOUD_SDK_CREDENTIALS_FILE`: the profile file's path.
pub const ENV_CREDENTIALS_FILE: &str = "HUAWEICLOUD_SDK_CREDENTIALS_FILE";
/// `HUAWEICLOUD_SDK_METADATA_ENDPOINT`: this project's override of the ECS metadata
/// base URL (default `http://169.254.169.254`), for tests and proxies. The official SDKs
/// have no such variable.
pub const ENV_METADATA_ENDPOINT: &str = "HUAWEICLOUD_SDK_METADATA_ENDPOINT";
/// `HC_CONTAINER_CREDENTIALS_FULL_URI`: where CCE pod identity answers.
pub const ENV_POD_IDENTITY_URI: &str = "HC_CONTAINER_CREDENTIALS_FULL_URI";
/// `HC_CONTAINER_AUTHORIZATION_TOKEN_FILE`: the file holding the pod's token.
pub const ENV_POD_IDENTITY_TOKEN_FILE: &str = "HC_CONTAINER_AUTHORIZATION_TOKEN_FILE";
/// The ECS metadata service's address.
pub const DEFAULT_METADATA_ENDPOINT: &str = "http://169.254.169.254";

/// An HTTP exchange a source needs: the request (absolute URI, every header, secrets
/// marked sensitive) and how long it may take from sending to the last body byte. Connect
/// within [`SOURCE_CONNECT_TIMEOUT`], never through the KMS proxy, never following a
/// redirect, and read at most [`MAX_SOURCE_BODY`] + 1 bytes of the body.
pub struct SourceRequest {
    request: Request<Vec<u8>>,
    timeout: Duration,
    remote: bool,
}

/// The method, URI and body length only: bodies carry identity tokens and passwords, and
/// secret headers are already marked sensitive.
impl std::fmt::Debug for SourceRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceRequest")
            .field("method", self.request.method())
            .field("uri", self.request.uri())
            .field("body_len", &self.request.body().len())
            .field("timeout", &self.timeout)
            .field("remote", &self.remote)
            .finish()
    }
}

impl SourceRequest {
    /// Whether it goes to a Huawei Cloud service over the network (IAM, STS): send it as
    /// the client sends its KMS calls (its proxy, trusted roots and connect timeout).
    /// Otherwise it goes to a service on the instance or node (ECS metadata, CCE pod
    /// identity): never through the proxy, connecting within [`SOURCE_CONNECT_TIMEOUT`].
    pub fn is_remote(&self) -> bool {
        self.remote
    }

    /// The request.
    pub fn request(&self) -> &Request<Vec<u8>> {
        &self.request
    }

    /// How long the exchange may take.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The request and its timeout, to send.
    pub fn into_parts(self) -> (Request<Vec<u8>>, Duration) {
        (self.request, self.timeout)
    }
}

/// A file a source needs: read it if it is a regular file of at most `max_len` bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRead {
    path: PathBuf,
    max_len: u64,
}

impl FileRead {
    /// The file.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// The most bytes it may have: larger is [`FileProblem::TooLarge`].
    pub fn max_len(&self) -> u64 {
        self.max_len
    }
}

/// What a refresh needs next.
#[derive(Debug)]
pub enum Need {
    /// Read this file and pass the result to [`Refresh::on_file`].
    File(FileRead),
    /// Send this and pass the answer to [`Refresh::on_response`], or the failure to
    /// [`Refresh::on_failure`].
    Http(SourceRequest),
    /// The refresh is over.
    Done(Result<Identity, CredentialError>),
}

/// What a source's step gives: more I/O, or its result.
pub(crate) enum Next {
    File(FileRead),
    Http(SourceRequest),
    Finished(Result<Identity, Failure>),
}

/// Where credentials come from, as a sans-IO machine: a [`Provider`] (one source, or the
/// default chain of them) and, for each refresh, a [`Refresh`] that says what it needs next
/// ([`Need`]): a file read, an HTTP exchange, or nothing more (the credentials, or why
/// there are none). The transport does the reading and the sending, and reports back:
///
/// ```text
/// provider.refresh(now) ─> start() ─> Need::File(read)    ─ read it ──> on_file(result)
///                                     Need::Http(request) ─ send it ──> on_response(..) / on_failure(..)
///                                     Need::Done(result)  ─ over
/// ```
///
/// A provider keeps what it learnt between refreshes: which source of the chain answered
/// (later refreshes ask only it), the ECS metadata session token, and whether the instance
/// has a token service at all. The refresh is for one caller at a time; the
/// [`CredentialCache`](super::CredentialCache) decides who.
///
/// # The default chain, and why its order differs from the official Python SDK's
/// 1. STS with OIDC (`HUAWEICLOUD_OIDC_*`), first as in the official Python chain;
/// 2. environment variables (`HUAWEICLOUD_SDK_AK`/`_SK`/`_SECURITY_TOKEN`, or
///    `HUAWEICLOUD_SDK_AUTH_TOKEN`; IAM federation instead when `HUAWEICLOUD_SDK_IDP_ID`
///    and `HUAWEICLOUD_SDK_ID_TOKEN_FILE` are set);
/// 3. an IAM user's password (`HUAWEICLOUD_SDK_IAM_*`), after keys set on purpose;
/// 4. the profile file (`HUAWEICLOUD_SDK_CREDENTIALS_FILE`, else
///    `~/.huaweicloud/credentials`, section `[basic]`), then KooCLI's
///    `~/.hcloud/config.json` (its current profile);
/// 5. CCE pod identity, when `HC_CONTAINER_CREDENTIALS_FULL_URI` and
///    `HC_CONTAINER_AUTHORIZATION_TOKEN_FILE` are both set;
/// 6. ECS metadata (`http://169.254.169.254`, or `HUAWEICLOUD_SDK_METADATA_ENDPOINT`).
///
/// Python asks metadata before pod identity. In a CCE pod the node's metadata service is
/// usually reachable too, so that order silently gives the pod its node's agency, with
/// the node's permissions, whenever it is tried first. Pod identity is only ever
/// configured on purpose, so it goes first.
#[derive(Clone, Debug)]
pub struct Provider {
    sources: Vec<Source>,
    /// A chain lists why every source failed; a single source just says why it did.
    chain: bool,
    /// The source of the chain that answered last: later refreshes ask only it.
    chosen: Option<usize>,
    /// For IAM-based sources: the region (IAM's endpoint, a password token's scope).
    region: Option<Region>,
    /// For a password token: the project to scope it to (else the region's name).
    project: Option<ProjectId>,
}

#[derive(Clone, Debug)]
enum Source {
    /// Known at construction: static credentials, or the environment's.
    Fixed(Identity),
    /// Known at construction not to work, and why.
    Unusable(SourceKind, Unusable),
    Files(FileSource),
    PodIdentity(PodIdentity),
    Metadata(Metadata),
    Federation(SourceKind, Federation),
    Sts(Sts),
    Password(Password),
}

/// Why a source cannot work, as found at construction (cloneable, unlike [`Failure`]).
#[derive(Clone, Debug)]
enum Unusable {
    NotConfigured(String),
    Misconfigured(String),
    Env(EnvError),
    Invalid(InvalidInput),
}

impl From<Unusable> for Failure {
    fn from(u: Unusable) -> Self {
        match u {
            Unusable::NotConfigured(why) => Failure::NotConfigured(why),
            Unusable::Misconfigured(why) => Failure::Misconfigured(why),
            Unusable::Env(e) => Failure::Env(e),
            Unusable::Invalid(e) => Failure::Invalid(e),
        }
    }
}

impl From<Credentials> for Provider {
    fn from(credentials: Credentials) -> Self {
        Provider::fixed(credentials)
    }
}

/// `$HOME` (or `%USERPROFILE%` on Windows) through `lookup`.
fn home(lookup: &impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let var = if cfg!(windows) { "USERPROFILE" } else { "HOME" };
    lookup(var).filter(|h| !h.is_empty()).map(PathBuf::from)
}

impl Provider {
    fn single(source: Source) -> Self {
        Provider {
            sources: vec![source],
            chain: false,
            chosen: None,
            region: None,
            project: None,
        }
    }

    /// Reads `HUAWEICLOUD_SDK_REGION` and `HUAWEICLOUD_SDK_PROJECT_ID` for the IAM-based
    /// sources (ignored when malformed: a source that needs them says so).
    fn context(mut self, lookup: &impl Fn(&str) -> Option<String>) -> Self {
        let get = |name: &str| lookup(name).filter(|v| !v.is_empty());
        self.region = get(ENV_REGION).and_then(|r| Region::new(&r).ok());
        self.project = get(crate::env::ENV_PROJECT_ID).and_then(|p| ProjectId::new(&p).ok());
        self
    }

    /// Sets the region the IAM-based sources use: IAM's endpoint
    /// (`https://iam.{region}.myhuaweicloud.com`) and a password token's scope. Default:
    /// `HUAWEICLOUD_SDK_REGION` read through the constructor's lookup.
    pub fn with_region(mut self, region: Region) -> Self {
        self.region = Some(region);
        self
    }

    /// Sets the project a password token is scoped to (default:
    /// `HUAWEICLOUD_SDK_PROJECT_ID` read through the constructor's lookup; else the
    /// region's name scopes it).
    pub fn with_project(mut self, project: ProjectId) -> Self {
        self.project = Some(project);
        self
    }

    /// Static credentials: never refreshed.
    pub fn fixed(credentials: Credentials) -> Self {
        Self::single(Source::Fixed(Identity::new(
            credentials,
            None,
            SourceKind::Static,
        )))
    }

    /// The official environment variables, read now through `lookup` (pass
    /// `|name| std::env::var(name).ok()` for the real environment; empty values count as
    /// unset): `HUAWEICLOUD_SDK_AK` and `_SK` (with `_SECURITY_TOKEN`), or
    /// `HUAWEICLOUD_SDK_AUTH_TOKEN`.
    ///
    /// When `HUAWEICLOUD_SDK_IDP_ID` and `HUAWEICLOUD_SDK_ID_TOKEN_FILE` are set, they take
    /// precedence over AK/SK, as in the official SDKs: IAM federation with that token.
    pub fn environment(lookup: impl Fn(&str) -> Option<String>) -> Self {
        Self::single(environment(&lookup)).context(&lookup)
    }

    /// IAM federation: `HUAWEICLOUD_SDK_IDP_ID` and `HUAWEICLOUD_SDK_ID_TOKEN_FILE` (IAM
    /// at `HUAWEICLOUD_SDK_IAM_ENDPOINT`, else the region's).
    pub fn iam_federation(lookup: impl Fn(&str) -> Option<String>) -> Self {
        Self::single(iam_federation(&lookup, SourceKind::IamFederation)).context(&lookup)
    }

    /// STS assume-agency with OIDC: `HUAWEICLOUD_OIDC_PROVIDER_URN`, `_AGENCY_URN`,
    /// `_ID_TOKEN` or `_TOKEN_FILE`, `_SESSION_NAME` (default `oidc-sts-session`),
    /// `_DURATION_SECONDS` (default 3600), `_POLICY`, `_POLICY_IDS`; STS at
    /// `HUAWEICLOUD_SDK_STS_ENDPOINT`, else `https://sts.cn-north-4.myhuaweicloud.com`.
    pub fn oidc_sts(lookup: impl Fn(&str) -> Option<String>) -> Self {
        Self::single(oidc_sts(&lookup)).context(&lookup)
    }

    /// An IAM user token: `HUAWEICLOUD_SDK_IAM_USER`, `HUAWEICLOUD_SDK_IAM_DOMAIN` and
    /// `HUAWEICLOUD_SDK_IAM_PASSWORD` (or `_PASSWORD_FILE`), this project's own variables;
    /// scoped to [`with_project`](Self::with_project)'s project, else the region's.
    pub fn iam_password(lookup: impl Fn(&str) -> Option<String>) -> Self {
        Self::single(iam_password(&lookup)).context(&lookup)
    }

    /// The profile file: `HUAWEICLOUD_SDK_CREDENTIALS_FILE`, else
    /// `~/.huaweicloud/credentials` (`HOME` through `lookup`), section `[basic]`. Read at
    /// the first refresh; its credentials never expire.
    pub fn profile_file(lookup: impl Fn(&str) -> Option<String>) -> Self {
        Self::single(profile_file(&lookup)).context(&lookup)
    }

    /// The profile file at `path`, section `[basic]`.
    pub fn profile_file_at(path: impl Into<PathBuf>) -> Self {
        Self::single(Source::Files(FileSource::profile(path.into(), true)))
    }

    /// KooCLI's configuration `~/.hcloud/config.json` (`HOME` through `lookup`): the
    /// profile named `profile`, or its current one. Only AK/SK profiles are supported.
    pub fn koocli(lookup: impl Fn(&str) -> Option<String>, profile: Option<&str>) -> Self {
        Self::single(koocli(&lookup, profile, true))
    }

    /// KooCLI's configuration at `path`.
    pub fn koocli_at(path: impl Into<PathBuf>, profile: Option<&str>) -> Self {
        Self::single(Source::Files(FileSource::koocli(
            path.into(),
            profile.map(str::to_owned),
            true,
        )))
    }

    /// CCE pod identity, from `HC_CONTAINER_CREDENTIALS_FULL_URI` and
    /// `HC_CONTAINER_AUTHORIZATION_TOKEN_FILE` (through `lookup`).
    pub fn pod_identity(lookup: impl Fn(&str) -> Option<String>) -> Self {
        Self::single(pod_identity(&lookup))
    }

    /// ECS metadata at `http://169.254.169.254`, or `HUAWEICLOUD_SDK_METADATA_ENDPOINT`
    /// (through `lookup`).
    pub fn metadata(lookup: impl Fn(&str) -> Option<String>) -> Self {
        Self::single(metadata(&lookup))
    }

    /// The default chain (see the [`Provider`] docs), its settings read now through
    /// `lookup`; files and services are only asked at the first refresh. The first source
    /// that gives credentials answers every later refresh too.
    pub fn default_chain(lookup: impl Fn(&str) -> Option<String>) -> Self {
        Provider {
            sources: vec![
                oidc_sts(&lookup),
                environment(&lookup),
                iam_password(&lookup),
                profile_file(&lookup),
                koocli(&lookup, None, false),
                pod_identity(&lookup),
                metadata(&lookup),
            ],
            chain: true,
            chosen: None,
            region: None,
            project: None,
        }
        .context(&lookup)
    }

    /// Whether the credentials are known without any I/O and never expire.
    pub fn is_fixed(&self) -> bool {
        matches!(self.sources.as_slice(), [Source::Fixed(_)])
    }

    /// Starts a refresh at `now` (the wall clock: expiries are wall-clock times).
    pub fn refresh(&mut self, now: SystemTime) -> Refresh<'_> {
        let (first, end) = match self.chosen {
            Some(i) => (i, i + 1),
            None => (0, self.sources.len()),
        };
        Refresh {
            provider: self,
            now,
            index: first,
            end,
            errors: Vec::new(),
            state: State::Idle,
        }
    }
}

fn environment(lookup: &impl Fn(&str) -> Option<String>) -> Source {
    let get = |name: &str| lookup(name).filter(|v| !v.is_empty());
    if get(ENV_IDP_ID).is_some() || get(ENV_ID_TOKEN_FILE).is_some() {
        return iam_federation(lookup, SourceKind::Environment);
    }
    match credentials_from_env(get) {
        Ok(credentials) => Source::Fixed(Identity::new(credentials, None, SourceKind::Environment)),
        Err(EnvError::Missing(names)) if names.len() > 1 => Source::Unusable(
            SourceKind::Environment,
            Unusable::NotConfigured(format!(
                "{} and {}, or {}, are not set",
                crate::env::ENV_AK,
                crate::env::ENV_SK,
                crate::env::ENV_AUTH_TOKEN
            )),
        ),
        Err(e) => Source::Unusable(SourceKind::Environment, Unusable::Env(e)),
    }
}

fn iam_federation(lookup: &impl Fn(&str) -> Option<String>, kind: SourceKind) -> Source {
    let get = |name: &str| lookup(name).filter(|v| !v.is_empty());
    let unusable = |u| Source::Unusable(kind, u);
    match (get(ENV_IDP_ID), get(ENV_ID_TOKEN_FILE)) {
        (None, None) => unusable(Unusable::NotConfigured(format!("{ENV_IDP_ID} is not set"))),
        (Some(_), None) => unusable(Unusable::Misconfigured(format!(
            "{ENV_IDP_ID} is set but {ENV_ID_TOKEN_FILE} is not"
        ))),
        (None, Some(_)) => unusable(Unusable::Misconfigured(format!(
            "{ENV_ID_TOKEN_FILE} is set but {ENV_IDP_ID} is not"
        ))),
        (Some(idp), Some(file)) => match setting(&idp, ENV_IDP_ID) {
            Ok(idp) => Source::Federation(
                kind,
                Federation::new(IamPlace::from_env(lookup, None), idp, file.into()),
            ),
            Err(e) => unusable(Unusable::Invalid(e)),
        },
    }
}

fn oidc_sts(lookup: &impl Fn(&str) -> Option<String>) -> Source {
    let get = |name: &str| lookup(name).filter(|v| !v.is_empty());
    let unusable = |u| Source::Unusable(SourceKind::OidcSts, u);
    let Some(provider_urn) = get(ENV_OIDC_PROVIDER_URN) else {
        return unusable(Unusable::NotConfigured(format!(
            "{ENV_OIDC_PROVIDER_URN} is not set"
        )));
    };
    let Some(agency_urn) = get(ENV_OIDC_AGENCY_URN) else {
        return unusable(Unusable::Misconfigured(format!(
            "{ENV_OIDC_PROVIDER_URN} is set but {ENV_OIDC_AGENCY_URN} is not"
        )));
    };
    let token = match (get(ENV_OIDC_ID_TOKEN), get(ENV_OIDC_TOKEN_FILE)) {
        (Some(token), _) => match check_secret(crate::input::Input::IdToken, &token) {
            Ok(()) => IdToken::Value(super::Secret(token.into())),
            Err(e) => return unusable(Unusable::Invalid(e.with_origin(ENV_OIDC_ID_TOKEN))),
        },
        (None, Some(file)) => IdToken::File(file.into()),
        (None, None) => {
            return unusable(Unusable::Misconfigured(format!(
                "{ENV_OIDC_PROVIDER_URN} is set but neither {ENV_OIDC_ID_TOKEN} nor {ENV_OIDC_TOKEN_FILE} is"
            )));
        }
    };
    let duration_seconds = match get(ENV_OIDC_DURATION_SECONDS) {
        None => 3600,
        Some(text) => match text.parse::<u32>() {
            Ok(n) if n > 0 => n,
            _ => {
                return unusable(Unusable::Invalid(
                    InvalidInput::new(
                        Input::SourceSetting,
                        Problem::Malformed {
                            expected: "a whole number of seconds",
                        },
                    )
                    .with_origin(ENV_OIDC_DURATION_SECONDS),
                ));
            }
        },
    };
    let endpoint = match get(ENV_STS_ENDPOINT) {
        Some(url) => Endpoint::parse(&url).map_err(|e| e.with_origin(ENV_STS_ENDPOINT)),
        None => Endpoint::parse(DEFAULT_STS_ENDPOINT),
    };
    let endpoint = match endpoint {
        Ok(endpoint) => endpoint,
        Err(e) => return unusable(Unusable::Invalid(e)),
    };
    Source::Sts(Sts {
        endpoint,
        provider_urn,
        agency_urn,
        token,
        session_name: get(ENV_OIDC_SESSION_NAME).unwrap_or_else(|| "oidc-sts-session".to_owned()),
        duration_seconds,
        policy: get(ENV_OIDC_POLICY),
        policy_ids: get(ENV_OIDC_POLICY_IDS)
            .map(|ids| {
                ids.split(',')
                    .map(str::trim)
                    .filter(|id| !id.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
    })
}

fn iam_password(lookup: &impl Fn(&str) -> Option<String>) -> Source {
    let get = |name: &str| lookup(name).filter(|v| !v.is_empty());
    let unusable = |u| Source::Unusable(SourceKind::IamPassword, u);
    let (user, domain) = match (get(ENV_IAM_USER), get(ENV_IAM_DOMAIN)) {
        (None, None) => {
            return unusable(Unusable::NotConfigured(format!(
                "{ENV_IAM_USER} is not set"
            )));
        }
        (Some(user), Some(domain)) => (user, domain),
        _ => {
            return unusable(Unusable::Misconfigured(format!(
                "{ENV_IAM_USER} and {ENV_IAM_DOMAIN} go together"
            )));
        }
    };
    let password = match (get(ENV_IAM_PASSWORD), get(ENV_IAM_PASSWORD_FILE)) {
        (Some(password), None) => PasswordFrom::Value(super::Secret(password.into())),
        (None, Some(file)) => PasswordFrom::File(file.into()),
        (Some(_), Some(_)) => {
            return unusable(Unusable::Misconfigured(format!(
                "both {ENV_IAM_PASSWORD} and {ENV_IAM_PASSWORD_FILE} are set; unset one"
            )));
        }
        (None, None) => {
            return unusable(Unusable::Misconfigured(format!(
                "{ENV_IAM_USER} is set but neither {ENV_IAM_PASSWORD} nor {ENV_IAM_PASSWORD_FILE} is"
            )));
        }
    };
    match (
        setting(&user, ENV_IAM_USER),
        setting(&domain, ENV_IAM_DOMAIN),
    ) {
        (Ok(user), Ok(domain)) => Source::Password(Password {
            iam: IamPlace::from_env(lookup, None),
            domain,
            user,
            password,
        }),
        (Err(e), _) | (_, Err(e)) => unusable(Unusable::Invalid(e)),
    }
}

/// A setting that goes into a header or a JSON string: printable text, at most 256 bytes.
fn setting(value: &str, origin: &str) -> Result<String, InvalidInput> {
    let input = Input::SourceSetting;
    check_len(input, value, 256).map_err(|e| e.with_origin(origin))?;
    check_chars(input, value, "printable ASCII without spaces", |c| {
        c.is_ascii_graphic()
    })
    .map_err(|e| e.with_origin(origin))?;
    Ok(value.to_owned())
}

fn check_secret(input: Input, value: &str) -> Result<(), InvalidInput> {
    check_len(input, value, crate::credentials::MAX_TOKEN_LEN)?;
    check_chars(input, value, "printable ASCII without spaces", |c| {
        c.is_ascii_graphic()
    })
}

/// Where IAM is for a source: `HUAWEICLOUD_SDK_IAM_ENDPOINT` (read at construction), else a
/// profile's `iam_endpoint`, else the region's (known at refresh).
#[derive(Clone, Debug)]
pub(crate) struct IamPlace {
    env: Option<String>,
    profile: Option<String>,
}

impl IamPlace {
    pub(crate) fn from_env(
        lookup: &impl Fn(&str) -> Option<String>,
        profile: Option<String>,
    ) -> Self {
        Self::new(
            lookup(crate::iam::ENV_IAM_ENDPOINT).filter(|v| !v.is_empty()),
            profile,
        )
    }

    pub(crate) fn new(env: Option<String>, profile: Option<String>) -> Self {
        IamPlace { env, profile }
    }

    pub(crate) fn resolve(&self, region: Option<&Region>) -> Result<Endpoint, Failure> {
        crate::iam::iam_endpoint(region, self.profile.as_deref(), |name| {
            (name == crate::iam::ENV_IAM_ENDPOINT)
                .then(|| self.env.clone())
                .flatten()
        })
        .map_err(Failure::Invalid)
    }
}

/// A secret a file holds (an identity token): UTF-8, trimmed, printable ASCII.
pub(crate) fn secret_text(
    input: Input,
    bytes: &[u8],
    path: &std::path::Path,
) -> Result<String, Failure> {
    token_header(input, bytes)
        .map_err(|e| Failure::Invalid(e.with_origin(path.display().to_string())))
        .and_then(|header| header.to_str().map(str::to_owned).map_err(|_| unexpected()))
}

fn profile_file(lookup: &impl Fn(&str) -> Option<String>) -> Source {
    let iam_env = lookup(crate::iam::ENV_IAM_ENDPOINT).filter(|v| !v.is_empty());
    if let Some(path) = lookup(ENV_CREDENTIALS_FILE).filter(|v| !v.is_empty()) {
        return Source::Files(FileSource::profile(path.into(), true).with_iam_env(iam_env));
    }
    match home(lookup) {
        Some(home) => Source::Files(
            FileSource::profile(home.join(".huaweicloud").join("credentials"), false)
                .with_iam_env(iam_env),
        ),
        None => Source::Unusable(
            SourceKind::ProfileFile,
            Unusable::NotConfigured(format!("neither {ENV_CREDENTIALS_FILE} nor HOME is set")),
        ),
    }
}

fn koocli(
    lookup: &impl Fn(&str) -> Option<String>,
    profile: Option<&str>,
    explicit: bool,
) -> Source {
    match home(lookup) {
        Some(home) => Source::Files(FileSource::koocli(
            home.join(".hcloud").join("config.json"),
            profile.map(str::to_owned),
            explicit,
        )),
        None => Source::Unusable(
            SourceKind::KooCli,
            Unusable::NotConfigured("HOME is not set".to_owned()),
        ),
    }
}

fn pod_identity(lookup: &impl Fn(&str) -> Option<String>) -> Source {
    let get = |name: &str| lookup(name).filter(|v| !v.is_empty());
    let unusable = |u| Source::Unusable(SourceKind::PodIdentity, u);
    match (get(ENV_POD_IDENTITY_URI), get(ENV_POD_IDENTITY_TOKEN_FILE)) {
        (None, None) => unusable(Unusable::NotConfigured(format!(
            "{ENV_POD_IDENTITY_URI} is not set"
        ))),
        (Some(_), None) => unusable(Unusable::Misconfigured(format!(
            "{ENV_POD_IDENTITY_URI} is set but {ENV_POD_IDENTITY_TOKEN_FILE} is not"
        ))),
        (None, Some(_)) => unusable(Unusable::Misconfigured(format!(
            "{ENV_POD_IDENTITY_TOKEN_FILE} is set but {ENV_POD_IDENTITY_URI} is not"
        ))),
        (Some(uri), Some(file)) => match url(&uri, Input::PodIdentityUri, ENV_POD_IDENTITY_URI) {
            Ok(endpoint) => Source::PodIdentity(PodIdentity::new(endpoint, file.into())),
            Err(e) => unusable(Unusable::Invalid(e)),
        },
    }
}

fn metadata(lookup: &impl Fn(&str) -> Option<String>) -> Source {
    let base = lookup(ENV_METADATA_ENDPOINT).filter(|v| !v.is_empty());
    let endpoint = match &base {
        Some(base) => url(base, Input::MetadataEndpoint, ENV_METADATA_ENDPOINT),
        None => url(
            DEFAULT_METADATA_ENDPOINT,
            Input::MetadataEndpoint,
            "default",
        ),
    };
    match endpoint {
        Ok(endpoint) => Source::Metadata(Metadata::new(endpoint)),
        Err(e) => Source::Unusable(SourceKind::Metadata, Unusable::Invalid(e)),
    }
}

/// A credential service's URL: `http` allowed anywhere (the metadata service has no
/// TLS), no user info, query or fragment.
fn url(text: &str, input: Input, origin: &str) -> Result<Endpoint, InvalidInput> {
    Endpoint::parse_with(text, HttpPolicy::AllowInsecure)
        .map_err(|e| InvalidInput::new(input, e.problem().clone()).with_origin(origin))
}

/// Where one refresh is.
enum State {
    Idle,
    Files(files::Step),
    PodIdentity(pod_identity::Step),
    Metadata(metadata::Step),
    /// IAM federation, from the environment or a profile (the source's own copy).
    Federation(Box<Federation>, federation::Step),
    Sts(sts::Step),
    Password(password::Step),
}

/// One refresh in progress. See the [`Provider`] docs.
pub struct Refresh<'a> {
    provider: &'a mut Provider,
    now: SystemTime,
    index: usize,
    end: usize,
    errors: Vec<SourceError>,
    state: State,
}

impl std::fmt::Debug for Refresh<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Refresh")
            .field("source", &self.index)
            .field("failed", &self.errors.len())
            .finish()
    }
}

impl Refresh<'_> {
    /// What the refresh needs first.
    pub fn start(&mut self) -> Need {
        let next = self.start_source();
        self.advance(next)
    }

    /// The file asked for was read (the bytes), or could not be.
    pub fn on_file(&mut self, result: Result<Vec<u8>, FileProblem>) -> Need {
        let next = match (&mut self.state, self.provider.sources.get_mut(self.index)) {
            (State::Files(step), Some(Source::Files(source))) => {
                match source.on_file(step, result) {
                    files::FileOutcome::Next(next) => next,
                    files::FileOutcome::Federate(federation) => {
                        let (step, next) = federation.start(self.provider.region.as_ref());
                        if let Some(step) = step {
                            self.state = State::Federation(Box::new(federation), step);
                        }
                        next
                    }
                }
            }
            (State::PodIdentity(step), Some(Source::PodIdentity(source))) => {
                source.on_file(step, result)
            }
            (State::Federation(federation, step), _) => federation.on_file(step, result),
            (State::Sts(step), Some(Source::Sts(source))) => source.on_file(step, result),
            (State::Password(step), Some(Source::Password(source))) => source.on_file(step, result),
            _ => Next::Finished(Err(unexpected())),
        };
        self.advance(next)
    }

    /// The request sent got this answer (the body cut to [`MAX_SOURCE_BODY`] + 1 bytes).
    pub fn on_response(&mut self, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Need {
        let now = self.now;
        let next = match (&mut self.state, self.provider.sources.get_mut(self.index)) {
            (State::PodIdentity(step), Some(Source::PodIdentity(source))) => {
                source.on_response(step, status, body)
            }
            (State::Metadata(step), Some(Source::Metadata(source))) => {
                source.on_response(step, status, body, now)
            }
            (State::Federation(federation, step), _) => {
                federation.on_response(step, status, headers, body)
            }
            (State::Sts(_), Some(Source::Sts(source))) => source.on_response(status, headers, body),
            (State::Password(step), Some(Source::Password(source))) => {
                source.on_response(step, status, headers, body)
            }
            _ => Next::Finished(Err(unexpected())),
        };
        self.advance(next)
    }

    /// The request sent got no answer.
    pub fn on_failure(&mut self, failure: TransportFailure) -> Need {
        let url = match (&self.state, self.provider.sources.get(self.index)) {
            (State::PodIdentity(step), Some(Source::PodIdentity(source))) => Some(source.url(step)),
            (State::Metadata(step), Some(Source::Metadata(source))) => Some(source.url(step)),
            (State::Federation(federation, step), _) => Some(federation.url(step)),
            (State::Sts(_), Some(Source::Sts(source))) => Some(source.url()),
            (State::Password(step), Some(Source::Password(source))) => Some(source.url(step)),
            _ => None,
        };
        let next = match url {
            Some(url) => Next::Finished(Err(no_answer(url, failure))),
            None => Next::Finished(Err(unexpected())),
        };
        self.advance(next)
    }

    fn source_mut(&mut self) -> Option<&mut Source> {
        self.provider.sources.get_mut(self.index)
    }

    fn kind(&self) -> SourceKind {
        match self.provider.sources.get(self.index) {
            Some(Source::Fixed(identity)) => identity.source(),
            Some(Source::Unusable(kind, _)) => *kind,
            Some(Source::Files(files)) => files.kind(),
            Some(Source::PodIdentity(_)) => SourceKind::PodIdentity,
            Some(Source::Metadata(_)) => SourceKind::Metadata,
            Some(Source::Federation(kind, _)) => *kind,
            Some(Source::Sts(_)) => SourceKind::OidcSts,
            Some(Source::Password(_)) => SourceKind::IamPassword,
            None => SourceKind::Static,
        }
    }

    /// Starts the source at `self.index`.
    fn start_source(&mut self) -> Next {
        let now = self.now;
        let region = self.provider.region.clone();
        let project = self.provider.project.clone();
        let (state, next) = match self.source_mut() {
            None => return Next::Finished(Err(unexpected())),
            Some(Source::Fixed(identity)) => (State::Idle, Next::Finished(Ok(identity.clone()))),
            Some(Source::Unusable(_, why)) => {
                (State::Idle, Next::Finished(Err(why.clone().into())))
            }
            Some(Source::Files(source)) => {
                let (step, next) = source.start();
                (State::Files(step), next)
            }
            Some(Source::PodIdentity(source)) => {
                let (step, next) = source.start();
                (State::PodIdentity(step), next)
            }
            Some(Source::Metadata(source)) => {
                let (step, next) = source.start(now);
                (State::Metadata(step), next)
            }
            Some(Source::Federation(_, source)) => match source.start(region.as_ref()) {
                (Some(step), next) => (State::Federation(Box::new(source.clone()), step), next),
                (None, next) => (State::Idle, next),
            },
            Some(Source::Sts(source)) => {
                let (step, next) = source.start();
                (State::Sts(step), next)
            }
            Some(Source::Password(source)) => {
                match source.start(region.as_ref(), project.as_ref()) {
                    (Some(step), next) => (State::Password(step), next),
                    (None, next) => (State::Idle, next),
                }
            }
        };
        self.state = state;
        next
    }

    /// Turns a source's step into what the transport does next, moving along the chain
    /// when a source gives nothing.
    fn advance(&mut self, mut next: Next) -> Need {
        loop {
            match next {
                Next::File(read) => return Need::File(read),
                Next::Http(request) => return Need::Http(request),
                Next::Finished(Ok(identity)) => {
                    self.provider.chosen = Some(self.index);
                    self.state = State::Idle;
                    return Need::Done(Ok(identity));
                }
                Next::Finished(Err(failure)) => {
                    let kind = self.kind();
                    self.errors.push(SourceError::new(kind, failure));
                    self.index += 1;
                    if self.index >= self.end {
                        self.state = State::Idle;
                        let errors = std::mem::take(&mut self.errors);
                        let error = if self.provider.chain && self.provider.chosen.is_none() {
                            CredentialError::chain(errors)
                        } else {
                            match errors.into_iter().next_back() {
                                Some(e) => CredentialError::from_source(e),
                                None => CredentialError::chain(Vec::new()),
                            }
                        };
                        return Need::Done(Err(error));
                    }
                    next = self.start_source();
                }
            }
        }
    }
}

/// The transport reported an event the refresh did not ask for.
fn unexpected() -> Failure {
    Failure::Internal("the transport reported an event the source did not ask for".to_owned())
}

/// The failure of a request that got no answer: unreachable when nothing was sent.
pub(crate) fn no_answer(url: String, failure: TransportFailure) -> Failure {
    let unreachable = !failure.may_have_been_sent()
        || matches!(
            failure.kind(),
            TransportErrorKind::Connect | TransportErrorKind::Tls
        );
    if unreachable {
        Failure::Unreachable { url, failure }
    } else {
        Failure::NoAnswer { url, failure }
    }
}

/// The error code and message of a credential service's error answer, in any of the
/// shapes IAM-like services use: `{"error_code","error_msg"}`,
/// `{"error":{"code","message"}}` (Keystone, numeric code), or `{"code","message"}`.
pub(crate) fn service_message(body: &[u8]) -> (Option<String>, Option<String>) {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        return (
            None,
            (!text.is_empty()).then(|| text.chars().take(300).collect()),
        );
    };
    let text = |v: Option<&serde_json::Value>| match v {
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let inner = value
        .get("error")
        .filter(|e| e.is_object())
        .unwrap_or(&value);
    let code = text(inner.get("error_code")).or_else(|| text(inner.get("code")));
    let message = text(inner.get("error_msg"))
        .or_else(|| text(inner.get("message")))
        .or_else(|| text(value.get("error")));
    (code, message)
}

/// A request to IAM or STS (see [`SourceRequest::is_remote`]), with a JSON body.
pub(crate) fn remote_request(
    endpoint: &Endpoint,
    path: &str,
    headers: &[(&'static str, http::HeaderValue)],
    body: &serde_json::Value,
) -> Result<SourceRequest, Failure> {
    let mut all = vec![(
        "content-type",
        http::HeaderValue::from_static("application/json;charset=UTF-8"),
    )];
    all.extend(headers.iter().cloned());
    let body = serde_json::to_vec(body)
        .map_err(|_| Failure::Internal("a request body could not be written".to_owned()))?;
    let mut request = request(
        http::Method::POST,
        endpoint,
        path,
        &all,
        body,
        REMOTE_TIMEOUT,
    )?;
    request.remote = true;
    Ok(request)
}

/// How long an exchange with IAM or STS may take: 10 s, the KMS attempt's default.
pub const REMOTE_TIMEOUT: Duration = Duration::from_secs(10);

/// A request to a credential service, with `Host` set from the URI.
pub(crate) fn request(
    method: http::Method,
    endpoint: &Endpoint,
    path: &str,
    headers: &[(&'static str, http::HeaderValue)],
    body: Vec<u8>,
    timeout: Duration,
) -> Result<SourceRequest, Failure> {
    let url = format!(
        "{}://{}{}{}",
        endpoint.scheme(),
        endpoint.authority(),
        endpoint.base_path(),
        path
    );
    let mut builder = Request::builder()
        .method(method)
        .uri(&url)
        .header(http::header::HOST, endpoint.authority());
    for (name, value) in headers {
        builder = builder.header(*name, value.clone());
    }
    builder
        .body(body)
        .map(|request| SourceRequest {
            request,
            timeout,
            remote: false,
        })
        .map_err(|_| Failure::Internal(format!("{url} is not a valid request URL")))
}

/// A token a credential service needs or gave (a file's contents, an answer's body),
/// trimmed, as a sensitive header value.
pub(crate) fn token_header(input: Input, bytes: &[u8]) -> Result<http::HeaderValue, InvalidInput> {
    let text = std::str::from_utf8(bytes).map_err(|_| {
        InvalidInput::new(
            input,
            Problem::Malformed {
                expected: "UTF-8 text",
            },
        )
    })?;
    let token = text.trim();
    check_len(input, token, crate::credentials::MAX_TOKEN_LEN)?;
    check_chars(input, token, "printable ASCII without spaces", |c| {
        c.is_ascii_graphic()
    })?;
    let mut header = http::HeaderValue::from_str(token).map_err(|_| {
        InvalidInput::new(
            input,
            Problem::Malformed {
                expected: "header text",
            },
        )
    })?;
    header.set_sensitive(true);
    Ok(header)
}

/// The URL of a request, for messages (it carries no secret).
pub(crate) fn url_of(endpoint: &Endpoint, path: &str) -> String {
    format!(
        "{}://{}{}{}",
        endpoint.scheme(),
        endpoint.authority(),
        endpoint.base_path(),
        path
    )
}

#[cfg(test)]
mod tests;
