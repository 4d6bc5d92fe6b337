"""rectify: LeakyRelu, PRelu and RRelu, bit-exact against the runtimes' built-ins.

- ``rectify.library_path()`` (alias ``get_library_path()``, the name onnxruntime-extensions
  users know): librectify.so, for ONNX Runtime (``SessionOptions.register_custom_ops_library``).
- ``rectify.tf_library_path()``: librectify_tf.so, the TensorFlow ops; ``import rectify.tf``
  loads it and registers the gradients.
- ``rectify.keras``: ``PReLU`` and ``RReLU`` layers.

Importing ``rectify`` itself loads neither TensorFlow nor ONNX Runtime.
"""

import pathlib

__version__ = "0.1.0"
__all__ = ["library_path", "get_library_path", "tf_library_path"]

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
