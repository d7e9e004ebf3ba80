//! Name resolution that skips the lookup for an IP literal.
//!
//! With any timeout configured, ureq runs every lookup on a thread of its own so that it
//! can give up on time, including for `127.0.0.1`, where there is nothing to look up: a
//! thread per request that costs more than the rest of a loopback call. Literals are
//! answered here; names go to ureq's own resolver, timeout and all.
//!
//! A failed lookup comes back from ureq as a bare `io::Error`, which cannot be told apart
//! from a failure after the request was written; it is wrapped in [`LookupFailed`] here, so
//! that it is reported as what it is: a `connect` failure, nothing sent (as kms-hyper does).

use std::net::{IpAddr, SocketAddr};

use http::Uri;
use ureq::config::Config;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

#[derive(Debug, Default)]
pub(crate) struct LiteralFirst(DefaultResolver);

impl Resolver for LiteralFirst {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        // Through a proxy, ureq decides what is resolved: leave it alone.
        if config.proxy().is_none()
            && let Some(ip) = uri
                .host()
                .map(|h| h.trim_start_matches('[').trim_end_matches(']'))
                .and_then(|h| h.parse::<IpAddr>().ok())
        {
            let default_port = if uri.scheme_str() == Some("https") {
                443
            } else {
                80
            };
            let addr = SocketAddr::new(ip, uri.port_u16().unwrap_or(default_port));
            let mut addrs = self.empty();
            for wanted in config.ip_family().keep_wanted(std::iter::once(addr)) {
                addrs.push(wanted);
            }
            if !addrs.is_empty() {
                return Ok(addrs);
            }
        }
        self.0.resolve(uri, config, timeout).map_err(|e| match e {
            ureq::Error::Io(io) => {
                ureq::Error::Io(std::io::Error::new(io.kind(), LookupFailed(io)))
            }
            // Whichever timer fired (the attempt's own when it is the shorter), no
            // connection was made: a lookup that timed out is a connect failure.
            ureq::Error::Timeout(_) => ureq::Error::Timeout(ureq::Timeout::Resolve),
            other => other,
        })
    }
}

/// A host name that could not be resolved (the lookup's own error is its source).
#[derive(Debug)]
pub(crate) struct LookupFailed(std::io::Error);

impl std::fmt::Display for LookupFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the host name could not be resolved")
    }
}

impl std::error::Error for LookupFailed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}
