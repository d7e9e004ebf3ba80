//! Where `kms count` takes its credentials from (`--credentials`, `--profile`,
//! `--auth-token-file`, the environment), and the project id, region and IAM endpoint the
//! profile in use gives when neither a flag nor the environment does.
//!
//! | given | credentials | project id, region and `iam_endpoint` from a file |
//! |---|---|---|
//! | `--auth-token-file` | that IAM token (static) | none |
//! | nothing, or `--credentials chain`, with `HUAWEICLOUD_SDK_AK`, `_SK` or `_AUTH_TOKEN` set and no OIDC or federation variable | the environment's, checked now (exit 2) | none |
//! | nothing, or `--credentials chain`, otherwise | the default chain | when no source before the profile file is set up (STS, federation, password): the profile file, else KooCLI's current profile, the first that holds keys (or, the profile file, an `idp_id` and `id_token_file`) |
//! | `--credentials env` | the environment's, checked now (exit 2), unless `HUAWEICLOUD_SDK_IDP_ID` or `_ID_TOKEN_FILE` is set (federation, asked at the call) | none |
//! | `--credentials profile-file` | the profile file, read now (exit 2 if unusable) | that file |
//! | `--credentials koocli` or `--profile <NAME>` | KooCLI's profile, read now (exit 2 if unusable) | that profile |
//! | `--credentials iam-federation`, `oidc-sts`, `iam-password`, `pod-identity` or `metadata` | that source, asked at the call (exit 6 if it fails, its variables unset included) | none |

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use kms_proto::credentials::{
    ENV_CREDENTIALS_FILE, ENV_IAM_USER, ENV_ID_TOKEN_FILE, ENV_IDP_ID, ENV_OIDC_PROVIDER_URN,
    Identity, Profile, ProfileSection, Provider, SourceKind, parse_koocli, parse_profile,
};
use kms_proto::env::{ENV_AK, ENV_AUTH_TOKEN, ENV_SK, credentials_from_env};
use kms_proto::{AuthToken, Credentials, ProjectId, Region};

use crate::file::{self, FileKind};

/// A credential source to use, named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum SourceChoice {
    /// The environment's static credentials when HUAWEICLOUD_SDK_AK, _SK or _AUTH_TOKEN is
    /// set (and no OIDC or federation variable); else the first source that gives
    /// credentials: STS with OIDC, the environment (federation when
    /// HUAWEICLOUD_SDK_IDP_ID is set), an IAM password, the profile file, KooCLI's current
    /// profile, CCE pod identity, ECS metadata.
    Chain,
    /// HUAWEICLOUD_SDK_AK and _SK (with _SECURITY_TOKEN), or HUAWEICLOUD_SDK_AUTH_TOKEN;
    /// IAM federation instead when HUAWEICLOUD_SDK_IDP_ID and _ID_TOKEN_FILE are set.
    Env,
    /// IAM federation with an OIDC identity token: HUAWEICLOUD_SDK_IDP_ID and
    /// HUAWEICLOUD_SDK_ID_TOKEN_FILE (IAM at HUAWEICLOUD_SDK_IAM_ENDPOINT, else the
    /// region's).
    IamFederation,
    /// STS assume-agency with OIDC: HUAWEICLOUD_OIDC_PROVIDER_URN, _AGENCY_URN, _ID_TOKEN
    /// or _TOKEN_FILE (STS at HUAWEICLOUD_SDK_STS_ENDPOINT).
    OidcSts,
    /// An IAM user token: HUAWEICLOUD_SDK_IAM_USER, _IAM_DOMAIN, and _IAM_PASSWORD or
    /// _IAM_PASSWORD_FILE (this project's own variables; never a flag).
    IamPassword,
    /// HUAWEICLOUD_SDK_CREDENTIALS_FILE, else ~/.huaweicloud/credentials, section [basic]:
    /// ak and sk, or idp_id and id_token_file (federation).
    ProfileFile,
    /// KooCLI's ~/.hcloud/config.json: the profile named by --profile, else its current one.
    Koocli,
    /// CCE pod identity: HC_CONTAINER_CREDENTIALS_FULL_URI and
    /// HC_CONTAINER_AUTHORIZATION_TOKEN_FILE.
    PodIdentity,
    /// ECS metadata: http://169.254.169.254, or HUAWEICLOUD_SDK_METADATA_ENDPOINT.
    Metadata,
}

impl SourceChoice {
    fn name(self) -> &'static str {
        match self {
            SourceChoice::Chain => "chain",
            SourceChoice::Env => "env",
            SourceChoice::IamFederation => "iam-federation",
            SourceChoice::OidcSts => "oidc-sts",
            SourceChoice::IamPassword => "iam-password",
            SourceChoice::ProfileFile => "profile-file",
            SourceChoice::Koocli => "koocli",
            SourceChoice::PodIdentity => "pod-identity",
            SourceChoice::Metadata => "metadata",
        }
    }
}

/// What the command line asked for about credentials.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Request<'a> {
    pub(crate) source: Option<SourceChoice>,
    pub(crate) profile: Option<&'a str>,
    pub(crate) auth_token_file: Option<&'a Path>,
}

/// The credentials to use, and what the profile in use says about the project, the region
/// and IAM's endpoint.
#[derive(Debug)]
pub(crate) struct Chosen {
    pub(crate) provider: Provider,
    pub(crate) project: Option<ProjectId>,
    pub(crate) region: Option<Region>,
    /// The profile file's `iam_endpoint`.
    pub(crate) iam_endpoint: Option<String>,
}

impl Chosen {
    fn provider(provider: Provider) -> Self {
        Chosen {
            provider,
            project: None,
            region: None,
            iam_endpoint: None,
        }
    }

    fn with_profile(provider: Provider, profile: &Profile) -> Self {
        Chosen {
            provider,
            project: profile.project_id().cloned(),
            region: profile.region().cloned(),
            iam_endpoint: profile.iam_endpoint().map(str::to_owned),
        }
    }
}

/// Whether a profile gives credentials: keys, or (the profile file only) an identity
/// provider and token file to federate with.
fn has_credentials(profile: &Profile) -> bool {
    profile.aksk().is_some() || (profile.idp_id().is_some() && profile.id_token_file().is_some())
}

/// Picks the credential source from `request` and `env` (unset and empty variables are
/// `None`), reading the file a file source names. Every error is a configuration error
/// (exit 2), found before anything is sent.
pub(crate) fn choose(
    request: Request<'_>,
    env: impl Fn(&str) -> Option<String> + Copy,
) -> Result<Chosen, String> {
    if let Some(path) = request.auth_token_file {
        // clap refuses --credentials and --profile beside it.
        return token_file(path, env).map(|c| Chosen::provider(Provider::fixed(c)));
    }
    let source = match (request.source, request.profile) {
        (None, None) => SourceChoice::Chain,
        (Some(source), None) => source,
        (None | Some(SourceChoice::Koocli), Some(_)) => SourceChoice::Koocli,
        (Some(other), Some(_)) => {
            return Err(format!(
                "--profile names a KooCLI profile, and --credentials {} does not read KooCLI's configuration; drop one of them",
                other.name()
            ));
        }
    };
    let static_env = [ENV_AK, ENV_SK, ENV_AUTH_TOKEN]
        .iter()
        .any(|name| env(name).is_some());
    // The chain asks STS first, and the environment federates when an identity provider is
    // set: static variables alone are not enough to know the chain would take them.
    let before_static = [ENV_OIDC_PROVIDER_URN, ENV_IDP_ID, ENV_ID_TOKEN_FILE]
        .iter()
        .any(|name| env(name).is_some());
    match source {
        SourceChoice::Env => environment(env),
        SourceChoice::Chain if static_env && !before_static => environment(env),
        SourceChoice::Chain => Ok(chain(env)),
        SourceChoice::IamFederation => Ok(Chosen::provider(Provider::iam_federation(env))),
        SourceChoice::OidcSts => Ok(Chosen::provider(Provider::oidc_sts(env))),
        SourceChoice::IamPassword => Ok(Chosen::provider(Provider::iam_password(env))),
        SourceChoice::ProfileFile => {
            let path = profile_path(env).ok_or_else(|| {
                format!("no profile file: set {ENV_CREDENTIALS_FILE}, or HOME for ~/.huaweicloud/credentials")
            })?;
            let profile = read_profile(&path, &file::PROFILE_FILE, |bytes| {
                parse_profile(bytes, ProfileSection::Basic)
            })?;
            if !has_credentials(&profile) {
                return Err(format!(
                    "the profile file {} has no ak and sk in its [basic] section, nor idp_id and id_token_file",
                    file::one_line(&path)
                ));
            }
            // The source finds the same file again (through `env`), and knows
            // HUAWEICLOUD_SDK_IAM_ENDPOINT for a profile that federates.
            Ok(Chosen::with_profile(Provider::profile_file(env), &profile))
        }
        SourceChoice::Koocli => {
            let path = koocli_path(env)
                .ok_or("no KooCLI configuration: HOME is not set (it is ~/.hcloud/config.json)")?;
            let profile = read_profile(&path, &file::KOOCLI_FILE, |bytes| {
                parse_koocli(bytes, request.profile)
            })?;
            if profile.aksk().is_none() {
                return Err(format!(
                    "the KooCLI configuration {}: the profile has no accessKeyId and secretAccessKey",
                    file::one_line(&path)
                ));
            }
            Ok(Chosen::with_profile(
                Provider::koocli_at(path, request.profile),
                &profile,
            ))
        }
        SourceChoice::PodIdentity => Ok(Chosen::provider(Provider::pod_identity(env))),
        SourceChoice::Metadata => Ok(Chosen::provider(Provider::metadata(env))),
    }
}

/// The environment's credentials: static ones are checked now (a mistake in them is exit
/// 2); federation (`HUAWEICLOUD_SDK_IDP_ID`, `_ID_TOKEN_FILE`), which takes precedence
/// over keys as in the official SDKs, is asked at the call.
fn environment(env: impl Fn(&str) -> Option<String> + Copy) -> Result<Chosen, String> {
    let federates = env(ENV_IDP_ID).is_some() || env(ENV_ID_TOKEN_FILE).is_some();
    if !federates {
        credentials_from_env(env).map_err(|e| e.to_string())?;
    }
    Ok(Chosen::provider(Provider::environment(env)))
}

/// The default chain. The project id, region and IAM endpoint come from the file the chain
/// takes credentials from, when that is a file: the profile file, else KooCLI's current
/// profile, the first one that can be read and gives credentials, unless a source the
/// chain asks before them is set up (STS with OIDC, federation, a password). A file that
/// cannot be used is left for the chain to report (it moves on to the next source).
fn chain(env: impl Fn(&str) -> Option<String> + Copy) -> Chosen {
    let provider = Provider::default_chain(env);
    let before_files = [
        ENV_OIDC_PROVIDER_URN,
        ENV_IDP_ID,
        ENV_ID_TOKEN_FILE,
        ENV_IAM_USER,
    ]
    .iter()
    .any(|name| env(name).is_some());
    if before_files {
        return Chosen::provider(provider);
    }
    let profile = profile_path(env).and_then(|path| {
        let bytes = file::read_bounded(&path, &file::PROFILE_FILE).ok()?;
        let profile = parse_profile(&bytes, ProfileSection::Basic).ok()?;
        has_credentials(&profile).then_some(profile)
    });
    let profile = profile.or_else(|| {
        let path = koocli_path(env)?;
        let bytes = file::read_bounded(&path, &file::KOOCLI_FILE).ok()?;
        let profile = parse_koocli(&bytes, None).ok()?;
        profile.aksk().is_some().then_some(profile)
    });
    match profile {
        Some(profile) => Chosen::with_profile(provider, &profile),
        None => Chosen::provider(provider),
    }
}

fn read_profile<E: std::fmt::Display>(
    path: &Path,
    kind: &'static FileKind,
    parse: impl FnOnce(&[u8]) -> Result<Profile, E>,
) -> Result<Profile, String> {
    let bytes = file::read_bounded(path, kind).map_err(|e| e.to_string())?;
    parse(&bytes).map_err(|e| format!("the {} {}: {e}", kind.label(), file::one_line(path)))
}

/// `$HOME` (`%USERPROFILE%` on Windows), as kms-proto's sources find it.
fn home(env: impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
    env(if cfg!(windows) { "USERPROFILE" } else { "HOME" }).map(PathBuf::from)
}

/// The profile file the sources read: `HUAWEICLOUD_SDK_CREDENTIALS_FILE`, else
/// `~/.huaweicloud/credentials`.
fn profile_path(env: impl Fn(&str) -> Option<String> + Copy) -> Option<PathBuf> {
    env(ENV_CREDENTIALS_FILE)
        .map(PathBuf::from)
        .or_else(|| Some(home(env)?.join(".huaweicloud").join("credentials")))
}

/// KooCLI's configuration: `~/.hcloud/config.json`.
fn koocli_path(env: impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
    Some(home(env)?.join(".hcloud").join("config.json"))
}

/// `--auth-token-file`: an IAM token, alone (not beside the environment's credentials).
fn token_file(path: &Path, env: impl Fn(&str) -> Option<String>) -> Result<Credentials, String> {
    if env(ENV_AK).is_some() || env(ENV_SK).is_some() || env(ENV_AUTH_TOKEN).is_some() {
        return Err(format!(
            "--auth-token-file and credentials in the environment ({ENV_AK}/{ENV_SK} or {ENV_AUTH_TOKEN}) are both given; use one"
        ));
    }
    let bytes = file::read_bounded(path, &file::TOKEN_FILE).map_err(|e| e.to_string())?;
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        format!(
            "the auth token file {} is not text (byte {} is not UTF-8); an IAM token is printable ASCII",
            file::one_line(path),
            e.valid_up_to()
        )
    })?;
    // A file ends with a newline more often than not; nothing else is trimmed.
    let token = text.trim_end_matches(['\r', '\n']);
    AuthToken::new(token)
        .map(Credentials::from)
        .map_err(|e| e.with_origin(file::one_line(path)).to_string())
}

/// `-v`'s line about the credentials in use: which source answered and when they expire,
/// never a secret.
pub(crate) fn describe(identity: &Identity) -> String {
    let source = identity.source();
    let label = match source {
        // The only static credentials `kms` has are those of --auth-token-file.
        SourceKind::Static => "--auth-token-file",
        SourceKind::Environment
        | SourceKind::ProfileFile
        | SourceKind::KooCli
        | SourceKind::PodIdentity
        | SourceKind::IamFederation
        | SourceKind::OidcSts
        | SourceKind::IamPassword
        | SourceKind::Metadata => source.label(),
    };
    let expiry = identity
        .expires_at()
        .map_or_else(|| "never".to_owned(), rfc3339);
    format!(
        "kms: credentials from {label} ({}), expire {expiry}",
        source.as_str()
    )
}

/// A time as RFC 3339 in UTC, whole seconds (rounded down): `2026-12-02T06:00:00Z`.
pub(crate) fn rfc3339(at: SystemTime) -> String {
    let secs = match at.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => {
            // Before 1970: round down too (-0.5 s is 23:59:59 the day before).
            let before = e.duration();
            let whole = i64::try_from(before.as_secs()).unwrap_or(i64::MAX);
            -whole - i64::from(before.subsec_nanos() > 0)
        }
    };
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The proleptic Gregorian date of a day counted from 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days.saturating_add(719_468);
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March first
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era.saturating_mul(400) + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn times_are_rfc3339_in_utc() {
        let at = |secs: u64| UNIX_EPOCH + Duration::from_secs(secs);
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(at(1_795_334_400)), "2026-11-22T08:00:00Z");
        assert_eq!(rfc3339(at(951_782_400)), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(at(951_868_799)), "2000-02-29T23:59:59Z");
        assert_eq!(rfc3339(at(4_107_542_400)), "2100-03-01T00:00:00Z");
        assert_eq!(
            rfc3339(at(1_795_334_400) + Duration::from_millis(999)),
            "2026-11-22T08:00:00Z"
        );
        assert_eq!(
            rfc3339(UNIX_EPOCH - Duration::from_millis(500)),
            "1969-12-31T23:59:59Z"
        );
        assert_eq!(
            rfc3339(UNIX_EPOCH - Duration::from_secs(86_400)),
            "1969-12-31T00:00:00Z"
        );
    }

    #[test]
    fn every_day_of_four_centuries_follows_the_one_before() {
        let mut previous = civil_from_days(-1);
        for days in 0..146_097 {
            let (y, m, d) = civil_from_days(days);
            let (py, pm, _) = previous;
            let next_day = (y, m) == (py, pm) && d == previous.2 + 1;
            let next_month =
                d == 1 && ((y == py && m == pm + 1) || (y == py + 1 && m == 1 && pm == 12));
            assert!(next_day || next_month, "{previous:?} -> {:?}", (y, m, d));
            previous = (y, m, d);
        }
    }

    #[test]
    fn the_verbose_line_names_the_source_and_the_expiry() {
        let credentials: Credentials = AuthToken::new("tok").unwrap().into();
        let expires = UNIX_EPOCH + Duration::from_secs(1_795_334_400);
        let identity = Identity::new(credentials.clone(), Some(expires), SourceKind::Metadata);
        assert_eq!(
            describe(&identity),
            "kms: credentials from ECS metadata (metadata), expire 2026-11-22T08:00:00Z"
        );
        let identity = Identity::new(credentials, None, SourceKind::Static);
        assert_eq!(
            describe(&identity),
            "kms: credentials from --auth-token-file (static), expire never"
        );
    }
}
