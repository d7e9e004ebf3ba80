//! The project id, the one path parameter of the call.

use std::fmt;

use crate::input::{Input, InvalidInput, check_chars, check_len};

/// A validated Huawei Cloud project id.
///
/// 1 to 64 ASCII letters, digits, `-` or `_`. Real project ids are 32 lower-case hex
/// digits, but private clouds have been seen with other shapes, so only what could break
/// the URL is refused: `/`, `.`, `%`, `?`, `#`, whitespace, non-ASCII and everything else
/// outside that set. A `ProjectId` can therefore be put into a path without escaping and
/// can never add, remove or reinterpret a path segment.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProjectId(Box<str>);

impl ProjectId {
    /// The longest project id accepted, in bytes.
    pub const MAX_LEN: usize = 64;

    /// Validates `id`.
    ///
    /// # Errors
    /// [`InvalidInput`] with [`Input::ProjectId`] naming the problem: empty, longer than
    /// [`MAX_LEN`](Self::MAX_LEN), or the first character that is not allowed.
    pub fn new(id: &str) -> Result<Self, InvalidInput> {
        check_len(Input::ProjectId, id, Self::MAX_LEN)?;
        check_chars(
            Input::ProjectId,
            id,
            "ASCII letters, digits, '-' or '_'",
            |c| c.is_ascii_alphanumeric() || c == '-' || c == '_',
        )?;
        Ok(ProjectId(id.into()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ProjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ProjectId").field(&&*self.0).finish()
    }
}

impl fmt::Display for ProjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for ProjectId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for ProjectId {
    type Err = InvalidInput;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ProjectId::new(s)
    }
}

impl TryFrom<&str> for ProjectId {
    type Error = InvalidInput;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        ProjectId::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::Problem;

    #[test]
    fn accepts_real_shapes() {
        for id in [
            "0dea2644dc80d5d22ff1c01e3ebea6fc",
            "a",
            "my_project-1",
            &"x".repeat(64),
        ] {
            assert_eq!(ProjectId::new(id).unwrap().as_str(), id);
        }
    }

    #[test]
    fn refuses_everything_that_could_touch_the_path() {
        let cases: &[(&str, Problem)] = &[
            ("", Problem::Empty),
            (&"x".repeat(65), Problem::TooLong { len: 65, max: 64 }),
            ("a/b", bad('/', 1)),
            ("..", bad('.', 0)),
            ("a%2Fb", bad('%', 1)),
            ("a?x=1", bad('?', 1)),
            ("a#f", bad('#', 1)),
            ("a b", bad(' ', 1)),
            ("é", bad('é', 0)),
            ("a\nb", bad('\n', 1)),
            ("{project_id}", bad('{', 0)),
        ];
        for (input, problem) in cases {
            let err = ProjectId::new(input).unwrap_err();
            assert_eq!(err.input(), Input::ProjectId, "{input:?}");
            assert_eq!(err.problem(), problem, "{input:?}");
        }
    }

    #[test]
    fn message_names_the_character_and_the_rule() {
        let msg = ProjectId::new("a/b").unwrap_err().to_string();
        assert_eq!(
            msg,
            "invalid project id: character '/' at byte 1 is not allowed; use ASCII letters, digits, '-' or '_'"
        );
    }

    fn bad(ch: char, index: usize) -> Problem {
        Problem::InvalidChar {
            ch: Some(ch),
            index,
            allowed: "ASCII letters, digits, '-' or '_'",
        }
    }
}
