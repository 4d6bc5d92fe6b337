"""Forward ops: bit-identical to TensorFlow's own, PRelu as Keras computes it, RRelu's
inference and training conventions, static shapes in graph mode, and bad input."""

import functools

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.python.framework import op_def_registry

from conftest import DTYPES, assert_bit_identical, random_tensor, run_python, specials


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("alpha", [0.2, 0.01, 0.3, 1.7, -0.5])
def test_leaky_relu_is_bit_identical_to_tf_nn_leaky_relu(rtf, dtype, alpha):
    for x in [random_tensor(dtype, (4, 1000)), specials(dtype), tf.constant([np.nan, -np.nan], dtype=dtype)]:
        assert_bit_identical(rtf.leaky_relu(x, alpha=alpha), tf.nn.leaky_relu(x, alpha=alpha), f"{dtype} alpha={alpha}")


def test_default_alpha_is_tensorflows(rtf):
    x = random_tensor("float32", (100,))
    assert_bit_identical(rtf.leaky_relu(x), tf.nn.leaky_relu(x), "default alpha 0.2")


def keras_prelu(x, alpha):
    """keras.layers.PReLU's formula."""
    return tf.nn.relu(x) - alpha * tf.nn.relu(-x)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("slope_shape", [(), (5,), (1, 1, 5), (4, 3, 5), (3, 1)])
def test_prelu_equals_keras_prelu(rtf, dtype, slope_shape):
    x = random_tensor(dtype, (2, 4, 3, 5), seed=1)
    slope = random_tensor(dtype, slope_shape, seed=2) / 4
    got = rtf.prelu(x, slope)
    assert got.shape == x.shape
    assert_bit_identical(got, keras_prelu(x, slope), f"{dtype} slope {slope_shape}")


def test_prelu_refuses_a_slope_that_does_not_broadcast(rtf):
    with pytest.raises(tf.errors.InvalidArgumentError, match="input 'slope' of shape \\[4\\] is not unidirectionally broadcastable"):
        rtf.prelu(tf.ones([2, 3]), tf.ones([4]))


@pytest.mark.parametrize("dtype", DTYPES)
def test_rrelu_inference_is_leaky_relu_at_the_mean(rtf, dtype):
    x = random_tensor(dtype, (3, 500), seed=3)
    y, slopes = rtf.rrelu(x, lower=0.1, upper=0.4)
    assert_bit_identical(y, rtf.leaky_relu(x, alpha=(np.float32(0.1) + np.float32(0.4)) / np.float32(2)), dtype)
    expected = tf.where(x > 0, tf.ones_like(x), tf.cast(tf.constant(0.25, tf.float32), dtype))
    assert_bit_identical(slopes, expected, f"{dtype} slopes")


#: (case, rectify's side, TensorFlow's) of inputs `x` and `g`, the op's input a temporary.
TEMPORARY_CASES = [
    ("leaky_relu(x*2)", lambda r, x, g: r.leaky_relu(x * 2, alpha=0.3), lambda x, g: tf.nn.leaky_relu(x * 2, alpha=0.3)),
    (
        "leaky_relu_grad(g*2, x)",
        lambda r, x, g: r.leaky_relu_grad(g * 2, x, alpha=0.3),
        lambda x, g: tf.raw_ops.LeakyReluGrad(gradients=g * 2, features=x, alpha=0.3),
    ),
    ("rrelu_grad(g*2, x)", lambda r, x, g: r.rrelu_grad(g * 2, x), lambda x, g: (g * 2) * x),
    (
        "leaky_relu_grad(g, x*2)",
        lambda r, x, g: r.leaky_relu_grad(g, x * 2, alpha=0.3),
        lambda x, g: tf.raw_ops.LeakyReluGrad(gradients=g, features=x * 2, alpha=0.3),
    ),
    ("rrelu_grad(g, x*2)", lambda r, x, g: r.rrelu_grad(g, x * 2), lambda x, g: g * (x * 2)),
    # PRelu by a slope of x's shape (one row: the in-place blocks cross it), RRelu both outputs.
    ("prelu(x*2, g)", lambda r, x, g: r.prelu(x * 2, g), lambda x, g: prelu_rule(x * 2, g)),
    (
        "rrelu(x*2)",
        lambda r, x, g: tf.concat(r.rrelu(x * 2, lower=0.1, upper=0.4), 0),
        lambda x, g: tf.concat(rrelu_inference(x * 2, 0.25), 0),
    ),
]


def prelu_rule(x, slope):
    """TensorFlow's element rule, `x > 0 ? x : x * slope`: Keras' formula differs where a
    slope is infinite or NaN (its `slope * relu(-x)` is NaN for positive x)."""
    return tf.where(x > 0, x, x * slope)


def rrelu_inference(x, alpha):
    """RRelu's inference outputs: LeakyRelu at `alpha`, and each element's slope."""
    return tf.nn.leaky_relu(x, alpha), tf.where(x > 0, tf.ones_like(x), tf.cast(alpha, x.dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", ["eager", "graph"])
@pytest.mark.parametrize("case, mine, theirs", TEMPORARY_CASES, ids=[c[0] for c in TEMPORARY_CASES])
def test_ops_on_a_temporary_are_bit_identical(rtf, dtype, mode, case, mine, theirs):
    """Inputs made just for the op (`x * 2`). In tf.function nothing else holds them, and
    LeakyRelu, PRelu, RRelu (inference), LeakyReluGrad and RreluGrad write their buffer in
    place, the gradients' whichever input is the temporary (vector steps, then a tail: about
    4,000 elements with every special value, and 37); in eager mode the caller holds them,
    and the outputs are fresh. TensorFlow's side runs eagerly: in a graph grappler reorders its products
    (`g * (x * 2)` into `(g * 2) * x`, which overflows elsewhere), and in rectify's graph it
    would merge the sides' `x * 2` into one tensor, which only its last reader may take over."""
    mine = functools.partial(mine, rtf)
    if mode == "graph":
        mine = tf.function(mine, autograph=False)
    x = tf.concat([tf.reshape(random_tensor(dtype, (4, 991), seed=7), [-1]), specials(dtype)], 0)
    for n in [x.shape[0], 37]:
        xs, gs = x[:n], tf.reverse(x, [0])[:n]
        assert_bit_identical(mine(xs, gs), theirs(xs, gs), f"{dtype} {mode} case {case} of {n} elements")


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_outputs_of_32_mib_and_more_are_bit_identical(rtf, dtype):
    """Outputs TensorFlow maps afresh on each call, which rectify advises onto huge pages
    before writing (tf/src/pages.rs): every op's values, fresh and in a temporary's buffer."""
    n = (33 << 20) // np.dtype(dtype).itemsize
    x, g = random_tensor(dtype, (n // 64, 64), seed=4), random_tensor(dtype, (n // 64, 64), seed=5)
    slope = random_tensor(dtype, (64,), seed=6) / 4
    assert_bit_identical(rtf.leaky_relu(x), tf.nn.leaky_relu(x), f"{dtype} leaky_relu")
    assert_bit_identical(rtf.leaky_relu(x * 2), tf.nn.leaky_relu(x * 2), f"{dtype} leaky_relu of a temporary")
    expected = tf.raw_ops.LeakyReluGrad(gradients=g, features=x, alpha=0.2)
    assert_bit_identical(rtf.leaky_relu_grad(g, x), expected, f"{dtype} leaky_relu_grad")
    assert_bit_identical(rtf.prelu(x, slope), keras_prelu(x, slope), f"{dtype} prelu")
    # PRelu writes a temporary in place from this size on (a graph: nothing else holds it),
    # in blocks of 1,024 elements, which rows of 48 cross.
    x48 = tf.reshape(tf.reshape(x, [-1])[: n // 48 * 48], [-1, 48])
    slope48 = random_tensor(dtype, (48,), seed=7) / 4
    prelu_of_a_temporary = tf.function(lambda x, s: rtf.prelu(x * 2, s), autograph=False)
    assert_bit_identical(prelu_of_a_temporary(x48, slope48), prelu_rule(x48 * 2, slope48), f"{dtype} prelu of a temporary")
    y, slopes = rtf.rrelu(x, lower=0.1, upper=0.4)
    assert_bit_identical(y, tf.nn.leaky_relu(x, alpha=0.25), f"{dtype} rrelu")
    assert_bit_identical(rtf.rrelu_grad(g, slopes), g * slopes, f"{dtype} rrelu_grad")


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
def test_rrelu_training_slopes(rtf, dtype):
    lower, upper = 0.125, 1.0 / 3.0
    x = random_tensor(dtype, (200, 100), seed=4)
    y, s = rtf.rrelu(x, lower=lower, upper=upper, training=True, seed=11)
    xv, yv, sv = (t.numpy().astype(np.float64) for t in (x, y, s))
    neg = xv < 0
    assert np.all(sv[~neg] == 1.0)
    drawn = sv[neg]
    assert drawn.min() >= lower and drawn.max() < upper
    n = drawn.size
    mean, sd = (lower + upper) / 2, (upper - lower) / np.sqrt(12)
    assert abs(drawn.mean() - mean) < 4 * sd / np.sqrt(n), drawn.mean()
    assert abs(drawn.var() - sd**2) < 4 * sd**2 * np.sqrt(0.8 / n) + 1e-4
    # y == x * slope exactly, in the tensor's type
    assert np.array_equal(yv, (x * s).numpy().astype(np.float64))


def test_rrelu_training_reproduces_per_seed_and_draws_anew_each_run(rtf):
    code = (
        "import numpy as np, tensorflow as tf, rectify.tf as rtf\n"
        "x = tf.constant(np.linspace(-3, 3, 1000), tf.float32)\n"
        "a = rtf.rrelu(x, training=True, seed=7).slopes.numpy()\n"
        "b = rtf.rrelu(x, training=True, seed=7).slopes.numpy()\n"
        "c = rtf.rrelu(x, training=True, seed=8).slopes.numpy()\n"
        "print(a.tobytes().hex()[:400], (a != b).any(), (a != c).any())\n"
    )
    first, second = run_python(code), run_python(code)
    assert first == second, "the same seed gave different slopes in a fresh process"
    assert first.split()[1:] == ["True", "True"], "a second run or another seed drew the same slopes"


def test_graph_mode_keeps_static_shapes(rtf):
    @tf.function(input_signature=[tf.TensorSpec([None, 3, 4], tf.float32), tf.TensorSpec([3, 1], tf.float32)])
    def f(x, slope):
        y, s = rtf.rrelu(rtf.prelu(rtf.leaky_relu(x), slope), training=True)
        return y, s

    concrete = f.get_concrete_function()
    assert [o.shape.as_list() for o in concrete.outputs] == [[None, 3, 4], [None, 3, 4]]
    y, _ = f(tf.ones([2, 3, 4]), tf.ones([3, 1]))
    assert y.shape == (2, 3, 4)


def test_only_rrelu_is_stateful_so_tf_function_does_not_chain_the_others(rtf):
    # RRelu draws new slopes on every run; the rest are pure functions. A stateful op gets a
    # control dependency on the one before it in tf.function (automatic control
    # dependencies), which serialises them, and grappler neither folds nor merges it.
    stateful = {name: op_def_registry.get(name).is_stateful for name in rtf.OP_NAMES}
    assert stateful == {name: name == "Rectify>Rrelu" for name in rtf.OP_NAMES}

    x = tf.ones([4])
    graph = tf.function(lambda: [rtf.leaky_relu(x * i) for i in range(3)], autograph=False).get_concrete_function().graph
    chained = [n.name for n in graph.as_graph_def().node if n.op.startswith("Rectify>") and any(i.startswith("^") for i in n.input)]
    assert chained == [], f"control dependencies between pure ops: {chained}"


@pytest.mark.parametrize("shape", [(), (2, 3, 4), (1, 2, 1, 2, 1, 2, 1, 2, 3), (2,) * 10])
def test_every_rank_keeps_its_shape_and_tensorflows_bits(rtf, shape):
    # Scalars, and ranks above 8, where the kernels' dimensions no longer fit inline (and
    # where TensorFlow's own LeakyReluGrad gives up: the references run on the flat tensors).
    x = random_tensor("float32", shape, seed=9)
    g = random_tensor("float32", shape, seed=10)
    flat = lambda t: tf.reshape(t, [-1])  # noqa: E731
    y = rtf.leaky_relu(x)
    assert y.shape == shape
    assert_bit_identical(flat(y), tf.nn.leaky_relu(flat(x), 0.2), f"LeakyRelu {shape}")
    dx = rtf.leaky_relu_grad(g, x)
    assert dx.shape == shape
    want = tf.raw_ops.LeakyReluGrad(gradients=flat(g), features=flat(x), alpha=0.2)
    assert_bit_identical(flat(dx), want, f"LeakyReluGrad {shape}")
    slope = random_tensor("float32", shape[-1:], seed=11)
    assert_bit_identical(rtf.prelu(x, slope), tf.nn.relu(x) - slope * tf.nn.relu(-x), f"Prelu {shape}")


def test_eager_and_tf_function_agree(rtf):
    x = random_tensor("float32", (64,), seed=5)
    eager = rtf.leaky_relu(x, alpha=0.3)
    graph = tf.function(lambda t: rtf.leaky_relu(t, alpha=0.3))(x)
    assert_bit_identical(eager, graph, "eager vs tf.function")


def test_integer_features_are_refused_by_the_type_attribute(rtf):
    with pytest.raises((TypeError, tf.errors.InvalidArgumentError), match="not in the list of allowed values"):
        rtf.leaky_relu(tf.constant([1, -2], tf.int32))


def test_bad_attributes_name_the_op_and_the_attribute(rtf):
    with pytest.raises(tf.errors.InvalidArgumentError, match="rectify: RRelu: attribute 'lower' \\(0.5\\) must not exceed"):
        rtf.rrelu(tf.ones([2]), lower=0.5, upper=0.25)
    with pytest.raises(tf.errors.InvalidArgumentError, match="rectify: LeakyRelu: attribute 'alpha' must be finite"):
        rtf.leaky_relu(tf.ones([2]), alpha=float("nan"))
    with pytest.raises(tf.errors.InvalidArgumentError, match="rectify: LeakyReluGrad: attribute 'alpha' must be finite"):
        rtf.leaky_relu_grad(tf.ones([2]), tf.ones([2]), alpha=float("inf"))
