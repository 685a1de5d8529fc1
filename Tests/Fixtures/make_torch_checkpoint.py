#!/usr/bin/env python3
"""Writes the PyTorch fixtures for Tests/Checkpoints/TorchCompatibilityTests.cs.

Run with a Python that has torch (here: /usr/bin/python3 with python3-torch):
    /usr/bin/python3 Tests/Fixtures/make_torch_checkpoint.py Tests/Fixtures

It builds a small torch.nn.Sequential of nn.Linear layers (seeded), and writes
  torch_mlp.safetensors  its state_dict, plus three extra tensors in F64, I64 and I32,
                         in the safetensors format written BY HAND (struct + json; the
                         safetensors package is not installed): 8-byte little-endian header
                         length, JSON header, then the raw little-endian row-major bytes.
                         Like the reference writer (safetensors.torch.save_file), tensors are
                         laid out sorted by (dtype size descending, name) and the header is
                         space-padded to a multiple of 8 bytes.
  torch_mlp.json         every tensor's shape and values (as Python floats/ints, exact), a fixed
                         input batch and the model's output on it, computed by torch.
"""
import json
import struct
import sys

import torch

out_dir = sys.argv[1] if len(sys.argv) > 1 else "."
torch.manual_seed(1234)
model = torch.nn.Sequential(
    torch.nn.Linear(4, 6),
    torch.nn.ReLU(),
    torch.nn.Linear(6, 5),
    torch.nn.Tanh(),
    torch.nn.Linear(5, 3),
)
tensors = {name: t.detach().contiguous() for name, t in model.state_dict().items()}
tensors["extra.f64"] = torch.linspace(-1.5, 2.25, 6, dtype=torch.float64).reshape(2, 3)
tensors["extra.i64"] = torch.tensor([-(2**40), -1, 0, 7, 2**40 + 3], dtype=torch.int64)
tensors["extra.i32"] = torch.tensor([[-5, 0], [2**31 - 1, -(2**31)]], dtype=torch.int32)

DTYPES = {torch.float32: ("F32", "f"), torch.float64: ("F64", "d"), torch.int64: ("I64", "q"), torch.int32: ("I32", "i")}


def raw_bytes(t):
    code = DTYPES[t.dtype][1]
    values = t.flatten().tolist()
    return struct.pack("<%d%s" % (len(values), code), *values)


order = sorted(tensors, key=lambda n: (-tensors[n].element_size(), n))
header = {"__metadata__": {"format": "pt"}}
blobs = []
offset = 0
for name in order:
    blob = raw_bytes(tensors[name])
    header[name] = {"dtype": DTYPES[tensors[name].dtype][0], "shape": list(tensors[name].shape),
                    "data_offsets": [offset, offset + len(blob)]}
    offset += len(blob)
    blobs.append(blob)
header_bytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
header_bytes += b" " * ((8 - len(header_bytes) % 8) % 8)
with open(f"{out_dir}/torch_mlp.safetensors", "wb") as f:
    f.write(struct.pack("<Q", len(header_bytes)))
    f.write(header_bytes)
    for blob in blobs:
        f.write(blob)

x = torch.linspace(-2.0, 2.0, 12, dtype=torch.float32).reshape(3, 4)
with torch.no_grad():
    y = model(x)
reference = {
    "torch_version": torch.__version__,
    "architecture": "Linear(4,6) ReLU Linear(6,5) Tanh Linear(5,3)",
    "tensors": {name: {"shape": list(t.shape), "values": t.flatten().tolist()} for name, t in tensors.items()},
    "input": {"shape": list(x.shape), "values": x.flatten().tolist()},
    "output": {"shape": list(y.shape), "values": y.flatten().tolist()},
}
with open(f"{out_dir}/torch_mlp.json", "w") as f:
    json.dump(reference, f)
print("wrote", out_dir + "/torch_mlp.safetensors", "and torch_mlp.json")
