//! ureq's errors sorted into the core's transport failure kinds.

use std::io;

use kms_proto::call::{TransportErrorKind, TransportFailure};

/// A failure of `agent.run`: before or while the response head arrived.
pub(crate) fn request_error(error: ureq::Error) -> TransportFailure {
    use TransportErrorKind::{Connect, Io, ProxyAuth, Timeout, Tls};
    let (kind, may_have_been_sent) = match &error {
        // Before the connection was made (a timer firing while connecting is reported as
        // a connect timeout: see `connect`), or after: the core says what each means.
        ureq::Error::Timeout(ureq::Timeout::Resolve | ureq::Timeout::Connect) => {
            return TransportFailure::timed_out(false).with_source(error);
        }
        ureq::Error::Timeout(_) => return TransportFailure::timed_out(true).with_source(error),
        ureq::Error::ConnectProxyFailed(reason) if is_proxy_auth(reason) => (ProxyAuth, false),
        ureq::Error::HostNotFound
        | ureq::Error::ConnectionFailed
        | ureq::Error::ConnectProxyFailed(_) => (Connect, false),
        // ureq is built without TLS (crate::tls wraps connections): its `Tls` is this
        // crate's connector refusing a name; rustls's own errors come inside io::Errors.
        ureq::Error::Tls(_) => (Tls, false),
        ureq::Error::Io(e) if is_connect_error(e) || is_lookup_error(e) => (Connect, false),
        ureq::Error::Io(e) if e.kind() == io::ErrorKind::TimedOut => (Timeout, true),
        ureq::Error::Io(e) if is_tls_io_error(e) => (Tls, false),
        _ => (Io, true),
    };
    TransportFailure::new(kind, may_have_been_sent).with_source(error)
}

/// A failure while reading the body: the request was sent.
pub(crate) fn body_error(error: io::Error) -> TransportFailure {
    let timed_out = error.kind() == io::ErrorKind::TimedOut
        || error
            .get_ref()
            .and_then(|e| e.downcast_ref::<ureq::Error>())
            .is_some_and(|e| matches!(e, ureq::Error::Timeout(_)));
    let kind = if timed_out {
        TransportErrorKind::Timeout
    } else {
        TransportErrorKind::Io
    };
    TransportFailure::new(kind, true).with_source(error)
}

/// Whether the proxy answered its `CONNECT` with 407. ureq gives the status only as text
/// (`proxy server responded 407/407`, ureq 3.5); the proxy's answer never reaches us
/// otherwise. The conformance suite's 407 check fails if ureq words it differently.
fn is_proxy_auth(reason: &str) -> bool {
    reason
        .strip_prefix("proxy server responded ")
        .is_some_and(|status| status.starts_with("407"))
}

fn is_connect_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::AddrNotAvailable
            | io::ErrorKind::NetworkUnreachable
            | io::ErrorKind::HostUnreachable
            | io::ErrorKind::NetworkDown
    )
}

/// A failed name lookup, as our resolver reports it.
fn is_lookup_error(e: &io::Error) -> bool {
    e.get_ref()
        .is_some_and(|inner| inner.is::<crate::resolve::LookupFailed>())
}

/// rustls reports handshake failures through `io::Error`s wrapping a `rustls::Error`.
fn is_tls_io_error(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<rustls::Error>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proxy_refusing_its_credentials_is_proxy_auth_and_other_refusals_connect() {
        let refused = ureq::Error::ConnectProxyFailed("proxy server responded 407/407".into());
        let failure = request_error(refused);
        assert_eq!(
            (failure.kind(), failure.may_have_been_sent()),
            (TransportErrorKind::ProxyAuth, false)
        );
        for other in [
            "proxy server responded 403/403",
            "proxy server responded 502/502",
            "proxy server did not respond",
        ] {
            let failure = request_error(ureq::Error::ConnectProxyFailed(other.into()));
            assert_eq!(failure.kind(), TransportErrorKind::Connect, "{other}");
        }
    }
}
