//! `rectify verify`: runs a model in ONNX Runtime with librectify.so and compares every
//! output with references that do not use rectify's ONNX Runtime kernels.
//!
//! The subject is the model itself when it holds rectify nodes, or its `--all` rectify
//! rewrite when it holds only standard LeakyRelu / PRelu. The built-in twin is the other
//! form. References: the twin in ONNX Runtime (decisive: the same runtime, so only the
//! activation kernels differ), the twin in tract, and the subject in tract with rectify's
//! tract host. When ONNX Runtime cannot run the twin (bfloat16 on CPU, a training-mode
//! RRelu), the tract host decides, but only for a graph of activations alone: elsewhere
//! tract's own kernels round differently.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use onnx_protobuf::{Message, ModelProto};

use crate::array::{Array, ElemType, Rng, Tolerance};
use crate::convert::{self, Target};
use crate::model::{self, Dim, Layout};
use crate::per_node;
use crate::report::{Decisive, Outcome, Reference, Report, first_line};
use crate::{runtime, tensor_file};

pub struct Options {
    pub model: PathBuf,
    pub inputs: Vec<(String, PathBuf)>,
    /// Expected outputs (e.g. ONNX test data): when given, they decide.
    pub expected: Vec<(String, PathBuf)>,
    pub dims: BTreeMap<String, usize>,
    pub seed: u64,
    pub library: Option<PathBuf>,
    /// One line per model instead of the full report.
    pub brief: bool,
    /// Where to write the outputs (ONNX Runtime with librectify.so) as `.npy` files.
    pub save_outputs: Option<PathBuf>,
    /// How close outputs must be to `expected` files (None: bit-exact).
    pub tolerance: Option<Tolerance>,
    /// Check each rectify node against the built-in op on its own inputs (always done for
    /// float16 / bfloat16 networks).
    pub per_node: bool,
    /// The largest input `verify` generates, in bytes.
    pub max_input_bytes: u64,
}

/// Returns whether every decisive comparison matched.
pub fn verify(opts: &Options) -> Result<bool> {
    let brief = opts.brief;
    let library = runtime::find_library(opts.library.as_deref())?;
    let ort = runtime::find_onnxruntime()?;
    let source = model::read(&opts.model)?;
    let source_external = source.external_bytes > 0;
    let original = source.model;
    let counts = model::activation_counts(&original);
    let (subject, twin) = forms(&original)?;
    say!(brief, "model:   {}", opts.model.display());
    let summary: Vec<String> = counts.iter().map(|(op, n)| format!("{n} x {op}")).collect();
    say!(brief, "nodes:   {}", summary.join(", "));
    let inputs = make_inputs(&original, opts)?;
    for (name, a) in &inputs {
        let how = if opts.inputs.iter().any(|(n, _)| n == name) { "from file" } else { "random" };
        say!(brief, "input:   {name} {} {:?} ({how}, seed {})", a.ty.name(), a.shape, opts.seed);
    }

    // Both forms go to files (external data beside them when the model had some or is
    // large), so ONNX Runtime and tract load them by path and resolve their tensors.
    let scratch = Scratch::new()?;
    let layout = if source_external || original.compute_size() > model::INLINE_LIMIT {
        Layout::External
    } else {
        Layout::Inline
    };
    let subject_path = scratch.0.join("subject.onnx");
    model::save(&subject, &subject_path, layout)?;
    let env = runtime::ort_environment(&ort.path)?;
    let mut session = runtime::ort_session_file(env, &subject_path, Some(&library.path))
        .with_context(|| "ONNX Runtime with librectify.so could not load the model")?;
    let outputs = runtime::ort_run(&mut session, &inputs).context("ONNX Runtime with librectify.so failed")?;
    if let Some(dir) = &opts.save_outputs {
        save(dir, &outputs)?;
    }

    let twin_path = match &twin {
        Ok(t) => {
            let path = scratch.0.join("twin.onnx");
            model::save(t, &path, layout)?;
            Ok(path)
        }
        Err(reason) => Err(reason.clone()),
    };
    let mut references = Vec::new();
    if !opts.expected.is_empty() {
        let outcome = expected_outputs(&outputs, &opts.expected)?;
        references.push(Reference { name: "expected (files)", outcome });
    }
    references.push(Reference {
        name: "ONNX Runtime, built-in twin",
        outcome: match &twin_path {
            Ok(path) => run(|| {
                let mut s = runtime::ort_session_file(env, path, None)?;
                runtime::ort_run(&mut s, &inputs)
            }),
            Err(reason) => Outcome::Unavailable(reason.clone()),
        },
    });
    references.push(Reference {
        name: "tract, built-in twin",
        outcome: match &twin_path {
            Ok(path) => run(|| runtime::tract_run(path, &inputs, false)),
            Err(reason) => Outcome::Unavailable(reason.clone()),
        },
    });
    references
        .push(Reference { name: "tract + rectify", outcome: run(|| runtime::tract_run(&subject_path, &inputs, true)) });
    // A float16 / bfloat16 network's twin runs its built-in stretches in float32 behind
    // Casts (no float16 CPU PRelu): there each rectify node is checked on its own inputs.
    // One shape inference (tract's, run on first use) for both questions below.
    let mut shapes = runtime::lazy_shapes(&subject);
    let half = half_precision(&subject, &mut shapes);
    let only_activations = counts.values().sum::<usize>() == model::graph(&original).node.len();
    let node_checks = if opts.per_node || (half && !only_activations) {
        Some(per_node::check(env, &subject, &library.path, &inputs, &scratch.0, &mut shapes)?)
    } else {
        None
    };
    // Expected outputs decide when given, else the node checks of a half-precision network,
    // else ONNX Runtime's twin. tract's own kernels (convolutions, float16 LeakyRelu) round
    // differently from ONNX Runtime's, so the tract host decides only for a graph of nothing
    // but activations.
    let ran = |name: &str| references.iter().position(|r| r.name == name && matches!(r.outcome, Outcome::Ran(_)));
    let decisive = match ran("expected (files)") {
        Some(r) => Decisive::Output(r),
        None if half
            && !only_activations
            && node_checks.as_ref().is_some_and(|c| c.iter().all(|c| c.outcome.is_ok())) =>
        {
            Decisive::Nodes
        }
        None => ran("ONNX Runtime, built-in twin")
            .or_else(|| ran("tract + rectify").filter(|_| only_activations))
            .map_or(Decisive::Nothing, Decisive::Output),
    };
    let tolerance = |r: usize| if references[r].name == "expected (files)" { opts.tolerance } else { None };
    let report = Report { model: opts.model.display().to_string(), references: &references, decisive, brief, half };
    report.print(&outputs, node_checks.as_deref(), &tolerance)
}

/// True when a rectify node computes float16 or bfloat16.
fn half_precision(subject: &ModelProto, shapes: &mut dyn FnMut(&str) -> Option<model::ValueType>) -> bool {
    let graph = model::graph(subject);
    graph.node.iter().filter(|n| n.domain == model::RECTIFY).any(|n| {
        n.input
            .first()
            .and_then(|x| model::value_type(graph, x).or_else(|| shapes(x)))
            .is_some_and(|t| matches!(ElemType::from_onnx(t.elem_type), Some(ElemType::F16 | ElemType::BF16)))
    })
}

/// The model ONNX Runtime runs with librectify.so, and its built-in twin (or why none).
fn forms(original: &ModelProto) -> Result<(ModelProto, Result<ModelProto, String>)> {
    let counts = model::activation_counts(original);
    if model::rectify_node_count(original) > 0 {
        let mut twin = original.clone();
        let twin = convert::convert(&mut twin, Target::Builtin, &mut runtime::lazy_shapes(original))
            .map(|_| twin)
            .map_err(|e| format!("no built-in twin: {e}"));
        return Ok((original.clone(), twin));
    }
    if counts.is_empty() {
        bail!("the model has no rectify node and no LeakyRelu / PRelu: nothing to verify");
    }
    let mut subject = original.clone();
    convert::convert(&mut subject, Target::Rectify { all: true, fuse_inexact: false }, &mut |_| None)?;
    Ok((subject, Ok(original.clone())))
}

/// A folder of its own under the system's temporary directory, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Result<Self> {
        static COUNT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("rectify-verify-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(Self(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn save(dir: &std::path::Path, outputs: &[(String, Array)]) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for (name, a) in outputs {
        let safe: String =
            name.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect();
        let path = dir.join(format!("{safe}.npy"));
        std::fs::write(&path, crate::npy::write(a).with_context(|| format!("output '{name}'"))?)
            .with_context(|| format!("writing {}", path.display()))?;
        println!("saved:   output {name} -> {}", path.display());
    }
    Ok(())
}

/// Expected outputs read from files, in the order of the model's outputs.
fn expected_outputs(outputs: &[(String, Array)], files: &[(String, PathBuf)]) -> Result<Outcome> {
    for (name, _) in files {
        if !outputs.iter().any(|(n, _)| n == name) {
            let known: Vec<&str> = outputs.iter().map(|(n, _)| n.as_str()).collect();
            bail!("--expected {name}=...: the model has no output '{name}' (outputs: {})", known.join(", "));
        }
    }
    let mut arrays = Vec::new();
    for (name, _) in outputs {
        let Some((_, path)) = files.iter().find(|(n, _)| n == name) else {
            return Ok(Outcome::Unavailable(format!("no --expected file for output '{name}'")));
        };
        arrays.push((name.clone(), tensor_file::read(path)?));
    }
    Ok(Outcome::Ran(arrays))
}

fn run(f: impl FnOnce() -> Result<Vec<(String, Array)>>) -> Outcome {
    match f() {
        Ok(outputs) => Outcome::Ran(outputs),
        Err(e) => Outcome::Unavailable(first_line(&format!("{e:#}"))),
    }
}

/// Inputs from files where given, random otherwise (sized by the declared shape and `--dim`).
fn make_inputs(model: &ModelProto, opts: &Options) -> Result<Vec<(String, Array)>> {
    let specs = model::inputs(model);
    let named: Vec<&str> = specs
        .iter()
        .flat_map(|s| s.dims.iter().flatten())
        .filter_map(|d| if let Dim::Named(p) = d { Some(p.as_str()) } else { None })
        .collect();
    for name in opts.dims.keys() {
        if !named.contains(&name.as_str()) {
            let known = if named.is_empty() { "none".to_string() } else { named.join(", ") };
            bail!(
                "--dim {name}=...: the model's inputs have no dimension named '{name}' (symbolic dimensions: {known})"
            );
        }
    }
    for (name, _) in &opts.inputs {
        if !specs.iter().any(|s| &s.name == name) {
            let known: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
            bail!("--input {name}=...: the model has no input '{name}' (inputs: {})", known.join(", "));
        }
    }
    let mut rng = Rng::new(opts.seed);
    specs
        .iter()
        .map(|spec| {
            if let Some((_, path)) = opts.inputs.iter().find(|(n, _)| *n == spec.name) {
                let a = tensor_file::read(path)?;
                if spec.ty.is_some_and(|t| t != a.ty) {
                    bail!(
                        "input '{}' is {}, but {} holds {}",
                        spec.name,
                        spec.ty.unwrap().name(),
                        path.display(),
                        a.ty.name()
                    );
                }
                if let Some(dims) = &spec.dims {
                    let fits = dims.len() == a.shape.len()
                        && dims.iter().zip(&a.shape).all(|(d, &n)| !matches!(d, Dim::Fixed(f) if *f != n));
                    if !fits {
                        let declared: Vec<String> = dims
                            .iter()
                            .map(|d| match d {
                                Dim::Fixed(n) => n.to_string(),
                                Dim::Named(p) => p.clone(),
                                Dim::Unknown => "?".into(),
                            })
                            .collect();
                        bail!(
                            "input '{}' from {} has shape {:?}, but the model declares [{}]",
                            spec.name,
                            path.display(),
                            a.shape,
                            declared.join(", ")
                        );
                    }
                }
                return Ok((spec.name.clone(), a));
            }
            let ty = spec.ty.with_context(|| {
                format!("input '{}' has ONNX element type {}, which verify cannot generate", spec.name, spec.onnx_type)
            })?;
            let dims = spec.dims.as_ref().with_context(|| {
                format!("input '{}' has no declared shape: give it with --input {}=file.npy", spec.name, spec.name)
            })?;
            let shape = dims
                .iter()
                .enumerate()
                .map(|(i, d)| match d {
                    Dim::Fixed(n) => Ok(*n),
                    Dim::Named(p) => opts.dims.get(p).copied().with_context(|| {
                        format!("input '{}' has symbolic dimension '{p}': give its size with --dim {p}=N", spec.name)
                    }),
                    Dim::Unknown => bail!(
                        "input '{}' dimension {i} has no size or name: give the input with --input {}=file.npy",
                        spec.name,
                        spec.name
                    ),
                })
                .collect::<Result<Vec<_>>>()?;
            let bytes = shape.iter().try_fold(ty.size() as u64, |n, &d| n.checked_mul(d as u64));
            match bytes {
                Some(bytes) if bytes <= opts.max_input_bytes => {}
                _ => bail!(
                    "input '{}' of shape {shape:?} ({}) would take {} bytes, over verify's limit of {} bytes \
                     (--max-input-bytes)",
                    spec.name,
                    ty.name(),
                    bytes.map_or("more than 2^64".to_string(), |b| b.to_string()),
                    opts.max_input_bytes
                ),
            }
            Ok((spec.name.clone(), Array::random(ty, shape, &mut rng)))
        })
        .collect()
}

/// `--dim NAME=N`: N a whole number.
pub fn parse_dim(arg: &str) -> Result<(String, usize), String> {
    let (name, value) = arg.split_once('=').ok_or_else(|| format!("expected NAME=N, got '{arg}'"))?;
    if name.is_empty() {
        return Err(format!("'{arg}': the dimension has no name"));
    }
    let n = value.parse::<usize>().map_err(|_| format!("'{value}': a dimension's size is a whole number >= 0"))?;
    Ok((name.to_string(), n))
}

/// `--rtol` / `--atol`: finite and >= 0.
pub fn parse_tolerance(arg: &str) -> Result<f64, String> {
    match arg.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!("'{arg}': a tolerance is a finite number >= 0")),
    }
}

/// `name=value` arguments.
pub fn parse_pair<T: std::str::FromStr>(arg: &str) -> Result<(String, T), String>
where
    T::Err: std::fmt::Display,
{
    let (name, value) = arg.split_once('=').ok_or_else(|| format!("expected NAME=VALUE, got '{arg}'"))?;
    let value = value.parse().map_err(|e| format!("'{value}': {e}"))?;
    Ok((name.to_string(), value))
}
