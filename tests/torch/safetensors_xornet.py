"""nnc's weights files load into the lecture's PyTorch XORNet.
Trains examples/xor.nn with `nnc run --save`, parses the safetensors file
with numpy (8-byte header size, JSON header, raw little-endian float32),
loads it with load_state_dict(strict=True) into XORNet as the lecture writes
it, and checks that PyTorch's outputs equal nnc's evaluation outputs.
usage: safetensors_xornet.py NNC EXAMPLES_DIR"""
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np
import torch
from torch import nn


class XORNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer1 = nn.Linear(2, 4)
        self.layer2 = nn.Linear(4, 1)

    def forward(self, x):
        x = torch.relu(self.layer1(x))
        return torch.sigmoid(self.layer2(x))


def read_safetensors(path):
    blob = open(path, "rb").read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    data = blob[8 + n:]
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", info
        begin, end = info["data_offsets"]
        array = np.frombuffer(data[begin:end], dtype="<f4").reshape(info["shape"])
        tensors[name] = torch.from_numpy(array.copy())
    return tensors


def main():
    nnc, examples = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory() as tmp:
        weights = os.path.join(tmp, "xor.safetensors")
        run = subprocess.run([nnc, "run", os.path.join(examples, "xor.nn"), "--json",
                              "--save", weights], check=True, capture_output=True, text=True)
        doc = json.loads(run.stdout)
        state = read_safetensors(weights)
    model = XORNet()
    model.load_state_dict(state, strict=True)
    evaluation = [s for s in doc["steps"] if s["step"] == "evaluate"][-1]
    x = torch.tensor([r["inputs"] for r in evaluation["rows"]], dtype=torch.float32)
    with torch.no_grad():
        got = model(x).numpy().ravel()
    want = np.array([r["outputs"][0] for r in evaluation["rows"]], dtype=np.float32)
    rel = np.max(np.abs(got - want) / np.maximum(np.abs(want), 1e-30))
    ok = rel <= 1e-5
    print(f"  PyTorch XORNet with nnc's weights: keys {sorted(state)}, max rel diff {rel:.2e}")
    print(f"safetensors: {int(ok)} passed, {int(not ok)} failed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
