//! ONNX files through `onnx-protobuf`'s generated types (rust-protobuf): the full ONNX
//! schema, and fields it does not know are kept, so a rewritten model loses nothing.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use onnx_protobuf::tensor_shape_proto::dimension::Value as DimValue;
use onnx_protobuf::type_proto::Value as TypeValue;
use onnx_protobuf::{GraphProto, Message, ModelProto, NodeProto, TensorProto};

use crate::array::{Array, ElemType};

pub const RECTIFY: &str = rectify::ops::DOMAIN;

pub fn load(path: &Path) -> Result<ModelProto> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let model =
        ModelProto::parse_from_bytes(&bytes).with_context(|| format!("{} is not an ONNX model", path.display()))?;
    if model.graph.is_none() {
        bail!("{} has no graph", path.display());
    }
    Ok(model)
}

pub fn to_bytes(model: &ModelProto) -> Result<Vec<u8>> {
    model.write_to_bytes().context("serialising the model")
}

pub fn save(model: &ModelProto, path: &Path) -> Result<()> {
    std::fs::write(path, to_bytes(model)?).with_context(|| format!("writing {}", path.display()))
}

pub fn graph(model: &ModelProto) -> &GraphProto {
    model.graph.as_ref().expect("load() checked the graph")
}

pub fn graph_mut(model: &mut ModelProto) -> &mut GraphProto {
    model.graph.as_mut().expect("load() checked the graph")
}

/// True for the standard ONNX domain.
pub fn is_standard(domain: &str) -> bool {
    domain.is_empty() || domain == "ai.onnx"
}

/// The ops a model's top-level graph holds that matter here: rectify's, and the standard
/// LeakyRelu / PRelu, counted by "domain::op".
pub fn activation_counts(model: &ModelProto) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for node in &graph(model).node {
        let relevant = node.domain == RECTIFY
            || (is_standard(&node.domain) && (node.op_type == "LeakyRelu" || node.op_type == "PRelu"));
        if relevant {
            let domain = if node.domain == RECTIFY { RECTIFY } else { "ai.onnx" };
            *counts.entry(format!("{domain}::{}", node.op_type)).or_insert(0) += 1;
        }
    }
    counts
}

pub fn rectify_node_count(model: &ModelProto) -> usize {
    graph(model).node.iter().filter(|n| n.domain == RECTIFY).count()
}

/// Nodes of rectify's domain inside subgraphs (If / Loop / Scan bodies), which the
/// converter does not rewrite.
pub fn nested_rectify_nodes(model: &ModelProto) -> Vec<String> {
    fn walk(graph: &GraphProto, found: &mut Vec<String>, nested: bool) {
        for node in &graph.node {
            if nested && node.domain == RECTIFY {
                found.push(node_label(node));
            }
            for attr in &node.attribute {
                attr.g.as_ref().into_iter().chain(&attr.graphs).for_each(|g| walk(g, found, true));
            }
        }
    }
    let mut found = Vec::new();
    walk(graph(model), &mut found, false);
    found
}

/// `'name' (Op)`, or the first output when the node has no name.
pub fn node_label(node: &NodeProto) -> String {
    let name = if node.name.is_empty() { node.output.first().map_or("?", String::as_str) } else { &node.name };
    format!("'{name}' ({})", node.op_type)
}

pub fn opset_version(model: &ModelProto, domain: &str) -> Option<i64> {
    model
        .opset_import
        .iter()
        .find(|o| o.domain == domain || (is_standard(domain) && is_standard(&o.domain)))
        .map(|o| o.version)
}

/// One dimension of a declared input shape.
#[derive(Clone, Debug, PartialEq)]
pub enum Dim {
    Fixed(usize),
    Named(String),
    Unknown,
}

/// A graph input the caller must feed (initializers excluded).
#[derive(Clone, Debug)]
pub struct InputSpec {
    pub name: String,
    pub ty: Option<ElemType>,
    /// The raw ONNX element type, for messages about unsupported ones.
    pub onnx_type: i32,
    pub dims: Option<Vec<Dim>>,
}

pub fn inputs(model: &ModelProto) -> Vec<InputSpec> {
    let graph = graph(model);
    graph
        .input
        .iter()
        .filter(|i| !graph.initializer.iter().any(|t| t.name == i.name))
        .map(|input| {
            let tensor = match input.type_.as_ref().and_then(|t| t.value.as_ref()) {
                Some(TypeValue::TensorType(t)) => Some(t),
                _ => None,
            };
            let onnx_type = tensor.map_or(0, |t| t.elem_type);
            let dims = tensor.and_then(|t| t.shape.as_ref()).map(|shape| {
                shape
                    .dim
                    .iter()
                    .map(|d| match &d.value {
                        Some(DimValue::DimValue(v)) if *v >= 0 => Dim::Fixed(*v as usize),
                        Some(DimValue::DimParam(p)) if !p.is_empty() => Dim::Named(p.clone()),
                        _ => Dim::Unknown,
                    })
                    .collect()
            });
            InputSpec { name: input.name.clone(), ty: ElemType::from_onnx(onnx_type), onnx_type, dims }
        })
        .collect()
}

/// The declared type and shape of a value (graph input, output or value_info), if any.
pub fn value_shape(graph: &GraphProto, name: &str) -> Option<(i32, Option<usize>)> {
    if let Some(init) = graph.initializer.iter().find(|t| t.name == name) {
        return Some((init.data_type, Some(init.dims.len())));
    }
    let info = graph.input.iter().chain(&graph.value_info).chain(&graph.output).find(|v| v.name == name)?;
    match info.type_.as_ref()?.value.as_ref()? {
        TypeValue::TensorType(t) => Some((t.elem_type, t.shape.as_ref().map(|s| s.dim.len()))),
        _ => None,
    }
}

/// A tensor from a serialized `TensorProto` (ONNX's test-data `.pb` files).
pub fn tensor_from_proto_bytes(bytes: &[u8]) -> Result<Array> {
    let proto = TensorProto::parse_from_bytes(bytes).context("not a serialized ONNX TensorProto")?;
    tensor_from_proto(&proto)
}

pub fn tensor_from_proto(t: &TensorProto) -> Result<Array> {
    let ty = ElemType::from_onnx(t.data_type)
        .with_context(|| format!("TensorProto '{}': unsupported element type {}", t.name, t.data_type))?;
    let shape = t
        .dims
        .iter()
        .map(|&d| usize::try_from(d).with_context(|| format!("TensorProto '{}': negative dimension {d}", t.name)))
        .collect::<Result<Vec<_>>>()?;
    if !t.raw_data.is_empty() {
        return Array::new(ty, shape, t.raw_data.clone());
    }
    let mut bytes = Vec::new();
    match ty {
        ElemType::F32 => t.float_data.iter().for_each(|v| bytes.extend_from_slice(&v.to_le_bytes())),
        ElemType::F64 => t.double_data.iter().for_each(|v| bytes.extend_from_slice(&v.to_le_bytes())),
        ElemType::I64 => t.int64_data.iter().for_each(|v| bytes.extend_from_slice(&v.to_le_bytes())),
        ElemType::I32 => t.int32_data.iter().for_each(|v| bytes.extend_from_slice(&v.to_le_bytes())),
        // float16 / bfloat16 bits and 8-bit values travel in int32_data.
        ElemType::F16 | ElemType::BF16 => {
            t.int32_data.iter().for_each(|&v| bytes.extend_from_slice(&(v as u16).to_le_bytes()))
        }
        ElemType::I8 | ElemType::U8 | ElemType::Bool => t.int32_data.iter().for_each(|&v| bytes.push(v as u8)),
    }
    Array::new(ty, shape, bytes).with_context(|| format!("TensorProto '{}'", t.name))
}
