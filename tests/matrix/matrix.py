#!/usr/bin/env python3
"""Release matrices: the same build of rectify against every release of a host runtime.

    python3 tests/matrix/matrix.py ort [--jobs N] [--only 1.17.3 ...] [--write]
    python3 tests/matrix/matrix.py tf  [--jobs N] [--only 2.18.1 ...] [--write]

`ort` runs the pytest suites of tests/python against each ONNX Runtime release listed in
tests/matrix/ort-releases.txt, and the `rectify` CLI (target/debug/rectify: `info`, then
`verify --brief` on every model in models/) where the release's wheel ships
libonnxruntime.so (1.19 on); `tf` runs tests/tf against each TensorFlow release in
tests/matrix/tf-releases.txt, with the wheel of dist/ (make wheel) installed. Each release gets its own venv under $RECTIFY_CACHE/venvs
(default ~/.cache/rectify/venvs), made once and remade only when its pins change. Prints
one row per release; `--write` also puts the table into docs/RELIABILITY.md. Exit status 1
when any release fails, so `make test` goes red.
"""

import argparse
import concurrent.futures
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

ROOT = pathlib.Path(__file__).resolve().parents[2]
RELIABILITY = ROOT / "docs/RELIABILITY.md"


class Matrix:
    def __init__(self, key, package, releases, common, suite, install_rectify, env, notes, jobs, cli=False):
        self.key = key  # "ort" or "tf"
        self.cli = cli  # also run the rectify CLI on the release's libonnxruntime.so
        self.jobs = jobs  # releases tested at once by default
        self.notes = notes  # heading of the table's column of notes (conftest.note), if any
        self.package = package  # the wheel whose releases are the matrix
        self.releases_file = ROOT / "tests/matrix" / releases
        self.common = common  # pins every venv gets
        self.suite = suite  # pytest paths
        self.install_rectify = install_rectify  # tests that import the installed package
        self.env = env  # extra environment for the suite

    def releases(self):
        rows = []
        for line in self.releases_file.read_text().splitlines():
            line = line.split("#", 1)[0].split()
            if line:
                rows.append((line[0], line[1:]))
        return rows


MATRICES = {
    "ort": Matrix(
        "ort",
        "onnxruntime",
        "ort-releases.txt",
        ["pytest==9.2.0", "protobuf==7.36.2"],
        ["tests/python"],
        install_rectify=False,
        # The load/unload test checks unloading in 100 cycles on each release; its RSS
        # bound needs the full 1000, which the pinned release runs (make test-python).
        env={"RECTIFY_LOAD_CYCLES": "100"},
        notes="built-in ops that differ from the newest release's (the rule the suite checks instead)",
        jobs=2,
        cli=True,
    ),
    "tf": Matrix(
        "tf",
        "tensorflow-cpu",
        "tf-releases.txt",
        # keras as TensorFlow 2.16-2.21 resolve it; ONNX Runtime for the package's
        # library-path test.
        ["pytest==9.2.0", "keras==3.15.1", "onnxruntime==1.32.0"],
        ["tests/tf"],
        install_rectify=True,
        env={"TF_CPP_MIN_LOG_LEVEL": "2"},
        notes=None,
        jobs=1,
    ),
}


def cache_dir():
    return pathlib.Path(os.environ.get("RECTIFY_CACHE", pathlib.Path.home() / ".cache/rectify")) / "venvs"


def pip(venv, *args):
    cmd = [str(venv / "bin/python"), "-m", "pip", "--disable-pip-version-check", "--quiet", *args]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stdout}{done.stderr}")


def ensure_venv(matrix, version, pins):
    """The venv of one release, made (or remade, when its pins changed) with its wheels."""
    venv = cache_dir() / f"{matrix.key}-{version}"
    spec = [f"{matrix.package}=={version}", *pins, *matrix.common]
    stamp = venv / ".installed"
    if stamp.is_file() and stamp.read_text().split() == spec:
        return venv, False
    shutil.rmtree(venv, ignore_errors=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip(venv, "install", *spec)
    stamp.write_text(" ".join(spec) + "\n")
    return venv, True


def built_wheel():
    """The wheel `make wheel` wrote (the one users install), or None."""
    found = sorted((ROOT / "dist").glob("rectify-*-py3-none-manylinux_2_17_x86_64.whl"))
    return found[0] if len(found) == 1 else None


def run_suite(matrix, version, venv, workdir):
    """Runs the suite in the venv; returns a result row."""
    junit = workdir / f"{matrix.key}-{version}.xml"
    report = workdir / f"{matrix.key}-{version}.json"
    env = dict(os.environ, **matrix.env, RECTIFY_MATRIX_REPORT=str(report))
    env.pop("PYTHONPATH", None)
    cmd = [str(venv / "bin/python"), "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={junit}", *matrix.suite]
    start = time.monotonic()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)
    seconds = time.monotonic() - start
    row = {"release": version, "seconds": round(seconds, 1), "returncode": done.returncode}
    if junit.is_file():
        suite = ET.parse(junit).getroot()
        suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
        row.update({k: int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")})
    if report.is_file():
        row["notes"] = json.loads(report.read_text())
    if done.returncode < 0:
        row["crash"] = f"killed by signal {-done.returncode}"
    row["passed"] = done.returncode == 0
    output = done.stdout + done.stderr
    if matrix.cli:
        cli_passed, row["cli"], cli_output = run_cli(venv)
        row["passed"] &= cli_passed
        output += cli_output
    if not row["passed"]:
        row["tail"] = "\n".join(output.splitlines()[-40:])
    return row


CLI = ROOT / "target/debug/rectify"
LIBRARY = ROOT / "target/release/librectify.so"


def run_cli(venv):
    """`rectify info` and `rectify verify --brief models/*.onnx` on the venv's ONNX Runtime:
    (passed, summary, output)."""
    found = sorted(venv.glob("lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so.*"))
    if not found:
        return True, "n/a: the wheel ships no libonnxruntime.so", ""
    env = dict(os.environ, ORT_DYLIB_PATH=str(found[0]))
    info = subprocess.run([str(CLI), "info", "--library", str(LIBRARY)], cwd=ROOT, capture_output=True, text=True, env=env)
    if info.returncode != 0:
        return False, f"**`info` failed (exit {info.returncode})**", info.stdout + info.stderr
    models = sorted(str(m.relative_to(ROOT)) for m in (ROOT / "models").glob("*.onnx"))
    cmd = [str(CLI), "verify", "--brief", "--library", str(LIBRARY), *models]
    verify = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)
    verdicts = [line.split()[0] for line in verify.stdout.splitlines() if line.strip()]
    counts = ", ".join(f"{verdicts.count(v)} {v}" for v in ("PASS", "UNVERIFIED", "FAIL") if v in verdicts)
    if verify.returncode != 0:
        return False, f"**`verify` exit {verify.returncode}: {counts}**", verify.stdout + verify.stderr
    return True, f"`info` ok, `verify`: {counts}", ""


def describe(row):
    if "crash" in row:
        return f"**{row['crash']}**"
    if "tests" not in row:
        return f"**did not run** (exit {row['returncode']})"
    ran = row["tests"] - row["skipped"]
    failed = row["failures"] + row["errors"]
    text = f"{ran - failed} of {ran} pass" if failed else f"all {ran} pass"
    if row["skipped"]:
        text += f", {row['skipped']} skipped"
    return text if row["passed"] else f"**{text}**"


def table(matrix, rows):
    headings = [matrix.package, "pytest"] + ["rectify CLI"] * matrix.cli + [matrix.notes] * bool(matrix.notes)
    lines = ["| " + " | ".join(headings) + " |", "|" + "---|" * len(headings)]
    for row in rows:
        cells = [row["release"], describe(row)] + [row.get("cli", "")] * matrix.cli
        if matrix.notes:
            cells.append("; ".join(sorted(set(row.get("notes", [])))) or "none")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_table(matrix, text, command):
    marker_start, marker_end = f"<!-- {matrix.key}-matrix:start -->", f"<!-- {matrix.key}-matrix:end -->"
    doc = RELIABILITY.read_text()
    head, rest = doc.split(marker_start, 1)
    _, tail = rest.split(marker_end, 1)
    block = f"{marker_start}\n`{command}` ({time.strftime('%Y-%m-%d')}):\n\n{text}\n{marker_end}"
    RELIABILITY.write_text(head + block + tail)


def newer_on_registry(matrix, releases):
    """Minor releases on the registry newer than the list's last (a reminder, not a failure)."""
    done = subprocess.run(
        [sys.executable, "-m", "pip", "index", "versions", matrix.package, "--disable-pip-version-check"],
        capture_output=True, text=True, timeout=60,
    )
    if done.returncode != 0 or "Available versions:" not in done.stdout:
        return []
    listed = {tuple(map(int, v.split(".")[:2])) for v, _ in releases}
    newest = max(listed)
    found = done.stdout.split("Available versions:", 1)[1].split("\n", 1)[0]
    minors = {tuple(map(int, v.strip().split(".")[:2])) for v in found.split(",") if v.strip().replace(".", "").isdigit()}
    return sorted(f"{a}.{b}" for a, b in minors if (a, b) > newest)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("matrix", choices=sorted(MATRICES))
    parser.add_argument("--jobs", type=int, help="releases tested at once (default: 2 for ort, 1 for tf)")
    parser.add_argument("--only", nargs="+", metavar="RELEASE", help="test only these releases")
    parser.add_argument("--write", action="store_true", help="put the table into docs/RELIABILITY.md")
    args = parser.parse_args()
    matrix = MATRICES[args.matrix]
    args.jobs = args.jobs or matrix.jobs
    if matrix.cli and not CLI.is_file():
        parser.error(f"{CLI.relative_to(ROOT)} is missing: build it with `make cli`")
    if matrix.install_rectify and built_wheel() is None:
        parser.error("dist/ holds no single rectify wheel: build it with `make wheel`")
    releases = matrix.releases()
    if args.only:
        unknown = set(args.only) - {v for v, _ in releases}
        if unknown:
            parser.error(f"not in {matrix.releases_file.name}: {', '.join(sorted(unknown))}")
        releases = [r for r in releases if r[0] in args.only]

    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        venvs = dict(zip((v for v, _ in releases), pool.map(lambda r: ensure_venv(matrix, *r), releases)))
    made = [v for v, (_, new) in venvs.items() if new]
    print(f"{matrix.package}: {len(releases)} venvs in {cache_dir()} ({len(made)} made) in {time.monotonic() - start:.0f} s")
    with tempfile.TemporaryDirectory() as tmp, concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        if matrix.install_rectify:
            wheel = built_wheel()
            installs = [pool.submit(pip, venv, "install", "--no-deps", "--force-reinstall", str(wheel)) for venv, _ in venvs.values()]
            for done in installs:
                done.result()
        futures = [pool.submit(run_suite, matrix, v, venvs[v][0], pathlib.Path(tmp)) for v, _ in releases]
        rows = []
        for future in futures:
            row = future.result()
            rows.append(row)
            cli = f"  CLI: {row['cli']}".replace("**", "").replace("`", "") if matrix.cli else ""
            print(f"  {matrix.package} {row['release']:<8} {describe(row).replace('**', ''):<20} {row['seconds']:>5.1f} s{cli}", flush=True)
    failed = [row for row in rows if not row["passed"]]
    for row in failed:
        print(f"\n--- {matrix.package} {row['release']} ---\n{row['tail']}")
    text = table(matrix, rows)
    print("\n" + text)
    newer = newer_on_registry(matrix, matrix.releases())
    if newer:
        print(f"\nnote: the registry has {matrix.package} {', '.join(newer)}, not yet in {matrix.releases_file.name}")
    if args.write and not args.only:
        write_table(matrix, text, f"python3 tests/matrix/matrix.py {matrix.key} --write")
    print(f"\n{len(rows) - len(failed)} of {len(rows)} {matrix.package} releases pass ({time.monotonic() - start:.0f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
