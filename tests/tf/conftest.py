"""TensorFlow tests of the pip-installed `rectify` package (make test installs it into .venv)."""

import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = pathlib.Path(__file__).resolve().parents[2]
DTYPES = ["float32", "float64", "float16", "bfloat16"]


def specials(dtype):
    """Values every kernel must get right: zeros of both signs, infinities, tiny values."""
    import tensorflow as tf

    finfo = tf.as_dtype(dtype)
    tiny = {"float32": 1e-45, "float64": 5e-324, "float16": 6e-8, "bfloat16": 1e-38}[dtype]
    values = [0.0, -0.0, np.inf, -np.inf, tiny, -tiny, 1.0, -1.0, float(finfo.max), -float(finfo.max)]
    return tf.constant(values, dtype=dtype)


def random_tensor(dtype, shape, seed=0):
    import tensorflow as tf

    x = np.random.default_rng(seed).standard_normal(shape) * 3
    return tf.cast(tf.constant(x), dtype)


def bits(t):
    """A tensor's raw bits as integers (bfloat16 and float16 via uint16)."""
    a = t.numpy()
    width = {2: np.uint16, 4: np.uint32, 8: np.uint64}[a.dtype.itemsize]
    return a.view(width)


def assert_bit_identical(a, b, what):
    """Same bits, NaN for NaN (TensorFlow's bfloat16 rounding canonicalises NaN payloads)."""
    an, bn = np.isnan(a.numpy().astype(np.float64)), np.isnan(b.numpy().astype(np.float64))
    assert np.array_equal(an, bn), f"{what}: NaN positions differ"
    diff = (bits(a) != bits(b)) & ~an
    assert not diff.any(), f"{what}: {diff.sum()} elements differ, first at {np.argwhere(diff)[0]}: {a.numpy()[diff][:4]} vs {b.numpy()[diff][:4]}"


def run_python(code):
    """Runs `code` in a fresh interpreter (a new TensorFlow process); returns its stdout."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd="/", timeout=300)
    assert out.returncode == 0, f"exit {out.returncode}\n{out.stdout}\n{out.stderr}"
    return out.stdout


@pytest.fixture(scope="session")
def rtf():
    import rectify.tf

    return rectify.tf
