"""`make install` into a temporary DESTDIR, and two consumers built against it: CMake's
`find_package(rectify)` and `pkg-config --cflags --libs rectify`, each running the README's
C program (examples/c/main.c), which calls the kernels and checks their results."""

import os
import pathlib
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT, run

PREFIX = "/opt/rectify"
PROGRAM = ROOT / "examples/c/main.c"
EXPECTED = "PRelu gives {-1, 1, -2, 3}"


def crate_version():
    """The version in Cargo.toml, which `make install` names the library after."""
    return run(["sed", "-n", r's/^version = "\(.*\)"/\1/p', ROOT / "Cargo.toml"]).split()[0]


@pytest.fixture(scope="module")
def destdir(tmp_path_factory):
    dest = tmp_path_factory.mktemp("destdir")
    run(["make", "--no-print-directory", "install", f"DESTDIR={dest}", f"PREFIX={PREFIX}"], cwd=ROOT)
    return dest


def test_install_lays_out_the_versioned_library_header_and_package_files(destdir):
    lib = destdir / PREFIX.lstrip("/") / "lib"
    version = crate_version()
    major, minor, _ = version.split(".")
    abi = f"0.{minor}" if major == "0" else major
    real = lib / f"librectify.so.{version}"
    assert real.is_file() and not real.is_symlink()
    assert os.readlink(lib / f"librectify.so.{abi}") == real.name
    assert os.readlink(lib / "librectify.so") == f"librectify.so.{abi}"
    soname = [line for line in run(["readelf", "-d", real]).splitlines() if "SONAME" in line]
    assert soname and f"[librectify.so.{abi}]" in soname[0], soname
    header = destdir / PREFIX.lstrip("/") / "include/rectify.h"
    assert header.read_bytes() == (ROOT / "ffi/rectify.h").read_bytes()
    pc = (lib / "pkgconfig/rectify.pc").read_text()
    assert f"prefix={PREFIX}\n" in pc and f"Version: {version}\n" in pc
    for name in ("rectifyConfig.cmake", "rectifyConfigVersion.cmake"):
        assert "@" not in (lib / "cmake/rectify" / name).read_text(), f"{name} has an unfilled placeholder"


def cmake():
    found = shutil.which("cmake", path=str(pathlib.Path(sys.executable).parent))
    assert found, "cmake is missing from .venv (requirements-test.txt)"
    return found


def test_cmake_find_package_builds_and_runs_a_consumer(destdir, tmp_path):
    build = tmp_path / "build"
    prefix = destdir / PREFIX.lstrip("/")
    run([cmake(), "-S", ROOT / "examples/c", "-B", build, f"-DCMAKE_PREFIX_PATH={prefix}"])
    run([cmake(), "--build", build])
    assert EXPECTED in run([build / "rectify_consumer"])
    needed = run(["readelf", "-d", build / "rectify_consumer"])
    assert "[librectify.so.0.1]" in needed, "the consumer must link the soname, not the file"


def test_cmake_refuses_an_incompatible_version(destdir, tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    (source / "CMakeLists.txt").write_text(
        (ROOT / "examples/c/CMakeLists.txt").read_text().replace("find_package(rectify 0.1 REQUIRED)", "find_package(rectify 0.2 REQUIRED)")
    )
    shutil.copy(PROGRAM, source / "main.c")
    prefix = destdir / PREFIX.lstrip("/")
    done = subprocess.run([cmake(), "-S", source, "-B", tmp_path / "build", f"-DCMAKE_PREFIX_PATH={prefix}"], capture_output=True, text=True)
    assert done.returncode != 0 and "rectify" in done.stderr and "0.2" in done.stderr, done.stderr


def test_pkg_config_builds_and_runs_a_consumer(destdir, tmp_path):
    libdir = destdir / PREFIX.lstrip("/") / "lib"
    # A DESTDIR install: pkg-config's sysroot prefixes the installed paths.
    env = dict(os.environ, PKG_CONFIG_PATH=str(libdir / "pkgconfig"), PKG_CONFIG_SYSROOT_DIR=str(destdir))
    flags = run(["pkg-config", "--cflags", "--libs", "rectify"], env=env).split()
    assert f"-I{destdir}{PREFIX}/include" in flags and "-lrectify" in flags, flags
    exe = tmp_path / "consumer"
    run(["cc", PROGRAM, "-o", exe, *flags, f"-Wl,-rpath,{libdir}"])
    assert EXPECTED in run([exe])
    assert run(["pkg-config", "--modversion", "rectify"], env=env).strip() == crate_version()


def test_the_readme_c_program_is_the_tested_one():
    readme = (ROOT / "README.md").read_text()
    blocks = [b.split("```", 1)[0] for b in readme.split("```c\n")[1:]]
    assert PROGRAM.read_text() in blocks, "README's C program must be examples/c/main.c as written"
