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

/// The C API's name for an op: `LeakyRelu` -> `leaky_relu`, `PRelu` -> `prelu`.
fn c_name(op: &str) -> String {
    let mut out = String::new();
    for (i, c) in op.char_indices() {
        let next_lower = op[i + c.len_utf8()..].chars().next().is_some_and(char::is_lowercase);
        if c.is_uppercase() && i > 1 && next_lower {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// The header against the registry: every op on every element type, and nothing that is
/// neither a registry op's kernel nor one of the three library functions.
#[test]
fn the_header_declares_every_registry_op_for_every_element_type() {
    use rectify::ops::{DTYPES, DType, OPS};
    let suffix = |d: DType| match d {
        DType::Float => "f32",
        DType::Double => "f64",
        DType::Float16 => "f16",
        DType::BFloat16 => "bf16",
    };
    assert_eq!(OPS.map(|op| c_name(op.name)), ["leaky_relu", "prelu", "rrelu"]);
    let declared = header_functions();
    for op in &OPS {
        for &dtype in &DTYPES {
            let name = format!("rectify_{}_{}", c_name(op.name), suffix(dtype));
            assert!(declared.contains(&name), "ffi/rectify.h lacks {name}");
        }
    }
    let general = ["rectify_last_error", "rectify_status_message", "rectify_version"];
    for name in declared.iter().filter(|n| !general.contains(&n.as_str())) {
        let known_op = OPS.iter().any(|op| name.starts_with(&format!("rectify_{}", c_name(op.name))));
        let known_type = DTYPES.iter().any(|&d| name.ends_with(&format!("_{}", suffix(d))));
        assert!(known_op && known_type, "{name} is neither a registry op's kernel nor a library function");
    }
}

/// No package of the plugin's dependency tree is tract: a workspace build (which unifies the
/// features of every member, the CLI's included) gives the same small librectify.so as
/// `cargo build -p rectify`.
#[test]
fn no_build_of_the_plugin_can_link_tract() {
    let out = Command::new(env!("CARGO"))
        .args(["tree", "--offline", "-p", "rectify", "-e", "normal,build", "--prefix", "none", "--workspace"])
        .current_dir(common::runtimes::repo_root())
        .output()
        .expect("run cargo tree");
    assert!(out.status.success(), "cargo tree failed: {}", String::from_utf8_lossy(&out.stderr));
    let tree = String::from_utf8_lossy(&out.stdout);
    let plugin: Vec<&str> = tree.split("\n\n").filter(|section| section.starts_with("rectify v")).collect();
    assert_eq!(plugin.len(), 1, "{tree}");
    assert!(!plugin[0].contains("tract"), "librectify.so's dependencies include tract:\n{}", plugin[0]);
    let lib = common::runtimes::library_path();
    let symbols = Command::new("nm").arg("-C").arg(&lib).output().expect("run nm");
    let symbols = String::from_utf8_lossy(&symbols.stdout);
    assert!(!symbols.contains("tract_"), "{} holds tract code", lib.display());
}
