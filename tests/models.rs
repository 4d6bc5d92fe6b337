//! Every model in `models/`: ONNX Runtime with librectify.so against the built-in twin in
//! ONNX Runtime and in tract, and against the float64 reference. Where a reference cannot
//! serve, `common::expectations` says so and why. One test per (op, element type), so a
//! failure names what broke; `every_registry_op_and_element_type_has_a_case` fails when the
//! registry gains an op or type that no case covers.

mod common;

use common::{Entry, evaluate, manifest, table};
use rectify::ops::{DTYPES, OPS};

/// Runs the manifest's models of `op` on `dtype` and fails with every miss.
fn check(op: &str, dtype: &str) {
    let entries: Vec<Entry> = manifest().into_iter().filter(|e| e.op == op && e.dtype == dtype).collect();
    assert!(!entries.is_empty(), "models/manifest.json has no {op} model on {dtype}");
    let reports: Vec<_> =
        entries.iter().map(|e| evaluate(e, false).unwrap_or_else(|err| panic!("{}: {err}", e.name))).collect();
    println!("{}", table(&reports));
    let failures: Vec<String> = reports.iter().flat_map(|r| r.failures()).collect();
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

macro_rules! cases {
    ($($test:ident: $op:literal on $dtype:literal;)*) => {
        /// Every (op, element type) with a test here.
        const CASES: &[(&str, &str)] = &[$(($op, $dtype)),*];
        $(
            #[test]
            fn $test() {
                check($op, $dtype);
            }
        )*
    };
}

cases! {
    leaky_relu_float: "LeakyRelu" on "float";
    leaky_relu_double: "LeakyRelu" on "double";
    leaky_relu_float16: "LeakyRelu" on "float16";
    leaky_relu_bfloat16: "LeakyRelu" on "bfloat16";
    prelu_float: "PRelu" on "float";
    prelu_double: "PRelu" on "double";
    prelu_float16: "PRelu" on "float16";
    prelu_bfloat16: "PRelu" on "bfloat16";
    rrelu_float: "RRelu" on "float";
    rrelu_double: "RRelu" on "double";
    rrelu_float16: "RRelu" on "float16";
    rrelu_bfloat16: "RRelu" on "bfloat16";
    cnn_float: "CNN" on "float";
    face_net_float: "FaceNet" on "float";
}

#[test]
fn every_registry_op_and_element_type_has_a_case() {
    for spec in &OPS {
        for dtype in DTYPES {
            let case = (spec.name, dtype.onnx_name());
            assert!(CASES.contains(&case), "no test for {} on {} in tests/models.rs", case.0, case.1);
        }
    }
}

#[test]
fn every_model_in_the_manifest_is_in_a_case() {
    let entries = manifest();
    assert!(entries.len() >= 30, "manifest lists only {} models", entries.len());
    for e in &entries {
        assert!(
            CASES.contains(&(e.op.as_str(), e.dtype.as_str())),
            "{} ({} on {}) is in no case",
            e.name,
            e.op,
            e.dtype
        );
    }
}
