"""`rectify convert --to rectify` fuses the decomposed activations exporters write, and the
fused model gives the decomposed one's bits in ONNX Runtime, except for the sign of a zero
result where the decomposed form's own rule differs (docs/conversion.md; asserted here: only
zero signs, and only at a zero input or a product that rounds to zero)."""

import numpy as np
import pytest
from conftest import TensorProto, graph_model, helper, numpy_helper, onnx, run, specials

FLOAT = {np.float32: TensorProto.FLOAT, np.float16: TensorProto.FLOAT16, np.float64: TensorProto.DOUBLE}
BITS = {np.float32: np.uint32, np.float16: np.uint16, np.float64: np.uint64}
SHAPE = (2, 3, 4, 4)


def const(nodes, inits, name, value, style, like="X"):
    """`value` as an initializer, or as a float32 Constant cast to X's type by CastLike."""
    if style == "initializer":
        inits.append(numpy_helper.from_array(value, name))
        return name
    nodes.append(helper.make_node("Constant", [], [name + "_f32"], value=numpy_helper.from_array(value.astype(np.float32))))
    nodes.append(helper.make_node("CastLike", [name + "_f32", like], [name]))
    return name


def decomposed(form, dtype, slope, style):
    """The model of one decomposed form with slope `slope` (an array of X's type)."""
    nodes, inits = [], []
    zero = lambda: const(nodes, inits, "zero", np.array(0, dtype), style)  # noqa: E731
    s = const(nodes, inits, "s", slope, style)
    if form == "where_less":
        nodes += [helper.make_node("Less", ["X", zero()], ["c"]), helper.make_node("Mul", ["X", s], ["m"]),
                  helper.make_node("Where", ["c", "m", "X"], ["Y"])]
    elif form == "where_greater":
        nodes += [helper.make_node("Greater", ["X", zero()], ["c"]), helper.make_node("Mul", [s, "X"], ["m"]),
                  helper.make_node("Where", ["c", "X", "m"], ["Y"])]
    elif form == "max":
        nodes += [helper.make_node("Mul", ["X", s], ["m"]), helper.make_node("Max", ["m", "X"], ["Y"])]
    elif form == "keras3":  # tf2onnx folds Neg(alpha) into a constant
        neg = const(nodes, inits, "negalpha", (-slope).astype(dtype), style)
        nodes += [helper.make_node("Relu", ["X"], ["p"]), helper.make_node("Neg", ["X"], ["nx"]),
                  helper.make_node("Relu", ["nx"], ["rn"]), helper.make_node("Mul", [neg, "rn"], ["m"]),
                  helper.make_node("Add", ["p", "m"], ["Y"])]
        nodes = [n for n in nodes if "s" not in n.output]
        inits = [t for t in inits if t.name != "s"]
    elif form == "keras3_neg":
        nodes += [helper.make_node("Neg", [s], ["ns"]), helper.make_node("Relu", ["X"], ["p"]),
                  helper.make_node("Neg", ["X"], ["nx"]), helper.make_node("Relu", ["nx"], ["rn"]),
                  helper.make_node("Mul", ["ns", "rn"], ["m"]), helper.make_node("Add", ["m", "p"], ["Y"])]
    elif form == "keras2":
        nodes += [helper.make_node("Relu", ["X"], ["p"]), helper.make_node("Neg", ["X"], ["nx"]),
                  helper.make_node("Relu", ["nx"], ["rn"]), helper.make_node("Mul", [s, "rn"], ["m"]),
                  helper.make_node("Sub", ["p", "m"], ["Y"])]
    x = helper.make_tensor_value_info("X", FLOAT[dtype], ["N", 3, 4, 4])
    y = helper.make_tensor_value_info("Y", FLOAT[dtype], None)
    return graph_model(nodes, [x], [y], inits)


FORMS = ["where_less", "where_greater", "max", "keras3", "keras3_neg", "keras2"]
SLOPES = {
    "scalar": lambda dtype: np.array(0.2, dtype),
    "channel": lambda dtype: np.array([0.1, 0.25, 0.7], dtype).reshape(3, 1, 1),
    "negative": lambda dtype: np.array([-0.1, 0.25, -1.5], dtype).reshape(3, 1, 1),
}


def zero_signs_only(want, got):
    """The elements where the two differ only in the sign of a zero result: the one way the
    decomposed forms' own rules part from rectify's `x < 0 ? s * x : x` (docs/conversion.md:
    ONNX Runtime's Where returns +0 for a -0 from its second input, Where(Greater) takes the
    product at x = ±0, Relu(-0) + -0 is +0, and in double rectify, like ONNX Runtime's own
    LeakyRelu, turns an underflowed -0 product into +0)."""
    return (want == 0) & (got == 0) & (np.signbit(want) != np.signbit(got))


@pytest.mark.parametrize("style", ["initializer", "castlike"])
@pytest.mark.parametrize("slope", list(SLOPES))
@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.float64], ids=["float", "float16", "double"])
@pytest.mark.parametrize("form", FORMS)
def test_each_decomposed_form_fuses_and_keeps_the_bits(cli, tmp_path, form, dtype, slope, style):
    if form == "max" and slope == "negative":
        pytest.skip("Max(X, Mul(X, s)) is LeakyRelu only for 0 <= s <= 1 (test_what_is_not_fused)")
    m = decomposed(form, dtype, SLOPES[slope](dtype), style)
    onnx.save(m, tmp_path / "m.onnx")
    _, out = cli("convert", "--to", "rectify", tmp_path / "m.onnx", tmp_path / "f.onnx")
    assert ": fused " in out, out
    fused = onnx.load(tmp_path / "f.onnx")
    ops = [(n.domain, n.op_type) for n in fused.graph.node]
    # A one-value slope that a float32 alpha holds exactly (not double's own 0.2; a float32 constant cast to double is) is LeakyRelu.
    leaky = slope == "scalar" and (dtype != np.float64 or style == "castlike")
    assert ops == [("rectify", "LeakyRelu" if leaky else "PRelu")], (ops, out)
    used = {i for n in fused.graph.node for i in n.input}
    assert all(t.name in used for t in fused.graph.initializer), "an initializer left without users"
    x = specials(dtype, SHAPE)
    want = run(m, {"X": x})[0]
    got = run(fused, {"X": x}, plugin=True)[0]
    bits = BITS[dtype]
    nan_both = np.isnan(want) & np.isnan(got)
    diff = (want.view(bits) != got.view(bits)) & ~nan_both
    other = diff & ~zero_signs_only(want, got)
    assert not other.any(), (x[other], want[other], got[other])
    # Every zero-sign difference comes from a zero input or a product that rounds to zero.
    zeros = diff & ~other
    s = np.broadcast_to(SLOPES[slope](dtype), x.shape)
    assert ((x[zeros] == 0) | (x[zeros] * s[zeros] == 0)).all()
    # NaN stays NaN through every form and through rectify.
    assert np.isnan(got[np.isnan(x)]).all() and np.isnan(want[np.isnan(x)]).all()


def where_less(slope, dtype=np.float32, x_shape=("N", 3, 4, 4), extra_output=False, elem=None):
    inits = [numpy_helper.from_array(np.array(0, dtype), "zero"), numpy_helper.from_array(slope, "s")]
    nodes = [helper.make_node("Less", ["X", "zero"], ["c"]), helper.make_node("Mul", ["X", "s"], ["m"]),
             helper.make_node("Where", ["c", "m", "X"], ["Y"])]
    t = elem or FLOAT[dtype]
    outputs = [helper.make_tensor_value_info("Y", t, None)]
    if extra_output:
        outputs.append(helper.make_tensor_value_info("m", t, None))
    shape = None if x_shape is None else list(x_shape)
    return graph_model(nodes, [helper.make_tensor_value_info("X", t, shape)], outputs, inits)


@pytest.mark.parametrize(
    "case,model",
    [
        ("an intermediate is also a graph output", lambda: where_less(np.array(0.2, np.float32), extra_output=True)),
        ("the slope would grow X (rank 5 onto rank 4)", lambda: where_less(np.full((1, 1, 3, 1, 1), 0.2, np.float32))),
        ("the slope's 5 meets X's 3 channels", lambda: where_less(np.full((5, 1, 1), 0.2, np.float32))),
        ("X's rank is unknown and the slope has a rank", lambda: where_less(np.full((3, 1, 1), 0.2, np.float32), x_shape=None)),
    ],
)
def test_what_is_not_fused(cli, tmp_path, case, model):
    m = model()
    onnx.save(m, tmp_path / "m.onnx")
    _, out = cli("convert", "--to", "rectify", tmp_path / "m.onnx", tmp_path / "f.onnx")
    assert "rewrote" not in out, (case, out)
    assert [n.op_type for n in onnx.load(tmp_path / "f.onnx").graph.node] == ["Less", "Mul", "Where"]


def test_max_is_fused_only_for_slopes_in_0_to_1(cli, tmp_path):
    for s, fused in [(0.5, True), (1.0, True), (0.0, True), (1.5, False), (-0.5, False)]:
        m = decomposed("max", np.float32, np.array(s, np.float32), "initializer")
        onnx.save(m, tmp_path / "m.onnx")
        _, out = cli("convert", "--to", "rectify", tmp_path / "m.onnx", tmp_path / "f.onnx")
        assert ("rewrote" in out) == fused, (s, out)


def branch_free(alpha):
    c1, c2 = np.float32(0.5 * (1 + alpha)), np.float32(0.5 * (1 - alpha))
    inits = [numpy_helper.from_array(np.array(c1), "c1"), numpy_helper.from_array(np.array(c2), "c2")]
    nodes = [helper.make_node("Mul", ["X", "c1"], ["a"]), helper.make_node("Abs", ["X"], ["ax"]),
             helper.make_node("Mul", ["ax", "c2"], ["b"]), helper.make_node("Add", ["a", "b"], ["Y"])]
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, [4096])
    return graph_model(nodes, [x], [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)], inits)


def test_the_branch_free_formula_becomes_the_exact_leaky_relu_only_when_asked(cli, tmp_path):
    alpha = 0.1
    onnx.save(branch_free(alpha), tmp_path / "m.onnx")
    _, out = cli("convert", "--to", "rectify", tmp_path / "m.onnx", tmp_path / "f.onnx")
    assert "rewrote" not in out
    _, out = cli("convert", "--to", "rectify", "--fuse-inexact", tmp_path / "m.onnx", tmp_path / "f.onnx")
    assert "the exact LeakyRelu the formula approximates" in out, out
    fused = onnx.load(tmp_path / "f.onnx")
    assert [(n.domain, n.op_type) for n in fused.graph.node] == [("rectify", "LeakyRelu")]
    x = specials(np.float32, (4096,))
    got = run(fused, {"X": x}, plugin=True)[0]
    formula = run(branch_free(alpha), {"X": x})[0]
    a = fused.graph.node[0].attribute[0].f
    exact = run(graph_model([helper.make_node("LeakyRelu", ["X"], ["Y"], alpha=a)],
                            [helper.make_tensor_value_info("X", TensorProto.FLOAT, [4096])],
                            [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)]), {"X": x})[0]
    assert abs(a - alpha) < 1e-7
    same = lambda p, q: (p.view(np.uint32) == q.view(np.uint32)) | (np.isnan(p) & np.isnan(q))  # noqa: E731
    assert same(got, exact).all()
    # The formula itself is not exact: NaN at -inf, ULPs off elsewhere.
    assert not same(formula, exact).all() and np.isnan(formula[x == -np.inf]).all()


def test_a_fused_model_lowers_to_one_onnx_runtime_runs_alone(cli, tmp_path):
    m = decomposed("keras3", np.float32, SLOPES["channel"](np.float32), "initializer")
    onnx.save(m, tmp_path / "m.onnx")
    cli("convert", "--to", "rectify", tmp_path / "m.onnx", tmp_path / "f.onnx")
    cli("convert", "--to", "builtin", tmp_path / "f.onnx", tmp_path / "b.onnx")
    lowered = onnx.load(tmp_path / "b.onnx")
    assert [(n.domain, n.op_type) for n in lowered.graph.node] == [("", "PRelu")]
    x = specials(np.float32, SHAPE)
    want, got = run(m, {"X": x})[0], run(lowered, {"X": x})[0]
    diff = (want.view(np.uint32) != got.view(np.uint32)) & ~(np.isnan(want) & np.isnan(got))
    assert not (diff & ~zero_signs_only(want, got)).any()


def function_body(op, dtype, **attrs):
    """ONNX's own function body of `op` (LeakyRelu-16, PRelu-16) expanded into the graph as
    tools expand functions: the body's nodes, attribute references replaced by the values."""
    body = onnx.defs.get_schema(op, 17).function_body
    inputs = {"X": "X", "slope": "s"}
    nodes = []
    for n in body.node:
        node = onnx.NodeProto()
        node.CopyFrom(n)
        node.input[:] = [inputs.get(i, f"f_{i}") for i in n.input]
        node.output[:] = ["Y" if o == "Y" else f"f_{o}" for o in n.output]
        for a in node.attribute:
            if a.ref_attr_name:
                a.CopyFrom(helper.make_attribute(a.name, attrs[a.ref_attr_name]))
        nodes.append(node)
    inits = [numpy_helper.from_array(np.array([0.1, -0.25, 0.7], dtype).reshape(3, 1, 1), "s")] if op == "PRelu" else []
    x = helper.make_tensor_value_info("X", FLOAT[dtype], ["N", 3, 4, 4])
    y = helper.make_tensor_value_info("Y", FLOAT[dtype], None)
    return graph_model(nodes, [x], [y], inits)


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.float64], ids=["float", "float16", "double"])
@pytest.mark.parametrize("op,attrs", [("LeakyRelu", {"alpha": 0.3}), ("PRelu", {})])
def test_onnx_function_bodies_fuse_back_into_the_op(cli, tmp_path, op, attrs, dtype):
    m = function_body(op, dtype, **attrs)
    assert "Where" in [n.op_type for n in m.graph.node]
    onnx.save(m, tmp_path / "m.onnx")
    _, out = cli("convert", "--to", "rectify", tmp_path / "m.onnx", tmp_path / "f.onnx")
    fused = onnx.load(tmp_path / "f.onnx")
    assert [(n.domain, n.op_type) for n in fused.graph.node] == [("rectify", op)], out
    if op == "LeakyRelu":
        # alpha as the op had it, before the body's CastLike to X's type.
        assert fused.graph.node[0].attribute[0].f == np.float32(0.3)
    x = specials(dtype, SHAPE)
    want, got = run(m, {"X": x})[0], run(fused, {"X": x}, plugin=True)[0]
    diff = (want.view(BITS[dtype]) != got.view(BITS[dtype])) & ~(np.isnan(want) & np.isnan(got))
    assert not (diff & ~zero_signs_only(want, got)).any()
