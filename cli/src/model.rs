//! ONNX files through `onnx-protobuf`'s generated types (rust-protobuf): the full ONNX
//! schema, and fields it does not know are kept, so a rewritten model loses nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use onnx_protobuf::tensor_shape_proto::Dimension as TensorShapeDimension;
use onnx_protobuf::tensor_shape_proto::dimension::Value as DimValue;
use onnx_protobuf::type_proto::Tensor as TypeProtoTensor;
use onnx_protobuf::type_proto::Value as TypeValue;
use onnx_protobuf::{
    GraphProto, Message, ModelProto, NodeProto, TensorProto, TensorShapeProto, TypeProto, ValueInfoProto,
};

use crate::array::{Array, ElemType};
use crate::external;

pub const RECTIFY: &str = rectify::ops::DOMAIN;

/// Protobuf's limit on one serialized message: a model file above it cannot be read.
pub const PROTOBUF_LIMIT: u64 = (2 << 30) - 1;
/// A model whose serialized size passes this is written with external data by default.
pub const INLINE_LIMIT: u64 = 1 << 30;
/// `convert` keeps initializers of at least this many bytes in the external data file.
pub const EXTERNAL_THRESHOLD: usize = 1024;

/// A model read from a file, with the external data it named pulled in.
pub struct Source {
    pub model: ModelProto,
    /// The external data files it read, resolved against the model's folder.
    pub external_files: Vec<PathBuf>,
    pub external_bytes: u64,
}

/// Reads an ONNX model, external data included (resolved against the model's own folder).
pub fn load(path: &Path) -> Result<ModelProto> {
    Ok(read(path)?.model)
}

pub fn read(path: &Path) -> Result<Source> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let mut model = parse(&bytes, &path.display().to_string())?;
    let dir = folder(path);
    let external_files = external::files(&mut model, dir)?;
    let external_bytes =
        external::internalize(&mut model, dir).with_context(|| format!("reading {}", path.display()))?;
    Ok(Source { model, external_files, external_bytes })
}

/// Walks the top-level protobuf fields and checks that each lies inside the file: a model cut
/// short fails here (rust-protobuf accepts a nested message cut at a field boundary).
fn check_top_level_fields(bytes: &[u8]) -> Result<()> {
    fn varint(bytes: &[u8], at: &mut usize) -> Result<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *bytes.get(*at).context("the file ends inside a field: it was cut short")?;
            *at += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        bail!("a malformed varint at byte {at}")
    }
    let mut at = 0;
    while at < bytes.len() {
        let tag = varint(bytes, &mut at)?;
        let skip = match tag & 7 {
            0 => varint(bytes, &mut at).map(|_| 0)?,
            1 => 8,
            2 => varint(bytes, &mut at)?,
            5 => 4,
            wire => bail!("field {} has wire type {wire}, which ONNX files do not use", tag >> 3),
        };
        let end = (at as u64).checked_add(skip).filter(|&end| end <= bytes.len() as u64).with_context(|| {
            format!("field {} claims {skip} bytes where {} remain: the file was cut short", tag >> 3, bytes.len() - at)
        })?;
        at = end as usize;
    }
    Ok(())
}

/// A serialized model (`what` names it in errors), its external data not yet read.
pub fn parse(bytes: &[u8], what: &str) -> Result<ModelProto> {
    check_top_level_fields(bytes).with_context(|| format!("{what} is not an ONNX model"))?;
    let model = ModelProto::parse_from_bytes(bytes).with_context(|| format!("{what} is not an ONNX model"))?;
    if model.graph.is_none() {
        bail!("{what} is not an ONNX model: it has no graph");
    }
    Ok(model)
}

pub fn to_bytes(model: &ModelProto) -> Result<Vec<u8>> {
    let bytes = model.write_to_bytes().context("serialising the model")?;
    if bytes.len() as u64 > PROTOBUF_LIMIT {
        bail!("the model is {} bytes, over protobuf's 2 GB limit: its tensors must go to external data", bytes.len());
    }
    Ok(bytes)
}

/// Where a model's tensors go when it is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// In the model file.
    Inline,
    /// Initializers of [`EXTERNAL_THRESHOLD`] bytes or more in `FILE.data` beside it.
    External,
}

/// What [`save`] wrote.
pub struct Written {
    pub data_file: Option<PathBuf>,
}

/// Writes `model` to `path` (and its external data to `path` + `.data`), each through a
/// temporary file renamed into place, after reading the written model back and finding it
/// equal to `model`: a model that cannot load is never left at `path`.
pub fn save(model: &ModelProto, path: &Path, layout: Layout) -> Result<Written> {
    let dir = folder(path);
    if !dir.is_dir() {
        bail!("cannot write {}: the folder {} does not exist", path.display(), dir.display());
    }
    let name = path.file_name().with_context(|| format!("{} names no file", path.display()))?.to_string_lossy();
    let mut written = model.clone();
    let data_name = format!("{name}.data");
    let data = match layout {
        Layout::Inline => Vec::new(),
        Layout::External => external::externalize(&mut written, &data_name, EXTERNAL_THRESHOLD)?,
    };
    let bytes = to_bytes(&written).with_context(|| format!("writing {}", path.display()))?;
    let data_file = (!data.is_empty()).then(|| dir.join(&data_name));
    let temp = |file: &str| dir.join(format!(".{file}.{}.tmp", std::process::id()));
    let result = (|| {
        if let Some(data_file) = &data_file {
            write_atomically(&temp(&data_name), data_file, &data)?;
        }
        std::fs::write(temp(&name), &bytes).with_context(|| format!("writing {}", temp(&name).display()))?;
        let back = read(&temp(&name)).context("reading the written model back")?;
        if !same_model(back.model, model, written)? {
            bail!("the written model does not read back as the model it was written from");
        }
        std::fs::rename(temp(&name), path).with_context(|| format!("writing {}", path.display()))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(temp(&name));
    }
    result.with_context(|| format!("writing {}", path.display()))?;
    Ok(Written { data_file })
}

/// Whether `back` (read back, external data pulled in) is `model`: every tensor holds the
/// same bytes, and the rest serializes as `written` (the model as saved, its tensors' bytes
/// and external references cleared as the reader leaves them) does. Works past protobuf's
/// limit, which only the tensors' bytes can reach.
fn same_model(mut back: ModelProto, model: &ModelProto, mut written: ModelProto) -> Result<bool> {
    let mut data = Vec::new();
    if let Some(graph) = back.graph.as_mut() {
        external::for_each_tensor(graph, &mut |t| {
            data.push(std::mem::take(&mut t.raw_data));
            Ok(())
        })?;
    }
    if let Some(graph) = written.graph.as_mut() {
        external::for_each_tensor(graph, &mut |t| {
            t.raw_data.clear();
            t.external_data.clear();
            t.data_location = Default::default();
            Ok(())
        })?;
    }
    let original = model.graph.as_ref().map(external::tensor_bytes).unwrap_or_default();
    Ok(data.iter().map(Vec::as_slice).eq(original) && to_bytes(&back)? == to_bytes(&written)?)
}

fn write_atomically(temp: &Path, path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(temp, bytes).with_context(|| format!("writing {}", temp.display()))?;
    std::fs::rename(temp, path).with_context(|| format!("writing {}", path.display())).inspect_err(|_| {
        let _ = std::fs::remove_file(temp);
    })
}

/// The folder a model file lies in (`.` for a bare file name).
pub fn folder(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
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
            let dims = tensor.and_then(|t| t.shape.as_ref()).map(dims_of);
            InputSpec { name: input.name.clone(), ty: ElemType::from_onnx(onnx_type), onnx_type, dims }
        })
        .collect()
}

/// A tensor value's element type and, when known, its dimensions.
#[derive(Clone, Debug, PartialEq)]
pub struct ValueType {
    pub elem_type: i32,
    pub dims: Option<Vec<Dim>>,
}

/// The declared type of a value (initializer, graph input, output or value_info), if any.
pub fn value_type(graph: &GraphProto, name: &str) -> Option<ValueType> {
    if let Some(init) = graph.initializer.iter().find(|t| t.name == name) {
        let dims = init.dims.iter().map(|&d| if d >= 0 { Dim::Fixed(d as usize) } else { Dim::Unknown }).collect();
        return Some(ValueType { elem_type: init.data_type, dims: Some(dims) });
    }
    let info = graph.input.iter().chain(&graph.value_info).chain(&graph.output).find(|v| v.name == name)?;
    match info.type_.as_ref()?.value.as_ref()? {
        TypeValue::TensorType(t) => Some(ValueType { elem_type: t.elem_type, dims: t.shape.as_ref().map(dims_of) }),
        _ => None,
    }
}

fn dims_of(shape: &TensorShapeProto) -> Vec<Dim> {
    shape
        .dim
        .iter()
        .map(|d| match &d.value {
            Some(DimValue::DimValue(v)) if *v >= 0 => Dim::Fixed(*v as usize),
            Some(DimValue::DimParam(p)) if !p.is_empty() => Dim::Named(p.clone()),
            _ => Dim::Unknown,
        })
        .collect()
}

/// The declared element type and rank of a value, if any.
pub fn value_shape(graph: &GraphProto, name: &str) -> Option<(i32, Option<usize>)> {
    value_type(graph, name).map(|v| (v.elem_type, v.dims.map(|d| d.len())))
}

/// A `value_info` entry saying that `name` has type `ty`.
pub fn value_info(name: &str, ty: &ValueType) -> ValueInfoProto {
    let mut tensor = TypeProtoTensor::new();
    tensor.elem_type = ty.elem_type;
    if let Some(dims) = &ty.dims {
        let mut shape = TensorShapeProto::new();
        shape.dim = dims
            .iter()
            .map(|d| {
                let mut dim = TensorShapeDimension::new();
                dim.value = match d {
                    Dim::Fixed(n) => Some(DimValue::DimValue(*n as i64)),
                    Dim::Named(p) => Some(DimValue::DimParam(p.clone())),
                    Dim::Unknown => None,
                };
                dim
            })
            .collect();
        tensor.shape = Some(shape).into();
    }
    let mut ty = TypeProto::new();
    ty.value = Some(TypeValue::TensorType(tensor));
    let mut info = ValueInfoProto::new();
    info.name = name.into();
    info.type_ = Some(ty).into();
    info
}

/// True when the graph declares `name` (input, output or value_info).
pub fn declares(graph: &GraphProto, name: &str) -> bool {
    graph.input.iter().chain(&graph.value_info).chain(&graph.output).any(|v| v.name == name)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn with_initializer(bytes: Vec<u8>) -> ModelProto {
        let mut t = TensorProto::new();
        t.name = "w".into();
        t.data_type = 2; // UINT8
        t.dims = vec![bytes.len() as i64];
        t.raw_data = bytes;
        let mut graph = GraphProto::new();
        graph.initializer.push(t);
        let mut model = ModelProto::new();
        model.graph = Some(graph).into();
        model
    }

    #[test]
    fn external_data_is_written_beside_the_model_and_read_back_the_same() {
        let dir = std::env::temp_dir().join(format!("rectify-model-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let model = with_initializer((0..5000u32).map(|i| i as u8).collect());
        let written = save(&model, &dir.join("m.onnx"), Layout::External).unwrap();
        assert_eq!(written.data_file, Some(dir.join("m.onnx.data")));
        assert!(std::fs::metadata(dir.join("m.onnx")).unwrap().len() < 200);
        let back = read(&dir.join("m.onnx")).unwrap();
        assert_eq!((back.external_bytes, back.external_files), (5000, vec![dir.join("m.onnx.data")]));
        assert_eq!(to_bytes(&back.model).unwrap(), to_bytes(&model).unwrap());
        // The read-back check tells a tensor's bytes apart.
        let mut as_saved = model.clone();
        external::externalize(&mut as_saved, "m.onnx.data", EXTERNAL_THRESHOLD).unwrap();
        let other = with_initializer(vec![7; 5000]);
        assert!(same_model(back.model.clone(), &model, as_saved.clone()).unwrap());
        assert!(!same_model(back.model, &other, as_saved).unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
