//! Every model in `models/`: ONNX Runtime with librectify.so against the built-in twin in
//! ONNX Runtime and in tract, and against the float64 reference. Where a reference cannot
//! serve, `common::expectations` says so and why.

mod common;

use common::{evaluate, manifest, table};

#[test]
fn every_model_matches_its_references() {
    let entries = manifest();
    assert!(entries.len() >= 30, "manifest lists only {} models", entries.len());
    let reports: Vec<_> =
        entries.iter().map(|e| evaluate(e, false).unwrap_or_else(|err| panic!("{}: {err}", e.name))).collect();
    println!("{}", table(&reports));
    let failures: Vec<String> = reports.iter().flat_map(|r| r.failures()).collect();
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}
