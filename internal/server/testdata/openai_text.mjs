// Sends text inputs (a string, an array of strings) to an embquery server
// with the official OpenAI Node client (npm "openai"), in float and in
// base64 (the client's default), and prints what the client returned as
// one JSON object. Run by TestOpenAINodeClientText, with the environment of
// openai_client.mjs and TEXTS, a JSON array of strings.
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(path.join(process.env.EMBSTORE_NODE_MODULES, '..', 'resolve.cjs'));
const { OpenAI } = require('openai');

const client = new OpenAI({ baseURL: process.env.BASE_URL, apiKey: 'none', maxRetries: 0 });
const texts = JSON.parse(process.env.TEXTS);
const out = {};
const one = await client.embeddings.create({ model: 'gpt2', input: texts[0], encoding_format: 'float' });
out.one = one.data.map((d) => d.embedding);
out.one_usage = one.usage;
const f = await client.embeddings.create({ model: 'gpt2', input: texts, encoding_format: 'float' });
out.float = f.data.map((d) => d.embedding);
out.usage = f.usage;
const b = await client.embeddings.create({ model: 'gpt2', input: texts });
out.base64 = b.data.map((d) => Array.from(d.embedding));
try {
  await client.embeddings.create({ model: 'plain', input: texts[0] });
  out.no_tokenizer = { status: 200 };
} catch (e) {
  out.no_tokenizer = { status: e.status, param: e.param ?? e.error?.param, code: e.code ?? e.error?.code, message: e.error?.message };
}
console.log(JSON.stringify(out));
