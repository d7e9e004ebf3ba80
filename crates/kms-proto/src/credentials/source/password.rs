//! An IAM user token from a user name, its account (domain) name and its password:
//! `POST {iam}/v3/auth/tokens`, scoped to the project (by id, or by the region's name);
//! the token is the answer's `X-Subject-Token`, its expiry the body's `token.expires_at`
//! (24 hours). The API document's only authentication; no official SDK obtains it. IAM
//! limits how often tokens are made, so the cache asks once per token lifetime, not per
//! call.

use std::path::PathBuf;

use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::json;

use super::super::error::{Failure, FileProblem};
use super::super::{Credentials, Identity, Secret, SourceKind};
use super::federation::{into_next, subject_token};
use super::{FileRead, IamPlace, Next, remote_request, url_of};
use crate::input::{Endpoint, ProjectId, Region};
use crate::redact::Secrets;

const PATH: &str = "/v3/auth/tokens";
/// The longest password read from a file, in bytes.
const MAX_PASSWORD: u64 = 1024;

#[derive(Clone, Debug)]
pub(crate) enum PasswordFrom {
    Value(Secret),
    File(PathBuf),
}

#[derive(Clone, Debug)]
pub(crate) struct Password {
    pub(crate) iam: IamPlace,
    pub(crate) domain: String,
    pub(crate) user: String,
    pub(crate) password: PasswordFrom,
}

pub(crate) struct Step {
    iam: Endpoint,
    scope: serde_json::Value,
    /// The password sent, to scrub from IAM's answer.
    secrets: Secrets,
}

#[derive(Deserialize)]
struct TokenBody {
    token: TokenInfo,
}

#[derive(Deserialize)]
struct TokenInfo {
    expires_at: String,
}

impl Password {
    pub(crate) fn url(&self, step: &Step) -> String {
        url_of(&step.iam, PATH)
    }

    pub(crate) fn start(
        &self,
        region: Option<&Region>,
        project: Option<&ProjectId>,
    ) -> (Option<Step>, Next) {
        let scope = match (project, region) {
            (Some(project), _) => json!({"project": {"id": project.as_str()}}),
            (None, Some(region)) => json!({"project": {"name": region.as_str()}}),
            (None, None) => {
                return (
                    None,
                    Next::Finished(Err(Failure::Misconfigured(
                        "an IAM token is scoped to a project: give a project id or a region"
                            .to_owned(),
                    ))),
                );
            }
        };
        let iam = match self.iam.resolve(region) {
            Ok(iam) => iam,
            Err(failure) => return (None, Next::Finished(Err(failure))),
        };
        let mut step = Step {
            iam,
            scope,
            secrets: Secrets::new(),
        };
        let next = match &self.password {
            PasswordFrom::Value(password) => self.ask(&mut step, password.expose()),
            PasswordFrom::File(path) => Next::File(FileRead {
                path: path.clone(),
                max_len: MAX_PASSWORD,
            }),
        };
        (Some(step), next)
    }

    fn ask(&self, step: &mut Step, password: &str) -> Next {
        step.secrets = Secrets::new().with(password);
        let body = json!({"auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {
                    "domain": {"name": self.domain},
                    "name": self.user,
                    "password": password,
                }}
            },
            "scope": step.scope,
        }});
        into_next(remote_request(&step.iam, PATH, &[], &body))
    }

    pub(crate) fn on_file(&self, step: &mut Step, result: Result<Vec<u8>, FileProblem>) -> Next {
        let PasswordFrom::File(path) = &self.password else {
            return Next::Finished(Err(super::unexpected()));
        };
        match result {
            Ok(bytes) => match password_line(&bytes) {
                Some(password) => self.ask(step, &password),
                None => Next::Finished(Err(Failure::Invalid(
                    crate::InvalidInput::new(
                        crate::Input::Password,
                        crate::Problem::Malformed {
                            expected: "a password on the file's first line, in UTF-8",
                        },
                    )
                    .with_origin(path.display().to_string()),
                ))),
            },
            Err(problem) => Next::Finished(Err(Failure::File(path.clone(), problem))),
        }
    }

    pub(crate) fn on_response(
        &self,
        step: &mut Step,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Next {
        let url = self.url(step);
        if !status.is_success() {
            return Next::Finished(Err(Failure::Iam {
                url,
                error: Box::new(crate::iam::IamError::parse_scrubbed(
                    status,
                    headers,
                    body,
                    &step.secrets,
                )),
            }));
        }
        let Some(token) = subject_token(headers).and_then(|t| crate::AuthToken::new(&t).ok())
        else {
            return Next::Finished(Err(Failure::Incomplete {
                url,
                missing: "X-Subject-Token (the IAM token)",
            }));
        };
        let expires_at = serde_json::from_slice::<TokenBody>(body)
            .ok()
            .and_then(|b| super::super::document::parse_time(&b.token.expires_at));
        let Some(expires_at) = expires_at else {
            return Next::Finished(Err(Failure::Incomplete {
                url,
                missing: "token.expires_at (the token's expiry)",
            }));
        };
        Next::Finished(Ok(Identity::new(
            Credentials::Token(token),
            Some(expires_at),
            SourceKind::IamPassword,
        )))
    }
}

/// The first line of a password file (a trailing line break is not part of the password;
/// spaces are).
fn password_line(bytes: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(bytes).ok()?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let line = text.lines().next()?;
    (!line.is_empty() && line.len() <= MAX_PASSWORD as usize).then(|| line.to_owned())
}
