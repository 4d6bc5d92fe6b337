"""Every model in models/ through ONNX Runtime's Python API, on inputs with every class of
value. The release matrix (tests/matrix/matrix.py) runs this suite on every ONNX Runtime
release from 1.16 on; on each of them:
- rectify equals a numpy reference of the README's rounding rules bit for bit (NaNs compared
  as NaN: the built-ins' NaN payloads vary with the tensor size), for all four element
  types: bfloat16 models run behind Casts from and to float, since numpy has no bfloat16;
- rectify equals that release's own built-in twin bit for bit, unless the release's
  built-in follows another rule: then `BUILTIN_RULES` must name it, the built-in is checked
  against that rule instead, and the difference is noted in the matrix table;
- RRelu's optional `Slope` output works in every form: omitted, present, or omitted by an
  empty name, in inference and in training."""

import json
import zlib

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from conftest import ORT_VERSION, ROOT, note, session
from onnx import TensorProto, helper

MANIFEST = json.loads((ROOT / "models/manifest.json").read_text())
# bfloat16 tensors travel as float32 holding bfloat16 values (exact both ways).
NUMPY = {"float": np.float32, "double": np.float64, "float16": np.float16, "bfloat16": np.float32}
BITS = {np.float32: np.uint32, np.float64: np.uint64, np.float16: np.uint16}
NETWORKS = ("CNN", "FaceNet")  # whole networks: no closed form


def bfloat16(a):
    """float32 values rounded to the nearest bfloat16 (ties to even), as float32."""
    a = np.asarray(a, np.float32)
    bits = a.view(np.uint32).astype(np.uint64)
    lsb = (bits >> np.uint64(16)) & np.uint64(1)
    rounded = ((bits + np.uint64(0x7FFF) + lsb) & np.uint64(0xFFFF0000)).astype(np.uint32).view(np.float32)
    return np.where(np.isnan(a), np.float32(np.nan), rounded).astype(np.float32)


def specials(dtype, bf16=False):
    info = np.finfo(dtype)
    values = [0.0, np.inf, np.nan, info.smallest_subnormal, info.tiny, info.max, 1.0, 3.5, 1e-3]
    if bf16:  # bfloat16's own extremes (float32's round away)
        values += [2.0**-133, 3.3895313892515355e38]
    return np.array(values + [-v for v in values], dtype=dtype)


def make_input(name, dtype_name, shape, rng, kind):
    dtype, bf16 = NUMPY[dtype_name], dtype_name == "bfloat16"
    n = int(np.prod(shape))
    if kind == "all_bits":
        bits = np.arange(n, dtype=np.uint32) & 0xFFFF
        if bf16:
            return (bits << 16).view(np.float32).reshape(shape)
        return bits.astype(np.uint16).view(dtype).reshape(shape)
    if kind == "dyadic":
        x = (rng.integers(-8, 9, size=shape) / 8).astype(dtype)
    elif name == "slope":
        x = rng.uniform(-1.5, 1.5, size=n).astype(dtype)
        x[::7] = 0
        x = x.reshape(shape)
    else:
        x = rng.uniform(-4, 4, size=n).astype(dtype)
        sp = specials(dtype, bf16)
        x[: min(n, len(sp))] = sp[:n]
        x = x.reshape(shape)
    if bf16:  # values bfloat16 holds, so the Cast into the model is exact on every release
        flat = x.reshape(-1)
        x = np.where(np.isnan(flat), flat, (flat.view(np.uint32) & 0xFFFF0000).view(np.float32)).reshape(shape)
    return x


def reference(entry, feeds):
    """The README's rounding rules (ONNX Runtime's built-ins since 1.17)."""
    with np.errstate(all="ignore"):  # inf * 0 and friends are part of the test
        return _reference(entry, feeds)


def _reference(entry, feeds):
    x = feeds["X"]
    dtype = entry["dtype"]
    factor = broadcast_slope(entry, feeds) if entry["op"] == "PRelu" else np.float32(leaky_alpha(entry))
    if dtype in ("float16", "bfloat16"):
        rounded = bfloat16 if dtype == "bfloat16" else (lambda v: v.astype(np.float16))
        wide = x.astype(np.float32)
        if entry["op"] == "PRelu":  # the exact product (+0 for -0) rounded once; x as is
            return np.where(x < 0, rounded(wide * factor.astype(np.float32) + np.float32(0)), x)
        return rounded(np.where(wide < 0, wide * factor, wide))  # in float, rounded once
    if dtype == "double":
        product = x * np.asarray(factor).astype(np.float64) + 0.0
    else:
        product = x * factor
    return np.where(x < 0, product, x).astype(x.dtype)


def broadcast_slope(entry, feeds):
    """PRelu's slope shaped to broadcast numpy-style: with `axis`, along that dimension."""
    x, slope = feeds["X"], feeds["slope"]
    if "axis" in entry["attributes"]:
        slope = slope.reshape([-1] + [1] * (x.ndim - 1 - entry["attributes"]["axis"]))
    return slope


def leaky_alpha(entry):
    attrs = entry["attributes"]
    if entry["op"] == "LeakyRelu":
        return np.float32(attrs["alpha"])
    return (np.float32(attrs["lower"]) + np.float32(attrs["upper"])) / np.float32(2)


def prelu_1_16_rule(entry, feeds):
    """float PRelu of ONNX Runtime 1.16-1.26: `(x > 0)·x + ((x <= 0)·slope)·x` in float,
    a select by multiplication: NaN for x = ±inf (0·inf), +0 for x = -0 with a negative
    slope; equal to the README's rule elsewhere."""
    x, slope = feeds["X"], broadcast_slope(entry, feeds)
    with np.errstate(all="ignore"):
        return ((x > 0).astype(x.dtype) * x + ((x <= 0).astype(x.dtype) * slope) * x).astype(x.dtype)


# Where a release's built-in op follows another rule than the README's (that of ONNX
# Runtime 1.27 on), found by running every twin on every release of the matrix:
# (whether it applies to (entry, release), what differs, the rule, NaN compared as NaN).
BUILTIN_RULES = [
    (
        lambda e, v: e["op"] == "PRelu" and e["dtype"] == "float" and v < (1, 27),
        "float PRelu is (x > 0)·x + ((x <= 0)·slope)·x: NaN at x = ±inf, +0 at x = -0 with slope < 0",
        prelu_1_16_rule,
    ),
    (
        lambda e, v: e["op"] == "LeakyRelu" and e["dtype"] == "float16" and v < (1, 23),
        "float16 LeakyRelu: other NaN payloads",
        reference,
    ),
]


def same_bits(got, want, nan_as_nan=False):
    """Indices where `got` and `want` differ bit for bit (NaN equal to NaN if asked)."""
    assert got.shape == want.shape, f"shape {got.shape} vs {want.shape}"
    bits = BITS[got.dtype.type]
    differ = got.view(bits) != want.view(bits)
    if nan_as_nan:
        differ &= ~(np.isnan(got) & np.isnan(want))
    return np.flatnonzero(differ)


def assert_same_bits(got, want, feeds, what, nan_as_nan=False):
    diff = same_bits(got, want, nan_as_nan)
    bits = BITS[got.dtype.type]
    i = diff[0] if diff.size else 0
    assert diff.size == 0, (
        f"{what}: {diff.size} elements differ, e.g. at {i}: x={feeds['X'].flat[i]!r}: "
        f"{hex(got.view(bits).flat[i])} vs {hex(want.view(bits).flat[i])}"
    )


def behind_casts(model_bytes):
    """A bfloat16 model with float inputs and outputs: Cast to bfloat16 after each input,
    Cast to float before each output (both exact for the values fed here)."""
    m = onnx.load_from_string(model_bytes)
    g = m.graph
    nodes = []
    for value in g.input:
        if value.type.tensor_type.elem_type == TensorProto.BFLOAT16:
            inner = value.name + ".bf16"
            for node in g.node:
                node.input[:] = [inner if i == value.name else i for i in node.input]
            nodes.append(helper.make_node("Cast", [value.name], [inner], to=TensorProto.BFLOAT16))
            value.type.tensor_type.elem_type = TensorProto.FLOAT
    nodes.extend(g.node)
    for value in g.output:
        if value.type.tensor_type.elem_type == TensorProto.BFLOAT16:
            inner = value.name + ".bf16"
            for node in nodes:
                node.output[:] = [inner if o == value.name else o for o in node.output]
            nodes.append(helper.make_node("Cast", [inner], [value.name], to=TensorProto.FLOAT))
            value.type.tensor_type.elem_type = TensorProto.FLOAT
    del g.node[:]
    g.node.extend(nodes)
    return m.SerializeToString()


def load(entry, name):
    data = (ROOT / "models" / name).read_bytes()
    return behind_casts(data) if entry["dtype"] == "bfloat16" else data


def feeds_for(entry):
    rng = np.random.default_rng(zlib.crc32(entry["name"].encode()))
    return {n: make_input(n, entry["dtype"], s, rng, entry.get("input_kind")) for n, s in entry["inputs"]}


def builtin_twin(entry, feeds):
    """The twin's Y, or None where this release's CPU provider has no kernel for it."""
    try:
        twin = ort.InferenceSession(load(entry, entry["twin"]), providers=["CPUExecutionProvider"])
    except Exception as e:  # noqa: BLE001 - ONNX Runtime raises its own pybind types
        if entry["dtype"] == "bfloat16" and "NOT_IMPLEMENTED" in str(e):
            return None
        raise
    return twin.run(None, feeds)[0]


def twin_cases():
    for entry in MANIFEST:
        if entry["twin"]:
            yield pytest.param(entry, id=entry["name"])


@pytest.mark.parametrize("entry", list(twin_cases()))
def test_rectify_equals_the_reference_and_the_builtin_twin(library, entry):
    feeds = feeds_for(entry)
    got = session(library, load(entry, entry["model"])).run(None, feeds)
    y = got[0]
    if entry["op"] not in NETWORKS:
        assert_same_bits(y, reference(entry, feeds), feeds, "rectify vs the reference", nan_as_nan=True)
    if entry["outputs"][1:] == ["Slope"]:  # inference: the fixed slope where x < 0, else 1
        a = leaky_alpha(entry)
        a = bfloat16(a) if entry["dtype"] == "bfloat16" else a
        want = np.where(feeds["X"] < 0, a, 1).astype(y.dtype)
        assert_same_bits(got[1], want, feeds, "Slope")
    assert len(got) == len([o for o in entry["outputs"] if o])
    twin = builtin_twin(entry, feeds)
    if twin is None:  # no release's CPU provider has bfloat16 LeakyRelu / PRelu so far
        return
    if same_bits(y, twin).size == 0:
        return
    rules = [r for r in BUILTIN_RULES if r[0](entry, ORT_VERSION)]
    assert rules, f"{entry['name']}: the built-in twin differs from rectify and no known rule of {ort.__version__} explains it"
    for _, what, rule in rules:
        note(what)
        assert_same_bits(twin, rule(entry, feeds), feeds, f"built-in vs its known rule ({what})", nan_as_nan=True)


def training_entries(with_slope):
    for entry in MANIFEST:
        if entry["attributes"].get("training") == 1 and (entry["outputs"][1:] == ["Slope"]) == with_slope:
            yield pytest.param(entry, id=entry["name"])


@pytest.mark.parametrize("entry", list(training_entries(with_slope=True)))
def test_rrelu_training_reproduces_per_seed_and_draws_anew(library, entry):
    x = make_input("X", entry["dtype"], entry["inputs"][0][1], np.random.default_rng(5), None)
    model = load(entry, entry["model"])
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
    # Y == X * Slope, rounded once to the type (exact in float64 for every type but
    # double, whose -0 products come out +0 as in LeakyRelu).
    product = x.astype(np.float64) * slope
    if entry["dtype"] == "double":
        want = product + 0.0
    elif entry["dtype"] == "bfloat16":
        want = bfloat16(product.astype(np.float32))  # bfloat16 products are exact in float32
    else:
        want = product.astype(x.dtype)
    assert_same_bits(run1[0], np.where(negative, want, x).astype(x.dtype), {"X": x}, "Y vs X * Slope", nan_as_nan=True)


@pytest.mark.parametrize("entry", list(training_entries(with_slope=False)))
def test_rrelu_training_without_slope_gives_the_same_y(library, entry):
    """Slope omitted, or omitted by an empty name: run by run, the Y of the node with Slope."""
    sibling = next(e for e in MANIFEST if e["name"] == entry["slope_from"])
    x = make_input("X", entry["dtype"], entry["inputs"][0][1], np.random.default_rng(6), None)
    without = session(library, load(entry, entry["model"]))
    with_slope = session(library, load(sibling, sibling["model"]))
    for _ in range(2):
        got = without.run(None, {"X": x})
        want = with_slope.run(None, {"X": x})
        assert len(got) == 1
        assert_same_bits(got[0], want[0], {"X": x}, "Y without Slope vs Y with it", nan_as_nan=True)
