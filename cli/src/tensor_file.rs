//! Tensors from files, in the formats `verify --input` / `--expected` take: `.npy` (numpy's)
//! or `.pb` (an ONNX TensorProto). Above `array`, `npy` and `model`, so none of them needs
//! to know the others' formats.

use anyhow::{Context, Result, bail};

use crate::array::Array;

/// Reads an input tensor from `.npy` (numpy's format) or `.pb` (an ONNX TensorProto).
pub fn read(path: &std::path::Path) -> Result<Array> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let parsed = match path.extension().and_then(|e| e.to_str()) {
        Some("npy") => crate::npy::parse(&bytes),
        Some("pb") => crate::model::tensor_from_proto_bytes(&bytes),
        _ => bail!("{}: unknown format: expected a .npy or .pb (TensorProto) file", path.display()),
    };
    parsed.with_context(|| format!("reading {}", path.display()))
}
