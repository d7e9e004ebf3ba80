//! Where credentials come from: [`Provider`], and one [`Refresh`] of it, as sans-IO machines.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use http::{HeaderMap, Request, StatusCode};

use super::error::{CredentialError, Failure, FileProblem, SourceError};
use super::variables::{EnvError, credentials_from_env};
use super::{Credentials, Identity, SourceKind};
#[cfg(feature = "sources")]
use crate::input::{Endpoint, HttpPolicy, Input, Problem, check_chars, check_len};
use crate::input::{InvalidInput, ProjectId, Region};
use crate::transport::{TransportErrorKind, TransportFailure};

// The sources that read files or ask services: the `sources` feature.
#[cfg(feature = "sources")]
mod federation;
#[cfg(feature = "sources")]
mod files;
#[cfg(feature = "sources")]
mod metadata;
#[cfg(feature = "sources")]
mod password;
#[cfg(feature = "sources")]
mod pod_identity;
mod refresh;
mod setup;
#[cfg(feature = "sources")]
mod sts;
#[cfg(feature = "sources")]
mod wire;

pub use refresh::Refresh;
#[cfg(feature = "sources")]
pub(crate) use refresh::unexpected;
pub(crate) use setup::home;
use setup::{
    Unusable, environment, iam_federation, iam_password, koocli, metadata, oidc_sts, pod_identity,
    profile_file,
};
#[cfg(feature = "sources")]
pub(crate) use wire::{
    IamPlace, remote_request, request, secret_text, service_message, token_header, url_of,
};

#[cfg(feature = "sources")]
use federation::Federation;
#[cfg(feature = "sources")]
use files::FileSource;
#[cfg(feature = "sources")]
use metadata::Metadata;
#[cfg(feature = "sources")]
use password::{Password, PasswordFrom};
#[cfg(feature = "sources")]
use pod_identity::PodIdentity;
#[cfg(feature = "sources")]
use sts::{IdToken, Sts};

/// The STS endpoint when `HUAWEICLOUD_SDK_STS_ENDPOINT` is not set.
pub const DEFAULT_STS_ENDPOINT: &str = "https://sts.cn-north-4.myhuaweicloud.com";

// The variables the sources read (every name is in `crate::input::env_names`), public here
// too (`kms_proto::credentials::ENV_IDP_ID`...).
pub use crate::input::env_names::{
    ENV_CREDENTIALS_FILE, ENV_IAM_DOMAIN, ENV_IAM_PASSWORD, ENV_IAM_PASSWORD_FILE, ENV_IAM_USER,
    ENV_ID_TOKEN_FILE, ENV_IDP_ID, ENV_METADATA_ENDPOINT, ENV_OIDC_AGENCY_URN,
    ENV_OIDC_DURATION_SECONDS, ENV_OIDC_ID_TOKEN, ENV_OIDC_POLICY, ENV_OIDC_POLICY_IDS,
    ENV_OIDC_PROVIDER_URN, ENV_OIDC_SESSION_NAME, ENV_OIDC_TOKEN_FILE, ENV_POD_IDENTITY_TOKEN_FILE,
    ENV_POD_IDENTITY_URI, ENV_REGION, ENV_STS_ENDPOINT,
};

/// How long a transport may take to connect to a credential service (ECS metadata, CCE
/// pod identity): 1 s. Both are on the local network or the node itself; off ECS the
/// metadata address is usually unroutable, and this is what makes the chain fail fast
/// there instead of waiting for a generic timeout.
pub const SOURCE_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// The largest answer body a credential service may send, in bytes (64 KiB); read at most
/// one byte more, as for the KMS answer.
pub const MAX_SOURCE_BODY: usize = 64 * 1024;

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

    /// The request and its timeout, to send, the timeout cut to `limit` when that is
    /// shorter: a transport passes its client's attempt timeout
    /// ([`ClientConfig::attempt_timeout`](crate::ClientConfig::attempt_timeout), what
    /// `kms --timeout` sets), so that no exchange of a refresh takes longer than an attempt
    /// at KMS may.
    pub fn into_parts_within(self, limit: Duration) -> (Request<Vec<u8>>, Duration) {
        (self.request, self.timeout.min(limit))
    }
}

/// A file a source needs: read it if it is a regular file of at most `max_len` bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRead {
    path: PathBuf,
    max_len: u64,
}

impl FileRead {
    /// `path`, to be read if it has at most `max_len` bytes.
    pub(crate) fn new(path: PathBuf, max_len: u64) -> Self {
        FileRead { path, max_len }
    }

    /// The file.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// The most bytes it may have: larger is [`FileProblem::TooLarge`].
    pub fn max_len(&self) -> u64 {
        self.max_len
    }

    /// Reads it, blocking: a regular file of at most [`max_len`](Self::max_len) bytes,
    /// the problems named as [`FileProblem`]s. The core never calls this (it does no I/O);
    /// it is here so that every transport reads the files of the sources the same way
    /// (an async one on its blocking pool).
    ///
    /// The type is checked before opening, so that a FIFO put where a token file should be
    /// cannot block on `open`; a file swapped for one between the check and the open is
    /// read as it is then, and the length bound still holds.
    ///
    /// # Errors
    /// [`FileProblem`]: not found, not a regular file, too large, or unreadable.
    pub fn read_blocking(&self) -> Result<Vec<u8>, FileProblem> {
        use std::io::Read;
        let problem = |e: std::io::Error| match e.kind() {
            std::io::ErrorKind::NotFound => FileProblem::NotFound,
            _ => FileProblem::Unreadable(e),
        };
        let too_large = FileProblem::TooLarge {
            limit: self.max_len,
        };
        let metadata = std::fs::metadata(&self.path).map_err(problem)?;
        if !metadata.is_file() {
            return Err(FileProblem::NotAFile);
        }
        if metadata.len() > self.max_len {
            return Err(too_large);
        }
        let file = std::fs::File::open(&self.path).map_err(problem)?;
        let mut bytes = Vec::new();
        file.take(self.max_len.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(FileProblem::Unreadable)?;
        if bytes.len() as u64 > self.max_len {
            return Err(too_large);
        }
        Ok(bytes)
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
#[cfg_attr(
    not(feature = "sources"),
    allow(dead_code, reason = "only the sources behind the feature do I/O")
)]
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
    /// For IAM-based sources: the region (IAM's endpoint, a password token's scope), as
    /// set in code or by the client's configuration...
    region: Option<Region>,
    /// ...else as `HUAWEICLOUD_SDK_REGION` says.
    env_region: Option<Region>,
    /// For a password token: the project to scope it to (else the region's name), as set
    /// in code or by the client's configuration...
    project: Option<ProjectId>,
    /// ...else as `HUAWEICLOUD_SDK_PROJECT_ID` says.
    env_project: Option<ProjectId>,
    /// The algorithm AK/SK from every source sign with, as set in code...
    algorithm: Option<crate::sign::SigningAlgorithm>,
    /// ...else as `HUAWEICLOUD_SDK_SIGNING_ALGORITHM` says (unset or invalid: the default;
    /// an invalid name is refused where the environment's AK/SK are read).
    env_algorithm: Option<crate::sign::SigningAlgorithm>,
}

#[derive(Clone, Debug)]
enum Source {
    /// Known at construction: static credentials, or the environment's.
    Fixed(Identity),
    /// Known at construction not to work, and why.
    Unusable(SourceKind, Unusable),
    #[cfg(feature = "sources")]
    Files(FileSource),
    #[cfg(feature = "sources")]
    PodIdentity(PodIdentity),
    #[cfg(feature = "sources")]
    Metadata(Metadata),
    #[cfg(feature = "sources")]
    Federation(SourceKind, Federation),
    #[cfg(feature = "sources")]
    Sts(Sts),
    #[cfg(feature = "sources")]
    Password(Password),
}

impl From<Credentials> for Provider {
    fn from(credentials: Credentials) -> Self {
        Provider::fixed(credentials)
    }
}

impl Provider {
    fn single(source: Source) -> Self {
        // Without the feature, a source the program chooses by name is not built, whatever
        // its variables say.
        #[cfg(not(feature = "sources"))]
        let source = match source {
            Source::Unusable(kind, _)
                if !matches!(kind, SourceKind::Static | SourceKind::Environment) =>
            {
                setup::not_built(kind, true)
            }
            other => other,
        };
        Provider {
            sources: vec![source],
            chain: false,
            chosen: None,
            region: None,
            env_region: None,
            project: None,
            env_project: None,
            algorithm: None,
            env_algorithm: None,
        }
    }

    /// Reads `HUAWEICLOUD_SDK_REGION` and `HUAWEICLOUD_SDK_PROJECT_ID` for the IAM-based
    /// sources (ignored when malformed: a source that needs them says so).
    fn context(mut self, lookup: &impl Fn(&str) -> Option<String>) -> Self {
        let get = |name: &str| lookup(name).filter(|v| !v.is_empty());
        self.env_region = get(ENV_REGION).and_then(|r| Region::new(&r).ok());
        self.env_project =
            get(super::variables::ENV_PROJECT_ID).and_then(|p| ProjectId::new(&p).ok());
        self.env_algorithm = super::variables::signing_algorithm_from_env(get).ok();
        self
    }

    /// Sets the algorithm AK/SK from every source of this provider sign with (temporary
    /// credentials from metadata, pod identity, federation and STS included). Default:
    /// `HUAWEICLOUD_SDK_SIGNING_ALGORITHM` read through the constructor's lookup, else
    /// what the credentials carry (`SDK-HMAC-SHA256` unless made with
    /// [`AkSk::with_algorithm`](crate::AkSk::with_algorithm)).
    pub fn with_signing_algorithm(mut self, algorithm: crate::sign::SigningAlgorithm) -> Self {
        self.algorithm = Some(algorithm);
        self
    }

    /// The algorithm AK/SK from the sources sign with, when one is set.
    pub(crate) fn signing_algorithm(&self) -> Option<crate::sign::SigningAlgorithm> {
        self.algorithm.or(self.env_algorithm)
    }

    /// Fills in the region and project the client's configuration knows, unless set in
    /// code: a client's project scopes its password token without being given twice, and
    /// before what the environment says.
    pub(crate) fn or_context(
        mut self,
        region: Option<&Region>,
        project: Option<&ProjectId>,
    ) -> Self {
        if self.region.is_none() {
            self.region = region.cloned();
        }
        if self.project.is_none() {
            self.project = project.cloned();
        }
        self
    }

    /// Sets the region the IAM-based sources use: IAM's endpoint
    /// (`https://iam.{region}.myhuaweicloud.com`) and a password token's scope. Default:
    /// the region of [`ClientConfig::discover_project`](crate::ClientConfig::discover_project),
    /// else `HUAWEICLOUD_SDK_REGION` read through the constructor's lookup.
    pub fn with_region(mut self, region: Region) -> Self {
        self.region = Some(region);
        self
    }

    /// Sets the project a password token is scoped to. Default: the project of
    /// [`ClientConfig::from_provider`](crate::ClientConfig::from_provider), else
    /// `HUAWEICLOUD_SDK_PROJECT_ID` read through the constructor's lookup; with none, the
    /// region's name scopes it.
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
    ///
    /// Needs the `sources` feature (on by default); without it the provider fails each
    /// refresh with an error naming the feature ([`SourceError::missing_feature`]).
    pub fn iam_federation(lookup: impl Fn(&str) -> Option<String>) -> Self {
        Self::single(iam_federation(&lookup, SourceKind::IamFederation)).context(&lookup)
    }

    /// STS assume-agency with OIDC: `HUAWEICLOUD_OIDC_PROVIDER_URN`, `_AGENCY_URN`,
    /// `_ID_TOKEN` or `_TOKEN_FILE`, `_SESSION_NAME` (default `oidc-sts-session`),
    /// `_DURATION_SECONDS` (default 3600), `_POLICY`, `_POLICY_IDS`; STS at
    /// `HUAWEICLOUD_SDK_STS_ENDPOINT`, else `https://sts.cn-north-4.myhuaweicloud.com`.
    ///
    /// Needs the `sources` feature (on by default); without it the provider fails each
    /// refresh with an error naming the feature ([`SourceError::missing_feature`]).
    pub fn oidc_sts(lookup: impl Fn(&str) -> Option<String>) -> Self {
        Self::single(oidc_sts(&lookup)).context(&lookup)
    }

    /// An IAM user token: `HUAWEICLOUD_SDK_IAM_USER`, `HUAWEICLOUD_SDK_IAM_DOMAIN` and
    /// `HUAWEICLOUD_SDK_IAM_PASSWORD` (or `_PASSWORD_FILE`), this project's own variables;
    /// scoped to [`with_project`](Self::with_project)'s project, else the region's.
    ///
    /// Needs the `sources` feature (on by default); without it the provider fails each
    /// refresh with an error naming the feature ([`SourceError::missing_feature`]).
    pub fn iam_password(lookup: impl Fn(&str) -> Option<String>) -> Self {
        Self::single(iam_password(&lookup)).context(&lookup)
    }

    /// The profile file: `HUAWEICLOUD_SDK_CREDENTIALS_FILE`, else
    /// `~/.huaweicloud/credentials` (`HOME` through `lookup`), section `[basic]`. Read at
    /// the first refresh; its credentials never expire.
    ///
    /// Needs the `sources` feature (on by default); without it the provider fails each
    /// refresh with an error naming the feature ([`SourceError::missing_feature`]).
    pub fn profile_file(lookup: impl Fn(&str) -> Option<String>) -> Self {
        Self::single(profile_file(&lookup)).context(&lookup)
    }

    /// The profile file at `path`, section `[basic]`.
    ///
    /// Needs the `sources` feature (on by default); without it the provider fails each
    /// refresh with an error naming the feature ([`SourceError::missing_feature`]).
    pub fn profile_file_at(path: impl Into<PathBuf>) -> Self {
        #[cfg(feature = "sources")]
        return Self::single(Source::Files(FileSource::profile(path.into(), true)));
        #[cfg(not(feature = "sources"))]
        {
            let _ = path;
            Self::single(setup::not_built(SourceKind::ProfileFile, true))
        }
    }

    /// KooCLI's configuration `~/.hcloud/config.json` (`HOME` through `lookup`): the
    /// profile named `profile`, or its current one. Only AK/SK profiles are supported.
    ///
    /// Needs the `sources` feature (on by default); without it the provider fails each
    /// refresh with an error naming the feature ([`SourceError::missing_feature`]).
    pub fn koocli(lookup: impl Fn(&str) -> Option<String>, profile: Option<&str>) -> Self {
        Self::single(koocli(&lookup, profile, true)).context(&lookup)
    }

    /// KooCLI's configuration at `path`.
    ///
    /// Needs the `sources` feature (on by default); without it the provider fails each
    /// refresh with an error naming the feature ([`SourceError::missing_feature`]).
    pub fn koocli_at(path: impl Into<PathBuf>, profile: Option<&str>) -> Self {
        #[cfg(feature = "sources")]
        return Self::single(Source::Files(FileSource::koocli(
            path.into(),
            profile.map(str::to_owned),
            true,
        )));
        #[cfg(not(feature = "sources"))]
        {
            let _ = (path, profile);
            Self::single(setup::not_built(SourceKind::KooCli, true))
        }
    }

    /// CCE pod identity, from `HC_CONTAINER_CREDENTIALS_FULL_URI` and
    /// `HC_CONTAINER_AUTHORIZATION_TOKEN_FILE` (through `lookup`).
    ///
    /// Needs the `sources` feature (on by default); without it the provider fails each
    /// refresh with an error naming the feature ([`SourceError::missing_feature`]).
    pub fn pod_identity(lookup: impl Fn(&str) -> Option<String>) -> Self {
        Self::single(pod_identity(&lookup)).context(&lookup)
    }

    /// ECS metadata at `http://169.254.169.254`, or `HUAWEICLOUD_SDK_METADATA_ENDPOINT`
    /// (through `lookup`).
    ///
    /// Needs the `sources` feature (on by default); without it the provider fails each
    /// refresh with an error naming the feature ([`SourceError::missing_feature`]).
    pub fn metadata(lookup: impl Fn(&str) -> Option<String>) -> Self {
        Self::single(metadata(&lookup)).context(&lookup)
    }

    /// The default chain (see the [`Provider`] docs), its settings read now through
    /// `lookup`; files and services are only asked at the first refresh. The first source
    /// that gives credentials answers every later refresh too.
    ///
    /// Without the `sources` feature only the environment's credentials are in it; a
    /// source the variables name (OIDC, federation, a password, a profile file, pod
    /// identity, a metadata endpoint) stops the chain with an error naming the feature
    /// ([`SourceError::missing_feature`]) rather than being passed over.
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
            env_region: None,
            project: None,
            env_project: None,
            algorithm: None,
            env_algorithm: None,
        }
        .context(&lookup)
    }

    /// Whether the credentials are known without any I/O and never expire.
    pub fn is_fixed(&self) -> bool {
        matches!(self.sources.as_slice(), [Source::Fixed(_)])
    }

    /// The region IAM-based sources use.
    #[cfg(feature = "sources")]
    pub(crate) fn region(&self) -> Option<&Region> {
        self.region.as_ref().or(self.env_region.as_ref())
    }

    /// The project a password token is scoped to.
    #[cfg(feature = "sources")]
    pub(crate) fn project(&self) -> Option<&ProjectId> {
        self.project.as_ref().or(self.env_project.as_ref())
    }

    /// Starts a refresh at `now` (the wall clock: expiries are wall-clock times).
    pub fn refresh(&mut self, now: SystemTime) -> Refresh<'_> {
        let (first, end) = self.sources_to_ask();
        Refresh::new(refresh::Held::Borrowed(self), now, first, end)
    }

    /// Starts a refresh at `now` that owns the provider, for a refresh that runs apart from
    /// the caller that started it (on a thread or task of its own); take the provider back,
    /// with what it learnt, from [`Refresh::into_provider`].
    pub fn into_refresh(self, now: SystemTime) -> Refresh<'static> {
        let (first, end) = self.sources_to_ask();
        Refresh::new(refresh::Held::Owned(Box::new(self)), now, first, end)
    }

    /// The sources a refresh asks: the one that answered last time, else all.
    fn sources_to_ask(&self) -> (usize, usize) {
        match self.chosen {
            Some(i) => (i, i + 1),
            None => (0, self.sources.len()),
        }
    }
}

/// How long an exchange with IAM or STS may take: 10 s, the KMS attempt's default.
pub const REMOTE_TIMEOUT: Duration = Duration::from_secs(10);

// The sources' own tests; those of the minimal build are in `setup`.
#[cfg(test)]
#[cfg(feature = "sources")]
mod tests;
