//! The name of every environment variable the crate reads, in one place. A leaf: it
//! imports nothing, and it is under `input`, which imports no other module of the crate,
//! so that any module may use it without making an import cycle. The values are read
//! elsewhere, always through a lookup function the caller passes; an empty value counts as
//! unset everywhere.
//!
//! Most are the official SDKs' variables; those marked "this client's own" are not. Their
//! public home is [`crate::env`] (`kms_proto::env::ENV_AK`...); some are also public where
//! they were first (`kms_proto::credentials`, `kms_proto::iam`, `kms_proto::ENV_REGIONS_FILE`).

// Static credentials and the project.

/// `HUAWEICLOUD_SDK_AK`: the access key id of AK/SK credentials (with
/// [`ENV_SK`]). No default.
pub const ENV_AK: &str = "HUAWEICLOUD_SDK_AK";
/// `HUAWEICLOUD_SDK_SK`: the secret access key of AK/SK credentials (with
/// [`ENV_AK`]). No default.
pub const ENV_SK: &str = "HUAWEICLOUD_SDK_SK";
/// `HUAWEICLOUD_SDK_SECURITY_TOKEN`: the security token of temporary AK/SK credentials,
/// optional (unset: permanent credentials).
pub const ENV_SECURITY_TOKEN: &str = "HUAWEICLOUD_SDK_SECURITY_TOKEN";
/// `HUAWEICLOUD_SDK_AUTH_TOKEN` (this client's own: the official SDKs have no token): an
/// IAM token, instead of AK/SK. No default.
pub const ENV_AUTH_TOKEN: &str = "HUAWEICLOUD_SDK_AUTH_TOKEN";
/// `HUAWEICLOUD_SDK_PROJECT_ID`: the project id KMS is called in. No default (IAM-based
/// credential sources may find it from the region).
pub const ENV_PROJECT_ID: &str = "HUAWEICLOUD_SDK_PROJECT_ID";
/// `HUAWEICLOUD_SDK_SIGNING_ALGORITHM` (this client's own: the official SDKs take
/// `signing_algorithm` from code only): the algorithm AK/SK sign with, `SDK-HMAC-SHA256`
/// (the default), `SDK-HMAC-SM3`, `SDK-ECDSA-P256-SHA256` or `SDK-SM2-SM3`, in any case.
pub const ENV_SIGNING_ALGORITHM: &str = "HUAWEICLOUD_SDK_SIGNING_ALGORITHM";

// Endpoints and regions.

/// `HUAWEICLOUD_SDK_REGION_KMS_`: the prefix of the variable that overrides a region's KMS
/// endpoint (one URL, or several separated by commas), followed by the region in upper
/// case with `-` replaced by `_` (`HUAWEICLOUD_SDK_REGION_KMS_CN_NORTH_4`: see
/// [`Region::override_var`](crate::Region::override_var)). Unset: the regions file, else
/// the naming rule.
pub const ENV_REGION_KMS_PREFIX: &str = "HUAWEICLOUD_SDK_REGION_KMS_";
/// `HUAWEICLOUD_SDK_REGIONS_FILE`: the path of the regions file (endpoints per service and
/// region, in YAML). Default: `.huaweicloud/regions.yaml` under the home directory
/// ([`DEFAULT_REGIONS_FILE`](crate::DEFAULT_REGIONS_FILE), under [`ENV_HOME`] or
/// [`ENV_USERPROFILE`]).
pub const ENV_REGIONS_FILE: &str = "HUAWEICLOUD_SDK_REGIONS_FILE";
/// `HUAWEICLOUD_SDK_REGION`: the region IAM-based credential sources use (IAM's endpoint,
/// a password token's scope) when the code gives none
/// ([`Provider::with_region`](crate::credentials::Provider::with_region)). No default.
pub const ENV_REGION: &str = "HUAWEICLOUD_SDK_REGION";
/// `HUAWEICLOUD_SDK_IAM_ENDPOINT`: IAM's URL, overriding the region's. Default: a profile
/// file's `iam_endpoint`, else `https://iam.{region}.myhuaweicloud.com` for a region of
/// the official table, else `https://iam.myhuaweicloud.com`.
pub const ENV_IAM_ENDPOINT: &str = "HUAWEICLOUD_SDK_IAM_ENDPOINT";
/// `HUAWEICLOUD_SDK_STS_ENDPOINT`: STS's URL, for OIDC STS credentials. Default
/// `https://sts.cn-north-4.myhuaweicloud.com`
/// ([`DEFAULT_STS_ENDPOINT`](crate::credentials::DEFAULT_STS_ENDPOINT)).
pub const ENV_STS_ENDPOINT: &str = "HUAWEICLOUD_SDK_STS_ENDPOINT";
/// `HUAWEICLOUD_SDK_METADATA_ENDPOINT` (this client's own): an override of the ECS
/// metadata base URL, for tests and local proxies: plain http only to loopback or
/// link-local addresses (the security key would otherwise cross the network in clear
/// text), https to any host. Default `http://169.254.169.254`
/// ([`DEFAULT_METADATA_ENDPOINT`](crate::credentials::DEFAULT_METADATA_ENDPOINT)).
pub const ENV_METADATA_ENDPOINT: &str = "HUAWEICLOUD_SDK_METADATA_ENDPOINT";

// Files.

/// `HUAWEICLOUD_SDK_CREDENTIALS_FILE`: the profile file's path. Default
/// `.huaweicloud/credentials` under the home directory.
pub const ENV_CREDENTIALS_FILE: &str = "HUAWEICLOUD_SDK_CREDENTIALS_FILE";
/// `HOME`: the home directory (not on Windows), under which the default profile and
/// regions files are. No default.
pub const ENV_HOME: &str = "HOME";
/// `USERPROFILE`: the home directory on Windows (instead of [`ENV_HOME`]). No default.
pub const ENV_USERPROFILE: &str = "USERPROFILE";

// IAM federation with an OIDC identity token.

/// `HUAWEICLOUD_SDK_IDP_ID`: the identity provider of IAM federation (with
/// [`ENV_ID_TOKEN_FILE`]). No default.
pub const ENV_IDP_ID: &str = "HUAWEICLOUD_SDK_IDP_ID";
/// `HUAWEICLOUD_SDK_ID_TOKEN_FILE`: the file holding the OIDC identity token, for IAM
/// federation (with [`ENV_IDP_ID`]). No default.
pub const ENV_ID_TOKEN_FILE: &str = "HUAWEICLOUD_SDK_ID_TOKEN_FILE";

// STS: assume an agency with an OIDC identity token.

/// `HUAWEICLOUD_OIDC_PROVIDER_URN`: the identity provider's URN, for STS. No default.
pub const ENV_OIDC_PROVIDER_URN: &str = "HUAWEICLOUD_OIDC_PROVIDER_URN";
/// `HUAWEICLOUD_OIDC_AGENCY_URN`: the agency to assume, for STS. No default.
pub const ENV_OIDC_AGENCY_URN: &str = "HUAWEICLOUD_OIDC_AGENCY_URN";
/// `HUAWEICLOUD_OIDC_ID_TOKEN`: the identity token itself (or [`ENV_OIDC_TOKEN_FILE`]).
/// No default.
pub const ENV_OIDC_ID_TOKEN: &str = "HUAWEICLOUD_OIDC_ID_TOKEN";
/// `HUAWEICLOUD_OIDC_TOKEN_FILE`: a file holding the identity token, read again at every
/// refresh (or [`ENV_OIDC_ID_TOKEN`]). No default.
pub const ENV_OIDC_TOKEN_FILE: &str = "HUAWEICLOUD_OIDC_TOKEN_FILE";
/// `HUAWEICLOUD_OIDC_SESSION_NAME`: the session's name. Default `oidc-sts-session`.
pub const ENV_OIDC_SESSION_NAME: &str = "HUAWEICLOUD_OIDC_SESSION_NAME";
/// `HUAWEICLOUD_OIDC_DURATION_SECONDS`: the lifetime asked for, in seconds. Default 3600.
pub const ENV_OIDC_DURATION_SECONDS: &str = "HUAWEICLOUD_OIDC_DURATION_SECONDS";
/// `HUAWEICLOUD_OIDC_POLICY`: a session policy (JSON text), optional (unset: none).
pub const ENV_OIDC_POLICY: &str = "HUAWEICLOUD_OIDC_POLICY";
/// `HUAWEICLOUD_OIDC_POLICY_IDS`: policy ids, comma-separated, optional (unset: none).
pub const ENV_OIDC_POLICY_IDS: &str = "HUAWEICLOUD_OIDC_POLICY_IDS";

// An IAM user token from a password (this client's own variables).

/// `HUAWEICLOUD_SDK_IAM_USER` (this client's own): the IAM user's name (with
/// [`ENV_IAM_DOMAIN`]). No default.
pub const ENV_IAM_USER: &str = "HUAWEICLOUD_SDK_IAM_USER";
/// `HUAWEICLOUD_SDK_IAM_DOMAIN` (this client's own): the account (domain) name (with
/// [`ENV_IAM_USER`]). No default.
pub const ENV_IAM_DOMAIN: &str = "HUAWEICLOUD_SDK_IAM_DOMAIN";
/// `HUAWEICLOUD_SDK_IAM_PASSWORD` (this client's own): the password (or
/// [`ENV_IAM_PASSWORD_FILE`]). No default.
pub const ENV_IAM_PASSWORD: &str = "HUAWEICLOUD_SDK_IAM_PASSWORD";
/// `HUAWEICLOUD_SDK_IAM_PASSWORD_FILE` (this client's own): a file holding the password
/// (its first line), read at every refresh (or [`ENV_IAM_PASSWORD`]). No default.
pub const ENV_IAM_PASSWORD_FILE: &str = "HUAWEICLOUD_SDK_IAM_PASSWORD_FILE";

// CCE pod identity.

/// `HC_CONTAINER_CREDENTIALS_FULL_URI`: where CCE pod identity answers (plain http only
/// to loopback or link-local addresses: the pod's token goes with every request). No
/// default.
pub const ENV_POD_IDENTITY_URI: &str = "HC_CONTAINER_CREDENTIALS_FULL_URI";
/// `HC_CONTAINER_AUTHORIZATION_TOKEN_FILE`: the file holding the pod's token (with
/// [`ENV_POD_IDENTITY_URI`]). No default.
pub const ENV_POD_IDENTITY_TOKEN_FILE: &str = "HC_CONTAINER_AUTHORIZATION_TOKEN_FILE";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_names_are_distinct_variable_names() {
        let all = [
            ENV_AK,
            ENV_SK,
            ENV_SECURITY_TOKEN,
            ENV_AUTH_TOKEN,
            ENV_PROJECT_ID,
            ENV_SIGNING_ALGORITHM,
            ENV_REGION_KMS_PREFIX,
            ENV_REGIONS_FILE,
            ENV_REGION,
            ENV_IAM_ENDPOINT,
            ENV_STS_ENDPOINT,
            ENV_METADATA_ENDPOINT,
            ENV_CREDENTIALS_FILE,
            ENV_HOME,
            ENV_USERPROFILE,
            ENV_IDP_ID,
            ENV_ID_TOKEN_FILE,
            ENV_OIDC_PROVIDER_URN,
            ENV_OIDC_AGENCY_URN,
            ENV_OIDC_ID_TOKEN,
            ENV_OIDC_TOKEN_FILE,
            ENV_OIDC_SESSION_NAME,
            ENV_OIDC_DURATION_SECONDS,
            ENV_OIDC_POLICY,
            ENV_OIDC_POLICY_IDS,
            ENV_IAM_USER,
            ENV_IAM_DOMAIN,
            ENV_IAM_PASSWORD,
            ENV_IAM_PASSWORD_FILE,
            ENV_POD_IDENTITY_URI,
            ENV_POD_IDENTITY_TOKEN_FILE,
        ];
        let mut seen = std::collections::HashSet::new();
        for name in all {
            assert!(seen.insert(name), "{name} twice");
            assert!(
                name.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'),
                "{name}"
            );
        }
    }
}
