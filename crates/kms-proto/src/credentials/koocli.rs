//! KooCLI's config file (`~/.hcloud/config.json`): see [`parse_koocli`].

use serde_json::{Map, Value};

use super::profile::{KeyNames, Profile, ProfileError, ProfileErrorKind, RawProfile};

/// The largest KooCLI config file accepted, in bytes (1 MiB).
///
/// Needs the `sources` feature (on by default).
pub const MAX_KOOCLI_LEN: usize = 1024 * 1024;

const NAMES: KeyNames = KeyNames {
    ak: "accessKeyId",
    sk: "secretAccessKey",
    security_token: "securityToken",
    project_id: "projectId",
    region: "region",
    domain_id: "domainId",
};

/// Reads the profile named `profile` (or, when `None`, the one `current` names) from a
/// KooCLI config file.
///
/// The file is the one KooCLI (`hcloud configure`) writes and the Terraform provider reads
/// (`shared_config_file`, `profile`):
///
/// ```json
/// {
///   "language": "en", "current": "default", "authEncrypt": "false",
///   "profiles": [{
///     "name": "default", "mode": "AKSK",
///     "accessKeyId": "...", "secretAccessKey": "...", "securityToken": "",
///     "region": "cn-north-4", "projectId": "", "domainId": "",
///     "readTimeout": 10, "connectTimeout": 5, "retryCount": 0, "skipSecureVerify": "false"
///   }]
/// }
/// ```
///
/// It is read into the same [`Profile`] as [`parse_profile`](super::parse_profile) gives: `accessKeyId`,
/// `secretAccessKey`, `securityToken`, `region`, `projectId` and `domainId`. Other fields
/// (timeouts, agency and SSO settings...) are ignored. Only profiles in `AKSK` mode (or
/// with no mode, as hand-written files have) are supported; `SSO`, `ecsAgency` and the
/// other modes are refused by name.
///
/// KooCLI encrypts the keys by default, which makes them useless outside KooCLI; the
/// Terraform provider asks users to run `hcloud configure set --cli-auth-encrypt=false`.
/// A file is taken as encrypted when its `authEncrypt` is `true` (or `"true"`), or, when
/// there is no `authEncrypt`, when it has a non-empty `crypter` (older KooCLI versions).
///
/// No error ever shows a value of the file other than profile names and modes.
///
/// Names are compared exactly, as KooCLI and the Terraform provider do.
///
/// # Errors
/// [`ProfileError`] (without a path: add it with [`ProfileError::with_path`]): the file is
/// larger than [`MAX_KOOCLI_LEN`] or not a KooCLI config; no profile was named and
/// `current` is empty; the profile does not exist (the error lists those that do); its
/// mode is not `AKSK`; its keys are encrypted; or a value is invalid or lacks its
/// companion (`accessKeyId` without `secretAccessKey`...).
///
/// Needs the `sources` feature (on by default).
pub fn parse_koocli(bytes: &[u8], profile: Option<&str>) -> Result<Profile, ProfileError> {
    if bytes.len() > MAX_KOOCLI_LEN {
        return Err(ProfileError::new(ProfileErrorKind::TooLarge {
            len: bytes.len(),
            max: MAX_KOOCLI_LEN,
        }));
    }
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    // Parsed as a `Value`, not into a struct: serde's type-mismatch messages quote the
    // offending value, which could be a secret; a syntax error quotes nothing.
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| ProfileError::not_json("JSON", &e))?;
    let top = value
        .as_object()
        .ok_or_else(|| not_koocli("a JSON object"))?;
    let profiles = top
        .get("profiles")
        .and_then(Value::as_array)
        .ok_or_else(|| not_koocli("a JSON object with a `profiles` list"))?;

    let wanted = match profile {
        Some(name) => name,
        None => match top.get("current") {
            None | Some(Value::Null) => "",
            Some(Value::String(current)) => current,
            Some(_) => return Err(not_koocli("`current` to be a string")),
        },
    };
    if wanted.is_empty() {
        return Err(ProfileError::new(ProfileErrorKind::NoCurrentProfile));
    }

    let mut names = Vec::with_capacity(profiles.len());
    let mut found = None;
    for entry in profiles {
        let entry = entry
            .as_object()
            .ok_or_else(|| not_koocli("each profile to be a JSON object"))?;
        let name = match entry.get("name") {
            Some(Value::String(name)) => name.as_str(),
            None | Some(Value::Null) => "",
            Some(_) => return Err(not_koocli("each profile's `name` to be a string")),
        };
        if name == wanted && found.is_none() {
            found = Some(entry);
        }
        names.push(name.to_owned());
    }
    let Some(entry) = found else {
        return Err(ProfileError::new(ProfileErrorKind::ProfileNotFound {
            name: wanted.to_owned(),
            available: names,
        }));
    };

    match entry.get("mode") {
        None | Some(Value::Null) => {}
        Some(Value::String(mode)) if mode.is_empty() || mode.eq_ignore_ascii_case("AKSK") => {}
        Some(Value::String(mode)) => {
            return Err(ProfileError::new(ProfileErrorKind::UnsupportedMode {
                profile: wanted.to_owned(),
                mode: mode.clone(),
            }));
        }
        Some(_) => return Err(malformed("mode")),
    }

    let raw = RawProfile {
        ak: string(entry, NAMES.ak)?,
        sk: string(entry, NAMES.sk)?,
        security_token: string(entry, NAMES.security_token)?,
        project_id: string(entry, NAMES.project_id)?,
        region: string(entry, NAMES.region)?,
        domain_id: string(entry, NAMES.domain_id)?,
        ..RawProfile::default()
    };
    if (raw.ak.is_some() || raw.sk.is_some()) && is_encrypted(top) {
        return Err(ProfileError::new(ProfileErrorKind::Encrypted {
            profile: wanted.to_owned(),
        }));
    }
    raw.validate(&NAMES)
}

/// Whether KooCLI encrypted the keys of this file (see [`parse_koocli`]).
fn is_encrypted(top: &Map<String, Value>) -> bool {
    match top.get("authEncrypt") {
        Some(Value::Bool(on)) => *on,
        Some(Value::String(on)) => !on.eq_ignore_ascii_case("false"),
        _ => matches!(top.get("crypter"), Some(Value::String(c)) if !c.is_empty()),
    }
}

/// A string field's value: `None` when absent, `null` or empty.
fn string<'a>(
    entry: &'a Map<String, Value>,
    key: &'static str,
) -> Result<Option<(Option<usize>, &'a str)>, ProfileError> {
    match entry.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(v)) if v.is_empty() => Ok(None),
        Some(Value::String(v)) => Ok(Some((None, v))),
        Some(_) => Err(malformed(key)),
    }
}

fn malformed(key: &'static str) -> ProfileError {
    ProfileError::new(ProfileErrorKind::Malformed {
        line: None,
        key,
        expected: "a string",
    })
}

fn not_koocli(expected: &'static str) -> ProfileError {
    ProfileError::new(ProfileErrorKind::NotKooCli { expected })
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )]

    use std::error::Error as _;

    use super::*;
    use crate::credentials::AkSk;
    use crate::input::{ProjectId, Region};
    use proptest::prelude::*;
    use serde_json::json;

    const AK: &str = "QTWAOYTTINDUT2QVKYUC";
    const SK: &str = "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc";
    const TOKEN: &str = "gQpjbi1ub3J0aC00jD0DHxz0jGdfSecurityTokenExample";
    const PROJECT: &str = "0dea2644dc80d5d22ff1c01e3ebea6fc";
    const DOMAIN: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90";

    /// A profile as `hcloud configure init` writes it with `--cli-auth-encrypt=false`.
    fn aksk_profile(name: &str, ak: &str) -> Value {
        json!({
            "name": name, "mode": "AKSK",
            "accessKeyId": ak, "secretAccessKey": SK, "securityToken": "",
            "xAuthToken": "", "expiresAt": "",
            "region": "cn-north-4", "projectId": PROJECT, "domainId": "",
            "skipSecureVerify": "false", "readTimeout": 10, "connectTimeout": 5, "retryCount": 0,
            "agencyDomainName": "", "agencyName": "",
        })
    }

    fn file(current: &str, profiles: Vec<Value>) -> Vec<u8> {
        serde_json::to_vec_pretty(&json!({
            "language": "en", "current": current, "authEncrypt": "false",
            "crypter": "ukV7cEW+x7gdBu2QeU1rZ9xIRk2u9nCi", "nonce": "BFpEvOxq0RkTXSrh",
            "profiles": profiles,
        }))
        .unwrap()
    }

    /// What a parsed profile holds, as plain text.
    #[derive(Debug, PartialEq)]
    struct Seen {
        ak: Option<String>,
        token: bool,
        project_id: Option<String>,
        region: Option<String>,
        domain_id: Option<String>,
    }

    fn seen(p: &Profile) -> Seen {
        Seen {
            ak: p.aksk().map(|a| a.access_key().to_owned()),
            token: p.aksk().is_some_and(AkSk::has_security_token),
            project_id: p.project_id().map(|v| v.as_str().to_owned()),
            region: p.region().map(|v| v.as_str().to_owned()),
            domain_id: p.domain_id().map(str::to_owned),
        }
    }

    fn plain(ak: &str) -> Seen {
        Seen {
            ak: Some(ak.to_owned()),
            token: false,
            project_id: Some(PROJECT.to_owned()),
            region: Some("cn-north-4".to_owned()),
            domain_id: None,
        }
    }

    #[test]
    fn reads_aksk_profiles() {
        let two = || vec![aksk_profile("default", AK), aksk_profile("prod", "PRODAK")];
        let mut with_token = aksk_profile("tmp", AK);
        with_token["securityToken"] = json!(TOKEN);
        with_token["domainId"] = json!(DOMAIN);
        with_token["projectId"] = Value::Null;
        let mut no_mode = aksk_profile("hand", AK);
        no_mode.as_object_mut().unwrap().remove("mode");
        let mut lower_mode = aksk_profile("lower", AK);
        lower_mode["mode"] = json!("aksk");
        let mut bom = b"\xef\xbb\xbf".to_vec();
        bom.extend(file("default", two()));
        let cases: Vec<(&str, Vec<u8>, Option<&str>, Seen)> = vec![
            ("current", file("default", two()), None, plain(AK)),
            (
                "current names the second",
                file("prod", two()),
                None,
                plain("PRODAK"),
            ),
            (
                "named overrides current",
                file("default", two()),
                Some("prod"),
                plain("PRODAK"),
            ),
            ("utf-8 bom", bom, None, plain(AK)),
            (
                "a security token and a domain",
                file("tmp", vec![with_token]),
                None,
                Seen {
                    ak: Some(AK.to_owned()),
                    token: true,
                    project_id: None,
                    region: Some("cn-north-4".to_owned()),
                    domain_id: Some(DOMAIN.to_owned()),
                },
            ),
            ("no mode", file("hand", vec![no_mode]), None, plain(AK)),
            (
                "lower-case mode",
                file("lower", vec![lower_mode]),
                None,
                plain(AK),
            ),
            (
                "crypter kept but encryption off",
                file("default", two()),
                Some("default"),
                plain(AK),
            ),
            (
                "the minimal hand-written file",
                serde_json::to_vec(&json!({"current": "x", "profiles": [
                    {"name": "x", "accessKeyId": AK, "secretAccessKey": SK}
                ]}))
                .unwrap(),
                None,
                Seen {
                    ak: Some(AK.to_owned()),
                    token: false,
                    project_id: None,
                    region: None,
                    domain_id: None,
                },
            ),
            (
                "a profile without keys",
                serde_json::to_vec(&json!({"current": "x", "profiles": [
                    {"name": "x", "mode": "AKSK", "region": "cn-north-4"}
                ]}))
                .unwrap(),
                None,
                Seen {
                    ak: None,
                    token: false,
                    project_id: None,
                    region: Some("cn-north-4".to_owned()),
                    domain_id: None,
                },
            ),
            (
                "the first of two same-named profiles",
                file(
                    "default",
                    vec![
                        aksk_profile("default", AK),
                        aksk_profile("default", "OTHER"),
                    ],
                ),
                None,
                plain(AK),
            ),
        ];
        for (name, bytes, wanted, expected) in cases {
            let profile =
                parse_koocli(&bytes, wanted).unwrap_or_else(|e| panic!("case {name:?}: {e}"));
            assert_eq!(seen(&profile), expected, "case {name:?}");
        }
    }

    #[test]
    fn the_sk_and_token_are_the_file_s() {
        let mut p = aksk_profile("default", AK);
        p["securityToken"] = json!(TOKEN);
        let profile = parse_koocli(&file("default", vec![p]), None).unwrap();
        assert_eq!(
            profile.aksk().unwrap(),
            &AkSk::new(AK, SK)
                .unwrap()
                .with_security_token(TOKEN)
                .unwrap()
        );
    }

    /// (name, file, profile asked for, expected kind, expected message).
    type ErrorCase<'a> = (&'a str, Vec<u8>, Option<&'a str>, ProfileErrorKind, &'a str);

    #[test]
    fn refuses_what_it_cannot_use() {
        let with = |key: &str, value: Value| {
            let mut p = aksk_profile("default", AK);
            p[key] = value;
            file("default", vec![p])
        };
        let encrypted = |flag: Value| {
            let mut top = json!({
                "current": "default", "crypter": "ukV7cEW+x7gdBu2Q", "nonce": "BFpEvOxq",
                "profiles": [{"name": "default", "mode": "AKSK",
                    "accessKeyId": "4V/grzs9xO0baSRJORb8jvKWbh2kG4eK+RbPkoJPDNS1uLO6",
                    "secretAccessKey": "82PAkxMKrNgmajUqJxT/vMyZZwXdyOBl/xDwoyytugf5ewtxGDJ6/ELA1XZb6Qd9pI3h2Hs6FSw="}],
            });
            if !flag.is_null() {
                top["authEncrypt"] = flag;
            }
            serde_json::to_vec(&top).unwrap()
        };
        let encrypted_kind = ProfileErrorKind::Encrypted {
            profile: "default".into(),
        };
        let encrypted_message = "profile \"default\" holds keys KooCLI encrypted, which only KooCLI can read; run `hcloud configure set --cli-auth-encrypt=false` and set the keys again";
        let cases: Vec<ErrorCase<'_>> = vec![
            (
                "too large",
                vec![b' '; MAX_KOOCLI_LEN + 1],
                None,
                ProfileErrorKind::TooLarge {
                    len: MAX_KOOCLI_LEN + 1,
                    max: MAX_KOOCLI_LEN,
                },
                "the file is 1048577 bytes long, more than the 1048576 accepted",
            ),
            (
                "not json",
                b"[default]\nak = x\n".to_vec(),
                None,
                ProfileErrorKind::NotKooCli { expected: "JSON" },
                "this is not a KooCLI config file: expected JSON",
            ),
            (
                "an array",
                b"[]".to_vec(),
                None,
                ProfileErrorKind::NotKooCli {
                    expected: "a JSON object",
                },
                "this is not a KooCLI config file: expected a JSON object",
            ),
            (
                "no profiles",
                br#"{"current":"default"}"#.to_vec(),
                None,
                ProfileErrorKind::NotKooCli {
                    expected: "a JSON object with a `profiles` list",
                },
                "this is not a KooCLI config file: expected a JSON object with a `profiles` list",
            ),
            (
                "a profile that is not an object",
                br#"{"current":"default","profiles":["default"]}"#.to_vec(),
                None,
                ProfileErrorKind::NotKooCli {
                    expected: "each profile to be a JSON object",
                },
                "this is not a KooCLI config file: expected each profile to be a JSON object",
            ),
            (
                "a numeric name",
                br#"{"current":"default","profiles":[{"name":1}]}"#.to_vec(),
                None,
                ProfileErrorKind::NotKooCli {
                    expected: "each profile's `name` to be a string",
                },
                "this is not a KooCLI config file: expected each profile's `name` to be a string",
            ),
            (
                "a numeric current",
                br#"{"current":1,"profiles":[]}"#.to_vec(),
                None,
                ProfileErrorKind::NotKooCli {
                    expected: "`current` to be a string",
                },
                "this is not a KooCLI config file: expected `current` to be a string",
            ),
            (
                "no current",
                br#"{"current":"","profiles":[]}"#.to_vec(),
                None,
                ProfileErrorKind::NoCurrentProfile,
                "no profile was named and the KooCLI config's `current` is not set; name one",
            ),
            (
                "an unknown name",
                file(
                    "default",
                    vec![aksk_profile("default", AK), aksk_profile("prod", AK)],
                ),
                Some("staging"),
                ProfileErrorKind::ProfileNotFound {
                    name: "staging".into(),
                    available: vec!["default".into(), "prod".into()],
                },
                "there is no profile named \"staging\"; the file has \"default\", \"prod\"",
            ),
            (
                "current names nothing",
                file("gone", vec![]),
                None,
                ProfileErrorKind::ProfileNotFound {
                    name: "gone".into(),
                    available: vec![],
                },
                "there is no profile named \"gone\"; the file has none",
            ),
            (
                "names are case-sensitive",
                file("default", vec![aksk_profile("default", AK)]),
                Some("Default"),
                ProfileErrorKind::ProfileNotFound {
                    name: "Default".into(),
                    available: vec!["default".into()],
                },
                "there is no profile named \"Default\"; the file has \"default\"",
            ),
            (
                "sso",
                with("mode", json!("SSO")),
                None,
                ProfileErrorKind::UnsupportedMode {
                    profile: "default".into(),
                    mode: "SSO".into(),
                },
                "profile \"default\" uses mode \"SSO\"; only AKSK profiles are supported",
            ),
            (
                "ecs agency",
                with("mode", json!("ecsAgency")),
                None,
                ProfileErrorKind::UnsupportedMode {
                    profile: "default".into(),
                    mode: "ecsAgency".into(),
                },
                "profile \"default\" uses mode \"ecsAgency\"; only AKSK profiles are supported",
            ),
            (
                "a numeric mode",
                with("mode", json!(1)),
                None,
                ProfileErrorKind::Malformed {
                    line: None,
                    key: "mode",
                    expected: "a string",
                },
                "`mode` is not a string",
            ),
            (
                "encrypted, flag as a string",
                encrypted(json!("true")),
                None,
                encrypted_kind.clone(),
                encrypted_message,
            ),
            (
                "encrypted, flag as a bool",
                encrypted(json!(true)),
                None,
                encrypted_kind.clone(),
                encrypted_message,
            ),
            (
                "encrypted, older file with only a crypter",
                encrypted(Value::Null),
                None,
                encrypted_kind.clone(),
                encrypted_message,
            ),
            (
                "a numeric secret",
                with("secretAccessKey", json!(12345)),
                None,
                ProfileErrorKind::Malformed {
                    line: None,
                    key: "secretAccessKey",
                    expected: "a string",
                },
                "`secretAccessKey` is not a string",
            ),
            (
                "ak without sk",
                with("secretAccessKey", json!("")),
                None,
                ProfileErrorKind::Incomplete {
                    present: "accessKeyId",
                    missing: "secretAccessKey",
                },
                "`accessKeyId` is set but `secretAccessKey` is not; set both",
            ),
            (
                "an invalid ak",
                with("accessKeyId", json!("A=K")),
                None,
                ProfileErrorKind::Invalid {
                    line: None,
                    key: "accessKeyId",
                    error: AkSk::new("A=K", SK).unwrap_err(),
                },
                "`accessKeyId` is not a valid access key id (AK)",
            ),
            (
                "an invalid region",
                with("region", json!("cn north 4")),
                None,
                ProfileErrorKind::Invalid {
                    line: None,
                    key: "region",
                    error: Region::new("cn north 4").unwrap_err(),
                },
                "`region` is not a valid region",
            ),
            (
                "an invalid project",
                with("projectId", json!("a/b")),
                None,
                ProfileErrorKind::Invalid {
                    line: None,
                    key: "projectId",
                    error: ProjectId::new("a/b").unwrap_err(),
                },
                "`projectId` is not a valid project id",
            ),
        ];
        for (name, bytes, wanted, kind, message) in cases {
            let err = parse_koocli(&bytes, wanted).expect_err(name);
            assert_eq!(err.kind(), &kind, "case {name:?}");
            assert_eq!(err.to_string(), message, "case {name:?}");
            let has_source = matches!(kind, ProfileErrorKind::Invalid { .. })
                || kind == ProfileErrorKind::NotKooCli { expected: "JSON" };
            assert_eq!(err.source().is_some(), has_source, "case {name:?}");
            assert_eq!(
                err.with_path("/root/.hcloud/config.json").to_string(),
                format!("/root/.hcloud/config.json: {message}"),
                "case {name:?}"
            );
        }
    }

    #[test]
    fn secrets_are_never_shown() {
        let bad_sk = "SeCrEtVaLuE\u{7f}x";
        let bad_token = "ToKeN VaLuE";
        let with = |key: &str, value: Value| {
            let mut p = aksk_profile("default", AK);
            p[key] = value;
            file("default", vec![p])
        };
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("malformed sk", with("secretAccessKey", json!(bad_sk))),
            ("malformed token", with("securityToken", json!(bad_token))),
            (
                "sk as the mode's neighbour",
                with("mode", json!({"sk": SK})),
            ),
            ("sso", with("mode", json!("SSO"))),
            ("sk without ak", with("accessKeyId", json!(""))),
            (
                "syntax error after the sk",
                format!(r#"{{"profiles":[{{"secretAccessKey":"{SK}""#).into_bytes(),
            ),
            ("the file is the sk", format!("{SK:?}").into_bytes()),
            (
                "current is the sk",
                format!(r#"{{"current":{SK:?}}}"#).into_bytes(),
            ),
        ];
        for (name, bytes) in cases {
            let err = parse_koocli(&bytes, None).expect_err(name);
            let mut shown = format!("{err} {err:?} {err:#?}");
            let mut source = err.source();
            while let Some(s) = source {
                shown.push_str(&format!(" {s} {s:?}"));
                source = s.source();
            }
            for needle in ["SeCrEt", "ToKeN", SK] {
                assert!(
                    !shown.contains(needle),
                    "case {name:?} shows {needle:?}: {shown}"
                );
            }
        }
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse_koocli(&bytes, None);
            let _ = parse_koocli(&bytes, Some("default"));
        }

        #[test]
        fn never_panics_on_arbitrary_fields(
            mode in prop_oneof![Just("AKSK".to_owned()), ".{0,8}"],
            ak in ".{0,24}", sk in ".{0,24}", token in ".{0,24}",
            region in ".{0,16}", project in ".{0,16}", flag in any::<Option<bool>>(),
        ) {
            let mut top = json!({"current": "p", "profiles": [{
                "name": "p", "mode": mode, "accessKeyId": ak, "secretAccessKey": sk,
                "securityToken": token, "region": region, "projectId": project,
            }]});
            if let Some(flag) = flag {
                top["authEncrypt"] = json!(flag);
            }
            let bytes = serde_json::to_vec(&top).unwrap();
            if let Err(e) = parse_koocli(&bytes, None) {
                let shown = format!("{e} {e:?}");
                if sk.len() > 8 {
                    prop_assert!(!shown.contains(&sk));
                }
                if token.len() > 8 {
                    prop_assert!(!shown.contains(&token));
                }
            }
        }
    }
}
