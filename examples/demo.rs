//! `make demo`: runs every model in `models/` through ONNX Runtime with librectify.so and
//! compares it with its built-in twin in tract and in ONNX Runtime and with a float64
//! reference; prints the table, with time per run of each rectify model and its twin.
//! Exits non-zero if any model misses its expectations.

#[path = "../tests/common/mod.rs"]
mod common;

use std::process::ExitCode;

fn main() -> ExitCode {
    let library = common::runtimes::library_path();
    println!("librectify.so: {}", library.display());
    println!("ONNX Runtime:  {}", common::runtimes::onnxruntime_path().display());
    println!("models:        {} (models/manifest.json)\n", common::manifest().len());
    let mut reports = Vec::new();
    for entry in common::manifest() {
        match common::evaluate(&entry, true) {
            Ok(r) => reports.push(r),
            Err(e) => {
                eprintln!("{}: {e}", entry.name);
                return ExitCode::FAILURE;
            }
        }
    }
    println!("{}", common::table(&reports));
    let failures: Vec<String> = reports.iter().flat_map(|r| r.failures()).collect();
    if failures.is_empty() {
        println!("all {} models match every reference that can serve them", reports.len());
        ExitCode::SUCCESS
    } else {
        eprintln!("{} mismatches:\n{}", failures.len(), failures.join("\n"));
        ExitCode::FAILURE
    }
}
