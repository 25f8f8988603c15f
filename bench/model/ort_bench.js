// ort_bench.js -- ONNX Runtime reference for bench/model/run.sh.
// Usage: node ort_bench.js MODEL.onnx fixed BATCH SEQ SECONDS
//        node ort_bench.js MODEL.onnx ids FILE.jsonl BATCH   (one {"ids": [...]} per line)
// Fixed shapes: random ids (seeded) in [1000, 30000), attention mask all ones.
// ids mode: the lines are sorted by length and cut into batches of BATCH, each
// padded to its longest sequence (length bucketing), as a careful user would.
// Prints one JSON line: {"engine": "ort", ...}.
'use strict';
const ort = require('onnxruntime-node');
const fs = require('fs');

function batchFeeds(seqs) {
  const B = seqs.length, L = Math.max(...seqs.map(s => s.length));
  const ids = new BigInt64Array(B * L), mask = new BigInt64Array(B * L), tt = new BigInt64Array(B * L);
  seqs.forEach((s, i) => s.forEach((v, j) => { ids[i * L + j] = BigInt(v); mask[i * L + j] = 1n; }));
  return {
    input_ids: new ort.Tensor('int64', ids, [B, L]),
    attention_mask: new ort.Tensor('int64', mask, [B, L]),
    token_type_ids: new ort.Tensor('int64', tt, [B, L]),
  };
}

async function main() {
  const [model, mode, a, b, c] = process.argv.slice(2);
  // DS_BENCH_THREADS as for b_encoder (default 2)
  const threads = +(process.env.DS_BENCH_THREADS || 2);
  const sess = await ort.InferenceSession.create(model, {
    graphOptimizationLevel: 'all', intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential',
  });
  if (mode === 'fixed') {
    const B = +a, L = +b, secs = +c;
    let x = 12345;
    const seqs = [];
    for (let i = 0; i < B; i++) {
      const s = [101];
      for (let j = 1; j < L - 1; j++) { x = (x * 1103515245 + 12345) % 2147483648; s.push(1000 + (x % 29000)); }
      s.push(102);
      seqs.push(s);
    }
    const feeds = batchFeeds(seqs);
    await sess.run(feeds); await sess.run(feeds);            // warm-up
    let n = 0;
    const t0 = process.hrtime.bigint();
    let el = 0;
    while (el < secs || n < 3) { await sess.run(feeds); n++; el = Number(process.hrtime.bigint() - t0) / 1e9; }
    console.log(JSON.stringify({ engine: 'ort', shape: `${B}x${L}`, runs: n, seconds: el, seq_per_s: n * B / el,
                                 ms_per_batch: 1000 * el / n }));
  } else {
    const B = +b;
    const seqs = fs.readFileSync(a, 'utf8').split('\n').filter(l => l.trim()).map(l => JSON.parse(l).ids);
    seqs.sort((p, q) => q.length - p.length);
    await sess.run(batchFeeds(seqs.slice(0, B)));             // warm-up
    const t0 = process.hrtime.bigint();
    let tokens = 0;
    for (let i = 0; i < seqs.length; i += B) {
      const part = seqs.slice(i, i + B);
      tokens += part.reduce((s, q) => s + q.length, 0);
      await sess.run(batchFeeds(part));
    }
    const el = Number(process.hrtime.bigint() - t0) / 1e9;
    console.log(JSON.stringify({ engine: 'ort', docs: seqs.length, tokens, seconds: el, docs_per_s: seqs.length / el }));
  }
}
main().catch(e => { console.error(e); process.exit(1); });
