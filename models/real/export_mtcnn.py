"""Writes models/real/: MTCNN's P-Net, R-Net and O-Net (the PReLU-heavy face detector) with
the trained weights facenet-pytorch 2.6.0 ships in its wheel (MIT, see LICENSE-facenet-pytorch),
exported by PyTorch's default (dynamo) exporter, with PyTorch's outputs on seeded inputs.

Run by `make models-real` in the cached torch venv (the wheel is fetched from PyPI with
`pip download`; facenet-pytorch itself is never imported: its networks are written out below
from their published layout, and only the state dicts are read). `make models-real` then
writes the rectify form of each with `rectify convert --to rectify --all`. The tests of these
models (tests/cli) read the committed files and need no torch.

Per network NAME: NAME.onnx + NAME.onnx.data (built-in ops), NAME.input*.npy and
NAME.torch*.npy (the outputs, in the model's output order); P-Net at three image-pyramid
sizes (symbolic height and width).
"""

import argparse
import pathlib
import subprocess
import sys
import tempfile
import zipfile

import numpy as np
import torch
from torch import nn

WHEEL = "facenet-pytorch==2.6.0"
# P-Net runs on every scale of an image pyramid: its height and width are symbolic.
PNET_SIZES = [(120, 160), (61, 81), (31, 41)]


def pool(kernel):
    return nn.MaxPool2d(kernel, 2, ceil_mode=True)


class PNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.prelu1, self.pool1 = nn.Conv2d(3, 10, 3), nn.PReLU(10), pool(2)
        self.conv2, self.prelu2 = nn.Conv2d(10, 16, 3), nn.PReLU(16)
        self.conv3, self.prelu3 = nn.Conv2d(16, 32, 3), nn.PReLU(32)
        self.conv4_1, self.softmax4_1, self.conv4_2 = nn.Conv2d(32, 2, 1), nn.Softmax(dim=1), nn.Conv2d(32, 4, 1)

    def forward(self, x):
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.prelu3(self.conv3(self.prelu2(self.conv2(x))))
        return self.conv4_2(x), self.softmax4_1(self.conv4_1(x))


class RNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.prelu1, self.pool1 = nn.Conv2d(3, 28, 3), nn.PReLU(28), pool(3)
        self.conv2, self.prelu2, self.pool2 = nn.Conv2d(28, 48, 3), nn.PReLU(48), pool(3)
        self.conv3, self.prelu3 = nn.Conv2d(48, 64, 2), nn.PReLU(64)
        self.dense4, self.prelu4 = nn.Linear(576, 128), nn.PReLU(128)
        self.dense5_1, self.softmax5_1, self.dense5_2 = nn.Linear(128, 2), nn.Softmax(dim=1), nn.Linear(128, 4)

    def forward(self, x):
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.prelu3(self.conv3(x)).permute(0, 3, 2, 1).contiguous()
        x = self.prelu4(self.dense4(x.view(x.shape[0], -1)))
        return self.dense5_2(x), self.softmax5_1(self.dense5_1(x))


class ONet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.prelu1, self.pool1 = nn.Conv2d(3, 32, 3), nn.PReLU(32), pool(3)
        self.conv2, self.prelu2, self.pool2 = nn.Conv2d(32, 64, 3), nn.PReLU(64), pool(3)
        self.conv3, self.prelu3, self.pool3 = nn.Conv2d(64, 64, 3), nn.PReLU(64), pool(2)
        self.conv4, self.prelu4 = nn.Conv2d(64, 128, 2), nn.PReLU(128)
        self.dense5, self.prelu5 = nn.Linear(1152, 256), nn.PReLU(256)
        self.dense6_1, self.softmax6_1 = nn.Linear(256, 2), nn.Softmax(dim=1)
        self.dense6_2, self.dense6_3 = nn.Linear(256, 4), nn.Linear(256, 10)

    def forward(self, x):
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.pool3(self.prelu3(self.conv3(x)))
        x = self.prelu4(self.conv4(x)).permute(0, 3, 2, 1).contiguous()
        x = self.prelu5(self.dense5(x.view(x.shape[0], -1)))
        return self.dense6_2(x), self.dense6_3(x), self.softmax6_1(self.dense6_1(x))


NETWORKS = {"pnet": (PNet, 12), "rnet": (RNet, 24), "onet": (ONet, 48)}


def state_dicts(tmp):
    """The state dicts of facenet-pytorch's wheel, and its license text."""
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", WHEEL, "-d", tmp], check=True)
    wheel = zipfile.ZipFile(next(pathlib.Path(tmp).glob("facenet_pytorch-*.whl")))
    weights = {}
    for name in NETWORKS:
        with wheel.open(f"facenet_pytorch/data/{name}.pt") as f:
            weights[name] = torch.load(f, weights_only=True)
    license_text = wheel.read(next(n for n in wheel.namelist() if n.endswith("LICENSE.md"))).decode()
    return weights, license_text


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path(__file__).parent)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        weights, license_text = state_dicts(tmp)
    (args.out / "LICENSE-facenet-pytorch").write_text(license_text)
    rng = np.random.default_rng(2024)
    for name, (cls, side) in NETWORKS.items():
        net = cls()
        net.load_state_dict(weights[name])
        net.eval()
        x = torch.zeros(1, 3, side, side)
        batch = torch.export.Dim("N", min=1, max=1024)
        dims = {0: batch}
        if name == "pnet":
            dims.update({2: torch.export.Dim("H", min=12, max=4096), 3: torch.export.Dim("W", min=12, max=4096)})
        outputs = ["boxes", "landmarks", "probs"] if name == "onet" else ["boxes", "probs"]
        path = args.out / f"{name}.onnx"
        torch.onnx.export(net, (x,), str(path), dynamo=True, input_names=["x"], output_names=outputs,
                          dynamic_shapes={"x": dims})
        sizes = PNET_SIZES if name == "pnet" else [(side, side)]
        for k, (h, w) in enumerate(sizes):
            batch_size = 1 if name == "pnet" else 32
            # Images in [-1, 1], as MTCNN feeds them ((pixel - 127.5) / 128).
            feed = rng.uniform(-1, 1, (batch_size, 3, h, w)).astype(np.float32)
            suffix = f".{h}x{w}" if name == "pnet" else ""
            np.save(args.out / f"{name}.input{suffix}.npy", feed)
            with torch.no_grad():
                for out_name, out in zip(outputs, net(torch.from_numpy(feed))):
                    np.save(args.out / f"{name}.torch{suffix}.{out_name}.npy", out.numpy())
        print(f"wrote {name}")
    (args.out / "PROVENANCE.md").write_text(
        f"Written by models/real/export_mtcnn.py (`make models-real`): weights from {WHEEL} "
        f"(MIT, LICENSE-facenet-pytorch), exported by torch {torch.__version__} (dynamo exporter); "
        "*.rectify.onnx by `rectify convert --to rectify --all`.\n"
    )


if __name__ == "__main__":
    main()
