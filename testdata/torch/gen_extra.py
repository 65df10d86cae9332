#!/usr/bin/env python3
"""Generate torch-init-extra.json: more seeded-initialisation references.

The cases complement torch-init-shared-*.json where those leave gaps: seeds
above 2^32, every tensor size around the 16-value block boundaries, several
tensors drawn one after another from one generator (including the cached
second sample of the small-tensor normal path surviving across tensors),
empty tensors, and normal_/uniform_ with various parameters.

Each case seeds torch's default CPU generator once with torch.manual_seed and
then creates its tables in order, each a fresh float32 tensor initialised by:
  embedding  torch.nn.Embedding(rows, dim).weight
  normal     torch.nn.init.normal_(torch.empty(rows, dim), mean, std)
  uniform    torch.nn.init.uniform_(torch.empty(rows, dim), a, b)
Every case is computed on both of ATen's CPU math paths ("avx2" and the
scalar "default"), each in a child process started with ATEN_CPU_CAPABILITY
set, because ATen picks its kernels once per process.

Rerun (from the repository root, with a torch whose CPU build has AVX2
kernels, e.g. Debian 12's python3-torch 1.13.1 on an x86-64 CPU with AVX2):
    python3 testdata/torch/gen_extra.py > testdata/torch/torch-init-extra.json
The committed file was made with Debian's python3-torch (torch 1.13.0a0, as
it reports itself) and numpy 1.24.
"""

import hashlib
import json
import os
import subprocess
import sys

# (name, seed, tables); a table is (init, rows, dim, params).
CASES = [
    # The generator uses the low 32 bits of the seed.
    ("seed_above_2_32", 67280421310721, [("embedding", 7, 9, {}), ("embedding", 3, 4, {})]),
    ("seed_low_32_bits", 67280421310721 & 0xFFFFFFFF, [("embedding", 7, 9, {}), ("embedding", 3, 4, {})]),
    ("seed_2_32_plus_5", (1 << 32) + 5, [("embedding", 2, 5, {}), ("uniform", 3, 3, {"a": -1.0, "b": 1.0})]),
    ("seed_max_uint64", (1 << 64) - 1, [("embedding", 5, 5, {})]),
    # The small-tensor path caches its second Box-Muller sample in the
    # generator: 15 values leave one cached; a block-path table does not
    # touch it; the next small table starts with it.
    ("normal_cache_across_tables", 7, [
        ("embedding", 3, 5, {}),
        ("embedding", 4, 4, {}),
        ("embedding", 1, 1, {}),
        ("embedding", 1, 2, {}),
        ("normal", 1, 3, {"mean": 0.1, "std": 0.3}),
        ("embedding", 1, 17, {}),
        ("normal", 1, 1, {"mean": -2.5, "std": 1e-3}),
    ]),
    # Token table then positional table, with normal_ and uniform_.
    ("normal_then_uniform_positions", 2024, [
        ("normal", 100, 8, {"mean": 0.0, "std": 0.02}),
        ("uniform", 10, 8, {"a": -0.5, "b": 0.5}),
    ]),
    ("uniform_then_small_normal_positions", 99, [
        ("uniform", 40, 6, {"a": -0.125, "b": 0.125}),
        ("normal", 5, 3, {"mean": 0.0, "std": 0.02}),
    ]),
    ("embedding_then_small_positions", 123, [
        ("embedding", 17, 5, {}),
        ("embedding", 3, 5, {}),
    ]),
    ("empty_tables_draw_nothing", 5, [
        ("embedding", 0, 8, {}),
        ("uniform", 4, 0, {"a": 0.0, "b": 1.0}),
        ("embedding", 2, 8, {}),
    ]),
    ("normal_params", 31337, [
        ("normal", 33, 7, {"mean": 1.5, "std": 0.3}),
        ("normal", 3, 3, {"mean": 0.1, "std": 0.3}),
        ("normal", 16, 16, {"mean": -4.0, "std": 12.5}),
        ("normal", 2, 8, {"mean": 0.0, "std": 0.0}),
    ]),
    ("uniform_params", 4242, [
        ("uniform", 300, 64, {"a": -0.1, "b": 0.1}),
        ("uniform", 64, 64, {"a": -0.125, "b": 0.125}),
        ("uniform", 50, 50, {"a": -(1.0 / 768) ** 0.5, "b": (1.0 / 768) ** 0.5}),
        ("uniform", 10, 10, {"a": 0.0, "b": 1.0}),
        ("uniform", 10, 10, {"a": -3.7, "b": 1e-3}),
        ("uniform", 4, 4, {"a": 2.0, "b": 2.0}),
        ("uniform", 100, 100, {"a": -1e30, "b": 3e38}),
    ]),
    ("large_768", 0, [("embedding", 1000, 768, {})]),
]

# Every size from 1 to 64 (the small path, the block boundaries, the
# recomputed tail), each under its own seed so the cases are independent.
for n in range(1, 65):
    CASES.append((f"size_{n}", 1000 + n, [("embedding", n, 1, {})]))

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


def child():
    """Compute every case on the math path of this process."""
    import numpy
    import torch
    out = []
    for name, seed, tables in CASES:
        torch.manual_seed(seed)
        tabs = []
        for init, rows, dim, params in tables:
            w = make_table(init, rows, dim, params)
            a = w.contiguous().numpy().astype("<f4").reshape(-1)
            t = {
                "init": init,
                "rows": rows,
                "dim": dim,
                "params": params,
                "sha256_f32le": hashlib.sha256(a.tobytes()).hexdigest(),
            }
            vals = [float(v) for v in a]
            if a.size <= SMALL:
                t["values"] = vals
            else:
                t["head"], t["tail"] = vals[:32], vals[-32:]
            tabs.append(t)
        out.append({"name": name, "seed": seed, "tables": tabs})
    json.dump({"torch": torch.__version__, "numpy": numpy.__version__, "cases": out}, sys.stdout)


def main():
    result = {"generator": "testdata/torch/gen_extra.py", "paths": {}}
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
