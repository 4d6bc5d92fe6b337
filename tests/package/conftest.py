"""The packages users install: the prebuilt wheel (make wheel) and the C/C++ package
(make install). Run from .venv by `make test-package`, after `make wheel`."""

import os
import pathlib
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
WHEEL_TAG = "py3-none-manylinux_2_17_x86_64"


@pytest.fixture(scope="session")
def wheel():
    found = sorted((ROOT / "dist").glob(f"rectify-*-{WHEEL_TAG}.whl"))
    assert len(found) == 1, f"expected one {WHEEL_TAG} wheel in dist/, found {found}: run `make wheel`"
    return found[0]


def no_cargo_path(venv=None):
    """A PATH with the venv's scripts and the system's tools, but no Rust toolchain."""
    dirs = ([str(venv / "bin")] if venv else []) + ["/usr/local/bin", "/usr/bin", "/bin"]
    path = os.pathsep.join(dirs)
    assert shutil.which("cargo", path=path) is None and shutil.which("rustc", path=path) is None, path
    return path


def run(cmd, **kwargs):
    done = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, f"{' '.join(map(str, cmd))} exited {done.returncode}:\n{done.stdout}{done.stderr}"
    return done.stdout
