//! PRelu as a registry op: a slope input broadcast numpy-style to X, or along `axis`.

use super::spec::{Attribute, TfSpec};
use super::{AttributeSource, Call, Input, Op, OpKind, OpSpec, Twin};
use crate::error::{Error, Result};
use crate::kernels::prelu::OP;
use crate::kernels::{Element, Prelu, SlopePlan};

impl Op for Prelu {
    const SPEC: OpSpec = OpSpec {
        kind: OpKind::PRelu,
        name: OP,
        inputs: &["X", "slope"],
        outputs: &[("Y", false)],
        attributes: &[Attribute::Int { name: "axis", default: None }],
        builtin: "PRelu",
        in_place: true,
        tensorflow: TfSpec {
            name: "Rectify>Prelu",
            gradient: "Rectify>PreluGrad",
            defaults: &[],
            bools: &[],
            omitted: &["axis"],
            gradient_attributes: &[],
        },
    };

    fn configure(attrs: &impl AttributeSource) -> Result<Self> {
        Ok(Prelu::new(attrs.int(OP, "axis")?))
    }

    fn prepare<'a, T: Element>(
        &self,
        x_shape: &[i64],
        inputs: &[Input<'a, T>],
        _: u64,
    ) -> Result<Box<dyn Call<T> + 'a>> {
        let slope = inputs.first().ok_or_else(|| {
            Error::invalid(OP, "input 'slope' is missing").on_input("slope").expected("present").found("absent")
        })?;
        let plan = self.plan(x_shape, slope.shape)?;
        if slope.data.len() != plan.slope_len() {
            return Err(Error::invalid(
                OP,
                format!(
                    "input 'slope' holds {} elements, its shape {:?} says {}",
                    slope.data.len(),
                    slope.shape,
                    plan.slope_len()
                ),
            )
            .on_input("slope"));
        }
        Ok(Box::new(Planned { plan, slope: slope.data }))
    }

    /// Numpy's broadcasting by index arithmetic (or the channel of `axis`), independent of
    /// the kernels' row planner.
    fn reference_slopes(&self, x_shape: &[usize], inputs: &[(&[usize], &[f64])]) -> Option<Vec<f64>> {
        let &(slope_shape, slope) = inputs.first()?;
        let rank = x_shape.len();
        let dims: Vec<usize> = match self.axis() {
            Some(a) => {
                let a = if a < 0 { a + rank as i64 } else { a } as usize;
                let mut d = vec![1; rank];
                d[a] = slope_shape[0];
                d
            }
            None => {
                let mut d = vec![1; rank - slope_shape.len()];
                d.extend(slope_shape);
                d
            }
        };
        let len: usize = x_shape.iter().product();
        let at = |i: usize| {
            let (mut rem, mut offset, mut stride) = (i, 0, 1);
            for d in (0..rank).rev() {
                let index = rem % x_shape[d];
                rem /= x_shape[d];
                if dims[d] != 1 {
                    offset += index * stride;
                }
                stride *= dims[d];
            }
            slope[offset]
        };
        Some((0..len).map(at).collect())
    }

    fn twin(&self) -> Result<Twin> {
        Ok(Twin { op: "PRelu", float_attributes: vec![], slope_axis: self.axis(), outputs: 1 })
    }
}

struct Planned<'a, T> {
    plan: SlopePlan,
    slope: &'a [T],
}

impl<T: Element> Call<T> for Planned<'_, T> {
    fn run(&self, start: usize, x: &[T], y: &mut [T], _: Option<&mut [T]>) {
        self.plan.run_range(x, self.slope, start..start + x.len(), y);
    }
}
