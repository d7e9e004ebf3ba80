//! The credential endpoints the emulator serves besides KMS, when configured: the ECS
//! metadata service (a session token, then the instance's agency credentials) and CCE pod
//! identity. Both hand out freshly issued temporary credentials ([`Issued`]) that the KMS
//! path then accepts until they expire.
//!
//! The bodies of their refusals:
//!
//! - The metadata service answers in plain text in the style of OpenStack's metadata
//!   service (webob's `401 Unauthorized`, a blank line, and the reason), from which ECS's
//!   is derived; the real body was not found in any source read, and the one sighting of
//!   the no-agency answer (a user's notes) shows that status line and the text. Its 401
//!   for an instance without an agency says `Please configure Cloud Service Agency first`,
//!   the text the official SDKs look for; its 401 for a missing, unknown or expired session
//!   token never does, so that a client gets a new token and tries once more.
//! - Pod identity answers in IAM's flat JSON shape, `{"error_code","error_msg"}`: `IAM.0001`
//!   for a wrong or missing `Authorization` (401), `IAM.0011` "Request body is invalid."
//!   for a body that is not a JSON object (400).

use std::time::{Duration, SystemTime};

use http::request::Parts;
use http::{Method, StatusCode};

use crate::answer::{Answer, JSON, TEXT};
use crate::config::{MetadataConfig, MockConfig};
use crate::issued::{Issued, MAX_METADATA_TOKEN_TTL};

/// The metadata service's session token path.
pub(crate) const METADATA_TOKEN_PATH: &str = "/meta-data/latest/api/token";
/// The metadata service's temporary credentials path.
pub(crate) const SECURITY_KEY_PATH: &str = "/openstack/latest/securitykey";
/// CCE pod identity's credentials path.
pub(crate) const POD_IDENTITY_PATH: &str = "/pod-identity/credentials";

/// What the metadata service says when the instance has no agency; the official SDKs stop
/// asking when a 401's body contains it.
const NO_AGENCY: &str = "Please configure Cloud Service Agency first";

/// What a credential endpoint needs to answer one request.
struct Ask<'a> {
    config: &'a MockConfig,
    issued: &'a Issued,
    parts: &'a Parts,
    now: SystemTime,
    /// Whether the answer reaches the client: when a scripted fault replaces it, nothing
    /// is issued (its 200 is left empty).
    sent: bool,
}

impl Ask<'_> {
    /// 200 with freshly issued temporary credentials.
    fn credentials(&self) -> Answer {
        let body = if self.sent {
            self.issued
                .issue(self.now, self.config.credential_lifetime)
                .document()
        } else {
            String::new()
        };
        Answer::new(StatusCode::OK, JSON, body)
    }
}

/// The answer of a credential endpoint, or `None` when `parts` is for none that is served
/// (the KMS path then answers it).
pub(crate) fn answer(
    config: &MockConfig,
    issued: &Issued,
    parts: &Parts,
    body: &[u8],
    now: SystemTime,
    sent: bool,
) -> Option<Answer> {
    let path = parts.uri.path();
    let ask = Ask {
        config,
        issued,
        parts,
        now,
        sent,
    };
    if let Some(metadata) = config.metadata {
        if path == METADATA_TOKEN_PATH {
            return Some(session_token(metadata, &ask));
        }
        if path == SECURITY_KEY_PATH {
            return Some(security_key(metadata, &ask));
        }
    }
    if let Some(token) = &config.pod_identity_token
        && path == POD_IDENTITY_PATH
    {
        return Some(pod_identity(token, &ask, body));
    }
    None
}

/// `PUT /meta-data/latest/api/token`.
fn session_token(metadata: MetadataConfig, ask: &Ask<'_>) -> Answer {
    let parts = ask.parts;
    if parts.method != Method::PUT {
        return method_not_allowed("PUT");
    }
    if metadata.v2_unavailable {
        return text(
            StatusCode::NOT_FOUND,
            "404 Not Found\n\nThe resource could not be found.\n",
        );
    }
    let ttl = parts
        .headers
        .get("x-metadata-token-ttl-seconds")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|ttl| (1..=MAX_METADATA_TOKEN_TTL).contains(ttl));
    let Some(ttl) = ttl else {
        return text(
            StatusCode::BAD_REQUEST,
            &format!(
                "400 Bad Request\n\nX-Metadata-Token-Ttl-Seconds must be a whole number of \
                 seconds from 1 to {MAX_METADATA_TOKEN_TTL}.\n"
            ),
        );
    };
    let token = if ask.sent {
        ask.issued.new_session(ask.now, Duration::from_secs(ttl))
    } else {
        String::new()
    };
    Answer::new(StatusCode::OK, TEXT, token)
}

/// `GET /openstack/latest/securitykey`: the session token (if sent, or required) first,
/// then the agency.
fn security_key(metadata: MetadataConfig, ask: &Ask<'_>) -> Answer {
    if ask.parts.method != Method::GET {
        return method_not_allowed("GET");
    }
    let token_ok = match ask.parts.headers.get("x-metadata-token") {
        Some(token) => ask.issued.session_is_live(token.as_bytes(), ask.now),
        None => !metadata.token_required,
    };
    if !token_ok {
        return text(
            StatusCode::UNAUTHORIZED,
            "401 Unauthorized\n\nThe metadata session token is missing, invalid or expired: \
             get one with PUT /meta-data/latest/api/token.\n",
        );
    }
    if metadata.no_agency {
        return text(
            StatusCode::UNAUTHORIZED,
            &format!("401 Unauthorized\n\n{NO_AGENCY}\n"),
        );
    }
    ask.credentials()
}

/// `POST /pod-identity/credentials`: the `Authorization` first, then the body.
fn pod_identity(token: &str, ask: &Ask<'_>, body: &[u8]) -> Answer {
    let parts = ask.parts;
    if parts.method != Method::POST {
        return method_not_allowed("POST");
    }
    let mut sent = parts.headers.get_all(http::header::AUTHORIZATION).iter();
    let authorized = match (sent.next(), sent.next()) {
        (Some(value), None) => value.as_bytes() == token.as_bytes(),
        _ => false,
    };
    if !authorized {
        return Answer::iam(
            StatusCode::UNAUTHORIZED,
            "IAM.0001",
            "The request you have made requires authentication: the Authorization header \
             is missing or is not the pod's identity token.",
        );
    }
    let is_object = serde_json::from_slice::<serde_json::Value>(body).is_ok_and(|v| v.is_object());
    if !is_object {
        return Answer::iam(
            StatusCode::BAD_REQUEST,
            "IAM.0011",
            "Request body is invalid.",
        );
    }
    ask.credentials()
}

/// A plain-text answer.
fn text(status: StatusCode, body: &str) -> Answer {
    Answer::new(status, TEXT, body.to_owned())
}

/// 405 with `Allow: allowed`.
fn method_not_allowed(allowed: &str) -> Answer {
    let mut answer = text(
        StatusCode::METHOD_NOT_ALLOWED,
        &format!(
            "405 Method Not Allowed\n\nThe method is not allowed for this resource; use {allowed}.\n"
        ),
    );
    answer.headers.push(("allow", allowed.to_owned()));
    answer
}
