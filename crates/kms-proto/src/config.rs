//! What every transport is configured with, in one place, so both read it the same way.

use std::fmt;
use std::time::Duration;

use crate::credentials::{AkSk, AuthToken, Credentials};
use crate::input_error::{Input, InvalidInput, Problem};
use crate::retry::RetryPolicy;
use crate::{
    Endpoint, MAX_RESPONSE_BODY, PreparedRequest, ProjectId, Region, ShowUserInstances, UserAgent,
};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

/// The certificates a transport trusts for HTTPS.
///
/// Default: [`TrustRoots::WebPki`], Mozilla's roots as shipped by `webpki-roots`; never the
/// system store or a path from the environment unless the caller passes it here.
///
/// Not `#[non_exhaustive]`, on purpose: each transport matches every variant, so a variant
/// added later fails to compile in every transport instead of being mapped to some default
/// by a wildcard arm (which would trust more, or less, than was configured).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum TrustRoots {
    /// Mozilla's roots.
    #[default]
    WebPki,
    /// Mozilla's roots and the certificates of this bundle (a private CA).
    WebPkiAnd(CaBundle),
    /// Only the certificates of this bundle (a private cloud with its own CA).
    Only(CaBundle),
}

/// CA certificates to trust, validated when they are read, so that every transport
/// receives certificates rustls accepts as trust anchors and refuses a bad bundle before
/// anything is sent.
///
/// Made by [`CaBundle::from_pem`]; there is no other way, so a [`TrustRoots`] can only hold
/// validated certificates. `Debug` prints how many certificates it holds.
#[derive(Clone, PartialEq, Eq)]
pub struct CaBundle {
    /// DER, in the order of the PEM text; never empty.
    certificates: Vec<Box<[u8]>>,
}

impl CaBundle {
    /// Reads a PEM bundle and checks each certificate the way rustls's
    /// `RootCertStore::add` does (PEM by `rustls-pki-types`, the certificate by
    /// `webpki::anchor_from_trusted_cert`), so a bundle accepted here is accepted by every
    /// transport, and one refused here would have been refused, or ignored, by rustls.
    ///
    /// Every `CERTIFICATE` block is kept. Blocks of other kinds (CRLs, public keys,
    /// OpenSSL's `TRUSTED CERTIFICATE`, ...) are skipped, as rustls's PEM reader skips
    /// them, with one exception: a private key (any `-----BEGIN ...PRIVATE KEY-----`
    /// block, encrypted or not) is refused, because a CA bundle never needs one and a key
    /// found there is a secret in the wrong file; it is refused before its base64 is read.
    ///
    /// # Errors
    /// [`InvalidInput`] with [`Input::CaCertificates`] and [`Problem::Empty`] (no bytes),
    /// [`Problem::PrivateKey`], [`Problem::Malformed`] (PEM that cannot be read: a BEGIN
    /// line without its END line, bad base64), [`Problem::NotACertificate`] (naming the
    /// block) or [`Problem::NoCertificate`].
    pub fn from_pem(pem: &[u8]) -> Result<Self, InvalidInput> {
        let err = |problem| InvalidInput::new(Input::CaCertificates, problem);
        if pem.is_empty() {
            return Err(err(Problem::Empty));
        }
        if holds_private_key(pem) {
            return Err(err(Problem::PrivateKey));
        }
        let mut certificates = Vec::new();
        for (i, block) in CertificateDer::pem_slice_iter(pem).enumerate() {
            let der = block.map_err(|e| err(pem_problem(&e)))?;
            // The very check rustls's `RootCertStore::add` makes (ureq skips what fails it;
            // hyper-rustls refuses it): done once here, both transports agree.
            if webpki::anchor_from_trusted_cert(&der).is_err() {
                return Err(err(Problem::NotACertificate { index: i + 1 }));
            }
            certificates.push(der.as_ref().into());
        }
        if certificates.is_empty() {
            return Err(err(Problem::NoCertificate));
        }
        Ok(CaBundle { certificates })
    }

    /// The certificates, DER-encoded, in the order of the PEM text (at least one).
    pub fn certificates(&self) -> impl ExactSizeIterator<Item = &[u8]> {
        self.certificates.iter().map(|der| &**der)
    }
}

/// Whether a line of `pem` opens a private key block (`PRIVATE KEY`, `RSA PRIVATE KEY`,
/// `ENCRYPTED PRIVATE KEY`, `OPENSSH PRIVATE KEY`, ...). Lines are split and BEGIN lines
/// recognised as `rustls-pki-types` does (CR or LF; trailing spaces after the dashes), so
/// a block its reader would open is never missed here.
fn holds_private_key(pem: &[u8]) -> bool {
    pem.split(|&b| b == b'\n' || b == b'\r').any(|line| {
        line.starts_with(b"-----BEGIN ") && line.trim_ascii_end().ends_with(b"PRIVATE KEY-----")
    })
}

/// What the PEM reader's error means for the user, without echoing the line it quotes.
fn pem_problem(e: &rustls_pki_types::pem::Error) -> Problem {
    use rustls_pki_types::pem::Error;
    let expected = match e {
        Error::MissingSectionEnd { .. } => PEM_END,
        Error::IllegalSectionStart { .. } => PEM_BEGIN,
        Error::Base64Decode(_) => PEM_BASE64,
        // `pem::Error` is `#[non_exhaustive]` (another crate): a new kind reads as "not PEM".
        // `SectionTooLarge` and `Io` (never from a slice) land here too.
        _ => PEM_TEXT,
    };
    Problem::Malformed { expected }
}

impl fmt::Debug for CaBundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CaBundle")
            .field("certificates", &self.certificates.len())
            .finish()
    }
}

/// What a readable PEM text looks like, for [`Problem::Malformed`], by what went wrong.
const PEM_END: &str = "an -----END ...----- line after every -----BEGIN ...----- line";
const PEM_BEGIN: &str = "-----BEGIN ...----- lines that end in five dashes";
const PEM_BASE64: &str = "base64 between the -----BEGIN and -----END lines";
const PEM_TEXT: &str = "PEM text whose blocks are smaller than 256 MB";

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
    /// As strict as [`Endpoint::parse`]: no control characters, spaces or non-ASCII
    /// anywhere (percent-encode them in the user and password), no path, query or fragment.
    /// The user and password may hold what RFC 3986 allows there and `%XX` escapes, which
    /// must be two hex digits and may not decode to a control character or, in the user
    /// name, to `:` (RFC 7617: Basic authentication could not carry it). A refused
    /// character of the password is named only when it is a control character.
    ///
    /// # Errors
    /// [`InvalidInput`] with [`Input::Proxy`] and the [`Problem`]: for example
    /// [`Problem::InvalidChar`], [`Problem::InvalidEscape`] or [`Problem::ColonInUser`].
    pub fn parse(url: &str) -> Result<Self, InvalidInput> {
        let err = |problem| InvalidInput::new(Input::Proxy, problem);
        if url.is_empty() {
            return Err(err(Problem::Empty));
        }
        // Characters first, over the whole URL, as the endpoint parser does: a CR or LF
        // must be refused whatever the rest looks like.
        let secret = password_span(url);
        if let Some((index, c)) = url.char_indices().find(|&(_, c)| !c.is_ascii_graphic()) {
            let ch = (!secret.contains(&index) || c.is_control()).then_some(c);
            return Err(err(Problem::InvalidChar {
                ch,
                index,
                allowed: PROXY_URL_CHARS,
            }));
        }
        let rest = match url.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
            Some((scheme, _)) => return Err(err(Problem::UnsupportedScheme(scheme.to_owned()))),
            None => return Err(err(Problem::NotAUrl)),
        };
        let rest_at = url.len() - rest.len();
        let (username, password, hostport) = match rest.rsplit_once('@') {
            None => (None, None, rest),
            Some((info, hostport)) => {
                let (user, pass) = parse_userinfo(info, rest_at, &secret)?;
                (Some(user), pass, hostport)
            }
        };
        let hostport = hostport.strip_suffix('/').unwrap_or(hostport);
        if hostport.contains(['/', '?', '#']) {
            return Err(err(Problem::Malformed { expected: NO_PATH }));
        }
        // The host and port follow the endpoint's rules exactly; its characters were
        // checked above, so the probe's errors carry no offset into a different string.
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

/// The shape of a proxy URL, for [`Problem::Malformed`].
const NO_PATH: &str = "http://[user:password@]host[:port] with no path";
/// What a decoded user and password must be, for [`Problem::Malformed`].
const PROXY_UTF8: &str = "percent-encoded UTF-8 user and password";
/// What a proxy URL may contain, for [`Problem::InvalidChar`].
const PROXY_URL_CHARS: &str =
    "printable ASCII (no spaces; percent-encode other characters of the user and password)";
/// What the user and password of a proxy URL may contain (RFC 3986 `userinfo`).
const PROXY_USERINFO_CHARS: &str = "letters, digits, -._~!$&'()*+,;= and %XX escapes in the user and password (%40 for @, %3A for : in the password)";
/// What a decoded user or password may not contain (RFC 7617: no control characters).
const PROXY_DECODED_CHARS: &str =
    "a user and password without control characters, even percent-encoded";

/// The byte range of `url` that may hold a password (from the `:` after the user name to
/// the last `@`), whose characters an error must not echo. When the URL has no recognisable
/// scheme, everything before the last `@` counts: better to name too little than a secret.
fn password_span(url: &str) -> std::ops::Range<usize> {
    let Some(at) = url.rfind('@') else {
        return 0..0;
    };
    let scheme_ok = |scheme: &str| {
        !scheme.is_empty()
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
    };
    match url.find("://") {
        Some(i) if i + 3 <= at && url.get(..i).is_some_and(scheme_ok) => {
            let user_at = i + 3;
            let colon = url.get(user_at..at).and_then(|info| info.find(':'));
            colon.map_or(at, |c| user_at + c)..at
        }
        _ => 0..at,
    }
}

/// Splits and decodes `user[:password]`, found at byte `offset` of the URL. The password is
/// only echoed in errors when the character is a control character (`secret` is its span).
fn parse_userinfo(
    info: &str,
    offset: usize,
    secret: &std::ops::Range<usize>,
) -> Result<(String, Option<String>), InvalidInput> {
    let err = |problem| InvalidInput::new(Input::Proxy, problem);
    // RFC 3986 `userinfo`: unreserved, sub-delims, ':' and escapes; the ASCII check has
    // been made, so only gen-delims and the characters URLs never hold are left to refuse.
    let allowed = |b: u8| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:%".contains(&b);
    if let Some(i) = info.bytes().position(|b| !allowed(b)) {
        let index = offset + i;
        return Err(err(Problem::InvalidChar {
            ch: info
                .get(i..)
                .and_then(|s| s.chars().next())
                .filter(|_| !secret.contains(&index)),
            index,
            allowed: PROXY_USERINFO_CHARS,
        }));
    }
    let (user, pass) = match info.split_once(':') {
        Some((u, p)) => (u, Some((p, offset + u.len() + 1))),
        None => (info, None),
    };
    let user = decode_strict(user, offset)?;
    if user.contains(':') {
        return Err(err(Problem::ColonInUser));
    }
    let pass = pass.map(|(p, at)| decode_strict(p, at)).transpose()?;
    Ok((user, pass))
}

/// Decodes `%XX` escapes of a user or password found at byte `offset` of the URL, refusing
/// what the lenient decoding that signing needs lets through: a `%` without two hex digits,
/// an escaped control character, bytes that are not UTF-8.
fn decode_strict(s: &str, offset: usize) -> Result<String, InvalidInput> {
    let err = |problem| InvalidInput::new(Input::Proxy, problem);
    let hex = |b: Option<&u8>| b.and_then(|&b| char::from(b).to_digit(16));
    let bytes = s.as_bytes();
    // Every escape is checked before decoding, because the decoder keeps a malformed one as
    // it is and an error must name the escape's place in the URL. A `%` inside a
    // well-formed escape is impossible (hex digits are not `%`), so each `%` starts one.
    for (i, _) in s.match_indices('%') {
        let (Some(hi), Some(lo)) = (hex(bytes.get(i + 1)), hex(bytes.get(i + 2))) else {
            return Err(err(Problem::InvalidEscape { index: offset + i }));
        };
        // The escaped byte as a character: an ASCII control character is below 0x80, so
        // `from_u32` (which only fails above 0x10FFFF or on surrogates) cannot hide one.
        if let Some(ch) = char::from_u32(hi << 4 | lo).filter(char::is_ascii_control) {
            return Err(err(Problem::InvalidChar {
                ch: Some(ch),
                index: offset + i,
                allowed: PROXY_DECODED_CHARS,
            }));
        }
    }
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .map(std::borrow::Cow::into_owned)
        .map_err(|_| {
            err(Problem::Malformed {
                expected: PROXY_UTF8,
            })
        })
}

/// Standard base64 with padding, as RFC 7617 Basic authentication writes `user:password`.
fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
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
///
/// It is also what the [`Call`](crate::call::Call) state machine reads: the one builder of
/// everything a call and a transport need.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    request: ShowUserInstances,
    endpoint: Endpoint,
    /// The request prepared for the endpoint once, so each attempt only adds the date,
    /// the signature and the credentials' headers.
    prepared: PreparedRequest,
    credentials: Credentials,
    retry: RetryPolicy,
    attempt_timeout: Duration,
    deadline: Duration,
    max_response_body: usize,
    connect_timeout: Duration,
    trust: TrustRoots,
    proxy: Option<ProxyUrl>,
    max_connections: usize,
}

/// Prepares `request` for `endpoint`. Both were validated when they were made, so the URI
/// and header values they form are always valid.
#[allow(
    clippy::expect_used,
    reason = "a validated endpoint and project id always form a valid URI and header values"
)]
fn prepare(request: &ShowUserInstances, endpoint: &Endpoint) -> PreparedRequest {
    request
        .prepare(endpoint)
        .expect("a validated endpoint and project id always form a valid URI and header values")
}

impl ClientConfig {
    /// A configuration with the defaults.
    pub fn new(endpoint: Endpoint, project_id: ProjectId, credentials: Credentials) -> Self {
        let request = ShowUserInstances::new(project_id);
        ClientConfig {
            prepared: prepare(&request, &endpoint),
            request,
            endpoint,
            credentials,
            retry: RetryPolicy::default(),
            attempt_timeout: Duration::from_secs(10),
            deadline: Duration::from_secs(30),
            max_response_body: MAX_RESPONSE_BODY,
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

    /// Sets the timeout of each attempt, from sending to the last byte of the body.
    pub fn with_attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = timeout;
        self
    }

    /// Sets the overall deadline of a call, across attempts and retry delays.
    pub fn with_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// Replaces the retry policy ([`RetryPolicy::never`] disables retries).
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Sets the largest response body accepted; values above
    /// [`MAX_RESPONSE_BODY`](crate::MAX_RESPONSE_BODY) are lowered to it.
    pub fn with_max_response_body(mut self, limit: usize) -> Self {
        self.max_response_body = limit.min(MAX_RESPONSE_BODY);
        self
    }

    /// Replaces the `User-Agent` (see [`UserAgent::with_suffix`] to append your own text).
    pub fn with_user_agent(mut self, user_agent: UserAgent) -> Self {
        self.request = self.request.with_user_agent(user_agent);
        self.prepared = prepare(&self.request, &self.endpoint);
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

    /// The request every attempt builds.
    pub fn request(&self) -> &ShowUserInstances {
        &self.request
    }

    /// The request prepared for the endpoint.
    pub(crate) fn prepared(&self) -> &PreparedRequest {
        &self.prepared
    }

    /// Where requests go.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The credentials.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// The retry policy.
    pub fn retry(&self) -> &RetryPolicy {
        &self.retry
    }

    /// The timeout of each attempt.
    pub fn attempt_timeout(&self) -> Duration {
        self.attempt_timeout
    }

    /// The overall deadline of a call.
    pub fn deadline(&self) -> Duration {
        self.deadline
    }

    /// The largest body accepted: read at most this plus one byte.
    pub fn max_response_body(&self) -> usize {
        self.max_response_body
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

    /// Every proxy URL the parser must refuse, with the problem it must name. Failing cases
    /// are reported together, by name. The password, where there is one, is `s3cr3t` (or
    /// pieces of it), which no message may contain.
    #[test]
    fn proxy_urls_refused() {
        let chr = |ch: Option<char>, index, allowed| Problem::InvalidChar { ch, index, allowed };
        let cases: &[(&str, &str, Problem)] = &[
            ("empty", "", Problem::Empty),
            ("no scheme", "proxy:3128", Problem::NotAUrl),
            (
                "https proxy",
                "https://p:1",
                Problem::UnsupportedScheme("https".into()),
            ),
            (
                "socks proxy",
                "socks5://p:1",
                Problem::UnsupportedScheme("socks5".into()),
            ),
            (
                "a path",
                "http://p:1/x",
                Problem::Malformed { expected: NO_PATH },
            ),
            (
                "a query",
                "http://p:1?x",
                Problem::Malformed { expected: NO_PATH },
            ),
            (
                "port out of range",
                "http://p:99999",
                Problem::InvalidPort("99999".into()),
            ),
            (
                "host not a name",
                "http://p_x:1",
                Problem::InvalidHost("p_x".into()),
            ),
            (
                "CR LF in the host",
                "http://proxy.lan\r\nX-Evil: 1:3128",
                chr(Some('\r'), 16, PROXY_URL_CHARS),
            ),
            (
                "space in the host",
                "http://proxy lan:3128",
                chr(Some(' '), 12, PROXY_URL_CHARS),
            ),
            (
                "non-ASCII host",
                "http://pr\u{f6}xy:1",
                chr(Some('\u{f6}'), 9, PROXY_URL_CHARS),
            ),
            (
                "tab in the user",
                "http://us\ter:s3cr3t@p:1",
                chr(Some('\t'), 9, PROXY_URL_CHARS),
            ),
            (
                "space in the user",
                "http://us er:s3cr3t@p:1",
                chr(Some(' '), 9, PROXY_URL_CHARS),
            ),
            (
                "CR LF in the password",
                "http://u:s3\r\ncr3t@p:1",
                chr(Some('\r'), 11, PROXY_URL_CHARS),
            ),
            // Not a control character: only its place is named, not the character.
            (
                "space in the password",
                "http://u:s3 cr3t@p:1",
                chr(None, 11, PROXY_URL_CHARS),
            ),
            (
                "non-ASCII password",
                "http://u:s3\u{e9}cr3t@p:1",
                chr(None, 11, PROXY_URL_CHARS),
            ),
            (
                "raw @ in the password",
                "http://u:s3@cr3t@p:1",
                chr(None, 11, PROXY_USERINFO_CHARS),
            ),
            (
                "raw / in the password",
                "http://u:s3/cr3t@p:1",
                chr(None, 11, PROXY_USERINFO_CHARS),
            ),
            (
                "raw quote in the user",
                "http://u\"x:s3cr3t@p:1",
                chr(Some('"'), 8, PROXY_USERINFO_CHARS),
            ),
            (
                "invalid escape in the password",
                "http://u:%ZZs3cr3t@p:1",
                Problem::InvalidEscape { index: 9 },
            ),
            (
                "escape cut short in the password",
                "http://u:s3cr3t%4@p:1",
                Problem::InvalidEscape { index: 15 },
            ),
            (
                "invalid escape in the user",
                "http://u%G1:s3cr3t@p:1",
                Problem::InvalidEscape { index: 8 },
            ),
            (
                "lone % in the user",
                "http://u%:s3cr3t@p:1",
                Problem::InvalidEscape { index: 8 },
            ),
            (
                "colon in the user name",
                "http://a%3Ab:s3cr3t@p:1",
                Problem::ColonInUser,
            ),
            (
                "lower-case colon in the user name",
                "http://a%3ab@p:1",
                Problem::ColonInUser,
            ),
            (
                "encoded CR LF in the password",
                "http://u:s3%0D%0Acr3t@p:1",
                chr(Some('\r'), 11, PROXY_DECODED_CHARS),
            ),
            (
                "encoded NUL in the user",
                "http://u%00:s3cr3t@p:1",
                chr(Some('\0'), 8, PROXY_DECODED_CHARS),
            ),
            (
                "encoded DEL in the password",
                "http://u:s3cr3t%7F@p:1",
                chr(Some('\u{7f}'), 15, PROXY_DECODED_CHARS),
            ),
            (
                "password not UTF-8",
                "http://a:%ff@p",
                Problem::Malformed {
                    expected: PROXY_UTF8,
                },
            ),
        ];
        let mut failures = Vec::new();
        for (name, url, expected) in cases {
            match ProxyUrl::parse(url) {
                Ok(p) => failures.push(format!("{name}: accepted as {p:?}")),
                Err(e) => {
                    let msg = e.to_string();
                    if e.input() != Input::Proxy || e.problem() != expected {
                        failures.push(format!(
                            "{name}: {:?} {:?}, expected {expected:?}",
                            e.input(),
                            e.problem()
                        ));
                    }
                    if msg.contains("cr3t") || msg.contains("s3cr") || msg.contains(['\r', '\n']) {
                        failures.push(format!(
                            "{name}: the message echoes the password or breaks the line: {msg}"
                        ));
                    }
                }
            }
        }
        assert!(
            failures.is_empty(),
            "{} case(s) failed:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }

    #[test]
    fn proxy_userinfo_may_use_every_character_rfc_3986_allows() {
        let p = ProxyUrl::parse("http://a-._~!$&'()*+,;=%25b:c-._~!$&'()*+,;=:%25%3a%40%C3%A9@p:1")
            .unwrap();
        assert_eq!(p.username(), Some("a-._~!$&'()*+,;=%b"));
        assert_eq!(p.password(), Some("c-._~!$&'()*+,;=:%:@\u{e9}"));
        // An empty password and no password are both a user alone.
        assert_eq!(ProxyUrl::parse("http://u:@p").unwrap().password(), Some(""));
        assert_eq!(ProxyUrl::parse("http://u@p").unwrap().password(), None);
    }

    /// Every kind of CA bundle, with what [`CaBundle::from_pem`] must make of it: how many
    /// certificates, or the problem. Failing cases are reported together, by name.
    #[test]
    fn ca_bundles() {
        let ca = rcgen::generate_simple_self_signed(vec!["ca.test".to_owned()]).unwrap();
        let other = rcgen::generate_simple_self_signed(vec!["other.test".to_owned()]).unwrap();
        let (cert, key) = (ca.cert.pem(), ca.signing_key.serialize_pem());
        let public_key = ca.signing_key.public_key_pem();
        let bogus = "-----BEGIN CERTIFICATE-----\nQUFBQUFB\n-----END CERTIFICATE-----\n";
        let block = |label: &str, body: &str| {
            format!("-----BEGIN {label}-----\n{body}\n-----END {label}-----\n")
        };
        let cases: Vec<(&str, Vec<u8>, Result<usize, Problem>)> = vec![
            ("a real certificate", cert.clone().into(), Ok(1)),
            (
                "two certificates, text and CRLF around them",
                format!(
                    "# private CA\r\n{cert}\r\nsubject=other\r\n{}",
                    other.cert.pem()
                )
                .replace('\n', "\r\n")
                .into(),
                Ok(2),
            ),
            (
                "a certificate and a public key (skipped, as rustls does)",
                format!("{public_key}{cert}").into(),
                Ok(1),
            ),
            (
                "a certificate and OpenSSL's TRUSTED CERTIFICATE (skipped, as rustls does)",
                format!("{}{cert}", block("TRUSTED CERTIFICATE", "QUFBQUFB")).into(),
                Ok(1),
            ),
            ("empty input", Vec::new(), Err(Problem::Empty)),
            (
                "the QUFBQUFB block",
                bogus.into(),
                Err(Problem::NotACertificate { index: 1 }),
            ),
            (
                "a real certificate then the QUFBQUFB block",
                format!("{cert}{bogus}").into(),
                Err(Problem::NotACertificate { index: 2 }),
            ),
            (
                "a certificate's DER truncated",
                block("CERTIFICATE", "MIIBszCCAVmgAwIBAgIU").into(),
                Err(Problem::NotACertificate { index: 1 }),
            ),
            (
                "garbage text",
                b"not a pem".to_vec(),
                Err(Problem::NoCertificate),
            ),
            (
                "binary garbage",
                vec![0xff, 0x00, 0x30, 0x82, 0x0a],
                Err(Problem::NoCertificate),
            ),
            (
                "only whitespace",
                b"\n \r\n".to_vec(),
                Err(Problem::NoCertificate),
            ),
            (
                "only a public key",
                public_key.clone().into(),
                Err(Problem::NoCertificate),
            ),
            (
                "a private key block",
                key.clone().into(),
                Err(Problem::PrivateKey),
            ),
            (
                "a certificate with its private key",
                format!("{cert}{key}").into(),
                Err(Problem::PrivateKey),
            ),
            (
                "an RSA private key",
                block("RSA PRIVATE KEY", "QUFBQUFB").into(),
                Err(Problem::PrivateKey),
            ),
            (
                "an encrypted private key",
                format!("{cert}{}", block("ENCRYPTED PRIVATE KEY", "QUFBQUFB")).into(),
                Err(Problem::PrivateKey),
            ),
            (
                "a BEGIN line without its END line",
                cert.replace("-----END CERTIFICATE-----", "").into(),
                Err(Problem::Malformed { expected: PEM_END }),
            ),
            (
                "a BEGIN line cut short",
                "-----BEGIN CERTIFICATE--\nQUFB\n".into(),
                Err(Problem::Malformed {
                    expected: PEM_BEGIN,
                }),
            ),
            (
                "bad base64",
                block("CERTIFICATE", "!!!!").into(),
                Err(Problem::Malformed {
                    expected: PEM_BASE64,
                }),
            ),
        ];
        let mut failures = Vec::new();
        for (name, pem, expected) in &cases {
            let got = CaBundle::from_pem(pem);
            let ok = match (&got, expected) {
                (Ok(b), Ok(n)) => b.certificates().len() == *n,
                (Err(e), Err(p)) => e.input() == Input::CaCertificates && e.problem() == p,
                _ => false,
            };
            if !ok {
                failures.push(format!(
                    "{name}: {:?}, expected {expected:?}",
                    got.as_ref().map_err(|e| e.problem())
                ));
            }
            if let Err(e) = &got {
                let msg = e.to_string();
                if msg.contains("MII") || msg.contains("QUFB") || msg.contains('\n') {
                    failures.push(format!("{name}: the message echoes the bundle: {msg}"));
                }
            }
        }
        assert!(
            failures.is_empty(),
            "{} case(s) failed:\n{}",
            failures.len(),
            failures.join("\n")
        );

        let bundle = CaBundle::from_pem(cert.as_bytes()).unwrap();
        assert_eq!(bundle.certificates().next(), Some(ca.cert.der().as_ref()));
        assert_eq!(format!("{bundle:?}"), "CaBundle { certificates: 1 }");
        assert_eq!(
            format!("{:?}", TrustRoots::Only(bundle)),
            "Only(CaBundle { certificates: 1 })"
        );
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
        assert_eq!(config.endpoint().authority(), "kms.private:8443");
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
