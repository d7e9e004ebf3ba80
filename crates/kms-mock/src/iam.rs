//! IAM and STS, as far as clients of KMS need them, served on the emulator's own listener
//! when configured ([`MockConfig::with_iam`]): the project list that finds a region's
//! project, password tokens, federation with an OIDC id token, temporary credentials for a
//! token, and STS's assume-agency with an OIDC id token. The tokens and credentials issued
//! here ([`Issued`]) are accepted by the KMS path until they expire.
//!
//! The requests and answers are those of the official SDKs (Python `huaweicloudsdkcore`
//! 3.1.219, `auth/internal.py`: `IamHelper`, `FederalAccessor`, `OidcStsAccessor`,
//! `StsAccessor._process_credential`; Go `core/auth/internal/iam_helper.go` and
//! `iam_model.go`) and of IAM's API reference (the OpenStack-compatible project list,
//! "Obtaining a User Token Through Password Authentication", "Obtaining a Token with an
//! OpenID Connect ID Token", "Obtaining a Temporary AK/SK").
//!
//! Every answer carries an `X-IAM-Trace-Id` (32 random hex digits). Errors come in IAM's
//! two shapes:
//!
//! - Keystone's, `{"error":{"code":401,"message":"...","title":"Unauthorized"}}`, for a
//!   project list without valid credentials (401), a wrong user or password (401, `The
//!   username or password is wrong.`), and another method on any of these paths (405, with
//!   `Allow`).
//! - The flat `{"error_code":"IAM.0011","error_msg":"..."}` for everything else, with the
//!   codes and messages of IAM's API reference: `IAM.0011` `Request body is invalid.` (400:
//!   not JSON, not an object, or a mandatory field missing), `IAM.0007` `Request parameter
//!   <key> is invalid.` (400: a header or field of the wrong value), `IAM.0001` `The request
//!   you have made requires authentication.` (401: a wrong id token, an unknown or expired
//!   IAM token), `IAM.0004` `Could not find <what>: <which>.` (404: an unknown project,
//!   identity provider or OIDC provider). No STS-specific codes were found; STS answers in
//!   IAM's.
//!
//! Passwords and tokens are never echoed in an answer.

use std::ops::RangeInclusive;
use std::time::{Duration, SystemTime};

use http::request::Parts;
use http::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::answer::{Answer, JSON};
use crate::auth::{self, Keys};
use crate::config::MockConfig;
use crate::gateway::Gateway;
use crate::issued::{Issued, IssuedCredentials, rfc3339_micros};

/// IAM's (Keystone's) project list.
pub(crate) const PROJECTS_PATH: &str = "/v3/projects";
/// IAM's password (and Keystone) token path.
pub(crate) const PASSWORD_TOKENS_PATH: &str = "/v3/auth/tokens";
/// IAM federation with an OIDC id token.
pub(crate) const ID_TOKEN_PATH: &str = "/v3.0/OS-AUTH/id-token/tokens";
/// IAM's temporary credentials for a token.
pub(crate) const SECURITY_TOKENS_PATH: &str = "/v3.0/OS-CREDENTIAL/securitytokens";
/// STS's assume-agency with an OIDC id token.
pub(crate) const ASSUME_WITH_OIDC_PATH: &str = "/v5/agencies/assume-with-oidc";

/// The id of the emulator's one account (IAM's domain), which owns every project.
pub(crate) const ACCOUNT_ID: &str = "7c1f0b5e9d2a4c6f8e3b1a9d5c7e2f40";
/// The account's name where no user names it (federated users).
pub(crate) const ACCOUNT_NAME: &str = "kms-mock";

/// `duration_seconds` IAM accepts for temporary credentials: 15 minutes to 24 hours.
const SECURITY_TOKEN_DURATION: RangeInclusive<u64> = 900..=86_400;
/// IAM's default when none is asked for: 15 minutes.
const DEFAULT_SECURITY_TOKEN_DURATION: u64 = 900;
/// `duration_seconds` STS accepts: 15 minutes to 12 hours.
const STS_DURATION: RangeInclusive<u64> = 900..=43_200;
/// STS's default: an hour.
const DEFAULT_STS_DURATION: u64 = 3600;

/// What IAM needs to answer one request.
pub(crate) struct Ask<'a> {
    pub(crate) config: &'a MockConfig,
    pub(crate) issued: &'a Issued,
    pub(crate) gateway: &'a Gateway,
    pub(crate) parts: &'a Parts,
    pub(crate) body: &'a [u8],
    /// The emulator's time for this request.
    pub(crate) now: SystemTime,
    /// Whether the answer reaches the client: when a scripted fault replaces it, nothing is
    /// issued.
    pub(crate) sent: bool,
}

impl Ask<'_> {
    fn keys(&self) -> Keys<'_> {
        Keys {
            config: self.config,
            issued: self.issued,
        }
    }

    /// The value of a header sent exactly once, as text.
    fn single_header(&self, name: &str) -> Option<&str> {
        let mut values = self.parts.headers.get_all(name).iter();
        match (values.next(), values.next()) {
            (Some(value), None) => value.to_str().ok(),
            _ => None,
        }
    }

    /// `http(s)://<Host>`, for the links of the project list.
    fn base_url(&self) -> String {
        let scheme = if self.config.tls { "https" } else { "http" };
        let host = self
            .single_header("host")
            .map(str::to_owned)
            .or_else(|| self.parts.uri.authority().map(|a| a.as_str().to_owned()))
            .unwrap_or_else(|| "localhost".to_owned());
        format!("{scheme}://{host}")
    }

    /// Fresh temporary credentials for the shorter of `asked` seconds and the configured
    /// credential lifetime; `None` when the answer is not sent.
    fn credentials(&self, asked: u64) -> Option<IssuedCredentials> {
        let lifetime = Duration::from_secs(asked).min(self.config.credential_lifetime);
        self.sent.then(|| self.issued.issue(self.now, lifetime))
    }
}

/// The answer of IAM or STS, or `None` when `ask` is for neither (or they are not served).
pub(crate) fn answer(ask: &Ask<'_>) -> Option<Answer> {
    if !ask.config.iam {
        return None;
    }
    let (allowed, handler): (Method, fn(&Ask<'_>) -> Answer) = match ask.parts.uri.path() {
        PROJECTS_PATH => (Method::GET, list_projects),
        PASSWORD_TOKENS_PATH => (Method::POST, password_token),
        ID_TOKEN_PATH => (Method::POST, federation_token),
        SECURITY_TOKENS_PATH => (Method::POST, security_tokens),
        ASSUME_WITH_OIDC_PATH => (Method::POST, assume_with_oidc),
        _ => return None,
    };
    let mut answer = if ask.parts.method == allowed {
        handler(ask)
    } else {
        method_not_allowed(allowed.as_str())
    };
    answer.headers.push(("x-iam-trace-id", ask.issued.hex(32)));
    Some(answer)
}

/// `GET /v3/projects[?name=<name>]`: the projects, filtered by exact name, to an
/// authenticated caller.
fn list_projects(ask: &Ask<'_>) -> Answer {
    if let Err(reason) =
        auth::authenticate_iam(ask.keys(), ask.gateway, ask.parts, ask.body, ask.now)
    {
        return Answer::keystone(
            StatusCode::UNAUTHORIZED,
            &format!("The request you have made requires authentication: {reason}."),
        );
    }
    let query = ask.parts.uri.query();
    let name = query.and_then(|q| query_value(q, "name"));
    let base = ask.base_url();
    let mut listed: Vec<(&String, &str)> = ask
        .config
        .projects
        .iter()
        .map(|(id, project)| (id, project.name(id)))
        .filter(|(_, project_name)| name.as_deref().is_none_or(|n| n == *project_name))
        .collect();
    listed.sort_unstable();
    let projects: Vec<Value> = listed
        .iter()
        .map(|(id, project_name)| {
            json!({
                "is_domain": false,
                "description": "",
                "links": {"self": format!("{base}{PROJECTS_PATH}/{id}")},
                "enabled": true,
                "id": id,
                "parent_id": ACCOUNT_ID,
                "domain_id": ACCOUNT_ID,
                "name": project_name,
            })
        })
        .collect();
    let self_link = match query {
        Some(query) => format!("{base}{PROJECTS_PATH}?{query}"),
        None => format!("{base}{PROJECTS_PATH}"),
    };
    json_answer(
        StatusCode::OK,
        &json!({
            "links": {"self": self_link, "previous": null, "next": null},
            "projects": projects,
        }),
    )
}

/// `POST /v3/auth/tokens` with the password method: a token for a configured user, scoped
/// as asked (a project by id or name, or the domain, which is also what no scope gives).
fn password_token(ask: &Ask<'_>) -> Answer {
    let Some(body) = json_object(ask.body) else {
        return invalid_body();
    };
    let identity = at(&body, "/auth/identity");
    if !has_method(identity, "password") {
        return invalid_parameter("auth.identity.methods");
    }
    let user = at(identity, "/password/user");
    let (Some(domain), Some(name), Some(password)) = (
        at(user, "/domain/name").as_str(),
        at(user, "/name").as_str(),
        at(user, "/password").as_str(),
    ) else {
        return invalid_body();
    };
    let known = ask
        .config
        .users
        .get(&(domain.to_owned(), name.to_owned()))
        .is_some_and(|expected| same(expected, password));
    if !known {
        return Answer::keystone(
            StatusCode::UNAUTHORIZED,
            "The username or password is wrong.",
        );
    }
    let scope = match resolve_scope(ask.config, at(&body, "/auth/scope"), Scope::Domain) {
        Ok(scope) => scope,
        Err(answer) => return answer,
    };
    let user = json!({
        "domain": domain_json(domain),
        "id": hex_id("user", &format!("{domain}/{name}")),
        "name": name,
        "password_expires_at": "",
    });
    token_answer(ask, "password", user, &scope, domain, true)
}

/// `POST /v3.0/OS-AUTH/id-token/tokens` with `X-Idp-Id`: a federation token for the id
/// token of a configured identity provider, unscoped unless a scope is asked for.
fn federation_token(ask: &Ask<'_>) -> Answer {
    let Some(idp) = ask.single_header("x-idp-id").filter(|v| !v.is_empty()) else {
        return invalid_parameter("X-Idp-Id");
    };
    let Some(body) = json_object(ask.body) else {
        return invalid_body();
    };
    let Some(id_token) = at(&body, "/auth/id_token/id").as_str() else {
        return invalid_body();
    };
    let Some(expected) = ask.config.idps.get(idp) else {
        return not_found("identity provider", idp);
    };
    if !same(expected, id_token) {
        return unauthorized();
    }
    let scope = match resolve_scope(ask.config, at(&body, "/auth/scope"), Scope::Unscoped) {
        Ok(scope) => scope,
        Err(answer) => return answer,
    };
    let user = json!({
        "OS-FEDERATION": {
            "identity_provider": {"id": idp},
            "protocol": {"id": "oidc"},
            "groups": [],
        },
        "domain": domain_json(ACCOUNT_NAME),
        "id": hex_id("federated-user", idp),
        "name": "FederationUser",
    });
    token_answer(ask, "mapped", user, &scope, ACCOUNT_NAME, false)
}

/// `POST /v3.0/OS-CREDENTIAL/securitytokens` with the token method: temporary credentials
/// for a token the emulator accepts, given in `X-Auth-Token` (which takes precedence, as
/// IAM documents) or as `auth.identity.token.id` (as the official SDKs send it).
fn security_tokens(ask: &Ask<'_>) -> Answer {
    let Some(body) = json_object(ask.body) else {
        return invalid_body();
    };
    let identity = at(&body, "/auth/identity");
    if !has_method(identity, "token") {
        return invalid_parameter("auth.identity.methods");
    }
    let Some(duration) = duration(
        at(identity, "/token/duration_seconds"),
        SECURITY_TOKEN_DURATION,
        DEFAULT_SECURITY_TOKEN_DURATION,
    ) else {
        return invalid_parameter("auth.identity.token.duration_seconds");
    };
    let token = match ask.parts.headers.get("x-auth-token") {
        Some(header) => header.to_str().ok(),
        None => at(identity, "/token/id").as_str(),
    };
    let live = token
        .and_then(|t| ask.keys().token(t))
        .is_some_and(|t| t.is_live(ask.now));
    if !live {
        return unauthorized();
    }
    let body = ask
        .credentials(duration)
        .map(|c| c.document())
        .unwrap_or_default();
    Answer::new(StatusCode::CREATED, JSON, body)
}

/// `POST /v5/agencies/assume-with-oidc`: temporary credentials for the id token of a
/// configured OIDC provider, for any agency.
fn assume_with_oidc(ask: &Ask<'_>) -> Answer {
    let Some(body) = json_object(ask.body) else {
        return invalid_body();
    };
    let text = |key: &str| field(&body, key).as_str().filter(|v| !v.is_empty());
    let (Some(provider), Some(agency), Some(id_token)) =
        (text("provider_urn"), text("agency_urn"), text("id_token"))
    else {
        let missing = ["provider_urn", "agency_urn", "id_token"]
            .into_iter()
            .find(|key| text(key).is_none())
            .unwrap_or("provider_urn");
        return invalid_parameter(missing);
    };
    let Some(session) = text("agency_session_name").filter(|s| is_session_name(s)) else {
        return invalid_parameter("agency_session_name");
    };
    let Some(duration) = duration(
        field(&body, "duration_seconds"),
        STS_DURATION,
        DEFAULT_STS_DURATION,
    ) else {
        return invalid_parameter("duration_seconds");
    };
    let policy = field(&body, "policy");
    if !(policy.is_null() || policy.is_string()) {
        return invalid_parameter("policy");
    }
    let policy_ids = field(&body, "policy_ids");
    let ids_ok = policy_ids.is_null()
        || policy_ids
            .as_array()
            .is_some_and(|ids| ids.iter().all(Value::is_string));
    if !ids_ok {
        return invalid_parameter("policy_ids");
    }
    let Some(expected) = ask.config.oidc_providers.get(provider) else {
        return not_found("OIDC provider", provider);
    };
    if !same(expected, id_token) {
        return unauthorized();
    }
    let Some(credentials) = ask.credentials(duration) else {
        return Answer::new(StatusCode::OK, JSON, String::new());
    };
    json_answer(
        StatusCode::OK,
        &json!({
            "credentials": {
                "access_key_id": credentials.access_key,
                "secret_access_key": credentials.secret_key,
                "security_token": credentials.security_token,
                "expiration": rfc3339_micros(credentials.expires_at),
            },
            "assumed_agency": {
                "urn": assumed_agency_urn(agency, session),
                "id": format!("{}:{session}", hex_id("agency", agency)),
            },
            "provider": provider,
        }),
    )
}

/// What a token is scoped to.
enum Scope {
    /// A project: its id and name.
    Project { id: String, name: String },
    /// The account (domain): for global services, not KMS.
    Domain,
    /// Nothing: only good for getting credentials or another token.
    Unscoped,
}

/// The scope `scope` asks for (`absent` when there is none): a project by `id` or by
/// `name` (which must name exactly one), else the domain.
///
/// # Errors
/// The answer refusing the scope: 404 `IAM.0004` for an unknown project, 400 `IAM.0007`
/// for a name several projects share, 400 `IAM.0011` for a scope of neither kind.
fn resolve_scope(config: &MockConfig, scope: &Value, absent: Scope) -> Result<Scope, Answer> {
    if scope.is_null() {
        return Ok(absent);
    }
    let project = field(scope, "project");
    if project.is_object() {
        if let Some(id) = field(project, "id").as_str() {
            return match config.projects.get(id) {
                Some(entry) => Ok(Scope::Project {
                    id: id.to_owned(),
                    name: entry.name(id).to_owned(),
                }),
                None => Err(not_found("project", id)),
            };
        }
        let Some(name) = field(project, "name").as_str() else {
            return Err(invalid_body());
        };
        let named: Vec<&String> = config
            .projects
            .iter()
            .filter(|(id, entry)| entry.name(id) == name)
            .map(|(id, _)| id)
            .collect();
        return match named.as_slice() {
            [id] => Ok(Scope::Project {
                id: (*id).clone(),
                name: name.to_owned(),
            }),
            [] => Err(not_found("project", name)),
            several => Err(Answer::iam(
                StatusCode::BAD_REQUEST,
                "IAM.0007",
                &format!(
                    "Request parameter scope.project.name is invalid: {} projects have that \
                     name; scope the token by id.",
                    several.len()
                ),
            )),
        };
    }
    if field(scope, "domain").is_object() {
        return Ok(Scope::Domain);
    }
    Err(invalid_body())
}

/// 201 with a fresh token in `X-Subject-Token` and its description: `method`, `user`, the
/// scope (`project` or `domain`, with the account named `domain_name`), and an empty
/// `catalog` when asked for (password tokens have one).
fn token_answer(
    ask: &Ask<'_>,
    method: &str,
    user: Value,
    scope: &Scope,
    domain_name: &str,
    catalog: bool,
) -> Answer {
    if !ask.sent {
        return Answer::new(StatusCode::CREATED, JSON, String::new());
    }
    let project = match scope {
        Scope::Project { id, .. } => Some(id.clone()),
        Scope::Domain | Scope::Unscoped => None,
    };
    let (token, expires_at) = ask
        .issued
        .issue_token(ask.now, ask.config.token_lifetime, project);
    let mut described = serde_json::Map::new();
    described.insert("expires_at".into(), rfc3339_micros(expires_at).into());
    described.insert("issued_at".into(), rfc3339_micros(ask.now).into());
    described.insert("methods".into(), json!([method]));
    described.insert("user".into(), user);
    match scope {
        Scope::Project { id, name } => {
            described.insert(
                "project".into(),
                json!({"domain": domain_json(domain_name), "id": id, "name": name}),
            );
        }
        Scope::Domain => {
            described.insert("domain".into(), domain_json(domain_name));
        }
        Scope::Unscoped => {}
    }
    if catalog {
        described.insert("catalog".into(), json!([]));
    }
    let mut answer = json_answer(StatusCode::CREATED, &json!({"token": described}));
    answer.headers.push(("x-subject-token", token));
    answer
}

/// The account, named `name`.
fn domain_json(name: &str) -> Value {
    json!({"id": ACCOUNT_ID, "name": name})
}

/// Whether `identity.methods` lists `method`.
fn has_method(identity: &Value, method: &str) -> bool {
    field(identity, "methods")
        .as_array()
        .is_some_and(|methods| methods.iter().any(|m| m.as_str() == Some(method)))
}

/// A `duration_seconds`: `default` when absent (or null), else a whole number in `range`.
fn duration(value: &Value, range: RangeInclusive<u64>, default: u64) -> Option<u64> {
    if value.is_null() {
        return Some(default);
    }
    value.as_u64().filter(|d| range.contains(d))
}

/// STS's agency session names: 2 to 64 of letters, digits and `_+=,.@-`.
fn is_session_name(name: &str) -> bool {
    (2..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-".contains(&b))
}

/// The URN of an assumed agency's session: `sts::<account>:assumed-agency:<agency>/<session>`
/// for an agency URN `iam::<account>:agency:<agency>`, else the agency URN and the session.
fn assumed_agency_urn(agency: &str, session: &str) -> String {
    match agency
        .strip_prefix("iam::")
        .and_then(|rest| rest.split_once(":agency:"))
    {
        Some((account, name)) => format!("sts::{account}:assumed-agency:{name}/{session}"),
        None => format!("{agency}/{session}"),
    }
}

/// 32 hex digits that stand for `name` of `kind`, the same on every run.
fn hex_id(kind: &str, name: &str) -> String {
    let digest = Sha256::new()
        .chain_update(kind.as_bytes())
        .chain_update([0])
        .chain_update(name.as_bytes())
        .finalize();
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// Whether a secret sent equals the one expected, compared without stopping at the first
/// difference.
fn same(expected: &str, sent: &str) -> bool {
    expected.len() == sent.len()
        && expected
            .bytes()
            .zip(sent.bytes())
            .fold(0u8, |diff, (a, b)| diff | (a ^ b))
            == 0
}

/// What a JSON pointer leads to in `value`, or null.
fn at<'v>(value: &'v Value, pointer: &str) -> &'v Value {
    value.pointer(pointer).unwrap_or(&Value::Null)
}

/// The member `key` of `value`, or null.
fn field<'v>(value: &'v Value, key: &str) -> &'v Value {
    value.get(key).unwrap_or(&Value::Null)
}

/// The body as a JSON object, if it is one.
fn json_object(body: &[u8]) -> Option<Value> {
    serde_json::from_slice::<Value>(body)
        .ok()
        .filter(Value::is_object)
}

/// The first value of `key` in a query string, percent-decoded.
fn query_value(query: &str, key: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(k) == key).then(|| percent_decode(v))
    })
}

/// `%XX` escapes decoded (invalid ones kept as they are); bytes that are not UTF-8
/// replaced.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let escaped = (b == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(decoded) => {
                out.push(decoded);
                i += 3;
            }
            None => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn json_answer(status: StatusCode, body: &Value) -> Answer {
    Answer::new(status, JSON, body.to_string())
}

/// 400 `IAM.0011`.
fn invalid_body() -> Answer {
    Answer::iam(
        StatusCode::BAD_REQUEST,
        "IAM.0011",
        "Request body is invalid.",
    )
}

/// 400 `IAM.0007` naming `key`.
fn invalid_parameter(key: &str) -> Answer {
    Answer::iam(
        StatusCode::BAD_REQUEST,
        "IAM.0007",
        &format!("Request parameter {key} is invalid."),
    )
}

/// 401 `IAM.0001`.
fn unauthorized() -> Answer {
    Answer::iam(
        StatusCode::UNAUTHORIZED,
        "IAM.0001",
        "The request you have made requires authentication.",
    )
}

/// 404 `IAM.0004`.
fn not_found(what: &str, which: &str) -> Answer {
    Answer::iam(
        StatusCode::NOT_FOUND,
        "IAM.0004",
        &format!("Could not find {what}: {which}."),
    )
}

/// Keystone's 405, with `Allow`.
fn method_not_allowed(allowed: &str) -> Answer {
    let mut answer = Answer::keystone(
        StatusCode::METHOD_NOT_ALLOWED,
        "The method is not allowed for the requested URL.",
    );
    answer.headers.push(("allow", allowed.to_owned()));
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_found_by_key_and_decoded() {
        assert_eq!(
            query_value("name=cn-north-4", "name").as_deref(),
            Some("cn-north-4")
        );
        assert_eq!(
            query_value("domain_id=x&na%6De=a%2Db", "name").as_deref(),
            Some("a-b")
        );
        assert_eq!(query_value("name", "name").as_deref(), Some(""));
        assert_eq!(query_value("other=1", "name"), None);
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }

    #[test]
    fn durations_default_when_absent_and_must_be_in_range() {
        assert_eq!(duration(&Value::Null, 900..=3600, 900), Some(900));
        assert_eq!(duration(&json!(3600), 900..=3600, 900), Some(3600));
        assert_eq!(duration(&json!(899), 900..=3600, 900), None);
        assert_eq!(duration(&json!("3600"), 900..=3600, 900), None);
        assert_eq!(duration(&json!(-1), 900..=3600, 900), None);
    }

    #[test]
    fn session_names_and_assumed_agency_urns() {
        assert!(is_session_name("oidc-sts-session"));
        assert!(!is_session_name("x"));
        assert!(!is_session_name("has space"));
        assert!(!is_session_name(&"a".repeat(65)));
        assert_eq!(
            assumed_agency_urn("iam::123:agency:ci", "s1"),
            "sts::123:assumed-agency:ci/s1"
        );
        assert_eq!(assumed_agency_urn("other", "s1"), "other/s1");
    }

    #[test]
    fn secrets_compare_equal_only_when_equal() {
        assert!(same("secret", "secret"));
        assert!(!same("secret", "secreT"));
        assert!(!same("secret", "secret2"));
        assert!(same("", ""));
    }
}
