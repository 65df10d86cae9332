#!/usr/bin/env python3
"""Generate torch-gpt2-text.json: the rows torch gives for GPT-2's ids of a text.

README's seed example: torch.manual_seed(123); wte = torch.nn.Embedding(50257, 256),
the table `embpack init --seed 123 --rows 50257 --dim 256` draws. GPT-2's
tokenizer turns "Hello world" into ids [15496, 995] (Hugging Face's GPT2Tokenizer
and tiktoken's "gpt2" agree); the file holds wte(torch.tensor(ids)) for them, on
ATen's AVX2 math path (the default of `embpack init`), as float32 values written
as decimals that round-trip exactly.

Rerun (from the repository root, with a torch whose CPU build has AVX2 kernels on
an x86-64 CPU with AVX2):
    ATEN_CPU_CAPABILITY=avx2 /usr/bin/python3 testdata/torch/gen_gpt2_text.py > testdata/torch/torch-gpt2-text.json
The committed file was made with Debian 12's python3-torch (1.13.1, which reports
itself as 1.13.0a0).
"""

import json

import torch

TEXT = "Hello world"
IDS = [15496, 995]  # GPT-2's ids of TEXT

torch.manual_seed(123)
wte = torch.nn.Embedding(50257, 256)
with torch.no_grad():
    rows = wte(torch.tensor(IDS))
doc = json.dumps({
    "torch": torch.__version__,
    "cpu_capability": torch.backends.cpu.get_cpu_capability() if hasattr(torch.backends, "cpu") else "avx2",
    "seed": 123, "rows": 50257, "dim": 256,
    "text": TEXT, "ids": IDS,
    "token_embeddings": [[float(v) for v in r] for r in rows.tolist()],
})
print(doc)
