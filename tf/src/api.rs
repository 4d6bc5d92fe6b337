//! TensorFlow's C API, resolved at load time with `dlsym` on the already-loaded
//! `libtensorflow_framework.so.2`: building needs no TensorFlow, and in a process without
//! TensorFlow nothing resolves and the library stays inert.
//!
//! Declarations are written by hand from `tensorflow/c/{ops,kernels,tf_status,tf_tensor}.h`
//! (TensorFlow 2.21); `TF_DataType` and `TF_Code` stay `c_int`.

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::sync::OnceLock;

use rectify::dims::Dims;

macro_rules! opaque {
    ($($name:ident),*) => {$(
        #[repr(C)]
        pub struct $name {
            _private: [u8; 0],
        }
    )*};
}
opaque!(
    TF_Status,
    TF_Tensor,
    TF_OpDefinitionBuilder,
    TF_ShapeInferenceContext,
    TF_ShapeHandle,
    TF_KernelBuilder,
    TF_OpKernelConstruction,
    TF_OpKernelContext
);

pub type CreateFn = unsafe extern "C" fn(*mut TF_OpKernelConstruction) -> *mut c_void;
pub type ComputeFn = unsafe extern "C" fn(*mut c_void, *mut TF_OpKernelContext);
pub type DeleteFn = unsafe extern "C" fn(*mut c_void);
pub type ShapeFn = unsafe extern "C" fn(*mut TF_ShapeInferenceContext, *mut TF_Status);

pub const TF_OK: c_int = 0;
pub const TF_INVALID_ARGUMENT: c_int = 3;
pub const TF_INTERNAL: c_int = 13;

/// The function table: one field per C function, resolved by name.
macro_rules! tf_api {
    ($($field:ident: fn($($arg:ty),*) $(-> $ret:ty)?;)*) => {
        #[allow(non_snake_case)]
        pub struct Api {
            $(pub $field: unsafe extern "C" fn($($arg),*) $(-> $ret)?,)*
        }

        impl Api {
            /// Looks every function up in `handle`; `None` if any is missing.
            ///
            /// # Safety
            /// `handle` is a `dlopen` handle or `RTLD_DEFAULT`; each symbol found must have
            /// the declared signature (TensorFlow's C API, stable within 2.x).
            unsafe fn resolve(handle: *mut c_void) -> Option<Self> {
                Some(Self {
                    $($field: {
                        let name = concat!(stringify!($field), "\0");
                        // SAFETY: a NUL-terminated name; the caller's guarantee on handle.
                        let p = unsafe { libc::dlsym(handle, name.as_ptr().cast()) };
                        if p.is_null() {
                            return None;
                        }
                        // SAFETY: the symbol is this C function (the caller's guarantee).
                        unsafe { std::mem::transmute::<*mut c_void, unsafe extern "C" fn($($arg),*) $(-> $ret)?>(p) }
                    },)*
                })
            }
        }
    };
}

tf_api! {
    TF_NewStatus: fn() -> *mut TF_Status;
    TF_DeleteStatus: fn(*mut TF_Status);
    TF_SetStatus: fn(*mut TF_Status, c_int, *const c_char);
    TF_GetCode: fn(*const TF_Status) -> c_int;
    TF_Message: fn(*const TF_Status) -> *const c_char;
    TF_DeleteTensor: fn(*mut TF_Tensor);
    TF_TensorType: fn(*const TF_Tensor) -> c_int;
    TF_NumDims: fn(*const TF_Tensor) -> c_int;
    TF_Dim: fn(*const TF_Tensor, c_int) -> i64;
    TF_TensorElementCount: fn(*const TF_Tensor) -> i64;
    TF_TensorData: fn(*const TF_Tensor) -> *mut c_void;
    TF_NewOpDefinitionBuilder: fn(*const c_char) -> *mut TF_OpDefinitionBuilder;
    TF_OpDefinitionBuilderAddInput: fn(*mut TF_OpDefinitionBuilder, *const c_char);
    TF_OpDefinitionBuilderAddOutput: fn(*mut TF_OpDefinitionBuilder, *const c_char);
    TF_OpDefinitionBuilderAddAttr: fn(*mut TF_OpDefinitionBuilder, *const c_char);
    TF_OpDefinitionBuilderSetIsStateful: fn(*mut TF_OpDefinitionBuilder, bool);
    TF_OpDefinitionBuilderSetShapeInferenceFunction: fn(*mut TF_OpDefinitionBuilder, ShapeFn);
    TF_RegisterOpDefinition: fn(*mut TF_OpDefinitionBuilder, *mut TF_Status);
    TF_NewShapeHandle: fn() -> *mut TF_ShapeHandle;
    TF_DeleteShapeHandle: fn(*mut TF_ShapeHandle);
    TF_ShapeInferenceContextGetInput: fn(*mut TF_ShapeInferenceContext, c_int, *mut TF_ShapeHandle, *mut TF_Status);
    TF_ShapeInferenceContextSetOutput: fn(*mut TF_ShapeInferenceContext, c_int, *mut TF_ShapeHandle, *mut TF_Status);
    TF_NewKernelBuilder: fn(*const c_char, *const c_char, CreateFn, ComputeFn, DeleteFn) -> *mut TF_KernelBuilder;
    TF_KernelBuilder_TypeConstraint: fn(*mut TF_KernelBuilder, *const c_char, c_int, *mut TF_Status);
    TF_RegisterKernelBuilder: fn(*const c_char, *mut TF_KernelBuilder, *mut TF_Status);
    TF_OpKernelConstruction_GetAttrFloat: fn(*mut TF_OpKernelConstruction, *const c_char, *mut f32, *mut TF_Status);
    TF_OpKernelConstruction_GetAttrInt64: fn(*mut TF_OpKernelConstruction, *const c_char, *mut i64, *mut TF_Status);
    TF_OpKernelConstruction_GetAttrBool: fn(*mut TF_OpKernelConstruction, *const c_char, *mut u8, *mut TF_Status);
    TF_OpKernelConstruction_Failure: fn(*mut TF_OpKernelConstruction, *mut TF_Status);
    TF_GetInput: fn(*mut TF_OpKernelContext, c_int, *mut *mut TF_Tensor, *mut TF_Status);
    TF_AllocateOutput: fn(*mut TF_OpKernelContext, c_int, c_int, *const i64, c_int, usize, *mut TF_Status) -> *mut TF_Tensor;
    TF_ForwardInputOrAllocateOutput:
        fn(*mut TF_OpKernelContext, *const c_int, c_int, c_int, *const i64, c_int, *mut c_int, *mut TF_Status) -> *mut TF_Tensor;
    TF_OpKernelContext_Failure: fn(*mut TF_OpKernelContext, *mut TF_Status);
}

/// The API of the TensorFlow in this process, or `None` when there is none (or it lacks a
/// function): then the library registers nothing. A miss is not remembered, so a later
/// `rectify_register_tf()` finds a TensorFlow loaded after this library.
pub fn api() -> Option<&'static Api> {
    static API: OnceLock<Api> = OnceLock::new();
    if let Some(api) = API.get() {
        return Some(api);
    }
    let name = c"libtensorflow_framework.so.2";
    // SAFETY: RTLD_NOLOAD only finds a library already loaded (it never loads one);
    // RTLD_DEFAULT searches the global scope.
    let api = unsafe {
        let handle = libc::dlopen(name.as_ptr(), libc::RTLD_NOW | libc::RTLD_NOLOAD);
        let api = Api::resolve(if handle.is_null() { libc::RTLD_DEFAULT } else { handle });
        // The NOLOAD reference is dropped; TensorFlow itself keeps the library loaded.
        if !handle.is_null() {
            libc::dlclose(handle);
        }
        api
    }?;
    Some(API.get_or_init(|| api))
}

/// An owned `TF_Status`.
pub struct Status<'a> {
    api: &'a Api,
    raw: *mut TF_Status,
}

impl<'a> Status<'a> {
    pub fn new(api: &'a Api) -> Self {
        // SAFETY: TF_NewStatus has no preconditions; the status is deleted on drop.
        Self { api, raw: unsafe { (api.TF_NewStatus)() } }
    }

    pub fn raw(&self) -> *mut TF_Status {
        self.raw
    }

    pub fn is_ok(&self) -> bool {
        // SAFETY: a live status.
        unsafe { (self.api.TF_GetCode)(self.raw) == TF_OK }
    }

    pub fn message(&self) -> String {
        // SAFETY: a live status; TF_Message returns a NUL-terminated string it owns.
        unsafe { CStr::from_ptr((self.api.TF_Message)(self.raw)).to_string_lossy().into_owned() }
    }

    pub fn set(&self, code: c_int, message: &str) {
        let message = CString::new(message.replace('\0', " ")).unwrap_or_default();
        // SAFETY: a live status; TF copies the message.
        unsafe { (self.api.TF_SetStatus)(self.raw, code, message.as_ptr()) }
    }
}

impl Drop for Status<'_> {
    fn drop(&mut self) {
        // SAFETY: created by TF_NewStatus, deleted once.
        unsafe { (self.api.TF_DeleteStatus)(self.raw) }
    }
}

/// An owned `TF_Tensor` handle from `TF_GetInput` / `TF_AllocateOutput`, with its data
/// pointer and element count read once.
pub struct Tensor<'a> {
    api: &'a Api,
    raw: *mut TF_Tensor,
    data: *mut c_void,
    len: usize,
}

impl<'a> Tensor<'a> {
    /// # Safety
    /// `raw` is a tensor handle the caller owns.
    pub unsafe fn from_raw(api: &'a Api, raw: *mut TF_Tensor) -> Self {
        // SAFETY: a live tensor (the caller's guarantee).
        let (data, count) = unsafe { ((api.TF_TensorData)(raw), (api.TF_TensorElementCount)(raw)) };
        Self { api, raw, data, len: usize::try_from(count).unwrap_or(0) }
    }

    pub fn dtype(&self) -> c_int {
        // SAFETY: a live tensor.
        unsafe { (self.api.TF_TensorType)(self.raw) }
    }

    pub fn shape(&self) -> Dims {
        // SAFETY: a live tensor; every index is below TF_NumDims.
        unsafe {
            let mut dims = Dims::zeros(usize::try_from((self.api.TF_NumDims)(self.raw)).unwrap_or(0));
            for (i, d) in dims.iter_mut().enumerate() {
                *d = (self.api.TF_Dim)(self.raw, i as c_int);
            }
            dims
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn data(&self) -> *mut c_void {
        self.data
    }

    /// Lets the handle go (so that it no longer counts as a holder of the buffer) and keeps
    /// the elements' address, which the kernel context keeps alive for the rest of the call:
    /// `'c` is the borrow of that context.
    pub fn release<'c>(self) -> Released<'c> {
        Released { data: self.data, len: self.len, _context: std::marker::PhantomData }
    }

    /// The elements, read as `T`.
    ///
    /// # Safety
    /// The tensor's element type is `T` and nobody writes it while the slice lives.
    pub unsafe fn as_slice<T>(&self) -> &[T] {
        // SAFETY: the caller's guarantee; the handle keeps the buffer alive.
        unsafe { elements(self.data, self.len) }
    }

    /// The elements, written as `T`.
    ///
    /// # Safety
    /// The tensor's element type is `T`, it was allocated for this kernel's output, and no
    /// other slice of it lives.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn as_mut_slice<T>(&self) -> &mut [T] {
        if self.len == 0 || self.data.is_null() {
            return &mut [];
        }
        // SAFETY: TF's buffer holds `len` aligned elements of T, ours alone (the caller's guarantee).
        unsafe { std::slice::from_raw_parts_mut(self.data.cast::<T>(), self.len) }
    }
}

impl Drop for Tensor<'_> {
    fn drop(&mut self) {
        // SAFETY: the handle is ours and deleted once.
        unsafe { (self.api.TF_DeleteTensor)(self.raw) }
    }
}

/// An input's elements after its handle was let go ([`Tensor::release`]): the kernel context
/// holds the input until the compute call returns, and `'c` borrows that context.
pub struct Released<'c> {
    data: *mut c_void,
    len: usize,
    _context: std::marker::PhantomData<&'c ()>,
}

impl Released<'_> {
    /// # Safety
    /// The input's element type is `T`, TensorFlow did not hand its buffer to an output of
    /// this call, and nobody writes it while the slice lives.
    pub unsafe fn as_slice<T>(&self) -> &[T] {
        // SAFETY: the caller's guarantee; the context keeps the buffer alive for the call.
        unsafe { elements(self.data, self.len) }
    }
}

/// # Safety
/// `data` holds `len` aligned elements of `T` (or `len` is 0), alive and unwritten for `'b`.
unsafe fn elements<'b, T>(data: *mut c_void, len: usize) -> &'b [T] {
    if len == 0 || data.is_null() {
        return &[];
    }
    // SAFETY: the caller's guarantee.
    unsafe { std::slice::from_raw_parts(data.cast::<T>(), len) }
}
