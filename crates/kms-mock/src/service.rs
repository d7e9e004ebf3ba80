//! Answering one request the way Huawei Cloud's gateway and KMS do.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use sha2::{Digest, Sha256};

use crate::answer::Answer;
use crate::auth::{self, Keys, Presented};
use crate::body::MockBody;
use crate::config::MockConfig;
use crate::fault_response::apply_fault;
use crate::faults::{Fault, FaultScript};
use crate::gateway::{Gateway, Throttle, Throttled};
use crate::io::OutputControl;
use crate::issued::Issued;
use crate::record::{RecordedRequest, Recorder};
use crate::request_body::read_body;

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
    /// The lockout, the throttle, and the clock of every decision.
    gateway: Gateway,
    /// The temporary credentials, session tokens and IAM tokens the emulator issued.
    pub(crate) issued: Issued,
    request_counter: AtomicU64,
    id_seed: u128,
}

impl State {
    pub(crate) fn new(config: MockConfig) -> Self {
        // Request ids differ between runs and processes, whatever the configured clock says.
        let seed = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        State {
            gateway: Gateway::new(config.clock.clone(), config.lockout, config.throttle),
            config,
            issued: Issued::new(),
            recorder: Recorder::default(),
            faults: FaultScript::default(),
            connections: AtomicU64::new(0),
            open_connections: AtomicU64::new(0),
            peak_open_connections: AtomicU64::new(0),
            request_counter: AtomicU64::new(0),
            id_seed: seed ^ u128::from(std::process::id()),
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
    ///
    /// The steps: read the body (within its limits); take the time once; record the
    /// request and find the fault scripted for it; make the answer; apply the fault.
    pub(crate) async fn handle(
        &self,
        request: Request<Incoming>,
        connection_id: u64,
        output: &OutputControl,
    ) -> Response<MockBody> {
        let request_id = self.next_request_id();
        let (parts, body) = request.into_parts();
        let (body_len, body) = read_body(body, self.config.body_read_timeout).await;
        let now = self.gateway.now();
        let recorded =
            RecordedRequest::new(&parts, body_len, now, connection_id, request_id.clone());
        let fault = self.faults.take_for(&recorded);
        self.recorder.push(recorded);

        // A fault that replaces the answer keeps the credential endpoints from issuing
        // credentials or session tokens nobody receives.
        let sent = fault.as_ref().is_none_or(Fault::sends_answer);
        let answer = match &body {
            Err(problem) => problem.answer(self.config.body_read_timeout, &request_id),
            Ok(body) => self.answer(&parts, body, now, &request_id, sent),
        };
        let mut response = match fault {
            None => answer.into_response(&request_id, Vec::new()),
            Some(fault) => {
                let asked = crate::fault_response::Asked {
                    parts: &parts,
                    body: body.as_ref().map_or(&[][..], |b| &b[..]),
                };
                apply_fault(fault, answer, &request_id, output, asked).await
            }
        };
        // The emulator's clock, not the machine's (hyper would add the machine's): a client
        // that reads the service's time from `Date` sees the clock the emulator runs on.
        if let Some(date) = http_date(now) {
            response
                .headers_mut()
                .entry(http::header::DATE)
                .or_insert(date);
        }
        response
    }

    /// The steps of the service's answer, each able to refuse the request: its `Host`; the
    /// credential endpoints, when it is for one that is served; IAM and STS, when served;
    /// its route (ShowUserInstances, or the echo operation when served); its credentials;
    /// `X-Project-Id` against the path; the throttle; the project; then the operation.
    fn answer(
        &self,
        parts: &http::request::Parts,
        body: &[u8],
        now: SystemTime,
        request_id: &str,
        sent: bool,
    ) -> Answer {
        if let Some(problem) = host_problem(parts) {
            return Answer::gateway(StatusCode::BAD_REQUEST, "APIGW.0201", problem, request_id);
        }
        if let Some(answer) =
            crate::credential_endpoints::answer(&self.config, &self.issued, parts, body, now, sent)
        {
            return answer;
        }
        if let Some(answer) = crate::iam::answer(&crate::iam::Ask {
            config: &self.config,
            issued: &self.issued,
            gateway: &self.gateway,
            parts,
            body,
            now,
            sent,
        }) {
            return answer;
        }
        let Some((operation, project)) = route(parts, self.config.echo) else {
            return Answer::gateway(
                StatusCode::NOT_FOUND,
                "APIGW.0101",
                "The API does not exist or has not been published in the environment",
                request_id,
            );
        };
        let presented = Presented {
            parts,
            body,
            project,
            now,
            request_id,
        };
        let caller = match auth::authenticate(
            Keys {
                config: &self.config,
                issued: &self.issued,
            },
            &self.gateway,
            &presented,
        ) {
            Ok(caller) => caller,
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
        if let Err(throttled) = self.gateway.admit(caller, now) {
            return throttled_answer(throttled, request_id);
        }
        let Some(entry) = self.config.projects.get(project) else {
            return Answer::kms(
                StatusCode::FORBIDDEN,
                "KMS.0307",
                "The role has no permission for the API.",
            );
        };
        match operation {
            Operation::UserInstances => Answer::ok(entry.count),
            Operation::Echo => crate::echo::answer(body),
        }
    }
}

/// The operations of the KMS paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operation {
    /// `GET /v1.0/{project_id}/kms/user-instances`.
    UserInstances,
    /// `POST /v1.0/{project_id}/kms/echo`, when served.
    Echo,
}

/// The gateway's 429 (flat `APIG.0308`, with `Retry-After`).
fn throttled_answer(throttled: Throttled, request_id: &str) -> Answer {
    let Throttle { limit, per } = throttled.throttle;
    let mut answer = Answer::gateway(
        StatusCode::TOO_MANY_REQUESTS,
        "APIG.0308",
        &format!(
            "The throttling threshold has been reached: policy user over ratelimit,limit:{limit},time:{} second",
            per.as_secs().max(1)
        ),
        request_id,
    );
    answer.retry_after = Some(throttled.retry_after);
    answer
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

/// The operation and project id of `GET /v1.0/{project_id}/kms/user-instances`, or of
/// `POST /v1.0/{project_id}/kms/echo` when `echo` is served; `None` for any other method or
/// path.
fn route(parts: &http::request::Parts, echo: bool) -> Option<(Operation, &str)> {
    let rest = parts.uri.path().strip_prefix("/v1.0/")?;
    let (operation, project) = if parts.method == Method::GET {
        (
            Operation::UserInstances,
            rest.strip_suffix("/kms/user-instances")?,
        )
    } else if echo && parts.method == Method::POST {
        (
            Operation::Echo,
            rest.strip_suffix(crate::echo::ECHO_SUFFIX)?,
        )
    } else {
        return None;
    };
    let valid = !project.is_empty()
        && project
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    valid.then_some((operation, project))
}

/// `now` as an HTTP date, when it is one: from 1970 to 9999 (httpdate panics before 1970,
/// and a configured clock may say anything).
fn http_date(now: SystemTime) -> Option<http::HeaderValue> {
    const YEAR_10000: std::time::Duration = std::time::Duration::from_secs(253_402_300_800);
    let since = now.duration_since(SystemTime::UNIX_EPOCH).ok()?;
    if since >= YEAR_10000 {
        return None;
    }
    http::HeaderValue::from_str(&httpdate::fmt_http_date(now)).ok()
}
