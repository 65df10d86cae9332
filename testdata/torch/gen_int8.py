#!/usr/bin/env python3
"""Generate torch-int8.json: torch's row-wise 8-bit quantisation of float32 rows.

torch.ops.quantized.embedding_bag_byte_prepack turns each float32 row of
`dim` values into FBGEMM's fused 8-bit row-wise layout: `dim` uint8 codes,
then the row's float32 scale and float32 bias (the row minimum), little
endian: dim + 8 bytes. torch.ops.quantized.embedding_bag_byte_unpack turns
it back into float32. This script records, for rows of several widths and
shapes (random normal rows, constant rows, rows whose range is below FBGEMM's
epsilon of 1e-8 or around 1e-3, rows with large values, ties at half a
quantisation step), the rows, the packed bytes (hex) and the unpacked
values, and the SPEC's worked example.

torch built with FBGEMM calls FBGEMM's FloatOrHalfToFused8BitRowwiseQuantizedSBFloat;
without it (Debian's build) torch runs its own loop with the same
arithmetic: scale = range / 255, bias = min, code = lrintf((x - min) *
(255 / (range + 1e-8))).

Rerun from the repository root (torch and numpy needed):
    /usr/bin/python3 testdata/torch/gen_int8.py > testdata/torch/torch-int8.json
The committed file was made with Debian 12's python3-torch (1.13.1).
"""

import json
import sys

import numpy
import torch


def floats(t):
    return [float(v) for v in t.contiguous().numpy().astype("<f4").reshape(-1)]


def rows_for(dim, rng):
    rows = [
        rng.normal(0, 1, dim),
        rng.normal(0, 0.02, dim),
        rng.normal(5, 100, dim),
        numpy.full(dim, 0.37),                     # constant: scale 0
        1.0 + rng.normal(0, 1e-9, dim),            # range below the epsilon
        rng.normal(0, 1e-4, dim),                  # range around 1e-3
        rng.uniform(-1e30, 1e30, dim),             # large values
        numpy.arange(dim) % 3 * (1 / 510) + 0.0,   # codes at half steps: ties
        -rng.exponential(1, dim),
    ]
    return [numpy.asarray(r, dtype=numpy.float32) for r in rows]


def main():
    rng = numpy.random.default_rng(8)
    tables = []
    for dim in (1, 2, 5, 8, 37, 64, 255):
        w = torch.from_numpy(numpy.stack(rows_for(dim, rng)))
        packed = torch.ops.quantized.embedding_bag_byte_prepack(w)
        unpacked = torch.ops.quantized.embedding_bag_byte_unpack(packed)
        assert packed.shape == (w.shape[0], dim + 8)
        tables.append({
            "dim": dim,
            "rows": floats(w),
            "packed_hex": [bytes(r.numpy().tobytes()).hex() for r in packed],
            "unpacked": floats(unpacked),
        })
    example = torch.tensor([[-1.0, 0.0, 0.5, 2.0, 1.0]])
    ep = torch.ops.quantized.embedding_bag_byte_prepack(example)
    json.dump({
        "generator": "testdata/torch/gen_int8.py", "torch": torch.__version__,
        "tables": tables,
        "example": {"row": floats(example), "packed_hex": bytes(ep[0].numpy().tobytes()).hex(),
                    "unpacked": floats(torch.ops.quantized.embedding_bag_byte_unpack(ep))},
    }, sys.stdout, indent=None, separators=(",", ":"))
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
