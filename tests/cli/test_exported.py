"""Models written by tf2onnx from Keras 3 and TensorFlow (tests/fixtures/tf2onnx, made by
`make fixtures`): convert fuses their decomposed activations, the converted model gives the
exported one's bits in ONNX Runtime (zero signs aside, docs/conversion.md), and verify
passes against TensorFlow's own outputs within a tolerance."""

import pathlib

import pytest
from conftest import np, onnx, ort_warnings, run
from test_fusion import zero_signs_only

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures/tf2onnx"
CASES = {
    # name: (extra convert flags, the ops after conversion)
    "keras_prelu_shared_hw": ([], ["Transpose", "Conv", "rectify::PRelu", "Conv", "rectify::PRelu", "Transpose"]),
    "keras_prelu_full": ([], ["Transpose", "Conv", "rectify::PRelu", "Conv", "rectify::PRelu", "Transpose"]),
    "tf_branch_free_leaky_relu": (["--fuse-inexact"], ["rectify::LeakyRelu"]),
    "tf_max_leaky_relu": ([], ["rectify::LeakyRelu"]),
}


def ops(m):
    return [f"rectify::{n.op_type}" if n.domain == "rectify" else n.op_type for n in m.graph.node]


@pytest.mark.parametrize("name", list(CASES))
def test_exported_models_convert_and_verify_against_tensorflow(cli, tmp_path, name):
    flags, want_ops = CASES[name]
    model = FIXTURES / f"{name}.onnx"
    converted = tmp_path / f"{name}.rectify.onnx"
    _, out = cli("convert", "--to", "rectify", "--all", *flags, model, converted)
    assert ops(onnx.load(converted)) == want_ops, out
    x = np.load(FIXTURES / f"{name}.input.npy")
    exported, ours = run(model, {"x": x})[0], run(converted, {"x": x}, plugin=True)[0]
    if name == "tf_branch_free_leaky_relu":
        # The formula is not exact: the fused LeakyRelu is, a few ULP from it.
        assert np.allclose(ours, exported, rtol=1e-6, atol=0) and not np.array_equal(ours, exported)
    else:
        diff = (ours.view(np.uint32) != exported.view(np.uint32)) & ~(np.isnan(ours) & np.isnan(exported))
        assert not (diff & ~zero_signs_only(exported, ours)).any()
    # As the exported model, the converted one loads and runs without a single warning.
    assert ort_warnings(model, FIXTURES / f"{name}.input.npy") == []
    assert ort_warnings(converted, FIXTURES / f"{name}.input.npy", plugin=True) == []
    inputs = ["--input", f"x={FIXTURES / f'{name}.input.npy'}"]
    expected = ["--expected", f"{onnx.load(model).graph.output[0].name}={FIXTURES / f'{name}.tf.npy'}"]
    status, text = cli("verify", converted, *inputs, *expected, check=False)
    assert status in (0, 1), text  # TensorFlow's convolutions round their own way...
    _, text = cli("verify", converted, *inputs, *expected, "--rtol", "1e-5", "--atol", "1e-5")
    assert "PASS: every output matches expected (files)" in text, text  # ...within 1e-5


TORCH = pathlib.Path(__file__).resolve().parents[1] / "fixtures/torch"


def inferred_shapes(m):
    """How many node outputs onnx's own shape inference gives a shape (rank known)."""
    inferred = onnx.shape_inference.infer_shapes(m)
    known = {v.name for v in list(inferred.graph.value_info) + list(inferred.graph.output) if v.type.tensor_type.HasField("shape")}
    return sum(o in known for n in m.graph.node for o in n.output)


@pytest.mark.parametrize("name", ["pnet_dynamo", "pnet_torchscript", "leaky_dynamo"])
def test_pytorch_exports_convert_to_models_that_load_from_anywhere(cli, tmp_path, monkeypatch, name):
    src = TORCH / f"{name}.onnx"
    out = tmp_path / "elsewhere"
    out.mkdir()
    monkeypatch.chdir(tmp_path)  # neither the model's folder nor the output's
    _, text = cli("convert", "--to", "rectify", "--all", src, out / "m.onnx")
    external = (TORCH / f"{name}.onnx.data").exists()
    assert ("external data" in text) == external and (out / "m.onnx.data").exists() == external, text
    converted = onnx.load(str(out / "m.onnx"))
    assert {n.op_type for n in converted.graph.node if n.domain == "rectify"} >= {"PRelu"}
    assert not [n for n in converted.graph.node if n.domain == "" and n.op_type in ("PRelu", "LeakyRelu")]
    x = np.load(TORCH / f"{name}.input.npy")
    want, got = run(src, {"x": x})[0], run(out / "m.onnx", {"x": x}, plugin=True)[0]
    assert (want.view(np.uint32) == got.view(np.uint32)).all()
    assert ort_warnings(out / "m.onnx", TORCH / f"{name}.input.npy", plugin=True) == []
    # ONNX's shape inference keeps going past the rectify nodes, as on the original.
    assert inferred_shapes(converted) == inferred_shapes(onnx.load(str(src))) == len(converted.graph.node)
    inputs = ["--input", f"x={TORCH / f'{name}.input.npy'}", "--expected", f"y={TORCH / f'{name}.torch.npy'}"]
    _, text = cli("verify", out / "m.onnx", *inputs, "--rtol", "1e-4", "--atol", "1e-5")
    assert "PASS: every output matches expected (files)" in text, text


def test_a_float16_conversion_of_a_pytorch_export_verifies_node_by_node(cli, tmp_path):
    src = TORCH / "pnet_float16.onnx"
    cli("convert", "--to", "rectify", "--all", src, tmp_path / "m.onnx")
    inputs = ["--input", f"x={TORCH / 'pnet_float16.input.npy'}"]
    for model in (src, tmp_path / "m.onnx"):
        _, text = cli("verify", model, *inputs)
        assert "PASS: every output matches the built-in op, node by node" in text, text
        assert text.count("bit-exact") >= 3, text  # the three PRelu nodes
