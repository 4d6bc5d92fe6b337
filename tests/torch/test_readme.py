"""The README's rectify.torch snippet runs as written and writes rectify nodes."""

import re

import onnx
from conftest import ROOT, nodes


def test_readme_snippet_exports_rectify_nodes(tmp_path, monkeypatch):
    readme = (ROOT / "README.md").read_text()
    snippet = re.search(r"```python\n(import torch\nimport rectify.torch\n.*?)```", readme, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    exec(compile(snippet, "README.md", "exec"), {})
    for name in ("net.onnx", "net_ts.onnx"):
        onnx.checker.check_model(str(tmp_path / name))
        assert [op for d, op, _, _ in nodes(tmp_path / name) if d == "rectify"] == ["PRelu", "RRelu"]
    assert (tmp_path / "net.onnx.data").is_file()
