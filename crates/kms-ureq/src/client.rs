//! The client: one ureq agent (and its connection pool) shared by every call.

use std::io::Read;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use kms_proto::call::{
    Attempt, Call, Error, Now, Shared, Step, TransportErrorKind, TransportFailure,
};
use kms_proto::{ClientConfig, InstanceCount, PreparedRequests};
use tracing::{Level, debug, span, warn};

use crate::credentials::Credentials;
use crate::limit::{Acquired, Permits};
use crate::{classify, tls};

/// A blocking ShowUserInstances client.
///
/// Build it once and share it: it is `Clone + Send + Sync`, and clones share one ureq
/// agent, so one connection pool serves every call, thread and clone. It never holds more
/// than [`ClientConfig::max_connections`] connections open; attempts beyond that wait for
/// one (within their timeout).
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    agent: ureq::Agent,
    /// One per connection the client may hold (see `limit`).
    permits: Arc<Permits>,
    /// The credential cache and what refreshes it.
    credentials: Arc<Credentials>,
    /// What the calls share: the service clock's offset, the retry budget, which
    /// endpoints could not be reached.
    shared: Shared,
    /// The project found through IAM when the configuration names none; the lock makes
    /// one caller ask while the others wait.
    project: std::sync::Mutex<Option<Arc<PreparedRequests>>>,
    config: ClientConfig,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.inner.config)
            .finish()
    }
}

impl Client {
    /// Builds the client (its TLS configuration and connection pool) from `config`.
    ///
    /// # Errors
    /// [`Error::Config`] when the proxy URL cannot be given to ureq.
    pub fn new(config: ClientConfig) -> Result<Self, Error> {
        let tls = tls::config(config.trust());
        let proxy = match config.proxy() {
            None => None,
            Some(p) => {
                let mut builder = ureq::Proxy::builder(ureq::ProxyProtocol::Http)
                    .host(p.host())
                    .port(p.port());
                if let Some(user) = p.username() {
                    builder = builder.username(user);
                }
                if let Some(password) = p.password() {
                    builder = builder.password(password);
                }
                Some(builder.build().map_err(|_| {
                    kms_proto::InvalidInput::new(
                        kms_proto::Input::Proxy,
                        kms_proto::Problem::Malformed {
                            expected: "a proxy ureq accepts",
                        },
                    )
                })?)
            }
        };
        let agent = ureq::Agent::config_builder()
            // 4xx and 5xx are answers to parse, not errors that lose their body.
            .http_status_as_error(false)
            // Never follow a redirect: the 3xx itself is the answer (credentials stay here).
            .max_redirects(0)
            .max_redirects_will_error(false)
            // Only what is configured: no proxy from the environment.
            .proxy(proxy)
            .tls_config(tls.clone())
            // Every call's budget is the attempt timeout; `show_user_instances` sets a
            // shorter one on the request only when the overall deadline cuts an attempt
            // short, so the usual call does not copy the agent's configuration.
            .timeout_global(Some(config.attempt_timeout()))
            .timeout_resolve(Some(config.connect_timeout()))
            .timeout_connect(Some(config.connect_timeout()))
            // The core decides the head's limits (kms_proto::MAX_RESPONSE_HEAD); ureq's own
            // bound, as kms-hyper's, must not refuse less (its limit on header lines is
            // kms_proto::MAX_RESPONSE_HEADERS already).
            .max_response_header_size(2 * kms_proto::MAX_RESPONSE_HEAD)
            .max_idle_connections(config.max_connections())
            .max_idle_connections_per_host(config.max_connections())
            // The request carries its own User-Agent and signs it; ureq adds nothing.
            .user_agent(ureq::config::AutoHeaderValue::None)
            .accept("application/json")
            .accept_encoding(ureq::config::AutoHeaderValue::None)
            .build();
        // A timer that fires before the connection is made is a connect timeout.
        let agent = crate::connect::agent(agent);
        let credentials = Credentials::new(&config, tls, agent.clone());
        Ok(Client {
            inner: Arc::new(Inner {
                agent,
                permits: Permits::new(config.max_connections()),
                credentials,
                shared: Shared::new(&config),
                project: std::sync::Mutex::new(None),
                config,
            }),
        })
    }

    /// The configuration the client was built from.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// The project the client calls for: the configured one, or the one found through IAM
    /// (`None` until a call has found it).
    pub fn project(&self) -> Option<kms_proto::ProjectId> {
        match self.inner.config.request() {
            Some(request) => Some(request.project_id().clone()),
            None => self
                .inner
                .project
                .lock()
                .ok()
                .and_then(|p| p.as_ref().map(|p| p.project_id().clone())),
        }
    }

    /// The credentials in use (their source and expiry), once a call has needed them.
    pub fn identity(&self) -> Option<Arc<kms_proto::credentials::Identity>> {
        self.inner.credentials.current()
    }

    /// Queries the number of instances (customer master keys) of the configured project.
    ///
    /// Each attempt is signed with the credentials current at that attempt: from the
    /// cache at once while usable ones exist (a refresh due ahead of expiry runs on a
    /// thread of its own), else after the one refresh in flight.
    ///
    /// Each attempt is built and signed afresh; retries follow the configured
    /// [`RetryPolicy`](kms_proto::RetryPolicy) within the overall deadline.
    ///
    /// # Errors
    /// [`Error`]: the service's answer, or the transport failure, with the number of
    /// attempts made.
    pub fn show_user_instances(&self) -> Result<InstanceCount, Error> {
        let config = &self.inner.config;
        let call_span =
            span!(Level::INFO, "kms.show_user_instances", endpoint = %config.endpoints());
        let _entered = call_span.enter();
        // A project found by this call, kept here for the call's borrow.
        let discovered = std::sync::OnceLock::new();
        // With what earlier calls learnt: the clock's offset, the budget, the endpoints.
        let mut call = Call::new(config, now()).with_shared(&self.inner.shared);
        loop {
            let identity = match self.inner.credentials.for_attempt(&call) {
                Ok(identity) => identity,
                Err(error) => return Err(call.on_no_credentials(error)),
            };
            if call.needs_project() {
                let prepared = self.find_project(&mut call, &identity)?;
                call.use_project(discovered.get_or_init(|| prepared));
            }
            let attempt = call.start_attempt(now(), identity.credentials())?;
            let attempt_span = span!(
                Level::DEBUG,
                "kms.attempt",
                attempt = attempt.number(),
                host = attempt.request().uri().authority().map(|a| a.as_str())
            );
            let _attempt = attempt_span.enter();
            match self.attempt(&mut call, attempt) {
                Step::Done(result) => return result,
                Step::Retry(delay) => std::thread::sleep(delay),
            }
        }
    }

    /// One attempt: the exchange; the core decides.
    fn attempt(&self, call: &mut Call<'_>, attempt: Attempt) -> Step {
        let started = Instant::now();
        match self.exchange(attempt) {
            Err(failure) => {
                warn!(latency_ms = started.elapsed().as_millis() as u64, failure = ?failure.kind(), "attempt failed");
                call.on_failure(failure, now())
            }
            Ok((parts, bytes)) => {
                debug!(
                    status = parts.status.as_u16(),
                    request_id = parts
                        .headers
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok()),
                    latency_ms = started.elapsed().as_millis() as u64,
                    "answer"
                );
                call.on_response(parts.status, &parts.headers, &bytes, now())
            }
        }
    }

    /// The project of the configured region, found through IAM once for the client's life
    /// (calls that need it meanwhile wait for that one request), or why not.
    fn find_project(
        &self,
        call: &mut Call<'_>,
        identity: &kms_proto::credentials::Identity,
    ) -> Result<Arc<PreparedRequests>, Error> {
        let mut found = self
            .inner
            .project
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(prepared) = &*found {
            return Ok(Arc::clone(prepared));
        }
        let attempt = call.project_attempt(now(), identity.credentials())?;
        let prepared = match self.exchange(attempt) {
            Ok((parts, body)) => call.on_project_response(parts.status, &parts.headers, &body)?,
            Err(failure) => return Err(call.on_project_failure(failure)),
        };
        let prepared = Arc::new(prepared);
        *found = Some(Arc::clone(&prepared));
        Ok(prepared)
    }

    /// Sends `attempt` within its timeout (a connection permit first) and reads at most
    /// the body limit plus one byte.
    fn exchange(
        &self,
        attempt: Attempt,
    ) -> Result<(http::response::Parts, Vec<u8>), TransportFailure> {
        let config = &self.inner.config;
        let (request, mut timeout) = attempt.into_parts();
        let Some((permit, acquired)) = self.inner.permits.acquire(timeout) else {
            warn!(
                timeout_ms = timeout.as_millis() as u64,
                "no connection became free within the attempt timeout"
            );
            // The source says why, so that `-vv` and `source()` tell this wait apart from a
            // slow server: the fix is more connections or a longer timeout.
            return Err(
                TransportFailure::new(TransportErrorKind::Timeout, false).with_source(
                    std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!(
                            "all {} connections of the client (max_connections) stayed busy for the \
                             whole attempt timeout; raise max_connections or the timeout",
                            config.max_connections()
                        ),
                    ),
                ),
            );
        };
        if let Acquired::After(waited) = acquired {
            timeout = timeout.saturating_sub(waited);
        }
        let request = request.map(|_| ());
        let request = if timeout < config.attempt_timeout() {
            self.inner
                .agent
                .configure_request(request)
                .timeout_global(Some(timeout))
                .build()
        } else {
            request
        };
        let result = match self.inner.agent.run(request) {
            Err(e) => Err(classify::request_error(e)),
            Ok(response) => {
                let (parts, body) = response.into_parts();
                let limit = config.max_response_body() as u64 + 1;
                let mut bytes = Vec::new();
                match body.into_reader().take(limit).read_to_end(&mut bytes) {
                    Err(e) => {
                        warn!(status = parts.status.as_u16(), "reading the body failed");
                        Err(classify::body_error(e))
                    }
                    Ok(_) => Ok((parts, bytes)),
                }
            }
        };
        // Only now: the connection is back in the pool (or closed) before the permit lets
        // another attempt look for one.
        drop(permit);
        result
    }
}

/// "Now" for the core, made here only: the clocks and a jitter draw for retry backoff.
pub(crate) fn now() -> Now {
    Now::new(SystemTime::now(), Instant::now(), fastrand::f64())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::error::Error as _;
    use std::time::Duration;

    use kms_mock::{BlockingMockServer, MockConfig};
    use kms_proto::call::ErrorKind;
    use kms_proto::{AuthToken, Endpoint, ProjectId, RetryPolicy};

    use super::*;

    #[test]
    fn a_call_with_no_free_connection_times_out_unsent_and_says_why() {
        const PROJECT: &str = "0dea2644dc80d5d22ff1c01e3ebea6fc";
        let server = BlockingMockServer::start(
            MockConfig::new()
                .with_project(PROJECT, 15)
                .with_token("tok", PROJECT),
        )
        .unwrap();
        let config = ClientConfig::new(
            Endpoint::parse(&server.url()).unwrap(),
            ProjectId::new(PROJECT).unwrap(),
            AuthToken::new("tok").unwrap().into(),
        )
        .with_max_connections(1)
        .with_retry(RetryPolicy::never())
        .with_attempt_timeout(Duration::from_millis(200));
        let client = Client::new(config).unwrap();
        // Another call holds the only connection for the whole attempt.
        let (held, _) = client.inner.permits.acquire(Duration::ZERO).unwrap();
        let err = client.show_user_instances().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
        assert!(!err.may_have_been_sent(), "{err}");
        let why = err.source().map(ToString::to_string).unwrap_or_default();
        assert!(why.contains("max_connections"), "{why}");
        assert_eq!(server.requests().len(), 0);
        drop(held);
        assert_eq!(client.show_user_instances().unwrap().count(), 15);
    }
}
