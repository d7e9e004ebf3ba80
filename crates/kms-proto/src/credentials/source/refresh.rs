//! One refresh of a provider: the machine that walks the sources (the chain's, or the one
//! chosen), asks for each file and exchange, and gathers why each source gave nothing.

use super::*;
use crate::response::RetryAfter;

/// Where one refresh is.
pub(crate) enum State {
    Idle,
    #[cfg(feature = "sources")]
    Files(files::Step),
    #[cfg(feature = "sources")]
    PodIdentity(pod_identity::Step),
    #[cfg(feature = "sources")]
    Metadata(metadata::Step),
    #[cfg(feature = "sources")]
    /// IAM federation, from the environment or a profile (the source's own copy).
    Federation(Box<Federation>, federation::Step),
    #[cfg(feature = "sources")]
    Sts(sts::Step),
    #[cfg(feature = "sources")]
    Password(password::Step),
}

/// The provider a refresh walks: the caller's (borrowed for the refresh), or its own (a
/// refresh that runs apart from its caller: [`Provider::into_refresh`]).
pub(crate) enum Held<'a> {
    Borrowed(&'a mut Provider),
    Owned(Box<Provider>),
}

impl std::ops::Deref for Held<'_> {
    type Target = Provider;
    fn deref(&self) -> &Provider {
        match self {
            Held::Borrowed(provider) => provider,
            Held::Owned(provider) => provider,
        }
    }
}

impl std::ops::DerefMut for Held<'_> {
    fn deref_mut(&mut self) -> &mut Provider {
        match self {
            Held::Borrowed(provider) => provider,
            Held::Owned(provider) => provider,
        }
    }
}

/// One refresh in progress. See the [`Provider`] docs.
pub struct Refresh<'a> {
    provider: Held<'a>,
    /// When the refresh started: what the sources that expire judge against.
    #[cfg_attr(
        not(feature = "sources"),
        allow(dead_code, reason = "only the sources behind the feature expire")
    )]
    now: SystemTime,
    index: usize,
    end: usize,
    errors: Vec<SourceError>,
    state: State,
    /// The `Date` of the last answer: the clock of the service that issued what it carried.
    service_date: Option<SystemTime>,
    /// The `Retry-After` of the last answer: how long a source that answered with an error
    /// asked the client to wait.
    retry_after: Option<RetryAfter>,
}

impl std::fmt::Debug for Refresh<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Refresh")
            .field("source", &self.index)
            .field("failed", &self.errors.len())
            .finish()
    }
}

impl<'a> Refresh<'a> {
    pub(crate) fn new(provider: Held<'a>, now: SystemTime, first: usize, end: usize) -> Self {
        Refresh {
            provider,
            now,
            index: first,
            end,
            errors: Vec::new(),
            state: State::Idle,
            service_date: None,
            retry_after: None,
        }
    }

    /// The provider, with what this refresh taught it (which source answered, a session
    /// token), when the refresh owns it ([`Provider::into_refresh`]).
    pub fn into_provider(self) -> Option<Provider> {
        match self.provider {
            Held::Owned(provider) => Some(*provider),
            Held::Borrowed(_) => None,
        }
    }

    /// What the refresh needs first.
    pub fn start(&mut self) -> Need {
        let next = self.start_source();
        self.advance(next)
    }

    /// The file asked for was read (the bytes), or could not be.
    pub fn on_file(&mut self, result: Result<Vec<u8>, FileProblem>) -> Need {
        // Without the `sources` feature no source asks for a file.
        #[cfg(not(feature = "sources"))]
        let _ = result;
        self.service_date = None;
        self.retry_after = None;
        let next = match (&mut self.state, self.provider.sources.get_mut(self.index)) {
            #[cfg(feature = "sources")]
            (State::Files(step), Some(Source::Files(source))) => {
                match source.on_file(step, result) {
                    files::FileOutcome::Next(next) => next,
                    files::FileOutcome::Federate(federation) => {
                        let (step, next) = federation.start(self.provider.region());
                        if let Some(step) = step {
                            self.state = State::Federation(Box::new(federation), step);
                        }
                        next
                    }
                }
            }
            #[cfg(feature = "sources")]
            (State::PodIdentity(step), Some(Source::PodIdentity(source))) => {
                source.on_file(step, result)
            }
            #[cfg(feature = "sources")]
            (State::Federation(federation, step), _) => federation.on_file(step, result),
            #[cfg(feature = "sources")]
            (State::Sts(step), Some(Source::Sts(source))) => source.on_file(step, result),
            #[cfg(feature = "sources")]
            (State::Password(step), Some(Source::Password(source))) => source.on_file(step, result),
            _ => Next::Finished(Err(unexpected())),
        };
        self.advance(next)
    }

    /// The request sent got this answer (the body cut to [`MAX_SOURCE_BODY`] + 1 bytes).
    ///
    /// The answer's `Date` header, when it has one, goes with the credentials it carried
    /// ([`Identity::service_date`]): their expiry is judged against the clock of the service
    /// that set it.
    pub fn on_response(&mut self, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Need {
        // Without the `sources` feature no source sends a request.
        #[cfg(not(feature = "sources"))]
        let _ = (status, body);
        #[cfg(feature = "sources")]
        let now = self.now;
        self.service_date = headers
            .get(http::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| httpdate::parse_http_date(v).ok());
        self.retry_after = RetryAfter::from_headers(headers);
        let next = match (&mut self.state, self.provider.sources.get_mut(self.index)) {
            #[cfg(feature = "sources")]
            (State::PodIdentity(step), Some(Source::PodIdentity(source))) => {
                source.on_response(step, status, body)
            }
            #[cfg(feature = "sources")]
            (State::Metadata(step), Some(Source::Metadata(source))) => {
                source.on_response(step, status, body, now)
            }
            #[cfg(feature = "sources")]
            (State::Federation(federation, step), _) => {
                federation.on_response(step, status, headers, body)
            }
            #[cfg(feature = "sources")]
            (State::Sts(step), Some(Source::Sts(source))) => {
                source.on_response(step, status, headers, body)
            }
            #[cfg(feature = "sources")]
            (State::Password(step), Some(Source::Password(source))) => {
                source.on_response(step, status, headers, body)
            }
            _ => Next::Finished(Err(unexpected())),
        };
        self.advance(next)
    }

    /// The request sent got no answer.
    pub fn on_failure(&mut self, failure: TransportFailure) -> Need {
        let url = match (&self.state, self.provider.sources.get(self.index)) {
            #[cfg(feature = "sources")]
            (State::PodIdentity(step), Some(Source::PodIdentity(source))) => Some(source.url(step)),
            #[cfg(feature = "sources")]
            (State::Metadata(step), Some(Source::Metadata(source))) => Some(source.url(step)),
            #[cfg(feature = "sources")]
            (State::Federation(federation, step), _) => Some(federation.url(step)),
            #[cfg(feature = "sources")]
            (State::Sts(_), Some(Source::Sts(source))) => Some(source.url()),
            #[cfg(feature = "sources")]
            (State::Password(step), Some(Source::Password(source))) => Some(source.url(step)),
            _ => None,
        };
        let next = match url {
            Some(url) => Next::Finished(Err(no_answer(url, failure))),
            None => Next::Finished(Err(unexpected())),
        };
        self.advance(next)
    }

    fn source_mut(&mut self) -> Option<&mut Source> {
        self.provider.sources.get_mut(self.index)
    }

    fn kind(&self) -> SourceKind {
        match self.provider.sources.get(self.index) {
            Some(Source::Fixed(identity)) => identity.source(),
            Some(Source::Unusable(kind, _)) => *kind,
            #[cfg(feature = "sources")]
            Some(Source::Files(files)) => files.kind(),
            #[cfg(feature = "sources")]
            Some(Source::PodIdentity(_)) => SourceKind::PodIdentity,
            #[cfg(feature = "sources")]
            Some(Source::Metadata(_)) => SourceKind::Metadata,
            #[cfg(feature = "sources")]
            Some(Source::Federation(kind, _)) => *kind,
            #[cfg(feature = "sources")]
            Some(Source::Sts(_)) => SourceKind::OidcSts,
            #[cfg(feature = "sources")]
            Some(Source::Password(_)) => SourceKind::IamPassword,
            None => SourceKind::Static,
        }
    }

    /// Starts the source at `self.index`.
    fn start_source(&mut self) -> Next {
        self.service_date = None;
        self.retry_after = None;
        #[cfg(feature = "sources")]
        let (now, region, project) = (
            self.now,
            self.provider.region().cloned(),
            self.provider.project().cloned(),
        );
        let (state, next) = match self.source_mut() {
            None => return Next::Finished(Err(unexpected())),
            Some(Source::Fixed(identity)) => (State::Idle, Next::Finished(Ok(identity.clone()))),
            Some(Source::Unusable(_, why)) => {
                (State::Idle, Next::Finished(Err(why.clone().into())))
            }
            #[cfg(feature = "sources")]
            Some(Source::Files(source)) => {
                let (step, next) = source.start();
                #[cfg(feature = "sources")]
                (State::Files(step), next)
            }
            #[cfg(feature = "sources")]
            Some(Source::PodIdentity(source)) => {
                let (step, next) = source.start();
                #[cfg(feature = "sources")]
                (State::PodIdentity(step), next)
            }
            #[cfg(feature = "sources")]
            Some(Source::Metadata(source)) => {
                let (step, next) = source.start(now);
                #[cfg(feature = "sources")]
                (State::Metadata(step), next)
            }
            #[cfg(feature = "sources")]
            Some(Source::Federation(_, source)) => match source.start(region.as_ref()) {
                (Some(step), next) => (State::Federation(Box::new(source.clone()), step), next),
                (None, next) => (State::Idle, next),
            },
            #[cfg(feature = "sources")]
            Some(Source::Sts(source)) => {
                let (step, next) = source.start();
                #[cfg(feature = "sources")]
                (State::Sts(step), next)
            }
            #[cfg(feature = "sources")]
            Some(Source::Password(source)) => {
                match source.start(region.as_ref(), project.as_ref()) {
                    (Some(step), next) => (State::Password(step), next),
                    (None, next) => (State::Idle, next),
                }
            }
        };
        self.state = state;
        next
    }

    /// AK/SK as the provider's algorithm says (a token, or no algorithm set: as they are).
    fn with_algorithm(&self, identity: Identity) -> Result<Identity, Failure> {
        let Some(algorithm) = self.provider.signing_algorithm() else {
            return Ok(identity);
        };
        match identity.credentials() {
            Credentials::AkSk(aksk) if aksk.algorithm() != algorithm => {
                let aksk = aksk
                    .clone()
                    .with_algorithm(algorithm)
                    .map_err(Failure::Invalid)?;
                Ok(Identity::new(
                    Credentials::AkSk(aksk),
                    identity.expires_at(),
                    identity.source(),
                ))
            }
            Credentials::AkSk(_) | Credentials::Token(_) => Ok(identity),
        }
    }

    /// Turns a source's step into what the transport does next, moving along the chain
    /// when a source gives nothing.
    fn advance(&mut self, mut next: Next) -> Need {
        loop {
            match next {
                Next::File(read) => return Need::File(read),
                Next::Http(request) => return Need::Http(request),
                Next::Finished(Ok(identity)) => match self.with_algorithm(identity) {
                    Ok(identity) => {
                        let identity = match self.service_date.take() {
                            Some(date) if identity.expires_at().is_some() => {
                                identity.with_service_date(date)
                            }
                            Some(_) | None => identity,
                        };
                        self.provider.chosen = Some(self.index);
                        self.state = State::Idle;
                        return Need::Done(Ok(identity));
                    }
                    Err(failure) => next = Next::Finished(Err(failure)),
                },
                Next::Finished(Err(failure)) => {
                    let kind = self.kind();
                    let retry_after = self.retry_after.take();
                    // A source its settings name but this build lacks stops the chain: a
                    // later one (the environment's keys after OIDC, say) is not what was
                    // asked for.
                    if matches!(failure, Failure::NotBuilt { named: true, .. }) {
                        self.state = State::Idle;
                        self.errors.clear();
                        return Need::Done(Err(CredentialError::from_source(SourceError::new(
                            kind, failure,
                        ))));
                    }
                    self.errors
                        .push(SourceError::new(kind, failure).with_retry_after(retry_after));
                    self.index += 1;
                    if self.index >= self.end {
                        self.state = State::Idle;
                        let errors = std::mem::take(&mut self.errors);
                        let error = if self.provider.chain && self.provider.chosen.is_none() {
                            CredentialError::chain(errors)
                        } else {
                            match errors.into_iter().next_back() {
                                Some(e) => CredentialError::from_source(e),
                                None => CredentialError::chain(Vec::new()),
                            }
                        };
                        return Need::Done(Err(error));
                    }
                    next = self.start_source();
                }
            }
        }
    }
}

/// The transport reported an event the refresh did not ask for.
pub(crate) fn unexpected() -> Failure {
    Failure::Internal("the transport reported an event the source did not ask for".to_owned())
}

/// The failure of a request that got no answer: unreachable when nothing was sent.
pub(crate) fn no_answer(url: String, failure: TransportFailure) -> Failure {
    let unreachable = !failure.may_have_been_sent()
        || matches!(
            failure.kind(),
            TransportErrorKind::Connect | TransportErrorKind::Tls | TransportErrorKind::ProxyAuth
        );
    if unreachable {
        Failure::Unreachable { url, failure }
    } else {
        Failure::NoAnswer { url, failure }
    }
}
