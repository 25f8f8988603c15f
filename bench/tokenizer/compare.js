// compare.js -- Hugging Face side of bench/tokenizer/run.sh.
//
//   node compare.js MODEL_DIR INPUT.jsonl DS_IDS [REPEATS]
//   node compare.js --codepoints OUT.jsonl      (writes one probe text per code point)
//   node compare.js --variant NAME MODEL_DIR OUT_DIR   (tokenizer.json with other normalizer flags)
//
// Loads MODEL_DIR/tokenizer.json with the `tokenizers` npm package (the Rust
// library), encodes every text (title + " " + text for BEIR lines, no
// truncation, special tokens added) with encodeBatch on one thread
// (TOKENIZERS_PARALLELISM=false), prints the best time and MB/s, then
// compares with the ids densearch wrote to DS_IDS and prints every difference.
'use strict';
const fs = require('fs');
const { Tokenizer } = require('tokenizers');

async function main() {
  const args = process.argv.slice(2);
  if (args[0] === '--variant') {
    // --variant NAME MODEL_DIR OUT_DIR: the same tokenizer.json with other
    // BertNormalizer flags, to check paths the fixtures' settings do not take.
    const flags = {
      cased: { lowercase: false, strip_accents: null },
      strip_cased: { lowercase: false, strip_accents: true },
      lower_nostrip: { lowercase: true, strip_accents: false },
      nochinese_noclean: { handle_chinese_chars: false, clean_text: false },
    }[args[1]];
    if (!flags) throw new Error(`unknown variant ${args[1]}`);
    const j = JSON.parse(fs.readFileSync(`${args[2]}/tokenizer.json`, 'utf8'));
    Object.assign(j.normalizer, flags);
    fs.mkdirSync(args[3], { recursive: true });
    fs.writeFileSync(`${args[3]}/tokenizer.json`, JSON.stringify(j));
    return;
  }
  if (args[0] === '--codepoints') {
    // "a{c}b {c}": shows whether c is dropped, splits words, is punctuation,
    // is isolated as CJK, or how it is normalized inside and alone.
    const out = [];
    // U+0000 is left out: b_tokenize reads texts with cJSON, whose strings end
    // at NUL (NUL removal is covered by tests/unit/t_tokenizer.c).
    for (let c = 1; c <= 0x10ffff; c++) {
      if (c >= 0xd800 && c <= 0xdfff) continue;
      const ch = String.fromCodePoint(c);
      out.push(JSON.stringify({ text: `a${ch}b ${ch}` }));
    }
    fs.writeFileSync(args[1], out.join('\n') + '\n');
    return;
  }
  const [modelDir, input, dsIds, repeatsArg] = args;
  const repeats = Number(repeatsArg || 3);
  const tok = Tokenizer.fromFile(`${modelDir}/tokenizer.json`);
  const texts = fs.readFileSync(input, 'utf8').split('\n').filter((l) => l.length > 0).map((l) => {
    const j = JSON.parse(l);
    return typeof j.title === 'string' ? `${j.title} ${j.text}` : j.text;
  });
  const bytes = texts.reduce((s, t) => s + Buffer.byteLength(t, 'utf8'), 0);
  let best = Infinity, encs = null;
  for (let r = 0; r < repeats; r++) {
    const t0 = process.hrtime.bigint();
    encs = await tok.encodeBatch(texts);
    const dt = Number(process.hrtime.bigint() - t0) / 1e9;
    if (dt < best) best = dt;
  }
  const nIds = encs.reduce((s, e) => s + e.getIds().length, 0);
  console.log(`huggingface: ${texts.length} texts, ${(bytes / 1e6).toFixed(2)} MB, ${nIds} ids, best of ${repeats}: ` +
              `${best.toFixed(3)} s, ${(bytes / 1e6 / best).toFixed(1)} MB/s`);
  const ours = fs.readFileSync(dsIds, 'utf8').split('\n');
  let diffs = 0;
  for (let i = 0; i < texts.length; i++) {
    const want = encs[i].getIds().join(' ');
    if (ours[i] !== want) {
      if (diffs < 20) {
        console.log(`DIFF text ${i}: ${JSON.stringify(texts[i].slice(0, 200))}`);
        console.log(`  huggingface: ${want.slice(0, 300)}`);
        console.log(`  densearch:   ${(ours[i] || '').slice(0, 300)}`);
      }
      diffs++;
    }
  }
  console.log(`differences: ${diffs} of ${texts.length} texts`);
  console.log(`hf_mb_s=${(bytes / 1e6 / best).toFixed(2)}`);
  process.exitCode = diffs === 0 ? 0 : 1;
}
main().catch((e) => { console.error(e); process.exit(2); });
