// Runs one ONNX model in onnxruntime (the npm package onnxruntime-node) on
// the rows given as JSON on stdin ([[x1, x2, ...], ...]) and prints the
// outputs as JSON ([[y1, ...], ...]): one batch of all rows, so the symbolic
// batch dimension N is exercised too. A row is one sample's features as the
// CSV has them, channels first ([C][H][W] flattened); SHAPE ("1,8,8", the
// model's input per sample) makes the batch [N, C, H, W], and each row of
// the output is the sample's output flattened the same way.
// With --feeds instead of SHAPE the inputs are named int8 tensors (see main).
// usage: node run_ort.js MODEL.onnx [SHAPE] | MODEL.onnx --feeds
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

function tensor(rows, shape, int8) {
  if (shape.reduce((a, b) => a * b, 1) !== rows[0].length)
    throw new Error(`shape [${shape}] for rows of ${rows[0].length} values`);
  return new ort.Tensor(int8 ? 'int8' : 'float32',
                        (int8 ? Int8Array : Float32Array).from(rows.flat()),
                        [rows.length, ...shape]);
}

// --feeds: stdin is {"NAME": {"shape": [...], "rows": [[...], ...]}, ...},
// int8 tensors for a part of a graph cut out at its int8 values; prints
// the rows of its one output.
async function main() {
  const input = JSON.parse(fs.readFileSync(0, 'utf8'));
  const session = await ort.InferenceSession.create(process.argv[2]);
  const feedsMode = process.argv[3] === '--feeds';
  let feeds, n;
  if (feedsMode) {
    feeds = {};
    for (const [name, f] of Object.entries(input))
      feeds[name] = tensor(f.rows, f.shape, true);
    n = Object.values(input)[0].rows.length;
  } else {
    if (session.inputNames.join() !== 'input' || session.outputNames.join() !== 'output')
      throw new Error(`names: inputs ${session.inputNames}, outputs ${session.outputNames}`);
    const shape = process.argv[3] ? process.argv[3].split(',').map(Number) : [input[0].length];
    feeds = { input: tensor(input, shape, false) };
    n = input.length;
  }
  if (session.outputNames.length !== 1)
    throw new Error(`outputs ${session.outputNames}: one expected`);
  const y = (await session.run(feeds))[session.outputNames[0]];
  if (y.dims.length < 2 || y.dims[0] !== n)
    throw new Error(`output shape [${y.dims}] for ${n} rows`);
  const units = y.dims.slice(1).reduce((a, b) => a * b, 1);
  const out = [];
  for (let r = 0; r < n; r++)
    out.push(Array.from(y.data.subarray(r * units, (r + 1) * units)));
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => {
  process.stderr.write(`run_ort.js: ${e.message}\n`);
  process.exit(1);
});
