//! No crate of the workspace has a cycle among its modules: each module can be read, tested and
//! replaced on top of the ones below it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Module name → the sibling modules it names through `crate::`.
type Graph = BTreeMap<String, BTreeSet<String>>;

fn crate_dirs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut dirs = Vec::new();
    for group in ["crates", "workers"] {
        if let Ok(entries) = std::fs::read_dir(root.join(group)) {
            dirs.extend(
                entries
                    .flatten()
                    .map(|e| e.path().join("src"))
                    .filter(|p| p.is_dir()),
            );
        }
    }
    dirs.sort();
    dirs
}

/// The module a file is: `ledger.rs` and `ledger/mod.rs` are `ledger`, and `usage/ledger.rs`
/// counts as part of `usage` (a submodule belongs to its parent here).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let relative = file.strip_prefix(src).ok()?;
    let first = relative.components().next()?.as_os_str().to_str()?;
    let name = first.trim_end_matches(".rs");
    (!matches!(name, "lib" | "main" | "bin")).then(|| name.to_owned())
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The modules named as `crate::name` or `crate::{a, b::c}` in the code before its tests.
fn references(text: &str) -> BTreeSet<String> {
    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
    let code: String = code
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut names = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let inside = group.split('}').next().unwrap_or_default();
            for item in inside.split(',') {
                let name = item.trim().split("::").next().unwrap_or_default();
                names.insert(name.trim().to_owned());
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            names.insert(name);
        }
    }
    names.retain(|n| n.chars().next().is_some_and(|c| c.is_lowercase()));
    names
}

fn graph(src: &Path) -> Graph {
    let mut paths = Vec::new();
    files(src, &mut paths);
    let mut graph = Graph::new();
    for path in &paths {
        if let Some(module) = module_of(src, path) {
            graph.entry(module).or_default();
        }
    }
    for path in paths {
        let Some(module) = module_of(src, &path) else {
            continue;
        };
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let refs: BTreeSet<String> = references(&text)
            .into_iter()
            .filter(|r| *r != module && graph.contains_key(r))
            .collect();
        graph.entry(module).or_default().extend(refs);
    }
    graph
}

/// One cycle of the graph, as a path that returns to its start, if there is one.
fn cycle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &Graph,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|n| n == node) {
            let mut found = path[start..].to_vec();
            found.push(node.to_owned());
            return Some(found);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(found) = visit(next, graph, path, done) {
                return Some(found);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

#[test]
fn no_crate_has_a_module_cycle() {
    let dirs = crate_dirs();
    assert!(dirs.len() >= 8, "found only {} crates", dirs.len());
    let cycles: Vec<String> = dirs
        .iter()
        .filter_map(|src| {
            let name = src.parent().and_then(Path::file_name).unwrap_or_default();
            cycle(&graph(src)).map(|c| format!("{}: {}", name.to_string_lossy(), c.join(" → ")))
        })
        .collect();
    assert!(cycles.is_empty(), "module cycles:\n{}", cycles.join("\n"));
}

#[test]
fn a_cycle_is_found_and_reported_as_a_path() {
    let mut graph = Graph::new();
    graph.insert("a".into(), ["b".to_owned()].into());
    graph.insert("b".into(), ["c".to_owned()].into());
    graph.insert("c".into(), ["a".to_owned()].into());
    let found = cycle(&graph).map(|c| c.join(" → "));
    assert_eq!(found.as_deref(), Some("a → b → c → a"));
    graph.insert("c".into(), BTreeSet::new());
    assert_eq!(cycle(&graph), None);
}

#[test]
fn references_read_grouped_and_nested_paths() {
    let refs = references("use crate::{decide::Event, ledger};\nuse crate::ingest::x;\n// crate::comment\n");
    let expected: BTreeSet<String> = ["decide", "ingest", "ledger"].map(String::from).into();
    assert_eq!(refs, expected);
}
