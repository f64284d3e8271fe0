// Runs one ONNX model in onnxruntime (the npm package onnxruntime-node) on
// the rows given as JSON on stdin ([[x1, x2, ...], ...]) and prints the
// outputs as JSON ([[y1, ...], ...]): one batch of all rows, so the symbolic
// batch dimension N is exercised too. A row is one sample's features as the
// CSV has them, channels first ([C][H][W] flattened); SHAPE ("1,8,8", the
// model's input per sample) makes the batch [N, C, H, W], and each row of
// the output is the sample's output flattened the same way.
// usage: node run_ort.js MODEL.onnx [SHAPE]
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

async function main() {
  const rows = JSON.parse(fs.readFileSync(0, 'utf8'));
  const session = await ort.InferenceSession.create(process.argv[2]);
  if (session.inputNames.join() !== 'input' || session.outputNames.join() !== 'output')
    throw new Error(`names: inputs ${session.inputNames}, outputs ${session.outputNames}`);
  const shape = process.argv[3] ? process.argv[3].split(',').map(Number) : [rows[0].length];
  if (shape.reduce((a, b) => a * b, 1) !== rows[0].length)
    throw new Error(`shape [${shape}] for rows of ${rows[0].length} values`);
  const int8 = process.argv[4] === 'int8';
  const x = new ort.Tensor(int8 ? 'int8' : 'float32',
                           (int8 ? Int8Array : Float32Array).from(rows.flat()),
                           [rows.length, ...shape]);
  const y = (await session.run({ input: x })).output;
  if (y.dims.length < 2 || y.dims[0] !== rows.length)
    throw new Error(`output shape [${y.dims}] for ${rows.length} rows`);
  const units = y.dims.slice(1).reduce((a, b) => a * b, 1);
  const out = [];
  for (let r = 0; r < rows.length; r++)
    out.push(Array.from(y.data.subarray(r * units, (r + 1) * units)));
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => {
  process.stderr.write(`run_ort.js: ${e.message}\n`);
  process.exit(1);
});
