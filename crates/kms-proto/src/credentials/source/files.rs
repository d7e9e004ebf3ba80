//! Sources that are files: the official profile file and KooCLI's configuration. Read once,
//! at the first refresh; what they hold never expires.

use std::path::PathBuf;

use super::super::error::{Failure, FileProblem};
use super::super::koocli::{MAX_KOOCLI_LEN, parse_koocli};
use super::super::profile::{MAX_PROFILE_LEN, ProfileSection, parse_profile};
use super::super::{Identity, SourceKind};
use super::{FileRead, Next};

#[derive(Clone, Debug)]
pub(crate) struct FileSource {
    path: PathBuf,
    /// `Some(profile name)` for KooCLI (`None` inside: its current profile).
    koocli: Option<Option<String>>,
    /// Named by the user: a missing file is a failure, not a reason to skip.
    explicit: bool,
}

/// Waiting for the file.
pub(crate) struct Step;

impl FileSource {
    pub(crate) fn profile(path: PathBuf, explicit: bool) -> Self {
        FileSource {
            path,
            koocli: None,
            explicit,
        }
    }

    pub(crate) fn koocli(path: PathBuf, profile: Option<String>, explicit: bool) -> Self {
        FileSource {
            path,
            koocli: Some(profile),
            explicit,
        }
    }

    pub(crate) fn kind(&self) -> SourceKind {
        if self.koocli.is_some() {
            SourceKind::KooCli
        } else {
            SourceKind::ProfileFile
        }
    }

    pub(crate) fn start(&self) -> (Step, Next) {
        let max_len = if self.koocli.is_some() {
            MAX_KOOCLI_LEN as u64
        } else {
            MAX_PROFILE_LEN as u64
        };
        (
            Step,
            Next::File(FileRead {
                path: self.path.clone(),
                max_len,
            }),
        )
    }

    pub(crate) fn on_file(&self, _step: &mut Step, result: Result<Vec<u8>, FileProblem>) -> Next {
        let bytes = match result {
            Ok(bytes) => bytes,
            Err(FileProblem::NotFound) if !self.explicit => {
                return Next::Finished(Err(Failure::NoFile(self.path.clone())));
            }
            Err(problem) => return Next::Finished(Err(Failure::File(self.path.clone(), problem))),
        };
        let profile = match &self.koocli {
            None => parse_profile(&bytes, ProfileSection::Basic),
            Some(name) => parse_koocli(&bytes, name.as_deref()),
        };
        let profile = match profile {
            Ok(profile) => profile,
            Err(e) => return Next::Finished(Err(Failure::Profile(e.with_path(self.path.clone())))),
        };
        match profile.credentials() {
            Some(credentials) => Next::Finished(Ok(Identity::new(credentials, None, self.kind()))),
            None => Next::Finished(Err(Failure::NoKeys(self.path.clone()))),
        }
    }
}
