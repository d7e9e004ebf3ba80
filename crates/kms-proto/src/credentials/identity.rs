//! Credentials as a source gives them: the credentials, when they expire, and which source
//! they came from.

use std::fmt;
use std::time::SystemTime;

use super::Credentials;

/// Where credentials came from.
///
/// Not `#[non_exhaustive]`, on purpose: what a program shows or decides per source is
/// written against every source, so one added later fails to compile there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceKind {
    /// Given in code ([`ClientConfig::new`](crate::ClientConfig::new)).
    Static,
    /// `HUAWEICLOUD_SDK_AK`/`_SK`/`_SECURITY_TOKEN` or `HUAWEICLOUD_SDK_AUTH_TOKEN`.
    Environment,
    /// The official profile file (`HUAWEICLOUD_SDK_CREDENTIALS_FILE`, else
    /// `~/.huaweicloud/credentials`).
    ProfileFile,
    /// KooCLI's configuration (`~/.hcloud/config.json`).
    KooCli,
    /// CCE pod identity (`HC_CONTAINER_CREDENTIALS_FULL_URI`).
    PodIdentity,
    /// IAM federation with an OIDC identity token (`HUAWEICLOUD_SDK_IDP_ID` and
    /// `HUAWEICLOUD_SDK_ID_TOKEN_FILE`, or a profile's `idp_id` and `id_token_file`).
    IamFederation,
    /// STS, assuming an agency with an OIDC identity token (`HUAWEICLOUD_OIDC_*`).
    OidcSts,
    /// An IAM user token from a user name and password (`HUAWEICLOUD_SDK_IAM_*`).
    IamPassword,
    /// The ECS metadata service (an agency bound to the instance).
    Metadata,
}

impl SourceKind {
    /// A stable lower-case name: `static`, `environment`, `profile-file`, `koocli`,
    /// `pod-identity`, `iam-federation`, `oidc-sts`, `iam-password` or `metadata` (the
    /// names `kms count --credentials` takes).
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Static => "static",
            SourceKind::Environment => "environment",
            SourceKind::ProfileFile => "profile-file",
            SourceKind::KooCli => "koocli",
            SourceKind::PodIdentity => "pod-identity",
            SourceKind::IamFederation => "iam-federation",
            SourceKind::OidcSts => "oidc-sts",
            SourceKind::IamPassword => "iam-password",
            SourceKind::Metadata => "metadata",
        }
    }

    /// A human name, as used in messages ("ECS metadata", "CCE pod identity"...).
    pub fn label(self) -> &'static str {
        match self {
            SourceKind::Static => "static credentials",
            SourceKind::Environment => "environment variables",
            SourceKind::ProfileFile => "profile file",
            SourceKind::KooCli => "KooCLI configuration",
            SourceKind::PodIdentity => "CCE pod identity",
            SourceKind::IamFederation => "IAM federation (OIDC)",
            SourceKind::OidcSts => "STS (OIDC)",
            SourceKind::IamPassword => "IAM password",
            SourceKind::Metadata => "ECS metadata",
        }
    }
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Credentials from a source, with their expiry. `Debug` redacts every secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    credentials: Credentials,
    expires_at: Option<SystemTime>,
    source: SourceKind,
    /// The `Date` of the answer that carried them: the issuing service's clock.
    issued_by_clock: Option<SystemTime>,
}

impl Identity {
    /// Credentials from `source` that expire at `expires_at` (`None`: never).
    pub fn new(
        credentials: Credentials,
        expires_at: Option<SystemTime>,
        source: SourceKind,
    ) -> Self {
        Identity {
            credentials,
            expires_at,
            source,
            issued_by_clock: None,
        }
    }

    /// The same credentials, with the time the issuing service's clock showed when it
    /// answered (its `Date` header). The [`CredentialCache`](super::CredentialCache)
    /// judges their expiry against that clock, so a machine whose own clock is off keeps
    /// working (see its docs).
    pub fn with_service_date(mut self, date: SystemTime) -> Self {
        self.issued_by_clock = Some(date);
        self
    }

    /// The issuing service's clock when it answered (its `Date` header), when known.
    pub fn service_date(&self) -> Option<SystemTime> {
        self.issued_by_clock
    }

    /// The credentials.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// When they expire, if they do.
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.expires_at
    }

    /// Where they came from.
    pub fn source(&self) -> SourceKind {
        self.source
    }
}

/// Formats a time as RFC 3339 in UTC (whole seconds), for messages and logs.
pub(crate) fn rfc3339(at: SystemTime) -> String {
    let secs = match at.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    };
    let t = crate::civil::Civil::from_unix(secs);
    // Four-digit years only (as before, with `time`'s range): anything else is no date a
    // reader could use.
    if !(-9999..=9999).contains(&t.year) {
        return format!("{secs} s after 1970");
    }
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn times_are_written_in_utc() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_334_400);
        assert_eq!(rfc3339(at), "2026-11-22T08:00:00Z");
        assert_eq!(rfc3339(SystemTime::UNIX_EPOCH), "1970-01-01T00:00:00Z");
    }
}
