//! The element types rectify computes on, and the one rounding rule each follows.

use half::slice::HalfFloatSliceExt;
use half::{bf16, f16};

/// The slope of one PRelu row: constant, or one per element.
#[derive(Clone, Copy, Debug)]
pub enum Slope<'a, T> {
    Scalar(T),
    Vector(&'a [T]),
}

/// Elements per block when 16-bit types are computed through f32.
const BLOCK: usize = 256;

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
pub trait Element: Copy + PartialOrd + Send + Sync + 'static {
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

    /// [`Element::leaky`] over a slice. Inlined into each ISA's wrapper (see `simd`), where
    /// the compiler vectorises it; 16-bit types override it to convert in blocks.
    #[inline(always)]
    fn leaky_slice(x: &[Self], y: &mut [Self], alpha: f32) {
        for (y, &x) in y.iter_mut().zip(x) {
            *y = x.leaky(alpha);
        }
    }

    /// [`Element::prelu`] over one row.
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
}

impl Element for f32 {
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
}

impl Element for f64 {
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
}

/// Implements [`Element`] for a 16-bit float from `half`, computing through f32.
macro_rules! half_element {
    ($t:ty, $name:literal) => {
        impl Element for $t {
            const ONNX_NAME: &'static str = $name;
            const ONE: Self = <$t>::ONE;
            const MAX: f64 = <$t>::MAX.to_f64_const();

            #[inline(always)]
            fn is_negative(self) -> bool {
                self < <$t>::ZERO
            }
            #[inline(always)]
            fn leaky(self, alpha: f32) -> Self {
                let x = self.to_f32();
                <$t>::from_f32(if x < 0.0 { x * alpha } else { x })
            }
            #[inline(always)]
            fn leaky_with(self, alpha: Self) -> Self {
                self.leaky(alpha.to_f32()) // exact widening
            }
            #[inline(always)]
            fn prelu(self, slope: Self) -> Self {
                // At most 11 significant bits each: the f32 product is exact, so this is
                // the correctly rounded product; `+ 0.0` as for f64.
                if self.is_negative() { <$t>::from_f32(self.to_f32() * slope.to_f32() + 0.0) } else { self }
            }
            fn from_f32(a: f32) -> Self {
                <$t>::from_f32(a)
            }
            fn from_f64(a: f64) -> Self {
                <$t>::from_f64(a)
            }
            #[inline(always)]
            fn from_draw(q: u32, step: f64, lower: f64) -> Self {
                <$t>::from_f32(f32::from_draw(q, step, lower))
            }
            fn to_f64(self) -> f64 {
                self.to_f64()
            }
            fn next_up(self) -> Self {
                <$t>::from_bits(next_up_bits16(self.to_bits()))
            }
            fn next_down(self) -> Self {
                <$t>::from_bits(next_up_bits16(self.to_bits() ^ 0x8000) ^ 0x8000)
            }

            /// Block-wise through f32: the same bits as [`Element::leaky`] per element.
            #[inline(always)]
            fn leaky_slice(x: &[Self], y: &mut [Self], alpha: f32) {
                let mut wide = [0f32; BLOCK];
                for (xs, ys) in x.chunks(BLOCK).zip(y.chunks_mut(BLOCK)) {
                    let wide = &mut wide[..xs.len()];
                    xs.convert_to_f32_slice(wide);
                    for v in wide.iter_mut() {
                        *v = if *v < 0.0 { *v * alpha } else { *v };
                    }
                    ys.convert_from_f32_slice(wide);
                }
            }

            /// Block-wise through f32; elements that are not negative pass through unchanged.
            #[inline(always)]
            fn prelu_slice(x: &[Self], slope: Slope<'_, Self>, y: &mut [Self]) {
                let (mut wide, mut factor) = ([0f32; BLOCK], [0f32; BLOCK]);
                for (i, (xs, ys)) in x.chunks(BLOCK).zip(y.chunks_mut(BLOCK)).enumerate() {
                    let n = xs.len();
                    let (wide, factor) = (&mut wide[..n], &mut factor[..n]);
                    xs.convert_to_f32_slice(wide);
                    match slope {
                        Slope::Scalar(s) => factor.fill(s.to_f32()),
                        Slope::Vector(s) => s[i * BLOCK..i * BLOCK + n].convert_to_f32_slice(factor),
                    }
                    for (f, &w) in factor.iter_mut().zip(wide.iter()) {
                        *f = w * *f + 0.0; // exact product; -0 as +0
                    }
                    ys.convert_from_f32_slice(factor);
                    for ((y, &x), &w) in ys.iter_mut().zip(xs).zip(wide.iter()) {
                        *y = if w < 0.0 { *y } else { x }; // NaN and ±0 pass through
                    }
                }
            }
        }
    };
}

half_element!(f16, "float16");
half_element!(bf16, "bfloat16");

/// The next 16-bit float towards +inf, for any IEEE-style sign-magnitude layout.
fn next_up_bits16(bits: u16) -> u16 {
    if bits & 0x7fff == 0 {
        1 // ±0 -> smallest positive subnormal
    } else if bits & 0x8000 == 0 {
        bits + 1
    } else {
        bits - 1
    }
}

#[cfg(test)]
mod tests {
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
}
