// tokenize_corpus.js -- token ids for the real-workload benchmark, made with
// Hugging Face's own tokenizers (Rust, npm @anush008/tokenizers) from a
// model's tokenizer.json, so both engines get identical inputs.
// Usage: node tokenize_corpus.js TOKENIZER.json corpus.jsonl MAX_LEN > ids.jsonl
// Document text is (title + " " + text).strip(), as densearch embed does.
'use strict';
const { Tokenizer } = require('@anush008/tokenizers');
const fs = require('fs');
const readline = require('readline');

async function main() {
  const [tokJson, corpus, maxLen] = process.argv.slice(2);
  const tok = Tokenizer.fromFile(tokJson);
  tok.setTruncation(+maxLen);
  const rl = readline.createInterface({ input: fs.createReadStream(corpus), crlfDelay: Infinity });
  const out = [];
  for await (const line of rl) {
    if (!line.trim()) continue;
    const d = JSON.parse(line);
    const text = ((d.title || '') + ' ' + (d.text || '')).trim();
    const enc = await tok.encode(text);
    out.push(JSON.stringify({ ids: enc.getIds() }));
  }
  process.stdout.write(out.join('\n') + '\n');
}
main().catch(e => { console.error(e); process.exit(1); });
