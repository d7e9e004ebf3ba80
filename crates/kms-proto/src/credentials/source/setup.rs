//! Setting sources up from the environment: which variables make which source, and why a
//! source is skipped (not set up here) or refused (set up wrongly). Read once, when a
//! provider is made; files and services are only asked at a refresh.

use super::*;
use crate::input::env_names::{
    ENV_AK, ENV_AUTH_TOKEN, ENV_HOME, ENV_IAM_ENDPOINT, ENV_SK, ENV_USERPROFILE,
};

/// Why a source cannot work, as found at construction (cloneable, unlike [`Failure`]).
#[derive(Clone, Debug)]
#[cfg_attr(
    not(feature = "sources"),
    allow(dead_code, reason = "what only the sources behind the feature find")
)]
pub(crate) enum Unusable {
    NotConfigured(String),
    Misconfigured(String),
    Env(EnvError),
    Invalid(InvalidInput),
    /// The source is not in this build (the `sources` feature is off); `named`: its
    /// settings, or the program, name it.
    #[cfg_attr(
        feature = "sources",
        allow(dead_code, reason = "every source is built")
    )]
    NotBuilt {
        named: bool,
    },
}

impl From<Unusable> for Failure {
    fn from(u: Unusable) -> Self {
        match u {
            Unusable::NotConfigured(why) => Failure::NotConfigured(why),
            Unusable::Misconfigured(why) => Failure::Misconfigured(why),
            Unusable::Env(e) => Failure::Env(e),
            Unusable::Invalid(e) => Failure::Invalid(e),
            Unusable::NotBuilt { named } => Failure::NotBuilt {
                feature: SOURCES_FEATURE,
                named,
            },
        }
    }
}

/// The feature the credential sources that read files or ask services need.
pub(crate) const SOURCES_FEATURE: &str = "sources";

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

#[cfg(feature = "sources")]
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

#[cfg(feature = "sources")]
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

#[cfg(feature = "sources")]
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

#[cfg(feature = "sources")]
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

#[cfg(feature = "sources")]
pub(crate) fn check_secret(input: Input, value: &str) -> Result<(), InvalidInput> {
    check_len(input, value, crate::credentials::MAX_TOKEN_LEN)?;
    check_chars(input, value, "printable ASCII without spaces", |c| {
        c.is_ascii_graphic()
    })
}

#[cfg(feature = "sources")]
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

#[cfg(feature = "sources")]
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

#[cfg(feature = "sources")]
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

#[cfg(feature = "sources")]
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

#[cfg(feature = "sources")]
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

#[cfg(feature = "sources")]
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

/// The sources as set up without the `sources` feature: each one its settings name (its
/// variables set, a path given) is [`Unusable::NotBuilt`], named, and stops a chain; one
/// they do not name is skipped as before, or (a default path, the metadata service: what
/// a chain would have tried) skipped saying it is not built.
#[cfg(not(feature = "sources"))]
mod not_built {
    use super::*;

    /// `kind`, not in this build.
    pub(crate) fn not_built(kind: SourceKind, named: bool) -> Source {
        Source::Unusable(kind, Unusable::NotBuilt { named })
    }

    /// Whether any of `names` is set (to something not empty).
    fn any_set(lookup: &impl Fn(&str) -> Option<String>, names: &[&str]) -> bool {
        names
            .iter()
            .any(|name| lookup(name).is_some_and(|v| !v.is_empty()))
    }

    /// Not built if its variables are set, else not configured (`unset` says so).
    fn if_set(
        kind: SourceKind,
        lookup: &impl Fn(&str) -> Option<String>,
        names: &[&str],
    ) -> Source {
        if any_set(lookup, names) {
            not_built(kind, true)
        } else {
            let first = names.first().copied().unwrap_or_default();
            Source::Unusable(kind, Unusable::NotConfigured(format!("{first} is not set")))
        }
    }

    pub(crate) fn iam_federation(
        lookup: &impl Fn(&str) -> Option<String>,
        kind: SourceKind,
    ) -> Source {
        if_set(kind, lookup, &[ENV_IDP_ID, ENV_ID_TOKEN_FILE])
    }

    pub(crate) fn oidc_sts(lookup: &impl Fn(&str) -> Option<String>) -> Source {
        if_set(
            SourceKind::OidcSts,
            lookup,
            &[
                ENV_OIDC_PROVIDER_URN,
                ENV_OIDC_AGENCY_URN,
                ENV_OIDC_ID_TOKEN,
                ENV_OIDC_TOKEN_FILE,
            ],
        )
    }

    pub(crate) fn iam_password(lookup: &impl Fn(&str) -> Option<String>) -> Source {
        if_set(
            SourceKind::IamPassword,
            lookup,
            &[
                ENV_IAM_USER,
                ENV_IAM_DOMAIN,
                ENV_IAM_PASSWORD,
                ENV_IAM_PASSWORD_FILE,
            ],
        )
    }

    pub(crate) fn pod_identity(lookup: &impl Fn(&str) -> Option<String>) -> Source {
        if_set(
            SourceKind::PodIdentity,
            lookup,
            &[ENV_POD_IDENTITY_URI, ENV_POD_IDENTITY_TOKEN_FILE],
        )
    }

    /// Named by `HUAWEICLOUD_SDK_CREDENTIALS_FILE` (or `HUAWEICLOUD_SDK_IAM_ENDPOINT`,
    /// which only a file's federation would use); else the default path, which a chain
    /// skips.
    pub(crate) fn profile_file(lookup: &impl Fn(&str) -> Option<String>) -> Source {
        not_built(
            SourceKind::ProfileFile,
            any_set(lookup, &[ENV_CREDENTIALS_FILE, ENV_IAM_ENDPOINT]),
        )
    }

    pub(crate) fn koocli(
        _lookup: &impl Fn(&str) -> Option<String>,
        _profile: Option<&str>,
        explicit: bool,
    ) -> Source {
        not_built(SourceKind::KooCli, explicit)
    }

    /// Named by `HUAWEICLOUD_SDK_METADATA_ENDPOINT`; else the default address, which a
    /// chain skips.
    pub(crate) fn metadata(lookup: &impl Fn(&str) -> Option<String>) -> Source {
        not_built(
            SourceKind::Metadata,
            any_set(lookup, &[ENV_METADATA_ENDPOINT]),
        )
    }
}

#[cfg(not(feature = "sources"))]
pub(crate) use not_built::{
    iam_federation, iam_password, koocli, metadata, not_built, oidc_sts, pod_identity, profile_file,
};

#[cfg(test)]
#[cfg(feature = "sources")]
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

/// Without the `sources` feature: the environment still works, and a source that is named
/// is an error naming the feature, never skipped for a later one.
#[cfg(test)]
#[cfg(not(feature = "sources"))]
mod not_built_tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use super::*;

    const T0: SystemTime = SystemTime::UNIX_EPOCH;

    /// The environment of a test: these variables, nothing else.
    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    /// A refresh of `provider`, which needs no I/O without the feature.
    fn refresh(mut provider: Provider) -> Result<Identity, CredentialError> {
        match provider.refresh(T0).start() {
            Need::Done(result) => result,
            need => panic!("no source of this build does I/O: {need:?}"),
        }
    }

    const KEYS: [(&str, &str); 2] = [
        ("HUAWEICLOUD_SDK_AK", "AKEXAMPLE0000000000"),
        ("HUAWEICLOUD_SDK_SK", "SKEXAMPLEsecretkey"),
    ];

    #[test]
    fn the_environments_keys_and_token_still_work() {
        let identity = refresh(Provider::default_chain(env(&KEYS))).unwrap();
        assert_eq!(identity.source(), SourceKind::Environment);
        let token = [("HUAWEICLOUD_SDK_AUTH_TOKEN", "MIIE-token")];
        let identity = refresh(Provider::environment(env(&token))).unwrap();
        assert!(matches!(identity.credentials(), Credentials::Token(_)));
        let with_security_token = [
            KEYS[0],
            KEYS[1],
            ("HUAWEICLOUD_SDK_SECURITY_TOKEN", "SECTOKEN"),
        ];
        let identity = refresh(Provider::environment(env(&with_security_token))).unwrap();
        let Credentials::AkSk(aksk) = identity.credentials() else {
            panic!("{identity:?}")
        };
        assert!(aksk.has_security_token());
    }

    /// A source its variables name stops the chain with an error naming the feature: one
    /// before the environment's keys (OIDC, or federation within the environment) even
    /// when the keys are set, as with the feature it would have answered first; one after
    /// them without going on to the rest.
    #[test]
    fn a_named_source_stops_the_chain_naming_the_feature() {
        let named: [(&[(&str, &str)], SourceKind); 6] = [
            (
                &[
                    (ENV_OIDC_PROVIDER_URN, "urn:provider"),
                    (ENV_OIDC_AGENCY_URN, "urn:agency"),
                    (ENV_OIDC_TOKEN_FILE, "/token"),
                ],
                SourceKind::OidcSts,
            ),
            (
                &[(ENV_IDP_ID, "idp"), (ENV_ID_TOKEN_FILE, "/token")],
                SourceKind::Environment,
            ),
            (
                &[(ENV_CREDENTIALS_FILE, "/credentials")],
                SourceKind::ProfileFile,
            ),
            (
                &[(ENV_POD_IDENTITY_URI, "http://127.0.0.1:1/creds")],
                SourceKind::PodIdentity,
            ),
            (
                &[(ENV_METADATA_ENDPOINT, "http://169.254.169.254")],
                SourceKind::Metadata,
            ),
            (&[(ENV_IAM_PASSWORD, "password")], SourceKind::IamPassword),
        ];
        for (vars, kind) in named {
            let before_keys = matches!(kind, SourceKind::OidcSts | SourceKind::Environment);
            let keys = if before_keys { &KEYS[..] } else { &[] };
            let all: Vec<(&str, &str)> = vars.iter().chain(keys).copied().collect();
            let mut chain = Provider::default_chain(env(&all));
            let err = match chain.refresh(T0).start() {
                Need::Done(Err(err)) => err,
                need => panic!("{kind}: {need:?}"),
            };
            let [source] = err.sources() else {
                panic!("{kind}: {err}")
            };
            assert_eq!(source.source_kind(), kind, "{err}");
            assert_eq!(source.missing_feature(), Some("sources"), "{err}");
            assert!(!source.is_skipped(), "{err}");
            assert!(err.to_string().contains("`sources` feature"), "{err}");
        }
    }

    #[test]
    fn a_source_chosen_in_code_is_an_error_naming_the_feature() {
        let none = || env(&[]);
        for provider in [
            Provider::profile_file(none()),
            Provider::profile_file_at("/credentials"),
            Provider::koocli(none(), None),
            Provider::koocli_at("/config.json", Some("p")),
            Provider::pod_identity(none()),
            Provider::metadata(none()),
            Provider::iam_federation(none()),
            Provider::oidc_sts(none()),
            Provider::iam_password(none()),
        ] {
            let err = refresh(provider).unwrap_err();
            let [source] = err.sources() else {
                panic!("{err}")
            };
            assert_eq!(source.missing_feature(), Some("sources"), "{err}");
            assert!(!source.is_skipped(), "{err}");
            assert!(err.to_string().contains("not in this build"), "{err}");
        }
    }

    /// With nothing set, the chain's error says which sources this build lacks.
    #[test]
    fn an_empty_environment_lists_the_sources_not_built() {
        let err = refresh(Provider::default_chain(env(&[("HOME", "/home/u")]))).unwrap_err();
        let not_built: Vec<SourceKind> = err
            .sources()
            .iter()
            .filter(|s| s.missing_feature() == Some("sources"))
            .map(SourceError::source_kind)
            .collect();
        assert_eq!(
            not_built,
            [
                SourceKind::ProfileFile,
                SourceKind::KooCli,
                SourceKind::Metadata
            ],
            "{err}"
        );
        assert!(err.sources().iter().all(SourceError::is_skipped), "{err}");
        assert!(err.to_string().contains("`sources` feature"), "{err}");
    }
}
