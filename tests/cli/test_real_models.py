"""MTCNN's P-Net, R-Net and O-Net with facenet-pytorch's trained weights, as PyTorch's
default exporter writes them (models/real, `make models-real`): the committed rectify form
is what `convert` writes today, it gives the exported model's bits in ONNX Runtime, both are
within float32 rounding of PyTorch's outputs, and P-Net runs at every pyramid size."""

import pathlib

import pytest
from conftest import np, onnx, ort_warnings, run

REAL = pathlib.Path(__file__).resolve().parents[2] / "models/real"
CASES = {
    "pnet": (["boxes", "probs"], [".120x160", ".61x81", ".31x41"]),
    "rnet": (["boxes", "probs"], [""]),
    "onet": (["boxes", "landmarks", "probs"], [""]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_the_committed_rectify_form_is_what_convert_writes(cli, tmp_path, name):
    converted = tmp_path / f"{name}.rectify.onnx"
    _, out = cli("convert", "--to", "rectify", "--all", REAL / f"{name}.onnx", converted)
    assert "external data" in out
    for suffix in ("", ".data"):
        committed = REAL / f"{name}.rectify.onnx{suffix}"
        assert pathlib.Path(f"{converted}{suffix}").read_bytes() == committed.read_bytes(), "run `make models-real`"
    prelus = sum(n.op_type == "PRelu" for n in onnx.load(str(REAL / f"{name}.onnx")).graph.node)
    assert f"{prelus} of {prelus} nodes rewritten" in out, out


@pytest.mark.parametrize("name", list(CASES))
def test_rectify_form_is_bit_exact_and_both_match_pytorch(name):
    outputs, suffixes = CASES[name]
    for suffix in suffixes:
        x = np.load(REAL / f"{name}.input{suffix}.npy")
        builtin = run(REAL / f"{name}.onnx", {"x": x})
        ours = run(REAL / f"{name}.rectify.onnx", {"x": x}, plugin=True)
        for out, a, b in zip(outputs, builtin, ours):
            assert a.shape == b.shape and (a.view(np.uint32) == b.view(np.uint32)).all(), (name, suffix, out)
            torch_out = np.load(REAL / f"{name}.torch{suffix}.{out}.npy")
            assert np.allclose(b, torch_out, rtol=1e-5, atol=2e-6), (name, suffix, out, np.abs(b - torch_out).max())
    assert ort_warnings(REAL / f"{name}.rectify.onnx", REAL / f"{name}.input{suffixes[0]}.npy", plugin=True) == []


def test_verify_passes_pnet_against_pytorch_at_every_pyramid_size(cli):
    for suffix in CASES["pnet"][1]:
        expected = [f"--expected={o}={REAL / f'pnet.torch{suffix}.{o}.npy'}" for o in CASES["pnet"][0]]
        _, text = cli("verify", REAL / "pnet.rectify.onnx", "--input", f"x={REAL / f'pnet.input{suffix}.npy'}",
                      *expected, "--rtol", "1e-5", "--atol", "2e-6")
        assert "PASS: every output matches expected (files)" in text, text
        # tract runs both forms too (the export's symbolic shapes do not stop it).
        assert "unavailable" not in text, text
        assert text.count("tract + rectify") == 2 and text.count("tract, built-in twin") == 2, text
