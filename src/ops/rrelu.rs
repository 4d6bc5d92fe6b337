//! RRelu as a registry op: inference at the mean slope `(lower + upper) / 2`, or training
//! slopes drawn per element from a seeded counter-based stream, optionally output.

use super::spec::{Attribute, TfSpec};
use super::{AttributeSource, Call, Input, Op, OpKind, OpSpec, Twin};
use crate::error::{Error, Result};
use crate::kernels::rrelu::{DEFAULT_LOWER, DEFAULT_UPPER, OP};
use crate::kernels::{Element, Rrelu};

impl Op for Rrelu {
    const SPEC: OpSpec = OpSpec {
        kind: OpKind::RRelu,
        name: OP,
        inputs: &["X"],
        outputs: &[("Y", false), ("Slope", true)],
        attributes: &[
            Attribute::Float { name: "lower", default: DEFAULT_LOWER },
            Attribute::Float { name: "upper", default: DEFAULT_UPPER },
            Attribute::Int { name: "training", default: Some(0) },
            Attribute::Int { name: "seed", default: Some(0) },
        ],
        builtin: "LeakyRelu",
        in_place: false,
        tensorflow: TfSpec {
            name: "Rectify>Rrelu",
            gradient: "Rectify>RreluGrad",
            defaults: &[],
            bools: &["training"],
            omitted: &[],
            gradient_attributes: &[],
        },
    };

    fn configure(attrs: &impl AttributeSource) -> Result<Self> {
        Rrelu::new(
            attrs.float(OP, "lower")?.unwrap_or(DEFAULT_LOWER),
            attrs.float(OP, "upper")?.unwrap_or(DEFAULT_UPPER),
            attrs.int(OP, "training")?.unwrap_or(0),
            attrs.int(OP, "seed")?.unwrap_or(0),
        )
    }

    fn check_element_type<T: Element>(&self) -> Result<()> {
        Rrelu::check_element_type::<T>(self)
    }

    fn is_random(&self) -> bool {
        self.training()
    }

    fn prepare<'a, T: Element>(&self, _: &[i64], _: &[Input<'a, T>], run: u64) -> Result<Box<dyn Call<T> + 'a>> {
        Rrelu::check_element_type::<T>(self)?;
        Ok(Box::new(Run { op: *self, run }))
    }

    fn reference_slopes(&self, x_shape: &[usize], _: &[(&[usize], &[f64])]) -> Option<Vec<f64>> {
        (!self.training()).then(|| vec![f64::from(self.mean_slope()); x_shape.iter().product()])
    }

    fn twin(&self) -> Result<Twin> {
        if self.training() {
            return Err(Error::invalid(OP, "a training-mode RRelu draws random slopes and has no built-in equivalent")
                .on_attribute("training")
                .expected("0 (inference)")
                .found(1));
        }
        let alpha = self.mean_slope();
        Ok(Twin { op: "LeakyRelu", float_attributes: vec![("alpha", alpha)], slope_axis: None, outputs: 1 })
    }
}

/// Call `run` of the node: its training stream.
struct Run {
    op: Rrelu,
    run: u64,
}

impl<T: Element> Call<T> for Run {
    fn run(&self, start: usize, x: &[T], y: &mut [T], slope: Option<&mut [T]>) {
        self.op.run_range(self.run, start, x, y, slope);
    }
}
