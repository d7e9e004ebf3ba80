//! An explicit HTTP proxy URL, parsed as strictly as an endpoint.

use std::fmt;

use crate::Endpoint;
use crate::input::{Input, InvalidInput, Problem};

/// An explicit HTTP proxy (`http://[user:password@]host:port`), reached with `CONNECT`.
///
/// The user and password may be percent-encoded in the URL (`p%40ss` for `p@ss`); they are
/// decoded once, here, and the password prints as `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyUrl {
    host: String,
    port: u16,
    username: Option<String>,
    password: Option<String>,
}

impl ProxyUrl {
    /// Parses a proxy URL. Only `http://` proxies are supported; the port defaults to 80.
    ///
    /// As strict as [`Endpoint::parse`]: no control characters, spaces or non-ASCII
    /// anywhere (percent-encode them in the user and password), no path, query or fragment.
    /// The user and password may hold what RFC 3986 allows there and `%XX` escapes, which
    /// must be two hex digits and may not decode to a control character or, in the user
    /// name, to `:` (RFC 7617: Basic authentication could not carry it). A refused
    /// character of the password is named only when it is a control character.
    ///
    /// # Errors
    /// [`InvalidInput`] with [`Input::Proxy`] and the [`Problem`]: for example
    /// [`Problem::InvalidChar`], [`Problem::InvalidEscape`] or [`Problem::ColonInUser`].
    pub fn parse(url: &str) -> Result<Self, InvalidInput> {
        let err = |problem| InvalidInput::new(Input::Proxy, problem);
        if url.is_empty() {
            return Err(err(Problem::Empty));
        }
        // Characters first, over the whole URL, as the endpoint parser does: a CR or LF
        // must be refused whatever the rest looks like.
        let secret = password_span(url);
        if let Some((index, c)) = url.char_indices().find(|&(_, c)| !c.is_ascii_graphic()) {
            let ch = (!secret.contains(&index) || c.is_control()).then_some(c);
            return Err(err(Problem::InvalidChar {
                ch,
                index,
                allowed: PROXY_URL_CHARS,
            }));
        }
        let rest = match url.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
            Some((scheme, _)) => return Err(err(Problem::UnsupportedScheme(scheme.to_owned()))),
            None => return Err(err(Problem::NotAUrl)),
        };
        let rest_at = url.len() - rest.len();
        let (username, password, hostport) = match rest.rsplit_once('@') {
            None => (None, None, rest),
            Some((info, hostport)) => {
                let (user, pass) = parse_userinfo(info, rest_at, &secret)?;
                (Some(user), pass, hostport)
            }
        };
        let hostport = hostport.strip_suffix('/').unwrap_or(hostport);
        if hostport.contains(['/', '?', '#']) {
            return Err(err(Problem::Malformed { expected: NO_PATH }));
        }
        // The host and port follow the endpoint's rules exactly; its characters were
        // checked above, so the probe's errors carry no offset into a different string.
        let probe = Endpoint::parse_with(
            &format!("http://{hostport}"),
            crate::HttpPolicy::AllowInsecure,
        )
        .map_err(|e| err(e.problem().clone()))?;
        Ok(ProxyUrl {
            host: probe.host().to_owned(),
            port: probe.port_or_default(),
            username,
            password,
        })
    }

    /// The proxy's host (IPv6 in brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The proxy's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The decoded user name, if any.
    pub fn username(&self) -> Option<&str> {
        self.username.as_deref()
    }

    /// The decoded password, if any. Handle with care: it is a secret.
    pub fn password(&self) -> Option<&str> {
        self.password.as_deref()
    }

    /// `Basic <base64(user:password)>` for `Proxy-Authorization`, when there is a user.
    pub fn basic_authorization(&self) -> Option<String> {
        let user = self.username.as_deref()?;
        let pass = self.password.as_deref().unwrap_or_default();
        Some(format!(
            "Basic {}",
            base64(format!("{user}:{pass}").as_bytes())
        ))
    }
}

impl fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyUrl")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

/// The shape of a proxy URL, for [`Problem::Malformed`].
const NO_PATH: &str = "http://[user:password@]host[:port] with no path";
/// What a decoded user and password must be, for [`Problem::Malformed`].
const PROXY_UTF8: &str = "percent-encoded UTF-8 user and password";
/// What a proxy URL may contain, for [`Problem::InvalidChar`].
const PROXY_URL_CHARS: &str =
    "printable ASCII (no spaces; percent-encode other characters of the user and password)";
/// What the user and password of a proxy URL may contain (RFC 3986 `userinfo`).
const PROXY_USERINFO_CHARS: &str = "letters, digits, -._~!$&'()*+,;= and %XX escapes in the user and password (%40 for @, %3A for : in the password)";
/// What a decoded user or password may not contain (RFC 7617: no control characters).
const PROXY_DECODED_CHARS: &str =
    "a user and password without control characters, even percent-encoded";

/// The byte range of `url` that may hold a password (from the `:` after the user name to
/// the last `@`), whose characters an error must not echo. When the URL has no recognisable
/// scheme, everything before the last `@` counts: better to name too little than a secret.
fn password_span(url: &str) -> std::ops::Range<usize> {
    let Some(at) = url.rfind('@') else {
        return 0..0;
    };
    let scheme_ok = |scheme: &str| {
        !scheme.is_empty()
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
    };
    match url.find("://") {
        Some(i) if i + 3 <= at && url.get(..i).is_some_and(scheme_ok) => {
            let user_at = i + 3;
            let colon = url.get(user_at..at).and_then(|info| info.find(':'));
            colon.map_or(at, |c| user_at + c)..at
        }
        _ => 0..at,
    }
}

/// Splits and decodes `user[:password]`, found at byte `offset` of the URL. The password is
/// only echoed in errors when the character is a control character (`secret` is its span).
fn parse_userinfo(
    info: &str,
    offset: usize,
    secret: &std::ops::Range<usize>,
) -> Result<(String, Option<String>), InvalidInput> {
    let err = |problem| InvalidInput::new(Input::Proxy, problem);
    // RFC 3986 `userinfo`: unreserved, sub-delims, ':' and escapes; the ASCII check has
    // been made, so only gen-delims and the characters URLs never hold are left to refuse.
    let allowed = |b: u8| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:%".contains(&b);
    if let Some(i) = info.bytes().position(|b| !allowed(b)) {
        let index = offset + i;
        return Err(err(Problem::InvalidChar {
            ch: info
                .get(i..)
                .and_then(|s| s.chars().next())
                .filter(|_| !secret.contains(&index)),
            index,
            allowed: PROXY_USERINFO_CHARS,
        }));
    }
    let (user, pass) = match info.split_once(':') {
        Some((u, p)) => (u, Some((p, offset + u.len() + 1))),
        None => (info, None),
    };
    let user = decode_strict(user, offset)?;
    if user.contains(':') {
        return Err(err(Problem::ColonInUser));
    }
    let pass = pass.map(|(p, at)| decode_strict(p, at)).transpose()?;
    Ok((user, pass))
}

/// Decodes `%XX` escapes of a user or password found at byte `offset` of the URL, refusing
/// what the lenient decoding that signing needs lets through: a `%` without two hex digits,
/// an escaped control character, bytes that are not UTF-8.
fn decode_strict(s: &str, offset: usize) -> Result<String, InvalidInput> {
    let err = |problem| InvalidInput::new(Input::Proxy, problem);
    let hex = |b: Option<&u8>| b.and_then(|&b| char::from(b).to_digit(16));
    let bytes = s.as_bytes();
    // Every escape is checked before decoding, because the decoder keeps a malformed one as
    // it is and an error must name the escape's place in the URL. A `%` inside a
    // well-formed escape is impossible (hex digits are not `%`), so each `%` starts one.
    for (i, _) in s.match_indices('%') {
        let (Some(hi), Some(lo)) = (hex(bytes.get(i + 1)), hex(bytes.get(i + 2))) else {
            return Err(err(Problem::InvalidEscape { index: offset + i }));
        };
        // The escaped byte as a character: an ASCII control character is below 0x80, so
        // `from_u32` (which only fails above 0x10FFFF or on surrogates) cannot hide one.
        if let Some(ch) = char::from_u32(hi << 4 | lo).filter(char::is_ascii_control) {
            return Err(err(Problem::InvalidChar {
                ch: Some(ch),
                index: offset + i,
                allowed: PROXY_DECODED_CHARS,
            }));
        }
    }
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .map(std::borrow::Cow::into_owned)
        .map_err(|_| {
            err(Problem::Malformed {
                expected: PROXY_UTF8,
            })
        })
}

/// Standard base64 with padding, as RFC 7617 Basic authentication writes `user:password`.
fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_urls() {
        let p = ProxyUrl::parse("http://us%40er:p%3Ass%40word@proxy.lan:3128/").unwrap();
        assert_eq!((p.host(), p.port()), ("proxy.lan", 3128));
        assert_eq!(
            (p.username(), p.password()),
            (Some("us@er"), Some("p:ss@word"))
        );
        assert_eq!(
            p.basic_authorization().unwrap(),
            "Basic dXNAZXI6cDpzc0B3b3Jk"
        );
        assert!(!format!("{p:?}").contains("p:ss@word"));
        assert_eq!(ProxyUrl::parse("http://[::1]").unwrap().port(), 80);
        for bad in [
            "proxy:3128",
            "https://p:1",
            "socks5://p:1",
            "http://p:1/x",
            "http://p:99999",
            "http://a:%ff@p",
        ] {
            assert_eq!(
                ProxyUrl::parse(bad).unwrap_err().input(),
                Input::Proxy,
                "{bad}"
            );
        }
    }

    /// Every proxy URL the parser must refuse, with the problem it must name. Failing cases
    /// are reported together, by name. The password, where there is one, is `s3cr3t` (or
    /// pieces of it), which no message may contain.
    #[test]
    fn proxy_urls_refused() {
        let chr = |ch: Option<char>, index, allowed| Problem::InvalidChar { ch, index, allowed };
        let cases: &[(&str, &str, Problem)] = &[
            ("empty", "", Problem::Empty),
            ("no scheme", "proxy:3128", Problem::NotAUrl),
            (
                "https proxy",
                "https://p:1",
                Problem::UnsupportedScheme("https".into()),
            ),
            (
                "socks proxy",
                "socks5://p:1",
                Problem::UnsupportedScheme("socks5".into()),
            ),
            (
                "a path",
                "http://p:1/x",
                Problem::Malformed { expected: NO_PATH },
            ),
            (
                "a query",
                "http://p:1?x",
                Problem::Malformed { expected: NO_PATH },
            ),
            (
                "port out of range",
                "http://p:99999",
                Problem::InvalidPort("99999".into()),
            ),
            (
                "host not a name",
                "http://p_x:1",
                Problem::InvalidHost("p_x".into()),
            ),
            (
                "CR LF in the host",
                "http://proxy.lan\r\nX-Evil: 1:3128",
                chr(Some('\r'), 16, PROXY_URL_CHARS),
            ),
            (
                "space in the host",
                "http://proxy lan:3128",
                chr(Some(' '), 12, PROXY_URL_CHARS),
            ),
            (
                "non-ASCII host",
                "http://pr\u{f6}xy:1",
                chr(Some('\u{f6}'), 9, PROXY_URL_CHARS),
            ),
            (
                "tab in the user",
                "http://us\ter:s3cr3t@p:1",
                chr(Some('\t'), 9, PROXY_URL_CHARS),
            ),
            (
                "space in the user",
                "http://us er:s3cr3t@p:1",
                chr(Some(' '), 9, PROXY_URL_CHARS),
            ),
            (
                "CR LF in the password",
                "http://u:s3\r\ncr3t@p:1",
                chr(Some('\r'), 11, PROXY_URL_CHARS),
            ),
            // Not a control character: only its place is named, not the character.
            (
                "space in the password",
                "http://u:s3 cr3t@p:1",
                chr(None, 11, PROXY_URL_CHARS),
            ),
            (
                "non-ASCII password",
                "http://u:s3\u{e9}cr3t@p:1",
                chr(None, 11, PROXY_URL_CHARS),
            ),
            (
                "raw @ in the password",
                "http://u:s3@cr3t@p:1",
                chr(None, 11, PROXY_USERINFO_CHARS),
            ),
            (
                "raw / in the password",
                "http://u:s3/cr3t@p:1",
                chr(None, 11, PROXY_USERINFO_CHARS),
            ),
            (
                "raw quote in the user",
                "http://u\"x:s3cr3t@p:1",
                chr(Some('"'), 8, PROXY_USERINFO_CHARS),
            ),
            (
                "invalid escape in the password",
                "http://u:%ZZs3cr3t@p:1",
                Problem::InvalidEscape { index: 9 },
            ),
            (
                "escape cut short in the password",
                "http://u:s3cr3t%4@p:1",
                Problem::InvalidEscape { index: 15 },
            ),
            (
                "invalid escape in the user",
                "http://u%G1:s3cr3t@p:1",
                Problem::InvalidEscape { index: 8 },
            ),
            (
                "lone % in the user",
                "http://u%:s3cr3t@p:1",
                Problem::InvalidEscape { index: 8 },
            ),
            (
                "colon in the user name",
                "http://a%3Ab:s3cr3t@p:1",
                Problem::ColonInUser,
            ),
            (
                "lower-case colon in the user name",
                "http://a%3ab@p:1",
                Problem::ColonInUser,
            ),
            (
                "encoded CR LF in the password",
                "http://u:s3%0D%0Acr3t@p:1",
                chr(Some('\r'), 11, PROXY_DECODED_CHARS),
            ),
            (
                "encoded NUL in the user",
                "http://u%00:s3cr3t@p:1",
                chr(Some('\0'), 8, PROXY_DECODED_CHARS),
            ),
            (
                "encoded DEL in the password",
                "http://u:s3cr3t%7F@p:1",
                chr(Some('\u{7f}'), 15, PROXY_DECODED_CHARS),
            ),
            (
                "password not UTF-8",
                "http://a:%ff@p",
                Problem::Malformed {
                    expected: PROXY_UTF8,
                },
            ),
        ];
        let mut failures = Vec::new();
        for (name, url, expected) in cases {
            match ProxyUrl::parse(url) {
                Ok(p) => failures.push(format!("{name}: accepted as {p:?}")),
                Err(e) => {
                    let msg = e.to_string();
                    if e.input() != Input::Proxy || e.problem() != expected {
                        failures.push(format!(
                            "{name}: {:?} {:?}, expected {expected:?}",
                            e.input(),
                            e.problem()
                        ));
                    }
                    if msg.contains("cr3t") || msg.contains("s3cr") || msg.contains(['\r', '\n']) {
                        failures.push(format!(
                            "{name}: the message echoes the password or breaks the line: {msg}"
                        ));
                    }
                }
            }
        }
        assert!(
            failures.is_empty(),
            "{} case(s) failed:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }

    #[test]
    fn proxy_userinfo_may_use_every_character_rfc_3986_allows() {
        let p = ProxyUrl::parse("http://a-._~!$&'()*+,;=%25b:c-._~!$&'()*+,;=:%25%3a%40%C3%A9@p:1")
            .unwrap();
        assert_eq!(p.username(), Some("a-._~!$&'()*+,;=%b"));
        assert_eq!(p.password(), Some("c-._~!$&'()*+,;=:%:@\u{e9}"));
        // An empty password and no password are both a user alone.
        assert_eq!(ProxyUrl::parse("http://u:@p").unwrap().password(), Some(""));
        assert_eq!(ProxyUrl::parse("http://u@p").unwrap().password(), None);
    }

    /// Every kind of CA bundle, with what [`CaBundle::from_pem`] must make of it: how many
    /// certificates, or the problem. Failing cases are reported together, by name.
    #[test]
    fn base64_matches_the_rfc_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }
}
