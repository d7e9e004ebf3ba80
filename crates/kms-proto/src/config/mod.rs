//! What every transport is configured with, in one place, so both read it the same way:
//! [`ClientConfig`], the one builder, and what it holds that is not the call's own
//! (trusted roots, a proxy).

use std::time::Duration;

use crate::credentials::{Credentials, Provider, RefreshPolicy};
use crate::retry::RetryPolicy;
use crate::{
    Endpoint, Endpoints, FailoverPolicy, MAX_RESPONSE_BODY, PreparedRequests, ProjectId, Region,
    ShowUserInstances, UserAgent,
};

mod proxy;
mod trust;

pub use proxy::ProxyUrl;
pub use trust::{CaBundle, TrustRoots};

/// Everything a transport client is built from. Both transports take this same value, so
/// they are configured, and behave, the same way.
///
/// | setting | default |
/// |---|---|
/// | connect timeout (TCP, TLS and proxy handshake) | 5 s |
/// | attempt timeout (from sending to the last body byte) | 10 s |
/// | overall deadline across attempts and retry delays | 30 s |
/// | retry policy | [`RetryPolicy::default`] (4 attempts, 0.5 s to 10 s backoff) |
/// | largest response body | [`MAX_RESPONSE_BODY`](crate::MAX_RESPONSE_BODY), 64 KiB |
/// | `User-Agent` | `kms-rs/<version>` |
/// | trusted roots | [`TrustRoots::WebPki`] |
/// | proxy | none (proxy variables of the environment are never read) |
/// | connections per client (requests in flight) | 32 |
/// | retry budget shared by the client's calls | [`BudgetPolicy::default`](crate::BudgetPolicy::default) (500 tokens) |
/// | endpoints | the one or several given to [`new`](Self::new), tried in that order |
/// | an endpoint that could not be reached is passed over for | [`FailoverPolicy::default`] (30 s) |
/// | credentials | the static ones given to [`new`](Self::new) |
/// | credential refresh | [`RefreshPolicy::default`] (40 min ahead, single flight) |
///
/// It is also what the [`Call`](crate::call::Call) state machine reads: the one builder of
/// everything a call and a transport need.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// The call, for a known project; `None` until a project is discovered.
    request: Option<ShowUserInstances>,
    /// Where to find the project when none was given: the region and IAM.
    discovery: Option<(Region, Endpoint)>,
    user_agent: UserAgent,
    endpoints: Endpoints,
    failover: FailoverPolicy,
    /// The request prepared for each endpoint once, so each attempt only adds the date,
    /// the signature and the credentials' headers.
    prepared: Option<PreparedRequests>,
    credentials: Provider,
    refresh: RefreshPolicy,
    retry: RetryPolicy,
    retry_budget: Option<crate::BudgetPolicy>,
    attempt_timeout: Duration,
    deadline: Duration,
    max_response_body: usize,
    connect_timeout: Duration,
    trust: TrustRoots,
    proxy: Option<ProxyUrl>,
    max_connections: usize,
    max_clock_skew: Duration,
}

/// How far this machine's clock may be from the KMS gateway's for a client to correct it
/// (default of [`ClientConfig::with_max_clock_skew`]): one day.
///
/// The gateway accepts a signature within 15 minutes of its clock and says how far off one
/// was; a client re-signs with the gateway's time once per call. A day covers every clock
/// set in the wrong time zone (up to 14 hours) and a machine that drifted for months,
/// while an answer claiming years (a clock reset to 1970 by a dead battery, a broken or
/// hostile server) is not taken on its word: such a call fails and says how far off the
/// clock is, since signing years away from this machine's time would hide a fault that
/// someone must fix.
pub const DEFAULT_MAX_CLOCK_SKEW: Duration = Duration::from_secs(24 * 3600);

/// Prepares `request` for each of `endpoints`. Both were validated when they were made, so
/// the URIs and header values they form are always valid.
#[allow(
    clippy::expect_used,
    reason = "a validated endpoint and project id always form a valid URI and header values"
)]
fn prepare(request: &ShowUserInstances, endpoints: &Endpoints) -> PreparedRequests {
    request
        .prepare_each(endpoints)
        .expect("a validated endpoint and project id always form a valid URI and header values")
}

impl ClientConfig {
    /// A configuration with the defaults and static `credentials` (see
    /// [`with_credential_provider`](Self::with_credential_provider) for credentials from a
    /// source that refreshes them), for one [`Endpoint`] or several ([`Endpoints`], tried
    /// in order: see [`EndpointHealth`](crate::EndpointHealth)).
    pub fn new(
        endpoints: impl Into<Endpoints>,
        project_id: ProjectId,
        credentials: Credentials,
    ) -> Self {
        Self::from_provider(endpoints, project_id, Provider::fixed(credentials))
    }

    /// A configuration with the defaults whose credentials come from `provider` (one
    /// source, or [`Provider::default_chain`]): a client refreshes them ahead of expiry,
    /// one refresh at a time, as [`CredentialCache`](crate::credentials::CredentialCache)
    /// decides.
    pub fn from_provider(
        endpoints: impl Into<Endpoints>,
        project_id: ProjectId,
        provider: Provider,
    ) -> Self {
        Self::with_parts(endpoints.into(), Some(project_id), None, provider)
    }

    fn with_parts(
        endpoints: Endpoints,
        project_id: Option<ProjectId>,
        discovery: Option<(Region, Endpoint)>,
        provider: Provider,
    ) -> Self {
        let provider = provider.or_context(discovery.as_ref().map(|(r, _)| r), project_id.as_ref());
        let request = project_id.map(ShowUserInstances::new);
        ClientConfig {
            prepared: request.as_ref().map(|r| prepare(r, &endpoints)),
            request,
            discovery,
            user_agent: UserAgent::default(),
            endpoints,
            failover: FailoverPolicy::default(),
            credentials: provider,
            refresh: RefreshPolicy::default(),
            retry: RetryPolicy::default(),
            retry_budget: Some(crate::BudgetPolicy::default()),
            attempt_timeout: Duration::from_secs(10),
            deadline: Duration::from_secs(30),
            max_response_body: MAX_RESPONSE_BODY,
            connect_timeout: Duration::from_secs(5),
            trust: TrustRoots::default(),
            proxy: None,
            max_connections: 32,
            max_clock_skew: DEFAULT_MAX_CLOCK_SKEW,
        }
    }

    /// A configuration with the defaults for a client that finds its project itself: the
    /// one IAM (`iam`, see [`iam::iam_endpoint`](crate::iam::iam_endpoint)) lists under the
    /// name of `region`, asked once with the client's credentials before its first call
    /// and kept for the client's life, as the official SDKs do when no project id is
    /// given.
    ///
    /// A failed request is remembered: the calls until IAM is asked again end at once with
    /// its error (kind `project`, [`remembered`](crate::operation::projects::DiscoveryError::remembered)
    /// set), after 1 s doubling with each failure in a row, times 0.5 to 1 at random, at
    /// most 5 s after no answer, a 5xx or a 429 and at most 60 s after any other answer
    /// (see [`Remembered`](crate::operation::projects::Remembered)).
    pub fn discover_project(
        endpoints: impl Into<Endpoints>,
        region: Region,
        iam: Endpoint,
        provider: Provider,
    ) -> Self {
        Self::with_parts(endpoints.into(), None, Some((region, iam)), provider)
    }

    /// Takes credentials from `provider` (one source, or
    /// [`Provider::default_chain`]) instead of the static ones: a client then refreshes
    /// them ahead of expiry, one refresh at a time, as [`CredentialCache`](crate::credentials::CredentialCache)
    /// decides.
    pub fn with_credential_provider(mut self, provider: Provider) -> Self {
        self.credentials = provider.or_context(
            self.discovery.as_ref().map(|(r, _)| r),
            self.request.as_ref().map(ShowUserInstances::project_id),
        );
        self
    }

    /// Signs with `algorithm` whatever AK/SK the provider gives (static ones, and temporary
    /// ones from every source): see [`Provider::with_signing_algorithm`]. Default: what
    /// the provider says, else `SDK-HMAC-SHA256`.
    pub fn with_signing_algorithm(mut self, algorithm: crate::sign::SigningAlgorithm) -> Self {
        self.credentials = self.credentials.with_signing_algorithm(algorithm);
        self
    }

    /// Replaces when credentials are refreshed (default [`RefreshPolicy::default`]).
    pub fn with_refresh_policy(mut self, policy: RefreshPolicy) -> Self {
        self.refresh = policy;
        self
    }

    /// Sets the connect timeout (TCP connect, TLS handshake and proxy `CONNECT`).
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets the timeout of each attempt, from sending to the last byte of the body.
    pub fn with_attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = timeout;
        self
    }

    /// Sets the overall deadline of a call, across attempts and retry delays.
    pub fn with_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// Sets how far this machine's clock may be from the gateway's and still be corrected
    /// by re-signing with the gateway's time (default [`DEFAULT_MAX_CLOCK_SKEW`], one day;
    /// zero: never correct). A "signature expired" answer further off ends the call with
    /// the gateway's error, saying how far off the clock is.
    pub fn with_max_clock_skew(mut self, max: Duration) -> Self {
        self.max_clock_skew = max;
        self
    }

    /// Sets the retry budget shared by the client's calls (`None` turns it off). Default:
    /// [`BudgetPolicy::default`](crate::BudgetPolicy::default), 500 tokens, 5 a retry, 10
    /// after a timeout.
    pub fn with_retry_budget(mut self, budget: Option<crate::BudgetPolicy>) -> Self {
        self.retry_budget = budget;
        self
    }

    /// The retry budget's settings, if it is on.
    pub fn retry_budget(&self) -> Option<crate::BudgetPolicy> {
        self.retry_budget
    }

    /// Replaces the retry policy ([`RetryPolicy::never`] disables retries).
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Sets the largest response body accepted; values above
    /// [`MAX_RESPONSE_BODY`](crate::MAX_RESPONSE_BODY) are lowered to it.
    pub fn with_max_response_body(mut self, limit: usize) -> Self {
        self.max_response_body = limit.min(MAX_RESPONSE_BODY);
        self
    }

    /// Replaces the `User-Agent` (see [`UserAgent::with_suffix`] to append your own text).
    pub fn with_user_agent(mut self, user_agent: UserAgent) -> Self {
        self.request = self
            .request
            .take()
            .map(|r| r.with_user_agent(user_agent.clone()));
        self.prepared = self.request.as_ref().map(|r| prepare(r, &self.endpoints));
        self.user_agent = user_agent;
        self
    }

    /// Sets the certificates trusted for HTTPS.
    pub fn with_trust(mut self, trust: TrustRoots) -> Self {
        self.trust = trust;
        self
    }

    /// Sends every request through this HTTP proxy.
    pub fn with_proxy(mut self, proxy: ProxyUrl) -> Self {
        self.proxy = Some(proxy);
        self
    }

    /// Sets how many connections a client may hold to the endpoint (and so how many of
    /// its requests may be in flight at once). 0 is taken as 1.
    pub fn with_max_connections(mut self, max: usize) -> Self {
        self.max_connections = max.max(1);
        self
    }

    /// The `User-Agent` every request carries (default: [`UserAgent::default`]).
    pub fn user_agent(&self) -> &UserAgent {
        &self.user_agent
    }

    /// How many connections a client may hold.
    pub fn max_connections(&self) -> usize {
        self.max_connections
    }

    /// The request every attempt builds, when the project is known (`None` until a
    /// transport discovers it: see [`discover_project`](Self::discover_project)).
    pub fn request(&self) -> Option<&ShowUserInstances> {
        self.request.as_ref()
    }

    /// The request prepared for each endpoint, when the project is known.
    pub(crate) fn prepared(&self) -> Option<&PreparedRequests> {
        self.prepared.as_ref()
    }

    /// The region and IAM endpoint to find the project with, when none was given.
    pub fn discovery(&self) -> Option<(&Region, &Endpoint)> {
        self.discovery.as_ref().map(|(r, e)| (r, e))
    }

    /// The call prepared for `project` (a project a transport discovered), with this
    /// configuration's endpoints and `User-Agent`.
    pub fn prepare_project(&self, project: ProjectId) -> PreparedRequests {
        let request = ShowUserInstances::new(project).with_user_agent(self.user_agent.clone());
        prepare(&request, &self.endpoints)
    }

    /// Where requests go first: the first of [`endpoints`](Self::endpoints).
    pub fn endpoint(&self) -> &Endpoint {
        self.endpoints.first()
    }

    /// Where requests go, in order of preference.
    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    /// Sets how long an endpoint that could not be reached is passed over when there are
    /// several (default [`FailoverPolicy::default`], 30 s).
    pub fn with_failover(mut self, policy: FailoverPolicy) -> Self {
        self.failover = policy;
        self
    }

    /// How endpoints that could not be reached are passed over.
    pub fn failover(&self) -> FailoverPolicy {
        self.failover
    }

    /// Where the credentials come from.
    pub fn credential_provider(&self) -> &Provider {
        &self.credentials
    }

    /// When credentials are refreshed.
    pub fn refresh_policy(&self) -> &RefreshPolicy {
        &self.refresh
    }

    /// The retry policy.
    pub fn retry(&self) -> &RetryPolicy {
        &self.retry
    }

    /// The timeout of each attempt.
    pub fn attempt_timeout(&self) -> Duration {
        self.attempt_timeout
    }

    /// The overall deadline of a call.
    pub fn deadline(&self) -> Duration {
        self.deadline
    }

    /// How far off this machine's clock may be and still be corrected.
    pub fn max_clock_skew(&self) -> Duration {
        self.max_clock_skew
    }

    /// The largest body accepted: read at most this plus one byte.
    pub fn max_response_body(&self) -> usize {
        self.max_response_body
    }

    /// The connect timeout.
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// The trusted roots.
    pub fn trust(&self) -> &TrustRoots {
        &self.trust
    }

    /// The proxy, if any.
    pub fn proxy(&self) -> Option<&ProxyUrl> {
        self.proxy.as_ref()
    }
}
