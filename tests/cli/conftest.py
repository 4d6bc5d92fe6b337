"""The `rectify` CLI on models made here with onnx.helper: conversion of the forms real
exporters write (external data, decomposed activations), verify's checks and its bad-input
errors. The binary is cargo's debug build (`make cli`), the library the release build."""

import os
import pathlib
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

ROOT = pathlib.Path(__file__).resolve().parents[2]
CLI = pathlib.Path(os.environ.get("RECTIFY_CLI", ROOT / "target/debug/rectify"))
LIBRARY = pathlib.Path(os.environ.get("RECTIFY_LIBRARY", ROOT / "target/release/librectify.so"))
ORT_LIB = next((pathlib.Path(ort.__file__).parent / "capi").glob("libonnxruntime.so.*"))


def rectify(*args, check=True):
    """Runs the CLI; returns (exit status, stdout + stderr)."""
    env = dict(os.environ, ORT_DYLIB_PATH=str(ORT_LIB), RECTIFY_LIBRARY=str(LIBRARY))
    run = subprocess.run([str(CLI), *map(str, args)], capture_output=True, text=True, env=env)
    out = run.stdout + run.stderr
    if check:
        assert run.returncode == 0, out
    return run.returncode, out


def graph_model(nodes, inputs, outputs, initializers=(), opset=17, rectify_opset=False):
    g = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(initializers))
    imports = [helper.make_opsetid("", opset)] + ([helper.make_opsetid("rectify", 1)] if rectify_opset else [])
    m = helper.make_model(g, opset_imports=imports)
    m.ir_version = 8
    return m


def run(model, feeds, plugin=False):
    """Runs a ModelProto (or a path) in ONNX Runtime, with librectify.so when `plugin`."""
    so = ort.SessionOptions()
    so.log_severity_level = 3
    if plugin:
        so.register_custom_ops_library(str(LIBRARY))
    source = str(model) if isinstance(model, (str, pathlib.Path)) else model.SerializeToString()
    return ort.InferenceSession(source, so, providers=["CPUExecutionProvider"]).run(None, feeds)


WARNINGS_SCRIPT = """
import sys, numpy as np, onnxruntime as ort
ort.set_default_logger_severity(1)
so = ort.SessionOptions()
so.log_severity_level = 1
if sys.argv[2]:
    so.register_custom_ops_library(sys.argv[2])
s = ort.InferenceSession(sys.argv[1], so, providers=["CPUExecutionProvider"])
s.run(None, {s.get_inputs()[0].name: np.load(sys.argv[3])})
"""


def ort_warnings(model, x_file, plugin=False):
    """The warnings ONNX Runtime logs loading `model` (a path) and running it once on the
    array in `x_file`, in a process of its own (its logger writes to stderr)."""
    args = [sys.executable, "-c", WARNINGS_SCRIPT, str(model), str(LIBRARY) if plugin else "", str(x_file)]
    run = subprocess.run(args, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    return [line for line in run.stderr.splitlines() if " [W:onnxruntime" in line]


def specials(dtype, shape, seed=0):
    """Random values of `shape` with ±0, ±inf, NaN, subnormals and large values mixed in."""
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 4).astype(dtype)
    flat = x.reshape(-1)
    info = np.finfo(dtype)
    tiny, least = info.tiny, info.smallest_subnormal
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, tiny / 4, -tiny / 4, least, -least, 1e4, -1e4], dtype)
    flat[: min(len(special), flat.size)] = special[: flat.size]
    return x


@pytest.fixture(scope="session")
def cli():
    assert CLI.exists(), f"{CLI} is missing: run `make cli`"
    assert LIBRARY.exists(), f"{LIBRARY} is missing: run `make build`"
    return rectify


__all__ = ["rectify", "graph_model", "run", "ort_warnings", "specials", "TensorProto", "helper", "numpy_helper", "onnx", "np"]
