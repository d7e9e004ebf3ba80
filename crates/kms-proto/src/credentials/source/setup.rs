//! Setting sources up from the environment: which variables make which source, and why a
//! source is skipped (not set up here) or refused (set up wrongly). Read once, when a
//! provider is made; files and services are only asked at a refresh.

use super::*;

/// Why a source cannot work, as found at construction (cloneable, unlike [`Failure`]).
#[derive(Clone, Debug)]
pub(crate) enum Unusable {
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

/// `$HOME` (or `%USERPROFILE%` on Windows) through `lookup`.
pub(crate) fn home(lookup: &impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let var = if cfg!(windows) { "USERPROFILE" } else { "HOME" };
    lookup(var).filter(|h| !h.is_empty()).map(PathBuf::from)
}

pub(crate) fn environment(lookup: &impl Fn(&str) -> Option<String>) -> Source {
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
                crate::credentials::variables::ENV_AK,
                crate::credentials::variables::ENV_SK,
                crate::credentials::variables::ENV_AUTH_TOKEN
            )),
        ),
        Err(e) => Source::Unusable(SourceKind::Environment, Unusable::Env(e)),
    }
}

pub(crate) fn iam_federation(lookup: &impl Fn(&str) -> Option<String>, kind: SourceKind) -> Source {
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

pub(crate) fn oidc_sts(lookup: &impl Fn(&str) -> Option<String>) -> Source {
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
            Ok(()) => IdToken::Value(crate::credentials::Secret(token.into())),
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

pub(crate) fn iam_password(lookup: &impl Fn(&str) -> Option<String>) -> Source {
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
        (Some(password), None) => PasswordFrom::Value(crate::credentials::Secret(password.into())),
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
pub(crate) fn setting(value: &str, origin: &str) -> Result<String, InvalidInput> {
    let input = Input::SourceSetting;
    check_len(input, value, 256).map_err(|e| e.with_origin(origin))?;
    check_chars(input, value, "printable ASCII without spaces", |c| {
        c.is_ascii_graphic()
    })
    .map_err(|e| e.with_origin(origin))?;
    Ok(value.to_owned())
}

pub(crate) fn check_secret(input: Input, value: &str) -> Result<(), InvalidInput> {
    check_len(input, value, crate::credentials::MAX_TOKEN_LEN)?;
    check_chars(input, value, "printable ASCII without spaces", |c| {
        c.is_ascii_graphic()
    })
}

pub(crate) fn profile_file(lookup: &impl Fn(&str) -> Option<String>) -> Source {
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

pub(crate) fn koocli(
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

pub(crate) fn pod_identity(lookup: &impl Fn(&str) -> Option<String>) -> Source {
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

pub(crate) fn metadata(lookup: &impl Fn(&str) -> Option<String>) -> Source {
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
pub(crate) fn url(text: &str, input: Input, origin: &str) -> Result<Endpoint, InvalidInput> {
    Endpoint::parse_with(text, HttpPolicy::AllowInsecure)
        .map_err(|e| InvalidInput::new(input, e.problem().clone()).with_origin(origin))
}
