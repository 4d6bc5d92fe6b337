//! One kernel instance per node: validated attributes, the element type, and the compute
//! call that adapts ORT tensors to the pure kernels.

use std::ffi::c_void;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use half::{bf16, f16};
use ort_sys::ONNXTensorElementDataType::{
    ONNX_TENSOR_ELEMENT_DATA_TYPE_BFLOAT16, ONNX_TENSOR_ELEMENT_DATA_TYPE_DOUBLE, ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT,
    ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16,
};

use super::api::{Api, KernelContext, OutputTensor, TensorView};
use crate::boundary;
use crate::error::{Error, Result};
use crate::kernels::Element;
use crate::kernels::prelu::element_count;
use crate::ops::{DType, Input, NodeSignature, OpParams, run_block};

/// Elements per ParallelFor task; tensors shorter than two grains run in the caller.
const PARALLEL_GRAIN: usize = 1 << 13;
/// Most tasks per ParallelFor call: enough to balance a pool, few enough that the cost of
/// each task (ORT's dispatch, our wrapper) vanishes on large tensors (one thread, 4M
/// elements: 512 tasks cost about 2% over one call).
const MAX_TASKS: usize = 64;

/// Elements per task for a tensor of `len`: a whole number of grains, so every task starts
/// at a cache-line and Philox-group boundary.
fn chunk_len(len: usize) -> usize {
    len.div_ceil(MAX_TASKS).next_multiple_of(PARALLEL_GRAIN)
}

/// An element type together with its ONNX type id.
trait OrtElement: Element {
    const TYPE_ID: i32;
}

impl OrtElement for f32 {
    const TYPE_ID: i32 = ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT as i32;
}
impl OrtElement for f64 {
    const TYPE_ID: i32 = ONNX_TENSOR_ELEMENT_DATA_TYPE_DOUBLE as i32;
}
impl OrtElement for f16 {
    const TYPE_ID: i32 = ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16 as i32;
}
impl OrtElement for bf16 {
    const TYPE_ID: i32 = ONNX_TENSOR_ELEMENT_DATA_TYPE_BFLOAT16 as i32;
}

/// Kernels created and not yet destroyed, in this library load.
static LIVE_KERNELS: AtomicUsize = AtomicUsize::new(0);

pub fn live_kernels() -> usize {
    LIVE_KERNELS.load(Ordering::SeqCst)
}

pub struct Kernel {
    api: Api,
    params: OpParams,
    dtype: DType,
    /// The outputs this node has: compute asks ORT for no other index.
    signature: NodeSignature,
    /// Counts compute calls: the RRelu training stream of each run.
    runs: AtomicU64,
}

impl Kernel {
    pub fn new(params: OpParams, dtype: DType, signature: NodeSignature, api: Api) -> Self {
        LIVE_KERNELS.fetch_add(1, Ordering::SeqCst);
        Self { api, params, dtype, signature, runs: AtomicU64::new(0) }
    }

    pub fn api(&self) -> Api {
        self.api
    }

    pub fn op(&self) -> &'static str {
        self.params.kind().name()
    }

    pub fn compute(&self, ctx: &KernelContext) -> Result<()> {
        #[cfg(feature = "fault-injection")]
        super::fault::inject(super::fault::Point::Compute, &self.params);
        match self.dtype {
            DType::Float => self.compute_typed::<f32>(ctx),
            DType::Double => self.compute_typed::<f64>(ctx),
            DType::Float16 => self.compute_typed::<f16>(ctx),
            DType::BFloat16 => self.compute_typed::<bf16>(ctx),
        }
    }

    fn compute_typed<T: OrtElement>(&self, ctx: &KernelContext) -> Result<()> {
        let op = self.op();
        let x = required(op, "X", ctx.input(op, 0)?)?;
        let len = element_count(op, "X", &x.shape)?;
        check_type::<T>(op, "X", x.element_type)?;
        let names = self.params.kind().spec().inputs;
        let views =
            (1..names.len()).map(|i| required(op, names[i], ctx.input(op, i)?)).collect::<Result<Vec<TensorView>>>()?;
        let inputs = views
            .iter()
            .zip(&names[1..])
            .map(|(view, &name)| {
                let count = element_count(op, name, &view.shape)?;
                Ok(Input { shape: &view.shape, data: input_slice::<T>(op, name, view, count)? })
            })
            .collect::<Result<Vec<_>>>()?;
        let call = self.params.prepare(&x.shape, &inputs, self.runs.fetch_add(1, Ordering::Relaxed))?;
        let mut y = ctx.output(op, 0, &x.shape, T::TYPE_ID)?.ok_or_else(|| missing(op, "Y"))?;
        // ORT may hand us X's own buffer as Y (ops whose spec allows it): then there is no
        // separate input slice, and the call runs block-wise in place.
        let aliased = len > 0 && x.data == y.data;
        let xs = if aliased { None } else { Some(input_slice::<T>(op, "X", &x, len)?) };
        let ys = output_slice::<T>(op, "Y", &mut y, len)?;
        let mut slope = if self.signature.has_output(1) { ctx.output(op, 1, &x.shape, T::TYPE_ID)? } else { None };
        let slope_out = match slope.as_mut() {
            Some(s) => Some(output_slice::<T>(op, self.params.kind().spec().outputs[1].0, s, len)?),
            None => None,
        };
        run_chunked(ctx, op, ys, slope_out, &|c| {
            #[cfg(feature = "fault-injection")]
            if c.start > 0 {
                super::fault::inject(super::fault::Point::ParallelTask, &self.params);
            }
            let range = c.range();
            run_block(&*call, c.start, xs.map(|xs| &xs[range]), c.y, c.slope)
        })
    }
}

impl Drop for Kernel {
    fn drop(&mut self) {
        LIVE_KERNELS.fetch_sub(1, Ordering::SeqCst);
    }
}

fn required(op: &'static str, name: &str, value: Option<TensorView>) -> Result<TensorView> {
    value.ok_or_else(|| missing(op, name))
}

fn missing(op: &'static str, name: &str) -> Error {
    Error::invalid(op, format!("input or output '{name}' is missing"))
}

fn check_type<T: OrtElement>(op: &'static str, name: &str, element_type: i32) -> Result<()> {
    if element_type != T::TYPE_ID {
        return Err(Error::invalid(
            op,
            format!("'{name}' must be tensor({}), got ONNX element type {element_type}", T::ONNX_NAME),
        ));
    }
    Ok(())
}

fn input_slice<'a, T: OrtElement>(op: &'static str, name: &str, t: &'a TensorView, len: usize) -> Result<&'a [T]> {
    check_type::<T>(op, name, t.element_type)?;
    if len == 0 {
        return Ok(&[]);
    }
    // SAFETY: ORT's tensor holds `len` elements of T (type checked above), valid and not
    // written while this compute call runs; the caller takes it only when no output
    // aliases it (or drops it before making the output slice).
    Ok(unsafe { std::slice::from_raw_parts(t.data.cast::<T>(), len) })
}

fn output_slice<'a, T: OrtElement>(
    op: &'static str,
    name: &str,
    t: &'a mut OutputTensor,
    len: usize,
) -> Result<&'a mut [T]> {
    check_type::<T>(op, name, t.element_type)?;
    if len == 0 {
        return Ok(&mut []);
    }
    // SAFETY: ORT allocated this output for `len` elements of T for us alone.
    Ok(unsafe { std::slice::from_raw_parts_mut(t.data.cast::<T>(), len) })
}

/// A piece of the output: elements `start..start + y.len()`.
struct Chunk<'a, T> {
    start: usize,
    y: &'a mut [T],
    slope: Option<&'a mut [T]>,
}

impl<T> Chunk<'_, T> {
    fn range(&self) -> std::ops::Range<usize> {
        self.start..self.start + self.y.len()
    }
}

/// Runs `f` over the output, split over ORT's intra-op pool when the tensor is large and
/// the runtime has `KernelContext_ParallelFor`. Chunk bounds never change a result.
fn run_chunked<T: Send>(
    ctx: &KernelContext,
    op: &'static str,
    y: &mut [T],
    slope: Option<&mut [T]>,
    f: &(dyn Fn(Chunk<'_, T>) + Sync),
) -> Result<()> {
    let len = y.len();
    if len < 2 * PARALLEL_GRAIN || !ctx.api().has_parallel_for() {
        f(Chunk { start: 0, y, slope });
        return Ok(());
    }
    let step = chunk_len(len);
    let slopes: Vec<Option<&mut [T]>> = match slope {
        Some(s) => s.chunks_mut(step).map(Some).collect(),
        None => (0..len.div_ceil(step)).map(|_| None).collect(),
    };
    let chunks: Vec<Mutex<Option<Chunk<'_, T>>>> = y
        .chunks_mut(step)
        .zip(slopes)
        .enumerate()
        .map(|(i, (y, slope))| Mutex::new(Some(Chunk { start: i * step, y, slope })))
        .collect();
    parallel_for(ctx, op, chunks.len(), &|i| {
        if let Some(chunk) = chunks[i].lock().unwrap_or_else(PoisonError::into_inner).take() {
            f(chunk);
        }
        Ok(())
    })
}

/// The state one `KernelContext_ParallelFor` call shares with its tasks.
struct Job<'a> {
    op: &'static str,
    task: &'a (dyn Fn(usize) -> Result<()> + Sync),
    error: Mutex<Option<Error>>,
}

/// Task entry point called by ORT's pool; never unwinds.
unsafe extern "C" fn run_task(data: *mut c_void, index: usize) {
    boundary::catch_or((), || {
        // SAFETY: `data` is the `Job` that `parallel_for` keeps alive until ORT returns.
        let job = unsafe { &*data.cast::<Job<'_>>() };
        if let Err(err) = boundary::catch(job.op, || (job.task)(index)) {
            job.error.lock().unwrap_or_else(PoisonError::into_inner).get_or_insert(err);
        }
    })
}

/// Runs `task(0..count)` on ORT's intra-op pool; the first failure wins.
fn parallel_for(
    ctx: &KernelContext,
    op: &'static str,
    count: usize,
    task: &(dyn Fn(usize) -> Result<()> + Sync),
) -> Result<()> {
    let job = Job { op, task, error: Mutex::new(None) };
    let api = ctx.api();
    let data = (&job as *const Job<'_>).cast_mut().cast::<c_void>();
    // SAFETY: API >= 17 (checked by the caller); `job` outlives the call, which returns
    // only after every task has finished.
    let status = unsafe { (api.raw().KernelContext_ParallelFor)(ctx.raw(), run_task, count, 0, data) };
    api.check(op, "KernelContext_ParallelFor", status)?;
    job.error.into_inner().unwrap_or_else(PoisonError::into_inner).map_or(Ok(()), Err)
}
