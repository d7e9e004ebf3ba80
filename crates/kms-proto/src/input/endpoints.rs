//! Several endpoints for one region, in the order to try them: what the official SDKs
//! accept in `HUAWEICLOUD_SDK_REGION_KMS_<REGION>` (a comma-separated list) and in the
//! regions file (`endpoint` and `endpoints`). Which one a call uses is decided by
//! [`EndpointHealth`](crate::EndpointHealth).

use std::fmt;

use crate::input::{Endpoint, Input, InvalidInput, Problem, Region, RegionsFile};

/// The most endpoints one region may list (32): more is a mistake in the list, and a
/// client tries each at most once before its retry policy counts a failure.
pub const MAX_ENDPOINTS: usize = 32;

/// One or more [`Endpoint`]s, in the order a client prefers them: never empty, no endpoint
/// twice, at most [`MAX_ENDPOINTS`].
///
/// A client sends each call to the first endpoint that is not cooling down after a failure
/// and moves to the next only when a request could not be sent (see
/// [`EndpointHealth`](crate::EndpointHealth)). One [`Endpoint`] converts into a list of one.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Endpoints(Box<[Endpoint]>);

impl Endpoints {
    /// The list, in order of preference.
    ///
    /// # Errors
    /// [`InvalidInput`] with [`Input::Endpoint`]: an empty list ([`Problem::Empty`]), an
    /// endpoint listed twice ([`Problem::DuplicateEndpoint`]), or more than
    /// [`MAX_ENDPOINTS`] ([`Problem::TooManyEndpoints`]).
    pub fn new(endpoints: impl IntoIterator<Item = Endpoint>) -> Result<Self, InvalidInput> {
        let err = |problem| InvalidInput::new(Input::Endpoint, problem);
        let mut list: Vec<Endpoint> = Vec::new();
        for endpoint in endpoints {
            if list.len() == MAX_ENDPOINTS {
                return Err(err(Problem::TooManyEndpoints { max: MAX_ENDPOINTS }));
            }
            if list.contains(&endpoint) {
                return Err(err(Problem::DuplicateEndpoint(endpoint.to_string())));
            }
            list.push(endpoint);
        }
        if list.is_empty() {
            return Err(err(Problem::Empty));
        }
        Ok(Endpoints(list.into_boxed_slice()))
    }

    /// Parses a comma-separated list of endpoint URLs (`https://a,https://b`), each as
    /// [`Endpoint::parse`] does; spaces around an entry are ignored.
    ///
    /// # Errors
    /// [`InvalidInput`] with [`Input::Endpoint`]: an empty entry (`a,,b`, a trailing
    /// comma), an entry [`Endpoint::parse`] refuses (the error says which entry), or what
    /// [`Endpoints::new`] refuses.
    pub fn parse_list(list: &str) -> Result<Self, InvalidInput> {
        let mut endpoints = Vec::new();
        let several = list.contains(',');
        for (index, entry) in list.split(',').enumerate() {
            let entry = entry.trim_matches([' ', '\t']);
            if entry.is_empty() {
                return Err(InvalidInput::new(
                    Input::Endpoint,
                    Problem::EmptyListEntry { entry: index + 1 },
                ));
            }
            // Which entry, when there are several (the caller adds where the list was).
            let endpoint = Endpoint::parse(entry).map_err(|e| match several {
                true => e.with_origin(format!("entry {} of the list", index + 1)),
                false => e,
            })?;
            endpoints.push(endpoint);
            if endpoints.len() > MAX_ENDPOINTS {
                break;
            }
        }
        Endpoints::new(endpoints)
    }

    /// The endpoints of `region`, from the first of these that names any:
    ///
    /// 1. the official override variable `HUAWEICLOUD_SDK_REGION_KMS_<REGION>` (see
    ///    [`Region::override_var`]), read through `lookup`: one URL or a comma-separated
    ///    list ([`Endpoints::parse_list`]); an empty value counts as unset;
    /// 2. the KMS entry of `region` in the regions file, when one is given (`endpoint`,
    ///    then `endpoints`; see [`RegionsFile`]);
    /// 3. the naming rule ([`Endpoint::for_region`]).
    ///
    /// The core reads neither the environment nor the file itself: see
    /// [`Endpoints::resolve_from_env`], which does both.
    ///
    /// # Errors
    /// [`InvalidInput`] whose [`origin`](InvalidInput::origin) names the variable, or the
    /// file's line.
    pub fn resolve(
        region: &Region,
        lookup: impl FnOnce(&str) -> Option<String>,
        regions: Option<&RegionsFile>,
    ) -> Result<Self, InvalidInput> {
        let var = region.override_var();
        if let Some(value) = lookup(&var).filter(|v| !v.is_empty()) {
            return Endpoints::parse_list(&value).map_err(|e| {
                let origin = match e.origin() {
                    Some(entry) => format!("{var}, {entry}"),
                    None => var.clone(),
                };
                e.with_origin(origin)
            });
        }
        if let Some(listed) = regions.and_then(|file| file.kms_endpoints(region.as_str())) {
            let mut endpoints = Vec::with_capacity(listed.len());
            for entry in listed {
                let origin = || {
                    format!(
                        "the regions file, line {} (KMS {})",
                        entry.line(),
                        region.as_str()
                    )
                };
                endpoints.push(Endpoint::parse(entry.url()).map_err(|e| e.with_origin(origin()))?);
            }
            return Endpoints::new(endpoints)
                .map_err(|e| e.with_origin(format!("the regions file (KMS {})", region.as_str())));
        }
        Ok(Endpoint::for_region(region).into())
    }

    /// The preferred endpoint: the first of the list.
    pub fn first(&self) -> &Endpoint {
        // Never empty: `new` refuses an empty list, and `From<Endpoint>` makes one of one.
        let Some(first) = self.0.first() else {
            unreachable!("an Endpoints list is never empty")
        };
        first
    }

    /// The endpoints, in order of preference (never empty).
    pub fn as_slice(&self) -> &[Endpoint] {
        &self.0
    }

    /// The endpoints, in order of preference.
    pub fn iter(&self) -> std::slice::Iter<'_, Endpoint> {
        self.0.iter()
    }
}

impl From<Endpoint> for Endpoints {
    fn from(endpoint: Endpoint) -> Self {
        Endpoints(Box::new([endpoint]))
    }
}

impl<'a> IntoIterator for &'a Endpoints {
    type Item = &'a Endpoint;
    type IntoIter = std::slice::Iter<'a, Endpoint>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// The URLs, separated by `,` (the form [`Endpoints::parse_list`] reads).
impl fmt::Display for Endpoints {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, endpoint) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{endpoint}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Endpoints {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Endpoints({self})")
    }
}

impl std::str::FromStr for Endpoints {
    type Err = InvalidInput;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Endpoints::parse_list(s)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    fn region() -> Region {
        Region::new("cn-north-4").unwrap()
    }

    #[test]
    fn lists_parse_in_order_or_say_which_entry_is_wrong() {
        let cases: &[(&str, &str, Result<&str, Problem>)] = &[
            ("one", "https://a.example", Ok("https://a.example")),
            (
                "three, spaces trimmed",
                "https://a.example, https://b.example:8443 ,http://127.0.0.1:9",
                Ok("https://a.example,https://b.example:8443,http://127.0.0.1:9"),
            ),
            (
                "empty entry",
                "https://a.example,,https://b.example",
                Err(Problem::EmptyListEntry { entry: 2 }),
            ),
            (
                "trailing comma",
                "https://a.example,",
                Err(Problem::EmptyListEntry { entry: 2 }),
            ),
            (
                "twice (after normalising case and default port)",
                "https://a.example,https://A.example:443",
                Err(Problem::DuplicateEndpoint("https://a.example".into())),
            ),
            (
                "an entry that is not https",
                "https://a.example,http://b.example",
                Err(Problem::InsecureHttp),
            ),
        ];
        for (name, list, want) in cases {
            let got = Endpoints::parse_list(list);
            match (want, got) {
                (Ok(want), Ok(got)) => assert_eq!(got.to_string(), *want, "{name}"),
                (Err(want), Err(got)) => assert_eq!(got.problem(), want, "{name}: {got}"),
                (want, got) => panic!("{name}: want {want:?}, got {got:?}"),
            }
        }
        let err = Endpoints::parse_list("https://a.example,ftp://b").unwrap_err();
        assert_eq!(err.origin(), Some("entry 2 of the list"), "{err}");
        let many = vec!["https://a.example"; MAX_ENDPOINTS + 5]
            .iter()
            .enumerate()
            .map(|(i, _)| format!("https://h{i}.example"))
            .collect::<Vec<_>>()
            .join(",");
        assert_eq!(
            Endpoints::parse_list(&many).unwrap_err().problem(),
            &Problem::TooManyEndpoints { max: MAX_ENDPOINTS }
        );
    }

    #[test]
    #[cfg(feature = "regions-file")]
    fn the_variable_comes_first_then_the_file_then_the_naming_rule() {
        let file = RegionsFile::parse(
            b"KMS:\n  - id: cn-north-4\n    endpoint: https://file-a.example\n    endpoints:\n      - https://file-b.example\n",
        )
        .unwrap();
        let var = "HUAWEICLOUD_SDK_REGION_KMS_CN_NORTH_4";
        let set = |name: &str| (name == var).then(|| "https://env.example".to_owned());
        assert_eq!(
            Endpoints::resolve(&region(), set, Some(&file))
                .unwrap()
                .to_string(),
            "https://env.example"
        );
        let empty = |name: &str| (name == var).then(String::new);
        assert_eq!(
            Endpoints::resolve(&region(), empty, Some(&file))
                .unwrap()
                .to_string(),
            "https://file-a.example,https://file-b.example"
        );
        assert_eq!(
            Endpoints::resolve(&region(), |_| None, None)
                .unwrap()
                .to_string(),
            "https://kms.cn-north-4.myhuaweicloud.com"
        );
        let other = Region::new("cn-east-3").unwrap();
        assert_eq!(
            Endpoints::resolve(&other, |_| None, Some(&file))
                .unwrap()
                .to_string(),
            "https://kms.cn-east-3.myhuaweicloud.com"
        );
        let wrong = |name: &str| (name == var).then(|| "https://a.example,nope".to_owned());
        let err = Endpoints::resolve(&region(), wrong, None).unwrap_err();
        assert_eq!(err.origin(), Some(&*format!("{var}, entry 2 of the list")));
        let bad_file =
            RegionsFile::parse(b"KMS:\n  - id: cn-north-4\n    endpoint: http://b.example\n")
                .unwrap();
        let err = Endpoints::resolve(&region(), |_| None, Some(&bad_file)).unwrap_err();
        assert_eq!(
            err.origin(),
            Some("the regions file, line 3 (KMS cn-north-4)"),
            "{err}"
        );
    }

    #[test]
    fn the_override_is_read_through_the_lookup_and_checked() {
        let region = region();
        let mut asked = String::new();
        let e = Endpoints::resolve(
            &region,
            |name| {
                asked = name.to_owned();
                Some("https://kms.private.example:9443".into())
            },
            None,
        )
        .unwrap();
        assert_eq!(asked, "HUAWEICLOUD_SDK_REGION_KMS_CN_NORTH_4");
        assert_eq!(e.first().authority(), "kms.private.example:9443");

        let err =
            Endpoints::resolve(&region, |_| Some("http://evil.example".into()), None).unwrap_err();
        assert_eq!(err.origin(), Some("HUAWEICLOUD_SDK_REGION_KMS_CN_NORTH_4"));
        assert_eq!(err.problem(), &Problem::InsecureHttp);
        assert!(
            err.to_string()
                .contains("HUAWEICLOUD_SDK_REGION_KMS_CN_NORTH_4")
        );
    }
}
