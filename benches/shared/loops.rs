//! Comparison loops for the benchmarks, built for the same ISA as rectify's kernels (the
//! AVX-512 build where the CPU has it), so a ratio compares code, not compiler targets.

/// The seed formula `0.5(1+a)x + 0.5(1-a)|x|`, for comparison only.
#[inline(always)]
pub fn seed_formula(x: &[f32], y: &mut [f32]) {
    let (f1, f2) = (0.5 * (1.0 + 0.01f32), 0.5 * (1.0 - 0.01f32));
    for (y, &x) in y.iter_mut().zip(x) {
        *y = f1 * x + f2 * x.abs();
    }
}

/// One multiply per element: not LeakyRelu (which needs a compare or a max as well), the
/// in-cache floor of any kernel that computes.
#[inline(always)]
pub fn one_multiply(x: &[f32], y: &mut [f32]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y = x * 0.01;
    }
}

#[cfg(target_arch = "x86_64")]
pub mod avx512 {
    /// # Safety
    /// The CPU must have the enabled features ([`super::has_avx512`]).
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma")]
    pub fn seed_formula(x: &[f32], y: &mut [f32]) {
        super::seed_formula(x, y)
    }

    /// # Safety
    /// As for [`seed_formula`].
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma")]
    pub fn one_multiply(x: &[f32], y: &mut [f32]) {
        super::one_multiply(x, y)
    }
}

#[cfg(not(target_arch = "x86_64"))]
pub mod avx512 {
    pub use super::{one_multiply, seed_formula};
}

pub fn has_avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    return is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512bw")
        && is_x86_feature_detected!("avx512vl")
        && is_x86_feature_detected!("avx2")
        && is_x86_feature_detected!("fma");
    #[allow(unreachable_code)]
    false
}

/// `f`'s AVX-512 build where the CPU has it (as rectify dispatches), else the portable one.
pub fn best(portable: fn(&[f32], &mut [f32]), wide: unsafe fn(&[f32], &mut [f32])) -> impl Fn(&[f32], &mut [f32]) {
    let use_wide = has_avx512();
    move |x, y| {
        if use_wide {
            // SAFETY: the CPU has every feature `wide` enables (checked above).
            unsafe { wide(x, y) }
        } else {
            portable(x, y)
        }
    }
}
