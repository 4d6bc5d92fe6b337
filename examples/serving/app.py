"""Serving a rectify model with Ray Serve: each replica is one ONNX Runtime session with the
rectify wheel's librectify.so registered.

    serve run app:app model=models/facenet.onnx        # from the repository root

A request's body is an `.npz` of the model's inputs (by name); the answer is an `.npz` of its
outputs in order (`arr_0`, ...), with the replica's process id in `X-Replica`. See README.md
here for the load test that drives it.
"""

import io
import os

import numpy as np
import onnxruntime as ort
from ray import serve
from starlette.requests import Request
from starlette.responses import Response

import rectify


@serve.deployment(num_replicas=2, ray_actor_options={"num_cpus": 0.5}, max_ongoing_requests=8)
class RectifyModel:
    def __init__(self, model_path: str):
        options = ort.SessionOptions()
        options.register_custom_ops_library(rectify.library_path())
        options.intra_op_num_threads = 1  # replicas share the machine's cores
        self.session = ort.InferenceSession(model_path, options, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]

    async def __call__(self, request: Request) -> Response:
        arrays = np.load(io.BytesIO(await request.body()))
        missing = [name for name in self.inputs if name not in arrays.files]
        if missing:
            return Response(f"missing input(s) {missing}; the model takes {self.inputs}", status_code=400)
        outputs = self.session.run(None, {name: arrays[name] for name in self.inputs})
        body = io.BytesIO()
        np.savez(body, *outputs)
        return Response(body.getvalue(), media_type="application/octet-stream", headers={"X-Replica": str(os.getpid())})


def app(args: dict):
    """`serve run app:app model=PATH`: the application for one model file."""
    return RectifyModel.bind(os.path.abspath(args["model"]))
