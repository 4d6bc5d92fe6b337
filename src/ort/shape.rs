//! Shape inference for ONNX Runtime's graph: output 0 takes input 0's element type and
//! shape. ONNX Runtime writes a dimension without a name as its integer value, so an unknown
//! dimension (read back as -1) would become a literal `-1` that the nodes after it compute
//! with (a Conv then infers `-3`): each unknown dimension gets a fresh symbolic name instead,
//! which says "unknown" without claiming it equals any other.

use std::ffi::{CStr, CString, c_char};
use std::ptr;
use std::sync::atomic::{AtomicU64, Ordering};

use ort_sys::{ONNXTensorElementDataType, OrtShapeInferContext, OrtTensorTypeAndShapeInfo};

use super::api::{Api, TypeShape};
use crate::error::Result;

/// Numbers the symbolic names given to unknown dimensions, unique in the process.
static UNKNOWN_DIMS: AtomicU64 = AtomicU64::new(0);

/// Output 0 gets input 0's type and shape when its rank is known and > 0 (an unknown rank
/// reads as 0 and would otherwise turn the output into a scalar). No other output is
/// touched: ONNX Runtime gives shape inference no way to learn how many outputs the node
/// has, and writing to one it lacks (RRelu without `Slope`) indexes past the end of ONNX
/// Runtime's own vector, which aborts 1.17-1.27 and corrupts memory elsewhere. `Slope` keeps
/// the type ONNX Runtime infers and an unknown shape.
///
/// # Safety
/// `ctx` must be the shape-inference context ONNX Runtime passed to this call.
pub unsafe fn infer_output_0(
    api: Api,
    op: &'static str,
    element_type: ONNXTensorElementDataType,
    ctx: *mut OrtShapeInferContext,
) -> Result<()> {
    let raw = api.raw();
    let mut info = ptr::null_mut();
    // SAFETY: `ctx` is valid for this call; the info it returns is owned by the context.
    api.check(op, "ShapeInferContext_GetInputTypeShape", unsafe {
        (raw.ShapeInferContext_GetInputTypeShape)(ctx, 0, &mut info)
    })?;
    if info.is_null() {
        return Ok(());
    }
    // SAFETY: the context owns `info`: borrow it without releasing.
    let input = unsafe { TypeShape::new(api, info, false) };
    let dims = input.dims(op)?;
    if dims.is_empty() {
        return Ok(());
    }
    let names = symbolic_dims(&input, op, dims.len())?;
    let output = if dims.iter().zip(&names).any(|(&d, name)| d < 0 && name.is_empty()) {
        let names: Vec<CString> = dims
            .iter()
            .zip(names)
            .map(|(&d, name)| if d < 0 && name.is_empty() { fresh_name() } else { name })
            .collect();
        Some(with_dims(api, op, element_type, &dims, &names)?)
    } else {
        None
    };
    let shape = output.as_ref().unwrap_or(&input);
    // SAFETY: `shape` stays valid for the call; ORT copies it into output 0, which every node has.
    api.check(op, "ShapeInferContext_SetOutputTypeShape", unsafe {
        (raw.ShapeInferContext_SetOutputTypeShape)(ctx, 0, shape.raw())
    })
}

/// The symbolic name of each dimension ("" where it has none).
fn symbolic_dims(info: &TypeShape, op: &'static str, rank: usize) -> Result<Vec<CString>> {
    let mut names: Vec<*const c_char> = vec![ptr::null(); rank];
    // SAFETY: `names` has room for `rank` pointers; ORT fills them with strings it owns,
    // which live as long as `info` and are copied below.
    let status = unsafe { (info.api().raw().GetSymbolicDimensions)(info.raw(), names.as_mut_ptr(), rank) };
    info.api().check(op, "GetSymbolicDimensions", status)?;
    Ok(names
        .into_iter()
        .map(|p| {
            if p.is_null() {
                CString::default()
            } else {
                // SAFETY: ORT wrote a NUL-terminated string that `info` owns.
                unsafe { CStr::from_ptr(p) }.to_owned()
            }
        })
        .collect())
}

fn fresh_name() -> CString {
    let n = UNKNOWN_DIMS.fetch_add(1, Ordering::Relaxed);
    CString::new(format!("rectify_unk__{n}")).expect("no NUL in the name")
}

/// A new type-and-shape info (owned) with `element_type` (the op's: ORT picked this op for it), `dims` and their symbolic names.
fn with_dims(
    api: Api,
    op: &'static str,
    element_type: ONNXTensorElementDataType,
    dims: &[i64],
    names: &[CString],
) -> Result<TypeShape> {
    let raw = api.raw();
    let mut info: *mut OrtTensorTypeAndShapeInfo = ptr::null_mut();
    // SAFETY: ORT allocates the info; TypeShape releases it.
    api.check(op, "CreateTensorTypeAndShapeInfo", unsafe { (raw.CreateTensorTypeAndShapeInfo)(&mut info) })?;
    // SAFETY: `info` is the valid, owned info just created.
    let shape = unsafe { TypeShape::new(api, info, true) };
    // SAFETY: `shape` holds a valid info.
    api.check(op, "SetTensorElementType", unsafe { (raw.SetTensorElementType)(shape.raw(), element_type) })?;
    // SAFETY: `dims` holds `dims.len()` values, which ORT copies.
    api.check(op, "SetDimensions", unsafe { (raw.SetDimensions)(shape.raw(), dims.as_ptr(), dims.len()) })?;
    let mut pointers: Vec<*const c_char> = names.iter().map(|n| n.as_ptr()).collect();
    // SAFETY: `pointers` holds `dims.len()` NUL-terminated strings that outlive the call; ORT copies them.
    api.check(op, "SetSymbolicDimensions", unsafe {
        (raw.SetSymbolicDimensions)(shape.raw(), pointers.as_mut_ptr(), pointers.len())
    })?;
    Ok(shape)
}
