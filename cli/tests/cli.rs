//! The `rectify` binary end to end: verify on every model in `models/` and on models
//! PyTorch exported (the ONNX wheel's test data), convert both ways with round trips,
//! info, and the errors a user meets.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use onnx_protobuf::tensor_shape_proto::dimension::Value as DimValue;
use onnx_protobuf::type_proto::Value as TypeValue;
use onnx_protobuf::{Message, ModelProto};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn library() -> PathBuf {
    let path = std::env::var_os("RECTIFY_LIBRARY")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target/release/librectify.so"));
    assert!(path.exists(), "{} is missing: run `cargo build --release -p rectify` (make test does)", path.display());
    path
}

fn rectify(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rectify")).current_dir(repo()).args(args).output().expect("run rectify")
}

fn verify(args: &[&str]) -> Output {
    let lib = library();
    let mut all = vec!["verify", "--library", lib.to_str().unwrap()];
    all.extend_from_slice(args);
    rectify(&all)
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rectify-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// The ONNX wheel's test data: models PyTorch exported, with inputs and expected outputs.
fn pytorch_case(name: &str) -> PathBuf {
    let lib = repo().join(".venv/lib");
    let found = std::fs::read_dir(&lib).into_iter().flatten().flatten().find_map(|py| {
        let dir = py.path().join("site-packages/onnx/backend/test/data/pytorch-converted").join(name);
        dir.exists().then_some(dir)
    });
    found.unwrap_or_else(|| panic!("no ONNX test data for {name}: run `make venv`"))
}

#[test]
fn verify_passes_every_model_in_models() {
    let mut models: Vec<PathBuf> = std::fs::read_dir(repo().join("models"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "onnx"))
        .collect();
    models.sort();
    assert!(models.len() >= 70, "{} models", models.len());
    let args: Vec<&str> = models.iter().map(|p| p.to_str().unwrap()).collect();
    let out = verify(&args);
    let report = text(&out);
    assert!(out.status.success(), "{report}");
    let count = |what: &str| report.lines().filter(|l| l.starts_with(what)).count();
    // bfloat16: neither ONNX Runtime's CPU provider nor tract runs a reference.
    let bf16 = models.iter().filter(|p| p.to_str().unwrap().contains("bfloat16")).count();
    assert_eq!(count("UNVERIFIED"), bf16, "{report}");
    assert_eq!(count("PASS"), models.len() - bf16, "{report}");
    assert_eq!(count("FAIL"), 0);
    // Training-mode RRelu has no built-in twin: the tract host decides, bit for bit.
    assert!(report.contains("rrelu_training_float.onnx"));
    assert!(report.contains("PASS: every output matches tract + rectify"), "{report}");
}

#[test]
fn verify_models_exported_by_pytorch_against_their_expected_outputs() {
    // PyTorch's opset-6 PRelu runs its 1-D slope along the channels; ONNX Runtime has no
    // PRelu(6) kernel at all, so rectify's PRelu with axis=1 is what runs these.
    for (case, output) in [
        ("test_PReLU_1d_multiparam", "2"),
        ("test_PReLU_2d_multiparam", "2"),
        ("test_PReLU_3d_multiparam", "2"),
        ("test_PReLU_2d", "2"),
        ("test_LeakyReLU", "1"),
        ("test_LeakyReLU_with_negval", "1"),
    ] {
        let dir = pytorch_case(case);
        let data = dir.join("test_data_set_0");
        let input = format!("0={}", data.join("input_0.pb").display());
        let expected = format!("{output}={}", data.join("output_0.pb").display());
        let out = verify(&[dir.join("model.onnx").to_str().unwrap(), "--input", &input, "--expected", &expected]);
        let report = text(&out);
        assert!(out.status.success(), "{case}: {report}");
        assert!(report.contains("PASS: every output matches expected (files)"), "{case}: {report}");
        assert!(
            report.contains("expected (files)                  0.000e0         0  bit-exact  (decisive)"),
            "{report}"
        );
    }
    // convert on its own, then verify the written file against the same expected output.
    let dir = pytorch_case("test_PReLU_2d_multiparam");
    let converted = tmp("pytorch_prelu.rectify.onnx");
    let out =
        rectify(&["convert", "--to", "rectify", dir.join("model.onnx").to_str().unwrap(), converted.to_str().unwrap()]);
    let report = text(&out);
    assert!(
        report.contains("PRelu -> rectify::PRelu with axis=1 (before opset 7 a 1-D slope runs along the channels)"),
        "{report}"
    );
    let data = dir.join("test_data_set_0");
    let out = verify(&[
        converted.to_str().unwrap(),
        "--input",
        &format!("0={}", data.join("input_0.pb").display()),
        "--expected",
        &format!("2={}", data.join("output_0.pb").display()),
    ]);
    assert!(
        out.status.success() && text(&out).contains("PASS: every output matches expected (files)"),
        "{}",
        text(&out)
    );
}

#[test]
fn convert_round_trips_keep_the_outputs() {
    let cnn = repo().join("models/cnn.onnx");
    let (builtin, back) = (tmp("cnn.builtin.onnx"), tmp("cnn.roundtrip.onnx"));
    let out = rectify(&["convert", "--to", "builtin", cnn.to_str().unwrap(), builtin.to_str().unwrap()]);
    let report = text(&out);
    assert!(out.status.success(), "{report}");
    assert!(
        report.contains(
            "rewrote 'p1' (PRelu): rectify::PRelu -> PRelu, axis 1: initializer 'slope' reshaped to [4, 1, 1]"
        ),
        "{report}"
    );
    assert!(report.contains("rewrote 'r2' (RRelu): rectify::RRelu -> LeakyRelu(alpha=0.25)"), "{report}");
    let model = ModelProto::parse_from_bytes(&std::fs::read(&builtin).unwrap()).unwrap();
    assert!(model.opset_import.iter().all(|o| o.domain != "rectify"), "the rectify opset import must go");
    assert!(model.graph.node.iter().all(|n| n.domain.is_empty()));

    // Back to rectify: ONNX Runtime fuses Conv + LeakyRelu, so 'l2' stays built-in...
    let out = rectify(&["convert", "--to", "rectify", builtin.to_str().unwrap(), back.to_str().unwrap()]);
    let report = text(&out);
    assert!(report.contains("kept    'l2' (LeakyRelu): ONNX Runtime fuses it into the preceding Conv"), "{report}");
    assert!(report.contains("2 of 3 nodes rewritten"), "{report}");
    // ...unless --all.
    let out = rectify(&["convert", "--to", "rectify", "--all", builtin.to_str().unwrap(), back.to_str().unwrap()]);
    assert!(text(&out).contains("3 of 3 nodes rewritten"), "{}", text(&out));

    // Same inputs (seed), same outputs: original, built-in form and round trip.
    let saved = tmp("cnn-outputs");
    let out = verify(&[cnn.to_str().unwrap(), "--save-outputs", saved.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let expected = format!("Y={}", saved.join("Y.npy").display());
    for model in [&builtin, &back] {
        let out = verify(&[model.to_str().unwrap(), "--expected", &expected]);
        let report = text(&out);
        assert!(out.status.success() && report.contains("PASS: every output matches expected (files)"), "{report}");
        assert!(report.contains("0.000e0         0  bit-exact  (decisive)"), "{report}");
    }
}

#[test]
fn convert_inserts_a_reshape_for_a_computed_axis_slope() {
    // prelu_axis1: the slope is a graph input, not an initializer.
    let model = repo().join("models/prelu_axis1_double.onnx");
    let out_path = tmp("prelu_axis1.builtin.onnx");
    let out = rectify(&["convert", "--to", "builtin", model.to_str().unwrap(), out_path.to_str().unwrap()]);
    assert!(text(&out).contains("-> PRelu, axis 1: Reshape inserted (slope reshaped to [-1, 1, 1])"), "{}", text(&out));
    let out = verify(&[out_path.to_str().unwrap()]);
    assert!(out.status.success() && text(&out).contains("PASS: every output matches ONNX Runtime"), "{}", text(&out));
}

#[test]
fn convert_refuses_a_training_rrelu_naming_the_node() {
    let model = repo().join("models/rrelu_training_float.onnx");
    let out = rectify(&["convert", "--to", "builtin", model.to_str().unwrap(), tmp("never.onnx").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let message = text(&out);
    assert!(
        message.contains("rectify: error: node 'Y' (RRelu): a training-mode RRelu draws random slopes"),
        "{message}"
    );
    assert!(!message.contains("panicked"), "{message}");
}

#[test]
fn verify_asks_for_symbolic_dimensions_and_reads_npy_inputs() {
    // leaky_relu_float with its batch dimension made symbolic.
    let mut model =
        ModelProto::parse_from_bytes(&std::fs::read(repo().join("models/leaky_relu_float.onnx")).unwrap()).unwrap();
    let graph = model.graph.as_mut().unwrap();
    for value in graph.input.iter_mut().chain(graph.output.iter_mut()) {
        let Some(TypeValue::TensorType(t)) = value.type_.as_mut().unwrap().value.as_mut() else { panic!() };
        t.shape.as_mut().unwrap().dim[0].value = Some(DimValue::DimParam("batch".into()));
    }
    let path = tmp("leaky_symbolic.onnx");
    std::fs::write(&path, model.write_to_bytes().unwrap()).unwrap();
    let out = verify(&[path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("input 'X' has symbolic dimension 'batch': give its size with --dim batch=N"),
        "{}",
        text(&out)
    );
    let out = verify(&[path.to_str().unwrap(), "--dim", "batch=5"]);
    assert!(out.status.success() && text(&out).contains("input:   X float [5, 3, 8, 10]"), "{}", text(&out));

    // A .npy input, batch 2.
    let mut npy = b"\x93NUMPY\x01\x00".to_vec();
    let mut header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 8, 10), }".to_string();
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat(unpadded.next_multiple_of(64) - unpadded));
    header.push('\n');
    npy.extend_from_slice(&(header.len() as u16).to_le_bytes());
    npy.extend_from_slice(header.as_bytes());
    for i in 0..480 {
        npy.extend_from_slice(&(i as f32 / 7.0 - 30.0).to_le_bytes());
    }
    let npy_path = tmp("x.npy");
    std::fs::write(&npy_path, npy).unwrap();
    let out = verify(&[path.to_str().unwrap(), "--input", &format!("X={}", npy_path.display())]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("input:   X float [2, 3, 8, 10] (from file"), "{}", text(&out));
    assert!(text(&out).contains("PASS: every output matches ONNX Runtime, built-in twin"), "{}", text(&out));
    let wrong = repo().join("models/cnn.onnx");
    let out = verify(&[wrong.to_str().unwrap(), "--input", &format!("X={}", npy_path.display())]);
    assert!(text(&out).contains("has shape [2, 3, 8, 10], but the model declares [1, 3, 16, 16]"), "{}", text(&out));
    let out = verify(&[path.to_str().unwrap(), "--input", &format!("Z={}", npy_path.display())]);
    assert!(text(&out).contains("the model has no input 'Z' (inputs: X)"), "{}", text(&out));
}

#[test]
fn missing_runtimes_say_how_to_fix_them() {
    let out = Command::new(env!("CARGO_BIN_EXE_rectify"))
        .current_dir(repo())
        .env("ORT_DYLIB_PATH", "/nonexistent/libonnxruntime.so.1.31.1")
        .args(["verify", "--library", library().to_str().unwrap(), "models/leaky_relu_float.onnx"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("ORT_DYLIB_PATH is set to /nonexistent/libonnxruntime.so.1.31.1, which is not a file"));
    let out = rectify(&["verify", "--library", "/nonexistent/librectify.so", "models/leaky_relu_float.onnx"]);
    assert!(text(&out).contains("librectify.so not found at /nonexistent/librectify.so (--library): build it with"));
    let out = verify(&["models/manifest.json"]);
    assert!(text(&out).contains("is not an ONNX model"), "{}", text(&out));
}

#[test]
fn info_lists_ops_attributes_and_the_runtime() {
    let out = rectify(&["info", "--library", library().to_str().unwrap()]);
    let report = text(&out);
    assert!(out.status.success(), "{report}");
    for line in [
        "version 0.1.0",
        "version 1.32.0, a tested release",
        "tested with:  ONNX Runtime 1.16.3 to 1.32.0, every minor release (17 releases, `make test`)",
        "registers the rectify domain and runs a rectify::LeakyRelu",
        "domain:       rectify (opset 1)",
        "dtypes:       float, double, float16, bfloat16",
        "attribute alpha: float = 0.01",
        "attribute axis: int (optional, no default)",
        "RRelu      inputs X; outputs Y, Slope (optional)",
        "attribute upper: float = 0.33333334",
    ] {
        assert!(report.contains(line), "missing '{line}' in:\n{report}");
    }
}

#[test]
fn a_copied_binary_finds_the_library_of_the_python_package() {
    // `cargo install --path cli` puts the binary where no librectify.so lies beside it; with
    // the wheel installed (make test installs it into .venv) it takes the package's.
    let dir = tmp("installed-bin");
    std::fs::create_dir_all(&dir).unwrap();
    let exe = dir.join("rectify");
    std::fs::copy(env!("CARGO_BIN_EXE_rectify"), &exe).unwrap();
    let path = format!("{}:{}", repo().join(".venv/bin").display(), std::env::var("PATH").unwrap_or_default());
    let out = Command::new(&exe).env("PATH", path).env_remove("RECTIFY_LIBRARY").arg("info").output().unwrap();
    let report = text(&out);
    assert!(out.status.success(), "{report}");
    assert!(
        report.contains("site-packages/rectify/lib/librectify.so (the rectify Python package), version 0.1.0"),
        "{report}"
    );
}

#[test]
fn the_debug_binary_finds_the_release_library_of_its_checkout() {
    // README: `target/debug/rectify verify models/cnn.onnx` from the checkout, no --library.
    let out = Command::new(env!("CARGO_BIN_EXE_rectify")).env_remove("RECTIFY_LIBRARY").arg("info").output().unwrap();
    let report = text(&out);
    assert!(out.status.success(), "{report}");
    assert!(report.contains("target/release/librectify.so (cargo's release build), version 0.1.0"), "{report}");
}

#[test]
fn triton_config_declares_the_model_tensors_and_the_op_library() {
    let out = rectify(&["triton-config", "models/facenet.onnx"]);
    let config = text(&out);
    assert!(out.status.success(), "{config}");
    for line in [
        "name: \"facenet\"",
        "backend: \"onnxruntime\"",
        "max_batch_size: 0",
        "  { name: \"X\", data_type: TYPE_FP32, dims: [ 1, 3, 112, 112 ] }",
        "  { name: \"Y\", data_type: TYPE_FP32, dims: [ 1, 128 ] }",
        "model_operations { op_library_filename: \"/opt/rectify/lib/librectify.so\" }",
    ] {
        assert!(config.lines().any(|l| l == line), "missing '{line}' in:\n{config}");
    }
    let out =
        rectify(&["triton-config", "models/leaky_relu_bfloat16.onnx", "--name", "lr", "--op-library", "librectify.so"]);
    let config = text(&out);
    assert!(config.contains("name: \"lr\"") && config.contains("data_type: TYPE_BF16"), "{config}");
    assert!(config.contains("op_library_filename: \"librectify.so\""), "{config}");
}

#[test]
fn triton_config_writes_symbolic_dimensions_as_any_size() {
    // A batch dimension named by the exporter, as torch.onnx writes it.
    let dir = tmp("triton-symbolic");
    std::fs::create_dir_all(&dir).unwrap();
    let model = dir.join("symbolic.onnx");
    let script = "import onnx, sys\n\
        m = onnx.load('models/leaky_relu_float.onnx')\n\
        for v in list(m.graph.input) + list(m.graph.output):\n\
        \x20   v.type.tensor_type.shape.dim[0].dim_param = 'batch'\n\
        onnx.save(m, sys.argv[1])\n";
    let made = Command::new(repo().join(".venv/bin/python"))
        .current_dir(repo())
        .args(["-c", script, model.to_str().unwrap()])
        .output()
        .expect("run .venv's python (make test makes it)");
    assert!(made.status.success(), "{}", text(&made));
    let out = rectify(&["triton-config", model.to_str().unwrap()]);
    let config = text(&out);
    assert!(out.status.success(), "{config}");
    assert!(config.contains("{ name: \"X\", data_type: TYPE_FP32, dims: [ -1, 3, 8, 10 ] }"), "{config}");
    assert!(config.contains("{ name: \"Y\", data_type: TYPE_FP32, dims: [ -1, 3, 8, 10 ] }"), "{config}");
    let missing = rectify(&["triton-config", "models/no-such-model.onnx"]);
    assert_eq!(missing.status.code(), Some(2), "{}", text(&missing));
    assert!(text(&missing).contains("no-such-model.onnx"), "{}", text(&missing));
}
