//! A rectify node in tract: [`RectifyExpansion`] for the inference model (type and shape
//! rules), wiring one [`RectifyOp`] into the typed model, which runs the pure kernels.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use half::f16;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::{as_op, op_as_typed_op};
use tract_onnx::tract_hir::internal::*;

use rectify::Error;
use rectify::kernels::{Element, in_place};
use rectify::ops::{OpKind, OpParams};

/// A configured rectify op with its number of outputs (RRelu's `Slope` is optional).
#[derive(Clone, Debug)]
pub struct RectifyExpansion {
    params: OpParams,
    outputs: usize,
}

impl RectifyExpansion {
    pub fn new(params: OpParams, outputs: usize) -> Self {
        Self { params, outputs }
    }
}

impl Expansion for RectifyExpansion {
    fn name(&self) -> StaticName {
        format!("rectify.{}", self.params.kind().name()).into()
    }

    fn nboutputs(&self) -> TractResult<usize> {
        Ok(self.outputs)
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, self.params.kind().spec().inputs.len())?;
        check_output_arity(outputs, self.outputs)?;
        for input in &inputs[1..] {
            s.equals(&input.datum_type, &inputs[0].datum_type)?;
        }
        for output in outputs {
            s.equals(&output.datum_type, &inputs[0].datum_type)?;
            s.equals(&output.shape, &inputs[0].shape)?;
        }
        Ok(())
    }

    fn wire(&self, prefix: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        let op = RectifyOp { params: self.params, outputs: self.outputs, runs: Arc::new(AtomicU64::new(0)) };
        model.wire_node(prefix, op, inputs)
    }
}

/// The typed op. `runs` counts evaluations of this model's node: the RRelu training
/// stream of each run, as ONNX Runtime counts compute calls per session.
#[derive(Clone, Debug)]
pub struct RectifyOp {
    params: OpParams,
    outputs: usize,
    runs: Arc<AtomicU64>,
}

impl PartialEq for RectifyOp {
    fn eq(&self, other: &Self) -> bool {
        self.params == other.params && self.outputs == other.outputs
    }
}

impl Eq for RectifyOp {}

impl RectifyOp {
    fn op(&self) -> &'static str {
        self.params.kind().name()
    }

    /// Training RRelu draws new slopes each run: never fold it into a constant.
    fn is_random(&self) -> bool {
        matches!(self.params, OpParams::RRelu(p) if p.training())
    }

    fn check_type(&self, name: &str, dt: DatumType) -> TractResult<()> {
        if ![DatumType::F16, DatumType::F32, DatumType::F64].contains(&dt) {
            let message =
                format!("'{name}' must be tensor(float), tensor(double) or tensor(float16) in tract, got {dt:?}");
            return Err(Error::invalid(self.op(), message).into());
        }
        Ok(())
    }

    fn eval_typed<T: Element + Datum>(&self, mut inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let mut y = inputs.remove(0).into_tensor();
        let shape = y.shape().to_vec();
        let mut slope_out = match self.outputs {
            2 => Some(Tensor::zero_dt(T::datum_type(), &shape)?),
            _ => None,
        };
        {
            let mut view = y.try_as_plain_ram_mut()?;
            let ys = view.as_slice_mut::<T>()?;
            match self.params {
                OpParams::LeakyRelu(p) => in_place(ys, |_, x, y| p.run(x, y)),
                OpParams::PRelu(p) => {
                    let slope = &inputs[0];
                    self.check_type("slope", slope.datum_type())?;
                    let plan = p.plan(&dims(&shape), &dims(slope.shape()))?;
                    let view = slope.try_as_plain_ram()?;
                    let slopes = view.as_slice::<T>()?;
                    in_place(ys, |at, x, y| plan.run_range(x, slopes, at..at + x.len(), y));
                }
                OpParams::RRelu(p) => {
                    p.check_element_type::<T>()?;
                    let run = self.runs.fetch_add(1, Ordering::Relaxed);
                    let mut view = slope_out.as_mut().map(|t| t.try_as_plain_ram_mut()).transpose()?;
                    let mut slopes = view.as_mut().map(|v| v.as_slice_mut::<T>()).transpose()?;
                    in_place(ys, |at, x, y| {
                        let slope = slopes.as_deref_mut().map(|s| &mut s[at..at + x.len()]);
                        p.run_range(run, at, x, y, slope)
                    });
                }
            }
        }
        let mut outputs = tvec!(y.into_tvalue());
        outputs.extend(slope_out.map(Tensor::into_tvalue));
        Ok(outputs)
    }
}

fn dims(shape: &[usize]) -> Vec<i64> {
    shape.iter().map(|&d| d as i64).collect()
}

impl Op for RectifyOp {
    fn name(&self) -> StaticName {
        format!("rectify.{}", self.op()).into()
    }

    op_as_typed_op!();
}

impl EvalOp for RectifyOp {
    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let dt = inputs[0].datum_type();
        self.check_type("X", dt)?;
        match dt {
            DatumType::F16 => self.eval_typed::<f16>(inputs),
            DatumType::F32 => self.eval_typed::<f32>(inputs),
            _ => self.eval_typed::<f64>(inputs),
        }
    }

    fn eval_out_of_plan(&self, inputs: TVec<TValue>) -> TractResult<Option<TVec<TValue>>> {
        if self.is_random() {
            return Ok(None);
        }
        Ok(Some(self.eval(&EvalContext::out_of_plan(), inputs)?))
    }
}

impl TypedOp for RectifyOp {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let x = inputs[0];
        self.check_type("X", x.datum_type)?;
        if self.params.kind() == OpKind::PRelu && inputs[1].datum_type != x.datum_type {
            let message = format!("'slope' must have X's type {:?}, got {:?}", x.datum_type, inputs[1].datum_type);
            return Err(Error::invalid(self.op(), message).into());
        }
        Ok((0..self.outputs).map(|_| x.datum_type.fact(x.shape.clone())).collect())
    }

    as_op!();
}
