//! RRelu's x86 builds: the generic training body per level, and the float32 AVX-512 kernel
//! whose Philox words go straight from registers into the slope map and LeakyRelu's rule,
//! 192 elements per step, with the bits of the generic body.

use std::arch::x86_64::*;

use super::{DRAW_BITS, SlopeRange, Training, train};
use crate::kernels::cpu::per_level;
use crate::kernels::lanes::{Lanes, map, map_in_place, map_into_second};
use crate::kernels::rng::{GROUP, LANES, x86::Registers};

per_level!(
    train_avx2,
    train_avx512,
    (plan: &Training<T>, start: usize, x: &[T], y: &mut [T], slope: Option<&mut [T]>) => train(plan, start, x, y, slope)
);
per_level!(
    tf_slope_map_avx2,
    tf_slope_map_avx512,
    (x: &[T], slopes: &mut [T], alpha: T) => T::tf_slope_map_slice(x, slopes, alpha)
);
per_level!(tf_gradient_avx2, tf_gradient_avx512, (g: &[T], slopes: &[T], dx: &mut [T]) => T::tf_mul_slice(g, slopes, dx));
per_level!(
    tf_gradient_vectors_avx2,
    tf_gradient_vectors_avx512,
    <V: Lanes> (g: &[V::Elem], slopes: &[V::Elem], dx: &mut [V::Elem]) =>
        // SAFETY: the table names each build with the vector of its level, whose features
        // this function is compiled with.
        unsafe { map::<V, 1>(g, [slopes], dx, |g, [s]| g.mul(s)) }
);
per_level!(
    tf_gradient_in_place_avx2,
    tf_gradient_in_place_avx512,
    <V: Lanes> (g: &mut [V::Elem], slopes: &[V::Elem]) =>
        // SAFETY: as for `tf_gradient_vectors_avx2`.
        unsafe { map_in_place::<V, 1>(g, [slopes], |g, [s]| g.mul(s)) }
);
per_level!(
    tf_gradient_into_slopes_avx2,
    tf_gradient_into_slopes_avx512,
    <V: Lanes> (g: &[V::Elem], slopes: &mut [V::Elem]) =>
        // SAFETY: as for `tf_gradient_vectors_avx2`.
        unsafe { map_into_second::<V>(g, slopes, |g, [s]| g.mul(s)) }
);

/// Philox groups computed side by side per step (2 and 4 measured slower).
const STEP: usize = 3;

/// Elements `start..start + x.len()` of one run: whole steps of groups here, the ragged
/// ends through [`train`].
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
pub fn train_f32_avx512(plan: &Training<f32>, start: usize, x: &[f32], y: &mut [f32], mut slope: Option<&mut [f32]>) {
    assert_eq!(x.len(), y.len(), "rrelu: input and output lengths differ");
    let n = x.len();
    if let Some(slope) = slope.as_deref() {
        assert_eq!(slope.len(), n, "rrelu: slope length differs");
    }
    let head = (start.div_ceil(GROUP) * GROUP - start).min(n);
    let body = head + (n - head) / (STEP * GROUP) * (STEP * GROUP);
    train(plan, start, &x[..head], &mut y[..head], slope.as_deref_mut().map(|s| &mut s[..head]));
    let regs = Registers::new(&plan.stream);
    let map = SlopeMap::new(&plan.range);
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
    train(plan, start + body, &x[body..], &mut y[body..], slope.map(|s| &mut s[body..]));
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
