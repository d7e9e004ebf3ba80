//! Sources that are files: the official profile file and KooCLI's configuration. Read at
//! every refresh of their link; keys they hold never expire, so only a profile that
//! federates (`idp_id` and `id_token_file`) is ever refreshed, and then the file is read
//! again and followed as it is now.

use std::path::PathBuf;

use super::super::error::{Failure, FileProblem};
use super::super::koocli::{MAX_KOOCLI_LEN, parse_koocli};
use super::super::profile::{MAX_PROFILE_LEN, ProfileSection, parse_profile};
use super::super::{Identity, SourceKind};
use super::federation::Federation;
use super::{FileRead, IamPlace, Next};

#[derive(Clone, Debug)]
pub(crate) struct FileSource {
    path: PathBuf,
    /// `Some(profile name)` for KooCLI (`None` inside: its current profile).
    koocli: Option<Option<String>>,
    /// Named by the user: a missing file is a failure, not a reason to skip.
    explicit: bool,
    /// `HUAWEICLOUD_SDK_IAM_ENDPOINT`, for a profile that federates.
    iam_env: Option<String>,
}

/// What a profile gave: credentials (or why not), or IAM federation to run.
pub(crate) enum FileOutcome {
    Next(Next),
    Federate(Federation),
}

/// Waiting for the file.
pub(crate) struct Step;

impl FileSource {
    pub(crate) fn profile(path: PathBuf, explicit: bool) -> Self {
        FileSource {
            path,
            koocli: None,
            explicit,
            iam_env: None,
        }
    }

    pub(crate) fn koocli(path: PathBuf, profile: Option<String>, explicit: bool) -> Self {
        FileSource {
            path,
            koocli: Some(profile),
            explicit,
            iam_env: None,
        }
    }

    /// Remembers `HUAWEICLOUD_SDK_IAM_ENDPOINT`, for a profile that federates.
    pub(crate) fn with_iam_env(mut self, iam_env: Option<String>) -> Self {
        self.iam_env = iam_env;
        self
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

    pub(crate) fn on_file(
        &self,
        _step: &mut Step,
        result: Result<Vec<u8>, FileProblem>,
    ) -> FileOutcome {
        FileOutcome::Next(match self.read(result) {
            Ok(outcome) => return outcome,
            Err(failure) => Next::Finished(Err(failure)),
        })
    }

    fn read(&self, result: Result<Vec<u8>, FileProblem>) -> Result<FileOutcome, Failure> {
        let bytes = match result {
            Ok(bytes) => bytes,
            Err(FileProblem::NotFound) if !self.explicit => {
                return Err(Failure::NoFile(self.path.clone()));
            }
            Err(problem) => return Err(Failure::File(self.path.clone(), problem)),
        };
        let profile = match &self.koocli {
            None => parse_profile(&bytes, ProfileSection::Basic),
            Some(name) => parse_koocli(&bytes, name.as_deref()),
        };
        let profile = profile.map_err(|e| Failure::Profile(e.with_path(self.path.clone())))?;
        // As in the official SDKs, an identity provider and token file take precedence over
        // keys in the same section.
        if let (Some(idp), Some(token_file)) = (profile.idp_id(), profile.id_token_file()) {
            let place = IamPlace::new(
                self.iam_env.clone(),
                profile.iam_endpoint().map(str::to_owned),
            );
            return Ok(FileOutcome::Federate(Federation::new(
                place,
                idp.to_owned(),
                token_file.into(),
            )));
        }
        match profile.credentials() {
            Some(credentials) => Ok(FileOutcome::Next(Next::Finished(Ok(Identity::new(
                credentials,
                None,
                self.kind(),
            ))))),
            None => Err(Failure::NoKeys(self.path.clone())),
        }
    }
}
