"""rectify.onnx: with its schemas registered, onnx's checker refuses bad rectify nodes and its
shape inference runs through them; its ReferenceEvaluator ops give what ONNX Runtime with
librectify.so gives, bit for bit (NaN equal to NaN whatever its payload), on every op and
element type, special values included, and refuse what rectify refuses with rectify's words.

bfloat16 runs through numpy by ml_dtypes (an onnx dependency); ONNX Runtime's Python API
takes no bfloat16 arrays, so its side runs behind Casts from and to float (exact here)."""

import os
import re
import subprocess
import sys

import numpy as np
import onnx
import pytest
from conftest import ROOT, session
from onnx import TensorProto, helper, numpy_helper
from test_models import MANIFEST, NETWORKS, behind_casts, feeds_for

try:
    import rectify
except ImportError:  # the release matrix's venvs hold no rectify wheel: the checkout's package
    sys.path.insert(0, str(ROOT / "python"))
    import rectify

# The release matrix runs this suite with onnx 1.15 and 1.16 too (ONNX Runtime 1.16-1.18).
if not hasattr(onnx.defs.OpSchema, "set_type_and_shape_inference_function"):
    pytest.skip(f"onnx {onnx.__version__} takes no Python shape inference: rectify.onnx needs a newer one", allow_module_level=True)

import ml_dtypes  # noqa: E402 - onnx's dependency, from the onnx releases that pass the check
import rectify.onnx as ronnx  # noqa: E402

SPEC = rectify.spec()
DOMAIN, OPSET = SPEC["domain"], SPEC["opset"]
ONNX_IDS = {e["name"]: e["onnx_id"] for e in SPEC["element_types"]}
DTYPES = {name: np.dtype(helper.tensor_dtype_to_np_dtype(i)) for name, i in ONNX_IDS.items()}
X_SHAPE = (2, 3, 4, 5)
OPS = [op["name"] for op in SPEC["ops"]]

ronnx.register_schemas()


def spec_inputs(op):
    return [p["name"] for p in rectify.op_spec(op)["inputs"]]


def spec_outputs(op):
    return [p["name"] for p in rectify.op_spec(op)["outputs"]]


def node_model(op, element, shapes=None, outputs=None, elements=None, domain=DOMAIN, **attrs):
    """A one-node model: inputs as the spec names them (`shapes`: name -> shape, X's by
    default X_SHAPE; `elements`: name -> element type, `element` by default; a spec name or
    a TensorProto type), outputs typed and shaped as X (`outputs`: the node's output names,
    "" for an omitted one; Y by default)."""
    shapes = {"X": X_SHAPE, **(shapes or {})}
    types = {n: ONNX_IDS.get(e, e) for n, e in {n: (elements or {}).get(n, element) for n in spec_inputs(op)}.items()}
    outputs = spec_outputs(op)[:1] if outputs is None else outputs
    ins = [helper.make_tensor_value_info(n, t, shapes.get(n)) for n, t in types.items()]
    outs = [helper.make_tensor_value_info(n, types["X"], shapes["X"]) for n in outputs if n]
    node = helper.make_node(op, list(types), outputs, domain=domain, **attrs)
    opsets = [helper.make_opsetid("", 17)] + ([helper.make_opsetid(DOMAIN, OPSET)] if domain == DOMAIN else [])
    model = helper.make_model(helper.make_graph([node], op, ins, outs), opset_imports=opsets)
    model.ir_version = 8
    return model


def values(element, shape, rng, slope=False):
    """Random values led by every special class: ±0, ±inf, NaNs (quiet with a payload,
    signalling), subnormals, the smallest normal, the largest finite, and ones."""
    dtype = DTYPES[element]
    info = ml_dtypes.finfo(dtype)
    bits = np.dtype(f"u{dtype.itemsize}")
    inf = np.array(np.inf, dtype).view(bits)
    nans = np.array([inf | 1, inf | (inf >> 1 & ~inf) | 3], bits).view(dtype)  # signalling, quiet
    special = [0.0, np.inf, float(info.smallest_subnormal), 3 * float(info.smallest_subnormal), float(info.tiny), float(info.max), 1.0, 3.5]
    n = int(np.prod(shape))
    x = (rng.uniform(-1.5, 1.5, n) if slope else rng.uniform(-4, 4, n)).astype(dtype)
    head = np.concatenate([np.array(special + [-v for v in special], np.float64).astype(dtype), nans, -nans])
    x[: min(n, head.size)] = head[:n] if not slope else head[:n][::-1]
    return x.reshape(shape)


def run_onnx_runtime(library, model, element, feeds):
    """Runs `model` with librectify.so; bfloat16 behind Casts, outputs back as bfloat16."""
    data = model.SerializeToString()
    if element == "bfloat16":
        data = behind_casts(data)
        feeds = {k: v.astype(np.float32) for k, v in feeds.items()}
    got = session(library, data).run(None, feeds)
    return [g.astype(DTYPES[element]) for g in got]


def differing(got, want):
    """Indices where the bits differ, a NaN being equal to any NaN."""
    got = np.asarray(got)
    assert got.dtype == want.dtype and got.shape == want.shape, (got.dtype, got.shape, want.dtype, want.shape)
    bits = np.dtype(f"u{want.dtype.itemsize}")
    return np.flatnonzero((got.view(bits) != want.view(bits)) & ~(np.isnan(got) & np.isnan(want)))


def assert_same_bits(got, want, inputs, what):
    diff = differing(got, want)
    if diff.size:
        i = diff[0]
        bits = np.dtype(f"u{want.dtype.itemsize}")
        at = {k: v.flat[min(i, v.size - 1)] for k, v in inputs.items()}
        pytest.fail(
            f"{what}: {diff.size} elements differ, first at {i} ({at}): "
            f"{hex(np.asarray(got).view(bits).flat[i])} vs ONNX Runtime's {hex(want.view(bits).flat[i])}"
        )


# (op, attributes, input shapes beyond X, the node's outputs[, element types]): every op with
# its defaults, explicit defaults, other values; PRelu's broadcasting forms and axis; RRelu's
# Slope present, omitted and omitted by an empty name.
def explicit_defaults(op):
    return {a["name"]: a["default"] for a in rectify.op_spec(op)["attributes"] if a["default"] is not None}


CASES = [
    ("LeakyRelu", {}, {}, None),
    ("LeakyRelu", explicit_defaults("LeakyRelu"), {}, None),
    ("LeakyRelu", {"alpha": 0.1}, {}, None),
    ("LeakyRelu", {"alpha": -1.5}, {}, None),
    ("LeakyRelu", {"alpha": 3e38}, {}, None),  # products overflow
    ("PRelu", {}, {"slope": ()}, None),
    ("PRelu", {}, {"slope": (1,)}, None),
    ("PRelu", {}, {"slope": (5,)}, None),
    ("PRelu", {}, {"slope": (4, 1)}, None),
    ("PRelu", {}, {"slope": (3, 1, 1)}, None),
    ("PRelu", {}, {"slope": (1, 3, 1, 5)}, None),
    ("PRelu", {}, {"slope": X_SHAPE}, None),
    ("PRelu", {"axis": 1}, {"slope": (3,)}, None),
    ("PRelu", {"axis": -2}, {"slope": (4,)}, None),
    ("PRelu", {"axis": 0}, {"slope": (1,)}, None),
    ("PRelu", {"axis": -1}, {"slope": (5,)}, None),
    ("RRelu", {}, {}, ["Y"]),
    ("RRelu", {}, {}, ["Y", "Slope"]),
    ("RRelu", explicit_defaults("RRelu"), {}, ["Y", ""]),
    ("RRelu", {"lower": 0.25, "upper": 0.5, "seed": 3}, {}, ["Y", "Slope"]),
    ("RRelu", {"lower": -1.0, "upper": 2.0}, {}, ["Y", "Slope"]),
    ("RRelu", {"lower": 0.3, "upper": 0.3, "training": 0}, {}, ["Y", ""]),
    # lower + upper overflows float32: the mean slope is taken in float32 (inf), not wider.
    ("RRelu", {"lower": 3e38, "upper": 3.2e38}, {}, ["Y", "Slope"], ("float", "double", "bfloat16")),
]


def case_params():
    for i, (op, attrs, shapes, outputs, *elements) in enumerate(CASES):
        for element in elements[0] if elements else rectify.op_spec(op)["element_types"]:
            yield pytest.param(op, attrs, shapes, outputs, element, id=f"{op}-{i}-{element}")


def test_the_cases_cover_every_op_attribute_and_optional_output():
    assert {c[0] for c in CASES} == set(OPS)
    for op in SPEC["ops"]:
        cases = [c for c in CASES if c[0] == op["name"]]
        assert any(not c[1] for c in cases), f"{op['name']}: no case with the defaults"
        for attr in op["attributes"]:
            if attr["name"] == "training":
                continue  # training is refused by the reference (see the training test)
            assert any(c[1].get(attr["name"], attr["default"]) != attr["default"] for c in cases), attr
        for out in (o["name"] for o in op["outputs"] if o["optional"]):
            outs = [c[3] or spec_outputs(op["name"])[:1] for c in cases]
            assert any(out in o for o in outs) and any(out not in o for o in outs), out


@pytest.mark.parametrize("op, attrs, shapes, outputs, element", list(case_params()))
def test_the_reference_equals_onnx_runtime(library, op, attrs, shapes, outputs, element):
    model = node_model(op, element, shapes, outputs, **attrs)
    rng = np.random.default_rng(len(CASES) * OPS.index(op) + list(DTYPES).index(element))
    feeds = {n: values(element, {"X": X_SHAPE, **shapes}[n], rng, slope=n != "X") for n in spec_inputs(op)}
    want = run_onnx_runtime(library, model, element, feeds)
    got = ronnx.evaluate(model, feeds)
    assert len(got) == len(want) == len([o for o in (outputs or ["Y"]) if o])
    for name, g, w in zip([o for o in (outputs or ["Y"]) if o], got, want):
        assert_same_bits(g, w, feeds, f"{op} {element} {attrs} {name}")


def test_an_output_omitted_by_an_empty_name_leaves_later_omitted_inputs_omitted(library):
    """An omitted output must not be stored under "", the name of every omitted input: the
    Clip after RRelu has no `min`."""
    optional = [o["name"] for o in rectify.op_spec("RRelu")["outputs"] if o["optional"]]
    model = node_model("RRelu", "float", outputs=["Y"] + [""] * len(optional))
    graph = model.graph
    graph.node.append(helper.make_node("Clip", ["Y", "", "max"], ["Z"]))
    graph.initializer.append(numpy_helper.from_array(np.array(1.0, np.float32), "max"))
    graph.output[0].name = "Z"
    # Finite values: ONNX Runtime's Clip without `min` clamps -inf to the lowest float, onnx's does not.
    x = np.random.default_rng(1).uniform(-4, 4, X_SHAPE).astype(np.float32)
    (want,) = run_onnx_runtime(library, model, "float", {"X": x})
    (got,) = ronnx.evaluate(model, {"X": x})
    assert_same_bits(got, want, {"X": x}, "Z")


def manifest_params(networks):
    for entry in MANIFEST:
        if (entry["op"] in NETWORKS) == networks:
            yield pytest.param(entry, id=entry["name"])


def reference_feeds(entry, feeds):
    """test_models' feeds (bfloat16 ones held in float32) in the model's own element type."""
    with np.errstate(invalid="ignore"):  # NaNs of every payload
        return {k: v.astype(DTYPES[entry["dtype"]]) for k, v in feeds.items()}


@pytest.mark.parametrize("entry", list(manifest_params(networks=False)))
def test_the_repo_models_evaluate_as_onnx_runtime_runs_them(library, entry):
    model = onnx.load(ROOT / "models" / entry["model"])
    feeds = reference_feeds(entry, feeds_for(entry))
    if entry["attributes"].get("training"):
        with pytest.raises(NotImplementedError, match=r"RRelu with attribute 'training' = 1"):
            ronnx.evaluate(model, feeds)
        return
    want = run_onnx_runtime(library, model, entry["dtype"], feeds)
    got = ronnx.evaluate(model, feeds)
    assert len(got) == len(want) == len([o for o in entry["outputs"] if o])
    for g, w in zip(got, want):
        assert_same_bits(g, w, feeds, entry["name"])


@pytest.mark.parametrize("entry", list(manifest_params(networks=True)))
def test_every_rectify_node_of_the_networks_equals_onnx_runtime(library, entry):
    """Conv sums in another order in numpy: each rectify node is checked on the inputs ONNX
    Runtime gave it, and the whole network to a tolerance."""
    model = ronnx.infer_shapes(onnx.load(ROOT / "models" / entry["model"]), strict_mode=True)
    graph = model.graph
    known = {v.name: v for v in [*graph.input, *graph.value_info, *graph.output]}
    constants = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    nodes = [n for n in graph.node if n.domain == DOMAIN]
    assert nodes
    wanted = list(dict.fromkeys(v for n in nodes for v in [*n.input, *n.output] if v not in constants))
    probed = onnx.ModelProto()
    probed.CopyFrom(model)
    probed.graph.output.extend(known[v] for v in wanted if v not in {o.name for o in graph.output})
    feeds = feeds_for(entry)
    ran = session(library, probed.SerializeToString()).run(None, feeds)
    seen = {**constants, **dict(zip([o.name for o in probed.graph.output], ran))}
    for node in nodes:
        one = helper.make_graph([node], node.name or node.op_type, [known[v] for v in node.input if v not in constants],
                                [known[v] for v in node.output], initializer=[t for t in graph.initializer if t.name in node.input])
        single = helper.make_model(one, opset_imports=model.opset_import, ir_version=model.ir_version)
        got = ronnx.evaluate(single, {v: seen[v] for v in node.input if v not in constants})
        for name, g in zip(node.output, got):
            assert_same_bits(g, seen[name], {"X": seen[node.input[0]]}, f"{entry['name']} {node.op_type} -> {name}")
    if entry["op"] == "CNN":  # FaceNet's 30 Convs take minutes in onnx's numpy Conv
        (y,) = ronnx.evaluate(model, feeds)
        np.testing.assert_allclose(y, seen["Y"], rtol=1e-4, atol=1e-5)


# Nodes rectify refuses: the reference raises ValueError with rectify's own message, which
# ONNX Runtime's error holds too (at load for attributes, at run for shapes).
BAD_NODES = [
    ("RRelu", {"lower": 0.5, "upper": 0.25}, {}, "attribute 'lower' (0.5) must not exceed attribute 'upper' (0.25)"),
    ("RRelu", {"lower": float("nan")}, {}, "attribute 'lower' must be finite, got NaN"),
    ("RRelu", {"upper": float("inf")}, {}, "attribute 'upper' must be finite, got inf"),
    ("RRelu", {"seed": -1, "training": 1}, {}, "attribute 'seed' must be >= 0, got -1"),
    ("RRelu", {"training": 2}, {}, "attribute 'training' must be 0 or 1, got 2"),
    ("LeakyRelu", {"alpha": float("nan")}, {}, "attribute 'alpha' must be finite, got NaN"),
    ("PRelu", {}, {"X": (2, 3), "slope": (4,)}, "input 'slope' of shape [4] is not unidirectionally broadcastable to input 'X' of shape [2, 3]"),
    ("PRelu", {}, {"X": (3,), "slope": (1, 3)}, "input 'slope' of shape [1, 3] is not unidirectionally broadcastable to input 'X' of shape [3]"),
    ("PRelu", {}, {"X": (2, 1), "slope": (3,)}, "input 'slope' of shape [3] is not unidirectionally broadcastable to input 'X' of shape [2, 1]"),
    ("PRelu", {"axis": 2}, {"X": (2, 3), "slope": (3,)}, "attribute 'axis' = 2 is out of range for input 'X' of rank 2 (expected -2 to 1)"),
    ("PRelu", {"axis": -3}, {"X": (2, 3), "slope": (3,)}, "attribute 'axis' = -3 is out of range for input 'X' of rank 2 (expected -2 to 1)"),
    ("PRelu", {"axis": 1}, {"X": (2, 3), "slope": (3, 1)}, "with attribute 'axis' = 1, input 'slope' must be 1-D of length 3 or 1 (X has shape [2, 3]), got shape [3, 1]"),
    ("PRelu", {"axis": 0}, {"X": (2, 3), "slope": (3,)}, "with attribute 'axis' = 0, input 'slope' must be 1-D of length 2 or 1 (X has shape [2, 3]), got shape [3]"),
]


@pytest.mark.parametrize("op, attrs, shapes, message", BAD_NODES, ids=[m[:40] for *_, m in BAD_NODES])
def test_bad_nodes_are_refused_in_rectify_words(library, op, attrs, shapes, message):
    model = node_model(op, "float", shapes, **attrs)
    feeds = {n: np.ones({"X": X_SHAPE, **shapes}[n], np.float32) for n in spec_inputs(op)}
    with pytest.raises(ValueError) as refused:
        ronnx.evaluate(model, feeds)
    assert str(refused.value) == f"rectify: {op}: {message}"
    with pytest.raises(Exception) as e:
        session(library, model.SerializeToString()).run(None, feeds)
    assert str(refused.value) in str(e.value)
    # With static shapes, strict shape inference and the full check refuse the node too.
    with pytest.raises(onnx.shape_inference.InferenceError, match=re.escape(str(refused.value))):
        ronnx.infer_shapes(model, strict_mode=True)
    with pytest.raises(onnx.shape_inference.InferenceError, match=re.escape(str(refused.value))):
        onnx.checker.check_model(model, full_check=True)


@pytest.mark.parametrize(
    "element, bounds, message",
    [
        ("float16", (1e5, 1e6), "attribute 'lower' = 100000 does not fit tensor(float16) (largest finite 65504)"),
        ("bfloat16", (0.0, 3.4e38), "attribute 'upper' = 340000000000000000000000000000000000000 does not fit tensor(bfloat16)"),
    ],
)
def test_rrelu_bounds_must_fit_the_element_type(library, element, bounds, message):
    model = node_model("RRelu", element, lower=bounds[0], upper=bounds[1])
    x = np.ones(X_SHAPE, DTYPES[element])
    with pytest.raises(ValueError, match=re.escape(f"rectify: RRelu: {message}")) as refused:
        ronnx.evaluate(model, {"X": x})
    with pytest.raises(Exception) as e:
        run_onnx_runtime(library, model, element, {"X": x})
    assert str(refused.value) in str(e.value)
    with pytest.raises(onnx.shape_inference.InferenceError, match=re.escape(str(refused.value))):
        onnx.checker.check_model(model, full_check=True)
    onnx.checker.check_model(node_model("RRelu", "float", lower=bounds[0], upper=bounds[1]), full_check=True)


def wrong_attribute_types():
    wrong = {"float": [1, "one"], "int": [1.5, "one"]}
    for op in SPEC["ops"]:
        for attr in op["attributes"]:
            for value in wrong[attr["type"]]:
                yield pytest.param(op["name"], attr, value, id=f"{op['name']}-{attr['name']}-{type(value).__name__}")


@pytest.mark.parametrize("op, attr, value", list(wrong_attribute_types()))
def test_attributes_of_the_wrong_type_are_refused(library, op, attr, value):
    model = node_model(op, "float", {"slope": (1,)}, **{attr["name"]: value})
    with pytest.raises(onnx.checker.ValidationError, match=f"Mismatched attribute type in ' : {attr['name']}'"):
        onnx.checker.check_model(model)
    kind = {"float": "a float", "int": "an int"}[attr["type"]]
    expected = f"rectify: {op}: attribute '{attr['name']}' must be {kind}"
    feeds = {n: np.ones(X_SHAPE if n == "X" else (1,), np.float32) for n in spec_inputs(op)}
    with pytest.raises(ValueError, match=re.escape(expected)):
        ronnx.evaluate(model, feeds)
    with pytest.raises(Exception, match=re.escape(expected)):
        session(library, model.SerializeToString())


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("elem", [TensorProto.INT32, TensorProto.UINT8, TensorProto.FLOAT8E4M3FN])
def test_element_types_outside_the_spec_are_refused(op, elem):
    assert helper.tensor_dtype_to_np_dtype(elem) not in DTYPES.values()
    model = node_model(op, None, {"slope": (1,)}, elements={n: elem for n in spec_inputs(op)})
    onnx.checker.check_model(model)  # types are checked by the full check only
    with pytest.raises(onnx.shape_inference.InferenceError, match=r"X typestr: T, has unsupported type"):
        onnx.checker.check_model(model, full_check=True)
    feeds = {n: np.ones(X_SHAPE if n == "X" else (1,), helper.tensor_dtype_to_np_dtype(elem)) for n in spec_inputs(op)}
    with pytest.raises(ValueError, match=rf"rectify: {op}: input 'X' has element type .*; expected one of tensor\(float\)"):
        ronnx.evaluate(model, feeds)


def test_prelu_inputs_of_two_element_types_are_refused():
    model = node_model("PRelu", "float", {"slope": (1,)}, elements={"slope": "double"})
    with pytest.raises(onnx.shape_inference.InferenceError, match="slope has inconsistent type tensor"):
        onnx.checker.check_model(model, full_check=True)
    feeds = {"X": np.ones(X_SHAPE, np.float32), "slope": np.ones(1, np.float64)}
    with pytest.raises(ValueError, match=r"rectify: PRelu: input 'slope' has element type float64, expected X's \(float32\)"):
        ronnx.evaluate(model, feeds)


@pytest.mark.parametrize("path", sorted((ROOT / "models").rglob("*.onnx")), ids=lambda p: str(p.relative_to(ROOT / "models")))
def test_the_checker_accepts_the_repo_models_and_inference_types_them_as_declared(path):
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    inferred = ronnx.infer_shapes(model, strict_mode=True)
    types = {v.name: v.type for v in [*inferred.graph.input, *inferred.graph.value_info, *inferred.graph.output]}
    for node in (n for n in inferred.graph.node if n.domain == DOMAIN):
        assert all(types.get(v) == types[node.input[0]] for v in node.output if v), (path.name, node.op_type)
    assert [o.type for o in inferred.graph.output] == [o.type for o in model.graph.output]


def dims(value):
    shape = value.type.tensor_type.shape
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in shape.dim]


def builtin_twin(op, element, shapes):
    """The spec's built-in op (standard domain) on the same inputs, for what onnx infers."""
    builtin = rectify.op_spec(op)["builtin"]
    m = node_model(op, element, shapes, domain="")
    m.graph.node[0].op_type = builtin
    del m.graph.node[0].input[len(onnx.defs.get_schema(builtin, 17).inputs):]
    del m.graph.input[len(m.graph.node[0].input):]
    return m


@pytest.mark.parametrize("element", list(DTYPES))
@pytest.mark.parametrize("op", OPS)
def test_outputs_take_x_type_and_shape_symbolic_dims_kept_unknown_dims_unknown(op, element):
    shapes = {"X": ("N", 3, None, 5), "slope": (5,)}
    model = node_model(op, element, shapes, outputs=spec_outputs(op))
    del model.graph.output[:]  # nothing declared: all inferred
    inferred = ronnx.infer_shapes(model, strict_mode=True)
    values = {v.name: v for v in inferred.graph.value_info}
    assert set(values) == set(spec_outputs(op))
    for name, value in values.items():
        assert value.type.tensor_type.elem_type == ONNX_IDS[element], name
        got = dims(value)
        assert got[:2] == ["N", 3] and got[3] == 5, (name, got)
        assert got[2] != "N" and not value.type.tensor_type.shape.dim[2].HasField("dim_value"), (name, got)
    twin = builtin_twin(op, element, shapes)
    del twin.graph.output[:]
    (twin_y,) = onnx.shape_inference.infer_shapes(twin, strict_mode=True).graph.value_info
    assert values["Y"].type == twin_y.type  # what onnx infers for the standard op


@pytest.mark.parametrize("op", OPS)
def test_an_x_of_unknown_rank_gives_outputs_of_its_type_and_unknown_rank(op):
    model = node_model(op, "float16", {"X": None, "slope": (1,)}, outputs=spec_outputs(op))
    del model.graph.output[:]
    inferred = ronnx.infer_shapes(model, strict_mode=True)
    assert len(inferred.graph.value_info) == len(spec_outputs(op))
    for value in inferred.graph.value_info:
        assert value.type.tensor_type.elem_type == TensorProto.FLOAT16
        assert not value.type.tensor_type.HasField("shape")


def conv_after(op):
    """X [N, 3, 8, 8] -> the rectify op -> Conv with 4 3x3 filters -> Z (shape undeclared)."""
    model = node_model(op, "float", {"X": ("N", 3, 8, 8), "slope": (3, 1, 1)})
    graph = model.graph
    y = graph.output[0].name
    del graph.output[:]
    if "slope" in spec_inputs(op):  # a constant slope, as in the networks
        del graph.input[1:]
        graph.initializer.append(numpy_helper.from_array(np.full((3, 1, 1), 0.25, np.float32), "slope"))
    graph.initializer.append(numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "W"))
    graph.node.append(helper.make_node("Conv", [y, "W"], ["Z"]))
    graph.output.append(helper.make_tensor_value_info("Z", TensorProto.FLOAT, None))
    return model


@pytest.mark.parametrize("op", OPS)
def test_a_conv_after_a_rectify_node_gets_its_shape(op):
    inferred = ronnx.infer_shapes(conv_after(op), strict_mode=True)
    (z,) = inferred.graph.output
    assert z.type.tensor_type.elem_type == TensorProto.FLOAT
    assert dims(z) == ["N", 4, 6, 6]


def test_without_the_schemas_onnx_infers_nothing_past_a_rectify_node(tmp_path):
    """In a fresh process: plain onnx leaves Z untyped; register_schemas() is what types it."""
    path = tmp_path / "model.onnx"
    onnx.save(conv_after(OPS[0]), path)
    script = (
        "import sys, onnx\n"
        "m = onnx.load(sys.argv[1])\n"
        "dims = lambda m: [d.dim_value or d.dim_param for d in m.graph.output[0].type.tensor_type.shape.dim]\n"
        "print(dims(onnx.shape_inference.infer_shapes(m)))\n"
        "import rectify.onnx\n"
        "print(dims(onnx.shape_inference.infer_shapes(m)))\n"
        "rectify.onnx.register_schemas()\n"
        "print(dims(onnx.shape_inference.infer_shapes(m, strict_mode=True)))\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "python"), os.environ.get("PYTHONPATH", "")]))
    out = subprocess.run([sys.executable, "-c", script, path], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.splitlines() == ["[]", "[]", "['N', 4, 6, 6]"], out


def test_register_schemas_is_idempotent_and_builds_every_schema_from_the_spec():
    first, second = ronnx.register_schemas(), ronnx.register_schemas()
    assert [s.name for s in first] == [s.name for s in second] == OPS
    for schema, op in zip(first, SPEC["ops"]):
        assert (schema.domain, schema.since_version) == (DOMAIN, OPSET)
        assert schema.has_type_and_shape_inference_function
        for params, declared in ((schema.inputs, op["inputs"]), (schema.outputs, op["outputs"])):
            assert [p.name for p in params] == [p["name"] for p in declared]
            optional = onnx.defs.OpSchema.FormalParameterOption.Optional
            assert [p.option == optional for p in params] == [p["optional"] for p in declared]
        (constraint,) = schema.type_constraints
        assert sorted(constraint.allowed_type_strs) == sorted(f"tensor({t})" for t in op["element_types"])
        assert set(schema.attributes) == {a["name"] for a in op["attributes"]}
        for attr in op["attributes"]:
            got = schema.attributes[attr["name"]]
            assert not got.required
            if attr["default"] is None:
                assert got.default_value.type == onnx.AttributeProto.UNDEFINED
            else:
                assert helper.get_attribute_value(got.default_value) == pytest.approx(attr["default"], rel=1e-7)
                assert got.default_value.type == {"float": onnx.AttributeProto.FLOAT, "int": onnx.AttributeProto.INT}[attr["type"]]


def test_the_schemas_are_deregistered_at_exit():
    """While Python still runs (onnx/onnx#7508), and only those rectify.onnx registered."""
    script = (
        "import atexit, onnx, rectify.onnx\n"
        "names = [s.name for s in rectify.onnx.register_schemas()]\n"
        "rectify.onnx.register_schemas()\n"
        "atexit._run_exitfuncs()\n"
        f"print(names, [onnx.defs.has(n, {OPSET}, {DOMAIN!r}) for n in names], onnx.defs.has('Relu'))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"))
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == f"{OPS} {[False] * len(OPS)} True", out


def test_every_reference_op_is_an_oprun_of_the_domain():
    classes = ronnx.reference_ops()
    assert [c.__name__ for c in classes] == OPS
    assert all(issubclass(c, onnx.reference.op_run.OpRun) and c.op_domain == DOMAIN for c in classes)


def test_an_onnx_without_python_shape_inference_is_named_at_import():
    script = (
        "import onnx.defs\n"
        "delattr(onnx.defs.OpSchema, 'set_type_and_shape_inference_function')  # as in onnx 1.16 and older\n"
        "import rectify.onnx\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"))
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert out.returncode != 0
    assert "ImportError: rectify.onnx needs an onnx whose OpSchema takes a Python shape inference function" in out.stderr, out.stderr
    assert f"this is onnx {onnx.__version__}" in out.stderr, out.stderr


def test_importing_rectify_imports_no_onnx():
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"))
    check = "import sys, rectify; print(sorted(m for m in ('onnx', 'onnxruntime', 'rectify.onnx') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "[]", out


def test_readme_rectify_onnx_snippet_runs(library, monkeypatch):
    readme = (ROOT / "README.md").read_text()
    (snippet,) = [b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "rectify.onnx" in b]
    monkeypatch.chdir(ROOT)
    exec(compile(snippet.replace('"target/release/librectify.so"', repr(library)), "README.md", "exec"), {})
