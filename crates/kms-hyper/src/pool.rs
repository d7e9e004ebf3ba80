//! The connection pools of a client: hyper-util's pooled client for KMS, IAM and STS (the
//! configured proxy, roots and timeouts, never more than a given number of connections),
//! and one for the services on the instance or node (never proxied).

use bytes::Bytes;
use http_body_util::Full;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client as LegacyClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use kms_proto::credentials::SOURCE_CONNECT_TIMEOUT;
use kms_proto::{ClientConfig, Input, InvalidInput, Problem};

use crate::connect::{Marked, Timed};
use crate::limit::{self, LimitedConnector};
use crate::resolve::TimedResolver;

/// Every request's body: the core's bytes (empty for a GET).
pub(crate) type Body = Full<Bytes>;

type Tcp = LimitedConnector<Marked<HttpConnector<TimedResolver>>>;

/// The two shapes of pooled client: direct, or through a `CONNECT` proxy; either way the
/// whole connect, TLS included, within the connect timeout (see `connect`).
pub(crate) enum Pool {
    Direct(LegacyClient<Timed<HttpsConnector<Tcp>>, Body>),
    Proxied(LegacyClient<Timed<HttpsConnector<Tunnel<Tcp>>>, Body>),
}

impl Pool {
    /// A pool holding at most `connections` connections, configured as `config` says
    /// (connect timeout, proxy, trusted roots, limits of a response head).
    pub(crate) fn new(
        config: &ClientConfig,
        tls: rustls::ClientConfig,
        connections: usize,
    ) -> Result<Self, InvalidInput> {
        // Name lookups are bounded by the connect timeout too (see `resolve`).
        let mut http =
            HttpConnector::new_with_resolver(TimedResolver::new(config.connect_timeout()));
        // The URI scheme is https; the TLS layer above handles it.
        http.enforce_http(false);
        http.set_connect_timeout(Some(config.connect_timeout()));
        http.set_nodelay(true);
        // Its connect begins once it has a connection permit: marked for `Timed` below.
        let http = LimitedConnector::new(Marked(http), connections);
        let builder = LegacyClient::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_max_idle_per_host(connections)
            .timer(TokioTimer::new())
            // The core decides the head's limits (kms_proto::MAX_RESPONSE_HEAD); hyper's
            // read buffer, its only bound on a head, must not refuse less: a head over it
            // may still be read whole when it arrives in one read, up to twice as much.
            .http1_max_buf_size(2 * kms_proto::MAX_RESPONSE_HEAD)
            .http1_max_headers(kms_proto::MAX_RESPONSE_HEADERS)
            .clone();
        let https = HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1();
        // The connect timeout covers the lookup, TCP, the proxy's tunnel and TLS together.
        let connect_timeout = config.connect_timeout();
        Ok(match config.proxy() {
            None => {
                Pool::Direct(builder.build(Timed::new(https.wrap_connector(http), connect_timeout)))
            }
            Some(proxy) => {
                let proxy_uri =
                    http::Uri::try_from(format!("http://{}:{}", proxy.host(), proxy.port()))
                        .map_err(|_| InvalidInput::new(Input::Proxy, Problem::NotAUrl))?;
                let mut tunnel = Tunnel::new(proxy_uri, http);
                if let Some(basic) = proxy.basic_authorization() {
                    let value = http::HeaderValue::from_str(&basic).map_err(|_| {
                        InvalidInput::new(
                            Input::Proxy,
                            Problem::Malformed {
                                expected: "header text",
                            },
                        )
                    })?;
                    tunnel = tunnel.with_auth(value);
                }
                let https = https.wrap_connector(tunnel);
                Pool::Proxied(builder.build(Timed::new(https, connect_timeout)))
            }
        })
    }

    /// Sends `request` (connecting only while it waits: see `limit`).
    pub(crate) async fn request(
        &self,
        request: http::Request<Body>,
    ) -> Result<http::Response<hyper::body::Incoming>, hyper_util::client::legacy::Error> {
        limit::for_request(async {
            match self {
                Pool::Direct(client) => client.request(request).await,
                Pool::Proxied(client) => client.request(with_explicit_port(request)).await,
            }
        })
        .await
    }
}

/// `request` with its URI's port written out when it is plain http's default: hyper-util's
/// tunnel asks the proxy for port 443 when a URI names none, whatever its scheme, and the
/// core leaves a scheme's default port out (`http://127.0.0.1` is port 80). Only the
/// connector reads it: the request goes in origin form, with the core's signed `Host`.
fn with_explicit_port<B>(mut request: http::Request<B>) -> http::Request<B> {
    let uri = request.uri();
    if uri.port().is_some() || uri.scheme() != Some(&http::uri::Scheme::HTTP) {
        return request;
    }
    let Some(host) = uri.host() else {
        return request;
    };
    let mut parts = uri.clone().into_parts();
    match http::uri::Authority::try_from(format!("{host}:80")) {
        Ok(authority) => parts.authority = Some(authority),
        Err(_) => return request,
    }
    if let Ok(uri) = http::Uri::from_parts(parts) {
        *request.uri_mut() = uri;
    }
    request
}

/// The client for the credential services on the instance or node (metadata, pod
/// identity): no proxy, a short connect timeout (a name in a pod identity URI is looked up
/// within it too), no redirects.
pub(crate) type Local = LegacyClient<HttpsConnector<HttpConnector<TimedResolver>>, Body>;

pub(crate) fn local(tls: rustls::ClientConfig) -> Local {
    let mut http = HttpConnector::new_with_resolver(TimedResolver::new(SOURCE_CONNECT_TIMEOUT));
    http.enforce_http(false);
    http.set_connect_timeout(Some(SOURCE_CONNECT_TIMEOUT));
    let https = HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    LegacyClient::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .pool_max_idle_per_host(2)
        .build(https)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::with_explicit_port;

    #[test]
    fn plain_http_without_a_port_gets_80_and_nothing_else_changes() {
        for (given, sent) in [
            ("http://127.0.0.1/v1.0/p", "http://127.0.0.1:80/v1.0/p"),
            ("http://[::1]/v1.0/p?q=1", "http://[::1]:80/v1.0/p?q=1"),
            (
                "http://127.0.0.1:8080/v1.0/p",
                "http://127.0.0.1:8080/v1.0/p",
            ),
            (
                "https://kms.example.com/v1.0/p",
                "https://kms.example.com/v1.0/p",
            ),
        ] {
            let request = http::Request::get(given).body(()).unwrap();
            assert_eq!(with_explicit_port(request).uri(), sent, "{given}");
        }
    }
}
