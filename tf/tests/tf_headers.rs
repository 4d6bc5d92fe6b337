//! The hand-written TensorFlow C API declarations in `src/api.rs` against the headers in the
//! installed tensorflow wheel: bindgen reads `tensorflow/c/{ops,kernels}.h`, and every
//! function in the `tf_api!` table must have the same parameter and return types.
//!
//! Runs when TensorFlow's headers are found (`TF_INCLUDE`, else the wheel in `.venv`);
//! libclang as for `tests/header.rs` of the rectify crate.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn site_packages_dir(sub: &str) -> Option<PathBuf> {
    std::fs::read_dir(repo().join(".venv/lib"))
        .ok()?
        .flatten()
        .map(|py| py.path().join("site-packages").join(sub))
        .find(|p| p.exists())
}

/// `a: T, b: U` -> `[T, U]`, with parameter names dropped and types normalised.
fn types(list: &str, aliases: &BTreeMap<String, String>) -> Vec<String> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in list.char_indices() {
        match c {
            '(' | '<' => depth += 1,
            ')' | '>' if !list[..i].ends_with('-') => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&list[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&list[start..]);
    parts.iter().map(|p| p.trim()).filter(|p| !p.is_empty()).map(|p| normalise(p, aliases)).collect()
}

/// One spelling per type: raw C names, enums as c_int, `Option<fn>` as fn, no parameter names.
fn normalise(ty: &str, aliases: &BTreeMap<String, String>) -> String {
    let mut t = ty.to_string();
    // A leading `name:` (bindgen parameter), but not the `::` of a path.
    if let Some(colon) = t.find(':')
        && !t[colon..].starts_with("::")
        && t[..colon].chars().all(|c| c.is_alphanumeric() || c == '_')
    {
        t = t[colon + 1..].trim().to_string();
    }
    if let Some(alias) = aliases.get(&t) {
        t = alias.clone();
    }
    for (from, to) in [
        ("::std::option::Option<", ""),
        ("::std::os::raw::", ""),
        ("::core::ffi::", ""),
        ("TF_DataType", "c_int"),
        ("TF_Code", "c_int"),
        ("TF_Bool", "u8"),
        ("c_uchar", "u8"),
    ] {
        t = t.replace(from, to);
    }
    if ty.contains("Option<") {
        t = t.trim_end_matches('>').trim_end().trim_end_matches(',').to_string();
    }
    if let (Some(open), Some(close)) = (t.find("fn("), t.rfind(')')) {
        let inner = types(&t[open + 3..close], aliases).join(", ");
        t = format!("{}fn({inner}){}", &t[..open], &t[close + 1..]);
    }
    t.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `name -> (params, return)` from `pub fn name(...) -> R;` declarations.
fn signatures(text: &str, decl: &str, aliases: &BTreeMap<String, String>) -> BTreeMap<String, (Vec<String>, String)> {
    let mut found = BTreeMap::new();
    for chunk in text.split(decl).skip(1) {
        let name: String = chunk.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        let rest = &chunk[name.len()..];
        let Some(body) = rest.trim_start().strip_prefix('(').or_else(|| rest.trim_start().strip_prefix(": fn(")) else {
            continue;
        };
        let (mut depth, mut end) = (1, 0);
        for (i, c) in body.char_indices() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        end = i;
                        break;
                    }
                }
                _ => {}
            }
        }
        let after = &body[end + 1..];
        let ret = after
            .split(';')
            .next()
            .unwrap()
            .trim()
            .strip_prefix("->")
            .map_or("()".to_string(), |r| normalise(r.trim(), aliases));
        found.insert(name, (types(&body[..end], aliases), ret));
    }
    found
}

/// The system C++ compiler's include directories (`stdbool.h`, the C++ library), which the
/// libclang wheel does not ship.
fn system_includes() -> Vec<String> {
    let out = std::process::Command::new("c++")
        .args(["-E", "-x", "c++", "-v", "/dev/null"])
        .output()
        .expect("run c++ -E -v to find the system include directories");
    let text = String::from_utf8_lossy(&out.stderr);
    text.lines()
        .skip_while(|l| !l.starts_with("#include <...> search starts here"))
        .skip(1)
        .take_while(|l| !l.starts_with("End of search list"))
        .map(|l| format!("-isystem{}", l.trim()))
        .collect()
}

#[test]
fn declarations_match_the_tensorflow_headers() {
    let include = std::env::var_os("TF_INCLUDE").map(PathBuf::from).or_else(|| site_packages_dir("tensorflow/include"));
    let Some(include) = include else {
        eprintln!("no TensorFlow headers (set TF_INCLUDE or run `make venv`): nothing to check");
        return;
    };
    if std::env::var_os("LIBCLANG_PATH").is_none() {
        let dir = site_packages_dir("clang/native").expect("no libclang: set LIBCLANG_PATH or run `make venv`");
        // SAFETY: the only test in this binary; set before clang-sys loads libclang.
        unsafe { std::env::set_var("LIBCLANG_PATH", dir) };
    }
    let header = "#include \"tensorflow/c/ops.h\"\n#include \"tensorflow/c/kernels.h\"\n";
    let bindings = bindgen::Builder::default()
        .header_contents("tf.h", header)
        .clang_args(["-x", "c++", "-std=c++17"])
        .clang_args(system_includes())
        .clang_arg(format!("-I{}", include.display()))
        .allowlist_function("TF_.*")
        .blocklist_function("TF_InitKernel")
        .layout_tests(false)
        .generate_comments(false)
        .generate()
        .expect("bindgen parses tensorflow/c/ops.h and kernels.h")
        .to_string();
    let api = std::fs::read_to_string(repo().join("tf/src/api.rs")).unwrap();
    // Our callback type aliases, expanded: `pub type ShapeFn = unsafe extern "C" fn(...);`
    let mut aliases = BTreeMap::new();
    for line in api.lines().filter(|l| l.starts_with("pub type ")) {
        let (name, def) = line["pub type ".len()..].split_once(" = ").unwrap();
        aliases.insert(name.to_string(), def.trim_end_matches(';').to_string());
    }
    let table = &api[api.find("tf_api! {").expect("the tf_api! table")..];
    let ours = signatures(&table.replace("\n    TF_", "\n    @TF_"), "@", &aliases);
    let theirs = signatures(&bindings, "pub fn ", &BTreeMap::new());
    assert!(ours.len() >= 30, "parsed only {} declarations from src/api.rs", ours.len());
    let mut mismatches = Vec::new();
    for (name, (params, ret)) in &ours {
        match theirs.get(name) {
            None => mismatches.push(format!("{name}: not in the headers")),
            Some((p, r)) if p != params || r != ret => mismatches.push(format!(
                "{name}: ours ({}) -> {ret}, headers ({}) -> {r}",
                params.join(", "),
                p.join(", ")
            )),
            Some(_) => {}
        }
    }
    assert!(mismatches.is_empty(), "declarations differ from TensorFlow's headers:\n{}", mismatches.join("\n"));
}
