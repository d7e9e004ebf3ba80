//! The error every validating constructor returns: which input was refused and why.

use std::fmt;

/// Which input a validating constructor refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Input {
    /// A [`ProjectId`](crate::ProjectId).
    ProjectId,
    /// A [`Region`](crate::Region).
    Region,
    /// An [`Endpoint`](crate::Endpoint) URL.
    Endpoint,
    /// The access key id of [`AkSk`](crate::AkSk) credentials.
    AccessKey,
    /// The secret access key of [`AkSk`](crate::AkSk) credentials.
    SecretKey,
    /// The security token of temporary [`AkSk`](crate::AkSk) credentials.
    SecurityToken,
    /// An IAM [`AuthToken`](crate::AuthToken).
    AuthToken,
    /// Text appended to the `User-Agent` header.
    UserAgent,
    /// The signing time passed to the request builder.
    SigningTime,
    /// An HTTP proxy URL.
    Proxy,
    /// A bundle of CA certificates (PEM) to trust.
    CaCertificates,
    /// The ECS metadata service's base URL (`HUAWEICLOUD_SDK_METADATA_ENDPOINT`).
    MetadataEndpoint,
    /// The session token the ECS metadata service issued.
    MetadataToken,
    /// The CCE pod identity URL (`HC_CONTAINER_CREDENTIALS_FULL_URI`).
    PodIdentityUri,
    /// The CCE pod identity token (`HC_CONTAINER_AUTHORIZATION_TOKEN_FILE`'s contents).
    PodIdentityToken,
    /// An OIDC identity token (for IAM federation or STS).
    IdToken,
    /// An IAM user's password.
    Password,
    /// A setting of a credential source (an IAM user or domain name, an identity
    /// provider id, an STS duration...).
    SourceSetting,
    /// A signing algorithm's name (`HUAWEICLOUD_SDK_SIGNING_ALGORITHM`, say).
    SigningAlgorithm,
}

impl Input {
    /// A short human name, as used in error messages.
    pub fn name(self) -> &'static str {
        match self {
            Input::ProjectId => "project id",
            Input::Region => "region",
            Input::Endpoint => "endpoint",
            Input::AccessKey => "access key id (AK)",
            Input::SecretKey => "secret access key (SK)",
            Input::SecurityToken => "security token",
            Input::AuthToken => "IAM auth token",
            Input::UserAgent => "user agent text",
            Input::SigningTime => "signing time",
            Input::Proxy => "proxy URL",
            Input::CaCertificates => "CA certificate bundle",
            Input::MetadataEndpoint => "metadata endpoint URL",
            Input::MetadataToken => "metadata session token",
            Input::PodIdentityUri => "pod identity URL",
            Input::PodIdentityToken => "pod identity token",
            Input::IdToken => "OIDC identity token",
            Input::Password => "IAM password",
            Input::SourceSetting => "credential source setting",
            Input::SigningAlgorithm => "signing algorithm",
        }
    }

    /// Whether the input is a secret whose characters must never be echoed.
    pub fn is_secret(self) -> bool {
        matches!(
            self,
            Input::SecretKey
                | Input::SecurityToken
                | Input::AuthToken
                | Input::MetadataToken
                | Input::PodIdentityToken
                | Input::IdToken
                | Input::Password
        )
    }
}

/// What was wrong with a refused input.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// The value is empty.
    Empty,
    /// The value is longer than allowed.
    TooLong {
        /// Its length in bytes.
        len: usize,
        /// The largest length allowed, in bytes.
        max: usize,
    },
    /// The value contains a character that is not allowed where it is.
    ///
    /// For secrets, `ch` is only reported when it is a control character; any other
    /// character of a secret is reported as `None` so that no part of it is echoed.
    InvalidChar {
        /// The character, unless echoing it would reveal part of a secret.
        ch: Option<char>,
        /// Its byte offset in the value.
        index: usize,
        /// What the value may contain instead.
        allowed: &'static str,
    },
    /// The value starts or ends with whitespace, which HTTP would silently strip.
    SurroundingWhitespace,
    /// The value does not have the required shape.
    Malformed {
        /// What shape was expected.
        expected: &'static str,
    },
    /// The endpoint is not an absolute `http`/`https` URL.
    NotAUrl,
    /// The endpoint's scheme is neither `https` nor `http`.
    UnsupportedScheme(String),
    /// The endpoint carries `user:password@`, which would leak into logs and proxies.
    HasUserinfo,
    /// The endpoint carries a `?query`.
    HasQuery,
    /// The endpoint carries a `#fragment`.
    HasFragment,
    /// The endpoint uses plain `http` to a host that is not loopback, without the opt-in.
    InsecureHttp,
    /// The endpoint's host is not a DNS name or an IP address.
    InvalidHost(String),
    /// The endpoint's port is not a number from 1 to 65535.
    InvalidPort(String),
    /// A segment of the endpoint's base path is not allowed.
    InvalidPathSegment(String),
    /// An endpoint is listed twice (after the host is folded to lower case and a default
    /// port dropped).
    DuplicateEndpoint(String),
    /// A list names more endpoints than a client tries.
    TooManyEndpoints {
        /// The most allowed ([`MAX_ENDPOINTS`](crate::MAX_ENDPOINTS)).
        max: usize,
    },
    /// An entry of a comma-separated list of endpoints is empty (`a,,b`, a trailing comma).
    EmptyListEntry {
        /// Which entry, counting from 1.
        entry: usize,
    },
    /// The time is before 1970 or after 9999 and cannot be written as `X-Sdk-Date`.
    TimeOutOfRange,
    /// A `%` that does not start an escape of two hex digits (`%ZZ`, `%4` at the end).
    InvalidEscape {
        /// The byte offset of the `%` in the value.
        index: usize,
    },
    /// The proxy's user name holds a `:` (written `%3A`), which Basic authentication
    /// cannot carry: the proxy would split the name there (RFC 7617, section 2).
    ColonInUser,
    /// A CA bundle holds no PEM `CERTIFICATE` block.
    NoCertificate,
    /// A PEM `CERTIFICATE` block of a CA bundle is not a certificate that rustls accepts
    /// as a trust anchor.
    NotACertificate {
        /// Which `CERTIFICATE` block, counting from 1.
        index: usize,
    },
    /// A CA bundle holds a private key, which has no place among trusted certificates.
    PrivateKey,
    /// A credential service's URL (ECS metadata, CCE pod identity) uses plain `http` to a
    /// host that is neither loopback nor link-local: the token sent and the credentials
    /// answered would cross the network in clear text.
    InsecureCredentialService {
        /// The URL's host.
        host: String,
    },
    /// The operating system's random number generator failed, and the signing algorithm
    /// (`SDK-ECDSA-P256-SHA256`) needs it for every key and signature.
    RandomnessUnavailable,
    /// Something asked for is not in this build (a signing algorithm, reading a CA
    /// bundle): kms-proto was built without the cargo feature it needs.
    NotBuilt {
        /// What was asked for: an algorithm's wire name, or what the feature does.
        algorithm: &'static str,
        /// kms-proto's feature that brings it.
        feature: &'static str,
    },
}

/// A value refused by a validating constructor: which input, and what was wrong with it.
///
/// `Display` is one sentence that says what to do; it never echoes a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidInput {
    input: Input,
    problem: Problem,
    origin: Option<String>,
}

impl InvalidInput {
    /// An error for `input`; for transports that validate inputs of their own (a PEM bundle).
    pub fn new(input: Input, problem: Problem) -> Self {
        InvalidInput {
            input,
            problem,
            origin: None,
        }
    }

    /// Records where the value came from (for example an environment variable's name).
    #[must_use]
    pub fn with_origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = Some(origin.into());
        self
    }

    /// Which input was refused.
    pub fn input(&self) -> Input {
        self.input
    }

    /// What was wrong with it.
    pub fn problem(&self) -> &Problem {
        &self.problem
    }

    /// Where the value came from, when it was not passed directly (for example
    /// `HUAWEICLOUD_SDK_REGION_KMS_CN_NORTH_4`).
    pub fn origin(&self) -> Option<&str> {
        self.origin.as_deref()
    }
}

impl fmt::Display for InvalidInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {}", self.input.name())?;
        if let Some(origin) = &self.origin {
            write!(f, " (from {origin})")?;
        }
        f.write_str(": ")?;
        match &self.problem {
            Problem::Empty => f.write_str("it is empty"),
            Problem::TooLong { len, max } => {
                write!(f, "it is {len} bytes long, at most {max} are allowed")
            }
            Problem::InvalidChar { ch, index, allowed } => {
                match ch {
                    Some(c) if c.is_control() || !c.is_ascii() => {
                        write!(f, "character U+{:04X} at byte {index}", *c as u32)?
                    }
                    Some(c) => write!(f, "character {c:?} at byte {index}")?,
                    None => write!(f, "a character at byte {index}")?,
                }
                write!(f, " is not allowed; use {allowed}")
            }
            Problem::SurroundingWhitespace => {
                f.write_str("it starts or ends with whitespace; trim it")
            }
            Problem::Malformed { expected } => write!(f, "expected {expected}"),
            Problem::NotAUrl => {
                f.write_str("expected an absolute URL such as https://kms.example.com[:port][/base]")
            }
            Problem::UnsupportedScheme(s) => {
                write!(f, "scheme {s:?} is not supported; use https (or http to loopback)")
            }
            Problem::HasUserinfo => f.write_str(
                "it contains user:password@, which would leak credentials; remove it",
            ),
            Problem::HasQuery => f.write_str("it contains a ?query; remove it"),
            Problem::HasFragment => f.write_str("it contains a #fragment; remove it"),
            Problem::InsecureHttp => f.write_str(
                "plain http is only allowed to loopback hosts; use https, or opt in to insecure http explicitly",
            ),
            Problem::InvalidHost(h) => write!(
                f,
                "host {h:?} is not a DNS name (ASCII letters, digits, '-' and '.'; use punycode for IDNs) or an IP address"
            ),
            Problem::InvalidPort(p) => {
                write!(f, "port {p:?} is not a number from 1 to 65535")
            }
            Problem::InvalidPathSegment(s) => write!(
                f,
                "base path segment {s:?} is not allowed; use ASCII letters, digits, '-', '_', '.', '~' (no empty, '.' or '..' segments)"
            ),
            Problem::DuplicateEndpoint(endpoint) => write!(
                f,
                "it lists {endpoint} twice; list each endpoint once, in the order to try them"
            ),
            Problem::TooManyEndpoints { max } => write!(
                f,
                "it lists more than {max} endpoints; list the few a client should try, in order"
            ),
            Problem::EmptyListEntry { entry } => write!(
                f,
                "entry {entry} of its comma-separated list is empty; remove the extra ','"
            ),
            Problem::TimeOutOfRange => f.write_str(
                "it is before 1970 or after 9999; check the system clock",
            ),
            Problem::InvalidEscape { index } => write!(
                f,
                "the '%' at byte {index} does not start an escape of two hex digits; write a literal '%' as %25"
            ),
            Problem::ColonInUser => f.write_str(
                "the user name contains ':' (%3A), which Basic authentication cannot carry; use a user name without one",
            ),
            Problem::NoCertificate => f.write_str(
                "it holds no PEM \"CERTIFICATE\" block; pass the CA's certificates in PEM",
            ),
            Problem::NotACertificate { index } => write!(
                f,
                "PEM \"CERTIFICATE\" block {index} (counting from 1) is not an X.509 certificate that can be trusted; check it is the CA's certificate"
            ),
            Problem::PrivateKey => f.write_str(
                "it holds a private key, which a CA bundle never needs; pass only the CA's certificates, and keep the key where it was",
            ),
            Problem::InsecureCredentialService { host } => write!(
                f,
                "plain http to {host:?} would carry the token and the credentials in clear text; \
                 plain http is allowed only to this machine (localhost, 127.0.0.0/8, ::1) and \
                 link-local addresses (169.254.0.0/16, fe80::/10), where ECS metadata and node \
                 agents answer: use https, or the address the platform set"
            ),
            Problem::RandomnessUnavailable => f.write_str(
                "the operating system's random number generator failed, and SDK-ECDSA-P256-SHA256 needs it for every signature: allow getrandom(2) or /dev/urandom to this process, or sign with another algorithm",
            ),
            Problem::NotBuilt { algorithm, feature } => write!(
                f,
                "{algorithm} is not in this build of kms-proto: turn on its `{feature}` feature"
            ),
        }
    }
}

impl std::error::Error for InvalidInput {}

/// Finds the first character of `value` that `ok` refuses, as a [`Problem`].
///
/// For secrets only control characters are named; anything else would echo a piece of it.
pub(crate) fn check_chars(
    input: Input,
    value: &str,
    allowed: &'static str,
    ok: impl Fn(char) -> bool,
) -> Result<(), InvalidInput> {
    match value.char_indices().find(|&(_, c)| !ok(c)) {
        None => Ok(()),
        Some((index, c)) => {
            let ch = (!input.is_secret() || c.is_control()).then_some(c);
            Err(InvalidInput::new(
                input,
                Problem::InvalidChar { ch, index, allowed },
            ))
        }
    }
}

/// Refuses an empty value and one longer than `max` bytes.
pub(crate) fn check_len(input: Input, value: &str, max: usize) -> Result<(), InvalidInput> {
    if value.is_empty() {
        return Err(InvalidInput::new(input, Problem::Empty));
    }
    if value.len() > max {
        return Err(InvalidInput::new(
            input,
            Problem::TooLong {
                len: value.len(),
                max,
            },
        ));
    }
    Ok(())
}
