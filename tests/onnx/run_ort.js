// Runs one ONNX model in onnxruntime (the npm package onnxruntime-node) on
// the rows given as JSON on stdin ([[x1, x2, ...], ...]) and prints the
// outputs as JSON ([[y1, ...], ...]): one batch of all rows, so the symbolic
// batch dimension N is exercised too. usage: node run_ort.js MODEL.onnx
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

async function main() {
  const rows = JSON.parse(fs.readFileSync(0, 'utf8'));
  const session = await ort.InferenceSession.create(process.argv[2]);
  if (session.inputNames.join() !== 'input' || session.outputNames.join() !== 'output')
    throw new Error(`names: inputs ${session.inputNames}, outputs ${session.outputNames}`);
  const cols = rows[0].length;
  const x = new ort.Tensor('float32', Float32Array.from(rows.flat()), [rows.length, cols]);
  const y = (await session.run({ input: x })).output;
  if (y.dims.length !== 2 || y.dims[0] !== rows.length)
    throw new Error(`output shape [${y.dims}] for ${rows.length} rows`);
  const units = y.dims[1];
  const out = [];
  for (let r = 0; r < rows.length; r++)
    out.push(Array.from(y.data.subarray(r * units, (r + 1) * units)));
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => {
  process.stderr.write(`run_ort.js: ${e.message}\n`);
  process.exit(1);
});
