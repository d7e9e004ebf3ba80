//! Rules every crate of the workspace keeps, checked so that a new crate cannot forget them.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // a test fails by panicking

use std::fs;

use kms_conformance::workspace_root;

/// The crates under `crates/`, by directory name.
fn crates() -> Vec<String> {
    let dir = workspace_root().join("crates");
    let mut names: Vec<String> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| {
            workspace_root()
                .join("crates")
                .join(name)
                .join("Cargo.toml")
                .exists()
        })
        .collect();
    names.sort();
    names
}

#[test]
fn every_library_forbids_unsafe_and_documents_everything() {
    let mut crate_roots: Vec<_> = crates()
        .into_iter()
        .map(|name| {
            workspace_root()
                .join("crates")
                .join(name)
                .join("src/lib.rs")
        })
        .collect();
    crate_roots.push(workspace_root().join("tests/src/lib.rs"));
    let mut problems = Vec::new();
    for root in crate_roots.iter().filter(|p| p.exists()) {
        let text = fs::read_to_string(root).unwrap();
        for attr in ["#![forbid(unsafe_code)]", "#![deny(missing_docs)]"] {
            if !text.contains(attr) {
                problems.push(format!("{} lacks {attr}", root.display()));
            }
        }
    }
    assert!(!crate_roots.is_empty());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_readme_lists_every_crate() {
    let readme = fs::read_to_string(workspace_root().join("README.md")).unwrap();
    let missing: Vec<String> = crates()
        .into_iter()
        .filter(|name| !readme.contains(&format!("crates/{name}")))
        .collect();
    assert!(!crates().is_empty());
    assert!(
        missing.is_empty(),
        "README.md's crate table lacks {missing:?}"
    );
}

#[test]
fn every_crate_uses_the_workspace_lints_and_package_settings() {
    let mut manifests: Vec<_> = crates()
        .into_iter()
        .map(|name| {
            workspace_root()
                .join("crates")
                .join(name)
                .join("Cargo.toml")
        })
        .collect();
    manifests.push(workspace_root().join("tests/Cargo.toml"));
    let mut problems = Vec::new();
    for manifest in &manifests {
        let text = fs::read_to_string(manifest).unwrap();
        for line in [
            "[lints]\nworkspace = true",
            "edition.workspace = true",
            "rust-version.workspace = true",
        ] {
            if !text.contains(line) {
                problems.push(format!("{} lacks {line:?}", manifest.display()));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
