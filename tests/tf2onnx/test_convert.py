"""rectify.tf2onnx.convert: a Keras model trained with rectify.keras layers (and rectify.tf ops)
reaches ONNX Runtime as rectify nodes that compute what TensorFlow computes."""

import keras
import numpy as np
import onnx
import pytest
import tensorflow as tf
from conftest import bits, nodes, run, session, specials, to_builtin

import rectify.keras
import rectify.tf
import rectify.tf2onnx


def trained(model, shape, steps=5):
    """A few SGD steps on random data, so slopes move off their initial values."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, *shape[1:])).astype(np.float32)
    y = model(x).numpy() * 0 + rng.standard_normal(model.output_shape[1:]).astype(np.float32)
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    model.fit(x, y, epochs=steps, batch_size=8, verbose=0)
    return model


def nhwc_net(shared_axes):
    keras.utils.set_random_seed(1)
    inp = keras.Input((10, 10, 3))
    x = keras.layers.Conv2D(6, 3)(inp)
    x = rectify.keras.PReLU(alpha_initializer=keras.initializers.RandomUniform(-0.3, 0.6), shared_axes=shared_axes)(x)
    x = keras.layers.Conv2D(4, 3)(x)
    x = rectify.keras.RReLU(lower=0.05, upper=0.4, seed=3)(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(5)(x)
    x = keras.layers.Lambda(lambda t: rectify.tf.leaky_relu(t))(x)
    return keras.Model(inp, x)


def rectify_nodes(path):
    return [(op, attrs) for domain, op, attrs, _ in nodes(path) if domain == "rectify"]


@pytest.mark.parametrize("shared_axes", [None, [1, 2]], ids=["full_slope", "shared_hw"])
def test_keras_model_with_rectify_layers_reaches_onnx_runtime(shared_axes, tmp_path):
    model = trained(nhwc_net(shared_axes), (None, 10, 10, 3))
    slope = model.layers[2].alpha.numpy()
    assert slope.shape == ((8, 8, 6) if shared_axes is None else (1, 1, 6))
    path = tmp_path / "net.onnx"
    proto = rectify.tf2onnx.convert(model, [tf.TensorSpec((None, 10, 10, 3), tf.float32, name="x")], path)
    assert isinstance(proto, onnx.ModelProto) and path.is_file()

    found = rectify_nodes(path)
    assert [op for op, _ in found] == ["PRelu", "RRelu", "LeakyRelu"], found
    assert found[0][1] == {}  # numpy broadcasting, as TensorFlow's: no axis
    assert found[1][1]["lower"] == pytest.approx(0.05) and found[1][1]["upper"] == pytest.approx(0.4)
    assert found[1][1]["training"] == 0 and found[1][1]["seed"] == 3
    assert found[2][1] == {"alpha": pytest.approx(0.2)}  # TensorFlow's default, written out
    rrelu = next(n for n in onnx.load(str(path)).graph.node if n.op_type == "RRelu")
    assert list(rrelu.output)[1:] == []  # the unread slopes output is dropped
    # The slope as Keras holds it (NHWC), or transposed to NCHW where tf2onnx's optimizer
    # moved the layout Transposes through the node (exact: rectify's PRelu broadcasts as ONNX's).
    initializers = {tuple(t.dims) for t in onnx.load(str(path)).graph.initializer}
    nchw = (1, slope.shape[2], slope.shape[0], slope.shape[1])
    assert slope.shape in initializers or nchw in initializers, initializers

    x = specials((3, 10, 10, 3))
    x[~np.isfinite(x)] = 0  # the Dense layer would spread NaN everywhere
    expected = model(x, training=False).numpy()
    (y,) = run(path, [x])
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)
    (twin,) = run(to_builtin(path, tmp_path / "builtin.onnx"), [x], plugin=False)
    np.testing.assert_array_equal(bits(y), bits(twin))


@pytest.mark.parametrize("dtype", [np.float32, np.float16], ids=["float", "float16"])
def test_each_op_matches_tensorflow_bit_for_bit(dtype, tmp_path):
    slope = np.linspace(-0.5, 1.5, 7).astype(dtype)

    @tf.function
    def fn(x):
        a = rectify.tf.leaky_relu(x, alpha=0.3)
        b = rectify.tf.prelu(x, tf.constant(slope))
        c = rectify.tf.rrelu(x, lower=0.1, upper=0.2).activations
        return a, b, c

    path = tmp_path / "ops.onnx"
    rectify.tf2onnx.convert(fn, [tf.TensorSpec((None, 5, 7), tf.as_dtype(dtype))], path)
    # float16: TensorFlow's slope rounding needs a float16 PRelu constant.
    want_ops = ["PRelu"] * 3 if dtype == np.float16 else ["LeakyRelu", "PRelu", "RRelu"]
    assert sorted(op for op, _ in rectify_nodes(path)) == want_ops
    x = specials((200, 5, 7)).clip(-6e4, 6e4).astype(dtype)
    tiny = np.finfo(dtype).tiny
    x.reshape(-1)[20:24] = [tiny / 4, -tiny / 4, tiny * 3, -tiny * 3]  # subnormals of dtype, normals
    # The two documented differences: float32 subnormals (TensorFlow flushes subnormal inputs
    # and results to zero; float16 ones it keeps, they are normal in the float32 it computes
    # in) and the sign of a zero input times a negative slope.
    flushed = np.zeros(x.shape, bool)
    if dtype == np.float32:
        flushed = (x != 0) & (np.abs(x) < tiny)
        assert flushed.any()
    negative_zero_slope = (x == 0) & (np.broadcast_to(slope, x.shape) < 0)
    assert negative_zero_slope.any()
    for i, (got, want) in enumerate(zip(run(path, [x]), fn(x))):
        want = want.numpy()
        differs = flushed | (dtype == np.float32) & (got != 0) & (np.abs(got) < tiny)
        if i == 1:
            differs |= negative_zero_slope
            np.testing.assert_array_equal(got[negative_zero_slope], want[negative_zero_slope])  # as numbers
        np.testing.assert_array_equal(bits(got)[~differs], bits(want)[~differs])
        assert (want[flushed] == 0).all()


def test_training_rrelu_keeps_seed_and_the_slopes_output(tmp_path):
    @tf.function
    def fn(x):
        return rectify.tf.rrelu(x, lower=0.1, upper=0.3, training=True, seed=11)

    path = tmp_path / "train.onnx"
    rectify.tf2onnx.convert(fn, [tf.TensorSpec((64, 33), tf.float32)], path)
    ((op, attrs),) = rectify_nodes(path)
    assert (op, attrs["training"], attrs["seed"]) == ("RRelu", 1, 11)
    x = np.random.default_rng(5).standard_normal((64, 33)).astype(np.float32)
    y, slopes = run(path, [x])
    np.testing.assert_array_equal(y, x * slopes)
    negative = x < 0
    assert slopes[negative].min() >= 0.1 and slopes[negative].max() < 0.3
    # The same generator and seed as the TensorFlow op: a fresh program draws the same slopes.
    want = fn(x)
    np.testing.assert_array_equal(bits(y), bits(want.activations.numpy()))
    np.testing.assert_array_equal(slopes[negative], want.slopes.numpy()[negative])
