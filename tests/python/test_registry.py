"""The registry (`rectify info --json`, shipped as python/rectify/spec.json) against what
librectify.so registers in ONNX Runtime: every op on every element type, every attribute
read, every default the same. A host that lacks an op, a dtype or an attribute, or whose
default drifts from the registry's, fails here."""

import json

import numpy as np
import pytest
from onnx import TensorProto

from conftest import ROOT, model, session

SPEC = json.loads((ROOT / "python/rectify/spec.json").read_text())
ONNX_TYPES = {t["name"]: t["onnx_id"] for t in SPEC["element_types"]}
NUMPY = {"float": np.float32, "double": np.float64, "float16": np.float16}
SHAPE = [2, 3, 4]
# A value other than the default for each attribute, to prove the host reads it.
OTHER = {"alpha": 0.3, "lower": 0.05, "upper": 0.9, "training": 1, "seed": 7, "axis": 1}


def op_model(op, dtype, **attrs):
    """One node of `op` on float tensors of SHAPE (PRelu: a [3] slope on axis 1, or [4])."""
    inputs = [i["name"] for i in op["inputs"]]
    outputs = [o["name"] for o in op["outputs"]]
    shapes = {"X": SHAPE, "slope": [3] if "axis" in attrs else [4]}
    return model(op["name"], ONNX_TYPES[dtype], inputs=inputs, outputs=outputs, shapes=shapes, **attrs)


def run(library, op, dtype, **attrs):
    rng = np.random.default_rng(0)
    feeds = {"X": rng.standard_normal(SHAPE).astype(NUMPY[dtype])}
    if len(op["inputs"]) > 1:
        feeds["slope"] = rng.uniform(0.1, 0.5, [3] if "axis" in attrs else [4]).astype(NUMPY[dtype])
    return session(library, op_model(op, dtype, **attrs)).run(None, feeds)


def bits(outputs):
    return [o.view(f"u{o.dtype.itemsize}").tolist() for o in outputs]


def test_the_registry_is_the_domain_onnx_runtime_sees():
    assert SPEC["domain"] == "rectify" and SPEC["opset"] == 1
    assert [op["name"] for op in SPEC["ops"]] == ["LeakyRelu", "PRelu", "RRelu"]


@pytest.mark.parametrize("dtype", [t["name"] for t in SPEC["element_types"]])
@pytest.mark.parametrize("op", SPEC["ops"], ids=lambda op: op["name"])
def test_every_op_is_registered_for_every_element_type(library, op, dtype):
    assert dtype in op["element_types"] and dtype in SPEC["hosts"]["onnxruntime"]["element_types"]
    # Session creation finds a kernel for (domain, op, type) or fails; numpy has no bfloat16
    # to run it with.
    session(library, op_model(op, dtype))
    if dtype in NUMPY:
        outputs = run(library, op, dtype)
        assert len(outputs) == len(op["outputs"]) and outputs[0].shape == tuple(SHAPE)


@pytest.mark.parametrize(
    "op, attribute",
    [(op, a) for op in SPEC["ops"] for a in op["attributes"]],
    ids=lambda v: v["name"] if isinstance(v, dict) else None,
)
def test_every_default_is_the_registrys_and_every_attribute_is_read(library, op, attribute):
    name, default = attribute["name"], attribute["default"]
    base = {"training": 1} if name == "seed" else {}  # the seed matters only in training
    if default is not None:
        # Absent and explicitly the registry's default: the same bits.
        assert bits(run(library, op, "float", **base)) == bits(run(library, op, "float", **base, **{name: default}))
        changed = run(library, op, "float", **base, **{name: OTHER[name]})
        assert bits(changed) != bits(run(library, op, "float", **base)), f"{op['name']} ignores '{name}'"
    else:
        # No default (PRelu's axis): setting it changes how the slope broadcasts.
        assert run(library, op, "float", **{name: OTHER[name]})[0].shape == tuple(SHAPE)
    with pytest.raises(Exception, match=name):
        wrong = "x" if attribute["type"] == "float" else 0.5
        session(library, op_model(op, "float", **{name: wrong}))
