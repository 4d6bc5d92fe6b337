//! The TensorFlow entry points: TensorFlow's element rule (`x > 0 ? x : x * a`, `a` of the
//! element type), out of place and on one buffer (an input TensorFlow handed over).
//!
//! They store plainly at every size, unlike the ONNX ones: TensorFlow maps a large output
//! afresh on each call, and the page the OS has just zeroed sits in the cache, where a
//! streaming store would first have to evict it.

use super::{Element, Kernels, RowSlope, SlopePlan, check_range, slope_of};
use crate::kernels::in_place::in_place;

impl<T: Element> Kernels<T> {
    /// TensorFlow's LeakyRelu: `y = x > 0 ? x : x * alpha`.
    pub fn tf_leaky_relu(&self, x: &[T], y: &mut [T], alpha: T) {
        assert_eq!(x.len(), y.len(), "leaky_relu: input and output lengths differ");
        let f = self.leaky_relu.tf_forward;
        // SAFETY: built for this table's level, which this CPU has.
        unsafe { f(x, y, alpha) }
    }

    /// TensorFlow's RRelu in inference: LeakyRelu at `alpha`, and the slope each element saw
    /// (`x > 0 ? 1 : alpha`), which the gradient multiplies by.
    pub fn tf_rrelu_inference(&self, x: &[T], y: &mut [T], slopes: &mut [T], alpha: T) {
        assert_eq!(x.len(), slopes.len(), "rrelu: input and slope lengths differ");
        self.tf_leaky_relu(x, y, alpha);
        let f = self.rrelu.tf_slope_map;
        // SAFETY: built for this table's level, which this CPU has.
        unsafe { f(x, slopes, alpha) }
    }

    /// [`Kernels::tf_rrelu_inference`] with `y` in the buffer of `x`: the slopes first, from
    /// `x`, then LeakyRelu over it.
    pub fn tf_rrelu_inference_in_place(&self, buf: &mut [T], slopes: &mut [T], alpha: T) {
        assert_eq!(buf.len(), slopes.len(), "rrelu: input and slope lengths differ");
        let f = self.rrelu.tf_slope_map;
        // SAFETY: built for this table's level, which this CPU has.
        unsafe { f(buf, slopes, alpha) }
        self.tf_leaky_relu_in_place(buf, alpha);
    }

    /// TensorFlow's LeakyReluGrad: `dx = x > 0 ? g : g * alpha`.
    pub fn tf_leaky_relu_grad(&self, g: &[T], x: &[T], dx: &mut [T], alpha: T) {
        assert!(g.len() == x.len() && x.len() == dx.len(), "leaky_relu_grad: lengths differ");
        let f = self.leaky_relu.tf_gradient;
        // SAFETY: built for this table's level, which this CPU has.
        unsafe { f(g, x, dx, alpha) }
    }

    /// TensorFlow's rule for PRelu over the whole tensor.
    pub fn tf_prelu(&self, plan: &SlopePlan, x: &[T], slope: &[T], y: &mut [T]) {
        check_range("prelu", plan, slope, &(0..plan.len()), [x.len(), y.len()]);
        let row = self.prelu.tf_row;
        plan.for_each_row(0..plan.len(), |at, row_slope| {
            // SAFETY: built for this table's level, which this CPU has.
            unsafe { row(&x[at.clone()], slope_of(slope, row_slope, at.len()), &mut y[at]) };
        });
    }

    /// [`Kernels::tf_prelu`] on one buffer: `buf` holds `x` and receives `y`. Block by block
    /// through the row build (a PRelu row is as short as its slope's inner extent, too short
    /// for an in-place vector loop to pay).
    pub fn tf_prelu_in_place(&self, plan: &SlopePlan, buf: &mut [T], slope: &[T]) {
        check_range("prelu", plan, slope, &(0..plan.len()), [buf.len()]);
        let row = self.prelu.tf_row;
        in_place(buf, |offset, x, y| {
            plan.for_each_row(offset..offset + x.len(), |at, row_slope| {
                // SAFETY: built for this table's level, which this CPU has.
                unsafe { row(&x[at.clone()], slope_of(slope, row_slope, at.len()), &mut y[at]) };
            });
        });
    }

    /// PRelu's gradients: `dx = x > 0 ? g : g * s`, and `ds` (the slope's shape) the sum of
    /// `g · x` where `x` is not positive over the elements each slope value served,
    /// accumulated in f64 and rounded once.
    pub fn tf_prelu_grad(&self, plan: &SlopePlan, g: &[T], x: &[T], slope: &[T], dx: &mut [T], ds: &mut [T]) {
        check_range("prelu_grad", plan, slope, &(0..plan.len()), [g.len(), x.len(), dx.len()]);
        assert_eq!(ds.len(), slope.len(), "prelu_grad: the slope gradient's length differs from the slope's");
        let mut sums = vec![0.0f64; slope.len()];
        let row = self.prelu.tf_gradient_row;
        plan.for_each_row(0..plan.len(), |at, row_slope| {
            let sums = match row_slope {
                RowSlope::Scalar(j) => &mut sums[j..j + 1],
                RowSlope::Vector(j) => &mut sums[j..j + at.len()],
            };
            let (g, x, s) = (&g[at.clone()], &x[at.clone()], slope_of(slope, row_slope, at.len()));
            // SAFETY: built for this table's level, which this CPU has.
            unsafe { row(g, x, s, &mut dx[at], sums) };
        });
        for (d, s) in ds.iter_mut().zip(sums) {
            *d = T::from_f64(s);
        }
    }

    /// TensorFlow's RReluGrad: `dx = g * slopes`, rounded once per element.
    pub fn tf_rrelu_grad(&self, g: &[T], slopes: &[T], dx: &mut [T]) {
        assert!(g.len() == slopes.len() && g.len() == dx.len(), "rrelu_grad: lengths differ");
        let f = self.rrelu.tf_gradient;
        // SAFETY: built for this table's level, which this CPU has.
        unsafe { f(g, slopes, dx) }
    }

    // On one buffer: the vector build where the type has lanes at this level, else the
    // out-of-place build over each block copied aside (bfloat16, the portable level).

    /// [`Kernels::tf_leaky_relu`] on one buffer: `buf` holds `x` and receives `y`.
    pub fn tf_leaky_relu_in_place(&self, buf: &mut [T], alpha: T) {
        match self.leaky_relu.tf_forward_in_place {
            // SAFETY: built for this table's level, which this CPU has.
            Some(f) => unsafe { f(buf, alpha) },
            None => in_place(buf, |_, x, y| self.tf_leaky_relu(x, y, alpha)),
        }
    }

    /// [`Kernels::tf_leaky_relu_grad`] into the buffer of `g`, which receives `dx`.
    pub fn tf_leaky_relu_grad_in_place(&self, g: &mut [T], x: &[T], alpha: T) {
        assert_eq!(g.len(), x.len(), "leaky_relu_grad: lengths differ");
        match self.leaky_relu.tf_gradient_in_place {
            // SAFETY: built for this table's level, which this CPU has.
            Some(f) => unsafe { f(g, x, alpha) },
            None => in_place(g, |at, g, dx| self.tf_leaky_relu_grad(g, &x[at..at + g.len()], dx, alpha)),
        }
    }

    /// [`Kernels::tf_leaky_relu_grad`] into the buffer of `x`, which receives `dx`.
    pub fn tf_leaky_relu_grad_into_features(&self, g: &[T], x: &mut [T], alpha: T) {
        assert_eq!(g.len(), x.len(), "leaky_relu_grad: lengths differ");
        match self.leaky_relu.tf_gradient_into_features {
            // SAFETY: built for this table's level, which this CPU has.
            Some(f) => unsafe { f(g, x, alpha) },
            None => in_place(x, |at, x, dx| self.tf_leaky_relu_grad(&g[at..at + x.len()], x, dx, alpha)),
        }
    }

    /// [`Kernels::tf_rrelu_grad`] into the buffer of `g`, which receives `dx`.
    pub fn tf_rrelu_grad_in_place(&self, g: &mut [T], slopes: &[T]) {
        assert_eq!(g.len(), slopes.len(), "rrelu_grad: lengths differ");
        match self.rrelu.tf_gradient_in_place {
            // SAFETY: built for this table's level, which this CPU has.
            Some(f) => unsafe { f(g, slopes) },
            None => in_place(g, |at, g, dx| self.tf_rrelu_grad(g, &slopes[at..at + g.len()], dx)),
        }
    }

    /// [`Kernels::tf_rrelu_grad`] into the buffer of the slopes, which receives `dx`.
    pub fn tf_rrelu_grad_into_slopes(&self, g: &[T], slopes: &mut [T]) {
        assert_eq!(g.len(), slopes.len(), "rrelu_grad: lengths differ");
        match self.rrelu.tf_gradient_into_slopes {
            // SAFETY: built for this table's level, which this CPU has.
            Some(f) => unsafe { f(g, slopes) },
            None => in_place(slopes, |at, s, dx| self.tf_rrelu_grad(&g[at..at + s.len()], s, dx)),
        }
    }
}

#[cfg(test)]
mod tests {
    use half::{bf16, f16};

    use crate::kernels::cpu::Level;
    use crate::kernels::{Element, Prelu};

    /// PRelu and RRelu inference on one buffer give the out-of-place bits at every level, with
    /// rows that cross the in-place blocks (inner extents 3 and 1500) and both kinds of slope.
    fn check<T: Element>(from: impl Fn(usize) -> T) {
        let bits = |v: &[T]| v.iter().map(|e| e.to_f64().to_bits()).collect::<Vec<_>>();
        let x: Vec<T> = (0..4500).map(&from).collect();
        let vectors: Vec<T> = (0..4500).map(|i| T::from_f32((i % 13) as f32 * 0.25 - 1.5)).collect();
        let cases = [(vec![1500, 3], vec![3]), (vec![3, 1500], vec![3, 1]), (vec![4500], vec![1])];
        for level in Level::supported() {
            let k = T::kernels_for(level);
            for (x_shape, slope_shape) in &cases {
                let plan = Prelu::new(None).plan(x_shape, slope_shape).unwrap();
                let slope = &vectors[..plan.slope_len()];
                let mut want = vec![T::ONE; x.len()];
                k.tf_prelu(&plan, &x, slope, &mut want);
                let mut buf = x.clone();
                k.tf_prelu_in_place(&plan, &mut buf, slope);
                assert_eq!(
                    bits(&buf),
                    bits(&want),
                    "{} prelu {x_shape:?} by {slope_shape:?} {}",
                    level.name(),
                    T::ONNX_NAME
                );
            }
            let a = T::from_f32(0.3);
            let (mut want_y, mut want_s) = (vec![T::ONE; x.len()], vec![T::ONE; x.len()]);
            k.tf_rrelu_inference(&x, &mut want_y, &mut want_s, a);
            let (mut buf, mut slopes) = (x.clone(), vec![T::ONE; x.len()]);
            k.tf_rrelu_inference_in_place(&mut buf, &mut slopes, a);
            assert_eq!(bits(&buf), bits(&want_y), "{} rrelu in place {}", level.name(), T::ONNX_NAME);
            assert_eq!(bits(&slopes), bits(&want_s), "{} rrelu slopes in place {}", level.name(), T::ONNX_NAME);
        }
    }

    #[test]
    fn prelu_and_rrelu_in_place_give_the_out_of_place_bits() {
        check(|i| f32::from_bits((i as u32).wrapping_mul(2_654_435_761)));
        check(|i| f64::from_bits((i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)));
        check(|i| f16::from_bits((i * 7919 % 65_536) as u16));
        check(|i| bf16::from_bits((i * 7919 % 65_536) as u16));
    }
}
