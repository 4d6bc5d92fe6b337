//! The runtimes under test: ONNX Runtime (loaded from the pinned wheel, with or without
//! librectify.so) and tract, each fed and read as [`Data`].

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use half::{bf16, f16};
use ort::environment::Environment;
use ort::session::Session;
use ort::value::{DynValue, Tensor};
use tract_onnx::prelude::{Framework, InferenceModelExt, IntoRunnable, IntoTValue, TVec, Tensor as TractTensor};

use super::data::{Data, Dt};

pub type Result<T> = std::result::Result<T, String>;

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
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

/// libonnxruntime: `ORT_DYLIB_PATH`, else the onnxruntime wheel in the project's `.venv`.
pub fn onnxruntime_path() -> PathBuf {
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH") {
        return PathBuf::from(p);
    }
    let lib = repo_root().join(".venv/lib");
    let found = std::fs::read_dir(&lib).ok().into_iter().flatten().flatten().find_map(|py| {
        let capi = py.path().join("site-packages/onnxruntime/capi");
        std::fs::read_dir(capi)
            .ok()?
            .flatten()
            .map(|f| f.path())
            .find(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("libonnxruntime.so.")))
    });
    found.unwrap_or_else(|| panic!("no ONNX Runtime: set ORT_DYLIB_PATH or run `make venv` to create .venv"))
}

/// The process-wide ONNX Runtime environment.
pub fn ort_env() -> &'static Environment {
    static ENV: OnceLock<Environment> = OnceLock::new();
    ENV.get_or_init(|| {
        ort::init_from(onnxruntime_path())
            .expect("load ONNX Runtime")
            .with_name("rectify-tests")
            .build()
            .expect("create ONNX Runtime environment")
    })
}

/// Opens a session on `model`, registering librectify.so when `with_rectify`.
///
/// Session creation is serialised: creating two sessions with the `rectify` domain at the
/// same moment fails now and then in ONNX Runtime 1.31.1 with ONNX's "Trying to add a
/// domain to DomainToVersion map, but the domain is already exist" (a process-wide map that
/// session creation fills). Running sessions stays parallel. Hardening (issue 5) digs in.
pub fn ort_session(model: &Path, with_rectify: bool, threads: usize) -> Result<Session> {
    static CREATE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = CREATE.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut builder = Session::builder(ort_env()).map_err(err)?.with_intra_threads(threads).map_err(err)?;
    if with_rectify {
        builder = builder.with_operator_library(library_path()).map_err(err)?;
    }
    builder.commit_from_file(model).map_err(err)
}

pub fn ort_value(d: &Data) -> Result<DynValue> {
    let shape = d.shape.clone();
    Ok(match d.dt {
        Dt::F32 => Tensor::from_array((shape, d.bits.iter().map(|&b| f32::from_bits(b as u32)).collect::<Vec<_>>()))
            .map_err(err)?
            .into_dyn(),
        Dt::F64 => Tensor::from_array((shape, d.bits.iter().map(|&b| f64::from_bits(b)).collect::<Vec<_>>()))
            .map_err(err)?
            .into_dyn(),
        Dt::F16 => Tensor::from_array((shape, d.bits.iter().map(|&b| f16::from_bits(b as u16)).collect::<Vec<_>>()))
            .map_err(err)?
            .into_dyn(),
        Dt::BF16 => Tensor::from_array((shape, d.bits.iter().map(|&b| bf16::from_bits(b as u16)).collect::<Vec<_>>()))
            .map_err(err)?
            .into_dyn(),
    })
}

fn from_ort(dt: Dt, v: &DynValue) -> Result<Data> {
    fn read<T: ort::value::PrimitiveTensorElementType + Copy>(
        v: &DynValue,
        f: impl Fn(T) -> u64,
    ) -> Result<(Vec<usize>, Vec<u64>)> {
        let (shape, data) = v.try_extract_tensor::<T>().map_err(err)?;
        Ok((shape.iter().map(|&d| d as usize).collect(), data.iter().map(|&x| f(x)).collect()))
    }
    let (shape, bits) = match dt {
        Dt::F32 => read::<f32>(v, |x| u64::from(x.to_bits()))?,
        Dt::F64 => read::<f64>(v, f64::to_bits)?,
        Dt::F16 => read::<f16>(v, |x| u64::from(x.to_bits()))?,
        Dt::BF16 => read::<bf16>(v, |x| u64::from(x.to_bits()))?,
    };
    Ok(Data { dt, shape, bits })
}

/// Runs a session once; returns every output.
pub fn ort_run(session: &mut Session, inputs: &[(String, Data)]) -> Result<Vec<Data>> {
    ort_run_values(session, &ort_values(inputs)?, inputs[0].1.dt)
}

/// Inputs converted once, for repeated runs.
pub fn ort_values(inputs: &[(String, Data)]) -> Result<Vec<(String, DynValue)>> {
    inputs.iter().map(|(n, d)| Ok((n.clone(), ort_value(d)?))).collect()
}

/// Runs a session once on prepared inputs; outputs are of element type `dt`.
pub fn ort_run_values(session: &mut Session, values: &[(String, DynValue)], dt: Dt) -> Result<Vec<Data>> {
    let refs: Vec<(&str, &DynValue)> = values.iter().map(|(n, v)| (n.as_str(), v)).collect();
    let outputs = session.run(refs).map_err(err)?;
    outputs.iter().map(|(_, v)| from_ort(dt, &v)).collect()
}

/// Median time per run over a short measuring window (inputs prepared once).
pub fn ort_time(session: &mut Session, inputs: &[(String, Data)]) -> Result<Duration> {
    let values = ort_values(inputs)?;
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
pub fn tract_run(model: &Path, inputs: &[(String, Data)]) -> Result<Vec<Data>> {
    let mut runs = tract_runs(tract_onnx::onnx(), model, inputs, 1)?;
    Ok(runs.remove(0))
}

/// Runs a model `runs` times in tract with rectify's ops registered (the tract host).
pub fn tract_rectify_runs(model: &Path, inputs: &[(String, Data)], runs: usize) -> Result<Vec<Vec<Data>>> {
    let mut onnx = tract_onnx::onnx();
    rectify_tract::register(&mut onnx);
    tract_runs(onnx, model, inputs, runs)
}

fn tract_runs(onnx: tract_onnx::Onnx, model: &Path, inputs: &[(String, Data)], runs: usize) -> Result<Vec<Vec<Data>>> {
    let dt = inputs[0].1.dt;
    let values: TVec<_> = inputs.iter().map(|(_, d)| tract_tensor(d)).collect::<Result<_>>()?;
    let plan = onnx
        .model_for_path(model)
        .and_then(|m| m.into_optimized())
        .and_then(|m| m.into_runnable())
        .map_err(|e| format!("{e:#}"))?;
    (0..runs)
        .map(|_| {
            let inputs = values.iter().map(|t| t.clone().into_tvalue()).collect();
            let outputs = plan.run(inputs).map_err(|e| format!("{e:#}"))?;
            outputs.iter().map(|t| tract_data(dt, t)).collect()
        })
        .collect()
}

fn tract_tensor(d: &Data) -> Result<TractTensor> {
    let t = match d.dt {
        Dt::F32 => {
            let v: Vec<f32> = d.bits.iter().map(|&b| f32::from_bits(b as u32)).collect();
            TractTensor::from_shape(&d.shape, &v)
        }
        Dt::F64 => {
            let v: Vec<f64> = d.bits.iter().map(|&b| f64::from_bits(b)).collect();
            TractTensor::from_shape(&d.shape, &v)
        }
        Dt::F16 => {
            let v: Vec<f16> = d.bits.iter().map(|&b| f16::from_bits(b as u16)).collect();
            TractTensor::from_shape(&d.shape, &v)
        }
        Dt::BF16 => return Err("tract has no bfloat16".to_string()),
    };
    t.map_err(err)
}

fn tract_data(dt: Dt, t: &TractTensor) -> Result<Data> {
    let shape = t.shape().to_vec();
    let view = t.try_as_plain_ram().map_err(err)?;
    let bits = match dt {
        Dt::F32 => view.as_slice::<f32>().map_err(err)?.iter().map(|x| u64::from(x.to_bits())).collect(),
        Dt::F64 => view.as_slice::<f64>().map_err(err)?.iter().map(|x| x.to_bits()).collect(),
        Dt::F16 => view.as_slice::<f16>().map_err(err)?.iter().map(|x| u64::from(x.to_bits())).collect(),
        Dt::BF16 => return Err("tract has no bfloat16".to_string()),
    };
    Ok(Data { dt, shape, bits })
}
