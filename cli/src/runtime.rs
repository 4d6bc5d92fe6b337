//! Finding and running the runtimes: ONNX Runtime (loaded at run time, with or without
//! librectify.so) and tract (with or without rectify's tract host).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock, PoisonError};

use anyhow::{Context, Result, anyhow, bail};
use half::{bf16, f16};
use onnx_protobuf::ModelProto;
use ort::environment::Environment;
use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use ort::value::{DynValue, Tensor, TensorElementType, ValueType as OrtValueType};
use tract_onnx::prelude::{
    DatumType, Framework, InferenceFact, InferenceModelExt, IntoRunnable, IntoTValue, OutletId, TVec,
    Tensor as TractTensor, TypedSimplePlan,
};
use tract_onnx::tract_hir::infer::Factoid;
use tract_onnx::tract_hir::internal::TDim;

use crate::array::{Array, ElemType, FromLe};
use crate::model::{Dim, ValueType};

/// A file found, and how.
#[derive(Clone, Debug)]
pub struct Found {
    pub path: PathBuf,
    pub how: String,
}

/// libonnxruntime: `ORT_DYLIB_PATH`, else the onnxruntime wheel of the active Python
/// environment, else a `.venv` above the working directory or this binary.
pub fn find_onnxruntime() -> Result<Found> {
    if let Some(path) = std::env::var_os("ORT_DYLIB_PATH") {
        let path = PathBuf::from(path);
        if !path.is_file() {
            bail!("ORT_DYLIB_PATH is set to {}, which is not a file", path.display());
        }
        return Ok(Found { path, how: "ORT_DYLIB_PATH".into() });
    }
    for var in ["VIRTUAL_ENV", "CONDA_PREFIX"] {
        if let Some(found) = std::env::var_os(var).and_then(|env| wheel_library(Path::new(&env))) {
            return Ok(Found { path: found, how: format!("the onnxruntime wheel in ${var}") });
        }
    }
    if let Some(found) = python_wheel_library() {
        return Ok(Found { path: found, how: "the onnxruntime wheel of `python3` on PATH".into() });
    }
    let starts = [std::env::current_dir().ok(), std::env::current_exe().ok()];
    for start in starts.iter().flatten() {
        for dir in start.ancestors() {
            if let Some(found) = wheel_library(&dir.join(".venv")) {
                return Ok(Found {
                    path: found,
                    how: format!("the onnxruntime wheel in {}", dir.join(".venv").display()),
                });
            }
        }
    }
    bail!(
        "ONNX Runtime not found. Either set ORT_DYLIB_PATH=/path/to/libonnxruntime.so.1.x, or `pip install \
         onnxruntime==1.32.0` in the active Python environment, or run `make venv` in the rectify checkout"
    )
}

/// `<env>/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so.*`
pub fn wheel_library(env: &Path) -> Option<PathBuf> {
    std::fs::read_dir(env.join("lib"))
        .ok()?
        .flatten()
        .find_map(|py| capi_library(&py.path().join("site-packages/onnxruntime")))
}

fn capi_library(package: &Path) -> Option<PathBuf> {
    let capi = package.join("capi");
    let mut libs: Vec<PathBuf> = std::fs::read_dir(capi)
        .ok()?
        .flatten()
        .map(|f| f.path())
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("libonnxruntime.so.")))
        .collect();
    libs.sort();
    libs.pop()
}

/// Where `python3` on PATH has the package `name`, found without importing it.
fn python_package_dir(name: &str) -> Option<PathBuf> {
    let script = format!(
        "import importlib.util as u; s = u.find_spec('{name}'); print(s.submodule_search_locations[0] if s else '')"
    );
    let out = std::process::Command::new("python3").args(["-c", &script]).output().ok()?;
    let dir = String::from_utf8(out.stdout).ok()?;
    let dir = dir.trim();
    (!dir.is_empty()).then(|| PathBuf::from(dir))
}

/// The onnxruntime wheel's library of `python3` on PATH.
fn python_wheel_library() -> Option<PathBuf> {
    capi_library(&python_package_dir("onnxruntime")?)
}

/// librectify.so: `--library`, else `RECTIFY_LIBRARY`, else the first that exists of: next to
/// this binary, cargo's release build beside its profile folder (`target/debug/rectify` finds
/// `target/release/librectify.so`, and takes it before a debug build beside it), and the
/// `rectify` wheel of `python3` on PATH (an active venv's).
pub fn find_library(flag: Option<&Path>) -> Result<Found> {
    let (path, how) = match (flag, std::env::var_os("RECTIFY_LIBRARY")) {
        (Some(p), _) => (p.to_path_buf(), "--library".to_string()),
        (None, Some(p)) => (PathBuf::from(p), "RECTIFY_LIBRARY".to_string()),
        (None, None) => {
            let exe = std::env::current_exe().context("locating this binary")?;
            let beside = exe.with_file_name("librectify.so");
            let release = exe.parent().and_then(Path::parent).map(|target| target.join("release/librectify.so"));
            let mut local = [(beside.clone(), "next to this binary")]
                .into_iter()
                .chain(release.map(|p| (p, "cargo's release build")))
                .collect::<Vec<_>>();
            if exe.parent().and_then(Path::file_name).is_some_and(|dir| dir == "debug") {
                local.reverse();
            }
            // The Python package costs a python3 process: asked only when no build is found.
            local
                .into_iter()
                .find(|(p, _)| p.is_file())
                .or_else(|| python_package_library().map(|p| (p, "the rectify Python package")))
                .map(|(p, how)| (p, how.to_string()))
                .unwrap_or((beside, "next to this binary, in target/release/, or in the rectify package".to_string()))
        }
    };
    if !path.is_file() {
        bail!(
            "librectify.so not found at {} ({how}): build it with `make build` (target/release/librectify.so), \
             pass --library PATH, or install the rectify wheel in the active venv",
            path.display()
        );
    }
    Ok(Found { path, how })
}

/// librectify.so inside the `rectify` package of `python3` on PATH (the wheel puts it in lib/).
fn python_package_library() -> Option<PathBuf> {
    Some(python_package_dir("rectify")?.join("lib/librectify.so")).filter(|library| library.is_file())
}

/// The process's ONNX Runtime environment, loaded once from `library`.
pub fn ort_environment(library: &Path) -> Result<&'static Environment> {
    static ENV: OnceLock<Environment> = OnceLock::new();
    if let Some(env) = ENV.get() {
        return Ok(env);
    }
    let env = ort::init_from(library)
        .map_err(|e| anyhow!("loading ONNX Runtime from {}: {e}", library.display()))?
        .with_name("rectify")
        .build()
        .map_err(|e| anyhow!("creating the ONNX Runtime environment: {e}"))?;
    Ok(ENV.get_or_init(|| env))
}

/// Opens a session on a serialized model, with librectify.so registered when given.
pub fn ort_session(env: &Environment, model: &[u8], rectify: Option<&Path>) -> Result<Session> {
    commit(session_builder(env, rectify, 1)?, |mut b| b.commit_from_memory(model))
}

/// Opens a session on a model file, so that ONNX Runtime finds its external data.
pub fn ort_session_file(env: &Environment, model: &Path, rectify: Option<&Path>) -> Result<Session> {
    ort_session_threads(env, model, rectify, 1)
}

/// [`ort_session_file`] with `threads` intra-op threads.
pub fn ort_session_threads(env: &Environment, model: &Path, rectify: Option<&Path>, threads: usize) -> Result<Session> {
    commit(session_builder(env, rectify, threads)?, |mut b| b.commit_from_file(model))
}

fn session_builder(
    env: &Environment,
    rectify: Option<&Path>,
    threads: usize,
) -> Result<ort::session::builder::SessionBuilder> {
    let mut builder = Session::builder(env)
        .map_err(|e| anyhow!("{e}"))?
        .with_optimization_level(GraphOptimizationLevel::All)
        .map_err(|e| anyhow!("{e}"))?
        .with_intra_threads(threads)
        .map_err(|e| anyhow!("{e}"))?;
    if let Some(library) = rectify {
        builder =
            builder.with_operator_library(library).map_err(|e| anyhow!("registering {}: {e}", library.display()))?;
    }
    Ok(builder)
}

/// Creates a session, one at a time in this process: two sessions registering the `rectify`
/// domain at the same moment fail now and then in ONNX Runtime 1.31.1 with ONNX's "Trying
/// to add a domain to DomainToVersion map, but the domain is already exist" (a process-wide
/// map that session creation fills). Running sessions stays parallel.
fn commit(
    builder: ort::session::builder::SessionBuilder,
    f: impl FnOnce(ort::session::builder::SessionBuilder) -> ort::Result<Session>,
) -> Result<Session> {
    static CREATE: Mutex<()> = Mutex::new(());
    let _guard = CREATE.lock().unwrap_or_else(PoisonError::into_inner);
    f(builder).map_err(|e| anyhow!("{e}"))
}

/// Runs a session once with named inputs; returns the outputs in the model's order.
pub fn ort_run(session: &mut Session, inputs: &[(String, Array)]) -> Result<Vec<(String, Array)>> {
    ort_run_values(session, &ort_values(inputs)?)
}

/// Inputs converted once, for repeated runs.
pub fn ort_values(inputs: &[(String, Array)]) -> Result<Vec<(String, DynValue)>> {
    inputs.iter().map(|(n, a)| Ok((n.clone(), ort_value(a).with_context(|| format!("input '{n}'"))?))).collect()
}

/// Runs a session once on converted inputs.
pub fn ort_run_values(session: &mut Session, values: &[(String, DynValue)]) -> Result<Vec<(String, Array)>> {
    let refs: Vec<(&str, &DynValue)> = values.iter().map(|(n, v)| (n.as_str(), v)).collect();
    let outputs = session.run(refs).map_err(|e| anyhow!("{e}"))?;
    outputs
        .iter()
        .map(|(name, value)| Ok((name.to_string(), from_ort(&value).with_context(|| format!("output '{name}'"))?)))
        .collect()
}

pub fn ort_value(a: &Array) -> Result<DynValue> {
    fn make<T: FromLe + ort::value::PrimitiveTensorElementType + std::fmt::Debug + 'static>(
        a: &Array,
    ) -> Result<DynValue> {
        Ok(Tensor::from_array((a.shape.clone(), a.to_vec::<T>())).map_err(|e| anyhow!("{e}"))?.into_dyn())
    }
    match a.ty {
        ElemType::F32 => make::<f32>(a),
        ElemType::F64 => make::<f64>(a),
        ElemType::F16 => make::<f16>(a),
        ElemType::BF16 => make::<bf16>(a),
        ElemType::I64 => make::<i64>(a),
        ElemType::I32 => make::<i32>(a),
        ElemType::I8 => make::<i8>(a),
        ElemType::U8 => make::<u8>(a),
        ElemType::Bool => make::<bool>(a),
    }
}

fn from_ort(v: &DynValue) -> Result<Array> {
    fn read<T: FromLe + ort::value::PrimitiveTensorElementType>(v: &DynValue, ty: ElemType) -> Result<Array> {
        let (shape, data) = v.try_extract_tensor::<T>().map_err(|e| anyhow!("{e}"))?;
        Array::from_slice(ty, shape.iter().map(|&d| d as usize).collect(), data)
    }
    let OrtValueType::Tensor { ty, .. } = v.dtype() else { bail!("not a tensor") };
    match ty {
        TensorElementType::Float32 => read::<f32>(v, ElemType::F32),
        TensorElementType::Float64 => read::<f64>(v, ElemType::F64),
        TensorElementType::Float16 => read::<f16>(v, ElemType::F16),
        TensorElementType::Bfloat16 => read::<bf16>(v, ElemType::BF16),
        TensorElementType::Int64 => read::<i64>(v, ElemType::I64),
        TensorElementType::Int32 => read::<i32>(v, ElemType::I32),
        TensorElementType::Int8 => read::<i8>(v, ElemType::I8),
        TensorElementType::Uint8 => read::<u8>(v, ElemType::U8),
        TensorElementType::Bool => read::<bool>(v, ElemType::Bool),
        other => bail!("element type {other:?} is not compared"),
    }
}

/// The type and shape of every value tract's shape inference can tell, by ONNX value name
/// (the model parsed with rectify's tract host, so rectify nodes take part). Dimensions
/// tract knows only as an expression (`H-2`) are unknown.
pub fn infer_types(model: &[u8]) -> Result<HashMap<String, ValueType>> {
    let mut onnx = tract_onnx::onnx();
    rectify_tract::register(&mut onnx);
    let mut inference = onnx.model_for_read(&mut &model[..]).map_err(|e| anyhow!("{e:#}"))?;
    // Partial facts are what we want: analysis that stops at an op tract lacks still
    // keeps what it learnt before.
    let _ = inference.analyse(false);
    let mut types = HashMap::new();
    for node in inference.nodes() {
        for (slot, output) in node.outputs.iter().enumerate() {
            let label = inference.outlet_label(OutletId::new(node.id, slot));
            let elem = output.fact.datum_type.concretize().and_then(elem_type);
            let (Some(label), Some(elem)) = (label, elem) else { continue };
            let shape = &output.fact.shape;
            let dims = shape.rank().concretize().map(|_| {
                shape
                    .dims()
                    .map(|d| match d.concretize() {
                        Some(TDim::Val(v)) if v >= 0 => Dim::Fixed(v as usize),
                        Some(TDim::Sym(s)) => Dim::Named(s.to_string()),
                        _ => Dim::Unknown,
                    })
                    .collect()
            });
            types.insert(label.to_string(), ValueType { elem_type: elem.onnx_id(), dims });
        }
    }
    Ok(types)
}

fn elem_type(t: DatumType) -> Option<ElemType> {
    Some(match t {
        DatumType::F32 => ElemType::F32,
        DatumType::F64 => ElemType::F64,
        DatumType::F16 => ElemType::F16,
        DatumType::I64 => ElemType::I64,
        DatumType::I32 => ElemType::I32,
        DatumType::I8 => ElemType::I8,
        DatumType::U8 => ElemType::U8,
        DatumType::Bool => ElemType::Bool,
        _ => return None,
    })
}

/// A type lookup for `convert` that runs tract's shape inference once, on first use.
pub fn lazy_shapes(model: &ModelProto) -> impl FnMut(&str) -> Option<ValueType> + '_ {
    let mut types: Option<HashMap<String, ValueType>> = None;
    move |name| {
        let types = types.get_or_insert_with(|| {
            crate::model::to_bytes(model).ok().and_then(|b| infer_types(&b).ok()).unwrap_or_default()
        });
        types.get(name).cloned()
    }
}

/// Runs a model file in tract once, with rectify's ops registered when `rectify`.
pub fn tract_run(model: &Path, inputs: &[(String, Array)], rectify: bool) -> Result<Vec<(String, Array)>> {
    TractPlan::new(model, inputs, rectify)?.run(inputs)
}

/// A model optimised by tract for the shapes and types of given inputs; each run of the
/// same plan continues its nodes' state (RRelu training's run counter).
pub struct TractPlan {
    plan: std::sync::Arc<TypedSimplePlan>,
    inputs: Vec<String>,
    outputs: Vec<String>,
}

impl TractPlan {
    pub fn new(model: &Path, inputs: &[(String, Array)], rectify: bool) -> Result<Self> {
        // Shapes come from the concrete inputs: exporters' symbolic output and value_info
        // shapes (`N`, `H - 2`) would not unify with them.
        let mut onnx = tract_onnx::onnx().with_ignore_output_shapes(true).with_ignore_value_info(true);
        if rectify {
            rectify_tract::register(&mut onnx);
        }
        let mut inference = onnx.model_for_path(model).map_err(|e| anyhow!("{e:#}"))?;
        let mut names = Vec::new();
        for (slot, outlet) in inference.input_outlets().map_err(|e| anyhow!("{e}"))?.to_vec().into_iter().enumerate() {
            let name = inference.node(outlet.node).name.clone();
            let (_, array) =
                inputs.iter().find(|(n, _)| *n == name).with_context(|| format!("no value for input '{name}'"))?;
            let fact = InferenceFact::dt_shape(tract_datum_type(array.ty)?, &array.shape);
            inference = inference.with_input_fact(slot, fact).map_err(|e| anyhow!("{e:#}"))?;
            names.push(name);
        }
        let plan = inference.into_optimized().and_then(|m| m.into_runnable()).map_err(|e| anyhow!("{e:#}"))?;
        let model = plan.model();
        let outputs = model
            .output_outlets()
            .map_err(|e| anyhow!("{e}"))?
            .iter()
            .map(|o| model.outlet_label(*o).map(str::to_string).unwrap_or_else(|| model.node(o.node).name.clone()))
            .collect();
        Ok(Self { plan, inputs: names, outputs })
    }

    /// Runs once on named inputs (those the model was planned for).
    pub fn run(&self, inputs: &[(String, Array)]) -> Result<Vec<(String, Array)>> {
        let mut values = TVec::new();
        for name in &self.inputs {
            let (_, array) =
                inputs.iter().find(|(n, _)| n == name).with_context(|| format!("no value for input '{name}'"))?;
            values.push(tract_tensor(array)?.into_tvalue());
        }
        let outputs = self.plan.run(values).map_err(|e| anyhow!("{e:#}"))?;
        self.outputs.iter().zip(outputs.iter()).map(|(n, t)| Ok((n.clone(), from_tract(t)?))).collect()
    }
}

fn tract_datum_type(ty: ElemType) -> Result<DatumType> {
    Ok(match ty {
        ElemType::F32 => DatumType::F32,
        ElemType::F64 => DatumType::F64,
        ElemType::F16 => DatumType::F16,
        ElemType::I64 => DatumType::I64,
        ElemType::I32 => DatumType::I32,
        ElemType::I8 => DatumType::I8,
        ElemType::U8 => DatumType::U8,
        ElemType::Bool => DatumType::Bool,
        ElemType::BF16 => bail!("tract has no bfloat16"),
    })
}

fn tract_tensor(a: &Array) -> Result<TractTensor> {
    let t = match a.ty {
        ElemType::F32 => TractTensor::from_shape(&a.shape, &a.to_vec::<f32>()),
        ElemType::F64 => TractTensor::from_shape(&a.shape, &a.to_vec::<f64>()),
        ElemType::F16 => TractTensor::from_shape(&a.shape, &a.to_vec::<f16>()),
        ElemType::I64 => TractTensor::from_shape(&a.shape, &a.to_vec::<i64>()),
        ElemType::I32 => TractTensor::from_shape(&a.shape, &a.to_vec::<i32>()),
        ElemType::I8 => TractTensor::from_shape(&a.shape, &a.to_vec::<i8>()),
        ElemType::U8 => TractTensor::from_shape(&a.shape, &a.to_vec::<u8>()),
        ElemType::Bool => TractTensor::from_shape(&a.shape, &a.to_vec::<bool>()),
        ElemType::BF16 => bail!("tract has no bfloat16"),
    };
    t.map_err(|e| anyhow!("{e}"))
}

fn from_tract(t: &TractTensor) -> Result<Array> {
    fn read<T: FromLe + tract_onnx::prelude::Datum>(t: &TractTensor, ty: ElemType) -> Result<Array> {
        let view = t.try_as_plain_ram().map_err(|e| anyhow!("{e}"))?;
        Array::from_slice(ty, t.shape().to_vec(), view.as_slice::<T>().map_err(|e| anyhow!("{e}"))?)
    }
    match t.datum_type() {
        DatumType::F32 => read::<f32>(t, ElemType::F32),
        DatumType::F64 => read::<f64>(t, ElemType::F64),
        DatumType::F16 => read::<f16>(t, ElemType::F16),
        DatumType::I64 => read::<i64>(t, ElemType::I64),
        DatumType::I32 => read::<i32>(t, ElemType::I32),
        DatumType::I8 => read::<i8>(t, ElemType::I8),
        DatumType::U8 => read::<u8>(t, ElemType::U8),
        DatumType::Bool => read::<bool>(t, ElemType::Bool),
        other => bail!("tract output type {other:?} is not compared"),
    }
}
