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
use onnx_protobuf::ModelProto;

use crate::array::{self, Array, Diff, Rng};
use crate::convert::{self, Target};
use crate::model::{self, Dim};
use crate::{runtime, tensor_file};

/// Prints unless `brief` (one line per model).
macro_rules! say {
    ($brief:expr, $($arg:tt)*) => {
        if !$brief {
            println!($($arg)*);
        }
    };
}

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
}

/// One reference's outcome.
enum Outcome {
    Ran(Vec<(String, Array)>),
    Unavailable(String),
}

struct Reference {
    name: &'static str,
    outcome: Outcome,
}

/// Returns whether every decisive comparison matched.
pub fn verify(opts: &Options) -> Result<bool> {
    let brief = opts.brief;
    let library = runtime::find_library(opts.library.as_deref())?;
    let ort = runtime::find_onnxruntime()?;
    let original = model::load(&opts.model)?;
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

    let env = runtime::ort_environment(&ort.path)?;
    let subject_bytes = model::to_bytes(&subject)?;
    let mut session = runtime::ort_session(env, &subject_bytes, Some(&library.path))
        .with_context(|| "ONNX Runtime with librectify.so could not load the model")?;
    let outputs = runtime::ort_run(&mut session, &inputs).context("ONNX Runtime with librectify.so failed")?;
    if let Some(dir) = &opts.save_outputs {
        save(dir, &outputs)?;
    }

    let twin_bytes = match &twin {
        Ok(t) => Ok(model::to_bytes(t)?),
        Err(reason) => Err(reason.clone()),
    };
    let mut references = Vec::new();
    if !opts.expected.is_empty() {
        let outcome = expected_outputs(&outputs, &opts.expected)?;
        references.push(Reference { name: "expected (files)", outcome });
    }
    references.push(Reference {
        name: "ONNX Runtime, built-in twin",
        outcome: match &twin_bytes {
            Ok(bytes) => run(|| {
                let mut s = runtime::ort_session(env, bytes, None)?;
                runtime::ort_run(&mut s, &inputs)
            }),
            Err(reason) => Outcome::Unavailable(reason.clone()),
        },
    });
    references.push(Reference {
        name: "tract, built-in twin",
        outcome: match &twin_bytes {
            Ok(bytes) => run(|| runtime::tract_run(bytes, &inputs, false)),
            Err(reason) => Outcome::Unavailable(reason.clone()),
        },
    });
    references.push(Reference {
        name: "tract + rectify",
        outcome: run(|| runtime::tract_run(&subject_bytes, &inputs, true)),
    });
    // Expected outputs decide when given, else ONNX Runtime's twin. tract's own kernels
    // (convolutions, float16 LeakyRelu) round differently from ONNX Runtime's, so the tract
    // host decides only for a graph of nothing but activations.
    let only_activations = counts.values().sum::<usize>() == model::graph(&original).node.len();
    let ran = |name: &str| references.iter().position(|r| r.name == name && matches!(r.outcome, Outcome::Ran(_)));
    let decisive = ran("expected (files)")
        .or_else(|| ran("ONNX Runtime, built-in twin"))
        .or_else(|| ran("tract + rectify").filter(|_| only_activations));
    report(&opts.model.display().to_string(), &outputs, &references, decisive, brief)
}

/// The model ONNX Runtime runs with librectify.so, and its built-in twin (or why none).
fn forms(original: &ModelProto) -> Result<(ModelProto, Result<ModelProto, String>)> {
    let counts = model::activation_counts(original);
    if model::rectify_node_count(original) > 0 {
        let mut twin = original.clone();
        let twin = convert::convert(&mut twin, Target::Builtin, &mut runtime::lazy_ranks(original))
            .map(|_| twin)
            .map_err(|e| format!("no built-in twin: {e}"));
        return Ok((original.clone(), twin));
    }
    if counts.is_empty() {
        bail!("the model has no rectify node and no LeakyRelu / PRelu: nothing to verify");
    }
    let mut subject = original.clone();
    convert::convert(&mut subject, Target::Rectify { all: true }, &mut |_| None)?;
    Ok((subject, Ok(original.clone())))
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

fn first_line(message: &str) -> String {
    let line = message.lines().next().unwrap_or("").trim();
    if line.len() > 160 { format!("{}...", &line[..line.floor_char_boundary(157)]) } else { line.to_string() }
}

/// Inputs from files where given, random otherwise (sized by the declared shape and `--dim`).
fn make_inputs(model: &ModelProto, opts: &Options) -> Result<Vec<(String, Array)>> {
    let specs = model::inputs(model);
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
            Ok((spec.name.clone(), Array::random(ty, shape, &mut rng)))
        })
        .collect()
}

fn report(
    model: &str,
    outputs: &[(String, Array)],
    references: &[Reference],
    decisive: Option<usize>,
    brief: bool,
) -> Result<bool> {
    let (mut ok, mut worst_ulp) = (true, 0);
    for reference in references {
        if let Outcome::Unavailable(reason) = &reference.outcome {
            say!(brief, "{:<28} unavailable: {reason}", reference.name);
        }
    }
    for (k, (name, out)) in outputs.iter().enumerate() {
        say!(brief, "\noutput {name}: {} {:?}", out.ty.name(), out.shape);
        say!(brief, "  {:<28} {:>12} {:>9}  bit-exact", "reference", "max |diff|", "max ULP");
        for (r, reference) in references.iter().enumerate() {
            let Outcome::Ran(theirs) = &reference.outcome else { continue };
            let role = if Some(r) == decisive { "  (decisive)" } else { "" };
            let Some((_, theirs)) = theirs.get(k) else {
                say!(brief, "  {:<28} missing output{role}", reference.name);
                ok &= Some(r) != decisive;
                continue;
            };
            let diff =
                array::compare(out, theirs).with_context(|| format!("output {name} against {}", reference.name))?;
            say!(
                brief,
                "  {:<28} {:>12} {:>9}  {}{role}",
                reference.name,
                format!("{:.3e}", diff.max_abs),
                diff.max_ulp,
                verdict(&diff)
            );
            if Some(r) == decisive {
                ok &= diff.matches();
                worst_ulp = worst_ulp.max(diff.max_ulp);
            }
        }
    }
    say!(brief, "\n(tract rows other than the decisive one are for information: tract's own kernels, such as");
    say!(brief, "convolutions and float16 LeakyRelu, may round differently from ONNX Runtime's)");
    if brief {
        let verdict = match decisive {
            Some(r) if ok => format!("PASS        {model}  (bit-exact against {})", references[r].name),
            Some(r) => format!("FAIL        {model}  ({worst_ulp} ULP from {})", references[r].name),
            None => format!("UNVERIFIED  {model}  (no reference can run it)"),
        };
        println!("{verdict}");
        return Ok(ok);
    }
    match decisive {
        Some(r) if ok => println!("PASS: every output matches {}", references[r].name),
        Some(r) => println!("FAIL: outputs differ from {}", references[r].name),
        None => println!("UNVERIFIED: no reference could decide for this model (see above)"),
    }
    Ok(ok)
}

fn verdict(d: &Diff) -> &'static str {
    match (d.bit_exact, d.nan_payloads_only) {
        (true, _) => "yes",
        (false, true) => "yes (NaN payloads differ)",
        (false, false) => "no",
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
