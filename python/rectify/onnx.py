"""rectify's ops for the ``onnx`` package: schemas, shape inference and a numpy reference.

- ``register_schemas()``: an ``onnx.defs.OpSchema`` for every op of :func:`rectify.spec`,
  registered with ``onnx.defs.register_schema`` (once; calling it again changes nothing).
  ``onnx.checker.check_model(model, full_check=True)`` then checks rectify nodes (attribute
  types, element types, attribute values) and ``onnx.shape_inference.infer_shapes`` runs
  through them.
- ``infer_shapes(model, **kwargs)``: ``register_schemas()``, then onnx's ``infer_shapes``.
- ``reference_ops()``: ``onnx.reference.op_run.OpRun`` classes for
  ``onnx.reference.ReferenceEvaluator(model, new_ops=rectify.onnx.reference_ops())``, bit for
  bit what ONNX Runtime with librectify.so computes (NaN payloads aside), refusing what it
  refuses with its messages; ``evaluate(model, feeds)`` runs one.

Needs an ``onnx`` whose ``OpSchema`` takes a Python inference function (added after onnx
1.16, onnx/onnx#5940; tested with 1.23.2) and ml_dtypes, onnx's dependency, for bfloat16.
``import rectify`` does not import this module.

Shape inference is Python code: onnx's ``OpSchema.set_type_and_shape_inference_function``
(the Python binding of the C++ ``TypeAndShapeInferenceFunction``) gives every output of a
rectify node the type and shape of its input ``X``, dims symbolic or unknown as they are.
onnx propagates an exception from such a function even when not in strict mode, so it
raises ``InferenceError`` only for a node ONNX Runtime would refuse too (an attribute out of
range, a slope of known shape that cannot broadcast).

RRelu in training draws its slopes from rectify's Philox stream, a new run per call of a
kernel: the reference raises ``NotImplementedError`` for it rather than guess a run.
"""

import atexit
import functools

import numpy as np
import onnx
from onnx import AttributeProto, defs, helper, shape_inference
from onnx.reference import ReferenceEvaluator
from onnx.reference.op_run import OpRun

import rectify

if not hasattr(defs.OpSchema, "set_type_and_shape_inference_function"):
    raise ImportError(
        f"rectify.onnx needs an onnx whose OpSchema takes a Python shape inference function "
        f"(set_type_and_shape_inference_function, after onnx 1.16); this is onnx {onnx.__version__}"
    )

import ml_dtypes  # noqa: E402 - after the check: an old onnx, not its missing dependency, is the news

__all__ = ["register_schemas", "infer_shapes", "reference_ops", "evaluate"]

_SPEC = rectify.spec()
_OPSET = _SPEC["opset"]
_PROTO_TYPES = {"float": AttributeProto.FLOAT, "int": AttributeProto.INT}
_SCHEMA_TYPES = {"float": defs.OpSchema.AttrType.FLOAT, "int": defs.OpSchema.AttrType.INT}
_KIND = {"float": "a float", "int": "an int"}  # as src/ort/api.rs words a wrong type

# ONNX Runtime's rounding per element type, which rectify follows (src/kernels/element/,
# `Scalar`): the type a product is computed in before its one rounding to the element type,
# and whether a -0 product comes out +0 (the `Where` of ORT's function bodies), for
# (LeakyRelu and RRelu, PRelu).
_ROUNDING = {
    "float": (np.float32, (False, False)),
    "double": (np.float64, (True, True)),
    "float16": (np.float32, (False, True)),
    "bfloat16": (np.float32, (False, True)),
}


def _element(op, input_name, dtype):
    """The spec's name of a numpy dtype (``"float16"``), or a ValueError naming the input."""
    try:
        onnx_id = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    except (KeyError, TypeError, ValueError):
        onnx_id = None
    for element in _SPEC["element_types"]:
        if element["onnx_id"] == onnx_id and element["name"] in op["element_types"]:
            return element["name"]
    allowed = ", ".join(f"tensor({t})" for t in op["element_types"])
    raise ValueError(f"rectify: {op['name']}: input '{input_name}' has element type {dtype}; expected one of {allowed}")


def _element_of_id(onnx_id):
    return next((e["name"] for e in _SPEC["element_types"] if e["onnx_id"] == onnx_id), None)


def _number(value):
    """A float as rectify's messages print one (Rust's Display: NaN, inf, no exponent)."""
    if np.isnan(value):
        return "NaN"
    if np.isinf(value):
        return "inf" if value > 0 else "-inf"
    return np.format_float_positional(value, trim="-")


def _shape(dims):
    return "[" + ", ".join("?" if d is None else str(d) for d in dims) + "]"


def _attributes(op, given):
    """The node's attribute values ({name: AttributeProto or None}), defaults filled in from
    the spec (None where the spec has none), checked as rectify checks them."""
    name, values = op["name"], {}
    for attr in op["attributes"]:
        proto = given.get(attr["name"])
        if proto is None:
            value = attr["default"]
        elif proto.type != _PROTO_TYPES[attr["type"]]:
            got = AttributeProto.AttributeType.Name(proto.type)
            raise ValueError(f"rectify: {name}: attribute '{attr['name']}' must be {_KIND[attr['type']]}, got {got}")
        else:
            value = proto.f if attr["type"] == "float" else proto.i
        if attr["type"] == "float" and value is not None:
            value = np.float32(value)  # ONNX's float attributes are float32
            if not np.isfinite(value):
                raise ValueError(f"rectify: {name}: attribute '{attr['name']}' must be finite, got {_number(value)}")
        values[attr["name"]] = value
    _ATTRIBUTE_CHECKS.get(name, lambda values: None)(values)
    return values


def _check_rrelu(values):
    """src/kernels/rrelu: Rrelu::new."""
    if values["training"] not in (0, 1):
        raise ValueError(f"rectify: RRelu: attribute 'training' must be 0 or 1, got {values['training']}")
    if values["seed"] < 0:
        raise ValueError(f"rectify: RRelu: attribute 'seed' must be >= 0, got {values['seed']}")
    lower, upper = values["lower"], values["upper"]
    if lower > upper:
        raise ValueError(
            f"rectify: RRelu: attribute 'lower' ({_number(lower)}) must not exceed attribute 'upper' ({_number(upper)})"
        )


def _check_rrelu_element(values, element):
    """src/kernels/rrelu: Rrelu::check_element_type: slopes must be finite values of the type."""
    largest = float(ml_dtypes.finfo(helper.tensor_dtype_to_np_dtype(_ONNX_IDS[element])).max)
    for name in ("lower", "upper"):
        if abs(float(values[name])) > largest:
            raise ValueError(
                f"rectify: RRelu: attribute '{name}' = {_number(values[name])} does not fit "
                f"tensor({element}) (largest finite {_number(largest)})"
            )


def _slope_dims(x_shape, slope_shape, axis):
    """PRelu's slope dims aligned to X's (src/kernels/prelu: broadcast_slope, channel_slope);
    a None dim (unknown to shape inference) matches any."""
    same = lambda s, x: s is None or x is None or s == x or s == 1  # noqa: E731
    rank = len(x_shape)
    if axis is None:
        if len(slope_shape) > rank or not all(map(same, reversed(slope_shape), reversed(x_shape))):
            raise ValueError(
                f"rectify: PRelu: input 'slope' of shape {_shape(slope_shape)} is not unidirectionally "
                f"broadcastable to input 'X' of shape {_shape(x_shape)}"
            )
        return [1] * (rank - len(slope_shape)) + list(slope_shape)
    resolved = axis + rank if axis < 0 else axis
    if not 0 <= resolved < rank:
        raise ValueError(
            f"rectify: PRelu: attribute 'axis' = {axis} is out of range for input 'X' of rank {rank} "
            f"(expected {-rank} to {rank - 1})"
        )
    channels = x_shape[resolved]
    if len(slope_shape) != 1 or not same(slope_shape[0], channels):
        raise ValueError(
            f"rectify: PRelu: with attribute 'axis' = {axis}, input 'slope' must be 1-D of length "
            f"{'?' if channels is None else channels} or 1 (X has shape {_shape(x_shape)}), got shape {_shape(slope_shape)}"
        )
    dims = [1] * rank
    dims[resolved] = slope_shape[0]
    return dims


def _leaky(x, alpha, element):
    """LeakyRelu's rule with a float32 alpha (src/kernels/element `Scalar::leaky`)."""
    compute, (plus_zero, _) = _ROUNDING[element]
    wide = x.astype(compute)
    product = wide * compute(alpha)
    if plus_zero:
        product = product + compute(0)
    return np.where(wide < 0, product, wide).astype(x.dtype)


def _leaky_relu(values, element, x):
    return (_leaky(x, values["alpha"], element),)


def _prelu(values, element, x, slope):
    """PRelu's rule (src/kernels/element `Scalar::prelu`): x as it is where not negative."""
    compute, (_, plus_zero) = _ROUNDING[element]
    slope = slope.reshape(_slope_dims(x.shape, slope.shape, values["axis"]))
    product = x.astype(compute) * slope.astype(compute)
    if plus_zero:
        product = product + compute(0)
    return (np.where(x < 0, product.astype(x.dtype), x),)


def _rrelu(values, element, x):
    """Inference: LeakyRelu at (lower + upper) / 2 taken in float32 (Rrelu::mean_slope); the
    slope output holds that slope where x < 0, else 1."""
    if values["training"]:
        raise NotImplementedError(
            "rectify.onnx: RRelu with attribute 'training' = 1 draws its slopes from rectify's "
            "Philox stream, a new run per call, which this reference does not reproduce; "
            "run it with ONNX Runtime and librectify.so"
        )
    mean = (values["lower"] + values["upper"]) / np.float32(2)
    slope = np.where(x < 0, np.asarray(mean).astype(x.dtype), np.ones((), x.dtype)).astype(x.dtype)
    return _leaky(x, mean, element), slope


_ONNX_IDS = {e["name"]: e["onnx_id"] for e in _SPEC["element_types"]}
_ATTRIBUTE_CHECKS = {"RRelu": _check_rrelu}
_ELEMENT_CHECKS = {"RRelu": _check_rrelu_element}
_SHAPE_CHECKS = {"PRelu": lambda values, x, slope: _slope_dims(x, slope, values["axis"])}
_KERNELS = {"LeakyRelu": _leaky_relu, "PRelu": _prelu, "RRelu": _rrelu}


def _dims(type_proto):
    """The dims of a tensor type (None for unknown ones), or None for an unknown rank."""
    if type_proto is None or not type_proto.tensor_type.HasField("shape"):
        return None
    return [d.dim_value if d.HasField("dim_value") else None for d in type_proto.tensor_type.shape.dim]


def _inference(op):
    """The type-and-shape function of `op`: every output has X's type and shape."""

    def infer(ctx):
        try:
            values = _attributes(op, {a["name"]: ctx.get_attribute(a["name"]) for a in op["attributes"]})
            x = ctx.get_input_type(0) if ctx.get_num_inputs() else None
            element = _element_of_id(x.tensor_type.elem_type) if x is not None else None
            if element in op["element_types"] and op["name"] in _ELEMENT_CHECKS:
                _ELEMENT_CHECKS[op["name"]](values, element)
            shapes = [_dims(ctx.get_input_type(i)) for i in range(ctx.get_num_inputs())]
            if op["name"] in _SHAPE_CHECKS and len(shapes) == len(op["inputs"]) and None not in shapes:
                _SHAPE_CHECKS[op["name"]](values, *shapes)
        except ValueError as e:
            raise shape_inference.InferenceError(str(e)) from None
        if x is None or not x.HasField("tensor_type"):
            return
        for i in range(ctx.get_num_outputs()):
            if ctx.has_output(i):
                ctx.set_output_type(i, x)

    return infer


def _parameter(param):
    option = defs.OpSchema.FormalParameterOption
    return defs.OpSchema.FormalParameter(
        param["name"], "T", param_option=option.Optional if param["optional"] else option.Single
    )


def _schema_attribute(attr):
    if attr["default"] is None:
        return defs.OpSchema.Attribute(attr["name"], _SCHEMA_TYPES[attr["type"]], required=False)
    value = float(attr["default"]) if attr["type"] == "float" else int(attr["default"])
    return defs.OpSchema.Attribute(attr["name"], helper.make_attribute(attr["name"], value))


@functools.lru_cache(maxsize=None)
def _schema(name):
    op = rectify.op_spec(name)
    schema = defs.OpSchema(
        name,
        _SPEC["domain"],
        _OPSET,
        f"rectify's {name}, as librectify.so runs it in ONNX Runtime (see rectify.spec()).",
        inputs=[_parameter(p) for p in op["inputs"]],
        outputs=[_parameter(p) for p in op["outputs"]],
        type_constraints=[("T", [f"tensor({t})" for t in op["element_types"]], "rectify's element types")],
        attributes=[_schema_attribute(a) for a in op["attributes"]],
    )
    schema.set_type_and_shape_inference_function(_inference(op))
    return schema


def register_schemas():
    """Registers an OpSchema for every rectify op with onnx (skipping those registered
    already) and returns the registered schemas."""
    domain, registered = _SPEC["domain"], []
    for op in _SPEC["ops"]:
        if not defs.has(op["name"], _OPSET, domain):
            defs.register_schema(_schema(op["name"]))
            if not _ours:
                atexit.register(_deregister)
            _ours.append(op["name"])
        registered.append(defs.get_schema(op["name"], _OPSET, domain))
    return registered


_ours = []  # the schemas register_schemas() registered


def _deregister():
    # onnx/onnx#7508: a registered schema whose inference function is Python code can crash
    # the interpreter's shutdown; dropped here while Python still runs.
    for name in _ours:
        defs.deregister_schema(name, _OPSET, _SPEC["domain"])
    _ours.clear()


def infer_shapes(model, **kwargs):
    """``onnx.shape_inference.infer_shapes`` (same arguments) with rectify's schemas registered."""
    register_schemas()
    return shape_inference.infer_shapes(model, **kwargs)


class _RectifyOp(OpRun):
    op_domain = _SPEC["domain"]

    def _run(self, *inputs, **_converted):
        # Attributes are read from the node, not from OpRun's conversion, which would take
        # an INT alpha as it is.
        op = self._rectify_op
        node = self.onnx_node
        values = _attributes(op, {a.name: a for a in node.attribute})
        declared = [p["name"] for p in op["inputs"]]
        if len(inputs) != len(declared) or any(v is None for v in inputs):
            raise ValueError(
                f"rectify: {op['name']}: the node has inputs {list(node.input)}, expected {len(declared)} ({', '.join(declared)})"
            )
        arrays = [np.asarray(v) for v in inputs]
        element = _element(op, declared[0], arrays[0].dtype)
        for name, array in zip(declared[1:], arrays[1:]):
            if array.dtype != arrays[0].dtype:
                raise ValueError(
                    f"rectify: {op['name']}: input '{name}' has element type {array.dtype}, expected X's ({arrays[0].dtype})"
                )
        if op["name"] in _ELEMENT_CHECKS:
            _ELEMENT_CHECKS[op["name"]](values, element)
        with np.errstate(all="ignore"):  # inf * 0 and overflow are part of the rule
            outputs = _KERNELS[op["name"]](values, element, *arrays)
        named = len(node.output)
        while named > 1 and not node.output[named - 1]:
            named -= 1  # an omitted trailing output: nothing to store under ""
        return tuple(outputs[:named])


def reference_ops():
    """OpRun classes of every rectify op, for ``ReferenceEvaluator(..., new_ops=...)``."""
    for op in _SPEC["ops"]:
        missing = [t for t in op["element_types"] if t not in _ROUNDING]
        if op["name"] not in _KERNELS or missing:
            raise NotImplementedError(f"rectify.onnx has no reference for {op['name']} ({', '.join(missing) or 'the op'})")
    return [
        type(op["name"], (_RectifyOp,), {"op_schema": _schema(op["name"]), "_rectify_op": op})
        for op in _SPEC["ops"]
    ]


def evaluate(model, feeds, outputs=None):
    """Runs `model` (ModelProto, bytes or path) on `feeds` with onnx's ReferenceEvaluator and
    rectify's ops: the list of `outputs` (all by default)."""
    return ReferenceEvaluator(model, new_ops=reference_ops()).run(outputs, feeds)
