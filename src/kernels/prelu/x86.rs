//! PRelu's x86 builds: the generic bodies per level, and float16 through F16C.

use std::arch::x86_64::*;

use half::f16;

use crate::kernels::cpu::per_level;
use crate::kernels::element::{Scalar, Slope};
use crate::kernels::f16c;

per_level!(row_avx2, row_avx512, (x: &[T], slope: Slope<'_, T>, y: &mut [T]) => T::prelu_slice(x, slope, y));
per_level!(tf_row_avx2, tf_row_avx512, (x: &[T], slope: Slope<'_, T>, y: &mut [T]) => T::tf_prelu_slice(x, slope, y));
per_level!(
    tf_gradient_avx2,
    tf_gradient_avx512,
    (g: &[T], x: &[T], slope: Slope<'_, T>, dx: &mut [T], sums: &mut [f64]) => T::tf_prelu_grad_slice(g, x, slope, dx, sums)
);

/// float16 PRelu with F16C conversions: the exact f32 product (+0 for -0) rounded
/// once where `x < 0`; elsewhere `x` passes through unchanged (NaN payloads included).
#[target_feature(enable = "avx2,fma,f16c")]
pub fn f16_avx2(x: &[f16], slope: Slope<'_, f16>, y: &mut [f16]) {
    let n = x.len() / 8 * 8;
    let zero = _mm256_setzero_ps();
    let scalar = match slope {
        Slope::Scalar(s) => Some(_mm256_set1_ps(s.to_f32())),
        Slope::Vector(_) => None,
    };
    for i in (0..n).step_by(8) {
        // SAFETY: i + 8 <= n <= len of x, y and a vector slope (same length as x).
        unsafe {
            let raw = _mm_loadu_si128(x.as_ptr().add(i).cast());
            let v = _mm256_cvtph_ps(raw);
            let s = match (scalar, slope) {
                (Some(s), _) => s,
                (None, Slope::Vector(s)) => _mm256_cvtph_ps(_mm_loadu_si128(s.as_ptr().add(i).cast())),
                (None, Slope::Scalar(_)) => unreachable!(),
            };
            let product = _mm256_add_ps(_mm256_mul_ps(v, s), zero);
            let rounded = _mm256_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(product);
            // 32-bit lane masks packed to 16-bit lanes, then a bytewise select.
            let negative = _mm256_castps_si256(_mm256_cmp_ps::<_CMP_LT_OQ>(v, zero));
            let mask = _mm_packs_epi32(_mm256_castsi256_si128(negative), _mm256_extracti128_si256::<1>(negative));
            _mm_storeu_si128(y.as_mut_ptr().add(i).cast(), _mm_blendv_epi8(raw, rounded, mask));
        }
    }
    match slope {
        Slope::Scalar(s) => {
            for (y, &x) in y[n..].iter_mut().zip(&x[n..]) {
                *y = x.prelu(s);
            }
        }
        Slope::Vector(s) => {
            for ((y, &x), &s) in y[n..].iter_mut().zip(&x[n..]).zip(&s[n..]) {
                *y = x.prelu(s);
            }
        }
    }
}

/// [`f16_avx2`] 16 lanes at a time with AVX-512's conversions and mask registers.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
pub fn f16_avx512(x: &[f16], slope: Slope<'_, f16>, y: &mut [f16]) {
    let n = x.len() / 16 * 16;
    let zero = _mm512_setzero_ps();
    let scalar = match slope {
        Slope::Scalar(s) => Some(_mm512_set1_ps(s.to_f32())),
        Slope::Vector(_) => None,
    };
    for i in (0..n).step_by(16) {
        // SAFETY: i + 16 <= n <= len of x, y and a vector slope (same length as x).
        unsafe {
            let raw = _mm256_loadu_si256(x.as_ptr().add(i).cast());
            let v = _mm512_cvtph_ps(raw);
            let s = match (scalar, slope) {
                (Some(s), _) => s,
                (None, Slope::Vector(s)) => _mm512_cvtph_ps(_mm256_loadu_si256(s.as_ptr().add(i).cast())),
                (None, Slope::Scalar(_)) => unreachable!(),
            };
            let product = _mm512_add_ps(_mm512_mul_ps(v, s), zero);
            let rounded = _mm512_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(product);
            let negative = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(v, zero);
            _mm256_storeu_si256(y.as_mut_ptr().add(i).cast(), _mm256_mask_blend_epi16(negative, raw, rounded));
        }
    }
    f16_avx2(&x[n..], slope.skip(n), &mut y[n..]) // the tail, shorter than 16
}

/// TensorFlow's PRelu row for float16: `x > 0 ? x : x · s` in f32, rounded once.
#[target_feature(enable = "avx2,fma,f16c")]
pub fn tf_row_f16_avx2(x: &[f16], slope: Slope<'_, f16>, y: &mut [f16]) {
    let n = match slope {
        Slope::Scalar(s) => {
            let s = _mm256_set1_ps(s.to_f32());
            // SAFETY: this function is compiled with AVX2 and F16C, which its level detected.
            unsafe { f16c::map([x], y, |[v]| f16c::select_positive(v, v, _mm256_mul_ps(v, s))) }
        }
        // SAFETY: as above.
        Slope::Vector(s) => unsafe { f16c::map([x, s], y, |[v, s]| f16c::select_positive(v, v, _mm256_mul_ps(v, s))) },
    };
    f16::tf_prelu_slice(&x[n..], slope.skip(n), &mut y[n..]);
}

/// TensorFlow's PRelu gradients over one float16 row (see `Scalar::tf_prelu_grad_slice`):
/// the products `g · x` are exact in f32 and summed in f64, lane `k` of the scalar case
/// into partial sum `k`, as the generic body does.
#[target_feature(enable = "avx2,fma,f16c")]
pub fn tf_gradient_row_f16_avx2(g: &[f16], x: &[f16], slope: Slope<'_, f16>, dx: &mut [f16], sums: &mut [f64]) {
    let zero = _mm256_setzero_ps();
    let n = match slope {
        Slope::Scalar(s) => {
            let sv = s.to_f32();
            let s = _mm256_set1_ps(sv);
            let mut wide = [_mm256_setzero_pd(); 2];
            // SAFETY: as in `tf_row_f16_avx2`.
            let n = unsafe {
                f16c::map([g, x], dx, |[g, x]| {
                    f16c::add_wide(&mut wide, f16c::select_positive(x, zero, _mm256_mul_ps(g, x)));
                    f16c::select_positive(x, g, _mm256_mul_ps(g, s))
                })
            };
            let mut partial = [0.0f64; 8];
            // SAFETY: 4 + 4 doubles into an array of 8.
            unsafe {
                _mm256_storeu_pd(partial.as_mut_ptr(), wide[0]);
                _mm256_storeu_pd(partial.as_mut_ptr().add(4), wide[1]);
            }
            for (k, ((dx, &g), &x)) in dx[n..].iter_mut().zip(&g[n..]).zip(&x[n..]).enumerate() {
                let (gw, xw) = (g.to_f32(), x.to_f32());
                *dx = if xw > 0.0 { g } else { f16::from_f32(gw * sv) };
                partial[k] += if xw > 0.0 { 0.0 } else { f64::from(gw * xw) };
            }
            sums[0] += partial.iter().sum::<f64>();
            return;
        }
        Slope::Vector(s) => {
            let n = dx.len() / f16c::LANES * f16c::LANES;
            let mut at = 0;
            let sums_at = sums.as_mut_ptr();
            // SAFETY: as in `tf_row_f16_avx2`; `sums` has the row's length, so the
            // 8 doubles at `at` exist.
            let done = unsafe {
                f16c::map([g, x, s], dx, |[g, x, s]| {
                    let mut wide = [_mm256_loadu_pd(sums_at.add(at)), _mm256_loadu_pd(sums_at.add(at + 4))];
                    f16c::add_wide(&mut wide, f16c::select_positive(x, zero, _mm256_mul_ps(g, x)));
                    _mm256_storeu_pd(sums_at.add(at), wide[0]);
                    _mm256_storeu_pd(sums_at.add(at + 4), wide[1]);
                    at += f16c::LANES;
                    f16c::select_positive(x, g, _mm256_mul_ps(g, s))
                })
            };
            debug_assert_eq!(done, n);
            n
        }
    };
    f16::tf_prelu_grad_slice(&g[n..], &x[n..], slope.skip(n), &mut dx[n..], &mut sums[n..]);
}
