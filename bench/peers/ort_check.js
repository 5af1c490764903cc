// Does ONNX Runtime run the int8 model as int8, and how close is it to fp32?
// Saves the graph ORT actually runs (every graph optimization, as
// ort_bench.js) to OPTIMIZED.onnx, for quantize_onnx.py ops to count its
// QLinearConv / fp32 Conv nodes, and prints one JSON line: the cosine of the
// int8 model's first output to the fp32 model's on the inputs of each folder
// (folders not used for calibration).
//   node ort_check.js FP32.onnx INT8.onnx OPTIMIZED.onnx INPUT_DIR...
const ort = require('onnxruntime-node');
const path = require('path');
const { readNpy } = require('./npy.js');

async function main() {
  const [fp32, int8, optimized, ...dirs] = process.argv.slice(2);
  if (!dirs.length) throw new Error('usage: node ort_check.js FP32.onnx INT8.onnx OPTIMIZED.onnx INPUT_DIR...');
  const options = { intraOpNumThreads: 2, interOpNumThreads: 1, executionMode: 'sequential',
                    graphOptimizationLevel: 'all' };
  const ref = await ort.InferenceSession.create(fp32, options);
  const q = await ort.InferenceSession.create(int8, { ...options, optimizedModelFilePath: optimized });
  const cosines = [];
  for (const dir of dirs) {
    const feeds = {};
    for (const name of ref.inputNames) feeds[name] = readNpy(path.join(dir, `${name}.npy`), ort);
    const a = (await ref.run(feeds))[ref.outputNames[0]].data;
    const b = (await q.run(feeds))[q.outputNames[0]].data;
    let ab = 0, aa = 0, bb = 0;
    for (let i = 0; i < a.length; i++) { ab += a[i] * b[i]; aa += a[i] * a[i]; bb += b[i] * b[i]; }
    cosines.push(ab / Math.sqrt(aa * bb));
  }
  console.log(JSON.stringify({ model: path.basename(int8), inputs: dirs.map((d) => path.basename(d)),
                               cosine_to_fp32: cosines }));
}

main().catch((e) => { console.error(`ort_check.js: ${e.message}`); process.exit(1); });
