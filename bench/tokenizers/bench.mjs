// The JavaScript side of bench/tokenizers/run.sh: times one implementation on
// the reference corpus and prints one JSON line per timed run, after one
// untimed run (same workloads as main.go).
//   node bench.mjs IMPL TOKENIZER MODE RUNS CORPUS MODELS
// IMPL: transformers (@huggingface/transformers, AutoTokenizer from
// MODELS/TOKENIZER), tiktoken (npm tiktoken, OpenAI's Rust tiktoken as WASM,
// gpt2 only) or js-tiktoken (gpt2 only).
import fs from "node:fs";

const [impl, name, mode, runsArg, corpusPath, models] = process.argv.slice(2);
const texts = fs.readFileSync(corpusPath, "utf8").split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
const utf8 = (s) => Buffer.byteLength(s, "utf8");

let encode;
if (impl === "transformers") {
  const { AutoTokenizer, env } = await import("@huggingface/transformers");
  env.allowRemoteModels = false;
  env.localModelPath = models.endsWith("/") ? models : models + "/";
  const tok = await AutoTokenizer.from_pretrained(name);
  encode = (s) => tok.encode(s, { add_special_tokens: false });
} else if (impl === "tiktoken") {
  const { get_encoding } = await import("tiktoken");
  const enc = get_encoding(name);
  encode = (s) => enc.encode(s, [], []);
} else if (impl === "js-tiktoken") {
  const { getEncoding } = await import("js-tiktoken");
  const enc = getEncoding(name);
  encode = (s) => enc.encode(s, [], []);
} else {
  throw new Error("unknown impl " + impl);
}

let work;
if (mode === "one_string") {
  const joined = texts.join("\n");
  const one = Array(20).fill(joined).join("\n");
  const n = utf8(one);
  work = () => { encode(one); return n; };
} else {
  const n = 20 * texts.reduce((a, s) => a + utf8(s), 0);
  work = () => { for (let r = 0; r < 20; r++) for (const s of texts) encode(s); return n; };
}
work();
for (let i = 0; i < Number(runsArg); i++) {
  const t0 = process.hrtime.bigint();
  const n = work();
  const sec = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(JSON.stringify({ impl, tokenizer: name, mode, bytes: n, seconds: sec }));
}
