//! P4: the kernel against `copy_from_slice` of the same bytes, one thread, no ONNX Runtime,
//! beside two comparison loops compiled for the same ISA as rectify's kernels: the seed
//! formula (inexact, never shipped) and, in the cache, a floor (one multiply per element).

use std::hint::black_box;
use std::time::Duration;

use super::loops::{self, best};
use super::{K, M, Row, measure, median};

/// A 64-byte-aligned run of `n` floats inside `buffer`, as ONNX Runtime's allocator hands
/// out tensors.
fn aligned(buffer: &mut Vec<f32>, n: usize) -> &mut [f32] {
    buffer.resize(n + 16, 0.0);
    let start = buffer.as_ptr().align_offset(64);
    &mut buffer[start..start + n]
}

/// Rows for P4: the kernel (with the seed formula as "other") and, in the cache, the floor
/// row of one multiply. All run in rounds on the same aligned buffers as the copy they are
/// divided by.
pub fn kernel_rows(rows: &mut Vec<Row>) {
    let seed = best(loops::seed_formula, loops::avx512::seed_formula);
    let multiply = best(loops::one_multiply, loops::avx512::one_multiply);
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

/// The generator's share of RRelu training (P5): Philox4x32-10 draws alone, written to a
/// buffer, against the LeakyRelu kernel on as many elements, one thread, in rounds. "other ÷
/// rectify" is then the best P5 ratio any RRelu built on this generator can reach.
pub fn generator_rows(rows: &mut Vec<Row>) {
    use rectify::kernels::cpu::Level;
    use rectify::kernels::rng::PhiloxStream;
    for n in [64 * K, M] {
        let (mut xb, mut yb) = (Vec::new(), Vec::new());
        let x = aligned(&mut xb, n);
        x.iter_mut().enumerate().for_each(|(i, v)| *v = (i as f32 * 0.37).sin());
        let x = &*x;
        let y = aligned(&mut yb, n);
        let mut words = vec![0u32; n];
        let stream = PhiloxStream::new(7, 0);
        let mut times = [const { Vec::new() }; 3]; // draws, LeakyRelu, copy
        let budget = Duration::from_millis(40);
        for _ in 0..5 {
            times[0].push(measure(budget, 3, || {
                stream.fill(Level::best(), 0, black_box(&mut words));
            }));
            times[1].push(measure(budget, 3, || {
                rectify::kernels::leaky_relu(black_box(x), y, 0.01);
                black_box(&mut *y);
            }));
            times[2].push(measure(budget, 3, || {
                y.copy_from_slice(black_box(x));
                black_box(&mut *y);
            }));
        }
        let [draws, leaky, copy] = times;
        rows.push(Row {
            case: "floor: Philox4x32-10 draws alone vs LeakyRelu".into(),
            dtype: "float",
            nodes: 1,
            elements: n,
            threads: 1,
            rectify: median(draws),
            other: Some(median(leaky)),
            memcpy: median(copy),
            bytes: n * 4,
        });
    }
}
