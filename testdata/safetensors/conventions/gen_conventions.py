#!/usr/bin/env python3
"""Generate the Gemma and BART checkpoints of testdata/safetensors/conventions.

Run with torch and transformers installed (it was run with torch 2.11 and
transformers 5.x; see expected.json for the exact versions):

    python3 gen_conventions.py OUTDIR

It builds two tiny randomly initialised models whose input embeddings are not
a plain table lookup, saves them with save_pretrained (bf16 safetensors, as
published checkpoints are), and records, for a few ids, the input embeddings
the model itself computes:

- gemma: GemmaModel multiplies the token embeddings by
  normalizer = torch.tensor(hidden_size ** 0.5, dtype=hidden_states.dtype)
  (hidden_size 48: sqrt(48) is not exact in bf16, so the rounding shows). The
  expected values are what reaches the first decoder layer, captured with a
  forward pre-hook.
- bart: BartScaledWordEmbedding multiplies by embed_scale = sqrt(d_model)
  (config scale_embedding=True) and BartLearnedPositionalEmbedding looks
  positions up at row position + 2. The expected values are the encoder's
  embed_tokens(ids) + embed_positions(ids), computed with the model's own
  modules, before layernorm_embedding.
"""

import json
import os
import sys

import torch
import transformers
from safetensors import safe_open


def gemma(out, ids):
    cfg = transformers.GemmaConfig(vocab_size=1000, hidden_size=48, intermediate_size=64, num_hidden_layers=1,
                                   num_attention_heads=2, num_key_value_heads=1, head_dim=24,
                                   max_position_embeddings=64)
    torch.manual_seed(7)
    model = transformers.GemmaForCausalLM(cfg).to(torch.bfloat16).eval()
    captured = {}

    def hook(module, args, kwargs):
        captured["h"] = (args[0] if args else kwargs["hidden_states"]).detach().clone()

    model.model.layers[0].register_forward_pre_hook(hook, with_kwargs=True)
    with torch.no_grad():
        model(torch.tensor([ids]))
    model.save_pretrained(os.path.join(out, "gemma-small"), safe_serialization=True)
    return {"ids": ids, "token": "model.embed_tokens.weight", "dtype": str(captured["h"].dtype),
            "expected": captured["h"][0].float().flatten().tolist()}


def bart(out, ids):
    cfg = transformers.BartConfig(vocab_size=1000, d_model=24, encoder_layers=1, decoder_layers=1,
                                  encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=32,
                                  decoder_ffn_dim=32, max_position_embeddings=64, scale_embedding=True)
    torch.manual_seed(8)
    model = transformers.BartModel(cfg).to(torch.bfloat16).eval()
    enc = model.encoder
    x = torch.tensor([ids])
    with torch.no_grad():
        tok = enc.embed_tokens(x)
        pos = enc.embed_positions(x)
        emb = tok + pos
    model.save_pretrained(os.path.join(out, "bart-small"), safe_serialization=True)
    # BartModel ties encoder.embed_tokens to shared; save_pretrained keeps one.
    with safe_open(os.path.join(out, "bart-small", "model.safetensors"), "pt") as f:
        keys = set(f.keys())
    token = next(k for k in ("shared.weight", "model.shared.weight", "encoder.embed_tokens.weight") if k in keys)
    positions = next(k for k in ("encoder.embed_positions.weight", "model.encoder.embed_positions.weight") if k in keys)
    return {"ids": ids, "token": token, "positions": positions,
            "dtype": str(emb.dtype), "expected": emb[0].float().flatten().tolist()}


def main():
    out = sys.argv[1]
    ids = [3, 999, 0, 17, 512, 3]
    result = {"torch": torch.__version__, "transformers": transformers.__version__,
              "gemma-small": gemma(out, ids), "bart-small": bart(out, ids)}
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
