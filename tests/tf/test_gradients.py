"""Gradients: numeric checks in float64, equality with TensorFlow's own LeakyRelu gradient,
PRelu's slope gradient against autodiff of the Keras formula, RRelu through its slopes."""

import numpy as np
import pytest
import tensorflow as tf

from conftest import DTYPES, assert_bit_identical, random_tensor


def away_from_zero(shape, seed):
    """float64 values with |x| >= 0.1, where finite differences do not straddle the kink."""
    x = np.random.default_rng(seed).standard_normal(shape)
    return tf.constant(np.where(np.abs(x) < 0.1, np.sign(x) * 0.1 + x, x))


def test_leaky_relu_gradient_passes_the_numeric_check(rtf):
    x = away_from_zero((3, 4), 0)
    theoretical, numerical = tf.test.compute_gradient(lambda t: rtf.leaky_relu(t, alpha=0.3), [x])
    np.testing.assert_allclose(theoretical[0], numerical[0], rtol=1e-6, atol=1e-8)


def test_prelu_gradients_pass_the_numeric_check(rtf):
    x, slope = away_from_zero((2, 3, 4), 1), tf.constant(np.random.default_rng(2).uniform(0.1, 0.5, (3, 1)))
    theoretical, numerical = tf.test.compute_gradient(lambda a, b: rtf.prelu(a, b), [x, slope])
    for t, n in zip(theoretical, numerical):
        np.testing.assert_allclose(t, n, rtol=1e-6, atol=1e-8)


def test_rrelu_inference_gradient_passes_the_numeric_check(rtf):
    x = away_from_zero((5, 4), 3)
    theoretical, numerical = tf.test.compute_gradient(lambda t: rtf.rrelu(t, lower=0.1, upper=0.3).activations, [x])
    np.testing.assert_allclose(theoretical[0], numerical[0], rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("dtype", DTYPES)
def test_leaky_relu_gradient_equals_tensorflows(rtf, dtype):
    x = random_tensor(dtype, (8, 300), seed=4)
    upstream = random_tensor(dtype, (8, 300), seed=5)
    grads = []
    for f in (lambda t: rtf.leaky_relu(t, alpha=0.3), lambda t: tf.nn.leaky_relu(t, alpha=0.3)):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = f(x)
        grads.append(tape.gradient(y, x, output_gradients=upstream))
    assert_bit_identical(grads[0], grads[1], dtype)


@pytest.mark.parametrize("slope_shape", [(), (5,), (1, 1, 5), (4, 3, 5), (3, 1)])
def test_prelu_gradients_equal_autodiff_of_the_keras_formula(rtf, slope_shape):
    x = random_tensor("float64", (2, 4, 3, 5), seed=6)
    slope = random_tensor("float64", slope_shape, seed=7) / 4
    upstream = random_tensor("float64", (2, 4, 3, 5), seed=8)
    results = []
    for f in (rtf.prelu, lambda a, s: tf.nn.relu(a) - s * tf.nn.relu(-a)):
        with tf.GradientTape() as tape:
            tape.watch([x, slope])
            y = f(x, slope)
        results.append(tape.gradient(y, [x, slope], output_gradients=upstream))
    (dx, ds), (kdx, kds) = results
    assert ds.shape == slope.shape
    assert_bit_identical(dx, kdx, f"dx, slope {slope_shape}")
    np.testing.assert_allclose(ds.numpy(), kds.numpy(), rtol=1e-12, atol=1e-12)


def test_prelu_slope_gradient_in_float32_is_close(rtf):
    x = random_tensor("float32", (16, 8, 8, 4), seed=9)
    slope = tf.fill([1, 1, 4], tf.constant(0.25))
    with tf.GradientTape() as tape:
        tape.watch(slope)
        y = rtf.prelu(x, slope)
    ds = tape.gradient(y, slope).numpy()
    expected = np.sum(np.where(x.numpy() > 0, 0.0, x.numpy().astype(np.float64)), axis=(0, 1, 2)).reshape(1, 1, 4)
    np.testing.assert_allclose(ds, expected, rtol=1e-6)


def test_rrelu_gradient_uses_the_sampled_slopes(rtf):
    x = random_tensor("float32", (50, 40), seed=10)
    upstream = random_tensor("float32", (50, 40), seed=11)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y, slopes = rtf.rrelu(x, training=True, seed=3)
    dx = tape.gradient(y, x, output_gradients=upstream)
    assert_bit_identical(dx, upstream * slopes, "dx == upstream * slopes")
    assert len(np.unique(slopes.numpy())) > 100, "the slopes were sampled per element"


def test_mismatched_gradient_shapes_are_invalid_arguments(rtf):
    with pytest.raises(tf.errors.InvalidArgumentError, match="'gradients' of shape \\[2\\] and 'features' of shape \\[3\\]"):
        rtf.leaky_relu_grad(tf.ones([2]), tf.ones([3]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="'gradients' of shape \\[2, 2\\] and 'slopes' of shape \\[4\\]"):
        rtf.rrelu_grad(tf.ones([2, 2]), tf.ones([4]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="must have the same shape"):
        rtf.prelu_grad(tf.ones([2, 3]), tf.ones([3, 2]), tf.ones([2]))


@pytest.mark.parametrize("dtype", DTYPES)
def test_ops_on_temporaries_write_in_place_with_tensorflows_bits(rtf, dtype):
    # In a graph, `x * 2` and the upstream gradient `y * 3` are temporaries that nothing else
    # holds: LeakyRelu, LeakyReluGrad and RreluGrad take their buffers over for the output
    # (TF_ForwardInputOrAllocateOutput), computing block by block in place; the bits must be
    # those of TensorFlow's own ops, across block edges (3,001 elements: not a multiple).
    x = random_tensor(dtype, (3001,), seed=6)
    slopes = random_tensor(dtype, (3001,), seed=7)

    def run(leaky):
        @tf.function
        def f(x, slopes):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = leaky(x * 2)
            dx = tape.gradient(y, x, output_gradients=y * 3)
            return y, dx, rtf.rrelu_grad(dx * 2, slopes) if leaky is not tf.nn.leaky_relu else (dx * 2) * slopes

        return f(x, slopes)

    mine = run(lambda t: rtf.leaky_relu(t, alpha=0.3))
    theirs = run(lambda t: tf.nn.leaky_relu(t, alpha=0.3))
    for a, b in zip(mine, theirs):
        assert_bit_identical(a, b, dtype)
