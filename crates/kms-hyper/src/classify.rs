//! hyper's errors sorted into the core's transport failure kinds.

use std::error::Error as StdError;
use std::io;

use kms_proto::call::{TransportErrorKind, TransportFailure};

/// A failure of the legacy client's request future (before the response head).
pub(crate) fn request_error(error: hyper_util::client::legacy::Error) -> TransportFailure {
    let kind = if error.is_connect() && chain_has_proxy_auth(&error) {
        TransportErrorKind::ProxyAuth
    } else if chain_has::<rustls::Error>(&error) {
        TransportErrorKind::Tls
    } else if error.is_connect() {
        TransportErrorKind::Connect
    } else if chain_has_timeout(&error) {
        TransportErrorKind::Timeout
    } else {
        TransportErrorKind::Io
    };
    // Connect and TLS failures happen before a byte of the request is written.
    let sent = !error.is_connect();
    TransportFailure::new(kind, sent).with_source(error)
}

/// A failure while reading the body: the request was sent.
pub(crate) fn body_error(error: hyper::Error) -> TransportFailure {
    let kind = if chain_has_timeout(&error) {
        TransportErrorKind::Timeout
    } else {
        TransportErrorKind::Io
    };
    TransportFailure::new(kind, true).with_source(error)
}

/// Whether `T` is anywhere in the chain. `io::Error::source` skips the error it wraps,
/// so wrapped errors are looked into explicitly.
fn chain_has<T: StdError + 'static>(error: &(dyn StdError + 'static)) -> bool {
    let mut current: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(e) = current {
        if e.is::<T>() {
            return true;
        }
        if let Some(inner) = e.downcast_ref::<io::Error>().and_then(|io| io.get_ref())
            && (inner.is::<T>() || chain_has::<T>(inner))
        {
            return true;
        }
        current = e.source();
    }
    false
}

/// Whether the proxy answered its `CONNECT` with 407: hyper-util's tunnel reports it as
/// an error of a type it does not export (`TunnelError::ProxyAuthRequired`), whose text
/// (hyper-util 0.1) is looked for here. The conformance suite's 407 check fails if
/// hyper-util words it differently.
fn chain_has_proxy_auth(error: &(dyn StdError + 'static)) -> bool {
    chain(error).any(|e| e.to_string().ends_with("proxy authorization required"))
}

fn chain_has_timeout(error: &(dyn StdError + 'static)) -> bool {
    chain(error).any(|e| {
        e.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::TimedOut)
    })
}

/// `error` and its sources, outermost first.
fn chain<'e>(
    error: &'e (dyn StdError + 'static),
) -> impl Iterator<Item = &'e (dyn StdError + 'static)> {
    std::iter::successors(Some(error), |&e| e.source())
}
