//! RRelu: a LeakyRelu whose slope is random in training and fixed in inference.
//!
//! Inference: `y = leaky_relu(x, (lower + upper) / 2)`, the mean taken in f32.
//! Training: element `i` of run `r` draws `a` from U[lower, upper) with Philox keyed by
//! `seed` (see [`SlopeRange`]); `y = a * x` where `x < 0`, else `x` (LeakyRelu's rule with
//! alpha `a`); the slope output holds `a` where `x < 0` and 1 elsewhere, so
//! `y == x * slope` exactly.

use super::element::Element;
use super::leaky_relu::leaky_relu;
use super::rng::PhiloxStream;
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
        let stream = PhiloxStream::new(self.seed, run);
        simd::rrelu_train(Level::best(), self, &self.slope_range::<T>(), &stream, start, x, y, slope);
    }

    /// Training over one range: the body `simd::rrelu_train` compiles for each ISA.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub(crate) fn train<T: Element>(
        &self,
        level: Level,
        range: &SlopeRange<T>,
        stream: &PhiloxStream,
        start: usize,
        x: &[T],
        y: &mut [T],
        mut slope: Option<&mut [T]>,
    ) {
        const BLOCK: usize = 256;
        let mut draws = [0u32; BLOCK];
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
    fn slope_from_draw<T: Element>(&self, word: u32) -> T {
        self.slope_range::<T>().pick(word)
    }
}

/// Random bits of each draw that set the slope: as many as a float32 significand holds.
const DRAW_BITS: u32 = 24;

/// Where RRelu's slopes live in `T`: `lo` is the smallest value >= lower, `hi` the largest
/// < upper. A draw's top 24 bits `q` map to `lower + q·step` with `step = (upper -
/// lower) / 2^24` ([`Element::from_draw`]: one rounding, so no overflow even for the widest
/// bounds), then are clamped to [lo, hi]; when no value of `T` lies inside, `lo`; when
/// `lower == upper`, the value of `T` nearest to it.
#[derive(Clone, Copy, Debug)]
pub struct SlopeRange<T> {
    lower: f64,
    step: f64,
    lo: T,
    hi: T,
}

impl<T: Element> SlopeRange<T> {
    #[inline(always)]
    fn pick(&self, word: u32) -> T {
        let a = T::from_draw(word >> (32 - DRAW_BITS), self.step, self.lower);
        let a = if a > self.hi { self.hi } else { a };
        if a < self.lo { self.lo } else { a }
    }
}

/// The float32 training kernel in AVX-512: Philox words go straight from registers into the
/// slope map and LeakyRelu's rule, 192 elements per step, with the bits of the generic body.
#[cfg(target_arch = "x86_64")]
pub(crate) mod x86 {
    use std::arch::x86_64::*;

    use super::{DRAW_BITS, Rrelu, SlopeRange};
    use crate::kernels::rng::{GROUP, LANES, PhiloxStream, x86::Registers};
    use crate::kernels::simd::Level;

    /// Philox groups computed side by side per step (2 and 4 measured slower).
    const STEP: usize = 3;

    /// Elements `start..start + x.len()` of one run: whole steps of groups here, the ragged
    /// ends through [`Rrelu::train`].
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
    pub fn train_f32(
        level: Level,
        op: &Rrelu,
        range: &SlopeRange<f32>,
        stream: &PhiloxStream,
        start: usize,
        x: &[f32],
        y: &mut [f32],
        mut slope: Option<&mut [f32]>,
    ) {
        assert_eq!(x.len(), y.len(), "rrelu: input and output lengths differ");
        let n = x.len();
        if let Some(slope) = slope.as_deref() {
            assert_eq!(slope.len(), n, "rrelu: slope length differs");
        }
        let head = (start.div_ceil(GROUP) * GROUP - start).min(n);
        let body = head + (n - head) / (STEP * GROUP) * (STEP * GROUP);
        op.train(level, range, stream, start, &x[..head], &mut y[..head], slope.as_deref_mut().map(|s| &mut s[..head]));
        let regs = Registers::new(stream);
        let map = SlopeMap::new(range);
        let (xp, yp) = (x.as_ptr(), y.as_mut_ptr());
        let sp = slope.as_deref_mut().map(|s| s.as_mut_ptr());
        for i in (head..body).step_by(STEP * GROUP) {
            let groups = regs.groups::<STEP>((start + i) / GROUP);
            for (g, words) in groups.iter().enumerate() {
                for (w, &words) in words.iter().enumerate() {
                    let at = i + g * GROUP + w * LANES;
                    // SAFETY: at + 16 <= body <= n for x, y and slope (asserted above).
                    unsafe { map.apply(words, xp.add(at), yp.add(at), sp.map(|s| s.add(at))) };
                }
            }
        }
        op.train(level, range, stream, start + body, &x[body..], &mut y[body..], slope.map(|s| &mut s[body..]));
    }

    /// [`SlopeRange::pick`] and the training rule for 16 lanes.
    struct SlopeMap {
        step: __m512,
        lower: __m512,
        lo: __m512,
        hi: __m512,
    }

    impl SlopeMap {
        #[inline]
        #[target_feature(enable = "avx512f")]
        fn new(range: &SlopeRange<f32>) -> Self {
            let step = _mm512_set1_ps(range.step as f32);
            let lower = _mm512_set1_ps(range.lower as f32);
            Self { step, lower, lo: _mm512_set1_ps(range.lo), hi: _mm512_set1_ps(range.hi) }
        }

        /// Elements `x[..16]` with draws `words` into `y[..16]` and, if given, `slope[..16]`.
        ///
        /// # Safety
        /// Each pointer must be valid for 16 floats.
        #[inline]
        #[target_feature(enable = "avx512f")]
        unsafe fn apply(&self, words: __m512i, x: *const f32, y: *mut f32, slope: Option<*mut f32>) {
            let q = _mm512_cvtepi32_ps(_mm512_srli_epi32::<{ 32 - DRAW_BITS }>(words));
            // The generic order: one fma, then `hi` if above it, then `lo` if below it.
            let a = _mm512_max_ps(self.lo, _mm512_min_ps(self.hi, _mm512_fmadd_ps(q, self.step, self.lower)));
            // SAFETY: the caller's contract.
            unsafe {
                let xv = _mm512_loadu_ps(x);
                let negative = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(xv, _mm512_setzero_ps());
                _mm512_storeu_ps(y, _mm512_mask_mul_ps(xv, negative, xv, a));
                if let Some(slope) = slope {
                    _mm512_storeu_ps(slope, _mm512_mask_blend_ps(negative, _mm512_set1_ps(1.0), a));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::simd;
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
                for (start, len) in [(0, x.len()), (5, 1000), (64, 192), (3, 10), ((1 << 36) - 100, 700)] {
                    let xs = &x[..len];
                    let (mut y, mut s, mut y_only) = (vec![T::ONE; len], vec![T::ONE; len], vec![T::ONE; len]);
                    simd::rrelu_train(level, &op, &range, &stream, start, xs, &mut y, Some(&mut s));
                    simd::rrelu_train(level, &op, &range, &stream, start, xs, &mut y_only, None);
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
