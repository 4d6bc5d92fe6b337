//! LeakyRelu: `y = x` where `x >= 0` or NaN, else `alpha * x`.

use super::cpu::{Level, pick};
use super::element::Scalar;
#[cfg(target_arch = "x86_64")]
use super::lanes;
use crate::error::{Error, Result};

#[cfg(target_arch = "x86_64")]
mod stream;
#[cfg(target_arch = "x86_64")]
mod x86;

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
            return Err(Error::invalid(OP, format!("attribute 'alpha' must be finite, got {alpha}"))
                .on_attribute("alpha")
                .expected("a finite float")
                .found(alpha));
        }
        Ok(Self { alpha })
    }

    pub fn alpha(&self) -> f32 {
        self.alpha
    }
}

/// Outputs of at least this many bytes are written with streaming stores: they cannot stay
/// in the cache, and ordinary stores would read every output line before writing it
/// (measured: docs/BENCHMARKS.md, P4).
pub const STREAMING_BYTES: usize = 32 << 20;

/// LeakyRelu under ONNX Runtime's rule ([`Scalar::leaky`]), f32 alpha.
pub(crate) type Forward<T> = unsafe fn(&[T], &mut [T], f32);
/// LeakyRelu under TensorFlow's rule ([`Scalar::tf_leaky`]), alpha of the element type.
pub(crate) type TfForward<T> = unsafe fn(&[T], &mut [T], T);
/// TensorFlow's LeakyReluGrad: `(g, x, dx, alpha)`.
pub(crate) type TfGradient<T> = unsafe fn(&[T], &[T], &mut [T], T);
/// [`TfForward`] on one buffer, which holds `x` and receives `y`.
pub(crate) type TfForwardInPlace<T> = unsafe fn(&mut [T], T);
/// [`TfGradient`] into the buffer of `g`: `(g then dx, x, alpha)`.
pub(crate) type TfGradientInPlace<T> = unsafe fn(&mut [T], &[T], T);
/// [`TfGradient`] into the buffer of `x`: `(g, x then dx, alpha)`.
pub(crate) type TfGradientIntoFeatures<T> = unsafe fn(&[T], &mut [T], T);

/// LeakyRelu's builds for one element type and level. Every pointer is safe to call on a CPU
/// that has the level it was chosen for; only [`Kernels::for_level`] makes them.
#[derive(Clone, Copy)]
pub(crate) struct Kernels<T> {
    pub forward: Forward<T>,
    /// `forward` with streaming stores, where a level has such a build (float32 on x86).
    pub streaming: Option<Forward<T>>,
    pub tf_forward: TfForward<T>,
    pub tf_gradient: TfGradient<T>,
    /// The in-place builds, where a type has vector lanes at the level (`super::lanes`);
    /// without them the dispatch table runs the out-of-place build block by block.
    pub tf_forward_in_place: Option<TfForwardInPlace<T>>,
    pub tf_gradient_in_place: Option<TfGradientInPlace<T>>,
    pub tf_gradient_into_features: Option<TfGradientIntoFeatures<T>>,
}

impl<T: Scalar> Kernels<T> {
    /// The generic bodies compiled for `level`.
    pub fn for_level(level: Level) -> Self {
        let forward: Forward<T> = pick!(level, T::leaky_slice, x86::forward_avx2, x86::forward_avx512);
        Self {
            forward,
            streaming: None,
            tf_forward: pick!(level, T::tf_leaky_slice, x86::tf_forward_avx2, x86::tf_forward_avx512),
            tf_gradient: pick!(level, T::tf_leaky_grad_slice, x86::tf_gradient_avx2, x86::tf_gradient_avx512),
            tf_forward_in_place: None,
            tf_gradient_in_place: None,
            tf_gradient_into_features: None,
        }
    }

    /// With the explicit vector builds of TensorFlow's rules (`super::lanes`), out of place
    /// and on one buffer, where `level` has them.
    #[cfg(target_arch = "x86_64")]
    fn with_lanes<V: lanes::Lanes<Elem = T>>(self, level: Level) -> Self {
        Self {
            tf_forward: pick!(
                level,
                self.tf_forward,
                x86::tf_forward_vectors_avx2::<V> as TfForward<T>,
                x86::tf_forward_vectors_avx512::<V> as TfForward<T>
            ),
            tf_gradient: pick!(
                level,
                self.tf_gradient,
                x86::tf_gradient_vectors_avx2::<V> as TfGradient<T>,
                x86::tf_gradient_vectors_avx512::<V> as TfGradient<T>
            ),
            tf_forward_in_place: pick!(
                level,
                None,
                Some(x86::tf_forward_in_place_avx2::<V> as TfForwardInPlace<T>),
                Some(x86::tf_forward_in_place_avx512::<V> as TfForwardInPlace<T>)
            ),
            tf_gradient_in_place: pick!(
                level,
                None,
                Some(x86::tf_gradient_in_place_avx2::<V> as TfGradientInPlace<T>),
                Some(x86::tf_gradient_in_place_avx512::<V> as TfGradientInPlace<T>)
            ),
            tf_gradient_into_features: pick!(
                level,
                None,
                Some(x86::tf_gradient_into_features_avx2::<V> as TfGradientIntoFeatures<T>),
                Some(x86::tf_gradient_into_features_avx512::<V> as TfGradientIntoFeatures<T>)
            ),
            ..self
        }
    }
}

impl Kernels<f64> {
    /// With the explicit vector builds on one buffer where the level has them.
    pub fn for_f64(level: Level) -> Self {
        let generic = Self::for_level(level);
        #[cfg(target_arch = "x86_64")]
        return generic.with_lanes::<lanes::F64x4>(level);
        #[cfg(not(target_arch = "x86_64"))]
        generic
    }
}

impl Kernels<f32> {
    /// With the hand-written streaming stores where the level has them.
    pub fn for_f32(level: Level) -> Self {
        let generic = Self::for_level(level);
        #[cfg(target_arch = "x86_64")]
        let generic = generic.with_lanes::<lanes::F32x8>(level);
        Self {
            streaming: pick!(
                level,
                None,
                Some(stream::f32_avx2 as Forward<f32>),
                Some(stream::f32_avx512 as Forward<f32>)
            ),
            ..generic
        }
    }
}

impl Kernels<half::f16> {
    /// With the F16C builds of both rules where the level has them (TensorFlow's through
    /// `super::lanes`).
    pub fn for_f16(level: Level) -> Self {
        let generic = Self::for_level(level);
        let forward: Forward<half::f16> = pick!(level, generic.forward, x86::f16_avx2, x86::f16_avx512);
        #[cfg(target_arch = "x86_64")]
        let generic = generic.with_lanes::<lanes::F16x8>(level);
        Self { forward, ..generic }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::leaky_relu;
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
