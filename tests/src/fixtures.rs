//! The test values the IAM, credential and arrival suites share: one project, one region,
//! the emulator's paths, and the identities it is configured with. None is a real secret.

/// The project every suite counts for.
pub const PROJECT: &str = "0dea2644dc80d5d22ff1c01e3ebea6fc";
/// The region the project is named after (IAM's project listing).
pub const REGION: &str = "cn-north-4";
/// The ShowUserInstances path of [`PROJECT`].
pub const KMS_PATH: &str = "/v1.0/0dea2644dc80d5d22ff1c01e3ebea6fc/kms/user-instances";
/// ECS metadata's session token path.
pub const TOKEN_PATH: &str = "/meta-data/latest/api/token";
/// ECS metadata's security key path.
pub const KEY_PATH: &str = "/openstack/latest/securitykey";
/// Where the emulator answers CCE pod identity.
pub const POD_PATH: &str = "/pod-identity/credentials";
/// The pod's token the emulator accepts.
pub const POD_TOKEN: &str = "pod-identity-token-eyJhbGciOiJSUzI1NiJ9.c2VjcmV0";
/// The identity provider of IAM federation.
pub const IDP: &str = "idp-ci";
/// The OIDC identity token IAM federation accepts for [`IDP`].
pub const ID_TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjaSJ9.aWQtdG9rZW4tc2lnbmF0dXJl";
/// The identity provider STS trusts.
pub const PROVIDER_URN: &str = "iam::0123:identity-provider:ci";
/// The OIDC identity token STS accepts for [`PROVIDER_URN`].
pub const STS_TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzdHMifQ.c3RzLXRva2VuLXNpZ25hdHVyZQ";
/// The IAM user's account (domain) name.
pub const DOMAIN: &str = "acme";
/// The IAM user's name.
pub const USER: &str = "alice";
/// The IAM user's password.
pub const PASSWORD: &str = "correct horse battery staple 9!";
