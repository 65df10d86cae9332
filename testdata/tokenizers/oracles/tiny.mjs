// Runs the small hand-made tokenizers of tiny/cases.json through
// transformers.js' tokenizer (@huggingface/tokenizers 0.2.0, the one
// @huggingface/transformers 4.3.1 uses): ids with add_special_tokens and the
// decoding of those ids, with clean_up_tokenization_spaces off (a
// transformers setting, not part of tokenizer.json). A case it cannot run
// gets "error".
//   node tiny.mjs ../tiny/cases.json > ../tiny/expected.json
import fs from "node:fs";
import { Tokenizer } from "@huggingface/tokenizers";

const cases = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const out = cases.map((c) => {
  try {
    const tok = new Tokenizer(c.tokenizer, { clean_up_tokenization_spaces: false });
    const ids = tok.encode(c.text, { add_special_tokens: true }).ids;
    return { name: c.name, ids, decoded: tok.decode(ids, { skip_special_tokens: false }) };
  } catch (e) {
    return { name: c.name, error: e.message };
  }
});
process.stdout.write(JSON.stringify(out, null, 1) + "\n");
