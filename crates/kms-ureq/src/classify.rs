//! ureq's errors sorted into the core's transport failure kinds.

use std::io;

use kms_proto::call::{TransportErrorKind, TransportFailure};

/// A failure of `agent.run`: before or while the response head arrived.
pub(crate) fn request_error(error: ureq::Error) -> TransportFailure {
    use TransportErrorKind::{Connect, Io, Timeout, Tls};
    let (kind, may_have_been_sent) = match &error {
        ureq::Error::Timeout(ureq::Timeout::Resolve | ureq::Timeout::Connect) => (Connect, false),
        ureq::Error::Timeout(_) => (Timeout, true),
        ureq::Error::HostNotFound
        | ureq::Error::ConnectionFailed
        | ureq::Error::ConnectProxyFailed(_) => (Connect, false),
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) | ureq::Error::Pem(_) => (Tls, false),
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
