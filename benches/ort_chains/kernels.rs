//! P4: the kernel against `copy_from_slice` of the same bytes, one thread, no ONNX Runtime,
//! beside two comparison loops compiled for the same ISA as rectify's kernels: the seed
//! formula (inexact, never shipped) and, in the cache, a floor (one multiply per element).

use std::hint::black_box;
use std::time::Duration;

use super::{K, M, Row, measure, median};

/// A 64-byte-aligned run of `n` floats inside `buffer`, as ONNX Runtime's allocator hands
/// out tensors.
fn aligned(buffer: &mut Vec<f32>, n: usize) -> &mut [f32] {
    buffer.resize(n + 16, 0.0);
    let start = buffer.as_ptr().align_offset(64);
    &mut buffer[start..start + n]
}

/// The seed formula `0.5(1+a)x + 0.5(1-a)|x|`, for comparison only.
#[inline(always)]
fn seed_formula(x: &[f32], y: &mut [f32]) {
    let (f1, f2) = (0.5 * (1.0 + 0.01f32), 0.5 * (1.0 - 0.01f32));
    for (y, &x) in y.iter_mut().zip(x) {
        *y = f1 * x + f2 * x.abs();
    }
}

/// One multiply per element: not LeakyRelu (which needs a compare or a max as well), the
/// in-cache floor of any kernel that computes.
#[inline(always)]
fn one_multiply(x: &[f32], y: &mut [f32]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y = x * 0.01;
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma")]
    pub fn seed_formula(x: &[f32], y: &mut [f32]) {
        super::seed_formula(x, y)
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma")]
    pub fn one_multiply(x: &[f32], y: &mut [f32]) {
        super::one_multiply(x, y)
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod avx512 {
    pub use super::{one_multiply, seed_formula};
}

fn has_avx512() -> bool {
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
fn best(portable: fn(&[f32], &mut [f32]), wide: unsafe fn(&[f32], &mut [f32])) -> impl Fn(&[f32], &mut [f32]) {
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

/// Rows for P4: the kernel (with the seed formula as "other") and, in the cache, the floor
/// row of one multiply. All run in rounds on the same aligned buffers as the copy they are
/// divided by.
pub fn kernel_rows(rows: &mut Vec<Row>) {
    let seed = best(seed_formula, avx512::seed_formula);
    let multiply = best(one_multiply, avx512::one_multiply);
    for n in [K, 16 * K, 256 * K, 4 * M, 64 * M] {
        let (mut xb, mut yb) = (Vec::new(), Vec::new());
        let x = aligned(&mut xb, n);
        x.iter_mut().enumerate().for_each(|(i, v)| *v = (i as f32 * 0.37).sin());
        let x = &*x;
        let y = aligned(&mut yb, n);
        let floor = (n <= 16 * K).then_some(&multiply);
        let mut times = [const { Vec::new() }; 4]; // kernel, seed, copy, floor
        let budget = Duration::from_millis(40);
        for _ in 0..5 {
            times[0].push(measure(budget, 3, || {
                rectify::kernels::leaky_relu(black_box(x), y, 0.01);
                black_box(&mut *y);
            }));
            times[1].push(measure(budget, 3, || {
                seed(black_box(x), y);
                black_box(&mut *y);
            }));
            times[2].push(measure(budget, 3, || {
                y.copy_from_slice(black_box(x));
                black_box(&mut *y);
            }));
            if let Some(f) = floor {
                times[3].push(measure(budget, 3, || {
                    f(black_box(x), y);
                    black_box(&mut *y);
                }));
            }
        }
        let [kernel, seed_times, copy, floor_times] = times;
        let copy = median(copy);
        let row = |case: &str, rectify: Duration, other: Option<Duration>| Row {
            case: case.into(),
            dtype: "float",
            nodes: 1,
            elements: n,
            threads: 1,
            rectify,
            other,
            memcpy: copy,
            bytes: n * 4,
        };
        rows.push(row("kernel leaky_relu (vs seed formula)", median(kernel), Some(median(seed_times))));
        if floor.is_some() {
            rows.push(row("floor: x·alpha, one multiply (not LeakyRelu)", median(floor_times), None));
        }
    }
}
