//! Connecting: ureq's default connectors (TCP, a proxy's `CONNECT`, TLS), with every timer
//! that fires before the connection is made reported as a connect timeout.
//!
//! ureq names the timer that fired, not the phase: when the attempt's own timeout (ureq's
//! global one) is shorter than the connect timeout, a connect that never completes, or a
//! TLS handshake that never ends, comes back as `Timeout::Global`, which cannot be told
//! apart from a late answer to a request that was written. Here, where the connection is
//! made, a timeout can only mean that no connection was made, so it is reported as
//! `Timeout::Connect`, and the core takes it for what it is: nothing sent, the endpoint not
//! reached, move on (`TransportFailure::timed_out`).

use std::io;

use ureq::Timeout;
use ureq::unversioned::transport::{ConnectionDetails, Connector, DefaultConnector, Transport};

/// An agent with `config` that connects as every agent of this crate does: through
/// [`ConnectPhase`], and [`LiteralFirst`](crate::resolve::LiteralFirst) for names.
pub(crate) fn agent(config: ureq::config::Config) -> ureq::Agent {
    ureq::Agent::with_parts(
        config,
        ConnectPhase::default(),
        crate::resolve::LiteralFirst::default(),
    )
}

/// ureq's [`DefaultConnector`], timeouts reported as connect timeouts (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct ConnectPhase(DefaultConnector);

impl Connector for ConnectPhase {
    type Out = Box<dyn Transport>;

    fn connect(
        &self,
        details: &ConnectionDetails<'_>,
        chained: Option<()>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        self.0.connect(details, chained).map_err(in_connect_phase)
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
