#!/usr/bin/env python3
"""Generate torch-init-seeds.json: `embpack init` cases with negative and 64-bit seeds.

Each case is what `embpack init --seed S --rows N --dim D [--positions P]
[--init ...]` must reproduce:

    torch.manual_seed(S)
    tokens = torch.nn.Embedding(N, D).weight            # --init embedding
    positions = torch.nn.Embedding(P, D).weight         # with --positions P

or nn.init.normal_ / nn.init.uniform_ on fresh float32 tensors, the
positional table drawn after the token table from the same generator. The
seeds are the ones torch treats specially: negative seeds (torch keeps a
negative seed as its 64-bit two's complement), seeds of 2^32 and above (the
generator uses the low 32 bits), and the extremes -2^63 and 2^64-1. Tables
are small (the small-tensor path of fewer than 16 values, and its cached
sample carried into the positional table) and block-sized (16 values and
more, with and without a tail block). The seed is written as the decimal
string given to --seed, with torch.initial_seed(), the 64-bit value torch
keeps, beside it.

Every case is computed on both of ATen's CPU math paths ("avx2" and the
scalar "default"), each in a child process started with ATEN_CPU_CAPABILITY
set, because ATen picks its kernels once per process.

Rerun (from the repository root, with a torch whose CPU build has AVX2
kernels on an x86-64 CPU with AVX2, and numpy):
    /usr/bin/python3 testdata/torch/gen_seeds.py > testdata/torch/torch-init-seeds.json
The committed file was made with Debian 12's python3-torch (1.13.1, which
reports itself as 1.13.0a0) and numpy 1.24.
"""

import hashlib
import json
import os
import subprocess
import sys

# (seed, init, rows, dim, positions, params)
CASES = [
    (-1, "embedding", 7, 9, 3, {}),
    (-5, "normal", 20, 8, 4, {"mean": 0.5, "std": 0.02}),
    (-2, "embedding", 3, 5, 1, {}),  # 15 values: the cached sample goes to the positions
    (-(1 << 63), "embedding", 5, 5, 0, {}),
    (-123456789012345, "uniform", 33, 3, 2, {"a": -0.1, "b": 0.1}),
    (-(1 << 32) - 7, "embedding", 17, 16, 16, {}),
    (-4294967296, "embedding", 40, 12, 8, {}),  # -2^32: low 32 bits zero
    (-99, "embedding", 1000, 64, 32, {}),
    (1 << 32, "embedding", 2, 3, 5, {}),
    ((1 << 32) + 5, "embedding", 100, 16, 8, {}),
    ((1 << 40) + 123, "uniform", 1, 1, 0, {"a": 0.0, "b": 1.0}),
    (1 << 63, "embedding", 3, 5, 2, {}),
    ((1 << 63) + 12345, "normal", 9, 9, 0, {"mean": -1.0, "std": 3.0}),
    ((1 << 64) - 1, "normal", 16, 16, 4, {"mean": 0.0, "std": 0.02}),
    (67280421310721, "embedding", 50, 30, 10, {}),
]

SMALL = 256  # tables up to this many values carry every value


def make_table(init, rows, dim, params):
    import torch
    if init == "embedding":
        return torch.nn.Embedding(rows, dim).weight.detach()
    w = torch.empty(rows, dim, dtype=torch.float32)
    if init == "normal":
        torch.nn.init.normal_(w, params["mean"], params["std"])
    elif init == "uniform":
        torch.nn.init.uniform_(w, params["a"], params["b"])
    else:
        raise ValueError(init)
    return w


def describe(w):
    a = w.contiguous().numpy().astype("<f4").reshape(-1)
    t = {"sha256_f32le": hashlib.sha256(a.tobytes()).hexdigest()}
    vals = [float(v) for v in a]
    if a.size <= SMALL:
        t["values"] = vals
    else:
        t["head"], t["tail"] = vals[:32], vals[-32:]
    return t


def child():
    import numpy
    import torch
    out = []
    for seed, init, rows, dim, positions, params in CASES:
        torch.manual_seed(seed)
        case = {
            "seed": str(seed),
            "initial_seed": str(torch.initial_seed()),
            "init": init, "rows": rows, "dim": dim, "positions": positions, "params": params,
            "tokens": describe(make_table(init, rows, dim, params)),
        }
        if positions:
            case["position_table"] = describe(make_table(init, positions, dim, params))
        out.append(case)
    json.dump({"torch": torch.__version__, "numpy": numpy.__version__, "cases": out}, sys.stdout)


def main():
    result = {"generator": "testdata/torch/gen_seeds.py", "paths": {}}
    for cap in ("avx2", "default"):
        env = dict(os.environ, ATEN_CPU_CAPABILITY=cap)
        res = subprocess.run([sys.executable, __file__, "--child"], env=env,
                             check=True, capture_output=True, text=True)
        part = json.loads(res.stdout)
        result["torch"] = part["torch"]
        result["numpy"] = part["numpy"]
        result["paths"][cap] = part["cases"]
    json.dump(result, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    if sys.argv[1:] == ["--child"]:
        child()
    else:
        main()
