"""The README's Python snippet works as written (run from the repository root)."""

import os
import re

from conftest import ROOT


def test_readme_python_snippet_runs(library, monkeypatch):
    readme = (ROOT / "README.md").read_text()
    snippet = re.search(r"```python\n(.*?)```", readme, re.S).group(1)
    snippet = snippet.replace('"target/release/librectify.so"', repr(library))
    monkeypatch.chdir(ROOT)
    exec(compile(snippet, "README.md", "exec"), {})
    assert os.getcwd() == str(ROOT)
