"""rectify.torch through PyTorch's two exporters, run in ONNX Runtime with librectify.so.
Runs in the torch venv (`make test-exporters`) with the checkout's package (PYTHONPATH=python),
the release library and the CLI's debug build. The helpers are tests/exporter_harness.py."""

import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from exporter_harness import (  # noqa: E402, F401
    CLI, LIBRARY, ROOT, bits, initializer_dims, nodes, run, session, specials, to_builtin,
)


@pytest.fixture(autouse=True)
def seeded():
    import torch

    torch.manual_seed(0)
