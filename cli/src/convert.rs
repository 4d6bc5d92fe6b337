//! `rectify convert`: rewrites activation nodes between rectify's domain and the standard
//! ONNX ops, and fixes the opset imports. Every change (and every node left alone on
//! purpose) is reported.

use anyhow::{Result, anyhow, bail};
use onnx_protobuf::attribute_proto::AttributeType;
use onnx_protobuf::{AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto};
use rectify::ops::{AttributeSource, DType, OpKind, Twin, wrong_attribute_type};

use crate::edit::{Change, Shapes, attr, float_attr, is_rectify_type, reads, unique_name};
use crate::fuse;
use crate::model::{self, RECTIFY, is_standard, node_label, value_shape, value_type};

/// The default-domain opset added when a model had none (LeakyRelu-16 / PRelu-16).
const STANDARD_OPSET: i64 = 17;
const FLOAT: i32 = DType::Float.onnx_id();
const BFLOAT16: i32 = DType::BFloat16.onnx_id();

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// Standard LeakyRelu / PRelu only.
    Builtin,
    /// rectify's ops, decomposed activations fused; `all` also rewrites LeakyRelu that ONNX
    /// Runtime fuses into a Conv, `fuse_inexact` also the branch-free LeakyRelu formula.
    Rectify { all: bool, fuse_inexact: bool },
}

/// Rewrites `model` in place; fails (naming the node) when a node cannot be expressed.
/// `shapes` is asked for the type of a value the model does not declare.
pub fn convert(model: &mut ModelProto, target: Target, shapes: Shapes<'_>) -> Result<Vec<Change>> {
    let nested = model::nested_rectify_nodes(model);
    if !nested.is_empty() {
        bail!("rectify nodes inside subgraphs are not converted: {}", nested.join(", "));
    }
    let changes = match target {
        Target::Builtin => to_builtin(model::graph_mut(model), shapes)?,
        Target::Rectify { all, fuse_inexact } => {
            // Before opset 7 a PRelu's 1-D slope ran along the channel axis (1), not the last.
            let channel_slopes = model::opset_version(model, "").is_some_and(|v| v < 7);
            let graph = model::graph_mut(model);
            let mut changes = fuse::fuse(graph, fuse_inexact, shapes);
            changes.extend(to_rectify(graph, all, channel_slopes, shapes));
            declare_outputs(graph, shapes);
            changes
        }
    };
    fix_opsets(model, &changes);
    Ok(changes)
}

/// `convert` on a serialized model, without shape inference: parse, convert, serialize and
/// parse back (what the fuzz targets drive).
pub fn convert_bytes(bytes: &[u8], target: Target) -> Result<Vec<u8>> {
    let mut model = model::parse(bytes, "the input")?;
    convert(&mut model, target, &mut |_| None)?;
    let out = model::to_bytes(&model)?;
    model::parse(&out, "the converted model")?;
    Ok(out)
}

fn to_builtin(graph: &mut GraphProto, shapes: Shapes<'_>) -> Result<Vec<Change>> {
    let mut changes = Vec::new();
    let mut i = 0;
    while i < graph.node.len() {
        if graph.node[i].domain != RECTIFY {
            i += 1;
            continue;
        }
        let node = &graph.node[i];
        let label = node_label(node);
        let Some(kind) = OpKind::from_name(&node.op_type) else {
            bail!("node {label}: rectify has no op '{}'", node.op_type)
        };
        let twin = kind
            .configure(&NodeAttributes(node))
            .and_then(|params| params.twin())
            .map_err(|e| anyhow!("node {label}: {}", e.message()))?;
        let (detail, inserted) = lower(graph, i, &label, kind, &twin, shapes)?;
        changes.push(Change { node: label, rewritten: true, detail });
        i += inserted + 1;
    }
    Ok(changes)
}

/// A node's attributes, read as the ONNX Runtime host reads them.
struct NodeAttributes<'a>(&'a NodeProto);

impl NodeAttributes<'_> {
    fn find(&self, op: &'static str, name: &str, want: AttributeType) -> rectify::Result<Option<&AttributeProto>> {
        let Some(a) = attr(self.0, name) else { return Ok(None) };
        if a.type_.enum_value() != Ok(want) {
            let found = format!("{:?}", a.type_);
            return Err(wrong_attribute_type(op, name, &format!("{want:?}"), &found));
        }
        Ok(Some(a))
    }
}

impl AttributeSource for NodeAttributes<'_> {
    fn float(&self, op: &'static str, name: &str) -> rectify::Result<Option<f32>> {
        Ok(self.find(op, name, AttributeType::FLOAT)?.map(|a| a.f))
    }

    fn int(&self, op: &'static str, name: &str) -> rectify::Result<Option<i64>> {
        Ok(self.find(op, name, AttributeType::INT)?.map(|a| a.i))
    }
}

/// Rewrites node `index` into its twin. Outputs the twin lacks (RRelu's `Slope`; exporters
/// write one, the schema declares it) are dropped when nothing reads them. Returns what
/// changed and how many nodes were inserted before `index`.
fn lower(
    graph: &mut GraphProto,
    index: usize,
    label: &str,
    kind: OpKind,
    twin: &Twin,
    shapes: Shapes<'_>,
) -> Result<(String, usize)> {
    let spec = kind.spec();
    let extra: Vec<(usize, String)> = graph.node[index]
        .output
        .iter()
        .cloned()
        .enumerate()
        .skip(twin.outputs)
        .filter(|(_, o)| !o.is_empty())
        .collect();
    for (i, output) in &extra {
        if reads(graph, output) > 0 || graph.output.iter().any(|o| &o.name == output) {
            bail!(
                "node {label}: {}'s '{}' output has no built-in equivalent ({} has {} output)",
                spec.name,
                spec.outputs[*i].0,
                twin.op,
                twin.outputs
            );
        }
    }
    let node = &mut graph.node[index];
    node.op_type = twin.op.into();
    node.domain.clear();
    node.output.truncate(twin.outputs);
    node.attribute = twin.float_attributes.iter().map(|&(name, value)| float_attr(name, value)).collect();
    let written: Vec<String> = twin.float_attributes.iter().map(|(name, value)| format!("{name}={value}")).collect();
    let mut detail = format!("rectify::{} -> {}", spec.name, twin.op);
    if !written.is_empty() {
        detail += &format!("({})", written.join(", "));
    }
    if !extra.is_empty() {
        let names: Vec<&str> = extra.iter().map(|&(i, _)| spec.outputs[i].0).collect();
        detail += &format!(" (its unread {} output dropped)", names.join(", "));
    }
    match twin.slope_axis {
        Some(axis) => reshape_slope(graph, index, label, axis, shapes).map(|(how, inserted)| (detail + &how, inserted)),
        None => Ok((detail, 0)),
    }
}

/// PRelu's `axis`: the 1-D slope reshaped so it broadcasts the same under numpy's rule.
/// Returns how (appended to the change) and how many nodes were inserted before `index`.
fn reshape_slope(
    graph: &mut GraphProto,
    index: usize,
    label: &str,
    axis: i64,
    shapes: Shapes<'_>,
) -> Result<(String, usize)> {
    let node = &graph.node[index];
    let [x, slope] = [0, 1].map(|i| node.input.get(i).cloned().unwrap_or_default());
    if x.is_empty() || slope.is_empty() {
        bail!("node {label}: PRelu takes inputs X and slope, got {:?}", node.input);
    }
    let Some(rank) =
        value_shape(graph, &x).and_then(|(_, rank)| rank).or_else(|| shapes(&x).and_then(|t| t.dims).map(|d| d.len()))
    else {
        bail!(
            "node {label}: PRelu with axis needs the rank of input '{x}', which neither the model declares nor shape inference finds"
        )
    };
    let a = if axis < 0 { axis + rank as i64 } else { axis };
    if !(0..rank as i64).contains(&a) {
        bail!("node {label}: axis {axis} is out of range for input '{x}' of rank {rank}");
    }
    let trailing = rank - 1 - a as usize;
    if trailing == 0 {
        return Ok((format!(", axis {axis}: slope already aligned"), 0));
    }
    let users = graph.node.iter().filter(|n| n.input.contains(&slope)).count();
    let is_output = graph.output.iter().any(|o| o.name == slope);
    if let Some(init) = graph.initializer.iter().position(|t| t.name == slope) {
        if graph.initializer[init].dims.len() != 1 {
            bail!("node {label}: slope '{slope}' must be 1-D with axis, got dims {:?}", graph.initializer[init].dims);
        }
        let mut dims = graph.initializer[init].dims.clone();
        dims.extend(std::iter::repeat_n(1, trailing));
        if users == 1 && !is_output {
            graph.initializer[init].dims = dims.clone();
            return Ok((format!(", axis {axis}: initializer '{slope}' reshaped to {dims:?}"), 0));
        }
        let name = unique_name(graph, &format!("{slope}_axis{a}"));
        let mut copy = graph.initializer[init].clone();
        copy.name = name.clone();
        copy.dims = dims.clone();
        graph.initializer.push(copy);
        graph.node[index].input[1] = name.clone();
        return Ok((format!(", axis {axis}: slope copied to initializer '{name}' {dims:?}"), 0));
    }
    // A computed slope: insert Reshape(slope, [-1, 1, ...]) right before the node.
    let shape_name = unique_name(graph, &format!("{slope}_axis{a}_shape"));
    let reshaped = unique_name(graph, &format!("{slope}_axis{a}"));
    let mut shape = TensorProto::new();
    shape.name = shape_name.clone();
    shape.data_type = 7; // INT64
    shape.dims = vec![1 + trailing as i64];
    shape.int64_data = std::iter::once(-1).chain(std::iter::repeat_n(1, trailing)).collect();
    graph.initializer.push(shape);
    let mut reshape = NodeProto::new();
    reshape.op_type = "Reshape".into();
    reshape.name = unique_name(graph, &format!("{reshaped}_reshape"));
    reshape.input = vec![slope, shape_name];
    reshape.output = vec![reshaped.clone()];
    graph.node[index].input[1] = reshaped.clone();
    graph.node.insert(index, reshape);
    Ok((format!(", axis {axis}: Reshape inserted (slope reshaped to [-1{}])", ", 1".repeat(trailing)), 1))
}

fn to_rectify(graph: &mut GraphProto, all: bool, channel_slopes: bool, shapes: Shapes<'_>) -> Vec<Change> {
    let mut changes = Vec::new();
    for i in 0..graph.node.len() {
        let node = &graph.node[i];
        if !is_standard(&node.domain) || !(node.op_type == "LeakyRelu" || node.op_type == "PRelu") {
            continue;
        }
        let label = node_label(node);
        let Some(x) = node.input.first() else {
            changes.push(Change { node: label, rewritten: false, detail: "the node has no input".into() });
            continue;
        };
        let elem_type = value_shape(graph, x).map(|(t, _)| t).or_else(|| shapes(x).map(|t| t.elem_type));
        let skip = |detail: String| Change { node: label.clone(), rewritten: false, detail };
        if let Some(t) = elem_type.filter(|t| !is_rectify_type(*t)) {
            changes.push(skip(format!("element type {t} is not one rectify computes")));
            continue;
        }
        if node.op_type == "LeakyRelu" && !all && fused_into_conv(graph, i, elem_type) {
            changes.push(skip("ONNX Runtime fuses it into the preceding Conv (--all rewrites it)".into()));
            continue;
        }
        let op = node.op_type.clone();
        let slope_rank = node.input.get(1).and_then(|s| value_shape(graph, s)).and_then(|(_, rank)| rank);
        let mut detail = format!("{op} -> rectify::{op}");
        if op == "PRelu" && channel_slopes && slope_rank == Some(1) {
            let mut axis = AttributeProto::new();
            axis.name = "axis".into();
            axis.i = 1;
            axis.type_ = AttributeType::INT.into();
            graph.node[i].attribute.push(axis);
            detail.push_str(" with axis=1 (before opset 7 a 1-D slope runs along the channels)");
        }
        graph.node[i].domain = RECTIFY.into();
        changes.push(Change { node: label, rewritten: true, detail });
    }
    changes
}

/// Declares the type of every rectify node output the graph does not declare yet (output
/// `Y` and RRelu's `Slope` are shaped like input `X`), so ONNX's shape inference, which does
/// not know rectify's ops, keeps shapes past them.
fn declare_outputs(graph: &mut GraphProto, shapes: Shapes<'_>) {
    let mut declared = Vec::new();
    for node in graph.node.iter().filter(|n| n.domain == RECTIFY) {
        let Some(x) = node.input.first() else { continue };
        let Some(ty) = value_type(graph, x).or_else(|| shapes(x)) else { continue };
        for y in node.output.iter().filter(|y| !y.is_empty() && !model::declares(graph, y)) {
            declared.push(model::value_info(y, &ty));
        }
    }
    graph.value_info.extend(declared);
}

/// ONNX Runtime's ConvActivationFusion: a float LeakyRelu that is the only consumer of a
/// Conv's output (which is not a graph output) becomes part of a FusedConv on CPU.
fn fused_into_conv(graph: &GraphProto, index: usize, elem_type: Option<i32>) -> bool {
    let Some(x) = graph.node[index].input.first() else { return false };
    let from_conv =
        graph.node.iter().any(|n| is_standard(&n.domain) && n.op_type == "Conv" && n.output.first() == Some(x));
    let consumers: usize = graph.node.iter().map(|n| n.input.iter().filter(|i| *i == x).count()).sum();
    let is_output = graph.output.iter().any(|o| &o.name == x);
    from_conv && consumers == 1 && !is_output && elem_type.is_none_or(|t| t == FLOAT)
}

/// Adds or removes the `rectify` opset import and makes sure the standard one exists.
fn fix_opsets(model: &mut ModelProto, changes: &[Change]) {
    let uses_rectify = model::rectify_node_count(model) > 0;
    model.opset_import.retain(|o| o.domain != RECTIFY);
    if uses_rectify {
        let mut opset = OperatorSetIdProto::new();
        opset.domain = RECTIFY.into();
        opset.version = rectify::ops::OPSET;
        model.opset_import.push(opset);
    }
    if !changes.is_empty() && model::opset_version(model, "").is_none() {
        let mut opset = OperatorSetIdProto::new();
        opset.version = STANDARD_OPSET;
        model.opset_import.push(opset);
    }
}

/// A warning when a rewritten bfloat16 node needs a newer standard opset than the model's.
pub fn opset_warning(model: &ModelProto) -> Option<String> {
    let version = model::opset_version(model, "")?;
    let graph = model::graph(model);
    let bf16 = graph.node.iter().any(|n| {
        is_standard(&n.domain)
            && (n.op_type == "LeakyRelu" || n.op_type == "PRelu")
            && n.input.first().and_then(|x| value_shape(graph, x)).is_some_and(|(t, _)| t == BFLOAT16)
    });
    (bf16 && version < 16).then(|| {
        format!("warning: bfloat16 LeakyRelu/PRelu need standard opset >= 16; the model imports opset {version}")
    })
}
