//! A suite of cases that each run on every transport, as named trials: what the IAM,
//! credential and arrival suites share (`harness = false`, run by libtest-mimic).

use std::process::ExitCode;

use libtest_mimic::{Arguments, Failed, Trial};

use crate::Transport;

/// A case: its name and its check, run once per transport. The check fails with a message.
pub type Case = (&'static str, fn(Transport) -> Result<(), String>);

/// Runs `cases` as trials named `<suite>::<case>::<transport>`, each runnable alone by name,
/// with the command line's filters and options.
pub fn run(suite: &str, cases: &[Case]) -> ExitCode {
    let args = Arguments::from_args();
    let mut trials = Vec::new();
    for &(name, case) in cases {
        for transport in Transport::ALL {
            trials.push(Trial::test(
                format!("{suite}::{name}::{}", transport.name()),
                move || case(transport).map_err(Failed::from),
            ));
        }
    }
    libtest_mimic::run(&args, trials).exit_code()
}
