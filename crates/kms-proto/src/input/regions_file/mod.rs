//! The official SDKs' regions file: endpoints per service and region, in YAML. See
//! [`RegionsFile`].
//!
//! ```yaml
//! KMS:
//!   - id: cn-north-4
//!     endpoint: 'https://kms.cn-north-4.myhuaweicloud.com'
//!   - id: cn-east-3
//!     endpoints:
//!       - 'https://kms1.example'
//!       - 'https://kms2.example'
//! ECS:
//!   - id: cn-north-4
//!     endpoint: https://ecs.cn-north-4.myhuaweicloud.com
//! ```
//!
//! The YAML is read with the event parser of `yaml-rust2`, walked here, never with its
//! loader: the loader copies an anchored node at every alias, so a "billion laughs" file of
//! a few hundred bytes would take gigabytes. Here an alias is never expanded: the KMS
//! section refuses anchors and aliases, and every other service's value is skipped event
//! by event, whatever it holds.

use std::error::Error as StdError;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::input::InvalidInput;

// The variable naming the regions file (every name is in `crate::input::env_names`), public
// here too (`kms_proto::ENV_REGIONS_FILE`).
pub use crate::input::env_names::ENV_REGIONS_FILE;

/// The largest regions file accepted, in bytes (1 MiB).
pub const MAX_REGIONS_FILE_LEN: usize = 1024 * 1024;

/// The default path of the regions file, relative to the home directory:
/// `.huaweicloud/regions.yaml`.
pub const DEFAULT_REGIONS_FILE: &str = ".huaweicloud/regions.yaml";

/// The KMS section of a regions file: for each region id, the endpoints listed for KMS.
///
/// The file is a YAML mapping of service names to lists of entries; only the section whose
/// name is `KMS` in any case (`KMS`, `kms`, `Kms`) is read, and it is read strictly:
/// * it is a list of mappings with the keys `id` (required), `endpoint` (one string) and
///   `endpoints` (a list of strings), and no other key (a typo such as `endpiont` is an
///   error, not a key silently ignored); each entry gives at least one endpoint;
/// * `id` is a region id as [`Region::new`](crate::Region::new) accepts it; it is kept folded to lower case,
///   as [`Region`](crate::Region) keeps it, so [`kms_endpoints`](Self::kms_endpoints) finds it by
///   [`Region::as_str`](crate::Region::as_str); an id listed twice is an error (the official SDKs keep the last);
/// * the endpoints are not checked beyond being non-empty strings: the caller parses each
///   with its own endpoint parser and names [`FileEndpoint::line`] in its error; a value
///   with a comma is kept as it is;
/// * anchors (`&name`) and aliases (`*name`) are refused there, as is a second section
///   whose name differs only in case (`KMS:` and `kms:`);
/// * at most [`MAX_ENTRIES`](Self::MAX_ENTRIES) entries, and
///   [`MAX_ENDPOINTS`](Self::MAX_ENDPOINTS) endpoints in an entry.
///
/// Every other service's value is skipped, whatever its shape, aliases and anchors
/// included (never expanded), as long as it is valid YAML nested at most
/// [`MAX_DEPTH`](Self::MAX_DEPTH) levels deep.
///
/// The file is one YAML document: an empty file, one of comments only, or a document that
/// is empty or `null`, lists nothing; a second document (after `---` or `...`) is an error.
/// A UTF-8 byte order mark at the start is skipped. Tags (`!!str`) are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RegionsFile {
    /// The KMS entries, in file order.
    entries: Vec<KmsEntry>,
}

/// One entry of the KMS section.
#[derive(Debug, Clone, PartialEq, Eq)]
struct KmsEntry {
    /// The region id, folded to lower case ([`Region::as_str`](crate::Region::as_str)).
    id: String,
    /// The line of its `id`.
    line: usize,
    /// `endpoint`, then `endpoints`; never empty.
    endpoints: Vec<FileEndpoint>,
}

/// One endpoint of the regions file's KMS section, as written there (not validated), with
/// the line it is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEndpoint {
    pub(crate) url: String,
    pub(crate) line: usize,
}

impl FileEndpoint {
    /// The endpoint as written in the file (quotes and escapes resolved), never empty. It
    /// is not validated: parse it as an endpoint before use.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The line it is on (from 1), for error messages.
    pub fn line(&self) -> usize {
        self.line
    }
}

impl RegionsFile {
    /// The most entries the KMS section may have (1,000).
    pub const MAX_ENTRIES: usize = 1000;

    /// The most endpoints one KMS entry may list, `endpoint` and `endpoints` together (32).
    pub const MAX_ENDPOINTS: usize = 32;

    /// How deeply YAML collections may nest anywhere in the file, the top-level mapping
    /// counting as 1 (64). The KMS section needs 4.
    pub const MAX_DEPTH: usize = 64;

    /// Parses a regions file's bytes.
    ///
    /// # Errors
    /// [`RegionsFileError`] when the file is larger than [`MAX_REGIONS_FILE_LEN`], is not
    /// UTF-8 (with the line of the first bad byte), is not valid YAML, or its KMS section
    /// breaks a rule of [`RegionsFile`]. Every error but the first names a line.
    pub fn parse(bytes: &[u8]) -> Result<RegionsFile, RegionsFileError> {
        if bytes.len() > MAX_REGIONS_FILE_LEN {
            return Err(RegionsFileError::new(
                RegionsFileErrorKind::TooLarge {
                    len: bytes.len(),
                    max: MAX_REGIONS_FILE_LEN,
                },
                None,
            ));
        }
        let text = std::str::from_utf8(bytes).map_err(|e| {
            let before = bytes.get(..e.valid_up_to()).unwrap_or_default();
            RegionsFileError::new(RegionsFileErrorKind::NotUtf8, Some(line_breaks(before) + 1))
        })?;
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        #[cfg(feature = "regions-file")]
        return yaml::parse(text);
        #[cfg(not(feature = "regions-file"))]
        {
            let _ = text;
            Err(RegionsFileError::new(RegionsFileErrorKind::NotBuilt, None))
        }
    }

    /// The KMS endpoints listed for `region`, an id such as `cn-north-4` (matched exactly;
    /// the file's ids are kept in lower case), in file order: `endpoint` first, then
    /// `endpoints`. Never empty; `None` when the file has no KMS entry for `region`.
    pub fn kms_endpoints(&self, region: &str) -> Option<&[FileEndpoint]> {
        self.entries
            .iter()
            .find(|entry| entry.id == region)
            .map(|entry| entry.endpoints.as_slice())
    }

    /// The region ids that have a KMS entry, in file order (in lower case), for messages
    /// such as "the file lists KMS for cn-north-4, cn-east-3".
    pub fn kms_regions(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|entry| entry.id.as_str())
    }

    /// Whether the file has no KMS entry at all.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// What was wrong with a regions file. The line, when there is one, is
/// [`RegionsFileError::line`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegionsFileErrorKind {
    /// The file is larger than [`MAX_REGIONS_FILE_LEN`].
    TooLarge {
        /// Its length in bytes.
        len: usize,
        /// The largest length accepted, in bytes.
        max: usize,
    },
    /// The file is not UTF-8; the line is that of the first byte that is not.
    NotUtf8,
    /// This build of kms-proto reads no regions file: its `regions-file` feature is off.
    NotBuilt,
    /// The file is not valid YAML.
    Syntax {
        /// The YAML parser's message, such as "did not find expected key".
        message: String,
    },
    /// The file holds more than one YAML document; the line is where the second starts.
    MultipleDocuments,
    /// Collections nest more than [`RegionsFile::MAX_DEPTH`] levels deep.
    TooDeep {
        /// The deepest nesting accepted.
        max: usize,
    },
    /// The file's document is not a mapping of service names (a list, say, or text).
    NotAMapping,
    /// A service name is an alias (`*name`), which might stand for `KMS`.
    AliasServiceName,
    /// The KMS section appears a second time, under a name that may differ in case.
    DuplicateService {
        /// The name the second time, as written.
        name: String,
        /// The line of the first.
        first_line: usize,
    },
    /// An anchor (`&name`) in the KMS section.
    Anchor,
    /// An alias (`*name`) in the KMS section.
    Alias,
    /// The KMS section is not a list (it is empty, text or a mapping).
    KmsNotAList,
    /// An item of the KMS section is not a mapping.
    EntryNotAMapping,
    /// A key of a KMS entry is a list or a mapping.
    KeyNotAString,
    /// A KMS entry has a key other than `id`, `endpoint` and `endpoints`.
    UnknownKey {
        /// The key, as written.
        key: String,
    },
    /// A KMS entry has the same key twice.
    DuplicateKey {
        /// The key.
        key: &'static str,
    },
    /// `id` or `endpoint` is a list or a mapping, or an item of `endpoints` is.
    NotAString {
        /// The key.
        key: &'static str,
    },
    /// `endpoints` is not a list.
    NotAList {
        /// The key.
        key: &'static str,
    },
    /// `id`, `endpoint`, `endpoints` or an item of `endpoints` is empty (or `null`).
    Empty {
        /// The key.
        key: &'static str,
    },
    /// A KMS entry has no `id`; the line is the entry's first.
    MissingId,
    /// A KMS entry's `id` is not a region id; the [`InvalidInput`] is also the
    /// [`source`](StdError::source).
    InvalidId {
        /// The id, as written.
        id: String,
        /// Why [`Region::new`](crate::Region::new) refused it.
        error: InvalidInput,
    },
    /// A KMS entry has neither `endpoint` nor an item of `endpoints`.
    NoEndpoint {
        /// The entry's region id.
        id: String,
    },
    /// Two KMS entries have the same `id` (the official SDKs keep the last silently); the
    /// line is that of the second.
    DuplicateId {
        /// The region id, in lower case.
        id: String,
        /// The line of the first.
        first_line: usize,
    },
    /// The KMS section has more than [`RegionsFile::MAX_ENTRIES`] entries.
    TooManyEntries {
        /// The most accepted.
        max: usize,
    },
    /// A KMS entry lists more than [`RegionsFile::MAX_ENDPOINTS`] endpoints.
    TooManyEndpoints {
        /// The most accepted.
        max: usize,
    },
}

/// A regions file that could not be used: a [`RegionsFileErrorKind`] and, for every kind
/// but [`TooLarge`](RegionsFileErrorKind::TooLarge), the line (from 1).
///
/// `Display` is one line: the path (when [`with_path`](Self::with_path) gave one), the line,
/// what is wrong and what to do, such as "line 3: a KMS entry has no `id`; give each entry
/// `id: <region>`".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionsFileError(Box<ErrorInner>);

/// Boxed: a `Result` carrying the error stays small.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ErrorInner {
    kind: RegionsFileErrorKind,
    line: Option<usize>,
    path: Option<PathBuf>,
}

impl RegionsFileError {
    fn new(kind: RegionsFileErrorKind, line: Option<usize>) -> Self {
        RegionsFileError(Box::new(ErrorInner {
            kind,
            line,
            path: None,
        }))
    }

    #[cfg(feature = "regions-file")]
    fn at(line: usize, kind: RegionsFileErrorKind) -> Self {
        Self::new(kind, Some(line))
    }

    /// Records the file's path, which `Display` then names first.
    #[must_use]
    pub fn with_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.0.path = Some(path.into());
        self
    }

    /// What was wrong.
    pub fn kind(&self) -> &RegionsFileErrorKind {
        &self.0.kind
    }

    /// The line (from 1) the problem is on; `None` only for
    /// [`TooLarge`](RegionsFileErrorKind::TooLarge).
    pub fn line(&self) -> Option<usize> {
        self.0.line
    }

    /// The file's path, when [`with_path`](Self::with_path) gave one.
    pub fn path(&self) -> Option<&Path> {
        self.0.path.as_deref()
    }
}

impl fmt::Display for RegionsFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use RegionsFileErrorKind as K;
        if let Some(path) = &self.0.path {
            // One line whatever the path holds: control characters escaped, nothing else.
            for c in path.display().to_string().chars() {
                if c.is_control() {
                    write!(f, "{}", c.escape_default())?;
                } else {
                    write!(f, "{c}")?;
                }
            }
            f.write_str(": ")?;
        }
        if let Some(line) = self.0.line {
            write!(f, "line {line}: ")?;
        }
        const KEYS: &str = "`id`, `endpoint` and `endpoints`";
        match &self.0.kind {
            K::TooLarge { len, max } => write!(
                f,
                "the regions file is {len} bytes long, more than the {max} accepted; \
                 keep only the entries needed"
            ),
            K::NotUtf8 => f.write_str("the regions file is not UTF-8 text; save it as UTF-8"),
            K::NotBuilt => f.write_str(
                "this build of kms-proto reads no regions file: turn on its `regions-file` feature, or name the endpoints",
            ),
            K::Syntax { message } => write!(
                f,
                "the regions file is not valid YAML ({}); fix the syntax there",
                message.escape_debug()
            ),
            K::MultipleDocuments => f.write_str(
                "a second YAML document starts here; the regions file must be one document: \
                 remove the `---` or `...` line, or merge the two",
            ),
            K::TooDeep { max } => write!(
                f,
                "values are nested more than {max} levels deep; flatten them"
            ),
            K::NotAMapping => f.write_str(
                "the regions file must be a mapping of service names to lists of entries, \
                 such as `KMS:` followed by `  - id: cn-north-4`",
            ),
            K::AliasServiceName => f.write_str(
                "a service name is an alias (`*name`), which might stand for KMS; \
                 write the name out",
            ),
            K::DuplicateService { name, first_line } => write!(
                f,
                "service {:?} repeats the KMS section of line {first_line} (service names \
                 are matched ignoring case); merge the two",
                name
            ),
            K::Anchor => f.write_str(
                "an anchor (`&name`) in the KMS section; anchors and aliases are refused \
                 there: remove it",
            ),
            K::Alias => f.write_str(
                "an alias (`*name`) in the KMS section; anchors and aliases are refused \
                 there: write the value out",
            ),
            K::KmsNotAList => f.write_str(
                "`KMS` must be a list of entries, such as `  - id: cn-north-4` with \
                 `    endpoint: https://...`",
            ),
            K::EntryNotAMapping => f.write_str(
                "a KMS entry must be a mapping, such as `- id: cn-north-4` with \
                 `  endpoint: https://...`",
            ),
            K::KeyNotAString => write!(
                f,
                "a key of a KMS entry is a list or a mapping; its keys are {KEYS}"
            ),
            K::UnknownKey { key } => write!(
                f,
                "a KMS entry has the unknown key {:?}; its keys are {KEYS}",
                key
            ),
            K::DuplicateKey { key } => {
                write!(f, "a KMS entry sets `{key}` a second time; keep one")
            }
            K::NotAString { key: "endpoints" } => f.write_str(
                "an item of `endpoints` is a list or a mapping; give each endpoint as one \
                 string",
            ),
            K::NotAString { key } => write!(
                f,
                "`{key}` is a list or a mapping; give it one string{}",
                if *key == "endpoint" {
                    " (several endpoints go in `endpoints`)"
                } else {
                    ""
                }
            ),
            K::NotAList { key } => write!(
                f,
                "`{key}` must be a list of endpoints; for one endpoint, write \
                 `endpoint: <url>`"
            ),
            K::Empty { key: "endpoints" } => {
                f.write_str("`endpoints` or one of its items is empty; give it a URL or remove it")
            }
            K::Empty { key } => write!(f, "`{key}` is empty; give it a value"),
            K::MissingId => f.write_str("a KMS entry has no `id`; give each entry `id: <region>`"),
            K::InvalidId { id, error } => write!(
                f,
                "the KMS entry's `id` {:?} is not a region id ({error}); write one such as \
                 cn-north-4",
                id
            ),
            K::NoEndpoint { id } => write!(
                f,
                "the KMS entry for {id} has neither `endpoint` nor `endpoints`; give it at \
                 least one endpoint"
            ),
            K::DuplicateId { id, first_line } => write!(
                f,
                "KMS lists {id} a second time (first at line {first_line}); merge the two \
                 entries"
            ),
            K::TooManyEntries { max } => write!(
                f,
                "the KMS section has more than {max} entries; keep at most {max}"
            ),
            K::TooManyEndpoints { max } => write!(
                f,
                "a KMS entry lists more than {max} endpoints; keep at most {max}"
            ),
        }
    }
}

impl StdError for RegionsFileError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match &self.0.kind {
            RegionsFileErrorKind::InvalidId { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// How many line breaks `bytes` has, counted as YAML counts them: `\r\n`, `\r` or `\n`.
fn line_breaks(bytes: &[u8]) -> usize {
    let lf = bytes.iter().filter(|&&b| b == b'\n').count();
    let lone_cr = bytes
        .iter()
        .enumerate()
        .filter(|&(i, &b)| b == b'\r' && bytes.get(i + 1) != Some(&b'\n'))
        .count();
    lf + lone_cr
}

#[cfg(feature = "regions-file")]
mod yaml;

#[cfg(all(test, feature = "regions-file"))]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::panic,
        clippy::indexing_slicing,
        reason = "a test fails by panicking"
    )]

    use std::time::{Duration, Instant};

    use crate::input::Region;

    use proptest::prelude::*;

    use super::*;
    use crate::input::Input;

    use RegionsFileErrorKind as K;

    /// What a case expects: the KMS entries in file order, each region with its endpoints
    /// and their lines; or an error on a line.
    enum Expect {
        Ok(&'static [(&'static str, &'static [(&'static str, usize)])]),
        Err(usize, fn(&RegionsFileErrorKind) -> bool),
    }

    struct Case {
        name: &'static str,
        yaml: &'static str,
        expect: Expect,
    }

    const fn ok(
        name: &'static str,
        yaml: &'static str,
        entries: &'static [(&'static str, &'static [(&'static str, usize)])],
    ) -> Case {
        Case {
            name,
            yaml,
            expect: Expect::Ok(entries),
        }
    }

    const fn err(
        name: &'static str,
        yaml: &'static str,
        line: usize,
        kind: fn(&RegionsFileErrorKind) -> bool,
    ) -> Case {
        Case {
            name,
            yaml,
            expect: Expect::Err(line, kind),
        }
    }

    fn cases() -> Vec<Case> {
        vec![
            // --- accepted ------------------------------------------------------------------
            ok(
                "go-sdk-test-file-other-service",
                "\nSERVICE:\n  - id: region-id-1\n    endpoint: 'https://service.region-id-1.myhuaweicloud.com'\n",
                &[],
            ),
            ok(
                "go-sdk-test-file-as-kms",
                "\nKMS:\n  - id: region-id-1\n    endpoint: 'https://service.region-id-1.myhuaweicloud.com'\n",
                &[(
                    "region-id-1",
                    &[("https://service.region-id-1.myhuaweicloud.com", 4)],
                )],
            ),
            ok(
                "brief-example",
                "KMS:\n  - id: cn-north-4\n    endpoint: 'https://kms.cn-north-4.myhuaweicloud.com'\n  - id: cn-east-3\n    endpoints:\n      - 'https://kms1.example'\n      - 'https://kms2.example'\nECS:\n  - id: cn-north-4\n    endpoint: https://ecs.cn-north-4.myhuaweicloud.com\n",
                &[
                    (
                        "cn-north-4",
                        &[("https://kms.cn-north-4.myhuaweicloud.com", 3)],
                    ),
                    (
                        "cn-east-3",
                        &[("https://kms1.example", 6), ("https://kms2.example", 7)],
                    ),
                ],
            ),
            ok(
                "endpoint-then-endpoints-whatever-the-key-order",
                "KMS:\n  - endpoints: [https://b, https://c]\n    id: cn-north-4\n    endpoint: https://a\n",
                &[(
                    "cn-north-4",
                    &[("https://a", 4), ("https://b", 2), ("https://c", 2)],
                )],
            ),
            ok(
                "endpoints-empty-list-beside-endpoint",
                "KMS:\n  - id: cn-north-4\n    endpoint: https://a\n    endpoints: []\n",
                &[("cn-north-4", &[("https://a", 3)])],
            ),
            ok(
                "service-name-lower-case",
                "kms:\n  - {id: cn-north-4, endpoint: https://a}\n",
                &[("cn-north-4", &[("https://a", 2)])],
            ),
            ok(
                "service-name-mixed-case-quoted",
                "\"Kms\":\n  - {id: cn-north-4, endpoint: https://a}\n",
                &[("cn-north-4", &[("https://a", 2)])],
            ),
            ok(
                "service-name-explicit-key-and-tag",
                "? !!str KMS\n: - id: cn-north-4\n    endpoint: https://a\n",
                &[("cn-north-4", &[("https://a", 3)])],
            ),
            ok(
                "flow-style-kms",
                "KMS: [{id: cn-north-4, endpoint: \"https://a\"}]",
                &[("cn-north-4", &[("https://a", 1)])],
            ),
            ok(
                "flow-style-whole-file",
                "{ECS: [], KMS: [{id: cn-north-4, endpoints: [\"https://a\", 'https://b']}]}",
                &[("cn-north-4", &[("https://a", 1), ("https://b", 1)])],
            ),
            ok(
                "id-folded-to-lower-case",
                "KMS:\n  - id: CN-North-4\n    endpoint: https://a\n",
                &[("cn-north-4", &[("https://a", 3)])],
            ),
            ok(
                "comma-kept-as-is",
                "KMS:\n  - id: cn-north-4\n    endpoint: https://a,https://b\n",
                &[("cn-north-4", &[("https://a,https://b", 3)])],
            ),
            ok(
                "value-not-validated",
                "KMS:\n  - id: cn-north-4\n    endpoint: ftp://not a url\n",
                &[("cn-north-4", &[("ftp://not a url", 3)])],
            ),
            ok(
                "quoted-null-words-are-strings",
                "KMS:\n  - id: cn-north-4\n    endpoint: \"~\"\n    endpoints: ['null']\n",
                &[("cn-north-4", &[("~", 3), ("null", 4)])],
            ),
            ok(
                "block-scalar-and-escapes",
                "KMS:\n  - id: cn-north-4\n    endpoint: >-\n      https://a\n    endpoints: [\"https://\\u0062\"]\n",
                &[("cn-north-4", &[("https://a", 4), ("https://b", 5)])],
            ),
            ok(
                "comments-and-document-markers",
                "# regions\n---\nKMS: # the one we read\n  - id: cn-north-4 # Beijing 4\n    endpoint: https://a\n...\n",
                &[("cn-north-4", &[("https://a", 5)])],
            ),
            ok(
                "other-services-any-shape",
                "ECS: just text\nEVS: {KMS: [1, 2], id: x}\nIAM:\n  - - - deep: [1, {2: 3}]\n? [complex, key]\n: value\nVPC: &anchored {a: *anchored}\n",
                &[],
            ),
            ok(
                "other-services-with-anchors-and-aliases",
                "ECS: &e [{id: cn-north-4, endpoint: https://ecs}]\nEVS: *e\nIMS: {<<: *e}\nKMS:\n  - id: cn-north-4\n    endpoint: https://a\nVPC: [*e, *e, *e]\n",
                &[("cn-north-4", &[("https://a", 6)])],
            ),
            ok(
                "other-services-repeated",
                "ECS: []\nECS: {}\nKMS: []\n",
                &[],
            ),
            ok("other-services-nested-63-deep", "", &[]).with_yaml(format!(
                "ECS: {}{}",
                "[".repeat(63),
                "]".repeat(63)
            )),
            ok("empty-file", "", &[]),
            ok("comments-only", "# nothing yet\n\n", &[]),
            ok("empty-document", "---\n", &[]),
            ok("null-document", "~\n", &[]),
            ok("empty-mapping", "{}", &[]),
            ok("empty-kms-list", "KMS: []\n", &[]),
            ok(
                "bom",
                "\u{feff}KMS: [{id: cn-north-4, endpoint: https://a}]",
                &[("cn-north-4", &[("https://a", 1)])],
            ),
            ok(
                "cr-only-line-breaks",
                "KMS:\r  - id: cn-north-4\r    endpoint: https://a\r",
                &[("cn-north-4", &[("https://a", 3)])],
            ),
            ok(
                "crlf",
                "KMS:\r\n  - id: cn-north-4\r\n    endpoint: https://a\r\n",
                &[("cn-north-4", &[("https://a", 3)])],
            ),
            // --- refused: the file ---------------------------------------------------------
            err("top-level-list", "- KMS\n", 1, |k| *k == K::NotAMapping),
            err("top-level-text", "\nhello\n", 2, |k| *k == K::NotAMapping),
            err(
                "syntax",
                "KMS:\n  - id: cn-north-4\n    endpoint: \"https://a\n",
                3,
                |k| matches!(k, K::Syntax { .. }),
            ),
            err("unknown-alias", "ECS: *nowhere\n", 1, |k| {
                matches!(k, K::Syntax { .. })
            }),
            err("second-document", "KMS: []\n---\nECS: []\n", 2, |k| {
                *k == K::MultipleDocuments
            }),
            err(
                "second-document-after-end",
                "KMS: []\n...\nECS: []\n",
                3,
                |k| *k == K::MultipleDocuments,
            ),
            err("two-empty-documents", "---\n---\n", 2, |k| {
                *k == K::MultipleDocuments
            }),
            err("alias-as-service-name", "a: &n KMS\n*n : []\n", 2, |k| {
                *k == K::AliasServiceName
            }),
            // --- refused: the KMS section --------------------------------------------------
            err(
                "kms-twice-different-case",
                "KMS: []\nECS: []\nkms: []\n",
                3,
                |k| matches!(k, K::DuplicateService { name, first_line: 1 } if name == "kms"),
            ),
            err("kms-null", "KMS:\nECS: []\n", 1, |k| *k == K::KmsNotAList),
            err(
                "kms-mapping",
                "KMS:\n  id: cn-north-4\n  endpoint: https://a\n",
                1,
                |k| *k == K::KmsNotAList,
            ),
            err("kms-text", "ECS: []\nKMS: https://a\n", 2, |k| {
                *k == K::KmsNotAList
            }),
            err("entry-not-mapping", "KMS:\n  - cn-north-4\n", 2, |k| {
                *k == K::EntryNotAMapping
            }),
            err("entry-is-list", "KMS:\n  - [cn-north-4]\n", 2, |k| {
                *k == K::EntryNotAMapping
            }),
            err(
                "missing-id",
                "KMS:\n  - id: cn-north-4\n    endpoint: https://a\n  - endpoint: https://b\n",
                4,
                |k| *k == K::MissingId,
            ),
            err(
                "typo-endpiont",
                "KMS:\n  - id: cn-north-4\n    endpiont: https://a\n",
                3,
                |k| matches!(k, K::UnknownKey { key } if key == "endpiont"),
            ),
            err(
                "keys-are-case-sensitive",
                "KMS:\n  - Id: cn-north-4\n    endpoint: https://a\n",
                2,
                |k| matches!(k, K::UnknownKey { key } if key == "Id"),
            ),
            err(
                "merge-key-refused",
                "KMS:\n  - id: cn-north-4\n    endpoint: https://a\n    <<: {}\n",
                4,
                |k| matches!(k, K::UnknownKey { key } if key == "<<"),
            ),
            err("key-is-a-list", "KMS: [{[id]: cn-north-4}]\n", 1, |k| {
                *k == K::KeyNotAString
            }),
            err(
                "id-twice",
                "KMS:\n  - id: cn-north-4\n    id: cn-east-3\n",
                3,
                |k| *k == K::DuplicateKey { key: "id" },
            ),
            err(
                "endpoint-twice",
                "KMS:\n  - id: cn-north-4\n    endpoint: https://a\n    endpoint: https://b\n",
                4,
                |k| *k == K::DuplicateKey { key: "endpoint" },
            ),
            err(
                "endpoints-twice",
                "KMS:\n  - id: cn-north-4\n    endpoints: [https://a]\n    endpoints: [https://b]\n",
                4,
                |k| *k == K::DuplicateKey { key: "endpoints" },
            ),
            err(
                "no-endpoint",
                "KMS:\n  - id: cn-north-4\n",
                2,
                |k| matches!(k, K::NoEndpoint { id } if id == "cn-north-4"),
            ),
            err(
                "no-endpoint-empty-list",
                "KMS:\n  - id: cn-north-4\n    endpoints: []\n",
                2,
                |k| matches!(k, K::NoEndpoint { .. }),
            ),
            err(
                "empty-id",
                "KMS:\n  - id: ''\n    endpoint: https://a\n",
                2,
                |k| *k == K::Empty { key: "id" },
            ),
            err(
                "null-id",
                "KMS:\n  - id:\n    endpoint: https://a\n",
                2,
                |k| *k == K::Empty { key: "id" },
            ),
            err(
                "empty-endpoint",
                "KMS:\n  - id: cn-north-4\n    endpoint: \"\"\n",
                3,
                |k| *k == K::Empty { key: "endpoint" },
            ),
            err(
                "null-endpoint",
                "KMS:\n  - id: cn-north-4\n    endpoint:\n",
                3,
                |k| *k == K::Empty { key: "endpoint" },
            ),
            err(
                "tilde-endpoint",
                "KMS:\n  - id: cn-north-4\n    endpoint: ~\n",
                3,
                |k| *k == K::Empty { key: "endpoint" },
            ),
            err(
                "null-endpoints",
                "KMS:\n  - id: cn-north-4\n    endpoints:\n",
                3,
                |k| *k == K::Empty { key: "endpoints" },
            ),
            err(
                "empty-endpoints-item",
                "KMS:\n  - id: cn-north-4\n    endpoints:\n      - https://a\n      - ''\n",
                5,
                |k| *k == K::Empty { key: "endpoints" },
            ),
            err(
                "null-endpoints-item",
                "KMS:\n  - id: cn-north-4\n    endpoints:\n      - https://a\n      -\n      - https://b\n",
                3,
                |k| *k == K::Empty { key: "endpoints" },
            ),
            err(
                "endpoints-text",
                "KMS:\n  - id: cn-north-4\n    endpoints: https://a\n",
                3,
                |k| *k == K::NotAList { key: "endpoints" },
            ),
            err(
                "endpoint-list",
                "KMS:\n  - id: cn-north-4\n    endpoint: [https://a]\n",
                3,
                |k| *k == K::NotAString { key: "endpoint" },
            ),
            err("id-mapping", "KMS:\n  - id: {cn: north}\n", 2, |k| {
                *k == K::NotAString { key: "id" }
            }),
            err(
                "endpoints-item-mapping",
                "KMS:\n  - id: cn-north-4\n    endpoints:\n      - {url: https://a}\n",
                4,
                |k| *k == K::NotAString { key: "endpoints" },
            ),
            err(
                "invalid-id",
                "KMS:\n  - endpoint: https://a\n    id: cn north 4\n",
                3,
                |k| matches!(k, K::InvalidId { id, error } if id == "cn north 4" && error.input() == Input::Region),
            ),
            err(
                "duplicate-id",
                "KMS:\n  - id: cn-north-4\n    endpoint: https://a\n  - id: cn-north-4\n    endpoint: https://b\n",
                4,
                |k| matches!(k, K::DuplicateId { id, first_line: 2 } if id == "cn-north-4"),
            ),
            err(
                "duplicate-id-after-folding",
                "KMS:\n  - {id: cn-north-4, endpoint: https://a}\n  - {id: CN-NORTH-4, endpoint: https://b}\n",
                3,
                |k| matches!(k, K::DuplicateId { id, first_line: 2 } if id == "cn-north-4"),
            ),
            // --- refused: anchors and aliases in the KMS section ---------------------------
            err("anchor-on-kms-name", "&k KMS: []\n", 1, |k| *k == K::Anchor),
            err(
                "anchor-on-kms-list",
                "KMS: &k\n  - {id: cn-north-4, endpoint: https://a}\n",
                2,
                |k| *k == K::Anchor,
            ),
            err(
                "anchor-on-entry",
                "KMS:\n  - &e {id: cn-north-4, endpoint: https://a}\n",
                2,
                |k| *k == K::Anchor,
            ),
            err("anchor-on-key", "KMS:\n  - &k id: cn-north-4\n", 2, |k| {
                *k == K::Anchor
            }),
            err("anchor-on-id", "KMS:\n  - id: &i cn-north-4\n", 2, |k| {
                *k == K::Anchor
            }),
            err(
                "anchor-on-endpoint",
                "KMS:\n  - id: cn-north-4\n    endpoint: &u https://a\n",
                3,
                |k| *k == K::Anchor,
            ),
            err(
                "anchor-on-endpoints",
                "KMS:\n  - id: cn-north-4\n    endpoints: &l [https://a]\n",
                3,
                |k| *k == K::Anchor,
            ),
            err(
                "anchor-on-endpoints-item",
                "KMS:\n  - id: cn-north-4\n    endpoints: [&u https://a]\n",
                3,
                |k| *k == K::Anchor,
            ),
            err("alias-as-kms-list", "ECS: &e []\nKMS: *e\n", 2, |k| {
                *k == K::Alias
            }),
            err(
                "alias-as-entry",
                "ECS: &e {id: cn-north-4, endpoint: https://a}\nKMS:\n  - *e\n",
                3,
                |k| *k == K::Alias,
            ),
            err(
                "alias-as-key",
                "ECS: &k id\nKMS:\n  - *k : cn-north-4\n",
                3,
                |k| *k == K::Alias,
            ),
            err(
                "alias-as-id",
                "ECS: &i cn-north-4\nKMS:\n  - id: *i\n    endpoint: https://a\n",
                3,
                |k| *k == K::Alias,
            ),
            err(
                "alias-as-endpoint",
                "x: &a https://a\nKMS:\n  - id: cn-north-4\n    endpoint: *a\n",
                4,
                |k| *k == K::Alias,
            ),
            err(
                "alias-as-endpoints",
                "x: &a [https://a]\nKMS:\n  - id: cn-north-4\n    endpoints: *a\n",
                4,
                |k| *k == K::Alias,
            ),
            err(
                "alias-in-endpoints",
                "x: &a https://a\nKMS:\n  - id: cn-north-4\n    endpoints: [*a]\n",
                4,
                |k| *k == K::Alias,
            ),
            err(
                "merge-of-alias",
                "x: &a {id: cn-north-4}\nKMS:\n  - <<: *a\n",
                3,
                |k| matches!(k, K::UnknownKey { key } if key == "<<"),
            ),
        ]
    }

    impl Case {
        /// The same case with its YAML built at run time.
        fn with_yaml(self, yaml: String) -> Case {
            Case {
                yaml: Box::leak(yaml.into_boxed_str()),
                ..self
            }
        }
    }

    fn check(case: &Case) {
        let parsed = RegionsFile::parse(case.yaml.as_bytes());
        match (&case.expect, parsed) {
            (Expect::Ok(entries), Ok(file)) => {
                let regions: Vec<&str> = file.kms_regions().collect();
                let expected: Vec<&str> = entries.iter().map(|(id, _)| *id).collect();
                assert_eq!(regions, expected, "{}: regions", case.name);
                assert_eq!(file.is_empty(), entries.is_empty(), "{}", case.name);
                for (id, endpoints) in *entries {
                    let got: Vec<(&str, usize)> = file
                        .kms_endpoints(id)
                        .unwrap()
                        .iter()
                        .map(|e| (e.url(), e.line()))
                        .collect();
                    assert_eq!(&got, endpoints, "{}: endpoints of {id}", case.name);
                }
                assert_eq!(file.kms_endpoints("xx-nowhere-1"), None, "{}", case.name);
            }
            (Expect::Err(line, kind), Err(error)) => {
                assert!(kind(error.kind()), "{}: {:?}", case.name, error.kind());
                assert_eq!(error.line(), Some(*line), "{}: {error}", case.name);
                let shown = error.to_string();
                assert!(
                    shown.starts_with(&format!("line {line}: ")) && !shown.contains('\n'),
                    "{}: {shown}",
                    case.name
                );
            }
            (Expect::Ok(_), Err(error)) => panic!("{}: {error}", case.name),
            (Expect::Err(..), Ok(file)) => panic!("{}: accepted as {file:?}", case.name),
        }
    }

    #[test]
    fn cases_by_name() {
        let cases = cases();
        let mut names: Vec<&str> = cases.iter().map(|c| c.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), cases.len(), "case names are unique");
        for case in &cases {
            check(case);
        }
    }

    #[test]
    fn lookup_is_exact() {
        let file = RegionsFile::parse(b"KMS: [{id: cn-north-4, endpoint: https://a}]").unwrap();
        assert!(file.kms_endpoints("cn-north-4").is_some());
        assert!(file.kms_endpoints("CN-NORTH-4").is_none());
        assert!(file.kms_endpoints("cn-north-4 ").is_none());
        assert!(file.kms_endpoints("").is_none());
        let region = Region::new("CN-North-4").unwrap();
        assert!(file.kms_endpoints(region.as_str()).is_some());
    }

    #[test]
    fn constants() {
        assert_eq!(ENV_REGIONS_FILE, "HUAWEICLOUD_SDK_REGIONS_FILE");
        assert_eq!(DEFAULT_REGIONS_FILE, ".huaweicloud/regions.yaml");
        assert_eq!(MAX_REGIONS_FILE_LEN, 1 << 20);
        assert_eq!(RegionsFile::default(), RegionsFile::parse(b"").unwrap());
    }

    #[test]
    fn not_utf8_names_the_line() {
        let err = RegionsFile::parse(b"KMS:\n  - id: cn-north-4\n    endpoint: https://\xff\n")
            .unwrap_err();
        assert_eq!(*err.kind(), K::NotUtf8);
        assert_eq!(err.line(), Some(3));
        assert_eq!(
            err.to_string(),
            "line 3: the regions file is not UTF-8 text; save it as UTF-8"
        );
        let err =
            RegionsFile::parse(b"KMS:\r\n  - id: cn-north-4\r    endpoint: \xff").unwrap_err();
        assert_eq!((err.kind(), err.line()), (&K::NotUtf8, Some(3)));
        let err = RegionsFile::parse(b"\xfe\xffK\x00M\x00S\x00").unwrap_err();
        assert_eq!((err.kind(), err.line()), (&K::NotUtf8, Some(1)));
        // Outside the KMS section too: the whole file is text.
        let err = RegionsFile::parse(b"KMS: []\nECS: [\"\xc3\"]\n").unwrap_err();
        assert_eq!((err.kind(), err.line()), (&K::NotUtf8, Some(2)));
    }

    #[test]
    fn too_large() {
        let mut file = b"# ".to_vec();
        file.resize(MAX_REGIONS_FILE_LEN, b'x');
        assert!(RegionsFile::parse(&file).unwrap().is_empty());
        file.push(b'\n');
        let err = RegionsFile::parse(&file).unwrap_err();
        assert_eq!(
            *err.kind(),
            K::TooLarge {
                len: MAX_REGIONS_FILE_LEN + 1,
                max: MAX_REGIONS_FILE_LEN
            }
        );
        assert_eq!(err.line(), None);
        assert_eq!(
            err.to_string(),
            "the regions file is 1048577 bytes long, more than the 1048576 accepted; \
             keep only the entries needed"
        );
    }

    /// Nine levels of nine aliases: expanded, 9^9 (387 million) strings.
    fn billion_laughs() -> String {
        let mut yaml = String::from("lol0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for level in 1..9 {
            let prev = format!("*l{}", level - 1);
            let items = [prev.as_str(); 9].join(", ");
            yaml.push_str(&format!("lol{level}: &l{level} [{items}]\n"));
        }
        yaml
    }

    #[test]
    fn billion_laughs_elsewhere_is_skipped_without_expanding() {
        let mut yaml = billion_laughs();
        yaml.push_str("KMS:\n  - id: cn-north-4\n    endpoint: https://a\n");
        yaml.push_str("ECS: [*l8, *l8, *l8, *l8, *l8, *l8, *l8, *l8, *l8]\n");
        let started = Instant::now();
        let file = RegionsFile::parse(yaml.as_bytes()).unwrap();
        assert_eq!(
            file.kms_endpoints("cn-north-4").unwrap()[0].url(),
            "https://a"
        );
        // As large a file of aliases as is accepted: every one is an event, never a copy.
        let mut big = billion_laughs();
        big.push_str("ECS: [");
        while big.len() < MAX_REGIONS_FILE_LEN - 10 {
            big.push_str("*l8, ");
        }
        big.push_str("*l8]\n");
        assert!(RegionsFile::parse(big.as_bytes()).unwrap().is_empty());
        // Expanded, either would take minutes and gigabytes; skipped, milliseconds.
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn billion_laughs_in_kms_is_refused() {
        let mut yaml = billion_laughs();
        yaml.push_str("KMS:\n  - id: cn-north-4\n    endpoints: *l8\n");
        let err = RegionsFile::parse(yaml.as_bytes()).unwrap_err();
        assert_eq!((err.kind(), err.line()), (&K::Alias, Some(12)));
        let mut yaml = billion_laughs();
        yaml.push_str("KMS: [*l8]\n");
        let err = RegionsFile::parse(yaml.as_bytes()).unwrap_err();
        assert_eq!((err.kind(), err.line()), (&K::Alias, Some(10)));
        assert_eq!(
            err.to_string(),
            "line 10: an alias (`*name`) in the KMS section; anchors and aliases are refused \
             there: write the value out"
        );
    }

    #[test]
    fn deep_nesting_elsewhere_is_refused_without_recursion() {
        let too_deep = K::TooDeep {
            max: RegionsFile::MAX_DEPTH,
        };
        // 100,000 flow sequences: the YAML scanner reads ahead, and stops at 255 itself.
        let yaml = format!("KMS: []\nECS: {}", "[".repeat(100_000));
        let err = RegionsFile::parse(yaml.as_bytes()).unwrap_err();
        let scanner_limit = K::Syntax {
            message: "recursion limit exceeded".to_owned(),
        };
        assert_eq!((err.kind(), err.line()), (&scanner_limit, Some(2)));
        // Fewer than that, ours.
        let yaml = format!("KMS: []\nECS: {}", "[".repeat(200));
        let err = RegionsFile::parse(yaml.as_bytes()).unwrap_err();
        assert_eq!((err.kind(), err.line()), (&too_deep, Some(2)));
        // 100,000 block sequences, which the scanner does not bound.
        let yaml = format!("ECS:\n{}x\n", "- ".repeat(100_000));
        let err = RegionsFile::parse(yaml.as_bytes()).unwrap_err();
        assert_eq!((err.kind(), err.line()), (&too_deep, Some(2)));
        // Block mappings, one indentation deeper each.
        let yaml: String = (0..1000)
            .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
            .collect();
        let err = RegionsFile::parse(yaml.as_bytes()).unwrap_err();
        assert_eq!((err.kind(), err.line()), (&too_deep, Some(65)));
        // Deep as a key, too.
        let yaml = format!("{{{}a{}: x}}", "[".repeat(100), "]".repeat(100));
        let err = RegionsFile::parse(yaml.as_bytes()).unwrap_err();
        assert_eq!(err.kind(), &too_deep);
        // One level less is skipped.
        let yaml = format!("ECS: {}{}\nKMS: []\n", "[".repeat(63), "]".repeat(63));
        assert!(RegionsFile::parse(yaml.as_bytes()).unwrap().is_empty());
        let yaml = format!("ECS: {}{}\n", "[".repeat(64), "]".repeat(64));
        assert_eq!(
            RegionsFile::parse(yaml.as_bytes()).unwrap_err().kind(),
            &too_deep
        );
    }

    fn entries(n: usize) -> String {
        let mut yaml = String::from("KMS:\n");
        for i in 0..n {
            yaml.push_str(&format!("  - {{id: r-{i}, endpoint: https://{i}}}\n"));
        }
        yaml
    }

    #[test]
    fn entry_and_endpoint_caps() {
        let file = RegionsFile::parse(entries(RegionsFile::MAX_ENTRIES).as_bytes()).unwrap();
        assert_eq!(file.kms_regions().count(), RegionsFile::MAX_ENTRIES);
        assert_eq!(file.kms_regions().last(), Some("r-999"));
        assert_eq!(file.kms_endpoints("r-500").unwrap()[0].line(), 502);
        let err = RegionsFile::parse(entries(RegionsFile::MAX_ENTRIES + 1).as_bytes()).unwrap_err();
        assert_eq!(
            (err.kind(), err.line()),
            (&K::TooManyEntries { max: 1000 }, Some(1002))
        );

        let list =
            |n: usize| -> String { (0..n).map(|i| format!("      - https://{i}\n")).collect() };
        let yaml = format!("KMS:\n  - id: cn-north-4\n    endpoints:\n{}", list(32));
        let file = RegionsFile::parse(yaml.as_bytes()).unwrap();
        assert_eq!(file.kms_endpoints("cn-north-4").unwrap().len(), 32);
        let yaml = format!("KMS:\n  - id: cn-north-4\n    endpoints:\n{}", list(33));
        let err = RegionsFile::parse(yaml.as_bytes()).unwrap_err();
        assert_eq!(
            (err.kind(), err.line()),
            (&K::TooManyEndpoints { max: 32 }, Some(36))
        );
        let yaml = format!(
            "KMS:\n  - id: cn-north-4\n    endpoint: https://a\n    endpoints:\n{}",
            list(32)
        );
        let err = RegionsFile::parse(yaml.as_bytes()).unwrap_err();
        assert_eq!(
            (err.kind(), err.line()),
            (&K::TooManyEndpoints { max: 32 }, Some(2))
        );
    }

    #[test]
    fn messages() {
        let shown = |yaml: &str| RegionsFile::parse(yaml.as_bytes()).unwrap_err().to_string();
        assert_eq!(
            shown("KMS:\n  - endpoint: https://a\n"),
            "line 2: a KMS entry has no `id`; give each entry `id: <region>`"
        );
        assert_eq!(
            shown("KMS:\n  - id: cn-north-4\n    endpiont: https://a\n"),
            "line 3: a KMS entry has the unknown key \"endpiont\"; its keys are `id`, \
             `endpoint` and `endpoints`"
        );
        assert_eq!(
            shown("KMS:\n  - {id: cn-north-4, endpoint: a}\n  - {id: cn-north-4, endpoint: b}"),
            "line 3: KMS lists cn-north-4 a second time (first at line 2); merge the two entries"
        );
        assert_eq!(
            shown("KMS: []\nKms: []\n"),
            "line 2: service \"Kms\" repeats the KMS section of line 1 (service names are \
             matched ignoring case); merge the two"
        );
        assert_eq!(
            shown("KMS:\n  - id: \"cn\\nnorth\"\n    endpoint: a\n"),
            "line 2: the KMS entry's `id` \"cn\\nnorth\" is not a region id (invalid region: \
             character U+000A at byte 2 is not allowed; use ASCII letters, digits and '-', as \
             in cn-north-4); write one such as cn-north-4"
        );
        let err = RegionsFile::parse(b"KMS: [\n")
            .unwrap_err()
            .with_path("/home/u/.huaweicloud/regions.yaml");
        assert_eq!(
            err.path(),
            Some(Path::new("/home/u/.huaweicloud/regions.yaml"))
        );
        let shown = err.to_string();
        assert!(
            shown.starts_with(
                "/home/u/.huaweicloud/regions.yaml: line 2: the regions file is not valid YAML ("
            ),
            "{shown}"
        );
        assert!(shown.ends_with("); fix the syntax there"), "{shown}");
        let err = RegionsFile::parse(b"[]")
            .unwrap_err()
            .with_path("C:\\Users\\u\nx.yaml");
        assert_eq!(
            err.to_string(),
            "C:\\Users\\u\\nx.yaml: line 1: the regions file must be a mapping of service names \
             to lists of entries, such as `KMS:` followed by `  - id: cn-north-4`"
        );
    }

    #[test]
    fn invalid_id_is_the_source() {
        let err = RegionsFile::parse(b"KMS: [{id: '-x', endpoint: a}]").unwrap_err();
        let source = err
            .source()
            .and_then(|s| s.downcast_ref::<InvalidInput>())
            .unwrap();
        assert_eq!(source.input(), Input::Region);
        assert!(
            RegionsFile::parse(b"KMS: 1")
                .unwrap_err()
                .source()
                .is_none()
        );
    }

    /// Every error's message is one line that starts with its line number.
    fn check_error(error: &RegionsFileError) {
        let shown = error.to_string();
        assert!(!shown.contains(['\n', '\r']), "{shown:?}");
        match error.line() {
            Some(line) => {
                assert!(line >= 1);
                assert!(shown.starts_with(&format!("line {line}: ")), "{shown}");
            }
            None => assert!(matches!(error.kind(), K::TooLarge { .. }), "{shown}"),
        }
    }

    /// What is accepted keeps the rules: non-empty, at most the caps, lines within the file.
    fn check_file(file: &RegionsFile, text_lines: usize) {
        let regions: Vec<&str> = file.kms_regions().collect();
        assert!(regions.len() <= RegionsFile::MAX_ENTRIES);
        for (i, id) in regions.iter().enumerate() {
            assert!(!regions[..i].contains(id), "{id} twice");
            assert_eq!(Region::new(id).unwrap().as_str(), *id);
            let endpoints = file.kms_endpoints(id).unwrap();
            assert!(!endpoints.is_empty() && endpoints.len() <= RegionsFile::MAX_ENDPOINTS);
            for e in endpoints {
                assert!(!e.url().is_empty());
                assert!(e.line() >= 1 && e.line() <= text_lines, "{e:?}");
            }
        }
    }

    fn check_any(bytes: &[u8]) {
        match RegionsFile::parse(bytes) {
            Ok(file) => check_file(&file, line_breaks(bytes) + 1),
            Err(error) => check_error(&error),
        }
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            check_any(&bytes);
        }

        #[test]
        fn never_panics_on_arbitrary_text(text in "\\PC{0,256}") {
            check_any(text.as_bytes());
        }

        #[test]
        fn never_panics_on_yaml_soup(
            tokens in proptest::collection::vec(
                prop_oneof![
                    Just("KMS:"), Just("kms:"), Just("ECS:"), Just("- "), Just("  "), Just("\n"),
                    Just("id: "), Just("endpoint: "), Just("endpoints: "), Just("cn-north-4"),
                    Just("https://a"), Just("["), Just("]"), Just("{"), Just("}"), Just(", "),
                    Just("&a "), Just("*a"), Just("? "), Just(": "), Just("---\n"), Just("...\n"),
                    Just("'"), Just("\""), Just("|\n"), Just(">-\n"), Just("#"), Just("!!str "),
                    Just("~"), Just("\t"), Just("<<: "), Just("\u{feff}"),
                ],
                0..40,
            ),
        ) {
            check_any(tokens.concat().as_bytes());
        }

        #[test]
        fn well_formed_files_round_trip(
            entries in proptest::collection::vec(
                (
                    "[a-z]{1,4}-[a-z]{1,6}-[1-9]",
                    proptest::option::of("\\PC{1,20}"),
                    proptest::collection::vec("\\PC{1,20}", 0..4),
                ),
                0..6,
            ),
        ) {
            let quote = |s: &str| -> String {
                let mut out = String::from("\"");
                for c in s.chars() {
                    match c {
                        '"' | '\\' => { out.push('\\'); out.push(c); }
                        ' '..='~' => out.push(c),
                        c if u32::from(c) <= 0xFFFF => out.push_str(&format!("\\u{:04X}", u32::from(c))),
                        c => out.push_str(&format!("\\U{:08X}", u32::from(c))),
                    }
                }
                out.push('"');
                out
            };
            let mut yaml = String::from("ECS: [{id: x}]\nKMS:\n");
            let mut expected: Vec<(String, Vec<String>)> = Vec::new();
            for (id, endpoint, endpoints) in &entries {
                if expected.iter().any(|(seen, _)| seen == id) {
                    continue;
                }
                if endpoint.is_none() && endpoints.is_empty() {
                    continue;
                }
                yaml.push_str(&format!("  - id: {id}\n"));
                let mut all = Vec::new();
                if let Some(e) = endpoint {
                    yaml.push_str(&format!("    endpoint: {}\n", quote(e)));
                    all.push(e.clone());
                }
                if !endpoints.is_empty() {
                    yaml.push_str("    endpoints:\n");
                    for e in endpoints {
                        yaml.push_str(&format!("      - {}\n", quote(e)));
                        all.push(e.clone());
                    }
                }
                expected.push((id.clone(), all));
            }
            if expected.is_empty() {
                yaml.push_str("  []\n");
            }
            let file = RegionsFile::parse(yaml.as_bytes()).map_err(|e| TestCaseError::fail(format!("{e}\n{yaml}")))?;
            let regions: Vec<&str> = file.kms_regions().collect();
            let ids: Vec<&str> = expected.iter().map(|(id, _)| id.as_str()).collect();
            prop_assert_eq!(regions, ids);
            for (id, all) in &expected {
                let got: Vec<&str> = file.kms_endpoints(id).unwrap().iter().map(FileEndpoint::url).collect();
                prop_assert_eq!(&got, all);
            }
        }
    }
}
