"""The registry (`rectify info --json`, python/rectify/spec.json) against what
librectify_tf.so registers in TensorFlow and what rectify.tf and rectify.keras default to:
every op and its gradient, every attribute with TensorFlow's default, every element type."""

import inspect
import json

import pytest
import tensorflow as tf
from tensorflow.python.framework import op_def_registry
from tensorflow.python.framework import ops as tf_ops

from conftest import ROOT

SPEC = json.loads((ROOT / "python/rectify/spec.json").read_text())
TF_TYPES = {"float": tf.float32, "double": tf.float64, "float16": tf.float16, "bfloat16": tf.bfloat16}


def attrs(op_def):
    return {a.name: a for a in op_def.attr}


@pytest.mark.parametrize("op", SPEC["ops"], ids=lambda op: op["name"])
def test_every_op_and_its_gradient_have_the_registrys_attributes(rtf, op):
    tf_spec = op["tensorflow"]
    forward, gradient = op_def_registry.get(tf_spec["name"]), op_def_registry.get(tf_spec["gradient"])
    assert forward is not None and gradient is not None, tf_spec
    assert tf_spec["name"] in rtf.OP_NAMES and tf_spec["gradient"] in rtf.OP_NAMES
    tf_ops.gradient_registry.lookup(tf_spec["name"])  # raises LookupError when missing
    assert len(forward.input_arg) == len(op["inputs"])
    assert len(forward.output_arg) == len(op["outputs"])
    wanted = {a["name"]: a for a in op["attributes"] if a["name"] not in tf_spec["omitted"]}
    assert set(attrs(forward)) == set(wanted) | {"T"}
    assert set(attrs(gradient)) == set(tf_spec["gradient_attributes"]) | {"T"}
    for name, a in wanted.items():
        got = attrs(forward)[name]
        if a["type"] == "float":
            assert got.type == "float" and got.default_value.f == pytest.approx(a["tensorflow_default"], rel=1e-7)
        elif name in tf_spec["bools"]:
            assert got.type == "bool" and got.default_value.b == bool(a["tensorflow_default"])
        else:
            assert got.type == "int" and got.default_value.i == a["tensorflow_default"]
    allowed = {tf.as_dtype(t) for t in attrs(forward)["T"].allowed_values.list.type}
    assert allowed == {TF_TYPES[t] for t in SPEC["hosts"]["tensorflow"]["element_types"]}


def test_the_python_wrappers_default_to_the_registry(rtf):
    import rectify.keras

    leaky = next(o for o in SPEC["ops"] if o["name"] == "LeakyRelu")
    rrelu = next(o for o in SPEC["ops"] if o["name"] == "RRelu")
    default = {a["name"]: a["tensorflow_default"] for o in (leaky, rrelu) for a in o["attributes"]}
    assert inspect.signature(rtf.leaky_relu).parameters["alpha"].default == default["alpha"]
    assert inspect.signature(rtf.leaky_relu_grad).parameters["alpha"].default == default["alpha"]
    rrelu_sig = inspect.signature(rtf.rrelu).parameters
    assert (rrelu_sig["lower"].default, rrelu_sig["upper"].default) == (default["lower"], default["upper"])
    layer = inspect.signature(rectify.keras.RReLU).parameters
    assert (layer["lower"].default, layer["upper"].default) == (default["lower"], default["upper"])
