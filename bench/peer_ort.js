// The onnxruntime side of bench/peers.sh: one ONNX model in onnxruntime-node
// (tests/onnx's install), one intra-op and one inter-op thread. Reads the
// preprocessed rows as comma-separated lines on stdin; writes every row's
// outputs (one batch of all rows) to OUT for the agreement check; prints
//   latency_ns  per session.run of one sample ([1, IN]), row after row
//   batch_ns    per sample of one session.run over all rows ([N, IN])
// as the minimum over REPS repetitions of the process's CPU time
// (process.cpuUsage: user + system), like the C side's thread CPU time.
// SHAPE ("1,8,8", the model's input per sample, channels first as the rows
// hold it) makes the batch [N, C, H, W]; without it [N, IN].
// usage: node peer_ort.js MODEL.onnx OUT ITERATIONS REPS [SHAPE] < rows.csv
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require(path.join(__dirname, '../tests/onnx/node_modules/onnxruntime-node'));

function cpuNs() {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
}

async function main() {
  const [model, outPath, itersArg, repsArg, shapeArg] = process.argv.slice(2);
  const iters = Number(itersArg), reps = Number(repsArg);
  const rows = fs.readFileSync(0, 'utf8').trim().split('\n').map((l) => l.split(',').map(Number));
  const cols = rows[0].length, n = rows.length;
  const shape = shapeArg ? shapeArg.split(',').map(Number) : [cols];
  if (shape.reduce((a, b) => a * b, 1) !== cols)
    throw new Error(`shape [${shape}] for rows of ${cols} values`);
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential',
  });
  const name = session.inputNames[0];
  const batch = new ort.Tensor('float32', Float32Array.from(rows.flat()), [n, ...shape]);
  const singles = rows.map((r) => new ort.Tensor('float32', Float32Array.from(r), [1, ...shape]));
  const y = (await session.run({ [name]: batch }))[session.outputNames[0]];
  const units = y.dims.slice(1).reduce((a, b) => a * b, 1);
  const lines = [];
  for (let r = 0; r < n; r++)
    lines.push(Array.from(y.data.subarray(r * units, (r + 1) * units)).join(','));
  fs.writeFileSync(outPath, lines.join('\n') + '\n');
  let best = Infinity, bestBatch = Infinity;
  for (let rep = 0; rep < reps; rep++) {
    let t0 = cpuNs();
    for (let i = 0; i < iters; i++)
      await session.run({ [name]: singles[i % n] });
    best = Math.min(best, (cpuNs() - t0) / iters);
    t0 = cpuNs();
    await session.run({ [name]: batch });
    bestBatch = Math.min(bestBatch, (cpuNs() - t0) / n);
  }
  process.stdout.write(`latency_ns ${best.toFixed(1)}\nbatch_ns ${bestBatch.toFixed(1)}\n`);
}

main().catch((e) => {
  process.stderr.write(`peer_ort.js: ${e.message}\n`);
  process.exit(1);
});
