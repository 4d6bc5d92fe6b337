//! The element types rectify computes on, and the one rounding rule each follows.

mod half_float;

/// The slope of one PRelu row: constant, or one per element.
#[derive(Clone, Copy, Debug)]
pub enum Slope<'a, T> {
    Scalar(T),
    Vector(&'a [T]),
}

impl<T> Slope<'_, T> {
    /// The slope of the row's elements from `n` on (a vector kernel's tail).
    pub fn skip(self, n: usize) -> Self {
        match self {
            Slope::Scalar(s) => Slope::Scalar(s),
            Slope::Vector(s) => Slope::Vector(&s[n..]),
        }
    }
}

/// A tensor element type, with the element rules of ONNX Runtime's built-ins, which we
/// measured on every class of input (±0, ±inf, NaN payloads, subnormals):
/// - `f32`: `x < 0 ? x * a : x`, one f32 rounding (ORT's native kernels).
/// - `f64`: the same in f64 (an f32 attribute widened first), except that a product that
///   rounds to -0 comes out +0: ORT runs the ONNX function body, whose double `Where`
///   turns a selected -0 into +0.
/// - `f16`/`bf16` LeakyRelu: widen `x` to f32, `x < 0 ? x * alpha : x` in f32, round once
///   to the type (ORT's Cast-to-float body; it also quiets signalling NaNs).
/// - `f16`/`bf16` PRelu: `x < 0 ? x * s : x`, the exact f32 product rounded once to the
///   type, and -0 as +0 as for f64 (ORT's half `Where`).
///
/// TensorFlow's kernels follow another rule, also here (the `tf_` methods): `x > 0 ? x : x * a`
/// with `a` already of the element type, the product rounded once to it (Eigen's half and
/// bfloat16 multiply in f32), so zeros and NaN take the product and no `+ 0` is added.
///
/// The kernels' dispatch table ([`super::Element`]) builds on this trait.
pub trait Scalar: Copy + PartialOrd + Send + Sync + 'static {
    /// ONNX type name, as in `tensor(float)`.
    const ONNX_NAME: &'static str;
    const ONE: Self;
    /// The largest finite value.
    const MAX: f64;

    /// `x < 0` (false for NaN and both zeros).
    fn is_negative(self) -> bool;
    /// LeakyRelu of one element with an f32 `alpha`.
    fn leaky(self, alpha: f32) -> Self;
    /// LeakyRelu of one element with an `alpha` of this type (RRelu's sampled slopes).
    fn leaky_with(self, alpha: Self) -> Self;
    /// PRelu of one element with a slope of the same type.
    fn prelu(self, slope: Self) -> Self;
    /// The nearest value of this type to `a` (round to nearest even).
    fn from_f32(a: f32) -> Self;
    /// The nearest value of this type to `a`.
    fn from_f64(a: f64) -> Self;
    /// Exact widening, for range checks and references.
    fn to_f64(self) -> f64;
    /// `lower + q·step` rounded once (a fused multiply-add) in f32, or in f64 for f64, then
    /// to this type: RRelu's slope for a draw `q`.
    fn from_draw(q: u32, step: f64, lower: f64) -> Self;
    /// The next value towards +inf (finite, non-NaN input).
    fn next_up(self) -> Self;
    /// The next value towards -inf (finite, non-NaN input).
    fn next_down(self) -> Self;
    /// `self * other` rounded once to this type (TensorFlow's arithmetic).
    fn tf_mul(self, other: Self) -> Self;

    /// `x > 0` (false for NaN and both zeros): TensorFlow's select.
    #[inline(always)]
    fn is_positive(self) -> bool {
        self > Self::from_f32(0.0)
    }

    /// TensorFlow's LeakyRelu of one element: `x > 0 ? x : x * alpha`.
    #[inline(always)]
    fn tf_leaky(self, alpha: Self) -> Self {
        if self.is_positive() { self } else { self.tf_mul(alpha) }
    }

    /// [`Scalar::leaky`] over a slice. Inlined into each ISA's wrapper (see `simd`), where
    /// the compiler vectorises it; 16-bit types override it to convert in blocks.
    #[inline(always)]
    fn leaky_slice(x: &[Self], y: &mut [Self], alpha: f32) {
        for (y, &x) in y.iter_mut().zip(x) {
            *y = x.leaky(alpha);
        }
    }

    /// [`Scalar::prelu`] over one row.
    #[inline(always)]
    fn prelu_slice(x: &[Self], slope: Slope<'_, Self>, y: &mut [Self]) {
        match slope {
            Slope::Scalar(s) => {
                for (y, &x) in y.iter_mut().zip(x) {
                    *y = x.prelu(s);
                }
            }
            Slope::Vector(s) => {
                for ((y, &x), &s) in y.iter_mut().zip(x).zip(s) {
                    *y = x.prelu(s);
                }
            }
        }
    }

    /// [`Scalar::tf_leaky`] over a slice.
    #[inline(always)]
    fn tf_leaky_slice(x: &[Self], y: &mut [Self], alpha: Self) {
        for (y, &x) in y.iter_mut().zip(x) {
            *y = x.tf_leaky(alpha);
        }
    }

    /// TensorFlow's LeakyReluGrad: `dx = x > 0 ? g : g * alpha`.
    #[inline(always)]
    fn tf_leaky_grad_slice(g: &[Self], x: &[Self], dx: &mut [Self], alpha: Self) {
        for ((dx, &g), &x) in dx.iter_mut().zip(g).zip(x) {
            *dx = if x.is_positive() { g } else { g.tf_mul(alpha) };
        }
    }

    /// TensorFlow's rule for PRelu over one row: `x > 0 ? x : x * s`.
    #[inline(always)]
    fn tf_prelu_slice(x: &[Self], slope: Slope<'_, Self>, y: &mut [Self]) {
        match slope {
            Slope::Scalar(s) => Self::tf_leaky_slice(x, y, s),
            Slope::Vector(s) => {
                for ((y, &x), &s) in y.iter_mut().zip(x).zip(s) {
                    *y = x.tf_leaky(s);
                }
            }
        }
    }

    /// PRelu's gradients over one row: `dx = x > 0 ? g : g * s`, and `g · x` (in f64) where
    /// `x` is not positive added into `sums`: `sums[0]` for a scalar slope, `sums[k]` for
    /// element `k` of a vector one.
    #[inline(always)]
    fn tf_prelu_grad_slice(g: &[Self], x: &[Self], slope: Slope<'_, Self>, dx: &mut [Self], sums: &mut [f64]) {
        match slope {
            Slope::Scalar(s) => {
                Self::tf_leaky_grad_slice(g, x, dx, s);
                sums[0] += masked_dot(g, x);
            }
            Slope::Vector(s) => {
                for ((((dx, sum), &g), &x), &s) in dx.iter_mut().zip(sums.iter_mut()).zip(g).zip(x).zip(s) {
                    let positive = x.is_positive();
                    *dx = if positive { g } else { g.tf_mul(s) };
                    *sum += if positive { 0.0 } else { g.to_f64() * x.to_f64() };
                }
            }
        }
    }

    /// RRelu's slopes in inference under TensorFlow's select: `x > 0 ? 1 : alpha`.
    #[inline(always)]
    fn tf_slope_map_slice(x: &[Self], slopes: &mut [Self], alpha: Self) {
        for (s, &x) in slopes.iter_mut().zip(x) {
            *s = if x.is_positive() { Self::ONE } else { alpha };
        }
    }

    /// `y = a * b` rounded once per element (RRelu's gradient: upstream times slopes).
    #[inline(always)]
    fn tf_mul_slice(a: &[Self], b: &[Self], y: &mut [Self]) {
        for ((y, &a), &b) in y.iter_mut().zip(a).zip(b) {
            *y = a.tf_mul(b);
        }
    }
}

/// `Σ g·x` (in f64) over the elements where `x` is not positive, in eight partial sums so
/// the additions pipeline and vectorise; the order is fixed, so every level gives the same
/// bits.
#[inline(always)]
fn masked_dot<T: Scalar>(g: &[T], x: &[T]) -> f64 {
    let mut partial = [0.0f64; 8];
    let (gs, xs) = (g.chunks_exact(8), x.chunks_exact(8));
    let (g_tail, x_tail) = (gs.remainder(), xs.remainder());
    for (g, x) in gs.zip(xs) {
        for k in 0..8 {
            partial[k] += if x[k].is_positive() { 0.0 } else { g[k].to_f64() * x[k].to_f64() };
        }
    }
    for (k, (g, x)) in g_tail.iter().zip(x_tail).enumerate() {
        partial[k] += if x.is_positive() { 0.0 } else { g.to_f64() * x.to_f64() };
    }
    partial.iter().sum()
}

impl Scalar for f32 {
    const ONNX_NAME: &'static str = "float";
    const ONE: Self = 1.0;
    const MAX: f64 = f32::MAX as f64;

    #[inline(always)]
    fn is_negative(self) -> bool {
        self < 0.0
    }
    #[inline(always)]
    fn leaky(self, alpha: f32) -> Self {
        if self < 0.0 { self * alpha } else { self }
    }
    #[inline(always)]
    fn leaky_with(self, alpha: Self) -> Self {
        self.leaky(alpha)
    }
    #[inline(always)]
    fn prelu(self, slope: Self) -> Self {
        if self < 0.0 { self * slope } else { self }
    }
    fn from_f32(a: f32) -> Self {
        a
    }
    fn from_f64(a: f64) -> Self {
        a as f32
    }
    #[inline(always)]
    fn from_draw(q: u32, step: f64, lower: f64) -> Self {
        (q as f32).mul_add(step as f32, lower as f32)
    }
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
    fn next_up(self) -> Self {
        f32::next_up(self)
    }
    fn next_down(self) -> Self {
        f32::next_down(self)
    }
    #[inline(always)]
    fn tf_mul(self, other: Self) -> Self {
        self * other
    }
}

impl Scalar for f64 {
    const ONNX_NAME: &'static str = "double";
    const ONE: Self = 1.0;
    const MAX: f64 = f64::MAX;

    #[inline(always)]
    fn is_negative(self) -> bool {
        self < 0.0
    }
    #[inline(always)]
    fn leaky(self, alpha: f32) -> Self {
        // `+ 0.0` turns a -0 product into +0 and changes nothing else.
        if self < 0.0 { self * f64::from(alpha) + 0.0 } else { self }
    }
    #[inline(always)]
    fn leaky_with(self, alpha: Self) -> Self {
        if self < 0.0 { self * alpha + 0.0 } else { self }
    }
    #[inline(always)]
    fn prelu(self, slope: Self) -> Self {
        if self < 0.0 { self * slope + 0.0 } else { self }
    }
    fn from_f32(a: f32) -> Self {
        f64::from(a)
    }
    fn from_f64(a: f64) -> Self {
        a
    }
    #[inline(always)]
    fn from_draw(q: u32, step: f64, lower: f64) -> Self {
        f64::from(q).mul_add(step, lower)
    }
    fn to_f64(self) -> f64 {
        self
    }
    fn next_up(self) -> Self {
        f64::next_up(self)
    }
    fn next_down(self) -> Self {
        f64::next_down(self)
    }
    #[inline(always)]
    fn tf_mul(self, other: Self) -> Self {
        self * other
    }
}

#[cfg(test)]
mod tests {
    use half::{bf16, f16};

    use super::*;

    #[test]
    fn half_steps_cross_zero_and_exponents() {
        assert_eq!(f16::ZERO.next_up().to_bits(), 0x0001);
        assert_eq!(f16::NEG_ZERO.next_down().to_bits(), 0x8001);
        assert_eq!(f16::from_f32(1.0).next_down().to_f32(), 1.0 - 2f32.powi(-11));
        assert_eq!(bf16::from_f32(-1.0).next_up().to_f32(), -1.0 + 2f32.powi(-8));
        assert_eq!(f16::from_f32(-1.0).next_down().to_f32(), -1.0 - 2f32.powi(-10));
    }

    #[test]
    fn half_leaky_rounds_once_from_f32() {
        // ONNX Runtime's float16 rule: x=-3.5, alpha=0.1 gives 0xb59a (tract's f16 alpha: 0xb599).
        assert_eq!(f16::from_f32(-3.5).leaky(0.1).to_bits(), 0xb59a);
        // Signalling NaNs come out quiet, as from ORT's Cast.
        assert_eq!(f16::from_bits(0x7c01).leaky(0.1).to_bits(), 0x7e01);
    }

    #[test]
    fn double_and_half_products_never_give_minus_zero() {
        assert_eq!((-5e-324f64).leaky(0.1).to_bits(), 0);
        assert_eq!((-1.0f64).prelu(0.0).to_bits(), 0);
        assert_eq!(f16::from_f32(-1.0).prelu(f16::ZERO).to_bits(), 0);
        assert_eq!((-1.0f32).prelu(0.0).to_bits(), (-0.0f32).to_bits());
        assert_eq!((-0.0f64).leaky(0.1).to_bits(), (-0.0f64).to_bits());
    }

    #[test]
    fn tensorflow_rounds_the_alpha_to_the_type_first() {
        // TF: x * half(0.2); ONNX Runtime: half(x * 0.2f). They differ here by one ULP.
        let x = f16::from_f32(-3.5);
        let y = x.tf_leaky(f16::from_f32(0.2));
        assert_eq!(y, f16::from_f32(-3.5 * f16::from_f32(0.2).to_f32()));
        assert_ne!(y, x.leaky(0.2));
    }

    #[test]
    fn tensorflow_zeros_and_negative_slopes_follow_its_select() {
        let y = [-1e-320, 0.0, -0.0f64].map(|x| x.tf_leaky(1e-10).to_bits());
        assert_eq!(y, [(-0.0f64).to_bits(), 0, (-0.0f64).to_bits()]); // no `+ 0` as ONNX Runtime's
        assert_eq!(0.0f32.tf_leaky(-1.0).to_bits(), (-0.0f32).to_bits()); // 0 * -1 = -0, as TF
        assert!(f32::NAN.tf_leaky(0.5).is_nan());
    }
}
