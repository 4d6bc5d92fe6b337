//! The shipped librectify.so: what it exports and what it must not import.

mod common;

use std::process::Command;

fn dynamic_symbols(flag: &str) -> Vec<String> {
    let lib = common::runtimes::library_path();
    let out = Command::new("nm").args(["-D", flag]).arg(&lib).output().expect("run nm (binutils)");
    assert!(out.status.success(), "nm failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| l.split_whitespace().last()).map(String::from).collect()
}

#[test]
fn exports_exactly_the_two_registration_entry_points() {
    let mut defined = dynamic_symbols("--defined-only");
    defined.sort();
    assert_eq!(defined, ["RegisterCustomOps", "RegisterCustomOpsAltName"]);
}

#[test]
fn never_links_onnx_runtime() {
    let undefined = dynamic_symbols("--undefined-only");
    let ort: Vec<_> = undefined.iter().filter(|s| s.starts_with("Ort") || s.contains("onnxruntime")).collect();
    assert!(ort.is_empty(), "librectify.so imports ONNX Runtime symbols: {ort:?}");
    assert!(!undefined.is_empty(), "nm listed no undefined symbols at all: is this the right file?");
}
