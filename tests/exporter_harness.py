"""What tests/torch and tests/tf2onnx share: exported models run in ONNX Runtime (with or
without librectify.so), their built-in twin from the CLI, their nodes, and test values."""

import os
import pathlib
import subprocess

import numpy as np
import onnx
import onnxruntime as ort

ROOT = pathlib.Path(__file__).resolve().parents[1]
CLI = pathlib.Path(os.environ.get("RECTIFY_CLI", ROOT / "target/debug/rectify"))
LIBRARY = pathlib.Path(os.environ.get("RECTIFY_LIBRARY", ROOT / "target/release/librectify.so"))
ORT_LIB = next((pathlib.Path(ort.__file__).parent / "capi").glob("libonnxruntime.so.*"))


def session(path, plugin=True):
    """An ONNX Runtime session of the model file at `path` (by path: external data is read
    from the model's folder), with librectify.so when `plugin`."""
    so = ort.SessionOptions()
    so.log_severity_level = 3
    if plugin:
        so.register_custom_ops_library(str(LIBRARY))
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def run(path, feeds, plugin=True, session_=None):
    """The outputs of one run of the model at `path` (or of `session_`) on the list `feeds`."""
    s = session_ or session(path, plugin)
    return s.run(None, {i.name: x for i, x in zip(s.get_inputs(), feeds)})


def to_builtin(path, out):
    """`rectify convert --to builtin`: the model's twin made of ONNX's own ops."""
    env = dict(os.environ, ORT_DYLIB_PATH=str(ORT_LIB), RECTIFY_LIBRARY=str(LIBRARY))
    done = subprocess.run([str(CLI), "convert", "--to", "builtin", "--all", str(path), str(out)],
                          capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    return out


def nodes(path):
    """(domain, op_type, attributes, input names) of every node of the model at `path`."""
    model = onnx.load(str(path), load_external_data=False)
    return [(n.domain, n.op_type, {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}, list(n.input))
            for n in model.graph.node]


def initializer_dims(path):
    model = onnx.load(str(path))
    return {t.name: list(t.dims) for t in model.graph.initializer}


def specials(shape, seed=0):
    """float32 values of `shape` with ±0, ±inf, NaN, subnormals and large values mixed in."""
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 4).astype(np.float32)
    tiny = np.finfo(np.float32).tiny
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, tiny / 4, -tiny / 4, 1e30, -1e30], np.float32)
    flat = x.reshape(-1)
    flat[: min(len(special), flat.size)] = special[: flat.size]
    return x


def bits(a):
    a = np.ascontiguousarray(a)
    return a.view(np.dtype(f"u{a.dtype.itemsize}"))
