//! The YAML side of the regions file: yaml-rust2's event parser, walked without
//! recursion (feature `regions-file`).

use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{ScanError, TScalarStyle};

use super::{FileEndpoint, KmsEntry, RegionsFile, RegionsFileError, RegionsFileErrorKind};
use crate::input::Region;

/// The regions file of `text` (UTF-8, without a byte-order mark).
pub(super) fn parse(text: &str) -> Result<RegionsFile, RegionsFileError> {
    Walker {
        parser: Parser::new_from_str(text),
        file: RegionsFile::default(),
    }
    .stream()
}

/// Whether a scalar is YAML's null: empty, `~` or `null`, unquoted.
fn is_null(value: &str, style: TScalarStyle) -> bool {
    style == TScalarStyle::Plain && matches!(value, "" | "~" | "null" | "Null" | "NULL")
}

/// Walks the parser's events and fills the KMS section. Nothing here recurses: the shape
/// of the KMS section is fixed, and other values are skipped with a counter.
struct Walker<'a> {
    parser: Parser<std::str::Chars<'a>>,
    file: RegionsFile,
}

/// What one `endpoint`/`endpoints` key of an entry held.
type Endpoints = Option<Vec<FileEndpoint>>;

impl Walker<'_> {
    /// The next event and its line.
    fn next(&mut self) -> Result<(Event, usize), RegionsFileError> {
        match self.parser.next_token() {
            Ok((event, mark)) => Ok((event, mark.line())),
            Err(error) => Err(syntax(&error)),
        }
    }

    /// The whole stream: at most one document.
    fn stream(mut self) -> Result<RegionsFile, RegionsFileError> {
        let (event, line) = self.next()?;
        if event != Event::StreamStart {
            return Err(unexpected(line));
        }
        match self.next()? {
            (Event::StreamEnd, _) => return Ok(self.file),
            (Event::DocumentStart, _) => {}
            (_, line) => return Err(unexpected(line)),
        }
        self.document()?;
        match self.next()? {
            (Event::DocumentEnd, _) => {}
            (_, line) => return Err(unexpected(line)),
        }
        match self.next()? {
            (Event::StreamEnd, _) => Ok(self.file),
            (Event::DocumentStart, line) => Err(RegionsFileError::at(
                line,
                RegionsFileErrorKind::MultipleDocuments,
            )),
            (_, line) => Err(unexpected(line)),
        }
    }

    /// The document's root: a mapping of services, or null.
    fn document(&mut self) -> Result<(), RegionsFileError> {
        match self.next()? {
            (Event::MappingStart(..), _) => self.services(),
            (Event::Scalar(value, style, ..), _) if is_null(&value, style) => Ok(()),
            (_, line) => Err(RegionsFileError::at(
                line,
                RegionsFileErrorKind::NotAMapping,
            )),
        }
    }

    /// The top-level mapping, after its start.
    fn services(&mut self) -> Result<(), RegionsFileError> {
        let mut kms_line = None;
        loop {
            let (event, line) = self.next()?;
            match event {
                Event::MappingEnd => return Ok(()),
                Event::Scalar(name, _, anchor, _) if name.eq_ignore_ascii_case("kms") => {
                    if anchor != 0 {
                        return Err(RegionsFileError::at(line, RegionsFileErrorKind::Anchor));
                    }
                    if let Some(first_line) = kms_line {
                        return Err(RegionsFileError::at(
                            line,
                            RegionsFileErrorKind::DuplicateService { name, first_line },
                        ));
                    }
                    kms_line = Some(line);
                    self.kms(line)?;
                }
                Event::Scalar(..) => self.skip_node(1)?,
                Event::Alias(_) => {
                    return Err(RegionsFileError::at(
                        line,
                        RegionsFileErrorKind::AliasServiceName,
                    ));
                }
                // A key that is a list or a mapping names no service: skip it and its value.
                event @ (Event::SequenceStart(..) | Event::MappingStart(..)) => {
                    self.skip(event, line, 1)?;
                    self.skip_node(1)?;
                }
                _ => return Err(unexpected(line)),
            }
        }
    }

    /// Skips the next node, nested in `outer` collections.
    fn skip_node(&mut self, outer: usize) -> Result<(), RegionsFileError> {
        let (event, line) = self.next()?;
        self.skip(event, line, outer)
    }

    /// Skips the node that starts with `event`, nested in `outer` collections: aliases are
    /// not expanded, only events counted.
    fn skip(
        &mut self,
        mut event: Event,
        mut line: usize,
        outer: usize,
    ) -> Result<(), RegionsFileError> {
        let mut open = 0usize;
        loop {
            match event {
                Event::SequenceStart(..) | Event::MappingStart(..) => {
                    open += 1;
                    if outer + open > RegionsFile::MAX_DEPTH {
                        return Err(RegionsFileError::at(
                            line,
                            RegionsFileErrorKind::TooDeep {
                                max: RegionsFile::MAX_DEPTH,
                            },
                        ));
                    }
                }
                Event::SequenceEnd | Event::MappingEnd if open > 0 => open -= 1,
                Event::Scalar(..) | Event::Alias(_) => {}
                _ => return Err(unexpected(line)),
            }
            if open == 0 {
                return Ok(());
            }
            (event, line) = self.next()?;
        }
    }

    /// The KMS section's value, whose key is on `key_line`.
    fn kms(&mut self, key_line: usize) -> Result<(), RegionsFileError> {
        match self.next()? {
            (Event::SequenceStart(0, _), _) => {}
            (Event::SequenceStart(..), line) => {
                return Err(RegionsFileError::at(line, RegionsFileErrorKind::Anchor));
            }
            (Event::Alias(_), line) => {
                return Err(RegionsFileError::at(line, RegionsFileErrorKind::Alias));
            }
            _ => {
                return Err(RegionsFileError::at(
                    key_line,
                    RegionsFileErrorKind::KmsNotAList,
                ));
            }
        }
        loop {
            let (event, line) = self.next()?;
            match event {
                Event::SequenceEnd => return Ok(()),
                Event::MappingStart(0, _) => {
                    if self.file.entries.len() >= RegionsFile::MAX_ENTRIES {
                        return Err(RegionsFileError::at(
                            line,
                            RegionsFileErrorKind::TooManyEntries {
                                max: RegionsFile::MAX_ENTRIES,
                            },
                        ));
                    }
                    self.entry(line)?;
                }
                Event::MappingStart(..) | Event::SequenceStart(1.., _) => {
                    return Err(RegionsFileError::at(line, RegionsFileErrorKind::Anchor));
                }
                Event::Scalar(_, _, 1.., _) => {
                    return Err(RegionsFileError::at(line, RegionsFileErrorKind::Anchor));
                }
                Event::Alias(_) => {
                    return Err(RegionsFileError::at(line, RegionsFileErrorKind::Alias));
                }
                _ => {
                    return Err(RegionsFileError::at(
                        line,
                        RegionsFileErrorKind::EntryNotAMapping,
                    ));
                }
            }
        }
    }

    /// One KMS entry, after its mapping's start on `entry_line`.
    fn entry(&mut self, entry_line: usize) -> Result<(), RegionsFileError> {
        use RegionsFileErrorKind as K;
        let mut id: Option<(String, usize)> = None;
        let mut endpoint: Endpoints = None;
        let mut endpoints: Endpoints = None;
        loop {
            let (event, line) = self.next()?;
            let key = match event {
                Event::MappingEnd => break,
                Event::Scalar(key, _, 0, _) => key,
                Event::Scalar(..) => return Err(RegionsFileError::at(line, K::Anchor)),
                Event::Alias(_) => return Err(RegionsFileError::at(line, K::Alias)),
                _ => return Err(RegionsFileError::at(line, K::KeyNotAString)),
            };
            let (name, slot) = match key.as_str() {
                "id" => {
                    if id.is_some() {
                        return Err(RegionsFileError::at(line, K::DuplicateKey { key: "id" }));
                    }
                    id = Some(self.string("id", line)?);
                    continue;
                }
                "endpoint" => ("endpoint", &mut endpoint),
                "endpoints" => ("endpoints", &mut endpoints),
                _ => return Err(RegionsFileError::at(line, K::UnknownKey { key })),
            };
            if slot.is_some() {
                return Err(RegionsFileError::at(line, K::DuplicateKey { key: name }));
            }
            *slot = Some(if name == "endpoint" {
                let (url, line) = self.string(name, line)?;
                vec![FileEndpoint { url, line }]
            } else {
                self.endpoint_list(line)?
            });
        }
        let Some((written, id_line)) = id else {
            return Err(RegionsFileError::at(entry_line, K::MissingId));
        };
        let region = match Region::new(&written) {
            Ok(region) => region,
            Err(error) => {
                return Err(RegionsFileError::at(
                    id_line,
                    K::InvalidId { id: written, error },
                ));
            }
        };
        let id = region.as_str().to_owned();
        let all: Vec<FileEndpoint> = endpoint
            .into_iter()
            .flatten()
            .chain(endpoints.into_iter().flatten())
            .collect();
        if all.is_empty() {
            return Err(RegionsFileError::at(entry_line, K::NoEndpoint { id }));
        }
        if all.len() > RegionsFile::MAX_ENDPOINTS {
            return Err(RegionsFileError::at(
                entry_line,
                K::TooManyEndpoints {
                    max: RegionsFile::MAX_ENDPOINTS,
                },
            ));
        }
        if let Some(first) = self.file.entries.iter().find(|entry| entry.id == id) {
            return Err(RegionsFileError::at(
                id_line,
                K::DuplicateId {
                    id,
                    first_line: first.line,
                },
            ));
        }
        self.file.entries.push(KmsEntry {
            id,
            line: id_line,
            endpoints: all,
        });
        Ok(())
    }

    /// The value of `key` (on `key_line`): one non-empty string, and its line.
    fn string(
        &mut self,
        key: &'static str,
        key_line: usize,
    ) -> Result<(String, usize), RegionsFileError> {
        use RegionsFileErrorKind as K;
        let (event, line) = self.next()?;
        match event {
            Event::Scalar(_, _, 1.., _) => Err(RegionsFileError::at(line, K::Anchor)),
            Event::Scalar(value, style, ..) if value.is_empty() || is_null(&value, style) => {
                Err(RegionsFileError::at(key_line, K::Empty { key }))
            }
            Event::Scalar(value, ..) => Ok((value, line)),
            Event::Alias(_) => Err(RegionsFileError::at(line, K::Alias)),
            _ => Err(RegionsFileError::at(line, K::NotAString { key })),
        }
    }

    /// The value of `endpoints` (on `key_line`): a list of non-empty strings.
    fn endpoint_list(&mut self, key_line: usize) -> Result<Vec<FileEndpoint>, RegionsFileError> {
        use RegionsFileErrorKind as K;
        const KEY: &str = "endpoints";
        match self.next()? {
            (Event::SequenceStart(0, _), _) => {}
            (Event::SequenceStart(..), line) => return Err(RegionsFileError::at(line, K::Anchor)),
            (Event::Alias(_), line) => return Err(RegionsFileError::at(line, K::Alias)),
            (Event::Scalar(value, style, 0, _), _) if is_null(&value, style) => {
                return Err(RegionsFileError::at(key_line, K::Empty { key: KEY }));
            }
            _ => return Err(RegionsFileError::at(key_line, K::NotAList { key: KEY })),
        }
        let mut list = Vec::new();
        loop {
            let (event, line) = self.next()?;
            match event {
                Event::SequenceEnd => return Ok(list),
                Event::Scalar(_, _, 1.., _) => return Err(RegionsFileError::at(line, K::Anchor)),
                // An unquoted empty item is reported where the next token is: blame the key.
                Event::Scalar(value, style, ..) if is_null(&value, style) => {
                    return Err(RegionsFileError::at(key_line, K::Empty { key: KEY }));
                }
                Event::Scalar(value, ..) if value.is_empty() => {
                    return Err(RegionsFileError::at(line, K::Empty { key: KEY }));
                }
                Event::Scalar(url, ..) => {
                    if list.len() >= RegionsFile::MAX_ENDPOINTS {
                        return Err(RegionsFileError::at(
                            line,
                            K::TooManyEndpoints {
                                max: RegionsFile::MAX_ENDPOINTS,
                            },
                        ));
                    }
                    list.push(FileEndpoint { url, line });
                }
                Event::Alias(_) => return Err(RegionsFileError::at(line, K::Alias)),
                _ => return Err(RegionsFileError::at(line, K::NotAString { key: KEY })),
            }
        }
    }
}

/// The YAML parser's error.
fn syntax(error: &ScanError) -> RegionsFileError {
    RegionsFileError::at(
        error.marker().line(),
        RegionsFileErrorKind::Syntax {
            message: error.info().to_owned(),
        },
    )
}

/// An event the YAML grammar does not allow where it came (the parser never sends one):
/// reported as a syntax error rather than trusted.
fn unexpected(line: usize) -> RegionsFileError {
    RegionsFileError::at(
        line,
        RegionsFileErrorKind::Syntax {
            message: "unexpected structure".to_owned(),
        },
    )
}
