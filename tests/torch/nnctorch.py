"""What the PyTorch comparisons share: running nnc, and reading and writing
the safetensors files nnc's --weights and --save take (8-byte little-endian
header size, JSON header, raw little-endian float32), with numpy alone."""
import json
import os
import struct
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
NNC = os.environ.get("NNC", os.path.join(HERE, "..", "..", "build", "nnc"))


def nnc(*args):
    """nnc's standard output; exits with its messages when it fails."""
    out = subprocess.run([NNC] + list(args), capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit("nnc %s failed (exit %d):\n%s%s"
                 % (" ".join(args), out.returncode, out.stdout, out.stderr))
    return out.stdout


def nnc_errors(*args):
    """nnc's standard error for a command that must fail."""
    out = subprocess.run([NNC] + list(args), capture_output=True, text=True)
    if out.returncode == 0:
        sys.exit("nnc %s succeeded, expected an error" % " ".join(args))
    return out.stderr


def read_safetensors(path):
    blob = open(path, "rb").read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", (name, info)
        b, e = info["data_offsets"]
        out[name] = np.frombuffer(blob[8 + n + b:8 + n + e], dtype="<f4").reshape(info["shape"]).copy()
    return out


def write_safetensors(path, tensors):
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name, arr in tensors.items():
        data = np.ascontiguousarray(arr, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)) + head + b"".join(blobs))
