"""The Keras layers: same outputs as keras.layers.PReLU, training with model.fit,
serialisation, and a SavedModel round trip."""

import keras
import numpy as np
import tensorflow as tf

import rectify.keras
from conftest import assert_bit_identical, random_tensor


def test_prelu_layer_matches_keras_prelu_with_the_same_weights():
    x = random_tensor("float32", (4, 6, 6, 3), seed=0)
    ours = rectify.keras.PReLU(shared_axes=[1, 2])
    theirs = keras.layers.PReLU(shared_axes=[1, 2])
    ours.build(x.shape)
    theirs.build(x.shape)
    alpha = np.array([[[0.1, -0.2, 0.3]]], dtype=np.float32)
    ours.set_weights([alpha])
    theirs.set_weights([alpha])
    assert ours.alpha.shape == (1, 1, 3)
    assert_bit_identical(ours(x), theirs(x), "PReLU layer")


def small_model(layer):
    inputs = keras.Input((8, 8, 3))
    h = keras.layers.Conv2D(4, 3, padding="same")(inputs)
    h = layer(h)
    h = keras.layers.GlobalAveragePooling2D()(h)
    return keras.Model(inputs, keras.layers.Dense(1)(h))


def data():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((64, 8, 8, 3)).astype(np.float32)
    return x, x.mean(axis=(1, 2, 3), keepdims=False)[:, None] * 3


def test_prelu_model_trains_and_round_trips_through_saved_model(tmp_path):
    keras.utils.set_random_seed(0)
    model = small_model(rectify.keras.PReLU(alpha_initializer=keras.initializers.Constant(0.25), shared_axes=[1, 2]))
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    x, y = data()
    history = model.fit(x, y, epochs=5, batch_size=16, verbose=0).history["loss"]
    assert history[-1] < history[0], history
    alpha = model.layers[2].alpha.numpy()
    assert not np.allclose(alpha, 0.25), "the PReLU slopes did not train"

    export = tmp_path / "saved"
    model.export(str(export), format="tf_saved_model", verbose=False)
    restored = tf.saved_model.load(str(export))
    assert_bit_identical(restored.serve(tf.constant(x[:4])), model(x[:4], training=False), "SavedModel")

    path = tmp_path / "model.keras"
    model.save(path)
    again = keras.models.load_model(path)
    assert isinstance(again.layers[2], rectify.keras.PReLU)
    assert_bit_identical(again(x[:4]), model(x[:4]), ".keras round trip")


def test_rrelu_layer_is_random_in_training_and_fixed_in_inference():
    layer = rectify.keras.RReLU(lower=0.1, upper=0.3, seed=5)
    x = -tf.ones([1000])
    inference = layer(x, training=False).numpy()
    assert np.all(inference == np.float32(-0.2))
    first, second = layer(x, training=True).numpy(), layer(x, training=True).numpy()
    assert np.all((first <= -0.1) & (first > -0.3)) and len(np.unique(first)) > 100
    assert not np.array_equal(first, second), "a second training call drew the same slopes"
    clone = rectify.keras.RReLU.from_config(layer.get_config())
    assert (clone.lower, clone.upper, clone.seed) == (0.1, 0.3, 5)


def test_rrelu_model_trains():
    keras.utils.set_random_seed(0)
    model = small_model(rectify.keras.RReLU(seed=1))
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    x, y = data()
    history = model.fit(x, y, epochs=5, batch_size=16, verbose=0).history["loss"]
    assert history[-1] < history[0], history
