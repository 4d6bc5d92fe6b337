//! Kernel throughput against `copy_from_slice` of the same bytes (criterion), one thread,
//! no ONNX Runtime: LeakyRelu f32 and f16, PRelu f32 with a per-channel slope, and the
//! seed formula `0.5(1+a)x + 0.5(1-a)|x|` as a comparison variant only (it is inexact and
//! never shipped). `cargo bench --bench kernels`; criterion reports GiB/s per variant.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use half::f16;
use rectify::kernels::{Prelu, leaky_relu};

#[path = "shared/loops.rs"]
#[allow(dead_code)] // the floor loop serves ort_chains only
mod loops;

const SIZES: [usize; 4] = [1 << 10, 1 << 14, 1 << 18, 1 << 22];
const ALPHA: f32 = 0.01;

fn input(n: usize) -> Vec<f32> {
    (0..n).map(|i| (i as f32 * 0.37).sin() * 4.0).collect()
}

fn leaky_f32(c: &mut Criterion) {
    let mut group = c.benchmark_group("leaky_relu_f32");
    for n in SIZES {
        let x = input(n);
        let mut y = vec![0f32; n];
        group.throughput(Throughput::Bytes(2 * 4 * n as u64)); // read + write
        group.bench_with_input(BenchmarkId::new("rectify", n), &n, |b, _| {
            b.iter(|| leaky_relu(black_box(&x), &mut y, ALPHA))
        });
        group.bench_with_input(BenchmarkId::new("seed_formula", n), &n, |b, _| {
            let seed = loops::best(loops::seed_formula, loops::avx512::seed_formula);
            b.iter(|| seed(black_box(&x), &mut y))
        });
        group.bench_with_input(BenchmarkId::new("copy_from_slice", n), &n, |b, _| {
            b.iter(|| y.copy_from_slice(black_box(&x)))
        });
    }
    group.finish();
}

fn leaky_f16(c: &mut Criterion) {
    let mut group = c.benchmark_group("leaky_relu_f16");
    for n in SIZES {
        let x: Vec<f16> = input(n).into_iter().map(f16::from_f32).collect();
        let mut y = vec![f16::ZERO; n];
        group.throughput(Throughput::Bytes(2 * 2 * n as u64));
        group.bench_with_input(BenchmarkId::new("rectify", n), &n, |b, _| {
            b.iter(|| leaky_relu(black_box(&x), &mut y, ALPHA))
        });
        group.bench_with_input(BenchmarkId::new("copy_from_slice", n), &n, |b, _| {
            b.iter(|| y.copy_from_slice(black_box(&x)))
        });
    }
    group.finish();
}

fn prelu_f32(c: &mut Criterion) {
    let mut group = c.benchmark_group("prelu_f32_nchw_c64");
    for n in SIZES {
        let x = input(n);
        let mut y = vec![0f32; n];
        let slope: Vec<f32> = (0..64).map(|i| i as f32 / 64.0 - 0.5).collect();
        let plan = Prelu::new(Some(1)).plan(&[1, 64, (n / 64) as i64], &[64]).expect("plan");
        group.throughput(Throughput::Bytes(2 * 4 * n as u64));
        group.bench_with_input(BenchmarkId::new("rectify", n), &n, |b, _| {
            b.iter(|| plan.run(black_box(&x), &slope, &mut y))
        });
        group.bench_with_input(BenchmarkId::new("copy_from_slice", n), &n, |b, _| {
            b.iter(|| y.copy_from_slice(black_box(&x)))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).warm_up_time(std::time::Duration::from_millis(300))
        .measurement_time(std::time::Duration::from_millis(700));
    targets = leaky_f32, leaky_f16, prelu_f32
}
criterion_main!(benches);
