//! float16 through F16C, 8 lanes at a time: widen, compute in f32, round once (RNE). Shared
//! by the ops' x86 builds; only code compiled with the `f16c` and `avx2` features calls it.

use std::arch::x86_64::*;

use half::f16;

/// Lanes per vector.
pub const LANES: usize = 8;

/// `y[i] = f(inputs[0][i], …)` for whole vectors of 8; returns how many elements it did
/// (the caller finishes the tail with the scalar rule). Every input has `y`'s length.
///
/// # Safety
/// The CPU has AVX2 and F16C (call it from code compiled with them, so it inlines there).
#[inline(always)]
pub unsafe fn map<const N: usize>(
    inputs: [&[f16]; N],
    y: &mut [f16],
    mut f: impl FnMut([__m256; N]) -> __m256,
) -> usize {
    let n = y.len() / LANES * LANES;
    assert!(inputs.iter().all(|x| x.len() == y.len()), "f16c::map: lengths differ");
    for i in (0..n).step_by(LANES) {
        // SAFETY: i + 8 <= n <= every slice's length; unaligned loads and stores; the
        // caller's CPU has F16C and AVX2.
        unsafe {
            let mut v = [_mm256_setzero_ps(); N];
            for (v, x) in v.iter_mut().zip(&inputs) {
                *v = _mm256_cvtph_ps(_mm_loadu_si128(x.as_ptr().add(i).cast()));
            }
            let r = f(v);
            _mm_storeu_si128(y.as_mut_ptr().add(i).cast(), _mm256_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(r));
        }
    }
    n
}

/// `x > 0 ? a : b` per lane (false for NaN and both zeros).
///
/// # Safety
/// As for [`map`].
#[inline(always)]
pub unsafe fn select_positive(x: __m256, a: __m256, b: __m256) -> __m256 {
    // SAFETY: AVX, which the caller's CPU has.
    unsafe { _mm256_blendv_ps(b, a, _mm256_cmp_ps::<_CMP_GT_OQ>(x, _mm256_setzero_ps())) }
}

/// Adds lanes 0..4 and 4..8 of `v`, widened to f64, to `sums[0..4]` and `sums[4..8]`.
///
/// # Safety
/// As for [`map`]; `sums` holds 8 values.
#[inline(always)]
pub unsafe fn add_wide(sums: &mut [__m256d; 2], v: __m256) {
    // SAFETY: AVX, which the caller's CPU has.
    unsafe {
        sums[0] = _mm256_add_pd(sums[0], _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
        sums[1] = _mm256_add_pd(sums[1], _mm256_cvtps_pd(_mm256_extractf128_ps::<1>(v)));
    }
}
