//! Name resolution bounded by the connect timeout.
//!
//! hyper-util's `HttpConnector` applies its connect timeout to each TCP connect, not to the
//! name lookup before it: a resolver that never answers (a dead name server in
//! `resolv.conf`) would hold the attempt until its own timeout, reported as a timeout after
//! which the request "may have been sent", and a client with several endpoints would not
//! move on. Here the lookup gets the connect timeout too, and failing it is a failed
//! lookup: a `connect` failure, nothing sent, as kms-ureq reports it (ureq bounds lookups
//! with the same timeout).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::client::legacy::connect::dns::{GaiResolver, Name};
use tower_service::Service;

/// A resolver (`GaiResolver` by default) whose every lookup ends within `timeout`.
#[derive(Clone)]
pub(crate) struct TimedResolver<R = GaiResolver> {
    inner: R,
    timeout: Duration,
}

impl TimedResolver {
    pub(crate) fn new(timeout: Duration) -> Self {
        TimedResolver {
            inner: GaiResolver::new(),
            timeout,
        }
    }
}

impl<R> Service<Name> for TimedResolver<R>
where
    R: Service<Name, Error = io::Error>,
    R::Future: Send + 'static,
    R::Response: 'static,
{
    type Response = R::Response;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<R::Response>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let timeout = self.timeout;
        let lookup = self.inner.call(name);
        Box::pin(async move {
            match tokio::time::timeout(timeout, lookup).await {
                Ok(answer) => answer,
                Err(_elapsed) => Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "the host name was not resolved within the connect timeout ({} ms)",
                        timeout.as_millis()
                    ),
                )),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::net::SocketAddr;
    use std::str::FromStr;

    use super::*;

    /// A name server that never answers.
    #[derive(Clone)]
    struct Silent;

    impl Service<Name> for Silent {
        type Response = std::vec::IntoIter<SocketAddr>;
        type Error = io::Error;
        type Future = std::future::Pending<io::Result<Self::Response>>;
        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn call(&mut self, _: Name) -> Self::Future {
            std::future::pending()
        }
    }

    /// Through the whole client: a lookup that never ends is a `connect` failure within the
    /// connect timeout, nothing sent, so a client with several endpoints moves on.
    #[tokio::test]
    async fn a_lookup_that_never_ends_is_a_connect_failure_within_the_connect_timeout() {
        let resolver = TimedResolver {
            inner: Silent,
            timeout: Duration::from_millis(50),
        };
        let mut http =
            hyper_util::client::legacy::connect::HttpConnector::new_with_resolver(resolver);
        http.enforce_http(false);
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build::<_, http_body_util::Empty<bytes::Bytes>>(http);
        let uri = http::Uri::from_str("http://kms.unanswered.example/").unwrap();
        let started = std::time::Instant::now();
        let error = tokio::time::timeout(Duration::from_secs(5), client.get(uri))
            .await
            .expect("the lookup is bounded")
            .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(2));
        let failure = crate::classify::request_error(error);
        assert_eq!(
            (failure.kind(), failure.may_have_been_sent()),
            (kms_proto::call::TransportErrorKind::Connect, false)
        );
    }
}
