"""rectify.tf against TensorFlow's own ops, forward and forward + gradient, side by side.

Each case runs rectify's op, TensorFlow's way of computing the same outputs, and a copy of
the input (numpy, the memcpy floor) in interleaved rounds on one intra-op thread, and prints
medians and ratios (TensorFlow's time / rectify's: above 1 means rectify is faster).

TensorFlow's own: ``tf.nn.leaky_relu`` (and its registered gradient); PRelu as Keras writes
it, ``relu(x) - alpha * relu(-x)``; RRelu inference as ``leaky_relu`` plus the slope map
``where(x > 0, 1, a)`` (rectify's op returns both); RRelu's gradient as ``g * slopes``.

    make bench-tf            # or: python benches/tf_ops.py [--mode graph] [--sizes 65536] [--cases leaky]

``--write`` also writes docs/BENCHMARKS-tensorflow.md from the run.
"""

import argparse
import math
import os
import pathlib
import platform
import statistics
import sys
import textwrap
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)
tf.get_logger().setLevel("ERROR")  # several graphs per case are traced on purpose (GRAPHS)

import rectify.tf as rtf  # noqa: E402

ALPHA = 0.2
LOWER, UPPER = 0.125, 1.0 / 3.0
CHANNELS = 32


def forward_and_gradient(f):
    """`(x, g, *params) -> (f(x), d f / d x, d f / d params...)`: a training step's outputs."""

    def run(x, g, *params):
        with tf.GradientTape() as tape:
            tape.watch([x, *params])
            y = f(x, *params)
        return [y, *tape.gradient(y, [x, *params], output_gradients=g)]

    return run


def keras_prelu(x, slope):
    return tf.nn.relu(x) - slope * tf.nn.relu(-x)


def tf_rrelu_inference(x):
    a = (LOWER + UPPER) / 2
    return [tf.nn.leaky_relu(x, alpha=a), tf.where(x > 0, tf.ones_like(x), tf.constant(a, x.dtype))]


CONTROL = "control: TensorFlow's g * x against itself"

#: (case, rectify, TensorFlow): functions of one input `x`, upstream gradient `g`, slope `s`.
CASES = [
    ("leaky_relu", lambda x, g, s: rtf.leaky_relu(x, ALPHA), lambda x, g, s: tf.nn.leaky_relu(x, ALPHA)),
    ("prelu", lambda x, g, s: rtf.prelu(x, s), lambda x, g, s: keras_prelu(x, s)),
    ("rrelu (inference)", lambda x, g, s: list(rtf.rrelu(x, LOWER, UPPER)), lambda x, g, s: tf_rrelu_inference(x)),
    (
        "leaky_relu + gradient",
        lambda x, g, s: forward_and_gradient(lambda t: rtf.leaky_relu(t, ALPHA))(x, g),
        lambda x, g, s: forward_and_gradient(lambda t: tf.nn.leaky_relu(t, ALPHA))(x, g),
    ),
    (
        "prelu + gradients",
        lambda x, g, s: forward_and_gradient(rtf.prelu)(x, g, s),
        lambda x, g, s: forward_and_gradient(keras_prelu)(x, g, s),
    ),
    # RReluGrad alone (the slopes of a training run are its second input): g * slopes.
    ("rrelu_grad", lambda x, g, s: rtf.rrelu_grad(g, x), lambda x, g, s: g * x),
    # The same on a temporary (x * 2, g * 2, as inside a network), whose buffer the op may
    # take over for its output (TF_ForwardInputOrAllocateOutput; TensorFlow's own ops do).
    ("leaky_relu of a temporary", lambda x, g, s: rtf.leaky_relu(x * 2, ALPHA), lambda x, g, s: tf.nn.leaky_relu(x * 2, ALPHA)),
    (
        "leaky_relu + gradient, temporaries",
        lambda x, g, s: forward_and_gradient(lambda t: rtf.leaky_relu(t, ALPHA))(x * 2, g * 2),
        lambda x, g, s: forward_and_gradient(lambda t: tf.nn.leaky_relu(t, ALPHA))(x * 2, g * 2),
    ),
    ("prelu of a temporary", lambda x, g, s: rtf.prelu(x * 2, s), lambda x, g, s: keras_prelu(x * 2, s)),
    (
        "rrelu (inference) of a temporary",
        lambda x, g, s: list(rtf.rrelu(x * 2, LOWER, UPPER)),
        lambda x, g, s: tf_rrelu_inference(x * 2),
    ),
    ("rrelu_grad of a temporary", lambda x, g, s: rtf.rrelu_grad(g * 2, x), lambda x, g, s: (g * 2) * x),
    # The gradients' other input a temporary (the upstream gradient held elsewhere, as where
    # it feeds two branches): TensorFlow's Mul and LeakyReluGrad may write over either input.
    ("rrelu_grad, slopes a temporary", lambda x, g, s: rtf.rrelu_grad(g, x * 2), lambda x, g, s: g * (x * 2)),
    (
        "leaky_relu_grad, features a temporary",
        lambda x, g, s: rtf.leaky_relu_grad(g, x * 2, ALPHA),
        lambda x, g, s: tf.raw_ops.LeakyReluGrad(gradients=g, features=x * 2, alpha=ALPHA),
    ),
    # TensorFlow against itself: both sides the same one-pass op (Mul runs at memory speed in
    # both types, TensorFlow's float16 LeakyRelu does not), so any ratio but 1.00 is the
    # run's own error at this size (the "rectify" column times a second copy of it).
    (CONTROL, lambda x, g, s: g * x, lambda x, g, s: g * x),
]


def batched(f, mode, xs, gs, s):
    """A call of `f` on each of several independent inputs, eagerly (each op dispatched from
    Python) or as one graph (`tf.function`, as Keras' fit and predict run: grappler may
    rewrite either side's ops; no two can be merged, their inputs differ). The graph captures
    the inputs instead of taking them as arguments: passing 2 x 64 tensors in took more time
    than the 64K ops themselves (Python flattening the argument list on every call)."""
    run = lambda: [f(x, g, s) for x, g in zip(xs, gs)]  # noqa: E731
    return run if mode == "eager" else tf.function(run, autograph=False)


#: Graphs per side in `tf.function` mode, one per round in turn. Identical graphs traced
#: apart ran at steadily different speeds here (the same one faster in every round), so one
#: graph per side would weigh that luck in every round; the control rows show what is left.
GRAPHS = 3


def timed(f, reps):
    start = time.perf_counter()
    for _ in range(reps):
        f()
    return (time.perf_counter() - start) / reps


def measure(size, dtype, rounds, mode, cases):
    rng = np.random.default_rng(0)
    shape = (size // CHANNELS, CHANNELS)
    # Enough independent inputs per call that each call runs about 4M elements.
    copies = max(1, (1 << 22) // size)
    xs = [tf.constant(rng.standard_normal(shape), dtype) for _ in range(copies)]
    gs = [tf.constant(rng.standard_normal(shape), dtype) for _ in range(copies)]
    slope = tf.constant(rng.uniform(0.1, 0.3, (CHANNELS,)), dtype)
    src = [x.numpy() for x in xs]
    dst = [np.empty_like(x) for x in src]

    def memcpy():
        for d, s in zip(dst, src):
            np.copyto(d, s)

    # Blocks of 20 calls; 5 at 16M, where one call takes milliseconds already.
    reps = 20 if size <= 1 << 20 else 5
    rows = []
    graphs = GRAPHS if mode == "graph" else 1
    for name, mine, theirs in cases:
        mine = [batched(mine, mode, xs, gs, slope) for _ in range(graphs)]
        theirs = [batched(theirs, mode, xs, gs, slope) for _ in range(graphs)]
        for f in mine + theirs:
            f()  # trace and warm up
        times = {"rectify": [], "tensorflow": [], "memcpy": []}
        for r in range(rounds):
            runs = {"rectify": mine[r % graphs], "tensorflow": theirs[r % graphs], "memcpy": memcpy}
            # Each starts from the same cache: an untimed memcpy first (it streams twice the
            # inputs' bytes through). Without it, whoever ran second found the inputs the
            # first had just read still in the L3 (measured at 1M float32: 0.83x -> 0.97x).
            order = ["rectify", "tensorflow"] if r % 2 == 0 else ["tensorflow", "rectify"]
            for who in order + ["memcpy"]:
                memcpy()
                times[who].append(timed(runs[who], reps) / copies)
        med = {k: statistics.median(v) for k, v in times.items()}
        # Ratios per round, then their median: both sides of a round saw the same machine
        # (a noisy neighbour slows a round, not one side of the comparison).
        for who in ("tensorflow", "memcpy"):
            med[f"{who} ratios"] = [t / r for t, r in zip(times[who], times["rectify"])]
            med[f"{who} ratio"] = statistics.median(med[f"{who} ratios"])
        rows.append((name, dtype.name, size, med))
    return rows


ROOT = pathlib.Path(__file__).resolve().parents[1]


def cpu_name():
    for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--sizes", default="65536,1048576,16777216")
    parser.add_argument("--dtypes", default="float32,float16")
    parser.add_argument("--mode", choices=["graph", "eager", "both"], default="both")
    parser.add_argument("--cases", help="only the cases whose names contain one of these words (comma-separated)")
    parser.add_argument("--write", action="store_true", help="write docs/BENCHMARKS-tensorflow.md (both modes, every case)")
    args = parser.parse_args()
    if args.rounds < 2:
        parser.error(f"--rounds takes at least 2 (a row gives the middle half of its rounds), got {args.rounds}")
    if args.write and (args.cases or args.mode != "both"):
        parser.error("--write takes both modes and every case (leave out --mode and --cases)")
    wanted = args.cases.split(",") if args.cases else [""]
    cases = [case for case in CASES if any(w in case[0] for w in wanted)]
    if not cases:
        parser.error(f"no case name contains any of {wanted}: " + "; ".join(name for name, _, _ in CASES))
    args.defaults = all(getattr(args, k) == parser.get_default(k) for k in ("rounds", "sizes", "dtypes"))
    modes = ["graph", "eager"] if args.mode == "both" else [args.mode]
    sections = [run_mode(mode, args, cases) for mode in modes]
    if args.write:
        write_page(args, sections)


def sign_test_rounds(rounds, level=0.05):
    """`(k, p)`: the fewest of `rounds` rounds TensorFlow must be faster in for a one-sided
    sign test to call the row a loss at `level` (on a tie each round is a coin flip), and the
    chance a tie reaches that; None when even every round would not be enough."""
    for k in range(rounds + 1):
        p = sum(math.comb(rounds, j) for j in range(k, rounds + 1)) / 2**rounds
        if p < level:
            return k, p
    return None


def run_mode(mode, args, cases):
    """Prints one mode's table as it goes; returns (title, table lines, losses, control
    ratios, verdict)."""
    title = f"TensorFlow {tf.__version__}, {MODES[mode]}, 1 intra-op thread, {args.rounds} interleaved rounds, medians"
    print(title)
    header = (
        "| op | dtype | elements | rectify | TensorFlow | TF ÷ rectify | middle half of rounds "
        "| TF faster in | memcpy ÷ rectify |"
    )
    lines = [header, "|---|---|---|---|---|---|---|---|---|"]
    print(header)
    losses, controls = [], []
    test = sign_test_rounds(args.rounds)
    tested, beyond, controls_beyond = 0, [], []
    for dtype in args.dtypes.split(","):
        for size in map(int, args.sizes.split(",")):
            for name, dt, n, med in measure(size, tf.as_dtype(dtype), args.rounds, mode, cases):
                ratio = med["tensorflow ratio"]
                low, _, high = statistics.quantiles(med["tensorflow ratios"], n=4)
                wins = sum(r < 1.0 for r in med["tensorflow ratios"])
                line = (
                    f"| {name} | {dt} | {n} | {fmt(med['rectify'])} | {fmt(med['tensorflow'])} "
                    f"| {ratio:.2f}× | {low:.2f}–{high:.2f} | {wins}/{args.rounds} | {med['memcpy ratio']:.2f}× |"
                )
                row = f"{name}, {dt}, {n} elements"
                if test is not None and wins >= test[0]:
                    (controls_beyond if name == CONTROL else beyond).append(f"{row}: {wins}/{args.rounds}")
                lines.append(line)
                print(line)
                sys.stdout.flush()
                if name == CONTROL:
                    controls.append(ratio)
                    continue
                tested += 1
                if ratio < 1.0:
                    tie = "; a tie: 1.00× lies in the middle half of the rounds" if high >= 1.0 else ""
                    losses.append((ratio, f"{row}: {ratio:.2f}× ({low:.2f}–{high:.2f}{tie})"))
    worst = min([r for r, _ in losses], default=None)
    print(f"rows where TensorFlow is faster: {len(losses)}" + (f" (worst {worst:.2f}×)" if losses else ""))
    if controls:
        print(f"TensorFlow against itself: {min(controls):.2f}× to {max(controls):.2f}×")
    verdict = sign_test_verdict(args.rounds, test, tested, beyond, controls_beyond)
    print(verdict)
    return title, lines, sorted(losses), controls, verdict


def sign_test_verdict(rounds, test, tested, beyond, controls_beyond):
    """What the sign test says of a mode's `tested` rows (the control rows apart), as a
    sentence for the page: which it flags, and how many ties alone would."""
    if test is None:
        return f"With {rounds} rounds a one-sided sign test cannot reach p < 0.05: run 5 or more."
    enough, p = test
    listed = lambda rows: "; ".join(rows) if rows else "none"  # noqa: E731
    return (
        f"Rows where TensorFlow was faster in at least {enough} of the {rounds} rounds (a one-sided "
        f"sign test, p = {p:.3f}): {listed(beyond)}. Were all {tested} rows ties, chance alone would "
        f"flag about {tested * p:.1f} of them. Control rows flagged: {listed(controls_beyond)}."
    )


MODES = {"graph": "tf.function", "eager": "eager"}


def write_page(args, sections):
    options = " ".join(f"--{k} {getattr(args, k)}" for k in ("rounds", "sizes", "dtypes"))
    command = "make bench-tf" if args.defaults else f"python benches/tf_ops.py {options}"
    tables = []
    for title, lines, losses, controls, verdict in sections:
        lost = "\n".join(f"- {text}" for _, text in losses) or "- none"
        control = f"TensorFlow against itself (the control rows): {min(controls):.2f}× to {max(controls):.2f}×."
        tables.append(
            f"## {title}\n\n" + "\n".join(lines) + f"\n\n{control}\n\nWhere TensorFlow is faster:\n\n{lost}\n\n"
            + textwrap.fill(verdict, 95) + "\n"
        )
    test = sign_test_rounds(args.rounds)
    enough_text = f"{test[0]} or more of {args.rounds}" if test is not None else "a run of at least 5 rounds"
    page = f"""# Benchmarks: rectify.tf against TensorFlow's own ops

Produced by `{command}` (`benches/tf_ops.py --write`) on {cpu_name()}, {os.cpu_count()} cores.
Each case runs rectify's op and TensorFlow's own way of computing the same outputs on the
same inputs, interleaved in rounds: blocks of 20 calls (5 at 16M), each block after an
untimed memcpy that evicts the inputs, rectify and TensorFlow taking turns to go first
(without that, the second found the inputs the first had read still in the L3: measured
0.83x -> 0.97x at 1M float32). `TF ÷ rectify` above 1 means rectify is faster; it is the
median of the rounds' ratios, and `middle half of rounds` gives their quartiles.
`TF faster in` counts the rounds in which TensorFlow's block took less time: where the two
tie, each round is a coin flip, so only {enough_text} says TensorFlow is ahead (a one-sided
sign test, p < 0.05). `memcpy ÷ rectify` compares with a numpy copy of the input (the memory
floor). Each call runs at least 4M elements (several independent tensors at the small
sizes). The `control` row of each size times TensorFlow's `g * x` (one pass at memory speed,
as the RRelu gradient's row) against a second copy of itself (in the `rectify` column): how
far it lands from 1.00×, and how many rounds it loses, is the run's own error at that size.

Two modes: `tf.function` (one graph per call of all the copies, as Keras' `fit` and
`predict` run; the graph captures its inputs, since passing 2 × 64 tensors as arguments
took Python longer than the 64K ops themselves) and eager (each op dispatched from Python,
about 30 µs per op on an Intel Xeon, the same for both, which weighs on the 64K rows). In
`tf.function` each side has three graphs, one per round in turn: identical graphs traced
apart ran at steadily different speeds here (the same one faster in every round).

TensorFlow's own: `tf.nn.leaky_relu` and its registered gradient; PRelu as Keras writes it,
`relu(x) - alpha * relu(-x)` (the 32 slopes along the last axis), with autodiff for the
gradients; RRelu inference as `leaky_relu` plus `where(x > 0, 1, a)` for the slopes rectify's
op also returns; RRelu's gradient as `g * slopes`.

{chr(10).join(tables)}
## Reading the rows

Ratios are medians of per-round ratios (both sides of a round saw the same machine). The
rows nearest 1.0× are RRelu's gradient, which is TensorFlow's own `g * slopes` pass for
pass, and the one-pass ops on a temporary in `tf.function` (written over the buffer that
TensorFlow's `x * 2` has just written, still in the cache): both sides read each input once
and write the output once, with vector loops of one shape. They are ties: the control rows
(the same op on both sides) land as far from 1.00× as they do, and one such row moves by
about ±10% from run to run on this 2-core VM. The sign test under each table asks the same
by rounds: a row it flags lost more rounds than a tie would, but among a table's 78 rows it
flags two or three ties by chance (its line says how many to expect), and the rounds of one
run are not independent coin flips (a control row is flagged now and then), so a flag that
does not recur from run to run is noise too. Where the inputs come from memory, rectify's
loops ask for the lines they will read and write 2 KiB ahead (1 KiB in buffers over 32 MiB;
`src/kernels/lanes.rs`), which Eigen's loops do not: that is rectify's margin on the other
one-pass rows where it helps. On a Zen 3 EPYC it cost up to 15% at 64K and 1M, so there the
loops leave it to the hardware prefetchers (`prefetches_ahead` in `src/kernels/cpu.rs`).
Outside the arithmetic, a plugin's op does more per call than TensorFlow's own
(TensorFlow's C API allocates a handle for every input and output it hands over), which
weighs most on the 64K rows. TensorFlow's float16 LeakyRelu and its gradient take many
times longer than its float32 ones (compare the LeakyRelu rows of both types); rectify's
run at memory speed.

From 32 MiB up (the 16M rows) rectify's ops advise huge pages for a fresh output before the
first store (`tf/src/pages.rs`): where the allocator maps a block that large afresh on each
call (glibc's malloc maps such blocks on their own and unmaps them on free), the call
faults the output in 2 MiB at a time instead of 4 KiB. Whether TensorFlow keeps its 64 MiB
blocks from call to call in `tf.function` depends on the machine: on an Intel Xeon it did
(no page faults per call on either side, so the 16M rows compared the passes: the plain
float32 one-pass rows at 1.03-1.16x); on a Zen 3 EPYC it mapped them afresh on each call,
faulting 4 KiB at a time, and the plain float32 16M rows of two runs there were 2.3-6.2x and
3.0-5.9x. `memcpy ÷ rectify` on the 16M rows compares with a copy into a buffer that is
already mapped. The stores there are plain: on a page the OS has just zeroed, the lines are
in the cache and a streaming store would first have to evict them.

The `of a temporary` rows give the op an input made just for it (`x * 2`). In a graph
nothing else holds it, and LeakyRelu, LeakyReluGrad and RreluGrad take its buffer over for
their output as TensorFlow's own ops do (`TF_ForwardInputOrAllocateOutput`, then one vector
pass over that buffer); so does RRelu in inference for its first output (the slopes first,
from the input, then LeakyRelu over it), and PRelu from 32 MiB up. PRelu's rows go through
the in-place blocks' copy: in place at every size, alternating runs went from 1.82x to
1.59x at 64K float32 but from 2.04x to 2.28x at 16M, so smaller outputs stay fresh (they
come warm from the allocator). Keras' PRelu formula on the TensorFlow side is several ops,
each with outputs of its own. In eager mode the Python caller still holds the temporary
while the op runs, so neither side can take it over (page faults counted at 16M: one fresh
output on each side) and those rows measure fresh outputs too. The plain rows cannot forward
in either mode (the benchmark holds every input). In `slopes a temporary` and `features a
temporary` the temporary is the gradients' second input (the upstream gradient is held
elsewhere, as where it feeds two branches): TensorFlow's Mul and LeakyReluGrad offer either
input's buffer for their output, and so do rectify's gradients (before they did, these rows
were 0.82-0.86x at 1M float32, a fresh output against TensorFlow's in place). In a graph,
grappler rewrites TensorFlow's `g * (x * 2)` into `(g * 2) * x`, the same two passes.
"""
    (ROOT / "docs/BENCHMARKS-tensorflow.md").write_text(page)
    print("wrote docs/BENCHMARKS-tensorflow.md")


def fmt(seconds):
    return f"{seconds * 1e6:.1f} us" if seconds < 1e-3 else f"{seconds * 1e3:.2f} ms"


if __name__ == "__main__":
    main()
