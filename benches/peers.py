"""rectify against its peers on the same models, side by side in one run.

Runtimes: ONNX Runtime with its built-in PRelu / LeakyRelu (the baseline of every ratio), ONNX
Runtime + librectify.so on the rectify form, OpenVINO (the original ONNX, float32 inference
precision), PyTorch eager (the ONNX graph's weights run op by op through torch.nn.functional,
as an nn.Module would), tract with its built-in ops and tract with rectify's tract host
(`tract/examples/time_model.rs`, one process per model kept alive between rounds).

Models: MTCNN P-Net (three pyramid sizes), R-Net and O-Net (batch 1 and 32) from models/real,
the MobileFaceNet-style network from models/, and PRelu / LeakyRelu alone (per-op rows, with
a numpy copy of the same tensor as the memcpy floor). Each case runs every runtime in
interleaved rounds (the order rotating per round); the table holds medians and the ratio
time / ONNX Runtime built-in time (below 1: faster than ONNX Runtime's built-in). Every
runtime's output is checked against ONNX Runtime's before it is timed.

    make bench-peers      # or: PYTHONPATH=python python benches/peers.py [--rounds 7] [--write]

``--write`` writes docs/BENCHMARKS-peers.md, docs/benchmarks-peers.svg and the summary section
of docs/BENCHMARKS.md.
"""

import argparse
import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import tempfile
import time

# Idle thread pools must not spin-wait: with the runtimes interleaved on few cores, one
# runtime's spinning workers would steal the cores of the next (measured: ONNX Runtime's
# 2-thread P-Net took 24 ms spinning, 19 ms not). PyTorch's OpenMP reads this at import.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
import openvino as ov  # noqa: E402
import torch  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import rectify  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
LIBRARY = rectify.library_path()
TRACT = ROOT / "target/release/examples/time_model"
REAL = ROOT / "models/real"

# (case, built-in model, rectify model, input shape)
NETWORKS = [
    ("P-Net 480x640", REAL / "pnet.onnx", REAL / "pnet.rectify.onnx", (1, 3, 480, 640)),
    ("P-Net 240x320", REAL / "pnet.onnx", REAL / "pnet.rectify.onnx", (1, 3, 240, 320)),
    ("P-Net 120x160", REAL / "pnet.onnx", REAL / "pnet.rectify.onnx", (1, 3, 120, 160)),
    ("R-Net batch 1", REAL / "rnet.onnx", REAL / "rnet.rectify.onnx", (1, 3, 24, 24)),
    ("R-Net batch 32", REAL / "rnet.onnx", REAL / "rnet.rectify.onnx", (32, 3, 24, 24)),
    ("O-Net batch 1", REAL / "onet.onnx", REAL / "onet.rectify.onnx", (1, 3, 48, 48)),
    ("O-Net batch 32", REAL / "onet.onnx", REAL / "onet.rectify.onnx", (32, 3, 48, 48)),
    ("MobileFaceNet-style 112x112", ROOT / "models/facenet.builtin.onnx", ROOT / "models/facenet.onnx", (1, 3, 112, 112)),
]
RUNTIMES = ["ONNX Runtime", "ONNX Runtime + rectify", "OpenVINO", "PyTorch eager", "tract", "tract + rectify"]
BASELINE = RUNTIMES[0]


def single_op_models(folder, op, shape):
    """(built-in, rectify) one-node models of `op` on a float32 `shape` (NCHW, per-channel slope)."""
    channels = shape[1]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, list(shape))
    slope = np.linspace(-0.25, 0.5, channels, dtype=np.float32)
    paths = []
    for form in ("builtin", "rectify"):
        inits, attrs, domain = [], {}, "" if form == "builtin" else "rectify"
        if op == "PRelu":
            dims = (channels, 1, 1) if form == "builtin" else (channels,)
            inits = [numpy_helper.from_array(slope.reshape(dims), "slope")]
            attrs = {} if form == "builtin" else {"axis": 1}
            node = helper.make_node("PRelu", ["x", "slope"], ["y"], domain=domain, **attrs)
        else:
            node = helper.make_node("LeakyRelu", ["x"], ["y"], domain=domain, alpha=0.1)
        imports = [helper.make_opsetid("", 17)] + ([helper.make_opsetid("rectify", 1)] if domain else [])
        model = helper.make_model(helper.make_graph([node], op, [x], [y], inits), opset_imports=imports)
        model.ir_version = 8
        path = folder / f"{op}_{form}.onnx"
        onnx.save(model, str(path))
        paths.append(path)
    return paths


class TorchGraph:
    """The ONNX graph's nodes as torch.nn.functional calls, eager (what an nn.Module of the same
    network runs). Covers the ops of the benchmarked models."""

    def __init__(self, path):
        model = onnx.load(str(path))
        self.graph = model.graph
        self.weights = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in model.graph.initializer}

    def __call__(self, x):
        values = dict(self.weights)
        values[self.graph.input[0].name] = x
        for node in self.graph.node:
            a = {at.name: helper.get_attribute_value(at) for at in node.attribute}
            args = [values[i] for i in node.input if i]
            values[node.output[0]] = self._op(node, a, args)
        return [values[o.name] for o in self.graph.output]

    @staticmethod
    def _op(node, a, args):
        f = torch.nn.functional
        op = node.op_type
        if op == "Conv":
            pads = a.get("pads", [0, 0, 0, 0])
            assert pads[:2] == pads[2:], f"asymmetric pads {pads}"
            return f.conv2d(args[0], args[1], args[2] if len(args) > 2 else None, a.get("strides", 1), pads[:2],
                            a.get("dilations", 1), a.get("group", 1))
        if op == "PRelu":
            x, slope = args
            if slope.numel() == x.shape[1] or slope.numel() == 1:
                return f.prelu(x, slope.reshape(-1))
            return torch.where(x < 0, x * slope, x)
        if op == "LeakyRelu":
            return f.leaky_relu(args[0], a.get("alpha", 0.01))
        if op == "MaxPool":
            pads = a.get("pads", [0, 0, 0, 0])
            assert pads[:2] == pads[2:], f"asymmetric pads {pads}"
            return f.max_pool2d(args[0], a["kernel_shape"], a.get("strides", 1), pads[:2], ceil_mode=bool(a.get("ceil_mode", 0)))
        if op == "Softmax":
            return f.softmax(args[0], dim=a.get("axis", -1))
        if op == "Transpose":
            return args[0].permute(*a["perm"])
        if op == "Reshape":
            dims = [int(d) for d in args[1].tolist()]
            dims = [args[0].shape[i] if d == 0 else d for i, d in enumerate(dims)]
            return args[0].reshape(dims)
        if op == "Flatten":
            return torch.flatten(args[0], a.get("axis", 1))
        if op == "Gemm":
            assert a.get("transB", 0) == 1 and not a.get("transA", 0) and a.get("alpha", 1.0) == 1.0 == a.get("beta", 1.0)
            return f.linear(args[0], args[1], args[2] if len(args) > 2 else None)
        if op == "Add":
            return args[0] + args[1]
        raise NotImplementedError(f"benches/peers.py: no torch form of {op}")


class Tract:
    """A time_model process for one model: it loads once, then times `n` runs per request."""

    def __init__(self, path, x, rectify_host, folder):
        raw, out = folder / f"{path.stem}.{x.shape}.in", folder / f"{path.stem}.{x.shape}.{rectify_host}.out"
        x.astype("<f4").tofile(raw)
        cmd = [str(TRACT), str(path), "--shape", ",".join(map(str, x.shape)), "--input", str(raw), "--output", str(out)]
        self.proc = subprocess.Popen(cmd + (["--rectify"] if rectify_host else []), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        ready = self.proc.stdout.readline().strip()
        if ready != "ready":
            raise RuntimeError(f"time_model on {path.name} did not start: {ready!r}")
        self.first = np.fromfile(out, "<f4")

    def time(self, n):
        self.proc.stdin.write(f"{n}\n")
        self.proc.stdin.flush()
        return float(self.proc.stdout.readline())

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()


def ort_session(path, threads, plugin, profile_prefix=None):
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")  # see OMP_WAIT_POLICY above
    so.log_severity_level = 3
    if plugin:
        so.register_custom_ops_library(LIBRARY)
    if profile_prefix:
        so.enable_profiling = True
        so.profile_file_prefix = str(profile_prefix)
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def runners(builtin, rectified, x, threads, folder):
    """name -> (run once, first output of that run): every runtime, ready to time."""
    feeds = lambda s: {s.get_inputs()[0].name: x}  # noqa: E731
    base, plug = ort_session(builtin, threads, False), ort_session(rectified, threads, True)
    core = ov.Core()
    compiled = core.compile_model(str(builtin), "CPU", {
        "INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32",
    })
    compiled_request = compiled.create_infer_request()
    torch.set_num_threads(threads)
    graph, tx = TorchGraph(builtin), torch.from_numpy(x)

    def torch_run():
        with torch.inference_mode():
            return graph(tx)[0].numpy()

    out = {
        "ONNX Runtime": (lambda: base.run(None, feeds(base))[0]),
        "ONNX Runtime + rectify": (lambda: plug.run(None, feeds(plug))[0]),
        "OpenVINO": (lambda: compiled_request.infer({0: x})[compiled.output(0)]),
        "PyTorch eager": torch_run,
    }
    tracts = []
    if threads == 1:  # tract runs these models on one thread
        for name, path, host in (("tract", builtin, False), ("tract + rectify", rectified, True)):
            t = Tract(path, x, host, folder)
            tracts.append(t)
            out[name] = t
    return out, tracts


def measure(case, builtin, rectified, shape, threads, rounds, folder, copy_floor=False):
    x = np.random.default_rng(0).uniform(-2, 2, shape).astype(np.float32)
    run, tracts = runners(builtin, rectified, x, threads, folder)
    reference = run[BASELINE]()
    for name, f in run.items():
        got = f.first.reshape(reference.shape) if isinstance(f, Tract) else np.asarray(f()).reshape(reference.shape)
        if not np.allclose(got, reference, rtol=1e-3, atol=1e-4):
            raise AssertionError(f"{case}: {name} differs from {BASELINE} by {np.abs(got - reference).max()}")
    if copy_floor:
        dst = np.empty_like(x)
        run["memcpy"] = lambda: np.copyto(dst, x)

    def timer(name):
        f = run[name]
        if isinstance(f, Tract):
            return f.time
        def many(n):  # noqa: E306
            start = time.perf_counter()
            for _ in range(n):
                f()
            return time.perf_counter() - start
        return many

    timers = {name: timer(name) for name in run}
    # Repeats per round: about 40 ms of the baseline, at least 1.
    one = min(timers[BASELINE](1) for _ in range(3))
    n = max(1, int(0.04 / max(one, 1e-7)))
    for t in timers.values():
        t(max(1, n // 4))  # warm-up
    samples = {name: [] for name in timers}
    names = list(timers)
    for r in range(rounds):
        for name in names[r % len(names):] + names[: r % len(names)]:
            samples[name].append(timers[name](n) / n)
    for t in tracts:
        t.close()
    return {name: statistics.median(s) for name, s in samples.items()}


def openvino_fusions(builtin, folder):
    """(PRelu nodes OpenVINO fused into a Convolution, PRelu nodes): from its compiled graph
    of a copy whose nodes all have names (OpenVINO reports fused nodes by name)."""
    model = onnx.load(str(builtin))
    for i, node in enumerate(model.graph.node):
        node.name = node.name or f"node{i}_{node.op_type}"
    prelus = {n.name for n in model.graph.node if n.op_type == "PRelu"}
    named = folder / f"named_{builtin.name}"
    onnx.save(model, str(named))
    compiled = ov.Core().compile_model(str(named), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    fused = set()
    for op in compiled.get_runtime_model().get_ordered_ops():
        info = op.get_rt_info()
        if info["layerType"].astype(str) == "Convolution":
            fused |= prelus & set(info["originalLayersNames"].astype(str).split(","))
    return len(fused), len(prelus)


def prelu_share(builtin, rectified, shape, folder):
    """The share of node time that PRelu takes in ONNX Runtime's profile, built-in and rectify form."""
    x = np.random.default_rng(0).uniform(-2, 2, shape).astype(np.float32)
    shares = []
    for path, plugin in ((builtin, False), (rectified, True)):
        s = ort_session(path, 1, plugin, folder / f"profile_{path.stem}")
        for _ in range(20):
            s.run(None, {s.get_inputs()[0].name: x})
        events = json.loads(pathlib.Path(s.end_profiling()).read_text())
        nodes = [e for e in events if e.get("cat") == "Node" and e["name"].endswith("_kernel_time")]
        total = sum(e["dur"] for e in nodes)
        prelu = sum(e["dur"] for e in nodes if e.get("args", {}).get("op_name") == "PRelu")
        shares.append(prelu / total if total else float("nan"))
    return shares


def fmt_time(seconds):
    return f"{seconds * 1e3:.3f} ms" if seconds >= 1e-3 else f"{seconds * 1e6:.1f} µs"


def table(rows, columns):
    head = "| case | threads | " + " | ".join(columns) + " |\n|---|---|" + "---|" * len(columns) + "\n"
    lines = []
    for case, threads, med in rows:
        base = med[BASELINE]
        cells = []
        for c in columns:
            if c not in med:
                cells.append("-")
            elif c == BASELINE:
                cells.append(fmt_time(base))
            else:
                cells.append(f"{med[c] / base:.2f}× ({fmt_time(med[c])})")
        lines.append(f"| {case} | {threads} | " + " | ".join(cells) + " |")
    return head + "\n".join(lines) + "\n"


def svg(rows):
    """Grouped bars: each network at 1 thread, time per runtime as a ratio to ONNX Runtime's."""
    colors = ["#555555", "#d62728", "#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd"]
    nets = [(case, med) for case, threads, med in rows if threads == 1]
    top = max(med[r] / med[BASELINE] for _, med in nets for r in RUNTIMES if r in med)
    width, left, bar, gap, height = 900, 220, 10, 14, 0
    parts = []
    y = 40
    for case, med in nets:
        parts.append(f'<text x="{left - 8}" y="{y + 3 * bar}" text-anchor="end" font-size="12">{case}</text>')
        for i, r in enumerate(RUNTIMES):
            if r not in med:
                continue
            ratio = med[r] / med[BASELINE]
            w = (width - left - 80) * ratio / top
            parts.append(f'<rect x="{left}" y="{y + i * bar}" width="{w:.1f}" height="{bar - 1}" fill="{colors[i]}"/>')
            parts.append(f'<text x="{left + w + 4:.1f}" y="{y + i * bar + bar - 2}" font-size="9">{ratio:.2f}</text>')
        y += len(RUNTIMES) * bar + gap
    height = y + 20 + 16 * len(RUNTIMES)
    for i, r in enumerate(RUNTIMES):
        ly = y + 10 + 16 * i
        parts.append(f'<rect x="{left}" y="{ly}" width="12" height="10" fill="{colors[i]}"/>')
        parts.append(f'<text x="{left + 18}" y="{ly + 9}" font-size="12">{r}</text>')
    one = left + (width - left - 80) / top
    parts.append(f'<line x1="{one:.1f}" y1="30" x2="{one:.1f}" y2="{y}" stroke="#000" stroke-dasharray="4 3"/>')
    title = "End-to-end latency per runtime, 1 thread, ÷ ONNX Runtime built-in (dashed: 1.0; shorter is faster)"
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif">'
            f'<rect width="100%" height="100%" fill="white"/><text x="10" y="20" font-size="14">{title}</text>'
            + "".join(parts) + "</svg>\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    if not TRACT.is_file():
        sys.exit(f"{TRACT.relative_to(ROOT)} is missing: cargo build --release -p rectify-tract --example time_model")
    thread_counts = [int(t) for t in args.threads.split(",")]
    net_rows, op_rows, shares = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        folder = pathlib.Path(tmp)
        for case, builtin, rectified, shape in NETWORKS:
            for threads in thread_counts:
                med = measure(case, builtin, rectified, shape, threads, args.rounds, folder)
                net_rows.append((case, threads, med))
                print(table([net_rows[-1]], RUNTIMES).splitlines()[-1], flush=True)
            shares.append((case, *prelu_share(builtin, rectified, shape, folder), *openvino_fusions(builtin, folder)))
        for op, shape in (("PRelu", (1, 64, 56, 56)), ("PRelu", (1, 32, 240, 320)), ("LeakyRelu", (1, 64, 56, 56)),
                          ("LeakyRelu", (1, 32, 240, 320))):
            builtin, rectified = single_op_models(folder, op, shape)
            for threads in thread_counts:
                case = f"{op} {'x'.join(map(str, shape))}"
                med = measure(case, builtin, rectified, shape, threads, args.rounds, folder, copy_floor=True)
                op_rows.append((case, threads, med))
                print(table([op_rows[-1]], RUNTIMES + ["memcpy"]).splitlines()[-1], flush=True)
    share_table = ("| network | PRelu share, built-in | PRelu share, rectify | PRelu fused into a Convolution by OpenVINO |\n"
                   "|---|---|---|---|\n" + "".join(f"| {c} | {b:.0%} | {r:.0%} | {f} of {n} |\n" for c, b, r, f, n in shares))
    print(share_table)
    if args.write:
        write(net_rows, op_rows, share_table, shares, args)


def write(net_rows, op_rows, share_table, shares, args):
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), platform.machine())
    versions = (f"ONNX Runtime {ort.__version__}, OpenVINO {ov.get_version().split('-')[0]}, PyTorch {torch.__version__}, "
                f"tract 0.23.9")
    setup = (f"Produced by `make bench-peers` (`benches/peers.py --write`, {args.rounds} rounds) on {cpu}, "
             f"{os.cpu_count()} cores; {versions}. Cells: time ÷ ONNX Runtime's built-in form (below 1× is faster), "
             "with the median time; interleaved rounds in one run. tract runs on one thread, so it has 1-thread "
             "rows only. OpenVINO reads the original ONNX with float32 inference precision. Thread pools "
             "do not spin-wait (ONNX Runtime `allow_spinning=0`, `OMP_WAIT_POLICY=PASSIVE`): interleaved on "
             "few cores, one runtime's spinning workers would take the cores of the next.")
    (ROOT / "docs/BENCHMARKS-peers.md").write_text(
        "# rectify against its peers\n\n" + setup + "\n\n## Networks\n\n" + table(net_rows, RUNTIMES)
        + "\n![latency per runtime](benchmarks-peers.svg)\n\n## Share of ONNX Runtime's node time in PRelu (1 thread)\n\n"
        + share_table + "\n## Single ops (memcpy: numpy copy of the same tensor)\n\n" + table(op_rows, RUNTIMES + ["memcpy"]))
    (ROOT / "docs/benchmarks-peers.svg").write_text(svg(net_rows))
    page = ROOT / "docs/BENCHMARKS.md"
    old = page.read_text()
    block = f"{PEERS_BEGIN}\n{summary(net_rows, op_rows, shares, setup)}{PEERS_END}"
    if PEERS_BEGIN in old and PEERS_END in old:
        new = old[: old.index(PEERS_BEGIN)] + block + old[old.index(PEERS_END) + len(PEERS_END):]
    else:
        new = old.rstrip("\n") + "\n\n" + block + "\n"
    page.write_text(new)
    print("wrote docs/BENCHMARKS-peers.md, docs/benchmarks-peers.svg and the peers section of docs/BENCHMARKS.md")


# The section of docs/BENCHMARKS.md this script owns (benches/ort_chains.rs keeps it).
PEERS_BEGIN = "<!-- peers: written by make bench-peers -->"
PEERS_END = "<!-- /peers -->"


def summary(net_rows, op_rows, shares, setup):
    """The networks table with what it says: where rectify wins, where a peer does, by how much."""
    ours = "ONNX Runtime + rectify"
    gains = [med[BASELINE] / med[ours] for _, _, med in net_rows]
    lines = [
        "## Against peers (real networks)\n",
        setup + " Full tables, single-op rows and ONNX Runtime's PRelu share: [BENCHMARKS-peers.md](BENCHMARKS-peers.md).\n",
        table(net_rows, RUNTIMES),
        "![latency per runtime](benchmarks-peers.svg)\n",
        f"- ONNX Runtime + rectify runs these networks {min(gains):.2f}–{max(gains):.2f}× as fast as ONNX Runtime "
        "with its built-in PRelu.",
    ]
    for peer in ("OpenVINO", "PyTorch eager", "tract", "tract + rectify"):
        wins = [(case, threads, med[ours] / med[peer]) for case, threads, med in net_rows if peer in med and med[peer] < med[ours]]
        rows = sum(1 for _, _, med in net_rows if peer in med)
        if wins:
            lo, hi = min(w for *_, w in wins), max(w for *_, w in wins)
            cases = ", ".join(f"{c} ({t} thr.)" for c, t, _ in wins)
            lines.append(f"- **{peer} is faster than ONNX Runtime + rectify on {len(wins)} of {rows} rows**, by "
                         f"{lo:.2f}–{hi:.2f}×: {cases}.")
        else:
            lines.append(f"- {peer} is slower than ONNX Runtime + rectify on all {rows} rows.")
    # What a free PRelu would give: ONNX Runtime + rectify less its PRelu share (1 thread).
    share = {case: rect for case, _, rect, _, _ in shares}
    one = [(case, med) for case, threads, med in net_rows if threads == 1]
    still = [case for case, med in one if med[ours] * (1 - share[case]) > med["OpenVINO"]]
    per_network = {case.split()[0]: (f, n) for case, _, _, f, n in shares}  # P-Net once, not per size
    fused = sum(f for f, _ in per_network.values())
    total = sum(n for _, n in per_network.values())
    lines.append(
        f"- Where OpenVINO wins, it is not the activation. Its compiled graphs fuse {fused} of the {total} PRelu nodes "
        "into the Convolution before them (read from its runtime model in this run), and rectify's PRelu is only "
        f"{min(share.values()):.0%}–{max(share.values()):.0%} of ONNX Runtime + rectify's node time: with that "
        f"at zero, OpenVINO would still be faster on {len(still)} of its {len(one)} 1-thread rows. The gap is "
        "ONNX Runtime's convolutions, which rectify does not replace; closing it would take a convolution with "
        "the activation in its epilogue (an ONNX Runtime Conv+PRelu fusion, or rectify's kernels inside OpenVINO), "
        "not a faster PRelu.")
    lost = []
    for case, threads, med in op_rows:
        best = min((r for r in RUNTIMES if r in med), key=lambda r: med[r])
        if best != ours:
            lost.append(f"{case} ({threads} thr.): {best}, {med[ours] / med[best]:.2f}× faster")
    lines.append(f"- Single ops ([BENCHMARKS-peers.md](BENCHMARKS-peers.md)): ONNX Runtime + rectify is the fastest "
                 f"runtime on {len(op_rows) - len(lost)} of {len(op_rows)} rows"
                 + (f"; not on {'; '.join(lost)}." if lost else "."))
    lines.append("- PyTorch eager runs the same weights op by op (torch.nn.functional calls, as an nn.Module "
                 "would); tract runs one thread.\n")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
