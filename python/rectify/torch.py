"""PyTorch's ONNX exporters, writing rectify's ops (needs ``torch``; ``pip install rectify[torch]``).

``export(module, args, path)`` wraps ``torch.onnx.export`` for both of its exporters:

- ``nn.PReLU(num_parameters=C)`` becomes ``rectify::PRelu`` with ``axis=1`` and the ``[C]``
  slope as it is (PyTorch's own export reshapes it to ``[1, C, 1, 1]``); ``nn.PReLU()`` keeps
  its one-element slope, which broadcasts like a scalar.
- ``nn.RReLU`` in eval mode becomes ``rectify::RRelu`` in inference form with ``lower`` and
  ``upper`` kept (PyTorch's export writes ``LeakyRelu((lower + upper) / 2)``); in training mode
  ``rectify::RRelu(training=1, seed=...)``: the k-th RRelu node of the export (in graph order,
  from 0) gets ``seed + k``, so layers draw independent slopes; a fresh session draws the
  same slopes for the same seed, each further run of a session new ones (rectify's RRelu).
- ``nn.LeakyReLU`` stays ONNX's LeakyRelu (ONNX Runtime fuses it into a preceding Conv) unless
  ``leaky_relu=True``.

The translations are usable with ``torch.onnx.export`` directly: ``translation_table()`` for
the dynamo exporter (``custom_translation_table=``), ``symbolics()`` (a context manager that
registers TorchScript symbolic functions) for ``dynamo=False``, with
``custom_opsets={"rectify": 1}``.
"""

import contextlib
import itertools

import onnx_ir
import torch

import rectify
import rectify.onnx

__all__ = ["export", "translation_table", "symbolics"]

DOMAIN = rectify.spec()["domain"]
OPSET = rectify.spec()["opset"]
# Opset of the default domain for dynamo=False when the caller gives none: the newest the
# TorchScript exporter writes.
TORCHSCRIPT_OPSET = 20

_LOWER = rectify.default("RRelu", "lower")
_UPPER = rectify.default("RRelu", "upper")


def _slope_axis(weight_shape) -> dict:
    """``axis=1`` for a per-channel slope; nothing for PyTorch's one-element slope."""
    dims = list(weight_shape) if weight_shape is not None else None
    if dims is not None and len(dims) == 1 and dims[0] == 1:
        return {}
    return {"axis": 1}


def _rrelu_attributes(lower, upper, training, seeds) -> dict:
    attributes = {"lower": float(lower), "upper": float(upper), "training": int(bool(training))}
    if training:
        attributes["seed"] = next(seeds)
    return attributes


def translation_table(seed: int = 0, leaky_relu: bool = False) -> dict:
    """onnxscript translations for ``torch.onnx.export(..., dynamo=True, custom_translation_table=)``.

    Registers rectify's ONNX schemas (``rectify.onnx.register_schemas``) first: onnxscript
    builds a node of a custom domain only from a known schema. Each call starts a new seed
    counter (``seed`` for the first training-mode RRelu node, ``seed + 1`` for the next...).
    """
    import onnxscript

    rectify.onnx.register_schemas()
    ops = onnxscript.values.Opset(DOMAIN, OPSET)
    seeds = itertools.count(int(seed))

    def prelu(x, weight):
        return ops.PRelu(x, weight, **_slope_axis(weight.shape))

    def rrelu(x, lower=_LOWER, upper=_UPPER, training=False, generator=None):
        # The schema declares the optional Slope output too; export() drops it when unused.
        return ops.RRelu(x, **_rrelu_attributes(lower, upper, training, seeds))[0]

    def rrelu_with_noise(x, noise, lower=_LOWER, upper=_UPPER, training=False, generator=None):
        # What nn.RReLU(inplace=True) becomes: (output, noise); the noise PyTorch writes is
        # the drawn slope where x < 0, rectify's Slope output the drawn slope everywhere.
        return ops.RRelu(x, **_rrelu_attributes(lower, upper, training, seeds))

    aten = torch.ops.aten
    table = {
        aten.prelu.default: prelu,
        aten.rrelu.default: rrelu,
        aten.rrelu_.default: rrelu,
        aten.rrelu_with_noise_functional.default: rrelu_with_noise,
    }
    if leaky_relu:

        def leaky(x, negative_slope=0.01):
            return ops.LeakyRelu(x, alpha=float(negative_slope))

        table[aten.leaky_relu.default] = leaky
        table[aten.leaky_relu_.default] = leaky
    return table


def _symbolic_functions(seed: int, leaky_relu: bool) -> dict:
    from torch.onnx import symbolic_helper

    seeds = itertools.count(int(seed))

    def node(g, op, x, *inputs, **attributes):
        # Typed like X: without a type the TorchScript exporter warns and guesses.
        y = g.op(f"{DOMAIN}::{op}", x, *inputs, **attributes)
        y.setType(x.type())
        return y

    def prelu(g, x, weight):
        axis = _slope_axis(symbolic_helper._get_tensor_sizes(weight))
        return node(g, "PRelu", x, weight, **{f"{k}_i": v for k, v in axis.items()})

    @symbolic_helper.parse_args("v", "f", "f", "i", "none")
    def rrelu(g, x, lower, upper, training, generator):
        attributes = _rrelu_attributes(lower, upper, training, seeds)
        return node(g, "RRelu", x, lower_f=attributes.pop("lower"), upper_f=attributes.pop("upper"),
                    **{f"{k}_i": v for k, v in attributes.items()})

    functions = {"aten::prelu": prelu, "aten::rrelu": rrelu}
    if leaky_relu:

        @symbolic_helper.parse_args("v", "f", "b")
        def leaky(g, x, negative_slope, inplace=False):
            return node(g, "LeakyRelu", x, alpha_f=negative_slope)

        functions["aten::leaky_relu"] = leaky
    return functions


@contextlib.contextmanager
def symbolics(opset_version: int = TORCHSCRIPT_OPSET, seed: int = 0, leaky_relu: bool = False):
    """TorchScript symbolic functions for ``torch.onnx.export(..., dynamo=False)``, registered
    for ``opset_version`` while the ``with`` block runs. Give the export's opset: PyTorch uses
    them for exports at that opset and above, its own below."""
    functions = _symbolic_functions(seed, leaky_relu)
    for name, function in functions.items():
        torch.onnx.register_custom_op_symbolic(name, function, opset_version)
    try:
        yield
    finally:
        for name in functions:
            torch.onnx.unregister_custom_op_symbolic(name, opset_version)


def _drop_unused_slopes(model: onnx_ir.Model) -> None:
    """RRelu's optional second output (the drawn slopes) costs a write per element: remove it
    where nothing reads it."""
    for node in model.graph.all_nodes():
        if (node.domain, node.op_type) != (DOMAIN, "RRelu") or len(node.outputs) < 2:
            continue
        slope = node.outputs[1]
        if not slope.uses() and not slope.is_graph_output():
            node.resize_outputs(1)


def export(module, args, path, dynamo: bool = True, seed: int = 0, leaky_relu: bool = False,
           **kwargs):
    """``torch.onnx.export(module, args, path, ...)`` with rectify's translations installed.

    ``dynamo`` picks the exporter (PyTorch's default, True, or TorchScript); ``seed`` is the
    first training-mode RRelu node's seed; ``leaky_relu=True`` writes ``rectify::LeakyRelu``
    for ``nn.LeakyReLU``. Other keyword arguments go to ``torch.onnx.export`` (for example
    ``dynamic_shapes``, ``external_data``, ``opset_version`` or, for TorchScript, ``training``:
    it exports in eval mode unless given ``torch.onnx.TrainingMode.TRAINING``). Returns what
    ``torch.onnx.export`` returns (the ``ONNXProgram`` for dynamo).
    """
    if dynamo:
        table = {**translation_table(seed, leaky_relu), **kwargs.pop("custom_translation_table", {})}
        program = torch.onnx.export(module, args, None, dynamo=True,
                                    custom_translation_table=table, **kwargs)
        _drop_unused_slopes(program.model)
        program.save(str(path), external_data=kwargs.get("external_data", True))
        return program
    opset_version = kwargs.pop("opset_version", None) or TORCHSCRIPT_OPSET
    custom_opsets = {**kwargs.pop("custom_opsets", {}), DOMAIN: OPSET}
    with symbolics(opset_version, seed, leaky_relu):
        return torch.onnx.export(module, args, str(path), dynamo=False, opset_version=opset_version,
                                 custom_opsets=custom_opsets, **kwargs)
