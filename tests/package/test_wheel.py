"""The prebuilt wheel: manylinux_2_17, one wheel for every CPython 3, libraries that need only
glibc's own, and an install that works in a fresh venv with no Rust toolchain, next to the
oldest and the newest ONNX Runtime the matrix passes (the pytest suite of tests/python runs
against the installed library). TensorFlow 2.21 runs tests/tf on it in .venv (make package)."""

import copy
import os
import pathlib
import re
import subprocess
import sys
import zipfile

import pytest

from conftest import ROOT, no_cargo_path, run

sys.path.insert(0, str(ROOT / "tests/matrix"))
import matrix  # noqa: E402

# glibc's libraries (the dynamic loader included) and libgcc_s: what every manylinux system has.
ALLOWED_NEEDED = {"libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "libgcc_s.so.1", "ld-linux-x86-64.so.2"}
LIBRARIES = ("rectify/lib/librectify.so", "rectify/lib/librectify_tf.so")


@pytest.fixture(scope="module")
def unpacked(wheel, tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    with zipfile.ZipFile(wheel) as z:
        z.extractall(out)
    return out


def test_auditwheel_places_the_wheel_at_manylinux_2_17(wheel):
    text = " ".join(run([sys.executable, "-m", "auditwheel", "show", wheel]).split())
    found = re.search(r'consistent with the following platform tag: "manylinux_2_(\d+)_x86_64"', text)
    assert found, text
    assert int(found.group(1)) <= 28, f"manylinux_2_{found.group(1)} excludes RHEL 8 / Ubuntu 20.04 / Debian 11"
    assert int(found.group(1)) == 17, text


def test_the_wheel_holds_the_package_and_both_libraries_only(unpacked, wheel):
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
    package = {n for n in names if not n.startswith("rectify-")}
    modules = {f"rectify/{m}.py" for m in ("__init__", "keras", "onnx", "tf", "tf2onnx", "torch")}
    assert package == {*modules, "rectify/spec.json", *LIBRARIES}, package
    meta = next(n for n in names if n.endswith(".dist-info/WHEEL"))
    text = (unpacked / meta).read_text()
    assert "Root-Is-Purelib: false" in text and "Tag: py3-none-manylinux_2_17_x86_64" in text, text


def test_the_libraries_need_nothing_beyond_glibc(unpacked):
    for name in LIBRARIES:
        dynamic = run(["readelf", "-d", unpacked / name])
        needed = set(re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", dynamic))
        assert needed <= ALLOWED_NEEDED, f"{name} needs {needed - ALLOWED_NEEDED}"
        versions = set(re.findall(r"GLIBC_(\d+)\.(\d+)", run(["objdump", "-T", unpacked / name])))
        assert max((int(a), int(b)) for a, b in versions) <= (2, 17), f"{name}: {sorted(versions)}"


def test_each_library_exports_only_its_own_entry_points(unpacked):
    def exports(name):
        out = run(["nm", "-D", "--defined-only", unpacked / name])
        return {line.split()[-1] for line in out.splitlines() if line.split()[1] in "TtDdBbRr"}

    assert exports(LIBRARIES[1]) == {"rectify_register_tf"}
    ort = exports(LIBRARIES[0])
    assert {"RegisterCustomOps", "RegisterCustomOpsAltName"} <= ort
    assert all(s.startswith("rectify_") for s in ort - {"RegisterCustomOps", "RegisterCustomOpsAltName"}), ort


def test_metadata_depends_on_numpy_only_and_names_the_frameworks_as_extras(unpacked):
    meta = next(unpacked.glob("rectify-*.dist-info/METADATA")).read_text()
    requires = [line.split(":", 1)[1].strip() for line in meta.splitlines() if line.startswith("Requires-Dist:")]
    plain = [r for r in requires if "extra ==" not in r]
    assert plain == ["numpy"], requires
    assert any(r.startswith("onnxruntime") and "extra == \"onnxruntime\"" in r for r in requires), requires
    assert any(r.startswith("tensorflow") and "extra == \"tensorflow\"" in r for r in requires), requires


def test_installs_and_imports_in_a_fresh_venv_without_rust(wheel, tmp_path):
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", venv])
    env = dict(os.environ, PATH=no_cargo_path(venv))
    env.pop("PYTHONPATH", None)
    run([venv / "bin/python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check", wheel], env=env)
    listed = run([venv / "bin/python", "-m", "pip", "list", "--format=freeze"], env=env).lower()
    assert "onnxruntime" not in listed and "tensorflow" not in listed, listed
    check = (
        "import os, pkgutil, rectify\n"
        "assert rectify.get_library_path() == rectify.library_path()\n"
        "print(os.path.isfile(rectify.library_path()), os.path.isfile(rectify.tf_library_path()))\n"
        "print(sorted(m.name for m in pkgutil.iter_modules(rectify.__path__)))\n"
        "print(rectify.default('LeakyRelu', 'alpha'), rectify.default('LeakyRelu', 'alpha', 'tensorflow'))\n"
    )
    out = run([venv / "bin/python", "-c", check], env=env, cwd=tmp_path)
    # help(rectify) lists what pkgutil finds: the modules, never the libraries.
    # ... and the registry (spec.json) is shipped with the package.
    assert out.splitlines() == ["True True", "['keras', 'onnx', 'tf', 'tf2onnx', 'torch']", "0.01 0.2"], out
    missing = subprocess.run([venv / "bin/python", "-c", "import rectify.tf"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert missing.returncode != 0 and "No module named 'tensorflow'" in missing.stderr, missing.stderr


@pytest.mark.parametrize("release", ["1.16.3", "1.32.0"])
def test_the_onnx_runtime_suite_passes_on_the_installed_library(wheel, release, tmp_path):
    """The wheel's librectify.so (linked by zig against glibc 2.17) runs tests/python on the
    oldest and the newest ONNX Runtime, from a cached venv with only registry wheels."""
    ort = copy.copy(matrix.MATRICES["ort"])
    ort.key = "wheel-ort"
    pins = dict(ort.releases())[release]
    venv, _ = matrix.ensure_venv(ort, release, pins)
    python = venv / "bin/python"
    env = dict(os.environ, PATH=no_cargo_path(venv), RECTIFY_LOAD_CYCLES="100")
    env.pop("PYTHONPATH", None)
    run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--force-reinstall", "--no-deps", wheel], env=env)
    library = run([python, "-c", "import rectify; print(rectify.library_path())"], env=env, cwd=tmp_path).strip()
    assert library.startswith(str(venv)), library
    env["RECTIFY_LIBRARY"] = library
    out = run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/python"], env=env, cwd=ROOT)
    assert " passed" in out.splitlines()[-1], out


def test_panics_are_caught_in_a_library_linked_the_wheels_way():
    """The wheel's libraries are linked by zig, with its own unwinder instead of libgcc_s: a
    fault-injection build made the same way must still turn every panic into an error."""
    bin_dir = pathlib.Path(sys.executable).parent
    target = ROOT / "target/zig-fault-injection"
    env = dict(os.environ, CARGO_ZIGBUILD_PYTHON_PATH=sys.executable)
    run([bin_dir / "cargo-zigbuild", "build", "--release", "--locked", "-p", "rectify", "--features", "fault-injection",
         "--target", "x86_64-unknown-linux-gnu.2.17", "--target-dir", target], cwd=ROOT, env=env, timeout=900)
    library = target / "x86_64-unknown-linux-gnu/release/librectify.so"
    assert "libgcc_s" not in run(["readelf", "-d", library]), "expected zig's unwinder, linked in"
    env = dict(os.environ, RECTIFY_FAULT_LIBRARY=str(library))
    out = run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/python/test_panics.py"], cwd=ROOT, env=env)
    assert " passed" in out.splitlines()[-1] and "skipped" not in out.splitlines()[-1], out
