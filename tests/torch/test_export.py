"""rectify.torch.export: PyTorch's modules become rectify nodes with PyTorch's semantics, through
the dynamo exporter and TorchScript; each export runs in ONNX Runtime + librectify.so within
float32 rounding of PyTorch and bit-exact against its built-in twin (`convert --to builtin`)."""

import numpy as np
import onnx
import pytest
import torch
from conftest import bits, initializer_dims, nodes, run, session, specials, to_builtin
from torch import nn

import rectify.torch

EXPORTERS = [pytest.param(True, id="dynamo"), pytest.param(False, id="torchscript")]


def prelu_channels():
    m = nn.PReLU(6)
    with torch.no_grad():
        m.weight.copy_(torch.linspace(-1.5, 2.0, 6))
    return m


def prelu_scalar():
    m = nn.PReLU()
    with torch.no_grad():
        m.weight.fill_(-0.3)
    return m


class SmallCNN(nn.Module):
    """Conv, per-channel PReLU, Conv, RReLU, scalar PReLU, Linear, LeakyReLU: every activation."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 3)
        self.prelu1 = prelu_channels()
        self.conv2 = nn.Conv2d(6, 4, 3, stride=2)
        self.rrelu = nn.RReLU(0.05, 0.4)
        self.prelu2 = prelu_scalar()
        self.fc = nn.Linear(4, 5)
        self.leaky = nn.LeakyReLU(0.2)

    def forward(self, x):
        x = self.prelu2(self.rrelu(self.conv2(self.prelu1(self.conv1(x)))))
        return self.leaky(self.fc(x.mean(dim=(2, 3))))


# (name, module, input shape, the rectify nodes the export must hold)
CASES = [
    ("prelu_channels_nchw", prelu_channels, (2, 6, 5, 7), [("PRelu", {"axis": 1})]),
    ("prelu_channels_2d", prelu_channels, (3, 6), [("PRelu", {"axis": 1})]),
    ("prelu_scalar", prelu_scalar, (2, 3, 4), [("PRelu", {})]),
    ("rrelu_default", lambda: nn.RReLU(), (2, 3, 16), [("RRelu", {"lower": 0.125, "upper": 1 / 3, "training": 0})]),
    ("rrelu_bounds", lambda: nn.RReLU(0.05, 0.4), (4, 33), [("RRelu", {"lower": 0.05, "upper": 0.4, "training": 0})]),
    ("rrelu_inplace", lambda: nn.RReLU(0.1, 0.3, inplace=True), (4, 33), [("RRelu", {"lower": 0.1, "upper": 0.3, "training": 0})]),
    ("cnn", SmallCNN, (2, 3, 12, 12), [("PRelu", {"axis": 1}), ("RRelu", {"lower": 0.05, "upper": 0.4}), ("PRelu", {})]),
]


def rectify_nodes(path):
    return [(op, attrs, inputs) for domain, op, attrs, inputs in nodes(path) if domain == "rectify"]


def assert_attributes(found, expected):
    for name, value in expected.items():
        assert name in found, f"attribute {name} missing from {found}"
        assert found[name] == pytest.approx(value, rel=1e-7), (name, found)


def check_against_torch_and_twin(module, path, x, tmp_path):
    with torch.no_grad():
        expected = module(torch.from_numpy(x.copy())).numpy()
    (y,) = run(path, [x])
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6, equal_nan=True)
    (twin,) = run(to_builtin(path, tmp_path / "builtin.onnx"), [x], plugin=False)
    np.testing.assert_array_equal(bits(y), bits(twin))


@pytest.mark.parametrize("dynamo", EXPORTERS)
@pytest.mark.parametrize("name, make, shape, expected", CASES, ids=[c[0] for c in CASES])
def test_module_exports_as_rectify_nodes_with_torch_semantics(name, make, shape, expected, dynamo, tmp_path):
    module = make().eval()
    x = specials(shape) if name != "cnn" else np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    path = tmp_path / f"{name}.onnx"
    rectify.torch.export(module, (torch.from_numpy(x.copy()),), path, dynamo=dynamo)

    found = rectify_nodes(path)
    assert [op for op, _, _ in found] == [op for op, _ in expected]
    for (op, attrs, inputs), (_, want) in zip(found, expected):
        assert_attributes(attrs, want)
        if op == "PRelu":
            assert "axis" in attrs or not want, attrs
            slope = initializer_dims(path).get(inputs[1])
            # The slope as PyTorch holds it: [C] (or [1]), never reshaped to [1, C, 1, 1].
            assert slope in ([6], [1]), slope
    # PyTorch's own forms are gone, LeakyReLU stays ONNX's.
    assert not any(d == "" and op in ("PRelu", "Where", "RandomUniformLike") for d, op, _, _ in nodes(path))
    if name == "cnn":
        assert ("", "LeakyRelu") in {(d, op) for d, op, _, _ in nodes(path)}
    check_against_torch_and_twin(module, path, x, tmp_path)


@pytest.mark.parametrize("dynamo", EXPORTERS)
def test_leaky_relu_becomes_rectify_only_when_asked(dynamo, tmp_path):
    module = nn.Sequential(nn.LeakyReLU(0.3)).eval()
    x = specials((3, 40))
    kept, asked = tmp_path / "kept.onnx", tmp_path / "asked.onnx"
    rectify.torch.export(module, (torch.from_numpy(x),), kept, dynamo=dynamo)
    rectify.torch.export(module, (torch.from_numpy(x),), asked, dynamo=dynamo, leaky_relu=True)
    assert [(d, op) for d, op, _, _ in nodes(kept)] == [("", "LeakyRelu")]
    ((domain, op, attrs, _),) = nodes(asked)
    assert (domain, op) == ("rectify", "LeakyRelu") and attrs["alpha"] == pytest.approx(0.3)
    check_against_torch_and_twin(module, asked, x, tmp_path)


class TwoRReLUs(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.RReLU(0.1, 0.3)
        self.b = nn.RReLU(0.2, 0.25)

    def forward(self, x):
        return self.a(x), self.b(x)


@pytest.mark.parametrize("dynamo", EXPORTERS)
def test_training_rrelu_exports_with_a_seed_per_node(dynamo, tmp_path):
    module = TwoRReLUs().train()
    x = np.random.default_rng(2).standard_normal((64, 65)).astype(np.float32)
    kwargs = {} if dynamo else {"training": torch.onnx.TrainingMode.TRAINING}
    paths = {}
    for seed in (7, 8):
        paths[seed] = tmp_path / f"seed{seed}.onnx"
        rectify.torch.export(module, (torch.from_numpy(x),), paths[seed], dynamo=dynamo, seed=seed, **kwargs)

    found = rectify_nodes(paths[7])
    assert [op for op, _, _ in found] == ["RRelu", "RRelu"]
    assert [(a["training"], a["seed"]) for _, a, _ in found] == [(1, 7), (1, 8)]
    assert_attributes(found[0][1], {"lower": 0.1, "upper": 0.3})
    assert_attributes(found[1][1], {"lower": 0.2, "upper": 0.25})

    first = session(paths[7])
    a, b = run(None, [x], session_=first)
    np.testing.assert_array_equal(a, run(paths[7], [x])[0])  # a fresh session: the same slopes
    assert not np.array_equal(a, run(None, [x], session_=first)[0])  # its next run: new ones
    negative = x < 0
    np.testing.assert_array_equal(a[~negative], x[~negative])
    for y, lower, upper in ((a, 0.1, 0.3), (b, 0.2, 0.25)):
        slope = y[negative] / x[negative]
        assert slope.min() >= lower * (1 - 1e-6) and slope.max() <= upper * (1 + 1e-6)
        assert slope.std() > (upper - lower) / 5  # drawn, not one value
    # Another seed, other slopes.
    next_a, _ = run(paths[8], [x])
    assert not np.array_equal(a, next_a)


def test_dynamo_export_keeps_weights_external_and_dims_symbolic(tmp_path):
    module = SmallCNN().eval()
    x = np.random.default_rng(3).standard_normal((1, 3, 12, 12)).astype(np.float32)
    batch, height, width = (torch.export.Dim(n, min=1, max=4096) for n in ("N", "H", "W"))
    folder = tmp_path / "exported"
    folder.mkdir()
    path = folder / "cnn.onnx"
    rectify.torch.export(module, (torch.from_numpy(x),), path,
                         dynamic_shapes={"x": {0: batch, 2: height * 2 + 8, 3: width * 2 + 8}})
    assert (folder / "cnn.onnx.data").is_file()
    model_dims = [d.dim_param or d.dim_value for d in onnx.load(str(path), load_external_data=False)
                  .graph.input[0].type.tensor_type.shape.dim]
    assert all(isinstance(d, str) for d in (model_dims[0], model_dims[2], model_dims[3])), model_dims
    # Loaded by path from another folder (the weights are read beside the model), at other sizes.
    moved = tmp_path / "elsewhere"
    folder.rename(moved)
    for shape in ((1, 3, 12, 12), (3, 3, 20, 16)):
        x = np.random.default_rng(4).standard_normal(shape).astype(np.float32)
        check_against_torch_and_twin(module, moved / "cnn.onnx", x, tmp_path)


def test_translations_work_with_torch_onnx_export_directly(tmp_path):
    module = nn.Sequential(nn.Conv2d(2, 6, 1), prelu_channels(), nn.RReLU()).eval()
    x = torch.randn(1, 2, 4, 4)
    dynamo_path, script_path, plain_path = (tmp_path / f"{n}.onnx" for n in ("dynamo", "script", "plain"))
    torch.onnx.export(module, (x,), dynamo_path, dynamo=True,
                      custom_translation_table=rectify.torch.translation_table())
    with rectify.torch.symbolics(opset_version=17):
        torch.onnx.export(module, (x,), script_path, dynamo=False, opset_version=17,
                          custom_opsets={"rectify": 1})
    for path in (dynamo_path, script_path):
        assert [op for op, _, _ in rectify_nodes(path)] == ["PRelu", "RRelu"]
        check_against_torch_and_twin(module, path, x.numpy(), tmp_path)
    # Outside the with block PyTorch's own symbolic functions are back.
    torch.onnx.export(module, (x,), plain_path, dynamo=False, opset_version=17)
    assert [(d, op) for d, op, _, _ in nodes(plain_path)][1:] == [("", "PRelu"), ("", "LeakyRelu")]
