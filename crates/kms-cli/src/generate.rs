//! `kms completions <SHELL>` and `kms man`: shell completion scripts (clap_complete) and
//! manual pages (clap_mangen), made from the command line itself, so that they say what
//! `--help` says, exit codes included.
//!
//! Everything is rendered in memory first and written in one go: a reader that goes away
//! (`kms completions bash | head`) ends `kms` quietly with exit 0, and any other failure to
//! write is one line on stderr and exit 1.

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

use clap_complete::Shell;
use clap_mangen::Man;

use crate::output::{self, EXIT_CONFIG};

/// `kms completions <SHELL>`: the completion script for `shell` on stdout.
pub(crate) fn completions(shell: Shell, mut command: clap::Command) -> ExitCode {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "kms", &mut script);
    write_stdout(&script, "kms completions")
}

/// `kms man [COMMAND]`: the page of `kms`, or of `kms COMMAND`, in roff on stdout.
pub(crate) fn man_page(command: clap::Command, subcommand: Option<&str>) -> ExitCode {
    let command = built(command);
    let page = match subcommand {
        None => command,
        Some(name) => match command.find_subcommand(name) {
            Some(sub) => sub.clone(),
            None => {
                let names: Vec<&str> = command.get_subcommands().map(|c| c.get_name()).collect();
                output::stderr_line(&format!(
                    "kms man: there is no command {name:?}; the commands are {}",
                    names.join(", ")
                ));
                return ExitCode::from(EXIT_CONFIG);
            }
        },
    };
    write_stdout(render(page).as_bytes(), "kms man")
}

/// `kms man --out DIR`: one page per command into `dir` (`kms.1`, `kms-count.1`, ...), and
/// the path of each on stdout.
pub(crate) fn man_pages_into(command: clap::Command, dir: &Path) -> ExitCode {
    let command = built(command);
    let pages = std::iter::once(command.clone()).chain(command.get_subcommands().cloned());
    let mut written = Vec::new();
    for page in pages {
        let path = dir.join(Man::new(page.clone()).get_filename());
        match std::fs::write(&path, render(page)) {
            Ok(()) => written.push(crate::file::one_line(&path)),
            Err(e) => {
                output::stderr_line(&format!(
                    "kms man: cannot write a page into {}: {e}",
                    crate::file::one_line(dir)
                ));
                return ExitCode::FAILURE;
            }
        }
    }
    let mut list = written.join("\n");
    list.push('\n');
    write_stdout(list.as_bytes(), "kms man")
}

/// The page of `command`: clap_mangen's, its source `kms <version>` on every page, and
/// the exit codes (`after_help`, which clap_mangen puts under EXTRA) under EXIT STATUS, as
/// man-pages(7) names that section.
fn render(command: clap::Command) -> String {
    let mut roff = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = Man::new(command)
        .source(format!("kms {}", env!("CARGO_PKG_VERSION")))
        .render(&mut roff);
    String::from_utf8_lossy(&roff).replace("\n.SH EXTRA\n", "\n.SH \"EXIT STATUS\"\n")
}

/// `command` as clap builds it to parse (subcommands named `kms-count`...), without the
/// `help` subcommand, which has no page of its own.
fn built(command: clap::Command) -> clap::Command {
    let mut command = command.disable_help_subcommand(true);
    command.build();
    command
}

fn write_stdout(bytes: &[u8], who: &str) -> ExitCode {
    let mut stdout = io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            output::stderr_line(&format!("{who}: cannot write to stdout: {e}"));
            ExitCode::FAILURE
        }
    }
}
