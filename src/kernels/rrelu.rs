//! RRelu: a LeakyRelu whose slope is random in training and fixed in inference.
//!
//! Inference: `y = leaky_relu(x, (lower + upper) / 2)`, the mean taken in f32.
//! Training: element `i` of run `r` draws `a` from U[lower, upper) with Philox keyed by
//! `seed`; `y = a * x` where `x < 0`, else `x` (LeakyRelu's rule with alpha `a`); the
//! slope output holds `a` where `x < 0` and 1 elsewhere, so `y == x * slope` exactly.

use super::element::Element;
use super::leaky_relu::leaky_relu;
use super::rng::UniformStream;
use super::simd::{self, Level};
use crate::error::{Error, Result};

pub const OP: &str = "RRelu";
pub const DEFAULT_LOWER: f32 = 0.125;
pub const DEFAULT_UPPER: f32 = 1.0 / 3.0;

/// Validated RRelu attributes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rrelu {
    lower: f32,
    upper: f32,
    training: bool,
    seed: u64,
}

impl Rrelu {
    /// From ONNX attributes: `training` is 0 or 1, `seed` is >= 0.
    pub fn new(lower: f32, upper: f32, training: i64, seed: i64) -> Result<Self> {
        let training = match training {
            0 => false,
            1 => true,
            other => {
                return Err(Error::invalid(OP, format!("attribute 'training' must be 0 or 1, got {other}")));
            }
        };
        let seed = u64::try_from(seed)
            .map_err(|_| Error::invalid(OP, format!("attribute 'seed' must be >= 0, got {seed}")))?;
        Self::with_mode(lower, upper, training, seed)
    }

    /// From typed values (the C API and other hosts); checks the bounds.
    pub fn with_mode(lower: f32, upper: f32, training: bool, seed: u64) -> Result<Self> {
        for (name, value) in [("lower", lower), ("upper", upper)] {
            if !value.is_finite() {
                return Err(Error::invalid(OP, format!("attribute '{name}' must be finite, got {value}")));
            }
        }
        if lower > upper {
            return Err(Error::invalid(
                OP,
                format!("attribute 'lower' ({lower}) must not exceed attribute 'upper' ({upper})"),
            ));
        }
        Ok(Self { lower, upper, training, seed })
    }

    /// Refuses bounds that element type `T` cannot hold: slopes must be finite values of `T`.
    pub fn check_element_type<T: Element>(&self) -> Result<()> {
        for (name, value) in [("lower", self.lower), ("upper", self.upper)] {
            if f64::from(value).abs() > T::MAX {
                return Err(Error::invalid(
                    OP,
                    format!(
                        "attribute '{name}' = {value} does not fit tensor({}) (largest finite {})",
                        T::ONNX_NAME,
                        T::MAX
                    ),
                ));
            }
        }
        Ok(())
    }

    pub fn training(&self) -> bool {
        self.training
    }

    /// The inference slope `(lower + upper) / 2`, computed in f32.
    pub fn mean_slope(&self) -> f32 {
        (self.lower + self.upper) / 2.0
    }

    /// Computes elements `start..start + x.len()` of run `run`. `slope`, when given, has
    /// `x`'s length. The result does not depend on how a tensor is split into calls.
    pub fn run_range<T: Element>(&self, run: u64, start: usize, x: &[T], y: &mut [T], slope: Option<&mut [T]>) {
        assert_eq!(x.len(), y.len(), "rrelu: input and output lengths differ");
        if !self.training {
            leaky_relu(x, y, self.mean_slope());
            if let Some(slope) = slope {
                let a = T::from_f32(self.mean_slope());
                for (s, &x) in slope.iter_mut().zip(x) {
                    *s = if x.is_negative() { a } else { T::ONE };
                }
            }
            return;
        }
        let stream = UniformStream::new(self.seed, run);
        simd::rrelu_train(Level::best(), self, &self.slope_range::<T>(), &stream, start, x, y, slope);
    }

    /// Training over one range: the body `simd::rrelu_train` compiles for each ISA.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub(crate) fn train<T: Element>(
        &self,
        level: Level,
        range: &SlopeRange<T>,
        stream: &UniformStream,
        start: usize,
        x: &[T],
        y: &mut [T],
        mut slope: Option<&mut [T]>,
    ) {
        const BLOCK: usize = 256;
        let mut draws = [0.0f32; BLOCK];
        for (block, (xs, ys)) in x.chunks(BLOCK).zip(y.chunks_mut(BLOCK)).enumerate() {
            let offset = block * BLOCK;
            let draws = &mut draws[..xs.len()];
            stream.fill(level, start + offset, draws);
            match slope.as_deref_mut() {
                Some(slope) => {
                    let slope = &mut slope[offset..offset + xs.len()];
                    for (((y, s), &x), &u) in ys.iter_mut().zip(slope).zip(xs).zip(draws.iter()) {
                        let a = range.pick(u);
                        *y = x.leaky_with(a); // LeakyRelu's rule with this element's slope
                        *s = if x.is_negative() { a } else { T::ONE };
                    }
                }
                None => {
                    for ((y, &x), &u) in ys.iter_mut().zip(xs).zip(draws.iter()) {
                        *y = x.leaky_with(range.pick(u));
                    }
                }
            }
        }
    }

    /// The slope interval in `T`, found once per call.
    fn slope_range<T: Element>(&self) -> SlopeRange<T> {
        let (lower, upper) = (f64::from(self.lower), f64::from(self.upper));
        let (mut lo, mut hi) = (T::from_f64(lower), T::from_f64(upper));
        for _ in 0..2 {
            if lo.to_f64() < lower {
                lo = lo.next_up();
            }
            if hi.to_f64() >= upper {
                hi = hi.next_down();
            }
        }
        SlopeRange { lower, width: upper - lower, lo, hi, point: lower == upper }
    }

    #[cfg(test)]
    fn slope_from_uniform<T: Element>(&self, u: f32) -> T {
        self.slope_range::<T>().pick(u)
    }
}

/// Where RRelu's slopes live in `T`: `lo` is the smallest value >= lower, `hi` the largest
/// < upper. A draw `u` in [0, 1) maps to `lower + (upper - lower)·u` in f64 (no overflow, at
/// most a step outside after rounding to `T`), then is clamped to [lo, hi]; when no value of
/// `T` lies inside, `lo`; when `lower == upper`, that one point.
#[derive(Clone, Copy, Debug)]
pub struct SlopeRange<T> {
    lower: f64,
    width: f64,
    lo: T,
    hi: T,
    point: bool,
}

impl<T: Element> SlopeRange<T> {
    #[inline(always)]
    fn pick(&self, u: f32) -> T {
        let a = T::from_f64(self.lower + self.width * f64::from(u));
        if self.point {
            return a;
        }
        let a = if a > self.hi { self.hi } else { a };
        if a < self.lo { self.lo } else { a }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use half::f16;

    #[test]
    fn attributes_are_checked() {
        assert!(Rrelu::new(0.125, 1.0 / 3.0, 0, 0).is_ok());
        let err = Rrelu::new(0.5, 0.25, 0, 0).unwrap_err();
        assert_eq!(err.to_string(), "rectify: RRelu: attribute 'lower' (0.5) must not exceed attribute 'upper' (0.25)");
        assert!(Rrelu::new(f32::NAN, 0.3, 0, 0).unwrap_err().message().contains("'lower' must be finite"));
        assert!(Rrelu::new(0.1, f32::INFINITY, 0, 0).unwrap_err().message().contains("'upper' must be finite"));
        assert!(Rrelu::new(0.1, 0.3, 2, 0).unwrap_err().message().contains("'training' must be 0 or 1"));
        assert!(Rrelu::new(0.1, 0.3, 1, -1).unwrap_err().message().contains("'seed' must be >= 0"));
    }

    #[test]
    fn bounds_must_fit_the_element_type() {
        // Found by the `kernels` fuzz target: float16 slopes above 65504 became inf.
        let op = Rrelu::new(9.06e11, 9.3e14, 1, 0).unwrap();
        let err = op.check_element_type::<f16>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "rectify: RRelu: attribute 'lower' = 906000000000 does not fit tensor(float16) (largest finite 65504)"
        );
        assert!(op.check_element_type::<f32>().is_ok());
    }

    #[test]
    fn the_widest_bounds_neither_overflow_nor_hang() {
        // Found by the `kernels` fuzz target: `upper - lower` overflowed f32 to inf, and
        // stepping down from the largest f64 to `upper` one ULP at a time never ended.
        let op = Rrelu::new(-3e38, 3e38, 1, 0).unwrap();
        for u in [0.0f32, 0.5, 1.0 - 2f32.powi(-24)] {
            let a: f64 = op.slope_from_uniform(u);
            assert!((-3e38f32 as f64..3e38f32 as f64).contains(&a), "u = {u}: {a}");
            let a: f32 = op.slope_from_uniform(u);
            assert!(a.is_finite() && (-3e38..3e38).contains(&a), "u = {u}: {a}");
        }
    }

    #[test]
    fn training_slopes_stay_in_range_after_rounding() {
        // upper = 0.5 is exact in f16: draws just below it must not round up onto it.
        let op = Rrelu::new(0.25, 0.5, 1, 3).unwrap();
        for u in [0.0f32, 0.5, 0.999, 1.0 - 2f32.powi(-24)] {
            let a: f16 = op.slope_from_uniform(u);
            assert!(a.to_f64() >= 0.25 && a.to_f64() < 0.5, "u = {u}: a = {a}");
        }
    }

    #[test]
    fn training_output_is_x_times_slope() {
        let op = Rrelu::new(0.125, 1.0 / 3.0, 1, 11).unwrap();
        let x: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.7).sin()).collect();
        let (mut y, mut s) = (vec![0.0; 1000], vec![0.0; 1000]);
        op.run_range(0, 0, &x, &mut y, Some(&mut s));
        for i in 0..1000 {
            assert_eq!(y[i], x[i] * s[i]);
            if x[i] < 0.0 {
                assert!((0.125..1.0 / 3.0).contains(&s[i]));
            } else {
                assert_eq!(s[i], 1.0);
            }
        }
        // Split into uneven calls: the same bits.
        let (mut y2, mut s2) = (vec![0.0; 1000], vec![0.0; 1000]);
        for start in (0..1000).step_by(333) {
            let end = (start + 333).min(1000);
            op.run_range(0, start, &x[start..end], &mut y2[start..end], Some(&mut s2[start..end]));
        }
        assert_eq!(y, y2);
        assert_eq!(s, s2);
    }
}
