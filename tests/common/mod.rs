//! The verification harness shared by the integration tests and `make demo`: every model in
//! `models/` run through ONNX Runtime with librectify.so, and compared bit for bit with its
//! built-in twin in tract and in ONNX Runtime, and with a float64 reference. Tensors,
//! sessions, tract and comparisons come from the CLI's library (`rectify_cli`); what is here
//! is the manifest, the seeded inputs and what each reference must show.
#![allow(dead_code)] // each test binary uses a different part

pub mod data;
pub mod reference;
pub mod runtimes;

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use data::{Fill, make_input};
use rectify::ops::{AttributeSource, OpKind};
use rectify_cli::array::{self, Array, ElemType};
use runtimes::{Result, ort_run, ort_session, ort_time, repo_root, tract_run};

/// One entry of `models/manifest.json` (written by `models/generate.py`).
#[derive(Clone, Debug, Deserialize)]
pub struct Entry {
    pub name: String,
    pub model: String,
    pub twin: Option<String>,
    pub op: String,
    pub dtype: String,
    pub attributes: serde_json::Map<String, serde_json::Value>,
    pub inputs: Vec<(String, Vec<usize>)>,
    /// The node's outputs as the model writes them ("" = omitted by an empty name).
    pub outputs: Vec<String>,
    pub input_kind: Option<String>,
    /// For an RRelu training model without `Slope`: the model of the same node with it,
    /// whose first run's slopes this one's Y must follow.
    pub slope_from: Option<String>,
}

impl Entry {
    pub fn dt(&self) -> ElemType {
        ElemType::parse(&self.dtype).unwrap_or_else(|| panic!("unknown dtype {}", self.dtype))
    }

    pub fn model_path(&self) -> PathBuf {
        models_dir().join(&self.model)
    }

    pub fn twin_path(&self) -> Option<PathBuf> {
        self.twin.as_ref().map(|t| models_dir().join(t))
    }

    pub fn float_attr(&self, name: &str) -> Option<f32> {
        self.attributes.get(name).and_then(|v| v.as_f64()).map(|v| v as f32)
    }

    pub fn int_attr(&self, name: &str) -> Option<i64> {
        self.attributes.get(name).and_then(|v| v.as_i64())
    }

    pub fn training(&self) -> bool {
        self.int_attr("training") == Some(1)
    }

    /// Whether the node has RRelu's `Slope` output.
    pub fn has_slope(&self) -> bool {
        self.outputs.get(1).is_some_and(|o| !o.is_empty())
    }

    /// Seeded inputs for this model.
    pub fn inputs(&self) -> Vec<(String, Array)> {
        self.inputs
            .iter()
            .map(|(name, shape)| {
                let fill = match (self.input_kind.as_deref(), name.as_str()) {
                    (Some("dyadic"), _) => Fill::Dyadic,
                    (Some("all_bits"), _) => Fill::AllBits,
                    (_, "slope") => Fill::Slope,
                    _ => Fill::Data,
                };
                (name.clone(), make_input(self.dt(), shape, fill, &format!("{}/{name}", self.name)))
            })
            .collect()
    }

    /// The float64 reference of output Y, where the op has a closed form: the op's own
    /// reference slopes, rounded as its built-in twin rounds.
    pub fn reference(&self, inputs: &[(String, Array)]) -> Option<Array> {
        let kind = OpKind::from_name(&self.op)?;
        let params =
            kind.configure(&ManifestAttributes(&self.attributes)).expect("the manifest's attributes are valid");
        let others: Vec<(Vec<usize>, Vec<f64>)> =
            inputs[1..].iter().map(|(_, a)| (a.shape.clone(), (0..a.len()).map(|i| a.value(i)).collect())).collect();
        let others: Vec<(&[usize], &[f64])> = others.iter().map(|(s, v)| (&s[..], &v[..])).collect();
        let x = &inputs[0].1;
        let slopes = params.reference_slopes(&x.shape, &others)?;
        Some(reference::built_in_rule(kind.spec().builtin, x, &slopes))
    }
}

/// A manifest entry's attributes as an attribute source (absent = the registry default).
struct ManifestAttributes<'a>(&'a serde_json::Map<String, serde_json::Value>);

impl AttributeSource for ManifestAttributes<'_> {
    fn float(&self, _: &'static str, name: &str) -> rectify::Result<Option<f32>> {
        Ok(self.0.get(name).and_then(|v| v.as_f64()).map(|v| v as f32))
    }

    fn int(&self, _: &'static str, name: &str) -> rectify::Result<Option<i64>> {
        Ok(self.0.get(name).and_then(|v| v.as_i64()))
    }
}

pub fn models_dir() -> PathBuf {
    repo_root().join("models")
}

pub fn manifest() -> Vec<Entry> {
    let path = models_dir().join("manifest.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// How two tensors differ (bits, values and ULPs: [`array::compare`]).
pub fn compare(a: &Array, b: &Array) -> array::Diff {
    array::compare(a, b, None).expect("same type and shape")
}

/// The outcome against one reference.
#[derive(Clone, Debug)]
pub enum Outcome {
    Compared(array::Diff),
    /// The reference cannot run this model; the reason.
    Unavailable(String),
}

/// What a reference must show for a model, and why when it is not bit-exactness.
#[derive(Clone, Debug, PartialEq)]
pub enum Expect {
    BitExact,
    /// Equal values; only the sign of zero may differ.
    ZeroSign(&'static str),
    /// At most this many ULP apart.
    Ulps(u64, &'static str),
    /// The reference cannot run this model.
    Unavailable(&'static str),
}

/// Why tract is not a reference for the face-embedding network: its convolutions sum in
/// another order, so a deep network with random weights differs in the last bits.
const FACENET_TRACT: &str = "convolutions round differently in a deep network (not compared)";

/// The expectations for [tract, ORT built-in, float64 reference].
///
/// Where a reference cannot serve, the reason says so:
/// - bfloat16: neither ONNX Runtime's CPU provider (no bfloat16 Less/Where kernels for the
///   built-in's function body) nor tract (no bfloat16 type) runs the twin.
/// - tract has no f64 LeakyRelu (a run-time error) and rounds alpha to f16 before a
///   float16 LeakyRelu (1 ULP off where the product rounds differently).
/// - For double and float16 PRelu, ONNX Runtime's built-in (its function body's `Where`)
///   returns +0 where the product is -0; tract returns the IEEE -0. rectify follows ONNX
///   Runtime, so tract agrees in value but not in the sign of those zeros.
pub fn expectations(entry: &Entry) -> [Expect; 3] {
    let leaky_like = entry.op == "LeakyRelu" || entry.op == "RRelu";
    let tract = match entry.dtype.as_str() {
        _ if entry.training() => Expect::Unavailable("no built-in RRelu training op"),
        _ if entry.op == "FaceNet" => Expect::Unavailable(FACENET_TRACT),
        "bfloat16" => Expect::Unavailable("tract has no bfloat16"),
        "double" if leaky_like => Expect::Unavailable("tract has no f64 LeakyRelu"),
        "float16" if leaky_like => Expect::Ulps(1, "tract rounds alpha to f16 first"),
        "double" | "float16" if entry.op == "PRelu" => Expect::ZeroSign("tract keeps -0 products; ORT gives +0"),
        _ => Expect::BitExact,
    };
    let builtin = match entry.dtype.as_str() {
        _ if entry.training() => Expect::Unavailable("no built-in RRelu training op"),
        "bfloat16" => Expect::Unavailable("ORT's CPU provider has no bfloat16 kernels for it"),
        _ => Expect::BitExact,
    };
    let whole_network = entry.op == "CNN" || entry.op == "FaceNet";
    let reference = if whole_network { Expect::Unavailable("no closed form") } else { Expect::BitExact };
    [tract, builtin, reference]
}

impl Outcome {
    /// `None` if the outcome meets the expectation, else what is wrong.
    pub fn check(&self, expect: &Expect) -> Option<String> {
        match (self, expect) {
            (Outcome::Compared(d), Expect::BitExact) if !d.bit_exact => Some(format!("not bit-exact: {d:?}")),
            (Outcome::Compared(d), Expect::ZeroSign(_)) if d.max_abs > 0.0 => Some(format!("values differ: {d:?}")),
            (Outcome::Compared(d), Expect::Ulps(n, _)) if d.max_ulp > *n => Some(format!("{} ULP > {n}", d.max_ulp)),
            (Outcome::Compared(_), Expect::Unavailable(_)) => Some("ran where it was expected not to".to_string()),
            (Outcome::Unavailable(why), e) if !matches!(e, Expect::Unavailable(_)) => {
                Some(format!("did not run: {why}"))
            }
            _ => None,
        }
    }
}

/// Everything the harness learns about one model.
pub struct Report {
    pub entry: Entry,
    pub expect: [Expect; 3],
    pub vs_tract: Outcome,
    pub vs_builtin: Outcome,
    pub vs_f64: Outcome,
    pub time_rectify: Option<Duration>,
    pub time_builtin: Option<Duration>,
}

fn outcome(y: &Array, reference: Result<Vec<Array>>) -> Outcome {
    match reference {
        Ok(outputs) => Outcome::Compared(compare(y, &outputs[0])),
        Err(e) => Outcome::Unavailable(e.lines().next().unwrap_or_default().to_string()),
    }
}

/// Runs one model through every runtime and reference. `timing` adds time per run.
pub fn evaluate(entry: &Entry, timing: bool) -> Result<Report> {
    let inputs = entry.inputs();
    let mut session = ort_session(&entry.model_path(), true, 1)?;
    let outputs = ort_run(&mut session, &inputs)?;
    let y = &outputs[0];
    let (vs_tract, vs_builtin, mut time_builtin) = match entry.twin_path() {
        Some(twin) => {
            let builtin = ort_session(&twin, false, 1);
            let vs_builtin = outcome(y, builtin.and_then(|mut s| ort_run(&mut s, &inputs)));
            let time = match (&vs_builtin, timing) {
                (Outcome::Compared(_), true) => Some(ort_time(&mut ort_session(&twin, false, 1)?, &inputs)?),
                _ => None,
            };
            let vs_tract = if entry.op == "FaceNet" {
                Outcome::Unavailable(FACENET_TRACT.to_string())
            } else {
                outcome(y, tract_run(&twin, &inputs))
            };
            (vs_tract, vs_builtin, time)
        }
        None => {
            let why = "no built-in op (RRelu training)".to_string();
            (Outcome::Unavailable(why.clone()), Outcome::Unavailable(why), None)
        }
    };
    let vs_f64 = match entry.reference(&inputs) {
        Some(r) => Outcome::Compared(compare(y, &r)),
        None if entry.training() => {
            let slope = match &entry.slope_from {
                None => outputs[1].clone(),
                Some(name) => {
                    let sibling = manifest().into_iter().find(|e| &e.name == name).expect("slope_from names a model");
                    ort_run(&mut ort_session(&sibling.model_path(), true, 1)?, &inputs)?.remove(1)
                }
            };
            let slopes: Vec<f64> = (0..slope.len()).map(|i| slope.value(i)).collect();
            Outcome::Compared(compare(y, &reference::built_in_rule("LeakyRelu", &inputs[0].1, &slopes)))
        }
        None => Outcome::Unavailable("no closed form (whole network)".to_string()),
    };
    let time_rectify = if timing { Some(ort_time(&mut session, &inputs)?) } else { None };
    if !timing {
        time_builtin = None;
    }
    Ok(Report {
        entry: entry.clone(),
        expect: expectations(entry),
        vs_tract,
        vs_builtin,
        vs_f64,
        time_rectify,
        time_builtin,
    })
}

impl Report {
    fn outcomes(&self) -> [(&'static str, &Outcome); 3] {
        [("tract", &self.vs_tract), ("ORT built-in", &self.vs_builtin), ("float64 ref", &self.vs_f64)]
    }

    /// Every way this report misses its expectations.
    pub fn failures(&self) -> Vec<String> {
        self.outcomes()
            .iter()
            .zip(&self.expect)
            .filter_map(|((who, o), e)| o.check(e).map(|m| format!("{} vs {who}: {m}", self.entry.name)))
            .collect()
    }
}

fn cell(o: &Outcome) -> String {
    match o {
        Outcome::Compared(d) if d.bit_exact => "0 / 0".to_string(),
        Outcome::Compared(d) if d.nan_payloads_only => "0 / 0 (NaN payloads)".to_string(),
        Outcome::Compared(d) if d.max_abs == 0.0 => "0 / 0 (±0)".to_string(),
        Outcome::Compared(d) if d.max_abs.is_infinite() => format!("{:.1e} / NaN or inf", d.max_abs),
        Outcome::Compared(d) => format!("{:.1e} / {}", d.max_abs, d.max_ulp),
        Outcome::Unavailable(_) => "n/a".to_string(),
    }
}

/// The demo table: one row per model, then the reasons for every n/a.
pub fn table(reports: &[Report]) -> String {
    let mut out = format!(
        "{:<28} {:<9} {:<8} {:<16} {:>18} {:>18} {:>18} {:>9} {:>10} {:>10} {:>6}\n",
        "model",
        "op",
        "dtype",
        "shape",
        "tract |d| / ULP",
        "ORT built-in",
        "float64 ref",
        "bit-exact",
        "rectify",
        "built-in",
        "ratio"
    );
    let mut notes = Vec::new();
    for r in reports {
        let e = &r.entry;
        // Bit-exact against every reference that runs the model and is exact for it.
        let exact = r.outcomes().iter().zip(&r.expect).all(|((_, o), e)| match (o, e) {
            (Outcome::Compared(d), Expect::BitExact) => d.bit_exact,
            (_, e) => !matches!(e, Expect::BitExact),
        }) && r.failures().is_empty();
        let exact = if exact { "yes" } else { "NO" };
        let us = |t: Option<Duration>| t.map_or("-".to_string(), |t| format!("{:.1} µs", t.as_secs_f64() * 1e6));
        let ratio = match (r.time_rectify, r.time_builtin) {
            (Some(a), Some(b)) => format!("{:.2}x", b.as_secs_f64() / a.as_secs_f64()),
            _ => "-".to_string(),
        };
        let shape = format!("{:?}", e.inputs[0].1).replace(' ', "");
        out += &format!(
            "{:<28} {:<9} {:<8} {:<16} {:>18} {:>18} {:>18} {:>9} {:>10} {:>10} {:>6}\n",
            e.name,
            e.op,
            e.dtype,
            shape,
            cell(&r.vs_tract),
            cell(&r.vs_builtin),
            cell(&r.vs_f64),
            exact,
            us(r.time_rectify),
            us(r.time_builtin),
            ratio
        );
        for ((who, _), expect) in r.outcomes().iter().zip(&r.expect) {
            match expect {
                Expect::BitExact => {}
                Expect::ZeroSign(why) | Expect::Ulps(_, why) | Expect::Unavailable(why) => {
                    notes.push(format!("{} {} vs {who}: {why}", e.dtype, e.op))
                }
            }
        }
    }
    out += "\nColumns: max |diff| / max ULP. bit-exact: identical bits against every reference that can serve.\n";
    out += "ratio = built-in time / rectify time (> 1: rectify faster). The float64 reference of RRelu training\n";
    out += "is LeakyRelu with the sampled Slope. Where a reference is not bit-exact or cannot run:\n";
    notes.sort();
    notes.dedup();
    for n in notes {
        out += &format!("  {n}\n");
    }
    out
}
