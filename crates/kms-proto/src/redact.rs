//! Secrets a service may send back: what the client sent or holds in one exchange, cut out
//! of the service's text before that text is kept in an error.
//!
//! A service (or a gateway, a proxy, a debugging IAM) that echoes its request in an error
//! answer would otherwise put an IAM password, an identity token, an `X-Auth-Token`, a
//! security token or a signature into `message()`, `Display`, `Debug`, the logs and the
//! command line's JSON. So every parser that keeps a service's text (a credential
//! service's message, [`IamError`](crate::iam::IamError),
//! [`ResponseError`](crate::ResponseError)) is given the exchange's [`Secrets`] and keeps
//! only the scrubbed text: nothing downstream can see the secret, whatever it prints.
//!
//! What is scrubbed, for each secret: the text itself, its JSON-escaped forms (`\"`, `\\`,
//! `\/`, and `\uXXXX` for non-ASCII as Python's `json.dumps` writes them) and its
//! percent-encoded forms (upper- and lower-case hex, `+` for a space), each replaced by
//! [`MARKER`]; and a secret cut short at the very end of the text (a service that echoes only
//! the first bytes of a request), when at least [`MIN_TAIL`] bytes of it remain.
//!
//! A secret shorter than [`MIN_LEN`] characters is not cut out of the text (that would
//! mangle ordinary words that happen to contain it): a text that contains one is withheld
//! whole ([`WITHHELD`]). No real secret is that short (an IAM password has at least 6
//! characters, an SK 40, tokens hundreds), so in practice this only affects tests.

use std::borrow::Cow;
use std::fmt;

use http::{HeaderMap, HeaderValue};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// What a secret is replaced with.
pub(crate) const MARKER: &str = "[redacted]";
/// What a whole text becomes when it contains a secret shorter than [`MIN_LEN`].
pub(crate) const WITHHELD: &str = "[withheld: the text contains a secret]";
/// Secrets of fewer characters are not cut out of a text: the text is withheld instead.
pub(crate) const MIN_LEN: usize = 4;
/// The shortest beginning of a secret that is cut from the end of a text.
pub(crate) const MIN_TAIL: usize = 6;

/// RFC 3986's unreserved characters stay as they are; everything else is escaped, as
/// `urllib.parse.quote(s, safe="")` and `encodeURIComponent` (but for `!*'()`) do.
const ESCAPED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The secrets of one exchange: what the request carried (sensitive headers, a password or
/// identity token in the body) and the credentials the client held for it. `Debug` prints
/// only how many there are.
#[derive(Clone, Default)]
pub(crate) struct Secrets {
    items: Vec<Item>,
}

#[derive(Clone)]
enum Item {
    Text(Box<str>),
    /// A header value, kept as it is (cloning one is cheap): only turned into text when a
    /// service's message is scrubbed, which is rare.
    Header(HeaderValue),
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secrets")
            .field("count", &self.items.len())
            .finish()
    }
}

/// Headers whose values are secret even when a caller forgot to mark them sensitive.
const SECRET_HEADERS: [&str; 5] = [
    "authorization",
    "x-auth-token",
    "x-security-token",
    "x-metadata-token",
    "x-subject-token",
];

impl Secrets {
    /// No secrets.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Adds a secret (nothing when it is empty).
    pub(crate) fn add(&mut self, secret: &str) {
        if !secret.is_empty() {
            self.items.push(Item::Text(secret.into()));
        }
    }

    /// With a secret added.
    #[cfg(feature = "sources")]
    pub(crate) fn with(mut self, secret: &str) -> Self {
        self.add(secret);
        self
    }

    /// Adds a header value.
    pub(crate) fn add_header(&mut self, value: &HeaderValue) {
        if !value.is_empty() {
            self.items.push(Item::Header(value.clone()));
        }
    }

    /// Adds every header value of `headers` that is marked sensitive, and those of the
    /// headers that always carry a secret (`Authorization`, `X-Auth-Token`,
    /// `X-Security-Token`, `X-Metadata-Token`, `X-Subject-Token`).
    pub(crate) fn add_headers(&mut self, headers: &HeaderMap) {
        for (name, value) in headers {
            if value.is_sensitive() || SECRET_HEADERS.contains(&name.as_str()) {
                self.add_header(value);
            }
        }
    }

    /// Whether there is nothing to scrub.
    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Every secret as text: header values, and the `Signature=` part of a signed
    /// `Authorization` on its own (a gateway may quote only the signature).
    fn texts(&self) -> Vec<&str> {
        let mut texts = Vec::with_capacity(self.items.len() + 1);
        for item in &self.items {
            let text = match item {
                Item::Text(text) => &**text,
                Item::Header(value) => match value.to_str() {
                    Ok(text) => text,
                    // Opaque bytes cannot appear in a text as they are; their escapes are
                    // not worth guessing.
                    Err(_) => continue,
                },
            };
            texts.push(text);
            if let Some((_, rest)) = text.split_once("Signature=") {
                let signature = rest.split([',', ' ']).next().unwrap_or(rest);
                texts.push(signature);
            }
        }
        texts
    }

    /// `text` with every secret replaced by [`MARKER`] (see the module docs).
    pub(crate) fn scrub<'t>(&self, text: &'t str) -> Cow<'t, str> {
        if self.items.is_empty() || text.is_empty() {
            return Cow::Borrowed(text);
        }
        let mut forms: Vec<String> = Vec::new();
        for secret in self.texts() {
            if secret.chars().count() < MIN_LEN {
                if text.contains(secret) {
                    return Cow::Borrowed(WITHHELD);
                }
                continue;
            }
            forms.extend(forms_of(secret));
        }
        // Longest first: a form that contains another (a whole Authorization value and its
        // signature) goes whole.
        forms.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        forms.dedup();
        let mut out = Cow::Borrowed(text);
        for form in &forms {
            if out.contains(form.as_str()) {
                out = Cow::Owned(out.replace(form.as_str(), MARKER));
            }
        }
        for form in &forms {
            if let Some(start) = cut_tail(&out, form) {
                let mut owned = out.into_owned();
                owned.truncate(start);
                owned.push_str(MARKER);
                out = Cow::Owned(owned);
            }
        }
        out
    }

    /// [`scrub`](Self::scrub) for text that is owned already.
    pub(crate) fn scrub_string(&self, text: String) -> String {
        match self.scrub(&text) {
            Cow::Borrowed(same) if same.len() == text.len() => text,
            other => other.into_owned(),
        }
    }

    /// [`scrub`](Self::scrub) for an optional text.
    pub(crate) fn scrub_opt(&self, text: Option<String>) -> Option<String> {
        text.map(|t| self.scrub_string(t))
    }
}

/// The ways `secret` may be written in a service's text: as it is, JSON-escaped, and
/// percent-encoded.
fn forms_of(secret: &str) -> Vec<String> {
    let mut forms = vec![secret.to_owned()];
    if let Ok(quoted) = serde_json::to_string(secret) {
        let json = quoted
            .strip_prefix('"')
            .and_then(|q| q.strip_suffix('"'))
            .unwrap_or(&quoted)
            .to_owned();
        if json.contains('/') {
            forms.push(json.replace('/', "\\/"));
        }
        if !json.is_ascii() {
            let mut ascii = String::with_capacity(json.len() * 2);
            for c in json.chars() {
                if c.is_ascii() {
                    ascii.push(c);
                } else {
                    let mut units = [0u16; 2];
                    for unit in c.encode_utf16(&mut units) {
                        ascii.push_str(&format!("\\u{unit:04x}"));
                    }
                }
            }
            forms.push(ascii);
        }
        forms.push(json);
    }
    let percent = utf8_percent_encode(secret, ESCAPED).to_string();
    if percent != secret {
        forms.push(lowercase_hex(&percent));
        if secret.contains(' ') {
            forms.push(percent.replace("%20", "+"));
        }
        forms.push(percent);
    }
    forms.retain(|f| !f.is_empty());
    forms
}

/// Where a beginning of `form` (at least [`MIN_TAIL`] bytes, but not all of it) ends `text`,
/// if one does.
fn cut_tail(text: &str, form: &str) -> Option<usize> {
    if form.len() <= MIN_TAIL || !form.is_char_boundary(MIN_TAIL) {
        return None;
    }
    let head = form.get(..MIN_TAIL)?;
    // Only the last `form.len() - 1` bytes can hold a beginning cut short.
    let mut from = text.len().saturating_sub(form.len() - 1);
    while !text.is_char_boundary(from) {
        from += 1;
    }
    let window = text.get(from..)?;
    window
        .match_indices(head)
        .map(|(i, _)| from + i)
        .find(|&start| text.get(start..).is_some_and(|rest| form.starts_with(rest)))
}

/// `percent` with lower-case hex digits in its `%XX` escapes, as some encoders write them.
fn lowercase_hex(percent: &str) -> String {
    let mut out = String::with_capacity(percent.len());
    let mut after_percent = 0;
    for c in percent.chars() {
        if c == '%' {
            after_percent = 2;
            out.push(c);
        } else if after_percent > 0 {
            after_percent -= 1;
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    const TOKEN: &str = "MIIEhQYJKoZIhvcNAQcCoIIEdjCCBHICAQExDTALBglghkgBZQMEAgEw+/x=";

    fn secrets(list: &[&str]) -> Secrets {
        let mut s = Secrets::new();
        for secret in list {
            s.add(secret);
        }
        s
    }

    #[test]
    fn every_form_of_a_secret_is_cut_out() {
        let password = "pä ss\"w/rd";
        let s = secrets(&[password, TOKEN]);
        for (name, text, expected) in [
            ("raw", format!("bad {password}!"), "bad [redacted]!"),
            (
                "json escaped",
                r#"{"password":"pä ss\"w/rd"}"#.to_owned(),
                r#"{"password":"[redacted]"}"#,
            ),
            (
                "json with \\/",
                r#"{"password":"pä ss\"w\/rd"}"#.to_owned(),
                r#"{"password":"[redacted]"}"#,
            ),
            (
                "python's ensure_ascii",
                r#"{"password": "p\u00e4 ss\"w/rd"}"#.to_owned(),
                r#"{"password": "[redacted]"}"#,
            ),
            (
                "percent upper",
                "password=p%C3%A4%20ss%22w%2Frd&x=1".to_owned(),
                "password=[redacted]&x=1",
            ),
            (
                "percent lower",
                "password=p%c3%a4%20ss%22w%2frd".to_owned(),
                "password=[redacted]",
            ),
            (
                "form plus",
                "password=p%C3%A4+ss%22w%2Frd".to_owned(),
                "password=[redacted]",
            ),
            (
                "twice, and a token",
                format!("{TOKEN} {password} {TOKEN}"),
                "[redacted] [redacted] [redacted]",
            ),
            (
                "a token cut short at the end",
                format!("echo: X-Auth-Token: {}", &TOKEN[..20]),
                "echo: X-Auth-Token: [redacted]",
            ),
            (
                "nothing secret",
                "The username or password is wrong.".to_owned(),
                "The username or password is wrong.",
            ),
        ] {
            assert_eq!(s.scrub(&text), expected, "{name}");
        }
    }

    #[test]
    fn a_short_secret_withholds_the_text_instead_of_mangling_it() {
        let s = secrets(&["abc"]);
        assert_eq!(s.scrub("fine"), "fine");
        assert_eq!(s.scrub("xabcx"), WITHHELD);
        // Four characters are cut out like any other.
        assert_eq!(secrets(&["abcd"]).scrub("xabcdx"), "x[redacted]x");
    }

    #[test]
    fn a_tail_shorter_than_min_tail_stays() {
        let s = secrets(&[TOKEN]);
        assert_eq!(s.scrub("ends MIIEh"), "ends MIIEh");
        assert_eq!(s.scrub("ends MIIEhQ"), "ends [redacted]");
    }

    #[test]
    fn headers_and_the_signature_alone() {
        let mut headers = HeaderMap::new();
        let mut auth = HeaderValue::from_static(
            "SDK-HMAC-SHA256 Access=AKEXAMPLE, SignedHeaders=host;x-sdk-date, Signature=0123456789abcdef0123",
        );
        auth.set_sensitive(true);
        headers.insert("authorization", auth);
        headers.insert("x-auth-token", HeaderValue::from_static("unmarkedtoken1"));
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        let mut s = Secrets::new();
        s.add_headers(&headers);
        assert_eq!(
            s.scrub("sig 0123456789abcdef0123 token unmarkedtoken1 type application/json"),
            "sig [redacted] token [redacted] type application/json"
        );
        assert!(!format!("{s:?}").contains("unmarked"));
    }

    /// What a KMS call (or its project discovery) ends with when the answer echoes the
    /// request: every way of looking at the error, joined.
    fn shown(err: &crate::call::Error) -> String {
        let response = err.response();
        format!(
            "{err} | {err:?} | {:?} | {:?} | {:?} | {:?} | {:?}",
            err.message(),
            response.and_then(|r| r.code()),
            response.and_then(|r| r.request_id()),
            response.and_then(|r| r.detail()),
            std::error::Error::source(err).map(|s| s.to_string()),
        )
    }

    fn now() -> crate::call::Now {
        crate::call::Now::new(
            std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_795_334_400),
            std::time::Instant::now(),
            0.0,
        )
    }

    /// The request's headers, each as `name: value`, as a debugging gateway echoes them.
    fn echo(request: &http::Request<Vec<u8>>) -> String {
        request
            .headers()
            .iter()
            .map(|(n, v)| format!("{n}: {}", v.to_str().unwrap()))
            .collect::<Vec<_>>()
            .join("; ")
    }

    #[test]
    fn a_kms_answer_that_echoes_the_request_shows_no_secret() {
        const SK: &str = "SKEXAMPLEsecretkey00000000000000000000000";
        const SECURITY: &str = "gQpjbi1ub3J0aC00jD0DHxz0jGdfSecurityTokenExample";
        let aksk: crate::Credentials = crate::AkSk::new("AKEXAMPLE", SK)
            .unwrap()
            .with_security_token(SECURITY)
            .unwrap()
            .into();
        let token: crate::Credentials = crate::AuthToken::new(TOKEN).unwrap().into();
        let endpoint = crate::Endpoint::parse("http://127.0.0.1:1").unwrap();
        let project = crate::ProjectId::new("p1").unwrap();
        for (name, credentials, held) in [
            ("ak/sk", &aksk, &[SK, SECURITY][..]),
            ("iam token", &token, &[TOKEN][..]),
        ] {
            let config =
                crate::ClientConfig::new(endpoint.clone(), project.clone(), credentials.clone());
            let mut call = crate::call::Call::new(&config, now());
            let attempt = call.start_attempt(now(), credentials).unwrap();
            let headers = echo(attempt.request());
            let signature = headers
                .split("Signature=")
                .nth(1)
                .map(|s| s.split(';').next().unwrap().to_owned());
            let mut secrets: Vec<String> = held.iter().map(|s| (*s).to_owned()).collect();
            secrets.extend(signature.clone());
            let last = held.last().unwrap();
            // The message quotes every header, the SK, and the signature alone; the request id
            // and code quote a token too.
            let message = format!(
                "debug: {headers}; held={}; sig={}",
                held.join(","),
                signature.as_deref().unwrap_or("none")
            );
            let body = serde_json::json!({
                "error_code": format!("APIGW.{last}"),
                "error_msg": message,
                "request_id": last,
            })
            .to_string();
            let step = call.on_response(
                http::StatusCode::UNAUTHORIZED,
                &HeaderMap::new(),
                body.as_bytes(),
                now(),
            );
            let crate::call::Step::Done(Err(err)) = step else {
                panic!("{name}: the call should end")
            };
            let shown = shown(&err);
            assert!(shown.contains(MARKER), "{name}: {shown}");
            for secret in &secrets {
                assert!(
                    !shown.contains(secret.as_str()),
                    "{name}: {secret} in {shown}"
                );
            }
            assert!(shown.contains("debug: "), "{name}: the rest stays: {shown}");
        }

        // A count of the wrong type: serde_json quotes it in the detail and the cause.
        let config = crate::ClientConfig::new(endpoint, project, aksk.clone());
        let mut call = crate::call::Call::new(&config, now());
        call.start_attempt(now(), &aksk).unwrap();
        let body = format!(r#"{{"instance_num":"{SECURITY}"}}"#);
        let crate::call::Step::Done(Err(err)) = call.on_response(
            http::StatusCode::OK,
            &HeaderMap::new(),
            body.as_bytes(),
            now(),
        ) else {
            panic!("a malformed count ends the call")
        };
        let shown = shown(&err);
        assert!(shown.contains(MARKER), "{shown}");
        assert!(!shown.contains(SECURITY), "{shown}");
    }

    #[test]
    fn project_discovery_that_echoes_the_request_shows_no_secret() {
        const SK: &str = "SKEXAMPLEsecretkey00000000000000000000000";
        let credentials: crate::Credentials = crate::AkSk::new("AKEXAMPLE", SK).unwrap().into();
        let config = crate::ClientConfig::discover_project(
            crate::Endpoint::parse("http://127.0.0.1:1").unwrap(),
            crate::Region::new("cn-north-4").unwrap(),
            crate::Endpoint::parse("http://127.0.0.1:2").unwrap(),
            crate::credentials::Provider::fixed(credentials.clone()),
        );
        let mut call = crate::call::Call::new(&config, now());
        let attempt = call.project_attempt(now(), &credentials).unwrap();
        let headers = echo(attempt.request());
        let body = serde_json::json!({
            "error_code": "IAM.0001",
            "error_msg": format!("{headers} sk={SK}"),
        })
        .to_string();
        let mut answer = HeaderMap::new();
        answer.insert(
            "x-iam-trace-id",
            HeaderValue::from_static("SKEXAMPLEsecretkey00000000000000000000000"),
        );
        let err = call
            .on_project_response(http::StatusCode::FORBIDDEN, &answer, body.as_bytes())
            .unwrap_err();
        let shown = format!("{err} | {err:?}");
        let signature = headers.split("Signature=").nth(1).unwrap();
        assert!(shown.contains(MARKER), "{shown}");
        for secret in [SK, signature] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
    }

    #[test]
    fn credentials_give_the_sk_and_tokens_but_not_the_ak() {
        let aksk = crate::AkSk::new("AKEXAMPLE", "SKEXAMPLEsecret")
            .unwrap()
            .with_security_token("SECURITYTOKEN1")
            .unwrap();
        let s = crate::Credentials::from(aksk).secrets_of_request(&http::HeaderMap::new());
        assert_eq!(
            s.scrub("AKEXAMPLE SKEXAMPLEsecret SECURITYTOKEN1"),
            "AKEXAMPLE [redacted] [redacted]"
        );
        let s = crate::Credentials::from(crate::AuthToken::new(TOKEN).unwrap())
            .secrets_of_request(&http::HeaderMap::new());
        assert_eq!(s.scrub(TOKEN), MARKER);
    }
}
