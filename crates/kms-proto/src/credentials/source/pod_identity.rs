//! CCE pod identity: `POST {}` to `HC_CONTAINER_CREDENTIALS_FULL_URI` with the pod's token
//! (the contents of `HC_CONTAINER_AUTHORIZATION_TOKEN_FILE`, trimmed) in `Authorization`.
//! The file is read again at every refresh: the platform rotates the token.

use std::path::PathBuf;
use std::time::Duration;

use http::{HeaderValue, Method, StatusCode};

use super::super::document::parse_document;
use super::super::error::{Failure, FileProblem};
use super::super::{Credentials, Identity, SourceKind};
use super::{FileRead, Next, request, service_message, token_header, url_of};
use crate::credentials::MAX_TOKEN_LEN;
use crate::input::{Endpoint, Input};

/// How long the exchange may take, as the official SDKs allow: 5 s.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone, Debug)]
pub(crate) struct PodIdentity {
    endpoint: Endpoint,
    token_file: PathBuf,
}

pub(crate) enum Step {
    ReadToken,
    /// The token sent, to scrub from the service's answer.
    Post(HeaderValue),
}

impl PodIdentity {
    pub(crate) fn new(endpoint: Endpoint, token_file: PathBuf) -> Self {
        PodIdentity {
            endpoint,
            token_file,
        }
    }

    pub(crate) fn url(&self, _step: &Step) -> String {
        url_of(&self.endpoint, "")
    }

    pub(crate) fn start(&self) -> (Step, Next) {
        (
            Step::ReadToken,
            Next::File(FileRead {
                path: self.token_file.clone(),
                // A token and a line break or two around it.
                max_len: MAX_TOKEN_LEN as u64 + 2,
            }),
        )
    }

    pub(crate) fn on_file(&self, step: &mut Step, result: Result<Vec<u8>, FileProblem>) -> Next {
        let bytes = match result {
            Ok(bytes) => bytes,
            Err(problem) => {
                return Next::Finished(Err(Failure::File(self.token_file.clone(), problem)));
            }
        };
        let token = match token_header(Input::PodIdentityToken, &bytes) {
            Ok(token) => token,
            Err(e) => {
                return Next::Finished(Err(Failure::Invalid(
                    e.with_origin(self.token_file.display().to_string()),
                )));
            }
        };
        *step = Step::Post(token.clone());
        let headers = [
            ("authorization", token),
            ("content-type", HeaderValue::from_static("application/json")),
            ("accept", HeaderValue::from_static("application/json")),
        ];
        match request(
            Method::POST,
            &self.endpoint,
            "",
            &headers,
            b"{}".to_vec(),
            TIMEOUT,
        ) {
            Ok(request) => Next::Http(request),
            Err(failure) => Next::Finished(Err(failure)),
        }
    }

    pub(crate) fn on_response(&self, step: &mut Step, status: StatusCode, body: &[u8]) -> Next {
        let url = self.url(step);
        if status != StatusCode::OK {
            let mut secrets = crate::redact::Secrets::new();
            if let Step::Post(token) = step {
                secrets.add_header(token);
            }
            let (code, message) = service_message(body, &secrets);
            return Next::Finished(Err(Failure::Status {
                url,
                status,
                code,
                message,
            }));
        }
        Next::Finished(match parse_document(body) {
            Ok(temporary) => {
                let (aksk, expires_at) = temporary.into_parts();
                Ok(Identity::new(
                    Credentials::AkSk(aksk),
                    Some(expires_at),
                    SourceKind::PodIdentity,
                ))
            }
            Err(error) => Err(Failure::Document { url, error }),
        })
    }
}
