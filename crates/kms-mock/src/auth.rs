//! Checking the credentials a request carries, as the API gateway and KMS do: an IAM token,
//! or an AK/SK signature (any of kms-proto's `SigningAlgorithm`s, each AK possibly restricted
//! to some) under the gateway's lockout. IAM's own APIs check the
//! same credentials ([`authenticate_iam`]) and word their refusals their own way.

use std::ops::Deref;
use std::sync::Arc;
use std::time::SystemTime;

use http::request::Parts;
use http::{HeaderValue, StatusCode};
use kms_proto::verify::{self, AuthorizationHeader, ReceivedRequest, Verified, VerifyError};

use crate::answer::Answer;
use crate::config::{AkSkEntry, MockConfig};
use crate::gateway::{Caller, Gateway};
use crate::issued::{Issued, rfc3339_micros};

const IAM_PREFIX: &str = "Incorrect IAM authentication information: ";

/// One request, as the credential checks see it.
pub(crate) struct Presented<'a> {
    pub(crate) parts: &'a Parts,
    pub(crate) body: &'a [u8],
    /// The project of the path.
    pub(crate) project: &'a str,
    /// The emulator's time for this request.
    pub(crate) now: SystemTime,
    pub(crate) request_id: &'a str,
}

impl Presented<'_> {
    /// The gateway's 401 (flat `APIGW.0301`) with `message`.
    fn unauthorized(&self, message: &str) -> Answer {
        Answer::gateway(
            StatusCode::UNAUTHORIZED,
            "APIGW.0301",
            &format!("{IAM_PREFIX}{message}"),
            self.request_id,
        )
    }
}

/// The access keys a request may be signed with: those configured, and the temporary ones
/// the credential endpoints have issued.
#[derive(Clone, Copy)]
pub(crate) struct Keys<'a> {
    pub(crate) config: &'a MockConfig,
    pub(crate) issued: &'a Issued,
}

/// A known access key: configured (borrowed, as most requests use one) or issued (shared
/// with the table, which may forget it meanwhile).
enum Known<'a> {
    Configured(&'a AkSkEntry),
    Issued(Arc<AkSkEntry>),
}

impl Deref for Known<'_> {
    type Target = AkSkEntry;

    fn deref(&self) -> &AkSkEntry {
        match self {
            Known::Configured(entry) => entry,
            Known::Issued(entry) => entry,
        }
    }
}

/// What a token the emulator accepts is for.
pub(crate) struct TokenView {
    /// The project it is scoped to; `None` for a domain-scoped or unscoped token.
    pub(crate) project: Option<String>,
    /// When it expires; `None`: never.
    pub(crate) expires_at: Option<SystemTime>,
}

impl TokenView {
    /// Whether it is still valid at `now`.
    pub(crate) fn is_live(&self, now: SystemTime) -> bool {
        self.expires_at.is_none_or(|at| now < at)
    }
}

impl<'a> Keys<'a> {
    /// The entry of `access_key`: a configured key wins over an issued one.
    fn get(&self, access_key: &str) -> Option<Known<'a>> {
        match self.config.aksks.get(access_key) {
            Some(entry) => Some(Known::Configured(entry)),
            None => self.issued.get(access_key).map(Known::Issued),
        }
    }

    /// The token `token`, configured or issued by IAM (a configured one wins), expired or
    /// not.
    pub(crate) fn token(&self, token: &str) -> Option<TokenView> {
        match self.config.tokens.get(token) {
            Some(entry) => Some(TokenView {
                project: Some(entry.project.clone()),
                expires_at: entry.expires_at,
            }),
            None => self.issued.token(token).map(|t| TokenView {
                project: t.project,
                expires_at: Some(t.expires_at),
            }),
        }
    }
}

/// Checks the credentials of `request`: an `X-Auth-Token` if it carries one, its signature
/// otherwise.
///
/// # Errors
/// The answer that refuses the request.
pub(crate) fn authenticate(
    keys: Keys<'_>,
    gateway: &Gateway,
    request: &Presented<'_>,
) -> Result<Caller, Answer> {
    match request.parts.headers.get("x-auth-token") {
        Some(token) => check_token(keys, token, request),
        None => check_signature(keys, gateway, request),
    }
}

/// Checks the credentials of a request to IAM's own APIs (the project list): an
/// `X-Auth-Token` the emulator accepts (configured or issued, of any scope, unexpired) if
/// it carries one, else its signature exactly as on the KMS path (lockout, security token,
/// expiry) but for any project.
///
/// # Errors
/// Why the request is refused, in the gateway's words, for IAM to quote.
pub(crate) fn authenticate_iam(
    keys: Keys<'_>,
    gateway: &Gateway,
    parts: &Parts,
    body: &[u8],
    now: SystemTime,
) -> Result<(), String> {
    match parts.headers.get("x-auth-token") {
        Some(token) => {
            let live = token
                .to_str()
                .ok()
                .and_then(|t| keys.token(t))
                .is_some_and(|t| t.is_live(now));
            if live {
                Ok(())
            } else {
                Err("the X-Auth-Token is unknown or expired".to_owned())
            }
        }
        None => verify_signed(keys, gateway, parts, body, now).map(|_| ()),
    }
}

/// A token is known, unexpired, and for the project of the path.
fn check_token(
    keys: Keys<'_>,
    token: &HeaderValue,
    request: &Presented<'_>,
) -> Result<Caller, Answer> {
    let (token, entry) = token
        .to_str()
        .ok()
        .and_then(|t| keys.token(t).map(|entry| (t, entry)))
        .ok_or_else(|| {
            Answer::kms(
                StatusCode::UNAUTHORIZED,
                "KMS.0302",
                "Invalid X-Auth-Token.",
            )
        })?;
    if !entry.is_live(request.now) {
        return Err(Answer::kms(
            StatusCode::UNAUTHORIZED,
            "KMS.0303",
            "X-Auth-Token expired.",
        ));
    }
    if entry.project.as_deref() != Some(request.project) {
        return Err(Answer::kms(
            StatusCode::FORBIDDEN,
            "KMS.0305",
            "Invalid token project name.",
        ));
    }
    Ok(Caller::Token(token.to_owned()))
}

/// An AK/SK request to KMS: its signature ([`verify_signed`]), then the projects its key
/// may use.
fn check_signature(
    keys: Keys<'_>,
    gateway: &Gateway,
    request: &Presented<'_>,
) -> Result<Caller, Answer> {
    let (access_key, entry) =
        verify_signed(keys, gateway, request.parts, request.body, request.now)
            .map_err(|message| request.unauthorized(&message))?;
    check_projects(&entry, request.project)?;
    Ok(Caller::AccessKey(access_key))
}

/// The steps of an AK/SK request: an `Authorization` header; its access key not locked;
/// the signature verified (a failure counts towards the lockout, a success resets it);
/// then what the key may do: its security token, its expiry. Returns the access key and
/// its entry.
///
/// # Errors
/// Why the request is refused, in the gateway's words.
fn verify_signed<'k>(
    keys: Keys<'k>,
    gateway: &Gateway,
    parts: &Parts,
    body: &[u8],
    now: SystemTime,
) -> Result<(String, Known<'k>), String> {
    let headers = &parts.headers;
    if !headers.contains_key(http::header::AUTHORIZATION) {
        return Err("no X-Auth-Token or Authorization header".to_owned());
    }
    // The key the header claims, before its signature is checked: a locked key is refused
    // without one, as the gateway does, so the right SK is refused too.
    let access_key = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| AuthorizationHeader::parse(v).ok())
        .map(|a| a.access_key);
    if let Some(ak) = access_key
        && gateway.is_locked(ak, now)
    {
        return Err(
            "the access key is locked after too many failed signatures; wait and check the SK"
                .to_owned(),
        );
    }
    let entry = access_key.and_then(|ak| keys.get(ak));
    let verified = match verify_signature(parts, body, now, entry.as_deref()) {
        Ok(verified) => verified,
        Err(error) => {
            // Only known keys count: counting unknown ones would let any client grow the
            // table without bound.
            if let Some(ak) = access_key
                && entry.is_some()
            {
                gateway.record_failure(ak, now);
            }
            return Err(signature_message(&error));
        }
    };
    gateway.record_success(verified.access_key());
    let Some(entry) = entry else {
        return Err("access key does not exist".to_owned());
    };
    check_algorithm(&entry, &verified)?;
    check_security_token(&entry, &verified, parts)?;
    check_expiry(&entry, now)?;
    Ok((verified.access_key().to_owned(), entry))
}

fn verify_signature<'a>(
    parts: &'a Parts,
    body: &'a [u8],
    now: SystemTime,
    entry: Option<&AkSkEntry>,
) -> Result<Verified<'a>, VerifyError> {
    let received = ReceivedRequest {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or_default(),
        headers: &parts.headers,
        body,
    };
    verify::verify(&received, |_| entry.map(|e| &e.key), now)
}

/// The gateway's words for a signature it refused.
fn signature_message(error: &VerifyError) -> String {
    match error {
        VerifyError::SignatureMismatch => "verify aksk signature fail".to_owned(),
        VerifyError::Expired { .. } => format!("calc aksk signature fail:{error}"),
        // kms-proto's enum is `#[non_exhaustive]`; its own sentence is the right message for
        // any other refusal, including ones added later.
        other => other.to_string(),
    }
}

/// The key may sign with the algorithm the request was signed with.
fn check_algorithm(entry: &AkSkEntry, verified: &Verified<'_>) -> Result<(), String> {
    match &entry.algorithms {
        Some(allowed) if !allowed.contains(&verified.algorithm()) => Err(format!(
            "the signing algorithm {} is not allowed for this access key",
            verified.algorithm()
        )),
        _ => Ok(()),
    }
}

/// A temporary key's security token was sent, signed, and is the one it was issued with.
fn check_security_token(
    entry: &AkSkEntry,
    verified: &Verified<'_>,
    parts: &Parts,
) -> Result<(), String> {
    let Some(expected) = &entry.security_token else {
        return Ok(());
    };
    let sent = parts.headers.get("x-security-token");
    let valid = verified.is_signed("x-security-token")
        && sent.is_some_and(|s| s.as_bytes() == expected.as_bytes());
    if valid {
        return Ok(());
    }
    Err(
        "the security token is missing, unsigned or invalid for this temporary access key"
            .to_owned(),
    )
}

/// A temporary key that expires (an issued one) is used before it does, as the gateway
/// words an expired token: `... expires, expires_at: <when>`.
fn check_expiry(entry: &AkSkEntry, now: SystemTime) -> Result<(), String> {
    match entry.expires_at {
        Some(at) if now >= at => Err(format!(
            "security token expires, expires_at: {}",
            rfc3339_micros(at)
        )),
        _ => Ok(()),
    }
}

/// A key restricted to some projects is used on one of them.
fn check_projects(entry: &AkSkEntry, project: &str) -> Result<(), Answer> {
    if let Some(projects) = &entry.projects
        && !projects.iter().any(|p| p == project)
    {
        return Err(Answer::kms(
            StatusCode::FORBIDDEN,
            "KMS.0307",
            "The role has no permission for the API.",
        ));
    }
    Ok(())
}
