//! Connecting: ureq's default connectors (TCP, a proxy's `CONNECT`) and this crate's TLS
//! ([`Tls`](crate::tls::Tls), with the client's rustls configuration), with every timer that
//! fires before the connection is made reported as a connect timeout.
//!
//! ureq names the timer that fired, not the phase: when the attempt's own timeout (ureq's
//! global one) is shorter than the connect timeout, a connect that never completes, or a
//! TLS handshake that never ends, comes back as `Timeout::Global`, which cannot be told
//! apart from a late answer to a request that was written. Here, where the connection is
//! made, a timeout can only mean that no connection was made, so it is reported as
//! `Timeout::Connect`, and the core takes it for what it is: nothing sent, the endpoint not
//! reached, move on (`TransportFailure::timed_out`).

use std::io;
use std::sync::Arc;

use ureq::Timeout;
use ureq::unversioned::transport::{
    ChainedConnector, ConnectionDetails, Connector, DefaultConnector, Transport,
};

use crate::tls::Tls;

/// An agent with `config` that connects as every agent of this crate does: through
/// [`ConnectPhase`] (TLS with `tls`), and [`LiteralFirst`](crate::resolve::LiteralFirst) for
/// names.
pub(crate) fn agent(config: ureq::config::Config, tls: Arc<rustls::ClientConfig>) -> ureq::Agent {
    ureq::Agent::with_parts(
        config,
        ConnectPhase(DefaultConnector::default().chain(Tls::new(tls))),
        crate::resolve::LiteralFirst::default(),
    )
}

/// ureq's [`DefaultConnector`] (built without a TLS feature: TCP and a proxy's `CONNECT`)
/// then [`Tls`], timeouts reported as connect timeouts (see the module docs).
#[derive(Debug)]
pub(crate) struct ConnectPhase(ChainedConnector<(), DefaultConnector, Tls>);

impl Connector for ConnectPhase {
    type Out = Box<dyn Transport>;

    fn connect(
        &self,
        details: &ConnectionDetails<'_>,
        chained: Option<()>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        match self.0.connect(details, chained) {
            Ok(transport) => Ok(transport.map(|t| Box::new(t) as Box<dyn Transport>)),
            Err(e) => Err(in_connect_phase(e)),
        }
    }
}

/// A connector's error: any timeout becomes `Timeout::Connect`; the rest is left as it is.
fn in_connect_phase(error: ureq::Error) -> ureq::Error {
    match error {
        ureq::Error::Timeout(_) => ureq::Error::Timeout(Timeout::Connect),
        ureq::Error::Io(e) if e.kind() == io::ErrorKind::TimedOut => {
            ureq::Error::Timeout(Timeout::Connect)
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_timeout_while_connecting_is_a_connect_timeout() {
        for timer in [Timeout::Global, Timeout::PerCall, Timeout::Connect] {
            assert!(matches!(
                in_connect_phase(ureq::Error::Timeout(timer)),
                ureq::Error::Timeout(Timeout::Connect)
            ));
        }
        let read_timed_out = io::Error::new(io::ErrorKind::TimedOut, "handshake");
        assert!(matches!(
            in_connect_phase(ureq::Error::Io(read_timed_out)),
            ureq::Error::Timeout(Timeout::Connect)
        ));
        assert!(matches!(
            in_connect_phase(ureq::Error::ConnectionFailed),
            ureq::Error::ConnectionFailed
        ));
    }
}
