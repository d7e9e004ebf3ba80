//! Answering one request the way Huawei Cloud's gateway and KMS do.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body::Body as _;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use sha2::{Digest, Sha256};

use crate::body::{MockBody, Step};
use crate::config::MockConfig;
use crate::faults::{Fault, FaultScript};
use crate::io::{Output, OutputControl};
use crate::lock;
use crate::record::{RecordedRequest, Recorder};

/// The largest request body read, in bytes; a larger one gets 413.
pub const MAX_REQUEST_BODY: usize = 64 * 1024;

/// Everything the connections of one emulator share.
pub(crate) struct State {
    pub(crate) config: MockConfig,
    pub(crate) recorder: Recorder,
    pub(crate) faults: FaultScript,
    /// Connections accepted since start.
    pub(crate) connections: AtomicU64,
    /// Connections accepted and not closed yet.
    pub(crate) open_connections: AtomicU64,
    /// The most `open_connections` has been.
    pub(crate) peak_open_connections: AtomicU64,
    request_counter: AtomicU64,
    id_seed: u128,
    lockouts: Mutex<HashMap<String, Lockout>>,
    windows: Mutex<HashMap<String, Window>>,
}

#[derive(Default)]
struct Lockout {
    failures: u32,
    locked_until: Option<Instant>,
}

struct Window {
    started: Instant,
    count: u32,
}

/// Why a request body could not be used.
enum BodyProblem {
    TooLarge,
    Malformed,
    /// It did not arrive within the body read timeout.
    TimedOut,
}

/// An answer to send, before faults are applied to it.
struct Answer {
    status: StatusCode,
    body: String,
    /// Seconds for `Retry-After`.
    retry_after: Option<u64>,
    /// Whether to send `Connection: close` (hyper then closes after the answer).
    close: bool,
}

impl Answer {
    fn ok(count: u64) -> Self {
        Answer {
            status: StatusCode::OK,
            body: format!("{{\"instance_num\":{count}}}"),
            retry_after: None,
            close: false,
        }
    }

    /// The gateway's flat shape, with the request id in the body.
    fn gateway(status: StatusCode, code: &str, message: &str, request_id: &str) -> Self {
        // Written by hand to keep the gateway's field order (serde_json's map sorts keys).
        let body = format!(
            "{{\"error_msg\":{},\"error_code\":{},\"request_id\":{}}}",
            json_string(message),
            json_string(code),
            json_string(request_id)
        );
        Answer {
            status,
            body,
            retry_after: None,
            close: false,
        }
    }

    /// KMS's nested shape.
    fn kms(status: StatusCode, code: &str, message: &str) -> Self {
        let body = serde_json::json!({"error": {"error_code": code, "error_msg": message}});
        Answer {
            status,
            body: body.to_string(),
            retry_after: None,
            close: false,
        }
    }
}

const IAM_PREFIX: &str = "Incorrect IAM authentication information: ";

impl State {
    pub(crate) fn new(config: MockConfig) -> Self {
        let seed = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        State {
            config,
            recorder: Recorder::default(),
            faults: FaultScript::default(),
            connections: AtomicU64::new(0),
            open_connections: AtomicU64::new(0),
            peak_open_connections: AtomicU64::new(0),
            request_counter: AtomicU64::new(0),
            id_seed: seed ^ u128::from(std::process::id()),
            lockouts: Mutex::new(HashMap::new()),
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// 32 hex digits, unique per request, like the gateway's ids.
    fn next_request_id(&self) -> String {
        let n = self.request_counter.fetch_add(1, Ordering::Relaxed);
        let digest = Sha256::new()
            .chain_update(self.id_seed.to_le_bytes())
            .chain_update(n.to_le_bytes())
            .finalize();
        digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
    }

    /// Handles one request. Never fails: every problem is an HTTP answer.
    pub(crate) async fn handle(
        &self,
        request: Request<Incoming>,
        connection_id: u64,
        output: &OutputControl,
    ) -> Response<MockBody> {
        let request_id = self.next_request_id();
        let (parts, body) = request.into_parts();
        let (body_len, body) = read_body(body, self.config.body_read_timeout).await;
        let now = (self.config.clock)();
        let recorded =
            RecordedRequest::new(&parts, body_len, now, connection_id, request_id.clone());
        let fault = self.faults.take_for(&recorded);
        self.recorder.push(recorded);

        let answer = match &body {
            Err(BodyProblem::TooLarge) => Answer::gateway(
                StatusCode::PAYLOAD_TOO_LARGE,
                "APIGW.0201",
                "Request entity too large",
                &request_id,
            ),
            Err(BodyProblem::Malformed) => Answer::gateway(
                StatusCode::BAD_REQUEST,
                "APIGW.0201",
                "Bad request: the request body could not be read",
                &request_id,
            ),
            Err(BodyProblem::TimedOut) => {
                let mut answer = Answer::gateway(
                    StatusCode::REQUEST_TIMEOUT,
                    "APIGW.0201",
                    &format!(
                        "Request timeout: the request body did not arrive within {:?}",
                        self.config.body_read_timeout
                    ),
                    &request_id,
                );
                // The rest of the body may still come; the connection cannot be reused.
                answer.close = true;
                answer
            }
            Ok(body) => self.answer(&parts, body, now, &request_id),
        };
        match fault {
            None => respond(answer, &request_id, Vec::new()),
            Some(fault) => apply_fault(fault, answer, &request_id, output).await,
        }
    }

    fn answer(
        &self,
        parts: &http::request::Parts,
        body: &[u8],
        now: SystemTime,
        request_id: &str,
    ) -> Answer {
        if let Some(problem) = host_problem(parts) {
            return Answer::gateway(StatusCode::BAD_REQUEST, "APIGW.0201", problem, request_id);
        }
        let Some(project) = route(parts) else {
            return Answer::gateway(
                StatusCode::NOT_FOUND,
                "APIGW.0101",
                "The API does not exist or has not been published in the environment",
                request_id,
            );
        };
        let credential = match self.authenticate(parts, body, project, now, request_id) {
            Ok(credential) => credential,
            Err(answer) => return answer,
        };
        if let Some(sent) = parts.headers.get("x-project-id")
            && sent.as_bytes() != project.as_bytes()
        {
            return Answer::kms(
                StatusCode::BAD_REQUEST,
                "KMS.0201",
                "Invalid request URL: X-Project-Id does not match the project in the path.",
            );
        }
        if let Some(answer) = self.throttle(&credential, request_id) {
            return answer;
        }
        match self.config.projects.get(project) {
            Some(count) => Answer::ok(*count),
            None => Answer::kms(
                StatusCode::FORBIDDEN,
                "KMS.0307",
                "The role has no permission for the API.",
            ),
        }
    }

    /// Checks the credentials; returns the key the throttle counts them under.
    fn authenticate(
        &self,
        parts: &http::request::Parts,
        body: &[u8],
        project: &str,
        now: SystemTime,
        request_id: &str,
    ) -> Result<String, Answer> {
        let unauthorized = |message: &str| {
            Answer::gateway(
                StatusCode::UNAUTHORIZED,
                "APIGW.0301",
                &format!("{IAM_PREFIX}{message}"),
                request_id,
            )
        };
        if let Some(token) = parts.headers.get("x-auth-token") {
            let entry = token
                .to_str()
                .ok()
                .and_then(|t| self.config.tokens.get(t))
                .ok_or_else(|| {
                    Answer::kms(
                        StatusCode::UNAUTHORIZED,
                        "KMS.0302",
                        "Invalid X-Auth-Token.",
                    )
                })?;
            if entry.expires_at.is_some_and(|at| now >= at) {
                return Err(Answer::kms(
                    StatusCode::UNAUTHORIZED,
                    "KMS.0303",
                    "X-Auth-Token expired.",
                ));
            }
            if entry.project != project {
                return Err(Answer::kms(
                    StatusCode::FORBIDDEN,
                    "KMS.0305",
                    "Invalid token project name.",
                ));
            }
            return Ok(format!("token:{}", token.to_str().unwrap_or_default()));
        }
        if !parts.headers.contains_key(http::header::AUTHORIZATION) {
            return Err(unauthorized("no X-Auth-Token or Authorization header"));
        }
        let received = kms_proto::verify::ReceivedRequest {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: parts.uri.query().unwrap_or_default(),
            headers: &parts.headers,
            body,
        };
        let access_key = parts
            .headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| kms_proto::verify::AuthorizationHeader::parse(v).ok())
            .map(|a| a.access_key.to_owned());
        if let Some(ak) = &access_key
            && self.is_locked(ak)
        {
            return Err(unauthorized(
                "the access key is locked after too many failed signatures; wait and check the SK",
            ));
        }
        let entry = access_key
            .as_deref()
            .and_then(|ak| self.config.aksks.get(ak));
        let verified = kms_proto::verify::verify(&received, |_| entry.map(|e| &e.key), now);
        let verified = match verified {
            Ok(verified) => verified,
            Err(error) => {
                if let (Some(ak), Some(_)) = (&access_key, entry) {
                    self.record_failure(ak);
                }
                let message = match error {
                    kms_proto::verify::VerifyError::SignatureMismatch => {
                        "verify aksk signature fail".to_owned()
                    }
                    kms_proto::verify::VerifyError::Expired { .. } => {
                        format!("calc aksk signature fail:{error}")
                    }
                    other => other.to_string(),
                };
                return Err(unauthorized(&message));
            }
        };
        let ak = verified.access_key().to_owned();
        self.record_success(&ak);
        let Some(entry) = entry else {
            return Err(unauthorized("access key does not exist"));
        };
        if let Some(expected) = &entry.security_token {
            let sent = parts.headers.get("x-security-token");
            let valid = verified.is_signed("x-security-token")
                && sent.is_some_and(|s| s.as_bytes() == expected.as_bytes());
            if !valid {
                return Err(unauthorized(
                    "the security token is missing, unsigned or invalid for this temporary access key",
                ));
            }
        }
        if let Some(projects) = &entry.projects
            && !projects.iter().any(|p| p == project)
        {
            return Err(Answer::kms(
                StatusCode::FORBIDDEN,
                "KMS.0307",
                "The role has no permission for the API.",
            ));
        }
        Ok(format!("ak:{ak}"))
    }

    fn is_locked(&self, ak: &str) -> bool {
        let mut lockouts = lock(&self.lockouts);
        let Some(lockout) = lockouts.get_mut(ak) else {
            return false;
        };
        match lockout.locked_until {
            Some(until) if Instant::now() < until => true,
            Some(_) => {
                *lockout = Lockout::default();
                false
            }
            None => false,
        }
    }

    fn record_failure(&self, ak: &str) {
        if self.config.lockout_after == 0 {
            return;
        }
        let mut lockouts = lock(&self.lockouts);
        let lockout = lockouts.entry(ak.to_owned()).or_default();
        lockout.failures += 1;
        if lockout.failures >= self.config.lockout_after {
            lockout.locked_until = Some(Instant::now() + self.config.lockout_for);
        }
    }

    fn record_success(&self, ak: &str) {
        lock(&self.lockouts).remove(ak);
    }

    fn throttle(&self, credential: &str, request_id: &str) -> Option<Answer> {
        let throttle = self.config.throttle?;
        let mut windows = lock(&self.windows);
        let now = Instant::now();
        let window = windows.entry(credential.to_owned()).or_insert(Window {
            started: now,
            count: 0,
        });
        if now.duration_since(window.started) >= throttle.per {
            *window = Window {
                started: now,
                count: 0,
            };
        }
        window.count += 1;
        if window.count <= throttle.limit {
            return None;
        }
        let left = throttle
            .per
            .saturating_sub(now.duration_since(window.started));
        let retry_after = left.as_secs() + u64::from(left.subsec_nanos() > 0);
        let mut answer = Answer::gateway(
            StatusCode::TOO_MANY_REQUESTS,
            "APIG.0308",
            &format!(
                "The throttling threshold has been reached: policy user over ratelimit,limit:{},time:{} second",
                throttle.limit,
                throttle.per.as_secs().max(1)
            ),
            request_id,
        );
        answer.retry_after = Some(retry_after);
        Some(answer)
    }
}

/// Reads a request body: at most [`MAX_REQUEST_BODY`] bytes, all of it within `timeout` of
/// the call (a deadline for the whole body, so that a byte now and then cannot stretch it).
/// Returns how many bytes arrived (`MAX_REQUEST_BODY + 1` for a body over the limit) and
/// the body or why it is unusable.
async fn read_body(mut body: Incoming, timeout: Duration) -> (usize, Result<Bytes, BodyProblem>) {
    if body.size_hint().lower() > MAX_REQUEST_BODY as u64 {
        // A declared length over the limit is refused without reading any of it.
        return (MAX_REQUEST_BODY + 1, Err(BodyProblem::TooLarge));
    }
    // A timeout too large to add to now is no timeout.
    let deadline = tokio::time::Instant::now().checked_add(timeout);
    let mut collected = bytes::BytesMut::new();
    loop {
        let next = match deadline {
            Some(deadline) => tokio::time::timeout_at(deadline, body.frame()).await,
            None => Ok(body.frame().await),
        };
        let frame = match next {
            Ok(Some(Ok(frame))) => frame,
            Ok(None) => return (collected.len(), Ok(collected.freeze())),
            Ok(Some(Err(_))) => return (collected.len(), Err(BodyProblem::Malformed)),
            Err(_elapsed) => return (collected.len(), Err(BodyProblem::TimedOut)),
        };
        // Trailers are ignored.
        if let Ok(data) = frame.into_data() {
            if collected.len().saturating_add(data.len()) > MAX_REQUEST_BODY {
                return (MAX_REQUEST_BODY + 1, Err(BodyProblem::TooLarge));
            }
            collected.extend_from_slice(&data);
        }
    }
}

/// Why the request's `Host` makes it unanswerable, if it does: RFC 9112 section 3.2 requires a
/// 400 for an HTTP/1.1 request without one and for any request with more than one. Checked
/// before routing and credentials, as a server must.
fn host_problem(parts: &http::request::Parts) -> Option<&'static str> {
    let mut hosts = parts.headers.get_all(http::header::HOST).iter();
    match (hosts.next(), hosts.next()) {
        // HTTP/1.0 predates Host; hyper hands the emulator only 1.0 and 1.1.
        (None, _) if parts.version != http::Version::HTTP_10 => {
            Some("Bad request: an HTTP/1.1 request must carry a Host header")
        }
        (Some(_), Some(_)) => Some("Bad request: more than one Host header"),
        _ => None,
    }
}

/// The project id of `GET /v1.0/{project_id}/kms/user-instances`, or `None` for any other
/// method or path.
fn route(parts: &http::request::Parts) -> Option<&str> {
    if parts.method != Method::GET {
        return None;
    }
    let rest = parts.uri.path().strip_prefix("/v1.0/")?;
    let project = rest.strip_suffix("/kms/user-instances")?;
    let valid = !project.is_empty()
        && project
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    valid.then_some(project)
}

fn respond(answer: Answer, request_id: &str, extra: Vec<(String, String)>) -> Response<MockBody> {
    let mut response = Response::new(MockBody::full(answer.body));
    *response.status_mut() = answer.status;
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=UTF-8"),
    );
    if let Ok(id) = HeaderValue::from_str(request_id) {
        headers.insert("x-request-id", id);
    }
    if let Some(after) = answer.retry_after {
        headers.insert(http::header::RETRY_AFTER, HeaderValue::from(after));
    }
    if answer.close {
        headers.insert(http::header::CONNECTION, HeaderValue::from_static("close"));
    }
    for (name, value) in extra {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            headers.insert(name, value);
        }
    }
    response
}

async fn apply_fault(
    fault: Fault,
    answer: Answer,
    request_id: &str,
    output: &OutputControl,
) -> Response<MockBody> {
    let content_length = |len: u64| vec![("content-length".to_owned(), len.to_string())];
    match fault {
        Fault::Respond {
            status,
            headers,
            body,
        } => {
            // A status hyper cannot send as a final answer (1xx, or outside 100-999) is a
            // mistake in the test script: say so loudly rather than answer 200.
            let Some(status) = StatusCode::from_u16(status)
                .ok()
                .filter(|s| s.as_u16() >= 200)
            else {
                let mut response = respond(
                    Answer::gateway(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "MOCK.0001",
                        &format!(
                            "kms-mock: the scripted status {status} is not a final HTTP status"
                        ),
                        request_id,
                    ),
                    request_id,
                    Vec::new(),
                );
                response.headers_mut().insert(
                    "x-kms-mock-error",
                    HeaderValue::from_static("invalid scripted status"),
                );
                return response;
            };
            let mut response = Response::new(MockBody::full(body));
            *response.status_mut() = status;
            let scripted_id = headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("x-request-id"));
            if !scripted_id && let Ok(id) = HeaderValue::from_str(request_id) {
                response.headers_mut().insert("x-request-id", id);
            }
            for (name, value) in headers {
                if let (Ok(name), Ok(value)) = (
                    http::HeaderName::from_bytes(name.as_bytes()),
                    HeaderValue::from_str(&value),
                ) {
                    response.headers_mut().append(name, value);
                }
            }
            response
        }
        Fault::DelayHeaders(delay) => {
            tokio::time::sleep(delay).await;
            respond(answer, request_id, Vec::new())
        }
        Fault::StallBody { after, stall } => {
            let body = Bytes::from(answer.body.clone().into_bytes());
            let cut = after.min(body.len());
            let len = body.len() as u64;
            let mut response = respond(answer, request_id, content_length(len));
            *response.body_mut() = MockBody::scripted([
                Step::Data(body.slice(..cut)),
                Step::Sleep(stall),
                Step::Data(body.slice(cut..)),
            ]);
            response
        }
        Fault::CloseMidBody { after } => {
            let body = Bytes::from(answer.body.clone().into_bytes());
            let cut = after.min(body.len().saturating_sub(1));
            let len = body.len() as u64;
            let mut response = respond(answer, request_id, content_length(len));
            *response.body_mut() = MockBody::scripted([
                Step::Data(body.slice(..cut)),
                Step::Sleep(Duration::from_millis(20)),
                Step::Fail,
            ]);
            response
        }
        Fault::TruncatedBody { declared, sent } => {
            let mut response = respond(Answer::ok(0), request_id, content_length(declared));
            *response.body_mut() = MockBody::scripted([
                Step::Data(sent),
                Step::Sleep(Duration::from_millis(20)),
                Step::Fail,
            ]);
            response
        }
        Fault::EndlessBody => {
            let mut response = respond(Answer::ok(0), request_id, Vec::new());
            response.headers_mut().remove(http::header::CONTENT_LENGTH);
            *response.body_mut() = MockBody::scripted([
                Step::Data(Bytes::from_static(b"{\"instance_num\":1,\"padding\":\"")),
                Step::Repeat {
                    chunk: filler(),
                    remaining: None,
                },
            ]);
            response
        }
        Fault::HugeBody { len } => {
            let mut response = respond(Answer::ok(0), request_id, content_length(len));
            *response.body_mut() = MockBody::scripted([Step::Repeat {
                chunk: filler(),
                remaining: Some(len),
            }]);
            response
        }
        Fault::CloseBeforeResponse => {
            *lock(output) = Output::Close;
            respond(answer, request_id, Vec::new())
        }
        Fault::NotHttp(bytes) => {
            *lock(output) = Output::Replace(bytes);
            respond(answer, request_id, Vec::new())
        }
        Fault::EndlessInformational => {
            // hyper sends no 1xx of its own choosing, so the bytes replace its answer.
            *lock(output) = Output::Repeat(Bytes::from_static(b"HTTP/1.1 102 Processing\r\n\r\n"));
            respond(answer, request_id, Vec::new())
        }
        Fault::Panic => {
            #[allow(
                clippy::panic,
                reason = "the fault exists to prove a panic is contained"
            )]
            {
                panic!("kms-mock: scripted panic in the request handler")
            }
        }
    }
}

fn json_string(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

/// 16 KiB of spaces: valid inside a JSON string, cheap to send again and again.
fn filler() -> Bytes {
    Bytes::from(vec![b' '; 16 * 1024])
}
