//! The element types rectify computes on, and the one rounding rule each follows.

use half::{bf16, f16};

/// A tensor element type. Every negative-side product is formed in one place, so all ops
/// share the same rounding:
/// - `f32`: `x * a` in f32 (bit-identical to ONNX Runtime's built-ins);
/// - `f64`: `x * a` in f64, with an f32 attribute widened first;
/// - `f16`/`bf16`: widen `x` to f32, multiply by the f32 factor, round once to the element
///   type (ONNX Runtime's rule for its float16 LeakyRelu).
pub trait Element: Copy + PartialOrd + Send + Sync + 'static {
    /// ONNX type name, as in `tensor(float)`.
    const ONNX_NAME: &'static str;
    const ONE: Self;

    /// `x < 0` (false for NaN and both zeros).
    fn is_negative(self) -> bool;
    /// `self * a` for an f32 factor (an attribute), under the type's rounding rule.
    fn scale(self, a: f32) -> Self;
    /// `self * s` for a factor of the same type, under the type's rounding rule.
    fn mul(self, s: Self) -> Self;
    /// The nearest value of this type to `a` (round to nearest even).
    fn from_f32(a: f32) -> Self;
    /// Exact widening, for range checks and references.
    fn to_f64(self) -> f64;
    /// The next value towards +inf (finite, non-NaN input).
    fn next_up(self) -> Self;
    /// The next value towards -inf (finite, non-NaN input).
    fn next_down(self) -> Self;
}

impl Element for f32 {
    const ONNX_NAME: &'static str = "float";
    const ONE: Self = 1.0;

    #[inline(always)]
    fn is_negative(self) -> bool {
        self < 0.0
    }
    #[inline(always)]
    fn scale(self, a: f32) -> Self {
        self * a
    }
    #[inline(always)]
    fn mul(self, s: Self) -> Self {
        self * s
    }
    fn from_f32(a: f32) -> Self {
        a
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

    #[inline(always)]
    fn is_negative(self) -> bool {
        self < 0.0
    }
    #[inline(always)]
    fn scale(self, a: f32) -> Self {
        self * f64::from(a)
    }
    #[inline(always)]
    fn mul(self, s: Self) -> Self {
        self * s
    }
    fn from_f32(a: f32) -> Self {
        f64::from(a)
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

            #[inline(always)]
            fn is_negative(self) -> bool {
                self < <$t>::ZERO
            }
            #[inline(always)]
            fn scale(self, a: f32) -> Self {
                <$t>::from_f32(self.to_f32() * a)
            }
            #[inline(always)]
            fn mul(self, s: Self) -> Self {
                // Both operands have at most 11 significant bits: the f32 product is exact,
                // so this is the correctly rounded product.
                <$t>::from_f32(self.to_f32() * s.to_f32())
            }
            fn from_f32(a: f32) -> Self {
                <$t>::from_f32(a)
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
    fn half_scale_rounds_once_from_f32() {
        // ONNX Runtime's float16 rule: x=-3.5, alpha=0.1 gives 0xb59a (tract's f16 alpha: 0xb599).
        let y = f16::from_f32(-3.5).scale(0.1);
        assert_eq!(y.to_bits(), 0xb59a);
    }
}
