//! One `compute` call's view of TensorFlow: its inputs, its outputs (new, or in an input's
//! buffer that TensorFlow hands over), and the failure it reports.

use std::ffi::c_int;

use crate::api::{Api, Released, Status, TF_INTERNAL, TF_INVALID_ARGUMENT, TF_OpKernelContext, TF_Tensor, Tensor};
use crate::pages;

/// A failure reported to TensorFlow: its code and message.
pub struct Failure(pub(crate) c_int, pub(crate) String);

impl Failure {
    pub fn invalid(op: &str, message: impl std::fmt::Display) -> Self {
        Self(TF_INVALID_ARGUMENT, format!("rectify: {op}: {message}"))
    }
}

impl From<rectify::Error> for Failure {
    /// A bad input or attribute is TensorFlow's INVALID_ARGUMENT; anything else (a panic,
    /// a runtime failure) is INTERNAL.
    fn from(e: rectify::Error) -> Self {
        let code = match e.kind() {
            rectify::ErrorKind::InvalidArgument => TF_INVALID_ARGUMENT,
            rectify::ErrorKind::Panic | rectify::ErrorKind::Runtime => TF_INTERNAL,
        };
        Self(code, e.to_string())
    }
}

/// The callback context of one `compute` call, with the one status its TensorFlow calls
/// share (each clears it on success; a failure ends the call).
pub struct Context<'a> {
    api: &'a Api,
    raw: *mut TF_OpKernelContext,
    status: Status<'a>,
}

impl<'a> Context<'a> {
    /// # Safety
    /// `raw` is the context TensorFlow passed to this compute call, live while this is.
    pub unsafe fn new(api: &'a Api, raw: *mut TF_OpKernelContext) -> Self {
        Self { api, raw, status: Status::new(api) }
    }

    /// Ends the call with `failure` as the op's error.
    pub fn fail(&self, Failure(code, message): Failure) {
        self.status.set(code, &message);
        // SAFETY: a live kernel context; TF copies the status.
        unsafe { (self.api.TF_OpKernelContext_Failure)(self.raw, self.status.raw()) };
    }

    pub fn input(&self, i: c_int) -> Result<Tensor<'a>, Failure> {
        let status = &self.status;
        let mut raw: *mut TF_Tensor = std::ptr::null_mut();
        // SAFETY: a live kernel context; on success TF hands us the tensor handle.
        unsafe { (self.api.TF_GetInput)(self.raw, i, &mut raw, status.raw()) };
        if !status.is_ok() {
            return Err(Failure(TF_INTERNAL, status.message()));
        }
        // SAFETY: TF_GetInput passed ownership of this handle.
        Ok(unsafe { Tensor::from_raw(self.api, raw) })
    }

    pub fn output(&self, i: c_int, dtype: c_int, shape: &[i64], bytes: usize) -> Result<Tensor<'a>, Failure> {
        let status = &self.status;
        // SAFETY: a live kernel context; `shape` has `shape.len()` dims.
        let raw = unsafe {
            (self.api.TF_AllocateOutput)(self.raw, i, dtype, shape.as_ptr(), shape.len() as c_int, bytes, status.raw())
        };
        if !status.is_ok() || raw.is_null() {
            return Err(Failure(TF_INTERNAL, status.message()));
        }
        // SAFETY: TF_AllocateOutput passed ownership of this handle.
        let output = unsafe { Tensor::from_raw(self.api, raw) };
        pages::advise_huge_pages(output.data(), bytes);
        Ok(output)
    }

    /// Output 0, shaped like `inputs` (inputs 0.., let go here), in the buffer of one of them
    /// where TensorFlow can give it (nothing else holds that input; TensorFlow's own
    /// element-wise kernels offer every input of the output's shape too), else a new
    /// output. Returned with each input's elements, `None` for the one whose buffer the
    /// output took.
    pub fn forward_or_output<'c, const N: usize>(
        &'c self,
        inputs: [Tensor<'a>; N],
        shape: &[i64],
        bytes: usize,
    ) -> Result<(Tensor<'a>, [Option<Released<'c>>; N]), Failure> {
        let status = &self.status;
        let inputs = inputs.map(Tensor::release); // a live handle would count as a second holder
        let candidates: [c_int; N] = std::array::from_fn(|i| i as c_int);
        let mut forwarded: c_int = -1;
        // SAFETY: a live kernel context; N candidate indices; `shape` has `shape.len()` dims.
        let raw = unsafe {
            (self.api.TF_ForwardInputOrAllocateOutput)(
                self.raw,
                candidates.as_ptr(),
                N as c_int,
                0,
                shape.as_ptr(),
                shape.len() as c_int,
                &mut forwarded,
                status.raw(),
            )
        };
        if !status.is_ok() || raw.is_null() {
            return Err(Failure(TF_INTERNAL, status.message()));
        }
        // SAFETY: TF_ForwardInputOrAllocateOutput passed ownership of this handle.
        let output = unsafe { Tensor::from_raw(self.api, raw) };
        let forwarded = usize::try_from(forwarded).ok().filter(|&i| i < N);
        if forwarded.is_none() {
            pages::advise_huge_pages(output.data(), bytes);
        }
        let mut i = 0..;
        Ok((output, inputs.map(|input| (i.next() != forwarded).then_some(input))))
    }
}
