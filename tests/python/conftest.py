"""Shared helpers: the built librectify.so and one-node models made with onnx.helper.

The same suite runs on every ONNX Runtime release of the matrix (tests/matrix/matrix.py).
Where a release's built-in op behaves differently from the newest release's, the test that
finds it calls `note()`; the notes are printed at the end and, in a matrix run, written to
$RECTIFY_MATRIX_REPORT for docs/RELIABILITY.md's table."""

import json
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
    ins = [helper.make_tensor_value_info(n, dtypes.get(n, dtype if not dtypes else TensorProto.FLOAT), shapes.get(n)) for n in inputs if n]
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


_notes = []


def note(text):
    """Records something this release does differently (shown in the matrix table)."""
    if text not in _notes:
        _notes.append(text)


def pytest_terminal_summary(terminalreporter):
    for text in _notes:
        terminalreporter.write_line(f"onnxruntime {ort.__version__}: {text}")
    report = os.environ.get("RECTIFY_MATRIX_REPORT")
    if report:
        pathlib.Path(report).write_text(json.dumps(_notes))


__all__ = ["model", "session", "note", "ROOT", "ORT_VERSION", "onnx"]
