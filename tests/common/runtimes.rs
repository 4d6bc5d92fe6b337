//! The runtimes under test, from the CLI's harness library (`rectify_cli::runtime`): ONNX
//! Runtime from the pinned wheel, with or without librectify.so, and tract, each fed and
//! read as [`Array`]s. Only where the tests find the libraries is theirs.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ort::environment::Environment;
use ort::session::Session;
use ort::value::DynValue;
use rectify_cli::array::Array;
use rectify_cli::runtime::{self, TractPlan};

pub type Result<T> = std::result::Result<T, String>;

fn err(e: impl std::fmt::Display) -> String {
    format!("{e:#}")
}

/// The repository root (tests and examples run from anywhere).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// librectify.so: `RECTIFY_LIBRARY`, else the release build in `target/`.
pub fn library_path() -> PathBuf {
    let path = std::env::var_os("RECTIFY_LIBRARY")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/release/librectify.so"));
    assert!(path.exists(), "{} is missing: run `cargo build --release` (make test does it)", path.display());
    path
}

/// libonnxruntime: `ORT_DYLIB_PATH`, else the onnxruntime wheel in the project's `.venv`
/// (never another environment's: the tests pin their release).
pub fn onnxruntime_path() -> PathBuf {
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH") {
        return PathBuf::from(p);
    }
    runtime::wheel_library(&repo_root().join(".venv"))
        .unwrap_or_else(|| panic!("no ONNX Runtime: set ORT_DYLIB_PATH or run `make venv` to create .venv"))
}

/// The process-wide ONNX Runtime environment.
pub fn ort_env() -> &'static Environment {
    runtime::ort_environment(&onnxruntime_path()).expect("load ONNX Runtime")
}

/// Opens a session on `model`, registering librectify.so when `with_rectify`.
pub fn ort_session(model: &Path, with_rectify: bool, threads: usize) -> Result<Session> {
    let library = with_rectify.then(library_path);
    runtime::ort_session_threads(ort_env(), model, library.as_deref(), threads).map_err(err)
}

fn arrays(outputs: Vec<(String, Array)>) -> Vec<Array> {
    outputs.into_iter().map(|(_, a)| a).collect()
}

/// Runs a session once; returns every output.
pub fn ort_run(session: &mut Session, inputs: &[(String, Array)]) -> Result<Vec<Array>> {
    runtime::ort_run(session, inputs).map(arrays).map_err(err)
}

pub use runtime::ort_values;

/// Runs a session once on prepared inputs.
pub fn ort_run_values(session: &mut Session, values: &[(String, DynValue)]) -> Result<Vec<Array>> {
    runtime::ort_run_values(session, values).map(arrays).map_err(err)
}

/// Median time per run over a short measuring window (inputs prepared once).
pub fn ort_time(session: &mut Session, inputs: &[(String, Array)]) -> Result<Duration> {
    let values = ort_values(inputs).map_err(err)?;
    let mut times = Vec::new();
    let start = Instant::now();
    while times.len() < 5 || (start.elapsed() < Duration::from_millis(150) && times.len() < 2000) {
        let refs: Vec<(&str, &DynValue)> = values.iter().map(|(n, v)| (n.as_str(), v)).collect();
        let t = Instant::now();
        session.run(refs).map_err(err)?;
        times.push(t.elapsed());
    }
    times.sort();
    Ok(times[times.len() / 2])
}

/// Runs a model in tract (built-in ops only) on `inputs`.
pub fn tract_run(model: &Path, inputs: &[(String, Array)]) -> Result<Vec<Array>> {
    runtime::tract_run(model, inputs, false).map(arrays).map_err(err)
}

/// Runs a model `runs` times in one tract plan with rectify's ops registered (the tract host).
pub fn tract_rectify_runs(model: &Path, inputs: &[(String, Array)], runs: usize) -> Result<Vec<Vec<Array>>> {
    let plan = TractPlan::new(model, inputs, true).map_err(err)?;
    (0..runs).map(|_| plan.run(inputs).map(arrays).map_err(err)).collect()
}
