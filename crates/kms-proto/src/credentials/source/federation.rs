//! IAM federation with an OIDC identity token, as the official SDKs do it:
//!
//! 1. `POST {iam}/v3.0/OS-AUTH/id-token/tokens` with `X-Idp-Id` and
//!    `{"auth":{"id_token":{"id":"<token>"}}}` gives an unscoped IAM token in the answer's
//!    `X-Subject-Token`;
//! 2. `POST {iam}/v3.0/OS-CREDENTIAL/securitytokens` with that token in the body gives
//!    temporary AK/SK (6 hours).
//!
//! The identity-token file is read again at every refresh: the platform (CCE, a CI system)
//! rotates it.

use std::path::PathBuf;

use http::{HeaderMap, HeaderValue, StatusCode};
use serde_json::json;

use super::super::document::parse_document;
use super::super::error::{Failure, FileProblem};
use super::super::{Credentials, Identity, SourceKind};
use super::{FileRead, IamPlace, Next, remote_request, secret_text, url_of};
use crate::credentials::MAX_TOKEN_LEN;
use crate::input::{Endpoint, Input, Region};
use crate::redact::Secrets;

const TOKEN_PATH: &str = "/v3.0/OS-AUTH/id-token/tokens";
const SECURITY_TOKEN_PATH: &str = "/v3.0/OS-CREDENTIAL/securitytokens";
/// The temporary credentials' lifetime asked for, as the official SDKs ask: 6 hours.
const DURATION_SECONDS: u32 = 6 * 3600;
/// The largest identity token read, in bytes (JWTs run to a few kilobytes).
pub(crate) const MAX_ID_TOKEN: u64 = MAX_TOKEN_LEN as u64 + 2;

#[derive(Clone, Debug)]
pub(crate) struct Federation {
    iam: IamPlace,
    idp_id: String,
    token_file: PathBuf,
}

pub(crate) enum Step {
    ReadToken {
        iam: Endpoint,
    },
    /// `secrets`: what was sent (the identity token), to scrub from IAM's answers.
    Exchange {
        iam: Endpoint,
        secrets: Secrets,
    },
    /// `secrets`: the identity token and the IAM token sent.
    SecurityToken {
        iam: Endpoint,
        secrets: Secrets,
    },
}

impl Federation {
    pub(crate) fn new(iam: IamPlace, idp_id: String, token_file: PathBuf) -> Self {
        Federation {
            iam,
            idp_id,
            token_file,
        }
    }

    pub(crate) fn url(&self, step: &Step) -> String {
        match step {
            Step::ReadToken { iam } | Step::Exchange { iam, .. } => url_of(iam, TOKEN_PATH),
            Step::SecurityToken { iam, .. } => url_of(iam, SECURITY_TOKEN_PATH),
        }
    }

    pub(crate) fn start(&self, region: Option<&Region>) -> (Option<Step>, Next) {
        match self.iam.resolve(region) {
            Ok(iam) => (
                Some(Step::ReadToken { iam }),
                Next::File(FileRead {
                    path: self.token_file.clone(),
                    max_len: MAX_ID_TOKEN,
                }),
            ),
            Err(failure) => (None, Next::Finished(Err(failure))),
        }
    }

    pub(crate) fn on_file(&self, step: &mut Step, result: Result<Vec<u8>, FileProblem>) -> Next {
        let Step::ReadToken { iam } = step else {
            return Next::Finished(Err(super::unexpected()));
        };
        let iam = iam.clone();
        let token = match result {
            Ok(bytes) => match secret_text(Input::IdToken, &bytes, &self.token_file) {
                Ok(token) => token,
                Err(failure) => return Next::Finished(Err(failure)),
            },
            Err(problem) => {
                return Next::Finished(Err(Failure::File(self.token_file.clone(), problem)));
            }
        };
        let idp = match HeaderValue::from_str(&self.idp_id) {
            Ok(idp) => idp,
            Err(_) => return Next::Finished(Err(super::unexpected())),
        };
        let body = json!({"auth": {"id_token": {"id": token}}});
        let next = into_next(remote_request(
            &iam,
            TOKEN_PATH,
            &[("x-idp-id", idp)],
            &body,
        ));
        *step = Step::Exchange {
            iam,
            secrets: Secrets::new().with(&token),
        };
        next
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
            let none = Secrets::new();
            let secrets = match step {
                Step::ReadToken { .. } => &none,
                Step::Exchange { secrets, .. } | Step::SecurityToken { secrets, .. } => secrets,
            };
            return Next::Finished(Err(Failure::Iam {
                url,
                error: Box::new(crate::iam::IamError::parse_scrubbed(
                    status, headers, body, secrets,
                )),
            }));
        }
        match step {
            Step::ReadToken { .. } => Next::Finished(Err(super::unexpected())),
            Step::Exchange { iam, secrets } => {
                let iam = iam.clone();
                let secrets = std::mem::take(secrets);
                let Some(token) = subject_token(headers) else {
                    return Next::Finished(Err(Failure::Incomplete {
                        url,
                        missing: "X-Subject-Token (the IAM token)",
                    }));
                };
                let body = json!({"auth": {"identity": {
                    "methods": ["token"],
                    "token": {"id": token, "duration_seconds": DURATION_SECONDS}
                }}});
                let next = into_next(remote_request(&iam, SECURITY_TOKEN_PATH, &[], &body));
                *step = Step::SecurityToken {
                    iam,
                    secrets: secrets.with(&token),
                };
                next
            }
            Step::SecurityToken { .. } => Next::Finished(match parse_document(body) {
                Ok(temporary) => {
                    let (aksk, expires_at) = temporary.into_parts();
                    Ok(Identity::new(
                        Credentials::AkSk(aksk),
                        Some(expires_at),
                        SourceKind::IamFederation,
                    ))
                }
                Err(error) => Err(Failure::Document { url, error }),
            }),
        }
    }
}

/// The IAM token of an answer's `X-Subject-Token`, when it is one.
pub(crate) fn subject_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-subject-token")
        .and_then(|v| v.to_str().ok())
        .filter(|t| crate::AuthToken::new(t).is_ok())
        .map(str::to_owned)
}

pub(crate) fn into_next(request: Result<super::SourceRequest, Failure>) -> Next {
    match request {
        Ok(request) => Next::Http(request),
        Err(failure) => Next::Finished(Err(failure)),
    }
}
