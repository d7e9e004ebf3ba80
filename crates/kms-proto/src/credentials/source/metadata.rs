//! ECS metadata (an agency bound to the instance), as the official SDKs ask it:
//!
//! 1. `PUT /meta-data/latest/api/token` with `X-Metadata-Token-Ttl-Seconds: 21600` gives a
//!    session token (the body). 404, 405 or 503 mean the instance has no token service:
//!    go on without one, and do not ask again for a day.
//! 2. `GET /openstack/latest/securitykey` (with `X-Metadata-Token` when there is one)
//!    gives a credential document. A 401 whose body does not say "Please configure Cloud
//!    Service Agency first" means the session token went stale: get a new one, once.
//!
//! The session token is kept between refreshes until shortly before it expires.

use std::time::{Duration, SystemTime};

use http::{HeaderValue, Method, StatusCode};

use super::super::document::parse_document;
use super::super::error::Failure;
use super::super::{Credentials, Identity, SourceKind};
use super::{Next, request, service_message, token_header, url_of};
use crate::input::{Endpoint, Input};

/// How long each exchange may take, as the official SDKs allow: 3 s.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(3);
/// The session token's lifetime asked for, in seconds (the service's maximum, 6 hours).
const TOKEN_TTL_SECONDS: u64 = 21_600;
/// A session token is renewed this long before it expires.
const TOKEN_MARGIN: Duration = Duration::from_secs(300);
/// How long to go without a session token after the service said it has none.
const NO_TOKEN_SERVICE_FOR: Duration = Duration::from_secs(24 * 3600);

const TOKEN_PATH: &str = "/meta-data/latest/api/token";
const KEY_PATH: &str = "/openstack/latest/securitykey";
/// What the service says when the instance has no agency: not a stale session token.
const NO_AGENCY: &str = "Please configure Cloud Service Agency first";

#[derive(Clone, Debug)]
pub(crate) struct Metadata {
    endpoint: Endpoint,
    /// The session token (sensitive) and when to stop using it.
    session: Option<(HeaderValue, SystemTime)>,
    /// The service said it has no session tokens; do not ask before this time.
    no_token_service_until: Option<SystemTime>,
}

pub(crate) enum Step {
    PutToken { renewed: bool },
    GetKey { with_token: bool, renewed: bool },
}

impl Metadata {
    pub(crate) fn new(endpoint: Endpoint) -> Self {
        Metadata {
            endpoint,
            session: None,
            no_token_service_until: None,
        }
    }

    pub(crate) fn url(&self, step: &Step) -> String {
        match step {
            Step::PutToken { .. } => url_of(&self.endpoint, TOKEN_PATH),
            Step::GetKey { .. } => url_of(&self.endpoint, KEY_PATH),
        }
    }

    pub(crate) fn start(&mut self, now: SystemTime) -> (Step, Next) {
        if self.session.as_ref().is_some_and(|(_, until)| now < *until) {
            return self.get_key(true, false);
        }
        self.session = None;
        if self.no_token_service_until.is_some_and(|until| now < until) {
            return self.get_key(false, false);
        }
        self.put_token(false)
    }

    fn put_token(&self, renewed: bool) -> (Step, Next) {
        let ttl = HeaderValue::from(TOKEN_TTL_SECONDS);
        let next = request(
            Method::PUT,
            &self.endpoint,
            TOKEN_PATH,
            // As the official SDKs (Python's requests) send it: a PUT with no body.
            &[
                ("x-metadata-token-ttl-seconds", ttl),
                ("content-length", HeaderValue::from_static("0")),
            ],
            Vec::new(),
            TIMEOUT,
        );
        (Step::PutToken { renewed }, into_next(next))
    }

    fn get_key(&self, with_token: bool, renewed: bool) -> (Step, Next) {
        let mut headers = vec![("accept", HeaderValue::from_static("application/json"))];
        if let (true, Some((token, _))) = (with_token, &self.session) {
            headers.push(("x-metadata-token", token.clone()));
        }
        let next = request(
            Method::GET,
            &self.endpoint,
            KEY_PATH,
            &headers,
            Vec::new(),
            TIMEOUT,
        );
        (
            Step::GetKey {
                with_token,
                renewed,
            },
            into_next(next),
        )
    }

    pub(crate) fn on_response(
        &mut self,
        step: &mut Step,
        status: StatusCode,
        body: &[u8],
        now: SystemTime,
    ) -> Next {
        let (new_step, next) = match *step {
            Step::PutToken { renewed } => match status {
                StatusCode::OK => match token_header(Input::MetadataToken, body) {
                    Ok(token) => {
                        let lifetime = Duration::from_secs(TOKEN_TTL_SECONDS) - TOKEN_MARGIN;
                        // A clock so far ahead that the sum overflows: use the token for this refresh only.
                        self.session = Some((token, now.checked_add(lifetime).unwrap_or(now)));
                        self.get_key(true, renewed)
                    }
                    Err(e) => return Next::Finished(Err(Failure::Invalid(e))),
                },
                StatusCode::NOT_FOUND
                | StatusCode::METHOD_NOT_ALLOWED
                | StatusCode::SERVICE_UNAVAILABLE => {
                    self.no_token_service_until = now.checked_add(NO_TOKEN_SERVICE_FOR);
                    self.get_key(false, renewed)
                }
                _ => return Next::Finished(Err(self.status(step, status, body))),
            },
            Step::GetKey {
                with_token,
                renewed,
            } => match status {
                StatusCode::OK => {
                    return Next::Finished(match parse_document(body) {
                        Ok(temporary) => {
                            let (aksk, expires_at) = temporary.into_parts();
                            Ok(Identity::new(
                                Credentials::AkSk(aksk),
                                Some(expires_at),
                                SourceKind::Metadata,
                            ))
                        }
                        Err(error) => Err(Failure::Document {
                            url: self.url(step),
                            error,
                        }),
                    });
                }
                StatusCode::UNAUTHORIZED if contains(body, NO_AGENCY) => {
                    return Next::Finished(Err(Failure::NoAgency));
                }
                StatusCode::UNAUTHORIZED if with_token && !renewed => {
                    // The session token went stale (the service restarted, the clock
                    // jumped): a new one, once.
                    self.session = None;
                    self.put_token(true)
                }
                _ => return Next::Finished(Err(self.status(step, status, body))),
            },
        };
        *step = new_step;
        next
    }

    fn status(&self, step: &Step, status: StatusCode, body: &[u8]) -> Failure {
        // The session token is the one secret this source sends (or holds) that the
        // service could echo.
        let mut secrets = crate::redact::Secrets::new();
        if let Some((token, _)) = &self.session {
            secrets.add_header(token);
        }
        let (code, message) = service_message(body, &secrets);
        Failure::Status {
            url: self.url(step),
            status,
            code,
            message,
        }
    }
}

fn into_next(request: Result<super::SourceRequest, Failure>) -> Next {
    match request {
        Ok(request) => Next::Http(request),
        Err(failure) => Next::Finished(Err(failure)),
    }
}

fn contains(body: &[u8], text: &str) -> bool {
    body.windows(text.len()).any(|w| w == text.as_bytes())
}
