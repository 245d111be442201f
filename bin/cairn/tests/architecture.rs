//! ARCHITECTURE.md's crate diagram is the workspace's dependency graph: every edge between
//! workspace members that `cargo metadata` lists is drawn, and nothing else. A path
//! dependency added, removed or turned dev-only without updating the diagram fails here.
//!
//! The documentation names only paths that exist: every repository path a Markdown file
//! writes out (`crates/…`, `bin/…`, `docs/…`, `scripts/…`, `fuzz/…`, `.ci/…`, with
//! `{a,b}` alternatives) and every relative link target. A file moved or renamed without
//! updating the docs that name it fails here.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

/// An edge `from -> to`, and whether it is a dev-dependency only.
type Edges = BTreeSet<(String, String, bool)>;

fn workspace_root() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(
            || std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")),
            std::path::PathBuf::from,
        )
        .join("../..")
}

/// The workspace members and the path dependencies between them, from `cargo metadata`.
/// A crate that is both a normal and a dev-dependency of another counts as normal.
fn cargo_graph() -> (BTreeSet<String>, Edges) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .current_dir(workspace_root())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let packages = meta["packages"].as_array().unwrap();
    let members: BTreeSet<String> =
        packages.iter().map(|p| p["name"].as_str().unwrap().to_string()).collect();
    // (from, to) -> dev only so far.
    let mut deps: BTreeMap<(String, String), bool> = BTreeMap::new();
    for p in packages {
        let from = p["name"].as_str().unwrap();
        for d in p["dependencies"].as_array().unwrap() {
            let to = d["name"].as_str().unwrap();
            if d["path"].is_null() || !members.contains(to) {
                continue;
            }
            let dev = d["kind"].as_str() == Some("dev");
            let entry = deps.entry((from.to_string(), to.to_string())).or_insert(true);
            *entry &= dev;
        }
    }
    (members, deps.into_iter().map(|((f, t), dev)| (f, t, dev)).collect())
}

/// The nodes and edges of the first ```mermaid block: `id[crate-name]` declares a node,
/// `a --> b` is a dependency, `a -.-> b` a dev-dependency only.
fn diagram_graph(doc: &str) -> (BTreeSet<String>, Edges) {
    let block = doc
        .split("```mermaid")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("ARCHITECTURE.md has a ```mermaid block");
    let mut names = BTreeMap::new();
    let mut raw_edges = Vec::new();
    for line in block.lines().map(str::trim) {
        if line.is_empty() || line.starts_with("graph") || line.starts_with("%%") {
            continue;
        }
        if let Some((id, rest)) = line.split_once('[') {
            let name = rest.strip_suffix(']').unwrap_or_else(|| panic!("bad node: {line}"));
            assert!(names.insert(id.trim().to_string(), name.to_string()).is_none(), "{line}");
        } else if let Some((from, to)) = line.split_once("-.->") {
            raw_edges.push((from.trim().to_string(), to.trim().to_string(), true));
        } else if let Some((from, to)) = line.split_once("-->") {
            raw_edges.push((from.trim().to_string(), to.trim().to_string(), false));
        } else {
            panic!("a line of the diagram is neither a node nor an edge: {line}");
        }
    }
    let name = |id: &str| names.get(id).unwrap_or_else(|| panic!("undeclared node {id}")).clone();
    let mut edges = Edges::new();
    for (from, to, dev) in raw_edges {
        assert!(edges.insert((name(&from), name(&to), dev)), "edge drawn twice: {from} {to}");
    }
    (names.into_values().collect(), edges)
}

#[test]
fn the_crate_diagram_in_architecture_md_matches_cargo_metadata() {
    let doc = std::fs::read_to_string(workspace_root().join("ARCHITECTURE.md")).unwrap();
    let (drawn_crates, drawn_edges) = diagram_graph(&doc);
    let (crates, edges) = cargo_graph();
    assert_eq!(drawn_crates, crates, "the diagram's crates are not the workspace members");
    let missing: Vec<_> = edges.difference(&drawn_edges).collect();
    let extra: Vec<_> = drawn_edges.difference(&edges).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "ARCHITECTURE.md's diagram differs from cargo metadata; (from, to, dev only) \
         missing: {missing:?}, drawn but not a dependency: {extra:?}"
    );
    // Every crate has its paragraph.
    for name in &crates {
        assert!(doc.contains(&format!("**`{name}`**")), "no paragraph for {name}");
    }
}

#[test]
fn the_diagram_parser_sees_a_missing_edge_and_a_dev_edge_drawn_solid() {
    let doc = "```mermaid\ngraph TD\n    a[cairn-a]\n    b[cairn-b]\n    a --> b\n```\n";
    let (nodes, edges) = diagram_graph(doc);
    assert_eq!(nodes.len(), 2);
    assert!(edges.contains(&("cairn-a".into(), "cairn-b".into(), false)));
    assert!(!edges.contains(&("cairn-a".into(), "cairn-b".into(), true)));
    let dotted = doc.replace("a --> b", "a -.-> b");
    assert!(diagram_graph(&dotted).1.contains(&("cairn-a".into(), "cairn-b".into(), true)));
}

// ---- Paths the documentation names ---------------------------------------------------------

/// The repository paths a Markdown text writes out.
const PATH_ROOTS: [&str; 6] = ["crates/", "bin/", "docs/", "scripts/", "fuzz/", ".ci/"];

fn is_path_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | '-')
}

/// `a/{b,c}/d` → `a/b/d`, `a/c/d` (every group, recursively).
fn expand_braces(path: &str) -> Vec<String> {
    let Some(open) = path.find('{') else { return vec![path.to_string()] };
    let Some(close) = path[open..].find('}').map(|i| open + i) else {
        return vec![path.to_string()];
    };
    path[open + 1..close]
        .split(',')
        .flat_map(|alt| expand_braces(&format!("{}{alt}{}", &path[..open], &path[close + 1..])))
        .collect()
}

/// The repository paths written out in `text`, braces expanded: a run of path characters
/// (and `{a,b}` groups) starting with one of [`PATH_ROOTS`] where no path character comes
/// before it (so `/usr/bin/env` is no path of ours), without trailing punctuation. Runs
/// with placeholders are left out: `<target>`, `*`, `…`, or a `{name}` without a comma.
fn named_paths(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (start, _) in text.char_indices() {
        let before = text[..start].chars().next_back();
        if before.is_some_and(is_path_char)
            || !PATH_ROOTS.iter().any(|r| text[start..].starts_with(r))
        {
            continue;
        }
        let rest = &text[start..];
        let end = rest
            .find(|c: char| {
                !(is_path_char(c) || matches!(c, '{' | '}' | ',' | '<' | '>' | '*' | '…'))
            })
            .unwrap_or(rest.len());
        // A comma or period ends the run unless it is inside braces.
        let mut depth = 0;
        let mut cut = end;
        for (i, c) in rest[..end].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    cut = i;
                    break;
                }
                _ => {}
            }
        }
        let run = rest[..cut].trim_end_matches(['.', ':', ';']);
        let placeholder = run.contains(['<', '*', '…'])
            || run.split('{').skip(1).any(|g| !g.split('}').next().unwrap_or("").contains(','));
        if !placeholder {
            out.extend(expand_braces(run));
        }
    }
    out
}

/// The relative link targets of `text` (`[…](target)`), without their `#anchor`; web and
/// mail links and bare anchors left out.
fn link_targets(text: &str) -> Vec<String> {
    text.split("](")
        .skip(1)
        .filter_map(|rest| rest.split(')').next())
        .map(|t| t.split('#').next().unwrap_or("").trim().to_string())
        .filter(|t| !t.is_empty() && !t.contains("://") && !t.starts_with("mailto:"))
        .collect()
}

/// Every Markdown file of the repository, outside hidden, build and package directories.
fn markdown_files(dir: &std::path::Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if path.is_dir() {
            if !name.starts_with('.')
                && !matches!(name.as_str(), "target" | "node_modules" | "dist")
            {
                markdown_files(&path, out);
            }
        } else if name.ends_with(".md") {
            out.push(path);
        }
    }
}

#[test]
fn every_path_and_relative_link_in_the_docs_exists() {
    let root = workspace_root();
    let mut docs = Vec::new();
    markdown_files(&root, &mut docs);
    assert!(docs.len() > 30, "only {} Markdown files found", docs.len());
    let mut missing = Vec::new();
    let mut named = 0;
    for doc in &docs {
        let text = std::fs::read_to_string(doc).unwrap();
        let shown = doc.strip_prefix(&root).unwrap_or(doc).display().to_string();
        for (n, line) in text.lines().enumerate() {
            for path in named_paths(line) {
                named += 1;
                if !root.join(&path).exists() {
                    missing.push(format!("{shown}:{}: {path}", n + 1));
                }
            }
            for target in link_targets(line) {
                named += 1;
                if !doc.parent().unwrap().join(&target).exists() {
                    missing.push(format!("{shown}:{}: link {target}", n + 1));
                }
            }
        }
    }
    assert!(named > 50, "only {named} paths and links found: the scanner reads nothing");
    assert!(missing.is_empty(), "the docs name paths that do not exist:\n{}", missing.join("\n"));
}

#[test]
fn the_path_scanner_expands_braces_skips_placeholders_and_foreign_paths() {
    let line = "See `crates/app/src/{storage,usage}/mod.rs`, crates/app/src/block.rs. \
                Not /usr/bin/env, fuzz/corpus/<target>/, crates/*/Cargo.toml or \
                fuzz/corpus/{target}/x; a [link](../wire.md#keys) and [web](https://x.org/a).";
    assert_eq!(
        named_paths(line),
        ["crates/app/src/storage/mod.rs", "crates/app/src/usage/mod.rs", "crates/app/src/block.rs"]
    );
    assert_eq!(link_targets(line), ["../wire.md"]);
    // A moved module is a missing path.
    let root = workspace_root();
    assert!(root.join(&named_paths("crates/app/src/block.rs")[0]).exists());
    assert!(!root.join(&named_paths("crates/app/src/deals/mod.rs")[0]).exists());
}
