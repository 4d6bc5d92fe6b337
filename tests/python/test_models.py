"""Every model in models/ through ONNX Runtime's Python API, on inputs with every class of
value. This is the suite that runs on each supported ONNX Runtime (the Rust harness needs
ONNX Runtime >= 1.17):
- on every runtime, rectify equals a numpy reference of ONNX Runtime 1.31.1's rules bit for
  bit (NaNs compared as NaN: the built-ins' NaN payloads vary with the tensor size);
- on the pinned runtime (1.31.1), rectify equals the built-in twin bit for bit. Older
  built-ins differ (1.16.3's float PRelu gives NaN for +inf when the slope is 0), so there
  the twin is not a reference."""

import json
import zlib

import numpy as np
import onnxruntime as ort
import pytest
from conftest import ROOT, session

MANIFEST = json.loads((ROOT / "models/manifest.json").read_text())
NUMPY = {"float": np.float32, "double": np.float64, "float16": np.float16}
BITS = {np.float32: np.uint32, np.float64: np.uint64, np.float16: np.uint16}


def specials(dtype):
    info = np.finfo(dtype)
    values = [0.0, np.inf, np.nan, info.smallest_subnormal, info.tiny, info.max, 1.0, 3.5, 1e-3]
    return np.array(values + [-v for v in values], dtype=dtype)


def make_input(name, dtype, shape, rng, kind):
    n = int(np.prod(shape))
    if kind == "all_bits":
        return np.arange(n, dtype=np.uint32).astype(np.uint16).view(dtype).reshape(shape)
    if kind == "dyadic":
        return (rng.integers(-8, 9, size=shape) / 8).astype(dtype)
    if name == "slope":
        s = rng.uniform(-1.5, 1.5, size=n).astype(dtype)
        s[::7] = 0
        return s.reshape(shape)
    x = rng.uniform(-4, 4, size=n).astype(dtype)
    sp = specials(dtype)
    x[: min(n, len(sp))] = sp[:n]
    return x.reshape(shape)


PINNED = "1.31.1"


def reference(entry, feeds):
    """ONNX Runtime 1.31.1's element rules (see README, 'Rounding rules')."""
    with np.errstate(all="ignore"):  # inf * 0 and friends are part of the test
        return _reference(entry, feeds)


def _reference(entry, feeds):
    x = feeds["X"]
    dtype = x.dtype.type
    attrs = entry["attributes"]
    if entry["op"] == "PRelu":
        factor = feeds["slope"]
        if "axis" in attrs:
            factor = factor.reshape([-1] + [1] * (x.ndim - 1 - attrs["axis"]))
    else:
        alpha = attrs["alpha"] if entry["op"] == "LeakyRelu" else (np.float32(attrs["lower"]) + np.float32(attrs["upper"])) / np.float32(2)
        factor = np.float32(alpha)
    if dtype == np.float16 and entry["op"] != "PRelu":
        wide = x.astype(np.float32)
        return np.where(wide < 0, wide * factor, wide).astype(np.float16)
    if dtype == np.float16:
        product = (x.astype(np.float32) * factor.astype(np.float32) + np.float32(0)).astype(np.float16)
    elif dtype == np.float64:
        product = x * np.asarray(factor).astype(np.float64) + 0.0
    else:
        product = x * factor
    return np.where(x < 0, product, x).astype(dtype)


def assert_same_bits(got, want, feeds, nan_as_nan=False):
    assert got.shape == want.shape
    bits = BITS[got.dtype.type]
    differ = got.view(bits) != want.view(bits)
    if nan_as_nan:
        differ &= ~(np.isnan(got) & np.isnan(want))
    diff = np.flatnonzero(differ)
    i = diff[0] if diff.size else 0
    assert diff.size == 0, (
        f"{diff.size} elements differ, e.g. at {i}: x={feeds['X'].flat[i]!r}: "
        f"{hex(got.view(bits).flat[i])} vs {hex(want.view(bits).flat[i])}"
    )


def twin_cases():
    for entry in MANIFEST:
        if entry["twin"] and entry["dtype"] in NUMPY:
            yield pytest.param(entry, id=entry["name"])


@pytest.mark.parametrize("entry", list(twin_cases()))
def test_rectify_equals_the_reference_and_the_builtin_twin(library, entry):
    dtype = NUMPY[entry["dtype"]]
    rng = np.random.default_rng(zlib.crc32(entry["name"].encode()))
    feeds = {n: make_input(n, dtype, s, rng, entry.get("input_kind")) for n, s in entry["inputs"]}
    got = session(library, (ROOT / "models" / entry["model"]).read_bytes()).run(None, feeds)[0]
    if entry["op"] not in ("CNN", "FaceNet"):  # whole networks: no closed form
        assert_same_bits(got, reference(entry, feeds), feeds, nan_as_nan=True)
    if ort.__version__ == PINNED:
        twin = ort.InferenceSession(str(ROOT / "models" / entry["twin"]), providers=["CPUExecutionProvider"])
        assert_same_bits(got, twin.run(None, feeds)[0], feeds)


@pytest.mark.parametrize("dtype", ["float", "double", "float16"])
def test_rrelu_training_reproduces_per_seed_and_draws_anew(library, dtype):
    entry = next(e for e in MANIFEST if e["name"] == f"rrelu_training_{dtype}")
    x = make_input("X", NUMPY[dtype], entry["inputs"][0][1], np.random.default_rng(5), None)
    model = (ROOT / "models" / entry["model"]).read_bytes()
    first, second = (session(library, model).run(None, {"X": x}) for _ in range(2))
    s = session(library, model)
    run1, run2 = s.run(None, {"X": x}), s.run(None, {"X": x})
    assert all(np.array_equal(a, b, equal_nan=True) for a, b in zip(first, second))
    assert np.array_equal(first[1], run1[1]) and not np.array_equal(run1[1], run2[1])
    negative = x < 0
    lower, upper = entry["attributes"]["lower"], entry["attributes"]["upper"]
    slope = run1[1].astype(np.float64)
    assert ((slope[negative] >= lower) & (slope[negative] < upper)).all()
    assert (slope[~negative] == 1).all()
