"""The README's Rust snippet is examples/ort_session.rs as written, and it runs: ort with
`load-dynamic`, ONNX Runtime from ORT_DYLIB_PATH, librectify.so from target/release."""

import os
import pathlib

import onnxruntime

from conftest import ROOT, run


def test_the_readme_rust_snippet_is_the_example_and_runs():
    example = (ROOT / "examples/ort_session.rs").read_text()
    blocks = [b.split("```", 1)[0] for b in (ROOT / "README.md").read_text().split("```rust\n")[1:]]
    assert example in blocks, "README's ONNX Runtime snippet must be examples/ort_session.rs as written"
    (dylib,) = (pathlib.Path(onnxruntime.__file__).parent / "capi").glob("libonnxruntime.so.*")
    env = dict(os.environ, ORT_DYLIB_PATH=str(dylib))
    out = run(["cargo", "run", "--quiet", "--example", "ort_session"], cwd=ROOT, env=env, timeout=900)
    assert 'a rectify::LeakyRelu session with inputs ["X"]' in out, out
