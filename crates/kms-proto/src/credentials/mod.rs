//! Credentials: an IAM token, or an AK/SK pair with an optional security token; where they
//! come from ([`Provider`]: static, the environment, a profile file, KooCLI, CCE pod
//! identity, ECS metadata, or the default chain of them); and when to refresh them
//! ([`CredentialCache`]). Everything here is sans-IO: sources say which file to read or
//! which request to send ([`Need`]) and the transport does it.
//!
//! Secret values live in [`Secret`], whose `Debug` prints `[redacted]` and which has no
//! `Display`. Every value is validated when the credential is made, so a value that could
//! not travel in an HTTP header (CR, LF, other control bytes) never reaches the builder.

use std::fmt;

use crate::sign::{SigningAlgorithm, SigningKey};
use http::HeaderValue;

use crate::input::{Input, InvalidInput, Problem, check_chars, check_len};

mod cache;
mod error;
mod identity;
mod source;
pub(crate) mod variables;

pub use crate::backoff::Remembered;
pub use cache::{
    CacheStep, CredentialCache, MAX_CREDENTIAL_LIFETIME, MAX_SERVICE_CLOCK_OFFSET,
    MIN_CREDENTIAL_LIFETIME, RefreshPolicy, RefreshTicket,
};
pub use error::{CredentialError, FileProblem, SourceError};
pub use identity::{Identity, SourceKind};
pub(crate) use source::home;
pub use source::{
    DEFAULT_METADATA_ENDPOINT, DEFAULT_STS_ENDPOINT, ENV_CREDENTIALS_FILE, ENV_IAM_DOMAIN,
    ENV_IAM_PASSWORD, ENV_IAM_PASSWORD_FILE, ENV_IAM_USER, ENV_ID_TOKEN_FILE, ENV_IDP_ID,
    ENV_METADATA_ENDPOINT, ENV_OIDC_AGENCY_URN, ENV_OIDC_DURATION_SECONDS, ENV_OIDC_ID_TOKEN,
    ENV_OIDC_POLICY, ENV_OIDC_POLICY_IDS, ENV_OIDC_PROVIDER_URN, ENV_OIDC_SESSION_NAME,
    ENV_OIDC_TOKEN_FILE, ENV_POD_IDENTITY_TOKEN_FILE, ENV_POD_IDENTITY_URI, ENV_REGION,
    ENV_STS_ENDPOINT, FileRead, MAX_SOURCE_BODY, Need, Provider, REMOTE_TIMEOUT, Refresh,
    SOURCE_CONNECT_TIMEOUT, SourceRequest,
};

// The files and documents of the sources behind the `sources` feature.
#[cfg(feature = "sources")]
mod document;
#[cfg(feature = "sources")]
mod koocli;
#[cfg(feature = "sources")]
mod profile;

#[cfg(feature = "sources")]
pub use document::{
    DocumentError, DocumentErrorKind, DocumentField, MAX_DOCUMENT_LEN, TemporaryCredentials,
    parse_document,
};
#[cfg(feature = "sources")]
pub use koocli::{MAX_KOOCLI_LEN, parse_koocli};
#[cfg(feature = "sources")]
pub use profile::{
    MAX_PROFILE_LEN, Profile, ProfileError, ProfileErrorKind, ProfileSection, parse_profile,
};

/// A secret string. `Debug` prints `[redacted]`; there is no `Display` and no accessor
/// outside this crate, so a secret cannot end up in a log line by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Box<str>);

impl Secret {
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The largest token (IAM or security token) accepted, in bytes. PKI tokens run to a few
/// kilobytes; this leaves room without letting a wrong file become a megabyte header.
pub const MAX_TOKEN_LEN: usize = 32 * 1024;

/// An IAM user token, sent as `X-Auth-Token` (the value of `X-Subject-Token` that IAM
/// returns). The API document names this header; the official SDKs do not support it.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthToken {
    secret: Secret,
    /// The header value, made (and marked sensitive) once, cloned for every request.
    header: HeaderValue,
}

impl AuthToken {
    /// Validates a token: 1 to [`MAX_TOKEN_LEN`] bytes of printable ASCII with no spaces.
    ///
    /// # Errors
    /// [`InvalidInput`] with [`Input::AuthToken`]; the message never echoes the token.
    pub fn new(token: &str) -> Result<Self, InvalidInput> {
        check_token(Input::AuthToken, token)?;
        Ok(AuthToken {
            secret: Secret(token.into()),
            header: sensitive_header(Input::AuthToken, token)?,
        })
    }

    pub(crate) fn header(&self) -> &HeaderValue {
        &self.header
    }
}

impl fmt::Debug for AuthToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("AuthToken").field(&self.secret).finish()
    }
}

/// An access key id and secret access key, with the security token of temporary
/// credentials when there is one, and the [`SigningAlgorithm`] requests are signed with
/// (default `SDK-HMAC-SHA256`; [`with_algorithm`](Self::with_algorithm)).
///
/// The algorithm lives here, beside the SK, because its key is made from the SK (and, for
/// ECDSA and SM2, the AK) once per credential: refreshed credentials get their key made
/// when they are, and every request of the credential reuses it.
#[derive(Clone)]
pub struct AkSk {
    ak: Box<str>,
    sk: Secret,
    security_token: Option<(Secret, HeaderValue)>,
    /// The key of the algorithm, made once: every signature starts from it.
    key: SigningKey,
}

impl PartialEq for AkSk {
    fn eq(&self, other: &Self) -> bool {
        self.ak == other.ak
            && self.sk == other.sk
            && self.security_token.as_ref().map(|t| &t.0)
                == other.security_token.as_ref().map(|t| &t.0)
            && self.algorithm() == other.algorithm()
    }
}

impl Eq for AkSk {}

impl AkSk {
    /// The longest access key id accepted, in bytes.
    pub const MAX_AK_LEN: usize = 128;
    /// The longest secret key accepted, in bytes.
    pub const MAX_SK_LEN: usize = 1024;

    /// Validates a permanent AK/SK pair.
    ///
    /// The AK is 1 to [`MAX_AK_LEN`](Self::MAX_AK_LEN) printable ASCII characters other
    /// than `,`, `;` and `=` (which would break the `Authorization` header). The SK is 1 to
    /// [`MAX_SK_LEN`](Self::MAX_SK_LEN) bytes of any text without control characters or
    /// surrounding whitespace; it is only ever used as the HMAC key.
    ///
    /// # Errors
    /// [`InvalidInput`] naming the AK or SK; the message never echoes the SK.
    pub fn new(ak: &str, sk: &str) -> Result<Self, InvalidInput> {
        check_len(Input::AccessKey, ak, Self::MAX_AK_LEN)?;
        check_chars(
            Input::AccessKey,
            ak,
            "printable ASCII other than ',', ';' and '='",
            |c| c.is_ascii_graphic() && !matches!(c, ',' | ';' | '='),
        )?;
        check_len(Input::SecretKey, sk, Self::MAX_SK_LEN)?;
        check_trimmed(Input::SecretKey, sk)?;
        check_chars(
            Input::SecretKey,
            sk,
            "text without control characters",
            |c| !c.is_control(),
        )?;
        Ok(AkSk {
            ak: ak.into(),
            key: SigningKey::hmac_sha256(sk),
            sk: Secret(sk.into()),
            security_token: None,
        })
    }

    /// Adds the security token of temporary credentials, sent (and signed) as
    /// `X-Security-Token`.
    ///
    /// # Errors
    /// [`InvalidInput`] with [`Input::SecurityToken`], as for [`AuthToken::new`].
    pub fn with_security_token(mut self, token: &str) -> Result<Self, InvalidInput> {
        check_token(Input::SecurityToken, token)?;
        let header = sensitive_header(Input::SecurityToken, token)?;
        self.security_token = Some((Secret(token.into()), header));
        Ok(self)
    }

    /// The access key id. It is not a secret: it travels in clear in `Authorization`.
    pub fn access_key(&self) -> &str {
        &self.ak
    }

    /// Whether a security token is attached.
    pub fn has_security_token(&self) -> bool {
        self.security_token.is_some()
    }

    /// Signs with `algorithm` instead of the default `SDK-HMAC-SHA256`. For
    /// `SDK-ECDSA-P256-SHA256` and `SDK-SM2-SM3` this derives the key pair from the AK and
    /// SK, as the official signers do (about 0.1 ms, once).
    ///
    /// # Errors
    /// [`InvalidInput`] with [`Input::SecretKey`] in the practically impossible case that
    /// no key can be derived ([`KeyError`](crate::sign::KeyError)), or the algorithm is not
    /// in this build (its feature is off); with [`Input::SigningAlgorithm`] and
    /// [`Problem::RandomnessUnavailable`] if ECDSA finds no working random number generator.
    pub fn with_algorithm(mut self, algorithm: SigningAlgorithm) -> Result<Self, InvalidInput> {
        if algorithm != self.algorithm() {
            self.key = SigningKey::new(algorithm, &self.ak, self.sk.expose()).map_err(key_error)?;
        }
        Ok(self)
    }

    /// The algorithm requests are signed with.
    pub fn algorithm(&self) -> SigningAlgorithm {
        self.key.algorithm()
    }

    /// The SK, for the secrets a service's message is scrubbed of.
    pub(crate) fn secret_key(&self) -> &Secret {
        &self.sk
    }

    /// The key requests are signed with.
    pub(crate) fn signing_key(&self) -> &SigningKey {
        &self.key
    }

    /// The security token and its (sensitive) header value.
    pub(crate) fn security_token(&self) -> Option<(&Secret, &HeaderValue)> {
        self.security_token.as_ref().map(|(s, h)| (s, h))
    }
}

impl fmt::Debug for AkSk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AkSk")
            .field("ak", &&*self.ak)
            .field("sk", &self.sk)
            .field(
                "security_token",
                &self.security_token.as_ref().map(|t| &t.0),
            )
            .field("algorithm", &self.algorithm())
            .finish()
    }
}

/// How requests are authenticated.
#[derive(Clone, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum Credentials {
    /// An IAM token in `X-Auth-Token`.
    Token(AuthToken),
    /// Signing with an AK/SK pair, with its [`SigningAlgorithm`].
    AkSk(AkSk),
}

impl From<AuthToken> for Credentials {
    fn from(token: AuthToken) -> Self {
        Credentials::Token(token)
    }
}

impl From<AkSk> for Credentials {
    fn from(aksk: AkSk) -> Self {
        Credentials::AkSk(aksk)
    }
}

fn check_token(input: Input, token: &str) -> Result<(), InvalidInput> {
    check_len(input, token, MAX_TOKEN_LEN)?;
    check_trimmed(input, token)?;
    check_chars(input, token, "printable ASCII without spaces", |c| {
        c.is_ascii_graphic()
    })
}

impl Credentials {
    /// The secrets of a request made with these credentials: its secret headers, and the
    /// IAM token, or the SK and security token (the AK is not a secret).
    pub(crate) fn secrets_of_request(&self, headers: &http::HeaderMap) -> crate::redact::Secrets {
        let mut secrets = crate::redact::Secrets::new();
        secrets.add_headers(headers);
        match self {
            Credentials::Token(token) => secrets.add_header(token.header()),
            Credentials::AkSk(aksk) => {
                secrets.add(aksk.secret_key().expose());
                if let Some((_, header)) = aksk.security_token() {
                    secrets.add_header(header);
                }
            }
        }
        secrets
    }
}

/// A header value marked sensitive. The value was validated as printable ASCII already.
pub(crate) fn sensitive_header(input: Input, value: &str) -> Result<HeaderValue, InvalidInput> {
    let mut header = HeaderValue::from_str(value).map_err(|_| {
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

fn check_trimmed(input: Input, value: &str) -> Result<(), InvalidInput> {
    if value.trim() != value {
        return Err(InvalidInput::new(input, Problem::SurroundingWhitespace));
    }
    Ok(())
}

/// A signing key that was not made, or did not sign, as the input that caused it.
pub(crate) fn key_error(error: crate::sign::KeyError) -> InvalidInput {
    match error {
        crate::sign::KeyError::NotBuilt { algorithm, feature } => InvalidInput::new(
            Input::SigningAlgorithm,
            Problem::NotBuilt {
                algorithm: algorithm.as_str(),
                feature,
            },
        ),
        crate::sign::KeyError::DerivationFailed => InvalidInput::new(
            Input::SecretKey,
            Problem::Malformed {
                expected: "an AK/SK from which a signing key can be derived",
            },
        ),
        crate::sign::KeyError::Randomness => {
            InvalidInput::new(Input::SigningAlgorithm, Problem::RandomnessUnavailable)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SK: &str = "SKEXAMPLEsecretkey000000000000000000000";
    const TOKEN: &str = "MIIEhQYJKoZIhvcNAQcCoIIEdjCCBHICAQExDTALBglghkgBZQMEAgEwggKXBgkqhkiG";

    #[test]
    fn debug_never_prints_a_secret() {
        let creds: Vec<Credentials> = vec![
            AuthToken::new(TOKEN).unwrap().into(),
            AkSk::new("AKEXAMPLE", SK)
                .unwrap()
                .with_security_token("SECTOKEN123")
                .unwrap()
                .into(),
        ];
        for c in &creds {
            let shown = format!("{c:?} {c:#?}");
            for secret in [SK, TOKEN, "SECTOKEN123"] {
                assert!(!shown.contains(secret), "{shown}");
            }
            assert!(shown.contains("[redacted]"));
        }
        assert!(
            format!("{:?}", creds[1]).contains("AKEXAMPLE"),
            "the AK is not secret"
        );
    }

    #[test]
    fn refuses_values_that_cannot_be_headers_without_echoing_secrets() {
        let secret = "abc\r\nX-Injected: yes";
        for err in [
            AuthToken::new(secret).unwrap_err(),
            AkSk::new("AK", "sk")
                .unwrap()
                .with_security_token(secret)
                .unwrap_err(),
            AkSk::new("AK", secret).unwrap_err(),
        ] {
            assert_eq!(
                err.problem(),
                &Problem::InvalidChar {
                    ch: Some('\r'),
                    index: 3,
                    allowed: match err.input() {
                        Input::SecretKey => "text without control characters",
                        _ => "printable ASCII without spaces",
                    }
                }
            );
            let shown = format!("{err} {err:?}");
            assert!(!shown.contains("Injected"), "{shown}");
        }
        let err = AuthToken::new("tøken").unwrap_err();
        assert!(matches!(
            err.problem(),
            Problem::InvalidChar {
                ch: None,
                index: 1,
                ..
            }
        ));
        assert!(!err.to_string().contains('ø'));
    }

    #[test]
    fn refuses_empty_padded_and_oversized_values() {
        assert_eq!(AuthToken::new("").unwrap_err().problem(), &Problem::Empty);
        assert_eq!(
            AuthToken::new("tok\n").unwrap_err().problem(),
            &Problem::SurroundingWhitespace
        );
        assert_eq!(
            AkSk::new("AK", " sk").unwrap_err().problem(),
            &Problem::SurroundingWhitespace
        );
        assert_eq!(AkSk::new("", "sk").unwrap_err().input(), Input::AccessKey);
        assert_eq!(
            AkSk::new("A,K", "sk").unwrap_err().input(),
            Input::AccessKey
        );
        assert!(matches!(
            AuthToken::new(&"t".repeat(MAX_TOKEN_LEN + 1))
                .unwrap_err()
                .problem(),
            Problem::TooLong { .. }
        ));
    }

    #[test]
    fn a_non_ascii_sk_is_fine() {
        // The official signer keys HMAC with the SK's UTF-8 bytes; see the `unicode-sk` vector.
        assert!(AkSk::new("AK1", "密钥sk").is_ok());
    }
}
