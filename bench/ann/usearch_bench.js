// usearch_bench.js -- the usearch side of run_hnsw.py (npm `usearch`, installed
// with `npm install` in bench/ann). Builds the same data at the same M /
// ef_construction on N threads, then sweeps expansion_search on one thread
// (one batched call per ef, processed query by query inside usearch).
// Usage: node usearch_bench.js DATA_DIR M EF_CONSTRUCTION THREADS EF1,EF2,...
// Prints one JSON object on stdout.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const usearch = require('usearch');

function readXvecs(file, Type) {
  const buf = fs.readFileSync(file);
  const i32 = new Int32Array(buf.buffer, buf.byteOffset, buf.length / 4);
  const d = i32[0], n = i32.length / (d + 1);
  const out = new Type(n * d);
  const src = new Type(buf.buffer, buf.byteOffset, buf.length / 4);
  for (let i = 0; i < n; i++) out.set(src.subarray(i * (d + 1) + 1, (i + 1) * (d + 1)), i * d);
  return { x: out, n, d };
}

const [dir, M, efc, threads, sweep] = process.argv.slice(2);
const base = readXvecs(path.join(dir, 'base.fvecs'), Float32Array);
const q = readXvecs(path.join(dir, 'queries.fvecs'), Float32Array);
const gt = readXvecs(path.join(dir, 'gt.ivecs'), Int32Array);
const cfg = { dimensions: base.d, metric: 'ip', quantization: 'f32', connectivity: +M, expansion_add: +efc, expansion_search: 64, multi: false };
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };
const ix = new usearch.Index(cfg);
const keys = new BigUint64Array(base.n);
for (let i = 0; i < base.n; i++) keys[i] = BigInt(i);
let t0 = process.hrtime.bigint(), c0 = cpu();
ix.add(keys, base.x, +threads);
const build = [Number(process.hrtime.bigint() - t0) / 1e9, cpu() - c0];
const file = path.join(os.tmpdir(), `usearch_bench_${process.pid}.usearch`);
ix.save(file);
const bpv = fs.statSync(file).size / base.n;
process.stderr.write(`usearch build ${build[0].toFixed(2)} s wall, ${build[1].toFixed(2)} s cpu, ${bpv.toFixed(1)} B/vector\n`);
const points = [];
for (const ef of sweep.split(',').map(Number)) {
  // view() maps the saved file: every ef shares the same pages. load() gave
  // each ef its own heap copy, which the GC did not return in time (at 1M x
  // 384 the sweep reached 22 GB and was OOM-killed).
  const s = new usearch.Index({ ...cfg, expansion_search: ef });
  s.view(file);
  s.search(q.x.subarray(0, 10 * q.d), 10, 1);   // touch the mapping before timing
  t0 = process.hrtime.bigint(); c0 = cpu();
  const m = s.search(q.x, 10, 1);
  const wall = Number(process.hrtime.bigint() - t0) / 1e9, c = cpu() - c0;
  let hit = 0;
  for (let i = 0; i < q.n; i++) {
    const truth = new Set(Array.from(gt.x.subarray(i * gt.d, i * gt.d + 10)));
    for (let j = 0; j < 10; j++) if (truth.has(Number(m.keys[i * 10 + j]))) hit++;
  }
  points.push([ef, hit / (10 * q.n), q.n / wall, q.n / c]);
}
fs.unlinkSync(file);
console.log(JSON.stringify({ build, bpv, points }));
