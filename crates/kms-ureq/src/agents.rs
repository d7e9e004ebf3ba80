//! The two ureq agents of a client: one for KMS, IAM and STS (the configured proxy, trusted
//! roots and timeouts), one for the services on the instance or node (never proxied). Both
//! wrap `https` connections in the same rustls configuration (`tls`).

use std::sync::Arc;

use kms_proto::credentials::SOURCE_CONNECT_TIMEOUT;
use kms_proto::{ClientConfig, Input, InvalidInput, Problem};

/// The agent for KMS, IAM and STS, as `config` says.
///
/// # Errors
/// [`InvalidInput`] for the proxy when ureq does not accept it.
pub(crate) fn remote(
    config: &ClientConfig,
    tls: Arc<rustls::ClientConfig>,
) -> Result<ureq::Agent, InvalidInput> {
    let proxy = match config.proxy() {
        None => None,
        Some(p) => {
            let mut builder = ureq::Proxy::builder(ureq::ProxyProtocol::Http)
                .host(p.host())
                .port(p.port());
            if let Some(user) = p.username() {
                builder = builder.username(user);
            }
            if let Some(password) = p.password() {
                builder = builder.password(password);
            }
            let malformed = Problem::Malformed {
                expected: "a proxy ureq accepts",
            };
            Some(
                builder
                    .build()
                    .map_err(|_| InvalidInput::new(Input::Proxy, malformed))?,
            )
        }
    };
    let agent = ureq::Agent::config_builder()
        // 4xx and 5xx are answers to parse, not errors that lose their body.
        .http_status_as_error(false)
        // Never follow a redirect: the 3xx itself is the answer (credentials stay here).
        .max_redirects(0)
        .max_redirects_will_error(false)
        // Only what is configured: no proxy from the environment.
        .proxy(proxy)
        // An attempt's budget is the attempt timeout; an exchange sets a shorter one on
        // its request only when the overall deadline cuts it short, so the usual call does
        // not copy the agent's configuration.
        .timeout_global(Some(config.attempt_timeout()))
        .timeout_resolve(Some(config.connect_timeout()))
        .timeout_connect(Some(config.connect_timeout()))
        // The core decides the head's limits (kms_proto::MAX_RESPONSE_HEAD); ureq's own
        // bound, as kms-hyper's, must not refuse less (its limit on header lines is
        // kms_proto::MAX_RESPONSE_HEADERS already).
        .max_response_header_size(2 * kms_proto::MAX_RESPONSE_HEAD)
        .max_idle_connections(config.max_connections())
        .max_idle_connections_per_host(config.max_connections())
        // The request carries its own User-Agent and signs it; ureq adds nothing.
        .user_agent(ureq::config::AutoHeaderValue::None)
        .accept("application/json")
        .accept_encoding(ureq::config::AutoHeaderValue::None)
        .build();
    // A timer that fires before the connection is made is a connect timeout.
    Ok(crate::connect::agent(agent, tls))
}

/// The agent for the credential services on the instance or node (ECS metadata, CCE pod
/// identity): no proxy, a short connect timeout, no redirects.
pub(crate) fn local(tls: Arc<rustls::ClientConfig>) -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .max_redirects_will_error(false)
        // The metadata service and pod identity are local: never through the proxy.
        .proxy(None)
        .timeout_resolve(Some(SOURCE_CONNECT_TIMEOUT))
        .timeout_connect(Some(SOURCE_CONNECT_TIMEOUT))
        .max_idle_connections(2)
        // The core's request carries every header; ureq adds none of its own.
        .user_agent(ureq::config::AutoHeaderValue::None)
        .accept(ureq::config::AutoHeaderValue::None)
        .accept_encoding(ureq::config::AutoHeaderValue::None)
        .build();
    crate::connect::agent(config, tls)
}
