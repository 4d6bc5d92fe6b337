"""`rectify verify` against real references: expected outputs within a tolerance, float16
networks checked node by node, and bad flags as clear errors (exit 2), never a crash."""

import pytest
from conftest import TensorProto, graph_model, helper, np, numpy_helper, onnx, run


def half_cnn(dtype=np.float16):
    """Conv -> PRelu -> Conv in float16, as float16 converters write it (keep_io_types:
    float32 at the edges, Casts inside)."""
    rng = np.random.default_rng(3)
    inits = [
        numpy_helper.from_array(rng.standard_normal((8, 3, 3, 3)).astype(dtype), "k1"),
        numpy_helper.from_array(rng.uniform(0, 0.5, (8, 1, 1)).astype(dtype), "slope"),
        numpy_helper.from_array(rng.standard_normal((4, 8, 3, 3)).astype(dtype), "k2"),
    ]
    nodes = [
        helper.make_node("Cast", ["X"], ["xh"], to=TensorProto.FLOAT16),
        helper.make_node("Conv", ["xh", "k1"], ["c1"]),
        helper.make_node("PRelu", ["c1", "slope"], ["p"]),
        helper.make_node("Conv", ["p", "k2"], ["c2"]),
        helper.make_node("Cast", ["c2"], ["Y"], to=TensorProto.FLOAT),
    ]
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 3, 16, 16])
    y = helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1, 4, 12, 12])
    return graph_model(nodes, [x], [y], inits)


def test_a_correct_float16_network_passes_node_by_node(cli, tmp_path):
    onnx.save(half_cnn(), tmp_path / "m.onnx")
    cli("convert", "--to", "rectify", "--all", tmp_path / "m.onnx", tmp_path / "r.onnx")
    _, out = cli("verify", tmp_path / "r.onnx")
    assert "rectify nodes, each against the built-in op on its own inputs (decisive)" in out, out
    assert "'p' (PRelu) -> p" in out and "PASS: every output matches the built-in op, node by node" in out, out
    # The whole-model twin is still shown, for information.
    assert "ONNX Runtime, built-in twin" in out and "is for information" in out, out


def test_expected_outputs_within_a_tolerance(cli, tmp_path):
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, [64])
    y = helper.make_tensor_value_info("Y", TensorProto.FLOAT, [64])
    m = graph_model([helper.make_node("LeakyRelu", ["X"], ["Y"], alpha=0.1)], [x], [y])
    onnx.save(m, tmp_path / "m.onnx")
    xs = np.linspace(-3, 3, 64, dtype=np.float32)
    np.save(tmp_path / "x.npy", xs)
    # A framework's output: the same values computed another way, a few ULP apart.
    framework = np.where(xs < 0, (xs.astype(np.float64) * 0.1 * (1 + 3e-7)), xs).astype(np.float32)
    np.save(tmp_path / "y.npy", framework)
    args = ["verify", tmp_path / "m.onnx", "--input", f"X={tmp_path / 'x.npy'}", "--expected", f"Y={tmp_path / 'y.npy'}"]
    status, out = cli(*args, check=False)
    assert status == 1 and "FAIL" in out and "worst at [" in out, out
    _, out = cli(*args, "--rtol", "1e-6")
    assert "within rtol 0.000001 atol 0" in out and "PASS" in out, out
    status, out = cli(*args, "--atol", "1e-9", check=False)
    assert status == 1 and "elements outside" in out, out


@pytest.mark.parametrize(
    "flags,message",
    [
        (["--dim", "N=-1"], "a dimension's size is a whole number >= 0"),
        (["--dim", "N=abc"], "a dimension's size is a whole number >= 0"),
        (["--dim", "=3"], "the dimension has no name"),
        (["--dim", "M=4"], "no dimension named 'M' (symbolic dimensions: N)"),
        (["--dim", "N=99999999999"], "over verify's limit of 4294967296 bytes"),
        (["--dim", "N=9223372036854775807"], "more than 2^64"),
        (["--dim", "N=100", "--max-input-bytes", "1000"], "would take 1200 bytes"),
        (["--dim", "N=1", "--rtol=-1"], "a tolerance is a finite number >= 0"),
        (["--dim", "N=1", "--rtol", "nan"], "a tolerance is a finite number >= 0"),
        (["--dim", "N=1", "--atol", "1e-3"], "apply to --expected files"),
    ],
)
def test_bad_flags_are_clear_errors(cli, tmp_path, flags, message):
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", 3])
    y = helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["N", 3])
    m = graph_model([helper.make_node("LeakyRelu", ["X"], ["Y"])], [x], [y])
    onnx.save(m, tmp_path / "m.onnx")
    status, out = cli("verify", tmp_path / "m.onnx", *flags, check=False)
    assert status == 2 and message in out and "panicked" not in out, out


def test_an_unknown_element_type_is_a_clear_error(cli, tmp_path):
    x = helper.make_tensor_value_info("X", TensorProto.COMPLEX64, [3])
    y = helper.make_tensor_value_info("Y", TensorProto.COMPLEX64, [3])
    m = graph_model([helper.make_node("LeakyRelu", ["X"], ["Y"])], [x], [y])
    onnx.save(m, tmp_path / "m.onnx")
    status, out = cli("verify", tmp_path / "m.onnx", check=False)
    assert status == 2 and "element type 14" in out and "panicked" not in out, out
    _, out = cli("convert", "--to", "rectify", tmp_path / "m.onnx", tmp_path / "o.onnx")
    assert "element type 14 is not one rectify computes" in out, out
