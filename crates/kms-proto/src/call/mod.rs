//! One call from start to finish, as a state machine the transports drive.
//!
//! A transport owns the sockets, the timers and the sleeping; everything it would otherwise
//! decide on its own lives here, so every transport decides it the same way: building and
//! re-signing each attempt, the timeout each attempt gets under the overall deadline, the
//! body limit, parsing, whether to retry and after how long, and the error reported at the
//! end.
//!
//! The order of events cannot be got wrong: [`Call::start_attempt`] builds and signs the
//! request and says how long the attempt may take, in one step; the attempt ends in
//! [`Call::on_response`] or [`Call::on_failure`], which say what to do next ([`Step`]).
//! Every event takes a [`Now`]: the wall clock (for signing and `Retry-After` dates), the
//! monotonic clock (for timeouts and the deadline) and a jitter draw (for backoff), which a
//! transport makes in one place. Methods that change the call are named for the event;
//! readers take `&self`.
//!
//! ```text
//! new(now) ─> start_attempt(now, credentials) ─> send attempt.request() within attempt.timeout()
//!                  ▲                  ├─ an answer: on_response(status, headers, body, now)
//!                  │                  └─ no answer: on_failure(failure, now)
//!                  │                                  │
//!                  └─── Step::Retry(delay): sleep ────┤
//!                                                     └─> Step::Done(result): over
//! ```
//!
//! ```
//! # use std::time::{Duration, Instant, SystemTime};
//! # use kms_proto::call::{Call, Now, Step};
//! # use kms_proto::{AuthToken, ClientConfig, Endpoint, ProjectId};
//! let credentials = AuthToken::new("token")?.into();
//! let config = ClientConfig::new(
//!     Endpoint::parse("http://127.0.0.1:8080")?,
//!     ProjectId::new("0dea2644dc80d5d22ff1c01e3ebea6fc")?,
//!     credentials,
//! );
//! # let credentials = AuthToken::new("token")?.into();
//! // A transport makes "now" in one place: real clocks and a random jitter in [0, 1).
//! let now = || Now::new(SystemTime::now(), Instant::now(), 0.5);
//! let mut call = Call::new(&config, now());
//! // (credentials from a provider come from a CredentialCache, asked before each attempt)
//! let attempt = call.start_attempt(now(), &credentials)?;
//! assert_eq!(attempt.timeout(), config.attempt_timeout());
//! // ...send `attempt.request()` within `attempt.timeout()`, reading at most
//! // `config.max_response_body() + 1` bytes of the body...
//! let step = call.on_response(http::StatusCode::OK, &http::HeaderMap::new(), br#"{"instance_num":3}"#, now());
//! let Step::Done(Ok(count)) = step else { panic!() };
//! assert_eq!((count.count(), call.attempts()), (3, 1));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::time::{Duration, Instant, SystemTime};

use http::{HeaderMap, Request, StatusCode};

use crate::failover::CallEndpoints;
use crate::retry::{Decision, Outcome};
use crate::skew::{ClockSkew, Skew};
use crate::{ClientConfig, InstanceCount};

mod error;
mod shared;

pub use crate::transport::{Now, TransportErrorKind, TransportFailure};
pub use error::{Error, ErrorKind, TransportError};
pub use shared::Shared;

/// What the transport does next.
///
/// Not `#[non_exhaustive]`, on purpose: a transport matches both variants, so a variant
/// added later fails to compile there instead of being taken for another attempt.
#[derive(Debug)]
pub enum Step<T = InstanceCount> {
    /// The call is over.
    Done(Result<T, Error>),
    /// Sleep this long, then [`Call::start_attempt`] again.
    Retry(Duration),
}

/// One attempt to send: the signed request and how long the attempt may take.
#[derive(Debug)]
pub struct Attempt {
    request: Request<Vec<u8>>,
    timeout: Duration,
    number: u32,
}

impl Attempt {
    /// The request to send (absolute URI, every header, secrets marked sensitive).
    pub fn request(&self) -> &Request<Vec<u8>> {
        &self.request
    }

    /// How long the attempt may take, from sending to the last byte of the body: the
    /// attempt timeout, or what is left of the overall deadline if that is shorter.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Which attempt this is, from 1.
    pub fn number(&self) -> u32 {
        self.number
    }

    /// The request and the timeout, to send.
    pub fn into_parts(self) -> (Request<Vec<u8>>, Duration) {
        (self.request, self.timeout)
    }
}

/// One call in progress. See the [module docs](self).
///
/// With several endpoints ([`ClientConfig::endpoints`]), each attempt goes to one of them:
/// the call starts where [`EndpointHealth`](crate::EndpointHealth) says, and moves to another endpoint at once
/// when a request could not be sent (connect or TLS failure), without counting that move
/// against the retry policy or the retry budget; each endpoint is tried once so before the
/// retry policy decides as for one endpoint. An answer, and a failure after the request may
/// have been sent, keep the call on its endpoint.
#[derive(Debug)]
pub struct Call<'a> {
    config: &'a ClientConfig,
    /// What the client's calls share (clock offset, budget, endpoint health).
    shared: Option<&'a Shared>,
    /// The request prepared for the project, per endpoint: the configuration's, or one
    /// discovered.
    prepared: Option<&'a crate::PreparedRequests>,
    /// Which endpoint each attempt goes to.
    endpoints: CallEndpoints<'a>,
    deadline: Instant,
    attempts: u32,
    /// Set when an attempt was cut short by the overall deadline rather than its own timeout.
    last_timeout_was_deadline: bool,
    /// This machine's clock against the service's: the offset signed with, and what the
    /// last attempt was signed at.
    skew: ClockSkew,
    /// What this call spent of the client's retry budget.
    spent: u32,
    /// The secrets of the last request made (its tokens, signature, the SK it was signed
    /// with): every text kept from its answer is scrubbed of them.
    secrets: crate::redact::Secrets,
}

impl<'a> Call<'a> {
    /// Starts a call at `now`; the overall deadline counts from it.
    pub fn new(config: &'a ClientConfig, now: Now) -> Self {
        Call {
            config,
            shared: None,
            prepared: config.prepared(),
            endpoints: CallEndpoints::new(config.endpoints().as_slice().len(), None),
            deadline: now.monotonic() + config.deadline(),
            attempts: 0,
            last_timeout_was_deadline: false,
            skew: ClockSkew::new(0),
            spent: 0,
            secrets: crate::redact::Secrets::new(),
        }
    }

    /// Takes part in what the client's calls share: signs with the service clock's offset
    /// they learnt (and records one this call learns), pays for retries from the retry
    /// budget, and starts at, and reports on, the endpoints as their health says. A call
    /// without it starts from nothing: no offset, no budget, every endpoint reachable.
    pub fn with_shared(mut self, shared: &'a Shared) -> Self {
        self.skew = ClockSkew::new(shared.clock_offset_ms());
        self.endpoints = CallEndpoints::new(
            self.config.endpoints().as_slice().len(),
            Some(shared.endpoint_health()),
        );
        self.shared = Some(shared);
        self
    }

    /// How far the service's clock is ahead of this machine's, in milliseconds (negative:
    /// behind), as far as this call knows.
    pub fn clock_offset_ms(&self) -> i64 {
        self.skew.offset_ms()
    }

    /// Which endpoint the last attempt went to (an index into
    /// [`ClientConfig::endpoints`]).
    pub fn endpoint_index(&self) -> usize {
        self.endpoints.current()
    }

    /// The number of attempts made so far.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Whether the project must be found before the first attempt (the configuration
    /// names none: see [`ClientConfig::discover_project`]).
    pub fn needs_project(&self) -> bool {
        self.prepared.is_none()
    }

    /// The project is known: attempts use `prepared` (what
    /// [`on_project_response`](Self::on_project_response) gave, now or in an earlier call).
    pub fn use_project(&mut self, prepared: &'a crate::PreparedRequests) {
        self.prepared = Some(prepared);
    }

    /// The request that asks IAM for the project of the configured region, signed at
    /// `now` with `credentials`, with the time it may take (as for an attempt). Send it
    /// through the client's usual route (proxy, trusted roots) and report with
    /// [`on_project_response`](Self::on_project_response) or
    /// [`on_project_failure`](Self::on_project_failure).
    ///
    /// # Errors
    /// [`Error::Config`] when the configuration has no region to discover a project for,
    /// or the request cannot be signed.
    pub fn project_attempt(
        &mut self,
        now: Now,
        credentials: &crate::Credentials,
    ) -> Result<Attempt, Error> {
        let (region, iam) = self.config.discovery().ok_or_else(|| {
            Error::Config(crate::InvalidInput::new(
                crate::Input::ProjectId,
                crate::Problem::Empty,
            ))
        })?;
        let request = crate::operation::projects::request(iam, region, credentials, now.wall())
            .map_err(Error::Config)?;
        self.secrets = credentials.secrets_of_request(request.headers());
        let left = self.deadline.saturating_duration_since(now.monotonic());
        Ok(Attempt {
            request,
            timeout: left.min(self.config.attempt_timeout()),
            number: 0,
        })
    }

    /// IAM answered the project request: the call prepared for the one project it names
    /// (keep it for the client's later calls, then [`use_project`](Self::use_project)), or
    /// the end of the call.
    ///
    /// # Errors
    /// [`Error::Project`]: IAM's error, no project, or several.
    pub fn on_project_response(
        &mut self,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<crate::PreparedRequests, Error> {
        let Some((region, _)) = self.config.discovery() else {
            return Err(Error::Config(crate::InvalidInput::new(
                crate::Input::ProjectId,
                crate::Problem::Empty,
            )));
        };
        match crate::operation::projects::parse_scrubbed(
            status,
            headers,
            body,
            region,
            &self.secrets,
        ) {
            Ok(project) => {
                tracing::info!(
                    project = project.as_str(),
                    region = region.as_str(),
                    "project found"
                );
                Ok(self.config.prepare_project(project))
            }
            Err(error) => Err(self.no_project(error)),
        }
    }

    /// The project request got no answer: the end of the call.
    pub fn on_project_failure(&mut self, failure: TransportFailure) -> Error {
        match self.config.discovery() {
            Some((region, _)) => {
                let error = crate::operation::projects::DiscoveryError::no_answer(region, failure);
                self.no_project(error)
            }
            None => Error::Transport(TransportError::new(failure, self.attempts, false)),
        }
    }

    /// The end of a call that could not find the project: `error`, logged.
    pub(crate) fn no_project(&self, error: crate::operation::projects::DiscoveryError) -> Error {
        let error = Error::Project {
            error: Box::new(error),
        };
        tracing::warn!(kind = error.kind().as_str(), error = %error, "call failed");
        error
    }

    /// What is left of the overall deadline at `now` (for a transport waiting on
    /// credentials being refreshed).
    pub fn time_left(&self, now: Now) -> Duration {
        self.deadline.saturating_duration_since(now.monotonic())
    }

    /// Starts the next attempt: builds and signs its request at `now` with `credentials`
    /// (the ones current now: a transport asks its
    /// [`CredentialCache`](crate::credentials::CredentialCache) before every attempt), and
    /// gives it the attempt timeout, or what is left of the overall deadline if that is
    /// shorter.
    ///
    /// # Errors
    /// [`Error::Config`] when the request cannot be built (a clock before 1970), or when
    /// no project is known yet (a transport finds it first: [`needs_project`](Self::needs_project)).
    pub fn start_attempt(
        &mut self,
        now: Now,
        credentials: &crate::Credentials,
    ) -> Result<Attempt, Error> {
        let prepared = self.prepared.ok_or_else(|| {
            Error::Config(crate::InvalidInput::new(
                crate::Input::ProjectId,
                crate::Problem::Empty,
            ))
        })?;
        self.start_attempt_with(now, credentials, |index, signing_time| {
            match prepared.get(index) {
                Some(prepared) => prepared.build(credentials, signing_time),
                None => Err(crate::InvalidInput::new(
                    crate::Input::Endpoint,
                    crate::Problem::Empty,
                )),
            }
        })
    }

    /// Starts the next attempt of any operation: `build` makes the signed request for the
    /// endpoint at the index it is given (into [`ClientConfig::endpoints`]), signed at the
    /// time it is given (the wall clock moved by the known clock offset) with
    /// `credentials`; the call picks the endpoint, and gives the attempt its timeout as
    /// [`start_attempt`](Self::start_attempt) does.
    ///
    /// # Errors
    /// [`Error::Config`] when `build` fails.
    pub fn start_attempt_with(
        &mut self,
        now: Now,
        credentials: &crate::Credentials,
        build: impl FnOnce(usize, SystemTime) -> Result<Request<Vec<u8>>, crate::InvalidInput>,
    ) -> Result<Attempt, Error> {
        let index = self.endpoints.next(now.monotonic());
        let signing_time = self.skew.signing_time(now.wall());
        let request = build(index, signing_time).map_err(Error::Config)?;
        self.skew.signed(match credentials {
            crate::Credentials::AkSk(_) => Some(signing_time),
            crate::Credentials::Token(_) => None,
        });
        self.secrets = credentials.secrets_of_request(request.headers());
        self.endpoints.sent_to(index);
        self.attempts += 1;
        let left = self.deadline.saturating_duration_since(now.monotonic());
        self.last_timeout_was_deadline = left < self.config.attempt_timeout();
        Ok(Attempt {
            request,
            timeout: left.min(self.config.attempt_timeout()),
            number: self.attempts,
        })
    }

    /// The attempt got a response: parses it (with the body limit) and decides.
    pub fn on_response(
        &mut self,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        now: Now,
    ) -> Step {
        let limit = self.config.max_response_body();
        self.on_response_with(status, headers, body, now, |status, headers, body| {
            crate::response::parse_with_limit(status, headers, body, limit)
        })
    }

    /// The attempt of any operation got a response: `parse` reads it (the body at most
    /// [`ClientConfig::max_response_body`] bytes: longer is refused before `parse` sees
    /// it), and the call decides as for ShowUserInstances. Every text of a
    /// [`ResponseError`](crate::ResponseError) `parse` returns is scrubbed of the request's
    /// secrets.
    pub fn on_response_with<T>(
        &mut self,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        now: Now,
        parse: impl FnOnce(StatusCode, &HeaderMap, &[u8]) -> Result<T, crate::ResponseError>,
    ) -> Step<T> {
        // The head's limits are the core's, so that no transport's HTTP library decides
        // them (hyper's only bound is its read buffer, which it may overshoot).
        if let Some(too_large) = crate::response::HeadTooLarge::check(headers) {
            let failure =
                TransportFailure::new(TransportErrorKind::Io, true).with_source(too_large);
            return self.on_failure_of(failure, now);
        }
        self.endpoints.reached();
        let limit = self
            .config
            .max_response_body()
            .min(crate::MAX_RESPONSE_BODY);
        let parsed = match body.len() > limit {
            true => Err(crate::response::too_large(status, headers, limit)),
            false => parse(status, headers, body),
        }
        .map_err(|error| error.scrubbed(&self.secrets));
        match parsed {
            Ok(output) => {
                if let Some(budget) = self.shared.and_then(Shared::budget) {
                    budget.on_success(self.spent);
                }
                tracing::info!(
                    attempts = self.attempts,
                    request_id = crate::response::request_id_of(headers),
                    "call succeeded"
                );
                Step::Done(Ok(output))
            }
            Err(error) => {
                let skew = self
                    .skew
                    .judge(status, &error, self.config.max_clock_skew());
                if let Some(Skew::Correct(offset_ms)) = skew {
                    // Re-signed once with the service's time, at once: never more than one
                    // extra 401 (a lockout strike) per call.
                    tracing::warn!(
                        clock_offset_s = offset_ms / 1000,
                        "this machine's clock is {} s {} the service's: re-signing with the service's time",
                        offset_ms.unsigned_abs() / 1000,
                        if offset_ms > 0 { "behind" } else { "ahead of" }
                    );
                    self.skew.correct(offset_ms);
                    if let Some(shared) = self.shared {
                        shared.set_clock_offset_ms(offset_ms);
                    }
                    return Step::Retry(Duration::ZERO);
                }
                let decision = self.config.retry().decide(
                    self.attempts - self.endpoints.moves(),
                    Outcome::Response(&error),
                    now.jitter(),
                    now.wall(),
                );
                let attempts = self.attempts;
                let error = match self.skew.corrected() {
                    true => error.with_clock_offset(self.skew.offset_ms()),
                    false => error,
                };
                let error = match skew {
                    Some(Skew::TooFar(offset_ms)) => {
                        tracing::warn!(
                            clock_offset_s = offset_ms / 1000,
                            max_s = self.config.max_clock_skew().as_secs(),
                            "the gateway's clock is further from this machine's than the client corrects: not re-signed"
                        );
                        error.with_clock_skew_refused(offset_ms, self.config.max_clock_skew())
                    }
                    Some(Skew::Correct(_)) | None => error,
                };
                self.after(decision, now.monotonic(), false, || Error::Response {
                    error,
                    attempts,
                })
            }
        }
    }

    /// There are no credentials to sign the next attempt with: the call is over.
    pub fn on_no_credentials(&mut self, error: crate::credentials::CredentialError) -> Error {
        let error = Error::Credentials {
            error,
            attempts: self.attempts,
        };
        tracing::warn!(
            attempts = self.attempts,
            kind = error.kind().as_str(),
            error = %error,
            "call failed"
        );
        error
    }

    /// The attempt failed without a response: decides (another endpoint at once, when the
    /// request could not be sent and one is left to try).
    pub fn on_failure(&mut self, failure: TransportFailure, now: Now) -> Step {
        self.on_failure_of(failure, now)
    }

    /// [`on_failure`](Self::on_failure) for an attempt of any operation.
    pub fn on_failure_of<T>(&mut self, failure: TransportFailure, now: Now) -> Step<T> {
        let endpoints = self.config.endpoints().as_slice();
        let unsent = !failure.may_have_been_sent()
            && matches!(
                failure.kind(),
                TransportErrorKind::Connect | TransportErrorKind::Tls
            );
        if unsent {
            let from = self.endpoints.current();
            if let Some(next) = self.endpoints.unreachable(now.monotonic(), self.deadline) {
                tracing::warn!(
                    endpoint = %EndpointAt(endpoints, from),
                    next = %EndpointAt(endpoints, next),
                    failure = failure.kind().as_str(),
                    "the endpoint could not be reached (nothing was sent): trying the next one"
                );
                return Step::Retry(Duration::ZERO);
            }
        } else if failure.may_have_been_sent() {
            // The endpoint took the request: it was reached. (A failure before that which
            // is no fault of the endpoint's, such as no free connection, says nothing
            // about it.)
            self.endpoints.reached();
        }
        let decision = self.config.retry().decide(
            self.attempts - self.endpoints.moves(),
            Outcome::Transport {
                request_may_have_been_sent: failure.may_have_been_sent(),
                retryable: failure.kind().is_retryable(),
            },
            now.jitter(),
            now.wall(),
        );
        let deadline =
            failure.kind() == TransportErrorKind::Timeout && self.last_timeout_was_deadline;
        let attempts = self.attempts;
        let after_timeout = failure.kind() == TransportErrorKind::Timeout;
        // Said only when the call ends, and only with several endpoints.
        let (visited, last) = (
            self.endpoints.visited(),
            endpoints.get(self.endpoints.current()),
        );
        self.after(decision, now.monotonic(), after_timeout, || {
            let error = TransportError::new(failure, attempts, deadline);
            Error::Transport(match last {
                Some(last) if endpoints.len() > 1 => {
                    error.with_endpoints(visited, endpoints.len(), last.to_string())
                }
                _ => error,
            })
        })
    }

    fn after<T>(
        &mut self,
        decision: Decision,
        now: Instant,
        after_timeout: bool,
        error: impl FnOnce() -> Error,
    ) -> Step<T> {
        match decision {
            // A retry that could not start before the deadline is not made.
            Decision::Retry(delay) if now + delay < self.deadline => {
                if let Some(budget) = self.shared.and_then(Shared::budget) {
                    let cost = budget.cost(after_timeout);
                    if !budget.try_spend(cost) {
                        let error = error().with_budget_exhausted();
                        tracing::warn!(
                            attempts = self.attempts,
                            kind = error.kind().as_str(),
                            "not retried: the retry budget is spent"
                        );
                        return Step::Done(Err(error));
                    }
                    self.spent += cost;
                }
                tracing::debug!(
                    attempt = self.attempts,
                    delay_ms = delay.as_millis() as u64,
                    "retrying"
                );
                Step::Retry(delay)
            }
            // Both named: a decision added later must be placed here, not fall into "stop".
            Decision::Retry(_) | Decision::Stop(_) => {
                let error = error();
                tracing::warn!(
                    attempts = self.attempts,
                    kind = error.kind().as_str(),
                    status = error.status().map(|s| s.as_u16()),
                    code = error.code(),
                    request_id = error.request_id(),
                    "call failed"
                );
                Step::Done(Err(error))
            }
        }
    }
}

/// Endpoint `.1` of a list, for a log line.
struct EndpointAt<'e>(&'e [crate::Endpoint], usize);

impl std::fmt::Display for EndpointAt<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.get(self.1) {
            Some(endpoint) => write!(f, "{endpoint}"),
            None => write!(f, "#{}", self.1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    use crate::{AuthToken, Endpoint, ProjectId, RetryPolicy};

    fn settings() -> ClientConfig {
        ClientConfig::new(
            Endpoint::parse("http://127.0.0.1:1").unwrap(),
            ProjectId::new("p1").unwrap(),
            AuthToken::new("tok").unwrap().into(),
        )
    }

    const WALL: SystemTime = SystemTime::UNIX_EPOCH;

    fn creds() -> crate::Credentials {
        AuthToken::new("tok").unwrap().into()
    }

    /// AK/SK: a signed request, whose signature can expire.
    fn signed() -> crate::Credentials {
        crate::AkSk::new("AKEXAMPLE0000000000", "SKEXAMPLEsecretkey")
            .unwrap()
            .into()
    }

    fn at(monotonic: Instant, jitter: f64) -> Now {
        Now::new(WALL, monotonic, jitter)
    }

    #[test]
    fn retries_a_503_then_counts() {
        let settings = settings();
        let t0 = Instant::now();
        let mut call = Call::new(&settings, at(t0, 0.0));
        call.start_attempt(at(t0, 0.0), &creds()).unwrap();
        let step = call.on_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &HeaderMap::new(),
            b"",
            at(t0, 1.0),
        );
        assert!(
            matches!(step, Step::Retry(d) if d == Duration::from_millis(500)),
            "{step:?}"
        );
        call.start_attempt(at(t0, 0.0), &creds()).unwrap();
        let step = call.on_response(
            StatusCode::OK,
            &HeaderMap::new(),
            br#"{"instance_num":2}"#,
            at(t0, 1.0),
        );
        assert!(matches!(step, Step::Done(Ok(ref c)) if c.count() == 2));
        assert_eq!(call.attempts(), 2);
    }

    #[test]
    fn a_401_ends_the_call_at_once() {
        let settings = settings();
        let t0 = Instant::now();
        let mut call = Call::new(&settings, at(t0, 0.0));
        call.start_attempt(at(t0, 0.0), &creds()).unwrap();
        let body = br#"{"error_code":"APIGW.0301","error_msg":"verify aksk signature fail"}"#;
        let Step::Done(Err(err)) = call.on_response(
            StatusCode::UNAUTHORIZED,
            &HeaderMap::new(),
            body,
            at(t0, 0.5),
        ) else {
            panic!("expected the end of the call")
        };
        assert_eq!(
            (err.kind(), err.code(), err.attempts()),
            (ErrorKind::Service, Some("APIGW.0301"), 1)
        );
        assert!(!err.is_retryable());
    }

    #[test]
    fn the_deadline_bounds_attempts_and_retries() {
        let settings = settings()
            .with_attempt_timeout(Duration::from_secs(10))
            .with_deadline(Duration::from_secs(3));
        let t0 = Instant::now();
        let mut call = Call::new(&settings, at(t0, 0.0));
        let attempt = call.start_attempt(at(t0, 0.0), &creds()).unwrap();
        assert_eq!(attempt.timeout(), Duration::from_secs(3));
        let timeout = TransportFailure::new(TransportErrorKind::Timeout, true);
        // At 2.9 s no retry fits before the deadline: the call ends with the timeout.
        let Step::Done(Err(err)) =
            call.on_failure(timeout, at(t0 + Duration::from_millis(2_900), 1.0))
        else {
            panic!("expected the end of the call")
        };
        assert_eq!(err.kind(), ErrorKind::Timeout);
        assert_eq!(
            err.to_string(),
            "the call's overall deadline passed before an answer arrived (the request may have been sent; 1 attempt)"
        );
    }

    #[test]
    fn connect_failures_are_retried_and_say_nothing_was_sent() {
        let settings = settings().with_retry(RetryPolicy::default().with_max_attempts(2));
        let t0 = Instant::now();
        let mut call = Call::new(&settings, at(t0, 0.0));
        call.start_attempt(at(t0, 0.0), &creds()).unwrap();
        let refused = || {
            TransportFailure::new(TransportErrorKind::Connect, false)
                .with_source(std::io::Error::from(std::io::ErrorKind::ConnectionRefused))
        };
        assert!(matches!(
            call.on_failure(refused(), at(t0, 0.0)),
            Step::Retry(_)
        ));
        call.start_attempt(at(t0, 0.0), &creds()).unwrap();
        let Step::Done(Err(err)) = call.on_failure(refused(), at(t0, 0.0)) else {
            panic!()
        };
        assert!(
            err.to_string()
                .contains("the request was not sent; 2 attempts"),
            "{err}"
        );
        assert!(err.source().is_some());
    }

    #[test]
    fn the_body_limit_is_the_configured_one() {
        let settings = settings().with_max_response_body(10);
        let t0 = Instant::now();
        let mut call = Call::new(&settings, at(t0, 0.0));
        call.start_attempt(at(t0, 0.0), &creds()).unwrap();
        let Step::Done(Err(err)) = call.on_response(
            StatusCode::OK,
            &HeaderMap::new(),
            br#"{"instance_num":2}"#,
            at(t0, 0.5),
        ) else {
            panic!()
        };
        assert_eq!(err.kind(), ErrorKind::TooLarge);
        assert!(
            err.to_string().contains("larger than the 10-byte limit"),
            "{err}"
        );
    }

    #[test]
    fn skew_is_corrected_once_and_only_for_an_expired_signature() {
        let settings = settings();
        let t0 = Instant::now();
        let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_334_400);
        let now = Now::new(wall, t0, 0.0);
        let expired = br#"{"error_code":"APIGW.0301","error_msg":"calc aksk signature fail:signature expired, signature time:20261122T080000Z,server time:20261122T082000Z"}"#;
        let mut call = Call::new(&settings, now);
        call.start_attempt(now, &signed()).unwrap();
        let step = call.on_response(StatusCode::UNAUTHORIZED, &HeaderMap::new(), expired, now);
        assert!(
            matches!(step, Step::Retry(d) if d == Duration::ZERO),
            "{step:?}"
        );
        assert_eq!(call.clock_offset_ms(), 1_200_000);
        let attempt = call.start_attempt(now, &signed()).unwrap();
        let _ = attempt;
        // A second "expired" in the same call is not corrected again.
        let Step::Done(Err(err)) =
            call.on_response(StatusCode::UNAUTHORIZED, &HeaderMap::new(), expired, now)
        else {
            panic!("one correction per call")
        };
        assert_eq!(
            err.response().and_then(|r| r.clock_offset_ms()),
            Some(1_200_000)
        );
        // Any other 401 is never a reason.
        let mut call = Call::new(&settings, now);
        call.start_attempt(now, &signed()).unwrap();
        let wrong = br#"{"error_code":"APIGW.0301","error_msg":"verify aksk signature fail"}"#;
        assert!(matches!(
            call.on_response(StatusCode::UNAUTHORIZED, &HeaderMap::new(), wrong, now),
            Step::Done(Err(_))
        ));
    }

    fn three_endpoints() -> ClientConfig {
        ClientConfig::new(
            crate::Endpoints::parse_list(
                "http://127.0.0.1:1,http://127.0.0.1:2,http://127.0.0.1:3",
            )
            .unwrap(),
            ProjectId::new("p1").unwrap(),
            AuthToken::new("tok").unwrap().into(),
        )
    }

    fn port(attempt: &Attempt) -> u16 {
        attempt.request().uri().port_u16().unwrap()
    }

    fn unsent(kind: TransportErrorKind) -> TransportFailure {
        TransportFailure::new(kind, false)
    }

    #[test]
    fn an_unsent_failure_moves_on_at_once_and_later_calls_start_where_it_worked() {
        let config = three_endpoints().with_retry(RetryPolicy::never());
        let shared = Shared::new(&config);
        let now = at(Instant::now(), 0.0);
        let mut call = Call::new(&config, now).with_shared(&shared);
        let mut ports = Vec::new();
        for failure in [TransportErrorKind::Connect, TransportErrorKind::Tls] {
            ports.push(port(&call.start_attempt(now, &creds()).unwrap()));
            let step = call.on_failure(unsent(failure), now);
            assert!(matches!(step, Step::Retry(d) if d.is_zero()), "{step:?}");
        }
        ports.push(port(&call.start_attempt(now, &creds()).unwrap()));
        let ok = br#"{"instance_num":2}"#;
        let step = call.on_response(StatusCode::OK, &HeaderMap::new(), ok, now);
        assert!(matches!(step, Step::Done(Ok(_))), "{step:?}");
        // Retries are off, yet the call reached the third: moving on is not a retry.
        assert_eq!((ports, call.attempts()), (vec![1, 2, 3], 3));
        let mut later = Call::new(&config, now).with_shared(&shared);
        assert_eq!(port(&later.start_attempt(now, &creds()).unwrap()), 3);
        // A call that shares nothing starts at the first.
        let mut alone = Call::new(&config, now);
        assert_eq!(port(&alone.start_attempt(now, &creds()).unwrap()), 1);
    }

    #[test]
    fn an_answer_or_a_failure_after_sending_stays_on_the_endpoint() {
        let config = three_endpoints().with_retry(RetryPolicy::default().with_max_attempts(3));
        let shared = Shared::new(&config);
        let now = at(Instant::now(), 0.0);
        let mut call = Call::new(&config, now).with_shared(&shared);
        assert_eq!(port(&call.start_attempt(now, &creds()).unwrap()), 1);
        let sent = TransportFailure::new(TransportErrorKind::Io, true);
        assert!(matches!(call.on_failure(sent, now), Step::Retry(d) if !d.is_zero()));
        assert_eq!(port(&call.start_attempt(now, &creds()).unwrap()), 1);
        let step = call.on_response(StatusCode::SERVICE_UNAVAILABLE, &HeaderMap::new(), b"", now);
        assert!(matches!(step, Step::Retry(d) if !d.is_zero()), "{step:?}");
        assert_eq!(port(&call.start_attempt(now, &creds()).unwrap()), 1);
        // A local timeout that sent nothing (no connection free) is not the endpoint's
        // fault either.
        let waited = unsent(TransportErrorKind::Timeout);
        let Step::Done(Err(err)) = call.on_failure(waited, now) else {
            panic!("three attempts, all counted")
        };
        assert_eq!(err.attempts(), 3);
        assert!(!shared.endpoint_health().is_cooling_down(0, now.monotonic()));
    }

    #[test]
    fn when_no_endpoint_can_be_reached_the_retry_policy_decides() {
        let config = ClientConfig::new(
            crate::Endpoints::parse_list("http://127.0.0.1:1,http://127.0.0.1:2").unwrap(),
            ProjectId::new("p1").unwrap(),
            AuthToken::new("tok").unwrap().into(),
        )
        .with_retry(RetryPolicy::default().with_max_attempts(2));
        let shared = Shared::new(&config);
        let now = at(Instant::now(), 0.0);
        let mut call = Call::new(&config, now).with_shared(&shared);
        let mut ports = Vec::new();
        ports.push(port(&call.start_attempt(now, &creds()).unwrap()));
        assert!(
            matches!(call.on_failure(unsent(TransportErrorKind::Connect), now), Step::Retry(d) if d.is_zero())
        );
        ports.push(port(&call.start_attempt(now, &creds()).unwrap()));
        // Both failed: the policy's first retry, after its backoff, to the one that
        // failed first.
        let step = call.on_failure(unsent(TransportErrorKind::Connect), now);
        assert!(matches!(step, Step::Retry(d) if !d.is_zero()), "{step:?}");
        ports.push(port(&call.start_attempt(now, &creds()).unwrap()));
        // The other is cooling down: no move at once; the policy has no attempt left.
        let Step::Done(Err(err)) = call.on_failure(unsent(TransportErrorKind::Connect), now) else {
            panic!("the policy's two attempts are spent")
        };
        assert_eq!(ports, [1, 2, 1]);
        assert_eq!(err.attempts(), 3);
        assert!(
            err.to_string().ends_with(
                "(the request was not sent; 3 attempts at 2 of 2 endpoints, the last http://127.0.0.1:1)"
            ),
            "{err}"
        );
    }

    #[test]
    fn an_offset_learnt_earlier_is_replaced_when_the_clock_was_put_right() {
        let settings = settings();
        let shared = Shared::new(&settings);
        shared.set_clock_offset_ms(1_200_000);
        // The machine's clock is right now (20261122T080000Z); the stale offset signs
        // 20 minutes ahead, and the gateway says so.
        let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_334_400);
        let now = Now::new(wall, Instant::now(), 0.0);
        let mut call = Call::new(&settings, now).with_shared(&shared);
        let attempt = call.start_attempt(now, &signed()).unwrap();
        let _ = attempt;
        let expired = br#"{"error_code":"APIGW.0301","error_msg":"calc aksk signature fail:signature expired, signature time:20261122T082000Z,server time:20261122T080000Z"}"#;
        let step = call.on_response(StatusCode::UNAUTHORIZED, &HeaderMap::new(), expired, now);
        assert!(matches!(step, Step::Retry(d) if d.is_zero()), "{step:?}");
        assert_eq!((call.clock_offset_ms(), shared.clock_offset_ms()), (0, 0));
    }

    /// The gateway's "signature expired" 401, naming `signature` and `server` times.
    fn expired(signature: &str, server: &str) -> Vec<u8> {
        format!(
            r#"{{"error_code":"APIGW.0301","error_msg":"calc aksk signature fail:signature expired, signature time:{signature},server time:{server}"}}"#
        )
        .into_bytes()
    }

    /// One attempt signed at 20261122T080000Z answered `body` (and `headers`): the step.
    fn answered(
        config: &ClientConfig,
        credentials: &crate::Credentials,
        headers: &HeaderMap,
        body: &[u8],
    ) -> (Step, i64) {
        let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_334_400);
        let now = Now::new(wall, Instant::now(), 0.0);
        let mut call = Call::new(config, now);
        call.start_attempt(now, credentials).unwrap();
        let step = call.on_response(StatusCode::UNAUTHORIZED, headers, body, now);
        (step, call.clock_offset_ms())
    }

    #[test]
    fn hostile_or_unrelated_expiry_answers_never_move_the_clock() {
        let signed_at = "20261122T080000Z";
        let mut date_10_years_off = HeaderMap::new();
        date_10_years_off.insert(
            http::header::DATE,
            "Fri, 22 Nov 2036 08:00:00 GMT".parse().unwrap(),
        );
        for (name, config, credentials, headers, body, refused_ms) in [
            (
                "a server time 100 years ahead",
                settings(),
                signed(),
                HeaderMap::new(),
                expired(signed_at, "21261122T080000Z"),
                Some(3_155_673_600_000),
            ),
            (
                "a server time 40 years back",
                settings(),
                signed(),
                HeaderMap::new(),
                expired(signed_at, "19861122T080000Z"),
                Some(-1_262_304_000_000),
            ),
            (
                "a day and a minute off",
                settings(),
                signed(),
                HeaderMap::new(),
                expired(signed_at, "20261123T080100Z"),
                Some(86_460_000),
            ),
            (
                "20 minutes off with corrections turned off",
                settings().with_max_clock_skew(Duration::ZERO),
                signed(),
                HeaderMap::new(),
                expired(signed_at, "20261122T082000Z"),
                Some(1_200_000),
            ),
            (
                "a signature time that is not this request's",
                settings(),
                signed(),
                HeaderMap::new(),
                expired("20261122T075959Z", "20261122T082000Z"),
                None,
            ),
            (
                "a bare Date 10 years off",
                settings(),
                signed(),
                date_10_years_off.clone(),
                br#"{"error_code":"APIGW.0301","error_msg":"signature expired"}"#.to_vec(),
                None,
            ),
            (
                "an IAM token, which no signature expires",
                settings(),
                creds(),
                HeaderMap::new(),
                expired(signed_at, "20261122T082000Z"),
                None,
            ),
        ] {
            let (step, offset) = answered(&config, &credentials, &headers, &body);
            let Step::Done(Err(err)) = step else {
                panic!("{name}: re-sent: {step:?}")
            };
            assert_eq!(offset, 0, "{name}");
            let response = err.response().unwrap();
            assert_eq!(response.clock_skew_refused_ms(), refused_ms, "{name}");
            assert_eq!(response.clock_offset_ms(), None, "{name}");
            if refused_ms.is_some() {
                let text = err.to_string();
                assert!(
                    text.contains("the client corrects")
                        && text.contains("set this machine's clock right"),
                    "{name}: {text}"
                );
            }
        }
    }

    #[test]
    fn a_clock_off_by_less_than_the_bound_is_corrected() {
        for (name, server, offset_ms) in [
            ("20 minutes behind", "20261122T082000Z", 1_200_000),
            ("20 minutes ahead", "20261122T074000Z", -1_200_000),
            ("23 hours behind", "20261123T070000Z", 82_800_000),
            ("a day ahead exactly", "20261121T080000Z", -86_400_000),
        ] {
            let body = expired("20261122T080000Z", server);
            let (step, offset) = answered(&settings(), &signed(), &HeaderMap::new(), &body);
            assert!(
                matches!(step, Step::Retry(d) if d.is_zero()),
                "{name}: {step:?}"
            );
            assert_eq!(offset, offset_ms, "{name}");
        }
        let refused = settings().with_max_clock_skew(Duration::from_secs(30 * 86_400));
        let body = expired("20261122T080000Z", "20261202T080000Z");
        let (step, offset) = answered(&refused, &signed(), &HeaderMap::new(), &body);
        assert!(
            matches!(step, Step::Retry(_)),
            "a configured bound of 30 days: {step:?}"
        );
        assert_eq!(offset, 10 * 86_400_000);
    }
}
