"""The README's rectify.tf2onnx snippet runs as written and writes rectify nodes."""

import re

from conftest import ROOT, nodes


def test_readme_snippet_converts_to_rectify_nodes(tmp_path, monkeypatch):
    readme = (ROOT / "README.md").read_text()
    snippet = re.search(r"```python\n(import keras\n.*?import rectify.tf2onnx\n.*?)```", readme, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    scope = {}
    exec(compile(snippet, "README.md", "exec"), scope)
    assert sorted(op for d, op, _, _ in nodes(tmp_path / "keras.onnx") if d == "rectify") == ["PRelu", "RRelu"]
    assert scope["proto"].graph.node
