//! Chains of 16 identical nodes (models/bench), where ONNX Runtime hands LeakyRelu and PRelu
//! their input's buffer as output (in place): the chain gives the bits of rectify's kernels
//! applied 16 times out of place, at sizes below and above the in-place block and the
//! ParallelFor split (and past 64 tasks, where tasks grow), on 1 and 2 threads; and, where
//! ONNX Runtime's built-in chain computes node by node, the built-in chain's bits too.

mod common;

use std::path::Path;

use common::data::{Fill, make_input};
use common::runtimes::{ort_run, ort_session, repo_root};
use half::f16;
use rectify::kernels::{Prelu, leaky_relu};
use rectify_cli::array::{Array, ElemType};
use tract_onnx::prelude::Framework;

const NODES: usize = 16;
const ALPHA: f32 = 0.1;

fn bench_model(name: &str) -> std::path::PathBuf {
    repo_root().join("models/bench").join(name)
}

fn run_chain(model: &Path, with_rectify: bool, input: &Array, threads: usize) -> Array {
    let mut session = ort_session(model, with_rectify, threads).unwrap();
    ort_run(&mut session, &[("X".to_string(), input.clone())]).unwrap().remove(0)
}

/// The slope initializer of a PRelu chain, widened to f32.
fn slopes(model: &Path, dt: ElemType) -> Vec<f32> {
    let proto = tract_onnx::onnx().proto_model_for_path(model).unwrap();
    let raw = &proto.graph.unwrap().initializer[0].raw_data;
    match dt {
        ElemType::F32 => raw.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect(),
        _ => raw.chunks_exact(2).map(|b| f16::from_le_bytes(b.try_into().unwrap()).to_f32()).collect(),
    }
}

/// `step` applied NODES times, out of place, on `x` as T.
fn reference<T: rectify::kernels::Element>(x: &[T], step: impl Fn(&[T], &mut [T])) -> Vec<T> {
    let mut a = x.to_vec();
    let mut b = x.to_vec();
    for _ in 0..NODES {
        step(&a, &mut b);
        std::mem::swap(&mut a, &mut b);
    }
    a
}

fn reference_bits(input: &Array, leaky: Option<f32>, prelu: Option<(&[f32], &[i64])>) -> Vec<u64> {
    let shape: Vec<i64> = input.shape.iter().map(|&d| d as i64).collect();
    match input.ty {
        ElemType::F32 => {
            let x: Vec<f32> = input.all_bits().iter().map(|&b| f32::from_bits(b as u32)).collect();
            let out = match (leaky, prelu) {
                (Some(alpha), _) => reference(&x, |x, y| leaky_relu(x, y, alpha)),
                (_, Some((s, s_shape))) => {
                    let plan = Prelu::new(None).plan(&shape, s_shape).unwrap();
                    reference(&x, |x, y| plan.run(x, s, y))
                }
                _ => unreachable!(),
            };
            out.iter().map(|v| u64::from(v.to_bits())).collect()
        }
        _ => {
            let x: Vec<f16> = input.all_bits().iter().map(|&b| f16::from_bits(b as u16)).collect();
            let out = match (leaky, prelu) {
                (Some(alpha), _) => reference(&x, |x, y| leaky_relu(x, y, alpha)),
                (_, Some((s, s_shape))) => {
                    let plan = Prelu::new(None).plan(&shape, s_shape).unwrap();
                    let s: Vec<f16> = s.iter().map(|&v| f16::from_f32(v)).collect();
                    reference(&x, |x, y| plan.run(x, &s, y))
                }
                _ => unreachable!(),
            };
            out.iter().map(|v| u64::from(v.to_bits())).collect()
        }
    }
}

fn assert_same(what: &str, got: &Array, want: &[u64]) {
    let first = got.all_bits().iter().zip(want).position(|(a, b)| a != b);
    assert!(
        first.is_none(),
        "{what}: element {} differs: {:#x} vs {:#x}",
        first.unwrap(),
        got.all_bits()[first.unwrap()],
        want[first.unwrap()]
    );
}

#[test]
fn leaky_relu_chains_match_the_kernel_and_the_built_in_chain() {
    for threads in [1, 2] {
        for n in [1000, 20_011, 70_000, 600_001] {
            for (dt, name) in [(ElemType::F32, "float"), (ElemType::F16, "float16")] {
                let input = make_input(dt, &[n], Fill::Activations, name);
                let ours =
                    run_chain(&bench_model(&format!("leaky_relu_{name}_x16.rectify.onnx")), true, &input, threads);
                let what = format!("leaky_relu {name} n={n} threads={threads}");
                assert_same(&what, &ours, &reference_bits(&input, Some(ALPHA), None));
                let builtin =
                    run_chain(&bench_model(&format!("leaky_relu_{name}_x16.builtin.onnx")), false, &input, threads);
                assert_same(&format!("{what} vs built-in"), &ours, &builtin.all_bits());
            }
        }
    }
}

#[test]
fn prelu_chains_match_the_kernel() {
    for threads in [1, 2] {
        for side in [8, 40] {
            for (dt, name) in [(ElemType::F32, "float"), (ElemType::F16, "float16")] {
                let input = make_input(dt, &[1, 64, side, side], Fill::Activations, name);
                let slope = slopes(&bench_model(&format!("prelu_{name}_x16.rectify.onnx")), dt);
                let want = reference_bits(&input, None, Some((&slope, &[64, 1, 1])));
                for variant in ["rectify", "rectify_axis1"] {
                    let ours =
                        run_chain(&bench_model(&format!("prelu_{name}_x16.{variant}.onnx")), true, &input, threads);
                    assert_same(&format!("prelu {variant} {name} side={side} threads={threads}"), &ours, &want);
                }
                // ONNX Runtime's float16 PRelu is an inlined function body that its optimiser
                // rewrites across nodes, so only the float chain computes node by node.
                if dt == ElemType::F32 {
                    let builtin = run_chain(&bench_model("prelu_float_x16.builtin.onnx"), false, &input, threads);
                    assert_same(&format!("prelu float side={side} threads={threads} vs built-in"), &builtin, &want);
                }
            }
        }
    }
}
