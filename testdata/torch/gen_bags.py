#!/usr/bin/env python3
"""Generate torch-embedding-bag.json: torch.nn.functional.embedding_bag outputs.

One float32 table (64 rows of 37 values: normal values, with some rows scaled
by 1000 and some by 1e-3 so that the order of a sum shows) and bags of ids
pooled by F.embedding_bag with every option store.Table.Bag implements:
mode sum, mean and max, per_sample_weights (sum only, as in torch),
padding_idx (non-negative and negative, counted from the end as torch
does), include_last_offset (with the last offset at the end of the ids:
torch 1.13 corrupts its heap when ids follow it), empty bags,
bags of padding only, long bags and repeated ids. The table's values and
every output are written as float32 decimals that round-trip.

A second part, "max_special", records what torch's max does with NaN and
signed zeros in a bag: torch keeps the first value of a bag and replaces it
only with a strictly greater one, so a NaN after the first value is ignored,
a NaN first stays, and of +0 and -0 the first is kept.

Rerun from the repository root (torch and numpy needed):
    /usr/bin/python3 testdata/torch/gen_bags.py > testdata/torch/torch-embedding-bag.json
The committed file was made with Debian 12's python3-torch (1.13.1, built
without FBGEMM, which sums each bag in id order).
"""

import json
import sys

import numpy
import torch
import torch.nn.functional as F

ROWS, DIM = 64, 37


def floats(t):
    return [float(v) for v in t.contiguous().numpy().astype("<f4").reshape(-1)]


def main():
    g = torch.Generator().manual_seed(2024)
    w = torch.randn(ROWS, DIM, generator=g)
    w[5] *= 1000
    w[6] *= 1e-3
    w[40] *= -1000
    w[41] *= 1e-3
    rng = numpy.random.default_rng(7)

    def random_bags(n_ids, n_bags, rows=ROWS):
        ids = rng.integers(0, rows, n_ids).tolist()
        cuts = sorted(rng.integers(0, n_ids + 1, n_bags - 1).tolist())
        return ids, [0] + cuts

    cases = []

    def add(name, ids, offsets, mode, weights=None, padding_idx=None, include_last_offset=False):
        kw = {"mode": mode, "include_last_offset": include_last_offset}
        if weights is not None:
            kw["per_sample_weights"] = torch.tensor(weights, dtype=torch.float32)
        if padding_idx is not None:
            kw["padding_idx"] = padding_idx
        out = F.embedding_bag(torch.tensor(ids, dtype=torch.int64), w,
                              torch.tensor(offsets, dtype=torch.int64), **kw)
        c = {"name": name, "ids": ids, "offsets": offsets, "mode": mode,
             "include_last_offset": include_last_offset, "output": floats(out)}
        if weights is not None:
            c["per_sample_weights"] = floats(kw["per_sample_weights"])
        if padding_idx is not None:
            c["padding_idx"] = padding_idx
        cases.append(c)

    for mode in ("sum", "mean", "max"):
        ids, offs = random_bags(200, 20)
        add(f"{mode} random", ids, offs, mode)
        add(f"{mode} empty bags", [3, 5, 5, 9, 40, 41, 5], [0, 0, 2, 2, 2, 7], mode)
        add(f"{mode} one long bag", rng.integers(0, ROWS, 700).tolist(), [0], mode)
        add(f"{mode} large and tiny rows", [5, 6, 40, 41, 5, 6, 1, 40], [0, 4], mode)
        ids, offs = random_bags(150, 12)
        add(f"{mode} padding_idx 5", ids + [5, 5], offs + [150], mode, padding_idx=5)
        add(f"{mode} padding_idx -1", ids + [ROWS - 1] * 3, offs + [150], mode, padding_idx=-1)
        # The last offset is the end of the ids: torch 1.13 corrupts its heap
        # when ids follow it.
        ids, offs = random_bags(100, 10)
        add(f"{mode} include_last_offset", ids, offs + [100], mode, include_last_offset=True)
        add(f"{mode} include_last_offset, padding", ids, offs + [100], mode, padding_idx=0,
            include_last_offset=True)
    ids, offs = random_bags(300, 25)
    add("sum weighted", ids, offs, "sum", weights=rng.normal(0, 2, 300).tolist())
    add("sum weighted, padding", ids, offs, "sum", weights=rng.normal(0, 2, 300).tolist(), padding_idx=ids[0])
    ids, offs = random_bags(250, 20)
    add("sum weighted, include_last_offset", ids, offs + [250], "sum",
        weights=rng.normal(0, 2, 250).tolist(), include_last_offset=True)
    add("sum weighted, zero and negative weights", [1, 2, 3, 4, 5], [0, 3], "sum",
        weights=[0.0, -1.0, 2.5, -0.0, 1e-3])

    # max with NaN and signed zeros: one table of 1-value rows.
    sw = torch.tensor([[1.0], [float("nan")], [2.0], [-5.0], [0.0], [-0.0]])
    special = []
    for ids in ([1, 0, 2], [0, 1], [0, 1, 2], [3, 1], [4, 5], [5, 4]):
        out = F.embedding_bag(torch.tensor(ids), sw, torch.tensor([0]), mode="max")
        v = float(out.item())
        special.append({"ids": ids, "output": "nan" if v != v else repr(v)})

    json.dump({"generator": "testdata/torch/gen_bags.py", "torch": torch.__version__,
               "rows": ROWS, "dim": DIM, "table": floats(w), "cases": cases,
               "max_special": {"table": ["1", "nan", "2", "-5", "0", "-0"], "bags": special}},
              sys.stdout, indent=None, separators=(",", ":"))
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
