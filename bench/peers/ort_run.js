// ONNX Runtime peer for tests and benchmarks (never lowbit's runtime path): runs a model with
// onnxruntime-node on .npy inputs, writes outputs as .npy and/or timings as JSON (median and
// 90th-percentile wall ms per run, median process CPU ms per run).
//   node bench/peers/ort_run.js --model m.onnx --input x.npy [--input y.npy] [--out-dir DIR]
//        [--intra 1] [--inter 1] [--warmup 3] [--iters 20] [--min-time 0] [--json t.json]
//        [--profile PREFIX]   ONNX Runtime's own per-node trace (Chrome trace JSON) to PREFIX_<date>.json
// onnxruntime-node is found via ORT_NODE_DIR, else data/peers/ort/node_modules (scripts/setup-onnx).
'use strict';
const fs = require('fs');
const path = require('path');

function parseArgs(argv) {
  const a = {input: [], intra: 1, inter: 1, warmup: 3, iters: 0, minTime: 0};
  for (let i = 2; i < argv.length; i += 2) {
    const k = argv[i], v = argv[i + 1];
    if (k === '--model') a.model = v;
    else if (k === '--input') a.input.push(v);
    else if (k === '--out-dir') a.outDir = v;
    else if (k === '--intra') a.intra = parseInt(v, 10);
    else if (k === '--inter') a.inter = parseInt(v, 10);
    else if (k === '--warmup') a.warmup = parseInt(v, 10);
    else if (k === '--iters') a.iters = parseInt(v, 10);
    else if (k === '--min-time') a.minTime = parseFloat(v);
    else if (k === '--json') a.json = v;
    else if (k === '--profile') a.profile = v;
    else throw new Error('unknown option ' + k);
  }
  if (!a.model) throw new Error('--model is required');
  return a;
}

const kTypes = {'<f4': ['float32', Float32Array], '<i8': ['int64', BigInt64Array], '<i4': ['int32', Int32Array],
                '|u1': ['uint8', Uint8Array], '|i1': ['int8', Int8Array], '|b1': ['bool', Uint8Array],
                '<f8': ['float64', Float64Array], '<f2': ['float16', Uint16Array]};  // float16 as its bit patterns

function readNpy(file) {
  const buf = fs.readFileSync(file);
  if (buf.toString('latin1', 1, 6) !== 'NUMPY') throw new Error(file + ': not a .npy file');
  const major = buf[6];
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', start, start + hlen);
  const descr = /'descr':\s*'([^']+)'/.exec(header)[1];
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(',').map(s => s.trim()).filter(s => s).map(Number);
  const [type, Ctor] = kTypes[descr] || (() => { throw new Error(file + ': unsupported dtype ' + descr); })();
  const off = start + hlen;
  const n = shape.reduce((x, y) => x * y, 1);
  const bytes = Buffer.from(buf.subarray(off, off + n * Ctor.BYTES_PER_ELEMENT));  // aligned copy
  return {type, shape, data: new Ctor(bytes.buffer, bytes.byteOffset, n)};
}

function writeNpy(file, tensor) {
  const descr = Object.keys(kTypes).find(k => kTypes[k][0] === tensor.type);
  if (!descr) throw new Error('cannot write output type ' + tensor.type);
  const dims = tensor.dims.map(String);
  let dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${dims.join(', ')}${dims.length === 1 ? ',' : ''}), }`;
  const pad = (64 - ((10 + dict.length + 1) % 64)) % 64;
  dict += ' '.repeat(pad) + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1; head[7] = 0;
  head.writeUInt16LE(dict.length, 8);
  const data = Buffer.from(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength);
  fs.writeFileSync(file, Buffer.concat([head, Buffer.from(dict, 'latin1'), data]));
}

async function main() {
  const a = parseArgs(process.argv);
  const dir = process.env.ORT_NODE_DIR ||
              path.join(__dirname, '..', '..', 'data', 'peers', 'ort', 'node_modules', 'onnxruntime-node');
  const ort = require(dir);
  const session = await ort.InferenceSession.create(a.model, {
    intraOpNumThreads: a.intra, interOpNumThreads: a.inter,
    executionMode: a.inter > 1 ? 'parallel' : 'sequential', graphOptimizationLevel: 'all',
    ...(a.profile ? {enableProfiling: true, profileFilePrefix: a.profile} : {})});
  if (a.input.length !== session.inputNames.length)
    throw new Error(`model has ${session.inputNames.length} inputs, ${a.input.length} given`);
  const feeds = {};
  session.inputNames.forEach((name, i) => {
    const t = readNpy(a.input[i]);
    feeds[name] = new ort.Tensor(t.type, t.data, t.shape);
  });
  let result = await session.run(feeds);
  if (a.outDir) {
    fs.mkdirSync(a.outDir, {recursive: true});
    session.outputNames.forEach((name, i) => writeNpy(path.join(a.outDir, `output_${i}.npy`), result[name]));
  }
  if (!a.json) {
    if (a.profile) session.endProfiling();
    return;
  }
  for (let i = 0; i < a.warmup; ++i) result = await session.run(feeds);
  const times = [], cpu = [];  // wall clock, and the process's CPU time (user + system) per run
  const t0 = process.hrtime.bigint();
  while (times.length < Math.max(a.iters, 1) ||
         Number(process.hrtime.bigint() - t0) / 1e9 < a.minTime) {
    const s = process.hrtime.bigint(), c = process.cpuUsage();
    result = await session.run(feeds);
    const dc = process.cpuUsage(c);
    times.push(Number(process.hrtime.bigint() - s) / 1e6);
    cpu.push((dc.user + dc.system) / 1e3);
  }
  const q = (v, p) => v[Math.min(v.length - 1, Math.floor(p * (v.length - 1) + 0.5))];
  times.sort((x, y) => x - y);
  cpu.sort((x, y) => x - y);
  fs.writeFileSync(a.json, JSON.stringify({median_ms: q(times, 0.5), p90_ms: q(times, 0.9), cpu_median_ms: q(cpu, 0.5),
                                           iterations: times.length, intra_op: a.intra, inter_op: a.inter}, null, 1));
  if (a.profile) session.endProfiling();
}

main().catch(e => { console.error('ort_run: ' + e.message); process.exit(1); });
