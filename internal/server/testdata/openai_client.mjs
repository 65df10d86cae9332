// Calls an embquery server with the official OpenAI Node client (npm
// "openai"), as a user would, and prints what the client returned as one
// JSON object on standard output. Run by TestOpenAINodeClient:
//
//   EMBSTORE_NODE_MODULES=/path/to/node_modules BASE_URL=http://127.0.0.1:PORT/v1 \
//     API_KEY=... node openai_client.mjs
//
// EMBSTORE_NODE_MODULES is the node_modules directory where `npm install
// openai` put the client.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';

const require = createRequire(path.join(process.env.EMBSTORE_NODE_MODULES, '..', 'resolve.cjs'));
const { OpenAI } = require('openai');
const pkg = JSON.parse(fs.readFileSync(path.join(process.env.EMBSTORE_NODE_MODULES, 'openai', 'package.json'), 'utf8'));

const client = new OpenAI({ baseURL: process.env.BASE_URL, apiKey: process.env.API_KEY, maxRetries: 0 });
const input = JSON.parse(process.env.INPUT);
const out = { version: pkg.version };

// float: the server sends JSON numbers.
const f = await client.embeddings.create({ model: 't', input, encoding_format: 'float' });
out.float = f.data.map((d) => d.embedding);
out.usage = f.usage;
out.indexes = f.data.map((d) => d.index);
out.model = f.model;
// No encoding_format: the client asks for base64 and decodes it itself.
const b = await client.embeddings.create({ model: 't', input });
out.base64 = b.data.map((d) => Array.from(d.embedding));
// Errors come back as the client's APIError with OpenAI's fields.
for (const [name, req] of [['unknown_model', { model: 'nope', input: [1] }], ['bad_id', { model: 't', input: [[1], [-5]] }], ['text', { model: 't', input: 'hello' }]]) {
  try {
    await client.embeddings.create(req);
    out[name] = { status: 200 };
  } catch (e) {
    out[name] = { status: e.status, message: e.error?.message, param: e.param ?? e.error?.param, code: e.code ?? e.error?.code, type: e.type ?? e.error?.type };
  }
}
const bad = new OpenAI({ baseURL: process.env.BASE_URL, apiKey: 'wrong-key', maxRetries: 0 });
try {
  await bad.embeddings.create({ model: 't', input: [1] });
  out.wrong_key = { status: 200 };
} catch (e) {
  out.wrong_key = { status: e.status, code: e.code };
}
const models = await client.models.list();
out.models = models.data.map((m) => m.id);
console.log(JSON.stringify(out));
