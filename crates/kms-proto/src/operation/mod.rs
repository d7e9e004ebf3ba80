//! What a call sends and what its answer parses into: an [`Operation`], a value the client
//! machine ([`crate::client`]) is given. ShowUserInstances is one ([`UserInstances`]); an
//! SDK defines its own, and gets the machine's retries, credentials, signing, failover and
//! clock-skew correction with it.
//!
//! ```
//! use std::time::SystemTime;
//! use http::{HeaderMap, Method, Request, StatusCode};
//! use kms_proto::operation::{Operation, Target};
//! use kms_proto::{Credentials, InvalidInput, ResponseError};
//!
//! /// `POST /v1.0/{project_id}/kms/describe-key` with a JSON body, signed through its hash.
//! struct DescribeKey {
//!     body: Vec<u8>,
//! }
//!
//! #[derive(serde::Deserialize)]
//! struct KeyInfo {
//!     key_id: String,
//! }
//!
//! impl Operation for DescribeKey {
//!     type Output = KeyInfo;
//!
//!     fn name(&self) -> &'static str {
//!         "DescribeKey"
//!     }
//!
//!     fn request(
//!         &self,
//!         to: &Target<'_>,
//!         credentials: &Credentials,
//!         signing_time: SystemTime,
//!     ) -> Result<Request<Vec<u8>>, InvalidInput> {
//!         let path = format!("/v1.0/{}/kms/describe-key", to.project());
//!         let mut request = to.request(Method::POST, &path, self.body.clone())?;
//!         kms_proto::sign_request(&mut request, credentials, signing_time)?;
//!         Ok(request)
//!     }
//!
//!     fn parse(
//!         &self,
//!         status: StatusCode,
//!         headers: &HeaderMap,
//!         body: &[u8],
//!     ) -> Result<KeyInfo, ResponseError> {
//!         kms_proto::parse_json(status, headers, body)
//!     }
//! }
//! ```

use std::time::SystemTime;

use http::{HeaderMap, HeaderValue, Method, Request, StatusCode, Uri};

pub mod projects;

use crate::credentials::Credentials;
use crate::input::{Endpoint, Input, InvalidInput, Problem, ProjectId};
use crate::request::{PreparedRequest, ShowUserInstances, UserAgent, X_PROJECT_ID};
use crate::response::{InstanceCount, ResponseError};

/// One kind of call: how to build its signed request, and what its answer means.
///
/// The machine calls [`request`](Self::request) for every attempt (each is signed afresh,
/// at the time the machine gives: the wall clock moved by the service clock's offset once
/// it is known) and [`parse`](Self::parse) for every answer whose body is within
/// [`ClientConfig::max_response_body`](crate::ClientConfig::max_response_body). A
/// [`ResponseError`] from `parse` goes to the retry policy as KMS's own errors do
/// ([`ResponseError::is_retryable`], `Retry-After`), and every text in it is scrubbed of
/// the request's secrets before anyone sees it.
pub trait Operation {
    /// What a successful answer parses into.
    type Output;

    /// A short name for logs and spans (`"ShowUserInstances"`).
    fn name(&self) -> &'static str;

    /// The signed request to `to`, signed at `signing_time` with `credentials`
    /// ([`Target::request`] starts one with the headers every call carries;
    /// [`sign_request`](crate::sign_request) signs it, body included).
    ///
    /// # Errors
    /// [`InvalidInput`] when the request cannot be built or signed.
    fn request(
        &self,
        to: &Target<'_>,
        credentials: &Credentials,
        signing_time: SystemTime,
    ) -> Result<Request<Vec<u8>>, InvalidInput>;

    /// The answer (the whole body, within the configured limit).
    ///
    /// # Errors
    /// [`ResponseError`]: the service's error, or an answer that is not one.
    fn parse(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Self::Output, ResponseError>;
}

/// Where one attempt goes: the endpoint the machine picked, the project, and the client's
/// `User-Agent`.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    endpoint: &'a Endpoint,
    project: &'a ProjectId,
    user_agent: &'a UserAgent,
    /// ShowUserInstances prepared for this endpoint and project, when the client has it.
    prepared: Option<&'a PreparedRequest>,
}

impl<'a> Target<'a> {
    pub(crate) fn new(
        endpoint: &'a Endpoint,
        project: &'a ProjectId,
        user_agent: &'a UserAgent,
        prepared: Option<&'a PreparedRequest>,
    ) -> Self {
        Target {
            endpoint,
            project,
            user_agent,
            prepared,
        }
    }

    /// The endpoint of this attempt.
    pub fn endpoint(&self) -> &'a Endpoint {
        self.endpoint
    }

    /// The project the client calls for (configured, or found through IAM).
    pub fn project(&self) -> &'a ProjectId {
        self.project
    }

    /// The client's `User-Agent`.
    pub fn user_agent(&self) -> &'a UserAgent {
        self.user_agent
    }

    /// An unsigned request to `path_and_query` under the endpoint (after its base path),
    /// with the headers every call carries: `Host`, `User-Agent`, `X-Project-Id`, and
    /// `Content-Type: application/json;charset=UTF-8`; `body` as it is.
    ///
    /// # Errors
    /// [`InvalidInput`] for the endpoint when `path_and_query` does not make a URI.
    pub fn request(
        &self,
        method: Method,
        path_and_query: &str,
        body: Vec<u8>,
    ) -> Result<Request<Vec<u8>>, InvalidInput> {
        let authority = self.endpoint.authority();
        let bad = |expected| InvalidInput::new(Input::Endpoint, Problem::Malformed { expected });
        let uri = Uri::try_from(format!(
            "{}://{authority}{}{path_and_query}",
            self.endpoint.scheme(),
            self.endpoint.base_path()
        ))
        .map_err(|_| bad("a URL the operation's path can be appended to"))?;
        let mut request = Request::new(body);
        *request.method_mut() = method;
        *request.uri_mut() = uri;
        let headers = request.headers_mut();
        headers.insert(
            http::header::HOST,
            HeaderValue::try_from(authority).map_err(|_| bad("header text"))?,
        );
        headers.insert(
            http::header::USER_AGENT,
            HeaderValue::try_from(self.user_agent.as_str()).map_err(|_| bad("header text"))?,
        );
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json;charset=UTF-8"),
        );
        headers.insert(
            X_PROJECT_ID,
            HeaderValue::try_from(self.project.as_str()).map_err(|_| bad("header text"))?,
        );
        Ok(request)
    }
}

/// ShowUserInstances (`GET /v1.0/{project_id}/kms/user-instances`): the number of customer
/// master keys of the client's project.
///
/// Built from the request the client prepared for each endpoint (only the date, the
/// signature and the credentials' headers are added per attempt).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UserInstances;

impl Operation for UserInstances {
    type Output = InstanceCount;

    fn name(&self) -> &'static str {
        "ShowUserInstances"
    }

    fn request(
        &self,
        to: &Target<'_>,
        credentials: &Credentials,
        signing_time: SystemTime,
    ) -> Result<Request<Vec<u8>>, InvalidInput> {
        match to.prepared {
            Some(prepared) => prepared.build(credentials, signing_time),
            None => ShowUserInstances::new(to.project.clone())
                .with_user_agent(to.user_agent.clone())
                .build(to.endpoint, credentials, signing_time),
        }
    }

    fn parse(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<InstanceCount, ResponseError> {
        crate::response::parse(status, headers, body)
    }
}
