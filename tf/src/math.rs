//! TensorFlow's element rule, which differs from ONNX Runtime's in rounding and zero signs:
//! `x > 0 ? x : x * static_cast<T>(alpha)`, computed in `T` (Eigen's half and bfloat16
//! multiply in f32 and round once; the f32 product of two 16-bit floats is exact).
//! Gradients follow TensorFlow's kernels: `x > 0 ? g : g * alpha`.

use std::ffi::c_int;

use half::{bf16, f16};
use rectify::kernels::Element;
use rectify::kernels::prelu::{RowSlope, SlopePlan};

/// An element type with its `TF_DataType` and TensorFlow's arithmetic.
pub trait TfElement: Element {
    const DTYPE: c_int;
    /// `self * other`, rounded once to the type.
    fn mul(self, other: Self) -> Self;
    fn to_f64_exact(self) -> f64 {
        self.to_f64()
    }
}

impl TfElement for f32 {
    const DTYPE: c_int = 1;
    fn mul(self, other: Self) -> Self {
        self * other
    }
}

impl TfElement for f64 {
    const DTYPE: c_int = 2;
    fn mul(self, other: Self) -> Self {
        self * other
    }
}

impl TfElement for f16 {
    const DTYPE: c_int = 19;
    fn mul(self, other: Self) -> Self {
        f16::from_f32(self.to_f32() * other.to_f32())
    }
}

impl TfElement for bf16 {
    const DTYPE: c_int = 14;
    fn mul(self, other: Self) -> Self {
        bf16::from_f32(self.to_f32() * other.to_f32())
    }
}

#[inline(always)]
fn positive<T: TfElement>(x: T) -> bool {
    x > T::from_f32(0.0)
}

/// `y = x > 0 ? x : x * alpha`.
pub fn leaky_relu<T: TfElement>(x: &[T], alpha: T, y: &mut [T]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y = if positive(x) { x } else { x.mul(alpha) };
    }
}

/// `dx = x > 0 ? g : g * alpha`.
pub fn leaky_relu_grad<T: TfElement>(g: &[T], x: &[T], alpha: T, dx: &mut [T]) {
    for ((dx, &g), &x) in dx.iter_mut().zip(g).zip(x) {
        *dx = if positive(x) { g } else { g.mul(alpha) };
    }
}

/// PRelu with the slope broadcast by `plan`.
pub fn prelu<T: TfElement>(plan: &SlopePlan, x: &[T], slope: &[T], y: &mut [T]) {
    plan.for_each_row(0..plan.len(), |at, row| {
        for (k, i) in at.enumerate() {
            let s = match row {
                RowSlope::Scalar(j) => slope[j],
                RowSlope::Vector(start) => slope[start + k],
            };
            y[i] = if positive(x[i]) { x[i] } else { x[i].mul(s) };
        }
    });
}

/// PRelu's gradients: `dx = x > 0 ? g : s * g`, and `ds` (the slope's shape) the sum of
/// `x > 0 ? 0 : g * x` over the elements each slope value served, accumulated in f64 and
/// rounded once.
pub fn prelu_grad<T: TfElement>(plan: &SlopePlan, g: &[T], x: &[T], slope: &[T], dx: &mut [T], ds: &mut [T]) {
    let mut sums = vec![0.0f64; ds.len()];
    plan.for_each_row(0..plan.len(), |at, row| {
        for (k, i) in at.enumerate() {
            let j = match row {
                RowSlope::Scalar(j) => j,
                RowSlope::Vector(start) => start + k,
            };
            if positive(x[i]) {
                dx[i] = g[i];
            } else {
                dx[i] = g[i].mul(slope[j]);
                sums[j] += g[i].to_f64_exact() * x[i].to_f64_exact();
            }
        }
    });
    for (d, s) in ds.iter_mut().zip(sums) {
        *d = T::from_f64(s);
    }
}

/// `y = a * b`, element by element (RRelu's gradient: the upstream gradient times the slopes).
pub fn multiply<T: TfElement>(a: &[T], b: &[T], y: &mut [T]) {
    for ((y, &a), &b) in y.iter_mut().zip(a).zip(b) {
        *y = a.mul(b);
    }
}

/// RRelu in inference: LeakyRelu at `alpha`, with the slope each element saw.
pub fn rrelu_inference<T: TfElement>(x: &[T], alpha: T, y: &mut [T], slopes: &mut [T]) {
    leaky_relu(x, alpha, y);
    for (s, &x) in slopes.iter_mut().zip(x) {
        *s = if positive(x) { T::ONE } else { alpha };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_alpha_is_rounded_to_the_type_first() {
        // TF: x * half(0.2); ONNX Runtime: half(x * 0.2f). They differ here by one ULP.
        let x = f16::from_f32(-3.5);
        let mut y = [f16::ZERO];
        leaky_relu(&[x], f16::from_f32(0.2), &mut y);
        assert_eq!(y[0], f16::from_f32(-3.5 * f16::from_f32(0.2).to_f32()));
        assert_ne!(y[0], f16::from_f32(-3.5 * 0.2));
    }

    #[test]
    fn zeros_and_negative_slopes_follow_the_select() {
        let mut y = [0.0f64; 3];
        leaky_relu(&[-1e-320, 0.0, -0.0], 1e-10, &mut y);
        assert_eq!(y.map(f64::to_bits), [(-0.0f64).to_bits(), 0, (-0.0f64).to_bits()]); // -0 stays -0
        let mut z = [0.0f32; 1];
        leaky_relu(&[0.0], -1.0, &mut z);
        assert_eq!(z[0].to_bits(), (-0.0f32).to_bits()); // 0 * -1 = -0, as TF
    }
}
