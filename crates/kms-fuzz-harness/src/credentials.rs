//! The harnesses of the `credentials` module's parsers of untrusted bytes: the credential
//! document, the profile file and KooCLI's config.
//!
//! Secrets are checked differentially: every secret value of the input (`secret`, `sk`,
//! `securityToken`...) is replaced by one of the same length and character classes
//! ([`disguise`]), which no validation can tell apart, and the parser must then give the
//! same result, error message and `Debug` output. A result that changes showed the value.
//! Unlike looking for the value in the output, this cannot be fooled by a secret that
//! happens to spell part of a message ("credential document") or a profile name.

use std::error::Error as StdError;
use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use kms_proto::credentials::{
    DocumentErrorKind, DocumentField, MAX_DOCUMENT_LEN, MAX_PROFILE_LEN, Profile, ProfileError,
    ProfileErrorKind, ProfileSection, parse_document, parse_koocli, parse_profile,
};
use kms_proto::{AkSk, Credentials};

/// The character classes the validators see, kept; the characters, changed: ASCII letters
/// rotated by 13, digits by 5, and most punctuation shifted one place along [`PUNCTUATION`].
/// Quotes, `,`, `;`, `=` and `\` stay (quotes end a profile value, the others matter to an
/// AK or to JSON), as do whitespace, control characters and non-ASCII text.
fn disguise(value: &str) -> String {
    value
        .chars()
        .map(|c| match c {
            'a'..='z' => rotate(c, b'a', 26, 13),
            'A'..='Z' => rotate(c, b'A', 26, 13),
            '0'..='9' => rotate(c, b'0', 10, 5),
            _ => match PUNCTUATION.find(c) {
                Some(i) => PUNCTUATION[i + 1..]
                    .chars()
                    .next()
                    .or_else(|| PUNCTUATION.chars().next())
                    .unwrap(),
                None => c,
            },
        })
        .collect()
}

const PUNCTUATION: &str = "!#$%&()*+-./:<>?@[]^_`{|}~";

fn rotate(c: char, base: u8, n: u8, by: u8) -> char {
    char::from(base + (c as u8 - base + by) % n)
}

/// Every string under one of `keys`, anywhere in `value`, disguised.
fn disguise_json(value: &mut Value, keys: &[&str]) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                match v {
                    Value::String(s) if keys.contains(&key.as_str()) => *s = disguise(s),
                    _ => disguise_json(v, keys),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| disguise_json(v, keys)),
        _ => {}
    }
}

/// `data` parsed as JSON (after a BOM), re-serialized as is and with the values of `keys`
/// disguised; `None` when it is not JSON.
fn json_pair(data: &[u8], keys: &[&str]) -> Option<(Vec<u8>, Vec<u8>)> {
    let data = data.strip_prefix(b"\xef\xbb\xbf").unwrap_or(data);
    let mut value: Value = serde_json::from_slice(data).ok()?;
    let plain = serde_json::to_vec(&value).unwrap();
    disguise_json(&mut value, keys);
    Some((plain, serde_json::to_vec(&value).unwrap()))
}

/// Display, alternate and plain Debug of an error and of every error under it.
pub(crate) fn render_error(e: &(dyn StdError + 'static)) -> String {
    let mut shown = format!("{e} | {e:?} | {e:#?}");
    let mut source = e.source();
    while let Some(s) = source {
        write!(shown, " | {s} | {s:?}").unwrap();
        source = s.source();
    }
    shown
}

pub(crate) fn one_line(what: &str, shown: &str) {
    assert!(
        !shown.contains(['\n', '\r']),
        "{what} spans lines: {shown:?}"
    );
}

pub(crate) fn nanos(t: SystemTime) -> i128 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i128::try_from(d.as_nanos()).unwrap(),
        Err(e) => -i128::try_from(e.duration().as_nanos()).unwrap(),
    }
}

/// What a credential document holds: AK, SK, security token, expiry (ns since 1970).
type Document = (String, String, String, i128);

/// What [`parse_document`] must give, by the rules its documentation states.
fn expected_document(body: &[u8]) -> Result<Document, DocumentErrorKind> {
    if body.len() > MAX_DOCUMENT_LEN {
        return Err(DocumentErrorKind::TooLarge {
            len: body.len(),
            max: MAX_DOCUMENT_LEN,
        });
    }
    let value: Value = serde_json::from_slice(body).map_err(|_| DocumentErrorKind::NotJson)?;
    let top = value
        .as_object()
        .ok_or(DocumentErrorKind::NotAnObject { key: None })?;
    let fields = match ["credential", "credentials"]
        .into_iter()
        .find_map(|key| top.get(key).map(|v| (key, v)))
    {
        Some((key, v)) => v
            .as_object()
            .ok_or(DocumentErrorKind::NotAnObject { key: Some(key) })?,
        None => top,
    };
    let pick = |field: DocumentField| -> Result<(&'static str, &str), DocumentErrorKind> {
        for &key in field.spellings() {
            match fields.get(key) {
                None | Some(Value::Null) => {}
                Some(Value::String(s)) if s.is_empty() => {}
                Some(Value::String(s)) => return Ok((key, s)),
                Some(_) => return Err(DocumentErrorKind::NotAString { field, key }),
            }
        }
        Err(DocumentErrorKind::Missing(field))
    };
    let (ak_key, ak) = pick(DocumentField::Access)?;
    let (sk_key, sk) = pick(DocumentField::Secret)?;
    let (token_key, token) = pick(DocumentField::SecurityToken)?;
    let (expiry_key, expiry) = pick(DocumentField::ExpiresAt)?;
    AkSk::new(ak, sk)
        .map_err(|e| {
            let (field, key) = if e.input() == kms_proto::Input::AccessKey {
                (DocumentField::Access, ak_key)
            } else {
                (DocumentField::Secret, sk_key)
            };
            DocumentErrorKind::Invalid { field, key }
        })?
        .with_security_token(token)
        .map_err(|_| DocumentErrorKind::Invalid {
            field: DocumentField::SecurityToken,
            key: token_key,
        })?;
    let at = OffsetDateTime::parse(expiry, &Rfc3339)
        .map_err(|_| DocumentErrorKind::InvalidExpiry { key: expiry_key })?;
    Ok((
        ak.to_owned(),
        sk.to_owned(),
        token.to_owned(),
        at.unix_timestamp_nanos(),
    ))
}

fn render_document(body: &[u8]) -> String {
    match parse_document(body) {
        Ok(creds) => format!("ok {creds:?} {creds:#?}"),
        Err(e) => format!("err {}", render_error(&e)),
    }
}

/// A credential document (the body ECS metadata and CCE pod identity answer with).
///
/// The result must be what the documented rules give (spellings, envelope, the first
/// non-empty value, AK/SK validation, RFC 3339 expiry), down to the error kind; on success
/// the AK, SK and token round-trip and the expiry is the instant written; errors are one
/// line; and neither an error nor the credentials' `Debug` depends on (so shows) a `secret`
/// or `securitytoken` value, in any spelling.
pub fn credential_document(data: &[u8]) {
    let result = parse_document(data);
    match (&result, expected_document(data)) {
        (Ok(creds), Ok((ak, sk, token, expiry))) => {
            assert_eq!(creds.aksk().access_key(), ak, "the AK does not round-trip");
            let expected = AkSk::new(&ak, &sk)
                .unwrap()
                .with_security_token(&token)
                .unwrap();
            assert!(
                *creds.aksk() == expected,
                "the SK or the security token does not round-trip"
            );
            assert!(creds.aksk().has_security_token());
            assert_eq!(
                nanos(creds.expires_at()),
                expiry,
                "the expiry is not the instant written"
            );
            let (aksk, at) = creds.clone().into_parts();
            assert!(aksk == expected && at == creds.expires_at());
            let shown = format!("{creds:?}");
            assert!(
                shown.matches("[redacted]").count() >= 2,
                "the SK or the token is not redacted: {shown}"
            );
        }
        (Err(e), Err(kind)) => {
            assert_eq!(*e.kind(), kind, "the wrong error for this document");
            one_line("a document error", &e.to_string());
            let _ = render_error(e);
        }
        (Ok(_), Err(kind)) => panic!("a document accepted, though {kind:?}"),
        (Err(e), Ok(_)) => panic!("a valid document refused: {e} ({:?})", e.kind()),
    }
    let secrets: Vec<&str> = [DocumentField::Secret, DocumentField::SecurityToken]
        .into_iter()
        .flat_map(|f| f.spellings().iter().copied())
        .collect();
    if let Some((plain, disguised)) = json_pair(data, &secrets) {
        assert_eq!(
            render_document(&plain),
            render_document(&disguised),
            "the result shows a secret or a security token"
        );
    }
}

/// The profile file with its `sk` and `security_token` values disguised, or `None` when it
/// is not UTF-8 (then only its line number can be shown). Lines are found as
/// [`parse_profile`] finds them.
fn disguise_profile(file: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(file).ok()?;
    let (bom, text) = match text.strip_prefix('\u{feff}') {
        Some(rest) => ("\u{feff}", rest),
        None => ("", text),
    };
    let mut out = String::from(bom);
    for line in text.split_inclusive('\n') {
        let start = line.len() - line.trim_start().len();
        let trimmed = line.trim();
        let is_pair = !(trimmed.is_empty()
            || trimmed.starts_with(['#', ';', '['])
            || trimmed.find(['=', ':']).is_none());
        let sep = line[start..].find(['=', ':']).map(|at| start + at);
        match sep {
            Some(sep) if is_pair => {
                let key = line[..sep].trim().to_ascii_lowercase();
                if key == "sk" || key == "security_token" {
                    out.push_str(&line[..=sep]);
                    out.push_str(&disguise(&line[sep + 1..]));
                } else {
                    out.push_str(line);
                }
            }
            _ => out.push_str(line),
        }
    }
    Some(out)
}

fn render_profile(result: &Result<Profile, ProfileError>) -> String {
    match result {
        Ok(profile) => format!("ok {profile:?}"),
        Err(e) => format!("err {}", render_error(e)),
    }
}

/// The laws of any profile or KooCLI result.
fn check_profile(result: &Result<Profile, ProfileError>) {
    match result {
        Ok(profile) => {
            assert_eq!(
                profile.credentials(),
                profile.aksk().cloned().map(Credentials::AkSk)
            );
            assert_eq!(
                profile.idp_id().is_some(),
                profile.id_token_file().is_some()
            );
            assert_eq!(
                profile.is_empty(),
                profile.aksk().is_none()
                    && profile.project_id().is_none()
                    && profile.region().is_none()
                    && profile.domain_id().is_none()
                    && profile.iam_endpoint().is_none()
                    && profile.idp_id().is_none()
            );
            if let Some(aksk) = profile.aksk() {
                let shown = format!("{profile:?}");
                assert!(shown.contains("[redacted]"), "the SK is not redacted");
                assert!(!aksk.access_key().is_empty());
            }
        }
        Err(e) => {
            one_line("a profile error", &e.to_string());
            let _ = render_error(e);
            let with_path = e.clone().with_path("/home/u/.huaweicloud/credentials");
            assert!(
                with_path
                    .to_string()
                    .starts_with("/home/u/.huaweicloud/credentials: ")
            );
            assert_eq!(with_path.kind(), e.kind());
        }
    }
}

/// An error about the file as a whole, whichever section is asked for.
fn is_file_error(kind: &ProfileErrorKind) -> bool {
    matches!(
        kind,
        ProfileErrorKind::TooLarge { .. }
            | ProfileErrorKind::NotUtf8 { .. }
            | ProfileErrorKind::Syntax { .. }
            | ProfileErrorKind::OutsideSection { .. }
            | ProfileErrorKind::Duplicate { .. }
            | ProfileErrorKind::DuplicateSection { .. }
    )
}

/// A profile file and a KooCLI config. The first byte: bit 0 the section asked of the
/// profile file (`[basic]`, `[global]`); bits 1-2 the KooCLI profile (its current one,
/// `default`, `p1`, or the name up to the first `0xFF` after this byte). The rest is the
/// file, given to both parsers.
///
/// Laws: no panic; errors are one line; neither an error nor a profile's `Debug` depends
/// on (so shows) an `sk`, `security_token`, `secretAccessKey` or `securityToken` value; a
/// BOM, and CRLF line ends, change nothing in a profile file, a BOM nothing in a KooCLI
/// config; an error about the file as a whole comes whichever section is asked for.
pub fn profile_files(data: &[u8]) {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let section = if first & 1 == 0 {
        ProfileSection::Basic
    } else {
        ProfileSection::Global
    };
    let other = match section {
        ProfileSection::Basic => ProfileSection::Global,
        ProfileSection::Global => ProfileSection::Basic,
    };
    let (name, file): (Option<String>, &[u8]) = match (first >> 1) & 3 {
        0 => (None, rest),
        1 => (Some("default".into()), rest),
        2 => (Some("p1".into()), rest),
        _ => {
            let f = crate::fields(rest, 0xFF, 2);
            (Some(crate::text(f[0])), f[1])
        }
    };

    let profile = parse_profile(file, section);
    check_profile(&profile);
    let in_other = parse_profile(file, other);
    check_profile(&in_other);
    for (a, b) in [(&profile, &in_other), (&in_other, &profile)] {
        if let Err(e) = a
            && is_file_error(e.kind())
        {
            assert!(b.is_err(), "{e} only when asking for one section");
        }
    }
    if let Some(disguised) = disguise_profile(file) {
        assert_eq!(
            render_profile(&profile),
            render_profile(&parse_profile(disguised.as_bytes(), section)),
            "the result shows an sk or a security_token"
        );
    }
    if !file.starts_with(b"\xef\xbb\xbf") && file.len() + 3 <= MAX_PROFILE_LEN {
        let bom = [b"\xef\xbb\xbf", file].concat();
        assert_eq!(
            parse_profile(&bom, section),
            profile,
            "a BOM changed the result"
        );
        assert_eq!(
            parse_koocli(&bom, name.as_deref()),
            parse_koocli(file, name.as_deref()),
            "a BOM changed the KooCLI result"
        );
    }
    if file.len() * 2 <= MAX_PROFILE_LEN {
        let mut crlf = Vec::with_capacity(file.len() * 2);
        for &b in file {
            if b == b'\n' {
                crlf.push(b'\r');
            }
            crlf.push(b);
        }
        assert_eq!(
            parse_profile(&crlf, section),
            profile,
            "CRLF line ends changed the result"
        );
    }

    let koocli = parse_koocli(file, name.as_deref());
    check_profile(&koocli);
    if let Some((plain, disguised)) = json_pair(file, &["secretAccessKey", "securityToken"]) {
        assert_eq!(
            render_profile(&parse_koocli(&plain, name.as_deref())),
            render_profile(&parse_koocli(&disguised, name.as_deref())),
            "the KooCLI result shows a secretAccessKey or a securityToken"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disguise_keeps_lengths_and_classes() {
        let s = "Ab9 \"x\",;=\\é!~\u{7f}";
        let d = disguise(s);
        assert_eq!(d.len(), s.len());
        assert_ne!(d, s);
        for (a, b) in s.chars().zip(d.chars()) {
            assert_eq!(a.is_ascii_alphabetic(), b.is_ascii_alphabetic());
            assert_eq!(a.is_ascii_digit(), b.is_ascii_digit());
            assert_eq!(a.is_ascii_graphic(), b.is_ascii_graphic());
            assert_eq!(a.is_whitespace(), b.is_whitespace());
            assert_eq!(a.is_control(), b.is_control());
            assert_eq!(a.is_ascii_uppercase(), b.is_ascii_uppercase());
        }
        for c in PUNCTUATION.chars() {
            assert!(c.is_ascii_punctuation() && !"\"',;=\\".contains(c));
            assert_ne!(disguise(&c.to_string()), c.to_string());
        }
    }

    #[test]
    fn disguise_profile_changes_only_secret_values() {
        let file = "\u{feff}[basic]\r\nak = AK1\r\nSK : sk-Secret\n#sk = x\nsecurity_token=T0k\n";
        assert_eq!(
            disguise_profile(file.as_bytes()).unwrap(),
            "\u{feff}[basic]\r\nak = AK1\r\nSK : fx.Frperg\n#sk = x\nsecurity_token=G5x\n"
        );
    }
}
