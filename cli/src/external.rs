//! ONNX external data: tensors whose bytes live in a file beside the model (PyTorch's
//! exporter writes `MODEL.onnx.data` even for small networks; protobuf caps a model file at
//! 2 GB). Loading pulls those bytes into the tensors, resolved against the model's own
//! folder; saving can move large initializers out again, to a file named after the output.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result, bail};
use onnx_protobuf::tensor_proto::DataLocation;
use onnx_protobuf::{GraphProto, ModelProto, StringStringEntryProto, TensorProto};

/// Offsets in a written data file are multiples of this (page-aligned, so runtimes can map
/// the file).
const ALIGN: u64 = 4096;

/// Every tensor of a graph and its subgraphs: initializers, sparse initializers and the
/// tensors of node attributes (Constant's `value` among them).
pub fn for_each_tensor(graph: &mut GraphProto, f: &mut dyn FnMut(&mut TensorProto) -> Result<()>) -> Result<()> {
    for t in &mut graph.initializer {
        f(t)?;
    }
    for s in &mut graph.sparse_initializer {
        for t in s.values.as_mut().into_iter().chain(s.indices.as_mut()) {
            f(t)?;
        }
    }
    for node in &mut graph.node {
        for attr in &mut node.attribute {
            for t in attr.t.as_mut().into_iter().chain(&mut attr.tensors) {
                f(t)?;
            }
            for g in attr.g.as_mut().into_iter().chain(&mut attr.graphs) {
                for_each_tensor(g, f)?;
            }
        }
    }
    Ok(())
}

/// The raw bytes of every tensor, in [`for_each_tensor`]'s order.
pub fn tensor_bytes(graph: &GraphProto) -> Vec<&[u8]> {
    let mut out: Vec<&[u8]> = graph.initializer.iter().map(|t| t.raw_data.as_slice()).collect();
    for s in &graph.sparse_initializer {
        out.extend(s.values.as_ref().into_iter().chain(s.indices.as_ref()).map(|t| t.raw_data.as_slice()));
    }
    for node in &graph.node {
        for attr in &node.attribute {
            out.extend(attr.t.as_ref().into_iter().chain(&attr.tensors).map(|t| t.raw_data.as_slice()));
            for g in attr.g.as_ref().into_iter().chain(&attr.graphs) {
                out.extend(tensor_bytes(g));
            }
        }
    }
    out
}

pub fn is_external(t: &TensorProto) -> bool {
    t.data_location.enum_value() == Ok(DataLocation::EXTERNAL)
}

/// The external data files a model names, resolved against `dir`.
pub fn files(model: &mut ModelProto, dir: &Path) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    if let Some(graph) = model.graph.as_mut() {
        for_each_tensor(graph, &mut |t| {
            if is_external(t) {
                let path = resolve(dir, &entry(t, "location")?.unwrap_or_default(), &t.name)?;
                if !found.contains(&path) {
                    found.push(path);
                }
            }
            Ok(())
        })?;
    }
    Ok(found)
}

/// Reads every external tensor's bytes into `raw_data`, the files resolved against `dir`
/// (the model's folder). Returns how many bytes were read.
pub fn internalize(model: &mut ModelProto, dir: &Path) -> Result<u64> {
    let mut opened: HashMap<PathBuf, std::fs::File> = HashMap::new();
    let mut total = 0u64;
    let Some(graph) = model.graph.as_mut() else { return Ok(0) };
    for_each_tensor(graph, &mut |t| {
        if !is_external(t) {
            return Ok(());
        }
        let name = t.name.clone();
        let location =
            entry(t, "location")?.with_context(|| format!("tensor '{name}' is external but names no location"))?;
        let path = resolve(dir, &location, &name)?;
        let file = match opened.entry(path.clone()) {
            std::collections::hash_map::Entry::Occupied(f) => f.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => v.insert(
                std::fs::File::open(&path)
                    .with_context(|| format!("tensor '{name}': opening its external data file {}", path.display()))?,
            ),
        };
        let size = file.metadata().with_context(|| format!("reading {}", path.display()))?.len();
        let offset = number(t, "offset")?.unwrap_or(0);
        let length = match number(t, "length")? {
            Some(length) => length,
            None => size.checked_sub(offset).unwrap_or(u64::MAX),
        };
        let end = offset.checked_add(length).filter(|&end| end <= size).with_context(|| {
            format!(
                "tensor '{name}': external data at offset {offset}, length {length} lies past the end of {} ({size} bytes)",
                path.display()
            )
        })?;
        let mut bytes = vec![0u8; (end - offset) as usize];
        read_at(file, &mut bytes, offset).with_context(|| format!("tensor '{name}': reading {}", path.display()))?;
        total += bytes.len() as u64;
        t.raw_data = bytes;
        t.external_data.clear();
        t.data_location = DataLocation::DEFAULT.into();
        Ok(())
    })?;
    Ok(total)
}

/// Moves the raw bytes of every initializer of at least `threshold` bytes into one buffer,
/// pointing each at `location` (the data file's name, beside the model). Returns the buffer.
pub fn externalize(model: &mut ModelProto, location: &str, threshold: usize) -> Result<Vec<u8>> {
    let mut data = Vec::new();
    let Some(graph) = model.graph.as_mut() else { return Ok(data) };
    for_each_tensor(graph, &mut |t| {
        if t.raw_data.len() < threshold.max(1) || is_external(t) {
            return Ok(());
        }
        let offset = (data.len() as u64).div_ceil(ALIGN) * ALIGN;
        data.resize(offset as usize, 0);
        data.append(&mut t.raw_data);
        t.data_location = DataLocation::EXTERNAL.into();
        t.external_data = vec![
            pair("location", location),
            pair("offset", &offset.to_string()),
            pair("length", &(data.len() as u64 - offset).to_string()),
        ];
        Ok(())
    })?;
    Ok(data)
}

/// `location` inside `dir`: relative, with no `..`, as ONNX Runtime and onnx require.
fn resolve(dir: &Path, location: &str, tensor: &str) -> Result<PathBuf> {
    let relative = Path::new(location);
    if relative.is_absolute() || relative.components().any(|c| !matches!(c, Component::Normal(_) | Component::CurDir)) {
        bail!(
            "tensor '{tensor}': external data location '{location}' must be a relative path inside the model's folder"
        );
    }
    Ok(dir.join(relative))
}

fn entry(t: &TensorProto, key: &str) -> Result<Option<String>> {
    Ok(t.external_data.iter().find(|e| e.key == key).map(|e| e.value.clone()))
}

fn number(t: &TensorProto, key: &str) -> Result<Option<u64>> {
    entry(t, key)?
        .map(|v| v.parse().with_context(|| format!("tensor '{}': external data {key} '{v}' is not a number", t.name)))
        .transpose()
}

fn pair(key: &str, value: &str) -> StringStringEntryProto {
    let mut e = StringStringEntryProto::new();
    e.key = key.into();
    e.value = value.into();
    e
}

fn read_at(file: &std::fs::File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    file.read_exact_at(buf, offset)
}
