//! STS: assume an agency with an OIDC identity token, the newer path the official SDKs
//! try first: `POST {sts}/v5/agencies/assume-with-oidc` with the provider and agency URNs,
//! a session name, the identity token and the lifetime asked for, answered with temporary
//! AK/SK. The token comes from `HUAWEICLOUD_OIDC_ID_TOKEN`, or from
//! `HUAWEICLOUD_OIDC_TOKEN_FILE`, read again at every refresh.

use std::path::PathBuf;

use http::{HeaderMap, StatusCode};
use serde_json::json;

use super::super::document::parse_document;
use super::super::error::{Failure, FileProblem};
use super::super::{Credentials, Identity, Secret, SourceKind};
use super::federation::{MAX_ID_TOKEN, into_next};
use super::{FileRead, Next, remote_request, secret_text, url_of};
use crate::input::{Endpoint, Input};
use crate::redact::Secrets;

const PATH: &str = "/v5/agencies/assume-with-oidc";

#[derive(Clone, Debug)]
pub(crate) enum IdToken {
    Value(Secret),
    File(PathBuf),
}

#[derive(Clone, Debug)]
pub(crate) struct Sts {
    pub(crate) endpoint: Endpoint,
    pub(crate) provider_urn: String,
    pub(crate) agency_urn: String,
    pub(crate) token: IdToken,
    pub(crate) session_name: String,
    pub(crate) duration_seconds: u32,
    pub(crate) policy: Option<String>,
    pub(crate) policy_ids: Vec<String>,
}

pub(crate) enum Step {
    ReadToken,
    /// The identity token sent, to scrub from STS's answer.
    Assume(Secrets),
}

impl Sts {
    pub(crate) fn url(&self) -> String {
        url_of(&self.endpoint, PATH)
    }

    pub(crate) fn start(&self) -> (Step, Next) {
        match &self.token {
            IdToken::Value(token) => (
                Step::Assume(Secrets::new().with(token.expose())),
                self.assume(token.expose()),
            ),
            IdToken::File(path) => (
                Step::ReadToken,
                Next::File(FileRead {
                    path: path.clone(),
                    max_len: MAX_ID_TOKEN,
                }),
            ),
        }
    }

    fn assume(&self, token: &str) -> Next {
        let mut body = json!({
            "provider_urn": self.provider_urn,
            "agency_urn": self.agency_urn,
            "agency_session_name": self.session_name,
            "id_token": token,
            "duration_seconds": self.duration_seconds,
        });
        if let Some(object) = body.as_object_mut() {
            if let Some(policy) = &self.policy {
                object.insert("policy".to_owned(), json!(policy));
            }
            if !self.policy_ids.is_empty() {
                object.insert("policy_ids".to_owned(), json!(self.policy_ids));
            }
        }
        into_next(remote_request(&self.endpoint, PATH, &[], &body))
    }

    pub(crate) fn on_file(&self, step: &mut Step, result: Result<Vec<u8>, FileProblem>) -> Next {
        let IdToken::File(path) = &self.token else {
            return Next::Finished(Err(super::unexpected()));
        };
        let token = match result {
            Ok(bytes) => match secret_text(Input::IdToken, &bytes, path) {
                Ok(token) => token,
                Err(failure) => return Next::Finished(Err(failure)),
            },
            Err(problem) => return Next::Finished(Err(Failure::File(path.clone(), problem))),
        };
        *step = Step::Assume(Secrets::new().with(&token));
        self.assume(&token)
    }

    pub(crate) fn on_response(
        &self,
        step: &Step,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Next {
        let url = self.url();
        if !status.is_success() {
            let none = Secrets::new();
            let secrets = match step {
                Step::Assume(secrets) => secrets,
                Step::ReadToken => &none,
            };
            return Next::Finished(Err(Failure::Iam {
                url,
                error: Box::new(crate::iam::IamError::parse_scrubbed(
                    status, headers, body, secrets,
                )),
            }));
        }
        Next::Finished(match parse_document(body) {
            Ok(temporary) => {
                let (aksk, expires_at) = temporary.into_parts();
                Ok(Identity::new(
                    Credentials::AkSk(aksk),
                    Some(expires_at),
                    SourceKind::OidcSts,
                ))
            }
            Err(error) => Err(Failure::Document { url, error }),
        })
    }
}
