"""ONNX Runtime's shape inference through rectify nodes: an unknown dimension stays unknown
(never a literal -1 that the nodes after it would compute with), symbolic ones keep their
names, and a run prints no shape-mismatch warning."""

import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from conftest import ORT_VERSION
from onnx import TensorProto, helper, numpy_helper

pytestmark = pytest.mark.skipif(ORT_VERSION < (1, 17), reason="ONNX Runtime 1.16 has no custom-op shape inference")


def conv_after(op, **attrs):
    """X [N, 3, ?, W] -> rectify op -> Conv(4 x 3 x 3 x 3) -> Y, with no shapes declared
    past the input: ONNX Runtime infers them."""
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", 3, None, "W"])
    y = helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)
    inputs = ["X"]
    inits = [numpy_helper.from_array(np.full((4, 3, 3, 3), 0.1, np.float32), "K")]
    if op == "PRelu":
        inits.append(numpy_helper.from_array(np.array([0.1, 0.2, 0.3], np.float32).reshape(3, 1, 1), "slope"))
        inputs.append("slope")
    nodes = [
        helper.make_node(op, inputs, ["A"], domain="rectify", **attrs),
        helper.make_node("Conv", ["A", "K"], ["Y"]),
    ]
    graph = helper.make_graph(nodes, "g", [x], [y], initializer=inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("rectify", 1)])
    m.ir_version = 8
    return m


def inferred(library, m):
    """The shapes ONNX Runtime infers for the graph outputs (declared without a shape), with
    the rectify node's output A made a graph output too."""
    m.graph.output.append(helper.make_tensor_value_info("A", TensorProto.FLOAT, None))
    so = ort.SessionOptions()
    so.register_custom_ops_library(library)
    s = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return {o.name: o.shape for o in s.get_outputs()}


@pytest.mark.parametrize("op", ["LeakyRelu", "PRelu", "RRelu"])
def test_unknown_dims_stay_unknown_through_a_rectify_node(library, op):
    shapes = inferred(library, conv_after(op))
    a, y = shapes["A"], shapes["Y"]
    assert len(a) == 4 and a[0] == "N" and a[1] == 3 and a[3] == "W", a
    # The dimension with neither size nor name: a fresh name, never -1.
    assert isinstance(a[2], str) and a[2], a
    # The Conv after it: as after ONNX Runtime's own PRelu, no negative sizes.
    assert y[0] == "N" and y[1] == 4 and all(not isinstance(d, int) or d >= 0 for d in y), y


SCRIPT = """
import sys, numpy as np, onnx, onnxruntime as ort
ort.set_default_logger_severity(1)
so = ort.SessionOptions()
so.register_custom_ops_library(sys.argv[1])
s = ort.InferenceSession(onnx.load(sys.argv[2]).SerializeToString(), so, providers=["CPUExecutionProvider"])
print(s.run(None, {"X": np.ones((2, 3, 5, 6), np.float32)})[0].shape)
"""


@pytest.mark.parametrize("op", ["LeakyRelu", "PRelu"])
def test_a_run_prints_no_shape_warning(library, op, tmp_path):
    path = tmp_path / "m.onnx"
    onnx.save(conv_after(op), str(path))
    run = subprocess.run([sys.executable, "-c", SCRIPT, library, str(path)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "(2, 4, 3, 4)" in run.stdout
    assert "VerifyOutputSizes" not in run.stderr and "does not match" not in run.stderr, run.stderr
