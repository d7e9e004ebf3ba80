//! One call of an operation, driven by a transport.

use std::sync::Arc;
use std::time::Instant;

use http::{HeaderMap, StatusCode};

use super::io::{Exchange, Io, Route, Wait};
use super::project::{Outcome, ProjectStep};
use super::{Client, Project, lock};
use crate::call::{Call, Error, Now, Step, TransportError, TransportErrorKind, TransportFailure};
use crate::credentials::{CacheStep, CredentialError, Identity, RefreshTicket};
use crate::operation::{Operation, Target};

/// Where a call stands.
#[derive(Debug)]
enum State<T> {
    /// Needs credentials for the next attempt.
    Credentials,
    /// Needs the project.
    Project,
    /// Ready to send the next attempt.
    Attempt,
    /// An attempt is out: waiting for its report.
    Sent,
    /// The project request is out: waiting for its report.
    Asked,
    /// Backing off until then.
    Sleep(Instant),
    /// Over: the result, once handed out.
    Finished(Option<Result<T, Error>>),
}

/// One call of an [`Operation`], as a state machine. See the [module docs](super).
///
/// Dropping it abandons the call: nothing is left half done for other calls (a claim on
/// finding the project is given back; a refresh it handed out runs on).
pub struct ClientCall<'c, O: Operation> {
    client: &'c Client,
    operation: O,
    /// The decisions inside the call: endpoints, retries, skew, the deadline.
    call: Call<'c>,
    state: State<O::Output>,
    identity: Option<Arc<Identity>>,
    project: Option<Project<'c>>,
    /// The claim on finding the project, while this call asks IAM.
    claim: Option<u64>,
    /// Other calls must be woken before the call goes on.
    wake: bool,
    /// A refresh to hand out.
    refresh: Option<RefreshTicket>,
    /// Whether the call waited for a refresh (its own or another call's): a failure the
    /// cache then gives it is that refresh's, not one remembered from before the call.
    waited_for_refresh: bool,
    /// When the exchange out was handed out.
    sent_at: Instant,
    span: tracing::Span,
    /// The span of the attempt out.
    attempt_span: tracing::Span,
}

impl<O: Operation> std::fmt::Debug for ClientCall<'_, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCall")
            .field("operation", &self.operation.name())
            .field("attempts", &self.call.attempts())
            .finish_non_exhaustive()
    }
}

impl<'c, O: Operation> ClientCall<'c, O> {
    pub(super) fn new(client: &'c Client, operation: O, now: Now) -> Self {
        let config = client.config();
        let span = tracing::info_span!(
            "kms.call",
            operation = operation.name(),
            endpoint = %config.endpoints()
        );
        ClientCall {
            client,
            call: Call::new(config, now).with_shared(client.shared()),
            project: config.prepared().map(Project::Configured),
            operation,
            state: State::Credentials,
            identity: None,
            claim: None,
            wake: false,
            refresh: None,
            waited_for_refresh: false,
            sent_at: now.monotonic(),
            span,
            attempt_span: tracing::Span::none(),
        }
    }

    /// The call's span (`kms.call`, with the operation's name); while an attempt is out,
    /// its `kms.attempt` span is [`attempt_span`](Self::attempt_span). A transport runs
    /// its own I/O in them, so that its lines go with the call's.
    pub fn span(&self) -> &tracing::Span {
        &self.span
    }

    /// The span of the attempt out (`kms.attempt`, with its number and host), or none.
    pub fn attempt_span(&self) -> &tracing::Span {
        &self.attempt_span
    }

    /// The number of attempts made so far.
    pub fn attempts(&self) -> u32 {
        self.call.attempts()
    }

    /// What to do next. See [`Io`].
    pub fn poll(&mut self, now: Now) -> Io<O::Output> {
        let span = self.span.clone();
        let _entered = span.enter();
        loop {
            if self.wake {
                self.wake = false;
                return Io::Wake;
            }
            if let Some(ticket) = self.refresh.take() {
                let job = self.client.refresh_job(ticket, now, self.span.clone());
                return Io::Refresh(job);
            }
            match &mut self.state {
                State::Sleep(until) if now.monotonic() < *until => return Io::Sleep(*until),
                State::Sleep(_) => self.state = State::Credentials,
                State::Credentials => {
                    // Read before the cache: a report made after it ends the wait.
                    let seen = self.client.reports();
                    let step = lock(&self.client.credentials).poll(now);
                    match step {
                        CacheStep::Use { identity, refresh } => {
                            self.identity = Some(identity);
                            self.refresh = refresh;
                            self.state = State::Project;
                        }
                        // Handed out above; the next poll of the cache says to wait.
                        CacheStep::Refresh(ticket) => {
                            self.refresh = Some(ticket);
                            self.waited_for_refresh = true;
                        }
                        CacheStep::Wait => {
                            self.waited_for_refresh = true;
                            let left = self.call.time_left(now);
                            if left.is_zero() {
                                let error = CredentialError::waited_too_long();
                                let error = self.call.on_no_credentials(error);
                                return self.end(Err(error));
                            }
                            let until = now.monotonic() + left;
                            return Io::Wait(Wait { until, seen });
                        }
                        CacheStep::Fail(error) => {
                            let error = match self.waited_for_refresh {
                                true => error.asked_for_this_call(),
                                false => error,
                            };
                            let error = self.call.on_no_credentials(error);
                            return self.end(Err(error));
                        }
                    }
                }
                State::Project if self.project.is_some() => self.state = State::Attempt,
                State::Project => {
                    let Some(identity) = &self.identity else {
                        return self.end(Err(out_of_order(
                            "the project was looked for without credentials",
                            self.call.attempts(),
                        )));
                    };
                    let deadline = now.monotonic() + self.call.time_left(now);
                    let seen = self.client.reports();
                    let step = lock(&self.client.project).step(now.monotonic(), deadline, identity);
                    match step {
                        ProjectStep::Use(prepared) => {
                            self.project = Some(Project::Found(prepared));
                            self.state = State::Attempt;
                        }
                        ProjectStep::Ask(claim) => {
                            self.claim = Some(claim);
                            return self.ask_for_project(now);
                        }
                        ProjectStep::Fail(remembered) => {
                            let error = self.call.no_project(remembered);
                            return self.end(Err(error));
                        }
                        ProjectStep::Wait(_) if deadline <= now.monotonic() => {
                            let failure = TransportFailure::new(TransportErrorKind::Timeout, false);
                            let error = self.call.on_project_failure(failure);
                            return self.end(Err(error));
                        }
                        ProjectStep::Wait(lapses) => {
                            let until = lapses.min(deadline);
                            return Io::Wait(Wait { until, seen });
                        }
                    }
                }
                State::Attempt => return self.attempt(now),
                State::Sent | State::Asked => {
                    return self.end(Err(out_of_order(
                        "the transport polled before reporting the exchange",
                        self.call.attempts(),
                    )));
                }
                State::Finished(result) => {
                    return Io::Done(result.take().unwrap_or_else(|| {
                        Err(out_of_order(
                            "the transport polled a call that was over",
                            self.call.attempts(),
                        ))
                    }));
                }
            }
        }
    }

    /// What became of the exchange handed out: its answer (the body read up to the
    /// exchange's read limit), or why there is none. The same as
    /// [`on_response`](Self::on_response) or [`on_failure`](Self::on_failure).
    pub fn on_exchange(
        &mut self,
        answer: Result<http::Response<Vec<u8>>, TransportFailure>,
        now: Now,
    ) {
        match answer {
            Ok(response) => {
                self.on_response(response.status(), response.headers(), response.body(), now);
            }
            Err(failure) => self.on_failure(failure, now),
        }
    }

    /// The exchange handed out got an answer: the body read up to the exchange's read
    /// limit.
    pub fn on_response(&mut self, status: StatusCode, headers: &HeaderMap, body: &[u8], now: Now) {
        let span = self.span.clone();
        let _entered = span.enter();
        match self.state {
            State::Sent => {
                let attempt_span = self.take_attempt_span();
                let _attempt = attempt_span.enter();
                tracing::debug!(
                    status = status.as_u16(),
                    request_id = crate::response::request_id_of(headers),
                    latency_ms = self.latency_ms(now),
                    "answer"
                );
                let operation = &self.operation;
                let step = self
                    .call
                    .on_response_with(status, headers, body, now, |s, h, b| {
                        operation.parse(s, h, b)
                    });
                self.after(step, now);
            }
            State::Asked => {
                tracing::debug!(
                    status = status.as_u16(),
                    latency_ms = self.latency_ms(now),
                    "IAM answered the project request"
                );
                match self.call.on_project_response(status, headers, body) {
                    Ok(prepared) => {
                        let prepared = Arc::new(prepared);
                        self.give_back_claim(Outcome::Found(Arc::clone(&prepared)));
                        self.project = Some(Project::Found(prepared));
                        self.state = State::Attempt;
                    }
                    Err(error) => {
                        self.give_back_failed(&error, now);
                        self.state = State::Finished(Some(Err(error)));
                    }
                }
            }
            State::Credentials
            | State::Project
            | State::Attempt
            | State::Sleep(_)
            | State::Finished(_) => self.unasked(),
        }
    }

    /// The exchange handed out got no answer.
    pub fn on_failure(&mut self, failure: TransportFailure, now: Now) {
        let span = self.span.clone();
        let _entered = span.enter();
        match self.state {
            State::Sent => {
                let attempt_span = self.take_attempt_span();
                let _attempt = attempt_span.enter();
                tracing::warn!(
                    latency_ms = self.latency_ms(now),
                    failure = failure.kind().as_str(),
                    "attempt failed"
                );
                let step = self.call.on_failure_of(failure, now);
                self.after(step, now);
            }
            State::Asked => {
                tracing::warn!(
                    latency_ms = self.latency_ms(now),
                    failure = failure.kind().as_str(),
                    "the project request failed"
                );
                // The call's own deadline cut the request short: IAM was not shown to fail
                // (a call with a longer deadline may get its answer), so nothing is
                // remembered for the other calls.
                let own_deadline = failure.kind() == TransportErrorKind::Timeout
                    && self.call.time_left(now).is_zero();
                let error = self.call.on_project_failure(failure);
                match own_deadline {
                    true => self.give_back_claim(Outcome::Nothing),
                    false => self.give_back_failed(&error, now),
                }
                self.state = State::Finished(Some(Err(error)));
            }
            State::Credentials
            | State::Project
            | State::Attempt
            | State::Sleep(_)
            | State::Finished(_) => self.unasked(),
        }
    }

    fn attempt(&mut self, now: Now) -> Io<O::Output> {
        let (Some(identity), Some(project)) = (&self.identity, &self.project) else {
            return self.end(Err(out_of_order(
                "an attempt was started without credentials or project",
                self.call.attempts(),
            )));
        };
        let config = self.client.config();
        let prepared = project.prepared();
        let operation = &self.operation;
        let credentials = identity.credentials();
        let built = self
            .call
            .start_attempt_with(now, credentials, |index, signing_time| {
                let endpoints = config.endpoints().as_slice();
                let endpoint = endpoints.get(index).unwrap_or(config.endpoint());
                let to = Target::new(
                    endpoint,
                    prepared.project_id(),
                    config.user_agent(),
                    prepared.get(index),
                );
                operation.request(&to, credentials, signing_time)
            });
        match built {
            Ok(attempt) => {
                self.attempt_span = tracing::debug_span!(
                    "kms.attempt",
                    attempt = attempt.number(),
                    host = attempt.request().uri().authority().map(|a| a.as_str())
                );
                let (request, timeout) = attempt.into_parts();
                self.state = State::Sent;
                self.sent_at = now.monotonic();
                Io::Send(Exchange {
                    request,
                    timeout,
                    route: Route::Kms,
                    read_limit: config.max_response_body().saturating_add(1),
                })
            }
            Err(error) => self.end(Err(error)),
        }
    }

    fn ask_for_project(&mut self, now: Now) -> Io<O::Output> {
        let Some(identity) = &self.identity else {
            return self.end(Err(out_of_order(
                "the project was asked for without credentials",
                self.call.attempts(),
            )));
        };
        match self.call.project_attempt(now, identity.credentials()) {
            Ok(attempt) => {
                let (request, timeout) = attempt.into_parts();
                self.state = State::Asked;
                self.sent_at = now.monotonic();
                Io::Send(Exchange {
                    request,
                    timeout,
                    route: Route::Cloud,
                    read_limit: self.client.config().max_response_body().saturating_add(1),
                })
            }
            Err(error) => {
                self.give_back_claim(Outcome::Nothing);
                self.end(Err(error))
            }
        }
    }

    fn after(&mut self, step: Step<O::Output>, now: Now) {
        self.state = match step {
            Step::Done(result) => State::Finished(Some(result)),
            Step::Retry(delay) if delay.is_zero() => State::Credentials,
            Step::Retry(delay) => State::Sleep(now.monotonic() + delay),
        };
    }

    /// The call ends with `result` now (after waking others, if it must).
    fn end(&mut self, result: Result<O::Output, Error>) -> Io<O::Output> {
        match self.wake {
            true => {
                self.wake = false;
                self.state = State::Finished(Some(result));
                Io::Wake
            }
            false => {
                self.state = State::Finished(None);
                Io::Done(result)
            }
        }
    }

    /// The span of the attempt out, which ends with its report.
    fn take_attempt_span(&mut self) -> tracing::Span {
        std::mem::replace(&mut self.attempt_span, tracing::Span::none())
    }

    /// A report the call did not ask for: said, and otherwise ignored.
    fn unasked(&self) {
        tracing::warn!("the transport reported an exchange the call did not hand out: ignored");
    }

    fn latency_ms(&self, now: Now) -> u64 {
        now.monotonic()
            .saturating_duration_since(self.sent_at)
            .as_millis() as u64
    }

    /// Gives back the claim on finding the project, with what came of it; the calls that
    /// wait for it are woken.
    fn give_back_claim(&mut self, outcome: Outcome<'_>) {
        if let Some(claim) = self.claim.take()
            && lock(&self.client.project).report(claim, outcome)
        {
            self.client.report();
            self.wake = true;
        }
    }

    /// Gives back the claim after the project request failed with `error` at `now`: the
    /// failure is remembered, and the calls that wait for it end with it too.
    fn give_back_failed(&mut self, error: &Error, now: Now) {
        let identity = self.identity.clone();
        let outcome = match error {
            Error::Project { error } => Outcome::Failed {
                error,
                signed_with: identity.as_ref(),
                now,
            },
            // Not IAM's failure: the configuration has no region.
            Error::Config(_)
            | Error::Response { .. }
            | Error::Transport(_)
            | Error::Credentials { .. } => Outcome::Nothing,
        };
        self.give_back_claim(outcome);
    }
}

impl<O: Operation> Drop for ClientCall<'_, O> {
    fn drop(&mut self) {
        // Cancelled while asking for the project: the next call asks. Nobody can be woken
        // from here; the calls waiting go on when the claim lapses, at the latest.
        if let Some(claim) = self.claim.take()
            && lock(&self.client.project).report(claim, Outcome::Nothing)
        {
            self.client.report();
        }
    }
}

/// A transport drove the call out of order: a bug, reported as an error, never a panic.
fn out_of_order(why: &'static str, attempts: u32) -> Error {
    let failure = TransportFailure::new(TransportErrorKind::Io, false)
        .with_source(std::io::Error::other(why));
    Error::Transport(TransportError::new(failure, attempts, false))
}
