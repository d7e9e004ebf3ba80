//! Finding the project id of a region, as the official SDKs do when none is given:
//! `GET {iam}/v3/projects?name={region}`, signed like any call, must list exactly one
//! project.

use std::fmt;
use std::time::SystemTime;

use http::{HeaderMap, Method, Request, StatusCode};
use serde::Deserialize;

use crate::credentials::Credentials;
use crate::iam::{IamError, trace_id};
use crate::input::{Endpoint, InvalidInput, ProjectId, Region};
use crate::redact::Secrets;
use crate::untrusted::Untrusted;

/// The signed request that lists the projects named after `region`.
///
/// # Errors
/// [`InvalidInput`] when `now` cannot be written as `X-Sdk-Date`.
pub fn request(
    iam: &Endpoint,
    region: &Region,
    credentials: &Credentials,
    now: SystemTime,
) -> Result<Request<Vec<u8>>, InvalidInput> {
    // Region ids are `[a-z0-9-]` (validated): nothing to escape in the query.
    let url = format!(
        "{}://{}{}/v3/projects?name={}",
        iam.scheme(),
        iam.authority(),
        iam.base_path(),
        region.as_str()
    );
    let mut request = Request::builder()
        .method(Method::GET)
        .uri(&url)
        .header(http::header::HOST, iam.authority())
        .header(http::header::CONTENT_TYPE, "application/json;charset=UTF-8")
        .body(Vec::new())
        .map_err(|_| {
            InvalidInput::new(
                crate::Input::Endpoint,
                crate::Problem::Malformed {
                    expected: "a URL IAM's path can be appended to",
                },
            )
        })?;
    crate::request::sign_request(&mut request, credentials, now)?;
    Ok(request)
}

#[derive(Deserialize)]
struct Projects {
    projects: Vec<Project>,
}

#[derive(Deserialize)]
struct Project {
    id: String,
    #[serde(default)]
    name: String,
}

/// Reads IAM's answer: the one project named after `region`.
///
/// # Errors
/// [`DiscoveryError`]: IAM's error, no project or several, or an answer that is not a
/// project list.
pub fn parse(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    region: &Region,
) -> Result<ProjectId, DiscoveryError> {
    parse_scrubbed(status, headers, body, region, &Secrets::new())
}

/// [`parse`] for an answer to a request whose secrets (the credentials it was signed with,
/// its signature) are `secrets`: every text kept from the answer is scrubbed of them.
pub(crate) fn parse_scrubbed(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    region: &Region,
    secrets: &Secrets,
) -> Result<ProjectId, DiscoveryError> {
    let trace = secrets.scrub_opt(trace_id(headers));
    let error = |kind| DiscoveryError {
        region: region.as_str().to_owned(),
        trace_id: trace.clone(),
        kind: Box::new(kind),
        remembered: None,
    };
    if !status.is_success() {
        return Err(error(DiscoveryErrorKind::Iam(IamError::parse_scrubbed(
            status, headers, body, secrets,
        ))));
    }
    let listed: Projects =
        serde_json::from_slice(body).map_err(|_| error(DiscoveryErrorKind::Malformed))?;
    // IAM filters by name already; a second look keeps a sub-project (`cn-north-4_x`) out
    // should a gateway ignore the filter.
    let found: Vec<Project> = listed
        .projects
        .into_iter()
        .filter(|p| p.name.is_empty() || p.name == region.as_str())
        .collect();
    match found.as_slice() {
        [one] => ProjectId::new(&one.id).map_err(|e| error(DiscoveryErrorKind::Invalid(e))),
        [] => Err(error(DiscoveryErrorKind::None)),
        several => Err(error(DiscoveryErrorKind::Several(
            several
                .iter()
                .map(|p| secrets.scrub_string(p.id.clone()))
                .collect(),
        ))),
    }
}

/// Why the project of a region could not be found.
#[derive(Debug)]
pub struct DiscoveryError {
    region: String,
    trace_id: Option<String>,
    /// Boxed: IAM's error and a transport failure are large, and errors are rare.
    kind: Box<DiscoveryErrorKind>,
    /// Set when this is an earlier call's failure, given to a call that did not ask.
    remembered: Option<Remembered>,
}

pub use crate::backoff::Remembered;

/// What went wrong in a [`DiscoveryError`].
#[derive(Debug)]
#[non_exhaustive]
pub enum DiscoveryErrorKind {
    /// IAM gave no answer (the transport's failure).
    NoAnswer(crate::transport::TransportFailure),
    /// IAM answered with an error.
    Iam(IamError),
    /// No project has the region's name.
    None,
    /// Several projects have it: their ids.
    Several(Vec<String>),
    /// The project IAM listed has an id this client refuses.
    Invalid(InvalidInput),
    /// The answer is not a project list.
    Malformed,
}

impl DiscoveryError {
    /// IAM at `region`'s discovery gave no answer: what a transport reports.
    pub fn no_answer(region: &Region, failure: crate::transport::TransportFailure) -> Self {
        DiscoveryError {
            region: region.as_str().to_owned(),
            trace_id: None,
            kind: Box::new(DiscoveryErrorKind::NoAnswer(failure)),
            remembered: None,
        }
    }

    /// A copy, to remember. A transport failure's cause is kept as its text.
    pub(crate) fn copy(&self) -> Self {
        let kind = match &*self.kind {
            DiscoveryErrorKind::NoAnswer(failure) => {
                let copy = crate::transport::TransportFailure::new(
                    failure.kind(),
                    failure.may_have_been_sent(),
                );
                DiscoveryErrorKind::NoAnswer(match failure.cause() {
                    Some(cause) => copy.with_source(std::io::Error::other(cause.to_string())),
                    None => copy,
                })
            }
            DiscoveryErrorKind::Iam(e) => DiscoveryErrorKind::Iam(e.clone()),
            DiscoveryErrorKind::None => DiscoveryErrorKind::None,
            DiscoveryErrorKind::Several(ids) => DiscoveryErrorKind::Several(ids.clone()),
            DiscoveryErrorKind::Invalid(e) => DiscoveryErrorKind::Invalid(e.clone()),
            DiscoveryErrorKind::Malformed => DiscoveryErrorKind::Malformed,
        };
        DiscoveryError {
            region: self.region.clone(),
            trace_id: self.trace_id.clone(),
            kind: Box::new(kind),
            remembered: self.remembered,
        }
    }

    /// The same failure, told to a later call that did not ask IAM: `remembered` says so
    /// and when IAM is asked again.
    pub(crate) fn with_remembered(mut self, remembered: Remembered) -> Self {
        self.remembered = Some(remembered);
        self
    }

    /// Set when this call did not ask IAM: this is the failure of an earlier call's request,
    /// remembered while the client backs off (see [`Remembered`]).
    pub fn remembered(&self) -> Option<Remembered> {
        self.remembered
    }

    /// Whether asking again later may help: no answer, or IAM's 5xx or 429.
    pub fn is_retryable(&self) -> bool {
        match &*self.kind {
            DiscoveryErrorKind::NoAnswer(_) => true,
            DiscoveryErrorKind::Iam(e) => {
                e.status().is_server_error() || e.status() == StatusCode::TOO_MANY_REQUESTS
            }
            DiscoveryErrorKind::None
            | DiscoveryErrorKind::Several(_)
            | DiscoveryErrorKind::Invalid(_)
            | DiscoveryErrorKind::Malformed => false,
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> &DiscoveryErrorKind {
        &self.kind
    }

    /// The region whose project was looked for.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The `X-IAM-Trace-Id` of IAM's answer.
    pub fn trace_id(&self) -> Option<&str> {
        self.trace_id.as_deref()
    }

    /// IAM's error, when it answered with one.
    pub fn iam(&self) -> Option<&IamError> {
        match &*self.kind {
            DiscoveryErrorKind::Iam(e) => Some(e),
            _ => None,
        }
    }
}

impl fmt::Display for DiscoveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let region = &self.region;
        f.write_str("could not find the project id: ")?;
        match &*self.kind {
            DiscoveryErrorKind::Iam(e) => write!(f, "IAM answered {e}")?,
            DiscoveryErrorKind::NoAnswer(failure) => write!(
                f,
                "IAM did not answer ({}{})",
                failure.kind().as_str(),
                if failure.may_have_been_sent() {
                    ""
                } else {
                    ", not reachable"
                }
            )?,
            DiscoveryErrorKind::None => write!(f, "IAM lists no project named {region}")?,
            DiscoveryErrorKind::Several(ids) => {
                write!(f, "IAM lists {} projects named {region}: ", ids.len())?;
                for (i, id) in ids.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}", Untrusted(id))?;
                }
            }
            DiscoveryErrorKind::Invalid(e) => write!(f, "IAM listed a project with {e}")?,
            DiscoveryErrorKind::Malformed => f.write_str("IAM's answer is not a project list")?,
        }
        if !matches!(*self.kind, DiscoveryErrorKind::Iam(_))
            && let Some(trace) = &self.trace_id
        {
            write!(f, " (IAM trace id {})", Untrusted(trace))?;
        }
        if let Some(remembered) = &self.remembered {
            let failures = remembered.failures();
            write!(
                f,
                " (remembered from an earlier call, IAM not asked: {failures} failed request{} in a row; IAM is asked again in {} ms)",
                if failures == 1 { "" } else { "s" },
                remembered.asks_again_in().as_millis()
            )?;
        }
        f.write_str("; give the project id explicitly (--project-id or HUAWEICLOUD_SDK_PROJECT_ID)")
    }
}

impl std::error::Error for DiscoveryError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &*self.kind {
            DiscoveryErrorKind::Invalid(e) => Some(e),
            DiscoveryErrorKind::NoAnswer(failure) => failure.cause(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn traced() -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(crate::iam::X_IAM_TRACE_ID, "trace-7".parse().unwrap());
        headers
    }

    #[test]
    fn answers() {
        let region = Region::new("cn-north-4").unwrap();
        let one = br#"{"projects":[{"id":"0dea2644dc80d5d22ff1c01e3ebea6fc","name":"cn-north-4","enabled":true}],"links":{}}"#;
        assert_eq!(
            parse(StatusCode::OK, &traced(), one, &region)
                .unwrap()
                .as_str(),
            "0dea2644dc80d5d22ff1c01e3ebea6fc"
        );
        for (name, status, body, expected) in [
            ("none", 200, &br#"{"projects":[]}"#[..], "could not find the project id: IAM lists no project named cn-north-4 (IAM trace id trace-7); give the project id explicitly (--project-id or HUAWEICLOUD_SDK_PROJECT_ID)"),
            ("several", 200, &br#"{"projects":[{"id":"a1","name":"cn-north-4"},{"id":"b2","name":"cn-north-4"}]}"#[..], "could not find the project id: IAM lists 2 projects named cn-north-4: a1, b2 (IAM trace id trace-7); give the project id explicitly (--project-id or HUAWEICLOUD_SDK_PROJECT_ID)"),
            ("sub-projects do not count", 200, &br#"{"projects":[{"id":"a1","name":"cn-north-4_dev"}]}"#[..], "could not find the project id: IAM lists no project named cn-north-4 (IAM trace id trace-7); give the project id explicitly (--project-id or HUAWEICLOUD_SDK_PROJECT_ID)"),
            ("iam error", 403, &br#"{"error_code":"IAM.0003","error_msg":"Policy doesn't allow iam:projects:list"}"#[..], "could not find the project id: IAM answered 403 Forbidden IAM.0003: Policy doesn't allow iam:projects:list (IAM trace id trace-7); give the project id explicitly (--project-id or HUAWEICLOUD_SDK_PROJECT_ID)"),
            ("not a list", 200, &b"<html>"[..], "could not find the project id: IAM's answer is not a project list (IAM trace id trace-7); give the project id explicitly (--project-id or HUAWEICLOUD_SDK_PROJECT_ID)"),
        ] {
            let err = parse(StatusCode::from_u16(status).unwrap(), &traced(), body, &region).unwrap_err();
            assert_eq!(err.to_string(), expected, "{name}");
            assert_eq!(err.trace_id(), Some("trace-7"), "{name}");
        }
    }

    #[test]
    fn the_request_is_signed_and_names_the_region() {
        let iam = Endpoint::parse("http://127.0.0.1:9/base").unwrap();
        let region = Region::new("cn-north-4").unwrap();
        let credentials = crate::AkSk::new("AK", "sk").unwrap().into();
        let at = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_795_334_400);
        let request = request(&iam, &region, &credentials, at).unwrap();
        assert_eq!(
            request.uri(),
            "http://127.0.0.1:9/base/v3/projects?name=cn-north-4"
        );
        assert_eq!(request.headers()["host"], "127.0.0.1:9");
        assert!(
            request.headers()["authorization"]
                .to_str()
                .unwrap()
                .starts_with("SDK-HMAC-SHA256 Access=AK, SignedHeaders=content-type;host;x-sdk-date, Signature=")
        );
    }
}
