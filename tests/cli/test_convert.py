"""`rectify convert` on models as pipelines write them: external weights (PyTorch's
exporter writes MODEL.onnx.data even for small networks), shapes that ONNX's own inference
must find past rectify nodes, and outputs that are never broken or lost."""

import os

import pytest
from conftest import TensorProto, graph_model, helper, np, numpy_helper, onnx, run, specials


def cnn(external_dir=None):
    """X [N, 3, H, W] -> Conv -> PRelu (per channel) -> Conv -> LeakyRelu -> Y, no value_info."""
    rng = np.random.default_rng(1)
    inits = [
        numpy_helper.from_array(rng.standard_normal((16, 3, 3, 3)).astype(np.float32), "k1"),
        numpy_helper.from_array(rng.uniform(0, 0.5, (16, 1, 1)).astype(np.float32), "slope"),
        numpy_helper.from_array(rng.standard_normal((4, 16, 3, 3)).astype(np.float32), "k2"),
    ]
    nodes = [
        helper.make_node("Conv", ["X", "k1"], ["c1"]),
        helper.make_node("PRelu", ["c1", "slope"], ["p"]),
        helper.make_node("Conv", ["p", "k2"], ["c2"]),
        helper.make_node("Relu", ["c2"], ["r"]),
        helper.make_node("LeakyRelu", ["r"], ["Y"], alpha=0.1),
    ]
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", 3, "H", "W"])
    y = helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["N", 4, None, None])
    return graph_model(nodes, [x], [y], inits)


def save_external(m, path):
    onnx.save(m, str(path), save_as_external_data=True, location=path.name + ".data", size_threshold=0)


def test_external_weights_are_read_and_written_beside_the_output(cli, tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir(), out.mkdir()
    save_external(cnn(), src / "m.onnx")
    # Run from elsewhere: the data file is found next to the model, not in the working dir.
    _, text = cli("convert", "--to", "rectify", "--all", src / "m.onnx", out / "m.onnx")
    assert "external data" in text and (out / "m.onnx.data").exists(), text
    converted = onnx.load(str(out / "m.onnx"), load_external_data=False)
    external = {t.name for t in converted.graph.initializer if t.data_location == TensorProto.EXTERNAL}
    assert external == {"k1", "k2"}, external  # the 64-byte slope goes inline
    onnx.checker.check_model(str(out / "m.onnx"))
    x = specials(np.float32, (2, 3, 9, 9))
    os.chdir(tmp_path.anchor)
    want = run(src / "m.onnx", {"X": x})[0]
    got = run(out / "m.onnx", {"X": x}, plugin=True)[0]
    assert (want.view(np.uint32) == got.view(np.uint32)).all()
    # --inline puts the tensors back in the file; verify loads both by path.
    cli("convert", "--to", "builtin", "--inline", out / "m.onnx", out / "inline.onnx")
    assert not any(t.data_location == TensorProto.EXTERNAL for t in onnx.load(str(out / "inline.onnx")).graph.initializer)
    for model in (src / "m.onnx", out / "m.onnx", out / "inline.onnx"):
        cli("verify", "--brief", "--dim", "N=1", "--dim", "H=8", "--dim", "W=8", model)


def test_external_flag_moves_large_initializers_out(cli, tmp_path):
    onnx.save(cnn(), str(tmp_path / "m.onnx"))
    _, text = cli("convert", "--to", "rectify", "--external", tmp_path / "m.onnx", tmp_path / "e.onnx")
    e = onnx.load(str(tmp_path / "e.onnx"), load_external_data=False)
    external = {t.name for t in e.graph.initializer if t.data_location == TensorProto.EXTERNAL}
    assert external == {"k1", "k2"}, external
    assert os.path.getsize(tmp_path / "e.onnx") < 2048


def test_a_missing_or_escaping_data_file_is_a_clear_error(cli, tmp_path):
    save_external(cnn(), tmp_path / "m.onnx")
    (tmp_path / "m.onnx.data").rename(tmp_path / "gone.data")
    status, text = cli("convert", "--to", "rectify", tmp_path / "m.onnx", tmp_path / "o.onnx", check=False)
    assert status == 2 and "external data file" in text and "m.onnx.data" in text, text
    m = onnx.load(str(tmp_path / "m.onnx"), load_external_data=False)
    for e in m.graph.initializer[0].external_data:
        if e.key == "location":
            e.value = "../gone.data"
    onnx.save(m, str(tmp_path / "escape.onnx"))
    status, text = cli("convert", "--to", "rectify", tmp_path / "escape.onnx", tmp_path / "o.onnx", check=False)
    assert status == 2 and "relative path inside the model's folder" in text, text
    assert not (tmp_path / "o.onnx").exists()


def dims(vi):
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in vi.type.tensor_type.shape.dim]


def test_rectify_outputs_get_value_info_so_onnx_keeps_shapes(cli, tmp_path):
    onnx.save(cnn(), str(tmp_path / "m.onnx"))
    cli("convert", "--to", "rectify", "--all", tmp_path / "m.onnx", tmp_path / "r.onnx")
    r = onnx.load(str(tmp_path / "r.onnx"))
    declared = {v.name: dims(v) for v in r.graph.value_info}
    assert declared["p"][:2] == ["N", 16] and len(declared["p"]) == 4, declared
    inferred = onnx.shape_inference.infer_shapes(r)
    shapes = {v.name: dims(v) for v in inferred.graph.value_info}
    # Past the rectify PRelu, ONNX's own inference goes on: the second Conv has 4 channels.
    assert shapes["c2"][:2] == ["N", 4] and shapes["r"][:2] == ["N", 4], shapes


def test_convert_never_overwrites_its_input_and_writes_atomically(cli, tmp_path):
    path = tmp_path / "m.onnx"
    onnx.save(cnn(), str(path))
    before = path.read_bytes()
    status, text = cli("convert", "--to", "rectify", path, path, check=False)
    assert status == 2 and "--force" in text, text
    assert path.read_bytes() == before
    cli("convert", "--to", "rectify", "--all", "--force", path, path)
    assert [n.domain for n in onnx.load(str(path)).graph.node].count("rectify") == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]  # no temporary left


@pytest.mark.parametrize(
    "make,expected",
    [
        (lambda p: p.write_bytes(b""), "has no graph"),
        (lambda p: p.write_bytes(b"\x08\x07\x12\x03abc\x1a"), "is not an ONNX model"),
        (lambda p: p.write_text("name: not a model\n"), "is not an ONNX model"),
        (lambda p: p.write_bytes(cnn().SerializeToString()[:-40]), "is not an ONNX model"),
    ],
    ids=["empty", "garbage", "text", "truncated"],
)
def test_files_that_are_not_models_are_clear_errors(cli, tmp_path, make, expected):
    make(tmp_path / "bad.onnx")
    status, text = cli("convert", "--to", "rectify", tmp_path / "bad.onnx", tmp_path / "o.onnx", check=False)
    assert status == 2 and expected in text and "panicked" not in text, text
    status, text = cli("verify", tmp_path / "bad.onnx", check=False)
    assert status == 2 and expected in text and "panicked" not in text, text


def test_a_missing_output_folder_is_a_clear_error(cli, tmp_path):
    onnx.save(cnn(), str(tmp_path / "m.onnx"))
    status, text = cli("convert", "--to", "rectify", tmp_path / "m.onnx", tmp_path / "no/such/o.onnx", check=False)
    assert status == 2 and "does not exist" in text, text


@pytest.mark.parametrize("slope_read", [False, True])
def test_rrelu_slope_output_lowers_only_when_nothing_reads_it(cli, tmp_path, slope_read):
    # PyTorch's dynamo exporter writes both outputs (the schema declares Slope) and reads one.
    node = helper.make_node("RRelu", ["X"], ["Y", "S"], domain="rectify", lower=0.1, upper=0.3)
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, [4, 5])
    outs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [4, 5]) for n in (["Y", "S"] if slope_read else ["Y"])]
    onnx.save(graph_model([node], [x], outs, rectify_opset=True), str(tmp_path / "m.onnx"))
    code, text = cli("convert", "--to", "builtin", tmp_path / "m.onnx", tmp_path / "b.onnx", check=False)
    if slope_read:
        assert code == 2 and "RRelu's 'Slope' output has no built-in equivalent" in text, text
        assert not (tmp_path / "b.onnx").exists()
        return
    assert code == 0 and "unread Slope output dropped" in text, text
    (lowered,) = onnx.load(str(tmp_path / "b.onnx")).graph.node
    assert (lowered.domain, lowered.op_type, list(lowered.output)) == ("", "LeakyRelu", ["Y"])
    xs = specials(np.float32, (4, 5))
    want = run(tmp_path / "m.onnx", {"X": xs}, plugin=True)[0]
    got = run(tmp_path / "b.onnx", {"X": xs})[0]
    assert (want.view(np.uint32) == got.view(np.uint32)).all()
