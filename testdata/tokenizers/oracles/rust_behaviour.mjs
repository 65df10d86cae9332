// Computes, for the corpus texts where transformers.js (the reference of
// expected/*.json) is known to differ from Hugging Face's Rust tokenizers,
// what the Rust behaviour gives, with real implementations:
//
//  - gpt2, texts with U+0085 (NEL) or U+FEFF (BOM) next to a space:
//    transformers.js splits GPT-2 pieces with a JavaScript regex whose \s
//    includes U+FEFF and excludes U+0085; Rust's regex engines use Unicode
//    White_Space. The ids come from tiktoken (OpenAI's Rust tiktoken compiled
//    to WASM), get_encoding("gpt2").encode(text, "all").
//  - bert: transformers.js' BertNormalizer (1) walks UTF-16 code units, so
//    supplementary-plane CJK ideographs are not isolated, (2) lowercases with
//    String.prototype.toLowerCase (a word-final capital sigma becomes ς, Rust's
//    char::to_lowercase gives σ), (3) keeps unassigned code points (Rust's
//    is_other drops Cn). The ids come from transformers.js itself, given the
//    text with those three steps done first the Rust way (each is idempotent
//    under transformers.js' own normalizer): spaces around supplementary-plane
//    ideographs, Σ -> σ, Cn characters removed.
//
// Usage (node 20, in a directory with @huggingface/transformers 4.3.1 and
// tiktoken 1.0.22 installed; MODELS holds gpt2/ and bert/ with tokenizer.json
// and tokenizer_config.json):
//   node rust_behaviour.mjs CORPUS MODELS > ../rust_behaviour.json
import fs from "node:fs";
import { AutoTokenizer, env } from "@huggingface/transformers";
import { get_encoding } from "tiktoken";

const [corpusPath, models] = process.argv.slice(2);
const texts = fs.readFileSync(corpusPath, "utf8").split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
env.allowRemoteModels = false;
env.localModelPath = models.endsWith("/") ? models : models + "/";

const out = { generator: "testdata/tokenizers/oracles/rust_behaviour.mjs", cases: {} };

// gpt2: every text where a space precedes U+0085 or U+FEFF.
const enc = get_encoding("gpt2");
const gpt2 = [];
texts.forEach((t, i) => {
  if (!/ [\u0085\ufeff]/u.test(t)) return;
  const ids = Array.from(enc.encode(t, "all"));
  gpt2.push({ text_index: i, ids_special: ids, ids_plain: ids, decoded_special: new TextDecoder().decode(enc.decode(new Uint32Array(ids))),
    oracle: 'tiktoken 1.0.22 get_encoding("gpt2").encode(text, "all")' });
});
enc.free();
out.cases.gpt2 = gpt2;

// bert: texts that hold a supplementary-plane ideograph, a capital sigma or a
// Cn character.
const isSuppCJK = (cp) => (cp >= 0x20000 && cp <= 0x2a6df) || (cp >= 0x2a700 && cp <= 0x2b73f) || (cp >= 0x2b740 && cp <= 0x2b81f) ||
  (cp >= 0x2b920 && cp <= 0x2ceaf) || (cp >= 0x2f800 && cp <= 0x2fa1f);
const isCn = (c) => /\p{Cn}/u.test(c);
const bert = await AutoTokenizer.from_pretrained("bert");
const berts = [];
texts.forEach((t, i) => {
  const chars = Array.from(t);
  if (!chars.some((c) => isSuppCJK(c.codePointAt(0)) || c === "\u03a3" || isCn(c))) return;
  const pre = chars.map((c) => (isSuppCJK(c.codePointAt(0)) ? " " + c + " " : c === "\u03a3" ? "\u03c3" : isCn(c) ? "" : c)).join("");
  const ids_special = bert.encode(pre, { add_special_tokens: true });
  const ids_plain = bert.encode(pre, { add_special_tokens: false });
  berts.push({ text_index: i, ids_special, ids_plain, decoded_special: bert.decode(ids_special, { skip_special_tokens: false }),
    oracle: "@huggingface/transformers 4.3.1 on the text with Rust's BertNormalizer steps for supplementary-plane ideographs, capital sigma and Cn done first",
    transformed_text: pre });
});
out.cases.bert = berts;
process.stdout.write(JSON.stringify(out, null, 1) + "\n");
