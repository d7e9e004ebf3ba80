//! Where requests go: an `https` (or loopback `http`) origin with an optional base path.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::input::Region;
use crate::input::{Input, InvalidInput, Problem, check_chars};

/// Whether plain `http` may be used to a host that is not loopback.
///
/// Default: [`HttpPolicy::LoopbackOnly`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum HttpPolicy {
    /// `http` only to `localhost`, `127.0.0.0/8` and `::1`; `https` everywhere else.
    #[default]
    LoopbackOnly,
    /// `http` to any host. Credentials and signatures then cross the network in clear
    /// text: only for test rigs and private networks that terminate TLS elsewhere.
    AllowInsecure,
}

/// A validated KMS endpoint: scheme, host, port and an optional base path.
///
/// Built from a region by the naming rule ([`Endpoint::for_region`]), or from an explicit
/// URL ([`Endpoint::parse`]); a region's endpoints with the official overrides honoured
/// come from [`Endpoints::resolve`](crate::Endpoints::resolve). An explicit URL may carry a port and a base path
/// (`https://kms.internal:8443/gateway`), never `user:password@`, a `?query` or a
/// `#fragment`. The host is folded to lower case and a port equal to the scheme's default
/// is dropped, so [`authority`](Self::authority) is exactly what goes in `Host`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    https: bool,
    host: Box<str>,
    port: Option<u16>,
    base_path: Box<str>,
}

impl Endpoint {
    /// Parses an explicit endpoint URL, allowing plain `http` only to loopback hosts.
    ///
    /// # Errors
    /// [`InvalidInput`] with [`Input::Endpoint`] naming the problem.
    pub fn parse(url: &str) -> Result<Self, InvalidInput> {
        Self::parse_with(url, HttpPolicy::LoopbackOnly)
    }

    /// Parses an explicit endpoint URL under the given plain-`http` policy.
    ///
    /// # Errors
    /// [`InvalidInput`] with [`Input::Endpoint`] naming the problem.
    pub fn parse_with(url: &str, policy: HttpPolicy) -> Result<Self, InvalidInput> {
        let err = |problem| InvalidInput::new(Input::Endpoint, problem);
        if url.is_empty() {
            return Err(err(Problem::Empty));
        }
        check_chars(
            Input::Endpoint,
            url,
            "printable ASCII (punycode for international host names, no spaces)",
            |c| c.is_ascii_graphic(),
        )?;
        let (scheme, rest) = url.split_once("://").ok_or(err(Problem::NotAUrl))?;
        let https = if scheme.eq_ignore_ascii_case("https") {
            true
        } else if scheme.eq_ignore_ascii_case("http") {
            false
        } else {
            return Err(err(Problem::UnsupportedScheme(scheme.to_owned())));
        };
        if rest.contains('#') {
            return Err(err(Problem::HasFragment));
        }
        if rest.contains('?') {
            return Err(err(Problem::HasQuery));
        }
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        if authority.contains('@') {
            return Err(err(Problem::HasUserinfo));
        }
        let (host, port) = split_host_port(authority)?;
        let default_port = if https { 443 } else { 80 };
        let port = port.filter(|&p| p != default_port);
        let base_path = parse_base_path(path)?;
        let endpoint = Endpoint {
            https,
            host: host.into(),
            port,
            base_path: base_path.into(),
        };
        if !https && policy == HttpPolicy::LoopbackOnly && !endpoint.is_loopback() {
            return Err(err(Problem::InsecureHttp));
        }
        Ok(endpoint)
    }

    /// The region's endpoint by the naming rule (see [`Region::kms_host`]), over `https`.
    pub fn for_region(region: &Region) -> Self {
        Endpoint {
            https: true,
            host: region.kms_host().into(),
            port: None,
            base_path: "".into(),
        }
    }

    /// `"https"` or `"http"`.
    pub fn scheme(&self) -> &'static str {
        if self.https { "https" } else { "http" }
    }

    /// Whether the scheme is `https`.
    pub fn is_https(&self) -> bool {
        self.https
    }

    /// The host in lower case; an IPv6 address keeps its brackets (`[::1]`).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port, or `None` when it is the scheme's default (443 or 80).
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The port connections go to: the explicit one or the scheme's default.
    pub fn port_or_default(&self) -> u16 {
        self.port.unwrap_or(if self.https { 443 } else { 80 })
    }

    /// `host[:port]`, exactly as it goes in the `Host` header (default port omitted).
    pub fn authority(&self) -> String {
        match self.port {
            Some(port) => format!("{}:{port}", self.host),
            None => self.host.to_string(),
        }
    }

    /// The base path below which the API lives: `""` or `/segment[/segment...]`, never
    /// with a trailing `/`.
    pub fn base_path(&self) -> &str {
        &self.base_path
    }

    /// Whether the host is `localhost`, in `127.0.0.0/8`, or `::1`.
    pub fn is_loopback(&self) -> bool {
        let host = &*self.host;
        if host == "localhost" {
            return true;
        }
        if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            return v6.parse::<Ipv6Addr>().is_ok_and(|ip| {
                ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
            });
        }
        host.parse::<Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme(), self.host)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        f.write_str(&self.base_path)
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Endpoint({self})")
    }
}

impl std::str::FromStr for Endpoint {
    type Err = InvalidInput;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Endpoint::parse(s)
    }
}

/// Splits `host[:port]` and validates both halves; the host comes back in lower case.
fn split_host_port(authority: &str) -> Result<(String, Option<u16>), InvalidInput> {
    let err = |problem| InvalidInput::new(Input::Endpoint, problem);
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (v6, after) = rest
            .split_once(']')
            .ok_or_else(|| err(Problem::InvalidHost(authority.to_owned())))?;
        if v6.parse::<Ipv6Addr>().is_err() {
            return Err(err(Problem::InvalidHost(authority.to_owned())));
        }
        let port = match after {
            "" => None,
            _ => Some(
                after
                    .strip_prefix(':')
                    .ok_or_else(|| err(Problem::InvalidHost(authority.to_owned())))?,
            ),
        };
        (format!("[{}]", v6.to_ascii_lowercase()), port)
    } else {
        let (host, port) = match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        };
        if !is_dns_name_or_ipv4(host) {
            return Err(err(Problem::InvalidHost(host.to_owned())));
        }
        (host.to_ascii_lowercase(), port)
    };
    let port = match port {
        None => None,
        Some(p) => Some(parse_port(p).ok_or_else(|| err(Problem::InvalidPort(p.to_owned())))?),
    };
    Ok((host, port))
}

fn parse_port(p: &str) -> Option<u16> {
    if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    p.parse::<u16>().ok().filter(|&n| n != 0)
}

/// A DNS name of letters, digits and inner hyphens, or a dotted-quad IPv4 address.
///
/// A name whose last label is all digits but which is not a valid IPv4 address
/// (`1.2.3`, `999.1.1.1`) is refused: URL parsers disagree on what it means.
fn is_dns_name_or_ipv4(host: &str) -> bool {
    if host.parse::<Ipv4Addr>().is_ok() {
        return true;
    }
    if host.is_empty() || host.len() > 253 {
        return false;
    }
    let labels_ok = host.split('.').all(|label| {
        (1..=63).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    });
    let last_numeric = host
        .rsplit('.')
        .next()
        .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()));
    labels_ok && !last_numeric
}

/// Validates a base path and returns it without its trailing `/`.
fn parse_base_path(path: &str) -> Result<&str, InvalidInput> {
    let trimmed = path.strip_suffix('/').unwrap_or(path);
    if trimmed.is_empty() {
        return Ok("");
    }
    for segment in trimmed.split('/').skip(1) {
        let ok = !segment.is_empty()
            && segment != "."
            && segment != ".."
            && segment
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'));
        if !ok {
            return Err(InvalidInput::new(
                Input::Endpoint,
                Problem::InvalidPathSegment(segment.to_owned()),
            ));
        }
    }
    Ok(trimmed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(url: &str) -> Endpoint {
        Endpoint::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"))
    }

    fn problem(url: &str) -> Problem {
        Endpoint::parse(url).unwrap_err().problem().clone()
    }

    #[test]
    fn parses_and_normalises() {
        let e = ok("HTTPS://KMS.Example.COM:443/");
        assert_eq!(e.to_string(), "https://kms.example.com");
        assert_eq!(e.authority(), "kms.example.com");
        assert_eq!(e.port(), None);
        assert_eq!(e.port_or_default(), 443);

        let e = ok("https://kms.internal:8443/gateway/kms/");
        assert_eq!(e.authority(), "kms.internal:8443");
        assert_eq!(e.base_path(), "/gateway/kms");
        assert_eq!(e.to_string(), "https://kms.internal:8443/gateway/kms");

        let e = ok("http://127.0.0.1:8080");
        assert!(e.is_loopback() && !e.is_https());
        assert_eq!(e.authority(), "127.0.0.1:8080");

        let e = ok("http://[::1]:80");
        assert_eq!(e.authority(), "[::1]");
        assert!(e.is_loopback());
        assert!(ok("http://localhost:1").is_loopback());
        assert!(ok("http://127.8.9.10").is_loopback());
        assert!(ok("https://10.0.0.1").host() == "10.0.0.1");
    }

    #[test]
    fn refuses_what_an_endpoint_must_not_carry() {
        assert_eq!(problem(""), Problem::Empty);
        assert_eq!(problem("kms.example.com"), Problem::NotAUrl);
        assert_eq!(
            problem("ftp://x.com"),
            Problem::UnsupportedScheme("ftp".into())
        );
        assert_eq!(problem("https://user:pw@x.com"), Problem::HasUserinfo);
        assert_eq!(problem("https://x.com/?a=1"), Problem::HasQuery);
        assert_eq!(problem("https://x.com/#f"), Problem::HasFragment);
        assert_eq!(problem("http://kms.example.com"), Problem::InsecureHttp);
        assert_eq!(problem("http://localhost.evil.com"), Problem::InsecureHttp);
        assert_eq!(problem("https://x.com:0"), Problem::InvalidPort("0".into()));
        assert_eq!(
            problem("https://x.com:65536"),
            Problem::InvalidPort("65536".into())
        );
        assert_eq!(problem("https://x.com:"), Problem::InvalidPort("".into()));
        assert_eq!(
            problem("https://x.com:+1"),
            Problem::InvalidPort("+1".into())
        );
        assert_eq!(problem("https://"), Problem::InvalidHost("".into()));
        assert_eq!(
            problem("https://-x.com"),
            Problem::InvalidHost("-x.com".into())
        );
        assert_eq!(
            problem("https://1.2.3"),
            Problem::InvalidHost("1.2.3".into())
        );
        assert_eq!(problem("https://[zz]"), Problem::InvalidHost("[zz]".into()));
        assert_eq!(
            problem("https://x.com/a/../b"),
            Problem::InvalidPathSegment("..".into())
        );
        assert_eq!(
            problem("https://x.com//a"),
            Problem::InvalidPathSegment("".into())
        );
        assert_eq!(
            problem("https://x.com/a%2Fb"),
            Problem::InvalidPathSegment("a%2Fb".into())
        );
        assert!(matches!(
            problem("https://x .com"),
            Problem::InvalidChar { ch: Some(' '), .. }
        ));
        assert!(matches!(
            problem("https://kms.例子.com"),
            Problem::InvalidChar { .. }
        ));
        assert!(matches!(
            problem("https://x.com\r\nX-Evil: 1"),
            Problem::InvalidChar { .. }
        ));
    }

    #[test]
    fn insecure_http_needs_the_explicit_opt_in() {
        let e = Endpoint::parse_with("http://kms.lan:8080/x", HttpPolicy::AllowInsecure).unwrap();
        assert_eq!(e.to_string(), "http://kms.lan:8080/x");
    }
}
