// Activation ranges for quantize_onnx.py: runs a model whose every
// activation is a graph output (quantize_onnx.py expose) on the .npy inputs
// of each folder given and writes {tensor: [min, max]} as JSON, the float
// graph inputs included (quantize_static quantizes those too).
//   node ort_ranges.js EXPOSED.onnx OUT.json INPUT_DIR...
const fs = require('fs');
const ort = require('onnxruntime-node');
const path = require('path');
const { readNpy } = require('./npy.js');

async function main() {
  const [model, out, ...dirs] = process.argv.slice(2);
  if (!dirs.length) throw new Error('usage: node ort_ranges.js EXPOSED.onnx OUT.json INPUT_DIR...');
  // No graph optimization: fused nodes would hide the tensors asked for.
  const session = await ort.InferenceSession.create(model, { graphOptimizationLevel: 'disabled' });
  const ranges = {};
  for (const dir of dirs) {
    const feeds = {};
    for (const name of session.inputNames) feeds[name] = readNpy(path.join(dir, `${name}.npy`), ort);
    const results = await session.run(feeds);
    for (const [name, t] of Object.entries({ ...feeds, ...results })) {
      if (t.type !== 'float32') continue;
      let lo = Infinity, hi = -Infinity;
      for (const v of t.data) { if (v < lo) lo = v; if (v > hi) hi = v; }
      const r = ranges[name] || [lo, hi];
      ranges[name] = [Math.min(r[0], lo), Math.max(r[1], hi)];
    }
  }
  fs.writeFileSync(out, JSON.stringify(ranges, null, 1));
}

main().catch((e) => { console.error(`ort_ranges.js: ${e.message}`); process.exit(1); });
