"""rectify: LeakyRelu, PRelu and RRelu, bit-exact against the runtimes' built-ins.

- ``rectify.library_path()`` (alias ``get_library_path()``, the name onnxruntime-extensions
  users know): librectify.so, for ONNX Runtime (``SessionOptions.register_custom_ops_library``).
- ``rectify.tf_library_path()``: librectify_tf.so, the TensorFlow ops; ``import rectify.tf``
  loads it and registers the gradients.
- ``rectify.keras``: ``PReLU`` and ``RReLU`` layers.
- ``rectify.onnx`` (needs the ``onnx`` package): ``register_schemas()``, so that onnx's checker
  and shape inference (``rectify.onnx.infer_shapes``) understand rectify nodes, and
  ``reference_ops()``, numpy kernels for ``onnx.reference.ReferenceEvaluator`` that give
  librectify.so's results bit for bit.
- ``rectify.torch`` (needs ``torch`` and ``onnxscript``): ``export()``, PyTorch's ONNX
  exporters (dynamo and TorchScript) writing ``nn.PReLU`` and ``nn.RReLU`` as rectify nodes.
- ``rectify.tf2onnx`` (needs ``tf2onnx``): ``convert()``, tf2onnx with handlers for
  rectify's TensorFlow ops, so Keras models with ``rectify.keras`` layers reach ONNX.
- ``rectify.spec()``: the op registry (``rectify info --json``): the ops, their inputs,
  outputs, attributes with types and defaults (ONNX's and TensorFlow's), element types and
  hosts. ``rectify.tf`` and ``rectify.keras`` take their names and defaults from it.

Importing ``rectify`` itself loads neither TensorFlow, ONNX Runtime nor onnx.
"""

import functools
import json
import pathlib

__version__ = "0.1.0"
__all__ = ["library_path", "get_library_path", "tf_library_path", "spec", "op_spec", "default"]

_HERE = pathlib.Path(__file__).resolve().parent


def _find(name: str) -> str:
    # The wheel's copy, in lib/: a folder without __init__.py, so neither importable nor
    # listed by help(rectify).
    bundled = _HERE / "lib" / name
    if bundled.is_file():
        return str(bundled)
    # A source checkout used without installing (PYTHONPATH=python): cargo's output.
    built = _HERE.parent.parent / "target" / "release" / name
    if built.is_file():
        return str(built)
    raise FileNotFoundError(
        f"{name} is not bundled with this rectify package ({_HERE / 'lib'}): reinstall the "
        "rectify wheel, or from a source checkout build it with `make build`"
    )


def library_path() -> str:
    """The path of librectify.so, the ONNX Runtime custom-op library."""
    return _find("librectify.so")


def get_library_path() -> str:
    """The path of librectify.so (the same as ``library_path()``)."""
    return library_path()


def tf_library_path() -> str:
    """The path of librectify_tf.so, the TensorFlow op library."""
    return _find("librectify_tf.so")


@functools.lru_cache(maxsize=None)
def spec() -> dict:
    """The op registry, as ``rectify info --json`` prints it (shipped as ``spec.json``)."""
    return json.loads((_HERE / "spec.json").read_text())


def op_spec(name: str) -> dict:
    """One op's entry in :func:`spec` by its ONNX name (``"LeakyRelu"``, ``"PRelu"``, ``"RRelu"``)."""
    for op in spec()["ops"]:
        if op["name"] == name:
            return op
    raise KeyError(f"rectify has no op {name!r}; it has {', '.join(o['name'] for o in spec()['ops'])}")


def default(op: str, attribute: str, framework: str = "onnx"):
    """An attribute's default: ONNX's, or TensorFlow's (``framework="tensorflow"``)."""
    for attr in op_spec(op)["attributes"]:
        if attr["name"] == attribute:
            return attr["tensorflow_default" if framework == "tensorflow" else "default"]
    raise KeyError(f"rectify's {op} has no attribute {attribute!r}")
