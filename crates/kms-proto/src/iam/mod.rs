//! Huawei Cloud IAM, as far as this client needs it: where IAM is
//! ([`iam_endpoint`]), what its errors say ([`IamError`]), and finding the project of a
//! region, an operation above the credentials ([`operation::projects`](crate::operation::projects)). The credential sources that go through IAM (OIDC federation,
//! password tokens) and STS live with the other sources, in
//! [`credentials`](crate::credentials).

use std::fmt;

use http::{HeaderMap, StatusCode};

use crate::input::{Endpoint, Input, InvalidInput, Region};
use crate::redact::Secrets;
use crate::response::RetryAfter;
use crate::untrusted::Untrusted;

// IAM's variable (every name is in `crate::input::env_names`), public here too.
pub use crate::input::env_names::ENV_IAM_ENDPOINT;
/// The response header IAM names each answer with, for its support.
pub const X_IAM_TRACE_ID: &str = "x-iam-trace-id";

/// IAM's URL, as the official SDKs find it: `HUAWEICLOUD_SDK_IAM_ENDPOINT` (through
/// `lookup`), else `profile` (a profile file's `iam_endpoint`), else
/// `https://iam.{region}.myhuaweicloud.com` for a region of the official table, else the
/// global `https://iam.myhuaweicloud.com`.
///
/// # Errors
/// [`InvalidInput`] with [`Input::Endpoint`] and the origin of a URL that is refused
/// (plain `http` is allowed to loopback only).
pub fn iam_endpoint(
    region: Option<&Region>,
    profile: Option<&str>,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Endpoint, InvalidInput> {
    if let Some(url) = lookup(ENV_IAM_ENDPOINT).filter(|v| !v.is_empty()) {
        return Endpoint::parse(&url).map_err(|e| e.with_origin(ENV_IAM_ENDPOINT));
    }
    if let Some(url) = profile.filter(|v| !v.is_empty()) {
        return Endpoint::parse(url).map_err(|e| e.with_origin("the profile's iam_endpoint"));
    }
    let url = match region {
        Some(region) if region.is_known() => {
            format!("https://iam.{}.myhuaweicloud.com", region.as_str())
        }
        _ => "https://iam.myhuaweicloud.com".to_owned(),
    };
    Endpoint::parse(&url).map_err(|e| InvalidInput::new(Input::Endpoint, e.problem().clone()))
}

/// What IAM (or STS) answered instead of what was asked: the status, its error code and
/// message in either of IAM's shapes (`{"error_code","error_msg"}`, or Keystone's
/// `{"error":{"code":401,"message","title"}}`), the `X-IAM-Trace-Id` to quote to
/// support, and the `Retry-After` it asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IamError {
    status: StatusCode,
    code: Option<String>,
    message: Option<String>,
    trace_id: Option<String>,
    retry_after: Option<RetryAfter>,
}

impl IamError {
    /// Reads an error answer. A token the answer itself carries (`X-Subject-Token`) is
    /// scrubbed from its text; the credential sources and project discovery also scrub what
    /// they sent (a password, an identity token, a signature), which this cannot know.
    pub fn parse(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Self {
        Self::parse_scrubbed(status, headers, body, &Secrets::new())
    }

    /// Reads an error answer to an exchange whose secrets are `secrets`: they, and a token
    /// the answer carries, are replaced by a marker in every text kept (code, message, trace
    /// id), so no accessor, `Display` or `Debug` can show them.
    pub(crate) fn parse_scrubbed(
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        secrets: &Secrets,
    ) -> Self {
        let mut secrets = secrets.clone();
        if let Some(token) = headers.get("x-subject-token") {
            secrets.add_header(token);
        }
        let (code, message) = service_message(body, &secrets);
        IamError {
            status,
            code,
            message,
            trace_id: secrets.scrub_opt(trace_id(headers)),
            retry_after: RetryAfter::from_headers(headers),
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The error code (`IAM.0101`, or Keystone's numeric code as text).
    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }

    /// The error message.
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }

    /// The `X-IAM-Trace-Id` of the answer.
    pub fn trace_id(&self) -> Option<&str> {
        self.trace_id.as_deref()
    }

    /// The `Retry-After` of the answer, if it carried a valid one (a 429 or 503 may). The
    /// client waits at least that long, and at most a minute, before asking IAM again.
    pub fn retry_after(&self) -> Option<RetryAfter> {
        self.retry_after
    }
}

impl fmt::Display for IamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.status)?;
        if let Some(code) = &self.code {
            write!(f, " {}", Untrusted(code))?;
        }
        if let Some(message) = &self.message {
            write!(f, ": {}", Untrusted(message))?;
        }
        if let Some(trace) = &self.trace_id {
            write!(f, " (IAM trace id {})", Untrusted(trace))?;
        }
        Ok(())
    }
}

impl std::error::Error for IamError {}

/// The `X-IAM-Trace-Id` of an answer, when it is printable and of a sane length.
pub(crate) fn trace_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get(X_IAM_TRACE_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128)
        .map(str::to_owned)
}

/// The error code and message of a credential service's error answer, in any of the
/// shapes IAM-like services use: `{"error_code","error_msg"}`,
/// `{"error":{"code","message"}}` (Keystone, numeric code), or `{"code","message"}`; a
/// body that is not JSON is the message itself (its first 300 characters).
///
/// Both are scrubbed of `secrets` (what the exchange sent and the client holds) before
/// anything else sees them, and before a text is cut, so that no beginning of a secret
/// survives the cut.
pub(crate) fn service_message(
    body: &[u8],
    secrets: &crate::redact::Secrets,
) -> (Option<String>, Option<String>) {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        let text = String::from_utf8_lossy(body);
        let text = secrets.scrub(text.trim());
        return (
            None,
            (!text.is_empty()).then(|| text.chars().take(300).collect()),
        );
    };
    let text = |v: Option<&serde_json::Value>| match v {
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let inner = value
        .get("error")
        .filter(|e| e.is_object())
        .unwrap_or(&value);
    let code = text(inner.get("error_code")).or_else(|| text(inner.get("code")));
    let message = text(inner.get("error_msg"))
        .or_else(|| text(inner.get("message")))
        .or_else(|| text(value.get("error")));
    (secrets.scrub_opt(code), secrets.scrub_opt(message))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn the_endpoint_as_the_official_sdks_find_it() {
        let known = Region::new("cn-north-4").unwrap();
        let unknown = Region::new("xx-mars-1").unwrap();
        for (name, region, profile, vars, expected) in [
            (
                "variable first",
                Some(&known),
                Some("https://iam.profile"),
                &[(ENV_IAM_ENDPOINT, "http://127.0.0.1:9")][..],
                "http://127.0.0.1:9",
            ),
            (
                "then the profile",
                Some(&known),
                Some("https://iam.profile"),
                &[][..],
                "https://iam.profile",
            ),
            (
                "a known region",
                Some(&known),
                None,
                &[][..],
                "https://iam.cn-north-4.myhuaweicloud.com",
            ),
            (
                "an unknown region",
                Some(&unknown),
                None,
                &[][..],
                "https://iam.myhuaweicloud.com",
            ),
            (
                "no region",
                None,
                None,
                &[][..],
                "https://iam.myhuaweicloud.com",
            ),
        ] {
            let vars: Vec<(&str, &str)> = vars.to_vec();
            let endpoint = iam_endpoint(region, profile, |n| {
                vars.iter()
                    .find(|(k, _)| *k == n)
                    .map(|(_, v)| (*v).to_owned())
            })
            .unwrap();
            assert_eq!(
                format!(
                    "{}://{}{}",
                    endpoint.scheme(),
                    endpoint.authority(),
                    endpoint.base_path()
                ),
                expected,
                "{name}"
            );
        }
        let err = iam_endpoint(
            None,
            None,
            env(&[(ENV_IAM_ENDPOINT, "http://iam.example.com")]),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("(from HUAWEICLOUD_SDK_IAM_ENDPOINT)"),
            "{err}"
        );
    }

    #[test]
    fn errors_in_both_shapes_with_the_trace_id() {
        let mut headers = HeaderMap::new();
        headers.insert(X_IAM_TRACE_ID, "f1e2d3".parse().unwrap());
        let keystone = IamError::parse(
            StatusCode::UNAUTHORIZED,
            &headers,
            br#"{"error":{"code":401,"message":"The username or password is wrong.","title":"Unauthorized"}}"#,
        );
        assert_eq!(
            (keystone.code(), keystone.message(), keystone.trace_id()),
            (
                Some("401"),
                Some("The username or password is wrong."),
                Some("f1e2d3")
            )
        );
        assert_eq!(
            keystone.to_string(),
            "401 Unauthorized 401: The username or password is wrong. (IAM trace id f1e2d3)"
        );
        let flat = IamError::parse(
            StatusCode::BAD_REQUEST,
            &HeaderMap::new(),
            br#"{"error_code":"IAM.0011","error_msg":"Request body is invalid."}"#,
        );
        assert_eq!(
            flat.to_string(),
            "400 Bad Request IAM.0011: Request body is invalid."
        );
    }
}
