//! What every transport is configured with, in one place, so both read it the same way.

use std::fmt;
use std::time::Duration;

use crate::call::CallSettings;
use crate::credentials::{AkSk, AuthToken, Credentials};
use crate::input_error::{Input, InvalidInput, Problem};
use crate::retry::RetryPolicy;
use crate::{Endpoint, ProjectId, Region, ShowUserInstances, UserAgent};

/// The certificates a transport trusts for HTTPS.
///
/// Default: [`TrustRoots::WebPki`], Mozilla's roots as shipped by `webpki-roots`; never the
/// system store or a path from the environment unless the caller passes it here.
#[derive(Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum TrustRoots {
    /// Mozilla's roots.
    #[default]
    WebPki,
    /// Mozilla's roots and the certificates of this PEM bundle (a private CA).
    WebPkiAnd(Vec<u8>),
    /// Only the certificates of this PEM bundle (a private cloud with its own CA).
    Only(Vec<u8>),
}

impl fmt::Debug for TrustRoots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrustRoots::WebPki => f.write_str("WebPki"),
            TrustRoots::WebPkiAnd(pem) => write!(f, "WebPkiAnd({} bytes of PEM)", pem.len()),
            TrustRoots::Only(pem) => write!(f, "Only({} bytes of PEM)", pem.len()),
        }
    }
}

/// An explicit HTTP proxy (`http://[user:password@]host:port`), reached with `CONNECT`.
///
/// The user and password may be percent-encoded in the URL (`p%40ss` for `p@ss`); they are
/// decoded once, here, and the password prints as `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyUrl {
    host: String,
    port: u16,
    username: Option<String>,
    password: Option<String>,
}

impl ProxyUrl {
    /// Parses a proxy URL. Only `http://` proxies are supported; the port defaults to 80.
    ///
    /// # Errors
    /// [`InvalidInput`] with [`Input::Proxy`].
    pub fn parse(url: &str) -> Result<Self, InvalidInput> {
        let err = |problem| InvalidInput::new(Input::Proxy, problem);
        let rest = match url.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
            Some((scheme, _)) => return Err(err(Problem::UnsupportedScheme(scheme.to_owned()))),
            None => return Err(err(Problem::NotAUrl)),
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains(['/', '?', '#']) {
            return Err(err(Problem::Malformed {
                expected: "http://[user:password@]host[:port] with no path",
            }));
        }
        let (userinfo, hostport) = match rest.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, rest),
        };
        let decode = |s: &str| {
            String::from_utf8(crate::sign::percent_decode(s.as_bytes())).map_err(|_| {
                err(Problem::Malformed {
                    expected: "percent-encoded UTF-8 user and password",
                })
            })
        };
        let (username, password) = match userinfo {
            None => (None, None),
            Some(info) => {
                let (user, pass) = match info.split_once(':') {
                    Some((u, p)) => (u, Some(p)),
                    None => (info, None),
                };
                (Some(decode(user)?), pass.map(decode).transpose()?)
            }
        };
        let probe = Endpoint::parse_with(
            &format!("http://{hostport}"),
            crate::HttpPolicy::AllowInsecure,
        )
        .map_err(|e| err(e.problem().clone()))?;
        Ok(ProxyUrl {
            host: probe.host().to_owned(),
            port: probe.port_or_default(),
            username,
            password,
        })
    }

    /// The proxy's host (IPv6 in brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The proxy's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The decoded user name, if any.
    pub fn username(&self) -> Option<&str> {
        self.username.as_deref()
    }

    /// The decoded password, if any. Handle with care: it is a secret.
    pub fn password(&self) -> Option<&str> {
        self.password.as_deref()
    }

    /// `Basic <base64(user:password)>` for `Proxy-Authorization`, when there is a user.
    pub fn basic_authorization(&self) -> Option<String> {
        let user = self.username.as_deref()?;
        let pass = self.password.as_deref().unwrap_or_default();
        Some(format!(
            "Basic {}",
            base64(format!("{user}:{pass}").as_bytes())
        ))
    }
}

impl fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyUrl")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

/// Standard base64 with padding (for `Proxy-Authorization`; small enough not to need a crate).
fn base64(bytes: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let sextet = |n: u32| char::from(TABLE.get((n & 63) as usize).copied().unwrap_or(b'='));
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let n = b(0) << 16 | b(1) << 8 | b(2);
        out.push(sextet(n >> 18));
        out.push(sextet(n >> 12));
        out.push(if chunk.len() > 1 { sextet(n >> 6) } else { '=' });
        out.push(if chunk.len() > 2 { sextet(n) } else { '=' });
    }
    out
}

/// Everything a transport client is built from. Both transports take this same value, so
/// they are configured, and behave, the same way.
///
/// | setting | default |
/// |---|---|
/// | connect timeout (TCP, TLS and proxy handshake) | 5 s |
/// | attempt timeout (from sending to the last body byte) | 10 s |
/// | overall deadline across attempts and retry delays | 30 s |
/// | retry policy | [`RetryPolicy::default`] (4 attempts, 0.5 s to 10 s backoff) |
/// | largest response body | [`MAX_RESPONSE_BODY`](crate::MAX_RESPONSE_BODY), 64 KiB |
/// | `User-Agent` | `kms-rs/<version>` |
/// | trusted roots | [`TrustRoots::WebPki`] |
/// | proxy | none (proxy variables of the environment are never read) |
/// | connections per client (requests in flight) | 32 |
#[derive(Clone, Debug)]
pub struct ClientConfig {
    call: CallSettings,
    connect_timeout: Duration,
    trust: TrustRoots,
    proxy: Option<ProxyUrl>,
    max_connections: usize,
}

impl ClientConfig {
    /// A configuration with the defaults.
    pub fn new(endpoint: Endpoint, project_id: ProjectId, credentials: Credentials) -> Self {
        ClientConfig {
            call: CallSettings::new(ShowUserInstances::new(project_id), endpoint, credentials),
            connect_timeout: Duration::from_secs(5),
            trust: TrustRoots::default(),
            proxy: None,
            max_connections: 32,
        }
    }

    /// Reads the official environment variables through `lookup` (pass
    /// `|name| std::env::var(name).ok()` for the real environment), for `region`:
    ///
    /// * `HUAWEICLOUD_SDK_PROJECT_ID`;
    /// * `HUAWEICLOUD_SDK_AK` and `HUAWEICLOUD_SDK_SK` (with `HUAWEICLOUD_SDK_SECURITY_TOKEN`
    ///   for temporary credentials), or `HUAWEICLOUD_SDK_AUTH_TOKEN` for an IAM token;
    /// * `HUAWEICLOUD_SDK_REGION_KMS_<REGION>` to override the region's endpoint.
    ///
    /// Empty values count as unset.
    ///
    /// # Errors
    /// An [`EnvError`] naming the variables: missing, both kinds of credentials at once, or
    /// a value the validators refuse.
    pub fn from_env(
        region: &Region,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, EnvError> {
        let get = |name: &str| lookup(name).filter(|v| !v.is_empty());
        let project = get(ENV_PROJECT_ID).ok_or(EnvError::Missing(&[ENV_PROJECT_ID]))?;
        let project = ProjectId::new(&project)
            .map_err(|e| EnvError::Invalid(e.with_origin(ENV_PROJECT_ID)))?;
        let credentials = credentials_from_env(get)?;
        let endpoint = Endpoint::resolve(region, get).map_err(EnvError::Invalid)?;
        Ok(ClientConfig::new(endpoint, project, credentials))
    }

    /// Sets the connect timeout (TCP connect, TLS handshake and proxy `CONNECT`).
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets the timeout of each attempt, headers and body included.
    pub fn with_attempt_timeout(mut self, timeout: Duration) -> Self {
        self.call = self.call.with_attempt_timeout(timeout);
        self
    }

    /// Sets the overall deadline of a call, across attempts and retry delays.
    pub fn with_deadline(mut self, deadline: Duration) -> Self {
        self.call = self.call.with_deadline(deadline);
        self
    }

    /// Replaces the retry policy ([`RetryPolicy::never`] disables retries).
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.call = self.call.with_retry(retry);
        self
    }

    /// Sets the largest response body accepted (at most
    /// [`MAX_RESPONSE_BODY`](crate::MAX_RESPONSE_BODY)).
    pub fn with_max_response_body(mut self, limit: usize) -> Self {
        self.call = self.call.with_max_response_body(limit);
        self
    }

    /// Replaces the `User-Agent` (see [`UserAgent::with_suffix`] to append your own text).
    pub fn with_user_agent(mut self, user_agent: UserAgent) -> Self {
        let request = self.call.request().clone().with_user_agent(user_agent);
        self.call = self.call.with_request(request);
        self
    }

    /// Sets the certificates trusted for HTTPS.
    pub fn with_trust(mut self, trust: TrustRoots) -> Self {
        self.trust = trust;
        self
    }

    /// Sends every request through this HTTP proxy.
    pub fn with_proxy(mut self, proxy: ProxyUrl) -> Self {
        self.proxy = Some(proxy);
        self
    }

    /// Sets how many connections a client may hold to the endpoint (and so how many of
    /// its requests may be in flight at once). 0 is taken as 1.
    pub fn with_max_connections(mut self, max: usize) -> Self {
        self.max_connections = max.max(1);
        self
    }

    /// How many connections a client may hold.
    pub fn max_connections(&self) -> usize {
        self.max_connections
    }

    /// The per-call settings the [`Call`](crate::call::Call) state machine uses.
    pub fn call(&self) -> &CallSettings {
        &self.call
    }

    /// The connect timeout.
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// The trusted roots.
    pub fn trust(&self) -> &TrustRoots {
        &self.trust
    }

    /// The proxy, if any.
    pub fn proxy(&self) -> Option<&ProxyUrl> {
        self.proxy.as_ref()
    }
}

/// `HUAWEICLOUD_SDK_AK`.
pub const ENV_AK: &str = "HUAWEICLOUD_SDK_AK";
/// `HUAWEICLOUD_SDK_SK`.
pub const ENV_SK: &str = "HUAWEICLOUD_SDK_SK";
/// `HUAWEICLOUD_SDK_SECURITY_TOKEN`.
pub const ENV_SECURITY_TOKEN: &str = "HUAWEICLOUD_SDK_SECURITY_TOKEN";
/// `HUAWEICLOUD_SDK_AUTH_TOKEN` (this client's addition: the official SDKs have no token).
pub const ENV_AUTH_TOKEN: &str = "HUAWEICLOUD_SDK_AUTH_TOKEN";
/// `HUAWEICLOUD_SDK_PROJECT_ID`.
pub const ENV_PROJECT_ID: &str = "HUAWEICLOUD_SDK_PROJECT_ID";

/// The credentials of the official environment variables, read through `get` (which
/// returns `None` for unset or empty variables).
///
/// # Errors
/// [`EnvError`] when none are set, both kinds are, only one of AK and SK is, or a value is
/// refused by the validators.
pub fn credentials_from_env(get: impl Fn(&str) -> Option<String>) -> Result<Credentials, EnvError> {
    let (ak, sk, token) = (get(ENV_AK), get(ENV_SK), get(ENV_AUTH_TOKEN));
    let invalid = |var: &'static str| move |e: InvalidInput| EnvError::Invalid(e.with_origin(var));
    match (ak, sk, token) {
        (None, None, None) => Err(EnvError::Missing(&[ENV_AK, ENV_SK, ENV_AUTH_TOKEN])),
        (Some(_), _, Some(_)) | (_, Some(_), Some(_)) => Err(EnvError::Conflict),
        (None, None, Some(token)) => Ok(AuthToken::new(&token)
            .map_err(invalid(ENV_AUTH_TOKEN))?
            .into()),
        (Some(_), None, None) => Err(EnvError::Missing(&[ENV_SK])),
        (None, Some(_), None) => Err(EnvError::Missing(&[ENV_AK])),
        (Some(ak), Some(sk), None) => {
            let mut aksk = AkSk::new(&ak, &sk).map_err(|e| {
                let var = if e.input() == Input::AccessKey {
                    ENV_AK
                } else {
                    ENV_SK
                };
                EnvError::Invalid(e.with_origin(var))
            })?;
            if let Some(token) = get(ENV_SECURITY_TOKEN) {
                aksk = aksk
                    .with_security_token(&token)
                    .map_err(invalid(ENV_SECURITY_TOKEN))?;
            }
            Ok(aksk.into())
        }
    }
}

/// Why the environment gave no usable configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EnvError {
    /// None of these variables is set.
    Missing(&'static [&'static str]),
    /// AK/SK and an auth token are both set; the choice would be a guess.
    Conflict,
    /// A variable holds a value the validators refuse (its name is the error's origin).
    Invalid(InvalidInput),
}

impl fmt::Display for EnvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnvError::Missing([one]) => write!(f, "{one} is not set"),
            EnvError::Missing(names) => {
                write!(
                    f,
                    "no credentials found: set {} and {}, or {}",
                    names.first().unwrap_or(&""),
                    names.get(1).unwrap_or(&""),
                    names.get(2).unwrap_or(&"")
                )
            }
            EnvError::Conflict => write!(
                f,
                "both {ENV_AK}/{ENV_SK} and {ENV_AUTH_TOKEN} are set; unset one kind of credentials"
            ),
            EnvError::Invalid(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for EnvError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            EnvError::Invalid(e) => Some(e),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned().filter(|v| !v.is_empty())
    }

    #[test]
    fn proxy_urls() {
        let p = ProxyUrl::parse("http://us%40er:p%3Ass%40word@proxy.lan:3128/").unwrap();
        assert_eq!((p.host(), p.port()), ("proxy.lan", 3128));
        assert_eq!(
            (p.username(), p.password()),
            (Some("us@er"), Some("p:ss@word"))
        );
        assert_eq!(
            p.basic_authorization().unwrap(),
            "Basic dXNAZXI6cDpzc0B3b3Jk"
        );
        assert!(!format!("{p:?}").contains("p:ss@word"));
        assert_eq!(ProxyUrl::parse("http://[::1]").unwrap().port(), 80);
        for bad in [
            "proxy:3128",
            "https://p:1",
            "socks5://p:1",
            "http://p:1/x",
            "http://p:99999",
            "http://a:%ff@p",
        ] {
            assert_eq!(
                ProxyUrl::parse(bad).unwrap_err().input(),
                Input::Proxy,
                "{bad}"
            );
        }
    }

    #[test]
    fn base64_matches_the_rfc_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }

    #[test]
    fn credentials_from_the_official_variables() {
        let c = credentials_from_env(env(&[
            (ENV_AK, "AK"),
            (ENV_SK, "SK"),
            (ENV_SECURITY_TOKEN, "ST"),
        ]))
        .unwrap();
        assert!(matches!(c, Credentials::AkSk(ref a) if a.has_security_token()));
        assert!(matches!(
            credentials_from_env(env(&[(ENV_AUTH_TOKEN, "T")])).unwrap(),
            Credentials::Token(_)
        ));
        assert_eq!(
            credentials_from_env(env(&[])).unwrap_err().to_string(),
            "no credentials found: set HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK, or HUAWEICLOUD_SDK_AUTH_TOKEN"
        );
        assert_eq!(
            credentials_from_env(env(&[(ENV_AK, "AK"), (ENV_AUTH_TOKEN, "T")])).unwrap_err(),
            EnvError::Conflict
        );
        assert_eq!(
            credentials_from_env(env(&[(ENV_AK, "AK")])).unwrap_err(),
            EnvError::Missing(&[ENV_SK])
        );
        let err = credentials_from_env(env(&[(ENV_AK, "AK"), (ENV_SK, "bad\nsk")])).unwrap_err();
        assert!(
            err.to_string().contains("(from HUAWEICLOUD_SDK_SK)"),
            "{err}"
        );
        assert!(!err.to_string().contains("bad"), "{err}");
    }

    #[test]
    fn config_from_env() {
        let region = Region::new("cn-north-4").unwrap();
        let lookup = env(&[
            (ENV_PROJECT_ID, "0dea2644dc80d5d22ff1c01e3ebea6fc"),
            (ENV_AUTH_TOKEN, "T"),
            (
                "HUAWEICLOUD_SDK_REGION_KMS_CN_NORTH_4",
                "https://kms.private:8443",
            ),
        ]);
        let config = ClientConfig::from_env(&region, lookup).unwrap();
        assert_eq!(config.call().endpoint().authority(), "kms.private:8443");
        assert_eq!(
            ClientConfig::from_env(&region, env(&[(ENV_AUTH_TOKEN, "T")])).unwrap_err(),
            EnvError::Missing(&[ENV_PROJECT_ID])
        );
        let err = ClientConfig::from_env(
            &region,
            env(&[(ENV_PROJECT_ID, "a/b"), (ENV_AUTH_TOKEN, "T")]),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("invalid project id (from HUAWEICLOUD_SDK_PROJECT_ID)"),
            "{err}"
        );
    }
}
