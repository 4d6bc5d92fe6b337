#!/usr/bin/env python3
"""examples/serving under load: Ray Serve on a local cluster, 2 replicas of the FaceNet-style
PReLU model with the rectify wheel's library, driven over HTTP on localhost.

    python tests/serving/run.py [--requests 2000] [--concurrency 8] [--write]

Run with the serving venv's python (make test-serving makes it, with the wheel installed).
Sends REQUESTS requests, CONCURRENCY at a time, each with its own seeded input; once a third
have been answered it SIGKILLs one replica's process. Clients retry a failed request (a
connection error or a 5xx) after a short pause. Then it keeps sending (for up to 90 s) until
a replica Serve started in place of the killed one answers. Passes when every request is
answered, every answer equals the built-in twin's output (models/facenet.builtin.onnx in
plain ONNX Runtime) bit for bit, both replicas answered before the kill, and the
replacement answered.
Prints throughput and p50/p99 latency; `--write` puts them into docs/RELIABILITY.md.
"""

import argparse
import concurrent.futures
import io
import os
import pathlib
import signal
import socket
import sys
import threading
import time

import numpy as np
import onnxruntime as ort
import ray
import requests
from ray import serve

ROOT = pathlib.Path(__file__).resolve().parents[2]
MODEL = ROOT / "models/facenet.onnx"
TWIN = ROOT / "models/facenet.builtin.onnx"
SHAPE = (1, 3, 112, 112)
RELIABILITY = ROOT / "docs/RELIABILITY.md"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request_input(i):
    return np.random.default_rng(i).standard_normal(SHAPE).astype(np.float32)


class Client:
    def __init__(self, url, kill_after):
        self.url = url
        self.kill_after = kill_after
        self.lock = threading.Lock()
        self.answered = 0
        self.retries = 0
        self.replicas_before, self.replicas_after = set(), set()
        self.killed = None
        self.killed_at = None
        self.local = threading.local()

    def http(self):
        if not hasattr(self.local, "session"):
            self.local.session = requests.Session()
        return self.local.session

    def send(self, i):
        body = io.BytesIO()
        np.savez(body, X=request_input(i))
        start = time.perf_counter()
        for attempt in range(60):
            try:
                r = self.http().post(self.url, data=body.getvalue(), timeout=30)
                if r.status_code == 200:
                    break
                error = f"HTTP {r.status_code}: {r.text[:200]}"
            except requests.RequestException as e:
                error = repr(e)
            with self.lock:
                self.retries += 1
            time.sleep(0.25)
        else:
            raise RuntimeError(f"request {i} failed 60 times; last: {error}")
        latency = time.perf_counter() - start
        replica = int(r.headers["X-Replica"])
        with self.lock:
            self.answered += 1
            (self.replicas_after if self.killed else self.replicas_before).add(replica)
            kill = self.killed is None and self.answered >= self.kill_after
            if kill:
                self.killed, self.killed_at = replica, time.perf_counter()
        if kill:
            os.kill(replica, signal.SIGKILL)  # a crash, not a graceful stop
        return i, np.load(io.BytesIO(r.content))["arr_0"], latency


def wait_for_replacement(client, first):
    """Seconds from the kill until a replica other than the first two answers, or None."""
    for i in range(first, first + 2000):
        if client.replicas_after - client.replicas_before:
            return time.perf_counter() - client.killed_at
        if time.perf_counter() - client.killed_at > 90:
            return None
        client.send(i)
        time.sleep(0.05)
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--write", action="store_true", help="put the figures into docs/RELIABILITY.md")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT / "examples/serving"))
    import app as serving

    import rectify

    port = free_port()
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    try:
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        serve.run(serving.app({"model": str(MODEL)}), name="rectify", route_prefix="/facenet")
        client = Client(f"http://127.0.0.1:{port}/facenet", kill_after=args.requests // 3)
        start = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(args.concurrency) as pool:
            answers = list(pool.map(client.send, range(args.requests)))
        seconds = time.perf_counter() - start
        recovered = wait_for_replacement(client, args.requests)
    finally:
        serve.shutdown()
        ray.shutdown()

    twin = ort.InferenceSession(str(TWIN), providers=["CPUExecutionProvider"])
    wrong = [i for i, y, _ in answers if not np.array_equal(y.view(np.uint32), twin.run(None, {"X": request_input(i)})[0].view(np.uint32))]
    latencies = np.array([t for _, _, t in answers]) * 1e3
    p50, p99 = np.percentile(latencies, [50, 99])
    figures = {
        "requests": args.requests,
        "concurrency": args.concurrency,
        "answered": len(answers),
        "bit_exact": len(answers) - len(wrong),
        "retries": client.retries,
        "throughput": args.requests / seconds,
        "p50_ms": p50,
        "p99_ms": p99,
        "recovered_s": recovered,
    }
    print(f"rectify {rectify.__version__} wheel, onnxruntime {ort.__version__}, ray {ray.__version__}: "
          f"{args.requests} requests, {args.concurrency} concurrent, 2 replicas, one SIGKILLed after {client.kill_after}")
    print(f"  answered {len(answers)}, bit-exact against the built-in twin {figures['bit_exact']}, client retries {client.retries}")
    print(f"  replicas before the kill {sorted(client.replicas_before)}, killed {client.killed}, answering after it "
          f"{sorted(client.replicas_after)}; the replacement answered {recovered:.1f} s after the kill"
          if recovered else "  no replacement replica answered within 90 s")
    print(f"  {figures['throughput']:.0f} requests/s, latency p50 {p50:.1f} ms, p99 {p99:.1f} ms ({seconds:.1f} s)")
    failures = []
    if wrong:
        failures.append(f"{len(wrong)} answers differ from the twin (first: request {wrong[0]})")
    if len(client.replicas_before) != 2:
        failures.append(f"before the kill {len(client.replicas_before)} replica(s) answered, not 2")
    if recovered is None:
        failures.append("no replacement replica answered after the kill")
    if args.write:
        write(figures, ort.__version__, ray.__version__)
    for failure in failures:
        print("FAIL:", failure)
    return 1 if failures else 0


def write(f, ort_version, ray_version):
    start, end = "<!-- serving:start -->", "<!-- serving:end -->"
    doc = RELIABILITY.read_text()
    head, rest = doc.split(start, 1)
    _, tail = rest.split(end, 1)
    block = (
        f"{start}\n`make test-serving` / `python tests/serving/run.py --write` ({time.strftime('%Y-%m-%d')}; "
        f"onnxruntime {ort_version}, ray {ray_version}, 2 CPU cores):\n\n"
        "| requests | concurrent | answered | bit-exact vs built-in twin | client retries | throughput | p50 | p99 | replacement answering |\n"
        "|---|---|---|---|---|---|---|---|---|\n"
        f"| {f['requests']} | {f['concurrency']} | {f['answered']} | {f['bit_exact']} | {f['retries']} | "
        f"{f['throughput']:.0f} req/s | {f['p50_ms']:.1f} ms | {f['p99_ms']:.1f} ms | {f['recovered_s']:.0f} s after the kill |\n{end}"
    )
    RELIABILITY.write_text(head + block + tail)


if __name__ == "__main__":
    sys.exit(main())
