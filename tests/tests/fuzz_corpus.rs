//! Replays the committed fuzz corpus of every target, and every saved crash reproducer,
//! through the same harness functions the fuzz targets call (`kms_fuzz_harness`), on
//! stable, as an ordinary test. Failing inputs are named.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // a test fails by panicking

use std::fs;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use kms_conformance::workspace_root;
use kms_fuzz_harness::TARGETS;

/// Runs every file of `dir` through `harness`; returns (files run, failures).
fn replay(dir: &Path, harness: fn(&[u8])) -> (usize, Vec<String>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return (0, Vec::new());
    };
    let mut files: Vec<_> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    let mut failures = Vec::new();
    for file in &files {
        let data = fs::read(file).unwrap();
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| harness(&data))) {
            let why = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            failures.push(format!("  {}: {why}", file.display()));
        }
    }
    (files.len(), failures)
}

#[test]
fn every_corpus_and_reproducer_passes_its_harness() {
    let fuzz = workspace_root().join("fuzz");
    let mut failures = Vec::new();
    let mut total = 0;
    for (name, harness) in TARGETS {
        assert!(
            fuzz.join("fuzz_targets")
                .join(format!("{name}.rs"))
                .exists(),
            "harness {name} has no fuzz target"
        );
        let (corpus, mut failed) = replay(&fuzz.join("corpus").join(name), harness);
        assert!(
            corpus > 0,
            "the corpus of {name} (fuzz/corpus/{name}) is empty or missing"
        );
        let (reproducers, failed_reproducers) =
            replay(&fuzz.join("regressions").join(name), harness);
        failed.extend(failed_reproducers);
        total += corpus + reproducers;
        failures.extend(failed);
    }
    assert!(
        failures.is_empty(),
        "{} of {total} fuzz inputs failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// A reproducer saved under a folder no target has (a typo, a renamed target) would never
/// be replayed: every folder of `fuzz/regressions` is a target's.
#[test]
fn every_regression_folder_is_a_targets() {
    let dir = workspace_root().join("fuzz").join("regressions");
    let Ok(entries) = fs::read_dir(&dir) else {
        return;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            path.is_dir() && TARGETS.iter().any(|(t, _)| *t == name),
            "fuzz/regressions/{name} is not the folder of a fuzz target: put reproducers in \
             fuzz/regressions/<target>/, one of {:?}",
            TARGETS.iter().map(|(t, _)| *t).collect::<Vec<_>>()
        );
    }
}

#[test]
fn every_fuzz_target_has_a_harness() {
    let dir = workspace_root().join("fuzz").join("fuzz_targets");
    for entry in fs::read_dir(&dir).unwrap() {
        let name = entry
            .unwrap()
            .path()
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert!(
            TARGETS.iter().any(|(t, _)| *t == name),
            "fuzz target {name} is not in kms_fuzz_harness::TARGETS"
        );
    }
}
