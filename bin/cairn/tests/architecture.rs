//! ARCHITECTURE.md's crate diagram is the workspace's dependency graph: every edge between
//! workspace members that `cargo metadata` lists is drawn, and nothing else. A path
//! dependency added, removed or turned dev-only without updating the diagram fails here.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

/// An edge `from -> to`, and whether it is a dev-dependency only.
type Edges = BTreeSet<(String, String, bool)>;

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
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
