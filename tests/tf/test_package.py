"""The pip-installed package: where its libraries are, that `import rectify` loads no
framework, that librectify.so serves ONNX Runtime from the same venv, and loading the
TensorFlow library twice, under another name, or before TensorFlow."""

import os
import pathlib

import numpy as np
import onnxruntime as ort

import rectify
from conftest import ROOT, run_python


def test_the_package_bundles_both_libraries():
    package = pathlib.Path(rectify.__file__).parent
    assert "site-packages" in str(package), f"tests must use the installed package, got {package}"
    assert pathlib.Path(rectify.library_path()).parent == package / "lib"
    assert pathlib.Path(rectify.tf_library_path()).parent == package / "lib"


def test_import_rectify_loads_no_framework():
    out = run_python("import sys, rectify; print('tensorflow' in sys.modules, 'onnxruntime' in sys.modules)")
    assert out.split() == ["False", "False"]


def test_library_path_serves_onnx_runtime():
    so = ort.SessionOptions()
    so.register_custom_ops_library(rectify.library_path())
    session = ort.InferenceSession(str(ROOT / "models/prelu_axis1_float.onnx"), so, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).standard_normal((2, 3, 8, 10)).astype(np.float32)
    slope = np.array([0.1, 0.2, 0.3], dtype=np.float32)
    (y,) = session.run(None, {"X": x, "slope": slope})
    assert np.array_equal(y, np.where(x < 0, x * slope[:, None, None], x))


def test_the_readme_snippet_runs():
    readme = (ROOT / "README.md").read_text()
    snippet = readme.split("```python\nimport rectify")[1].split("```")[0]
    out = run_python("import rectify" + snippet + "\nprint('done')")
    assert out.strip().endswith("done")


def test_loading_through_a_symlink_neither_crashes_nor_registers_twice(tmp_path):
    link = tmp_path / "librectify_tf_link.so"
    os.symlink(rectify.tf_library_path(), link)
    out = run_python(
        "import tensorflow as tf, rectify.tf as rtf\n"
        f"other = tf.load_op_library({str(link)!r})\n"
        "print([n for n in dir(other) if n.startswith('rectify_leaky_relu')])\n"
        "print(float(rtf.leaky_relu(tf.constant(-1.0))))\n"
    )
    assert out.splitlines()[-1] == "-0.20000000298023224"
    # Loaded first under the other name: rectify.tf still finds working ops.
    out = run_python(
        "import tensorflow as tf\n"
        f"tf.load_op_library({str(link)!r})\n"
        "import rectify.tf as rtf\n"
        "print(float(rtf.leaky_relu(tf.constant(-1.0))))\n"
    )
    assert out.strip() == "-0.20000000298023224"


def test_a_library_loaded_before_tensorflow_still_registers():
    out = run_python(
        "import ctypes, rectify\n"
        "ctypes.CDLL(rectify.tf_library_path())  # no TensorFlow yet: stays inert\n"
        "import tensorflow as tf, rectify.tf as rtf\n"
        "with tf.GradientTape() as t:\n"
        "    x = tf.constant([-2.0, 3.0]); t.watch(x); y = rtf.leaky_relu(x)\n"
        "print(rtf.leaky_relu(x).numpy().tolist(), t.gradient(y, x).numpy().tolist())\n"
    )
    assert out.strip() == "[-0.4000000059604645, 3.0] [0.20000000298023224, 1.0]"


def test_rectify_tf_warns_only_on_a_tensorflow_the_matrix_does_not_pass():
    import rectify.tf

    releases = (ROOT / "tests/matrix/tf-releases.txt").read_text().splitlines()
    listed = [line.split()[0] for line in releases if line.strip() and not line.startswith("#")]
    assert rectify.tf.TESTED_TENSORFLOW == tuple(".".join(v.split(".")[:2]) for v in listed)
    strict = "import warnings\nwarnings.simplefilter('error')\n"
    assert run_python(strict + "import rectify.tf\nprint('quiet')").strip() == "quiet"
    out = run_python(
        strict + "import tensorflow as tf\ntf.__version__ = '2.99.0'\n"
        "try:\n    import rectify.tf\nexcept RuntimeWarning as w:\n    print(w)\n"
    )
    assert "rectify.tf was tested with TensorFlow 2.16, 2.17, 2.18, 2.19, 2.20, 2.21; this is 2.99.0" in out
