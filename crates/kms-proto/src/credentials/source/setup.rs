//! Setting sources up from the environment: which variables make which source, and why a
//! source is skipped (not set up here) or refused (set up wrongly). Read once, when a
//! provider is made; files and services are only asked at a refresh.

use super::*;
use crate::input::env_names::{
    ENV_AK, ENV_AUTH_TOKEN, ENV_HOME, ENV_IAM_ENDPOINT, ENV_SK, ENV_USERPROFILE,
};

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
    let var = if cfg!(windows) {
        ENV_USERPROFILE
    } else {
        ENV_HOME
    };
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
                "{ENV_AK} and {ENV_SK}, or {ENV_AUTH_TOKEN}, are not set"
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
    let iam_env = lookup(ENV_IAM_ENDPOINT).filter(|v| !v.is_empty());
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

/// A credential service's URL (ECS metadata, CCE pod identity): `https` to any host, plain
/// `http` only to this machine (`localhost`, 127.0.0.0/8, `::1`) or a link-local address
/// (169.254.0.0/16, fe80::/10); no user info, query or fragment.
///
/// The metadata service has no TLS and lives at 169.254.169.254; the pod identity agent
/// is on the node, reached at a loopback or link-local address, as the AWS SDKs require
/// of their container credentials. Anywhere else, plain `http` would send the pod's token,
/// and bring back the credentials, in clear text across the network.
pub(crate) fn url(text: &str, input: Input, origin: &str) -> Result<Endpoint, InvalidInput> {
    let endpoint = Endpoint::parse_with(text, HttpPolicy::AllowInsecure)
        .map_err(|e| InvalidInput::new(input, e.problem().clone()).with_origin(origin))?;
    if !endpoint.is_https() && !endpoint.is_loopback() && !is_link_local(endpoint.host()) {
        return Err(InvalidInput::new(
            input,
            Problem::InsecureCredentialService {
                host: endpoint.host().to_owned(),
            },
        )
        .with_origin(origin));
    }
    Ok(endpoint)
}

/// Whether `host` (as [`Endpoint::host`] gives it: IPv6 in brackets) is a link-local
/// address: 169.254.0.0/16, fe80::/10, or an IPv4-mapped 169.254.0.0/16.
fn is_link_local(host: &str) -> bool {
    if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return v6.parse::<std::net::Ipv6Addr>().is_ok_and(|ip| {
            ip.is_unicast_link_local() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_link_local())
        });
    }
    host.parse::<std::net::Ipv4Addr>()
        .is_ok_and(|ip| ip.is_link_local())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use super::*;

    /// Issue 21, item 5: plain http to a credential service only on this machine or the
    /// link-local network; https anywhere.
    #[test]
    fn plain_http_to_a_credential_service_only_on_the_machine_or_link_local() {
        let allowed = [
            ("the metadata default", DEFAULT_METADATA_ENDPOINT),
            (
                "link-local, another address",
                "http://169.254.170.23/v1/credentials",
            ),
            ("link-local, the bottom", "http://169.254.0.1"),
            ("link-local, the top", "http://169.254.255.254:8080"),
            ("loopback", "http://127.0.0.1:8/creds"),
            ("loopback, anywhere in 127/8", "http://127.8.9.10"),
            ("localhost", "http://localhost:1/creds"),
            ("localhost, upper case", "http://LOCALHOST:1"),
            ("ipv6 loopback", "http://[::1]:2"),
            ("ipv6 link-local", "http://[fe80::1]/creds"),
            ("ipv6 link-local, the top of fe80::/10", "http://[febf::1]"),
            ("ipv4-mapped link-local", "http://[::ffff:169.254.169.254]"),
            ("https to a name", "https://pod-identity.example.com/creds"),
            ("https to a routable address", "https://10.0.0.5:8443"),
        ];
        let refused = [
            (
                "a name",
                "http://pod-identity.example.com/creds",
                "pod-identity.example.com",
            ),
            ("a private address", "http://10.0.0.5:80", "10.0.0.5"),
            ("a public address", "http://8.8.8.8", "8.8.8.8"),
            (
                "next to link-local",
                "http://169.253.255.255",
                "169.253.255.255",
            ),
            ("above link-local", "http://169.255.0.1", "169.255.0.1"),
            (
                "a name that starts like localhost",
                "http://localhost.evil.com",
                "localhost.evil.com",
            ),
            (
                "a name that looks link-local",
                "http://169.254.169.254.nip.io",
                "169.254.169.254.nip.io",
            ),
            ("ipv6 beyond fe80::/10", "http://[fec0::1]", "[fec0::1]"),
            (
                "ipv6 unique local",
                "http://[fd00:ec2::23]",
                "[fd00:ec2::23]",
            ),
            ("ipv6 global", "http://[2001:db8::1]", "[2001:db8::1]"),
        ];
        let mut failures = Vec::new();
        for (name, text) in allowed {
            if let Err(e) = url(text, Input::PodIdentityUri, ENV_POD_IDENTITY_URI) {
                failures.push(format!("{name}: {text} refused: {e}"));
            }
        }
        for (name, text, host) in refused {
            match url(text, Input::PodIdentityUri, ENV_POD_IDENTITY_URI) {
                Ok(_) => failures.push(format!("{name}: {text} allowed")),
                Err(e) => {
                    let expected = Problem::InsecureCredentialService {
                        host: host.to_owned(),
                    };
                    if e.problem() != &expected || e.input() != Input::PodIdentityUri {
                        failures.push(format!("{name}: {text}: {e:?}"));
                    }
                    let shown = e.to_string();
                    for part in [ENV_POD_IDENTITY_URI, host, "use https"] {
                        if !shown.contains(part) {
                            failures.push(format!("{name}: {part:?} not in {shown}"));
                        }
                    }
                }
            }
        }
        assert!(failures.is_empty(), "{failures:#?}");
    }

    #[test]
    fn both_variables_refuse_plain_http_beyond_the_machine() {
        let pod = pod_identity(&|name: &str| match name {
            ENV_POD_IDENTITY_URI => Some("http://10.0.0.5/creds".to_owned()),
            ENV_POD_IDENTITY_TOKEN_FILE => Some("/t".to_owned()),
            _ => None,
        });
        let meta = metadata(&|name: &str| {
            (name == ENV_METADATA_ENDPOINT).then(|| "http://metadata.example.com".to_owned())
        });
        for (source, variable, host) in [
            (pod, ENV_POD_IDENTITY_URI, "10.0.0.5"),
            (meta, ENV_METADATA_ENDPOINT, "metadata.example.com"),
        ] {
            let Source::Unusable(_, Unusable::Invalid(e)) = source else {
                panic!("{variable}: {source:?}")
            };
            assert_eq!(
                e.problem(),
                &Problem::InsecureCredentialService {
                    host: host.to_owned()
                }
            );
            assert_eq!(e.origin(), Some(variable));
        }
    }
}
