//! The tract host (`rectify_tract::register`): every rectify model in `models/` gives the
//! same bits in tract as in ONNX Runtime with librectify.so, run after run (the face network,
//! whose convolutions round differently per runtime, against tract's built-in twin); standard-domain
//! nodes keep tract's built-ins; a standard-domain `RRelu` is a clear error.

mod common;

use std::path::Path;

use common::manifest;
use common::runtimes::{ort_run, ort_session, tract_rectify_runs, tract_run};
use rectify_cli::array::ElemType;
use tract_onnx::prelude::*;

/// Runs per model: RRelu training draws new slopes each run, in both runtimes alike.
const RUNS: usize = 2;

#[test]
fn every_rectify_model_matches_onnx_runtime_bit_for_bit() {
    let mut compared = 0;
    for entry in manifest() {
        let inputs = entry.inputs();
        let path = entry.model_path();
        if entry.dt() == ElemType::BF16 {
            // tract has no bfloat16 type: loading must fail with an error, not a crash.
            let mut onnx = tract_onnx::onnx();
            rectify_tract::register(&mut onnx);
            assert!(onnx.model_for_path(&path).and_then(|m| m.into_optimized()).is_err(), "{}", entry.name);
            continue;
        }
        let tract = tract_rectify_runs(&path, &inputs, RUNS).unwrap_or_else(|e| panic!("{}: tract: {e}", entry.name));
        if entry.op == "FaceNet" {
            // Its random-weight convolutions round differently in the two runtimes, so the
            // rectify nodes are checked inside tract: against tract's own built-in twin.
            let twin = tract_run(&entry.twin_path().unwrap(), &inputs).unwrap();
            assert_eq!(
                tract[0][0].all_bits(),
                twin[0].all_bits(),
                "{}: tract host vs tract's built-in PRelu",
                entry.name
            );
            compared += 1;
            continue;
        }
        let mut session = ort_session(&path, true, 1).unwrap();
        for (run, tract_outputs) in tract.iter().enumerate() {
            let ort_outputs = ort_run(&mut session, &inputs).unwrap();
            assert_eq!(ort_outputs.len(), tract_outputs.len(), "{}: output count", entry.name);
            for (i, (o, t)) in ort_outputs.iter().zip(tract_outputs).enumerate() {
                assert_eq!(o.shape, t.shape, "{} output {i}: shape", entry.name);
                let first = o.all_bits().iter().zip(&t.all_bits()).position(|(a, b)| a != b);
                assert!(
                    first.is_none(),
                    "{} run {run} output {i}: element {} differs: ORT {:#x}, tract {:#x}",
                    entry.name,
                    first.unwrap(),
                    o.all_bits()[first.unwrap()],
                    t.all_bits()[first.unwrap()]
                );
            }
        }
        compared += 1;
    }
    assert!(compared >= 30, "only {compared} models compared");
}

#[test]
fn training_draws_differ_between_runs_and_restart_with_a_new_plan() {
    let entry = manifest().into_iter().find(|e| e.training() && e.dt() == ElemType::F32).unwrap();
    let inputs = entry.inputs();
    let first_plan = tract_rectify_runs(&entry.model_path(), &inputs, 2).unwrap();
    let second_plan = tract_rectify_runs(&entry.model_path(), &inputs, 1).unwrap();
    assert_ne!(first_plan[0][0].all_bits(), first_plan[1][0].all_bits(), "run 1 drew the same slopes as run 0");
    assert_eq!(first_plan[0][0].all_bits(), second_plan[0][0].all_bits(), "a new plan starts again at run 0");
}

#[test]
fn standard_domain_nodes_keep_tracts_builtins() {
    // The built-in twin holds only standard LeakyRelu / PRelu nodes: the dispatcher must
    // hand them to tract's own builders, giving exactly what plain tract gives.
    for name in ["cnn", "prelu_channel_float", "leaky_relu_float"] {
        let entry = manifest().into_iter().find(|e| e.name == name).unwrap();
        let twin = entry.twin_path().unwrap();
        let inputs = entry.inputs();
        let plain = tract_run(&twin, &inputs).unwrap();
        let registered = tract_rectify_runs(&twin, &inputs, 1).unwrap().remove(0);
        assert_eq!(plain[0].all_bits(), registered[0].all_bits(), "{name}");
    }
}

fn load_error(model: &Path, edit: impl FnOnce(&mut tract_onnx::pb::ModelProto)) -> String {
    let mut onnx = tract_onnx::onnx();
    rectify_tract::register(&mut onnx);
    rectify_tract::register(&mut onnx); // twice: still one dispatcher, builtins kept
    let mut proto = onnx.proto_model_for_path(model).unwrap();
    edit(&mut proto);
    match onnx.model_for_proto_model(&proto).and_then(|m| m.into_optimized()) {
        Ok(_) => panic!("the edited model loaded"),
        Err(err) => format!("{err:#}"),
    }
}

#[test]
fn unknown_domains_and_a_standard_rrelu_are_clear_errors() {
    let rrelu = common::models_dir().join("rrelu_float.onnx");
    let message = load_error(&rrelu, |m| m.graph.as_mut().unwrap().node[0].domain.clear());
    assert!(message.contains("the standard ONNX domain has no 'RRelu'"), "{message}");
    let message = load_error(&rrelu, |m| m.graph.as_mut().unwrap().node[0].domain = "com.example".into());
    assert!(message.contains("unsupported operator 'RRelu' in domain 'com.example'"), "{message}");
    let leaky = common::models_dir().join("leaky_relu_float.onnx");
    let message = load_error(&leaky, |m| {
        let node = &mut m.graph.as_mut().unwrap().node[0];
        node.attribute.iter_mut().find(|a| a.name == "alpha").unwrap().r#type = 2; // INT
    });
    assert!(message.contains("rectify: LeakyRelu: attribute 'alpha' must be FLOAT, got INT"), "{message}");
}
