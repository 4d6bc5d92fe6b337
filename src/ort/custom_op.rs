//! The `#[repr(C)]` custom op handed to ONNX Runtime: `OrtCustomOp` first, so every
//! callback can recover its [`RectifyOp`] from the pointer ORT passes back.

use std::ffi::{CString, c_char, c_int, c_void};
use std::ptr;

use ort_sys::{
    ONNXTensorElementDataType, OrtApi, OrtCustomOp, OrtCustomOpInputOutputCharacteristic, OrtKernelContext,
    OrtKernelInfo, OrtMemType, OrtShapeInferContext, OrtStatusPtr,
};

use super::api::{Api, KernelContext, KernelInfo, Side};
use super::kernel::Kernel;
use super::shape;
use crate::boundary;
use crate::ops::{DType, OpKind};

/// One (op, element type) pair as ONNX Runtime sees it.
#[repr(C)]
pub struct RectifyOp {
    /// The version-17 layout (ort-sys without `api-18`).
    base: OrtCustomOp,
    /// The fields ONNX Runtime reads from version 18 on, right after the v17 layout.
    v18: InplaceFields,
    kind: OpKind,
    /// The op's name for ORT, NUL-terminated.
    name: CString,
    dtype: DType,
    api: Api,
}

type IndexPairs = unsafe extern "system" fn(*mut *mut c_int, *mut *mut c_int) -> usize;
type ReleasePairs = unsafe extern "system" fn(*mut c_int, *mut c_int);

/// `GetMayInplace`, `ReleaseMayInplace`, `GetAliasMap`, `ReleaseAliasMap` (NULL = absent).
#[repr(C)]
struct InplaceFields {
    get_may_inplace: Option<IndexPairs>,
    release_may_inplace: Option<ReleasePairs>,
    get_alias_map: Option<IndexPairs>,
    release_alias_map: Option<ReleasePairs>,
}

// The v18 fields must sit right after GetEndVersion: fail the build if ort-sys ever comes
// with `api-18` (then OrtCustomOp would already hold them).
const _: () = assert!(
    std::mem::size_of::<OrtCustomOp>()
        == std::mem::offset_of!(OrtCustomOp, GetEndVersion) + std::mem::size_of::<usize>()
);

impl RectifyOp {
    /// Fills every callback ORT may read at `api_version` (16, 17 or 18); the rest stays zero.
    pub fn new(kind: OpKind, dtype: DType, api: Api, api_version: u32) -> Self {
        // SAFETY: OrtCustomOp is a u32 and optional function pointers: all-zero is valid.
        let mut base: OrtCustomOp = unsafe { std::mem::zeroed() };
        base.version = api_version;
        base.GetName = Some(get_name);
        base.GetExecutionProviderType = Some(get_execution_provider_type);
        base.GetInputType = Some(get_input_type);
        base.GetInputTypeCount = Some(get_input_type_count);
        base.GetOutputType = Some(get_output_type);
        base.GetOutputTypeCount = Some(get_output_type_count);
        base.KernelDestroy = Some(kernel_destroy);
        base.GetInputCharacteristic = Some(get_input_characteristic);
        base.GetOutputCharacteristic = Some(get_output_characteristic);
        base.GetInputMemoryType = Some(get_input_memory_type);
        base.GetVariadicInputMinArity = Some(get_variadic_min_arity);
        base.GetVariadicInputHomogeneity = Some(get_variadic_homogeneity);
        base.GetVariadicOutputMinArity = Some(get_variadic_min_arity);
        base.GetVariadicOutputHomogeneity = Some(get_variadic_homogeneity);
        base.CreateKernelV2 = Some(create_kernel);
        base.KernelComputeV2 = Some(kernel_compute);
        if api_version >= 17 {
            base.InferOutputShapeFn = Some(infer_output_shape);
            base.GetStartVersion = Some(get_start_version);
            base.GetEndVersion = Some(get_end_version);
        }
        let mut v18 = InplaceFields {
            get_may_inplace: None,
            release_may_inplace: None,
            get_alias_map: None,
            release_alias_map: None,
        };
        // Y may reuse X's buffer where the spec allows (saves an allocation and the traffic
        // of a second tensor).
        if api_version >= 18 && kind.spec().in_place {
            v18.get_may_inplace = Some(may_inplace);
            v18.release_may_inplace = Some(release_may_inplace);
        }
        let name = CString::new(kind.name()).expect("op names have no NUL");
        Self { base, v18, kind, name, dtype, api }
    }

    pub fn as_raw(&self) -> *const OrtCustomOp {
        &self.base
    }
}

/// # Safety
/// `op` must point at the `base` of a live [`RectifyOp`] (every op we register does).
unsafe fn this<'a>(op: *const OrtCustomOp) -> &'a RectifyOp {
    // SAFETY: `base` is the first field of a repr(C) RectifyOp, per the contract above.
    unsafe { &*op.cast::<RectifyOp>() }
}

fn element_type(dtype: DType) -> ONNXTensorElementDataType {
    match dtype {
        DType::Float => ONNXTensorElementDataType::ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT,
        DType::Double => ONNXTensorElementDataType::ONNX_TENSOR_ELEMENT_DATA_TYPE_DOUBLE,
        DType::Float16 => ONNXTensorElementDataType::ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16,
        DType::BFloat16 => ONNXTensorElementDataType::ONNX_TENSOR_ELEMENT_DATA_TYPE_BFLOAT16,
    }
}

const UNDEFINED: ONNXTensorElementDataType = ONNXTensorElementDataType::ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED;

unsafe extern "system" fn get_name(op: *const OrtCustomOp) -> *const c_char {
    // SAFETY: ORT passes back one of our ops.
    boundary::catch_or(ptr::null(), || unsafe { this(op) }.name.as_ptr())
}

unsafe extern "system" fn get_execution_provider_type(_: *const OrtCustomOp) -> *const c_char {
    ptr::null() // NULL: the CPU execution provider
}

unsafe extern "system" fn get_input_type(op: *const OrtCustomOp, _: usize) -> ONNXTensorElementDataType {
    // SAFETY: ORT passes back one of our ops.
    boundary::catch_or(UNDEFINED, || element_type(unsafe { this(op) }.dtype))
}

unsafe extern "system" fn get_input_type_count(op: *const OrtCustomOp) -> usize {
    // SAFETY: ORT passes back one of our ops.
    boundary::catch_or(0, || unsafe { this(op) }.kind.spec().inputs.len())
}

unsafe extern "system" fn get_output_type(op: *const OrtCustomOp, _: usize) -> ONNXTensorElementDataType {
    // SAFETY: ORT passes back one of our ops.
    boundary::catch_or(UNDEFINED, || element_type(unsafe { this(op) }.dtype))
}

unsafe extern "system" fn get_output_type_count(op: *const OrtCustomOp) -> usize {
    // SAFETY: ORT passes back one of our ops.
    boundary::catch_or(0, || unsafe { this(op) }.kind.spec().outputs.len())
}

unsafe extern "system" fn get_input_characteristic(
    _: *const OrtCustomOp,
    _: usize,
) -> OrtCustomOpInputOutputCharacteristic {
    OrtCustomOpInputOutputCharacteristic::INPUT_OUTPUT_REQUIRED
}

unsafe extern "system" fn get_output_characteristic(
    op: *const OrtCustomOp,
    index: usize,
) -> OrtCustomOpInputOutputCharacteristic {
    use OrtCustomOpInputOutputCharacteristic::{INPUT_OUTPUT_OPTIONAL, INPUT_OUTPUT_REQUIRED};
    boundary::catch_or(INPUT_OUTPUT_REQUIRED, || {
        // SAFETY: ORT passes back one of our ops.
        let outputs = unsafe { this(op) }.kind.spec().outputs;
        match outputs.get(index) {
            Some(&(_, true)) => INPUT_OUTPUT_OPTIONAL,
            _ => INPUT_OUTPUT_REQUIRED,
        }
    })
}

unsafe extern "system" fn get_input_memory_type(_: *const OrtCustomOp, _: usize) -> OrtMemType {
    OrtMemType::OrtMemTypeDefault
}

unsafe extern "system" fn get_variadic_min_arity(_: *const OrtCustomOp) -> c_int {
    1 // read only for variadic inputs/outputs, which rectify has none of
}

unsafe extern "system" fn get_variadic_homogeneity(_: *const OrtCustomOp) -> c_int {
    1
}

/// Input 0 may share its buffer with output 0. ORT frees the arrays with
/// [`release_may_inplace`].
unsafe extern "system" fn may_inplace(input_index: *mut *mut c_int, output_index: *mut *mut c_int) -> usize {
    boundary::catch_or(0, || {
        // SAFETY: ORT passes two out-pointers; each gets a one-element array it hands back.
        unsafe {
            *input_index = Box::into_raw(Box::new([0 as c_int])).cast();
            *output_index = Box::into_raw(Box::new([0 as c_int])).cast();
        }
        1
    })
}

unsafe extern "system" fn release_may_inplace(input_index: *mut c_int, output_index: *mut c_int) {
    boundary::catch_or((), || {
        for p in [input_index, output_index] {
            if !p.is_null() {
                // SAFETY: `p` came from Box::into_raw of a [c_int; 1] in `may_inplace`.
                drop(unsafe { Box::from_raw(p.cast::<[c_int; 1]>()) });
            }
        }
    })
}

unsafe extern "system" fn get_start_version(_: *const OrtCustomOp) -> c_int {
    1
}

unsafe extern "system" fn get_end_version(_: *const OrtCustomOp) -> c_int {
    c_int::MAX
}

/// Reads and validates the node's attributes once; a bad attribute fails session creation.
unsafe extern "system" fn create_kernel(
    op: *const OrtCustomOp,
    _: *const OrtApi,
    info: *const OrtKernelInfo,
    kernel: *mut *mut c_void,
) -> OrtStatusPtr {
    // SAFETY: ORT passes back one of our ops.
    let op = unsafe { this(op) };
    let name = op.kind.name();
    let created = boundary::catch(name, || {
        // SAFETY: `info` is valid for this call.
        let info = unsafe { KernelInfo::new(op.api, info) };
        let spec = op.kind.spec();
        let signature = spec.signature(&info.names(name, Side::Input)?, &info.names(name, Side::Output)?)?;
        let params = op.kind.configure(&info)?;
        params.check_element_type(op.dtype)?;
        #[cfg(feature = "fault-injection")]
        super::fault::inject(super::fault::Point::CreateKernel, &params);
        Ok(Box::into_raw(Box::new(Kernel::new(params, op.dtype, signature, op.api))))
    });
    match created {
        Ok(k) => {
            // SAFETY: ORT gives us a place to store the kernel pointer.
            unsafe { *kernel = k.cast() };
            OrtStatusPtr(ptr::null_mut())
        }
        Err(err) => OrtStatusPtr(op.api.status(&err)),
    }
}

unsafe extern "system" fn kernel_compute(kernel: *mut c_void, context: *mut OrtKernelContext) -> OrtStatusPtr {
    // SAFETY: `kernel` is the Box created by `create_kernel`, alive until `kernel_destroy`.
    let kernel = unsafe { &*kernel.cast::<Kernel>() };
    let result = boundary::catch(kernel.op(), || {
        // SAFETY: `context` is valid for this compute call.
        let ctx = unsafe { KernelContext::new(kernel.api(), context) };
        kernel.compute(&ctx)
    });
    match result {
        Ok(()) => OrtStatusPtr(ptr::null_mut()),
        Err(err) => OrtStatusPtr(kernel.api().status(&err)),
    }
}

unsafe extern "system" fn kernel_destroy(kernel: *mut c_void) {
    boundary::catch_or((), || {
        if !kernel.is_null() {
            // SAFETY: `kernel` came from Box::into_raw in `create_kernel`; ORT destroys it once.
            drop(unsafe { Box::from_raw(kernel.cast::<Kernel>()) });
        }
    })
}

/// Output 0's type and shape, from input 0 (see [`shape::infer_output_0`]).
unsafe extern "system" fn infer_output_shape(op: *const OrtCustomOp, ctx: *mut OrtShapeInferContext) -> OrtStatusPtr {
    boundary::catch_or((), || {
        // SAFETY: ORT passes back one of our ops.
        let op = unsafe { this(op) };
        // SAFETY: `ctx` is the context of this call. A failure leaves the shape unknown.
        let _ = unsafe { shape::infer_output_0(op.api, op.kind.name(), element_type(op.dtype), ctx) };
    });
    OrtStatusPtr(ptr::null_mut()) // ORT ignores this status
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn op_struct_starts_with_the_ort_layout() {
        assert_eq!(std::mem::offset_of!(RectifyOp, base), 0);
        assert_eq!(std::mem::offset_of!(RectifyOp, v18), std::mem::size_of::<OrtCustomOp>());
    }
}
