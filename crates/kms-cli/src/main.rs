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
mod demo;
mod output;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Query the number of Huawei Cloud KMS instances (customer master keys) of a project.
#[derive(Debug, Parser)]
#[command(name = "kms", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Query the number of instances (ShowUserInstances).
    ///
    /// Credentials come from the environment only, never the command line:
    /// HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK (with HUAWEICLOUD_SDK_SECURITY_TOKEN for
    /// temporary credentials), or an IAM token in HUAWEICLOUD_SDK_AUTH_TOKEN or
    /// --auth-token-file.
    Count(count::Args),
    /// Run the local KMS emulator in the foreground (same flags as `kms-mock`).
    Mock(kms_mock::cli::Args),
    /// Start the emulator on loopback and query it with both transports and both kinds of
    /// credentials.
    Demo,
}

fn main() -> ExitCode {
    let cli = Cli::parse(); // usage errors: clap prints them and exits with 2
    match cli.command {
        Command::Count(args) => count::run(&args),
        Command::Mock(args) => run_mock(&args),
        Command::Demo => demo::run(),
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
