//! LeakyRelu as a registry op: `alpha` (ONNX's default 0.01, TensorFlow's 0.2).

use super::spec::{Attribute, TfSpec};
use super::{AttributeSource, Call, Input, Op, OpKind, OpSpec, Twin};
use crate::error::Result;
use crate::kernels::leaky_relu::{DEFAULT_ALPHA, OP};
use crate::kernels::prelu::element_count;
use crate::kernels::{Element, LeakyRelu};

impl Op for LeakyRelu {
    const SPEC: OpSpec = OpSpec {
        kind: OpKind::LeakyRelu,
        name: OP,
        inputs: &["X"],
        outputs: &[("Y", false)],
        attributes: &[Attribute::Float { name: "alpha", default: DEFAULT_ALPHA }],
        builtin: "LeakyRelu",
        in_place: true,
        tensorflow: TfSpec {
            name: "Rectify>LeakyRelu",
            gradient: "Rectify>LeakyReluGrad",
            defaults: &[("alpha", 0.2)],
            bools: &[],
            omitted: &[],
            gradient_attributes: &["alpha"],
        },
    };

    fn configure(attrs: &impl AttributeSource) -> Result<Self> {
        LeakyRelu::new(attrs.float(OP, "alpha")?.unwrap_or(DEFAULT_ALPHA))
    }

    fn prepare<'a, T: Element>(&self, x_shape: &[i64], _: &[Input<'a, T>], _: u64) -> Result<Box<dyn Call<T> + 'a>> {
        let len = element_count(OP, "X", x_shape)?;
        Ok(Box::new(Whole { op: *self, bytes: len * size_of::<T>() }))
    }

    fn reference_slopes(&self, x_shape: &[usize], _: &[(&[usize], &[f64])]) -> Option<Vec<f64>> {
        Some(vec![f64::from(self.alpha()); x_shape.iter().product()])
    }

    fn twin(&self) -> Result<Twin> {
        Ok(Twin { op: "LeakyRelu", float_attributes: vec![("alpha", self.alpha())], slope_axis: None, outputs: 1 })
    }
}

/// A call over an output of `bytes`: the whole output's size decides whether the stores
/// stream, so every range of a split tensor writes the same way.
struct Whole {
    op: LeakyRelu,
    bytes: usize,
}

impl<T: Element> Call<T> for Whole {
    fn run(&self, _: usize, x: &[T], y: &mut [T], _: Option<&mut [T]>) {
        self.op.run_part(x, y, self.bytes);
    }
}
