"""Keras layers on rectify's TensorFlow ops (Keras 3 with the TensorFlow backend).

``PReLU`` takes the same arguments as ``keras.layers.PReLU``; ``RReLU`` samples its slopes in
training and uses ``(lower + upper) / 2`` in inference. Both serialise (``get_config``,
registered under the package name ``rectify``), train with ``model.fit``, and export to a
SavedModel; import ``rectify.tf`` (or this module) before loading one.
"""

import random

import keras

from . import default
from . import tf as rtf

__all__ = ["PReLU", "RReLU"]


@keras.saving.register_keras_serializable(package="rectify")
class PReLU(keras.layers.Layer):
    """Parametric ReLU: ``x > 0 ? x : alpha * x`` with a learned ``alpha``.

    Args:
        alpha_initializer, alpha_regularizer, alpha_constraint: for the ``alpha`` weights.
        shared_axes: axes (1-based, batch excluded) along which ``alpha`` is shared, e.g.
            ``[1, 2]`` for one slope per channel of an NHWC image.
    """

    def __init__(self, alpha_initializer="zeros", alpha_regularizer=None, alpha_constraint=None, shared_axes=None, **kwargs):
        super().__init__(**kwargs)
        self.alpha_initializer = keras.initializers.get(alpha_initializer)
        self.alpha_regularizer = keras.regularizers.get(alpha_regularizer)
        self.alpha_constraint = keras.constraints.get(alpha_constraint)
        if shared_axes is None:
            self.shared_axes = None
        elif isinstance(shared_axes, (list, tuple)):
            self.shared_axes = list(shared_axes)
        else:
            self.shared_axes = [shared_axes]
        self.supports_masking = True

    def build(self, input_shape):
        param_shape = list(input_shape[1:])
        for axis in self.shared_axes or []:
            if not 1 <= axis < len(input_shape):
                raise ValueError(f"rectify.keras.PReLU: shared axis {axis} is outside 1..{len(input_shape) - 1}")
            param_shape[axis - 1] = 1
        if any(d is None for d in param_shape):
            raise ValueError(
                f"rectify.keras.PReLU: input shape {tuple(input_shape)} has unknown non-shared dimensions; "
                "share them with shared_axes"
            )
        self.alpha = self.add_weight(
            shape=param_shape,
            name="alpha",
            initializer=self.alpha_initializer,
            regularizer=self.alpha_regularizer,
            constraint=self.alpha_constraint,
        )
        axes = {i: input_shape[i] for i in range(1, len(input_shape)) if i not in (self.shared_axes or [])}
        self.input_spec = keras.layers.InputSpec(ndim=len(input_shape), axes=axes)

    def call(self, inputs):
        alpha = keras.ops.cast(self.alpha, inputs.dtype)
        return rtf.prelu(inputs, alpha)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "alpha_initializer": keras.initializers.serialize(self.alpha_initializer),
            "alpha_regularizer": keras.regularizers.serialize(self.alpha_regularizer),
            "alpha_constraint": keras.constraints.serialize(self.alpha_constraint),
            "shared_axes": self.shared_axes,
        }


@keras.saving.register_keras_serializable(package="rectify")
class RReLU(keras.layers.Layer):
    """Randomized leaky ReLU: slope ~ U[lower, upper) per element in training, the fixed
    ``(lower + upper) / 2`` in inference.

    Args:
        lower, upper: the slope interval (defaults 1/8 and 1/3).
        seed: the generator's seed (>= 0); drawn at random when None, then kept in the config.
    """

    def __init__(self, lower=default("RRelu", "lower"), upper=default("RRelu", "upper"), seed=None, **kwargs):
        super().__init__(**kwargs)
        if not lower <= upper:
            raise ValueError(f"rectify.keras.RReLU: lower ({lower}) must not exceed upper ({upper})")
        self.lower = float(lower)
        self.upper = float(upper)
        self.seed = random.SystemRandom().randrange(2**31) if seed is None else int(seed)
        self.supports_masking = True

    def call(self, inputs, training=None):
        outputs = rtf.rrelu(inputs, lower=self.lower, upper=self.upper, training=bool(training), seed=self.seed)
        return outputs.activations

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "lower": self.lower, "upper": self.upper, "seed": self.seed}
