//! RRelu in training mode, through ONNX Runtime with librectify.so: slope statistics,
//! reproducibility per seed, fresh draws per run, and independence from the thread count.

mod common;

use common::data::{Fill, make_input};
use common::runtimes::{ort_run, ort_session, repo_root};
use common::{Entry, manifest};
use rectify::kernels::Rrelu;
use rectify::kernels::rrelu::{DEFAULT_LOWER, DEFAULT_UPPER};
use rectify_cli::array::{Array, ElemType};
use tract_onnx::prelude::Framework;

fn training_models() -> Vec<Entry> {
    let models: Vec<Entry> = manifest().into_iter().filter(|e| e.training() && e.has_slope()).collect();
    assert_eq!(models.len(), 4, "one RRelu training model with Slope per dtype");
    models
}

fn run_twice(entry: &Entry, threads: usize) -> (Vec<Array>, Vec<Array>) {
    let inputs = entry.inputs();
    let mut session = ort_session(&entry.model_path(), true, threads).unwrap();
    let first = ort_run(&mut session, &inputs).unwrap();
    let second = ort_run(&mut session, &inputs).unwrap();
    (first, second)
}

#[test]
fn slopes_are_uniform_on_lower_upper_and_y_is_x_times_slope() {
    for entry in training_models() {
        let (lower, upper) =
            (f64::from(entry.float_attr("lower").unwrap()), f64::from(entry.float_attr("upper").unwrap()));
        let x = &entry.inputs()[0].1;
        let (outputs, _) = run_twice(&entry, 1);
        let (y, slope) = (&outputs[0], &outputs[1]);
        let mut drawn = Vec::new();
        for i in 0..x.len() {
            let (xv, yv, s) = (x.value(i), y.value(i), slope.value(i));
            if xv < 0.0 {
                assert!((lower..upper).contains(&s), "{}: slope {s} outside [{lower}, {upper})", entry.name);
                drawn.push(s);
            } else {
                assert_eq!(s, 1.0, "{}: slope where x = {xv} is not 1", entry.name);
            }
            // Y == X * Slope: the product of two values of the type is exact in f64 and
            // rounds to Y (NaN stays NaN).
            let product = entry.dt().value_of(entry.dt().nearest(xv * s));
            assert!(yv == product || (yv.is_nan() && xv.is_nan()), "{}: y {yv} != x {xv} * slope {s}", entry.name);
        }
        let n = drawn.len() as f64;
        assert!(n > 50_000.0, "{}: only {n} negative inputs", entry.name);
        let mean = drawn.iter().sum::<f64>() / n;
        let var = drawn.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / (n - 1.0);
        let width = upper - lower;
        let (want_mean, want_var) = ((lower + upper) / 2.0, width * width / 12.0);
        let sd_mean = (want_var / n).sqrt();
        let sd_var = ((width.powi(4) / 80.0 - want_var * want_var) / n).sqrt();
        assert!(
            (mean - want_mean).abs() < 4.0 * sd_mean,
            "{}: mean {mean}, want {want_mean} ± 4·{sd_mean}",
            entry.name
        );
        assert!((var - want_var).abs() < 4.0 * sd_var, "{}: variance {var}, want {want_var} ± 4·{sd_var}", entry.name);
    }
}

#[test]
fn a_seed_reproduces_in_a_fresh_session_and_each_run_draws_anew() {
    for entry in training_models() {
        let (first, second) = run_twice(&entry, 1);
        let (again, _) = run_twice(&entry, 1);
        assert_eq!(first, again, "{}: same seed, fresh session, different output", entry.name);
        assert_ne!(first[1], second[1], "{}: the second run repeated the first run's slopes", entry.name);
    }
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let mut entries = training_models();
    entries.extend(manifest().into_iter().filter(|e| e.name == "prelu_channel_large_float"));
    assert_eq!(entries.len(), 5);
    for entry in entries {
        let (one_first, one_second) = run_twice(&entry, 1);
        let (two_first, two_second) = run_twice(&entry, 2);
        assert_eq!(one_first, two_first, "{}: 1 vs 2 threads, first run", entry.name);
        assert_eq!(one_second, two_second, "{}: 1 vs 2 threads, second run", entry.name);
    }
}

/// Past 64 ParallelFor tasks (where each task grows beyond the grain): ONNX Runtime on 1 and
/// 2 threads gives the bits of the kernel run over the whole tensor at once.
#[test]
fn a_large_tensor_gives_the_kernels_bits_on_any_thread_count() {
    let model = repo_root().join("models/bench/rrelu_training_slope_float_x1.rectify.onnx");
    let proto = tract_onnx::onnx().proto_model_for_path(&model).unwrap();
    let node = &proto.graph.unwrap().node[0];
    let seed = node.attribute.iter().find(|a| a.name == "seed").expect("a seed attribute").i;
    let n = 1_000_003;
    let input = make_input(ElemType::F32, &[n], Fill::Activations, "rrelu large");
    let x: Vec<f32> = input.all_bits().iter().map(|&b| f32::from_bits(b as u32)).collect();
    let op = Rrelu::new(DEFAULT_LOWER, DEFAULT_UPPER, 1, seed).unwrap();
    let (mut y, mut slope) = (vec![0f32; n], vec![0f32; n]);
    op.run_range(0, 0, &x, &mut y, Some(&mut slope));
    let bits = |v: &[f32]| v.iter().map(|f| u64::from(f.to_bits())).collect::<Vec<_>>();
    for threads in [1, 2] {
        let mut session = ort_session(&model, true, threads).unwrap();
        let outputs = ort_run(&mut session, &[("X".to_string(), input.clone())]).unwrap();
        assert!(outputs[0].all_bits() == bits(&y), "Y differs from the kernel on {threads} thread(s)");
        assert!(outputs[1].all_bits() == bits(&slope), "Slope differs from the kernel on {threads} thread(s)");
    }
}
