"""Regenerates torch_golden.json: SHA-256 digests of PyTorch's own float
conversions, which floatconv's tests recompute and compare.

Run with PyTorch 1.13 or later and NumPy:

    python3 gen_torch_golden.py [--exhaustive] > torch_golden.json

Input sets (both are enumerated identically by floatconv_test.go):

  boundary: for every 16-bit high half p and every k in 0..15, d in -1, 0, +1,
            the float32 with bits (p << 16) + ((k * 0x1000 + d) mod 0x10000).
            This holds every value exactly representable in binary16 and in
            bfloat16, every midpoint between neighbours of either format
            (all of them have their low 12 bits clear) and the float32s on
            either side of each midpoint. 3,145,728 inputs, in order p, k, d.
  all:      every float32 bit pattern 0 .. 2^32-1 in order (--exhaustive).

Outputs are hashed as little-endian uint16 in input order. PyTorch's
vectorised CPU kernel writes 0xFFFF for a bfloat16 NaN where c10::BFloat16
writes 0x7FC0; NaN outputs are hashed as 0x7FC0 (bfloat16) and kept as they
are (binary16, where both paths agree on sign|0x7E00).
"""
import hashlib
import json
import sys

import numpy as np
import torch


def boundary_inputs():
    p = np.arange(1 << 16, dtype=np.uint32)[:, None, None] << 16
    k = np.arange(16, dtype=np.uint32)[None, :, None] * 0x1000
    d = np.array([-1, 0, 1], dtype=np.int64)[None, None, :]
    low = ((k.astype(np.int64) + d) % 0x10000).astype(np.uint32)
    return (p + low).reshape(-1)


def narrow(bits):
    f = torch.from_numpy(bits.view(np.float32))
    h = f.half().view(torch.int16).numpy().view(np.uint16)
    b = f.bfloat16().view(torch.int16).numpy().view(np.uint16).copy()
    b[(b & 0x7FFF) > 0x7F80] = 0x7FC0
    return h, b


def digest_narrow(chunks):
    hh, hb = hashlib.sha256(), hashlib.sha256()
    n = 0
    for bits in chunks:
        h, b = narrow(bits)
        hh.update(h.astype("<u2").tobytes())
        hb.update(b.astype("<u2").tobytes())
        n += bits.size
    return n, hh.hexdigest(), hb.hexdigest()


def widen():
    pats = np.arange(1 << 16, dtype=np.uint16)
    t = torch.from_numpy(pats.view(np.int16))
    f16 = t.view(torch.float16).float().view(torch.int32).numpy()
    bf16 = t.view(torch.bfloat16).float().view(torch.int32).numpy()
    return (hashlib.sha256(f16.astype("<i4").tobytes()).hexdigest(),
            hashlib.sha256(bf16.astype("<i4").tobytes()).hexdigest())


def main():
    out = {"torch_version": torch.__version__}
    w16, wb16 = widen()
    out["widen_f16_all"] = {"count": 65536, "sha256_f32le": w16}
    out["widen_bf16_all"] = {"count": 65536, "sha256_f32le": wb16}
    n, h, b = digest_narrow([boundary_inputs()])
    out["narrow_boundary"] = {"count": n, "sha256_f16le": h, "sha256_bf16le": b}
    if "--exhaustive" in sys.argv:
        step = 1 << 26
        chunks = (np.arange(i, i + step, dtype=np.uint64).astype(np.uint32)
                  for i in range(0, 1 << 32, step))
        n, h, b = digest_narrow(chunks)
        out["narrow_all"] = {"count": n, "sha256_f16le": h, "sha256_bf16le": b}
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


main()
