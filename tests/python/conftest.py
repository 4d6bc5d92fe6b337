"""Shared helpers: the built librectify.so and one-node models made with onnx.helper."""

import os
import pathlib

import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

ROOT = pathlib.Path(__file__).resolve().parents[2]
# (major, minor) of the ONNX Runtime under test: 1.16 has no custom-op shape inference and
# words type errors differently.
ORT_VERSION = tuple(int(p) for p in ort.__version__.split(".")[:2])


@pytest.fixture(scope="session")
def library():
    path = pathlib.Path(os.environ.get("RECTIFY_LIBRARY", ROOT / "target/release/librectify.so"))
    assert path.exists(), f"{path} is missing: run `cargo build --release` (make test does it)"
    return str(path)


def model(op, dtype=TensorProto.FLOAT, inputs=("X",), outputs=("Y",), shapes=None, out_shape=None, **attrs):
    """Serialized one-node model in domain `rectify`. `shapes` maps input names to shapes
    (None: unknown rank); outputs get `out_shape`."""
    shapes = shapes or {}
    dtypes = dtype if isinstance(dtype, dict) else {}
    ins = [helper.make_tensor_value_info(n, dtypes.get(n, dtype if not dtypes else TensorProto.FLOAT), shapes.get(n)) for n in inputs]
    out_type = dtypes.get("X", dtype) if dtypes else dtype
    outs = [helper.make_tensor_value_info(n, out_type, out_shape) for n in outputs if n]
    node = helper.make_node(op, list(inputs), list(outputs), domain="rectify", **attrs)
    graph = helper.make_graph([node], op, ins, outs)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("rectify", 1)])
    m.ir_version = 8
    return m.SerializeToString()


def session(library, model_bytes, threads=1):
    so = ort.SessionOptions()
    so.register_custom_ops_library(library)
    so.intra_op_num_threads = threads
    return ort.InferenceSession(model_bytes, so, providers=["CPUExecutionProvider"])


__all__ = ["model", "session", "ROOT", "ORT_VERSION", "onnx"]
