//! A credential refresh that runs apart from the call that started it.

use std::time::{Duration, Instant};

use http::{HeaderMap, StatusCode};

use super::io::{Exchange, Route};
use crate::call::TransportFailure;
use crate::credentials::{
    CredentialError, FileProblem, FileRead, Identity, MAX_SOURCE_BODY, Need, Refresh, RefreshTicket,
};

/// One refresh of the client's credentials, handed to a transport by
/// [`Io::Refresh`](super::Io::Refresh) to run on a thread or task of its own: a call that
/// is cancelled or times out never abandons a refresh other calls wait for.
///
/// ```text
/// poll() ─> RefreshIo::Read(file)     ─ read it ─> on_file(result)
///           RefreshIo::Send(exchange) ─ send it ─> on_response(..) / on_failure(..)
///           RefreshIo::Done           ─> Client::on_refreshed(job, now); wake the waiters
/// ```
pub struct RefreshJob {
    ticket: RefreshTicket,
    refresh: Refresh<'static>,
    next: Option<Need>,
    result: Option<Result<Identity, CredentialError>>,
    /// No exchange of a refresh takes longer than a KMS attempt may.
    limit: Duration,
    started: Instant,
    /// The span of the call that started it: the refresh logs where that call logs.
    span: tracing::Span,
}

impl std::fmt::Debug for RefreshJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshJob")
            .field("refresh", &self.refresh)
            .finish_non_exhaustive()
    }
}

/// What a refresh needs next.
#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "moved once per step of a refresh, which is rare"
)]
pub enum RefreshIo {
    /// Read this file (bounded: [`FileRead::read_blocking`] does it) and report with
    /// [`RefreshJob::on_file`].
    Read(FileRead),
    /// Send this and report with [`RefreshJob::on_response`] or [`RefreshJob::on_failure`].
    Send(Exchange),
    /// The refresh is over: hand the job to
    /// [`Client::on_refreshed`](super::Client::on_refreshed), then wake the calls that wait.
    Done,
}

impl RefreshJob {
    pub(super) fn new(
        ticket: RefreshTicket,
        mut refresh: Refresh<'static>,
        limit: Duration,
        started: Instant,
        span: tracing::Span,
    ) -> Self {
        let next = span.in_scope(|| refresh.start());
        RefreshJob {
            ticket,
            refresh,
            next: Some(next),
            result: None,
            limit,
            started,
            span,
        }
    }

    /// What the refresh needs next.
    pub fn poll(&mut self) -> RefreshIo {
        match self.next.take() {
            Some(Need::File(read)) => RefreshIo::Read(read),
            Some(Need::Http(request)) => {
                let route = match request.is_remote() {
                    true => Route::Cloud,
                    false => Route::Local,
                };
                let (request, timeout) = request.into_parts_within(self.limit);
                RefreshIo::Send(Exchange {
                    request,
                    timeout,
                    route,
                    read_limit: MAX_SOURCE_BODY + 1,
                })
            }
            Some(Need::Done(result)) => {
                self.result = Some(result);
                RefreshIo::Done
            }
            // Polled again without a report: the refresh cannot go on.
            None => RefreshIo::Done,
        }
    }

    /// The file asked for was read, or could not be.
    pub fn on_file(&mut self, result: Result<Vec<u8>, FileProblem>) {
        let _entered = self.span.enter();
        self.next = Some(self.refresh.on_file(result));
    }

    /// What became of the exchange asked for: its answer (the body cut to the read
    /// limit), or why there is none.
    pub fn on_exchange(&mut self, answer: Result<http::Response<Vec<u8>>, TransportFailure>) {
        match answer {
            Ok(response) => {
                self.on_response(response.status(), response.headers(), response.body())
            }
            Err(failure) => self.on_failure(failure),
        }
    }

    /// The request sent got this answer (its body cut to the read limit).
    pub fn on_response(&mut self, status: StatusCode, headers: &HeaderMap, body: &[u8]) {
        let _entered = self.span.enter();
        self.next = Some(self.refresh.on_response(status, headers, body));
    }

    /// The request sent got no answer.
    pub fn on_failure(&mut self, failure: TransportFailure) {
        let _entered = self.span.enter();
        self.next = Some(self.refresh.on_failure(failure));
    }

    /// The span the refresh logs in (the span of the call that started it): a transport
    /// runs the job's I/O in it.
    pub fn span(&self) -> &tracing::Span {
        &self.span
    }

    /// Its end: the ticket, the result (a refresh that never finished is a failure), the
    /// provider with what it learnt, when it started, and its span.
    pub(super) fn finish(
        self,
    ) -> (
        RefreshTicket,
        Result<Identity, CredentialError>,
        Option<crate::credentials::Provider>,
        Instant,
        tracing::Span,
    ) {
        let result = self.result.unwrap_or_else(|| {
            Err(CredentialError::internal(
                "the transport ended a refresh before it was over",
            ))
        });
        (
            self.ticket,
            result,
            self.refresh.into_provider(),
            self.started,
            self.span,
        )
    }
}
