//! IAM and STS on the emulator's listener, over real sockets: the project list (signed or
//! with a token; one, none or two projects of a region), password tokens, OIDC federation
//! and its temporary credentials, STS assume-with-oidc; the tokens and credentials issued
//! accepted by the KMS path until they expire; every error in IAM's shapes with its trace
//! id; recording and faults on these paths.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // a test fails by panicking

mod common;

use std::time::{Duration, SystemTime};

use common::*;
use http::Request;
use kms_mock::{BlockingMockServer, DEFAULT_TOKEN_LIFETIME, Fault, MockConfig};
use kms_proto::{AkSk, AuthToken, Credentials};

const PROJECTS_PATH: &str = "/v3/projects";
const PASSWORD_TOKENS_PATH: &str = "/v3/auth/tokens";
const ID_TOKEN_PATH: &str = "/v3.0/OS-AUTH/id-token/tokens";
const SECURITY_TOKENS_PATH: &str = "/v3.0/OS-CREDENTIAL/securitytokens";
const ASSUME_WITH_OIDC_PATH: &str = "/v5/agencies/assume-with-oidc";

/// The region of [`PID`] alone.
const REGION: &str = "cn-north-4";
/// The region [`OTHER_PID`] and [`THIRD_PID`] share.
const SHARED: &str = "cn-east-3";
/// A third project, in [`SHARED`].
const THIRD_PID: &str = "9a8b7c6d5e4f30211203f4e5d6c7b8a9";
const THIRD_COUNT: u64 = 7;

const DOMAIN: &str = "example-account";
const USER: &str = "ci-user";
const PASSWORD: &str = "Pa55-word-never-echoed";

const IDP: &str = "github-oidc";
const IDP_TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.federation-id-token.c2lnbmF0dXJl";
const PROVIDER_URN: &str = "iam::0123456789abcdef:oidcProvider:GitHubActions";
const AGENCY_URN: &str = "iam::0123456789abcdef:agency:ci-deploy";
const STS_TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.sts-id-token.c2lnbmF0dXJl";

/// Three projects in two regions, the usual credentials, a user, an identity provider and
/// an OIDC provider.
fn iam_config() -> MockConfig {
    MockConfig::new()
        .with_project_in(PID, COUNT, REGION)
        .with_project_in(OTHER_PID, OTHER_COUNT, SHARED)
        .with_project_in(THIRD_PID, THIRD_COUNT, SHARED)
        .with_aksk(AK, SK)
        .with_temporary_aksk(TEMP_AK, TEMP_SK, SECURITY_TOKEN)
        .with_token(TOKEN, PID)
        .with_user(DOMAIN, USER, PASSWORD)
        .with_idp(IDP, IDP_TOKEN)
        .with_oidc_provider(PROVIDER_URN, STS_TOKEN)
}

fn start_with(config: MockConfig) -> BlockingMockServer {
    BlockingMockServer::start(config).expect("the emulator starts")
}

fn start() -> BlockingMockServer {
    start_with(iam_config())
}

// ---------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------

/// `GET /v3/projects[?query]`, signed (or with a token) by kms-proto's signer as the
/// official SDKs sign it: every header, the query included.
fn projects_request(
    url: &str,
    query: Option<&str>,
    credentials: &Credentials,
    now: SystemTime,
) -> Request<Vec<u8>> {
    let target = match query {
        Some(query) => format!("{PROJECTS_PATH}?{query}"),
        None => PROJECTS_PATH.to_owned(),
    };
    let mut request = Request::get(target)
        .header("host", endpoint(url).authority())
        .header("content-type", "application/json;charset=UTF-8")
        .header("user-agent", "kms-mock-tests")
        .body(Vec::new())
        .unwrap();
    kms_proto::sign_request(&mut request, credentials, now).unwrap();
    request
}

fn aksk(ak: &str, sk: &str) -> Credentials {
    AkSk::new(ak, sk).unwrap().into()
}

fn token(token: &str) -> Credentials {
    AuthToken::new(token).unwrap().into()
}

/// A POST of `body` (JSON) to `path`, with `headers`, as the official SDKs send it.
fn post_json(url: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Request<Vec<u8>> {
    let mut all = vec![("content-type", "application/json;charset=UTF-8")];
    all.extend_from_slice(headers);
    plain_request(url, "POST", path, &all, body.as_bytes())
}

/// The password token request of API-NOTES, scoped by `scope` (a JSON object, or none).
fn password_body(domain: &str, user: &str, password: &str, scope: Option<&str>) -> String {
    let identity = serde_json::json!({
        "methods": ["password"],
        "password": {"user": {"domain": {"name": domain}, "name": user, "password": password}},
    });
    match scope {
        Some(scope) => format!("{{\"auth\":{{\"identity\":{identity},\"scope\":{scope}}}}}"),
        None => format!("{{\"auth\":{{\"identity\":{identity}}}}}"),
    }
}

fn password_request(url: &str, scope: &str) -> Request<Vec<u8>> {
    post_json(
        url,
        PASSWORD_TOKENS_PATH,
        &[],
        &password_body(DOMAIN, USER, PASSWORD, Some(scope)),
    )
}

/// The federation request of the official Python SDK (`IamHelper`).
fn federation_request(url: &str, idp: &str, id_token: &str) -> Request<Vec<u8>> {
    let body = serde_json::json!({"auth": {"id_token": {"id": id_token}}});
    post_json(url, ID_TOKEN_PATH, &[("x-idp-id", idp)], &body.to_string())
}

/// The securitytokens request of the official Python SDK (`FederalAccessor`: 6 hours).
fn security_tokens_request(url: &str, iam_token: &str, duration: u64) -> Request<Vec<u8>> {
    let body = serde_json::json!({"auth": {"identity": {
        "methods": ["token"],
        "token": {"id": iam_token, "duration_seconds": duration},
    }}});
    post_json(url, SECURITY_TOKENS_PATH, &[], &body.to_string())
}

/// The payload of the official Python SDK (`OidcStsAccessor`), with its defaults.
fn sts_body(provider: &str, id_token: &str) -> serde_json::Value {
    serde_json::json!({
        "provider_urn": provider,
        "agency_urn": AGENCY_URN,
        "agency_session_name": "oidc-sts-session",
        "id_token": id_token,
        "duration_seconds": 3600,
    })
}

fn sts_request(url: &str, body: &serde_json::Value) -> Request<Vec<u8>> {
    post_json(url, ASSUME_WITH_OIDC_PATH, &[], &body.to_string())
}

// ---------------------------------------------------------------------------------------
// Answers
// ---------------------------------------------------------------------------------------

/// The `X-IAM-Trace-Id`, checked to be 32 lower-case hex digits.
fn trace_id(response: &Response) -> String {
    let id = response
        .header("x-iam-trace-id")
        .unwrap_or_else(|| panic!("no X-IAM-Trace-Id in {:?}", response.head.headers))
        .to_owned();
    assert!(
        id.len() == 32
            && id
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "X-IAM-Trace-Id {id:?} is not 32 lower-case hex digits"
    );
    response.request_id();
    id
}

/// Asserts IAM's flat error shape with `code` and a trace id (which kms-proto's IAM error
/// reader finds too), and returns the message.
fn assert_flat_iam(response: &Response, status: u16, code: &str) -> String {
    assert_eq!(response.status(), status, "{}", response.text());
    let trace = trace_id(response);
    let json = response.json();
    let object = json.as_object().unwrap();
    assert_eq!(object.len(), 2, "{json}");
    assert_eq!(json["error_code"], code, "{json}");
    let parsed = kms_proto::iam::IamError::parse(
        http::StatusCode::from_u16(status).unwrap(),
        &response.header_map(),
        &response.body,
    );
    assert_eq!(parsed.code(), Some(code));
    assert_eq!(parsed.trace_id(), Some(trace.as_str()));
    json["error_msg"].as_str().unwrap().to_owned()
}

/// Asserts Keystone's error shape for `status` with a trace id, and returns the message.
fn assert_keystone(response: &Response, status: u16) -> String {
    assert_eq!(response.status(), status, "{}", response.text());
    trace_id(response);
    let json = response.json();
    assert_eq!(json.as_object().unwrap().len(), 1, "{json}");
    let error = json["error"].as_object().unwrap();
    assert_eq!(error.len(), 3, "{json}");
    assert_eq!(json["error"]["code"], status, "{json}");
    let title = http::StatusCode::from_u16(status)
        .unwrap()
        .canonical_reason()
        .unwrap();
    assert_eq!(json["error"]["title"], title, "{json}");
    let parsed = kms_proto::iam::IamError::parse(
        http::StatusCode::from_u16(status).unwrap(),
        &response.header_map(),
        &response.body,
    );
    assert_eq!(parsed.code(), Some(status.to_string().as_str()));
    json["error"]["message"].as_str().unwrap().to_owned()
}

/// The ids of the projects listed, after checking each one's shape.
fn listed_ids(response: &Response, url: &str) -> Vec<String> {
    assert_eq!(response.status(), 200, "{}", response.text());
    trace_id(response);
    let json = response.json();
    assert_eq!(json["links"]["previous"], serde_json::Value::Null, "{json}");
    assert_eq!(json["links"]["next"], serde_json::Value::Null, "{json}");
    assert!(
        json["links"]["self"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{url}{PROJECTS_PATH}")),
        "{json}"
    );
    let projects = json["projects"].as_array().unwrap();
    let domain_id = projects
        .first()
        .map(|p| p["domain_id"].as_str().unwrap().to_owned());
    projects
        .iter()
        .map(|project| {
            let id = project["id"].as_str().unwrap();
            let mut keys: Vec<&str> = project
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            keys.sort_unstable();
            assert_eq!(
                keys,
                [
                    "description",
                    "domain_id",
                    "enabled",
                    "id",
                    "is_domain",
                    "links",
                    "name",
                    "parent_id"
                ],
                "{project}"
            );
            assert_eq!(project["enabled"], true, "{project}");
            assert_eq!(project["is_domain"], false, "{project}");
            assert_eq!(project["description"], "", "{project}");
            assert_eq!(project["domain_id"].as_str(), domain_id.as_deref());
            assert_eq!(project["parent_id"], project["domain_id"], "{project}");
            assert_eq!(
                project["links"]["self"],
                format!("{url}{PROJECTS_PATH}/{id}"),
                "{project}"
            );
            id.to_owned()
        })
        .collect()
}

/// A 201 token answer: the token from `X-Subject-Token` (checked to be one kms-proto
/// accepts) and the body's `token`.
fn issued_token(response: &Response) -> (String, serde_json::Value) {
    assert_eq!(response.status(), 201, "{}", response.text());
    trace_id(response);
    let token = response
        .header("x-subject-token")
        .unwrap_or_else(|| panic!("no X-Subject-Token in {:?}", response.head.headers))
        .to_owned();
    assert!(token.starts_with("MII") && token.len() >= 512, "{token}");
    AuthToken::new(&token).unwrap();
    let json = response.json();
    assert_eq!(json.as_object().unwrap().len(), 1, "{json}");
    let described = json["token"].clone();
    parse_expires_at(described["expires_at"].as_str().unwrap());
    parse_expires_at(described["issued_at"].as_str().unwrap());
    (token, described)
}

/// Temporary credentials from a credential document or an STS answer, read by kms-proto's
/// parser (the client's), with the text of their expiry.
fn temporary(response: &Response, status: u16) -> (Credentials, SystemTime) {
    assert_eq!(response.status(), status, "{}", response.text());
    trace_id(response);
    let parsed = kms_proto::credentials::parse_document(&response.body)
        .unwrap_or_else(|e| panic!("not a credential document ({e}): {}", response.text()));
    let (aksk, expires_at) = parsed.into_parts();
    (aksk.into(), expires_at)
}

/// The KMS call for `project` with `credentials`, signed now.
fn kms_call(server: &BlockingMockServer, credentials: Credentials, project: &str) -> Response {
    send_ok(
        server.local_addr(),
        &build(&server.url(), credentials, project, SystemTime::now()),
    )
}

/// A password token scoped by `scope`.
fn password_token(server: &BlockingMockServer, scope: &str) -> (String, serde_json::Value) {
    issued_token(&send_ok(
        server.local_addr(),
        &password_request(&server.url(), scope),
    ))
}

/// A federation token for [`IDP`].
fn federation_token(server: &BlockingMockServer) -> String {
    issued_token(&send_ok(
        server.local_addr(),
        &federation_request(&server.url(), IDP, IDP_TOKEN),
    ))
    .0
}

// ---------------------------------------------------------------------------------------
// The project list
// ---------------------------------------------------------------------------------------

#[test]
fn project_list_by_region_name_finds_one_none_or_two_and_all_without_a_name() {
    let server = start();
    let url = server.url();
    let list = |query: Option<&str>| {
        let request = projects_request(&url, query, &aksk(AK, SK), SystemTime::now());
        listed_ids(&send_ok(server.local_addr(), &request), &url)
    };
    assert_eq!(list(Some(&format!("name={REGION}"))), [PID]);
    assert!(list(Some("name=xx-mars-1")).is_empty());
    assert_eq!(
        list(Some(&format!("name={SHARED}"))),
        [OTHER_PID, THIRD_PID]
    );
    let mut all = vec![PID, OTHER_PID, THIRD_PID];
    all.sort_unstable();
    assert_eq!(list(None), all);
    // Exact names only: a prefix or a sub-project's name finds nothing.
    assert!(list(Some("name=cn-north")).is_empty());
    assert!(list(Some(&format!("name={REGION}_sub"))).is_empty());
    // Each project is named after its region.
    let request = projects_request(&url, None, &aksk(AK, SK), SystemTime::now());
    let json = send_ok(server.local_addr(), &request).json();
    for project in json["projects"].as_array().unwrap() {
        let expected = if project["id"] == PID { REGION } else { SHARED };
        assert_eq!(project["name"], expected, "{project}");
    }
}

#[test]
fn the_clients_discovery_request_is_accepted_and_its_parser_reads_the_answer() {
    use kms_proto::operation::projects::{self, DiscoveryErrorKind};
    let server = start();
    let iam = endpoint(&server.url());
    let discover = |region: &str| {
        let region = kms_proto::Region::new(region).unwrap();
        let mut request =
            projects::request(&iam, &region, &aksk(AK, SK), SystemTime::now()).unwrap();
        // On the wire the target is the path and query, as the transports send it.
        let target = request.uri().path_and_query().unwrap().as_str().to_owned();
        *request.uri_mut() = target.parse().unwrap();
        let response = send_ok(server.local_addr(), &request);
        projects::parse(
            http::StatusCode::from_u16(response.status()).unwrap(),
            &response.header_map(),
            &response.body,
            &region,
        )
    };
    assert_eq!(discover(REGION).unwrap().as_str(), PID);
    let none = discover("xx-mars-1").unwrap_err();
    assert!(
        matches!(none.kind(), DiscoveryErrorKind::None),
        "{:?}",
        none.kind()
    );
    assert!(none.trace_id().is_some());
    match discover(SHARED).unwrap_err().kind() {
        DiscoveryErrorKind::Several(ids) => assert_eq!(ids, &[OTHER_PID, THIRD_PID]),
        other => panic!("expected several projects, got {other:?}"),
    }
}

#[test]
fn a_project_without_a_region_is_listed_with_its_id_as_its_name() {
    let server = start_with(
        MockConfig::new()
            .with_project(PID, COUNT)
            .with_aksk(AK, SK)
            .with_iam(),
    );
    let url = server.url();
    let request = projects_request(&url, None, &aksk(AK, SK), SystemTime::now());
    let response = send_ok(server.local_addr(), &request);
    assert_eq!(listed_ids(&response, &url), [PID]);
    assert_eq!(response.json()["projects"][0]["name"], PID);
    let request = projects_request(
        &url,
        Some("name=cn-north-4"),
        &aksk(AK, SK),
        SystemTime::now(),
    );
    assert!(listed_ids(&send_ok(server.local_addr(), &request), &url).is_empty());
}

#[test]
fn project_list_accepts_temporary_credentials_and_tokens_configured_or_issued() {
    let server = start();
    let url = server.url();
    let query = format!("name={REGION}");
    let temporary_aksk: Credentials = AkSk::new(TEMP_AK, TEMP_SK)
        .unwrap()
        .with_security_token(SECURITY_TOKEN)
        .unwrap()
        .into();
    let (password, _) = password_token(&server, &format!("{{\"project\":{{\"id\":\"{PID}\"}}}}"));
    let federated = federation_token(&server);
    let (issued, _) = temporary(
        &send_ok(
            server.local_addr(),
            &security_tokens_request(&url, &federated, 3600),
        ),
        201,
    );
    for (what, credentials) in [
        ("temporary AK/SK", temporary_aksk),
        ("configured token", token(TOKEN)),
        ("password token", token(&password)),
        ("unscoped federation token", token(&federated)),
        ("issued credentials", issued),
    ] {
        let request = projects_request(&url, Some(&query), &credentials, SystemTime::now());
        let response = send_ok(server.local_addr(), &request);
        assert_eq!(listed_ids(&response, &url), [PID], "{what}");
    }
}

#[test]
fn project_list_without_valid_credentials_is_a_keystone_401_with_a_trace_id() {
    let clock = TestClock::new();
    let server =
        start_with(clock.install(iam_config().with_token_lifetime(Duration::from_secs(60))));
    let url = server.url();
    let query = Some("name=cn-north-4");
    let bare = plain_request(
        &url,
        "GET",
        &format!("{PROJECTS_PATH}?name={REGION}"),
        &[],
        b"",
    );
    let (password, _) = password_token(&server, &format!("{{\"project\":{{\"id\":\"{PID}\"}}}}"));
    clock.advance(Duration::from_secs(60));
    let without_token: Credentials = AkSk::new(TEMP_AK, TEMP_SK).unwrap().into();
    let cases = [
        (
            "no credentials",
            bare,
            "no X-Auth-Token or Authorization header",
        ),
        (
            "a wrong SK",
            projects_request(&url, query, &aksk(AK, "wrong-sk"), clock.now()),
            "verify aksk signature fail",
        ),
        (
            "an unknown AK",
            projects_request(&url, query, &aksk("AKUNKNOWN", SK), clock.now()),
            "",
        ),
        (
            "a temporary AK without its security token",
            projects_request(&url, query, &without_token, clock.now()),
            "security token",
        ),
        (
            "an unknown token",
            projects_request(&url, query, &token("not-a-token"), clock.now()),
            "X-Auth-Token",
        ),
        (
            "an expired token",
            projects_request(&url, query, &token(&password), clock.now()),
            "X-Auth-Token",
        ),
    ];
    let mut traces = Vec::new();
    for (what, request, reason) in cases {
        let response = send_ok(server.local_addr(), &request);
        let message = assert_keystone(&response, 401);
        assert!(
            message.starts_with("The request you have made requires authentication"),
            "{what}: {message}"
        );
        assert!(message.contains(reason), "{what}: {message}");
        assert!(!message.contains(&password), "{what}: the token leaks");
        traces.push(trace_id(&response));
    }
    traces.sort_unstable();
    traces.dedup();
    assert_eq!(traces.len(), 6, "each answer has a trace id of its own");
}

#[test]
fn failed_signatures_on_iam_count_towards_the_gateways_lockout() {
    let server = start_with(iam_config().with_lockout(2, Duration::from_secs(300)));
    let url = server.url();
    for _ in 0..2 {
        let request = projects_request(&url, None, &aksk(AK, "wrong"), SystemTime::now());
        assert_keystone(&send_ok(server.local_addr(), &request), 401);
    }
    // Locked for KMS too, even with the right SK.
    let response = send_ok(server.local_addr(), &aksk_request(&url, AK, SK, PID));
    assert!(assert_flat_error(&response, 401, "APIGW.0301").contains("locked"));
    let request = projects_request(&url, None, &aksk(AK, SK), SystemTime::now());
    assert!(assert_keystone(&send_ok(server.local_addr(), &request), 401).contains("locked"));
}

// ---------------------------------------------------------------------------------------
// Password tokens
// ---------------------------------------------------------------------------------------

#[test]
fn password_token_then_kms_call_with_x_auth_token_for_its_project() {
    let clock = TestClock::new();
    let server = start_with(clock.install(iam_config()));
    let (token_text, described) =
        password_token(&server, &format!("{{\"project\":{{\"id\":\"{PID}\"}}}}"));
    assert_eq!(server.issued_tokens(), 1);
    assert_eq!(described["methods"], serde_json::json!(["password"]));
    assert_eq!(described["catalog"], serde_json::json!([]));
    assert_eq!(described["project"]["id"], PID);
    assert_eq!(described["project"]["name"], REGION);
    assert_eq!(described["project"]["domain"]["name"], DOMAIN);
    assert_eq!(described["user"]["name"], USER);
    assert_eq!(described["user"]["domain"]["name"], DOMAIN);
    assert_eq!(
        described["user"]["domain"]["id"],
        described["project"]["domain"]["id"]
    );
    assert_eq!(described["user"]["id"].as_str().unwrap().len(), 32);
    // 24 hours by default, from the emulator's clock.
    assert_eq!(DEFAULT_TOKEN_LIFETIME, Duration::from_secs(24 * 3600));
    assert_eq!(
        parse_expires_at(described["expires_at"].as_str().unwrap()),
        floor_micros(clock.now() + DEFAULT_TOKEN_LIFETIME)
    );
    assert_eq!(
        parse_expires_at(described["issued_at"].as_str().unwrap()),
        floor_micros(clock.now())
    );
    assert_count(
        &send_ok(
            server.local_addr(),
            &token_request(&server.url(), &token_text, PID),
        ),
        COUNT,
    );
    // For its project only.
    let response = send_ok(
        server.local_addr(),
        &token_request(&server.url(), &token_text, OTHER_PID),
    );
    assert_nested_error(&response, 403, "KMS.0305");
}

#[test]
fn password_token_scoped_by_region_name_or_domain() {
    let server = start();
    let url = server.url();
    let (by_name, described) = password_token(
        &server,
        &format!("{{\"project\":{{\"name\":\"{REGION}\"}}}}"),
    );
    assert_eq!(described["project"]["id"], PID);
    assert_count(
        &send_ok(server.local_addr(), &token_request(&url, &by_name, PID)),
        COUNT,
    );
    // The domain, asked for or by default: a token for global services, not for KMS.
    for scope in [Some("{\"domain\":{\"name\":\"example-account\"}}"), None] {
        let body = password_body(DOMAIN, USER, PASSWORD, scope);
        let (domain_token, described) = issued_token(&send_ok(
            server.local_addr(),
            &post_json(&url, PASSWORD_TOKENS_PATH, &[], &body),
        ));
        assert_eq!(described["domain"]["name"], DOMAIN, "{described}");
        assert!(described.get("project").is_none(), "{described}");
        let response = send_ok(
            server.local_addr(),
            &token_request(&url, &domain_token, PID),
        );
        assert_nested_error(&response, 403, "KMS.0305");
    }
    assert_eq!(server.issued_tokens(), 3);
}

#[test]
fn password_token_for_an_unknown_or_ambiguous_project_is_refused_in_the_flat_shape() {
    let server = start();
    let url = server.url();
    let send_scope = |scope: &str| send_ok(server.local_addr(), &password_request(&url, scope));
    let message = assert_flat_iam(
        &send_scope("{\"project\":{\"id\":\"0000000000000000000000000000dead\"}}"),
        404,
        "IAM.0004",
    );
    assert_eq!(
        message,
        "Could not find project: 0000000000000000000000000000dead."
    );
    assert_flat_iam(
        &send_scope("{\"project\":{\"name\":\"xx-mars-1\"}}"),
        404,
        "IAM.0004",
    );
    let message = assert_flat_iam(
        &send_scope(&format!("{{\"project\":{{\"name\":\"{SHARED}\"}}}}")),
        400,
        "IAM.0007",
    );
    assert!(message.contains("scope.project.name"), "{message}");
    assert_flat_iam(&send_scope("{\"project\":{}}"), 400, "IAM.0011");
    assert_flat_iam(&send_scope("{\"elsewhere\":{}}"), 400, "IAM.0011");
    assert_eq!(server.issued_tokens(), 0);
}

#[test]
fn a_wrong_password_or_unknown_user_is_keystones_401_and_never_echoes_the_password() {
    let server = start();
    let url = server.url();
    let scope = format!("{{\"project\":{{\"id\":\"{PID}\"}}}}");
    for (domain, user, password) in [
        (DOMAIN, USER, "wrong-password"),
        (DOMAIN, "someone-else", PASSWORD),
        ("another-account", USER, PASSWORD),
        (DOMAIN, USER, ""),
    ] {
        let body = password_body(domain, user, password, Some(&scope));
        let response = send_ok(
            server.local_addr(),
            &post_json(&url, PASSWORD_TOKENS_PATH, &[], &body),
        );
        assert_eq!(
            assert_keystone(&response, 401),
            "The username or password is wrong."
        );
        assert_eq!(
            response.json(),
            serde_json::json!({"error": {"code": 401, "message": "The username or password is wrong.", "title": "Unauthorized"}})
        );
        assert!(!response.text().contains(PASSWORD));
        assert!(response.header("x-subject-token").is_none());
    }
    assert_eq!(server.issued_tokens(), 0);
}

#[test]
fn token_lifetime_bounds_password_tokens_on_the_kms_path_and_on_iam() {
    let clock = TestClock::new();
    let server =
        start_with(clock.install(iam_config().with_token_lifetime(Duration::from_secs(60))));
    let url = server.url();
    let (token_text, described) =
        password_token(&server, &format!("{{\"project\":{{\"id\":\"{PID}\"}}}}"));
    assert_eq!(
        parse_expires_at(described["expires_at"].as_str().unwrap()),
        floor_micros(clock.now() + Duration::from_secs(60))
    );
    clock.advance(Duration::from_secs(59));
    assert_count(
        &send_ok(server.local_addr(), &token_request(&url, &token_text, PID)),
        COUNT,
    );
    clock.advance(Duration::from_secs(1));
    let response = send_ok(server.local_addr(), &token_request(&url, &token_text, PID));
    assert_nested_error(&response, 401, "KMS.0303");
    // Nor can it get credentials any more.
    let response = send_ok(
        server.local_addr(),
        &security_tokens_request(&url, &token_text, 900),
    );
    assert_flat_iam(&response, 401, "IAM.0001");
}

// ---------------------------------------------------------------------------------------
// Federation
// ---------------------------------------------------------------------------------------

#[test]
fn federation_round_trip_then_kms_call_with_the_issued_credentials() {
    let clock = TestClock::new();
    let server = start_with(clock.install(iam_config()));
    let url = server.url();
    let response = send_ok(
        server.local_addr(),
        &federation_request(&url, IDP, IDP_TOKEN),
    );
    let (federated, described) = issued_token(&response);
    // What the official Go SDK requires: token.expires_at and an X-Request-Id.
    response.request_id();
    assert_eq!(described["methods"], serde_json::json!(["mapped"]));
    assert_eq!(
        described["user"]["OS-FEDERATION"]["identity_provider"]["id"],
        IDP
    );
    assert_eq!(described["user"]["OS-FEDERATION"]["protocol"]["id"], "oidc");
    assert!(described.get("project").is_none(), "unscoped: {described}");
    assert_eq!(
        parse_expires_at(described["expires_at"].as_str().unwrap()),
        floor_micros(clock.now() + DEFAULT_TOKEN_LIFETIME)
    );
    // An unscoped token is not for KMS.
    let response = send_ok(server.local_addr(), &token_request(&url, &federated, PID));
    assert_nested_error(&response, 403, "KMS.0305");

    // The official SDKs ask for 6 hours; the default credential lifetime is 6 hours too.
    let response = send_ok(
        server.local_addr(),
        &security_tokens_request(&url, &federated, 21_600),
    );
    let text = response.text();
    assert!(
        text.starts_with(r#"{"credential":{"access":""#),
        "the credential document: {text}"
    );
    let (credentials, expires_at) = temporary(&response, 201);
    assert_eq!(
        expires_at,
        floor_micros(clock.now() + Duration::from_secs(21_600))
    );
    assert_eq!(server.issued_tokens(), 1);
    assert_eq!(server.issued_credentials(), 1);
    assert_count(&kms_call(&server, credentials.clone(), PID), COUNT);
    assert_count(&kms_call(&server, credentials, OTHER_PID), OTHER_COUNT);
}

#[test]
fn securitytokens_takes_the_token_from_x_auth_token_first_then_from_the_body() {
    let server = start();
    let url = server.url();
    let federated = federation_token(&server);
    let body_without_id =
        r#"{"auth":{"identity":{"methods":["token"],"token":{"duration_seconds":900}}}}"#;
    let with_header = |header_token: &str, body: &str| {
        send_ok(
            server.local_addr(),
            &post_json(
                &url,
                SECURITY_TOKENS_PATH,
                &[("x-auth-token", header_token)],
                body,
            ),
        )
    };
    let (credentials, _) = temporary(&with_header(&federated, body_without_id), 201);
    assert_count(&kms_call(&server, credentials, PID), COUNT);
    // The header wins over the body's id, both ways.
    let body_with_bogus_id =
        serde_json::json!({"auth": {"identity": {"methods": ["token"], "token": {"id": "bogus"}}}})
            .to_string();
    temporary(&with_header(&federated, &body_with_bogus_id), 201);
    let body_with_id = serde_json::json!({"auth": {"identity": {"methods": ["token"], "token": {"id": federated}}}}).to_string();
    assert_flat_iam(&with_header("bogus", &body_with_id), 401, "IAM.0001");
    // The configured token and a password token are tokens too.
    temporary(&with_header(TOKEN, body_without_id), 201);
    assert_eq!(server.issued_credentials(), 3);
}

#[test]
fn securitytokens_issues_the_shorter_of_the_duration_asked_and_the_credential_lifetime() {
    let clock = TestClock::new();
    let server =
        start_with(clock.install(iam_config().with_credential_lifetime(Duration::from_secs(1800))));
    let url = server.url();
    let federated = federation_token(&server);
    for (asked, lifetime) in [(900, 900), (21_600, 1800)] {
        let response = send_ok(
            server.local_addr(),
            &security_tokens_request(&url, &federated, asked),
        );
        let (_, expires_at) = temporary(&response, 201);
        assert_eq!(
            expires_at,
            floor_micros(clock.now() + Duration::from_secs(lifetime)),
            "asked {asked}"
        );
    }
    // Without duration_seconds: IAM's default, 15 minutes.
    let body = serde_json::json!({"auth": {"identity": {"methods": ["token"], "token": {"id": federated}}}});
    let response = send_ok(
        server.local_addr(),
        &post_json(&url, SECURITY_TOKENS_PATH, &[], &body.to_string()),
    );
    let (credentials, expires_at) = temporary(&response, 201);
    assert_eq!(
        expires_at,
        floor_micros(clock.now() + Duration::from_secs(900))
    );
    clock.advance(Duration::from_secs(899));
    assert_count(
        &kms_call_at(&server, credentials.clone(), clock.now()),
        COUNT,
    );
    clock.advance(Duration::from_secs(1));
    let response = kms_call_at(&server, credentials, clock.now());
    assert!(
        assert_flat_error(&response, 401, "APIGW.0301").contains("security token expires"),
        "{}",
        response.text()
    );
}

/// The KMS call for [`PID`] signed at `now`.
fn kms_call_at(server: &BlockingMockServer, credentials: Credentials, now: SystemTime) -> Response {
    send_ok(
        server.local_addr(),
        &build(&server.url(), credentials, PID, now),
    )
}

#[test]
fn federation_with_a_scope_gives_a_scoped_token() {
    let server = start();
    let url = server.url();
    let body = serde_json::json!({"auth": {
        "id_token": {"id": IDP_TOKEN},
        "scope": {"project": {"id": PID}},
    }});
    let (scoped, described) = issued_token(&send_ok(
        server.local_addr(),
        &post_json(&url, ID_TOKEN_PATH, &[("x-idp-id", IDP)], &body.to_string()),
    ));
    assert_eq!(described["project"]["id"], PID);
    assert_count(
        &send_ok(server.local_addr(), &token_request(&url, &scoped, PID)),
        COUNT,
    );
}

#[test]
fn federation_refusals_are_iams_flat_errors_and_issue_nothing() {
    let server = start();
    let url = server.url();
    let message = assert_flat_iam(
        &send_ok(
            server.local_addr(),
            &federation_request(&url, "other-idp", IDP_TOKEN),
        ),
        404,
        "IAM.0004",
    );
    assert_eq!(message, "Could not find identity provider: other-idp.");
    let response = send_ok(
        server.local_addr(),
        &federation_request(&url, IDP, "wrong-id-token"),
    );
    let message = assert_flat_iam(&response, 401, "IAM.0001");
    assert_eq!(
        message,
        "The request you have made requires authentication."
    );
    assert!(!response.text().contains(IDP_TOKEN));
    let body = serde_json::json!({"auth": {"id_token": {"id": IDP_TOKEN}}}).to_string();
    let response = send_ok(
        server.local_addr(),
        &post_json(&url, ID_TOKEN_PATH, &[], &body),
    );
    assert_eq!(
        assert_flat_iam(&response, 400, "IAM.0007"),
        "Request parameter X-Idp-Id is invalid."
    );
    let response = send_ok(
        server.local_addr(),
        &post_json(&url, ID_TOKEN_PATH, &[("x-idp-id", IDP)], r#"{"auth":{}}"#),
    );
    assert_flat_iam(&response, 400, "IAM.0011");
    assert_eq!(server.issued_tokens(), 0);
}

#[test]
fn securitytokens_refusals_are_iams_flat_errors() {
    let server = start();
    let url = server.url();
    let federated = federation_token(&server);
    let send_body = |body: &serde_json::Value| {
        send_ok(
            server.local_addr(),
            &post_json(&url, SECURITY_TOKENS_PATH, &[], &body.to_string()),
        )
    };
    let response = send_ok(
        server.local_addr(),
        &security_tokens_request(&url, "MIIunknown", 900),
    );
    assert_flat_iam(&response, 401, "IAM.0001");
    let no_token = serde_json::json!({"auth": {"identity": {"methods": ["token"], "token": {}}}});
    assert_flat_iam(&send_body(&no_token), 401, "IAM.0001");
    for duration in [899, 86_401] {
        let response = send_ok(
            server.local_addr(),
            &security_tokens_request(&url, &federated, duration),
        );
        assert_eq!(
            assert_flat_iam(&response, 400, "IAM.0007"),
            "Request parameter auth.identity.token.duration_seconds is invalid."
        );
    }
    let assume_role = serde_json::json!({"auth": {"identity": {"methods": ["assume_role"]}}});
    assert_eq!(
        assert_flat_iam(&send_body(&assume_role), 400, "IAM.0007"),
        "Request parameter auth.identity.methods is invalid."
    );
    assert_eq!(server.issued_credentials(), 0);
}

// ---------------------------------------------------------------------------------------
// STS
// ---------------------------------------------------------------------------------------

#[test]
fn sts_round_trip_then_kms_call_with_the_issued_credentials() {
    let clock = TestClock::new();
    let server = start_with(clock.install(iam_config()));
    let url = server.url();
    let response = send_ok(
        server.local_addr(),
        &sts_request(&url, &sts_body(PROVIDER_URN, STS_TOKEN)),
    );
    let json = response.json();
    // The shape the official SDKs read (`credentials`, snake case).
    let credentials = json["credentials"].as_object().unwrap();
    let mut keys: Vec<&str> = credentials.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "access_key_id",
            "expiration",
            "secret_access_key",
            "security_token"
        ]
    );
    assert!(json.get("credential").is_none(), "{json}");
    assert_eq!(
        json["assumed_agency"]["urn"],
        "sts::0123456789abcdef:assumed-agency:ci-deploy/oidc-sts-session"
    );
    assert_eq!(json["provider"], PROVIDER_URN);
    let (issued, expires_at) = temporary(&response, 200);
    // The hour asked for (shorter than the default 6 hour credential lifetime).
    assert_eq!(
        expires_at,
        floor_micros(clock.now() + Duration::from_secs(3600))
    );
    assert_eq!(server.issued_credentials(), 1);
    assert_eq!(server.issued_tokens(), 0);
    assert_count(&kms_call(&server, issued, PID), COUNT);

    // Any agency, no duration (STS's default, an hour), a policy: the SDK's optional fields.
    let mut body = sts_body(PROVIDER_URN, STS_TOKEN);
    body["agency_urn"] = "iam::fedcba9876543210:agency:another".into();
    body.as_object_mut().unwrap().remove("duration_seconds");
    body["policy"] = r#"{"Version":"5.0","Statement":[]}"#.into();
    body["policy_ids"] = serde_json::json!(["policy-1"]);
    let (issued, expires_at) = temporary(
        &send_ok(server.local_addr(), &sts_request(&url, &body)),
        200,
    );
    assert_eq!(
        expires_at,
        floor_micros(clock.now() + Duration::from_secs(3600))
    );
    assert_count(&kms_call(&server, issued, OTHER_PID), OTHER_COUNT);
}

#[test]
fn sts_credentials_last_no_longer_than_the_credential_lifetime() {
    let clock = TestClock::new();
    let server =
        start_with(clock.install(iam_config().with_credential_lifetime(Duration::from_secs(60))));
    let (issued, expires_at) = temporary(
        &send_ok(
            server.local_addr(),
            &sts_request(&server.url(), &sts_body(PROVIDER_URN, STS_TOKEN)),
        ),
        200,
    );
    assert_eq!(
        expires_at,
        floor_micros(clock.now() + Duration::from_secs(60))
    );
    clock.advance(Duration::from_secs(60));
    let response = kms_call_at(&server, issued, clock.now());
    assert_flat_error(&response, 401, "APIGW.0301");
}

#[test]
fn sts_refusals_are_iams_flat_errors_and_never_echo_the_id_token() {
    let server = start();
    let url = server.url();
    let send_body =
        |body: &serde_json::Value| send_ok(server.local_addr(), &sts_request(&url, body));
    let response = send_body(&sts_body(
        "iam::0123456789abcdef:oidcProvider:Other",
        STS_TOKEN,
    ));
    assert_eq!(
        assert_flat_iam(&response, 404, "IAM.0004"),
        "Could not find OIDC provider: iam::0123456789abcdef:oidcProvider:Other."
    );
    let response = send_body(&sts_body(PROVIDER_URN, "wrong-token"));
    assert_flat_iam(&response, 401, "IAM.0001");
    // The federation token is not the STS one.
    let response = send_body(&sts_body(PROVIDER_URN, IDP_TOKEN));
    assert_flat_iam(&response, 401, "IAM.0001");
    assert!(!response.text().contains(IDP_TOKEN));
    for (key, value) in [
        ("agency_urn", serde_json::Value::Null),
        ("provider_urn", "".into()),
        ("id_token", 5.into()),
        ("agency_session_name", "x".into()),
        ("agency_session_name", "has spaces".into()),
        ("duration_seconds", 899.into()),
        ("duration_seconds", 43_201.into()),
        ("duration_seconds", "3600".into()),
        ("policy", 1.into()),
        ("policy_ids", "policy-1".into()),
    ] {
        let mut body = sts_body(PROVIDER_URN, STS_TOKEN);
        body[key] = value;
        let message = assert_flat_iam(&send_body(&body), 400, "IAM.0007");
        assert_eq!(message, format!("Request parameter {key} is invalid."));
    }
    assert_eq!(server.issued_credentials(), 0);
}

// ---------------------------------------------------------------------------------------
// Every path
// ---------------------------------------------------------------------------------------

#[test]
fn a_malformed_body_on_every_post_path_is_400_iam_0011() {
    let server = start();
    let url = server.url();
    for path in [
        PASSWORD_TOKENS_PATH,
        ID_TOKEN_PATH,
        SECURITY_TOKENS_PATH,
        ASSUME_WITH_OIDC_PATH,
    ] {
        for body in ["{not json", "[]", "\"auth\"", ""] {
            let response = send_ok(
                server.local_addr(),
                &post_json(&url, path, &[("x-idp-id", IDP)], body),
            );
            assert_eq!(
                assert_flat_iam(&response, 400, "IAM.0011"),
                "Request body is invalid.",
                "{path} {body:?}"
            );
        }
    }
}

#[test]
fn another_method_on_an_iam_path_is_keystones_405_with_allow() {
    let server = start();
    let url = server.url();
    for (method, path, allowed) in [
        ("POST", PROJECTS_PATH, "GET"),
        ("DELETE", PROJECTS_PATH, "GET"),
        ("GET", PASSWORD_TOKENS_PATH, "POST"),
        ("GET", ID_TOKEN_PATH, "POST"),
        ("PUT", SECURITY_TOKENS_PATH, "POST"),
        ("GET", ASSUME_WITH_OIDC_PATH, "POST"),
    ] {
        let response = send_ok(
            server.local_addr(),
            &plain_request(&url, method, path, &[], b""),
        );
        assert_keystone(&response, 405);
        assert_eq!(response.header("allow"), Some(allowed), "{method} {path}");
    }
}

#[test]
fn iam_paths_are_the_gateways_404_unless_iam_is_served() {
    let server = start_with(config());
    let url = server.url();
    for (method, path) in [
        ("GET", PROJECTS_PATH),
        ("POST", PASSWORD_TOKENS_PATH),
        ("POST", ID_TOKEN_PATH),
        ("POST", SECURITY_TOKENS_PATH),
        ("POST", ASSUME_WITH_OIDC_PATH),
    ] {
        let response = send_ok(
            server.local_addr(),
            &plain_request(&url, method, path, &[], b"{}"),
        );
        assert_flat_error(&response, 404, "APIGW.0101");
        assert!(response.header("x-iam-trace-id").is_none());
    }
    // And other paths stay the gateway's when IAM is served.
    let server = start();
    let response = send_ok(
        server.local_addr(),
        &plain_request(&server.url(), "GET", "/v3/projects/extra", &[], b""),
    );
    assert_flat_error(&response, 404, "APIGW.0101");
}

#[test]
fn with_iam_alone_serves_the_project_list_and_refuses_every_token_request() {
    let server = start_with(
        MockConfig::new()
            .with_project_in(PID, COUNT, REGION)
            .with_aksk(AK, SK)
            .with_iam(),
    );
    let url = server.url();
    let request = projects_request(
        &url,
        Some("name=cn-north-4"),
        &aksk(AK, SK),
        SystemTime::now(),
    );
    assert_eq!(
        listed_ids(&send_ok(server.local_addr(), &request), &url),
        [PID]
    );
    let scope = format!("{{\"project\":{{\"id\":\"{PID}\"}}}}");
    assert_keystone(
        &send_ok(server.local_addr(), &password_request(&url, &scope)),
        401,
    );
    assert_flat_iam(
        &send_ok(
            server.local_addr(),
            &federation_request(&url, IDP, IDP_TOKEN),
        ),
        404,
        "IAM.0004",
    );
    assert_flat_iam(
        &send_ok(
            server.local_addr(),
            &sts_request(&url, &sts_body(PROVIDER_URN, STS_TOKEN)),
        ),
        404,
        "IAM.0004",
    );
}

#[test]
fn iam_requests_are_recorded_without_passwords_or_tokens_in_debug() {
    let server = start();
    let url = server.url();
    let scope = format!("{{\"project\":{{\"id\":\"{PID}\"}}}}");
    let (password_token_text, _) = password_token(&server, &scope);
    let federated = federation_token(&server);
    temporary(
        &send_ok(
            server.local_addr(),
            &security_tokens_request(&url, &federated, 900),
        ),
        201,
    );
    temporary(
        &send_ok(
            server.local_addr(),
            &sts_request(&url, &sts_body(PROVIDER_URN, STS_TOKEN)),
        ),
        200,
    );
    let request = projects_request(
        &url,
        Some("name=cn-north-4"),
        &token(&password_token_text),
        SystemTime::now(),
    );
    listed_ids(&send_ok(server.local_addr(), &request), &url);

    let recorded = server.requests();
    let paths: Vec<&str> = recorded.iter().map(|r| r.path()).collect();
    assert_eq!(
        paths,
        [
            PASSWORD_TOKENS_PATH,
            ID_TOKEN_PATH,
            SECURITY_TOKENS_PATH,
            ASSUME_WITH_OIDC_PATH,
            PROJECTS_PATH
        ]
    );
    assert_eq!(recorded[1].header("x-idp-id"), Some(IDP));
    assert_eq!(
        recorded[4].path_and_query,
        format!("{PROJECTS_PATH}?name={REGION}")
    );
    assert_eq!(
        recorded[4].header("x-auth-token"),
        Some(password_token_text.as_str())
    );
    // Bodies are not kept: the password and the id tokens are nowhere; the tokens in
    // headers are marked sensitive.
    assert!(
        recorded
            .iter()
            .all(|r| r.body_len > 0 || r.path() == PROJECTS_PATH)
    );
    let shown = format!("{recorded:?}");
    for secret in [
        PASSWORD,
        IDP_TOKEN,
        STS_TOKEN,
        &password_token_text,
        &federated,
    ] {
        assert!(!shown.contains(secret), "a secret leaks: {shown}");
    }
}

#[test]
fn a_fault_on_an_iam_path_issues_nothing_and_the_next_request_works() {
    let server = start();
    let url = server.url();
    server
        .faults()
        .when_times(|r| r.path() == ID_TOKEN_PATH, 1, Fault::status(503));
    server.faults().when_times(
        |r| r.path() == ASSUME_WITH_OIDC_PATH,
        1,
        Fault::CloseBeforeResponse,
    );
    let response = send_ok(
        server.local_addr(),
        &federation_request(&url, IDP, IDP_TOKEN),
    );
    assert_eq!(response.status(), 503);
    assert!(response.header("x-subject-token").is_none());
    assert_eq!(server.issued_tokens(), 0);
    match send(
        server.local_addr(),
        &sts_request(&url, &sts_body(PROVIDER_URN, STS_TOKEN)),
    ) {
        Err(ClientError::ClosedBeforeAnyByte) => {}
        other => panic!("expected a closed connection, got {other:?}"),
    }
    assert_eq!(server.issued_credentials(), 0);
    // The retries work.
    let federated = federation_token(&server);
    assert_eq!(server.issued_tokens(), 1);
    let (issued, _) = temporary(
        &send_ok(
            server.local_addr(),
            &sts_request(&url, &sts_body(PROVIDER_URN, STS_TOKEN)),
        ),
        200,
    );
    assert_count(&kms_call(&server, issued, PID), COUNT);
    assert!(!federated.is_empty());
    // A delay only slows the answer: the token it carries works.
    server
        .faults()
        .next(1, Fault::DelayHeaders(Duration::from_millis(30)));
    let (delayed, _) = password_token(&server, &format!("{{\"project\":{{\"id\":\"{PID}\"}}}}"));
    assert_eq!(server.issued_tokens(), 2);
    assert_count(
        &send_ok(server.local_addr(), &token_request(&url, &delayed, PID)),
        COUNT,
    );
    assert_eq!(server.requests().len(), 7);
}

#[test]
fn every_iam_answer_has_a_trace_id_of_its_own_and_the_config_debug_hides_secrets() {
    let server = start();
    let url = server.url();
    let mut traces = Vec::new();
    for _ in 0..3 {
        let request = projects_request(&url, None, &aksk(AK, SK), SystemTime::now());
        traces.push(trace_id(&send_ok(server.local_addr(), &request)));
    }
    traces.sort_unstable();
    traces.dedup();
    assert_eq!(traces.len(), 3);
    let shown = format!("{:?}", iam_config());
    for secret in [PASSWORD, IDP_TOKEN, STS_TOKEN] {
        assert!(!shown.contains(secret), "a secret leaks: {shown}");
    }
    assert!(shown.contains(&format!("{DOMAIN}/{USER}")), "{shown}");
    assert!(
        shown.contains(IDP) && shown.contains(PROVIDER_URN),
        "{shown}"
    );
}
