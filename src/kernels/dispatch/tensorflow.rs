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
