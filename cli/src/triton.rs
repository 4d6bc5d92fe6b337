//! `rectify triton-config`: a Triton Inference Server `config.pbtxt` for a model, run by
//! Triton's ONNX Runtime backend with librectify.so loaded through `model_operations`.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Result, bail};
use onnx_protobuf::ValueInfoProto;
use onnx_protobuf::tensor_shape_proto::dimension::Value as DimValue;
use onnx_protobuf::type_proto::Value as TypeValue;

use crate::model;

/// Triton's name of an ONNX element type (Triton's model_config.proto `DataType`).
fn triton_type(onnx: i32) -> Option<&'static str> {
    Some(match onnx {
        1 => "TYPE_FP32",
        2 => "TYPE_UINT8",
        3 => "TYPE_INT8",
        4 => "TYPE_UINT16",
        5 => "TYPE_INT16",
        6 => "TYPE_INT32",
        7 => "TYPE_INT64",
        8 => "TYPE_STRING",
        9 => "TYPE_BOOL",
        10 => "TYPE_FP16",
        11 => "TYPE_FP64",
        12 => "TYPE_UINT32",
        13 => "TYPE_UINT64",
        16 => "TYPE_BF16",
        _ => return None,
    })
}

/// One `input [...]` / `output [...]` entry: symbolic and unknown dimensions become -1.
fn tensor_entry(value: &ValueInfoProto, side: &str) -> Result<String> {
    let Some(TypeValue::TensorType(tensor)) = value.type_.as_ref().and_then(|t| t.value.as_ref()) else {
        bail!("{side} '{}' is not a tensor: Triton's ONNX Runtime backend serves tensors only", value.name);
    };
    let Some(ty) = triton_type(tensor.elem_type) else {
        bail!("{side} '{}' has ONNX element type {}, which Triton has no type for", value.name, tensor.elem_type);
    };
    let Some(shape) = tensor.shape.as_ref() else {
        bail!("{side} '{}' has no declared shape (rank): Triton needs one; add it to the model", value.name);
    };
    let dims: Vec<String> = shape
        .dim
        .iter()
        .map(|d| match d.value {
            Some(DimValue::DimValue(v)) if v >= 0 => v.to_string(),
            _ => "-1".to_string(),
        })
        .collect();
    // A scalar is shape [1] with reshape [] in Triton.
    let (dims, reshape) =
        if dims.is_empty() { ("1".to_string(), " reshape: { shape: [ ] }") } else { (dims.join(", "), "") };
    Ok(format!("  {{ name: \"{}\", data_type: {ty}, dims: [ {dims} ]{reshape} }}", value.name))
}

/// The config text: `name` is the model's name in the repository (its folder's name).
pub fn config(model_path: &Path, name: &str, op_library: &str) -> Result<String> {
    let model = model::load(model_path)?;
    let graph = model::graph(&model);
    let inputs: Vec<&ValueInfoProto> =
        graph.input.iter().filter(|i| !graph.initializer.iter().any(|t| t.name == i.name)).collect();
    let entries = |values: &[&ValueInfoProto], side: &str| -> Result<String> {
        Ok(values.iter().map(|v| tensor_entry(v, side)).collect::<Result<Vec<_>>>()?.join(",\n"))
    };
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Triton config for {} (rectify {} triton-config).",
        model_path.display(),
        env!("CARGO_PKG_VERSION")
    );
    let _ = writeln!(s, "# max_batch_size 0: dims are the model's full shapes (-1: any size).");
    let _ = writeln!(s, "name: \"{name}\"\nbackend: \"onnxruntime\"\nmax_batch_size: 0");
    let _ = writeln!(s, "input [\n{}\n]", entries(&inputs, "input")?);
    let _ = writeln!(s, "output [\n{}\n]", entries(&graph.output.iter().collect::<Vec<_>>(), "output")?);
    let _ = writeln!(s, "model_operations {{ op_library_filename: \"{op_library}\" }}");
    Ok(s)
}
