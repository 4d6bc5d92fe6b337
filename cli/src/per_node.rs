//! Each rectify node against the built-in op on the very inputs it received.
//!
//! A whole-model twin is not a valid reference for float16 and bfloat16 networks: ONNX
//! Runtime has no float16 CPU PRelu, so it runs the twin's PRelu (and the Conv before it)
//! in float32 behind inserted Casts, rounding once where the rectify model rounds twice, and
//! the networks amplify the difference. Checked node by node, the inputs are the same bits
//! and only the activation differs: the built-in op then runs as ONNX Runtime runs it alone
//! (behind its own Casts where it has no kernel of that type).

use std::path::Path;

use anyhow::{Context, Result, bail};
use onnx_protobuf::{GraphProto, ModelProto, NodeProto};
use ort::environment::Environment;

use crate::array::{self, Array, Diff, ElemType};
use crate::convert::{self, Target};
use crate::edit;
use crate::model::{self, Dim, Layout, RECTIFY, ValueType, value_type};
use crate::runtime;

/// One rectify node's check.
pub struct NodeCheck {
    pub node: String,
    /// The comparison per output, or why the built-in op could not run.
    pub outcome: Result<Vec<(String, Diff)>, String>,
}

impl NodeCheck {
    pub fn matches(&self) -> bool {
        self.outcome.as_ref().is_ok_and(|diffs| diffs.iter().all(|(_, d)| d.matches()))
    }
}

/// Runs `subject` once with every rectify node's inputs and outputs as extra graph outputs,
/// then each node's built-in form on those inputs. `dir` holds the models written.
pub fn check(
    env: &'static Environment,
    subject: &ModelProto,
    library: &Path,
    inputs: &[(String, Array)],
    dir: &Path,
    shapes: &mut dyn FnMut(&str) -> Option<ValueType>,
) -> Result<Vec<NodeCheck>> {
    let graph = model::graph(subject);
    let nodes: Vec<NodeProto> = graph.node.iter().filter(|n| n.domain == RECTIFY).cloned().collect();
    let mut probe = subject.clone();
    let mut watched: Vec<(String, String)> = Vec::new();
    for node in &nodes {
        let elem_type = node
            .input
            .first()
            .and_then(|x| value_type(graph, x).or_else(|| shapes(x)))
            .map(|t| t.elem_type)
            .with_context(|| format!("node {}: the element type of its input is unknown", model::node_label(node)))?;
        // Each value is tapped through an Identity: made a graph output itself, a Conv's
        // output changes how ONNX Runtime places its float16 Casts (and then the rectify node
        // would be typed float).
        for value in node.input.iter().chain(&node.output).filter(|v| !v.is_empty()) {
            if !watched.iter().any(|(_, v)| v == value) && !graph.output.iter().any(|o| &o.name == value) {
                let tap = edit::unique_name(model::graph(&probe), &format!("{value}__rectify_probe"));
                let mut identity = NodeProto::new();
                identity.op_type = "Identity".into();
                identity.name = tap.clone();
                identity.input = vec![value.clone()];
                identity.output = vec![tap.clone()];
                let probe_graph = model::graph_mut(&mut probe);
                probe_graph.node.push(identity);
                probe_graph.output.push(model::value_info(&tap, &ValueType { elem_type, dims: None }));
                watched.push((tap, value.clone()));
            }
        }
    }
    let path = dir.join("probe.onnx");
    model::save(&probe, &path, Layout::External)?;
    let mut session = runtime::ort_session_file(env, &path, Some(library))?;
    let mut values = runtime::ort_run(&mut session, inputs).context("ONNX Runtime with librectify.so failed")?;
    for (name, _) in &mut values {
        if let Some((_, value)) = watched.iter().find(|(tap, _)| tap == name) {
            name.clone_from(value);
        }
    }
    let mut checks = Vec::new();
    for (k, node) in nodes.iter().enumerate() {
        let outcome = check_node(env, subject, node, &values, &dir.join(format!("node{k}.onnx")));
        checks.push(NodeCheck { node: model::node_label(node), outcome: outcome.map_err(|e| format!("{e:#}")) });
    }
    Ok(checks)
}

fn check_node(
    env: &'static Environment,
    subject: &ModelProto,
    node: &NodeProto,
    values: &[(String, Array)],
    path: &Path,
) -> Result<Vec<(String, Diff)>> {
    let value = |name: &str| values.iter().find(|(n, _)| n == name).map(|(_, a)| a);
    let feeds: Vec<(String, Array)> = node
        .input
        .iter()
        .filter(|i| !i.is_empty())
        .map(|i| Ok((i.clone(), value(i).with_context(|| format!("no value for '{i}'"))?.clone())))
        .collect::<Result<_>>()?;
    let mut single = single_node(subject, node, &feeds)?;
    convert::convert(&mut single, Target::Builtin, &mut |_| None)?;
    model::save(&single, path, Layout::External)?;
    let mut session = runtime::ort_session_file(env, path, None).context("the built-in op")?;
    let theirs = runtime::ort_run(&mut session, &feeds).context("the built-in op")?;
    theirs
        .into_iter()
        .map(|(name, want)| {
            let got = value(&name).with_context(|| format!("no value for '{name}'"))?;
            Ok((name.clone(), array::compare(got, &want, None)?))
        })
        .collect()
}

/// A model of `node` alone, its inputs as graph inputs of their actual types and shapes.
fn single_node(subject: &ModelProto, node: &NodeProto, feeds: &[(String, Array)]) -> Result<ModelProto> {
    let mut m = ModelProto::new();
    m.ir_version = subject.ir_version;
    m.opset_import = subject.opset_import.clone();
    let mut graph = GraphProto::new();
    graph.name = "node".into();
    graph.node = vec![node.clone()];
    for (name, a) in feeds {
        let ty = ValueType { elem_type: a.ty.onnx_id(), dims: Some(a.shape.iter().map(|&d| Dim::Fixed(d)).collect()) };
        graph.input.push(model::value_info(name, &ty));
    }
    let x = &feeds.first().context("a rectify node has an input")?.1;
    if !matches!(x.ty, ElemType::F32 | ElemType::F64 | ElemType::F16 | ElemType::BF16) {
        bail!("input of type {}", x.ty.name());
    }
    // Only the first output: the built-in twins have one (RRelu's Slope has no twin).
    let y = node.output.first().context("a rectify node has an output")?;
    graph.output.push(model::value_info(y, &ValueType { elem_type: x.ty.onnx_id(), dims: None }));
    graph.node[0].output.truncate(1);
    m.graph = Some(graph).into();
    Ok(m)
}
