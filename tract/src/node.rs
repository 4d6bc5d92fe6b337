//! A rectify node in tract: [`RectifyExpansion`] for the inference model (type and shape
//! rules), wiring one [`RectifyOp`] into the typed model, which runs the pure kernels.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use half::f16;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::{as_op, op_as_typed_op};
use tract_onnx::tract_hir::internal::*;

use rectify::Error;
use rectify::kernels::Element;
use rectify::ops::{Input, OpParams, run_block};

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
        self.params.is_random()
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
        let names = &self.params.kind().spec().inputs[1..];
        for (input, name) in inputs.iter().zip(names) {
            self.check_type(name, input.datum_type())?;
        }
        let views = inputs.iter().map(|t| t.try_as_plain_ram()).collect::<TractResult<Vec<_>>>()?;
        let input_dims: Vec<Vec<i64>> = inputs.iter().map(|t| dims(t.shape())).collect();
        let data = views.iter().map(|v| v.as_slice::<T>()).collect::<TractResult<Vec<_>>>()?;
        let extra: Vec<Input<'_, T>> =
            input_dims.iter().zip(&data).map(|(shape, &data)| Input { shape, data }).collect();
        let call = self.params.prepare(&dims(&shape), &extra, self.runs.fetch_add(1, Ordering::Relaxed))?;
        let mut slope_out = match self.outputs {
            2 => Some(Tensor::zero_dt(T::datum_type(), &shape)?),
            _ => None,
        };
        {
            let mut view = y.try_as_plain_ram_mut()?;
            let mut slope_view = slope_out.as_mut().map(|t| t.try_as_plain_ram_mut()).transpose()?;
            let slopes = slope_view.as_mut().map(|v| v.as_slice_mut::<T>()).transpose()?;
            run_block(&*call, 0, None, view.as_slice_mut::<T>()?, slopes);
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
        for (input, name) in inputs[1..].iter().zip(&self.params.kind().spec().inputs[1..]) {
            if input.datum_type != x.datum_type {
                let message = format!("'{name}' must have X's type {:?}, got {:?}", x.datum_type, input.datum_type);
                return Err(Error::invalid(self.op(), message).into());
            }
        }
        Ok((0..self.outputs).map(|_| x.datum_type.fact(x.shape.clone())).collect())
    }

    as_op!();
}
