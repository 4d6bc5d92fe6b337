#!/usr/bin/env python3
"""Writes every model in models/ and models/manifest.json. Deterministic: CI regenerates
the files and checks they equal the committed ones.

For each op x dtype there is a one-node `rectify` model and, where one exists, its built-in
twin (standard-domain LeakyRelu / PRelu). Plus a small CNN in both forms.

    python models/generate.py [--out DIR]
"""

import argparse
import json
import pathlib

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17  # default domain: LeakyRelu-16 and PRelu-16 (they accept bfloat16)
IR_VERSION = 8  # loadable by ONNX Runtime 1.16 and later
# The registry (`rectify info --json`): the domain, opset and defaults come from it.
SPEC = json.loads((pathlib.Path(__file__).resolve().parents[1] / "python/rectify/spec.json").read_text())
DOMAIN = SPEC["domain"]

DTYPES = {
    "float": TensorProto.FLOAT,
    "double": TensorProto.DOUBLE,
    "float16": TensorProto.FLOAT16,
    "bfloat16": TensorProto.BFLOAT16,
}

X_SHAPE = [2, 3, 8, 10]  # N, C, H, W
LARGE_SHAPE = [4, 64, 32, 32]  # big enough to be split over the intra-op pool
ALPHA = 0.1
# RRelu models use the registry's defaults (written out as attributes too).
_RRELU = {a["name"]: a["default"] for op in SPEC["ops"] if op["name"] == "RRelu" for a in op["attributes"]}
LOWER, UPPER = _RRELU["lower"], _RRELU["upper"]
SEED = 7


def f32(v):
    return float(np.float32(v))


def make_model(name, nodes, inputs, outputs, initializers=()):
    graph = helper.make_graph(nodes, name, inputs, outputs, initializer=list(initializers))
    opsets = [helper.make_opsetid("", OPSET)]
    if any(n.domain == DOMAIN for n in nodes):
        opsets.append(helper.make_opsetid(DOMAIN, 1))
    model = helper.make_model(graph, opset_imports=opsets, producer_name="rectify models/generate.py")
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model


def value(name, dtype, shape):
    return helper.make_tensor_value_info(name, DTYPES[dtype], shape)


def one_node(name, dtype, op, domain, inputs, outputs, **attrs):
    """A model with a single node whose inputs are all graph inputs."""
    node = helper.make_node(op, [n for n, _ in inputs], [n for n, _ in outputs], domain=domain, **attrs)
    return make_model(
        name,
        [node],
        [value(n, dtype, s) for n, s in inputs],
        [value(n, dtype, s) for n, s in outputs],
    )


def leaky_relu_models(dtype):
    attrs = {"alpha": ALPHA}
    rect = one_node(f"leaky_relu_{dtype}", dtype, "LeakyRelu", DOMAIN, [("X", X_SHAPE)], [("Y", X_SHAPE)], **attrs)
    twin = one_node(f"leaky_relu_{dtype}.builtin", dtype, "LeakyRelu", "", [("X", X_SHAPE)], [("Y", X_SHAPE)], **attrs)
    yield rect, twin, {"op": "LeakyRelu", "dtype": dtype, "attributes": {"alpha": f32(ALPHA)}, "inputs": [["X", X_SHAPE]]}
    if dtype in ("float16", "bfloat16"):
        # Every 16-bit pattern once: the harness feeds all 65,536 values.
        shape = [65536]
        name = f"leaky_relu_all_{dtype}"
        rect = one_node(name, dtype, "LeakyRelu", DOMAIN, [("X", shape)], [("Y", shape)], **attrs)
        twin = one_node(f"{name}.builtin", dtype, "LeakyRelu", "", [("X", shape)], [("Y", shape)], **attrs)
        meta = {"op": "LeakyRelu", "dtype": dtype, "attributes": {"alpha": f32(ALPHA)}, "inputs": [["X", shape]]}
        yield rect, twin, dict(meta, input_kind="all_bits")


# PRelu cases: (tag, X shape, slope shape, axis)
PRELU_CASES = [
    ("scalar", X_SHAPE, [], None),
    ("one", X_SHAPE, [1], None),
    ("channel", X_SHAPE, [X_SHAPE[1], 1, 1], None),
    ("width", X_SHAPE, [X_SHAPE[3]], None),
    ("full", X_SHAPE, X_SHAPE, None),
    ("axis1", X_SHAPE, [X_SHAPE[1]], 1),
    ("channel_large", LARGE_SHAPE, [LARGE_SHAPE[1], 1, 1], None),
]


def prelu_models(dtype):
    for tag, x_shape, slope_shape, axis in PRELU_CASES:
        if tag.endswith("_large") and dtype != "float":
            continue
        name = f"prelu_{tag}_{dtype}"
        attrs = {} if axis is None else {"axis": axis}
        ins = [("X", x_shape), ("slope", slope_shape)]
        rect = one_node(name, dtype, "PRelu", DOMAIN, ins, [("Y", x_shape)], **attrs)
        if axis is None:
            twin = one_node(f"{name}.builtin", dtype, "PRelu", "", ins, [("Y", x_shape)])
        else:
            # Built-in PRelu has no axis: reshape the [C] slope to [C, 1, 1].
            target = [1] * (len(x_shape) - axis)
            target[0] = -1
            shape = numpy_helper.from_array(np.array(target, dtype=np.int64), "slope_shape")
            nodes = [
                helper.make_node("Reshape", ["slope", "slope_shape"], ["slope_c11"]),
                helper.make_node("PRelu", ["X", "slope_c11"], ["Y"]),
            ]
            twin = make_model(
                f"{name}.builtin",
                nodes,
                [value(n, dtype, s) for n, s in ins],
                [value("Y", dtype, x_shape)],
                [shape],
            )
        meta = {"op": "PRelu", "dtype": dtype, "attributes": attrs, "inputs": [["X", x_shape], ["slope", slope_shape]]}
        yield rect, twin, meta


def rrelu_models(dtype):
    """Every form of RRelu's optional `Slope` output, in both modes: omitted (the common
    case), present, and omitted by an empty name (ONNX's way for a middle output)."""
    attrs = {"lower": LOWER, "upper": UPPER}
    mean = f32((np.float32(LOWER) + np.float32(UPPER)) / np.float32(2))
    meta_attrs = {"lower": f32(LOWER), "upper": f32(UPPER), "training": 0}
    for tag, outputs in (("", ["Y"]), ("_slope", ["Y", "Slope"]), ("_empty_slope", ["Y", ""])):
        name = f"rrelu{tag}_{dtype}"
        rect = rrelu_node_model(name, dtype, X_SHAPE, outputs, **attrs)
        twin = one_node(f"{name}.builtin", dtype, "LeakyRelu", "", [("X", X_SHAPE)], [("Y", X_SHAPE)], alpha=mean)
        yield rect, twin, {"op": "RRelu", "dtype": dtype, "attributes": meta_attrs, "inputs": [["X", X_SHAPE]], "outputs": outputs}
    # Training mode has no built-in twin: it is checked by statistics and Y == X * Slope;
    # the forms without Slope must give the Y of the form with it (same seed, same run).
    train_shape = [256, 1024]  # 32 ParallelFor tasks
    train_attrs = dict(meta_attrs, training=1, seed=SEED)
    for tag, outputs in (("", ["Y", "Slope"]), ("_y", ["Y"]), ("_empty_slope", ["Y", ""])):
        name = f"rrelu_training{tag}_{dtype}"
        rect = rrelu_node_model(name, dtype, train_shape, outputs, training=1, seed=SEED, **attrs)
        meta = {"op": "RRelu", "dtype": dtype, "attributes": train_attrs, "inputs": [["X", train_shape]], "outputs": outputs}
        if tag:
            meta["slope_from"] = f"rrelu_training_{dtype}"
        yield rect, None, meta


def rrelu_node_model(name, dtype, shape, outputs, **attrs):
    """One RRelu node; an empty output name omits that output (it is no graph output)."""
    node = helper.make_node("RRelu", ["X"], outputs, domain=DOMAIN, **attrs)
    return make_model(name, [node], [value("X", dtype, shape)], [value(n, dtype, shape) for n in outputs if n])


def dyadic(rng, shape, step, limit):
    """Random multiples of `step` in [-limit, limit]: sums of products of these stay exact
    in float32, so every runtime's convolution gives the same bits whatever its order."""
    n = int(round(limit / step))
    return (rng.integers(-n, n + 1, size=shape) * step).astype(np.float32)


def cnn_models():
    """Conv -> PRelu(axis=1) -> Conv -> LeakyRelu -> RRelu -> GlobalAveragePool -> Gemm."""
    rng = np.random.default_rng(SEED)
    c1, c2, classes = 4, 8, 10
    x_shape = [1, 3, 16, 16]
    alpha, lower, upper = 0.125, 0.125, 0.375  # dyadic slopes keep the graph exact
    w1 = numpy_helper.from_array(dyadic(rng, [c1, 3, 3, 3], 0.5, 1.0), "w1")
    b1 = numpy_helper.from_array(dyadic(rng, [c1], 0.25, 1.0), "b1")
    slope = dyadic(rng, [c1], 0.25, 0.5)
    w2 = numpy_helper.from_array(dyadic(rng, [c2, c1, 3, 3], 0.5, 0.5), "w2")
    b2 = numpy_helper.from_array(dyadic(rng, [c2], 0.25, 1.0), "b2")
    w3 = numpy_helper.from_array(dyadic(rng, [classes, c2], 0.5, 0.5), "w3")
    b3 = numpy_helper.from_array(dyadic(rng, [classes], 0.25, 1.0), "b3")
    common = [w1, b1, w2, b2, w3, b3]

    def graph(name, prelu, leaky, rrelu, slope_init):
        nodes = [
            helper.make_node("Conv", ["X", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
            prelu,
            helper.make_node("Conv", ["p1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1], strides=[2, 2]),
            leaky,
            rrelu,
            helper.make_node("GlobalAveragePool", ["r2"], ["g"]),
            helper.make_node("Flatten", ["g"], ["f"]),
            helper.make_node("Gemm", ["f", "w3", "b3"], ["Y"], transB=1),
        ]
        return make_model(
            name, nodes, [value("X", "float", x_shape)], [value("Y", "float", [1, classes])], common + [slope_init]
        )

    rect = graph(
        "cnn",
        helper.make_node("PRelu", ["c1", "slope"], ["p1"], domain=DOMAIN, axis=1),
        helper.make_node("LeakyRelu", ["c2"], ["l2"], domain=DOMAIN, alpha=alpha),
        helper.make_node("RRelu", ["l2"], ["r2"], domain=DOMAIN, lower=lower, upper=upper),
        numpy_helper.from_array(slope, "slope"),
    )
    mean = f32((np.float32(lower) + np.float32(upper)) / np.float32(2))
    twin = graph(
        "cnn.builtin",
        helper.make_node("PRelu", ["c1", "slope"], ["p1"]),
        helper.make_node("LeakyRelu", ["c2"], ["l2"], alpha=alpha),
        helper.make_node("LeakyRelu", ["l2"], ["r2"], alpha=mean),
        numpy_helper.from_array(slope.reshape(c1, 1, 1), "slope"),
    )
    meta = {"op": "CNN", "dtype": "float", "attributes": {}, "inputs": [["X", x_shape]], "input_kind": "dyadic"}
    yield rect, twin, meta


def facenet_models():
    """A PRelu-heavy face-embedding network in the style of MobileFaceNet: depthwise-separable
    convolutions with a PReLU after each (but the linear projections), seeded random weights,
    1x3x112x112 input, 128-d embedding. Built-in form: PRelu with [C,1,1] slopes; rectify
    form: PRelu with axis=1 and [C] slopes (PyTorch's nn.PReLU(C) layout)."""
    rng = np.random.default_rng(SEED + 1)
    inits, nodes_b, nodes_r = [], [], []
    counter = iter(range(1000))

    def weight(shape, fan_in):
        name = f"w{next(counter)}"
        inits.append(numpy_helper.from_array((rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32), name))
        return name

    def conv(x, cin, cout, k, stride=1, group=1, pad=None):
        w = weight([cout, cin // group, k, k], cin // group * k * k)
        b = f"b{next(counter)}"
        inits.append(numpy_helper.from_array((rng.standard_normal(cout) * 0.01).astype(np.float32), b))
        y = f"c{next(counter)}"
        pad = k // 2 if pad is None else pad
        node = helper.make_node("Conv", [x, w, b], [y], kernel_shape=[k, k], strides=[stride, stride], pads=[pad] * 4, group=group)
        nodes_b.append(node)
        nodes_r.append(node)
        return y

    def prelu(x, channels):
        slope = rng.uniform(0.05, 0.3, channels).astype(np.float32)
        sb, sr, y = f"sb{next(counter)}", f"sr{next(counter)}", f"p{next(counter)}"
        inits.append(numpy_helper.from_array(slope.reshape(channels, 1, 1), sb))
        inits.append(numpy_helper.from_array(slope, sr))
        nodes_b.append(helper.make_node("PRelu", [x, sb], [y]))
        nodes_r.append(helper.make_node("PRelu", [x, sr], [y], domain=DOMAIN, axis=1))
        return y

    def add(a, b):
        y = f"a{next(counter)}"
        node = helper.make_node("Add", [a, b], [y])
        nodes_b.append(node)
        nodes_r.append(node)
        return y

    x = prelu(conv("X", 3, 64, 3, stride=2), 64)  # 56x56
    x = prelu(conv(x, 64, 64, 3, group=64), 64)
    # (expansion, out channels, repeats, first stride): MobileFaceNet's bottlenecks, slimmed.
    cin = 64
    for t, cout, n, s in [(2, 64, 2, 2), (4, 96, 2, 2), (2, 96, 2, 1), (4, 128, 1, 2), (2, 128, 2, 1)]:
        for i in range(n):
            stride = s if i == 0 else 1
            hidden = cin * t
            h = prelu(conv(x, cin, hidden, 1), hidden)
            h = prelu(conv(h, hidden, hidden, 3, stride=stride, group=hidden), hidden)
            h = conv(h, hidden, cout, 1)  # linear bottleneck
            x = add(x, h) if stride == 1 and cin == cout else h
            cin = cout
    x = prelu(conv(x, cin, 256, 1), 256)  # 7x7
    x = conv(x, 256, 256, 7, group=256, pad=0)  # global depthwise: 7x7 -> 1x1
    x = conv(x, 256, 128, 1)
    flat = helper.make_node("Flatten", [x], ["Y"])
    nodes_b.append(flat)
    nodes_r.append(flat)
    ins, outs = [value("X", "float", [1, 3, 112, 112])], [value("Y", "float", [1, 128])]
    rect = make_model("facenet", nodes_r, ins, outs, inits)
    twin = make_model("facenet.builtin", nodes_b, ins, outs, inits)
    # Each model keeps only the slopes it uses.
    for m, drop in ((rect, "sb"), (twin, "sr")):
        keep = [t for t in m.graph.initializer if not t.name.startswith(drop)]
        del m.graph.initializer[:]
        m.graph.initializer.extend(keep)
    yield rect, twin, {"op": "FaceNet", "dtype": "float", "attributes": {}, "inputs": [["X", [1, 3, 112, 112]]]}


def chain(name, dtype, nodes, x_shape, make_node, initializers=()):
    """`nodes` identical nodes, each feeding the next: X -> ... -> Y."""
    names = ["X"] + [f"t{i}" for i in range(1, nodes)] + ["Y"]
    graph_nodes = [make_node(names[i], names[i + 1]) for i in range(nodes)]
    return make_model(name, graph_nodes, [value("X", dtype, x_shape)], [value("Y", dtype, x_shape)], initializers)


def bench_models():
    """Chains for the model-level benchmark (benches/ort_chains.rs), with symbolic sizes."""
    rng = np.random.default_rng(SEED)
    channels = 64
    slope = rng.uniform(-0.5, 0.5, channels).astype(np.float32)
    for dtype in ("float", "float16"):
        np_dtype = np.float32 if dtype == "float" else np.float16
        for nodes in (1, 16):
            for domain, tag in ((DOMAIN, "rectify"), ("", "builtin")):
                yield chain(
                    f"leaky_relu_{dtype}_x{nodes}.{tag}", dtype, nodes, ["n"],
                    lambda a, b, d=domain: helper.make_node("LeakyRelu", [a], [b], domain=d, alpha=ALPHA),
                )
        nchw = [1, channels, "h", "w"]
        c11 = numpy_helper.from_array(slope.astype(np_dtype).reshape(channels, 1, 1), "slope")
        flat = numpy_helper.from_array(slope.astype(np_dtype), "slope")
        for tag, domain, init, attrs in (
            ("builtin", "", c11, {}),
            ("rectify", DOMAIN, c11, {}),
            ("rectify_axis1", DOMAIN, flat, {"axis": 1}),
        ):
            yield chain(
                f"prelu_{dtype}_x16.{tag}", dtype, 16, nchw,
                lambda a, b, d=domain, at=attrs: helper.make_node("PRelu", [a, "slope"], [b], domain=d, **at),
                [init],
            )
    yield chain(
        "rrelu_training_float_x1.rectify", "float", 1, ["n"],
        lambda a, b: helper.make_node("RRelu", [a], [b], domain=DOMAIN, training=1, seed=SEED),
    )
    node = helper.make_node("RRelu", ["X"], ["Y", "Slope"], domain=DOMAIN, training=1, seed=SEED)
    yield make_model(
        "rrelu_training_slope_float_x1.rectify", [node], [value("X", "float", ["n"])],
        [value("Y", "float", ["n"]), value("Slope", "float", ["n"])],
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path(__file__).parent)
    out = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    manifest = []
    generators = [leaky_relu_models, prelu_models, rrelu_models]
    sets = [g(dtype) for g in generators for dtype in DTYPES] + [cnn_models(), facenet_models()]
    for models in sets:
        for rect, twin, meta in models:
            entry = {"name": rect.graph.name, "model": f"{rect.graph.name}.onnx", "twin": None}
            onnx.save(rect, out / entry["model"])
            if twin is not None:
                entry["twin"] = f"{twin.graph.name}.onnx"
                onnx.save(twin, out / entry["twin"])
            entry.update(meta)
            entry.setdefault("outputs", [o.name for o in rect.graph.output])
            manifest.append(entry)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    bench = out / "bench"
    bench.mkdir(exist_ok=True)
    count = 0
    for model in bench_models():
        onnx.save(model, bench / f"{model.graph.name}.onnx")
        count += 1
    print(f"wrote {len(manifest)} rectify models (+ twins) and {count} benchmark chains to {out}")


if __name__ == "__main__":
    main()
