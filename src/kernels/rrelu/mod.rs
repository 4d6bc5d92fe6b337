//! RRelu: a LeakyRelu whose slope is random in training and fixed in inference.
//!
//! Inference: `y = leaky_relu(x, (lower + upper) / 2)`, the mean taken in f32.
//! Training: element `i` of run `r` draws `a` from U[lower, upper) with Philox keyed by
//! `seed` (see [`SlopeRange`]); `y = a * x` where `x < 0`, else `x` (LeakyRelu's rule with
//! alpha `a`); the slope output holds `a` where `x < 0` and 1 elsewhere, so
//! `y == x * slope` exactly.

use super::cpu::{Level, pick};
use super::element::Scalar;
#[cfg(target_arch = "x86_64")]
use super::lanes;
use super::rng::PhiloxStream;
use crate::error::{Error, Result};

#[cfg(target_arch = "x86_64")]
mod x86;

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
                return Err(Error::invalid(OP, format!("attribute 'training' must be 0 or 1, got {other}"))
                    .on_attribute("training")
                    .expected("0 or 1")
                    .found(other));
            }
        };
        let seed = u64::try_from(seed).map_err(|_| {
            Error::invalid(OP, format!("attribute 'seed' must be >= 0, got {seed}"))
                .on_attribute("seed")
                .expected(">= 0")
                .found(seed)
        })?;
        Self::with_mode(lower, upper, training, seed)
    }

    /// From typed values (the C API and other hosts); checks the bounds.
    pub fn with_mode(lower: f32, upper: f32, training: bool, seed: u64) -> Result<Self> {
        for (name, value) in [("lower", lower), ("upper", upper)] {
            if !value.is_finite() {
                return Err(Error::invalid(OP, format!("attribute '{name}' must be finite, got {value}"))
                    .on_attribute(name)
                    .expected("a finite float")
                    .found(value));
            }
        }
        if lower > upper {
            return Err(Error::invalid(
                OP,
                format!("attribute 'lower' ({lower}) must not exceed attribute 'upper' ({upper})"),
            )
            .on_attribute("lower")
            .expected(format!("<= upper ({upper})"))
            .found(lower));
        }
        Ok(Self { lower, upper, training, seed })
    }

    /// Refuses bounds that element type `T` cannot hold: slopes must be finite values of `T`.
    pub fn check_element_type<T: Scalar>(&self) -> Result<()> {
        for (name, value) in [("lower", self.lower), ("upper", self.upper)] {
            if f64::from(value).abs() > T::MAX {
                return Err(Error::invalid(
                    OP,
                    format!(
                        "attribute '{name}' = {value} does not fit tensor({}) (largest finite {})",
                        T::ONNX_NAME,
                        T::MAX
                    ),
                )
                .on_attribute(name)
                .expected(format!("|value| <= {}", T::MAX))
                .found(value));
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

    /// What training run `run` needs, found once per call: the slope interval in `T`,
    /// the generator and the level's build.
    pub(crate) fn training_plan<T: Scalar>(&self, level: Level, run: u64) -> Training<T> {
        Training { level, range: self.slope_range(), stream: PhiloxStream::new(self.seed, run) }
    }

    /// The slope interval in `T`, found once per call.
    fn slope_range<T: Scalar>(&self) -> SlopeRange<T> {
        let (lower, upper) = (f64::from(self.lower), f64::from(self.upper));
        let (mut lo, mut hi) = (T::from_f64(lower), T::from_f64(upper));
        if lower == upper {
            return SlopeRange { lower, step: 0.0, lo, hi: lo };
        }
        for _ in 0..2 {
            if lo.to_f64() < lower {
                lo = lo.next_up();
            }
            if hi.to_f64() >= upper {
                hi = hi.next_down();
            }
        }
        SlopeRange { lower, step: (upper - lower) / f64::from(1u32 << DRAW_BITS), lo, hi }
    }

    #[cfg(test)]
    fn slope_from_draw<T: Scalar>(&self, word: u32) -> T {
        self.slope_range::<T>().pick(word)
    }
}

/// Random bits of each draw that set the slope: as many as a float32 significand holds.
const DRAW_BITS: u32 = 24;

/// Where RRelu's slopes live in `T`: `lo` is the smallest value >= lower, `hi` the largest
/// < upper. A draw's top 24 bits `q` map to `lower + q·step` with `step = (upper -
/// lower) / 2^24` ([`Scalar::from_draw`]: one rounding, so no overflow even for the widest
/// bounds), then are clamped to [lo, hi]; when no value of `T` lies inside, `lo`; when
/// `lower == upper`, the value of `T` nearest to it.
#[derive(Clone, Copy, Debug)]
pub struct SlopeRange<T> {
    lower: f64,
    step: f64,
    lo: T,
    hi: T,
}

impl<T: Scalar> SlopeRange<T> {
    #[inline(always)]
    fn pick(&self, word: u32) -> T {
        let a = T::from_draw(word >> (32 - DRAW_BITS), self.step, self.lower);
        let a = if a > self.hi { self.hi } else { a };
        if a < self.lo { self.lo } else { a }
    }
}

/// One training call's constants: the level it runs at, the slope interval, the generator.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Training<T> {
    pub level: Level,
    pub range: SlopeRange<T>,
    pub stream: PhiloxStream,
}

/// Training over elements `start..start + x.len()`: draws in blocks, then LeakyRelu's rule
/// with each element's slope. The body every level compiles.
#[inline(always)]
pub(crate) fn train<T: Scalar>(plan: &Training<T>, start: usize, x: &[T], y: &mut [T], mut slope: Option<&mut [T]>) {
    const BLOCK: usize = 256;
    let mut draws = [0u32; BLOCK];
    for (block, (xs, ys)) in x.chunks(BLOCK).zip(y.chunks_mut(BLOCK)).enumerate() {
        let offset = block * BLOCK;
        let draws = &mut draws[..xs.len()];
        plan.stream.fill(plan.level, start + offset, draws);
        match slope.as_deref_mut() {
            Some(slope) => {
                let slope = &mut slope[offset..offset + xs.len()];
                for (((y, s), &x), &u) in ys.iter_mut().zip(slope).zip(xs).zip(draws.iter()) {
                    let a = plan.range.pick(u);
                    *y = x.leaky_with(a); // LeakyRelu's rule with this element's slope
                    *s = if x.is_negative() { a } else { T::ONE };
                }
            }
            None => {
                for ((y, &x), &u) in ys.iter_mut().zip(xs).zip(draws.iter()) {
                    *y = x.leaky_with(plan.range.pick(u));
                }
            }
        }
    }
}

/// RRelu training over one range: `(plan, start, x, y, slope)`, see [`train`].
pub(crate) type Train<T> = unsafe fn(&Training<T>, usize, &[T], &mut [T], Option<&mut [T]>);
/// TensorFlow's RReluGrad: `(g, slopes, dx)`, the product rounded once per element.
pub(crate) type TfGradient<T> = unsafe fn(&[T], &[T], &mut [T]);

/// [`TfGradient`] into the buffer of `g`: `(g then dx, slopes)`.
pub(crate) type TfGradientInPlace<T> = unsafe fn(&mut [T], &[T]);
/// [`TfGradient`] into the buffer of the slopes: `(g, slopes then dx)`.
pub(crate) type TfGradientIntoSlopes<T> = unsafe fn(&[T], &mut [T]);

/// TensorFlow's inference slopes: `(x, slopes, alpha)`, `x > 0 ? 1 : alpha`.
pub(crate) type TfSlopeMap<T> = unsafe fn(&[T], &mut [T], T);

/// RRelu's builds for one element type and level (inference is LeakyRelu's).
#[derive(Clone, Copy)]
pub(crate) struct Kernels<T> {
    pub train: Train<T>,
    pub tf_slope_map: TfSlopeMap<T>,
    pub tf_gradient: TfGradient<T>,
    /// Where the type has vector lanes at the level (see LeakyRelu's).
    pub tf_gradient_in_place: Option<TfGradientInPlace<T>>,
    pub tf_gradient_into_slopes: Option<TfGradientIntoSlopes<T>>,
}

impl<T: Scalar> Kernels<T> {
    pub fn for_level(level: Level) -> Self {
        Self {
            train: pick!(level, train::<T>, x86::train_avx2, x86::train_avx512),
            tf_slope_map: pick!(level, T::tf_slope_map_slice, x86::tf_slope_map_avx2, x86::tf_slope_map_avx512),
            tf_gradient: pick!(level, T::tf_mul_slice, x86::tf_gradient_avx2, x86::tf_gradient_avx512),
            tf_gradient_in_place: None,
            tf_gradient_into_slopes: None,
        }
    }

    /// With the explicit vector builds of TensorFlow's gradient (`super::lanes`), out of
    /// place and on one buffer, where `level` has them.
    #[cfg(target_arch = "x86_64")]
    fn with_lanes<V: lanes::Lanes<Elem = T>>(self, level: Level) -> Self {
        Self {
            tf_gradient: pick!(
                level,
                self.tf_gradient,
                x86::tf_gradient_vectors_avx2::<V> as TfGradient<T>,
                x86::tf_gradient_vectors_avx512::<V> as TfGradient<T>
            ),
            tf_gradient_in_place: pick!(
                level,
                None,
                Some(x86::tf_gradient_in_place_avx2::<V> as TfGradientInPlace<T>),
                Some(x86::tf_gradient_in_place_avx512::<V> as TfGradientInPlace<T>)
            ),
            tf_gradient_into_slopes: pick!(
                level,
                None,
                Some(x86::tf_gradient_into_slopes_avx2::<V> as TfGradientIntoSlopes<T>),
                Some(x86::tf_gradient_into_slopes_avx512::<V> as TfGradientIntoSlopes<T>)
            ),
            ..self
        }
    }
}

impl Kernels<f64> {
    pub fn for_f64(level: Level) -> Self {
        let generic = Self::for_level(level);
        #[cfg(target_arch = "x86_64")]
        return generic.with_lanes::<lanes::F64x4>(level);
        #[cfg(not(target_arch = "x86_64"))]
        generic
    }
}

impl Kernels<half::f16> {
    /// With the F16C builds of TensorFlow's gradient (`super::lanes`) where the level has them.
    pub fn for_f16(level: Level) -> Self {
        let generic = Self::for_level(level);
        #[cfg(target_arch = "x86_64")]
        return generic.with_lanes::<lanes::F16x8>(level);
        #[cfg(not(target_arch = "x86_64"))]
        generic
    }
}

impl Kernels<f32> {
    /// With the AVX-512 kernel that maps Philox words to slopes in registers.
    pub fn for_f32(level: Level) -> Self {
        let generic = Self::for_level(level);
        #[cfg(target_arch = "x86_64")]
        let generic = generic.with_lanes::<lanes::F32x8>(level);
        Self { train: pick!(level, generic.train, generic.train, x86::train_f32_avx512), ..generic }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::Element;
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
        for u in [0, 1 << 31, u32::MAX] {
            let a: f64 = op.slope_from_draw(u);
            assert!((-3e38f32 as f64..3e38f32 as f64).contains(&a), "u = {u}: {a}");
            let a: f32 = op.slope_from_draw(u);
            assert!(a.is_finite() && (-3e38..3e38).contains(&a), "u = {u}: {a}");
        }
        // Spread evenly, not piled at the ends: the middle draw lands near 0.
        let a: f32 = op.slope_from_draw(1 << 31);
        assert!(a.abs() < 1e32, "{a}");
    }

    #[test]
    fn training_slopes_stay_in_range_after_rounding() {
        // upper = 0.5 is exact in f16: draws just below it must not round up onto it.
        let op = Rrelu::new(0.25, 0.5, 1, 3).unwrap();
        for u in [0, 1 << 31, 0xFFD0_0000, u32::MAX] {
            let a: f16 = op.slope_from_draw(u);
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

    /// Every level (and the AVX-512 float kernel) against draw-by-draw arithmetic, over
    /// heads, tails, far counters, clamped and single-point ranges.
    fn check_levels<T: Element + std::fmt::Debug>(x: &[T]) {
        let bits = |v: T| v.to_f64().to_bits();
        for (lower, upper) in [(0.125, 1.0 / 3.0), (0.25, 0.5), (0.3, 0.3), (-2.0, 5.0), (-6e4, 6e4)] {
            let op = Rrelu::new(lower, upper, 1, 99).unwrap();
            let (range, stream) = (op.slope_range::<T>(), PhiloxStream::new(99, 7));
            for level in Level::supported() {
                let kernels = T::kernels_for(level);
                for (start, len) in [(0, x.len()), (5, 1000), (64, 192), (3, 10), ((1 << 36) - 100, 700)] {
                    let xs = &x[..len];
                    let (mut y, mut s, mut y_only) = (vec![T::ONE; len], vec![T::ONE; len], vec![T::ONE; len]);
                    kernels.rrelu_train(&op, 7, start, xs, &mut y, Some(&mut s));
                    kernels.rrelu_train(&op, 7, start, xs, &mut y_only, None);
                    for (i, &xi) in xs.iter().enumerate() {
                        let a = range.pick(stream.draw(start + i));
                        let want_s = if xi.is_negative() { a } else { T::ONE };
                        let at = format!("{} {} [{lower}, {upper}) element {}", level.name(), T::ONNX_NAME, start + i);
                        assert_eq!(bits(y[i]), bits(xi.leaky_with(a)), "y, {at}");
                        assert_eq!(bits(y_only[i]), bits(y[i]), "y without slope, {at}");
                        assert_eq!(bits(s[i]), bits(want_s), "slope, {at}");
                    }
                }
            }
        }
    }

    #[test]
    fn every_level_gives_the_reference_bits() {
        let x: Vec<f32> = (0..3000)
            .map(|i| match i % 97 {
                0 => f32::NAN,
                1 => -0.0,
                2 => f32::NEG_INFINITY,
                3 => -1e-45,
                _ => (i as f32 * 0.731).sin() * 3.0,
            })
            .collect();
        check_levels(&x);
        check_levels(&x.iter().map(|&v| f64::from(v)).collect::<Vec<_>>());
        check_levels(&x.iter().map(|&v| f16::from_f32(v)).collect::<Vec<_>>());
    }
}
