#!/usr/bin/env python3
"""Generate the float16 models of testdata/safetensors/conventions and expected-f16.json.

Models that compute in float16 round their input embeddings to float16: the
scaled token rows (Gemma) and the token + position sums (GPT-2). This script
makes two float16 checkpoints from the committed real ones and records what
torch computes for them, in float16, on the CPU:

- gpt2-f16: testdata/safetensors/small/gpt2-small (transformers' GPT-2,
  float32) as `model.half()` would save it: transformer.wte.weight and
  transformer.wpe.weight as F16, and its config.json with "dtype": "float16"
  (transformers 5). Expected: GPT2Model's
      inputs_embeds = wte(input_ids); position_embeds = wpe(position_ids)
      hidden_states = inputs_embeds + position_embeds
  with float16 tensors.
- gemma-f16: conventions/gemma-small (Gemma, bfloat16) converted to float16,
  with its config.json in transformers 4's spelling: "torch_dtype":
  "float16" and no "dtype". Expected: GemmaModel's
      hidden_states = embed_tokens(input_ids)
      normalizer = torch.tensor(hidden_size ** 0.5, dtype=hidden_states.dtype)
      hidden_states = hidden_states * normalizer
  with float16 tensors.

and a third case without a new checkpoint: small/gpt2-small (float32)
imported with --compute-dtype f16 --scale 2.5, against torch computing
    (wte.half()(ids) * 2.5) + wpe.half()(positions)
in float16. The scale 2.5 is a float16 value on purpose: torch 1.13 rounds a
Python scalar to the tensor's dtype before multiplying, later versions keep it
in float32 (Gemma's normalizer is a float16 tensor in both).

Only the embedding tensors are written (the import reads nothing else), with
a minimal safetensors writer (8-byte header length, JSON header, raw
little-endian data): the safetensors package is not needed.

Rerun from the repository root with torch (and numpy) installed:
    /usr/bin/python3 testdata/safetensors/conventions/gen_f16.py
The committed files were made with Debian 12's python3-torch (1.13.1).
"""

import json
import os
import struct

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
SAFETENSORS = os.path.dirname(HERE)
IDS = [3, 999, 0, 17, 512, 3]

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}
NAMES = {v: k for k, v in DTYPES.items()}


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        lo, hi = info["data_offsets"]
        t = torch.frombuffer(bytearray(data[lo:hi]), dtype=DTYPES[info["dtype"]])
        out[name] = t.reshape(info["shape"])
    return out


def write_safetensors(path, tensors):
    header, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
    for name, t in tensors.items():
        b = t.contiguous().view(torch.uint8).numpy().tobytes()  # little-endian on x86-64
        header[name] = {"dtype": NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def save_model(name, config, tensors):
    d = os.path.join(HERE, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    write_safetensors(os.path.join(d, "model.safetensors"), tensors)


def values(t):
    assert t.dtype == torch.float16
    return t.float().flatten().tolist()


def main():
    ids = torch.tensor(IDS)
    pos = torch.arange(len(IDS))
    cases = []

    # GPT-2 saved in float16, transformers 5 spelling of the dtype.
    src = os.path.join(SAFETENSORS, "small", "gpt2-small")
    gpt2 = read_safetensors(os.path.join(src, "model.safetensors"))
    wte = gpt2["transformer.wte.weight"].half()
    wpe = gpt2["transformer.wpe.weight"].half()
    with open(os.path.join(src, "config.json")) as f:
        cfg = json.load(f)
    cfg["dtype"] = "float16"
    save_model("gpt2-f16", cfg, {"transformer.wte.weight": wte, "transformer.wpe.weight": wpe})
    with torch.no_grad():
        h = F.embedding(ids, wte) + F.embedding(pos, wpe)
    cases.append({"name": "gpt2-f16", "source": "conventions/gpt2-f16", "args": [],
                  "compute_dtype_source": "config.json dtype float16", "ids": IDS, "expected": values(h)})

    # Gemma saved in float16, transformers 4 spelling (torch_dtype).
    src = os.path.join(HERE, "gemma-small")
    gemma = read_safetensors(os.path.join(src, "model.safetensors"))
    emb = gemma["model.embed_tokens.weight"].to(torch.float16)
    with open(os.path.join(src, "config.json")) as f:
        cfg = json.load(f)
    del cfg["dtype"]
    cfg["torch_dtype"] = "float16"
    cfg["transformers_version"] = "4.46.0"
    save_model("gemma-f16", cfg, {"model.embed_tokens.weight": emb})
    with torch.no_grad():
        h = F.embedding(ids, emb)
        normalizer = torch.tensor(cfg["hidden_size"] ** 0.5, dtype=h.dtype)
        h = h * normalizer
    cases.append({"name": "gemma-f16", "source": "conventions/gemma-f16", "args": [],
                  "compute_dtype_source": "config.json dtype float16", "ids": IDS, "expected": values(h)})

    # A float32 checkpoint told to compute in float16, with a scale.
    with torch.no_grad():
        wte, wpe = gpt2["transformer.wte.weight"].half(), gpt2["transformer.wpe.weight"].half()
        h = F.embedding(ids, wte) * 2.5 + F.embedding(pos, wpe)
    cases.append({"name": "gpt2-small --compute-dtype f16 --scale 2.5", "source": "small/gpt2-small",
                  "args": ["--compute-dtype", "f16", "--scale", "2.5"], "compute_dtype_source": "--compute-dtype",
                  "ids": IDS, "expected": values(h)})

    with open(os.path.join(HERE, "expected-f16.json"), "w") as f:
        json.dump({"generator": "testdata/safetensors/conventions/gen_f16.py", "torch": torch.__version__,
                   "cases": cases}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
