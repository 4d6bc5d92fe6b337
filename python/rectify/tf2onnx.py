"""tf2onnx handlers for rectify's TensorFlow ops (needs ``tensorflow`` and ``tf2onnx``).

``convert(fn, input_signature)`` converts a ``tf.function`` (or a Keras model, called with
``training=False``) that uses ``rectify.tf`` / ``rectify.keras`` into an ONNX model whose
rectify nodes keep their semantics in ONNX Runtime + librectify.so:

- ``Rectify>LeakyRelu`` -> ``rectify::LeakyRelu`` with the graph's ``alpha`` (TensorFlow's
  default, 0.2, is written out: the ONNX op's own default is 0.01).
- ``Rectify>Prelu`` -> ``rectify::PRelu`` with the slope as it is: both ops broadcast it the
  numpy way, right-aligned, so a Keras NHWC slope (``[H, W, C]``, or ``[1, 1, C]`` with
  ``shared_axes=[1, 2]``) applies to the NHWC tensor tf2onnx keeps between its Transposes.
  Where tf2onnx's transpose optimizer moves those Transposes through the node, it transposes
  the slope with them (``[1, C, H, W]``): exact, since the two broadcast the same way.
- ``Rectify>Rrelu`` -> ``rectify::RRelu`` with ``lower``, ``upper``, ``training`` and
  ``seed`` (the same generator: a fresh session draws what a fresh TensorFlow program
  draws); the ``slopes`` output is kept only where something reads it.
- On float16 tensors LeakyRelu and inference RRelu become ``rectify::PRelu`` with a float16
  constant slope: TensorFlow multiplies by the slope rounded to float16, ONNX's LeakyRelu by
  the float32 one (an ulp apart on some inputs).

The results are TensorFlow's bit for bit but for two things: zero inputs where the slope is
negative (TensorFlow's rule ``x > 0 ? x : slope * x`` flips the sign of the zero there,
ONNX's passes zeros through) and float32 subnormals (TensorFlow runs its CPU kernels with
subnormal inputs and results flushed to zero, ONNX Runtime does not).

``HANDLERS`` is the ``custom_op_handlers`` mapping for ``tf2onnx.convert.from_function``
(or ``from_graph_def``) when calling tf2onnx directly; give it
``extra_opset=[rectify.tf2onnx.OPSET_IMPORT]`` as well.
"""

import inspect

import numpy as np
import onnx
import tensorflow as tf
import tf2onnx.convert
import tf2onnx.utils

import rectify
import rectify.tf

__all__ = ["convert", "HANDLERS", "OPSET_IMPORT"]

DOMAIN = rectify.spec()["domain"]
#: The opset import rectify's nodes need.
OPSET_IMPORT = onnx.helper.make_opsetid(DOMAIN, rectify.spec()["opset"])

_TF_NAMES = {op["name"]: op["tensorflow"]["name"] for op in rectify.spec()["ops"]}


def _rewrite(node, op_type, attributes):
    """Turns the TensorFlow node into the rectify node in place; TensorFlow's own attributes
    (``T``...) are dropped, not carried into the ONNX node."""
    node.type = op_type
    node.domain = DOMAIN
    for name in list(node.attr):
        del node.attr[name]
    for name, value in attributes.items():
        node.set_attr(name, value)


# TensorFlow's rule is ``x > 0 ? x : x * T(alpha)``, the product in the tensor's type; ONNX's
# (rectify's ONNX ops follow ONNX Runtime) multiplies by the float32 alpha and rounds once.
# For float16 the two differ by an ulp, so there the slope becomes a PRelu constant in
# float16, which is TensorFlow's rule bit for bit. (bfloat16 is left alone: tf2onnx 1.17
# types bfloat16 graph inputs as float16.)
def _scalar_slope(ctx, node, slope):
    """The name of a one-element float16 constant ``slope`` for a float16 input, else None."""
    if ctx.get_dtype(node.input[0]) != onnx.TensorProto.FLOAT16:
        return None
    value = np.array([slope], dtype=np.float32).astype(np.float16)
    return ctx.make_const(tf2onnx.utils.make_name(f"{node.name}_slope"), value).output[0]


def _leaky_relu(ctx, node, name, args):
    alpha = float(node.get_attr_value("alpha"))
    slope = _scalar_slope(ctx, node, alpha)
    if slope is None:
        _rewrite(node, "LeakyRelu", {"alpha": alpha})
    else:
        ctx.replace_inputs(node, [node.input[0], slope])
        _rewrite(node, "PRelu", {})


def _prelu(ctx, node, name, args):
    _rewrite(node, "PRelu", {})


def _rrelu(ctx, node, name, args):
    attributes = {
        "lower": float(node.get_attr_value("lower")),
        "upper": float(node.get_attr_value("upper")),
        "training": int(bool(node.get_attr_value("training"))),
        "seed": int(node.get_attr_value("seed")),
    }
    slopes = node.output[1]
    if not ctx.find_output_consumers(slopes) and slopes not in ctx.outputs:
        # Unread, it would still cost a write per element.
        node.output = node.output[:1]
    mean = np.float32((np.float32(attributes["lower"]) + np.float32(attributes["upper"])) / np.float32(2))
    slope = None if attributes["training"] or len(node.output) > 1 else _scalar_slope(ctx, node, mean)
    if slope is None:
        _rewrite(node, "RRelu", attributes)
    else:
        ctx.replace_inputs(node, [node.input[0], slope])
        _rewrite(node, "PRelu", {})


#: ``custom_op_handlers`` for tf2onnx: TensorFlow op name -> (handler, args).
HANDLERS = {
    _TF_NAMES["LeakyRelu"]: (_leaky_relu, []),
    _TF_NAMES["PRelu"]: (_prelu, []),
    _TF_NAMES["RRelu"]: (_rrelu, []),
}


def convert(fn, input_signature, path=None, opset=17, **kwargs) -> onnx.ModelProto:
    """``tf2onnx.convert.from_function`` with rectify's handlers; returns the ``ModelProto``
    (also written to ``path`` when given). ``fn`` is a ``tf.function`` or a callable such as a
    Keras model (traced with ``training=False`` when it takes that argument). Other keyword
    arguments go to ``from_function`` (``custom_op_handlers`` are merged with rectify's)."""
    if not hasattr(fn, "get_concrete_function"):
        fn = tf.function(_inference_call(fn))
    handlers = {**HANDLERS, **kwargs.pop("custom_op_handlers", {})}
    extra = [*kwargs.pop("extra_opset", []), OPSET_IMPORT]
    model, _ = tf2onnx.convert.from_function(
        fn,
        input_signature=input_signature,
        opset=opset,
        custom_op_handlers=handlers,
        extra_opset=extra,
        output_path=None if path is None else str(path),
        **kwargs,
    )
    return model


def _inference_call(fn):
    try:
        takes_training = "training" in inspect.signature(fn.call if hasattr(fn, "call") else fn).parameters
    except (TypeError, ValueError):
        takes_training = False
    if takes_training:
        return lambda *args: fn(*args, training=False)
    return fn
