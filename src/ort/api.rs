//! Safe wrappers over the slice of the ONNX Runtime C API that rectify uses. Each wrapper
//! holds a pointer ORT handed to a callback and is valid only during that callback.

use std::ffi::{CStr, CString, c_void};
use std::ptr;

use ort_sys::{
    ONNXTensorElementDataType, OrtApi, OrtErrorCode, OrtKernelContext, OrtKernelInfo, OrtStatus, OrtStatusPtr,
    OrtTensorTypeAndShapeInfo, OrtValue,
};

use crate::dims::Dims;
use crate::error::{Error, ErrorKind, Result};
use crate::ops::AttributeSource;

/// The negotiated `OrtApi` table and its version.
#[derive(Clone, Copy)]
pub struct Api {
    raw: &'static OrtApi,
    version: u32,
    shape_reference: Option<ShapeReference>,
}

/// `GetTensorElementTypeAndShapeDataReference` (API 24, ONNX Runtime 1.24): a tensor's
/// element type and a pointer to its dimensions, with nothing allocated.
type ShapeReference = unsafe extern "system" fn(
    value: *const OrtValue,
    elem_type: *mut ONNXTensorElementDataType,
    shape_data: *mut *const i64,
    shape_data_count: *mut usize,
) -> OrtStatusPtr;

/// Where `GetTensorElementTypeAndShapeDataReference` sits in the `OrtApi` table: entry 414
/// (byte offset 3312), counted in ort-sys's bindgen of ONNX Runtime's C header with
/// `api-24` on a non-wasm target; the table only ever grows at the end. ort-sys is used
/// without `api-24` (that feature would also change `OrtCustomOp`), so the entry is read by
/// position. Every ONNX Runtime integration test runs through it (1.32.0), as does the
/// pytest suite on each release of the matrix from 1.24 on.
const SHAPE_REFERENCE_ENTRY: usize = 414;
/// The API version that has the entry.
pub const SHAPE_REFERENCE_API: u32 = 24;

// SAFETY: the OrtApi table is immutable and lives as long as the runtime library.
unsafe impl Send for Api {}
// SAFETY: as above; every function in it is thread-safe per ONNX Runtime's contract.
unsafe impl Sync for Api {}

impl Api {
    /// # Safety
    /// `raw` must be the table returned by `OrtApiBase::GetApi(version)`.
    pub unsafe fn new(raw: &'static OrtApi, version: u32) -> Self {
        Self { raw, version, shape_reference: None }
    }

    /// Adds the allocation-free shape query of API 24.
    ///
    /// # Safety
    /// `table` must be the table returned by `OrtApiBase::GetApi(SHAPE_REFERENCE_API)`.
    pub unsafe fn with_shape_reference(mut self, table: &'static OrtApi) -> Self {
        // SAFETY: a version-24 table holds at least 415 function pointers (ONNX Runtime's
        // C header), each a nullable `extern "system" fn`, the same size as a pointer.
        let entry = unsafe { *ptr::from_ref(table).cast::<Option<ShapeReference>>().add(SHAPE_REFERENCE_ENTRY) };
        self.shape_reference = entry;
        self
    }

    pub fn raw(&self) -> &'static OrtApi {
        self.raw
    }

    /// `KernelContext_ParallelFor` exists from API 17.
    pub fn has_parallel_for(&self) -> bool {
        self.version >= 17
    }

    /// Builds an `OrtStatus` for ORT to own and raise.
    pub fn status(&self, err: &Error) -> *mut OrtStatus {
        status_from(self.raw, err)
    }

    /// Takes ownership of a status: `Ok` if NULL, else its message (the status released).
    #[inline]
    pub fn take(&self, status: OrtStatusPtr) -> std::result::Result<(), String> {
        if status.0.is_null() { Ok(()) } else { Err(self.message(status)) }
    }

    /// A failed status's message; releases the status. Out of line: the hot path of every
    /// C call is the NULL check above.
    #[cold]
    #[inline(never)]
    fn message(&self, status: OrtStatusPtr) -> String {
        // SAFETY: a non-NULL status from ORT stays valid until released below.
        let message = unsafe { CStr::from_ptr((self.raw.GetErrorMessage)(status.0)) }.to_string_lossy().into_owned();
        // SAFETY: we own the status and release it once.
        unsafe { (self.raw.ReleaseStatus)(status.0) };
        message
    }

    /// Like [`Api::take`], attributing a failure to `op` and the call `what`.
    #[inline]
    pub fn check(&self, op: &'static str, what: &str, status: OrtStatusPtr) -> Result<()> {
        match self.take(status) {
            Ok(()) => Ok(()),
            Err(m) => Err(failed(op, what, m)),
        }
    }
}

/// `err` as an `OrtStatus` built by `raw`'s `CreateStatus` (present in every API version).
pub fn status_from(raw: &OrtApi, err: &Error) -> *mut OrtStatus {
    let code = match err.kind() {
        ErrorKind::InvalidArgument => OrtErrorCode::ORT_INVALID_ARGUMENT,
        ErrorKind::Panic => OrtErrorCode::ORT_RUNTIME_EXCEPTION,
        ErrorKind::Runtime => OrtErrorCode::ORT_FAIL,
    };
    let message = CString::new(err.to_string().replace('\0', " ")).unwrap_or_default();
    // SAFETY: CreateStatus copies the NUL-terminated message.
    unsafe { (raw.CreateStatus)(code, message.as_ptr()).0 }
}

#[cold]
#[inline(never)]
fn failed(op: &'static str, what: &str, message: String) -> Error {
    Error::runtime(op, format!("ONNX Runtime {what} failed: {message}"))
}

/// A tensor's element type and shape, released on drop.
pub struct TypeShape {
    api: Api,
    raw: *mut OrtTensorTypeAndShapeInfo,
    owned: bool,
}

impl TypeShape {
    /// # Safety
    /// `raw` must be a valid info; `owned` says whether we must release it.
    pub unsafe fn new(api: Api, raw: *mut OrtTensorTypeAndShapeInfo, owned: bool) -> Self {
        Self { api, raw, owned }
    }

    pub fn raw(&self) -> *mut OrtTensorTypeAndShapeInfo {
        self.raw
    }

    pub fn api(&self) -> Api {
        self.api
    }

    pub fn dims(&self, op: &'static str) -> Result<Dims> {
        let mut rank = 0usize;
        // SAFETY: `raw` is valid for the life of `self`.
        self.api.check(op, "GetDimensionsCount", unsafe { (self.api.raw.GetDimensionsCount)(self.raw, &mut rank) })?;
        let mut dims = Dims::zeros(rank);
        // SAFETY: `dims` has room for `rank` values.
        let status = unsafe { (self.api.raw.GetDimensions)(self.raw, dims.as_mut_ptr(), rank) };
        self.api.check(op, "GetDimensions", status)?;
        Ok(dims)
    }

    /// The ONNX element type id, read as a plain integer (unknown ids stay representable).
    pub fn element_type(&self, op: &'static str) -> Result<i32> {
        let mut id = 0i32;
        let out = (&mut id as *mut i32).cast::<ONNXTensorElementDataType>();
        // SAFETY: ORT writes one 32-bit enum value, which we only read back as i32.
        self.api.check(op, "GetTensorElementType", unsafe { (self.api.raw.GetTensorElementType)(self.raw, out) })?;
        Ok(id)
    }
}

impl Drop for TypeShape {
    fn drop(&mut self) {
        if self.owned {
            // SAFETY: we own `raw` and release it once.
            unsafe { (self.api.raw.ReleaseTensorTypeAndShapeInfo)(self.raw) };
        }
    }
}

/// A tensor's shape, element type and data pointer.
pub struct TensorView {
    pub shape: Dims,
    pub element_type: i32,
    pub data: *mut c_void,
}

/// An output ORT allocated for a compute call: its element type and data pointer (the
/// shape is the one the kernel asked for).
pub struct OutputTensor {
    pub element_type: i32,
    pub data: *mut c_void,
}

/// Reads shape, type and data of an `OrtValue`.
///
/// # Safety
/// `value` must be a valid tensor for the current callback.
unsafe fn view(api: Api, op: &'static str, value: *const OrtValue) -> Result<TensorView> {
    let mut data = ptr::null_mut();
    // SAFETY: the value is a tensor; ORT only reads the pointer we get for inputs.
    api.check(op, "GetTensorMutableData", unsafe { (api.raw.GetTensorMutableData)(value.cast_mut(), &mut data) })?;
    if let Some(shape_reference) = api.shape_reference {
        let (mut id, mut dims, mut rank) = (0i32, ptr::null(), 0usize);
        let out = (&mut id as *mut i32).cast::<ONNXTensorElementDataType>();
        // SAFETY: `value` is valid; ORT writes one 32-bit enum, a pointer and a count.
        let status = unsafe { shape_reference(value, out, &mut dims, &mut rank) };
        api.check(op, "GetTensorElementTypeAndShapeDataReference", status)?;
        let shape = match rank {
            0 => Dims::zeros(0),
            // SAFETY: ORT points at `rank` dimensions that live as long as the tensor.
            _ => Dims::from_slice(unsafe { std::slice::from_raw_parts(dims, rank) }),
        };
        return Ok(TensorView { shape, element_type: id, data });
    }
    let mut info = ptr::null_mut();
    // SAFETY: `value` is valid; ORT allocates `info`, which TypeShape releases.
    api.check(op, "GetTensorTypeAndShape", unsafe { (api.raw.GetTensorTypeAndShape)(value, &mut info) })?;
    // SAFETY: `info` was just created for us.
    let info = unsafe { TypeShape::new(api, info, true) };
    Ok(TensorView { shape: info.dims(op)?, element_type: info.element_type(op)?, data })
}

/// The `OrtKernelContext` of one compute call.
pub struct KernelContext {
    api: Api,
    raw: *mut OrtKernelContext,
}

impl KernelContext {
    /// # Safety
    /// `raw` must be the context of the compute call in progress.
    pub unsafe fn new(api: Api, raw: *mut OrtKernelContext) -> Self {
        Self { api, raw }
    }

    pub fn api(&self) -> Api {
        self.api
    }

    pub fn raw(&self) -> *mut OrtKernelContext {
        self.raw
    }

    /// Input `index`, or `None` if the node omitted it.
    pub fn input(&self, op: &'static str, index: usize) -> Result<Option<TensorView>> {
        let mut value = ptr::null();
        // SAFETY: the context is valid during this compute call.
        let status = unsafe { (self.api.raw.KernelContext_GetInput)(self.raw, index, &mut value) };
        self.api.check(op, "KernelContext_GetInput", status)?;
        if value.is_null() {
            return Ok(None);
        }
        // SAFETY: ORT returned a valid input tensor.
        unsafe { view(self.api, op, value) }.map(Some)
    }

    /// Output `index`, allocated with `shape`, or `None` if the node omitted it; `index`
    /// must be one the node has (see `NodeSignature`). Its element type is the one this kernel
    /// declared for the output (`element_type`), so only the data pointer is queried: one
    /// C call instead of six on every compute.
    pub fn output(
        &self,
        op: &'static str,
        index: usize,
        shape: &[i64],
        element_type: i32,
    ) -> Result<Option<OutputTensor>> {
        let mut value = ptr::null_mut();
        // SAFETY: `shape` outlives the call; ORT allocates the output it returns.
        let status =
            unsafe { (self.api.raw.KernelContext_GetOutput)(self.raw, index, shape.as_ptr(), shape.len(), &mut value) };
        self.api.check(op, "KernelContext_GetOutput", status)?;
        if value.is_null() {
            return Ok(None);
        }
        let mut data = ptr::null_mut();
        // SAFETY: ORT returned a valid output tensor, ours to write.
        let status = unsafe { (self.api.raw.GetTensorMutableData)(value, &mut data) };
        self.api.check(op, "GetTensorMutableData", status)?;
        Ok(Some(OutputTensor { element_type, data }))
    }
}

/// A node's inputs or its outputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Input,
    Output,
}

/// The `OrtKernelInfo` given to kernel creation: the node's attributes, inputs and outputs.
pub struct KernelInfo {
    api: Api,
    raw: *const OrtKernelInfo,
}

impl KernelInfo {
    /// # Safety
    /// `raw` must be the info of the kernel creation in progress.
    pub unsafe fn new(api: Api, raw: *const OrtKernelInfo) -> Self {
        Self { api, raw }
    }

    /// The names of the node's inputs or outputs, in order; an omitted optional one (an
    /// empty name in the model) reads as "".
    pub fn names(&self, op: &'static str, side: Side) -> Result<Vec<String>> {
        let raw = self.api.raw;
        let ((count_of, count_what), (name_of, what)) = match side {
            Side::Input => (
                (raw.KernelInfo_GetInputCount, "KernelInfo_GetInputCount"),
                (raw.KernelInfo_GetInputName, "KernelInfo_GetInputName"),
            ),
            Side::Output => (
                (raw.KernelInfo_GetOutputCount, "KernelInfo_GetOutputCount"),
                (raw.KernelInfo_GetOutputName, "KernelInfo_GetOutputName"),
            ),
        };
        let mut count = 0usize;
        // SAFETY: `raw` is valid during kernel creation.
        self.api.check(op, count_what, unsafe { count_of(self.raw, &mut count) })?;
        (0..count)
            .map(|index| {
                let mut size = 0usize;
                // SAFETY: `index < count`; a NULL buffer asks for the size, NUL included.
                self.api.check(op, what, unsafe { name_of(self.raw, index, ptr::null_mut(), &mut size) })?;
                let mut buffer = vec![0u8; size.max(1)];
                let mut size = buffer.len();
                // SAFETY: `buffer` holds `size` bytes, which ORT fills with the name and a NUL.
                self.api.check(op, what, unsafe { name_of(self.raw, index, buffer.as_mut_ptr().cast(), &mut size) })?;
                Ok(CStr::from_bytes_until_nul(&buffer).map(|n| n.to_string_lossy().into_owned()).unwrap_or_default())
            })
            .collect()
    }

    /// Maps an attribute lookup's status: absent -> `None`; any other failure (a wrong
    /// attribute type) -> an error naming the attribute.
    fn attribute<T>(
        &self,
        op: &'static str,
        name: &str,
        kind: &str,
        value: T,
        status: OrtStatusPtr,
    ) -> Result<Option<T>> {
        match self.api.take(status) {
            Ok(()) => Ok(Some(value)),
            Err(m) if m.contains("No attribute with name") => Ok(None),
            Err(m) => Err(Error::invalid(op, format!("attribute '{name}' must be {kind}: {m}"))
                .on_attribute(name)
                .expected(kind.to_string())
                .found(m)),
        }
    }
}

impl AttributeSource for KernelInfo {
    fn float(&self, op: &'static str, name: &str) -> Result<Option<f32>> {
        let cname = CString::new(name).map_err(|_| Error::invalid(op, "attribute name contains NUL"))?;
        let mut value = 0f32;
        // SAFETY: `raw` is valid during kernel creation; `cname` outlives the call.
        let status = unsafe { (self.api.raw.KernelInfoGetAttribute_float)(self.raw, cname.as_ptr(), &mut value) };
        self.attribute(op, name, "a float", value, status)
    }

    fn int(&self, op: &'static str, name: &str) -> Result<Option<i64>> {
        let cname = CString::new(name).map_err(|_| Error::invalid(op, "attribute name contains NUL"))?;
        let mut value = 0i64;
        // SAFETY: `raw` is valid during kernel creation; `cname` outlives the call.
        let status = unsafe { (self.api.raw.KernelInfoGetAttribute_int64)(self.raw, cname.as_ptr(), &mut value) };
        self.attribute(op, name, "an int", value, status)
    }
}
