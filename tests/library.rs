//! The shipped librectify.so: what it exports and what it must not import.

mod common;

use std::process::Command;

fn dynamic_symbols(flag: &str) -> Vec<String> {
    let lib = common::runtimes::library_path();
    let out = Command::new("nm").args(["-D", flag]).arg(&lib).output().expect("run nm (binutils)");
    assert!(out.status.success(), "nm failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| l.split_whitespace().last()).map(String::from).collect()
}

/// The functions `ffi/rectify.h` declares.
fn header_functions() -> Vec<String> {
    let header = std::fs::read_to_string(common::runtimes::repo_root().join("ffi/rectify.h")).expect("read the header");
    let mut names: Vec<String> = header
        .match_indices("rectify_")
        .filter_map(|(at, _)| {
            let rest = &header[at..];
            let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))?;
            rest[end..].starts_with('(').then(|| rest[..end].to_string())
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

#[test]
fn exports_the_registration_entry_points_and_the_c_api_only() {
    let mut defined = dynamic_symbols("--defined-only");
    defined.sort();
    let mut expected = header_functions();
    assert_eq!(expected.len(), 23, "the header declares 3 + 4 x 5 functions: {expected:?}");
    expected.extend(["RegisterCustomOps".to_string(), "RegisterCustomOpsAltName".to_string()]);
    expected.sort();
    assert_eq!(defined, expected);
}

#[test]
fn never_links_onnx_runtime() {
    let undefined = dynamic_symbols("--undefined-only");
    let ort: Vec<_> = undefined.iter().filter(|s| s.starts_with("Ort") || s.contains("onnxruntime")).collect();
    assert!(ort.is_empty(), "librectify.so imports ONNX Runtime symbols: {ort:?}");
    assert!(!undefined.is_empty(), "nm listed no undefined symbols at all: is this the right file?");
}
