//! What every credential source sends and reads: requests (local, or remote to IAM and
//! STS), where IAM is, secrets read from files, and error answers.

use super::*;

/// Where IAM is for a source: `HUAWEICLOUD_SDK_IAM_ENDPOINT` (read at construction), else a
/// profile's `iam_endpoint`, else the region's (known at refresh).
#[derive(Clone, Debug)]
pub(crate) struct IamPlace {
    env: Option<String>,
    profile: Option<String>,
}

impl IamPlace {
    pub(crate) fn from_env(
        lookup: &impl Fn(&str) -> Option<String>,
        profile: Option<String>,
    ) -> Self {
        Self::new(
            lookup(crate::input::env_names::ENV_IAM_ENDPOINT).filter(|v| !v.is_empty()),
            profile,
        )
    }

    pub(crate) fn new(env: Option<String>, profile: Option<String>) -> Self {
        IamPlace { env, profile }
    }

    pub(crate) fn resolve(&self, region: Option<&Region>) -> Result<Endpoint, Failure> {
        crate::iam::iam_endpoint(region, self.profile.as_deref(), |name| {
            (name == crate::input::env_names::ENV_IAM_ENDPOINT)
                .then(|| self.env.clone())
                .flatten()
        })
        .map_err(Failure::Invalid)
    }
}

/// A secret a file holds (an identity token): UTF-8, trimmed, printable ASCII.
pub(crate) fn secret_text(
    input: Input,
    bytes: &[u8],
    path: &std::path::Path,
) -> Result<String, Failure> {
    token_header(input, bytes)
        .map_err(|e| Failure::Invalid(e.with_origin(path.display().to_string())))
        .and_then(|header| header.to_str().map(str::to_owned).map_err(|_| unexpected()))
}

pub(crate) use crate::iam::service_message;

/// A request to IAM or STS (see [`SourceRequest::is_remote`]), with a JSON body.
pub(crate) fn remote_request(
    endpoint: &Endpoint,
    path: &str,
    headers: &[(&'static str, http::HeaderValue)],
    body: &serde_json::Value,
) -> Result<SourceRequest, Failure> {
    let mut all = vec![(
        "content-type",
        http::HeaderValue::from_static("application/json;charset=UTF-8"),
    )];
    all.extend(headers.iter().cloned());
    let body = serde_json::to_vec(body)
        .map_err(|_| Failure::Internal("a request body could not be written".to_owned()))?;
    let mut request = request(
        http::Method::POST,
        endpoint,
        path,
        &all,
        body,
        REMOTE_TIMEOUT,
    )?;
    request.remote = true;
    Ok(request)
}

/// A request to a credential service, with `Host` set from the URI.
pub(crate) fn request(
    method: http::Method,
    endpoint: &Endpoint,
    path: &str,
    headers: &[(&'static str, http::HeaderValue)],
    body: Vec<u8>,
    timeout: Duration,
) -> Result<SourceRequest, Failure> {
    let url = format!(
        "{}://{}{}{}",
        endpoint.scheme(),
        endpoint.authority(),
        endpoint.base_path(),
        path
    );
    let mut builder = Request::builder()
        .method(method)
        .uri(&url)
        .header(http::header::HOST, endpoint.authority());
    for (name, value) in headers {
        builder = builder.header(*name, value.clone());
    }
    builder
        .body(body)
        .map(|request| SourceRequest {
            request,
            timeout,
            remote: false,
        })
        .map_err(|_| Failure::Internal(format!("{url} is not a valid request URL")))
}

/// A token a credential service needs or gave (a file's contents, an answer's body),
/// trimmed, as a sensitive header value.
pub(crate) fn token_header(input: Input, bytes: &[u8]) -> Result<http::HeaderValue, InvalidInput> {
    let text = std::str::from_utf8(bytes).map_err(|_| {
        InvalidInput::new(
            input,
            Problem::Malformed {
                expected: "UTF-8 text",
            },
        )
    })?;
    let token = text.trim();
    check_len(input, token, crate::credentials::MAX_TOKEN_LEN)?;
    check_chars(input, token, "printable ASCII without spaces", |c| {
        c.is_ascii_graphic()
    })?;
    crate::credentials::sensitive_header(input, token)
}

/// The URL of a request, for messages (it carries no secret).
pub(crate) fn url_of(endpoint: &Endpoint, path: &str) -> String {
    format!(
        "{}://{}{}{}",
        endpoint.scheme(),
        endpoint.authority(),
        endpoint.base_path(),
        path
    )
}
