//! The credential document that ECS metadata, CCE pod identity and IAM answer: see
//! [`parse_document`].

use std::error::Error as StdError;
use std::fmt;
use std::time::{Duration, SystemTime};

use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::AkSk;
use crate::input::{Input, InvalidInput};

/// The largest credential document accepted, in bytes (64 KiB). Real documents are 2 to
/// 6 KiB, mostly the security token; a larger body is refused before it is parsed.
///
/// Needs the `sources` feature (on by default).
pub const MAX_DOCUMENT_LEN: usize = 64 * 1024;

/// Temporary credentials read from a credential document: an AK/SK pair with its security
/// token attached, and the time they expire.
///
/// `Debug` redacts the SK and the security token.
///
/// Needs the `sources` feature (on by default).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TemporaryCredentials {
    aksk: AkSk,
    expires_at: SystemTime,
}

impl TemporaryCredentials {
    /// The AK/SK pair, with the security token attached.
    pub fn aksk(&self) -> &AkSk {
        &self.aksk
    }

    /// When the credentials expire.
    pub fn expires_at(&self) -> SystemTime {
        self.expires_at
    }

    /// The AK/SK pair (with its security token) and the expiry.
    pub fn into_parts(self) -> (AkSk, SystemTime) {
        (self.aksk, self.expires_at)
    }
}

/// A field of the credential document, named by its canonical (snake case) spelling.
///
/// Needs the `sources` feature (on by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DocumentField {
    /// The access key id: `access`, `accessKeyId` or `access_key_id`.
    Access,
    /// The secret access key: `secret`, `secretAccessKey` or `secret_access_key`.
    Secret,
    /// The security token: `securitytoken`, `securityToken` or `security_token`.
    SecurityToken,
    /// The expiry: `expires_at` or `expiration`.
    ExpiresAt,
}

impl DocumentField {
    /// The spellings accepted for this field, in the order they are tried.
    pub fn spellings(self) -> &'static [&'static str] {
        match self {
            DocumentField::Access => &["access", "accessKeyId", "access_key_id"],
            DocumentField::Secret => &["secret", "secretAccessKey", "secret_access_key"],
            DocumentField::SecurityToken => &["securitytoken", "securityToken", "security_token"],
            DocumentField::ExpiresAt => &["expires_at", "expiration"],
        }
    }

    /// What the field holds, as used in error messages.
    fn meaning(self) -> &'static str {
        match self {
            DocumentField::Access => "an access key id",
            DocumentField::Secret => "a secret access key",
            DocumentField::SecurityToken => "a security token",
            DocumentField::ExpiresAt => "an RFC 3339 time such as 2020-01-08T03:50:07.574000Z",
        }
    }
}

/// What was wrong with a credential document.
///
/// Needs the `sources` feature (on by default).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DocumentErrorKind {
    /// The body is larger than [`MAX_DOCUMENT_LEN`]; it was not parsed.
    TooLarge {
        /// Its length in bytes.
        len: usize,
        /// The largest length accepted, in bytes.
        max: usize,
    },
    /// The body is not JSON (the parser's error is the [`source`](StdError::source)).
    NotJson,
    /// The body, or its `credential`/`credentials` member, is not a JSON object.
    NotAnObject {
        /// `None` for the body itself, else the envelope key (`credential` or
        /// `credentials`).
        key: Option<&'static str>,
    },
    /// The field is absent, `null` or empty under every accepted spelling.
    Missing(DocumentField),
    /// The field is present but not a JSON string.
    NotAString {
        /// Which field.
        field: DocumentField,
        /// The spelling found in the document.
        key: &'static str,
    },
    /// The field's value was refused by [`AkSk`]; the [`InvalidInput`] is the
    /// [`source`](StdError::source).
    Invalid {
        /// Which field ([`Access`](DocumentField::Access), [`Secret`](DocumentField::Secret)
        /// or [`SecurityToken`](DocumentField::SecurityToken)).
        field: DocumentField,
        /// The spelling found in the document.
        key: &'static str,
    },
    /// The expiry is not an RFC 3339 time, or is one that cannot be a `SystemTime`; the
    /// parser's error, when there is one, is the [`source`](StdError::source).
    InvalidExpiry {
        /// The spelling found in the document.
        key: &'static str,
    },
}

/// A credential document that could not be read.
///
/// `Display` is one sentence naming the field that was wrong; neither it nor `Debug` ever
/// shows a value of the document (the SK and security token above all) or the body.
///
/// Needs the `sources` feature (on by default).
#[derive(Debug)]
pub struct DocumentError {
    kind: DocumentErrorKind,
    source: Option<Source>,
}

/// The underlying error. Each of them describes a position or a rule, never the input.
#[derive(Debug)]
enum Source {
    /// A syntax error: `serde_json` reports its line and column, not the text.
    Json(serde_json::Error),
    /// [`InvalidInput`] never echoes a secret.
    Input(InvalidInput),
    /// `time` names the component that failed, not the text.
    Time(time::error::Parse),
}

impl DocumentError {
    fn new(kind: DocumentErrorKind) -> Self {
        DocumentError { kind, source: None }
    }

    fn with_source(kind: DocumentErrorKind, source: Source) -> Self {
        DocumentError {
            kind,
            source: Some(source),
        }
    }

    /// What was wrong.
    pub fn kind(&self) -> &DocumentErrorKind {
        &self.kind
    }
}

impl fmt::Display for DocumentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            DocumentErrorKind::TooLarge { len, max } => write!(
                f,
                "the credential document is {len} bytes long, more than the {max} accepted"
            ),
            DocumentErrorKind::NotJson => f.write_str("the credential document is not JSON"),
            DocumentErrorKind::NotAnObject { key: None } => {
                f.write_str("the credential document is not a JSON object")
            }
            DocumentErrorKind::NotAnObject { key: Some(key) } => {
                write!(f, "the credential document's `{key}` is not a JSON object")
            }
            DocumentErrorKind::Missing(field) => match field.spellings() {
                [] => f.write_str("the credential document lacks a field"),
                [only] => write!(f, "the credential document has no `{only}`"),
                [first, middle @ .., last] => {
                    write!(f, "the credential document has no `{first}`")?;
                    for other in middle {
                        write!(f, ", `{other}`")?;
                    }
                    write!(f, " or `{last}`")
                }
            },
            DocumentErrorKind::NotAString { field, key } => write!(
                f,
                "the credential document's `{key}` is not a string holding {}",
                field.meaning()
            ),
            DocumentErrorKind::Invalid { field, key } => write!(
                f,
                "the credential document's `{key}` is not a valid {}",
                match field {
                    DocumentField::Access => "access key id",
                    DocumentField::Secret => "secret access key",
                    DocumentField::SecurityToken => "security token",
                    DocumentField::ExpiresAt => "expiry",
                }
            ),
            DocumentErrorKind::InvalidExpiry { key } => write!(
                f,
                "the credential document's `{key}` is not {}",
                DocumentField::ExpiresAt.meaning()
            ),
        }
    }
}

impl StdError for DocumentError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self.source.as_ref()? {
            Source::Json(e) => Some(e),
            Source::Input(e) => Some(e),
            Source::Time(e) => Some(e),
        }
    }
}

/// Reads a credential document: temporary AK/SK, security token and expiry, as the ECS
/// metadata service (`/openstack/latest/securitykey`), CCE pod identity and IAM
/// (`/v3.0/OS-CREDENTIAL/securitytokens`) answer it.
///
/// ```json
/// {"credential": {"access": "...", "secret": "...", "securitytoken": "...",
///                 "expires_at": "2020-01-08T03:50:07.574000Z"}}
/// ```
///
/// The spellings the official Python parser (`StsAccessor._process_credential`, 3.1.219)
/// accepts are accepted too: the envelope `credentials` instead of `credential` (or none: a
/// flat object), `accessKeyId`/`access_key_id`, `secretAccessKey`/`secret_access_key`,
/// `securityToken`/`security_token`, and `expiration` ([`DocumentField::spellings`]). For
/// each field the first spelling with a non-empty value wins, in that order; `null` and
/// `""` count as absent, as with Python's `or`. Unknown fields are ignored.
///
/// Unlike Python, which reads `expires_at` with `%Y-%m-%dT%H:%M:%S.%fZ` as local time, the
/// expiry is read as RFC 3339: `Z` or any offset, any number of fractional digits
/// (nanoseconds kept).
///
/// A security token is required: temporary credentials without one would be refused by
/// every service, so a document without one is an error here rather than there.
///
/// Nothing here ever prints a value of the document: secret values are validated by
/// [`AkSk`], whose errors never echo them, and JSON type mismatches are reported by field
/// name only.
///
/// # Errors
/// [`DocumentError`]: the body is larger than [`MAX_DOCUMENT_LEN`], is not a JSON object,
/// lacks a field, or holds a value [`AkSk`] refuses or an expiry that is not RFC 3339.
///
/// Needs the `sources` feature (on by default).
pub fn parse_document(body: &[u8]) -> Result<TemporaryCredentials, DocumentError> {
    if body.len() > MAX_DOCUMENT_LEN {
        return Err(DocumentError::new(DocumentErrorKind::TooLarge {
            len: body.len(),
            max: MAX_DOCUMENT_LEN,
        }));
    }
    // Parsed as a `Value`, not into a struct: serde's type-mismatch messages quote the
    // offending value, which could be a secret; a syntax error quotes nothing.
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| DocumentError::with_source(DocumentErrorKind::NotJson, Source::Json(e)))?;
    let top = value
        .as_object()
        .ok_or_else(|| DocumentError::new(DocumentErrorKind::NotAnObject { key: None }))?;
    // As Python: `credential` if present, else `credentials`, else the body itself.
    let fields = match ["credential", "credentials"]
        .into_iter()
        .find_map(|key| top.get(key).map(|v| (key, v)))
    {
        Some((key, v)) => v
            .as_object()
            .ok_or_else(|| DocumentError::new(DocumentErrorKind::NotAnObject { key: Some(key) }))?,
        None => top,
    };

    let (ak_key, ak) = field(fields, DocumentField::Access)?;
    let (sk_key, sk) = field(fields, DocumentField::Secret)?;
    let (token_key, token) = field(fields, DocumentField::SecurityToken)?;
    let (expiry_key, expiry) = field(fields, DocumentField::ExpiresAt)?;

    let invalid = |field, key| {
        move |e| {
            DocumentError::with_source(DocumentErrorKind::Invalid { field, key }, Source::Input(e))
        }
    };
    let aksk = AkSk::new(ak, sk)
        .map_err(|e| {
            if e.input() == Input::AccessKey {
                invalid(DocumentField::Access, ak_key)(e)
            } else {
                invalid(DocumentField::Secret, sk_key)(e)
            }
        })?
        .with_security_token(token)
        .map_err(invalid(DocumentField::SecurityToken, token_key))?;
    let expires_at = parse_expiry(expiry).map_err(|source| {
        let kind = DocumentErrorKind::InvalidExpiry { key: expiry_key };
        match source {
            Some(e) => DocumentError::with_source(kind, Source::Time(e)),
            None => DocumentError::new(kind),
        }
    })?;
    Ok(TemporaryCredentials { aksk, expires_at })
}

/// The first spelling of `field` with a non-empty string value, and that value.
fn field(
    fields: &Map<String, Value>,
    field: DocumentField,
) -> Result<(&'static str, &str), DocumentError> {
    for &key in field.spellings() {
        match fields.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) if s.is_empty() => {}
            Some(Value::String(s)) => return Ok((key, s)),
            Some(_) => {
                return Err(DocumentError::new(DocumentErrorKind::NotAString {
                    field,
                    key,
                }));
            }
        }
    }
    Err(DocumentError::new(DocumentErrorKind::Missing(field)))
}

/// An RFC 3339 time (IAM's `expires_at`), if it is one `SystemTime` can hold.
pub(crate) fn parse_time(text: &str) -> Option<SystemTime> {
    parse_expiry(text).ok()
}

/// An RFC 3339 time as a `SystemTime`; `Err(None)` when it is valid RFC 3339 but outside
/// what `SystemTime` can hold on this platform.
fn parse_expiry(text: &str) -> Result<SystemTime, Option<time::error::Parse>> {
    let at = OffsetDateTime::parse(text, &Rfc3339).map_err(Some)?;
    // `unix_timestamp` is floored, so the nanoseconds always count forward from it.
    let secs = at.unix_timestamp();
    let whole = if secs >= 0 {
        SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(secs.unsigned_abs()))
    } else {
        SystemTime::UNIX_EPOCH.checked_sub(Duration::from_secs(secs.unsigned_abs()))
    };
    whole
        .and_then(|t| t.checked_add(Duration::from_nanos(u64::from(at.nanosecond()))))
        .ok_or(None)
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )]

    use super::*;
    use proptest::prelude::*;

    const AK: &str = "QTWAOYTTINDUT2QVKYUC";
    const SK: &str = "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc";
    const TOKEN: &str = "gQpjbi1ub3J0aC00jD0DHxz0jGdfSecurityTokenExample";

    fn at(secs: u64, nanos: u32) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::new(secs, nanos)
    }

    /// 2020-01-08T03:50:07Z
    const T0: u64 = 1_578_455_407;

    #[test]
    fn reads_every_accepted_spelling() {
        let cases: &[(&str, String, SystemTime)] = &[
            (
                "metadata, snake case",
                format!(
                    r#"{{"credential":{{"access":"{AK}","secret":"{SK}","securitytoken":"{TOKEN}","expires_at":"2020-01-08T03:50:07.574000Z"}}}}"#
                ),
                at(T0, 574_000_000),
            ),
            (
                "plural envelope",
                format!(
                    r#"{{"credentials":{{"access":"{AK}","secret":"{SK}","securitytoken":"{TOKEN}","expires_at":"2020-01-08T03:50:07Z"}}}}"#
                ),
                at(T0, 0),
            ),
            (
                "camel case, flat",
                format!(
                    r#"{{"accessKeyId":"{AK}","secretAccessKey":"{SK}","securityToken":"{TOKEN}","expiration":"2020-01-08T03:50:07Z"}}"#
                ),
                at(T0, 0),
            ),
            (
                "camel case in an envelope",
                format!(
                    r#"{{"credential":{{"accessKeyId":"{AK}","secretAccessKey":"{SK}","securityToken":"{TOKEN}","expiration":"2020-01-08T03:50:07Z"}}}}"#
                ),
                at(T0, 0),
            ),
            (
                "python's snake-case aliases",
                format!(
                    r#"{{"credential":{{"access_key_id":"{AK}","secret_access_key":"{SK}","security_token":"{TOKEN}","expires_at":"2020-01-08T03:50:07Z"}}}}"#
                ),
                at(T0, 0),
            ),
            (
                "empty and null spellings fall through, unknown fields ignored",
                format!(
                    r#"{{"credential":{{"access":"","accessKeyId":"{AK}","secret":null,"secretAccessKey":"{SK}","securitytoken":"{TOKEN}","expires_at":"2020-01-08T03:50:07Z","user":{{"id":1}}}},"extra":[1,2]}}"#
                ),
                at(T0, 0),
            ),
            (
                "credential wins over credentials",
                format!(
                    r#"{{"credentials":42,"credential":{{"access":"{AK}","secret":"{SK}","securitytoken":"{TOKEN}","expires_at":"2020-01-08T03:50:07Z"}}}}"#
                ),
                at(T0, 0),
            ),
        ];
        for (name, body, expires) in cases {
            let creds =
                parse_document(body.as_bytes()).unwrap_or_else(|e| panic!("case {name:?}: {e}"));
            assert_eq!(creds.aksk().access_key(), AK, "case {name:?}");
            assert!(creds.aksk().has_security_token(), "case {name:?}");
            assert_eq!(
                creds.aksk().security_token().map(|(t, _)| t.expose()),
                Some(TOKEN),
                "case {name:?}"
            );
            assert_eq!(creds.expires_at(), *expires, "case {name:?}");
            let (aksk, when) = creds.clone().into_parts();
            assert_eq!(&aksk, creds.aksk(), "case {name:?}");
            assert_eq!(when, *expires, "case {name:?}");
        }
    }

    #[test]
    fn reads_expiry_with_any_precision_and_offset() {
        let cases: &[(&str, &str, SystemTime)] = &[
            ("0 digits", "2020-01-08T03:50:07Z", at(T0, 0)),
            ("1 digit", "2020-01-08T03:50:07.5Z", at(T0, 500_000_000)),
            ("3 digits", "2020-01-08T03:50:07.574Z", at(T0, 574_000_000)),
            (
                "6 digits",
                "2020-01-08T03:50:07.574000Z",
                at(T0, 574_000_000),
            ),
            (
                "9 digits",
                "2020-01-08T03:50:07.123456789Z",
                at(T0, 123_456_789),
            ),
            ("positive offset", "2020-01-08T11:50:07+08:00", at(T0, 0)),
            (
                "negative offset",
                "2020-01-07T22:50:07.25-05:00",
                at(T0, 250_000_000),
            ),
            ("zero offset", "2020-01-08T03:50:07+00:00", at(T0, 0)),
            ("lower-case t and z", "2020-01-08t03:50:07z", at(T0, 0)),
            ("epoch", "1970-01-01T00:00:00Z", at(0, 0)),
            // RFC 3339 puts no limit on the digits; `time` truncates to nanoseconds.
            (
                "10 digits",
                "2020-01-08T03:50:07.1234567891Z",
                at(T0, 123_456_789),
            ),
        ];
        for (name, expiry, expected) in cases {
            let body = format!(
                r#"{{"credential":{{"access":"{AK}","secret":"{SK}","securitytoken":"{TOKEN}","expires_at":"{expiry}"}}}}"#
            );
            let got = parse_document(body.as_bytes())
                .unwrap_or_else(|e| panic!("case {name:?}: {e}"))
                .expires_at();
            assert_eq!(got, *expected, "case {name:?}");
        }
    }

    #[test]
    fn refuses_bad_documents_naming_the_field() {
        let doc = |ak: &str, sk: &str, token: &str, exp: &str| {
            format!(
                r#"{{"credential":{{"access":{ak},"secret":{sk},"securitytoken":{token},"expires_at":{exp}}}}}"#
            )
        };
        let (ak, sk, tok, exp) = (
            format!("{AK:?}"),
            format!("{SK:?}"),
            format!("{TOKEN:?}"),
            "\"2020-01-08T03:50:07Z\"".to_owned(),
        );
        let big = format!(r#"{{"pad":"{}"}}"#, "x".repeat(MAX_DOCUMENT_LEN));
        let cases: Vec<(&str, String, DocumentErrorKind, &str)> = vec![
            (
                "too large",
                big.clone(),
                DocumentErrorKind::TooLarge {
                    len: big.len(),
                    max: MAX_DOCUMENT_LEN,
                },
                "the credential document is 65546 bytes long, more than the 65536 accepted",
            ),
            (
                "not json",
                "<html>502 Bad Gateway</html>".into(),
                DocumentErrorKind::NotJson,
                "the credential document is not JSON",
            ),
            (
                "empty body",
                String::new(),
                DocumentErrorKind::NotJson,
                "the credential document is not JSON",
            ),
            (
                "truncated",
                doc(&ak, &sk, &tok, &exp)[..40].into(),
                DocumentErrorKind::NotJson,
                "the credential document is not JSON",
            ),
            (
                "top level array",
                "[]".into(),
                DocumentErrorKind::NotAnObject { key: None },
                "the credential document is not a JSON object",
            ),
            (
                "credential is a string",
                format!(r#"{{"credential":{SK:?}}}"#),
                DocumentErrorKind::NotAnObject {
                    key: Some("credential"),
                },
                "the credential document's `credential` is not a JSON object",
            ),
            (
                "no access",
                doc("null", &sk, &tok, &exp),
                DocumentErrorKind::Missing(DocumentField::Access),
                "the credential document has no `access`, `accessKeyId` or `access_key_id`",
            ),
            (
                "empty secret",
                doc(&ak, "\"\"", &tok, &exp),
                DocumentErrorKind::Missing(DocumentField::Secret),
                "the credential document has no `secret`, `secretAccessKey` or `secret_access_key`",
            ),
            (
                "no security token",
                format!(r#"{{"credential":{{"access":{ak},"secret":{sk},"expires_at":{exp}}}}}"#),
                DocumentErrorKind::Missing(DocumentField::SecurityToken),
                "the credential document has no `securitytoken`, `securityToken` or `security_token`",
            ),
            (
                "no expiry",
                doc(&ak, &sk, &tok, "null"),
                DocumentErrorKind::Missing(DocumentField::ExpiresAt),
                "the credential document has no `expires_at` or `expiration`",
            ),
            (
                "secret is a number",
                doc(&ak, "12345678", &tok, &exp),
                DocumentErrorKind::NotAString {
                    field: DocumentField::Secret,
                    key: "secret",
                },
                "the credential document's `secret` is not a string holding a secret access key",
            ),
            (
                "expiry is a number",
                doc(&ak, &sk, &tok, "1578455407"),
                DocumentErrorKind::NotAString {
                    field: DocumentField::ExpiresAt,
                    key: "expires_at",
                },
                "the credential document's `expires_at` is not a string holding an RFC 3339 time such as 2020-01-08T03:50:07.574000Z",
            ),
            (
                "access with a comma",
                doc("\"AK,X\"", &sk, &tok, &exp),
                DocumentErrorKind::Invalid {
                    field: DocumentField::Access,
                    key: "access",
                },
                "the credential document's `access` is not a valid access key id",
            ),
            (
                "camel-case secret with a newline",
                format!(
                    r#"{{"accessKeyId":{ak},"secretAccessKey":"{SK}\n","securityToken":{tok},"expiration":{exp}}}"#
                ),
                DocumentErrorKind::Invalid {
                    field: DocumentField::Secret,
                    key: "secretAccessKey",
                },
                "the credential document's `secretAccessKey` is not a valid secret access key",
            ),
            (
                "security token with a space",
                doc(&ak, &sk, &format!("\"{TOKEN} x\""), &exp),
                DocumentErrorKind::Invalid {
                    field: DocumentField::SecurityToken,
                    key: "securitytoken",
                },
                "the credential document's `securitytoken` is not a valid security token",
            ),
            (
                "python's format without a zone",
                doc(&ak, &sk, &tok, "\"2020-01-08T03:50:07.574000\""),
                DocumentErrorKind::InvalidExpiry { key: "expires_at" },
                "the credential document's `expires_at` is not an RFC 3339 time such as 2020-01-08T03:50:07.574000Z",
            ),
            (
                "date only",
                doc(&ak, &sk, &tok, "\"2020-01-08\""),
                DocumentErrorKind::InvalidExpiry { key: "expires_at" },
                "the credential document's `expires_at` is not an RFC 3339 time such as 2020-01-08T03:50:07.574000Z",
            ),
        ];
        for (name, body, kind, message) in cases {
            let err = parse_document(body.as_bytes()).expect_err(name);
            assert_eq!(err.kind(), &kind, "case {name:?}");
            assert_eq!(err.to_string(), message, "case {name:?}");
            let has_source = matches!(
                kind,
                DocumentErrorKind::NotJson
                    | DocumentErrorKind::Invalid { .. }
                    | DocumentErrorKind::InvalidExpiry { .. }
            );
            assert_eq!(err.source().is_some(), has_source, "case {name:?}");
        }
    }

    /// Secrets that are themselves malformed, in every place a value can be wrong: neither
    /// the error nor its sources may show them.
    #[test]
    fn errors_never_show_a_secret_or_the_body() {
        let secret = "SeCrEt\u{7f}VaLuE";
        let token = "ToKeN VaLuE";
        let cases: &[(&str, String)] = &[
            (
                "malformed sk",
                format!(
                    r#"{{"credential":{{"access":"{AK}","secret":"{secret}","securitytoken":"{TOKEN}","expires_at":"2020-01-08T03:50:07Z"}}}}"#
                ),
            ),
            (
                "malformed token",
                format!(
                    r#"{{"credential":{{"access":"{AK}","secret":"{SK}","securitytoken":"{token}","expires_at":"2020-01-08T03:50:07Z"}}}}"#
                ),
            ),
            (
                "bad expiry after secrets",
                format!(
                    r#"{{"credential":{{"access":"{AK}","secret":"{secret}","securitytoken":"{token}","expires_at":"soon"}}}}"#
                ),
            ),
            (
                "credential is the secret",
                format!(r#"{{"credential":"{secret}"}}"#),
            ),
            ("body is the secret", format!(r#""{secret}""#)),
            (
                "syntax error after a secret",
                format!(r#"{{"secret":"{secret}" "#),
            ),
            (
                "bad expiry",
                format!(
                    r#"{{"credential":{{"access":"{AK}","secret":"{SK}","securitytoken":"{TOKEN}","expires_at":"{secret}"}}}}"#
                ),
            ),
        ];
        for (name, body) in cases {
            let err = parse_document(body.as_bytes()).expect_err(name);
            let mut shown = format!("{err} {err:?} {err:#?}");
            let mut source = err.source();
            while let Some(s) = source {
                shown.push_str(&format!(" {s} {s:?}"));
                source = s.source();
            }
            for needle in [secret, token, "SeCrEt", "ToKeN", SK, TOKEN, body.as_str()] {
                assert!(
                    !shown.contains(needle),
                    "case {name:?} shows {needle:?}: {shown}"
                );
            }
        }
    }

    #[test]
    fn debug_redacts_the_credentials() {
        let body = format!(
            r#"{{"credential":{{"access":"{AK}","secret":"{SK}","securitytoken":"{TOKEN}","expires_at":"2020-01-08T03:50:07Z"}}}}"#
        );
        let creds = parse_document(body.as_bytes()).unwrap();
        let shown = format!("{creds:?} {creds:#?}");
        assert!(!shown.contains(SK), "{shown}");
        assert!(!shown.contains(TOKEN), "{shown}");
        assert!(shown.contains(AK), "the AK is not secret: {shown}");
    }

    #[test]
    fn the_size_limit_is_inclusive() {
        let head = format!(
            r#"{{"credential":{{"access":"{AK}","secret":"{SK}","securitytoken":"{TOKEN}","expires_at":"2020-01-08T03:50:07Z"}},"pad":""#
        );
        let pad = MAX_DOCUMENT_LEN - head.len() - 2;
        let body = format!("{head}{}\"}}", "x".repeat(pad));
        assert_eq!(body.len(), MAX_DOCUMENT_LEN);
        assert!(parse_document(body.as_bytes()).is_ok());
        let longer = format!("{body} ");
        assert!(matches!(
            parse_document(longer.as_bytes()).unwrap_err().kind(),
            DocumentErrorKind::TooLarge { .. }
        ));
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(body in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse_document(&body);
        }

        #[test]
        fn never_panics_on_arbitrary_fields(
            ak in ".{0,40}", sk in ".{0,40}", token in ".{0,40}", exp in ".{0,40}",
        ) {
            let doc = serde_json::json!({"credential": {
                "access": ak, "secret": sk, "securitytoken": token, "expires_at": exp,
            }});
            let body = serde_json::to_vec(&doc).unwrap();
            if let Err(e) = parse_document(&body) {
                let shown = format!("{e} {e:?}");
                if sk.len() > 8 {
                    prop_assert!(!shown.contains(&sk));
                }
                if token.len() > 8 {
                    prop_assert!(!shown.contains(&token));
                }
            }
        }
    }
}
