"""rectify's ops in TensorFlow: ``leaky_relu``, ``prelu``, ``rrelu`` and their gradients.

Importing this module loads librectify_tf.so once (by its real path, so TensorFlow's
library cache cannot load it twice under two names) and registers the gradients once. It
must be imported before loading a SavedModel that uses the ops (``tf.saved_model.load``):
SavedModels hold neither the op library nor Python gradients.

Forward results are bit-identical to TensorFlow's own ops where one exists
(``tf.nn.leaky_relu``: ``x > 0 ? x : x * T(alpha)`` computed in the tensor's type).
"""

import collections
import ctypes
import os
import threading
import types
import warnings

import tensorflow as tf

from . import default, spec, tf_library_path

__all__ = ["leaky_relu", "leaky_relu_grad", "prelu", "prelu_grad", "rrelu", "rrelu_grad", "OP_NAMES"]

#: The TensorFlow op names librectify_tf.so registers (from the registry: each op, then its
#: gradient).
OP_NAMES = tuple(name for op in spec()["ops"] for name in (op["tensorflow"]["name"], op["tensorflow"]["gradient"]))

_ALPHA = default("LeakyRelu", "alpha", "tensorflow")
_LOWER = default("RRelu", "lower", "tensorflow")
_UPPER = default("RRelu", "upper", "tensorflow")

RreluOutput = collections.namedtuple("RreluOutput", ["activations", "slopes"])

#: The TensorFlow minor releases whose latest patch passes the tests/tf suite with this
#: op library (`make test-matrix-tf`; TensorFlow's C API is not frozen).
TESTED_TENSORFLOW = ("2.16", "2.17", "2.18", "2.19", "2.20", "2.21")

if ".".join(tf.__version__.split(".")[:2]) not in TESTED_TENSORFLOW:
    warnings.warn(
        f"rectify.tf was tested with TensorFlow {', '.join(TESTED_TENSORFLOW)}; this is {tf.__version__}",
        RuntimeWarning,
        stacklevel=2,
    )

_lock = threading.Lock()


def _wrappers_from_registry():
    """Python wrappers for ops that are registered but that ``tf.load_op_library`` returned
    without functions (the library was loaded earlier, or under another path)."""
    from tensorflow.core.framework import op_def_pb2
    from tensorflow.python.framework import _pywrap_python_op_gen
    from tensorflow.python.framework import op_def_registry

    if op_def_registry.get(OP_NAMES[0]) is None:
        # Loaded before TensorFlow: its load-time registration found no TensorFlow.
        ctypes.CDLL(os.path.realpath(tf_library_path())).rectify_register_tf()
    op_list = op_def_pb2.OpList()
    for name in OP_NAMES:
        op_def = op_def_registry.get(name)
        if op_def is None:
            raise RuntimeError(f"rectify: the TensorFlow op {name} is not registered")
        op_list.op.add().CopyFrom(op_def)
    module = types.ModuleType("rectify_tf_ops")
    exec(_pywrap_python_op_gen.GetPythonWrappers(op_list.SerializeToString()), module.__dict__)
    return module


def _load():
    with _lock:
        module = tf.load_op_library(os.path.realpath(tf_library_path()))
        if not hasattr(module, "rectify_leaky_relu"):
            module = _wrappers_from_registry()
        return module


_ops = _load()


def leaky_relu(features, alpha=_ALPHA, name=None):
    """``features > 0 ? features : alpha * features`` (TensorFlow's default alpha, 0.2)."""
    return _ops.rectify_leaky_relu(features, alpha=alpha, name=name)


def leaky_relu_grad(gradients, features, alpha=_ALPHA, name=None):
    """``features > 0 ? gradients : alpha * gradients``; the shapes must match."""
    return _ops.rectify_leaky_relu_grad(gradients, features, alpha=alpha, name=name)


def prelu(features, slope, name=None):
    """``features > 0 ? features : slope * features``, ``slope`` broadcast to ``features``
    (numpy rules, right-aligned; each slope dimension equal to the feature's or 1)."""
    return _ops.rectify_prelu(features, slope, name=name)


def prelu_grad(gradients, features, slope, name=None):
    """``(backprops, slope_backprops)``: the gradients for ``features`` and, summed over the
    broadcast dimensions, for ``slope`` (its shape)."""
    return _ops.rectify_prelu_grad(gradients, features, slope, name=name)


def rrelu(features, lower=_LOWER, upper=_UPPER, training=False, seed=0, name=None):
    """Randomized leaky ReLU. Returns ``(activations, slopes)``.

    In training, each element draws its slope from U[lower, upper) with rectify's counter-based
    generator (the same as the ONNX op): the same ``seed`` gives the same slopes in a fresh
    program, and every further run of the op draws new ones. In inference the slope is
    ``(lower + upper) / 2``. ``slopes`` holds the slope each element saw (1 where
    ``features > 0``), which the gradient uses.
    """
    y, s = _ops.rectify_rrelu(features, lower=lower, upper=upper, training=bool(training), seed=seed, name=name)
    return RreluOutput(y, s)


def rrelu_grad(gradients, slopes, name=None):
    """``gradients * slopes``; the shapes must match."""
    return _ops.rectify_rrelu_grad(gradients, slopes, name=name)


def _register_gradients():
    from tensorflow.python.framework import ops as tf_ops

    def register(op_name, fn):
        try:
            tf_ops.gradient_registry.lookup(op_name)
            return  # already registered (e.g. this module was reloaded)
        except LookupError:
            tf.RegisterGradient(op_name)(fn)

    def leaky(op, grad):
        return leaky_relu_grad(grad, op.inputs[0], alpha=op.get_attr("alpha"))

    def leaky_second_order(op, grad):
        # As TensorFlow's LeakyReluGrad gradient: linear in the gradients, flat in features.
        return (leaky_relu_grad(grad, op.inputs[1], alpha=op.get_attr("alpha")), tf.zeros_like(op.inputs[1]))

    def prelu_backward(op, grad):
        dx, dslope = prelu_grad(grad, op.inputs[0], op.inputs[1])
        return dx, dslope

    def rrelu_backward(op, grad_activations, grad_slopes):
        del grad_slopes  # the slopes are samples, not a function of the features
        if grad_activations is None:
            return tf.zeros_like(op.inputs[0])
        return rrelu_grad(grad_activations, op.outputs[1])

    register("Rectify>LeakyRelu", leaky)
    register("Rectify>LeakyReluGrad", leaky_second_order)
    register("Rectify>Prelu", prelu_backward)
    register("Rectify>Rrelu", rrelu_backward)


_register_gradients()
