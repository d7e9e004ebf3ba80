//! `kms-mock`: the emulator as a program. See `kms-mock --help`.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // clap prints a clear message and exits with 2 on bad flags.
    let args = kms_mock::cli::Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            report(&format!("kms-mock: cannot start the async runtime: {e}"));
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(kms_mock::cli::run(&args, std::io::stdout())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            report(&format!("kms-mock: {e}"));
            ExitCode::FAILURE
        }
    }
}

fn report(message: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{message}");
}
