//! Reading a file named on the command line, bounded: every file `kms` reads goes through
//! [`read_bounded`], so `/dev/zero`, a FIFO nobody writes to, a directory or a runaway file
//! ends in one line and exit 2 instead of exhausting memory or blocking forever.

use std::fmt;
use std::fs::{File, Metadata};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// What a file is for, how large it may be, and what to tell someone who named the wrong
/// kind of file.
#[derive(Debug)]
pub(crate) struct FileKind {
    /// Names the file in messages: "the {label} {path} ...".
    label: &'static str,
    /// The most bytes the file may hold.
    max: u64,
    /// Completes "is larger than ...".
    limit: &'static str,
    /// Completes "is not a regular file (a directory); ...".
    hint: &'static str,
}

/// The most a `--ca-file` may hold: 1 MiB. A CA bundle is a few certificates of 1-2 KB in
/// PEM; even Mozilla's whole root store is about 250 KB.
pub(crate) const MAX_CA_FILE: u64 = 1024 * 1024;

/// The most an `--auth-token-file` may hold: the longest token `kms_proto` accepts
/// ([`kms_proto::MAX_TOKEN_LEN`], 32 KiB) and a CRLF, which is trimmed before the token is
/// checked. A longer file could only be refused later, after being read.
pub(crate) const MAX_TOKEN_FILE: u64 = kms_proto::MAX_TOKEN_LEN as u64 + 2;

/// `--ca-file`: a PEM bundle of CA certificates.
pub(crate) const CA_FILE: FileKind = FileKind {
    label: "CA file",
    max: MAX_CA_FILE,
    limit: "the 1 MiB a CA bundle may be",
    hint: "pass a PEM file",
};

/// `--auth-token-file`: an IAM token, perhaps followed by a line ending.
pub(crate) const TOKEN_FILE: FileKind = FileKind {
    label: "auth token file",
    max: MAX_TOKEN_FILE,
    limit: "the 32 KiB an IAM token may be, plus a line ending",
    hint: "pass a file holding the token",
};

/// The profile file the official SDKs read (`HUAWEICLOUD_SDK_CREDENTIALS_FILE`, else
/// `~/.huaweicloud/credentials`): INI, at most [`kms_proto::credentials::MAX_PROFILE_LEN`].
pub(crate) const PROFILE_FILE: FileKind = FileKind {
    label: "profile file",
    max: kms_proto::credentials::MAX_PROFILE_LEN as u64,
    limit: "the 1 MiB a profile file may be",
    hint: "point HUAWEICLOUD_SDK_CREDENTIALS_FILE at an INI file with a [basic] section",
};

/// KooCLI's configuration (`~/.hcloud/config.json`), at most
/// [`kms_proto::credentials::MAX_KOOCLI_LEN`].
pub(crate) const KOOCLI_FILE: FileKind = FileKind {
    label: "KooCLI configuration",
    max: kms_proto::credentials::MAX_KOOCLI_LEN as u64,
    limit: "the 1 MiB a KooCLI configuration may be",
    hint: "it is the JSON file `hcloud configure` writes",
};

impl FileKind {
    /// What the file is for, as messages name it ("profile file").
    pub(crate) fn label(&self) -> &'static str {
        self.label
    }
}

/// Why a file could not be read; its `Display` is one line naming the file and the problem.
#[derive(Debug)]
pub(crate) struct FileError {
    kind: &'static FileKind,
    path: PathBuf,
    problem: Problem,
}

/// What is wrong with the file.
#[derive(Debug)]
enum Problem {
    /// Not a regular file: what it is instead ("a directory", "a FIFO", ...).
    NotRegular(&'static str),
    /// More than `kind.max` bytes.
    TooLarge,
    /// Missing, unreadable, or failed while being read.
    Io(io::Error),
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let FileKind {
            label, limit, hint, ..
        } = self.kind;
        let path = one_line(&self.path);
        match &self.problem {
            Problem::NotRegular(what) => write!(
                f,
                "the {label} {path} is not a regular file ({what}); {hint}"
            ),
            Problem::TooLarge => write!(f, "the {label} {path} is larger than {limit}"),
            Problem::Io(e) => write!(f, "cannot read the {label} {path}: {e}"),
        }
    }
}

impl std::error::Error for FileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.problem {
            Problem::Io(e) => Some(e),
            Problem::NotRegular(_) | Problem::TooLarge => None,
        }
    }
}

/// Reads the whole of the regular file at `path`, at most `kind`'s maximum.
///
/// The file's type is checked before it is opened, because opening a FIFO that has no
/// writer blocks, and again on the opened file, so that one swapped in between is still
/// refused once opened (a FIFO swapped in between the two can still block the open; that
/// race needs someone who can write where the path points). At most one byte more than
/// the maximum is read, so a file that grows while it is read is refused too.
pub(crate) fn read_bounded(path: &Path, kind: &'static FileKind) -> Result<Vec<u8>, FileError> {
    let fail = |problem| FileError {
        kind,
        path: path.to_owned(),
        problem,
    };
    let check = |metadata: &Metadata| match not_regular(metadata) {
        Some(what) => Err(fail(Problem::NotRegular(what))),
        None if metadata.len() > kind.max => Err(fail(Problem::TooLarge)),
        None => Ok(()),
    };
    check(&std::fs::metadata(path).map_err(|e| fail(Problem::Io(e)))?)?;
    let file = File::open(path).map_err(|e| fail(Problem::Io(e)))?;
    let metadata = file.metadata().map_err(|e| fail(Problem::Io(e)))?;
    check(&metadata)?;
    // Room for what the file holds now, and one byte to see its end without growing:
    // never more than the maximum and one byte, whatever the metadata says.
    let expected = metadata.len().min(kind.max).saturating_add(1);
    let mut contents = Vec::with_capacity(usize::try_from(expected).unwrap_or(0));
    file.take(kind.max.saturating_add(1))
        .read_to_end(&mut contents)
        .map_err(|e| fail(Problem::Io(e)))?;
    if u64::try_from(contents.len()).unwrap_or(u64::MAX) > kind.max {
        return Err(fail(Problem::TooLarge));
    }
    Ok(contents)
}

/// What the file is, if it is not a regular file (after following symbolic links).
fn not_regular(metadata: &Metadata) -> Option<&'static str> {
    let file_type = metadata.file_type();
    if file_type.is_file() {
        return None;
    }
    if file_type.is_dir() {
        return Some("a directory");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return Some("a FIFO");
        }
        if file_type.is_char_device() {
            return Some("a character device");
        }
        if file_type.is_block_device() {
            return Some("a block device");
        }
        if file_type.is_socket() {
            return Some("a socket");
        }
    }
    Some("a special file")
}

/// The path as one line, for messages: control characters (a newline in a file name) are
/// escaped, so a message naming a file stays one line whatever the name.
pub(crate) fn one_line(path: &Path) -> String {
    path.to_string_lossy()
        .chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("kms-cli-file-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    const SMALL: FileKind = FileKind {
        label: "test file",
        max: 8,
        limit: "the 8 bytes a test file may be",
        hint: "pass a test file",
    };

    #[test]
    fn reads_up_to_the_maximum_and_refuses_a_byte_more() {
        let dir = temp_dir("limit");
        let path = dir.join("f");
        for len in 0..=8 {
            std::fs::write(&path, vec![b'x'; len]).unwrap();
            assert_eq!(read_bounded(&path, &SMALL).unwrap().len(), len);
        }
        std::fs::write(&path, b"123456789").unwrap();
        let e = read_bounded(&path, &SMALL).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "the test file {} is larger than the 8 bytes a test file may be",
                path.display()
            )
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn refuses_what_is_not_a_regular_file_in_one_line() {
        let dir = temp_dir("kinds");
        let e = read_bounded(&dir, &SMALL).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "the test file {} is not a regular file (a directory); pass a test file",
                dir.display()
            )
        );
        let missing = dir.join("missing\nfile");
        let e = read_bounded(&missing, &SMALL).unwrap_err();
        assert!(std::error::Error::source(&e).is_some());
        let message = e.to_string();
        assert!(
            message.starts_with("cannot read the test file ") && message.contains("missing\\nfile"),
            "{message}"
        );
        assert_eq!(message.lines().count(), 1, "{message}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[cfg(unix)]
    #[test]
    fn refuses_devices_without_reading_them() {
        let e = read_bounded(Path::new("/dev/zero"), &CA_FILE).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the CA file /dev/zero is not a regular file (a character device); pass a PEM file"
        );
    }

    #[test]
    fn the_token_file_holds_the_longest_token_and_a_crlf() {
        assert_eq!(MAX_TOKEN_FILE, 32 * 1024 + 2);
        assert_eq!(MAX_CA_FILE, 1 << 20);
        assert_eq!(PROFILE_FILE.max, 1 << 20);
        assert_eq!(KOOCLI_FILE.max, 1 << 20);
    }
}
