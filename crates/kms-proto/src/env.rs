//! The official environment variables: their names (every variable the crate reads: the
//! `ENV_*` constants here), the credentials and the configuration they give. The core looks
//! at an environment only through a lookup function the caller passes: here, and in the
//! credential sources' constructors ([`Provider`](crate::credentials::Provider)).

use std::fmt;
use std::path::{Path, PathBuf};

use crate::credentials::{FileProblem, FileRead};
use crate::input::{
    DEFAULT_REGIONS_FILE, InvalidInput, MAX_REGIONS_FILE_LEN, RegionsFile, RegionsFileError,
};
use crate::{ClientConfig, Endpoints, ProjectId, Region};

// Every variable's name. They are defined in `crate::input::env_names`, a leaf at the
// bottom of the crate's modules that any module may import; their public home is here
// (`kms_proto::env::ENV_AK`...).
pub use crate::input::env_names::*;

// The credentials the variables give are read beside the credential sources; their public
// home is here.
pub use crate::credentials::variables::{
    EnvError, credentials_from_env, signing_algorithm_from_env,
};

impl ClientConfig {
    /// Reads the official environment variables through `lookup` (pass
    /// `|name| std::env::var(name).ok()` for the real environment), for `region`:
    ///
    /// * `HUAWEICLOUD_SDK_PROJECT_ID`;
    /// * `HUAWEICLOUD_SDK_AK` and `HUAWEICLOUD_SDK_SK` (with `HUAWEICLOUD_SDK_SECURITY_TOKEN`
    ///   for temporary credentials), or `HUAWEICLOUD_SDK_AUTH_TOKEN` for an IAM token;
    /// * `HUAWEICLOUD_SDK_SIGNING_ALGORITHM` (this client's name; the official SDKs have
    ///   the setting but no variable), the algorithm AK/SK sign with: a wire name in any
    ///   case, default `SDK-HMAC-SHA256`;
    /// * `HUAWEICLOUD_SDK_REGION_KMS_<REGION>` to override the region's endpoint (one URL,
    ///   or several separated by commas).
    ///
    /// Empty values count as unset. The regions file is not read here (this reads
    /// variables only, through `lookup`): to honour it too, build the configuration with
    /// [`ClientConfig::new`] from [`Endpoints::resolve_from_env`].
    ///
    /// # Errors
    /// An [`EnvError`] naming the variables: missing, both kinds of credentials at once, or
    /// a value the validators refuse.
    pub fn from_env(
        region: &Region,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, EnvError> {
        let get = |name: &str| lookup(name).filter(|v| !v.is_empty());
        let project = get(ENV_PROJECT_ID).ok_or(EnvError::Missing(&[ENV_PROJECT_ID]))?;
        let project = ProjectId::new(&project)
            .map_err(|e| EnvError::Invalid(e.with_origin(ENV_PROJECT_ID)))?;
        let credentials = credentials_from_env(get)?;
        let endpoints = Endpoints::resolve(region, get, None).map_err(EnvError::Invalid)?;
        Ok(ClientConfig::new(endpoints, project, credentials))
    }
}

impl Endpoints {
    /// The endpoints of `region` as the official SDKs find them, reading the process
    /// environment and, when the override variable is unset, the regions file: see
    /// [`Endpoints::resolve_reading_file`].
    ///
    /// # Errors
    /// As [`Endpoints::resolve_reading_file`].
    pub fn resolve_from_env(region: &Region) -> Result<Self, EndpointsError> {
        Endpoints::resolve_reading_file(region, |name| {
            std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
        })
    }

    /// The endpoints of `region`: the override variable `HUAWEICLOUD_SDK_REGION_KMS_<REGION>`
    /// read through `lookup`; else the KMS entry of `region` in the regions file (the file
    /// named by `HUAWEICLOUD_SDK_REGIONS_FILE`, else `~/.huaweicloud/regions.yaml` under
    /// the `HOME` that `lookup` gives), read here, blocking, at most
    /// [`MAX_REGIONS_FILE_LEN`](crate::MAX_REGIONS_FILE_LEN) bytes; else the naming rule.
    /// See [`Endpoints::resolve`].
    ///
    /// A missing default file is no file; a missing file that the variable names is an
    /// error (it was asked for).
    ///
    /// # Errors
    /// [`EndpointsError`]: a value refused, or a regions file that cannot be read or parsed.
    pub fn resolve_reading_file(
        region: &Region,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, EndpointsError> {
        let get = |name: &str| lookup(name).filter(|v| !v.is_empty());
        // Where they came from, said once (an operator asks "why does it call that host?").
        let found = |endpoints: Endpoints, from: &dyn fmt::Display| {
            tracing::info!(
                region = region.as_str(),
                endpoints = %endpoints,
                "KMS endpoints from {from}"
            );
            endpoints
        };
        let var = region.override_var();
        if get(&var).is_some() {
            return Endpoints::resolve(region, get, None)
                .map(|endpoints| found(endpoints, &var))
                .map_err(EndpointsError::Invalid);
        }
        let naming_rule = "the naming rule (no override variable, no regions file entry)";
        // Without the `regions-file` feature, the default file is not looked for (this build
        // cannot read one); a file named on purpose is read, and refused saying why.
        let home = match cfg!(feature = "regions-file") {
            true => crate::credentials::home(&get),
            false => None,
        };
        let (path, named) = match get(ENV_REGIONS_FILE) {
            Some(path) => (PathBuf::from(path), true),
            None => match home {
                Some(home) => (home.join(DEFAULT_REGIONS_FILE), false),
                None => {
                    return Endpoints::resolve(region, get, None)
                        .map(|endpoints| found(endpoints, &naming_rule))
                        .map_err(EndpointsError::Invalid);
                }
            },
        };
        let read = FileRead::new(path.clone(), MAX_REGIONS_FILE_LEN as u64).read_blocking();
        let file =
            match read {
                Ok(bytes) => Some(RegionsFile::parse(&bytes).map_err(|error| {
                    EndpointsError::RegionsFile {
                        path: path.clone(),
                        error: error.with_path(&path),
                    }
                })?),
                Err(FileProblem::NotFound) if !named => None,
                Err(problem) => return Err(EndpointsError::File { path, problem }),
            };
        let listed = file
            .as_ref()
            .is_some_and(|file| file.kms_endpoints(region.as_str()).is_some());
        let endpoints = Endpoints::resolve(region, get, file.as_ref()).map_err(|e| {
            let origin = e
                .origin()
                .map(|o| o.replacen("the regions file", &path.display().to_string(), 1));
            match origin {
                Some(origin) => EndpointsError::Invalid(e.with_origin(origin)),
                None => EndpointsError::Invalid(e),
            }
        })?;
        Ok(match listed {
            true => found(
                endpoints,
                &format_args!("the regions file {}", path.display()),
            ),
            false => found(endpoints, &naming_rule),
        })
    }
}

/// Why a region's endpoints could not be found (see [`Endpoints::resolve_reading_file`]).
#[derive(Debug)]
#[non_exhaustive]
pub enum EndpointsError {
    /// A variable, or an endpoint of the regions file, is refused (the error's origin says
    /// which).
    Invalid(InvalidInput),
    /// The regions file cannot be read.
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        problem: FileProblem,
    },
    /// The regions file is not what the official SDKs read.
    RegionsFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it, and on which line.
        error: RegionsFileError,
    },
}

impl EndpointsError {
    /// The regions file the error is about, if any.
    pub fn path(&self) -> Option<&Path> {
        match self {
            EndpointsError::Invalid(_) => None,
            EndpointsError::File { path, .. } | EndpointsError::RegionsFile { path, .. } => {
                Some(path)
            }
        }
    }
}

impl fmt::Display for EndpointsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EndpointsError::Invalid(e) => write!(f, "{e}"),
            EndpointsError::File { path, problem } => write!(
                f,
                "the regions file {} cannot be used: {problem}; fix it, or point \
                 {ENV_REGIONS_FILE} at the right file (unset, ~/{DEFAULT_REGIONS_FILE} is \
                 read if it exists)",
                path.display()
            ),
            // The error names the file and the line.
            EndpointsError::RegionsFile { error, .. } => write!(f, "{error}"),
        }
    }
}

impl std::error::Error for EndpointsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            EndpointsError::Invalid(e) => Some(e),
            EndpointsError::File { .. } => None,
            EndpointsError::RegionsFile { error, .. } => Some(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Credentials;
    use crate::sign::SigningAlgorithm;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned().filter(|v| !v.is_empty())
    }

    #[test]
    fn credentials_from_the_official_variables() {
        let c = credentials_from_env(env(&[
            (ENV_AK, "AK"),
            (ENV_SK, "SK"),
            (ENV_SECURITY_TOKEN, "ST"),
        ]))
        .unwrap();
        assert!(matches!(c, Credentials::AkSk(ref a) if a.has_security_token()));
        assert!(matches!(
            credentials_from_env(env(&[(ENV_AUTH_TOKEN, "T")])).unwrap(),
            Credentials::Token(_)
        ));
        assert_eq!(
            credentials_from_env(env(&[])).unwrap_err().to_string(),
            "no credentials found: set HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK, or HUAWEICLOUD_SDK_AUTH_TOKEN"
        );
        assert_eq!(
            credentials_from_env(env(&[(ENV_AK, "AK"), (ENV_AUTH_TOKEN, "T")])).unwrap_err(),
            EnvError::Conflict
        );
        assert_eq!(
            credentials_from_env(env(&[(ENV_AK, "AK")])).unwrap_err(),
            EnvError::Missing(&[ENV_SK])
        );
        let err = credentials_from_env(env(&[(ENV_AK, "AK"), (ENV_SK, "bad\nsk")])).unwrap_err();
        assert!(
            err.to_string().contains("(from HUAWEICLOUD_SDK_SK)"),
            "{err}"
        );
        assert!(!err.to_string().contains("bad"), "{err}");
    }

    #[test]
    fn the_signing_algorithm_from_its_variable() {
        let aksk = |pairs: &[(&str, &str)]| {
            let mut all = vec![(ENV_AK, "AK"), (ENV_SK, "SK")];
            all.extend_from_slice(pairs);
            credentials_from_env(env(&all))
        };
        let algorithm = |c: Credentials| match c {
            Credentials::AkSk(a) => a.algorithm(),
            other => panic!("{other:?}"),
        };
        assert_eq!(algorithm(aksk(&[]).unwrap()), SigningAlgorithm::HmacSha256);
        for a in SigningAlgorithm::ALL.into_iter().filter(|a| a.is_built()) {
            let lower = a.as_str().to_lowercase();
            assert_eq!(
                algorithm(aksk(&[(ENV_SIGNING_ALGORITHM, &lower)]).unwrap()),
                a
            );
        }
        let err = aksk(&[(ENV_SIGNING_ALGORITHM, "HMAC_SM3")]).unwrap_err();
        assert!(
            err.to_string()
                .contains("signing algorithm (from HUAWEICLOUD_SDK_SIGNING_ALGORITHM)"),
            "{err}"
        );
        // A token does not sign: the variable is not read for it.
        assert!(
            credentials_from_env(env(&[(ENV_AUTH_TOKEN, "T"), (ENV_SIGNING_ALGORITHM, "x")]))
                .is_ok()
        );
    }

    #[test]
    fn config_from_env() {
        let region = Region::new("cn-north-4").unwrap();
        let lookup = env(&[
            (ENV_PROJECT_ID, "0dea2644dc80d5d22ff1c01e3ebea6fc"),
            (ENV_AUTH_TOKEN, "T"),
            (
                "HUAWEICLOUD_SDK_REGION_KMS_CN_NORTH_4",
                "https://kms.private:8443",
            ),
        ]);
        let config = ClientConfig::from_env(&region, lookup).unwrap();
        assert_eq!(config.endpoint().authority(), "kms.private:8443");
        assert_eq!(
            ClientConfig::from_env(&region, env(&[(ENV_AUTH_TOKEN, "T")])).unwrap_err(),
            EnvError::Missing(&[ENV_PROJECT_ID])
        );
        let err = ClientConfig::from_env(
            &region,
            env(&[(ENV_PROJECT_ID, "a/b"), (ENV_AUTH_TOKEN, "T")]),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("invalid project id (from HUAWEICLOUD_SDK_PROJECT_ID)"),
            "{err}"
        );
    }

    #[test]
    #[cfg(not(feature = "regions-file"))]
    fn without_its_feature_a_named_regions_file_is_refused_and_the_default_one_not_read() {
        let dir = std::env::temp_dir().join(format!("kms-proto-no-regions-{}", std::process::id()));
        std::fs::create_dir_all(dir.join(".huaweicloud")).unwrap();
        let default = dir.join(".huaweicloud").join("regions.yaml");
        std::fs::write(
            &default,
            "KMS:\n  - id: cn-north-4\n    endpoint: https://a.example\n",
        )
        .unwrap();
        let region = Region::new("cn-north-4").unwrap();
        let home = dir.to_str().unwrap().to_owned();
        let resolve = |pairs: &[(&str, &str)]| Endpoints::resolve_reading_file(&region, env(pairs));
        assert_eq!(
            resolve(&[("HOME", &home)]).unwrap().to_string(),
            "https://kms.cn-north-4.myhuaweicloud.com"
        );
        let named = default.to_str().unwrap();
        let err = resolve(&[(ENV_REGIONS_FILE, named)])
            .unwrap_err()
            .to_string();
        assert!(err.contains("`regions-file` feature"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    #[cfg(feature = "regions-file")]
    fn endpoints_from_the_variable_else_the_regions_file_else_the_naming_rule() {
        let dir = std::env::temp_dir().join(format!("kms-proto-regions-{}", std::process::id()));
        std::fs::create_dir_all(dir.join(".huaweicloud")).unwrap();
        let region = Region::new("cn-north-4").unwrap();
        let var = "HUAWEICLOUD_SDK_REGION_KMS_CN_NORTH_4";
        let home = dir.to_str().unwrap().to_owned();
        let resolve = |pairs: &[(&str, &str)]| Endpoints::resolve_reading_file(&region, env(pairs));
        // No variable, no file under HOME: the naming rule.
        assert_eq!(
            resolve(&[("HOME", &home)]).unwrap().to_string(),
            "https://kms.cn-north-4.myhuaweicloud.com"
        );
        // The default file under HOME.
        let default = dir.join(".huaweicloud").join("regions.yaml");
        std::fs::write(
            &default,
            "KMS:\n  - id: cn-north-4\n    endpoints: [https://a.example, https://b.example]\n",
        )
        .unwrap();
        assert_eq!(
            resolve(&[("HOME", &home)]).unwrap().to_string(),
            "https://a.example,https://b.example"
        );
        // The variable comes first; the file is not even read (this one does not exist).
        let missing = dir.join("missing.yaml");
        let missing = missing.to_str().unwrap();
        assert_eq!(
            resolve(&[(var, "https://env.example"), (ENV_REGIONS_FILE, missing)])
                .unwrap()
                .to_string(),
            "https://env.example"
        );
        // A file the variable names must exist.
        let err = resolve(&[("HOME", &home), (ENV_REGIONS_FILE, missing)]).unwrap_err();
        assert!(
            matches!(
                err,
                EndpointsError::File {
                    problem: FileProblem::NotFound,
                    ..
                }
            ),
            "{err}"
        );
        assert!(
            err.to_string().contains(missing) && err.to_string().contains(ENV_REGIONS_FILE),
            "{err}"
        );
        // What is wrong in a file is said with its path and line.
        let named = dir.join("named.yaml");
        let named_str = named.to_str().unwrap();
        std::fs::write(
            &named,
            "KMS:\n  - id: cn-north-4\n    endpoint: http://kms.example\n",
        )
        .unwrap();
        let err = resolve(&[(ENV_REGIONS_FILE, named_str)]).unwrap_err();
        assert!(
            err.to_string().starts_with(&format!(
                "invalid endpoint (from {named_str}, line 3 (KMS cn-north-4))"
            )),
            "{err}"
        );
        std::fs::write(
            &named,
            "KMS:\n  - id: cn-north-4\n    endpiont: https://kms.example\n",
        )
        .unwrap();
        let err = resolve(&[(ENV_REGIONS_FILE, named_str)]).unwrap_err();
        assert!(matches!(err, EndpointsError::RegionsFile { .. }), "{err}");
        assert!(
            err.to_string().contains(named_str) && err.to_string().contains("line 3"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
