// The top-1 class ONNX Runtime (npm onnxruntime-node, CPU execution provider,
// every graph optimization) gives each image of a batch: one JSON array on
// stdout. For the QDQ export's accuracy (tools/cifar/qdq_accuracy.sh).
//   node ort_top1.js MODEL.onnx IMAGES.npy [BATCH (default 100)] [THREADS (default 2)]
// IMAGES.npy: float32 [N, C, H, W]; the model's first input takes slices of it.
const ort = require('onnxruntime-node');
const { readNpy } = require('./npy.js');

async function main() {
  const [model, images, batchArg, threadsArg] = process.argv.slice(2);
  if (!images) throw new Error('usage: node ort_top1.js MODEL.onnx IMAGES.npy [BATCH] [THREADS]');
  const batch = +(batchArg || 100);
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: +(threadsArg || 2), interOpNumThreads: 1, executionMode: 'sequential',
    graphOptimizationLevel: process.env.ORT_OPT_LEVEL || 'all' });
  const all = readNpy(images, ort);
  const [n, ...rest] = all.dims;
  const per = rest.reduce((a, b) => a * b, 1);
  const top1 = [];
  for (let start = 0; start < n; start += batch) {
    const count = Math.min(batch, n - start);
    const data = all.data.subarray(start * per, (start + count) * per);
    const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', data, [count, ...rest]) };
    const out = (await session.run(feeds))[session.outputNames[0]];
    const classes = out.data.length / count;
    for (let i = 0; i < count; i++) {
      let best = 0;
      for (let c = 1; c < classes; c++) {
        if (out.data[i * classes + c] > out.data[i * classes + best]) best = c;
      }
      top1.push(best);
    }
  }
  console.log(JSON.stringify({
    runtime: 'onnxruntime-node ' + require('onnxruntime-node/package.json').version, top1 }));
}

main().catch((e) => { console.error(`ort_top1.js: ${e.message}`); process.exit(1); });
