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
            "license.workspace = true",
        ] {
            if !text.contains(line) {
                problems.push(format!("{} lacks {line:?}", manifest.display()));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The crates published to crates.io, by directory name under `crates/`.
const PUBLISHED_CRATES: [&str; 5] = ["kms-proto", "kms-ureq", "kms-hyper", "kms-mock", "kms-cli"];

/// The test machinery, never published: directories relative to the workspace root.
const UNPUBLISHED_PACKAGES: [&str; 2] = ["crates/kms-fuzz-harness", "tests"];

/// The `[package]` table of a manifest: from its header to the next table.
fn package_table(manifest: &str) -> &str {
    let start = manifest.find("[package]\n").expect("a [package] table");
    let rest = &manifest[start + "[package]\n".len()..];
    let end = rest.find("\n[").map_or(rest.len(), |i| i + 1);
    &rest[..end]
}

#[test]
fn every_crate_is_either_published_or_test_machinery() {
    let known: Vec<String> = PUBLISHED_CRATES
        .iter()
        .map(|name| format!("crates/{name}"))
        .chain(UNPUBLISHED_PACKAGES.iter().map(|dir| (*dir).to_owned()))
        .collect();
    let unknown: Vec<String> = crates()
        .into_iter()
        .map(|name| format!("crates/{name}"))
        .filter(|dir| !known.contains(dir))
        .collect();
    assert!(
        unknown.is_empty(),
        "{unknown:?}: add each to PUBLISHED_CRATES (with license files, a README and no \
         `publish = false`) or to UNPUBLISHED_PACKAGES (`publish = false`)"
    );
}

#[test]
fn published_crates_are_ready_to_package() {
    let root = workspace_root();
    let workspace = fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let mut problems = Vec::new();
    // No placeholder repository, and no workspace-wide `publish` default: each package says.
    let workspace_package = workspace
        .split("[workspace.package]\n")
        .nth(1)
        .map(|rest| rest.split("\n[").next().unwrap_or(rest))
        .expect("a [workspace.package] table");
    for key in ["repository", "publish"] {
        if workspace_package.lines().any(|l| l.starts_with(key)) {
            problems.push(format!(
                "[workspace.package] sets `{key}`: set it per package"
            ));
        }
    }
    for name in ["LICENSE-MIT", "LICENSE-APACHE"] {
        if !root.join(name).is_file() {
            problems.push(format!("the workspace root lacks {name}"));
        }
    }
    for name in PUBLISHED_CRATES {
        let dir = root.join("crates").join(name);
        let text = fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        let package = package_table(&text);
        // Copies, not symlinks (which are not packaged reliably), equal to the root's.
        for file in ["LICENSE-MIT", "LICENSE-APACHE"] {
            let path = dir.join(file);
            let is_copy = fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_file());
            if !is_copy {
                problems.push(format!("crates/{name} lacks {file} (a copy of the root's)"));
            } else if fs::read(&path).unwrap() != fs::read(root.join(file)).unwrap_or_default() {
                problems.push(format!("crates/{name}/{file} differs from the root's"));
            }
        }
        if !package.contains("readme = \"README.md\"") || !dir.join("README.md").is_file() {
            problems.push(format!("crates/{name} lacks README.md as its `readme`"));
        }
        for line in ["description = ", "keywords = ", "categories = "] {
            if !package.contains(line) {
                problems.push(format!("crates/{name} lacks `{line}...`"));
            }
        }
        let sets = |key: &str| package.lines().any(|l| l.starts_with(key));
        if sets("publish = false") || sets("publish.workspace") {
            problems.push(format!("crates/{name} is not published (`publish`)"));
        }
        if text.contains("example.invalid") || sets("repository") {
            problems.push(format!(
                "crates/{name} names a repository (none exists yet)"
            ));
        }
    }
    for dir in UNPUBLISHED_PACKAGES {
        let text = fs::read_to_string(root.join(dir).join("Cargo.toml")).unwrap();
        if !package_table(&text).contains("\npublish = false\n") {
            problems.push(format!("{dir} (test machinery) lacks `publish = false`"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The crates whose top-level modules must import each other as a tree (no cycles).
const LAYERED_CRATES: [&str; 5] = ["kms-proto", "kms-ureq", "kms-hyper", "kms-mock", "kms-cli"];

#[test]
fn imports_between_top_level_modules_form_a_tree() {
    let mut problems = Vec::new();
    for name in LAYERED_CRATES {
        let src = workspace_root().join("crates").join(name).join("src");
        let files = source_files(&src);
        assert!(!files.is_empty(), "{} holds no sources", src.display());
        let graph = ModuleGraph::of(&files);
        assert!(
            graph.modules.len() > 1,
            "{name}: found the modules {:?} only; is the analysis still reading {}?",
            graph.modules,
            src.display()
        );
        // `KMS_PRINT_IMPORTS=1 cargo test --test workspace_rules imports -- --nocapture`
        // prints each crate's graph: what each module imports.
        if std::env::var_os("KMS_PRINT_IMPORTS").is_some() {
            let mut lines = std::collections::BTreeMap::<&str, Vec<&str>>::new();
            for (from, to) in graph.edges.keys() {
                lines.entry(from.as_str()).or_default().push(to.as_str());
            }
            let lines: Vec<String> = graph
                .modules
                .iter()
                .map(|m| {
                    let to = lines
                        .get(m.as_str())
                        .map(|t| t.join(", "))
                        .unwrap_or_default();
                    format!("  {m} -> {to}")
                })
                .collect();
            println!("{name}:\n{}", lines.join("\n"));
        }
        let described = graph.describe_cycles(&format!("crates/{name}/src/"));
        if !described.is_empty() {
            problems.push(format!("{name}:\n{}", described.join("\n")));
        }
    }
    assert!(
        problems.is_empty(),
        "top-level modules import each other in a circle; cut one edge of each cycle \
         (move what it imports to a module below both, or to the module that uses it):\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_import_graph_finds_a_cycle_made_of_grouped_imports_reexports_and_super_paths() {
    let graph = ModuleGraph::of(&fixture(&[
        (
            "lib.rs",
            "mod a;\nmod b;\nmod c;\nmod d;\npub use c::{Gamma, inner::Delta as Renamed};\n",
        ),
        // a -> b, through a group with a nested group.
        (
            "a/mod.rs",
            "mod deep;\nuse crate::{b::{One, Two}, d::Three};\n",
        ),
        // b -> c, through a name the crate root re-exports under another name.
        ("b.rs", "pub(crate) fn f() -> crate::Renamed { todo!() }\n"),
        // c -> a, through `super::super::` from a nested file, reaching the root.
        (
            "c/inner.rs",
            "pub struct Delta;\nuse super::super::a::Alpha;\n",
        ),
        ("c/mod.rs", "pub mod inner;\npub struct Gamma;\n"),
        // Within `a`: not an edge.
        ("a/deep.rs", "use super::Alpha;\nuse crate::a::Beta;\n"),
        ("d.rs", "pub struct Three;\n"),
    ]));
    assert_eq!(
        graph.edge_list(),
        [
            "a -> b (a/mod.rs:2)",
            "a -> d (a/mod.rs:2)",
            "b -> c (b.rs:1)",
            "c -> a (c/inner.rs:2)"
        ]
    );
    assert_eq!(graph.cycles(), [vec!["a", "b", "c"]]);
    let described = graph.describe_cycles("src/");
    assert_eq!(
        described,
        [
            "  a, b, c (e.g. a -> b -> c -> a):",
            "    a -> b: 1 use, e.g. src/a/mod.rs:2",
            "    b -> c: 1 use, e.g. src/b.rs:1",
            "    c -> a: 1 use, e.g. src/c/inner.rs:2",
        ]
    );
}

#[test]
fn the_import_graph_ignores_comments_literals_tests_and_self_loops() {
    let graph = ModuleGraph::of(&fixture(&[
        (
            "lib.rs",
            "//! Uses `crate::b::X`.\nmod a;\nmod b;\npub use a::Alpha;\n\
             pub(crate) fn lock() {}\n",
        ),
        (
            "a/mod.rs",
            "mod nested;\npub struct Alpha;\nuse crate::b::Beta;\n",
        ),
        ("a/nested.rs", "use super::Alpha;\nuse crate::lock;\n"),
        (
            "b/mod.rs",
            concat!(
                "//! Docs naming crate::a::Alpha.\n",
                "/// And crate::Alpha.\n",
                "pub struct Beta; // crate::a::Alpha\n",
                "/* crate::a /* nested */ crate::a */\n",
                "const S: &str = \"crate::a::Alpha // \\\" crate::a\";\n",
                "const R: &str = r#\"crate::a \"quoted\" \"#;\n",
                "const C: char = '\"'; const Q: char = '\\''; fn f<'a>(x: &'a str) {}\n",
                "pub(crate) use crate::b::inner::Gamma;\n",
                "use super::lock;\n",
                "pub(in crate::b) fn g() {}\n",
                "#[cfg(test)]\n#[allow(unused)]\nmod tests {\n    use crate::a::Alpha;\n    fn h() { { } }\n}\n",
                "#[cfg(test)]\nmod more;\n",
                "#[cfg(test)]\nuse crate::{a::Alpha};\n",
                "fn after() {}\n",
            ),
        ),
        (
            "b/more.rs",
            "use crate::a::Alpha;\nuse super::super::Alpha;\n",
        ),
        ("b/inner.rs", "pub struct Gamma;\n"),
        ("bin/tool.rs", "use crate::a::Alpha;\n"),
    ]));
    assert_eq!(graph.modules, ["a", "b"]);
    assert_eq!(graph.edge_list(), ["a -> b (a/mod.rs:3)"]);
    assert!(graph.cycles().is_empty(), "{:?}", graph.cycles());
    assert!(graph.describe_cycles("src/").is_empty());
}

/// In-memory sources, as [`source_files`] reads them.
fn fixture(files: &[(&str, &str)]) -> Vec<(String, String)> {
    files
        .iter()
        .map(|(path, text)| ((*path).to_owned(), (*text).to_owned()))
        .collect()
}

/// Every `.rs` file under `src`, as (path relative to `src` with `/` separators, text),
/// sorted by path.
fn source_files(src: &std::path::Path) -> Vec<(String, String)> {
    fn walk(dir: &std::path::Path, prefix: &str, out: &mut Vec<(String, String)>) {
        let entries =
            fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
        for entry in entries {
            let entry = entry.unwrap();
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            if path.is_dir() {
                walk(&path, &format!("{prefix}{name}/"), out);
            } else if name.ends_with(".rs") {
                let text = fs::read_to_string(&path)
                    .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
                out.push((format!("{prefix}{name}"), text));
            }
        }
    }
    let mut out = Vec::new();
    walk(src, "", &mut out);
    out.sort();
    out
}

/// Where a path is written: a file under `src/`, and a line (from 1).
type Location = (String, usize);

/// The imports between a crate's top-level modules: `src/call/mod.rs` and
/// `src/call/error.rs` are both `call`. The crate root (`lib.rs`, `main.rs`) is no node,
/// and `src/bin/` is left out. An edge is a `crate::call` path (or a `super::` path that
/// climbs to the root and down into `call`, or a `crate::Name` the root re-exports from
/// `call`) in product code: comments, literals and `#[cfg(test)]` items and modules do not
/// count.
struct ModuleGraph {
    /// The top-level modules, sorted.
    modules: Vec<String>,
    /// (from, to) → every place it is written, in file and line order.
    edges: std::collections::BTreeMap<(String, String), Vec<Location>>,
}

impl ModuleGraph {
    fn of(files: &[(String, String)]) -> ModuleGraph {
        let files: Vec<&(String, String)> = files
            .iter()
            .filter(|(path, _)| !path.starts_with("bin/"))
            .collect();
        let root = ["lib.rs", "main.rs"]
            .into_iter()
            .find(|root| files.iter().any(|(path, _)| path == root))
            .unwrap_or("lib.rs");
        let is_root = |path: &str| path == "lib.rs" || path == "main.rs";
        let mut modules: Vec<String> = files
            .iter()
            .filter(|(path, _)| !is_root(path))
            .map(|(path, _)| top_level(path).to_owned())
            .collect();
        modules.sort();
        modules.dedup();

        // Each file's product tokens, and the test-only modules declared by `mod x;`.
        let mut product = Vec::new();
        let mut test_modules: Vec<Vec<String>> = Vec::new();
        for (path, text) in &files {
            let module = module_path(path);
            let (tokens, tests) = product_tokens(text);
            for test in tests {
                test_modules.push(module.iter().cloned().chain([test]).collect());
            }
            product.push((path.as_str(), module, tokens));
        }
        let is_test = |module: &[String]| test_modules.iter().any(|t| module.starts_with(t));

        // Names the root brings in with `use` (re-exports): name → the module it comes from.
        let mut reexports = std::collections::BTreeMap::new();
        for (_, _, tokens) in product.iter().filter(|(path, _, _)| *path == root) {
            let mut depth = 0usize;
            for (i, token) in tokens.iter().enumerate() {
                match token.text.as_str() {
                    "{" => depth += 1,
                    "}" => depth = depth.saturating_sub(1),
                    "use" if depth == 0 => {
                        for (mut path, alias) in use_tree(tokens, &mut (i + 1)) {
                            if matches!(path.first().map(String::as_str), Some("crate" | "self")) {
                                path.remove(0);
                            }
                            let (Some(first), Some(last)) = (path.first(), path.last()) else {
                                continue;
                            };
                            let name = match (alias, last.as_str()) {
                                (Some(alias), _) => alias,
                                (None, "self") if path.len() >= 2 => path[path.len() - 2].clone(),
                                (None, _) => last.clone(),
                            };
                            if modules.contains(first) && name != "*" && name != "self" {
                                reexports.insert(name, first.clone());
                            }
                        }
                    }
                    _ => {}
                }
            }
        }

        let mut edges: std::collections::BTreeMap<(String, String), Vec<Location>> =
            std::collections::BTreeMap::new();
        for (path, module, tokens) in &product {
            if is_root(path) || is_test(module) {
                continue;
            }
            let from = top_level(path);
            let text = |i: usize| tokens.get(i).map_or("", |t| t.text.as_str());
            // Whether each open brace opened an inline `mod x { .. }`.
            let mut braces: Vec<bool> = Vec::new();
            for (i, token) in tokens.iter().enumerate() {
                let heads = match token.text.as_str() {
                    "{" => {
                        braces.push(i >= 2 && text(i - 2) == "mod" && is_ident(text(i - 1)));
                        continue;
                    }
                    "}" => {
                        braces.pop();
                        continue;
                    }
                    "crate" if text(i + 1) == "::" && i.checked_sub(1).map(text) != Some("in") => {
                        path_heads(tokens, i + 2)
                    }
                    "super"
                        if text(i + 1) == "::"
                            && !matches!(i.checked_sub(1).map(text), Some("::" | "in")) =>
                    {
                        let mut climbs = 0;
                        let mut at = i;
                        while text(at) == "super" && text(at + 1) == "::" {
                            climbs += 1;
                            at += 2;
                        }
                        let depth = module.len() + braces.iter().filter(|m| **m).count();
                        if climbs >= depth {
                            path_heads(tokens, at)
                        } else {
                            Vec::new()
                        }
                    }
                    _ => continue,
                };
                for head in heads {
                    let to = if modules.contains(&head) {
                        head
                    } else if let Some(module) = reexports.get(&head) {
                        module.clone()
                    } else {
                        continue; // an item of the root itself
                    };
                    if to != from {
                        edges
                            .entry((from.to_owned(), to))
                            .or_default()
                            .push(((*path).to_owned(), token.line));
                    }
                }
            }
        }
        ModuleGraph { modules, edges }
    }

    /// Every edge, as `from -> to (file:line)` with its first use.
    fn edge_list(&self) -> Vec<String> {
        self.edges
            .iter()
            .map(|((from, to), at)| format!("{from} -> {to} ({}:{})", at[0].0, at[0].1))
            .collect()
    }

    /// The strongly connected components of more than one module (Tarjan), each sorted,
    /// in order of their first module.
    fn cycles(&self) -> Vec<Vec<String>> {
        struct Tarjan<'a> {
            graph: &'a ModuleGraph,
            index: std::collections::BTreeMap<&'a str, usize>,
            low: std::collections::BTreeMap<&'a str, usize>,
            stack: Vec<&'a str>,
            found: Vec<Vec<String>>,
        }
        impl<'a> Tarjan<'a> {
            fn visit(&mut self, node: &'a str) {
                let n = self.index.len();
                self.index.insert(node, n);
                self.low.insert(node, n);
                self.stack.push(node);
                for next in self.graph.successors(node) {
                    if !self.index.contains_key(next) {
                        self.visit(next);
                        let low = self.low[node].min(self.low[next]);
                        self.low.insert(node, low);
                    } else if self.stack.contains(&next) {
                        let low = self.low[node].min(self.index[next]);
                        self.low.insert(node, low);
                    }
                }
                if self.low[node] == self.index[node] {
                    let mut component = Vec::new();
                    while let Some(top) = self.stack.pop() {
                        component.push(top.to_owned());
                        if top == node {
                            break;
                        }
                    }
                    if component.len() > 1 {
                        component.sort();
                        self.found.push(component);
                    }
                }
            }
        }
        let mut tarjan = Tarjan {
            graph: self,
            index: Default::default(),
            low: Default::default(),
            stack: Vec::new(),
            found: Vec::new(),
        };
        for module in &self.modules {
            if !tarjan.index.contains_key(module.as_str()) {
                tarjan.visit(module);
            }
        }
        let mut found = tarjan.found;
        found.sort();
        found
    }

    fn successors<'a>(&'a self, node: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.edges
            .keys()
            .filter(move |(from, _)| from == node)
            .map(|(_, to)| to.as_str())
    }

    /// One shortest cycle through `start` within `component`, as `start -> .. -> start`.
    fn shortest_cycle(&self, start: &str, component: &[String]) -> String {
        let mut came_from: std::collections::BTreeMap<&str, &str> = Default::default();
        let mut queue = std::collections::VecDeque::from([start]);
        while let Some(node) = queue.pop_front() {
            for next in self.successors(node) {
                if !component.iter().any(|m| m == next) || came_from.contains_key(next) {
                    continue;
                }
                came_from.insert(next, node);
                if next == start {
                    let mut path = vec![start];
                    let mut at = node;
                    while at != start {
                        path.push(at);
                        at = came_from[at];
                    }
                    path.push(start);
                    path.reverse();
                    return path.join(" -> ");
                }
                queue.push_back(next);
            }
        }
        unreachable!("{start} is in a strongly connected component of {component:?}")
    }

    /// Each cycle, then each edge inside it with how often it is written and where first,
    /// paths prefixed with `prefix`. Empty when there is none.
    fn describe_cycles(&self, prefix: &str) -> Vec<String> {
        let mut lines = Vec::new();
        for component in self.cycles() {
            lines.push(format!(
                "  {} (e.g. {}):",
                component.join(", "),
                self.shortest_cycle(&component[0], &component)
            ));
            for ((from, to), at) in &self.edges {
                if component.contains(from) && component.contains(to) {
                    let uses = if at.len() == 1 { "use" } else { "uses" };
                    lines.push(format!(
                        "    {from} -> {to}: {} {uses}, e.g. {prefix}{}:{}",
                        at.len(),
                        at[0].0,
                        at[0].1
                    ));
                }
            }
        }
        lines
    }
}

/// The top-level module a file under `src/` belongs to: `call/error.rs` → `call`.
fn top_level(path: &str) -> &str {
    let first = path.split('/').next().unwrap_or(path);
    first.strip_suffix(".rs").unwrap_or(first)
}

/// The module a file under `src/` is: `lib.rs` → `[]`, `a/mod.rs` → `[a]`, `a/b.rs` →
/// `[a, b]`.
fn module_path(path: &str) -> Vec<String> {
    let path = path.strip_suffix(".rs").unwrap_or(path);
    let mut segments: Vec<String> = path.split('/').map(str::to_owned).collect();
    if matches!(
        segments.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        segments.pop();
    }
    segments
}

/// A word or punctuation (`::` is one) of code, and its line (from 1).
#[derive(Clone)]
struct Token {
    text: String,
    line: usize,
}

fn is_ident(text: &str) -> bool {
    text.starts_with(|c: char| c.is_alphabetic() || c == '_')
}

/// The product code of a file as tokens: comments, the contents of literals and
/// `#[cfg(test)]` items left out. Also the names of the test-only modules it declares
/// (`#[cfg(test)] mod tests;`). A file that is `#![cfg(test)]` has no product code.
fn product_tokens(text: &str) -> (Vec<Token>, Vec<String>) {
    let tokens = tokenize(&code_only(text));
    let words = |at: usize, expected: &[&str]| {
        expected
            .iter()
            .enumerate()
            .all(|(k, word)| tokens.get(at + k).is_some_and(|t| t.text == *word))
    };
    let mut product = Vec::new();
    let mut tests = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        if words(i, &["#", "!", "[", "cfg", "(", "test", ")", "]"]) {
            return (Vec::new(), Vec::new());
        }
        if !words(i, &["#", "[", "cfg", "(", "test", ")", "]"]) {
            product.push(tokens[i].clone());
            i += 1;
            continue;
        }
        // Skip the item: up to a `;` outside brackets, or the `}` closing its body (or,
        // for a field or a statement, up to the end of what encloses it).
        let mut depth = 0usize;
        i += 7;
        while let Some(token) = tokens.get(i) {
            match token.text.as_str() {
                "(" | "[" | "{" => depth += 1,
                ")" | "]" | "}" if depth == 0 => break, // the enclosing item's end: kept
                ")" | "]" => depth -= 1,
                "}" => {
                    depth -= 1;
                    if depth == 0 {
                        i += 1;
                        break;
                    }
                }
                ";" if depth == 0 => {
                    i += 1;
                    break;
                }
                "mod" if depth == 0 && words(i + 2, &[";"]) => {
                    tests.push(tokens[i + 1].text.clone());
                }
                _ => {}
            }
            i += 1;
        }
    }
    (product, tests)
}

/// `text` with comments, and the contents of string and character literals, blanked
/// (line breaks kept), so that neither can be mistaken for a path.
fn code_only(text: &str) -> Vec<char> {
    let chars: Vec<char> = text.chars().collect();
    let mut code = chars.clone();
    let mut blank = |from: usize, to: usize| {
        for c in code.iter_mut().take(to).skip(from) {
            if *c != '\n' {
                *c = ' ';
            }
        }
    };
    let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
    let mut i = 0;
    while i < chars.len() {
        match (at(i), at(i + 1)) {
            ('/', '/') => {
                let end = (i..chars.len())
                    .find(|&j| at(j) == '\n')
                    .unwrap_or(chars.len());
                blank(i, end);
                i = end;
            }
            ('/', '*') => {
                let (mut depth, mut j) = (1, i + 2);
                while j < chars.len() && depth > 0 {
                    match (at(j), at(j + 1)) {
                        ('/', '*') => (depth, j) = (depth + 1, j + 2),
                        ('*', '/') => (depth, j) = (depth - 1, j + 2),
                        _ => j += 1,
                    }
                }
                blank(i, j);
                i = j;
            }
            ('"', _) => {
                let mut j = i + 1;
                while j < chars.len() && at(j) != '"' {
                    j += if at(j) == '\\' { 2 } else { 1 };
                }
                blank(i + 1, j);
                i = j + 1;
            }
            ('\'', '\\') => {
                let end = (i + 3..chars.len())
                    .find(|&j| at(j) == '\'')
                    .unwrap_or(chars.len());
                blank(i + 1, end);
                i = end + 1;
            }
            ('\'', _) if at(i + 2) == '\'' => {
                blank(i + 1, i + 2);
                i += 3;
            }
            (c, _) if c.is_alphanumeric() || c == '_' => {
                let start = i;
                while at(i).is_alphanumeric() || at(i) == '_' {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                if matches!(word.as_str(), "r" | "br" | "cr") && matches!(at(i), '"' | '#') {
                    // A raw string: r"..", r#".."#, ..
                    let hashes = (i..chars.len()).take_while(|&j| at(j) == '#').count();
                    if at(i + hashes) == '"' {
                        let open = i + hashes + 1;
                        let close = (open..chars.len())
                            .find(|&j| at(j) == '"' && (1..=hashes).all(|k| at(j + k) == '#'))
                            .unwrap_or(chars.len());
                        blank(open, close);
                        i = close + 1 + hashes;
                    }
                }
            }
            _ => i += 1,
        }
    }
    code
}

/// Words and punctuation, `::` as one.
fn tokenize(code: &[char]) -> Vec<Token> {
    let mut tokens = Vec::new();
    let (mut i, mut line) = (0, 1);
    while let Some(&c) = code.get(i) {
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c.is_alphanumeric() || c == '_' {
            let start = i;
            while code
                .get(i)
                .is_some_and(|c| c.is_alphanumeric() || *c == '_')
            {
                i += 1;
            }
            let text = code[start..i].iter().collect();
            tokens.push(Token { text, line });
        } else if c == ':' && code.get(i + 1) == Some(&':') {
            tokens.push(Token {
                text: "::".to_owned(),
                line,
            });
            i += 2;
        } else {
            tokens.push(Token {
                text: c.to_string(),
                line,
            });
            i += 1;
        }
    }
    tokens
}

/// The first segments of the paths that start at `tokens[at]` (after `crate::`): `a` for
/// `a::X`, `a` and `b` for `{a::X, b::{Y, Z}}`.
fn path_heads(tokens: &[Token], at: usize) -> Vec<String> {
    let mut heads: Vec<String> = use_tree(tokens, &mut { at })
        .into_iter()
        .filter_map(|(path, _)| path.into_iter().next())
        .filter(|head| is_ident(head) && head != "self")
        .collect();
    heads.sort();
    heads.dedup();
    heads
}

/// The paths a use tree starting at `tokens[*at]` names, each with its alias (`as`);
/// `*at` ends after the tree.
fn use_tree(tokens: &[Token], at: &mut usize) -> Vec<(Vec<String>, Option<String>)> {
    let text = |i: usize| tokens.get(i).map(|t| t.text.as_str());
    let mut prefix: Vec<String> = Vec::new();
    loop {
        match text(*at) {
            Some("::") if prefix.is_empty() => *at += 1, // `::std::..`
            Some("{") => {
                *at += 1;
                let mut leaves = Vec::new();
                loop {
                    match text(*at) {
                        None => break,
                        Some("}") => {
                            *at += 1;
                            break;
                        }
                        Some(",") => *at += 1,
                        Some(_) => {
                            let before = *at;
                            leaves.extend(use_tree(tokens, at));
                            if *at == before {
                                *at += 1;
                            }
                        }
                    }
                }
                return leaves
                    .into_iter()
                    .map(|(path, alias)| (prefix.iter().cloned().chain(path).collect(), alias))
                    .collect();
            }
            Some(word) if is_ident(word) || word == "*" => {
                prefix.push(word.to_owned());
                *at += 1;
                if text(*at) == Some("::") {
                    *at += 1;
                    continue;
                }
                let mut alias = None;
                if text(*at) == Some("as") {
                    alias = text(*at + 1).map(str::to_owned);
                    *at += 2;
                }
                return vec![(prefix, alias)];
            }
            _ if prefix.is_empty() => return Vec::new(),
            _ => return vec![(prefix, None)],
        }
    }
}
