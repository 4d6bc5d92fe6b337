//! LeakyRelu's x86 builds: the generic bodies per level, and float16 through F16C.

use std::arch::x86_64::*;

use half::f16;

use crate::kernels::cpu::per_level;
use crate::kernels::element::Scalar;
use crate::kernels::lanes::{Lanes, map, map_in_place, map_into_second};

per_level!(forward_avx2, forward_avx512, (x: &[T], y: &mut [T], alpha: f32) => T::leaky_slice(x, y, alpha));
per_level!(tf_forward_avx2, tf_forward_avx512, (x: &[T], y: &mut [T], alpha: T) => T::tf_leaky_slice(x, y, alpha));
per_level!(
    tf_gradient_avx2,
    tf_gradient_avx512,
    (g: &[T], x: &[T], dx: &mut [T], alpha: T) => T::tf_leaky_grad_slice(g, x, dx, alpha)
);
per_level!(
    tf_forward_vectors_avx2,
    tf_forward_vectors_avx512,
    <V: Lanes> (x: &[V::Elem], y: &mut [V::Elem], alpha: V::Elem) =>
        // SAFETY: the table names each build with the vector of its level, whose features
        // this function is compiled with.
        unsafe {
            let a = V::splat(alpha);
            map::<V, 0>(x, [], y, |x, []| x.select_positive(x, x.mul(a)))
        }
);
per_level!(
    tf_gradient_vectors_avx2,
    tf_gradient_vectors_avx512,
    <V: Lanes> (g: &[V::Elem], x: &[V::Elem], dx: &mut [V::Elem], alpha: V::Elem) =>
        // SAFETY: as for `tf_forward_vectors_avx2`.
        unsafe {
            let a = V::splat(alpha);
            map::<V, 1>(g, [x], dx, |g, [x]| x.select_positive(g, g.mul(a)))
        }
);
per_level!(
    tf_forward_in_place_avx2,
    tf_forward_in_place_avx512,
    <V: Lanes> (buf: &mut [V::Elem], alpha: V::Elem) =>
        // SAFETY: as for `tf_forward_vectors_avx2`.
        unsafe {
            let a = V::splat(alpha);
            map_in_place::<V, 0>(buf, [], |x, []| x.select_positive(x, x.mul(a)))
        }
);
per_level!(
    tf_gradient_in_place_avx2,
    tf_gradient_in_place_avx512,
    <V: Lanes> (g: &mut [V::Elem], x: &[V::Elem], alpha: V::Elem) =>
        // SAFETY: as for `tf_forward_in_place_avx2`.
        unsafe {
            let a = V::splat(alpha);
            map_in_place::<V, 1>(g, [x], |g, [x]| x.select_positive(g, g.mul(a)))
        }
);
per_level!(
    tf_gradient_into_features_avx2,
    tf_gradient_into_features_avx512,
    <V: Lanes> (g: &[V::Elem], x: &mut [V::Elem], alpha: V::Elem) =>
        // SAFETY: as for `tf_forward_in_place_avx2`.
        unsafe {
            let a = V::splat(alpha);
            map_into_second::<V>(g, x, |g, [x]| x.select_positive(g, g.mul(a)))
        }
);

/// float16 LeakyRelu with F16C conversions, 8 lanes at a time: widen, `x < 0 ? x·alpha
/// : x` in f32, round once (RNE). The tail takes the scalar rule; the tests check every
/// one of the 65,536 inputs against it.
#[target_feature(enable = "avx2,fma,f16c")]
pub fn f16_avx2(x: &[f16], y: &mut [f16], alpha: f32) {
    let n = x.len() / 8 * 8;
    let (a, zero) = (_mm256_set1_ps(alpha), _mm256_setzero_ps());
    for i in (0..n).step_by(8) {
        // SAFETY: i + 8 <= n <= len of both slices; unaligned loads and stores.
        unsafe {
            let v = _mm256_cvtph_ps(_mm_loadu_si128(x.as_ptr().add(i).cast()));
            let negative = _mm256_cmp_ps::<_CMP_LT_OQ>(v, zero);
            let r = _mm256_blendv_ps(v, _mm256_mul_ps(v, a), negative);
            _mm_storeu_si128(y.as_mut_ptr().add(i).cast(), _mm256_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(r));
        }
    }
    for (y, &x) in y[n..].iter_mut().zip(&x[n..]) {
        *y = x.leaky(alpha);
    }
}

/// [`f16_avx2`] 16 lanes at a time with AVX-512's conversions.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
pub fn f16_avx512(x: &[f16], y: &mut [f16], alpha: f32) {
    let n = x.len() / 16 * 16;
    let (a, zero) = (_mm512_set1_ps(alpha), _mm512_setzero_ps());
    for i in (0..n).step_by(16) {
        // SAFETY: i + 16 <= n <= len of both slices; unaligned loads and stores.
        unsafe {
            let v = _mm512_cvtph_ps(_mm256_loadu_si256(x.as_ptr().add(i).cast()));
            let negative = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(v, zero);
            let r = _mm512_mask_mul_ps(v, negative, v, a);
            _mm256_storeu_si256(y.as_mut_ptr().add(i).cast(), _mm512_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(r));
        }
    }
    f16_avx2(&x[n..], &mut y[n..], alpha) // the tail, shorter than 16
}
