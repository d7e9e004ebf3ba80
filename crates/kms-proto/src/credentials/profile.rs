//! The official SDKs' profile file (`~/.huaweicloud/credentials`): see [`parse_profile`].
//! [`Profile`] and [`ProfileError`] serve the KooCLI config file too.

use std::collections::HashSet;
use std::error::Error as StdError;
use std::fmt;
use std::path::{Path, PathBuf};

use super::{AkSk, Credentials};
use crate::input::{Input, InvalidInput, ProjectId, Region};

/// The largest profile file accepted, in bytes (1 MiB).
///
/// Needs the `sources` feature (on by default).
pub const MAX_PROFILE_LEN: usize = 1024 * 1024;

/// A section of the profile file: the credential type.
///
/// Needs the `sources` feature (on by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ProfileSection {
    /// `[basic]`: credentials for project-scoped services, KMS among them. The default.
    #[default]
    Basic,
    /// `[global]`: credentials for domain-scoped (global) services.
    Global,
}

impl ProfileSection {
    /// The section's name as written in the file, in lower case: `basic` or `global`.
    pub fn name(self) -> &'static str {
        match self {
            ProfileSection::Basic => "basic",
            ProfileSection::Global => "global",
        }
    }
}

/// Validated settings read from a profile file (or a KooCLI profile): credentials, project,
/// region and the values the federated (OIDC) and IAM sources need.
///
/// Every value was checked when the profile was parsed, so the getters cannot fail.
/// `Debug` redacts the SK and the security token.
///
/// Needs the `sources` feature (on by default).
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Profile {
    pub(super) aksk: Option<AkSk>,
    pub(super) project_id: Option<ProjectId>,
    pub(super) region: Option<Region>,
    pub(super) domain_id: Option<Box<str>>,
    pub(super) iam_endpoint: Option<Box<str>>,
    pub(super) idp_id: Option<Box<str>>,
    pub(super) id_token_file: Option<Box<str>>,
}

impl Profile {
    /// The AK/SK pair (with the security token, when one is set), if `ak` and `sk` are set.
    pub fn aksk(&self) -> Option<&AkSk> {
        self.aksk.as_ref()
    }

    /// [`aksk`](Self::aksk) as [`Credentials`].
    pub fn credentials(&self) -> Option<Credentials> {
        self.aksk.clone().map(Credentials::AkSk)
    }

    /// `project_id`.
    pub fn project_id(&self) -> Option<&ProjectId> {
        self.project_id.as_ref()
    }

    /// `region` (not an official key: this client's addition).
    pub fn region(&self) -> Option<&Region> {
        self.region.as_ref()
    }

    /// `domain_id`: ASCII letters, digits, `-` and `_`, at most 64 bytes.
    pub fn domain_id(&self) -> Option<&str> {
        self.domain_id.as_deref()
    }

    /// `iam_endpoint`: an `https://` or `http://` URL (printable ASCII, no spaces), at most
    /// 2048 bytes. It is not otherwise checked here.
    pub fn iam_endpoint(&self) -> Option<&str> {
        self.iam_endpoint.as_deref()
    }

    /// `idp_id`, the identity provider of OIDC federation: printable ASCII without spaces,
    /// at most 256 bytes. Set only together with [`id_token_file`](Self::id_token_file).
    pub fn idp_id(&self) -> Option<&str> {
        self.idp_id.as_deref()
    }

    /// `id_token_file`, the path of the OIDC id token: text without control characters, at
    /// most 4096 bytes. Set only together with [`idp_id`](Self::idp_id).
    pub fn id_token_file(&self) -> Option<&str> {
        self.id_token_file.as_deref()
    }

    /// Whether nothing at all is set.
    pub fn is_empty(&self) -> bool {
        *self == Profile::default()
    }
}

/// What was wrong with a profile file or a KooCLI config file.
///
/// Line numbers count from 1. Key names are those of the file (`sk`, `secretAccessKey`).
///
/// Needs the `sources` feature (on by default).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProfileErrorKind {
    /// The file is larger than allowed ([`MAX_PROFILE_LEN`],
    /// [`MAX_KOOCLI_LEN`](super::MAX_KOOCLI_LEN)).
    TooLarge {
        /// Its length in bytes.
        len: usize,
        /// The largest length accepted, in bytes.
        max: usize,
    },
    /// The file is not UTF-8.
    NotUtf8 {
        /// The line holding the first byte that is not UTF-8.
        line: usize,
    },
    /// A line is neither a `[section]` header, a `key = value` pair, a comment nor blank.
    Syntax {
        /// The line.
        line: usize,
    },
    /// A `key = value` line comes before any `[section]` header.
    OutsideSection {
        /// The line.
        line: usize,
    },
    /// A key appears a second time in the same section.
    Duplicate {
        /// The line of the second one.
        line: usize,
        /// The key, in lower case.
        key: String,
    },
    /// A section appears a second time.
    DuplicateSection {
        /// The line of the second header.
        line: usize,
        /// The section, in lower case.
        section: String,
    },
    /// The file has no section of the credential type asked for.
    MissingSection(ProfileSection),
    /// A key is set without the key it goes with (`ak` without `sk`, `security_token`
    /// without `ak` and `sk`, `idp_id` without `id_token_file`...).
    Incomplete {
        /// The key that is set.
        present: &'static str,
        /// The key that is missing.
        missing: &'static str,
    },
    /// A value was refused by its validating constructor ([`AkSk`], [`ProjectId`],
    /// [`Region`]); the [`InvalidInput`] is also the [`source`](StdError::source).
    Invalid {
        /// The line, when the file has lines that matter (not in a KooCLI file).
        line: Option<usize>,
        /// The key.
        key: &'static str,
        /// Why the value was refused. It never echoes a secret.
        error: InvalidInput,
    },
    /// A value does not have the expected shape.
    Malformed {
        /// The line, when the file has lines that matter (not in a KooCLI file).
        line: Option<usize>,
        /// The key.
        key: &'static str,
        /// What was expected.
        expected: &'static str,
    },
    /// A KooCLI config file is not JSON, or not the shape KooCLI writes; the parser's error,
    /// when there is one, is the [`source`](StdError::source).
    NotKooCli {
        /// What was expected, such as "a JSON object with a `profiles` list".
        expected: &'static str,
    },
    /// No profile was named and the KooCLI config's `current` is not set.
    NoCurrentProfile,
    /// The KooCLI config has no profile of that name.
    ProfileNotFound {
        /// The name asked for.
        name: String,
        /// The names of the profiles the file has, in its order.
        available: Vec<String>,
    },
    /// The KooCLI profile authenticates in a mode this client does not support.
    UnsupportedMode {
        /// The profile's name.
        profile: String,
        /// Its `mode`, such as `SSO` or `ecsAgency`.
        mode: String,
    },
    /// The KooCLI profile's keys are encrypted (KooCLI's default), so they cannot be used
    /// outside KooCLI.
    Encrypted {
        /// The profile's name.
        profile: String,
    },
}

/// A profile file or KooCLI config file that could not be used.
///
/// `Display` is one sentence, prefixed with the file's path when
/// [`with_path`](Self::with_path) gave one. Neither it nor `Debug` shows a value of the
/// file: values may be secrets.
///
/// Needs the `sources` feature (on by default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileError(Box<Inner>);

/// Boxed: a `Result` carrying the error stays small.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Inner {
    kind: ProfileErrorKind,
    path: Option<PathBuf>,
    /// The JSON parser's message for [`ProfileErrorKind::NotKooCli`]: a syntax error
    /// (position only, never text).
    json: Option<JsonError>,
}

/// A `serde_json` syntax error kept as text, so that [`ProfileError`] stays `Clone` and
/// `PartialEq`. The text of a syntax error names a position, never the input.
#[derive(Debug, Clone, PartialEq, Eq)]
struct JsonError(String);

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl StdError for JsonError {}

impl ProfileError {
    pub(super) fn new(kind: ProfileErrorKind) -> Self {
        ProfileError(Box::new(Inner {
            kind,
            path: None,
            json: None,
        }))
    }

    pub(super) fn not_json(expected: &'static str, error: &serde_json::Error) -> Self {
        ProfileError(Box::new(Inner {
            kind: ProfileErrorKind::NotKooCli { expected },
            path: None,
            json: Some(JsonError(error.to_string())),
        }))
    }

    /// Records the file's path, which `Display` then names.
    #[must_use]
    pub fn with_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.0.path = Some(path.into());
        self
    }

    /// What was wrong.
    pub fn kind(&self) -> &ProfileErrorKind {
        &self.0.kind
    }

    /// The file's path, when [`with_path`](Self::with_path) gave one.
    pub fn path(&self) -> Option<&Path> {
        self.0.path.as_deref()
    }
}

impl fmt::Display for ProfileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(path) = &self.0.path {
            write!(f, "{}: ", path.display())?;
        }
        let at = |line: &Option<usize>| match line {
            Some(line) => format!("line {line}: "),
            None => String::new(),
        };
        match &self.0.kind {
            ProfileErrorKind::TooLarge { len, max } => {
                write!(
                    f,
                    "the file is {len} bytes long, more than the {max} accepted"
                )
            }
            ProfileErrorKind::NotUtf8 { line } => {
                write!(f, "line {line} is not UTF-8 text; save the file as UTF-8")
            }
            ProfileErrorKind::Syntax { line } => write!(
                f,
                "line {line} is neither a [section] header, a `key = value` pair nor a comment"
            ),
            ProfileErrorKind::OutsideSection { line } => write!(
                f,
                "line {line} sets a key before any [section] header; put it under [basic] or [global]"
            ),
            ProfileErrorKind::Duplicate { line, key } => write!(
                f,
                "line {line} sets {key:?} a second time in its section; keep one"
            ),
            ProfileErrorKind::DuplicateSection { line, section } => write!(
                f,
                "line {line} opens section [{}] a second time; merge the two",
                section.escape_debug()
            ),
            ProfileErrorKind::MissingSection(section) => {
                write!(f, "there is no [{}] section", section.name())
            }
            ProfileErrorKind::Incomplete { present, missing } => {
                write!(f, "`{present}` is set but `{missing}` is not; set both")
            }
            ProfileErrorKind::Invalid { line, key, error } => write!(
                f,
                "{}`{key}` is not a valid {}",
                at(line),
                error.input().name()
            ),
            ProfileErrorKind::Malformed {
                line,
                key,
                expected,
            } => write!(f, "{}`{key}` is not {expected}", at(line)),
            ProfileErrorKind::NotKooCli { expected } => {
                write!(f, "this is not a KooCLI config file: expected {expected}")
            }
            ProfileErrorKind::NoCurrentProfile => f.write_str(
                "no profile was named and the KooCLI config's `current` is not set; name one",
            ),
            ProfileErrorKind::ProfileNotFound { name, available } => {
                write!(f, "there is no profile named {name:?}; ")?;
                match available.as_slice() {
                    [] => f.write_str("the file has none"),
                    names => {
                        f.write_str("the file has ")?;
                        for (i, n) in names.iter().enumerate() {
                            let sep = if i == 0 { "" } else { ", " };
                            write!(f, "{sep}{n:?}")?;
                        }
                        Ok(())
                    }
                }
            }
            ProfileErrorKind::UnsupportedMode { profile, mode } => write!(
                f,
                "profile {profile:?} uses mode {mode:?}; only AKSK profiles are supported"
            ),
            ProfileErrorKind::Encrypted { profile } => write!(
                f,
                "profile {profile:?} holds keys KooCLI encrypted, which only KooCLI can read; \
                 run `hcloud configure set --cli-auth-encrypt=false` and set the keys again"
            ),
        }
    }
}

impl StdError for ProfileError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match &self.0.kind {
            ProfileErrorKind::Invalid { error, .. } => Some(error),
            _ => self.0.json.as_ref().map(|e| e as &(dyn StdError + 'static)),
        }
    }
}

/// The raw values of one section, before validation: `(line, value)` per key.
#[derive(Default)]
pub(super) struct RawProfile<'a> {
    pub(super) ak: Option<(Option<usize>, &'a str)>,
    pub(super) sk: Option<(Option<usize>, &'a str)>,
    pub(super) security_token: Option<(Option<usize>, &'a str)>,
    pub(super) project_id: Option<(Option<usize>, &'a str)>,
    pub(super) region: Option<(Option<usize>, &'a str)>,
    pub(super) domain_id: Option<(Option<usize>, &'a str)>,
    pub(super) iam_endpoint: Option<(Option<usize>, &'a str)>,
    pub(super) idp_id: Option<(Option<usize>, &'a str)>,
    pub(super) id_token_file: Option<(Option<usize>, &'a str)>,
}

/// The names a [`RawProfile`]'s values go by in the file, for error messages.
pub(super) struct KeyNames {
    pub(super) ak: &'static str,
    pub(super) sk: &'static str,
    pub(super) security_token: &'static str,
    pub(super) project_id: &'static str,
    pub(super) region: &'static str,
    pub(super) domain_id: &'static str,
}

impl KeyNames {
    const PROFILE: KeyNames = KeyNames {
        ak: "ak",
        sk: "sk",
        security_token: "security_token",
        project_id: "project_id",
        region: "region",
        domain_id: "domain_id",
    };
}

impl RawProfile<'_> {
    /// Validates every value (empty ones were left out already).
    pub(super) fn validate(self, names: &KeyNames) -> Result<Profile, ProfileError> {
        let invalid = |line, key| {
            move |error| ProfileError::new(ProfileErrorKind::Invalid { line, key, error })
        };
        let aksk = match (self.ak, self.sk) {
            (Some((ak_line, ak)), Some((sk_line, sk))) => {
                let aksk = AkSk::new(ak, sk).map_err(|e| {
                    if e.input() == Input::AccessKey {
                        invalid(ak_line, names.ak)(e)
                    } else {
                        invalid(sk_line, names.sk)(e)
                    }
                })?;
                Some(match self.security_token {
                    Some((line, token)) => aksk
                        .with_security_token(token)
                        .map_err(invalid(line, names.security_token))?,
                    None => aksk,
                })
            }
            (Some(_), None) => return Err(incomplete(names.ak, names.sk)),
            (None, Some(_)) => return Err(incomplete(names.sk, names.ak)),
            (None, None) => match self.security_token {
                Some(_) => return Err(incomplete(names.security_token, names.ak)),
                None => None,
            },
        };
        let project_id = self
            .project_id
            .map(|(line, v)| ProjectId::new(v).map_err(invalid(line, names.project_id)))
            .transpose()?;
        let region = self
            .region
            .map(|(line, v)| Region::new(v).map_err(invalid(line, names.region)))
            .transpose()?;
        let domain_id = check(self.domain_id, names.domain_id, &DOMAIN_ID)?;
        let iam_endpoint = check(self.iam_endpoint, "iam_endpoint", &IAM_ENDPOINT)?;
        let idp_id = check(self.idp_id, "idp_id", &IDP_ID)?;
        let id_token_file = check(self.id_token_file, "id_token_file", &ID_TOKEN_FILE)?;
        match (&idp_id, &id_token_file) {
            (Some(_), None) => return Err(incomplete("idp_id", "id_token_file")),
            (None, Some(_)) => return Err(incomplete("id_token_file", "idp_id")),
            _ => {}
        }
        Ok(Profile {
            aksk,
            project_id,
            region,
            domain_id,
            iam_endpoint,
            idp_id,
            id_token_file,
        })
    }
}

fn incomplete(present: &'static str, missing: &'static str) -> ProfileError {
    ProfileError::new(ProfileErrorKind::Incomplete { present, missing })
}

/// The shape a plain-text value must have.
struct Rule {
    max: usize,
    ok: fn(&str) -> bool,
    expected: &'static str,
}

const DOMAIN_ID: Rule = Rule {
    max: 64,
    ok: |v| {
        v.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    },
    expected: "a domain id of at most 64 ASCII letters, digits, '-' and '_'",
};

const IAM_ENDPOINT: Rule = Rule {
    max: 2048,
    ok: |v| {
        (v.starts_with("https://") || v.starts_with("http://"))
            && v.chars().all(|c| c.is_ascii_graphic())
    },
    expected: "an https:// (or http://) URL of at most 2048 printable ASCII characters",
};

const IDP_ID: Rule = Rule {
    max: 256,
    ok: |v| v.chars().all(|c| c.is_ascii_graphic()),
    expected: "an identity provider id of at most 256 printable ASCII characters",
};

const ID_TOKEN_FILE: Rule = Rule {
    max: 4096,
    ok: |v| !v.chars().any(char::is_control),
    expected: "a path of at most 4096 bytes without control characters",
};

fn check(
    value: Option<(Option<usize>, &str)>,
    key: &'static str,
    rule: &Rule,
) -> Result<Option<Box<str>>, ProfileError> {
    match value {
        None => Ok(None),
        Some((_, v)) if v.len() <= rule.max && (rule.ok)(v) => Ok(Some(v.into())),
        Some((line, _)) => Err(ProfileError::new(ProfileErrorKind::Malformed {
            line,
            key,
            expected: rule.expected,
        })),
    }
}

/// Parses the official SDKs' profile file: `HUAWEICLOUD_SDK_CREDENTIALS_FILE`, else
/// `~/.huaweicloud/credentials`. Reading the file is the caller's business; this function
/// parses its bytes into a [`Profile`] of validated values.
///
/// ```ini
/// [basic]
/// ak = QTWAOYTTINDUT2QVKYUC
/// sk = MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc
/// project_id = 0dea2644dc80d5d22ff1c01e3ebea6fc
/// region = cn-north-4
///
/// [global]
/// ak = ...
/// sk = ...
/// domain_id = ...
/// ```
///
/// The section is the credential type: `[basic]` for project-scoped services such as KMS,
/// `[global]` for domain-scoped ones. The official SDKs read the one section that matches
/// the client's type and fail when it is absent; so does this function, with a
/// distinct [`ProfileErrorKind::MissingSection`] that a chain can treat as "skipped".
///
/// Keys: `ak`, `sk`, `security_token`, `project_id`, `domain_id`, `iam_endpoint`, `idp_id`,
/// `id_token_file` (the official ones) and `region` (this client's addition).
///
/// The syntax is the subset of Python's `configparser` that the official file uses:
/// * UTF-8, a byte order mark allowed; LF or CRLF line endings;
/// * `[section]` headers; `key = value` or `key: value` (split at the first `=` or `:`);
/// * `#` and `;` start comment lines; there are no inline comments, so `ak = X # mine` is
///   the value `X # mine` (which the AK check then refuses);
/// * whitespace around names and values is trimmed; quotes are not removed (a value
///   wrapped in quotes is refused rather than used with them);
/// * section and key names are case-insensitive (Python lower-cases keys only);
/// * an empty value counts as absent; unknown keys and sections are ignored;
/// * a duplicate key in a section, a duplicate section, a key before any section and a
///   line that is none of the above are errors with their line number, anywhere in the
///   file (Python's strict parser refuses such a file too).
///
/// Not supported: continuation lines, `%` interpolation and the `[DEFAULT]` section's
/// inheritance. Values are taken literally (Python would interpolate `%(name)s` and fail on
/// a lone `%`).
///
/// No error ever shows a value: they may be secrets.
///
/// Only the keys of `section` are validated. An empty section, or one holding only unknown keys, gives an empty [`Profile`].
///
/// # Errors
/// [`ProfileError`] (without a path: add it with [`ProfileError::with_path`]): the file is
/// larger than [`MAX_PROFILE_LEN`] or not UTF-8; a line anywhere is malformed or repeats a
/// key or section; `section` is absent ([`ProfileErrorKind::MissingSection`]); or one of
/// its values is invalid or lacks its companion.
///
/// Needs the `sources` feature (on by default).
pub fn parse_profile(bytes: &[u8], section: ProfileSection) -> Result<Profile, ProfileError> {
    if bytes.len() > MAX_PROFILE_LEN {
        return Err(ProfileError::new(ProfileErrorKind::TooLarge {
            len: bytes.len(),
            max: MAX_PROFILE_LEN,
        }));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let before = bytes.get(..e.valid_up_to()).unwrap_or_default();
        let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
        ProfileError::new(ProfileErrorKind::NotUtf8 { line })
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);

    // Sets, not lists: a 1 MiB file of distinct keys must not take quadratic time.
    let mut seen_sections: HashSet<String> = HashSet::new();
    let mut keys_in_section: HashSet<String> = HashSet::new();
    let mut in_wanted = false;
    let mut found = false;
    let mut raw = RawProfile::default();

    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(header) = line.strip_prefix('[') {
            let name = header
                .strip_suffix(']')
                .map(str::trim)
                .filter(|name| !name.is_empty())
                .ok_or_else(|| ProfileError::new(ProfileErrorKind::Syntax { line: number }))?
                .to_ascii_lowercase();
            if seen_sections.contains(&name) {
                return Err(ProfileError::new(ProfileErrorKind::DuplicateSection {
                    line: number,
                    section: name,
                }));
            }
            in_wanted = name == section.name();
            found |= in_wanted;
            seen_sections.insert(name);
            keys_in_section.clear();
            continue;
        }
        let split = line
            .find(['=', ':'])
            .and_then(|at| Some((line.get(..at)?.trim(), line.get(at + 1..)?.trim())));
        let (key, value) = match split {
            Some((key, value)) if !key.is_empty() => (key.to_ascii_lowercase(), value),
            _ => return Err(ProfileError::new(ProfileErrorKind::Syntax { line: number })),
        };
        if seen_sections.is_empty() {
            return Err(ProfileError::new(ProfileErrorKind::OutsideSection {
                line: number,
            }));
        }
        if keys_in_section.contains(&key) {
            return Err(ProfileError::new(ProfileErrorKind::Duplicate {
                line: number,
                key,
            }));
        }
        if in_wanted && !value.is_empty() {
            let slot = match key.as_str() {
                "ak" => Some((&mut raw.ak, "ak")),
                "sk" => Some((&mut raw.sk, "sk")),
                "security_token" => Some((&mut raw.security_token, "security_token")),
                "project_id" => Some((&mut raw.project_id, "project_id")),
                "region" => Some((&mut raw.region, "region")),
                "domain_id" => Some((&mut raw.domain_id, "domain_id")),
                "iam_endpoint" => Some((&mut raw.iam_endpoint, "iam_endpoint")),
                "idp_id" => Some((&mut raw.idp_id, "idp_id")),
                "id_token_file" => Some((&mut raw.id_token_file, "id_token_file")),
                _ => None,
            };
            if let Some((slot, key)) = slot {
                if is_quoted(value) {
                    return Err(ProfileError::new(ProfileErrorKind::Malformed {
                        line: Some(number),
                        key,
                        expected: "a value without quotes (they are not removed)",
                    }));
                }
                *slot = Some((Some(number), value));
            }
        }
        keys_in_section.insert(key);
    }
    if !found {
        return Err(ProfileError::new(ProfileErrorKind::MissingSection(section)));
    }
    raw.validate(&KeyNames::PROFILE)
}

/// A value wrapped in matching quotes, which `configparser` would keep as part of it.
fn is_quoted(value: &str) -> bool {
    value.len() >= 2
        && ((value.starts_with('"') && value.ends_with('"'))
            || (value.starts_with('\'') && value.ends_with('\'')))
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
    use crate::input::Problem;
    use proptest::prelude::*;

    const AK: &str = "QTWAOYTTINDUT2QVKYUC";
    const SK: &str = "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc";
    const TOKEN: &str = "gQpjbi1ub3J0aC00jD0DHxz0jGdfSecurityTokenExample";
    const PROJECT: &str = "0dea2644dc80d5d22ff1c01e3ebea6fc";
    const DOMAIN: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90";

    /// What a parsed profile should hold, as plain text.
    #[derive(Debug, Default, PartialEq)]
    struct Seen {
        ak: Option<String>,
        sk: bool,
        token: bool,
        project_id: Option<String>,
        region: Option<String>,
        domain_id: Option<String>,
        iam_endpoint: Option<String>,
        idp_id: Option<String>,
        id_token_file: Option<String>,
    }

    fn seen(p: &Profile) -> Seen {
        Seen {
            ak: p.aksk().map(|a| a.access_key().to_owned()),
            sk: p.aksk().is_some(),
            token: p.aksk().is_some_and(AkSk::has_security_token),
            project_id: p.project_id().map(|v| v.as_str().to_owned()),
            region: p.region().map(|v| v.as_str().to_owned()),
            domain_id: p.domain_id().map(str::to_owned),
            iam_endpoint: p.iam_endpoint().map(str::to_owned),
            idp_id: p.idp_id().map(str::to_owned),
            id_token_file: p.id_token_file().map(str::to_owned),
        }
    }

    fn s(v: &str) -> Option<String> {
        Some(v.to_owned())
    }

    fn basic_aksk() -> Seen {
        Seen {
            ak: s(AK),
            sk: true,
            project_id: s(PROJECT),
            ..Seen::default()
        }
    }

    #[test]
    fn reads_well_formed_files() {
        let basic = format!("[basic]\nak = {AK}\nsk = {SK}\nproject_id = {PROJECT}\n");
        let cases: Vec<(&str, String, ProfileSection, Seen)> = vec![
            ("basic", basic.clone(), ProfileSection::Basic, basic_aksk()),
            (
                "bom and crlf",
                format!("\u{feff}[basic]\r\nak = {AK}\r\nsk = {SK}\r\nproject_id = {PROJECT}\r\n"),
                ProfileSection::Basic,
                basic_aksk(),
            ),
            (
                "colons, no spaces, tabs, no final newline",
                format!("[basic]\nak:{AK}\n\tsk\t:\t{SK}  \nproject_id={PROJECT}"),
                ProfileSection::Basic,
                basic_aksk(),
            ),
            (
                "comments and blank lines",
                format!(
                    "# my keys\n; more\n\n[basic]\n  # indented comment\nak = {AK}\n\nsk = {SK}\n;project_id = nope\nproject_id = {PROJECT}\n"
                ),
                ProfileSection::Basic,
                basic_aksk(),
            ),
            (
                "upper-case names",
                format!("[BASIC]\nAK = {AK}\nSk = {SK}\nProject_ID = {PROJECT}\n"),
                ProfileSection::Basic,
                basic_aksk(),
            ),
            (
                "the value keeps later separators",
                format!("[basic]\nak = {AK}\nsk = {SK}\nproject_id = {PROJECT}\niam_endpoint = https://iam.example.com:443/v3\n"),
                ProfileSection::Basic,
                Seen {
                    iam_endpoint: s("https://iam.example.com:443/v3"),
                    ..basic_aksk()
                },
            ),
            (
                "global is read when asked for",
                format!(
                    "[basic]\nak = {AK}\nsk = {SK}\n[global]\nak = GLOBALAK\nsk = {SK}\ndomain_id = {DOMAIN}\n"
                ),
                ProfileSection::Global,
                Seen {
                    ak: s("GLOBALAK"),
                    sk: true,
                    domain_id: s(DOMAIN),
                    ..Seen::default()
                },
            ),
            (
                "basic is read when both exist",
                format!("[global]\nak = GLOBALAK\nsk = {SK}\n[basic]\nak = {AK}\nsk = {SK}\nproject_id = {PROJECT}\n"),
                ProfileSection::Basic,
                basic_aksk(),
            ),
            (
                "every key",
                format!(
                    "[basic]\nak = {AK}\nsk = {SK}\nsecurity_token = {TOKEN}\nproject_id = {PROJECT}\nregion = CN-North-4\ndomain_id = {DOMAIN}\niam_endpoint = https://iam.myhuaweicloud.com\nidp_id = my-idp\nid_token_file = /var/run/secrets/token\n"
                ),
                ProfileSection::Basic,
                Seen {
                    ak: s(AK),
                    sk: true,
                    token: true,
                    project_id: s(PROJECT),
                    region: s("cn-north-4"),
                    domain_id: s(DOMAIN),
                    iam_endpoint: s("https://iam.myhuaweicloud.com"),
                    idp_id: s("my-idp"),
                    id_token_file: s("/var/run/secrets/token"),
                },
            ),
            (
                "blank values are absent, unknown keys ignored",
                format!(
                    "[basic]\nak = {AK}\nsk = {SK}\nsecurity_token =\nproject_id = {PROJECT}\nregion=\nprofile_name = whatever\n"
                ),
                ProfileSection::Basic,
                basic_aksk(),
            ),
            (
                "federation without AK/SK",
                "[basic]\nidp_id = my-idp\nid_token_file = C:\\tokens\\id token.jwt\nproject_id = p1\n"
                    .into(),
                ProfileSection::Basic,
                Seen {
                    idp_id: s("my-idp"),
                    id_token_file: s("C:\\tokens\\id token.jwt"),
                    project_id: s("p1"),
                    ..Seen::default()
                },
            ),
            (
                "an empty section",
                "[basic]\n[global]\nak = X\n".into(),
                ProfileSection::Basic,
                Seen::default(),
            ),
            (
                "a secret key with '=' and ':' in it",
                format!("[basic]\nak = {AK}\nsk = a=b:c\nproject_id = {PROJECT}\n"),
                ProfileSection::Basic,
                basic_aksk(),
            ),
        ];
        for (name, file, section, expected) in cases {
            let profile = parse_profile(file.as_bytes(), section)
                .unwrap_or_else(|e| panic!("case {name:?}: {e}"));
            assert_eq!(seen(&profile), expected, "case {name:?}");
            assert_eq!(
                profile.credentials().is_some(),
                expected.sk,
                "case {name:?}"
            );
        }
    }

    #[test]
    fn the_sk_and_token_are_the_file_s() {
        let file = format!("[basic]\nak = {AK}\nsk = a=b:c\nsecurity_token = {TOKEN}\n");
        let profile = parse_profile(file.as_bytes(), ProfileSection::Basic).unwrap();
        let aksk = profile.aksk().unwrap();
        assert_eq!(
            aksk,
            &AkSk::new(AK, "a=b:c")
                .unwrap()
                .with_security_token(TOKEN)
                .unwrap()
        );
    }

    #[test]
    fn refuses_bad_files_with_the_line() {
        let ok = format!("ak = {AK}\nsk = {SK}\n");
        let cases: Vec<(&str, Vec<u8>, ProfileSection, ProfileErrorKind, &str)> = vec![
            (
                "too large",
                vec![b'#'; MAX_PROFILE_LEN + 1],
                ProfileSection::Basic,
                ProfileErrorKind::TooLarge {
                    len: MAX_PROFILE_LEN + 1,
                    max: MAX_PROFILE_LEN,
                },
                "the file is 1048577 bytes long, more than the 1048576 accepted",
            ),
            (
                "latin-1",
                b"[basic]\nak = AK\nsk = s\xe9cret\n".to_vec(),
                ProfileSection::Basic,
                ProfileErrorKind::NotUtf8 { line: 3 },
                "line 3 is not UTF-8 text; save the file as UTF-8",
            ),
            (
                "utf-16 bom",
                b"\xff\xfe[\0b\0".to_vec(),
                ProfileSection::Basic,
                ProfileErrorKind::NotUtf8 { line: 1 },
                "line 1 is not UTF-8 text; save the file as UTF-8",
            ),
            (
                "a bare word",
                format!("[basic]\n{ok}{SK}\n").into_bytes(),
                ProfileSection::Basic,
                ProfileErrorKind::Syntax { line: 4 },
                "line 4 is neither a [section] header, a `key = value` pair nor a comment",
            ),
            (
                "an unclosed header",
                format!("[basic\n{ok}").into_bytes(),
                ProfileSection::Basic,
                ProfileErrorKind::Syntax { line: 1 },
                "line 1 is neither a [section] header, a `key = value` pair nor a comment",
            ),
            (
                "an empty header",
                "[ ]\n".into(),
                ProfileSection::Basic,
                ProfileErrorKind::Syntax { line: 1 },
                "line 1 is neither a [section] header, a `key = value` pair nor a comment",
            ),
            (
                "no key",
                "[basic]\n= value\n".into(),
                ProfileSection::Basic,
                ProfileErrorKind::Syntax { line: 2 },
                "line 2 is neither a [section] header, a `key = value` pair nor a comment",
            ),
            (
                "a key before any section",
                format!("{ok}[basic]\n").into_bytes(),
                ProfileSection::Basic,
                ProfileErrorKind::OutsideSection { line: 1 },
                "line 1 sets a key before any [section] header; put it under [basic] or [global]",
            ),
            (
                "a duplicate key",
                format!("[basic]\n{ok}SK = other\n").into_bytes(),
                ProfileSection::Basic,
                ProfileErrorKind::Duplicate {
                    line: 4,
                    key: "sk".into(),
                },
                "line 4 sets \"sk\" a second time in its section; keep one",
            ),
            (
                "a duplicate blank key in another section",
                format!("[basic]\n{ok}[other]\nx =\nx =\n").into_bytes(),
                ProfileSection::Basic,
                ProfileErrorKind::Duplicate {
                    line: 6,
                    key: "x".into(),
                },
                "line 6 sets \"x\" a second time in its section; keep one",
            ),
            (
                "a duplicate section",
                format!("[basic]\n{ok}[Basic]\n").into_bytes(),
                ProfileSection::Basic,
                ProfileErrorKind::DuplicateSection {
                    line: 4,
                    section: "basic".into(),
                },
                "line 4 opens section [basic] a second time; merge the two",
            ),
            (
                "no basic section",
                format!("[global]\n{ok}").into_bytes(),
                ProfileSection::Basic,
                ProfileErrorKind::MissingSection(ProfileSection::Basic),
                "there is no [basic] section",
            ),
            (
                "no global section",
                format!("[basic]\n{ok}").into_bytes(),
                ProfileSection::Global,
                ProfileErrorKind::MissingSection(ProfileSection::Global),
                "there is no [global] section",
            ),
            (
                "an empty file",
                Vec::new(),
                ProfileSection::Basic,
                ProfileErrorKind::MissingSection(ProfileSection::Basic),
                "there is no [basic] section",
            ),
            (
                "ak without sk",
                format!("[basic]\nak = {AK}\nsk =\n").into_bytes(),
                ProfileSection::Basic,
                ProfileErrorKind::Incomplete {
                    present: "ak",
                    missing: "sk",
                },
                "`ak` is set but `sk` is not; set both",
            ),
            (
                "sk without ak",
                format!("[basic]\nsk = {SK}\n").into_bytes(),
                ProfileSection::Basic,
                ProfileErrorKind::Incomplete {
                    present: "sk",
                    missing: "ak",
                },
                "`sk` is set but `ak` is not; set both",
            ),
            (
                "a token alone",
                format!("[basic]\nsecurity_token = {TOKEN}\n").into_bytes(),
                ProfileSection::Basic,
                ProfileErrorKind::Incomplete {
                    present: "security_token",
                    missing: "ak",
                },
                "`security_token` is set but `ak` is not; set both",
            ),
            (
                "idp without token file",
                "[basic]\nidp_id = x\n".into(),
                ProfileSection::Basic,
                ProfileErrorKind::Incomplete {
                    present: "idp_id",
                    missing: "id_token_file",
                },
                "`idp_id` is set but `id_token_file` is not; set both",
            ),
            (
                "an invalid ak",
                format!("[basic]\nak = A,K\nsk = {SK}\n").into_bytes(),
                ProfileSection::Basic,
                ProfileErrorKind::Invalid {
                    line: Some(2),
                    key: "ak",
                    error: AkSk::new("A,K", "x").unwrap_err(),
                },
                "line 2: `ak` is not a valid access key id (AK)",
            ),
            (
                "an invalid sk",
                format!("[basic]\nak = {AK}\n\nsk = {SK}\u{7}\n").into_bytes(),
                ProfileSection::Basic,
                ProfileErrorKind::Invalid {
                    line: Some(4),
                    key: "sk",
                    error: AkSk::new(AK, &format!("{SK}\u{7}")).unwrap_err(),
                },
                "line 4: `sk` is not a valid secret access key (SK)",
            ),
            (
                "an invalid token",
                format!("[basic]\n{ok}security_token = a b\n").into_bytes(),
                ProfileSection::Basic,
                ProfileErrorKind::Invalid {
                    line: Some(4),
                    key: "security_token",
                    error: AkSk::new(AK, SK)
                        .unwrap()
                        .with_security_token("a b")
                        .unwrap_err(),
                },
                "line 4: `security_token` is not a valid security token",
            ),
            (
                "an invalid project",
                format!("[basic]\n{ok}project_id = ../x\n").into_bytes(),
                ProfileSection::Basic,
                ProfileErrorKind::Invalid {
                    line: Some(4),
                    key: "project_id",
                    error: ProjectId::new("../x").unwrap_err(),
                },
                "line 4: `project_id` is not a valid project id",
            ),
            (
                "an invalid region",
                format!("[basic]\n{ok}region = north4\n").into_bytes(),
                ProfileSection::Basic,
                ProfileErrorKind::Invalid {
                    line: Some(4),
                    key: "region",
                    error: Region::new("north4").unwrap_err(),
                },
                "line 4: `region` is not a valid region",
            ),
            (
                "an invalid domain id",
                format!("[global]\n{ok}domain_id = a.b\n").into_bytes(),
                ProfileSection::Global,
                ProfileErrorKind::Malformed {
                    line: Some(4),
                    key: "domain_id",
                    expected: DOMAIN_ID.expected,
                },
                "line 4: `domain_id` is not a domain id of at most 64 ASCII letters, digits, '-' and '_'",
            ),
            (
                "an iam endpoint without a scheme",
                format!("[basic]\n{ok}iam_endpoint = iam.example.com\n").into_bytes(),
                ProfileSection::Basic,
                ProfileErrorKind::Malformed {
                    line: Some(4),
                    key: "iam_endpoint",
                    expected: IAM_ENDPOINT.expected,
                },
                "line 4: `iam_endpoint` is not an https:// (or http://) URL of at most 2048 printable ASCII characters",
            ),
            (
                "an idp id with a space",
                "[basic]\nidp_id = my idp\nid_token_file = t\n".into(),
                ProfileSection::Basic,
                ProfileErrorKind::Malformed {
                    line: Some(2),
                    key: "idp_id",
                    expected: IDP_ID.expected,
                },
                "line 2: `idp_id` is not an identity provider id of at most 256 printable ASCII characters",
            ),
            (
                "a token file with a control character",
                "[basic]\nidp_id = x\nid_token_file = a\u{1}b\n".into(),
                ProfileSection::Basic,
                ProfileErrorKind::Malformed {
                    line: Some(3),
                    key: "id_token_file",
                    expected: ID_TOKEN_FILE.expected,
                },
                "line 3: `id_token_file` is not a path of at most 4096 bytes without control characters",
            ),
            (
                "a quoted value",
                format!("[basic]\nak = \"{AK}\"\nsk = {SK}\n").into_bytes(),
                ProfileSection::Basic,
                ProfileErrorKind::Malformed {
                    line: Some(2),
                    key: "ak",
                    expected: "a value without quotes (they are not removed)",
                },
                "line 2: `ak` is not a value without quotes (they are not removed)",
            ),
            (
                "an inline comment is part of the value",
                format!("[basic]\nak = {AK} # mine\nsk = {SK}\n").into_bytes(),
                ProfileSection::Basic,
                ProfileErrorKind::Invalid {
                    line: Some(2),
                    key: "ak",
                    error: AkSk::new(&format!("{AK} # mine"), "x").unwrap_err(),
                },
                "line 2: `ak` is not a valid access key id (AK)",
            ),
        ];
        for (name, file, section, kind, message) in cases {
            let err = parse_profile(&file, section).expect_err(name);
            assert_eq!(err.kind(), &kind, "case {name:?}");
            assert_eq!(err.to_string(), message, "case {name:?}");
            assert_eq!(
                err.source().is_some(),
                matches!(kind, ProfileErrorKind::Invalid { .. }),
                "case {name:?}"
            );
            let with_path = err.with_path("/home/me/.huaweicloud/credentials");
            assert_eq!(
                with_path.to_string(),
                format!("/home/me/.huaweicloud/credentials: {message}"),
                "case {name:?}"
            );
            assert_eq!(
                with_path.path(),
                Some(Path::new("/home/me/.huaweicloud/credentials")),
                "case {name:?}"
            );
        }
    }

    #[test]
    fn a_missing_section_is_told_apart() {
        let err = parse_profile(b"[global]\n", ProfileSection::Basic).unwrap_err();
        assert!(matches!(
            err.kind(),
            ProfileErrorKind::MissingSection(ProfileSection::Basic)
        ));
        // Errors elsewhere in the file still win: the file as a whole must be well formed.
        let err = parse_profile(b"[global]\njunk\n", ProfileSection::Basic).unwrap_err();
        assert_eq!(err.kind(), &ProfileErrorKind::Syntax { line: 2 });
    }

    /// Malformed secrets in every position: no error, `Debug` or source shows them, and a
    /// profile's `Debug` redacts the good ones.
    #[test]
    fn secrets_are_never_shown() {
        let bad_sk = "SeCrEtVaLuE\u{7f}x";
        let bad_token = "ToKeN VaLuE";
        let files: &[(&str, String)] = &[
            (
                "malformed sk",
                format!("[basic]\nak = {AK}\nsk = {bad_sk}\n"),
            ),
            (
                "malformed token",
                format!("[basic]\nak = {AK}\nsk = {SK}\nsecurity_token = {bad_token}\n"),
            ),
            ("sk as a bare line", format!("[basic]\n{SK}\n")),
            ("sk duplicated", format!("[basic]\nsk = {SK}\nsk = {SK}\n")),
            ("quoted sk", format!("[basic]\nak = {AK}\nsk = '{SK}'\n")),
            ("sk alone", format!("[basic]\nsk = {SK}\n")),
            (
                "token alone",
                format!("[basic]\nsecurity_token = {TOKEN}\n"),
            ),
            ("sk in a header", format!("[{SK}\n")),
        ];
        for (name, file) in files {
            let err = parse_profile(file.as_bytes(), ProfileSection::Basic).expect_err(name);
            let mut shown = format!("{err} {err:?} {err:#?}");
            let mut source = err.source();
            while let Some(s) = source {
                shown.push_str(&format!(" {s} {s:?}"));
                source = s.source();
            }
            for needle in ["SeCrEt", "ToKeN", SK, TOKEN] {
                assert!(
                    !shown.contains(needle),
                    "case {name:?} shows {needle:?}: {shown}"
                );
            }
        }
        let file = format!("[basic]\nak = {AK}\nsk = {SK}\nsecurity_token = {TOKEN}\n");
        let profile = parse_profile(file.as_bytes(), ProfileSection::Basic).unwrap();
        let shown = format!("{profile:?} {profile:#?} {:?}", profile.credentials());
        assert!(!shown.contains(SK) && !shown.contains(TOKEN), "{shown}");
        assert!(shown.contains(AK), "{shown}");
    }

    #[test]
    fn invalid_input_is_the_source() {
        let err = parse_profile(b"[basic]\nregion = x\n", ProfileSection::Basic).unwrap_err();
        let source = err
            .source()
            .and_then(|s| s.downcast_ref::<InvalidInput>())
            .unwrap();
        assert_eq!(source.input(), Input::Region);
        assert!(matches!(source.problem(), Problem::Malformed { .. }));
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse_profile(&bytes, ProfileSection::Basic);
        }

        #[test]
        fn never_panics_on_line_soup(
            lines in proptest::collection::vec(
                prop_oneof![
                    Just("[basic]".to_owned()),
                    Just("[global]".to_owned()),
                    "(ak|sk|security_token|project_id|region|domain_id|iam_endpoint|idp_id|id_token_file|x) ?[=:] ?[ -~]{0,12}",
                    "[ -~\t]{0,16}",
                ],
                0..12,
            ),
            crlf in any::<bool>(),
        ) {
            let file = lines.join(if crlf { "\r\n" } else { "\n" });
            let _ = parse_profile(file.as_bytes(), ProfileSection::Basic);
            let _ = parse_profile(file.as_bytes(), ProfileSection::Global);
        }

        #[test]
        fn names_are_case_insensitive(upper in proptest::collection::vec(any::<bool>(), 16)) {
            let flip = |s: &str| -> String {
                s.chars()
                    .zip(upper.iter().cycle())
                    .map(|(c, &u)| if u { c.to_ascii_uppercase() } else { c })
                    .collect()
            };
            let file = format!(
                "[{}]\n{} = {AK}\n{} = {SK}\n{} = {PROJECT}\n",
                flip("basic"), flip("ak"), flip("sk"), flip("project_id")
            );
            let profile = parse_profile(file.as_bytes(), ProfileSection::Basic).unwrap();
            prop_assert_eq!(seen(&profile), basic_aksk());
        }
    }
}
