//! `kms`: query the number of Huawei Cloud KMS instances (customer master keys), run the
//! local emulator, or see a demo of both. See `kms --help`.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
// The doc comments of this binary are clap's help text, read in a terminal: URLs, `<ID>`
// placeholders and `[user:password@]` are meant literally there, not as HTML or links.
#![allow(
    rustdoc::bare_urls,
    rustdoc::broken_intra_doc_links,
    rustdoc::invalid_html_tags
)]

mod count;
mod credentials;
mod demo;
mod file;
mod generate;
mod output;
mod repeat;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

/// Query the number of Huawei Cloud KMS instances (customer master keys) of a project.
#[derive(Debug, Parser)]
#[command(
    name = "kms",
    version,
    propagate_version = true,
    after_help = output::exit_codes_help(
        "Exit codes of `kms count` (the other commands: 0 done, 1 failed, 2 usage error):"
    )
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Query the number of instances (ShowUserInstances).
    ///
    /// Secrets never come from the command line. Static credentials come from the
    /// environment: HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK (with
    /// HUAWEICLOUD_SDK_SECURITY_TOKEN for temporary credentials), or an IAM token in
    /// HUAWEICLOUD_SDK_AUTH_TOKEN or --auth-token-file. Without them, the first source
    /// that gives credentials is used: STS with OIDC (HUAWEICLOUD_OIDC_*), IAM federation
    /// (HUAWEICLOUD_SDK_IDP_ID and HUAWEICLOUD_SDK_ID_TOKEN_FILE), an IAM user's password
    /// (HUAWEICLOUD_SDK_IAM_USER, _IAM_DOMAIN, _IAM_PASSWORD or _IAM_PASSWORD_FILE), the
    /// profile file (HUAWEICLOUD_SDK_CREDENTIALS_FILE, else ~/.huaweicloud/credentials),
    /// KooCLI's ~/.hcloud/config.json, CCE pod identity, ECS metadata
    /// (HUAWEICLOUD_SDK_METADATA_ENDPOINT overrides its address); or name one with
    /// --credentials. The profile in use gives the project id and region when no flag or
    /// variable does. Without a project id, the region's project is found through IAM.
    #[command(after_help = output::exit_codes_help("Exit codes:"))]
    Count(count::Args),
    /// Run the local KMS emulator in the foreground (same flags as `kms-mock`).
    Mock(kms_mock::cli::Args),
    /// Start the emulator on loopback and query it with both transports and both kinds of
    /// credentials, then with short-lived credentials from its ECS metadata service,
    /// refreshed ahead of expiry.
    Demo,
    /// Print the completion script of a shell on stdout.
    ///
    /// For example `source <(kms completions bash)` in ~/.bashrc, or
    /// `kms completions zsh > ~/.zfunc/_kms`, `kms completions fish >
    /// ~/.config/fish/completions/kms.fish`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page of kms, or of one of its commands, in roff on stdout (read it
    /// with `kms man count | man -l -`), or write every page into a directory.
    Man {
        /// The command whose page to print (count, mock, demo, completions, man)
        /// [default: kms itself].
        #[arg(value_name = "COMMAND")]
        command: Option<String>,
        /// Write one page per command into DIR (kms.1, kms-count.1, ...), which must
        /// exist, and print the path of each.
        #[arg(long, value_name = "DIR", conflicts_with = "command")]
        out: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return usage_error(&error, std::env::args_os()),
    };
    match cli.command {
        Command::Count(args) => count::run(&args),
        Command::Mock(args) => run_mock(&args),
        Command::Demo => demo::run(),
        Command::Completions { shell } => generate::completions(shell, Cli::command()),
        Command::Man { command, out: None } => {
            generate::man_page(Cli::command(), command.as_deref())
        }
        Command::Man { out: Some(dir), .. } => generate::man_pages_into(Cli::command(), &dir),
    }
}

fn run_mock(args: &kms_mock::cli::Args) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            output::stderr_line(&format!("kms mock: cannot start the async runtime: {e}"));
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(kms_mock::cli::run(args, std::io::stdout())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            output::stderr_line(&format!("kms mock: {e}"));
            ExitCode::FAILURE
        }
    }
}

/// A command line clap refused, or `--help`/`--version` (which clap reports as errors).
///
/// With `--output json` a usage error is one JSON config error on stdout, like every other
/// failure of `kms count`; otherwise clap's own text and exit code, as clap would print
/// them (help and version on stdout with exit 0, errors on stderr with exit 2).
fn usage_error(error: &clap::Error, args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let is_failure = error.use_stderr(); // not --help or --version
    if is_failure && json_requested(args) {
        return output::config_failure(output::Format::Json, &clap_message(error));
    }
    let _ = error.print(); // nowhere to report that stdout or stderr is gone
    ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(output::EXIT_CONFIG))
}

/// Whether these arguments (the program's name first) ask `kms count` for `--output json`,
/// read as clap reads them, so that a command line clap refused still gets the format it
/// asked for.
///
/// Only the arguments after the `count` subcommand count (`kms --output json count` is a
/// usage error of `kms` itself, and `mock` and `demo` have no `--output`), up to a `--`
/// (after which clap takes everything as a positional value). `--output=V` and
/// `--output V` set the format; the last one wins. Like clap, `--output` does not take a
/// following argument that starts with `-` (other than `-` itself) as its value: clap
/// reports the value missing and reads that argument as a flag.
/// No other flag of `count` needs to be known: clap never takes an argument starting
/// with `-` as another flag's value either (none of them allows hyphen values), so an
/// argument `--output` is always the flag itself, never the value of the flag before it,
/// and `--region=--output json` is a region and a stray `json`, which asks for nothing.
/// The value must be exactly `json`, as clap's value parser requires.
fn json_requested(args: impl IntoIterator<Item = OsString>) -> bool {
    let is_flag = |arg: &OsString| arg.as_encoded_bytes().starts_with(b"-") && arg != "-";
    let mut args = args.into_iter().skip(1).peekable();
    // Before the subcommand `kms` takes only -h and -V, which take no value: the first
    // argument that is not a flag is the subcommand (or `--`, after which there is none).
    let subcommand = args.find(|arg| arg == "--" || !is_flag(arg));
    if subcommand.as_deref() != Some("count".as_ref()) {
        return false;
    }
    let mut json = false;
    while let Some(arg) = args.next() {
        let Some(arg) = arg.to_str() else { continue };
        if arg == "--" {
            break;
        }
        if let Some(value) = arg.strip_prefix("--output=") {
            json = value == "json";
        } else if arg == "--output"
            && let Some(value) = args.next_if(|next| !is_flag(next))
        {
            json = value == "json";
        }
    }
    json
}

/// clap's message for a usage error as one line: its first paragraph and its tips, without
/// the `error:` label, the usage and the pointer to `--help`, and without colours (a
/// `StyledStr` displays as plain text).
fn clap_message(error: &clap::Error) -> String {
    let rendered = error.render().to_string();
    let mut paragraphs = rendered.split("\n\n").map(str::trim);
    let first = paragraphs.next().unwrap_or_default();
    let first = first.strip_prefix("error:").unwrap_or(first);
    let tips = paragraphs.filter(|p| p.starts_with("tip:"));
    // A paragraph's lines (a list of possible values) joined by spaces, the tips after "; ".
    let message: Vec<String> = std::iter::once(first)
        .chain(tips)
        .map(|paragraph| {
            let lines: Vec<&str> = paragraph
                .lines()
                .map(str::trim)
                .filter(|line| !line.is_empty())
                .collect();
            lines.join(" ")
        })
        .filter(|paragraph| !paragraph.is_empty())
        .collect();
    message.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asks_json(args: &[&str]) -> bool {
        json_requested(
            std::iter::once("kms")
                .chain(args.iter().copied())
                .map(OsString::from),
        )
    }

    #[test]
    fn json_is_asked_for_as_clap_reads_the_arguments() {
        for yes in [
            &["count", "--output", "json"][..],
            &["count", "--output=json"],
            &["count", "--timeout", "abc", "--output", "json", "-v"],
            &["count", "--output", "text", "--output=json"],
            &["count", "--project-id", "--output", "json"],
            &["-V", "count", "--output", "json"],
        ] {
            assert!(asks_json(yes), "{yes:?}");
        }
        for no in [
            &[][..],
            &["count"],
            &["count", "--output", "text"],
            &["count", "--output", "json", "--output", "text"],
            &["count", "--output=json", "--output=text"],
            &["count", "--output", "JSON"],
            &["count", "--output"],
            &["count", "--output", "--timeout", "json"],
            &["count", "--output", "-", "json"],
            &["count", "--region=--output", "json"],
            &["count", "--", "--output", "json"],
            &["--", "count", "--output", "json"],
            &["--output", "json", "count"],
            &["mock", "--output", "json"],
            &["demo", "--output=json"],
            &["help", "count", "--output", "json"],
        ] {
            assert!(!asks_json(no), "{no:?}");
        }
    }

    #[test]
    fn clap_messages_are_one_line_without_usage() {
        let cases: [(&[&str], &str); 3] = [
            (
                &["kms", "count", "--timeout", "abc"],
                "invalid value 'abc' for '--timeout <SECONDS>': invalid float literal",
            ),
            (
                &["kms", "count", "--tmeout", "3"],
                "unexpected argument '--tmeout' found; tip: a similar argument exists: '--timeout'",
            ),
            (
                &["kms", "count", "--output"],
                "a value is required for '--output <OUTPUT>' but none was supplied [possible values: text, json]",
            ),
        ];
        for (args, want) in cases {
            // Colours on, as on a terminal: the message is still plain text.
            let error = Cli::command()
                .color(clap::ColorChoice::Always)
                .try_get_matches_from(args)
                .unwrap_err();
            assert!(error.render().ansi().to_string().contains('\u{1b}'));
            assert_eq!(clap_message(&error), want, "{args:?}");
        }
    }
}
