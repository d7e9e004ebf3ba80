//! Credentials for each attempt: the core's [`CredentialCache`] decides, this module does
//! what it says with blocking I/O (file reads, HTTP to the credential services) and wakes
//! the threads that wait.
//!
//! Every refresh runs on a short-lived thread of its own, so no caller waits while usable
//! credentials exist, and a caller that needs one waits for it (as every other caller
//! does) only within its call's deadline: a slow credential service never holds a call
//! past it, and the refresh goes on for the calls after it.

use std::io::Read;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use kms_proto::call::{Call, Now};
use kms_proto::credentials::{
    CacheStep, CredentialCache, CredentialError, Identity, MAX_SOURCE_BODY, Need, Provider,
    RefreshTicket, SOURCE_CONNECT_TIMEOUT,
};
use kms_proto::{ClientConfig, call::TransportFailure};
use tracing::{debug, warn};

use crate::classify;

/// What every call of a client shares about credentials.
pub(crate) struct Credentials {
    cache: Mutex<CredentialCache>,
    /// Signalled after every refresh reports.
    refreshed: Condvar,
    /// Only the caller holding a refresh ticket locks it.
    provider: Mutex<Provider>,
    /// For the credential services on the instance or node (metadata, pod identity): no
    /// proxy, a short connect timeout, no redirects.
    agent: ureq::Agent,
    /// For IAM and STS: the client's own agent (its proxy, trusted roots and connect
    /// timeout). A refresh takes no connection permit: it is one request, now and then.
    remote: ureq::Agent,
    /// The client's attempt timeout, which bounds every exchange of a refresh too.
    attempt_timeout: Duration,
}

impl Credentials {
    pub(crate) fn new(
        config: &ClientConfig,
        tls: ureq::tls::TlsConfig,
        remote: ureq::Agent,
    ) -> Arc<Self> {
        let config_of_agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .max_redirects_will_error(false)
            // The metadata service and pod identity are local: never through the proxy.
            .proxy(None)
            .tls_config(tls)
            .timeout_resolve(Some(SOURCE_CONNECT_TIMEOUT))
            .timeout_connect(Some(SOURCE_CONNECT_TIMEOUT))
            .max_idle_connections(2)
            // The core's request carries every header; ureq adds none of its own.
            .user_agent(ureq::config::AutoHeaderValue::None)
            .accept(ureq::config::AutoHeaderValue::None)
            .accept_encoding(ureq::config::AutoHeaderValue::None)
            .build();
        // As the client's agent: a timer that fires before the connection is made is a
        // connect timeout (the service was not reached), and a failed lookup is one too.
        let agent = crate::connect::agent(config_of_agent);
        Arc::new(Credentials {
            cache: Mutex::new(CredentialCache::new(*config.refresh_policy())),
            refreshed: Condvar::new(),
            provider: Mutex::new(config.credential_provider().clone()),
            agent,
            remote,
            attempt_timeout: config.attempt_timeout(),
        })
    }

    /// The credentials cached now, if any.
    pub(crate) fn current(&self) -> Option<Arc<Identity>> {
        lock(&self.cache).current().cloned()
    }

    /// The credentials to sign the next attempt of `call` with: at once when usable ones
    /// are cached, else after a refresh (this thread's or another's).
    pub(crate) fn for_attempt(
        self: &Arc<Self>,
        call: &Call<'_>,
    ) -> Result<Arc<Identity>, CredentialError> {
        let mut cache = lock(&self.cache);
        loop {
            match cache.poll(now()) {
                CacheStep::Use { identity, refresh } => {
                    drop(cache);
                    if let Some(ticket) = refresh {
                        self.refresh_in_background(ticket);
                    }
                    return Ok(identity);
                }
                CacheStep::Refresh(ticket) => {
                    drop(cache);
                    self.refresh_in_background(ticket);
                    // The next poll waits for it, within the call's deadline.
                    cache = lock(&self.cache);
                }
                CacheStep::Wait => {
                    let left = call.time_left(now());
                    if left.is_zero() {
                        return Err(CredentialError::waited_too_long());
                    }
                    cache = match self.refreshed.wait_timeout(cache, left) {
                        Ok((guard, _)) => guard,
                        Err(poisoned) => poisoned.into_inner().0,
                    };
                }
                CacheStep::Fail(error) => return Err(error),
            }
        }
    }

    /// Runs the refresh of `ticket` on a thread of its own; on this one if no thread can
    /// be started, so that the ticket is always reported.
    fn refresh_in_background(self: &Arc<Self>, ticket: RefreshTicket) {
        let this = Arc::clone(self);
        // The refresh logs where the call that started it logs: its subscriber (a scoped
        // one included) and its span.
        let dispatch = tracing::dispatcher::get_default(tracing::Dispatch::clone);
        let span = tracing::Span::current();
        // The ticket goes to the thread through this slot, and comes back from it when the
        // thread cannot start.
        let slot = Arc::new(Mutex::new(Some(ticket)));
        let theirs = Arc::clone(&slot);
        let spawned = std::thread::Builder::new()
            .name("kms-credentials".into())
            .spawn(move || {
                if let Some(ticket) = lock(&theirs).take() {
                    tracing::dispatcher::with_default(&dispatch, || {
                        span.in_scope(|| this.refresh(ticket));
                    });
                }
            });
        if let Err(e) = spawned {
            warn!(error = %e, "could not start a thread to refresh credentials: refreshing on this one");
            let ticket = lock(&slot).take();
            if let Some(ticket) = ticket {
                self.refresh(ticket);
            }
        }
    }

    /// Runs one refresh and reports it.
    fn refresh(&self, ticket: RefreshTicket) {
        let started = Instant::now();
        let result = {
            let mut provider = lock(&self.provider);
            self.run(&mut provider)
        };
        debug!(
            ok = result.is_ok(),
            latency_ms = started.elapsed().as_millis() as u64,
            "credential refresh"
        );
        lock(&self.cache).on_refreshed(ticket, result, now());
        self.refreshed.notify_all();
    }

    fn run(&self, provider: &mut Provider) -> Result<Identity, CredentialError> {
        let mut refresh = provider.refresh(SystemTime::now());
        let mut need = refresh.start();
        loop {
            need = match need {
                Need::Done(result) => return result,
                Need::File(read) => refresh.on_file(read.read_blocking()),
                Need::Http(request) => {
                    let agent = if request.is_remote() {
                        &self.remote
                    } else {
                        &self.agent
                    };
                    let (request, timeout) = request.into_parts_within(self.attempt_timeout);
                    match send(agent, request, timeout) {
                        Ok((parts, body)) => {
                            refresh.on_response(parts.status, &parts.headers, &body)
                        }
                        Err(failure) => refresh.on_failure(failure),
                    }
                }
            }
        }
    }
}

/// Sends a credential request on `agent` within `timeout`, reading at most
/// [`MAX_SOURCE_BODY`] + 1 bytes of the body.
fn send(
    agent: &ureq::Agent,
    request: http::Request<Vec<u8>>,
    timeout: Duration,
) -> Result<(http::response::Parts, Vec<u8>), TransportFailure> {
    let request = agent
        .configure_request(request)
        .timeout_global(Some(timeout))
        .build();
    // An empty body is no body: ureq would otherwise send `Content-Length: 0` with a GET
    // (the core sets it itself where the official SDKs send it).
    let response = if request.body().is_empty() {
        agent.run(request.map(|_| ()))
    } else {
        agent.run(request)
    }
    .map_err(classify::request_error)?;
    let (parts, body) = response.into_parts();
    let mut bytes = Vec::new();
    body.into_reader()
        .take(MAX_SOURCE_BODY as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(classify::body_error)?;
    Ok((parts, bytes))
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere while holding the lock leaves the cache consistent (every change
    // is one assignment), so keep going.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn now() -> Now {
    crate::client::now()
}
