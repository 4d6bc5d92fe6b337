"""Panic safety: a panic inside any callback reaches ONNX Runtime as an error and the host
process keeps running. Uses the test-only build with `--features fault-injection`, where a
LeakyRelu whose alpha is a sentinel panics at one callback (src/ort/fault.rs)."""

import os

import numpy as np
import onnxruntime as ort
import pytest
from conftest import ORT_VERSION, ROOT, model, session

CREATE, COMPUTE, PARALLEL_TASK = 1001.0, 1002.0, 1003.0
BIG = np.linspace(-1, 1, 4 * 65536, dtype=np.float32)  # four ParallelFor tasks


@pytest.fixture(scope="module")
def faulty():
    path = os.environ.get("RECTIFY_FAULT_LIBRARY", ROOT / "target/fault-injection/release/librectify.so")
    assert os.path.exists(path), f"{path} is missing: make test builds it (cargo build --features fault-injection)"
    return str(path)


def still_alive(library):
    y = session(library, model("LeakyRelu", alpha=0.5)).run(None, {"X": np.array([-2.0], np.float32)})[0]
    assert y[0] == -1.0


def test_a_panic_in_kernel_creation_fails_the_session(faulty):
    with pytest.raises(Exception, match=r"rectify: LeakyRelu: internal error \(panic\): injected fault at CreateKernel"):
        session(faulty, model("LeakyRelu", alpha=CREATE))
    still_alive(faulty)


def test_a_panic_in_compute_fails_the_run(faulty):
    s = session(faulty, model("LeakyRelu", alpha=COMPUTE))
    for _ in range(3):  # the session itself stays usable
        with pytest.raises(Exception, match=r"RUNTIME_EXCEPTION.*rectify: LeakyRelu: internal error \(panic\): injected fault at Compute"):
            s.run(None, {"X": BIG})
    still_alive(faulty)


@pytest.mark.parametrize("threads", [1, 2])
def test_a_panic_in_a_parallel_for_task_fails_the_run(faulty, threads):
    s = session(faulty, model("LeakyRelu", alpha=PARALLEL_TASK), threads=threads)
    if ORT_VERSION < (1, 17):
        # No KernelContext_ParallelFor before API 17: the work runs as one task, no fault.
        assert s.run(None, {"X": BIG})[0].shape == BIG.shape
        return
    with pytest.raises(Exception, match=r"rectify: LeakyRelu: internal error \(panic\): injected fault at ParallelTask"):
        s.run(None, {"X": BIG})
    # Small tensors are not split: the same session still works.
    assert s.run(None, {"X": np.array([2.0], np.float32)})[0][0] == 2.0
    still_alive(faulty)


def test_a_panic_in_registration_is_an_error_status(faulty, monkeypatch):
    # NULL from RegisterCustomOps means success to ONNX Runtime: a panic must come back as
    # a status, or the session would go on without the domain.
    monkeypatch.setenv("RECTIFY_FAULT", "RegisterCustomOps")
    so = ort.SessionOptions()
    with pytest.raises(Exception, match=r"rectify: RegisterCustomOps: internal error \(panic\): injected fault at RegisterCustomOps"):
        so.register_custom_ops_library(faulty)
    monkeypatch.delenv("RECTIFY_FAULT")
    still_alive(faulty)
