//! The official environment variables of credentials: the credentials they give, and what
//! is wrong when they give none. Here, beside the sources that read them, so that the
//! credential sources need nothing of [`crate::env`], which re-exports all of it
//! ([`credentials_from_env`], [`EnvError`]...) and builds on it. Their names are in
//! `crate::input::env_names`, with every other variable's.

use std::fmt;

use super::{AkSk, AuthToken, Credentials};
use crate::input::env_names::{
    ENV_AK, ENV_AUTH_TOKEN, ENV_SECURITY_TOKEN, ENV_SIGNING_ALGORITHM, ENV_SK,
};
use crate::input::{Input, InvalidInput, Problem};
use crate::sign::SigningAlgorithm;

// For `credentials::source`, which names it by this path.
pub(crate) use crate::input::env_names::ENV_PROJECT_ID;

/// The algorithm of `HUAWEICLOUD_SDK_SIGNING_ALGORITHM`, read through `get` (`None` for
/// unset or empty): the default `SDK-HMAC-SHA256` when unset.
///
/// # Errors
/// [`EnvError::Invalid`] with [`Input::SigningAlgorithm`] for a name that is none of the
/// four.
pub fn signing_algorithm_from_env(
    get: impl Fn(&str) -> Option<String>,
) -> Result<SigningAlgorithm, EnvError> {
    match get(ENV_SIGNING_ALGORITHM) {
        None => Ok(SigningAlgorithm::default()),
        Some(name) => name.trim().parse().map_err(|_| {
            EnvError::Invalid(
                InvalidInput::new(
                    Input::SigningAlgorithm,
                    Problem::Malformed {
                        expected: "SDK-HMAC-SHA256, SDK-HMAC-SM3, SDK-ECDSA-P256-SHA256 or SDK-SM2-SM3",
                    },
                )
                .with_origin(ENV_SIGNING_ALGORITHM),
            )
        }),
    }
}

/// The credentials of the official environment variables, read through `get` (which
/// returns `None` for unset or empty variables); AK/SK sign with the algorithm of
/// [`ENV_SIGNING_ALGORITHM`].
///
/// # Errors
/// [`EnvError`] when none are set, both kinds are, only one of AK and SK is, or a value is
/// refused by the validators.
pub fn credentials_from_env(get: impl Fn(&str) -> Option<String>) -> Result<Credentials, EnvError> {
    let (ak, sk, token) = (get(ENV_AK), get(ENV_SK), get(ENV_AUTH_TOKEN));
    let invalid = |var: &'static str| move |e: InvalidInput| EnvError::Invalid(e.with_origin(var));
    match (ak, sk, token) {
        (None, None, None) => Err(EnvError::Missing(&[ENV_AK, ENV_SK, ENV_AUTH_TOKEN])),
        (Some(_), _, Some(_)) | (_, Some(_), Some(_)) => Err(EnvError::Conflict),
        (None, None, Some(token)) => Ok(AuthToken::new(&token)
            .map_err(invalid(ENV_AUTH_TOKEN))?
            .into()),
        (Some(_), None, None) => Err(EnvError::Missing(&[ENV_SK])),
        (None, Some(_), None) => Err(EnvError::Missing(&[ENV_AK])),
        (Some(ak), Some(sk), None) => {
            let mut aksk = AkSk::new(&ak, &sk).map_err(|e| {
                let var = if e.input() == Input::AccessKey {
                    ENV_AK
                } else {
                    ENV_SK
                };
                EnvError::Invalid(e.with_origin(var))
            })?;
            if let Some(token) = get(ENV_SECURITY_TOKEN) {
                aksk = aksk
                    .with_security_token(&token)
                    .map_err(invalid(ENV_SECURITY_TOKEN))?;
            }
            let algorithm = signing_algorithm_from_env(&get)?;
            Ok(aksk
                .with_algorithm(algorithm)
                .map_err(invalid(ENV_SK))?
                .into())
        }
    }
}

/// Why the environment gave no usable configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EnvError {
    /// None of these variables is set.
    Missing(&'static [&'static str]),
    /// AK/SK and an auth token are both set; the choice would be a guess.
    Conflict,
    /// A variable holds a value the validators refuse (its name is the error's origin).
    Invalid(InvalidInput),
}

impl fmt::Display for EnvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnvError::Missing([one]) => write!(f, "{one} is not set"),
            EnvError::Missing(names) => {
                write!(
                    f,
                    "no credentials found: set {} and {}, or {}",
                    names.first().unwrap_or(&""),
                    names.get(1).unwrap_or(&""),
                    names.get(2).unwrap_or(&"")
                )
            }
            EnvError::Conflict => write!(
                f,
                "both {ENV_AK}/{ENV_SK} and {ENV_AUTH_TOKEN} are set; unset one kind of credentials"
            ),
            EnvError::Invalid(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for EnvError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            EnvError::Invalid(e) => Some(e),
            _ => None,
        }
    }
}
