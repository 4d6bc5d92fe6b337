//! Dependencies point one way: no module of the kernels or of the CLI imports one that
//! imports it back (directly or around a longer circle). Read from the sources, test code
//! (`#[cfg(test)] mod tests`) left out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module a file belongs to: its parent folder for `x/mod.rs` and `x/sub.rs` (an op's
/// own builds are part of the op), else its stem.
fn module_of(root: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(root).unwrap();
    let first = relative.components().next().unwrap().as_os_str().to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

/// Module -> modules it names through `prefixes` (e.g. `super::`, `crate::kernels::`).
fn graph(root: &Path, prefixes: &[&str]) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(root, &mut files);
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(root, f)).collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let from = module_of(root, file);
        let text = std::fs::read_to_string(file).unwrap();
        // Comments name modules without importing them; a macro's `$crate::` paths belong to
        // the modules that expand it.
        let code: String = text
            .split("#[cfg(test)]\nmod tests")
            .next()
            .unwrap()
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .map(|l| l.replace("$crate::", "$"))
            .collect::<Vec<_>>()
            .join("\n");
        // `super::` in x/sub.rs is x itself; in x/mod.rs and y.rs it is the root.
        let nested = file.parent() != Some(root) && file.file_name().is_some_and(|n| n != "mod.rs");
        for prefix in prefixes {
            if nested && *prefix == "super::" {
                continue;
            }
            for rest in code.split(prefix).skip(1) {
                let rest = rest.trim_start();
                let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                let names: Vec<String> = if let Some(group) = rest.strip_prefix('{') {
                    let inner = group.split('}').next().unwrap_or("");
                    inner.split(',').map(|p| p.trim().split("::").next().unwrap_or("").to_string()).collect()
                } else {
                    vec![name]
                };
                for name in names {
                    if modules.contains(&name) && name != from && name != "mod" {
                        edges.entry(from.clone()).or_default().insert(name);
                    }
                }
            }
        }
    }
    edges
}

/// A circle through the graph, if there is one.
fn find_circle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut circle = path[at..].to_vec();
            circle.push(node.to_string());
            return Some(circle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(circle) = visit(next, edges, path, done) {
                return Some(circle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    edges.keys().find_map(|start| visit(start, edges, &mut Vec::new(), &mut done))
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn the_kernels_import_no_circle() {
    let edges = graph(&root().join("src/kernels"), &["super::", "crate::kernels::"]);
    assert!(!edges.contains_key("cpu") && !edges.contains_key("element"), "the leaves import: {edges:?}");
    assert!(edges["dispatch"].contains("leaky_relu"), "the graph is empty? {edges:?}");
    if let Some(circle) = find_circle(&edges) {
        panic!("import circle in src/kernels: {}", circle.join(" -> "));
    }
}

#[test]
fn the_cli_imports_no_circle() {
    let edges = graph(&root().join("cli/src"), &["crate::"]);
    assert!(edges["verify"].contains("array"), "the graph is empty? {edges:?}");
    if let Some(circle) = find_circle(&edges) {
        panic!("import circle in cli/src: {}", circle.join(" -> "));
    }
}

#[test]
fn a_circle_is_found() {
    let edges: BTreeMap<String, BTreeSet<String>> = [("a", "b"), ("b", "c"), ("c", "a")]
        .iter()
        .map(|(f, t)| (f.to_string(), BTreeSet::from([t.to_string()])))
        .collect();
    assert_eq!(find_circle(&edges), Some(vec!["a".into(), "b".into(), "c".into(), "a".into()]));
}
