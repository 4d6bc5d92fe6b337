"""Builds the Rust libraries and bundles them in a manylinux wheel of the `rectify` package.

`pip wheel .`, `pip install .` and a build from the sdist all run cargo through
cargo-zigbuild, linking against glibc 2.17 (zig from the `ziglang` wheel, both named in
pyproject.toml's build requirements), so one wheel serves every Linux x86-64 with glibc
2.17 or newer. The libraries call no Python C API: the wheel is tagged
`py3-none-manylinux_2_17_x86_64`, one wheel for every CPython. They land in
`rectify/lib/` (not importable, so `help(rectify)` does not list them as modules).
"""

import os
import pathlib
import platform
import shutil
import subprocess
import sys

from setuptools import setup
from setuptools.command.bdist_wheel import bdist_wheel
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

ROOT = pathlib.Path(__file__).resolve().parent
# cargo package -> library it writes. Built one at a time: a joint build would unify the
# features of `rectify` and link librectify.so's exports into librectify_tf.so.
LIBRARIES = {"rectify": "librectify.so", "rectify-tf": "librectify_tf.so"}
GLIBC = "2.17"
TARGET = "x86_64-unknown-linux-gnu"
PLATFORM_TAG = "manylinux_{}_x86_64".format(GLIBC.replace(".", "_"))


def cargo_zigbuild() -> list:
    """The cargo-zigbuild command of the build environment, with zig from `ziglang`."""
    exe = shutil.which("cargo-zigbuild") or str(pathlib.Path(sys.executable).parent / "cargo-zigbuild")
    if not pathlib.Path(exe).exists():
        raise RuntimeError("rectify's build needs cargo-zigbuild (a build requirement in pyproject.toml)")
    return [exe]


class BuildWithCargo(build_py):
    """build_py, plus the two shared libraries from cargo-zigbuild."""

    def run(self):
        # A reused build/ may hold libraries of an older layout: start the package afresh.
        shutil.rmtree(pathlib.Path(self.build_lib) / "rectify", ignore_errors=True)
        super().run()
        if sys.platform != "linux" or platform.machine() != "x86_64":
            raise RuntimeError(f"rectify builds for Linux x86-64 only, not {sys.platform} {platform.machine()}")
        if shutil.which(os.environ.get("CARGO", "cargo")) is None:
            raise RuntimeError(
                "building rectify from source needs a Rust toolchain (cargo on PATH); "
                "the prebuilt wheel (make wheel) needs none"
            )
        env = dict(os.environ, CARGO_ZIGBUILD_PYTHON_PATH=sys.executable)
        target_dir = pathlib.Path(env.get("CARGO_TARGET_DIR", ROOT / "target"))
        for package in LIBRARIES:
            command = cargo_zigbuild() + ["build", "--release", "--locked", "-p", package]
            command += ["--target", f"{TARGET}.{GLIBC}", "--target-dir", str(target_dir)]
            subprocess.run(command, cwd=ROOT, env=env, check=True)
        lib = pathlib.Path(self.build_lib) / "rectify" / "lib"
        lib.mkdir(parents=True, exist_ok=True)
        for name in LIBRARIES.values():
            shutil.copy2(target_dir / TARGET / "release" / name, lib / name)


class BinaryDistribution(Distribution):
    """The wheel carries native code: never a pure-Python wheel."""

    def has_ext_modules(self):
        return True


class ManylinuxWheel(bdist_wheel):
    """Tags the wheel py3-none-manylinux_2_17_x86_64: any CPython 3, no Python ABI."""

    def finalize_options(self):
        super().finalize_options()
        self.root_is_pure = False

    def get_tag(self):
        return "py3", "none", PLATFORM_TAG


setup(
    cmdclass={"build_py": BuildWithCargo, "bdist_wheel": ManylinuxWheel},
    distclass=BinaryDistribution,
)
