// Splits texts with the four GPT-style Split patterns that the tokenizer
// package runs with hand-written scanners, using JavaScript's backtracking
// regex engine as the oracle (the same semantics as Oniguruma for these
// patterns), with the rewrites transformers.js' tokenizers make to run
// Hugging Face patterns in JavaScript: \s becomes \p{White_Space} and \S
// \P{White_Space} (Oniguruma's classes), and the (?i:...) contractions, which
// node 20 cannot parse, are spelled out with their Unicode simple case folds
// (ſ U+017F folds to s).
//   node split_patterns.mjs ../corpus.jsonl > ../split_patterns.json
// Output: {"extra": [texts], "patterns": {name: [[match, ...] per text]}},
// the texts being the corpus's, then "extra" (random strings made here from
// a seeded generator).
import fs from "node:fs";

const patterns = {
  gpt2: String.raw`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`,
  cl100k: String.raw`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`,
  qwen2: String.raw`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`,
  o200k: String.raw`[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`,
};
const contractions = "(?:'[sSſ]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])";
const toJS = (p) => new RegExp(p.replaceAll("(?i:'s|'t|'re|'ve|'m|'ll|'d)", contractions)
  .replaceAll(String.raw`\S`, String.raw`\P{White_Space}`).replaceAll(String.raw`\s`, String.raw`\p{White_Space}`), "gu");

const corpus = fs.readFileSync(process.argv[2], "utf8").split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
// Random texts over characters that sit on the patterns' class boundaries.
const alphabet = Array.from("aZ 'sStTrReEvVmMlLdDſ\n\r\t\u000b\u0085\u00a0\u3000\u2028\ufeff0123٣²½Ⅻ.,!?/-_(é\u0301\u0308ǅʰ々中ßİ😀👍🏽\u200d") ;
let seed = 12345;
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
const extra = [];
for (let i = 0; i < 300; i++) {
  const n = 1 + Math.floor(rand() * 24);
  let s = "";
  for (let k = 0; k < n; k++) s += alphabet[Math.floor(rand() * alphabet.length)];
  extra.push(s);
}
const texts = corpus.concat(extra);
const out = { extra, patterns: {} };
for (const [name, p] of Object.entries(patterns)) {
  const re = toJS(p);
  out.patterns[name] = texts.map((t) => Array.from(t.matchAll(re), (m) => m[0]));
}
process.stdout.write(JSON.stringify(out) + "\n");
