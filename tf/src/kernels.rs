//! The kernels TensorFlow instantiates: `create` reads the attributes once per node,
//! `compute` runs per call (concurrently: a kernel's state is immutable but for RRelu's
//! atomic run counter), `delete` frees it. Every callback runs under rectify's panic boundary.

use std::ffi::{CString, c_void};
use std::sync::atomic::{AtomicU64, Ordering};

use half::{bf16, f16};
use rectify::boundary;
use rectify::kernels::{Prelu, Rrelu};

use crate::api::{Api, Status, TF_INTERNAL, TF_INVALID_ARGUMENT, TF_OpKernelConstruction, TF_OpKernelContext, Tensor};
use crate::context::{Context, Failure};
use crate::math::TfElement;
use crate::pages;

/// One node's configured kernel.
pub enum Kernel {
    LeakyRelu { alpha: f32 },
    LeakyReluGrad { alpha: f32 },
    Prelu,
    PreluGrad,
    Rrelu { params: Rrelu, runs: AtomicU64 },
    RreluGrad,
}

/// Runs a callback body under rectify's panic boundary: a panic becomes INTERNAL, naming
/// the op and the panic's message.
fn guarded<R>(op: &str, f: impl FnOnce() -> Result<R, Failure>) -> Result<R, Failure> {
    boundary::catch_with(f, |message| {
        Err(Failure(TF_INTERNAL, format!("rectify: {op}: internal error (panic): {message}")))
    })
}

/// Attribute reads during kernel construction.
pub struct Construction<'a> {
    api: &'a Api,
    raw: *mut TF_OpKernelConstruction,
}

impl Construction<'_> {
    fn attr<T: Default>(
        &self,
        name: &str,
        get: unsafe extern "C" fn(
            *mut TF_OpKernelConstruction,
            *const std::ffi::c_char,
            *mut T,
            *mut crate::api::TF_Status,
        ),
    ) -> Result<T, Failure> {
        let status = Status::new(self.api);
        let cname = CString::new(name).expect("attribute names have no NUL");
        let mut value = T::default();
        // SAFETY: a live construction context, a NUL-terminated name, a valid out pointer.
        unsafe { get(self.raw, cname.as_ptr(), &mut value, status.raw()) };
        if !status.is_ok() {
            return Err(Failure(TF_INVALID_ARGUMENT, format!("attribute '{name}': {}", status.message())));
        }
        Ok(value)
    }

    pub fn float(&self, name: &str) -> Result<f32, Failure> {
        self.attr(name, self.api.TF_OpKernelConstruction_GetAttrFloat)
    }

    pub fn int(&self, name: &str) -> Result<i64, Failure> {
        self.attr(name, self.api.TF_OpKernelConstruction_GetAttrInt64)
    }

    pub fn bool(&self, name: &str) -> Result<bool, Failure> {
        Ok(self.attr::<u8>(name, self.api.TF_OpKernelConstruction_GetAttrBool)? != 0)
    }
}

/// Builds the kernel for `op` from its attributes, or reports why not.
///
/// # Safety
/// `raw` is the construction context TensorFlow passed to a create callback.
pub unsafe fn create(
    raw: *mut TF_OpKernelConstruction,
    op: &str,
    build: fn(&Construction<'_>) -> Result<Kernel, Failure>,
) -> *mut c_void {
    let Some(api) = crate::api::api() else { return std::ptr::null_mut() };
    let construction = Construction { api, raw };
    let outcome = guarded(op, || build(&construction));
    match outcome {
        Ok(kernel) => Box::into_raw(Box::new(kernel)).cast(),
        Err(Failure(code, message)) => {
            let status = Status::new(api);
            status.set(code, &message);
            // SAFETY: a live construction context; TF copies the status.
            unsafe { (api.TF_OpKernelConstruction_Failure)(raw, status.raw()) };
            std::ptr::null_mut()
        }
    }
}

pub fn leaky_relu(c: &Construction<'_>) -> Result<Kernel, Failure> {
    let alpha = c.float("alpha")?;
    rectify::kernels::LeakyRelu::new(alpha)?;
    Ok(Kernel::LeakyRelu { alpha })
}

pub fn leaky_relu_grad(c: &Construction<'_>) -> Result<Kernel, Failure> {
    let alpha = c.float("alpha")?;
    // The forward op's check, reported under the gradient's name.
    rectify::kernels::LeakyRelu::new(alpha).map_err(|e| Failure::invalid("LeakyReluGrad", e.message()))?;
    Ok(Kernel::LeakyReluGrad { alpha })
}

pub fn rrelu(c: &Construction<'_>) -> Result<Kernel, Failure> {
    let seed = c.int("seed")?;
    let seed = u64::try_from(seed)
        .map_err(|_| Failure::invalid("Rrelu", format!("attribute 'seed' must be >= 0, got {seed}")))?;
    let params = Rrelu::with_mode(c.float("lower")?, c.float("upper")?, c.bool("training")?, seed)?;
    Ok(Kernel::Rrelu { params, runs: AtomicU64::new(0) })
}

/// Runs one call of `kernel`; failures go back to TensorFlow as the op's error.
///
/// # Safety
/// `kernel` came from [`create`]; `raw` is the context TensorFlow passed to compute.
pub unsafe fn compute(kernel: *mut c_void, raw: *mut TF_OpKernelContext) {
    let Some(api) = crate::api::api() else { return };
    // SAFETY: `create` made this pointer from a Box<Kernel>; TF keeps it alive until delete.
    let kernel = unsafe { &*kernel.cast::<Kernel>() };
    // SAFETY: the live context of this call (the caller's guarantee).
    let ctx = unsafe { Context::new(api, raw) };
    if let Err(failure) = guarded(kernel.name(), || kernel.compute(&ctx)) {
        ctx.fail(failure);
    }
}

/// # Safety
/// `kernel` came from [`create`] and is not used again.
pub unsafe fn delete(kernel: *mut c_void) {
    if !kernel.is_null() {
        // SAFETY: made by Box::into_raw in `create`, freed once.
        drop(unsafe { Box::from_raw(kernel.cast::<Kernel>()) });
    }
}

impl Kernel {
    fn name(&self) -> &'static str {
        match self {
            Kernel::LeakyRelu { .. } => "LeakyRelu",
            Kernel::LeakyReluGrad { .. } => "LeakyReluGrad",
            Kernel::Prelu => "Prelu",
            Kernel::PreluGrad => "PreluGrad",
            Kernel::Rrelu { .. } => "Rrelu",
            Kernel::RreluGrad => "RreluGrad",
        }
    }

    fn compute(&self, ctx: &Context<'_>) -> Result<(), Failure> {
        let x = ctx.input(0)?;
        match x.dtype() {
            f32::DTYPE => self.compute_typed::<f32>(ctx, x),
            f64::DTYPE => self.compute_typed::<f64>(ctx, x),
            f16::DTYPE => self.compute_typed::<f16>(ctx, x),
            bf16::DTYPE => self.compute_typed::<bf16>(ctx, x),
            other => Err(Failure::invalid(self.name(), format!("unsupported TF_DataType {other}"))),
        }
    }

    fn compute_typed<T: TfElement>(&self, ctx: &Context<'_>, first: Tensor<'_>) -> Result<(), Failure> {
        let op = self.name();
        let shape = first.shape();
        let bytes = first.len() * size_of::<T>();
        // Every `unsafe` below reads or writes tensors as T: TF's type constraint makes every
        // input and output a tensor of T; an output is freshly allocated, or an input's buffer
        // TensorFlow handed over (forward_or_output), then written in place and read from nowhere else.
        match self {
            Kernel::LeakyRelu { alpha } => {
                let (k, alpha) = (T::kernels(), T::from_f32(*alpha));
                let (y, [x]) = ctx.forward_or_output([first], &shape, bytes)?;
                // SAFETY: tensors of T (type constraint); `y` is either fresh or X's buffer
                // given to us alone (then `x` is None), so no other slice of it lives.
                unsafe {
                    match x {
                        None => k.tf_leaky_relu_in_place(y.as_mut_slice::<T>(), alpha),
                        Some(x) => k.tf_leaky_relu(x.as_slice::<T>(), y.as_mut_slice::<T>(), alpha),
                    }
                }
            }
            Kernel::LeakyReluGrad { alpha } => {
                let (k, alpha) = (T::kernels(), T::from_f32(*alpha));
                gradient(
                    ctx,
                    op,
                    (first, "features"),
                    |g, x, out| k.tf_leaky_relu_grad(g, x, out, alpha),
                    |g, x| k.tf_leaky_relu_grad_in_place(g, x, alpha),
                    |g, x| k.tf_leaky_relu_grad_into_features(g, x, alpha),
                )?;
            }
            Kernel::Prelu => {
                let slope = ctx.input(1)?;
                let plan = Prelu::new(None).plan(&shape, &slope.shape())?;
                let k = T::kernels();
                // In place only for outputs of 32 MiB and more (those malloc maps on their
                // own): there writing over the input saves a second buffer's traffic; smaller
                // outputs come warm from the allocator, and the in-place blocks' copy cost more
                // than it saved (alternating bench-tf runs, float32 PRelu of a temporary:
                // 64K 1.82x -> 1.59x, 1M 2.25x -> 2.16x, 16M 2.04x -> 2.28x).
                let (y, [x]) = if bytes >= pages::ADVISED_BYTES {
                    ctx.forward_or_output([first], &shape, bytes)?
                } else {
                    (ctx.output(0, T::DTYPE, &shape, bytes)?, [Some(first.release())])
                };
                // SAFETY: tensors of T (type constraint); `y` is either fresh or X's buffer
                // given to us alone (then `x` is None), so no other slice of it lives.
                unsafe {
                    match x {
                        None => k.tf_prelu_in_place(&plan, y.as_mut_slice::<T>(), slope.as_slice()),
                        Some(x) => k.tf_prelu(&plan, x.as_slice::<T>(), slope.as_slice(), y.as_mut_slice()),
                    }
                }
            }
            Kernel::PreluGrad => {
                let (x, slope) = (ctx.input(1)?, ctx.input(2)?);
                same_shape(op, ("gradients", &shape), ("features", &x.shape()))?;
                let slope_shape = slope.shape();
                let plan = Prelu::new(None).plan(&shape, &slope_shape)?;
                let dx = ctx.output(0, T::DTYPE, &shape, bytes)?;
                let ds = ctx.output(1, T::DTYPE, &slope_shape, slope.len() * size_of::<T>())?;
                // SAFETY: tensors of T (type constraint), outputs fresh and unaliased.
                unsafe {
                    T::kernels().tf_prelu_grad(
                        &plan,
                        first.as_slice(),
                        x.as_slice(),
                        slope.as_slice(),
                        dx.as_mut_slice(),
                        ds.as_mut_slice(),
                    )
                };
            }
            Kernel::Rrelu { params, runs } => {
                params.check_element_type::<T>()?;
                if params.training() {
                    let y = ctx.output(0, T::DTYPE, &shape, bytes)?;
                    let slopes = ctx.output(1, T::DTYPE, &shape, bytes)?;
                    // SAFETY: tensors of T (type constraint), outputs fresh and unaliased.
                    let (xs, ys, ss) =
                        unsafe { (first.as_slice::<T>(), y.as_mut_slice::<T>(), slopes.as_mut_slice::<T>()) };
                    let run = runs.fetch_add(1, Ordering::Relaxed);
                    params.run_range(run, 0, xs, ys, Some(ss));
                    return Ok(());
                }
                let (k, alpha) = (T::kernels(), T::from_f32(params.mean_slope()));
                let (y, [x]) = ctx.forward_or_output([first], &shape, bytes)?;
                let slopes = ctx.output(1, T::DTYPE, &shape, bytes)?;
                // SAFETY: tensors of T (type constraint); the slopes fresh, `y` either fresh or
                // X's buffer given to us alone (then `x` is None), so no other slice of it lives.
                unsafe {
                    let (ys, ss) = (y.as_mut_slice::<T>(), slopes.as_mut_slice::<T>());
                    match x {
                        None => k.tf_rrelu_inference_in_place(ys, ss, alpha),
                        Some(x) => k.tf_rrelu_inference(x.as_slice::<T>(), ys, ss, alpha),
                    }
                }
            }
            Kernel::RreluGrad => {
                let k = T::kernels();
                gradient(
                    ctx,
                    op,
                    (first, "slopes"),
                    |g, s, out| k.tf_rrelu_grad(g, s, out),
                    |g, s| k.tf_rrelu_grad_in_place(g, s),
                    |g, s| k.tf_rrelu_grad_into_slopes(g, s),
                )?;
            }
        }
        Ok(())
    }
}

/// A gradient op of (gradients, `second`) with one output shaped like both, written where
/// TensorFlow hands over an input's buffer, as for its own gradients: the upstream
/// gradients' (`into_gradients(g then dx, second)`) or the second input's
/// (`into_second(g, second then dx)`), else a new output (`out_of_place(g, second, dx)`).
fn gradient<T: TfElement>(
    ctx: &Context<'_>,
    op: &str,
    (gradients, second_name): (Tensor<'_>, &str),
    out_of_place: impl Fn(&[T], &[T], &mut [T]),
    into_gradients: impl Fn(&mut [T], &[T]),
    into_second: impl Fn(&[T], &mut [T]),
) -> Result<(), Failure> {
    let (shape, bytes) = (gradients.shape(), gradients.len() * size_of::<T>());
    let second = ctx.input(1)?;
    same_shape(op, ("gradients", &shape), (second_name, &second.shape()))?;
    let (out, inputs) = ctx.forward_or_output([gradients, second], &shape, bytes)?;
    // SAFETY: tensors of T (type constraint); `out` is either fresh or the buffer of the
    // one input given to us alone (whose entry is None), so no other slice of it lives.
    unsafe {
        match inputs {
            [None, Some(second)] => into_gradients(out.as_mut_slice::<T>(), second.as_slice()),
            [Some(g), None] => into_second(g.as_slice(), out.as_mut_slice::<T>()),
            [Some(g), Some(second)] => out_of_place(g.as_slice(), second.as_slice(), out.as_mut_slice()),
            [None, None] => unreachable!("one output takes at most one input's buffer"),
        }
    }
    Ok(())
}

fn same_shape(op: &str, (a, a_shape): (&str, &[i64]), (b, b_shape): (&str, &[i64])) -> Result<(), Failure> {
    if a_shape != b_shape {
        return Err(Failure::invalid(
            op,
            format!(
                "'{a}' of shape {} and '{b}' of shape {} must have the same shape",
                rectify::error::shape_string(a_shape),
                rectify::error::shape_string(b_shape)
            ),
        ));
    }
    Ok(())
}
