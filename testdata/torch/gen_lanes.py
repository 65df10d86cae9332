#!/usr/bin/env python3
"""Generate torch-lanes.json: torch's Box-Muller kernel on every float uniform.

normal_ on a float32 tensor of at least 16 values turns blocks of 16 float
uniforms u = k * 2^-24 (k a 24-bit integer) into normal samples: lane j < 8
feeds the logarithm (u1 = 1 - u) and lane j + 8 the sine and cosine
(theta = 2*pi*u). This script makes torch transform a chosen arrangement in
which every one of the 2^24 possible uniforms occurs once in a logarithm lane
and once in a sine/cosine lane, and records the SHA-256 of all 2^25 results,
for each of ATen's CPU math paths. A test that reproduces the hash has
reproduced torch's log, sine and cosine kernels on every input they can get.

Pair i (0 <= i < 2^24) sits in block i // 8, lane i % 8, with
    k1 = i                                 (logarithm lane)
    k2 = (i * MULT + OFFSET) mod 2^24      (sine/cosine lane; MULT is odd)
and the blocks follow each other in order; the results are hashed in the
same order (little-endian float32).

To make torch transform chosen uniforms, the script sets the generator state
with torch.set_rng_state: a Mersenne Twister output is a fixed invertible
function ("tempering") of one state word, so the state words that produce
given outputs can be computed, and with the state's "left" counter set to 624
the engine hands out 623 words before it regenerates its state. Each call of
normal_ on a 512-value tensor then consumes exactly the next 512 chosen
uniforms, no tail block being involved.

Rerun (from the repository root, with a torch whose CPU build has AVX2
kernels, e.g. Debian 12's python3-torch 1.13.1 on an x86-64 CPU with AVX2;
takes about a minute):
    python3 testdata/torch/gen_lanes.py > testdata/torch/torch-lanes.json
The committed file was made with Debian's python3-torch (torch 1.13.0a0, as
it reports itself) and numpy 1.24.
"""

import hashlib
import json
import os
import struct
import subprocess
import sys

PAIRS = 1 << 24
MULT = 0x9E3779B1
OFFSET = 12345
CHUNK = 512  # values per normal_ call: 32 blocks, fewer than 623 draws


def untemper(y):
    """Invert MT19937 tempering on a numpy uint32 array."""
    import numpy as np
    y = y.astype(np.uint32)
    # y ^= y >> 18
    y = y ^ (y >> np.uint32(18))
    # y ^= (y << 15) & 0xefc60000
    y = y ^ ((y << np.uint32(15)) & np.uint32(0xEFC60000))
    # y ^= (y << 7) & 0x9d2c5680: recover 7 bits at a time
    r = y.copy()
    for _ in range(5):
        r = y ^ ((r << np.uint32(7)) & np.uint32(0x9D2C5680))
    y = r
    # y ^= y >> 11
    r = y.copy()
    for _ in range(3):
        r = y ^ (r >> np.uint32(11))
    return r


def temper(y):
    import numpy as np
    y = y ^ (y >> np.uint32(11))
    y = y ^ ((y << np.uint32(7)) & np.uint32(0x9D2C5680))
    y = y ^ ((y << np.uint32(15)) & np.uint32(0xEFC60000))
    return y ^ (y >> np.uint32(18))


def arrangement():
    """The 2^25 24-bit integers k, in tensor order."""
    import numpy as np
    i = np.arange(PAIRS, dtype=np.uint64)
    k1 = i.astype(np.uint32)
    k2 = ((i * MULT + OFFSET) % (1 << 24)).astype(np.uint32)
    blocks = PAIRS // 8
    out = np.empty((blocks, 16), dtype=np.uint32)
    out[:, :8] = k1.reshape(blocks, 8)
    out[:, 8:] = k2.reshape(blocks, 8)
    return out.reshape(-1)


def child():
    import numpy as np
    import torch
    ks = arrangement()
    words = untemper(ks)
    assert np.array_equal(temper(words), ks)

    torch.manual_seed(0)
    template = bytearray(torch.get_rng_state().numpy().tobytes())
    # CPUGeneratorImplState: uint64 seed, int left, int seeded, uint64 next,
    # uint64 state[624], ...
    struct.pack_into("<iiQ", template, 8, 624, 1, 0)

    state = np.frombuffer(bytes(template), dtype=np.uint8).copy()
    state_words = state[24 : 24 + 624 * 8].view("<u8")

    def set_words(w):
        state_words[:] = 0
        state_words[: len(w)] = w
        torch.set_rng_state(torch.from_numpy(state))

    # Check the injection: uniform_ must return exactly k * 2^-24.
    set_words(words[:CHUNK])
    u = torch.empty(CHUNK).uniform_().numpy()
    assert np.array_equal(u, ks[:CHUNK].astype(np.float64) * 2.0**-24), "injection failed"

    h = hashlib.sha256()
    head = None
    buf = torch.empty(CHUNK)
    for start in range(0, len(ks), CHUNK):
        set_words(words[start : start + CHUNK])
        buf.normal_()
        a = buf.numpy().astype("<f4")
        if head is None:
            head = [float(v) for v in a[:32]]
        h.update(a.tobytes())
    json.dump({"torch": torch.__version__, "numpy": np.__version__,
               "sha256_f32le": h.hexdigest(), "head": head}, sys.stdout)


def main():
    result = {"generator": "testdata/torch/gen_lanes.py", "pairs": PAIRS,
              "mult": MULT, "offset": OFFSET, "paths": {}}
    for cap in ("avx2", "default"):
        env = dict(os.environ, ATEN_CPU_CAPABILITY=cap)
        res = subprocess.run([sys.executable, __file__, "--child"], env=env,
                             check=True, capture_output=True, text=True)
        part = json.loads(res.stdout)
        result["torch"] = part.pop("torch")
        result["numpy"] = part.pop("numpy")
        result["paths"][cap] = part
    json.dump(result, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    if sys.argv[1:] == ["--child"]:
        child()
    else:
        main()
