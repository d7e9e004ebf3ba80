//! Regions: the official table, and the naming rule that makes any other region usable.

use std::fmt;

use crate::input::{Input, InvalidInput, Problem, check_chars, check_len};

/// The 32 regions of the official Huawei Cloud KMS endpoint table.
///
/// Unlike the official SDKs, [`Region::new`] does not refuse a region outside this list:
/// any well-formed id resolves by the naming rule, so a new region needs no upgrade.
pub const KNOWN_REGIONS: [&str; 32] = [
    "eu-west-101",
    "cn-north-4",
    "cn-north-1",
    "cn-north-2",
    "cn-east-2",
    "cn-east-3",
    "cn-south-1",
    "cn-south-2",
    "af-south-1",
    "cn-southwest-2",
    "ap-southeast-2",
    "ap-southeast-1",
    "ap-southeast-3",
    "la-south-2",
    "sa-brazil-1",
    "na-mexico-1",
    "la-north-2",
    "cn-north-9",
    "ap-southeast-4",
    "tr-west-1",
    "ae-ad-1",
    "my-kualalumpur-1",
    "ru-moscow-1",
    "cn-east-5",
    "cn-east-4",
    "me-east-1",
    "ap-southeast-5",
    "cn-south-4",
    "cn-north-12",
    "cn-north-11",
    "af-north-1",
    "cn-southwest-3",
];

/// A validated region id such as `cn-north-4`.
///
/// Well-formed means usable as one DNS label: 1 to 63 ASCII letters, digits and `-`,
/// starting with a letter, not ending with `-`, with at least one `-`. Upper-case letters
/// are accepted and folded to lower case, as DNS does.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Region(Box<str>);

impl Region {
    /// The longest region id accepted, in bytes (one DNS label).
    pub const MAX_LEN: usize = 63;

    /// Validates `id`.
    ///
    /// # Errors
    /// [`InvalidInput`] with [`Input::Region`] naming the problem.
    pub fn new(id: &str) -> Result<Self, InvalidInput> {
        check_len(Input::Region, id, Self::MAX_LEN)?;
        check_chars(
            Input::Region,
            id,
            "ASCII letters, digits and '-', as in cn-north-4",
            |c| c.is_ascii_alphanumeric() || c == '-',
        )?;
        let shape_ok = id.starts_with(|c: char| c.is_ascii_alphabetic())
            && !id.ends_with('-')
            && id.contains('-')
            && !id.contains("--");
        if !shape_ok {
            return Err(InvalidInput::new(
                Input::Region,
                Problem::Malformed {
                    expected: "a region id like cn-north-4: starts with a letter, words joined by single '-'",
                },
            ));
        }
        Ok(Region(id.to_ascii_lowercase().into()))
    }

    /// The id as text, in lower case.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the region is in the official table ([`KNOWN_REGIONS`]).
    pub fn is_known(&self) -> bool {
        KNOWN_REGIONS.contains(&&*self.0)
    }

    /// The host of the region's KMS endpoint by the naming rule:
    /// `kms.{region}.myhuaweicloud.com`, and `.eu` instead of `.com` for `eu-west-101`.
    pub fn kms_host(&self) -> String {
        let tld = if &*self.0 == "eu-west-101" {
            "eu"
        } else {
            "com"
        };
        format!("kms.{}.myhuaweicloud.{tld}", self.0)
    }

    /// The name of the environment variable that overrides this region's KMS endpoint,
    /// as the official SDKs define it: `HUAWEICLOUD_SDK_REGION_KMS_` followed by the
    /// region in upper case with `-` replaced by `_` (`HUAWEICLOUD_SDK_REGION_KMS_CN_NORTH_4`).
    pub fn override_var(&self) -> String {
        let mut name = String::from(crate::input::env_names::ENV_REGION_KMS_PREFIX);
        name.extend(self.0.chars().map(|c| {
            if c == '-' {
                '_'
            } else {
                c.to_ascii_uppercase()
            }
        }));
        name
    }
}

impl fmt::Debug for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Region").field(&&*self.0).finish()
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for Region {
    type Err = InvalidInput;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Region::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_region_is_well_formed_and_known() {
        for id in KNOWN_REGIONS {
            let region = Region::new(id).unwrap();
            assert!(region.is_known(), "{id}");
            assert_eq!(region.as_str(), id);
        }
    }

    #[test]
    fn naming_rule() {
        let host = |id: &str| Region::new(id).unwrap().kms_host();
        assert_eq!(host("cn-north-4"), "kms.cn-north-4.myhuaweicloud.com");
        assert_eq!(host("eu-west-101"), "kms.eu-west-101.myhuaweicloud.eu");
        // A region that did not exist when this was written still resolves.
        let new = Region::new("xx-future-9").unwrap();
        assert!(!new.is_known());
        assert_eq!(new.kms_host(), "kms.xx-future-9.myhuaweicloud.com");
    }

    #[test]
    fn upper_case_is_folded() {
        assert_eq!(Region::new("CN-North-4").unwrap().as_str(), "cn-north-4");
    }

    #[test]
    fn override_variable_name() {
        let region = Region::new("cn-north-4").unwrap();
        assert_eq!(
            region.override_var(),
            "HUAWEICLOUD_SDK_REGION_KMS_CN_NORTH_4"
        );
    }

    #[test]
    fn refuses_malformed_ids() {
        for id in [
            "",
            "cnnorth4",
            "-cn-north",
            "cn-north-",
            "cn--north",
            "4cn-north",
            "cn.north-4",
            "cn-north-4/x",
            "cn north",
            "кн-север",
        ] {
            let err = Region::new(id).unwrap_err();
            assert_eq!(err.input(), Input::Region, "{id:?}");
        }
        assert!(Region::new(&format!("a-{}", "b".repeat(62))).is_err());
    }
}
