"""Bad input through ONNX Runtime's Python API: every case gives a clear error naming the
op and what was expected, or the correct output. None may crash the process."""

import numpy as np
import onnxruntime as ort
import pytest
from conftest import ORT_VERSION, model, session
from onnx import TensorProto

F = np.float32


def run(library, m, **feeds):
    return session(library, m).run(None, feeds)


@pytest.mark.parametrize("dtype", [TensorProto.INT32, TensorProto.UINT8, TensorProto.BOOL, TensorProto.STRING])
def test_unsupported_element_types_are_refused_at_load(library, dtype):
    refused = r"Type 'tensor\((int32|uint8|bool|string)\)' of input parameter \(X\) of operator \(LeakyRelu\)"
    if ORT_VERSION < (1, 17):
        refused = r"Could not find an implementation for LeakyRelu\(1\)"
    with pytest.raises(Exception, match=refused):
        session(library, model("LeakyRelu", dtype))


def test_x_and_slope_of_different_types_are_refused_at_load(library):
    m = model("PRelu", {"X": TensorProto.FLOAT, "slope": TensorProto.DOUBLE}, inputs=("X", "slope"))
    # ORT finds no (X, slope) type pair among rectify's kernels when the model loads.
    refused = r"no kernel def matches node inputs for Op: PRelu"
    if ORT_VERSION < (1, 18):
        refused = r"Could not find an implementation for PRelu\(1\)"
    with pytest.raises(Exception, match=refused):
        session(library, m)


def test_a_slope_that_does_not_broadcast_names_both_shapes(library):
    m = model("PRelu", inputs=("X", "slope"))
    with pytest.raises(ort.capi.onnxruntime_pybind11_state.InvalidArgument) as e:
        run(library, m, X=np.ones((2, 3), F), slope=np.ones(4, F))
    assert "rectify: PRelu: input 'slope' of shape [4] is not unidirectionally broadcastable to input 'X' of shape [2, 3]" in str(e.value)


def test_a_slope_of_higher_rank_than_x_is_refused(library):
    m = model("PRelu", inputs=("X", "slope"))
    with pytest.raises(Exception, match=r"'slope' of shape \[1, 3\] is not unidirectionally broadcastable to input 'X' of shape \[3\]"):
        run(library, m, X=np.ones(3, F), slope=np.ones((1, 3), F))


def test_axis_out_of_range_names_the_valid_range(library):
    m = model("PRelu", inputs=("X", "slope"), axis=3)
    with pytest.raises(Exception, match=r"rectify: PRelu: attribute 'axis' = 3 is out of range for input 'X' of rank 2 \(expected -2 to 1\)"):
        run(library, m, X=np.ones((2, 3), F), slope=np.ones(3, F))


def test_axis_with_a_multi_dim_slope_is_refused(library):
    m = model("PRelu", inputs=("X", "slope"), axis=1)
    with pytest.raises(Exception, match=r"input 'slope' must be 1-D of length 3 or 1 .* got shape \[3, 1\]"):
        run(library, m, X=np.ones((2, 3), F), slope=np.ones((3, 1), F))


@pytest.mark.parametrize(
    "op, attrs, message",
    [
        ("RRelu", {"lower": 0.5, "upper": 0.25}, "attribute 'lower' (0.5) must not exceed attribute 'upper' (0.25)"),
        ("RRelu", {"lower": float("nan")}, "attribute 'lower' must be finite, got NaN"),
        ("RRelu", {"upper": float("inf")}, "attribute 'upper' must be finite, got inf"),
        ("RRelu", {"seed": -1, "training": 1}, "attribute 'seed' must be >= 0, got -1"),
        ("RRelu", {"training": 2}, "attribute 'training' must be 0 or 1, got 2"),
        ("LeakyRelu", {"alpha": float("nan")}, "attribute 'alpha' must be finite, got NaN"),
        ("LeakyRelu", {"alpha": 1}, "attribute 'alpha' must be a float"),
    ],
)
def test_bad_attributes_fail_session_creation_naming_the_attribute(library, op, attrs, message):
    with pytest.raises(Exception) as e:
        session(library, model(op, **attrs))
    assert f"rectify: {op}: {message}" in str(e.value)


def test_rank_zero_and_empty_tensors_work(library):
    y = run(library, model("LeakyRelu", alpha=0.5), X=np.array(-2.0, F))[0]
    assert y.shape == () and y == -1.0
    y = run(library, model("PRelu", inputs=("X", "slope")), X=np.array(-2.0, F), slope=np.array(0.25, F))[0]
    assert y.shape == () and y == -0.5
    for op in ["LeakyRelu", "RRelu"]:
        y = run(library, model(op), X=np.zeros((0, 3), F))[0]
        assert y.shape == (0, 3)
    y = run(library, model("PRelu", inputs=("X", "slope")), X=np.zeros((0, 3), F), slope=np.ones(3, F))[0]
    assert y.shape == (0, 3)


def test_rank_eight_works(library):
    x = np.linspace(-1, 1, 2**8, dtype=F).reshape((2,) * 8)
    slope = np.linspace(0.1, 0.2, 2, dtype=F)
    y = run(library, model("PRelu", inputs=("X", "slope")), X=x, slope=slope)[0]
    np.testing.assert_array_equal(y, np.where(x < 0, x * slope, x))


def test_unknown_input_rank_runs_and_shapes_are_inferred_when_known(library):
    # Unknown rank: no shape inference, still runs.
    s = session(library, model("LeakyRelu"))
    assert s.run(None, {"X": np.array([-1.0, 1.0], F)})[0].tolist() == [-0.009999999776482582, 1.0]
    # Known rank: Y's shape comes from rectify's shape inference (API >= 17). Slope keeps
    # an unknown shape: shape inference cannot learn whether the node has it.
    y_shape = [2, "n", 4] if ORT_VERSION >= (1, 17) else []
    s = session(library, model("RRelu", outputs=("Y", "Slope"), shapes={"X": [2, "n", 4]}))
    assert [o.shape for o in s.get_outputs()] == [y_shape, []]


@pytest.mark.parametrize("training", [0, 1])
@pytest.mark.parametrize("outputs", [("Y",), ("Y", ""), ("Y", "Slope")])
def test_rrelu_of_known_rank_loads_with_every_output_form(library, training, outputs):
    """The shape inference once wrote RRelu's Slope whether or not the node had it: past
    the end of ONNX Runtime's own vector, which aborted the process on 1.17-1.27."""
    s = session(library, model("RRelu", outputs=outputs, shapes={"X": [2, "n", 4]}, training=training, seed=1))
    declared = [o for o in outputs if o]
    assert [o.name for o in s.get_outputs()] == declared
    assert s.get_outputs()[0].shape == ([2, "n", 4] if ORT_VERSION >= (1, 17) else [])
    x = np.linspace(-1, 1, 24, dtype=F).reshape(2, 3, 4)
    got = s.run(None, {"X": x})
    assert len(got) == len(declared) and got[0].shape == x.shape


@pytest.mark.parametrize(
    "op, inputs, outputs, refused",
    [
        ("PRelu", ["X"], ["Y"], r"has input size 1 not in range \[min=2, max=2\]"),
        ("PRelu", ["X", "slope", "W"], ["Y"], r"has input size 3 not in range \[min=2, max=2\]"),
        ("PRelu", ["X", ""], ["Y"], r"input 1 is marked single but has an empty string"),
        ("LeakyRelu", [""], ["Y"], r"input 0 is marked single but has an empty string"),
        ("LeakyRelu", ["X"], ["Y", "Z"], r"has output size 2 not in range \[min=1, max=1\]"),
        ("RRelu", ["X"], ["Y", "Slope", "Z"], r"has output size 3 not in range \[min=1, max=2\]"),
        ("RRelu", ["X"], ["", "Slope"], r"output 0 is marked single but has an empty string"),
        ("RRelu", ["X", "W"], ["Y"], r"has input size 2 not in range \[min=1, max=1\]"),
    ],
)
def test_nodes_with_missing_or_extra_inputs_or_outputs_are_refused_at_load(library, op, inputs, outputs, refused):
    """ONNX Runtime checks a node's arity against rectify's schema before any rectify
    callback runs; the kernel checks it again (ort::signature unit tests)."""
    with pytest.raises(Exception, match=refused):
        session(library, model(op, inputs=inputs, outputs=outputs))
    assert session(library, model("LeakyRelu")).run(None, {"X": np.array([2.0], F)})[0][0] == 2.0


def test_the_optional_slope_output_may_be_omitted(library):
    x = np.array([-1.0, 2.0], F)
    (y,) = run(library, model("RRelu", training=1, seed=3), X=x)
    y2, slope = run(library, model("RRelu", outputs=("Y", "Slope"), training=1, seed=3), X=x)
    assert y.tolist() == y2.tolist() and slope[1] == 1.0


def test_registering_twice_on_one_session_options_is_an_error_not_a_crash(library):
    so = ort.SessionOptions()
    so.register_custom_ops_library(library)
    so.register_custom_ops_library(library)
    with pytest.raises(Exception, match="already"):
        ort.InferenceSession(model("LeakyRelu"), so, providers=["CPUExecutionProvider"])
    # The process goes on: a fresh SessionOptions works.
    assert session(library, model("LeakyRelu")).run(None, {"X": np.array([2.0], F)})[0][0] == 2.0


def test_rrelu_bounds_must_fit_the_element_type(library):
    m = model("RRelu", TensorProto.FLOAT16, lower=1e5, upper=2e5, training=1)
    with pytest.raises(Exception, match=r"rectify: RRelu: attribute 'lower' = 100000 does not fit tensor\(float16\) \(largest finite 65504\)"):
        session(library, m)
    # The same bounds are fine for float.
    y = session(library, model("RRelu", lower=1e5, upper=2e5)).run(None, {"X": np.array([-1.0], F)})[0]
    assert y[0] == -150000.0
