"""Builds the Rust libraries with cargo and bundles them in the `rectify` package.

`pip install .` runs `cargo build --release -p rectify -p rectify-tf` (a Rust toolchain is
needed; nothing else is downloaded) and copies librectify.so and librectify_tf.so next to
the package's `__init__.py`. The metadata lives in pyproject.toml.
"""

import os
import pathlib
import shutil
import subprocess

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

ROOT = pathlib.Path(__file__).resolve().parent
LIBRARIES = ["librectify.so", "librectify_tf.so"]


class BuildWithCargo(build_py):
    """build_py, plus the two shared libraries from cargo."""

    def run(self):
        super().run()
        cargo = os.environ.get("CARGO", "cargo")
        subprocess.run([cargo, "build", "--release", "-p", "rectify", "-p", "rectify-tf"], cwd=ROOT, check=True)
        target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release"
        package = pathlib.Path(self.build_lib) / "rectify"
        package.mkdir(parents=True, exist_ok=True)
        for name in LIBRARIES:
            shutil.copy2(target / name, package / name)


class BinaryDistribution(Distribution):
    """The wheel carries native code: tag it for this platform."""

    def has_ext_modules(self):
        return True


setup(cmdclass={"build_py": BuildWithCargo}, distclass=BinaryDistribution)
