//! LeakyRelu: `y = x` where `x >= 0` or NaN, else `alpha * x`.

use super::element::Element;
use super::simd::{self, Level};
use crate::error::{Error, Result};

pub const OP: &str = "LeakyRelu";
/// ONNX's default `alpha`.
pub const DEFAULT_ALPHA: f32 = 0.01;

/// Validated LeakyRelu attributes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LeakyRelu {
    alpha: f32,
}

impl LeakyRelu {
    pub fn new(alpha: f32) -> Result<Self> {
        if !alpha.is_finite() {
            return Err(Error::invalid(OP, format!("attribute 'alpha' must be finite, got {alpha}")));
        }
        Ok(Self { alpha })
    }

    pub fn alpha(&self) -> f32 {
        self.alpha
    }

    /// Applies the op to `x`, writing `y` (same length).
    pub fn run<T: Element>(&self, x: &[T], y: &mut [T]) {
        leaky_relu(x, y, self.alpha);
    }

    /// Applies the op to one part of an output of `total_bytes` (see [`leaky_relu_part`]).
    pub fn run_part<T: Element>(&self, x: &[T], y: &mut [T], total_bytes: usize) {
        leaky_relu_part(x, y, self.alpha, total_bytes);
    }
}

/// Outputs of at least this many bytes are written with streaming stores: they cannot stay
/// in the cache, and ordinary stores would read every output line before writing it
/// (measured: docs/BENCHMARKS.md, P4).
pub const STREAMING_BYTES: usize = 32 << 20;

/// `y[i] = x[i] < 0 ? alpha * x[i] : x[i]`, under `T`'s element rule ([`Element::leaky`]).
pub fn leaky_relu<T: Element>(x: &[T], y: &mut [T], alpha: f32) {
    leaky_relu_part(x, y, alpha, size_of_val(y));
}

/// [`leaky_relu`] of one part of an output of `total_bytes`: the whole output's size decides
/// whether the stores stream, so every part of a split tensor writes the same way.
pub fn leaky_relu_part<T: Element>(x: &[T], y: &mut [T], alpha: f32, total_bytes: usize) {
    assert_eq!(x.len(), y.len(), "leaky_relu: input and output lengths differ");
    if total_bytes >= STREAMING_BYTES {
        simd::leaky_relu_streaming(Level::best(), x, y, alpha);
    } else {
        simd::leaky_relu(Level::best(), x, y, alpha);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use half::f16;

    #[test]
    fn specials_follow_the_select_form() {
        let x = [0.0f32, -0.0, f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -1e-45, -3.0, 2.0];
        let mut y = [0.0f32; 8];
        leaky_relu(&x, &mut y, 0.5);
        assert_eq!(y[0].to_bits(), 0.0f32.to_bits());
        assert_eq!(y[1].to_bits(), (-0.0f32).to_bits());
        assert!(y[2].is_nan());
        assert_eq!(y[3], f32::INFINITY);
        assert_eq!(y[4], f32::NEG_INFINITY);
        assert_eq!(y[5].to_bits(), (-0.0f32).to_bits()); // -1e-45 * 0.5 rounds to -0
        assert_eq!(&y[6..], &[-1.5, 2.0]);
    }

    #[test]
    fn float16_matches_the_f64_reference_on_all_values() {
        let alpha = 0.01f32;
        for bits in 0..=u16::MAX {
            let x = f16::from_bits(bits);
            let mut y = [f16::ZERO];
            leaky_relu(&[x], &mut y, alpha);
            // Reference: exact product in f64, rounded to f32, then to f16; NaNs come out
            // quiet (as from ORT's Cast through f32).
            let want = if x.to_f64() < 0.0 {
                f16::from_f32((x.to_f64() * f64::from(alpha)) as f32)
            } else {
                f16::from_f32(x.to_f32())
            };
            assert_eq!(y[0].to_bits(), want.to_bits(), "x = {bits:#06x}");
        }
    }

    #[test]
    fn minus_infinity_times_zero_alpha_is_nan() {
        // Found by the `kernels` fuzz target (a reference bug there, not here): IEEE says
        // -inf * 0 = NaN, and so does ONNX Runtime's built-in.
        let mut y = [0.0f32];
        leaky_relu(&[f32::NEG_INFINITY], &mut y, 0.0);
        assert!(y[0].is_nan());
        let mut y = [half::bf16::ZERO];
        leaky_relu(&[half::bf16::NEG_INFINITY], &mut y, 0.0);
        assert!(y[0].is_nan());
    }

    #[test]
    fn non_finite_alpha_is_refused() {
        let err = LeakyRelu::new(f32::NAN).unwrap_err();
        assert_eq!(err.to_string(), "rectify: LeakyRelu: attribute 'alpha' must be finite, got NaN");
    }
}
